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
