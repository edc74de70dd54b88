// The public headers compile and link from C++.
#include "lstmcl.h"
#include "lstmcl_cl.h"
#include "lstmcl_train.h"
#include "lstmcl_weights.h"

int main()
{
    lstmcl_context *ctx = nullptr;
    lstmcl_status st = LSTMCL_ERROR_INVALID_ARGUMENT;
    (void)ctx;
    return lstmcl_status_name(st)[0] == 'L' && lstmcl_context_queue(nullptr) == nullptr &&
                   lstmcl_weights_data(nullptr, nullptr) == nullptr
               ? 0
               : 1;
}
