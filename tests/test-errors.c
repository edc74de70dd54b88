/* Invalid arguments: each gets an error status and a specific message, and
 * the context keeps working (a good call right after succeeds). */
#define _POSIX_C_SOURCE 200809L
#include "lstmcl_train.h"
#include "reference.h"
#include "testutil.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { N = 2, T = 3, D = 4, H = 5 };

static float *x, *h0, *c0, *Wx, *Wh, *b, *h, *cT, *dh, *dcT, *dx, *dh0, *dc0, *dWx, *dWh, *db;

static void setup(void)
{
    x = tu_floats(N * T * D, 1), h0 = tu_floats(N * H, 1), c0 = tu_floats(N * H, 1);
    Wx = tu_floats(D * 4 * H, 0.5), Wh = tu_floats(H * 4 * H, 0.5), b = tu_floats(4 * H, 0.5);
    h = tu_nans(N * T * H), cT = tu_nans(N * H), dh = tu_floats(N * T * H, 1);
    dcT = tu_floats(N * H, 1), dx = tu_nans(N * T * D), dh0 = tu_nans(N * H);
    dc0 = tu_nans(N * H), dWx = tu_nans(D * 4 * H), dWh = tu_nans(H * 4 * H), db = tu_nans(4 * H);
}

static void teardown(void)
{
    free(x), free(h0), free(c0), free(Wx), free(Wh), free(b), free(h), free(cT), free(dh);
    free(dcT), free(dx), free(dh0), free(dc0), free(dWx), free(dWh), free(db);
}

/* A good forward+backward on ctx, checked against the reference. */
static void good_call(lstmcl_context *ctx)
{
    lstmcl_cache *cache = NULL;
    double *dxd = tu_doubles(x, N * T * D), *h0d = tu_doubles(h0, N * H);
    double *Wxd = tu_doubles(Wx, D * 4 * H), *Whd = tu_doubles(Wh, H * 4 * H);
    double *bd = tu_doubles(b, 4 * H), *dhd = tu_doubles(dh, N * T * H);
    double *rdx = tu_dalloc(N * T * D), *rdh0 = tu_dalloc(N * H), *rdWx = tu_dalloc(D * 4 * H);
    double *rdWh = tu_dalloc(H * 4 * H), *rdb = tu_dalloc(4 * H);
    float *hh = tu_nans(N * T * H), *gWh = tu_nans(H * 4 * H);
    ref_cache rc;
    lstmcl_status st;

    st = lstmcl_forward(ctx, N, T, D, H, x, h0, Wx, Wh, b, hh, &cache);
    ck_assert_msg(st == LSTMCL_SUCCESS, "good forward after an error: %s",
                  lstmcl_context_message(ctx));
    ck_assert_str_eq(lstmcl_context_message(ctx), "");
    st = lstmcl_backward(ctx, cache, dh, dx, dh0, dWx, gWh, db);
    ck_assert_msg(st == LSTMCL_SUCCESS, "good backward after an error: %s",
                  lstmcl_context_message(ctx));
    lstmcl_cache_destroy(cache);
    ck_assert_int_eq(ref_forward(N, T, D, H, dxd, h0d, NULL, Wxd, Whd, bd, &rc), 0);
    ck_assert_int_eq(ref_backward(&rc, dxd, h0d, NULL, Wxd, Whd, dhd, NULL, rdx, rdh0, NULL,
                                  rdWx, rdWh, rdb), 0);
    ck_assert(ref_rel_error(hh, rc.h, N * T * H) < 1e-5);
    ck_assert(ref_rel_error(gWh, rdWh, H * 4 * H) < 1e-4);
    ref_cache_free(&rc);
    free(dxd), free(h0d), free(Wxd), free(Whd), free(bd), free(dhd), free(rdx), free(rdh0);
    free(rdWx), free(rdWh), free(rdb), free(hh), free(gWh);
}

static void expect_error(lstmcl_context *ctx, lstmcl_status got, lstmcl_status want,
                         const char *needle)
{
    ck_assert_msg(got == want, "got %s, want %s (message: %s)", lstmcl_status_name(got),
                  lstmcl_status_name(want), lstmcl_context_message(ctx));
    ck_assert_msg(strstr(lstmcl_context_message(ctx), needle) != NULL,
                  "message '%s' does not mention '%s'", lstmcl_context_message(ctx), needle);
    good_call(ctx);
}

/* ------------------------------------------------------------ pointers */

static const char *const fwd_names[] = {"x", "h0", "Wx", "Wh", "b", "h"};

START_TEST(forward_null_pointers)
{
    lstmcl_context *ctx = tu_context();
    const float *in[6];
    lstmcl_cache *cache = (lstmcl_cache *)&in; /* must be set to NULL */
    lstmcl_status st;
    in[0] = x, in[1] = h0, in[2] = Wx, in[3] = Wh, in[4] = b, in[5] = h;
    in[_i] = NULL;
    st = lstmcl_forward(ctx, N, T, D, H, in[0], in[1], in[2], in[3], in[4], (float *)in[5],
                        &cache);
    ck_assert_ptr_null(cache);
    expect_error(ctx, st, LSTMCL_ERROR_INVALID_ARGUMENT, fwd_names[_i]);
}
END_TEST

static const char *const step_names[] = {"x",  "prev_h", "prev_c", "Wx",
                                         "Wh", "b",      "next_h", "next_c"};

START_TEST(step_forward_null_pointers)
{
    lstmcl_context *ctx = tu_context();
    const float *in[8];
    lstmcl_status st;
    in[0] = x, in[1] = h0, in[2] = c0, in[3] = Wx, in[4] = Wh, in[5] = b, in[6] = h, in[7] = cT;
    in[_i] = NULL;
    st = lstmcl_step_forward(ctx, N, D, H, in[0], in[1], in[2], in[3], in[4], in[5],
                             (float *)in[6], (float *)in[7], NULL);
    expect_error(ctx, st, LSTMCL_ERROR_INVALID_ARGUMENT, step_names[_i]);
}
END_TEST

static const char *const bwd_names[] = {"dh", "dx", "dh0", "dWx", "dWh", "db"};

START_TEST(backward_null_pointers)
{
    lstmcl_context *ctx = tu_context();
    lstmcl_cache *cache = NULL;
    float *p[6];
    lstmcl_status st;
    ck_assert_int_eq(lstmcl_forward(ctx, N, T, D, H, x, h0, Wx, Wh, b, h, &cache),
                     LSTMCL_SUCCESS);
    p[0] = dh, p[1] = dx, p[2] = dh0, p[3] = dWx, p[4] = dWh, p[5] = db;
    p[_i] = NULL;
    st = lstmcl_backward(ctx, cache, p[0], p[1], p[2], p[3], p[4], p[5]);
    lstmcl_cache_destroy(cache);
    expect_error(ctx, st, LSTMCL_ERROR_INVALID_ARGUMENT, bwd_names[_i]);
}
END_TEST

static const char *const step_bwd_names[] = {"dnext_h", "dnext_c", "dx",  "dprev_h",
                                             "dprev_c", "dWx",     "dWh", "db"};

START_TEST(step_backward_null_pointers)
{
    lstmcl_context *ctx = tu_context();
    lstmcl_cache *cache = NULL;
    float *p[8];
    lstmcl_status st;
    ck_assert_int_eq(lstmcl_step_forward(ctx, N, D, H, x, h0, c0, Wx, Wh, b, h, cT, &cache),
                     LSTMCL_SUCCESS);
    p[0] = dh, p[1] = dcT, p[2] = dx, p[3] = dh0, p[4] = dc0, p[5] = dWx, p[6] = dWh, p[7] = db;
    p[_i] = NULL;
    st = lstmcl_step_backward(ctx, cache, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]);
    lstmcl_cache_destroy(cache);
    expect_error(ctx, st, LSTMCL_ERROR_INVALID_ARGUMENT, step_bwd_names[_i]);
}
END_TEST

START_TEST(null_context)
{
    lstmcl_cache *cache = NULL;
    ck_assert_int_eq(lstmcl_forward(NULL, N, T, D, H, x, h0, Wx, Wh, b, h, &cache),
                     LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(lstmcl_step_forward(NULL, N, D, H, x, h0, c0, Wx, Wh, b, h, cT, NULL),
                     LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(lstmcl_backward(NULL, cache, dh, dx, dh0, dWx, dWh, db),
                     LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(lstmcl_step_backward(NULL, cache, dh, dcT, dx, dh0, dc0, dWx, dWh, db),
                     LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_str_eq(lstmcl_context_message(NULL), "");
    ck_assert_str_eq(lstmcl_context_device_name(NULL), "");
    lstmcl_context_destroy(NULL);
    lstmcl_cache_destroy(NULL);
}
END_TEST

/* --------------------------------------------------------------- sizes */

START_TEST(zero_sizes)
{
    lstmcl_context *ctx = tu_context();
    size_t s[4] = {N, T, D, H};
    static const char *const names[] = {"N is 0", "T is 0", "D is 0", "H is 0"};
    lstmcl_cache *cache = NULL;
    lstmcl_status st;
    s[_i] = 0;
    st = lstmcl_forward(ctx, s[0], s[1], s[2], s[3], x, h0, Wx, Wh, b, h, &cache);
    ck_assert_ptr_null(cache);
    expect_error(ctx, st, LSTMCL_ERROR_INVALID_ARGUMENT, names[_i]);
    if (_i != 1) {
        st = lstmcl_step_forward(ctx, s[0], s[2], s[3], x, h0, c0, Wx, Wh, b, h, cT, NULL);
        expect_error(ctx, st, LSTMCL_ERROR_INVALID_ARGUMENT, names[_i]);
    }
}
END_TEST

START_TEST(sizes_overflow)
{
    lstmcl_context *ctx = tu_context();
    lstmcl_status st;
    /* N*T*D*4 overflows size_t; the tiny arrays are never read */
    st = lstmcl_forward(ctx, SIZE_MAX / 2, 4, D, H, x, h0, Wx, Wh, b, h, NULL);
    expect_error(ctx, st, LSTMCL_ERROR_TOO_LARGE, "overflow");
    st = lstmcl_forward(ctx, N, T, D, SIZE_MAX / 3, x, h0, Wx, Wh, b, h, NULL);
    expect_error(ctx, st, LSTMCL_ERROR_TOO_LARGE, "overflow");
    st = lstmcl_step_forward(ctx, 1, SIZE_MAX, 1, x, h0, c0, Wx, Wh, b, h, cT, NULL);
    expect_error(ctx, st, LSTMCL_ERROR_TOO_LARGE, "overflow");
}
END_TEST

START_TEST(sizes_beyond_device_limits)
{
    lstmcl_context *ctx = tu_context();
    cl_ulong max_alloc = 0;
    size_t big_h;
    lstmcl_status st;

    /* Wh (H, 4H) just over the device's largest buffer, when that is within
     * the kernels' index range; the tiny arrays are never read */
    ck_assert_int_eq(clGetDeviceInfo(lstmcl_context_device(ctx), CL_DEVICE_MAX_MEM_ALLOC_SIZE,
                                     sizeof max_alloc, &max_alloc, NULL),
                     CL_SUCCESS);
    for (big_h = 1; (cl_ulong)big_h * big_h * 16 <= max_alloc; big_h *= 2)
        ;
    if ((cl_ulong)big_h * big_h * 4 <= 2147483647ull) {
        st = lstmcl_forward(ctx, 1, 1, 1, big_h, x, h0, Wx, Wh, b, h, NULL);
        expect_error(ctx, st, LSTMCL_ERROR_TOO_LARGE, "CL_DEVICE_MAX_MEM_ALLOC_SIZE");
    }
    /* over the 2^31-element index limit: Wh is 30000 x 120000 */
    st = lstmcl_forward(ctx, 1, 1, 1, 30000, x, h0, Wx, Wh, b, h, NULL);
    expect_error(ctx, st, LSTMCL_ERROR_TOO_LARGE, "index at most");
    /* big x: 2^20 x 2^10 floats = 4 GiB, refused where the device cannot
     * hold it; planned (nothing is allocated or read) where it can.  The
     * host-pointer call would read the tiny arrays, so this goes through a
     * plan. */
    {
        const cl_ulong x_bytes = (cl_ulong)1 << 32;
        lstmcl_plan *plan = NULL;
        st = lstmcl_plan_create(&plan, ctx, 1 << 20, 1, 1 << 10, 1);
        if (st == LSTMCL_SUCCESS) {
            ck_assert_msg(x_bytes <= max_alloc, "a 4 GiB x was planned past the device's "
                                                "largest buffer");
            lstmcl_plan_destroy(plan);
        } else {
            ck_assert_ptr_null(plan);
            ck_assert_msg(strstr(lstmcl_context_message(ctx), "device") != NULL, "%s",
                          lstmcl_context_message(ctx));
            expect_error(ctx, st, LSTMCL_ERROR_TOO_LARGE, "N=1048576");
        }
    }
}
END_TEST

/* DeepBench's largest LSTM (H=4096, N=128, T=25) either plans (and so runs)
 * or is refused, before anything is allocated, with the limit it exceeds. */
START_TEST(deepbench_largest_plans_or_says_why)
{
    lstmcl_context *ctx = tu_context();
    lstmcl_plan *plan = NULL;
    lstmcl_status st = lstmcl_plan_create(&plan, ctx, 128, 25, 4096, 4096);
    if (st == LSTMCL_SUCCESS) {
        size_t ws = 0, rs = 0;
        ck_assert_int_eq(lstmcl_plan_workspace_size(plan, &ws), LSTMCL_SUCCESS);
        ck_assert_int_eq(lstmcl_plan_reserve_size(plan, &rs), LSTMCL_SUCCESS);
        ck_assert_uint_eq(rs, (size_t)128 * 25 * 6 * 4096 * sizeof(float));
        ck_assert_uint_gt(ws, (size_t)128 * 25 * 4 * 4096 * sizeof(float));
        lstmcl_plan_destroy(plan);
    } else {
        ck_assert_int_eq(st, LSTMCL_ERROR_TOO_LARGE);
        ck_assert_ptr_null(plan);
        ck_assert_msg(strstr(lstmcl_context_message(ctx), "device") != NULL, "%s",
                      lstmcl_context_message(ctx));
    }
    good_call(ctx);
}
END_TEST

/* Training blocks: sizes whose product passes 2^31 while every matrix they
 * make fits are accepted (a 1300 x 1300 x 1300 linear layer), and a matrix
 * past 2^31 elements is refused with a message. */
START_TEST(training_block_sizes)
{
    lstmcl_context *ctx = tu_context();
    const size_t n = 1300;
    float *x = tu_floats(n * n, 1), *w = tu_floats(n * n, 1), *y = tu_nans(n * n);
    cl_context cc = lstmcl_context_cl_context(ctx);
    cl_int e;
    lstmcl_tensor tx = {clCreateBuffer(cc, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, n * n * 4, x,
                                       &e), 0};
    lstmcl_tensor tw = {clCreateBuffer(cc, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, n * n * 4, w,
                                       &e), 0};
    lstmcl_tensor ty = {clCreateBuffer(cc, CL_MEM_READ_WRITE, n * n * 4, NULL, &e), 0};
    lstmcl_tensor none = {NULL, 0};
    double want = 0;
    size_t k;
    lstmcl_status st = lstmcl_linear_forward(ctx, n, n, n, tx, tw, none, ty);
    ck_assert_msg(st == LSTMCL_SUCCESS, "%s", lstmcl_context_message(ctx));
    ck_assert_int_eq(clEnqueueReadBuffer(lstmcl_context_queue(ctx), ty.mem, CL_TRUE, 0,
                                         n * n * 4, y, 0, NULL, NULL),
                     CL_SUCCESS);
    for (k = 0; k < n; k++) /* y[7, 11] */
        want += (double)x[7 * n + k] * w[k * n + 11];
    ck_assert_msg(fabs(y[7 * n + 11] - want) < 1e-3, "%g vs %g", y[7 * n + 11], want);
    st = lstmcl_linear_forward(ctx, 70000, 40000, 1, tx, tw, none, ty);
    expect_error(ctx, st, LSTMCL_ERROR_TOO_LARGE, "index range");
    clReleaseMemObject(tx.mem), clReleaseMemObject(tw.mem), clReleaseMemObject(ty.mem);
    free(x), free(w), free(y);
}
END_TEST

/* -------------------------------------------------------------- caches */

START_TEST(bad_caches)
{
    lstmcl_context *ctx = tu_context(), *other = NULL;
    lstmcl_cache *step_cache = NULL, *seq_cache = NULL, *foreign = NULL, *orphan = NULL;
    lstmcl_status st;

    st = lstmcl_backward(ctx, NULL, dh, dx, dh0, dWx, dWh, db);
    expect_error(ctx, st, LSTMCL_ERROR_INVALID_ARGUMENT, "cache is NULL");
    st = lstmcl_step_backward(ctx, NULL, dh, dcT, dx, dh0, dc0, dWx, dWh, db);
    expect_error(ctx, st, LSTMCL_ERROR_INVALID_ARGUMENT, "cache is NULL");

    /* a step cache with the sequence backward and the other way round */
    ck_assert_int_eq(lstmcl_step_forward(ctx, N, D, H, x, h0, c0, Wx, Wh, b, h, cT, &step_cache),
                     LSTMCL_SUCCESS);
    ck_assert_int_eq(lstmcl_forward(ctx, N, T, D, H, x, h0, Wx, Wh, b, h, &seq_cache),
                     LSTMCL_SUCCESS);
    st = lstmcl_backward(ctx, step_cache, dh, dx, dh0, dWx, dWh, db);
    expect_error(ctx, st, LSTMCL_ERROR_INVALID_CACHE, "lstmcl_step_backward");
    st = lstmcl_step_backward(ctx, seq_cache, dh, dcT, dx, dh0, dc0, dWx, dWh, db);
    expect_error(ctx, st, LSTMCL_ERROR_INVALID_CACHE, "lstmcl_backward");

    /* a cache of another context, and one whose context is gone */
    ck_assert_int_eq(lstmcl_context_create(&other, NULL), LSTMCL_SUCCESS);
    ck_assert_int_eq(lstmcl_forward(other, N, T, D, H, x, h0, Wx, Wh, b, h, &foreign),
                     LSTMCL_SUCCESS);
    ck_assert_int_eq(lstmcl_forward(other, N, T, D, H, x, h0, Wx, Wh, b, h, &orphan),
                     LSTMCL_SUCCESS);
    st = lstmcl_backward(ctx, foreign, dh, dx, dh0, dWx, dWh, db);
    expect_error(ctx, st, LSTMCL_ERROR_INVALID_CACHE, "not made by this context");
    lstmcl_cache_destroy(foreign);
    lstmcl_context_destroy(other);
    st = lstmcl_backward(ctx, orphan, dh, dx, dh0, dWx, dWh, db);
    expect_error(ctx, st, LSTMCL_ERROR_INVALID_CACHE, "context was destroyed");
    lstmcl_cache_destroy(orphan); /* still allowed after its context went */

    lstmcl_cache_destroy(step_cache);
    lstmcl_cache_destroy(seq_cache);
}
END_TEST

/* ------------------------------------------------------------ contexts */

START_TEST(create_errors)
{
    lstmcl_context *ctx = (lstmcl_context *)&ctx;
    ck_assert_int_eq(lstmcl_context_create(NULL, NULL), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_last_create_message(), "NULL"));

    ck_assert_int_eq(lstmcl_context_create(&ctx, "gpu:cpu:0:1"), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(ctx);
    ck_assert_ptr_nonnull(strstr(lstmcl_last_create_message(), "more than 3"));

    ck_assert_int_eq(lstmcl_context_create(&ctx, "::"), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_last_create_message(), "empty field"));

    ck_assert_int_eq(lstmcl_context_create_from_queue(&ctx, NULL), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_null(ctx);
    ck_assert_ptr_nonnull(strstr(lstmcl_last_create_message(), "queue"));
}
END_TEST

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* LSTMCL_KERNEL_DIR loads kernels from a folder; a missing file and a
 * kernel that does not compile are reported, with the build log. */
START_TEST(kernel_dir_override)
{
    char dir[] = "/tmp/lstmcl-kernels-XXXXXX";
    char path[64];
    lstmcl_context *ctx = NULL;
    lstmcl_status st;

    tu_context(); /* skips when there is no device */
    ck_assert_ptr_nonnull(mkdtemp(dir));
    setenv("LSTMCL_KERNEL_DIR", dir, 1);
    st = lstmcl_context_create(&ctx, NULL);
    ck_assert_int_eq(st, LSTMCL_ERROR_IO);
    ck_assert_ptr_nonnull(strstr(lstmcl_last_create_message(), "lstm.cl"));

    snprintf(path, sizeof path, "%s/fused.cl", dir);
    write_file(path, "/* nothing */\n");
    snprintf(path, sizeof path, "%s/tiled.cl", dir);
    write_file(path, "/* nothing */\n");
    snprintf(path, sizeof path, "%s/train.cl", dir);
    write_file(path, "/* nothing */\n");
    snprintf(path, sizeof path, "%s/lstm.cl", dir);
    write_file(path, "__kernel void lstm_fwd_step(__global float *p) { p[0] = undefined_name; }\n");
    st = lstmcl_context_create(&ctx, NULL);
    ck_assert_int_eq(st, LSTMCL_ERROR_KERNEL_BUILD);
    ck_assert_ptr_null(ctx);
    ck_assert_msg(strstr(lstmcl_last_create_message(), "undefined_name") != NULL,
                  "no build log in: %s", lstmcl_last_create_message());
    unsetenv("LSTMCL_KERNEL_DIR");
    unlink(path);
    snprintf(path, sizeof path, "%s/fused.cl", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/tiled.cl", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/train.cl", dir);
    unlink(path);
    rmdir(dir);

    ck_assert_int_eq(lstmcl_context_create(&ctx, NULL), LSTMCL_SUCCESS);
    lstmcl_context_destroy(ctx);
}
END_TEST

/* ------------------------------------------------------------- statuses */

START_TEST(status_strings)
{
    static const lstmcl_status all[] = {
#define XX(name, value, msg) LSTMCL_##name,
        LSTMCL_STATUS_MAP(XX)
#undef XX
    };
    size_t i, j, n = sizeof all / sizeof all[0];
    ck_assert_int_eq(LSTMCL_SUCCESS, 0);
    for (i = 0; i < n; i++) {
        ck_assert(i == 0 || all[i] < 0);
        ck_assert_str_ne(lstmcl_status_string(all[i]), "unknown status");
        ck_assert(strncmp(lstmcl_status_name(all[i]), "LSTMCL_", 7) == 0);
        for (j = 0; j < i; j++) {
            ck_assert_int_ne(all[i], all[j]);
            ck_assert_str_ne(lstmcl_status_string(all[i]), lstmcl_status_string(all[j]));
        }
    }
    ck_assert_str_eq(lstmcl_status_name(LSTMCL_ERROR_INVALID_CACHE),
                     "LSTMCL_ERROR_INVALID_CACHE");
    ck_assert_str_eq(lstmcl_status_string((lstmcl_status)12345), "unknown status");
    ck_assert_str_eq(lstmcl_status_name((lstmcl_status)-999), "LSTMCL_UNKNOWN_STATUS");
    ck_assert_str_eq(lstmcl_version_string(), "0.1.0");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("errors");
    TCase *tc = tcase_create("arguments");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, forward_null_pointers, 0, 6);
    tcase_add_loop_test(tc, step_forward_null_pointers, 0, 8);
    tcase_add_loop_test(tc, backward_null_pointers, 0, 6);
    tcase_add_loop_test(tc, step_backward_null_pointers, 0, 8);
    tcase_add_test(tc, null_context);
    tcase_add_loop_test(tc, zero_sizes, 0, 4);
    tcase_add_test(tc, sizes_overflow);
    tcase_add_test(tc, sizes_beyond_device_limits);
    tcase_add_test(tc, deepbench_largest_plans_or_says_why);
    tcase_add_test(tc, training_block_sizes);
    tcase_add_test(tc, bad_caches);
    suite_add_tcase(s, tc);

    tc = tcase_create("contexts");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, create_errors);
    tcase_add_test(tc, kernel_dir_override);
    suite_add_tcase(s, tc);

    tc = tcase_create("statuses");
    tcase_add_test(tc, status_strings);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
