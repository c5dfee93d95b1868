/* Internal: what the benchmark files (bench.c, bench_layers.c) share. */
#ifndef LAPERM_BENCH_IMPL_H
#define LAPERM_BENCH_IMPL_H

#include "laperm/bench.h"
#include "laperm/network.h"

/* Room for item n of a growing array of `size`-byte items (*cap of them now). */
lp_status lp_bench_room_(void **items, int n, int *cap, size_t size);

/* Appends a row; of_peak = value / peak when peak > 0. */
lp_status lp_bench_add_(lp_bench_table *t, const char *section, const char *name,
                        const char *detail, double seconds, double value, const char *unit,
                        double peak);

/* Seconds per call of op(ctx): one warm-up call, then repeats until min_seconds have
 * passed (at least 3 calls), each waited for. */
typedef lp_status (*lp_bench_op_)(lp_runtime *rt, void *ctx);
lp_status lp_bench_time_op_(lp_runtime *rt, lp_bench_op_ op, void *ctx, double min_seconds,
                            double *out);
/* Seconds each measurement repeats for: the table's, else 0.2. */
double lp_bench_min_seconds_(const lp_bench_table *t);

/* n floats in [-0.5, 0.5) from a fixed generator and seed, into h. */
void lp_bench_random_floats_(float *h, size_t n, uint64_t seed);
/* A new buffer of those n floats (*out NULL on failure). */
lp_status lp_bench_random_buffer_(lp_runtime *rt, size_t n, uint64_t seed, cl_mem *out);

/* "conv7" from "models/conv7.ini". */
const char *lp_bench_model_name_(const char *path, char *buf, size_t cap);

/* The options lp_bench_network_ builds with. */
lp_network_options lp_bench_network_options_(const lp_bench_table *t, int batch);
/* A model's network at `batch` as training builds it: the conv paths and matrix products
 * by the rule, or timed with t->fast (laperm train --fast). */
lp_status lp_bench_network_(lp_runtime *rt, const lp_model_spec *spec, int batch,
                            const lp_bench_table *t, lp_network **out);

/* Random inputs and logit gradients written from the host into the network's buffers
 * (no device buffer of their own): they stand in for data, since the kernels' work does
 * not depend on the values. */
lp_status lp_bench_fill_inputs_(lp_runtime *rt, lp_network *net, int batch);

/* Device time of every launch profiled since the last lp_runtime_profile_reset, in ms
 * (waits for the queue). */
lp_status lp_bench_profile_ms_(lp_runtime *rt, double *out);

/* bench_layers.c: the per-layer split of a step of net at `batch` (whose inputs are filled
 * and whose whole forward+backward took step_seconds), appended to t->layers, and the
 * rows of the step's share of the peak and of its device time outside those layers. */
lp_status lp_bench_layers_(lp_runtime *rt, lp_network *net, const char *model, int batch,
                           double step_seconds, lp_bench_table *t);

#endif
