/* Planted: double precision needs cl_khr_fp64, which lstmcl does not require. */
__kernel void planted(__global float *p)
{
    double s = p[0];
    p[0] = (float)(s * s);
}
