/* `laperm check` rows for the matrix products and the dense layer's element-wise kernels
 * (tolerances: host/check.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check-impl.h"
#include "laperm/gemm.h"
#include "laperm/ops.h"
#include "reference.h"

typedef struct {
    float *a, *b, *c, *got;
    double *want, *mag;
    cl_mem da, db, dc;
} gemm_bufs_;

static void gemm_free_(gemm_bufs_ *g) {
    free(g->a), free(g->b), free(g->c), free(g->got), free(g->want), free(g->mag);
    if (g->da) clReleaseMemObject(g->da);
    if (g->db) clReleaseMemObject(g->db);
    if (g->dc) clReleaseMemObject(g->dc);
}

/* One product C (m, n) with padded rows (pad extra columns) through variant v (NULL: the
 * library's own choice), against the reference. */
static lp_status gemm_case_(lp_check_ctx *c, const lp_gemm_variant *v, bool ta, bool tb, size_t m,
                            size_t n, size_t k, float beta, uint64_t seed) {
    const size_t pad = 3;
    size_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    size_t na = (ta ? k : m) * lda, nb = (tb ? n : k) * ldb, nc = m * ldc;
    gemm_bufs_ g = {.a = malloc(na * 4),
                    .b = malloc(nb * 4),
                    .c = malloc(nc * 4),
                    .got = malloc(nc * 4),
                    .want = malloc(m * n * 8),
                    .mag = malloc(m * n * 8)};
    lp_status s = LP_OK;
    if (!g.a || !g.b || !g.c || !g.got || !g.want || !g.mag)
        s = lp_fail(LP_ERR_NO_MEMORY, "gemm check %zux%zux%zu", m, n, k);
    uint64_t rng = seed;
    if (s == LP_OK) {
        lp_check_fill(g.a, na, &rng, -1.0f, 1.0f);
        lp_check_fill(g.b, nb, &rng, -1.0f, 1.0f);
        lp_check_fill(g.c, nc, &rng, -1.0f, 1.0f);
        lp_ref_gemm(ta, tb, m, n, k, 0.75, g.a, lda, g.b, ldb, beta, g.c, ldc, g.want, g.mag);
        s = lp_check_upload(c, g.a, na * 4, &g.da);
    }
    if (s == LP_OK) s = lp_check_upload(c, g.b, nb * 4, &g.db);
    if (s == LP_OK) s = lp_check_upload(c, g.c, nc * 4, &g.dc);
    if (s == LP_OK)
        s = v ? lp_gemm_run_variant(c->rt, v, ta, tb, m, n, k, 0.75f, g.da, 0, lda, g.db, 0, ldb,
                                    beta, g.dc, 0, ldc, "check gemm")
              : lp_op_gemm(c->rt, ta, tb, m, n, k, 0.75f, g.da, 0, lda, g.db, 0, ldb, beta, g.dc, 0,
                           ldc, "check gemm");
    if (s == LP_OK) s = lp_buffer_read(c->rt, g.dc, 0, nc * 4, g.got);
    if (s == LP_OK) {
        char what[160], name[64] = "lp_op_gemm";
        if (v) lp_gemm_variant_text(v, tb, name, sizeof name);
        snprintf(what, sizeof what, "%s %c%c %zux%zux%zu beta %g", name, ta ? 'T' : 'N',
                 tb ? 'T' : 'N', m, n, k, (double)beta);
        for (size_t i = 0; i < m; ++i) /* row by row: C has padded rows */
            lp_check_values(c, what, g.got + i * ldc, g.want + i * n, g.mag + i * n, n,
                            (double)k + 2.0);
    }
    gemm_free_(&g);
    return s;
}

lp_status lp_check_gemm(lp_check_ctx *c) {
    /* m, n, k: ones, odd sizes off every tile, a long K that the rule splits */
    static const size_t quick[][3] = {{1, 1, 1}, {7, 13, 5}, {33, 7, 127}, {127, 33, 9}};
    static const size_t full[][3] = {{1, 1, 1},    {7, 13, 5},     {33, 7, 127}, {127, 33, 9},
                                     {64, 65, 63}, {129, 300, 33}, {5, 3, 4097}, {300, 10, 784}};
    const size_t(*sizes)[3] = c->quick ? quick : full;
    int n_sizes = c->quick ? 4 : 8;
    lp_gemm_variant tiled = lp_gemm_default_tiled(c->rt), split = tiled;
    split.slices = 3;
    const lp_gemm_variant clblast = {.algo = LP_GEMM_ALGO_CLBLAST, .slices = 1};
    /* --quick leaves out CLBlast taken by itself: the library's choice (NULL) is CLBlast
     * where training takes it (not on CPUs), and PoCL needs half a minute to compile it */
    const lp_gemm_variant *variants[] = {NULL, &tiled, &split, &clblast};
    int n_variants = c->quick ? 3 : 4;
    /* the layouts the layers use: NN (forward), NT (input gradients), TN (kernel gradients) */
    static const bool forms[][2] = {{false, false}, {false, true}, {true, false}};
    uint64_t seed = 1;
    for (int i = 0; i < n_sizes; ++i)
        for (int f = 0; f < 3; ++f)
            for (int v = 0; v < n_variants; ++v)
                LP_TRY(gemm_case_(c, variants[v], forms[f][0], forms[f][1], sizes[i][0],
                                  sizes[i][1], sizes[i][2], (i + v) % 2 ? 0.5f : 0.0f, seed++));
    return LP_OK;
}

/* bias + ReLU forward, the ReLU mask backward and the bias gradient over rows x cols. */
static lp_status dense_case_(lp_check_ctx *c, int rows, int cols, uint64_t seed) {
    size_t n = (size_t)rows * cols;
    float *y = malloc(n * 4), *b = malloc((size_t)cols * 4 + 4), *dy = malloc(n * 4),
          *got = malloc(n * 4);
    double *want = malloc(n * 8), *mag = malloc(n * 8);
    cl_mem dyb = NULL, db = NULL, ddy = NULL, dg = NULL;
    lp_status s = y && b && dy && got && want && mag
                      ? LP_OK
                      : lp_fail(LP_ERR_NO_MEMORY, "dense check %dx%d", rows, cols);
    uint64_t rng = seed;
    char what[64];
    if (s == LP_OK) {
        lp_check_fill(y, n, &rng, -1.0f, 1.0f);
        lp_check_fill(b, (size_t)cols + 1, &rng, -1.0f, 1.0f);
        lp_check_fill(dy, n, &rng, -1.0f, 1.0f);
        s = lp_check_upload(c, y, n * 4, &dyb);
    }
    if (s == LP_OK) s = lp_check_upload(c, b, (size_t)cols * 4 + 4, &db);
    if (s == LP_OK) s = lp_check_upload(c, dy, n * 4, &ddy);
    if (s == LP_OK) s = lp_check_upload(c, NULL, (size_t)cols * 4 + 4, &dg);
    /* bias at offset 1: offsets are honoured */
    if (s == LP_OK) s = lp_op_bias_act(c->rt, dyb, rows, cols, db, 1, true);
    if (s == LP_OK) s = lp_buffer_read(c->rt, dyb, 0, n * 4, got);
    if (s == LP_OK) {
        for (size_t i = 0; i < n; ++i) {
            double v = (double)y[i] + b[1 + i % (size_t)cols];
            want[i] = v > 0 ? v : 0.0;
            mag[i] = fabs((double)y[i]) + fabs((double)b[1 + i % (size_t)cols]);
        }
        snprintf(what, sizeof what, "lp_bias_act_forward %dx%d", rows, cols);
        lp_check_values(c, what, got, want, mag, n, 1.0);
        s = lp_op_relu_backward(c->rt, ddy, dyb, (int)n);
    }
    if (s == LP_OK) s = lp_buffer_read(c->rt, ddy, 0, n * 4, y);
    if (s == LP_OK) {
        for (size_t i = 0; i < n; ++i)
            dy[i] = got[i] > 0.0f ? dy[i] : 0.0f;
        snprintf(what, sizeof what, "lp_relu_backward %zu", n);
        lp_check_bits(c, what, y, dy, n);
        s = lp_op_bias_grad(c->rt, ddy, rows, cols, dg, 1);
    }
    if (s == LP_OK) s = lp_buffer_read(c->rt, dg, 0, (size_t)cols * 4 + 4, b);
    if (s == LP_OK) {
        for (int j = 0; j < cols; ++j) {
            want[j] = mag[j] = 0.0;
            for (int r = 0; r < rows; ++r)
                want[j] += dy[(size_t)r * cols + j], mag[j] += fabs(dy[(size_t)r * cols + j]);
        }
        snprintf(what, sizeof what, "lp_bias_grad %dx%d", rows, cols);
        lp_check_values(c, what, b + 1, want, mag, (size_t)cols, rows + 1.0);
    }
    cl_mem bufs[] = {dyb, db, ddy, dg};
    for (int i = 0; i < 4; ++i)
        if (bufs[i]) clReleaseMemObject(bufs[i]);
    free(y), free(b), free(dy), free(got), free(want), free(mag);
    return s;
}

lp_status lp_check_dense(lp_check_ctx *c) {
    static const int shapes[][2] = {{1, 1}, {7, 13}, {127, 33}, {300, 10}, {1000, 7}};
    for (int i = 0; i < (c->quick ? 4 : 5); ++i)
        LP_TRY(dense_case_(c, shapes[i][0], shapes[i][1], 100 + (uint64_t)i));
    return LP_OK;
}
