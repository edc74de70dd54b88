/* Status names and messages, OpenCL error names, and the context's message. */
#include "internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *lstmcl_status_string(lstmcl_status status)
{
    switch (status) {
#define XX(name, value, msg) \
    case LSTMCL_##name:      \
        return msg;
        LSTMCL_STATUS_MAP(XX)
#undef XX
    default:
        return "unknown status";
    }
}

const char *lstmcl_status_name(lstmcl_status status)
{
    switch (status) {
#define XX(name, value, msg) \
    case LSTMCL_##name:      \
        return "LSTMCL_" #name;
        LSTMCL_STATUS_MAP(XX)
#undef XX
    default:
        return "LSTMCL_UNKNOWN_STATUS";
    }
}

const char *lstmcl_version_string(void)
{
#define LSTMCL_STR2_(x) #x
#define LSTMCL_STR_(x) LSTMCL_STR2_(x)
    return LSTMCL_STR_(LSTMCL_VERSION_MAJOR) "." LSTMCL_STR_(LSTMCL_VERSION_MINOR) "." LSTMCL_STR_(
        LSTMCL_VERSION_PATCH);
}

const char *lstmcl__cl_error_name(cl_int err)
{
    switch (err) {
#define E(x) \
    case x:  \
        return #x;
        E(CL_SUCCESS) E(CL_DEVICE_NOT_FOUND) E(CL_DEVICE_NOT_AVAILABLE)
        E(CL_COMPILER_NOT_AVAILABLE) E(CL_MEM_OBJECT_ALLOCATION_FAILURE) E(CL_OUT_OF_RESOURCES)
        E(CL_OUT_OF_HOST_MEMORY) E(CL_PROFILING_INFO_NOT_AVAILABLE) E(CL_MEM_COPY_OVERLAP)
        E(CL_IMAGE_FORMAT_MISMATCH) E(CL_IMAGE_FORMAT_NOT_SUPPORTED) E(CL_BUILD_PROGRAM_FAILURE)
        E(CL_MAP_FAILURE) E(CL_MISALIGNED_SUB_BUFFER_OFFSET)
        E(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST) E(CL_COMPILE_PROGRAM_FAILURE)
        E(CL_LINKER_NOT_AVAILABLE) E(CL_LINK_PROGRAM_FAILURE) E(CL_DEVICE_PARTITION_FAILED)
        E(CL_KERNEL_ARG_INFO_NOT_AVAILABLE) E(CL_INVALID_VALUE) E(CL_INVALID_DEVICE_TYPE)
        E(CL_INVALID_PLATFORM) E(CL_INVALID_DEVICE) E(CL_INVALID_CONTEXT)
        E(CL_INVALID_QUEUE_PROPERTIES) E(CL_INVALID_COMMAND_QUEUE) E(CL_INVALID_HOST_PTR)
        E(CL_INVALID_MEM_OBJECT) E(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR) E(CL_INVALID_IMAGE_SIZE)
        E(CL_INVALID_SAMPLER) E(CL_INVALID_BINARY) E(CL_INVALID_BUILD_OPTIONS)
        E(CL_INVALID_PROGRAM) E(CL_INVALID_PROGRAM_EXECUTABLE) E(CL_INVALID_KERNEL_NAME)
        E(CL_INVALID_KERNEL_DEFINITION) E(CL_INVALID_KERNEL) E(CL_INVALID_ARG_INDEX)
        E(CL_INVALID_ARG_VALUE) E(CL_INVALID_ARG_SIZE) E(CL_INVALID_KERNEL_ARGS)
        E(CL_INVALID_WORK_DIMENSION) E(CL_INVALID_WORK_GROUP_SIZE) E(CL_INVALID_WORK_ITEM_SIZE)
        E(CL_INVALID_GLOBAL_OFFSET) E(CL_INVALID_EVENT_WAIT_LIST) E(CL_INVALID_EVENT)
        E(CL_INVALID_OPERATION) E(CL_INVALID_GL_OBJECT) E(CL_INVALID_BUFFER_SIZE)
        E(CL_INVALID_MIP_LEVEL) E(CL_INVALID_GLOBAL_WORK_SIZE) E(CL_INVALID_PROPERTY)
        E(CL_INVALID_IMAGE_DESCRIPTOR) E(CL_INVALID_COMPILER_OPTIONS) E(CL_INVALID_LINKER_OPTIONS)
        E(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef E
    case -1001:
        return "CL_PLATFORM_NOT_FOUND_KHR";
    default:
        return "unknown OpenCL error";
    }
}

void lstmcl__clear_message(lstmcl_context *ctx)
{
    if (ctx && ctx->message)
        ctx->message[0] = '\0';
}

static void set_message(lstmcl_context *ctx, const char *fmt, va_list ap)
{
    va_list ap2;
    int len;

    va_copy(ap2, ap);
    len = vsnprintf(ctx->message, ctx->message_cap, fmt, ap2);
    va_end(ap2);
    if (len < 0)
        return;
    if ((size_t)len >= ctx->message_cap) {
        char *bigger = realloc(ctx->message, (size_t)len + 1);
        if (!bigger)
            return; /* keep the truncated message */
        ctx->message = bigger;
        ctx->message_cap = (size_t)len + 1;
        vsnprintf(ctx->message, ctx->message_cap, fmt, ap);
    }
}

lstmcl_status lstmcl__fail(lstmcl_context *ctx, lstmcl_status status, const char *fmt, ...)
{
    va_list ap;
    if (!ctx || !ctx->message)
        return status;
    va_start(ap, fmt);
    set_message(ctx, fmt, ap);
    va_end(ap);
    return status;
}

lstmcl_status lstmcl__fail_cl(lstmcl_context *ctx, cl_int err, const char *what)
{
    lstmcl_status st = LSTMCL_ERROR_OPENCL;
    if (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_INVALID_BUFFER_SIZE)
        st = LSTMCL_ERROR_OUT_OF_DEVICE_MEMORY;
    else if (err == CL_OUT_OF_HOST_MEMORY)
        st = LSTMCL_ERROR_OUT_OF_HOST_MEMORY;
    return lstmcl__fail(ctx, st, "%s failed: %s (%d)", what, lstmcl__cl_error_name(err), (int)err);
}

const char *lstmcl_context_message(const lstmcl_context *ctx)
{
    return (ctx && ctx->message) ? ctx->message : "";
}

static atomic_long fault_at, fault_count;

int lstmcl__inject(void)
{
    if (atomic_load(&fault_at) == 0)
        return 0;
    return atomic_fetch_add(&fault_count, 1) + 1 == atomic_load(&fault_at);
}

void lstmcl__fault_arm(long n)
{
    atomic_store(&fault_count, 0);
    atomic_store(&fault_at, n);
}

long lstmcl__fault_points(void)
{
    return atomic_load(&fault_count);
}
