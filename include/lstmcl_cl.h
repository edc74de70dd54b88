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
 * pairs in the context's OpenCL context, row-major as in lstmcl.h, and must
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
/* NULL is a no-op. */
LSTMCL_API void lstmcl_plan_destroy(lstmcl_plan *plan);
/* Bytes of scratch one forward or backward needs. */
LSTMCL_API lstmcl_status lstmcl_plan_workspace_size(const lstmcl_plan *plan, size_t *bytes);
/* Bytes a training forward keeps for its backward. */
LSTMCL_API lstmcl_status lstmcl_plan_reserve_size(const lstmcl_plan *plan, size_t *bytes);

/* Zero-initialise ({0}) and set what you use. */
typedef struct lstmcl_forward_args {
    lstmcl_tensor x;   /* (N,T,D) required */
    lstmcl_tensor h0;  /* (N,H) optional: absent = zeros */
    lstmcl_tensor c0;  /* (N,H) optional: absent = zeros */
    lstmcl_tensor Wx;  /* (D,4H) required */
    lstmcl_tensor Wh;  /* (H,4H) required */
    lstmcl_tensor b;   /* (4H) required */
    lstmcl_tensor h;   /* (N,T,H) required output */
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
    lstmcl_tensor dh;  /* (N,T,H) required: the loss's gradient w.r.t. every h */
    lstmcl_tensor dhT; /* (N,H) optional: more gradient w.r.t. the last h */
    lstmcl_tensor dcT; /* (N,H) optional: gradient w.r.t. the last c */
    lstmcl_tensor dx;  /* (N,T,D) optional output */
    lstmcl_tensor dh0; /* (N,H) optional output */
    lstmcl_tensor dc0; /* (N,H) optional output */
    lstmcl_tensor dWx; /* (D,4H) optional output */
    lstmcl_tensor dWh; /* (H,4H) optional output */
    lstmcl_tensor db;  /* (4H) optional output */
    int accumulate;    /* nonzero: add into dWx, dWh, db instead of overwriting */
    cl_mem reserve;    /* required: the training forward's reserve */
    cl_mem workspace;  /* workspace_size bytes, or NULL for the plan's own */
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
