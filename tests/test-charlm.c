/* The character-level language model of lstmcl-train: it learns, it is
 * deterministic, it resumes exactly, and its checkpoints are validated. */
#define _POSIX_C_SOURCE 200809L
#include "../tools/charlm.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static lstmcl_context *ctx;
static charlm_corpus corpus;
static const charlm_config tiny = {.layers = 1, .E = 8, .H = 32, .N = 8, .T = 16, .lr = 1e-2f,
                                   .clip = 5.0f, .seed = 7};
static char err[512];

static void setup(void)
{
    ctx = tu_context();
    ck_assert_int_eq(charlm_corpus_additions(&corpus, 7, 2000), 0);
}

static void teardown(void)
{
    charlm_corpus_free(&corpus);
}

static charlm *model(const charlm_config *cfg)
{
    charlm *lm = NULL;
    ck_assert_msg(charlm_create(&lm, ctx, cfg, &corpus, err, sizeof err) == 0, "%s", err);
    return lm;
}

static void train(charlm *lm, int steps, double *losses)
{
    int i;
    for (i = 0; i < steps; i++)
        ck_assert_msg(charlm_train_step(lm, &corpus, &losses[i], err, sizeof err) == 0, "%s", err);
}

/* A tiny model learns: over 80 steps the loss falls by at least a third. */
START_TEST(loss_falls)
{
    charlm *lm = model(&tiny);
    double l[80], first = 0, last = 0;
    int i;
    train(lm, 80, l);
    for (i = 0; i < 5; i++)
        first += l[i] / 5, last += l[75 + i] / 5;
    ck_assert_msg(last < first * (2.0 / 3.0), "loss %.3f -> %.3f: did not fall by a third",
                  first, last);
    ck_assert(first > 2.0); /* ln(13) ≈ 2.56 at the start */
    charlm_destroy(lm);
}
END_TEST

/* The same seed gives the same loss curve, to the bit. */
START_TEST(same_seed_same_curve)
{
    charlm *a = model(&tiny), *b = model(&tiny);
    double la[15], lb[15];
    charlm_config other = tiny;
    charlm *c;
    double lc[15];
    train(a, 15, la);
    train(b, 15, lb);
    ck_assert(memcmp(la, lb, sizeof la) == 0);
    other.seed = 8;
    c = model(&other);
    train(c, 15, lc);
    ck_assert(memcmp(la, lc, sizeof la) != 0);
    charlm_destroy(a), charlm_destroy(b), charlm_destroy(c);
}
END_TEST

/* Saving after 10 steps, loading and going on gives what 20 steps in one
 * go give. */
START_TEST(resume_is_exact)
{
    charlm_config cfg = tiny;
    char path[] = "/tmp/lstmcl-ck-XXXXXX";
    int fd = mkstemp(path);
    charlm *a, *b, *c = NULL;
    double la[20], lb[10], lc[10];
    unsigned char vocab[256];
    uint32_t V = 0, crc = 0;
    ck_assert_int_ge(fd, 0);
    close(fd);
    /* two layers with dropout, a cosine schedule, and 64 streams, so that
     * an epoch (17 steps here) ends between the save and the end */
    cfg.layers = 2, cfg.N = 64, cfg.dropout = 0.3f;
    cfg.schedule = CHARLM_LR_COSINE, cfg.schedule_steps = 25;
    ck_assert_uint_lt(charlm_epoch_steps(&cfg, corpus.ntrain), 20);
    ck_assert_uint_gt(charlm_epoch_steps(&cfg, corpus.ntrain), 10);
    a = model(&cfg);
    b = model(&cfg);
    train(a, 20, la);
    train(b, 10, lb);
    ck_assert(memcmp(la, lb, sizeof lb) == 0);
    ck_assert_msg(charlm_save(b, &corpus, path, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(charlm_load(&c, ctx, path, vocab, &V, &crc, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(V, corpus.V);
    ck_assert_uint_eq(crc, corpus.crc);
    ck_assert(memcmp(vocab, corpus.vocab, V) == 0);
    ck_assert_uint_eq(charlm_step(c), 10);
    train(c, 10, lc);
    ck_assert_msg(memcmp(la + 10, lc, sizeof lc) == 0, "resumed curve differs: %.9g vs %.9g",
                  la[10], lc[0]);
    unlink(path);
    charlm_destroy(a), charlm_destroy(b), charlm_destroy(c);
}
END_TEST

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *d;
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    d = malloc(*len);
    ck_assert_uint_eq(fread(d, 1, *len, f), *len);
    fclose(f);
    return d;
}

static void set32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static void reseal(uint8_t *d, size_t len)
{
    set32(d + len - 4, charlm_crc32(d, len - 4, 0));
}

/* Truncated, damaged or inconsistent checkpoints are refused with a reason. */
START_TEST(damaged_checkpoints)
{
    char path[] = "/tmp/lstmcl-ck-XXXXXX";
    int fd = mkstemp(path);
    charlm *lm = model(&tiny), *back = NULL;
    charlm_config got;
    uint8_t *d, *copy;
    size_t len, i;
    static const struct {
        size_t at;
        uint32_t value;
        const char *needle;
    } fields[] = {
        {12, 0, "out of range"},  {12, 17, "out of range"},
        {20, 0, "out of range"},    {20, 100000, "out of range"}, {24, 257, "out of range"},
        {28, 0, "out of range"},    {32, 5000, "out of range"}, {36, 0x7fc00000u, "learning"},
        {40, 0xbf800000u, "clipping"}, {16, 9, "truncated"},
        {8, 1, "version 1"},        {8, 3, "version"},        {64, 0x3f800000u, "dropout"},
        {68, 2, "schedule"},        {80, 0xbf800000u, "held-out"}, {84, 0x7f800000u, "held-out"},
    };
    close(fd);
    ck_assert_int_eq(charlm_save(lm, &corpus, path, err, sizeof err), 0);
    d = slurp(path, &len);
    ck_assert_int_eq(charlm_check_checkpoint(d, len, &got, err, sizeof err), 0);
    ck_assert_uint_eq(got.H, tiny.H);
    copy = malloc(len);
    for (i = 0; i < len; i += (i < 128 ? 1 : 97)) /* every short prefix, then a sample */
        ck_assert_msg(charlm_check_checkpoint(d, i, &got, err, sizeof err) != 0,
                      "a checkpoint cut at %zu bytes was accepted", i);
    for (i = 0; i < len; i += 61) { /* any flipped bit breaks the checksum or a field */
        memcpy(copy, d, len);
        copy[i] ^= 0x10;
        ck_assert_msg(charlm_check_checkpoint(copy, len, &got, err, sizeof err) != 0,
                      "a flipped bit at %zu was accepted", i);
    }
    memcpy(copy, d, len);
    copy[0] = 'X';
    ck_assert_int_ne(charlm_check_checkpoint(copy, len, &got, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "magic"));
    for (i = 0; i < sizeof fields / sizeof fields[0]; i++) { /* consistent checksum, bad field */
        memcpy(copy, d, len);
        set32(copy + fields[i].at, fields[i].value);
        reseal(copy, len);
        ck_assert_msg(charlm_check_checkpoint(copy, len, &got, err, sizeof err) != 0,
                      "field at %zu = %u accepted", fields[i].at, fields[i].value);
        ck_assert_msg(strstr(err, fields[i].needle) != NULL, "field %zu: '%s' lacks '%s'",
                      fields[i].at, err, fields[i].needle);
    }
    memcpy(copy, d, len); /* vocabulary out of order */
    copy[88] = copy[89];
    reseal(copy, len);
    ck_assert_int_ne(charlm_check_checkpoint(copy, len, &got, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "vocabulary"));
    memcpy(copy, d, len); /* damaged file on disk: load names it */
    copy[len / 2] ^= 1;
    {
        FILE *f = fopen(path, "wb");
        fwrite(copy, 1, len, f);
        fclose(f);
    }
    ck_assert_int_ne(charlm_load(&back, ctx, path, NULL, NULL, NULL, err, sizeof err), 0);
    ck_assert_ptr_null(back);
    ck_assert_ptr_nonnull(strstr(err, path));
    ck_assert_ptr_nonnull(strstr(err, "checksum"));
    unlink(path);
    ck_assert_int_ne(charlm_load(&back, ctx, path, NULL, NULL, NULL, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "cannot open"));
    free(d), free(copy);
    charlm_destroy(lm);
}
END_TEST

/* Every epoch reads each of N·chunks·T training characters exactly once,
 * chunk after chunk from each segment's start; the few characters left
 * over at the segments' ends are read in later epochs; a text too short
 * for the streams is refused. */
START_TEST(streams_cover_the_text)
{
    static const struct {
        uint32_t N, T;
        size_t ntrain;
    } cases[] = {{32, 32, 1000000}, {1, 1, 2}, {3, 5, 100}, {7, 13, 5001}, {64, 16, 18000},
                 {5, 1, 6}};
    size_t k;
    for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        charlm_config cfg = tiny;
        const size_t L = cases[k].ntrain;
        uint8_t *reads, *ever = calloc(L, 1);
        uint64_t chunks, step, e, epochs;
        size_t seg, slack, i, ever_read = 0;
        cfg.N = cases[k].N, cfg.T = cases[k].T;
        chunks = charlm_epoch_steps(&cfg, L);
        seg = (L - 1) / cfg.N;
        ck_assert_uint_eq(chunks, seg / cfg.T);
        ck_assert_uint_ge(chunks, 1);
        slack = seg - (size_t)chunks * cfg.T;
        epochs = slack + 1 < 4 ? 4 : slack + 1;
        reads = calloc(L, 1);
        for (e = 0; e < epochs; e++) {
            size_t once = 0;
            memset(reads, 0, L);
            /* plain checks in the loops (a ck_assert each would write to Check's log) */
            for (step = e * chunks; step < (e + 1) * chunks; step++) {
                uint32_t n;
                for (n = 0; n < cfg.N; n++) {
                    size_t start = 0, prev = 0, t;
                    int first = -1, pfirst = -1;
                    const char *bad = NULL;
                    if (charlm_stream_chunk(&cfg, L, step, n, &start, &first) != 0)
                        bad = "refused";
                    else if (first != (step % chunks == 0))
                        bad = "epoch start misplaced";
                    else if (start + cfg.T > L - 1)
                        bad = "targets past the text";
                    else if (start < n * seg || start + cfg.T > (n + 1) * seg)
                        bad = "outside the stream's segment";
                    else if (!first && (charlm_stream_chunk(&cfg, L, step - 1, n, &prev,
                                                            &pfirst) != 0 ||
                                        start != prev + cfg.T))
                        bad = "not where the stream's last chunk ended";
                    if (bad)
                        ck_abort_msg("N %u T %u length %zu, step %llu stream %u: %s", cfg.N,
                                     cfg.T, L, (unsigned long long)step, n, bad);
                    for (t = 0; t < cfg.T; t++)
                        reads[start + t]++, ever[start + t] = 1;
                }
            }
            for (i = 0; i < L; i++) {
                if (reads[i] > 1)
                    ck_abort_msg("N %u T %u: character %zu read %u times in epoch %llu", cfg.N,
                                 cfg.T, i, reads[i], (unsigned long long)e);
                once += reads[i];
            }
            ck_assert_uint_eq(once, cfg.N * chunks * cfg.T);
            ck_assert_msg((double)once >= (double)(L - 1) - (double)cfg.N * cfg.T,
                          "an epoch reads %zu of %zu characters", once, L - 1);
        }
        for (i = 0; i < (size_t)cfg.N * seg; i++)
            ever_read += ever[i];
        ck_assert_msg(ever_read == (size_t)cfg.N * seg,
                      "N %u T %u: %zu of the %zu characters in the segments never read in %llu "
                      "epochs",
                      cfg.N, cfg.T, (size_t)cfg.N * seg - ever_read, (size_t)cfg.N * seg,
                      (unsigned long long)epochs);
        free(reads), free(ever);
    }
    {
        charlm_config cfg = tiny;
        size_t start;
        int first;
        cfg.N = 10, cfg.T = 10;
        ck_assert_int_ne(charlm_stream_chunk(&cfg, 100, 0, 0, &start, &first), 0);
        ck_assert_uint_eq(charlm_epoch_steps(&cfg, 100), 0);
        ck_assert_int_ne(charlm_stream_chunk(&cfg, 1000, 0, 10, &start, &first), 0);
    }
}
END_TEST

/* Offset of the carried state in a saved checkpoint of lm (h, then c). */
static size_t state_offset(const charlm_config *c, size_t len)
{
    return len - 4 - 2 * 4 * (size_t)c->layers * c->N * c->H;
}

/* The state is carried from chunk to chunk, and starts from zeros at each
 * epoch: a model whose carried state is zeroed takes the same step as the
 * original at an epoch's start, and another one in the middle of an epoch. */
START_TEST(state_carried_within_epochs)
{
    charlm_config cfg = tiny;
    char path[] = "/tmp/lstmcl-ck-XXXXXX";
    int fd = mkstemp(path), mid;
    uint64_t chunks;
    double l[200];
    cfg.N = 64; /* 17 steps an epoch */
    chunks = charlm_epoch_steps(&cfg, corpus.ntrain);
    ck_assert_int_ge(fd, 0);
    close(fd);
    for (mid = 0; mid < 2; mid++) {
        charlm *a = model(&cfg), *z = NULL;
        size_t len, off;
        uint8_t *d;
        double la, lz;
        FILE *f;
        train(a, (int)(mid ? chunks + 3 : chunks), l);
        ck_assert_msg(charlm_save(a, &corpus, path, err, sizeof err) == 0, "%s", err);
        d = slurp(path, &len);
        off = state_offset(&cfg, len);
        memset(d + off, 0, len - 4 - off);
        reseal(d, len);
        f = fopen(path, "wb");
        ck_assert_uint_eq(fwrite(d, 1, len, f), len);
        fclose(f);
        ck_assert_msg(charlm_load(&z, ctx, path, NULL, NULL, NULL, err, sizeof err) == 0, "%s",
                      err);
        ck_assert_int_eq(charlm_train_step(a, &corpus, &la, err, sizeof err), 0);
        ck_assert_int_eq(charlm_train_step(z, &corpus, &lz, err, sizeof err), 0);
        if (mid)
            ck_assert_msg(la != lz, "zeroing the carried state mid-epoch changed nothing");
        else
            ck_assert_msg(la == lz, "at an epoch's start the carried state was used: %.9g vs %.9g",
                          la, lz);
        free(d);
        charlm_destroy(a), charlm_destroy(z);
    }
    unlink(path);
}
END_TEST

/* The parameters of a saved model, as floats. */
static float *saved_params(charlm *lm, size_t *P)
{
    char path[] = "/tmp/lstmcl-ck-XXXXXX";
    int fd = mkstemp(path);
    size_t len, i;
    uint8_t *d;
    float *p;
    const charlm_config *c = charlm_get_config(lm);
    close(fd);
    ck_assert_msg(charlm_save(lm, &corpus, path, err, sizeof err) == 0, "%s", err);
    d = slurp(path, &len);
    unlink(path);
    *P = charlm_param_count(lm);
    p = malloc(*P * sizeof *p);
    for (i = 0; i < *P; i++)
        memcpy(p + i, d + 88 + (c->V + 3) / 4 * 4 + 4 * i, 4);
    free(d);
    return p;
}

/* PyTorch's initialisation (the default): embedding N(0, 1); LSTM weights
 * U(±1/sqrt(H)), its bias the sum of two such (PyTorch's b_ih + b_hh);
 * output weights and bias U(±1/sqrt(H)).  The classic one: embedding
 * U(±0.5), forget-gate bias 1, other biases 0. */
START_TEST(initialisation)
{
    charlm_config cfg = tiny;
    charlm *lm;
    size_t P, i, l, VE;
    float *p;
    double sum = 0, sq = 0, k;
    cfg.layers = 2, cfg.H = 40, cfg.E = 50;
    k = 1 / sqrt(40.0);
    lm = model(&cfg);
    p = saved_params(lm, &P);
    VE = (size_t)corpus.V * cfg.E;
    for (i = 0; i < VE; i++)
        sum += p[i], sq += (double)p[i] * p[i];
    ck_assert_msg(fabs(sum / VE) < 0.1 && fabs(sqrt(sq / VE - (sum / VE) * (sum / VE)) - 1) < 0.1,
                  "embedding mean %.3f, sd %.3f: not N(0, 1)", sum / VE,
                  sqrt(sq / VE - (sum / VE) * (sum / VE)));
    for (l = 0; l < cfg.layers; l++) {
        const size_t din = l ? cfg.H : cfg.E;
        size_t off = VE, j, m;
        double bmax = 0, wmax = 0;
        for (m = 0; m < l; m++)
            off += ((m ? cfg.H : cfg.E) + cfg.H + 1) * 4 * cfg.H;
        for (j = 0; j < (din + cfg.H) * 4 * cfg.H; j++)
            wmax = fmax(wmax, fabs(p[off + j]));
        for (j = 0; j < 4 * cfg.H; j++)
            bmax = fmax(bmax, fabs(p[off + (din + cfg.H) * 4 * cfg.H + j]));
        ck_assert_msg(wmax <= k && wmax > 0.95 * k, "layer %zu weights up to %.4f, bound %.4f", l,
                      wmax, k);
        ck_assert_msg(bmax <= 2 * k && bmax > k, "layer %zu biases up to %.4f", l, bmax);
    }
    {
        double omax = 0;
        size_t off = P - ((size_t)cfg.H + 1) * corpus.V;
        for (i = off; i < P; i++)
            omax = fmax(omax, fabs(p[i]));
        ck_assert_msg(omax <= k && omax > 0.9 * k, "output layer up to %.4f", omax);
    }
    free(p);
    charlm_destroy(lm);

    cfg.init = CHARLM_INIT_CLASSIC;
    lm = model(&cfg);
    p = saved_params(lm, &P);
    for (i = 0; i < VE; i++)
        ck_assert(p[i] >= -0.5f && p[i] < 0.5f);
    {
        const size_t b = VE + (cfg.E + cfg.H) * 4 * cfg.H;
        for (i = 0; i < 4 * cfg.H; i++)
            ck_assert(p[b + i] == (i >= cfg.H && i < 2 * cfg.H ? 1.0f : 0.0f));
    }
    free(p);
    charlm_destroy(lm);
    cfg.init = 7;
    ck_assert_int_ne(charlm_create(&lm, ctx, &cfg, &corpus, err, sizeof err), 0);
}
END_TEST

/* The cosine schedule falls from lr to lr/10 over its steps and stays. */
START_TEST(learning_rate_schedule)
{
    charlm_config cfg = tiny;
    const double lr = cfg.lr;
    ck_assert(charlm_learning_rate(&cfg, 0) == cfg.lr && charlm_learning_rate(&cfg, 999) == cfg.lr);
    cfg.schedule = CHARLM_LR_COSINE, cfg.schedule_steps = 100;
    ck_assert(fabs(charlm_learning_rate(&cfg, 0) - lr) < 1e-12);
    ck_assert(fabs(charlm_learning_rate(&cfg, 50) - 0.55 * lr) < 1e-9);
    ck_assert(fabs(charlm_learning_rate(&cfg, 100) - 0.1 * lr) < 1e-12);
    ck_assert(fabs(charlm_learning_rate(&cfg, 5000) - 0.1 * lr) < 1e-12);
    ck_assert(charlm_learning_rate(&cfg, 30) > charlm_learning_rate(&cfg, 31));
}
END_TEST

/* Dropout keeps runs repeatable to the bit and changes what is learned;
 * the held-out scores go into checkpoints. */
START_TEST(dropout_and_scores)
{
    charlm_config cfg = tiny;
    charlm *a, *b, *c, *back = NULL;
    double la[12], lb[12], lc[12], latest, best;
    char path[] = "/tmp/lstmcl-ck-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    cfg.layers = 2, cfg.dropout = 0.4f;
    a = model(&cfg), b = model(&cfg);
    cfg.dropout = 0;
    c = model(&cfg);
    train(a, 12, la), train(b, 12, lb), train(c, 12, lc);
    ck_assert(memcmp(la, lb, sizeof la) == 0);
    ck_assert(memcmp(la, lc, sizeof la) != 0); /* the same start, other losses */
    cfg.dropout = 1.0f;
    ck_assert_int_ne(charlm_create(&back, ctx, &cfg, &corpus, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "dropout"));

    charlm_heldout_scores(a, &latest, &best);
    ck_assert(isnan(latest) && isnan(best));
    /* a score that is not finite is never the best, even with none yet */
    ck_assert_int_eq(charlm_record_heldout(a, NAN), 0);
    ck_assert_int_eq(charlm_record_heldout(a, INFINITY), 0);
    charlm_heldout_scores(a, NULL, &best);
    ck_assert(isnan(best));
    ck_assert_int_eq(charlm_record_heldout(a, 3.0), 1);
    ck_assert_int_eq(charlm_record_heldout(a, NAN), 0);
    charlm_heldout_scores(a, NULL, &best);
    ck_assert(best == 3.0);
    ck_assert_int_eq(charlm_record_heldout(a, 2.5), 1);
    ck_assert_int_eq(charlm_record_heldout(a, 2.7), 0);
    ck_assert_msg(charlm_save(a, &corpus, path, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(charlm_load(&back, ctx, path, NULL, NULL, NULL, err, sizeof err) == 0, "%s", err);
    charlm_heldout_scores(back, &latest, &best);
    ck_assert(fabs(latest - 2.7) < 1e-6 && fabs(best - 2.5) < 1e-6);
    ck_assert(fabs(charlm_get_config(back)->dropout - 0.4f) < 1e-7);
    ck_assert_int_eq(charlm_record_heldout(back, 2.6), 0);
    unlink(path);
    charlm_destroy(a), charlm_destroy(b), charlm_destroy(c), charlm_destroy(back);
}
END_TEST

/* Sampling on a model of real text (not the additions): the same seed gives
 * the same text, other seeds other texts, from the vocabulary only. */
START_TEST(generation_on_text)
{
    static const char words[] = "It was the best of times, it was the worst of times, it was "
                                "the age of wisdom, it was the age of foolishness. ";
    charlm_config cfg = tiny;
    charlm_corpus text;
    charlm *lm = NULL;
    uint8_t *buf = malloc(40 * sizeof words);
    char a[81], b[81];
    double loss;
    size_t i, same = 0;
    for (i = 0; i < 40; i++)
        memcpy(buf + i * (sizeof words - 1), words, sizeof words - 1);
    ck_assert_int_eq(charlm_corpus_from_text(&text, buf, 40 * (sizeof words - 1), err, sizeof err),
                     0);
    ck_assert_msg(charlm_create(&lm, ctx, &cfg, &text, err, sizeof err) == 0, "%s", err);
    for (i = 0; i < 20; i++)
        ck_assert_msg(charlm_train_step(lm, &text, &loss, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(charlm_generate(lm, "It was", 80, 0.8f, 3, a, err, sizeof err), 0);
    ck_assert_int_eq(charlm_generate(lm, "It was", 80, 0.8f, 3, b, err, sizeof err), 0);
    ck_assert_str_eq(a, b);
    for (i = 0; i < 80; i++)
        ck_assert_ptr_nonnull(memchr(words, a[i], sizeof words - 1));
    for (i = 4; i < 9; i++) {
        ck_assert_int_eq(charlm_generate(lm, "It was", 80, 0.8f, i, b, err, sizeof err), 0);
        same += strcmp(a, b) == 0;
    }
    ck_assert_uint_lt(same, 5);
    charlm_destroy(lm);
    charlm_corpus_free(&text);
    free(buf);
}
END_TEST

START_TEST(generation)
{
    charlm *lm = model(&tiny);
    char a[32], b[32];
    double l[30];
    train(lm, 30, l);
    ck_assert_msg(charlm_generate(lm, "\n12+", 20, 0.0f, 1, a, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(strlen(a), 20);
    ck_assert_int_eq(charlm_generate(lm, "\n12+", 20, 0.0f, 1, b, err, sizeof err), 0);
    ck_assert_str_eq(a, b); /* greedy is deterministic */
    ck_assert_int_eq(charlm_generate(lm, "\n12+", 20, 1.0f, 5, b, err, sizeof err), 0);
    for (size_t i = 0; i < 20; i++) /* only the vocabulary's bytes */
        ck_assert_ptr_nonnull(memchr(corpus.vocab, b[i], corpus.V));
    ck_assert_int_ne(charlm_generate(lm, "hello", 5, 0.0f, 1, b, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "never saw"));
    charlm_destroy(lm);
}
END_TEST

START_TEST(bad_configs)
{
    charlm_config cfg = tiny;
    charlm *lm = NULL;
    char tiny_text[50];
    charlm_corpus c;
    cfg.H = 0;
    ck_assert_int_ne(charlm_create(&lm, ctx, &cfg, &corpus, err, sizeof err), 0);
    ck_assert_ptr_null(lm);
    cfg = tiny;
    cfg.lr = -1;
    ck_assert_int_ne(charlm_create(&lm, ctx, &cfg, &corpus, err, sizeof err), 0);
    memset(tiny_text, 'a', sizeof tiny_text);
    ck_assert_int_ne(charlm_corpus_from_text(&c, (const uint8_t *)tiny_text, sizeof tiny_text,
                                             err, sizeof err),
                     0);
    ck_assert_ptr_nonnull(strstr(err, "at least 100"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("charlm");
    TCase *tc = tcase_create("training");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, loss_falls);
    tcase_add_test(tc, same_seed_same_curve);
    tcase_add_test(tc, resume_is_exact);
    tcase_add_test(tc, damaged_checkpoints);
    tcase_add_test(tc, generation);
    tcase_add_test(tc, generation_on_text);
    tcase_add_test(tc, streams_cover_the_text);
    tcase_add_test(tc, state_carried_within_epochs);
    tcase_add_test(tc, initialisation);
    tcase_add_test(tc, learning_rate_schedule);
    tcase_add_test(tc, dropout_and_scores);
    tcase_add_test(tc, bad_configs);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
