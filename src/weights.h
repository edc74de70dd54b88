/* Internal to the weights code (src/weights.c, src/safetensors.c). */
#ifndef LSTMCL_SRC_WEIGHTS_H
#define LSTMCL_SRC_WEIGHTS_H

#include "lstmcl_weights.h"

#define LSTMCL_WEIGHTS_MAX_LAYERS 64
#define LSTMCL_WEIGHTS_MAX_SIZE (1 << 24)

struct lstmcl_weights {
    lstmcl_weights_shape shape;
    float *data;  /* all blocks, see lstmcl_weights.h */
    size_t count; /* floats in data */
};

/* Sets the thread's message (printf-style) and returns status. */
lstmcl_status lstmcl__weights_fail(lstmcl_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
