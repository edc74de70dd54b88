/* lstmcl: kernels for training around the LSTM layers (OpenCL C 1.2):
 * embedding lookup and its gradient, softmax cross-entropy, bias rows,
 * sums of squares, and the Adam update.  Every reduction runs in a fixed
 * order, so results are the same on every run. */

/* out[i, :] = table[tokens[i], :]; a token outside [0, V) gives zeros. */
__kernel void lstm_embed_fwd(const int n, const int D, const int V,
                             __global const int *tokens, const int t_off,
                             __global const float *table, const int tb_off,
                             __global float *out, const int o_off)
{
    const int d = get_global_id(0), i = get_global_id(1);
    if (d >= D || i >= n)
        return;
    const int v = tokens[t_off + i];
    out[o_off + i * D + d] = (v >= 0 && v < V) ? table[tb_off + v * D + d] : 0.0f;
}

/* dtable[v, d] (+)= sum of dout[i, d] over the i with tokens[i] == v, in
 * order of i.  Work-item (d, v). */
__kernel void lstm_embed_bwd(const int n, const int D, const int V,
                             __global const int *tokens, const int t_off,
                             __global const float *dout, const int o_off,
                             __global float *dtable, const int tb_off, const int accumulate)
{
    const int d = get_global_id(0), v = get_global_id(1);
    if (d >= D || v >= V)
        return;
    float s = 0.0f;
    for (int i = 0; i < n; i++)
        if (tokens[t_off + i] == v)
            s += dout[o_off + i * D + d];
    __global float *p = dtable + tb_off + v * D + d;
    *p = accumulate ? *p + s : s;
}

/* m[i, :] += b for every row i.  Work-item (k, i). */
__kernel void lstm_add_bias(const int rows, const int cols, __global float *m, const int m_off,
                            __global const float *b, const int b_off)
{
    const int k = get_global_id(0), i = get_global_id(1);
    if (k < cols && i < rows)
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

/* partial[g] = sum of x[i]^2 over chunk g (chunk elements, in order). */
__kernel void lstm_sum_squares(const int count, const int chunk, __global const float *x,
                               const int x_off, __global float *partial)
{
    const int g = get_global_id(0);
    const int begin = g * chunk;
    if (begin >= count)
        return;
    const int end = begin + chunk < count ? begin + chunk : count;
    float s = 0.0f;
    for (int i = begin; i < end; i++)
        s += x[x_off + i] * x[x_off + i];
    partial[g] = s;
}

/* Adam, with the gradient multiplied by grad_scale first (for clipping):
 *   m = b1·m + (1-b1)·g;  v = b2·v + (1-b2)·g²
 *   p -= lr_t · m / (sqrt(v) + eps_t)
 * where lr_t and eps_t carry the bias corrections (computed on the host). */
__kernel void lstm_adam(const int count, __global float *p, const int p_off,
                        __global const float *g, const int g_off,
                        __global float *m, const int m_off, __global float *v, const int v_off,
                        const float lr_t, const float b1, const float b2, const float eps_t,
                        const float grad_scale)
{
    const int i = get_global_id(0);
    if (i >= count)
        return;
    const float gi = g[g_off + i] * grad_scale;
    const float mi = b1 * m[m_off + i] + (1.0f - b1) * gi;
    const float vi = b2 * v[v_off + i] + (1.0f - b2) * gi * gi;
    m[m_off + i] = mi;
    v[v_off + i] = vi;
    p[p_off + i] -= lr_t * mi / (sqrt(vi) + eps_t);
}
