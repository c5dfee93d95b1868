/* Matrix products (laperm/gemm.h) against a plain-C reference in double: every layout,
 * offsets, padded rows, alpha/beta, at odd sizes, through lp_op_gemm's own choice and
 * through each back end explicitly (CLBlast whole and split along K, the tiled kernels
 * with the device's tile, a small tile, GPU-style work-groups, and split K); the choices
 * kept in the device's decision file (host/decisions.h). */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gemm-impl.h"
#include "laperm/gemm.h"
#include "laperm/ops.h"
#include "lp_test.h"
#include "reference.h"

/* ---- lp_op_gemm ---------------------------------------------------------------------------- */

typedef struct {
    bool ta, tb;
    int m, n, k;
    size_t a_off, b_off, c_off, pad; /* pad: extra columns in every stored row */
    float alpha, beta;
    bool c_nan; /* C's region holds NaN before the call (beta 0 must not read it) */
} gemm_case_;

static void check_gemm_(const gemm_case_ *g, const lp_gemm_variant *v, uint64_t seed) {
    uint64_t rng = seed;
    size_t m = (size_t)g->m, n = (size_t)g->n, k = (size_t)g->k;
    size_t a_rows = g->ta ? k : m, a_cols = g->ta ? m : k;
    size_t b_rows = g->tb ? n : k, b_cols = g->tb ? k : n;
    size_t lda = a_cols + g->pad, ldb = b_cols + g->pad, ldc = n + g->pad;
    size_t na = g->a_off + a_rows * lda, nb = g->b_off + b_rows * ldb, nc = g->c_off + m * ldc;
    float *a = lp_test_floats(na), *b = lp_test_floats(nb), *c = lp_test_floats(nc),
          *want = lp_test_floats(nc);
    CU_ASSERT_FATAL(a && b && c && want);
    lp_test_fill_uniform(a, na, &rng, -1.0f, 1.0f);
    lp_test_fill_uniform(b, nb, &rng, -1.0f, 1.0f);
    lp_test_fill_uniform(c, nc, &rng, -1.0f, 1.0f);
    if (g->c_nan)
        for (size_t i = 0; i < m; ++i)
            for (size_t j = 0; j < n; ++j)
                c[g->c_off + i * ldc + j] = NAN;
    memcpy(want, c, nc * sizeof *c);
    double *ref = malloc(m * n * sizeof *ref);
    CU_ASSERT_FATAL(ref != NULL);
    lp_ref_gemm(g->ta, g->tb, m, n, k, g->alpha, a + g->a_off, lda, b + g->b_off, ldb, g->beta,
                c + g->c_off, ldc, ref, NULL);
    for (size_t i = 0; i < m; ++i)
        for (size_t j = 0; j < n; ++j)
            want[g->c_off + i * ldc + j] = (float)ref[i * n + j];
    free(ref);
    cl_mem da = lp_test_upload(a, na * 4), db = lp_test_upload(b, nb * 4),
           dc = lp_test_upload(c, nc * 4);
    CU_ASSERT_FATAL(da && db && dc);
    if (v)
        LP_TEST_OK(lp_gemm_run_variant(lp_test_rt, v, g->ta, g->tb, m, n, k, g->alpha, da, g->a_off,
                                       lda, db, g->b_off, ldb, g->beta, dc, g->c_off, ldc,
                                       "test_gemm"));
    else
        LP_TEST_OK(lp_op_gemm(lp_test_rt, g->ta, g->tb, m, n, k, g->alpha, da, g->a_off, lda, db,
                              g->b_off, ldb, g->beta, dc, g->c_off, ldc, "test_gemm"));
    CU_ASSERT(lp_test_download(dc, nc * 4, c));
    char what[256], name[64] = "lp_op_gemm";
    if (v) lp_gemm_variant_text(v, g->tb, name, sizeof name);
    snprintf(what, sizeof what, "gemm [%s] %c%c %dx%dx%d offs %zu,%zu,%zu pad %zu alpha %g beta %g",
             name, g->ta ? 'T' : 'N', g->tb ? 'T' : 'N', g->m, g->n, g->k, g->a_off, g->b_off,
             g->c_off, g->pad, (double)g->alpha, (double)g->beta);
    /* Float sums of k products of values in [-1, 1]: the error grows with k. */
    CU_ASSERT(lp_test_close(c, want, nc, 2e-6f * (float)k + 1e-6f, 1e-4f, what));
    clReleaseMemObject(da);
    clReleaseMemObject(db);
    clReleaseMemObject(dc);
    free(a);
    free(b);
    free(c);
    free(want);
}

/* The variants every case runs through: NULL is lp_op_gemm's own choice. */
static int variants_(lp_gemm_variant *out) {
    lp_gemm_variant tiled = lp_gemm_default_tiled(lp_test_rt), v;
    int c = 0;
    out[c++] = (lp_gemm_variant){.algo = LP_GEMM_ALGO_CLBLAST, .slices = 1};
    out[c++] = (lp_gemm_variant){.algo = LP_GEMM_ALGO_CLBLAST, .slices = 3};
    out[c++] = tiled;
    v = tiled;
    v.slices = 4;
    out[c++] = v;
    /* Small tiles and vectors, several work-items per group (the GPU shape). */
    v = (lp_gemm_variant){LP_GEMM_ALGO_TILED, 4, 3, 1, 3, 1, 4, 1};
    out[c++] = v;
    v.vw = 8, v.mr = 1, v.nv = 2, v.dm = 1, v.dn = 3, v.lx = 2, v.slices = 2;
    out[c++] = v;
    return c;
}

static void check_all_(const gemm_case_ *g, uint64_t seed) {
    lp_gemm_variant v[8];
    int nv = variants_(v);
    /* The simulator is slow: there, lp_op_gemm is CLBlast (LAPERM_GEMM=clblast), so the
     * tiled kernels with split K and the small GPU-style tile cover both back ends. */
    if (lp_test_simulator()) {
        v[0] = v[3];
        v[1] = v[5];
        nv = 2;
    }
    check_gemm_(g, NULL, seed);
    for (int i = 0; i < nv; ++i)
        if (v[i].algo == LP_GEMM_ALGO_CLBLAST || !(g->ta && g->tb)) check_gemm_(g, &v[i], seed);
}

static void test_gemm(void) {
    bool small = lp_test_small();
    const int sizes[][3] = {{1, 1, 1},    {7, 13, 5},   {1, 300, 7},   {128, 1, 7},   {7, 10, 1},
                            {5, 1000, 3}, {33, 45, 67}, {17, 19, 601}, {64, 300, 784}};
    int n_sizes = (int)(sizeof sizes / sizeof sizes[0]);
    for (int s = 0; s < n_sizes; ++s) {
        if (small && sizes[s][0] * sizes[s][1] * sizes[s][2] > 200000) continue;
        for (int t = 0; t < 4; ++t) {
            gemm_case_ plain = {.ta = t & 1,
                                .tb = (t >> 1) & 1,
                                .m = sizes[s][0],
                                .n = sizes[s][1],
                                .k = sizes[s][2],
                                .alpha = 1.0f,
                                .beta = 0.0f};
            check_all_(&plain, 100 + (uint64_t)s * 4 + (uint64_t)t);
            gemm_case_ views = plain;
            views.a_off = 3;
            views.b_off = 5;
            views.c_off = 7;
            views.pad = 2;
            views.alpha = 0.75f;
            views.beta = 1.0f;
            check_all_(&views, 200 + (uint64_t)s * 4 + (uint64_t)t);
            views.beta = 0.0f;
            check_all_(&views, 300 + (uint64_t)s * 4 + (uint64_t)t);
        }
    }
}

/* Long K with small M x N: the shape of a convolution's kernel gradient, where lp_op_gemm
 * may choose a split along K. */
static void test_gemm_long_k(void) {
    int k = lp_test_simulator() ? 2100 : 9000;
    gemm_case_ g = {.ta = false, .tb = true, .m = 5, .n = 9, .k = k, .alpha = 1.0f, .beta = 1.0f};
    check_all_(&g, 501);
    g.tb = false;
    g.beta = 0.0f;
    check_all_(&g, 502);
}

/* BLAS convention: with beta 0, C is output only, so NaN or garbage there must not leak
 * into the result (the network's gemms write fresh, never-cleared buffers). */
static void test_gemm_beta0_ignores_c(void) {
    const int sizes[][3] = {{1, 1, 1}, {7, 13, 5}, {33, 45, 67}};
    for (int s = 0; s < 3; ++s)
        for (int t = 0; t < 4; ++t) {
            gemm_case_ g = {.ta = t & 1,
                            .tb = (t >> 1) & 1,
                            .m = sizes[s][0],
                            .n = sizes[s][1],
                            .k = sizes[s][2],
                            .a_off = 1,
                            .c_off = 2,
                            .pad = 1,
                            .alpha = 1.0f,
                            .beta = 0.0f,
                            .c_nan = true};
            check_all_(&g, 400 + (uint64_t)s * 4 + (uint64_t)t);
        }
}

static void test_gemm_arguments(void) {
    lp_runtime *rt = lp_test_rt;
    float ones[16];
    lp_test_fill_const(ones, 16, 1.0f);
    cl_mem a = lp_test_upload(ones, sizeof ones), c = lp_test_upload(ones, sizeof ones);
    CU_ASSERT_FATAL(a && c);
    /* Empty products are no-ops. */
    LP_TEST_OK(
        lp_op_gemm(rt, false, false, 0, 4, 4, 1.0f, a, 0, 4, a, 0, 4, 0.0f, c, 0, 4, "empty"));
    LP_TEST_OK(
        lp_op_gemm(rt, false, false, 4, 0, 4, 1.0f, a, 0, 4, a, 0, 4, 0.0f, c, 0, 4, "empty"));
    float got[16];
    CU_ASSERT(lp_test_download(c, sizeof got, got));
    CU_ASSERT(lp_test_close(got, ones, 16, 0.0f, 0.0f, "gemm with m or n = 0 leaves C"));
    /* Checked before any back end runs (the tiled kernels would read out of bounds): a
     * 4x4 product needs 16 floats of A, so an offset of 1 overruns the buffer... */
    lp_status s =
        lp_op_gemm(rt, false, false, 4, 4, 4, 1.0f, a, 1, 4, a, 0, 4, 0.0f, c, 0, 4, "overrun");
    CU_ASSERT_EQUAL(s, LP_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "overrun"));
    lp_gemm_variant tiled = lp_gemm_default_tiled(rt);
    s = lp_gemm_run_variant(rt, &tiled, false, true, 4, 4, 4, 1.0f, a, 0, 4, a, 0, 4, 0.0f, c, 1, 4,
                            "overrun_c");
    CU_ASSERT_EQUAL(s, LP_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "overrun_c"));
    /* ... and lda smaller than a row is an error naming the call. */
    s = lp_op_gemm(rt, false, false, 2, 2, 4, 1.0f, a, 0, 2, a, 0, 2, 0.0f, c, 0, 2, "bad_ld");
    CU_ASSERT_EQUAL(s, LP_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "bad_ld"));
    CU_ASSERT_EQUAL(lp_runtime_finish(rt), LP_OK);
    clReleaseMemObject(a);
    clReleaseMemObject(c);
}

/* Modes: clblast and tiled give the same products as auto, and a choice is written to
 * the per-device file, which a later run reads instead of timing again; lines that do
 * not parse are skipped. */
static void test_gemm_modes_and_cache(void) {
    lp_runtime *rt = lp_test_rt;
    gemm_case_ g = {.ta = false, .tb = true, .m = 9, .n = 11, .k = 13, .alpha = 1.0f, .beta = 0.0f};
    lp_gemm_mode modes[] = {LP_GEMM_CLBLAST, LP_GEMM_TILED, LP_GEMM_AUTO};
    lp_gemm_mode before = lp_gemm_get_mode(rt);
    for (int i = 0; i < 3; ++i) {
        lp_gemm_set_mode(rt, modes[i]);
        CU_ASSERT_EQUAL(lp_gemm_get_mode(rt), modes[i]);
        check_gemm_(&g, NULL, 600 + (uint64_t)i);
    }
    char text[64] = "";
    LP_TEST_OK(lp_gemm_describe_choice(rt, false, true, 9, 11, 13, text, sizeof text));
    CU_ASSERT(strncmp(text, "clblast", 7) == 0 || strncmp(text, "tiled", 5) == 0);
    lp_gemm_set_mode(rt, before);
    lp_gemm_mode parsed;
    CU_ASSERT(lp_gemm_mode_parse("tiled", &parsed) && parsed == LP_GEMM_TILED);
    CU_ASSERT(!lp_gemm_mode_parse("fast", &parsed));
}

/* Runs fn with stderr going to a file, and returns what it wrote (malloc'd). */
static char *capture_stderr_(void (*fn)(void *), void *arg) {
    char path[4300];
    snprintf(path, sizeof path, "%s/stderr.txt", lp_test_tmpdir());
    fflush(stderr);
    int saved = dup(2), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CU_ASSERT_FATAL(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char cmd[4400], *out = NULL;
    snprintf(cmd, sizeof cmd, "cat '%s'", path);
    lp_test_run_command(cmd, &out);
    return out;
}

/* One runtime's products: a 6x7x6 in auto mode and, in clblast mode, a long-K 3x4x2100
 * (clblast mode times CLBlast whole and split along K only there). */
static void cache_run_(void *arg) {
    (void)arg;
    const lp_device_info *d = lp_runtime_device(lp_test_rt);
    char sel[32];
    snprintf(sel, sizeof sel, "%d:%d", d->platform_index, d->device_index);
    lp_runtime_options opt = {.device = sel};
    lp_runtime *rt = NULL;
    LP_TEST_OK(lp_runtime_create(&opt, &rt));
    if (!rt) return;
    float x[4 * 2100] = {0};
    cl_mem a = NULL;
    LP_TEST_OK(lp_buffer_create(rt, sizeof x, "a", &a));
    LP_TEST_OK(lp_buffer_write(rt, a, 0, sizeof x, x));
    lp_gemm_set_mode(rt, LP_GEMM_AUTO);
    LP_TEST_OK(lp_op_gemm(rt, false, false, 6, 7, 6, 1.0f, a, 0, 6, a, 0, 7, 0.0f, a, 0, 7,
                          "cache_probe"));
    lp_gemm_set_mode(rt, LP_GEMM_CLBLAST);
    LP_TEST_OK(lp_op_gemm(rt, false, false, 3, 4, 2100, 1.0f, a, 0, 2100, a, 0, 4, 0.0f, a, 0, 4,
                          "cache_probe_long_k"));
    LP_TEST_OK(lp_runtime_finish(rt));
    clReleaseMemObject(a);
    lp_runtime_destroy(rt);
}

/* Fresh runtimes with the cache in a new folder: the first writes one decision per mode
 * into the device's decision file; a damaged line and lines the gemm kind refuses appended
 * by hand are ignored with one warning each on stderr (one for the load, one for the
 * kind's look) naming the file and the lines; a second runtime uses the stored decisions
 * (it times nothing, so it writes nothing). */
static void test_gemm_disk_cache(void) {
    if (lp_test_simulator()) return; /* timing the candidates is slow to simulate */
    char dir[4200], cmd[4600], *out = NULL, word[64], want[128];
    const lp_device_info *d = lp_runtime_device(lp_test_rt);
    snprintf(dir, sizeof dir, "%s/gemm-cache-%d-%d", lp_test_tmpdir(), d->platform_index,
             d->device_index);
    /* The first word of the gemm kind's lines: "gemm.<revision>". */
    snprintf(word, sizeof word, "%s.%d", lp_decision_gemm.name, lp_decision_gemm.revision);
    const char *env = getenv("LAPERM_CACHE_DIR");
    char *saved = env ? strdup(env) : NULL;
    setenv("LAPERM_CACHE_DIR", dir, 1);
    char *err = capture_stderr_(cache_run_, NULL);
    CU_ASSERT(err && !strstr(err, "decision")); /* no file yet: nothing to warn about */
    free(err);
    /* The folder holds program binaries too; the decisions are decisions-*.txt. */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && head -n 1 decisions-*.txt && grep -c '^%s ' decisions-*.txt && "
             "grep '^%s ' decisions-*.txt",
             dir, word, word);
    CU_ASSERT_EQUAL(lp_test_run_command(cmd, &out), 0);
    CU_ASSERT(out &&
              strncmp(out, LP_DECISIONS_FORMAT "\n2\n", strlen(LP_DECISIONS_FORMAT) + 3) == 0);
    snprintf(want, sizeof want, "\n%s auto:nn:b0:6x7x6 ", word);
    CU_ASSERT_PTR_NOT_NULL(out ? strstr(out, want) : NULL);
    snprintf(want, sizeof want, "\n%s clblast:nn:b0:3x4x2100 clblast:k", word);
    CU_ASSERT_PTR_NOT_NULL(out ? strstr(out, want) : NULL);
    free(out);
    snprintf(cmd, sizeof cmd, "cd '%s' && cat decisions-*.txt | wc -l", dir);
    CU_ASSERT_EQUAL(lp_test_run_command(cmd, &out), 0);
    int lines = out ? atoi(out) : 0;
    free(out);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && for f in decisions-*.txt; do printf 'junk\\n"
             "%s auto:nn:b0:6x7x7 tiled:vw3:mr1:nv1:dm1:dn1:lx1:k1 1\\n"
             "%s clblast:nn:b0:3x4x2101 tiled:vw4:mr1:nv1:dm1:dn1:lx1:k1 1\\n' >> \"$f\"; "
             "done && md5sum decisions-*.txt",
             dir, word, word);
    char *before = NULL, *after = NULL;
    CU_ASSERT_EQUAL(lp_test_run_command(cmd, &before), 0);
    err = capture_stderr_(cache_run_, NULL);
    CU_ASSERT_PTR_NOT_NULL(err ? strstr(err, "ignored 1 damaged line") : NULL);
    CU_ASSERT_PTR_NOT_NULL(err ? strstr(err, "/decisions-") : NULL);
    snprintf(want, sizeof want, "line %d ", lines + 1);
    CU_ASSERT_PTR_NOT_NULL(err ? strstr(err, want) : NULL);
    snprintf(want, sizeof want, "ignored 2 out-of-range \"%s\" lines", word);
    CU_ASSERT_PTR_NOT_NULL(err ? strstr(err, want) : NULL);
    snprintf(want, sizeof want, "line %d (not a choice of its kind), line %d ", lines + 2,
             lines + 3);
    CU_ASSERT_PTR_NOT_NULL(err ? strstr(err, want) : NULL);
    /* Two warnings, each once: the file was read once and the kind looked once, though
     * both products looked their decisions up. */
    const char *first = err ? strstr(err, "ignored") : NULL;
    const char *second = first ? strstr(first + 1, "ignored") : NULL;
    CU_ASSERT_PTR_NOT_NULL(second);
    if (second) CU_ASSERT_PTR_NULL(strstr(second + 1, "ignored"));
    free(err);
    snprintf(cmd, sizeof cmd, "cd '%s' && md5sum decisions-*.txt", dir);
    CU_ASSERT_EQUAL(lp_test_run_command(cmd, &after), 0);
    CU_ASSERT(before && after && strcmp(before, after) == 0); /* nothing timed: not rewritten */
    free(before);
    free(after);
    if (saved)
        setenv("LAPERM_CACHE_DIR", saved, 1);
    else
        unsetenv("LAPERM_CACHE_DIR");
    free(saved);
}

static void register_suites(void) {
    CU_pSuite su = CU_add_suite("gemm", NULL, NULL);
    CU_add_test(su, "NN/NT/TN/TT x every back end, offsets, padded rows, beta 0/1", test_gemm);
    CU_add_test(su, "long K (split along K)", test_gemm_long_k);
    CU_add_test(su, "beta 0 ignores NaN in C", test_gemm_beta0_ignores_c);
    CU_add_test(su, "empty and invalid arguments", test_gemm_arguments);
    CU_add_test(su, "modes clblast/tiled/auto agree", test_gemm_modes_and_cache);
    CU_add_test(su, "choices kept in the device's decision file", test_gemm_disk_cache);
}

int main(void) {
    return lp_cltest_main("cltest_gemm", register_suites);
}
