/* Fault injection: the n-th OpenCL allocation, enqueue or build fails, for
 * every n that a call reaches.  Each time the call returns an error with a
 * message, and the next call on the same context succeeds with the right
 * result.  (Leaks are checked by running this under ASan: ./run.sh sanitize.) */
#define _POSIX_C_SOURCE 200809L
#include "../src/internal.h"
#include "lstmcl_train.h"
#include "lstmcl_weights.h"
#include "reference.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 2, T = 3, D = 4, H = 5 };
static float x[N * T * D], h0[N * H], Wx[D * 4 * H], Wh[H * 4 * H], b[4 * H], dh[N * T * H];
static double want_h[N * T * H], want_dWh[H * 4 * H];
static long injected;

static void make_problem(void)
{
    size_t i;
    double *xd, *h0d, *Wxd, *Whd, *bd, *dhd, *dx, *dh0, *dWx, *db;
    ref_cache rc;
    for (i = 0; i < sizeof x / 4; i++) x[i] = (float)tu_uniform(1);
    for (i = 0; i < sizeof h0 / 4; i++) h0[i] = (float)tu_uniform(1);
    for (i = 0; i < sizeof Wx / 4; i++) Wx[i] = (float)tu_uniform(.5);
    for (i = 0; i < sizeof Wh / 4; i++) Wh[i] = (float)tu_uniform(.5);
    for (i = 0; i < sizeof b / 4; i++) b[i] = (float)tu_uniform(.5);
    for (i = 0; i < sizeof dh / 4; i++) dh[i] = (float)tu_uniform(1);
    xd = tu_doubles(x, N * T * D), h0d = tu_doubles(h0, N * H), Wxd = tu_doubles(Wx, D * 4 * H);
    Whd = tu_doubles(Wh, H * 4 * H), bd = tu_doubles(b, 4 * H), dhd = tu_doubles(dh, N * T * H);
    dx = tu_dalloc(N * T * D), dh0 = tu_dalloc(N * H), dWx = tu_dalloc(D * 4 * H);
    db = tu_dalloc(4 * H);
    ck_assert_int_eq(ref_forward(N, T, D, H, xd, h0d, NULL, Wxd, Whd, bd, &rc), 0);
    ck_assert_int_eq(ref_backward(&rc, xd, h0d, NULL, Wxd, Whd, dhd, NULL, dx, dh0, NULL, dWx,
                                  want_dWh, db), 0);
    memcpy(want_h, rc.h, sizeof want_h);
    ref_cache_free(&rc);
    free(xd), free(h0d), free(Wxd), free(Whd), free(bd), free(dhd), free(dx), free(dh0);
    free(dWx), free(db);
}

/* The host-pointer API: a training forward and a backward. */
static lstmcl_status host_call(lstmcl_context *ctx, int check)
{
    float h[N * T * H], dx[N * T * D], dh0[N * H], dWx[D * 4 * H], dWh[H * 4 * H], db[4 * H];
    lstmcl_cache *cache = NULL;
    lstmcl_status st = lstmcl_forward(ctx, N, T, D, H, x, h0, Wx, Wh, b, h, &cache);
    if (st == LSTMCL_SUCCESS)
        st = lstmcl_backward(ctx, cache, dh, dx, dh0, dWx, dWh, db);
    lstmcl_cache_destroy(cache);
    if (check && st == LSTMCL_SUCCESS) {
        ck_assert(ref_rel_error(h, want_h, N * T * H) < 1e-5);
        ck_assert(ref_rel_error(dWh, want_dWh, H * 4 * H) < 1e-4);
    }
    return st;
}

/* The training blocks: a 2-layer stack, embedding, linear, loss, Adam. */
enum { NB = 16 };
enum { TOK, TABLE, X, PARAMS, HTOP, W, LOGITS, DLOGITS, LOSS, DH, DX, DPARAMS, STATE_IN, STATE_OUT,
       AM, AV };

/* The squared gradient norm of a fault-free run: every run starts from the
 * same buffers and lstmcl repeats bitwise, so each checked run must match. */
static double blocks_sq_ref = -1;

static lstmcl_status blocks_call(lstmcl_context *ctx, int check)
{
    enum { V = 6, E = 3, L = 2 };
    cl_context cc = lstmcl_context_cl_context(ctx);
    lstmcl_stack *s = NULL;
    lstmcl_status st;
    size_t P, i;
    cl_mem m[NB];
    lstmcl_tensor t[NB];
    double sq = 0;
    cl_int e;
    lstmcl_adam_settings adam;
    st = lstmcl_stack_create(&s, ctx, L, N, T, E, H);
    if (st != LSTMCL_SUCCESS)
        return st;
    P = lstmcl_stack_param_count(s);
    {
        const size_t sizes[NB] = {N * T, V * E, N * T * E, P, N * T * H, H * V, N * T * V,
                                  N * T * V, N * T, N * T * H, N * T * E, P, L * N * H,
                                  L * N * H, P, P};
        for (i = 0; i < NB; i++) {
            float *init = malloc(sizes[i] * 4);
            size_t k;
            for (k = 0; k < sizes[i]; k++)
                init[k] = (float)((k % 7) * 0.05 - 0.15);
            if (i == TOK)
                for (k = 0; k < sizes[i]; k++)
                    ((cl_int *)init)[k] = (cl_int)(k % V);
            m[i] = clCreateBuffer(cc, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizes[i] * 4, init,
                                  &e);
            ck_assert_int_eq(e, CL_SUCCESS);
            t[i].mem = m[i], t[i].offset = 0;
            free(init);
        }
    }
    lstmcl_adam_default_settings(&adam);
    st = lstmcl_embedding_forward(ctx, N * T, E, V, t[TOK], t[TABLE], t[X]);
    if (st == LSTMCL_SUCCESS)
        st = lstmcl_stack_forward(s, t[X], t[PARAMS], t[STATE_IN], t[STATE_IN], t[STATE_OUT],
                                  t[STATE_OUT], t[HTOP], 1);
    if (st == LSTMCL_SUCCESS)
        st = lstmcl_linear_forward(ctx, N * T, H, V, t[HTOP], t[W], t[LOSS], t[LOGITS]);
    if (st == LSTMCL_SUCCESS)
        st = lstmcl_softmax_cross_entropy(ctx, N * T, V, t[LOGITS], t[TOK], t[LOSS], t[DLOGITS],
                                          0.1f);
    if (st == LSTMCL_SUCCESS)
        st = lstmcl_linear_backward(ctx, N * T, H, V, t[HTOP], t[W], t[DLOGITS], t[DH], t[W],
                                    t[LOSS], 1);
    if (st == LSTMCL_SUCCESS)
        st = lstmcl_stack_backward(s, t[X], t[PARAMS], t[STATE_IN], t[DH], t[DX], t[DPARAMS], 0);
    if (st == LSTMCL_SUCCESS)
        st = lstmcl_embedding_backward(ctx, N * T, E, V, t[TOK], t[DX], t[TABLE], 1);
    if (st == LSTMCL_SUCCESS)
        st = lstmcl_sum_squares(ctx, P, t[DPARAMS], &sq);
    if (st == LSTMCL_SUCCESS)
        st = lstmcl_adam_step(ctx, P, t[PARAMS], t[DPARAMS], t[AM], t[AV], &adam, 1, 1.0f);
    clFinish(lstmcl_context_queue(ctx));
    for (i = 0; i < NB; i++)
        clReleaseMemObject(m[i]);
    lstmcl_stack_destroy(s);
    if (check && st == LSTMCL_SUCCESS) {
        ck_assert(sq > 0);
        if (blocks_sq_ref < 0)
            blocks_sq_ref = sq;
        ck_assert_msg(sq == blocks_sq_ref, "gradient norm² %.17g, fault-free %.17g", sq,
                      blocks_sq_ref);
    }
    return st;
}

/* A bidirectional 2-layer model with lengths and states on host arrays:
 * packed rows, both queues, the dx of the two directions added.  Checked
 * runs must repeat the fault-free one bitwise. */
static float model_ref[N * T * 2 * H + N * T * D + 1];
static int model_ref_set;

static lstmcl_status model_call(lstmcl_context *ctx, int check)
{
    static const int lens[N] = {T, 1};
    const lstmcl_weights_shape shape = {2, 2, D, H};
    const size_t states = 2 * 2 * N * H;
    lstmcl_weights *w = NULL;
    lstmcl_sequence_options o;
    lstmcl_cache *cache = NULL;
    float y[N * T * 2 * H], dy[N * T * 2 * H], hn[2 * 2 * N * H], cn[2 * 2 * N * H];
    float st0[2 * 2 * N * H], dx[N * T * D], out[N * T * 2 * H + N * T * D + 1];
    lstmcl_status st;
    size_t i, count;
    float *p;
    ck_assert_int_eq(lstmcl_weights_create(&w, &shape), LSTMCL_SUCCESS);
    p = (float *)lstmcl_weights_data(w, &count);
    for (i = 0; i < count; i++)
        p[i] = (float)((i * 37 % 101) / 101.0 - 0.5);
    for (i = 0; i < states; i++)
        st0[i] = (float)((i * 13 % 17) / 17.0 - 0.5);
    for (i = 0; i < N * T * 2 * H; i++)
        dy[i] = (float)((i * 7 % 23) / 23.0 - 0.5);
    memset(&o, 0, sizeof o);
    o.layout = LSTMCL_TIME_MAJOR, o.lengths = lens;
    st = lstmcl_model_forward(ctx, w, N, T, &o, x, st0, st0, y, hn, cn, &cache);
    if (st == LSTMCL_SUCCESS)
        st = lstmcl_model_backward(ctx, cache, dy, hn, cn, dx, NULL, NULL, NULL);
    lstmcl_cache_destroy(cache);
    lstmcl_weights_destroy(w);
    if (st == LSTMCL_SUCCESS) {
        memcpy(out, y, sizeof y);
        memcpy(out + N * T * 2 * H, dx, sizeof dx);
        out[N * T * 2 * H + N * T * D] = 0;
        if (!model_ref_set)
            memcpy(model_ref, out, sizeof out), model_ref_set = 1;
        else if (check)
            ck_assert_msg(memcmp(out, model_ref, sizeof out) == 0,
                          "the model's results after a fault differ from the fault-free run");
    }
    return st;
}

static void sweep(const char *name, lstmcl_status (*call)(lstmcl_context *, int))
{
    lstmcl_context *ctx = tu_context();
    long n;
    for (n = 1;; n++) {
        lstmcl_status st;
        long passed;
        lstmcl__fault_arm(n);
        st = call(ctx, 0);
        passed = lstmcl__fault_points();
        lstmcl__fault_arm(0);
        if (passed < n) { /* the call got past every fault point */
            ck_assert_msg(st == LSTMCL_SUCCESS, "%s without a fault: %s", name,
                          lstmcl_context_message(ctx));
            printf("%s: %ld fault points, each failed once\n", name, n - 1);
            break;
        }
        injected++;
        ck_assert_msg(st < 0, "%s: fault %ld was injected but the call returned %s", name, n,
                      lstmcl_status_name(st));
        ck_assert_msg(lstmcl_context_message(ctx)[0] != '\0', "%s: fault %ld: no message", name,
                      n);
        st = call(ctx, 1);
        ck_assert_msg(st == LSTMCL_SUCCESS, "%s: the call after fault %ld failed: %s", name, n,
                      lstmcl_context_message(ctx));
    }
}

START_TEST(host_api_faults)
{
    make_problem();
    sweep("forward+backward", host_call);
}
END_TEST

START_TEST(model_faults)
{
    make_problem();
    ck_assert_int_eq(model_call(tu_context(), 1), LSTMCL_SUCCESS); /* the reference */
    sweep("bidirectional model with lengths", model_call);
}
END_TEST

START_TEST(training_blocks_faults)
{
    ck_assert_int_eq(blocks_call(tu_context(), 1), LSTMCL_SUCCESS); /* the reference */
    sweep("training blocks", blocks_call);
}
END_TEST

START_TEST(context_creation_faults)
{
    long n;
    tu_context();
    for (n = 1;; n++) {
        lstmcl_context *ctx = NULL;
        lstmcl_status st;
        long passed;
        lstmcl__fault_arm(n);
        st = lstmcl_context_create(&ctx, NULL);
        passed = lstmcl__fault_points();
        lstmcl__fault_arm(0);
        if (passed < n) {
            ck_assert_int_eq(st, LSTMCL_SUCCESS);
            lstmcl_context_destroy(ctx);
            printf("context creation: %ld fault points, each failed once\n", n - 1);
            break;
        }
        injected++;
        ck_assert_int_lt(st, 0);
        ck_assert_ptr_null(ctx);
        ck_assert(lstmcl_last_create_message()[0] != '\0');
    }
    printf("%ld faults injected in all\n", injected);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("injected");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, host_api_faults);
    tcase_add_test(tc, training_blocks_faults);
    tcase_add_test(tc, model_faults);
    tcase_add_test(tc, context_creation_faults);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
