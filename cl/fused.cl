/* lstmcl: per-step kernels that fuse the recurrent matrix product with the
 * gate and cell math (OpenCL C 1.2), for devices where a general GEMM per
 * step is slow (CPUs through PoCL).
 *
 * A work-item owns VW consecutive hidden units j0..j0+VW-1 and walks over the
 * batch rows RB at a time, from row n_begin in steps of n_step, so that the
 * slice of the weights it reads stays in cache across rows.  Sums run in a
 * fixed order, so results are the same on every run. */

#define VW 8
#define RB 4

/* Loads VW floats from p (VW consecutive columns starting at column j0 of a
 * row whose last valid column is H-1 relative to p's gate block). */
inline float8 load_cols(__global const float *p, const int j0, const int H)
{
    if (j0 + VW <= H)
        return vload8(0, p + j0);
    float8 v = (float8)(0.0f);
    float t[VW];
    for (int q = 0; q < VW; q++)
        t[q] = j0 + q < H ? p[j0 + q] : 0.0f;
    v = vload8(0, t);
    return v;
}

inline float sigm(float x)
{
    return 1.0f / (1.0f + exp(-x));
}

/* Forward step t.  For every row n and unit j:
 *   a = gates[n] (x·Wx, without b) + b + h_prev[n]·Wh     (h_prev NULL: zeros)
 *   then as lstm_fwd_step (cl/lstm.cl). */
__kernel void lstm_fwd_fused(const int N, const int H, const int n_step,
                             __global const float *h_prev, const int hp_off, const int hp_ld,
                             __global const float *Wh, const int wh_off,
                             __global float *gates, const int g_off, const int g_ld,
                             const int store_gates,
                             __global const float *b, const int b_off,
                             __global const float *c_in, const int ci_off, const int ci_ld,
                             __global float *c_out, const int co_off, const int co_ld,
                             __global float *h_out, const int h_off, const int h_ld,
                             __global float *hp_copy, const int hc_off, const int hc_ld,
                             __global float *h_last, const int hl_off,
                             __global float *c_last, const int cl_off)
{
    const int j0 = get_global_id(0) * VW;
    const int n_begin = get_global_id(1) * RB;
    if (j0 >= H)
        return;
    const int G = 4 * H;
    __global const float *w = Wh + wh_off;
    const float8 bi = load_cols(b + b_off, j0, H), bf = load_cols(b + b_off + H, j0, H);
    const float8 bo = load_cols(b + b_off + 2 * H, j0, H);
    const float8 bg = load_cols(b + b_off + 3 * H, j0, H);

    for (int n0 = n_begin; n0 < N; n0 += n_step) {
        float8 ai[RB], af[RB], ao[RB], ag[RB];
        int rows = N - n0 < RB ? N - n0 : RB;
        for (int r = 0; r < RB; r++) {
            const int n = n0 + (r < rows ? r : 0);
            __global const float *a = gates + g_off + n * g_ld;
            ai[r] = load_cols(a, j0, H) + bi;
            af[r] = load_cols(a + H, j0, H) + bf;
            ao[r] = load_cols(a + 2 * H, j0, H) + bo;
            ag[r] = load_cols(a + 3 * H, j0, H) + bg;
        }
        if (h_prev) {
            __global const float *hp[RB];
            for (int r = 0; r < RB; r++)
                hp[r] = h_prev + hp_off + (n0 + (r < rows ? r : 0)) * hp_ld;
            if (j0 + VW <= H) {
                for (int k = 0; k < H; k++) {
                    __global const float *wk = w + k * G + j0;
                    const float8 wi = vload8(0, wk), wf = vload8(0, wk + H);
                    const float8 wo = vload8(0, wk + 2 * H), wg = vload8(0, wk + 3 * H);
                    for (int r = 0; r < RB; r++) {
                        const float h = hp[r][k];
                        ai[r] = mad((float8)(h), wi, ai[r]);
                        af[r] = mad((float8)(h), wf, af[r]);
                        ao[r] = mad((float8)(h), wo, ao[r]);
                        ag[r] = mad((float8)(h), wg, ag[r]);
                    }
                }
            } else { /* the last, partial block of units */
                for (int k = 0; k < H; k++) {
                    __global const float *wk = w + k * G;
                    const float8 wi = load_cols(wk, j0, H), wf = load_cols(wk + H, j0, H);
                    const float8 wo = load_cols(wk + 2 * H, j0, H);
                    const float8 wg = load_cols(wk + 3 * H, j0, H);
                    for (int r = 0; r < RB; r++) {
                        const float h = hp[r][k];
                        ai[r] = mad((float8)(h), wi, ai[r]);
                        af[r] = mad((float8)(h), wf, af[r]);
                        ao[r] = mad((float8)(h), wo, ao[r]);
                        ag[r] = mad((float8)(h), wg, ag[r]);
                    }
                }
            }
        }
        for (int r = 0; r < rows; r++) {
            const int n = n0 + r;
            float vi[VW], vf[VW], vo[VW], vg[VW];
            vstore8(ai[r], 0, vi);
            vstore8(af[r], 0, vf);
            vstore8(ao[r], 0, vo);
            vstore8(ag[r], 0, vg);
            __global float *a = gates + g_off + n * g_ld;
            for (int q = 0; q < VW && j0 + q < H; q++) {
                const int j = j0 + q;
                const float i = sigm(vi[q]), f = sigm(vf[q]), o = sigm(vo[q]);
                const float g = tanh(vg[q]);
                const float cp = c_in ? c_in[ci_off + n * ci_ld + j] : 0.0f;
                const float c = f * cp + i * g;
                const float h = o * tanh(c);
                if (store_gates) {
                    a[j] = i;
                    a[H + j] = f;
                    a[2 * H + j] = o;
                    a[3 * H + j] = g;
                }
                if (hp_copy)
                    hp_copy[hc_off + n * hc_ld + j] =
                        h_prev ? h_prev[hp_off + n * hp_ld + j] : 0.0f;
                c_out[co_off + n * co_ld + j] = c;
                h_out[h_off + n * h_ld + j] = h;
                if (h_last)
                    h_last[hl_off + n * H + j] = h;
                if (c_last)
                    c_last[cl_off + n * H + j] = c;
            }
        }
    }
}

/* Backward across one step boundary.  With da_t (the gradient w.r.t. step t's
 * pre-activations) and WhT = Whᵀ (4H, H):
 *   r[n, j] = sum over q of da_t[n, q] · WhT[q, j]       (the gradient reaching h_{t-1})
 * When da_out is NULL, r is written to out (dh0).  Otherwise the cell math of
 * step t-1 follows at once, as lstm_bwd_step (cl/lstm.cl) with dh_rec = r. */
__kernel void lstm_bwd_fused(const int N, const int H, const int n_step,
                             __global const float *da_t, const int dt_off, const int dt_ld,
                             __global const float *WhT, const int wt_off,
                             __global float *out, const int out_off,
                             __global const float *dh, const int dh_off, const int dh_ld,
                             __global float *dc, const int dc_off,
                             __global const float *gates, const int g_off, const int g_ld,
                             __global const float *c, const int c_off, const int c_ld,
                             __global const float *c_prev, const int cp_off, const int cp_ld,
                             __global float *da_out, const int da_off, const int da_ld)
{
    const int j0 = get_global_id(0) * VW;
    const int n_begin = get_global_id(1) * RB;
    if (j0 >= H)
        return;
    const int G = 4 * H;
    __global const float *w = WhT + wt_off;

    for (int n0 = n_begin; n0 < N; n0 += n_step) {
        float8 acc[RB];
        __global const float *d[RB];
        int rows = N - n0 < RB ? N - n0 : RB;
        for (int r = 0; r < RB; r++) {
            acc[r] = (float8)(0.0f);
            d[r] = da_t + dt_off + (n0 + (r < rows ? r : 0)) * dt_ld;
        }
        if (j0 + VW <= H) {
            for (int q = 0; q < G; q++) {
                const float8 wq = vload8(0, w + q * H + j0);
                for (int r = 0; r < RB; r++)
                    acc[r] = mad((float8)(d[r][q]), wq, acc[r]);
            }
        } else {
            for (int q = 0; q < G; q++) {
                const float8 wq = load_cols(w + q * H, j0, H);
                for (int r = 0; r < RB; r++)
                    acc[r] = mad((float8)(d[r][q]), wq, acc[r]);
            }
        }
        for (int r = 0; r < rows; r++) {
            const int n = n0 + r;
            float rec[VW];
            vstore8(acc[r], 0, rec);
            for (int q = 0; q < VW && j0 + q < H; q++) {
                const int j = j0 + q;
                if (!da_out) {
                    out[out_off + n * H + j] = rec[q];
                    continue;
                }
                __global const float *a = gates + g_off + n * g_ld;
                const float i = a[j], f = a[H + j], o = a[2 * H + j], g = a[3 * H + j];
                const float ct = c[c_off + n * c_ld + j];
                const float cp = c_prev ? c_prev[cp_off + n * cp_ld + j] : 0.0f;
                const float tc = tanh(ct);
                const float dht = dh[dh_off + n * dh_ld + j] + rec[q];
                const float dct = dc[dc_off + n * H + j] + dht * o * (1.0f - tc * tc);
                dc[dc_off + n * H + j] = dct * f;
                __global float *e = da_out + da_off + n * da_ld;
                e[j] = i * (1.0f - i) * (dct * g);
                e[H + j] = f * (1.0f - f) * (dct * cp);
                e[2 * H + j] = o * (1.0f - o) * (dht * tc);
                e[3 * H + j] = (1.0f - g * g) * (dct * i);
            }
        }
    }
}

/* out (cols, rows) = in (rows, cols)ᵀ */
__kernel void lstm_transpose(const int rows, const int cols,
                             __global const float *in, const int in_off,
                             __global float *out, const int out_off)
{
    const int c = get_global_id(0), r = get_global_id(1);
    if (c < cols && r < rows)
        out[out_off + c * rows + r] = in[in_off + r * cols + c];
}
