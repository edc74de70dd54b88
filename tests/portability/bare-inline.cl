/* Planted: a helper declared inline without static has no out-of-line
 * definition under C99 rules; where it is not inlined the program does not
 * link (the failure of cell() in cl/fused.cl before it was made static). */
inline float twice(float x)
{
    return 2.0f * x;
}

__kernel void planted(__global float *p)
{
    p[get_global_id(0)] = twice(p[get_global_id(0)]);
}
