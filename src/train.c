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
    START("lstmcl_embedding_forward");
    lstmcl_argset k = {NULL, 0, CL_SUCCESS};
    if ((st = check_sizes(ctx, fn, n, D, V)))
        return st;
    CHECK("tokens", tokens, n, 1);
    CHECK("table", table, V * D, 1);
    CHECK("out", out, n * D, 1);
    k.k = ctx->k_embed_fwd;
    lstmcl__arg_int(&k, n);
    lstmcl__arg_int(&k, D);
    lstmcl__arg_int(&k, V);
    lstmcl__arg_mem(&k, tokens.mem);
    lstmcl__arg_int(&k, tokens.offset);
    lstmcl__arg_mem(&k, table.mem);
    lstmcl__arg_int(&k, table.offset);
    lstmcl__arg_mem(&k, out.mem);
    lstmcl__arg_int(&k, out.offset);
    return lstmcl__launch(ctx, &k, "lstm_embed_fwd", D, n);
}

lstmcl_status lstmcl_embedding_backward(lstmcl_context *ctx, size_t n, size_t D, size_t V,
                                        lstmcl_tensor tokens, lstmcl_tensor dout,
                                        lstmcl_tensor dtable, int accumulate)
{
    START("lstmcl_embedding_backward");
    lstmcl_argset k = {NULL, 0, CL_SUCCESS};
    if ((st = check_sizes(ctx, fn, n, D, V)))
        return st;
    CHECK("tokens", tokens, n, 1);
    CHECK("dout", dout, n * D, 1);
    CHECK("dtable", dtable, V * D, 1);
    k.k = ctx->k_embed_bwd;
    lstmcl__arg_int(&k, n);
    lstmcl__arg_int(&k, D);
    lstmcl__arg_int(&k, V);
    lstmcl__arg_mem(&k, tokens.mem);
    lstmcl__arg_int(&k, tokens.offset);
    lstmcl__arg_mem(&k, dout.mem);
    lstmcl__arg_int(&k, dout.offset);
    lstmcl__arg_mem(&k, dtable.mem);
    lstmcl__arg_int(&k, dtable.offset);
    lstmcl__arg_int(&k, accumulate != 0);
    return lstmcl__launch(ctx, &k, "lstm_embed_bwd", D, V);
}

/* column sums of m (rows, cols) into out, or added to it */
static lstmcl_status colsum(lstmcl_context *ctx, size_t rows, size_t cols, lstmcl_tensor m,
                            lstmcl_tensor out, int accumulate)
{
    lstmcl_argset k = {ctx->k_colsum, 0, CL_SUCCESS};
    lstmcl__arg_int(&k, rows);
    lstmcl__arg_int(&k, cols);
    lstmcl__arg_mem(&k, m.mem);
    lstmcl__arg_int(&k, m.offset);
    lstmcl__arg_mem(&k, out.mem);
    lstmcl__arg_int(&k, out.offset);
    lstmcl__arg_int(&k, accumulate != 0);
    return lstmcl__launch(ctx, &k, "lstm_colsum", cols, 1);
}

lstmcl_status lstmcl_linear_forward(lstmcl_context *ctx, size_t rows, size_t in, size_t out,
                                    lstmcl_tensor x, lstmcl_tensor W, lstmcl_tensor b,
                                    lstmcl_tensor y)
{
    START("lstmcl_linear_forward");
    if ((st = check_sizes(ctx, fn, rows, in, out)))
        return st;
    CHECK("x", x, rows * in, 1);
    CHECK("W", W, in * out, 1);
    CHECK("b", b, out, 0);
    CHECK("y", y, rows * out, 1);
    st = lstmcl__gemm(ctx, 0, 0, rows, out, in, 1.0f, x.mem, x.offset, in, W.mem, W.offset, out,
                      0.0f, y.mem, y.offset, out);
    if (st == LSTMCL_SUCCESS && b.mem) {
        lstmcl_argset k = {ctx->k_add_bias, 0, CL_SUCCESS};
        lstmcl__arg_int(&k, rows);
        lstmcl__arg_int(&k, out);
        lstmcl__arg_mem(&k, y.mem);
        lstmcl__arg_int(&k, y.offset);
        lstmcl__arg_mem(&k, b.mem);
        lstmcl__arg_int(&k, b.offset);
        st = lstmcl__launch(ctx, &k, "lstm_add_bias", out, rows);
    }
    return st;
}

lstmcl_status lstmcl_linear_backward(lstmcl_context *ctx, size_t rows, size_t in, size_t out,
                                     lstmcl_tensor x, lstmcl_tensor W, lstmcl_tensor dy,
                                     lstmcl_tensor dx, lstmcl_tensor dW, lstmcl_tensor db,
                                     int accumulate)
{
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
    START("lstmcl_softmax_cross_entropy");
    lstmcl_argset k = {NULL, 0, CL_SUCCESS};
    if ((st = check_sizes(ctx, fn, rows, V, 1)))
        return st;
    CHECK("logits", logits, rows * V, 1);
    CHECK("targets", targets, rows, 1);
    CHECK("loss", loss, rows, 1);
    CHECK("dlogits", dlogits, rows * V, 0);
    k.k = ctx->k_softmax_xent;
    lstmcl__arg_int(&k, rows);
    lstmcl__arg_int(&k, V);
    lstmcl__arg_mem(&k, logits.mem);
    lstmcl__arg_int(&k, logits.offset);
    lstmcl__arg_mem(&k, targets.mem);
    lstmcl__arg_int(&k, targets.offset);
    lstmcl__arg_mem(&k, loss.mem);
    lstmcl__arg_int(&k, loss.offset);
    lstmcl__arg_mem(&k, dlogits.mem);
    lstmcl__arg_int(&k, dlogits.offset);
    lstmcl__arg_float(&k, scale);
    return lstmcl__launch(ctx, &k, "lstm_softmax_xent", rows, 1);
}

lstmcl_status lstmcl_sum_squares(lstmcl_context *ctx, size_t count, lstmcl_tensor x,
                                 double *result)
{
    START("lstmcl_sum_squares");
    enum { PARTS = 256 };
    lstmcl_argset k = {NULL, 0, CL_SUCCESS};
    float partial[PARTS];
    size_t chunk, parts, i;
    cl_mem buf = NULL;
    cl_int err;
    double sum = 0;

    if (!result)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT, "%s: result is NULL", fn);
    if ((st = check_sizes(ctx, fn, count, 1, 1)))
        return st;
    CHECK("x", x, count, 1);
    chunk = (count + PARTS - 1) / PARTS;
    parts = (count + chunk - 1) / chunk;
    if ((st = lstmcl__buffer_get(ctx, PARTS * sizeof(float), &buf)))
        return st;
    k.k = ctx->k_sum_squares;
    lstmcl__arg_int(&k, count);
    lstmcl__arg_int(&k, chunk);
    lstmcl__arg_mem(&k, x.mem);
    lstmcl__arg_int(&k, x.offset);
    lstmcl__arg_mem(&k, buf);
    st = lstmcl__launch(ctx, &k, "lstm_sum_squares", parts, 1);
    if (st == LSTMCL_SUCCESS) {
        err = LSTMCL_INJECT(CL_OUT_OF_RESOURCES,
                            clEnqueueReadBuffer(ctx->queue, buf, CL_TRUE, 0,
                                                parts * sizeof(float), partial, 0, NULL, NULL));
        if (err != CL_SUCCESS)
            st = lstmcl__fail_cl(ctx, err, "reading the sums of squares");
    }
    lstmcl__buffer_put(ctx, buf, PARTS * sizeof(float));
    if (st != LSTMCL_SUCCESS)
        return st;
    for (i = 0; i < parts; i++)
        sum += partial[i];
    *result = sum;
    return LSTMCL_SUCCESS;
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

lstmcl_status lstmcl_adam_step(lstmcl_context *ctx, size_t count, lstmcl_tensor params,
                               lstmcl_tensor grads, lstmcl_tensor m, lstmcl_tensor v,
                               const lstmcl_adam_settings *s, unsigned long step,
                               float grad_scale)
{
    START("lstmcl_adam_step");
    lstmcl_argset k = {NULL, 0, CL_SUCCESS};
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
    c1 = 1.0 - pow(s->beta1, (double)step);
    c2 = 1.0 - pow(s->beta2, (double)step);
    k.k = ctx->k_adam;
    lstmcl__arg_int(&k, count);
    lstmcl__arg_mem(&k, params.mem);
    lstmcl__arg_int(&k, params.offset);
    lstmcl__arg_mem(&k, grads.mem);
    lstmcl__arg_int(&k, grads.offset);
    lstmcl__arg_mem(&k, m.mem);
    lstmcl__arg_int(&k, m.offset);
    lstmcl__arg_mem(&k, v.mem);
    lstmcl__arg_int(&k, v.offset);
    lstmcl__arg_float(&k, (float)(s->learning_rate * sqrt(c2) / c1));
    lstmcl__arg_float(&k, s->beta1);
    lstmcl__arg_float(&k, s->beta2);
    lstmcl__arg_float(&k, (float)(s->epsilon * sqrt(c2)));
    lstmcl__arg_float(&k, grad_scale);
    return lstmcl__launch(ctx, &k, "lstm_adam", count, 1);
}
