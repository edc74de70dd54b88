/* Device buffers reused across calls, and the GEMM wrapper (CLBlast, or
 * oneDNN on the host: hostgemm.c). */
#include "internal.h"

#include <clblast_c.h>

static void pool_drain(lstmcl_context *ctx)
{
    int i;
    for (i = 0; i < ctx->npool; i++)
        clReleaseMemObject(ctx->pool[i].mem);
    ctx->npool = 0;
}

cl_mem lstmcl__create_buffer(lstmcl_context *ctx, size_t bytes, cl_int *err)
{
    if (lstmcl__inject()) {
        *err = CL_MEM_OBJECT_ALLOCATION_FAILURE;
        return NULL;
    }
    return clCreateBuffer(ctx->clctx, CL_MEM_READ_WRITE, bytes, NULL, err);
}

lstmcl_status lstmcl__buffer_get(lstmcl_context *ctx, size_t bytes, cl_mem *out)
{
    cl_int err;
    int i;

    *out = NULL;
    if (bytes == 0)
        bytes = sizeof(float);
    for (i = ctx->npool - 1; i >= 0; i--) {
        if (ctx->pool[i].bytes == bytes) {
            *out = ctx->pool[i].mem;
            ctx->pool[i] = ctx->pool[--ctx->npool];
            return LSTMCL_SUCCESS;
        }
    }
    if ((cl_ulong)bytes > ctx->max_alloc)
        return lstmcl__fail(ctx, LSTMCL_ERROR_TOO_LARGE,
                            "a buffer of %zu bytes exceeds the device's "
                            "CL_DEVICE_MAX_MEM_ALLOC_SIZE (%llu bytes)",
                            bytes, (unsigned long long)ctx->max_alloc);
    *out = lstmcl__create_buffer(ctx, bytes, &err);
    if (err != CL_SUCCESS && ctx->npool > 0) {
        /* Buffers of other sizes may be what fills the device: let them go. */
        pool_drain(ctx);
        *out = lstmcl__create_buffer(ctx, bytes, &err);
    }
    if (err != CL_SUCCESS) {
        *out = NULL;
        return lstmcl__fail_cl(ctx, err, "clCreateBuffer");
    }
    return LSTMCL_SUCCESS;
}

void lstmcl__buffer_put(lstmcl_context *ctx, cl_mem mem, size_t bytes)
{
    if (!mem)
        return;
    if (bytes == 0)
        bytes = sizeof(float);
    if (ctx->npool == LSTMCL_POOL_MAX) {
        /* Full: drop the oldest, which is the least likely to be asked for. */
        clReleaseMemObject(ctx->pool[0].mem);
        ctx->pool[0] = ctx->pool[--ctx->npool];
    }
    ctx->pool[ctx->npool].mem = mem;
    ctx->pool[ctx->npool].bytes = bytes;
    ctx->npool++;
}

static lstmcl_status clblast_temp(lstmcl_context *ctx, int col_major, int trans_a, int trans_b,
                                  size_t m, size_t n, size_t k, size_t a_off, size_t lda,
                                  size_t b_off, size_t ldb, size_t c_off, size_t ldc,
                                  size_t *bytes)
{
    CLBlastStatusCode s = CLBlastSGemmTempBufferSize(
        col_major ? CLBlastLayoutColMajor : CLBlastLayoutRowMajor,
        trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
        trans_b ? CLBlastTransposeYes : CLBlastTransposeNo, m, n, k, a_off, lda, b_off, ldb, c_off,
        ldc, &ctx->queue, bytes);
    if (s != CLBlastSuccess)
        return lstmcl__fail(ctx, LSTMCL_ERROR_CLBLAST,
                            "CLBlastSGemmTempBufferSize(%zux%zux%zu) failed: %d", m, n, k, (int)s);
    return LSTMCL_SUCCESS;
}

lstmcl_status lstmcl__gemm_temp(lstmcl_context *ctx, int col_major, int trans_a, int trans_b,
                                size_t m, size_t n, size_t k, size_t a_off, size_t lda,
                                size_t b_off, size_t ldb, size_t c_off, size_t ldc, size_t *bytes)
{
    if (ctx->gemm == LSTMCL_GEMM_ONEDNN) {
        *bytes = 0; /* oneDNN reads the operands where they are */
        return LSTMCL_SUCCESS;
    }
    return clblast_temp(ctx, col_major, trans_a, trans_b, m, n, k, a_off, lda, b_off, ldb, c_off,
                        ldc, bytes);
}

lstmcl_status lstmcl__gemm_ex(lstmcl_context *ctx, int col_major, int trans_a, int trans_b,
                              size_t m, size_t n, size_t k, float alpha, cl_mem a, size_t a_off,
                              size_t lda, cl_mem b, size_t b_off, size_t ldb, float beta, cl_mem c,
                              size_t c_off, size_t ldc)
{
    const CLBlastTranspose ta = trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
    const CLBlastTranspose tb = trans_b ? CLBlastTransposeYes : CLBlastTransposeNo;
    const CLBlastLayout layout = col_major ? CLBlastLayoutColMajor : CLBlastLayoutRowMajor;
    size_t temp_bytes = 0;
    CLBlastStatusCode s;
    lstmcl_status st;

    if (m == 0 || n == 0 || k == 0)
        return LSTMCL_SUCCESS; /* CLBlast rejects empty products */
    if (lstmcl__inject())
        return lstmcl__fail(ctx, LSTMCL_ERROR_CLBLAST,
                            "GEMM(%zux%zux%zu) failed: injected fault", m, n, k);
    if (ctx->gemm == LSTMCL_GEMM_ONEDNN) {
        int done = 0;
        st = lstmcl__gemm_host(ctx, col_major, trans_a, trans_b, m, n, k, alpha, a, a_off, lda, b,
                               b_off, ldb, beta, c, c_off, ldc, &done);
        if (st != LSTMCL_SUCCESS || done)
            return st;
    }
    st = clblast_temp(ctx, col_major, trans_a, trans_b, m, n, k, a_off, lda, b_off, ldb, c_off,
                      ldc, &temp_bytes);
    if (st != LSTMCL_SUCCESS)
        return st;
    /* CLBlast would allocate its scratch on every call; keep one that grows. */
    if (temp_bytes > ctx->gemm_temp_bytes) {
        cl_int err;
        if (ctx->gemm_temp)
            clReleaseMemObject(ctx->gemm_temp);
        ctx->gemm_temp = NULL;
        ctx->gemm_temp_bytes = 0;
        if ((cl_ulong)temp_bytes > ctx->max_alloc)
            return lstmcl__fail(ctx, LSTMCL_ERROR_TOO_LARGE,
                                "CLBlast's scratch for a %zux%zux%zu GEMM (%zu bytes) exceeds the "
                                "device's CL_DEVICE_MAX_MEM_ALLOC_SIZE (%llu bytes)",
                                m, n, k, temp_bytes, (unsigned long long)ctx->max_alloc);
        ctx->gemm_temp = lstmcl__create_buffer(ctx, temp_bytes, &err);
        if (err != CL_SUCCESS) {
            ctx->gemm_temp = NULL;
            return lstmcl__fail_cl(ctx, err, "clCreateBuffer(GEMM scratch)");
        }
        ctx->gemm_temp_bytes = temp_bytes;
    }
    s = CLBlastSgemmWithTempBuffer(layout, ta, tb, m, n, k, alpha, a, a_off, lda, b, b_off, ldb,
                                   beta, c, c_off, ldc, &ctx->queue, NULL,
                                   temp_bytes ? ctx->gemm_temp : NULL);
    if (s != CLBlastSuccess)
        return lstmcl__fail(ctx, s == CLBlastTempBufferAllocFailure
                                     ? LSTMCL_ERROR_OUT_OF_DEVICE_MEMORY
                                     : LSTMCL_ERROR_CLBLAST,
                            "CLBlastSgemm(%s%s, %zux%zux%zu) failed: CLBlast status %d",
                            trans_a ? "T" : "N", trans_b ? "T" : "N", m, n, k, (int)s);
    ctx->counters.gemms++;
    if (temp_bytes)
        ctx->counters.gemms_copying++;
    return LSTMCL_SUCCESS;
}

lstmcl_status lstmcl__gemm(lstmcl_context *ctx, int trans_a, int trans_b, size_t m, size_t n,
                           size_t k, float alpha, cl_mem a, size_t a_off, size_t lda, cl_mem b,
                           size_t b_off, size_t ldb, float beta, cl_mem c, size_t c_off,
                           size_t ldc)
{
    return lstmcl__gemm_ex(ctx, 0, trans_a, trans_b, m, n, k, alpha, a, a_off, lda, b, b_off, ldb,
                           beta, c, c_off, ldc);
}
