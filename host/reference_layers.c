/* Plain-C references of pooling, BatchNorm and dropout's mask (reference.h). */
#include <math.h>
#include <stdlib.h>

#include "laperm/rng.h"
#include "reference.h"

void lp_ref_pool_forward(const lp_ref_pool *g, int n, const float *x, float *y, int *arg) {
    for (int p = 0; p < n * g->c; ++p)
        for (int oy = 0; oy < g->oh; ++oy)
            for (int ox = 0; ox < g->ow; ++ox) {
                const float *xp = x + (size_t)p * g->h * g->w;
                double sum = 0.0;
                float best = 0.0f;
                int at = -1, count = 0;
                for (int ky = 0; ky < g->kh; ++ky)
                    for (int kx = 0; kx < g->kw; ++kx) {
                        int iy = oy * g->sh - g->pad_t + ky, ix = ox * g->sw - g->pad_l + kx;
                        if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) continue;
                        float v = xp[iy * g->w + ix];
                        sum += v;
                        count++;
                        if (at < 0 || v > best) {
                            best = v;
                            at = iy * g->w + ix;
                        }
                    }
                size_t o = ((size_t)p * g->oh + oy) * g->ow + ox;
                y[o] = g->max ? best : (float)(sum / count);
                arg[o] = at;
            }
}

lp_status lp_ref_pool_backward(const lp_ref_pool *g, int n, const float *dy, const int *arg,
                               float *dx, double *mag) {
    size_t hw = (size_t)g->h * g->w, total = (size_t)n * g->c * hw;
    double *acc = calloc(total * 2, sizeof *acc), *abs_ = acc + total;
    if (!acc) return lp_fail(LP_ERR_NO_MEMORY, "pooling reference: %zu values", total);
    for (int p = 0; p < n * g->c; ++p)
        for (int oy = 0; oy < g->oh; ++oy)
            for (int ox = 0; ox < g->ow; ++ox) {
                size_t o = ((size_t)p * g->oh + oy) * g->ow + ox;
                if (g->max) {
                    acc[p * hw + (size_t)arg[o]] += dy[o];
                    abs_[p * hw + (size_t)arg[o]] += fabs(dy[o]);
                    continue;
                }
                int y0 = oy * g->sh - g->pad_t, x0 = ox * g->sw - g->pad_l, count = 0;
                for (int pass = 0; pass < 2; ++pass)
                    for (int iy = y0; iy < y0 + g->kh; ++iy)
                        for (int ix = x0; ix < x0 + g->kw; ++ix) {
                            if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) continue;
                            if (pass == 0) {
                                count++;
                                continue;
                            }
                            size_t at = p * hw + (size_t)iy * g->w + ix;
                            acc[at] += (double)dy[o] / count;
                            abs_[at] += fabs((double)dy[o] / count);
                        }
            }
    for (size_t i = 0; i < total; ++i) {
        dx[i] = (float)acc[i];
        if (mag) mag[i] = abs_[i];
    }
    free(acc);
    return LP_OK;
}

void lp_ref_bn_train(const lp_ref_bn *g, const double *x, const double *gamma, const double *beta,
                     double *y, double *z, double *mean_out, double *var_out) {
    double m = (double)g->n * g->s;
    for (int ch = 0; ch < g->c; ++ch) {
        double mean = 0.0, var = 0.0;
        for (int i = 0; i < g->n; ++i)
            for (int p = 0; p < g->s; ++p)
                mean += x[((size_t)i * g->c + ch) * g->s + p];
        mean /= m;
        for (int i = 0; i < g->n; ++i)
            for (int p = 0; p < g->s; ++p) {
                double d = x[((size_t)i * g->c + ch) * g->s + p] - mean;
                var += d * d;
            }
        var /= m;
        if (mean_out) mean_out[ch] = mean;
        if (var_out) var_out[ch] = var;
        double rstd = 1.0 / sqrt(var + g->eps);
        for (int i = 0; i < g->n; ++i)
            for (int p = 0; p < g->s; ++p) {
                size_t at = ((size_t)i * g->c + ch) * g->s + p;
                double v = gamma[ch] * (x[at] - mean) * rstd + beta[ch];
                if (z) z[at] = v;
                y[at] = g->relu ? fmax(v, 0.0) : v;
            }
    }
}

void lp_ref_bn_infer(const lp_ref_bn *g, const double *x, const double *gamma, const double *beta,
                     const double *mean, const double *var, double *y) {
    for (int i = 0; i < g->n; ++i)
        for (int ch = 0; ch < g->c; ++ch)
            for (int p = 0; p < g->s; ++p) {
                size_t at = ((size_t)i * g->c + ch) * g->s + p;
                double v = gamma[ch] * (x[at] - mean[ch]) / sqrt(var[ch] + g->eps) + beta[ch];
                y[at] = g->relu ? fmax(v, 0.0) : v;
            }
}

bool lp_ref_dropout_keep(uint64_t seed, long long step, int layer, uint64_t i, float rate) {
    lp_philox_ctr c = {{(uint32_t)(i / 32 * 8 + i % 8), (uint32_t)(unsigned long long)step,
                        0x44000000u + (uint32_t)layer, 0u}};
    uint32_t r = lp_philox4x32(c, seed).v[i % 32 / 8];
    float u = (float)(r >> 8) * (1.0f / 16777216.0f);
    return !(u < rate);
}
