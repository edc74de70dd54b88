#define _POSIX_C_SOURCE 200809L
#include "testutil.h"
#include "lstmcl_cl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static unsigned long long seed_value;
static unsigned long long state;
static int seeded;
static lstmcl_context *shared_ctx;

unsigned long long tu_seed(void)
{
    if (!seeded) {
        const char *env = getenv("LSTMCL_TEST_SEED");
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed_value = env && *env ? strtoull(env, NULL, 10)
                                 : ((unsigned long long)ts.tv_nsec ^
                                    ((unsigned long long)ts.tv_sec << 20) ^
                                    ((unsigned long long)getpid() << 40)) % 1000000007ull;
        state = seed_value * 6364136223846793005ull + 1442695040888963407ull;
        if (!state)
            state = 1;
        seeded = 1;
    }
    return seed_value;
}

static unsigned long long next(void)
{
    tu_seed();
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

double tu_uniform(double scale)
{
    return ((double)(next() >> 11) / 9007199254740992.0 * 2.0 - 1.0) * scale;
}

size_t tu_range(size_t lo, size_t hi)
{
    return lo + (size_t)(next() % (unsigned long long)(hi - lo + 1));
}

static void *must(void *p)
{
    if (!p) {
        fprintf(stderr, "test: out of memory\n");
        exit(1);
    }
    return p;
}

float *tu_floats(size_t n, double scale)
{
    float *p = must(malloc((n ? n : 1) * sizeof *p));
    size_t i;
    for (i = 0; i < n; i++)
        p[i] = (float)tu_uniform(scale);
    return p;
}

double *tu_doubles(const float *src, size_t n)
{
    double *p = must(malloc((n ? n : 1) * sizeof *p));
    size_t i;
    for (i = 0; i < n; i++)
        p[i] = src[i];
    return p;
}

double *tu_dalloc(size_t n)
{
    return must(calloc(n ? n : 1, sizeof(double)));
}

float *tu_nans(size_t n)
{
    float *p = must(malloc((n ? n : 1) * sizeof *p));
    size_t i;
    for (i = 0; i < n; i++)
        p[i] = NAN;
    return p;
}

void tu_no_device(const char *why)
{
    const char *req = getenv("LSTMCL_TEST_REQUIRE_DEVICE");
    if (req && strcmp(req, "1") == 0) {
        fprintf(stderr, "FAIL: an OpenCL device is required (LSTMCL_TEST_REQUIRE_DEVICE=1): %s\n",
                why);
        exit(1);
    }
    fprintf(stderr, "SKIP: no usable OpenCL device: %s\n", why);
    exit(77);
}

lstmcl_context *tu_context(void)
{
    if (!shared_ctx) {
        lstmcl_status st = lstmcl_context_create(&shared_ctx, NULL);
        if (st == LSTMCL_ERROR_NO_DEVICE)
            tu_no_device(lstmcl_last_create_message());
        if (st != LSTMCL_SUCCESS) {
            fprintf(stderr, "FAIL: lstmcl_context_create: %s: %s\n", lstmcl_status_string(st),
                    lstmcl_last_create_message());
            exit(1);
        }
        tu_expect_gemm(shared_ctx);
    }
    return shared_ctx;
}

void tu_expect_gemm(lstmcl_context *c)
{
    const char *want = getenv("LSTMCL_TEST_EXPECT_GEMM");
    if (!want || !*want)
        return;
    if (strcmp(want, "onednn-on-cpu") == 0) {
        cl_device_type type = 0;
        cl_bool unified = CL_FALSE;
        const char *limits = getenv("LSTMCL_TEST_DEVICE_LIMITS");
        clGetDeviceInfo(lstmcl_context_device(c), CL_DEVICE_TYPE, sizeof type, &type, NULL);
        clGetDeviceInfo(lstmcl_context_device(c), CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified,
                        &unified, NULL);
        want = (type & CL_DEVICE_TYPE_CPU) && unified && !(limits && strstr(limits, "gpu"))
                   ? "onednn"
                   : "clblast";
    }
    if (strcmp(lstmcl_context_gemm(c), want) != 0) {
        fprintf(stderr, "FAIL: the context's GEMMs run on %s, but LSTMCL_TEST_EXPECT_GEMM=%s "
                "expects %s\n", lstmcl_context_gemm(c), getenv("LSTMCL_TEST_EXPECT_GEMM"), want);
        exit(1);
    }
}

void tu_context_release(void)
{
    lstmcl_context_destroy(shared_ctx);
    shared_ctx = NULL;
}

int tu_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;
    printf("random seed %llu (set LSTMCL_TEST_SEED=%llu to repeat this run)\n", tu_seed(),
           tu_seed());
    fflush(stdout);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    tu_context_release();
    return failed == 0 ? 0 : 1;
}
