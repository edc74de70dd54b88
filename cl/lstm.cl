/* lstmcl: the LSTM gate and cell math (OpenCL C 1.2).
 *
 * Matrices are row-major.  A (rows, cols) matrix view is (buffer, offset, ld):
 * element (r, k) is at buffer[offset + r*ld + k]; a strided view adds a
 * column stride: buffer[offset + r*rs + k*cs].  Gates are stored along 4H in
 * the order i, f, o, g.  Work-item (j, n) handles hidden unit j of batch row
 * n; the global size along j may be rounded up, so every kernel checks its
 * bounds, and rows are walked in steps of the global size along dimension 1,
 * so a launch may cap that dimension (GPUs allow at most 65535 work-groups
 * there).  A NULL buffer argument means "absent" where a comment says so.
 *
 * This file comes first in lstmcl's program: its helpers serve the other
 * files too.  Helpers are static inline, so that every compiler has a
 * definition (C99 inline alone leaves none, and clang-based GPU compilers
 * then fail to link). */

static inline float sigmoid(float x)
{
    return 1.0f / (1.0f + exp(-x));
}

/* The forward gate and cell math of row n, unit j, from the pre-activations
 * (bias and recurrent product included), and everything it writes; as
 * lstm_fwd_step below describes. */
static inline void cell_fwd_store(const int n, const int j, const int H, const float ai,
                                  const float af, const float ao, const float ag,
                                  __global float *gates, const int g_off, const int g_ld,
                                  const int store_gates,
                                  __global const float *c_in, const int ci_off, const int ci_ld,
                                  __global float *c_out, const int co_off, const int co_ld,
                                  __global float *h_out, const int h_off, const int h_ld,
                                  __global const float *h_prev, const int hp_off, const int hp_ld,
                                  __global float *hp_copy, const int hc_off, const int hc_ld,
                                  __global float *h_stage, const int hs_off, const int hs_rs,
                                  const int hs_cs, __global float *h_last, const int hl_off,
                                  __global float *c_last, const int cl_off)
{
    const float i = sigmoid(ai), f = sigmoid(af), o = sigmoid(ao), g = tanh(ag);
    const float cp = c_in ? c_in[ci_off + n * ci_ld + j] : 0.0f;
    const float c = f * cp + i * g;
    const float h = o * tanh(c);

    if (store_gates) {
        __global float *a = gates + g_off + n * g_ld;
        a[j] = i;
        a[H + j] = f;
        a[2 * H + j] = o;
        a[3 * H + j] = g;
    }
    if (hp_copy)
        hp_copy[hc_off + n * hc_ld + j] = h_prev ? h_prev[hp_off + n * hp_ld + j] : 0.0f;
    c_out[co_off + n * co_ld + j] = c;
    h_out[h_off + n * h_ld + j] = h;
    if (h_stage)
        h_stage[hs_off + n * hs_rs + j * hs_cs] = h;
    if (h_last)
        h_last[hl_off + n * H + j] = h;
    if (c_last)
        c_last[cl_off + n * H + j] = c;
}

/* One forward step, after the matrix products.
 *   gates: a = x·Wx (+ h_prev·Wh when rec is NULL), without b, for this step;
 *          replaced by the activated gates when store_gates is set.
 *   rec:   h_prev·Wh as a separate (N, 4H) matrix, or NULL when gates has it.
 *   c_in:  c_{t-1}, or NULL for zeros.     c_out: c_t (may equal c_in).
 *   h_out: h_t.
 *   h_prev, hp_copy: when hp_copy is not NULL, h_{t-1} (h_prev, or zeros
 *          when h_prev is NULL) is copied there, for the weight gradient.
 *   h_stage: when not NULL, h_t is also written there, as a strided view
 *          (the next step's GEMM input).
 *   h_last, c_last: when not NULL, h_t and c_t are also written there ((N,H)
 *          contiguous), for the last step. */
__kernel void lstm_fwd_step(const int N, const int H,
                            __global float *gates, const int g_off, const int g_ld,
                            const int store_gates,
                            __global const float *rec, const int rec_off, const int rec_ld,
                            __global const float *b, const int b_off,
                            __global const float *c_in, const int ci_off, const int ci_ld,
                            __global float *c_out, const int co_off, const int co_ld,
                            __global float *h_out, const int h_off, const int h_ld,
                            __global const float *h_prev, const int hp_off, const int hp_ld,
                            __global float *hp_copy, const int hc_off, const int hc_ld,
                            __global float *h_stage, const int hs_off, const int hs_rs,
                            const int hs_cs,
                            __global float *h_last, const int hl_off,
                            __global float *c_last, const int cl_off)
{
    const int j = get_global_id(0);
    if (j >= H)
        return;
    for (int n = get_global_id(1); n < N; n += get_global_size(1)) {
        __global const float *a = gates + g_off + n * g_ld;
        __global const float *bb = b + b_off;
        float ai = a[j] + bb[j], af = a[H + j] + bb[H + j];
        float ao = a[2 * H + j] + bb[2 * H + j], ag = a[3 * H + j] + bb[3 * H + j];
        if (rec) {
            __global const float *r = rec + rec_off + n * rec_ld;
            ai += r[j], af += r[H + j], ao += r[2 * H + j], ag += r[3 * H + j];
        }
        cell_fwd_store(n, j, H, ai, af, ao, ag, gates, g_off, g_ld, store_gates, c_in, ci_off,
                       ci_ld, c_out, co_off, co_ld, h_out, h_off, h_ld, h_prev, hp_off, hp_ld,
                       hp_copy, hc_off, hc_ld, h_stage, hs_off, hs_rs, hs_cs, h_last, hl_off,
                       c_last, cl_off);
    }
}

/* The backward cell math of row n, unit j, given rec, the gradient reaching
 * h_t from step t+1; as lstm_bwd_step below describes. */
static inline void cell_bwd_store(const int n, const int j, const int H, const float rec,
                                  __global const float *dh, const int dh_off, const int dh_ld,
                                  __global float *dc, const int dc_off,
                                  __global const float *gates, const int g_off, const int g_ld,
                                  __global const float *c, const int c_off, const int c_ld,
                                  __global const float *c_prev, const int cp_off, const int cp_ld,
                                  __global float *da, const int da_off, const int da_ld,
                                  __global float *da_stage, const int ds_off, const int ds_rs,
                                  const int ds_cs)
{
    __global const float *a = gates + g_off + n * g_ld;
    const float i = a[j], f = a[H + j], o = a[2 * H + j], g = a[3 * H + j];
    const float ct = c[c_off + n * c_ld + j];
    const float cp = c_prev ? c_prev[cp_off + n * cp_ld + j] : 0.0f;
    const float tc = tanh(ct);
    const float dht = dh[dh_off + n * dh_ld + j] + rec;
    const float dct = dc[dc_off + n * H + j] + dht * o * (1.0f - tc * tc);
    const float d_i = i * (1.0f - i) * (dct * g), d_f = f * (1.0f - f) * (dct * cp);
    const float d_o = o * (1.0f - o) * (dht * tc), d_g = (1.0f - g * g) * (dct * i);

    dc[dc_off + n * H + j] = dct * f;
    __global float *d = da + da_off + n * da_ld;
    d[j] = d_i;
    d[H + j] = d_f;
    d[2 * H + j] = d_o;
    d[3 * H + j] = d_g;
    if (da_stage) {
        __global float *s = da_stage + ds_off + n * ds_rs;
        s[j * ds_cs] = d_i;
        s[(H + j) * ds_cs] = d_f;
        s[(2 * H + j) * ds_cs] = d_o;
        s[(3 * H + j) * ds_cs] = d_g;
    }
}

/* One backward step.
 *   dh: the loss's gradient w.r.t. h_t from outside the recurrence.
 *   dh_rec: the gradient reaching h_t from step t+1 (an (N,H) view).
 *   dc: (N,H) contiguous; in: dL/dc_t from step t+1; out: dL/dc_{t-1}.
 *   gates, c: what the forward kept for step t; c_prev: c_{t-1}, or NULL.
 *   da: out, the gradient w.r.t. the pre-activations a (4H); da_stage, when
 *       not NULL, gets it too as a strided view (the GEMM input of the step). */
__kernel void lstm_bwd_step(const int N, const int H,
                            __global const float *dh, const int dh_off, const int dh_ld,
                            __global const float *dh_rec, const int dr_off, const int dr_ld,
                            __global float *dc, const int dc_off,
                            __global const float *gates, const int g_off, const int g_ld,
                            __global const float *c, const int c_off, const int c_ld,
                            __global const float *c_prev, const int cp_off, const int cp_ld,
                            __global float *da, const int da_off, const int da_ld,
                            __global float *da_stage, const int ds_off, const int ds_rs,
                            const int ds_cs)
{
    const int j = get_global_id(0);
    if (j >= H)
        return;
    for (int n = get_global_id(1); n < N; n += get_global_size(1))
        cell_bwd_store(n, j, H, dh_rec[dr_off + n * dr_ld + j], dh, dh_off, dh_ld, dc, dc_off,
                       gates, g_off, g_ld, c, c_off, c_ld, c_prev, cp_off, cp_ld, da, da_off,
                       da_ld, da_stage, ds_off, ds_rs, ds_cs);
}

/* First stage of column sums: part[p*cols + k] = sum of m[r*cols + k] over
 * the rows r of chunk p (rows p*chunk .. p*chunk + chunk - 1), in row order.
 * Work-item (k, p). */
__kernel void lstm_colsum_part(const int rows, const int cols, const int chunk,
                               __global const float *m, const int m_off,
                               __global float *part, const int part_off)
{
    const int k = get_global_id(0);
    if (k >= cols)
        return;
    for (int p = get_global_id(1); p * chunk < rows; p += get_global_size(1)) {
        const int end = rows - p * chunk < chunk ? rows : p * chunk + chunk;
        float s = 0.0f;
        for (int r = p * chunk; r < end; r++)
            s += m[m_off + r * cols + k];
        part[part_off + p * cols + k] = s;
    }
}

/* Second stage: out[k] (+)= sum of the parts of column k, in order, so the
 * result is the same on every run and every device. */
__kernel void lstm_colsum_final(const int parts, const int cols,
                                __global const float *part, const int part_off,
                                __global float *out, const int out_off, const int accumulate)
{
    const int k = get_global_id(0);
    if (k >= cols)
        return;
    float s = 0.0f;
    for (int p = 0; p < parts; p++)
        s += part[part_off + p * cols + k];
    out[out_off + k] = accumulate ? out[out_off + k] + s : s;
}

/* dst(r, k) = src(r, k) for r < rows, k < cols, both strided views; a NULL
 * src gives zeros.  Work-item (k, r). */
__kernel void lstm_copy_view(const int rows, const int cols,
                             __global const float *src, const int s_off, const int s_rs,
                             const int s_cs,
                             __global float *dst, const int d_off, const int d_rs, const int d_cs)
{
    const int k = get_global_id(0);
    if (k >= cols)
        return;
    for (int r = get_global_id(1); r < rows; r += get_global_size(1))
        dst[d_off + r * d_rs + k * d_cs] = src ? src[s_off + r * s_rs + k * s_cs] : 0.0f;
}

/* Between a caller's padded tensor U and a packed one Q (rows of `cols`
 * floats, q_ld apart), for per-sequence lengths.  Row u < rows of U is
 * (n, t) = (u / tq, u % tq) at u_off + n·u_sn + t·u_st; idx[i_off + u] is
 * its row in Q, or -1 where it has none (a step past its sequence's end).
 *   mode 0: Q[idx[u]]  = U[u]          (gather)
 *   mode 1: U[u]       = Q[idx[u]] or 0 (scatter, zeros where none)
 *   mode 2: Q[idx[u]] += U[u]
 *   mode 3: U[u]      += Q[idx[u]]      (nothing where none)
 * Each row of Q is named by at most one u, so no two work-items meet.
 * Work-item (k, u). */
__kernel void lstm_map_rows(const int rows, const int cols, const int mode,
                            __global const int *idx, const int i_off,
                            __global float *U, const int u_off, const int tq, const int u_sn,
                            const int u_st,
                            __global float *Q, const int q_off, const int q_ld)
{
    const int k = get_global_id(0);
    if (k >= cols)
        return;
    for (int u = get_global_id(1); u < rows; u += get_global_size(1)) {
        const int q = idx[i_off + u];
        const int ua = u_off + (u / tq) * u_sn + (u % tq) * u_st + k;
        const int qa = q_off + q * q_ld + k;
        if (mode == 0 && q >= 0)
            Q[qa] = U[ua];
        else if (mode == 1)
            U[ua] = q >= 0 ? Q[qa] : 0.0f;
        else if (mode == 2 && q >= 0)
            Q[qa] += U[ua];
        else if (mode == 3 && q >= 0)
            U[ua] += Q[qa];
    }
}

/* y[i] += x[i] for i < count. */
__kernel void lstm_add(const int count, __global const float *x, const int x_off,
                       __global float *y, const int y_off)
{
    for (int i = get_global_id(0); i < count; i += get_global_size(0))
        y[y_off + i] += x[x_off + i];
}
