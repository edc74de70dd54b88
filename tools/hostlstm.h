/* The LSTM on the host in float32 with CBLAS (OpenBLAS), the baselines of
 * lstmcl-bench, in two structures:
 *   SEED:    as the seed's numpy code: per step x_t·Wx and h·Wh, and in the
 *            backward per step dx_t, dWx, dh, dWh products;
 *   HOISTED: as lstmcl: x·Wx for all steps at once, per step only h·Wh; the
 *            backward's dx, dWx, dWh after the loop. */
#ifndef LSTMCL_HOSTLSTM_H
#define LSTMCL_HOSTLSTM_H

#include <stddef.h>

typedef enum { HOST_SEED, HOST_HOISTED } host_structure;

typedef struct {
    size_t N, T, D, H;
    float *gates; /* (N*T, 4H) activated */
    float *c;     /* (N*T, H) */
    float *hprev; /* (N*T, H) h_{t-1} */
    float *da;    /* (N*T, 4H) backward scratch */
    float *tmp;   /* (N, 4H) */
    float *dhrec; /* (N, H) */
    float *dc;    /* (N, H) */
} host_lstm;

/* 0, or -1 when out of memory. */
int host_lstm_init(host_lstm *s, size_t N, size_t T, size_t D, size_t H);
void host_lstm_free(host_lstm *s);

void host_forward(host_lstm *s, host_structure how, const float *x, const float *h0,
                  const float *Wx, const float *Wh, const float *b, float *h);
void host_backward(host_lstm *s, host_structure how, const float *x, const float *Wx,
                   const float *Wh, const float *dh, float *dx, float *dh0, float *dWx,
                   float *dWh, float *db);

#endif
