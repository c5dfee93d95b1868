/* What the benchmark files share (bench-impl.h): table rows, timing, inputs, and a
 * model's network built as training builds it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-impl.h"
#include "laperm/clock.h"
#include "laperm/gemm.h"

lp_status lp_bench_room_(void **items, int n, int *cap, size_t size) {
    if (n < *cap) return LP_OK;
    int grown_cap = *cap ? 2 * *cap : 16;
    void *grown = realloc(*items, (size_t)grown_cap * size);
    if (!grown) return lp_fail(LP_ERR_NO_MEMORY, "benchmark table: out of host memory");
    *items = grown;
    *cap = grown_cap;
    return LP_OK;
}

lp_status lp_bench_add_(lp_bench_table *t, const char *section, const char *name,
                        const char *detail, double seconds, double value, const char *unit,
                        double peak) {
    LP_TRY(lp_bench_room_((void **)&t->rows, t->n, &t->cap, sizeof *t->rows));
    lp_bench_row *r = &t->rows[t->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->section, sizeof r->section, "%s", section);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->detail, sizeof r->detail, "%s", detail);
    snprintf(r->unit, sizeof r->unit, "%s", unit);
    r->seconds = seconds;
    r->value = value;
    r->of_peak = peak > 0 ? value / peak : 0;
    return LP_OK;
}

lp_status lp_bench_time_op_(lp_runtime *rt, lp_bench_op_ op, void *ctx, double min_seconds,
                            double *out) {
    LP_TRY(op(rt, ctx));
    LP_TRY(lp_runtime_finish(rt));
    int reps = 0;
    double t0 = lp_seconds(), dt;
    do {
        LP_TRY(op(rt, ctx));
        LP_TRY(lp_runtime_finish(rt));
        ++reps;
        dt = lp_seconds() - t0;
    } while (reps < 3 || dt < min_seconds);
    *out = dt / reps;
    return LP_OK;
}

double lp_bench_min_seconds_(const lp_bench_table *t) {
    return t->min_seconds > 0 ? t->min_seconds : 0.2;
}

void lp_bench_random_floats_(float *h, size_t n, uint64_t seed) {
    uint64_t st = seed;
    for (size_t i = 0; i < n; ++i) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        h[i] = (float)((st >> 40) * (1.0 / 16777216.0)) - 0.5f;
    }
}

lp_status lp_bench_random_buffer_(lp_runtime *rt, size_t n, uint64_t seed, cl_mem *out) {
    float *h = malloc((n ? n : 1) * sizeof *h);
    if (!h) return lp_fail(LP_ERR_NO_MEMORY, "benchmark data: out of host memory");
    lp_bench_random_floats_(h, n, seed);
    lp_status s = lp_buffer_create(rt, (n ? n : 1) * sizeof *h, "benchmark data", out);
    if (s == LP_OK) s = lp_buffer_write(rt, *out, 0, n * sizeof *h, h);
    if (s != LP_OK && *out) {
        clReleaseMemObject(*out); /* made, but the write failed */
        *out = NULL;
    }
    free(h);
    return s;
}

const char *lp_bench_model_name_(const char *path, char *buf, size_t cap) {
    const char *b = strrchr(path, '/');
    snprintf(buf, cap, "%s", b ? b + 1 : path);
    char *dot = strrchr(buf, '.');
    if (dot) *dot = 0;
    return buf;
}

lp_network_options lp_bench_network_options_(const lp_bench_table *t, int batch) {
    return (lp_network_options){.conv_algo = t->conv_algo, .tune_batch = batch, .exact = !t->fast};
}

lp_status lp_bench_network_(lp_runtime *rt, const lp_model_spec *spec, int batch,
                            const lp_bench_table *t, lp_network **out) {
    lp_network_options opt = lp_bench_network_options_(t, batch);
    lp_gemm_set_exact(rt, !t->fast);
    return lp_network_create_opts(rt, spec, batch, &opt, out);
}

lp_status lp_bench_fill_inputs_(lp_runtime *rt, lp_network *net, int batch) {
    size_t n = lp_network_input_features(net) * (size_t)batch;
    size_t c = (size_t)lp_network_classes(net) * (size_t)batch;
    size_t most = n > c ? n : c;
    float *h = malloc((most ? most : 1) * sizeof *h);
    if (!h) return lp_fail(LP_ERR_NO_MEMORY, "benchmark data: out of host memory");
    lp_bench_random_floats_(h, most, 11);
    lp_status s = lp_buffer_write(rt, lp_network_input(net), 0, n * sizeof *h, h);
    if (s == LP_OK) s = lp_buffer_write(rt, lp_network_dlogits(net), 0, c * sizeof *h, h);
    free(h);
    return s;
}

lp_status lp_bench_profile_ms_(lp_runtime *rt, double *out) {
    LP_TRY(lp_runtime_profile_collect(rt));
    const lp_profile_entry *e;
    int n = lp_runtime_profile_entries(rt, &e);
    *out = 0;
    for (int i = 0; i < n; ++i)
        *out += e[i].total_ms;
    return LP_OK;
}
