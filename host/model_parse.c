/* Model files: reading them (lp_model_load) and parsing the text into a checked
 * lp_layer_spec array. Strict on purpose: anything it does not understand is an
 * LP_ERR_FORMAT "<file>:<line>: ..." that says what was expected. The sections, their
 * keys, defaults, checks and shapes come from the layer kinds' descriptors (layer.h,
 * through the registry); this file knows only the syntax and the value types. */
#include "laperm/model.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/init.h"
#include "layer.h"

/* Larger than any sensible model file: guards against being handed a data set. */
#define MODEL_FILE_MAX_ (1 << 20)

/* ---- parser state ---------------------------------------------------------------------- */

typedef struct {
    const char *src;
    lp_layer_spec *layers;
    int n, cap;
    const lp_layer_kind_desc *sec;       /* section being read; NULL before the first */
    int key_line[LP_KEYS_MAX];           /* line each key of `sec` was set on, 0 = unset */
    int kind_count[LP_LAYER_KIND_COUNT]; /* layers of each kind so far (default names) */
    int64_t n_params;                    /* parameters of the finished layers */
    lp_name_index names;                 /* the finished layers, by name */
} parser_;

/* ---- small text helpers ---------------------------------------------------------------- */

typedef struct {
    const char *s;
    size_t n;
} span_;

static span_ trim_(const char *s, size_t n) {
    while (n > 0 && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    return (span_){s, n};
}

static bool span_eq_(span_ a, const char *b) {
    return strlen(b) == a.n && memcmp(a.s, b, a.n) == 0;
}

/* Echoes user text in messages, cut short so that a runaway line stays readable. */
#define EXCERPT_MAX_ 60
static const char *excerpt_(span_ v, char *buf, size_t size) {
    if (v.n <= EXCERPT_MAX_)
        snprintf(buf, size, "%.*s", (int)v.n, v.s);
    else
        snprintf(buf, size, "%.*s...", EXCERPT_MAX_, v.s);
    return buf;
}

static bool is_key_(span_ k) {
    if (k.n == 0 || !(islower((unsigned char)k.s[0]))) return false;
    for (size_t i = 1; i < k.n; ++i)
        if (!islower((unsigned char)k.s[i]) && !isdigit((unsigned char)k.s[i]) && k.s[i] != '_')
            return false;
    return true;
}

static bool is_name_(span_ v) {
    if (v.n == 0 || v.n >= LP_LAYER_NAME_MAX) return false;
    if (!isalpha((unsigned char)v.s[0]) && v.s[0] != '_') return false;
    for (size_t i = 1; i < v.n; ++i)
        if (!isalnum((unsigned char)v.s[i]) && v.s[i] != '_') return false;
    return true;
}

/* Appends ", word" (or "word" first) for the "expected one of: ..." lists. */
static void append_word_(char *buf, size_t size, const char *word) {
    size_t len = strlen(buf);
    if (len < size) snprintf(buf + len, size - len, "%s%s", len ? ", " : "", word);
}

static const char *list_choices_(const lp_choice *c, char *buf, size_t size) {
    buf[0] = '\0';
    for (; c->word; ++c)
        append_word_(buf, size, c->word);
    return buf;
}

/* ---- values -------------------------------------------------------------------------- */

static lp_status bad_value_(const parser_ *p, int line, const lp_key_def *k, span_ v,
                            const char *expected) {
    char ex[EXCERPT_MAX_ + 8];
    return lp_fail(LP_ERR_FORMAT, "%s:%d: bad value '%s' for '%s' in [%s] (expected %s)", p->src,
                   line, excerpt_(v, ex, sizeof ex), k->key, p->sec->section, expected);
}

static const char *expected_(const lp_key_def *k, char *buf, size_t size) {
    switch (k->type) {
    case LP_VAL_POS_INT:
        return "a positive integer";
    case LP_VAL_BOOL:
        return "true or false";
    case LP_VAL_SIZE2:
        return "a positive integer, or height x width such as 5x3";
    case LP_VAL_NONNEG_FLOAT:
        return "a non-negative number";
    case LP_VAL_POS_FLOAT:
        return "a positive number";
    case LP_VAL_RATE:
        return "a number >= 0 and < 1";
    case LP_VAL_FRACTION:
        return "a number from 0 to 1";
    case LP_VAL_KEEP:
        return "a number > 0 and <= 1";
    case LP_VAL_FLOAT:
        return "a number";
    case LP_VAL_FLOAT_LIST:
        snprintf(buf, size, "a comma-separated list of 1 to %d numbers, such as -0.05,0.05",
                 LP_INIT_VALUES_MAX);
        return buf;
    case LP_VAL_LEVELS:
        return "an integer >= 2";
    case LP_VAL_NAME:
        snprintf(buf, size,
                 "an identifier: a letter or '_', then letters, digits or '_', at most %d "
                 "characters",
                 LP_LAYER_NAME_MAX - 1);
        return buf;
    case LP_VAL_CHOICE: {
        char words[256];
        snprintf(buf, size, "one of: %s", list_choices_(k->choices, words, sizeof words));
        return buf;
    }
    case LP_VAL_INIT: {
        char words[256];
        snprintf(buf, size, "one of: %s", lp_init_list(k->init_use, words, sizeof words));
        return buf;
    }
    }
    return "?";
}

static lp_status too_large_(const parser_ *p, int line, const lp_key_def *k, span_ v,
                            const char *limit) {
    char ex[EXCERPT_MAX_ + 8];
    return lp_fail(LP_ERR_FORMAT,
                   "%s:%d: value '%s' for '%s' in [%s] is too large (the limit is %s)", p->src,
                   line, excerpt_(v, ex, sizeof ex), k->key, p->sec->section, limit);
}

/* Digits only, no sign: 0 ok, -1 not a positive integer, -2 above INT_MAX. */
static int pos_int_(span_ d, int *out) {
    if (d.n == 0) return -1;
    int64_t x = 0;
    for (size_t i = 0; i < d.n; ++i)
        if (!isdigit((unsigned char)d.s[i])) return -1;
    for (size_t i = 0; i < d.n; ++i) {
        x = x * 10 + (d.s[i] - '0');
        if (x > INT_MAX) return -2;
    }
    if (x == 0) return -1;
    *out = (int)x;
    return 0;
}

/* Plain decimal or exponent notation only (no hex, inf, nan), so that files read the same
 * everywhere. strtod assumes the "C" locale; the library never sets one. Returns false if
 * v is not such a finite number. */
static bool number_(span_ v, double *out) {
    char num[64];
    if (v.n >= sizeof num || strspn(v.s, "0123456789.eE+-") < v.n) return false;
    memcpy(num, v.s, v.n);
    num[v.n] = '\0';
    char *end = NULL;
    double x = strtod(num, &end);
    if (end != num + v.n || !isfinite(x)) return false;
    *out = x;
    return true;
}

/* Range checks happen on the float actually stored: eps = 1e-50 would be 0, rate =
 * 0.999999999 would be 1. */
static lp_status parse_float_(const parser_ *p, int line, const lp_key_def *k, span_ v,
                              const char *expected, float *field) {
    double x = 0.0;
    bool at_most_1 = k->type == LP_VAL_RATE || k->type == LP_VAL_FRACTION || k->type == LP_VAL_KEEP;
    if (!number_(v, &x) || x < 0.0 || (at_most_1 && x > 1.0))
        return bad_value_(p, line, k, v, expected);
    if (x > FLT_MAX) {
        char limit[32];
        snprintf(limit, sizeof limit, "%g", (double)FLT_MAX);
        return too_large_(p, line, k, v, limit);
    }
    float f = (float)x + 0.0f; /* + 0.0f turns -0 into +0 */
    bool ok = (k->type == LP_VAL_NONNEG_FLOAT) || (k->type == LP_VAL_POS_FLOAT && f > 0.0f) ||
              (k->type == LP_VAL_RATE && f < 1.0f) || (k->type == LP_VAL_FRACTION && f <= 1.0f) ||
              (k->type == LP_VAL_KEEP && f > 0.0f && f <= 1.0f);
    if (!ok) return bad_value_(p, line, k, v, expected);
    *field = f;
    return LP_OK;
}

/* A finite number of either sign that a float holds, -0 stored as +0. */
static lp_status parse_signed_(const parser_ *p, int line, const lp_key_def *k, span_ v, span_ item,
                               const char *expected, float *out) {
    double x = 0.0;
    if (!number_(item, &x)) return bad_value_(p, line, k, v, expected);
    if (x > FLT_MAX || x < -FLT_MAX) {
        char limit[32];
        snprintf(limit, sizeof limit, "%g in magnitude", (double)FLT_MAX);
        return too_large_(p, line, k, v, limit);
    }
    *out = (float)x + 0.0f;
    return LP_OK;
}

static lp_status parse_value_(const parser_ *p, int line, const lp_key_def *k, span_ v,
                              lp_layer_spec *l) {
    char want[320], limit[16];
    const char *expected = expected_(k, want, sizeof want);
    if (v.n == 0)
        return lp_fail(LP_ERR_FORMAT, "%s:%d: missing value for '%s' in [%s] (expected %s)", p->src,
                       line, k->key, p->sec->section, expected);
    snprintf(limit, sizeof limit, "%d", INT_MAX);
    char *field = (char *)l + k->offset;
    switch (k->type) {
    case LP_VAL_POS_INT: {
        int r = pos_int_(v, (int *)(void *)field);
        if (r == -2) return too_large_(p, line, k, v, limit);
        return r ? bad_value_(p, line, k, v, expected) : LP_OK;
    }
    case LP_VAL_SIZE2: {
        /* "5x3" is height 5, width 3; "3" is both. */
        const char *x = memchr(v.s, 'x', v.n);
        span_ h = {v.s, x ? (size_t)(x - v.s) : v.n};
        span_ w = x ? (span_){x + 1, v.n - h.n - 1} : h;
        int hw[2] = {0, 0};
        int rh = pos_int_(h, &hw[0]), rw = pos_int_(w, &hw[1]);
        if (rh == -1 || rw == -1) return bad_value_(p, line, k, v, expected);
        if (rh || rw) return too_large_(p, line, k, v, limit);
        memcpy(field, hw, sizeof hw);
        return LP_OK;
    }
    case LP_VAL_BOOL:
        if (span_eq_(v, "true"))
            *(bool *)(void *)field = true;
        else if (span_eq_(v, "false"))
            *(bool *)(void *)field = false;
        else
            return bad_value_(p, line, k, v, expected);
        return LP_OK;
    case LP_VAL_NONNEG_FLOAT:
    case LP_VAL_POS_FLOAT:
    case LP_VAL_RATE:
    case LP_VAL_FRACTION:
    case LP_VAL_KEEP:
        return parse_float_(p, line, k, v, expected, (float *)(void *)field);
    case LP_VAL_FLOAT:
        return parse_signed_(p, line, k, v, v, expected, (float *)(void *)field);
    case LP_VAL_FLOAT_LIST: {
        char ex[EXCERPT_MAX_ + 8], why[256];
        if (lp_init_values_parse(v.s, v.n, (lp_float_list *)(void *)field) == LP_OK) return LP_OK;
        snprintf(why, sizeof why, "%s", lp_last_error()); /* lp_fail rewrites that buffer */
        return lp_fail(LP_ERR_FORMAT, "%s:%d: bad value '%s' for '%s' in [%s] (%s)", p->src, line,
                       excerpt_(v, ex, sizeof ex), k->key, p->sec->section, why);
    }
    case LP_VAL_LEVELS: {
        int r = pos_int_(v, (int *)(void *)field);
        if (r == -2) return too_large_(p, line, k, v, limit);
        return r || *(int *)(void *)field < 2 ? bad_value_(p, line, k, v, expected) : LP_OK;
    }
    case LP_VAL_CHOICE:
        for (const lp_choice *c = k->choices; c->word; ++c)
            if (span_eq_(v, c->word)) {
                memcpy(field, &c->value, sizeof(int));
                return LP_OK;
            }
        return bad_value_(p, line, k, v, expected);
    case LP_VAL_INIT: {
        lp_init_kind init;
        if (!lp_init_find(v.s, v.n, k->init_use, &init)) return bad_value_(p, line, k, v, expected);
        memcpy(field, &init, sizeof init);
        return LP_OK;
    }
    case LP_VAL_NAME:
        if (!is_name_(v)) return bad_value_(p, line, k, v, expected);
        memcpy(field, v.s, v.n);
        field[v.n] = '\0';
        return LP_OK;
    }
    return bad_value_(p, line, k, v, expected);
}

/* ---- sections -------------------------------------------------------------------------- */

/* All parameters live in one buffer whose offsets the kernels take as ints: the layer's
 * tensors (each already checked by its kind) may not take the total past that. */
static lp_status count_params_(parser_ *p, const lp_layer_spec *l) {
    if (!p->sec->tensors) return LP_OK;
    lp_param_tensor t[LP_LAYER_TENSORS_MAX];
    lp_model_spec m = {.layers = p->layers, .n_layers = p->n};
    int added = p->sec->tensors(&m, p->n - 1, t);
    for (int j = 0; j < added; ++j)
        p->n_params += (int64_t)t[j].count; /* each <= INT_MAX: no overflow in 64 bits */
    if (p->n_params <= LP_SPEC_ELEMS_MAX) return LP_OK;
    return lp_fail(LP_ERR_FORMAT,
                   "%s:%d: [%s] '%s' brings the model to %lld parameters, above the limit of %d "
                   "(all parameters share one buffer indexed with int)",
                   p->src, l->line, p->sec->section, l->name, (long long)p->n_params, INT_MAX);
}

/* Ends the current section: required keys, the kind's own checks and shape, unique name. */
static lp_status finish_section_(parser_ *p) {
    if (!p->sec) return LP_OK;
    lp_layer_spec *l = &p->layers[p->n - 1];
    for (int i = 0; i < p->sec->n_keys; ++i)
        if (p->sec->keys[i].required && !p->key_line[i])
            return lp_fail(LP_ERR_FORMAT, "%s:%d: missing required key '%s' in [%s]", p->src,
                           l->line, p->sec->keys[i].key, p->sec->section);
    lp_spec_ctx c = {.src = p->src,
                     .section = p->sec->section,
                     .layers = p->layers,
                     .n_before = p->n - 1,
                     .keys = p->sec->keys,
                     .n_keys = p->sec->n_keys,
                     .key_line = p->key_line,
                     .names = &p->names};
    LP_TRY(p->sec->finish(&c, l, p->n > 1 ? &p->layers[p->n - 2] : NULL));
    LP_TRY(count_params_(p, l));
    int same = lp_name_index_find(&p->names, p->layers, l->name);
    if (same >= 0)
        return lp_fail(LP_ERR_FORMAT, "%s:%d: duplicate layer name '%s' (already used on line %d)",
                       p->src, l->line, l->name, p->layers[same].line);
    return lp_name_index_add(&p->names, p->layers, p->n - 1);
}

static lp_status open_section_(parser_ *p, int line, span_ name) {
    char ex[EXCERPT_MAX_ + 8];
    LP_TRY(finish_section_(p)); /* first, so that errors come in file order */
    int kind = lp_layer_kind_find(name.s, name.n);
    if (kind < 0) {
        char words[256] = "";
        for (int i = 0; i < LP_LAYER_KIND_COUNT; ++i)
            append_word_(words, sizeof words, lp_layer_kind_name((lp_layer_kind)i));
        return lp_fail(LP_ERR_FORMAT, "%s:%d: unknown section [%s] (expected one of: %s)", p->src,
                       line, excerpt_(name, ex, sizeof ex), words);
    }
    const lp_layer_kind_desc *def = lp_layer_kind_get((lp_layer_kind)kind);
    LP_ASSERT(def->n_keys <= LP_KEYS_MAX); /* key_line has room for that many */
    if (p->n == 0 && kind != LP_LAYER_INPUT)
        return lp_fail(LP_ERR_FORMAT, "%s:%d: first section is [%s] (a model starts with [input])",
                       p->src, line, def->section);
    if (p->n > 0 && kind == LP_LAYER_INPUT)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: second [input] section (a model has exactly one, the first section; "
                       "see line %d)",
                       p->src, line, p->layers[0].line);

    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 8;
        lp_layer_spec *grown = realloc(p->layers, (size_t)cap * sizeof *grown);
        if (!grown) return lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory reading the model", p->src);
        p->layers = grown;
        p->cap = cap;
    }
    lp_layer_spec *l = &p->layers[p->n++];
    memset(l, 0, sizeof *l);
    l->kind = (lp_layer_kind)kind;
    l->line = line;
    /* Counted per kind, named or not, so that naming one layer never renames another. */
    snprintf(l->name, sizeof l->name, "%s_%d", def->section, ++p->kind_count[kind]);
    if (def->defaults) def->defaults(l);
    p->sec = def;
    memset(p->key_line, 0, sizeof p->key_line);
    return LP_OK;
}

static lp_status set_key_(parser_ *p, int line, span_ key, span_ value) {
    char ex[EXCERPT_MAX_ + 8];
    if (!p->sec)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: key '%s' before any section (a model starts with [input])", p->src,
                       line, excerpt_(key, ex, sizeof ex));
    int i = 0;
    while (i < p->sec->n_keys && !span_eq_(key, p->sec->keys[i].key))
        i++;
    if (i == p->sec->n_keys) {
        char words[256] = "";
        for (int k = 0; k < p->sec->n_keys; ++k)
            append_word_(words, sizeof words, p->sec->keys[k].key);
        return lp_fail(LP_ERR_FORMAT, "%s:%d: unknown key '%s' in [%s] (expected one of: %s)",
                       p->src, line, excerpt_(key, ex, sizeof ex), p->sec->section, words);
    }
    if (p->key_line[i])
        return lp_fail(LP_ERR_FORMAT, "%s:%d: duplicate key '%s' in [%s] (first set on line %d)",
                       p->src, line, p->sec->keys[i].key, p->sec->section, p->key_line[i]);
    LP_TRY(parse_value_(p, line, &p->sec->keys[i], value, &p->layers[p->n - 1]));
    p->key_line[i] = line;
    return LP_OK;
}

/* One line without its comment and surrounding blanks (never empty). */
static lp_status parse_line_(parser_ *p, int line, span_ t) {
    char ex[EXCERPT_MAX_ + 8];
    if (t.s[0] == '[') {
        if (t.s[t.n - 1] != ']' || memchr(t.s + 1, ']', t.n - 2) || memchr(t.s + 1, '[', t.n - 2))
            return lp_fail(LP_ERR_FORMAT,
                           "%s:%d: malformed section header '%s' (expected '[name]' alone on "
                           "the line)",
                           p->src, line, excerpt_(t, ex, sizeof ex));
        return open_section_(p, line, trim_(t.s + 1, t.n - 2));
    }
    const char *eq = memchr(t.s, '=', t.n);
    if (!eq)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: malformed line '%s' (expected '[section]' or 'key = value')", p->src,
                       line, excerpt_(t, ex, sizeof ex));
    span_ key = trim_(t.s, (size_t)(eq - t.s));
    span_ value = trim_(eq + 1, t.n - (size_t)(eq - t.s) - 1);
    if (key.n == 0)
        return lp_fail(LP_ERR_FORMAT, "%s:%d: malformed line '%s' (expected 'key = value')", p->src,
                       line, excerpt_(t, ex, sizeof ex));
    if (!is_key_(key))
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: malformed key '%s' (keys are lowercase identifiers such as "
                       "'units')",
                       p->src, line, excerpt_(key, ex, sizeof ex));
    return set_key_(p, line, key, value);
}

static char *dup_(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static lp_status parse_all_(parser_ *p, const char *text) {
    int line = 0;
    for (const char *s = text; *s;) {
        const char *eol = strchr(s, '\n');
        size_t n = eol ? (size_t)(eol - s) : strlen(s);
        line++;
        size_t body = strcspn(s, "#;\n"); /* comments run to the end of the line */
        span_ t = trim_(s, body < n ? body : n);
        if (t.n > 0) LP_TRY(parse_line_(p, line, t));
        s += n + (eol ? 1 : 0);
    }
    if (p->n == 0)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: no sections (a model file starts with [input], then one section "
                       "per layer)",
                       p->src, line > 0 ? line : 1);
    LP_TRY(finish_section_(p));
    if (p->n == 1)
        return lp_fail(LP_ERR_FORMAT,
                       "%s:%d: no layers after [input] (expected sections such as [flatten] and "
                       "[dense])",
                       p->src, p->layers[0].line);
    return LP_OK;
}

lp_status lp_model_parse_text(const char *text, const char *source_name, lp_model_spec *out) {
    if (!out) return lp_fail(LP_ERR_INVALID_ARG, "lp_model_parse_text: out is NULL");
    memset(out, 0, sizeof *out);
    if (!text) return lp_fail(LP_ERR_INVALID_ARG, "lp_model_parse_text: text is NULL");
    parser_ p = {.src = source_name ? source_name : "(model text)"};
    lp_status s = parse_all_(&p, text);
    lp_name_index_free(&p.names);
    if (s == LP_OK) {
        out->source = dup_(p.src);
        out->text = dup_(text);
        out->layers = p.layers;
        out->n_layers = p.n;
        if (!out->source || !out->text) {
            lp_model_free(out);
            return lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory reading the model", p.src);
        }
        return LP_OK;
    }
    free(p.layers);
    return s;
}

/* ---- files ------------------------------------------------------------------------------ */

lp_status lp_model_load(const char *path, lp_model_spec *out) {
    if (!out) return lp_fail(LP_ERR_INVALID_ARG, "lp_model_load: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path) return lp_fail(LP_ERR_INVALID_ARG, "lp_model_load: path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f) return lp_fail(LP_ERR_IO, "cannot open model file '%s': %s", path, strerror(errno));
    char *text = malloc(MODEL_FILE_MAX_ + 1);
    if (!text) {
        fclose(f);
        return lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory reading the model", path);
    }
    size_t n = fread(text, 1, MODEL_FILE_MAX_ + 1, f);
    int read_error = ferror(f);
    fclose(f);
    lp_status s = LP_OK;
    if (read_error)
        s = lp_fail(LP_ERR_IO, "cannot read model file '%s'", path);
    else if (n > MODEL_FILE_MAX_)
        s = lp_fail(LP_ERR_FORMAT, "%s: larger than %d bytes: not a model file", path,
                    MODEL_FILE_MAX_);
    else if (memchr(text, '\0', n))
        s = lp_fail(LP_ERR_FORMAT, "%s: contains a NUL byte: not a text model file", path);
    if (s == LP_OK) {
        text[n] = '\0';
        s = lp_model_parse_text(text, path, out);
    }
    free(text);
    return s;
}

void lp_model_free(lp_model_spec *m) {
    if (!m) return;
    free(m->source);
    free(m->text);
    free(m->layers);
    memset(m, 0, sizeof *m);
}
