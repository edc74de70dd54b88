/* oneDNN's LSTM (libdnnl-dev), the strongest CPU baseline of lstmcl-bench.
 *
 * It runs as a oneDNN user would run it: in oneDNN's native time-major
 * layout (x, h and dh as (T, N, ·)), weights kept in the user format ldigo
 * and reordered into the primitive's chosen format on every call, the
 * weight gradients zeroed before each backward (oneDNN accumulates into
 * them) and reordered back to ldigo after it. Primitive creation happens in
 * dnn_lstm_create and is not part of any timed call.
 *
 * Weights and gradients cross this interface in lstmcl's layout (Wx (D,4H),
 * Wh (H,4H), b (4H), gates i, f, o, g); oneDNN's gate order is i, f, g, o,
 * and the permutation is done outside the timed calls. */
#ifndef LSTMCL_DNNLSTM_H
#define LSTMCL_DNNLSTM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dnn_lstm dnn_lstm;

/* The primitives for one layer of N, T, D, H with lstmcl-layout weights; the
 * initial cell state is zero (the seed's). NULL on failure, with the reason in
 * err. */
dnn_lstm *dnn_lstm_create(size_t N, size_t T, size_t D, size_t H, const float *Wx,
                          const float *Wh, const float *b, char *err, size_t errlen);
void dnn_lstm_destroy(dnn_lstm *s);

/* x (T,N,D), h0 (N,H) in, h (T,N,H) out. training: forward_training, which
 * keeps the workspace the backward needs; otherwise forward_inference.
 * 0, or -1 with the reason in dnn_lstm_error. */
int dnn_lstm_forward(dnn_lstm *s, int training, const float *x, const float *h0, float *h);

/* After a training forward of x, h0 giving h: dh (T,N,H) in; dx (T,N,D) and
 * dh0 (N,H) out; the weight gradients stay inside until dnn_lstm_gradients. */
int dnn_lstm_backward(dnn_lstm *s, const float *x, const float *h0, const float *h,
                      const float *dh, float *dx, float *dh0);

/* The last backward's weight gradients in lstmcl's layout (untimed). */
void dnn_lstm_gradients(dnn_lstm *s, float *dWx, float *dWh, float *db);

const char *dnn_lstm_error(const dnn_lstm *s);

/* oneDNN's version and CPU ISA, for the report. */
const char *dnn_lstm_version(void);

#ifdef __cplusplus
}
#endif

#endif
