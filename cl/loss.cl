/* The losses: softmax with cross-entropy, numerically stable (log-sum-exp around the row
 * max), and mean squared error (Keras' `mse`); and the gather of a batch's float targets. */

#ifndef LOSS_WGS
#define LOSS_WGS 64
#endif

/* Each loss is two kernels: one work-item per row computes the row's terms (and the
 * gradient), then one work-group of LOSS_WGS items sums them, item i taking rows i,
 * i + LOSS_WGS, ... in order, then a tree. (One work-group looping over every row of a
 * large batch was cut short on Mesa's llvmpipe, which ends a kernel's loops, silently,
 * after 65535 iterations in all; no work-item here walks more than one row.) The
 * in-order queue serialises launches, so the sums need no atomics. */

/* Per row r: terms[2r] = logsumexp(x) - x[label], terms[2r + 1] = 1 if the first
 * maximum is the label, else 0; if write_grad, dlogits = (p - onehot) * grad_scale. */
__kernel void lp_softmax_xent_rows(__global const float *logits, __global const int *labels,
                                   int rows, int classes, float grad_scale, int write_grad,
                                   __global float *dlogits, __global float *terms) {
    int r = get_global_id(0);
    if (r >= rows) return;
    __global const float *x = logits + (size_t)r * classes;
    int label = labels[r];
    float m = x[0];
    int argmax = 0;
    for (int c = 1; c < classes; ++c) {
        if (x[c] > m) {
            m = x[c];
            argmax = c;
        }
    }
    float z = 0.0f;
    for (int c = 0; c < classes; ++c)
        z += LP_EXP(x[c] - m);
    float lse = m + LP_LOG(z);
    terms[2 * (size_t)r] = lse - x[label];
    terms[2 * (size_t)r + 1] = (argmax == label) ? 1.0f : 0.0f;
    if (write_grad) {
        __global float *d = dlogits + (size_t)r * classes;
        for (int c = 0; c < classes; ++c)
            d[c] = LP_FTZ((LP_EXP(x[c] - lse) - (c == label ? 1.0f : 0.0f)) * grad_scale);
    }
}

/* Mean squared error over (rows, outputs) predictions and float targets, as Keras: per
 * row loss = mean over outputs of (x - t)^2. terms[2r] = the row's summed squares,
 * terms[2r + 1] its summed absolute errors (lp_loss_sum takes the means); if write_grad,
 * dpred = 2 (x - t) / outputs * grad_scale. */
__kernel void lp_mse_rows(__global const float *pred, __global const float *targets, int rows,
                          int outputs, float grad_scale, int write_grad, __global float *dpred,
                          __global float *terms) {
    int r = get_global_id(0);
    if (r >= rows) return;
    float inv = LP_DIV(1.0f, (float)outputs);
    __global const float *x = pred + (size_t)r * outputs;
    __global const float *t = targets + (size_t)r * outputs;
    float sq = 0.0f, ab = 0.0f;
    for (int c = 0; c < outputs; ++c) {
        float e = x[c] - t[c];
        sq += e * e;
        ab += fabs(e);
    }
    terms[2 * (size_t)r] = sq;
    terms[2 * (size_t)r + 1] = ab;
    if (write_grad) {
        __global float *d = dpred + (size_t)r * outputs;
        for (int c = 0; c < outputs; ++c)
            d[c] = LP_FTZ(2.0f * (x[c] - t[c]) * inv * grad_scale);
    }
}

/* Adds the sums over rows of terms[2r] and terms[2r + 1] to stats[stats_off] and
 * stats[stats_off + 1]: the batch's summed loss and correct count (softmax), or, with
 * mean_of = outputs > 0, each row's terms times 1 / outputs first (MSE: summed loss and
 * summed mean absolute error). */
__kernel __attribute__((reqd_work_group_size(LOSS_WGS, 1, 1))) void
lp_loss_sum(__global const float *terms, int rows, int mean_of, __global float *stats,
            int stats_off) {
    __local float loss_part[LOSS_WGS];
    __local float other_part[LOSS_WGS];
    int lid = get_local_id(0);
    float loss_sum = 0.0f, other_sum = 0.0f;
    if (mean_of > 0) {
        float inv = LP_DIV(1.0f, (float)mean_of);
        for (int r = lid; r < rows; r += LOSS_WGS) {
            float sq = terms[2 * (size_t)r], ab = terms[2 * (size_t)r + 1];
            loss_sum += sq * inv;
            other_sum += ab * inv;
        }
    } else {
        for (int r = lid; r < rows; r += LOSS_WGS) {
            loss_sum += terms[2 * (size_t)r];
            other_sum += terms[2 * (size_t)r + 1];
        }
    }
    loss_part[lid] = loss_sum;
    other_part[lid] = other_sum;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = LOSS_WGS / 2; s > 0; s >>= 1) {
        if (lid < s) {
            loss_part[lid] += loss_part[lid + s];
            other_part[lid] += other_part[lid + s];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) {
        stats[stats_off] += loss_part[0];
        stats[stats_off + 1] += other_part[0];
    }
}

/* dst row r = src row idx[first + r], rows of `width` floats: a batch's regression targets
 * in the epoch's order. */
__kernel void lp_gather_rows(__global const float *src, __global const int *idx, int first,
                             int rows, int width, __global float *dst) {
    size_t i = get_global_id(0);
    if (i >= (size_t)rows * width) return;
    int r = (int)(i / width), c = (int)(i - (size_t)r * width);
    dst[i] = src[(size_t)idx[first + r] * width + c];
}
