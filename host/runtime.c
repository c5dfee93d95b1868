/* Context, queue, kernel lookup, launches, buffers, per-label profiling, and the state
 * that code built on the runtime attaches to it. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime-impl.h"

static size_t floor_pow2_(size_t x) {
    size_t p = 1;
    while (p * 2 <= x)
        p *= 2;
    return p;
}

static const char *const bits_names_[] = {[LP_BITS_FAST] = "fast", [LP_BITS_PORTABLE] = "portable"};
_Static_assert(sizeof bits_names_ / sizeof *bits_names_ == LP_BITS_COUNT, "one name per lp_bits");

const char *lp_bits_name(lp_bits b) {
    return (unsigned)b < LP_BITS_COUNT ? bits_names_[b] : "?";
}

bool lp_bits_parse(const char *name, lp_bits *out) {
    for (int i = 0; name && i < LP_BITS_COUNT; ++i)
        if (strcmp(name, bits_names_[i]) == 0) {
            *out = (lp_bits)i;
            return true;
        }
    return false;
}

/* Portable mode: the device must offer the fixed limits; kernels are then shaped by
 * those alone, so every code path that reads the device's limits sees the same values. */
static lp_status portable_limits_(lp_device_info *d) {
    const struct {
        const char *what;
        unsigned long long has, need;
    } req[] = {{"CL_DEVICE_MAX_WORK_GROUP_SIZE", d->max_work_group_size, LP_PORTABLE_WGS},
               {"CL_DEVICE_MAX_WORK_ITEM_SIZES[0]", d->max_work_item_sizes[0], LP_PORTABLE_WGS},
               {"CL_DEVICE_LOCAL_MEM_SIZE", d->local_mem, LP_PORTABLE_LOCAL_MEM}};
    for (size_t i = 0; i < sizeof req / sizeof *req; ++i)
        if (req[i].has < req[i].need)
            return lp_fail(LP_ERR_UNSUPPORTED,
                           "--bits portable: %s: %s is %llu, portable mode needs at least %llu",
                           d->device_name, req[i].what, req[i].has, req[i].need);
    d->max_work_group_size = LP_PORTABLE_WGS;
    for (int i = 0; i < 3; ++i)
        if (d->max_work_item_sizes[i] > LP_PORTABLE_WGS)
            d->max_work_item_sizes[i] = LP_PORTABLE_WGS;
    d->local_mem = LP_PORTABLE_LOCAL_MEM;
    d->preferred_vector_width_float = LP_PORTABLE_VEC_FLOAT;
    d->compute_units = LP_PORTABLE_COMPUTE_UNITS;
    d->fp64 = false;
    d->fma = false; /* portable products are a multiply and an add anyway (tile.cl) */
    /* The shortest loop limit known (llvmpipe's), so that every device refuses the same
     * direct-path products and splits the same tiles (conv_direct.c). */
    d->loop_limit = 65535;
    return LP_OK;
}

lp_status lp_runtime_create(const lp_runtime_options *opt, lp_runtime **out) {
    *out = NULL;
    lp_runtime *rt = calloc(1, sizeof *rt);
    if (!rt) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory creating the runtime");
    lp_status s = lp_device_select(opt ? opt->device : NULL, &rt->info);
    if (s != LP_OK) {
        free(rt);
        return s;
    }
    rt->profiling = opt && opt->profiling;
    rt->bits = opt ? opt->bits : LP_BITS_FAST;
    if ((unsigned)rt->bits >= LP_BITS_COUNT) {
        free(rt);
        return lp_fail(LP_ERR_INVALID_ARG, "lp_runtime_create: bits %d is not an lp_bits",
                       (int)opt->bits);
    }
    if (rt->bits == LP_BITS_PORTABLE && (s = portable_limits_(&rt->info)) != LP_OK) {
        free(rt);
        return s;
    }
    cl_int err;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)rt->info.platform,
                                     0};
    rt->context = clCreateContext(props, 1, &rt->info.device, NULL, NULL, &err);
    if (err != CL_SUCCESS) {
        free(rt);
        return lp_cl_check(err, "clCreateContext");
    }
    rt->queue = clCreateCommandQueue(rt->context, rt->info.device,
                                     rt->profiling ? CL_QUEUE_PROFILING_ENABLE : 0, &err);
    if (err != CL_SUCCESS) {
        clReleaseContext(rt->context);
        free(rt);
        return lp_cl_check(err, "clCreateCommandQueue");
    }
    /* Kernels size their local tiles from these; all of them are part of the cache key.
     * LP_NO_FMA: fma() is emulated in software there (Rusticl on llvmpipe: the register
     * tile ran 14x slower with it), so the products multiply and add instead. */
    snprintf(rt->device_options, sizeof rt->device_options,
             "-DLP_MAX_WGS=%zu -DLP_LOCAL_MEM_BYTES=%llu -DLP_VEC_FLOAT=%u%s%s%s",
             floor_pow2_(rt->info.max_work_group_size), (unsigned long long)rt->info.local_mem,
             rt->info.preferred_vector_width_float ? rt->info.preferred_vector_width_float : 1,
             rt->info.fp64 ? " -DLP_HAVE_FP64=1" : "", rt->info.fma ? "" : " -DLP_NO_FMA=1",
             rt->bits == LP_BITS_PORTABLE ? " -DLP_PORTABLE_BITS=1" : "");
    *out = rt;
    return LP_OK;
}

void lp_runtime_destroy(lp_runtime *rt) {
    if (!rt) return;
    if (rt->queue) clFinish(rt->queue);
    /* Attached state may hold buffers of this context: released while it exists. */
    for (int i = rt->n_attached - 1; i >= 0; --i) {
        if (rt->attached[i].destroy) rt->attached[i].destroy(rt->attached[i].state);
        free(rt->attached[i].key);
    }
    free(rt->attached);
    for (int i = 0; i < rt->n_pending; ++i)
        clReleaseEvent(rt->pending[i].event);
    for (int i = 0; i < rt->n_kernels; ++i) {
        clReleaseKernel(rt->kernels[i].kernel);
        free(rt->kernels[i].program);
        free(rt->kernels[i].options);
        free(rt->kernels[i].kernel_name);
    }
    lp_programs_release_(rt);
    if (rt->queue) clReleaseCommandQueue(rt->queue);
    if (rt->context) clReleaseContext(rt->context);
    free(rt->kernels);
    free(rt->pending);
    free(rt->profile);
    lp_runtime_memory_release_(rt);
    free(rt);
}

const lp_device_info *lp_runtime_device(const lp_runtime *rt) {
    return &rt->info;
}
lp_bits lp_runtime_bits(const lp_runtime *rt) {
    return rt->bits;
}
cl_context lp_runtime_context(const lp_runtime *rt) {
    return rt->context;
}
cl_command_queue lp_runtime_queue(const lp_runtime *rt) {
    return rt->queue;
}
cl_command_queue *lp_runtime_queue_ptr(lp_runtime *rt) {
    return &rt->queue;
}
lp_build_stats lp_runtime_build_stats(const lp_runtime *rt) {
    return rt->stats;
}

lp_status lp_runtime_attach(lp_runtime *rt, const char *key, void *state,
                            void (*destroy)(void *state)) {
    if (lp_runtime_attached(rt, key))
        return lp_fail(LP_ERR_INVALID_ARG, "runtime: '%s' is attached already", key);
    if (rt->n_attached == rt->cap_attached) {
        int cap = rt->cap_attached ? rt->cap_attached * 2 : 4;
        lp_attachment_ *grown = realloc(rt->attached, (size_t)cap * sizeof *grown);
        if (!grown) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory attaching %s", key);
        rt->attached = grown;
        rt->cap_attached = cap;
    }
    char *copy = strdup(key);
    if (!copy) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory attaching %s", key);
    rt->attached[rt->n_attached++] = (lp_attachment_){copy, state, destroy};
    return LP_OK;
}

void *lp_runtime_attached(const lp_runtime *rt, const char *key) {
    for (int i = 0; i < rt->n_attached; ++i)
        if (strcmp(rt->attached[i].key, key) == 0) return rt->attached[i].state;
    return NULL;
}

static bool same_(const char *a, const char *b) {
    return strcmp(a ? a : "", b ? b : "") == 0;
}

lp_status lp_runtime_kernel(lp_runtime *rt, const char *program, const char *kernel_name,
                            const char *extra_options, cl_kernel *out) {
    for (int i = 0; i < rt->n_kernels; ++i) {
        lp_kernel_entry_ *e = &rt->kernels[i];
        if (same_(e->program, program) && same_(e->kernel_name, kernel_name) &&
            same_(e->options, extra_options)) {
            *out = e->kernel;
            return LP_OK;
        }
    }
    cl_program prog;
    LP_TRY(lp_program_get_(rt, program, extra_options, &prog));
    cl_int err;
    cl_kernel k = clCreateKernel(prog, kernel_name, &err);
    if (err != CL_SUCCESS) {
        return lp_fail(LP_ERR_OPENCL, "kernel '%s' in cl/%s.cl: %s (%d)", kernel_name, program,
                       lp_cl_error_name(err), err);
    }
    if (rt->n_kernels == rt->cap_kernels) {
        int cap = rt->cap_kernels ? rt->cap_kernels * 2 : 32;
        lp_kernel_entry_ *grown = realloc(rt->kernels, (size_t)cap * sizeof *grown);
        if (!grown) {
            clReleaseKernel(k);
            return lp_fail(LP_ERR_NO_MEMORY, "out of host memory caching kernels");
        }
        rt->kernels = grown;
        rt->cap_kernels = cap;
    }
    lp_kernel_entry_ *e = &rt->kernels[rt->n_kernels++];
    e->program = strdup(program);
    e->kernel_name = strdup(kernel_name);
    e->options = strdup(extra_options ? extra_options : "");
    e->kernel = k;
    *out = k;
    return LP_OK;
}

bool lp_runtime_plane_kernels(const lp_runtime *rt) {
    /* Portable bits: one form everywhere (BatchNorm's sums by plane and by work-group
     * add in different orders). */
    if (rt->bits == LP_BITS_PORTABLE) return true;
    const char *env = getenv("LAPERM_KERNEL_FORM");
    if (env && !strcmp(env, "planes")) return true;
    if (env && !strcmp(env, "pixels")) return false;
    return lp_runtime_vector_loops(rt);
}

bool lp_runtime_vector_loops(const lp_runtime *rt) {
    if (rt->bits == LP_BITS_PORTABLE) return true; /* one form on every device */
    return (rt->info.type & CL_DEVICE_TYPE_CPU) && rt->info.preferred_vector_width_float >= 4;
}

size_t lp_runtime_wgs(lp_runtime *rt, cl_kernel k, size_t preferred) {
    if (rt->bits == LP_BITS_PORTABLE) {
        size_t w = preferred < LP_PORTABLE_WGS ? preferred : LP_PORTABLE_WGS;
        return floor_pow2_(w ? w : 1);
    }
    size_t kmax = rt->info.max_work_group_size;
    size_t kernel_max = 0;
    if (clGetKernelWorkGroupInfo(k, rt->info.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kernel_max,
                                 &kernel_max, NULL) == CL_SUCCESS &&
        kernel_max > 0 && kernel_max < kmax)
        kmax = kernel_max;
    if (rt->info.max_work_item_sizes[0] && rt->info.max_work_item_sizes[0] < kmax)
        kmax = rt->info.max_work_item_sizes[0];
    size_t w = preferred < kmax ? preferred : kmax;
    return floor_pow2_(w ? w : 1);
}

static lp_status push_event_(lp_runtime *rt, const char *label, cl_event ev) {
    /* Bound memory: fold finished events every few thousand launches (before adding,
     * so a slot handed out by lp_runtime_profile_event stays valid). */
    if (rt->n_pending >= 8192) LP_TRY(lp_runtime_profile_collect(rt));
    if (rt->n_pending == rt->cap_pending) {
        int cap = rt->cap_pending ? rt->cap_pending * 2 : 256;
        lp_pending_event_ *grown = realloc(rt->pending, (size_t)cap * sizeof *grown);
        if (!grown) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory for profiling");
        rt->pending = grown;
        rt->cap_pending = cap;
    }
    rt->pending[rt->n_pending].label = label;
    rt->pending[rt->n_pending].event = ev;
    rt->n_pending++;
    return LP_OK;
}

cl_event *lp_runtime_profile_event(lp_runtime *rt, const char *label) {
    if (!rt->profiling) return NULL;
    if (push_event_(rt, label, NULL) != LP_OK) return NULL;
    return &rt->pending[rt->n_pending - 1].event;
}

lp_status lp_launch(lp_runtime *rt, cl_kernel k, cl_uint dims, const size_t *global,
                    const size_t *local, const char *label) {
    size_t g[3];
    for (cl_uint d = 0; d < dims; ++d) {
        g[d] = global[d];
        if (g[d] == 0) return LP_OK; /* nothing to do; OpenCL rejects empty ranges */
        if (local) {
            if (local[d] == 0 || local[d] > rt->info.max_work_item_sizes[d])
                return lp_fail(LP_ERR_INVALID_ARG,
                               "%s: local size %zu exceeds the device limit %zu", label, local[d],
                               rt->info.max_work_item_sizes[d]);
            g[d] = (g[d] + local[d] - 1) / local[d] * local[d];
        }
    }
    cl_event ev = NULL;
    cl_int err = clEnqueueNDRangeKernel(rt->queue, k, dims, NULL, g, local, 0, NULL,
                                        rt->profiling ? &ev : NULL);
    if (err != CL_SUCCESS) {
        return lp_fail(LP_ERR_OPENCL, "launching %s: %s (%d)", label, lp_cl_error_name(err), err);
    }
    if (ev) return push_event_(rt, label, ev);
    return LP_OK;
}

lp_status lp_runtime_finish(lp_runtime *rt) {
    return lp_cl_check(clFinish(rt->queue), "clFinish");
}

lp_status lp_buffer_create(lp_runtime *rt, size_t bytes, const char *what, cl_mem *out) {
    cl_int err;
    *out = clCreateBuffer(rt->context, CL_MEM_READ_WRITE, bytes ? bytes : 4, NULL, &err);
    if (err != CL_SUCCESS) {
        return lp_fail(LP_ERR_OPENCL, "allocating %zu bytes for %s on %s: %s (%d)", bytes, what,
                       rt->info.device_name, lp_cl_error_name(err), err);
    }
    lp_runtime_memory_track_(rt, *out, bytes ? bytes : 4);
    return LP_OK;
}

lp_status lp_buffer_create_zeroed(lp_runtime *rt, size_t bytes, const char *what, cl_mem *out) {
    void *zeros = calloc(1, bytes ? bytes : 4);
    if (!zeros) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory zeroing %s", what);
    cl_int err;
    *out = clCreateBuffer(rt->context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes ? bytes : 4,
                          zeros, &err);
    free(zeros);
    if (err != CL_SUCCESS) {
        return lp_fail(LP_ERR_OPENCL, "allocating %zu bytes for %s on %s: %s (%d)", bytes, what,
                       rt->info.device_name, lp_cl_error_name(err), err);
    }
    lp_runtime_memory_track_(rt, *out, bytes ? bytes : 4);
    return LP_OK;
}

lp_status lp_buffer_write(lp_runtime *rt, cl_mem buf, size_t offset, size_t bytes,
                          const void *src) {
    if (!bytes) return LP_OK;
    return lp_cl_check(
        clEnqueueWriteBuffer(rt->queue, buf, CL_TRUE, offset, bytes, src, 0, NULL, NULL),
        "clEnqueueWriteBuffer");
}

lp_status lp_buffer_read(lp_runtime *rt, cl_mem buf, size_t offset, size_t bytes, void *dst) {
    if (!bytes) return LP_OK;
    return lp_cl_check(
        clEnqueueReadBuffer(rt->queue, buf, CL_TRUE, offset, bytes, dst, 0, NULL, NULL),
        "clEnqueueReadBuffer");
}

lp_status lp_buffer_read_start(lp_runtime *rt, cl_mem buf, size_t offset, size_t bytes, void *dst,
                               cl_event *done) {
    *done = NULL;
    if (!bytes) return LP_OK;
    LP_TRY(lp_cl_check(
        clEnqueueReadBuffer(rt->queue, buf, CL_FALSE, offset, bytes, dst, 0, NULL, done),
        "clEnqueueReadBuffer"));
    return lp_cl_check(clFlush(rt->queue), "clFlush");
}

lp_status lp_buffer_read_wait(cl_event done) {
    if (!done) return LP_OK;
    lp_status s = lp_cl_check(clWaitForEvents(1, &done), "clWaitForEvents (a buffer read)");
    clReleaseEvent(done);
    return s;
}

lp_status lp_buffer_fill_zero(lp_runtime *rt, cl_mem buf, size_t offset, size_t bytes) {
    if (!bytes) return LP_OK;
    if (offset % sizeof(float) || bytes % sizeof(float) ||
        (offset + bytes) / sizeof(float) > INT_MAX)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "lp_buffer_fill_zero: offset %zu and size %zu must be "
                       "multiples of 4 bytes, below 2^31 floats",
                       offset, bytes);
    cl_kernel k;
    LP_TRY(lp_runtime_kernel(rt, "fill", "lp_fill_float", NULL, &k));
    int off = (int)(offset / sizeof(float)), n = (int)(bytes / sizeof(float));
    float zero = 0.0f;
    LP_ARG(k, 0, buf);
    LP_ARG(k, 1, off);
    LP_ARG(k, 2, n);
    LP_ARG(k, 3, zero);
    size_t local = lp_runtime_wgs(rt, k, 256), global = (size_t)n;
    return lp_launch(rt, k, 1, &global, &local, "fill_zero");
}

lp_status lp_runtime_profile_collect(lp_runtime *rt) {
    if (!rt->profiling) return LP_OK;
    LP_TRY(lp_runtime_finish(rt));
    for (int i = 0; i < rt->n_pending; ++i) {
        lp_pending_event_ *pe = &rt->pending[i];
        if (!pe->event) continue;
        cl_ulong t0 = 0, t1 = 0;
        clGetEventProfilingInfo(pe->event, CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL);
        clGetEventProfilingInfo(pe->event, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
        clReleaseEvent(pe->event);
        int j = 0;
        while (j < rt->n_profile && strcmp(rt->profile[j].label, pe->label) != 0)
            ++j;
        if (j == rt->n_profile) {
            if (rt->n_profile == rt->cap_profile) {
                int cap = rt->cap_profile ? rt->cap_profile * 2 : 32;
                lp_profile_entry *grown = realloc(rt->profile, (size_t)cap * sizeof *grown);
                if (!grown) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory for profiling");
                rt->profile = grown;
                rt->cap_profile = cap;
            }
            rt->profile[j] = (lp_profile_entry){pe->label, 0.0, 0};
            rt->n_profile++;
        }
        rt->profile[j].total_ms += (t1 > t0 ? (double)(t1 - t0) : 0.0) * 1e-6;
        rt->profile[j].launches++;
    }
    rt->n_pending = 0;
    return LP_OK;
}

static int by_time_desc_(const void *a, const void *b) {
    double x = ((const lp_profile_entry *)a)->total_ms, y = ((const lp_profile_entry *)b)->total_ms;
    return (x < y) - (x > y);
}

int lp_runtime_profile_entries(lp_runtime *rt, const lp_profile_entry **out) {
    qsort(rt->profile, (size_t)rt->n_profile, sizeof *rt->profile, by_time_desc_);
    *out = rt->profile;
    return rt->n_profile;
}

void lp_runtime_profile_reset(lp_runtime *rt) {
    lp_runtime_profile_collect(rt);
    rt->n_profile = 0;
}

lp_status lp_kernel_arg(cl_kernel k, cl_uint i, size_t size, const void *value) {
    cl_int err = clSetKernelArg(k, i, size, value);
    if (err == CL_SUCCESS) return LP_OK;
    char name[128] = "?";
    clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof name, name, NULL);
    name[sizeof name - 1] = '\0';
    return lp_fail(LP_ERR_OPENCL, "setting argument %u (%zu bytes) of kernel %s: %s (%d)", i, size,
                   name, lp_cl_error_name(err), err);
}
