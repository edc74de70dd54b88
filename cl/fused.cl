/* lstmcl: per-step kernels that fuse the recurrent matrix product with the
 * gate and cell math (OpenCL C 1.2), for devices where a general GEMM per
 * step is slow (CPUs through PoCL).
 *
 * A work-item owns VW consecutive hidden units j0..j0+VW-1 and walks over the
 * batch rows RB at a time, from row RB·get_global_id(1) in steps of RB times
 * the global size along dimension 1.  The weights
 * are first packed (lstm_pack_fwd, lstm_pack_bwd) so that each work-item
 * streams one contiguous panel, zero-padded past H.  Sums run in a fixed
 * order, so results are the same on every run.  Multiply-adds are written
 * a*b + c, which OpenCL C contracts to FMA where the device has it (PoCL
 * compiles mad() to a separate multiply and add).  The file ends with the
 * float16 elementwise step kernels of the GEMM path on CPU devices. */

#define VW 16
#define RB 4

/* VW consecutive floats p[j0..], zero at and past column H. */
static inline float16 load_cols(__global const float *p, const int j0, const int H)
{
    if (j0 + VW <= H)
        return vload16(0, p + j0);
    float t[VW];
    for (int q = 0; q < VW; q++)
        t[q] = j0 + q < H ? p[j0 + q] : 0.0f;
    return vload16(0, t);
}

/* Packs W (H, 4H) for lstm_fwd_fused:
 *   P[((jb*H + k)*4 + gate)*VW + v] = W[k, gate*H + jb*VW + v]   (0 past H)
 * Work-item (j, k) with j over the padded units; k walks in steps of the
 * global size along dimension 1. */
__kernel void lstm_pack_fwd(const int H, __global const float *W, const int w_off,
                            __global float *P, const int p_off)
{
    const int j = get_global_id(0);
    const int Hp = (H + VW - 1) / VW * VW;
    if (j >= Hp)
        return;
    const int jb = j / VW, v = j % VW;
    for (int k = get_global_id(1); k < H; k += get_global_size(1)) {
        __global float *out = P + p_off + (jb * H + k) * 4 * VW + v;
        for (int g = 0; g < 4; g++)
            out[g * VW] = j < H ? W[w_off + k * 4 * H + g * H + j] : 0.0f;
    }
}

/* Packs W (H, 4H) transposed for lstm_bwd_fused:
 *   P[(jb*4H + q)*VW + v] = W[jb*VW + v, q]   (0 past H)
 * Work-item (j, q). */
__kernel void lstm_pack_bwd(const int H, __global const float *W, const int w_off,
                            __global float *P, const int p_off)
{
    const int j = get_global_id(0);
    const int Hp = (H + VW - 1) / VW * VW;
    if (j >= Hp)
        return;
    for (int q = get_global_id(1); q < 4 * H; q += get_global_size(1))
        P[p_off + ((j / VW) * 4 * H + q) * VW + j % VW] = j < H ? W[w_off + j * 4 * H + q] : 0.0f;
}

/* Stores the VW values of v at p[j0..], those below column H. */
static inline void store_cols(const float16 v, __global float *p, const int j0, const int H)
{
    if (j0 + VW <= H) {
        vstore16(v, 0, p + j0);
    } else {
        float t[VW];
        vstore16(v, 0, t);
        for (int q = 0; q < VW && j0 + q < H; q++)
            p[j0 + q] = t[q];
    }
}

/* The gate and cell math of row n, units j0.. (below H), from the
 * pre-activations, on whole vectors; as lstm_fwd_step in cl/lstm.cl. */
static inline void cell(const int n, const int j0, const int H, const float16 ai, const float16 af,
                 const float16 ao, const float16 ag, __global float *gates, const int g_ld,
                 const int store_gates, __global const float *h_prev, const int hp_off,
                 const int hp_ld, __global const float *c_in, const int ci_off, const int ci_ld,
                 __global float *c_out, const int co_off, const int co_ld, __global float *h_out,
                 const int h_off, const int h_ld, __global float *hp_copy, const int hc_off,
                 const int hc_ld, __global float *h_last, const int hl_off,
                 __global float *c_last, const int cl_off)
{
    const float16 one = (float16)(1.0f);
    const float16 i = one / (one + exp(-ai)), f = one / (one + exp(-af));
    const float16 o = one / (one + exp(-ao)), g = tanh(ag);
    const float16 cp = c_in ? load_cols(c_in + ci_off + n * ci_ld, j0, H) : (float16)(0.0f);
    const float16 c = f * cp + i * g;
    const float16 h = o * tanh(c);
    if (store_gates) {
        __global float *a = gates + n * g_ld;
        store_cols(i, a, j0, H);
        store_cols(f, a + H, j0, H);
        store_cols(o, a + 2 * H, j0, H);
        store_cols(g, a + 3 * H, j0, H);
    }
    if (hp_copy)
        store_cols(h_prev ? load_cols(h_prev + hp_off + n * hp_ld, j0, H) : (float16)(0.0f),
                   hp_copy + hc_off + n * hc_ld, j0, H);
    store_cols(c, c_out + co_off + n * co_ld, j0, H);
    store_cols(h, h_out + h_off + n * h_ld, j0, H);
    if (h_last)
        store_cols(h, h_last + hl_off + n * H, j0, H);
    if (c_last)
        store_cols(c, c_last + cl_off + n * H, j0, H);
}

/* Forward step t.  For every row n and unit j:
 *   a = gates[n] (x·Wx, without b) + b + h_prev[n]·Wh     (h_prev NULL: zeros)
 * with Wh packed by lstm_pack_fwd into P; then the cell math (cell above). */
__kernel void lstm_fwd_fused(const int N, const int H,
                             __global const float *h_prev, const int hp_off, const int hp_ld,
                             __global const float *P, const int p_off,
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
    const int n_begin = get_global_id(1) * RB, n_step = get_global_size(1) * RB;
    if (j0 >= H)
        return;
    __global const float *panel = P + p_off + j0 * H * 4;
    const float16 bi = load_cols(b + b_off, j0, H), bf = load_cols(b + b_off + H, j0, H);
    const float16 bo = load_cols(b + b_off + 2 * H, j0, H);
    const float16 bg = load_cols(b + b_off + 3 * H, j0, H);

    for (int n0 = n_begin; n0 < N; n0 += n_step) {
        const int rows = N - n0 < RB ? N - n0 : RB;
        /* rows past N repeat row n0; their results are not stored */
        const int n1 = n0 + (rows > 1), n2 = n0 + (rows > 2 ? 2 : 0), n3 = n0 + (rows > 3 ? 3 : 0);
        __global const float *a0 = gates + g_off + n0 * g_ld, *a1 = gates + g_off + n1 * g_ld;
        __global const float *a2 = gates + g_off + n2 * g_ld, *a3 = gates + g_off + n3 * g_ld;
#define LOADA(r) \
        float16 i##r = load_cols(a##r, j0, H) + bi, f##r = load_cols(a##r + H, j0, H) + bf; \
        float16 o##r = load_cols(a##r + 2 * H, j0, H) + bo; \
        float16 g##r = load_cols(a##r + 3 * H, j0, H) + bg;
        LOADA(0) LOADA(1) LOADA(2) LOADA(3)
#undef LOADA
        if (h_prev) {
            __global const float *p0 = h_prev + hp_off + n0 * hp_ld;
            __global const float *p1 = h_prev + hp_off + n1 * hp_ld;
            __global const float *p2 = h_prev + hp_off + n2 * hp_ld;
            __global const float *p3 = h_prev + hp_off + n3 * hp_ld;
            for (int k = 0; k < H; k++) {
                __global const float *wk = panel + k * 4 * VW;
                const float16 wi = vload16(0, wk), wf = vload16(1, wk);
                const float16 wo = vload16(2, wk), wg = vload16(3, wk);
#define FMA4(r) { const float16 h = (float16)(p##r[k]); \
                i##r += h * wi; f##r += h * wf; \
                o##r += h * wo; g##r += h * wg; }
                FMA4(0) FMA4(1) FMA4(2) FMA4(3)
#undef FMA4
            }
        }
#define CELL(r) if (r < rows) cell(n0 + r, j0, H, i##r, f##r, o##r, g##r, gates + g_off, g_ld, \
            store_gates, h_prev, hp_off, hp_ld, c_in, ci_off, ci_ld, c_out, co_off, co_ld, \
            h_out, h_off, h_ld, hp_copy, hc_off, hc_ld, h_last, hl_off, c_last, cl_off);
        CELL(0) CELL(1) CELL(2) CELL(3)
#undef CELL
    }
}

/* The backward cell math of row n, units j0.. (below H), given the gradient
 * rec reaching h_{t-1}, on whole vectors; as lstm_bwd_step in cl/lstm.cl. */
static inline void cell_bwd(const int n, const int j0, const int H, const float16 rec,
                     __global const float *dh, const int dh_off, const int dh_ld,
                     __global float *dc, const int dc_off,
                     __global const float *gates, const int g_off, const int g_ld,
                     __global const float *c, const int c_off, const int c_ld,
                     __global const float *c_prev, const int cp_off, const int cp_ld,
                     __global float *da_out, const int da_off, const int da_ld)
{
    const float16 one = (float16)(1.0f);
    __global const float *a = gates + g_off + n * g_ld;
    __global float *e = da_out + da_off + n * da_ld;
    const float16 i = load_cols(a, j0, H), f = load_cols(a + H, j0, H);
    const float16 o = load_cols(a + 2 * H, j0, H), g = load_cols(a + 3 * H, j0, H);
    const float16 ct = load_cols(c + c_off + n * c_ld, j0, H);
    const float16 cp = c_prev ? load_cols(c_prev + cp_off + n * cp_ld, j0, H) : (float16)(0.0f);
    const float16 tc = tanh(ct);
    const float16 dht = load_cols(dh + dh_off + n * dh_ld, j0, H) + rec;
    const float16 dct = load_cols(dc + dc_off + n * H, j0, H) + dht * o * (one - tc * tc);
    store_cols(dct * f, dc + dc_off + n * H, j0, H);
    store_cols(i * (one - i) * (dct * g), e, j0, H);
    store_cols(f * (one - f) * (dct * cp), e + H, j0, H);
    store_cols(o * (one - o) * (dht * tc), e + 2 * H, j0, H);
    store_cols((one - g * g) * (dct * i), e + 3 * H, j0, H);
}

/* Backward across one step boundary.  With da_t (the gradient w.r.t. step t's
 * pre-activations) and Wh packed by lstm_pack_bwd into P:
 *   r[n, j] = sum over q of da_t[n, q] · Wh[j, q]     (the gradient reaching h_{t-1})
 * Rows from n_rec on (n_rec <= N) take r = 0: with per-sequence lengths they
 * have no step t.
 * When da_out is NULL, r is written to out (dh0).  Otherwise the cell math of
 * step t-1 follows at once (cell_bwd above). */
__kernel void lstm_bwd_fused(const int N, const int H, const int n_rec,
                             __global const float *da_t, const int dt_off, const int dt_ld,
                             __global const float *P, const int p_off,
                             __global float *out, const int out_off,
                             __global const float *dh, const int dh_off, const int dh_ld,
                             __global float *dc, const int dc_off,
                             __global const float *gates, const int g_off, const int g_ld,
                             __global const float *c, const int c_off, const int c_ld,
                             __global const float *c_prev, const int cp_off, const int cp_ld,
                             __global float *da_out, const int da_off, const int da_ld)
{
    const int j0 = get_global_id(0) * VW;
    const int n_begin = get_global_id(1) * RB, n_step = get_global_size(1) * RB;
    if (j0 >= H)
        return;
    const int G = 4 * H;
    __global const float *panel = P + p_off + j0 * G;

    for (int n0 = n_begin; n0 < N; n0 += n_step) {
        const int rows = N - n0 < RB ? N - n0 : RB;
        /* rows from n_rec on have no da_t (they end at step t-1): they read a
         * live row, and their r is zeroed below */
        const int live = n_rec - n0 < 0 ? 0 : n_rec - n0 < rows ? n_rec - n0 : rows;
        const int nb = live > 0 ? n0 : 0;
        const int n1 = nb + (live > 1), n2 = nb + (live > 2 ? 2 : 0), n3 = nb + (live > 3 ? 3 : 0);
        __global const float *d0 = da_t + dt_off + nb * dt_ld, *d1 = da_t + dt_off + n1 * dt_ld;
        __global const float *d2 = da_t + dt_off + n2 * dt_ld, *d3 = da_t + dt_off + n3 * dt_ld;
        /* two sums a row, over even and odd q (G is even), so that eight
         * independent chains of multiply-adds hide their latency */
        float16 r0 = (float16)(0.0f), r1 = r0, r2 = r0, r3 = r0;
        float16 s0 = r0, s1 = r0, s2 = r0, s3 = r0;
        for (int q = 0; q < G; q += 2) {
            const float16 w = vload16(q, panel), v = vload16(q + 1, panel);
            r0 += (float16)(d0[q]) * w;
            r1 += (float16)(d1[q]) * w;
            r2 += (float16)(d2[q]) * w;
            r3 += (float16)(d3[q]) * w;
            s0 += (float16)(d0[q + 1]) * v;
            s1 += (float16)(d1[q + 1]) * v;
            s2 += (float16)(d2[q + 1]) * v;
            s3 += (float16)(d3[q + 1]) * v;
        }
        r0 += s0, r1 += s1, r2 += s2, r3 += s3;
        if (live < 1)
            r0 = (float16)(0.0f);
        if (live < 2)
            r1 = (float16)(0.0f);
        if (live < 3)
            r2 = (float16)(0.0f);
        if (live < 4)
            r3 = (float16)(0.0f);
#define OUT(R_) \
        if (R_ < rows) { \
            if (da_out) \
                cell_bwd(n0 + R_, j0, H, r##R_, dh, dh_off, dh_ld, dc, dc_off, gates, g_off, g_ld, \
                         c, c_off, c_ld, c_prev, cp_off, cp_ld, da_out, da_off, da_ld); \
            else { \
                float v[VW]; \
                vstore16(r##R_, 0, v); \
                for (int q = 0; q < VW && j0 + q < H; q++) \
                    out[out_off + (n0 + R_) * H + j0 + q] = v[q]; \
            } \
        }
        OUT(0) OUT(1) OUT(2) OUT(3)
#undef OUT
    }
}

/* lstm_fwd_step (cl/lstm.cl) on whole vectors, for CPU devices, with the
 * same arguments: work-item (jb, r) owns units VW·jb.. (below H) of rows r,
 * r + the global size along dimension 1, and so on.  PoCL compiles the float16
 * math to SIMD code; the scalar kernel, exp and tanh included, stays scalar
 * code under PoCL (no ymm or zmm register in its machine code). */
__kernel void lstm_fwd_step_vec(const int N, const int H,
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
    const int j0 = get_global_id(0) * VW;
    if (j0 >= H)
        return;
    const float16 bi = load_cols(b + b_off, j0, H), bf = load_cols(b + b_off + H, j0, H);
    const float16 bo = load_cols(b + b_off + 2 * H, j0, H);
    const float16 bg = load_cols(b + b_off + 3 * H, j0, H);
    for (int n = get_global_id(1); n < N; n += get_global_size(1)) {
        __global const float *a = gates + g_off + n * g_ld;
        float16 ai = load_cols(a, j0, H) + bi, af = load_cols(a + H, j0, H) + bf;
        float16 ao = load_cols(a + 2 * H, j0, H) + bo, ag = load_cols(a + 3 * H, j0, H) + bg;
        if (rec) {
            __global const float *r = rec + rec_off + n * rec_ld;
            ai += load_cols(r, j0, H), af += load_cols(r + H, j0, H);
            ao += load_cols(r + 2 * H, j0, H), ag += load_cols(r + 3 * H, j0, H);
        }
        cell(n, j0, H, ai, af, ao, ag, gates + g_off, g_ld, store_gates, h_prev, hp_off, hp_ld,
             c_in, ci_off, ci_ld, c_out, co_off, co_ld, h_out, h_off, h_ld, hp_copy, hc_off,
             hc_ld, h_last, hl_off, c_last, cl_off);
        if (h_stage) /* a work-item reads back what it wrote */
            for (int q = 0; q < VW && j0 + q < H; q++)
                h_stage[hs_off + n * hs_rs + (j0 + q) * hs_cs] = h_out[h_off + n * h_ld + j0 + q];
    }
}

/* lstm_bwd_step (cl/lstm.cl) on whole vectors, for CPU devices, with the
 * same arguments; work-items as in lstm_fwd_step_vec. */
__kernel void lstm_bwd_step_vec(const int N, const int H,
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
    const int j0 = get_global_id(0) * VW;
    if (j0 >= H)
        return;
    for (int n = get_global_id(1); n < N; n += get_global_size(1)) {
        cell_bwd(n, j0, H, load_cols(dh_rec + dr_off + n * dr_ld, j0, H), dh, dh_off, dh_ld, dc,
                 dc_off, gates, g_off, g_ld, c, c_off, c_ld, c_prev, cp_off, cp_ld, da, da_off,
                 da_ld);
        if (da_stage) {
            __global const float *d = da + da_off + n * da_ld;
            __global float *s = da_stage + ds_off + n * ds_rs;
            for (int q = 0; q < 4 * VW; q++) {
                const int col = (q / VW) * H + j0 + q % VW;
                if (j0 + q % VW < H)
                    s[col * ds_cs] = d[col];
            }
        }
    }
}
