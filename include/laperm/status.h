/* Status codes returned by every library call, and the thread-local message that
 * says what went wrong (file, line, field, expected value). Only the CLI prints. */
#ifndef LAPERM_STATUS_H
#define LAPERM_STATUS_H

#include <stdarg.h>

typedef enum {
    LP_OK = 0,
    LP_ERR_INVALID_ARG, /* a caller passed something impossible */
    LP_ERR_NO_MEMORY,   /* host allocation failed */
    LP_ERR_IO,          /* open/read/write/rename failed */
    LP_ERR_FORMAT,      /* malformed input file (model, IDX, HDF5) */
    LP_ERR_OPENCL,      /* an OpenCL call failed; the message names the CL code */
    LP_ERR_BUILD,       /* kernel compilation failed; the message holds the log */
    LP_ERR_NOT_FOUND,   /* no such device, kernel, file or dataset */
    LP_ERR_HDF5,        /* the HDF5 library reported an error */
    LP_ERR_CLBLAST,     /* CLBlast returned an error */
    LP_ERR_UNSUPPORTED, /* valid request this build or device cannot do */
    LP_ERR_INTERRUPTED, /* the user asked to stop (SIGINT/SIGTERM) */
    LP_ERR_INTERNAL,    /* an invariant laperm itself guarantees did not hold: a bug */
    LP_ERR_MPI,         /* an MPI call failed, or the ranks of a job disagree */
} lp_status;

const char *lp_status_name(lp_status s);

/* Records a formatted message for the calling thread and returns `s`, so that
 * library code can write `return lp_fail(LP_ERR_FORMAT, "%s:%d: ...", ...)`. */
lp_status lp_fail(lp_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prepends context ("while loading X: ") to the current message; returns `s`. */
lp_status lp_fail_context(lp_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The message recorded by the last failing call on this thread ("" if none). */
const char *lp_last_error(void);
void lp_clear_error(void);

/* Name of an OpenCL error code, e.g. -4 -> "CL_MEM_OBJECT_ALLOCATION_FAILURE". */
const char *lp_cl_error_name(int code);
/* Turns a failing OpenCL code (a cl_int) into LP_ERR_OPENCL with "what: CL_NAME (code)";
 * LP_OK for CL_SUCCESS (0). */
lp_status lp_cl_check(int err, const char *what);

/* Propagate a failing status unchanged. */
#define LP_TRY(expr)                                                                               \
    do {                                                                                           \
        lp_status lp_try_s_ = (expr);                                                              \
        if (lp_try_s_ != LP_OK) return lp_try_s_;                                                  \
    } while (0)

/* An invariant that an earlier stage already guarantees (the model parser, the caller in
 * the library): states it where it is relied on, and if it ever fails, returns
 * LP_ERR_INTERNAL naming the file, line and condition instead of running on. */
#define LP_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return lp_fail(LP_ERR_INTERNAL, "internal error at %s:%d: %s does not hold", __FILE__, \
                           __LINE__, #cond);                                                       \
    } while (0)

#endif
