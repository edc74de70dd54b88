/* Training building blocks around the LSTM layers (lstmcl_train.h). */
#include "lstmcl_train.h"
#include "internal.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define CHECK(name, t, n, req)                                                     \
    do {                                                                           \
        lstmcl_status st_ = lstmcl__check_tensor(ctx, fn, name, &(t), (n), (req)); \
        if (st_ != LSTMCL_SUCCESS)                                                 \
            return st_;                                                            \
    } while (0)

/* Sizes are non-zero, and every matrix they make (a×b, b×c, a×c) fits the
 * kernels' int indexing. */
static lstmcl_status check_sizes(lstmcl_context *ctx, const char *fn, size_t a, size_t b,
                                 size_t c)
{
    const size_t lim = (size_t)INT_MAX;
    if (a == 0 || b == 0 || c == 0)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                            "%s: sizes must be at least 1 (got %zu, %zu, %zu)", fn, a, b, c);
    if (a > lim / b || b > lim / c || a > lim / c)
        return lstmcl__fail(ctx, LSTMCL_ERROR_TOO_LARGE,
                            "%s: sizes %zu x %zu x %zu exceed lstmcl's index range", fn, a, b,
                            c);
    return LSTMCL_SUCCESS;
}

#define START(fnname)                       \
    static const char fn[] = fnname;        \
    lstmcl_status st;                       \
    if (!ctx)                               \
        return LSTMCL_ERROR_INVALID_ARGUMENT

lstmcl_status lstmcl_embedding_forward(lstmcl_context *ctx, size_t n, size_t D, size_t V,
                                       lstmcl_tensor tokens, lstmcl_tensor table,
                                       lstmcl_tensor out)
{
    LSTMCL_LOCKED(ctx);
    START("lstmcl_embedding_forward");
    if ((st = check_sizes(ctx, fn, n, D, V)))
        return st;
    CHECK("tokens", tokens, n, 1);
    CHECK("table", table, V * D, 1);
    CHECK("out", out, n * D, 1);
    return LSTMCL_RUN(ctx, lstm_embed_fwd, lstmcl__items(D, n), .n = n, .D = D, .V = V,
                      .tokens = tokens.mem, .t_off = tokens.offset, .table = table.mem,
                      .tb_off = table.offset, .out = out.mem, .o_off = out.offset);
}

/* Zeroes `bytes` of buf from byte `at`. */
static lstmcl_status fill_zero(lstmcl_context *ctx, cl_mem buf, size_t at, size_t bytes)
{
    const cl_int zero = 0;
    cl_int err = LSTMCL_INJECT(CL_OUT_OF_RESOURCES,
                               clEnqueueFillBuffer(ctx->queue, buf, &zero, sizeof zero, at, bytes,
                                                   0, NULL, NULL));
    return err == CL_SUCCESS ? LSTMCL_SUCCESS : lstmcl__fail_cl(ctx, err, "clEnqueueFillBuffer");
}

lstmcl_status lstmcl_embedding_backward(lstmcl_context *ctx, size_t n, size_t D, size_t V,
                                        lstmcl_tensor tokens, lstmcl_tensor dout,
                                        lstmcl_tensor dtable, int accumulate)
{
    LSTMCL_LOCKED(ctx);
    START("lstmcl_embedding_backward");
    size_t C, chunk, cap, bytes;
    cl_mem scratch = NULL;
    if ((st = check_sizes(ctx, fn, n, D, V)))
        return st;
    CHECK("tokens", tokens, n, 1);
    CHECK("dout", dout, n * D, 1);
    CHECK("dtable", dtable, V * D, 1);
    /* a stable counting sort of the positions by token (cl/train.cl) over C
     * chunks of up to 256 tokens, fewer when the V·C counts would pass 2^22;
     * a function of n and V only */
    C = (n + 255) / 256;
    cap = V < ((size_t)1 << 22) ? ((size_t)1 << 22) / V : 1;
    if (C > cap)
        C = cap;
    chunk = (n + C - 1) / C;
    C = (n + chunk - 1) / chunk;
    if (V * C + V + 1 + n > (size_t)INT_MAX)
        return lstmcl__fail(ctx, LSTMCL_ERROR_TOO_LARGE,
                            "%s: n=%zu and V=%zu need more scratch than lstmcl's index range", fn,
                            n, V);
    bytes = (V * C + V + 1 + n) * sizeof(cl_int);
    if ((st = lstmcl__buffer_get(ctx, bytes, &scratch)))
        return st;
    st = fill_zero(ctx, scratch, 0, V * C * sizeof(cl_int));
    if (st == LSTMCL_SUCCESS)
        st = LSTMCL_RUN(ctx, lstm_embed_count, lstmcl__items(C, 1), .n = n, .V = V,
                        .chunk = chunk, .C = C, .tokens = tokens.mem, .t_off = tokens.offset,
                        .scratch = scratch);
    if (st == LSTMCL_SUCCESS)
        st = LSTMCL_RUN(ctx, lstm_embed_scan, lstmcl__items(V, 1), .V = V, .C = C,
                        .scratch = scratch);
    if (st == LSTMCL_SUCCESS)
        st = LSTMCL_RUN(ctx, lstm_embed_starts, lstmcl__items(1, 1), .V = V, .C = C,
                        .scratch = scratch);
    if (st == LSTMCL_SUCCESS)
        st = LSTMCL_RUN(ctx, lstm_embed_place, lstmcl__items(C, 1), .n = n, .V = V,
                        .chunk = chunk, .C = C, .tokens = tokens.mem, .t_off = tokens.offset,
                        .scratch = scratch);
    if (st == LSTMCL_SUCCESS)
        st = LSTMCL_RUN(ctx, lstm_embed_gather, lstmcl__items(D, V), .D = D, .V = V, .C = C,
                        .scratch = scratch, .dout = dout.mem, .o_off = dout.offset,
                        .dtable = dtable.mem, .tb_off = dtable.offset,
                        .accumulate = accumulate != 0);
    /* back to the pool: a later user is behind these kernels in the queue */
    lstmcl__buffer_put(ctx, scratch, bytes);
    if (st != LSTMCL_SUCCESS)
        clFinish(ctx->queue);
    return st;
}

/* column sums of m (rows, cols) into out, or added to it */
static lstmcl_status colsum(lstmcl_context *ctx, size_t rows, size_t cols, lstmcl_tensor m,
                            lstmcl_tensor out, int accumulate)
{
    size_t parts, chunk;
    cl_mem part = NULL;
    lstmcl_status st;
    lstmcl__colsum_parts(rows, &parts, &chunk);
    if ((st = lstmcl__buffer_get(ctx, parts * cols * sizeof(float), &part)))
        return st;
    st = lstmcl__colsum(ctx, rows, cols, m.mem, m.offset, out.mem, out.offset, accumulate, part,
                        0);
    lstmcl__buffer_put(ctx, part, parts * cols * sizeof(float));
    return st;
}

lstmcl_status lstmcl_linear_forward(lstmcl_context *ctx, size_t rows, size_t in, size_t out,
                                    lstmcl_tensor x, lstmcl_tensor W, lstmcl_tensor b,
                                    lstmcl_tensor y)
{
    LSTMCL_LOCKED(ctx);
    START("lstmcl_linear_forward");
    if ((st = check_sizes(ctx, fn, rows, in, out)))
        return st;
    CHECK("x", x, rows * in, 1);
    CHECK("W", W, in * out, 1);
    CHECK("b", b, out, 0);
    CHECK("y", y, rows * out, 1);
    st = lstmcl__gemm(ctx, 0, 0, rows, out, in, 1.0f, x.mem, x.offset, in, W.mem, W.offset, out,
                      0.0f, y.mem, y.offset, out);
    if (st == LSTMCL_SUCCESS && b.mem)
        st = LSTMCL_RUN(ctx, lstm_add_bias, lstmcl__items(out, rows), .rows = rows, .cols = out,
                        .m = y.mem, .m_off = y.offset, .b = b.mem, .b_off = b.offset);
    return st;
}

lstmcl_status lstmcl_linear_backward(lstmcl_context *ctx, size_t rows, size_t in, size_t out,
                                     lstmcl_tensor x, lstmcl_tensor W, lstmcl_tensor dy,
                                     lstmcl_tensor dx, lstmcl_tensor dW, lstmcl_tensor db,
                                     int accumulate)
{
    LSTMCL_LOCKED(ctx);
    START("lstmcl_linear_backward");
    const float beta = accumulate ? 1.0f : 0.0f;
    if ((st = check_sizes(ctx, fn, rows, in, out)))
        return st;
    CHECK("x", x, rows * in, 1);
    CHECK("W", W, in * out, 1);
    CHECK("dy", dy, rows * out, 1);
    CHECK("dx", dx, rows * in, 0);
    CHECK("dW", dW, in * out, 0);
    CHECK("db", db, out, 0);
    if (dx.mem &&
        (st = lstmcl__gemm(ctx, 0, 1, rows, in, out, 1.0f, dy.mem, dy.offset, out, W.mem,
                           W.offset, out, 0.0f, dx.mem, dx.offset, in)))
        return st;
    if (dW.mem &&
        (st = lstmcl__gemm(ctx, 1, 0, in, out, rows, 1.0f, x.mem, x.offset, in, dy.mem,
                           dy.offset, out, beta, dW.mem, dW.offset, out)))
        return st;
    if (db.mem)
        return colsum(ctx, rows, out, dy, db, accumulate);
    return LSTMCL_SUCCESS;
}

lstmcl_status lstmcl_softmax_cross_entropy(lstmcl_context *ctx, size_t rows, size_t V,
                                           lstmcl_tensor logits, lstmcl_tensor targets,
                                           lstmcl_tensor loss, lstmcl_tensor dlogits,
                                           float scale)
{
    LSTMCL_LOCKED(ctx);
    START("lstmcl_softmax_cross_entropy");
    if ((st = check_sizes(ctx, fn, rows, V, 1)))
        return st;
    CHECK("logits", logits, rows * V, 1);
    CHECK("targets", targets, rows, 1);
    CHECK("loss", loss, rows, 1);
    CHECK("dlogits", dlogits, rows * V, 0);
    return LSTMCL_RUN(ctx, lstm_softmax_xent, lstmcl__items(rows, 1), .rows = rows, .V = V,
                      .z = logits.mem, .z_off = logits.offset, .targets = targets.mem,
                      .t_off = targets.offset, .loss = loss.mem, .l_off = loss.offset,
                      .dz = dlogits.mem, .dz_off = dlogits.offset, .scale = scale);
}

/* The sum of squares of x (count floats) in two fixed-order stages into
 * out[0], or with clip >= 0 the clipping scale and the norm into out[0..1]
 * (cl/train.cl). */
enum { SQ_PARTS = 1024 };

static lstmcl_status sum_squares(lstmcl_context *ctx, size_t count, lstmcl_tensor x,
                                 float clip, cl_mem out, size_t out_off)
{
    const size_t parts = count < SQ_PARTS ? count : SQ_PARTS;
    cl_mem part = NULL;
    lstmcl_status st;
    if ((st = lstmcl__buffer_get(ctx, SQ_PARTS * sizeof(float), &part)))
        return st;
    st = LSTMCL_RUN(ctx, lstm_sum_squares, lstmcl__items(parts, 1), .count = count,
                    .parts = parts, .x = x.mem, .x_off = x.offset, .partial = part);
    if (st == LSTMCL_SUCCESS)
        st = LSTMCL_RUN(ctx, lstm_sum_squares_final, lstmcl__items(1, 1), .parts = parts,
                        .partial = part, .out = out, .out_off = out_off, .clip = clip);
    lstmcl__buffer_put(ctx, part, SQ_PARTS * sizeof(float));
    return st;
}

lstmcl_status lstmcl_sum_squares(lstmcl_context *ctx, size_t count, lstmcl_tensor x,
                                 double *result)
{
    LSTMCL_LOCKED(ctx);
    START("lstmcl_sum_squares");
    cl_mem buf = NULL;
    float sum = 0.0f;
    cl_int err;

    if (!result)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT, "%s: result is NULL", fn);
    if ((st = check_sizes(ctx, fn, count, 1, 1)))
        return st;
    CHECK("x", x, count, 1);
    if ((st = lstmcl__buffer_get(ctx, sizeof(float), &buf)))
        return st;
    st = sum_squares(ctx, count, x, -1.0f, buf, 0);
    if (st == LSTMCL_SUCCESS) {
        err = LSTMCL_INJECT(CL_OUT_OF_RESOURCES,
                            clEnqueueReadBuffer(ctx->queue, buf, CL_TRUE, 0, sizeof sum, &sum, 0,
                                                NULL, NULL));
        if (err != CL_SUCCESS)
            st = lstmcl__fail_cl(ctx, err, "reading the sum of squares");
    }
    lstmcl__buffer_put(ctx, buf, sizeof(float));
    if (st != LSTMCL_SUCCESS)
        return st;
    *result = sum;
    return LSTMCL_SUCCESS;
}

lstmcl_status lstmcl_clip_scale(lstmcl_context *ctx, size_t count, lstmcl_tensor x,
                                float max_norm, lstmcl_tensor out)
{
    LSTMCL_LOCKED(ctx);
    START("lstmcl_clip_scale");
    if (!(max_norm >= 0) || !isfinite(max_norm))
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                            "%s: max_norm must be finite and at least 0 (0: no clipping)", fn);
    if ((st = check_sizes(ctx, fn, count, 1, 1)))
        return st;
    CHECK("x", x, count, 1);
    CHECK("out", out, 2, 1);
    return sum_squares(ctx, count, x, max_norm, out.mem, out.offset);
}

void lstmcl_adam_default_settings(lstmcl_adam_settings *s)
{
    if (!s)
        return;
    s->learning_rate = 2e-3f;
    s->beta1 = 0.9f;
    s->beta2 = 0.999f;
    s->epsilon = 1e-8f;
}

static lstmcl_status adam(lstmcl_context *ctx, const char *fn, size_t count,
                          lstmcl_tensor params, lstmcl_tensor grads, lstmcl_tensor m,
                          lstmcl_tensor v, const lstmcl_adam_settings *s, unsigned long step,
                          float grad_scale, lstmcl_tensor scale)
{
    lstmcl_status st;
    double c1, c2;
    if (!s)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT, "%s: settings is NULL", fn);
    if (step == 0)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT, "%s: step counts from 1", fn);
    if (!(s->learning_rate > 0) || !(s->beta1 >= 0 && s->beta1 < 1) ||
        !(s->beta2 >= 0 && s->beta2 < 1) || !(s->epsilon > 0) || !(grad_scale >= 0) ||
        !isfinite(grad_scale))
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                            "%s: settings out of range (learning_rate > 0, 0 <= beta < 1, "
                            "epsilon > 0, finite grad_scale >= 0)",
                            fn);
    if ((st = check_sizes(ctx, fn, count, 1, 1)))
        return st;
    CHECK("params", params, count, 1);
    CHECK("grads", grads, count, 1);
    CHECK("m", m, count, 1);
    CHECK("v", v, count, 1);
    CHECK("grad_scale", scale, 1, 0);
    c1 = 1.0 - pow(s->beta1, (double)step);
    c2 = 1.0 - pow(s->beta2, (double)step);
    return LSTMCL_RUN(ctx, lstm_adam, lstmcl__items(count, 1), .count = count,
                      .p = params.mem, .p_off = params.offset, .g = grads.mem,
                      .g_off = grads.offset, .m = m.mem, .m_off = m.offset, .v = v.mem,
                      .v_off = v.offset, .lr_t = (float)(s->learning_rate * sqrt(c2) / c1),
                      .b1 = s->beta1, .b2 = s->beta2, .eps_t = (float)(s->epsilon * sqrt(c2)),
                      .grad_scale = grad_scale, .scale = scale.mem, .scale_off = scale.offset);
}

lstmcl_status lstmcl_adam_step(lstmcl_context *ctx, size_t count, lstmcl_tensor params,
                               lstmcl_tensor grads, lstmcl_tensor m, lstmcl_tensor v,
                               const lstmcl_adam_settings *s, unsigned long step,
                               float grad_scale)
{
    LSTMCL_LOCKED(ctx);
    const lstmcl_tensor none = {NULL, 0};
    if (!ctx)
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    return adam(ctx, "lstmcl_adam_step", count, params, grads, m, v, s, step, grad_scale, none);
}

lstmcl_status lstmcl_adam_step_scaled(lstmcl_context *ctx, size_t count, lstmcl_tensor params,
                                      lstmcl_tensor grads, lstmcl_tensor m, lstmcl_tensor v,
                                      const lstmcl_adam_settings *s, unsigned long step,
                                      lstmcl_tensor grad_scale)
{
    LSTMCL_LOCKED(ctx);
    if (!ctx)
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    if (!grad_scale.mem)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                            "lstmcl_adam_step_scaled: grad_scale is required but its mem is NULL");
    return adam(ctx, "lstmcl_adam_step_scaled", count, params, grads, m, v, s, step, 1.0f,
                grad_scale);
}
