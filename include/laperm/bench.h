/* Benchmarks on the chosen device: arithmetic peak, matrix products (square and at the
 * models' real training shapes), convolution and BatchNorm passes, segmented sort and
 * one LaPerm sync. Each measurement times real work on the device (wall clock around
 * clFinish, or OpenCL profiling events) after a warm-up, and appends rows to a table. */
#ifndef LAPERM_BENCH_H
#define LAPERM_BENCH_H

#include "laperm/runtime.h"

typedef struct {
    char section[16]; /* peak | gemm | layers | sort | sync */
    char name[48];    /* what was measured, e.g. "lenet300 dense_1 forward" */
    char detail[64];  /* shape and variant, e.g. "NT 128x300x784 tiled 8x32" */
    double seconds;   /* per operation */
    double value;     /* in `unit` */
    char unit[12];    /* GFLOP/s | GB/s | Mkeys/s | ms */
    double of_peak;   /* value / the device's measured peak in the same unit; 0 if none */
} lp_bench_row;

typedef struct {
    lp_bench_row *rows;
    int n, cap;
    double peak_gflops, peak_gbs; /* filled by lp_bench_peak (0 before) */
    double min_seconds;           /* each measurement repeats until this much time (0.2) */
} lp_bench_table;

void lp_bench_table_free(lp_bench_table *t);

/* FMA throughput (GFLOP/s) and copy bandwidth (GB/s, read + write). */
lp_status lp_bench_peak(lp_runtime *rt, lp_bench_table *t);
/* C = A.B with n x n x n through CLBlast, the tiled kernels and lp_op_gemm's choice. */
lp_status lp_bench_gemm_square(lp_runtime *rt, size_t n, lp_bench_table *t);
/* One training step's products of a model at a batch: every distinct GEMM shape it
 * issues, each through CLBlast, the tiled kernels and the chosen variant; then forward
 * and backward device time per kind of kernel (conv, BatchNorm, ...) from profiling.
 * Needs a runtime created with profiling on. */
lp_status lp_bench_model(lp_runtime *rt, const char *model_path, int batch, lp_bench_table *t);
/* Segmented argsort in keys/s at the group sizes of a model's LaPerm groups. */
lp_status lp_bench_sort_model(lp_runtime *rt, const char *model_path, lp_bench_table *t);
/* Segmented argsort of `groups` groups of `size` keys. */
lp_status lp_bench_sort(lp_runtime *rt, const char *name, int groups, int size, lp_bench_table *t);
/* One LaPerm sync of every kernel tensor of a model (argsort + scatter of each group). */
lp_status lp_bench_sync(lp_runtime *rt, const char *model_path, lp_bench_table *t);

#endif
