/* lp_op_gemm: picks, per device and shape, the fastest of CLBlast (whole or split along
 * K) and the tiled kernels of cl/gemm.cl, by timing each candidate once on the real
 * operands. Choices live in memory for the run and in a small text file per device in
 * the kernel cache folder, so a shape is timed once per machine, not once per run.
 *
 * Why time instead of rules: which one wins depends on the device more than on anything
 * we can read from it (on PoCL the tiled kernels are several times faster than CLBlast's
 * untuned defaults; on GPUs CLBlast's tuned kernels usually win, except for long-K
 * products, where only a split along K fills the device). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gemm-impl.h"
#include "laperm/ops.h"
#include "runtime-impl.h"

/* Bump when kernels or candidates change, so old timings are not trusted. */
#define GEMM_CACHE_FORMAT "lp-gemm-3"
#define MAX_CANDIDATES 16

typedef struct {
    lp_gemm_mode mode; /* the candidates it was chosen from */
    bool ta, tb, beta_nz;
    size_t m, n, k;
    lp_gemm_variant v;
} choice_;

struct lp_gemm_state {
    lp_gemm_mode mode;
    choice_ *choices;
    int n_choices, cap_choices;
    cl_mem work, scratch, panels;
    size_t work_floats, scratch_floats, panel_floats;
    bool disk_loaded;
    char path[4400]; /* choices file; "" when the disk cache is off */
    bool tracing;
    lp_gemm_shape *trace;
    int n_trace, cap_trace;
};

static double now_s_(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

bool lp_gemm_mode_parse(const char *s, lp_gemm_mode *out) {
    if (!s) return false;
    if (!strcmp(s, "auto")) *out = LP_GEMM_AUTO;
    else if (!strcmp(s, "clblast")) *out = LP_GEMM_CLBLAST;
    else if (!strcmp(s, "tiled")) *out = LP_GEMM_TILED;
    else return false;
    return true;
}

/* FNV-1a over the strings that identify a device and its compiler. */
static uint64_t device_hash_(const lp_device_info *d) {
    const char *parts[] = {GEMM_CACHE_FORMAT, d->platform_name, d->platform_version,
                           d->device_name, d->driver_version};
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < sizeof parts / sizeof *parts; ++i) {
        for (const char *p = parts[i]; *p; ++p)
            h = (h ^ (unsigned char)*p) * 0x100000001B3ull;
        h = (h ^ 0xFFu) * 0x100000001B3ull; /* separator: ("ab","c") != ("a","bc") */
    }
    return h;
}

static lp_status state_(lp_runtime *rt, struct lp_gemm_state **out) {
    if (!rt->gemm) {
        struct lp_gemm_state *s = calloc(1, sizeof *s);
        if (!s) return lp_fail(LP_ERR_NO_MEMORY, "GEMM state: out of host memory");
        const char *env = getenv("LAPERM_GEMM");
        if (!lp_gemm_mode_parse(env, &s->mode)) s->mode = LP_GEMM_AUTO;
        char dir[4096];
        if (lp_cache_enabled_() && lp_cache_dir_(dir, sizeof dir))
            snprintf(s->path, sizeof s->path, "%s/gemm-%016llx.txt", dir,
                     (unsigned long long)device_hash_(&rt->info));
        rt->gemm = s;
    }
    *out = rt->gemm;
    return LP_OK;
}

void lp_gemm_set_mode(lp_runtime *rt, lp_gemm_mode mode) {
    struct lp_gemm_state *s;
    if (state_(rt, &s) == LP_OK) s->mode = mode;
}

lp_gemm_mode lp_gemm_get_mode(lp_runtime *rt) {
    struct lp_gemm_state *s;
    return state_(rt, &s) == LP_OK ? s->mode : LP_GEMM_AUTO;
}

void lp_gemm_release(lp_runtime *rt) {
    struct lp_gemm_state *s = rt->gemm;
    if (!s) return;
    if (s->work) clReleaseMemObject(s->work);
    if (s->scratch) clReleaseMemObject(s->scratch);
    if (s->panels) clReleaseMemObject(s->panels);
    free(s->choices);
    free(s->trace);
    free(s);
    rt->gemm = NULL;
}

/* Grows *buf to at least `floats`; the old buffer lives on until queued commands using
 * it finish (OpenCL's reference counting), so no wait is needed. */
static lp_status grow_(lp_runtime *rt, cl_mem *buf, size_t *have, size_t floats,
                       const char *what) {
    if (*buf && *have >= floats) return LP_OK;
    cl_mem grown;
    LP_TRY(lp_buffer_create_zeroed(rt, floats * sizeof(float), what, &grown));
    if (*buf) clReleaseMemObject(*buf);
    *buf = grown;
    *have = floats;
    return LP_OK;
}

lp_status lp_gemm_panels_(lp_runtime *rt, size_t floats, cl_mem *out) {
    struct lp_gemm_state *s;
    LP_TRY(state_(rt, &s));
    LP_TRY(grow_(rt, &s->panels, &s->panel_floats, floats, "GEMM packed A panels"));
    *out = s->panels;
    return LP_OK;
}

lp_status lp_gemm_workspace_(lp_runtime *rt, size_t floats, cl_mem *out) {
    struct lp_gemm_state *s;
    LP_TRY(state_(rt, &s));
    LP_TRY(grow_(rt, &s->work, &s->work_floats, floats, "GEMM split-K workspace"));
    *out = s->work;
    return LP_OK;
}

lp_gemm_variant lp_gemm_default_tiled(lp_runtime *rt) {
    const lp_device_info *d = lp_runtime_device(rt);
    lp_gemm_variant v = {.algo = LP_GEMM_ALGO_TILED, .slices = 1};
    if (d->type & CL_DEVICE_TYPE_CPU) {
        /* One work-item per work-group: the tile is a plain vector loop. AVX-512 (16
         * floats) has 32 registers, room for 8x2 accumulators; narrower units have 16. */
        v.vw = d->preferred_vector_width_float >= 16 ? 16 : d->preferred_vector_width_float >= 8 ? 8 : 4;
        v.mr = v.vw == 16 ? 8 : 6;
        v.nv = 2;
        v.dm = 4;
        v.dn = v.vw == 16 ? 4 : 2;
        v.lx = 1;
    } else {
        /* GPUs: small tiles, many work-items; usually slower than CLBlast, but timed. */
        v.vw = 4;
        v.mr = 4;
        v.nv = 1;
        v.dm = 2;
        v.dn = 2;
        v.lx = 64;
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

static int candidates_(lp_runtime *rt, const lp_gemm_args_ *g, lp_gemm_mode mode,
                       lp_gemm_variant *out) {
    int splits[2], ns = splits_(g->m, g->n, g->k, splits), c = 0;
    if (mode != LP_GEMM_TILED)
        for (int i = 0; i < ns; ++i)
            out[c++] = (lp_gemm_variant){.algo = LP_GEMM_ALGO_CLBLAST, .slices = splits[i]};
    if (mode == LP_GEMM_CLBLAST || (g->ta && g->tb)) return c;
    lp_gemm_variant base = lp_gemm_default_tiled(rt);
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
    return c;
}

static lp_status run_(lp_runtime *rt, const lp_gemm_variant *v, const lp_gemm_args_ *g) {
    return v->algo == LP_GEMM_ALGO_CLBLAST ? lp_gemm_clblast_(rt, g, v->slices)
                                           : lp_gemm_tiled_(rt, v, g);
}

/* Seconds per product for one candidate, written into a scratch C. The first run builds
 * kernels and warms caches, so it is not counted; slow candidates get one timed run. */
static lp_status time_(lp_runtime *rt, const lp_gemm_variant *v, const lp_gemm_args_ *g,
                       double best, double *out) {
    LP_TRY(run_(rt, v, g));
    LP_TRY(lp_runtime_finish(rt));
    double t = INFINITY;
    for (int rep = 0; rep < 3; ++rep) {
        double t0 = now_s_();
        LP_TRY(run_(rt, v, g));
        LP_TRY(lp_runtime_finish(rt));
        double dt = now_s_() - t0;
        if (dt < t) t = dt;
        if (t > 0.05 || t > 2 * best) break;
    }
    *out = t;
    return LP_OK;
}

static choice_ *find_(struct lp_gemm_state *s, const choice_ *key) {
    for (int i = 0; i < s->n_choices; ++i) {
        choice_ *c = &s->choices[i];
        if (c->mode == key->mode && c->ta == key->ta && c->tb == key->tb && c->beta_nz == key->beta_nz && c->m == key->m &&
            c->n == key->n && c->k == key->k)
            return c;
    }
    return NULL;
}

static lp_status remember_(struct lp_gemm_state *s, const choice_ *c) {
    if (s->n_choices == s->cap_choices) {
        int cap = s->cap_choices ? 2 * s->cap_choices : 32;
        choice_ *grown = realloc(s->choices, (size_t)cap * sizeof *grown);
        if (!grown) return lp_fail(LP_ERR_NO_MEMORY, "GEMM choices: out of host memory");
        s->choices = grown;
        s->cap_choices = cap;
    }
    s->choices[s->n_choices++] = *c;
    return LP_OK;
}

/* One line per choice: ta tb beta_nz m n k algo vw mr nv dm dn lx slices. Lines that
 * don't parse (a torn write, an edited file) are skipped: at worst a shape is re-timed. */
static void load_disk_(struct lp_gemm_state *s) {
    s->disk_loaded = true;
    FILE *f = s->path[0] ? fopen(s->path, "r") : NULL;
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        int ta, tb, bz, algo, vw, mr, nv, dm, dn, lx, sl;
        unsigned long long m, n, k;
        if (sscanf(line, "%d %d %d %llu %llu %llu %d %d %d %d %d %d %d %d", &ta, &tb, &bz, &m, &n,
                   &k, &algo, &vw, &mr, &nv, &dm, &dn, &lx, &sl) != 14)
            continue;
        bool ok = (algo == LP_GEMM_ALGO_CLBLAST || algo == LP_GEMM_ALGO_TILED) && sl >= 1 &&
                  (algo == LP_GEMM_ALGO_CLBLAST ||
                   ((vw == 4 || vw == 8 || vw == 16) && mr >= 1 && mr <= 16 && nv >= 1 &&
                    nv <= 4 && dm >= 1 && dm <= 8 && dn >= 1 && dn <= 8 && lx >= 1 && lx <= 1024));
        if (!ok) continue;
        choice_ c = {LP_GEMM_AUTO, ta != 0, tb != 0, bz != 0, m, n, k,
                     {(lp_gemm_algo)algo, vw, mr, nv, dm, dn, lx, sl}};
        if (!find_(s, &c) && remember_(s, &c) != LP_OK) break;
    }
    fclose(f);
}

static void save_disk_(struct lp_gemm_state *s, const choice_ *c) {
    if (!s->path[0]) return;
    char dir[4400];
    snprintf(dir, sizeof dir, "%s", s->path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0, lp_mkdirs_(dir);
    /* One short line in append mode: concurrent runs interleave whole lines. */
    FILE *f = fopen(s->path, "a");
    if (!f) return;
    fprintf(f, "%d %d %d %zu %zu %zu %d %d %d %d %d %d %d %d\n", c->ta, c->tb, c->beta_nz, c->m,
            c->n, c->k, (int)c->v.algo, c->v.vw, c->v.mr, c->v.nv, c->v.dm, c->v.dn, c->v.lx,
            c->v.slices);
    fclose(f);
}

/* Times every candidate on a scratch C (the real C must keep its contents for beta). */
static lp_status choose_(lp_runtime *rt, struct lp_gemm_state *s, const lp_gemm_args_ *g,
                         lp_gemm_variant *best_v) {
    lp_gemm_variant cand[MAX_CANDIDATES];
    int nc = candidates_(rt, g, s->mode, cand);
    LP_TRY(grow_(rt, &s->scratch, &s->scratch_floats, g->m * g->n, "GEMM timing scratch"));
    lp_gemm_args_ t = *g;
    t.c = s->scratch;
    t.c_off = 0;
    t.ldc = g->n;
    t.label = "gemm_autotune";
    double best = INFINITY;
    for (int i = 0; i < nc; ++i) {
        double dt;
        LP_TRY(time_(rt, &cand[i], &t, best, &dt));
        if (dt < best) best = dt, *best_v = cand[i];
    }
    return LP_OK;
}

/* Long-K products where M x N is small: split K so that the device has enough
 * independent work and each slice's rows stay in cache. */
static int default_slices_(const lp_gemm_args_ *g) {
    size_t mn = g->m > g->n ? g->m : g->n;
    return g->k >= 4096 && g->k >= 8 * mn ? (int)((g->k + 511) / 512 > 128 ? 128 : (g->k + 511) / 512)
                                          : 1;
}

static lp_status lookup_(lp_runtime *rt, const lp_gemm_args_ *g, lp_gemm_variant *v) {
    struct lp_gemm_state *s;
    LP_TRY(state_(rt, &s));
    const lp_gemm_variant clblast = {.algo = LP_GEMM_ALGO_CLBLAST, .slices = 1};
    if (s->mode == LP_GEMM_TILED) {
        /* There is no tiled A^T.B^T kernel (no layer needs one). */
        *v = g->ta && g->tb ? clblast : lp_gemm_default_tiled(rt);
        v->slices = default_slices_(g);
        return LP_OK;
    }
    if (s->mode == LP_GEMM_CLBLAST && g->k < 2048) {
        *v = clblast;
        return LP_OK;
    }
    choice_ key = {s->mode, g->ta, g->tb, g->beta != 0.0f, g->m, g->n, g->k, {0}};
    if (s->mode == LP_GEMM_AUTO && !s->disk_loaded) load_disk_(s);
    const choice_ *c = find_(s, &key);
    if (c) {
        *v = c->v;
        return LP_OK;
    }
    LP_TRY(choose_(rt, s, g, &key.v));
    LP_TRY(remember_(s, &key));
    if (s->mode == LP_GEMM_AUTO) save_disk_(s, &key);
    *v = key.v;
    return LP_OK;
}

/* One stored operand: rows x cols at `off` with row stride `ld` must lie in `buf`. */
static lp_status check_operand_(const lp_gemm_args_ *g, char name, cl_mem buf, size_t rows,
                                size_t cols, size_t off, size_t ld) {
    if (rows == 0 || cols == 0) return LP_OK;
    if (ld < cols)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "%s: GEMM %zux%zux%zu: ld%c %zu is less than the %zu columns of %c", g->label,
                       g->m, g->n, g->k, name + 32, ld, cols, name);
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
    LP_TRY(check_operand_(g, 'A', g->a, g->ta ? g->k : g->m, g->ta ? g->m : g->k, g->a_off, g->lda));
    LP_TRY(check_operand_(g, 'B', g->b, g->tb ? g->n : g->k, g->tb ? g->k : g->n, g->b_off, g->ldb));
    return check_operand_(g, 'C', g->c, g->m, g->n, g->c_off, g->ldc);
}

static lp_gemm_args_ args_(bool ta, bool tb, size_t m, size_t n, size_t k, float alpha, cl_mem a,
                           size_t a_off, size_t lda, cl_mem b, size_t b_off, size_t ldb,
                           float beta, cl_mem c, size_t c_off, size_t ldc, const char *label) {
    return (lp_gemm_args_){ta,    tb, m,     n,     k,   alpha, beta, a,   b,
                           c,     a_off, lda, b_off, ldb, c_off, ldc,  label};
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
    if (state_(rt, &s) != LP_OK) return;
    s->tracing = true;
    s->n_trace = 0;
}

int lp_gemm_trace_end(lp_runtime *rt, lp_gemm_shape *out, int cap) {
    struct lp_gemm_state *s;
    if (state_(rt, &s) != LP_OK) return 0;
    s->tracing = false;
    for (int i = 0; i < s->n_trace && i < cap; ++i)
        out[i] = s->trace[i];
    return s->n_trace;
}

lp_status lp_op_gemm(lp_runtime *rt, bool trans_a, bool trans_b, size_t m, size_t n, size_t k,
                     float alpha, cl_mem a, size_t a_off, size_t lda, cl_mem b, size_t b_off,
                     size_t ldb, float beta, cl_mem c, size_t c_off, size_t ldc, const char *label) {
    if (m == 0 || n == 0) return LP_OK;
    lp_gemm_args_ g = args_(trans_a, trans_b, m, n, k, alpha, a, a_off, lda, b, b_off, ldb, beta,
                            c, c_off, ldc, label);
    LP_TRY(check_args_(&g));
    if (rt->gemm && rt->gemm->tracing) trace_(rt->gemm, &g);
    lp_gemm_variant v;
    LP_TRY(lookup_(rt, &g, &v));
    return run_(rt, &v, &g);
}

lp_status lp_gemm_run_variant(lp_runtime *rt, const lp_gemm_variant *v, bool trans_a,
                              bool trans_b, size_t m, size_t n, size_t k, float alpha, cl_mem a,
                              size_t a_off, size_t lda, cl_mem b, size_t b_off, size_t ldb,
                              float beta, cl_mem c, size_t c_off, size_t ldc, const char *label) {
    if (m == 0 || n == 0) return LP_OK;
    lp_gemm_args_ g = args_(trans_a, trans_b, m, n, k, alpha, a, a_off, lda, b, b_off, ldb, beta,
                            c, c_off, ldc, label);
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
    LP_TRY(state_(rt, &s));
    choice_ key = {s->mode, trans_a, trans_b, false, m, n, k, {0}};
    const choice_ *c = find_(s, &key);
    if (!c) {
        key.beta_nz = true;
        c = find_(s, &key);
    }
    if (!c) return lp_fail(LP_ERR_NOT_FOUND, "no GEMM choice for %zux%zux%zu yet", m, n, k);
    lp_gemm_variant_text(&c->v, trans_b, buf, cap);
    return LP_OK;
}
