/* Plan layer features against the reference run one sequence at a time:
 * time-major and batch-major layouts, the reverse direction, row strides
 * (a bidirectional layer's halves), per-sequence lengths (packed rows),
 * optional states in and out, on every per-step path (LSTMCL_RECURRENT). */
#include "lstmcl_cl.h"
#include "lstmcl_train.h"
#include "lstmcl_weights.h"
#include "reference.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lstmcl_context *ctx;
static cl_context clctx;
static cl_command_queue queue;

static void setup(void)
{
    ctx = tu_context();
    clctx = lstmcl_context_cl_context(ctx);
    queue = lstmcl_context_queue(ctx);
}

static cl_mem dev(const float *src, size_t n)
{
    float *tmp = tu_nans(n);
    cl_int err;
    cl_mem m;
    if (src)
        memcpy(tmp, src, n * sizeof(float));
    m = clCreateBuffer(clctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, n * sizeof(float), tmp,
                       &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    free(tmp);
    return m;
}

static float *host(cl_mem m, size_t n)
{
    float *p = tu_nans(n);
    ck_assert_int_eq(clEnqueueReadBuffer(queue, m, CL_TRUE, 0, n * sizeof(float), p, 0, NULL,
                                         NULL),
                     CL_SUCCESS);
    return p;
}

static lstmcl_tensor tens(cl_mem m, size_t off)
{
    lstmcl_tensor t = {m, off};
    return t;
}

static void expect_close(const char *what, const float *got, const double *want, size_t n,
                         const char *config)
{
    double err = ref_rel_error(got, want, n);
    ck_assert_msg(err <= 2e-5, "%s: normalised error %.3e (%s, seed %llu)", what, err, config,
                  tu_seed());
}

/* One configuration, forward and backward, against the reference. */
static void check_host(size_t N, size_t T, size_t D, size_t H, int time_major, int reverse,
                       const int *len, int states, const float *x, const float *h0,
                       const float *c0, const float *Wx, const float *Wh, const float *b,
                       const float *dh, const float *dhT, const float *dcT, const double *rh,
                       const double *rhT, const double *rcT, const double *rdx,
                       const double *rdh0, const double *rdc0, const double *rdWx,
                       const double *rdWh, const double *rdb, const char *config);

/* One configuration, forward and backward, against the reference; with
 * host set, through lstmcl_forward_ex and lstmcl_backward_ex too. */
static void check_config_(size_t N, size_t T, size_t D, size_t H, int time_major, int reverse,
                          int with_lengths, int states, size_t xpad, size_t hcols, size_t hcol0,
                          int host_too)
{
    const size_t xl = D + xpad, hl = hcols, NT = N * T;
    const double wsc = 2.0 / sqrt((double)(D + H));
    int *len = malloc(N * sizeof *len);
    float *x = tu_floats(NT * xl, 1), *h0 = tu_floats(N * H, 1), *c0 = tu_floats(N * H, 1);
    float *Wx = tu_floats(D * 4 * H, wsc), *Wh = tu_floats(H * 4 * H, wsc);
    float *b = tu_floats(4 * H, .5), *dh = tu_floats(NT * hl, 1);
    float *dhT = tu_floats(N * H, 1), *dcT = tu_floats(N * H, 1);
    double *rh = tu_dalloc(NT * H), *rhT = tu_dalloc(N * H), *rcT = tu_dalloc(N * H);
    double *rdx = tu_dalloc(NT * D), *rdh0 = tu_dalloc(N * H), *rdc0 = tu_dalloc(N * H);
    double *rdWx = tu_dalloc(D * 4 * H), *rdWh = tu_dalloc(H * 4 * H), *rdb = tu_dalloc(4 * H);
    double *dWx_ = tu_doubles(Wx, D * 4 * H), *dWh_ = tu_doubles(Wh, H * 4 * H);
    double *db_ = tu_doubles(b, 4 * H);
    cl_mem bx, bh0, bc0, bWx, bWh, bb, bh, bhT, bcT, bdh, bdhT, bdcT, bdx, bdh0, bdc0, bdWx, bdWh,
        bdb, reserve;
    lstmcl_plan_desc desc;
    lstmcl_plan *plan = NULL;
    lstmcl_forward_args fa;
    lstmcl_backward_args ba;
    size_t n, t, j, k, bytes;
    char config[160];
    float *got;
    cl_int err;

    snprintf(config, sizeof config,
             "N=%zu T=%zu D=%zu H=%zu %s%s%s%s x_stride=%zu h_stride=%zu col %zu", N, T, D, H,
             time_major ? "time-major" : "batch-major", reverse ? " reverse" : "",
             with_lengths ? " lengths" : "", states ? " states" : "", xl, hl, hcol0);
    for (n = 0; n < N; n++) /* 1 and T among them when there are rows enough */
        len[n] = !with_lengths ? (int)T : n == 0 ? 1 : n == 1 ? (int)T
                                                   : (int)tu_range(1, T);

    /* the reference, one sequence at a time, in its own order of steps */
    for (n = 0; n < N; n++) {
        const size_t L = (size_t)len[n];
        double *sx = tu_dalloc(L * D), *sh0 = tu_dalloc(H), *sc0 = tu_dalloc(H);
        double *sdh = tu_dalloc(L * H), *sdcT = tu_dalloc(H), *sdx = tu_dalloc(L * D);
        double *sdh0 = tu_dalloc(H), *sdc0 = tu_dalloc(H), *sdWx = tu_dalloc(D * 4 * H);
        double *sdWh = tu_dalloc(H * 4 * H), *sdb = tu_dalloc(4 * H);
        ref_cache rc;
        for (k = 0; k < L; k++) {
            t = reverse ? L - 1 - k : k;
            const size_t row = time_major ? t * N + n : n * T + t;
            for (j = 0; j < D; j++)
                sx[k * D + j] = x[row * xl + j];
            for (j = 0; j < H; j++)
                sdh[k * H + j] = dh[row * hl + hcol0 + j] + (k + 1 == L && states ? dhT[n * H + j] : 0);
        }
        for (j = 0; j < H; j++) {
            sh0[j] = states ? h0[n * H + j] : 0;
            sc0[j] = states ? c0[n * H + j] : 0;
            sdcT[j] = states ? dcT[n * H + j] : 0;
        }
        ck_assert_int_eq(ref_forward(1, L, D, H, sx, sh0, sc0, dWx_, dWh_, db_, &rc), 0);
        ck_assert_int_eq(ref_backward(&rc, sx, sh0, sc0, dWx_, dWh_, sdh, sdcT, sdx, sdh0, sdc0,
                                      sdWx, sdWh, sdb),
                         0);
        for (k = 0; k < L; k++) {
            t = reverse ? L - 1 - k : k;
            for (j = 0; j < H; j++)
                rh[(time_major ? t * N + n : n * T + t) * H + j] = rc.h[k * H + j];
            for (j = 0; j < D; j++)
                rdx[(time_major ? t * N + n : n * T + t) * D + j] = sdx[k * D + j];
        }
        for (j = 0; j < H; j++) {
            rhT[n * H + j] = rc.h[(L - 1) * H + j];
            rcT[n * H + j] = rc.c[(L - 1) * H + j];
            rdh0[n * H + j] = sdh0[j];
            rdc0[n * H + j] = sdc0[j];
        }
        for (j = 0; j < D * 4 * H; j++)
            rdWx[j] += sdWx[j];
        for (j = 0; j < H * 4 * H; j++)
            rdWh[j] += sdWh[j];
        for (j = 0; j < 4 * H; j++)
            rdb[j] += sdb[j];
        ref_cache_free(&rc);
        free(sx), free(sh0), free(sc0), free(sdh), free(sdcT), free(sdx), free(sdh0), free(sdc0);
        free(sdWx), free(sdWh), free(sdb);
    }

    memset(&desc, 0, sizeof desc);
    desc.N = N, desc.T = T, desc.D = D, desc.H = H;
    desc.layout = time_major ? LSTMCL_TIME_MAJOR : LSTMCL_BATCH_MAJOR;
    desc.reverse = reverse, desc.x_stride = xl, desc.h_stride = hl;
    ck_assert_msg(lstmcl_plan_create_ex(&plan, ctx, &desc) == LSTMCL_SUCCESS, "%s",
                  lstmcl_context_message(ctx));
    ck_assert_msg(lstmcl_plan_set_lengths(plan, with_lengths ? len : NULL) == LSTMCL_SUCCESS,
                  "%s", lstmcl_context_message(ctx));
    ck_assert_int_eq(lstmcl_plan_reserve_size(plan, &bytes), LSTMCL_SUCCESS);
    reserve = clCreateBuffer(clctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    bx = dev(x, NT * xl), bh0 = dev(h0, N * H), bc0 = dev(c0, N * H), bWx = dev(Wx, D * 4 * H);
    bWh = dev(Wh, H * 4 * H), bb = dev(b, 4 * H), bh = dev(NULL, NT * hl);
    bhT = dev(NULL, N * H), bcT = dev(NULL, N * H), bdh = dev(dh, NT * hl);
    bdhT = dev(dhT, N * H), bdcT = dev(dcT, N * H), bdx = dev(NULL, NT * xl);
    bdh0 = dev(NULL, N * H), bdc0 = dev(NULL, N * H), bdWx = dev(NULL, D * 4 * H);
    bdWh = dev(NULL, H * 4 * H), bdb = dev(NULL, 4 * H);

    memset(&fa, 0, sizeof fa);
    fa.x = tens(bx, 0), fa.Wx = tens(bWx, 0), fa.Wh = tens(bWh, 0), fa.b = tens(bb, 0);
    fa.h = tens(bh, hcol0), fa.hT = tens(bhT, 0), fa.cT = tens(bcT, 0), fa.reserve = reserve;
    if (states)
        fa.h0 = tens(bh0, 0), fa.c0 = tens(bc0, 0);
    ck_assert_msg(lstmcl_plan_forward(plan, &fa) == LSTMCL_SUCCESS, "%s: %s", config,
                  lstmcl_context_message(ctx));
    memset(&ba, 0, sizeof ba);
    ba.x = fa.x, ba.c0 = fa.c0, ba.Wx = fa.Wx, ba.Wh = fa.Wh, ba.dh = tens(bdh, hcol0);
    if (states)
        ba.dhT = tens(bdhT, 0), ba.dcT = tens(bdcT, 0);
    ba.dx = tens(bdx, 0), ba.dh0 = tens(bdh0, 0), ba.dc0 = tens(bdc0, 0);
    ba.dWx = tens(bdWx, 0), ba.dWh = tens(bdWh, 0), ba.db = tens(bdb, 0), ba.reserve = reserve;
    ck_assert_msg(lstmcl_plan_backward(plan, &ba) == LSTMCL_SUCCESS, "%s: %s", config,
                  lstmcl_context_message(ctx));

    /* h: this plan's columns hold h (zeros past each end); the others are untouched */
    got = host(bh, NT * hl);
    {
        float *mine = tu_nans(NT * H);
        for (k = 0; k < NT; k++)
            for (j = 0; j < hl; j++) {
                if (j >= hcol0 && j < hcol0 + H)
                    mine[k * H + j - hcol0] = got[k * hl + j];
                else
                    ck_assert_msg(isnan(got[k * hl + j]), "%s: h column %zu written", config, j);
            }
        for (n = 0; n < N; n++)
            for (t = (size_t)len[n]; t < T; t++)
                for (j = 0; j < H; j++)
                    ck_assert_msg(mine[(time_major ? t * N + n : n * T + t) * H + j] == 0.0f,
                                  "%s: h past the end of row %zu is not zero", config, n);
        expect_close("h", mine, rh, NT * H, config);
        free(mine);
    }
    free(got);
    got = host(bhT, N * H), expect_close("hT", got, rhT, N * H, config), free(got);
    got = host(bcT, N * H), expect_close("cT", got, rcT, N * H, config), free(got);
    got = host(bdx, NT * xl);
    {
        float *mine = tu_nans(NT * D);
        for (k = 0; k < NT; k++)
            for (j = 0; j < D; j++)
                mine[k * D + j] = got[k * xl + j];
        expect_close("dx", mine, rdx, NT * D, config);
        free(mine);
    }
    free(got);
    got = host(bdh0, N * H), expect_close("dh0", got, rdh0, N * H, config), free(got);
    got = host(bdc0, N * H), expect_close("dc0", got, rdc0, N * H, config), free(got);
    got = host(bdWx, D * 4 * H), expect_close("dWx", got, rdWx, D * 4 * H, config), free(got);
    got = host(bdWh, H * 4 * H), expect_close("dWh", got, rdWh, H * 4 * H, config), free(got);
    got = host(bdb, 4 * H), expect_close("db", got, rdb, 4 * H, config), free(got);

    if (host_too)
        check_host(N, T, D, H, time_major, reverse, with_lengths ? len : NULL, states, x, h0, c0,
                   Wx, Wh, b, dh, dhT, dcT, rh, rhT, rcT, rdx, rdh0, rdc0, rdWx, rdWh, rdb,
                   config);
    {
        cl_mem all[] = {bx, bh0, bc0, bWx, bWh, bb, bh, bhT, bcT, bdh, bdhT, bdcT, bdx, bdh0,
                        bdc0, bdWx, bdWh, bdb, reserve};
        for (k = 0; k < sizeof all / sizeof all[0]; k++)
            clReleaseMemObject(all[k]);
    }
    lstmcl_plan_destroy(plan);
    free(len), free(x), free(h0), free(c0), free(Wx), free(Wh), free(b), free(dh), free(dhT);
    free(dcT), free(rh), free(rhT), free(rcT), free(rdx), free(rdh0), free(rdc0), free(rdWx);
    free(rdWh), free(rdb), free(dWx_), free(dWh_), free(db_);
}

static void check_config(size_t N, size_t T, size_t D, size_t H, int time_major, int reverse,
                         int with_lengths, int states, size_t xpad, size_t hcols, size_t hcol0)
{
    check_config_(N, T, D, H, time_major, reverse, with_lengths, states, xpad, hcols, hcol0,
                  xpad == 0 && hcols == H);
}

/* The host-pointer calls on the same data (x, h and dh rows unpadded). */
static void check_host(size_t N, size_t T, size_t D, size_t H, int time_major, int reverse,
                       const int *len, int states, const float *x, const float *h0,
                       const float *c0, const float *Wx, const float *Wh, const float *b,
                       const float *dh, const float *dhT, const float *dcT, const double *rh,
                       const double *rhT, const double *rcT, const double *rdx,
                       const double *rdh0, const double *rdc0, const double *rdWx,
                       const double *rdWh, const double *rdb, const char *config)
{
    const size_t NT = N * T;
    lstmcl_sequence_options o;
    lstmcl_cache *cache = NULL;
    float *h = tu_nans(NT * H), *hT = tu_nans(N * H), *cT = tu_nans(N * H);
    float *dx = tu_nans(NT * D), *dh0 = tu_nans(N * H), *dc0 = tu_nans(N * H);
    float *dWx = tu_nans(D * 4 * H), *dWh = tu_nans(H * 4 * H), *db = tu_nans(4 * H);
    memset(&o, 0, sizeof o);
    o.layout = time_major ? LSTMCL_TIME_MAJOR : LSTMCL_BATCH_MAJOR;
    o.reverse = reverse, o.lengths = len;
    ck_assert_msg(lstmcl_forward_ex(ctx, N, T, D, H, &o, x, states ? h0 : NULL,
                                    states ? c0 : NULL, Wx, Wh, b, h, hT, cT,
                                    &cache) == LSTMCL_SUCCESS,
                  "%s: %s", config, lstmcl_context_message(ctx));
    ck_assert_msg(lstmcl_backward_ex(ctx, cache, dh, states ? dhT : NULL, states ? dcT : NULL, dx,
                                     dh0, dc0, dWx, dWh, db) == LSTMCL_SUCCESS,
                  "%s: %s", config, lstmcl_context_message(ctx));
    expect_close("host h", h, rh, NT * H, config);
    expect_close("host hT", hT, rhT, N * H, config);
    expect_close("host cT", cT, rcT, N * H, config);
    expect_close("host dx", dx, rdx, NT * D, config);
    expect_close("host dh0", dh0, rdh0, N * H, config);
    expect_close("host dc0", dc0, rdc0, N * H, config);
    expect_close("host dWx", dWx, rdWx, D * 4 * H, config);
    expect_close("host dWh", dWh, rdWh, H * 4 * H, config);
    expect_close("host db", db, rdb, 4 * H, config);
    lstmcl_cache_destroy(cache);
    free(h), free(hT), free(cT), free(dx), free(dh0), free(dc0), free(dWx), free(dWh), free(db);
}

/* Every combination of layout, direction, lengths and states on awkward
 * sizes; each loop index draws its own sizes. */
START_TEST(layouts_directions_lengths)
{
    const int tm = _i & 1, rev = (_i >> 1) & 1, lens = (_i >> 2) & 1, states = (_i >> 3) & 1;
    const size_t N = tu_range(1, 7), T = tu_range(1, 8), D = tu_range(1, 13), H = tu_range(1, 19);
    check_config(N, T, D, H, tm, rev, lens, states, 0, H, 0);
}
END_TEST

/* A bidirectional layer's halves: h rows 2H wide, the reverse one at column
 * H; x rows padded. */
START_TEST(bidirectional_halves)
{
    const size_t N = tu_range(2, 6), T = tu_range(2, 7), D = tu_range(1, 9), H = tu_range(1, 17);
    check_config(N, T, D, H, _i & 1, 0, (_i >> 1) & 1, 1, 3, 2 * H, 0);
    check_config(N, T, D, H, _i & 1, 1, (_i >> 1) & 1, 1, 3, 2 * H, H);
}
END_TEST

/* Larger batches, so that several work-groups and the fused kernels' row
 * blocks meet sequences that end at different steps. */
START_TEST(lengths_larger_batch)
{
    const size_t N = tu_range(9, 33), T = tu_range(5, 12), D = tu_range(3, 24);
    const size_t H = tu_range(16, 40);
    check_config(N, T, D, H, _i & 1, (_i >> 1) & 1, 1, 1, 0, H, 0);
}
END_TEST

START_TEST(lengths_errors)
{
    lstmcl_plan_desc desc;
    lstmcl_plan *plan = NULL;
    int bad[3] = {2, 0, 1}, over[3] = {2, 4, 1};
    memset(&desc, 0, sizeof desc);
    desc.N = 3, desc.T = 3, desc.D = 2, desc.H = 2;
    ck_assert_int_eq(lstmcl_plan_create_ex(&plan, ctx, NULL), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(plan);
    desc.layout = (lstmcl_layout)7;
    ck_assert_int_eq(lstmcl_plan_create_ex(&plan, ctx, &desc), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_message(ctx), "layout"));
    desc.layout = LSTMCL_TIME_MAJOR, desc.h_stride = 1;
    ck_assert_int_eq(lstmcl_plan_create_ex(&plan, ctx, &desc), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_message(ctx), "h_stride"));
    desc.h_stride = 0;
    ck_assert_int_eq(lstmcl_plan_create_ex(&plan, ctx, &desc), LSTMCL_SUCCESS);
    ck_assert_int_eq(lstmcl_plan_set_lengths(plan, bad), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_message(ctx), "lengths[1] is 0"));
    ck_assert_int_eq(lstmcl_plan_set_lengths(plan, over), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_message(ctx), "lengths[1] is 4"));
    ck_assert_int_eq(lstmcl_plan_set_lengths(NULL, over), LSTMCL_ERROR_INVALID_ARGUMENT);
    lstmcl_plan_destroy(plan);
}
END_TEST

/* The host-pointer calls refuse what they cannot run, with a message. */
START_TEST(host_errors)
{
    float x[6] = {0}, W[8] = {0}, h[6];
    lstmcl_sequence_options o;
    lstmcl_cache *cache = NULL;
    int lens[3] = {1, 0, 2};
    memset(&o, 0, sizeof o);
    o.layout = (lstmcl_layout)3;
    ck_assert_int_eq(lstmcl_forward_ex(ctx, 3, 2, 1, 1, &o, x, NULL, NULL, W, W, W, h, NULL,
                                       NULL, NULL),
                     LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_message(ctx), "layout"));
    o.layout = LSTMCL_TIME_MAJOR, o.lengths = lens;
    ck_assert_int_eq(lstmcl_forward_ex(ctx, 3, 2, 1, 1, &o, x, NULL, NULL, W, W, W, h, NULL,
                                       NULL, &cache),
                     LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(cache);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_message(ctx), "lengths[1] is 0"));
    ck_assert_int_eq(lstmcl_forward_ex(ctx, 3, 2, 1, 1, NULL, NULL, NULL, NULL, W, W, W, h, NULL,
                                       NULL, NULL),
                     LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_message(ctx), "x is NULL"));
    /* a cache of lstmcl_forward is not one of lstmcl_forward_ex */
    ck_assert_int_eq(lstmcl_forward(ctx, 3, 2, 1, 1, x, x, W, W, W, h, &cache), LSTMCL_SUCCESS);
    ck_assert_int_eq(lstmcl_backward_ex(ctx, cache, h, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                        NULL),
                     LSTMCL_ERROR_INVALID_CACHE);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_message(ctx), "lstmcl_backward"));
    lstmcl_cache_destroy(cache);
    /* and the context still works */
    o.lengths = NULL;
    ck_assert_int_eq(lstmcl_forward_ex(ctx, 3, 2, 1, 1, &o, x, NULL, NULL, W, W, W, h, NULL,
                                       NULL, NULL),
                     LSTMCL_SUCCESS);
}
END_TEST

/* A bidirectional stack on device buffers (lstmcl_stack_create_ex) against
 * the host-array model (lstmcl_model_forward/_backward, itself proven
 * against PyTorch) on the same weights, lengths and layout. */
START_TEST(bidirectional_stack_matches_model)
{
    const size_t L = tu_range(1, 3), N = tu_range(1, 6), T = tu_range(1, 7);
    const size_t D = tu_range(1, 9), H = tu_range(1, 11), dirs = 2, NT = N * T;
    const size_t states = L * dirs * N * H, yw = dirs * H;
    const int tm = _i & 1, with_len = (_i >> 1) & 1;
    lstmcl_weights_shape shape = {L, dirs, D, H};
    lstmcl_weights *w = NULL;
    lstmcl_stack_desc desc;
    lstmcl_stack *st = NULL;
    lstmcl_sequence_options o;
    lstmcl_cache *cache = NULL;
    int *len = malloc(N * sizeof *len);
    float *x = tu_floats(NT * D, 1), *h0 = tu_floats(states, 1), *c0 = tu_floats(states, 1);
    float *dy = tu_floats(NT * yw, 1), *y = tu_nans(NT * yw), *hn = tu_nans(states);
    float *cn = tu_nans(states), *dx = tu_nans(NT * D), *got;
    float *dw;
    double *want;
    const float *params;
    size_t count, n, l, d;
    cl_mem bx, bp, bh0, bc0, bhT, bcT, by, bdy, bdx, bdp;

    ck_assert_int_eq(lstmcl_weights_create(&w, &shape), LSTMCL_SUCCESS);
    for (l = 0; l < L; l++)
        for (d = 0; d < dirs; d++) {
            float *blk = lstmcl_weights_block(w, l, d), *r;
            const size_t m = (lstmcl_weights_layer_input_size(w, l) + H + 1) * 4 * H;
            r = tu_floats(m, 1.0 / sqrt((double)H));
            memcpy(blk, r, m * sizeof(float));
            free(r);
        }
    params = lstmcl_weights_data(w, &count);
    dw = tu_nans(count);
    for (n = 0; n < N; n++)
        len[n] = n == 0 ? (int)T : (int)tu_range(1, T);
    memset(&o, 0, sizeof o);
    o.layout = tm ? LSTMCL_TIME_MAJOR : LSTMCL_BATCH_MAJOR;
    o.lengths = with_len ? len : NULL;
    ck_assert_msg(lstmcl_model_forward(ctx, w, N, T, &o, x, h0, c0, y, hn, cn, &cache) ==
                      LSTMCL_SUCCESS,
                  "%s", lstmcl_context_message(ctx));
    ck_assert_msg(lstmcl_model_backward(ctx, cache, dy, NULL, NULL, dx, NULL, NULL, dw) ==
                      LSTMCL_SUCCESS,
                  "%s", lstmcl_context_message(ctx));

    memset(&desc, 0, sizeof desc);
    desc.layers = L, desc.directions = dirs, desc.N = N, desc.T = T, desc.D = D, desc.H = H;
    desc.layout = o.layout;
    ck_assert_msg(lstmcl_stack_create_ex(&st, ctx, &desc) == LSTMCL_SUCCESS, "%s",
                  lstmcl_context_message(ctx));
    ck_assert_uint_eq(lstmcl_stack_param_count(st), count);
    ck_assert_uint_eq(lstmcl_stack_block_offset(st, L - 1, 1),
                      (size_t)(lstmcl_weights_block(w, L - 1, 1) - params));
    ck_assert_int_eq(lstmcl_stack_set_lengths(st, o.lengths), LSTMCL_SUCCESS);
    bx = dev(x, NT * D), bp = dev(params, count), bh0 = dev(h0, states), bc0 = dev(c0, states);
    bhT = dev(NULL, states), bcT = dev(NULL, states), by = dev(NULL, NT * yw);
    bdy = dev(dy, NT * yw), bdx = dev(NULL, NT * D), bdp = dev(NULL, count);
    ck_assert_msg(lstmcl_stack_forward(st, tens(bx, 0), tens(bp, 0), tens(bh0, 0), tens(bc0, 0),
                                       tens(bhT, 0), tens(bcT, 0), tens(by, 0), 1) ==
                      LSTMCL_SUCCESS,
                  "%s", lstmcl_context_message(ctx));
    ck_assert_msg(lstmcl_stack_backward(st, tens(bx, 0), tens(bp, 0), tens(bc0, 0), tens(bdy, 0),
                                        tens(bdx, 0), tens(bdp, 0), 0) == LSTMCL_SUCCESS,
                  "%s", lstmcl_context_message(ctx));
#define SAME(buf, n_, ref, what)                                                              \
    do {                                                                                      \
        got = host(buf, n_), want = tu_doubles(ref, n_);                                     \
        ck_assert_msg(ref_rel_error(got, want, n_) <= 1e-6, "stack %s differs from the "     \
                      "model's by %.3e (L=%zu N=%zu T=%zu D=%zu H=%zu%s%s)", what,            \
                      ref_rel_error(got, want, n_), L, N, T, D, H, tm ? " time-major" : "",  \
                      with_len ? " lengths" : "");                                           \
        free(got), free(want);                                                                \
    } while (0)
    SAME(by, NT * yw, y, "h");
    SAME(bhT, states, hn, "hT");
    SAME(bcT, states, cn, "cT");
    SAME(bdx, NT * D, dx, "dx");
    SAME(bdp, count, dw, "dparams");
#undef SAME
    /* a change of lengths needs a new training forward */
    ck_assert_int_eq(lstmcl_stack_set_lengths(st, NULL), LSTMCL_SUCCESS);
    ck_assert_int_eq(lstmcl_stack_backward(st, tens(bx, 0), tens(bp, 0), tens(bc0, 0),
                                           tens(bdy, 0), tens(bdx, 0), tens(bdp, 0), 0),
                     LSTMCL_ERROR_INVALID_ARGUMENT);
    {
        cl_mem all[] = {bx, bp, bh0, bc0, bhT, bcT, by, bdy, bdx, bdp};
        for (n = 0; n < sizeof all / sizeof all[0]; n++)
            clReleaseMemObject(all[n]);
    }
    lstmcl_stack_destroy(st);
    lstmcl_cache_destroy(cache);
    lstmcl_weights_destroy(w);
    free(len), free(x), free(h0), free(c0), free(dy), free(y), free(hn), free(cn), free(dx);
    free(dw);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("layers");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 0);
    tcase_add_loop_test(tc, layouts_directions_lengths, 0, 16);
    tcase_add_loop_test(tc, bidirectional_halves, 0, 4);
    tcase_add_loop_test(tc, lengths_larger_batch, 0, 4);
    tcase_add_test(tc, lengths_errors);
    tcase_add_test(tc, host_errors);
    tcase_add_loop_test(tc, bidirectional_stack_matches_model, 0, 8);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
