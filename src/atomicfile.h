/* Files written whole, never half, and never through a planted link: shared
 * by the library (safetensors files) and the tools (.npy outputs,
 * checkpoints, tuning files, CSV and SVG).  Needs nothing of lstmcl's.
 *
 * A PATH that is a regular file, or absent, is written to a new unnamed file
 * in PATH's folder (O_TMPFILE; where the file system lacks it, a new file of
 * a random name made with O_CREAT|O_EXCL, which follows no link), then given
 * PATH's name by rename(), so that readers see the old file or the new one
 * and a kill leaves nothing behind (or, on the fallback, one hidden
 * ".NAME.XXXXXX.tmp").  A symbolic link at PATH is replaced, not followed.
 * A PATH that exists and is not a regular file (a FIFO, a terminal,
 * /dev/null, /dev/full) is written in place, never replaced; a folder is
 * refused. */
#ifndef LSTMCL_ATOMICFILE_H
#define LSTMCL_ATOMICFILE_H

#include <stddef.h>
#include <stdio.h>

typedef struct {
    FILE *f;        /* write here */
    char *path;     /* the name it gets */
    char *tmp;      /* the fallback's named temporary file, else NULL */
    int in_place;   /* PATH is not a regular file: written as it is */
} af_file;

/* Opens PATH for writing as above; 0, or -1 with a reason in err. */
int af_open(af_file *a, const char *path, char *err, size_t errlen);
/* Flushes, syncs and gives the file its name; 0, or -1 with a reason (then
 * the temporary file is gone and PATH is as it was).  Always closes. */
int af_commit(af_file *a, char *err, size_t errlen);
/* Closes and drops what was written (PATH is as it was). */
void af_abort(af_file *a);

/* 1 when paths a and b name the same file: the same device and inode when
 * both exist (through links), or, when neither does, the same name in the
 * same folder; else 0. */
int af_same_file(const char *a, const char *b);

#endif
