/* Plans: the device-buffer API, and the order of GEMMs and kernels.
 *
 * Rows of every (N*T, ·) matrix are in the caller's (n, t) order, so x, h,
 * dh and dx are used as they are.  The forward runs one GEMM x·Wx for all
 * steps, then per step one GEMM that adds h_{t-1}·Wh in place and one kernel
 * for the gates, cell and hidden state.  The backward runs per step one
 * kernel and one GEMM da·Whᵀ; dx, dWx, dWh and db follow for all steps at
 * once.  Nothing here waits for the device.
 *
 * Reserve (training forward → backward), in floats:
 *   [0, NT·4H)            activated gates, rows (n,t)
 *   [NT·4H, NT·5H)        c_t, rows (n,t)
 *   [NT·5H, NT·6H)        h_{t-1}, rows (n,t) (h0 or zeros at t = 0)
 * Workspace (one call), in floats:
 *   [0, NT·4H)            inference: a and gates; backward: da
 *   [NT·4H, NT·4H + NH)   inference: the running c; backward: dc
 *   [.., NT·4H + 2NH)     backward: the gradient reaching h_t from step t+1
 *   [.., + 4H·roundup(H, 16))  with the fused kernels: Wh packed for them
 *
 * Two paths for the per-step work (ctx->fused): CLBlast GEMM + elementwise
 * kernel (cl/lstm.cl), or one kernel that does both (cl/fused.cl). */
#include "internal.h"


#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- sizes */

static size_t mul(size_t a, size_t b, int *ok)
{
    if (b != 0 && a > SIZE_MAX / b) {
        *ok = 0;
        return 0;
    }
    return a * b;
}

lstmcl_status lstmcl__check_dims(lstmcl_context *ctx, const char *fn, size_t N, size_t T,
                                 size_t D, size_t H, lstmcl_dims *d)
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
            mul(e[i], 6 * sizeof(float), &ok); /* byte counts of reserve and workspace fit */
        }
    }
    if (!ok)
        return lstmcl__fail(ctx, LSTMCL_ERROR_TOO_LARGE,
                            "%s: sizes N=%zu T=%zu D=%zu H=%zu overflow size_t", fn, N, T, D, H);
    /* the reserve (6·NT·H floats) is indexed by the kernels too */
    if (largest > (size_t)INT_MAX || d->e_h > (size_t)INT_MAX / 6 ||
        d->e_g + 2 * d->e_nh + ((H + 15) / 16 * 16) * h4 > (size_t)INT_MAX)
        return lstmcl__fail(ctx, LSTMCL_ERROR_TOO_LARGE,
                            "%s: sizes N=%zu T=%zu D=%zu H=%zu make a matrix of %zu elements; "
                            "lstmcl's kernels index at most %d",
                            fn, N, T, D, H, largest > 6 * d->e_h ? largest : 6 * d->e_h, INT_MAX);
    if ((cl_ulong)largest * sizeof(float) > ctx->max_alloc)
        return lstmcl__fail(ctx, LSTMCL_ERROR_TOO_LARGE,
                            "%s: sizes N=%zu T=%zu D=%zu H=%zu need a buffer of %zu bytes; the "
                            "device's CL_DEVICE_MAX_MEM_ALLOC_SIZE is %llu bytes",
                            fn, N, T, D, H, largest * sizeof(float),
                            (unsigned long long)ctx->max_alloc);
    /* a training step holds x, dx, h, dh, the reserve, the workspace and the
     * weights with their gradients at about the same time */
    total = 2 * (cl_ulong)d->e_x + 8 * (cl_ulong)d->e_h + 2 * (cl_ulong)d->e_g +
            2 * (cl_ulong)d->e_wx + 2 * (cl_ulong)d->e_wh;
    if (total > ctx->global_mem / sizeof(float))
        return lstmcl__fail(ctx, LSTMCL_ERROR_TOO_LARGE,
                            "%s: sizes N=%zu T=%zu D=%zu H=%zu need about %llu bytes of device "
                            "memory; the device has %llu",
                            fn, N, T, D, H, (unsigned long long)(total * sizeof(float)),
                            (unsigned long long)ctx->global_mem);
    return LSTMCL_SUCCESS;
}

/* ---------------------------------------------------------------- plans */

/* Wh packed for the fused kernels: H rounded up to 16 (VW in cl/fused.cl)
 * by 4H. */
static size_t packed_floats(const lstmcl_dims *d)
{
    return (d->H + 15) / 16 * 16 * 4 * d->H;
}

lstmcl_status lstmcl_plan_create(lstmcl_plan **out, lstmcl_context *ctx, size_t N, size_t T,
                                 size_t D, size_t H)
{
    static const char fn[] = "lstmcl_plan_create";
    lstmcl_plan *plan;
    lstmcl_dims d;
    lstmcl_status st;

    if (!ctx)
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    if (!out)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT, "%s: plan is NULL", fn);
    *out = NULL;
    st = lstmcl__check_dims(ctx, fn, N, T, D, H, &d);
    if (st != LSTMCL_SUCCESS)
        return st;
    plan = calloc(1, sizeof *plan);
    if (!plan)
        return lstmcl__fail(ctx, LSTMCL_ERROR_OUT_OF_HOST_MEMORY, "%s: no memory", fn);
    plan->ctx = ctx;
    plan->d = d;
    plan->workspace_floats = d.e_g + 2 * d.e_nh + (ctx->fused ? packed_floats(&d) : 0);
    plan->reserve_floats = d.e_g + 2 * d.e_h;
    plan->next = ctx->plans;
    ctx->plans = plan;
    *out = plan;
    lstmcl__clear_message(ctx);
    return LSTMCL_SUCCESS;
}

void lstmcl_plan_destroy(lstmcl_plan *plan)
{
    if (!plan)
        return;
    if (plan->ctx) {
        lstmcl_plan **p = &plan->ctx->plans;
        while (*p && *p != plan)
            p = &(*p)->next;
        if (*p)
            *p = plan->next;
        lstmcl__buffer_put(plan->ctx, plan->own_workspace, plan->workspace_floats * sizeof(float));
    } else if (plan->own_workspace) {
        clReleaseMemObject(plan->own_workspace);
    }
    free(plan);
}

lstmcl_status lstmcl_plan_workspace_size(const lstmcl_plan *plan, size_t *bytes)
{
    if (!plan || !bytes)
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    *bytes = plan->workspace_floats * sizeof(float);
    return LSTMCL_SUCCESS;
}

lstmcl_status lstmcl_plan_reserve_size(const lstmcl_plan *plan, size_t *bytes)
{
    if (!plan || !bytes)
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    *bytes = plan->reserve_floats * sizeof(float);
    return LSTMCL_SUCCESS;
}

/* --------------------------------------------------------------- checks */

static lstmcl_status check_scratch(lstmcl_context *ctx, const char *fn, const char *name,
                                   cl_mem mem, size_t floats)
{
    lstmcl_tensor t;
    t.mem = mem;
    t.offset = 0;
    return lstmcl__check_tensor(ctx, fn, name, &t, floats, 1);
}

static lstmcl_status check_plan(const lstmcl_plan *plan, const char *fn, const void *args)
{
    if (!plan)
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    if (!plan->ctx)
        return LSTMCL_ERROR_INVALID_ARGUMENT; /* its context is gone: nowhere to say more */
    if (!args)
        return lstmcl__fail(plan->ctx, LSTMCL_ERROR_INVALID_ARGUMENT, "%s: args is NULL", fn);
    return LSTMCL_SUCCESS;
}

static lstmcl_status workspace(lstmcl_plan *plan, cl_mem given, cl_mem *ws)
{
    lstmcl_status st;
    if (given) {
        *ws = given;
        return LSTMCL_SUCCESS;
    }
    if (!plan->own_workspace) {
        st = lstmcl__buffer_get(plan->ctx, plan->workspace_floats * sizeof(float),
                                &plan->own_workspace);
        if (st != LSTMCL_SUCCESS)
            return st;
    }
    *ws = plan->own_workspace;
    return LSTMCL_SUCCESS;
}

/* ------------------------------------------------------------ launching */

/* The fused kernels: one work-item per 16 hidden units (VW in cl/fused.cl).
 * On a CPU each work-item walks all batch rows, 4 (RB) at a time, in
 * work-groups of one item spread over the cores, so its slice of the weights
 * stays in cache; elsewhere each work-item takes one block of 4 rows. */
static size_t fused_rows(const lstmcl_context *ctx, size_t N)
{
    return ctx->cpu ? 1 : (N + 3) / 4;
}

/* The kernel's n_step argument: rows between one work-item's row blocks. */
static size_t fused_n_step(const lstmcl_context *ctx, size_t N)
{
    return fused_rows(ctx, N) * 4;
}

static lstmcl_status launch_fused(lstmcl_context *ctx, const lstmcl_argset *a, const char *name,
                                  size_t H, size_t N)
{
    size_t global[2], local[2] = {1, 1};
    cl_int err;
    if (a->err != CL_SUCCESS)
        return lstmcl__fail_cl(ctx, a->err, name);
    global[0] = (H + 15) / 16;
    global[1] = fused_rows(ctx, N);
    err = LSTMCL_INJECT(CL_OUT_OF_RESOURCES,
                        clEnqueueNDRangeKernel(ctx->queue, a->k, 2, NULL, global,
                                               ctx->cpu ? local : NULL, 0, NULL, NULL));
    if (err != CL_SUCCESS)
        return lstmcl__fail_cl(ctx, err, name);
    return LSTMCL_SUCCESS;
}

/* Packs Wh for a fused kernel: work-items (padded units, rows). */
static lstmcl_status pack(lstmcl_context *ctx, cl_kernel kernel, const char *name, size_t H,
                          size_t rows, const lstmcl_tensor *W, cl_mem out, size_t out_off)
{
    lstmcl_argset k = {kernel, 0, CL_SUCCESS};
    lstmcl__arg_int(&k, H);
    lstmcl__arg_mem(&k, W->mem);
    lstmcl__arg_int(&k, W->offset);
    lstmcl__arg_mem(&k, out);
    lstmcl__arg_int(&k, out_off);
    return lstmcl__launch(ctx, &k, name, (H + 15) / 16 * 16, rows);
}

/* A matrix view argument: buffer, offset, leading dimension. */
static void arg_view(lstmcl_argset *k, cl_mem m, size_t off, size_t ld)
{
    lstmcl__arg_mem(k, m);
    lstmcl__arg_int(k, off);
    lstmcl__arg_int(k, ld);
}

/* The cell state after step s as kept in the reserve (rows (n, s) from
 * c_off), or for s = -1 the initial state c0 (absent: zeros). */
static void arg_cell(lstmcl_argset *k, cl_mem rs, size_t c_off, const lstmcl_tensor *c0, long s,
                     size_t T, size_t H)
{
    if (s >= 0)
        arg_view(k, rs, c_off + (size_t)s * H, T * H);
    else
        arg_view(k, c0->mem, c0->offset, H);
}

/* dst[0..floats) = src, or zeros when src is absent. */
static lstmcl_status copy_or_zero(lstmcl_context *ctx, cl_mem dst, size_t dst_off,
                                  const lstmcl_tensor *src, size_t floats)
{
    cl_int err;
    if (src->mem) {
        err = LSTMCL_INJECT(CL_OUT_OF_RESOURCES,
                            clEnqueueCopyBuffer(ctx->queue, src->mem, dst,
                                                src->offset * sizeof(float),
                                                dst_off * sizeof(float), floats * sizeof(float),
                                                0, NULL, NULL));
        if (err != CL_SUCCESS)
            return lstmcl__fail_cl(ctx, err, "clEnqueueCopyBuffer");
    } else {
        const float zero = 0.0f;
        err = LSTMCL_INJECT(CL_OUT_OF_RESOURCES,
                            clEnqueueFillBuffer(ctx->queue, dst, &zero, sizeof zero,
                                                dst_off * sizeof(float), floats * sizeof(float),
                                                0, NULL, NULL));
        if (err != CL_SUCCESS)
            return lstmcl__fail_cl(ctx, err, "clEnqueueFillBuffer");
    }
    return LSTMCL_SUCCESS;
}

/* After a failure part of a call may be enqueued: let it drain, so that the
 * caller may free or reuse what it gave. */
static lstmcl_status drained(lstmcl_context *ctx, lstmcl_status st)
{
    clFinish(ctx->queue);
    return st;
}

#define TRY(expr)                       \
    do {                                \
        st = (expr);                    \
        if (st != LSTMCL_SUCCESS)       \
            return drained(ctx, st);    \
    } while (0)

/* -------------------------------------------------------------- forward */

lstmcl_status lstmcl_plan_forward(lstmcl_plan *plan, const lstmcl_forward_args *a)
{
    static const char fn[] = "lstmcl_plan_forward";
    lstmcl_context *ctx;
    const lstmcl_dims *d;
    size_t N, T, D, H, t;
    int train;
    cl_mem ws = NULL, gm, cm;
    size_t g0, c0ff, hp0; /* offsets of the gates, c and h_{t-1} areas */
    lstmcl_status st;

    st = check_plan(plan, fn, a);
    if (st != LSTMCL_SUCCESS)
        return st;
    ctx = plan->ctx;
    d = &plan->d;
    N = d->N, T = d->T, D = d->D, H = d->H;
    train = a->reserve != NULL;

    if ((st = lstmcl__check_tensor(ctx, fn, "x", &a->x, d->e_x, 1)) ||
        (st = lstmcl__check_tensor(ctx, fn, "h0", &a->h0, d->e_nh, 0)) ||
        (st = lstmcl__check_tensor(ctx, fn, "c0", &a->c0, d->e_nh, 0)) ||
        (st = lstmcl__check_tensor(ctx, fn, "Wx", &a->Wx, d->e_wx, 1)) ||
        (st = lstmcl__check_tensor(ctx, fn, "Wh", &a->Wh, d->e_wh, 1)) ||
        (st = lstmcl__check_tensor(ctx, fn, "b", &a->b, 4 * H, 1)) ||
        (st = lstmcl__check_tensor(ctx, fn, "h", &a->h, d->e_h, 1)) ||
        (st = lstmcl__check_tensor(ctx, fn, "hT", &a->hT, d->e_nh, 0)) ||
        (st = lstmcl__check_tensor(ctx, fn, "cT", &a->cT, d->e_nh, 0)))
        return st;
    if (train && (st = check_scratch(ctx, fn, "reserve", a->reserve, plan->reserve_floats)))
        return st;
    if (!train || ctx->fused || a->workspace) { /* else the reserve is enough */
        if (a->workspace &&
            (st = check_scratch(ctx, fn, "workspace", a->workspace, plan->workspace_floats)))
            return st;
        if ((st = workspace(plan, a->workspace, &ws)) != LSTMCL_SUCCESS)
            return st;
    }
    if (train) {
        gm = cm = a->reserve;
        g0 = 0, c0ff = d->e_g, hp0 = d->e_g + d->e_h;
    } else {
        gm = cm = ws;
        g0 = 0, c0ff = d->e_g, hp0 = 0;
    }

    /* a = x·Wx for every step at once */
    TRY(lstmcl__gemm(ctx, 0, 0, d->nt, 4 * H, D, 1.0f, a->x.mem, a->x.offset, D, a->Wx.mem,
                     a->Wx.offset, 4 * H, 0.0f, gm, g0, 4 * H));
    if (ctx->fused)
        TRY(pack(ctx, ctx->k_pack_fwd, "lstm_pack_fwd", H, H, &a->Wh, ws, d->e_g + 2 * d->e_nh));

    for (t = 0; t < T; t++) {
        lstmcl_argset k = {ctx->fused ? ctx->k_fwd_fused : ctx->k_fwd_step, 0, CL_SUCCESS};
        cl_mem hp = NULL;
        size_t hp_off = 0, hp_ld = H;
        if (t > 0)
            hp = a->h.mem, hp_off = a->h.offset + (t - 1) * H, hp_ld = T * H;
        else if (a->h0.mem)
            hp = a->h0.mem, hp_off = a->h0.offset, hp_ld = H;

        lstmcl__arg_int(&k, N);
        lstmcl__arg_int(&k, H);
        if (ctx->fused) { /* the kernel computes h_{t-1}·Wh itself */
            lstmcl__arg_int(&k, fused_n_step(ctx, N));
            lstmcl__arg_mem(&k, hp);
            lstmcl__arg_int(&k, hp_off);
            lstmcl__arg_int(&k, hp_ld);
            lstmcl__arg_mem(&k, ws); /* Wh packed */
            lstmcl__arg_int(&k, d->e_g + 2 * d->e_nh);
        } else if (hp) { /* a_t += h_{t-1}·Wh, in place in the gates of step t */
            TRY(lstmcl__gemm(ctx, 0, 0, N, 4 * H, H, 1.0f, hp, hp_off, hp_ld, a->Wh.mem,
                             a->Wh.offset, 4 * H, 1.0f, gm, g0 + t * 4 * H, T * 4 * H));
        }
        lstmcl__arg_mem(&k, gm);
        lstmcl__arg_int(&k, g0 + t * 4 * H);
        lstmcl__arg_int(&k, T * 4 * H);
        lstmcl__arg_int(&k, train);
        lstmcl__arg_mem(&k, a->b.mem);
        lstmcl__arg_int(&k, a->b.offset);
        if (train) { /* c_t of every step is kept */
            arg_cell(&k, cm, c0ff, &a->c0, (long)t - 1, T, H);
            arg_cell(&k, cm, c0ff, &a->c0, (long)t, T, H);
        } else { /* one running c, updated in place */
            lstmcl__arg_mem(&k, t > 0 ? cm : a->c0.mem);
            lstmcl__arg_int(&k, t > 0 ? c0ff : a->c0.offset);
            lstmcl__arg_int(&k, H);
            lstmcl__arg_mem(&k, cm);
            lstmcl__arg_int(&k, c0ff);
            lstmcl__arg_int(&k, H);
        }
        lstmcl__arg_mem(&k, a->h.mem);
        lstmcl__arg_int(&k, a->h.offset + t * H);
        lstmcl__arg_int(&k, T * H);
        if (!ctx->fused) {
            lstmcl__arg_mem(&k, hp);
            lstmcl__arg_int(&k, hp_off);
            lstmcl__arg_int(&k, hp_ld);
        }
        lstmcl__arg_mem(&k, train ? gm : NULL); /* h_{t-1} into the reserve, for dWh */
        lstmcl__arg_int(&k, hp0 + t * H);
        lstmcl__arg_int(&k, T * H);
        lstmcl__arg_mem(&k, t + 1 == T ? a->hT.mem : NULL);
        lstmcl__arg_int(&k, a->hT.offset);
        lstmcl__arg_mem(&k, t + 1 == T ? a->cT.mem : NULL);
        lstmcl__arg_int(&k, a->cT.offset);
        if (ctx->fused)
            TRY(launch_fused(ctx, &k, "lstm_fwd_fused", H, N));
        else
            TRY(lstmcl__launch(ctx, &k, "lstm_fwd_step", H, N));
    }
    lstmcl__clear_message(ctx);
    return LSTMCL_SUCCESS;
}

/* ------------------------------------------------------------- backward */

/* Step t's cell math by the elementwise kernel: dh_rec and dc in the
 * workspace, gates and c in the reserve, da into the workspace. */
static lstmcl_status bwd_step(lstmcl_context *ctx, const lstmcl_backward_args *a, size_t t,
                              cl_mem ws, size_t dr0, size_t dc0ff, cl_mem rs, size_t c0ff,
                              size_t da0, size_t T, size_t N, size_t H)
{
    lstmcl_argset k = {ctx->k_bwd_step, 0, CL_SUCCESS};
    lstmcl__arg_int(&k, N);
    lstmcl__arg_int(&k, H);
    lstmcl__arg_mem(&k, a->dh.mem);
    lstmcl__arg_int(&k, a->dh.offset + t * H);
    lstmcl__arg_int(&k, T * H);
    lstmcl__arg_mem(&k, ws);
    lstmcl__arg_int(&k, dr0);
    lstmcl__arg_mem(&k, ws);
    lstmcl__arg_int(&k, dc0ff);
    arg_view(&k, rs, t * 4 * H, T * 4 * H); /* the gates start the reserve */
    arg_cell(&k, rs, c0ff, &a->c0, (long)t, T, H);
    arg_cell(&k, rs, c0ff, &a->c0, (long)t - 1, T, H);
    lstmcl__arg_mem(&k, ws);
    lstmcl__arg_int(&k, da0 + t * 4 * H);
    lstmcl__arg_int(&k, T * 4 * H);
    return lstmcl__launch(ctx, &k, "lstm_bwd_step", H, N);
}

lstmcl_status lstmcl_plan_backward(lstmcl_plan *plan, const lstmcl_backward_args *a)
{
    static const char fn[] = "lstmcl_plan_backward";
    lstmcl_context *ctx;
    const lstmcl_dims *d;
    size_t N, T, D, H, t;
    cl_mem ws = NULL, rs;
    size_t da0, dc0ff, dr0, wt0, g0 = 0, c0ff, hp0;
    const float beta = a && a->accumulate ? 1.0f : 0.0f;
    lstmcl_status st;

    st = check_plan(plan, fn, a);
    if (st != LSTMCL_SUCCESS)
        return st;
    ctx = plan->ctx;
    d = &plan->d;
    N = d->N, T = d->T, D = d->D, H = d->H;

    if ((st = lstmcl__check_tensor(ctx, fn, "x", &a->x, d->e_x, 1)) ||
        (st = lstmcl__check_tensor(ctx, fn, "c0", &a->c0, d->e_nh, 0)) ||
        (st = lstmcl__check_tensor(ctx, fn, "Wx", &a->Wx, d->e_wx, 1)) ||
        (st = lstmcl__check_tensor(ctx, fn, "Wh", &a->Wh, d->e_wh, 1)) ||
        (st = lstmcl__check_tensor(ctx, fn, "dh", &a->dh, d->e_h, 1)) ||
        (st = lstmcl__check_tensor(ctx, fn, "dhT", &a->dhT, d->e_nh, 0)) ||
        (st = lstmcl__check_tensor(ctx, fn, "dcT", &a->dcT, d->e_nh, 0)) ||
        (st = lstmcl__check_tensor(ctx, fn, "dx", &a->dx, d->e_x, 0)) ||
        (st = lstmcl__check_tensor(ctx, fn, "dh0", &a->dh0, d->e_nh, 0)) ||
        (st = lstmcl__check_tensor(ctx, fn, "dc0", &a->dc0, d->e_nh, 0)) ||
        (st = lstmcl__check_tensor(ctx, fn, "dWx", &a->dWx, d->e_wx, 0)) ||
        (st = lstmcl__check_tensor(ctx, fn, "dWh", &a->dWh, d->e_wh, 0)) ||
        (st = lstmcl__check_tensor(ctx, fn, "db", &a->db, 4 * H, 0)))
        return st;
    if (!a->reserve)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                            "%s: reserve is NULL; pass the reserve of a training forward", fn);
    if ((st = check_scratch(ctx, fn, "reserve", a->reserve, plan->reserve_floats)))
        return st;
    if (a->workspace &&
        (st = check_scratch(ctx, fn, "workspace", a->workspace, plan->workspace_floats)))
        return st;
    if ((st = workspace(plan, a->workspace, &ws)) != LSTMCL_SUCCESS)
        return st;
    rs = a->reserve;
    c0ff = d->e_g, hp0 = d->e_g + d->e_h;
    da0 = 0, dc0ff = d->e_g, dr0 = d->e_g + d->e_nh, wt0 = d->e_g + 2 * d->e_nh;

    TRY(copy_or_zero(ctx, ws, dc0ff, &a->dcT, d->e_nh));
    TRY(copy_or_zero(ctx, ws, dr0, &a->dhT, d->e_nh));

    if (ctx->fused)
        TRY(pack(ctx, ctx->k_pack_bwd, "lstm_pack_bwd", H, 4 * H, &a->Wh, ws, wt0));
    for (t = T; t-- > 0;) {
        /* step t's cell math: by the step kernel for the last step (and on
         * the GEMM path every step), else by the fused kernel of step t+1 */
        if (!ctx->fused || t == T - 1)
            TRY(bwd_step(ctx, a, t, ws, dr0, dc0ff, rs, c0ff, da0, T, N, H));
        if (!ctx->fused) {
            /* the gradient reaching h_{t-1}: da_t·Whᵀ (at t = 0 that is dh0) */
            if (t > 0)
                TRY(lstmcl__gemm(ctx, 0, 1, N, H, 4 * H, 1.0f, ws, da0 + t * 4 * H, T * 4 * H,
                                 a->Wh.mem, a->Wh.offset, 4 * H, 0.0f, ws, dr0, H));
            else if (a->dh0.mem)
                TRY(lstmcl__gemm(ctx, 0, 1, N, H, 4 * H, 1.0f, ws, da0, T * 4 * H, a->Wh.mem,
                                 a->Wh.offset, 4 * H, 0.0f, a->dh0.mem, a->dh0.offset, H));
        } else if (t > 0 || a->dh0.mem) {
            /* da_t·Whᵀ, then step t-1's cell math (or, at t = 0, dh0) */
            lstmcl_argset k = {ctx->k_bwd_fused, 0, CL_SUCCESS};
            lstmcl__arg_int(&k, N);
            lstmcl__arg_int(&k, H);
            lstmcl__arg_int(&k, fused_n_step(ctx, N));
            lstmcl__arg_mem(&k, ws);
            lstmcl__arg_int(&k, da0 + t * 4 * H);
            lstmcl__arg_int(&k, T * 4 * H);
            lstmcl__arg_mem(&k, ws);
            lstmcl__arg_int(&k, wt0);
            lstmcl__arg_mem(&k, t > 0 ? NULL : a->dh0.mem);
            lstmcl__arg_int(&k, t > 0 ? 0 : a->dh0.offset);
            lstmcl__arg_mem(&k, a->dh.mem);
            lstmcl__arg_int(&k, a->dh.offset + (t > 0 ? t - 1 : 0) * H);
            lstmcl__arg_int(&k, T * H);
            lstmcl__arg_mem(&k, ws);
            lstmcl__arg_int(&k, dc0ff);
            arg_view(&k, rs, g0 + (t > 0 ? t - 1 : 0) * 4 * H, T * 4 * H);
            arg_cell(&k, rs, c0ff, &a->c0, t > 0 ? (long)t - 1 : 0, T, H);
            arg_cell(&k, rs, c0ff, &a->c0, (long)t - 2, T, H);
            lstmcl__arg_mem(&k, t > 0 ? ws : NULL);
            lstmcl__arg_int(&k, da0 + (t > 0 ? t - 1 : 0) * 4 * H);
            lstmcl__arg_int(&k, T * 4 * H);
            TRY(launch_fused(ctx, &k, "lstm_bwd_fused", H, N));
        }
    }
    if (a->dc0.mem) {
        lstmcl_tensor dc = {ws, dc0ff};
        TRY(copy_or_zero(ctx, a->dc0.mem, a->dc0.offset, &dc, d->e_nh));
    }

    /* all steps at once */
    if (a->dx.mem)
        TRY(lstmcl__gemm(ctx, 0, 1, d->nt, D, 4 * H, 1.0f, ws, da0, 4 * H, a->Wx.mem,
                         a->Wx.offset, 4 * H, 0.0f, a->dx.mem, a->dx.offset, D));
    if (a->dWx.mem)
        TRY(lstmcl__gemm(ctx, 1, 0, D, 4 * H, d->nt, 1.0f, a->x.mem, a->x.offset, D, ws, da0,
                         4 * H, beta, a->dWx.mem, a->dWx.offset, 4 * H));
    if (a->dWh.mem)
        TRY(lstmcl__gemm(ctx, 1, 0, H, 4 * H, d->nt, 1.0f, rs, hp0, H, ws, da0, 4 * H, beta,
                         a->dWh.mem, a->dWh.offset, 4 * H));
    if (a->db.mem) {
        lstmcl_argset k = {ctx->k_colsum, 0, CL_SUCCESS};
        lstmcl__arg_int(&k, d->nt);
        lstmcl__arg_int(&k, 4 * H);
        lstmcl__arg_mem(&k, ws);
        lstmcl__arg_int(&k, da0);
        lstmcl__arg_mem(&k, a->db.mem);
        lstmcl__arg_int(&k, a->db.offset);
        lstmcl__arg_int(&k, a->accumulate != 0);
        TRY(lstmcl__launch(ctx, &k, "lstm_colsum", 4 * H, 1));
    }
    lstmcl__clear_message(ctx);
    return LSTMCL_SUCCESS;
}
