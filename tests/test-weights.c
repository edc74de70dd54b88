/* Host-side weights: PyTorch's and ONNX's layouts against their own formulas,
 * and the safetensors reader and writer, including hostile files. */
#define _POSIX_C_SOURCE 200809L
#include "lstmcl_weights.h"
#include "reference.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static double sigm(double x)
{
    return 1 / (1 + exp(-x));
}

/* One step of an LSTM whose weights are rows of gates in the order given by
 * order[] (the position of i, f, g, o among the four row blocks), written
 * from PyTorch's and ONNX's documentation: a = W x + Wb + R h + Rb. */
static void rowmajor_step(size_t N, size_t D, size_t H, const size_t order[4], const float *W,
                          const float *R, const float *Wb, const float *Rb, const double *x,
                          const double *h0, const double *c0, double *h, double *c)
{
    size_t n, j, k, q;
    for (n = 0; n < N; n++)
        for (j = 0; j < H; j++) {
            double a[4];
            for (q = 0; q < 4; q++) { /* q: i, f, g, o */
                size_t row = order[q] * H + j;
                double s = (Wb ? Wb[row] : 0) + (Rb ? Rb[row] : 0);
                for (k = 0; k < D; k++)
                    s += W[row * D + k] * x[n * D + k];
                for (k = 0; k < H; k++)
                    s += R[row * H + k] * h0[n * H + k];
                a[q] = s;
            }
            c[n * H + j] = sigm(a[1]) * c0[n * H + j] + sigm(a[0]) * tanh(a[2]);
            h[n * H + j] = sigm(a[3]) * tanh(c[n * H + j]);
        }
}

/* The same step through lstmcl's layout (the reference of tests/reference.c). */
static void lstmcl_step(lstmcl_weights *w, size_t layer, size_t dir, size_t N, const double *x,
                        const double *h0, const double *c0, double *h, double *c)
{
    lstmcl_weights_shape s;
    size_t D, H, i;
    const float *blk = lstmcl_weights_block(w, layer, dir);
    double *Wx, *Wh, *b;
    ref_cache rc;
    lstmcl_weights_get_shape(w, &s);
    H = s.hidden_size;
    D = lstmcl_weights_layer_input_size(w, layer);
    Wx = tu_doubles(blk, D * 4 * H);
    Wh = tu_doubles(blk + D * 4 * H, H * 4 * H);
    b = tu_doubles(blk + (D + H) * 4 * H, 4 * H);
    ck_assert_int_eq(ref_forward(N, 1, D, H, x, h0, c0, Wx, Wh, b, &rc), 0);
    for (i = 0; i < N * H; i++) {
        h[i] = rc.h[i];
        c[i] = rc.c[i];
    }
    ref_cache_free(&rc);
    free(Wx);
    free(Wh);
    free(b);
}

static double max_diff(const double *a, const double *b, size_t n)
{
    double m = 0;
    size_t i;
    for (i = 0; i < n; i++)
        if (!(fabs(a[i] - b[i]) <= m))
            m = fabs(a[i] - b[i]);
    return m;
}

static lstmcl_weights *make(size_t layers, size_t dirs, size_t D, size_t H)
{
    lstmcl_weights_shape s = {layers, dirs, D, H};
    lstmcl_weights *w = NULL;
    ck_assert_msg(lstmcl_weights_create(&w, &s) == LSTMCL_SUCCESS, "%s",
                  lstmcl_weights_last_message());
    return w;
}

START_TEST(torch_layout)
{
    static const size_t torch_order[4] = {0, 1, 2, 3}; /* i, f, g, o */
    size_t rep;
    for (rep = 0; rep < 6; rep++) {
        size_t N = tu_range(1, 3), D = tu_range(1, 9), H = tu_range(1, 7);
        size_t layers = tu_range(1, 3), dirs = tu_range(1, 2), l = tu_range(0, layers - 1);
        size_t d = tu_range(0, dirs - 1), din = l ? dirs * H : D;
        lstmcl_weights *w = make(layers, dirs, D, H);
        float *wih = tu_floats(4 * H * din, 0.6), *whh = tu_floats(4 * H * H, 0.6);
        float *bih = tu_floats(4 * H, 0.6), *bhh = tu_floats(4 * H, 0.6);
        float *g_ih = tu_nans(4 * H * din), *g_hh = tu_nans(4 * H * H), *g_bih = tu_nans(4 * H);
        float *g_bhh = tu_nans(4 * H);
        float *xf = tu_floats(N * din, 1);
        double *x = tu_doubles(xf, N * din);
        double *h0 = tu_dalloc(N * H), *c0 = tu_dalloc(N * H), *h1 = tu_dalloc(N * H);
        double *c1 = tu_dalloc(N * H), *h2 = tu_dalloc(N * H), *c2 = tu_dalloc(N * H);
        size_t i;
        for (i = 0; i < N * H; i++) {
            h0[i] = tu_uniform(1);
            c0[i] = tu_uniform(1);
        }
        ck_assert_int_eq(lstmcl_weights_set_torch(w, l, d, wih, whh, bih, bhh), LSTMCL_SUCCESS);
        rowmajor_step(N, din, H, torch_order, wih, whh, bih, bhh, x, h0, c0, h1, c1);
        lstmcl_step(w, l, d, N, x, h0, c0, h2, c2);
        ck_assert_msg(max_diff(h1, h2, N * H) < 1e-12 && max_diff(c1, c2, N * H) < 1e-12,
                      "PyTorch's step and lstmcl's differ (N %zu D %zu H %zu layer %zu dir %zu, "
                      "seed %llu)", N, din, H, l, d, tu_seed());
        /* back to PyTorch's layout: weights exact, the biases' sum in bias_ih */
        ck_assert_int_eq(lstmcl_weights_get_torch(w, l, d, g_ih, g_hh, g_bih, g_bhh),
                         LSTMCL_SUCCESS);
        ck_assert(!memcmp(g_ih, wih, 4 * H * din * sizeof(float)));
        ck_assert(!memcmp(g_hh, whh, 4 * H * H * sizeof(float)));
        for (i = 0; i < 4 * H; i++) {
            ck_assert_float_eq(g_bih[i], bih[i] + bhh[i]);
            ck_assert_float_eq(g_bhh[i], 0.0f);
        }
        /* no biases: zeros */
        ck_assert_int_eq(lstmcl_weights_set_torch(w, l, d, wih, whh, NULL, NULL), LSTMCL_SUCCESS);
        ck_assert_int_eq(lstmcl_weights_get_torch(w, l, d, NULL, NULL, g_bih, NULL),
                         LSTMCL_SUCCESS);
        for (i = 0; i < 4 * H; i++)
            ck_assert_float_eq(g_bih[i], 0.0f);
        free(wih), free(whh), free(bih), free(bhh), free(g_ih), free(g_hh), free(g_bih);
        free(g_bhh), free(xf), free(x), free(h0), free(c0), free(h1), free(c1), free(h2), free(c2);
        lstmcl_weights_destroy(w);
    }
}
END_TEST

START_TEST(onnx_layout)
{
    static const size_t onnx_order[4] = {0, 2, 3, 1}; /* rows i, o, f, c: i at 0, f at 2, c at 3, o at 1 */
    size_t rep;
    for (rep = 0; rep < 6; rep++) {
        size_t N = tu_range(1, 3), D = tu_range(1, 9), H = tu_range(1, 7);
        size_t layers = tu_range(1, 3), dirs = tu_range(1, 2), l = tu_range(0, layers - 1);
        size_t din = l ? dirs * H : D, d, i;
        lstmcl_weights *w = make(layers, dirs, D, H);
        float *W = tu_floats(dirs * 4 * H * din, 0.6), *R = tu_floats(dirs * 4 * H * H, 0.6);
        float *B = tu_floats(dirs * 8 * H, 0.6);
        double *x = tu_dalloc(N * din), *h0 = tu_dalloc(N * H), *c0 = tu_dalloc(N * H);
        double *h1 = tu_dalloc(N * H), *c1 = tu_dalloc(N * H), *h2 = tu_dalloc(N * H);
        double *c2 = tu_dalloc(N * H);
        lstmcl_onnx_lstm node = {0};
        for (i = 0; i < N * din; i++)
            x[i] = tu_uniform(1);
        for (i = 0; i < N * H; i++) {
            h0[i] = tu_uniform(1);
            c0[i] = tu_uniform(1);
        }
        node.direction = dirs == 2 ? "bidirectional" : (rep % 2 ? "forward" : NULL);
        node.hidden_size = rep % 3 ? H : 0;
        node.W = W, node.R = R, node.B = B;
        node.W_dims[0] = dirs, node.W_dims[1] = 4 * H, node.W_dims[2] = din;
        node.R_dims[0] = dirs, node.R_dims[1] = 4 * H, node.R_dims[2] = H;
        node.B_dims[0] = dirs, node.B_dims[1] = 8 * H;
        if (rep % 2) {
            static const char *const acts[6] = {"Sigmoid", "Tanh", "Tanh",
                                                "Sigmoid", "Tanh", "Tanh"};
            node.activations = acts;
            node.activation_count = 3 * dirs;
        }
        ck_assert_msg(lstmcl_weights_set_onnx(w, l, &node) == LSTMCL_SUCCESS, "%s",
                      lstmcl_weights_last_message());
        for (d = 0; d < dirs; d++) {
            rowmajor_step(N, din, H, onnx_order, W + d * 4 * H * din, R + d * 4 * H * H,
                          B + d * 8 * H, B + d * 8 * H + 4 * H, x, h0, c0, h1, c1);
            lstmcl_step(w, l, d, N, x, h0, c0, h2, c2);
            ck_assert_msg(max_diff(h1, h2, N * H) < 1e-12 && max_diff(c1, c2, N * H) < 1e-12,
                          "ONNX's step and lstmcl's differ (N %zu D %zu H %zu dir %zu, seed "
                          "%llu)", N, din, H, d, tu_seed());
        }
        free(W), free(R), free(B), free(x), free(h0), free(c0), free(h1), free(c1), free(h2);
        free(c2);
        lstmcl_weights_destroy(w);
    }
}
END_TEST

static void expect_onnx_refusal(lstmcl_weights *w, const lstmcl_onnx_lstm *node, const char *part)
{
    ck_assert_int_eq(lstmcl_weights_set_onnx(w, 0, node), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(lstmcl_weights_last_message(), part), "message '%s' lacks '%s'",
                  lstmcl_weights_last_message(), part);
}

START_TEST(onnx_refusals)
{
    lstmcl_weights *w = make(1, 1, 3, 2);
    float W[24] = {0}, R[16] = {0}, P[6] = {0};
    static const char *const relu[3] = {"Sigmoid", "Relu", "Tanh"};
    lstmcl_onnx_lstm ok = {0}, n;
    ok.W = W, ok.R = R;
    ok.W_dims[0] = 1, ok.W_dims[1] = 8, ok.W_dims[2] = 3;
    ok.R_dims[0] = 1, ok.R_dims[1] = 8, ok.R_dims[2] = 2;
    ck_assert_int_eq(lstmcl_weights_set_onnx(w, 0, &ok), LSTMCL_SUCCESS);
    n = ok, n.P = P;
    expect_onnx_refusal(w, &n, "peephole");
    n = ok, n.has_clip = 1, n.clip = 3;
    expect_onnx_refusal(w, &n, "clip");
    n = ok, n.input_forget = 1;
    expect_onnx_refusal(w, &n, "input_forget");
    n = ok, n.direction = "reverse";
    expect_onnx_refusal(w, &n, "reverse");
    n = ok, n.direction = "sideways";
    expect_onnx_refusal(w, &n, "sideways");
    n = ok, n.direction = "bidirectional";
    expect_onnx_refusal(w, &n, "direction");
    n = ok, n.activations = relu, n.activation_count = 3;
    expect_onnx_refusal(w, &n, "Relu");
    n = ok, n.activations = relu, n.activation_count = 2;
    expect_onnx_refusal(w, &n, "activations");
    n = ok, n.hidden_size = 5;
    expect_onnx_refusal(w, &n, "hidden_size");
    n = ok, n.W_dims[2] = 4;
    expect_onnx_refusal(w, &n, "W is [1, 8, 4]");
    n = ok, n.R_dims[1] = 4;
    expect_onnx_refusal(w, &n, "R is");
    n = ok, n.B = W, n.B_dims[0] = 1, n.B_dims[1] = 8;
    expect_onnx_refusal(w, &n, "B is [1, 8]");
    n = ok, n.R = NULL;
    expect_onnx_refusal(w, &n, "required");
    ck_assert_int_eq(lstmcl_weights_set_onnx(w, 1, &ok), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(lstmcl_weights_set_onnx(NULL, 0, &ok), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(lstmcl_weights_set_onnx(w, 0, NULL), LSTMCL_ERROR_INVALID_ARGUMENT);
    lstmcl_weights_destroy(w);
}
END_TEST

START_TEST(shapes_and_arguments)
{
    lstmcl_weights_shape bad[] = {{0, 1, 3, 2},  {65, 1, 3, 2}, {1, 0, 3, 2}, {1, 3, 3, 2},
                                  {1, 1, 0, 2},  {1, 1, 3, 0},  {1, 1, 3, (1 << 24) + 1}};
    lstmcl_weights *w = (lstmcl_weights *)&w;
    lstmcl_weights_shape s;
    size_t i, count;
    float f[64] = {0};
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(lstmcl_weights_create(&w, &bad[i]), LSTMCL_ERROR_INVALID_ARGUMENT);
        ck_assert_ptr_null(w);
        ck_assert_str_ne(lstmcl_weights_last_message(), "");
    }
    ck_assert_int_eq(lstmcl_weights_create(NULL, &bad[0]), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(lstmcl_weights_create(&w, NULL), LSTMCL_ERROR_INVALID_ARGUMENT);
    w = make(3, 2, 5, 4);
    lstmcl_weights_get_shape(w, &s);
    ck_assert(s.layers == 3 && s.directions == 2 && s.input_size == 5 && s.hidden_size == 4);
    ck_assert_uint_eq(lstmcl_weights_layer_input_size(w, 0), 5);
    ck_assert_uint_eq(lstmcl_weights_layer_input_size(w, 2), 8);
    ck_assert_uint_eq(lstmcl_weights_layer_input_size(w, 3), 0);
    /* blocks follow each other: layer after layer, direction after direction */
    ck_assert_ptr_eq(lstmcl_weights_block(w, 0, 1), lstmcl_weights_block(w, 0, 0) + (5 + 4 + 1) * 16);
    ck_assert_ptr_eq(lstmcl_weights_block(w, 1, 0), lstmcl_weights_block(w, 0, 1) + (5 + 4 + 1) * 16);
    ck_assert_ptr_eq(lstmcl_weights_block(w, 2, 1), lstmcl_weights_block(w, 2, 0) + (8 + 4 + 1) * 16);
    ck_assert_ptr_eq(lstmcl_weights_data(w, &count), lstmcl_weights_block(w, 0, 0));
    ck_assert_uint_eq(count, 2 * (10 + 13 + 13) * 16);
    ck_assert_ptr_eq(lstmcl_weights_data(w, NULL) + count, lstmcl_weights_block(w, 2, 1) + 13 * 16);
    ck_assert_ptr_null(lstmcl_weights_block(w, 3, 0));
    ck_assert_ptr_null(lstmcl_weights_block(w, 0, 2));
    ck_assert_int_eq(lstmcl_weights_set_torch(w, 3, 0, f, f, f, f), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(lstmcl_weights_set_torch(w, 0, 2, f, f, f, f), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(lstmcl_weights_set_torch(w, 0, 0, NULL, f, f, f),
                     LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(lstmcl_weights_get_torch(NULL, 0, 0, f, f, f, f),
                     LSTMCL_ERROR_INVALID_ARGUMENT);
    lstmcl_weights_destroy(w);
    lstmcl_weights_destroy(NULL);
    lstmcl_weights_get_shape(NULL, &s);
    ck_assert_uint_eq(s.layers, 0);
    ck_assert_ptr_null(lstmcl_weights_data(NULL, &count));
    ck_assert_uint_eq(count, 0);
}
END_TEST

/* ------------------------------------------------------------ safetensors */

static char tmpdir[64];

static int make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lstmcl-weights-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static void remove_tmpdir(void)
{
    rmdir(tmpdir);
}

/* A safetensors image: 8-byte length, header, data (len bytes). */
static unsigned char *image(const char *header, const void *data, size_t len, size_t *size)
{
    size_t h = strlen(header), i;
    unsigned char *p = malloc(8 + h + len + 1);
    ck_assert_ptr_nonnull(p);
    for (i = 0; i < 8; i++)
        p[i] = (unsigned char)((unsigned long long)h >> (8 * i));
    memcpy(p + 8, header, h);
    if (len)
        memcpy(p + 8 + h, data, len);
    *size = 8 + h + len;
    return p;
}

static void random_weights(lstmcl_weights *w)
{
    size_t count, i;
    float *p = (float *)lstmcl_weights_data(w, &count);
    for (i = 0; i < count; i++)
        p[i] = (float)tu_uniform(1);
}

START_TEST(safetensors_roundtrip)
{
    char path[128];
    size_t rep;
    snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
    for (rep = 0; rep < 4; rep++) {
        size_t layers = tu_range(1, 3), dirs = 1 + rep % 2, D = tu_range(1, 9), H = tu_range(1, 7);
        const char *prefix = rep < 2 ? "lstm." : "";
        lstmcl_weights *w = make(layers, dirs, D, H), *r = NULL;
        lstmcl_weights_shape s;
        size_t n1, n2;
        random_weights(w);
        ck_assert_msg(lstmcl_weights_save_safetensors(w, path, prefix) == LSTMCL_SUCCESS, "%s",
                      lstmcl_weights_last_message());
        ck_assert_msg(lstmcl_weights_load_safetensors(&r, path, NULL) == LSTMCL_SUCCESS, "%s",
                      lstmcl_weights_last_message());
        lstmcl_weights_get_shape(r, &s);
        ck_assert(s.layers == layers && s.directions == dirs && s.input_size == D &&
                  s.hidden_size == H);
        {
            const float *a = lstmcl_weights_data(w, &n1), *b = lstmcl_weights_data(r, &n2);
            ck_assert(n1 == n2 && !memcmp(a, b, n1 * sizeof(float)));
        }
        lstmcl_weights_destroy(r);
        r = NULL;
        ck_assert_int_eq(lstmcl_weights_load_safetensors(&r, path, prefix), LSTMCL_SUCCESS);
        lstmcl_weights_destroy(r);
        r = (lstmcl_weights *)&r;
        ck_assert_int_eq(lstmcl_weights_load_safetensors(&r, path, "decoder."),
                         LSTMCL_ERROR_INVALID_FILE);
        ck_assert_ptr_null(r);
        ck_assert(strstr(lstmcl_weights_last_message(), "no nn.LSTM tensors"));
        lstmcl_weights_destroy(w);
    }
    ck_assert_int_eq(remove(path), 0);
}
END_TEST

START_TEST(safetensors_dtypes)
{
    /* weight_ih (4, 1), weight_hh (4, 1): H = 1, D = 1; no biases */
    static const unsigned char f16[16] = {0x00, 0x3c, 0x00, 0xc1, 0x01, 0x00, 0xff, 0x7b,
                                          0x00, 0x38, 0x00, 0x80, 0x00, 0x00, 0x55, 0x35};
    static const float f16_want[8] = {1.0f, -2.5f, 5.9604644775390625e-8f, 65504.0f,
                                      0.5f, -0.0f, 0.0f, 0.333251953125f};
    static const unsigned char bf16[16] = {0x80, 0x3f, 0x20, 0xc0, 0x00, 0x00, 0x80, 0xbf,
                                           0x00, 0x3f, 0x49, 0x40, 0x00, 0x80, 0x80, 0x3e};
    static const float bf16_want[8] = {1.0f, -2.5f, 0.0f, -1.0f, 0.5f, 3.140625f, -0.0f, 0.25f};
    const char *hdr[2] = {"{\"weight_ih_l0\":{\"dtype\":\"%s\",\"shape\":[4,1],"
                          "\"data_offsets\":[0,8]},\"weight_hh_l0\":{\"dtype\":\"%s\","
                          "\"shape\":[4,1],\"data_offsets\":[8,16]}}",
                          NULL};
    int t;
    for (t = 0; t < 2; t++) {
        char header[512];
        const float *want = t ? bf16_want : f16_want;
        float ih[4], hh[4];
        size_t size, q;
        unsigned char *p;
        lstmcl_weights *w = NULL;
        snprintf(header, sizeof header, hdr[0], t ? "BF16" : "F16", t ? "BF16" : "F16");
        p = image(header, t ? bf16 : f16, 16, &size);
        ck_assert_msg(lstmcl_weights_read_safetensors(&w, p, size, NULL) == LSTMCL_SUCCESS, "%s",
                      lstmcl_weights_last_message());
        ck_assert_int_eq(lstmcl_weights_get_torch(w, 0, 0, ih, hh, NULL, NULL), LSTMCL_SUCCESS);
        for (q = 0; q < 4; q++) {
            ck_assert_msg(ih[q] == want[q] && signbit(ih[q]) == signbit(want[q]),
                          "%s element %zu: %g, want %g", t ? "BF16" : "F16", q, ih[q], want[q]);
            ck_assert_msg(hh[q] == want[4 + q] && signbit(hh[q]) == signbit(want[4 + q]),
                          "%s element %zu: %g, want %g", t ? "BF16" : "F16", 4 + q, hh[q],
                          want[4 + q]);
        }
        lstmcl_weights_destroy(w);
        free(p);
    }
}
END_TEST

typedef struct hostile {
    const char *header; /* JSON; data: len bytes of 0x3c00 halves (1.0) or zeros */
    size_t len;
    const char *message_part;
} hostile;

#define T1(name, dt, shape, a, b) \
    "\"" name "\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":[" #a "," #b "]}"
/* a valid H = 1, D = 1 model in F32: 4 tensors, 48 bytes */
#define OK4 T1("weight_ih_l0", "F32", "[4,1]", 0, 16) "," T1("weight_hh_l0", "F32", "[4,1]", 16, 32) \
    "," T1("bias_ih_l0", "F32", "[4]", 32, 48) "," T1("bias_hh_l0", "F32", "[2,2]", 48, 64)

START_TEST(safetensors_hostile)
{
    static const hostile cases[] = {
        {"{" OK4 "}", 64, "bias_hh_l0' must be (4)"},
        {"{" T1("weight_ih_l0", "F32", "[4,1]", 0, 16) "," T1("weight_hh_l0", "F32", "[4,1]", 16, 32)
         "," T1("bias_ih_l0", "F32", "[4]", 32, 48) "}", 48, "bias_hh_l0' is missing"},
        {"{" T1("weight_ih_l0", "F32", "[4,1]", 0, 16) "}", 16, "weight_hh_l0' is missing"},
        {"{" T1("weight_ih_l0", "F32", "[4,1]", 0, 16) "," T1("weight_hh_l0", "F32", "[4,1]", 16, 32)
         "," T1("weight_ih_l1", "F32", "[4,1]", 32, 48) "}", 48, "weight_hh_l1' is missing"},
        {"{" T1("weight_ih_l0", "F32", "[4,1]", 0, 16) "," T1("weight_hh_l0", "F32", "[4,1]", 16, 32)
         "," T1("weight_ih_l1", "F32", "[4,2]", 32, 64) "," T1("weight_hh_l1", "F32", "[4,1]", 64, 80)
         "}", 80, "weight_ih_l1' must be (4, 1)"},
        {"{" T1("weight_ih_l0", "F32", "[4,1]", 0, 16) "," T1("weight_hh_l0", "F32", "[4,2]", 16, 48)
         "}", 48, "weight_hh_l0' must be (4H, H)"},
        {"{" T1("weight_ih_l0", "F32", "[4,1]", 0, 16) "," T1("weight_hh_l0", "F32", "[4,1]", 16, 32)
         "," T1("weight_hr_l0", "F32", "[1,1]", 32, 36) "}", 36, "projections"},
        {"{" T1("weight_ih_l0", "I64", "[4,1]", 0, 32) "," T1("weight_hh_l0", "F32", "[4,1]", 32, 48)
         "}", 48, "is I64"},
        {"{" T1("weight_ih_l0", "F33", "[4,1]", 0, 16) "}", 16, "unknown dtype"},
        {"{" T1("weight_ih_l0", "F32", "[4,1]", 0, 16) "," T1("weight_hh_l0", "F32", "[4,1]", 16, 32)
         "," T1("weight_ih_l64", "F32", "[4,1]", 32, 48) "}", 48, "at most 64 layers"},
        {"{" T1("a.weight_ih_l0", "F32", "[4,1]", 0, 16) "," T1("a.weight_hh_l0", "F32", "[4,1]", 16, 32)
         "," T1("b.weight_ih_l0", "F32", "[4,1]", 32, 48) "}", 48, "two LSTMs"},
        {"{" T1("weight_ih_l0", "F32", "[4,1]", 0, 16) "," T1("weight_hh_l0", "F32", "[4,1]", 8, 24)
         "}", 24, "no gaps or overlaps"},
        {"{" T1("weight_ih_l0", "F32", "[4,1]", 0, 16) "," T1("weight_hh_l0", "F32", "[4,1]", 20, 36)
         "}", 36, "no gaps or overlaps"},
        {"{" T1("weight_ih_l0", "F32", "[4,1]", 0, 16) "," T1("weight_hh_l0", "F32", "[4,1]", 16, 32)
         "}", 40, "8 bytes of data follow"},
        {"{" T1("weight_ih_l0", "F32", "[4,1]", 0, 16) "," T1("weight_hh_l0", "F32", "[4,1]", 16, 32)
         "}", 30, "not inside the 30 bytes"},
        {"{" T1("weight_ih_l0", "F32", "[4,1]", 0, 12) "}", 12, "12 bytes of data for a F32 tensor "
                                                               "of 4 elements"},
        {"{" T1("weight_ih_l0", "F32", "[4,1]", 16, 0) "}", 16, "not inside"},
        {"{" T1("weight_ih_l0", "F32", "[4,-1]", 0, 16) "}", 16, "shape[1] is not a size"},
        {"{" T1("weight_ih_l0", "F32", "[4.0,1]", 0, 16) "}", 16, "shape[0] is not a size"},
        {"{" T1("x", "F32", "[4294967296,4294967296,4294967296]", 0, 16) "}", 16, "overflows"},
        {"{\"weight_ih_l0\":{\"dtype\":\"F32\",\"shape\":[4,1]}}", 0, "no data_offsets"},
        {"{\"weight_ih_l0\":{\"shape\":[4,1],\"data_offsets\":[0,16]}}", 16, "no dtype"},
        {"{\"weight_ih_l0\":[1,2]}", 0, "is not an object"},
        {"{" T1("weight_ih_l0", "F32", "[4,1]", 0, 16) "," T1("weight_ih_l0", "F32", "[4,1]", 16, 32)
         "}", 32, "duplicate"},
        {"{\"__metadata__\":{\"format\":1}}", 0, "is not a string"},
        {"{\"__metadata__\":[]}", 0, "__metadata__ is not an object"},
        {"{\"__metadata__\":{\"format\":\"pt\"}}", 0, "no nn.LSTM tensors"},
        {"{\"weight_ih_l0\\u0000x\":{}}", 0, "not valid JSON"},
        {"{\"weight_ih_l0\":", 0, "not valid JSON"},
        {"[1]", 0, "must start with '{'"},
        {"{} {}", 0, "not valid JSON"},
        {"{" T1("weight_ih_l0", "F32", "[4,1]", 0, 16) "," T1("weight_hh_l0", "F32", "[4,1]", 16, 32)
         "," T1("weight_ih_l01", "F32", "[4,1]", 32, 48) "}", 48, NULL}, /* "l01" is not a layer */
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char data[256];
        size_t size;
        unsigned char *p;
        lstmcl_weights *w = (lstmcl_weights *)&w;
        lstmcl_status st;
        memset(data, 0, sizeof data);
        p = image(cases[i].header, data, cases[i].len, &size);
        st = lstmcl_weights_read_safetensors(&w, p, size, NULL);
        if (!cases[i].message_part) {
            ck_assert_msg(st == LSTMCL_SUCCESS, "case %zu: %s", i, lstmcl_weights_last_message());
            lstmcl_weights_destroy(w);
        } else {
            ck_assert_msg(st == LSTMCL_ERROR_INVALID_FILE, "case %zu: status %s", i,
                          lstmcl_status_name(st));
            ck_assert_ptr_null(w);
            ck_assert_msg(strstr(lstmcl_weights_last_message(), cases[i].message_part),
                          "case %zu: message '%s' lacks '%s'", i, lstmcl_weights_last_message(),
                          cases[i].message_part);
        }
        free(p);
    }
}
END_TEST

START_TEST(safetensors_bad_framing)
{
    static const unsigned char nan32[16] = {0, 0, 0x80, 0x3f, 0, 0, 0xc0, 0x7f};
    unsigned char small[8] = {16, 0, 0, 0, 0, 0, 0, 0}, *p;
    lstmcl_weights *w = NULL;
    size_t size, k;
    char path[128];
    ck_assert_int_eq(lstmcl_weights_read_safetensors(&w, small, 7, NULL),
                     LSTMCL_ERROR_INVALID_FILE);
    ck_assert(strstr(lstmcl_weights_last_message(), "too short"));
    ck_assert_int_eq(lstmcl_weights_read_safetensors(&w, small, 8, NULL),
                     LSTMCL_ERROR_INVALID_FILE);
    ck_assert(strstr(lstmcl_weights_last_message(), "runs past the end"));
    p = image("{\"weight_ih_l0\":{\"dtype\":\"F32\",\"shape\":[4,1],\"data_offsets\":[0,16]},"
              "\"weight_hh_l0\":{\"dtype\":\"F32\",\"shape\":[4,1],\"data_offsets\":[16,32]}}",
              nan32, 16, &size);
    p = realloc(p, size + 16);
    memset(p + size, 0, 16);
    ck_assert_int_eq(lstmcl_weights_read_safetensors(&w, p, size + 16, NULL),
                     LSTMCL_ERROR_INVALID_FILE);
    ck_assert_msg(strstr(lstmcl_weights_last_message(), "not finite (element 1)"), "%s",
                  lstmcl_weights_last_message());
    /* every truncation of a good file is refused, none crashes */
    memcpy(p + 8 + (size - 8 - 16), "\0\0\0\0\0\0\0\0", 8);
    ck_assert_int_eq(lstmcl_weights_read_safetensors(&w, p, size + 16, NULL), LSTMCL_SUCCESS);
    lstmcl_weights_destroy(w);
    for (k = 0; k < size + 16; k++) {
        w = (lstmcl_weights *)&w;
        ck_assert_int_ne(lstmcl_weights_read_safetensors(&w, p, k, NULL), LSTMCL_SUCCESS);
        ck_assert_ptr_null(w);
    }
    free(p);
    ck_assert_int_eq(lstmcl_weights_read_safetensors(&w, NULL, 4, NULL),
                     LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(lstmcl_weights_read_safetensors(NULL, small, 8, NULL),
                     LSTMCL_ERROR_INVALID_ARGUMENT);
    snprintf(path, sizeof path, "%s/absent.safetensors", tmpdir);
    ck_assert_int_eq(lstmcl_weights_load_safetensors(&w, path, NULL), LSTMCL_ERROR_IO);
    ck_assert(strstr(lstmcl_weights_last_message(), "absent.safetensors: cannot open"));
    ck_assert_int_eq(lstmcl_weights_load_safetensors(&w, tmpdir, NULL), LSTMCL_ERROR_IO);
    ck_assert(strstr(lstmcl_weights_last_message(), "not a regular file"));
    /* a save that cannot be written leaves no file behind and says why */
    w = make(1, 1, 2, 2);
    snprintf(path, sizeof path, "%s/no-such-dir/model.safetensors", tmpdir);
    ck_assert_int_eq(lstmcl_weights_save_safetensors(w, path, NULL), LSTMCL_ERROR_IO);
    ck_assert(strstr(lstmcl_weights_last_message(), "cannot create"));
    ck_assert_int_eq(lstmcl_weights_save_safetensors(NULL, path, NULL),
                     LSTMCL_ERROR_INVALID_ARGUMENT);
    lstmcl_weights_destroy(w);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("weights");
    TCase *layouts = tcase_create("layouts"), *files = tcase_create("safetensors");
    int rc;
    tcase_add_test(layouts, torch_layout);
    tcase_add_test(layouts, onnx_layout);
    tcase_add_test(layouts, onnx_refusals);
    tcase_add_test(layouts, shapes_and_arguments);
    tcase_add_test(files, safetensors_roundtrip);
    tcase_add_test(files, safetensors_dtypes);
    tcase_add_test(files, safetensors_hostile);
    tcase_add_test(files, safetensors_bad_framing);
    suite_add_tcase(s, layouts);
    suite_add_tcase(s, files);
    if (make_tmpdir() != 0) {
        perror("test-weights: mkdtemp");
        return 1;
    }
    rc = tu_run(s);
    remove_tmpdir();
    return rc;
}
