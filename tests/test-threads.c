/* One context shared by several threads (lstmcl.h, "Thread safety"): calls
 * on it are served one at a time, so every thread gets, bitwise, what the
 * same calls give on one thread; each thread reads its own error message;
 * caches and plans made on one thread are used and destroyed on others. */
#define _POSIX_C_SOURCE 200809L
#include "lstmcl.h"
#include "lstmcl_cl.h"
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { THREADS = 4, ROUNDS = 3 };

/* What one job computes: the seed's four functions and a sequence with
 * options, on one shape. */
typedef struct {
    size_t N, T, D, H;
    float *x, *h0, *c0, *Wx, *Wh, *b, *dh, *dc;
    /* results */
    float *sh, *sc, *sdx, *sdh, *sdc, *sdWx, *sdWh, *sdb; /* step */
    float *h, *dx, *dh0, *dWx, *dWh, *db;               /* sequence */
    float *eh, *ecT, *edc0;                              /* forward_ex */
} job;

static float *zeros(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    ck_assert_ptr_nonnull(p);
    return p;
}

static void job_init(job *j, size_t N, size_t T, size_t D, size_t H)
{
    memset(j, 0, sizeof *j);
    j->N = N, j->T = T, j->D = D, j->H = H;
    j->x = tu_floats(N * T * D, 1.0), j->h0 = tu_floats(N * H, 1.0);
    j->c0 = tu_floats(N * H, 1.0);
    j->Wx = tu_floats(D * 4 * H, 0.5), j->Wh = tu_floats(H * 4 * H, 0.5);
    j->b = tu_floats(4 * H, 0.5), j->dh = tu_floats(N * T * H, 1.0);
    j->dc = tu_floats(N * H, 1.0);
}

static void job_results(job *j)
{
    size_t N = j->N, T = j->T, D = j->D, H = j->H;
    j->sh = zeros(N * H), j->sc = zeros(N * H), j->sdx = zeros(N * D);
    j->sdh = zeros(N * H), j->sdc = zeros(N * H), j->sdWx = zeros(D * 4 * H);
    j->sdWh = zeros(H * 4 * H), j->sdb = zeros(4 * H);
    j->h = zeros(N * T * H), j->dx = zeros(N * T * D), j->dh0 = zeros(N * H);
    j->dWx = zeros(D * 4 * H), j->dWh = zeros(H * 4 * H), j->db = zeros(4 * H);
    j->eh = zeros(N * T * H), j->ecT = zeros(N * H), j->edc0 = zeros(N * H);
}

static void job_free_results(job *j)
{
    float **r[] = {&j->sh, &j->sc, &j->sdx, &j->sdh, &j->sdc, &j->sdWx, &j->sdWh, &j->sdb,
                   &j->h,  &j->dx, &j->dh0, &j->dWx, &j->dWh, &j->db,  &j->eh,   &j->ecT,
                   &j->edc0};
    size_t i;
    for (i = 0; i < sizeof r / sizeof r[0]; i++)
        free(*r[i]), *r[i] = NULL;
}

static void job_free(job *j)
{
    job_free_results(j);
    free(j->x), free(j->h0), free(j->c0), free(j->Wx), free(j->Wh), free(j->b), free(j->dh);
    free(j->dc);
}

/* Runs the job's calls on ctx; returns a status, with the call's name. */
static lstmcl_status job_run(lstmcl_context *ctx, job *j, const char **what)
{
    size_t N = j->N, T = j->T, D = j->D, H = j->H;
    lstmcl_cache *cache = NULL;
    lstmcl_status st;
    lstmcl_sequence_options opt;

    *what = "lstmcl_step_forward";
    st = lstmcl_step_forward(ctx, N, D, H, j->x, j->h0, j->c0, j->Wx, j->Wh, j->b, j->sh, j->sc,
                             &cache);
    if (st != LSTMCL_SUCCESS)
        return st;
    *what = "lstmcl_step_backward";
    st = lstmcl_step_backward(ctx, cache, j->dh, j->dc, j->sdx, j->sdh, j->sdc, j->sdWx, j->sdWh,
                              j->sdb);
    lstmcl_cache_destroy(cache);
    cache = NULL;
    if (st != LSTMCL_SUCCESS)
        return st;
    *what = "lstmcl_forward";
    st = lstmcl_forward(ctx, N, T, D, H, j->x, j->h0, j->Wx, j->Wh, j->b, j->h, &cache);
    if (st != LSTMCL_SUCCESS)
        return st;
    *what = "lstmcl_backward";
    st = lstmcl_backward(ctx, cache, j->dh, j->dx, j->dh0, j->dWx, j->dWh, j->db);
    lstmcl_cache_destroy(cache);
    cache = NULL;
    if (st != LSTMCL_SUCCESS)
        return st;
    memset(&opt, 0, sizeof opt);
    opt.reverse = 1;
    *what = "lstmcl_forward_ex";
    st = lstmcl_forward_ex(ctx, N, T, D, H, &opt, j->x, j->h0, j->c0, j->Wx, j->Wh, j->b, j->eh,
                           NULL, j->ecT, &cache);
    if (st != LSTMCL_SUCCESS)
        return st;
    *what = "lstmcl_backward_ex";
    st = lstmcl_backward_ex(ctx, cache, j->dh, NULL, j->dc, NULL, NULL, j->edc0, NULL, NULL, NULL);
    lstmcl_cache_destroy(cache);
    return st;
}

#define SAME(a, b, n, name)                                                                    \
    ck_assert_msg(memcmp((a), (b), (n) * sizeof(float)) == 0,                                  \
                  "%s differs from one thread's at N=%zu T=%zu D=%zu H=%zu (thread %d, round " \
                  "%d, seed %llu)",                                                            \
                  name, e->N, e->T, e->D, e->H, t, round, tu_seed())

/* got's results are bitwise e's. */
static void assert_same(const job *e, const job *got, int t, int round)
{
    size_t N = e->N, T = e->T, D = e->D, H = e->H;
    SAME(e->sh, got->sh, N * H, "step next_h");
    SAME(e->sc, got->sc, N * H, "step next_c");
    SAME(e->sdx, got->sdx, N * D, "step dx");
    SAME(e->sdh, got->sdh, N * H, "step dprev_h");
    SAME(e->sdc, got->sdc, N * H, "step dprev_c");
    SAME(e->sdWx, got->sdWx, D * 4 * H, "step dWx");
    SAME(e->sdWh, got->sdWh, H * 4 * H, "step dWh");
    SAME(e->sdb, got->sdb, 4 * H, "step db");
    SAME(e->h, got->h, N * T * H, "h");
    SAME(e->dx, got->dx, N * T * D, "dx");
    SAME(e->dh0, got->dh0, N * H, "dh0");
    SAME(e->dWx, got->dWx, D * 4 * H, "dWx");
    SAME(e->dWh, got->dWh, H * 4 * H, "dWh");
    SAME(e->db, got->db, 4 * H, "db");
    SAME(e->eh, got->eh, N * T * H, "forward_ex h");
    SAME(e->ecT, got->ecT, N * H, "forward_ex cT");
    SAME(e->edc0, got->edc0, N * H, "backward_ex dc0");
}

typedef struct {
    lstmcl_context *ctx;
    job *expected; /* the shape's inputs and one thread's results */
    job got[ROUNDS];
    lstmcl_status st;
    const char *what;
    char msg[512];
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    int r;
    for (r = 0; r < ROUNDS; r++) {
        job *g = &w->got[r];
        *g = *w->expected; /* the same inputs */
        job_results(g);
        w->st = job_run(w->ctx, g, &w->what);
        if (w->st != LSTMCL_SUCCESS) {
            snprintf(w->msg, sizeof w->msg, "%s", lstmcl_context_message(w->ctx));
            return NULL;
        }
    }
    return NULL;
}

/* THREADS threads on one context, each running jobs[t % njobs] ROUNDS
 * times; every result is bitwise that of the same job alone. */
static void shared_context(job *jobs, int njobs)
{
    lstmcl_context *ctx = tu_context();
    pthread_t th[THREADS];
    worker w[THREADS];
    int t, round, i;

    for (i = 0; i < njobs; i++) {
        const char *what;
        lstmcl_status st;
        job_results(&jobs[i]);
        st = job_run(ctx, &jobs[i], &what);
        ck_assert_msg(st == LSTMCL_SUCCESS, "%s alone: %s: %s", what, lstmcl_status_name(st),
                      lstmcl_context_message(ctx));
    }
    memset(w, 0, sizeof w);
    for (t = 0; t < THREADS; t++) {
        w[t].ctx = ctx;
        w[t].expected = &jobs[t % njobs];
        ck_assert_int_eq(pthread_create(&th[t], NULL, work, &w[t]), 0);
    }
    for (t = 0; t < THREADS; t++)
        ck_assert_int_eq(pthread_join(th[t], NULL), 0);
    for (t = 0; t < THREADS; t++) {
        ck_assert_msg(w[t].st == LSTMCL_SUCCESS, "thread %d: %s: %s: %s", t, w[t].what,
                      lstmcl_status_name(w[t].st), w[t].msg);
        for (round = 0; round < ROUNDS; round++) {
            assert_same(w[t].expected, &w[t].got[round], t, round);
            job_free_results(&w[t].got[round]);
        }
    }
    for (i = 0; i < njobs; i++)
        job_free(&jobs[i]);
}

/* Different shapes in each thread, awkward ones among them. */
START_TEST(shared_context_different_shapes)
{
    job jobs[THREADS];
    job_init(&jobs[0], 1, 1, 1, 1);
    job_init(&jobs[1], 3, 7, 13, 29);
    job_init(&jobs[2], tu_range(1, 9), tu_range(1, 12), tu_range(1, 40), tu_range(1, 40));
    job_init(&jobs[3], 16, 5, 64, 48);
    shared_context(jobs, THREADS);
}
END_TEST

/* The same shape in every thread: the same buffer sizes, so a shared pooled
 * buffer or kernel argument would show. */
START_TEST(shared_context_same_shape)
{
    job jobs[1];
    job_init(&jobs[0], 6, 9, 21, 35);
    shared_context(jobs, 1);
}
END_TEST

/* ---------------------------------------------------------- device API */

typedef struct {
    lstmcl_context *ctx;
    size_t N, T, D, H;
    float *x, *Wx, *Wh, *b, *dh; /* host inputs */
    float *h, *dWh;              /* results */
    lstmcl_status st;
    char msg[512];
} plan_job;

static cl_mem upload(cl_context c, const float *p, size_t n)
{
    cl_int err;
    cl_mem m = clCreateBuffer(c, CL_MEM_READ_WRITE | (p ? CL_MEM_COPY_HOST_PTR : 0),
                              n * sizeof(float), (void *)p, &err);
    return err == CL_SUCCESS ? m : NULL;
}

/* A plan of its own on the shared context, on the context's queue: a
 * training forward and a backward, read back. */
static void *plan_work(void *arg)
{
    plan_job *j = arg;
    size_t N = j->N, T = j->T, D = j->D, H = j->H, rbytes = 0;
    cl_context c = lstmcl_context_cl_context(j->ctx);
    lstmcl_plan *plan = NULL;
    cl_mem x = upload(c, j->x, N * T * D), Wx = upload(c, j->Wx, D * 4 * H);
    cl_mem Wh = upload(c, j->Wh, H * 4 * H), b = upload(c, j->b, 4 * H);
    cl_mem dh = upload(c, j->dh, N * T * H), h = upload(c, NULL, N * T * H);
    cl_mem dWh = upload(c, NULL, H * 4 * H), reserve = NULL;
    lstmcl_forward_args fa;
    lstmcl_backward_args ba;
    cl_int err;

    j->st = LSTMCL_ERROR_OUT_OF_DEVICE_MEMORY;
    snprintf(j->msg, sizeof j->msg, "a test buffer could not be made");
    if (!x || !Wx || !Wh || !b || !dh || !h || !dWh)
        goto out;
    j->st = lstmcl_plan_create(&plan, j->ctx, N, T, D, H);
    if (j->st == LSTMCL_SUCCESS)
        j->st = lstmcl_plan_reserve_size(plan, &rbytes);
    if (j->st != LSTMCL_SUCCESS)
        goto fail;
    reserve = clCreateBuffer(c, CL_MEM_READ_WRITE, rbytes, NULL, &err);
    if (!reserve)
        goto out;
    memset(&fa, 0, sizeof fa);
    fa.x.mem = x, fa.Wx.mem = Wx, fa.Wh.mem = Wh, fa.b.mem = b, fa.h.mem = h;
    fa.reserve = reserve;
    j->st = lstmcl_plan_forward(plan, &fa);
    if (j->st != LSTMCL_SUCCESS)
        goto fail;
    memset(&ba, 0, sizeof ba);
    ba.x.mem = x, ba.Wx.mem = Wx, ba.Wh.mem = Wh, ba.dh.mem = dh, ba.dWh.mem = dWh;
    ba.reserve = reserve;
    j->st = lstmcl_plan_backward(plan, &ba);
    if (j->st != LSTMCL_SUCCESS)
        goto fail;
    /* the context's queue is in order: reading on it waits for the plan */
    j->st = LSTMCL_ERROR_OPENCL;
    if (clEnqueueReadBuffer(lstmcl_context_queue(j->ctx), h, CL_TRUE, 0, N * T * H * 4, j->h, 0,
                            NULL, NULL) != CL_SUCCESS ||
        clEnqueueReadBuffer(lstmcl_context_queue(j->ctx), dWh, CL_TRUE, 0, H * 4 * H * 4, j->dWh,
                            0, NULL, NULL) != CL_SUCCESS) {
        snprintf(j->msg, sizeof j->msg, "reading the results failed");
        goto out;
    }
    j->st = LSTMCL_SUCCESS;
    j->msg[0] = '\0';
    goto out;
fail:
    snprintf(j->msg, sizeof j->msg, "%s", lstmcl_context_message(j->ctx));
out:
    lstmcl_plan_destroy(plan);
    {
        cl_mem all[] = {x, Wx, Wh, b, dh, h, dWh, reserve};
        size_t i;
        for (i = 0; i < sizeof all / sizeof all[0]; i++)
            if (all[i])
                clReleaseMemObject(all[i]);
    }
    return NULL;
}

static void plan_job_init(plan_job *j, lstmcl_context *ctx, size_t N, size_t T, size_t D,
                          size_t H)
{
    memset(j, 0, sizeof *j);
    j->ctx = ctx, j->N = N, j->T = T, j->D = D, j->H = H;
    j->x = tu_floats(N * T * D, 1.0), j->Wx = tu_floats(D * 4 * H, 0.5);
    j->Wh = tu_floats(H * 4 * H, 0.5), j->b = tu_floats(4 * H, 0.5);
    j->dh = tu_floats(N * T * H, 1.0);
    j->h = zeros(N * T * H), j->dWh = zeros(H * 4 * H);
}

static void plan_job_free(plan_job *j)
{
    free(j->x), free(j->Wx), free(j->Wh), free(j->b), free(j->dh), free(j->h), free(j->dWh);
}

/* Separate plans on one context from THREADS threads: each result is
 * bitwise the one the same plan gives alone. */
START_TEST(shared_context_plans)
{
    lstmcl_context *ctx = tu_context();
    plan_job alone[THREADS], together[THREADS];
    pthread_t th[THREADS];
    const size_t shapes[THREADS][4] = {{1, 1, 1, 1}, {5, 8, 19, 27}, {5, 8, 19, 27}, {12, 4, 33, 64}};
    int t, round;

    for (t = 0; t < THREADS; t++) {
        plan_job_init(&alone[t], ctx, shapes[t][0], shapes[t][1], shapes[t][2], shapes[t][3]);
        plan_work(&alone[t]);
        ck_assert_msg(alone[t].st == LSTMCL_SUCCESS, "plan %d alone: %s: %s", t,
                      lstmcl_status_name(alone[t].st), alone[t].msg);
    }
    for (round = 0; round < ROUNDS; round++) {
        for (t = 0; t < THREADS; t++) {
            together[t] = alone[t]; /* the same inputs, new outputs */
            together[t].h = zeros(alone[t].N * alone[t].T * alone[t].H);
            together[t].dWh = zeros(alone[t].H * 4 * alone[t].H);
            ck_assert_int_eq(pthread_create(&th[t], NULL, plan_work, &together[t]), 0);
        }
        for (t = 0; t < THREADS; t++)
            ck_assert_int_eq(pthread_join(th[t], NULL), 0);
        for (t = 0; t < THREADS; t++) {
            const plan_job *a = &alone[t], *g = &together[t];
            ck_assert_msg(g->st == LSTMCL_SUCCESS, "plan %d round %d: %s: %s", t, round,
                          lstmcl_status_name(g->st), g->msg);
            ck_assert_msg(memcmp(a->h, g->h, a->N * a->T * a->H * 4) == 0,
                          "plan %d round %d: h differs from the plan's alone", t, round);
            ck_assert_msg(memcmp(a->dWh, g->dWh, a->H * 4 * a->H * 4) == 0,
                          "plan %d round %d: dWh differs from the plan's alone", t, round);
            free(together[t].h), free(together[t].dWh);
        }
    }
    for (t = 0; t < THREADS; t++)
        plan_job_free(&alone[t]);
}
END_TEST

/* ------------------------------------------------------------ messages */

typedef struct {
    lstmcl_context *ctx;
    pthread_barrier_t *failed, *others_done;
    char msg[512];
    lstmcl_status st;
} msg_worker;

/* Fails one call, lets the other threads run good calls and fail their
 * own, then reads its message. */
static void *fail_then_read(void *arg)
{
    msg_worker *w = arg;
    float h0[1] = {0}, Wx[4] = {0}, Wh[4] = {0}, b[4] = {0}, h = 0;
    w->st = lstmcl_forward(w->ctx, 1, 1, 1, 1, NULL, h0, Wx, Wh, b, &h, NULL); /* no x */
    pthread_barrier_wait(w->failed);
    pthread_barrier_wait(w->others_done);
    snprintf(w->msg, sizeof w->msg, "%s", lstmcl_context_message(w->ctx));
    return NULL;
}

static void *succeed_and_fail(void *arg)
{
    msg_worker *w = arg;
    float x[2] = {1, -1}, h0[1] = {0.5f}, Wx[4] = {0.1f, 0.2f, 0.3f, 0.4f}, Wh[4] = {0};
    float b[4] = {0}, h[2];
    int i;
    pthread_barrier_wait(w->failed);
    for (i = 0; i < 3; i++)
        w->st = lstmcl_forward(w->ctx, 1, 2, 1, 1, x, h0, Wx, Wh, b, h, NULL);
    /* and a failure of another kind: H = 0 */
    lstmcl_forward(w->ctx, 1, 1, 1, 0, x, h0, Wx, Wh, b, h, NULL);
    snprintf(w->msg, sizeof w->msg, "%s", lstmcl_context_message(w->ctx));
    pthread_barrier_wait(w->others_done);
    return NULL;
}

/* Each thread reads the message of its own last failure: another thread's
 * later success or failure on the same context changes nothing of it. */
START_TEST(messages_per_thread)
{
    lstmcl_context *ctx = tu_context();
    pthread_barrier_t failed, others_done;
    msg_worker a, o[2];
    pthread_t ta, to[2];
    int i;

    ck_assert_int_eq(pthread_barrier_init(&failed, NULL, 3), 0);
    ck_assert_int_eq(pthread_barrier_init(&others_done, NULL, 3), 0);
    memset(&a, 0, sizeof a);
    a.ctx = ctx, a.failed = &failed, a.others_done = &others_done;
    o[0] = o[1] = a;
    ck_assert_int_eq(pthread_create(&ta, NULL, fail_then_read, &a), 0);
    for (i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&to[i], NULL, succeed_and_fail, &o[i]), 0);
    pthread_join(ta, NULL);
    for (i = 0; i < 2; i++)
        pthread_join(to[i], NULL);
    pthread_barrier_destroy(&failed);
    pthread_barrier_destroy(&others_done);

    ck_assert_int_eq(a.st, LSTMCL_ERROR_INVALID_ARGUMENT);
    printf("the failing thread's message: %s\nthe others': %s | %s\n", a.msg, o[0].msg, o[1].msg);
    ck_assert_msg(strstr(a.msg, "x is NULL") != NULL,
                  "the failing thread's message was replaced: \"%s\"", a.msg);
    for (i = 0; i < 2; i++) {
        ck_assert_int_eq(o[i].st, LSTMCL_SUCCESS);
        ck_assert_msg(strstr(o[i].msg, "H") && !strstr(o[i].msg, "x is NULL"), "thread %d's own message: \"%s\"", i,
                      o[i].msg);
    }
    /* this thread made no failing call on ctx */
    ck_assert_str_eq(lstmcl_context_message(ctx), "");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("shared context");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, shared_context_different_shapes);
    tcase_add_test(tc, shared_context_same_shape);
    tcase_add_test(tc, shared_context_plans);
    tcase_add_test(tc, messages_per_thread);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
