/* A character-level LSTM language model on lstmcl: embedding -> stacked
 * LSTM -> linear -> softmax, trained with truncated back-propagation through
 * time, Adam and gradient-norm clipping; checkpoints; greedy and sampled
 * generation.  Shared by lstmcl-train, lstmcl-sample and the tests. */
#ifndef LSTMCL_CHARLM_H
#define LSTMCL_CHARLM_H

#include "lstmcl_train.h"

#include <stddef.h>
#include <stdint.h>

/* How the learning rate moves over the steps (charlm_learning_rate). */
enum { CHARLM_LR_CONSTANT = 0, CHARLM_LR_COSINE = 1 };
/* How fresh parameters are drawn (charlm_create). */
enum {
    CHARLM_INIT_TORCH = 0,  /* PyTorch's defaults: embedding N(0,1); LSTM and output weights
                               and biases U(±1/sqrt(H)), the LSTM's bias as PyTorch's two */
    CHARLM_INIT_CLASSIC = 1 /* lstmcl-train's first choice: embedding U(±0.5), forget-gate
                               bias 1, other biases 0 */
};

typedef struct {
    uint32_t layers, E, H, V; /* embedding size E, hidden size H, vocabulary V */
    uint32_t N, T;            /* streams per batch, steps per chunk */
    float lr, clip;           /* Adam's learning rate, gradient-norm bound */
    uint64_t seed;
    float dropout;            /* between LSTM layers, in [0, 1) */
    uint32_t schedule;        /* CHARLM_LR_CONSTANT or CHARLM_LR_COSINE */
    uint64_t schedule_steps;  /* CHARLM_LR_COSINE: steps in which lr falls to lr/10 */
    uint32_t init;            /* CHARLM_INIT_TORCH or CHARLM_INIT_CLASSIC (not saved) */
    /* Data-parallel training (not saved): this process trains streams
     * row0..row0+rows-1 of the N; rows 0 means all N.  Where the streams
     * read, the loss's scale 1/(N·T) and the dropout masks are those of the
     * whole batch, so the processes' gradients add up to the whole's. */
    uint32_t row0, rows;
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

/* Where the training streams read, as char-rnn does: the training text's
 * first ntrain-1 characters (the last one is only a target) are cut into N
 * contiguous segments of seg = (ntrain-1)/N; an epoch is chunks = seg/T
 * steps, and at step s stream i reads the T characters from
 *   i·seg + shift + (s mod chunks)·T,   shift = epoch mod (seg - chunks·T + 1)
 * (epoch = s / chunks), so that an epoch reads each of N·chunks·T
 * characters exactly once and the few left over at the segments' ends come
 * in in later epochs.  *epoch_start is set when the step starts an epoch:
 * the carried state then starts from zeros, else it is carried on from the
 * stream's previous chunk, which ends where this one starts.  0, or -1
 * when the text is too short for N streams of T steps. */
int charlm_stream_chunk(const charlm_config *cfg, size_t ntrain, uint64_t step, uint32_t stream,
                        size_t *start, int *epoch_start);
/* Steps in an epoch (0: the text is too short). */
uint64_t charlm_epoch_steps(const charlm_config *cfg, size_t ntrain);

/* The learning rate of training step `step` (0-based): cfg->lr, or on the
 * cosine schedule lr/10 + (lr - lr/10)·(1 + cos(pi·min(step, S)/S))/2 with
 * S = cfg->schedule_steps. */
double charlm_learning_rate(const charlm_config *cfg, uint64_t step);

/* Held-out scores (bits per character) kept with the model and saved in its
 * checkpoints: the latest and the best so far (NaN: none yet).  Records a
 * new latest score; returns 1 if it is the best so far (a score that is NaN
 * or infinite never is). */
int charlm_record_heldout(charlm *lm, double bits_per_char);
void charlm_heldout_scores(const charlm *lm, double *latest, double *best);

/* One training step on the next chunk of every stream; *loss receives the
 * mean loss (nats per character).  0, or -1 with a message. */
int charlm_train_step(charlm *lm, const charlm_corpus *c, double *loss, char *err, size_t errlen);

/* Data-parallel training.  When set, every training step calls fn between
 * the backward and the update with this process's gradient (P floats,
 * already scaled by 1/(N·T) of the whole batch) and the sum of its rows'
 * losses (nats) on the host; fn must replace both with their sums over all
 * processes, the same bits in every process, so that all apply the same
 * update.  fn returns 0, or -1 with a message in err.  NULL: none. */
typedef int (*charlm_exchange_fn)(void *user, float *grads, size_t P, double *loss_sum,
                                  char *err, size_t errlen);
void charlm_set_exchange(charlm *lm, charlm_exchange_fn fn, void *user);
/* Seconds spent so far in the exchange: in all (copies between device and
 * host, and fn), and in the copies alone (if copies is not NULL). */
double charlm_exchange_seconds(const charlm *lm, double *copies);
/* The streams' carried state of this process's rows, (layers, rows, H) each,
 * copied to h and c.  0, or -1 with a message. */
int charlm_get_state(charlm *lm, float *h, float *c, char *err, size_t errlen);
/* A checksum of the parameters and of Adam's moments, to compare processes. */
int charlm_param_crc(charlm *lm, uint32_t *crc, char *err, size_t errlen);

/* What charlm_train_step and charlm_heldout_loss (with max_chars) will
 * need of the corpus, checked before any step: 0, or -1 with the message
 * those calls would give later. */
int charlm_check_corpus(const charlm *lm, const charlm_corpus *c, size_t max_chars, char *err,
                        size_t errlen);

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
/* The same with the carried state of all N streams given, (layers, N, H)
 * each, for a model that holds only some of the rows (gathered from all
 * processes); NULL h and c: the model's own, which then holds all rows. */
int charlm_save_with_state(const charlm *lm, const charlm_corpus *c, const char *path,
                           const float *h, const float *cst, char *err, size_t errlen);
/* Loads a model (with its optimiser state and carried state) on ctx; the
 * vocabulary goes to vocab and V.  corpus_crc, if not NULL, receives the
 * checksum of the corpus it was trained on. */
int charlm_load(charlm **lm, lstmcl_context *ctx, const char *path, unsigned char vocab[256],
                uint32_t *V, uint32_t *corpus_crc, char *err, size_t errlen);
/* The same for part `part` of `parts` equal parts of the batch (parts 0 or
 * 1: all of it): the streams part·N/parts.. get their rows of the saved
 * carried state, so that a run saved with K processes resumes with any
 * number that divides its batch. */
int charlm_load_part(charlm **lm, lstmcl_context *ctx, const char *path, uint32_t part,
                     uint32_t parts, unsigned char vocab[256], uint32_t *V, uint32_t *corpus_crc,
                     char *err, size_t errlen);
/* Parses a checkpoint held in memory without touching a device: 0 if it is
 * well-formed, else -1 with the reason (used by load and by the fuzzer). */
int charlm_check_checkpoint(const uint8_t *data, size_t len, charlm_config *cfg, char *err,
                            size_t errlen);

uint32_t charlm_crc32(const uint8_t *p, size_t n, uint32_t crc);

#endif
