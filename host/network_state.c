/* Layer state outside the parameters (BatchNorm's running statistics): registered by
 * layer inits, read and written whole for snapshots, checkpoints and /weights. */
#include <stdlib.h>

#include "layer.h"

lp_status lp_layer_add_state(lp_network *net, lp_layer *l, const char *name, cl_mem buf,
                             size_t offset, size_t count) {
    lp_network_state_entry *grown = realloc(net->state, (size_t)(net->n_state + 1) * sizeof *grown);
    if (!grown) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    net->state = grown;
    net->state[net->n_state++] = (lp_network_state_entry){
        .info = {.layer = l->index, .name = name, .rank = 1, .dims = {(int)count}, .count = count},
        .buf = buf,
        .offset = offset};
    return LP_OK;
}

int lp_network_state_count(const lp_network *net) {
    return net->n_state;
}

const lp_state_tensor *lp_network_state_at(const lp_network *net, int i) {
    return i >= 0 && i < net->n_state ? &net->state[i].info : NULL;
}

size_t lp_network_state_floats(const lp_network *net) {
    size_t n = 0;
    for (int i = 0; i < net->n_state; ++i)
        n += net->state[i].info.count;
    return n;
}

lp_status lp_network_state_read(lp_network *net, float *flat) {
    for (int i = 0; i < net->n_state; ++i) {
        const lp_network_state_entry *e = &net->state[i];
        LP_TRY(lp_buffer_read(net->rt, e->buf, e->offset * sizeof(float),
                              e->info.count * sizeof(float), flat));
        flat += e->info.count;
    }
    return LP_OK;
}

lp_status lp_network_state_write(lp_network *net, const float *flat) {
    for (int i = 0; i < net->n_state; ++i) {
        const lp_network_state_entry *e = &net->state[i];
        LP_TRY(lp_buffer_write(net->rt, e->buf, e->offset * sizeof(float),
                               e->info.count * sizeof(float), flat));
        flat += e->info.count;
    }
    return LP_OK;
}
