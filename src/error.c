/* Status names and messages, OpenCL error names, and the context's message. */
#include "internal.h"

#include <pthread.h>
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

/* Each thread keeps its own last message for the last few contexts it used,
 * so that threads sharing a context never read or overwrite each other's
 * text.  A slot names its context by address and serial number: a context
 * made later at the same address is a different one. */
#define MESSAGE_SLOTS 8

typedef struct {
    const lstmcl_context *ctx;
    unsigned long serial;
    char *text; /* heap, "" when none */
    size_t cap;
} message_slot;

typedef struct {
    message_slot slot[MESSAGE_SLOTS];
    unsigned next; /* the slot to reuse when none matches */
} thread_messages;

static _Thread_local thread_messages *mine;
static pthread_key_t messages_key;
static pthread_once_t messages_once = PTHREAD_ONCE_INIT;
static int messages_key_made;

static void messages_free(void *p)
{
    thread_messages *tm = p;
    int i;
    if (!tm)
        return;
    for (i = 0; i < MESSAGE_SLOTS; i++)
        free(tm->slot[i].text);
    free(tm);
}

static void messages_key_create(void)
{
    messages_key_made = pthread_key_create(&messages_key, messages_free) == 0;
}

/* The calling thread's slot for ctx: the one it has, else (when make is
 * set) a fresh or the oldest one; NULL when none is had or can be made. */
static message_slot *slot_of(const lstmcl_context *ctx, int make)
{
    int i;
    message_slot *s;
    if (!mine) {
        if (!make)
            return NULL;
        pthread_once(&messages_once, messages_key_create);
        mine = calloc(1, sizeof *mine);
        if (!mine)
            return NULL;
        if (messages_key_made)
            pthread_setspecific(messages_key, mine); /* freed when the thread ends */
    }
    for (i = 0; i < MESSAGE_SLOTS; i++)
        if (mine->slot[i].ctx == ctx && mine->slot[i].serial == ctx->serial)
            return &mine->slot[i];
    if (!make)
        return NULL;
    s = &mine->slot[mine->next++ % MESSAGE_SLOTS];
    s->ctx = ctx;
    s->serial = ctx->serial;
    if (s->text)
        s->text[0] = '\0';
    return s;
}

void lstmcl__clear_message(lstmcl_context *ctx)
{
    message_slot *s = ctx ? slot_of(ctx, 0) : NULL;
    if (s && s->text)
        s->text[0] = '\0';
}

static void set_message(message_slot *s, const char *fmt, va_list ap)
{
    va_list ap2;
    int len;
    char probe[1];

    va_copy(ap2, ap);
    len = vsnprintf(probe, sizeof probe, fmt, ap2);
    va_end(ap2);
    if (len < 0)
        return;
    if ((size_t)len >= s->cap) {
        char *bigger = realloc(s->text, (size_t)len + 1);
        if (!bigger) {
            if (s->text)
                s->text[0] = '\0';
            return;
        }
        s->text = bigger;
        s->cap = (size_t)len + 1;
    }
    vsnprintf(s->text, s->cap, fmt, ap);
}

lstmcl_status lstmcl__fail(lstmcl_context *ctx, lstmcl_status status, const char *fmt, ...)
{
    va_list ap;
    message_slot *s = ctx ? slot_of(ctx, 1) : NULL;
    if (!s)
        return status;
    va_start(ap, fmt);
    set_message(s, fmt, ap);
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
    message_slot *s = ctx ? slot_of(ctx, 0) : NULL;
    return (s && s->text) ? s->text : "";
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
