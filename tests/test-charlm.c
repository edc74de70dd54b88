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
static const charlm_config tiny = {1, 8, 32, 0, 8, 16, 1e-2f, 5.0f, 7};
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
    cfg.layers = 2;
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
        {8, 2, "version"},          {12, 0, "out of range"},  {12, 17, "out of range"},
        {20, 0, "out of range"},    {20, 100000, "out of range"}, {24, 257, "out of range"},
        {28, 0, "out of range"},    {32, 5000, "out of range"}, {36, 0x7fc00000u, "learning"},
        {40, 0xbf800000u, "clipping"}, {16, 9, "truncated"},
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
    copy[64] = copy[65];
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
    tcase_add_test(tc, bad_configs);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
