/* Promises that hold across contexts: separate contexts in separate threads
 * at once, creating and destroying contexts without growing memory, and
 * bitwise repeatable results. */
#define _POSIX_C_SOURCE 200809L
#include "lstmcl.h"
#include "reference.h"
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    size_t N, T, D, H;
    unsigned seed;
    lstmcl_status st;
    char msg[512];
    double err_h, err_dWh;
    float *h, *dWh; /* kept for comparisons across runs */
} job;

static float frand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return ((float)((*s >> 8) & 0xffff) / 65535.0f - 0.5f);
}

/* One forward+backward in its own context, checked against the reference. */
static void *run_job(void *arg)
{
    job *j = arg;
    const size_t N = j->N, T = j->T, D = j->D, H = j->H;
    unsigned s = j->seed;
    float *x = malloc(N * T * D * 4), *h0 = malloc(N * H * 4), *Wx = malloc(D * 4 * H * 4);
    float *Wh = malloc(H * 4 * H * 4), *b = malloc(4 * H * 4), *dh = malloc(N * T * H * 4);
    float *dx = malloc(N * T * D * 4), *dh0 = malloc(N * H * 4), *dWx = malloc(D * 4 * H * 4);
    float *db = malloc(4 * H * 4);
    lstmcl_context *ctx = NULL;
    lstmcl_cache *cache = NULL;
    size_t i;

    j->h = malloc(N * T * H * 4);
    j->dWh = malloc(H * 4 * H * 4);
    for (i = 0; i < N * T * D; i++) x[i] = frand(&s);
    for (i = 0; i < N * H; i++) h0[i] = frand(&s);
    for (i = 0; i < D * 4 * H; i++) Wx[i] = frand(&s) * 0.5f;
    for (i = 0; i < H * 4 * H; i++) Wh[i] = frand(&s) * 0.5f;
    for (i = 0; i < 4 * H; i++) b[i] = frand(&s);
    for (i = 0; i < N * T * H; i++) dh[i] = frand(&s);
    j->st = lstmcl_context_create(&ctx, NULL);
    if (j->st != LSTMCL_SUCCESS) {
        snprintf(j->msg, sizeof j->msg, "%s", lstmcl_last_create_message());
        goto out;
    }
    j->st = lstmcl_forward(ctx, N, T, D, H, x, h0, Wx, Wh, b, j->h, &cache);
    if (j->st == LSTMCL_SUCCESS)
        j->st = lstmcl_backward(ctx, cache, dh, dx, dh0, dWx, j->dWh, db);
    if (j->st != LSTMCL_SUCCESS) {
        snprintf(j->msg, sizeof j->msg, "%s", lstmcl_context_message(ctx));
        goto out;
    }
    {
        double *xd = tu_doubles(x, N * T * D), *h0d = tu_doubles(h0, N * H);
        double *Wxd = tu_doubles(Wx, D * 4 * H), *Whd = tu_doubles(Wh, H * 4 * H);
        double *bd = tu_doubles(b, 4 * H), *dhd = tu_doubles(dh, N * T * H);
        double *rdx = tu_dalloc(N * T * D), *rdh0 = tu_dalloc(N * H), *rdWx = tu_dalloc(D * 4 * H);
        double *rdWh = tu_dalloc(H * 4 * H), *rdb = tu_dalloc(4 * H);
        ref_cache rc;
        if (ref_forward(N, T, D, H, xd, h0d, NULL, Wxd, Whd, bd, &rc) == 0 &&
            ref_backward(&rc, xd, h0d, NULL, Wxd, Whd, dhd, NULL, rdx, rdh0, NULL, rdWx, rdWh,
                         rdb) == 0) {
            j->err_h = ref_rel_error(j->h, rc.h, N * T * H);
            j->err_dWh = ref_rel_error(j->dWh, rdWh, H * 4 * H);
            ref_cache_free(&rc);
        } else {
            j->err_h = j->err_dWh = NAN;
        }
        free(xd), free(h0d), free(Wxd), free(Whd), free(bd), free(dhd), free(rdx), free(rdh0);
        free(rdWx), free(rdWh), free(rdb);
    }
out:
    lstmcl_cache_destroy(cache);
    lstmcl_context_destroy(ctx);
    free(x), free(h0), free(Wx), free(Wh), free(b), free(dh), free(dx), free(dh0), free(dWx);
    free(db);
    return NULL;
}

static void need_device(void)
{
    lstmcl_context *ctx = NULL;
    lstmcl_status st = lstmcl_context_create(&ctx, NULL);
    if (st == LSTMCL_ERROR_NO_DEVICE)
        tu_no_device(lstmcl_last_create_message());
    lstmcl_context_destroy(ctx);
}

/* Four threads, each with its own context, at the same time. */
START_TEST(four_threads)
{
    enum { THREADS = 4 };
    pthread_t th[THREADS];
    job jobs[THREADS];
    int i;
    need_device();
    memset(jobs, 0, sizeof jobs);
    for (i = 0; i < THREADS; i++) {
        jobs[i].N = tu_range(1, 6), jobs[i].T = tu_range(1, 12);
        jobs[i].D = tu_range(1, 40), jobs[i].H = tu_range(1, 40);
        jobs[i].seed = (unsigned)tu_range(1, 1000000);
        ck_assert_int_eq(pthread_create(&th[i], NULL, run_job, &jobs[i]), 0);
    }
    for (i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    for (i = 0; i < THREADS; i++) {
        ck_assert_msg(jobs[i].st == LSTMCL_SUCCESS, "thread %d: %s: %s", i,
                      lstmcl_status_name(jobs[i].st), jobs[i].msg);
        ck_assert_msg(jobs[i].err_h <= 1e-5 && jobs[i].err_dWh <= 1e-4,
                      "thread %d: errors %.3e %.3e (seed %llu)", i, jobs[i].err_h,
                      jobs[i].err_dWh, tu_seed());
        free(jobs[i].h), free(jobs[i].dWh);
    }
}
END_TEST

/* Results repeat to the bit, in another context too. */
START_TEST(bitwise_across_contexts)
{
    job a, b;
    need_device();
    memset(&a, 0, sizeof a);
    a.N = 5, a.T = 9, a.D = 17, a.H = 23, a.seed = 99;
    b = a;
    run_job(&a);
    run_job(&b);
    ck_assert_int_eq(a.st, LSTMCL_SUCCESS);
    ck_assert_int_eq(b.st, LSTMCL_SUCCESS);
    ck_assert(memcmp(a.h, b.h, a.N * a.T * a.H * 4) == 0);
    ck_assert(memcmp(a.dWh, b.dWh, a.H * 4 * a.H * 4) == 0);
    free(a.h), free(a.dWh), free(b.h), free(b.dWh);
}
END_TEST

static long rss_kb(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* 100 contexts, one after another, each running a forward and backward:
 * resident memory stays flat (CLBlast's cache is cleared with the last
 * context, lstmcl's buffers are released). */
START_TEST(hundred_contexts_flat_memory)
{
    long after10 = 0, after100;
    int i;
    need_device();
    for (i = 1; i <= 100; i++) {
        job j;
        memset(&j, 0, sizeof j);
        j.N = 3, j.T = 4, j.D = 5, j.H = 6, j.seed = (unsigned)i;
        run_job(&j);
        ck_assert_msg(j.st == LSTMCL_SUCCESS, "iteration %d: %s", i, j.msg);
        free(j.h), free(j.dWh);
        if (i == 10)
            after10 = rss_kb();
    }
    after100 = rss_kb();
    ck_assert_int_gt(after10, 0);
    printf("resident memory after 10 contexts %ld kB, after 100 %ld kB\n", after10, after100);
    ck_assert_msg(after100 - after10 < 16 * 1024,
                  "resident memory grew by %ld kB over 90 create/run/destroy cycles",
                  after100 - after10);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("robust");
    TCase *tc = tcase_create("contexts");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, four_threads);
    tcase_add_test(tc, bitwise_across_contexts);
    tcase_add_test(tc, hundred_contexts_flat_memory);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
