/* libFuzzer harness: the tuning-file parser on arbitrary bytes. */
#include "../src/internal.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lstmcl_tuning t;
    char err[256];
    if (lstmcl__tuning_parse((const char *)data, size, &t, err, sizeof err) == 0) {
        /* what parsed must be within the documented limits */
        int k, p;
        if (t.nkernels < 0 || t.nkernels > LSTMCL_TUNE_KERNELS_MAX || !t.device[0])
            __builtin_trap();
        for (k = 0; k < t.nkernels; k++) {
            if (t.kernels[k].nparams < 1 || t.kernels[k].nparams > LSTMCL_TUNE_PARAMS_MAX)
                __builtin_trap();
            for (p = 0; p < t.kernels[k].nparams; p++)
                if (t.kernels[k].params[p].value > LSTMCL_TUNE_VALUE_MAX)
                    __builtin_trap();
        }
    } else if (!memchr(err, '\0', sizeof err) || !err[0]) {
        __builtin_trap(); /* a failure always says why */
    }
    return 0;
}
