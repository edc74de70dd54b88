#include "hostlstm.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int host_lstm_init(host_lstm *s, size_t N, size_t T, size_t D, size_t H)
{
    memset(s, 0, sizeof *s);
    s->N = N, s->T = T, s->D = D, s->H = H;
    s->gates = malloc(N * T * 4 * H * sizeof(float));
    s->c = malloc(N * T * H * sizeof(float));
    s->hprev = malloc(N * T * H * sizeof(float));
    s->da = malloc(N * T * 4 * H * sizeof(float));
    s->tmp = malloc(N * 4 * H * sizeof(float));
    s->dhrec = malloc(N * H * sizeof(float));
    s->dc = malloc(N * H * sizeof(float));
    if (!s->gates || !s->c || !s->hprev || !s->da || !s->tmp || !s->dhrec || !s->dc) {
        host_lstm_free(s);
        return -1;
    }
    return 0;
}

void host_lstm_free(host_lstm *s)
{
    free(s->gates), free(s->c), free(s->hprev), free(s->da), free(s->tmp), free(s->dhrec);
    free(s->dc);
    memset(s, 0, sizeof *s);
}

static float sigm(float v)
{
    return 1.0f / (1.0f + expf(-v));
}

/* C (m×n, ldc) = alpha·op(A)·op(B) + beta·C, row-major */
static void gemm(int ta, int tb, size_t m, size_t n, size_t k, const float *A, size_t lda,
                 const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)m, (int)n, (int)k, 1.0f, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

void host_forward(host_lstm *s, host_structure how, const float *x, const float *h0,
                  const float *Wx, const float *Wh, const float *b, float *h)
{
    const size_t N = s->N, T = s->T, D = s->D, H = s->H, G = 4 * H;
    size_t t, n, j;

    if (how == HOST_HOISTED)
        gemm(0, 0, N * T, G, D, x, D, Wx, G, 0.0f, s->gates, G);
    for (t = 0; t < T; t++) {
        const float *hp = t ? h + (t - 1) * H : h0;
        const size_t hp_ld = t ? T * H : H;
        if (how == HOST_SEED)
            gemm(0, 0, N, G, D, x + t * D, T * D, Wx, G, 0.0f, s->gates + t * G, T * G);
        gemm(0, 0, N, G, H, hp, hp_ld, Wh, G, 1.0f, s->gates + t * G, T * G);
        for (n = 0; n < N; n++) {
            float *a = s->gates + (n * T + t) * G;
            const float *cp = t ? s->c + (n * T + t - 1) * H : NULL;
            float *ct = s->c + (n * T + t) * H;
            float *ht = h + (n * T + t) * H;
            memcpy(s->hprev + (n * T + t) * H, hp + n * hp_ld, H * sizeof(float));
            for (j = 0; j < H; j++) {
                float i = sigm(a[j] + b[j]), f = sigm(a[H + j] + b[H + j]);
                float o = sigm(a[2 * H + j] + b[2 * H + j]), g = tanhf(a[3 * H + j] + b[3 * H + j]);
                ct[j] = f * (cp ? cp[j] : 0.0f) + i * g;
                ht[j] = o * tanhf(ct[j]);
                a[j] = i, a[H + j] = f, a[2 * H + j] = o, a[3 * H + j] = g;
            }
        }
    }
}

void host_backward(host_lstm *s, host_structure how, const float *x, const float *Wx,
                   const float *Wh, const float *dh, float *dx, float *dh0, float *dWx,
                   float *dWh, float *db)
{
    const size_t N = s->N, T = s->T, D = s->D, H = s->H, G = 4 * H;
    size_t t, n, j;

    memset(s->dhrec, 0, N * H * sizeof(float));
    memset(s->dc, 0, N * H * sizeof(float));
    if (how == HOST_SEED) {
        memset(dWx, 0, D * G * sizeof(float));
        memset(dWh, 0, H * G * sizeof(float));
        memset(db, 0, G * sizeof(float));
    }
    for (t = T; t-- > 0;) {
        for (n = 0; n < N; n++) {
            const float *a = s->gates + (n * T + t) * G;
            const float *ct = s->c + (n * T + t) * H;
            const float *cp = t ? s->c + (n * T + t - 1) * H : NULL;
            float *d = s->da + (n * T + t) * G;
            for (j = 0; j < H; j++) {
                float i = a[j], f = a[H + j], o = a[2 * H + j], g = a[3 * H + j];
                float tc = tanhf(ct[j]);
                float dht = dh[(n * T + t) * H + j] + s->dhrec[n * H + j];
                float dct = s->dc[n * H + j] + dht * o * (1 - tc * tc);
                s->dc[n * H + j] = dct * f;
                d[j] = i * (1 - i) * dct * g;
                d[H + j] = f * (1 - f) * dct * (cp ? cp[j] : 0.0f);
                d[2 * H + j] = o * (1 - o) * dht * tc;
                d[3 * H + j] = (1 - g * g) * dct * i;
            }
        }
        /* dh_{t-1} = da_t·Whᵀ */
        gemm(0, 1, N, H, G, s->da + t * G, T * G, Wh, G, 0.0f, t ? s->dhrec : dh0, H);
        if (how == HOST_SEED) {
            gemm(0, 1, N, D, G, s->da + t * G, T * G, Wx, G, 0.0f, dx + t * D, T * D);
            gemm(1, 0, D, G, N, x + t * D, T * D, s->da + t * G, T * G, 1.0f, dWx, G);
            gemm(1, 0, H, G, N, s->hprev + t * H, T * H, s->da + t * G, T * G, 1.0f, dWh, G);
        }
    }
    if (how == HOST_HOISTED) {
        gemm(0, 1, N * T, D, G, s->da, G, Wx, G, 0.0f, dx, D);
        gemm(1, 0, D, G, N * T, x, D, s->da, G, 0.0f, dWx, G);
        gemm(1, 0, H, G, N * T, s->hprev, H, s->da, G, 0.0f, dWh, G);
        memset(db, 0, G * sizeof(float));
    }
    for (n = 0; n < N * T; n++)
        for (j = 0; j < G; j++)
            db[j] += s->da[n * G + j];
}
