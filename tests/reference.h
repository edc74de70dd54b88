/* An independent LSTM in plain C and double precision, written from the
 * seed's formulas (step by step, as its numpy code does).  Used to check the
 * OpenCL results; it is itself checked by finite differences. */
#ifndef LSTMCL_REFERENCE_H
#define LSTMCL_REFERENCE_H

#include <stddef.h>

/* What the forward keeps: per step the activated gates (N,T,4H) in the order
 * i,f,o,g, the cell states (N,T,H) and the hidden states (N,T,H). */
typedef struct {
    size_t N, T, D, H;
    double *gates;
    double *c;
    double *h;
} ref_cache;

/* x (N,T,D), h0 (N,H), c0 (N,H) or NULL for zero, Wx (D,4H), Wh (H,4H),
 * b (4H).  Fills cache (allocating its arrays); returns 0, or -1 when out of
 * memory. */
int ref_forward(size_t N, size_t T, size_t D, size_t H, const double *x, const double *h0,
                const double *c0, const double *Wx, const double *Wh, const double *b,
                ref_cache *cache);

/* Gradients for upstream dh (N,T,H) and dc_T (N,H) or NULL for zero.
 * dc0 may be NULL. Outputs are overwritten.  Returns 0, or -1 when out of
 * memory. */
int ref_backward(const ref_cache *cache, const double *x, const double *h0, const double *c0,
                  const double *Wx, const double *Wh, const double *dh, const double *dcT,
                  double *dx, double *dh0, double *dc0, double *dWx, double *dWh, double *db);

void ref_cache_free(ref_cache *cache);



/* Normalised error: the RMS of got-want over the RMS of want, the latter
 * floored at 0.1 (so that a result near zero from cancellation is judged on
 * its absolute error).  NaN in got gives NaN: compare with !(err <= bound). */
double ref_rel_error(const float *got, const double *want, size_t n);
#endif
