/* A character-level LSTM language model on lstmcl: embedding -> stacked
 * LSTM -> linear -> softmax, trained with truncated back-propagation through
 * time, Adam and gradient-norm clipping; checkpoints; greedy and sampled
 * generation.  Shared by lstmcl-train, lstmcl-sample and the tests. */
#ifndef LSTMCL_CHARLM_H
#define LSTMCL_CHARLM_H

#include "lstmcl_train.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t layers, E, H, V; /* embedding size E, hidden size H, vocabulary V */
    uint32_t N, T;            /* streams per batch, steps per chunk */
    float lr, clip;           /* Adam's learning rate, gradient-norm bound */
    uint64_t seed;
} charlm_config;

/* The corpus, as token ids in [0, V), split into training and held-out. */
typedef struct {
    unsigned char vocab[256]; /* id -> byte */
    int id_of[256];           /* byte -> id, or -1 */
    uint32_t V;
    uint8_t *train, *heldout;
    size_t ntrain, nheldout;
    uint32_t crc;             /* of the whole text, to match checkpoints */
    int additions;            /* the generated corpus of additions */
} charlm_corpus;

typedef struct charlm charlm;

/* Builds a corpus from text (vocabulary: the bytes present), the last tenth
 * held out; 0, or -1 with a message. */
int charlm_corpus_from_text(charlm_corpus *c, const uint8_t *text, size_t len, char *err,
                            size_t errlen);
/* The default corpus: lines "ab+cd=efg" of zero-padded additions. */
int charlm_corpus_additions(charlm_corpus *c, uint64_t seed, size_t lines);
void charlm_corpus_free(charlm_corpus *c);
/* Bits per character that no model can go below on the additions corpus:
 * the operands' digits are random, everything else follows from them. */
double charlm_additions_entropy(void);

/* A model with fresh parameters (from cfg.seed) on ctx. */
int charlm_create(charlm **lm, lstmcl_context *ctx, const charlm_config *cfg,
                  const charlm_corpus *corpus, char *err, size_t errlen);
void charlm_destroy(charlm *lm);
const charlm_config *charlm_get_config(const charlm *lm);
uint64_t charlm_step(const charlm *lm); /* training steps done */
size_t charlm_param_count(const charlm *lm);

/* One training step on the next chunk of every stream; *loss receives the
 * mean loss (nats per character).  0, or -1 with a message. */
int charlm_train_step(charlm *lm, const charlm_corpus *c, double *loss, char *err, size_t errlen);

/* Mean loss (nats/char) over up to max_chars of the held-out text, read as N
 * streams whose first chunk of T characters only warms up the state. */
int charlm_heldout_loss(charlm *lm, const charlm_corpus *c, size_t max_chars, double *loss,
                        char *err, size_t errlen);

/* On the additions corpus: the share of `count` held-out problems whose
 * 3-digit answer the model completes exactly (greedy decoding). */
int charlm_additions_accuracy(charlm *lm, const charlm_corpus *c, size_t count, uint64_t seed,
                              double *accuracy, char *err, size_t errlen);

/* Generates len bytes after prime (which must use the vocabulary), sampling
 * with temperature (0: greedy) from seed; out gets len bytes + NUL. */
int charlm_generate(charlm *lm, const char *prime, size_t len, float temperature, uint64_t seed,
                    char *out, char *err, size_t errlen);

/* Checkpoints: see docs/checkpoint.md.  Save writes atomically (a temporary
 * file, then rename).  Load validates every field before using it. */
int charlm_save(const charlm *lm, const charlm_corpus *c, const char *path, char *err,
                size_t errlen);
/* Loads a model (with its optimiser state and carried state) on ctx; the
 * vocabulary goes to vocab and V.  corpus_crc, if not NULL, receives the
 * checksum of the corpus it was trained on. */
int charlm_load(charlm **lm, lstmcl_context *ctx, const char *path, unsigned char vocab[256],
                uint32_t *V, uint32_t *corpus_crc, char *err, size_t errlen);
/* Parses a checkpoint held in memory without touching a device: 0 if it is
 * well-formed, else -1 with the reason (used by load and by the fuzzer). */
int charlm_check_checkpoint(const uint8_t *data, size_t len, charlm_config *cfg, char *err,
                            size_t errlen);

uint32_t charlm_crc32(const uint8_t *p, size_t n, uint32_t crc);

#endif
