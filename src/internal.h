/* Internal declarations shared by the library's source files. */
#ifndef LSTMCL_INTERNAL_H
#define LSTMCL_INTERNAL_H

#include "lstmcl.h"
#include "lstmcl_cl.h"

#include <stdarg.h>
#include <stddef.h>

#if defined(__GNUC__)
#define LSTMCL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LSTMCL_PRINTF(a, b)
#endif

/* ---- errors (error.c) ---- */
const char *lstmcl__cl_error_name(cl_int err);

/* ---- fault injection (error.c), for tests ----
 * Every OpenCL allocation, enqueue and program build of lstmcl passes a
 * fault point.  Once armed with n, the n-th point fails as the real call
 * could (allocation failure, out of resources, build failure). */
int lstmcl__inject(void);      /* nonzero: fail this call */
void lstmcl__fault_arm(long n); /* 0 disarms */
long lstmcl__fault_points(void); /* points passed since arming */
#define LSTMCL_INJECT(code, call) (lstmcl__inject() ? (cl_int)(code) : (call))

/* ---- device selection (select.c) ---- */
#define LSTMCL_SEL_MAX_FIELDS 3
#define LSTMCL_SEL_MAX_TEXT 128

typedef enum {
    LSTMCL_FIELD_INDEX,     /* a number */
    LSTMCL_FIELD_TYPE,      /* gpu, cpu, accelerator, all */
    LSTMCL_FIELD_SUBSTRING  /* case-insensitive substring of platform or device name */
} lstmcl_field_kind;

typedef struct {
    lstmcl_field_kind kind;
    unsigned long index;          /* LSTMCL_FIELD_INDEX */
    unsigned long type;           /* LSTMCL_FIELD_TYPE: CL_DEVICE_TYPE_* bits */
    char text[LSTMCL_SEL_MAX_TEXT]; /* the field as written */
} lstmcl_field;

typedef struct {
    int nfields;
    lstmcl_field fields[LSTMCL_SEL_MAX_FIELDS];
} lstmcl_selector;

/* What selection needs to know about one device; filled from OpenCL by
 * lstmcl__list_devices or by hand in tests. */
typedef struct {
    unsigned platform_index;
    unsigned device_index;        /* within its platform */
    unsigned long type;           /* CL_DEVICE_TYPE_* bits */
    char platform_name[256];
    char device_name[256];
    cl_platform_id platform;
    cl_device_id device;
} lstmcl_device_desc;

/* Parses a selector; 0 on success, else -1 with a reason in err. An empty
 * string parses to zero fields (the default choice). */
int lstmcl__selector_parse(const char *text, lstmcl_selector *sel, char *err, size_t errlen);

/* Applies sel to list[0..n): returns the index of the chosen device in list,
 * or -1 when nothing matches.  Zero fields: the first GPU, else the first. */
long lstmcl__selector_match(const lstmcl_selector *sel, const lstmcl_device_desc *list, size_t n);

/* Every device of every platform, in platform order.  *list is malloc'd. */
cl_int lstmcl__list_devices(lstmcl_device_desc **list, size_t *n);

/* Human-readable device type ("gpu", "cpu", ...). */
const char *lstmcl__type_word(unsigned long type);

/* ---- kernels (kernels.c, generated sources) ---- */
extern const char lstmcl__source_lstm_cl[];
extern const char lstmcl__source_fused_cl[];
extern const char lstmcl__source_train_cl[];
extern const char lstmcl__source_pocl_x86_64_tune[];

/* ---- tuning files (tuning.c) ---- */
#define LSTMCL_TUNE_LINE_MAX 1024
#define LSTMCL_TUNE_NAME_MAX 48
#define LSTMCL_TUNE_KERNELS_MAX 16
#define LSTMCL_TUNE_PARAMS_MAX 32
#define LSTMCL_TUNE_VALUE_MAX 1048576

typedef struct {
    char name[LSTMCL_TUNE_NAME_MAX + 1];
    int nparams;
    struct {
        char name[LSTMCL_TUNE_NAME_MAX + 1];
        unsigned long value;
    } params[LSTMCL_TUNE_PARAMS_MAX];
} lstmcl_tuning_kernel;

typedef struct {
    char device[520];
    int recurrent;  /* the per-step path measured best: 0 not said, 1 fused, 2 gemm */
    int nkernels;
    lstmcl_tuning_kernel kernels[LSTMCL_TUNE_KERNELS_MAX];
} lstmcl_tuning;

/* Parses len bytes of a tuning file; 0, or -1 with a reason in err. */
int lstmcl__tuning_parse(const char *text, size_t len, lstmcl_tuning *out, char *err,
                         size_t errlen);
/* The folder of tuning files; 0, or -1 when no folder can be named. */
int lstmcl__tuning_dir(char *out, size_t cap);
/* The tuning file name of a device ("platform / device"). */
void lstmcl__tuning_file_name(const char *device_name, char *out, size_t cap);
/* Applies the device's tuning file, else the shipped defaults that match. */
lstmcl_status lstmcl__tuning_apply(lstmcl_context *ctx);

/* ---- the context ---- */
typedef struct lstmcl_pooled {
    cl_mem mem;
    size_t bytes;
} lstmcl_pooled;

#define LSTMCL_POOL_MAX 48

struct lstmcl_context {
    cl_platform_id platform;
    cl_device_id device;
    cl_context clctx;
    cl_command_queue queue;
    cl_program program;
    cl_kernel k_fwd_step;
    cl_kernel k_bwd_step;
    cl_kernel k_colsum;
    cl_kernel k_fwd_fused;
    cl_kernel k_bwd_fused;
    cl_kernel k_pack_fwd;
    cl_kernel k_pack_bwd;
    cl_kernel k_embed_fwd, k_embed_bwd, k_add_bias, k_softmax_xent, k_sum_squares, k_adam;
    int fused;                  /* per-step work in lstmcl's fused kernels, not CLBlast */
    int path_forced;            /* LSTMCL_RECURRENT chose the path */
    int cpu;                    /* the device is a CPU */
    size_t local_size;          /* work-group size used for the elementwise kernels */
    cl_ulong max_alloc;         /* CL_DEVICE_MAX_MEM_ALLOC_SIZE */
    cl_ulong global_mem;        /* CL_DEVICE_GLOBAL_MEM_SIZE */
    char device_name[520];
    char tuning[4900];          /* where the CLBlast parameters came from */
    char *message;              /* last detailed error, heap; "" when none */
    size_t message_cap;
    lstmcl_pooled pool[LSTMCL_POOL_MAX]; /* free device buffers kept for reuse */
    int npool;
    cl_mem gemm_temp;           /* scratch for CLBlast's indirect GEMM */
    size_t gemm_temp_bytes;
    struct lstmcl_cache *caches; /* live caches made by this context */
    struct lstmcl_plan *plans;   /* live plans made by this context */
    int device_retained;        /* device retained by create_from_queue */
    int counted;                /* counted in the live-context total */
};

/* Records a detailed message; returns status so that callers can
 * `return lstmcl__fail(ctx, LSTMCL_ERROR_..., "...")`. */
lstmcl_status lstmcl__fail(lstmcl_context *ctx, lstmcl_status status, const char *fmt, ...)
    LSTMCL_PRINTF(3, 4);
/* Same for an OpenCL error: maps err to a status and names it in the message. */
lstmcl_status lstmcl__fail_cl(lstmcl_context *ctx, cl_int err, const char *what);
void lstmcl__clear_message(lstmcl_context *ctx);

/* clCreateBuffer behind a fault point. */
cl_mem lstmcl__create_buffer(lstmcl_context *ctx, size_t bytes, cl_int *err);
/* Takes a buffer of exactly `bytes` from the pool, or allocates one. */
lstmcl_status lstmcl__buffer_get(lstmcl_context *ctx, size_t bytes, cl_mem *out);
/* Returns a buffer to the pool (or releases it when the pool is full). NULL ok. */
void lstmcl__buffer_put(lstmcl_context *ctx, cl_mem mem, size_t bytes);

/* C = alpha·op(A)·op(B) + beta·C, row-major, offsets and leading dimensions
 * in elements; skips empty products. */
lstmcl_status lstmcl__gemm(lstmcl_context *ctx, int trans_a, int trans_b, size_t m, size_t n,
                           size_t k, float alpha, cl_mem a, size_t a_off, size_t lda, cl_mem b,
                           size_t b_off, size_t ldb, float beta, cl_mem c, size_t c_off,
                           size_t ldc);

/* ---- enqueueing kernels (kernel.c) ---- */
typedef struct {
    cl_kernel k;
    cl_uint i;
    cl_int err;
} lstmcl_argset;

void lstmcl__arg_int(lstmcl_argset *a, size_t v); /* callers keep v below INT_MAX */
void lstmcl__arg_mem(lstmcl_argset *a, cl_mem m); /* NULL: an absent buffer */
void lstmcl__arg_float(lstmcl_argset *a, float v);
/* Runs a kernel over (cols rounded up to the work-group size) x rows. */
lstmcl_status lstmcl__launch(lstmcl_context *ctx, const lstmcl_argset *a, const char *name,
                             size_t cols, size_t rows);
/* A tensor holds elems 4-byte elements from its offset, in this context;
 * absent is fine unless required. */
lstmcl_status lstmcl__check_tensor(lstmcl_context *ctx, const char *fn, const char *name,
                                   const lstmcl_tensor *t, size_t elems, int required);

/* ---- plans (plan.c) ---- */
/* Element counts of every matrix a call touches. */
typedef struct {
    size_t N, T, D, H;
    size_t nt;   /* N*T rows */
    size_t e_x;  /* N*T*D */
    size_t e_h;  /* N*T*H */
    size_t e_g;  /* N*T*4H */
    size_t e_wx; /* D*4H */
    size_t e_wh; /* H*4H */
    size_t e_nh; /* N*H */
} lstmcl_dims;

/* Checks sizes (zero, overflow, index range, device limits) and fills d. */
lstmcl_status lstmcl__check_dims(lstmcl_context *ctx, const char *fn, size_t N, size_t T,
                                 size_t D, size_t H, lstmcl_dims *d);

struct lstmcl_plan {
    lstmcl_context *ctx;       /* NULL once the context is destroyed */
    struct lstmcl_plan *next;  /* in ctx->plans */
    lstmcl_dims d;
    size_t workspace_floats;
    size_t reserve_floats;
    cl_mem own_workspace;      /* from the pool, at first use without a workspace */
};

/* ---- the host-pointer API's cache (lstm.c) ---- */
typedef enum { LSTMCL_CACHE_STEP = 1, LSTMCL_CACHE_SEQUENCE = 2 } lstmcl_cache_kind;

/* Device copies a backward needs, in the order of lstm.c's buffer list. */
enum { LSTMCL_CB_RESERVE, LSTMCL_CB_X, LSTMCL_CB_WX, LSTMCL_CB_WH, LSTMCL_CB_C0, LSTMCL_CB_COUNT };

struct lstmcl_cache {
    lstmcl_context *ctx;        /* NULL once the context is destroyed */
    struct lstmcl_cache *next;  /* in ctx->caches */
    lstmcl_cache_kind kind;
    size_t N, T, D, H;
    cl_mem mem[LSTMCL_CB_COUNT]; /* NULL where absent (c0 of a sequence) */
    size_t bytes[LSTMCL_CB_COUNT];
};

#endif
