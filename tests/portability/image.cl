/* Planted: images are optional in OpenCL 1.2 (CL_DEVICE_IMAGE_SUPPORT). */
__kernel void planted(__read_only image2d_t img, sampler_t s, __global float4 *p)
{
    p[0] = read_imagef(img, s, (int2)(0, 0));
}
