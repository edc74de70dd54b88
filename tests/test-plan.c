/* The device-buffer API: plans, optional state, offsets, accumulation,
 * truncated back-propagation through time, and argument errors. */
#include "lstmcl_cl.h"
#include "reference.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static lstmcl_context *ctx;
static cl_mem_flags dev_flags; /* host-access flags of dev()'s buffers (CL_MEM_HOST_NO_ACCESS, ...) */
static cl_context clctx;
static cl_command_queue queue;

static void setup(void)
{
    ctx = tu_context();
    dev_flags = 0;
    clctx = lstmcl_context_cl_context(ctx);
    queue = lstmcl_context_queue(ctx);
}

/* A device buffer of n floats, filled from src (or NaN), at `pad` floats of
 * garbage offset so that offsets are exercised. */
typedef struct {
    cl_mem mem;
    size_t offset, n;
} dbuf;

static dbuf dev(const float *src, size_t n, size_t pad)
{
    dbuf b;
    float *tmp = tu_nans(n + pad);
    cl_int err;
    if (src)
        memcpy(tmp + pad, src, n * sizeof(float));
    b.mem = clCreateBuffer(clctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR | dev_flags,
                           (n + pad) * sizeof(float), tmp, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    b.offset = pad;
    b.n = n;
    free(tmp);
    return b;
}

static lstmcl_tensor T_(dbuf b)
{
    lstmcl_tensor t = {b.mem, b.offset};
    return t;
}

static float *host(dbuf b)
{
    float *p = tu_nans(b.n);
    cl_mem from = b.mem;
    size_t off = b.offset;
    cl_int err;
    if (dev_flags & (CL_MEM_HOST_NO_ACCESS | CL_MEM_HOST_WRITE_ONLY)) {
        /* the host may not read it: through a copy */
        from = clCreateBuffer(clctx, CL_MEM_READ_WRITE, b.n * sizeof(float), NULL, &err);
        ck_assert_int_eq(err, CL_SUCCESS);
        ck_assert_int_eq(clEnqueueCopyBuffer(queue, b.mem, from, b.offset * sizeof(float), 0,
                                             b.n * sizeof(float), 0, NULL, NULL),
                         CL_SUCCESS);
        off = 0;
    }
    ck_assert_int_eq(clEnqueueReadBuffer(queue, from, CL_TRUE, off * sizeof(float),
                                         b.n * sizeof(float), p, 0, NULL, NULL),
                     CL_SUCCESS);
    if (from != b.mem)
        clReleaseMemObject(from);
    return p;
}

static void release(dbuf b)
{
    if (b.mem)
        clReleaseMemObject(b.mem);
}

static void expect_close(const char *what, const float *got, const double *want, size_t n,
                         double bound)
{
    double err = ref_rel_error(got, want, n);
    ck_assert_msg(err <= bound, "%s: normalised error %.3e > %.0e (seed %llu)", what, err, bound,
                  tu_seed());
}

static cl_mem scratch(lstmcl_plan *plan, int reserve)
{
    size_t bytes = 0;
    cl_int err;
    cl_mem m;
    if (reserve)
        ck_assert_int_eq(lstmcl_plan_reserve_size(plan, &bytes), LSTMCL_SUCCESS);
    else
        ck_assert_int_eq(lstmcl_plan_workspace_size(plan, &bytes), LSTMCL_SUCCESS);
    ck_assert_uint_gt(bytes, 0);
    m = clCreateBuffer(clctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    return m;
}

/* Full state: h0, c0 in; hT, cT out; dhT, dcT in; dh0, dc0 out; offsets
 * everywhere; accumulation on top of existing gradients. */
static void full_state(void)
{
    const size_t N = tu_range(1, 5), T = tu_range(1, 9), D = tu_range(1, 20), H = tu_range(1, 20);
    const double ws = 2.0 / sqrt((double)(D + H));
    float *x = tu_floats(N * T * D, 1), *h0 = tu_floats(N * H, 1), *c0 = tu_floats(N * H, 1);
    float *Wx = tu_floats(D * 4 * H, ws), *Wh = tu_floats(H * 4 * H, ws), *b = tu_floats(4 * H, .5);
    float *dh = tu_floats(N * T * H, 1), *dhT = tu_floats(N * H, 1), *dcT = tu_floats(N * H, 1);
    float *g0Wx = tu_floats(D * 4 * H, 1), *g0Wh = tu_floats(H * 4 * H, 1), *g0b = tu_floats(4 * H, 1);
    dbuf bx = dev(x, N * T * D, 3), bh0 = dev(h0, N * H, 1), bc0 = dev(c0, N * H, 2);
    dbuf bWx = dev(Wx, D * 4 * H, 5), bWh = dev(Wh, H * 4 * H, 7), bb = dev(b, 4 * H, 1);
    dbuf bh = dev(NULL, N * T * H, 4), bhT = dev(NULL, N * H, 1), bcT = dev(NULL, N * H, 3);
    dbuf bdh = dev(dh, N * T * H, 2), bdhT = dev(dhT, N * H, 1), bdcT = dev(dcT, N * H, 1);
    dbuf bdx = dev(NULL, N * T * D, 1), bdh0 = dev(NULL, N * H, 2), bdc0 = dev(NULL, N * H, 3);
    dbuf bdWx = dev(g0Wx, D * 4 * H, 1), bdWh = dev(g0Wh, H * 4 * H, 1), bdb = dev(g0b, 4 * H, 9);
    lstmcl_forward_args fa;
    lstmcl_backward_args ba;
    lstmcl_plan *plan = NULL;
    cl_mem reserve, workspace;
    double *dx_ = tu_doubles(x, N * T * D), *dh0_ = tu_doubles(h0, N * H);
    double *dc0_ = tu_doubles(c0, N * H), *dWx_ = tu_doubles(Wx, D * 4 * H);
    double *dWh_ = tu_doubles(Wh, H * 4 * H), *db_ = tu_doubles(b, 4 * H);
    double *ddh = tu_doubles(dh, N * T * H), *rdcT = tu_doubles(dcT, N * H);
    double *rdx = tu_dalloc(N * T * D), *rdh0 = tu_dalloc(N * H), *rdc0 = tu_dalloc(N * H);
    double *rdWx = tu_dalloc(D * 4 * H), *rdWh = tu_dalloc(H * 4 * H), *rdb = tu_dalloc(4 * H);
    double *hT = tu_dalloc(N * H), *cT = tu_dalloc(N * H);
    ref_cache rc;
    size_t n, j, i;
    float *got;

    ck_assert_int_eq(lstmcl_plan_create(&plan, ctx, N, T, D, H), LSTMCL_SUCCESS);
    reserve = scratch(plan, 1);
    workspace = scratch(plan, 0);
    memset(&fa, 0, sizeof fa);
    fa.x = T_(bx), fa.h0 = T_(bh0), fa.c0 = T_(bc0), fa.Wx = T_(bWx), fa.Wh = T_(bWh);
    fa.b = T_(bb), fa.h = T_(bh), fa.hT = T_(bhT), fa.cT = T_(bcT);
    fa.reserve = reserve, fa.workspace = workspace;
    ck_assert_msg(lstmcl_plan_forward(plan, &fa) == LSTMCL_SUCCESS, "%s",
                  lstmcl_context_message(ctx));

    memset(&ba, 0, sizeof ba);
    ba.x = T_(bx), ba.c0 = T_(bc0), ba.Wx = T_(bWx), ba.Wh = T_(bWh), ba.dh = T_(bdh);
    ba.dhT = T_(bdhT), ba.dcT = T_(bdcT), ba.dx = T_(bdx), ba.dh0 = T_(bdh0), ba.dc0 = T_(bdc0);
    ba.dWx = T_(bdWx), ba.dWh = T_(bdWh), ba.db = T_(bdb), ba.accumulate = 1;
    ba.reserve = reserve, ba.workspace = NULL; /* the plan's own */
    ck_assert_msg(lstmcl_plan_backward(plan, &ba) == LSTMCL_SUCCESS, "%s",
                  lstmcl_context_message(ctx));

    /* reference: dhT adds to dh of the last step */
    for (n = 0; n < N; n++)
        for (j = 0; j < H; j++)
            ddh[(n * T + T - 1) * H + j] += dhT[n * H + j];
    ck_assert_int_eq(ref_forward(N, T, D, H, dx_, dh0_, dc0_, dWx_, dWh_, db_, &rc), 0);
    ck_assert_int_eq(ref_backward(&rc, dx_, dh0_, dc0_, dWx_, dWh_, ddh, rdcT, rdx, rdh0, rdc0,
                                  rdWx, rdWh, rdb), 0);
    for (n = 0; n < N; n++)
        for (j = 0; j < H; j++) {
            hT[n * H + j] = rc.h[(n * T + T - 1) * H + j];
            cT[n * H + j] = rc.c[(n * T + T - 1) * H + j];
        }
    for (i = 0; i < D * 4 * H; i++) rdWx[i] += g0Wx[i];
    for (i = 0; i < H * 4 * H; i++) rdWh[i] += g0Wh[i];
    for (i = 0; i < 4 * H; i++) rdb[i] += g0b[i];

    got = host(bh), expect_close("h", got, rc.h, N * T * H, 1e-5), free(got);
    got = host(bhT), expect_close("hT", got, hT, N * H, 1e-5), free(got);
    got = host(bcT), expect_close("cT", got, cT, N * H, 1e-5), free(got);
    got = host(bdx), expect_close("dx", got, rdx, N * T * D, 1e-4), free(got);
    got = host(bdh0), expect_close("dh0", got, rdh0, N * H, 1e-4), free(got);
    got = host(bdc0), expect_close("dc0", got, rdc0, N * H, 1e-4), free(got);
    got = host(bdWx), expect_close("dWx (accumulated)", got, rdWx, D * 4 * H, 1e-4), free(got);
    got = host(bdWh), expect_close("dWh (accumulated)", got, rdWh, H * 4 * H, 1e-4), free(got);
    got = host(bdb), expect_close("db (accumulated)", got, rdb, 4 * H, 1e-4), free(got);

    ref_cache_free(&rc);
    lstmcl_plan_destroy(plan);
    clReleaseMemObject(reserve);
    clReleaseMemObject(workspace);
    release(bx), release(bh0), release(bc0), release(bWx), release(bWh), release(bb);
    release(bh), release(bhT), release(bcT), release(bdh), release(bdhT), release(bdcT);
    release(bdx), release(bdh0), release(bdc0), release(bdWx), release(bdWh), release(bdb);
    free(x), free(h0), free(c0), free(Wx), free(Wh), free(b), free(dh), free(dhT), free(dcT);
    free(g0Wx), free(g0Wh), free(g0b), free(dx_), free(dh0_), free(dc0_), free(dWx_), free(dWh_);
    free(db_), free(ddh), free(rdcT), free(rdx), free(rdh0), free(rdc0), free(rdWx), free(rdWh);
    free(rdb), free(hT), free(cT);
}

START_TEST(full_state_against_reference)
{
    full_state();
}
END_TEST

/* Buffers the host may not map, or only read or only write: the GEMMs that
 * run on the host for CPU devices (lstmcl_context_gemm "onednn") leave
 * their products to CLBlast, with the same results. */
START_TEST(buffers_the_host_cannot_map)
{
    static const cl_mem_flags flags[] = {CL_MEM_HOST_NO_ACCESS, CL_MEM_HOST_READ_ONLY,
                                         CL_MEM_HOST_WRITE_ONLY};
    size_t i;
    for (i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        dev_flags = flags[i];
        full_state();
    }
    dev_flags = 0;
}
END_TEST

/* Two chunks with the state carried over equal one long sequence, forward
 * and backward (truncated BPTT with the gradient carried back too). */
START_TEST(chunks_equal_one_sequence)
{
    const size_t N = 3, T1 = 4, T2 = 5, T = T1 + T2, D = 6, H = 7;
    float *x = tu_floats(N * T * D, 1), *h0 = tu_floats(N * H, 1);
    float *Wx = tu_floats(D * 4 * H, .5), *Wh = tu_floats(H * 4 * H, .5), *b = tu_floats(4 * H, .5);
    float *dh = tu_floats(N * T * H, 1);
    float *x1 = malloc(N * T1 * D * 4), *x2 = malloc(N * T2 * D * 4);
    float *dh1 = malloc(N * T1 * H * 4), *dh2 = malloc(N * T2 * H * 4);
    dbuf bWx = dev(Wx, D * 4 * H, 0), bWh = dev(Wh, H * 4 * H, 0), bb = dev(b, 4 * H, 0);
    dbuf bh0 = dev(h0, N * H, 0), bx, bx1, bx2, bh, bh1, bh2, bdh, bdh1, bdh2;
    dbuf hmid = dev(NULL, N * H, 0), cmid = dev(NULL, N * H, 0);
    dbuf dhmid = dev(NULL, N * H, 0), dcmid = dev(NULL, N * H, 0);
    dbuf gWx = dev(NULL, D * 4 * H, 0), gWh = dev(NULL, H * 4 * H, 0), gb = dev(NULL, 4 * H, 0);
    dbuf cWx = dev(NULL, D * 4 * H, 0), cWh = dev(NULL, H * 4 * H, 0), cb = dev(NULL, 4 * H, 0);
    dbuf gdh0 = dev(NULL, N * H, 0), cdh0 = dev(NULL, N * H, 0);
    lstmcl_plan *p = NULL, *p1 = NULL, *p2 = NULL;
    lstmcl_forward_args fa;
    lstmcl_backward_args ba;
    cl_mem r, r1, r2;
    size_t n;
    float *a, *c;
    double *w;

    for (n = 0; n < N; n++) {
        memcpy(x1 + n * T1 * D, x + n * T * D, T1 * D * 4);
        memcpy(x2 + n * T2 * D, x + (n * T + T1) * D, T2 * D * 4);
        memcpy(dh1 + n * T1 * H, dh + n * T * H, T1 * H * 4);
        memcpy(dh2 + n * T2 * H, dh + (n * T + T1) * H, T2 * H * 4);
    }
    bx = dev(x, N * T * D, 0), bx1 = dev(x1, N * T1 * D, 0), bx2 = dev(x2, N * T2 * D, 0);
    bh = dev(NULL, N * T * H, 0), bh1 = dev(NULL, N * T1 * H, 0), bh2 = dev(NULL, N * T2 * H, 0);
    bdh = dev(dh, N * T * H, 0), bdh1 = dev(dh1, N * T1 * H, 0), bdh2 = dev(dh2, N * T2 * H, 0);
    ck_assert_int_eq(lstmcl_plan_create(&p, ctx, N, T, D, H), LSTMCL_SUCCESS);
    ck_assert_int_eq(lstmcl_plan_create(&p1, ctx, N, T1, D, H), LSTMCL_SUCCESS);
    ck_assert_int_eq(lstmcl_plan_create(&p2, ctx, N, T2, D, H), LSTMCL_SUCCESS);
    r = scratch(p, 1), r1 = scratch(p1, 1), r2 = scratch(p2, 1);

    /* whole sequence */
    memset(&fa, 0, sizeof fa);
    fa.x = T_(bx), fa.h0 = T_(bh0), fa.Wx = T_(bWx), fa.Wh = T_(bWh), fa.b = T_(bb);
    fa.h = T_(bh), fa.reserve = r;
    ck_assert_int_eq(lstmcl_plan_forward(p, &fa), LSTMCL_SUCCESS);
    memset(&ba, 0, sizeof ba);
    ba.x = T_(bx), ba.Wx = T_(bWx), ba.Wh = T_(bWh), ba.dh = T_(bdh), ba.reserve = r;
    ba.dh0 = T_(gdh0), ba.dWx = T_(gWx), ba.dWh = T_(gWh), ba.db = T_(gb);
    ck_assert_int_eq(lstmcl_plan_backward(p, &ba), LSTMCL_SUCCESS);

    /* two chunks: forward 1 → state → forward 2; backward 2 → gradient → backward 1 */
    fa.x = T_(bx1), fa.h = T_(bh1), fa.hT = T_(hmid), fa.cT = T_(cmid), fa.reserve = r1;
    ck_assert_int_eq(lstmcl_plan_forward(p1, &fa), LSTMCL_SUCCESS);
    memset(&fa.hT, 0, sizeof fa.hT), memset(&fa.cT, 0, sizeof fa.cT);
    fa.x = T_(bx2), fa.h0 = T_(hmid), fa.c0 = T_(cmid), fa.h = T_(bh2), fa.reserve = r2;
    ck_assert_int_eq(lstmcl_plan_forward(p2, &fa), LSTMCL_SUCCESS);

    memset(&ba, 0, sizeof ba);
    ba.x = T_(bx2), ba.c0 = T_(cmid), ba.Wx = T_(bWx), ba.Wh = T_(bWh), ba.dh = T_(bdh2);
    ba.dh0 = T_(dhmid), ba.dc0 = T_(dcmid), ba.dWx = T_(cWx), ba.dWh = T_(cWh), ba.db = T_(cb);
    ba.reserve = r2;
    ck_assert_int_eq(lstmcl_plan_backward(p2, &ba), LSTMCL_SUCCESS);
    memset(&ba, 0, sizeof ba);
    ba.x = T_(bx1), ba.Wx = T_(bWx), ba.Wh = T_(bWh), ba.dh = T_(bdh1);
    ba.dhT = T_(dhmid), ba.dcT = T_(dcmid), ba.dh0 = T_(cdh0);
    ba.dWx = T_(cWx), ba.dWh = T_(cWh), ba.db = T_(cb), ba.accumulate = 1;
    ba.reserve = r1;
    ck_assert_int_eq(lstmcl_plan_backward(p1, &ba), LSTMCL_SUCCESS);

    /* compare: h of chunk 2 with the second part of the whole h */
    a = host(bh), c = host(bh2);
    for (n = 0; n < N; n++)
        memmove(a + n * T2 * H, a + (n * T + T1) * H, T2 * H * 4);
    w = tu_doubles(a, N * T2 * H);
    expect_close("h of chunk 2 vs whole", c, w, N * T2 * H, 1e-5);
    free(a), free(c), free(w);
#define SAME(whole, chunked, count, what)                  \
    a = host(whole), c = host(chunked);                    \
    w = tu_doubles(a, count);                              \
    expect_close(what, c, w, count, 1e-5);                 \
    free(a), free(c), free(w)
    SAME(gdh0, cdh0, N * H, "dh0 via chunks");
    SAME(gWx, cWx, D * 4 * H, "dWx via chunks");
    SAME(gWh, cWh, H * 4 * H, "dWh via chunks");
    SAME(gb, cb, 4 * H, "db via chunks");
#undef SAME

    lstmcl_plan_destroy(p), lstmcl_plan_destroy(p1), lstmcl_plan_destroy(p2);
    clReleaseMemObject(r), clReleaseMemObject(r1), clReleaseMemObject(r2);
    release(bWx), release(bWh), release(bb), release(bh0), release(bx), release(bx1);
    release(bx2), release(bh), release(bh1), release(bh2), release(bdh), release(bdh1);
    release(bdh2), release(hmid), release(cmid), release(dhmid), release(dcmid), release(gWx);
    release(gWh), release(gb), release(cWx), release(cWh), release(cb), release(gdh0);
    release(cdh0);
    free(x), free(h0), free(Wx), free(Wh), free(b), free(dh), free(x1), free(x2), free(dh1);
    free(dh2);
}
END_TEST

/* Inference without a reserve, and with h0 and c0 absent (zeros). */
START_TEST(inference_zero_state)
{
    const size_t N = 2, T = 6, D = 5, H = 9;
    float *x = tu_floats(N * T * D, 1), *Wx = tu_floats(D * 4 * H, .5);
    float *Wh = tu_floats(H * 4 * H, .5), *b = tu_floats(4 * H, .5), *zeros = calloc(N * H, 4);
    dbuf bx = dev(x, N * T * D, 1), bWx = dev(Wx, D * 4 * H, 0), bWh = dev(Wh, H * 4 * H, 0);
    dbuf bb = dev(b, 4 * H, 0), bh = dev(NULL, N * T * H, 0);
    double *dx = tu_doubles(x, N * T * D), *dWx = tu_doubles(Wx, D * 4 * H);
    double *dWh = tu_doubles(Wh, H * 4 * H), *db = tu_doubles(b, 4 * H);
    double *dz = tu_doubles(zeros, N * H);
    lstmcl_plan *plan = NULL;
    lstmcl_forward_args fa;
    ref_cache rc;
    float *got;

    ck_assert_int_eq(lstmcl_plan_create(&plan, ctx, N, T, D, H), LSTMCL_SUCCESS);
    memset(&fa, 0, sizeof fa);
    fa.x = T_(bx), fa.Wx = T_(bWx), fa.Wh = T_(bWh), fa.b = T_(bb), fa.h = T_(bh);
    ck_assert_int_eq(lstmcl_plan_forward(plan, &fa), LSTMCL_SUCCESS);
    ck_assert_int_eq(ref_forward(N, T, D, H, dx, dz, NULL, dWx, dWh, db, &rc), 0);
    got = host(bh);
    expect_close("h (inference, zero state)", got, rc.h, N * T * H, 1e-5);
    free(got);
    ref_cache_free(&rc);
    lstmcl_plan_destroy(plan);
    release(bx), release(bWx), release(bWh), release(bb), release(bh);
    free(x), free(Wx), free(Wh), free(b), free(zeros), free(dx), free(dWx), free(dWh), free(db);
    free(dz);
}
END_TEST

/* ---------------------------------------------------------------- errors */

START_TEST(argument_errors)
{
    const size_t N = 2, T = 3, D = 4, H = 5;
    dbuf bx = dev(NULL, N * T * D, 0), bWx = dev(NULL, D * 4 * H, 0);
    dbuf bWh = dev(NULL, H * 4 * H, 0), bb = dev(NULL, 4 * H, 0), bh = dev(NULL, N * T * H, 0);
    dbuf small = dev(NULL, 3, 0);
    lstmcl_plan *plan = NULL;
    lstmcl_forward_args fa;
    lstmcl_backward_args ba;
    cl_context other;
    cl_device_id dev_id = lstmcl_context_device(ctx);
    cl_mem foreign, reserve;
    cl_int err;
    size_t bytes;

    ck_assert_int_eq(lstmcl_plan_create(NULL, ctx, N, T, D, H), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(lstmcl_plan_create(&plan, NULL, N, T, D, H), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(lstmcl_plan_create(&plan, ctx, N, 0, D, H), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_message(ctx), "T is 0"));
    ck_assert_ptr_null(plan);
    ck_assert_int_eq(lstmcl_plan_workspace_size(NULL, &bytes), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(lstmcl_plan_create(&plan, ctx, N, T, D, H), LSTMCL_SUCCESS);
    ck_assert_int_eq(lstmcl_plan_reserve_size(plan, NULL), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(lstmcl_plan_forward(plan, NULL), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(lstmcl_plan_forward(NULL, &fa), LSTMCL_ERROR_INVALID_ARGUMENT);

    memset(&fa, 0, sizeof fa);
    fa.x = T_(bx), fa.Wx = T_(bWx), fa.Wh = T_(bWh), fa.b = T_(bb), fa.h = T_(bh);
    ck_assert_int_eq(lstmcl_plan_forward(plan, &fa), LSTMCL_SUCCESS);

    fa.Wh.mem = NULL; /* required */
    ck_assert_int_eq(lstmcl_plan_forward(plan, &fa), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_message(ctx), "Wh is required"));
    fa.Wh = T_(bWh);

    fa.b.offset = 1; /* one float past the end */
    ck_assert_int_eq(lstmcl_plan_forward(plan, &fa), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_message(ctx), "b needs 20 floats from offset 1"));
    fa.b.offset = 0;

    fa.h0 = T_(small); /* too small */
    ck_assert_int_eq(lstmcl_plan_forward(plan, &fa), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_message(ctx), "h0 needs 10 floats"));
    fa.h0.mem = NULL;

    fa.reserve = small.mem; /* reserve too small */
    ck_assert_int_eq(lstmcl_plan_forward(plan, &fa), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_message(ctx), "reserve"));
    fa.reserve = NULL;
    fa.workspace = small.mem;
    ck_assert_int_eq(lstmcl_plan_forward(plan, &fa), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_message(ctx), "workspace"));
    fa.workspace = NULL;

    /* a buffer of another OpenCL context */
    other = clCreateContext(NULL, 1, &dev_id, NULL, NULL, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    foreign = clCreateBuffer(other, CL_MEM_READ_WRITE, 4096, NULL, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    fa.b.mem = foreign;
    ck_assert_int_eq(lstmcl_plan_forward(plan, &fa), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_message(ctx), "another OpenCL context"));
    fa.b = T_(bb);
    clReleaseMemObject(foreign);
    clReleaseContext(other);

    /* backward without a reserve */
    memset(&ba, 0, sizeof ba);
    ba.x = T_(bx), ba.Wx = T_(bWx), ba.Wh = T_(bWh), ba.dh = T_(bh);
    ck_assert_int_eq(lstmcl_plan_backward(plan, &ba), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_message(ctx), "reserve is NULL"));

    /* the context still works */
    reserve = scratch(plan, 1);
    fa.reserve = reserve;
    ck_assert_int_eq(lstmcl_plan_forward(plan, &fa), LSTMCL_SUCCESS);
    ba.reserve = reserve;
    ba.dWh = T_(bWx); /* wrong size for dWh: D*4H < H*4H here */
    ck_assert_int_eq(lstmcl_plan_backward(plan, &ba), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_message(ctx), "dWh"));
    ba.dWh.mem = NULL;
    ck_assert_int_eq(lstmcl_plan_backward(plan, &ba), LSTMCL_SUCCESS);
    ck_assert_int_eq(clFinish(queue), CL_SUCCESS);
    clReleaseMemObject(reserve);
    lstmcl_plan_destroy(plan);
    lstmcl_plan_destroy(NULL);
    release(bx), release(bWx), release(bWh), release(bb), release(bh), release(small);
}
END_TEST

/* A plan outlived by its context can still be destroyed, and refuses work. */
START_TEST(plan_after_context)
{
    lstmcl_context *c2 = NULL;
    lstmcl_plan *plan = NULL;
    lstmcl_forward_args fa;
    ck_assert_int_eq(lstmcl_context_create(&c2, NULL), LSTMCL_SUCCESS);
    ck_assert_int_eq(lstmcl_plan_create(&plan, c2, 1, 2, 3, 4), LSTMCL_SUCCESS);
    lstmcl_context_destroy(c2);
    memset(&fa, 0, sizeof fa);
    ck_assert_int_eq(lstmcl_plan_forward(plan, &fa), LSTMCL_ERROR_INVALID_ARGUMENT);
    lstmcl_plan_destroy(plan);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("device buffers");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, full_state_against_reference, 0, 8);
    tcase_add_test(tc, buffers_the_host_cannot_map);
    tcase_add_test(tc, chunks_equal_one_sequence);
    tcase_add_test(tc, inference_zero_state);
    tcase_add_test(tc, argument_errors);
    tcase_add_test(tc, plan_after_context);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
