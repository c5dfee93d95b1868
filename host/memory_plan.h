/* Up-front memory check of a training run: the device memory it will allocate, estimated
 * from the model and the run's sizes before anything is allocated, and checked against
 * the device's global memory and largest allocation (and, for a CPU device, the memory
 * the host has left), so that a run too large for the device stops at once with the
 * figures and what to lower, not midway with CL_MEM_OBJECT_ALLOCATION_FAILURE or an
 * out-of-memory kill. A pure function of its arguments (no OpenCL call), but for what the
 * caller's layer_bytes answers. */
#ifndef LAPERM_MEMORY_PLAN_H
#define LAPERM_MEMORY_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "laperm/model.h"
#include "laperm/runtime.h"

typedef struct {
    int batch;            /* training batch */
    int eval_batch;       /* evaluation batch, resolved (the trainer's, never 0 for auto) */
    int optimizer_states; /* parameter-sized optimizer state buffers (Adam 2, +1 Lookahead) */
    bool laperm;          /* LaPerm: sorted initial values, projected copy, rankings, sort */
    /* Which tensors LaPerm permutes and in what groups, as in lp_train_config. */
    bool perm_bias, perm_bn, per_tensor_scope;
    long long train_n, test_n; /* samples of each set copied to the device */
    /* float inputs (lp_dataset.x_real: 4 bytes a value, else 1) and regression targets
     * per sample (floats; 0 for classification) */
    bool x_real;
    int targets;
    /* Bytes the host can still give (lp_memory_host_available()), checked for a CPU
     * device, whose buffers are host memory; 0: unknown, not checked. */
    uint64_t host_available;
    /* The bytes the layers hold beyond their outputs and the gradient buffers, for a
     * network of max_batch samples trained at train_batch (layer state, convolution paths,
     * their workspace: lp_network_plan_held with the run's network options); NULL: not
     * counted. */
    lp_status (*layer_bytes)(void *ctx, int max_batch, int train_batch, uint64_t *bytes);
    void *layer_bytes_ctx;
} lp_memory_plan_input;

/* The estimate, in bytes. */
typedef struct {
    uint64_t parameters, gradients;
    uint64_t optimizer;   /* the inner optimizer's state */
    uint64_t laperm;      /* sorted initial values, projected copy, int32 rankings, sort scratch */
    uint64_t activations; /* every layer's output and the gradients' shared buffers
                             (gradient_plan.h), at `batch` samples */
    uint64_t layers;      /* layer state, convolution paths' buffers and their workspace
                             (lp_memory_plan_input.layer_bytes) */
    uint64_t data;        /* training and test images as bytes, int32 labels and order */
    uint64_t other;       /* batch labels, normalisation, per-step statistics */
    uint64_t total;
    uint64_t per_sample;   /* activations and gradient buffers of one sample */
    int batch;             /* max(batch, eval_batch): what the network's buffers hold */
    uint64_t largest;      /* the largest single buffer, */
    char largest_what[96]; /* and what it holds ("activations of dense_1", "training images") */
    uint64_t limit;        /* what the total is held against: device memory, or less host */
    bool host_limited;     /* limit is the host's available memory (a CPU device) */
} lp_memory_plan;

/* Fills *out (also on failure, for the caller to show) and checks it. LP_ERR_NO_MEMORY
 * when the total exceeds the device's global memory (or, for a CPU device, the host's
 * available memory) or one buffer exceeds the device's largest allocation; the message
 * gives the figures and what to lower: "training needs 5123.4 MiB of device memory, the
 * device has 4004.0 MiB: parameters 1.0 MiB, ..., activations at batch 1000 4000.0 MiB
 * (4.0 MiB a sample), ...; lower --eval-batch and --batch to at most 245". Impossible
 * sizes are LP_ERR_INVALID_ARG. */
lp_status lp_memory_plan_check(const lp_model_spec *m, const lp_memory_plan_input *in,
                               const lp_device_info *dev, lp_memory_plan *out);

/* Bytes of memory the host can still give this process: MemAvailable from /proc/meminfo,
 * or less under a cgroup (v2) memory limit; sysconf's available pages elsewhere. 0 if
 * unknown. Reads files, so not part of the pure check above. */
uint64_t lp_memory_host_available(void);

#endif
