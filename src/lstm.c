/* The LSTM forward and backward passes: argument checks, buffers, and the
 * order of GEMMs and kernels.
 *
 * Rows of every (N*T, ·) matrix are in the caller's (n, t) order, so x, h,
 * dh and dx are used as they are.  The forward runs one GEMM x·Wx for all
 * steps, then per step one GEMM that adds h_{t-1}·Wh in place and one kernel
 * for the gates, cell and hidden state.  The backward runs per step one
 * kernel and one GEMM da·Whᵀ; dx, dWx, dWh and db follow for all steps at
 * once.  The host waits once, at the end of each call. */
#include "internal.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- checks */

#define CHECK_PTR(p)                                                                     \
    do {                                                                                 \
        if (!(p))                                                                        \
            return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT, "%s: %s is NULL", fn, \
                                #p);                                                     \
    } while (0)

/* a*b, or 0 with *ok cleared on overflow. */
static size_t mul(size_t a, size_t b, int *ok)
{
    if (b != 0 && a > SIZE_MAX / b) {
        *ok = 0;
        return 0;
    }
    return a * b;
}

/* Element counts of every matrix a call touches. */
typedef struct {
    size_t N, T, D, H;
    size_t nt;          /* N*T rows */
    size_t e_x;         /* N*T*D */
    size_t e_h;         /* N*T*H */
    size_t e_g;         /* N*T*4H */
    size_t e_wx;        /* D*4H */
    size_t e_wh;        /* H*4H */
    size_t e_nh;        /* N*H */
} dims;

static lstmcl_status check_dims(lstmcl_context *ctx, const char *fn, size_t N, size_t T,
                                size_t D, size_t H, dims *d)
{
    int ok = 1;
    size_t h4, largest = 0, i;
    cl_ulong total;

    if (N == 0 || T == 0 || D == 0 || H == 0)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                            "%s: %s is 0; every size must be at least 1", fn,
                            N == 0 ? "N" : T == 0 ? "T" : D == 0 ? "D" : "H");
    d->N = N, d->T = T, d->D = D, d->H = H;
    h4 = mul(H, 4, &ok);
    d->nt = mul(N, T, &ok);
    d->e_x = mul(d->nt, D, &ok);
    d->e_h = mul(d->nt, H, &ok);
    d->e_g = mul(d->nt, h4, &ok);
    d->e_wx = mul(D, h4, &ok);
    d->e_wh = mul(H, h4, &ok);
    d->e_nh = mul(N, H, &ok);
    {
        const size_t e[] = {d->e_x, d->e_h, d->e_g, d->e_wx, d->e_wh, d->e_nh};
        for (i = 0; i < sizeof e / sizeof e[0]; i++) {
            if (e[i] > largest)
                largest = e[i];
            mul(e[i], sizeof(float), &ok); /* byte counts must fit too */
        }
    }
    if (!ok)
        return lstmcl__fail(ctx, LSTMCL_ERROR_TOO_LARGE,
                            "%s: sizes N=%zu T=%zu D=%zu H=%zu overflow size_t", fn, N, T, D, H);
    if (largest > (size_t)INT_MAX)
        return lstmcl__fail(ctx, LSTMCL_ERROR_TOO_LARGE,
                            "%s: sizes N=%zu T=%zu D=%zu H=%zu make a matrix of %zu elements; "
                            "lstmcl's kernels index at most %d",
                            fn, N, T, D, H, largest, INT_MAX);
    if ((cl_ulong)largest * sizeof(float) > ctx->max_alloc)
        return lstmcl__fail(ctx, LSTMCL_ERROR_TOO_LARGE,
                            "%s: sizes N=%zu T=%zu D=%zu H=%zu need a buffer of %zu bytes; the "
                            "device's CL_DEVICE_MAX_MEM_ALLOC_SIZE is %llu bytes",
                            fn, N, T, D, H, largest * sizeof(float),
                            (unsigned long long)ctx->max_alloc);
    /* A training step holds x, 3 (N*T,H) matrices, gates, their gradients,
     * dx and the weights at about the same time. */
    total = 2 * (cl_ulong)d->e_x + 4 * (cl_ulong)d->e_h + 2 * (cl_ulong)d->e_g +
            2 * (cl_ulong)d->e_wx + 2 * (cl_ulong)d->e_wh;
    if (total > ctx->global_mem / sizeof(float))
        return lstmcl__fail(ctx, LSTMCL_ERROR_TOO_LARGE,
                            "%s: sizes N=%zu T=%zu D=%zu H=%zu need about %llu bytes of device "
                            "memory; the device has %llu",
                            fn, N, T, D, H, (unsigned long long)(total * sizeof(float)),
                            (unsigned long long)ctx->global_mem);
    return LSTMCL_SUCCESS;
}

/* ------------------------------------------------------------ launching */

typedef struct {
    cl_kernel k;
    cl_uint i;
    cl_int err;
} argset;

static void arg_int(argset *a, size_t v)
{
    int iv = (int)v; /* check_dims keeps every index below INT_MAX */
    if (a->err == CL_SUCCESS)
        a->err = clSetKernelArg(a->k, a->i, sizeof iv, &iv);
    a->i++;
}

static void arg_mem(argset *a, cl_mem m)
{
    if (a->err == CL_SUCCESS)
        a->err = clSetKernelArg(a->k, a->i, sizeof m, m ? &m : NULL);
    a->i++;
}

/* Runs k over (cols rounded up to the work-group size) x rows. */
static lstmcl_status launch(lstmcl_context *ctx, const argset *a, const char *name, size_t cols,
                            size_t rows)
{
    size_t ls = ctx->local_size;
    size_t global[2], local[2] = {ls, 1};
    cl_int err;

    if (a->err != CL_SUCCESS)
        return lstmcl__fail_cl(ctx, a->err, name);
    global[0] = (cols + ls - 1) / ls * ls;
    global[1] = rows;
    err = clEnqueueNDRangeKernel(ctx->queue, a->k, 2, NULL, global, local, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return lstmcl__fail_cl(ctx, err, name);
    return LSTMCL_SUCCESS;
}

/* -------------------------------------------------------- buffer groups */

/* The buffers of one call: taken from the pool, handed to a cache or given
 * back at the end. */
enum {
    B_X, B_WX, B_WH, B_G, B_C, B_HPREV, B_C0,   /* may go to a cache (same order) */
    B_B, B_H0, B_HOUT,                           /* forward scratch */
    B_DH, B_DHREC, B_DC, B_DA, B_DX, B_DWX, B_DWH, B_DB, /* backward scratch */
    B_COUNT
};

typedef struct {
    cl_mem mem[B_COUNT];
    size_t bytes[B_COUNT];
} bufset;

static lstmcl_status need(lstmcl_context *ctx, bufset *s, int which, size_t elems)
{
    s->bytes[which] = elems * sizeof(float);
    return lstmcl__buffer_get(ctx, s->bytes[which], &s->mem[which]);
}

static void give_back(lstmcl_context *ctx, bufset *s)
{
    int i;
    for (i = 0; i < B_COUNT; i++) {
        lstmcl__buffer_put(ctx, s->mem[i], s->bytes[i]);
        s->mem[i] = NULL;
    }
}

static lstmcl_status upload(lstmcl_context *ctx, cl_mem m, const float *src, size_t elems,
                           const char *what)
{
    cl_int err = clEnqueueWriteBuffer(ctx->queue, m, CL_FALSE, 0, elems * sizeof(float), src, 0,
                                      NULL, NULL);
    return err == CL_SUCCESS ? LSTMCL_SUCCESS : lstmcl__fail_cl(ctx, err, what);
}

static lstmcl_status download(lstmcl_context *ctx, cl_mem m, float *dst, size_t elems,
                          const char *what)
{
    cl_int err = clEnqueueReadBuffer(ctx->queue, m, CL_FALSE, 0, elems * sizeof(float), dst, 0,
                                     NULL, NULL);
    return err == CL_SUCCESS ? LSTMCL_SUCCESS : lstmcl__fail_cl(ctx, err, what);
}

static lstmcl_status fill_zero(lstmcl_context *ctx, cl_mem m, size_t elems)
{
    const float zero = 0.0f;
    cl_int err = clEnqueueFillBuffer(ctx->queue, m, &zero, sizeof zero, 0, elems * sizeof(float),
                                     0, NULL, NULL);
    return err == CL_SUCCESS ? LSTMCL_SUCCESS : lstmcl__fail_cl(ctx, err, "clEnqueueFillBuffer");
}

/* Waits for everything enqueued; after a failure too, since host pointers
 * may still be in use by non-blocking transfers. */
static lstmcl_status finish(lstmcl_context *ctx, lstmcl_status st)
{
    cl_int err = clFinish(ctx->queue);
    if (st == LSTMCL_SUCCESS && err != CL_SUCCESS)
        return lstmcl__fail_cl(ctx, err, "clFinish");
    return st;
}

#define TRY(expr)                          \
    do {                                   \
        st = (expr);                       \
        if (st != LSTMCL_SUCCESS)          \
            goto fail;                     \
    } while (0)

/* --------------------------------------------------------------- forward */

/* c0, c_last and cache may be NULL. */
static lstmcl_status forward(lstmcl_context *ctx, const char *fn, lstmcl_cache_kind kind,
                             const dims *d, const float *x, const float *h0, const float *c0,
                             const float *Wx, const float *Wh, const float *b, float *h,
                             float *c_last, lstmcl_cache **cache)
{
    const size_t N = d->N, T = d->T, D = d->D, H = d->H;
    const int train = cache != NULL;
    bufset s;
    lstmcl_cache *made = NULL;
    lstmcl_status st = LSTMCL_SUCCESS;
    size_t t;
    int i;

    memset(&s, 0, sizeof s);
    if (train) {
        made = calloc(1, sizeof *made);
        if (!made)
            return lstmcl__fail(ctx, LSTMCL_ERROR_OUT_OF_HOST_MEMORY, "%s: no memory for a cache",
                                fn);
    }

    TRY(need(ctx, &s, B_X, d->e_x));
    TRY(need(ctx, &s, B_WX, d->e_wx));
    TRY(need(ctx, &s, B_WH, d->e_wh));
    TRY(need(ctx, &s, B_B, 4 * H));
    TRY(need(ctx, &s, B_G, d->e_g));
    TRY(need(ctx, &s, B_C, train ? d->e_h : d->e_nh));
    TRY(need(ctx, &s, B_HOUT, d->e_h));
    if (train)
        TRY(need(ctx, &s, B_HPREV, d->e_h));
    else
        TRY(need(ctx, &s, B_H0, d->e_nh));
    if (c0)
        TRY(need(ctx, &s, B_C0, d->e_nh));

    TRY(upload(ctx, s.mem[B_X], x, d->e_x, "uploading x"));
    TRY(upload(ctx, s.mem[B_WX], Wx, d->e_wx, "uploading Wx"));
    TRY(upload(ctx, s.mem[B_WH], Wh, d->e_wh, "uploading Wh"));
    TRY(upload(ctx, s.mem[B_B], b, 4 * H, "uploading b"));
    if (c0)
        TRY(upload(ctx, s.mem[B_C0], c0, d->e_nh, "uploading the initial cell state"));
    if (train) {
        /* h0 goes to rows (n, 0) of HPREV, which the backward needs anyway */
        const size_t origin[3] = {0, 0, 0};
        const size_t region[3] = {H * sizeof(float), N, 1};
        cl_int err = clEnqueueWriteBufferRect(ctx->queue, s.mem[B_HPREV], CL_FALSE, origin, origin,
                                              region, T * H * sizeof(float), 0,
                                              H * sizeof(float), 0, h0, 0, NULL, NULL);
        if (err != CL_SUCCESS) {
            st = lstmcl__fail_cl(ctx, err, "uploading h0");
            goto fail;
        }
    } else {
        TRY(upload(ctx, s.mem[B_H0], h0, d->e_nh, "uploading h0"));
    }

    /* a = x·Wx for every step at once */
    TRY(lstmcl__gemm(ctx, 0, 0, d->nt, 4 * H, D, 1.0f, s.mem[B_X], 0, D, s.mem[B_WX], 0, 4 * H,
                     0.0f, s.mem[B_G], 0, 4 * H));

    for (t = 0; t < T; t++) {
        argset a = {ctx->k_fwd_step, 0, CL_SUCCESS};
        cl_mem hp;
        size_t hp_off, hp_ld;

        /* h_{t-1}: h0, or h of the step before */
        if (train) {
            hp = s.mem[B_HPREV], hp_off = t * H, hp_ld = T * H;
        } else if (t == 0) {
            hp = s.mem[B_H0], hp_off = 0, hp_ld = H;
        } else {
            hp = s.mem[B_HOUT], hp_off = (t - 1) * H, hp_ld = T * H;
        }
        /* a_t += h_{t-1}·Wh, in place in the gates of step t */
        TRY(lstmcl__gemm(ctx, 0, 0, N, 4 * H, H, 1.0f, hp, hp_off, hp_ld, s.mem[B_WH], 0, 4 * H,
                         1.0f, s.mem[B_G], t * 4 * H, T * 4 * H));

        arg_int(&a, N);
        arg_int(&a, H);
        arg_mem(&a, s.mem[B_G]);
        arg_int(&a, t * 4 * H);
        arg_int(&a, T * 4 * H);
        arg_int(&a, train);
        arg_mem(&a, s.mem[B_B]);
        if (train) { /* C holds c_t of every step */
            arg_mem(&a, t > 0 ? s.mem[B_C] : s.mem[B_C0]);
            arg_int(&a, t > 0 ? (t - 1) * H : 0);
            arg_int(&a, t > 0 ? T * H : H);
            arg_mem(&a, s.mem[B_C]);
            arg_int(&a, t * H);
            arg_int(&a, T * H);
        } else { /* C is the running c, updated in place */
            arg_mem(&a, t > 0 ? s.mem[B_C] : s.mem[B_C0]);
            arg_int(&a, 0);
            arg_int(&a, H);
            arg_mem(&a, s.mem[B_C]);
            arg_int(&a, 0);
            arg_int(&a, H);
        }
        arg_mem(&a, s.mem[B_HOUT]);
        arg_int(&a, t * H);
        arg_int(&a, T * H);
        arg_mem(&a, train && t + 1 < T ? s.mem[B_HPREV] : NULL);
        arg_int(&a, (t + 1) * H);
        arg_int(&a, T * H);
        TRY(launch(ctx, &a, "lstm_fwd_step", H, N));
    }

    TRY(download(ctx, s.mem[B_HOUT], h, d->e_h, "reading h"));
    if (c_last) {
        if (train) {
            const size_t origin[3] = {(T - 1) * H * sizeof(float), 0, 0};
            const size_t host0[3] = {0, 0, 0};
            const size_t region[3] = {H * sizeof(float), N, 1};
            cl_int err = clEnqueueReadBufferRect(ctx->queue, s.mem[B_C], CL_FALSE, origin, host0,
                                                 region, T * H * sizeof(float), 0,
                                                 H * sizeof(float), 0, c_last, 0, NULL, NULL);
            if (err != CL_SUCCESS) {
                st = lstmcl__fail_cl(ctx, err, "reading the last cell state");
                goto fail;
            }
        } else {
            TRY(download(ctx, s.mem[B_C], c_last, d->e_nh, "reading the last cell state"));
        }
    }
    TRY(finish(ctx, LSTMCL_SUCCESS));

    if (train) {
        made->ctx = ctx;
        made->kind = kind;
        made->N = N, made->T = T, made->D = D, made->H = H;
        for (i = 0; i < LSTMCL_CB_COUNT; i++) { /* B_X.. and LSTMCL_CB_X.. share an order */
            made->mem[i] = s.mem[i];
            made->bytes[i] = s.bytes[i];
            s.mem[i] = NULL;
        }
        made->next = ctx->caches;
        ctx->caches = made;
        *cache = made;
    }
    give_back(ctx, &s);
    lstmcl__clear_message(ctx);
    return LSTMCL_SUCCESS;

fail:
    finish(ctx, st);
    give_back(ctx, &s);
    free(made);
    return st;
}

/* -------------------------------------------------------------- backward */

static lstmcl_status check_cache(lstmcl_context *ctx, const char *fn, const lstmcl_cache *cache,
                                 lstmcl_cache_kind kind)
{
    const lstmcl_cache *c;
    if (!cache)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT, "%s: cache is NULL", fn);
    /* Look the pointer up instead of reading through it, so that a cache of
     * another context, a destroyed cache, or one whose context was destroyed
     * is reported instead of dereferenced. */
    for (c = ctx->caches; c; c = c->next)
        if (c == cache)
            break;
    if (!c)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_CACHE,
                            "%s: the cache was not made by this context (it belongs to another "
                            "context, was destroyed, or its context was destroyed)",
                            fn);
    if (c->kind != kind)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_CACHE,
                            "%s: the cache was made by %s; use it with %s", fn,
                            c->kind == LSTMCL_CACHE_STEP ? "lstmcl_step_forward" : "lstmcl_forward",
                            c->kind == LSTMCL_CACHE_STEP ? "lstmcl_step_backward"
                                                         : "lstmcl_backward");
    return LSTMCL_SUCCESS;
}

/* dc_last and dc0 may be NULL. */
static lstmcl_status backward(lstmcl_context *ctx, const lstmcl_cache *cache, const float *dh,
                              const float *dc_last, float *dx, float *dh0, float *dc0, float *dWx,
                              float *dWh, float *db)
{
    const size_t N = cache->N, T = cache->T, D = cache->D, H = cache->H;
    cl_mem const *m = cache->mem;
    bufset s;
    lstmcl_status st = LSTMCL_SUCCESS;
    size_t t;

    memset(&s, 0, sizeof s);
    TRY(need(ctx, &s, B_DH, N * T * H));
    TRY(need(ctx, &s, B_DHREC, N * H));
    TRY(need(ctx, &s, B_DC, N * H));
    TRY(need(ctx, &s, B_DA, N * T * 4 * H));
    TRY(need(ctx, &s, B_DX, N * T * D));
    TRY(need(ctx, &s, B_DWX, D * 4 * H));
    TRY(need(ctx, &s, B_DWH, H * 4 * H));
    TRY(need(ctx, &s, B_DB, 4 * H));

    TRY(upload(ctx, s.mem[B_DH], dh, N * T * H, "uploading dh"));
    TRY(fill_zero(ctx, s.mem[B_DHREC], N * H));
    if (dc_last)
        TRY(upload(ctx, s.mem[B_DC], dc_last, N * H, "uploading dnext_c"));
    else
        TRY(fill_zero(ctx, s.mem[B_DC], N * H));

    for (t = T; t-- > 0;) {
        argset a = {ctx->k_bwd_step, 0, CL_SUCCESS};
        arg_int(&a, N);
        arg_int(&a, H);
        arg_mem(&a, s.mem[B_DH]);
        arg_int(&a, t * H);
        arg_int(&a, T * H);
        arg_mem(&a, s.mem[B_DHREC]);
        arg_mem(&a, s.mem[B_DC]);
        arg_mem(&a, m[LSTMCL_CB_GATES]);
        arg_int(&a, t * 4 * H);
        arg_int(&a, T * 4 * H);
        arg_mem(&a, m[LSTMCL_CB_C]);
        arg_int(&a, t * H);
        arg_int(&a, T * H);
        arg_mem(&a, t > 0 ? m[LSTMCL_CB_C] : m[LSTMCL_CB_C0]);
        arg_int(&a, t > 0 ? (t - 1) * H : 0);
        arg_int(&a, t > 0 ? T * H : H);
        arg_mem(&a, s.mem[B_DA]);
        arg_int(&a, t * 4 * H);
        arg_int(&a, T * 4 * H);
        TRY(launch(ctx, &a, "lstm_bwd_step", H, N));
        /* the gradient reaching h_{t-1}: da_t·Whᵀ */
        TRY(lstmcl__gemm(ctx, 0, 1, N, H, 4 * H, 1.0f, s.mem[B_DA], t * 4 * H, T * 4 * H,
                         m[LSTMCL_CB_WH], 0, 4 * H, 0.0f, s.mem[B_DHREC], 0, H));
    }

    /* all steps at once */
    TRY(lstmcl__gemm(ctx, 0, 1, N * T, D, 4 * H, 1.0f, s.mem[B_DA], 0, 4 * H, m[LSTMCL_CB_WX], 0,
                     4 * H, 0.0f, s.mem[B_DX], 0, D));
    TRY(lstmcl__gemm(ctx, 1, 0, D, 4 * H, N * T, 1.0f, m[LSTMCL_CB_X], 0, D, s.mem[B_DA], 0,
                     4 * H, 0.0f, s.mem[B_DWX], 0, 4 * H));
    TRY(lstmcl__gemm(ctx, 1, 0, H, 4 * H, N * T, 1.0f, m[LSTMCL_CB_HPREV], 0, H, s.mem[B_DA], 0,
                     4 * H, 0.0f, s.mem[B_DWH], 0, 4 * H));
    {
        argset a = {ctx->k_colsum, 0, CL_SUCCESS};
        arg_int(&a, N * T);
        arg_int(&a, 4 * H);
        arg_mem(&a, s.mem[B_DA]);
        arg_mem(&a, s.mem[B_DB]);
        TRY(launch(ctx, &a, "lstm_colsum", 4 * H, 1));
    }

    TRY(download(ctx, s.mem[B_DX], dx, N * T * D, "reading dx"));
    TRY(download(ctx, s.mem[B_DHREC], dh0, N * H, "reading dh0"));
    if (dc0)
        TRY(download(ctx, s.mem[B_DC], dc0, N * H, "reading dprev_c"));
    TRY(download(ctx, s.mem[B_DWX], dWx, D * 4 * H, "reading dWx"));
    TRY(download(ctx, s.mem[B_DWH], dWh, H * 4 * H, "reading dWh"));
    TRY(download(ctx, s.mem[B_DB], db, 4 * H, "reading db"));
    TRY(finish(ctx, LSTMCL_SUCCESS));
    give_back(ctx, &s);
    lstmcl__clear_message(ctx);
    return LSTMCL_SUCCESS;

fail:
    finish(ctx, st);
    give_back(ctx, &s);
    return st;
}

/* ------------------------------------------------------------ public API */

lstmcl_status lstmcl_step_forward(lstmcl_context *ctx, size_t N, size_t D, size_t H,
                                  const float *x, const float *prev_h, const float *prev_c,
                                  const float *Wx, const float *Wh, const float *b, float *next_h,
                                  float *next_c, lstmcl_cache **cache)
{
    static const char fn[] = "lstmcl_step_forward";
    dims d;
    lstmcl_status st;

    if (cache)
        *cache = NULL;
    if (!ctx)
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    CHECK_PTR(x);
    CHECK_PTR(prev_h);
    CHECK_PTR(prev_c);
    CHECK_PTR(Wx);
    CHECK_PTR(Wh);
    CHECK_PTR(b);
    CHECK_PTR(next_h);
    CHECK_PTR(next_c);
    st = check_dims(ctx, fn, N, 1, D, H, &d);
    if (st != LSTMCL_SUCCESS)
        return st;
    return forward(ctx, fn, LSTMCL_CACHE_STEP, &d, x, prev_h, prev_c, Wx, Wh, b, next_h, next_c,
                   cache);
}

lstmcl_status lstmcl_forward(lstmcl_context *ctx, size_t N, size_t T, size_t D, size_t H,
                             const float *x, const float *h0, const float *Wx, const float *Wh,
                             const float *b, float *h, lstmcl_cache **cache)
{
    static const char fn[] = "lstmcl_forward";
    dims d;
    lstmcl_status st;

    if (cache)
        *cache = NULL;
    if (!ctx)
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    CHECK_PTR(x);
    CHECK_PTR(h0);
    CHECK_PTR(Wx);
    CHECK_PTR(Wh);
    CHECK_PTR(b);
    CHECK_PTR(h);
    st = check_dims(ctx, fn, N, T, D, H, &d);
    if (st != LSTMCL_SUCCESS)
        return st;
    return forward(ctx, fn, LSTMCL_CACHE_SEQUENCE, &d, x, h0, NULL, Wx, Wh, b, h, NULL, cache);
}

lstmcl_status lstmcl_step_backward(lstmcl_context *ctx, const lstmcl_cache *cache,
                                   const float *dnext_h, const float *dnext_c, float *dx,
                                   float *dprev_h, float *dprev_c, float *dWx, float *dWh,
                                   float *db)
{
    static const char fn[] = "lstmcl_step_backward";
    lstmcl_status st;

    if (!ctx)
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    st = check_cache(ctx, fn, cache, LSTMCL_CACHE_STEP);
    if (st != LSTMCL_SUCCESS)
        return st;
    CHECK_PTR(dnext_h);
    CHECK_PTR(dnext_c);
    CHECK_PTR(dx);
    CHECK_PTR(dprev_h);
    CHECK_PTR(dprev_c);
    CHECK_PTR(dWx);
    CHECK_PTR(dWh);
    CHECK_PTR(db);
    return backward(ctx, cache, dnext_h, dnext_c, dx, dprev_h, dprev_c, dWx, dWh, db);
}

lstmcl_status lstmcl_backward(lstmcl_context *ctx, const lstmcl_cache *cache, const float *dh,
                              float *dx, float *dh0, float *dWx, float *dWh, float *db)
{
    static const char fn[] = "lstmcl_backward";
    lstmcl_status st;

    if (!ctx)
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    st = check_cache(ctx, fn, cache, LSTMCL_CACHE_SEQUENCE);
    if (st != LSTMCL_SUCCESS)
        return st;
    CHECK_PTR(dh);
    CHECK_PTR(dx);
    CHECK_PTR(dh0);
    CHECK_PTR(dWx);
    CHECK_PTR(dWh);
    CHECK_PTR(db);
    return backward(ctx, cache, dh, NULL, dx, dh0, NULL, dWx, dWh, db);
}

void lstmcl_cache_destroy(lstmcl_cache *cache)
{
    int i;
    if (!cache)
        return;
    if (cache->ctx) {
        lstmcl_cache **p = &cache->ctx->caches;
        while (*p && *p != cache)
            p = &(*p)->next;
        if (*p)
            *p = cache->next;
        for (i = 0; i < LSTMCL_CB_COUNT; i++)
            lstmcl__buffer_put(cache->ctx, cache->mem[i], cache->bytes[i]);
    }
    free(cache);
}
