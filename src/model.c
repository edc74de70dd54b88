/* Stacks of layers, bidirectional or not, on host arrays: lstmcl_model_*
 * (lstmcl_weights.h) and the single-layer lstmcl_forward_ex and
 * lstmcl_backward_ex (lstmcl.h).  Each layer and direction runs on a plan;
 * a bidirectional layer's two plans write the two halves of one output
 * (h_stride 2H), and in the backward both add into the input's gradient. */
#include "internal.h"
#include "weights.h"

#include <stdlib.h>
#include <string.h>

/* What a training forward keeps for its backward. */
struct lstmcl__model {
    size_t L, dirs, D, H, N, T;
    int time_major, reverse; /* reverse: a single layer run backwards (forward_ex) */
    int *lengths;            /* N, or NULL */
    size_t nbuf;             /* buffers below, each from the pool */
    cl_mem mem[3 + 2 * LSTMCL_WEIGHTS_MAX_LAYERS + 2 * LSTMCL_WEIGHTS_MAX_LAYERS];
    size_t bytes[3 + 2 * LSTMCL_WEIGHTS_MAX_LAYERS + 2 * LSTMCL_WEIGHTS_MAX_LAYERS];
    /* indices into mem: weights, x, c0 (NONE: absent), the outputs of
     * layers 0..L-2, and one reserve per layer and direction */
    size_t w, x, c0, y[LSTMCL_WEIGHTS_MAX_LAYERS], r[2 * LSTMCL_WEIGHTS_MAX_LAYERS];
};

#define NONE ((size_t)-1)

void lstmcl__model_free(lstmcl_context *ctx, lstmcl__model *m)
{
    size_t i;
    if (!m)
        return;
    for (i = 0; i < m->nbuf; i++) {
        if (ctx)
            lstmcl__buffer_put(ctx, m->mem[i], m->bytes[i]);
        else if (m->mem[i])
            clReleaseMemObject(m->mem[i]);
    }
    free(m->lengths);
    free(m);
}

/* ------------------------------------------------------------ helpers */

typedef struct {
    size_t L, dirs, D, H, N, T;
    int time_major, reverse;
    const int *lengths;
} shape;

static size_t din(const shape *s, size_t l)
{
    return l == 0 ? s->D : s->dirs * s->H;
}

/* Offset of layer l, direction d's block (Wx, Wh, b) in the weights. */
static size_t block(const shape *s, size_t l, size_t d)
{
    size_t off = 0, k;
    for (k = 0; k < l; k++)
        off += s->dirs * (din(s, k) + s->H + 1) * 4 * s->H;
    return off + d * (din(s, l) + s->H + 1) * 4 * s->H;
}

static size_t weight_count(const shape *s)
{
    return block(s, s->L, 0);
}

/* A pool buffer, remembered in a list so that one call gives all back. */
typedef struct {
    cl_mem mem[4 + 4 * LSTMCL_WEIGHTS_MAX_LAYERS];
    size_t bytes[4 + 4 * LSTMCL_WEIGHTS_MAX_LAYERS];
    size_t n;
} buflist;

static lstmcl_status take(lstmcl_context *ctx, buflist *b, size_t floats, cl_mem *out)
{
    lstmcl_status st = lstmcl__buffer_get(ctx, floats * sizeof(float), out);
    if (st != LSTMCL_SUCCESS)
        return st;
    b->mem[b->n] = *out;
    b->bytes[b->n] = floats * sizeof(float);
    b->n++;
    return LSTMCL_SUCCESS;
}

static void give_all(lstmcl_context *ctx, buflist *b)
{
    size_t i;
    for (i = 0; i < b->n; i++)
        lstmcl__buffer_put(ctx, b->mem[i], b->bytes[i]);
    b->n = 0;
}

static lstmcl_status put(lstmcl_context *ctx, cl_mem m, size_t off, size_t floats,
                         const float *src, const char *what)
{
    cl_int err = LSTMCL_INJECT(CL_OUT_OF_RESOURCES,
                               clEnqueueWriteBuffer(ctx->queue, m, CL_FALSE, off * sizeof(float),
                                                    floats * sizeof(float), src, 0, NULL, NULL));
    return err == CL_SUCCESS ? LSTMCL_SUCCESS : lstmcl__fail_cl(ctx, err, what);
}

static lstmcl_status get(lstmcl_context *ctx, cl_mem m, size_t off, size_t floats, float *dst,
                         const char *what)
{
    cl_int err = LSTMCL_INJECT(CL_OUT_OF_RESOURCES,
                               clEnqueueReadBuffer(ctx->queue, m, CL_FALSE, off * sizeof(float),
                                                   floats * sizeof(float), dst, 0, NULL, NULL));
    return err == CL_SUCCESS ? LSTMCL_SUCCESS : lstmcl__fail_cl(ctx, err, what);
}

/* Moves buffer k from a call's list into the model; returns its index. */
static size_t adopt(lstmcl__model *m, buflist *b, cl_mem k)
{
    size_t i;
    for (i = 0; i < b->n; i++)
        if (b->mem[i] == k) {
            m->mem[m->nbuf] = k, m->bytes[m->nbuf] = b->bytes[i];
            b->mem[i] = NULL;
            return m->nbuf++;
        }
    return NONE; /* not reached: every kept buffer is in the list */
}

/* The plans of a call: [layer 0 or above][direction], with the lengths. */
typedef struct {
    lstmcl_plan *p[2][2];
} plans;

static void plans_destroy(plans *ps)
{
    int i, j;
    for (i = 0; i < 2; i++)
        for (j = 0; j < 2; j++)
            lstmcl_plan_destroy(ps->p[i][j]);
}

static lstmcl_status plans_make(lstmcl_context *ctx, const shape *s, plans *ps)
{
    size_t a, d;
    lstmcl_status st;
    memset(ps, 0, sizeof *ps);
    for (a = 0; a < (s->L > 1 ? 2u : 1u); a++)
        for (d = 0; d < s->dirs; d++) {
            lstmcl_plan_desc desc;
            memset(&desc, 0, sizeof desc);
            desc.N = s->N, desc.T = s->T, desc.D = a ? s->dirs * s->H : s->D, desc.H = s->H;
            desc.layout = s->time_major ? LSTMCL_TIME_MAJOR : LSTMCL_BATCH_MAJOR;
            desc.reverse = d == 1 || s->reverse;
            desc.h_stride = s->dirs * s->H;
            st = lstmcl_plan_create_ex(&ps->p[a][d], ctx, &desc);
            if (st == LSTMCL_SUCCESS)
                st = lstmcl_plan_set_lengths(ps->p[a][d], s->lengths);
            if (st != LSTMCL_SUCCESS) {
                plans_destroy(ps);
                return st;
            }
        }
    return LSTMCL_SUCCESS;
}

static lstmcl_tensor tens(cl_mem m, size_t off)
{
    lstmcl_tensor t;
    t.mem = m, t.offset = off;
    return t;
}

/* Waits for everything enqueued, after a failure too, since non-blocking
 * transfers may still be using the caller's memory. */
static lstmcl_status finish(lstmcl_context *ctx, lstmcl_status st)
{
    cl_int err;
    lstmcl__side_end(ctx);
    err = lstmcl__finish_all(ctx);
    if (st == LSTMCL_SUCCESS && err != CL_SUCCESS)
        return lstmcl__fail_cl(ctx, err, "clFinish");
    return st;
}

#define TRY(expr)                 \
    do {                          \
        st = (expr);              \
        if (st != LSTMCL_SUCCESS) \
            goto fail;            \
    } while (0)

static lstmcl_status check_options(lstmcl_context *ctx, const char *fn,
                                   const lstmcl_sequence_options *o, int reverse_ok)
{
    if (!o)
        return LSTMCL_SUCCESS;
    if (o->layout != LSTMCL_BATCH_MAJOR && o->layout != LSTMCL_TIME_MAJOR)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                            "%s: options->layout is %d; it must be LSTMCL_BATCH_MAJOR (0) or "
                            "LSTMCL_TIME_MAJOR (1)",
                            fn, (int)o->layout);
    if (o->reverse && !reverse_ok)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                            "%s: options->reverse is set; a model's directions come from its "
                            "weights",
                            fn);
    return LSTMCL_SUCCESS;
}

/* ------------------------------------------------------------ forward */

/* Weights come as per-block pointers (wx, wh, b for layer l, direction d
 * at index l·dirs + d). */
static lstmcl_status run_forward(lstmcl_context *ctx, const char *fn, const shape *s,
                                 const float *const *wx, const float *const *wh,
                                 const float *const *bias, const float *x, const float *h0,
                                 const float *c0, float *y, float *hn, float *cn,
                                 lstmcl_cache **cache)
{
    const size_t L = s->L, dirs = s->dirs, H = s->H, N = s->N, T = s->T, NT = N * T;
    const size_t yw = dirs * H, nh = N * H, states = L * dirs * nh;
    const int train = cache != NULL;
    plans ps;
    buflist b;
    lstmcl__model *m = NULL;
    cl_mem W, X, Y[2] = {NULL, NULL}, H0 = NULL, C0 = NULL, HN = NULL, CN = NULL, WS, WS2 = NULL;
    cl_mem *keep_y = NULL, *keep_r = NULL;
    size_t l, d, wsb;
    lstmcl_status st;

    memset(&b, 0, sizeof b);
    st = plans_make(ctx, s, &ps);
    if (st != LSTMCL_SUCCESS)
        return st;
    if (train) {
        m = calloc(1, sizeof *m);
        if (!m || (s->lengths && !(m->lengths = malloc(N * sizeof *m->lengths)))) {
            st = lstmcl__fail(ctx, LSTMCL_ERROR_OUT_OF_HOST_MEMORY, "%s: no memory", fn);
            goto fail;
        }
        m->L = L, m->dirs = dirs, m->D = s->D, m->H = H, m->N = N, m->T = T;
        m->time_major = s->time_major, m->reverse = s->reverse;
        if (s->lengths)
            memcpy(m->lengths, s->lengths, N * sizeof *m->lengths);
    }
    TRY(take(ctx, &b, weight_count(s), &W));
    TRY(take(ctx, &b, NT * s->D, &X));
    if (h0)
        TRY(take(ctx, &b, states, &H0));
    if (c0)
        TRY(take(ctx, &b, states, &C0));
    if (hn)
        TRY(take(ctx, &b, states, &HN));
    if (cn)
        TRY(take(ctx, &b, states, &CN));
    TRY(lstmcl_plan_workspace_size(ps.p[0][0], &wsb));
    TRY(take(ctx, &b, wsb / sizeof(float), &WS));
    if (dirs > 1) /* the directions run side by side, each on its own scratch */
        TRY(take(ctx, &b, wsb / sizeof(float), &WS2));
    if (train) { /* every layer's output and reserve stay for the backward */
        size_t rb;
        keep_y = calloc(L, sizeof *keep_y);
        keep_r = calloc(L * dirs, sizeof *keep_r);
        if (!keep_y || !keep_r) {
            st = lstmcl__fail(ctx, LSTMCL_ERROR_OUT_OF_HOST_MEMORY, "%s: no memory", fn);
            goto fail;
        }
        for (l = 0; l < L; l++) {
            TRY(take(ctx, &b, NT * yw, &keep_y[l]));
            for (d = 0; d < dirs; d++) {
                TRY(lstmcl_plan_reserve_size(ps.p[l > 0][d], &rb));
                TRY(take(ctx, &b, rb / sizeof(float), &keep_r[l * dirs + d]));
            }
        }
    } else {
        TRY(take(ctx, &b, NT * yw, &Y[0]));
        if (L > 1)
            TRY(take(ctx, &b, NT * yw, &Y[1]));
    }

    for (l = 0; l < L; l++)
        for (d = 0; d < dirs; d++) {
            const size_t o = block(s, l, d), dl = din(s, l);
            TRY(put(ctx, W, o, dl * 4 * H, wx[l * dirs + d], "uploading Wx"));
            TRY(put(ctx, W, o + dl * 4 * H, H * 4 * H, wh[l * dirs + d], "uploading Wh"));
            TRY(put(ctx, W, o + (dl + H) * 4 * H, 4 * H, bias[l * dirs + d], "uploading b"));
        }
    TRY(put(ctx, X, 0, NT * s->D, x, "uploading x"));
    if (h0)
        TRY(put(ctx, H0, 0, states, h0, "uploading h0"));
    if (c0)
        TRY(put(ctx, C0, 0, states, c0, "uploading c0"));

    for (l = 0; l < L; l++) {
        cl_mem in = l == 0 ? X : train ? keep_y[l - 1] : Y[(l - 1) % 2];
        cl_mem out = train ? keep_y[l] : Y[l % 2];
        /* the reverse direction on the side queue, beside the forward one */
        for (d = dirs; d-- > 0;) {
            const size_t o = block(s, l, d), dl = din(s, l), so = (l * dirs + d) * nh;
            lstmcl_forward_args a;
            if (d == 1)
                TRY(lstmcl__side_begin(ctx));
            memset(&a, 0, sizeof a);
            a.x = tens(in, 0);
            a.h0 = tens(H0, so), a.c0 = tens(C0, so);
            a.Wx = tens(W, o), a.Wh = tens(W, o + dl * 4 * H), a.b = tens(W, o + (dl + H) * 4 * H);
            a.h = tens(out, d * H), a.hT = tens(HN, so), a.cT = tens(CN, so);
            a.reserve = train ? keep_r[l * dirs + d] : NULL;
            a.workspace = d ? WS2 : WS;
            TRY(lstmcl_plan_forward(ps.p[l > 0][d], &a));
            lstmcl__side_end(ctx);
        }
        TRY(lstmcl__side_join(ctx));
    }
    TRY(get(ctx, train ? keep_y[L - 1] : Y[(L - 1) % 2], 0, NT * yw, y, "reading y"));
    if (hn)
        TRY(get(ctx, HN, 0, states, hn, "reading hn"));
    if (cn)
        TRY(get(ctx, CN, 0, states, cn, "reading cn"));
    TRY(finish(ctx, LSTMCL_SUCCESS));

    if (train) {
        lstmcl_cache *c = calloc(1, sizeof *c);
        if (!c) {
            st = lstmcl__fail(ctx, LSTMCL_ERROR_OUT_OF_HOST_MEMORY, "%s: no memory for a cache",
                              fn);
            goto fail;
        }
        /* the kept buffers move from the call's list to the cache */
        m->w = adopt(m, &b, W);
        m->x = adopt(m, &b, X);
        m->c0 = C0 ? adopt(m, &b, C0) : NONE;
        for (l = 0; l + 1 < L; l++)
            m->y[l] = adopt(m, &b, keep_y[l]);
        for (l = 0; l < L * dirs; l++)
            m->r[l] = adopt(m, &b, keep_r[l]);
        c->ctx = ctx;
        c->kind = LSTMCL_CACHE_MODEL;
        c->N = N, c->T = T, c->D = s->D, c->H = H;
        c->model = m;
        c->next = ctx->caches;
        ctx->caches = c;
        *cache = c;
        m = NULL;
    }
    give_all(ctx, &b);
    plans_destroy(&ps);
    free(keep_y);
    free(keep_r);
    lstmcl__clear_message(ctx);
    return LSTMCL_SUCCESS;

fail:
    finish(ctx, st);
    give_all(ctx, &b);
    plans_destroy(&ps);
    free(keep_y);
    free(keep_r);
    if (m)
        free(m->lengths);
    free(m);
    return st;
}

/* ----------------------------------------------------------- backward */

/* dweights in the model's layout, or (one layer) dWx, dWh, db apart; each
 * optional. */
static lstmcl_status run_backward(lstmcl_context *ctx, const char *fn, const lstmcl_cache *cache,
                                  const float *dy, const float *dhn, const float *dcn,
                                  float *dx, float *dh0, float *dc0, float *dweights,
                                  float *dWx, float *dWh, float *db)
{
    const lstmcl__model *m = cache->model;
    shape s;
    size_t L, dirs, H, N, NT, yw, nh, states, l, d;
    plans ps;
    buflist b;
    cl_mem DY[2] = {NULL, NULL}, DX = NULL, DHN = NULL, DCN = NULL, DH0 = NULL, DC0 = NULL;
    cl_mem DW = NULL, WS, WS2 = NULL, DX2 = NULL;
    size_t wsb;
    lstmcl_status st;

    memset(&s, 0, sizeof s);
    s.L = m->L, s.dirs = m->dirs, s.D = m->D, s.H = m->H, s.N = m->N, s.T = m->T;
    s.time_major = m->time_major, s.reverse = m->reverse, s.lengths = m->lengths;
    L = s.L, dirs = s.dirs, H = s.H, N = s.N, NT = N * s.T, yw = dirs * H, nh = N * H;
    states = L * dirs * nh;
    memset(&b, 0, sizeof b);
    (void)fn;
    st = plans_make(ctx, &s, &ps);
    if (st != LSTMCL_SUCCESS)
        return st;
    TRY(take(ctx, &b, NT * yw, &DY[0]));
    if (L > 1)
        TRY(take(ctx, &b, NT * yw, &DY[1]));
    if (dx)
        TRY(take(ctx, &b, NT * s.D, &DX));
    if (dhn)
        TRY(take(ctx, &b, states, &DHN));
    if (dcn)
        TRY(take(ctx, &b, states, &DCN));
    if (dh0)
        TRY(take(ctx, &b, states, &DH0));
    if (dc0)
        TRY(take(ctx, &b, states, &DC0));
    if (dweights || dWx || dWh || db)
        TRY(take(ctx, &b, weight_count(&s), &DW));
    TRY(lstmcl_plan_workspace_size(ps.p[0][0], &wsb));
    TRY(take(ctx, &b, wsb / sizeof(float), &WS));
    if (dirs > 1) { /* the reverse direction's scratch and its share of dx */
        TRY(take(ctx, &b, wsb / sizeof(float), &WS2));
        TRY(take(ctx, &b, NT * (s.D > yw ? s.D : yw), &DX2));
    }

    TRY(put(ctx, DY[(L - 1) % 2], 0, NT * yw, dy, "uploading dy"));
    if (dhn)
        TRY(put(ctx, DHN, 0, states, dhn, "uploading dhn"));
    if (dcn)
        TRY(put(ctx, DCN, 0, states, dcn, "uploading dcn"));

    for (l = L; l-- > 0;) {
        cl_mem in = l == 0 ? m->mem[m->x] : m->mem[m->y[l - 1]];
        cl_mem din_ = l == 0 ? DX : DY[(l - 1) % 2];
        /* the reverse direction on the side queue, its dx apart, then added */
        for (d = dirs; d-- > 0;) {
            const size_t o = block(&s, l, d), dl = din(&s, l), so = (l * dirs + d) * nh;
            lstmcl_backward_args a;
            if (d == 1)
                TRY(lstmcl__side_begin(ctx));
            memset(&a, 0, sizeof a);
            a.x = tens(in, 0);
            a.c0 = tens(m->c0 == NONE ? NULL : m->mem[m->c0], so);
            a.Wx = tens(m->mem[m->w], o), a.Wh = tens(m->mem[m->w], o + dl * 4 * H);
            a.dh = tens(DY[l % 2], d * H);
            a.dhT = tens(DHN, so), a.dcT = tens(DCN, so);
            a.dx = tens(din_ && d ? DX2 : din_, 0);
            a.dh0 = tens(DH0, so), a.dc0 = tens(DC0, so);
            if (DW)
                a.dWx = tens(DW, o), a.dWh = tens(DW, o + dl * 4 * H),
                a.db = tens(DW, o + (dl + H) * 4 * H);
            a.reserve = m->mem[m->r[l * dirs + d]];
            a.workspace = d ? WS2 : WS;
            TRY(lstmcl_plan_backward(ps.p[l > 0][d], &a));
            lstmcl__side_end(ctx);
        }
        TRY(lstmcl__side_join(ctx));
        if (dirs > 1 && din_) {
            const size_t count = NT * din(&s, l);
            TRY(LSTMCL_RUN(ctx, lstm_add, lstmcl__items(count, 1), .count = count, .x = DX2,
                           .x_off = 0, .y = din_, .y_off = 0));
        }
    }
    if (dx)
        TRY(get(ctx, DX, 0, NT * s.D, dx, "reading dx"));
    if (dh0)
        TRY(get(ctx, DH0, 0, states, dh0, "reading dh0"));
    if (dc0)
        TRY(get(ctx, DC0, 0, states, dc0, "reading dc0"));
    if (dweights)
        TRY(get(ctx, DW, 0, weight_count(&s), dweights, "reading the weights' gradient"));
    if (dWx)
        TRY(get(ctx, DW, 0, s.D * 4 * H, dWx, "reading dWx"));
    if (dWh)
        TRY(get(ctx, DW, s.D * 4 * H, H * 4 * H, dWh, "reading dWh"));
    if (db)
        TRY(get(ctx, DW, (s.D + H) * 4 * H, 4 * H, db, "reading db"));
    TRY(finish(ctx, LSTMCL_SUCCESS));
    give_all(ctx, &b);
    plans_destroy(&ps);
    lstmcl__clear_message(ctx);
    return LSTMCL_SUCCESS;

fail:
    finish(ctx, st);
    give_all(ctx, &b);
    plans_destroy(&ps);
    return st;
}

/* ---------------------------------------------------------- public API */

#define CHECK_PTR(p)                                                                     \
    do {                                                                                 \
        if (!(p))                                                                        \
            return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT, "%s: %s is NULL", fn, \
                                #p);                                                     \
    } while (0)

static void options_into(shape *s, const lstmcl_sequence_options *o)
{
    s->time_major = o && o->layout == LSTMCL_TIME_MAJOR;
    s->reverse = o && o->reverse;
    s->lengths = o ? o->lengths : NULL;
}

lstmcl_status lstmcl_forward_ex(lstmcl_context *ctx, size_t N, size_t T, size_t D, size_t H,
                                const lstmcl_sequence_options *options, const float *x,
                                const float *h0, const float *c0, const float *Wx,
                                const float *Wh, const float *b, float *h, float *hT, float *cT,
                                lstmcl_cache **cache)
{
    LSTMCL_LOCKED(ctx);
    static const char fn[] = "lstmcl_forward_ex";
    lstmcl_dims dims;
    shape s;
    lstmcl_status st;

    if (!ctx)
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    if (cache)
        *cache = NULL;
    CHECK_PTR(x);
    CHECK_PTR(Wx);
    CHECK_PTR(Wh);
    CHECK_PTR(b);
    CHECK_PTR(h);
    if ((st = check_options(ctx, fn, options, 1)) != LSTMCL_SUCCESS)
        return st;
    if ((st = lstmcl__check_dims(ctx, fn, N, T, D, H, &dims)) != LSTMCL_SUCCESS)
        return st;
    memset(&s, 0, sizeof s);
    s.L = 1, s.dirs = 1, s.D = D, s.H = H, s.N = N, s.T = T;
    options_into(&s, options);
    return run_forward(ctx, fn, &s, &Wx, &Wh, &b, x, h0, c0, h, hT, cT, cache);
}

/* The backward of a single layer needs a cache of one layer, one direction. */
lstmcl_status lstmcl_backward_ex(lstmcl_context *ctx, const lstmcl_cache *cache, const float *dh,
                                 const float *dhT, const float *dcT, float *dx, float *dh0,
                                 float *dc0, float *dWx, float *dWh, float *db)
{
    LSTMCL_LOCKED(ctx);
    static const char fn[] = "lstmcl_backward_ex";
    lstmcl_status st;
    if (!ctx)
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    if ((st = lstmcl__check_cache(ctx, fn, cache, LSTMCL_CACHE_MODEL)) != LSTMCL_SUCCESS)
        return st;
    CHECK_PTR(dh);
    if (cache->model->L != 1 || cache->model->dirs != 1)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_CACHE,
                            "%s: the cache holds a model of %zu layers and %zu directions; use "
                            "lstmcl_model_backward",
                            fn, cache->model->L, cache->model->dirs);
    return run_backward(ctx, fn, cache, dh, dhT, dcT, dx, dh0, dc0, NULL, dWx, dWh, db);
}

lstmcl_status lstmcl_model_forward(lstmcl_context *ctx, const lstmcl_weights *w, size_t N,
                                   size_t T, const lstmcl_sequence_options *options,
                                   const float *x, const float *h0, const float *c0, float *y,
                                   float *hn, float *cn, lstmcl_cache **cache)
{
    LSTMCL_LOCKED(ctx);
    static const char fn[] = "lstmcl_model_forward";
    const float *wx[2 * LSTMCL_WEIGHTS_MAX_LAYERS], *wh[2 * LSTMCL_WEIGHTS_MAX_LAYERS],
        *bs[2 * LSTMCL_WEIGHTS_MAX_LAYERS];
    lstmcl_dims dims;
    shape s;
    size_t l, d;
    lstmcl_status st;

    if (!ctx)
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    if (cache)
        *cache = NULL;
    CHECK_PTR(w);
    CHECK_PTR(x);
    CHECK_PTR(y);
    if ((st = check_options(ctx, fn, options, 0)) != LSTMCL_SUCCESS)
        return st;
    memset(&s, 0, sizeof s);
    s.L = w->shape.layers, s.dirs = w->shape.directions, s.D = w->shape.input_size;
    s.H = w->shape.hidden_size, s.N = N, s.T = T;
    options_into(&s, options);
    if ((st = lstmcl__check_dims(ctx, fn, N, T, s.D > s.dirs * s.H ? s.D : s.dirs * s.H, s.H,
                                 &dims)) != LSTMCL_SUCCESS)
        return st;
    for (l = 0; l < s.L; l++)
        for (d = 0; d < s.dirs; d++) {
            const float *blk = w->data + block(&s, l, d);
            wx[l * s.dirs + d] = blk;
            wh[l * s.dirs + d] = blk + din(&s, l) * 4 * s.H;
            bs[l * s.dirs + d] = blk + (din(&s, l) + s.H) * 4 * s.H;
        }
    return run_forward(ctx, fn, &s, wx, wh, bs, x, h0, c0, y, hn, cn, cache);
}

lstmcl_status lstmcl_model_backward(lstmcl_context *ctx, const lstmcl_cache *cache,
                                    const float *dy, const float *dhn, const float *dcn,
                                    float *dx, float *dh0, float *dc0, float *dweights)
{
    LSTMCL_LOCKED(ctx);
    static const char fn[] = "lstmcl_model_backward";
    lstmcl_status st;
    if (!ctx)
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    if ((st = lstmcl__check_cache(ctx, fn, cache, LSTMCL_CACHE_MODEL)) != LSTMCL_SUCCESS)
        return st;
    CHECK_PTR(dy);
    return run_backward(ctx, fn, cache, dy, dhn, dcn, dx, dh0, dc0, dweights, NULL, NULL, NULL);
}
