/* libFuzzer harness: lstmcl-run's .npy reader (tools/npy.c) on arbitrary
 * bytes.  A parse either fails with a message or yields an array whose
 * every element can be read. */
#include "npy.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    npy_array a;
    char err[256];
    size_t i, count = 1;
    double sum = 0;
    err[0] = 0;
    if (npy_parse(data, size, &a, err, sizeof err) != 0) {
        if (!err[0] || memchr(err, 0, sizeof err) == NULL)
            __builtin_trap(); /* a failure always says why */
        return 0;
    }
    if (a.ndim > NPY_MAX_DIMS)
        __builtin_trap();
    for (i = 0; i < a.ndim; i++)
        count *= a.dims[i];
    if (count != a.count)
        __builtin_trap();
    /* every element lies inside the input */
    for (i = 0; i < a.count; i++)
        sum += a.dtype == NPY_I4 || a.dtype == NPY_I8 ? (double)npy_get_int(&a, i)
                                                      : npy_get_double(&a, i);
    (void)sum;
    return 0;
}
