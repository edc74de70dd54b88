/* lstmcl-train: trains a character-level LSTM language model on the device.
 * With no arguments it trains on a corpus it generates itself (lines of
 * two-digit additions) and reports how many held-out additions it completes
 * correctly; --text FILE trains on any file. */
#define _POSIX_C_SOURCE 200809L
#include "charlm.h"
#include "dist.h"
#include "atomicfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Held-out characters read at each evaluation. */
#define HELDOUT_CHARS 40000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: lstmcl-train [options]\n"
        "Trains a character-level LSTM language model with lstmcl. Without --text it\n"
        "trains on generated lines of additions (\"07+45=052\") and scores held-out\n"
        "problems it must complete.\n"
        "  --text FILE       train on this file (the last tenth is held out)\n"
        "  --layers L        LSTM layers, 1-4 (2)\n"
        "  --hidden H        hidden size (128)\n"
        "  --embed E         embedding size (32)\n"
        "  --seq T           steps per chunk of truncated BPTT (32)\n"
        "  --batch N         streams per batch (32)\n"
        "  --steps S         training steps in all (4000)\n"
        "  --lr R            Adam learning rate (0.003)\n"
        "  --clip C          gradient-norm bound, 0 = none (5)\n"
        "  --dropout P       dropout between LSTM layers, 0 <= P < 1 (0)\n"
        "  --lr-schedule S   constant, or cosine: from R down to R/10 over --steps (constant)\n"
        "  --init I          torch (PyTorch's defaults) or classic (torch)\n"
        "  --seed S          random seed (1)\n"
        "  --eval-every K    steps between held-out evaluations (250)\n"
        "  --device SEL      OpenCL device (see lstmcl-devices)\n"
        "  --out DIR         where checkpoint.lstmcl, best.lstmcl, curve.csv, curve.svg go\n"
        "                    (lstmcl-train-out)\n"
        "  --checkpoint FILE save the latest checkpoint here instead of DIR/checkpoint.lstmcl\n"
        "                    (the best one goes to FILE.best)\n"
        "  --resume FILE     continue from a checkpoint (its model and settings)\n"
        "  --loss-log FILE   write every step's training loss to FILE (step,loss)\n"
        "Under mpirun (-np K) it trains one model on K processes, each on its own\n"
        "device: the batch's streams are split across them and the gradients summed\n"
        "every step. --device (or LSTMCL_DEVICE) then picks the kind of device, and\n"
        "the process with node-local rank r takes the r-th device of that kind (modulo\n"
        "their number); a comma-separated list of selectors gives each node-local\n"
        "rank its own.\n");
}

static int parse_u(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    char *end;
    unsigned long v;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_f(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v;
    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *d = NULL;
    struct stat sb;
    long n;
    if (!f)
        return NULL;
    if (fstat(fileno(f), &sb) != 0 || S_ISDIR(sb.st_mode)) {
        fclose(f);
        errno = EISDIR;
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (d = malloc((size_t)n + 1)) != NULL && fread(d, 1, (size_t)n, f) == (size_t)n) {
        *len = (size_t)n;
    } else {
        free(d);
        d = NULL;
    }
    fclose(f);
    return d;
}

typedef struct {
    unsigned long step;
    double loss, heldout, accuracy, elapsed;
} point;

/* The learning curve as an SVG picture: training and held-out bits per
 * character against steps (and the corpus's floor, when known). */
static int write_svg(const char *path, const point *pts, size_t n, double floor_bpc,
                     int additions)
{
    const double W = 720, Hh = 420, L = 70, R = 20, Tp = 40, B = 50;
    double maxy = 0, maxx = 1;
    size_t i;
    char why[600];
    af_file out;
    FILE *f;
    if (af_open(&out, path, why, sizeof why) != 0)
        return -1;
    f = out.f;
    for (i = 0; i < n; i++) {
        double a = pts[i].loss / log(2.0), b = pts[i].heldout;
        maxy = a > maxy ? a : maxy;
        maxy = b > maxy ? b : maxy;
        maxx = pts[i].step > maxx ? pts[i].step : maxx;
    }
    maxy = ceil(maxy + 0.01);
#define X(s) (L + (W - L - R) * (double)(s) / maxx)
#define Y(v) (Tp + (Hh - Tp - B) * (1 - (v) / maxy))
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n", W, Hh);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"%.0f\" y=\"22\" font-size=\"15\">lstmcl-train: bits per character"
               "%s</text>\n", L, additions ? " (additions corpus)" : "");
    for (i = 0; i <= 5; i++) {
        double v = maxy * (double)i / 5;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n",
                L, Y(v), W - R, Y(v), L - 6, Y(v) + 4, v);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>\n",
                X(maxx * (double)i / 5), Hh - B + 18, maxx * (double)i / 5);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">training step</text>\n",
            (L + W - R) / 2, Hh - 12);
    if (floor_bpc > 0)
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\" "
                   "stroke-dasharray=\"5,4\"/><text x=\"%.1f\" y=\"%.1f\" fill=\"#666\">"
                   "floor %.2f (the corpus's entropy)</text>\n",
                L, Y(floor_bpc), W - R, Y(floor_bpc), L + 8, Y(floor_bpc) - 5, floor_bpc);
    fprintf(f, "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"");
    for (i = 0; i < n; i++)
        fprintf(f, "%.1f,%.1f ", X(pts[i].step), Y(pts[i].loss / log(2.0)));
    fprintf(f, "\"/>\n<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" points=\"");
    for (i = 0; i < n; i++)
        fprintf(f, "%.1f,%.1f ", X(pts[i].step), Y(pts[i].heldout));
    fprintf(f, "\"/>\n<text x=\"%.1f\" y=\"%.1f\" fill=\"#1f77b4\">training (mean of the "
               "interval)</text><text x=\"%.1f\" y=\"%.1f\" fill=\"#d62728\">held-out</text>\n",
            W - R - 300, Tp + 16, W - R - 80, Tp + 16);
    fprintf(f, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>"
               "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n",
            L, Tp, L, Hh - B, L, Hh - B, W - R, Hh - B);
    fprintf(f, "</svg>\n");
#undef X
#undef Y
    return af_commit(&out, why, sizeof why);
}


/* The options given on the command line that a checkpoint also holds. */
enum {
    GIVEN_LAYERS = 1 << 0, GIVEN_HIDDEN = 1 << 1, GIVEN_EMBED = 1 << 2, GIVEN_SEQ = 1 << 3,
    GIVEN_BATCH = 1 << 4, GIVEN_LR = 1 << 5, GIVEN_CLIP = 1 << 6, GIVEN_DROPOUT = 1 << 7,
    GIVEN_SEED = 1 << 8, GIVEN_SCHEDULE = 1 << 9, GIVEN_INIT = 1 << 10
};

/* With --resume, the checkpoint's settings win: an option given with another
 * value is a conflict.  Writes each one to msg; returns how many. */
static int resume_conflicts(const charlm_config *ck, const charlm_config *asked, unsigned given,
                            int cosine, char *msg, size_t cap)
{
    size_t k = 0;
    int n = 0;
#define CONFLICT(flag, cond, ...)                                                             \
    if ((given & (flag)) && (cond) && k < cap) {                                              \
        k += (size_t)snprintf(msg + k, cap - k, "%s", n++ ? "; " : "");                       \
        if (k < cap)                                                                           \
            k += (size_t)snprintf(msg + k, cap - k, __VA_ARGS__);                             \
    }
    CONFLICT(GIVEN_LAYERS, asked->layers != ck->layers, "--layers %u, the checkpoint has %u",
             asked->layers, ck->layers)
    CONFLICT(GIVEN_HIDDEN, asked->H != ck->H, "--hidden %u, the checkpoint has %u", asked->H, ck->H)
    CONFLICT(GIVEN_EMBED, asked->E != ck->E, "--embed %u, the checkpoint has %u", asked->E, ck->E)
    CONFLICT(GIVEN_SEQ, asked->T != ck->T, "--seq %u, the checkpoint has %u", asked->T, ck->T)
    CONFLICT(GIVEN_BATCH, asked->N != ck->N, "--batch %u, the checkpoint has %u", asked->N, ck->N)
    CONFLICT(GIVEN_LR, asked->lr != ck->lr, "--lr %g, the checkpoint has %g", asked->lr, ck->lr)
    CONFLICT(GIVEN_CLIP, asked->clip != ck->clip, "--clip %g, the checkpoint has %g", asked->clip,
             ck->clip)
    CONFLICT(GIVEN_DROPOUT, asked->dropout != ck->dropout, "--dropout %g, the checkpoint has %g",
             asked->dropout, ck->dropout)
    CONFLICT(GIVEN_SEED, asked->seed != ck->seed, "--seed %llu, the checkpoint has %llu",
             (unsigned long long)asked->seed, (unsigned long long)ck->seed)
    CONFLICT(GIVEN_SCHEDULE, cosine != (ck->schedule == CHARLM_LR_COSINE),
             "--lr-schedule %s, the checkpoint has %s", cosine ? "cosine" : "constant",
             ck->schedule == CHARLM_LR_COSINE ? "cosine" : "constant")
    CONFLICT(GIVEN_INIT, 1, "--init, which only sets up a new model")
#undef CONFLICT
    return n;
}

/* Fails early (with a message) when path cannot be written: a file made
 * and dropped beside it. */
static int probe_output(const char *path, char *err, size_t errlen)
{
    af_file a;
    if (af_open(&a, path, err, errlen) != 0)
        return -1;
    af_abort(&a);
    return 0;
}

/* Temporary files an earlier run killed while saving path may have left:
 * this version's ".NAME.XXXXXX.tmp" (only where O_TMPFILE is missing) and
 * older versions' "NAME.tmp.PID" of processes that are gone. */
static void remove_stale_temps(const char *path)
{
    char *dir = strdup(path), *slash;
    const char *base = strrchr(path, '/');
    DIR *dh;
    struct dirent *e;
    size_t blen;
    if (!dir)
        return;
    base = base ? base + 1 : path;
    blen = strlen(base);
    slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    dh = opendir(slash ? (*dir ? dir : "/") : ".");
    while (dh && (e = readdir(dh)) != NULL) {
        const char *nm = e->d_name;
        size_t len = strlen(nm);
        int stale = 0;
        if (nm[0] == '.' && len == blen + 12 && !strncmp(nm + 1, base, blen) &&
            nm[blen + 1] == '.' && !strcmp(nm + len - 4, ".tmp"))
            stale = 1;
        else if (!strncmp(nm, base, blen) && !strncmp(nm + blen, ".tmp.", 5) &&
                 strspn(nm + blen + 5, "0123456789") == len - blen - 5 && len > blen + 5) {
            long pid = strtol(nm + blen + 5, NULL, 10);
            stale = pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
        }
        if (stale) {
            char full[4400];
            if ((size_t)snprintf(full, sizeof full, "%s/%s", slash ? (*dir ? dir : "") : ".",
                                 nm) < sizeof full)
                unlink(full);
        }
    }
    if (dh)
        closedir(dh);
    free(dir);
}

static void clock_text(double s, char *out, size_t cap)
{
    long t = (long)(s + 0.5);
    snprintf(out, cap, "%ld:%02ld", t / 60, t % 60);
}

/* The device selector of this process: the whole selector when the run is
 * one process; else entry (local rank mod entries) of a comma-separated
 * list, or the (local rank mod count)-th device the selector keeps. */
static int rank_device(const dist *d, const char *device, char *out, size_t cap, char *err,
                       size_t errlen)
{
    const char *sel = device ? device : getenv("LSTMCL_DEVICE");
    size_t count = 0;
    lstmcl_status st;
    if (d->size <= 1) {
        snprintf(out, cap, "%s", sel ? sel : "");
        return 0;
    }
    if (sel && strchr(sel, ',')) {
        size_t entries = 1, k, want;
        const char *p = sel, *e;
        for (e = sel; *e; e++)
            entries += *e == ',';
        want = (size_t)d->local_rank % entries;
        for (k = 0; k < want; k++)
            p = strchr(p, ',') + 1;
        e = strchr(p, ',');
        snprintf(out, cap, "%.*s", (int)(e ? (size_t)(e - p) : strlen(p)), p);
        return 0;
    }
    st = lstmcl_device_nth(sel ? sel : "", 0, out, cap, &count);
    if (st == LSTMCL_SUCCESS && count > 1)
        st = lstmcl_device_nth(sel ? sel : "", (size_t)d->local_rank % count, out, cap, &count);
    if (st != LSTMCL_SUCCESS) {
        snprintf(err, errlen, "%s: %s", lstmcl_status_string(st), lstmcl_last_create_message());
        return -1;
    }
    return 0;
}

/* Every stream's carried state, (layers, N, H), gathered on process 0 into
 * h and c from each process's (layers, N/K, H); h, c are read on process 0
 * only.  0, or -1 with a message. */
static int gather_state(dist *d, charlm *lm, float *mine_h, float *mine_c, size_t n, float *h,
                        float *c, char *err, size_t errlen)
{
    const charlm_config *k = charlm_get_config(lm);
    const size_t K = (size_t)d->size, per = (size_t)(k->N / (uint32_t)d->size) * k->H;
    float *got = NULL;
    size_t r, l;
    int pass;
    if (charlm_get_state(lm, mine_h, mine_c, err, errlen) != 0)
        return -1;
    if (d->rank == 0 && !(got = malloc(n * K * sizeof *got))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (pass = 0; pass < 2; pass++) {
        float *out = pass ? c : h;
        if (dist_gather_floats(d, pass ? mine_c : mine_h, n, got) != 0) {
            free(got);
            snprintf(err, errlen, "cannot gather the carried state");
            return -1;
        }
        /* (process, layer, rows, H) to (layer, process, rows, H) */
        for (r = 0; got && r < K; r++)
            for (l = 0; l < k->layers; l++)
                memcpy(out + (l * K + r) * per, got + (r * k->layers + l) * per,
                       per * sizeof *out);
    }
    free(got);
    return 0;
}

/* In several processes: the summed gradient and the parameters must stay
 * the same everywhere; 0 if they do. */
static int same_everywhere(dist *d, charlm *lm, int rank0, char *err, size_t errlen)
{
    uint32_t crc = 0, *all = NULL;
    int i, ok = 1;
    if (d->size <= 1)
        return 0;
    if (charlm_param_crc(lm, &crc, err, errlen) != 0)
        return -1;
    all = malloc((size_t)d->size * sizeof *all);
    if (!all || dist_gather_bytes(d, &crc, sizeof crc, all) != 0) {
        free(all);
        snprintf(err, errlen, "cannot gather the parameters' checksums");
        return -1;
    }
    if (rank0) {
        for (i = 1; i < d->size; i++)
            ok &= all[i] == all[0];
        if (ok)
            fprintf(stderr, "parameters and Adam's moments identical on all %d processes "
                            "(crc32 %08x)\n", d->size, (unsigned)crc);
        else
            snprintf(err, errlen, "the parameters differ across processes");
    }
    free(all);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    charlm_config cfg = {.layers = 2, .E = 32, .H = 128, .N = 32, .T = 32, .lr = 3e-3f,
                         .clip = 5.0f, .seed = 1};
    const char *text_path = NULL, *device = NULL, *out_dir = "lstmcl-train-out", *resume = NULL;
    const char *checkpoint = NULL, *loss_log = NULL;
    unsigned long steps = 4000, eval_every = 250, u;
    double dv;
    charlm_corpus corpus = {0};
    lstmcl_context *ctx = NULL;
    charlm *lm = NULL;
    char err[512], path_ck[4096], path_csv[4096], path_svg[4096];
    point *pts = NULL;
    size_t npts = 0;
    FILE *csv = NULL;
    double t0, interval_loss = 0, floor_bpc = 0;
    unsigned long interval_n = 0, first_step;
    double last_heldout = -1, last_acc = -1; /* the latest evaluation, for the live line */
    uint32_t resume_crc = 0;
    int i, rc = 1, cosine = 0;
    const int live = isatty(2); /* a terminal: a live line; a log: a line per evaluation */
    char path_best[4200], selector[512], why[256];
    lstmcl_status st;
    dist d;
    int rank0;
    FILE *losses = NULL;
    float *state_h = NULL, *state_c = NULL, *all_h = NULL, *all_c = NULL;
    size_t state_n = 0;
    const char *fail_at = getenv("LSTMCL_TEST_FAIL_STEP"); /* "RANK:STEP", for the tests */
    static const char known_options[] =
        " --text --device --out --resume --checkpoint --loss-log --layers --hidden --embed --seq"
        " --batch --steps --eval-every --seed --lr --clip --dropout --lr-schedule --init ";
    unsigned given = 0;
    charlm_config asked;

    if (dist_init(&d, &argc, &argv, err, sizeof err) != 0) {
        fprintf(stderr, "lstmcl-train: %s\n", err);
        return 1;
    }
    rank0 = d.rank == 0;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            if (rank0)
                usage(stdout);
            dist_finalize(&d);
            return 0;
        }
        if (!v || a[0] != '-') {
            char pat[80];
            snprintf(pat, sizeof pat, " %.70s ", a);
            if (rank0) {
                fprintf(stderr, "lstmcl-train: %s: %s\n", a,
                        a[0] != '-'                     ? "not an option (every value follows its option)"
                        : strstr(known_options, pat) ? "needs a value"
                                                      : "unknown option");
                usage(stderr);
            }
            dist_finalize(&d);
            return 2;
        }
        if (!strcmp(a, "--text")) text_path = v;
        else if (!strcmp(a, "--device")) device = v;
        else if (!strcmp(a, "--out")) out_dir = v;
        else if (!strcmp(a, "--resume")) resume = v;
        else if (!strcmp(a, "--checkpoint")) checkpoint = v;
        else if (!strcmp(a, "--loss-log")) loss_log = v;
        else if (!strcmp(a, "--layers"))
            bad = parse_u(v, 1, 4, &u), cfg.layers = (uint32_t)u, given |= GIVEN_LAYERS;
        else if (!strcmp(a, "--hidden"))
            bad = parse_u(v, 1, 4096, &u), cfg.H = (uint32_t)u, given |= GIVEN_HIDDEN;
        else if (!strcmp(a, "--embed"))
            bad = parse_u(v, 1, 4096, &u), cfg.E = (uint32_t)u, given |= GIVEN_EMBED;
        else if (!strcmp(a, "--seq"))
            bad = parse_u(v, 1, 1024, &u), cfg.T = (uint32_t)u, given |= GIVEN_SEQ;
        else if (!strcmp(a, "--batch"))
            bad = parse_u(v, 1, 1024, &u), cfg.N = (uint32_t)u, given |= GIVEN_BATCH;
        else if (!strcmp(a, "--steps")) bad = parse_u(v, 1, 100000000, &steps);
        else if (!strcmp(a, "--eval-every")) bad = parse_u(v, 1, 100000000, &eval_every);
        else if (!strcmp(a, "--seed"))
            bad = parse_u(v, 0, (unsigned long)-1, &u), cfg.seed = u, given |= GIVEN_SEED;
        else if (!strcmp(a, "--lr"))
            bad = parse_f(v, 1e-7, 1, &dv), cfg.lr = (float)dv, given |= GIVEN_LR;
        else if (!strcmp(a, "--clip"))
            bad = parse_f(v, 0, 1e6, &dv), cfg.clip = (float)dv, given |= GIVEN_CLIP;
        else if (!strcmp(a, "--dropout"))
            bad = parse_f(v, 0, 0.99, &dv), cfg.dropout = (float)dv, given |= GIVEN_DROPOUT;
        else if (!strcmp(a, "--lr-schedule")) {
            cosine = !strcmp(v, "cosine");
            bad = !cosine && strcmp(v, "constant") != 0;
            given |= GIVEN_SCHEDULE;
        } else if (!strcmp(a, "--init")) {
            cfg.init = !strcmp(v, "classic") ? CHARLM_INIT_CLASSIC : CHARLM_INIT_TORCH;
            bad = strcmp(v, "classic") != 0 && strcmp(v, "torch") != 0;
            given |= GIVEN_INIT;
        }
        else {
            if (rank0) {
                fprintf(stderr, "lstmcl-train: %s: unknown option\n", a);
                usage(stderr);
            }
            dist_finalize(&d);
            return 2;
        }
        if (bad) {
            if (rank0)
                fprintf(stderr, "lstmcl-train: bad value for %s: '%s'\n", a, v);
            dist_finalize(&d);
            return 2;
        }
        i++;
    }

    if (d.size > 1 && !resume && cfg.N % (uint32_t)d.size != 0) {
        if (rank0)
            fprintf(stderr, "lstmcl-train: --batch %u does not split into %d processes: give a "
                            "batch that %d divides\n", cfg.N, d.size, d.size);
        dist_finalize(&d);
        return 2;
    }
    /* every process opens its device; if any fails, all stop */
    st = LSTMCL_SUCCESS;
    if (rank_device(&d, device, selector, sizeof selector, err, sizeof err) != 0) {
        st = LSTMCL_ERROR_DEVICE_NOT_FOUND;
    } else {
        st = lstmcl_context_create(&ctx, d.size > 1 || device ? selector : NULL);
        if (st != LSTMCL_SUCCESS)
            snprintf(err, sizeof err, "%s: %s", lstmcl_status_string(st),
                     lstmcl_last_create_message());
    }
    if (st != LSTMCL_SUCCESS)
        fprintf(stderr, "lstmcl-train: %s%s\n", d.size > 1 ? "process " : "", err);
    if (!dist_all_ok(&d, st == LSTMCL_SUCCESS)) {
        if (st == LSTMCL_SUCCESS && rank0)
            fprintf(stderr, "lstmcl-train: a process could not open its device; stopping all\n");
        lstmcl_context_destroy(ctx);
        dist_finalize(&d);
        return 1;
    }
    if (resume) {
        uint32_t V = 0;
        unsigned char vocab[256];
        int ok = charlm_load_part(&lm, ctx, resume, (uint32_t)d.rank, (uint32_t)d.size, vocab,
                                  &V, &resume_crc, err, sizeof err) == 0;
        if (!ok && (rank0 || d.size == 1))
            fprintf(stderr, "lstmcl-train: %s\n", err);
        if (!dist_all_ok(&d, ok))
            goto done;
        asked = cfg;
        cfg = *charlm_get_config(lm);
        {
            char conflicts[1500];
            if (resume_conflicts(&cfg, &asked, given, cosine, conflicts, sizeof conflicts)) {
                if (rank0)
                    fprintf(stderr, "lstmcl-train: %s holds the model's settings, and these "
                                    "differ: %s. Leave them out to continue as the checkpoint "
                                    "says, or start a new run\n", resume, conflicts);
                rc = 2;
                goto done;
            }
        }
        if (charlm_step(lm) >= steps) {
            if (rank0)
                fprintf(stderr, "lstmcl-train: %s is at step %llu already, and --steps %lu "
                                "asks for no more: nothing to train, nothing written (give "
                                "--steps above %llu to continue)\n",
                        resume, (unsigned long long)charlm_step(lm), steps,
                        (unsigned long long)charlm_step(lm));
            rc = 0;
            goto done;
        }
    }
    {
        /* every process reads the corpus (a file may be missing on one machine
         * only); if any cannot, all stop */
        int ok = 1;
        if (text_path) {
            size_t len = 0;
            uint8_t *text = read_file(text_path, &len);
            if (!text) {
                snprintf(err, sizeof err, "cannot read %s: %s", text_path, strerror(errno));
                ok = 0;
            } else if (charlm_corpus_from_text(&corpus, text, len, why, sizeof why) != 0) {
                snprintf(err, sizeof err, "%s: %s", text_path, why);
                ok = 0;
            }
            free(text);
        } else if (charlm_corpus_additions(&corpus, cfg.seed, 20000) != 0) {
            snprintf(err, sizeof err, "out of memory");
            ok = 0;
        } else {
            floor_bpc = charlm_additions_entropy();
        }
        if (ok && resume && (charlm_get_config(lm)->V != corpus.V || resume_crc != corpus.crc)) {
            snprintf(err, sizeof err, "%s was trained on another corpus (give the same --text, "
                                      "or none for the generated one)", resume);
            ok = 0;
        }
        if (!ok && d.size > 1)
            fprintf(stderr, "lstmcl-train: process %d: %s\n", d.rank, err);
        else if (!ok)
            fprintf(stderr, "lstmcl-train: %s\n", err);
        if (!dist_all_ok(&d, ok))
            goto done;
    }
    if (!resume) {
        int ok;
        if (cosine)
            cfg.schedule = CHARLM_LR_COSINE, cfg.schedule_steps = steps;
        if (d.size > 1)
            cfg.rows = cfg.N / (uint32_t)d.size, cfg.row0 = (uint32_t)d.rank * cfg.rows;
        ok = charlm_create(&lm, ctx, &cfg, &corpus, err, sizeof err) == 0;
        if (!ok)
            fprintf(stderr, "lstmcl-train: %s\n", err);
        if (!dist_all_ok(&d, ok))
            goto done;
    }
    {
        /* what the training and the evaluations will need of the texts, now
         * rather than after the first steps */
        int ok = charlm_check_corpus(lm, &corpus, HELDOUT_CHARS, err, sizeof err) == 0;
        if (!ok && (rank0 || d.size == 1))
            fprintf(stderr, "lstmcl-train: %s%s%s\n", text_path ? text_path : "", text_path ? ": " : "",
                    err);
        if (!dist_all_ok(&d, ok))
            goto done;
    }
    if (d.size > 1) {
        const charlm_config *k = charlm_get_config(lm);
        char *names = NULL, mine[1100];
        int r;
        charlm_set_exchange(lm, dist_sum_gradients, &d);
        state_n = (size_t)k->layers * (k->N / (uint32_t)d.size) * k->H;
        state_h = malloc(state_n * sizeof *state_h), state_c = malloc(state_n * sizeof *state_c);
        if (rank0) {
            all_h = malloc(state_n * (size_t)d.size * sizeof *all_h);
            all_c = malloc(state_n * (size_t)d.size * sizeof *all_c);
            names = malloc(sizeof mine * (size_t)d.size);
        }
        if (!dist_all_ok(&d, state_h && state_c && (!rank0 || (all_h && all_c && names)))) {
            free(names);
            fprintf(stderr, "lstmcl-train: out of memory\n");
            goto done;
        }
        snprintf(mine, sizeof mine, "%s: %s (selector %s)", d.host,
                 lstmcl_context_device_name(ctx), selector);
        if (dist_gather_bytes(&d, mine, sizeof mine, names) != 0)
            dist_abort(&d, 1);
        if (rank0) {
            fprintf(stderr, "lstmcl-train on %d processes, %u of the %u streams each:\n",
                    d.size, k->N / (uint32_t)d.size, k->N);
            for (r = 0; r < d.size; r++)
                fprintf(stderr, "  process %d on %s\n", r, names + sizeof mine * (size_t)r);
        }
        free(names);
    }
    if (rank0 && mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "lstmcl-train: cannot create %s: %s\n", out_dir, strerror(errno));
        dist_abort(&d, 1);
    }
    if (checkpoint) {
        snprintf(path_ck, sizeof path_ck, "%s", checkpoint);
        snprintf(path_best, sizeof path_best, "%s.best", checkpoint);
    } else {
        snprintf(path_ck, sizeof path_ck, "%s/checkpoint.lstmcl", out_dir);
        snprintf(path_best, sizeof path_best, "%s/best.lstmcl", out_dir);
    }
    snprintf(path_csv, sizeof path_csv, "%s/curve.csv", out_dir);
    snprintf(path_svg, sizeof path_svg, "%s/curve.svg", out_dir);
    if (rank0) {
        /* every output is checked before the first step; the checkpoints
         * and the SVG are written whole (src/atomicfile.h), the CSV appended
         * to, never through a link planted at its name */
        const char *outs[] = {path_ck, path_best, path_svg};
        size_t k;
        int fd;
        for (k = 0; k < sizeof outs / sizeof outs[0]; k++) {
            if (k < 2)
                remove_stale_temps(outs[k]);
            if (probe_output(outs[k], err, sizeof err) != 0) {
                fprintf(stderr, "lstmcl-train: %s\n", err);
                dist_abort(&d, 1);
            }
        }
        fd = open(path_csv, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
                                (resume ? O_APPEND : O_TRUNC), 0666);
        csv = fd >= 0 ? fdopen(fd, resume ? "a" : "w") : NULL;
        if (!csv) {
            fprintf(stderr, "lstmcl-train: cannot write %s: %s\n", path_csv,
                    errno == ELOOP ? "it is a symbolic link" : strerror(errno));
            if (fd >= 0)
                close(fd);
            dist_abort(&d, 1);
        }
        if (loss_log && !(losses = fopen(loss_log, resume ? "a" : "w"))) {
            fprintf(stderr, "lstmcl-train: cannot write %s\n", loss_log);
            dist_abort(&d, 1);
        }
    }
    if (csv && !resume)
        fprintf(csv, "step,train_loss_nats,heldout_bits_per_char,heldout_answers_right,"
                     "elapsed_s\n");
    pts = calloc(steps / eval_every + 2, sizeof *pts);
    if (!pts)
        dist_abort(&d, 1);
    if (!rank0) /* process 0 does the talking */
        goto train;

    if (d.size == 1)
        fprintf(stderr, "lstmcl-train on %s\n", lstmcl_context_device_name(ctx));
    fprintf(stderr, "corpus: %s, %zu training and %zu held-out characters, vocabulary %u\n",
            text_path ? text_path : "generated additions", corpus.ntrain, corpus.nheldout,
            corpus.V);
    fprintf(stderr, "model: %u layers of %u, embedding %u, %zu parameters; batch %u x %u steps "
                    "(an epoch is %llu steps), Adam %.3g%s, clip %.3g, dropout %.2g, seed %llu\n",
            cfg.layers, cfg.H, cfg.E, charlm_param_count(lm), cfg.N, cfg.T,
            (unsigned long long)charlm_epoch_steps(&cfg, corpus.ntrain), cfg.lr,
            cfg.schedule == CHARLM_LR_COSINE ? " (cosine to a tenth)" : "", cfg.clip, cfg.dropout,
            (unsigned long long)cfg.seed);
    if (floor_bpc > 0)
        fprintf(stderr, "the additions corpus has %.2f bits of entropy per character: no model "
                        "can go below that\n", floor_bpc);

train:
    t0 = now();
    first_step = (unsigned long)charlm_step(lm);
    while (charlm_step(lm) < steps) {
        double loss, el, rate;
        unsigned long s;
        int is_best = 0;
        char e1[32], e2[32];
        if (fail_at && d.rank == atoi(fail_at) && strchr(fail_at, ':') &&
            charlm_step(lm) + 1 == strtoul(strchr(fail_at, ':') + 1, NULL, 10)) {
            fprintf(stderr, "\nlstmcl-train: process %d: injected failure at step %lu "
                            "(LSTMCL_TEST_FAIL_STEP)\n", d.rank, (unsigned long)charlm_step(lm) + 1);
            dist_abort(&d, 1);
        }
        if (charlm_train_step(lm, &corpus, &loss, err, sizeof err) != 0) {
            if (d.size > 1) {
                fprintf(stderr, "\nlstmcl-train: process %d: %s; stopping all processes\n",
                        d.rank, err);
                dist_abort(&d, 1);
            }
            fprintf(stderr, "\nlstmcl-train: %s\n", err);
            goto done;
        }
        s = (unsigned long)charlm_step(lm);
        if (losses)
            fprintf(losses, "%lu,%.9g\n", s, loss);
        if (!rank0) { /* the others take part in the checkpoints' gathering */
            if ((s % eval_every == 0 || s == steps) &&
                gather_state(&d, lm, state_h, state_c, state_n, NULL, NULL, err, sizeof err) !=
                    0) {
                fprintf(stderr, "lstmcl-train: process %d: %s\n", d.rank, err);
                dist_abort(&d, 1);
            }
            continue;
        }
        interval_loss += loss, interval_n++;
        el = now() - t0;
        rate = (double)(s - first_step) * cfg.N * cfg.T / el;
        clock_text(el, e1, sizeof e1);
        clock_text(el / (double)(s - first_step) * (double)(steps - s), e2, sizeof e2);
        if (s % eval_every == 0 || s == steps) {
            double hl = 0, acc = -1;
            point *p = &pts[npts++];
            if (charlm_heldout_loss(lm, &corpus, HELDOUT_CHARS, &hl, err, sizeof err) != 0 ||
                (corpus.additions &&
                 charlm_additions_accuracy(lm, &corpus, 500, 99, &acc, err, sizeof err) != 0)) {
                fprintf(stderr, "\nlstmcl-train: evaluation: %s\n", err);
                if (d.size > 1)
                    dist_abort(&d, 1);
                goto done;
            }
            if (!isfinite(hl)) {
                fprintf(stderr, "\nlstmcl-train: the held-out score is %g at step %lu: "
                                "stopping, with the checkpoints kept as they were\n", hl, s);
                if (d.size > 1)
                    dist_abort(&d, 1);
                goto done;
            }
            p->step = s, p->loss = interval_loss / interval_n, p->heldout = hl / log(2.0);
            p->accuracy = acc, p->elapsed = el;
            last_heldout = p->heldout, last_acc = acc;
            is_best = charlm_record_heldout(lm, p->heldout);
            interval_loss = 0, interval_n = 0;
            fprintf(csv, "%lu,%.6f,%.6f,%s%.4f,%.2f\n", s, p->loss, p->heldout,
                    acc < 0 ? "" : "", acc < 0 ? 0.0 : acc, el);
            fflush(csv);
            fprintf(stderr, "%sstep %6lu/%lu  loss %.3f  held-out %.3f bits/char", live ? "\r" : "",
                    s, steps, p->loss, p->heldout);
            if (floor_bpc > 0)
                fprintf(stderr, " (floor %.2f), answers right %5.1f%%", floor_bpc, 100 * acc);
            fprintf(stderr, "  %.0f chars/s  %s elapsed%s%s\n", rate, e1,
                    is_best ? ", best so far" : "", live ? "        " : "");
            if (d.size > 1 && gather_state(&d, lm, state_h, state_c, state_n, all_h, all_c,
                                           err, sizeof err) != 0) {
                fprintf(stderr, "lstmcl-train: %s\n", err);
                dist_abort(&d, 1);
            }
            if (charlm_save_with_state(lm, &corpus, path_ck, all_h, all_c, err, sizeof err) != 0 ||
                (is_best &&
                 charlm_save_with_state(lm, &corpus, path_best, all_h, all_c, err, sizeof err) !=
                     0)) {
                fprintf(stderr, "lstmcl-train: %s\n", err);
                if (d.size > 1)
                    dist_abort(&d, 1);
                goto done;
            }
        } else if (live) {
            char score[64] = "";
            if (last_heldout >= 0 && last_acc >= 0)
                snprintf(score, sizeof score, "  held-out %.3f b/c, %.1f%% right", last_heldout,
                         100 * last_acc);
            else if (last_heldout >= 0)
                snprintf(score, sizeof score, "  held-out %.3f b/c", last_heldout);
            fprintf(stderr, "\rstep %6lu/%lu  loss %.3f%s  %.0f chars/s  %s elapsed, %s left   ",
                    s, steps, loss, score, rate, e1, e2);
        }
    }
    if (d.size > 1) {
        const double el = now() - t0;
        double copies = 0, all = charlm_exchange_seconds(lm, &copies);
        if (same_everywhere(&d, lm, rank0, err, sizeof err) != 0) {
            fprintf(stderr, "lstmcl-train: process %d: %s\n", d.rank, err);
            goto done;
        }
        if (rank0) {
            const unsigned long n = (unsigned long)charlm_step(lm) - first_step;
            const size_t P = charlm_param_count(lm);
            fprintf(stderr, "gradient exchange (process 0): %.2f s of %.1f s (%.1f%%), %.2f ms a "
                            "step: MPI %.2f s, device-host copies %.2f s; %zu parameters "
                            "(%.2f MB) summed over %d processes; compute and the rest %.1f s, "
                            "%.2f ms a step\n",
                    all, el, 100 * all / el, n ? 1e3 * all / (double)n : 0.0, d.seconds, copies,
                    P, 4e-6 * (double)P, d.size, el - all, n ? 1e3 * (el - all) / (double)n : 0.0);
        }
    }
    if (!rank0) {
        rc = 0;
        goto done;
    }
    if (write_svg(path_svg, pts, npts, floor_bpc, corpus.additions) != 0)
        fprintf(stderr, "lstmcl-train: cannot write %s\n", path_svg);
    {
        double el = now() - t0;
        unsigned long done_steps = (unsigned long)charlm_step(lm) - first_step;
        fprintf(stderr, "done: %lu steps in %.1f s (%.1f steps/s, %.0f chars/s)\n", done_steps, el,
                done_steps / el, (double)done_steps * cfg.N * cfg.T / el);
        double best = NAN;
        charlm_heldout_scores(lm, NULL, &best);
        fprintf(stderr, "wrote %s, %s, %s\n", path_ck, path_csv, path_svg);
        if (best == best)
            fprintf(stderr, "best held-out score %.3f bits/char, kept in %s\n", best, path_best);
    }
    if (corpus.additions) {
        char sample[64];
        static const char prime[] = "71+05=076\n33+48=081\n12+34=";
        if (charlm_generate(lm, prime, 24, 0.0f, 1, sample, err, sizeof err) == 0) {
            size_t k;
            for (k = 0; sample[k]; k++)
                if (sample[k] == '\n')
                    sample[k] = ' ';
            fprintf(stderr, "after \"71+05=076 33+48=081 12+34=\" the model writes \"%s\"\n",
                    sample);
        }
    }
    rc = 0;
done:
    if (csv)
        fclose(csv);
    if (losses && fclose(losses) != 0 && rc == 0) {
        fprintf(stderr, "lstmcl-train: cannot write %s\n", loss_log);
        rc = 1;
    }
    free(pts);
    free(state_h), free(state_c), free(all_h), free(all_c);
    charlm_destroy(lm);
    charlm_corpus_free(&corpus);
    lstmcl_context_destroy(ctx);
    dist_finalize(&d);
    return rc;
}
