/* lstmcl: per-step kernels shaped for GPUs (OpenCL C 1.2): the recurrent
 * matrix product and the cell math in one launch, a work-group per tile of
 * TU hidden units and R batch rows.
 *
 * A work-group has 4·TU work-items.  In the forward, work-item l owns column
 * l of the tile's packed panel of Wh (gate l/TU, unit l%TU): it reads one
 * float of the panel per k, and the group reads consecutive floats
 * (coalesced).  h_{t-1} for the R rows is staged in local memory, KC columns
 * at a time.  The 4·TU·R sums then meet in local memory, and each (row, unit)
 * gets its cell math.  In the backward, work-item (s, u) sums the gate block
 * s of q for unit u; the four blocks are added in a fixed order.  TU, R and
 * KC are chosen by the host from the device's work-group size, local memory
 * and compute units; R is at most RMAX.  Sums run in a fixed order, so
 * results are the same on every run.  The cell math is cl/lstm.cl's. */

#define RMAX 8

/* Packs W (H, 4H) for lstm_fwd_tiled:
 *   P[(tile*H + k)*4*TU + g*TU + u] = W[k, g*H + tile*TU + u]   (0 past H)
 * Work-item (c, k), c over tiles·4·TU. */
__kernel void lstm_pack_tiled_fwd(const int H, const int TU,
                                  __global const float *W, const int w_off,
                                  __global float *P, const int p_off)
{
    const int c = get_global_id(0);
    const int tiles = (H + TU - 1) / TU;
    if (c >= tiles * 4 * TU)
        return;
    const int tile = c / (4 * TU), g = (c / TU) % 4, u = c % TU, j = tile * TU + u;
    for (int k = get_global_id(1); k < H; k += get_global_size(1))
        P[p_off + (tile * H + k) * 4 * TU + g * TU + u] =
            j < H ? W[w_off + k * 4 * H + g * H + j] : 0.0f;
}

/* Packs W (H, 4H) transposed for lstm_bwd_tiled:
 *   P[(tile*4H + q)*TU + u] = W[tile*TU + u, q]   (0 past H)
 * Work-item (c, q), c over tiles·TU. */
__kernel void lstm_pack_tiled_bwd(const int H, const int TU,
                                  __global const float *W, const int w_off,
                                  __global float *P, const int p_off)
{
    const int c = get_global_id(0);
    const int tiles = (H + TU - 1) / TU;
    if (c >= tiles * TU)
        return;
    const int tile = c / TU, u = c % TU, j = tile * TU + u;
    for (int q = get_global_id(1); q < 4 * H; q += get_global_size(1))
        P[p_off + (tile * 4 * H + q) * TU + u] = j < H ? W[w_off + j * 4 * H + q] : 0.0f;
}

/* Forward step t:  a = gates[n] (x·Wx, without b) + b + h_prev[n]·Wh, with
 * Wh packed by lstm_pack_tiled_fwd into P (h_prev NULL: zeros), then the
 * cell math, with the arguments of lstm_fwd_step.
 *   hl: R·KC floats; acc: R·4·TU floats. */
__kernel void lstm_fwd_tiled(const int N, const int H, const int TU, const int R, const int KC,
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
                             __global float *c_last, const int cl_off,
                             __local float *hl, __local float *acc)
{
    const int lid = get_local_id(0), ls = 4 * TU, tile = get_group_id(0);
    __global const float *panel = P + p_off + tile * H * ls;

    for (int rb = get_group_id(1); rb * R < N; rb += get_num_groups(1)) {
        const int n0 = rb * R;
        float s[RMAX];
        for (int r = 0; r < RMAX; r++)
            s[r] = 0.0f;
        if (h_prev) {
            for (int k0 = 0; k0 < H; k0 += KC) {
                const int kc = H - k0 < KC ? H - k0 : KC;
                for (int e = lid; e < R * KC; e += ls) {
                    const int r = e / KC, kk = e % KC;
                    hl[e] = n0 + r < N && kk < kc ? h_prev[hp_off + (n0 + r) * hp_ld + k0 + kk]
                                                  : 0.0f;
                }
                barrier(CLK_LOCAL_MEM_FENCE);
                for (int kk = 0; kk < kc; kk++) {
                    const float w = panel[(k0 + kk) * ls + lid];
                    for (int r = 0; r < RMAX; r++)
                        if (r < R)
                            s[r] += hl[r * KC + kk] * w;
                }
                barrier(CLK_LOCAL_MEM_FENCE);
            }
        }
        for (int r = 0; r < RMAX; r++)
            if (r < R)
                acc[r * ls + lid] = s[r];
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int e = lid; e < R * TU; e += ls) {
            const int r = e / TU, u = e % TU, n = n0 + r, j = tile * TU + u;
            if (n < N && j < H) {
                __global const float *a = gates + g_off + n * g_ld;
                __local const float *q = acc + r * ls + u;
                const float ai = a[j] + b[b_off + j] + q[0];
                const float af = a[H + j] + b[b_off + H + j] + q[TU];
                const float ao = a[2 * H + j] + b[b_off + 2 * H + j] + q[2 * TU];
                const float ag = a[3 * H + j] + b[b_off + 3 * H + j] + q[3 * TU];
                cell_fwd_store(n, j, H, ai, af, ao, ag, gates, g_off, g_ld, store_gates, c_in,
                               ci_off, ci_ld, c_out, co_off, co_ld, h_out, h_off, h_ld, h_prev,
                               hp_off, hp_ld, hp_copy, hc_off, hc_ld, 0, 0, 0, 0, h_last,
                               hl_off, c_last, cl_off);
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

/* Backward across one step boundary.  With da_t (the gradient w.r.t. step
 * t's pre-activations) and Wh packed by lstm_pack_tiled_bwd into P:
 *   r[n, j] = sum over q of da_t[n, q] · Wh[j, q]   (the gradient reaching h_{t-1})
 * Rows from n_rec on (n_rec <= N) take r = 0: with per-sequence lengths they
 * have no step t.
 * When da_out is NULL, r is written to out ((N,H) contiguous: dh0).
 * Otherwise the cell math of step t-1 follows, with the arguments of
 * lstm_bwd_step.   dl: R·4·KC floats; red: R·4·TU floats. */
__kernel void lstm_bwd_tiled(const int N, const int H, const int n_rec, const int TU, const int R,
                             const int KC, __global const float *da_t, const int dt_off, const int dt_ld,
                             __global const float *P, const int p_off,
                             __global float *out, const int out_off,
                             __global const float *dh, const int dh_off, const int dh_ld,
                             __global float *dc, const int dc_off,
                             __global const float *gates, const int g_off, const int g_ld,
                             __global const float *c, const int c_off, const int c_ld,
                             __global const float *c_prev, const int cp_off, const int cp_ld,
                             __global float *da_out, const int da_off, const int da_ld,
                             __local float *dl, __local float *red)
{
    const int lid = get_local_id(0), ls = 4 * TU, tile = get_group_id(0);
    const int blk = lid / TU, u = lid % TU;
    __global const float *panel = P + p_off + tile * 4 * H * TU;

    for (int rb = get_group_id(1); rb * R < N; rb += get_num_groups(1)) {
        const int n0 = rb * R;
        float s[RMAX];
        for (int r = 0; r < RMAX; r++)
            s[r] = 0.0f;
        for (int k0 = 0; k0 < H; k0 += KC) {
            const int kc = H - k0 < KC ? H - k0 : KC;
            for (int e = lid; e < R * 4 * KC; e += ls) {
                const int r = e / (4 * KC), g = (e / KC) % 4, kk = e % KC;
                dl[e] = n0 + r < n_rec && kk < kc
                            ? da_t[dt_off + (n0 + r) * dt_ld + g * H + k0 + kk]
                            : 0.0f;
            }
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int kk = 0; kk < kc; kk++) {
                const float w = panel[(blk * H + k0 + kk) * TU + u];
                for (int r = 0; r < RMAX; r++)
                    if (r < R)
                        s[r] += dl[(r * 4 + blk) * KC + kk] * w;
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        for (int r = 0; r < RMAX; r++)
            if (r < R)
                red[(r * 4 + blk) * TU + u] = s[r];
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int e = lid; e < R * TU; e += ls) {
            const int r = e / TU, v = e % TU, n = n0 + r, j = tile * TU + v;
            if (n < N && j < H) {
                __local const float *q = red + r * 4 * TU + v;
                const float rec = ((q[0] + q[TU]) + q[2 * TU]) + q[3 * TU];
                if (da_out)
                    cell_bwd_store(n, j, H, rec, dh, dh_off, dh_ld, dc, dc_off, gates, g_off, g_ld,
                                   c, c_off, c_ld, c_prev, cp_off, cp_ld, da_out, da_off, da_ld, 0,
                                   0, 0, 0);
                else
                    out[out_off + n * H + j] = rec;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}
