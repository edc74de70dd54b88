/* lstmcl-demo: runs one LSTM forward and backward on the chosen device,
 * checks them against the double-precision reference, and times the first
 * and the warm calls. */
#define _POSIX_C_SOURCE 200809L
#include "lstmcl.h"
#include "reference.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lstmcl-demo [--device SELECTOR] [--shape N,T,D,H] [--repeat R]\n"
            "                   [--seed S] [--no-check]\n"
            "Runs an LSTM forward and backward on an OpenCL device, compares the result\n"
            "with a double-precision reference, and reports first-call and warm times.\n"
            "  --device    device selector (default: $LSTMCL_DEVICE, else the first GPU,\n"
            "              else the first device); see lstmcl-devices\n"
            "  --shape     batch, steps, input and hidden size (default 16,32,40,56)\n"
            "  --repeat    warm forward+backward calls to time (default 5)\n"
            "  --no-check  skip the reference (slow at large shapes)\n");
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v == 0)
        return -1;
    *out = (size_t)v;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* xorshift: uniform in [-scale, scale] */
static double uniform(unsigned long long *state, double scale)
{
    unsigned long long x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return ((double)(x >> 11) / 9007199254740992.0 * 2.0 - 1.0) * scale;
}

struct arrays {
    float *x, *h0, *Wx, *Wh, *b, *h, *dh, *dx, *dh0, *dWx, *dWh, *db;
};

int main(int argc, char **argv)
{
    const char *device = NULL;
    size_t N = 16, T = 32, D = 40, H = 56, repeat = 5, i;
    unsigned long long seed = 42;
    int check = 1, rc = 1;
    lstmcl_context *ctx = NULL;
    lstmcl_cache *cache = NULL;
    lstmcl_status st;
    struct arrays a;
    double t0, first, *warm = NULL;
    size_t e_x, e_h, e_wx, e_wh;

    memset(&a, 0, sizeof a);
    for (i = 1; i < (size_t)argc; i++) {
        const char *arg = argv[i];
        const char *val = i + 1 < (size_t)argc ? argv[i + 1] : NULL;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(arg, "--no-check")) {
            check = 0;
        } else if (!strcmp(arg, "--device") && val) {
            device = val, i++;
        } else if (!strcmp(arg, "--shape") && val) {
            unsigned long long v[4];
            char extra;
            if (sscanf(val, "%llu,%llu,%llu,%llu%c", &v[0], &v[1], &v[2], &v[3], &extra) != 4 ||
                !v[0] || !v[1] || !v[2] || !v[3]) {
                fprintf(stderr, "lstmcl-demo: --shape wants four positive sizes N,T,D,H\n");
                return 2;
            }
            N = v[0], T = v[1], D = v[2], H = v[3], i++;
        } else if (!strcmp(arg, "--repeat") && val) {
            if (parse_size(val, &repeat) != 0) {
                fprintf(stderr, "lstmcl-demo: --repeat wants a positive number\n");
                return 2;
            }
            i++;
        } else if (!strcmp(arg, "--seed") && val) {
            size_t s;
            if (parse_size(val, &s) != 0) {
                fprintf(stderr, "lstmcl-demo: --seed wants a positive number\n");
                return 2;
            }
            seed = s, i++;
        } else {
            usage(stderr);
            return 2;
        }
    }

    printf("lstmcl %s\n", lstmcl_version_string());
    t0 = now();
    st = lstmcl_context_create(&ctx, device);
    if (st != LSTMCL_SUCCESS) {
        fprintf(stderr, "lstmcl-demo: cannot create a context: %s\n%s\n",
                lstmcl_status_string(st), lstmcl_last_create_message());
        return 1;
    }
    printf("device: %s (context created in %.0f ms)\n", lstmcl_context_device_name(ctx),
           (now() - t0) * 1e3);
    printf("program: %s\n", lstmcl_context_program_cache(ctx));
    printf("shape: N=%zu T=%zu D=%zu H=%zu\n", N, T, D, H);

    e_x = N * T * D, e_h = N * T * H, e_wx = D * 4 * H, e_wh = H * 4 * H;
    a.x = malloc(e_x * sizeof(float));
    a.dx = malloc(e_x * sizeof(float));
    a.h0 = malloc(N * H * sizeof(float));
    a.dh0 = malloc(N * H * sizeof(float));
    a.Wx = malloc(e_wx * sizeof(float));
    a.dWx = malloc(e_wx * sizeof(float));
    a.Wh = malloc(e_wh * sizeof(float));
    a.dWh = malloc(e_wh * sizeof(float));
    a.b = malloc(4 * H * sizeof(float));
    a.db = malloc(4 * H * sizeof(float));
    a.h = malloc(e_h * sizeof(float));
    a.dh = malloc(e_h * sizeof(float));
    warm = malloc(repeat * sizeof *warm);
    if (!a.x || !a.dx || !a.h0 || !a.dh0 || !a.Wx || !a.dWx || !a.Wh || !a.dWh || !a.b || !a.db ||
        !a.h || !a.dh || !warm) {
        fprintf(stderr, "lstmcl-demo: out of memory\n");
        goto done;
    }
    {
        unsigned long long s = seed * 2654435761ull + 1;
        double ws = 1.0 / (D + H > 0 ? __builtin_sqrt((double)(D + H)) : 1.0);
        for (i = 0; i < e_x; i++) a.x[i] = (float)uniform(&s, 1.0);
        for (i = 0; i < N * H; i++) a.h0[i] = (float)uniform(&s, 0.5);
        for (i = 0; i < e_wx; i++) a.Wx[i] = (float)uniform(&s, ws);
        for (i = 0; i < e_wh; i++) a.Wh[i] = (float)uniform(&s, ws);
        for (i = 0; i < 4 * H; i++) a.b[i] = (float)uniform(&s, 0.1);
        for (i = 0; i < e_h; i++) a.dh[i] = (float)uniform(&s, 1.0);
    }

    for (i = 0; i <= repeat; i++) {
        t0 = now();
        st = lstmcl_forward(ctx, N, T, D, H, a.x, a.h0, a.Wx, a.Wh, a.b, a.h, &cache);
        if (st == LSTMCL_SUCCESS)
            st = lstmcl_backward(ctx, cache, a.dh, a.dx, a.dh0, a.dWx, a.dWh, a.db);
        lstmcl_cache_destroy(cache);
        cache = NULL;
        if (st != LSTMCL_SUCCESS) {
            fprintf(stderr, "lstmcl-demo: %s: %s\n", lstmcl_status_string(st),
                    lstmcl_context_message(ctx));
            goto done;
        }
        if (i == 0)
            first = now() - t0;
        else
            warm[i - 1] = now() - t0;
    }
    qsort(warm, repeat, sizeof *warm, cmp_double);
    printf("forward+backward: first call %.1f ms (includes compiling the GEMM kernels), "
           "warm median of %zu: %.1f ms (%.2f GFLOP/s)\n",
           first * 1e3, repeat, warm[repeat / 2] * 1e3,
           3.0 * 2.0 * N * T * (double)(D + H) * 4.0 * H / warm[repeat / 2] * 1e-9);

    if (check) {
        double *dbl[6];
        const size_t cnt[6] = {e_x, N * H, e_wx, e_wh, 4 * H, e_h};
        const float *src[6] = {a.x, a.h0, a.Wx, a.Wh, a.b, a.dh};
        double *rdx, *rdh0, *rdWx, *rdWh, *rdb;
        ref_cache rc_;
        size_t k;
        int ok = 1;
        fflush(stdout);
        fprintf(stderr, "computing the double-precision reference...\n");
        for (k = 0; k < 6; k++) {
            dbl[k] = malloc(cnt[k] * sizeof(double));
            if (!dbl[k]) {
                fprintf(stderr, "lstmcl-demo: out of memory\n");
                goto done;
            }
            for (i = 0; i < cnt[k]; i++)
                dbl[k][i] = src[k][i];
        }
        rdx = malloc(e_x * sizeof(double));
        rdh0 = malloc(N * H * sizeof(double));
        rdWx = malloc(e_wx * sizeof(double));
        rdWh = malloc(e_wh * sizeof(double));
        rdb = malloc(4 * H * sizeof(double));
        if (!rdx || !rdh0 || !rdWx || !rdWh || !rdb ||
            ref_forward(N, T, D, H, dbl[0], dbl[1], NULL, dbl[2], dbl[3], dbl[4], &rc_) != 0 ||
            ref_backward(&rc_, dbl[0], dbl[1], NULL, dbl[2], dbl[3], dbl[5], NULL, rdx, rdh0,
                         NULL, rdWx, rdWh, rdb) != 0) {
            fprintf(stderr, "lstmcl-demo: out of memory\n");
            goto done;
        }
        {
            const char *names[6] = {"h", "dx", "dh0", "dWx", "dWh", "db"};
            const float *got[6] = {a.h, a.dx, a.dh0, a.dWx, a.dWh, a.db};
            const double *want[6] = {rc_.h, rdx, rdh0, rdWx, rdWh, rdb};
            const size_t n6[6] = {e_h, e_x, N * H, e_wx, e_wh, 4 * H};
            for (k = 0; k < 6; k++) {
                double err = ref_rel_error(got[k], want[k], n6[k]);
                double bound = k == 0 ? 1e-5 : 1e-4;
                int pass = err <= bound;
                ok &= pass;
                printf("  %-4s normalised error vs double reference %.2e (bound %.0e) %s\n",
                       names[k], err, bound, pass ? "ok" : "FAIL");
            }
        }
        ref_cache_free(&rc_);
        for (k = 0; k < 6; k++)
            free(dbl[k]);
        free(rdx), free(rdh0), free(rdWx), free(rdWh), free(rdb);
        printf("%s\n", ok ? "forward and backward match the reference" : "MISMATCH");
        rc = ok ? 0 : 1;
    } else {
        rc = 0;
    }

done:
    lstmcl_context_destroy(ctx);
    free(a.x), free(a.dx), free(a.h0), free(a.dh0), free(a.Wx), free(a.dWx);
    free(a.Wh), free(a.dWh), free(a.b), free(a.db), free(a.h), free(a.dh), free(warm);
    return rc;
}
