/* The host-pointer API: thin wrappers over plans.  Each call takes device
 * buffers from the context's pool (so calls of one shape allocate nothing
 * after the first), uploads, enqueues the plan's work, downloads, and waits
 * once at the end.  A training forward hands the reserve and the device
 * copies of x, Wx, Wh (and c0) to a cache for the backward. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define CHECK_PTR(p)                                                                     \
    do {                                                                                 \
        if (!(p))                                                                        \
            return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT, "%s: %s is NULL", fn, \
                                #p);                                                     \
    } while (0)

/* The buffers of one call.  The first LSTMCL_CB_COUNT may go to a cache. */
enum {
    B_RESERVE = LSTMCL_CB_RESERVE, B_X = LSTMCL_CB_X, B_WX = LSTMCL_CB_WX, B_WH = LSTMCL_CB_WH,
    B_C0 = LSTMCL_CB_C0,
    B_B = LSTMCL_CB_COUNT, B_H0, B_H, B_CT,      /* forward */
    B_DH, B_DCT, B_DX, B_DH0, B_DC0, B_DWX, B_DWH, B_DB, /* backward */
    B_COUNT
};

typedef struct {
    cl_mem mem[B_COUNT];
    size_t bytes[B_COUNT];
} bufset;

static lstmcl_status need(lstmcl_context *ctx, bufset *s, int which, size_t floats)
{
    s->bytes[which] = floats * sizeof(float);
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

static lstmcl_tensor tensor(const bufset *s, int which)
{
    lstmcl_tensor t;
    t.mem = s->mem[which];
    t.offset = 0;
    return t;
}

static lstmcl_status upload(lstmcl_context *ctx, const bufset *s, int which, const float *src,
                            const char *what)
{
    cl_int err = LSTMCL_INJECT(CL_OUT_OF_RESOURCES,
                               clEnqueueWriteBuffer(ctx->queue, s->mem[which], CL_FALSE, 0,
                                                    s->bytes[which], src, 0, NULL, NULL));
    return err == CL_SUCCESS ? LSTMCL_SUCCESS : lstmcl__fail_cl(ctx, err, what);
}

static lstmcl_status download(lstmcl_context *ctx, const bufset *s, int which, float *dst,
                              const char *what)
{
    cl_int err = LSTMCL_INJECT(CL_OUT_OF_RESOURCES,
                               clEnqueueReadBuffer(ctx->queue, s->mem[which], CL_FALSE, 0,
                                                   s->bytes[which], dst, 0, NULL, NULL));
    return err == CL_SUCCESS ? LSTMCL_SUCCESS : lstmcl__fail_cl(ctx, err, what);
}

/* Waits for everything enqueued, after a failure too, since non-blocking
 * transfers may still be using the caller's memory. */
static lstmcl_status finish(lstmcl_context *ctx, lstmcl_status st)
{
    cl_int err = clFinish(ctx->queue);
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

/* c0, c_last and cache may be NULL. */
static lstmcl_status forward(lstmcl_context *ctx, const char *fn, lstmcl_cache_kind kind,
                             size_t N, size_t T, size_t D, size_t H, const float *x,
                             const float *h0, const float *c0, const float *Wx, const float *Wh,
                             const float *b, float *h, float *c_last, lstmcl_cache **cache)
{
    lstmcl_plan *plan = NULL;
    lstmcl_forward_args args;
    lstmcl_dims dims;
    lstmcl_cache *made = NULL;
    lstmcl_status st;
    bufset s;
    int i;

    memset(&s, 0, sizeof s);
    memset(&args, 0, sizeof args);
    /* checked here too, so that a message names the function called */
    st = lstmcl__check_dims(ctx, fn, N, T, D, H, &dims);
    if (st == LSTMCL_SUCCESS)
        st = lstmcl_plan_create(&plan, ctx, N, T, D, H);
    if (st != LSTMCL_SUCCESS)
        return st;
    if (cache) {
        made = calloc(1, sizeof *made);
        if (!made) {
            st = lstmcl__fail(ctx, LSTMCL_ERROR_OUT_OF_HOST_MEMORY, "%s: no memory for a cache",
                              fn);
            goto fail;
        }
        TRY(need(ctx, &s, B_RESERVE, plan->reserve_floats));
    }
    TRY(need(ctx, &s, B_X, plan->d.e_x));
    TRY(need(ctx, &s, B_WX, plan->d.e_wx));
    TRY(need(ctx, &s, B_WH, plan->d.e_wh));
    TRY(need(ctx, &s, B_B, 4 * H));
    TRY(need(ctx, &s, B_H0, plan->d.e_nh));
    TRY(need(ctx, &s, B_H, plan->d.e_h));
    if (c0)
        TRY(need(ctx, &s, B_C0, plan->d.e_nh));
    if (c_last)
        TRY(need(ctx, &s, B_CT, plan->d.e_nh));

    TRY(upload(ctx, &s, B_X, x, "uploading x"));
    TRY(upload(ctx, &s, B_WX, Wx, "uploading Wx"));
    TRY(upload(ctx, &s, B_WH, Wh, "uploading Wh"));
    TRY(upload(ctx, &s, B_B, b, "uploading b"));
    TRY(upload(ctx, &s, B_H0, h0, "uploading h0"));
    if (c0)
        TRY(upload(ctx, &s, B_C0, c0, "uploading prev_c"));

    args.x = tensor(&s, B_X);
    args.h0 = tensor(&s, B_H0);
    args.c0 = tensor(&s, B_C0);
    args.Wx = tensor(&s, B_WX);
    args.Wh = tensor(&s, B_WH);
    args.b = tensor(&s, B_B);
    args.h = tensor(&s, B_H);
    args.cT = tensor(&s, B_CT);
    args.reserve = s.mem[B_RESERVE];
    TRY(lstmcl_plan_forward(plan, &args));

    TRY(download(ctx, &s, B_H, h, "reading h"));
    if (c_last)
        TRY(download(ctx, &s, B_CT, c_last, "reading next_c"));
    TRY(finish(ctx, LSTMCL_SUCCESS));

    if (made) {
        made->ctx = ctx;
        made->kind = kind;
        made->N = N, made->T = T, made->D = D, made->H = H;
        for (i = 0; i < LSTMCL_CB_COUNT; i++) {
            made->mem[i] = s.mem[i];
            made->bytes[i] = s.bytes[i];
            s.mem[i] = NULL;
        }
        made->next = ctx->caches;
        ctx->caches = made;
        *cache = made;
    }
    give_back(ctx, &s);
    lstmcl_plan_destroy(plan);
    lstmcl__clear_message(ctx);
    return LSTMCL_SUCCESS;

fail:
    finish(ctx, st);
    give_back(ctx, &s);
    lstmcl_plan_destroy(plan);
    free(made);
    return st;
}

static const char *maker(lstmcl_cache_kind kind)
{
    return kind == LSTMCL_CACHE_STEP       ? "lstmcl_step_forward"
           : kind == LSTMCL_CACHE_SEQUENCE ? "lstmcl_forward"
                                           : "lstmcl_forward_ex or lstmcl_model_forward";
}

static const char *user(lstmcl_cache_kind kind)
{
    return kind == LSTMCL_CACHE_STEP       ? "lstmcl_step_backward"
           : kind == LSTMCL_CACHE_SEQUENCE ? "lstmcl_backward"
                                           : "lstmcl_backward_ex or lstmcl_model_backward";
}

lstmcl_status lstmcl__check_cache(lstmcl_context *ctx, const char *fn, const lstmcl_cache *cache,
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
                            "%s: the cache was made by %s; use it with %s", fn, maker(c->kind),
                            user(c->kind));
    return LSTMCL_SUCCESS;
}

/* dc_last and dc0 may be NULL. */
static lstmcl_status backward(lstmcl_context *ctx, const lstmcl_cache *cache, const float *dh,
                              const float *dc_last, float *dx, float *dh0, float *dc0, float *dWx,
                              float *dWh, float *db)
{
    lstmcl_plan *plan = NULL;
    lstmcl_backward_args args;
    lstmcl_status st;
    bufset s;
    lstmcl_tensor c0 = {cache->mem[LSTMCL_CB_C0], 0};

    memset(&s, 0, sizeof s);
    memset(&args, 0, sizeof args);
    st = lstmcl_plan_create(&plan, ctx, cache->N, cache->T, cache->D, cache->H);
    if (st != LSTMCL_SUCCESS)
        return st;
    TRY(need(ctx, &s, B_DH, plan->d.e_h));
    TRY(need(ctx, &s, B_DX, plan->d.e_x));
    TRY(need(ctx, &s, B_DH0, plan->d.e_nh));
    TRY(need(ctx, &s, B_DWX, plan->d.e_wx));
    TRY(need(ctx, &s, B_DWH, plan->d.e_wh));
    TRY(need(ctx, &s, B_DB, 4 * cache->H));
    if (dc_last)
        TRY(need(ctx, &s, B_DCT, plan->d.e_nh));
    if (dc0)
        TRY(need(ctx, &s, B_DC0, plan->d.e_nh));
    TRY(upload(ctx, &s, B_DH, dh, "uploading dh"));
    if (dc_last)
        TRY(upload(ctx, &s, B_DCT, dc_last, "uploading dnext_c"));

    args.x.mem = cache->mem[LSTMCL_CB_X];
    args.c0 = c0;
    args.Wx.mem = cache->mem[LSTMCL_CB_WX];
    args.Wh.mem = cache->mem[LSTMCL_CB_WH];
    args.dh = tensor(&s, B_DH);
    args.dcT = tensor(&s, B_DCT);
    args.dx = tensor(&s, B_DX);
    args.dh0 = tensor(&s, B_DH0);
    args.dc0 = tensor(&s, B_DC0);
    args.dWx = tensor(&s, B_DWX);
    args.dWh = tensor(&s, B_DWH);
    args.db = tensor(&s, B_DB);
    args.reserve = cache->mem[LSTMCL_CB_RESERVE];
    TRY(lstmcl_plan_backward(plan, &args));

    TRY(download(ctx, &s, B_DX, dx, "reading dx"));
    TRY(download(ctx, &s, B_DH0, dh0, "reading dh0"));
    if (dc0)
        TRY(download(ctx, &s, B_DC0, dc0, "reading dprev_c"));
    TRY(download(ctx, &s, B_DWX, dWx, "reading dWx"));
    TRY(download(ctx, &s, B_DWH, dWh, "reading dWh"));
    TRY(download(ctx, &s, B_DB, db, "reading db"));
    TRY(finish(ctx, LSTMCL_SUCCESS));
    give_back(ctx, &s);
    lstmcl_plan_destroy(plan);
    lstmcl__clear_message(ctx);
    return LSTMCL_SUCCESS;

fail:
    finish(ctx, st);
    give_back(ctx, &s);
    lstmcl_plan_destroy(plan);
    return st;
}

/* ------------------------------------------------------------ public API */

lstmcl_status lstmcl_step_forward(lstmcl_context *ctx, size_t N, size_t D, size_t H,
                                  const float *x, const float *prev_h, const float *prev_c,
                                  const float *Wx, const float *Wh, const float *b, float *next_h,
                                  float *next_c, lstmcl_cache **cache)
{
    LSTMCL_LOCKED(ctx);
    static const char fn[] = "lstmcl_step_forward";
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
    return forward(ctx, fn, LSTMCL_CACHE_STEP, N, 1, D, H, x, prev_h, prev_c, Wx, Wh, b, next_h,
                   next_c, cache);
}

lstmcl_status lstmcl_forward(lstmcl_context *ctx, size_t N, size_t T, size_t D, size_t H,
                             const float *x, const float *h0, const float *Wx, const float *Wh,
                             const float *b, float *h, lstmcl_cache **cache)
{
    LSTMCL_LOCKED(ctx);
    static const char fn[] = "lstmcl_forward";
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
    return forward(ctx, fn, LSTMCL_CACHE_SEQUENCE, N, T, D, H, x, h0, NULL, Wx, Wh, b, h, NULL,
                   cache);
}

lstmcl_status lstmcl_step_backward(lstmcl_context *ctx, const lstmcl_cache *cache,
                                   const float *dnext_h, const float *dnext_c, float *dx,
                                   float *dprev_h, float *dprev_c, float *dWx, float *dWh,
                                   float *db)
{
    LSTMCL_LOCKED(ctx);
    static const char fn[] = "lstmcl_step_backward";
    lstmcl_status st;

    if (!ctx)
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    st = lstmcl__check_cache(ctx, fn, cache, LSTMCL_CACHE_STEP);
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
    LSTMCL_LOCKED(ctx);
    static const char fn[] = "lstmcl_backward";
    lstmcl_status st;

    if (!ctx)
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    st = lstmcl__check_cache(ctx, fn, cache, LSTMCL_CACHE_SEQUENCE);
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
    LSTMCL_LOCKED(cache ? cache->ctx : NULL);
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
    lstmcl__model_free(cache->ctx, cache->model); /* a NULL ctx: released already */
    free(cache);
}
