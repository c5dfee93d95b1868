/* [conv2d] by Winograd's minimal filtering (Lavin & Gray, arXiv 1509.09308) for 3x3
 * stride-1 layers: F(m x m, 3x3) with m = WG_M (2 or 4, a build option), tiles of
 * WG_A = m + 2 points a side, WG_P = WG_A^2 transform points.
 *
 *   forward   y_tile = AT [ (G g G^T) . (BT d BT^T) ] AT^T      (d: the (m+2)^2 input tile)
 *   input gr. the same with dy as input and the kernel flipped and transposed
 *   kernel gr. F(3x3, m x m): dW = G^T [ (AT^T e AT) . (BT d BT^T) ] G, summed over the
 *             tiles, e the m x m tile of dy (the transposition principle: the roles of
 *             A and G swap, B stays)
 *
 * with "." the product per point. Layouts (t: tile index within a chunk of samples, s*TH*TW +
 * ty*TW + tx; T tiles in the chunk):
 *   V[p][c][t]  input tiles transformed (p: point), so that per point the products over
 *               channels are one matrix product (lp_wg_products: all points in one launch;
 *               T padded to its register tile; the planes of two points POINT_STRIDE_
 *               apart)
 *   U[p][r][c]  kernel transformed, rows r (filters forward, input channels for dx),
 *               packed in panels of rows (lp_wg_filter_packed)
 *   M[p][r][t]  their products, turned back into outputs by lp_wg_output (as V)
 * Every value is computed by one work-item in a fixed order: the same bits every run. */

#define WG_A (WG_M + 2)
#define WG_P (WG_A * WG_A)

/* The 1-D transforms, on private arrays with constant indices (after unrolling, registers):
 * BT d (input tiles), G g (the kernel), AT v (back to outputs), A e = AT^T e (the output
 * gradient, for the kernel gradient) and G^T v (back to the kernel gradient). Written out
 * term by term: no multiplication by 0 or 1, and the multiples of 1/6 and 1/24 grouped
 * so that each costs one rounding. Macros, so that they take arrays of float and of
 * float8 alike (lp_wg_output_rows): the same expressions lane by lane, contracted alike,
 * so the same bits. */
#if WG_M == 2
#define BT_(d, o)                                                                                  \
    do {                                                                                           \
        o[0] = d[0] - d[2];                                                                        \
        o[1] = d[1] + d[2];                                                                        \
        o[2] = d[2] - d[1];                                                                        \
        o[3] = d[1] - d[3];                                                                        \
    } while (0)
#define G_(g, o)                                                                                   \
    do {                                                                                           \
        o[0] = g[0];                                                                               \
        o[1] = 0.5f * (g[0] + g[1] + g[2]);                                                        \
        o[2] = 0.5f * (g[0] - g[1] + g[2]);                                                        \
        o[3] = g[2];                                                                               \
    } while (0)
#define AT_(v, o)                                                                                  \
    do {                                                                                           \
        o[0] = v[0] + v[1] + v[2];                                                                 \
        o[1] = v[1] - v[2] - v[3];                                                                 \
    } while (0)
#define A_(e, o)                                                                                   \
    do {                                                                                           \
        o[0] = e[0];                                                                               \
        o[1] = e[0] + e[1];                                                                        \
        o[2] = e[0] - e[1];                                                                        \
        o[3] = -e[1];                                                                              \
    } while (0)
#define GT_(v, o)                                                                                  \
    do {                                                                                           \
        o[0] = v[0] + 0.5f * (v[1] + v[2]);                                                        \
        o[1] = 0.5f * (v[1] - v[2]);                                                               \
        o[2] = 0.5f * (v[1] + v[2]) + v[3];                                                        \
    } while (0)
#elif WG_M == 4
#define BT_(d, o)                                                                                  \
    do {                                                                                           \
        o[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];                                                   \
        o[1] = d[3] + d[4] - 4.0f * (d[1] + d[2]);                                                 \
        o[2] = d[4] - d[3] + 4.0f * (d[1] - d[2]);                                                 \
        o[3] = d[4] - d[2] + 2.0f * (d[3] - d[1]);                                                 \
        o[4] = d[4] - d[2] + 2.0f * (d[1] - d[3]);                                                 \
        o[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];                                                   \
    } while (0)
#define G_(g, o)                                                                                   \
    do {                                                                                           \
        o[0] = 0.25f * g[0];                                                                       \
        o[1] = (-1.0f / 6.0f) * (g[0] + g[1] + g[2]);                                              \
        o[2] = (-1.0f / 6.0f) * (g[0] - g[1] + g[2]);                                              \
        o[3] = (1.0f / 24.0f) * (g[0] + 2.0f * g[1] + 4.0f * g[2]);                                \
        o[4] = (1.0f / 24.0f) * (g[0] - 2.0f * g[1] + 4.0f * g[2]);                                \
        o[5] = g[2];                                                                               \
    } while (0)
#define AT_(v, o)                                                                                  \
    do {                                                                                           \
        o[0] = v[0] + v[1] + v[2] + v[3] + v[4];                                                   \
        o[1] = v[1] - v[2] + 2.0f * (v[3] - v[4]);                                                 \
        o[2] = v[1] + v[2] + 4.0f * (v[3] + v[4]);                                                 \
        o[3] = v[1] - v[2] + 8.0f * (v[3] - v[4]) + v[5];                                          \
    } while (0)
#define A_(e, o)                                                                                   \
    do {                                                                                           \
        o[0] = e[0];                                                                               \
        o[1] = e[0] + e[1] + e[2] + e[3];                                                          \
        o[2] = e[0] - e[1] + e[2] - e[3];                                                          \
        o[3] = e[0] + 2.0f * e[1] + 4.0f * e[2] + 8.0f * e[3];                                     \
        o[4] = e[0] - 2.0f * e[1] + 4.0f * e[2] - 8.0f * e[3];                                     \
        o[5] = e[3];                                                                               \
    } while (0)
#define GT_(v, o)                                                                                  \
    do {                                                                                           \
        o[0] = 0.25f * v[0] - (1.0f / 6.0f) * (v[1] + v[2]) + (1.0f / 24.0f) * (v[3] + v[4]);      \
        o[1] = (1.0f / 6.0f) * (v[2] - v[1]) + (1.0f / 12.0f) * (v[3] - v[4]);                     \
        o[2] = (1.0f / 6.0f) * (v[3] + v[4] - v[1] - v[2]) + v[5];                                 \
    } while (0)
#else
#error "WG_M must be 2 or 4"
#endif

/* The 2-D transform o = T1 in T2^T of an R x Q tile of `type` into RO x QO, rows first:
 * the 1-D transform f2 (Q -> QO) of every row, then f1 (R -> RO) of every column. */
#define TRANSFORM2_(type, f1, f2, R, Q, RO, QO, in, o)                                             \
    do {                                                                                           \
        type rows_[R][QO], col_[R], out_[RO];                                                      \
        _Pragma("unroll") for (int i_ = 0; i_ < (R); ++i_) f2(in[i_], rows_[i_]);                  \
        _Pragma("unroll") for (int j_ = 0; j_ < (QO); ++j_) {                                      \
            _Pragma("unroll") for (int i_ = 0; i_ < (R); ++i_) col_[i_] = rows_[i_][j_];           \
            f1(col_, out_);                                                                        \
            _Pragma("unroll") for (int i_ = 0; i_ < (RO); ++i_) o[i_][j_] = out_[i_];              \
        }                                                                                          \
    } while (0)

/* The distance between the planes of two transform points in V, E and M, R rows of T
 * tiles each: R * T and WG_SKEW floats more (the host's, one cache line). R * T is often a
 * large power of two (resnet20's 32x16x16 layer at batch 128: 256 KiB), which puts a
 * tile's 36 points in one cache set; skewed, they spread over 36 sets (that layer's
 * forward + backward, PoCL: 5,500 -> 6,800 images/s, one run each). */
#define POINT_STRIDE_(R, T) ((size_t)(R) * (T) + WG_SKEW)

/* dst[p][r][t] = b[p] for the WG_P points of tile t of row r, dst (WG_P, R, T). */
static inline void store_points_(__global float *dst, int R, int T, int r, size_t t,
                                 float b[WG_A][WG_A]) {
    size_t stride = POINT_STRIDE_(R, T);
    __global float *out = dst + (size_t)r * T + t;
#pragma unroll
    for (int i = 0; i < WG_A; ++i)
#pragma unroll
        for (int j = 0; j < WG_A; ++j)
            out[(i * WG_A + j) * stride] = b[i][j];
}

/* V[p][c][t] = (BT d BT^T)[p] for the (WG_A)^2 tile of plane c of sample s0 + s of x
 * (n, C, H, W) whose outputs start at (ty*m, tx*m): d reads x from (ty*m - pad_top,
 * tx*m - pad_left), zeros outside the plane. Global (tiles = cn*TH*TW, rounded up; C): the
 * tiles of every sample along dimension 0, so that small planes (resnet20's 8x8: 4 tiles)
 * still fill the vector lanes of CPUs that vectorize across work-items. */
__kernel void lp_wg_input(__global const float *x, int C, int H, int W, int pad_top, int pad_left,
                          int TH, int TW, int T, int s0, int tiles, __global float *v) {
    int t = get_global_id(0), c = get_global_id(1);
    if (t >= tiles) return;
    int s = t / (TH * TW), tile = t - s * (TH * TW);
    int ty = tile / TW, tx = tile - ty * TW;
    int y0 = ty * WG_M - pad_top, x0 = tx * WG_M - pad_left;
    __global const float *plane = x + ((size_t)(s0 + s) * C + c) * (size_t)H * W;
    float d[WG_A][WG_A], b[WG_A][WG_A];
#pragma unroll
    for (int i = 0; i < WG_A; ++i)
#pragma unroll
        for (int j = 0; j < WG_A; ++j) {
            int yy = y0 + i, xx = x0 + j;
            d[i][j] = yy >= 0 && yy < H && xx >= 0 && xx < W ? plane[yy * W + xx] : 0.0f;
        }
    TRANSFORM2_(float, BT_, BT_, WG_A, WG_A, WG_A, WG_A, d, b);
    store_points_(v, C, T, c, (size_t)t, b);
}

/* y[s0 + s][r] tile (ty, tx) = AT M[.][r][t] AT^T (+ params[b_off + r], then ReLU), the
 * pixels inside the OH x OW plane only; y is (n, R, OH, OW). Global (tiles = cn*TH*TW,
 * rounded up; R), as lp_wg_input. */
__kernel void lp_wg_output(__global const float *m, int R, int T, int TH, int TW, int OH, int OW,
                           int s0, int tiles, __global const float *params, int b_off, int relu,
                           __global float *y) {
    int t = get_global_id(0), r = get_global_id(1);
    if (t >= tiles) return;
    int s = t / (TH * TW), tile = t - s * (TH * TW);
    int ty = tile / TW, tx = tile - ty * TW;
    size_t stride = POINT_STRIDE_(R, T);
    __global const float *in = m + (size_t)r * T + t;
    float v[WG_A][WG_A], o[WG_M][WG_M];
#pragma unroll
    for (int i = 0; i < WG_A; ++i)
#pragma unroll
        for (int j = 0; j < WG_A; ++j)
            v[i][j] = in[(i * WG_A + j) * stride];
    TRANSFORM2_(float, AT_, AT_, WG_A, WG_A, WG_M, WG_M, v, o);
    float bias = b_off >= 0 ? params[b_off + r] : 0.0f;
    __global float *plane = y + ((size_t)(s0 + s) * R + r) * (size_t)OH * OW;
#pragma unroll
    for (int i = 0; i < WG_M; ++i)
#pragma unroll
        for (int j = 0; j < WG_M; ++j) {
            int yy = ty * WG_M + i, xx = tx * WG_M + j;
            if (yy >= OH || xx >= OW) continue;
            float acc = o[i][j];
            if (b_off >= 0) acc += bias;
            if (relu) acc = fmax(acc, 0.0f);
            plane[yy * OW + xx] = acc;
        }
}

/* E[p][f][t] = (AT^T e AT)[p] for the m x m tile e of plane f of sample s0 + s of dy
 * (n, F, OH, OW) at (ty*m, tx*m), zeros outside the plane: the kernel gradient's transform
 * of the output gradient. Global (tiles = cn*TH*TW, rounded up; F), as lp_wg_input. */
__kernel void lp_wg_grad(__global const float *dy, int F, int OH, int OW, int TH, int TW, int T,
                         int s0, int tiles, __global float *e) {
    int t = get_global_id(0), f = get_global_id(1);
    if (t >= tiles) return;
    int s = t / (TH * TW), tile = t - s * (TH * TW);
    int ty = tile / TW, tx = tile - ty * TW;
    __global const float *plane = dy + ((size_t)(s0 + s) * F + f) * (size_t)OH * OW;
    float g[WG_M][WG_M], h[WG_A][WG_A];
#pragma unroll
    for (int i = 0; i < WG_M; ++i)
#pragma unroll
        for (int j = 0; j < WG_M; ++j) {
            int yy = ty * WG_M + i, xx = tx * WG_M + j;
            g[i][j] = yy < OH && xx < OW ? plane[yy * OW + xx] : 0.0f;
        }
    TRANSFORM2_(float, A_, A_, WG_M, WG_M, WG_A, WG_A, g, h);
    store_points_(e, F, T, f, (size_t)t, h);
}

/* lp_wg_output by rows, for CPUs that run explicit vector loops
 * (lp_runtime_plane_kernels), on planes whose tile rows hold a multiple of 4 tiles (the
 * host takes lp_wg_output elsewhere). A work-item takes 8 consecutive tiles of a plane,
 * t0 = 8 * item, two runs of 4 tiles each within one tile row: it loads each transform
 * point of the 8 tiles as one float8, transforms the 8 tiles at once with lp_wg_output's
 * operations lane by lane (the same expressions, so the same bits), and writes each run's
 * WG_M rows of 4 * WG_M pixels as vectors, interleaved by swizzles. On PoCL that is a
 * fifth faster than one tile a work-item, which vectorizes across work-items with
 * strided stores. (A by-row form of lp_wg_grad was no faster, measured before the points
 * were skewed.) Global (ceil(TH*TW / 8), R, cn); lanes past the plane's tiles are not
 * stored. */
#define WG_RUN 4 /* tiles a run */
#if WG_M == 4
typedef float16 row_t_; /* a run's row of pixels */
#define STORE_ROW_(h, p) vstore16(h, 0, p)
#else
typedef float8 row_t_;
#define STORE_ROW_(h, p) vstore8(h, 0, p)
#endif

__kernel void lp_wg_output_rows(__global const float *m, int R, int T, int TH, int TW, int OH,
                                int OW, int s0, __global const float *params, int b_off, int relu,
                                __global float *y) {
    int item = get_global_id(0), r = get_global_id(1), s = get_global_id(2);
    int tiles = TH * TW, t0 = item * 8, lanes = min(8, tiles - t0);
    if (t0 >= tiles) return;
    size_t stride = POINT_STRIDE_(R, T);
    __global const float *in = m + (size_t)r * T + (size_t)s * tiles + t0;
    float8 v[WG_A][WG_A], o[WG_M][WG_M];
#pragma unroll
    for (int i = 0; i < WG_A; ++i)
#pragma unroll
        for (int j = 0; j < WG_A; ++j) {
            __global const float *p = in + (i * WG_A + j) * stride;
            if (lanes == 8) {
                v[i][j] = vload8(0, p);
            } else {
                float l[8] = {0.0f};
                for (int k = 0; k < lanes; ++k)
                    l[k] = p[k];
                v[i][j] = vload8(0, l);
            }
        }
    TRANSFORM2_(float8, AT_, AT_, WG_A, WG_A, WG_M, WG_M, v, o);
    float bias = b_off >= 0 ? params[b_off + r] : 0.0f;
    __global float *plane = y + ((size_t)(s0 + s) * R + r) * (size_t)OH * OW;
#pragma unroll
    for (int run = 0; run < 2; ++run) {
        int t = t0 + run * WG_RUN, ty = t / TW, tx = t - ty * TW;
        if (t >= tiles) break;
#pragma unroll
        for (int i = 0; i < WG_M; ++i) {
            int yy = ty * WG_M + i, x0 = tx * WG_M;
            if (yy >= OH) break;
            float4 q[WG_M]; /* lane k of q[j]: pixel x0 + k*WG_M + j of the row */
#pragma unroll
            for (int j = 0; j < WG_M; ++j)
                q[j] = run == 0 ? o[i][j].lo : o[i][j].hi;
#if WG_M == 4
            row_t_ h =
                (float16)(q[0].s0, q[1].s0, q[2].s0, q[3].s0, q[0].s1, q[1].s1, q[2].s1, q[3].s1,
                          q[0].s2, q[1].s2, q[2].s2, q[3].s2, q[0].s3, q[1].s3, q[2].s3, q[3].s3);
#else
            row_t_ h =
                (float8)(q[0].s0, q[1].s0, q[0].s1, q[1].s1, q[0].s2, q[1].s2, q[0].s3, q[1].s3);
#endif
            if (b_off >= 0) h += bias;
            if (relu) h = fmax(h, 0.0f);
            __global float *row = plane + yy * OW;
            if (x0 + 4 * WG_M <= OW) {
                STORE_ROW_(h, row + x0);
            } else {
                float l[4 * WG_M];
                STORE_ROW_(h, l);
                for (int e = 0; e < 4 * WG_M && x0 + e < OW; ++e)
                    row[x0 + e] = l[e];
            }
        }
    }
}

/* lp_wg_input by rows, on the same planes as lp_wg_output_rows: a work-item takes 8
 * consecutive tiles of a plane, two runs of 4 tiles within a tile row. It reads each run's
 * WG_A input rows of WG_SPAN pixels (as vectors where the row lies inside the plane, value by
 * value at its edges, zeros outside), transforms the 8 tiles at once with lp_wg_input's
 * operations lane by lane (the same bits), and stores each transform point of the 8 tiles
 * as one float8. On PoCL the per-tile form vectorizes across work-items, with a gather for
 * each of its 36 loads; this one took 1.3-1.8 ms against 1.8-2.0 for resnet20's 32x16x16
 * layer at batch 128. Global (ceil(TH*TW / 8), C, cn); lanes past the plane's tiles are not
 * stored. */
#define WG_SPAN (WG_RUN * WG_M + 2) /* pixels of a run's input row */

/* r = the WG_SPAN pixels of row yy of plane from column x0, zeros outside the plane. */
static inline void span_(__global const float *plane, int H, int W, int yy, int x0, bool live,
                         float r[WG_SPAN]) {
    int yc = clamp(yy, 0, H - 1);
    bool row_in = live && yy == yc;
    __global const float *row = plane + (size_t)yc * W;
    if (row_in && x0 >= 0 && x0 + WG_SPAN <= W) {
#if WG_M == 4
        vstore16(vload16(0, row + x0), 0, r);
#else
        vstore8(vload8(0, row + x0), 0, r);
#endif
        vstore2(vload2(0, row + x0 + WG_SPAN - 2), 0, r + WG_SPAN - 2);
        return;
    }
#pragma unroll
    for (int e = 0; e < WG_SPAN; ++e) {
        int xx = x0 + e, xc = clamp(xx, 0, W - 1);
        float value = row[xc]; /* loaded inside the plane, kept inside it */
        r[e] = row_in && xx == xc ? value : 0.0f;
    }
}

__kernel void lp_wg_input_rows(__global const float *x, int C, int H, int W, int pad_top,
                               int pad_left, int TH, int TW, int T, int s0, __global float *v) {
    int item = get_global_id(0), c = get_global_id(1), s = get_global_id(2);
    int tiles = TH * TW, t0 = item * 8, lanes = min(8, tiles - t0);
    if (t0 >= tiles) return;
    __global const float *plane = x + ((size_t)(s0 + s) * C + c) * (size_t)H * W;
    int ty[2], x0[2];
#pragma unroll
    for (int run = 0; run < 2; ++run) {
        int t = t0 + run * WG_RUN;
        ty[run] = t / TW;
        x0[run] = (t - ty[run] * TW) * WG_M - pad_left;
    }
    /* TRANSFORM2_'s order, each input row transformed as it is read: fewer values live. */
    float8 h[WG_A][WG_A];
#pragma unroll
    for (int i = 0; i < WG_A; ++i) {
        float8 d[WG_A];
#pragma unroll
        for (int run = 0; run < 2; ++run) {
            float r[WG_SPAN];
            span_(plane, H, W, ty[run] * WG_M - pad_top + i, x0[run], t0 + run * WG_RUN < tiles, r);
#pragma unroll
            for (int j = 0; j < WG_A; ++j) {
                float4 q = (float4)(r[j], r[WG_M + j], r[2 * WG_M + j], r[3 * WG_M + j]);
                if (run == 0)
                    d[j].lo = q;
                else
                    d[j].hi = q;
            }
        }
        BT_(d, h[i]);
    }
    size_t stride = POINT_STRIDE_(C, T);
    __global float *out = v + (size_t)c * T + (size_t)s * tiles + t0;
#pragma unroll
    for (int j = 0; j < WG_A; ++j) {
        float8 col[WG_A], b[WG_A];
#pragma unroll
        for (int i = 0; i < WG_A; ++i)
            col[i] = h[i][j];
        BT_(col, b);
#pragma unroll
        for (int i = 0; i < WG_A; ++i) {
            __global float *p = out + (i * WG_A + j) * stride;
            if (lanes == 8) {
                vstore8(b[i], 0, p);
            } else {
                float l[8];
                vstore8(b[i], 0, l);
                for (int k = 0; k < lanes; ++k)
                    p[k] = l[k];
            }
        }
    }
}

/* dst[p][r][t] = 0 for the padding tiles t in [tiles, T) of every row r and point p of
 * dst (WG_P, R, T), which the products read and no transform writes. Global (T - tiles,
 * R, WG_P). */
__kernel void lp_wg_zero_padding(int R, int T, int tiles, __global float *dst) {
    int t = tiles + get_global_id(0), r = get_global_id(1), p = get_global_id(2);
    dst[p * POINT_STRIDE_(R, T) + (size_t)r * T + t] = 0.0f;
}

/* dW[f][c] = G^T Mw[.][f][c] G (3x3), overwritten at grads + off; Mw (P, F, C) holds the
 * products summed over every tile of the batch. Global (C, F). */
__kernel void lp_wg_dw_output(__global const float *mw, int F, int C, __global float *grads,
                              ulong off) {
    int c = get_global_id(0), f = get_global_id(1);
    size_t stride = (size_t)F * C;
    __global const float *in = mw + (size_t)f * C + c;
    float v[WG_A][WG_A], o[3][3];
#pragma unroll
    for (int i = 0; i < WG_A; ++i)
#pragma unroll
        for (int j = 0; j < WG_A; ++j)
            v[i][j] = in[(i * WG_A + j) * stride];
    TRANSFORM2_(float, GT_, GT_, WG_A, WG_A, 3, 3, v, o);
    __global float *out = grads + off + ((size_t)f * C + c) * 9;
#pragma unroll
    for (int a = 0; a < 3; ++a)
#pragma unroll
        for (int b = 0; b < 3; ++b)
            out[a * 3 + b] = o[a][b];
}

/* The products of every transform point in one launch, with the register tile of the
 * GEMM programs (cl/tile.cl, built in before this file; the host sets its -D options as
 * lp_gemm_default_tiled does): floatv of GEMM_VW floats, GEMM_MR rows by GEMM_NV vectors
 * per tile for the channel sums, GEMM_DM x GEMM_DN dot products for the kernel gradient,
 * LP_MULADD for the multiply-add. */

/* The kernel transformed and packed for lp_wg_products: up[p][r / MR][q][r % MR] =
 * (G g G^T)[p], R x Q per point in panels of GEMM_MR rows (rows R.. of the last panel 0),
 * for the 3x3 kernel W (F, C, 3, 3) at w + off: forward r = f, q = c, g = W[f][c]; with
 * flip (the input gradient) r = c, q = f, g = W[f][c] rotated by 180 degrees. Global
 * (GEMM_MR, Q, R rounded up to GEMM_MR / GEMM_MR): no division by GEMM_MR (Oclgrind's
 * checker stops at the `freeze` LLVM makes of one), and neighbouring work-items, a panel's
 * rows, store neighbouring floats (PoCL's vector stores across work-items; with q first,
 * storing 8 floats apart, conv4's took twice as long). */
__kernel void lp_wg_filter_packed(__global const float *w, ulong off, int F, int C, int flip,
                                  __global float *up) {
    int rr = get_global_id(0), q = get_global_id(1), rb = get_global_id(2), r = rb * GEMM_MR + rr;
    int R = flip ? C : F, Q = flip ? F : C, RB = get_global_size(2);
    float h[WG_A][WG_A];
    if (r < R) {
        int c = flip ? r : q, f = flip ? q : r;
        __global const float *k = w + off + ((size_t)f * C + c) * 9;
        float g[3][3];
#pragma unroll
        for (int a = 0; a < 3; ++a)
#pragma unroll
            for (int b = 0; b < 3; ++b)
                g[a][b] = flip ? k[(2 - a) * 3 + (2 - b)] : k[a * 3 + b];
        TRANSFORM2_(float, G_, G_, 3, 3, WG_A, WG_A, g, h);
    } else {
#pragma unroll
        for (int i = 0; i < WG_A; ++i)
#pragma unroll
            for (int j = 0; j < WG_A; ++j)
                h[i][j] = 0.0f;
    }
    __global float *out = up + ((size_t)rb * Q + q) * GEMM_MR + rr;
#pragma unroll
    for (int i = 0; i < WG_A; ++i)
#pragma unroll
        for (int j = 0; j < WG_A; ++j)
            out[(size_t)(i * WG_A + j) * RB * Q * GEMM_MR] = h[i][j];
}

/* m[p][r][t] (+)= sum over q in [q0, q1) of U[p][r][q] v[p][q][t], for every point p at
 * once: v (P, Q, T) and m (P, R, T) with T a multiple of GEMM_NR (the tiles past the chunk's
 * are padding, computed and never read), U packed by lp_wg_filter_packed. add: m holds the
 * sum of the earlier q and this adds to it (the host splits Q only on devices that end
 * long loops). Each work-item: GEMM_MR rows x GEMM_NR tiles, q in order. Global (T / GEMM_NR,
 * R rounded up to GEMM_MR / GEMM_MR, P) or more along dimension 0 (those return). */
__kernel void lp_wg_products(int R, int Q, int T, int q0, int q1, int add, __global const float *up,
                             __global const float *v, __global float *m) {
    int t0 = get_global_id(0) * GEMM_NR, rb = get_global_id(1), p = get_global_id(2);
    int RB = (R + GEMM_MR - 1) / GEMM_MR;
    if (t0 >= T) return;
    __global const float *apan = up + ((size_t)p * RB + rb) * Q * GEMM_MR;
    __global const float *vp = v + p * POINT_STRIDE_(Q, T) + t0;
    __global float *mp = m + p * POINT_STRIDE_(R, T) + (size_t)rb * GEMM_MR * T + t0;
    floatv acc[GEMM_MR][GEMM_NV];
    TILE_ZERO(acc);
    if (add)
#pragma unroll
        for (int r = 0; r < GEMM_MR; ++r)
            if (rb * GEMM_MR + r < R)
#pragma unroll
                for (int j = 0; j < GEMM_NV; ++j)
                    acc[r][j] = VLOAD_(j, mp + (size_t)r * T);
    TILE_PRODUCT(acc, apan, q0, q1, vp + (size_t)k * T, true, GEMM_NR);
#pragma unroll
    for (int r = 0; r < GEMM_MR; ++r)
        if (rb * GEMM_MR + r < R)
#pragma unroll
            for (int j = 0; j < GEMM_NV; ++j)
                VSTORE_(acc[r][j], j, mp + (size_t)r * T);
}

/* mw[p][f][c] (+)= sum over t in [t0, t1) of e[p][f][t] v[p][c][t] for every point p at
 * once (the kernel gradient): e (P, F, T), v (P, C, T), mw (P, F, C); add as in
 * lp_wg_products (the chunks, and slices of them where the device ends long loops). Each
 * work-item: GEMM_DM x GEMM_DN dot products, GEMM_VW lanes at a time along t in order, the
 * lanes summed in a fixed tree, then the tail. Global (ceil(F / GEMM_DM), ceil(C / GEMM_DN),
 * P) or more along dimension 0 (those return). */
__kernel void lp_wg_dw_products(int F, int C, int T, int t0, int t1, int add,
                                __global const float *e, __global const float *v,
                                __global float *mw) {
    int f0 = get_global_id(0) * GEMM_DM, c0 = get_global_id(1) * GEMM_DN, p = get_global_id(2);
    if (f0 >= F) return;
    __global const float *er[GEMM_DM];
    __global const float *vr[GEMM_DN];
#pragma unroll
    for (int i = 0; i < GEMM_DM; ++i)
        er[i] = e + p * POINT_STRIDE_(F, T) + (size_t)min(f0 + i, F - 1) * T;
#pragma unroll
    for (int j = 0; j < GEMM_DN; ++j)
        vr[j] = v + p * POINT_STRIDE_(C, T) + (size_t)min(c0 + j, C - 1) * T;
    floatv acc[GEMM_DM][GEMM_DN];
#pragma unroll
    for (int i = 0; i < GEMM_DM; ++i)
#pragma unroll
        for (int j = 0; j < GEMM_DN; ++j)
            acc[i][j] = (floatv)(0.0f);
    int t = t0;
    for (; t + GEMM_VW <= t1; t += GEMM_VW) {
        floatv a[GEMM_DM], b[GEMM_DN];
#pragma unroll
        for (int i = 0; i < GEMM_DM; ++i)
            a[i] = VLOAD_(0, er[i] + t);
#pragma unroll
        for (int j = 0; j < GEMM_DN; ++j)
            b[j] = VLOAD_(0, vr[j] + t);
#pragma unroll
        for (int i = 0; i < GEMM_DM; ++i)
#pragma unroll
            for (int j = 0; j < GEMM_DN; ++j)
                acc[i][j] = LP_MULADD(a[i], b[j], acc[i][j]);
    }
    __global float *out = mw + ((size_t)p * F + f0) * C + c0;
#pragma unroll
    for (int i = 0; i < GEMM_DM; ++i)
#pragma unroll
        for (int j = 0; j < GEMM_DN; ++j) {
            if (f0 + i >= F || c0 + j >= C) continue;
            float s = hsum_(acc[i][j]);
            for (int k = t; k < t1; ++k)
                s = LP_MULADD(er[i][k], vr[j][k], s);
            __global float *o = out + (size_t)i * C + j;
            *o = add ? *o + s : s;
        }
}
