/* What the GEMM dispatcher and its back ends share (gemm-impl.h): the modes' names, the
 * per-runtime state with its buffers, and the split along K with its reduction kernel.
 * It calls neither the dispatcher nor a back end. */
#include <stdlib.h>
#include <string.h>

#include "gemm-impl.h"
#include "laperm/launch.h"

/* The state's key among the runtime's attachments (lp_runtime_attach). */
#define ATTACH_KEY_ "laperm.gemm"

static const char *const mode_names_[] = {
    [LP_GEMM_AUTO] = "auto", [LP_GEMM_CLBLAST] = "clblast", [LP_GEMM_TILED] = "tiled"};

const char *lp_gemm_mode_name(lp_gemm_mode mode) {
    return (unsigned)mode < sizeof mode_names_ / sizeof *mode_names_ ? mode_names_[mode] : "?";
}

bool lp_gemm_mode_parse(const char *s, lp_gemm_mode *out) {
    for (size_t i = 0; s && i < sizeof mode_names_ / sizeof *mode_names_; ++i)
        if (strcmp(s, mode_names_[i]) == 0) {
            *out = (lp_gemm_mode)i;
            return true;
        }
    return false;
}

static void release_(void *p) {
    struct lp_gemm_state *s = p;
    for (int b = 0; b < LP_GEMM_BUFFERS; ++b)
        if (s->buffers[b]) clReleaseMemObject(s->buffers[b]);
    free(s->choices);
    free(s->trace);
    free(s);
}

lp_status lp_gemm_state_(lp_runtime *rt, struct lp_gemm_state **out) {
    *out = NULL;
    struct lp_gemm_state *s = lp_runtime_attached(rt, ATTACH_KEY_);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s) return lp_fail(LP_ERR_NO_MEMORY, "GEMM state: out of host memory");
        const char *env = getenv("LAPERM_GEMM");
        if (!lp_gemm_mode_parse(env, &s->mode)) s->mode = LP_GEMM_AUTO;
        lp_status st = lp_runtime_attach(rt, ATTACH_KEY_, s, release_);
        if (st != LP_OK) {
            free(s);
            return st;
        }
    }
    *out = s;
    return LP_OK;
}

struct lp_gemm_state *lp_gemm_state_if_any_(const lp_runtime *rt) {
    return lp_runtime_attached(rt, ATTACH_KEY_);
}

/* Grows *buf to at least `floats`; the old buffer lives on until queued commands using
 * it finish (OpenCL's reference counting), so no wait is needed. */
static lp_status grow_(lp_runtime *rt, cl_mem *buf, size_t *have, size_t floats, const char *what) {
    if (*buf && *have >= floats) return LP_OK;
    cl_mem grown;
    LP_TRY(lp_buffer_create_zeroed(rt, floats * sizeof(float), what, &grown));
    if (*buf) clReleaseMemObject(*buf);
    *buf = grown;
    *have = floats;
    return LP_OK;
}

lp_status lp_gemm_buffer_(lp_runtime *rt, lp_gemm_buffer_kind_ kind, size_t floats, cl_mem *out) {
    static const char *const what[LP_GEMM_BUFFERS] = {[LP_GEMM_WORKSPACE] =
                                                          "GEMM split-K workspace",
                                                      [LP_GEMM_PANELS] = "GEMM packed A panels",
                                                      [LP_GEMM_SCRATCH] = "GEMM timing scratch"};
    struct lp_gemm_state *s;
    LP_TRY(lp_gemm_state_(rt, &s));
    LP_TRY(grow_(rt, &s->buffers[kind], &s->buffer_floats[kind], floats, what[kind]));
    *out = s->buffers[kind];
    return LP_OK;
}

int lp_gemm_slices_(size_t k, int slices, size_t *kslice) {
    if (slices < 1) slices = 1;
    if ((size_t)slices > k) slices = k ? (int)k : 1;
    *kslice = (k + (size_t)slices - 1) / (size_t)slices;
    if (*kslice == 0) *kslice = 1;
    return (int)((k + *kslice - 1) / *kslice);
}

lp_status lp_gemm_reduce_(lp_runtime *rt, const lp_gemm_args_ *g, int slices, cl_mem work) {
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(rt, "gemm", "lp_gemm_reduce", NULL, &k));
    cl_int m = (cl_int)g->m, n = (cl_int)g->n, s = slices, ldc = (cl_int)g->ldc;
    cl_ulong stride = (cl_ulong)g->m * g->n, c_off = g->c_off;
    LP_ARG(k, 0, m);
    LP_ARG(k, 1, n);
    LP_ARG(k, 2, s);
    LP_ARG(k, 3, stride);
    LP_ARG(k, 4, work);
    LP_ARG(k, 5, g->alpha);
    LP_ARG(k, 6, g->beta);
    LP_ARG(k, 7, g->c);
    LP_ARG(k, 8, c_off);
    LP_ARG(k, 9, ldc);
    return lp_launch_1d(rt, k, g->m * g->n, 256, g->label);
}
