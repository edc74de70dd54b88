/* lstmcl-bench: times lstmcl's forward and backward and, in the same run, the
 * same work on the host with OpenBLAS, structured as the seed does it (a) and
 * as lstmcl does it (b), and with oneDNN's LSTM (c) where lstmcl-bench was
 * built with libdnnl-dev.  Prints a table, CSV or JSON. */
#define _POSIX_C_SOURCE 200809L
#include "hostlstm.h"
#ifdef LSTMCL_BENCH_ONEDNN
#include "dnnlstm.h"
#endif
#include "lstmcl_train.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
extern char *openblas_get_config(void);
extern int openblas_get_num_threads(void);

/* ------------------------------------------------------------ plumbing */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void die(const char *what, lstmcl_context *ctx, lstmcl_status st)
{
    fprintf(stderr, "lstmcl-bench: %s: %s: %s\n", what, lstmcl_status_string(st),
            ctx ? lstmcl_context_message(ctx) : lstmcl_last_create_message());
    exit(1);
}

static float *rnd(size_t n, double scale, unsigned long long *state)
{
    float *p = malloc(n * sizeof *p);
    size_t i;
    if (!p) {
        fprintf(stderr, "lstmcl-bench: out of memory\n");
        exit(1);
    }
    for (i = 0; i < n; i++) {
        unsigned long long x = *state;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        *state = x;
        p[i] = (float)(((double)(x >> 11) / 9007199254740992.0 * 2 - 1) * scale);
    }
    return p;
}

static double rel_diff(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* -------------------------------------------------------------- shapes */

typedef struct {
    size_t N, T, D, H;
    const char *name;
} shape;

/* DeepBench's LSTM training set (hidden, batch, steps) with D = H, and ours. */
static const shape full_set[] = {
    {64, 50, 512, 512, "reference"},
    {16, 25, 512, 512, "deepbench"},   {64, 25, 512, 512, "deepbench"},
    {32, 25, 1024, 1024, "deepbench"}, {128, 25, 1024, 1024, "deepbench"},
    {16, 50, 1536, 1536, "deepbench"}, {32, 25, 2048, 2048, "deepbench"},
    {16, 150, 256, 256, "deepbench"},  {64, 150, 256, 256, "deepbench"},
};
static const shape quick_set[] = {
    {64, 50, 512, 512, "reference"},
    {16, 150, 256, 256, "deepbench"},
    {16, 25, 512, 512, "deepbench"},
};

enum { P_INFER, P_TRAIN_FWD, P_BWD, P_STEP, P_COUNT };
static const char *const pass_names[P_COUNT] = {"inference", "train-fwd", "backward",
                                                "train-step"};
enum { I_HOST_API, I_DEVICE_API, I_SEED, I_HOISTED, I_ONEDNN, I_COUNT };
static const char *const impl_names[I_COUNT] = {"lstmcl-host-api", "lstmcl-device-api",
                                                "openblas-seed", "openblas-hoisted", "onednn"};

typedef struct {
    shape s;
    double t[P_COUNT][I_COUNT]; /* seconds; 0 = not measured */
    double agree;               /* normalised difference of h, lstmcl vs host */
    double agree_dnn;           /* largest normalised difference of h and the
                                 * gradients, lstmcl vs oneDNN */
} result;

/* Baselines must agree with lstmcl; beyond this a timing is not comparable. */
#define AGREE_BOUND 1e-4

static double flops(const shape *s, int pass)
{
    double fwd = 2.0 * s->N * s->T * (double)(s->D + s->H) * 4.0 * s->H;
    return pass == P_BWD ? 2 * fwd : pass == P_STEP ? 3 * fwd : fwd;
}

/* ---------------------------------------------------------- measuring */

typedef struct {
    int warmup, repeat;
} timing;

#define TIME(tm, out, body)                                 \
    do {                                                    \
        double v_[64];                                      \
        int r_;                                             \
        const double w0_ = now();                           \
        for (r_ = 0; r_ < (tm)->warmup || ((tm)->warmup &&  \
                     r_ < 100 && now() - w0_ < 0.2); r_++) {\
            body;                                           \
        }                                                   \
        for (r_ = 0; r_ < (tm)->repeat; r_++) {             \
            double t0_ = now();                             \
            body;                                           \
            v_[r_] = now() - t0_;                           \
        }                                                   \
        (out) = median(v_, (tm)->repeat);                   \
    } while (0)

/* Called before each implementation's timings: says what runs, then pauses
 * 0.3 s, so that the threads of the one before (OpenBLAS's, OpenMP's) have
 * stopped spinning and take no core from this one. */
static void progress(const shape *s, const char *what)
{
    const struct timespec settle = {0, 300000000};
    fprintf(stderr, "\r  N=%zu T=%zu D=%zu H=%zu: %-34s", s->N, s->T, s->D, s->H, what);
    fflush(stderr);
    nanosleep(&settle, NULL);
}

static cl_mem upload(lstmcl_context *ctx, const float *src, size_t n)
{
    cl_int err;
    cl_mem m = clCreateBuffer(lstmcl_context_cl_context(ctx), CL_MEM_READ_WRITE |
                              (src ? CL_MEM_COPY_HOST_PTR : 0), n * sizeof(float),
                              (void *)src, &err);
    if (err != CL_SUCCESS) {
        fprintf(stderr, "lstmcl-bench: clCreateBuffer of %zu floats failed (%d)\n", n, (int)err);
        exit(1);
    }
    return m;
}

static void measure(lstmcl_context *ctx, const shape *s, const timing *tm, int host, result *res)
{
    const size_t N = s->N, T = s->T, D = s->D, H = s->H;
    unsigned long long seed = 12345;
    const double ws = 1.0 / sqrt((double)H);
    float *x = rnd(N * T * D, 1, &seed), *h0 = rnd(N * H, .5, &seed);
    float *Wx = rnd(D * 4 * H, ws, &seed), *Wh = rnd(H * 4 * H, ws, &seed);
    float *b = rnd(4 * H, .1, &seed), *dh = rnd(N * T * H, 1, &seed);
    float *h = malloc(N * T * H * 4), *hh = malloc(N * T * H * 4), *dx = malloc(N * T * D * 4);
    float *dh0 = malloc(N * H * 4), *dWx = malloc(D * 4 * H * 4), *dWh = malloc(H * 4 * H * 4);
    float *db = malloc(4 * H * 4);
    lstmcl_cache *cache = NULL;
    lstmcl_status st;
    int p;

    memset(res, 0, sizeof *res);
    res->s = *s;
    if (!h || !hh || !dx || !dh0 || !dWx || !dWh || !db) {
        fprintf(stderr, "lstmcl-bench: out of memory\n");
        exit(1);
    }

    /* lstmcl, host-pointer API (copies included) */
    progress(s, "lstmcl host API");
    TIME(tm, res->t[P_INFER][I_HOST_API], {
        st = lstmcl_forward(ctx, N, T, D, H, x, h0, Wx, Wh, b, h, NULL);
        if (st) die("lstmcl_forward", ctx, st);
    });
    TIME(tm, res->t[P_TRAIN_FWD][I_HOST_API], {
        lstmcl_cache_destroy(cache);
        st = lstmcl_forward(ctx, N, T, D, H, x, h0, Wx, Wh, b, h, &cache);
        if (st) die("lstmcl_forward", ctx, st);
    });
    TIME(tm, res->t[P_BWD][I_HOST_API], {
        st = lstmcl_backward(ctx, cache, dh, dx, dh0, dWx, dWh, db);
        if (st) die("lstmcl_backward", ctx, st);
    });
    lstmcl_cache_destroy(cache);

    /* lstmcl, device-buffer API (data stays on the device) */
    progress(s, "lstmcl device API");
    {
        cl_command_queue q = lstmcl_context_queue(ctx);
        cl_mem bx = upload(ctx, x, N * T * D), bh0 = upload(ctx, h0, N * H);
        cl_mem bWx = upload(ctx, Wx, D * 4 * H), bWh = upload(ctx, Wh, H * 4 * H);
        cl_mem bb = upload(ctx, b, 4 * H), bh = upload(ctx, NULL, N * T * H);
        cl_mem bdh = upload(ctx, dh, N * T * H), bdx = upload(ctx, NULL, N * T * D);
        cl_mem bdh0 = upload(ctx, NULL, N * H), bdWx = upload(ctx, NULL, D * 4 * H);
        cl_mem bdWh = upload(ctx, NULL, H * 4 * H), bdb = upload(ctx, NULL, 4 * H), reserve;
        lstmcl_plan *plan = NULL;
        lstmcl_forward_args fa;
        lstmcl_backward_args ba;
        size_t rbytes;

        if ((st = lstmcl_plan_create(&plan, ctx, N, T, D, H)))
            die("lstmcl_plan_create", ctx, st);
        lstmcl_plan_reserve_size(plan, &rbytes);
        reserve = upload(ctx, NULL, rbytes / sizeof(float));
        memset(&fa, 0, sizeof fa);
        fa.x.mem = bx, fa.h0.mem = bh0, fa.Wx.mem = bWx, fa.Wh.mem = bWh, fa.b.mem = bb;
        fa.h.mem = bh;
        memset(&ba, 0, sizeof ba);
        ba.x.mem = bx, ba.Wx.mem = bWx, ba.Wh.mem = bWh, ba.dh.mem = bdh, ba.dx.mem = bdx;
        ba.dh0.mem = bdh0, ba.dWx.mem = bdWx, ba.dWh.mem = bdWh, ba.db.mem = bdb;
        ba.reserve = reserve;
        TIME(tm, res->t[P_INFER][I_DEVICE_API], {
            fa.reserve = NULL;
            if ((st = lstmcl_plan_forward(plan, &fa))) die("lstmcl_plan_forward", ctx, st);
            clFinish(q);
        });
        TIME(tm, res->t[P_TRAIN_FWD][I_DEVICE_API], {
            fa.reserve = reserve;
            if ((st = lstmcl_plan_forward(plan, &fa))) die("lstmcl_plan_forward", ctx, st);
            clFinish(q);
        });
        TIME(tm, res->t[P_BWD][I_DEVICE_API], {
            if ((st = lstmcl_plan_backward(plan, &ba))) die("lstmcl_plan_backward", ctx, st);
            clFinish(q);
        });
        lstmcl_plan_destroy(plan);
        clReleaseMemObject(bx), clReleaseMemObject(bh0), clReleaseMemObject(bWx);
        clReleaseMemObject(bWh), clReleaseMemObject(bb), clReleaseMemObject(bh);
        clReleaseMemObject(bdh), clReleaseMemObject(bdx), clReleaseMemObject(bdh0);
        clReleaseMemObject(bdWx), clReleaseMemObject(bdWh), clReleaseMemObject(bdb);
        clReleaseMemObject(reserve);
    }

#ifdef LSTMCL_BENCH_ONEDNN
    /* oneDNN, in its native time-major layout: the transposition of x and dh
     * into (T,N,.) and of the results back is not timed; the per-call weight
     * reorders and the zeroing of its accumulated weight gradients are */
    if (host) {
        char err[512] = "";
        dnn_lstm *dn;
        float *xt = malloc(N * T * D * 4), *dht = malloc(N * T * H * 4);
        float *ht = malloc(N * T * H * 4), *dxt = malloc(N * T * D * 4);
        float *gx = malloc(N * T * D * 4), *gh0 = malloc(N * H * 4), *gWx = malloc(D * 4 * H * 4);
        float *gWh = malloc(H * 4 * H * 4), *gb = malloc(4 * H * 4);
        size_t n, t;
        progress(s, "oneDNN (c)");
        if (!xt || !dht || !ht || !dxt || !gx || !gh0 || !gWx || !gWh || !gb) {
            fprintf(stderr, "lstmcl-bench: out of memory\n");
            exit(1);
        }
        for (n = 0; n < N; n++)
            for (t = 0; t < T; t++) {
                memcpy(xt + (t * N + n) * D, x + (n * T + t) * D, D * 4);
                memcpy(dht + (t * N + n) * H, dh + (n * T + t) * H, H * 4);
            }
        if (!(dn = dnn_lstm_create(N, T, D, H, Wx, Wh, b, err, sizeof err))) {
            fprintf(stderr, "lstmcl-bench: oneDNN: %s\n", err);
            exit(1);
        }
#define DNN_OK(call)                                                                   \
    do {                                                                               \
        if ((call) != 0) {                                                             \
            fprintf(stderr, "lstmcl-bench: oneDNN: %s\n", dnn_lstm_error(dn));         \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)
        TIME(tm, res->t[P_INFER][I_ONEDNN], DNN_OK(dnn_lstm_forward(dn, 0, xt, h0, ht)));
        TIME(tm, res->t[P_TRAIN_FWD][I_ONEDNN], DNN_OK(dnn_lstm_forward(dn, 1, xt, h0, ht)));
        TIME(tm, res->t[P_BWD][I_ONEDNN],
             DNN_OK(dnn_lstm_backward(dn, xt, h0, ht, dht, dxt, gh0)));
#undef DNN_OK
        dnn_lstm_gradients(dn, gWx, gWh, gb);
        for (n = 0; n < N; n++)
            for (t = 0; t < T; t++) {
                memcpy(hh + (n * T + t) * H, ht + (t * N + n) * H, H * 4);
                memcpy(gx + (n * T + t) * D, dxt + (t * N + n) * D, D * 4);
            }
        /* against lstmcl's host-API results, still in h, dx, dh0, dWx, dWh, db */
        {
            const double d[6] = {rel_diff(h, hh, N * T * H), rel_diff(dx, gx, N * T * D),
                                 rel_diff(dh0, gh0, N * H), rel_diff(dWx, gWx, D * 4 * H),
                                 rel_diff(dWh, gWh, H * 4 * H), rel_diff(db, gb, 4 * H)};
            int k;
            for (k = 0; k < 6; k++)
                if (!(d[k] <= res->agree_dnn))
                    res->agree_dnn = d[k];
        }
        if (!(res->agree_dnn <= AGREE_BOUND)) {
            fprintf(stderr, "\nlstmcl-bench: oneDNN and lstmcl disagree at N=%zu T=%zu D=%zu "
                    "H=%zu: %.2e (normalised, bound %.0e)\n", N, T, D, H, res->agree_dnn,
                    AGREE_BOUND);
            exit(1);
        }
        dnn_lstm_destroy(dn);
        free(xt), free(dht), free(ht), free(dxt), free(gx), free(gh0), free(gWx), free(gWh);
        free(gb);
    }
#endif

    /* the host baselines; training and inference forwards are the same work there */
    if (host) {
        host_lstm hs;
        int how;
        if (host_lstm_init(&hs, N, T, D, H) != 0) {
            fprintf(stderr, "lstmcl-bench: out of memory\n");
            exit(1);
        }
        for (how = 0; how < 2; how++) {
            const int impl = how == 0 ? I_SEED : I_HOISTED;
            const host_structure hw = how == 0 ? HOST_SEED : HOST_HOISTED;
            progress(s, how == 0 ? "OpenBLAS, seed structure (a)" : "OpenBLAS, hoisted (b)");
            TIME(tm, res->t[P_TRAIN_FWD][impl], host_forward(&hs, hw, x, h0, Wx, Wh, b, hh));
            res->t[P_INFER][impl] = res->t[P_TRAIN_FWD][impl];
            TIME(tm, res->t[P_BWD][impl],
                 host_backward(&hs, hw, x, Wx, Wh, dh, dx, dh0, dWx, dWh, db));
        }
        host_lstm_free(&hs);
        res->agree = rel_diff(h, hh, N * T * H);
        if (!(res->agree <= AGREE_BOUND)) {
            fprintf(stderr, "\nlstmcl-bench: OpenBLAS and lstmcl disagree on h at N=%zu T=%zu "
                    "D=%zu H=%zu: %.2e (normalised, bound %.0e)\n", N, T, D, H, res->agree,
                    AGREE_BOUND);
            exit(1);
        }
    }
    for (p = 0; p < I_COUNT; p++)
        if (res->t[P_TRAIN_FWD][p] > 0 && res->t[P_BWD][p] > 0)
            res->t[P_STEP][p] = res->t[P_TRAIN_FWD][p] + res->t[P_BWD][p];
    fprintf(stderr, "\r%80s\r", "");
    free(x), free(h0), free(Wx), free(Wh), free(b), free(dh), free(h), free(hh), free(dx);
    free(dh0), free(dWx), free(dWh), free(db);
}

/* ----------------------------------------------------------- breakdown */

/* What one training forward and backward at N, T, D, H enqueue (the
 * context's counters), on the device-buffer API. */
static void count_pass(lstmcl_context *ctx, size_t N, size_t T, size_t D, size_t H,
                       lstmcl_counters *fwd, lstmcl_counters *bwd)
{
    cl_mem bx = upload(ctx, NULL, N * T * D), bWx = upload(ctx, NULL, D * 4 * H);
    cl_mem bWh = upload(ctx, NULL, H * 4 * H), bb = upload(ctx, NULL, 4 * H);
    cl_mem bh = upload(ctx, NULL, N * T * H), bdh = upload(ctx, NULL, N * T * H);
    cl_mem bdx = upload(ctx, NULL, N * T * D), bdh0 = upload(ctx, NULL, N * H);
    cl_mem bdWx = upload(ctx, NULL, D * 4 * H), bdWh = upload(ctx, NULL, H * 4 * H);
    cl_mem bdb = upload(ctx, NULL, 4 * H), reserve, h0 = upload(ctx, NULL, N * H);
    lstmcl_plan *plan = NULL;
    lstmcl_forward_args fa;
    lstmcl_backward_args ba;
    lstmcl_status st;
    size_t rbytes = 0;
    cl_mem all[12];
    int i;

    if ((st = lstmcl_plan_create(&plan, ctx, N, T, D, H)))
        die("lstmcl_plan_create", ctx, st);
    lstmcl_plan_reserve_size(plan, &rbytes);
    reserve = upload(ctx, NULL, rbytes / sizeof(float));
    memset(&fa, 0, sizeof fa);
    fa.x.mem = bx, fa.h0.mem = h0, fa.Wx.mem = bWx, fa.Wh.mem = bWh, fa.b.mem = bb;
    fa.h.mem = bh, fa.reserve = reserve;
    memset(&ba, 0, sizeof ba);
    ba.x.mem = bx, ba.Wx.mem = bWx, ba.Wh.mem = bWh, ba.dh.mem = bdh, ba.dx.mem = bdx;
    ba.dh0.mem = bdh0, ba.dWx.mem = bdWx, ba.dWh.mem = bdWh, ba.db.mem = bdb;
    ba.reserve = reserve;
    lstmcl_context_counters(ctx, NULL, 1);
    if ((st = lstmcl_plan_forward(plan, &fa)))
        die("lstmcl_plan_forward", ctx, st);
    lstmcl_context_counters(ctx, fwd, 1);
    if ((st = lstmcl_plan_backward(plan, &ba)))
        die("lstmcl_plan_backward", ctx, st);
    lstmcl_context_counters(ctx, bwd, 1);
    clFinish(lstmcl_context_queue(ctx));
    lstmcl_plan_destroy(plan);
    all[0] = bx, all[1] = bWx, all[2] = bWh, all[3] = bb, all[4] = bh, all[5] = bdh;
    all[6] = bdx, all[7] = bdh0, all[8] = bdWx, all[9] = bdWh, all[10] = bdb, all[11] = reserve;
    for (i = 0; i < 12; i++)
        clReleaseMemObject(all[i]);
    clReleaseMemObject(h0);
}

/* Launches per time step: the difference between sequences of T+1 and T
 * steps (what runs once per call cancels out). */
static void per_step_launches(lstmcl_context *ctx, const shape *s)
{
    lstmcl_counters f1, b1, f2, b2;
    const size_t T = s->T > 1 ? s->T - 1 : 1;
    count_pass(ctx, s->N, T, s->D, s->H, &f1, &b1);
    count_pass(ctx, s->N, T + 1, s->D, s->H, &f2, &b2);
    printf("launches per step (%s path): forward %llu lstmcl kernel%s + %llu %s GEMM%s "
           "(%llu padding or copying); backward %llu + %llu (%llu padding or copying)\n",
           lstmcl_context_recurrent_path(ctx), f2.kernels - f1.kernels,
           f2.kernels - f1.kernels == 1 ? "" : "s", f2.gemms - f1.gemms,
           strcmp(lstmcl_context_gemm(ctx), "onednn") ? "CLBlast" : "oneDNN",
           f2.gemms - f1.gemms == 1 ? "" : "s", f2.gemms_copying - f1.gemms_copying,
           b2.kernels - b1.kernels, b2.gemms - b1.gemms, b2.gemms_copying - b1.gemms_copying);
}

/* Where a training step's time goes at one shape: the big GEMMs timed alone
 * through lstmcl's linear layer (the same GEMM calls the passes make),
 * and the per-step work as what is left of each pass. */
static void breakdown(lstmcl_context *ctx, const shape *s, const timing *tm, const result *r)
{
    const size_t NT = s->N * s->T, D = s->D, H = s->H, G = 4 * H;
    cl_command_queue q = lstmcl_context_queue(ctx);
    cl_mem X = upload(ctx, NULL, NT * D), W = upload(ctx, NULL, D * G);
    cl_mem A = upload(ctx, NULL, NT * G), dX = upload(ctx, NULL, NT * D);
    cl_mem dW = upload(ctx, NULL, D * G), Hp = upload(ctx, NULL, NT * H);
    cl_mem dWh = upload(ctx, NULL, H * G);
    lstmcl_tensor tX = {X, 0}, tW = {W, 0}, tA = {A, 0}, tdX = {dX, 0}, tdW = {dW, 0};
    lstmcl_tensor tHp = {Hp, 0}, tdWh = {dWh, 0}, none = {NULL, 0};
    double t_nn, t_nt, t_tn, t_tn_h, f = 2.0 * NT * G * D, fh = 2.0 * NT * G * H;
    double fwd_steps, bwd_steps, step_flop = 2.0 * NT * G * H;
    lstmcl_status st;
    const float zero = 0.0f;
    cl_mem all[7];
    int i;

    all[0] = X, all[1] = W, all[2] = A, all[3] = dX, all[4] = dW, all[5] = Hp, all[6] = dWh;
    for (i = 0; i < 7; i++) {
        size_t bytes = 0;
        clGetMemObjectInfo(all[i], CL_MEM_SIZE, sizeof bytes, &bytes, NULL);
        clEnqueueFillBuffer(q, all[i], &zero, sizeof zero, 0, bytes, 0, NULL, NULL);
    }
    TIME(tm, t_nn, {
        if ((st = lstmcl_linear_forward(ctx, NT, D, G, tX, tW, none, tA)))
            die("lstmcl_linear_forward", ctx, st);
        clFinish(q);
    });
    TIME(tm, t_nt, {
        if ((st = lstmcl_linear_backward(ctx, NT, D, G, tX, tW, tA, tdX, none, none, 0)))
            die("lstmcl_linear_backward", ctx, st);
        clFinish(q);
    });
    TIME(tm, t_tn, {
        if ((st = lstmcl_linear_backward(ctx, NT, D, G, tX, tW, tA, none, tdW, none, 0)))
            die("lstmcl_linear_backward", ctx, st);
        clFinish(q);
    });
    TIME(tm, t_tn_h, {
        if ((st = lstmcl_linear_backward(ctx, NT, H, G, tHp, tdWh, tA, none, tdWh, none, 0)))
            die("lstmcl_linear_backward", ctx, st);
        clFinish(q);
    });
    for (i = 0; i < 7; i++)
        clReleaseMemObject(all[i]);
    fwd_steps = r->t[P_TRAIN_FWD][I_DEVICE_API] - t_nn;
    bwd_steps = r->t[P_BWD][I_DEVICE_API] - t_nt - t_tn - t_tn_h;
    printf("\nwhere the time goes at N=%zu T=%zu D=%zu H=%zu (device-buffer API, medians):\n",
           s->N, s->T, s->D, s->H);
    printf("  %-44s %8.1f ms %7.1f GFLOP/s\n", "x.Wx, all steps (GEMM NN)", t_nn * 1e3,
           f / t_nn * 1e-9);
    printf("  %-44s %8.1f ms %7.1f GFLOP/s\n", "dx, all steps (GEMM NT)", t_nt * 1e3,
           f / t_nt * 1e-9);
    printf("  %-44s %8.1f ms %7.1f GFLOP/s\n", "dWx, all steps (GEMM TN)", t_tn * 1e3,
           f / t_tn * 1e-9);
    printf("  %-44s %8.1f ms %7.1f GFLOP/s\n", "dWh, all steps (GEMM TN)", t_tn_h * 1e3,
           fh / t_tn_h * 1e-9);
    printf("  %-44s %8.1f ms %7.1f GFLOP/s\n", "per-step forward work (the rest of train-fwd)",
           fwd_steps * 1e3, fwd_steps > 0 ? step_flop / fwd_steps * 1e-9 : 0.0);
    printf("  %-44s %8.1f ms %7.1f GFLOP/s\n", "per-step backward work (the rest of backward)",
           bwd_steps * 1e3, bwd_steps > 0 ? step_flop / bwd_steps * 1e-9 : 0.0);
    per_step_launches(ctx, s);
}

/* ------------------------------------------------------ layer features */

/* A layer's inference forward, or training forward and backward, on the
 * device (a one-layer lstmcl_stack): unidirectional or bidirectional (its
 * directions side by side, writing the halves of one (T,N,2H) output),
 * over full sequences or lengths spread evenly over 1..T (so about half
 * the steps of a full batch).  Returns the training time. */
static double layer_cost(lstmcl_context *ctx, const shape *s, const timing *tm, int dirs,
                         int spread, double *infer)
{
    const size_t N = s->N, T = s->T, D = s->D, H = s->H, yw = dirs * H;
    unsigned long long seed = 777;
    lstmcl_stack_desc desc;
    lstmcl_stack *st_ = NULL;
    lstmcl_tensor none = {NULL, 0}, tx, tp, ty, tdy, tdx, tdp;
    size_t count, n;
    float *x, *p, *dy;
    int *len = malloc(N * sizeof *len);
    lstmcl_status st;
    double t = 0;

    memset(&desc, 0, sizeof desc);
    desc.layers = 1, desc.directions = (size_t)dirs, desc.N = N, desc.T = T, desc.D = D;
    desc.H = H, desc.layout = LSTMCL_TIME_MAJOR;
    if ((st = lstmcl_stack_create_ex(&st_, ctx, &desc)))
        die("lstmcl_stack_create_ex", ctx, st);
    for (n = 0; n < N; n++) /* 1..T, evenly */
        len[n] = (int)(1 + (n * T) / N);
    if ((st = lstmcl_stack_set_lengths(st_, spread ? len : NULL)))
        die("lstmcl_stack_set_lengths", ctx, st);
    count = lstmcl_stack_param_count(st_);
    x = rnd(N * T * D, 1, &seed), p = rnd(count, 1.0 / sqrt((double)H), &seed);
    dy = rnd(N * T * yw, 1, &seed);
    tx.mem = upload(ctx, x, N * T * D), tp.mem = upload(ctx, p, count);
    ty.mem = upload(ctx, NULL, N * T * yw), tdy.mem = upload(ctx, dy, N * T * yw);
    tdx.mem = upload(ctx, NULL, N * T * D), tdp.mem = upload(ctx, NULL, count);
    tx.offset = tp.offset = ty.offset = tdy.offset = tdx.offset = tdp.offset = 0;
    TIME(tm, *infer, {
        if ((st = lstmcl_stack_forward(st_, tx, tp, none, none, none, none, ty, 0)))
            die("lstmcl_stack_forward", ctx, st);
        clFinish(lstmcl_context_queue(ctx));
    });
    TIME(tm, t, {
        if ((st = lstmcl_stack_forward(st_, tx, tp, none, none, none, none, ty, 1)))
            die("lstmcl_stack_forward", ctx, st);
        if ((st = lstmcl_stack_backward(st_, tx, tp, none, tdy, tdx, tdp, 0)))
            die("lstmcl_stack_backward", ctx, st);
        clFinish(lstmcl_context_queue(ctx));
    });
    lstmcl_stack_destroy(st_);
    clReleaseMemObject(tx.mem), clReleaseMemObject(tp.mem), clReleaseMemObject(ty.mem);
    clReleaseMemObject(tdy.mem), clReleaseMemObject(tdx.mem), clReleaseMemObject(tdp.mem);
    free(x), free(p), free(dy), free(len);
    return t;
}

/* Bidirectional and variable-length layers beside the unidirectional full
 * batch, at one shape, measured in this run. */
static void layer_features(lstmcl_context *ctx, const shape *s, const timing *tm)
{
    static const char *const names[4] = {
        "unidirectional, full batch", "bidirectional, full batch",
        "unidirectional, lengths 1..T", "bidirectional, lengths 1..T"};
    double train[4], infer[4];
    int k;
    for (k = 0; k < 4; k++) {
        progress(s, names[k]);
        train[k] = layer_cost(ctx, s, tm, 1 + (k & 1), k >> 1, &infer[k]);
    }
    fprintf(stderr, "\n");
    printf("\none layer (lstmcl_stack) on the device API at N=%zu T=%zu D=%zu H=%zu, time-major "
           "(lengths: spread evenly over 1..T, %.0f%% of the full batch's steps):\n",
           s->N, s->T, s->D, s->H, 100.0 * (s->N * (s->T + 1) / 2.0) / (double)(s->N * s->T));
    printf("  %-30s %12s %8s %14s %8s\n", "", "inference ms", "x uni", "fwd+bwd ms", "x uni");
    for (k = 0; k < 4; k++)
        printf("  %-30s %12.2f %8.2f %14.2f %8.2f\n", names[k], 1e3 * infer[k],
               infer[k] / infer[0], 1e3 * train[k], train[k] / train[0]);
}

/* ------------------------------------------------------- first calls */

/* In a child: create a context and run one forward+backward; print the time. */
static int first_call_child(const char *device, const shape *s)
{
    unsigned long long seed = 7;
    const size_t N = s->N, T = s->T, D = s->D, H = s->H;
    float *x = rnd(N * T * D, 1, &seed), *h0 = rnd(N * H, .5, &seed);
    float *Wx = rnd(D * 4 * H, .05, &seed), *Wh = rnd(H * 4 * H, .05, &seed);
    float *b = rnd(4 * H, .1, &seed), *dh = rnd(N * T * H, 1, &seed);
    float *h = malloc(N * T * H * 4), *dx = malloc(N * T * D * 4), *dh0 = malloc(N * H * 4);
    float *dWx = malloc(D * 4 * H * 4), *dWh = malloc(H * 4 * H * 4), *db = malloc(4 * H * 4);
    lstmcl_context *ctx = NULL;
    lstmcl_cache *cache = NULL;
    lstmcl_status st;
    double t0 = now(), t1;

    if ((st = lstmcl_context_create(&ctx, device)))
        die("lstmcl_context_create", NULL, st);
    t1 = now();
    if ((st = lstmcl_forward(ctx, N, T, D, H, x, h0, Wx, Wh, b, h, &cache)) ||
        (st = lstmcl_backward(ctx, cache, dh, dx, dh0, dWx, dWh, db)))
        die("first call", ctx, st);
    printf("FIRST %.6f %.6f\n", t1 - t0, now() - t1);
    lstmcl_cache_destroy(cache);
    lstmcl_context_destroy(ctx);
    return 0;
}

/* Runs this program as a child with its caches in cache_dir: PoCL's kernel
 * cache (POCL_CACHE_DIR) and Mesa's shader cache (MESA_SHADER_CACHE_DIR)
 * in cache_dir/DRIVER, lstmcl's program-binary cache (LSTMCL_CACHE_DIR) in
 * cache_dir/lstmcl; returns the seconds of context creation and of the
 * first forward+backward. */
static int spawn_first_call(const char *self, const char *device, const shape *s,
                            const char *cache_dir, const char *driver, double *create,
                            double *call)
{
    static const char *const vars[3] = {"POCL_CACHE_DIR=", "MESA_SHADER_CACHE_DIR=",
                                        "LSTMCL_CACHE_DIR="};
    char shape_arg[96], env[3][4200], path[] = "/tmp/lstmcl-bench-out-XXXXXX";
    char *argv[8];
    char **envp;
    size_t n = 0, i, m = 0, v;
    int fd, status, argc = 0, ok = -1;
    pid_t pid;
    posix_spawn_file_actions_t fa;
    FILE *f;

    snprintf(shape_arg, sizeof shape_arg, "%zu,%zu,%zu,%zu", s->N, s->T, s->D, s->H);
    snprintf(env[0], sizeof env[0], "%s%s/%s/pocl", vars[0], cache_dir, driver);
    snprintf(env[1], sizeof env[1], "%s%s/%s/mesa", vars[1], cache_dir, driver);
    snprintf(env[2], sizeof env[2], "%s%s/lstmcl", vars[2], cache_dir);
    argv[argc++] = (char *)self;
    argv[argc++] = "--first-call-child";
    argv[argc++] = shape_arg;
    if (device) {
        argv[argc++] = "--device";
        argv[argc++] = (char *)device;
    }
    argv[argc] = NULL;
    while (environ[n])
        n++;
    envp = calloc(n + 4, sizeof *envp);
    if (!envp)
        return -1;
    for (i = 0; i < n; i++) {
        for (v = 0; v < 3; v++)
            if (strncmp(environ[i], vars[v], strlen(vars[v])) == 0)
                break;
        if (v == 3)
            envp[m++] = environ[i];
    }
    for (v = 0; v < 3; v++)
        envp[m++] = env[v];
    fd = mkstemp(path);
    if (fd < 0) {
        free(envp);
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd, 1);
    if (posix_spawn(&pid, self, &fa, NULL, argv, envp) == 0 && waitpid(pid, &status, 0) == pid &&
        WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        f = fopen(path, "r");
        if (f && fscanf(f, "FIRST %lf %lf", create, call) == 2)
            ok = 0;
        if (f)
            fclose(f);
    }
    posix_spawn_file_actions_destroy(&fa);
    close(fd);
    unlink(path);
    free(envp);
    return ok;
}

static int remove_tree(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

/* ------------------------------------------------------------- output */

typedef enum { OUT_TABLE, OUT_CSV, OUT_JSON } out_format;

/* baseline time over lstmcl host-API time, 0 where either is missing */
static double ratio(const result *r, int p, int base)
{
    return r->t[p][base] > 0 && r->t[p][I_HOST_API] > 0 ? r->t[p][base] / r->t[p][I_HOST_API]
                                                         : 0;
}

static void print_results(out_format fmt, const result *r, int nres)
{
    static const int bases[3] = {I_SEED, I_HOISTED, I_ONEDNN};
    static const char *const base_keys[3] = {"seed", "hoisted", "onednn"};
    int i, p, k, j, ncols = I_COUNT;
    if (fmt == OUT_CSV) {
        printf("N,T,D,H,set,pass,impl,ms,gflops,speedup_vs_seed,speedup_vs_hoisted,"
               "speedup_vs_onednn\n");
        for (i = 0; i < nres; i++)
            for (p = 0; p < P_COUNT; p++)
                for (k = 0; k < I_COUNT; k++) {
                    double t = r[i].t[p][k];
                    if (t <= 0)
                        continue;
                    printf("%zu,%zu,%zu,%zu,%s,%s,%s,%.3f,%.2f", r[i].s.N, r[i].s.T, r[i].s.D,
                           r[i].s.H, r[i].s.name, pass_names[p], impl_names[k], t * 1e3,
                           flops(&r[i].s, p) / t * 1e-9);
                    for (j = 0; j < 3; j++)
                        printf(",%.3f", r[i].t[p][bases[j]] > 0 ? r[i].t[p][bases[j]] / t : 0);
                    printf("\n");
                }
        return;
    }
    if (fmt == OUT_JSON) {
        const char *sep = "";
        printf("  \"results\": [");
        for (i = 0; i < nres; i++)
            for (p = 0; p < P_COUNT; p++)
                for (k = 0; k < I_COUNT; k++) {
                    double t = r[i].t[p][k];
                    if (t <= 0)
                        continue;
                    printf("%s\n    {\"N\": %zu, \"T\": %zu, \"D\": %zu, \"H\": %zu, "
                           "\"set\": \"%s\", \"pass\": \"%s\", \"impl\": \"%s\", "
                           "\"ms\": %.3f, \"gflops\": %.2f",
                           sep, r[i].s.N, r[i].s.T, r[i].s.D, r[i].s.H, r[i].s.name,
                           pass_names[p], impl_names[k], t * 1e3, flops(&r[i].s, p) / t * 1e-9);
                    /* lstmcl's rows carry the speed-ups over each baseline present */
                    if (k == I_HOST_API || k == I_DEVICE_API)
                        for (j = 0; j < 3; j++)
                            if (r[i].t[p][bases[j]] > 0)
                                printf(", \"speedup_vs_%s\": %.3f", base_keys[j],
                                       r[i].t[p][bases[j]] / t);
                    printf("}");
                    sep = ",";
                }
        printf("\n  ]");
        return;
    }
    /* the oneDNN column only where it was measured */
    ncols = I_ONEDNN;
    for (i = 0; i < nres; i++)
        if (r[i].t[P_STEP][I_ONEDNN] > 0)
            ncols = I_COUNT;
    {
        static const char *const heads[I_COUNT] = {"lstmcl host API", "lstmcl device API",
                                                   "(a) OpenBLAS seed", "(b) OpenBLAS hoist",
                                                   "(c) oneDNN"};
        printf("%-22s %-10s", "shape N,T,D,H", "pass");
        for (k = 0; k < ncols; k++)
            printf(" | %17s", heads[k]);
        printf(" | %6s %6s%s\n", "vs(a)", "vs(b)", ncols == I_COUNT ? "  vs(c)" : "");
        printf("%-22s %-10s", "", "");
        for (k = 0; k < ncols; k++)
            printf(" | %8s %8s", "ms", "GFLOP/s");
        printf(" |\n");
    }
    for (i = 0; i < nres; i++) {
        char sh[64];
        snprintf(sh, sizeof sh, "%zu,%zu,%zu,%zu %s", r[i].s.N, r[i].s.T, r[i].s.D, r[i].s.H,
                 r[i].s.name[0] == 'r' ? "(ref)" : r[i].s.name[0] == 'd' ? "(DB)" : "");
        for (p = 0; p < P_COUNT; p++) {
            printf("%-22s %-10s", p == 0 ? sh : "", pass_names[p]);
            for (k = 0; k < ncols; k++) {
                double t = r[i].t[p][k];
                if (t > 0)
                    printf(" | %8.1f %8.1f", t * 1e3, flops(&r[i].s, p) / t * 1e-9);
                else
                    printf(" | %8s %8s", "-", "-");
            }
            printf(" |");
            for (j = 0; j < (ncols == I_COUNT ? 3 : 2); j++) {
                double v = ratio(&r[i], p, bases[j]);
                if (v > 0)
                    printf(" %6.2f", v);
                else
                    printf(" %6s", "-");
            }
            printf("\n");
        }
        if (r[i].agree > 0)
            printf("%-22s h differs from the OpenBLAS result by %.1e (normalised)\n", "",
                   r[i].agree);
        if (r[i].agree_dnn > 0)
            printf("%-22s h and the gradients differ from oneDNN's by at most %.1e "
                   "(normalised)\n", "", r[i].agree_dnn);
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lstmcl-bench [--quick] [--shape N,T,D,H]... [--repeat R] [--warmup W]\n"
            "                    [--device SEL] [--no-host] [--no-first-call] [--no-layers]\n"
            "                    [--csv|--json]\n"
            "Times lstmcl's inference forward, training forward and backward (host-pointer\n"
            "and device-buffer APIs) and the same work on the host: with OpenBLAS (a) as the\n"
            "seed structures it, (b) hoisted as lstmcl does, and (c) oneDNN's LSTM (when\n"
            "built with libdnnl-dev). Ratios are baseline time over lstmcl host-API time:\n"
            "above 1 lstmcl is faster. --no-host skips the host baselines.\n"
            "  --quick          three shapes, 3 repeats (about a minute on a 2-core PoCL)\n"
            "  --shape          add a shape (the default set is DeepBench's LSTM training\n"
            "                   set plus N=64 T=50 D=H=512); given shapes replace the set\n"
            "  --repeat/--warmup timed runs (median reported, default 5) and warm-ups (1;\n"
            "                   unless 0, more until 0.2 s have passed)\n"
            "  --no-first-call  skip timing the first call in fresh processes\n"
            "  --no-layers      skip the bidirectional and variable-length layer at the\n"
            "                   first shape, beside the unidirectional full batch\n"
            "  --breakdown      also time the big GEMMs alone at the first shape and show\n"
            "                   what the per-step work takes (table output)\n");
}

int main(int argc, char **argv)
{
    const char *device = NULL;
    shape custom[32];
    int ncustom = 0, quick = 0, host = 1, first = 1, split = 0, layers = 1, i, nset;
    out_format fmt = OUT_TABLE;
    timing tm = {1, 5};
    const shape *set;
    result *res;
    lstmcl_context *ctx = NULL;
    lstmcl_status st;
    char when[64];
    time_t tnow = time(NULL);
    double fc_create[3] = {0, 0, 0}, fc_call[3] = {0, 0, 0};
    int fc_ok = 0;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--quick")) {
            quick = 1;
        } else if (!strcmp(a, "--no-host")) {
            host = 0;
        } else if (!strcmp(a, "--no-layers")) {
            layers = 0;
        } else if (!strcmp(a, "--breakdown")) {
            split = 1;
        } else if (!strcmp(a, "--no-first-call")) {
            first = 0;
        } else if (!strcmp(a, "--csv")) {
            fmt = OUT_CSV;
        } else if (!strcmp(a, "--json")) {
            fmt = OUT_JSON;
        } else if ((!strcmp(a, "--shape") || !strcmp(a, "--first-call-child")) && v) {
            unsigned long long s[4];
            char extra;
            /* sscanf's %llu takes "-1" as 2^64 - 1: signs are refused first */
            if (strpbrk(v, "-+") ||
                sscanf(v, "%llu,%llu,%llu,%llu%c", &s[0], &s[1], &s[2], &s[3], &extra) != 4 ||
                !s[0] || !s[1] || !s[2] || !s[3] || s[0] > 1000000 || s[1] > 1000000 ||
                s[2] > 1000000 || s[3] > 1000000) {
                fprintf(stderr, "lstmcl-bench: %s %s: give N,T,D,H, each a whole number from 1 "
                                "to 1000000\n", a, v);
                return 2;
            }
            if (ncustom == 32) {
                fprintf(stderr, "lstmcl-bench: at most 32 --shape options\n");
                return 2;
            }
            custom[ncustom].N = s[0], custom[ncustom].T = s[1];
            custom[ncustom].D = s[2], custom[ncustom].H = s[3];
            custom[ncustom].name = "custom";
            ncustom++, i++;
            if (!strcmp(a, "--first-call-child")) {
                for (i++; i + 1 < argc; i++)
                    if (!strcmp(argv[i], "--device"))
                        device = argv[i + 1];
                return first_call_child(device, &custom[0]);
            }
        } else if ((!strcmp(a, "--repeat") || !strcmp(a, "--warmup")) && v) {
            int n = atoi(v);
            if (n < (a[2] == 'r' ? 1 : 0) || n > 64) {
                fprintf(stderr, "lstmcl-bench: %s wants 0..64 (repeat at least 1)\n", a);
                return 2;
            }
            if (a[2] == 'r')
                tm.repeat = n;
            else
                tm.warmup = n;
            i++;
        } else if (!strcmp(a, "--device") && v) {
            device = v, i++;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (quick && tm.repeat == 5)
        tm.repeat = 3;
    set = ncustom ? custom : quick ? quick_set : full_set;
    nset = ncustom ? ncustom
                   : quick ? (int)(sizeof quick_set / sizeof quick_set[0])
                           : (int)(sizeof full_set / sizeof full_set[0]);

    /* first calls in fresh processes, before this process touches OpenCL:
     * every cache empty; the driver's emptied again, lstmcl's program cache
     * kept; then both warm */
    if (first) {
        char dir[] = "/tmp/lstmcl-bench-cache-XXXXXX";
        fprintf(stderr, "first call in a new process, every cache empty...\n");
        if (mkdtemp(dir) &&
            spawn_first_call(argv[0], device, &set[0], dir, "a", &fc_create[0], &fc_call[0]) == 0) {
            fprintf(stderr, "first call in a new process, only lstmcl's program cache warm...\n");
            if (spawn_first_call(argv[0], device, &set[0], dir, "b", &fc_create[2],
                                 &fc_call[2]) == 0) {
                fprintf(stderr, "first call in a new process, every cache warm...\n");
                if (spawn_first_call(argv[0], device, &set[0], dir, "b", &fc_create[1],
                                     &fc_call[1]) == 0)
                    fc_ok = 1;
            }
        }
        remove_tree(dir);
        if (!fc_ok)
            fprintf(stderr, "lstmcl-bench: timing the first call in a child process failed\n");
    }

    if ((st = lstmcl_context_create(&ctx, device)))
        die("lstmcl_context_create", NULL, st);
    res = calloc((size_t)nset, sizeof *res);
    if (!res)
        return 1;
    for (i = 0; i < nset; i++) {
        fprintf(stderr, "[%d/%d]\n", i + 1, nset);
        measure(ctx, &set[i], &tm, host, &res[i]);
    }

    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&tnow));
    {
        char drv[128] = "?", cpu[256] = "?", line[512];
        struct utsname u;
        cl_uint cus = 0;
        FILE *f = fopen("/proc/cpuinfo", "r");
        clGetDeviceInfo(lstmcl_context_device(ctx), CL_DRIVER_VERSION, sizeof drv, drv, NULL);
        clGetDeviceInfo(lstmcl_context_device(ctx), CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cus, &cus,
                        NULL);
        while (f && fgets(line, sizeof line, f))
            if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
                snprintf(cpu, sizeof cpu, "%s", strchr(line, ':') + 2);
                cpu[strcspn(cpu, "\n")] = '\0';
                break;
            }
        if (f)
            fclose(f);
        uname(&u);
        if (fmt == OUT_JSON) {
            printf("{\n  \"date\": \"%s\",\n  \"device\": \"%s\",\n  \"driver\": \"%s\",\n"
                   "  \"recurrent_path\": \"%s\",\n  \"gemm\": \"%s\",\n"
                   "  \"host_cpu\": \"%s\",\n  \"host_cores\": %ld,\n  \"openblas\": \"%s\",\n"
                   "  \"repeat\": %d,\n  \"warmup\": %d,\n",
                   when, lstmcl_context_device_name(ctx), drv,
                   lstmcl_context_recurrent_path(ctx), lstmcl_context_gemm(ctx), cpu,
                   sysconf(_SC_NPROCESSORS_ONLN),
                   openblas_get_config(), tm.repeat, tm.warmup);
            if (fc_ok)
                printf("  \"first_call\": {\"N\": %zu, \"T\": %zu, \"D\": %zu, \"H\": %zu, "
                       "\"cold_cache_s\": %.3f, \"warm_cache_s\": %.3f, "
                       "\"context_create_cold_s\": %.3f, \"context_create_warm_s\": %.3f, "
                       "\"program_cache_only_s\": %.3f, "
                       "\"context_create_program_cache_only_s\": %.3f},\n",
                       set[0].N, set[0].T, set[0].D, set[0].H, fc_call[0], fc_call[1],
                       fc_create[0], fc_create[1], fc_call[2], fc_create[2]);
#ifdef LSTMCL_BENCH_ONEDNN
            printf("  \"onednn\": \"%s\",\n", dnn_lstm_version());
#endif
            print_results(fmt, res, nset);
            printf("\n}\n");
        } else if (fmt == OUT_CSV) {
            print_results(fmt, res, nset);
        } else {
            printf("lstmcl-bench %s, %s\n", lstmcl_version_string(), when);
            printf("device: %s (driver %s, %u compute units)\n", lstmcl_context_device_name(ctx),
                   drv, cus);
            printf("lstmcl: per-step path %s; GEMMs on %s; CLBlast parameters: %s\n",
                   lstmcl_context_recurrent_path(ctx),
                   strcmp(lstmcl_context_gemm(ctx), "onednn")
                       ? "CLBlast"
                       : "oneDNN's sgemm on the host (mapped device buffers)",
                   lstmcl_context_tuning(ctx));
            printf("host:   %s, %ld cores, %s %s; OpenBLAS %s, %d threads\n", cpu,
                   sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.release, openblas_get_config(),
                   openblas_get_num_threads());
#ifdef LSTMCL_BENCH_ONEDNN
            printf("        oneDNN %s (c: native time-major layout, weight reorders and the "
                   "zeroing of dW timed)\n", dnn_lstm_version());
#endif
            printf("times: median of %d runs after %d warm-up; GFLOP/s counts forward "
                   "2*N*T*(D+H)*4H, backward twice that\n"
                   "vs(a), vs(b), vs(c): baseline time / lstmcl host-API time (above 1: lstmcl "
                   "faster)\n\n",
                   tm.repeat, tm.warmup);
            print_results(fmt, res, nset);
            if (split)
                breakdown(ctx, &set[0], &tm, &res[0]);
            if (layers)
                layer_features(ctx, &set[0], &tm);
            if (fc_ok) {
                double steady = res[0].t[P_STEP][I_HOST_API];
                printf("\nfirst forward+backward in a new process at N=%zu T=%zu D=%zu H=%zu "
                       "(the driver's cache: PoCL's kernel cache or Mesa's shader cache):\n"
                       "  every cache empty:                     %.2f s (+ %.2f s creating the "
                       "context)\n"
                       "  driver's cache empty, lstmcl's program cache warm: %.2f s (+ %.2f s)\n"
                       "  every cache warm:                      %.2f s (+ %.2f s creating the "
                       "context), %.2fx the steady state of %.2f s\n",
                       set[0].N, set[0].T, set[0].D, set[0].H, fc_call[0], fc_create[0],
                       fc_call[2], fc_create[2], fc_call[1], fc_create[1],
                       steady > 0 ? fc_call[1] / steady : 0, steady);
            }
        }
    }
    free(res);
    lstmcl_context_destroy(ctx);
    return 0;
}
