/* Context creation (by selector or from an application's queue) and teardown. */
#include "internal.h"

#include <clblast_c.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CREATE_MESSAGE_CAP 4096
static _Thread_local char create_message[CREATE_MESSAGE_CAP];

/* Live contexts in the process: CLBlast's program cache keeps OpenCL contexts
 * alive, so it is cleared when the last lstmcl context goes. */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static long live_contexts;

const char *lstmcl_last_create_message(void)
{
    return create_message;
}

const char *lstmcl_context_device_name(const lstmcl_context *ctx)
{
    return ctx ? ctx->device_name : "";
}

cl_command_queue lstmcl_context_queue(const lstmcl_context *ctx)
{
    return ctx ? ctx->queue : NULL;
}

cl_context lstmcl_context_cl_context(const lstmcl_context *ctx)
{
    return ctx ? ctx->clctx : NULL;
}

cl_device_id lstmcl_context_device(const lstmcl_context *ctx)
{
    return ctx ? ctx->device : NULL;
}

static lstmcl_context *context_alloc(void)
{
    lstmcl_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    ctx->message_cap = 256;
    ctx->message = calloc(1, ctx->message_cap);
    if (!ctx->message) {
        free(ctx);
        return NULL;
    }
    return ctx;
}

/* Reads $LSTMCL_KERNEL_DIR/name when that variable is set (kernel
 * development), else returns the embedded copy.  *owned is the buffer to
 * free, or NULL. */
static lstmcl_status kernel_source(lstmcl_context *ctx, const char *name, const char *embedded,
                                   const char **src, char **owned)
{
    const char *dir = getenv("LSTMCL_KERNEL_DIR");
    char path[4096];
    FILE *f;
    long len;
    char *buf;

    *owned = NULL;
    *src = embedded;
    if (!dir || !*dir)
        return LSTMCL_SUCCESS;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return lstmcl__fail(ctx, LSTMCL_ERROR_IO, "LSTMCL_KERNEL_DIR is too long");
    f = fopen(path, "rb");
    if (!f)
        return lstmcl__fail(ctx, LSTMCL_ERROR_IO,
                            "cannot open kernel source %s (LSTMCL_KERNEL_DIR is set)", path);
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return lstmcl__fail(ctx, LSTMCL_ERROR_IO, "cannot read kernel source %s", path);
    }
    buf = malloc((size_t)len + 1);
    if (!buf) {
        fclose(f);
        return lstmcl__fail(ctx, LSTMCL_ERROR_OUT_OF_HOST_MEMORY, "no memory for %s", path);
    }
    if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        free(buf);
        return lstmcl__fail(ctx, LSTMCL_ERROR_IO, "cannot read kernel source %s", path);
    }
    fclose(f);
    buf[len] = '\0';
    *owned = buf;
    *src = buf;
    return LSTMCL_SUCCESS;
}

static lstmcl_status build_program(lstmcl_context *ctx)
{
    /* "#line" keeps build-log line numbers those of each .cl file */
    static const char *const names[3] = {"lstm.cl", "fused.cl", "train.cl"};
    const char *embedded[3];
    const char *src[6];
    char *owned[3] = {NULL, NULL, NULL};
    cl_int err;
    lstmcl_status st = LSTMCL_SUCCESS;
    int i;

    embedded[0] = lstmcl__source_lstm_cl;
    embedded[1] = lstmcl__source_fused_cl;
    embedded[2] = lstmcl__source_train_cl;
    src[0] = "#line 1 \"lstm.cl\"\n";
    src[2] = "#line 1 \"fused.cl\"\n";
    src[4] = "#line 1 \"train.cl\"\n";
    for (i = 0; i < 3 && st == LSTMCL_SUCCESS; i++)
        st = kernel_source(ctx, names[i], embedded[i], &src[2 * i + 1], &owned[i]);
    if (st == LSTMCL_SUCCESS) {
        ctx->program = clCreateProgramWithSource(ctx->clctx, 6, src, NULL, &err);
        if (err != CL_SUCCESS)
            st = lstmcl__fail_cl(ctx, err, "clCreateProgramWithSource");
    }
    for (i = 0; i < 3; i++)
        free(owned[i]);
    if (st != LSTMCL_SUCCESS)
        return st;
    err = LSTMCL_INJECT(CL_BUILD_PROGRAM_FAILURE,
                        clBuildProgram(ctx->program, 1, &ctx->device, "", NULL, NULL));
    if (err != CL_SUCCESS) {
        size_t log_len = 0;
        char *log = NULL;
        clGetProgramBuildInfo(ctx->program, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &log_len);
        if (log_len > 0 && (log = malloc(log_len + 1)) != NULL) {
            if (clGetProgramBuildInfo(ctx->program, ctx->device, CL_PROGRAM_BUILD_LOG, log_len,
                                      log, NULL) != CL_SUCCESS)
                log[0] = '\0';
            log[log_len] = '\0';
        }
        st = lstmcl__fail(ctx, LSTMCL_ERROR_KERNEL_BUILD,
                          "clBuildProgram(lstm.cl, fused.cl, train.cl) failed on %s: %s (%d); build "
                          "log:\n%s",
                          ctx->device_name, lstmcl__cl_error_name(err), (int)err,
                          log ? log : "(none)");
        free(log);
        return st;
    }
#define KERNEL(field, name)                                                    \
    do {                                                                       \
        ctx->field = clCreateKernel(ctx->program, name, &err);                 \
        if (err != CL_SUCCESS)                                                 \
            return lstmcl__fail_cl(ctx, err, "clCreateKernel(" name ")");      \
    } while (0)
    KERNEL(k_fwd_step, "lstm_fwd_step");
    KERNEL(k_bwd_step, "lstm_bwd_step");
    KERNEL(k_colsum, "lstm_colsum");
    KERNEL(k_fwd_fused, "lstm_fwd_fused");
    KERNEL(k_bwd_fused, "lstm_bwd_fused");
    KERNEL(k_pack_fwd, "lstm_pack_fwd");
    KERNEL(k_pack_bwd, "lstm_pack_bwd");
    KERNEL(k_embed_fwd, "lstm_embed_fwd");
    KERNEL(k_embed_bwd, "lstm_embed_bwd");
    KERNEL(k_add_bias, "lstm_add_bias");
    KERNEL(k_softmax_xent, "lstm_softmax_xent");
    KERNEL(k_sum_squares, "lstm_sum_squares");
    KERNEL(k_adam, "lstm_adam");
#undef KERNEL
    return LSTMCL_SUCCESS;
}

/* Which per-step path: LSTMCL_RECURRENT=fused|gemm, else what the device's
 * tuning file says was measured fastest (applied later), else by device type
 * (the fused kernels win on CPUs, CLBlast's tuned GEMMs on GPUs). */
static lstmcl_status choose_path(lstmcl_context *ctx)
{
    const char *v = getenv("LSTMCL_RECURRENT");
    cl_device_type type = 0;
    clGetDeviceInfo(ctx->device, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    ctx->cpu = (type & CL_DEVICE_TYPE_CPU) != 0;
    if (v && *v && strcmp(v, "auto") != 0) {
        ctx->path_forced = 1;
        if (strcmp(v, "fused") == 0)
            ctx->fused = 1;
        else if (strcmp(v, "gemm") == 0)
            ctx->fused = 0;
        else
            return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                                "LSTMCL_RECURRENT='%s': use fused, gemm or auto", v);
        return LSTMCL_SUCCESS;
    }
    ctx->fused = ctx->cpu;
    return LSTMCL_SUCCESS;
}

/* Everything after the device, OpenCL context and queue are known. */
static lstmcl_status context_init(lstmcl_context *ctx)
{
    char pname[256] = "", dname[256] = "";
    size_t wg = 0, wg2 = 0, wg3 = 0;
    cl_int err;
    lstmcl_status st;

    clGetPlatformInfo(ctx->platform, CL_PLATFORM_NAME, sizeof pname, pname, NULL);
    clGetDeviceInfo(ctx->device, CL_DEVICE_NAME, sizeof dname, dname, NULL);
    pname[sizeof pname - 1] = dname[sizeof dname - 1] = '\0';
    snprintf(ctx->device_name, sizeof ctx->device_name, "%s / %s", pname, dname);

    err = clGetDeviceInfo(ctx->device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof ctx->max_alloc,
                          &ctx->max_alloc, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(ctx->device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof ctx->global_mem,
                              &ctx->global_mem, NULL);
    if (err != CL_SUCCESS)
        return lstmcl__fail_cl(ctx, err, "clGetDeviceInfo(memory sizes)");

    st = choose_path(ctx);
    if (st != LSTMCL_SUCCESS)
        return st;
    st = lstmcl__tuning_apply(ctx);
    if (st != LSTMCL_SUCCESS)
        return st;
    st = build_program(ctx);
    if (st != LSTMCL_SUCCESS)
        return st;

    /* Elementwise kernels run in groups of up to 64 along H: large enough
     * for GPUs, and PoCL vectorises the loop over a group's work-items. */
    err = clGetKernelWorkGroupInfo(ctx->k_fwd_step, ctx->device, CL_KERNEL_WORK_GROUP_SIZE,
                                   sizeof wg, &wg, NULL);
    if (err == CL_SUCCESS)
        err = clGetKernelWorkGroupInfo(ctx->k_bwd_step, ctx->device, CL_KERNEL_WORK_GROUP_SIZE,
                                       sizeof wg2, &wg2, NULL);
    if (err == CL_SUCCESS)
        err = clGetKernelWorkGroupInfo(ctx->k_colsum, ctx->device, CL_KERNEL_WORK_GROUP_SIZE,
                                       sizeof wg3, &wg3, NULL);
    if (err != CL_SUCCESS)
        return lstmcl__fail_cl(ctx, err, "clGetKernelWorkGroupInfo");
    ctx->local_size = 64;
    if (wg2 < wg)
        wg = wg2;
    if (wg3 < wg)
        wg = wg3;
    while (ctx->local_size > 1 && ctx->local_size > wg)
        ctx->local_size /= 2;

    pthread_mutex_lock(&live_lock);
    live_contexts++;
    pthread_mutex_unlock(&live_lock);
    ctx->counted = 1;
    return LSTMCL_SUCCESS;
}

/* Keeps the failed create's message for lstmcl_last_create_message(). */
static lstmcl_status create_failed(lstmcl_context *ctx, lstmcl_status st)
{
    snprintf(create_message, sizeof create_message, "%s", ctx ? lstmcl_context_message(ctx) : "");
    if (!ctx)
        snprintf(create_message, sizeof create_message, "out of host memory creating a context");
    lstmcl_context_destroy(ctx);
    return st;
}

static void describe_devices(char *out, size_t cap, const lstmcl_device_desc *list, size_t n)
{
    size_t i, used = 0;
    out[0] = '\0';
    for (i = 0; i < n && used < cap; i++) {
        int w = snprintf(out + used, cap - used, "\n  %u:%u  %s / %s (%s)", list[i].platform_index,
                         list[i].device_index, list[i].platform_name, list[i].device_name,
                         lstmcl__type_word(list[i].type));
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

lstmcl_status lstmcl_context_create(lstmcl_context **out, const char *device)
{
    lstmcl_context *ctx;
    lstmcl_selector sel;
    lstmcl_device_desc *list = NULL;
    size_t n = 0;
    long pick;
    char err_text[256];
    const char *from = "the device argument";
    cl_int err;
    lstmcl_status st;

    create_message[0] = '\0';
    if (!out) {
        snprintf(create_message, sizeof create_message,
                 "lstmcl_context_create: ctx (the output pointer) is NULL");
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    }
    *out = NULL;
    ctx = context_alloc();
    if (!ctx)
        return create_failed(NULL, LSTMCL_ERROR_OUT_OF_HOST_MEMORY);

    if (!device) {
        device = getenv("LSTMCL_DEVICE");
        from = "LSTMCL_DEVICE";
        if (!device)
            device = "";
    }
    if (lstmcl__selector_parse(device, &sel, err_text, sizeof err_text) != 0)
        return create_failed(ctx, lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                                               "bad device selector in %s: %s", from, err_text));

    err = lstmcl__list_devices(&list, &n);
    if (err != CL_SUCCESS)
        return create_failed(ctx, lstmcl__fail_cl(ctx, err, "listing OpenCL devices"));
    if (n == 0)
        return create_failed(ctx, lstmcl__fail(ctx, LSTMCL_ERROR_NO_DEVICE,
                                               "no OpenCL device found: is an OpenCL driver "
                                               "(ICD) installed, e.g. pocl-opencl-icd?"));
    pick = lstmcl__selector_match(&sel, list, n);
    if (pick < 0) {
        char names[2048];
        describe_devices(names, sizeof names, list, n);
        free(list);
        return create_failed(ctx, lstmcl__fail(ctx, LSTMCL_ERROR_DEVICE_NOT_FOUND,
                                               "device selector '%s' (from %s) matches no "
                                               "OpenCL device; the devices are:%s",
                                               device, from, names));
    }
    ctx->platform = list[pick].platform;
    ctx->device = list[pick].device;
    free(list);

    {
        cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->platform,
                                         0};
        ctx->clctx = clCreateContext(props, 1, &ctx->device, NULL, NULL, &err);
        if (err != CL_SUCCESS)
            return create_failed(ctx, lstmcl__fail_cl(ctx, err, "clCreateContext"));
    }
    ctx->queue = clCreateCommandQueue(ctx->clctx, ctx->device, 0, &err);
    if (err != CL_SUCCESS)
        return create_failed(ctx, lstmcl__fail_cl(ctx, err, "clCreateCommandQueue"));
    ctx->device_retained = 0;

    st = context_init(ctx);
    if (st != LSTMCL_SUCCESS)
        return create_failed(ctx, st);
    lstmcl__clear_message(ctx);
    *out = ctx;
    return LSTMCL_SUCCESS;
}

lstmcl_status lstmcl_context_create_from_queue(lstmcl_context **out, cl_command_queue queue)
{
    lstmcl_context *ctx;
    cl_command_queue_properties props = 0;
    cl_int err;
    lstmcl_status st;

    create_message[0] = '\0';
    if (!out || !queue) {
        snprintf(create_message, sizeof create_message,
                 "lstmcl_context_create_from_queue: %s is NULL", !out ? "ctx" : "queue");
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    }
    *out = NULL;
    ctx = context_alloc();
    if (!ctx)
        return create_failed(NULL, LSTMCL_ERROR_OUT_OF_HOST_MEMORY);

    err = clGetCommandQueueInfo(queue, CL_QUEUE_CONTEXT, sizeof ctx->clctx, &ctx->clctx, NULL);
    if (err == CL_SUCCESS)
        err = clGetCommandQueueInfo(queue, CL_QUEUE_DEVICE, sizeof ctx->device, &ctx->device,
                                    NULL);
    if (err == CL_SUCCESS)
        err = clGetCommandQueueInfo(queue, CL_QUEUE_PROPERTIES, sizeof props, &props, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(ctx->device, CL_DEVICE_PLATFORM, sizeof ctx->platform,
                              &ctx->platform, NULL);
    if (err != CL_SUCCESS) {
        ctx->clctx = NULL;
        ctx->device = NULL;
        return create_failed(ctx, lstmcl__fail_cl(ctx, err, "querying the application's queue"));
    }
    if (props & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE) {
        ctx->clctx = NULL;
        ctx->device = NULL;
        return create_failed(ctx, lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                                               "the queue is out-of-order; lstmcl needs an "
                                               "in-order command queue"));
    }
    clRetainCommandQueue(queue);
    clRetainContext(ctx->clctx);
    clRetainDevice(ctx->device);
    ctx->queue = queue;
    ctx->device_retained = 1;

    st = context_init(ctx);
    if (st != LSTMCL_SUCCESS)
        return create_failed(ctx, st);
    lstmcl__clear_message(ctx);
    *out = ctx;
    return LSTMCL_SUCCESS;
}

void lstmcl_context_destroy(lstmcl_context *ctx)
{
    int i;
    if (!ctx)
        return;
    if (ctx->queue)
        clFinish(ctx->queue);
    /* Orphan the caches still alive: free their device memory, keep the
     * host objects for lstmcl_cache_destroy. */
    while (ctx->caches) {
        lstmcl_cache *c = ctx->caches;
        int k;
        ctx->caches = c->next;
        for (k = 0; k < LSTMCL_CB_COUNT; k++) {
            if (c->mem[k])
                clReleaseMemObject(c->mem[k]);
            c->mem[k] = NULL;
        }
        c->ctx = NULL;
        c->next = NULL;
    }
    while (ctx->plans) {
        lstmcl_plan *p = ctx->plans;
        ctx->plans = p->next;
        if (p->own_workspace)
            clReleaseMemObject(p->own_workspace);
        p->own_workspace = NULL;
        p->ctx = NULL;
        p->next = NULL;
    }
    for (i = 0; i < ctx->npool; i++)
        clReleaseMemObject(ctx->pool[i].mem);
    if (ctx->gemm_temp)
        clReleaseMemObject(ctx->gemm_temp);
    if (ctx->k_fwd_step)
        clReleaseKernel(ctx->k_fwd_step);
    if (ctx->k_bwd_step)
        clReleaseKernel(ctx->k_bwd_step);
    if (ctx->k_colsum)
        clReleaseKernel(ctx->k_colsum);
    if (ctx->k_fwd_fused)
        clReleaseKernel(ctx->k_fwd_fused);
    if (ctx->k_bwd_fused)
        clReleaseKernel(ctx->k_bwd_fused);
    if (ctx->k_pack_fwd)
        clReleaseKernel(ctx->k_pack_fwd);
    if (ctx->k_pack_bwd)
        clReleaseKernel(ctx->k_pack_bwd);
    {
        cl_kernel *train_kernels[] = {&ctx->k_embed_fwd, &ctx->k_embed_bwd, &ctx->k_add_bias,
                                      &ctx->k_softmax_xent, &ctx->k_sum_squares, &ctx->k_adam};
        size_t k;
        for (k = 0; k < sizeof train_kernels / sizeof train_kernels[0]; k++)
            if (*train_kernels[k])
                clReleaseKernel(*train_kernels[k]);
    }
    if (ctx->program)
        clReleaseProgram(ctx->program);
    if (ctx->queue)
        clReleaseCommandQueue(ctx->queue);
    if (ctx->clctx)
        clReleaseContext(ctx->clctx);
    if (ctx->device_retained)
        clReleaseDevice(ctx->device);
    if (ctx->counted) {
        pthread_mutex_lock(&live_lock);
        if (--live_contexts == 0)
            CLBlastClearCache();
        pthread_mutex_unlock(&live_lock);
    }
    free(ctx->message);
    free(ctx);
}
