/* Device benchmarks (laperm/bench.h). Every figure is work really done on the device,
 * timed after a warm-up run: wall clock around clFinish for whole operations, profiling
 * events for the per-kernel split of a training step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-impl.h"
#include "laperm/clock.h"
#include "laperm/gemm.h"
#include "laperm/laperm_sync.h"
#include "laperm/model.h"
#include "laperm/network.h"
#include "laperm/ops.h"
#include "laperm/rng.h"
#include "laperm/segsort.h"

#define MAX_SHAPES 64

void lp_bench_table_free(lp_bench_table *t) {
    free(t->rows);
    free(t->layers);
    free(t->memory);
    t->rows = NULL;
    t->layers = NULL;
    t->memory = NULL;
    t->n = t->cap = t->n_layers = t->cap_layers = t->n_memory = t->cap_memory = 0;
}

/* ---- peak ----------------------------------------------------------------------------------- */

typedef struct {
    cl_kernel k;
    size_t global, local;
} launch_ctx_;

static lp_status launch_op_(lp_runtime *rt, void *ctx) {
    launch_ctx_ *c = ctx;
    return lp_launch(rt, c->k, 1, &c->global, &c->local, "bench_peak");
}

lp_status lp_bench_peak(lp_runtime *rt, lp_bench_table *t) {
    const lp_device_info *d = lp_runtime_device(rt);
    unsigned vw = d->preferred_vector_width_float >= 16  ? 16
                  : d->preferred_vector_width_float >= 8 ? 8
                                                         : 4;
    char opts[32];
    snprintf(opts, sizeof opts, "-DPEAK_VW=%u", vw);
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(rt, "peak", "lp_peak_fma", opts, &k));
    /* CPUs: one work-item per group, so its chains stay in vector registers; GPUs: full
     * groups, enough of them for every compute unit several times over. */
    bool cpu = d->type & CL_DEVICE_TYPE_CPU;
    size_t local = cpu ? 1 : lp_runtime_wgs(rt, k, 256);
    size_t global = (size_t)d->compute_units * local * (cpu ? 64 : 64);
    cl_mem out;
    LP_TRY(lp_buffer_create(rt, global * sizeof(float), "peak output", &out));
    cl_int iters = 8192;
    float a = 0.999f, b = 1e-4f;
    LP_ARG(k, 0, out);
    LP_ARG(k, 1, iters);
    LP_ARG(k, 2, a);
    LP_ARG(k, 3, b);
    launch_ctx_ c = {k, global, local};
    /* A peak is a best case: the fastest of three measurements (clocks ramp up, and a
     * busy machine only ever makes a run slower). */
    double s = INFINITY;
    lp_status st = LP_OK;
    for (int rep = 0; rep < 3 && st == LP_OK; ++rep) {
        double one;
        st = lp_bench_time_op_(rt, launch_op_, &c, lp_bench_min_seconds_(t), &one);
        if (st == LP_OK && one < s) s = one;
    }
    clReleaseMemObject(out);
    LP_TRY(st);
    double flops = (double)global * iters * 12 * vw * 2; /* 12 chains, 2 flops per FMA */
    t->peak_gflops = flops / s * 1e-9;
    char detail[64];
    snprintf(detail, sizeof detail, "float%u FMA, %zu work-items", vw, global);
    LP_TRY(lp_bench_add_(t, "peak", "FMA throughput", detail, s, t->peak_gflops, "GFLOP/s", 0));

    /* Bandwidth: 64 MiB each way, well past the caches (or the device's max, if less). */
    size_t bytes = (size_t)64 << 20;
    if (bytes > d->max_alloc / 2) bytes = (size_t)(d->max_alloc / 2) & ~(size_t)15;
    cl_mem src, dst;
    LP_TRY(lp_bench_random_buffer_(rt, bytes / 4, 7, &src));
    st = lp_buffer_create(rt, bytes, "peak copy", &dst);
    if (st == LP_OK) {
        cl_kernel kc;
        st = lp_runtime_kernel(rt, "peak", "lp_peak_copy", opts, &kc);
        if (st == LP_OK) {
            cl_int n4 = (cl_int)(bytes / 16);
            LP_ARG(kc, 0, src);
            LP_ARG(kc, 1, dst);
            LP_ARG(kc, 2, n4);
            launch_ctx_ cc = {kc, (size_t)n4, lp_runtime_wgs(rt, kc, 256)};
            st = lp_bench_time_op_(rt, launch_op_, &cc, lp_bench_min_seconds_(t), &s);
        }
        clReleaseMemObject(dst);
    }
    clReleaseMemObject(src);
    LP_TRY(st);
    t->peak_gbs = 2.0 * bytes / s * 1e-9;
    snprintf(detail, sizeof detail, "copy %zu MiB", bytes >> 20);
    return lp_bench_add_(t, "peak", "memory bandwidth", detail, s, t->peak_gbs, "GB/s", 0);
}

/* ---- matrix products ----------------------------------------------------------------------- */

typedef struct {
    const lp_gemm_variant *v; /* NULL: lp_op_gemm's choice */
    lp_gemm_shape sh;
    cl_mem a, b, c;
} gemm_ctx_;

static lp_status gemm_op_(lp_runtime *rt, void *ctx) {
    gemm_ctx_ *g = ctx;
    const lp_gemm_shape *s = &g->sh;
    size_t lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
    float beta = s->beta_nz ? 1.0f : 0.0f;
    if (g->v)
        return lp_gemm_run_variant(rt, g->v, s->ta, s->tb, s->m, s->n, s->k, 1.0f, g->a, 0, lda,
                                   g->b, 0, ldb, beta, g->c, 0, s->n, "bench_gemm");
    return lp_op_gemm(rt, s->ta, s->tb, s->m, s->n, s->k, 1.0f, g->a, 0, lda, g->b, 0, ldb, beta,
                      g->c, 0, s->n, "bench_gemm");
}

/* One shape through CLBlast, the default tiled kernel and the automatic choice. */
static lp_status bench_shape_(lp_runtime *rt, const char *name, const lp_gemm_shape *sh,
                              lp_bench_table *t) {
    gemm_ctx_ g = {.sh = *sh};
    lp_status st = lp_bench_random_buffer_(rt, sh->m * sh->k, 1, &g.a);
    if (st == LP_OK) st = lp_bench_random_buffer_(rt, sh->k * sh->n, 2, &g.b);
    if (st == LP_OK) st = lp_bench_random_buffer_(rt, sh->m * sh->n, 3, &g.c);
    lp_gemm_variant clblast = {.algo = LP_GEMM_ALGO_CLBLAST, .slices = 1};
    lp_gemm_variant tiled = lp_gemm_default_tiled(rt);
    const lp_gemm_variant *vs[3] = {&clblast, &tiled, NULL};
    double flops = 2.0 * sh->m * sh->n * sh->k;
    for (int i = 0; i < 3 && st == LP_OK; ++i) {
        if (vs[i] && vs[i]->algo == LP_GEMM_ALGO_TILED && sh->ta && sh->tb) continue;
        g.v = vs[i];
        double s;
        st = lp_bench_time_op_(rt, gemm_op_, &g, lp_bench_min_seconds_(t), &s);
        if (st != LP_OK) break;
        char vt[40] = "", detail[64], label[48];
        if (vs[i]) {
            lp_gemm_variant_text(vs[i], sh->tb, vt, sizeof vt);
        } else {
            char chosen[32] = "?";
            lp_gemm_describe_choice(rt, sh->ta, sh->tb, sh->m, sh->n, sh->k, chosen, sizeof chosen);
            snprintf(vt, sizeof vt, "auto: %s", chosen);
        }
        snprintf(detail, sizeof detail, "%c%c %zux%zux%zu %s", sh->ta ? 'T' : 'N',
                 sh->tb ? 'T' : 'N', sh->m, sh->n, sh->k, vt);
        snprintf(label, sizeof label, "%s", name);
        st =
            lp_bench_add_(t, "gemm", label, detail, s, flops / s * 1e-9, "GFLOP/s", t->peak_gflops);
    }
    if (g.a) clReleaseMemObject(g.a);
    if (g.b) clReleaseMemObject(g.b);
    if (g.c) clReleaseMemObject(g.c);
    return st;
}

lp_status lp_bench_gemm_square(lp_runtime *rt, size_t n, lp_bench_table *t) {
    lp_gemm_shape sh = {false, false, false, n, n, n, "square"};
    char name[48];
    snprintf(name, sizeof name, "SGEMM %zu^3", n);
    return bench_shape_(rt, name, &sh, t);
}

/* ---- a model's step -------------------------------------------------------------------------- */

typedef struct {
    lp_network *net;
    int batch;
} step_ctx_;

static lp_status step_op_(lp_runtime *rt, void *ctx) {
    (void)rt;
    step_ctx_ *c = ctx;
    LP_TRY(lp_network_forward(c->net, c->batch, true));
    return lp_network_backward(c->net, c->batch);
}

static lp_status model_step_(lp_runtime *rt, const char *model_path, int batch, unsigned what,
                             lp_bench_table *t, lp_network *net) {
    char model[64];
    lp_bench_model_name_(model_path, model, sizeof model);
    LP_TRY(lp_bench_fill_inputs_(rt, net, batch));
    /* The first pass makes the GEMM choices (timing them once with --fast) and records
     * the shapes. */
    lp_gemm_trace_begin(rt);
    step_ctx_ c = {net, batch};
    lp_status st = step_op_(rt, &c);
    lp_gemm_shape shapes[MAX_SHAPES];
    int ns = lp_gemm_trace_end(rt, shapes, MAX_SHAPES);
    LP_TRY(st);
    char name[128], detail[64];
    if (what & LP_BENCH_MODEL_LAYERS) {
        double s;
        lp_runtime_profile_reset(rt);
        LP_TRY(lp_bench_time_op_(rt, step_op_, &c, lp_bench_min_seconds_(t), &s));
        snprintf(name, sizeof name, "%s forward+backward", model);
        snprintf(detail, sizeof detail, "batch %d, no optimizer", batch);
        LP_TRY(lp_bench_add_(t, "layers", name, detail, s, batch / s, "images/s", 0));
        /* Device time per kernel label over the timed passes (warm-up included). */
        double total;
        LP_TRY(lp_bench_profile_ms_(rt, &total));
        const lp_profile_entry *e;
        int ne = lp_runtime_profile_entries(rt, &e);
        for (int i = 0; i < ne && i < 12; ++i) {
            snprintf(name, sizeof name, "%s %s", model, e[i].label);
            snprintf(detail, sizeof detail, "%.1f%% of device time, %ld launches",
                     100 * e[i].total_ms / total, e[i].launches);
            LP_TRY(lp_bench_add_(t, "layers", name, detail, e[i].total_ms / 1e3, e[i].total_ms,
                                 "ms total", 0));
        }
        LP_TRY(lp_bench_layers_(rt, net, model, batch, s, t));
    }
    for (int i = 0; (what & LP_BENCH_MODEL_GEMM) && i < ns && i < MAX_SHAPES; ++i) {
        snprintf(name, sizeof name, "%s %s", model, shapes[i].label);
        LP_TRY(bench_shape_(rt, name, &shapes[i], t));
    }
    return LP_OK;
}

lp_status lp_bench_model(lp_runtime *rt, const char *model_path, int batch, unsigned what,
                         lp_bench_table *t) {
    lp_model_spec spec;
    LP_TRY(lp_model_load(model_path, &spec));
    lp_network *net = NULL;
    lp_status st = lp_bench_network_(rt, &spec, batch, t, &net);
    if (st == LP_OK) st = model_step_(rt, model_path, batch, what, t, net);
    lp_network_destroy(net);
    lp_model_free(&spec);
    return st;
}

/* ---- sort and sync --------------------------------------------------------------------------- */

typedef struct {
    lp_segsort *s;
    cl_mem keys, order;
    int groups, size;
} sort_ctx_;

static lp_status sort_op_(lp_runtime *rt, void *ctx) {
    (void)rt;
    sort_ctx_ *c = ctx;
    return lp_segsort_argsort(c->s, c->keys, 0, c->groups, c->size, c->order, 0);
}

lp_status lp_bench_sort(lp_runtime *rt, const char *name, int groups, int size, lp_bench_table *t) {
    size_t n = (size_t)groups * size;
    sort_ctx_ c = {.groups = groups, .size = size};
    LP_TRY(lp_segsort_create(rt, 0, &c.s));
    lp_status st = lp_bench_random_buffer_(rt, n, 5, &c.keys);
    if (st == LP_OK) st = lp_buffer_create(rt, n * sizeof(int32_t), "sort order", &c.order);
    double s = 0;
    if (st == LP_OK) st = lp_bench_time_op_(rt, sort_op_, &c, lp_bench_min_seconds_(t), &s);
    if (st == LP_OK) {
        char detail[64];
        snprintf(detail, sizeof detail, "%d groups x %d", groups, size);
        st = lp_bench_add_(t, "sort", name, detail, s, n / s * 1e-6, "Mkeys/s", 0);
    }
    if (c.keys) clReleaseMemObject(c.keys);
    if (c.order) clReleaseMemObject(c.order);
    lp_segsort_destroy(c.s);
    return st;
}

/* Kernel tensors of a model: LaPerm's default groups (one per output unit or filter). */
static int kernel_groups_(const lp_network *net, int *groups, int *sizes, size_t *offsets,
                          int cap) {
    int nt, c = 0;
    const lp_param_tensor *ts = lp_network_tensors(net, &nt);
    for (int i = 0; i < nt && c < cap; ++i)
        if (!strcmp(ts[i].name, "kernel")) {
            groups[c] = ts[i].dims[0];
            sizes[c] = (int)(ts[i].count / (size_t)ts[i].dims[0]);
            offsets[c++] = ts[i].offset;
        }
    return c;
}

lp_status lp_bench_sort_model(lp_runtime *rt, const char *model_path, lp_bench_table *t) {
    lp_model_spec spec;
    LP_TRY(lp_model_load(model_path, &spec));
    lp_network *net = NULL;
    lp_status st = lp_network_create(rt, &spec, 1, &net);
    int groups[64], sizes[64];
    size_t offs[64];
    int n = st == LP_OK ? kernel_groups_(net, groups, sizes, offs, 64) : 0;
    char model[64], name[128];
    lp_bench_model_name_(model_path, model, sizeof model);
    for (int i = 0; i < n && st == LP_OK; ++i) {
        snprintf(name, sizeof name, "%s tensor %d", model, i + 1);
        st = lp_bench_sort(rt, name, groups[i], sizes[i], t);
    }
    lp_network_destroy(net);
    lp_model_free(&spec);
    return st;
}

typedef struct {
    lp_segsort *s;
    cl_mem params, sorted, dst, rank;
    int n, groups[64], sizes[64];
    size_t offs[64];
} sync_ctx_;

static lp_status sync_op_(lp_runtime *rt, void *ctx) {
    (void)rt;
    sync_ctx_ *c = ctx;
    for (int i = 0; i < c->n; ++i)
        LP_TRY(lp_laperm_sync(c->s, c->params, c->offs[i], c->sorted, c->offs[i], c->groups[i],
                              c->sizes[i], c->dst, c->offs[i], c->rank, c->offs[i]));
    return LP_OK;
}

lp_status lp_bench_sync(lp_runtime *rt, const char *model_path, lp_bench_table *t) {
    lp_model_spec spec;
    LP_TRY(lp_model_load(model_path, &spec));
    lp_network *net = NULL;
    sync_ctx_ c = {0};
    lp_status st = lp_network_create(rt, &spec, 1, &net);
    size_t np = st == LP_OK ? lp_network_param_count(net) : 0;
    if (st == LP_OK) c.n = kernel_groups_(net, c.groups, c.sizes, c.offs, 64);
    if (st == LP_OK) st = lp_segsort_create(rt, 0, &c.s);
    if (st == LP_OK) st = lp_bench_random_buffer_(rt, np, 21, &c.sorted);
    if (st == LP_OK) st = lp_buffer_create(rt, np * sizeof(float), "sync output", &c.dst);
    if (st == LP_OK) st = lp_buffer_create(rt, np * sizeof(int32_t), "sync ranks", &c.rank);
    c.params = st == LP_OK ? lp_network_params(net) : NULL;
    double s = 0;
    if (st == LP_OK) st = lp_bench_time_op_(rt, sync_op_, &c, lp_bench_min_seconds_(t), &s);
    if (st == LP_OK) {
        char model[64], name[128], detail[64];
        lp_bench_model_name_(model_path, model, sizeof model);
        snprintf(name, sizeof name, "%s LaPerm sync", model);
        size_t keys = 0;
        for (int i = 0; i < c.n; ++i)
            keys += (size_t)c.groups[i] * c.sizes[i];
        snprintf(detail, sizeof detail, "%d tensors, %zu weights", c.n, keys);
        st = lp_bench_add_(t, "sync", name, detail, s, s * 1e3, "ms", 0);
    }
    if (c.sorted) clReleaseMemObject(c.sorted);
    if (c.dst) clReleaseMemObject(c.dst);
    if (c.rank) clReleaseMemObject(c.rank);
    lp_segsort_destroy(c.s);
    lp_network_destroy(net);
    lp_model_free(&spec);
    return st;
}
