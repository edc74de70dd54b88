/* lstmcl: the LSTM gate and cell math (OpenCL C 1.2).
 *
 * Matrices are row-major.  A (rows, cols) matrix view is (buffer, offset, ld):
 * element (r, k) is at buffer[offset + r*ld + k].  Gates are stored along 4H
 * in the order i, f, o, g.  Work-item (j, n) handles hidden unit j of batch
 * row n; the global size along j may be rounded up, so every kernel checks
 * its bounds.  A NULL buffer argument means "absent" where a comment says so. */

inline float sigmoid(float x)
{
    return 1.0f / (1.0f + exp(-x));
}

/* One forward step, after the matrix products.
 *   gates: a = x·Wx + h_prev·Wh (without b) for this step; replaced by the
 *          activated gates when store_gates is set.
 *   c_in:  c_{t-1}, or NULL for zeros.     c_out: c_t (may equal c_in).
 *   h_out: h_t.
 *   h_prev, hp_copy: when hp_copy is not NULL, h_{t-1} (h_prev, or zeros
 *          when h_prev is NULL) is copied there, for the weight gradient.
 *   h_last, c_last: when not NULL, h_t and c_t are also written there ((N,H)
 *          contiguous), for the last step. */
__kernel void lstm_fwd_step(const int N, const int H,
                            __global float *gates, const int g_off, const int g_ld,
                            const int store_gates,
                            __global const float *b, const int b_off,
                            __global const float *c_in, const int ci_off, const int ci_ld,
                            __global float *c_out, const int co_off, const int co_ld,
                            __global float *h_out, const int h_off, const int h_ld,
                            __global const float *h_prev, const int hp_off, const int hp_ld,
                            __global float *hp_copy, const int hc_off, const int hc_ld,
                            __global float *h_last, const int hl_off,
                            __global float *c_last, const int cl_off)
{
    const int j = get_global_id(0);
    const int n = get_global_id(1);
    if (j >= H || n >= N)
        return;

    __global float *a = gates + g_off + n * g_ld;
    __global const float *bb = b + b_off;
    const float i = sigmoid(a[j] + bb[j]);
    const float f = sigmoid(a[H + j] + bb[H + j]);
    const float o = sigmoid(a[2 * H + j] + bb[2 * H + j]);
    const float g = tanh(a[3 * H + j] + bb[3 * H + j]);
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
        hp_copy[hc_off + n * hc_ld + j] = h_prev ? h_prev[hp_off + n * hp_ld + j] : 0.0f;
    c_out[co_off + n * co_ld + j] = c;
    h_out[h_off + n * h_ld + j] = h;
    if (h_last)
        h_last[hl_off + n * H + j] = h;
    if (c_last)
        c_last[cl_off + n * H + j] = c;
}

/* One backward step.
 *   dh: the loss's gradient w.r.t. h_t from outside the recurrence.
 *   dh_rec: (N,H) contiguous, the gradient reaching h_t from step t+1.
 *   dc: (N,H) contiguous; in: dL/dc_t from step t+1; out: dL/dc_{t-1}.
 *   gates, c: what the forward kept for step t; c_prev: c_{t-1}, or NULL.
 *   da: out, the gradient w.r.t. the pre-activations a (4H). */
__kernel void lstm_bwd_step(const int N, const int H,
                            __global const float *dh, const int dh_off, const int dh_ld,
                            __global const float *dh_rec, const int dr_off,
                            __global float *dc, const int dc_off,
                            __global const float *gates, const int g_off, const int g_ld,
                            __global const float *c, const int c_off, const int c_ld,
                            __global const float *c_prev, const int cp_off, const int cp_ld,
                            __global float *da, const int da_off, const int da_ld)
{
    const int j = get_global_id(0);
    const int n = get_global_id(1);
    if (j >= H || n >= N)
        return;

    __global const float *a = gates + g_off + n * g_ld;
    const float i = a[j];
    const float f = a[H + j];
    const float o = a[2 * H + j];
    const float g = a[3 * H + j];
    const float ct = c[c_off + n * c_ld + j];
    const float cp = c_prev ? c_prev[cp_off + n * cp_ld + j] : 0.0f;
    const float tc = tanh(ct);

    const float dht = dh[dh_off + n * dh_ld + j] + dh_rec[dr_off + n * H + j];
    const float dct = dc[dc_off + n * H + j] + dht * o * (1.0f - tc * tc);
    const float d_o = dht * tc;
    const float d_i = dct * g;
    const float d_f = dct * cp;
    const float d_g = dct * i;

    dc[dc_off + n * H + j] = dct * f;
    __global float *d = da + da_off + n * da_ld;
    d[j] = i * (1.0f - i) * d_i;
    d[H + j] = f * (1.0f - f) * d_f;
    d[2 * H + j] = o * (1.0f - o) * d_o;
    d[3 * H + j] = (1.0f - g * g) * d_g;
}

/* out[k] (+)= sum over r of m[r*cols + k], summed in row order, so the
 * result is the same on every run. */
__kernel void lstm_colsum(const int rows, const int cols,
                          __global const float *m, const int m_off,
                          __global float *out, const int out_off, const int accumulate)
{
    const int k = get_global_id(0);
    if (k >= cols)
        return;
    __global const float *p = m + m_off + k;
    float s = 0.0f;
    for (int r = 0; r < rows; r++)
        s += p[r * cols];
    out[out_off + k] = accumulate ? out[out_off + k] + s : s;
}
