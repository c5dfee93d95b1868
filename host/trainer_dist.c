/* A run as one rank of an MPI job (README, "Training on several devices (MPI)"): the
 * exchange after each backward pass, the agreement check at each LaPerm sync, and the
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

lp_status lp_trainer_exchange_(lp_trainer_ *t, int s) {
    size_t np = t->n_params, ns = lp_network_state_floats(t->net), n = np + ns + 3;
    if (!t->exchange && !(t->exchange = malloc(n * sizeof(float))))
        return lp_fail(LP_ERR_NO_MEMORY, "out of host memory (%zu floats to exchange)", n);
    float *x = t->exchange, *state = x + np, *stats = state + ns;
    lp_runtime *rt = t->rt;
    LP_TRY(lp_buffer_read(rt, lp_network_grads(t->net), 0, np * sizeof(float), x));
    if (ns) LP_TRY(lp_network_state_read(t->net, state));
    LP_TRY(lp_buffer_read(rt, t->stats, (size_t)s * 2 * sizeof(float), 2 * sizeof(float), stats));
    stats[2] = t->cfg->stop && *t->cfg->stop ? 1.0f : 0.0f;
    unsigned long long before = lp_dist_bytes_sent(t->cfg->dist);
    LP_TRY(lp_dist_sum_floats(t->cfg->dist, x, n));
    t->exchange_bytes += lp_dist_bytes_sent(t->cfg->dist) - before;
    t->exchanges++;
    /* Every rank updated its running statistics from its own rows (as PyTorch's DDP
     * does); their mean keeps the ranks alike. */
    float ranks = (float)lp_dist_size(t->cfg->dist);
    for (size_t i = 0; i < ns; ++i)
        state[i] /= ranks;
    t->stop_agreed = stats[2] > 0;
    LP_TRY(lp_buffer_write(rt, lp_network_grads(t->net), 0, np * sizeof(float), x));
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
