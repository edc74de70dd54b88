/* The program-binary cache (src/progcache.c): a miss builds from source and
 * stores the entry, a hit loads it and computes the same bits; a corrupt,
 * truncated, foreign or unknown entry is never loaded but rebuilt; an
 * unwritable folder only costs the store; LSTMCL_CACHE_DIR=off writes
 * nothing; two processes filling the cache at once leave a good entry.
 *
 * test-progcache --make-context DIR   (used by the test itself) makes one
 * context with its cache in DIR and exits 0 if it could. */
#define _DEFAULT_SOURCE /* realpath, mkdtemp */
#include "lstmcl.h"
#include "testutil.h"

#include <dirent.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static char self[4096];

static void make_dir(char *tmpl)
{
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
}

/* The one entry in dir ("" when none; fails when there are more). */
static void entry_of(const char *dir, char *path, size_t cap)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    path[0] = '\0';
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        n++;
        snprintf(path, cap, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    ck_assert_msg(n <= 1, "%d files in %s: one entry expected", n, dir);
}

/* A context whose cache is dir; its program_cache text in out; one small
 * forward's h in h (N=2 T=3 D=4 H=5) when h is not NULL. */
static void context_in(const char *dir, char *out, size_t cap, float *h)
{
    lstmcl_context *ctx = NULL;
    lstmcl_status st;
    setenv("LSTMCL_CACHE_DIR", dir, 1);
    st = lstmcl_context_create(&ctx, NULL);
    unsetenv("LSTMCL_CACHE_DIR");
    if (st == LSTMCL_ERROR_NO_DEVICE)
        tu_no_device(lstmcl_last_create_message());
    ck_assert_msg(st == LSTMCL_SUCCESS, "%s", lstmcl_last_create_message());
    snprintf(out, cap, "%s", lstmcl_context_program_cache(ctx));
    if (h) {
        float x[2 * 3 * 4], h0[2 * 5], Wx[4 * 20], Wh[5 * 20], b[20];
        size_t i;
        for (i = 0; i < sizeof x / 4; i++) x[i] = (float)((int)(i * 7 % 11) - 5) / 5.0f;
        for (i = 0; i < sizeof h0 / 4; i++) h0[i] = (float)((int)(i % 3) - 1) / 2.0f;
        for (i = 0; i < sizeof Wx / 4; i++) Wx[i] = (float)((int)(i * 5 % 13) - 6) / 13.0f;
        for (i = 0; i < sizeof Wh / 4; i++) Wh[i] = (float)((int)(i * 3 % 7) - 3) / 9.0f;
        for (i = 0; i < sizeof b / 4; i++) b[i] = (float)((int)(i % 5) - 2) / 10.0f;
        ck_assert_int_eq(lstmcl_forward(ctx, 2, 3, 4, 5, x, h0, Wx, Wh, b, h, NULL),
                         LSTMCL_SUCCESS);
    }
    lstmcl_context_destroy(ctx);
}

static void rewrite(const char *path, long at, const void *bytes, size_t n, long truncate_to)
{
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    if (at >= 0) {
        ck_assert_int_eq(fseek(f, at, SEEK_SET), 0);
        ck_assert_int_eq(fwrite(bytes, 1, n, f), n);
    }
    fclose(f);
    if (truncate_to >= 0)
        ck_assert_int_eq(truncate(path, truncate_to), 0);
}

static long size_of(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

START_TEST(miss_then_hit_same_bits)
{
    char dir[] = "/tmp/lstmcl-pc-XXXXXX", entry[4400], what[1200];
    float h1[30], h2[30];
    make_dir(dir);
    context_in(dir, what, sizeof what, h1);
    printf("first: %s\n", what);
    ck_assert_msg(strstr(what, "miss (no entry)") && strstr(what, "stored in"), "%s", what);
    entry_of(dir, entry, sizeof entry);
    ck_assert_msg(entry[0] && size_of(entry) > 44, "no entry stored in %s", dir);
    context_in(dir, what, sizeof what, h2);
    printf("second: %s\n", what);
    ck_assert_msg(strncmp(what, "hit: ", 5) == 0 && strstr(what, entry), "%s", what);
    ck_assert(memcmp(h1, h2, sizeof h1) == 0);
    unlink(entry), rmdir(dir);
}
END_TEST

/* A bad entry: rejected with the reason, rebuilt, and good again after. */
static void bad_entry(const char *name, long at, const void *bytes, size_t n, long truncate_to,
                      const char *reason)
{
    char dir[] = "/tmp/lstmcl-pc-XXXXXX", entry[4400], what[1200];
    float h1[30], h2[30];
    long good;
    make_dir(dir);
    context_in(dir, what, sizeof what, h1);
    entry_of(dir, entry, sizeof entry);
    good = size_of(entry);
    rewrite(entry, at < 0 && at != -1 ? good + at : at, bytes, n,
            truncate_to == -2 ? good / 2 : truncate_to);
    context_in(dir, what, sizeof what, h2);
    printf("%s: %s\n", name, what);
    ck_assert_msg(strstr(what, reason) && strstr(what, "built from source") &&
                      strstr(what, "stored in"),
                  "%s entry: %s", name, what);
    ck_assert(memcmp(h1, h2, sizeof h1) == 0);
    ck_assert_int_eq(size_of(entry), good);
    context_in(dir, what, sizeof what, NULL);
    ck_assert_msg(strncmp(what, "hit: ", 5) == 0, "after the rebuild: %s", what);
    unlink(entry), rmdir(dir);
}

START_TEST(corrupt_entry)
{
    const unsigned char junk[4] = {0xde, 0xad, 0xbe, 0xef};
    bad_entry("corrupt", -100, junk, sizeof junk, -1, "checksum (corrupt)");
}
END_TEST

START_TEST(truncated_entry)
{
    bad_entry("truncated", -1, NULL, 0, -2, "truncated");
}
END_TEST

START_TEST(foreign_entry)
{
    const unsigned char other[4] = {1, 2, 3, 4};
    bad_entry("foreign", 14, other, sizeof other, -1, "its key differs");
}
END_TEST

START_TEST(unknown_format)
{
    const unsigned char v9[1] = {9};
    bad_entry("another format", 8, v9, 1, -1, "not of this format");
    bad_entry("not an entry", 0, "PNG!", 4, -1, "not of this format");
    bad_entry("too short", -1, NULL, 0, 20, "shorter than its header");
}
END_TEST

/* A folder that cannot be written: the program is built, the context works,
 * the text says why nothing was stored. */
START_TEST(unwritable_folder)
{
    char what[1200];
    float h[30];
    char dir[] = "/tmp/lstmcl-pc-XXXXXX", file[64];
    FILE *f;
    /* a regular file where a folder of the path must be (root may write in
     * any folder, so permissions alone would not stop it) */
    make_dir(dir);
    snprintf(file, sizeof file, "%s/file", dir);
    f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    strcat(file, "/cache");
    context_in(file, what, sizeof what, h);
    printf("unwritable: %s\n", what);
    ck_assert_msg(strstr(what, "built from source") && strstr(what, "not stored"), "%s", what);
    if (geteuid() != 0) { /* and a folder without write permission */
        char ro[] = "/tmp/lstmcl-pc-XXXXXX";
        make_dir(ro);
        chmod(ro, 0555);
        context_in(ro, what, sizeof what, h);
        printf("read-only: %s\n", what);
        ck_assert_msg(strstr(what, "not stored"), "%s", what);
        rmdir(ro);
    }
    snprintf(file, sizeof file, "%s/file", dir);
    unlink(file), rmdir(dir);
}
END_TEST

START_TEST(off_writes_nothing)
{
    char dir[] = "/tmp/lstmcl-pc-XXXXXX", entry[4400], what[1200], sub[64];
    const char *home = getenv("HOME"), *xdg = getenv("XDG_CACHE_HOME");
    char *old_home = home ? strdup(home) : NULL, *old_xdg = xdg ? strdup(xdg) : NULL;
    make_dir(dir);
    setenv("XDG_CACHE_HOME", dir, 1); /* the default folder would be under it */
    context_in("off", what, sizeof what, NULL);
    ck_assert_msg(strncmp(what, "off", 3) == 0, "%s", what);
    snprintf(sub, sizeof sub, "%s/lstmcl", dir);
    ck_assert_msg(access(sub, F_OK) != 0, "LSTMCL_CACHE_DIR=off made %s", sub);
    entry_of(dir, entry, sizeof entry);
    /* and without LSTMCL_CACHE_DIR the entry goes to $XDG_CACHE_HOME/lstmcl/programs,
     * where the driver keeps no cache of its own: PoCL with its cache off */
    setenv("POCL_KERNEL_CACHE", "0", 1);
    context_in("", what, sizeof what, NULL);
    unsetenv("POCL_KERNEL_CACHE");
    printf("default folder: %s\n", what);
    snprintf(sub, sizeof sub, "%s/lstmcl/programs", dir);
    ck_assert_msg(strstr(what, sub) != NULL, "%s", what);
    entry_of(sub, entry, sizeof entry);
    ck_assert(entry[0]);
    unlink(entry), rmdir(sub);
    snprintf(sub, sizeof sub, "%s/lstmcl", dir);
    rmdir(sub), rmdir(dir);
    if (old_xdg)
        setenv("XDG_CACHE_HOME", old_xdg, 1);
    else
        unsetenv("XDG_CACHE_HOME");
    free(old_home), free(old_xdg);
}
END_TEST

/* Without LSTMCL_CACHE_DIR, a driver that keeps compiled programs itself
 * (PoCL, Mesa, NVIDIA) is left to its own cache: nothing is written. */
START_TEST(default_leaves_drivers_cache)
{
    char dir[] = "/tmp/lstmcl-pc-XXXXXX", what[1200], sub[64];
    const char *xdg = getenv("XDG_CACHE_HOME");
    char *old_xdg = xdg ? strdup(xdg) : NULL;
    lstmcl_context *probe = NULL;
    int own;
    make_dir(dir);
    setenv("XDG_CACHE_HOME", dir, 1);
    unsetenv("POCL_KERNEL_CACHE");
    unsetenv("MESA_SHADER_CACHE_DISABLE");
    context_in("", what, sizeof what, NULL);
    printf("default: %s\n", what);
    ck_assert_int_eq(lstmcl_context_create(&probe, NULL), LSTMCL_SUCCESS);
    own = strstr(lstmcl_context_device_name(probe), "Portable Computing Language") ||
          strstr(lstmcl_context_device_name(probe), "rusticl");
    lstmcl_context_destroy(probe);
    snprintf(sub, sizeof sub, "%s/lstmcl", dir);
    if (own) {
        ck_assert_msg(strncmp(what, "not used: ", 10) == 0, "%s", what);
        ck_assert_msg(access(sub, F_OK) != 0, "the default made %s", sub);
    } else {
        char entry[4400], progs[80];
        ck_assert_msg(strstr(what, dir) != NULL, "%s", what);
        snprintf(progs, sizeof progs, "%s/programs", sub);
        entry_of(progs, entry, sizeof entry);
        unlink(entry), rmdir(progs), rmdir(sub);
    }
    rmdir(dir);
    if (old_xdg)
        setenv("XDG_CACHE_HOME", old_xdg, 1);
    else
        unsetenv("XDG_CACHE_HOME");
    free(old_xdg);
}
END_TEST

/* Two processes that both miss and both store, at once. */
START_TEST(two_processes_at_once)
{
    char dir[] = "/tmp/lstmcl-pc-XXXXXX", entry[4400], what[1200];
    char *args[2][4];
    pid_t pid[2];
    int k, status;
    make_dir(dir);
    for (k = 0; k < 2; k++) {
        args[k][0] = self, args[k][1] = "--make-context", args[k][2] = dir, args[k][3] = NULL;
        ck_assert_int_eq(posix_spawn(&pid[k], self, NULL, NULL, args[k], environ), 0);
    }
    for (k = 0; k < 2; k++) {
        ck_assert_int_eq(waitpid(pid[k], &status, 0), pid[k]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "process %d: status %d", k,
                      status);
    }
    entry_of(dir, entry, sizeof entry); /* one entry, no temporary file left */
    ck_assert(entry[0]);
    context_in(dir, what, sizeof what, NULL);
    printf("after two processes: %s\n", what);
    ck_assert_msg(strncmp(what, "hit: ", 5) == 0, "%s", what);
    unlink(entry), rmdir(dir);
}
END_TEST

int main(int argc, char **argv)
{
    Suite *s;
    TCase *tc;
    if (argc == 3 && !strcmp(argv[1], "--make-context")) {
        lstmcl_context *ctx = NULL;
        int ok;
        setenv("LSTMCL_CACHE_DIR", argv[2], 1);
        ok = lstmcl_context_create(&ctx, NULL) == LSTMCL_SUCCESS;
        if (ok)
            printf("process %ld: %s\n", (long)getpid(), lstmcl_context_program_cache(ctx));
        lstmcl_context_destroy(ctx);
        return ok ? 0 : 1;
    }
    if (!realpath("/proc/self/exe", self))
        snprintf(self, sizeof self, "%s", argv[0]);
    s = suite_create("progcache");
    tc = tcase_create("program-binary cache");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, miss_then_hit_same_bits);
    tcase_add_test(tc, corrupt_entry);
    tcase_add_test(tc, truncated_entry);
    tcase_add_test(tc, foreign_entry);
    tcase_add_test(tc, unknown_format);
    tcase_add_test(tc, unwritable_folder);
    tcase_add_test(tc, off_writes_nothing);
    tcase_add_test(tc, default_leaves_drivers_cache);
    tcase_add_test(tc, two_processes_at_once);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
