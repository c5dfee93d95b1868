/* Conformance run for one device (`laperm check`): every kernel family against the
 * plain-C references of host/reference.h at odd and boundary shapes, and bit-identity
 * where laperm promises it. One table of checks (host/check.c); each row names the
 * kernels it exercises, its tolerance and why (README, "Testing your device"). */
#ifndef LAPERM_CHECK_H
#define LAPERM_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "laperm/runtime.h"

typedef enum {
    LP_CHECK_PASS,
    LP_CHECK_FAIL,  /* a value outside its tolerance, or bits that differ */
    LP_CHECK_ERROR, /* a library call failed (the note holds its message) */
    LP_CHECK_SKIP,  /* cannot run here (the note says why), counted as neither */
} lp_check_state;

/* "pass", "FAIL", "error", "skip". */
const char *lp_check_state_name(lp_check_state s);

/* The outcome of one row of the table. max_abs / max_rel: the largest |got - want| and
 * |got - want| / |want| over every value compared (bit checks: the differing values);
 * worst: the largest |got - want| / allowed (pass while <= 1; bit checks 0 or inf). */
typedef struct {
    const char *name;      /* the row's name ("pool") */
    const char *kernel;    /* the kernel family and the kernels it exercises */
    const char *tolerance; /* how values are compared, as the table states it */
    double max_abs, max_rel, worst;
    long long compared; /* values compared */
    lp_check_state state;
    double seconds;
    char note[320]; /* the first mismatch (case, index, got, want), an error or a skip */
} lp_check_result;

/* Facts about the device that explain a result (README lists them). */
typedef struct {
    char platform[128], platform_version[128], vendor[128], device[128], device_version[128];
    char driver[128], opencl_c[64], type[16];
    unsigned compute_units;
    unsigned long long global_mem, local_mem, max_alloc;
    size_t max_work_group;
    bool fp64, denormals, fma, correctly_rounded_sqrt; /* single precision's */
    char extensions[4096];
} lp_check_device;

typedef struct {
    lp_check_device device;
    lp_check_result *rows;
    int n;
    int passed, failed, errors, skipped;
    bool quick;
    const char *bits; /* the runtime's mode, "fast" or "portable" (lp_bits_name) */
    double seconds;
} lp_check_report;

typedef struct {
    bool quick; /* smaller shapes: under a minute on a 2-core CPU */
    /* Only rows whose name contains this (NULL: all), so one family can be rerun. */
    const char *only;
    /* Called after each row (may be NULL), so a front end can print as it goes. */
    void (*progress)(void *ctx, const lp_check_result *row);
    void *progress_ctx;
} lp_check_options;

/* The device's facts (lp_check_device) for rt. */
lp_status lp_check_device_facts(lp_runtime *rt, lp_check_device *out);

/* Runs every row of the table (or those opt->only picks) on rt and fills *out (free it
 * with lp_check_report_free). Puts rt's matrix products in exact mode (lp_gemm_set_exact:
 * chosen by rule, as training without --fast does). A failing check is a row in the report, not a
 * failing status: LP_OK unless the report itself could not be made (no memory). */
lp_status lp_check_run(lp_runtime *rt, const lp_check_options *opt, lp_check_report *out);
void lp_check_report_free(lp_check_report *r);

/* Rows in the table, and row i's name, kernels and tolerance (NULL out of range), for
 * --help and the README. */
int lp_check_count(void);
const lp_check_result *lp_check_describe(int i);

/* The report as HDF5 (host/check_h5.c): compound dataset /check, one row per check
 * (name, kernel, tolerance, state, note: strings; max_abs, max_rel, worst, seconds:
 * doubles; passed: int), the device facts as root attributes. Written to <path>.part and
 * renamed: the previous file or the whole new one. */
lp_status lp_check_write_h5(const lp_check_report *r, const char *command, const char *path);

#endif
