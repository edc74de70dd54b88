/* The device selector grammar (LSTMCL_DEVICE) and device enumeration.
 *
 * Up to three ':'-separated fields, applied left to right as filters over
 * every device of every platform, in platform order:
 *   - a type word (gpu, cpu, accelerator, all) keeps devices of that type;
 *   - a number keeps the device with that index among those left, except in
 *     the first of two or more fields, where it keeps the platform with that
 *     index (as in PyOpenCL's "0:2");
 *   - anything else keeps devices whose platform or device name contains it,
 *     ignoring case.
 * The first device left is chosen.  No fields: the first GPU, else the first
 * device. */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *word;
    unsigned long type;
} type_words[] = {
    {"gpu", CL_DEVICE_TYPE_GPU},
    {"cpu", CL_DEVICE_TYPE_CPU},
    {"accelerator", CL_DEVICE_TYPE_ACCELERATOR},
    {"all", CL_DEVICE_TYPE_ALL},
};

static int ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
    return *a == *b;
}

static int icontains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return n == 0;
}

const char *lstmcl__type_word(unsigned long type)
{
    if (type & CL_DEVICE_TYPE_GPU)
        return "gpu";
    if (type & CL_DEVICE_TYPE_CPU)
        return "cpu";
    if (type & CL_DEVICE_TYPE_ACCELERATOR)
        return "accelerator";
    return "other";
}

int lstmcl__selector_parse(const char *text, lstmcl_selector *sel, char *err, size_t errlen)
{
    const char *p = text ? text : "";
    memset(sel, 0, sizeof *sel);
    if (*p == '\0')
        return 0;
    for (;;) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        lstmcl_field *f;
        size_t i;

        if (sel->nfields == LSTMCL_SEL_MAX_FIELDS) {
            snprintf(err, errlen, "selector '%s' has more than %d ':'-separated fields", text,
                     LSTMCL_SEL_MAX_FIELDS);
            return -1;
        }
        if (len == 0) {
            snprintf(err, errlen, "selector '%s' has an empty field", text);
            return -1;
        }
        if (len >= LSTMCL_SEL_MAX_TEXT) {
            snprintf(err, errlen, "selector field is longer than %d characters",
                     LSTMCL_SEL_MAX_TEXT - 1);
            return -1;
        }
        f = &sel->fields[sel->nfields++];
        memcpy(f->text, p, len);
        f->text[len] = '\0';

        f->kind = LSTMCL_FIELD_SUBSTRING;
        for (i = 0; i < len && isdigit((unsigned char)f->text[i]); i++)
            ;
        if (i == len) {
            char *stop;
            errno = 0;
            f->index = strtoul(f->text, &stop, 10);
            if (errno == ERANGE || f->index > 1000000ul) {
                snprintf(err, errlen, "selector index '%s' is out of range", f->text);
                return -1;
            }
            f->kind = LSTMCL_FIELD_INDEX;
        } else {
            for (i = 0; i < sizeof type_words / sizeof type_words[0]; i++) {
                if (ieq(f->text, type_words[i].word)) {
                    f->kind = LSTMCL_FIELD_TYPE;
                    f->type = type_words[i].type;
                }
            }
        }
        if (!end)
            return 0;
        p = end + 1;
    }
}

long lstmcl__selector_nth(const lstmcl_selector *sel, const lstmcl_device_desc *list, size_t n,
                          size_t k, size_t *count)
{
    unsigned char *keep;
    long chosen = -1;
    size_t i, kept = 0;
    int fi;

    if (count)
        *count = 0;
    if (n == 0)
        return -1;
    keep = malloc(n);
    if (!keep)
        return -1;
    memset(keep, 1, n);
    if (sel->nfields == 0) { /* every GPU, else every device */
        int gpus = 0;
        for (i = 0; i < n; i++)
            gpus |= (list[i].type & CL_DEVICE_TYPE_GPU) != 0;
        for (i = 0; gpus && i < n; i++)
            keep[i] = (list[i].type & CL_DEVICE_TYPE_GPU) != 0;
    }
    for (fi = 0; fi < sel->nfields; fi++) {
        const lstmcl_field *f = &sel->fields[fi];
        unsigned long seen = 0;
        for (i = 0; i < n; i++) {
            if (!keep[i])
                continue;
            switch (f->kind) {
            case LSTMCL_FIELD_TYPE:
                keep[i] = (list[i].type & f->type) != 0;
                break;
            case LSTMCL_FIELD_SUBSTRING:
                keep[i] = icontains(list[i].platform_name, f->text) ||
                          icontains(list[i].device_name, f->text);
                break;
            case LSTMCL_FIELD_INDEX:
                if (fi == 0 && sel->nfields > 1)
                    keep[i] = list[i].platform_index == f->index;
                else
                    keep[i] = (seen++ == f->index);
                break;
            }
        }
    }
    for (i = 0; i < n; i++) {
        if (keep[i]) {
            if (kept == k)
                chosen = (long)i;
            kept++;
        }
    }
    free(keep);
    if (count)
        *count = kept;
    return chosen;
}

long lstmcl__selector_match(const lstmcl_selector *sel, const lstmcl_device_desc *list, size_t n)
{
    return lstmcl__selector_nth(sel, list, n, 0, NULL);
}

cl_int lstmcl__list_devices(lstmcl_device_desc **list_out, size_t *n_out)
{
    cl_uint nplat = 0, p;
    cl_platform_id *plats = NULL;
    lstmcl_device_desc *list = NULL;
    size_t n = 0;
    cl_int err;

    *list_out = NULL;
    *n_out = 0;
    err = clGetPlatformIDs(0, NULL, &nplat);
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (err == CL_SUCCESS && nplat == 0))
        return CL_SUCCESS;
    if (err != CL_SUCCESS)
        return err;
    plats = calloc(nplat, sizeof *plats);
    if (!plats)
        return CL_OUT_OF_HOST_MEMORY;
    err = clGetPlatformIDs(nplat, plats, NULL);
    if (err != CL_SUCCESS)
        goto fail;
    for (p = 0; p < nplat; p++) {
        cl_uint ndev = 0, d;
        cl_device_id *devs;
        lstmcl_device_desc *grown;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &ndev) != CL_SUCCESS ||
            ndev == 0)
            continue; /* a platform without devices is skipped, as clinfo does */
        devs = calloc(ndev, sizeof *devs);
        grown = realloc(list, (n + ndev) * sizeof *list);
        if (!devs || !grown) {
            free(devs);
            if (grown)
                list = grown;
            err = CL_OUT_OF_HOST_MEMORY;
            goto fail;
        }
        list = grown;
        err = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, ndev, devs, NULL);
        if (err != CL_SUCCESS) {
            free(devs);
            goto fail;
        }
        for (d = 0; d < ndev; d++) {
            lstmcl_device_desc *e = &list[n++];
            cl_device_type type = 0;
            memset(e, 0, sizeof *e);
            e->platform_index = p;
            e->device_index = d;
            e->platform = plats[p];
            e->device = devs[d];
            clGetDeviceInfo(devs[d], CL_DEVICE_TYPE, sizeof type, &type, NULL);
            e->type = (unsigned long)type;
            if (clGetPlatformInfo(plats[p], CL_PLATFORM_NAME, sizeof e->platform_name,
                                  e->platform_name, NULL) != CL_SUCCESS)
                strcpy(e->platform_name, "(unknown platform)");
            if (clGetDeviceInfo(devs[d], CL_DEVICE_NAME, sizeof e->device_name, e->device_name,
                                NULL) != CL_SUCCESS)
                strcpy(e->device_name, "(unknown device)");
            e->platform_name[sizeof e->platform_name - 1] = '\0';
            e->device_name[sizeof e->device_name - 1] = '\0';
        }
        free(devs);
    }
    free(plats);
    *list_out = list;
    *n_out = n;
    return CL_SUCCESS;
fail:
    free(plats);
    free(list);
    return err;
}

lstmcl_status lstmcl_devices(char *buf, size_t size, size_t *needed)
{
    lstmcl_device_desc *list = NULL;
    size_t n = 0, i, len = 0, written = 0;
    cl_int err = lstmcl__list_devices(&list, &n);
    if (size > 0 && buf)
        buf[0] = '\0';
    if (err != CL_SUCCESS) {
        free(list);
        if (needed)
            *needed = 0;
        return LSTMCL_ERROR_OPENCL;
    }
    for (i = 0; i < n; i++) {
        char line[600];
        const int k = snprintf(line, sizeof line, "%u:%u\t%s\t%s / %s\n", list[i].platform_index,
                               list[i].device_index, lstmcl__type_word(list[i].type),
                               list[i].platform_name, list[i].device_name);
        const size_t m = k < 0 ? 0 : (size_t)k < sizeof line ? (size_t)k : sizeof line - 1;
        /* whole lines only: from the first that does not fit on, none */
        if (buf && len == written && len + m < size) {
            memcpy(buf + len, line, m);
            buf[len + m] = '\0';
            written += m;
        }
        len += m;
    }
    free(list);
    if (needed)
        *needed = len;
    return LSTMCL_SUCCESS;
}
