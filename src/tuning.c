/* Tuning files: CLBlast parameters per device, applied with
 * CLBlastOverrideParameters when a context is created.
 *
 * Format (text, one directive per line, '#' starts a comment):
 *   lstmcl-tuning 1                      first directive: format and version
 *   device PATTERN                       "platform / device" it was made for: a
 *                                        shell pattern (fnmatch: *, ?, [...])
 *   kernel KERNEL NAME=VALUE ...         CLBlast kernel and its parameters
 *   recurrent fused|gemm|tiled           the per-step path measured fastest
 *   gemm clblast|onednn                  where the GEMMs ran fastest: CLBlast, or
 *                                        oneDNN's sgemm on the host (CPU devices)
 * Files are parsed as untrusted input: every limit is checked, and anything
 * unexpected rejects the whole file.
 *
 * CLBlast keeps parameter overrides per device for the whole process, and
 * its C API cannot undo them.  lstmcl records, per device, the settings in
 * effect and how many live contexts use them.  A context with other
 * settings waits for none: if no live context uses the old ones, CLBlast's
 * own parameters (read before lstmcl first overrode them) are put back
 * where the new settings leave a kernel alone, and the new ones applied; if
 * one does, creation fails with LSTMCL_ERROR_CONFLICT. */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
#include "clblast_params.h"

#include <clblast_c.h>
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_name(const char *s, size_t len)
{
    size_t i;
    if (len == 0 || len > LSTMCL_TUNE_NAME_MAX)
        return 0;
    for (i = 0; i < len; i++)
        if (!(isupper((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_' ||
              islower((unsigned char)s[i])))
            return 0;
    return 1;
}

/* Next space-separated word of *p (which advances); its length, 0 at the end. */
static size_t word(const char **p, const char **start)
{
    const char *s = *p;
    size_t n = 0;
    while (*s == ' ' || *s == '\t')
        s++;
    *start = s;
    while (s[n] && s[n] != ' ' && s[n] != '\t')
        n++;
    *p = s + n;
    return n;
}

int lstmcl__tuning_parse(const char *text, size_t len, lstmcl_tuning *out, char *err,
                         size_t errlen)
{
    size_t pos = 0, lineno = 0;
    int have_header = 0;
    memset(out, 0, sizeof *out);
    if (memchr(text, '\0', len)) {
        snprintf(err, errlen, "contains a NUL byte");
        return -1;
    }
    while (pos < len) {
        char line[LSTMCL_TUNE_LINE_MAX + 1];
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        const char *p, *w;
        size_t wl;
        char *hash;

        lineno++;
        if (n > LSTMCL_TUNE_LINE_MAX) {
            snprintf(err, errlen, "line %zu is longer than %d characters", lineno,
                     LSTMCL_TUNE_LINE_MAX);
            return -1;
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos += n + (nl ? 1 : 0);
        if (n && line[n - 1] == '\r')
            line[n - 1] = '\0';
        hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        p = line;
        wl = word(&p, &w);
        if (wl == 0)
            continue;
        if (!have_header) {
            const char *v;
            size_t vl;
            vl = (wl == 13 && !strncmp(w, "lstmcl-tuning", 13)) ? word(&p, &v) : 0;
            if (vl != 1 || v[0] != '1' || word(&p, &w) != 0) {
                snprintf(err, errlen, "line %zu: expected 'lstmcl-tuning 1' first", lineno);
                return -1;
            }
            have_header = 1;
        } else if (wl == 6 && !strncmp(w, "device", 6)) {
            while (*p == ' ' || *p == '\t')
                p++;
            if (!*p || strlen(p) >= sizeof out->device) {
                snprintf(err, errlen, "line %zu: a device name of 1 to %zu characters expected",
                         lineno, sizeof out->device - 1);
                return -1;
            }
            strcpy(out->device, p);
            while (*out->device && (out->device[strlen(out->device) - 1] == ' ' ||
                                    out->device[strlen(out->device) - 1] == '\t'))
                out->device[strlen(out->device) - 1] = '\0';
        } else if (wl == 9 && !strncmp(w, "recurrent", 9)) {
            wl = word(&p, &w);
            if (wl == 5 && !strncmp(w, "fused", 5))
                out->recurrent = LSTMCL_PATH_FUSED;
            else if (wl == 4 && !strncmp(w, "gemm", 4))
                out->recurrent = LSTMCL_PATH_GEMM;
            else if (wl == 5 && !strncmp(w, "tiled", 5))
                out->recurrent = LSTMCL_PATH_TILED;
            else {
                snprintf(err, errlen,
                         "line %zu: 'recurrent fused' or 'recurrent gemm' or 'recurrent tiled' "
                         "expected",
                         lineno);
                return -1;
            }
            if (word(&p, &w) != 0) {
                snprintf(err, errlen, "line %zu: one word after 'recurrent'", lineno);
                return -1;
            }
        } else if (wl == 4 && !strncmp(w, "gemm", 4)) {
            wl = word(&p, &w);
            if (wl == 7 && !strncmp(w, "clblast", 7))
                out->gemm = LSTMCL_GEMM_CLBLAST;
            else if (wl == 6 && !strncmp(w, "onednn", 6))
                out->gemm = LSTMCL_GEMM_ONEDNN;
            else {
                snprintf(err, errlen, "line %zu: 'gemm clblast' or 'gemm onednn' expected",
                         lineno);
                return -1;
            }
            if (word(&p, &w) != 0) {
                snprintf(err, errlen, "line %zu: one word after 'gemm'", lineno);
                return -1;
            }
        } else if (wl == 6 && !strncmp(w, "kernel", 6)) {
            lstmcl_tuning_kernel *k;
            if (out->nkernels == LSTMCL_TUNE_KERNELS_MAX) {
                snprintf(err, errlen, "line %zu: more than %d kernels", lineno,
                         LSTMCL_TUNE_KERNELS_MAX);
                return -1;
            }
            k = &out->kernels[out->nkernels];
            wl = word(&p, &w);
            if (!is_name(w, wl)) {
                snprintf(err, errlen, "line %zu: a kernel name expected", lineno);
                return -1;
            }
            memcpy(k->name, w, wl);
            k->name[wl] = '\0';
            while ((wl = word(&p, &w)) != 0) {
                const char *eq = memchr(w, '=', wl);
                char num[16];
                size_t nl2, vl, i;
                char *end;
                unsigned long v;
                if (k->nparams == LSTMCL_TUNE_PARAMS_MAX) {
                    snprintf(err, errlen, "line %zu: more than %d parameters", lineno,
                             LSTMCL_TUNE_PARAMS_MAX);
                    return -1;
                }
                nl2 = eq ? (size_t)(eq - w) : 0;
                vl = eq ? wl - nl2 - 1 : 0;
                if (!eq || !is_name(w, nl2) || vl == 0 || vl >= sizeof num) {
                    snprintf(err, errlen, "line %zu: NAME=VALUE expected", lineno);
                    return -1;
                }
                memcpy(num, eq + 1, vl);
                num[vl] = '\0';
                for (i = 0; i < vl; i++)
                    if (!isdigit((unsigned char)num[i])) {
                        snprintf(err, errlen, "line %zu: the value of a parameter must be a "
                                              "number", lineno);
                        return -1;
                    }
                errno = 0;
                v = strtoul(num, &end, 10);
                if (errno || v > LSTMCL_TUNE_VALUE_MAX) {
                    snprintf(err, errlen, "line %zu: a value above %d", lineno,
                             LSTMCL_TUNE_VALUE_MAX);
                    return -1;
                }
                memcpy(k->params[k->nparams].name, w, nl2);
                k->params[k->nparams].name[nl2] = '\0';
                k->params[k->nparams].value = v;
                k->nparams++;
            }
            if (k->nparams == 0) {
                snprintf(err, errlen, "line %zu: kernel %s has no parameters", lineno, k->name);
                return -1;
            }
            out->nkernels++;
        } else {
            snprintf(err, errlen, "line %zu: unknown directive", lineno);
            return -1;
        }
    }
    if (!have_header) {
        snprintf(err, errlen, "empty: no 'lstmcl-tuning 1' line");
        return -1;
    }
    if (!out->device[0]) {
        snprintf(err, errlen, "no 'device' line");
        return -1;
    }
    return 0;
}

/* $XDG_CACHE_HOME/lstmcl, else $HOME/.cache/lstmcl; -1 if neither is set. */
int lstmcl__tuning_dir(char *out, size_t cap)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(out, cap, "%s/lstmcl", xdg);
    else if (home && *home)
        n = snprintf(out, cap, "%s/.cache/lstmcl", home);
    else
        return -1;
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* A file name for a device: its "platform / device" with anything but
 * letters and digits turned into '-'. */
void lstmcl__tuning_file_name(const char *device_name, char *out, size_t cap)
{
    size_t i, o = 0;
    for (i = 0; device_name[i] && o + 6 < cap; i++) {
        char c = device_name[i];
        char m = isalnum((unsigned char)c) ? (char)tolower((unsigned char)c) : '-';
        if (m == '-' && o > 0 && out[o - 1] == '-')
            continue;
        out[o++] = m;
    }
    out[o] = '\0';
    strcat(out, ".tune");
}

/* ------------------------------------------------ CLBlast's overrides */

#define HELD_DEVICES 64

typedef struct {
    char name[LSTMCL_TUNE_NAME_MAX + 1];
    size_t n;
    char names[LSTMCL_TUNE_PARAMS_MAX][LSTMCL_CLBLAST_NAME_MAX + 1];
    size_t values[LSTMCL_TUNE_PARAMS_MAX];
} saved_kernel;

/* What lstmcl has told CLBlast for one device. */
typedef struct {
    cl_device_id device;
    int users;                 /* live contexts holding these settings */
    lstmcl_tuning applied;     /* its kernel lines (nkernels 0: CLBlast's own) */
    char origin[600];          /* where they came from, for messages */
    int nsaved;
    saved_kernel saved[LSTMCL_TUNE_KERNELS_MAX]; /* CLBlast's own, before the first override */
} held_device;

static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
static held_device held[HELD_DEVICES];
static int nheld;

static held_device *held_for(cl_device_id device)
{
    int i;
    for (i = 0; i < nheld; i++)
        if (held[i].device == device)
            return &held[i];
    if (nheld == HELD_DEVICES)
        return NULL;
    memset(&held[nheld], 0, sizeof held[nheld]);
    held[nheld].device = device;
    return &held[nheld++];
}

static int same_kernels(const lstmcl_tuning *a, const lstmcl_tuning *b)
{
    int i, j;
    if (a->nkernels != b->nkernels)
        return 0;
    for (i = 0; i < a->nkernels; i++) {
        const lstmcl_tuning_kernel *x = &a->kernels[i], *y = &b->kernels[i];
        if (strcmp(x->name, y->name) != 0 || x->nparams != y->nparams)
            return 0;
        for (j = 0; j < x->nparams; j++)
            if (strcmp(x->params[j].name, y->params[j].name) != 0 ||
                x->params[j].value != y->params[j].value)
                return 0;
    }
    return 1;
}

static const lstmcl_tuning_kernel *find_kernel(const lstmcl_tuning *t, const char *name)
{
    int i;
    for (i = 0; i < t->nkernels; i++)
        if (strcmp(t->kernels[i].name, name) == 0)
            return &t->kernels[i];
    return NULL;
}

static CLBlastStatusCode override(cl_device_id device, const char *kernel, size_t n,
                                  const char **names, const size_t *values)
{
    if (lstmcl__inject())
        return CLBlastInvalidOverrideKernel;
    return CLBlastOverrideParameters(device, kernel, CLBlastPrecisionSingle, n, names, values);
}

/* Under held_lock: makes CLBlast's parameters for h's device those of t. */
static lstmcl_status switch_to(lstmcl_context *ctx, held_device *h, const lstmcl_tuning *t,
                               const char *origin)
{
    const char *names[LSTMCL_TUNE_PARAMS_MAX];
    size_t values[LSTMCL_TUNE_PARAMS_MAX];
    CLBlastStatusCode s;
    int i, j;

    /* CLBlast's own parameters back where t leaves a kernel alone */
    for (i = 0; i < h->nsaved; i++) {
        const saved_kernel *k = &h->saved[i];
        if (find_kernel(t, k->name) || !find_kernel(&h->applied, k->name))
            continue;
        for (j = 0; j < (int)k->n; j++)
            names[j] = k->names[j];
        s = override(ctx->device, k->name, k->n, names, k->values);
        if (s != CLBlastSuccess)
            return lstmcl__fail(ctx, LSTMCL_ERROR_CLBLAST,
                                "restoring CLBlast's own parameters of kernel %s failed (status "
                                "%d)",
                                k->name, (int)s);
    }
    for (i = 0; i < t->nkernels; i++) {
        const lstmcl_tuning_kernel *k = &t->kernels[i];
        int have = 0;
        for (j = 0; j < h->nsaved; j++)
            have |= strcmp(h->saved[j].name, k->name) == 0;
        if (!have) { /* read CLBlast's own first, to put them back later */
            saved_kernel *sk = &h->saved[h->nsaved];
            int r = h->nsaved == LSTMCL_TUNE_KERNELS_MAX
                        ? -1
                        : lstmcl__clblast_retrieve(ctx->device, k->name, LSTMCL_TUNE_PARAMS_MAX,
                                                   sk->names, sk->values, &sk->n);
            if (r != 0)
                return lstmcl__fail(ctx, LSTMCL_ERROR_CLBLAST,
                                    "tuning %s: CLBlast does not know kernel %s (status %d)",
                                    origin, k->name, r);
            snprintf(sk->name, sizeof sk->name, "%s", k->name);
            h->nsaved++;
        }
        for (j = 0; j < k->nparams; j++) {
            names[j] = k->params[j].name;
            values[j] = k->params[j].value;
        }
        s = override(ctx->device, k->name, (size_t)k->nparams, names, values);
        if (s != CLBlastSuccess)
            return lstmcl__fail(ctx, LSTMCL_ERROR_CLBLAST,
                                "tuning %s: CLBlast refused the parameters of kernel %s "
                                "(status %d)",
                                origin, k->name, (int)s);
    }
    h->applied = *t;
    snprintf(h->origin, sizeof h->origin, "%s", origin);
    return LSTMCL_SUCCESS;
}

/* Takes a use of t's CLBlast parameters for the context's device. */
static lstmcl_status hold(lstmcl_context *ctx, const lstmcl_tuning *t, const char *origin)
{
    held_device *h;
    lstmcl_status st = LSTMCL_SUCCESS;

    pthread_mutex_lock(&held_lock);
    h = held_for(ctx->device);
    if (!h) {
        st = lstmcl__fail(ctx, LSTMCL_ERROR_OUT_OF_HOST_MEMORY,
                          "more than %d devices with CLBlast settings in one process",
                          HELD_DEVICES);
    } else if (!same_kernels(&h->applied, t)) {
        if (h->users > 0)
            st = lstmcl__fail(ctx, LSTMCL_ERROR_CONFLICT,
                              "CLBlast's GEMM parameters hold for the whole process, and %d live "
                              "lstmcl context%s on %s use%s those of %s, not those of %s: "
                              "destroy %s first, or give every context the same tuning",
                              h->users, h->users > 1 ? "s" : "", ctx->device_name,
                              h->users > 1 ? "" : "s", h->origin, origin,
                              h->users > 1 ? "them" : "it");
        else
            st = switch_to(ctx, h, t, origin);
    }
    if (st == LSTMCL_SUCCESS) {
        h->users++;
        ctx->tuning_held = 1;
    }
    pthread_mutex_unlock(&held_lock);
    return st;
}

void lstmcl__tuning_release(lstmcl_context *ctx)
{
    held_device *h;
    if (!ctx->tuning_held)
        return;
    pthread_mutex_lock(&held_lock);
    h = held_for(ctx->device);
    if (h && h->users > 0)
        h->users--;
    pthread_mutex_unlock(&held_lock);
    ctx->tuning_held = 0;
}

static lstmcl_status apply(lstmcl_context *ctx, const lstmcl_tuning *t, const char *origin)
{
    if (t->recurrent && !ctx->path_forced) {
        if (t->recurrent == LSTMCL_PATH_FUSED && !ctx->cpu)
            return lstmcl__fail(ctx, LSTMCL_ERROR_IO,
                                "tuning %s says 'recurrent fused', but the fused kernels are "
                                "shaped for CPUs and %s is not one (set LSTMCL_RECURRENT=fused "
                                "to insist)",
                                origin, ctx->device_name);
        ctx->path = (lstmcl_path)t->recurrent;
    }
    /* a file made where oneDNN ran may meet a build or device without it:
     * CLBlast then, as lstmcl_context_gemm tells */
    if (t->gemm && !ctx->gemm_forced &&
        (t->gemm == LSTMCL_GEMM_CLBLAST || !lstmcl__gemm_unavailable(ctx)))
        ctx->gemm = (lstmcl_gemm_backend)t->gemm;
    return hold(ctx, t, origin);
}

static lstmcl_status read_file(lstmcl_context *ctx, const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 4096, n = 0;
    char *buf;
    *text = NULL;
    if (!f)
        return LSTMCL_SUCCESS; /* absent: nothing to apply */
    buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        if (cap >= 1 << 20) { /* a tuning file is a few lines */
            free(buf);
            fclose(f);
            return lstmcl__fail(ctx, LSTMCL_ERROR_IO, "tuning file %s is larger than 1 MiB",
                                path);
        }
        cap *= 2;
        {
            char *bigger = realloc(buf, cap);
            if (!bigger)
                free(buf);
            buf = bigger;
        }
    }
    if (!buf || ferror(f)) {
        free(buf);
        fclose(f);
        return lstmcl__fail(ctx, buf ? LSTMCL_ERROR_IO : LSTMCL_ERROR_OUT_OF_HOST_MEMORY,
                            "cannot read tuning file %s", path);
    }
    fclose(f);
    *text = buf;
    *len = n;
    return LSTMCL_SUCCESS;
}

static int is_pocl_x86_cpu(const lstmcl_context *ctx)
{
#if defined(__x86_64__) || defined(_M_X64)
    return ctx->cpu && strstr(ctx->device_name, "Portable Computing Language") == ctx->device_name;
#else
    (void)ctx;
    return 0;
#endif
}

lstmcl_status lstmcl__tuning_apply(lstmcl_context *ctx)
{
    const char *mode = getenv("LSTMCL_TUNING");
    char dir[4096], name[600], path[4800], err[256];
    const char *chosen = getenv("LSTMCL_TUNING_FILE");
    char *text = NULL;
    size_t len = 0;
    lstmcl_tuning t;
    lstmcl_status st;

    memset(&t, 0, sizeof t);
    snprintf(ctx->tuning, sizeof ctx->tuning, "none (CLBlast's own parameters)");
    if (mode && strcmp(mode, "off") == 0) {
        snprintf(ctx->tuning, sizeof ctx->tuning, "off (LSTMCL_TUNING=off)");
        return hold(ctx, &t, "LSTMCL_TUNING=off (CLBlast's own)");
    }
    if (mode && *mode && strcmp(mode, "on") != 0)
        return lstmcl__fail(ctx, LSTMCL_ERROR_INVALID_ARGUMENT,
                            "LSTMCL_TUNING='%s': use on or off", mode);
    if (chosen && *chosen) {
        snprintf(path, sizeof path, "%s", chosen);
    } else if (lstmcl__tuning_dir(dir, sizeof dir) == 0) {
        lstmcl__tuning_file_name(ctx->device_name, name, sizeof name);
        snprintf(path, sizeof path, "%s/%s", dir, name);
    } else {
        path[0] = '\0';
    }
    if (path[0]) {
        st = read_file(ctx, path, &text, &len);
        if (st != LSTMCL_SUCCESS)
            return st;
        if (!text && chosen && *chosen)
            return lstmcl__fail(ctx, LSTMCL_ERROR_IO,
                                "cannot open the tuning file %s (LSTMCL_TUNING_FILE)", path);
    }
    if (text) {
        int bad = lstmcl__tuning_parse(text, len, &t, err, sizeof err);
        free(text);
        if (bad)
            return lstmcl__fail(ctx, LSTMCL_ERROR_IO,
                                "tuning file %s is malformed: %s (delete it, or run "
                                "lstmcl-tune again)",
                                path, err);
        if (fnmatch(t.device, ctx->device_name, 0) != 0)
            return lstmcl__fail(ctx, LSTMCL_ERROR_IO,
                                "tuning file %s was made for '%s', not for '%s'", path, t.device,
                                ctx->device_name);
        st = apply(ctx, &t, path);
        if (st == LSTMCL_SUCCESS)
            snprintf(ctx->tuning, sizeof ctx->tuning, "%s", path);
        return st;
    }
    if (is_pocl_x86_cpu(ctx)) {
        if (lstmcl__tuning_parse(lstmcl__source_pocl_x86_64_tune,
                                 strlen(lstmcl__source_pocl_x86_64_tune), &t, err, sizeof err))
            return lstmcl__fail(ctx, LSTMCL_ERROR_IO, "shipped tuning is malformed: %s", err);
        if (fnmatch(t.device, ctx->device_name, 0) != 0) {
            memset(&t, 0, sizeof t);
            return hold(ctx, &t, "no tuning file (CLBlast's own)");
        }
        st = apply(ctx, &t, "the shipped tuning for PoCL on x86-64");
        if (st == LSTMCL_SUCCESS)
            snprintf(ctx->tuning, sizeof ctx->tuning, "shipped defaults for PoCL on x86-64");
        return st;
    }
    memset(&t, 0, sizeof t);
    return hold(ctx, &t, "no tuning file (CLBlast's own)");
}

const char *lstmcl_context_tuning(const lstmcl_context *ctx)
{
    return ctx ? ctx->tuning : "";
}
