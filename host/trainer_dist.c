/* A run as one rank of an MPI job (README, "Training on several devices (MPI)"): the
 * exchange that overlaps each backward pass, the agreement check at each LaPerm sync, and the
 * ranks' devices for the results file. The order of the additions is fixed
 * (lp_dist_sum_floats), so every rank applies the same update to the same weights and a
 * job of N ranks gives the same bits in every run. */
#include <stdio.h>
#include <stdlib.h>

#include "hash.h"
#include "trainer-impl.h"

bool lp_trainer_distributed_(const lp_trainer_ *t) {
    return lp_dist_size(t->cfg->dist) > 1;
}

bool lp_trainer_stop_requested_(const lp_trainer_ *t) {
    if (lp_trainer_distributed_(t)) return t->stop_agreed;
    return t->cfg->stop && *t->cfg->stop;
}

/* Gradients go to the other ranks in buckets of whole layers of at least this many
 * floats (1 MiB), the last layers first, each as soon as its layers' backward passes are
 * enqueued: the device goes on with the earlier layers while the host sums the bucket
 * with the other ranks. The sums are element by element, so buckets change no bit. */
#define BUCKET_FLOATS_ ((size_t)256 * 1024)

lp_status lp_trainer_backward_exchange_(lp_trainer_ *t, int s, int rows) {
    size_t np = t->n_params, ns = lp_network_state_floats(t->net), n = np + ns + 3;
    /* Allocated at the first step, kept to the run's end (lp_trainer_release_). */
    size_t buckets_max = (size_t)t->n_tensors + 1;
    if (!t->exchange) t->exchange = malloc(n * sizeof(float));
    if (!t->bucket_bounds) t->bucket_bounds = malloc(buckets_max * sizeof *t->bucket_bounds);
    if (!t->bucket_reads) t->bucket_reads = calloc(buckets_max, sizeof *t->bucket_reads);
    if (!t->exchange || !t->bucket_bounds || !t->bucket_reads)
        return lp_fail(LP_ERR_NO_MEMORY, "out of host memory (%zu floats to exchange)", n);
    size_t *bounds = t->bucket_bounds;
    cl_event *reads = t->bucket_reads;
    float *x = t->exchange, *state = x + np, *stats = state + ns;
    lp_runtime *rt = t->rt;
    lp_dist *d = t->cfg->dist;
    cl_mem grads = lp_network_grads(t->net);
    lp_status st = LP_OK;
    if (rows == 0) st = lp_buffer_fill_zero(rt, grads, 0, np * sizeof(float));
    /* Bucket b is [bounds[b + 1], bounds[b]): tensors are in layer order in the buffer. */
    int buckets = 0, next = t->n_tensors - 1;
    size_t low = np;
    bounds[0] = np;
    for (int i = lp_network_layer_count(t->net) - 1; st == LP_OK && i >= 1; --i) {
        if (rows > 0) st = lp_network_backward_layer(t->net, i, rows);
        while (next >= 0 && t->tensors[next].layer >= i)
            low = t->tensors[next--].offset;
        size_t high = bounds[buckets];
        if (st == LP_OK && high > low && (high - low >= BUCKET_FLOATS_ || next < 0)) {
            st = lp_buffer_read_start(rt, grads, low * sizeof(float), (high - low) * sizeof(float),
                                      x + low, &reads[buckets]);
            bounds[++buckets] = low;
        }
    }
    unsigned long long before = lp_dist_bytes_sent(d);
    for (int b = 0; b < buckets; ++b) {
        lp_status w = lp_buffer_read_wait(reads[b]);
        if (st == LP_OK) st = w;
        if (st == LP_OK) st = lp_dist_sum_floats(d, x + bounds[b + 1], bounds[b] - bounds[b + 1]);
    }
    LP_TRY(st);
    /* Then what the forward pass and the loss left: the running statistics (each rank's,
     * from its own rows, as PyTorch's DDP keeps them; their mean keeps the ranks alike),
     * the step's loss sums and the stop flags. */
    if (ns) LP_TRY(lp_network_state_read(t->net, state));
    LP_TRY(lp_buffer_read(rt, t->stats, (size_t)s * 2 * sizeof(float), 2 * sizeof(float), stats));
    stats[2] = t->cfg->stop && *t->cfg->stop ? 1.0f : 0.0f;
    LP_TRY(lp_dist_sum_floats(d, state, ns + 3));
    t->exchange_bytes += lp_dist_bytes_sent(d) - before;
    t->exchanges++;
    float ranks = (float)lp_dist_size(d);
    for (size_t i = 0; i < ns; ++i)
        state[i] /= ranks;
    t->stop_agreed = stats[2] > 0;
    LP_TRY(lp_buffer_write(rt, grads, 0, np * sizeof(float), x));
    if (ns) LP_TRY(lp_network_state_write(t->net, state));
    return lp_buffer_write(rt, t->stats, (size_t)s * 2 * sizeof(float), 2 * sizeof(float), stats);
}

lp_status lp_trainer_agree_(lp_trainer_ *t, const char *when) {
    if (!lp_trainer_distributed_(t)) return LP_OK;
    size_t ns = lp_network_state_floats(t->net);
    /* The snapshot scratch: nothing else holds it between steps. */
    LP_TRY(lp_buffer_read(t->rt, lp_network_params(t->net), 0, t->n_params * sizeof(float),
                          t->snap_w));
    uint64_t h = lp_hash_bytes(LP_HASH_SEED, t->snap_w, t->n_params * sizeof(float));
    if (ns) {
        LP_TRY(lp_network_state_read(t->net, t->snap_state));
        h = lp_hash_bytes(h, t->snap_state, ns * sizeof(float));
    }
    char what[96];
    snprintf(what, sizeof what, "the weights %s", when);
    return lp_dist_agree(t->cfg->dist, lp_hash_final(h), what);
}

lp_status lp_trainer_gather_devices_(lp_trainer_ *t) {
    t->devices[0] = '\0';
    if (!lp_trainer_distributed_(t)) return LP_OK;
    const lp_device_info *dev = lp_runtime_device(t->rt);
    char mine[256];
    snprintf(mine, sizeof mine, "%.120s [%d:%d, %.100s]", dev->device_name, dev->platform_index,
             dev->device_index, dev->platform_name);
    return lp_dist_gather_text(t->cfg->dist, mine, t->devices, sizeof t->devices);
}
