/* Context creation (by selector or from an application's queue) and teardown. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"

#include <clblast_c.h>
#include <pthread.h>
#include <stdatomic.h>
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
    /* a call in progress may have swapped in its side queue: wait for it */
    LSTMCL_LOCKED((lstmcl_context *)ctx);
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

static atomic_ulong next_serial;

static lstmcl_context *context_alloc(void)
{
    pthread_mutexattr_t attr;
    lstmcl_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    ctx->serial = atomic_fetch_add(&next_serial, 1) + 1;
    if (pthread_mutexattr_init(&attr) != 0) {
        free(ctx);
        return NULL;
    }
    if (pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE) != 0 ||
        pthread_mutex_init(&ctx->lock, &attr) != 0) {
        pthread_mutexattr_destroy(&attr);
        free(ctx);
        return NULL;
    }
    pthread_mutexattr_destroy(&attr);
    ctx->lock_made = 1;
    return ctx;
}

lstmcl_context *lstmcl__lock(lstmcl_context *ctx)
{
    if (ctx)
        pthread_mutex_lock(&ctx->lock);
    return ctx;
}

void lstmcl__unlock_scope(lstmcl_context **held)
{
    if (*held)
        pthread_mutex_unlock(&(*held)->lock);
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

/* The program from its source (the build log in the message on failure). */
static lstmcl_status build_from_source(lstmcl_context *ctx, const char **src, int nsrc,
                                       const char *options, const char *files)
{
    cl_int err;
    lstmcl_status st;
    ctx->program = clCreateProgramWithSource(ctx->clctx, (cl_uint)nsrc, src, NULL, &err);
    if (err != CL_SUCCESS) {
        ctx->program = NULL;
        return lstmcl__fail_cl(ctx, err, "clCreateProgramWithSource");
    }
    err = LSTMCL_INJECT(CL_BUILD_PROGRAM_FAILURE,
                        clBuildProgram(ctx->program, 1, &ctx->device, options, NULL, NULL));
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
                          "clBuildProgram(%s) failed on %s: %s (%d); build log:\n%s", files,
                          ctx->device_name, lstmcl__cl_error_name(err), (int)err,
                          log ? log : "(none)");
        free(log);
        return st;
    }
    return LSTMCL_SUCCESS;
}

/* Every kernel of ctx->program, with its largest work-group; on failure
 * *missing names the kernel (and the kernels made are released). */
static lstmcl_status make_kernels(lstmcl_context *ctx, const char **missing)
{
    cl_int err;
    int i;
    for (i = 0; i < LSTMCL_K_COUNT; i++) {
        size_t wg = 0;
        *missing = lstmcl__kernel_names[i];
        ctx->kernels[i] = clCreateKernel(ctx->program, lstmcl__kernel_names[i], &err);
        if (err != CL_SUCCESS) {
            ctx->kernels[i] = NULL;
            return lstmcl__fail(ctx, LSTMCL_ERROR_OPENCL, "clCreateKernel(%s) failed: %s",
                                lstmcl__kernel_names[i], lstmcl__cl_error_name(err));
        }
        err = clGetKernelWorkGroupInfo(ctx->kernels[i], ctx->device, CL_KERNEL_WORK_GROUP_SIZE,
                                       sizeof wg, &wg, NULL);
        if (err != CL_SUCCESS)
            return lstmcl__fail(ctx, LSTMCL_ERROR_OPENCL,
                                "clGetKernelWorkGroupInfo(%s) failed: %s",
                                lstmcl__kernel_names[i], lstmcl__cl_error_name(err));
        if (wg > ctx->max_wg)
            wg = ctx->max_wg;
        if (wg > ctx->max_items0)
            wg = ctx->max_items0;
        ctx->kernel_wg[i] = wg ? wg : 1;
    }
    *missing = NULL;
    return LSTMCL_SUCCESS;
}

static void release_program(lstmcl_context *ctx)
{
    int i;
    for (i = 0; i < LSTMCL_K_COUNT; i++) {
        if (ctx->kernels[i])
            clReleaseKernel(ctx->kernels[i]);
        ctx->kernels[i] = NULL;
    }
    if (ctx->program)
        clReleaseProgram(ctx->program);
    ctx->program = NULL;
}

/* lstmcl's program: from the program-binary cache (src/progcache.c) when it
 * holds this device's build of these sources, else built from source and
 * stored there. */
static lstmcl_status build_program(lstmcl_context *ctx)
{
    /* "#line" keeps build-log line numbers those of each .cl file */
    const char *src[2 * LSTMCL_PROGRAM_FILES];
    static const char options[] = "";
    char lines[LSTMCL_PROGRAM_FILES][64];
    char *owned[LSTMCL_PROGRAM_FILES] = {NULL};
    char files[256] = "";
    const char *missing = NULL;
    lstmcl_status st = LSTMCL_SUCCESS;
    int i;

    for (i = 0; i < LSTMCL_PROGRAM_FILES && st == LSTMCL_SUCCESS; i++) {
        snprintf(lines[i], sizeof lines[i], "#line 1 \"%s\"\n", lstmcl__program_file_names[i]);
        snprintf(files + strlen(files), sizeof files - strlen(files), "%s%s", i ? ", " : "",
                 lstmcl__program_file_names[i]);
        src[2 * i] = lines[i];
        st = kernel_source(ctx, lstmcl__program_file_names[i], lstmcl__program_sources[i],
                           &src[2 * i + 1], &owned[i]);
    }
    if (st == LSTMCL_SUCCESS) {
        lstmcl__progcache_key(ctx, src, 2 * LSTMCL_PROGRAM_FILES, options);
        ctx->program = lstmcl__progcache_load(ctx, options);
        if (ctx->program && make_kernels(ctx, &missing) != LSTMCL_SUCCESS) {
            /* a binary that builds but lacks a kernel: not ours after all */
            release_program(ctx);
            lstmcl__progcache_refused(ctx, missing);
            lstmcl__clear_message(ctx);
        }
        if (!ctx->program) {
            st = build_from_source(ctx, src, 2 * LSTMCL_PROGRAM_FILES, options, files);
            if (st == LSTMCL_SUCCESS)
                st = make_kernels(ctx, &missing);
            if (st == LSTMCL_SUCCESS)
                lstmcl__progcache_store(ctx, ctx->program);
        }
    }
    for (i = 0; i < LSTMCL_PROGRAM_FILES; i++)
        free(owned[i]);
    return st;
}

const char *lstmcl__path_name(lstmcl_path path)
{
    switch (path) {
    case LSTMCL_PATH_GEMM:
        return "gemm";
    case LSTMCL_PATH_FUSED:
        return "fused";
    case LSTMCL_PATH_TILED:
        return "tiled";
    }
    return "";
}

const char *lstmcl_context_recurrent_path(const lstmcl_context *ctx)
{
    return ctx ? lstmcl__path_name(ctx->path) : "";
}

const char *lstmcl_context_gemm(const lstmcl_context *ctx)
{
    return ctx ? lstmcl__gemm_name(ctx->gemm) : "";
}

void lstmcl_context_counters(lstmcl_context *ctx, lstmcl_counters *out, int reset)
{
    LSTMCL_LOCKED(ctx);
    if (out) {
        if (ctx)
            *out = ctx->counters;
        else
            memset(out, 0, sizeof *out);
    }
    if (ctx && reset)
        memset(&ctx->counters, 0, sizeof ctx->counters);
}

/* Which per-step path: LSTMCL_RECURRENT=fused|gemm|tiled, else what the
 * device's tuning file says was measured fastest (applied later), else by
 * device type: the fused kernels on CPUs, the tiled ones elsewhere. */
static lstmcl_status choose_path(lstmcl_context *ctx)
{
    const char *v = getenv("LSTMCL_RECURRENT");
    if (v && *v && strcmp(v, "auto") != 0) {
        ctx->path_forced = 1;
        if (strcmp(v, "fused") == 0)
            ctx->path = LSTMCL_PATH_FUSED;
        else if (strcmp(v, "gemm") == 0)
            ctx->path = LSTMCL_PATH_GEMM;
        else if (strcmp(v, "tiled") == 0)
            ctx->path = LSTMCL_PATH_TILED;
        else
            return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                                "LSTMCL_RECURRENT='%s': use fused, gemm, tiled or auto", v);
        return LSTMCL_SUCCESS;
    }
    /* The fused kernels suit CPU runtimes that run a work-group as a loop
     * on one thread and vectorise inside each work-item (PoCL).  Mesa's
     * llvmpipe, also a CPU device, runs work-items in SIMD lanes as a GPU
     * does: there a fused step took 20 ms and the tiled one about 1.5
     * (docs/performance.md, "rusticl"). */
    ctx->path = ctx->cpu && !strstr(ctx->device_name, "llvmpipe") ? LSTMCL_PATH_FUSED
                                                                   : LSTMCL_PATH_TILED;
    return LSTMCL_SUCCESS;
}

/* Where the GEMMs run: LSTMCL_GEMM=clblast|onednn, else what the tuning
 * file says was measured fastest (applied later), else oneDNN's sgemm on the
 * host where it can run (a CPU device whose memory is the host's, in a
 * build with oneDNN), CLBlast elsewhere. */
static lstmcl_status choose_gemm(lstmcl_context *ctx)
{
    const char *v = getenv("LSTMCL_GEMM");
    const char *why = lstmcl__gemm_unavailable(ctx);
    ctx->gemm = why ? LSTMCL_GEMM_CLBLAST : LSTMCL_GEMM_ONEDNN;
    if (!v || !*v || strcmp(v, "auto") == 0)
        return LSTMCL_SUCCESS;
    ctx->gemm_forced = 1;
    if (strcmp(v, "clblast") == 0) {
        ctx->gemm = LSTMCL_GEMM_CLBLAST;
    } else if (strcmp(v, "onednn") == 0) {
        if (why)
            return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                                "LSTMCL_GEMM=onednn, but %s", why);
        ctx->gemm = LSTMCL_GEMM_ONEDNN;
    } else {
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                            "LSTMCL_GEMM='%s': use clblast, onednn or auto", v);
    }
    return LSTMCL_SUCCESS;
}

const char *lstmcl__gemm_unavailable(const lstmcl_context *ctx)
{
    if (!lstmcl__onednn_built())
        return "this lstmcl was built without oneDNN (libdnnl-dev)";
    if (!ctx->cpu)
        return "oneDNN's sgemm runs on the host, and the device is not a CPU";
    if (!ctx->host_unified)
        return "the device's memory is not the host's (CL_DEVICE_HOST_UNIFIED_MEMORY)";
    return NULL;
}

/* LSTMCL_TEST_DEVICE_LIMITS, for tests only: makes the device look like a
 * GPU with small limits, so that the GPU-shaped code runs on PoCL:
 *   gpu         the device is not treated as a CPU
 *   wg=N        work-groups of at most N work-items
 *   groups=N    at most N work-groups along dimensions 1 and 2
 * comma-separated, e.g. "gpu,wg=32,groups=65535". */
static lstmcl_status test_limits(lstmcl_context *ctx)
{
    const char *v = getenv("LSTMCL_TEST_DEVICE_LIMITS");
    char buf[128], *tok, *save = NULL;
    if (!v || !*v)
        return LSTMCL_SUCCESS;
    if (strlen(v) >= sizeof buf)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                            "LSTMCL_TEST_DEVICE_LIMITS is too long");
    strcpy(buf, v);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end = NULL;
        unsigned long n = 0;
        if (strcmp(tok, "gpu") == 0) {
            ctx->cpu = 0;
            continue;
        }
        if (strncmp(tok, "wg=", 3) == 0 || strncmp(tok, "groups=", 7) == 0)
            n = strtoul(strchr(tok, '=') + 1, &end, 10);
        if (!end || *end || n == 0 || n > 1u << 30)
            return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                                "LSTMCL_TEST_DEVICE_LIMITS: '%s' is not gpu, wg=N or groups=N",
                                tok);
        if (tok[0] == 'w')
            ctx->limit_wg = n;
        else
            ctx->max_groups = n;
    }
    return LSTMCL_SUCCESS;
}

/* The device's limits, within LSTMCL_TEST_DEVICE_LIMITS. */
static lstmcl_status device_limits(lstmcl_context *ctx)
{
    cl_device_type type = 0;
    size_t items[3] = {0, 0, 0};
    cl_int err;
    lstmcl_status st;

    err = clGetDeviceInfo(ctx->device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof ctx->max_alloc,
                          &ctx->max_alloc, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(ctx->device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof ctx->global_mem,
                              &ctx->global_mem, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(ctx->device, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(ctx->device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof ctx->max_wg,
                              &ctx->max_wg, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(ctx->device, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof items, items,
                              NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(ctx->device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof ctx->local_mem,
                              &ctx->local_mem, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(ctx->device, CL_DEVICE_MAX_COMPUTE_UNITS,
                              sizeof ctx->compute_units, &ctx->compute_units, NULL);
    if (err != CL_SUCCESS)
        return lstmcl__fail_cl(ctx, err, "clGetDeviceInfo(limits)");
    ctx->cpu = (type & CL_DEVICE_TYPE_CPU) != 0;
    {
        cl_bool unified = CL_FALSE;
        if (clGetDeviceInfo(ctx->device, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified,
                            NULL) == CL_SUCCESS)
            ctx->host_unified = unified == CL_TRUE;
    }
    ctx->max_items0 = items[0] ? items[0] : 1;
    /* CUDA-based drivers allow 65535 work-groups along dimensions 1 and 2,
     * and OpenCL cannot tell: every device gets that cap */
    ctx->max_groups = 65535;
    st = test_limits(ctx);
    if (st != LSTMCL_SUCCESS)
        return st;
    if (ctx->limit_wg) {
        if (ctx->max_wg > ctx->limit_wg)
            ctx->max_wg = ctx->limit_wg;
        if (ctx->max_items0 > ctx->limit_wg)
            ctx->max_items0 = ctx->limit_wg;
    }
    if (ctx->max_wg == 0)
        ctx->max_wg = 1;
    if (ctx->compute_units == 0)
        ctx->compute_units = 1;
    return LSTMCL_SUCCESS;
}

/* TU of cl/tiled.cl: 4·TU work-items per group, within both tiled kernels'
 * limits, at most 32 units (a warp of 128 floats per panel row). */
static void choose_tiles(lstmcl_context *ctx)
{
    size_t wg = ctx->kernel_wg[LSTMCL_K_lstm_fwd_tiled];
    if (ctx->kernel_wg[LSTMCL_K_lstm_bwd_tiled] < wg)
        wg = ctx->kernel_wg[LSTMCL_K_lstm_bwd_tiled];
    ctx->tile_units = 32;
    while (ctx->tile_units > 1 && 4 * ctx->tile_units > wg)
        ctx->tile_units /= 2;
}

/* Everything after the device, OpenCL context and queue are known. */
static lstmcl_status context_init(lstmcl_context *ctx)
{
    char pname[256] = "", dname[256] = "";
    lstmcl_status st;

    clGetPlatformInfo(ctx->platform, CL_PLATFORM_NAME, sizeof pname, pname, NULL);
    clGetDeviceInfo(ctx->device, CL_DEVICE_NAME, sizeof dname, dname, NULL);
    pname[sizeof pname - 1] = dname[sizeof dname - 1] = '\0';
    snprintf(ctx->device_name, sizeof ctx->device_name, "%s / %s", pname, dname);

    st = device_limits(ctx);
    if (st != LSTMCL_SUCCESS)
        return st;
    st = choose_path(ctx);
    if (st != LSTMCL_SUCCESS)
        return st;
    st = choose_gemm(ctx);
    if (st != LSTMCL_SUCCESS)
        return st;
    st = lstmcl__tuning_apply(ctx);
    if (st != LSTMCL_SUCCESS)
        return st;
    st = build_program(ctx);
    if (st != LSTMCL_SUCCESS)
        return st;
    choose_tiles(ctx);

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

/* The selector a NULL device argument stands for ($LSTMCL_DEVICE, else ""),
 * and where it came from, for messages. */
static const char *selector_text(const char *device, const char **from)
{
    if (device)
        return device;
    *from = "LSTMCL_DEVICE";
    device = getenv("LSTMCL_DEVICE");
    return device ? device : "";
}

lstmcl_status lstmcl_device_nth(const char *device, size_t k, char *buf, size_t size,
                               size_t *count)
{
    lstmcl_selector sel;
    lstmcl_device_desc *list = NULL;
    size_t n = 0, kept = 0;
    long pick;
    char err_text[256];
    const char *from = "the selector argument";
    cl_int err;

    create_message[0] = '\0';
    if (count)
        *count = 0;
    if (!buf || size < 24) {
        snprintf(create_message, sizeof create_message,
                 "lstmcl_device_nth: buf is NULL or shorter than 24 bytes");
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    }
    buf[0] = '\0';
    device = selector_text(device, &from);
    if (lstmcl__selector_parse(device, &sel, err_text, sizeof err_text) != 0) {
        snprintf(create_message, sizeof create_message, "bad device selector in %s: %s", from,
                 err_text);
        return LSTMCL_ERROR_INVALID_ARGUMENT;
    }
    err = lstmcl__list_devices(&list, &n);
    if (err != CL_SUCCESS) {
        free(list);
        snprintf(create_message, sizeof create_message,
                 "listing OpenCL devices failed (OpenCL error %d)", (int)err);
        return LSTMCL_ERROR_OPENCL;
    }
    pick = lstmcl__selector_nth(&sel, list, n, k, &kept);
    if (count)
        *count = kept;
    if (pick < 0) {
        char names[2048];
        describe_devices(names, sizeof names, list, n);
        free(list);
        snprintf(create_message, sizeof create_message,
                 "device selector '%s' (from %s) keeps %zu OpenCL device%s, so there is no "
                 "device %zu; the devices are:%s",
                 device, from, kept, kept == 1 ? "" : "s", k, n ? names : " none");
        return LSTMCL_ERROR_DEVICE_NOT_FOUND;
    }
    snprintf(buf, size, "%u:%u", list[pick].platform_index, list[pick].device_index);
    free(list);
    return LSTMCL_SUCCESS;
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

    device = selector_text(device, &from);
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
    /* wait for a call in progress on another thread; calling on the context
     * after this point, or destroying it twice, is the caller's error */
    if (ctx->lock_made)
        pthread_mutex_lock(&ctx->lock);
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
        lstmcl__model_free(NULL, c->model);
        c->model = NULL;
        c->ctx = NULL;
        c->next = NULL;
    }
    while (ctx->plans) {
        lstmcl_plan *p = ctx->plans;
        ctx->plans = p->next;
        cl_mem *own[] = {&p->own_workspace, &p->stage[0], &p->stage[1], &p->stage[2],
                         &p->index, &p->pack_buf};
        size_t j;
        for (j = 0; j < sizeof own / sizeof own[0]; j++) {
            if (*own[j])
                clReleaseMemObject(*own[j]);
            *own[j] = NULL;
        }
        p->ctx = NULL;
        p->next = NULL;
    }
    for (i = 0; i < ctx->npool; i++)
        clReleaseMemObject(ctx->pool[i].mem);
    if (ctx->on_side)
        lstmcl__side_end(ctx);
    if (ctx->gemm_temp)
        clReleaseMemObject(ctx->gemm_temp);
    if (ctx->side_gemm_temp)
        clReleaseMemObject(ctx->side_gemm_temp);
    if (ctx->side_queue) {
        clFinish(ctx->side_queue);
        clReleaseCommandQueue(ctx->side_queue);
    }
    for (i = 0; i < LSTMCL_K_COUNT; i++)
        if (ctx->kernels[i])
            clReleaseKernel(ctx->kernels[i]);
    if (ctx->program)
        clReleaseProgram(ctx->program);
    if (ctx->queue)
        clReleaseCommandQueue(ctx->queue);
    if (ctx->clctx)
        clReleaseContext(ctx->clctx);
    if (ctx->device_retained)
        clReleaseDevice(ctx->device);
    lstmcl__tuning_release(ctx);
    if (ctx->counted) {
        pthread_mutex_lock(&live_lock);
        if (--live_contexts == 0)
            CLBlastClearCache();
        pthread_mutex_unlock(&live_lock);
    }
    free(ctx->host_tmp);
    if (ctx->lock_made) {
        pthread_mutex_unlock(&ctx->lock);
        pthread_mutex_destroy(&ctx->lock);
    }
    free(ctx);
}

/* ---------------------------------------------------------- side queue */

static void swap_side(lstmcl_context *ctx)
{
    cl_command_queue q = ctx->queue;
    cl_mem m = ctx->gemm_temp;
    size_t b = ctx->gemm_temp_bytes;
    ctx->queue = ctx->side_queue, ctx->side_queue = q;
    ctx->gemm_temp = ctx->side_gemm_temp, ctx->side_gemm_temp = m;
    ctx->gemm_temp_bytes = ctx->side_gemm_temp_bytes, ctx->side_gemm_temp_bytes = b;
    ctx->on_side = !ctx->on_side;
}

/* The queue that waits makes a barrier on the other's marker.  The marker's
 * queue is flushed: OpenCL lets an implementation hold enqueued commands
 * until a flush, and a command of one queue that waits on an event of
 * another needs that other queue flushed (OpenCL 1.2, 5.13) - rusticl held
 * them, and the two queues waited for each other for ever. */
static lstmcl_status wait_for(lstmcl_context *ctx, cl_command_queue waiter,
                              cl_command_queue done)
{
    cl_event e = NULL;
    cl_int err = LSTMCL_INJECT(CL_OUT_OF_RESOURCES,
                               clEnqueueMarkerWithWaitList(done, 0, NULL, &e));
    if (err == CL_SUCCESS)
        err = LSTMCL_INJECT(CL_OUT_OF_RESOURCES, clFlush(done));
    if (err == CL_SUCCESS)
        err = LSTMCL_INJECT(CL_OUT_OF_RESOURCES,
                            clEnqueueBarrierWithWaitList(waiter, 1, &e, NULL));
    if (e)
        clReleaseEvent(e);
    return err == CL_SUCCESS ? LSTMCL_SUCCESS
                             : lstmcl__fail_cl(ctx, err, "clEnqueueBarrierWithWaitList");
}

lstmcl_status lstmcl__side_begin(lstmcl_context *ctx)
{
    lstmcl_status st;
    if (ctx->on_side || ctx->side_failed)
        return LSTMCL_SUCCESS;
    if (!ctx->side_queue) {
        cl_int err;
        ctx->side_queue = clCreateCommandQueue(ctx->clctx, ctx->device, 0, &err);
        if (err != CL_SUCCESS || !ctx->side_queue) {
            ctx->side_queue = NULL;
            ctx->side_failed = 1; /* in order on one queue: slower, as correct */
            return LSTMCL_SUCCESS;
        }
    }
    st = wait_for(ctx, ctx->side_queue, ctx->queue);
    if (st == LSTMCL_SUCCESS)
        swap_side(ctx);
    return st;
}

void lstmcl__side_end(lstmcl_context *ctx)
{
    if (ctx->on_side)
        swap_side(ctx);
}

lstmcl_status lstmcl__side_join(lstmcl_context *ctx)
{
    if (!ctx->side_queue || ctx->on_side)
        return LSTMCL_SUCCESS;
    return wait_for(ctx, ctx->queue, ctx->side_queue);
}

cl_int lstmcl__finish_all(lstmcl_context *ctx)
{
    cl_int err = clFinish(ctx->queue);
    if (ctx->side_queue) {
        cl_int e2 = clFinish(ctx->side_queue);
        if (err == CL_SUCCESS)
            err = e2;
    }
    return err;
}
