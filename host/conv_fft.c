/* Stride-1 conv2d by FFTs (laperm/conv_fft.h): clFFT plans and buffers, and the three
 * passes as pack -> real-to-complex -> multiply-accumulate -> complex-to-real -> crop.
 *
 * In a frame of (fh, fw), with circular indices:
 *   forward      out[y]  = sum_k xpad[y + k] W[k]  : IFFT(X . conj(Wf)), crop at 0
 *   input grad   dxpad[y] = sum_k g[y - k] W[k]    : IFFT(G . Wf), crop at the padding
 *   kernel grad  dW[k]   = sum_y xpad[y + k] g[y]  : IFFT(X . conj(G)), crop at 0
 * where xpad is x placed at (pad_top, pad_left). With fh >= oh + kh - 1 and
 * fh >= pad_top + h (likewise across) no index that reaches a kept value wraps onto a
 * non-zero one. */
#include "laperm/conv_fft.h"

#include <limits.h>
#include <stdlib.h>

/* Smallest m' >= m whose prime factors are 2, 3, 5 and 7: lengths clFFT has radices for. */
static int smooth_size_(int m) {
    for (int v = m > 1 ? m : 1;; ++v) {
        int r = v;
        static const int primes[] = {2, 3, 5, 7};
        for (int i = 0; i < 4; ++i)
            while (r % primes[i] == 0)
                r /= primes[i];
        if (r == 1) return v;
    }
}

/* The transform frame of a shape: large enough that no circular wrap reaches a kept value. */
static void frame_size_(const lp_conv_fft_shape *s, int *fh, int *fw) {
    int need_h = s->oh + s->kh - 1, need_w = s->ow + s->kw - 1;
    if (s->pad_top + s->h > need_h) need_h = s->pad_top + s->h;
    if (s->pad_left + s->w > need_w) need_w = s->pad_left + s->w;
    *fh = smooth_size_(need_h);
    *fw = smooth_size_(need_w);
}

/* Upper bounds of what lp_conv_fft_create allocates, as laid out there: frames for the
 * most planes of x, dout or W, and spectra of x, dout, W and the products. */
void lp_conv_fft_bytes(const lp_conv_fft_shape *s, size_t *fixed, size_t *per_sample) {
    int fh, fw;
    frame_size_(s, &fh, &fw);
    size_t frame = (size_t)fh * fw * 4, spec = (size_t)fh * (fw / 2 + 1) * 8;
    size_t most = (size_t)(s->cin > s->filters ? s->cin : s->filters);
    *per_sample = most * (frame + spec) + (size_t)(s->cin + s->filters) * spec;
    *fixed = (size_t)s->filters * s->cin * (frame + 2 * spec);
}

#ifdef LAPERM_HAVE_CLFFT

#include <clFFT.h>

/* Plans for other batch sizes than the created ones are made on first use; a few are
 * kept (a training run sees its batch size and one last partial batch). */
#define PLANS_MAX_ 12
#define PLANS_FIXED_ 3 /* the plans baked at create, never evicted */

typedef struct {
    size_t batch;             /* frames per transform */
    clfftPlanHandle r2c, c2r; /* forward (real -> half spectrum) and back, scaled by 1/(fh*fw) */
    size_t tmp_bytes;         /* the larger of the two plans' scratch needs */
    bool has_r2c, has_c2r;    /* handles are plain counters, 0 included: track them apart */
} plan_pair_;

struct lp_conv_fft {
    lp_runtime *rt;
    lp_conv_fft_shape s;
    int fh, fw, bins;        /* frame and spectrum (fh * (fw/2 + 1)) sizes */
    cl_mem real;             /* frames: max(n*cin, n*F, F*cin) * fh*fw floats */
    cl_mem xs, gs, ws, prod; /* spectra of x (n*cin), dout (n*F), W (F*cin), products (max) */
    cl_mem tmp;              /* clFFT scratch for the created plans (NULL: none needed) */
    size_t tmp_bytes;
    plan_pair_ plans[PLANS_MAX_];
    int n_plans, next_evict;
    int fwd_n, fwd_s0; /* fwd_n > 0: xs and ws hold the last forward's x and W, for samples
                        * fwd_s0..fwd_s0+fwd_n-1 */
};

/* clFFT keeps process-wide state between clfftSetup and clfftTeardown. */
static int fft_users_;

static lp_status fft_check_(clfftStatus st, const char *what) {
    if (st == CLFFT_SUCCESS) return LP_OK;
    if ((int)st < 0) return lp_fail(LP_ERR_OPENCL, "%s: %s (%d)", what, lp_cl_error_name(st), st);
    return lp_fail(LP_ERR_OPENCL, "%s: clFFT status %d", what, (int)st);
}

bool lp_conv_fft_available(void) {
    return true;
}

static void plan_pair_free_(plan_pair_ *p) {
    if (p->has_r2c) clfftDestroyPlan(&p->r2c);
    if (p->has_c2r) clfftDestroyPlan(&p->c2r);
    p->has_r2c = p->has_c2r = false;
    p->batch = 0;
}

/* Real frames of (fh, fw) row-major, `batch` of them back to back, and their half
 * spectra (fh, fw/2 + 1) complex interleaved, likewise; out of place both ways. */
static lp_status plan_make_(lp_conv_fft *f, bool forward, size_t batch, clfftPlanHandle *out,
                            bool *made) {
    cl_context ctx = lp_runtime_context(f->rt);
    size_t lengths[2] = {(size_t)f->fw, (size_t)f->fh};
    size_t cw = (size_t)f->fw / 2 + 1;
    size_t rstride[2] = {1, (size_t)f->fw}, cstride[2] = {1, cw};
    size_t rdist = (size_t)f->fh * f->fw, cdist = (size_t)f->fh * cw;
    clfftPlanHandle p;
    LP_TRY(
        fft_check_(clfftCreateDefaultPlan(&p, ctx, CLFFT_2D, lengths), "clfftCreateDefaultPlan"));
    *out = p;
    *made = true;
    LP_TRY(fft_check_(clfftSetPlanPrecision(p, CLFFT_SINGLE), "clfftSetPlanPrecision"));
    LP_TRY(fft_check_(clfftSetResultLocation(p, CLFFT_OUTOFPLACE), "clfftSetResultLocation"));
    LP_TRY(fft_check_(clfftSetPlanBatchSize(p, batch), "clfftSetPlanBatchSize"));
    if (forward) {
        LP_TRY(fft_check_(clfftSetLayout(p, CLFFT_REAL, CLFFT_HERMITIAN_INTERLEAVED),
                          "clfftSetLayout"));
        LP_TRY(fft_check_(clfftSetPlanInStride(p, CLFFT_2D, rstride), "clfftSetPlanInStride"));
        LP_TRY(fft_check_(clfftSetPlanOutStride(p, CLFFT_2D, cstride), "clfftSetPlanOutStride"));
        LP_TRY(fft_check_(clfftSetPlanDistance(p, rdist, cdist), "clfftSetPlanDistance"));
    } else {
        LP_TRY(fft_check_(clfftSetLayout(p, CLFFT_HERMITIAN_INTERLEAVED, CLFFT_REAL),
                          "clfftSetLayout"));
        LP_TRY(fft_check_(clfftSetPlanInStride(p, CLFFT_2D, cstride), "clfftSetPlanInStride"));
        LP_TRY(fft_check_(clfftSetPlanOutStride(p, CLFFT_2D, rstride), "clfftSetPlanOutStride"));
        LP_TRY(fft_check_(clfftSetPlanDistance(p, cdist, rdist), "clfftSetPlanDistance"));
    }
    return fft_check_(clfftBakePlan(p, 1, lp_runtime_queue_ptr(f->rt), NULL, NULL),
                      "clfftBakePlan");
}

/* The plans for `batch` frames: cached, else made (evicting an on-demand pair if full). */
static lp_status plans_get_(lp_conv_fft *f, size_t batch, plan_pair_ **out) {
    for (int i = 0; i < f->n_plans; ++i)
        if (f->plans[i].batch == batch) {
            *out = &f->plans[i];
            return LP_OK;
        }
    int slot = f->n_plans;
    if (slot == PLANS_MAX_) {
        slot = PLANS_FIXED_ + f->next_evict;
        f->next_evict = (f->next_evict + 1) % (PLANS_MAX_ - PLANS_FIXED_);
        /* The queue may still run transforms of the old plans. */
        LP_TRY(lp_runtime_finish(f->rt));
        plan_pair_free_(&f->plans[slot]);
    } else {
        f->n_plans++;
    }
    plan_pair_ *p = &f->plans[slot];
    p->batch = batch;
    lp_status s = plan_make_(f, true, batch, &p->r2c, &p->has_r2c);
    if (s == LP_OK) s = plan_make_(f, false, batch, &p->c2r, &p->has_c2r);
    size_t a = 0, b = 0;
    if (s == LP_OK) s = fft_check_(clfftGetTmpBufSize(p->r2c, &a), "clfftGetTmpBufSize");
    if (s == LP_OK) s = fft_check_(clfftGetTmpBufSize(p->c2r, &b), "clfftGetTmpBufSize");
    p->tmp_bytes = a > b ? a : b;
    if (s != LP_OK) {
        plan_pair_free_(p);
        if (slot == f->n_plans - 1) f->n_plans--;
        return lp_fail_context(s, "conv_fft: planning %zu frames of %dx%d: ", batch, f->fh, f->fw);
    }
    *out = p;
    return LP_OK;
}

/* The scratch to hand clFFT: ours when large enough, else NULL (clFFT allocates its own). */
static cl_mem tmp_for_(lp_conv_fft *f, const plan_pair_ *p) {
    return p->tmp_bytes && p->tmp_bytes <= f->tmp_bytes ? f->tmp : NULL;
}

static lp_status transform_(lp_conv_fft *f, bool forward, size_t batch, cl_mem in, cl_mem out) {
    plan_pair_ *p = NULL;
    LP_TRY(plans_get_(f, batch, &p));
    cl_mem bin = in, bout = out;
    return fft_check_(
        clfftEnqueueTransform(forward ? p->r2c : p->c2r, forward ? CLFFT_FORWARD : CLFFT_BACKWARD,
                              1, lp_runtime_queue_ptr(f->rt), 0, NULL, NULL, &bin, &bout,
                              tmp_for_(f, p)),
        forward ? "conv_fft: real-to-complex transform" : "conv_fft: complex-to-real transform");
}

/* Work-groups along the first axis only, no wider than it (as in ops_conv.c). */
static lp_status launch_(lp_runtime *rt, cl_kernel k, size_t d0, size_t d1, size_t d2,
                         const char *label) {
    size_t w = lp_runtime_wgs(rt, k, 64);
    while (w > 1 && w > d0)
        w /= 2;
    size_t global[3] = {d0, d1, d2}, local[3] = {w, 1, 1};
    return lp_launch(rt, k, 3, global, local, label);
}

/* real frames 0..planes-1 = planes of (sh, sw) from src at float src_off, placed at
 * (oy, ox). */
static lp_status pack_(lp_conv_fft *f, cl_mem src, size_t src_off, int planes, int sh, int sw,
                       int oy, int ox) {
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(f->rt, "conv_fft", "lp_conv_fft_pack", NULL, &k));
    cl_ulong off = src_off;
    LP_ARG(k, 0, src);
    LP_ARG(k, 1, off);
    LP_ARG(k, 2, planes);
    LP_ARG(k, 3, sh);
    LP_ARG(k, 4, sw);
    LP_ARG(k, 5, oy);
    LP_ARG(k, 6, ox);
    LP_ARG(k, 7, f->fh);
    LP_ARG(k, 8, f->fw);
    LP_ARG(k, 9, f->real);
    return launch_(f->rt, k, (size_t)f->fh * f->fw, (size_t)planes, 1, "conv_fft_pack");
}

/* dst at float dst_off = (or += when add) planes of (dh, dw) cut from the real frames at
 * (oy, ox). */
static lp_status crop_(lp_conv_fft *f, int planes, int oy, int ox, int dh, int dw, cl_mem dst,
                       size_t dst_off, bool add) {
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(f->rt, "conv_fft", add ? "lp_conv_fft_crop_add" : "lp_conv_fft_crop",
                             NULL, &k));
    cl_ulong off = dst_off;
    LP_ARG(k, 0, f->real);
    LP_ARG(k, 1, planes);
    LP_ARG(k, 2, f->fh);
    LP_ARG(k, 3, f->fw);
    LP_ARG(k, 4, oy);
    LP_ARG(k, 5, ox);
    LP_ARG(k, 6, dh);
    LP_ARG(k, 7, dw);
    LP_ARG(k, 8, dst);
    LP_ARG(k, 9, off);
    return launch_(f->rt, k, (size_t)dh * dw, (size_t)planes, 1,
                   add ? "conv_fft_crop_add" : "conv_fft_crop");
}

/* prod spectrum (i0*n1 + i1) = sum_j a[i0*sa0 + i1*sa1 + j*saj] . (conj) b[...]. */
static lp_status mac_(lp_conv_fft *f, cl_mem a, cl_mem b, bool conj_b, int nj, const int sa[3],
                      const int sb[3], int n0, int n1) {
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(f->rt, "conv_fft", "lp_conv_fft_mac", NULL, &k));
    int conj_i = conj_b;
    LP_ARG(k, 0, a);
    LP_ARG(k, 1, b);
    LP_ARG(k, 2, conj_i);
    LP_ARG(k, 3, nj);
    LP_ARG(k, 4, sa[0]);
    LP_ARG(k, 5, sa[1]);
    LP_ARG(k, 6, sa[2]);
    LP_ARG(k, 7, sb[0]);
    LP_ARG(k, 8, sb[1]);
    LP_ARG(k, 9, sb[2]);
    LP_ARG(k, 10, n0);
    LP_ARG(k, 11, n1);
    LP_ARG(k, 12, f->bins);
    LP_ARG(k, 13, f->prod);
    return launch_(f->rt, k, (size_t)f->bins, (size_t)n1, (size_t)n0, "conv_fft_mac");
}

static void release_(cl_mem *m) {
    if (*m) clReleaseMemObject(*m);
    *m = NULL;
}

void lp_conv_fft_destroy(lp_conv_fft *f) {
    if (!f) return;
    /* Transforms in flight use the plans' kernels and the buffers. */
    lp_runtime_finish(f->rt);
    for (int i = 0; i < f->n_plans; ++i)
        plan_pair_free_(&f->plans[i]);
    release_(&f->real);
    release_(&f->xs);
    release_(&f->gs);
    release_(&f->ws);
    release_(&f->prod);
    release_(&f->tmp);
    if (--fft_users_ == 0) clfftTeardown();
    free(f);
}

static lp_status check_shape_(const lp_conv_fft_shape *s) {
    if (!s || s->n <= 0 || s->cin <= 0 || s->h <= 0 || s->w <= 0 || s->filters <= 0 || s->kh <= 0 ||
        s->kw <= 0 || s->pad_top < 0 || s->pad_left < 0 || s->oh <= 0 || s->ow <= 0)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "conv_fft: batch, channels, sizes, filters, kernel and output must be "
                       "positive and paddings not negative");
    /* Frames, spectra and plane products are indexed with ints in the kernels. */
    long long fh = (long long)s->oh + s->kh + s->pad_top + s->h;
    long long fw = (long long)s->ow + s->kw + s->pad_left + s->w;
    long long planes = (long long)s->n * (s->cin > s->filters ? s->cin : s->filters);
    if ((long long)s->filters * s->cin > planes) planes = (long long)s->filters * s->cin;
    if (fh * fw > INT_MAX / 2 || planes > INT_MAX / 4 || (long long)s->kh * s->kw > INT_MAX)
        return lp_fail(LP_ERR_UNSUPPORTED, "conv_fft: shape too large");
    return LP_OK;
}

lp_status lp_conv_fft_create(lp_runtime *rt, const lp_conv_fft_shape *s, lp_conv_fft **out) {
    *out = NULL;
    if (!rt) return lp_fail(LP_ERR_INVALID_ARG, "conv_fft: no runtime");
    LP_TRY(check_shape_(s));
    lp_conv_fft *f = calloc(1, sizeof *f);
    if (!f) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    if (fft_users_ == 0) {
        /* What clfftInitSetupData does, field by field: clFFT.h defines it as a plain C99
         * inline function, with no copy to link against where it is not inlined (-O0). */
        clfftSetupData setup = {.major = clfftVersionMajor,
                                .minor = clfftVersionMinor,
                                .patch = clfftVersionPatch,
                                .debugFlags = 0};
        lp_status st = fft_check_(clfftSetup(&setup), "clfftSetup");
        if (st != LP_OK) {
            free(f);
            return st;
        }
    }
    fft_users_++;
    f->rt = rt;
    f->s = *s;
    frame_size_(s, &f->fh, &f->fw);
    f->bins = f->fh * (f->fw / 2 + 1);

    size_t nx = (size_t)s->n * s->cin, ng = (size_t)s->n * s->filters;
    size_t nw = (size_t)s->filters * s->cin;
    size_t most = nx > ng ? nx : ng;
    if (nw > most) most = nw;
    size_t frame = (size_t)f->fh * f->fw * 4, spec = (size_t)f->bins * 8;
    lp_status st = lp_buffer_create(rt, most * frame, "conv_fft frames", &f->real);
    if (st == LP_OK) st = lp_buffer_create(rt, nx * spec, "conv_fft input spectra", &f->xs);
    if (st == LP_OK) st = lp_buffer_create(rt, ng * spec, "conv_fft gradient spectra", &f->gs);
    if (st == LP_OK) st = lp_buffer_create(rt, nw * spec, "conv_fft kernel spectra", &f->ws);
    if (st == LP_OK) st = lp_buffer_create(rt, most * spec, "conv_fft products", &f->prod);
    /* The plans every full batch uses; their scratch is allocated here once. */
    size_t batches[PLANS_FIXED_] = {nx, ng, nw};
    for (int i = 0; i < PLANS_FIXED_ && st == LP_OK; ++i) {
        plan_pair_ *p = NULL;
        st = plans_get_(f, batches[i], &p);
        if (st == LP_OK && p->tmp_bytes > f->tmp_bytes) f->tmp_bytes = p->tmp_bytes;
    }
    /* Pad the table so that on-demand plans never take the fixed slots. */
    while (st == LP_OK && f->n_plans < PLANS_FIXED_)
        f->plans[f->n_plans++].batch = 0;
    if (st == LP_OK && f->tmp_bytes)
        st = lp_buffer_create(rt, f->tmp_bytes, "conv_fft scratch", &f->tmp);
    if (st != LP_OK) {
        lp_conv_fft_destroy(f);
        return st;
    }
    *out = f;
    return LP_OK;
}

void lp_conv_fft_size(const lp_conv_fft *f, int *fh, int *fw) {
    *fh = f->fh;
    *fw = f->fw;
}

static lp_status check_call_(const lp_conv_fft *f, int s0, int n, const char *what) {
    if (!f || n < 1 || n > f->s.n || s0 < 0)
        return lp_fail(LP_ERR_INVALID_ARG, "conv_fft %s: samples %d+%d, expected a batch of 1..%d",
                       what, s0, n, f ? f->s.n : 0);
    return LP_OK;
}

/* Offsets in floats of sample s0 in x (n, cin, h, w) and in out (n, F, oh, ow). */
static size_t x_at_(const lp_conv_fft *f, int s0) {
    return (size_t)s0 * f->s.cin * f->s.h * f->s.w;
}
static size_t y_at_(const lp_conv_fft *f, int s0) {
    return (size_t)s0 * f->s.filters * f->s.oh * f->s.ow;
}

lp_status lp_conv_fft_forward_at(lp_conv_fft *f, int s0, int n, cl_mem x, cl_mem w, size_t w_off,
                                 cl_mem out) {
    LP_TRY(check_call_(f, s0, n, "forward"));
    const lp_conv_fft_shape *s = &f->s;
    int cin = s->cin, F = s->filters;
    size_t nx = (size_t)n * cin, ng = (size_t)n * F, nw = (size_t)F * cin;
    f->fwd_n = 0;
    LP_TRY(pack_(f, x, x_at_(f, s0), (int)nx, s->h, s->w, s->pad_top, s->pad_left));
    LP_TRY(transform_(f, true, nx, f->real, f->xs));
    LP_TRY(pack_(f, w, w_off, (int)nw, s->kh, s->kw, 0, 0));
    LP_TRY(transform_(f, true, nw, f->real, f->ws));
    f->fwd_n = n; /* xs and ws now hold this call's x and W, for lp_conv_fft_backward */
    f->fwd_s0 = s0;
    /* prod[s, f] = sum_c X[s, c] . conj(Wf[f, c]) */
    const int sa[3] = {cin, 0, 1}, sb[3] = {0, cin, 1};
    LP_TRY(mac_(f, f->xs, f->ws, true, cin, sa, sb, n, F));
    LP_TRY(transform_(f, false, ng, f->prod, f->real));
    return crop_(f, (int)ng, 0, 0, s->oh, s->ow, out, y_at_(f, s0), false);
}

lp_status lp_conv_fft_forward(lp_conv_fft *f, int n, cl_mem x, cl_mem w, size_t w_off, cl_mem out) {
    return lp_conv_fft_forward_at(f, 0, n, x, w, w_off, out);
}

/* dout is transformed once; the spectra of x and W come from the last forward when
 * `reuse` says they are unchanged and it had this batch, else are computed here (x only
 * for dW, W only for dx). */
static lp_status backward_(lp_conv_fft *f, int s0, int n, cl_mem x, cl_mem dout, cl_mem w,
                           size_t w_off, cl_mem dw, size_t dw_off, bool add_dw, cl_mem dx,
                           bool reuse) {
    const lp_conv_fft_shape *s = &f->s;
    int cin = s->cin, F = s->filters;
    size_t nx = (size_t)n * cin, ng = (size_t)n * F, nw = (size_t)F * cin;
    bool have = reuse && f->fwd_n == n && f->fwd_s0 == s0;
    if (!have) f->fwd_n = 0;
    LP_TRY(pack_(f, dout, y_at_(f, s0), (int)ng, s->oh, s->ow, 0, 0));
    LP_TRY(transform_(f, true, ng, f->real, f->gs));
    if (dw) {
        if (!have) {
            LP_TRY(pack_(f, x, x_at_(f, s0), (int)nx, s->h, s->w, s->pad_top, s->pad_left));
            LP_TRY(transform_(f, true, nx, f->real, f->xs));
        }
        /* prod[f, c] = sum_s X[s, c] . conj(G[s, f]), samples in ascending order */
        const int sa[3] = {0, 1, cin}, sb[3] = {1, 0, F};
        LP_TRY(mac_(f, f->xs, f->gs, true, n, sa, sb, F, cin));
        LP_TRY(transform_(f, false, nw, f->prod, f->real));
        LP_TRY(crop_(f, (int)nw, 0, 0, s->kh, s->kw, dw, dw_off, add_dw));
    }
    if (dx) {
        if (!have) {
            LP_TRY(pack_(f, w, w_off, (int)nw, s->kh, s->kw, 0, 0));
            LP_TRY(transform_(f, true, nw, f->real, f->ws));
        }
        /* prod[s, c] = sum_f G[s, f] . Wf[f, c] */
        const int sa[3] = {F, 0, 1}, sb[3] = {0, 1, cin};
        LP_TRY(mac_(f, f->gs, f->ws, false, F, sa, sb, n, cin));
        LP_TRY(transform_(f, false, nx, f->prod, f->real));
        LP_TRY(crop_(f, (int)nx, s->pad_top, s->pad_left, s->h, s->w, dx, x_at_(f, s0), false));
    }
    return LP_OK;
}

lp_status lp_conv_fft_backward_data(lp_conv_fft *f, int n, cl_mem dout, cl_mem w, size_t w_off,
                                    cl_mem dx) {
    LP_TRY(check_call_(f, 0, n, "backward_data"));
    if (!dout || !w || !dx)
        return lp_fail(LP_ERR_INVALID_ARG, "conv_fft backward_data: a buffer is NULL");
    return backward_(f, 0, n, NULL, dout, w, w_off, NULL, 0, false, dx, false);
}

lp_status lp_conv_fft_backward_filter(lp_conv_fft *f, int n, cl_mem x, cl_mem dout, cl_mem dw,
                                      size_t dw_off) {
    LP_TRY(check_call_(f, 0, n, "backward_filter"));
    if (!x || !dout || !dw)
        return lp_fail(LP_ERR_INVALID_ARG, "conv_fft backward_filter: a buffer is NULL");
    return backward_(f, 0, n, x, dout, NULL, 0, dw, dw_off, false, NULL, false);
}

lp_status lp_conv_fft_backward_at(lp_conv_fft *f, int s0, int n, cl_mem x, cl_mem dout, cl_mem w,
                                  size_t w_off, cl_mem dw, size_t dw_off, bool add_dw, cl_mem dx,
                                  bool reuse_forward) {
    LP_TRY(check_call_(f, s0, n, "backward"));
    if (!dout || (dw && !x) || (dx && !w))
        return lp_fail(LP_ERR_INVALID_ARG, "conv_fft backward: dout, x (for dW) and W (for dx) "
                                           "must be given");
    return backward_(f, s0, n, x, dout, w, w_off, dw, dw_off, add_dw, dx, reuse_forward);
}

lp_status lp_conv_fft_backward(lp_conv_fft *f, int n, cl_mem x, cl_mem dout, cl_mem w, size_t w_off,
                               cl_mem dw, size_t dw_off, cl_mem dx, bool reuse_forward) {
    return lp_conv_fft_backward_at(f, 0, n, x, dout, w, w_off, dw, dw_off, false, dx,
                                   reuse_forward);
}

#else /* !LAPERM_HAVE_CLFFT */

struct lp_conv_fft {
    int unused;
};

static lp_status unsupported_(void) {
    return lp_fail(LP_ERR_UNSUPPORTED,
                   "the FFT convolution needs clFFT, which was not found when laperm was "
                   "configured (install clFFT's development files and re-run CMake)");
}

bool lp_conv_fft_available(void) {
    return false;
}

lp_status lp_conv_fft_create(lp_runtime *rt, const lp_conv_fft_shape *s, lp_conv_fft **out) {
    (void)rt;
    (void)s;
    if (out) *out = NULL;
    return unsupported_();
}

void lp_conv_fft_destroy(lp_conv_fft *f) {
    (void)f;
}

void lp_conv_fft_size(const lp_conv_fft *f, int *fh, int *fw) {
    (void)f;
    *fh = *fw = 0;
}

lp_status lp_conv_fft_forward(lp_conv_fft *f, int n, cl_mem x, cl_mem w, size_t w_off, cl_mem out) {
    (void)f, (void)n, (void)x, (void)w, (void)w_off, (void)out;
    return unsupported_();
}

lp_status lp_conv_fft_backward_data(lp_conv_fft *f, int n, cl_mem dout, cl_mem w, size_t w_off,
                                    cl_mem dx) {
    (void)f, (void)n, (void)dout, (void)w, (void)w_off, (void)dx;
    return unsupported_();
}

lp_status lp_conv_fft_backward_filter(lp_conv_fft *f, int n, cl_mem x, cl_mem dout, cl_mem dw,
                                      size_t dw_off) {
    (void)f, (void)n, (void)x, (void)dout, (void)dw, (void)dw_off;
    return unsupported_();
}

lp_status lp_conv_fft_forward_at(lp_conv_fft *f, int s0, int n, cl_mem x, cl_mem w, size_t w_off,
                                 cl_mem out) {
    (void)s0;
    return lp_conv_fft_forward(f, n, x, w, w_off, out);
}

lp_status lp_conv_fft_backward_at(lp_conv_fft *f, int s0, int n, cl_mem x, cl_mem dout, cl_mem w,
                                  size_t w_off, cl_mem dw, size_t dw_off, bool add_dw, cl_mem dx,
                                  bool reuse_forward) {
    (void)f, (void)s0, (void)n, (void)x, (void)dout, (void)w, (void)w_off, (void)dw, (void)dw_off;
    (void)add_dw, (void)dx, (void)reuse_forward;
    return unsupported_();
}

lp_status lp_conv_fft_backward(lp_conv_fft *f, int n, cl_mem x, cl_mem dout, cl_mem w, size_t w_off,
                               cl_mem dw, size_t dw_off, cl_mem dx, bool reuse_forward) {
    return lp_conv_fft_backward_at(f, 0, n, x, dout, w, w_off, dw, dw_off, false, dx,
                                   reuse_forward);
}

#endif
