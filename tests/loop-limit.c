/* The smallest kernel and launch that show Mesa llvmpipe's loop limiter, the
 * cause of a wrong result of lstmcl's fused path on rusticl (docs/
 * portability.md): one work-item runs two loops, one after the other, of
 * n1 and n2 iterations, each storing its counter.  On a conformant device
 * every element is written.  On Mesa 22.3's llvmpipe (rusticl's CPU device)
 * the loops of one invocation stop, silently, once they have run 65535
 * iterations together (gallivm's LP_MAX_TGSI_LOOP_ITERATIONS, a guard
 * against hung shaders): the second loop ends early.
 *
 *   loop-limit [--report] [SUBSTRING]
 * runs it on the first device whose platform or device name holds SUBSTRING
 * (default: the first device) and prints how many elements each loop wrote.
 * Exits 0 when all were, 1 when the device stopped a loop early (0 with
 * --report, which only says what the device does: the rusticl suite runs it
 * so, to show the limiter beside the tests that now pass in spite of it),
 * 77 when there is no such device, 2 on an OpenCL error.  Needs nothing of
 * lstmcl's. */
#define _GNU_SOURCE /* strcasestr */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *source =
    "__kernel void two_loops(__global int *a, const int n1, __global int *b, const int n2)\n"
    "{\n"
    "    for (int i = 0; i < n1; i++)\n"
    "        a[i] = i + 1;\n"
    "    for (int i = 0; i < n2; i++)\n"
    "        b[i] = i + 1;\n"
    "}\n";

static int pick(const char *want, cl_platform_id *pf, cl_device_id *dev, char *name, size_t cap)
{
    cl_platform_id ps[16];
    cl_uint np = 0, i, j;
    if (clGetPlatformIDs(16, ps, &np) != CL_SUCCESS)
        return -1;
    for (i = 0; i < np && i < 16; i++) {
        cl_device_id ds[16];
        cl_uint nd = 0;
        char pname[256] = "";
        clGetPlatformInfo(ps[i], CL_PLATFORM_NAME, sizeof pname, pname, NULL);
        if (clGetDeviceIDs(ps[i], CL_DEVICE_TYPE_ALL, 16, ds, &nd) != CL_SUCCESS)
            continue;
        for (j = 0; j < nd && j < 16; j++) {
            char dname[256] = "";
            clGetDeviceInfo(ds[j], CL_DEVICE_NAME, sizeof dname, dname, NULL);
            snprintf(name, cap, "%s / %s", pname, dname);
            if (!want || strcasestr(name, want)) {
                *pf = ps[i], *dev = ds[j];
                return 0;
            }
        }
    }
    return -1;
}

int main(int argc, char **argv)
{
    const int n1 = 40000, n2 = 40000; /* 80,000 together: past 65,535 */
    cl_platform_id pf;
    cl_device_id dev;
    cl_context ctx;
    cl_command_queue q;
    cl_program prog;
    cl_kernel k;
    cl_mem a, b;
    cl_int err;
    char name[600];
    int *ha = calloc(n1, sizeof *ha), *hb = calloc(n2, sizeof *hb), wa = 0, wb = 0, i;
    size_t one = 1;
    const int report = argc > 1 && !strcmp(argv[1], "--report");
    const char *want = argc > 1 + report ? argv[1 + report] : NULL;

    if (!ha || !hb)
        return 2;
    if (pick(want, &pf, &dev, name, sizeof name) != 0) {
        printf("SKIP: no OpenCL device%s%s\n", want ? " matches " : "", want ? want : "");
        return 77;
    }
    ctx = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
    if (err != CL_SUCCESS)
        return 2;
    q = clCreateCommandQueue(ctx, dev, 0, &err);
    prog = clCreateProgramWithSource(ctx, 1, &source, NULL, &err);
    if (err != CL_SUCCESS || clBuildProgram(prog, 1, &dev, "", NULL, NULL) != CL_SUCCESS)
        return 2;
    k = clCreateKernel(prog, "two_loops", &err);
    a = clCreateBuffer(ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, n1 * sizeof(int), ha, &err);
    b = clCreateBuffer(ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, n2 * sizeof(int), hb, &err);
    if (!k || !a || !b)
        return 2;
    clSetKernelArg(k, 0, sizeof a, &a);
    clSetKernelArg(k, 1, sizeof n1, &n1);
    clSetKernelArg(k, 2, sizeof b, &b);
    clSetKernelArg(k, 3, sizeof n2, &n2);
    /* one work-item, in a work-group of its own */
    if (clEnqueueNDRangeKernel(q, k, 1, NULL, &one, &one, 0, NULL, NULL) != CL_SUCCESS ||
        clEnqueueReadBuffer(q, a, CL_TRUE, 0, n1 * sizeof(int), ha, 0, NULL, NULL) != CL_SUCCESS ||
        clEnqueueReadBuffer(q, b, CL_TRUE, 0, n2 * sizeof(int), hb, 0, NULL, NULL) != CL_SUCCESS)
        return 2;
    for (i = 0; i < n1; i++)
        wa += ha[i] == i + 1;
    for (i = 0; i < n2; i++)
        wb += hb[i] == i + 1;
    printf("%s: one work-item, loops of %d and %d iterations: wrote %d and %d elements%s\n", name,
           n1, n2, wa, wb,
           wa == n1 && wb == n2 ? "" : " (the device stopped the loops early)");
    clReleaseMemObject(a), clReleaseMemObject(b), clReleaseKernel(k), clReleaseProgram(prog);
    clReleaseCommandQueue(q), clReleaseContext(ctx);
    free(ha), free(hb);
    return wa == n1 && wb == n2 ? 0 : report ? 0 : 1;
}
