/* lstmcl-train: trains a character-level LSTM language model on the device.
 * With no arguments it trains on a corpus it generates itself (lines of
 * two-digit additions) and reports how many held-out additions it completes
 * correctly; --text FILE trains on any file. */
#define _POSIX_C_SOURCE 200809L
#include "charlm.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
        "  --resume FILE     continue from a checkpoint (its model and settings)\n");
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
    long n;
    if (!f)
        return NULL;
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
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
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
    return fclose(f);
}

static void clock_text(double s, char *out, size_t cap)
{
    long t = (long)(s + 0.5);
    snprintf(out, cap, "%ld:%02ld", t / 60, t % 60);
}

int main(int argc, char **argv)
{
    charlm_config cfg = {.layers = 2, .E = 32, .H = 128, .N = 32, .T = 32, .lr = 3e-3f,
                         .clip = 5.0f, .seed = 1};
    const char *text_path = NULL, *device = NULL, *out_dir = "lstmcl-train-out", *resume = NULL;
    const char *checkpoint = NULL;
    unsigned long steps = 4000, eval_every = 250, u;
    double dv;
    charlm_corpus corpus;
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
    char path_best[4200];
    lstmcl_status st;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            usage(stderr);
            return 2;
        }
        if (!strcmp(a, "--text")) text_path = v;
        else if (!strcmp(a, "--device")) device = v;
        else if (!strcmp(a, "--out")) out_dir = v;
        else if (!strcmp(a, "--resume")) resume = v;
        else if (!strcmp(a, "--checkpoint")) checkpoint = v;
        else if (!strcmp(a, "--layers")) bad = parse_u(v, 1, 4, &u), cfg.layers = (uint32_t)u;
        else if (!strcmp(a, "--hidden")) bad = parse_u(v, 1, 4096, &u), cfg.H = (uint32_t)u;
        else if (!strcmp(a, "--embed")) bad = parse_u(v, 1, 4096, &u), cfg.E = (uint32_t)u;
        else if (!strcmp(a, "--seq")) bad = parse_u(v, 1, 1024, &u), cfg.T = (uint32_t)u;
        else if (!strcmp(a, "--batch")) bad = parse_u(v, 1, 1024, &u), cfg.N = (uint32_t)u;
        else if (!strcmp(a, "--steps")) bad = parse_u(v, 1, 100000000, &steps);
        else if (!strcmp(a, "--eval-every")) bad = parse_u(v, 1, 100000000, &eval_every);
        else if (!strcmp(a, "--seed")) bad = parse_u(v, 0, (unsigned long)-1, &u), cfg.seed = u;
        else if (!strcmp(a, "--lr")) bad = parse_f(v, 1e-7, 1, &dv), cfg.lr = (float)dv;
        else if (!strcmp(a, "--clip")) bad = parse_f(v, 0, 1e6, &dv), cfg.clip = (float)dv;
        else if (!strcmp(a, "--dropout"))
            bad = parse_f(v, 0, 0.99, &dv), cfg.dropout = (float)dv;
        else if (!strcmp(a, "--lr-schedule")) {
            cosine = !strcmp(v, "cosine");
            bad = !cosine && strcmp(v, "constant") != 0;
        } else if (!strcmp(a, "--init")) {
            cfg.init = !strcmp(v, "classic") ? CHARLM_INIT_CLASSIC : CHARLM_INIT_TORCH;
            bad = strcmp(v, "classic") != 0 && strcmp(v, "torch") != 0;
        }
        else {
            usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "lstmcl-train: bad value for %s: '%s'\n", a, v);
            return 2;
        }
        i++;
    }

    st = lstmcl_context_create(&ctx, device);
    if (st != LSTMCL_SUCCESS) {
        fprintf(stderr, "lstmcl-train: %s: %s\n", lstmcl_status_string(st),
                lstmcl_last_create_message());
        return 1;
    }
    if (resume) {
        uint32_t V = 0;
        unsigned char vocab[256];
        if (charlm_load(&lm, ctx, resume, vocab, &V, &resume_crc, err, sizeof err) != 0) {
            fprintf(stderr, "lstmcl-train: %s\n", err);
            goto done;
        }
        cfg = *charlm_get_config(lm);
    }
    if (text_path) {
        size_t len = 0;
        uint8_t *text = read_file(text_path, &len);
        if (!text) {
            fprintf(stderr, "lstmcl-train: cannot read %s: %s\n", text_path, strerror(errno));
            goto done;
        }
        if (charlm_corpus_from_text(&corpus, text, len, err, sizeof err) != 0) {
            fprintf(stderr, "lstmcl-train: %s: %s\n", text_path, err);
            free(text);
            goto done;
        }
        free(text);
    } else {
        if (charlm_corpus_additions(&corpus, cfg.seed, 20000) != 0) {
            fprintf(stderr, "lstmcl-train: out of memory\n");
            goto done;
        }
        floor_bpc = charlm_additions_entropy();
    }
    if (resume) {
        if (charlm_get_config(lm)->V != corpus.V || resume_crc != corpus.crc) {
            fprintf(stderr, "lstmcl-train: %s was trained on another corpus (give the same "
                            "--text, or none for the generated one)\n", resume);
            goto done;
        }
    } else {
        if (cosine)
            cfg.schedule = CHARLM_LR_COSINE, cfg.schedule_steps = steps;
        if (charlm_create(&lm, ctx, &cfg, &corpus, err, sizeof err) != 0) {
            fprintf(stderr, "lstmcl-train: %s\n", err);
            goto done;
        }
    }
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "lstmcl-train: cannot create %s: %s\n", out_dir, strerror(errno));
        goto done;
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
    csv = fopen(path_csv, resume ? "a" : "w");
    if (!csv) {
        fprintf(stderr, "lstmcl-train: cannot write %s\n", path_csv);
        goto done;
    }
    if (!resume)
        fprintf(csv, "step,train_loss_nats,heldout_bits_per_char,heldout_answers_right,"
                     "elapsed_s\n");
    pts = calloc(steps / eval_every + 2, sizeof *pts);
    if (!pts)
        goto done;

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

    t0 = now();
    first_step = (unsigned long)charlm_step(lm);
    while (charlm_step(lm) < steps) {
        double loss, el, rate;
        unsigned long s;
        int is_best = 0;
        char e1[32], e2[32];
        if (charlm_train_step(lm, &corpus, &loss, err, sizeof err) != 0) {
            fprintf(stderr, "\nlstmcl-train: %s\n", err);
            goto done;
        }
        s = (unsigned long)charlm_step(lm);
        interval_loss += loss, interval_n++;
        el = now() - t0;
        rate = (double)(s - first_step) * cfg.N * cfg.T / el;
        clock_text(el, e1, sizeof e1);
        clock_text(el / (double)(s - first_step) * (double)(steps - s), e2, sizeof e2);
        if (s % eval_every == 0 || s == steps) {
            double hl = 0, acc = -1;
            point *p = &pts[npts++];
            if (charlm_heldout_loss(lm, &corpus, 40000, &hl, err, sizeof err) != 0 ||
                (corpus.additions &&
                 charlm_additions_accuracy(lm, &corpus, 500, 99, &acc, err, sizeof err) != 0)) {
                fprintf(stderr, "\nlstmcl-train: evaluation: %s\n", err);
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
            if (charlm_save(lm, &corpus, path_ck, err, sizeof err) != 0 ||
                (is_best && charlm_save(lm, &corpus, path_best, err, sizeof err) != 0)) {
                fprintf(stderr, "lstmcl-train: %s\n", err);
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
    free(pts);
    charlm_destroy(lm);
    charlm_corpus_free(&corpus);
    lstmcl_context_destroy(ctx);
    return rc;
}
