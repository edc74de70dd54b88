/* Shared by the files that enqueue kernels: tensor checks and launching. */
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

void lstmcl__arg_int(lstmcl_argset *a, size_t v)
{
    int iv = (int)v; /* the checks keep every index below INT_MAX */
    if (a->err == CL_SUCCESS)
        a->err = clSetKernelArg(a->k, a->i, sizeof iv, &iv);
    a->i++;
}

void lstmcl__arg_mem(lstmcl_argset *a, cl_mem m)
{
    if (a->err == CL_SUCCESS)
        a->err = clSetKernelArg(a->k, a->i, sizeof m, m ? &m : NULL);
    a->i++;
}

/* Runs a kernel over (cols rounded up to the work-group size) x rows. */
lstmcl_status lstmcl__launch(lstmcl_context *ctx, const lstmcl_argset *a, const char *name, size_t cols,
                            size_t rows)
{
    size_t ls = ctx->local_size;
    size_t global[2], local[2];
    cl_int err;

    if (a->err != CL_SUCCESS)
        return lstmcl__fail_cl(ctx, a->err, name);
    local[0] = ls, local[1] = 1;
    global[0] = (cols + ls - 1) / ls * ls;
    global[1] = rows;
    err = LSTMCL_INJECT(CL_OUT_OF_RESOURCES, clEnqueueNDRangeKernel(ctx->queue, a->k, 2, NULL,
                                                                    global, local, 0, NULL, NULL));
    if (err != CL_SUCCESS)
        return lstmcl__fail_cl(ctx, err, name);
    return LSTMCL_SUCCESS;
}


void lstmcl__arg_float(lstmcl_argset *a, float v)
{
    if (a->err == CL_SUCCESS)
        a->err = clSetKernelArg(a->k, a->i, sizeof v, &v);
    a->i++;
}
