/*
 * lstmcl OpenCL interop: for applications that already own an OpenCL
 * context and command queue.
 */
#ifndef LSTMCL_CL_H
#define LSTMCL_CL_H

#include "lstmcl.h"

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#ifdef __APPLE__
#include <OpenCL/cl.h>
#else
#include <CL/cl.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Creates an lstmcl context that enqueues all its work on the caller's queue.
 *
 * The queue must be in-order (no CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE):
 * lstmcl relies on the order of its commands.  lstmcl retains the queue, its
 * OpenCL context and its device (clRetain*), and releases them in
 * lstmcl_context_destroy(); the caller keeps its own references and releases
 * them whenever it likes.  Every host-pointer call of lstmcl.h finishes the
 * queue (clFinish) before it returns, so work the application enqueued
 * earlier on the same queue is complete by then too; the device-buffer calls
 * below (plans, and lstmcl_train.h) only enqueue, in queue order.
 */
LSTMCL_API lstmcl_status lstmcl_context_create_from_queue(lstmcl_context **ctx,
                                                          cl_command_queue queue);

/* The queue, OpenCL context and device the lstmcl context uses; not retained
 * for the caller (valid while ctx lives).  NULL ctx: NULL. */
LSTMCL_API cl_command_queue lstmcl_context_queue(const lstmcl_context *ctx);
LSTMCL_API cl_context lstmcl_context_cl_context(const lstmcl_context *ctx);
LSTMCL_API cl_device_id lstmcl_context_device(const lstmcl_context *ctx);


/* ------------------------------------------------------------------------
 * Device-buffer API: plans
 *
 * For training loops that keep every tensor on the device.  A plan fixes the
 * sizes N, T, D, H once; its forward and backward only enqueue work on the
 * context's queue and return without waiting (errors found while enqueueing
 * are returned; the queue is finished before an error returns, so nothing
 * half-enqueued is left running).  Tensors are (cl_mem, offset in floats)
 * pairs in the context's OpenCL context, row-major as in lstmcl.h (x, h, dh
 * and dx in the plan's layout and row strides, lstmcl_plan_desc), and must
 * not overlap each other unless stated.  lstmcl neither retains nor releases
 * them: they must stay alive until the work that uses them has finished
 * (clFinish on lstmcl_context_queue(), or any later blocking lstmcl call).
 *
 * A training forward writes a reserve (lstmcl_plan_reserve_size bytes) that
 * the backward reads; between the two, x, c0, Wx and Wh must not change.
 * The workspace (lstmcl_plan_workspace_size bytes) is scratch for one call;
 * a NULL workspace makes the plan use one of its own, allocated at first use.
 * ---------------------------------------------------------------------- */

typedef struct lstmcl_plan lstmcl_plan;

/* A tensor: a buffer and an offset counted in floats.  mem == NULL means
 * "absent" where a field is optional. */
typedef struct lstmcl_tensor {
    cl_mem mem;
    size_t offset;
} lstmcl_tensor;

/* Creates a plan for sizes N, T, D, H (all at least 1) on ctx.  The caller
 * owns *plan; destroy it before its context (a plan whose context was
 * destroyed can only be destroyed). */
LSTMCL_API lstmcl_status lstmcl_plan_create(lstmcl_plan **plan, lstmcl_context *ctx, size_t N,
                                            size_t T, size_t D, size_t H);
/* A plan's shape and layout.  Zero-initialise ({0}) and set what you use. */
typedef struct lstmcl_plan_desc {
    size_t N, T, D, H;    /* all at least 1 */
    lstmcl_layout layout; /* of x, h, dh and dx; the kernels index either directly */
    int reverse;          /* nonzero: the reverse half of a bidirectional layer.  It
                             reads x from the last step (each sequence's own last, with
                             lengths) to the first: h0 and c0 enter there, hT and cT are
                             the states after t = 0, and h[t] is its output at step t. */
    size_t x_stride;      /* floats from one row of x (and dx) to the next; 0: D */
    size_t h_stride;      /* the same for h and dh; 0: H.  A bidirectional layer's
                             output (·, 2H) is both directions' h with h_stride = 2H,
                             the reverse plan's at offset + H. */
} lstmcl_plan_desc;

/* Creates a plan from a description (lstmcl_plan_create is this with the
 * layout batch-major, forward, rows packed). */
LSTMCL_API lstmcl_status lstmcl_plan_create_ex(lstmcl_plan **plan, lstmcl_context *ctx,
                                               const lstmcl_plan_desc *desc);

/*
 * Per-sequence lengths for the plan's following forwards and backwards: N
 * values, each 1..T, for a right-padded batch; NULL (the default) means all
 * are T.  With lengths,
 * - h (and dx) are zero at t >= length, and dh there is not read;
 * - hT and cT are each sequence's states at its own last step, and dhT and
 *   dcT enter there; a reverse plan starts at each sequence's last step;
 * - gradients flow through valid steps only.
 * This is PyTorch's pack_padded_sequence(enforce_sorted=False) → LSTM →
 * pad_packed_sequence.  Internally the sequences are sorted by length and
 * packed, as in cuDNN's packed layout, so that step t works on the sequences
 * still running only (x, dh and dx then cost one pass each to pack and
 * unpack, in a scratch buffer of the plan's own).  A training forward and
 * its backward must run with the same lengths.  The lengths are copied, and
 * their index table written to the device before this returns.
 */
LSTMCL_API lstmcl_status lstmcl_plan_set_lengths(lstmcl_plan *plan, const int *lengths);

/* NULL is a no-op. */
LSTMCL_API void lstmcl_plan_destroy(lstmcl_plan *plan);
/* Bytes of scratch one forward or backward needs. */
LSTMCL_API lstmcl_status lstmcl_plan_workspace_size(const lstmcl_plan *plan, size_t *bytes);
/* Bytes a training forward keeps for its backward. */
LSTMCL_API lstmcl_status lstmcl_plan_reserve_size(const lstmcl_plan *plan, size_t *bytes);

/* Zero-initialise ({0}) and set what you use. */
typedef struct lstmcl_forward_args {
    lstmcl_tensor x;   /* (N,T,D), or (T,N,D) time-major; required */
    lstmcl_tensor h0;  /* (N,H) optional: absent = zeros */
    lstmcl_tensor c0;  /* (N,H) optional: absent = zeros */
    lstmcl_tensor Wx;  /* (D,4H) required */
    lstmcl_tensor Wh;  /* (H,4H) required */
    lstmcl_tensor b;   /* (4H) required */
    lstmcl_tensor h;   /* (N,T,H), or (T,N,H); required output */
    lstmcl_tensor hT;  /* (N,H) optional output: the last hidden state */
    lstmcl_tensor cT;  /* (N,H) optional output: the last cell state */
    cl_mem reserve;    /* training: reserve_size bytes for the backward; NULL = inference */
    cl_mem workspace;  /* workspace_size bytes, or NULL for the plan's own */
} lstmcl_forward_args;

typedef struct lstmcl_backward_args {
    lstmcl_tensor x;   /* (N,T,D) required, as given to the forward */
    lstmcl_tensor c0;  /* (N,H) as given to the forward (absent = zeros) */
    lstmcl_tensor Wx;  /* (D,4H) required, as given to the forward */
    lstmcl_tensor Wh;  /* (H,4H) required, as given to the forward */
    lstmcl_tensor dh;  /* like h, required: the loss's gradient w.r.t. every h */
    lstmcl_tensor dhT; /* (N,H) optional: more gradient w.r.t. the last h */
    lstmcl_tensor dcT; /* (N,H) optional: gradient w.r.t. the last c */
    lstmcl_tensor dx;  /* like x, optional output */
    lstmcl_tensor dh0; /* (N,H) optional output */
    lstmcl_tensor dc0; /* (N,H) optional output */
    lstmcl_tensor dWx; /* (D,4H) optional output */
    lstmcl_tensor dWh; /* (H,4H) optional output */
    lstmcl_tensor db;  /* (4H) optional output */
    int accumulate;    /* nonzero: add into dWx, dWh, db instead of overwriting */
    cl_mem reserve;    /* required: the training forward's reserve */
    cl_mem workspace;  /* workspace_size bytes, or NULL for the plan's own */
    int accumulate_dx; /* nonzero: add into dx (both directions of a bidirectional
                          layer above another share one dx) */
} lstmcl_backward_args;

/* Enqueues a forward.  Does not wait. */
LSTMCL_API lstmcl_status lstmcl_plan_forward(lstmcl_plan *plan, const lstmcl_forward_args *args);
/* Enqueues a backward.  Does not wait. */
LSTMCL_API lstmcl_status lstmcl_plan_backward(lstmcl_plan *plan,
                                              const lstmcl_backward_args *args);

#ifdef __cplusplus
}
#endif

#endif /* LSTMCL_CL_H */
