/* lstmcl-sample: generates text from a checkpoint of lstmcl-train. */
#define _POSIX_C_SOURCE 200809L
#include "charlm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: lstmcl-sample CHECKPOINT [--prime TEXT] [--length N] [--temperature T]\n"
               "                    [--seed S] [--device SEL]\n"
               "Loads a checkpoint written by lstmcl-train and continues TEXT (default: a\n"
               "newline, or the model's first character if it knows no newline) by N\n"
               "characters (200), sampling at temperature T (0.8; 0 = always\n"
               "the likeliest character), on the device.\n");
}

/* A default prime for a text without newlines: its first character. */
static const char *first_byte(const unsigned char *vocab)
{
    static char one[2];
    one[0] = (char)(vocab[0] ? vocab[0] : ' ');
    return one;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *prime = "\n", *device = NULL;
    unsigned char vocab[256];
    uint32_t V = 0;
    int prime_given = 0;
    unsigned long length = 200, seed = 1;
    double temperature = 0.8;
    lstmcl_context *ctx = NULL;
    charlm *lm = NULL;
    char err[512], *out = NULL;
    lstmcl_status st;
    int i, rc = 1;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (a[0] != '-' && !path) {
            path = a;
            continue;
        } else if (!v) {
            usage(stderr);
            return 2;
        }
        errno = 0;
        if (!strcmp(a, "--prime"))
            prime = v, prime_given = 1;
        else if (!strcmp(a, "--device"))
            device = v;
        else if (!strcmp(a, "--length"))
            length = strtoul(v, &end, 10);
        else if (!strcmp(a, "--seed"))
            seed = strtoul(v, &end, 10);
        else if (!strcmp(a, "--temperature"))
            temperature = strtod(v, &end);
        else {
            usage(stderr);
            return 2;
        }
        if (end && (*end || errno || end == v || length == 0 || length > 1000000 ||
                    !(temperature >= 0 && temperature <= 100))) {
            fprintf(stderr, "lstmcl-sample: bad value for %s: '%s'\n", a, v);
            return 2;
        }
        i++;
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    st = lstmcl_context_create(&ctx, device);
    if (st != LSTMCL_SUCCESS) {
        fprintf(stderr, "lstmcl-sample: %s: %s\n", lstmcl_status_string(st),
                lstmcl_last_create_message());
        return 1;
    }
    out = malloc(length + 1);
    if (!out) {
        fprintf(stderr, "lstmcl-sample: out of memory\n");
    } else if (charlm_load(&lm, ctx, path, vocab, &V, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "lstmcl-sample: %s\n", err);
    } else if (!prime_given && !memchr(vocab, '\n', V)) {
        prime = first_byte(vocab);
    }
    if (out && lm &&
        charlm_generate(lm, prime, length, (float)temperature, seed, out, err, sizeof err) != 0) {
        fprintf(stderr, "lstmcl-sample: %s\n", err);
    } else if (out && lm) {
        fputs(prime, stdout);
        fputs(out, stdout);
        fputc('\n', stdout);
        rc = 0;
    }
    free(out);
    charlm_destroy(lm);
    lstmcl_context_destroy(ctx);
    return rc;
}
