/* Shared by the files that enqueue kernels: tensor checks, kernel arguments
 * and launch geometry. */
#include "internal.h"

#include <limits.h>

/* A tensor holds `elems` 4-byte elements from its offset, in this context. */
lstmcl_status lstmcl__check_tensor(lstmcl_context *ctx, const char *fn, const char *name,
                                   const lstmcl_tensor *t, size_t elems, int required)
{
    size_t size = 0;
    cl_context owner = NULL;
    cl_int err;

    if (!t->mem) {
        if (required)
            return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                                "%s: %s is required but its mem is NULL", fn, name);
        return LSTMCL_SUCCESS;
    }
    err = clGetMemObjectInfo(t->mem, CL_MEM_SIZE, sizeof size, &size, NULL);
    if (err == CL_SUCCESS)
        err = clGetMemObjectInfo(t->mem, CL_MEM_CONTEXT, sizeof owner, &owner, NULL);
    if (err != CL_SUCCESS)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                            "%s: %s is not a valid OpenCL buffer (%s)", fn, name,
                            lstmcl__cl_error_name(err));
    if (owner != ctx->clctx)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                            "%s: %s belongs to another OpenCL context than lstmcl's", fn, name);
    if (t->offset > size / sizeof(float) || elems > size / sizeof(float) - t->offset)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                            "%s: %s needs %zu floats from offset %zu, but its buffer holds %zu "
                            "floats",
                            fn, name, elems, t->offset, size / sizeof(float));
    if (t->offset + elems > (size_t)INT_MAX)
        return lstmcl__fail(ctx, LSTMCL_ERROR_TOO_LARGE,
                            "%s: %s ends at float %zu; lstmcl's kernels index at most %d", fn,
                            name, t->offset + elems, INT_MAX);
    return LSTMCL_SUCCESS;
}

cl_int lstmcl__arg(cl_kernel k, cl_uint index, size_t size, const void *value, cl_int prev)
{
    return prev != CL_SUCCESS ? prev : clSetKernelArg(k, index, size, value);
}

cl_int lstmcl__arg_mem(cl_kernel k, cl_uint index, cl_mem m, cl_int prev)
{
    return prev != CL_SUCCESS ? prev : clSetKernelArg(k, index, sizeof m, m ? &m : NULL);
}

cl_int lstmcl__arg_local(cl_kernel k, cl_uint index, size_t bytes, cl_int prev)
{
    return prev != CL_SUCCESS ? prev : clSetKernelArg(k, index, bytes, NULL);
}

/* The work-group size of elementwise launches: up to 64 along dimension 0,
 * a power of two within the kernel's limit.  Large enough for GPUs; PoCL
 * vectorises the loop over a group's work-items. */
static size_t items_local(const lstmcl_context *ctx, lstmcl_kernel_id id)
{
    size_t ls = 64;
    while (ls > 1 && ls > ctx->kernel_wg[id])
        ls /= 2;
    return ls;
}

lstmcl_status lstmcl__enqueue(lstmcl_context *ctx, lstmcl_kernel_id id, lstmcl_range r)
{
    size_t global[2], local[2] = {1, 1};
    cl_int err;

    if (r.cols == 0 || r.rows == 0)
        return LSTMCL_SUCCESS; /* nothing to do (OpenCL refuses empty ranges) */
    switch (r.kind) {
    case LSTMCL_RANGE_GROUPS:
        if (r.local == 0 || r.local > ctx->kernel_wg[id])
            return lstmcl__fail(ctx, LSTMCL_ERROR_OPENCL,
                                "%s: work-groups of %zu exceed the kernel's limit of %zu",
                                lstmcl__kernel_names[id], r.local, ctx->kernel_wg[id]);
        local[0] = r.local;
        global[0] = r.cols * r.local;
        global[1] = r.rows < ctx->max_groups ? r.rows : ctx->max_groups;
        break;
    case LSTMCL_RANGE_SINGLE:
        global[0] = r.cols;
        global[1] = r.rows < ctx->max_groups ? r.rows : ctx->max_groups;
        break;
    default:
        local[0] = items_local(ctx, id);
        global[0] = (r.cols + local[0] - 1) / local[0] * local[0];
        global[1] = r.rows < ctx->max_groups ? r.rows : ctx->max_groups;
        break;
    }
    err = LSTMCL_INJECT(CL_OUT_OF_RESOURCES, clEnqueueNDRangeKernel(ctx->queue, ctx->kernels[id],
                                                                    2, NULL, global, local, 0,
                                                                    NULL, NULL));
    if (err != CL_SUCCESS)
        return lstmcl__fail_cl(ctx, err, lstmcl__kernel_names[id]);
    ctx->counters.kernels++;
    return LSTMCL_SUCCESS;
}
