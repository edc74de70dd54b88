/* The four LSTM functions against the double-precision reference, on random
 * inputs and awkward shapes. */
#define CL_TARGET_OPENCL_VERSION 120
#include "lstmcl_cl.h"
#include "reference.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FWD_BOUND 1e-5
#define GRAD_BOUND 1e-4

/* One problem: float inputs for lstmcl, their double copies, and outputs
 * poisoned with NaN so that an unwritten element fails. */
typedef struct {
    size_t N, T, D, H;
    float *x, *h0, *c0, *Wx, *Wh, *b, *dh, *dcT;
    float *h, *cT, *dx, *dh0, *dc0, *dWx, *dWh, *db;
} problem;

static void problem_make(problem *p, size_t N, size_t T, size_t D, size_t H)
{
    const double ws = 2.0 / sqrt((double)(D + H));
    memset(p, 0, sizeof *p);
    p->N = N, p->T = T, p->D = D, p->H = H;
    p->x = tu_floats(N * T * D, 1.0);
    p->h0 = tu_floats(N * H, 0.8);
    p->c0 = tu_floats(N * H, 0.8);
    p->Wx = tu_floats(D * 4 * H, ws);
    p->Wh = tu_floats(H * 4 * H, ws);
    p->b = tu_floats(4 * H, 0.5);
    p->dh = tu_floats(N * T * H, 1.0);
    p->dcT = tu_floats(N * H, 1.0);
    p->h = tu_nans(N * T * H);
    p->cT = tu_nans(N * H);
    p->dx = tu_nans(N * T * D);
    p->dh0 = tu_nans(N * H);
    p->dc0 = tu_nans(N * H);
    p->dWx = tu_nans(D * 4 * H);
    p->dWh = tu_nans(H * 4 * H);
    p->db = tu_nans(4 * H);
}

static void problem_free(problem *p)
{
    free(p->x), free(p->h0), free(p->c0), free(p->Wx), free(p->Wh), free(p->b), free(p->dh);
    free(p->dcT), free(p->h), free(p->cT), free(p->dx), free(p->dh0), free(p->dc0);
    free(p->dWx), free(p->dWh), free(p->db);
}

static void expect_close(const char *what, const problem *p, const float *got,
                         const double *want, size_t n, double bound)
{
    double err = ref_rel_error(got, want, n);
    char values[200] = "";
    if (!(err <= bound) && n <= 4) {
        size_t i, used = 0;
        for (i = 0; i < n; i++)
            used += (size_t)snprintf(values + used, sizeof values - used, " got %.9g want %.9g",
                                     got[i], want[i]);
    }
    ck_assert_msg(err <= bound,
                  "%s: normalised error %.3e > %.0e at N=%zu T=%zu D=%zu H=%zu (seed %llu)%s", what,
                  err, bound, p->N, p->T, p->D, p->H, tu_seed(), values);
}

/* Compares lstmcl's outputs in p with the reference.  step: c0 and dcT are
 * used and dc0 and c_T compared, as the step functions do. */
static void compare_with_reference(const problem *p, int step)
{
    const size_t N = p->N, T = p->T, D = p->D, H = p->H;
    double *x = tu_doubles(p->x, N * T * D), *h0 = tu_doubles(p->h0, N * H);
    double *c0 = step ? tu_doubles(p->c0, N * H) : NULL;
    double *Wx = tu_doubles(p->Wx, D * 4 * H), *Wh = tu_doubles(p->Wh, H * 4 * H);
    double *b = tu_doubles(p->b, 4 * H), *dh = tu_doubles(p->dh, N * T * H);
    double *dcT = step ? tu_doubles(p->dcT, N * H) : NULL;
    double *dx = tu_dalloc(N * T * D), *dh0 = tu_dalloc(N * H), *dc0 = tu_dalloc(N * H);
    double *dWx = tu_dalloc(D * 4 * H), *dWh = tu_dalloc(H * 4 * H), *db = tu_dalloc(4 * H);
    ref_cache rc;

    ck_assert_int_eq(ref_forward(N, T, D, H, x, h0, c0, Wx, Wh, b, &rc), 0);
    ck_assert_int_eq(ref_backward(&rc, x, h0, c0, Wx, Wh, dh, dcT, dx, dh0, dc0, dWx, dWh, db),
                     0);
    expect_close("h", p, p->h, rc.h, N * T * H, FWD_BOUND);
    if (step)
        expect_close("next_c", p, p->cT, rc.c, N * H, FWD_BOUND); /* T == 1 */
    expect_close("dx", p, p->dx, dx, N * T * D, GRAD_BOUND);
    expect_close("dh0", p, p->dh0, dh0, N * H, GRAD_BOUND);
    if (step)
        expect_close("dprev_c", p, p->dc0, dc0, N * H, GRAD_BOUND);
    expect_close("dWx", p, p->dWx, dWx, D * 4 * H, GRAD_BOUND);
    expect_close("dWh", p, p->dWh, dWh, H * 4 * H, GRAD_BOUND);
    expect_close("db", p, p->db, db, 4 * H, GRAD_BOUND);
    ref_cache_free(&rc);
    free(x), free(h0), free(c0), free(Wx), free(Wh), free(b), free(dh), free(dcT);
    free(dx), free(dh0), free(dc0), free(dWx), free(dWh), free(db);
}

static void run_sequence(lstmcl_context *ctx, problem *p)
{
    lstmcl_cache *cache = NULL;
    lstmcl_status st;
    st = lstmcl_forward(ctx, p->N, p->T, p->D, p->H, p->x, p->h0, p->Wx, p->Wh, p->b, p->h,
                        &cache);
    ck_assert_msg(st == LSTMCL_SUCCESS, "lstmcl_forward: %s: %s", lstmcl_status_string(st),
                  lstmcl_context_message(ctx));
    ck_assert_ptr_nonnull(cache);
    st = lstmcl_backward(ctx, cache, p->dh, p->dx, p->dh0, p->dWx, p->dWh, p->db);
    ck_assert_msg(st == LSTMCL_SUCCESS, "lstmcl_backward: %s: %s", lstmcl_status_string(st),
                  lstmcl_context_message(ctx));
    lstmcl_cache_destroy(cache);
}

static void sequence_case(size_t N, size_t T, size_t D, size_t H)
{
    lstmcl_context *ctx = tu_context();
    problem p;
    float *h_inf = tu_nans(N * T * H);
    lstmcl_status st;

    problem_make(&p, N, T, D, H);
    run_sequence(ctx, &p);
    compare_with_reference(&p, 0);

    /* inference (no cache) gives the same h */
    st = lstmcl_forward(ctx, N, T, D, H, p.x, p.h0, p.Wx, p.Wh, p.b, h_inf, NULL);
    ck_assert_msg(st == LSTMCL_SUCCESS, "%s", lstmcl_context_message(ctx));
    {
        double *want = tu_doubles(p.h, N * T * H);
        expect_close("h (inference)", &p, h_inf, want, N * T * H, 1e-6);
        free(want);
    }
    free(h_inf);
    problem_free(&p);
}

static void step_case(size_t N, size_t D, size_t H)
{
    lstmcl_context *ctx = tu_context();
    lstmcl_cache *cache = NULL;
    lstmcl_status st;
    problem p;

    problem_make(&p, N, 1, D, H);
    st = lstmcl_step_forward(ctx, N, D, H, p.x, p.h0, p.c0, p.Wx, p.Wh, p.b, p.h, p.cT, &cache);
    ck_assert_msg(st == LSTMCL_SUCCESS, "lstmcl_step_forward: %s", lstmcl_context_message(ctx));
    st = lstmcl_step_backward(ctx, cache, p.dh, p.dcT, p.dx, p.dh0, p.dc0, p.dWx, p.dWh, p.db);
    ck_assert_msg(st == LSTMCL_SUCCESS, "lstmcl_step_backward: %s", lstmcl_context_message(ctx));
    lstmcl_cache_destroy(cache);
    compare_with_reference(&p, 1);
    problem_free(&p);
}

/* ------------------------------------------------------------- shapes */

static const size_t shapes[][4] = {
    /* N, T, D, H */
    {1, 1, 1, 1},    {1, 1, 7, 13},   {1, 9, 4, 4},   {5, 1, 6, 3},  {3, 5, 1, 13},
    {2, 4, 9, 1},    {2, 3, 17, 257}, {4, 7, 33, 31}, {16, 12, 64, 48},
    {2, 120, 5, 7},  /* T >= 100 */
    {1, 150, 3, 16},
};

START_TEST(sequence_awkward_shapes)
{
    const size_t *s = shapes[_i];
    sequence_case(s[0], s[1], s[2], s[3]);
}
END_TEST

START_TEST(sequence_random_shapes)
{
    sequence_case(tu_range(1, 9), tu_range(1, 20), tu_range(1, 70), tu_range(1, 70));
}
END_TEST

START_TEST(step_awkward_shapes)
{
    const size_t *s = shapes[_i];
    step_case(s[0], s[2], s[3]);
}
END_TEST

START_TEST(step_random_shapes)
{
    step_case(tu_range(1, 9), tu_range(1, 70), tu_range(1, 70));
}
END_TEST

/* The sequence functions agree with T calls of the step functions. */
START_TEST(sequence_equals_steps)
{
    const size_t N = 3, T = 6, D = 5, H = 11;
    lstmcl_context *ctx = tu_context();
    lstmcl_cache *caches[6];
    problem p;
    float *h = tu_nans(N * H), *c = calloc(N * H, sizeof(float)), *hp = malloc(N * H * 4);
    float *cn = tu_nans(N * H);
    float *xt = malloc(N * D * 4), *steps_h = tu_nans(N * T * H);
    float *dnh = malloc(N * H * 4), *dnc = calloc(N * H, sizeof(float));
    float *dx = tu_nans(N * D), *dph = tu_nans(N * H), *dpc = tu_nans(N * H);
    float *gWx = tu_nans(D * 4 * H), *gWh = tu_nans(H * 4 * H), *gb = tu_nans(4 * H);
    double *sWx = tu_dalloc(D * 4 * H), *sWh = tu_dalloc(H * 4 * H), *sb = tu_dalloc(4 * H);
    double *sdx = tu_dalloc(N * T * D), *want;
    size_t t, n, k;

    problem_make(&p, N, T, D, H);
    run_sequence(ctx, &p);

    memcpy(hp, p.h0, N * H * 4);
    for (t = 0; t < T; t++) {
        for (n = 0; n < N; n++)
            memcpy(xt + n * D, p.x + (n * T + t) * D, D * 4);
        ck_assert_int_eq(lstmcl_step_forward(ctx, N, D, H, xt, hp, c, p.Wx, p.Wh, p.b, h, cn,
                                             &caches[t]),
                         LSTMCL_SUCCESS);
        memcpy(hp, h, N * H * 4);
        memcpy(c, cn, N * H * 4);
        for (n = 0; n < N; n++)
            memcpy(steps_h + (n * T + t) * H, h + n * H, H * 4);
    }
    want = tu_doubles(p.h, N * T * H);
    expect_close("h of T steps vs lstmcl_forward", &p, steps_h, want, N * T * H, 1e-6);
    free(want);

    memset(dph, 0, N * H * 4);
    for (t = T; t-- > 0;) {
        for (n = 0; n < N; n++)
            for (k = 0; k < H; k++)
                dnh[n * H + k] = p.dh[(n * T + t) * H + k] + dph[n * H + k];
        ck_assert_int_eq(lstmcl_step_backward(ctx, caches[t], dnh, dnc, dx, dph, dpc, gWx, gWh,
                                              gb),
                         LSTMCL_SUCCESS);
        memcpy(dnc, dpc, N * H * 4);
        for (k = 0; k < D * 4 * H; k++) sWx[k] += gWx[k];
        for (k = 0; k < H * 4 * H; k++) sWh[k] += gWh[k];
        for (k = 0; k < 4 * H; k++) sb[k] += gb[k];
        for (n = 0; n < N; n++)
            for (k = 0; k < D; k++)
                sdx[(n * T + t) * D + k] = dx[n * D + k];
        lstmcl_cache_destroy(caches[t]);
    }
    /* the step results (in double sums) stand in for the reference here */
    expect_close("dx: steps vs sequence", &p, p.dx, sdx, N * T * D, 1e-5);
    {
        double *d = tu_doubles(dph, N * H);
        expect_close("dh0: steps vs sequence", &p, p.dh0, d, N * H, 1e-5);
        free(d);
    }
    expect_close("dWx: steps vs sequence", &p, p.dWx, sWx, D * 4 * H, 1e-5);
    expect_close("dWh: steps vs sequence", &p, p.dWh, sWh, H * 4 * H, 1e-5);
    expect_close("db: steps vs sequence", &p, p.db, sb, 4 * H, 1e-5);

    problem_free(&p);
    free(h), free(c), free(cn), free(hp), free(xt), free(steps_h), free(dnh), free(dnc), free(dx);
    free(dph), free(dpc), free(gWx), free(gWh), free(gb), free(sWx), free(sWh), free(sb);
    free(sdx);
}
END_TEST

/* ------------------------------------------------- reuse and repetition */

/* Same inputs, same bits: across calls, across buffer reuse, and with a call
 * of another shape in between. */
START_TEST(repeat_is_bitwise_identical)
{
    lstmcl_context *ctx = tu_context();
    problem a, b, other;
    problem_make(&a, 4, 9, 10, 12);
    problem_make(&b, 4, 9, 10, 12);
    memcpy(b.x, a.x, 4 * 9 * 10 * 4);
    memcpy(b.h0, a.h0, 4 * 12 * 4);
    memcpy(b.Wx, a.Wx, 10 * 48 * 4);
    memcpy(b.Wh, a.Wh, 12 * 48 * 4);
    memcpy(b.b, a.b, 48 * 4);
    memcpy(b.dh, a.dh, 4 * 9 * 12 * 4);
    problem_make(&other, 3, 2, 5, 6);

    run_sequence(ctx, &a);
    run_sequence(ctx, &other);
    run_sequence(ctx, &b);
    ck_assert(memcmp(a.h, b.h, 4 * 9 * 12 * 4) == 0);
    ck_assert(memcmp(a.dx, b.dx, 4 * 9 * 10 * 4) == 0);
    ck_assert(memcmp(a.dh0, b.dh0, 4 * 12 * 4) == 0);
    ck_assert(memcmp(a.dWx, b.dWx, 10 * 48 * 4) == 0);
    ck_assert(memcmp(a.dWh, b.dWh, 12 * 48 * 4) == 0);
    ck_assert(memcmp(a.db, b.db, 48 * 4) == 0);
    compare_with_reference(&other, 0);
    problem_free(&a), problem_free(&b), problem_free(&other);
}
END_TEST

/* Several caches alive at once keep their own data; a cache can be used for
 * more than one backward. */
START_TEST(caches_are_independent)
{
    lstmcl_context *ctx = tu_context();
    lstmcl_cache *ca = NULL, *cb = NULL;
    problem a, b;
    problem_make(&a, 3, 4, 5, 6);
    problem_make(&b, 3, 4, 5, 6);
    ck_assert_int_eq(lstmcl_forward(ctx, 3, 4, 5, 6, a.x, a.h0, a.Wx, a.Wh, a.b, a.h, &ca),
                     LSTMCL_SUCCESS);
    ck_assert_int_eq(lstmcl_forward(ctx, 3, 4, 5, 6, b.x, b.h0, b.Wx, b.Wh, b.b, b.h, &cb),
                     LSTMCL_SUCCESS);
    ck_assert_int_eq(lstmcl_backward(ctx, ca, a.dh, a.dx, a.dh0, a.dWx, a.dWh, a.db),
                     LSTMCL_SUCCESS);
    ck_assert_int_eq(lstmcl_backward(ctx, cb, b.dh, b.dx, b.dh0, b.dWx, b.dWh, b.db),
                     LSTMCL_SUCCESS);
    compare_with_reference(&a, 0);
    compare_with_reference(&b, 0);
    /* again from the same cache */
    {
        float *dWx = tu_nans(5 * 24);
        ck_assert_int_eq(lstmcl_backward(ctx, ca, a.dh, a.dx, a.dh0, dWx, a.dWh, a.db),
                         LSTMCL_SUCCESS);
        ck_assert(memcmp(dWx, a.dWx, 5 * 24 * 4) == 0);
        free(dWx);
    }
    lstmcl_cache_destroy(ca);
    lstmcl_cache_destroy(cb);
    problem_free(&a), problem_free(&b);
}
END_TEST

/* --------------------------------------------------- application queue */

START_TEST(from_application_queue)
{
    cl_platform_id plat;
    cl_device_id dev;
    cl_context clctx;
    cl_command_queue q;
    cl_int err;
    lstmcl_context *ctx = NULL;
    problem p;

    /* the same device as the shared context */
    dev = lstmcl_context_device(tu_context());
    ck_assert_int_eq(clGetDeviceInfo(dev, CL_DEVICE_PLATFORM, sizeof plat, &plat, NULL),
                     CL_SUCCESS);
    clctx = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    q = clCreateCommandQueue(clctx, dev, 0, &err);
    ck_assert_int_eq(err, CL_SUCCESS);

    ck_assert_int_eq(lstmcl_context_create_from_queue(&ctx, q), LSTMCL_SUCCESS);
    ck_assert_ptr_eq(lstmcl_context_queue(ctx), q);
    ck_assert_ptr_eq(lstmcl_context_cl_context(ctx), clctx);
    /* the application may drop its references: lstmcl retained them */
    clReleaseCommandQueue(q);
    clReleaseContext(clctx);

    problem_make(&p, 2, 5, 7, 9);
    run_sequence(ctx, &p);
    compare_with_reference(&p, 0);
    problem_free(&p);
    lstmcl_context_destroy(ctx);
}
END_TEST

START_TEST(out_of_order_queue_is_refused)
{
    cl_device_id dev = lstmcl_context_device(tu_context());
    cl_context clctx;
    cl_command_queue q;
    cl_int err;
    lstmcl_context *ctx = (lstmcl_context *)&err; /* must be overwritten */
    lstmcl_status st;

    clctx = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    q = clCreateCommandQueue(clctx, dev, CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE, &err);
    if (err == CL_INVALID_QUEUE_PROPERTIES) { /* the device has no such queues: nothing to test */
        clReleaseContext(clctx);
        return;
    }
    ck_assert_int_eq(err, CL_SUCCESS);
    st = lstmcl_context_create_from_queue(&ctx, q);
    ck_assert_int_eq(st, LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(ctx);
    ck_assert_ptr_nonnull(strstr(lstmcl_last_create_message(), "in-order"));
    clReleaseCommandQueue(q);
    clReleaseContext(clctx);
}
END_TEST

/* More batch rows than a GPU allows work-groups along dimension 1 (65535);
 * and more than one work-item of a fused kernel may walk on Mesa's llvmpipe,
 * which stops an invocation's loops after 65535 iterations in all (rows
 * from 2097 on were wrong at H=3, from 2568 on at H=64: docs/portability.md). */
START_TEST(many_rows)
{
    sequence_case(70001, 2, 1, 3);
    step_case(70001, 2, 3);
    sequence_case(3001, 2, 2, 64);
}
END_TEST

/* Products large enough for what src/hostgemm.c does to oneDNN's GEMMs on
 * CPU devices: NT products of 1024 rows or more on a transposed copy (dx at
 * 37x41), and products of 8M multiply-adds or more split over threads, by
 * rows (x·Wx and dx at 40x30; dWx, whose A is transposed) and by columns
 * (dWh at 40x30; dx at 10x50, NT without the copy). */
START_TEST(large_products)
{
    sequence_case(37, 41, 29, 23);
    sequence_case(40, 30, 300, 70);
    sequence_case(10, 50, 600, 40);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("lstm");
    TCase *tc = tcase_create("against the reference");
    const int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, sequence_awkward_shapes, 0, nshapes);
    tcase_add_loop_test(tc, sequence_random_shapes, 0, 6);
    tcase_add_loop_test(tc, step_awkward_shapes, 0, nshapes);
    tcase_add_loop_test(tc, step_random_shapes, 0, 6);
    tcase_add_test(tc, sequence_equals_steps);
    suite_add_tcase(s, tc);

    tc = tcase_create("reuse");
    tcase_add_test(tc, repeat_is_bitwise_identical);
    tcase_add_test(tc, caches_are_independent);
    suite_add_tcase(s, tc);

    tc = tcase_create("application queue");
    tcase_add_test(tc, from_application_queue);
    tcase_add_test(tc, out_of_order_queue_is_refused);
    suite_add_tcase(s, tc);

    /* left out on Oclgrind (tests/oclgrind.sh), where they would take hours */
    tc = tcase_create("many rows");
    tcase_set_tags(tc, "many-rows");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, many_rows);
    tcase_add_test(tc, large_products); /* oneDNN's GEMMs do not run there */
    suite_add_tcase(s, tc);
    return tu_run(s);
}
