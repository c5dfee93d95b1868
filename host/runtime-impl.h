/* Internal state of lp_runtime, shared by runtime.c and program_cache.c. */
#ifndef LAPERM_RUNTIME_IMPL_H
#define LAPERM_RUNTIME_IMPL_H

#include <stdint.h>

#include "laperm/runtime.h"

typedef struct {
    char *program, *options, *kernel_name;
    cl_kernel kernel;
} lp_kernel_entry_;

typedef struct {
    char *program, *options;
    cl_program handle;
    /* Compiled in this run with the disk cache on: its entry is written at
     * lp_programs_release_, once the run has launched its kernels (program_cache.c). */
    char *save_path;
    uint64_t key_a, key_b;
} lp_program_entry_;

typedef struct {
    const char *label;
    cl_event event;
} lp_pending_event_;

typedef struct {
    char *key;
    void *state;
    void (*destroy)(void *state);
} lp_attachment_;

struct lp_runtime {
    lp_device_info info;
    cl_context context;
    cl_command_queue queue;
    bool profiling;
    lp_bits bits;
    char device_options[512]; /* -D defines derived from the device */

    lp_program_entry_ *programs;
    int n_programs, cap_programs;
    lp_kernel_entry_ *kernels;
    int n_kernels, cap_kernels;
    lp_build_stats stats;

    lp_pending_event_ *pending;
    int n_pending, cap_pending;
    lp_profile_entry *profile;
    int n_profile, cap_profile;

    lp_attachment_ *attached; /* lp_runtime_attach, in order */
    int n_attached, cap_attached;

    struct lp_memory_tracker_ *memory; /* runtime_memory.c; NULL until the first buffer */
};

/* Builds (or fetches from the memory/disk cache) cl/<program>.cl with options. */
lp_status lp_program_get_(lp_runtime *rt, const char *program, const char *options,
                          cl_program *out);
/* Writes the disk entries of the programs compiled in this run, then releases them all. */
void lp_programs_release_(lp_runtime *rt);

/* runtime_memory.c: counts a buffer just made by lp_buffer_create*, and drops the
 * runtime's hold on the counts when it is destroyed. */
void lp_runtime_memory_track_(lp_runtime *rt, cl_mem buf, size_t bytes);
void lp_runtime_memory_release_(lp_runtime *rt);

#endif
