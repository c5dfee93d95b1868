/* The Winograd [conv2d] path (laperm/conv_winograd.h): buffers, chunks and launches of
 * cl/conv_winograd.cl, the products of all transform points in one launch per pass. */
#include "laperm/conv_winograd.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/gemm.h"
#include "laperm/runtime.h"

struct lp_conv_winograd {
    lp_runtime *rt;
    lp_conv_geom g;
    int F, m, a, P; /* filters; tile m, side a = m + 2, points P = a^2 */
    int chunk;      /* samples a forward and kernel-gradient pass takes at once */
    int dx_chunk;   /* the input gradient's (dx_chunk_) */
    bool with_dx;
    bool rows; /* the by-rows transforms where they fit (lp_runtime_plane_kernels, by_rows_) */
    int vw, mr, nv, dm, dn, lx; /* register tiles of the products (tile_of_) */
    char opts[128];
    int th, tw;   /* output tiles per plane (forward, kernel gradient) */
    int dth, dtw; /* input-gradient tiles per plane */
    cl_mem u;     /* the kernel transformed, packed (lp_wg_filter_packed): forward, dx */
    cl_mem v;     /* x's tiles (P, C, chunk tiles) */
    cl_mem mo;    /* forward products (P, F, chunk tiles); backward dy's tiles */
    cl_mem mw;    /* kernel gradient's products (P, F, C) */
    cl_mem vd;    /* dx: dy's tiles over dx's plane (P, F, dx_chunk dx tiles), padding zeroed */
    cl_mem md;    /* dx: their products (P, C, dx_chunk dx tiles) */
    int v_n;      /* > 0: v holds the last forward's whole batch of this many */
    /* mo, mw, md and vd are written before they are read in every pass (vd's padding tiles
     * too, zero_padding_): with ws set (lp_conv_winograd_share_scratch) they are borrowed
     * from it at each pass (scratch_). */
    lp_workspace *ws;
    size_t mo_bytes, mw_bytes, md_bytes, vd_bytes;
};

static int ceil_div_(int a, int b) {
    return (a + b - 1) / b;
}

/* Floats between two transform points' planes past their R x T floats: the points' planes
 * in different cache sets (cl/conv_winograd.cl's POINT_STRIDE_, which gets it as WG_SKEW). */
#define WG_SKEW_ 16

/* Floats of each buffer for chunk samples (0: not needed), the tiles of a chunk padded
 * to a multiple of nr and the kernel's rows to one of mr (the products' register tile). */
typedef struct {
    size_t u, v, mo, mw, vd, md;
} sizes_;

static size_t round_up_(size_t a, size_t b) {
    return (a + b - 1) / b * b;
}

static sizes_ sizes_of_(const lp_conv_geom *g, int F, int m, bool with_dx, size_t chunk, size_t nr,
                        size_t mr) {
    size_t a = (size_t)m + 2, P = a * a, C = (size_t)g->cin;
    size_t t = round_up_((size_t)ceil_div_(g->oh, m) * (size_t)ceil_div_(g->ow, m) * chunk, nr);
    size_t td = round_up_((size_t)ceil_div_(g->ih, m) * (size_t)ceil_div_(g->iw, m) * chunk, nr);
    size_t most = (size_t)F > C ? (size_t)F : C;
    size_t k = WG_SKEW_;
    sizes_ s = {.u = P * round_up_(most, mr) * most,
                .v = P * (C * t + k),
                .mo = P * (F * t + k),
                .mw = P * F * C};
    if (with_dx) s.vd = P * (F * td + k), s.md = P * (C * td + k);
    return s;
}

/* The most a device's tile pads (tile_of_, for the byte estimate): nr 32 tiles, mr 8 rows. */
enum { MOST_NR_ = 32, MOST_MR_ = 8 };

const char *lp_conv_winograd_unfit(const lp_conv_geom *g, int filters) {
    if (g->kh != 3 || g->kw != 3 || g->stride_h != 1 || g->stride_w != 1)
        return "the Winograd path needs a 3x3 kernel at stride 1";
    if (g->pad_top > 2 || g->pad_left > 2 || g->pad_top < 0 || g->pad_left < 0)
        return "the Winograd path takes padding of at most 2";
    /* One sample's buffers, with the smaller tile (more tiles), must fit int indices. */
    sizes_ s = sizes_of_(g, filters, 2, true, 1, MOST_NR_, MOST_MR_);
    size_t most = s.u;
    size_t all[] = {
        s.v, s.mo, s.vd, s.md, (size_t)g->cin * g->ih * g->iw, (size_t)filters * g->oh * g->ow};
    for (size_t i = 0; i < sizeof all / sizeof *all; ++i)
        if (all[i] > most) most = all[i];
    return most < (size_t)INT_MAX / 64 ? NULL : "planes too large for the Winograd path";
}

int lp_conv_winograd_tile(void) {
    const char *env = getenv("LAPERM_WINOGRAD_TILE");
    return env && strcmp(env, "2") == 0 ? 2 : 4;
}

lp_status lp_conv_winograd_tile_check(void) {
    const char *env = getenv("LAPERM_WINOGRAD_TILE");
    if (!env || !*env || strcmp(env, "2") == 0 || strcmp(env, "4") == 0) return LP_OK;
    return lp_fail(LP_ERR_INVALID_ARG,
                   "LAPERM_WINOGRAD_TILE=%s: expected 2 (F(2x2,3x3)) or 4 (F(4x4,3x3), the "
                   "default)",
                   env);
}

void lp_conv_winograd_bytes(const lp_conv_geom *g, int filters, int m, bool with_dx, size_t *fixed,
                            size_t *per_sample) {
    /* Per sample without padding; the padding of one chunk (at most MOST_NR_ tiles of
     * each buffer) counted in the fixed bytes. */
    sizes_ s = sizes_of_(g, filters, m, with_dx, 1, 1, MOST_MR_);
    size_t P = (size_t)(m + 2) * (m + 2), pad = P * ((size_t)g->cin + filters) * MOST_NR_;
    *fixed = (s.u + s.mw + (with_dx ? 2 : 1) * pad) * 4;
    *per_sample = (s.v + s.mo + s.vd + s.md) * 4;
}

static void release_(cl_mem *m) {
    if (*m) clReleaseMemObject(*m);
    *m = NULL;
}

void lp_conv_winograd_destroy(lp_conv_winograd *w) {
    if (!w) return;
    release_(&w->u), release_(&w->v);
    if (!w->ws) release_(&w->mo), release_(&w->mw), release_(&w->md), release_(&w->vd);
    free(w);
}

void lp_conv_winograd_share_scratch(lp_conv_winograd *w, lp_workspace *ws) {
    if (!w->ws) release_(&w->mo), release_(&w->mw), release_(&w->md), release_(&w->vd);
    w->ws = ws;
}

static lp_status products_buffer_(lp_conv_winograd *w, lp_workspace_slot slot, size_t bytes,
                                  cl_mem *m) {
    if (w->ws) return lp_workspace_get(w->ws, slot, bytes, m);
    return *m ? LP_OK : lp_buffer_create(w->rt, bytes, lp_workspace_slot_name(slot), m);
}

/* The products' buffers of a pass: borrowed from the workspace when shared, else the
 * path's own, made on first use. */
static lp_status scratch_(lp_conv_winograd *w, bool backward) {
    LP_TRY(products_buffer_(w, LP_WORKSPACE_WINOGRAD_PRODUCTS, w->mo_bytes, &w->mo));
    if (!backward) return LP_OK;
    LP_TRY(products_buffer_(w, LP_WORKSPACE_WINOGRAD_DW_PRODUCTS, w->mw_bytes, &w->mw));
    if (!w->with_dx) return LP_OK;
    LP_TRY(products_buffer_(w, LP_WORKSPACE_WINOGRAD_DX_TILES, w->vd_bytes, &w->vd));
    return products_buffer_(w, LP_WORKSPACE_WINOGRAD_DX_PRODUCTS, w->md_bytes, &w->md);
}

/* On CPUs the input gradient goes through in chunks of about LP_CONV_WINOGRAD_CPU_TILES
 * tiles (whole samples), whatever the layer's chunk: its tile buffers then stay in the caches
 * between the transform, the products and the inverse transform, and the workspace holds a chunk's
 * instead of a batch's. Each sample's input gradient is its own sum, so the bits do not depend on
 * the chunks (the kernel gradient's, summed over the batch, do: it keeps the layer's chunk). */
static int dx_chunk_(lp_runtime *rt, const lp_conv_geom *g, int m, int chunk) {
    if ((lp_runtime_device(rt)->type & CL_DEVICE_TYPE_CPU) == 0) return chunk;
    int per_sample = ceil_div_(g->ih, m) * ceil_div_(g->iw, m);
    int most = ceil_div_(LP_CONV_WINOGRAD_CPU_TILES, per_sample);
    return most < chunk ? most : chunk;
}

/* The products' register tiles: the device's default tiled GEMM variant
 * (lp_gemm_default_tiled: on CPUs that want explicit vectors the preferred float width,
 * one work-item per work-group; elsewhere small tiles in larger work-groups), whose
 * kernels share cl/tile.cl with these. The channel sums run in one order whatever the
 * tile; the kernel gradient's lanes (vw) set its order, fixed per device. */
static void tile_of_(lp_runtime *rt, lp_conv_winograd *w) {
    lp_gemm_variant v = lp_gemm_default_tiled(rt);
    w->vw = v.vw, w->mr = v.mr, w->nv = v.nv, w->dm = v.dm, w->dn = v.dn, w->lx = v.lx;
}

/* The floats of each buffer an object made with these arguments holds on rt's device,
 * with *tile its register tile and *dx_chunk the input gradient's chunk. */
static sizes_ sizes_on_(lp_runtime *rt, const lp_conv_geom *g, int filters, int m, int chunk,
                        bool with_dx, lp_conv_winograd *tile, int *dx_chunk) {
    tile_of_(rt, tile);
    size_t nr = (size_t)tile->vw * tile->nv, mr = (size_t)tile->mr;
    sizes_ s = sizes_of_(g, filters, m, with_dx, (size_t)chunk, nr, mr);
    *dx_chunk = dx_chunk_(rt, g, m, chunk);
    sizes_ sd = sizes_of_(g, filters, m, with_dx, (size_t)*dx_chunk, nr, mr);
    s.vd = sd.vd, s.md = sd.md;
    return s;
}

void lp_conv_winograd_held(lp_runtime *rt, const lp_conv_geom *g, int filters, int m, int chunk,
                           bool with_dx, lp_held_bytes *out) {
    lp_conv_winograd tile = {0};
    int dx_chunk;
    sizes_ s = sizes_on_(rt, g, filters, m, chunk, with_dx, &tile, &dx_chunk);
    *out = (lp_held_bytes){.own = (s.u + s.v) * 4};
    out->borrowed[LP_WORKSPACE_WINOGRAD_PRODUCTS] = s.mo * 4;
    out->borrowed[LP_WORKSPACE_WINOGRAD_DW_PRODUCTS] = s.mw * 4;
    out->borrowed[LP_WORKSPACE_WINOGRAD_DX_TILES] = s.vd * 4;
    out->borrowed[LP_WORKSPACE_WINOGRAD_DX_PRODUCTS] = s.md * 4;
}

lp_status lp_conv_winograd_create(lp_runtime *rt, const lp_conv_geom *g, int filters, int m,
                                  int chunk, bool with_dx, lp_conv_winograd **out) {
    *out = NULL;
    const char *why = lp_conv_winograd_unfit(g, filters);
    if (why) return lp_fail(LP_ERR_UNSUPPORTED, "conv2d winograd: %s", why);
    if ((m != 2 && m != 4) || filters <= 0 || chunk <= 0)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "conv2d winograd: tile %d (2 or 4), %d filters, chunk %d", m, filters,
                       chunk);
    lp_conv_winograd tile = {0};
    int dx_chunk;
    sizes_ s = sizes_on_(rt, g, filters, m, chunk, with_dx, &tile, &dx_chunk);
    if (s.v > INT_MAX || s.mo > INT_MAX || s.vd > INT_MAX || s.md > INT_MAX)
        return lp_fail(LP_ERR_UNSUPPORTED, "conv2d winograd: a chunk of %d samples is too large",
                       chunk);
    lp_conv_winograd *w = malloc(sizeof *w);
    if (!w) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    *w = tile;
    w->rt = rt;
    w->g = *g;
    w->F = filters;
    w->m = m;
    w->a = m + 2;
    w->P = w->a * w->a;
    w->chunk = chunk;
    w->dx_chunk = dx_chunk;
    w->with_dx = with_dx;
    w->rows = lp_runtime_plane_kernels(rt);
    w->mo_bytes = s.mo * 4, w->mw_bytes = s.mw * 4, w->md_bytes = s.md * 4;
    w->vd_bytes = s.vd * 4;
    snprintf(
        w->opts, sizeof w->opts,
        "-DWG_M=%d -DGEMM_VW=%d -DGEMM_MR=%d -DGEMM_NV=%d -DGEMM_DM=%d -DGEMM_DN=%d " LP_CL_DEFINE(
            WG_SKEW, WG_SKEW_),
        m, w->vw, w->mr, w->nv, w->dm, w->dn);
    w->th = ceil_div_(g->oh, m), w->tw = ceil_div_(g->ow, m);
    w->dth = ceil_div_(g->ih, m), w->dtw = ceil_div_(g->iw, m);
    lp_status st = lp_buffer_create(rt, s.u * 4, "conv2d winograd kernel", &w->u);
    if (st == LP_OK) st = lp_buffer_create(rt, s.v * 4, "conv2d winograd input tiles", &w->v);
    /* The padding tiles (past a chunk's, up to the products' tile) are never written by
     * the transforms: zeros to begin with, then whatever an earlier chunk left, finite
     * values whose products are never read. */
    if (st == LP_OK) st = lp_buffer_fill_zero(rt, w->v, 0, s.v * 4);
    if (st != LP_OK) {
        lp_conv_winograd_destroy(w);
        return st;
    }
    *out = w;
    return LP_OK;
}

static lp_status kernel_(lp_conv_winograd *w, const char *name, cl_kernel *k) {
    return lp_runtime_kernel(w->rt, "conv_winograd", name, w->opts, k);
}

/* Whether the input and output transforms over planes of tw tiles a row take their by-rows
 * forms, lp_wg_input_rows and lp_wg_output_rows (runs of 4 tiles within a row, 8 tiles a
 * work-item). */
static bool by_rows_(const lp_conv_winograd *w, int tw) {
    return w->rows && tw % 4 == 0;
}

/* A transform over the tiles th x tw of d1 planes of d2 samples. Per tile: the tiles of
 * all d2 samples along dimension 0 (the kernels return past them), in work-groups of 16,
 * so that on CPUs that vectorize across work-items consecutive tiles make vector stores
 * however small the plane; by rows (by_rows_), global (the plane's items of 8 tiles, d1,
 * d2). */
static lp_status launch_(lp_conv_winograd *w, cl_kernel k, int th, int tw, size_t d1, size_t d2,
                         bool rows, const char *label) {
    size_t d0 = (size_t)th * tw * d2, group = 16;
    if (rows)
        d0 = group = ((size_t)th * tw + 7) / 8;
    else
        d2 = 1;
    size_t most = lp_runtime_device(w->rt)->max_work_group_size;
    if (most && group > most) group = most;
    size_t global[3] = {(d0 + group - 1) / group * group, d1, d2}, local[3] = {group, 1, 1};
    return lp_launch(w->rt, k, 3, global, local, label);
}

/* The kernel's transform into w->u, packed for lp_wg_products: rows F (forward), or
 * flipped rows C. */
static lp_status filter_(lp_conv_winograd *w, cl_mem params, size_t w_off, int flip) {
    cl_kernel k;
    LP_TRY(kernel_(w, "lp_wg_filter_packed", &k));
    cl_ulong off = w_off;
    LP_ARG(k, 0, params);
    LP_ARG(k, 1, off);
    LP_ARG(k, 2, w->F);
    LP_ARG(k, 3, w->g.cin);
    LP_ARG(k, 4, flip);
    LP_ARG(k, 5, w->u);
    size_t R = (size_t)(flip ? w->g.cin : w->F), Q = (size_t)(flip ? w->F : w->g.cin);
    size_t global[3] = {(size_t)w->mr, Q, (size_t)ceil_div_((int)R, w->mr)};
    return lp_launch(w->rt, k, 3, global, NULL, "conv_winograd_filter");
}

/* Tiles of a chunk of cn samples, th x tw a plane, padded to the products' tile. */
static int padded_(const lp_conv_winograd *w, int th, int tw, int cn) {
    return (int)round_up_((size_t)th * tw * cn, (size_t)w->vw * w->nv);
}

/* Tiles of planes (C, H, W) of samples s0..s0+cn-1 of src into dst (P, C, T), T padded. */
static lp_status input_(lp_conv_winograd *w, cl_mem src, int C, int H, int W, int pt, int pl,
                        int th, int tw, int s0, int cn, cl_mem dst) {
    cl_kernel k;
    bool rows = by_rows_(w, tw);
    LP_TRY(kernel_(w, rows ? "lp_wg_input_rows" : "lp_wg_input", &k));
    cl_int T = padded_(w, th, tw, cn), tiles = th * tw * cn;
    int a = 0;
    LP_ARG(k, a++, src);
    LP_ARG(k, a++, C);
    LP_ARG(k, a++, H);
    LP_ARG(k, a++, W);
    LP_ARG(k, a++, pt);
    LP_ARG(k, a++, pl);
    LP_ARG(k, a++, th);
    LP_ARG(k, a++, tw);
    LP_ARG(k, a++, T);
    LP_ARG(k, a++, s0);
    if (!rows) LP_ARG(k, a++, tiles);
    LP_ARG(k, a++, dst);
    return launch_(w, k, th, tw, (size_t)C, (size_t)cn, rows, "conv_winograd_input");
}

/* Zeros in the padding tiles [tiles, T) of every row of dst (P, R, T), which the products
 * read: a buffer borrowed from the workspace holds whatever its last user left there. */
static lp_status zero_padding_(lp_conv_winograd *w, int R, int T, int tiles, cl_mem dst) {
    if (T == tiles) return LP_OK;
    cl_kernel k;
    LP_TRY(kernel_(w, "lp_wg_zero_padding", &k));
    LP_ARG(k, 0, R);
    LP_ARG(k, 1, T);
    LP_ARG(k, 2, tiles);
    LP_ARG(k, 3, dst);
    size_t global[3] = {(size_t)(T - tiles), (size_t)R, (size_t)w->P};
    return lp_launch(w->rt, k, 3, global, NULL, "conv_winograd_zero_padding");
}

/* Values of a sum one launch may take on a device that ends long loops
 * (lp_device_info.loop_limit; 0: no limit): half the limit, at `per` iterations each. */
static int slice_(const lp_conv_winograd *w, int total, int per) {
    size_t limit = lp_runtime_device(w->rt)->loop_limit;
    if (limit == 0) return total > 0 ? total : 1;
    int most = (int)(limit / 2 / (size_t)per);
    return most < 1 ? 1 : most;
}

/* dst (P, R, T) = u (P, R, Q) . src (P, Q, T) for every point in one launch (T padded),
 * Q in slices (in order, each adding to the last) only where the device ends long loops. */
static lp_status products_(lp_conv_winograd *w, int R, int Q, int T, cl_mem src, cl_mem dst,
                           const char *label) {
    cl_kernel k;
    LP_TRY(kernel_(w, "lp_wg_products", &k));
    int step = slice_(w, Q, 4 * w->mr * w->nv + w->nv + 1);
    size_t nr = (size_t)w->vw * w->nv, lx = (size_t)w->lx;
    size_t global[3] = {round_up_((size_t)T / nr, lx), (size_t)ceil_div_(R, w->mr), (size_t)w->P};
    size_t local[3] = {lx, 1, 1};
    for (int q0 = 0; q0 < Q; q0 += step) {
        cl_int q1 = q0 + step < Q ? q0 + step : Q, add = q0 > 0;
        int a = 0;
        LP_ARG(k, a++, R);
        LP_ARG(k, a++, Q);
        LP_ARG(k, a++, T);
        LP_ARG(k, a++, q0);
        LP_ARG(k, a++, q1);
        LP_ARG(k, a++, add);
        LP_ARG(k, a++, w->u);
        LP_ARG(k, a++, src);
        LP_ARG(k, a++, dst);
        LP_TRY(lp_launch(w->rt, k, 3, global, local, label));
    }
    return LP_OK;
}

/* mw (P, F, C) = (add ? mw : 0) + e (P, F, T) . v (P, C, T)^T over the chunk's n tiles
 * (T padded), in slices only where the device ends long loops. */
static lp_status dw_products_(lp_conv_winograd *w, int n, int T, bool add) {
    cl_kernel k;
    LP_TRY(kernel_(w, "lp_wg_dw_products", &k));
    int per = 4 * w->dm * w->dn + w->dm + w->dn + 1;
    int step = slice_(w, n, per + w->dm * w->dn * w->vw) * w->vw;
    size_t lx = (size_t)w->lx;
    size_t global[3] = {round_up_((size_t)ceil_div_(w->F, w->dm), lx),
                        (size_t)ceil_div_(w->g.cin, w->dn), (size_t)w->P};
    size_t local[3] = {lx, 1, 1};
    for (int t0 = 0; t0 < n; t0 += step) {
        cl_int t1 = t0 + step < n ? t0 + step : n, add_i = add || t0 > 0;
        int a = 0;
        LP_ARG(k, a++, w->F);
        LP_ARG(k, a++, w->g.cin);
        LP_ARG(k, a++, T);
        LP_ARG(k, a++, t0);
        LP_ARG(k, a++, t1);
        LP_ARG(k, a++, add_i);
        LP_ARG(k, a++, w->mo);
        LP_ARG(k, a++, w->v);
        LP_ARG(k, a++, w->mw);
        LP_TRY(lp_launch(w->rt, k, 3, global, local, "conv_winograd_dw_products"));
    }
    return LP_OK;
}

/* Planes (R, OH, OW) of samples s0.. of y from the products src (P, R, T). */
static lp_status output_(lp_conv_winograd *w, cl_mem src, int R, int th, int tw, int OH, int OW,
                         int s0, int cn, cl_mem params, int b_off, bool relu, cl_mem y) {
    cl_kernel k;
    bool rows = by_rows_(w, tw);
    LP_TRY(kernel_(w, rows ? "lp_wg_output_rows" : "lp_wg_output", &k));
    cl_int T = padded_(w, th, tw, cn), relu_i = relu, tiles = th * tw * cn;
    int a = 0;
    LP_ARG(k, a++, src);
    LP_ARG(k, a++, R);
    LP_ARG(k, a++, T);
    LP_ARG(k, a++, th);
    LP_ARG(k, a++, tw);
    LP_ARG(k, a++, OH);
    LP_ARG(k, a++, OW);
    LP_ARG(k, a++, s0);
    if (!rows) LP_ARG(k, a++, tiles);
    LP_ARG(k, a++, params);
    LP_ARG(k, a++, b_off);
    LP_ARG(k, a++, relu_i);
    LP_ARG(k, a++, y);
    return launch_(w, k, th, tw, (size_t)R, (size_t)cn, rows, "conv_winograd_output");
}

static lp_status check_batch_(const lp_conv_winograd *w, int n) {
    if (n < 0) return lp_fail(LP_ERR_INVALID_ARG, "conv2d winograd: batch %d", n);
    (void)w;
    return LP_OK;
}

lp_status lp_conv_winograd_forward(lp_conv_winograd *w, int n, cl_mem x, cl_mem params,
                                   size_t w_off, int b_off, bool relu, cl_mem y) {
    LP_TRY(check_batch_(w, n));
    w->v_n = 0;
    if (n == 0) return LP_OK;
    const lp_conv_geom *g = &w->g;
    LP_TRY(scratch_(w, false));
    LP_TRY(filter_(w, params, w_off, 0));
    for (int s0 = 0; s0 < n; s0 += w->chunk) {
        int cn = n - s0 < w->chunk ? n - s0 : w->chunk;
        int T = padded_(w, w->th, w->tw, cn);
        LP_TRY(input_(w, x, g->cin, g->ih, g->iw, g->pad_top, g->pad_left, w->th, w->tw, s0, cn,
                      w->v));
        LP_TRY(products_(w, w->F, g->cin, T, w->v, w->mo, "conv_winograd_forward_gemm"));
        LP_TRY(output_(w, w->mo, w->F, w->th, w->tw, g->oh, g->ow, s0, cn, params, b_off, relu, y));
    }
    w->v_n = n <= w->chunk ? n : 0;
    return LP_OK;
}

/* mo (P, F, T) = the kernel gradient's transform of dy's tiles, samples s0.. */
static lp_status grad_tiles_(lp_conv_winograd *w, cl_mem dy, int s0, int cn) {
    cl_kernel k;
    LP_TRY(kernel_(w, "lp_wg_grad", &k));
    cl_int T = padded_(w, w->th, w->tw, cn), tiles = w->th * w->tw * cn;
    int a = 0;
    LP_ARG(k, a++, dy);
    LP_ARG(k, a++, w->F);
    LP_ARG(k, a++, w->g.oh);
    LP_ARG(k, a++, w->g.ow);
    LP_ARG(k, a++, w->th);
    LP_ARG(k, a++, w->tw);
    LP_ARG(k, a++, T);
    LP_ARG(k, a++, s0);
    LP_ARG(k, a++, tiles);
    LP_ARG(k, a++, w->mo);
    return launch_(w, k, w->th, w->tw, (size_t)w->F, (size_t)cn, false, "conv_winograd_grad");
}

static lp_status dw_output_(lp_conv_winograd *w, cl_mem grads, size_t gw_off) {
    cl_kernel k;
    LP_TRY(kernel_(w, "lp_wg_dw_output", &k));
    cl_ulong off = gw_off;
    LP_ARG(k, 0, w->mw);
    LP_ARG(k, 1, w->F);
    LP_ARG(k, 2, w->g.cin);
    LP_ARG(k, 3, grads);
    LP_ARG(k, 4, off);
    size_t global[2] = {(size_t)w->g.cin, (size_t)w->F};
    return lp_launch(w->rt, k, 2, global, NULL, "conv_winograd_dw_output");
}

lp_status lp_conv_winograd_backward(lp_conv_winograd *w, int n, cl_mem x, cl_mem dy, cl_mem params,
                                    size_t w_off, cl_mem grads, size_t gw_off, cl_mem dx) {
    LP_TRY(check_batch_(w, n));
    if (dx && !w->with_dx)
        return lp_fail(LP_ERR_INVALID_ARG, "conv2d winograd: made without the input gradient");
    const lp_conv_geom *g = &w->g;
    int C = g->cin, F = w->F;
    if (n == 0) return lp_buffer_fill_zero(w->rt, grads, gw_off * 4, (size_t)F * C * 9 * 4);
    LP_TRY(scratch_(w, true));
    /* The kernel gradient: per point, mw (F, C) += E (F, T) . V^T (T, C), the chunks in
     * order (the first overwrites), then one inverse transform. */
    bool reuse = w->v_n == n;
    for (int s0 = 0; s0 < n; s0 += w->chunk) {
        int cn = n - s0 < w->chunk ? n - s0 : w->chunk;
        int T = padded_(w, w->th, w->tw, cn);
        if (!reuse)
            LP_TRY(
                input_(w, x, C, g->ih, g->iw, g->pad_top, g->pad_left, w->th, w->tw, s0, cn, w->v));
        LP_TRY(grad_tiles_(w, dy, s0, cn));
        LP_TRY(dw_products_(w, w->th * w->tw * cn, T, s0 > 0));
    }
    w->v_n = 0;
    LP_TRY(dw_output_(w, grads, gw_off));
    if (!dx) return LP_OK;
    /* The input gradient: a 3x3 correlation of dy with the kernel flipped and transposed,
     * dy padded by 2 - pad before (its tiles cover dx's plane). */
    LP_TRY(filter_(w, params, w_off, 1));
    for (int s0 = 0; s0 < n; s0 += w->dx_chunk) {
        int cn = n - s0 < w->dx_chunk ? n - s0 : w->dx_chunk;
        int T = padded_(w, w->dth, w->dtw, cn);
        LP_TRY(input_(w, dy, F, g->oh, g->ow, 2 - g->pad_top, 2 - g->pad_left, w->dth, w->dtw, s0,
                      cn, w->vd));
        LP_TRY(zero_padding_(w, F, T, w->dth * w->dtw * cn, w->vd));
        LP_TRY(products_(w, C, F, T, w->vd, w->md, "conv_winograd_dx_gemm"));
        LP_TRY(output_(w, w->md, C, w->dth, w->dtw, g->ih, g->iw, s0, cn, params, -1, false, dx));
    }
    return LP_OK;
}
