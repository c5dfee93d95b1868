/* The device facts `laperm check` reports beside its table: what explains a result
 * (single-precision rounding, denormals, local memory) and what a bug report needs. */
#include <stdio.h>
#include <string.h>

#include "check-impl.h"

static void info_str_(cl_device_id d, cl_device_info what, char *dst, size_t cap) {
    dst[0] = 0;
    if (clGetDeviceInfo(d, what, cap, dst, NULL) != CL_SUCCESS) snprintf(dst, cap, "?");
    dst[cap - 1] = 0;
}

lp_status lp_check_device_facts(lp_runtime *rt, lp_check_device *out) {
    const lp_device_info *d = lp_runtime_device(rt);
    memset(out, 0, sizeof *out);
    snprintf(out->platform, sizeof out->platform, "%s", d->platform_name);
    snprintf(out->platform_version, sizeof out->platform_version, "%s", d->platform_version);
    snprintf(out->device, sizeof out->device, "%s", d->device_name);
    snprintf(out->device_version, sizeof out->device_version, "%s", d->device_version);
    snprintf(out->driver, sizeof out->driver, "%s", d->driver_version);
    snprintf(out->opencl_c, sizeof out->opencl_c, "%s", d->opencl_c_version);
    snprintf(out->type, sizeof out->type, "%s", lp_device_type_name(d->type));
    out->compute_units = d->compute_units;
    out->global_mem = d->global_mem;
    out->local_mem = d->local_mem;
    out->max_alloc = d->max_alloc;
    out->max_work_group = d->max_work_group_size;
    out->fp64 = d->fp64;
    info_str_(d->device, CL_DEVICE_VENDOR, out->vendor, sizeof out->vendor);
    info_str_(d->device, CL_DEVICE_EXTENSIONS, out->extensions, sizeof out->extensions);
    cl_device_fp_config fp = 0;
    if (clGetDeviceInfo(d->device, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL) != CL_SUCCESS)
        fp = 0;
    out->denormals = (fp & CL_FP_DENORM) != 0;
    out->fma = (fp & CL_FP_FMA) != 0;
    out->correctly_rounded_sqrt = (fp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0;
    return LP_OK;
}
