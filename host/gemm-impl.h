/* Internal pieces of the matrix products, in three layers that call downwards only:
 *   gemm.c          the dispatcher (lp_op_gemm): the timed choice, its decision file kind
 *   gemm_tiled.c,   the back ends: the register-tiled kernels of cl/gemm.cl, and CLBlast
 *   gemm_clblast.c
 *   gemm_work.c     what they share: the per-runtime state (mode, choices, buffers), the
 *                   workspace and panel buffers, the split along K and its reduction. */
#ifndef LAPERM_GEMM_IMPL_H
#define LAPERM_GEMM_IMPL_H

#include "decisions.h"
#include "laperm/gemm.h"

/* Operands of one product, as lp_op_gemm takes them. */
typedef struct {
    bool ta, tb;
    size_t m, n, k;
    float alpha, beta;
    cl_mem a, b, c;
    size_t a_off, lda, b_off, ldb, c_off, ldc;
    const char *label;
} lp_gemm_args_;

/* ---- gemm.c ------------------------------------------------------------------------- */

/* The dispatcher's kind of decision (decisions.h), defined next to its chooser. */
extern const lp_decision_kind lp_decision_gemm;

/* ---- gemm_tiled.c, gemm_clblast.c --------------------------------------------------- */

/* The one tile of portable mode (lp_runtime_bits), whatever the device. */
lp_gemm_variant lp_gemm_portable_tiled_(void);

lp_status lp_gemm_clblast_(lp_runtime *rt, const lp_gemm_args_ *g, int slices);
lp_status lp_gemm_tiled_(lp_runtime *rt, const lp_gemm_variant *v, const lp_gemm_args_ *g);

/* ---- gemm_work.c -------------------------------------------------------------------- */

/* A choice the dispatcher made for one product in one mode. */
typedef struct {
    lp_gemm_mode mode; /* the candidates it was chosen from */
    bool ta, tb, beta_nz;
    size_t m, n, k;
    lp_gemm_variant v;
} lp_gemm_choice_;

/* The buffers the state keeps and grows, one per purpose. */
typedef enum {
    LP_GEMM_WORKSPACE, /* the split-K partial products */
    LP_GEMM_PANELS,    /* op(A) packed for the tiled kernels */
    LP_GEMM_SCRATCH,   /* the C that candidates write while they are timed */
    LP_GEMM_BUFFERS
} lp_gemm_buffer_kind_;

/* The GEMM state of one runtime, attached to it (lp_runtime_attach) on first use and
 * released with it. */
struct lp_gemm_state {
    lp_gemm_mode mode; /* starts as $LAPERM_GEMM, else auto */
    bool exact;        /* no timed choice that changes the bits (lp_gemm_set_exact) */
    lp_gemm_choice_ *choices;
    int n_choices, cap_choices;
    cl_mem buffers[LP_GEMM_BUFFERS]; /* indexed by lp_gemm_buffer_kind_ */
    size_t buffer_floats[LP_GEMM_BUFFERS];
    bool tracing;
    lp_gemm_shape *trace;
    int n_trace, cap_trace;
};

/* This runtime's state, made on first use; LP_ERR_NO_MEMORY is the only failure. */
lp_status lp_gemm_state_(lp_runtime *rt, struct lp_gemm_state **out);
/* This runtime's state if it has one yet, else NULL. */
struct lp_gemm_state *lp_gemm_state_if_any_(const lp_runtime *rt);

/* This runtime's buffer of that purpose, at least `floats` floats. */
lp_status lp_gemm_buffer_(lp_runtime *rt, lp_gemm_buffer_kind_ kind, size_t floats, cl_mem *out);

/* Slices actually used for k values split `slices` ways: empty slices are dropped. */
int lp_gemm_slices_(size_t k, int slices, size_t *kslice);
/* C = alpha * sum of `slices` dense (m, n) partials in work + beta * C. */
lp_status lp_gemm_reduce_(lp_runtime *rt, const lp_gemm_args_ *g, int slices, cl_mem work);

#endif
