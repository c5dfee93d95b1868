/* memory_plan.h: the buffers the trainer, the network and the LaPerm sync allocate
 * (trainer_state.c, network.c, segsort.c), counted from the model spec alone. */
#include "memory_plan.h"

#include "gradient_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB_(bytes) ((double)(bytes) / (1024.0 * 1024.0))

static uint64_t next_pow2_(uint64_t x) {
    uint64_t p = 1;
    while (p < x)
        p *= 2;
    return p;
}

/* Whether LaPerm permutes tensor p (the trainer's rule, trainer_state.c). */
static bool permuted_(const lp_memory_plan_input *in, const lp_param_tensor *p) {
    if (p->is_kernel) return p->permute_default;
    if (strcmp(p->name, "bias") == 0) return in->perm_bias;
    return p->permute_default || in->perm_bn;
}

static void largest_(lp_memory_plan *out, uint64_t bytes, const char *what, const char *name) {
    if (bytes <= out->largest) return;
    out->largest = bytes;
    snprintf(out->largest_what, sizeof out->largest_what, "%s%s%s", what, name ? " " : "",
             name ? name : "");
}

/* The LaPerm buffers: three parameter-sized ones, the sort's workspace (a cl_ulong per
 * entry of every group padded to a power of two) and its int32 order scratch. */
static lp_status laperm_bytes_(const lp_model_spec *m, const lp_memory_plan_input *in,
                               lp_memory_plan *out) {
    lp_param_tensor *t = NULL;
    int n = 0;
    LP_TRY(lp_model_params(m, &t, &n));
    uint64_t padded = 0, order = 0;
    bool any = false;
    for (int i = 0; i < n; ++i) {
        if (!permuted_(in, &t[i])) continue;
        any = true;
        uint64_t groups = in->per_tensor_scope ? 1 : (uint64_t)t[i].groups;
        uint64_t size = in->per_tensor_scope ? (uint64_t)t[i].count : (uint64_t)t[i].group_size;
        if (next_pow2_(size) * groups > padded) padded = next_pow2_(size) * groups;
        if (groups * size > order) order = groups * size;
    }
    free(t);
    if (!any) return LP_OK;
    out->laperm = 3 * out->parameters + padded * 8 + order * 4;
    largest_(out, padded * 8, "the LaPerm sort workspace", NULL);
    return LP_OK;
}

/* Everything but LaPerm's buffers, for a training batch `batch` and a network sized for
 * out->batch samples whose layers' gradients take grad_floats a sample (gradient_plan.h). */
static lp_status estimate_(const lp_model_spec *m, const lp_memory_plan_input *in, int batch,
                           uint64_t grad_floats, lp_memory_plan *out) {
    uint64_t params = (uint64_t)lp_model_param_count(m), b = (uint64_t)out->batch;
    out->parameters = out->gradients = params * 4;
    out->optimizer = (uint64_t)in->optimizer_states * params * 4;
    largest_(out, params * 4, "parameters", NULL);
    for (int i = 0; i < m->n_layers; ++i) {
        uint64_t size = lp_shape_size(m->layers[i].out);
        out->per_sample += size * 4; /* output, float */
        largest_(out, size * 4 * b, "activations of", m->layers[i].name);
    }
    out->per_sample += grad_floats * 4;
    out->activations = out->per_sample * b;
    lp_shape s = m->layers[0].out;
    uint64_t features = (uint64_t)s.c * s.h * s.w;
    uint64_t tn = (uint64_t)in->train_n, vn = (uint64_t)in->test_n;
    uint64_t value = in->x_real ? 4 : 1, targets = in->targets > 0 ? (uint64_t)in->targets : 0;
    /* values, int32 label, int32 order, float targets */
    out->data = (tn + vn) * (features * value + 4 + 4 + targets * 4);
    largest_(out, tn * features * value, "training images", NULL);
    largest_(out, vn * features * value, "test images", NULL);
    uint64_t steps = (tn + (uint64_t)batch - 1) / (uint64_t)batch;
    out->other = b * 4 + b * targets * 4 + 2 * features * 4 + (steps + 1) * 2 * 4;
    if (!in->layer_bytes) return LP_OK;
    return in->layer_bytes(in->layer_bytes_ctx, out->batch, batch, &out->layers);
}

/* "parameters 1.0 MiB, gradients ..." */
static void breakdown_(const lp_memory_plan *p, char *dst, size_t cap) {
    int n = snprintf(dst, cap, "parameters %.1f MiB, gradients %.1f MiB", MIB_(p->parameters),
                     MIB_(p->gradients));
    if (p->optimizer && n > 0 && (size_t)n < cap)
        n += snprintf(dst + n, cap - (size_t)n, ", optimizer state %.1f MiB", MIB_(p->optimizer));
    if (p->laperm && n > 0 && (size_t)n < cap)
        n += snprintf(dst + n, cap - (size_t)n, ", LaPerm %.1f MiB", MIB_(p->laperm));
    if (n > 0 && (size_t)n < cap)
        n += snprintf(dst + n, cap - (size_t)n,
                      ", activations at batch %d %.1f MiB (%.2f MiB a sample)", p->batch,
                      MIB_(p->activations), MIB_(p->per_sample));
    if (p->layers && n > 0 && (size_t)n < cap)
        n += snprintf(dst + n, cap - (size_t)n, ", layer state and convolution buffers %.1f MiB",
                      MIB_(p->layers));
    if (n > 0 && (size_t)n < cap)
        snprintf(dst + n, cap - (size_t)n, ", data %.1f MiB, other %.1f MiB", MIB_(p->data),
                 MIB_(p->other));
}

static uint64_t total_(const lp_memory_plan *p) {
    return p->parameters + p->gradients + p->optimizer + p->laperm + p->activations + p->layers +
           p->data + p->other;
}

/* The largest n such that the run fits `limit` with both batches at n; 0 if none: a
 * bisection (the total grows with n, but for the per-step statistics, which shrink a
 * little). */
static lp_status batch_that_fits_(const lp_model_spec *m, const lp_memory_plan_input *in,
                                  uint64_t grad_floats, const lp_memory_plan *p, uint64_t limit,
                                  uint64_t *fit) {
    *fit = 0;
    uint64_t lo = 0, hi = (uint64_t)p->batch; /* fits(lo) or lo == 0; !fits(hi) */
    for (int rounds = 0; hi - lo > 1 && rounds < 64; ++rounds) {
        uint64_t mid = lo + (hi - lo) / 2;
        lp_memory_plan q;
        memset(&q, 0, sizeof q);
        q.batch = (int)mid;
        LP_TRY(estimate_(m, in, (int)mid, grad_floats, &q));
        q.laperm = p->laperm;
        if (total_(&q) <= limit)
            lo = mid;
        else
            hi = mid;
    }
    *fit = lo;
    return LP_OK;
}

/* What to lower: both batches to `fit` when that is at least 1; else the data or the
 * model, whichever is larger. */
static void advice_(const lp_memory_plan *p, uint64_t fit, char *dst, size_t cap) {
    uint64_t model = p->parameters + p->gradients + p->optimizer + p->laperm;
    if (fit >= 1)
        snprintf(dst, cap, "lower --eval-batch and --batch to at most %llu",
                 (unsigned long long)fit);
    else if (p->data > model)
        snprintf(dst, cap,
                 "not even one sample fits: use fewer images (--train-subset, --test-subset) "
                 "or a device with more memory");
    else
        snprintf(dst, cap,
                 "not even one sample fits: use a smaller model or a device with more memory");
}

lp_status lp_memory_plan_check(const lp_model_spec *m, const lp_memory_plan_input *in,
                               const lp_device_info *dev, lp_memory_plan *out) {
    if (!m || !in || !dev || !out)
        return lp_fail(LP_ERR_INVALID_ARG, "lp_memory_plan_check: NULL argument");
    memset(out, 0, sizeof *out);
    if (m->n_layers < 1 || !m->layers)
        return lp_fail(LP_ERR_INVALID_ARG, "lp_memory_plan_check: the model has no layers");
    if (in->batch <= 0 || in->eval_batch <= 0 || in->optimizer_states < 0 || in->train_n < 0 ||
        in->test_n < 0)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "lp_memory_plan_check: batch %d, eval batch %d (resolved, not auto), "
                       "optimizer states %d, %lld training and %lld test samples: none may be "
                       "negative and the batches must be positive",
                       in->batch, in->eval_batch, in->optimizer_states, in->train_n, in->test_n);
    out->batch = in->eval_batch > in->batch ? in->eval_batch : in->batch;
    lp_gradient_plan grads;
    LP_TRY(lp_gradient_plan_make(m, &grads));
    uint64_t grad_floats = lp_gradient_plan_floats(&grads);
    lp_gradient_plan_free(&grads);
    LP_TRY(estimate_(m, in, in->batch, grad_floats, out));
    if (in->laperm) LP_TRY(laperm_bytes_(m, in, out));
    out->total = total_(out);
    bool cpu = (dev->type & CL_DEVICE_TYPE_CPU) != 0;
    out->limit = dev->global_mem;
    if (cpu && in->host_available > 0 && in->host_available < out->limit) {
        out->limit = in->host_available;
        out->host_limited = true;
    }

    char parts[600], advice[200];
    if (out->total > out->limit) {
        breakdown_(out, parts, sizeof parts);
        uint64_t fit;
        LP_TRY(batch_that_fits_(m, in, grad_floats, out, out->limit, &fit));
        advice_(out, fit, advice, sizeof advice);
        if (out->host_limited)
            return lp_fail(LP_ERR_NO_MEMORY,
                           "training needs %.1f MiB of memory on %s, a CPU device whose buffers "
                           "are host memory, and the host has %.1f MiB available: %s; %s",
                           MIB_(out->total), dev->device_name, MIB_(out->limit), parts, advice);
        return lp_fail(LP_ERR_NO_MEMORY,
                       "training needs %.1f MiB of device memory, %s has %.1f MiB: %s; %s",
                       MIB_(out->total), dev->device_name, MIB_(out->limit), parts, advice);
    }
    if (dev->max_alloc > 0 && out->largest > dev->max_alloc) {
        bool images = strstr(out->largest_what, "images") != NULL;
        bool acts = strncmp(out->largest_what, "activations", 11) == 0;
        if (acts) {
            advice_(out, dev->max_alloc / (out->largest / (uint64_t)out->batch), advice,
                    sizeof advice);
        } else {
            snprintf(advice, sizeof advice, "%s",
                     images ? "use fewer images (--train-subset, --test-subset)"
                            : "use a smaller model or a device with larger allocations");
        }
        return lp_fail(LP_ERR_NO_MEMORY,
                       "training needs one buffer of %.1f MiB (%s%s), larger than the %.1f MiB "
                       "that %s allows in one allocation; %s",
                       MIB_(out->largest), out->largest_what, acts ? " at the network's batch" : "",
                       MIB_(dev->max_alloc), dev->device_name, advice);
    }
    return LP_OK;
}

/* A "Key:   123 kB" line of /proc/meminfo, in bytes; 0 if absent. */
static uint64_t meminfo_(const char *key) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    unsigned long long kb = 0;
    size_t n = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ':' && sscanf(line + n + 1, "%llu", &kb) == 1)
            break;
    fclose(f);
    return (uint64_t)kb * 1024;
}

/* A cgroup v2 file holding one number ("max" reads as none); 0 if absent. */
static uint64_t cgroup_value_(const char *name) {
    char path[128];
    snprintf(path, sizeof path, "/sys/fs/cgroup/%s", name);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    unsigned long long v = 0;
    if (fscanf(f, "%llu", &v) != 1) v = 0;
    fclose(f);
    return (uint64_t)v;
}

uint64_t lp_memory_host_available(void) {
    uint64_t avail = meminfo_("MemAvailable");
    if (avail == 0) {
        long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);
        if (pages > 0 && size > 0) avail = (uint64_t)pages * (uint64_t)size;
    }
    /* In a container the host's free memory is not ours: the cgroup's limit is. */
    uint64_t limit = cgroup_value_("memory.max"), used = cgroup_value_("memory.current");
    if (limit > 0 && used <= limit && (avail == 0 || limit - used < avail)) avail = limit - used;
    return avail;
}
