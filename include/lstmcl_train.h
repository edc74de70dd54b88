/*
 * lstmcl training building blocks, on device buffers: stacked LSTM layers,
 * embedding lookup, a linear layer, softmax cross-entropy, gradient norms and
 * Adam.  The conventions of lstmcl_cl.h hold: every call enqueues on the
 * context's queue and returns without waiting, except where it says it
 * returns a value computed on the device; tensors are {cl_mem, offset} with
 * offsets counted in elements (floats, or cl_int for token ids), and are
 * checked for size and OpenCL context before anything is enqueued.
 */
#ifndef LSTMCL_TRAIN_H
#define LSTMCL_TRAIN_H

#include "lstmcl_cl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ stacks
 * L LSTM layers: layer 0 maps D inputs to H, the others H to H; each layer's
 * h is the next one's x.  The parameters of all layers live in one tensor,
 * layer after layer, each as Wx (D_l, 4H), Wh (H, 4H), b (4H), which makes
 * one Adam step and one gradient norm cover them all. */
typedef struct lstmcl_stack lstmcl_stack;

/* A stack for sizes N, T, D, H (all at least 1) and 1 to 64 layers.  It owns
 * the buffers between layers and the reserves of a training forward. */
LSTMCL_API lstmcl_status lstmcl_stack_create(lstmcl_stack **stack, lstmcl_context *ctx,
                                             size_t layers, size_t N, size_t T, size_t D,
                                             size_t H);
LSTMCL_API void lstmcl_stack_destroy(lstmcl_stack *stack); /* NULL is a no-op */

/* A stack of bidirectional layers, time-major tensors, or both.  With
 * directions = 2, each layer is two plans (lstmcl_plan_create_ex): its
 * output (N,T,2H) concatenates [forward, reverse] and feeds the next layer
 * (D_l = 2H above the first); the parameters hold, layer after layer, the
 * forward direction's Wx, Wh, b and then the reverse one's, which is
 * lstmcl_weights_data()'s layout (lstmcl_weights.h) exactly; states are
 * (layers·directions, N, H), as PyTorch's h_n.  Zero-initialise and set
 * what you use. */
typedef struct lstmcl_stack_desc {
    size_t layers;        /* 1 to 64 */
    size_t directions;    /* 1 (0 means 1) or 2 */
    size_t N, T, D, H;    /* all at least 1 */
    lstmcl_layout layout; /* of x, h, dh and dx */
} lstmcl_stack_desc;
LSTMCL_API lstmcl_status lstmcl_stack_create_ex(lstmcl_stack **stack, lstmcl_context *ctx,
                                                const lstmcl_stack_desc *desc);
/* Per-sequence lengths for the following forwards and backwards
 * (lstmcl_plan_set_lengths): N values, each 1..T, or NULL for all T.  A
 * backward needs a training forward after the last change of lengths. */
LSTMCL_API lstmcl_status lstmcl_stack_set_lengths(lstmcl_stack *stack, const int *lengths);
/* Offset (floats) of layer l, direction d's Wx in the parameter tensor. */
LSTMCL_API size_t lstmcl_stack_block_offset(const lstmcl_stack *stack, size_t layer,
                                            size_t direction);
/* Floats in the stack's parameter (and gradient) tensor. */
LSTMCL_API size_t lstmcl_stack_param_count(const lstmcl_stack *stack);
/* Offset (floats) of layer l's Wx in the parameter tensor; Wh follows after
 * D_l·4H floats and b after H·4H more. */
LSTMCL_API size_t lstmcl_stack_layer_offset(const lstmcl_stack *stack, size_t layer);

/* Forward.  x (N,T,D); params (param_count); h0, c0 (layers, N, H) optional
 * (absent: zeros); hT, cT (layers, N, H) optional outputs, the last states,
 * which must not overlap h0 and c0 (to carry the state into the next chunk,
 * alternate between two buffers); h (N,T,H) the top layer's output.
 * training: keep what lstmcl_stack_backward needs. */
LSTMCL_API lstmcl_status lstmcl_stack_forward(lstmcl_stack *stack, lstmcl_tensor x,
                                              lstmcl_tensor params, lstmcl_tensor h0,
                                              lstmcl_tensor c0, lstmcl_tensor hT,
                                              lstmcl_tensor cT, lstmcl_tensor h, int training);

/* Dropout between layers, as PyTorch's nn.LSTM(dropout=p): in a training
 * forward, each element of every layer's output but the top one's is, on
 * its way to the next layer, zeroed with probability p and otherwise
 * multiplied by 1/(1-p); the carried states hT and cT are not touched.
 * Inference forwards never drop.  p is in [0, 1); 0 (the default) turns it
 * off.  The mask comes from a counter-based generator on the device, a
 * function of (seed, counter, layer, element) only: nothing is stored, the
 * backward recomputes its forward's mask, and runs repeat bitwise.  Change
 * counter for every training forward (a step count) to draw new masks.
 * The generator, for layer l's output (N,T,H) as a flat index i:
 *   hash(x) = lowbias32: x ^= x>>16; x *= 0x7feb352d; x ^= x>>15;
 *             x *= 0x846ca68b; x ^= x>>16            (32-bit unsigned)
 *   a  = hash(lo32(seed) ^ hash(hi32(seed) ^ 0x68e31da4))
 *   b  = hash(lo32(counter) ^ hash(hi32(counter) ^ a))
 *   k0 = hash(b ^ l),  k1 = hash(k0 ^ 0x9e3779b9)
 *   kept(i) = (hash(hash(i ^ k0) ^ k1) >> 8) >= round(p · 2^24) */
LSTMCL_API lstmcl_status lstmcl_stack_set_dropout(lstmcl_stack *stack, float p,
                                                  unsigned long long seed,
                                                  unsigned long long counter);

/* When a batch is split across devices or processes (data-parallel
 * training): this stack's N rows are rows first_row..first_row+N-1 of a
 * batch of total_rows, and dropout draws the masks that batch would, so the
 * split trains as the whole.  i above is then the element's flat index in
 * the whole batch's layer output, in the stack's layout.  The default is
 * (0, N).  total_rows·T·directions·H must be below 2^32. */
LSTMCL_API lstmcl_status lstmcl_stack_set_dropout_rows(lstmcl_stack *stack, size_t first_row,
                                                       size_t total_rows);

/* Backward of the last training forward, with the same x, params and c0.
 * dh (N,T,H): the gradient w.r.t. the top layer's h.  dx (N,T,D) optional.
 * dparams (param_count): overwritten, or added to when accumulate is set.
 * Gradients do not flow into h0 and c0 (truncated back-propagation). */
LSTMCL_API lstmcl_status lstmcl_stack_backward(lstmcl_stack *stack, lstmcl_tensor x,
                                               lstmcl_tensor params, lstmcl_tensor c0,
                                               lstmcl_tensor dh, lstmcl_tensor dx,
                                               lstmcl_tensor dparams, int accumulate);

/* ------------------------------------------------------------- embedding */
/* out (n, D) = rows of table (V, D) picked by tokens (n cl_int); a token
 * outside [0, V) gives a row of zeros. */
LSTMCL_API lstmcl_status lstmcl_embedding_forward(lstmcl_context *ctx, size_t n, size_t D,
                                                  size_t V, lstmcl_tensor tokens,
                                                  lstmcl_tensor table, lstmcl_tensor out);
/* dtable (V, D) = for each row v, the sum of the dout rows whose token is v
 * (a token outside [0, V) contributes nothing); added when accumulate is set. */
LSTMCL_API lstmcl_status lstmcl_embedding_backward(lstmcl_context *ctx, size_t n, size_t D,
                                                   size_t V, lstmcl_tensor tokens,
                                                   lstmcl_tensor dout, lstmcl_tensor dtable,
                                                   int accumulate);

/* ---------------------------------------------------------------- linear */
/* y (rows, out) = x (rows, in) · W (in, out) + b (out; optional). */
LSTMCL_API lstmcl_status lstmcl_linear_forward(lstmcl_context *ctx, size_t rows, size_t in,
                                               size_t out, lstmcl_tensor x, lstmcl_tensor W,
                                               lstmcl_tensor b, lstmcl_tensor y);
/* dx = dy·Wᵀ, dW = xᵀ·dy, db = column sums of dy; each optional; dW and db
 * are added to when accumulate is set. */
LSTMCL_API lstmcl_status lstmcl_linear_backward(lstmcl_context *ctx, size_t rows, size_t in,
                                                size_t out, lstmcl_tensor x, lstmcl_tensor W,
                                                lstmcl_tensor dy, lstmcl_tensor dx,
                                                lstmcl_tensor dW, lstmcl_tensor db,
                                                int accumulate);

/* ---------------------------------------------------------------- losses */
/* For each row i of logits (rows, V) and target (rows cl_int):
 *   loss[i] = logsumexp(logits_i) - logits_i[target_i]
 *   dlogits (optional) = scale · (softmax(logits_i) - onehot(target_i))
 * A target outside [0, V) gives loss 0 and no gradient (padding). */
LSTMCL_API lstmcl_status lstmcl_softmax_cross_entropy(lstmcl_context *ctx, size_t rows,
                                                      size_t V, lstmcl_tensor logits,
                                                      lstmcl_tensor targets, lstmcl_tensor loss,
                                                      lstmcl_tensor dlogits, float scale);

/* --------------------------------------------------------- optimisation */
/* *result = sum of x[i]² over count floats, summed in a fixed order (the same
 * on every run).  Waits for the result. */
LSTMCL_API lstmcl_status lstmcl_sum_squares(lstmcl_context *ctx, size_t count, lstmcl_tensor x,
                                            double *result);

/* Gradient-norm clipping without waiting: enqueues, computed on the device,
 *   out[0] = min(1, max_norm / ||x||)   (1 when max_norm is 0: no clipping)
 *   out[1] = ||x||, the square root of the sum lstmcl_sum_squares computes
 * for out (2 floats), to be passed to lstmcl_adam_step_scaled as grad_scale
 * and read whenever the norm is wanted. */
LSTMCL_API lstmcl_status lstmcl_clip_scale(lstmcl_context *ctx, size_t count, lstmcl_tensor x,
                                           float max_norm, lstmcl_tensor out);

typedef struct lstmcl_adam_settings {
    float learning_rate; /* 2e-3 */
    float beta1;         /* 0.9 */
    float beta2;         /* 0.999 */
    float epsilon;       /* 1e-8 */
} lstmcl_adam_settings;

LSTMCL_API void lstmcl_adam_default_settings(lstmcl_adam_settings *s);

/* One Adam step on count parameters: g = grads·grad_scale (for clipping:
 * min(1, max_norm / norm)); m, v (count floats each, zero at first) are the
 * moment estimates; step is 1 for the first update.  With bias correction,
 * as in Kingma & Ba's algorithm 1. */
LSTMCL_API lstmcl_status lstmcl_adam_step(lstmcl_context *ctx, size_t count,
                                          lstmcl_tensor params, lstmcl_tensor grads,
                                          lstmcl_tensor m, lstmcl_tensor v,
                                          const lstmcl_adam_settings *settings,
                                          unsigned long step, float grad_scale);

/* lstmcl_adam_step with the gradient scale read on the device from
 * grad_scale (1 float, required), such as lstmcl_clip_scale's out[0], so
 * that a training step needs no read back. */
LSTMCL_API lstmcl_status lstmcl_adam_step_scaled(lstmcl_context *ctx, size_t count,
                                                 lstmcl_tensor params, lstmcl_tensor grads,
                                                 lstmcl_tensor m, lstmcl_tensor v,
                                                 const lstmcl_adam_settings *settings,
                                                 unsigned long step, lstmcl_tensor grad_scale);

#ifdef __cplusplus
}
#endif

#endif /* LSTMCL_TRAIN_H */
