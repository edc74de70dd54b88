/* Helpers shared by the test programs. */
#ifndef LSTMCL_TESTUTIL_H
#define LSTMCL_TESTUTIL_H

#include "lstmcl.h"

#include <check.h>
#include <stddef.h>

/* The random seed of this run: $LSTMCL_TEST_SEED, else fresh.  Printed when
 * the suite starts and in every numeric failure message. */
unsigned long long tu_seed(void);
/* Uniform in [-scale, scale] from the run's random stream. */
double tu_uniform(double scale);
/* A uniform integer in [lo, hi]. */
size_t tu_range(size_t lo, size_t hi);

float *tu_floats(size_t n, double scale);   /* random; exits on no memory */
double *tu_doubles(const float *src, size_t n);
float *tu_nans(size_t n);                   /* poisoned outputs */
double *tu_dalloc(size_t n);

/* The shared context of a test program, made once.  When no OpenCL device
 * exists the program exits 77 (skipped), unless LSTMCL_TEST_REQUIRE_DEVICE=1,
 * when it fails. */
lstmcl_context *tu_context(void);
/* When LSTMCL_TEST_EXPECT_GEMM is set ("clblast", "onednn", or "onednn-on-cpu":
 * oneDNN on a CPU device whose memory is the host's, not under
 * LSTMCL_TEST_DEVICE_LIMITS=gpu, else CLBlast), exits with a failure unless
 * the context's GEMMs run there; tu_context checks its context so. */
void tu_expect_gemm(lstmcl_context *c);
void tu_context_release(void);

/* Exits 77 (or fails when devices are required) with a reason. */
void tu_no_device(const char *why);

/* Runs the suite without forking (OpenCL in a forked child hangs) and returns
 * the exit status for main. */
int tu_run(Suite *s);

#endif
