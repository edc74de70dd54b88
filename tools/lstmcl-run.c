/* lstmcl-run: runs a stored LSTM (an nn.LSTM state_dict as safetensors) on
 * an input held in a .npy file, and writes the output as .npy. */
#define _POSIX_C_SOURCE 200809L
#include "lstmcl_weights.h"
#include "npy.h"
#include "atomicfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lstmcl-run --weights MODEL.safetensors --input X.npy --output Y.npy\n"
            "                  [--batch-first] [--lengths LENGTHS.npy] [--h0 H0.npy --c0 C0.npy]\n"
            "                  [--state-out PREFIX] [--prefix NAME] [--device SELECTOR] [--repeat R]\n"
            "Runs the LSTM stack whose weights PyTorch's nn.LSTM saved (its state_dict, as\n"
            "safetensors; layers, directions, D and H come from the tensors) on X and\n"
            "writes its output Y, as nn.LSTM computes it.\n"
            "  X        float32 or float64 (T, N, D), or (N, T, D) with --batch-first\n"
            "  Y        float32 (T, N, dirs*H), or (N, T, dirs*H) with --batch-first\n"
            "  LENGTHS  int32 or int64 (N,), each 1..T: sequence lengths of a right-padded\n"
            "           batch (as pack_padded_sequence); Y is zero past each end\n"
            "  H0, C0   float32 or float64 (layers*dirs, N, H) initial states (default 0)\n"
            "  PREFIX   writes the final states to PREFIX_h.npy and PREFIX_c.npy\n"
            "  NAME     the LSTM whose tensors are NAMEweight_ih_l0 ... (\"lstm.\" for a\n"
            "           module's lstm), when the file holds more than one\n"
            "  R        runs R times and prints the median time of a run\n"
            "  SELECTOR as LSTMCL_DEVICE (README, \"Choosing a device\")\n"
            "Outputs are written whole (a new file renamed into place; a FIFO or device\n"
            "written as it is); an output that names one of the inputs is refused.\n");
}

static int die(const char *file, const char *msg)
{
    fprintf(stderr, "lstmcl-run: %s: %s\n", file, msg);
    return 1;
}

/* Refuses (with a message) outputs that name an input or each other: Y and
 * the final states would replace what the run reads, or each other. */
static int refuse_overlaps(const char *wpath, const char *xpath, const char *ypath,
                           const char *lpath, const char *h0path, const char *c0path,
                           const char *prefix)
{
    char hpath[4096], cpath[4096];
    const char *ins[][2] = {{"--weights", wpath}, {"--input", xpath}, {"--lengths", lpath},
                            {"--h0", h0path},     {"--c0", c0path}};
    const char *outs[3][2] = {{"--output", ypath}, {NULL, NULL}, {NULL, NULL}};
    size_t i, j;
    if (prefix) {
        if ((size_t)snprintf(hpath, sizeof hpath, "%s_h.npy", prefix) >= sizeof hpath ||
            (size_t)snprintf(cpath, sizeof cpath, "%s_c.npy", prefix) >= sizeof cpath) {
            fprintf(stderr, "lstmcl-run: --state-out %s: the name is too long\n", prefix);
            return -1;
        }
        outs[1][0] = "--state-out's h", outs[1][1] = hpath;
        outs[2][0] = "--state-out's c", outs[2][1] = cpath;
    }
    for (i = 0; i < 3; i++) {
        if (!outs[i][1])
            continue;
        for (j = 0; j < sizeof ins / sizeof ins[0]; j++)
            if (ins[j][1] && af_same_file(outs[i][1], ins[j][1])) {
                fprintf(stderr, "lstmcl-run: %s %s is the same file as %s %s; lstmcl-run never "
                                "writes over its inputs\n",
                        outs[i][0], outs[i][1], ins[j][0], ins[j][1]);
                return -1;
            }
        for (j = 0; j < i; j++)
            if (outs[j][1] && af_same_file(outs[i][1], outs[j][1])) {
                fprintf(stderr, "lstmcl-run: %s %s is the same file as %s %s; give each "
                                "output its own name\n",
                        outs[i][0], outs[i][1], outs[j][0], outs[j][1]);
                return -1;
            }
    }
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void shape_str(const npy_array *a, char *buf, size_t n)
{
    size_t i, k = 0;
    k += (size_t)snprintf(buf + k, n - k, "(");
    for (i = 0; i < a->ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%zu", i ? ", " : "", a->dims[i]);
    if (k < n)
        snprintf(buf + k, n - k, a->ndim == 1 ? ",)" : ")");
}

/* A float array of the given shape from a float32 or float64 .npy file. */
static int load_floats(const char *path, const char *what, size_t ndim, const size_t *want,
                       const char *const *names, float **out)
{
    npy_array a;
    char err[300], msg[600], got[120];
    size_t i;
    if (npy_load(path, &a, err, sizeof err) != 0)
        return die(path, err);
    if (a.dtype != NPY_F4 && a.dtype != NPY_F8) {
        snprintf(msg, sizeof msg, "%s has dtype %s; it must be float32 or float64", what,
                 npy_dtype_name(a.dtype));
        npy_free(&a);
        return die(path, msg);
    }
    shape_str(&a, got, sizeof got);
    if (a.ndim != ndim) {
        snprintf(msg, sizeof msg, "%s has shape %s, %zu dimensions; it must have %zu (%s, %s, %s)",
                 what, got, a.ndim, ndim, names[0], names[1], names[2]);
        npy_free(&a);
        return die(path, msg);
    }
    for (i = 0; i < ndim; i++)
        if (want[i] && a.dims[i] != want[i]) {
            snprintf(msg, sizeof msg, "%s has shape %s; its dimension %zu (%s) must be %zu", what,
                     got, i, names[i], want[i]);
            npy_free(&a);
            return die(path, msg);
        }
    *out = malloc((a.count ? a.count : 1) * sizeof **out);
    if (!*out) {
        npy_free(&a);
        return die(path, "no memory");
    }
    for (i = 0; i < a.count; i++)
        (*out)[i] = (float)npy_get_double(&a, i);
    npy_free(&a);
    return 0;
}

int main(int argc, char **argv)
{
    const char *wpath = NULL, *xpath = NULL, *ypath = NULL, *lpath = NULL, *h0path = NULL;
    const char *c0path = NULL, *prefix = NULL, *device = NULL, *tensor_prefix = NULL;
    int batch_first = 0, rc = 1, i;
    unsigned long repeat = 0;
    lstmcl_weights *w = NULL;
    lstmcl_weights_shape ws;
    lstmcl_context *ctx = NULL;
    lstmcl_sequence_options opt;
    npy_array xa;
    float *x = NULL, *y = NULL, *h0 = NULL, *c0 = NULL, *hn = NULL, *cn = NULL;
    int *lengths = NULL;
    size_t N, T, D, H, dirs, states, k;
    char err[300], msg[700];
    lstmcl_status st;
    double *times = NULL;

    memset(&xa, 0, sizeof xa);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **dest = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--batch-first")) {
            batch_first = 1;
            continue;
        }
        if (!strcmp(a, "--weights"))
            dest = &wpath;
        else if (!strcmp(a, "--input"))
            dest = &xpath;
        else if (!strcmp(a, "--output"))
            dest = &ypath;
        else if (!strcmp(a, "--lengths"))
            dest = &lpath;
        else if (!strcmp(a, "--h0"))
            dest = &h0path;
        else if (!strcmp(a, "--c0"))
            dest = &c0path;
        else if (!strcmp(a, "--state-out"))
            dest = &prefix;
        else if (!strcmp(a, "--device"))
            dest = &device;
        else if (!strcmp(a, "--prefix"))
            dest = &tensor_prefix;
        else if (strcmp(a, "--repeat") != 0) {
            fprintf(stderr, "lstmcl-run: %s: %s\n", a,
                    a[0] == '-' ? "unknown option" : "not an option (every value follows its option)");
            usage(stderr);
            return 2;
        }
        if (!v) {
            fprintf(stderr, "lstmcl-run: %s needs a value\n", a);
            usage(stderr);
            return 2;
        }
        i++;
        if (dest) {
            *dest = v;
        } else { /* --repeat */
            char *end = NULL;
            errno = 0;
            repeat = strtoul(v, &end, 10);
            if (errno || !end || *end || repeat < 1 || repeat > 100000 || v[0] == '-') {
                fprintf(stderr, "lstmcl-run: --repeat %s: give a count from 1 to 100000\n", v);
                return 2;
            }
        }
    }
    if (!wpath || !xpath || !ypath) {
        fprintf(stderr, "lstmcl-run: --weights, --input and --output are required\n");
        usage(stderr);
        return 2;
    }
    if (refuse_overlaps(wpath, xpath, ypath, lpath, h0path, c0path, prefix) != 0)
        return 2;

    if (lstmcl_weights_load_safetensors(&w, wpath, tensor_prefix) != LSTMCL_SUCCESS) {
        /* the message names the file */
        const char *m = lstmcl_weights_last_message();
        fprintf(stderr, "lstmcl-run: %s%s\n", m,
                strstr(m, "two LSTMs") ? " (lstmcl-run --prefix NAME: NAME is what stands "
                                         "before weight_ih_l0 in the tensors' names)"
                                       : "");
        return 1;
    }
    lstmcl_weights_get_shape(w, &ws);
    dirs = ws.directions, H = ws.hidden_size, D = ws.input_size;

    if (npy_load(xpath, &xa, err, sizeof err) != 0) {
        die(xpath, err);
        goto done;
    }
    {
        char got[120];
        shape_str(&xa, got, sizeof got);
        if (xa.dtype != NPY_F4 && xa.dtype != NPY_F8) {
            snprintf(msg, sizeof msg, "the input has dtype %s; it must be float32 or float64",
                     npy_dtype_name(xa.dtype));
            die(xpath, msg);
            goto done;
        }
        if (xa.ndim != 3) {
            snprintf(msg, sizeof msg, "the input has shape %s; it must be %s", got,
                     batch_first ? "(N, T, D) (--batch-first)" : "(T, N, D)");
            die(xpath, msg);
            goto done;
        }
        if (xa.dims[2] != D) {
            snprintf(msg, sizeof msg,
                     "the input has shape %s: D = %zu, but the model in %s takes D = %zu", got,
                     xa.dims[2], wpath, D);
            die(xpath, msg);
            goto done;
        }
        if (xa.dims[0] == 0 || xa.dims[1] == 0) {
            snprintf(msg, sizeof msg, "the input has shape %s; T and N must be at least 1", got);
            die(xpath, msg);
            goto done;
        }
    }
    T = batch_first ? xa.dims[1] : xa.dims[0];
    N = batch_first ? xa.dims[0] : xa.dims[1];
    states = ws.layers * dirs * N * H;
    x = malloc(xa.count * sizeof *x);
    y = malloc(N * T * dirs * H * sizeof *y);
    hn = malloc(states * sizeof *hn);
    cn = malloc(states * sizeof *cn);
    if (!x || !y || !hn || !cn) {
        die(xpath, "no memory");
        goto done;
    }
    for (k = 0; k < xa.count; k++)
        x[k] = (float)npy_get_double(&xa, k);

    if (lpath) {
        npy_array la;
        if (npy_load(lpath, &la, err, sizeof err) != 0) {
            die(lpath, err);
            goto done;
        }
        if ((la.dtype != NPY_I4 && la.dtype != NPY_I8) || la.ndim != 1 || la.dims[0] != N) {
            char got[120];
            shape_str(&la, got, sizeof got);
            snprintf(msg, sizeof msg,
                     "the lengths are %s %s; they must be int32 or int64 of shape (%zu,) "
                     "(N of %s)",
                     npy_dtype_name(la.dtype), got, N, xpath);
            npy_free(&la);
            die(lpath, msg);
            goto done;
        }
        lengths = malloc(N * sizeof *lengths);
        if (!lengths) {
            npy_free(&la);
            die(lpath, "no memory");
            goto done;
        }
        for (k = 0; k < N; k++) {
            const long long v = npy_get_int(&la, k);
            if (v < 1 || (unsigned long long)v > T) {
                snprintf(msg, sizeof msg, "length %zu is %lld; each must be 1..T (T = %zu in %s)",
                         k, v, T, xpath);
                npy_free(&la);
                die(lpath, msg);
                goto done;
            }
            lengths[k] = (int)v;
        }
        npy_free(&la);
    }
    {
        const size_t want[3] = {ws.layers * dirs, N, H};
        static const char *const names[3] = {"layers*dirs", "N", "H"};
        if (h0path && load_floats(h0path, "h0", 3, want, names, &h0) != 0)
            goto done;
        if (c0path && load_floats(c0path, "c0", 3, want, names, &c0) != 0)
            goto done;
    }

    st = lstmcl_context_create(&ctx, device);
    if (st != LSTMCL_SUCCESS) {
        fprintf(stderr, "lstmcl-run: %s\n", lstmcl_last_create_message());
        goto done;
    }
    memset(&opt, 0, sizeof opt);
    opt.layout = batch_first ? LSTMCL_BATCH_MAJOR : LSTMCL_TIME_MAJOR;
    opt.lengths = lengths;
    if (repeat) {
        times = malloc(repeat * sizeof *times);
        if (!times) {
            fprintf(stderr, "lstmcl-run: no memory\n");
            goto done;
        }
    }
    for (k = 0; k < (repeat ? repeat : 1); k++) {
        const double t0 = now();
        st = lstmcl_model_forward(ctx, w, N, T, &opt, x, h0, c0, y, hn, cn, NULL);
        if (st != LSTMCL_SUCCESS) {
            fprintf(stderr, "lstmcl-run: %s\n", lstmcl_context_message(ctx));
            goto done;
        }
        if (times)
            times[k] = now() - t0;
    }
    if (times) {
        qsort(times, repeat, sizeof *times, cmp_double);
        printf("lstmcl-run: %zu layers x %zu directions, N=%zu T=%zu D=%zu H=%zu on %s: median "
               "of %lu runs %.3f ms (fastest %.3f ms)\n",
               ws.layers, dirs, N, T, D, H, lstmcl_context_device_name(ctx), repeat,
               1e3 * (repeat % 2 ? times[repeat / 2]
                                 : 0.5 * (times[repeat / 2 - 1] + times[repeat / 2])),
               1e3 * times[0]);
    }
    {
        const size_t ydims[3] = {batch_first ? N : T, batch_first ? T : N, dirs * H};
        if (npy_save_f32(ypath, y, 3, ydims, err, sizeof err) != 0) {
            die(ypath, err);
            goto done;
        }
    }
    if (prefix) {
        const size_t sdims[3] = {ws.layers * dirs, N, H};
        char path[4096];
        snprintf(path, sizeof path, "%s_h.npy", prefix);
        if (npy_save_f32(path, hn, 3, sdims, err, sizeof err) != 0) {
            die(path, err);
            goto done;
        }
        snprintf(path, sizeof path, "%s_c.npy", prefix);
        if (npy_save_f32(path, cn, 3, sdims, err, sizeof err) != 0) {
            die(path, err);
            goto done;
        }
    }
    rc = 0;
done:
    lstmcl_context_destroy(ctx);
    lstmcl_weights_destroy(w);
    npy_free(&xa);
    free(x), free(y), free(h0), free(c0), free(hn), free(cn), free(lengths), free(times);
    return rc;
}
