/* lp_op_gemm: picks, per device and shape, the fastest of CLBlast (whole or split along
 * K) and the tiled kernels of cl/gemm.cl, by timing each candidate once on the real
 * operands. Choices live in memory for the run and in the device's decision file
 * (decisions.h), so a shape is timed once per machine, not once per run. The state this
 * shares with the back ends (the mode, the choices, the buffers) is in gemm_work.c.
 *
 * Why time instead of rules: which one wins depends on the device more than on anything
 * we can read from it (on PoCL the tiled kernels are several times faster than CLBlast's
 * untuned defaults; on GPUs CLBlast's tuned kernels usually win, except for long-K
 * products, where only a split along K fills the device). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm-impl.h"
#include "laperm/clock.h"
#include "laperm/ops.h"
#include "tune-impl.h"

#define MAX_CANDIDATES 16

void lp_gemm_set_mode(lp_runtime *rt, lp_gemm_mode mode) {
    struct lp_gemm_state *s;
    if (lp_gemm_state_(rt, &s) == LP_OK) s->mode = mode;
}

void lp_gemm_set_exact(lp_runtime *rt, bool exact) {
    struct lp_gemm_state *s;
    if (lp_gemm_state_(rt, &s) == LP_OK) s->exact = exact;
}

lp_gemm_mode lp_gemm_get_mode(lp_runtime *rt) {
    struct lp_gemm_state *s;
    return lp_gemm_state_(rt, &s) == LP_OK ? s->mode : LP_GEMM_AUTO;
}

lp_gemm_variant lp_gemm_default_tiled(lp_runtime *rt) {
    const lp_device_info *d = lp_runtime_device(rt);
    lp_gemm_variant v = {.algo = LP_GEMM_ALGO_TILED, .slices = 1};
    if (lp_runtime_bits(rt) == LP_BITS_PORTABLE) return lp_gemm_portable_tiled_();
    if (lp_runtime_vector_loops(rt)) {
        /* CPUs that want explicit vectors (PoCL): one work-item per work-group, the tile
         * a plain vector loop. AVX-512 (16 floats) has 32 registers, room for 8x2
         * accumulators; narrower units have 16. */
        v.vw = d->preferred_vector_width_float >= 16  ? 16
               : d->preferred_vector_width_float >= 8 ? 8
                                                      : 4;
        v.mr = v.vw == 16 ? 8 : 6;
        v.nv = 2;
        v.dm = 4;
        v.dn = v.vw == 16 ? 4 : 2;
        v.lx = 1;
    } else {
        /* Devices that vectorize across work-items (preferred float vector width 1: GPUs,
         * and CPUs such as Rusticl's llvmpipe, whose SIMD lanes are work-items): small
         * tiles, many work-items. The CPU form there runs one lane of each SIMD group and
         * launches a work-group per tile: on llvmpipe its A.B took 7.8 s where this takes
         * 0.7-1.2 s (README, "Matrix products"). Work-groups of 64 on GPUs, of 32 on
         * such CPUs (llvmpipe's preferred multiple, where 64 measured slower). */
        v.vw = 4;
        v.mr = 4;
        v.nv = 1;
        v.dm = 2;
        v.dn = 2;
        v.lx = d->type & CL_DEVICE_TYPE_CPU ? 32 : 64;
        while ((size_t)v.lx > d->max_work_group_size && v.lx > 1)
            v.lx /= 2;
    }
    return v;
}

/* Splits of K worth trying: none, and for long K slices of about 512 (the operand rows
 * of a slice stay in cache and short M x N gets parallelism). */
static int splits_(size_t m, size_t n, size_t k, int *out) {
    int c = 0;
    out[c++] = 1;
    if (k >= 2048 && k >= 2 * (m > n ? m : n)) {
        size_t s = (k + 511) / 512;
        out[c++] = (int)(s > 128 ? 128 : s);
    }
    return c;
}

/* The likely winner first, where the budget (tune-impl.h) surely reaches it: the tiled
 * kernels on devices that take the CPU form (lx 1), CLBlast elsewhere. In auto mode
 * CLBlast is left out where it cannot win (lp_tune_skip_clblast: PoCL's CPUs). */
static int candidates_(lp_runtime *rt, const lp_gemm_args_ *g, lp_gemm_mode mode,
                       lp_gemm_variant *out) {
    int splits[2], ns = splits_(g->m, g->n, g->k, splits), c = 0;
    lp_gemm_variant base = lp_gemm_default_tiled(rt);
    bool tiled = mode != LP_GEMM_CLBLAST && !(g->ta && g->tb);
    bool clblast_first = !tiled || base.lx != 1;
    if (mode == LP_GEMM_AUTO && lp_tune_skip_clblast(rt, g->ta, g->tb)) mode = LP_GEMM_TILED;
    if (mode != LP_GEMM_TILED && clblast_first)
        for (int i = 0; i < ns; ++i)
            out[c++] = (lp_gemm_variant){.algo = LP_GEMM_ALGO_CLBLAST, .slices = splits[i]};
    if (!tiled) return c;
    lp_gemm_variant shapes[3] = {base, base, base};
    int nshapes = 1;
    if (lp_runtime_device(rt)->type & CL_DEVICE_TYPE_CPU) {
        /* A smaller tile: more work-groups for small products, less register pressure. */
        shapes[1].mr = base.mr / 2;
        shapes[1].dn = base.dn / 2 ? base.dn / 2 : 1;
        nshapes = 2;
        /* With 32 vector registers, a taller outer-product tile (12 x 2 accumulators)
         * loads each vector of B once for 12 rows: it wins where M is small and N long. */
        if (base.vw == 16 && !g->tb) {
            shapes[2].mr = 12;
            nshapes = 3;
        }
    }
    for (int t = 0; t < nshapes; ++t)
        for (int i = 0; i < ns; ++i) {
            out[c] = shapes[t];
            out[c++].slices = splits[i];
        }
    if (mode != LP_GEMM_TILED && !clblast_first)
        for (int i = 0; i < ns; ++i)
            out[c++] = (lp_gemm_variant){.algo = LP_GEMM_ALGO_CLBLAST, .slices = splits[i]};
    return c;
}

static lp_status run_(lp_runtime *rt, const lp_gemm_variant *v, const lp_gemm_args_ *g) {
    return v->algo == LP_GEMM_ALGO_CLBLAST ? lp_gemm_clblast_(rt, g, v->slices)
                                           : lp_gemm_tiled_(rt, v, g);
}

/* Runs of one candidate in race r, on a scratch C: a warm-up run (it builds kernels and
 * warms caches, so it is not a timing), then up to 3 timed runs, fewer for slow ones
 * (over 50 ms). laperm's program builds are not counted (CLBlast's own are). */
static lp_status time_(lp_runtime *rt, const lp_gemm_variant *v, const lp_gemm_args_ *g,
                       lp_tune_race *r, int i) {
    for (int rep = 0; rep < 4 && lp_tune_go(r, i); ++rep) {
        double b0 = lp_runtime_build_stats(rt).build_seconds, t0 = lp_seconds();
        LP_TRY(run_(rt, v, g));
        LP_TRY(lp_runtime_finish(rt));
        double dt = lp_seconds() - t0 - (lp_runtime_build_stats(rt).build_seconds - b0);
        if (rep == 0) {
            lp_tune_warm(r, i, dt);
        } else {
            lp_tune_done(r, i, dt);
            if (dt > 0.05) break;
        }
    }
    return LP_OK;
}

static lp_gemm_choice_ *find_(struct lp_gemm_state *s, const lp_gemm_choice_ *key) {
    for (int i = 0; i < s->n_choices; ++i) {
        lp_gemm_choice_ *c = &s->choices[i];
        if (c->mode == key->mode && c->ta == key->ta && c->tb == key->tb &&
            c->beta_nz == key->beta_nz && c->m == key->m && c->n == key->n && c->k == key->k)
            return c;
    }
    return NULL;
}

static lp_status remember_(struct lp_gemm_state *s, const lp_gemm_choice_ *c) {
    if (s->n_choices == s->cap_choices) {
        int cap = s->cap_choices ? 2 * s->cap_choices : 32;
        lp_gemm_choice_ *grown = realloc(s->choices, (size_t)cap * sizeof *grown);
        if (!grown) return lp_fail(LP_ERR_NO_MEMORY, "GEMM choices: out of host memory");
        s->choices = grown;
        s->cap_choices = cap;
    }
    s->choices[s->n_choices++] = *c;
    return LP_OK;
}

/* ---- decisions on disk -------------------------------------------------------------- */

/* Reads prefix, then a decimal in [lo, hi], at *p (advanced past both). */
static bool field_(const char **p, const char *prefix, long long lo, long long hi, long long *out) {
    size_t n = strlen(prefix);
    if (strncmp(*p, prefix, n) != 0 || (*p)[n] < '0' || (*p)[n] > '9') return false;
    char *end;
    errno = 0;
    long long v = strtoll(*p + n, &end, 10);
    if (errno || v < lo || v > hi) return false;
    *out = v;
    *p = end;
    return true;
}

/* "clblast:k<slices>" or "tiled:vw<vw>:mr<mr>:nv<nv>:dm<dm>:dn<dn>:lx<lx>:k<slices>", within
 * the bounds of what candidates_ makes (checked again, so a file cannot make the tiled
 * kernels run with a tile they were not built for). */
static bool variant_parse_(const char *text, lp_gemm_variant *v) {
    const char *p = text;
    long long f[7];
    *v = (lp_gemm_variant){.algo = LP_GEMM_ALGO_CLBLAST};
    if (field_(&p, "clblast:k", 1, 128, &f[0]) && !*p) {
        v->slices = (int)f[0];
        return true;
    }
    p = text;
    if (!(field_(&p, "tiled:vw", 4, 16, &f[0]) && field_(&p, ":mr", 1, 16, &f[1]) &&
          field_(&p, ":nv", 1, 4, &f[2]) && field_(&p, ":dm", 1, 8, &f[3]) &&
          field_(&p, ":dn", 1, 8, &f[4]) && field_(&p, ":lx", 1, 1024, &f[5]) &&
          field_(&p, ":k", 1, 128, &f[6]) && !*p))
        return false;
    if (f[0] != 4 && f[0] != 8 && f[0] != 16) return false;
    *v = (lp_gemm_variant){LP_GEMM_ALGO_TILED, (int)f[0], (int)f[1], (int)f[2],
                           (int)f[3],          (int)f[4], (int)f[5], (int)f[6]};
    return true;
}

static void variant_format_(const lp_gemm_variant *v, char *buf, size_t cap) {
    if (v->algo == LP_GEMM_ALGO_CLBLAST)
        snprintf(buf, cap, "clblast:k%d", v->slices);
    else
        snprintf(buf, cap, "tiled:vw%d:mr%d:nv%d:dm%d:dn%d:lx%d:k%d", v->vw, v->mr, v->nv, v->dm,
                 v->dn, v->lx, v->slices);
}

/* "<mode>:<layout>:b<beta != 0>:<m>x<n>x<k>", e.g. "auto:nt:b0:9x11x13": the mode gives
 * the candidates, the rest the product. */
static void key_format_(lp_gemm_mode mode, const lp_gemm_args_ *g, char *buf, size_t cap) {
    snprintf(buf, cap, "%s:%c%c:b%d:%zux%zux%zu", lp_gemm_mode_name(mode), g->ta ? 't' : 'n',
             g->tb ? 't' : 'n', g->beta != 0.0f, g->m, g->n, g->k);
}

/* A stored choice must be one the mode could have made for the layout: only CLBlast in
 * clblast mode and for A^T.B^T; the tiled mode chooses nothing. */
static bool choice_key_parse_(const char *key, lp_gemm_choice_ *c);

/* A replayed choice must be one a run could have made: a split the candidates offer for
 * the shape (so a results file cannot size the split-K workspace at 128 partial products
 * of a small product), and A^T.B^T through CLBlast (there is no tiled kernel for it). */
static bool choice_valid_(const lp_gemm_choice_ *c) {
    int splits[2], ns = splits_(c->m, c->n, c->k, splits);
    bool split_ok = false;
    for (int i = 0; i < ns; ++i)
        split_ok = split_ok || c->v.slices == splits[i];
    return split_ok && (c->v.algo == LP_GEMM_ALGO_CLBLAST || !(c->ta && c->tb));
}

/* A stored choice must be one the mode could have made for the layout: only CLBlast in
 * clblast mode and for A^T.B^T; the tiled mode chooses nothing. (Its split is bounded by
 * variant_parse_; the decision tests store splits of their own.) */
static bool decision_valid_(const char *key, const char *value) {
    lp_gemm_choice_ c;
    if (!choice_key_parse_(key, &c) || c.mode == LP_GEMM_TILED || !variant_parse_(value, &c.v))
        return false;
    return c.v.algo == LP_GEMM_ALGO_CLBLAST || (c.mode == LP_GEMM_AUTO && !(c.ta && c.tb));
}

/* Bump the revision when kernels or candidates change, so old timings are not trusted. */
const lp_decision_kind lp_decision_gemm = {
    .name = "gemm",
    .revision = 5,
    .n_times = 1,
    .legend = "<mode>:<layout>:b<beta != 0>:<m>x<n>x<k> <variant> <ms per product>",
    .valid = decision_valid_,
};

/* Times the candidates on a scratch C (the real C must keep its contents for beta), as a
 * race bounded by the runtime's budget and stop flag (tune-impl.h): one whose first timed
 * run is over twice the fastest is dropped, and once the budget is spent (or a stop is
 * requested) nothing more runs and the fastest timed so far wins (with none, the
 * fastest warm-up, else the first candidate). *settled is false when a stop request cut
 * the timing short or the choice had no timed run (the budget went on first runs, which
 * build CLBlast's kernels): such a choice is used for the run but not kept on disk. */
static lp_status choose_(lp_runtime *rt, struct lp_gemm_state *s, const lp_gemm_args_ *g,
                         lp_gemm_variant *best_v, double *best_s, bool *settled) {
    lp_gemm_variant cand[MAX_CANDIDATES];
    int nc = candidates_(rt, g, s->mode, cand);
    lp_gemm_args_ t = *g;
    LP_TRY(lp_gemm_buffer_(rt, LP_GEMM_SCRATCH, g->m * g->n, &t.c));
    t.c_off = 0;
    t.ldc = g->n;
    t.label = "gemm_autotune";
    lp_tune_race r;
    lp_tune_race_start(&r, rt, nc);
    lp_status st = LP_OK;
    for (int i = 0; st == LP_OK && i < nc; ++i)
        st = time_(rt, &cand[i], &t, &r, i);
    lp_tune_race_end(&r);
    LP_TRY(st);
    int best = lp_tune_best(&r);
    if (best < 0) best = 0;
    *best_v = cand[best];
    *best_s = r.timed[best] ? r.best[best] : r.warm[best] < INFINITY ? r.warm[best] : 0;
    *settled = !r.stopped && r.timed[best] > 0;
    return LP_OK;
}

/* Long-K products where M x N is small: split K so that the device has enough
 * independent work and each slice's rows stay in cache. */
static int default_slices_(const lp_gemm_args_ *g) {
    size_t mn = g->m > g->n ? g->m : g->n;
    return g->k >= 4096 && g->k >= 8 * mn
               ? (int)((g->k + 511) / 512 > 128 ? 128 : (g->k + 511) / 512)
               : 1;
}

static lp_status choose_cached_(lp_runtime *rt, struct lp_gemm_state *s, const lp_gemm_args_ *g,
                                lp_gemm_choice_ *key_in, lp_gemm_variant *v);

/* Portable bits: the fixed tile and the split by shape alone, never CLBlast (its tuned
 * kernels differ per device) and never timed. */
static lp_status portable_(struct lp_gemm_state *s, const lp_gemm_args_ *g, lp_gemm_variant *v) {
    if (s->mode == LP_GEMM_CLBLAST)
        return lp_fail(
            LP_ERR_UNSUPPORTED,
            "%s: --bits portable runs laperm's tiled GEMM only (CLBlast's kernels differ "
            "per device): use --gemm tiled or auto",
            g->label);
    if (g->ta && g->tb)
        return lp_fail(LP_ERR_UNSUPPORTED, "%s: --bits portable: no tiled A^T.B^T kernel",
                       g->label);
    lp_gemm_choice_ key = {s->mode, g->ta, g->tb, g->beta != 0.0f, g->m, g->n, g->k, {0}};
    *v = lp_gemm_portable_tiled_();
    v->slices = default_slices_(g);
    if (!find_(s, &key)) {
        key.v = *v;
        LP_TRY(remember_(s, &key)); /* so that lp_gemm_choices_text lists it */
    }
    return LP_OK;
}

static lp_status lookup_(lp_runtime *rt, const lp_gemm_args_ *g, lp_gemm_variant *v) {
    struct lp_gemm_state *s;
    LP_TRY(lp_gemm_state_(rt, &s));
    if (lp_runtime_bits(rt) == LP_BITS_PORTABLE) return portable_(s, g, v);
    const lp_gemm_variant clblast = {.algo = LP_GEMM_ALGO_CLBLAST, .slices = 1};
    lp_gemm_choice_ key = {s->mode, g->ta, g->tb, g->beta != 0.0f, g->m, g->n, g->k, {0}};
    const lp_gemm_choice_ *c = find_(s, &key); /* made before, or replayed */
    if (c) {
        *v = c->v;
        return LP_OK;
    }
    /* Exact auto: by the device's kind, CLBlast's tuned kernels on GPUs, laperm's tiles on
     * CPUs (where timing picked them for most shapes). */
    lp_gemm_mode mode = s->mode;
    if (s->exact && mode == LP_GEMM_AUTO)
        mode = lp_runtime_device(rt)->type & CL_DEVICE_TYPE_CPU ? LP_GEMM_TILED : LP_GEMM_CLBLAST;
    if (mode == LP_GEMM_TILED || (mode == LP_GEMM_CLBLAST && s->exact)) {
        /* There is no tiled A^T.B^T kernel (no layer needs one). */
        *v = mode == LP_GEMM_CLBLAST || (g->ta && g->tb) ? clblast : lp_gemm_default_tiled(rt);
        v->slices = default_slices_(g);
    } else if (mode == LP_GEMM_CLBLAST && g->k < 2048) {
        *v = clblast;
    } else {
        return choose_cached_(rt, s, g, &key, v);
    }
    key.v = *v;
    return remember_(s, &key); /* so that lp_gemm_choices_text lists it */
}

/* A timed choice: from the decision file, else timed now and written there. */
static lp_status choose_cached_(lp_runtime *rt, struct lp_gemm_state *s, const lp_gemm_args_ *g,
                                lp_gemm_choice_ *key_in, lp_gemm_variant *v) {
    lp_gemm_choice_ key = *key_in;
    char dkey[LP_DECISION_TOKEN_MAX];
    key_format_(s->mode, g, dkey, sizeof dkey);
    lp_decision d;
    /* Damage in the file is told on stderr: products have no channel for notes. */
    if (lp_decision_get(rt, &lp_decision_gemm, dkey, &d, NULL, NULL) &&
        variant_parse_(d.value, &key.v)) {
        LP_TRY(remember_(s, &key));
        *v = key.v;
        return LP_OK;
    }
    double best_s;
    bool settled;
    LP_TRY(choose_(rt, s, g, &key.v, &best_s, &settled));
    LP_TRY(remember_(s, &key));
    d = (lp_decision){.ms = {best_s * 1e3}};
    variant_format_(&key.v, d.value, sizeof d.value);
    /* A choice that cannot be written (a read-only folder) is only timed again next run. */
    if (settled && lp_decision_set(rt, &lp_decision_gemm, dkey, &d) != LP_OK) lp_clear_error();
    *v = key.v;
    return LP_OK;
}

/* One stored operand: rows x cols at `off` with row stride `ld` must lie in `buf`. */
static lp_status check_operand_(const lp_gemm_args_ *g, char name, cl_mem buf, size_t rows,
                                size_t cols, size_t off, size_t ld) {
    if (rows == 0 || cols == 0) return LP_OK;
    if (ld < cols)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "%s: GEMM %zux%zux%zu: ld%c %zu is less than the %zu columns of %c",
                       g->label, g->m, g->n, g->k, name + 32, ld, cols, name);
    size_t bytes = 0;
    LP_TRY(lp_cl_check(clGetMemObjectInfo(buf, CL_MEM_SIZE, sizeof bytes, &bytes, NULL),
                       "clGetMemObjectInfo(CL_MEM_SIZE)"));
    size_t need = off + (rows - 1) * ld + cols;
    if (need > bytes / sizeof(float))
        return lp_fail(LP_ERR_INVALID_ARG,
                       "%s: GEMM %zux%zux%zu: %c (%zu x %zu, ld %zu, offset %zu) needs %zu floats, "
                       "its buffer holds %zu",
                       g->label, g->m, g->n, g->k, name, rows, cols, ld, off, need,
                       bytes / sizeof(float));
    return LP_OK;
}

/* CLBlast checks its arguments, the tiled kernels don't: checking here gives both back
 * ends the same errors and keeps every kernel read in bounds. */
static lp_status check_args_(const lp_gemm_args_ *g) {
    LP_TRY(
        check_operand_(g, 'A', g->a, g->ta ? g->k : g->m, g->ta ? g->m : g->k, g->a_off, g->lda));
    LP_TRY(
        check_operand_(g, 'B', g->b, g->tb ? g->n : g->k, g->tb ? g->k : g->n, g->b_off, g->ldb));
    return check_operand_(g, 'C', g->c, g->m, g->n, g->c_off, g->ldc);
}

static lp_gemm_args_ args_(bool ta, bool tb, size_t m, size_t n, size_t k, float alpha, cl_mem a,
                           size_t a_off, size_t lda, cl_mem b, size_t b_off, size_t ldb, float beta,
                           cl_mem c, size_t c_off, size_t ldc, const char *label) {
    return (lp_gemm_args_){ta, tb,    m,   n,     k,   alpha, beta, a,    b,
                           c,  a_off, lda, b_off, ldb, c_off, ldc,  label};
}

/* Adds the shape to the trace unless it is there already; a failed allocation only
 * shortens the trace. */
static void trace_(struct lp_gemm_state *s, const lp_gemm_args_ *g) {
    lp_gemm_shape sh = {g->ta, g->tb, g->beta != 0.0f, g->m, g->n, g->k, ""};
    snprintf(sh.label, sizeof sh.label, "%s", g->label ? g->label : "");
    for (int i = 0; i < s->n_trace; ++i) {
        const lp_gemm_shape *t = &s->trace[i];
        if (t->ta == sh.ta && t->tb == sh.tb && t->beta_nz == sh.beta_nz && t->m == sh.m &&
            t->n == sh.n && t->k == sh.k)
            return;
    }
    if (s->n_trace == s->cap_trace) {
        int cap = s->cap_trace ? 2 * s->cap_trace : 32;
        lp_gemm_shape *grown = realloc(s->trace, (size_t)cap * sizeof *grown);
        if (!grown) return;
        s->trace = grown;
        s->cap_trace = cap;
    }
    s->trace[s->n_trace++] = sh;
}

void lp_gemm_trace_begin(lp_runtime *rt) {
    struct lp_gemm_state *s;
    if (lp_gemm_state_(rt, &s) != LP_OK) return;
    s->tracing = true;
    s->n_trace = 0;
}

int lp_gemm_trace_end(lp_runtime *rt, lp_gemm_shape *out, int cap) {
    struct lp_gemm_state *s;
    if (lp_gemm_state_(rt, &s) != LP_OK) return 0;
    s->tracing = false;
    for (int i = 0; i < s->n_trace && i < cap; ++i)
        out[i] = s->trace[i];
    return s->n_trace;
}

lp_status lp_op_gemm(lp_runtime *rt, bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
                     float alpha, cl_mem a, size_t a_off, size_t lda, cl_mem b, size_t b_off,
                     size_t ldb, float beta, cl_mem c, size_t c_off, size_t ldc,
                     const char *label) {
    if (m == 0 || n == 0) return LP_OK;
    lp_gemm_args_ g = args_(trans_a, trans_b, m, n, k, alpha, a, a_off, lda, b, b_off, ldb, beta, c,
                            c_off, ldc, label);
    LP_TRY(check_args_(&g));
    struct lp_gemm_state *s = lp_gemm_state_if_any_(rt);
    if (s && s->tracing) trace_(s, &g);
    lp_gemm_variant v;
    LP_TRY(lookup_(rt, &g, &v));
    return run_(rt, &v, &g);
}

lp_status lp_gemm_run_variant(lp_runtime *rt, const lp_gemm_variant *v, bool trans_a, bool trans_b,
                              size_t m, size_t n, size_t k, float alpha, cl_mem a, size_t a_off,
                              size_t lda, cl_mem b, size_t b_off, size_t ldb, float beta, cl_mem c,
                              size_t c_off, size_t ldc, const char *label) {
    if (m == 0 || n == 0) return LP_OK;
    lp_gemm_args_ g = args_(trans_a, trans_b, m, n, k, alpha, a, a_off, lda, b, b_off, ldb, beta, c,
                            c_off, ldc, label);
    LP_TRY(check_args_(&g));
    return run_(rt, v, &g);
}

void lp_gemm_variant_text(const lp_gemm_variant *v, bool trans_b, char *buf, size_t cap) {
    char split[32] = "";
    if (v->slices > 1) snprintf(split, sizeof split, " k/%d", v->slices);
    if (v->algo == LP_GEMM_ALGO_CLBLAST)
        snprintf(buf, cap, "clblast%s", split);
    else if (trans_b)
        snprintf(buf, cap, "tiled %dx%d v%d wg%d%s", v->dm, v->dn, v->vw, v->lx, split);
    else
        snprintf(buf, cap, "tiled %dx%d wg%d%s", v->mr, v->vw * v->nv, v->lx, split);
}

lp_status lp_gemm_describe_choice(lp_runtime *rt, bool trans_a, bool trans_b, size_t m, size_t n,
                                  size_t k, char *buf, size_t cap) {
    struct lp_gemm_state *s;
    LP_TRY(lp_gemm_state_(rt, &s));
    lp_gemm_choice_ key = {s->mode, trans_a, trans_b, false, m, n, k, {0}};
    const lp_gemm_choice_ *c = find_(s, &key);
    if (!c) {
        key.beta_nz = true;
        c = find_(s, &key);
    }
    if (!c) return lp_fail(LP_ERR_NOT_FOUND, "no GEMM choice for %zux%zux%zu yet", m, n, k);
    lp_gemm_variant_text(&c->v, trans_b, buf, cap);
    return LP_OK;
}

/* ---- choices as text (results files record them; --replay and --resume load them) --- */

/* "<mode>:<layout>:b<beta>:<m>x<n>x<k>" into the key fields of c. */
static bool choice_key_parse_(const char *key, lp_gemm_choice_ *c) {
    char mode_name[16];
    const char *colon = strchr(key, ':');
    if (!colon || (size_t)(colon - key) >= sizeof mode_name) return false;
    memcpy(mode_name, key, (size_t)(colon - key));
    mode_name[colon - key] = '\0';
    if (!lp_gemm_mode_parse(mode_name, &c->mode)) return false;
    const char *p = colon + 1;
    if ((p[0] != 'n' && p[0] != 't') || (p[1] != 'n' && p[1] != 't') || p[2] != ':') return false;
    c->ta = p[0] == 't';
    c->tb = p[1] == 't';
    p += 3;
    long long beta, m, n, k;
    if (!(field_(&p, "b", 0, 1, &beta) && field_(&p, ":", 1, LLONG_MAX, &m) &&
          field_(&p, "x", 1, LLONG_MAX, &n) && field_(&p, "x", 1, LLONG_MAX, &k) && !*p))
        return false;
    c->beta_nz = beta != 0;
    c->m = (size_t)m, c->n = (size_t)n, c->k = (size_t)k;
    return true;
}

size_t lp_gemm_choices_text(lp_runtime *rt, char *buf, size_t cap) {
    struct lp_gemm_state *s = lp_gemm_state_if_any_(rt);
    size_t len = 0;
    if (cap) buf[0] = '\0';
    for (int i = 0; s && i < s->n_choices; ++i) {
        const lp_gemm_choice_ *c = &s->choices[i];
        lp_gemm_args_ g = {.ta = c->ta,
                           .tb = c->tb,
                           .beta = c->beta_nz ? 1.0f : 0.0f,
                           .m = c->m,
                           .n = c->n,
                           .k = c->k};
        char key[LP_DECISION_TOKEN_MAX], value[LP_DECISION_TOKEN_MAX];
        key_format_(c->mode, &g, key, sizeof key);
        variant_format_(&c->v, value, sizeof value);
        int n = snprintf(len < cap ? buf + len : NULL, len < cap ? cap - len : 0, "%s %s\n", key,
                         value);
        len += n > 0 ? (size_t)n : 0;
    }
    return len;
}

lp_status lp_gemm_choices_load(lp_runtime *rt, const char *text) {
    struct lp_gemm_state *s;
    LP_TRY(lp_gemm_state_(rt, &s));
    for (int line = 1; text && *text; ++line) {
        size_t n = strcspn(text, "\n");
        char buf[2 * LP_DECISION_TOKEN_MAX];
        lp_gemm_choice_ c = {0};
        bool ok = n > 0 && n < sizeof buf;
        if (ok) {
            memcpy(buf, text, n);
            buf[n] = '\0';
            char *space = strchr(buf, ' ');
            ok = space != NULL;
            if (ok) *space = '\0';
            ok = ok && choice_key_parse_(buf, &c) && variant_parse_(space + 1, &c.v) &&
                 choice_valid_(&c);
        }
        if (!ok)
            return lp_fail(LP_ERR_FORMAT,
                           "GEMM choice line %d: '%.*s' (expected \"<mode>:<layout>:"
                           "b<0|1>:<m>x<n>x<k> <variant>\")",
                           line, (int)(n > 80 ? 80 : n), text);
        lp_gemm_choice_ *old = find_(s, &c);
        if (old)
            old->v = c.v;
        else
            LP_TRY(remember_(s, &c));
        text += n;
        if (*text == '\n') ++text;
    }
    return LP_OK;
}
