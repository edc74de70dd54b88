/* Plans: the device-buffer API, and the order of GEMMs and kernels.
 *
 * Rows of every (N*T, ·) matrix are in the caller's order, batch-major (n, t)
 * or time-major (t, n), so x, h, dh and dx are used as they are; a reverse
 * plan walks the steps from t = T-1 down.  With per-sequence lengths the
 * rows are packed instead (sorted by length, step after step, only the
 * sequences still running: "geometry" below), and x, dh, dx and h pass
 * through a packed copy.  The forward runs one GEMM x·Wx for all
 * steps, then the recurrence step by step; the backward runs the recurrence
 * back, then dx, dWx, dWh and db for all steps at once.  Nothing here waits
 * for the device.
 *
 * The per-step work runs on one of three paths (lstmcl_path):
 *   gemm   per step a CLBlast GEMM (h_{t-1}·Wh, da_t·Whᵀ) and an elementwise
 *          kernel (cl/lstm.cl).  The GEMM runs on the caller's tensors when
 *          CLBlast can do that without padding or copying (its direct
 *          kernel); otherwise on staged, padded buffers laid out so that it
 *          runs in place (lstmcl_step_layout), chosen when the plan is made.
 *   fused  one kernel per step, a work-item per 16 units (cl/fused.cl): CPUs.
 *   tiled  one kernel per step, a work-group per tile (cl/tiled.cl): GPUs.
 *
 * Reserve (training forward → backward), in floats:
 *   [0, NT·4H)            activated gates, rows in the plan's order
 *   [NT·4H, NT·5H)        c_t, rows likewise
 *   [NT·5H, NT·6H)        h_{t-1}, rows likewise (h0 or zeros at the first step)
 * Workspace (one call), in floats:
 *   [0, NT·4H)            inference: a and gates; backward: da
 *   [NT·4H, NT·4H + NH)   inference: the running c; backward: dc
 *   [.., NT·4H + 2NH)     backward: the gradient reaching h_t from step t+1
 *   [ws_pack, ..)         fused and tiled paths: Wh packed for their kernels
 *   [ws_part, ..)         backward: db's column sums, parts of part_rows rows
 */
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
        d->e_g + 2 * d->e_nh > (size_t)INT_MAX)
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

static size_t round_up(size_t v, size_t m)
{
    return (v + m - 1) / m * m;
}

/* The index table of per-sequence lengths, in ints: the packed row of
 * (n, t) or -1 (N·T, from IX_UROW), of each sequence's last step (N), and
 * each sequence's rank by length (N). */
enum { IX_UROW = 0 };
static size_t ix_fin(const lstmcl_plan *p)
{
    return p->d.nt;
}
static size_t ix_rank(const lstmcl_plan *p)
{
    return p->d.nt + p->d.N;
}

/* db's column sums: at most 256 parts, a fixed function of the row count,
 * so that the sums are the same on every device. */
enum { COLSUM_PARTS = 256 };

void lstmcl__colsum_parts(size_t rows, size_t *parts, size_t *part_rows)
{
    *part_rows = (rows + COLSUM_PARTS - 1) / COLSUM_PARTS;
    *parts = (rows + *part_rows - 1) / *part_rows;
}

size_t lstmcl__plan_stage_bytes(const lstmcl_plan *plan, int which)
{
    const size_t rows[3] = {plan->Np, plan->Np, plan->Hp};
    const size_t cols[3] = {plan->Qp, plan->Hp, plan->Qp};
    return rows[which] * cols[which] * sizeof(float);
}

/* The GEMM path's per-step layout: on the caller's tensors when CLBlast
 * runs that GEMM without scratch (so without padding or copying), else the
 * smallest padding and orientation of staged buffers for which both
 * per-step GEMMs (forward and backward) run in place; if none does, the
 * caller's tensors (CLBlast then copies). */
static lstmcl_status choose_layout(lstmcl_plan *plan)
{
    static const size_t pads[] = {8, 16, 32, 64, 128, 256};
    lstmcl_context *ctx = plan->ctx;
    const lstmcl_dims *d = &plan->d;
    const size_t N = d->N, T = d->T, H = d->H;
    size_t fwd = 0, bwd = 0, i;
    lstmcl_status st;
    int o;

    plan->layout = LSTMCL_STEP_NATURAL;
    if (T == 1)
        return LSTMCL_SUCCESS; /* the only per-step product is dh0's */
    /* as the natural calls make it, at the second step: rows r0 (of step 0)
     * and r1 (of step 1), str apart, in the plan's layout and direction */
    {
        const int tm = plan->time_major, rev = plan->reverse;
        const size_t str = tm ? 1 : T, t0 = rev ? T - 1 : 0, t1 = rev ? T - 2 : 1;
        const size_t r0 = tm ? t0 * N : t0, r1 = tm ? t1 * N : t1;
        st = lstmcl__gemm_temp(ctx, 0, 0, 0, N, 4 * H, H, r0 * plan->h_ld, str * plan->h_ld, 0,
                               4 * H, r1 * 4 * H, str * 4 * H, &fwd);
        if (st == LSTMCL_SUCCESS)
            st = lstmcl__gemm_temp(ctx, 0, 0, 1, N, H, 4 * H, r1 * 4 * H, str * 4 * H, 0, 4 * H,
                                   d->e_g + d->e_nh, H, &bwd);
    }
    if (st != LSTMCL_SUCCESS || (fwd == 0 && bwd == 0))
        return st;
    for (i = 0; i < sizeof pads / sizeof pads[0]; i++) {
        const size_t Np = round_up(N, pads[i]), Hp = round_up(H, pads[i]);
        const size_t Qp = round_up(4 * H, pads[i]);
        if (Np * Qp > (size_t)INT_MAX || Hp * Qp > (size_t)INT_MAX)
            break;
        for (o = LSTMCL_STEP_ROWS; o <= LSTMCL_STEP_COLS; o++) {
            if (o == LSTMCL_STEP_ROWS) { /* row-major NN */
                st = lstmcl__gemm_temp(ctx, 0, 0, 0, Np, Qp, Hp, 0, Hp, 0, Qp, 0, Qp, &fwd);
                if (st == LSTMCL_SUCCESS)
                    st = lstmcl__gemm_temp(ctx, 0, 0, 0, Np, Hp, Qp, 0, Qp, 0, Hp, 0, Hp, &bwd);
            } else { /* column-major, B transposed: h and da stored (features, rows) */
                st = lstmcl__gemm_temp(ctx, 1, 0, 1, Qp, Np, Hp, 0, Qp, 0, Np, 0, Qp, &fwd);
                if (st == LSTMCL_SUCCESS)
                    st = lstmcl__gemm_temp(ctx, 1, 0, 1, Hp, Np, Qp, 0, Hp, 0, Np, 0, Hp, &bwd);
            }
            if (st != LSTMCL_SUCCESS)
                return st;
            if (fwd == 0 && bwd == 0) {
                plan->layout = (lstmcl_step_layout)o;
                plan->Np = Np, plan->Hp = Hp, plan->Qp = Qp;
                return LSTMCL_SUCCESS;
            }
        }
    }
    return LSTMCL_SUCCESS;
}

/* The tiled path's shape: TU units per group (the context's), R rows per
 * group, fewer when that leaves fewer than two groups per compute unit, and
 * KC columns staged at a time, within half the device's local memory. */
static void choose_tiles(lstmcl_plan *plan)
{
    const lstmcl_context *ctx = plan->ctx;
    const size_t N = plan->d.N, H = plan->d.H, tu = ctx->tile_units;
    const size_t tiles = (H + tu - 1) / tu;
    size_t R = 8, kc = 256;
    while (R > 1 && (N + R - 1) / R * tiles < 2 * (size_t)ctx->compute_units)
        R /= 2;
    if (R > N)
        R = N < 8 ? N : 8;
    if (kc > H)
        kc = H;
    /* the backward's staging is the larger: R·4·KC + R·4·TU floats */
    while (kc > 1 && (R * 4 * kc + R * 4 * tu) * sizeof(float) > ctx->local_mem / 2)
        kc /= 2;
    plan->tu = tu, plan->rows_per_group = R, plan->kc = kc;
}

/* Every buffer a plan makes or asks for fits the device's largest buffer,
 * lstmcl's index range, and, together, its memory. */
static lstmcl_status check_buffers(const lstmcl_plan *plan, const char *fn)
{
    lstmcl_context *ctx = plan->ctx;
    const lstmcl_dims *d = &plan->d;
    const struct {
        const char *what;
        size_t floats;
    } b[] = {{"the reserve", plan->reserve_floats},
             {"the workspace", plan->workspace_floats},
             {"a staged buffer", plan->layout ? plan->Np * plan->Qp : 0},
             {"a staged buffer", plan->layout ? plan->Hp * plan->Qp : 0}};
    cl_ulong total = 0;
    size_t i;

    for (i = 0; i < sizeof b / sizeof b[0]; i++) {
        if (b[i].floats > (size_t)INT_MAX)
            return lstmcl__fail(ctx, LSTMCL_ERROR_TOO_LARGE,
                                "%s: sizes N=%zu T=%zu D=%zu H=%zu make %s %zu floats long; "
                                "lstmcl's kernels index at most %d",
                                fn, d->N, d->T, d->D, d->H, b[i].what, b[i].floats, INT_MAX);
        if ((cl_ulong)b[i].floats * sizeof(float) > ctx->max_alloc)
            return lstmcl__fail(ctx, LSTMCL_ERROR_TOO_LARGE,
                                "%s: sizes N=%zu T=%zu D=%zu H=%zu make %s of %llu bytes; the "
                                "device's CL_DEVICE_MAX_MEM_ALLOC_SIZE is %llu bytes",
                                fn, d->N, d->T, d->D, d->H, b[i].what,
                                (unsigned long long)b[i].floats * sizeof(float),
                                (unsigned long long)ctx->max_alloc);
        total += b[i].floats;
    }
    /* with x, dx, h, dh and the weights and their gradients */
    total += 2 * (cl_ulong)d->e_x + 2 * (cl_ulong)d->e_h + 2 * (cl_ulong)d->e_wx +
             2 * (cl_ulong)d->e_wh + (plan->layout ? (cl_ulong)plan->Np * plan->Hp : 0);
    if (total * sizeof(float) > ctx->global_mem)
        return lstmcl__fail(ctx, LSTMCL_ERROR_TOO_LARGE,
                            "%s: sizes N=%zu T=%zu D=%zu H=%zu need about %llu bytes of device "
                            "memory for a training step; the device has %llu",
                            fn, d->N, d->T, d->D, d->H, (unsigned long long)total * sizeof(float),
                            (unsigned long long)ctx->global_mem);
    return LSTMCL_SUCCESS;
}

lstmcl_status lstmcl_plan_create(lstmcl_plan **out, lstmcl_context *ctx, size_t N, size_t T,
                                 size_t D, size_t H)
{
    LSTMCL_LOCKED(ctx);
    lstmcl_plan_desc desc;
    memset(&desc, 0, sizeof desc);
    desc.N = N, desc.T = T, desc.D = D, desc.H = H;
    return lstmcl_plan_create_ex(out, ctx, &desc);
}

lstmcl_status lstmcl_plan_create_ex(lstmcl_plan **out, lstmcl_context *ctx,
                                    const lstmcl_plan_desc *desc)
{
    LSTMCL_LOCKED(ctx);
    static const char fn[] = "lstmcl_plan_create";
    lstmcl_plan *plan;
    lstmcl_dims d;
    size_t pack = 0, N, T, D, H, x_ld, h_ld;
    lstmcl_status st;

    if (!ctx)
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    if (!out)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT, "%s: plan is NULL", fn);
    *out = NULL;
    if (!desc)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT, "%s: desc is NULL", fn);
    N = desc->N, T = desc->T, D = desc->D, H = desc->H;
    if (desc->layout != LSTMCL_BATCH_MAJOR && desc->layout != LSTMCL_TIME_MAJOR)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                            "%s: layout is %d; it must be LSTMCL_BATCH_MAJOR (0) or "
                            "LSTMCL_TIME_MAJOR (1)",
                            fn, (int)desc->layout);
    st = lstmcl__check_dims(ctx, fn, N, T, D, H, &d);
    if (st != LSTMCL_SUCCESS)
        return st;
    x_ld = desc->x_stride ? desc->x_stride : D;
    h_ld = desc->h_stride ? desc->h_stride : H;
    if (x_ld < D || h_ld < H)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                            "%s: %s is %zu, less than a row's %zu floats", fn,
                            x_ld < D ? "x_stride" : "h_stride", x_ld < D ? x_ld : h_ld,
                            x_ld < D ? D : H);
    if (x_ld > (size_t)INT_MAX / d.nt || h_ld > (size_t)INT_MAX / d.nt)
        return lstmcl__fail(ctx, LSTMCL_ERROR_TOO_LARGE,
                            "%s: N·T = %zu rows %zu floats apart exceed lstmcl's index range "
                            "(%d)",
                            fn, d.nt, x_ld > h_ld ? x_ld : h_ld, INT_MAX);
    plan = calloc(1, sizeof *plan);
    if (!plan)
        return lstmcl__fail(ctx, LSTMCL_ERROR_OUT_OF_HOST_MEMORY, "%s: no memory", fn);
    plan->ctx = ctx;
    plan->d = d;
    plan->path = ctx->path;
    plan->time_major = desc->layout == LSTMCL_TIME_MAJOR;
    plan->reverse = desc->reverse != 0;
    plan->x_ld = x_ld, plan->h_ld = h_ld;
    if (plan->path == LSTMCL_PATH_FUSED)
        pack = round_up(H, 16) * 4 * H; /* VW in cl/fused.cl */
    if (plan->path == LSTMCL_PATH_TILED) {
        choose_tiles(plan);
        pack = round_up(H, plan->tu) * 4 * H;
    }
    if (plan->path == LSTMCL_PATH_GEMM && (st = choose_layout(plan)) != LSTMCL_SUCCESS) {
        free(plan);
        return st;
    }
    /* room for the parts of any row count up to N·T (packed rows are fewer,
     * and fewer rows can make more parts) */
    lstmcl__colsum_parts(d.nt, &plan->parts, &plan->part_rows);
    plan->parts = d.nt < COLSUM_PARTS ? d.nt : COLSUM_PARTS;
    plan->ws_pack = d.e_g + 2 * d.e_nh;
    plan->ws_part = plan->ws_pack + pack;
    plan->workspace_floats = plan->ws_part + plan->parts * 4 * H;
    plan->reserve_floats = d.e_g + 2 * d.e_h;
    st = check_buffers(plan, fn);
    if (st != LSTMCL_SUCCESS) {
        free(plan);
        return st;
    }
    plan->next = ctx->plans;
    ctx->plans = plan;
    *out = plan;
    lstmcl__clear_message(ctx);
    return LSTMCL_SUCCESS;
}

lstmcl_status lstmcl_plan_set_lengths(lstmcl_plan *plan, const int *lengths)
{
    LSTMCL_LOCKED(plan ? plan->ctx : NULL);
    static const char fn[] = "lstmcl_plan_set_lengths";
    lstmcl_context *ctx;
    size_t N, T, n, r, s, t, longest = 0, total = 0, *order = NULL, *count, *cnt = NULL,
                             *boff = NULL;
    int *index = NULL;
    cl_int err;
    lstmcl_status st;

    if (!plan || !plan->ctx)
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    ctx = plan->ctx;
    N = plan->d.N, T = plan->d.T;
    if (lengths) {
        for (n = 0; n < N; n++) {
            if (lengths[n] < 1 || (size_t)lengths[n] > T)
                return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                                    "%s: lengths[%zu] is %d; each length must be 1..T (T = %zu)",
                                    fn, n, lengths[n], T);
            if ((size_t)lengths[n] > longest)
                longest = (size_t)lengths[n];
            total += (size_t)lengths[n];
        }
    }
    if (!lengths || total == plan->d.nt) { /* every sequence is T long: nothing to pack */
        plan->packed = 0;
        lstmcl__clear_message(ctx);
        return LSTMCL_SUCCESS;
    }
    order = malloc(N * sizeof *order);
    count = calloc(T + 1, sizeof *count);
    cnt = malloc(T * sizeof *cnt);
    boff = malloc(T * sizeof *boff);
    index = malloc((plan->d.nt + 2 * N) * sizeof *index);
    if (!order || !count || !cnt || !boff || !index) {
        st = lstmcl__fail(ctx, LSTMCL_ERROR_OUT_OF_HOST_MEMORY, "%s: no memory", fn);
        goto done;
    }
    /* rank by length, longest first, ties in batch order (a counting sort) */
    for (n = 0; n < N; n++)
        count[T - (size_t)lengths[n]]++;
    for (s = 0, r = 0; s <= T; s++) {
        const size_t c = count[s];
        count[s] = r;
        r += c;
    }
    for (n = 0; n < N; n++)
        order[count[T - (size_t)lengths[n]]++] = n;
    /* step s runs the sequences longer than s: the first cnt[s] by rank */
    for (s = 0, r = 0; s < T; s++) {
        size_t c = 0;
        for (n = 0; n < N; n++)
            c += (size_t)lengths[n] > s;
        cnt[s] = c, boff[s] = r;
        r += c;
    }
    for (r = 0; r < N; r++) {
        const size_t k = order[r], len = (size_t)lengths[k];
        index[ix_rank(plan) + k] = (int)r;
        index[ix_fin(plan) + k] = (int)(boff[len - 1] + r);
        for (t = 0; t < T; t++) {
            const size_t step = plan->reverse ? len - 1 - t : t;
            index[k * T + t] = t < len ? (int)(boff[step] + r) : -1;
        }
    }
    if (!plan->index) {
        plan->index_bytes = (plan->d.nt + 2 * N) * sizeof *index;
        st = lstmcl__buffer_get(ctx, plan->index_bytes, &plan->index);
        if (st != LSTMCL_SUCCESS)
            goto done;
    }
    err = LSTMCL_INJECT(CL_OUT_OF_RESOURCES,
                        clEnqueueWriteBuffer(ctx->queue, plan->index, CL_TRUE, 0,
                                             plan->index_bytes, index, 0, NULL, NULL));
    if (err != CL_SUCCESS) {
        st = lstmcl__fail_cl(ctx, err, "clEnqueueWriteBuffer (lengths)");
        clFinish(ctx->queue);
        plan->packed = 0; /* the table may be half written: run unpacked until set again */
        goto done;
    }
    free(plan->cnt);
    free(plan->boff);
    plan->cnt = cnt, plan->boff = boff, cnt = boff = NULL;
    plan->packed = 1, plan->S = longest, plan->P = total;
    st = LSTMCL_SUCCESS;
    lstmcl__clear_message(ctx);
done:
    free(order);
    free(count);
    free(cnt);
    free(boff);
    free(index);
    return st;
}

void lstmcl_plan_destroy(lstmcl_plan *plan)
{
    LSTMCL_LOCKED(plan ? plan->ctx : NULL);
    int i;
    if (!plan)
        return;
    if (plan->ctx) {
        lstmcl_plan **p = &plan->ctx->plans;
        while (*p && *p != plan)
            p = &(*p)->next;
        if (*p)
            *p = plan->next;
        lstmcl__buffer_put(plan->ctx, plan->own_workspace, plan->workspace_floats * sizeof(float));
        lstmcl__buffer_put(plan->ctx, plan->index, plan->index_bytes);
        lstmcl__buffer_put(plan->ctx, plan->pack_buf, plan->pack_floats * sizeof(float));
        for (i = 0; i < 3; i++)
            lstmcl__buffer_put(plan->ctx, plan->stage[i], lstmcl__plan_stage_bytes(plan, i));
    }
    /* a destroyed context has released the plan's buffers already */
    free(plan->cnt);
    free(plan->boff);
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
    if (plan->path != plan->ctx->path)
        return lstmcl__fail(plan->ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                            "%s: the plan was made for the %s path, the context now runs %s", fn,
                            lstmcl__path_name(plan->path), lstmcl__path_name(plan->ctx->path));
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

/* The staged buffers of the GEMM path, at first use. */
static lstmcl_status stages(lstmcl_plan *plan)
{
    int i;
    lstmcl_status st;
    for (i = 0; i < 3; i++)
        if (!plan->stage[i] &&
            (st = lstmcl__buffer_get(plan->ctx, lstmcl__plan_stage_bytes(plan, i),
                                     &plan->stage[i])) != LSTMCL_SUCCESS)
            return st;
    return LSTMCL_SUCCESS;
}

/* ------------------------------------------------------------ launching */

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

static lstmcl_status zero(lstmcl_context *ctx, cl_mem dst, size_t bytes)
{
    lstmcl_tensor none = {NULL, 0};
    return copy_or_zero(ctx, dst, 0, &none, bytes / sizeof(float));
}

/* dst(r, k) = src(r, k), strided views; src NULL: zeros. */
static lstmcl_status copy_view(lstmcl_context *ctx, size_t rows, size_t cols, cl_mem src,
                               size_t s_off, size_t s_rs, size_t s_cs, cl_mem dst, size_t d_off,
                               size_t d_rs, size_t d_cs)
{
    return LSTMCL_RUN(ctx, lstm_copy_view, lstmcl__items(cols, rows), .rows = rows, .cols = cols,
                      .src = src, .s_off = s_off, .s_rs = s_rs, .s_cs = s_cs, .dst = dst,
                      .d_off = d_off, .d_rs = d_rs, .d_cs = d_cs);
}

/* Loop iterations one work-item of a fused kernel may run, in all.  A
 * work-item's work must not grow with the batch: Mesa's llvmpipe (rusticl's
 * CPU device) ends every loop of an invocation, silently, once its loops
 * have run 65535 iterations together (LP_MAX_TGSI_LOOP_ITERATIONS), and GPU
 * drivers kill kernels that run too long.  docs/portability.md. */
#define FUSED_ITEM_ITERATIONS 32768

/* The fused kernels: a work-item per 16 hidden units (VW in cl/fused.cl).
 * On a CPU each walks a share of the batch rows, 4 (RB) at a time, in
 * work-groups of one item spread over the cores, so that its slice of the
 * weights stays in cache: as many blocks of rows as keep its loops within
 * FUSED_ITEM_ITERATIONS, half llvmpipe's limit, at 2H + 128 iterations a
 * block (the backward's; measured on llvmpipe: H + 40 for the forward).
 * Elsewhere each work-item takes one block. */
static lstmcl_range fused_range(const lstmcl_context *ctx, size_t H, size_t N)
{
    const size_t blocks = (N + 3) / 4;
    size_t per = FUSED_ITEM_ITERATIONS / (2 * H + 128);
    lstmcl_range r = {ctx->cpu ? LSTMCL_RANGE_SINGLE : LSTMCL_RANGE_ITEMS, (H + 15) / 16, blocks,
                      0};
    if (per < 1)
        per = 1;
    if (ctx->cpu)
        r.rows = (blocks + per - 1) / per;
    return r;
}

/* The elementwise step kernels of the GEMM path on a CPU (lstm_*_step_vec):
 * a work-item per 16 hidden units and a share of the rows, in work-groups of
 * one item, at least 64 of them where there are rows enough. */
static lstmcl_range step_range(size_t H, size_t N)
{
    const size_t cols = (H + 15) / 16, rows = (64 + cols - 1) / cols;
    lstmcl_range r = {LSTMCL_RANGE_SINGLE, cols, rows < N ? rows : N, 0};
    return r;
}

/* The tiled kernels: a group of 4·TU work-items per tile and R rows. */
static lstmcl_range tiled_range(const lstmcl_plan *plan, size_t rows)
{
    lstmcl_range r = {LSTMCL_RANGE_GROUPS, (plan->d.H + plan->tu - 1) / plan->tu,
                      (rows + plan->rows_per_group - 1) / plan->rows_per_group,
                      4 * plan->tu};
    return r;
}

/* Wh packed into the workspace for the fused or tiled kernels. */
static lstmcl_status pack(const lstmcl_plan *plan, int backward, const lstmcl_tensor *W,
                          cl_mem ws)
{
    lstmcl_context *ctx = plan->ctx;
    const size_t H = plan->d.H, tu = plan->tu, tiles = (H + tu - 1) / (tu ? tu : 1);
    if (plan->path == LSTMCL_PATH_FUSED && !backward)
        return LSTMCL_RUN(ctx, lstm_pack_fwd, lstmcl__items(round_up(H, 16), H), .H = H,
                          .W = W->mem, .w_off = W->offset, .P = ws, .p_off = plan->ws_pack);
    if (plan->path == LSTMCL_PATH_FUSED)
        return LSTMCL_RUN(ctx, lstm_pack_bwd, lstmcl__items(round_up(H, 16), 4 * H), .H = H,
                          .W = W->mem, .w_off = W->offset, .P = ws, .p_off = plan->ws_pack);
    if (!backward)
        return LSTMCL_RUN(ctx, lstm_pack_tiled_fwd, lstmcl__items(tiles * 4 * tu, H), .H = H,
                          .TU = tu, .W = W->mem, .w_off = W->offset, .P = ws,
                          .p_off = plan->ws_pack);
    return LSTMCL_RUN(ctx, lstm_pack_tiled_bwd, lstmcl__items(tiles * tu, 4 * H), .H = H,
                      .TU = tu, .W = W->mem, .w_off = W->offset, .P = ws, .p_off = plan->ws_pack);
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

/* A matrix view: buffer, offset, leading dimension (floats). */
typedef struct {
    cl_mem m;
    size_t off, ld;
} view;

/* ------------------------------------------------------------- geometry
 *
 * Every (rows, ·) matrix of a call (x, h, dh, dx as the kernels see them,
 * the gates, c and h_{t-1} in the reserve, da in the workspace) has its
 * rows in one order.  Without lengths that is the caller's: step s (time
 * t = s, or T-1-s in reverse) has its N rows from row row0(s), stride()
 * apart.  With lengths they are packed: step s has cnt[s] rows, the
 * sequences still running sorted by length, from row boff[s] on. */

static size_t steps(const lstmcl_plan *p)
{
    return p->packed ? p->S : p->d.T;
}

static size_t total_rows(const lstmcl_plan *p)
{
    return p->packed ? p->P : p->d.nt;
}

static size_t step_rows(const lstmcl_plan *p, size_t s)
{
    return p->packed ? p->cnt[s] : p->d.N;
}

static size_t step_row0(const lstmcl_plan *p, size_t s)
{
    size_t t;
    if (p->packed)
        return p->boff[s];
    t = p->reverse ? p->d.T - 1 - s : s;
    return p->time_major ? t * p->d.N : t;
}

static size_t stride(const lstmcl_plan *p)
{
    return p->packed || p->time_major ? 1 : p->d.T;
}

/* Rows of step s of a matrix at (m, off) whose rows are w floats apart. */
static view at_step(const lstmcl_plan *p, cl_mem m, size_t off, size_t w, size_t s)
{
    view v;
    v.m = m;
    v.off = off + step_row0(p, s) * w;
    v.ld = stride(p) * w;
    return v;
}

/* The cell state after step s as kept in the reserve (c_off), or for
 * s = -1 the initial state c0 (m NULL: zeros). */
static view cell_state(const lstmcl_plan *p, cl_mem rs, size_t c_off, view c0, long s)
{
    if (s >= 0)
        return at_step(p, rs, c_off, p->d.H, (size_t)s);
    return c0;
}

/* The packing scratch, in floats: x (NT·D), h or dh (NT·H), then sorted
 * h0, c0 and dh0 (N·H each). */
static size_t pk_h(const lstmcl_plan *p)
{
    return p->d.e_x;
}
static size_t pk_h0(const lstmcl_plan *p)
{
    return p->d.e_x + p->d.e_h;
}
static size_t pk_c0(const lstmcl_plan *p)
{
    return pk_h0(p) + p->d.e_nh;
}
static size_t pk_dh0(const lstmcl_plan *p)
{
    return pk_c0(p) + p->d.e_nh;
}

/* How map_rows addresses the caller's tensor. */
typedef struct {
    cl_mem m;
    size_t off;
    size_t tq, sn, st; /* row u is (u / tq, u % tq) at off + n·sn + t·st */
} user_rows;

/* A caller's (N,T,·) or (T,N,·) tensor with rows ld floats apart, by (n, t). */
static user_rows seq_rows(const lstmcl_plan *p, const lstmcl_tensor *t, size_t ld)
{
    user_rows u;
    u.m = t->mem, u.off = t->offset, u.tq = p->d.T;
    u.sn = p->time_major ? ld : p->d.T * ld;
    u.st = p->time_major ? p->d.N * ld : ld;
    return u;
}

/* A caller's (N,H) state, by n. */
static user_rows state_rows(const lstmcl_tensor *t, size_t H)
{
    user_rows u;
    u.m = t->mem, u.off = t->offset, u.tq = 1, u.sn = H, u.st = 0;
    return u;
}

/* lstm_map_rows over rows u of U, through the index table from i_off. */
static lstmcl_status map_rows(const lstmcl_plan *p, int mode, size_t rows, size_t cols,
                              size_t i_off, user_rows u, cl_mem q, size_t q_off, size_t q_ld)
{
    return LSTMCL_RUN(p->ctx, lstm_map_rows, lstmcl__items(cols, rows), .rows = rows,
                      .cols = cols, .mode = mode, .idx = p->index, .i_off = i_off, .U = u.m,
                      .u_off = u.off, .tq = u.tq, .u_sn = u.sn, .u_st = u.st, .Q = q,
                      .q_off = q_off, .q_ld = q_ld);
}

/* The packing scratch, at first use with lengths. */
static lstmcl_status pack_scratch(lstmcl_plan *p)
{
    if (p->pack_buf)
        return LSTMCL_SUCCESS;
    p->pack_floats = pk_dh0(p) + p->d.e_nh;
    return lstmcl__buffer_get(p->ctx, p->pack_floats * sizeof(float), &p->pack_buf);
}

/* -------------------------------------------------------------- forward */

/* What step s of a forward reads and writes. */
typedef struct {
    view hp;      /* h_{t-1}; m NULL: zeros */
    view gates;   /* a_t (x·Wx so far), activated in place when training */
    view c_in, c_out, h_out;
    view hp_copy; /* training: h_{t-1} into the reserve */
    lstmcl_tensor h_last, c_last;
} fwd_step;

/* Elements a tensor of NT rows `ld` apart, `w` wide, spans. */
static size_t span(size_t rows, size_t ld, size_t w)
{
    return (rows - 1) * ld + w;
}

lstmcl_status lstmcl_plan_forward(lstmcl_plan *plan, const lstmcl_forward_args *a)
{
    LSTMCL_LOCKED(plan ? plan->ctx : NULL);
    static const char fn[] = "lstmcl_plan_forward";
    lstmcl_context *ctx;
    const lstmcl_dims *d;
    size_t N, D, H, S, s;
    int train, staged;
    cl_mem ws = NULL, gm;
    size_t g0 = 0, c0ff; /* offsets of the gates and c areas */
    view xv, hv, h0v, c0v;
    lstmcl_status st;

    st = check_plan(plan, fn, a);
    if (st != LSTMCL_SUCCESS)
        return st;
    ctx = plan->ctx;
    d = &plan->d;
    N = d->N, D = d->D, H = d->H, S = steps(plan);
    train = a->reserve != NULL;

    if ((st = lstmcl__check_tensor(ctx, fn, "x", &a->x, span(d->nt, plan->x_ld, D), 1)) ||
        (st = lstmcl__check_tensor(ctx, fn, "h0", &a->h0, d->e_nh, 0)) ||
        (st = lstmcl__check_tensor(ctx, fn, "c0", &a->c0, d->e_nh, 0)) ||
        (st = lstmcl__check_tensor(ctx, fn, "Wx", &a->Wx, d->e_wx, 1)) ||
        (st = lstmcl__check_tensor(ctx, fn, "Wh", &a->Wh, d->e_wh, 1)) ||
        (st = lstmcl__check_tensor(ctx, fn, "b", &a->b, 4 * H, 1)) ||
        (st = lstmcl__check_tensor(ctx, fn, "h", &a->h, span(d->nt, plan->h_ld, H), 1)) ||
        (st = lstmcl__check_tensor(ctx, fn, "hT", &a->hT, d->e_nh, 0)) ||
        (st = lstmcl__check_tensor(ctx, fn, "cT", &a->cT, d->e_nh, 0)))
        return st;
    if (train && (st = check_scratch(ctx, fn, "reserve", a->reserve, plan->reserve_floats)))
        return st;
    /* a training forward on the GEMM path needs no workspace: the reserve is enough */
    if (!train || plan->path != LSTMCL_PATH_GEMM || a->workspace) {
        if (a->workspace &&
            (st = check_scratch(ctx, fn, "workspace", a->workspace, plan->workspace_floats)))
            return st;
        if ((st = workspace(plan, a->workspace, &ws)) != LSTMCL_SUCCESS)
            return st;
    }
    staged = plan->path == LSTMCL_PATH_GEMM && plan->layout && (S > 1 || a->h0.mem);
    if (staged && (st = stages(plan)) != LSTMCL_SUCCESS)
        return st;
    if (plan->packed && (st = pack_scratch(plan)) != LSTMCL_SUCCESS)
        return st;
    gm = train ? a->reserve : ws;
    c0ff = d->e_g;

    xv.m = a->x.mem, xv.off = a->x.offset, xv.ld = plan->x_ld;
    hv.m = a->h.mem, hv.off = a->h.offset, hv.ld = plan->h_ld;
    h0v.m = a->h0.mem, h0v.off = a->h0.offset, h0v.ld = H;
    c0v.m = a->c0.mem, c0v.off = a->c0.offset, c0v.ld = H;
    if (plan->packed) { /* x, h0 and c0 sorted and packed; h packed until the end */
        cl_mem pb = plan->pack_buf;
        TRY(map_rows(plan, 0, d->nt, D, IX_UROW, seq_rows(plan, &a->x, plan->x_ld), pb, 0, D));
        xv.m = pb, xv.off = 0, xv.ld = D;
        hv.m = pb, hv.off = pk_h(plan), hv.ld = H;
        if (a->h0.mem) {
            TRY(map_rows(plan, 0, N, H, ix_rank(plan), state_rows(&a->h0, H), pb, pk_h0(plan),
                         H));
            h0v.m = pb, h0v.off = pk_h0(plan);
        }
        if (a->c0.mem) {
            TRY(map_rows(plan, 0, N, H, ix_rank(plan), state_rows(&a->c0, H), pb, pk_c0(plan),
                         H));
            c0v.m = pb, c0v.off = pk_c0(plan);
        }
    }

    /* a = x·Wx for every step at once */
    TRY(lstmcl__gemm(ctx, 0, 0, total_rows(plan), 4 * H, D, 1.0f, xv.m, xv.off, xv.ld,
                     a->Wx.mem, a->Wx.offset, 4 * H, 0.0f, gm, g0, 4 * H));
    if (plan->path != LSTMCL_PATH_GEMM)
        TRY(pack(plan, 0, &a->Wh, ws));
    if (staged) {
        /* Wh into a zero-padded (Hp, Qp) copy; h0 (or zeros) into the h stage */
        const int cols = plan->layout == LSTMCL_STEP_COLS;
        TRY(zero(ctx, plan->stage[1], lstmcl__plan_stage_bytes(plan, 1)));
        TRY(zero(ctx, plan->stage[2], lstmcl__plan_stage_bytes(plan, 2)));
        TRY(copy_view(ctx, H, 4 * H, a->Wh.mem, a->Wh.offset, 4 * H, 1, plan->stage[2], 0,
                      plan->Qp, 1));
        if (h0v.m)
            TRY(copy_view(ctx, N, H, h0v.m, h0v.off, H, 1, plan->stage[1], 0,
                          cols ? 1 : plan->Hp, cols ? plan->Np : 1));
    }

    for (s = 0; s < S; s++) {
        fwd_step q;
        const int last = s + 1 == S;
        const size_t n = step_rows(plan, s);
        memset(&q, 0, sizeof q);
        q.hp = s > 0 ? at_step(plan, hv.m, hv.off, hv.ld, s - 1) : h0v;
        q.gates = at_step(plan, gm, g0, 4 * H, s);
        if (train) { /* c_t of every step is kept */
            q.c_in = cell_state(plan, gm, c0ff, c0v, (long)s - 1);
            q.c_out = cell_state(plan, gm, c0ff, c0v, (long)s);
            q.hp_copy = at_step(plan, gm, d->e_g + d->e_h, H, s);
        } else { /* one running c, updated in place */
            if (s > 0)
                q.c_in.m = ws, q.c_in.off = c0ff, q.c_in.ld = H;
            else
                q.c_in = c0v;
            q.c_out.m = ws, q.c_out.off = c0ff, q.c_out.ld = H;
        }
        q.h_out = at_step(plan, hv.m, hv.off, hv.ld, s);
        if (last && !plan->packed)
            q.h_last = a->hT, q.c_last = a->cT;

        if (plan->path == LSTMCL_PATH_FUSED) {
            TRY(LSTMCL_RUN(ctx, lstm_fwd_fused, fused_range(ctx, H, n), .N = n, .H = H,
                           .h_prev = q.hp.m, .hp_off = q.hp.off, .hp_ld = q.hp.ld, .P = ws,
                           .p_off = plan->ws_pack, .gates = gm, .g_off = q.gates.off,
                           .g_ld = q.gates.ld, .store_gates = train, .b = a->b.mem,
                           .b_off = a->b.offset, .c_in = q.c_in.m, .ci_off = q.c_in.off,
                           .ci_ld = q.c_in.ld, .c_out = q.c_out.m, .co_off = q.c_out.off,
                           .co_ld = q.c_out.ld, .h_out = q.h_out.m, .h_off = q.h_out.off,
                           .h_ld = q.h_out.ld, .hp_copy = q.hp_copy.m, .hc_off = q.hp_copy.off,
                           .hc_ld = q.hp_copy.ld, .h_last = q.h_last.mem,
                           .hl_off = q.h_last.offset, .c_last = q.c_last.mem,
                           .cl_off = q.c_last.offset));
        } else if (plan->path == LSTMCL_PATH_TILED) {
            const size_t R = plan->rows_per_group, KC = plan->kc, TU = plan->tu;
            TRY(LSTMCL_RUN(ctx, lstm_fwd_tiled, tiled_range(plan, n), .N = n, .H = H, .TU = TU,
                           .R = R, .KC = KC, .h_prev = q.hp.m, .hp_off = q.hp.off,
                           .hp_ld = q.hp.ld, .P = ws, .p_off = plan->ws_pack, .gates = gm,
                           .g_off = q.gates.off, .g_ld = q.gates.ld, .store_gates = train,
                           .b = a->b.mem, .b_off = a->b.offset, .c_in = q.c_in.m,
                           .ci_off = q.c_in.off, .ci_ld = q.c_in.ld, .c_out = q.c_out.m,
                           .co_off = q.c_out.off, .co_ld = q.c_out.ld, .h_out = q.h_out.m,
                           .h_off = q.h_out.off, .h_ld = q.h_out.ld, .hp_copy = q.hp_copy.m,
                           .hc_off = q.hp_copy.off, .hc_ld = q.hp_copy.ld,
                           .h_last = q.h_last.mem, .hl_off = q.h_last.offset,
                           .c_last = q.c_last.mem, .cl_off = q.c_last.offset,
                           .hl = R * KC * sizeof(float), .acc = R * 4 * TU * sizeof(float)));
        } else {
            view rec = {NULL, 0, 0}, stage = {NULL, 0, 0};
            size_t cs = 0;
            if (staged) {
                const int cols = plan->layout == LSTMCL_STEP_COLS;
                if (q.hp.m) { /* Gs (Np, Qp) = Hs · Wp, all in place */
                    if (cols)
                        TRY(lstmcl__gemm_ex(ctx, 1, 0, 1, plan->Qp, plan->Np, plan->Hp, 1.0f,
                                            plan->stage[2], 0, plan->Qp, plan->stage[1], 0,
                                            plan->Np, 0.0f, plan->stage[0], 0, plan->Qp));
                    else
                        TRY(lstmcl__gemm_ex(ctx, 0, 0, 0, plan->Np, plan->Qp, plan->Hp, 1.0f,
                                            plan->stage[1], 0, plan->Hp, plan->stage[2], 0,
                                            plan->Qp, 0.0f, plan->stage[0], 0, plan->Qp));
                    rec.m = plan->stage[0], rec.ld = plan->Qp;
                }
                if (!last) { /* h_t into the stage, for the next step's product */
                    stage.m = plan->stage[1];
                    stage.ld = cols ? 1 : plan->Hp;
                    cs = cols ? plan->Np : 1;
                }
            } else if (q.hp.m) { /* a_t += h_{t-1}·Wh, in place in the gates of step t */
                TRY(lstmcl__gemm(ctx, 0, 0, n, 4 * H, H, 1.0f, q.hp.m, q.hp.off, q.hp.ld,
                                 a->Wh.mem, a->Wh.offset, 4 * H, 1.0f, gm, q.gates.off,
                                 q.gates.ld));
            }
            /* the same arguments for both kernels */
#define FWD_STEP_ARGS                                                                          \
    .N = n, .H = H, .gates = gm, .g_off = q.gates.off, .g_ld = q.gates.ld, .store_gates = train, \
    .rec = rec.m, .rec_off = rec.off, .rec_ld = rec.ld, .b = a->b.mem, .b_off = a->b.offset,   \
    .c_in = q.c_in.m, .ci_off = q.c_in.off, .ci_ld = q.c_in.ld, .c_out = q.c_out.m,            \
    .co_off = q.c_out.off, .co_ld = q.c_out.ld, .h_out = q.h_out.m, .h_off = q.h_out.off,      \
    .h_ld = q.h_out.ld, .h_prev = q.hp.m, .hp_off = q.hp.off, .hp_ld = q.hp.ld,                \
    .hp_copy = q.hp_copy.m, .hc_off = q.hp_copy.off, .hc_ld = q.hp_copy.ld,                    \
    .h_stage = stage.m, .hs_off = 0, .hs_rs = stage.ld, .hs_cs = cs, .h_last = q.h_last.mem,   \
    .hl_off = q.h_last.offset, .c_last = q.c_last.mem, .cl_off = q.c_last.offset
            if (ctx->cpu)
                TRY(LSTMCL_RUN(ctx, lstm_fwd_step_vec, step_range(H, n), FWD_STEP_ARGS));
            else
                TRY(LSTMCL_RUN(ctx, lstm_fwd_step, lstmcl__items(H, n), FWD_STEP_ARGS));
#undef FWD_STEP_ARGS
        }
    }
    if (plan->packed) { /* h unpacked (zeros past each end), each sequence's last states */
        TRY(map_rows(plan, 1, d->nt, H, IX_UROW, seq_rows(plan, &a->h, plan->h_ld), hv.m,
                     hv.off, H));
        if (a->hT.mem)
            TRY(map_rows(plan, 1, N, H, ix_fin(plan), state_rows(&a->hT, H), hv.m, hv.off, H));
        if (a->cT.mem && train)
            TRY(map_rows(plan, 1, N, H, ix_fin(plan), state_rows(&a->cT, H), gm, c0ff, H));
        else if (a->cT.mem) /* the running c holds each sequence's last */
            TRY(map_rows(plan, 1, N, H, ix_rank(plan), state_rows(&a->cT, H), ws, c0ff, H));
    }
    lstmcl__clear_message(ctx);
    return LSTMCL_SUCCESS;
}

/* ------------------------------------------------------------- backward */

/* What the recurrence back reads: dh (the caller's, or packed), c0 (the
 * caller's, or sorted) and where dh0 goes (the caller's, or sorted). */
typedef struct {
    view dh, c0, dh0;
} bwd_views;

/* Step s's cell math by the elementwise kernel: dh_rec the gradient reaching
 * h_t from step s+1, dc in the workspace, gates and c in the reserve, da into
 * the workspace (and into a stage of the GEMM path when stage.m is set). */
static lstmcl_status bwd_step(const lstmcl_plan *plan, const lstmcl_backward_args *a,
                              const bwd_views *v, size_t s, cl_mem ws, view dh_rec, view stage,
                              size_t stage_cs)
{
    lstmcl_context *ctx = plan->ctx;
    const lstmcl_dims *d = &plan->d;
    const size_t H = d->H, n = step_rows(plan, s);
    const view c = cell_state(plan, a->reserve, d->e_g, v->c0, (long)s);
    const view cp = cell_state(plan, a->reserve, d->e_g, v->c0, (long)s - 1);
    const view dh = at_step(plan, v->dh.m, v->dh.off, v->dh.ld, s);
    const view g = at_step(plan, a->reserve, 0, 4 * H, s);
    const view da = at_step(plan, ws, 0, 4 * H, s);
    /* the same arguments for both kernels */
#define BWD_STEP_ARGS                                                                          \
    .N = n, .H = H, .dh = dh.m, .dh_off = dh.off, .dh_ld = dh.ld, .dh_rec = dh_rec.m,          \
    .dr_off = dh_rec.off, .dr_ld = dh_rec.ld, .dc = ws, .dc_off = d->e_g, .gates = g.m,        \
    .g_off = g.off, .g_ld = g.ld, .c = c.m, .c_off = c.off, .c_ld = c.ld, .c_prev = cp.m,      \
    .cp_off = cp.off, .cp_ld = cp.ld, .da = da.m, .da_off = da.off, .da_ld = da.ld,            \
    .da_stage = stage.m, .ds_off = 0, .ds_rs = stage.ld, .ds_cs = stage_cs
    if (ctx->cpu)
        return LSTMCL_RUN(ctx, lstm_bwd_step_vec, step_range(H, n), BWD_STEP_ARGS);
    return LSTMCL_RUN(ctx, lstm_bwd_step, lstmcl__items(H, n), BWD_STEP_ARGS);
#undef BWD_STEP_ARGS
}

/* Across the boundary from step s to s-1 with one fused or tiled kernel:
 * da_s·Whᵀ, then step s-1's cell math (at s = 0: dh0). */
static lstmcl_status bwd_cross(const lstmcl_plan *plan, const lstmcl_backward_args *a,
                               const bwd_views *v, size_t s, cl_mem ws)
{
    lstmcl_context *ctx = plan->ctx;
    const lstmcl_dims *d = &plan->d;
    const size_t H = d->H, p = s > 0 ? s - 1 : 0;
    const size_t n = step_rows(plan, p), n_rec = step_rows(plan, s);
    const view c = cell_state(plan, a->reserve, d->e_g, v->c0, (long)p);
    const view cp = cell_state(plan, a->reserve, d->e_g, v->c0, (long)s - 2);
    const view dt = at_step(plan, ws, 0, 4 * H, s);
    const view dh = at_step(plan, v->dh.m, v->dh.off, v->dh.ld, p);
    const view g = at_step(plan, a->reserve, 0, 4 * H, p);
    const view da = at_step(plan, ws, 0, 4 * H, p);
    cl_mem out = s > 0 ? NULL : v->dh0.m, da_out = s > 0 ? ws : NULL;
    const size_t out_off = s > 0 ? 0 : v->dh0.off;

    if (plan->path == LSTMCL_PATH_FUSED)
        return LSTMCL_RUN(ctx, lstm_bwd_fused, fused_range(ctx, H, n), .N = n, .H = H,
                          .n_rec = n_rec, .da_t = ws, .dt_off = dt.off, .dt_ld = dt.ld, .P = ws,
                          .p_off = plan->ws_pack, .out = out, .out_off = out_off, .dh = dh.m,
                          .dh_off = dh.off, .dh_ld = dh.ld, .dc = ws, .dc_off = d->e_g,
                          .gates = g.m, .g_off = g.off, .g_ld = g.ld, .c = c.m, .c_off = c.off,
                          .c_ld = c.ld, .c_prev = cp.m, .cp_off = cp.off, .cp_ld = cp.ld,
                          .da_out = da_out, .da_off = da.off, .da_ld = da.ld);
    return LSTMCL_RUN(ctx, lstm_bwd_tiled, tiled_range(plan, n), .N = n, .H = H,
                      .n_rec = n_rec, .TU = plan->tu, .R = plan->rows_per_group, .KC = plan->kc,
                      .da_t = ws, .dt_off = dt.off, .dt_ld = dt.ld, .P = ws,
                      .p_off = plan->ws_pack, .out = out, .out_off = out_off, .dh = dh.m,
                      .dh_off = dh.off, .dh_ld = dh.ld, .dc = ws, .dc_off = d->e_g,
                      .gates = g.m, .g_off = g.off, .g_ld = g.ld, .c = c.m, .c_off = c.off,
                      .c_ld = c.ld, .c_prev = cp.m, .cp_off = cp.off, .cp_ld = cp.ld,
                      .da_out = da_out, .da_off = da.off, .da_ld = da.ld,
                      .dl = plan->rows_per_group * 4 * plan->kc * sizeof(float),
                      .red = plan->rows_per_group * 4 * plan->tu * sizeof(float));
}

/* The recurrence back on the GEMM path: per step the elementwise kernel,
 * then the gradient reaching h_{t-1}, da_t·Whᵀ (at the first step that is
 * dh0).  With lengths a row that starts at step s-1 has no da_s: its
 * gradient from later steps stays the zero it was set to. */
static lstmcl_status bwd_gemm(lstmcl_plan *plan, const lstmcl_backward_args *a,
                              const bwd_views *v, cl_mem ws)
{
    lstmcl_context *ctx = plan->ctx;
    const lstmcl_dims *d = &plan->d;
    const size_t N = d->N, S = steps(plan), H = d->H;
    const view dr = {ws, d->e_g + d->e_nh, H}; /* dhT, or zeros */
    const int staged = plan->layout && (S > 1 || v->dh0.m);
    const int cols = plan->layout == LSTMCL_STEP_COLS;
    lstmcl_status st;
    size_t s;

    if (!staged) {
        for (s = S; s-- > 0;) {
            const view none = {NULL, 0, 0}, da = at_step(plan, ws, 0, 4 * H, s);
            TRY(bwd_step(plan, a, v, s, ws, dr, none, 0));
            if (s > 0)
                TRY(lstmcl__gemm(ctx, 0, 1, step_rows(plan, s), H, 4 * H, 1.0f, ws, da.off,
                                 da.ld, a->Wh.mem, a->Wh.offset, 4 * H, 0.0f, ws, dr.off, H));
            else if (v->dh0.m)
                TRY(lstmcl__gemm(ctx, 0, 1, N, H, 4 * H, 1.0f, ws, da.off, da.ld, a->Wh.mem,
                                 a->Wh.offset, 4 * H, 0.0f, v->dh0.m, v->dh0.off, H));
        }
        return LSTMCL_SUCCESS;
    }
    /* staged: Whᵀ into a zero-padded (Qp, Hp) copy, da_t into a zero-padded
     * stage, the product into Rs (Np, Hp), all in place */
    TRY(stages(plan));
    TRY(zero(ctx, plan->stage[0], lstmcl__plan_stage_bytes(plan, 0)));
    TRY(zero(ctx, plan->stage[2], lstmcl__plan_stage_bytes(plan, 2)));
    TRY(copy_view(ctx, 4 * H, H, a->Wh.mem, a->Wh.offset, 1, 4 * H, plan->stage[2], 0, plan->Hp,
                  1));
    for (s = S; s-- > 0;) {
        const view das = {plan->stage[0], 0, cols ? 1 : plan->Qp};
        const view rs = {plan->stage[1], 0, plan->Hp};
        TRY(bwd_step(plan, a, v, s, ws, s + 1 == S ? dr : rs, das, cols ? plan->Np : 1));
        if (s == 0 && !v->dh0.m)
            break;
        if (cols)
            TRY(lstmcl__gemm_ex(ctx, 1, 0, 1, plan->Hp, plan->Np, plan->Qp, 1.0f, plan->stage[2],
                                0, plan->Hp, plan->stage[0], 0, plan->Np, 0.0f, plan->stage[1],
                                0, plan->Hp));
        else
            TRY(lstmcl__gemm_ex(ctx, 0, 0, 0, plan->Np, plan->Hp, plan->Qp, 1.0f, plan->stage[0],
                                0, plan->Qp, plan->stage[2], 0, plan->Hp, 0.0f, plan->stage[1],
                                0, plan->Hp));
        if (s == 0)
            TRY(copy_view(ctx, N, H, plan->stage[1], 0, plan->Hp, 1, v->dh0.m, v->dh0.off, H,
                          1));
    }
    return LSTMCL_SUCCESS;
}

lstmcl_status lstmcl__colsum(lstmcl_context *ctx, size_t rows, size_t cols, cl_mem m,
                             size_t m_off, cl_mem out, size_t out_off, int accumulate,
                             cl_mem part, size_t part_off)
{
    size_t parts, chunk;
    lstmcl_status st;
    lstmcl__colsum_parts(rows, &parts, &chunk);
    st = LSTMCL_RUN(ctx, lstm_colsum_part, lstmcl__items(cols, parts), .rows = rows,
                    .cols = cols, .chunk = chunk, .m = m, .m_off = m_off, .part = part,
                    .part_off = part_off);
    if (st == LSTMCL_SUCCESS)
        st = LSTMCL_RUN(ctx, lstm_colsum_final, lstmcl__items(cols, 1), .parts = parts,
                        .cols = cols, .part = part, .part_off = part_off, .out = out,
                        .out_off = out_off, .accumulate = accumulate != 0);
    return st;
}

lstmcl_status lstmcl_plan_backward(lstmcl_plan *plan, const lstmcl_backward_args *a)
{
    LSTMCL_LOCKED(plan ? plan->ctx : NULL);
    static const char fn[] = "lstmcl_plan_backward";
    lstmcl_context *ctx;
    const lstmcl_dims *d;
    size_t N, D, H, S, rows, s;
    cl_mem ws = NULL, rs;
    const float beta = a && a->accumulate ? 1.0f : 0.0f;
    bwd_views v;
    view xv;
    lstmcl_status st;

    st = check_plan(plan, fn, a);
    if (st != LSTMCL_SUCCESS)
        return st;
    ctx = plan->ctx;
    d = &plan->d;
    N = d->N, D = d->D, H = d->H, S = steps(plan), rows = total_rows(plan);

    if ((st = lstmcl__check_tensor(ctx, fn, "x", &a->x, span(d->nt, plan->x_ld, D), 1)) ||
        (st = lstmcl__check_tensor(ctx, fn, "c0", &a->c0, d->e_nh, 0)) ||
        (st = lstmcl__check_tensor(ctx, fn, "Wx", &a->Wx, d->e_wx, 1)) ||
        (st = lstmcl__check_tensor(ctx, fn, "Wh", &a->Wh, d->e_wh, 1)) ||
        (st = lstmcl__check_tensor(ctx, fn, "dh", &a->dh, span(d->nt, plan->h_ld, H), 1)) ||
        (st = lstmcl__check_tensor(ctx, fn, "dhT", &a->dhT, d->e_nh, 0)) ||
        (st = lstmcl__check_tensor(ctx, fn, "dcT", &a->dcT, d->e_nh, 0)) ||
        (st = lstmcl__check_tensor(ctx, fn, "dx", &a->dx, span(d->nt, plan->x_ld, D), 0)) ||
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
    if (plan->packed && (st = pack_scratch(plan)) != LSTMCL_SUCCESS)
        return st;
    rs = a->reserve;

    xv.m = a->x.mem, xv.off = a->x.offset, xv.ld = plan->x_ld;
    v.dh.m = a->dh.mem, v.dh.off = a->dh.offset, v.dh.ld = plan->h_ld;
    v.c0.m = a->c0.mem, v.c0.off = a->c0.offset, v.c0.ld = H;
    v.dh0.m = a->dh0.mem, v.dh0.off = a->dh0.offset, v.dh0.ld = H;
    if (plan->packed) {
        /* dh packed, with dhT added at each sequence's last step; dcT sorted
         * into dc (a row's dc is untouched until its last step) */
        cl_mem pb = plan->pack_buf;
        const lstmcl_tensor none = {NULL, 0};
        TRY(map_rows(plan, 0, d->nt, H, IX_UROW, seq_rows(plan, &a->dh, plan->h_ld), pb,
                     pk_h(plan), H));
        v.dh.m = pb, v.dh.off = pk_h(plan), v.dh.ld = H;
        if (a->dhT.mem)
            TRY(map_rows(plan, 2, N, H, ix_fin(plan), state_rows(&a->dhT, H), pb, pk_h(plan),
                         H));
        TRY(copy_or_zero(ctx, ws, d->e_g + d->e_nh, &none, d->e_nh));
        if (a->dcT.mem)
            TRY(map_rows(plan, 0, N, H, ix_rank(plan), state_rows(&a->dcT, H), ws, d->e_g, H));
        else
            TRY(copy_or_zero(ctx, ws, d->e_g, &none, d->e_nh));
        if (a->c0.mem) {
            TRY(map_rows(plan, 0, N, H, ix_rank(plan), state_rows(&a->c0, H), pb, pk_c0(plan),
                         H));
            v.c0.m = pb, v.c0.off = pk_c0(plan);
        }
        if (a->dh0.mem)
            v.dh0.m = pb, v.dh0.off = pk_dh0(plan);
        if (a->dWx.mem) {
            TRY(map_rows(plan, 0, d->nt, D, IX_UROW, seq_rows(plan, &a->x, plan->x_ld), pb, 0,
                         D));
            xv.m = pb, xv.off = 0, xv.ld = D;
        }
    } else {
        TRY(copy_or_zero(ctx, ws, d->e_g, &a->dcT, d->e_nh));
        TRY(copy_or_zero(ctx, ws, d->e_g + d->e_nh, &a->dhT, d->e_nh));
    }
    if (plan->path == LSTMCL_PATH_GEMM) {
        TRY(bwd_gemm(plan, a, &v, ws));
    } else {
        const view dr = {ws, d->e_g + d->e_nh, H}, none = {NULL, 0, 0};
        TRY(pack(plan, 1, &a->Wh, ws));
        /* the last step's cell math by the elementwise kernel, then each
         * boundary with one kernel */
        TRY(bwd_step(plan, a, &v, S - 1, ws, dr, none, 0));
        for (s = S; s-- > 0;)
            if (s > 0 || v.dh0.m)
                TRY(bwd_cross(plan, a, &v, s, ws));
    }
    if (a->dc0.mem && plan->packed) {
        TRY(map_rows(plan, 1, N, H, ix_rank(plan), state_rows(&a->dc0, H), ws, d->e_g, H));
    } else if (a->dc0.mem) {
        lstmcl_tensor dc = {ws, d->e_g};
        TRY(copy_or_zero(ctx, a->dc0.mem, a->dc0.offset, &dc, d->e_nh));
    }
    if (a->dh0.mem && plan->packed)
        TRY(map_rows(plan, 1, N, H, ix_rank(plan), state_rows(&a->dh0, H), v.dh0.m, v.dh0.off,
                     H));

    /* all steps at once */
    if (a->dWx.mem)
        TRY(lstmcl__gemm(ctx, 1, 0, D, 4 * H, rows, 1.0f, xv.m, xv.off, xv.ld, ws, 0, 4 * H,
                         beta, a->dWx.mem, a->dWx.offset, 4 * H));
    if (a->dx.mem && plan->packed) { /* into the packed x's place, then unpacked */
        TRY(lstmcl__gemm(ctx, 0, 1, rows, D, 4 * H, 1.0f, ws, 0, 4 * H, a->Wx.mem, a->Wx.offset,
                         4 * H, 0.0f, plan->pack_buf, 0, D));
        TRY(map_rows(plan, a->accumulate_dx ? 3 : 1, d->nt, D, IX_UROW,
                     seq_rows(plan, &a->dx, plan->x_ld), plan->pack_buf, 0, D));
    } else if (a->dx.mem) {
        TRY(lstmcl__gemm(ctx, 0, 1, rows, D, 4 * H, 1.0f, ws, 0, 4 * H, a->Wx.mem, a->Wx.offset,
                         4 * H, a->accumulate_dx ? 1.0f : 0.0f, a->dx.mem, a->dx.offset,
                         plan->x_ld));
    }
    if (a->dWh.mem)
        TRY(lstmcl__gemm(ctx, 1, 0, H, 4 * H, rows, 1.0f, rs, d->e_g + d->e_h, H, ws, 0, 4 * H,
                         beta, a->dWh.mem, a->dWh.offset, 4 * H));
    if (a->db.mem)
        TRY(lstmcl__colsum(ctx, rows, 4 * H, ws, 0, a->db.mem, a->db.offset, a->accumulate, ws,
                           plan->ws_part));
    lstmcl__clear_message(ctx);
    return LSTMCL_SUCCESS;
}
