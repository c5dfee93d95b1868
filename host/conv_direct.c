/* The direct [conv2d] path (laperm/conv_direct.h): layout constants, buffers and launches
 * of cl/conv_direct.cl, whose header explains the layouts (phases, grid, z planes). */
#include "laperm/conv_direct.h"
#include "laperm/launch.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/ops.h"

struct lp_conv_direct {
    lp_runtime *rt;
    lp_conv_geom g;
    int filters, max_batch;
    bool with_dx;
    bool split;         /* stride or padding: the input is split into phases first */
    bool rows;          /* the split by rows (lp_runtime_plane_kernels) */
    lp_gemm_variant v;  /* the products' tile (forward and input gradient) */
    lp_gemm_variant dv; /* the kernel gradient's tile (dw_variant_) */
    char opts[160];
    char *dw_opts;   /* opts plus the kernel gradient's constant tap offsets */
    int U, V;        /* phase planes */
    int ta, tb;      /* taps per phase along each axis: ceil(kh/sh), ceil(kw/sw) */
    int nc;          /* phase channels: C*sh*sw */
    int qn;          /* valid grid pixels of an output plane: (oh-1)*V + ow */
    int lead, zlen;  /* z planes: zeros before the gradient, floats per plane */
    int fp;          /* zt's floats per pixel: filters rounded up to the dw tile's NR */
    cl_mem taps;     /* the forward product's tap offsets (K ints) */
    cl_mem *taps_dx; /* the input gradient's, per phase (F * the phase's taps ints) */
    cl_mem packed;   /* the packed kernel: forward, or the input gradient's */
    /* xs holds the largest batch from the start (the forward passes, evaluation's
     * included, use it); the backward layouts only the training batch, so an evaluation
     * batch far above it costs only the buffers the forward pass uses. */
    cl_mem xs;        /* the split input (split only) */
    int xs_n;         /* > 0: xs holds the last forward's split of this many samples */
    cl_mem zt, z;     /* backward: zt always, z with_dx; borrowed from ws when it is set */
    int back_cap;     /* samples those hold (own buffers) */
    lp_workspace *ws; /* lp_conv_direct_share_backward, or NULL */
};

static size_t round_up_(size_t x, size_t m) {
    return (x + m - 1) / m * m;
}

static int ceil_div_(int a, int b) {
    return (a + b - 1) / b;
}

/* A strided or padded layer goes through its phase split; a stride-1 valid one is its
 * own split. */
static bool needs_split_(const lp_conv_geom *g) {
    return g->stride_h != 1 || g->stride_w != 1 || g->pad_top || g->pad_left;
}

/* Sizes of the layouts for geometry g and tile v; false when a sample's planes do not fit
 * the kernels' int offsets. */
typedef struct {
    int U, V, ta, tb, nc, qn, lead, fp;
    size_t zlen;
} layout_;

static bool layout_make_(const lp_conv_geom *g, int filters, const lp_gemm_variant *v,
                         const lp_gemm_variant *dv, layout_ *o) {
    size_t nr = (size_t)v->vw * (size_t)v->nv;
    o->ta = ceil_div_(g->kh, g->stride_h);
    o->tb = ceil_div_(g->kw, g->stride_w);
    o->U = g->oh + o->ta - 1;
    o->V = g->ow + o->tb - 1;
    o->nc = g->cin * g->stride_h * g->stride_w;
    o->qn = (g->oh - 1) * o->V + g->ow;
    o->lead = (o->ta - 1) * o->V + (o->tb - 1);
    size_t plane = (size_t)o->U * (size_t)o->V;
    /* The input gradient's tiles read up to lead + plane rounded up to a tile. */
    o->zlen = (size_t)o->lead + round_up_(plane, nr);
    o->fp = (int)round_up_((size_t)filters, (size_t)dv->vw * (size_t)dv->nv);
    double biggest = (double)filters * (double)o->zlen;
    double xs = (double)o->nc * (double)plane, zt = (double)o->qn * (double)o->fp;
    if (xs > biggest) biggest = xs;
    if (zt > biggest) biggest = zt;
    return biggest < (double)INT_MAX && (double)g->cin * g->ih * g->iw < (double)INT_MAX;
}

/* Windows with more taps would make the kernel gradient's build options (its tap
 * constants) too long for the program cache's options buffer. */
#define TAPS_MAX_ 64

const char *lp_conv_direct_unfit(const lp_conv_geom *g, int filters) {
    if (g->kh * g->kw > TAPS_MAX_) return "the direct path takes windows of at most 64 taps";
    layout_ l;
    lp_gemm_variant v = {.vw = 16, .nv = 2, .mr = 16};
    return layout_make_(g, filters, &v, &v, &l) ? NULL : "planes too large for the direct path";
}

/* The tile for this shape: the device's, but on CPUs with one vector per tile row (and
 * twice the rows, the same accumulators) when a plane has fewer pixels than a two-vector
 * tile (whose lanes would then be loaded one by one). One vector also pads the pixels
 * less (Conv7's 8x8 outputs use 80 of 96 lanes instead of 96), but each of its vectors of
 * B feeds MR FMAs with MR broadcasts of A beside them, about a load per FMA, against half
 * that at two vectors: on AVX-512 (PoCL) two vectors ran Conv7's 24x24 forward in 3.9 ms
 * against 5.5 with one, its 12x12 (stride 2) in 3.9 against 6.3, interleaved. */
static lp_gemm_variant variant_(lp_runtime *rt, const lp_conv_geom *g) {
    lp_gemm_variant v = lp_gemm_default_tiled(rt);
    if (v.lx != 1 || v.nv != 2) return v;
    int V = g->ow + ceil_div_(g->kw, g->stride_w) - 1;
    size_t qn = (size_t)(g->oh - 1) * V + g->ow;
    if (qn < 2 * (size_t)v.vw) {
        v.nv = 1;
        v.mr *= 2;
    }
    return v;
}

/* The kernel gradient's tile: the device's, whatever variant_ chose for the products.
 * Its vectors run along the filters, not the pixels, so no lanes are wasted on a plane's
 * edge; and with one vector per row (variant_'s choice for most planes) each tap's
 * broadcast fed one FMA (about a load per FMA), where two vectors feed two: Conv7's kernel
 * gradients ran ~1.5x faster (8.1-8.3 against 11.2-13.0 ms a launch, interleaved). The sums run
 * over samples and pixels in order in every lane whatever the tile: the same bits. */
static lp_gemm_variant dw_variant_(lp_runtime *rt, int filters) {
    lp_gemm_variant v = lp_gemm_default_tiled(rt);
    /* On CPUs, at most one vector of filters (resnet20's 16) takes one vector a row:
     * two would pad zt to twice the filters and spend half the FMAs on its zero columns;
     * one feeds a broadcast to one FMA, and the rows double (24 at one vector). */
    if (v.lx == 1 && v.nv == 2 && filters <= v.vw) v.nv = 1;
    return v;
}

/* Loop iterations of a tile's product per value of K, in lp_device_info.loop_limit's
 * units: on a device with such a limit (Mesa's llvmpipe) fma() is emulated with about 4,
 * and the edge loop takes NR. */
static size_t loop_per_k_(const lp_gemm_variant *v) {
    return 4 * (size_t)v->mr * v->nv + (size_t)v->vw * v->nv + 1;
}

const char *lp_conv_direct_unfit_on(lp_runtime *rt, const lp_conv_geom *g, int filters) {
    const char *why = lp_conv_direct_unfit(g, filters);
    size_t limit = lp_runtime_device(rt)->loop_limit;
    if (why || limit == 0) return why;
    lp_gemm_variant v = variant_(rt, g);
    size_t k_dx = (size_t)filters * ceil_div_(g->kh, g->stride_h) * ceil_div_(g->kw, g->stride_w);
    size_t k = lp_conv_geom_k(g) > k_dx ? lp_conv_geom_k(g) : k_dx;
    if (k * loop_per_k_(&v) > limit / 2)
        return "the direct path's products are longer than the device ends loops at (Mesa's "
               "llvmpipe)";
    return NULL;
}

static size_t packed_floats_(const lp_conv_geom *g, int filters, const lp_gemm_variant *v,
                             const layout_ *l) {
    size_t fwd = round_up_((size_t)filters, (size_t)v->mr) * lp_conv_geom_k(g);
    size_t dx = round_up_((size_t)g->cin, (size_t)v->mr) * (size_t)filters * l->ta * l->tb;
    return fwd > dx ? fwd : dx;
}

/* The phase planes of n samples, in bytes. */
static size_t phases_bytes_(const layout_ *l, int n) {
    return (size_t)n * l->nc * l->U * l->V * 4;
}

/* Taps of phase (ph, pw) along each axis: a*sh + ph < kh, b*sw + pw < kw. */
static int phase_taps_(int k, int stride, int phase) {
    return phase < k ? ceil_div_(k - phase, stride) : 0;
}

/* The tap buffers' bytes (upload_taps_): the forward taps, and each phase's
 * input-gradient taps, a buffer of at least one int each. */
static size_t taps_bytes_(const lp_conv_geom *g, int filters) {
    size_t ints = lp_conv_geom_k(g);
    for (int ph = 0; ph < g->stride_h; ++ph)
        for (int pw = 0; pw < g->stride_w; ++pw) {
            size_t n = (size_t)filters * phase_taps_(g->kh, g->stride_h, ph) *
                       phase_taps_(g->kw, g->stride_w, pw);
            ints += n ? n : 1;
        }
    return ints * sizeof(int);
}

void lp_conv_direct_held(lp_runtime *rt, const lp_conv_geom *g, int filters, int max_batch,
                         int train_batch, bool with_dx, lp_held_bytes *out) {
    lp_gemm_variant v = variant_(rt, g), dv = dw_variant_(rt, filters);
    layout_ l;
    layout_make_(g, filters, &v, &dv, &l);
    *out = (lp_held_bytes){0};
    out->own = taps_bytes_(g, filters) + packed_floats_(g, filters, &v, &l) * 4 +
               (needs_split_(g) ? phases_bytes_(&l, max_batch) : 0);
    out->borrowed[LP_WORKSPACE_DIRECT_ZT] = (uint64_t)train_batch * l.qn * l.fp * 4;
    if (with_dx)
        out->borrowed[LP_WORKSPACE_DIRECT_Z] = (uint64_t)train_batch * filters * l.zlen * 4;
}

static void release_(cl_mem *m) {
    if (*m) clReleaseMemObject(*m);
    *m = NULL;
}

void lp_conv_direct_destroy(lp_conv_direct *d) {
    if (!d) return;
    release_(&d->taps);
    if (d->taps_dx)
        for (int p = 0; p < d->g.stride_h * d->g.stride_w; ++p)
            release_(&d->taps_dx[p]);
    free(d->taps_dx);
    release_(&d->packed);
    free(d->dw_opts);
    release_(&d->xs);
    if (!d->ws) release_(&d->zt), release_(&d->z);
    free(d);
}

static lp_status upload_ints_(lp_runtime *rt, const int *v, size_t n, const char *what,
                              cl_mem *out) {
    LP_TRY(lp_buffer_create(rt, n * sizeof *v, what, out));
    return lp_buffer_write(rt, *out, 0, n * sizeof *v, v);
}

/* The tap offsets: forward (c, i, j) -> its phase plane and position in xs; the input
 * gradient of each phase, (f, a, b) -> f*zlen + lead - a*V - b into z (the window read
 * from its far end). */
static lp_status upload_taps_(lp_conv_direct *d) {
    const lp_conv_geom *g = &d->g;
    size_t K = lp_conv_geom_k(g), kdx = (size_t)d->filters * d->ta * d->tb;
    int *t = malloc((K > kdx ? K : kdx) * sizeof *t);
    d->taps_dx = calloc((size_t)g->stride_h * g->stride_w, sizeof *d->taps_dx);
    if (!t || !d->taps_dx) {
        free(t);
        return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    }
    size_t at = 0, plane = (size_t)d->U * d->V;
    for (int c = 0; c < g->cin; ++c)
        for (int i = 0; i < g->kh; ++i)
            for (int j = 0; j < g->kw; ++j) {
                int phase = (i % g->stride_h) * g->stride_w + j % g->stride_w;
                size_t pc = (size_t)phase * g->cin + c;
                t[at++] = (int)(pc * plane + (size_t)(i / g->stride_h) * d->V + j / g->stride_w);
            }
    lp_status s = upload_ints_(d->rt, t, K, "conv2d direct taps", &d->taps);
    for (int ph = 0; s == LP_OK && ph < g->stride_h; ++ph)
        for (int pw = 0; s == LP_OK && pw < g->stride_w; ++pw) {
            int ta = phase_taps_(g->kh, g->stride_h, ph), tb = phase_taps_(g->kw, g->stride_w, pw);
            at = 0;
            for (int f = 0; f < d->filters; ++f)
                for (int a = ta - 1; a >= 0; --a)
                    for (int b = tb - 1; b >= 0; --b)
                        t[at++] = f * d->zlen + d->lead - a * d->V - b;
            s = upload_ints_(d->rt, t, at, "conv2d direct taps",
                             &d->taps_dx[ph * g->stride_w + pw]);
        }
    free(t);
    return s;
}

/* Appends ",v" (or "v" first) to buf at *len; false when cap is too small. */
static bool append_int_(char *buf, size_t cap, int *len, bool first, long v) {
    int w = snprintf(buf + *len, cap - (size_t)*len, "%s%ld", first ? "" : ",", v);
    if (w < 0 || (size_t)(*len + w) >= cap) return false;
    *len += w;
    return true;
}

/* The kernel gradient's build options: its tile's (d->dv), then its taps phase by phase
 * (cl/conv_direct.cl), in passes of at most as many taps as fit the registers beside the
 * tile's vectors (about 24 accumulators), as equal as they can be. */
static lp_status dw_options_(lp_conv_direct *d) {
    const lp_conv_geom *g = &d->g;
    int sh = g->stride_h, sw = g->stride_w, taps = g->kh * g->kw, most = 24 / d->dv.nv;
    size_t plane = (size_t)d->U * d->V;
    size_t cap = strlen(d->opts) + 160 + (size_t)taps * 40;
    char *offs = malloc(cap), *idx = malloc(cap), *first = malloc(cap), *rows = malloc(cap);
    d->dw_opts = malloc(cap * 5);
    lp_status st = LP_OK;
    if (!offs || !idx || !first || !rows || !d->dw_opts) {
        st = lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
        goto done;
    }
    int lo = 0, li = 0, lf = 0, lr = 0, at = 0, passes = 0, widest = 0;
    bool ok = true;
    for (int ph = 0; ph < sh; ++ph)
        for (int pw = 0; pw < sw; ++pw) {
            /* this phase's taps, ascending offsets */
            for (int i = ph; i < g->kh; i += sh)
                for (int j = pw; j < g->kw; j += sw) {
                    size_t off = (size_t)(ph * sw + pw) * g->cin * plane + (size_t)(i / sh) * d->V +
                                 (size_t)(j / sw);
                    ok = ok && append_int_(offs, cap, &lo, at == 0, (long)off) &&
                         append_int_(idx, cap, &li, at == 0, (long)i * g->kw + j);
                    ++at;
                }
        }
    /* Passes cut across the phases: a 3x3 stride-2 window's phases hold 4, 2, 2 and 1
     * taps, and a pass per phase streamed zt four times with 1 to 4 broadcasts against
     * each of its vectors; one pass of all 9 reads zt once (same sums, same order). */
    int k = ceil_div_(at, most), per = ceil_div_(at, k);
    for (int p0 = 0; p0 < at; p0 += per) {
        int r = at - p0 < per ? at - p0 : per;
        ok = ok && append_int_(first, cap, &lf, passes == 0, p0) &&
             append_int_(rows, cap, &lr, passes == 0, r);
        ++passes;
        if (r > widest) widest = r;
    }
    if (!ok) {
        st = lp_fail(LP_ERR_UNSUPPORTED, "conv2d direct: kernel too large");
        goto done;
    }
    snprintf(d->dw_opts, cap * 5,
             "-DGEMM_VW=%d -DGEMM_MR=%d -DGEMM_NV=%d -DGEMM_LX=%d %s -DDW_TAPS=%d -DDW_ROWS=%d "
             "-DDW_PASSES=%d -DDW_OFFSETS=%s -DDW_TAPIDX=%s -DDW_PASS_FIRST=%s -DDW_PASS_ROWS=%s",
             d->dv.vw, d->dv.mr, d->dv.nv, d->dv.lx, LP_CONV_OPTIONS, taps, widest, passes, offs,
             idx, first, rows);
done:
    free(offs), free(idx), free(first), free(rows);
    return st;
}

lp_status lp_conv_direct_create(lp_runtime *rt, const lp_conv_geom *g, int filters, int max_batch,
                                bool with_dx, lp_conv_direct **out) {
    *out = NULL;
    if (filters <= 0 || max_batch <= 0)
        return lp_fail(LP_ERR_INVALID_ARG, "conv2d direct: %d filters, batch %d", filters,
                       max_batch);
    const char *why = lp_conv_direct_unfit_on(rt, g, filters);
    if (why) return lp_fail(LP_ERR_UNSUPPORTED, "conv2d direct: %s", why);
    lp_gemm_variant var = variant_(rt, g), dvar = dw_variant_(rt, filters);
    layout_ l;
    if (!layout_make_(g, filters, &var, &dvar, &l))
        return lp_fail(LP_ERR_UNSUPPORTED, "conv2d direct: planes too large");
    lp_conv_direct *d = calloc(1, sizeof *d);
    if (!d) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    d->rt = rt;
    d->g = *g;
    d->filters = filters;
    d->max_batch = max_batch;
    d->with_dx = with_dx;
    d->split = needs_split_(g);
    d->rows = lp_runtime_plane_kernels(rt);
    d->v = var;
    d->dv = dvar;
    d->U = l.U;
    d->V = l.V;
    d->ta = l.ta;
    d->tb = l.tb;
    d->nc = l.nc;
    d->qn = l.qn;
    d->lead = l.lead;
    d->zlen = (int)l.zlen;
    d->fp = l.fp;
    snprintf(d->opts, sizeof d->opts, "-DGEMM_VW=%d -DGEMM_MR=%d -DGEMM_NV=%d -DGEMM_LX=%d %s",
             var.vw, var.mr, var.nv, var.lx, LP_CONV_OPTIONS);
    lp_status s = dw_options_(d);
    if (s == LP_OK) s = upload_taps_(d);
    if (s == LP_OK)
        s = lp_buffer_create(rt, packed_floats_(g, filters, &var, &l) * 4, "conv2d direct kernel",
                             &d->packed);
    /* The phases of the largest batch now: grown by a pass, the old and the new buffer
     * would be held at once. */
    if (s == LP_OK && d->split)
        s = lp_buffer_create(rt, phases_bytes_(&l, max_batch), "conv2d direct phases", &d->xs);
    if (s != LP_OK) {
        lp_conv_direct_destroy(d);
        return s;
    }
    *out = d;
    return LP_OK;
}

static lp_status kernel_(lp_conv_direct *d, const char *name, cl_kernel *k) {
    return lp_runtime_kernel(d->rt, "conv_direct", name, d->opts, k);
}

/* Global (d0, n) of a layout kernel (a work-item per plane or row of a sample): the runtime
 * picks the work-group size. */
static lp_status launch_planes_(lp_conv_direct *d, cl_kernel k, size_t d0, int n,
                                const char *label) {
    return lp_launch_2d(d->rt, k, d0, (size_t)n, label);
}

/* xs from x for n samples (split layers). */
static lp_status split_(lp_conv_direct *d, int n, cl_mem x) {
    const lp_conv_geom *g = &d->g;
    cl_kernel k;
    LP_TRY(kernel_(d, d->rows ? "lp_conv_direct_split_rows" : "lp_conv_direct_split", &k));
    int a = 0;
    LP_ARG(k, a++, x);
    LP_ARG(k, a++, n);
    LP_ARG(k, a++, g->cin);
    LP_ARG(k, a++, g->ih);
    LP_ARG(k, a++, g->iw);
    LP_ARG(k, a++, g->stride_h);
    LP_ARG(k, a++, g->stride_w);
    LP_ARG(k, a++, g->pad_top);
    LP_ARG(k, a++, g->pad_left);
    LP_ARG(k, a++, d->U);
    LP_ARG(k, a++, d->V);
    LP_ARG(k, a++, d->xs);
    if (d->rows) { /* one work-item a group: explicit vectors, nothing across work-items */
        size_t global[2] = {(size_t)d->nc, (size_t)n}, local[2] = {1, 1};
        return lp_launch(d->rt, k, 2, global, local, "conv_direct_split");
    }
    return launch_planes_(d, k, (size_t)d->nc, n, "conv_direct_split");
}

/* The arguments of one lp_conv_direct launch (cl/conv_direct.cl). */
typedef struct {
    int M, K;
    cl_mem src;
    size_t src_sample;
    int qn, qsafe, gw;
    cl_int8 place; /* (u_lo, u_hi, v_lo, v_hi, ys, y0, xs, x0), see the kernel */
    int out_w;
    cl_mem out;
    size_t out_sample;
    int out_plane;
    cl_mem params;
    int bias_off, relu;
    const char *label;
} product_;

static lp_status product_run_(lp_conv_direct *d, int n, const product_ *p, cl_mem taps) {
    cl_kernel k;
    LP_TRY(kernel_(d, "lp_conv_direct", &k));
    /* Row tiles per work-item: on CPUs (one work-item per group) every tile, so that the
     * pixels' data is read from memory once and a work-item's fixed cost paid once; on a
     * device that ends long loops, as many as half its limit allows (conv7's 64-to-64
     * 3x3 layer, all 11 tiles in one work-item, came out wrong on llvmpipe). A tile's
     * arithmetic is the same in any work-item: the bits do not depend on it. */
    int tiles = ceil_div_(p->M, d->v.mr), mt = d->v.lx == 1 ? tiles : 1;
    size_t limit = lp_runtime_device(d->rt)->loop_limit;
    if (limit && p->K > 0) {
        size_t fit = limit / 2 / ((size_t)p->K * loop_per_k_(&d->v));
        if ((size_t)mt > fit) mt = fit > 0 ? (int)fit : 1;
    }
    cl_ulong a_stride = (cl_ulong)p->K * (cl_ulong)d->v.mr, src_sample = p->src_sample,
             out_sample = p->out_sample;
    int a = 0;
    LP_ARG(k, a++, p->M);
    LP_ARG(k, a++, p->K);
    LP_ARG(k, a++, mt);
    LP_ARG(k, a++, d->packed);
    LP_ARG(k, a++, a_stride);
    LP_ARG(k, a++, taps);
    LP_ARG(k, a++, p->src);
    LP_ARG(k, a++, src_sample);
    LP_ARG(k, a++, p->qn);
    LP_ARG(k, a++, p->qsafe);
    LP_ARG(k, a++, p->gw);
    LP_ARG(k, a++, p->place);
    LP_ARG(k, a++, p->out_w);
    LP_ARG(k, a++, p->out);
    LP_ARG(k, a++, out_sample);
    LP_ARG(k, a++, p->out_plane);
    LP_ARG(k, a++, p->params);
    LP_ARG(k, a++, p->bias_off);
    LP_ARG(k, a++, p->relu);
    size_t nr = (size_t)d->v.vw * (size_t)d->v.nv;
    size_t first = (size_t)p->place.s[0] * (size_t)p->gw; /* tiles start at row u_lo */
    size_t global[3] = {(size_t)ceil_div_(tiles, mt), ((size_t)p->qn - first + nr - 1) / nr,
                        (size_t)n};
    size_t local[3] = {(size_t)d->v.lx, 1, 1};
    return lp_launch(d->rt, k, 3, global, local, p->label);
}

static lp_status check_batch_(const lp_conv_direct *d, int n) {
    if (n < 0 || n > d->max_batch)
        return lp_fail(LP_ERR_INVALID_ARG, "conv2d direct: batch %d, at most %d", n, d->max_batch);
    return LP_OK;
}

lp_status lp_conv_direct_forward(lp_conv_direct *d, int n, cl_mem x, cl_mem params, size_t w_off,
                                 int b_off, bool relu, cl_mem y) {
    LP_TRY(check_batch_(d, n));
    d->xs_n = 0;
    if (n == 0) return LP_OK;
    const lp_conv_geom *g = &d->g;
    cl_int K = (cl_int)lp_conv_geom_k(g), F = d->filters;
    cl_kernel k;
    LP_TRY(kernel_(d, "lp_conv_direct_pack", &k));
    cl_ulong off = w_off;
    LP_ARG(k, 0, F);
    LP_ARG(k, 1, K);
    LP_ARG(k, 2, params);
    LP_ARG(k, 3, off);
    LP_ARG(k, 4, d->packed);
    size_t global[2] = {round_up_((size_t)F, (size_t)d->v.mr), (size_t)K};
    LP_TRY(lp_launch(d->rt, k, 2, global, NULL, "conv_direct_pack"));
    if (d->split) {
        LP_TRY(split_(d, n, x));
        d->xs_n = n;
    }
    /* Every tap of a valid pixel stays inside its phase plane, so reads up to qn are safe
     * in the last plane of a sample too. */
    product_ p = {.M = F,
                  .K = K,
                  .src = d->split ? d->xs : x,
                  .src_sample = (size_t)d->nc * d->U * d->V,
                  .qn = d->qn,
                  .qsafe = d->qn,
                  .gw = d->V,
                  .place = {{0, g->oh, 0, g->ow, 1, 0, 1, 0}},
                  .out_w = g->ow,
                  .out = y,
                  .out_sample = (size_t)F * g->oh * g->ow,
                  .out_plane = g->oh * g->ow,
                  .params = params,
                  .bias_off = b_off,
                  .relu = relu,
                  .label = "conv_direct_forward"};
    return product_run_(d, n, &p, d->taps);
}

void lp_conv_direct_share_backward(lp_conv_direct *d, lp_workspace *ws) {
    if (!d->ws) release_(&d->zt), release_(&d->z);
    d->back_cap = 0;
    d->ws = ws;
}

/* The backward buffers for n samples (grad_z_ writes every float of them). */
static lp_status grow_backward_(lp_conv_direct *d, int n) {
    size_t zt_bytes = (size_t)n * d->qn * d->fp * 4, z_bytes = (size_t)n * d->filters * d->zlen * 4;
    const char *zt_what = lp_workspace_slot_name(LP_WORKSPACE_DIRECT_ZT),
               *z_what = lp_workspace_slot_name(LP_WORKSPACE_DIRECT_Z);
    if (d->ws) {
        LP_TRY(lp_workspace_get(d->ws, LP_WORKSPACE_DIRECT_ZT, zt_bytes, &d->zt));
        if (d->with_dx) LP_TRY(lp_workspace_get(d->ws, LP_WORKSPACE_DIRECT_Z, z_bytes, &d->z));
        return LP_OK;
    }
    if (n <= d->back_cap) return LP_OK;
    /* All new buffers before the old ones go (see split_ on Oclgrind). */
    cl_mem zt = NULL, z = NULL;
    lp_status s = lp_buffer_create(d->rt, zt_bytes, zt_what, &zt);
    if (s == LP_OK && d->with_dx) s = lp_buffer_create(d->rt, z_bytes, z_what, &z);
    if (s != LP_OK) {
        release_(&zt), release_(&z);
        return s;
    }
    release_(&d->zt), release_(&d->z);
    d->zt = zt, d->z = z;
    d->back_cap = n;
    return LP_OK;
}

static lp_status grad_z_(lp_conv_direct *d, int n, cl_mem dy, cl_mem y, bool relu, bool with_z) {
    cl_kernel k;
    LP_TRY(kernel_(d, "lp_conv_direct_grad_z", &k));
    const lp_conv_geom *g = &d->g;
    cl_int relu_i = relu, with_z_i = with_z;
    cl_mem z = with_z ? d->z : d->zt; /* any valid buffer when unused */
    int a = 0;
    LP_ARG(k, a++, dy);
    LP_ARG(k, a++, y);
    LP_ARG(k, a++, relu_i);
    LP_ARG(k, a++, n);
    LP_ARG(k, a++, d->filters);
    LP_ARG(k, a++, g->oh);
    LP_ARG(k, a++, g->ow);
    LP_ARG(k, a++, d->V);
    LP_ARG(k, a++, d->qn);
    LP_ARG(k, a++, d->fp);
    LP_ARG(k, a++, d->zt);
    LP_ARG(k, a++, with_z_i);
    LP_ARG(k, a++, d->lead);
    LP_ARG(k, a++, d->zlen);
    LP_ARG(k, a++, z);
    return launch_planes_(d, k, (size_t)d->fp, n, "conv_direct_grad_z");
}

/* Bytes of the kernel gradient's operands (zt and the planes) one launch takes on CPUs:
 * each of its work-items (a channel's taps against a block of filters) streams all of
 * them, so a range of samples that stays in the core's cache is read from memory once
 * instead of once per channel. On 2 cores of an Intel Xeon (AVX-512, 2 MiB of L2 a core,
 * PoCL) conv4's kernel gradients ran in 41-61 ms a step at 0.5-2 MiB against 117-124 ms
 * in one launch over the batch, interleaved. */
#define DW_RANGE_BYTES_ (1L << 20)

/* How many of the kernel gradient's (sample, pixel) terms one launch may take: on CPUs
 * (the tile's CPU form) whole samples, as many as DW_RANGE_BYTES_ holds (at least one);
 * on a device that ends long loops (lp_device_info.loop_limit: Mesa's llvmpipe, which
 * also emulates fma() with loops) half its limit, at 4 per FMA of a term (taps x the
 * tile's vectors) and 2 per pass (24 28x28 images in one launch, 18,816 terms, came out
 * wrong there: cltest_conv_direct); elsewhere all. The launches carry their sums in
 * grads, so the bits are those of one launch, except in portable mode, whose stores
 * flush subnormals (LP_FTZ): it cuts only where the device makes it. */
static long dw_terms_per_launch_(const lp_conv_direct *d) {
    long limit = (long)lp_runtime_device(d->rt)->loop_limit, most = LONG_MAX;
    if (d->dv.lx == 1 && lp_runtime_bits(d->rt) != LP_BITS_PORTABLE) {
        long per_sample = ((long)d->qn * d->fp + (long)d->nc * d->U * d->V) * 4;
        long samples = DW_RANGE_BYTES_ / per_sample;
        most = (samples > 0 ? samples : 1) * d->qn;
    }
    if (limit == 0) return most;
    long passes = d->g.kh * d->g.kw; /* at most one pass a tap */
    long per_term = 4L * d->g.kh * d->g.kw * d->dv.nv + 2 * passes;
    long fit = limit / 2 / per_term > 0 ? limit / 2 / per_term : 1;
    return fit < most ? fit : most;
}

static lp_status grad_w_(lp_conv_direct *d, int n, cl_mem xs, cl_mem grads, size_t gw_off) {
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(d->rt, "conv_direct", "lp_conv_direct_dw", d->dw_opts, &k));
    const lp_conv_geom *g = &d->g;
    long terms = (long)n * d->qn, step = dw_terms_per_launch_(d);
    if (terms > INT_MAX)
        return lp_fail(LP_ERR_UNSUPPORTED,
                       "conv2d direct: %d samples of %d pixels exceed the kernel gradient's int "
                       "index",
                       n, d->qn);
    cl_int plane = d->U * d->V;
    cl_ulong xs_sample = (cl_ulong)d->nc * (cl_ulong)plane, off = gw_off;
    size_t nr = (size_t)d->dv.vw * (size_t)d->dv.nv;
    size_t global[2] = {(size_t)g->cin, (size_t)d->fp / nr};
    size_t local[2] = {(size_t)d->dv.lx, 1};
    for (long e = 0; e < terms || e == 0; e += step) {
        cl_int e0 = (cl_int)e, e1 = (cl_int)(terms - e < step ? terms : e + step), carry = e > 0;
        int a = 0;
        LP_ARG(k, a++, d->filters);
        LP_ARG(k, a++, g->cin);
        LP_ARG(k, a++, e0);
        LP_ARG(k, a++, e1);
        LP_ARG(k, a++, carry);
        LP_ARG(k, a++, xs);
        LP_ARG(k, a++, xs_sample);
        LP_ARG(k, a++, plane);
        LP_ARG(k, a++, d->zt);
        LP_ARG(k, a++, d->fp);
        LP_ARG(k, a++, d->qn);
        LP_ARG(k, a++, grads);
        LP_ARG(k, a++, off);
        LP_TRY(lp_launch(d->rt, k, 2, global, local, "conv_direct_dw"));
    }
    return LP_OK;
}

/* The first u >= 0 with u*stride + y0 >= lo. */
static int first_from_(int lo, int y0, int stride) {
    return lo - y0 <= 0 ? 0 : ceil_div_(lo - y0, stride);
}

/* dx from z: one product per phase, each storing the pixels of dx its phase holds. Pixels
 * no window reaches (rows or columns past the last one a valid layer reads) are zeroed. */
static lp_status grad_x_(lp_conv_direct *d, int n, cl_mem params, size_t w_off, cl_mem dx) {
    const lp_conv_geom *g = &d->g;
    int sh = g->stride_h, sw = g->stride_w;
    size_t dx_sample = (size_t)g->cin * g->ih * g->iw;
    if (d->U * sh - g->pad_top < g->ih || d->V * sw - g->pad_left < g->iw)
        LP_TRY(lp_buffer_fill_zero(d->rt, dx, 0, (size_t)n * dx_sample * 4));
    cl_kernel k;
    LP_TRY(kernel_(d, "lp_conv_direct_pack_dx", &k));
    cl_ulong off = w_off;
    for (int ph = 0; ph < sh; ++ph)
        for (int pw = 0; pw < sw; ++pw) {
            /* Phase pixel (u, v) is dx pixel (u*sh + ph - pt, v*sw + pw - pl): only rows
             * [u_lo, u_hi) are computed, whole (z has room for whole tiles past its end). */
            int y0 = ph - g->pad_top, x0 = pw - g->pad_left;
            int u_lo = first_from_(0, y0, sh), u_hi = first_from_(g->ih, y0, sh);
            int v_lo = first_from_(0, x0, sw), v_hi = first_from_(g->iw, x0, sw);
            if (u_hi > d->U) u_hi = d->U;
            if (v_hi > d->V) v_hi = d->V;
            if (u_lo >= u_hi || v_lo >= v_hi) continue; /* no pixel of dx in this phase */
            int ta = phase_taps_(g->kh, sh, ph), tb = phase_taps_(g->kw, sw, pw);
            int K = d->filters * ta * tb, a = 0;
            LP_ARG(k, a++, g->cin);
            LP_ARG(k, a++, d->filters);
            LP_ARG(k, a++, g->kh);
            LP_ARG(k, a++, g->kw);
            LP_ARG(k, a++, sh);
            LP_ARG(k, a++, sw);
            LP_ARG(k, a++, ph);
            LP_ARG(k, a++, pw);
            LP_ARG(k, a++, ta);
            LP_ARG(k, a++, tb);
            LP_ARG(k, a++, params);
            LP_ARG(k, a++, off);
            LP_ARG(k, a++, d->packed);
            size_t global[2] = {round_up_((size_t)g->cin, (size_t)d->v.mr), (size_t)K};
            LP_TRY(lp_launch(d->rt, k, 2, global, NULL, "conv_direct_pack"));
            product_ p = {.M = g->cin,
                          .K = K,
                          .src = d->z,
                          .src_sample = (size_t)d->filters * d->zlen,
                          .qn = u_hi * d->V,
                          .qsafe = d->zlen - d->lead,
                          .gw = d->V,
                          .place = {{u_lo, u_hi, v_lo, v_hi, sh, y0, sw, x0}},
                          .out_w = g->iw,
                          .out = dx,
                          .out_sample = dx_sample,
                          .out_plane = g->ih * g->iw,
                          .params = params,
                          .bias_off = -1,
                          .relu = 0,
                          .label = "conv_direct_dx"};
            LP_TRY(product_run_(d, n, &p, d->taps_dx[ph * sw + pw]));
        }
    return LP_OK;
}

lp_status lp_conv_direct_backward(lp_conv_direct *d, int n, cl_mem x, cl_mem y, cl_mem dy,
                                  bool relu, cl_mem params, size_t w_off, cl_mem grads,
                                  size_t gw_off, cl_mem dx) {
    LP_TRY(check_batch_(d, n));
    if (dx && !d->with_dx)
        return lp_fail(LP_ERR_INVALID_ARG, "conv2d direct: made without the input gradient");
    if (n == 0) return LP_OK;
    LP_TRY(grow_backward_(d, n));
    if (d->split && d->xs_n != n) LP_TRY(split_(d, n, x));
    LP_TRY(grad_z_(d, n, dy, y, relu, dx != NULL));
    LP_TRY(grad_w_(d, n, d->split ? d->xs : x, grads, gw_off));
    return dx ? grad_x_(d, n, params, w_off, dx) : LP_OK;
}
