/* lstmcl-devices: every OpenCL platform and device, with the LSTMCL_DEVICE
 * selector that picks each, and the device lstmcl would use now. */
#include "../src/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: lstmcl-devices [--help]\n"
               "Lists every OpenCL device with the LSTMCL_DEVICE selector that picks it.\n");
}

int main(int argc, char **argv)
{
    lstmcl_device_desc *list = NULL;
    size_t n = 0, i;
    lstmcl_selector sel;
    char err_text[256];
    const char *env = getenv("LSTMCL_DEVICE");
    long pick;
    cl_int err;

    if (argc > 1) {
        int help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
        usage(help ? stdout : stderr);
        return help ? 0 : 2;
    }
    err = lstmcl__list_devices(&list, &n);
    if (err != CL_SUCCESS) {
        fprintf(stderr, "lstmcl-devices: listing OpenCL devices failed: %s (%d)\n",
                lstmcl__cl_error_name(err), (int)err);
        return 1;
    }
    if (n == 0) {
        fprintf(stderr, "lstmcl-devices: no OpenCL device found; is an OpenCL driver (ICD) "
                        "installed, e.g. pocl-opencl-icd?\n");
        return 1;
    }
    if (lstmcl__selector_parse(env ? env : "", &sel, err_text, sizeof err_text) != 0) {
        fprintf(stderr, "lstmcl-devices: LSTMCL_DEVICE: %s\n", err_text);
        pick = -2;
    } else {
        pick = lstmcl__selector_match(&sel, list, n);
    }

    printf("%-9s %-12s %-5s %-4s %10s %10s  %s\n", "selector", "type", "CUs", "MHz", "memory",
           "max alloc", "platform / device");
    for (i = 0; i < n; i++) {
        cl_uint cus = 0, mhz = 0;
        cl_ulong mem = 0, alloc = 0;
        char sel_text[32];
        clGetDeviceInfo(list[i].device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cus, &cus, NULL);
        clGetDeviceInfo(list[i].device, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof mhz, &mhz, NULL);
        clGetDeviceInfo(list[i].device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof mem, &mem, NULL);
        clGetDeviceInfo(list[i].device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof alloc, &alloc, NULL);
        snprintf(sel_text, sizeof sel_text, "%u:%u", list[i].platform_index,
                 list[i].device_index);
        printf("%-9s %-12s %-5u %-4u %8.1f G %8.1f G  %s / %s%s\n", sel_text,
               lstmcl__type_word(list[i].type), cus, mhz, mem / 1073741824.0,
               alloc / 1073741824.0, list[i].platform_name, list[i].device_name,
               (long)i == pick ? "   <- chosen" : "");
    }
    if (pick == -1)
        printf("\nLSTMCL_DEVICE='%s' matches no device: lstmcl would fail with "
               "LSTMCL_ERROR_DEVICE_NOT_FOUND.\n",
               env);
    else if (pick >= 0)
        printf("\n%s picks %u:%u.\n",
               env && *env ? "LSTMCL_DEVICE" : "With LSTMCL_DEVICE unset, the default",
               list[pick].platform_index, list[pick].device_index);
    free(list);
    return 0;
}
