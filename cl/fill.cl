/* Buffer fills as a kernel rather than clEnqueueFillBuffer: simulators such as Oclgrind
 * track what kernels write but report memory set by a fill command as uninitialised. */
__kernel void lp_fill_float(__global float *buf, int offset, int n, float value) {
    int i = get_global_id(0);
    if (i < n) buf[offset + i] = value;
}
