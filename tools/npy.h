/* A reader and writer of NumPy's .npy files (format versions 1 to 3), for
 * lstmcl-run and the tests: little-endian float32, float64, int32 and
 * int64 arrays in C order.  The input is treated as hostile: the magic,
 * version, header length, header dictionary, dtype, shape and data size are
 * all checked.  Nothing here prints or exits; errors come back as a
 * message. */
#ifndef LSTMCL_TOOLS_NPY_H
#define LSTMCL_TOOLS_NPY_H

#include <stddef.h>

#define NPY_MAX_DIMS 8

typedef enum { NPY_F4 = 1, NPY_F8, NPY_I4, NPY_I8 } npy_dtype;

typedef struct {
    npy_dtype dtype;
    size_t ndim;
    size_t dims[NPY_MAX_DIMS];
    size_t count;      /* product of dims (1 for a scalar) */
    const void *data;  /* count elements, unaligned: read with npy_get_* */
    void *owned;       /* what npy_free releases */
} npy_array;

/* Parses size bytes of a .npy file; data points into buf (not copied).
 * Returns 0, or -1 with a message in err. */
int npy_parse(const void *buf, size_t size, npy_array *out, char *err, size_t errlen);
/* Reads a file: its header first, then (when the header and the file's size
 * agree) exactly the data it announces; FIFOs too.  npy_free releases it. */
int npy_load(const char *path, npy_array *out, char *err, size_t errlen);
void npy_free(npy_array *a);
/* Element i as a double (any dtype) or as a long long (integer dtypes). */
double npy_get_double(const npy_array *a, size_t i);
long long npy_get_int(const npy_array *a, size_t i);
/* "float32", "float64", "int32", "int64". */
const char *npy_dtype_name(npy_dtype t);
/* Writes a float32 array whole (src/atomicfile.h: a new file renamed over
 * path; a FIFO or device written in place; a folder refused). */
int npy_save_f32(const char *path, const float *data, size_t ndim, const size_t *dims, char *err,
                 size_t errlen);

#endif
