/* Thread-local error messages and the names of status and OpenCL error codes. */
#include "laperm/status.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char last_error_[4096];

const char *lp_status_name(lp_status s) {
    switch (s) {
    case LP_OK:
        return "LP_OK";
    case LP_ERR_INVALID_ARG:
        return "LP_ERR_INVALID_ARG";
    case LP_ERR_NO_MEMORY:
        return "LP_ERR_NO_MEMORY";
    case LP_ERR_IO:
        return "LP_ERR_IO";
    case LP_ERR_FORMAT:
        return "LP_ERR_FORMAT";
    case LP_ERR_OPENCL:
        return "LP_ERR_OPENCL";
    case LP_ERR_BUILD:
        return "LP_ERR_BUILD";
    case LP_ERR_NOT_FOUND:
        return "LP_ERR_NOT_FOUND";
    case LP_ERR_HDF5:
        return "LP_ERR_HDF5";
    case LP_ERR_CLBLAST:
        return "LP_ERR_CLBLAST";
    case LP_ERR_UNSUPPORTED:
        return "LP_ERR_UNSUPPORTED";
    case LP_ERR_INTERRUPTED:
        return "LP_ERR_INTERRUPTED";
    case LP_ERR_INTERNAL:
        return "LP_ERR_INTERNAL";
    case LP_ERR_MPI:
        return "LP_ERR_MPI";
    }
    return "LP_ERR_UNKNOWN";
}

lp_status lp_fail(lp_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error_, sizeof last_error_, fmt, ap);
    va_end(ap);
    return s;
}

lp_status lp_fail_context(lp_status s, const char *fmt, ...) {
    char prefix[1024], old[sizeof last_error_];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_error_, sizeof old);
    size_t n = strlen(prefix);
    memcpy(last_error_, prefix, n + 1);
    /* Keep as much of the original message as fits after the prefix. */
    strncat(last_error_, old, sizeof last_error_ - n - 1);
    return s;
}

const char *lp_last_error(void) {
    return last_error_;
}

void lp_clear_error(void) {
    last_error_[0] = '\0';
}

const char *lp_cl_error_name(int code) {
    switch (code) {
#define E(n, v)                                                                                    \
    case v:                                                                                        \
        return #n;
        E(CL_SUCCESS, 0)
        E(CL_DEVICE_NOT_FOUND, -1)
        E(CL_DEVICE_NOT_AVAILABLE, -2)
        E(CL_COMPILER_NOT_AVAILABLE, -3)
        E(CL_MEM_OBJECT_ALLOCATION_FAILURE, -4)
        E(CL_OUT_OF_RESOURCES, -5)
        E(CL_OUT_OF_HOST_MEMORY, -6)
        E(CL_PROFILING_INFO_NOT_AVAILABLE, -7)
        E(CL_MEM_COPY_OVERLAP, -8)
        E(CL_IMAGE_FORMAT_MISMATCH, -9)
        E(CL_IMAGE_FORMAT_NOT_SUPPORTED, -10)
        E(CL_BUILD_PROGRAM_FAILURE, -11)
        E(CL_MAP_FAILURE, -12)
        E(CL_MISALIGNED_SUB_BUFFER_OFFSET, -13)
        E(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST, -14)
        E(CL_COMPILE_PROGRAM_FAILURE, -15)
        E(CL_LINKER_NOT_AVAILABLE, -16)
        E(CL_LINK_PROGRAM_FAILURE, -17)
        E(CL_DEVICE_PARTITION_FAILED, -18)
        E(CL_KERNEL_ARG_INFO_NOT_AVAILABLE, -19)
        E(CL_INVALID_VALUE, -30)
        E(CL_INVALID_DEVICE_TYPE, -31)
        E(CL_INVALID_PLATFORM, -32)
        E(CL_INVALID_DEVICE, -33)
        E(CL_INVALID_CONTEXT, -34)
        E(CL_INVALID_QUEUE_PROPERTIES, -35)
        E(CL_INVALID_COMMAND_QUEUE, -36)
        E(CL_INVALID_HOST_PTR, -37)
        E(CL_INVALID_MEM_OBJECT, -38)
        E(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR, -39)
        E(CL_INVALID_IMAGE_SIZE, -40)
        E(CL_INVALID_SAMPLER, -41)
        E(CL_INVALID_BINARY, -42)
        E(CL_INVALID_BUILD_OPTIONS, -43)
        E(CL_INVALID_PROGRAM, -44)
        E(CL_INVALID_PROGRAM_EXECUTABLE, -45)
        E(CL_INVALID_KERNEL_NAME, -46)
        E(CL_INVALID_KERNEL_DEFINITION, -47)
        E(CL_INVALID_KERNEL, -48)
        E(CL_INVALID_ARG_INDEX, -49)
        E(CL_INVALID_ARG_VALUE, -50)
        E(CL_INVALID_ARG_SIZE, -51)
        E(CL_INVALID_KERNEL_ARGS, -52)
        E(CL_INVALID_WORK_DIMENSION, -53)
        E(CL_INVALID_WORK_GROUP_SIZE, -54)
        E(CL_INVALID_WORK_ITEM_SIZE, -55)
        E(CL_INVALID_GLOBAL_OFFSET, -56)
        E(CL_INVALID_EVENT_WAIT_LIST, -57)
        E(CL_INVALID_EVENT, -58)
        E(CL_INVALID_OPERATION, -59)
        E(CL_INVALID_GL_OBJECT, -60)
        E(CL_INVALID_BUFFER_SIZE, -61)
        E(CL_INVALID_MIP_LEVEL, -62)
        E(CL_INVALID_GLOBAL_WORK_SIZE, -63)
        E(CL_INVALID_PROPERTY, -64)
        E(CL_INVALID_IMAGE_DESCRIPTOR, -65)
        E(CL_INVALID_COMPILER_OPTIONS, -66)
        E(CL_INVALID_LINKER_OPTIONS, -67)
        E(CL_INVALID_DEVICE_PARTITION_COUNT, -68)
        E(CL_INVALID_PIPE_SIZE, -69)
        E(CL_INVALID_DEVICE_QUEUE, -70)
        E(CL_PLATFORM_NOT_FOUND_KHR, -1001)
#undef E
    }
    return "CL_UNKNOWN_ERROR";
}

lp_status lp_cl_check(int err, const char *what) {
    if (err == 0) return LP_OK; /* CL_SUCCESS */
    return lp_fail(LP_ERR_OPENCL, "%s: %s (%d)", what, lp_cl_error_name(err), err);
}
