/* How `laperm check` compares a device's values with the references and fills a row:
 * errors against the stated bounds, bit identity, and the first mismatch as the note. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "check-impl.h"

static void fail_(lp_check_ctx *c, const char *fmt, ...) {
    if (c->r->state == LP_CHECK_PASS || c->r->state == LP_CHECK_SKIP) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->r->note, sizeof c->r->note, fmt, ap);
        va_end(ap);
    }
    c->r->state = LP_CHECK_FAIL;
}

void lp_check_values(lp_check_ctx *c, const char *what, const float *got, const double *want,
                     const double *mag, size_t n, double k) {
    lp_check_result *r = c->r;
    for (size_t i = 0; i < n; ++i) {
        double g = got[i], w = want[i];
        double err = fabs(g - w), m = mag ? mag[i] : fabs(w);
        double allowed = k * LP_CHECK_U * m + LP_CHECK_TINY;
        bool ok = err <= allowed || (isnan(g) && isnan(w));
        if (isnan(err) && !ok) err = INFINITY;
        if (err > r->max_abs) r->max_abs = err;
        if (w != 0.0 && err / fabs(w) > r->max_rel) r->max_rel = err / fabs(w);
        if (err / allowed > r->worst) r->worst = err / allowed;
        if (!ok)
            fail_(c, "%s [%zu of %zu]: got %.9g, want %.9g (allowed %.3g)", what, i, n, g, w,
                  allowed);
    }
    r->compared += (long long)n;
}

void lp_check_bits(lp_check_ctx *c, const char *what, const void *got, const void *want, size_t n) {
    const uint32_t *g = got, *w = want;
    lp_check_result *r = c->r;
    for (size_t i = 0; i < n; ++i) {
        if (g[i] == w[i]) continue;
        float gf, wf;
        memcpy(&gf, &g[i], 4);
        memcpy(&wf, &w[i], 4);
        double err = fabs((double)gf - wf);
        if (isnan(err)) err = INFINITY;
        if (err > r->max_abs) r->max_abs = err;
        if (wf != 0.0f && err / fabs(wf) > r->max_rel) r->max_rel = err / fabs(wf);
        r->worst = INFINITY;
        fail_(c, "%s [%zu of %zu]: bits 0x%08x, want 0x%08x (as float %.9g, %.9g; as int %d, %d)",
              what, i, n, g[i], w[i], gf, wf, (int)g[i], (int)w[i]);
    }
    r->compared += (long long)n;
}

void lp_check_skip(lp_check_ctx *c, const char *why) {
    if (c->r->state != LP_CHECK_PASS) return;
    c->r->state = LP_CHECK_SKIP;
    snprintf(c->r->note, sizeof c->r->note, "%s", why);
}

lp_status lp_check_upload(lp_check_ctx *c, const void *src, size_t bytes, cl_mem *out) {
    /* zeroed first: no kernel (or Oclgrind) reads bytes nobody wrote */
    LP_TRY(lp_buffer_create_zeroed(c->rt, bytes ? bytes : 4, "check data", out));
    return src && bytes ? lp_buffer_write(c->rt, *out, 0, bytes, src) : LP_OK;
}

uint64_t lp_check_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void lp_check_fill(float *x, size_t n, uint64_t *state, float lo, float hi) {
    for (size_t i = 0; i < n; ++i)
        x[i] = lo + (hi - lo) * (float)(lp_check_next(state) >> 40) * (1.0f / 16777216.0f);
}
