/* lstmcl against PyTorch's own nn.LSTM: the cases tests/torch_cases.py
 * writes (LSTMCL_TORCH_CASES names their directory; tests/torch-proof.sh
 * makes them), through lstmcl_model_forward and lstmcl_model_backward, and
 * a model exported by torch.onnx.export through lstmcl_weights_set_onnx. */
#define _POSIX_C_SOURCE 200809L
#include "lstmcl_weights.h"
#include "npy.h"
#include "reference.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lstmcl_context *ctx;
static double worst = 0; /* the largest normalised error seen */
static char worst_what[200];

static void setup(void)
{
    ctx = tu_context();
}

static const char *dir_of(const char *name)
{
    static char path[4096];
    const char *root = getenv("LSTMCL_TORCH_CASES");
    ck_assert_msg(root && *root, "LSTMCL_TORCH_CASES is not set (tests/torch-proof.sh sets it)");
    snprintf(path, sizeof path, "%s/%s", root, name);
    return path;
}

static const char *file_in(const char *dir, const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static long meta(const char *dir, const char *key)
{
    FILE *f = fopen(file_in(dir, "meta.txt"), "r");
    char k[64];
    long v, found = -1;
    ck_assert_msg(f != NULL, "no meta.txt in %s", dir);
    while (fscanf(f, "%63s %ld", k, &v) == 2)
        if (!strcmp(k, key))
            found = v;
    fclose(f);
    ck_assert_msg(found >= 0, "%s/meta.txt has no %s", dir, key);
    return found;
}

/* A .npy of `count` elements, as floats or doubles. */
static void *load(const char *dir, const char *name, size_t count, int as_double)
{
    npy_array a;
    char err[300];
    size_t i;
    void *out;
    ck_assert_msg(npy_load(file_in(dir, name), &a, err, sizeof err) == 0, "%s/%s: %s", dir, name,
                  err);
    ck_assert_msg(a.count == count, "%s/%s holds %zu values, not %zu", dir, name, a.count,
                  count);
    out = malloc((count ? count : 1) * (as_double ? sizeof(double) : sizeof(float)));
    ck_assert_ptr_nonnull(out);
    for (i = 0; i < count; i++) {
        if (as_double)
            ((double *)out)[i] = npy_get_double(&a, i);
        else
            ((float *)out)[i] = (float)npy_get_double(&a, i);
    }
    npy_free(&a);
    return out;
}

static int *load_lengths(const char *dir, size_t N)
{
    npy_array a;
    char err[300];
    size_t i;
    int *out = malloc(N * sizeof *out);
    ck_assert_msg(npy_load(file_in(dir, "lengths.npy"), &a, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(a.count, N);
    for (i = 0; i < N; i++)
        out[i] = (int)npy_get_int(&a, i);
    npy_free(&a);
    return out;
}

static void expect(const char *dir, const char *what, const float *got, const double *want,
                   size_t n)
{
    const double err = ref_rel_error(got, want, n);
    if (err > worst) {
        worst = err;
        snprintf(worst_what, sizeof worst_what, "%s in %s", what, dir);
    }
    ck_assert_msg(err <= 1e-5, "%s: %s differs from PyTorch's: normalised error %.3e", dir, what,
                  err);
}

START_TEST(against_torch)
{
    char name[16];
    const char *dir;
    lstmcl_weights *w = NULL, *g = NULL;
    lstmcl_weights_shape shape;
    lstmcl_sequence_options opt;
    lstmcl_cache *cache = NULL;
    size_t L, dirs, N, T, D, H, NT, states, count, gcount;
    int with_len, with_states;
    int *lengths = NULL;
    float *x, *h0 = NULL, *c0 = NULL, *dy, *dhn, *dcn, *y, *hn, *cn, *dx, *dh0, *dc0, *dw;
    double *ry, *rhn, *rcn, *rdx, *rdw;
    const float *gdata;

    snprintf(name, sizeof name, "case%02d", _i);
    dir = strdup(dir_of(name));
    L = (size_t)meta(dir, "layers"), dirs = (size_t)meta(dir, "dirs");
    N = (size_t)meta(dir, "N"), T = (size_t)meta(dir, "T"), D = (size_t)meta(dir, "D");
    H = (size_t)meta(dir, "H"), NT = N * T, states = L * dirs * N * H;
    with_len = (int)meta(dir, "lengths"), with_states = (int)meta(dir, "states");

    ck_assert_msg(lstmcl_weights_load_safetensors(&w, file_in(dir, "model.safetensors"), NULL) ==
                      LSTMCL_SUCCESS,
                  "%s", lstmcl_weights_last_message());
    lstmcl_weights_get_shape(w, &shape);
    ck_assert_uint_eq(shape.layers, L);
    ck_assert_uint_eq(shape.directions, dirs);
    ck_assert_uint_eq(shape.input_size, D);
    ck_assert_uint_eq(shape.hidden_size, H);
    memset(&opt, 0, sizeof opt);
    opt.layout = meta(dir, "batch_first") ? LSTMCL_BATCH_MAJOR : LSTMCL_TIME_MAJOR;
    if (with_len)
        opt.lengths = lengths = load_lengths(dir, N);
    x = load(dir, "x.npy", NT * D, 0);
    if (with_states) {
        h0 = load(dir, "h0.npy", states, 0);
        c0 = load(dir, "c0.npy", states, 0);
    }
    y = tu_nans(NT * dirs * H), hn = tu_nans(states), cn = tu_nans(states);
    ck_assert_msg(lstmcl_model_forward(ctx, w, N, T, &opt, x, h0, c0, y, hn, cn, &cache) ==
                      LSTMCL_SUCCESS,
                  "%s: %s", dir, lstmcl_context_message(ctx));
    ry = load(dir, "y.npy", NT * dirs * H, 1);
    rhn = load(dir, "hn.npy", states, 1), rcn = load(dir, "cn.npy", states, 1);
    expect(dir, "y", y, ry, NT * dirs * H);
    expect(dir, "h_n", hn, rhn, states);
    expect(dir, "c_n", cn, rcn, states);

    dy = load(dir, "dy.npy", NT * dirs * H, 0);
    dhn = load(dir, "dhn.npy", states, 0), dcn = load(dir, "dcn.npy", states, 0);
    lstmcl_weights_data(w, &count);
    dx = tu_nans(NT * D), dh0 = tu_nans(states), dc0 = tu_nans(states), dw = tu_nans(count);
    ck_assert_msg(lstmcl_model_backward(ctx, cache, dy, dhn, dcn, dx, dh0, dc0, dw) ==
                      LSTMCL_SUCCESS,
                  "%s: %s", dir, lstmcl_context_message(ctx));
    rdx = load(dir, "dx.npy", NT * D, 1);
    expect(dir, "dx", dx, rdx, NT * D);
    if (with_states) {
        double *rdh0 = load(dir, "dh0.npy", states, 1), *rdc0 = load(dir, "dc0.npy", states, 1);
        expect(dir, "dh0", dh0, rdh0, states);
        expect(dir, "dc0", dc0, rdc0, states);
        free(rdh0), free(rdc0);
    }
    ck_assert_msg(lstmcl_weights_load_safetensors(&g, file_in(dir, "grads.safetensors"), NULL) ==
                      LSTMCL_SUCCESS,
                  "%s", lstmcl_weights_last_message());
    gdata = lstmcl_weights_data(g, &gcount);
    ck_assert_uint_eq(gcount, count);
    rdw = tu_doubles(gdata, gcount);
    expect(dir, "the weights' gradients", dw, rdw, count);

    lstmcl_cache_destroy(cache);
    lstmcl_weights_destroy(w), lstmcl_weights_destroy(g);
    free(lengths), free(x), free(h0), free(c0), free(dy), free(dhn), free(dcn), free(y);
    free(hn), free(cn), free(dx), free(dh0), free(dc0), free(dw), free(ry), free(rhn);
    free(rcn), free(rdx), free(rdw);
    free((void *)dir);
}
END_TEST

/* A model exported by torch.onnx.export: its LSTM nodes' initializers and
 * attributes into lstmcl_weights_set_onnx, then the forward against torch. */
START_TEST(onnx_export)
{
    const char *dir = strdup(dir_of("onnx"));
    const size_t L = (size_t)meta(dir, "layers"), N = (size_t)meta(dir, "N");
    const size_t T = (size_t)meta(dir, "T"), D = (size_t)meta(dir, "D");
    const size_t H = (size_t)meta(dir, "H");
    lstmcl_weights_shape shape = {L, 2, D, H};
    lstmcl_weights *w = NULL;
    lstmcl_sequence_options opt;
    float *x, *y;
    double *ry;
    size_t l;

    ck_assert_int_eq(lstmcl_weights_create(&w, &shape), LSTMCL_SUCCESS);
    for (l = 0; l < L; l++) {
        const size_t dl = l ? 2 * H : D;
        char name[32], key[64], val[64], direction[64] = "";
        long hidden = 0;
        FILE *f;
        lstmcl_onnx_lstm node;
        float *W, *R, *B;
        snprintf(name, sizeof name, "layer%zu.txt", l);
        f = fopen(file_in(dir, name), "r");
        ck_assert_ptr_nonnull(f);
        while (fscanf(f, "%63s %63s", key, val) == 2) {
            if (!strcmp(key, "direction"))
                strcpy(direction, val);
            else if (!strcmp(key, "hidden_size"))
                hidden = atol(val);
            else
                ck_abort_msg("%s: the exported node has attribute %s", dir, key);
        }
        fclose(f);
        snprintf(name, sizeof name, "layer%zu_W.npy", l), W = load(dir, name, 2 * 4 * H * dl, 0);
        snprintf(name, sizeof name, "layer%zu_R.npy", l), R = load(dir, name, 2 * 4 * H * H, 0);
        snprintf(name, sizeof name, "layer%zu_B.npy", l), B = load(dir, name, 2 * 8 * H, 0);
        memset(&node, 0, sizeof node);
        node.direction = direction;
        node.hidden_size = (size_t)hidden;
        node.W = W, node.R = R, node.B = B;
        node.W_dims[0] = 2, node.W_dims[1] = 4 * H, node.W_dims[2] = dl;
        node.R_dims[0] = 2, node.R_dims[1] = 4 * H, node.R_dims[2] = H;
        node.B_dims[0] = 2, node.B_dims[1] = 8 * H;
        ck_assert_msg(lstmcl_weights_set_onnx(w, l, &node) == LSTMCL_SUCCESS, "%s",
                      lstmcl_weights_last_message());
        free(W), free(R), free(B);
    }
    memset(&opt, 0, sizeof opt);
    opt.layout = LSTMCL_TIME_MAJOR;
    x = load(dir, "x.npy", T * N * D, 0);
    y = tu_nans(T * N * 2 * H);
    ck_assert_msg(lstmcl_model_forward(ctx, w, N, T, &opt, x, NULL, NULL, y, NULL, NULL, NULL) ==
                      LSTMCL_SUCCESS,
                  "%s", lstmcl_context_message(ctx));
    ry = load(dir, "y.npy", T * N * 2 * H, 1);
    expect(dir, "y (ONNX initializers)", y, ry, T * N * 2 * H);
    lstmcl_weights_destroy(w);
    free(x), free(y), free(ry);
    free((void *)dir);
}
END_TEST

static void report(void)
{
    printf("largest normalised error against PyTorch: %.3e (%s)\n", worst, worst_what);
}

int main(void)
{
    Suite *s = suite_create("torch");
    TCase *tc = tcase_create("torch");
    int rc;
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 0);
    tcase_add_loop_test(tc, against_torch, 0, 12);
    tcase_add_test(tc, onnx_export);
    suite_add_tcase(s, tc);
    rc = tu_run(s);
    report();
    return rc;
}
