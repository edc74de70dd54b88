/* The program-binary cache: lstmcl's own OpenCL program, once built for a
 * device, is kept as the driver's binary (clGetProgramInfo(
 * CL_PROGRAM_BINARIES)) and loaded with clCreateProgramWithBinary by later
 * contexts, as MIOpen keeps its kernels.
 *
 * Where: $LSTMCL_CACHE_DIR, else $XDG_CACHE_HOME/lstmcl/programs, else
 * ~/.cache/lstmcl/programs; LSTMCL_CACHE_DIR=off disables it.  Without
 * LSTMCL_CACHE_DIR it is not used on drivers that keep compiled programs
 * themselves (PoCL, Mesa, NVIDIA: driver_cache below).  One file per
 * key, "<32 hex digits>.bin"; the key hashes the device, its platform and
 * driver versions, lstmcl's version, the kernels' source as built and the
 * build options.  A file holds
 *   "LSTMCLPB" | format u32 | key 16 bytes | binary length u64 |
 *   binary checksum u64 (FNV-1a) | the binary
 * (integers little-endian).  A file that is short, long, of another format,
 * of another key (a foreign entry under this name) or whose binary does not
 * match its checksum, or a binary the driver refuses, is never used: the
 * program is built from source and the entry written anew.  Entries are
 * written whole (src/atomicfile.h), so processes that fill the cache at
 * once each leave a complete file.  Nothing here is fatal: without a cache
 * the program is built from source. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
#include "atomicfile.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "LSTMCLPB"
#define FORMAT 1u
#define HEADER (8 + 4 + 16 + 8 + 8)
#define BINARY_MAX ((uint64_t)256 << 20)

typedef struct {
    uint64_t a, b;
} key128;

/* Two FNV-1a hashes with different offsets, over the same bytes. */
static void hash_bytes(key128 *k, const void *data, size_t n)
{
    const unsigned char *p = data;
    size_t i;
    for (i = 0; i < n; i++) {
        k->a = (k->a ^ p[i]) * 0x100000001b3ull;
        k->b = (k->b ^ p[i]) * 0x100000001b3ull;
    }
}

static void hash_text(key128 *k, const char *s)
{
    hash_bytes(k, s, strlen(s) + 1); /* the NUL separates fields */
}

static uint64_t checksum(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i;
    for (i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void put64(unsigned char *p, uint64_t v)
{
    int i;
    for (i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    int i;
    for (i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void device_text(lstmcl_context *ctx, cl_device_info what, char *out, size_t cap)
{
    out[0] = '\0';
    if (clGetDeviceInfo(ctx->device, what, cap - 1, out, NULL) != CL_SUCCESS)
        out[0] = '\0';
    out[cap - 1] = '\0';
}

/* mkdir -p of path's folders and path itself; 0 when it is a folder. */
static int make_folder(const char *path)
{
    char buf[4200];
    size_t i, n = strlen(path);
    struct stat sb;
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, path, n + 1);
    for (i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return -1;
            buf[i] = c;
        }
    }
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) ? 0 : -1;
}

static int env_is(const char *name, const char *a, const char *b)
{
    const char *v = getenv(name);
    return v && (!strcmp(v, a) || (b && !strcmp(v, b)));
}

/* The driver's own persistent cache of compiled programs, when it has one
 * on (NULL otherwise).  There lstmcl's cache is not used unless
 * LSTMCL_CACHE_DIR asks for it: measured on PoCL, storing the binary made
 * PoCL compile every kernel at once (7.1 s instead of 1.1 s for an empty
 * cache) and a hit saved nothing PoCL's own cache does not; on rusticl a
 * hit still compiles the SPIR-V it holds (3.4 s with Mesa's cache empty,
 * 3.1 s without lstmcl's). */
static const char *driver_cache(const lstmcl_context *ctx)
{
    const char *n = ctx->device_name;
    if (!strncmp(n, "Portable Computing Language /", 29) && !env_is("POCL_KERNEL_CACHE", "0", NULL))
        return "PoCL's kernel cache";
    if ((!strncmp(n, "rusticl /", 9) || !strncmp(n, "Clover /", 8)) &&
        !env_is("MESA_SHADER_CACHE_DISABLE", "true", "1"))
        return "Mesa's shader cache";
    if (!strncmp(n, "NVIDIA CUDA /", 13) && !env_is("CUDA_CACHE_DISABLE", "1", NULL))
        return "NVIDIA's compute cache";
    return NULL;
}

void lstmcl__progcache_key(lstmcl_context *ctx, const char *const *src, int nsrc,
                           const char *options)
{
    key128 k = {0xcbf29ce484222325ull, 0x84222325cbf29ce4ull};
    char text[1024], dir[4096];
    const char *env = getenv("LSTMCL_CACHE_DIR");
    int i, n;

    ctx->progcache_path[0] = '\0';
    if (env && !strcmp(env, "off")) {
        snprintf(ctx->program_cache, sizeof ctx->program_cache,
                 "off (LSTMCL_CACHE_DIR=off): built from source");
        return;
    }
    if (!env || !*env) {
        const char *own = driver_cache(ctx);
        if (own) {
            snprintf(ctx->program_cache, sizeof ctx->program_cache,
                     "not used: %s keeps compiled programs itself (LSTMCL_CACHE_DIR=DIR uses "
                     "lstmcl's too): built from source",
                     own);
            return;
        }
    }
    if (env && *env)
        n = snprintf(dir, sizeof dir, "%s", env);
    else if (lstmcl__tuning_dir(dir, sizeof dir - 16) == 0)
        n = (int)strlen(strcat(dir, "/programs"));
    else
        n = -1;
    if (n < 0 || (size_t)n >= sizeof dir - 40) {
        snprintf(ctx->program_cache, sizeof ctx->program_cache,
                 "none (no folder: set LSTMCL_CACHE_DIR or HOME): built from source");
        return;
    }
    hash_text(&k, "lstmcl program cache 1");
    hash_text(&k, lstmcl_version_string());
    hash_text(&k, ctx->device_name);
    device_text(ctx, CL_DEVICE_VENDOR, text, sizeof text);
    hash_text(&k, text);
    device_text(ctx, CL_DEVICE_VERSION, text, sizeof text);
    hash_text(&k, text);
    device_text(ctx, CL_DRIVER_VERSION, text, sizeof text);
    hash_text(&k, text);
    text[0] = '\0';
    clGetPlatformInfo(ctx->platform, CL_PLATFORM_VERSION, sizeof text - 1, text, NULL);
    text[sizeof text - 1] = '\0';
    hash_text(&k, text);
    hash_text(&k, options);
    for (i = 0; i < nsrc; i++)
        hash_text(&k, src[i]);
    ctx->progcache_key[0] = k.a, ctx->progcache_key[1] = k.b;
    snprintf(ctx->progcache_path, sizeof ctx->progcache_path, "%s/%016llx%016llx.bin", dir,
             (unsigned long long)k.a, (unsigned long long)k.b);
}

/* Why the entry at path cannot be used, or NULL (then *map, *maplen hold
 * the file mapped, its binary at *map + HEADER).  The file is mapped, not
 * read into the heap: entries are megabytes, written once, replaced by
 * rename and never rewritten in place, so the mapping cannot shrink. */
static const char *read_entry(lstmcl_context *ctx, const char *path, unsigned char **map,
                              size_t *maplen)
{
    const unsigned char *head;
    uint64_t n;
    struct stat sb;
    void *m;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    *map = NULL;
    if (fd < 0)
        return "no entry";
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < HEADER) {
        close(fd);
        return "the entry is shorter than its header";
    }
    if ((uint64_t)sb.st_size > HEADER + BINARY_MAX) {
        close(fd);
        return "the entry's length does not match its header (truncated?)";
    }
    m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return "the entry could not be read";
    head = m;
    if (memcmp(head, MAGIC, 8) != 0 || head[8] != FORMAT || head[9] || head[10] || head[11]) {
        munmap(m, (size_t)sb.st_size);
        return "the entry is not of this format";
    }
    if (get64(head + 12) != ctx->progcache_key[0] || get64(head + 20) != ctx->progcache_key[1]) {
        munmap(m, (size_t)sb.st_size);
        return "the entry is another device's or program's (its key differs)";
    }
    n = get64(head + 28);
    if (n == 0 || n > BINARY_MAX || (uint64_t)sb.st_size != HEADER + n) {
        munmap(m, (size_t)sb.st_size);
        return "the entry's length does not match its header (truncated?)";
    }
    if (checksum(head + HEADER, (size_t)n) != get64(head + 36)) {
        munmap(m, (size_t)sb.st_size);
        return "the entry's binary does not match its checksum (corrupt)";
    }
    *map = m, *maplen = (size_t)sb.st_size;
    return NULL;
}

cl_program lstmcl__progcache_load(lstmcl_context *ctx, const char *options)
{
    unsigned char *map;
    const unsigned char *bin;
    size_t maplen, len;
    const char *why;
    cl_program p;
    cl_int err, status = CL_SUCCESS;

    if (!ctx->progcache_path[0])
        return NULL;
    why = read_entry(ctx, ctx->progcache_path, &map, &maplen);
    if (why) {
        snprintf(ctx->program_cache, sizeof ctx->program_cache, "miss (%s): built from source",
                 why);
        return NULL;
    }
    bin = map + HEADER, len = maplen - HEADER;
    p = clCreateProgramWithBinary(ctx->clctx, 1, &ctx->device, &len, &bin, &status, &err);
    munmap(map, maplen); /* the program holds its own copy */
    if (err == CL_SUCCESS && status == CL_SUCCESS)
        err = clBuildProgram(p, 1, &ctx->device, options, NULL, NULL);
    if (err != CL_SUCCESS || status != CL_SUCCESS) {
        if (p)
            clReleaseProgram(p);
        snprintf(ctx->program_cache, sizeof ctx->program_cache,
                 "miss (the driver refused the entry's binary: %s): built from source",
                 lstmcl__cl_error_name(err != CL_SUCCESS ? err : status));
        return NULL;
    }
    snprintf(ctx->program_cache, sizeof ctx->program_cache, "hit: %.500s", ctx->progcache_path);
    return p;
}

void lstmcl__progcache_refused(lstmcl_context *ctx, const char *why)
{
    snprintf(ctx->program_cache, sizeof ctx->program_cache,
             "miss (the entry's program lacks %s): built from source", why);
}

void lstmcl__progcache_store(lstmcl_context *ctx, cl_program p)
{
    size_t len = 0;
    unsigned char *bin = NULL, head[HEADER];
    char dir[sizeof ctx->progcache_path], why[600], *slash;
    af_file out;
    char before[400];

    if (!ctx->progcache_path[0])
        return;
    snprintf(before, sizeof before, "%.399s", ctx->program_cache);
    if (!before[0])
        snprintf(before, sizeof before, "miss: built from source");
    if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof len, &len, NULL) != CL_SUCCESS ||
        len == 0 || len > BINARY_MAX || !(bin = malloc(len)) ||
        clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) != CL_SUCCESS) {
        free(bin);
        snprintf(ctx->program_cache, sizeof ctx->program_cache,
                 "%.300s; not stored (the driver gives no binary)", before);
        return;
    }
    snprintf(dir, sizeof dir, "%s", ctx->progcache_path);
    slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    if (make_folder(dir) != 0) {
        free(bin);
        snprintf(ctx->program_cache, sizeof ctx->program_cache,
                 "%.300s; not stored (cannot make the folder %.200s: %s)", before, dir,
                 strerror(errno));
        return;
    }
    memcpy(head, MAGIC, 8);
    head[8] = (unsigned char)FORMAT, head[9] = head[10] = head[11] = 0;
    put64(head + 12, ctx->progcache_key[0]);
    put64(head + 20, ctx->progcache_key[1]);
    put64(head + 28, len);
    put64(head + 36, checksum(bin, len));
    if (af_open(&out, ctx->progcache_path, why, sizeof why) != 0) {
        free(bin);
        snprintf(ctx->program_cache, sizeof ctx->program_cache, "%.300s; not stored (%.250s)",
                 before, why);
        return;
    }
    if (fwrite(head, 1, HEADER, out.f) != HEADER || fwrite(bin, 1, len, out.f) != len) {
        af_abort(&out);
        snprintf(ctx->program_cache, sizeof ctx->program_cache,
                 "%.300s; not stored (cannot write %.200s)", before, ctx->progcache_path);
    } else if (af_commit(&out, why, sizeof why) != 0) {
        snprintf(ctx->program_cache, sizeof ctx->program_cache, "%.300s; not stored (%.250s)",
                 before, why);
    } else {
        snprintf(ctx->program_cache, sizeof ctx->program_cache, "%.300s; stored in %.250s",
                 before, ctx->progcache_path);
    }
    free(bin);
}

const char *lstmcl_context_program_cache(const lstmcl_context *ctx)
{
    return ctx ? ctx->program_cache : "";
}
