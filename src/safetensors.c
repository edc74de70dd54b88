/* nn.LSTM state_dicts in safetensors files: a hostile-input reader and a writer.
 * The format: an 8-byte little-endian header length, a JSON header
 * {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
 * then the tensors' bytes, offsets counted from the end of the header. */
#define _POSIX_C_SOURCE 200809L
#include "weights.h"
#include "atomicfile.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FAIL(st, ...) lstmcl__weights_fail(LSTMCL_ERROR_##st, __VA_ARGS__)

#define HEADER_MAX (100u << 20) /* as safetensors' own reader */
#define RANK_MAX 16
#define TENSORS_MAX 1000000

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {{"F32", 4},     {"F16", 2},     {"BF16", 2}, {"F64", 8}, {"I64", 8},
              {"U64", 8},     {"I32", 4},     {"U32", 4},  {"I16", 2}, {"U16", 2},
              {"I8", 1},      {"U8", 1},      {"BOOL", 1}, {"F8_E5M2", 1},
              {"F8_E4M3", 1}, {"F8_E8M0", 1}, {"F4", 1}};
enum { DT_F32, DT_F16, DT_BF16 };

typedef struct tensor {
    const char *name; /* inside the JSON document */
    size_t dtype;     /* index in dtypes */
    size_t rank, dims[RANK_MAX];
    uint64_t begin, end;
} tensor;

/* nn.LSTM's parameter names: KIND_l{layer}[_reverse] */
enum { W_IH, W_HH, B_IH, B_HH, W_HR, KINDS };
static const char *const kind_names[KINDS] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh",
                                              "weight_hr"};

typedef struct lstm_name {
    int kind;
    size_t layer, prefix_len;
    int reverse;
} lstm_name;

/* Is name (len bytes) PREFIX + an nn.LSTM parameter name?  The layer may be
 * out of range (up to 9 digits); the caller says so. */
static int parse_lstm_name(const char *s, size_t n, lstm_name *o)
{
    size_t end = n, d, k;
    int kind;
    o->reverse = 0;
    if (end >= 8 && !memcmp(s + end - 8, "_reverse", 8)) {
        o->reverse = 1;
        end -= 8;
    }
    for (d = end; d > 0 && s[d - 1] >= '0' && s[d - 1] <= '9'; d--)
        ;
    if (d == end || end - d > 9 || (end - d > 1 && s[d] == '0'))
        return 0;
    if (d < 2 || s[d - 2] != '_' || s[d - 1] != 'l')
        return 0;
    o->layer = 0;
    for (k = d; k < end; k++)
        o->layer = o->layer * 10 + (size_t)(s[k] - '0');
    for (kind = 0; kind < KINDS; kind++) {
        size_t len = strlen(kind_names[kind]);
        if (d - 2 >= len && !memcmp(s + d - 2 - len, kind_names[kind], len)) {
            o->kind = kind;
            o->prefix_len = d - 2 - len;
            return 1;
        }
    }
    return 0;
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    int i;
    for (i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static float half_to_float(unsigned h)
{
    unsigned sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    uint32_t u;
    float f;
    if (exp == 0) { /* zero or subnormal: man · 2^-24 */
        f = (float)man * 5.9604644775390625e-8f;
        return sign ? -f : f;
    }
    if (exp == 31)
        u = (uint32_t)sign << 31 | 0x7f800000u | (uint32_t)man << 13;
    else
        u = (uint32_t)sign << 31 | (uint32_t)(exp + 112) << 23 | (uint32_t)man << 13;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Widens count elements of a checked F32, F16 or BF16 tensor; fails on a
 * value that is not finite. */
static lstmcl_status widen(float *dst, const unsigned char *src, const tensor *t, size_t count,
                           const char *where)
{
    size_t i;
    for (i = 0; i < count; i++) {
        uint32_t u;
        float f;
        if (t->dtype == DT_F32) {
            const unsigned char *p = src + 4 * i;
            u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
            memcpy(&f, &u, sizeof f);
        } else if (t->dtype == DT_BF16) {
            u = ((uint32_t)src[2 * i] | (uint32_t)src[2 * i + 1] << 8) << 16;
            memcpy(&f, &u, sizeof f);
        } else {
            f = half_to_float((unsigned)src[2 * i] | (unsigned)src[2 * i + 1] << 8);
        }
        if (!isfinite(f))
            return FAIL(INVALID_FILE, "%.200s: tensor '%.80s' holds a value that is not finite "
                                      "(element %zu)", where, t->name, i);
        dst[i] = f;
    }
    return LSTMCL_SUCCESS;
}

static int json_size(const json_t *v, uint64_t *out)
{
    json_int_t i;
    if (!json_is_integer(v))
        return 0;
    i = json_integer_value(v);
    if (i < 0)
        return 0;
    *out = (uint64_t)i;
    return 1;
}

/* Checks one tensor entry of the header against the data's length. */
static lstmcl_status parse_tensor(tensor *t, const char *name, const json_t *v, uint64_t data_len,
                                  const char *where)
{
    const json_t *dt = json_object_get(v, "dtype"), *shape = json_object_get(v, "shape"),
                 *offs = json_object_get(v, "data_offsets");
    uint64_t elems = 1, bytes;
    size_t i;
    t->name = name;
    if (!json_is_object(v))
        return FAIL(INVALID_FILE, "%.200s: the header's entry '%.80s' is not an object", where,
                    name);
    if (!json_is_string(dt))
        return FAIL(INVALID_FILE, "%.200s: tensor '%.80s' has no dtype string", where, name);
    for (t->dtype = 0; t->dtype < sizeof dtypes / sizeof dtypes[0]; t->dtype++)
        if (!strcmp(json_string_value(dt), dtypes[t->dtype].name))
            break;
    if (t->dtype == sizeof dtypes / sizeof dtypes[0])
        return FAIL(INVALID_FILE, "%.200s: tensor '%.80s' has an unknown dtype '%.20s'", where,
                    name, json_string_value(dt));
    if (!json_is_array(shape) || json_array_size(shape) > RANK_MAX)
        return FAIL(INVALID_FILE, "%.200s: tensor '%.80s' has no shape array of at most %d "
                                  "sizes", where, name, RANK_MAX);
    t->rank = json_array_size(shape);
    for (i = 0; i < t->rank; i++) {
        uint64_t d;
        if (!json_size(json_array_get(shape, i), &d))
            return FAIL(INVALID_FILE, "%.200s: tensor '%.80s': shape[%zu] is not a size", where,
                        name, i);
        if (d && elems > UINT64_MAX / d)
            return FAIL(INVALID_FILE, "%.200s: tensor '%.80s': its shape's product overflows",
                        where, name);
        elems *= d;
        t->dims[i] = d > SIZE_MAX ? SIZE_MAX : (size_t)d;
    }
    if (!json_is_array(offs) || json_array_size(offs) != 2 ||
        !json_size(json_array_get(offs, 0), &t->begin) ||
        !json_size(json_array_get(offs, 1), &t->end))
        return FAIL(INVALID_FILE, "%.200s: tensor '%.80s' has no data_offsets [begin, end]",
                    where, name);
    if (t->begin > t->end || t->end > data_len)
        return FAIL(INVALID_FILE, "%.200s: tensor '%.80s': data_offsets [%llu, %llu] are not "
                                  "inside the %llu bytes of data",
                    where, name, (unsigned long long)t->begin, (unsigned long long)t->end,
                    (unsigned long long)data_len);
    if (elems > UINT64_MAX / dtypes[t->dtype].size ||
        (bytes = elems * dtypes[t->dtype].size) != t->end - t->begin)
        return FAIL(INVALID_FILE, "%.200s: tensor '%.80s': %llu bytes of data for a %s tensor "
                                  "of %llu elements",
                    where, name, (unsigned long long)(t->end - t->begin), dtypes[t->dtype].name,
                    (unsigned long long)elems);
    return LSTMCL_SUCCESS;
}

static int by_offset(const void *a, const void *b)
{
    const tensor *x = *(const tensor *const *)a, *y = *(const tensor *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* The tensors' bytes must cover the data exactly: no gap, no overlap. */
static lstmcl_status check_cover(tensor *t, size_t n, uint64_t data_len, const char *where)
{
    tensor **order = malloc((n ? n : 1) * sizeof *order);
    uint64_t next = 0;
    size_t i;
    if (!order)
        return FAIL(OUT_OF_HOST_MEMORY, "%.200s: out of host memory", where);
    for (i = 0; i < n; i++)
        order[i] = &t[i];
    qsort(order, n, sizeof *order, by_offset);
    for (i = 0; i < n; i++) {
        if (order[i]->begin != next) {
            lstmcl_status st = FAIL(INVALID_FILE, "%.200s: tensor '%.80s' starts at byte %llu of "
                                                  "the data where %llu was expected (safetensors "
                                                  "allows no gaps or overlaps)",
                                    where, order[i]->name, (unsigned long long)order[i]->begin,
                                    (unsigned long long)next);
            free(order);
            return st;
        }
        next = order[i]->end;
    }
    free(order);
    if (next != data_len)
        return FAIL(INVALID_FILE, "%.200s: %llu bytes of data follow the last tensor", where,
                    (unsigned long long)(data_len - next));
    return LSTMCL_SUCCESS;
}

static int is_float_dtype(size_t dt)
{
    return dt == DT_F32 || dt == DT_F16 || dt == DT_BF16;
}

/* Finds the LSTM's tensors among t[0..n), checks their names and shapes, and
 * builds the weights. */
static lstmcl_status build(lstmcl_weights **out, const tensor *t, size_t n,
                           const unsigned char *data, const char *prefix, const char *where)
{
    const tensor *slot[LSTMCL_WEIGHTS_MAX_LAYERS][2][4];
    const char *found_prefix = NULL;
    size_t found_len = 0, i, l, d, layers = 0, dirs = 1, H, D;
    int any = 0, has_bias, kind;
    lstmcl_weights_shape shape;
    lstmcl_weights *w = NULL;
    lstmcl_status st;
    float *buf[4] = {NULL, NULL, NULL, NULL};

    memset(slot, 0, sizeof slot);
    for (i = 0; i < n; i++) {
        lstm_name nm;
        size_t len = strlen(t[i].name);
        if (!parse_lstm_name(t[i].name, len, &nm))
            continue;
        if (prefix && (nm.prefix_len != strlen(prefix) || memcmp(t[i].name, prefix, nm.prefix_len)))
            continue;
        if (!prefix) {
            if (!any) {
                found_prefix = t[i].name;
                found_len = nm.prefix_len;
            } else if (nm.prefix_len != found_len || memcmp(t[i].name, found_prefix, found_len)) {
                return FAIL(INVALID_FILE, "%.200s: tensors of two LSTMs, '%.80s' and '%.80s'; "
                                          "name the prefix of the one to load",
                            where, found_prefix, t[i].name);
            }
        }
        any = 1;
        if (nm.kind == W_HR)
            return FAIL(INVALID_FILE, "%.200s: '%.80s': LSTMs with projections (proj_size) are "
                                      "not supported", where, t[i].name);
        if (nm.layer >= LSTMCL_WEIGHTS_MAX_LAYERS)
            return FAIL(INVALID_FILE, "%.200s: '%.80s': layer %zu, but lstmcl runs at most %d "
                                      "layers", where, t[i].name, nm.layer,
                        LSTMCL_WEIGHTS_MAX_LAYERS);
        slot[nm.layer][nm.reverse][nm.kind] = &t[i];
        if (nm.layer + 1 > layers)
            layers = nm.layer + 1;
        if (nm.reverse)
            dirs = 2;
    }
    if (!any)
        return FAIL(INVALID_FILE, "%.200s: no nn.LSTM tensors (%sweight_ih_l0 and the others) "
                                  "in the file", where, prefix ? prefix : "[prefix]");
    if (!prefix)
        prefix = ""; /* names in messages below carry found_prefix instead */
#define NAME_FMT "'%.*s%s_l%zu%s'"
#define NAME_ARGS(k, l, d) (int)(found_prefix ? found_len : strlen(prefix)), \
                           (found_prefix ? found_prefix : prefix), kind_names[k], (size_t)(l), \
                           (d) ? "_reverse" : ""
    has_bias = slot[0][0][B_IH] || slot[0][0][B_HH];
    for (l = 0; l < layers; l++)
        for (d = 0; d < dirs; d++)
            for (kind = 0; kind < 4; kind++) {
                int want = kind < B_IH || has_bias;
                if (want && !slot[l][d][kind])
                    return FAIL(INVALID_FILE, "%.200s: " NAME_FMT " is missing", where,
                                NAME_ARGS(kind, l, d));
                if (!want && slot[l][d][kind])
                    return FAIL(INVALID_FILE, "%.200s: " NAME_FMT " is there but layer 0 has no "
                                              "biases", where, NAME_ARGS(kind, l, d));
                if (want && !is_float_dtype(slot[l][d][kind]->dtype))
                    return FAIL(INVALID_FILE, "%.200s: " NAME_FMT " is %s; lstmcl reads F32, F16 "
                                              "and BF16", where, NAME_ARGS(kind, l, d),
                                dtypes[slot[l][d][kind]->dtype].name);
            }
    {
        const tensor *hh = slot[0][0][W_HH], *ih = slot[0][0][W_IH];
        if (hh->rank != 2 || hh->dims[1] < 1 || hh->dims[1] > LSTMCL_WEIGHTS_MAX_SIZE ||
            hh->dims[0] != 4 * hh->dims[1])
            return FAIL(INVALID_FILE, "%.200s: " NAME_FMT " must be (4H, H) with H from 1 to "
                                      "%d", where, NAME_ARGS(W_HH, 0, 0), LSTMCL_WEIGHTS_MAX_SIZE);
        H = hh->dims[1];
        if (ih->rank != 2 || ih->dims[0] != 4 * H || ih->dims[1] < 1 ||
            ih->dims[1] > LSTMCL_WEIGHTS_MAX_SIZE)
            return FAIL(INVALID_FILE, "%.200s: " NAME_FMT " must be (%zu, D) with D from 1 to "
                                      "%d", where, NAME_ARGS(W_IH, 0, 0), 4 * H,
                        LSTMCL_WEIGHTS_MAX_SIZE);
        D = ih->dims[1];
    }
    for (l = 0; l < layers; l++)
        for (d = 0; d < dirs; d++)
            for (kind = 0; kind < 4; kind++) {
                const tensor *x = slot[l][d][kind];
                size_t cols = kind == W_IH ? (l ? dirs * H : D) : H;
                if (!x)
                    continue;
                if (kind < B_IH ? (x->rank != 2 || x->dims[0] != 4 * H || x->dims[1] != cols)
                                : (x->rank != 1 || x->dims[0] != 4 * H)) {
                    if (kind < B_IH)
                        return FAIL(INVALID_FILE, "%.200s: " NAME_FMT " must be (%zu, %zu)",
                                    where, NAME_ARGS(kind, l, d), 4 * H, cols);
                    return FAIL(INVALID_FILE, "%.200s: " NAME_FMT " must be (%zu)", where,
                                NAME_ARGS(kind, l, d), 4 * H);
                }
            }
    shape.layers = layers;
    shape.directions = dirs;
    shape.input_size = D;
    shape.hidden_size = H;
    st = lstmcl_weights_create(&w, &shape);
    if (st != LSTMCL_SUCCESS)
        return st;
    for (l = 0; l < layers && st == LSTMCL_SUCCESS; l++)
        for (d = 0; d < dirs && st == LSTMCL_SUCCESS; d++) {
            for (kind = 0; kind < 4 && st == LSTMCL_SUCCESS; kind++) {
                const tensor *x = slot[l][d][kind];
                size_t count = x ? (x->rank == 2 ? x->dims[0] * x->dims[1] : x->dims[0]) : 0;
                free(buf[kind]);
                buf[kind] = NULL;
                if (!x)
                    continue;
                buf[kind] = malloc(count * sizeof(float));
                if (!buf[kind])
                    st = FAIL(OUT_OF_HOST_MEMORY, "%.200s: out of host memory", where);
                else
                    st = widen(buf[kind], data + x->begin, x, count, where);
            }
            if (st == LSTMCL_SUCCESS)
                st = lstmcl_weights_set_torch(w, l, d, buf[W_IH], buf[W_HH], buf[B_IH],
                                              buf[B_HH]);
        }
#undef NAME_FMT
#undef NAME_ARGS
    for (kind = 0; kind < 4; kind++)
        free(buf[kind]);
    if (st != LSTMCL_SUCCESS) {
        lstmcl_weights_destroy(w);
        return st;
    }
    *out = w;
    return LSTMCL_SUCCESS;
}

/* Reads a safetensors file of size bytes whose first avail bytes are at p
 * (all of it to build weights; at least the header to check it: out NULL). */
static lstmcl_status read_st_part(lstmcl_weights **out, const unsigned char *p, size_t avail,
                                  size_t size, const char *prefix, const char *where);

static lstmcl_status read_st(lstmcl_weights **out, const unsigned char *p, size_t size,
                             const char *prefix, const char *where)
{
    return read_st_part(out, p, size, size, prefix, where);
}

/* Checks the header of a file of size bytes, from its first avail bytes. */
static lstmcl_status check_st(const unsigned char *p, size_t avail, size_t size,
                              const char *where)
{
    return read_st_part(NULL, p, avail, size, NULL, where);
}

static lstmcl_status read_st_part(lstmcl_weights **out, const unsigned char *p, size_t avail,
                                  size_t size, const char *prefix, const char *where)
{
    uint64_t hlen, data_len;
    json_t *root = NULL;
    json_error_t jerr;
    tensor *t = NULL;
    size_t n = 0;
    const char *key;
    size_t keylen;
    json_t *v;
    lstmcl_status st = LSTMCL_SUCCESS;

    if (size < 8)
        return FAIL(INVALID_FILE, "%.200s: %zu bytes, too short for safetensors' 8-byte header "
                                  "length", where, size);
    hlen = le64(p);
    if (hlen > size - 8)
        return FAIL(INVALID_FILE, "%.200s: the header length %llu runs past the end (%zu bytes)",
                    where, (unsigned long long)hlen, size);
    if (hlen > HEADER_MAX)
        return FAIL(INVALID_FILE, "%.200s: a header of %llu bytes is more than the %u safetensors "
                                  "allows", where, (unsigned long long)hlen, HEADER_MAX);
    if (hlen < 2 || p[8] != '{')
        return FAIL(INVALID_FILE, "%.200s: the header is not a JSON object (it must start with "
                                  "'{')", where);
    data_len = size - 8 - hlen;
    root = json_loadb((const char *)p + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return FAIL(INVALID_FILE, "%.200s: the header is not valid JSON: %s (byte %d)", where,
                    jerr.text, jerr.position);
    if (!json_is_object(root)) {
        json_decref(root);
        return FAIL(INVALID_FILE, "%.200s: the header is not a JSON object", where);
    }
    if (json_object_size(root) > TENSORS_MAX) {
        json_decref(root);
        return FAIL(INVALID_FILE, "%.200s: more than %d tensors", where, TENSORS_MAX);
    }
    t = calloc(json_object_size(root) + 1, sizeof *t);
    if (!t) {
        json_decref(root);
        return FAIL(OUT_OF_HOST_MEMORY, "%.200s: out of host memory", where);
    }
    json_object_keylen_foreach(root, key, keylen, v)
    {
        if (strlen(key) != keylen) {
            st = FAIL(INVALID_FILE, "%.200s: a tensor's name holds a NUL byte", where);
            break;
        }
        if (!strcmp(key, "__metadata__")) {
            const char *mk;
            json_t *mv;
            if (!json_is_object(v)) {
                st = FAIL(INVALID_FILE, "%.200s: __metadata__ is not an object", where);
                break;
            }
            json_object_foreach(v, mk, mv)
            {
                if (!json_is_string(mv)) {
                    st = FAIL(INVALID_FILE, "%.200s: __metadata__ '%.80s' is not a string",
                              where, mk);
                    break;
                }
            }
            if (st != LSTMCL_SUCCESS)
                break;
            continue;
        }
        st = parse_tensor(&t[n], key, v, data_len, where);
        if (st != LSTMCL_SUCCESS)
            break;
        n++;
    }
    if (st == LSTMCL_SUCCESS)
        st = check_cover(t, n, data_len, where);
    if (st == LSTMCL_SUCCESS && out && avail == size)
        st = build(out, t, n, p + 8 + hlen, prefix, where);
    free(t);
    json_decref(root);
    return st;
}

lstmcl_status lstmcl_weights_read_safetensors(lstmcl_weights **out, const void *data, size_t size,
                                              const char *prefix)
{
    if (!out)
        return FAIL(INVALID_ARGUMENT, "lstmcl_weights_read_safetensors: NULL output pointer");
    *out = NULL;
    if (!data && size)
        return FAIL(INVALID_ARGUMENT, "lstmcl_weights_read_safetensors: NULL data");
    return read_st(out, data, size, prefix, "the safetensors data");
}

lstmcl_status lstmcl_weights_load_safetensors(lstmcl_weights **out, const char *path,
                                              const char *prefix)
{
    FILE *f;
    struct stat sb;
    unsigned char *buf;
    size_t size;
    lstmcl_status st;
    if (!out)
        return FAIL(INVALID_ARGUMENT, "lstmcl_weights_load_safetensors: NULL output pointer");
    *out = NULL;
    if (!path)
        return FAIL(INVALID_ARGUMENT, "lstmcl_weights_load_safetensors: NULL path");
    f = fopen(path, "rb");
    if (!f)
        return FAIL(IO, "%.200s: cannot open: %s", path, strerror(errno));
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return FAIL(IO, "%.200s: not a regular file", path);
    }
    if ((uintmax_t)sb.st_size > SIZE_MAX) {
        fclose(f);
        return FAIL(TOO_LARGE, "%.200s: too large for this machine's memory", path);
    }
    size = (size_t)sb.st_size;
    /* the header first: a file it does not describe is refused before its
     * payload is read */
    {
        unsigned char len8[8];
        uint64_t hlen;
        size_t head;
        if (size < 8) {
            fclose(f);
            return read_st(out, len8, size, prefix, path); /* refused: too short */
        }
        if (fread(len8, 1, 8, f) != 8) {
            fclose(f);
            return FAIL(IO, "%.200s: read failed", path);
        }
        hlen = le64(len8);
        head = hlen <= HEADER_MAX && hlen <= size - 8 ? 8 + (size_t)hlen : 8;
        buf = malloc(head);
        if (!buf) {
            fclose(f);
            return FAIL(OUT_OF_HOST_MEMORY, "%.200s: out of host memory", path);
        }
        memcpy(buf, len8, 8);
        if (fread(buf + 8, 1, head - 8, f) != head - 8) {
            free(buf);
            fclose(f);
            return FAIL(IO, "%.200s: read failed", path);
        }
        st = check_st(buf, head, size, path);
        free(buf);
        if (st != LSTMCL_SUCCESS) {
            fclose(f);
            return st;
        }
        if (fseek(f, 0, SEEK_SET) != 0) {
            fclose(f);
            return FAIL(IO, "%.200s: read failed", path);
        }
    }
    buf = malloc(size ? size : 1);
    if (!buf) {
        fclose(f);
        return FAIL(OUT_OF_HOST_MEMORY, "%.200s: out of host memory for %zu bytes", path, size);
    }
    if (fread(buf, 1, size, f) != size) {
        free(buf);
        fclose(f);
        return FAIL(IO, "%.200s: read failed", path);
    }
    fclose(f);
    st = read_st(out, buf, size, prefix, path);
    free(buf);
    return st;
}

/* --------------------------------------------------------------- writing */

static int put_le32(FILE *f, const float *x, size_t n)
{
    unsigned char b[4096];
    size_t i, k = 0;
    for (i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        b[k++] = (unsigned char)u;
        b[k++] = (unsigned char)(u >> 8);
        b[k++] = (unsigned char)(u >> 16);
        b[k++] = (unsigned char)(u >> 24);
        if (k == sizeof b) {
            if (fwrite(b, 1, k, f) != k)
                return -1;
            k = 0;
        }
    }
    return k && fwrite(b, 1, k, f) != k ? -1 : 0;
}

static json_t *tensor_entry(size_t rows, size_t cols, uint64_t *offset)
{
    uint64_t bytes = (uint64_t)rows * (cols ? cols : 1) * 4;
    json_t *e = json_object(), *shape = json_array(), *offs = json_array();
    if (!e || !shape || !offs) {
        json_decref(e);
        json_decref(shape);
        json_decref(offs);
        return NULL;
    }
    json_array_append_new(shape, json_integer((json_int_t)rows));
    if (cols)
        json_array_append_new(shape, json_integer((json_int_t)cols));
    json_array_append_new(offs, json_integer((json_int_t)*offset));
    json_array_append_new(offs, json_integer((json_int_t)(*offset + bytes)));
    json_object_set_new(e, "dtype", json_string("F32"));
    json_object_set_new(e, "shape", shape);
    json_object_set_new(e, "data_offsets", offs);
    *offset += bytes;
    return e;
}

lstmcl_status lstmcl_weights_save_safetensors(const lstmcl_weights *w, const char *path,
                                              const char *prefix)
{
    json_t *root = NULL, *meta;
    char *header = NULL, name[320], why[400];
    af_file out;
    size_t l, d, hlen, pad, H, kind;
    uint64_t offset = 0;
    float *buf[4] = {NULL, NULL, NULL, NULL};
    FILE *f = NULL;
    unsigned char len8[8];
    lstmcl_status st = LSTMCL_SUCCESS;
    int i;

    if (!w || !path)
        return FAIL(INVALID_ARGUMENT, "lstmcl_weights_save_safetensors: NULL weights or path");
    if (!prefix)
        prefix = "";
    if (strlen(prefix) > 256)
        return FAIL(INVALID_ARGUMENT, "lstmcl_weights_save_safetensors: the prefix is longer "
                                      "than 256 bytes");
    H = w->shape.hidden_size;
    root = json_object();
    meta = json_object();
    if (!root || !meta) {
        json_decref(root);
        json_decref(meta);
        return FAIL(OUT_OF_HOST_MEMORY, "out of host memory");
    }
    json_object_set_new(meta, "format", json_string("pt"));
    json_object_set_new(root, "__metadata__", meta);
    for (l = 0; l < w->shape.layers; l++)
        for (d = 0; d < w->shape.directions; d++)
            for (kind = 0; kind < 4; kind++) {
                size_t din = lstmcl_weights_layer_input_size(w, l);
                json_t *e = tensor_entry(4 * H, kind == W_IH ? din : kind == W_HH ? H : 0,
                                         &offset);
                snprintf(name, sizeof name, "%s%s_l%zu%s", prefix, kind_names[kind], l,
                         d ? "_reverse" : "");
                if (!e || json_object_set_new(root, name, e) != 0) {
                    json_decref(root);
                    return FAIL(OUT_OF_HOST_MEMORY, "out of host memory");
                }
            }
    header = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!header)
        return FAIL(OUT_OF_HOST_MEMORY, "out of host memory");
    hlen = strlen(header);
    pad = (8 - hlen % 8) % 8; /* the data starts 8-byte aligned, as safetensors writes it */
    if (af_open(&out, path, why, sizeof why) != 0) {
        free(header);
        return FAIL(IO, "%.300s", why);
    }
    f = out.f;
    for (i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)(hlen + pad) >> (8 * i));
    if (fwrite(len8, 1, 8, f) != 8 || fwrite(header, 1, hlen, f) != hlen ||
        fwrite("        ", 1, pad, f) != pad) {
        st = FAIL(IO, "%.200s: write failed: %s", path, strerror(errno));
        goto done;
    }
    for (kind = 0; kind < 4; kind++) {
        buf[kind] = malloc((size_t)4 * H * (w->shape.directions * H > w->shape.input_size
                                                ? w->shape.directions * H
                                                : w->shape.input_size) * sizeof(float) +
                           sizeof(float));
        if (!buf[kind]) {
            st = FAIL(OUT_OF_HOST_MEMORY, "out of host memory");
            goto done;
        }
    }
    for (l = 0; l < w->shape.layers; l++)
        for (d = 0; d < w->shape.directions; d++) {
            size_t din = lstmcl_weights_layer_input_size(w, l);
            lstmcl_weights_get_torch(w, l, d, buf[W_IH], buf[W_HH], buf[B_IH], buf[B_HH]);
            if (put_le32(f, buf[W_IH], 4 * H * din) || put_le32(f, buf[W_HH], 4 * H * H) ||
                put_le32(f, buf[B_IH], 4 * H) || put_le32(f, buf[B_HH], 4 * H)) {
                st = FAIL(IO, "%.200s: write failed: %s", path, strerror(errno));
                goto done;
            }
        }
    f = NULL;
    if (af_commit(&out, why, sizeof why) != 0)
        st = FAIL(IO, "%.300s", why);
done:
    if (f)
        af_abort(&out);
    for (kind = 0; kind < 4; kind++)
        free(buf[kind]);
    free(header);
    return st;
}
