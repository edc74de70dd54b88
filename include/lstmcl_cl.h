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
 * them whenever it likes.  Every lstmcl call finishes the queue (clFinish)
 * before it returns, so work the application enqueued earlier on the same
 * queue is also complete by then.
 */
LSTMCL_API lstmcl_status lstmcl_context_create_from_queue(lstmcl_context **ctx,
                                                          cl_command_queue queue);

/* The queue, OpenCL context and device the lstmcl context uses; not retained
 * for the caller (valid while ctx lives).  NULL ctx: NULL. */
LSTMCL_API cl_command_queue lstmcl_context_queue(const lstmcl_context *ctx);
LSTMCL_API cl_context lstmcl_context_cl_context(const lstmcl_context *ctx);
LSTMCL_API cl_device_id lstmcl_context_device(const lstmcl_context *ctx);

#ifdef __cplusplus
}
#endif

#endif /* LSTMCL_CL_H */
