/* Plain-C reference of [conv2d]: forward, the three gradients, and the bias gradient in
 * its documented float order (reference.h). */
#include <math.h>
#include <string.h>

#include "laperm/ops_conv.h"
#include "reference.h"

/* Input value at (s, ch, y, x), 0 in the padding. */
static double xat_(const lp_ref_conv *c, const float *x, int s, int ch, int y, int xx) {
    if (y < 0 || y >= c->ih || xx < 0 || xx >= c->iw) return 0.0;
    return x[(((size_t)s * c->cin + ch) * c->ih + y) * c->iw + xx];
}

void lp_ref_conv_forward(const lp_ref_conv *c, const float *x, const float *w, const float *b,
                         int n, double *z, double *zabs) {
    size_t P = (size_t)c->oh * c->ow;
    for (int s = 0; s < n; ++s)
        for (int f = 0; f < c->filters; ++f)
            for (int oy = 0; oy < c->oh; ++oy)
                for (int ox = 0; ox < c->ow; ++ox) {
                    double acc = c->bias ? b[f] : 0.0, mag = fabs(acc);
                    for (int ch = 0; ch < c->cin; ++ch)
                        for (int i = 0; i < c->kh; ++i)
                            for (int j = 0; j < c->kw; ++j) {
                                double t = w[((size_t)(f * c->cin + ch) * c->kh + i) * c->kw + j] *
                                           xat_(c, x, s, ch, oy * c->sh - c->pt + i,
                                                ox * c->sw - c->pl + j);
                                acc += t;
                                mag += fabs(t);
                            }
                    size_t o = ((size_t)s * c->filters + f) * P + (size_t)oy * c->ow + ox;
                    z[o] = acc;
                    if (zabs) zabs[o] = mag;
                }
}

void lp_ref_conv_backward(const lp_ref_conv *c, const float *x, const float *w, const float *out,
                          const float *dout, int n, double *dw, double *dwabs, double *db,
                          double *dbabs, double *dx, double *dxabs) {
    size_t K = (size_t)c->cin * c->kh * c->kw, P = (size_t)c->oh * c->ow;
    size_t nw = (size_t)c->filters * K, nx = (size_t)n * c->cin * c->ih * c->iw;
    memset(dw, 0, nw * sizeof *dw);
    memset(dwabs, 0, nw * sizeof *dwabs);
    memset(db, 0, (size_t)c->filters * sizeof *db);
    memset(dbabs, 0, (size_t)c->filters * sizeof *dbabs);
    memset(dx, 0, nx * sizeof *dx);
    memset(dxabs, 0, nx * sizeof *dxabs);
    for (int s = 0; s < n; ++s)
        for (int f = 0; f < c->filters; ++f)
            for (int oy = 0; oy < c->oh; ++oy)
                for (int ox = 0; ox < c->ow; ++ox) {
                    size_t o = ((size_t)s * c->filters + f) * P + (size_t)oy * c->ow + ox;
                    double g = dout[o];
                    if (c->relu && !(out[o] > 0.0f)) g = 0.0;
                    db[f] += g;
                    dbabs[f] += fabs(g);
                    for (int ch = 0; ch < c->cin; ++ch)
                        for (int i = 0; i < c->kh; ++i)
                            for (int j = 0; j < c->kw; ++j) {
                                int y = oy * c->sh - c->pt + i, xx = ox * c->sw - c->pl + j;
                                size_t wi = ((size_t)(f * c->cin + ch) * c->kh + i) * c->kw + j;
                                double t = g * xat_(c, x, s, ch, y, xx);
                                dw[wi] += t;
                                dwabs[wi] += fabs(t);
                                if (y < 0 || y >= c->ih || xx < 0 || xx >= c->iw) continue;
                                size_t xi = (((size_t)s * c->cin + ch) * c->ih + y) * c->iw + xx;
                                dx[xi] += g * w[wi];
                                dxabs[xi] += fabs(g * w[wi]);
                            }
                }
}

float lp_ref_conv_bias_grad(const float *dy, const float *y, int n, int F, int P, int f) {
    float total = 0.0f;
    for (int s = 0; s < n; ++s) {
        float t[LP_CONV_GRAD_LANES];
        for (int l = 0; l < LP_CONV_GRAD_LANES; ++l) {
            t[l] = 0.0f;
            for (int p = l; p < P; p += LP_CONV_GRAD_LANES) {
                size_t i = ((size_t)s * F + f) * P + p;
                t[l] += !y || y[i] > 0.0f ? dy[i] : 0.0f;
            }
        }
        for (int w = LP_CONV_GRAD_LANES / 2; w > 0; w >>= 1)
            for (int l = 0; l < w; ++l)
                t[l] += t[l + w];
        total += t[0];
    }
    return total;
}

/* Winograd F(m x m, 3x3)'s matrices (cl/conv_winograd.cl), in double. */
static void winograd_mats_(int m, double bt[6][6], double gm[6][3], double at[4][6]) {
    static const double bt2[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
    static const double g2[4][3] = {{1, 0, 0}, {.5, .5, .5}, {.5, -.5, .5}, {0, 0, 1}};
    static const double at2[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
    static const double bt4[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0},
                                     {0, 4, -4, -1, 1, 0}, {0, -2, -1, 2, 1, 0},
                                     {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
    static const double g4[6][3] = {{1. / 4, 0, 0},
                                    {-1. / 6, -1. / 6, -1. / 6},
                                    {-1. / 6, 1. / 6, -1. / 6},
                                    {1. / 24, 1. / 12, 1. / 6},
                                    {1. / 24, -1. / 12, 1. / 6},
                                    {0, 0, 1}};
    static const double at4[4][6] = {
        {1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
    int a = m + 2;
    for (int i = 0; i < a; ++i) {
        for (int j = 0; j < a; ++j)
            bt[i][j] = m == 2 ? bt2[i][j] : bt4[i][j];
        for (int j = 0; j < 3; ++j)
            gm[i][j] = m == 2 ? g2[i][j] : g4[i][j];
    }
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < a; ++j)
            at[i][j] = m == 2 ? at2[i][j] : at4[i][j];
}

/* t[i][a][j] = sum_p |AT[i][p]| |G[p][a]| |BT[p][j]|: the 1-D weight of |g_a| |d_j| in
 * the magnitude of output i (and, by the transposition, of kernel tap a's gradient from
 * output-gradient value i and input value j). */
static void winograd_weights_(int m, double t[4][3][6]) {
    double bt[6][6], gm[6][3], at[4][6];
    winograd_mats_(m, bt, gm, at);
    for (int i = 0; i < m; ++i)
        for (int a = 0; a < 3; ++a)
            for (int j = 0; j < m + 2; ++j) {
                double s = 0;
                for (int p = 0; p < m + 2; ++p)
                    s += fabs(at[i][p]) * fabs(gm[p][a]) * fabs(bt[p][j]);
                t[i][a][j] = s;
            }
}

/* |in| at (s, q, y, x) of (n, Q, H, W), 0 outside. */
static double absat_(const float *in, int Q, int H, int W, int s, int q, int y, int x) {
    if (y < 0 || y >= H || x < 0 || x >= W) return 0.0;
    return fabs(in[(((size_t)s * Q + q) * H + y) * W + x]);
}

void lp_ref_winograd_scale(int m, const float *in, int n, int Q, int H, int W, int pt, int pl,
                           const float *k, int R, int OH, int OW, double *scale) {
    double t[4][3][6];
    winograd_weights_(m, t);
    int a = m + 2;
    for (int s = 0; s < n; ++s)
        for (int r = 0; r < R; ++r)
            for (int oy = 0; oy < OH; ++oy)
                for (int ox = 0; ox < OW; ++ox) {
                    int i = oy % m, i2 = ox % m, y0 = oy - i - pt, x0 = ox - i2 - pl;
                    double e = 0;
                    for (int q = 0; q < Q; ++q)
                        for (int ka = 0; ka < 3; ++ka)
                            for (int kb = 0; kb < 3; ++kb) {
                                double g = fabs(k[(((size_t)r * Q + q) * 3 + ka) * 3 + kb]);
                                for (int j = 0; j < a; ++j)
                                    for (int j2 = 0; j2 < a; ++j2)
                                        e += t[i][ka][j] * t[i2][kb][j2] * g *
                                             absat_(in, Q, H, W, s, q, y0 + j, x0 + j2);
                            }
                    scale[(((size_t)s * R + r) * OH + oy) * OW + ox] = e;
                }
}

void lp_ref_winograd_dw_scale(int m, const float *x, const float *dy, int n, int C, int H, int W,
                              int pt, int pl, int F, int OH, int OW, double *scale) {
    double t[4][3][6];
    winograd_weights_(m, t);
    int a = m + 2, th = (OH + m - 1) / m, tw = (OW + m - 1) / m;
    for (int f = 0; f < F; ++f)
        for (int c = 0; c < C; ++c)
            for (int ka = 0; ka < 3; ++ka)
                for (int kb = 0; kb < 3; ++kb) {
                    double e = 0;
                    for (int s = 0; s < n; ++s)
                        for (int ty = 0; ty < th; ++ty)
                            for (int tx = 0; tx < tw; ++tx)
                                for (int i = 0; i < m; ++i)
                                    for (int i2 = 0; i2 < m; ++i2) {
                                        double g =
                                            absat_(dy, F, OH, OW, s, f, ty * m + i, tx * m + i2);
                                        if (g == 0) continue;
                                        for (int j = 0; j < a; ++j)
                                            for (int j2 = 0; j2 < a; ++j2)
                                                e += t[i][ka][j] * t[i2][kb][j2] * g *
                                                     absat_(x, C, H, W, s, c, ty * m - pt + j,
                                                            tx * m - pl + j2);
                                    }
                    scale[(((size_t)f * C + c) * 3 + ka) * 3 + kb] = e;
                }
}
