/* Planted: work-group reductions are OpenCL C 2.0. */
__kernel void planted(__global float *p)
{
    p[get_global_id(0)] = work_group_reduce_add(p[get_global_id(0)]);
}
