/* .npy files; see npy.h.  The header is a Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
 * read here with a small parser of exactly that subset. */
#define _POSIX_C_SOURCE 200809L
#include "npy.h"
#include "atomicfile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* The preamble: *hstart (10 or 12) and the header's length, from the first
 * avail bytes (at least 12 when there are that many). */
static int preamble(const unsigned char *b, size_t avail, size_t *hstart, size_t *hlen,
                    char *err, size_t errlen)
{
    if (avail < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return fail(err, errlen, "not a .npy file (no \\x93NUMPY magic)");
    if (b[6] == 1) {
        *hlen = (size_t)b[8] | (size_t)b[9] << 8;
        *hstart = 10;
    } else if (b[6] == 2 || b[6] == 3) {
        if (avail < 12)
            return fail(err, errlen, "the file ends inside its header length");
        *hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        *hstart = 12;
    } else {
        return fail(err, errlen, "format version %d.%d is not one of 1.0, 2.0, 3.0", b[6], b[7]);
    }
    return 0;
}

/* The header dictionary h (hlen bytes): dtype, shape, count. */
static int header(const char *h, size_t hlen, npy_array *a, char *err, size_t errlen)
{
    int have_descr = 0, have_order = 0, have_shape = 0;
    size_t i;
    cursor c;

    c.p = h, c.end = h + hlen;
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
    return 0;
}

static int data_size_check(const npy_array *a, size_t have, char *err, size_t errlen)
{
    size_t bytes = a->count * dtype_size(a->dtype);
    if (bytes != have)
        return fail(err, errlen, "the shape and dtype make %zu bytes of data but the file has %zu",
                    bytes, have);
    return 0;
}

int npy_parse(const void *buf, size_t size, npy_array *a, char *err, size_t errlen)
{
    const unsigned char *b = buf;
    size_t hlen, hstart;

    memset(a, 0, sizeof *a);
    if (preamble(b, size, &hstart, &hlen, err, errlen) != 0)
        return -1;
    if (hlen > size - hstart)
        return fail(err, errlen, "the header is %zu bytes long but the file has %zu after it",
                    hlen, size - hstart);
    if (header((const char *)b + hstart, hlen, a, err, errlen) != 0 ||
        data_size_check(a, size - hstart - hlen, err, errlen) != 0)
        return -1;
    a->data = b + hstart + hlen;
    return 0;
}

/* Headers longer than this are refused before they are read. */
#define NPY_HEADER_MAX (1u << 20)

int npy_load(const char *path, npy_array *a, char *err, size_t errlen)
{
    unsigned char pre[12];
    char *hdr = NULL;
    unsigned char *data = NULL;
    size_t got, hstart, hlen, bytes;
    struct stat sb;
    int regular;
    FILE *f;

    memset(a, 0, sizeof *a);
    f = fopen(path, "rb");
    if (!f)
        return fail(err, errlen, "cannot open it: %s", strerror(errno));
    if (fstat(fileno(f), &sb) != 0) {
        fclose(f);
        return fail(err, errlen, "cannot read it: %s", strerror(errno));
    }
    if (S_ISDIR(sb.st_mode)) {
        fclose(f);
        return fail(err, errlen, "it is a folder, not a .npy file");
    }
    /* the preamble and the header first: the payload is read only once the
     * header has said how long it is, and the file's size agrees */
    regular = S_ISREG(sb.st_mode);
    got = fread(pre, 1, 10, f);
    if (got == 10 && (pre[6] == 2 || pre[6] == 3))
        got += fread(pre + 10, 1, 2, f);
    if (preamble(pre, got, &hstart, &hlen, err, errlen) != 0)
        goto fail;
    if (regular && hlen > (size_t)sb.st_size - hstart) {
        fail(err, errlen, "the header is %zu bytes long but the file has %zu after it", hlen,
             (size_t)sb.st_size - hstart);
        goto fail;
    }
    if (hlen > NPY_HEADER_MAX) {
        fail(err, errlen, "a header of %zu bytes is more than the %u read here", hlen,
             NPY_HEADER_MAX);
        goto fail;
    }
    hdr = malloc(hlen ? hlen : 1);
    if (!hdr) {
        fail(err, errlen, "no memory for its header");
        goto fail;
    }
    if (fread(hdr, 1, hlen, f) != hlen) {
        fail(err, errlen, "the file ends inside its header");
        goto fail;
    }
    if (header(hdr, hlen, a, err, errlen) != 0)
        goto fail;
    bytes = a->count * dtype_size(a->dtype);
    if (regular && data_size_check(a, (size_t)sb.st_size - hstart - hlen, err, errlen) != 0)
        goto fail;
    data = malloc(bytes ? bytes : 1);
    if (!data) {
        fail(err, errlen, "no memory for its %zu bytes of data", bytes);
        goto fail;
    }
    got = fread(data, 1, bytes, f);
    if (got != bytes || fgetc(f) != EOF) {
        fail(err, errlen, "the shape and dtype make %zu bytes of data but the file has %s", bytes,
             got != bytes ? "fewer" : "more");
        goto fail;
    }
    fclose(f);
    free(hdr);
    a->data = data;
    a->owned = data;
    return 0;
fail:
    fclose(f);
    free(hdr);
    free(data);
    memset(a, 0, sizeof *a);
    return -1;
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
    char header[256];
    size_t len = 0, count = 1, i, total;
    af_file out;
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
    if (af_open(&out, path, err, errlen) != 0)
        return -1;
    f = out.f;
    ok = fwrite("\x93NUMPY\x01\x00", 1, 8, f) == 8 && fputc((int)(len & 255), f) != EOF &&
         fputc((int)(len >> 8), f) != EOF && fwrite(header, 1, len, f) == len &&
         fwrite(data, sizeof(float), count, f) == count;
    if (!ok) {
        fail(err, errlen, "cannot write %s: %s", path, strerror(errno));
        af_abort(&out);
        return -1;
    }
    return af_commit(&out, err, errlen);
}
