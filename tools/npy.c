/* .npy files; see npy.h.  The header is a Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
 * read here with a small parser of exactly that subset. */
#include "npy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    if (err && n) {
        va_start(ap, fmt);
        vsnprintf(err, n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

typedef struct {
    const char *p, *end;
} cursor;

static void skip_space(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int eat(cursor *c, char ch)
{
    skip_space(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted string ('...' or "..."), without escapes, into buf. */
static int string(cursor *c, char *buf, size_t n)
{
    char q;
    size_t k = 0;
    skip_space(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return 0;
    q = *c->p++;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || k + 1 >= n)
            return 0;
        buf[k++] = *c->p++;
    }
    if (c->p >= c->end)
        return 0;
    c->p++;
    buf[k] = 0;
    return 1;
}

static int word(cursor *c, const char *w)
{
    size_t n = strlen(w);
    skip_space(c);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, w, n) == 0) {
        c->p += n;
        return 1;
    }
    return 0;
}

/* A tuple of non-negative integers: (), (3,), (3, 4). */
static int shape(cursor *c, npy_array *a, char *err, size_t errlen)
{
    if (!eat(c, '('))
        return fail(err, errlen, "the header's shape is not a tuple");
    a->ndim = 0;
    skip_space(c);
    while (!eat(c, ')')) {
        unsigned long long v = 0;
        int digits = 0;
        if (a->ndim == NPY_MAX_DIMS)
            return fail(err, errlen, "the shape has more than %d dimensions", NPY_MAX_DIMS);
        skip_space(c);
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (v > (SIZE_MAX - 9) / 10)
                return fail(err, errlen, "a dimension of the shape is too large");
            v = v * 10 + (unsigned)(*c->p++ - '0');
            digits++;
        }
        if (!digits)
            return fail(err, errlen, "the shape holds something other than integers");
        a->dims[a->ndim++] = (size_t)v;
        if (!eat(c, ',')) {
            if (!eat(c, ')'))
                return fail(err, errlen, "the shape tuple is malformed");
            break;
        }
    }
    return 0;
}

static size_t dtype_size(npy_dtype t)
{
    return t == NPY_F4 || t == NPY_I4 ? 4 : 8;
}

const char *npy_dtype_name(npy_dtype t)
{
    switch (t) {
    case NPY_F4:
        return "float32";
    case NPY_F8:
        return "float64";
    case NPY_I4:
        return "int32";
    case NPY_I8:
        return "int64";
    }
    return "?";
}

int npy_parse(const void *buf, size_t size, npy_array *a, char *err, size_t errlen)
{
    const unsigned char *b = buf;
    size_t hlen, hstart, i, bytes;
    int have_descr = 0, have_order = 0, have_shape = 0;
    cursor c;

    memset(a, 0, sizeof *a);
    if (size < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return fail(err, errlen, "not a .npy file (no \\x93NUMPY magic)");
    if (b[6] == 1) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        hstart = 10;
    } else if (b[6] == 2 || b[6] == 3) {
        if (size < 12)
            return fail(err, errlen, "the file ends inside its header length");
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        hstart = 12;
    } else {
        return fail(err, errlen, "format version %d.%d is not one of 1.0, 2.0, 3.0", b[6], b[7]);
    }
    if (hlen > size - hstart)
        return fail(err, errlen, "the header is %zu bytes long but the file has %zu after it",
                    hlen, size - hstart);
    c.p = (const char *)b + hstart, c.end = c.p + hlen;
    if (!eat(&c, '{'))
        return fail(err, errlen, "the header is not a dictionary");
    while (!eat(&c, '}')) {
        char key[32], val[32];
        if (!string(&c, key, sizeof key) || !eat(&c, ':'))
            return fail(err, errlen, "the header dictionary is malformed");
        if (strcmp(key, "descr") == 0) {
            if (!string(&c, val, sizeof val))
                return fail(err, errlen, "descr is not a string");
            if (strcmp(val, "<f4") == 0)
                a->dtype = NPY_F4;
            else if (strcmp(val, "<f8") == 0)
                a->dtype = NPY_F8;
            else if (strcmp(val, "<i4") == 0)
                a->dtype = NPY_I4;
            else if (strcmp(val, "<i8") == 0)
                a->dtype = NPY_I8;
            else
                return fail(err, errlen,
                            "dtype '%s' is not float32, float64, int32 or int64, little-endian",
                            val);
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (word(&c, "True"))
                return fail(err, errlen, "the array is in Fortran order; save it in C order "
                                         "(numpy.ascontiguousarray)");
            if (!word(&c, "False"))
                return fail(err, errlen, "fortran_order is neither True nor False");
            have_order = 1;
        } else if (strcmp(key, "shape") == 0) {
            if (shape(&c, a, err, errlen) != 0)
                return -1;
            have_shape = 1;
        } else {
            return fail(err, errlen, "the header has an unknown key '%s'", key);
        }
        if (!eat(&c, ',')) {
            if (!eat(&c, '}'))
                return fail(err, errlen, "the header dictionary is malformed");
            break;
        }
    }
    if (!have_descr || !have_order || !have_shape)
        return fail(err, errlen, "the header lacks %s",
                    !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
    a->count = 1;
    for (i = 0; i < a->ndim; i++) {
        if (a->dims[i] != 0 && a->count > SIZE_MAX / 8 / a->dims[i])
            return fail(err, errlen, "the shape's element count overflows");
        a->count *= a->dims[i];
    }
    bytes = a->count * dtype_size(a->dtype);
    if (bytes != size - hstart - hlen)
        return fail(err, errlen, "the shape and dtype make %zu bytes of data but the file has %zu",
                    bytes, size - hstart - hlen);
    a->data = b + hstart + hlen;
    return 0;
}

int npy_load(const char *path, npy_array *a, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long size;
    memset(a, 0, sizeof *a);
    if (!f)
        return fail(err, errlen, "cannot open it: %s", strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return fail(err, errlen, "cannot find its size");
    }
    buf = malloc(size ? (size_t)size : 1);
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        fclose(f);
        return fail(err, errlen, buf ? "cannot read it" : "no memory for it");
    }
    fclose(f);
    if (npy_parse(buf, (size_t)size, a, err, errlen) != 0) {
        free(buf);
        return -1;
    }
    a->owned = buf;
    return 0;
}

void npy_free(npy_array *a)
{
    if (a) {
        free(a->owned);
        memset(a, 0, sizeof *a);
    }
}

double npy_get_double(const npy_array *a, size_t i)
{
    const unsigned char *p = (const unsigned char *)a->data + i * dtype_size(a->dtype);
    float f;
    double d;
    int32_t i4;
    int64_t i8;
    switch (a->dtype) {
    case NPY_F4:
        memcpy(&f, p, 4);
        return f;
    case NPY_F8:
        memcpy(&d, p, 8);
        return d;
    case NPY_I4:
        memcpy(&i4, p, 4);
        return i4;
    case NPY_I8:
        memcpy(&i8, p, 8);
        return (double)i8;
    }
    return 0;
}

long long npy_get_int(const npy_array *a, size_t i)
{
    const unsigned char *p = (const unsigned char *)a->data + i * dtype_size(a->dtype);
    int32_t i4;
    int64_t i8;
    if (a->dtype == NPY_I4) {
        memcpy(&i4, p, 4);
        return i4;
    }
    memcpy(&i8, p, 8);
    return i8;
}

int npy_save_f32(const char *path, const float *data, size_t ndim, const size_t *dims, char *err,
                 size_t errlen)
{
    char header[256], tmp[4096];
    size_t len = 0, count = 1, i, total;
    FILE *f;
    int ok;

    if (ndim > NPY_MAX_DIMS)
        return fail(err, errlen, "too many dimensions");
    len = (size_t)snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, "
                                                  "'shape': (");
    for (i = 0; i < ndim; i++) {
        len += (size_t)snprintf(header + len, sizeof header - len, "%zu%s", dims[i],
                                ndim == 1 || i + 1 < ndim ? ", " : "");
        count *= dims[i];
    }
    len += (size_t)snprintf(header + len, sizeof header - len, "), }");
    /* pad with spaces so that the data starts at a multiple of 64, then \n */
    total = (10 + len + 1 + 63) / 64 * 64;
    while (10 + len + 1 < total)
        header[len++] = ' ';
    header[len++] = '\n';
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return fail(err, errlen, "the path is too long");
    f = fopen(tmp, "wb");
    if (!f)
        return fail(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
    ok = fwrite("\x93NUMPY\x01\x00", 1, 8, f) == 8 && fputc((int)(len & 255), f) != EOF &&
         fputc((int)(len >> 8), f) != EOF && fwrite(header, 1, len, f) == len &&
         fwrite(data, sizeof(float), count, f) == count;
    if (fclose(f) != 0)
        ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return fail(err, errlen, "cannot write it: %s", strerror(errno));
    }
    return 0;
}
