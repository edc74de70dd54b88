/* Planted: a warning (an unused variable) fails the check too. */
__kernel void planted(__global float *p)
{
    int unused = 3;
    p[0] = 1.0f;
}
