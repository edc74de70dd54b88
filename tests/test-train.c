/* Training building blocks: stacked layers against the reference composed
 * layer by layer, embedding, linear, softmax cross-entropy (against finite
 * differences), sums of squares and Adam (against a hand-computed step). */
#include "lstmcl_train.h"
#include "reference.h"
#include "testutil.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static lstmcl_context *ctx;
static cl_command_queue q;

static void setup(void)
{
    ctx = tu_context();
    q = lstmcl_context_queue(ctx);
}

static lstmcl_tensor dev(const void *src, size_t bytes)
{
    lstmcl_tensor t;
    cl_int err;
    float *nan = NULL;
    if (!src) {
        nan = tu_nans(bytes / 4);
        src = nan;
    }
    t.mem = clCreateBuffer(lstmcl_context_cl_context(ctx), CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                           bytes, (void *)src, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    t.offset = 0;
    free(nan);
    return t;
}

static lstmcl_tensor none(void)
{
    lstmcl_tensor t = {NULL, 0};
    return t;
}

static float *get(lstmcl_tensor t, size_t n)
{
    float *p = tu_nans(n);
    ck_assert_int_eq(clEnqueueReadBuffer(q, t.mem, CL_TRUE, t.offset * 4, n * 4, p, 0, NULL, NULL),
                     CL_SUCCESS);
    return p;
}

static void drop(lstmcl_tensor t)
{
    if (t.mem)
        clReleaseMemObject(t.mem);
}

static void close_to(const char *what, const float *got, const double *want, size_t n,
                     double bound)
{
    double e = ref_rel_error(got, want, n);
    ck_assert_msg(e <= bound, "%s: normalised error %.3e > %.0e (seed %llu)", what, e, bound,
                  tu_seed());
}

/* ------------------------------------------------------------- stacks */

/* lstmcl_stack_set_dropout's generator, written from its documentation in
 * lstmcl_train.h: 1 if element i of layer l's output is kept. */
static uint32_t hash32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

static int kept(unsigned long long seed, unsigned long long counter, size_t l, size_t i,
                float p)
{
    uint32_t a = hash32((uint32_t)seed ^ hash32((uint32_t)(seed >> 32) ^ 0x68e31da4u));
    uint32_t b = hash32((uint32_t)counter ^ hash32((uint32_t)(counter >> 32) ^ a));
    uint32_t k0 = hash32(b ^ (uint32_t)l), k1 = hash32(k0 ^ 0x9e3779b9u);
    return (hash32(hash32((uint32_t)i ^ k0) ^ k1) >> 8) >= (uint32_t)(p * 16777216.0 + 0.5);
}

/* A training forward and backward of an L-layer stack, with dropout p
 * between layers (0: none), against the reference composed layer by layer
 * with the documented masks applied between layers. */
static void stack_case(size_t L, size_t N, size_t T, size_t D, size_t H, float p)
{
    const size_t nh = N * H, nth = N * T * H;
    const unsigned long long seed = tu_seed() * 7919 + 1, counter = tu_seed() % 1000 + 3;
    lstmcl_stack *s = NULL;
    size_t P, l, i;
    float *params, *x = tu_floats(N * T * D, 1), *h0 = tu_floats(L * nh, 1);
    float *c0 = tu_floats(L * nh, 1), *dh = tu_floats(nth, 1), *got;
    lstmcl_tensor tx, tp, th0, tc0, thT, tcT, th, tdh, tdx, tdp;
    double *xs[65], *grad, *dparams;
    ref_cache rc[64];

    ck_assert_int_eq(lstmcl_stack_create(&s, ctx, L, N, T, D, H), LSTMCL_SUCCESS);
    if (p > 0)
        ck_assert_int_eq(lstmcl_stack_set_dropout(s, p, seed, counter), LSTMCL_SUCCESS);
    P = lstmcl_stack_param_count(s);
    ck_assert_uint_eq(P, (D + H + 1) * 4 * H + (L - 1) * (2 * H + 1) * 4 * H);
    params = tu_floats(P, 0.6);
    tx = dev(x, N * T * D * 4), tp = dev(params, P * 4), th0 = dev(h0, L * nh * 4);
    tc0 = dev(c0, L * nh * 4), thT = dev(NULL, L * nh * 4), tcT = dev(NULL, L * nh * 4);
    th = dev(NULL, nth * 4), tdh = dev(dh, nth * 4), tdx = dev(NULL, N * T * D * 4);
    tdp = dev(NULL, P * 4);
    ck_assert_int_eq(lstmcl_stack_forward(s, tx, tp, th0, tc0, thT, tcT, th, 1), LSTMCL_SUCCESS);
    ck_assert_int_eq(lstmcl_stack_backward(s, tx, tp, tc0, tdh, tdx, tdp, 0), LSTMCL_SUCCESS);

    /* the reference, layer by layer; xs[l+1] is what layer l+1 reads */
    xs[0] = tu_doubles(x, N * T * D);
    dparams = tu_dalloc(P);
    for (l = 0; l < L; l++) {
        const size_t din = l ? H : D, off = lstmcl_stack_layer_offset(s, l);
        double *Wx = tu_doubles(params + off, din * 4 * H);
        double *Wh = tu_doubles(params + off + din * 4 * H, H * 4 * H);
        double *b = tu_doubles(params + off + (din + H) * 4 * H, 4 * H);
        double *dh0_ = tu_doubles(h0 + l * nh, nh), *dc0_ = tu_doubles(c0 + l * nh, nh);
        ck_assert_int_eq(ref_forward(N, T, din, H, xs[l], dh0_, dc0_, Wx, Wh, b, &rc[l]), 0);
        xs[l + 1] = rc[l].h;
        if (p > 0 && l + 1 < L) {
            xs[l + 1] = tu_dalloc(nth);
            for (i = 0; i < nth; i++)
                xs[l + 1][i] = kept(seed, counter, l, i, p) ? rc[l].h[i] / (1.0 - p) : 0.0;
        }
        free(Wx), free(Wh), free(b), free(dh0_), free(dc0_);
    }
    got = get(th, nth), close_to("top h", got, rc[L - 1].h, nth, 1e-5), free(got);
    got = get(thT, L * nh);
    for (l = 0; l < L; l++) { /* the carried state is the layer's own, before dropout */
        double *want = tu_dalloc(nh);
        size_t n;
        for (n = 0; n < N; n++)
            memcpy(want + n * H, rc[l].h + (n * T + T - 1) * H, H * sizeof(double));
        close_to("hT", got + l * nh, want, nh, 1e-5);
        free(want);
    }
    free(got);
    grad = tu_doubles(dh, nth);
    for (l = L; l-- > 0;) {
        const size_t din = l ? H : D, off = lstmcl_stack_layer_offset(s, l);
        double *Wx = tu_doubles(params + off, din * 4 * H);
        double *Wh = tu_doubles(params + off + din * 4 * H, H * 4 * H);
        double *h0_ = tu_doubles(h0 + l * nh, nh), *c0_ = tu_doubles(c0 + l * nh, nh);
        double *dx = tu_dalloc(N * T * din), *dh0 = tu_dalloc(nh);
        ck_assert_int_eq(ref_backward(&rc[l], xs[l], h0_, c0_, Wx, Wh, grad, NULL, dx, dh0, NULL,
                                      dparams + off, dparams + off + din * 4 * H,
                                      dparams + off + (din + H) * 4 * H),
                         0);
        if (p > 0 && l > 0)
            for (i = 0; i < nth; i++)
                dx[i] = kept(seed, counter, l - 1, i, p) ? dx[i] / (1.0 - p) : 0.0;
        free(grad);
        grad = dx;
        free(Wx), free(Wh), free(h0_), free(c0_), free(dh0);
    }
    got = get(tdx, N * T * D), close_to("dx", got, grad, N * T * D, 1e-4), free(got);
    got = get(tdp, P), close_to("dparams", got, dparams, P, 1e-4), free(got);

    /* accumulate adds */
    ck_assert_int_eq(lstmcl_stack_backward(s, tx, tp, tc0, tdh, none(), tdp, 1), LSTMCL_SUCCESS);
    for (i = 0; i < P; i++)
        dparams[i] *= 2;
    got = get(tdp, P), close_to("dparams accumulated", got, dparams, P, 1e-4), free(got);

    if (p > 0) {
        /* an inference forward never drops */
        ck_assert_int_eq(lstmcl_stack_forward(s, tx, tp, th0, tc0, thT, tcT, th, 0),
                         LSTMCL_SUCCESS);
        got = get(th, nth);
        if (L > 1) { /* the reference's top layer without the masks */
            ref_cache plain[64];
            double *in = tu_doubles(x, N * T * D);
            for (l = 0; l < L; l++) {
                const size_t din = l ? H : D, off = lstmcl_stack_layer_offset(s, l);
                double *Wx = tu_doubles(params + off, din * 4 * H);
                double *Wh = tu_doubles(params + off + din * 4 * H, H * 4 * H);
                double *b = tu_doubles(params + off + (din + H) * 4 * H, 4 * H);
                double *h0_ = tu_doubles(h0 + l * nh, nh), *c0_ = tu_doubles(c0 + l * nh, nh);
                ck_assert_int_eq(ref_forward(N, T, din, H, l ? plain[l - 1].h : in, h0_, c0_, Wx,
                                             Wh, b, &plain[l]),
                                 0);
                free(Wx), free(Wh), free(b), free(h0_), free(c0_);
            }
            close_to("inference h", got, plain[L - 1].h, nth, 1e-5);
            for (l = 0; l < L; l++)
                ref_cache_free(&plain[l]);
            free(in);
        }
        free(got);
    }

    for (l = 0; l < L; l++) {
        if (xs[l + 1] != rc[l].h)
            free(xs[l + 1]);
        ref_cache_free(&rc[l]);
    }
    free(xs[0]), free(grad), free(dparams), free(params), free(x), free(h0), free(c0), free(dh);
    drop(tx), drop(tp), drop(th0), drop(tc0), drop(thT), drop(tcT), drop(th), drop(tdh);
    drop(tdx), drop(tdp);
    lstmcl_stack_destroy(s);
}

START_TEST(stack_against_reference)
{
    stack_case(1 + (size_t)_i % 3, tu_range(1, 4), tu_range(1, 7), tu_range(1, 12),
               tu_range(1, 12), 0.0f);
}
END_TEST

/* Dropout between layers: 2 or 3 layers, p of 0.25 or 0.5, awkward sizes. */
START_TEST(stack_dropout)
{
    static const float ps[] = {0.25f, 0.5f};
    stack_case(2 + (size_t)_i % 2, tu_range(1, 5), tu_range(1, 7), tu_range(1, 12),
               tu_range(1, 13), ps[(_i / 2) % 2]);
}
END_TEST

/* The generator drops a share p of elements (over 3 layers and 20
 * counters); the same settings give the same bits, another counter
 * another mask; p outside [0, 1) is refused. */
START_TEST(dropout_masks)
{
    const size_t L = 2, N = 3, T = 50, D = 4, H = 70, nth = N * T * H;
    const float p = 0.3f;
    lstmcl_stack *s = NULL;
    size_t P, i, dropped = 0, l;
    unsigned long long c;
    float *params, *x = tu_floats(N * T * D, 1), *a, *b, *d;
    lstmcl_tensor tx, tp, th;

    for (l = 0; l < 3; l++)
        for (c = 0; c < 20; c++)
            for (i = 0; i < 10000; i++)
                dropped += !kept(12345, c, l, i, p);
    ck_assert_msg(fabs((double)dropped / 600000.0 - p) < 0.003, "dropped share %.4f for p %.2f",
                  (double)dropped / 600000.0, (double)p);

    ck_assert_int_eq(lstmcl_stack_create(&s, ctx, L, N, T, D, H), LSTMCL_SUCCESS);
    P = lstmcl_stack_param_count(s);
    params = tu_floats(P, 0.6);
    tx = dev(x, N * T * D * 4), tp = dev(params, P * 4), th = dev(NULL, nth * 4);
    ck_assert_int_eq(lstmcl_stack_set_dropout(s, p, 99, 7), LSTMCL_SUCCESS);
    ck_assert_int_eq(lstmcl_stack_forward(s, tx, tp, none(), none(), none(), none(), th, 1),
                     LSTMCL_SUCCESS);
    a = get(th, nth);
    ck_assert_int_eq(lstmcl_stack_forward(s, tx, tp, none(), none(), none(), none(), th, 1),
                     LSTMCL_SUCCESS);
    b = get(th, nth);
    ck_assert_msg(memcmp(a, b, nth * 4) == 0, "the same dropout settings gave other bits");
    ck_assert_int_eq(lstmcl_stack_set_dropout(s, p, 99, 8), LSTMCL_SUCCESS);
    ck_assert_int_eq(lstmcl_stack_forward(s, tx, tp, none(), none(), none(), none(), th, 1),
                     LSTMCL_SUCCESS);
    d = get(th, nth);
    ck_assert_msg(memcmp(a, d, nth * 4) != 0, "another counter gave the same mask");

    ck_assert_int_eq(lstmcl_stack_set_dropout(s, 1.0f, 1, 1), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_message(ctx), "[0, 1)"));
    ck_assert_int_eq(lstmcl_stack_set_dropout(s, -0.1f, 1, 1), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(lstmcl_stack_set_dropout(s, NAN, 1, 1), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(lstmcl_stack_set_dropout(NULL, 0.5f, 1, 1), LSTMCL_ERROR_INVALID_ARGUMENT);
    free(params), free(x), free(a), free(b), free(d);
    drop(tx), drop(tp), drop(th);
    lstmcl_stack_destroy(s);
}
END_TEST

/* Rows r0..r0+n-1 of a (N,T,W) batch-major or (T,N,W) time-major array. */
static float *rows_of(const float *a, int time_major, size_t N, size_t T, size_t W, size_t r0,
                      size_t n)
{
    float *out = malloc(n * T * W * sizeof *out);
    size_t i, t;
    ck_assert_ptr_nonnull(out);
    for (i = 0; i < n; i++)
        for (t = 0; t < T; t++)
            memcpy(out + (time_major ? (t * n + i) : (i * T + t)) * W,
                   a + (time_major ? (t * N + r0 + i) : ((r0 + i) * T + t)) * W,
                   W * sizeof *out);
    return out;
}

/* A batch split in two stacks (lstmcl_stack_set_dropout_rows) drops as the
 * whole batch does: each part's h equals its rows of the whole's h, and the
 * parts' weight gradients add up to the whole's, in both layouts, with
 * one and two directions.  A mask drawn for other rows would differ in
 * about half the elements. */
START_TEST(dropout_split_rows)
{
    const int tm = _i % 2;
    const size_t dirs = 1 + (size_t)(_i / 2) % 2, L = 3, N = tu_range(2, 6), T = tu_range(1, 6);
    const size_t D = tu_range(1, 9), H = tu_range(1, 11), W = dirs * H, cut = tu_range(1, N - 1);
    const size_t first[2] = {0, cut}, count[2] = {cut, N - cut};
    lstmcl_stack_desc desc;
    lstmcl_stack *whole = NULL, *part = NULL;
    size_t P, k, i;
    float *params, *x = tu_floats(N * T * D, 1), *dh = tu_floats(N * T * W, 1), *h, *dp;
    double *dsum;
    lstmcl_tensor tx, tp, th, tdh, tdp;

    memset(&desc, 0, sizeof desc);
    desc.layers = L, desc.directions = dirs, desc.N = N, desc.T = T, desc.D = D, desc.H = H;
    desc.layout = tm ? LSTMCL_TIME_MAJOR : LSTMCL_BATCH_MAJOR;
    ck_assert_int_eq(lstmcl_stack_create_ex(&whole, ctx, &desc), LSTMCL_SUCCESS);
    ck_assert_int_eq(lstmcl_stack_set_dropout(whole, 0.5f, 77, 5), LSTMCL_SUCCESS);
    P = lstmcl_stack_param_count(whole);
    params = tu_floats(P, 0.6);
    tx = dev(x, N * T * D * 4), tp = dev(params, P * 4), th = dev(NULL, N * T * W * 4);
    tdh = dev(dh, N * T * W * 4), tdp = dev(NULL, P * 4);
    ck_assert_int_eq(lstmcl_stack_forward(whole, tx, tp, none(), none(), none(), none(), th, 1),
                     LSTMCL_SUCCESS);
    ck_assert_int_eq(lstmcl_stack_backward(whole, tx, tp, none(), tdh, none(), tdp, 0),
                     LSTMCL_SUCCESS);
    h = get(th, N * T * W), dp = get(tdp, P);
    drop(tx), drop(th), drop(tdh);
    dsum = tu_dalloc(P);
    for (k = 0; k < 2; k++) {
        const size_t n = count[k];
        float *xk = rows_of(x, tm, N, T, D, first[k], n), *dhk = rows_of(dh, tm, N, T, W,
                                                                            first[k], n);
        float *want = rows_of(h, tm, N, T, W, first[k], n), *got, *g;
        double *w = tu_doubles(want, n * T * W);
        desc.N = n;
        ck_assert_int_eq(lstmcl_stack_create_ex(&part, ctx, &desc), LSTMCL_SUCCESS);
        ck_assert_int_eq(lstmcl_stack_set_dropout(part, 0.5f, 77, 5), LSTMCL_SUCCESS);
        ck_assert_int_eq(lstmcl_stack_set_dropout_rows(part, first[k], N), LSTMCL_SUCCESS);
        tx = dev(xk, n * T * D * 4), th = dev(NULL, n * T * W * 4), tdh = dev(dhk, n * T * W * 4);
        ck_assert_int_eq(lstmcl_stack_forward(part, tx, tp, none(), none(), none(), none(), th, 1),
                         LSTMCL_SUCCESS);
        ck_assert_int_eq(lstmcl_stack_backward(part, tx, tp, none(), tdh, none(), tdp, 0),
                         LSTMCL_SUCCESS);
        got = get(th, n * T * W);
        close_to("part's h", got, w, n * T * W, 1e-5);
        g = get(tdp, P);
        for (i = 0; i < P; i++)
            dsum[i] += g[i];
        free(xk), free(dhk), free(want), free(got), free(g), free(w);
        drop(tx), drop(th), drop(tdh);
        lstmcl_stack_destroy(part);
        part = NULL;
    }
    {
        double *d = tu_doubles(dp, P);
        float *fs = malloc(P * sizeof *fs);
        ck_assert_ptr_nonnull(fs);
        for (i = 0; i < P; i++)
            fs[i] = (float)dsum[i];
        close_to("parts' dparams summed", fs, d, P, 1e-5);
        free(d), free(fs);
    }
    /* rows outside the batch, and a batch too large to index, are refused */
    ck_assert_int_eq(lstmcl_stack_set_dropout_rows(whole, 1, N), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_message(ctx), "not in a batch"));
    ck_assert_int_eq(lstmcl_stack_set_dropout_rows(whole, 0, N - 1),
                     LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(lstmcl_stack_set_dropout_rows(whole, 0, (size_t)1 << 40),
                     LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(lstmcl_stack_set_dropout_rows(NULL, 0, 1), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(lstmcl_stack_set_dropout_rows(whole, 0, N), LSTMCL_SUCCESS);
    free(params), free(x), free(dh), free(h), free(dp), free(dsum);
    drop(tp), drop(tdp);
    lstmcl_stack_destroy(whole);
}
END_TEST

START_TEST(stack_errors)
{
    lstmcl_stack *s = NULL;
    lstmcl_tensor t = dev(NULL, 4096);
    ck_assert_int_eq(lstmcl_stack_create(&s, ctx, 0, 1, 1, 1, 1), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_message(ctx), "layers"));
    ck_assert_int_eq(lstmcl_stack_create(&s, ctx, 2, 1, 0, 1, 1), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(lstmcl_stack_create(&s, ctx, 2, 2, 3, 4, 5), LSTMCL_SUCCESS);
    ck_assert_int_eq(lstmcl_stack_backward(s, t, t, none(), t, none(), t, 0),
                     LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_message(ctx), "training forward"));
    ck_assert_int_eq(lstmcl_stack_forward(s, t, none(), none(), none(), none(), none(), t, 1),
                     LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_message(ctx), "params"));
    lstmcl_stack_destroy(s);
    lstmcl_stack_destroy(NULL);
    drop(t);
}
END_TEST

/* ---------------------------------------------------------- embedding */

static void embedding_case(size_t n, size_t D, size_t V)
{
    cl_int *tokens = malloc(n * sizeof *tokens);
    float *table = tu_floats(V * D, 1), *dout = tu_floats(n * D, 1), *got;
    double *want = tu_dalloc(n * D), *dtab = tu_dalloc(V * D);
    lstmcl_tensor tt, ttab, tout, tdout, tdtab;
    size_t i, d;
    ck_assert_ptr_nonnull(tokens);
    for (i = 0; i < n; i++)
        tokens[i] = i == 5 ? -1 : i == 9 ? (cl_int)V : (cl_int)tu_range(0, V - 1);
    for (i = 0; i < n; i++)
        for (d = 0; d < D; d++) {
            int v = tokens[i];
            int ok = v >= 0 && v < (int)V;
            want[i * D + d] = ok ? table[v * D + d] : 0.0;
            if (ok)
                dtab[v * D + d] += dout[i * D + d];
        }
    tt = dev(tokens, n * sizeof *tokens), ttab = dev(table, V * D * 4), tout = dev(NULL, n * D * 4);
    tdout = dev(dout, n * D * 4), tdtab = dev(NULL, V * D * 4);
    ck_assert_int_eq(lstmcl_embedding_forward(ctx, n, D, V, tt, ttab, tout), LSTMCL_SUCCESS);
    got = get(tout, n * D);
    close_to("embedding forward (ids out of range give zeros)", got, want, n * D, 0);
    free(got);
    ck_assert_int_eq(lstmcl_embedding_backward(ctx, n, D, V, tt, tdout, tdtab, 0),
                     LSTMCL_SUCCESS);
    got = get(tdtab, V * D);
    /* L = Σ dout ⊙ embed(table) is linear in table: its finite differences are dtab */
    close_to("embedding backward", got, dtab, V * D, 1e-6);
    free(got);
    ck_assert_int_eq(lstmcl_embedding_backward(ctx, n, D, V, tt, tdout, tdtab, 1),
                     LSTMCL_SUCCESS);
    for (i = 0; i < V * D; i++)
        dtab[i] *= 2;
    got = get(tdtab, V * D), close_to("embedding backward, accumulated", got, dtab, V * D, 1e-6);
    free(got);
    /* the same sums in the same order every time */
    {
        float *once, *twice;
        ck_assert_int_eq(lstmcl_embedding_backward(ctx, n, D, V, tt, tdout, tdtab, 0),
                         LSTMCL_SUCCESS);
        once = get(tdtab, V * D);
        ck_assert_int_eq(lstmcl_embedding_backward(ctx, n, D, V, tt, tdout, tdtab, 0),
                         LSTMCL_SUCCESS);
        twice = get(tdtab, V * D);
        ck_assert(memcmp(once, twice, V * D * sizeof *once) == 0);
        free(once), free(twice);
    }
    ck_assert_int_eq(lstmcl_embedding_forward(ctx, 0, D, V, tt, ttab, tout),
                     LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(lstmcl_embedding_forward(ctx, n, D, V, none(), ttab, tout),
                     LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_message(ctx), "tokens"));
    free(table), free(dout), free(want), free(dtab), free(tokens);
    drop(tt), drop(ttab), drop(tout), drop(tdout), drop(tdtab);
}

START_TEST(embedding)
{
    embedding_case(37, 5, 7);
}
END_TEST


/* ------------------------------------------------------------- linear */

static void linear_case(size_t R, size_t I, size_t O)
{
    float *x = tu_floats(R * I, 1), *W = tu_floats(I * O, 1), *b = tu_floats(O, 1);
    float *dy = tu_floats(R * O, 1), *got;
    double *y = tu_dalloc(R * O), *dx = tu_dalloc(R * I), *dW = tu_dalloc(I * O);
    double *db = tu_dalloc(O);
    lstmcl_tensor tx = dev(x, R * I * 4), tW = dev(W, I * O * 4), tb = dev(b, O * 4);
    lstmcl_tensor ty = dev(NULL, R * O * 4), tdy = dev(dy, R * O * 4), tdx = dev(NULL, R * I * 4);
    lstmcl_tensor tdW = dev(NULL, I * O * 4), tdb = dev(NULL, O * 4);
    size_t r, i, o;
    for (r = 0; r < R; r++)
        for (o = 0; o < O; o++) {
            y[r * O + o] = b[o];
            db[o] += dy[r * O + o];
            for (i = 0; i < I; i++) {
                y[r * O + o] += (double)x[r * I + i] * W[i * O + o];
                dx[r * I + i] += (double)dy[r * O + o] * W[i * O + o];
                dW[i * O + o] += (double)x[r * I + i] * dy[r * O + o];
            }
        }
    ck_assert_int_eq(lstmcl_linear_forward(ctx, R, I, O, tx, tW, tb, ty), LSTMCL_SUCCESS);
    ck_assert_int_eq(lstmcl_linear_backward(ctx, R, I, O, tx, tW, tdy, tdx, tdW, tdb, 0),
                     LSTMCL_SUCCESS);
    got = get(ty, R * O), close_to("linear y", got, y, R * O, 1e-5), free(got);
    got = get(tdx, R * I), close_to("linear dx", got, dx, R * I, 1e-5), free(got);
    /* dW and db sum over all R rows (70,001 in many_rows) in float32: the
     * gradients' bound, as everywhere (README, "Guarantees") */
    got = get(tdW, I * O), close_to("linear dW", got, dW, I * O, 1e-4), free(got);
    got = get(tdb, O), close_to("linear db", got, db, O, 1e-4), free(got);
    free(x), free(W), free(b), free(dy), free(y), free(dx), free(dW), free(db);
    drop(tx), drop(tW), drop(tb), drop(ty), drop(tdy), drop(tdx), drop(tdW), drop(tdb);
}

START_TEST(linear)
{
    linear_case(tu_range(1, 9), tu_range(1, 9), tu_range(1, 9));
}
END_TEST

/* ---------------------------------------------------------------- loss */

static double xent(const double *z, size_t V, int t)
{
    double mx = z[0], s = 0;
    size_t k;
    for (k = 1; k < V; k++)
        mx = z[k] > mx ? z[k] : mx;
    for (k = 0; k < V; k++)
        s += exp(z[k] - mx);
    return mx + log(s) - z[t];
}

START_TEST(softmax_cross_entropy)
{
    const size_t R = 6, V = 11;
    const float scale = 0.25f;
    float *z = tu_floats(R * V, 4), *got;
    cl_int t[6];
    double *zd = tu_doubles(z, R * V), *loss = tu_dalloc(R), *fd = tu_dalloc(R * V);
    lstmcl_tensor tz, tt, tl, tdz;
    size_t r, k;
    for (r = 0; r < R; r++)
        t[r] = r == 3 ? -1 : (cl_int)tu_range(0, V - 1); /* row 3: padding */
    for (r = 0; r < R; r++) {
        if (t[r] < 0)
            continue;
        loss[r] = xent(zd + r * V, V, t[r]);
        for (k = 0; k < V; k++) { /* central differences of scale·loss */
            const double eps = 1e-6, keep = zd[r * V + k];
            double lp, lm;
            zd[r * V + k] = keep + eps, lp = xent(zd + r * V, V, t[r]);
            zd[r * V + k] = keep - eps, lm = xent(zd + r * V, V, t[r]);
            zd[r * V + k] = keep;
            fd[r * V + k] = scale * (lp - lm) / (2 * eps);
        }
    }
    tz = dev(z, R * V * 4), tt = dev(t, sizeof t), tl = dev(NULL, R * 4), tdz = dev(NULL, R * V * 4);
    ck_assert_int_eq(lstmcl_softmax_cross_entropy(ctx, R, V, tz, tt, tl, tdz, scale),
                     LSTMCL_SUCCESS);
    got = get(tl, R), close_to("loss", got, loss, R, 1e-5), free(got);
    got = get(tdz, R * V), close_to("dlogits vs finite differences", got, fd, R * V, 1e-5);
    free(got);
    free(z), free(zd), free(loss), free(fd);
    drop(tz), drop(tt), drop(tl), drop(tdz);
}
END_TEST

/* -------------------------------------------------------- optimisation */

START_TEST(sum_squares)
{
    const size_t n = tu_range(1, 5000);
    float *x = tu_floats(n, 3);
    lstmcl_tensor tx = dev(x, n * 4);
    double want = 0, got = -1, again = -2;
    size_t i;
    for (i = 0; i < n; i++)
        want += (double)x[i] * x[i];
    ck_assert_int_eq(lstmcl_sum_squares(ctx, n, tx, &got), LSTMCL_SUCCESS);
    ck_assert_msg(fabs(got - want) <= 1e-5 * want, "%g vs %g", got, want);
    ck_assert_int_eq(lstmcl_sum_squares(ctx, n, tx, &again), LSTMCL_SUCCESS);
    ck_assert(got == again); /* the same order every time */
    ck_assert_int_eq(lstmcl_sum_squares(ctx, n, tx, NULL), LSTMCL_ERROR_INVALID_ARGUMENT);
    free(x);
    drop(tx);
}
END_TEST

/* The clipping scale and the norm on the device, and Adam taking the scale
 * from there: the same bits as Adam given the scale as a number. */
START_TEST(clip_scale)
{
    const size_t n = tu_range(1, 5000);
    float *g = tu_floats(n, 1), *p0 = tu_floats(n, 1), *zeros = calloc(n, sizeof(float));
    lstmcl_tensor tg = dev(g, n * 4), out = dev(NULL, 2 * 4), small = dev(NULL, 4);
    lstmcl_adam_settings s;
    double norm = 0;
    size_t i;
    int c;

    ck_assert_ptr_nonnull(zeros);
    for (i = 0; i < n; i++)
        norm += (double)g[i] * g[i];
    norm = sqrt(norm);
    lstmcl_adam_default_settings(&s);
    for (c = 0; c < 3; c++) {
        const float max_norm = c == 0 ? 0.0f : c == 1 ? (float)(2 * norm) : (float)(norm / 3);
        const double want = c == 2 ? max_norm / norm : 1.0;
        lstmcl_tensor p1 = dev(p0, n * 4), m1 = dev(zeros, n * 4), v1 = dev(zeros, n * 4);
        lstmcl_tensor p2 = dev(p0, n * 4), m2 = dev(zeros, n * 4), v2 = dev(zeros, n * 4);
        float *r, *a, *b;
        ck_assert_int_eq(lstmcl_clip_scale(ctx, n, tg, max_norm, out), LSTMCL_SUCCESS);
        r = get(out, 2);
        ck_assert_msg(fabs(r[0] - want) <= 1e-5 * want, "scale %g, want %g", r[0], want);
        ck_assert_msg(fabs(r[1] - norm) <= 1e-5 * norm, "norm %g, want %g", r[1], norm);
        ck_assert_int_eq(lstmcl_adam_step_scaled(ctx, n, p1, tg, m1, v1, &s, 1, out),
                         LSTMCL_SUCCESS);
        ck_assert_int_eq(lstmcl_adam_step(ctx, n, p2, tg, m2, v2, &s, 1, r[0]), LSTMCL_SUCCESS);
        a = get(p1, n), b = get(p2, n);
        ck_assert(memcmp(a, b, n * sizeof *a) == 0);
        free(r), free(a), free(b);
        drop(p1), drop(m1), drop(v1), drop(p2), drop(m2), drop(v2);
    }
    ck_assert_int_eq(lstmcl_clip_scale(ctx, n, tg, -1.0f, out), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(lstmcl_clip_scale(ctx, n, tg, NAN, out), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(lstmcl_clip_scale(ctx, n, tg, 1.0f, small), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_message(ctx), "out"));
    ck_assert_int_eq(lstmcl_adam_step_scaled(ctx, n, tg, tg, tg, tg, &s, 1, none()),
                     LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_message(ctx), "grad_scale"));
    free(g), free(p0), free(zeros);
    drop(tg), drop(out), drop(small);
}
END_TEST

/* Two Adam steps computed by hand (Kingma & Ba, algorithm 1). */
START_TEST(adam_by_hand)
{
    const float p0[3] = {1.0f, -2.0f, 0.5f}, g1[3] = {0.1f, -0.4f, 0.0f}, g2[3] = {0.3f, 0.2f, -1.0f};
    const float zeros[3] = {0, 0, 0};
    lstmcl_adam_settings s;
    lstmcl_tensor tp = dev(p0, 12), tg = dev(g1, 12), tm = dev(zeros, 12), tv = dev(zeros, 12);
    double p[3], m[3] = {0, 0, 0}, v[3] = {0, 0, 0};
    float *got;
    int i, step;

    lstmcl_adam_default_settings(&s);
    s.learning_rate = 0.1f;
    for (i = 0; i < 3; i++)
        p[i] = p0[i];
    for (step = 1; step <= 2; step++) {
        const float *g = step == 1 ? g1 : g2;
        const double scale = 0.5; /* a clipping factor */
        if (step == 2)
            ck_assert_int_eq(clEnqueueWriteBuffer(q, tg.mem, CL_TRUE, 0, 12, g2, 0, NULL, NULL),
                             CL_SUCCESS);
        ck_assert_int_eq(lstmcl_adam_step(ctx, 3, tp, tg, tm, tv, &s, (unsigned long)step, 0.5f),
                         LSTMCL_SUCCESS);
        for (i = 0; i < 3; i++) {
            double gi = g[i] * scale, mh, vh;
            m[i] = 0.9 * m[i] + 0.1 * gi;
            v[i] = 0.999 * v[i] + 0.001 * gi * gi;
            mh = m[i] / (1 - pow(0.9, step));
            vh = v[i] / (1 - pow(0.999, step));
            p[i] -= 0.1 * mh / (sqrt(vh) + 1e-8);
        }
    }
    got = get(tp, 3);
    close_to("parameters after two Adam steps", got, p, 3, 1e-6);
    free(got);
    ck_assert_int_eq(lstmcl_adam_step(ctx, 3, tp, tg, tm, tv, &s, 0, 1.0f),
                     LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(lstmcl_adam_step(ctx, 3, tp, tg, tm, tv, NULL, 1, 1.0f),
                     LSTMCL_ERROR_INVALID_ARGUMENT);
    s.beta1 = 1.0f;
    ck_assert_int_eq(lstmcl_adam_step(ctx, 3, tp, tg, tm, tv, &s, 1, 1.0f),
                     LSTMCL_ERROR_INVALID_ARGUMENT);
    drop(tp), drop(tg), drop(tm), drop(tv);
}
END_TEST

/* More rows than a GPU allows work-groups along dimension 1 (65535), and a
 * vocabulary large enough to bound the sort's chunk count. */
START_TEST(many_rows)
{
    embedding_case(70001, 3, 50);
    embedding_case(70001, 2, 20000);
    linear_case(70001, 2, 3);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("building blocks");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, stack_against_reference, 0, 9);
    tcase_add_loop_test(tc, stack_dropout, 0, 4);
    tcase_add_test(tc, dropout_masks);
    tcase_add_loop_test(tc, dropout_split_rows, 0, 8);
    tcase_add_test(tc, stack_errors);
    tcase_add_test(tc, embedding);
    tcase_add_loop_test(tc, linear, 0, 3);
    tcase_add_test(tc, softmax_cross_entropy);
    tcase_add_loop_test(tc, sum_squares, 0, 3);
    tcase_add_test(tc, adam_by_hand);
    tcase_add_loop_test(tc, clip_scale, 0, 3);
    suite_add_tcase(s, tc);
    /* left out on Oclgrind (tests/oclgrind.sh), where they would take hours */
    tc = tcase_create("many rows");
    tcase_set_tags(tc, "many-rows");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, many_rows);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
