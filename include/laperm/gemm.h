/* Matrix products: CLBlast or laperm's register-tiled kernels (cl/gemm.cl), chosen per
 * device and shape by timing them once (the choice is kept on disk, host/decisions.h), or
 * in exact mode (lp_gemm_set_exact: training without --fast) by a rule.
 * lp_op_gemm (laperm/ops.h) is the entry point the layers use; this header exposes the
 * choice for tests, benchmarks and the CLI. */
#ifndef LAPERM_GEMM_H
#define LAPERM_GEMM_H

#include "laperm/runtime.h"

typedef enum {
    LP_GEMM_AUTO,    /* time the candidates per shape, keep the fastest (exact: a rule) */
    LP_GEMM_CLBLAST, /* CLBlast only (split along K where K is long) */
    LP_GEMM_TILED,   /* laperm's kernels only, with the device's default tile */
    LP_GEMM_MODE_COUNT
} lp_gemm_mode;

/* One way to compute a product. */
typedef enum { LP_GEMM_ALGO_CLBLAST, LP_GEMM_ALGO_TILED } lp_gemm_algo;
typedef struct {
    lp_gemm_algo algo;
    int vw, mr, nv; /* tiled nn/tn: vector width, tile rows, vectors per tile row */
    int dm, dn;     /* tiled nt: tile rows and columns */
    int lx;         /* tiled: work-items per work-group */
    int slices;     /* split of K: partial products summed by a second kernel (1: none) */
} lp_gemm_variant;

/* Mode for this runtime; the default is $LAPERM_GEMM (auto | clblast | tiled), else auto. */
void lp_gemm_set_mode(lp_runtime *rt, lp_gemm_mode mode);
lp_gemm_mode lp_gemm_get_mode(lp_runtime *rt);
/* Exact mode (what training uses unless --fast): no choice that changes the bits is made
 * by timing. auto takes laperm's tiled kernels on CPUs and CLBlast elsewhere, and every
 * mode splits K by a fixed rule on the shape, so the same shapes give the same bits on
 * every run, with or without a decision cache. Off by default (benchmarks, tests). */
void lp_gemm_set_exact(lp_runtime *rt, bool exact);
/* The choices made so far, one line each "<mode>:<layout>:b<beta>:<m>x<n>x<k> <variant>",
 * into buf (truncated at cap; returns the length it needed). */
size_t lp_gemm_choices_text(lp_runtime *rt, char *buf, size_t cap);
/* Makes the choices listed in text (lines as lp_gemm_choices_text writes them) before
 * any timing: a run replays another's. A line that does not parse is an error naming it. */
lp_status lp_gemm_choices_load(lp_runtime *rt, const char *text);
/* Parses "auto" | "clblast" | "tiled"; false if it is none of them. */
bool lp_gemm_mode_parse(const char *s, lp_gemm_mode *out);
/* "auto", "clblast", "tiled". */
const char *lp_gemm_mode_name(lp_gemm_mode mode);

/* The device's default tiled variant for the layout (tiles, vector width, work-group). */
lp_gemm_variant lp_gemm_default_tiled(lp_runtime *rt);

/* Runs one product with the given variant (no choosing, no caching): tests and benches.
 * Same arguments as lp_op_gemm. */
lp_status lp_gemm_run_variant(lp_runtime *rt, const lp_gemm_variant *v, bool trans_a, bool trans_b,
                              size_t m, size_t n, size_t k, float alpha, cl_mem a, size_t a_off,
                              size_t lda, cl_mem b, size_t b_off, size_t ldb, float beta, cl_mem c,
                              size_t c_off, size_t ldc, const char *label);

/* The variant lp_op_gemm's timing chose for this shape in the current mode (with beta 0,
 * else with beta nonzero), as text such as "tiled 8x32 wg1 k/4" or "clblast" (see
 * lp_gemm_variant_text) into buf; LP_ERR_NOT_FOUND when there is none (no product of the
 * shape has run yet, or the mode times nothing for it). */
lp_status lp_gemm_describe_choice(lp_runtime *rt, bool trans_a, bool trans_b, size_t m, size_t n,
                                  size_t k, char *buf, size_t cap);
void lp_gemm_variant_text(const lp_gemm_variant *v, bool trans_b, char *buf, size_t cap);

/* Recording of the distinct shapes lp_op_gemm is called with (benchmarks use it to find
 * a model's real training shapes). Begin clears the record. */
typedef struct {
    bool ta, tb, beta_nz;
    size_t m, n, k;
    char label[40];
} lp_gemm_shape;
void lp_gemm_trace_begin(lp_runtime *rt);
/* Copies up to `cap` recorded shapes (in first-call order) and stops recording; returns
 * how many there were. */
int lp_gemm_trace_end(lp_runtime *rt, lp_gemm_shape *out, int cap);

#endif
