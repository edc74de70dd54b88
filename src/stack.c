/* Stacked LSTM layers over plans (lstmcl_train.h). */
#include "lstmcl_train.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define MAX_LAYERS 64

struct lstmcl_stack {
    lstmcl_context *ctx;
    size_t L, dirs, N, T, D, H;
    /* [direction]: layer 0 (D to H); layers 1.. (dirs·H to H), NULL if L = 1 */
    lstmcl_plan *first, *rest, *first_rev, *rest_rev;
    cl_mem reserve[2 * MAX_LAYERS]; /* what each layer and direction's training forward keeps */
    cl_mem hmid[MAX_LAYERS];    /* outputs of layers 0..L-2 (N,T,dirs·H) */
    cl_mem dh[2];               /* gradients between layers (N,T,dirs·H) */
    cl_mem dx_rev;              /* the reverse direction's share of a layer's dx */
    int trained;                /* the last forward kept what the backward needs */
    /* dropout between layers (lstmcl_stack_set_dropout) */
    float dropout;
    unsigned long long drop_seed, drop_counter;
    size_t drop_row0, drop_rows; /* these rows of a batch of drop_rows (0: this batch) */
    int time_major;
    /* what the last training forward dropped with, for its backward */
    float fwd_dropout;
    unsigned long long fwd_seed, fwd_counter;
};

static size_t din(const lstmcl_stack *s, size_t l)
{
    return l == 0 ? s->D : s->dirs * s->H;
}

size_t lstmcl_stack_block_offset(const lstmcl_stack *s, size_t layer, size_t direction)
{
    size_t off = 0, l;
    if (!s)
        return 0;
    for (l = 0; l < layer && l < s->L; l++)
        off += s->dirs * (din(s, l) + s->H + 1) * 4 * s->H;
    if (layer < s->L && direction < s->dirs)
        off += direction * (din(s, layer) + s->H + 1) * 4 * s->H;
    return off;
}

size_t lstmcl_stack_layer_offset(const lstmcl_stack *s, size_t layer)
{
    return lstmcl_stack_block_offset(s, layer, 0);
}

static lstmcl_plan *plan_of(const lstmcl_stack *s, size_t l, size_t d)
{
    return l == 0 ? (d ? s->first_rev : s->first) : (d ? s->rest_rev : s->rest);
}

size_t lstmcl_stack_param_count(const lstmcl_stack *s)
{
    return s ? lstmcl_stack_layer_offset(s, s->L) : 0;
}

void lstmcl_stack_destroy(lstmcl_stack *s)
{
    LSTMCL_LOCKED(s ? s->ctx : NULL);
    size_t l;
    if (!s)
        return;
    for (l = 0; l < s->L; l++) {
        if (s->reserve[2 * l])
            clReleaseMemObject(s->reserve[2 * l]);
        if (s->reserve[2 * l + 1])
            clReleaseMemObject(s->reserve[2 * l + 1]);
        if (s->hmid[l])
            clReleaseMemObject(s->hmid[l]);
    }
    if (s->dh[0])
        clReleaseMemObject(s->dh[0]);
    if (s->dh[1])
        clReleaseMemObject(s->dh[1]);
    if (s->dx_rev)
        clReleaseMemObject(s->dx_rev);
    lstmcl_plan_destroy(s->first);
    lstmcl_plan_destroy(s->rest);
    lstmcl_plan_destroy(s->first_rev);
    lstmcl_plan_destroy(s->rest_rev);
    free(s);
}

static lstmcl_status new_buffer(lstmcl_context *ctx, size_t bytes, cl_mem *out)
{
    cl_int err;
    *out = lstmcl__create_buffer(ctx, bytes, &err);
    if (err != CL_SUCCESS) {
        *out = NULL;
        return lstmcl__fail_cl(ctx, err, "clCreateBuffer (stack)");
    }
    return LSTMCL_SUCCESS;
}

lstmcl_status lstmcl_stack_create(lstmcl_stack **out, lstmcl_context *ctx, size_t layers,
                                  size_t N, size_t T, size_t D, size_t H)
{
    LSTMCL_LOCKED(ctx);
    lstmcl_stack_desc desc;
    memset(&desc, 0, sizeof desc);
    desc.layers = layers, desc.N = N, desc.T = T, desc.D = D, desc.H = H;
    return lstmcl_stack_create_ex(out, ctx, &desc);
}

lstmcl_status lstmcl_stack_create_ex(lstmcl_stack **out, lstmcl_context *ctx,
                                     const lstmcl_stack_desc *desc)
{
    LSTMCL_LOCKED(ctx);
    static const char fn[] = "lstmcl_stack_create";
    lstmcl_stack *s;
    lstmcl_status st = LSTMCL_SUCCESS;
    size_t l, d, dirs, bytes, layers;
    lstmcl_plan **slot[2][2];

    if (!ctx)
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    if (!out)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT, "%s: stack is NULL", fn);
    *out = NULL;
    if (!desc)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT, "%s: desc is NULL", fn);
    layers = desc->layers;
    dirs = desc->directions ? desc->directions : 1;
    if (layers == 0 || layers > MAX_LAYERS)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                            "%s: layers is %zu; it must be 1 to %d", fn, layers, MAX_LAYERS);
    if (dirs > 2)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                            "%s: directions is %zu; it must be 1 or 2", fn, desc->directions);
    s = calloc(1, sizeof *s);
    if (!s)
        return lstmcl__fail(ctx, LSTMCL_ERROR_OUT_OF_HOST_MEMORY, "%s: no memory", fn);
    s->ctx = ctx, s->L = layers, s->dirs = dirs;
    s->N = desc->N, s->T = desc->T, s->D = desc->D, s->H = desc->H;
    s->time_major = desc->layout == LSTMCL_TIME_MAJOR;
    slot[0][0] = &s->first, slot[0][1] = &s->first_rev;
    slot[1][0] = &s->rest, slot[1][1] = &s->rest_rev;
    for (l = 0; st == LSTMCL_SUCCESS && l < (layers > 1 ? 2u : 1u); l++)
        for (d = 0; st == LSTMCL_SUCCESS && d < dirs; d++) {
            lstmcl_plan_desc pd;
            memset(&pd, 0, sizeof pd);
            pd.N = s->N, pd.T = s->T, pd.D = l ? dirs * s->H : s->D, pd.H = s->H;
            pd.layout = desc->layout, pd.reverse = (int)d, pd.h_stride = dirs * s->H;
            st = lstmcl_plan_create_ex(slot[l][d], ctx, &pd);
        }
    for (l = 0; st == LSTMCL_SUCCESS && l < layers; l++) {
        for (d = 0; st == LSTMCL_SUCCESS && d < dirs; d++) {
            lstmcl_plan_reserve_size(plan_of(s, l, d), &bytes);
            st = new_buffer(ctx, bytes, &s->reserve[2 * l + d]);
        }
        if (st == LSTMCL_SUCCESS && l + 1 < layers)
            st = new_buffer(ctx, s->N * s->T * dirs * s->H * sizeof(float), &s->hmid[l]);
    }
    if (st == LSTMCL_SUCCESS && layers > 1)
        st = new_buffer(ctx, s->N * s->T * dirs * s->H * sizeof(float), &s->dh[0]);
    if (st == LSTMCL_SUCCESS && layers > 2)
        st = new_buffer(ctx, s->N * s->T * dirs * s->H * sizeof(float), &s->dh[1]);
    if (st == LSTMCL_SUCCESS && dirs > 1)
        st = new_buffer(ctx, s->N * s->T * (s->D > 2 * s->H ? s->D : 2 * s->H) * sizeof(float),
                        &s->dx_rev);
    if (st != LSTMCL_SUCCESS) {
        lstmcl_stack_destroy(s);
        return st;
    }
    *out = s;
    return LSTMCL_SUCCESS;
}

/* After a failure both queues drain, so that the caller may free what it
 * gave. */
static lstmcl_status fail_drained(lstmcl_context *ctx, lstmcl_status st)
{
    lstmcl__side_end(ctx);
    lstmcl__finish_all(ctx);
    return st;
}

/* The stack's context, or NULL when it was destroyed (its plans say so). */
static lstmcl_context *alive(const lstmcl_stack *s)
{
    return s && s->first && s->first->ctx ? s->ctx : NULL;
}

static lstmcl_tensor at(lstmcl_tensor t, size_t offset)
{
    if (t.mem)
        t.offset += offset;
    return t;
}

static lstmcl_tensor whole(cl_mem m)
{
    lstmcl_tensor t;
    t.mem = m;
    t.offset = 0;
    return t;
}

static cl_uint hash32(cl_uint x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

lstmcl_status lstmcl_stack_set_lengths(lstmcl_stack *s, const int *lengths)
{
    LSTMCL_LOCKED(s ? s->ctx : NULL);
    lstmcl_context *ctx = alive(s);
    lstmcl_plan *p[4];
    lstmcl_status st;
    int i;
    if (!ctx)
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    p[0] = s->first, p[1] = s->first_rev, p[2] = s->rest, p[3] = s->rest_rev;
    for (i = 0; i < 4; i++)
        if (p[i] && (st = lstmcl_plan_set_lengths(p[i], lengths)) != LSTMCL_SUCCESS)
            return st;
    s->trained = 0; /* a backward must see its forward's lengths */
    return LSTMCL_SUCCESS;
}

lstmcl_status lstmcl_stack_set_dropout(lstmcl_stack *s, float p, unsigned long long seed,
                                       unsigned long long counter)
{
    LSTMCL_LOCKED(s ? s->ctx : NULL);
    lstmcl_context *ctx = alive(s);
    if (!ctx)
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    if (!(p >= 0.0f && p < 1.0f))
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                            "lstmcl_stack_set_dropout: p is %g; it must be in [0, 1)", (double)p);
    s->dropout = p, s->drop_seed = seed, s->drop_counter = counter;
    return LSTMCL_SUCCESS;
}

lstmcl_status lstmcl_stack_set_dropout_rows(lstmcl_stack *s, size_t first_row,
                                            size_t total_rows)
{
    LSTMCL_LOCKED(s ? s->ctx : NULL);
    lstmcl_context *ctx = alive(s);
    if (!ctx)
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    if (total_rows < s->N || first_row > total_rows - s->N)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                            "lstmcl_stack_set_dropout_rows: rows %zu..%zu are not in a batch of "
                            "%zu", first_row, first_row + s->N, total_rows);
    if ((double)total_rows * (double)s->T * (double)(s->dirs * s->H) > 4294967295.0)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                            "lstmcl_stack_set_dropout_rows: a batch of %zu rows has more than "
                            "2^32 elements per layer", total_rows);
    s->drop_row0 = first_row, s->drop_rows = total_rows;
    return LSTMCL_SUCCESS;
}

/* Dropout (in place) on layer l's output, or on the gradient reaching it,
 * with the mask of the last training forward (the generator is documented
 * in lstmcl_train.h). */
static lstmcl_status dropout(lstmcl_stack *s, size_t l, cl_mem m)
{
    const unsigned long long seed = s->fwd_seed, counter = s->fwd_counter;
    const cl_uint a = hash32((cl_uint)seed ^ hash32((cl_uint)(seed >> 32) ^ 0x68e31da4u));
    const cl_uint b = hash32((cl_uint)counter ^ hash32((cl_uint)(counter >> 32) ^ a));
    const cl_uint k0 = hash32(b ^ (cl_uint)l), k1 = hash32(k0 ^ 0x9e3779b9u);
    const size_t W = s->dirs * s->H, count = s->N * s->T * W;
    const size_t rows = s->drop_rows ? s->drop_rows : s->N;
    /* where this batch's elements sit in the larger one: batch-major, one
     * block at row0; time-major, a block of N rows per step */
    const size_t blk = s->time_major ? s->N * W : count;
    const size_t blk_stride = s->time_major ? rows * W : count;
    const size_t base = s->drop_row0 * (s->time_major ? W : s->T * W);
    return LSTMCL_RUN(s->ctx, lstm_dropout, lstmcl__items(count, 1), .count = (cl_int)count,
                      .x = m, .x_off = 0, .k0 = k0, .k1 = k1,
                      .thresh = (cl_uint)((double)s->fwd_dropout * 16777216.0 + 0.5),
                      .scale = (cl_float)(1.0 / (1.0 - (double)s->fwd_dropout)),
                      .blk = (cl_uint)blk, .blk_stride = (cl_uint)blk_stride,
                      .base = (cl_uint)base);
}

lstmcl_status lstmcl_stack_forward(lstmcl_stack *s, lstmcl_tensor x, lstmcl_tensor params,
                                   lstmcl_tensor h0, lstmcl_tensor c0, lstmcl_tensor hT,
                                   lstmcl_tensor cT, lstmcl_tensor h, int training)
{
    LSTMCL_LOCKED(s ? s->ctx : NULL);
    static const char fn[] = "lstmcl_stack_forward";
    lstmcl_context *ctx = alive(s);
    const size_t state = s ? s->L * s->dirs * s->N * s->H : 0;
    lstmcl_status st;
    size_t l, d;

    if (!ctx)
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    if ((st = lstmcl__check_tensor(ctx, fn, "x", &x, s->N * s->T * s->D, 1)) ||
        (st = lstmcl__check_tensor(ctx, fn, "params", &params, lstmcl_stack_param_count(s), 1)) ||
        (st = lstmcl__check_tensor(ctx, fn, "h0", &h0, state, 0)) ||
        (st = lstmcl__check_tensor(ctx, fn, "c0", &c0, state, 0)) ||
        (st = lstmcl__check_tensor(ctx, fn, "hT", &hT, state, 0)) ||
        (st = lstmcl__check_tensor(ctx, fn, "cT", &cT, state, 0)) ||
        (st = lstmcl__check_tensor(ctx, fn, "h", &h, s->N * s->T * s->dirs * s->H, 1)))
        return st;
    s->trained = 0;
    s->fwd_dropout = training ? s->dropout : 0.0f;
    s->fwd_seed = s->drop_seed, s->fwd_counter = s->drop_counter;
    for (l = 0; l < s->L; l++) {
        /* the reverse direction on the side queue, beside the forward one */
        for (d = s->dirs; d-- > 0;) {
            lstmcl_forward_args a;
            const size_t off = lstmcl_stack_block_offset(s, l, d);
            const size_t so = (l * s->dirs + d) * s->N * s->H;
            memset(&a, 0, sizeof a);
            a.x = l == 0 ? x : whole(s->hmid[l - 1]);
            a.h0 = at(h0, so);
            a.c0 = at(c0, so);
            a.Wx = at(params, off);
            a.Wh = at(params, off + din(s, l) * 4 * s->H);
            a.b = at(params, off + (din(s, l) + s->H) * 4 * s->H);
            a.h = at(l + 1 == s->L ? h : whole(s->hmid[l]), d * s->H);
            a.hT = at(hT, so);
            a.cT = at(cT, so);
            a.reserve = training ? s->reserve[2 * l + d] : NULL;
            if (d == 1 && (st = lstmcl__side_begin(ctx)) != LSTMCL_SUCCESS)
                return fail_drained(ctx, st);
            st = lstmcl_plan_forward(plan_of(s, l, d), &a);
            lstmcl__side_end(ctx);
            if (st != LSTMCL_SUCCESS)
                return fail_drained(ctx, st);
        }
        if ((st = lstmcl__side_join(ctx)) != LSTMCL_SUCCESS)
            return fail_drained(ctx, st);
        if (s->fwd_dropout > 0.0f && l + 1 < s->L && (st = dropout(s, l, s->hmid[l])))
            return st;
    }
    s->trained = training != 0;
    return LSTMCL_SUCCESS;
}

lstmcl_status lstmcl_stack_backward(lstmcl_stack *s, lstmcl_tensor x, lstmcl_tensor params,
                                    lstmcl_tensor c0, lstmcl_tensor dh, lstmcl_tensor dx,
                                    lstmcl_tensor dparams, int accumulate)
{
    LSTMCL_LOCKED(s ? s->ctx : NULL);
    static const char fn[] = "lstmcl_stack_backward";
    lstmcl_context *ctx = alive(s);
    const size_t count = s ? lstmcl_stack_param_count(s) : 0;
    lstmcl_tensor grad = dh;
    lstmcl_status st;
    size_t l, d;

    if (!ctx)
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    if (!s->trained)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                            "%s: no training forward to go back through (call "
                            "lstmcl_stack_forward with training set first, after any "
                            "lstmcl_stack_set_lengths)",
                            fn);
    if ((st = lstmcl__check_tensor(ctx, fn, "x", &x, s->N * s->T * s->D, 1)) ||
        (st = lstmcl__check_tensor(ctx, fn, "params", &params, count, 1)) ||
        (st = lstmcl__check_tensor(ctx, fn, "c0", &c0, s->L * s->dirs * s->N * s->H, 0)) ||
        (st = lstmcl__check_tensor(ctx, fn, "dh", &dh, s->N * s->T * s->dirs * s->H, 1)) ||
        (st = lstmcl__check_tensor(ctx, fn, "dx", &dx, s->N * s->T * s->D, 0)) ||
        (st = lstmcl__check_tensor(ctx, fn, "dparams", &dparams, count, 1)))
        return st;
    for (l = s->L; l-- > 0;) {
        /* the gradient for the layer below, in the buffer grad is not in;
         * both directions add into it */
        const lstmcl_tensor below = l == 0 ? dx : whole(s->dh[(s->L - 1 - l) % 2]);
        for (d = s->dirs; d-- > 0;) {
            lstmcl_backward_args a;
            const size_t off = lstmcl_stack_block_offset(s, l, d), n_in = din(s, l) * 4 * s->H;
            memset(&a, 0, sizeof a);
            a.x = l == 0 ? x : whole(s->hmid[l - 1]);
            a.c0 = at(c0, (l * s->dirs + d) * s->N * s->H);
            a.Wx = at(params, off);
            a.Wh = at(params, off + n_in);
            a.dh = at(grad, d * s->H);
            /* the reverse direction runs on the side queue, its dx apart */
            a.dx = d && below.mem ? whole(s->dx_rev) : below;
            a.dWx = at(dparams, off);
            a.dWh = at(dparams, off + n_in);
            a.db = at(dparams, off + n_in + s->H * 4 * s->H);
            a.accumulate = accumulate;
            a.reserve = s->reserve[2 * l + d];
            if (d == 1 && (st = lstmcl__side_begin(ctx)) != LSTMCL_SUCCESS)
                return fail_drained(ctx, st);
            st = lstmcl_plan_backward(plan_of(s, l, d), &a);
            lstmcl__side_end(ctx);
            if (st != LSTMCL_SUCCESS)
                return fail_drained(ctx, st);
        }
        if ((st = lstmcl__side_join(ctx)) != LSTMCL_SUCCESS)
            return fail_drained(ctx, st);
        if (s->dirs > 1 && below.mem) {
            const size_t count = s->N * s->T * din(s, l);
            st = LSTMCL_RUN(ctx, lstm_add, lstmcl__items(count, 1), .count = count,
                            .x = s->dx_rev, .x_off = 0, .y = below.mem, .y_off = below.offset);
            if (st != LSTMCL_SUCCESS)
                return fail_drained(ctx, st);
        }
        if (s->fwd_dropout > 0.0f && l > 0 && (st = dropout(s, l - 1, below.mem)))
            return st; /* through layer l-1's dropout */
        grad = below;
    }
    return LSTMCL_SUCCESS;
}
