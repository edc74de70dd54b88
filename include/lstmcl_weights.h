/*
 * lstmcl model weights on the host: a stack of LSTM layers, unidirectional or
 * bidirectional, in lstmcl's layout; filled from PyTorch's nn.LSTM (its
 * state_dict as a safetensors file, or its tensors on host arrays) or from
 * the ONNX LSTM operator's initializers, and written back as safetensors.
 * Nothing here prints or exits; only lstmcl_model_forward and _backward
 * touch the device.
 *
 * Layout.  For layer l and direction d (0 forward, 1 reverse), one block of
 *   Wx (D_l, 4H), Wh (H, 4H), b (4H),
 * row-major, gates in lstmcl's order i, f, o, g, with D_0 = D (the input
 * size) and D_l = directions·H above.  The blocks follow each other layer
 * after layer, direction after direction.  This is exactly the parameter
 * tensor of an lstmcl_stack of the same layers and directions
 * (lstmcl_stack_create_ex, lstmcl_train.h), so lstmcl_weights_data() can be
 * copied into one as it is, to train or run it on device buffers.
 *
 * Failures return a status; the calling thread's detailed message (which
 * file, tensor, field and value) is then lstmcl_weights_last_message().
 */
#ifndef LSTMCL_WEIGHTS_H
#define LSTMCL_WEIGHTS_H

#include "lstmcl.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lstmcl_weights lstmcl_weights;

typedef struct lstmcl_weights_shape {
    size_t layers;      /* 1 to 64 */
    size_t directions;  /* 1, or 2 for bidirectional layers */
    size_t input_size;  /* D, the first layer's inputs (1 to 2^24) */
    size_t hidden_size; /* H (1 to 2^24) */
} lstmcl_weights_shape;

/* Zeroed weights of the given shape.  The caller owns *w (NULL on failure). */
LSTMCL_API lstmcl_status lstmcl_weights_create(lstmcl_weights **w,
                                               const lstmcl_weights_shape *shape);
/* NULL is a no-op. */
LSTMCL_API void lstmcl_weights_destroy(lstmcl_weights *w);
/* Copies w's shape to *shape. */
LSTMCL_API void lstmcl_weights_get_shape(const lstmcl_weights *w, lstmcl_weights_shape *shape);
/* D_l: the inputs of layer l (D for layer 0, directions·H above); 0 when l
 * is out of range. */
LSTMCL_API size_t lstmcl_weights_layer_input_size(const lstmcl_weights *w, size_t layer);
/* The block of layer l, direction d (Wx, then Wh after D_l·4H floats, then b
 * after H·4H more) inside w, writable; NULL when l or d is out of range. */
LSTMCL_API float *lstmcl_weights_block(lstmcl_weights *w, size_t layer, size_t direction);
/* All blocks, and how many floats they hold. */
LSTMCL_API const float *lstmcl_weights_data(const lstmcl_weights *w, size_t *count);

/* ------------------------------------------------------------- PyTorch
 * One layer and direction of nn.LSTM: weight_ih (4H, D_l), weight_hh (4H, H),
 * bias_ih (4H), bias_hh (4H), gates in PyTorch's order i, f, g, o.  A NULL
 * bias counts as zeros (nn.LSTM(bias=False)).  lstmcl keeps one bias, the
 * sum; get writes it all to bias_ih and zeros to bias_hh, which PyTorch
 * computes the same with.  Any output of get may be NULL. */
LSTMCL_API lstmcl_status lstmcl_weights_set_torch(lstmcl_weights *w, size_t layer,
                                                  size_t direction, const float *weight_ih,
                                                  const float *weight_hh, const float *bias_ih,
                                                  const float *bias_hh);
LSTMCL_API lstmcl_status lstmcl_weights_get_torch(const lstmcl_weights *w, size_t layer,
                                                  size_t direction, float *weight_ih,
                                                  float *weight_hh, float *bias_ih,
                                                  float *bias_hh);

/*
 * Reads nn.LSTM's state_dict from a safetensors file (torch's
 * safetensors.torch.save_file(lstm.state_dict(), path), or a whole model's
 * state_dict): the tensors named PREFIX + weight_ih_l{k}, weight_hh_l{k},
 * bias_ih_l{k}, bias_hh_l{k}, each optionally followed by _reverse.  prefix
 * NULL: whatever prefix those names share (such as "lstm." or "encoder.rnn."),
 * an error when two LSTMs' names are in the file; "" or "lstm.": only names
 * that start with it.  Other tensors are checked but not read.  The shape
 * (layers, directions, D, H) comes from the names and shapes.  F32, F16 and
 * BF16 tensors are widened to float32.  Everything in the file is checked
 * before it is used: the header's length and JSON, every name, dtype, shape
 * and data offset (inside the data, no overlaps, no holes, as safetensors
 * requires); projections (weight_hr, proj_size) are refused.
 * The caller owns *w (NULL on failure).
 */
LSTMCL_API lstmcl_status lstmcl_weights_load_safetensors(lstmcl_weights **w, const char *path,
                                                         const char *prefix);
/* The same from size bytes in memory (data is not kept). */
LSTMCL_API lstmcl_status lstmcl_weights_read_safetensors(lstmcl_weights **w, const void *data,
                                                         size_t size, const char *prefix);
/* Writes w as nn.LSTM's state_dict in F32, names prefixed with prefix (NULL
 * or "" for none), loadable with lstm.load_state_dict(load_file(path)).
 * The file is written to a temporary name beside path and renamed over it, so
 * a failure leaves any earlier file whole. */
LSTMCL_API lstmcl_status lstmcl_weights_save_safetensors(const lstmcl_weights *w,
                                                         const char *path, const char *prefix);

/* ---------------------------------------------------------------- ONNX
 * One ONNX LSTM node (one layer, all its directions) into layer l of w, from
 * its initializers on host arrays: W [dirs, 4H, D_l], R [dirs, 4H, H], B
 * [dirs, 8H] (W's biases, then R's; NULL: zeros), gates in ONNX's order
 * i, o, f, c.  w's directions must equal the node's.  What lstmcl does not
 * compute is refused with a message: peepholes P, clip, input_forget, a
 * lone "reverse" direction, and activations other than the defaults
 * (Sigmoid, Tanh, Tanh for each direction).  Zero-initialise and set the
 * fields the node has. */
typedef struct lstmcl_onnx_lstm {
    const char *direction;           /* "forward" (NULL: the default), "bidirectional" */
    size_t hidden_size;              /* the attribute; 0 if absent */
    const float *W;                  /* [dirs, 4H, D_l] required */
    const float *R;                  /* [dirs, 4H, H] required */
    const float *B;                  /* [dirs, 8H] optional */
    const float *P;                  /* peepholes [dirs, 3H]: must be NULL */
    size_t W_dims[3], R_dims[3];     /* the initializers' shapes, checked */
    size_t B_dims[2];                /* B's shape when B is given */
    const char *const *activations;  /* the attribute's strings, or NULL */
    size_t activation_count;
    int has_clip;                    /* the clip attribute is present */
    float clip;
    long input_forget;               /* the attribute (0 when absent) */
} lstmcl_onnx_lstm;

LSTMCL_API lstmcl_status lstmcl_weights_set_onnx(lstmcl_weights *w, size_t layer,
                                                 const lstmcl_onnx_lstm *node);

/* The calling thread's detailed message about its last failed
 * lstmcl_weights_* call, "" if none. */
LSTMCL_API const char *lstmcl_weights_last_message(void);

/* ----------------------------------------------------------- running
 * A stack of layers (lstmcl_weights' shape: layers, directions, D, H) on
 * host arrays, as PyTorch's nn.LSTM computes it: a bidirectional layer's
 * output concatenates [forward, reverse] along features (dirs·H) and feeds
 * the next layer; states are (layers·dirs, N, H) in PyTorch's h_n order
 * (layer by layer, forward before reverse).  options: layout (PyTorch's
 * default, batch_first=False, is LSTMCL_TIME_MAJOR) and lengths (as
 * pack_padded_sequence(enforce_sorted=False) → LSTM → pad_packed_sequence);
 * its reverse must be 0.
 * Inputs: x (N,T,D) or (T,N,D); h0, c0 or NULL (zeros).  Outputs: y (N,T,
 * dirs·H) or (T,N,dirs·H); hn, cn or NULL.  cache: NULL for inference, else
 * it receives what lstmcl_model_backward needs (lstmcl_cache_destroy). */
LSTMCL_API lstmcl_status lstmcl_model_forward(lstmcl_context *ctx, const lstmcl_weights *w,
                                              size_t N, size_t T,
                                              const lstmcl_sequence_options *options,
                                              const float *x, const float *h0, const float *c0,
                                              float *y, float *hn, float *cn,
                                              lstmcl_cache **cache);
/* Backward of lstmcl_model_forward.  Inputs: dy like y; dhn, dcn like hn or
 * NULL (zeros).  Outputs, each optional: dx like x, dh0, dc0 like h0, and
 * dweights, the gradient of every weight in lstmcl_weights_data()'s layout
 * (lstmcl_weights_data's count floats; the bias's gradient is the one of
 * PyTorch's bias_ih and bias_hh alike). */
LSTMCL_API lstmcl_status lstmcl_model_backward(lstmcl_context *ctx, const lstmcl_cache *cache,
                                               const float *dy, const float *dhn,
                                               const float *dcn, float *dx, float *dh0,
                                               float *dc0, float *dweights);

#ifdef __cplusplus
}
#endif

#endif /* LSTMCL_WEIGHTS_H */
