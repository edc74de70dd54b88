/* lstmcl-tune: searches CLBlast's Xgemm parameters for the GEMMs an LSTM
 * runs (x·Wx, dx, dWx, dWh at one shape) on one device, within a time
 * budget, then measures the per-step paths and where the GEMMs run, and
 * writes the best to the device's tuning file, which lstmcl applies
 * whenever that device is used.  Every candidate runs in a child
 * process with a time limit and its results are checked, since some
 * parameter sets crash or compute wrong results. */
#define _POSIX_C_SOURCE 200809L
#include "../src/internal.h"

#include <clblast_c.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *const pnames[] = {"GEMMK", "KREG", "KWG", "KWI", "MDIMA", "MDIMC",
                                     "MWG",   "NDIMB", "NDIMC", "NWG", "SA",    "SB",
                                     "STRM",  "STRN",  "VWM",  "VWN"};
enum { NP = 16 };
enum { GEMMK, KREG, KWG, KWI, MDIMA, MDIMC, MWG, NDIMB, NDIMC, NWG, SA, SB, STRM, STRN, VWM, VWN };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static unsigned long long rng = 88172645463325252ull;
static unsigned long long next(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

static size_t pick(const size_t *v, size_t n)
{
    return v[next() % n];
}

/* CLBlast's constraints on Xgemm parameters (GEMMK = 0). */
static int valid(const size_t *p, size_t max_wg, size_t local_floats)
{
    if (p[MWG] % (p[MDIMC] * p[VWM]) || p[NWG] % (p[NDIMC] * p[VWN]) ||
        p[MWG] % (p[MDIMA] * p[VWM]) || p[NWG] % (p[NDIMB] * p[VWN]) || p[KWG] % p[KWI])
        return 0;
    if ((p[MDIMC] * p[NDIMC]) % p[MDIMA] || (p[MDIMC] * p[NDIMC]) % p[NDIMB])
        return 0;
    if (p[KWG] % ((p[MDIMC] * p[NDIMC]) / p[MDIMA]) || p[KWG] % ((p[MDIMC] * p[NDIMC]) / p[NDIMB]))
        return 0;
    if (p[MDIMC] * p[NDIMC] > max_wg)
        return 0;
    if ((p[SA] ? p[KWG] * p[MWG] : 0) + (p[SB] ? p[KWG] * p[NWG] : 0) > local_floats)
        return 0;
    return 1;
}

static void random_candidate(size_t *p)
{
    static const size_t wg[] = {16, 32, 64, 128}, kwg[] = {16, 32}, dim[] = {8, 16, 32};
    static const size_t vw[] = {1, 2, 4, 8}, bit[] = {0, 1};
    p[GEMMK] = 0, p[KREG] = 1, p[KWI] = 2;
    p[MWG] = pick(wg, 4), p[NWG] = pick(wg, 4), p[KWG] = pick(kwg, 2);
    p[MDIMC] = pick(dim, 3), p[NDIMC] = pick(dim, 3), p[MDIMA] = pick(dim, 3);
    p[NDIMB] = pick(dim, 3), p[VWM] = pick(vw, 4), p[VWN] = pick(vw, 4);
    p[STRM] = pick(bit, 2), p[STRN] = pick(bit, 2), p[SA] = pick(bit, 2), p[SB] = pick(bit, 2);
}

static void format(const size_t *p, char *out, size_t cap)
{
    size_t i, used = 0;
    out[0] = '\0';
    for (i = 0; i < NP && used < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%s=%zu", i ? " " : "", pnames[i], p[i]);
}

static int parse_params(const char *s, size_t *p)
{
    size_t i;
    for (i = 0; i < NP; i++) {
        char key[16];
        unsigned long v;
        int used;
        if (sscanf(s, " %15[A-Z]=%lu%n", key, &v, &used) != 2 || strcmp(key, pnames[i]) != 0)
            return -1;
        p[i] = v;
        s += used;
    }
    return 0;
}

/* ------------------------------------------------------------ the child */

typedef struct {
    size_t N, T, D, H;
} shape;

/* Runs the LSTM's big GEMMs with the candidate (or CLBlast's own parameters
 * when params is NULL), checks sampled entries against double precision,
 * and prints "OK seconds" or "WRONG". */
static int eval_child(const char *device, const shape *s, const char *params)
{
    const size_t NT = s->N * s->T, D = s->D, H = s->H, G = 4 * s->H;
    struct {
        int ta, tb;
        size_t m, n, k;
    } g[4] = {{0, 0, NT, G, D}, {0, 1, NT, D, G}, {1, 0, D, G, NT}, {1, 0, H, G, NT}};
    lstmcl_context *ctx = NULL;
    size_t p[NP];
    double total = 0;
    int i, rep;

    setenv("LSTMCL_TUNING", "off", 1);
    setenv("LSTMCL_GEMM", "clblast", 1); /* CLBlast's parameters are what is searched */
    if (lstmcl_context_create(&ctx, device) != LSTMCL_SUCCESS) {
        fprintf(stderr, "%s\n", lstmcl_last_create_message());
        return 1;
    }
    if (params) {
        const char *names[NP];
        for (i = 0; i < NP; i++)
            names[i] = pnames[i];
        if (parse_params(params, p) != 0 ||
            CLBlastOverrideParameters(ctx->device, "Xgemm", CLBlastPrecisionSingle, NP, names,
                                      p) != CLBlastSuccess) {
            printf("WRONG override refused\n");
            return 0;
        }
        if (ctx->cpu) {
            const char *n1[1] = {"XGEMM_MIN_INDIRECT_SIZE"};
            size_t v1[1] = {1};
            CLBlastOverrideParameters(ctx->device, "GemmRoutine", CLBlastPrecisionSingle, 1, n1,
                                      v1);
        }
    }
    for (i = 0; i < 4; i++) {
        const size_t m = g[i].m, n = g[i].n, k = g[i].k;
        const size_t lda = g[i].ta ? m : k, ldb = g[i].tb ? k : n;
        float *A = malloc(m * k * 4), *B = malloc(k * n * 4), *C = malloc(m * n * 4);
        cl_mem a, b, c;
        cl_int err;
        double best = 1e30;
        int q;
        if (!A || !B || !C)
            return 1;
        for (q = 0; q < (int)(m * k); q++)
            A[q] = (float)((double)(next() >> 11) / 9007199254740992.0 - 0.5);
        for (q = 0; q < (int)(k * n); q++)
            B[q] = (float)((double)(next() >> 11) / 9007199254740992.0 - 0.5);
        a = clCreateBuffer(ctx->clctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, m * k * 4, A, &err);
        b = clCreateBuffer(ctx->clctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, k * n * 4, B, &err);
        c = clCreateBuffer(ctx->clctx, CL_MEM_READ_WRITE, m * n * 4, NULL, &err);
        for (rep = 0; rep < 3; rep++) {
            double t0 = now();
            if (lstmcl__gemm(ctx, g[i].ta, g[i].tb, m, n, k, 1.0f, a, 0, lda, b, 0, ldb, 0.0f, c, 0,
                             n) != LSTMCL_SUCCESS) {
                printf("WRONG %s\n", lstmcl_context_message(ctx));
                return 0;
            }
            clFinish(ctx->queue);
            if (rep > 0 && now() - t0 < best) /* the first run compiles */
                best = now() - t0;
        }
        total += best;
        clEnqueueReadBuffer(ctx->queue, c, CL_TRUE, 0, m * n * 4, C, 0, NULL, NULL);
        for (q = 0; q < 64; q++) {
            size_t r = next() % m, col = next() % n, kk;
            double want = 0, scale = 0;
            for (kk = 0; kk < k; kk++) {
                double av = g[i].ta ? A[kk * lda + r] : A[r * lda + kk];
                double bv = g[i].tb ? B[col * ldb + kk] : B[kk * ldb + col];
                want += av * bv;
                scale += fabs(av * bv);
            }
            if (!(fabs(C[r * n + col] - want) <= 1e-5 * scale + 1e-6)) {
                printf("WRONG result of GEMM %d\n", i);
                return 0;
            }
        }
        clReleaseMemObject(a), clReleaseMemObject(b), clReleaseMemObject(c);
        free(A), free(B), free(C);
    }
    printf("OK %.6f\n", total);
    lstmcl_context_destroy(ctx);
    return 0;
}

/* Times a training forward+backward at the shape on the per-step path that
 * LSTMCL_RECURRENT names, with the tuning file LSTMCL_TUNING_FILE names
 * (both set by the parent); prints "OK seconds". */
static int eval_path_child(const char *device, const shape *s)
{
    const size_t N = s->N, T = s->T, D = s->D, H = s->H;
    const size_t sizes[7] = {N * T * D, D * 4 * H, H * 4 * H, 4 * H, N * T * H, N * T * H,
                             N * T * D};
    lstmcl_context *ctx = NULL;
    lstmcl_plan *plan = NULL;
    lstmcl_forward_args fa;
    lstmcl_backward_args ba;
    cl_mem m[8];
    size_t rbytes, i, k;
    double best = 1e30;
    int rep;

    if (lstmcl_context_create(&ctx, device) != LSTMCL_SUCCESS) {
        printf("WRONG %s\n", lstmcl_last_create_message());
        return 0;
    }
    if (lstmcl_plan_create(&plan, ctx, N, T, D, H) != LSTMCL_SUCCESS) {
        printf("WRONG %s\n", lstmcl_context_message(ctx));
        return 0;
    }
    for (i = 0; i < 7; i++) {
        float *init = malloc(sizes[i] * 4);
        cl_int err;
        if (!init)
            return 1;
        for (k = 0; k < sizes[i]; k++)
            init[k] = (float)((double)(next() >> 11) / 9007199254740992.0 - 0.5) * 0.2f;
        m[i] = clCreateBuffer(ctx->clctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizes[i] * 4,
                              init, &err);
        free(init);
        if (err != CL_SUCCESS)
            return 1;
    }
    lstmcl_plan_reserve_size(plan, &rbytes);
    {
        cl_int err;
        m[7] = clCreateBuffer(ctx->clctx, CL_MEM_READ_WRITE, rbytes, NULL, &err);
        if (err != CL_SUCCESS)
            return 1;
    }
    memset(&fa, 0, sizeof fa);
    fa.x.mem = m[0], fa.Wx.mem = m[1], fa.Wh.mem = m[2], fa.b.mem = m[3], fa.h.mem = m[4];
    fa.reserve = m[7];
    memset(&ba, 0, sizeof ba);
    ba.x.mem = m[0], ba.Wx.mem = m[1], ba.Wh.mem = m[2], ba.dh.mem = m[5], ba.dx.mem = m[6];
    ba.reserve = m[7];
    for (rep = 0; rep < 4; rep++) {
        double t0 = now();
        if (lstmcl_plan_forward(plan, &fa) != LSTMCL_SUCCESS ||
            lstmcl_plan_backward(plan, &ba) != LSTMCL_SUCCESS) {
            printf("WRONG %s\n", lstmcl_context_message(ctx));
            return 0;
        }
        clFinish(ctx->queue);
        if (rep > 0 && now() - t0 < best)
            best = now() - t0;
    }
    printf("OK %.6f\n", best);
    for (i = 0; i < 8; i++)
        clReleaseMemObject(m[i]);
    lstmcl_plan_destroy(plan);
    lstmcl_context_destroy(ctx);
    return 0;
}

/* ----------------------------------------------------------- the parent */

/* Runs one candidate in a child; returns its seconds, or a negative value
 * when it failed, crashed or ran out of time. */
static double try_candidate(const char *self, const char *device, const shape *s,
                            const char *params, int limit_s, char *why, size_t whylen)
{
    char shape_arg[96], path[] = "/tmp/lstmcl-tune-XXXXXX", line[512] = "";
    char *argv[10];
    int argc = 0, fd, status = 0;
    pid_t pid;
    posix_spawn_file_actions_t fa;
    double t0 = now(), secs = -1;
    FILE *f;

    snprintf(shape_arg, sizeof shape_arg, "%zu,%zu,%zu,%zu", s->N, s->T, s->D, s->H);
    argv[argc++] = (char *)self;
    argv[argc++] = params && !strcmp(params, "path") ? "--eval-path" : "--eval";
    argv[argc++] = (char *)(params ? params : "defaults");
    argv[argc++] = "--shape";
    argv[argc++] = shape_arg;
    if (device) {
        argv[argc++] = "--device";
        argv[argc++] = (char *)device;
    }
    argv[argc] = NULL;
    fd = mkstemp(path);
    if (fd < 0)
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd, 1);
    if (posix_spawn(&pid, self, &fa, NULL, argv, environ) != 0) {
        snprintf(why, whylen, "cannot start a child");
        goto out;
    }
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (now() - t0 > limit_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            snprintf(why, whylen, "took longer than %d s", limit_s);
            goto out;
        }
        {
            struct timespec ts = {0, 20000000};
            nanosleep(&ts, NULL);
        }
    }
    if (WIFSIGNALED(status)) {
        snprintf(why, whylen, "crashed (signal %d)", WTERMSIG(status));
        goto out;
    }
    f = fopen(path, "r");
    if (f) {
        if (!fgets(line, sizeof line, f))
            line[0] = '\0';
        fclose(f);
    }
    line[strcspn(line, "\n")] = '\0';
    if (sscanf(line, "OK %lf", &secs) != 1) {
        secs = -1;
        snprintf(why, whylen, "%s", line[0] ? line : "failed");
    }
out:
    posix_spawn_file_actions_destroy(&fa);
    close(fd);
    unlink(path);
    return secs;
}

static int mkdirs(const char *dir)
{
    char tmp[4096];
    size_t i;
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (i = 1; tmp[i]; i++) {
        if (tmp[i] == '/') {
            tmp[i] = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            tmp[i] = '/';
        }
    }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lstmcl-tune [--device SEL] [--budget SECONDS] [--shape N,T,D,H]\n"
            "                   [--output FILE] [--seed S]\n"
            "Searches CLBlast's GEMM parameters for the device's LSTM GEMMs (default shape\n"
            "64,50,512,512) for about SECONDS (default 300), checking every candidate in\n"
            "a child process, then times a training step on each per-step path with the\n"
            "GEMMs on CLBlast and (CPU devices, built with oneDNN) on oneDNN's host sgemm,\n"
            "and writes the fastest of each to the device's tuning file in\n"
            "$XDG_CACHE_HOME/lstmcl/ (else ~/.cache/lstmcl/), which lstmcl then applies.\n");
}

int main(int argc, char **argv)
{
    const char *device = NULL, *output = NULL, *eval = NULL;
    int eval_path = 0;
    shape s = {64, 50, 512, 512};
    int budget = 300, i, tried = 0, failed = 0;
    double flop, t_default, best_t = -1, start = now();
    size_t best[NP], p[NP], max_wg = 0;
    cl_ulong local_mem = 0;
    char text[600], why[512], best_text[600] = "", dir[4096], name[600], path[4800], tmp[4900];
    lstmcl_device_desc *list = NULL;
    size_t n = 0;
    lstmcl_selector sel;
    long chosen;
    FILE *f;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--device") && v) {
            device = v, i++;
        } else if (!strcmp(a, "--output") && v) {
            output = v, i++;
        } else if (!strcmp(a, "--eval") && v) {
            eval = v, i++;
        } else if (!strcmp(a, "--eval-path") && v) {
            eval_path = 1, i++;
        } else if (!strcmp(a, "--budget") && v) {
            budget = atoi(v), i++;
            if (budget < 10) {
                fprintf(stderr, "lstmcl-tune: --budget wants at least 10 seconds\n");
                return 2;
            }
        } else if (!strcmp(a, "--seed") && v) {
            rng ^= strtoull(v, NULL, 10) * 2654435761ull, i++;
        } else if (!strcmp(a, "--shape") && v) {
            unsigned long long q[4];
            char extra;
            if (sscanf(v, "%llu,%llu,%llu,%llu%c", &q[0], &q[1], &q[2], &q[3], &extra) != 4 ||
                !q[0] || !q[1] || !q[2] || !q[3]) {
                fprintf(stderr, "lstmcl-tune: --shape wants N,T,D,H\n");
                return 2;
            }
            s.N = q[0], s.T = q[1], s.D = q[2], s.H = q[3], i++;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (eval_path)
        return eval_path_child(device, &s);
    if (eval)
        return eval_child(device, &s, strcmp(eval, "defaults") ? eval : NULL);

    /* the device: its name for the file, its limits for the candidates */
    if (lstmcl__list_devices(&list, &n) != CL_SUCCESS || n == 0) {
        fprintf(stderr, "lstmcl-tune: no OpenCL device\n");
        return 1;
    }
    if (!device)
        device = getenv("LSTMCL_DEVICE");
    if (lstmcl__selector_parse(device ? device : "", &sel, why, sizeof why) != 0 ||
        (chosen = lstmcl__selector_match(&sel, list, n)) < 0) {
        fprintf(stderr, "lstmcl-tune: device selector '%s' matches no device\n",
                device ? device : "");
        return 1;
    }
    clGetDeviceInfo(list[chosen].device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof max_wg, &max_wg,
                    NULL);
    clGetDeviceInfo(list[chosen].device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof local_mem, &local_mem,
                    NULL);
    snprintf(text, sizeof text, "%s / %s", list[chosen].platform_name, list[chosen].device_name);
    if (output) {
        snprintf(path, sizeof path, "%s", output);
    } else {
        if (lstmcl__tuning_dir(dir, sizeof dir) != 0) {
            fprintf(stderr, "lstmcl-tune: set XDG_CACHE_HOME or HOME, or give --output\n");
            return 1;
        }
        lstmcl__tuning_file_name(text, name, sizeof name);
        snprintf(path, sizeof path, "%s/%s", dir, name);
    }
    fprintf(stderr, "lstmcl-tune: %s, shape N=%zu T=%zu D=%zu H=%zu, budget %d s\n", text, s.N,
            s.T, s.D, s.H, budget);
    /* x·Wx, dx and dWx each 2·NT·4H·D, dWh 2·NT·4H·H */
    flop = 2.0 * (double)s.N * s.T * 4.0 * s.H * (3.0 * s.D + s.H);

    /* CLBlast's own parameters, the fallback, may take as long as the budget
     * or 120 s, whichever is longer: on a cold kernel cache of a loaded
     * machine their first compile alone can pass a short budget */
    t_default = try_candidate(argv[0], device, &s, NULL, budget > 120 ? budget : 120, why,
                              sizeof why);
    if (t_default > 0)
        fprintf(stderr, "  CLBlast's own parameters: %.1f GFLOP/s\n", flop / t_default * 1e-9);
    else
        fprintf(stderr, "  CLBlast's own parameters failed (%s)\n", why);

    /* the shipped set first, then random ones */
    for (i = 0; now() - start < budget; i++) {
        double t;
        if (i == 0) {
            static const size_t shipped[NP] = {0, 1, 16, 2, 8, 8, 128, 8, 8, 128, 0, 0, 0, 0, 8, 8};
            memcpy(p, shipped, sizeof p);
            if (!valid(p, max_wg, (size_t)(local_mem / 4)))
                continue;
        } else {
            /* alternately a random set and a neighbour of the best one */
            int guard = 0;
            do {
                random_candidate(p);
                if (best_t > 0 && i % 2 == 0) {
                    size_t fresh[NP];
                    int changes = 1 + (int)(next() % 2), c;
                    memcpy(fresh, p, sizeof fresh);
                    memcpy(p, best, sizeof best);
                    for (c = 0; c < changes; c++) {
                        size_t which = 2 + next() % (NP - 2); /* not GEMMK, KREG */
                        p[which] = fresh[which];
                    }
                }
            } while (!valid(p, max_wg, (size_t)(local_mem / 4)) && ++guard < 10000);
        }
        format(p, text, sizeof text);
        tried++;
        t = try_candidate(argv[0], device, &s, text, 120, why, sizeof why);
        if (t <= 0) {
            failed++;
            fprintf(stderr, "  [%d] rejected (%s): %s\n", tried, why, text);
            continue;
        }
        fprintf(stderr, "  [%d] %6.1f GFLOP/s%s %s\n", tried, flop / t * 1e-9,
                best_t < 0 || t < best_t ? " (best)" : "       ", text);
        if (best_t < 0 || t < best_t) {
            best_t = t;
            memcpy(best, p, sizeof best);
            snprintf(best_text, sizeof best_text, "%s", text);
        }
    }
    if (best_t < 0 && t_default <= 0) {
        fprintf(stderr, "lstmcl-tune: no candidate worked; nothing written\n");
        return 1;
    }
    if (best_t < 0) /* the budget went on CLBlast's own (a cold kernel cache) */
        best_t = t_default;
    if (t_default > 0 && t_default <= best_t) {
        fprintf(stderr, "lstmcl-tune: CLBlast's own parameters were fastest; writing them\n");
    }

    /* write atomically: a temporary file, then rename */
    if (!output) {
        if (mkdirs(dir) != 0) {
            fprintf(stderr, "lstmcl-tune: cannot create %s: %s\n", dir, strerror(errno));
            return 1;
        }
    }
    {
        /* the file is written under a new name of its own (mkstemp: never
         * through a link planted there) that the trial runs below read,
         * then renamed over path; a path that is not a regular file is
         * refused rather than replaced */
        struct stat sb;
        int fd;
        if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
            fprintf(stderr, "lstmcl-tune: %s exists and is not a regular file; give another "
                            "--output\n", path);
            return 1;
        }
        if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= sizeof tmp) {
            fprintf(stderr, "lstmcl-tune: %s: the path is too long\n", path);
            return 1;
        }
        fd = mkstemp(tmp);
        f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!f) {
            fprintf(stderr, "lstmcl-tune: cannot write beside %s: %s\n", path, strerror(errno));
            if (fd >= 0) {
                close(fd);
                unlink(tmp);
            }
            return 1;
        }
    }
    {
        time_t tn = time(NULL);
        char when[64];
        strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&tn));
        fprintf(f, "# written by lstmcl-tune %s on %s\n", lstmcl_version_string(), when);
        fprintf(f, "# shape N=%zu T=%zu D=%zu H=%zu; %d candidates, %d rejected\n", s.N, s.T, s.D,
                s.H, tried, failed);
        if (t_default > 0)
            fprintf(f, "# CLBlast's own parameters: %.1f GFLOP/s\n", flop / t_default * 1e-9);
        fprintf(f, "# best: %.1f GFLOP/s\n", flop / best_t * 1e-9);
        fprintf(f, "lstmcl-tuning 1\ndevice %s / %s\n", list[chosen].platform_name,
                list[chosen].device_name);
        if (!(t_default > 0 && t_default <= best_t)) {
            fprintf(f, "kernel Xgemm %s\n", best_text);
            if (list[chosen].type & CL_DEVICE_TYPE_CPU)
                fprintf(f, "kernel GemmRoutine XGEMM_MIN_INDIRECT_SIZE=1\n");
        } else {
            fprintf(f, "# no kernel lines: CLBlast's own parameters are used\n");
        }
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "lstmcl-tune: cannot write %s: %s\n", tmp, strerror(errno));
        unlink(tmp);
        return 1;
    }
    /* the per-step path and where the GEMMs run: a training step on each
     * pair, with the parameters found; the CPU-shaped fused kernels and
     * oneDNN's host GEMMs are tried on CPUs only */
    {
        static const char *const paths[3] = {"fused", "gemm", "tiled"};
        static const char *const gemms[2] = {"clblast", "onednn"};
        const int cpu = (list[chosen].type & CL_DEVICE_TYPE_CPU) != 0;
        const int first = cpu ? 0 : 1, ngemm = cpu && lstmcl__onednn_built() ? 2 : 1;
        double t_path[2][3] = {{0, 0, 0}, {0, 0, 0}};
        int k, g, best_k = -1, best_g = -1;
        setenv("LSTMCL_TUNING_FILE", tmp, 1);
        for (g = 0; g < ngemm; g++) {
            setenv("LSTMCL_GEMM", gemms[g], 1);
            for (k = first; k < 3; k++) {
                setenv("LSTMCL_RECURRENT", paths[k], 1);
                t_path[g][k] = try_candidate(argv[0], device, &s, "path", 300, why, sizeof why);
                if (t_path[g][k] > 0)
                    fprintf(stderr, "  per-step path %-5s, GEMMs on %-7s: training step %.2f ms\n",
                            paths[k], gemms[g], t_path[g][k] * 1e3);
                else
                    fprintf(stderr, "  per-step path %-5s, GEMMs on %-7s: failed (%s)\n",
                            paths[k], gemms[g], why);
                if (t_path[g][k] > 0 &&
                    (best_k < 0 || t_path[g][k] < t_path[best_g][best_k]))
                    best_k = k, best_g = g;
            }
        }
        unsetenv("LSTMCL_RECURRENT");
        unsetenv("LSTMCL_GEMM");
        unsetenv("LSTMCL_TUNING_FILE");
        {
            int fd = open(tmp, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
            f = fd >= 0 ? fdopen(fd, "a") : NULL;
            if (!f && fd >= 0)
                close(fd);
        }
        if (f && best_k >= 0) {
            for (g = 0; g < ngemm; g++) {
                fprintf(f, "# per-step path, training step, GEMMs on %s:", gemms[g]);
                for (k = first; k < 3; k++)
                    fprintf(f, " %s %.2f ms%s", paths[k], t_path[g][k] * 1e3,
                            k < 2 ? "," : "\n");
            }
            fprintf(f, "recurrent %s\ngemm %s\n", paths[best_k], gemms[best_g]);
        }
        if (!f || fclose(f) != 0) {
            fprintf(stderr, "lstmcl-tune: cannot write %s\n", tmp);
            unlink(tmp);
            return 1;
        }
    }
    if (rename(tmp, path) != 0) {
        fprintf(stderr, "lstmcl-tune: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return 1;
    }
    printf("%s\n", path);
    fprintf(stderr, "lstmcl-tune: wrote %s (%.1f GFLOP/s; CLBlast's own %.1f)\n", path,
            flop / best_t * 1e-9, t_default > 0 ? flop / t_default * 1e-9 : 0.0);
    free(list);
    return 0;
}
