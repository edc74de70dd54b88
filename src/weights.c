/* Host-side model weights: the layout, and PyTorch's and ONNX's layouts into it. */
#include "weights.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MESSAGE_CAP 1024
static _Thread_local char message[MESSAGE_CAP];

const char *lstmcl_weights_last_message(void)
{
    return message;
}

lstmcl_status lstmcl__weights_fail(lstmcl_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return status;
}

#define FAIL(st, ...) lstmcl__weights_fail(LSTMCL_ERROR_##st, __VA_ARGS__)

/* lstmcl's gate (i, f, o, g) of PyTorch's gate q (i, f, g, o) and of ONNX's (i, o, f, c). */
static const size_t from_torch[4] = {0, 1, 3, 2};
static const size_t from_onnx[4] = {0, 2, 1, 3};

static size_t block_floats(const lstmcl_weights_shape *s, size_t layer)
{
    size_t din = layer ? s->directions * s->hidden_size : s->input_size;
    return (din + s->hidden_size + 1) * 4 * s->hidden_size;
}

lstmcl_status lstmcl_weights_create(lstmcl_weights **out, const lstmcl_weights_shape *shape)
{
    lstmcl_weights *w;
    size_t l, total = 0;
    if (!out)
        return FAIL(INVALID_ARGUMENT, "lstmcl_weights_create: NULL output pointer");
    *out = NULL;
    if (!shape)
        return FAIL(INVALID_ARGUMENT, "lstmcl_weights_create: NULL shape");
    if (shape->layers < 1 || shape->layers > LSTMCL_WEIGHTS_MAX_LAYERS)
        return FAIL(INVALID_ARGUMENT, "layers is %zu; it must be 1 to %d", shape->layers,
                    LSTMCL_WEIGHTS_MAX_LAYERS);
    if (shape->directions != 1 && shape->directions != 2)
        return FAIL(INVALID_ARGUMENT, "directions is %zu; it must be 1 or 2", shape->directions);
    if (shape->input_size < 1 || shape->input_size > LSTMCL_WEIGHTS_MAX_SIZE ||
        shape->hidden_size < 1 || shape->hidden_size > LSTMCL_WEIGHTS_MAX_SIZE)
        return FAIL(INVALID_ARGUMENT, "input size %zu and hidden size %zu must be 1 to %d",
                    shape->input_size, shape->hidden_size, LSTMCL_WEIGHTS_MAX_SIZE);
    for (l = 0; l < shape->layers; l++) {
        size_t din = l ? shape->directions * shape->hidden_size : shape->input_size, b;
        /* the sizes are below 2^26, so this estimate is exact enough to rule out overflow */
        double est = ((double)din + (double)shape->hidden_size + 1) * 4.0 *
                     (double)shape->hidden_size * (double)shape->directions;
        if (est > (double)(SIZE_MAX / sizeof(float)) / 2)
            return FAIL(TOO_LARGE, "layer %zu's weights are too large for this machine", l);
        b = block_floats(shape, l) * shape->directions;
        if (total > SIZE_MAX / sizeof(float) - b)
            return FAIL(TOO_LARGE, "the weights are too large for this machine");
        total += b;
    }
    w = calloc(1, sizeof *w);
    if (!w)
        return FAIL(OUT_OF_HOST_MEMORY, "out of host memory for the weights' handle");
    w->data = calloc(total, sizeof(float));
    if (!w->data) {
        free(w);
        return FAIL(OUT_OF_HOST_MEMORY, "out of host memory for %zu weights", total);
    }
    w->shape = *shape;
    w->count = total;
    *out = w;
    return LSTMCL_SUCCESS;
}

void lstmcl_weights_destroy(lstmcl_weights *w)
{
    if (!w)
        return;
    free(w->data);
    free(w);
}

void lstmcl_weights_get_shape(const lstmcl_weights *w, lstmcl_weights_shape *shape)
{
    if (!shape)
        return;
    if (!w) {
        memset(shape, 0, sizeof *shape);
        return;
    }
    *shape = w->shape;
}

size_t lstmcl_weights_layer_input_size(const lstmcl_weights *w, size_t layer)
{
    if (!w || layer >= w->shape.layers)
        return 0;
    return layer ? w->shape.directions * w->shape.hidden_size : w->shape.input_size;
}

float *lstmcl_weights_block(lstmcl_weights *w, size_t layer, size_t direction)
{
    size_t l, off = 0;
    if (!w || layer >= w->shape.layers || direction >= w->shape.directions)
        return NULL;
    for (l = 0; l < layer; l++)
        off += block_floats(&w->shape, l) * w->shape.directions;
    return w->data + off + direction * block_floats(&w->shape, layer);
}

const float *lstmcl_weights_data(const lstmcl_weights *w, size_t *count)
{
    if (count)
        *count = w ? w->count : 0;
    return w ? w->data : NULL;
}

static lstmcl_status check_block(const lstmcl_weights *w, size_t layer, size_t direction,
                                 const char *what)
{
    if (!w)
        return FAIL(INVALID_ARGUMENT, "%s: NULL weights", what);
    if (layer >= w->shape.layers)
        return FAIL(INVALID_ARGUMENT, "%s: layer %zu, but the weights have %zu layers", what,
                    layer, w->shape.layers);
    if (direction >= w->shape.directions)
        return FAIL(INVALID_ARGUMENT, "%s: direction %zu, but the weights have %zu", what,
                    direction, w->shape.directions);
    return LSTMCL_SUCCESS;
}

/* Fills the block of (layer, direction) from row-major gate rows (4H, D_l)
 * and (4H, H) whose gate blocks go to lstmcl's gates map[0..3], and the sum
 * of two optional bias vectors (4H). */
static void fill_block(lstmcl_weights *w, size_t layer, size_t direction, const size_t map[4],
                       const float *W, const float *R, const float *bias1, const float *bias2)
{
    size_t H = w->shape.hidden_size, din = lstmcl_weights_layer_input_size(w, layer), q, j, k;
    float *Wx = lstmcl_weights_block(w, layer, direction), *Wh = Wx + din * 4 * H,
          *b = Wh + H * 4 * H;
    for (q = 0; q < 4; q++)
        for (j = 0; j < H; j++) {
            size_t row = q * H + j, col = map[q] * H + j;
            for (k = 0; k < din; k++)
                Wx[k * 4 * H + col] = W[row * din + k];
            for (k = 0; k < H; k++)
                Wh[k * 4 * H + col] = R[row * H + k];
            b[col] = (bias1 ? bias1[row] : 0.0f) + (bias2 ? bias2[row] : 0.0f);
        }
}

lstmcl_status lstmcl_weights_set_torch(lstmcl_weights *w, size_t layer, size_t direction,
                                       const float *weight_ih, const float *weight_hh,
                                       const float *bias_ih, const float *bias_hh)
{
    lstmcl_status st = check_block(w, layer, direction, "lstmcl_weights_set_torch");
    if (st != LSTMCL_SUCCESS)
        return st;
    if (!weight_ih || !weight_hh)
        return FAIL(INVALID_ARGUMENT, "lstmcl_weights_set_torch: weight_ih and weight_hh are "
                                      "required");
    fill_block(w, layer, direction, from_torch, weight_ih, weight_hh, bias_ih, bias_hh);
    return LSTMCL_SUCCESS;
}

lstmcl_status lstmcl_weights_get_torch(const lstmcl_weights *w, size_t layer, size_t direction,
                                       float *weight_ih, float *weight_hh, float *bias_ih,
                                       float *bias_hh)
{
    lstmcl_status st = check_block(w, layer, direction, "lstmcl_weights_get_torch");
    size_t H, din, q, j, k;
    const float *Wx, *Wh, *b;
    if (st != LSTMCL_SUCCESS)
        return st;
    H = w->shape.hidden_size;
    din = lstmcl_weights_layer_input_size(w, layer);
    Wx = lstmcl_weights_block((lstmcl_weights *)w, layer, direction);
    Wh = Wx + din * 4 * H;
    b = Wh + H * 4 * H;
    for (q = 0; q < 4; q++)
        for (j = 0; j < H; j++) {
            size_t row = q * H + j, col = from_torch[q] * H + j;
            if (weight_ih)
                for (k = 0; k < din; k++)
                    weight_ih[row * din + k] = Wx[k * 4 * H + col];
            if (weight_hh)
                for (k = 0; k < H; k++)
                    weight_hh[row * H + k] = Wh[k * 4 * H + col];
            if (bias_ih)
                bias_ih[row] = b[col];
            if (bias_hh)
                bias_hh[row] = 0.0f;
        }
    return LSTMCL_SUCCESS;
}

lstmcl_status lstmcl_weights_set_onnx(lstmcl_weights *w, size_t layer, const lstmcl_onnx_lstm *n)
{
    lstmcl_status st = check_block(w, layer, 0, "lstmcl_weights_set_onnx");
    size_t H, din, dirs, d, a;
    if (st != LSTMCL_SUCCESS)
        return st;
    if (!n)
        return FAIL(INVALID_ARGUMENT, "lstmcl_weights_set_onnx: NULL node");
    if (!n->direction || !strcmp(n->direction, "forward"))
        dirs = 1;
    else if (!strcmp(n->direction, "bidirectional"))
        dirs = 2;
    else if (!strcmp(n->direction, "reverse"))
        return FAIL(INVALID_ARGUMENT, "ONNX LSTM: direction \"reverse\" alone is not supported "
                                      "(lstmcl runs forward or bidirectional layers)");
    else
        return FAIL(INVALID_ARGUMENT, "ONNX LSTM: unknown direction \"%.64s\"", n->direction);
    if (n->P)
        return FAIL(INVALID_ARGUMENT, "ONNX LSTM: peepholes (input P) are not supported");
    if (n->has_clip)
        return FAIL(INVALID_ARGUMENT, "ONNX LSTM: the clip attribute (%g) is not supported",
                    (double)n->clip);
    if (n->input_forget)
        return FAIL(INVALID_ARGUMENT, "ONNX LSTM: input_forget=%ld is not supported",
                    n->input_forget);
    if (n->activation_count) {
        static const char *const defaults[3] = {"Sigmoid", "Tanh", "Tanh"};
        if (!n->activations || n->activation_count != 3 * dirs)
            return FAIL(INVALID_ARGUMENT, "ONNX LSTM: %zu activations for %zu direction(s); "
                                          "only the default Sigmoid, Tanh, Tanh is supported",
                        n->activation_count, dirs);
        for (a = 0; a < n->activation_count; a++)
            if (!n->activations[a] || strcmp(n->activations[a], defaults[a % 3]))
                return FAIL(INVALID_ARGUMENT, "ONNX LSTM: activation %zu is \"%.64s\"; only the "
                                              "default Sigmoid, Tanh, Tanh is supported",
                            a, n->activations[a] ? n->activations[a] : "(null)");
    }
    if (dirs != w->shape.directions)
        return FAIL(INVALID_ARGUMENT, "ONNX LSTM: the node has %zu direction(s), the weights %zu",
                    dirs, w->shape.directions);
    H = w->shape.hidden_size;
    din = lstmcl_weights_layer_input_size(w, layer);
    if (n->hidden_size && n->hidden_size != H)
        return FAIL(INVALID_ARGUMENT, "ONNX LSTM: hidden_size is %zu, the weights' is %zu",
                    n->hidden_size, H);
    if (!n->W || !n->R)
        return FAIL(INVALID_ARGUMENT, "ONNX LSTM: W and R are required");
    if (n->W_dims[0] != dirs || n->W_dims[1] != 4 * H || n->W_dims[2] != din)
        return FAIL(INVALID_ARGUMENT, "ONNX LSTM: W is [%zu, %zu, %zu]; layer %zu needs "
                                      "[%zu, %zu, %zu]",
                    n->W_dims[0], n->W_dims[1], n->W_dims[2], layer, dirs, 4 * H, din);
    if (n->R_dims[0] != dirs || n->R_dims[1] != 4 * H || n->R_dims[2] != H)
        return FAIL(INVALID_ARGUMENT, "ONNX LSTM: R is [%zu, %zu, %zu]; it must be "
                                      "[%zu, %zu, %zu]",
                    n->R_dims[0], n->R_dims[1], n->R_dims[2], dirs, 4 * H, H);
    if (n->B && (n->B_dims[0] != dirs || n->B_dims[1] != 8 * H))
        return FAIL(INVALID_ARGUMENT, "ONNX LSTM: B is [%zu, %zu]; it must be [%zu, %zu]",
                    n->B_dims[0], n->B_dims[1], dirs, 8 * H);
    for (d = 0; d < dirs; d++) /* B holds W's biases, then R's */
        fill_block(w, layer, d, from_onnx, n->W + d * 4 * H * din, n->R + d * 4 * H * H,
                   n->B ? n->B + d * 8 * H : NULL, n->B ? n->B + d * 8 * H + 4 * H : NULL);
    return LSTMCL_SUCCESS;
}
