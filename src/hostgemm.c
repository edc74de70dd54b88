/* GEMMs on the host for CPU devices: oneDNN's sgemm, run on the device's
 * own memory through clEnqueueMapBuffer.
 *
 * A CPU device whose memory is the host's (CL_DEVICE_HOST_UNIFIED_MEMORY)
 * maps a buffer without a copy, so the host can run the product where the
 * device keeps the data.  oneDNN's JIT sgemm reaches about twice the speed
 * of CLBlast's OpenCL kernels under PoCL (docs/performance.md); the gate and
 * cell math stays in lstmcl's kernels.  Each call maps the regions the
 * product touches (one map per buffer), which waits for the queue's earlier
 * work, multiplies, and unmaps, so later work on the queue sees the result.
 * A buffer the host may not read or write (CL_MEM_HOST_*) goes to CLBlast. */
#include "internal.h"

#ifdef LSTMCL_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#endif
#ifdef LSTMCL_HAVE_OPENMP
#include <omp.h>
#endif

int lstmcl__onednn_built(void)
{
#ifdef LSTMCL_HAVE_ONEDNN
    return 1;
#else
    return 0;
#endif
}

const char *lstmcl__gemm_name(lstmcl_gemm_backend g)
{
    return g == LSTMCL_GEMM_ONEDNN ? "onednn" : "clblast";
}

#ifdef LSTMCL_HAVE_ONEDNN
/* Floats spanned by a rows x cols matrix with leading dimension ld. */
static size_t extent(int col_major, size_t rows, size_t cols, size_t ld)
{
    return col_major ? (cols - 1) * ld + rows : (rows - 1) * ld + cols;
}

typedef struct {
    cl_mem mem;
    size_t lo, hi;    /* floats [lo, hi) of the buffer */
    int write;
    float *ptr;       /* the mapping of lo */
} mapped;

/* Adds matrix (mem, off, count floats) to the set of regions to map. */
static int add_region(mapped *r, int n, cl_mem mem, size_t off, size_t count, int write)
{
    int i;
    for (i = 0; i < n; i++) {
        if (r[i].mem == mem) {
            if (off < r[i].lo)
                r[i].lo = off;
            if (off + count > r[i].hi)
                r[i].hi = off + count;
            r[i].write |= write;
            return n;
        }
    }
    r[n].mem = mem, r[n].lo = off, r[n].hi = off + count, r[n].write = write, r[n].ptr = NULL;
    return n + 1;
}

/* Whether the host may map the buffer as the product needs. */
static int host_may_map(cl_mem mem, int write)
{
    cl_mem_flags flags = 0;
    if (clGetMemObjectInfo(mem, CL_MEM_FLAGS, sizeof flags, &flags, NULL) != CL_SUCCESS)
        return 0;
    if (flags & CL_MEM_HOST_NO_ACCESS)
        return 0;
    if ((flags & CL_MEM_HOST_WRITE_ONLY) || (write && (flags & CL_MEM_HOST_READ_ONLY)))
        return 0;
    return 1;
}

/* Row-major products of at least this many rows take B (N x K, stored
 * transposed) as a transposed copy: oneDNN 2.6's sgemm runs NT at about 150
 * GFLOP/s here, NN at 205 (docs/performance.md), and the copy (about 2 ns a
 * float) paid from a few hundred rows on in standalone timings. */
#define TRANSPOSE_ROWS 1024

/* B^T (K x N, leading dimension N) of B (N x K, leading dimension ldb) in the
 * context's host scratch; NULL when that cannot be had (then no copy). */
static const float *transposed(lstmcl_context *ctx, const float *B, size_t ldb, size_t N,
                               size_t K)
{
    size_t n0, k0, n, k;
    if (K != 0 && N > SIZE_MAX / sizeof(float) / K)
        return NULL;
    if (ctx->host_tmp_floats < N * K) {
        float *p = realloc(ctx->host_tmp, N * K * sizeof(float));
        if (!p)
            return NULL;
        ctx->host_tmp = p, ctx->host_tmp_floats = N * K;
    }
    for (n0 = 0; n0 < N; n0 += 32)
        for (k0 = 0; k0 < K; k0 += 32) {
            const size_t n1 = n0 + 32 < N ? n0 + 32 : N, k1 = k0 + 32 < K ? k0 + 32 : K;
            for (k = k0; k < k1; k++)
                for (n = n0; n < n1; n++)
                    ctx->host_tmp[k * N + n] = B[n * ldb + k];
        }
    return ctx->host_tmp;
}

/* A row-major product C = op(A)·op(B), or a share of one. */
typedef struct {
    int t1, t2;
    size_t rows, cols, k, ld1, ld2, ldc;
    float alpha, beta;
    const float *p1, *p2;
    float *pc;
    dnnl_status_t st;
} product;

static void product_run(product *p)
{
    p->st = dnnl_sgemm(p->t1 ? 'T' : 'N', p->t2 ? 'T' : 'N', (dnnl_dim_t)p->rows,
                       (dnnl_dim_t)p->cols, (dnnl_dim_t)p->k, p->alpha, p->p1,
                       (dnnl_dim_t)p->ld1, p->p2, (dnnl_dim_t)p->ld2, p->beta, p->pc,
                       (dnnl_dim_t)p->ldc);
}

#ifdef LSTMCL_HAVE_OPENMP
/* Products of fewer multiply-adds run on the calling thread alone, and a
 * share has at least SHARE_MACS of them (a thread costs tens of µs). */
#define SPLIT_MACS (1u << 23)
#define SHARE_MACS (1u << 22)
#define MAX_SHARES 64

/* oneDNN's sgemm on one thread: the OpenMP thread count of the calling
 * thread set to 1, and put back after. */
static void product_run_alone(product *p)
{
    const int prev = omp_get_max_threads();
    omp_set_num_threads(1);
    product_run(p);
    omp_set_num_threads(prev);
}

static void *product_thread(void *arg)
{
    omp_set_num_threads(1); /* this thread's own setting */
    product_run(arg);
    return NULL;
}

/* The product split into shares of C's rows (or columns, when it has more),
 * one per compute unit, each on a thread of its own with oneDNN's sgemm on
 * one thread.  Not oneDNN's OpenMP team: after each parallel region its
 * threads spin for milliseconds, on the cores the device's next kernels
 * need (measured: a forward at N=16 T=150 D=H=256 took 21% longer). */
static dnnl_status_t product_split(const lstmcl_context *ctx, const product *whole)
{
    product share[MAX_SHARES];
    pthread_t thread[MAX_SHARES];
    int started[MAX_SHARES] = {0};
    const int by_rows = whole->rows >= whole->cols;
    const size_t extent = by_rows ? whole->rows : whole->cols;
    const double macs = (double)whole->rows * whole->cols * whole->k;
    size_t units = ctx->compute_units < MAX_SHARES ? ctx->compute_units : MAX_SHARES;
    size_t chunk, i, n = 0;
    dnnl_status_t st = dnnl_success;

    if (macs < (double)units * SHARE_MACS)
        units = (size_t)(macs / SHARE_MACS);
    if (units < 2 || macs < SPLIT_MACS) {
        share[0] = *whole;
        product_run_alone(&share[0]);
        return share[0].st;
    }
    chunk = (extent + units - 1) / units;
    chunk = (chunk + 15) / 16 * 16; /* whole blocks of 16 for oneDNN's kernels */
    for (i = 0; i * chunk < extent; i++, n++) {
        const size_t lo = i * chunk, len = extent - lo < chunk ? extent - lo : chunk;
        product *p = &share[i];
        *p = *whole;
        if (by_rows) {
            p->rows = len;
            p->p1 += p->t1 ? lo : lo * p->ld1;
            p->pc += lo * p->ldc;
        } else {
            p->cols = len;
            p->p2 += p->t2 ? lo * p->ld2 : lo;
            p->pc += lo;
        }
    }
    for (i = 1; i < n; i++) /* a thread that cannot start leaves its share to this one */
        started[i] = pthread_create(&thread[i], NULL, product_thread, &share[i]) == 0;
    product_run_alone(&share[0]);
    for (i = 1; i < n; i++) {
        if (started[i])
            pthread_join(thread[i], NULL);
        else
            product_run_alone(&share[i]);
    }
    for (i = 0; i < n && st == dnnl_success; i++)
        st = share[i].st;
    return st;
}
#else
static dnnl_status_t product_split(const lstmcl_context *ctx, const product *whole)
{
    product p = *whole;
    (void)ctx;
    product_run(&p);
    return p.st;
}
#endif

static float *at(const mapped *r, int n, cl_mem mem, size_t off)
{
    int i;
    for (i = 0; i < n; i++)
        if (r[i].mem == mem)
            return r[i].ptr + (off - r[i].lo);
    return NULL;
}
#endif

lstmcl_status lstmcl__gemm_host(lstmcl_context *ctx, int col_major, int trans_a, int trans_b,
                                size_t m, size_t n, size_t k, float alpha, cl_mem a,
                                size_t a_off, size_t lda, cl_mem b, size_t b_off, size_t ldb,
                                float beta, cl_mem c, size_t c_off, size_t ldc, int *done)
{
#ifdef LSTMCL_HAVE_ONEDNN
    mapped r[3];
    int nr = 0, i;
    cl_int err = CL_SUCCESS;
    lstmcl_status st = LSTMCL_SUCCESS;
    dnnl_status_t ds;

    *done = 0;
    nr = add_region(r, nr, a, a_off,
                    extent(col_major, trans_a ? k : m, trans_a ? m : k, lda), 0);
    nr = add_region(r, nr, b, b_off,
                    extent(col_major, trans_b ? n : k, trans_b ? k : n, ldb), 0);
    nr = add_region(r, nr, c, c_off, extent(col_major, m, n, ldc), 1);
    for (i = 0; i < nr; i++)
        if (!host_may_map(r[i].mem, r[i].write))
            return LSTMCL_SUCCESS; /* not done: CLBlast's turn */

    /* blocking maps: on lstmcl's in-order queue they wait for the work
     * enqueued before, which produced the operands */
    for (i = 0; i < nr && err == CL_SUCCESS; i++) {
        const cl_map_flags flags = r[i].write ? (CL_MAP_READ | CL_MAP_WRITE) : CL_MAP_READ;
        if (lstmcl__inject()) {
            err = CL_MAP_FAILURE;
            break;
        }
        r[i].ptr = clEnqueueMapBuffer(ctx->queue, r[i].mem, CL_TRUE, flags,
                                      r[i].lo * sizeof(float),
                                      (r[i].hi - r[i].lo) * sizeof(float), 0, NULL, NULL, &err);
        if (err == CL_SUCCESS && !r[i].ptr)
            err = CL_MAP_FAILURE;
        if (err != CL_SUCCESS)
            r[i].ptr = NULL;
    }
    if (err != CL_SUCCESS) {
        st = lstmcl__fail_cl(ctx, err, "clEnqueueMapBuffer (for oneDNN's sgemm)");
    } else {
        /* dnnl_sgemm is row-major; a column-major C is the row-major C^T = B^T A^T */
        product p;
        const float *pt = NULL;
        p.t1 = trans_a, p.t2 = trans_b, p.rows = m, p.cols = n, p.k = k;
        p.p1 = at(r, nr, a, a_off), p.ld1 = lda, p.p2 = at(r, nr, b, b_off), p.ld2 = ldb;
        p.pc = at(r, nr, c, c_off), p.ldc = ldc, p.alpha = alpha, p.beta = beta;
        if (col_major) {
            p.t1 = trans_b, p.t2 = trans_a, p.rows = n, p.cols = m;
            p.p1 = at(r, nr, b, b_off), p.ld1 = ldb, p.p2 = at(r, nr, a, a_off), p.ld2 = lda;
        }
        if (p.t2 && p.rows >= TRANSPOSE_ROWS &&
            (pt = transposed(ctx, p.p2, p.ld2, p.cols, k)) != NULL)
            p.p2 = pt, p.t2 = 0, p.ld2 = p.cols;
        ds = product_split(ctx, &p);
        if (ds != dnnl_success)
            st = lstmcl__fail(ctx,
                              ds == dnnl_out_of_memory ? LSTMCL_ERROR_OUT_OF_HOST_MEMORY
                                                       : LSTMCL_ERROR_INVALID_ARGUMENT,
                              "oneDNN's sgemm(%s%s, %zux%zux%zu) failed: dnnl status %d",
                              trans_a ? "T" : "N", trans_b ? "T" : "N", m, n, k, (int)ds);
    }
    for (i = 0; i < nr; i++) {
        if (r[i].ptr) {
            cl_int e = clEnqueueUnmapMemObject(ctx->queue, r[i].mem, r[i].ptr, 0, NULL, NULL);
            if (e != CL_SUCCESS && st == LSTMCL_SUCCESS)
                st = lstmcl__fail_cl(ctx, e, "clEnqueueUnmapMemObject (after oneDNN's sgemm)");
        }
    }
    if (st == LSTMCL_SUCCESS) {
        ctx->counters.gemms++;
        *done = 1;
    }
    return st;
#else
    (void)ctx, (void)col_major, (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k;
    (void)alpha, (void)a, (void)a_off, (void)lda, (void)b, (void)b_off, (void)ldb, (void)beta;
    (void)c, (void)c_off, (void)ldc;
    *done = 0;
    return LSTMCL_SUCCESS;
#endif
}
