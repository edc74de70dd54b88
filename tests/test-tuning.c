/* Tuning files: the parser (as untrusted input), file names, and how a
 * context finds and applies them. */
#define _POSIX_C_SOURCE 200809L
#include "../src/internal.h"
#include "../src/clblast_params.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int parse(const char *text, lstmcl_tuning *t, char *err)
{
    return lstmcl__tuning_parse(text, strlen(text), t, err, 256);
}

START_TEST(parse_good)
{
    lstmcl_tuning t;
    char err[256] = "";
    const char *text = "# comment\n\nlstmcl-tuning 1\r\n"
                       "device Portable Computing Language / cpu x  \n"
                       "kernel Xgemm KWG=16 MWG=128 # trailing comment\n"
                       "kernel GemmRoutine XGEMM_MIN_INDIRECT_SIZE=1\n"
                       "recurrent gemm\n"
                       "gemm onednn\n";
    ck_assert_msg(parse(text, &t, err) == 0, "%s", err);
    ck_assert_int_eq(t.gemm, LSTMCL_GEMM_ONEDNN);
    ck_assert_str_eq(t.device, "Portable Computing Language / cpu x");
    ck_assert_int_eq(t.nkernels, 2);
    ck_assert_str_eq(t.kernels[0].name, "Xgemm");
    ck_assert_int_eq(t.kernels[0].nparams, 2);
    ck_assert_str_eq(t.kernels[0].params[1].name, "MWG");
    ck_assert_uint_eq(t.kernels[0].params[1].value, 128);
    ck_assert_str_eq(t.kernels[1].params[0].name, "XGEMM_MIN_INDIRECT_SIZE");
    ck_assert_int_eq(t.recurrent, LSTMCL_PATH_GEMM);
    /* the shipped file parses */
    ck_assert_int_eq(lstmcl__tuning_parse(lstmcl__source_pocl_x86_64_tune,
                                          strlen(lstmcl__source_pocl_x86_64_tune), &t, err, 256),
                     0);
    ck_assert_str_eq(t.device, "Portable Computing Language / *");
    ck_assert_int_eq(t.recurrent, LSTMCL_PATH_FUSED);
    ck_assert_msg(parse("lstmcl-tuning 1\ndevice x\nrecurrent tiled\n", &t, err) == 0, "%s", err);
    ck_assert_int_eq(t.recurrent, LSTMCL_PATH_TILED);
    ck_assert_int_eq(t.gemm, 0); /* not said */
    ck_assert_msg(parse("lstmcl-tuning 1\ndevice x\ngemm clblast\n", &t, err) == 0, "%s", err);
    ck_assert_int_eq(t.gemm, LSTMCL_GEMM_CLBLAST);
}
END_TEST

START_TEST(parse_bad)
{
    static const struct {
        const char *text, *needle;
    } cases[] = {
        {"", "empty"},
        {"device x\n", "expected 'lstmcl-tuning 1'"},
        {"lstmcl-tuning 2\n", "expected 'lstmcl-tuning 1'"},
        {"lstmcl-tuning 1 extra\n", "expected 'lstmcl-tuning 1'"},
        {"lstmcl-tuning 1\n", "no 'device'"},
        {"lstmcl-tuning 1\ndevice x\nkernel\n", "kernel name"},
        {"lstmcl-tuning 1\ndevice x\nkernel Xgemm\n", "no parameters"},
        {"lstmcl-tuning 1\ndevice x\nkernel Xgemm KWG\n", "NAME=VALUE"},
        {"lstmcl-tuning 1\ndevice x\nkernel Xgemm KWG=\n", "NAME=VALUE"},
        {"lstmcl-tuning 1\ndevice x\nkernel Xgemm =3\n", "NAME=VALUE"},
        {"lstmcl-tuning 1\ndevice x\nkernel Xgemm KWG=-3\n", "must be a number"},
        {"lstmcl-tuning 1\ndevice x\nkernel Xgemm KWG=0x10\n", "must be a number"},
        {"lstmcl-tuning 1\ndevice x\nkernel Xgemm KWG=99999999\n", "above"},
        {"lstmcl-tuning 1\ndevice x\nkernel Xgemm KWG=99999999999999999999999\n", "NAME=VALUE"},
        {"lstmcl-tuning 1\ndevice x\nkernel X-gemm KWG=1\n", "kernel name"},
        {"lstmcl-tuning 1\ndevice x\nfrobnicate\n", "unknown directive"},
        {"lstmcl-tuning 1\ndevice\n", "device name"},
        {"lstmcl-tuning 1\ndevice x\nrecurrent\n", "'recurrent fused' or"},
        {"lstmcl-tuning 1\ndevice x\nrecurrent fast\n", "'recurrent fused' or"},
        {"lstmcl-tuning 1\ndevice x\nrecurrent gemm fused\n", "one word"},
        {"lstmcl-tuning 1\ndevice x\ngemm\n", "'gemm clblast' or 'gemm onednn'"},
        {"lstmcl-tuning 1\ndevice x\ngemm openblas\n", "'gemm clblast' or 'gemm onednn'"},
        {"lstmcl-tuning 1\ndevice x\ngemm onednnx\n", "'gemm clblast' or 'gemm onednn'"},
        {"lstmcl-tuning 1\ndevice x\ngemm onednn clblast\n", "one word after 'gemm'"},
    };
    lstmcl_tuning t;
    char err[256];
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        ck_assert_msg(parse(cases[i].text, &t, err) != 0, "case %zu parsed", i);
        ck_assert_msg(strstr(err, cases[i].needle) != NULL, "case %zu: '%s' lacks '%s'", i, err,
                      cases[i].needle);
    }
    /* NUL bytes, overlong lines, too many kernels and parameters */
    ck_assert_int_ne(lstmcl__tuning_parse("lstmcl-tuning 1\0", 16, &t, err, 256), 0);
    {
        char big[4096];
        int k;
        memset(big, 'a', sizeof big);
        memcpy(big, "lstmcl-tuning 1\ndevice ", 23);
        big[sizeof big - 1] = '\0';
        ck_assert_int_ne(parse(big, &t, err), 0);
        ck_assert_ptr_nonnull(strstr(err, "longer than"));
        strcpy(big, "lstmcl-tuning 1\ndevice x\n");
        for (k = 0; k < LSTMCL_TUNE_KERNELS_MAX + 1; k++)
            strcat(big, "kernel K A=1\n");
        ck_assert_int_ne(parse(big, &t, err), 0);
        ck_assert_ptr_nonnull(strstr(err, "more than"));
        strcpy(big, "lstmcl-tuning 1\ndevice x\nkernel K");
        for (k = 0; k < LSTMCL_TUNE_PARAMS_MAX + 1; k++)
            strcat(big, " A=1");
        ck_assert_int_ne(parse(big, &t, err), 0);
        ck_assert_ptr_nonnull(strstr(err, "more than"));
    }
}
END_TEST

START_TEST(file_names)
{
    char name[128];
    lstmcl__tuning_file_name("Portable Computing Language / pthread-skylake-avx512-AMD EPYC",
                             name, sizeof name);
    ck_assert_str_eq(name, "portable-computing-language-pthread-skylake-avx512-amd-epyc.tune");
    lstmcl__tuning_file_name("../../etc/passwd", name, sizeof name);
    ck_assert_ptr_null(strchr(name, '/'));
    ck_assert_ptr_null(strstr(name, ".."));
}
END_TEST

/* ------------------------------------------------------------ contexts */

static char dir[64];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static lstmcl_status create(lstmcl_context **ctx)
{
    return lstmcl_context_create(ctx, NULL);
}

START_TEST(context_finds_files)
{
    lstmcl_context *ctx = NULL;
    char path[1300], name[600];
    const char *good = "lstmcl-tuning 1\ndevice *\n"
                       "kernel Xgemm GEMMK=0 KREG=1 KWG=16 KWI=2 MDIMA=8 MDIMC=8 MWG=128 "
                       "NDIMB=8 NDIMC=8 NWG=128 SA=0 SB=0 STRM=0 STRN=0 VWM=8 VWN=8\n";

    tu_context(); /* skips without a device */
    tu_context_release(); /* holds settings of its own (overrides_are_restored) */
    strcpy(dir, "/tmp/lstmcl-tune-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    setenv("XDG_CACHE_HOME", dir, 1);
    setenv("LSTMCL_CACHE_DIR", "off", 1); /* no programs/ folder of its own in dir */
    unsetenv("LSTMCL_TUNING_FILE");
    unsetenv("LSTMCL_TUNING");

    /* no file: the shipped defaults on PoCL x86-64, else none */
    ck_assert_int_eq(create(&ctx), LSTMCL_SUCCESS);
    ck_assert(strstr(lstmcl_context_tuning(ctx), "shipped") ||
              strstr(lstmcl_context_tuning(ctx), "none"));
    lstmcl__tuning_file_name(lstmcl_context_device_name(ctx), name, sizeof name);
    lstmcl_context_destroy(ctx);

    /* the device's file in $XDG_CACHE_HOME/lstmcl */
    snprintf(path, sizeof path, "%s/lstmcl", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/lstmcl/%s", dir, name);
    write_file(path, good);
    ck_assert_int_eq(create(&ctx), LSTMCL_SUCCESS);
    ck_assert_str_eq(lstmcl_context_tuning(ctx), path);
    lstmcl_context_destroy(ctx);

    /* its measured per-step path is used, unless LSTMCL_RECURRENT says otherwise */
    write_file(path, "lstmcl-tuning 1\ndevice *\nrecurrent gemm\n");
    ck_assert_int_eq(create(&ctx), LSTMCL_SUCCESS);
    ck_assert_int_eq(ctx->path, LSTMCL_PATH_GEMM);
    lstmcl_context_destroy(ctx);
    write_file(path, "lstmcl-tuning 1\ndevice *\nrecurrent tiled\n");
    ck_assert_int_eq(create(&ctx), LSTMCL_SUCCESS);
    ck_assert_str_eq(lstmcl_context_recurrent_path(ctx), "tiled");
    lstmcl_context_destroy(ctx);
    write_file(path, "lstmcl-tuning 1\ndevice *\nrecurrent fused\n");
    ck_assert_int_eq(create(&ctx), LSTMCL_SUCCESS);
    ck_assert_int_eq(ctx->path, ctx->cpu ? LSTMCL_PATH_FUSED : LSTMCL_PATH_TILED);
    lstmcl_context_destroy(ctx);
    setenv("LSTMCL_RECURRENT", "gemm", 1);
    ck_assert_int_eq(create(&ctx), LSTMCL_SUCCESS);
    ck_assert_int_eq(ctx->path, LSTMCL_PATH_GEMM);
    lstmcl_context_destroy(ctx);
    unsetenv("LSTMCL_RECURRENT");
    /* the CPU-shaped fused kernels never reach a GPU from a file: seen as a
     * GPU, the same file is refused, unless LSTMCL_RECURRENT insists */
    setenv("LSTMCL_TEST_DEVICE_LIMITS", "gpu", 1);
    ck_assert_int_eq(create(&ctx), LSTMCL_ERROR_IO);
    ck_assert_ptr_nonnull(strstr(lstmcl_last_create_message(), "shaped for CPUs"));
    setenv("LSTMCL_RECURRENT", "fused", 1);
    ck_assert_int_eq(create(&ctx), LSTMCL_SUCCESS);
    ck_assert_int_eq(ctx->path, LSTMCL_PATH_FUSED);
    lstmcl_context_destroy(ctx);
    unsetenv("LSTMCL_RECURRENT");
    /* and a GPU gets no CPU parameters and no CPU path by default */
    unlink(path);
    ck_assert_int_eq(create(&ctx), LSTMCL_SUCCESS);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_tuning(ctx), "none"));
    ck_assert_int_eq(ctx->path, LSTMCL_PATH_TILED);
    lstmcl_context_destroy(ctx);
    unsetenv("LSTMCL_TEST_DEVICE_LIMITS");

    /* where the GEMMs run: the file's measurement, unless LSTMCL_GEMM says
     * otherwise; a file saying oneDNN where it cannot run leaves CLBlast */
    {
        const char *avail;
        write_file(path, "lstmcl-tuning 1\ndevice *\ngemm clblast\n");
        ck_assert_int_eq(create(&ctx), LSTMCL_SUCCESS);
        ck_assert_str_eq(lstmcl_context_gemm(ctx), "clblast");
        /* oneDNN can run on a CPU device whose memory is the host's */
        avail = lstmcl__onednn_built() && ctx->cpu && ctx->host_unified ? "onednn" : "clblast";
        lstmcl_context_destroy(ctx);
        setenv("LSTMCL_GEMM", "auto", 1);
        ck_assert_int_eq(create(&ctx), LSTMCL_SUCCESS);
        ck_assert_str_eq(lstmcl_context_gemm(ctx), "clblast");
        lstmcl_context_destroy(ctx);
        if (!strcmp(avail, "onednn")) {
            setenv("LSTMCL_GEMM", "onednn", 1);
            ck_assert_int_eq(create(&ctx), LSTMCL_SUCCESS);
            ck_assert_str_eq(lstmcl_context_gemm(ctx), "onednn");
            lstmcl_context_destroy(ctx);
        }
        unsetenv("LSTMCL_GEMM");
        write_file(path, "lstmcl-tuning 1\ndevice *\ngemm onednn\n");
        ck_assert_int_eq(create(&ctx), LSTMCL_SUCCESS);
        ck_assert_str_eq(lstmcl_context_gemm(ctx), avail);
        lstmcl_context_destroy(ctx);
        setenv("LSTMCL_GEMM", "clblast", 1);
        ck_assert_int_eq(create(&ctx), LSTMCL_SUCCESS);
        ck_assert_str_eq(lstmcl_context_gemm(ctx), "clblast");
        lstmcl_context_destroy(ctx);
        unsetenv("LSTMCL_GEMM");
        /* seen as a GPU: CLBlast, and insisting on oneDNN is refused with why */
        setenv("LSTMCL_TEST_DEVICE_LIMITS", "gpu", 1);
        ck_assert_int_eq(create(&ctx), LSTMCL_SUCCESS);
        ck_assert_str_eq(lstmcl_context_gemm(ctx), "clblast");
        lstmcl_context_destroy(ctx);
        setenv("LSTMCL_GEMM", "onednn", 1);
        ck_assert_int_eq(create(&ctx), LSTMCL_ERROR_INVALID_ARGUMENT);
        ck_assert_ptr_nonnull(strstr(lstmcl_last_create_message(), "LSTMCL_GEMM=onednn, but"));
        unsetenv("LSTMCL_TEST_DEVICE_LIMITS");
        setenv("LSTMCL_GEMM", "openblas", 1);
        ck_assert_int_eq(create(&ctx), LSTMCL_ERROR_INVALID_ARGUMENT);
        ck_assert_ptr_nonnull(strstr(lstmcl_last_create_message(), "clblast, onednn or auto"));
        unsetenv("LSTMCL_GEMM");
        unlink(path);
        ck_assert_int_eq(create(&ctx), LSTMCL_SUCCESS);
        ck_assert_str_eq(lstmcl_context_gemm(ctx), avail); /* the default */
        lstmcl_context_destroy(ctx);
        ck_assert_str_eq(lstmcl_context_gemm(NULL), "");
    }

    /* a malformed file is an error naming it */
    write_file(path, "lstmcl-tuning 1\ndevice *\nkernel Xgemm KWG=banana\n");
    ck_assert_int_eq(create(&ctx), LSTMCL_ERROR_IO);
    ck_assert_ptr_nonnull(strstr(lstmcl_last_create_message(), path));
    ck_assert_ptr_nonnull(strstr(lstmcl_last_create_message(), "line 3"));

    /* a file for another device */
    write_file(path, "lstmcl-tuning 1\ndevice Some Vendor / Other GPU\n");
    ck_assert_int_eq(create(&ctx), LSTMCL_ERROR_IO);
    ck_assert_ptr_nonnull(strstr(lstmcl_last_create_message(), "Other GPU"));

    /* turned off */
    setenv("LSTMCL_TUNING", "off", 1);
    ck_assert_int_eq(create(&ctx), LSTMCL_SUCCESS);
    ck_assert_ptr_nonnull(strstr(lstmcl_context_tuning(ctx), "off"));
    lstmcl_context_destroy(ctx);
    setenv("LSTMCL_TUNING", "maybe", 1);
    ck_assert_int_eq(create(&ctx), LSTMCL_ERROR_INVALID_ARGUMENT);
    unsetenv("LSTMCL_TUNING");
    unlink(path);

    /* an explicit file, which must exist */
    snprintf(path, sizeof path, "%s/explicit.tune", dir);
    setenv("LSTMCL_TUNING_FILE", path, 1);
    ck_assert_int_eq(create(&ctx), LSTMCL_ERROR_IO);
    ck_assert_ptr_nonnull(strstr(lstmcl_last_create_message(), "LSTMCL_TUNING_FILE"));
    write_file(path, good);
    ck_assert_int_eq(create(&ctx), LSTMCL_SUCCESS);
    ck_assert_str_eq(lstmcl_context_tuning(ctx), path);
    lstmcl_context_destroy(ctx);
    unlink(path);
    unsetenv("LSTMCL_TUNING_FILE");
    snprintf(path, sizeof path, "%s/lstmcl", dir);
    rmdir(path);
    rmdir(dir);
    unsetenv("LSTMCL_CACHE_DIR");
}
END_TEST

/* The value of parameter `name` of CLBlast's kernel on ctx's device. */
static size_t clblast_param(lstmcl_context *ctx, const char *kernel, const char *name)
{
    char names[LSTMCL_TUNE_PARAMS_MAX][LSTMCL_CLBLAST_NAME_MAX + 1];
    size_t values[LSTMCL_TUNE_PARAMS_MAX], n = 0, i;
    ck_assert_int_eq(lstmcl__clblast_retrieve(ctx->device, kernel, LSTMCL_TUNE_PARAMS_MAX, names,
                                              values, &n),
                     0);
    for (i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return values[i];
    ck_abort_msg("CLBlast's %s has no parameter %s", kernel, name);
    return 0;
}

/* CLBlast's parameters are per process: a context with other settings puts
 * CLBlast's own back where they no longer apply, and is refused while a
 * live context uses the old ones. */
START_TEST(overrides_are_restored)
{
    lstmcl_context *a = NULL, *b = NULL;
    size_t own_mwg, own_kwg, own_min;
    int shipped;
    char file[128];
    FILE *f;

    unsetenv("LSTMCL_TUNING_FILE");
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/nonexistent-lstmcl-test", 1);
    /* the first context of this process: CLBlast's own parameters */
    setenv("LSTMCL_TUNING", "off", 1);
    if (create(&a) == LSTMCL_ERROR_NO_DEVICE)
        tu_no_device(lstmcl_last_create_message());
    ck_assert_msg(a != NULL, "%s", lstmcl_last_create_message());
    own_mwg = clblast_param(a, "Xgemm", "MWG");
    own_kwg = clblast_param(a, "Xgemm", "KWG");
    own_min = clblast_param(a, "GemmRoutine", "XGEMM_MIN_INDIRECT_SIZE");
    lstmcl_context_destroy(a);

    /* the default: on PoCL x86-64 the shipped parameters */
    unsetenv("LSTMCL_TUNING");
    ck_assert_int_eq(create(&a), LSTMCL_SUCCESS);
    shipped = strstr(lstmcl_context_tuning(a), "shipped") != NULL;
    if (shipped) {
        ck_assert_uint_eq(clblast_param(a, "Xgemm", "MWG"), 128);
        ck_assert_uint_eq(clblast_param(a, "GemmRoutine", "XGEMM_MIN_INDIRECT_SIZE"), 1);
        /* other settings while it lives: refused, saying why */
        setenv("LSTMCL_TUNING", "off", 1);
        ck_assert_int_eq(create(&b), LSTMCL_ERROR_CONFLICT);
        ck_assert_ptr_null(b);
        ck_assert_ptr_nonnull(strstr(lstmcl_last_create_message(), "destroy"));
        unsetenv("LSTMCL_TUNING");
        /* the same settings are fine */
        ck_assert_int_eq(create(&b), LSTMCL_SUCCESS);
        lstmcl_context_destroy(b);
    }
    lstmcl_context_destroy(a);

    /* once it is gone, LSTMCL_TUNING=off means CLBlast's own again */
    setenv("LSTMCL_TUNING", "off", 1);
    ck_assert_int_eq(create(&b), LSTMCL_SUCCESS);
    ck_assert_uint_eq(clblast_param(b, "Xgemm", "MWG"), own_mwg);
    ck_assert_uint_eq(clblast_param(b, "Xgemm", "KWG"), own_kwg);
    ck_assert_uint_eq(clblast_param(b, "GemmRoutine", "XGEMM_MIN_INDIRECT_SIZE"), own_min);
    lstmcl_context_destroy(b);
    unsetenv("LSTMCL_TUNING");

    /* a file that sets Xgemm alone, after one that set GemmRoutine too */
    if (shipped) {
        ck_assert_int_eq(create(&a), LSTMCL_SUCCESS);
        lstmcl_context_destroy(a);
    }
    snprintf(file, sizeof file, "/tmp/lstmcl-restore-%ld.tune", (long)getpid());
    f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    fputs("lstmcl-tuning 1\ndevice *\nkernel Xgemm GEMMK=0 KREG=1 KWG=32 KWI=2 MDIMA=8 "
          "MDIMC=8 MWG=64 NDIMB=8 NDIMC=8 NWG=64 SA=0 SB=0 STRM=0 STRN=0 VWM=4 VWN=4\n",
          f);
    fclose(f);
    setenv("LSTMCL_TUNING_FILE", file, 1);
    ck_assert_int_eq(create(&b), LSTMCL_SUCCESS);
    ck_assert_uint_eq(clblast_param(b, "Xgemm", "MWG"), 64);
    ck_assert_uint_eq(clblast_param(b, "GemmRoutine", "XGEMM_MIN_INDIRECT_SIZE"), own_min);
    lstmcl_context_destroy(b);
    unsetenv("LSTMCL_TUNING_FILE");
    unlink(file);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tuning");
    TCase *tc = tcase_create("parser");
    tcase_add_test(tc, parse_good);
    tcase_add_test(tc, parse_bad);
    tcase_add_test(tc, file_names);
    suite_add_tcase(s, tc);
    tc = tcase_create("contexts");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, overrides_are_restored);
    tcase_add_test(tc, context_finds_files);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
