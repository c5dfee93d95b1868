/* Enumerates every OpenCL platform and device and picks one from a selector. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/runtime.h"

const char *lp_device_type_name(cl_device_type t) {
    if (t & CL_DEVICE_TYPE_GPU) return "GPU";
    if (t & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
    if (t & CL_DEVICE_TYPE_CPU) return "CPU";
    return "other";
}

static void info_string_(cl_device_id d, cl_device_info what, char *dst, size_t cap) {
    dst[0] = '\0';
    if (clGetDeviceInfo(d, what, cap, dst, NULL) != CL_SUCCESS) dst[0] = '\0';
    dst[cap - 1] = '\0';
}

static void fill_info_(lp_device_info *info) {
    cl_device_id d = info->device;
    info_string_(d, CL_DEVICE_NAME, info->device_name, sizeof info->device_name);
    info_string_(d, CL_DEVICE_VERSION, info->device_version, sizeof info->device_version);
    info_string_(d, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version);
    info_string_(d, CL_DEVICE_OPENCL_C_VERSION, info->opencl_c_version,
                 sizeof info->opencl_c_version);
    clGetPlatformInfo(info->platform, CL_PLATFORM_NAME, sizeof info->platform_name,
                      info->platform_name, NULL);
    clGetPlatformInfo(info->platform, CL_PLATFORM_VERSION, sizeof info->platform_version,
                      info->platform_version, NULL);
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof info->type, &info->type, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof info->compute_units,
                    &info->compute_units, NULL);
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof info->global_mem, &info->global_mem, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof info->max_alloc, &info->max_alloc,
                    NULL);
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof info->local_mem, &info->local_mem, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof info->max_work_group_size,
                    &info->max_work_group_size, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_ITEM_SIZES, sizeof info->max_work_item_sizes,
                    info->max_work_item_sizes, NULL);
    clGetDeviceInfo(d, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT,
                    sizeof info->preferred_vector_width_float, &info->preferred_vector_width_float,
                    NULL);
    cl_device_fp_config fp64 = 0;
    clGetDeviceInfo(d, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof fp64, &fp64, NULL);
    info->fp64 = fp64 != 0;
    cl_device_fp_config fp32 = 0;
    clGetDeviceInfo(d, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp32, &fp32, NULL);
    info->fma = (fp32 & CL_FP_FMA) != 0;
    info->loop_limit = strncmp(info->device_name, "llvmpipe", 8) == 0 ? 65535 : 0;
    info->platform_name[sizeof info->platform_name - 1] = '\0';
    info->platform_version[sizeof info->platform_version - 1] = '\0';
}

lp_status lp_devices_list(lp_device_info **out, int *count) {
    *out = NULL;
    *count = 0;
    cl_uint np = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &np);
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || np == 0)
        return LP_OK; /* no platform: no device */
    if (err != CL_SUCCESS) return lp_cl_check(err, "clGetPlatformIDs");
    cl_platform_id *plats = calloc(np, sizeof *plats);
    if (!plats) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory listing platforms");
    clGetPlatformIDs(np, plats, NULL);
    lp_device_info *all = NULL;
    int n = 0;
    for (cl_uint p = 0; p < np; ++p) {
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || !nd)
            continue;
        cl_device_id *devs = calloc(nd, sizeof *devs);
        lp_device_info *grown = realloc(all, (size_t)(n + nd) * sizeof *all);
        if (!devs || !grown) {
            free(devs);
            free(grown ? grown : all);
            free(plats);
            return lp_fail(LP_ERR_NO_MEMORY, "out of host memory listing devices");
        }
        all = grown;
        clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, devs, NULL);
        for (cl_uint d = 0; d < nd; ++d) {
            lp_device_info *info = &all[n++];
            memset(info, 0, sizeof *info);
            info->platform_index = (int)p;
            info->device_index = (int)d;
            info->platform = plats[p];
            info->device = devs[d];
            fill_info_(info);
        }
        free(devs);
    }
    free(plats);
    *out = all;
    *count = n;
    return LP_OK;
}

static bool contains_nocase_(const char *hay, const char *needle) {
    size_t nl = strlen(needle);
    for (; *hay; ++hay) {
        size_t i = 0;
        while (i < nl && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            ++i;
        if (i == nl) return true;
    }
    return false;
}

lp_status lp_device_select(const char *selector, lp_device_info *out) {
    if (!selector || !*selector) selector = getenv("LAPERM_DEVICE");
    lp_device_info *devs;
    int n;
    LP_TRY(lp_devices_list(&devs, &n));
    if (n == 0) {
        return lp_fail(LP_ERR_NOT_FOUND,
                       "no OpenCL device found: install a driver such as pocl-opencl-icd "
                       "(CPU) and check /etc/OpenCL/vendors");
    }
    int pick = -1;
    if (!selector || !*selector) {
        /* Oclgrind calls itself a GPU, but it is a simulator: never pick it unasked. */
        for (int i = 0; i < n && pick < 0; ++i)
            if ((devs[i].type & CL_DEVICE_TYPE_GPU) &&
                !contains_nocase_(devs[i].platform_name, "oclgrind"))
                pick = i;
        for (int i = 0; i < n && pick < 0; ++i)
            if (devs[i].type & CL_DEVICE_TYPE_CPU) pick = i;
        if (pick < 0) pick = 0;
    } else {
        int p, d;
        char tail;
        if (sscanf(selector, "%d:%d%c", &p, &d, &tail) == 2) {
            for (int i = 0; i < n; ++i)
                if (devs[i].platform_index == p && devs[i].device_index == d) pick = i;
        } else {
            for (int i = 0; i < n && pick < 0; ++i)
                if (contains_nocase_(devs[i].device_name, selector) ||
                    contains_nocase_(devs[i].platform_name, selector))
                    pick = i;
        }
    }
    if (pick < 0) {
        char list[2048] = "";
        size_t len = 0;
        for (int i = 0; i < n && len < sizeof list - 200; ++i)
            len +=
                (size_t)snprintf(list + len, sizeof list - len, "\n  %d:%d  %s (%s, %s)",
                                 devs[i].platform_index, devs[i].device_index, devs[i].device_name,
                                 devs[i].platform_name, lp_device_type_name(devs[i].type));
        lp_status s = lp_fail(LP_ERR_NOT_FOUND,
                              "no OpenCL device matches '%s' (give an index P:D or part of a "
                              "name); devices present:%s",
                              selector, list);
        free(devs);
        return s;
    }
    *out = devs[pick];
    free(devs);
    return LP_OK;
}
