/* Benchmarks on the chosen device: arithmetic peak, matrix products (square and at the
 * models' real training shapes), a training step with its per-kernel and per-layer split,
 * peak device memory of a training step, segmented sort and one LaPerm sync. Each
 * measurement times real work on the device (wall clock around clFinish, or OpenCL
 * profiling events) after a warm-up, and appends rows to a table. */
#ifndef LAPERM_BENCH_H
#define LAPERM_BENCH_H

#include "laperm/gemm.h"
#include "laperm/network.h"
#include "laperm/runtime.h"

typedef struct {
    char section[16]; /* peak | gemm | layers | memory | sort | sync */
    char name[48];    /* what was measured, e.g. "lenet300 dense_1 forward" */
    char detail[64];  /* shape and variant, e.g. "NT 128x300x784 tiled 8x32" */
    double seconds;   /* per operation */
    double value;     /* in `unit` */
    char unit[12];    /* GFLOP/s | GB/s | Mkeys/s | ms | images/s | MiB */
    double of_peak;   /* value / the device's measured peak in the same unit; 0 if none */
} lp_bench_row;

/* The passes of a [conv2d] or [dense] layer in a training step. */
enum { LP_BENCH_FORWARD, LP_BENCH_INPUT_GRAD, LP_BENCH_KERNEL_GRAD, LP_BENCH_PASSES };

/* One [conv2d] or [dense] layer of a model's training step (lp_bench_model). */
typedef struct {
    char model[32];
    char layer[48]; /* the model's name of it, "conv2d_3" */
    char path[16];  /* the path it took: a conv path's name (gemm, direct, fft, ...); dense: gemm */
    char shape[64]; /* "32x24x24 > 32x12x12, 5x5/2" or "784 > 300" */
    int batch;
    /* Nominal FLOPs of each pass over the batch: 2 x the multiply-adds of the direct
     * convolution (or the dense product), whatever path runs; 0 for a pass not run (the
     * input gradient of a first layer). Bias, activation and masks are not counted. */
    double flops[LP_BENCH_PASSES];
    /* Device time per pass (profiling events), the best of the timed steps: forward; the
     * kernel gradient (backward with the input gradient switched off: dW, the bias
     * gradient, the activation's mask); the input gradient as the whole backward less
     * that (at least 0). */
    double seconds[LP_BENCH_PASSES];
} lp_bench_layer;

/* Peak device memory of one training step of a model (lp_bench_memory), in bytes. */
typedef struct {
    char model[32];
    int batch;
    uint64_t total;       /* the peak of live buffers, from before the network to a step's end */
    uint64_t parameters;  /* parameters and their gradients */
    uint64_t optimizer;   /* Adam's two moments */
    uint64_t activations; /* every layer's output and its gradient at the batch */
    uint64_t other;       /* the rest: workspaces (columns, packing, FFT spectra), layer state */
    uint64_t planned;     /* what laperm train's up-front memory plan estimates for it (no data) */
    long untracked;       /* buffers whose release could not be followed (lp_runtime_memory) */
} lp_bench_memory_row;

typedef struct {
    lp_bench_row *rows;
    int n, cap;
    lp_bench_layer *layers; /* per-layer split of the models' steps */
    int n_layers, cap_layers;
    lp_bench_memory_row *memory;
    int n_memory, cap_memory;
    double peak_gflops, peak_gbs; /* filled by lp_bench_peak (0 before) */
    double min_seconds;           /* each measurement repeats until this much time (0.2) */
    /* Conv paths and matrix products chosen by timing, as laperm train --fast; otherwise
     * by the rule, as laperm train. */
    bool fast;
    /* Matrix products forced to one back end (lp_gemm_set_mode) in the runtimes made for
     * lp_bench_memory too; gemm_mode_set false: the default (auto, or $LAPERM_GEMM). */
    bool gemm_mode_set;
    lp_gemm_mode gemm_mode;
    /* The models' conv layers take this path (auto: by rule, or timed with fast), as
     * laperm train --conv-algo; a layer the path cannot take falls back to GEMM. */
    lp_conv_algo conv_algo;
} lp_bench_table;

void lp_bench_table_free(lp_bench_table *t);

/* FMA throughput (GFLOP/s) and copy bandwidth (GB/s, read + write). */
lp_status lp_bench_peak(lp_runtime *rt, lp_bench_table *t);
/* C = A.B with n x n x n through CLBlast, the tiled kernels and lp_op_gemm's choice. */
lp_status lp_bench_gemm_square(lp_runtime *rt, size_t n, lp_bench_table *t);
/* What lp_bench_model measures (flags). */
enum { LP_BENCH_MODEL_GEMM = 1, LP_BENCH_MODEL_LAYERS = 2 };
/* One training step of a model at a batch. LP_BENCH_MODEL_LAYERS: the step's forward and
 * backward (no optimizer) timed whole, its device time per kernel label, and per
 * [conv2d]/[dense] layer the device time and nominal FLOPs of each pass (t->layers, with
 * the peak's share when lp_bench_peak ran first), plus rows for the step's share of the
 * peak and the device time of the other layers. LP_BENCH_MODEL_GEMM: every distinct GEMM
 * shape the step issues, each through CLBlast, the tiled kernels and the chosen variant.
 * Needs a runtime created with profiling on. */
lp_status lp_bench_model(lp_runtime *rt, const char *model_path, int batch, unsigned what,
                         lp_bench_table *t);
/* Peak device memory of a training step (forward, backward and an Adam update) at a batch,
 * in a runtime of its own made with opt (so that nothing the other measurements allocated
 * counts or hides): appends to t->memory and a "memory" row. */
lp_status lp_bench_memory(const lp_runtime_options *opt, const char *model_path, int batch,
                          lp_bench_table *t);
/* Segmented argsort in keys/s at the group sizes of a model's LaPerm groups. */
lp_status lp_bench_sort_model(lp_runtime *rt, const char *model_path, lp_bench_table *t);
/* Segmented argsort of `groups` groups of `size` keys. */
lp_status lp_bench_sort(lp_runtime *rt, const char *name, int groups, int size, lp_bench_table *t);
/* One LaPerm sync of every kernel tensor of a model (argsort + scatter of each group). */
lp_status lp_bench_sync(lp_runtime *rt, const char *model_path, lp_bench_table *t);

#endif
