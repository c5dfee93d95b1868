/* Model files: the shipped models parse to the published parameter counts, every kind of
 * malformed text gives its exact message, and the parameter table and summary agree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/model.h"
#include "lp_test.h"

/* Lines 1-4 and 5 of most test texts, so that line numbers below are easy to check. */
#define IN_ "[input]\nchannels = 1\nheight = 28\nwidth = 28\n"
#define FLAT_ "[flatten]\n"

/* ---- shipped models ---------------------------------------------------------------------- */

static void check_model_(const char *rel, int n_layers, size_t params, const int *units) {
    lp_model_spec m;
    const char *path = lp_test_source_path(rel);
    lp_status s = lp_model_load(path, &m);
    if (s != LP_OK) printf("\n  %s: %s\n", rel, lp_last_error());
    CU_ASSERT_EQUAL_FATAL(s, LP_OK);
    CU_ASSERT_EQUAL(m.n_layers, n_layers);
    CU_ASSERT_EQUAL(lp_model_param_count(&m), params);
    CU_ASSERT_STRING_EQUAL(m.source, path);
    CU_ASSERT_PTR_NOT_NULL(strstr(m.text, "[input]"));
    CU_ASSERT_EQUAL(m.layers[0].kind, LP_LAYER_INPUT);
    CU_ASSERT(m.layers[0].out.c == 1 && m.layers[0].out.h == 28 && m.layers[0].out.w == 28);
    CU_ASSERT_EQUAL(m.layers[1].kind, LP_LAYER_FLATTEN);
    CU_ASSERT(m.layers[1].out.c == 784 && m.layers[1].out.h == 1 && m.layers[1].out.w == 1);
    for (int i = 2; i < m.n_layers; ++i) {
        const lp_layer_spec *l = &m.layers[i];
        CU_ASSERT_EQUAL(l->kind, LP_LAYER_DENSE);
        CU_ASSERT(l->out.c == units[i - 2] && l->out.h == 1 && l->out.w == 1);
        CU_ASSERT_EQUAL(l->in.c, m.layers[i - 1].out.c);
        CU_ASSERT_EQUAL(l->u.dense.activation, i == m.n_layers - 1 ? LP_ACT_NONE : LP_ACT_RELU);
        CU_ASSERT(l->u.dense.permute);
    }
    lp_model_free(&m);
}

static void test_shipped_models(void) {
    check_model_("models/logreg.ini", 3, 7840, (const int[]){10});
    check_model_("models/f2.ini", 5, 109184, (const int[]){128, 64, 10});
    check_model_("models/lenet300.ini", 5, 266610, (const int[]){300, 100, 10});

    lp_model_spec m;
    CU_ASSERT_EQUAL_FATAL(lp_model_load(lp_test_source_path("models/f2.ini"), &m), LP_OK);
    for (int i = 2; i < m.n_layers; ++i) {
        CU_ASSERT(!m.layers[i].u.dense.use_bias);
        CU_ASSERT_EQUAL(m.layers[i].u.dense.l2, 1e-4f);
    }
    lp_model_free(&m);
    CU_ASSERT_EQUAL_FATAL(lp_model_load(lp_test_source_path("models/logreg.ini"), &m), LP_OK);
    CU_ASSERT(!m.layers[2].u.dense.use_bias);
    CU_ASSERT_EQUAL(m.layers[2].u.dense.l2, 0.0f);
    lp_model_free(&m);
}

/* ---- accepted syntax and defaults ---------------------------------------------------------- */

static void test_syntax_and_defaults(void) {
    /* CRLF, tabs, comments of both kinds, spaces inside brackets, no final newline. */
    const char *text = "# a comment\r\n\t[input]  ; trailing\r\nchannels=1\r\n height =\t28 \r\n"
                       "width = 28#c\r\n\r\n[ flatten ]\r\n[dense]\r\nunits = 10 # ten\r\n"
                       "name = _Out9";
    lp_model_spec m;
    lp_status s = lp_model_parse_text(text, "ok.ini", &m);
    if (s != LP_OK) printf("\n  %s\n", lp_last_error());
    CU_ASSERT_EQUAL_FATAL(s, LP_OK);
    CU_ASSERT_EQUAL(m.n_layers, 3);
    CU_ASSERT_STRING_EQUAL(m.source, "ok.ini");
    CU_ASSERT_STRING_EQUAL(m.text, text);
    CU_ASSERT_EQUAL(m.layers[0].line, 2);
    CU_ASSERT_EQUAL(m.layers[2].line, 8);
    CU_ASSERT_STRING_EQUAL(m.layers[2].name, "_Out9");
    const lp_dense_spec *d = &m.layers[2].u.dense;
    CU_ASSERT_EQUAL(d->units, 10);
    CU_ASSERT(d->use_bias);
    CU_ASSERT_EQUAL(d->activation, LP_ACT_NONE);
    CU_ASSERT_EQUAL(d->kernel_init, LP_INIT_HE_UNIFORM);
    CU_ASSERT_EQUAL(d->bias_init, LP_INIT_ZEROS);
    CU_ASSERT_EQUAL(d->l2, 0.0f);
    CU_ASSERT(d->permute);
    lp_model_free(&m);

    /* Every key set; numbers in the accepted spellings. */
    s = lp_model_parse_text(IN_ FLAT_ "[dense]\nunits = 007\nbias = false\nactivation = relu\n"
                                      "init = glorot_normal\nl2 = 5.E-1\npermute = false\n",
                            "all.ini", &m);
    CU_ASSERT_EQUAL_FATAL(s, LP_OK);
    d = &m.layers[2].u.dense;
    CU_ASSERT(d->units == 7 && !d->use_bias && d->activation == LP_ACT_RELU);
    CU_ASSERT(d->kernel_init == LP_INIT_GLOROT_NORMAL && d->l2 == 0.5f && !d->permute);
    lp_model_free(&m);
    const char *l2s[] = {"0", "0.0", ".5", "5.", "1e-4", "1E+2", "-0"};
    const float want[] = {0.0f, 0.0f, 0.5f, 5.0f, 1e-4f, 100.0f, 0.0f};
    for (int i = 0; i < 7; ++i) {
        char buf[256];
        snprintf(buf, sizeof buf, IN_ FLAT_ "[dense]\nunits = 3\nl2 = %s\n", l2s[i]);
        CU_ASSERT_EQUAL_FATAL(lp_model_parse_text(buf, "l2.ini", &m), LP_OK);
        CU_ASSERT_EQUAL(m.layers[2].u.dense.l2, want[i]);
        lp_model_free(&m);
    }

    /* Default names count every layer of a kind, named or not. */
    s = lp_model_parse_text(IN_ FLAT_ "[dense]\nunits = 5\nname = hidden\n[dense]\nunits = 3\n"
                                      "[flatten]\n",
                            NULL, &m);
    CU_ASSERT_EQUAL_FATAL(s, LP_OK);
    CU_ASSERT_STRING_EQUAL(m.source, "(model text)");
    const char *names[] = {"input_1", "flatten_1", "hidden", "dense_2", "flatten_2"};
    for (int i = 0; i < 5; ++i)
        CU_ASSERT_STRING_EQUAL(m.layers[i].name, names[i]);
    /* [flatten] of a flat shape is the identity. */
    CU_ASSERT(m.layers[4].out.c == 3 && m.layers[4].out.h == 1 && m.layers[4].out.w == 1);
    lp_model_free(&m);

    /* A (c,1,1) input is already flat. */
    s = lp_model_parse_text("[input]\nchannels = 784\nheight = 1\nwidth = 1\n[dense]\nunits = 10\n",
                            "flat.ini", &m);
    CU_ASSERT_EQUAL_FATAL(s, LP_OK);
    CU_ASSERT_EQUAL(lp_model_param_count(&m), 7850);
    lp_model_free(&m);
}

/* ---- malformed text ------------------------------------------------------------------------ */

typedef struct {
    const char *text, *message;
} bad_case_;

#define NAME47_ "a234567890123456789012345678901234567890123456"
static const bad_case_ bad_cases_[] = {
    {"", "bad.ini:1: no sections (a model file starts with [input], then one section per layer)"},
    {"# nothing\n; here\n",
     "bad.ini:2: no sections (a model file starts with [input], then one section per layer)"},
    {IN_, "bad.ini:1: no layers after [input] (expected sections such as [flatten] and [dense])"},
    {"[dense]\nunits = 10\n", "bad.ini:1: first section is [dense] (a model starts with [input])"},
    {IN_ "[input]\n",
     "bad.ini:5: second [input] section (a model has exactly one, the first section; see line 1)"},
    {IN_ "[conv2d]\n",
     "bad.ini:5: unknown section [conv2d] (expected one of: input, flatten, dense)"},
    {IN_ "[Dense]\n",
     "bad.ini:5: unknown section [Dense] (expected one of: input, flatten, dense)"},
    {IN_ "[]\n", "bad.ini:5: unknown section [] (expected one of: input, flatten, dense)"},
    {IN_ "[flatten\n",
     "bad.ini:5: malformed section header '[flatten' (expected '[name]' alone on the line)"},
    {IN_ "[dense] units = 10\n", "bad.ini:5: malformed section header '[dense] units = 10' "
                                 "(expected '[name]' alone on the line)"},
    {IN_ "[[dense]]\n",
     "bad.ini:5: malformed section header '[[dense]]' (expected '[name]' alone on the line)"},
    {"# header\n\nunits = 10\n[input]\n",
     "bad.ini:3: key 'units' before any section (a model starts with [input])"},
    {IN_ FLAT_ "[dense]\nunits 10\n",
     "bad.ini:7: malformed line 'units 10' (expected '[section]' or 'key = value')"},
    {IN_ FLAT_ "[dense]\n= 10\n", "bad.ini:7: malformed line '= 10' (expected 'key = value')"},
    {IN_ FLAT_ "[dense]\nUnits = 10\n",
     "bad.ini:7: malformed key 'Units' (keys are lowercase identifiers such as 'units')"},
    {IN_ FLAT_ "[dense]\nunit = 10\n",
     "bad.ini:7: unknown key 'unit' in [dense] (expected one of: name, units, bias, activation, "
     "init, bias_init, l2, permute)"},
    {IN_ "[flatten]\nunits = 3\n",
     "bad.ini:6: unknown key 'units' in [flatten] (expected one of: name)"},
    {"[input]\nchannels = 1\nheight = 28\ndepth = 28\n",
     "bad.ini:4: unknown key 'depth' in [input] (expected one of: name, channels, height, width)"},
    {"[input]\nchannels = 1\nheight = 28\nheight = 28\nwidth = 28\n",
     "bad.ini:4: duplicate key 'height' in [input] (first set on line 3)"},
    {"[input]\nchannels = 1\nheight = 28\n[flatten]\n",
     "bad.ini:1: missing required key 'width' in [input]"},
    {IN_ FLAT_ "[dense]\nbias = false\n", "bad.ini:6: missing required key 'units' in [dense]"},
    {IN_ FLAT_ "[dense]\n[dense]\nunits = 3\n",
     "bad.ini:6: missing required key 'units' in [dense]"},
    {IN_ FLAT_ "[dense]\nunits =\n",
     "bad.ini:7: missing value for 'units' in [dense] (expected a positive integer)"},
    {IN_ FLAT_ "[dense]\nunits =   # ten\n",
     "bad.ini:7: missing value for 'units' in [dense] (expected a positive integer)"},
    {IN_ FLAT_ "[dense]\nunits = 3x\n",
     "bad.ini:7: bad value '3x' for 'units' in [dense] (expected a positive integer)"},
    {IN_ FLAT_ "[dense]\nunits = 0\n",
     "bad.ini:7: bad value '0' for 'units' in [dense] (expected a positive integer)"},
    {IN_ FLAT_ "[dense]\nunits = -5\n",
     "bad.ini:7: bad value '-5' for 'units' in [dense] (expected a positive integer)"},
    {IN_ FLAT_ "[dense]\nunits = +5\n",
     "bad.ini:7: bad value '+5' for 'units' in [dense] (expected a positive integer)"},
    {IN_ FLAT_ "[dense]\nunits = 1.5\n",
     "bad.ini:7: bad value '1.5' for 'units' in [dense] (expected a positive integer)"},
    {IN_ FLAT_ "[dense]\nunits = 1 0\n",
     "bad.ini:7: bad value '1 0' for 'units' in [dense] (expected a positive integer)"},
    {IN_ FLAT_ "[dense]\nunits = 99999999999\n",
     "bad.ini:7: value '99999999999' for 'units' in [dense] is too large (the limit is "
     "2147483647)"},
    {IN_ FLAT_ "[dense]\nunits = 10\nbias = yes\n",
     "bad.ini:8: bad value 'yes' for 'bias' in [dense] (expected true or false)"},
    {IN_ FLAT_ "[dense]\nunits = 10\npermute = True\n",
     "bad.ini:8: bad value 'True' for 'permute' in [dense] (expected true or false)"},
    {IN_ FLAT_ "[dense]\nunits = 10\nactivation = tanh\n",
     "bad.ini:8: bad value 'tanh' for 'activation' in [dense] (expected one of: none, relu)"},
    {IN_ FLAT_ "[dense]\nunits = 10\ninit = uniform\n",
     "bad.ini:8: bad value 'uniform' for 'init' in [dense] (expected one of: he_uniform, "
     "he_normal, glorot_uniform, glorot_normal)"},
    {IN_ FLAT_ "[dense]\nunits = 10\nbias_init = ones\n",
     "bad.ini:8: bad value 'ones' for 'bias_init' in [dense] (expected one of: zeros)"},
    {IN_ FLAT_ "[dense]\nunits = 10\nl2 = -1e-4\n",
     "bad.ini:8: bad value '-1e-4' for 'l2' in [dense] (expected a non-negative number)"},
    {IN_ FLAT_ "[dense]\nunits = 10\nl2 = nan\n",
     "bad.ini:8: bad value 'nan' for 'l2' in [dense] (expected a non-negative number)"},
    {IN_ FLAT_ "[dense]\nunits = 10\nl2 = 0x10\n",
     "bad.ini:8: bad value '0x10' for 'l2' in [dense] (expected a non-negative number)"},
    {IN_ FLAT_ "[dense]\nunits = 10\nl2 = 1e-4e\n",
     "bad.ini:8: bad value '1e-4e' for 'l2' in [dense] (expected a non-negative number)"},
    {IN_ FLAT_ "[dense]\nunits = 10\nl2 = .\n",
     "bad.ini:8: bad value '.' for 'l2' in [dense] (expected a non-negative number)"},
    {IN_ FLAT_ "[dense]\nunits = 10\nl2 = 1e39\n",
     "bad.ini:8: value '1e39' for 'l2' in [dense] is too large (the limit is 3.40282e+38)"},
    {IN_ FLAT_ "[dense]\nunits = 10\nname = 3d\n",
     "bad.ini:8: bad value '3d' for 'name' in [dense] (expected an identifier: a letter or '_', "
     "then letters, digits or '_', at most 47 characters)"},
    {IN_ FLAT_ "[dense]\nunits = 10\nname = " NAME47_ "78\n",
     "bad.ini:8: bad value '" NAME47_ "78' for 'name' in [dense] (expected an identifier: a "
     "letter or '_', then letters, digits or '_', at most 47 characters)"},
    {IN_ "[flatten]\nname =\n",
     "bad.ini:6: missing value for 'name' in [flatten] (expected an identifier: a letter or '_', "
     "then letters, digits or '_', at most 47 characters)"},
    {IN_ FLAT_ "[dense]\nunits = 10\nbias_init = zeros\nbias = false\n",
     "bad.ini:8: 'bias_init' is set but bias = false in [dense] (remove one of them)"},
    {IN_ "[dense]\nunits = 10\n", "bad.ini:5: [dense] needs a flat input but gets 1x28x28 from "
                                  "'input_1': add [flatten] before line 5"},
    {IN_ FLAT_ "[dense]\nunits = 10\nname = out\n[dense]\nunits = 10\nname = out\n",
     "bad.ini:9: duplicate layer name 'out' (already used on line 6)"},
    {IN_ FLAT_ "[dense]\nname = dense_2\nunits = 5\n[dense]\nunits = 10\n",
     "bad.ini:9: duplicate layer name 'dense_2' (already used on line 6)"},
    {"[input]\nchannels = 65536\nheight = 1\nwidth = 1\n[dense]\nunits = 65536\n",
     "bad.ini:5: [dense] kernel of 65536 x 65536 = 4294967296 weights exceeds the limit of "
     "2147483647 per tensor"},
    {"[input]\nchannels = 65536\nheight = 65536\nwidth = 1\n[flatten]\n",
     "bad.ini:1: [input] of 65536x65536x1 = 4294967296 values per sample exceeds the limit of "
     "2147483647"},
    /* Errors come in file order: the incomplete first [dense] before the unknown section. */
    {IN_ FLAT_ "[dense]\n[conv2d]\n", "bad.ini:6: missing required key 'units' in [dense]"},
    /* A long value is echoed cut short. */
    {IN_ FLAT_ "[dense]\nunits = 1234567890123456789012345678901234567890123456789012345678901x\n",
     "bad.ini:7: bad value '123456789012345678901234567890123456789012345678901234567890...' for "
     "'units' in [dense] (expected a positive integer)"},
};

static void test_bad_input(void) {
    int n = (int)(sizeof bad_cases_ / sizeof bad_cases_[0]);
    for (int i = 0; i < n; ++i) {
        lp_model_spec m;
        memset(&m, 0xab, sizeof m); /* a failed parse must zero it */
        lp_clear_error();
        lp_status s = lp_model_parse_text(bad_cases_[i].text, "bad.ini", &m);
        bool same = strcmp(lp_last_error(), bad_cases_[i].message) == 0;
        if (s != LP_ERR_FORMAT || !same)
            printf("\n  case %d: status %s\n    got:  %s\n    want: %s\n", i, lp_status_name(s),
                   lp_last_error(), bad_cases_[i].message);
        CU_ASSERT_EQUAL(s, LP_ERR_FORMAT);
        CU_ASSERT(same);
        CU_ASSERT(m.layers == NULL && m.n_layers == 0 && m.source == NULL && m.text == NULL);
        lp_model_free(&m);
    }
}

/* ---- files --------------------------------------------------------------------------------- */

static const char *write_file_(const char *name, const char *bytes, size_t n) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", lp_test_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(bytes, 1, n, f), n);
    fclose(f);
    return path;
}

static void test_files(void) {
    lp_model_spec m;
    char want[1024];
    const char *missing = lp_test_source_path("models/no-such-model.ini");
    CU_ASSERT_EQUAL(lp_model_load(missing, &m), LP_ERR_IO);
    snprintf(want, sizeof want, "cannot open model file '%s': No such file or directory", missing);
    CU_ASSERT_STRING_EQUAL(lp_last_error(), want);
    CU_ASSERT_PTR_NULL(m.layers);

    const char *path = write_file_("empty.ini", "", 0);
    CU_ASSERT_EQUAL(lp_model_load(path, &m), LP_ERR_FORMAT);
    snprintf(want, sizeof want,
             "%s:1: no sections (a model file starts with [input], then one section per layer)",
             path);
    CU_ASSERT_STRING_EQUAL(lp_last_error(), want);

    path = write_file_("nul.ini", "[input]\0x", 9);
    CU_ASSERT_EQUAL(lp_model_load(path, &m), LP_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: contains a NUL byte: not a text model file", path);
    CU_ASSERT_STRING_EQUAL(lp_last_error(), want);

    const char *text = IN_ FLAT_ "[dense]\nunits = 4\n";
    path = write_file_("ok.ini", text, strlen(text));
    CU_ASSERT_EQUAL_FATAL(lp_model_load(path, &m), LP_OK);
    CU_ASSERT_STRING_EQUAL(m.text, text);
    CU_ASSERT_STRING_EQUAL(m.source, path);
    lp_model_free(&m);
    CU_ASSERT_PTR_NULL(m.layers);
    lp_model_free(&m); /* twice is harmless */
    lp_model_free(NULL);
}

/* ---- parameter table and summary ------------------------------------------------------------ */

static void test_params(void) {
    lp_model_spec m;
    CU_ASSERT_EQUAL_FATAL(lp_model_load(lp_test_source_path("models/lenet300.ini"), &m), LP_OK);
    lp_param_tensor *t = NULL;
    int n = 0;
    CU_ASSERT_EQUAL_FATAL(lp_model_params(&m, &t, &n), LP_OK);
    CU_ASSERT_EQUAL_FATAL(n, 6);
    const int layer[] = {2, 2, 3, 3, 4, 4}, d0[] = {300, 300, 100, 100, 10, 10},
              d1[] = {784, 0, 300, 0, 100, 0};
    const size_t offset[] = {0, 235200, 235500, 265500, 265600, 266600};
    size_t sum = 0;
    for (int i = 0; i < n; ++i) {
        bool kernel = i % 2 == 0;
        CU_ASSERT_EQUAL(t[i].layer, layer[i]);
        CU_ASSERT_STRING_EQUAL(t[i].name, kernel ? "kernel" : "bias");
        CU_ASSERT_EQUAL(t[i].is_kernel, kernel);
        CU_ASSERT_EQUAL(t[i].rank, kernel ? 2 : 1);
        CU_ASSERT_EQUAL(t[i].dims[0], d0[i]);
        CU_ASSERT_EQUAL(t[i].dims[1], d1[i]);
        CU_ASSERT_EQUAL(t[i].count, kernel ? (size_t)d0[i] * (size_t)d1[i] : (size_t)d0[i]);
        CU_ASSERT_EQUAL(t[i].offset, offset[i]);
        CU_ASSERT_EQUAL(t[i].fan_in, m.layers[layer[i]].in.c);
        CU_ASSERT_EQUAL(t[i].fan_out, d0[i]);
        CU_ASSERT_EQUAL(t[i].init, kernel ? LP_INIT_HE_UNIFORM : LP_INIT_ZEROS);
        CU_ASSERT_EQUAL(t[i].permute_default, kernel);
        CU_ASSERT_EQUAL(t[i].groups, kernel ? d0[i] : 1);
        CU_ASSERT_EQUAL(t[i].group_size, kernel ? d1[i] : d0[i]);
        CU_ASSERT_EQUAL((size_t)t[i].groups * (size_t)t[i].group_size, t[i].count);
        sum += t[i].count;
    }
    CU_ASSERT_EQUAL(sum, lp_model_param_count(&m));
    free(t);
    lp_model_free(&m);

    CU_ASSERT_EQUAL_FATAL(lp_model_load(lp_test_source_path("models/f2.ini"), &m), LP_OK);
    CU_ASSERT_EQUAL_FATAL(lp_model_params(&m, &t, &n), LP_OK);
    CU_ASSERT_EQUAL(n, 3);
    for (int i = 0; i < n; ++i)
        CU_ASSERT(t[i].is_kernel && t[i].l2 == 1e-4f);
    free(t);
    lp_model_free(&m);

    /* No weights at all: an empty (but freeable) table. */
    CU_ASSERT_EQUAL_FATAL(lp_model_parse_text(IN_ FLAT_, "flat.ini", &m), LP_OK);
    CU_ASSERT_EQUAL(lp_model_params(&m, &t, &n), LP_OK);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_PTR_NOT_NULL(t);
    CU_ASSERT_EQUAL(lp_model_param_count(&m), 0);
    free(t);
    lp_model_free(&m);
}

static char *summary_(const char *rel) {
    lp_model_spec m;
    char *buf = NULL;
    size_t len = 0;
    if (lp_model_load(lp_test_source_path(rel), &m) != LP_OK) return NULL;
    FILE *f = open_memstream(&buf, &len);
    if (f) {
        lp_status s = lp_model_summary(&m, f);
        fclose(f);
        if (s != LP_OK) {
            free(buf);
            buf = NULL;
        }
    }
    lp_model_free(&m);
    return buf;
}

static void test_summary(void) {
    char *s = summary_("models/lenet300.ini");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "total params: 266,610 in 6 tensors\n"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(s, "permuted params: 266,200 in 410 groups (kernels with permute = true)\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "  0  input_1    input    1x28x28                 0\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "  2  dense_1    dense    300               235,500  relu, "
                                     "init he_uniform, bias, permuted\n"));
    free(s);

    s = summary_("models/f2.ini");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "total params: 109,184 in 3 tensors\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "permuted params: 109,184 in 202 groups"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "no bias, l2 0.0001, permuted\n"));
    free(s);

    s = summary_("models/logreg.ini");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "total params: 7,840 in 1 tensor\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "permuted params: 7,840 in 10 groups"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(s, "  7,840  no activation, init he_uniform, no bias, permuted\n"));
    free(s);
}

static void test_names(void) {
    CU_ASSERT_STRING_EQUAL(lp_layer_kind_name(LP_LAYER_FLATTEN), "flatten");
    CU_ASSERT_STRING_EQUAL(lp_activation_name(LP_ACT_RELU), "relu");
    CU_ASSERT_STRING_EQUAL(lp_init_name(LP_INIT_GLOROT_UNIFORM), "glorot_uniform");
    CU_ASSERT_STRING_EQUAL(lp_init_name(LP_INIT_ZEROS), "zeros");
    char buf[48];
    CU_ASSERT_STRING_EQUAL(lp_shape_str((lp_shape){3, 32, 32}, buf, sizeof buf), "3x32x32");
    CU_ASSERT_STRING_EQUAL(lp_shape_str((lp_shape){10, 1, 1}, buf, sizeof buf), "10");
    CU_ASSERT_EQUAL(lp_shape_size((lp_shape){3, 32, 32}), 3072);
}

static void register_suites(void) {
    CU_pSuite s = CU_add_suite("model", NULL, NULL);
    CU_add_test(s, "shipped models", test_shipped_models);
    CU_add_test(s, "syntax and defaults", test_syntax_and_defaults);
    CU_add_test(s, "bad input", test_bad_input);
    CU_add_test(s, "files", test_files);
    CU_add_test(s, "params", test_params);
    CU_add_test(s, "summary", test_summary);
    CU_add_test(s, "names", test_names);
}

int main(void) {
    return lp_test_main("test_model", register_suites);
}
