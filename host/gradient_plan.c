/* Shared gradient buffers (gradient_plan.h).
 *
 * Time runs as lp_network_backward runs: step 2*(n-1-i) is layer i's own backward, the
 * step after it the second-input halves of the layers that also read layer i-1 (network.c).
 * Before step 0 the loss writes the last layer's gradient. The buffer of a layer o, with
 * the views v of it that follow (o+1..last), is
 *   - first written by the own backward of layer last+1 (by the loss when last is the
 *     network's last layer), and added to by the halves of layers reading o..last;
 *   - last read by o's own backward, or by the second-input half of o..last when they have
 *     one (an [add] reads its own gradient there, at the step after from+1's backward).
 * Two buffers may share when these inclusive spans do not meet: at one layer's step, the
 * gradient it reads and the one it writes are both live. The last layer's buffer
 * (lp_network_dlogits) is shared with none: whoever writes it (the loss, a caller, a
 * benchmark that writes it once for many steps) finds it as written after backward. */
#include "gradient_plan.h"

#include <limits.h>
#include <stdlib.h>

#include "layer.h"

typedef struct {
    long first, last; /* steps, inclusive */
} span_;

/* The span of owner o's buffer, shared by its views o+1..last. */
static span_ span_of_(const lp_model_spec *m, int o, int last) {
    long n = m->n_layers;
    span_ s = {last == n - 1 ? -1 : 2 * (n - 1 - (last + 1)), 2 * (n - 1 - o)};
    for (int u = o; u <= last; ++u) {
        int from = lp_layer_second_input(&m->layers[u]);
        long half = 2 * (n - 1 - (from + 1)) + 1;
        if (from >= 0 && half > s.last) s.last = half;
    }
    return s;
}

/* The free buffer that fits `floats` most tightly, else the largest free one (it grows),
 * else -1. */
static int pick_(const long *busy_until, const uint64_t *floats, int n_slots, long first,
                 uint64_t want) {
    int fit = -1, largest = -1;
    for (int k = 0; k < n_slots; ++k) {
        if (busy_until[k] >= first) continue;
        if (floats[k] >= want && (fit < 0 || floats[k] < floats[fit])) fit = k;
        if (largest < 0 || floats[k] > floats[largest]) largest = k;
    }
    return fit >= 0 ? fit : largest;
}

lp_status lp_gradient_plan_make(const lp_model_spec *m, lp_gradient_plan *out) {
    int n = m->n_layers;
    *out = (lp_gradient_plan){0};
    out->slot = malloc((size_t)n * sizeof *out->slot);
    out->slot_floats = calloc((size_t)n, sizeof *out->slot_floats);
    long *busy_until = malloc((size_t)n * sizeof *busy_until);
    if (!out->slot || !out->slot_floats || !busy_until) {
        free(busy_until);
        lp_gradient_plan_free(out);
        return lp_fail(LP_ERR_NO_MEMORY, "out of host memory (gradient plan of %d layers)", n);
    }
    for (int i = 0; i < n; ++i)
        out->slot[i] = -1; /* [input] and views of it: no gradient */
    /* Owners from the last: their spans start in that order (a later layer's buffer is
     * written first), which is the order greedy assignment needs. */
    for (int o = n - 1; o >= 1; --o) {
        if (lp_layer_views_prev(&m->layers[o])) continue; /* assigned with its owner below */
        int last = o;
        while (last + 1 < n && lp_layer_views_prev(&m->layers[last + 1]))
            ++last;
        span_ s = span_of_(m, o, last);
        uint64_t want = lp_shape_size(m->layers[o].out);
        int k = pick_(busy_until, out->slot_floats, out->n_slots, s.first, want);
        if (k < 0) k = out->n_slots++;
        busy_until[k] = last == n - 1 ? LONG_MAX : s.last;
        if (want > out->slot_floats[k]) out->slot_floats[k] = want;
        for (int u = o; u <= last; ++u)
            out->slot[u] = k;
    }
    free(busy_until);
    return LP_OK;
}

void lp_gradient_plan_free(lp_gradient_plan *p) {
    free(p->slot);
    free(p->slot_floats);
    *p = (lp_gradient_plan){0};
}

uint64_t lp_gradient_plan_floats(const lp_gradient_plan *p) {
    uint64_t sum = 0;
    for (int k = 0; k < p->n_slots; ++k)
        sum += p->slot_floats[k];
    return sum;
}
