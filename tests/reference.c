#include "reference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double sigmoid(double v)
{
    return 1.0 / (1.0 + exp(-v));
}

void ref_cache_free(ref_cache *cache)
{
    free(cache->gates);
    free(cache->c);
    free(cache->h);
    memset(cache, 0, sizeof *cache);
}

int ref_forward(size_t N, size_t T, size_t D, size_t H, const double *x, const double *h0,
                const double *c0, const double *Wx, const double *Wh, const double *b,
                ref_cache *cache)
{
    double *a = malloc(4 * H * sizeof *a);
    size_t n, t, j, k;

    cache->N = N, cache->T = T, cache->D = D, cache->H = H;
    cache->gates = malloc(N * T * 4 * H * sizeof(double));
    cache->c = malloc(N * T * H * sizeof(double));
    cache->h = malloc(N * T * H * sizeof(double));
    if (!a || !cache->gates || !cache->c || !cache->h) {
        free(a);
        ref_cache_free(cache);
        return -1;
    }
    for (n = 0; n < N; n++) {
        for (t = 0; t < T; t++) {
            const double *xt = x + (n * T + t) * D;
            const double *hp = t ? cache->h + (n * T + t - 1) * H : h0 + n * H;
            const double *cp = t ? cache->c + (n * T + t - 1) * H : (c0 ? c0 + n * H : NULL);
            double *g = cache->gates + (n * T + t) * 4 * H;
            double *ct = cache->c + (n * T + t) * H;
            double *ht = cache->h + (n * T + t) * H;
            /* a = x·Wx + h_prev·Wh + b */
            for (j = 0; j < 4 * H; j++) {
                double s = b[j];
                for (k = 0; k < D; k++)
                    s += xt[k] * Wx[k * 4 * H + j];
                for (k = 0; k < H; k++)
                    s += hp[k] * Wh[k * 4 * H + j];
                a[j] = s;
            }
            for (j = 0; j < H; j++) {
                double i = sigmoid(a[j]), f = sigmoid(a[H + j]);
                double o = sigmoid(a[2 * H + j]), gg = tanh(a[3 * H + j]);
                ct[j] = f * (cp ? cp[j] : 0.0) + i * gg;
                ht[j] = o * tanh(ct[j]);
                g[j] = i, g[H + j] = f, g[2 * H + j] = o, g[3 * H + j] = gg;
            }
        }
    }
    free(a);
    return 0;
}

int ref_backward(const ref_cache *cache, const double *x, const double *h0, const double *c0,
                  const double *Wx, const double *Wh, const double *dh, const double *dcT,
                  double *dx, double *dh0, double *dc0, double *dWx, double *dWh, double *db)
{
    const size_t N = cache->N, T = cache->T, D = cache->D, H = cache->H;
    double *da = malloc(4 * H * sizeof *da);
    double *dnext_h = malloc(H * sizeof *dnext_h);
    double *dnext_c = malloc(H * sizeof *dnext_c);
    size_t n, t, j, k;

    if (!da || !dnext_h || !dnext_c) {
        free(da);
        free(dnext_h);
        free(dnext_c);
        return -1;
    }
    memset(dWx, 0, D * 4 * H * sizeof *dWx);
    memset(dWh, 0, H * 4 * H * sizeof *dWh);
    memset(db, 0, 4 * H * sizeof *db);
    for (n = 0; n < N; n++) {
        /* gradients flowing back into step t from step t+1 */
        double *dprev_h = dh0 + n * H;
        memset(dprev_h, 0, H * sizeof *dprev_h);
        for (j = 0; j < H; j++)
            dnext_c[j] = dcT ? dcT[n * H + j] : 0.0;
        for (t = T; t-- > 0;) {
            const double *g = cache->gates + (n * T + t) * 4 * H;
            const double *ct = cache->c + (n * T + t) * H;
            const double *cp = t ? cache->c + (n * T + t - 1) * H : (c0 ? c0 + n * H : NULL);
            const double *hp = t ? cache->h + (n * T + t - 1) * H : h0 + n * H;
            const double *xt = x + (n * T + t) * D;
            double *dxt = dx + (n * T + t) * D;
            for (j = 0; j < H; j++)
                dnext_h[j] = dh[(n * T + t) * H + j] + dprev_h[j];
            /* the seed's lstm_step_backward */
            for (j = 0; j < H; j++) {
                double i = g[j], f = g[H + j], o = g[2 * H + j], gg = g[3 * H + j];
                double tc = tanh(ct[j]);
                double dc = dnext_c[j] + o * (1 - tc * tc) * dnext_h[j];
                double d_o = dnext_h[j] * tc;
                double d_i = dc * gg, d_f = dc * (cp ? cp[j] : 0.0), d_g = dc * i;
                dnext_c[j] = dc * f; /* becomes dprev_c */
                da[j] = i * (1 - i) * d_i;
                da[H + j] = f * (1 - f) * d_f;
                da[2 * H + j] = o * (1 - o) * d_o;
                da[3 * H + j] = (1 - gg * gg) * d_g;
            }
            for (k = 0; k < D; k++) {
                double s = 0;
                for (j = 0; j < 4 * H; j++) {
                    s += da[j] * Wx[k * 4 * H + j];
                    dWx[k * 4 * H + j] += xt[k] * da[j];
                }
                dxt[k] = s;
            }
            for (k = 0; k < H; k++) {
                double s = 0;
                for (j = 0; j < 4 * H; j++) {
                    s += da[j] * Wh[k * 4 * H + j];
                    dWh[k * 4 * H + j] += hp[k] * da[j];
                }
                dprev_h[k] = s;
            }
            for (j = 0; j < 4 * H; j++)
                db[j] += da[j];
        }
        if (dc0)
            for (j = 0; j < H; j++)
                dc0[n * H + j] = dnext_c[j];
    }
    free(da);
    free(dnext_h);
    free(dnext_c);
    return 0;
}

double ref_rel_error(const float *got, const double *want, size_t n)
{
    /* RMS difference over the reference's RMS, the latter floored at 0.1:
     * LSTM outputs and gradients here are of order 0.1 to 1, and a result
     * near zero from cancellation (h = -3.8e-5, say) is only as precise as
     * the terms that cancelled, so it is judged on its absolute error */
    const double floor_rms = 0.1;
    double num = 0, den = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        double d = (double)got[i] - want[i];
        num += d * d;
        den += want[i] * want[i];
    }
    if (n == 0)
        return 0;
    if (den < (double)n * floor_rms * floor_rms)
        den = (double)n * floor_rms * floor_rms;
    return sqrt(num / den);
}
