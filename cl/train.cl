/* lstmcl: kernels for training around the LSTM layers (OpenCL C 1.2):
 * embedding lookup and its gradient, softmax cross-entropy, bias rows,
 * sums of squares, and the Adam update.  Every reduction runs in a fixed
 * order, so results are the same on every run. */

/* out[i, :] = table[tokens[i], :]; a token outside [0, V) gives zeros.
 * Work-item (d, i), i walking in steps of the global size along dimension 1. */
__kernel void lstm_embed_fwd(const int n, const int D, const int V,
                             __global const int *tokens, const int t_off,
                             __global const float *table, const int tb_off,
                             __global float *out, const int o_off)
{
    const int d = get_global_id(0);
    if (d >= D)
        return;
    for (int i = get_global_id(1); i < n; i += get_global_size(1)) {
        const int v = tokens[t_off + i];
        out[o_off + i * D + d] = (v >= 0 && v < V) ? table[tb_off + v * D + d] : 0.0f;
    }
}

/* The embedding's gradient, dtable[v, :] (+)= the sum of dout[i, :] over the
 * i with tokens[i] == v, in order of i, through a stable counting sort of
 * the token positions: O(n·D + V·C) work in all, not O(V·n·D).  The n tokens
 * fall into C chunks of `chunk` tokens.  scratch holds cl_ints:
 *   counts [V·C] (zeroed first), then starts [V + 1], then order [n]. */

/* Pass 1: counts[v*C + p] = how often v occurs in chunk p.  Work-item p. */
__kernel void lstm_embed_count(const int n, const int V, const int chunk, const int C,
                               __global const int *tokens, const int t_off,
                               __global int *scratch)
{
    const int p = get_global_id(0);
    if (p >= C)
        return;
    const int end = n - p * chunk < chunk ? n : p * chunk + chunk;
    for (int i = p * chunk; i < end; i++) {
        const int v = tokens[t_off + i];
        if (v >= 0 && v < V)
            scratch[v * C + p]++;
    }
}

/* Pass 2: for each v, counts[v*C + p] becomes the number of v's before chunk
 * p, and starts[v + 1] the total.  Work-item v. */
__kernel void lstm_embed_scan(const int V, const int C, __global int *scratch)
{
    const int v = get_global_id(0);
    if (v >= V)
        return;
    __global int *counts = scratch + v * C;
    int run = 0;
    for (int p = 0; p < C; p++) {
        const int c = counts[p];
        counts[p] = run;
        run += c;
    }
    scratch[V * C + v + 1] = run;
}

/* Pass 3 (one work-item): starts[v] = the number of tokens below v. */
__kernel void lstm_embed_starts(const int V, const int C, __global int *scratch)
{
    if (get_global_id(0) != 0)
        return;
    __global int *starts = scratch + V * C;
    int run = 0;
    starts[0] = 0;
    for (int v = 0; v < V; v++) {
        run += starts[v + 1];
        starts[v + 1] = run;
    }
}

/* Pass 4: order[starts[v] + rank] = i, for the rank-th i with token v.
 * Work-item p. */
__kernel void lstm_embed_place(const int n, const int V, const int chunk, const int C,
                               __global const int *tokens, const int t_off,
                               __global int *scratch)
{
    const int p = get_global_id(0);
    if (p >= C)
        return;
    __global const int *starts = scratch + V * C;
    __global int *order = scratch + V * C + V + 1;
    const int end = n - p * chunk < chunk ? n : p * chunk + chunk;
    for (int i = p * chunk; i < end; i++) {
        const int v = tokens[t_off + i];
        if (v >= 0 && v < V)
            order[starts[v] + scratch[v * C + p]++] = i;
    }
}

/* Then the sums: dtable[v, d] (+)= sum of dout[order[k], d] for k from
 * starts[v] to starts[v + 1].  Work-item (d, v). */
__kernel void lstm_embed_gather(const int D, const int V, const int C,
                                __global const int *scratch,
                                __global const float *dout, const int o_off,
                                __global float *dtable, const int tb_off, const int accumulate)
{
    const int d = get_global_id(0);
    if (d >= D)
        return;
    __global const int *starts = scratch + V * C;
    __global const int *order = starts + V + 1;
    for (int v = get_global_id(1); v < V; v += get_global_size(1)) {
        float s = 0.0f;
        for (int k = starts[v]; k < starts[v + 1]; k++)
            s += dout[o_off + order[k] * D + d];
        __global float *p = dtable + tb_off + v * D + d;
        *p = accumulate ? *p + s : s;
    }
}

/* m[i, :] += b for every row i.  Work-item (k, i). */
__kernel void lstm_add_bias(const int rows, const int cols, __global float *m, const int m_off,
                            __global const float *b, const int b_off)
{
    const int k = get_global_id(0);
    if (k >= cols)
        return;
    for (int i = get_global_id(1); i < rows; i += get_global_size(1))
        m[m_off + i * cols + k] += b[b_off + k];
}

/* Softmax cross-entropy of each row of logits (rows, V) against targets:
 *   loss[i] = log sum_k exp(z_ik) - z_i,target
 *   dz[i, k] = scale · (softmax(z_i)_k - [k == target])   (when dz is not NULL)
 * A target outside [0, V) gives loss 0 and zero gradient.  One work-item
 * per row. */
__kernel void lstm_softmax_xent(const int rows, const int V,
                                __global const float *z, const int z_off,
                                __global const int *targets, const int t_off,
                                __global float *loss, const int l_off,
                                __global float *dz, const int dz_off, const float scale)
{
    const int i = get_global_id(0);
    if (i >= rows)
        return;
    __global const float *zi = z + z_off + i * V;
    const int t = targets[t_off + i];
    float mx = zi[0];
    for (int k = 1; k < V; k++)
        mx = fmax(mx, zi[k]);
    float s = 0.0f;
    for (int k = 0; k < V; k++)
        s += exp(zi[k] - mx);
    const float lse = mx + log(s);
    const int valid = t >= 0 && t < V;
    loss[l_off + i] = valid ? lse - zi[t] : 0.0f;
    if (dz) {
        __global float *g = dz + dz_off + i * V;
        for (int k = 0; k < V; k++)
            g[k] = valid ? scale * (exp(zi[k] - lse) - (k == t ? 1.0f : 0.0f)) : 0.0f;
    }
}

/* First stage of a sum of squares: partial[g] = sum of x[g + k*parts]^2
 * over k, in order (neighbouring work-items read neighbouring floats). */
__kernel void lstm_sum_squares(const int count, const int parts, __global const float *x,
                               const int x_off, __global float *partial)
{
    const int g = get_global_id(0);
    if (g >= parts)
        return;
    float s = 0.0f;
    for (int i = g; i < count; i += parts)
        s += x[x_off + i] * x[x_off + i];
    partial[g] = s;
}

/* Second stage (one work-item): the parts added in order.  With clip < 0,
 * out[0] = the sum.  Otherwise out[0] = the gradient scale that brings the
 * norm down to clip, min(1, clip / norm) (1 when clip is 0: no clipping),
 * and out[1] = the norm. */
__kernel void lstm_sum_squares_final(const int parts, __global const float *partial,
                                     __global float *out, const int out_off, const float clip)
{
    if (get_global_id(0) != 0)
        return;
    float s = 0.0f;
    for (int g = 0; g < parts; g++)
        s += partial[g];
    if (clip < 0.0f) {
        out[out_off] = s;
        return;
    }
    const float norm = sqrt(s);
    out[out_off] = clip > 0.0f && norm > clip ? clip / norm : 1.0f;
    out[out_off + 1] = norm;
}

/* Adam, with the gradient multiplied by grad_scale first (for clipping),
 * and by scale[scale_off] too when scale is not NULL (a scale computed on
 * the device by lstm_sum_squares_final):
 *   m = b1·m + (1-b1)·g;  v = b2·v + (1-b2)·g²
 *   p -= lr_t · m / (sqrt(v) + eps_t)
 * where lr_t and eps_t carry the bias corrections (computed on the host). */
__kernel void lstm_adam(const int count, __global float *p, const int p_off,
                        __global const float *g, const int g_off,
                        __global float *m, const int m_off, __global float *v, const int v_off,
                        const float lr_t, const float b1, const float b2, const float eps_t,
                        const float grad_scale, __global const float *scale, const int scale_off)
{
    const int i = get_global_id(0);
    if (i >= count)
        return;
    const float gs = scale ? grad_scale * scale[scale_off] : grad_scale;
    const float gi = g[g_off + i] * gs;
    const float mi = b1 * m[m_off + i] + (1.0f - b1) * gi;
    const float vi = b2 * v[v_off + i] + (1.0f - b2) * gi * gi;
    m[m_off + i] = mi;
    v[v_off + i] = vi;
    p[p_off + i] -= lr_t * mi / (sqrt(vi) + eps_t);
}

/* Dropout's mask, counter-based: element i of a tensor is kept when
 *   lstm_hash32(lstm_hash32(i ^ k0) ^ k1) >> 8  >=  thresh
 * (24 bits; thresh = p·2^24, rounded), so the backward recomputes the
 * forward's mask and no mask is stored.  lstm_hash32 is the "lowbias32"
 * integer hash (Chris Wellons).  The keys come from the host
 * (src/stack.c), one pair per training forward and layer. */
static inline uint lstm_hash32(uint x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

/* x[i] = kept ? x[i]·scale : 0, in place; the same call applies the mask to
 * the gradient in the backward.  The mask is drawn for element
 *   g = (i / blk)·blk_stride + base + i % blk
 * of a larger batch (lstmcl_stack_set_dropout_rows); g = i for a whole one. */
__kernel void lstm_dropout(const int count, __global float *x, const int x_off, const uint k0,
                           const uint k1, const uint thresh, const float scale, const uint blk,
                           const uint blk_stride, const uint base)
{
    const int i = get_global_id(0);
    if (i >= count)
        return;
    const uint g = ((uint)i / blk) * blk_stride + base + (uint)i % blk;
    const uint r = lstm_hash32(lstm_hash32(g ^ k0) ^ k1) >> 8;
    x[x_off + i] = r >= thresh ? x[x_off + i] * scale : 0.0f;
}
