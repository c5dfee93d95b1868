/* Sample shapes and sliding-window geometry: the one place TensorFlow's `valid`/`same`
 * rule is written (laperm/model.h, lp_window). The parser computes each layer's window
 * with it; the layers and the convolution paths read the result. */
#include <limits.h>
#include <stdio.h>

#include "laperm/model.h"

size_t lp_shape_size(lp_shape s) {
    return (size_t)s.c * (size_t)s.h * (size_t)s.w;
}

const char *lp_shape_str(lp_shape s, char *buf, size_t size) {
    if (s.h == 1 && s.w == 1)
        snprintf(buf, size, "%d", s.c);
    else
        snprintf(buf, size, "%dx%dx%d", s.c, s.h, s.w);
    return buf;
}

lp_status lp_window_axis(int in, int k, int stride, lp_padding padding, int *out, int *pad_before) {
    if (in <= 0 || k <= 0 || stride <= 0)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "window axis: input %d, window %d, stride %d (all must be positive)", in, k,
                       stride);
    if (padding == LP_PAD_SAME) {
        /* In 64 bits: o <= in and (o - 1) * stride < in, so nothing here overflows; the
         * padded axis, in + total = (o - 1) * stride + k, may still not fit an int. */
        int o = (int)(((long long)in + stride - 1) / stride);
        long long total = (long long)(o - 1) * stride + k - in;
        if (total < 0) total = 0;
        if (in + total > INT_MAX)
            return lp_fail(LP_ERR_INVALID_ARG,
                           "window axis: input %d padded for window %d is %lld, more than %d", in,
                           k, in + total, INT_MAX);
        *out = o;
        *pad_before = (int)(total / 2); /* the smaller half goes first, as in TensorFlow */
        return LP_OK;
    }
    if (k > in)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "window axis: window %d larger than the input %d with valid padding", k, in);
    *out = (in - k) / stride + 1;
    *pad_before = 0;
    return LP_OK;
}

/* The padding after the input: what the last window reaches beyond it. */
static int pad_after_(int in, int k, int stride, int out, int before) {
    long long after = (long long)(out - 1) * stride + k - in - before;
    return after > 0 ? (int)after : 0;
}

lp_status lp_window_make(int h, int w, int kh, int kw, int stride_h, int stride_w,
                         lp_padding padding, lp_window *out) {
    lp_window win = {.kh = kh, .kw = kw, .stride_h = stride_h, .stride_w = stride_w};
    LP_TRY(lp_window_axis(h, kh, stride_h, padding, &win.oh, &win.pad_top));
    LP_TRY(lp_window_axis(w, kw, stride_w, padding, &win.ow, &win.pad_left));
    win.pad_bottom = pad_after_(h, kh, stride_h, win.oh, win.pad_top);
    win.pad_right = pad_after_(w, kw, stride_w, win.ow, win.pad_left);
    *out = win;
    return LP_OK;
}
