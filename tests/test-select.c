/* The device selector: parsing and matching without devices, then on the
 * OpenCL devices of this machine. */
#define _POSIX_C_SOURCE 200809L
#include "../src/internal.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lstmcl_selector parse_ok(const char *text)
{
    lstmcl_selector sel;
    char err[256] = "";
    ck_assert_msg(lstmcl__selector_parse(text, &sel, err, sizeof err) == 0, "'%s': %s", text,
                  err);
    return sel;
}

static void parse_fails(const char *text, const char *needle)
{
    lstmcl_selector sel;
    char err[256] = "";
    ck_assert_msg(lstmcl__selector_parse(text, &sel, err, sizeof err) != 0,
                  "'%s' should not parse", text);
    ck_assert_msg(strstr(err, needle) != NULL, "'%s': message '%s' lacks '%s'", text, err,
                  needle);
}

START_TEST(parse_fields)
{
    lstmcl_selector s;
    s = parse_ok("");
    ck_assert_int_eq(s.nfields, 0);

    s = parse_ok("gpu");
    ck_assert_int_eq(s.nfields, 1);
    ck_assert_int_eq(s.fields[0].kind, LSTMCL_FIELD_TYPE);
    ck_assert_uint_eq(s.fields[0].type, CL_DEVICE_TYPE_GPU);

    s = parse_ok("CPU");
    ck_assert_int_eq(s.fields[0].kind, LSTMCL_FIELD_TYPE);
    ck_assert_uint_eq(s.fields[0].type, CL_DEVICE_TYPE_CPU);

    s = parse_ok("Accelerator:all");
    ck_assert_uint_eq(s.fields[0].type, CL_DEVICE_TYPE_ACCELERATOR);
    ck_assert_uint_eq(s.fields[1].type, CL_DEVICE_TYPE_ALL);

    s = parse_ok("nvidia:1");
    ck_assert_int_eq(s.nfields, 2);
    ck_assert_int_eq(s.fields[0].kind, LSTMCL_FIELD_SUBSTRING);
    ck_assert_str_eq(s.fields[0].text, "nvidia");
    ck_assert_int_eq(s.fields[1].kind, LSTMCL_FIELD_INDEX);
    ck_assert_uint_eq(s.fields[1].index, 1);

    s = parse_ok("0:2");
    ck_assert_int_eq(s.fields[0].kind, LSTMCL_FIELD_INDEX);
    ck_assert_uint_eq(s.fields[0].index, 0);
    ck_assert_uint_eq(s.fields[1].index, 2);

    s = parse_ok("intel:gpu:1");
    ck_assert_int_eq(s.nfields, 3);
    ck_assert_int_eq(s.fields[0].kind, LSTMCL_FIELD_SUBSTRING);
    ck_assert_int_eq(s.fields[1].kind, LSTMCL_FIELD_TYPE);
    ck_assert_int_eq(s.fields[2].kind, LSTMCL_FIELD_INDEX);

    /* a word with digits is a substring, not an index */
    s = parse_ok("rx7900");
    ck_assert_int_eq(s.fields[0].kind, LSTMCL_FIELD_SUBSTRING);
    s = parse_ok("gpus");
    ck_assert_int_eq(s.fields[0].kind, LSTMCL_FIELD_SUBSTRING);
}
END_TEST

START_TEST(parse_errors)
{
    parse_fails("a:b:c:d", "more than 3");
    parse_fails(":gpu", "empty field");
    parse_fails("gpu:", "empty field");
    parse_fails("pocl::0", "empty field");
    parse_fails("99999999999999999999999", "out of range");
    {
        char longf[200];
        memset(longf, 'a', sizeof longf - 1);
        longf[sizeof longf - 1] = '\0';
        parse_fails(longf, "longer than");
    }
}
END_TEST

/* A machine with two platforms: PoCL (1 CPU) and a vendor with 2 GPUs. */
static lstmcl_device_desc fake[3];

static void fake_setup(void)
{
    memset(fake, 0, sizeof fake);
    fake[0] = (lstmcl_device_desc){0, 0, CL_DEVICE_TYPE_CPU, "Portable Computing Language",
                                   "pthread-skylake-avx512-AMD EPYC", NULL, NULL};
    fake[1] = (lstmcl_device_desc){1, 0, CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_DEFAULT,
                                   "NVIDIA CUDA", "NVIDIA H100 80GB HBM3", NULL, NULL};
    fake[2] = (lstmcl_device_desc){1, 1, CL_DEVICE_TYPE_GPU, "NVIDIA CUDA",
                                   "NVIDIA GeForce RTX 4090", NULL, NULL};
}

static long pick(const char *text)
{
    lstmcl_selector s = parse_ok(text);
    return lstmcl__selector_match(&s, fake, 3);
}

START_TEST(match_fake_devices)
{
    fake_setup();
    ck_assert_int_eq(pick(""), 1);         /* default: the first GPU */
    ck_assert_int_eq(pick("gpu"), 1);
    ck_assert_int_eq(pick("cpu"), 0);
    ck_assert_int_eq(pick("pocl"), -1);    /* PoCL's platform name has no "pocl" */
    ck_assert_int_eq(pick("portable"), 0); /* substrings ignore case */
    ck_assert_int_eq(pick("EPYC"), 0);
    ck_assert_int_eq(pick("nvidia"), 1);
    ck_assert_int_eq(pick("nvidia:1"), 2); /* second device matching nvidia */
    ck_assert_int_eq(pick("nvidia:2"), -1);
    ck_assert_int_eq(pick("0:2"), -1);     /* platform 0 has one device */
    ck_assert_int_eq(pick("1:1"), 2);      /* platform 1, device 1 */
    ck_assert_int_eq(pick("0:0"), 0);
    ck_assert_int_eq(pick("2"), 2);        /* a lone number indexes all devices */
    ck_assert_int_eq(pick("3"), -1);
    ck_assert_int_eq(pick("4090"), -1);    /* all digits: an index, not a name */
    ck_assert_int_eq(pick("rtx 4090"), 2); /* digits inside a name */
    ck_assert_int_eq(pick("gpu:1"), 2);
    ck_assert_int_eq(pick("cuda:gpu:1"), 2);
    ck_assert_int_eq(pick("intel:gpu"), -1);
    ck_assert_int_eq(pick("accelerator"), -1);
    ck_assert_int_eq(pick("all"), 0);
    ck_assert_int_eq(pick("all:2"), 2);

    /* no GPU at all: the default is the first device */
    fake[1].type = fake[2].type = CL_DEVICE_TYPE_ACCELERATOR;
    ck_assert_int_eq(pick(""), 0);
}
END_TEST

/* The k-th device a selector keeps (one device per process). */
static long nth(const char *text, size_t k, size_t *count)
{
    lstmcl_selector s = parse_ok(text);
    return lstmcl__selector_nth(&s, fake, 3, k, count);
}

START_TEST(nth_fake_devices)
{
    size_t count = 99;
    fake_setup();
    ck_assert_int_eq(nth("", 0, &count), 1); /* default: every GPU */
    ck_assert_uint_eq(count, 2);
    ck_assert_int_eq(nth("", 1, &count), 2);
    ck_assert_int_eq(nth("", 2, &count), -1);
    ck_assert_uint_eq(count, 2);
    ck_assert_int_eq(nth("gpu", 1, &count), 2);
    ck_assert_int_eq(nth("cpu", 0, &count), 0);
    ck_assert_uint_eq(count, 1);
    ck_assert_int_eq(nth("cpu", 1, &count), -1);
    ck_assert_int_eq(nth("all", 2, &count), 2);
    ck_assert_uint_eq(count, 3);
    ck_assert_int_eq(nth("1:1", 0, &count), 2); /* an exact device keeps one */
    ck_assert_uint_eq(count, 1);
    ck_assert_int_eq(nth("nowhere", 0, &count), -1);
    ck_assert_uint_eq(count, 0);
    ck_assert_int_eq(nth("nvidia", 1, NULL), 2);
    fake[1].type = fake[2].type = CL_DEVICE_TYPE_ACCELERATOR; /* no GPU: every device */
    ck_assert_int_eq(nth("", 2, &count), 2);
    ck_assert_uint_eq(count, 3);
}
END_TEST

/* ------------------------------------------------------ real devices */

static lstmcl_device_desc *real;
static size_t nreal;

static void need_devices(void)
{
    cl_int err = lstmcl__list_devices(&real, &nreal);
    ck_assert_int_eq(err, CL_SUCCESS);
    if (nreal == 0)
        tu_no_device("lstmcl__list_devices found none");
}

START_TEST(real_selectors)
{
    lstmcl_context *ctx = NULL;
    char sel[300];
    lstmcl_status st;

    need_devices();
    /* "p:d" picks each device, and the context says which one it got */
    snprintf(sel, sizeof sel, "%u:%u", real[0].platform_index, real[0].device_index);
    st = lstmcl_context_create(&ctx, sel);
    ck_assert_msg(st == LSTMCL_SUCCESS, "%s", lstmcl_last_create_message());
    ck_assert_ptr_nonnull(strstr(lstmcl_context_device_name(ctx), real[0].device_name));
    lstmcl_context_destroy(ctx);

    /* a substring of the device's name */
    snprintf(sel, sizeof sel, "%.6s", real[0].device_name);
    st = lstmcl_context_create(&ctx, sel);
    ck_assert_msg(st == LSTMCL_SUCCESS, "%s: %s", sel, lstmcl_last_create_message());
    lstmcl_context_destroy(ctx);

    /* nothing matches: an error naming the devices there are */
    ctx = (lstmcl_context *)&st;
    st = lstmcl_context_create(&ctx, "no-such-device-anywhere");
    ck_assert_int_eq(st, LSTMCL_ERROR_DEVICE_NOT_FOUND);
    ck_assert_ptr_null(ctx);
    ck_assert_ptr_nonnull(strstr(lstmcl_last_create_message(), "no-such-device-anywhere"));
    ck_assert_ptr_nonnull(strstr(lstmcl_last_create_message(), real[0].device_name));
    st = lstmcl_context_create(&ctx, "accelerator:99");
    ck_assert_int_eq(st, LSTMCL_ERROR_DEVICE_NOT_FOUND);
    free(real);
}
END_TEST

START_TEST(real_device_nth)
{
    char buf[24], sel[300];
    size_t count = 0, k;
    lstmcl_context *ctx = NULL;
    lstmcl_status st;

    need_devices();
    /* "all" keeps every device, in lstmcl_devices' order */
    for (k = 0; k < nreal; k++) {
        st = lstmcl_device_nth("all", k, buf, sizeof buf, &count);
        ck_assert_msg(st == LSTMCL_SUCCESS, "%s", lstmcl_last_create_message());
        ck_assert_uint_eq(count, nreal);
        snprintf(sel, sizeof sel, "%u:%u", real[k].platform_index, real[k].device_index);
        ck_assert_str_eq(buf, sel);
    }
    /* what it names is what a context gets */
    ck_assert_int_eq(lstmcl_device_nth("all", 0, buf, sizeof buf, NULL), LSTMCL_SUCCESS);
    st = lstmcl_context_create(&ctx, buf);
    ck_assert_msg(st == LSTMCL_SUCCESS, "%s", lstmcl_last_create_message());
    ck_assert_ptr_nonnull(strstr(lstmcl_context_device_name(ctx), real[0].device_name));
    lstmcl_context_destroy(ctx);
    /* past the last one: an error that says how many there are */
    ck_assert_int_eq(lstmcl_device_nth("all", nreal, buf, sizeof buf, &count),
                     LSTMCL_ERROR_DEVICE_NOT_FOUND);
    ck_assert_uint_eq(count, nreal);
    ck_assert_str_eq(buf, "");
    ck_assert_ptr_nonnull(strstr(lstmcl_last_create_message(), "so there is no device"));
    ck_assert_int_eq(lstmcl_device_nth("no-such-device-anywhere", 0, buf, sizeof buf, &count),
                     LSTMCL_ERROR_DEVICE_NOT_FOUND);
    ck_assert_uint_eq(count, 0);
    ck_assert_int_eq(lstmcl_device_nth("a::b", 0, buf, sizeof buf, &count),
                     LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lstmcl_last_create_message(), "empty field"));
    ck_assert_int_eq(lstmcl_device_nth("all", 0, buf, 23, &count), LSTMCL_ERROR_INVALID_ARGUMENT);
    ck_assert_int_eq(lstmcl_device_nth("all", 0, NULL, 24, &count),
                     LSTMCL_ERROR_INVALID_ARGUMENT);
    free(real);
}
END_TEST

/* Three platforms at once, as on a machine with mesa-opencl-icd (run by the
 * rusticl suite, with RUSTICL_ENABLE=llvmpipe): PoCL, rusticl and Clover
 * with no device.  Every device is listed and picked by its P:D, by a
 * substring of its platform, and by type and index; a platform with no
 * device is "not found" with the list of those there are.  Without a rusticl
 * device it checks nothing, unless RUSTICL_ENABLE is set and
 * LSTMCL_TEST_REQUIRE_RUSTICL=1 (the rusticl suite in CI). */
START_TEST(three_platforms)
{
    const char *require = getenv("LSTMCL_TEST_REQUIRE_RUSTICL");
    long pocl = -1, rust = -1;
    size_t k, count = 0;
    char sel[64], buf[24];
    lstmcl_context *ctx = NULL;
    lstmcl_status st;
    cl_platform_id plats[16];
    cl_uint np = 0, p, empty = 99;

    need_devices();
    for (k = 0; k < nreal; k++) {
        if (strstr(real[k].platform_name, "Portable Computing Language") && pocl < 0)
            pocl = (long)k;
        if (!strcmp(real[k].platform_name, "rusticl") && rust < 0)
            rust = (long)k;
    }
    if (rust < 0) {
        /* the rusticl suite runs this with RUSTICL_ENABLE set; the main
         * suite, without it, sees rusticl's platform but no device */
        ck_assert_msg(!require || strcmp(require, "1") != 0 || !getenv("RUSTICL_ENABLE"),
                      "no rusticl device, with RUSTICL_ENABLE=%s and "
                      "LSTMCL_TEST_REQUIRE_RUSTICL=1", getenv("RUSTICL_ENABLE"));
        printf("three_platforms: no rusticl device here (RUSTICL_ENABLE=llvmpipe?): nothing "
               "checked\n");
        free(real);
        return;
    }
    ck_assert_msg(pocl >= 0, "rusticl is listed but PoCL is not");
    /* each by P:D, by its platform's name, and by type:index */
    for (k = 0; k < 2; k++) {
        const lstmcl_device_desc *d = &real[k == 0 ? pocl : rust];
        const char *by[3];
        char pd[32], typed[32];
        int b;
        snprintf(pd, sizeof pd, "%u:%u", d->platform_index, d->device_index);
        snprintf(typed, sizeof typed, "cpu:%ld", k == 0 ? 0L : 1L);
        by[0] = pd, by[1] = k == 0 ? "portable" : "rusticl", by[2] = typed;
        for (b = 0; b < 3; b++) {
            st = lstmcl_context_create(&ctx, by[b]);
            ck_assert_msg(st == LSTMCL_SUCCESS, "%s: %s", by[b], lstmcl_last_create_message());
            ck_assert_msg(strstr(lstmcl_context_device_name(ctx), d->device_name) != NULL,
                          "%s picked %s", by[b], lstmcl_context_device_name(ctx));
            lstmcl_context_destroy(ctx);
        }
    }
    /* llvmpipe runs work-items in SIMD lanes, as a GPU does: unless told
     * otherwise, rusticl's device takes the tiled path (docs/performance.md) */
    if (!getenv("LSTMCL_RECURRENT")) {
        st = lstmcl_context_create(&ctx, "rusticl");
        ck_assert_msg(st == LSTMCL_SUCCESS, "%s", lstmcl_last_create_message());
        ck_assert_str_eq(lstmcl_context_recurrent_path(ctx), "tiled");
        lstmcl_context_destroy(ctx);
    }
    ck_assert_int_eq(lstmcl_device_nth("cpu", 1, buf, sizeof buf, &count), LSTMCL_SUCCESS);
    ck_assert_uint_ge(count, 2);
    snprintf(sel, sizeof sel, "%u:%u", real[rust].platform_index, real[rust].device_index);
    ck_assert_str_eq(buf, sel);
    /* a platform without a device (Clover's, when present) */
    ck_assert_int_eq(clGetPlatformIDs(16, plats, &np), CL_SUCCESS);
    for (p = 0; p < np && p < 16; p++) {
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || nd == 0)
            empty = p;
    }
    if (empty != 99) {
        snprintf(sel, sizeof sel, "%u:0", empty);
        st = lstmcl_context_create(&ctx, sel);
        ck_assert_int_eq(st, LSTMCL_ERROR_DEVICE_NOT_FOUND);
        ck_assert_ptr_nonnull(strstr(lstmcl_last_create_message(), real[rust].device_name));
        printf("three_platforms: platform %u has no device: '%s' refused\n", empty, sel);
    }
    free(real);
}
END_TEST

START_TEST(environment_variable)
{
    lstmcl_context *ctx = NULL;
    lstmcl_status st;
    const char *old = getenv("LSTMCL_DEVICE");
    char *saved = old ? strdup(old) : NULL;

    need_devices();
    setenv("LSTMCL_DEVICE", "no-such-device-anywhere", 1);
    st = lstmcl_context_create(&ctx, NULL);
    ck_assert_int_eq(st, LSTMCL_ERROR_DEVICE_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(lstmcl_last_create_message(), "LSTMCL_DEVICE"));
    {
        char buf[24];
        ck_assert_int_eq(lstmcl_device_nth(NULL, 0, buf, sizeof buf, NULL),
                         LSTMCL_ERROR_DEVICE_NOT_FOUND);
        ck_assert_ptr_nonnull(strstr(lstmcl_last_create_message(), "LSTMCL_DEVICE"));
    }
    /* an explicit selector wins over the variable */
    st = lstmcl_context_create(&ctx, "all");
    ck_assert_msg(st == LSTMCL_SUCCESS, "%s", lstmcl_last_create_message());
    lstmcl_context_destroy(ctx);
    setenv("LSTMCL_DEVICE", "all:0", 1);
    st = lstmcl_context_create(&ctx, NULL);
    ck_assert_msg(st == LSTMCL_SUCCESS, "%s", lstmcl_last_create_message());
    ck_assert_ptr_nonnull(strstr(lstmcl_context_device_name(ctx), real[0].device_name));
    lstmcl_context_destroy(ctx);
    if (saved)
        setenv("LSTMCL_DEVICE", saved, 1);
    else
        unsetenv("LSTMCL_DEVICE");
    free(saved);
    free(real);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("select");
    TCase *tc = tcase_create("grammar");
    tcase_add_test(tc, parse_fields);
    tcase_add_test(tc, parse_errors);
    tcase_add_test(tc, match_fake_devices);
    tcase_add_test(tc, nth_fake_devices);
    suite_add_tcase(s, tc);

    tc = tcase_create("devices");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, real_selectors);
    tcase_add_test(tc, real_device_nth);
    tcase_add_test(tc, environment_variable);
    tcase_add_test(tc, three_platforms);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
