/* Files written whole; see atomicfile.h. */
#define _GNU_SOURCE /* O_TMPFILE, linkat */
#include "atomicfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int fail(char *err, size_t n, const char *what, const char *path, int e)
{
    if (err && n)
        snprintf(err, n, "%s %s: %s", what, path, strerror(e));
    return -1;
}

/* "dir/.base." + 6 random letters + ".tmp", for a name next to path. */
static char *sibling_name(const char *path)
{
    static atomic_uint counter;
    static const char letters[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = path + dirlen;
    size_t n = strlen(path) + 16;
    char *out = malloc(n);
    struct timespec ts;
    unsigned long long r;
    int i;
    char *p;

    if (!out)
        return NULL;
    clock_gettime(CLOCK_REALTIME, &ts);
    r = (unsigned long long)ts.tv_nsec * 2654435761u ^ (unsigned long long)getpid() << 20 ^
        (unsigned long long)atomic_fetch_add(&counter, 1) * 40503u ^ (unsigned long long)ts.tv_sec;
    memcpy(out, path, dirlen);
    p = out + dirlen;
    *p++ = '.';
    memcpy(p, base, strlen(base));
    p += strlen(base);
    *p++ = '.';
    for (i = 0; i < 6; i++, r /= 36)
        *p++ = letters[r % 36];
    memcpy(p, ".tmp", 5);
    return out;
}

static char *folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *d;
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    d = malloc((size_t)(slash - path) + 1);
    if (d) {
        memcpy(d, path, (size_t)(slash - path));
        d[slash - path] = '\0';
    }
    return d;
}

int af_open(af_file *a, const char *path, char *err, size_t errlen)
{
    struct stat sb;
    int fd = -1, k;
    char *folder;

    memset(a, 0, sizeof *a);
    if (!path || !*path)
        return fail(err, errlen, "cannot write", "an empty path", EINVAL);
    a->path = strdup(path);
    if (!a->path)
        return fail(err, errlen, "cannot write", path, ENOMEM);
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) {
            free(a->path), a->path = NULL;
            if (err && errlen)
                snprintf(err, errlen, "cannot write %s: it is a folder", path);
            return -1;
        }
        if (!S_ISREG(sb.st_mode)) {
            /* a FIFO or a device: written as it is, never replaced */
            fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
            if (fd < 0) {
                int e = errno;
                free(a->path), a->path = NULL;
                return fail(err, errlen, "cannot open", path, e);
            }
            a->in_place = 1;
            goto opened;
        }
    }
    folder = folder_of(path);
    if (!folder) {
        free(a->path), a->path = NULL;
        return fail(err, errlen, "cannot write", path, ENOMEM);
    }
#ifdef O_TMPFILE
    fd = open(folder, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
#endif
    free(folder);
    if (fd < 0) {
        /* no O_TMPFILE here: a new file of a random name, made, not opened */
        for (k = 0; k < 100 && fd < 0; k++) {
            free(a->tmp);
            a->tmp = sibling_name(path);
            if (!a->tmp)
                break;
            fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
            if (fd < 0 && errno != EEXIST)
                break;
        }
        if (fd < 0) {
            int e = a->tmp ? errno : ENOMEM;
            free(a->tmp), a->tmp = NULL;
            free(a->path), a->path = NULL;
            return fail(err, errlen, "cannot create a file beside", path, e);
        }
    }
opened:
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        int e = errno;
        close(fd);
        af_abort(a);
        return fail(err, errlen, "cannot write", path, e);
    }
    return 0;
}

void af_abort(af_file *a)
{
    if (a->f)
        fclose(a->f);
    if (a->tmp)
        unlink(a->tmp);
    free(a->tmp);
    free(a->path);
    memset(a, 0, sizeof *a);
}

int af_commit(af_file *a, char *err, size_t errlen)
{
    int ok, e = 0, k;
    char proc[64];
    char *name = NULL;

    if (!a->f)
        return fail(err, errlen, "cannot write", "a file never opened", EINVAL);
    ok = fflush(a->f) == 0 && !ferror(a->f);
    if (!ok)
        e = errno ? errno : EIO;
    if (ok && !a->in_place && fsync(fileno(a->f)) != 0 && errno != EINVAL && errno != EROFS) {
        ok = 0;
        e = errno;
    }
    if (ok && !a->in_place && !a->tmp) {
        /* the unnamed file gets a name of its own, then PATH's */
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fileno(a->f));
        e = EEXIST;
        for (k = 0; k < 100 && e == EEXIST; k++) {
            free(name);
            name = sibling_name(a->path);
            if (!name) {
                e = ENOMEM;
                break;
            }
            e = linkat(AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW) == 0 ? 0 : errno;
        }
        if (e == 0) {
            a->tmp = name; /* renamed below, or removed by af_abort */
        } else {
            ok = 0;
            free(name);
        }
        name = NULL;
    }
    if (fclose(a->f) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    a->f = NULL;
    if (ok && a->tmp && rename(a->tmp, a->path) != 0) {
        ok = 0;
        e = errno;
    }
    if (ok && a->tmp) {
        free(a->tmp);
        a->tmp = NULL;
    }
    if (!ok)
        fail(err, errlen, "cannot write", a->path, e ? e : EIO);
    af_abort(a);
    return ok ? 0 : -1;
}

int af_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    int ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;
    if (ea && eb)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    if (ea || eb)
        return 0;
    {
        char *fa = folder_of(a), *fb = folder_of(b);
        const char *ba = strrchr(a, '/'), *bb = strrchr(b, '/');
        int same = 0;
        ba = ba ? ba + 1 : a;
        bb = bb ? bb + 1 : b;
        if (fa && fb && strcmp(ba, bb) == 0 && stat(fa, &sa) == 0 && stat(fb, &sb) == 0)
            same = sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
        free(fa);
        free(fb);
        return same;
    }
}
