/* Plain-C references of the matrix product, the losses and the optimizer steps
 * (reference.h). */
#include <math.h>

#include "reference.h"

void lp_ref_gemm(bool ta, bool tb, size_t m, size_t n, size_t k, double alpha, const float *a,
                 size_t lda, const float *b, size_t ldb, double beta, const float *c, size_t ldc,
                 double *want, double *mag) {
    for (size_t i = 0; i < m; ++i)
        for (size_t j = 0; j < n; ++j) {
            double s = 0.0, sa = 0.0;
            for (size_t p = 0; p < k; ++p) {
                double av = ta ? a[p * lda + i] : a[i * lda + p];
                double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
                s += av * bv;
                sa += fabs(av * bv);
            }
            double old = beta == 0.0 ? 0.0 : beta * c[i * ldc + j];
            want[i * n + j] = alpha * s + old;
            if (mag) mag[i * n + j] = fabs(alpha) * sa + fabs(old);
        }
}

void lp_ref_softmax_xent(const float *x, const int *labels, int rows, int classes, double scale,
                         double *loss, double *correct, float *dlogits) {
    *loss = 0.0;
    *correct = 0.0;
    for (int r = 0; r < rows; ++r) {
        const float *row = x + (size_t)r * classes;
        int argmax = 0;
        for (int c = 1; c < classes; ++c)
            if (row[c] > row[argmax]) argmax = c;
        double m = row[argmax], z = 0.0;
        for (int c = 0; c < classes; ++c)
            z += exp((double)row[c] - m);
        double lse = m + log(z);
        *loss += lse - row[labels[r]];
        *correct += argmax == labels[r];
        for (int c = 0; c < classes; ++c)
            dlogits[(size_t)r * classes + c] =
                (float)((exp((double)row[c] - lse) - (c == labels[r])) * scale);
    }
}

void lp_ref_mse(const float *x, const float *t, int rows, int outputs, float scale, double *loss,
                double *mae, float *grad) {
    *loss = *mae = 0.0;
    for (int r = 0; r < rows; ++r) {
        double sq = 0.0, ab = 0.0;
        for (int c = 0; c < outputs; ++c) {
            size_t i = (size_t)r * outputs + c;
            double e = (double)x[i] - (double)t[i];
            sq += e * e;
            ab += fabs(e);
            grad[i] = (float)(2.0 * e / outputs * scale);
        }
        *loss += sq / outputs;
        *mae += ab / outputs;
    }
}

void lp_ref_sgd(float *w, const float *g, float *vel, int n, double lr, double momentum) {
    for (int i = 0; i < n; ++i) {
        vel[i] = (float)(momentum * vel[i] - lr * g[i]);
        w[i] = (float)((double)w[i] + vel[i]);
    }
}

void lp_ref_adam(double *w, const float *g, double *m, double *v, int n, double lr_t, double b1,
                 double b2, double eps) {
    for (int i = 0; i < n; ++i) {
        m[i] = b1 * m[i] + (1.0 - b1) * g[i];
        v[i] = b2 * v[i] + (1.0 - b2) * (double)g[i] * g[i];
        w[i] -= lr_t * m[i] / (sqrt(v[i]) + eps);
    }
}
