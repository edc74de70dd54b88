/* Reading CLBlast's tuning parameters (clblast_params.cc, C++). */
#ifndef LSTMCL_CLBLAST_PARAMS_H
#define LSTMCL_CLBLAST_PARAMS_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stddef.h>

#define LSTMCL_CLBLAST_NAME_MAX 48

#ifdef __cplusplus
extern "C" {
#endif

/* The single-precision parameters CLBlast uses now for kernel on device:
 * up to max names and values, *count of them.  0, or CLBlast's status. */
int lstmcl__clblast_retrieve(cl_device_id device, const char *kernel, size_t max,
                             char (*names)[LSTMCL_CLBLAST_NAME_MAX + 1], size_t *values,
                             size_t *count);

#ifdef __cplusplus
}
#endif

#endif
