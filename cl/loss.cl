/* The losses: softmax with cross-entropy, numerically stable (log-sum-exp around the row
 * max), and mean squared error (Keras' `mse`); and the gather of a batch's float targets. */

#ifndef LOSS_WGS
#define LOSS_WGS 64
#endif

/* One work-group of LOSS_WGS items handles the whole batch (rows are short: one per
 * class). Per row: loss = logsumexp(x) - x[label]; if dlogits != 0, dlogits = (p -
 * onehot) * grad_scale. The batch's summed loss and correct count are added to
 * stats[stats_off], stats[stats_off + 1] (the in-order queue serialises launches, so no atomics).
 */
__kernel __attribute__((reqd_work_group_size(LOSS_WGS, 1, 1))) void
lp_softmax_xent(__global const float *logits, __global const int *labels, int rows, int classes,
                float grad_scale, int write_grad, __global float *dlogits, __global float *stats,
                int stats_off) {
    __local float loss_part[LOSS_WGS];
    __local float correct_part[LOSS_WGS];
    int lid = get_local_id(0);
    float loss_sum = 0.0f, correct_sum = 0.0f;
    for (int r = lid; r < rows; r += LOSS_WGS) {
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
            z += exp(x[c] - m);
        float lse = m + log(z);
        loss_sum += lse - x[label];
        correct_sum += (argmax == label) ? 1.0f : 0.0f;
        if (write_grad) {
            __global float *d = dlogits + (size_t)r * classes;
            for (int c = 0; c < classes; ++c)
                d[c] = (exp(x[c] - lse) - (c == label ? 1.0f : 0.0f)) * grad_scale;
        }
    }
    loss_part[lid] = loss_sum;
    correct_part[lid] = correct_sum;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = LOSS_WGS / 2; s > 0; s >>= 1) {
        if (lid < s) {
            loss_part[lid] += loss_part[lid + s];
            correct_part[lid] += correct_part[lid + s];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) {
        stats[stats_off] += loss_part[0];
        stats[stats_off + 1] += correct_part[0];
    }
}

/* Mean squared error over (rows, outputs) predictions and float targets, as Keras: per
 * row loss = mean over outputs of (x - t)^2. Adds the batch's summed loss and summed
 * mean absolute error to stats[stats_off], stats[stats_off + 1] (the slot classification
 * uses for correct predictions); if write_grad, dpred = 2 (x - t) / outputs * grad_scale.
 * One work-group, as lp_softmax_xent, so the sums come in one fixed order. */
__kernel __attribute__((reqd_work_group_size(LOSS_WGS, 1, 1))) void
lp_mse(__global const float *pred, __global const float *targets, int rows, int outputs,
       float grad_scale, int write_grad, __global float *dpred, __global float *stats,
       int stats_off) {
    __local float loss_part[LOSS_WGS];
    __local float abs_part[LOSS_WGS];
    int lid = get_local_id(0);
    float loss_sum = 0.0f, abs_sum = 0.0f;
    float inv = 1.0f / (float)outputs;
    for (int r = lid; r < rows; r += LOSS_WGS) {
        __global const float *x = pred + (size_t)r * outputs;
        __global const float *t = targets + (size_t)r * outputs;
        float sq = 0.0f, ab = 0.0f;
        for (int c = 0; c < outputs; ++c) {
            float e = x[c] - t[c];
            sq += e * e;
            ab += fabs(e);
        }
        loss_sum += sq * inv;
        abs_sum += ab * inv;
        if (write_grad) {
            __global float *d = dpred + (size_t)r * outputs;
            for (int c = 0; c < outputs; ++c)
                d[c] = 2.0f * (x[c] - t[c]) * inv * grad_scale;
        }
    }
    loss_part[lid] = loss_sum;
    abs_part[lid] = abs_sum;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = LOSS_WGS / 2; s > 0; s >>= 1) {
        if (lid < s) {
            loss_part[lid] += loss_part[lid + s];
            abs_part[lid] += abs_part[lid + s];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) {
        stats[stats_off] += loss_part[0];
        stats[stats_off + 1] += abs_part[0];
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
