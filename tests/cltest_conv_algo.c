/* The [conv2d] algorithm choice (lp_network_options.conv_algo): a network whose
 * convolutions run through FFTs, or directly from the images, gives the forward output and
 * every gradient of the same network through GEMM, with bias and ReLU, at odd shapes,
 * strides and batches (FFT: in one call or several); layers the FFT path cannot do fall
 * back with a note; `auto` times once and then reads its decision from the device's
 * decision file (host/decisions.h), keyed by the GEMM mode in effect too, which survives
 * damage with a warning. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conv_algo-impl.h"
#include "laperm/conv_direct.h"
#include "laperm/conv_fft.h"
#include "laperm/gemm.h"
#include "laperm/network.h"
#include "lp_test.h"

/* ---- notes --------------------------------------------------------------------------- */

typedef struct {
    char text[4096]; /* every note, one per line */
    int lines, warnings;
} notes_;

static void on_note_(void *ctx, bool warning, const char *line) {
    notes_ *n = ctx;
    size_t len = strlen(n->text);
    snprintf(n->text + len, sizeof n->text - len, "%s\n", line);
    n->lines++;
    n->warnings += warning;
}

/* ---- networks ------------------------------------------------------------------------ */

/* input (cin, ih, iw) -> [conv2d] pre: 1x1, cin filters, bias, ReLU (so the layer under
 * test computes dx, and pre's gradients check it) -> [conv2d] conv: the case. */
typedef struct {
    const char *name;
    int cin, ih, iw, filters;
    const char *kernel, *padding;
    int stride;
    bool bias;
    const char *act;
    int n, max_batch, tune_batch; /* tune_batch < n: the FFT path runs in chunks */
} case_;

static bool parse_(const case_ *c, lp_model_spec *spec) {
    char text[1024];
    snprintf(text, sizeof text,
             "[input]\nchannels = %d\nheight = %d\nwidth = %d\n\n"
             "[conv2d]\nname = pre\nfilters = %d\nkernel = 1\nactivation = relu\n\n"
             "[conv2d]\nname = conv\nfilters = %d\nkernel = %s\nstride = %d\npadding = %s\n"
             "bias = %s\nactivation = %s\n",
             c->cin, c->ih, c->iw, c->cin, c->filters, c->kernel, c->stride, c->padding,
             c->bias ? "true" : "false", c->act);
    lp_status s = lp_model_parse_text(text, c->name, spec);
    if (s != LP_OK) printf("\n  %s: parsing: %s\n", c->name, lp_last_error());
    return s == LP_OK;
}

static lp_status create_(const case_ *c, const lp_model_spec *spec, lp_conv_algo algo,
                         notes_ *notes, lp_network **net) {
    lp_network_options o = {
        .conv_algo = algo, .tune_batch = c->tune_batch, .note = on_note_, .note_ctx = notes};
    return lp_network_create_opts(lp_test_rt, spec, c->max_batch, &o, net);
}

/* Destroys the networks built from spec and frees it (in the simulator, later: lp_test.h). */
static void release_(lp_network *a, lp_network *b, lp_model_spec *spec) {
    lp_test_release_network(&b, NULL);
    lp_test_release_network(&a, spec);
}

/* Uploads params, input and output gradient, runs forward and backward; reads the output
 * and every parameter gradient. */
static void run_(lp_network *net, int n, const float *params, size_t np, const float *x, size_t nx,
                 const float *g, size_t ny, float *out, float *grads) {
    LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_params(net), 0, np * 4, params));
    LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_input(net), 0, nx * 4, x));
    LP_TEST_OK(lp_network_forward(net, n, true));
    LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_dlogits(net), 0, ny * 4, g));
    LP_TEST_OK(lp_network_backward(net, n));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, lp_network_logits(net), 0, ny * 4, out));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, lp_network_grads(net), 0, np * 4, grads));
}

/* Within 1e-4 of the value, or 2e-5 of the tensor's largest value: FFT rounding is spread
 * over a whole frame, not tied to one output (the direct path sums in another order than
 * GEMM, well inside the same margins). */
static bool close_(const float *other, const float *gemm, size_t n, const char *what,
                   const char *name, lp_conv_algo algo) {
    float top = 0.0f;
    for (size_t i = 0; i < n; ++i)
        if (fabsf(gemm[i]) > top) top = fabsf(gemm[i]);
    char label[160];
    snprintf(label, sizeof label, "%s, %s (%s vs gemm)", name, what, lp_conv_algo_name(algo));
    return lp_test_close(other, gemm, n, 1e-6f + 2e-5f * top, 1e-4f, label);
}

static float *floats_(size_t n) {
    float *p = calloc(n ? n : 1, sizeof *p);
    CU_ASSERT_FATAL(p != NULL);
    return p;
}

/* One case: the same model, parameters and data through GEMM and through algo (FFT or
 * direct), whose notes must say every layer took it. */
static void check_case_(const case_ *c, uint64_t seed, lp_conv_algo algo) {
    lp_model_spec spec;
    if (!parse_(c, &spec)) {
        CU_FAIL("parse");
        return;
    }
    notes_ gn = {0}, fn = {0};
    lp_network *gemm = NULL, *other = NULL;
    LP_TEST_OK(create_(c, &spec, LP_CONV_ALGO_GEMM, &gn, &gemm));
    LP_TEST_OK(create_(c, &spec, algo, &fn, &other));
    if (!gemm || !other) goto done;
    CU_ASSERT_EQUAL(fn.lines, 2);
    CU_ASSERT_EQUAL(fn.warnings, 0);
    if (strstr(fn.text, ": gemm")) printf("\n  %s: notes:\n%s", c->name, fn.text);
    CU_ASSERT_PTR_NULL(strstr(fn.text, ": gemm"));
    CU_ASSERT(strstr(gn.text, "pre ") && strstr(gn.text, ": gemm (conv algorithm gemm)"));
    CU_ASSERT_PTR_NULL(strstr(gn.text, ": fft"));
    CU_ASSERT_PTR_NULL(strstr(gn.text, ": direct"));

    size_t np = lp_network_param_count(gemm);
    size_t nx = (size_t)c->max_batch * lp_network_input_features(gemm);
    size_t ny = (size_t)c->n * (size_t)lp_network_classes(gemm);
    float *params = floats_(np), *x = floats_(nx), *g = floats_(ny);
    float *gout = floats_(ny), *fout = floats_(ny), *ggr = floats_(np), *fgr = floats_(np);
    uint64_t rng = seed;
    for (size_t i = 0; i < np; ++i)
        params[i] = lp_test_uniform(&rng, -0.5f, 0.5f);
    for (size_t i = 0; i < nx; ++i)
        x[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    for (size_t i = 0; i < ny; ++i)
        g[i] = lp_test_uniform(&rng, -1.0f, 1.0f);
    run_(gemm, c->n, params, np, x, nx, g, ny, gout, ggr);
    run_(other, c->n, params, np, x, nx, g, ny, fout, fgr);
    CU_ASSERT(close_(fout, gout, ny, "output", c->name, algo));
    int nt = 0;
    const lp_param_tensor *t = lp_network_tensors(gemm, &nt);
    for (int i = 0; i < nt; ++i) {
        char what[96];
        snprintf(what, sizeof what, "layer %d %s gradient", t[i].layer, t[i].name);
        CU_ASSERT(close_(fgr + t[i].offset, ggr + t[i].offset, t[i].count, what, c->name, algo));
    }
    /* A second forward and backward gives the same bits. */
    float *fgr2 = floats_(np);
    LP_TEST_OK(lp_network_forward(other, c->n, true));
    LP_TEST_OK(lp_buffer_write(lp_test_rt, lp_network_dlogits(other), 0, ny * 4, g));
    LP_TEST_OK(lp_network_backward(other, c->n));
    LP_TEST_OK(lp_buffer_read(lp_test_rt, lp_network_grads(other), 0, np * 4, fgr2));
    CU_ASSERT(memcmp(fgr, fgr2, np * 4) == 0);
    free(fgr2);
    free(params);
    free(x);
    free(g);
    free(gout);
    free(fout);
    free(ggr);
    free(fgr);
done:
    release_(gemm, other, &spec);
}

/* name, cin, ih, iw, filters, kernel, padding, stride, bias, activation, n, max_batch,
 * tune_batch */
static const case_ cases_[] = {
    {"3x3 same, bias, relu, batch 7", 3, 7, 5, 4, "3", "same", 1, true, "relu", 7, 7, 0},
    {"3x3 same, bias, relu, batch 1 of 7", 3, 7, 5, 4, "3", "same", 1, true, "relu", 1, 7, 0},
    {"3x2 valid, bias, relu, batch 7", 2, 6, 9, 3, "3x2", "valid", 1, true, "relu", 7, 7, 0},
    {"5x5 same, no bias, linear, batch 7", 1, 5, 6, 2, "5", "same", 1, false, "none", 7, 7, 0},
    {"2x3 valid, bias, linear, batch 1", 3, 5, 7, 5, "2x3", "valid", 1, true, "none", 1, 1, 0},
    {"3x3 same, bias, relu, 7 in chunks of 3", 2, 7, 5, 3, "3", "same", 1, true, "relu", 7, 7, 3},
    {"4x4 valid, bias, relu, 5 of 7 in chunks of 2", 3, 6, 6, 4, "4", "valid", 1, true, "relu", 5,
     7, 2},
};

/* Strides and shapes the FFT path does not take, for the direct path. */
static const case_ strided_[] = {
    {"5x5 stride 2 same, bias, relu, batch 3", 3, 9, 8, 4, "5", "same", 2, true, "relu", 3, 3, 0},
    {"3x3 stride 2 valid, linear, batch 2 of 4", 2, 9, 7, 5, "3", "valid", 2, false, "none", 2, 4,
     0},
    {"2x2 stride 3 valid, bias, relu, batch 2", 3, 8, 10, 3, "2", "valid", 3, true, "relu", 2, 2,
     0},
};

static void test_fft_matches_gemm(void) {
    for (size_t i = 0; i < sizeof cases_ / sizeof *cases_; ++i)
        check_case_(&cases_[i], 900 + i, LP_CONV_ALGO_FFT);
}

static void test_direct_matches_gemm(void) {
    for (size_t i = 0; i < sizeof cases_ / sizeof *cases_; ++i)
        check_case_(&cases_[i], 920 + i, LP_CONV_ALGO_DIRECT);
    for (size_t i = 0; i < sizeof strided_ / sizeof *strided_; ++i)
        check_case_(&strided_[i], 940 + i, LP_CONV_ALGO_DIRECT);
}

/* fft on a stride-2 layer: GEMM for that one, with the reason in its note. */
static void test_fft_falls_back(void) {
    const case_ c = {"stride 2", 2, 7, 7, 3, "3", "same", 2, true, "relu", 2, 2, 0};
    lp_model_spec spec;
    CU_ASSERT_FATAL(parse_(&c, &spec));
    notes_ notes = {0};
    lp_network *net = NULL;
    LP_TEST_OK(create_(&c, &spec, LP_CONV_ALGO_FFT, &notes, &net));
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.text, "pre 2x7x7 -> 2x7x7, 1x1: fft"));
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.text, "stride 2x2: gemm (the FFT path needs stride 1)"));
    CU_ASSERT_EQUAL(notes.warnings, 0);
    lp_network_destroy(net);
    lp_model_free(&spec);
}

/* direct when its buffers would exceed the column budget ($LAPERM_CONV_COL_BYTES), which
 * GEMM fits in chunks: GEMM for that layer, with the reason in its note. */
static void test_direct_falls_back(void) {
    const case_ c = {"budget", 2, 7, 7, 3, "3", "same", 1, true, "relu", 50, 50, 0};
    lp_model_spec spec;
    CU_ASSERT_FATAL(parse_(&c, &spec));
    const char *old = getenv("LAPERM_CONV_COL_BYTES");
    char *saved = old ? strdup(old) : NULL;
    setenv("LAPERM_CONV_COL_BYTES", "100000", 1);
    notes_ notes = {0};
    lp_network *net = NULL;
    LP_TEST_OK(create_(&c, &spec, LP_CONV_ALGO_DIRECT, &notes, &net));
    if (!strstr(notes.text, "3x3: gemm (the direct path's buffers exceed the budget)"))
        printf("\n  notes:\n%s", notes.text);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(notes.text, "3x3: gemm (the direct path's buffers exceed the budget)"));
    CU_ASSERT_EQUAL(notes.warnings, 0);
    if (saved)
        setenv("LAPERM_CONV_COL_BYTES", saved, 1);
    else
        unsetenv("LAPERM_CONV_COL_BYTES");
    free(saved);
    release_(net, NULL, &spec);
}

/* ---- auto and its cache -------------------------------------------------------------- */

/* The cache's environment, saved and restored around the tests that change it. */
typedef struct {
    char *dir, *off;
} env_;

static env_ env_save_(void) {
    const char *d = getenv("LAPERM_CACHE_DIR"), *o = getenv("LAPERM_CACHE");
    env_ e = {d ? strdup(d) : NULL, o ? strdup(o) : NULL};
    return e;
}

static void env_restore_(env_ *e) {
    if (e->dir)
        setenv("LAPERM_CACHE_DIR", e->dir, 1);
    else
        unsetenv("LAPERM_CACHE_DIR");
    if (e->off)
        setenv("LAPERM_CACHE", e->off, 1);
    else
        unsetenv("LAPERM_CACHE");
    free(e->dir);
    free(e->off);
}

/* A fresh folder per call: the tests run once per device in one process. */
static const char *fresh_dir_(void) {
    static char buf[512];
    static int count;
    snprintf(buf, sizeof buf, "%s/algo-%d", lp_test_tmpdir(), ++count);
    CU_ASSERT_FATAL(mkdir(buf, 0755) == 0);
    return buf;
}

static void write_text_(const char *path, const char *text, size_t len) {
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT(fwrite(text, 1, len, f) == len);
    fclose(f);
}

/* A fresh cache folder for lp_test_rt, and its decision file's path in path. */
static void fresh_cache_(char *path, size_t cap) {
    setenv("LAPERM_CACHE_DIR", fresh_dir_(), 1);
    unsetenv("LAPERM_CACHE");
    CU_ASSERT_FATAL(lp_conv_choice_path(lp_test_rt, path, cap));
}

static void test_cache_round_trip(void) {
    env_ env = env_save_();
    char path[4608], dir[600];
    snprintf(dir, sizeof dir, "%s/sub/dir", fresh_dir_()); /* folders made on write */
    setenv("LAPERM_CACHE_DIR", dir, 1);
    unsetenv("LAPERM_CACHE");
    lp_runtime *rt = lp_test_rt;
    lp_conv_choice c = {0};
    notes_ notes = {0};
    CU_ASSERT_FALSE(lp_conv_choice_read(rt, "a", &c, on_note_, &notes)); /* no file */
    lp_conv_choice a = {LP_CONV_ALGO_GEMM, 1.5, 2.25, 0, 0},
                   b = {LP_CONV_ALGO_FFT, 30, 20.125, 0, 0};
    lp_conv_choice dc = {LP_CONV_ALGO_DIRECT, 13.25, 0, 11.5, 0};
    LP_TEST_OK(lp_conv_choice_write(rt, "n50:in1x28x28", &a));
    LP_TEST_OK(lp_conv_choice_write(rt, "n50:in32x26x26", &b));
    LP_TEST_OK(lp_conv_choice_write(rt, "n50:in32x24x24:s2x2", &dc));
    CU_ASSERT_TRUE(lp_conv_choice_read(rt, "n50:in32x24x24:s2x2", &c, on_note_, &notes));
    CU_ASSERT_EQUAL(c.algo, LP_CONV_ALGO_DIRECT);
    CU_ASSERT_DOUBLE_EQUAL(c.gemm_ms, 13.25, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(c.fft_ms, 0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(c.direct_ms, 11.5, 1e-9);
    CU_ASSERT_TRUE(lp_conv_choice_read(rt, "n50:in1x28x28", &c, on_note_, &notes));
    CU_ASSERT_EQUAL(c.algo, LP_CONV_ALGO_GEMM);
    CU_ASSERT_DOUBLE_EQUAL(c.gemm_ms, 1.5, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(c.fft_ms, 2.25, 1e-9);
    CU_ASSERT_TRUE(lp_conv_choice_read(rt, "n50:in32x26x26", &c, on_note_, &notes));
    CU_ASSERT_EQUAL(c.algo, LP_CONV_ALGO_FFT);
    CU_ASSERT_DOUBLE_EQUAL(c.fft_ms, 20.125, 1e-9);
    /* The same key again replaces its line. */
    a.algo = LP_CONV_ALGO_FFT;
    LP_TEST_OK(lp_conv_choice_write(rt, "n50:in1x28x28", &a));
    CU_ASSERT_TRUE(lp_conv_choice_read(rt, "n50:in1x28x28", &c, on_note_, &notes));
    CU_ASSERT_EQUAL(c.algo, LP_CONV_ALGO_FFT);
    CU_ASSERT_FALSE(lp_conv_choice_read(rt, "n50", &c, on_note_, &notes));
    /* The GEMM mode in effect (lp_gemm_set_mode, as --gemm sets it; not $LAPERM_GEMM) is
     * part of the key: another mode has no decision for the shape until it makes one. */
    lp_gemm_mode mode = lp_gemm_get_mode(rt);
    lp_gemm_mode other = mode == LP_GEMM_TILED ? LP_GEMM_CLBLAST : LP_GEMM_TILED;
    lp_gemm_set_mode(rt, other);
    CU_ASSERT_FALSE(lp_conv_choice_read(rt, "n50:in1x28x28", &c, on_note_, &notes));
    LP_TEST_OK(lp_conv_choice_write(rt, "n50:in1x28x28", &dc));
    CU_ASSERT_TRUE(lp_conv_choice_read(rt, "n50:in1x28x28", &c, on_note_, &notes));
    CU_ASSERT_EQUAL(c.algo, LP_CONV_ALGO_DIRECT);
    lp_gemm_set_mode(rt, mode);
    CU_ASSERT_TRUE(lp_conv_choice_read(rt, "n50:in1x28x28", &c, on_note_, &notes));
    CU_ASSERT_EQUAL(c.algo, LP_CONV_ALGO_FFT);
    CU_ASSERT_EQUAL(notes.warnings, 0);
    /* One file in the folder, in the decision format, holding both modes' lines. */
    CU_ASSERT_TRUE(lp_conv_choice_path(rt, path, sizeof path));
    FILE *f = fopen(path, "rb");
    CU_ASSERT_FATAL(f != NULL);
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    CU_ASSERT_EQUAL(strncmp(text, LP_DECISIONS_FORMAT "\n", strlen(LP_DECISIONS_FORMAT) + 1), 0);
    char line[200];
    snprintf(line, sizeof line, "\n%s.%d gemm-%s:n50:in1x28x28 fft 1.5 2.25 0 0\n",
             lp_decision_conv.name, lp_decision_conv.revision, lp_gemm_mode_name(mode));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, line));
    snprintf(line, sizeof line, "\n%s.%d gemm-%s:n50:in1x28x28 direct 13.25 0 11.5 0\n",
             lp_decision_conv.name, lp_decision_conv.revision, lp_gemm_mode_name(other));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, line));
    /* Keys with white space, and auto, are refused; bad times are stored as not timed. */
    CU_ASSERT_EQUAL(lp_conv_choice_write(rt, "a b", &a), LP_ERR_INVALID_ARG);
    lp_conv_choice bad = {LP_CONV_ALGO_AUTO, 1, 1, 1, 1};
    CU_ASSERT_EQUAL(lp_conv_choice_write(rt, "k", &bad), LP_ERR_INVALID_ARG);
    lp_conv_choice odd = {LP_CONV_ALGO_GEMM, 3, NAN, -1, 0};
    LP_TEST_OK(lp_conv_choice_write(rt, "odd", &odd));
    CU_ASSERT_TRUE(lp_conv_choice_read(rt, "odd", &c, on_note_, &notes));
    CU_ASSERT(c.gemm_ms == 3 && c.fft_ms == 0 && c.direct_ms == 0);
    /* A folder that cannot be made is LP_ERR_IO, not a crash. */
    char blocked[4700];
    snprintf(blocked, sizeof blocked, "%s/below", path); /* path is a file */
    setenv("LAPERM_CACHE_DIR", blocked, 1);
    CU_ASSERT_EQUAL(lp_conv_choice_write(rt, "k", &a), LP_ERR_IO);
    env_restore_(&env);
}

/* Lines that are not well formed are one warning for the load; lines the conv kind
 * refuses one more, when it first looks: both name the file and the lines. */
static void test_cache_damaged(void) {
    env_ env = env_save_();
    char path[4608];
    fresh_cache_(path, sizeof path);
    lp_runtime *rt = lp_test_rt;
    const char *m = lp_gemm_mode_name(lp_gemm_get_mode(rt));
    char w[64]; /* the conv kind's word, "conv.<revision>" */
    snprintf(w, sizeof w, "%s.%d", lp_decision_conv.name, lp_decision_conv.revision);
    char text[4096];
    int len = snprintf(text, sizeof text,
                       LP_DECISIONS_FORMAT
                       "\n"
                       "# comment\n"
                       "%s gemm-%s:good gemm 1.0 2.0 0 0\n"
                       "%s gemm-%s:bad cuda 1.0 2.0 0 0\n"     /* line 4: refused */
                       "%s gemm-%s:short fft\n"                /* 5: refused (no timing) */
                       "%s gemm-%s:old fft 1.0 2.0 0\n"        /* 6: refused (three timings) */
                       "%s gemm-%s:nan fft nan 1 0 0\n"        /* 7: damaged */
                       "%s gemm-%s:negative direct 1 0 -2 0\n" /* 8: damaged */
                       "%s gemm-%s:extra fft 1 2 3 4 5\n"      /* 9: damaged (past 4 timings) */
                       "%s gemm-%s:auto auto 1 1 1 1\n"        /* 10: refused */
                       "\n",
                       w, m, w, m, w, m, w, m, w, m, w, m, w, m, w, m);
    memset(text + len, 'x', 700); /* 12: an overlong line */
    len += 700;
    char tail[200];
    int tl =
        snprintf(tail, sizeof tail, "\n\x01\xff@\x7f fft\n%s gemm-%s:last direct 3 0 4 0", w, m);
    tail[3] = '\0'; /* 13: a NUL inside a line; the last line has no final newline */
    memcpy(text + len, tail, (size_t)tl);
    len += tl;
    write_text_(path, text, (size_t)len);
    notes_ notes = {0};
    lp_conv_choice c = {0};
    CU_ASSERT_TRUE(lp_conv_choice_read(rt, "good", &c, on_note_, &notes));
    CU_ASSERT_EQUAL(c.algo, LP_CONV_ALGO_GEMM);
    CU_ASSERT_EQUAL(notes.warnings, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.text, "ignored 5 damaged lines")); /* 7-9, 12, 13 */
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.text, "ignored 4 out-of-range"));  /* 4-6, 10 */
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.text, path));
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.text, "line 4 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.text, "line 7 "));
    CU_ASSERT_TRUE(lp_conv_choice_read(rt, "last", &c, on_note_, &notes));
    CU_ASSERT_EQUAL(c.algo, LP_CONV_ALGO_DIRECT);
    CU_ASSERT_DOUBLE_EQUAL(c.direct_ms, 4, 1e-9);
    CU_ASSERT_FALSE(lp_conv_choice_read(rt, "bad", &c, on_note_, &notes));
    CU_ASSERT_FALSE(lp_conv_choice_read(rt, "old", &c, on_note_, &notes));
    CU_ASSERT_FALSE(lp_conv_choice_read(rt, "negative", &c, on_note_, &notes));
    CU_ASSERT_FALSE(lp_conv_choice_read(rt, "auto", &c, on_note_, &notes));
    CU_ASSERT_EQUAL(notes.warnings, 2); /* the file was read once, the kind looked once */
    /* Binary junk only (no version line): nothing found, a warning, and writing works. */
    write_text_(path, "\x00\x01\x02\xfe\xff", 5);
    CU_ASSERT_FALSE(lp_conv_choice_read(rt, "good", &c, on_note_, &notes));
    CU_ASSERT_EQUAL(notes.warnings, 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.text, LP_DECISIONS_FORMAT));
    lp_conv_choice a = {LP_CONV_ALGO_FFT, 2, 1, 0, 0};
    LP_TEST_OK(lp_conv_choice_write(rt, "good", &a));
    CU_ASSERT_TRUE(lp_conv_choice_read(rt, "good", &c, on_note_, &notes));
    CU_ASSERT_EQUAL(c.algo, LP_CONV_ALGO_FFT);
    CU_ASSERT_EQUAL(notes.warnings, 3);
    env_restore_(&env);
}

static void test_cache_path(void) {
    char path[4608];
    env_ env = env_save_();
    const char *dir = fresh_dir_();
    setenv("LAPERM_CACHE_DIR", dir, 1);
    unsetenv("LAPERM_CACHE");
    CU_ASSERT_TRUE(lp_conv_choice_path(lp_test_rt, path, sizeof path));
    CU_ASSERT_EQUAL(strncmp(path, dir, strlen(dir)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(path, "/decisions-"));
    /* The GEMM mode is in the keys, not in the file's name. */
    lp_gemm_mode mode = lp_gemm_get_mode(lp_test_rt);
    char other[4608];
    lp_gemm_set_mode(lp_test_rt, mode == LP_GEMM_AUTO ? LP_GEMM_TILED : LP_GEMM_AUTO);
    CU_ASSERT_TRUE(lp_conv_choice_path(lp_test_rt, other, sizeof other));
    CU_ASSERT_STRING_EQUAL(path, other);
    lp_gemm_set_mode(lp_test_rt, mode);
    const char *offs[] = {"off", "0", "no"};
    for (int i = 0; i < 3; ++i) {
        setenv("LAPERM_CACHE", offs[i], 1);
        CU_ASSERT_FALSE(lp_conv_choice_path(lp_test_rt, path, sizeof path));
        lp_conv_choice c;
        CU_ASSERT_FALSE(lp_conv_choice_read(lp_test_rt, "n1", &c, NULL, NULL));
    }
    env_restore_(&env);
}

/* auto: timed on the first network, read from the cache by the second; a damaged cache
 * is a warning and a new timing. The environment is restored for later suites. */
static void test_auto(void) {
    const case_ c = {"auto", 2, 6, 5, 3, "3", "same", 1, true, "relu", 3, 3, 0};
    lp_model_spec spec;
    CU_ASSERT_FATAL(parse_(&c, &spec));
    env_ env = env_save_();
    const char *dir = fresh_dir_();
    setenv("LAPERM_CACHE_DIR", dir, 1);
    unsetenv("LAPERM_CACHE");
    char path[4608];
    CU_ASSERT_FATAL(lp_conv_choice_path(lp_test_rt, path, sizeof path));
    for (int round = 0; round < 3; ++round) {
        if (round == 2) write_text_(path, "garbage\n", 8);
        notes_ notes = {0};
        lp_network *net = NULL;
        LP_TEST_OK(create_(&c, &spec, LP_CONV_ALGO_AUTO, &notes, &net));
        bool timed = round != 1;
        CU_ASSERT_EQUAL(notes.lines, 2 + (round == 2));
        CU_ASSERT_EQUAL(notes.warnings, round == 2);
        char *at = strstr(notes.text, timed ? "(auto, timed: gemm " : "(auto, cached: gemm ");
        CU_ASSERT_PTR_NOT_NULL(at);
        if (at) CU_ASSERT_PTR_NOT_NULL(strstr(at + 1, timed ? "(auto, timed" : "(auto, cached"));
        /* Whichever path it took, the network runs. */
        if (net) {
            LP_TEST_OK(lp_buffer_fill_zero(lp_test_rt, lp_network_input(net), 0,
                                           3 * lp_network_input_features(net) * 4));
            LP_TEST_OK(lp_network_forward(net, 3, true));
            LP_TEST_OK(lp_runtime_finish(lp_test_rt));
        }
        lp_network_destroy(net);
    }
    lp_conv_choice ch;
    CU_ASSERT_TRUE(lp_conv_choice_read(
        lp_test_rt, "n3:in2x6x5:f2:k1x1:s1x1:pad0,0:out6x5:dx0:bias1:relu1:wg4", &ch, NULL, NULL));
    env_restore_(&env);
    lp_model_free(&spec);
}

/* Without clFFT: fft is an error that names clFFT, auto never takes it. */
static void test_without_clfft(void) {
    const case_ c = {"no clFFT", 1, 5, 5, 2, "3", "same", 1, true, "relu", 1, 1, 0};
    lp_model_spec spec;
    CU_ASSERT_FATAL(parse_(&c, &spec));
    notes_ notes = {0};
    lp_network *net = NULL;
    CU_ASSERT_EQUAL(create_(&c, &spec, LP_CONV_ALGO_FFT, &notes, &net), LP_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "clFFT"));
    CU_ASSERT_PTR_NULL(net);
    notes = (notes_){0};
    LP_TEST_OK(create_(&c, &spec, LP_CONV_ALGO_AUTO, &notes, &net));
    CU_ASSERT_PTR_NULL(strstr(notes.text, ": fft"));
    CU_ASSERT_EQUAL(notes.warnings, 0);
    lp_network_destroy(net);
    lp_model_free(&spec);
}

static void register_suites(void) {
    CU_pSuite su = CU_add_suite("conv_algo", NULL, lp_test_release_kept);
    CU_add_test(su, "decision cache: write, read back, replace", test_cache_round_trip);
    CU_add_test(su, "decision cache: damaged lines ignored with one warning per load and kind",
                test_cache_damaged);
    CU_add_test(su, "decision cache: file per device, LAPERM_CACHE=off", test_cache_path);
    CU_add_test(su, "direct vs gemm network: output and gradients, strides, bias, ReLU",
                test_direct_matches_gemm);
    CU_add_test(su, "direct falls back to gemm past the memory budget, with a note",
                test_direct_falls_back);
    if (!lp_conv_fft_available()) {
        CU_add_test(su, "without clFFT: fft is an error, auto is not fft", test_without_clfft);
        return;
    }
    if (lp_test_simulator()) {
        /* clFFT's generated kernels cannot run under Oclgrind 21.10 (see cltest_conv_fft). */
        printf("\n  conv_algo: the FFT path cannot run under Oclgrind 21.10; it is not tested"
               " in the simulator\n");
        return;
    }
    CU_add_test(su, "fft vs gemm network: output and gradients, bias, ReLU, odd shapes",
                test_fft_matches_gemm);
    CU_add_test(su, "fft falls back to gemm for stride 2, with a note", test_fft_falls_back);
    CU_add_test(su, "auto: timed, then cached; a damaged cache is re-timed", test_auto);
}

int main(void) {
    return lp_cltest_main("cltest_conv_algo", register_suites);
}
