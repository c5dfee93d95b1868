/* OpenCL runtime: device discovery and selection, one context and in-order queue,
 * kernels compiled at run time for the chosen device (cached in memory and on disk),
 * and a launch helper that respects the device's work-group limits. */
#ifndef LAPERM_RUNTIME_H
#define LAPERM_RUNTIME_H

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "laperm/status.h"

typedef struct {
    int platform_index, device_index;
    cl_platform_id platform;
    cl_device_id device;
    char platform_name[128];
    char platform_version[128];
    char device_name[128];
    char device_version[128]; /* "OpenCL 1.2 pocl ..." */
    char driver_version[128];
    char opencl_c_version[64]; /* "OpenCL C 1.2 ..." */
    cl_device_type type;
    cl_uint compute_units;
    cl_ulong global_mem, max_alloc, local_mem;
    size_t max_work_group_size;
    size_t max_work_item_sizes[3];
    cl_uint preferred_vector_width_float;
    bool fp64;
    bool fma; /* CL_FP_FMA in CL_DEVICE_SINGLE_FP_CONFIG: fma() is a hardware instruction */
    /* Loop iterations a work-item may run in all, every loop of the kernel counted, before
     * the device ends its loops silently; 0: no limit. Not reported by OpenCL: 65535 on
     * Mesa's llvmpipe (gallivm's loop limiter, under Rusticl or Clover), where fma() is
     * emulated with loops of its own (about 4 iterations a call). */
    cl_uint loop_limit;
} lp_device_info;

const char *lp_device_type_name(cl_device_type t);

/* Every device of every platform. *out is malloc'd; free() it. Zero devices is LP_OK. */
lp_status lp_devices_list(lp_device_info **out, int *count);

/* Picks a device: selector "P:D", a case-insensitive substring of the device or
 * platform name, or NULL/"" for $LAPERM_DEVICE, else the first GPU, else the first
 * device. An unknown selector is LP_ERR_NOT_FOUND with the list of devices. */
lp_status lp_device_select(const char *selector, lp_device_info *out);

typedef struct lp_runtime lp_runtime;

/* How float results may depend on the device (README "Portable bits").
 *   fast      kernels are shaped by the device's limits and compiled with contraction
 *             allowed, and the device's own exp, log, sqrt and division: the fastest
 *             code for each device, bit for bit repeatable on it.
 *   portable  every float result is a function of the inputs only: the runtime presents
 *             the fixed limits below instead of the device's, kernels are built with
 *             -DLP_PORTABLE_BITS=1 (no contraction, laperm's own math functions built
 *             from +, -, * and bit operations, denormals flushed where values are
 *             stored), and nothing is chosen by timing or by the kind of device. */
typedef enum { LP_BITS_FAST, LP_BITS_PORTABLE, LP_BITS_COUNT } lp_bits;

/* The limits portable mode presents: OpenCL's minimum local memory (32 KiB) and
 * work-group sizes every conforming implementation laperm runs on offers. A device
 * below them cannot run portable mode (lp_runtime_create names the limit). */
enum {
    LP_PORTABLE_WGS = 256,
    LP_PORTABLE_LOCAL_MEM = 32768,
    LP_PORTABLE_VEC_FLOAT = 8,
    LP_PORTABLE_COMPUTE_UNITS = 8
};

const char *lp_bits_name(lp_bits b); /* "fast", "portable"; "?" out of range */
bool lp_bits_parse(const char *name, lp_bits *out);

typedef struct {
    const char *device; /* selector as above */
    bool profiling;     /* record one event per launch, see lp_runtime_profile_report */
    lp_bits bits;       /* zero: LP_BITS_FAST */
} lp_runtime_options;

lp_status lp_runtime_create(const lp_runtime_options *opt, lp_runtime **out);
void lp_runtime_destroy(lp_runtime *rt);

/* The device as kernels are shaped for it: in portable mode its limits (work-group
 * sizes, local memory, vector width, compute units, fp64) are the fixed LP_PORTABLE_*
 * values; names, versions, type and memory sizes are the device's. */
const lp_device_info *lp_runtime_device(const lp_runtime *rt);
lp_bits lp_runtime_bits(const lp_runtime *rt);
cl_context lp_runtime_context(const lp_runtime *rt);
cl_command_queue lp_runtime_queue(const lp_runtime *rt);
/* Points to the queue handle, as CLBlast routines want it. */
cl_command_queue *lp_runtime_queue_ptr(lp_runtime *rt);

/* "-DNAME=<value>" for extra_options: hands a host constant (a macro) to a kernel, so the
 * number is written once, on the host. LP_CL_DEFINE(LP_POOL_MAX, POOL_MAX_) with
 * POOL_MAX_ 0 gives "-DLP_POOL_MAX=0". */
#define LP_CL_STR_(x) #x
#define LP_CL_DEFINE(name, value) "-D" #name "=" LP_CL_STR_(value)

/* A kernel from program cl/<program>.cl (with cl/common.cl prepended), built with the
 * device-derived defines plus `extra_options` ("-DWGS=128", may be NULL). Programs and
 * kernels are cached; the caller must not release the kernel. */
lp_status lp_runtime_kernel(lp_runtime *rt, const char *program, const char *kernel_name,
                            const char *extra_options, cl_kernel *out);

/* Whether the device runs explicit vector loops in one work-item best: a CPU device that
 * prefers float vectors of 4 or more (PoCL). Others (GPUs, and CPUs that vectorize across
 * work-items, preferred width 1, as Rusticl's llvmpipe) want many work-items instead: in
 * the one-work-item forms llvmpipe used one SIMD lane in eight (README, "Matrix products"). */
bool lp_runtime_vector_loops(const lp_runtime *rt);

/* Whether element-wise kernels should take their by-plane form (one work-item per
 * (sample, channel) plane, vector loops along it), which such devices
 * (lp_runtime_vector_loops) run several times faster, rather than one work-item per value,
 * which coalesces on GPUs. Both forms give the same bits. $LAPERM_KERNEL_FORM=planes|pixels
 * overrides the device rule (tests run both forms on every device). */
bool lp_runtime_plane_kernels(const lp_runtime *rt);

/* Work-group size to use for a 1-D kernel that wants `preferred` items:
 * min(preferred, device max, kernel max), rounded down to a power of two. In portable
 * mode min(preferred, LP_PORTABLE_WGS), whatever the kernel's limit (a kernel that cannot
 * take it fails at launch, naming the launch). */
size_t lp_runtime_wgs(lp_runtime *rt, cl_kernel k, size_t preferred);

/* Enqueues `k`. `global` is rounded up to a multiple of `local` (if local is given);
 * kernels must bounds-check. `label` names the launch in the profile report. */
lp_status lp_launch(lp_runtime *rt, cl_kernel k, cl_uint dims, const size_t *global,
                    const size_t *local, const char *label);

/* Sets argument i of kernel k; a wrong index, size or value is LP_ERR_OPENCL naming the
 * kernel, the argument and the OpenCL code, not a failed launch later. */
lp_status lp_kernel_arg(cl_kernel k, cl_uint i, size_t size, const void *value);
/* The same from an lvalue, returning the failure from the enclosing function (which
 * returns lp_status); LP_ARG_LOCAL sizes a __local argument. */
#define LP_ARG(k, i, x) LP_TRY(lp_kernel_arg((k), (i), sizeof(x), &(x)))
#define LP_ARG_LOCAL(k, i, bytes) LP_TRY(lp_kernel_arg((k), (i), (bytes), NULL))

/* Buffer helpers (blocking unless noted). */
lp_status lp_buffer_create(lp_runtime *rt, size_t bytes, const char *what, cl_mem *out);
/* A buffer whose bytes are zero, copied from the host at creation. Kernels that write a
 * buffer before reading it don't need this, but Oclgrind 21.10 can report a kernel-only
 * buffer that reuses a released one's memory as uninitialised; buffers created this way
 * never are. Use it for buffers created once (layers, workspaces), not per step. */
lp_status lp_buffer_create_zeroed(lp_runtime *rt, size_t bytes, const char *what, cl_mem *out);
lp_status lp_buffer_write(lp_runtime *rt, cl_mem buf, size_t offset, size_t bytes, const void *src);
lp_status lp_buffer_read(lp_runtime *rt, cl_mem buf, size_t offset, size_t bytes, void *dst);
/* A read that returns at once: the copy runs on the queue after what is enqueued before
 * it (the device starts on it now), and lp_buffer_read_wait(done) waits for it (and
 * releases done); dst must stay untouched until then. */
lp_status lp_buffer_read_start(lp_runtime *rt, cl_mem buf, size_t offset, size_t bytes, void *dst,
                               cl_event *done);
lp_status lp_buffer_read_wait(cl_event done);
lp_status lp_buffer_fill_zero(lp_runtime *rt, cl_mem buf, size_t offset, size_t bytes);
lp_status lp_runtime_finish(lp_runtime *rt);

/* Device memory in the buffers made by lp_buffer_create and lp_buffer_create_zeroed (every
 * buffer laperm allocates; not the temporaries CLBlast allocates inside its calls), in
 * bytes: what is live now, and the most that was live at once since the first buffer or
 * the last lp_runtime_memory_mark. A buffer counts until OpenCL frees it, after its last
 * release and the last queued command that uses it. untracked: buffers whose release
 * could not be followed (clSetMemObjectDestructorCallback failed): counted as live for
 * good. */
typedef struct {
    uint64_t live, peak;
    long untracked;
} lp_memory_use;
lp_memory_use lp_runtime_memory(const lp_runtime *rt);
/* Starts a new peak at what is live now. */
void lp_runtime_memory_mark(lp_runtime *rt);

/* Profiling: per-label totals of device time, when created with profiling = true. */
typedef struct {
    const char *label;
    double total_ms;
    long launches;
} lp_profile_entry;
/* Event slot for a launch made outside lp_launch (CLBlast takes a cl_event*): NULL
 * when profiling is off. The runtime releases it when collecting. */
cl_event *lp_runtime_profile_event(lp_runtime *rt, const char *label);
/* Waits for the queue, folds finished events into the totals. */
lp_status lp_runtime_profile_collect(lp_runtime *rt);
/* Entries sorted by total time, descending; valid until the next collect. */
int lp_runtime_profile_entries(lp_runtime *rt, const lp_profile_entry **out);
void lp_runtime_profile_reset(lp_runtime *rt);

/* State that code built on the runtime keeps per runtime (an operation's choices and
 * workspaces, say), so that the runtime needs to know nothing of that code. key names it
 * (copied); attaching a key twice is LP_ERR_INVALID_ARG. destroy (may be NULL) is called
 * by lp_runtime_destroy, in reverse order of attachment, after the queue has finished and
 * while the context still exists; it is not called when attaching fails. */
lp_status lp_runtime_attach(lp_runtime *rt, const char *key, void *state,
                            void (*destroy)(void *state));
/* What was attached under key, or NULL. */
void *lp_runtime_attached(const lp_runtime *rt, const char *key);

/* The folder of laperm's disk cache (compiled programs, and the files of code built on the
 * runtime): $LAPERM_CACHE_DIR, else $XDG_CACHE_HOME/laperm, else ~/.cache/laperm, which
 * may not exist yet. False when $LAPERM_CACHE is off, 0 or no, or no folder can be named. */
bool lp_runtime_cache_dir(char *dst, size_t cap);

/* Statistics on program builds: how many came from memory, disk, or a compile. */
typedef struct {
    int compiled, from_disk, from_memory;
    double build_seconds; /* time spent in clBuildProgram / binary loading */
    /* Disk cache entries refused (cut short, damaged, foreign, or not building on this
     * driver): each was compiled again and its entry rewritten, so this is no error, but a
     * warning for the caller to show. disk_note says why the last one was refused ("" if
     * none). */
    int disk_rejected;
    char disk_note[512];
} lp_build_stats;
lp_build_stats lp_runtime_build_stats(const lp_runtime *rt);

#endif
