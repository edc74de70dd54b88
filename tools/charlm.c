/* A character-level LSTM language model on lstmcl (see charlm.h). */
#define _POSIX_C_SOURCE 200809L
#include "charlm.h"
#include "atomicfile.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

#define FAIL(...) fail(err, errlen, __VA_ARGS__)

/* ------------------------------------------------------------- helpers */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double unit(uint64_t *s) /* [0, 1) */
{
    return (double)(splitmix(s) >> 11) / 9007199254740992.0;
}

static double normal(uint64_t *s) /* N(0, 1), Box-Muller */
{
    const double u = 1.0 - unit(s), v = unit(s);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

uint32_t charlm_crc32(const uint8_t *p, size_t n, uint32_t crc)
{
    size_t i;
    int k;
    crc = ~crc;
    for (i = 0; i < n; i++) {
        crc ^= p[i];
        for (k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* -------------------------------------------------------------- corpus */

static int corpus_build(charlm_corpus *c, const uint8_t *text, size_t len, size_t split)
{
    size_t i;
    int present[256] = {0};
    memset(c->id_of, -1, sizeof c->id_of);
    c->V = 0;
    for (i = 0; i < len; i++)
        present[text[i]] = 1;
    for (i = 0; i < 256; i++)
        if (present[i]) {
            c->id_of[i] = (int)c->V;
            c->vocab[c->V++] = (unsigned char)i;
        }
    c->ntrain = split;
    c->nheldout = len - split;
    c->train = malloc(c->ntrain ? c->ntrain : 1);
    c->heldout = malloc(c->nheldout ? c->nheldout : 1);
    if (!c->train || !c->heldout)
        return -1;
    for (i = 0; i < len; i++) {
        uint8_t id = (uint8_t)c->id_of[text[i]];
        if (i < split)
            c->train[i] = id;
        else
            c->heldout[i - split] = id;
    }
    c->crc = charlm_crc32(text, len, 0);
    return 0;
}

int charlm_corpus_from_text(charlm_corpus *c, const uint8_t *text, size_t len, char *err,
                            size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (len < 100)
        return FAIL("the text has %zu bytes; at least 100 are needed", len);
    if (corpus_build(c, text, len, len - len / 10) != 0) {
        charlm_corpus_free(c);
        return FAIL("out of memory for the corpus");
    }
    return 0;
}

static void addition_line(uint64_t *s, char *line)
{
    int a = (int)(splitmix(s) % 100), b = (int)(splitmix(s) % 100);
    snprintf(line, 16, "%02d+%02d=%03d\n", a, b, a + b);
}

int charlm_corpus_additions(charlm_corpus *c, uint64_t seed, size_t lines)
{
    const size_t width = 10; /* "ab+cd=efg\n" */
    uint8_t *text = malloc(lines * width + 1);
    uint64_t s = seed ^ 0xadd1710e5ull;
    size_t i;
    int rc;
    memset(c, 0, sizeof *c);
    if (!text)
        return -1;
    for (i = 0; i < lines; i++) {
        char line[16];
        addition_line(&s, line);
        memcpy(text + i * width, line, width);
    }
    rc = corpus_build(c, text, lines * width, (lines - lines / 10) * width);
    c->additions = 1;
    free(text);
    return rc;
}

double charlm_additions_entropy(void)
{
    return 4.0 * log2(10.0) / 10.0; /* 4 random digits per 10-byte line */
}

void charlm_corpus_free(charlm_corpus *c)
{
    free(c->train);
    free(c->heldout);
    memset(c, 0, sizeof *c);
}

/* --------------------------------------------------------------- model */

struct charlm {
    lstmcl_context *ctx;
    cl_command_queue q;
    charlm_config cfg;
    uint64_t step;
    size_t P, off_stack, off_Wy, off_by; /* embedding at 0 */
    lstmcl_stack *stack;
    cl_mem params, grads, m, v;
    cl_mem tok_in, tok_out, x, dx, h, dh, logits, dlogits, loss;
    cl_mem clip; /* the gradient scale and norm, computed on the device */
    cl_mem hs[2], cs[2];
    int cur;
    float *host_loss;
    cl_int *host_in, *host_out;
    unsigned char vocab[256]; /* id -> byte */
    int id_of[256];           /* byte -> id, or -1 */
    float heldout_latest, heldout_best; /* bits per character, NaN: none */
    size_t n;                           /* streams held here (cfg.rows, or all N) */
    charlm_exchange_fn xfn;             /* data-parallel gradient exchange, or NULL */
    void *xuser;
    float *host_grads;
    double x_seconds, x_copy_seconds;
};

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void set_vocab(charlm *lm, const unsigned char *vocab, uint32_t V)
{
    uint32_t i;
    memset(lm->id_of, -1, sizeof lm->id_of);
    for (i = 0; i < V; i++) {
        lm->vocab[i] = vocab[i];
        lm->id_of[vocab[i]] = (int)i;
    }
}

static lstmcl_tensor T_(cl_mem m, size_t off)
{
    lstmcl_tensor t;
    t.mem = m;
    t.offset = off;
    return t;
}

static const lstmcl_tensor NONE = {NULL, 0};

static int lst(lstmcl_context *ctx, lstmcl_status st, char *err, size_t errlen)
{
    if (st == LSTMCL_SUCCESS)
        return 0;
    return FAIL("%s: %s", lstmcl_status_string(st), lstmcl_context_message(ctx));
}

static cl_mem buffer(lstmcl_context *ctx, size_t bytes, int *ok)
{
    cl_int e;
    cl_mem m = clCreateBuffer(lstmcl_context_cl_context(ctx), CL_MEM_READ_WRITE,
                              bytes ? bytes : 4, NULL, &e);
    if (e != CL_SUCCESS)
        *ok = 0;
    return e == CL_SUCCESS ? m : NULL;
}

static void release(cl_mem m)
{
    if (m)
        clReleaseMemObject(m);
}

static int zero(charlm *lm, cl_mem m, size_t floats)
{
    const float z = 0.0f;
    return clEnqueueFillBuffer(lm->q, m, &z, sizeof z, 0, floats * 4, 0, NULL, NULL) ==
                   CL_SUCCESS
               ? 0
               : -1;
}

/* The parameter count of a configuration, or 0 when it is out of range. */
static uint64_t param_count(const charlm_config *c)
{
    uint64_t L = c->layers, E = c->E, H = c->H, V = c->V;
    if (L < 1 || L > 16 || E < 1 || E > 8192 || H < 1 || H > 8192 || V < 1 || V > 256)
        return 0;
    return V * E + (E + H + 1) * 4 * H + (L - 1) * (2 * H + 1) * 4 * H + H * V + V;
}

void charlm_destroy(charlm *lm)
{
    cl_mem *all[] = {&lm->params, &lm->grads, &lm->m,       &lm->v,      &lm->tok_in,
                     &lm->tok_out, &lm->x,    &lm->dx,      &lm->h,      &lm->dh,
                     &lm->logits, &lm->dlogits, &lm->loss,  &lm->clip, &lm->hs[0],  &lm->hs[1],
                     &lm->cs[0],  &lm->cs[1]};
    size_t i;
    if (!lm)
        return;
    if (lm->q)
        clFinish(lm->q);
    for (i = 0; i < sizeof all / sizeof all[0]; i++)
        release(*all[i]);
    lstmcl_stack_destroy(lm->stack);
    free(lm->host_loss);
    free(lm->host_in);
    free(lm->host_out);
    free(lm->host_grads);
    free(lm);
}

const charlm_config *charlm_get_config(const charlm *lm)
{
    return &lm->cfg;
}

uint64_t charlm_step(const charlm *lm)
{
    return lm->step;
}

size_t charlm_param_count(const charlm *lm)
{
    return lm->P;
}

/* Everything but the parameter values. */
static int model_alloc(charlm **out, lstmcl_context *ctx, const charlm_config *cfg, char *err,
                       size_t errlen)
{
    charlm *lm;
    const size_t N = cfg->rows ? cfg->rows : cfg->N; /* the streams held here */
    const size_t T = cfg->T, E = cfg->E, H = cfg->H, V = cfg->V;
    const size_t state = (size_t)cfg->layers * N * H;
    int ok = 1, i;
    lstmcl_status st;

    *out = NULL;
    if (!param_count(cfg) || cfg->N < 1 || cfg->N > 4096 || T < 1 || T > 4096)
        return FAIL("model sizes out of range (1-16 layers, sizes 1-8192, vocabulary 1-256, "
                    "batch and steps 1-4096)");
    if ((uint64_t)cfg->row0 + cfg->rows > cfg->N)
        return FAIL("streams %u..%u are not among the batch's %u", cfg->row0,
                    cfg->row0 + cfg->rows - 1, cfg->N);
    if (!(cfg->lr > 0) || !isfinite(cfg->lr) || !(cfg->clip >= 0) || !isfinite(cfg->clip))
        return FAIL("learning rate and clipping bound must be finite, positive");
    if (!(cfg->dropout >= 0 && cfg->dropout < 1))
        return FAIL("dropout must be in [0, 1)");
    if (cfg->schedule > CHARLM_LR_COSINE ||
        (cfg->schedule == CHARLM_LR_COSINE && cfg->schedule_steps == 0))
        return FAIL("unknown learning-rate schedule, or a cosine schedule of 0 steps");
    lm = calloc(1, sizeof *lm);
    if (!lm)
        return FAIL("out of memory");
    lm->ctx = ctx;
    lm->q = lstmcl_context_queue(ctx);
    lm->cfg = *cfg;
    lm->heldout_latest = lm->heldout_best = NAN;
    lm->n = N;
    st = lstmcl_stack_create(&lm->stack, ctx, cfg->layers, N, T, E, H);
    if (st == LSTMCL_SUCCESS && N != cfg->N) /* the whole batch's dropout masks */
        st = lstmcl_stack_set_dropout_rows(lm->stack, cfg->row0, cfg->N);
    if (st != LSTMCL_SUCCESS) {
        lst(ctx, st, err, errlen);
        charlm_destroy(lm);
        return -1;
    }
    lm->off_stack = V * E;
    lm->off_Wy = lm->off_stack + lstmcl_stack_param_count(lm->stack);
    lm->off_by = lm->off_Wy + H * V;
    lm->P = lm->off_by + V;
    lm->params = buffer(ctx, lm->P * 4, &ok);
    lm->grads = buffer(ctx, lm->P * 4, &ok);
    lm->m = buffer(ctx, lm->P * 4, &ok);
    lm->v = buffer(ctx, lm->P * 4, &ok);
    lm->tok_in = buffer(ctx, N * T * 4, &ok);
    lm->tok_out = buffer(ctx, N * T * 4, &ok);
    lm->x = buffer(ctx, N * T * E * 4, &ok);
    lm->dx = buffer(ctx, N * T * E * 4, &ok);
    lm->h = buffer(ctx, N * T * H * 4, &ok);
    lm->dh = buffer(ctx, N * T * H * 4, &ok);
    lm->logits = buffer(ctx, N * T * V * 4, &ok);
    lm->dlogits = buffer(ctx, N * T * V * 4, &ok);
    lm->loss = buffer(ctx, N * T * 4, &ok);
    lm->clip = buffer(ctx, 2 * 4, &ok);
    for (i = 0; i < 2; i++) {
        lm->hs[i] = buffer(ctx, state * 4, &ok);
        lm->cs[i] = buffer(ctx, state * 4, &ok);
    }
    lm->host_loss = malloc(N * T * sizeof(float));
    lm->host_in = malloc(N * T * sizeof(cl_int));
    lm->host_out = malloc(N * T * sizeof(cl_int));
    lm->host_grads = malloc(lm->P * sizeof(float));
    if (!ok || !lm->host_loss || !lm->host_in || !lm->host_out || !lm->host_grads) {
        charlm_destroy(lm);
        return FAIL("cannot allocate the model's buffers");
    }
    *out = lm;
    return 0;
}

int charlm_create(charlm **out, lstmcl_context *ctx, const charlm_config *cfg,
                  const charlm_corpus *corpus, char *err, size_t errlen)
{
    charlm *lm;
    charlm_config c = *cfg;
    float *p;
    uint64_t s = cfg->seed;
    size_t i, l;

    c.V = corpus->V;
    if (model_alloc(&lm, ctx, &c, err, errlen) != 0)
        return -1;
    set_vocab(lm, corpus->vocab, corpus->V);
    p = malloc(lm->P * sizeof *p);
    if (!p) {
        charlm_destroy(lm);
        return FAIL("out of memory");
    }
    if (c.init > CHARLM_INIT_CLASSIC) {
        free(p);
        charlm_destroy(lm);
        return FAIL("unknown initialisation %u", c.init);
    }
    {
        const double k = 1 / sqrt((double)c.H); /* PyTorch's bound for LSTM and Linear(H, V) */
        for (i = 0; i < lm->off_stack; i++) /* the embedding */
            p[i] = c.init == CHARLM_INIT_TORCH ? (float)normal(&s) : (float)(unit(&s) - 0.5);
        for (i = lm->off_stack; i < lm->P; i++) /* LSTM and output weights, output bias */
            p[i] = (float)((2 * unit(&s) - 1) * k);
        for (l = 0; l < c.layers; l++) { /* the LSTM biases */
            size_t din = l ? c.H : c.E;
            size_t b = lm->off_stack + lstmcl_stack_layer_offset(lm->stack, l) + (din + c.H) * 4 * c.H;
            for (i = 0; i < 4 * c.H; i++)
                p[b + i] = c.init == CHARLM_INIT_TORCH
                               ? (float)((2 * unit(&s) - 1) * k + (2 * unit(&s) - 1) * k)
                               : (i >= c.H && i < 2 * c.H) ? 1.0f : 0.0f;
        }
        if (c.init == CHARLM_INIT_CLASSIC)
            for (i = lm->off_by; i < lm->P; i++)
                p[i] = 0.0f;
    }
    if (clEnqueueWriteBuffer(lm->q, lm->params, CL_TRUE, 0, lm->P * 4, p, 0, NULL, NULL) !=
            CL_SUCCESS ||
        zero(lm, lm->m, lm->P) || zero(lm, lm->v, lm->P) ||
        zero(lm, lm->hs[0], (size_t)c.layers * lm->n * c.H) ||
        zero(lm, lm->cs[0], (size_t)c.layers * lm->n * c.H)) {
        free(p);
        charlm_destroy(lm);
        return FAIL("cannot initialise the model on the device");
    }
    free(p);
    *out = lm;
    return 0;
}

/* ------------------------------------------------------------ training */

uint64_t charlm_epoch_steps(const charlm_config *cfg, size_t ntrain)
{
    const size_t seg = ntrain > 1 && cfg->N ? (ntrain - 1) / cfg->N : 0;
    return cfg->T ? seg / cfg->T : 0;
}

int charlm_stream_chunk(const charlm_config *cfg, size_t ntrain, uint64_t step, uint32_t stream,
                        size_t *start, int *epoch_start)
{
    const uint64_t chunks = charlm_epoch_steps(cfg, ntrain);
    size_t seg, slack;
    uint64_t epoch;
    if (chunks == 0 || stream >= cfg->N)
        return -1;
    seg = (ntrain - 1) / cfg->N;
    slack = seg - (size_t)chunks * cfg->T;
    epoch = step / chunks;
    *start = (size_t)stream * seg + (size_t)(epoch % (slack + 1)) +
             (size_t)(step % chunks) * cfg->T;
    *epoch_start = step % chunks == 0;
    return 0;
}

double charlm_learning_rate(const charlm_config *cfg, uint64_t step)
{
    const double lr = cfg->lr, low = lr / 10;
    double t;
    if (cfg->schedule != CHARLM_LR_COSINE || cfg->schedule_steps == 0)
        return lr;
    t = (double)(step < cfg->schedule_steps ? step : cfg->schedule_steps) /
        (double)cfg->schedule_steps;
    return low + (lr - low) * (1 + cos(3.141592653589793 * t)) / 2;
}

int charlm_record_heldout(charlm *lm, double bits)
{
    /* the first finite score is the best when there is none yet (NaN) */
    int best = isfinite(bits) && !(bits >= lm->heldout_best);
    lm->heldout_latest = (float)bits;
    if (best)
        lm->heldout_best = (float)bits;
    return best;
}

void charlm_heldout_scores(const charlm *lm, double *latest, double *best)
{
    if (latest)
        *latest = lm->heldout_latest;
    if (best)
        *best = lm->heldout_best;
}

void charlm_set_exchange(charlm *lm, charlm_exchange_fn fn, void *user)
{
    lm->xfn = fn, lm->xuser = user;
}

double charlm_exchange_seconds(const charlm *lm, double *copies)
{
    if (copies)
        *copies = lm->x_copy_seconds;
    return lm->x_seconds;
}

int charlm_get_state(charlm *lm, float *h, float *c, char *err, size_t errlen)
{
    const size_t state = (size_t)lm->cfg.layers * lm->n * lm->cfg.H;
    if (clEnqueueReadBuffer(lm->q, lm->hs[lm->cur], CL_TRUE, 0, state * 4, h, 0, NULL, NULL) !=
            CL_SUCCESS ||
        clEnqueueReadBuffer(lm->q, lm->cs[lm->cur], CL_TRUE, 0, state * 4, c, 0, NULL, NULL) !=
            CL_SUCCESS)
        return FAIL("cannot read the carried state from the device");
    return 0;
}

int charlm_param_crc(charlm *lm, uint32_t *crc, char *err, size_t errlen)
{
    cl_mem all[3];
    float *f = malloc(lm->P * 4 + 4);
    uint32_t k = 0;
    int i;
    all[0] = lm->params, all[1] = lm->m, all[2] = lm->v;
    if (!f)
        return FAIL("out of memory");
    for (i = 0; i < 3; i++) {
        if (clEnqueueReadBuffer(lm->q, all[i], CL_TRUE, 0, lm->P * 4, f, 0, NULL, NULL) !=
            CL_SUCCESS) {
            free(f);
            return FAIL("cannot read the parameters from the device");
        }
        k = charlm_crc32((const uint8_t *)f, lm->P * 4, k);
    }
    free(f);
    *crc = k;
    return 0;
}

int charlm_train_step(charlm *lm, const charlm_corpus *c, double *loss, char *err, size_t errlen)
{
    const charlm_config *k = &lm->cfg;
    const size_t N = lm->n, T = k->T, E = k->E, H = k->H, V = k->V, NT = N * T;
    const size_t all_NT = (size_t)k->N * T; /* the whole batch's, over all processes */
    const int cur = lm->cur, nxt = 1 - cur;
    lstmcl_context *ctx = lm->ctx;
    lstmcl_adam_settings adam;
    lstmcl_status st;
    double sum = 0;
    size_t i, t;
    int epoch_start = 0;

    if (c->V != V || c->ntrain < 2)
        return FAIL("the corpus does not match the model (vocabulary %u, model %zu)", c->V, V);
    /* stream i reads the next chunk of its own segment (charlm_stream_chunk) */
    for (i = 0; i < N; i++) {
        size_t start;
        if (charlm_stream_chunk(k, c->ntrain, lm->step, k->row0 + (uint32_t)i, &start,
                                &epoch_start) != 0)
            return FAIL("the training text (%zu characters) is too short for %u streams of "
                        "%zu steps",
                        c->ntrain, k->N, T);
        for (t = 0; t < T; t++) {
            lm->host_in[i * T + t] = c->train[start + t];
            lm->host_out[i * T + t] = c->train[start + t + 1];
        }
    }
    /* a new epoch starts every stream over at its segment's start, from zeros */
    if (epoch_start && (zero(lm, lm->hs[cur], (size_t)k->layers * N * H) ||
                        zero(lm, lm->cs[cur], (size_t)k->layers * N * H)))
        return FAIL("cannot reset the carried state");
    if (clEnqueueWriteBuffer(lm->q, lm->tok_in, CL_FALSE, 0, NT * 4, lm->host_in, 0, NULL,
                             NULL) != CL_SUCCESS ||
        clEnqueueWriteBuffer(lm->q, lm->tok_out, CL_FALSE, 0, NT * 4, lm->host_out, 0, NULL,
                             NULL) != CL_SUCCESS)
        return FAIL("cannot upload the tokens");

#define TRY(call)                               \
    do {                                        \
        st = (call);                            \
        if (st != LSTMCL_SUCCESS) {             \
            clFinish(lm->q);                    \
            return lst(ctx, st, err, errlen);   \
        }                                       \
    } while (0)
    TRY(lstmcl_embedding_forward(ctx, NT, E, V, T_(lm->tok_in, 0), T_(lm->params, 0),
                                 T_(lm->x, 0)));
    /* fresh dropout masks every step, a function of the seed and the step */
    TRY(lstmcl_stack_set_dropout(lm->stack, k->dropout, k->seed, lm->step));
    TRY(lstmcl_stack_forward(lm->stack, T_(lm->x, 0), T_(lm->params, lm->off_stack),
                             T_(lm->hs[cur], 0), T_(lm->cs[cur], 0), T_(lm->hs[nxt], 0),
                             T_(lm->cs[nxt], 0), T_(lm->h, 0), 1));
    TRY(lstmcl_linear_forward(ctx, NT, H, V, T_(lm->h, 0), T_(lm->params, lm->off_Wy),
                              T_(lm->params, lm->off_by), T_(lm->logits, 0)));
    TRY(lstmcl_softmax_cross_entropy(ctx, NT, V, T_(lm->logits, 0), T_(lm->tok_out, 0),
                                     T_(lm->loss, 0), T_(lm->dlogits, 0), 1.0f / (float)all_NT));
    TRY(lstmcl_linear_backward(ctx, NT, H, V, T_(lm->h, 0), T_(lm->params, lm->off_Wy),
                               T_(lm->dlogits, 0), T_(lm->dh, 0), T_(lm->grads, lm->off_Wy),
                               T_(lm->grads, lm->off_by), 0));
    TRY(lstmcl_stack_backward(lm->stack, T_(lm->x, 0), T_(lm->params, lm->off_stack),
                              T_(lm->cs[cur], 0), T_(lm->dh, 0), T_(lm->dx, 0),
                              T_(lm->grads, lm->off_stack), 0));
    TRY(lstmcl_embedding_backward(ctx, NT, E, V, T_(lm->tok_in, 0), T_(lm->dx, 0),
                                  T_(lm->grads, 0), 0));
    if (lm->xfn) { /* data-parallel: the sums over all processes, through the host */
        double t0, t1, t2;
        if (clFinish(lm->q) != CL_SUCCESS) /* the backward's time is not the exchange's */
            return FAIL("the backward failed on the device");
        t0 = seconds_now();
        if (clEnqueueReadBuffer(lm->q, lm->grads, CL_TRUE, 0, lm->P * 4, lm->host_grads, 0,
                                NULL, NULL) != CL_SUCCESS ||
            clEnqueueReadBuffer(lm->q, lm->loss, CL_TRUE, 0, NT * 4, lm->host_loss, 0, NULL,
                                NULL) != CL_SUCCESS)
            return FAIL("cannot read the gradient from the device");
        for (i = 0; i < NT; i++)
            sum += lm->host_loss[i];
        t1 = seconds_now();
        if (lm->xfn(lm->xuser, lm->host_grads, lm->P, &sum, err, errlen) != 0)
            return -1;
        t2 = seconds_now();
        if (clEnqueueWriteBuffer(lm->q, lm->grads, CL_TRUE, 0, lm->P * 4, lm->host_grads, 0,
                                 NULL, NULL) != CL_SUCCESS)
            return FAIL("cannot write the summed gradient to the device");
        lm->x_copy_seconds += (t1 - t0) + (seconds_now() - t2);
        lm->x_seconds += seconds_now() - t0;
    }
    /* clipping on the device: nothing is read back before Adam */
    TRY(lstmcl_clip_scale(ctx, lm->P, T_(lm->grads, 0), k->clip, T_(lm->clip, 0)));
    lstmcl_adam_default_settings(&adam);
    adam.learning_rate = (float)charlm_learning_rate(k, lm->step);
    TRY(lstmcl_adam_step_scaled(ctx, lm->P, T_(lm->params, 0), T_(lm->grads, 0), T_(lm->m, 0),
                                T_(lm->v, 0), &adam, (unsigned long)(lm->step + 1),
                                T_(lm->clip, 0)));
    if (!lm->xfn) { /* (with an exchange, the loss came with the gradient) */
        if (clEnqueueReadBuffer(lm->q, lm->loss, CL_TRUE, 0, NT * 4, lm->host_loss, 0, NULL,
                                NULL) != CL_SUCCESS)
            return FAIL("cannot read the loss");
        for (i = 0; i < NT; i++)
            sum += lm->host_loss[i];
    }
    *loss = sum / (double)all_NT;
    lm->cur = nxt;
    lm->step++;
    if (!isfinite(*loss))
        return FAIL("the loss is not finite at step %llu; lower the learning rate",
                    (unsigned long long)lm->step);
    return 0;
}

/* ----------------------------------------------------------- inference */

/* A model at another shape (n rows, t steps) sharing lm's parameters, for
 * evaluation and generation, with its own state. */
typedef struct {
    charlm *lm;
    size_t n, t;
    lstmcl_stack *stack;
    cl_mem tok, x, h, logits, hs[2], cs[2];
    int cur;
} runner;

static void runner_free(runner *r)
{
    int i;
    lstmcl_stack_destroy(r->stack);
    release(r->tok), release(r->x), release(r->h), release(r->logits);
    for (i = 0; i < 2; i++)
        release(r->hs[i]), release(r->cs[i]);
    memset(r, 0, sizeof *r);
}

static int runner_init(runner *r, charlm *lm, size_t n, size_t t, char *err, size_t errlen)
{
    const charlm_config *k = &lm->cfg;
    const size_t state = (size_t)k->layers * n * k->H;
    int ok = 1, i;
    lstmcl_status st;
    memset(r, 0, sizeof *r);
    r->lm = lm, r->n = n, r->t = t;
    st = lstmcl_stack_create(&r->stack, lm->ctx, k->layers, n, t, k->E, k->H);
    if (st != LSTMCL_SUCCESS)
        return lst(lm->ctx, st, err, errlen);
    r->tok = buffer(lm->ctx, n * t * 4, &ok);
    r->x = buffer(lm->ctx, n * t * k->E * 4, &ok);
    r->h = buffer(lm->ctx, n * t * k->H * 4, &ok);
    r->logits = buffer(lm->ctx, n * t * k->V * 4, &ok);
    for (i = 0; i < 2; i++) {
        r->hs[i] = buffer(lm->ctx, state * 4, &ok);
        r->cs[i] = buffer(lm->ctx, state * 4, &ok);
    }
    if (!ok || zero(lm, r->hs[0], state) || zero(lm, r->cs[0], state)) {
        runner_free(r);
        return FAIL("cannot allocate evaluation buffers");
    }
    return 0;
}

/* Runs tokens (n, t) from the runner's state, carrying it on; logits of
 * every position (n, t, V) are left in r->logits. */
static int runner_run(runner *r, const cl_int *tokens, char *err, size_t errlen)
{
    charlm *lm = r->lm;
    const charlm_config *k = &lm->cfg;
    const size_t nt = r->n * r->t;
    lstmcl_context *ctx = lm->ctx;
    lstmcl_status st;
    const int cur = r->cur, nxt = 1 - cur;
    if (clEnqueueWriteBuffer(lm->q, r->tok, CL_TRUE, 0, nt * 4, tokens, 0, NULL, NULL) !=
        CL_SUCCESS)
        return FAIL("cannot upload tokens");
    TRY(lstmcl_embedding_forward(ctx, nt, k->E, k->V, T_(r->tok, 0), T_(lm->params, 0),
                                 T_(r->x, 0)));
    TRY(lstmcl_stack_forward(r->stack, T_(r->x, 0), T_(lm->params, lm->off_stack),
                             T_(r->hs[cur], 0), T_(r->cs[cur], 0), T_(r->hs[nxt], 0),
                             T_(r->cs[nxt], 0), T_(r->h, 0), 0));
    TRY(lstmcl_linear_forward(ctx, nt, k->H, k->V, T_(r->h, 0), T_(lm->params, lm->off_Wy),
                              T_(lm->params, lm->off_by), T_(r->logits, 0)));
    r->cur = nxt;
    return 0;
}

/* Streams of the held-out reading: how many chunks of T each one gets. */
static size_t heldout_chunks(const charlm_config *k, const charlm_corpus *c, size_t max_chars)
{
    size_t avail = c->nheldout > 1 ? c->nheldout - 1 : 0;
    if (max_chars < avail)
        avail = max_chars;
    return avail / k->N / k->T;
}

int charlm_check_corpus(const charlm *lm, const charlm_corpus *c, size_t max_chars, char *err,
                        size_t errlen)
{
    const charlm_config *k = &lm->cfg;
    uint64_t step = lm->step;
    uint32_t i;
    size_t start;
    int epoch_start;
    if (c->V != k->V || c->ntrain < 2)
        return FAIL("the corpus does not match the model (vocabulary %u, model %u)", c->V, k->V);
    for (i = 0; i < lm->n; i++)
        if (charlm_stream_chunk(k, c->ntrain, step, k->row0 + i, &start, &epoch_start) != 0)
            return FAIL("the training text (%zu characters) is too short for %u streams of "
                        "%u steps",
                        c->ntrain, k->N, k->T);
    if (heldout_chunks(k, c, max_chars) < 2)
        return FAIL("the held-out text (%zu characters) is too short for %u streams of 2 x %u "
                    "steps",
                    c->nheldout, k->N, k->T);
    return 0;
}

int charlm_heldout_loss(charlm *lm, const charlm_corpus *c, size_t max_chars, double *loss,
                        char *err, size_t errlen)
{
    const charlm_config *k = &lm->cfg;
    const size_t n = k->N, t = k->T;
    size_t avail = c->nheldout > 1 ? c->nheldout - 1 : 0, seg, chunks, ch, i, j, count = 0;
    cl_int *tok = NULL, *tgt = NULL;
    float *l = NULL;
    cl_mem ttgt = NULL, tloss = NULL;
    runner r;
    double sum = 0;
    int ok = 1, rc = -1;
    lstmcl_status st;

    if (max_chars < avail)
        avail = max_chars;
    seg = avail / n;
    chunks = seg / t;
    if (chunks < 2)
        return FAIL("the held-out text is too short for %zu streams of 2 x %zu steps", n, t);
    if (runner_init(&r, lm, n, t, err, errlen) != 0)
        return -1;
    tok = malloc(n * t * sizeof *tok);
    tgt = malloc(n * t * sizeof *tgt);
    l = malloc(n * t * sizeof *l);
    ttgt = buffer(lm->ctx, n * t * 4, &ok);
    tloss = buffer(lm->ctx, n * t * 4, &ok);
    if (!tok || !tgt || !l || !ok) {
        FAIL("out of memory");
        goto out;
    }
    for (ch = 0; ch < chunks; ch++) {
        for (i = 0; i < n; i++)
            for (j = 0; j < t; j++) {
                size_t pos = i * seg + ch * t + j;
                tok[i * t + j] = c->heldout[pos];
                tgt[i * t + j] = c->heldout[pos + 1];
            }
        if (runner_run(&r, tok, err, errlen) != 0)
            goto out;
        if (clEnqueueWriteBuffer(lm->q, ttgt, CL_TRUE, 0, n * t * 4, tgt, 0, NULL, NULL) !=
            CL_SUCCESS) {
            FAIL("cannot upload targets");
            goto out;
        }
        st = lstmcl_softmax_cross_entropy(lm->ctx, n * t, k->V, T_(r.logits, 0), T_(ttgt, 0),
                                          T_(tloss, 0), NONE, 1.0f);
        if (st != LSTMCL_SUCCESS) {
            lst(lm->ctx, st, err, errlen);
            goto out;
        }
        if (clEnqueueReadBuffer(lm->q, tloss, CL_TRUE, 0, n * t * 4, l, 0, NULL, NULL) !=
            CL_SUCCESS) {
            FAIL("cannot read the loss");
            goto out;
        }
        if (ch == 0)
            continue; /* the first chunk only warms the state up from zeros */
        for (i = 0; i < n * t; i++)
            sum += l[i];
        count += n * t;
    }
    *loss = sum / (double)count;
    rc = 0;
out:
    free(tok), free(tgt), free(l);
    release(ttgt), release(tloss);
    runner_free(&r);
    return rc;
}

static size_t argmax(const float *v, size_t n)
{
    size_t i, best = 0;
    for (i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

int charlm_additions_accuracy(charlm *lm, const charlm_corpus *c, size_t count, uint64_t seed,
                              double *accuracy, char *err, size_t errlen)
{
    /* each problem follows three other lines, as in the training text, so
     * that the model starts from the kind of state it learned in */
    enum { CONTEXT = 3, WIDTH = 10, P = CONTEXT * WIDTH + 6 };
    const size_t V = lm->cfg.V;
    runner prompt, step;
    cl_int *tok = malloc(count * P * sizeof *tok), *next = malloc(count * sizeof *next);
    float *logits = malloc(count * P * V * sizeof *logits);
    char(*answer)[4] = calloc(count, sizeof *answer), (*want)[4] = calloc(count, sizeof *want);
    uint64_t s = seed ^ 0x4e1d07ull;
    size_t i, j, d, right = 0;
    int rc = -1;

    memset(&prompt, 0, sizeof prompt);
    memset(&step, 0, sizeof step);
    if (!c->additions) {
        FAIL("not the additions corpus");
        goto out;
    }
    if (!tok || !next || !logits || !answer || !want) {
        FAIL("out of memory");
        goto out;
    }
    for (i = 0; i < count; i++) {
        char text[P + 8], line[16];
        size_t k;
        for (k = 0; k < CONTEXT; k++) {
            addition_line(&s, line);
            memcpy(text + k * WIDTH, line, WIDTH);
        }
        addition_line(&s, line);
        memcpy(text + CONTEXT * WIDTH, line, 6);
        memcpy(want[i], line + 6, 3);
        for (j = 0; j < P; j++) {
            tok[i * P + j] = c->id_of[(unsigned char)text[j]];
            if (tok[i * P + j] < 0) {
                FAIL("the corpus lacks a character of the problems");
                goto out;
            }
        }
    }
    if (runner_init(&prompt, lm, count, P, err, errlen) != 0 ||
        runner_init(&step, lm, count, 1, err, errlen) != 0 ||
        runner_run(&prompt, tok, err, errlen) != 0)
        goto out;
    /* hand the prompt's last state to the one-step runner */
    {
        const size_t bytes = (size_t)lm->cfg.layers * count * lm->cfg.H * 4;
        if (clEnqueueCopyBuffer(lm->q, prompt.hs[prompt.cur], step.hs[0], 0, 0, bytes, 0, NULL,
                                NULL) != CL_SUCCESS ||
            clEnqueueCopyBuffer(lm->q, prompt.cs[prompt.cur], step.cs[0], 0, 0, bytes, 0, NULL,
                                NULL) != CL_SUCCESS ||
            clEnqueueReadBuffer(lm->q, prompt.logits, CL_TRUE, 0, count * P * V * 4, logits, 0,
                                NULL, NULL) != CL_SUCCESS) {
            FAIL("cannot read the logits");
            goto out;
        }
    }
    for (i = 0; i < count; i++)
        next[i] = (cl_int)argmax(logits + (i * P + P - 1) * V, V);
    for (d = 0; d < 3; d++) {
        for (i = 0; i < count; i++)
            answer[i][d] = (char)c->vocab[next[i]];
        if (d == 2)
            break;
        if (runner_run(&step, next, err, errlen) != 0 ||
            clEnqueueReadBuffer(lm->q, step.logits, CL_TRUE, 0, count * V * 4, logits, 0, NULL,
                                NULL) != CL_SUCCESS)
            goto out;
        for (i = 0; i < count; i++)
            next[i] = (cl_int)argmax(logits + i * V, V);
    }
    for (i = 0; i < count; i++)
        right += memcmp(answer[i], want[i], 3) == 0;
    *accuracy = (double)right / (double)count;
    rc = 0;
out:
    runner_free(&prompt);
    runner_free(&step);
    free(tok), free(next), free(logits), free(answer), free(want);
    return rc;
}

int charlm_generate(charlm *lm, const char *prime, size_t len, float temperature, uint64_t seed,
                    char *out, char *err, size_t errlen)
{
    const size_t V = lm->cfg.V, P = strlen(prime);
    runner head, step;
    cl_int *tok = malloc((P ? P : 1) * sizeof *tok), next;
    float *logits = malloc((P ? P : 1) * V * sizeof *logits);
    double *prob = malloc(V * sizeof *prob);
    uint64_t s = seed;
    size_t i;
    int rc = -1;

    memset(&head, 0, sizeof head);
    memset(&step, 0, sizeof step);
    if (!tok || !logits || !prob) {
        FAIL("out of memory");
        goto out;
    }
    if (P == 0) {
        FAIL("the prime text is empty");
        goto out;
    }
    if (!(temperature >= 0) || !isfinite(temperature)) {
        FAIL("the temperature must be 0 or more");
        goto out;
    }
    for (i = 0; i < P; i++) {
        tok[i] = lm->id_of[(unsigned char)prime[i]];
        if (tok[i] < 0) {
            FAIL("the prime text has a byte (0x%02x at %zu) that the model never saw",
                 (unsigned char)prime[i], i);
            goto out;
        }
    }
    if (runner_init(&head, lm, 1, P, err, errlen) != 0 ||
        runner_init(&step, lm, 1, 1, err, errlen) != 0 || runner_run(&head, tok, err, errlen) != 0)
        goto out;
    {
        const size_t bytes = (size_t)lm->cfg.layers * lm->cfg.H * 4;
        if (clEnqueueCopyBuffer(lm->q, head.hs[head.cur], step.hs[0], 0, 0, bytes, 0, NULL,
                                NULL) != CL_SUCCESS ||
            clEnqueueCopyBuffer(lm->q, head.cs[head.cur], step.cs[0], 0, 0, bytes, 0, NULL,
                                NULL) != CL_SUCCESS ||
            clEnqueueReadBuffer(lm->q, head.logits, CL_TRUE, 0, P * V * 4, logits, 0, NULL,
                                NULL) != CL_SUCCESS) {
            FAIL("cannot read the logits");
            goto out;
        }
    }
    memmove(logits, logits + (P - 1) * V, V * sizeof *logits);
    for (i = 0; i < len; i++) {
        /* sample from softmax(logits / temperature), or take the argmax */
        if (temperature == 0) {
            next = (cl_int)argmax(logits, V);
        } else {
            double mx = logits[0], sum = 0, u;
            size_t k;
            for (k = 1; k < V; k++)
                mx = logits[k] > mx ? logits[k] : mx;
            for (k = 0; k < V; k++)
                sum += prob[k] = exp((logits[k] - mx) / temperature);
            u = unit(&s) * sum;
            for (k = 0; k + 1 < V && u >= prob[k]; k++)
                u -= prob[k];
            next = (cl_int)k;
        }
        out[i] = (char)lm->vocab[next];
        if (i + 1 == len)
            break;
        if (runner_run(&step, &next, err, errlen) != 0 ||
            clEnqueueReadBuffer(lm->q, step.logits, CL_TRUE, 0, V * 4, logits, 0, NULL, NULL) !=
                CL_SUCCESS)
            goto out;
    }
    out[len] = '\0';
    rc = 0;
out:
    runner_free(&head);
    runner_free(&step);
    free(tok), free(logits), free(prob);
    return rc;
}

/* ---------------------------------------------------------- checkpoints */

/* Layout (all little-endian; docs/checkpoint.md):
 *   0  8  magic "LSTMCLCK"          8  4  version (2)
 *  12  4  layers   16 4 E   20 4 H   24 4 V   28 4 N   32 4 T
 *  36  4  learning rate (f32)       40  4  clipping bound (f32)
 *  44  8  seed     52 8 step        60  4  corpus CRC-32
 *  64  4  dropout (f32)             68  4  schedule   72 8 schedule steps
 *  80  4  latest held-out bits/char 84  4  best held-out bits/char (f32, NaN: none)
 *  88  V  vocabulary bytes, strictly increasing, then zeros to a multiple of 4
 *  ..  P floats parameters, P floats Adam m, P floats Adam v,
 *      L·N·H floats carried h, L·N·H floats carried c
 *  end-4  CRC-32 of every byte before it */
#define CK_MAGIC "LSTMCLCK"
#define CK_HEADER 88
#define CK_VERSION 2

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void putf(uint8_t *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put32(p, u);
}

static float getf(const uint8_t *p)
{
    uint32_t u = get32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint64_t vocab_bytes(uint32_t V)
{
    return (V + 3u) / 4u * 4u;
}

/* Expected file size for a configuration, or 0 if out of range. */
static uint64_t checkpoint_size(const charlm_config *c)
{
    uint64_t P = param_count(c), state;
    if (!P || c->N < 1 || c->N > 4096 || c->T < 1 || c->T > 4096)
        return 0;
    state = (uint64_t)c->layers * c->N * c->H;
    return CK_HEADER + vocab_bytes(c->V) + 4 * (3 * P + 2 * state) + 4;
}

int charlm_check_checkpoint(const uint8_t *d, size_t len, charlm_config *c, char *err,
                            size_t errlen)
{
    uint64_t want;
    uint32_t i, version;
    if (len < CK_HEADER + 4)
        return FAIL("too short to be a checkpoint (%zu bytes)", len);
    if (memcmp(d, CK_MAGIC, 8) != 0)
        return FAIL("not an lstmcl checkpoint (bad magic)");
    version = get32(d + 8);
    if (version == 1)
        return FAIL("checkpoint version 1, from an earlier lstmcl-train whose streams read the "
                    "text in another order; this one reads version %d (train anew)",
                    CK_VERSION);
    if (version != CK_VERSION)
        return FAIL("checkpoint version %u; this lstmcl reads version %d", version, CK_VERSION);
    c->layers = get32(d + 12), c->E = get32(d + 16), c->H = get32(d + 20), c->V = get32(d + 24);
    c->N = get32(d + 28), c->T = get32(d + 32), c->lr = getf(d + 36), c->clip = getf(d + 40);
    c->seed = get64(d + 44);
    c->dropout = getf(d + 64), c->schedule = get32(d + 68), c->schedule_steps = get64(d + 72);
    c->init = CHARLM_INIT_TORCH;
    want = checkpoint_size(c);
    if (!want)
        return FAIL("sizes out of range (layers %u, E %u, H %u, V %u, N %u, T %u)", c->layers,
                    c->E, c->H, c->V, c->N, c->T);
    if (!(c->lr > 0) || !isfinite(c->lr) || !(c->clip >= 0) || !isfinite(c->clip))
        return FAIL("learning rate or clipping bound out of range");
    if (!(c->dropout >= 0 && c->dropout < 1))
        return FAIL("dropout out of range");
    if (c->schedule > CHARLM_LR_COSINE ||
        (c->schedule == CHARLM_LR_COSINE && c->schedule_steps == 0))
        return FAIL("unknown learning-rate schedule");
    {
        const float a = getf(d + 80), b = getf(d + 84);
        if (!(isnan(a) || (a >= 0 && isfinite(a))) || !(isnan(b) || (b >= 0 && isfinite(b))))
            return FAIL("held-out scores out of range");
    }
    if ((uint64_t)len != want)
        return FAIL("%zu bytes, but its sizes need %llu (truncated or padded)", len,
                    (unsigned long long)want);
    if (charlm_crc32(d, len - 4, 0) != get32(d + len - 4))
        return FAIL("checksum mismatch: the file is damaged");
    for (i = 1; i < c->V; i++)
        if (d[CK_HEADER + i] <= d[CK_HEADER + i - 1])
            return FAIL("vocabulary bytes are not strictly increasing");
    return 0;
}

static int read_floats(charlm *lm, cl_mem m, size_t count, uint8_t *p)
{
    float *f = malloc(count * 4 + 4);
    size_t i;
    if (!f || clEnqueueReadBuffer(lm->q, m, CL_TRUE, 0, count * 4, f, 0, NULL, NULL) != CL_SUCCESS) {
        free(f);
        return -1;
    }
    for (i = 0; i < count; i++)
        putf(p + 4 * i, f[i]);
    free(f);
    return 0;
}

static int write_floats(charlm *lm, cl_mem m, size_t count, const uint8_t *p)
{
    float *f = malloc(count * 4 + 4);
    size_t i;
    int rc;
    if (!f)
        return -1;
    for (i = 0; i < count; i++)
        f[i] = getf(p + 4 * i);
    rc = clEnqueueWriteBuffer(lm->q, m, CL_TRUE, 0, count * 4, f, 0, NULL, NULL) == CL_SUCCESS
             ? 0
             : -1;
    free(f);
    return rc;
}

int charlm_save(const charlm *lm, const charlm_corpus *corpus, const char *path, char *err,
                size_t errlen)
{
    return charlm_save_with_state(lm, corpus, path, NULL, NULL, err, errlen);
}

int charlm_save_with_state(const charlm *lm_, const charlm_corpus *corpus, const char *path,
                           const float *hst, const float *cst, char *err, size_t errlen)
{
    charlm *lm = (charlm *)lm_;
    const charlm_config *c = &lm->cfg;
    const uint64_t size = checkpoint_size(c);
    const size_t state = (size_t)c->layers * c->N * c->H;
    uint8_t *d = calloc(1, (size_t)size), *p;
    char why[600];
    af_file out;

    if (!hst != !cst || (!hst && lm->n != c->N)) {
        free(d);
        return FAIL("this model holds %zu of the %u streams: give the carried state of all",
                    lm->n, c->N);
    }
    if (!d)
        return FAIL("out of memory for the checkpoint");
    memcpy(d, CK_MAGIC, 8);
    put32(d + 8, CK_VERSION);
    put32(d + 12, c->layers), put32(d + 16, c->E), put32(d + 20, c->H), put32(d + 24, c->V);
    put32(d + 28, c->N), put32(d + 32, c->T), putf(d + 36, c->lr), putf(d + 40, c->clip);
    put64(d + 44, c->seed), put64(d + 52, lm->step), put32(d + 60, corpus ? corpus->crc : 0);
    putf(d + 64, c->dropout), put32(d + 68, c->schedule), put64(d + 72, c->schedule_steps);
    putf(d + 80, lm->heldout_latest), putf(d + 84, lm->heldout_best);
    memcpy(d + CK_HEADER, lm->vocab, c->V);
    p = d + CK_HEADER + vocab_bytes(c->V);
    if (read_floats(lm, lm->params, lm->P, p) || read_floats(lm, lm->m, lm->P, p + 4 * lm->P) ||
        read_floats(lm, lm->v, lm->P, p + 8 * lm->P) ||
        (!hst && (read_floats(lm, lm->hs[lm->cur], state, p + 12 * lm->P) ||
                  read_floats(lm, lm->cs[lm->cur], state, p + 12 * lm->P + 4 * state)))) {
        free(d);
        return FAIL("cannot read the model from the device");
    }
    if (hst) {
        size_t i;
        for (i = 0; i < state; i++) {
            putf(p + 12 * lm->P + 4 * i, hst[i]);
            putf(p + 12 * lm->P + 4 * (state + i), cst[i]);
        }
    }
    put32(d + size - 4, charlm_crc32(d, (size_t)size - 4, 0));
    /* written whole: a new file renamed into place (src/atomicfile.h), so a
     * kill leaves the previous checkpoint and no partial file */
    if (af_open(&out, path, why, sizeof why) != 0) {
        free(d);
        return FAIL("%s", why);
    }
    if (fwrite(d, 1, (size_t)size, out.f) != (size_t)size) {
        int e = errno;
        free(d);
        af_abort(&out);
        return FAIL("cannot write %s: %s", path, strerror(e));
    }
    free(d);
    if (af_commit(&out, why, sizeof why) != 0)
        return FAIL("%s", why);
    return 0;
}

int charlm_load(charlm **out, lstmcl_context *ctx, const char *path, unsigned char vocab[256],
                uint32_t *V, uint32_t *corpus_crc, char *err, size_t errlen)
{
    return charlm_load_part(out, ctx, path, 0, 1, vocab, V, corpus_crc, err, errlen);
}

/* Rows row0..row0+n-1 of a saved (layers, N, H) state into the buffer m. */
static int write_state_rows(charlm *lm, cl_mem m, const uint8_t *p, size_t N, size_t row0)
{
    const size_t L = lm->cfg.layers, n = lm->n, H = lm->cfg.H;
    float *f = malloc(L * n * H * 4 + 4);
    size_t l, i;
    int rc;
    if (!f)
        return -1;
    for (l = 0; l < L; l++)
        for (i = 0; i < n * H; i++)
            f[l * n * H + i] = getf(p + 4 * (l * N * H + row0 * H + i));
    rc = clEnqueueWriteBuffer(lm->q, m, CL_TRUE, 0, L * n * H * 4, f, 0, NULL, NULL) == CL_SUCCESS
             ? 0
             : -1;
    free(f);
    return rc;
}

int charlm_load_part(charlm **out, lstmcl_context *ctx, const char *path, uint32_t part,
                     uint32_t parts, unsigned char vocab[256], uint32_t *V, uint32_t *corpus_crc,
                     char *err, size_t errlen)
{
    uint32_t row0 = 0, rows = 0;
    FILE *f = fopen(path, "rb");
    uint8_t *d = NULL;
    long len;
    charlm_config c;
    charlm *lm = NULL;
    const uint8_t *p;
    size_t state;
    char why[256];

    *out = NULL;
    if (!f)
        return FAIL("cannot open %s: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return FAIL("cannot read %s", path);
    }
    if (len > (long)1 << 34) {
        fclose(f);
        return FAIL("%s is too large to be a checkpoint", path);
    }
    d = malloc((size_t)len + 1);
    if (!d || fread(d, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        free(d);
        return FAIL("cannot read %s", path);
    }
    fclose(f);
    if (charlm_check_checkpoint(d, (size_t)len, &c, why, sizeof why) != 0) {
        free(d);
        return FAIL("%s: %s", path, why);
    }
    if (parts > 1) {
        if (c.N % parts != 0 || part >= parts) {
            free(d);
            return FAIL("%s: its batch of %u streams does not split into %u equal parts "
                        "(processes)", path, c.N, parts);
        }
        rows = c.N / parts, row0 = part * rows;
    }
    c.row0 = row0, c.rows = rows;
    if (model_alloc(&lm, ctx, &c, why, sizeof why) != 0) {
        free(d);
        return FAIL("%s: %s", path, why);
    }
    set_vocab(lm, d + CK_HEADER, c.V);
    lm->step = get64(d + 52);
    lm->heldout_latest = getf(d + 80), lm->heldout_best = getf(d + 84);
    state = (size_t)c.layers * c.N * c.H;
    p = d + CK_HEADER + vocab_bytes(c.V);
    if (write_floats(lm, lm->params, lm->P, p) || write_floats(lm, lm->m, lm->P, p + 4 * lm->P) ||
        write_floats(lm, lm->v, lm->P, p + 8 * lm->P) ||
        write_state_rows(lm, lm->hs[0], p + 12 * lm->P, c.N, row0) ||
        write_state_rows(lm, lm->cs[0], p + 12 * lm->P + 4 * state, c.N, row0)) {
        free(d);
        charlm_destroy(lm);
        return FAIL("cannot load the model onto the device");
    }
    if (vocab)
        memcpy(vocab, d + CK_HEADER, c.V);
    if (V)
        *V = c.V;
    if (corpus_crc)
        *corpus_crc = get32(d + 60);
    free(d);
    *out = lm;
    return 0;
}
