// CLBlast's C API can override a kernel's tuning parameters but not read
// them; its C++ API can (RetrieveParameters).  lstmcl reads them before its
// first override of a kernel, so that a later context with other settings
// can put CLBlast's own parameters back.
#include "clblast_params.h"

#include <clblast.h>

#include <cstring>
#include <string>
#include <unordered_map>

extern "C" int lstmcl__clblast_retrieve(cl_device_id device, const char *kernel, size_t max,
                                        char (*names)[LSTMCL_CLBLAST_NAME_MAX + 1],
                                        size_t *values, size_t *count)
{
    try {
        std::unordered_map<std::string, size_t> params;
        const clblast::StatusCode s = clblast::RetrieveParameters(
            device, std::string(kernel), clblast::Precision::kSingle, params);
        if (s != clblast::StatusCode::kSuccess)
            return static_cast<int>(s);
        if (params.size() > max)
            return -1;
        size_t i = 0;
        for (const auto &p : params) {
            if (p.first.size() > LSTMCL_CLBLAST_NAME_MAX)
                return -1;
            std::memcpy(names[i], p.first.c_str(), p.first.size() + 1);
            values[i] = p.second;
            i++;
        }
        *count = i;
        return 0;
    } catch (...) {
        return -1;
    }
}
