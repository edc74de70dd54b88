/*
 * lstmcl — LSTM forward and backward passes on any OpenCL device.
 *
 * The math is the classic LSTM layer:
 *   a = x·Wx + h_prev·Wh + b            (gates i, f, o, g in that order along 4H)
 *   i = σ(a_i)  f = σ(a_f)  o = σ(a_o)  g = tanh(a_g)
 *   c = f⊙c_prev + i⊙g                  h = o⊙tanh(c)
 * All arrays are row-major float32 in host memory:
 *   x (N,T,D)  h0 (N,H)  Wx (D,4H)  Wh (H,4H)  b (4H)  h (N,T,H)
 * The sequence forward starts from a zero cell state.
 *
 * Conventions
 * - Every call that can fail returns an lstmcl_status: LSTMCL_SUCCESS (0) or a
 *   negative error.  After an error, lstmcl_context_message() (on the same
 *   thread) says what failed
 *   (which argument, the OpenCL error by name, the kernel build log) and the
 *   context stays usable.
 * - Output parameters that receive an object come first.
 * - Host pointers passed in are only read (inputs) or written (outputs) during
 *   the call; lstmcl keeps no pointer to caller memory after a call returns.
 * - Gradients are written (overwritten), never accumulated.
 * - Destroy functions accept NULL and do nothing.
 * - Thread safety: every function may be called from any thread.  Distinct
 *   contexts run side by side.  One context may be shared by threads: its
 *   calls (and those on its caches, plans and stacks) take the context's lock
 *   and run one at a time, each with the result it would have alone, so
 *   threads that want to run at the same time give each its own context.  A
 *   cache, plan or stack may be used and destroyed on a thread other than
 *   the one that made it.  lstmcl_context_message() is per thread: it reports
 *   the calling thread's last failure on that context.  Destroying a context
 *   while another thread still calls on it (or on its objects) is the
 *   caller's error, as with free().
 *
 * OpenCL interop (creating a context on an application's own command queue)
 * lives in <lstmcl_cl.h>, so that this header needs no OpenCL headers.
 */
#ifndef LSTMCL_H
#define LSTMCL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LSTMCL_VERSION_MAJOR 0
#define LSTMCL_VERSION_MINOR 1
#define LSTMCL_VERSION_PATCH 0

#if defined(_WIN32) && defined(LSTMCL_BUILDING_DLL)
#define LSTMCL_API __declspec(dllexport)
#elif defined(__GNUC__) && __GNUC__ >= 4
#define LSTMCL_API __attribute__((visibility("default")))
#else
#define LSTMCL_API
#endif

/*
 * The one list of status codes: XX(NAME, value, message).  The enum, the
 * name function and the message function are all generated from it.
 */
#define LSTMCL_STATUS_MAP(XX)                                                              \
    XX(SUCCESS, 0, "success")                                                              \
    XX(ERROR_INVALID_ARGUMENT, -1, "invalid argument")                                     \
    XX(ERROR_OUT_OF_HOST_MEMORY, -2, "out of host memory")                                 \
    XX(ERROR_TOO_LARGE, -3, "sizes exceed what the device or lstmcl can hold")             \
    XX(ERROR_INVALID_CACHE, -4, "the cache does not belong to this context")               \
    XX(ERROR_NO_DEVICE, -5, "no OpenCL platform or device is available")                   \
    XX(ERROR_DEVICE_NOT_FOUND, -6, "no OpenCL device matches the device selector")         \
    XX(ERROR_KERNEL_BUILD, -7, "the OpenCL kernels failed to build for this device")       \
    XX(ERROR_OPENCL, -8, "an OpenCL call failed")                                          \
    XX(ERROR_OUT_OF_DEVICE_MEMORY, -9, "out of device memory")                             \
    XX(ERROR_CLBLAST, -10, "a CLBlast matrix product failed")                              \
    XX(ERROR_IO, -11, "a file could not be read or written")                               \
    XX(ERROR_CONFLICT, -12, "another lstmcl context in this process holds other settings") \
    XX(ERROR_INVALID_FILE, -13, "a file's contents are malformed or do not fit")

typedef enum lstmcl_status {
#define LSTMCL_STATUS_ENUM_(name, value, msg) LSTMCL_##name = value,
    LSTMCL_STATUS_MAP(LSTMCL_STATUS_ENUM_)
#undef LSTMCL_STATUS_ENUM_
    LSTMCL_STATUS_LAST_ = -13
} lstmcl_status;

/* Opaque handles. */
typedef struct lstmcl_context lstmcl_context;
/* What a training forward keeps on the device for its backward. */
typedef struct lstmcl_cache lstmcl_cache;

/* A short fixed message for a status ("invalid argument"); never NULL. */
LSTMCL_API const char *lstmcl_status_string(lstmcl_status status);
/* The status's name ("LSTMCL_ERROR_INVALID_ARGUMENT"); never NULL. */
LSTMCL_API const char *lstmcl_status_name(lstmcl_status status);
/* "MAJOR.MINOR.PATCH" of the library actually linked. */
LSTMCL_API const char *lstmcl_version_string(void);

/*
 * Creates a context on one OpenCL device: its own OpenCL context and in-order
 * queue, the kernels compiled for it, and buffers reused across calls.
 *
 * device: a selector (grammar in README.md, "Choosing a device"), e.g. "gpu",
 *   "pocl", "nvidia:1", "0:2".  NULL means the environment variable
 *   LSTMCL_DEVICE, and if that is unset or empty, the first GPU, else the
 *   first device of any kind.  A selector that matches nothing is an error
 *   (LSTMCL_ERROR_DEVICE_NOT_FOUND) whose message lists the devices there are.
 * On failure *ctx is set to NULL; a message about the failure can then be read
 * with lstmcl_last_create_message() (this thread only).
 * The caller owns *ctx and releases it with lstmcl_context_destroy().
 */
LSTMCL_API lstmcl_status lstmcl_context_create(lstmcl_context **ctx, const char *device);

/*
 * Releases everything the context holds.  Caches made by it stay valid
 * objects that must still be destroyed with lstmcl_cache_destroy(), but their
 * device memory is freed and a backward with them fails with
 * LSTMCL_ERROR_INVALID_CACHE.  NULL is a no-op.
 */
LSTMCL_API void lstmcl_context_destroy(lstmcl_context *ctx);

/*
 * The OpenCL devices there are, one line each, in the order selectors count
 * them: "P:D<TAB>type<TAB>platform name / device name\n" (P:D is the
 * selector that picks it, type "gpu", "cpu", ...).  Writes at most size
 * bytes to buf (always NUL-terminated when size > 0; buf may be NULL when
 * size is 0) and the length the whole list needs, without the NUL, to
 * *needed (if not NULL).  No device at all is LSTMCL_SUCCESS with "".
 * A failure of the OpenCL listing itself is LSTMCL_ERROR_OPENCL.
 */
LSTMCL_API lstmcl_status lstmcl_devices(char *buf, size_t size, size_t *needed);

/*
 * For one process per device (data-parallel training, lstmcl-train under
 * mpirun): the k-th (from 0) of the devices that a selector keeps, in the
 * order of lstmcl_devices(), of which lstmcl_context_create() would take the
 * first.  Writes that device's "P:D" selector to buf (NUL-terminated; 24
 * bytes always suffice) and how many devices the selector keeps to *count
 * (if not NULL).  selector NULL: $LSTMCL_DEVICE; unset or "": every GPU, or
 * every device when there is no GPU.  A bad selector or a short buf is
 * LSTMCL_ERROR_INVALID_ARGUMENT; no device kept, or k >= *count,
 * LSTMCL_ERROR_DEVICE_NOT_FOUND; both with a message in
 * lstmcl_last_create_message().
 */
LSTMCL_API lstmcl_status lstmcl_device_nth(const char *selector, size_t k, char *buf,
                                           size_t size, size_t *count);

/* The detailed message of the calling thread's last failed call on this
 * context, "" if none (or if a later call of this thread on it succeeded
 * and cleared it).  Another thread's calls never change it.  The string
 * belongs to the calling thread and is valid until its next call on the
 * context.  NULL ctx: "". */
LSTMCL_API const char *lstmcl_context_message(const lstmcl_context *ctx);

/* The detailed message of the calling thread's last failed
 * lstmcl_context_create*(), "" if none. */
LSTMCL_API const char *lstmcl_last_create_message(void);

/* Where the context's OpenCL program came from: "hit: PATH" (the
 * program-binary cache), "miss (why): built from source; stored in PATH",
 * "off (LSTMCL_CACHE_DIR=off): ...", and so on (README, "Environment
 * variables").  NULL ctx: "". */
LSTMCL_API const char *lstmcl_context_program_cache(const lstmcl_context *ctx);

/* "platform name / device name" of the context's device.  NULL ctx: "". */
LSTMCL_API const char *lstmcl_context_device_name(const lstmcl_context *ctx);

/* Where the context's CLBlast GEMM parameters came from: a tuning file's
 * path (see lstmcl-tune), "shipped defaults for PoCL on x86-64", or "none
 * (CLBlast's own parameters)".  NULL ctx: "". */
LSTMCL_API const char *lstmcl_context_tuning(const lstmcl_context *ctx);

/* The per-step path the context runs the recurrence on: "gemm" (a CLBlast
 * GEMM and an elementwise kernel per step), "fused" (one kernel per step,
 * shaped for CPUs) or "tiled" (one kernel per step, a work-group per tile of
 * hidden units, shaped for GPUs); see LSTMCL_RECURRENT.  NULL ctx: "". */
LSTMCL_API const char *lstmcl_context_recurrent_path(const lstmcl_context *ctx);

/* Where the context's matrix products run: "clblast" (CLBlast's kernels on
 * the device) or "onednn" (oneDNN's sgemm on the host, on the device's
 * buffers mapped without a copy: CPU devices whose memory is the host's, in
 * a build with oneDNN; buffers the host may not map still go to CLBlast).
 * Chosen by LSTMCL_GEMM=clblast|onednn|auto, else by the tuning file's
 * `gemm` line (lstmcl-tune measures both), else oneDNN where it can run.
 * NULL ctx: "". */
LSTMCL_API const char *lstmcl_context_gemm(const lstmcl_context *ctx);

/* What a context has enqueued, for benchmarks and tests. */
typedef struct lstmcl_counters {
    unsigned long long kernels;       /* launches of lstmcl's own kernels */
    unsigned long long gemms;         /* GEMM calls (CLBlast's or oneDNN's) */
    unsigned long long gemms_copying; /* of those, calls where CLBlast first pads or copies a
                                         matrix (its extra launches are not counted) */
} lstmcl_counters;

/* Copies the context's counters to *out (if not NULL), then zeroes them
 * when reset is nonzero.  NULL ctx: zeros. */
LSTMCL_API void lstmcl_context_counters(lstmcl_context *ctx, lstmcl_counters *out, int reset);

/* Releases a cache and the device memory it holds.  NULL is a no-op.  May be
 * called before or after its context is destroyed. */
LSTMCL_API void lstmcl_cache_destroy(lstmcl_cache *cache);

/*
 * One time step.
 * Inputs: x (N,D), prev_h (N,H), prev_c (N,H), Wx (D,4H), Wh (H,4H), b (4H).
 * Outputs: next_h (N,H), next_c (N,H).
 * cache: NULL for inference; otherwise *cache receives a new cache (owned by
 *   the caller, released with lstmcl_cache_destroy) for lstmcl_step_backward.
 *   On failure *cache is set to NULL.
 */
LSTMCL_API lstmcl_status lstmcl_step_forward(lstmcl_context *ctx, size_t N, size_t D, size_t H,
                                             const float *x, const float *prev_h,
                                             const float *prev_c, const float *Wx,
                                             const float *Wh, const float *b, float *next_h,
                                             float *next_c, lstmcl_cache **cache);

/*
 * Backward of one time step, with a cache from lstmcl_step_forward of the same
 * context.  Inputs dnext_h, dnext_c (N,H).  Outputs dx (N,D), dprev_h (N,H),
 * dprev_c (N,H), dWx (D,4H), dWh (H,4H), db (4H).  The cache is not consumed:
 * it can be used again, and must still be destroyed.
 */
LSTMCL_API lstmcl_status lstmcl_step_backward(lstmcl_context *ctx, const lstmcl_cache *cache,
                                              const float *dnext_h, const float *dnext_c,
                                              float *dx, float *dprev_h, float *dprev_c,
                                              float *dWx, float *dWh, float *db);

/*
 * A whole sequence, from a zero initial cell state.
 * Inputs: x (N,T,D), h0 (N,H), Wx (D,4H), Wh (H,4H), b (4H).
 * Output: h (N,T,H), the hidden state of every step.
 * cache: as in lstmcl_step_forward, for lstmcl_backward.
 */
LSTMCL_API lstmcl_status lstmcl_forward(lstmcl_context *ctx, size_t N, size_t T, size_t D,
                                        size_t H, const float *x, const float *h0,
                                        const float *Wx, const float *Wh, const float *b,
                                        float *h, lstmcl_cache **cache);

/*
 * Backward of a sequence, with a cache from lstmcl_forward of the same
 * context.  Input dh (N,T,H): the gradient of the loss with respect to every
 * h.  Outputs dx (N,T,D), dh0 (N,H), dWx (D,4H), dWh (H,4H), db (4H).
 */
LSTMCL_API lstmcl_status lstmcl_backward(lstmcl_context *ctx, const lstmcl_cache *cache,
                                         const float *dh, float *dx, float *dh0, float *dWx,
                                         float *dWh, float *db);

/* Where the rows of a sequence's x, h (and their gradients) are. */
typedef enum lstmcl_layout {
    LSTMCL_BATCH_MAJOR = 0, /* (N,T,·): row n·T + t, as lstmcl_forward's */
    LSTMCL_TIME_MAJOR = 1   /* (T,N,·): row t·N + n, PyTorch's and cuDNN's default */
} lstmcl_layout;

/* How a sequence call reads its input.  Zero-initialise ({0}) and set what
 * you use; a NULL options pointer means all defaults. */
typedef struct lstmcl_sequence_options {
    lstmcl_layout layout; /* of x, h, dh and dx (default batch-major) */
    int reverse;          /* nonzero: run from the last step to the first (the reverse
                             half of a bidirectional layer): h0 and c0 enter at the
                             last step, hT and cT are the states after t = 0.  Only
                             for lstmcl_forward_ex; a model's directions come from its
                             weights. */
    const int *lengths;   /* N values, each 1..T, for a right-padded batch (outputs past
                             a sequence's end are zero; its final states are those of
                             its own last step; the reverse direction starts there);
                             NULL: all are T.  Copied during the call. */
} lstmcl_sequence_options;

/*
 * A whole sequence with everything optional given and returned: options
 * (layout, direction, lengths), the initial cell state c0 and the final
 * states hT, cT.
 * Inputs: x (N,T,D) or (T,N,D), h0 (N,H) or NULL (zeros), c0 (N,H) or NULL
 * (zeros), Wx (D,4H), Wh (H,4H), b (4H).  Outputs: h (N,T,H) or (T,N,H);
 * hT, cT (N,H) or NULL.  cache: as in lstmcl_forward, for lstmcl_backward_ex.
 */
LSTMCL_API lstmcl_status lstmcl_forward_ex(lstmcl_context *ctx, size_t N, size_t T, size_t D,
                                           size_t H, const lstmcl_sequence_options *options,
                                           const float *x, const float *h0, const float *c0,
                                           const float *Wx, const float *Wh, const float *b,
                                           float *h, float *hT, float *cT,
                                           lstmcl_cache **cache);

/*
 * Backward of lstmcl_forward_ex, with its cache.  Inputs: dh like h; dhT,
 * dcT (N,H) or NULL (zeros): gradients w.r.t. the final states.  Outputs,
 * each optional (NULL: not computed): dx like x, dh0, dc0 (N,H), dWx, dWh,
 * db.  With lengths, gradients flow through each sequence's valid steps only.
 */
LSTMCL_API lstmcl_status lstmcl_backward_ex(lstmcl_context *ctx, const lstmcl_cache *cache,
                                            const float *dh, const float *dhT,
                                            const float *dcT, float *dx, float *dh0,
                                            float *dc0, float *dWx, float *dWh, float *db);

#ifdef __cplusplus
}
#endif

#endif /* LSTMCL_H */
