/* Training state: initial weights, theta_sorted, the optimizer's state (the inner
 * optimizer's and Lookahead's slow weights), device copies of the data; the LaPerm
 * operations over every permuted tensor; evaluation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "init_from.h"
#include "laperm/augment.h"
#include "laperm/gemm.h"
#include "laperm/init.h"
#include "laperm/ops.h"
#include "trainer-impl.h"

/* What decides the initial values and the groups, as the results file records it. */
static lp_init_setup init_setup_(const lp_train_config *cfg) {
    return (lp_init_setup){.seed = cfg->seed,
                           .laperm = cfg->laperm,
                           .perm_bias = cfg->perm_bias,
                           .perm_bn = cfg->perm_bn,
                           .per_tensor_scope = cfg->per_tensor_scope,
                           .override = cfg->init_override};
}

/* The permuted tensors' groups, then init_host: the initializers (lp_init_run_values, which
 * `laperm unpack` shares), or --init-from's values, shuffled per group with
 * --init-from-shuffle. */
static lp_status initial_values_(lp_trainer_ *t) {
    const lp_train_config *cfg = t->cfg;
    lp_init_setup setup = init_setup_(cfg);
    if (!cfg->init_from) lp_init_run_values(&setup, t->tensors, t->n_tensors, t->init_host);
    for (int i = 0; i < t->n_tensors; ++i) {
        if (!lp_init_permuted(&setup, &t->tensors[i])) continue;
        lp_perm_group_ *g = &t->perm[t->n_perm++];
        g->tensor = i;
        lp_init_groups(&setup, &t->tensors[i], &g->groups, &g->group_size);
    }
    const lp_float_list *l = &cfg->init_override.opts.values;
    size_t len = 0, cap = sizeof t->init_values_text;
    t->init_values_text[0] = '\0';
    for (int i = 0; i < l->n && len < cap; ++i) {
        int w =
            snprintf(t->init_values_text + len, cap - len, "%s%.9g", i ? "," : "", (double)l->v[i]);
        len = w < 0 ? cap : len + (size_t)w;
    }
    if (!cfg->init_from) return LP_OK;
    int n_layers = 0;
    for (int i = 0; i < t->n_tensors; ++i)
        if (t->tensors[i].layer >= n_layers) n_layers = t->tensors[i].layer + 1;
    const char **names = calloc((size_t)n_layers + 1, sizeof *names);
    if (!names) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    for (int i = 0; i < n_layers; ++i)
        names[i] = lp_network_layer_name(t->net, i);
    lp_status s = lp_init_from_results(cfg->init_from, t->tensors, t->n_tensors, names,
                                       t->init_host, t->init_from_hash);
    free(names);
    for (int i = 0; s == LP_OK && cfg->init_from_shuffle && i < t->n_perm; ++i) {
        const lp_perm_group_ *g = &t->perm[i];
        lp_init_shuffle_groups(t->init_host + t->tensors[g->tensor].offset, g->groups,
                               g->group_size, cfg->seed,
                               LP_STREAM_INIT_SHUFFLE + (uint32_t)g->tensor);
    }
    /* As the initializers do: one zero, so that every group sorts into one kind of it. */
    for (size_t i = 0; s == LP_OK && i < t->n_params; ++i)
        if (t->init_host[i] == 0.0f) t->init_host[i] = 0.0f;
    return s;
}

int lp_trainer_inner_buffers_(const lp_train_config *c) {
    int n = 0;
    while (n < LP_OPTIMIZER_MAX_STATE && c->inner->state[n])
        ++n;
    return n;
}

int lp_trainer_state_buffers_(const lp_train_config *c) {
    return lp_trainer_inner_buffers_(c) + (c->lookahead ? 1 : 0);
}

lp_status lp_trainer_setup_(lp_trainer_ *t, const lp_dataset *train, const lp_dataset *test) {
    const lp_train_config *cfg = t->cfg;
    lp_runtime *rt = t->rt;
    t->tensors = lp_network_tensors(t->net, &t->n_tensors);
    t->input_shape = (lp_shape){train->c, train->h, train->w};
    t->n_params = lp_network_param_count(t->net);
    size_t bytes = t->n_params * sizeof(float);

    /* Initial weights on the host (bit-identical everywhere), then theta_sorted. */
    t->init_host = malloc(bytes);
    float *sorted = calloc(t->n_params ? t->n_params : 1, sizeof(float));
    t->perm = calloc((size_t)t->n_tensors + 1, sizeof *t->perm);
    if (!t->init_host || !sorted || !t->perm) {
        free(sorted);
        return lp_fail(LP_ERR_NO_MEMORY, "out of host memory for %zu parameters", t->n_params);
    }
    lp_status s = initial_values_(t);
    for (int i = 0; s == LP_OK && i < t->n_perm; ++i) {
        const lp_perm_group_ *g = &t->perm[i];
        size_t off = t->tensors[g->tensor].offset;
        lp_sort_groups_host(t->init_host + off, g->groups, g->group_size, sorted + off);
    }
    if (s == LP_OK) s = lp_buffer_write(rt, lp_network_params(t->net), 0, bytes, t->init_host);
    int inner = lp_trainer_inner_buffers_(cfg);
    for (int i = 0; s == LP_OK && i < inner; ++i) {
        s = lp_buffer_create(rt, bytes, cfg->inner->state[i], &t->opt_state[i]);
        if (s == LP_OK) s = lp_buffer_fill_zero(rt, t->opt_state[i], 0, bytes);
    }
    /* Lookahead's slow weights start as the initial weights (before any mask or sync
     * would change w: there is none before step 1). */
    if (s == LP_OK && cfg->lookahead) {
        s = lp_buffer_create(rt, bytes, "Lookahead slow weights", &t->opt_state[inner]);
        if (s == LP_OK) s = lp_buffer_write(rt, t->opt_state[inner], 0, bytes, t->init_host);
    }
    if (s == LP_OK && t->n_perm) {
        s = lp_buffer_create(rt, bytes, "theta_sorted", &t->theta_sorted);
        if (s == LP_OK) s = lp_buffer_write(rt, t->theta_sorted, 0, bytes, sorted);
        if (s == LP_OK) s = lp_buffer_create(rt, bytes, "projected parameters", &t->eval_params);
        if (s == LP_OK)
            s = lp_buffer_create(rt, t->n_params * sizeof(int32_t), "rankings", &t->rank);
        if (s == LP_OK) s = lp_buffer_fill_zero(rt, t->rank, 0, t->n_params * sizeof(int32_t));
        size_t largest = 0;
        for (int i = 0; i < t->n_perm; ++i) {
            size_t p2 = 1;
            while (p2 < (size_t)t->perm[i].group_size)
                p2 *= 2;
            if (p2 * (size_t)t->perm[i].groups > largest) largest = p2 * (size_t)t->perm[i].groups;
        }
        if (s == LP_OK) s = lp_segsort_create(rt, largest, &t->sorter);
    }
    free(sorted);
    if (s != LP_OK) return s;

    t->x_real = train->x_real;
    t->outputs = train->outputs;
    LP_TRY(lp_feed_upload(rt, train, &t->train_x, &t->train_y, &t->train_t, &t->train_idx, false));
    LP_TRY(lp_feed_upload(rt, test, &t->test_x, &t->test_y, &t->test_t, &t->test_idx, true));
    int max_batch = lp_network_max_batch(t->net);
    LP_TRY(lp_buffer_create(rt, (size_t)max_batch * sizeof(int32_t), "batch labels", &t->batch_y));
    if (t->outputs > 0)
        LP_TRY(lp_buffer_create(rt, (size_t)max_batch * (size_t)t->outputs * sizeof(float),
                                "batch targets", &t->batch_t));
    LP_TRY(lp_feed_norm(rt, train, cfg->norm, &t->norm_mean, &t->norm_inv_std));
    t->steps_per_epoch = (train->n + cfg->batch - 1) / cfg->batch;
    /* Zeroed: a checkpoint taken before the first step's statistics (a stop during set-up)
     * saves this buffer, and uninitialised floats would make two runs' files differ. */
    LP_TRY(lp_buffer_create_zeroed(rt, (size_t)(t->steps_per_epoch + 1) * 2 * sizeof(float),
                                   "loss statistics", &t->stats));
    t->order_host = malloc((size_t)train->n * sizeof *t->order_host);
    if (!t->order_host) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    static const int32_t guard_clear[2] = {0, 0x7FFFFFFF};
    LP_TRY(lp_buffer_create(rt, sizeof guard_clear, "divergence guard", &t->guard));
    LP_TRY(lp_buffer_write(rt, t->guard, 0, sizeof guard_clear, guard_clear));
    size_t n_state = lp_network_state_floats(t->net);
    t->snap_w = malloc(bytes + 1);
    t->snap_rank = malloc(t->n_params * sizeof(int32_t) + 1);
    t->snap_state = malloc(n_state * sizeof(float) + 1);
    if (!t->snap_w || !t->snap_rank || !t->snap_state)
        return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    return LP_OK;
}

/* ---- checkpoints -------------------------------------------------------------------- */

lp_status lp_trainer_checkpoint_read_(lp_trainer_ *t, const lp_results_checkpoint_size *z,
                                      lp_results_checkpoint *c) {
    lp_runtime *rt = t->rt;
    if (!c->params) {
        c->size = *z;
        c->params = malloc(z->params * sizeof(float));
        c->optimizer = malloc(z->params * (size_t)z->optimizer_buffers * sizeof(float) + 1);
        c->state = z->state ? malloc(z->state * sizeof(float)) : NULL;
        c->stats = z->stats ? malloc(z->stats * sizeof(float)) : NULL;
        c->choices = malloc(LP_RESULTS_CHOICES_MAX);
        c->best_params = z->best ? malloc(z->params * sizeof(float)) : NULL;
        c->best_state = z->best && z->state ? malloc(z->state * sizeof(float)) : NULL;
        if (!c->params || !c->optimizer || (z->state && !c->state) || (z->stats && !c->stats) ||
            !c->choices || (z->best && !c->best_params) || (z->best && z->state && !c->best_state))
            return lp_fail(LP_ERR_NO_MEMORY, "out of host memory for a checkpoint");
        if (!z->optimizer_buffers) free(c->optimizer), c->optimizer = NULL;
    }
    size_t bytes = z->params * sizeof(float);
    LP_TRY(lp_buffer_read(rt, lp_network_params(t->net), 0, bytes, c->params));
    for (int i = 0; i < z->optimizer_buffers; ++i)
        LP_TRY(lp_buffer_read(rt, t->opt_state[i], 0, bytes, c->optimizer + i * z->params));
    if (c->state) LP_TRY(lp_network_state_read(t->net, c->state));
    if (c->stats) LP_TRY(lp_buffer_read(rt, t->stats, 0, z->stats * sizeof(float), c->stats));
    lp_gemm_choices_text(rt, c->choices, LP_RESULTS_CHOICES_MAX);
    c->step = t->step;
    c->syncs = t->syncs;
    c->best = t->best;
    if (c->best_params) memcpy(c->best_params, t->best_w, z->params * sizeof(float));
    if (c->best_state) memcpy(c->best_state, t->best_state, z->state * sizeof(float));
    return LP_OK;
}

lp_status lp_trainer_restore_(lp_trainer_ *t, const lp_results_checkpoint *c) {
    lp_runtime *rt = t->rt;
    const lp_results_checkpoint_size *z = &c->size;
    if (z->params != t->n_params || z->state != lp_network_state_floats(t->net) ||
        z->stats != (size_t)t->steps_per_epoch * 2)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "the checkpoint holds %zu parameters, %zu state values and %zu step "
                       "statistics; this run has %zu, %zu and %zu",
                       z->params, z->state, z->stats, t->n_params, lp_network_state_floats(t->net),
                       (size_t)t->steps_per_epoch * 2);
    size_t bytes = z->params * sizeof(float);
    LP_TRY(lp_buffer_write(rt, lp_network_params(t->net), 0, bytes, c->params));
    if (z->optimizer_buffers != lp_trainer_state_buffers_(t->cfg))
        return lp_fail(LP_ERR_INVALID_ARG,
                       "the checkpoint holds %d optimizer state buffers; this run keeps %d",
                       z->optimizer_buffers, lp_trainer_state_buffers_(t->cfg));
    for (int i = 0; i < z->optimizer_buffers; ++i) {
        LP_TRY(lp_buffer_write(rt, t->opt_state[i], 0, bytes, c->optimizer + i * z->params));
    }
    if (c->state) LP_TRY(lp_network_state_write(t->net, c->state));
    if (c->stats) LP_TRY(lp_buffer_write(rt, t->stats, 0, z->stats * sizeof(float), c->stats));
    t->step = c->step;
    t->syncs = c->syncs;
    return LP_OK;
}

void lp_trainer_release_(lp_trainer_ *t) {
    cl_mem bufs[] = {t->theta_sorted, t->eval_params, t->rank,         t->train_x,  t->train_y,
                     t->train_idx,    t->test_x,      t->test_y,       t->test_idx, t->batch_y,
                     t->stats,        t->norm_mean,   t->norm_inv_std, t->guard,    t->train_t,
                     t->test_t,       t->batch_t};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; ++i)
        if (bufs[i]) clReleaseMemObject(bufs[i]);
    for (int i = 0; i < LP_TRAINER_MAX_STATE_; ++i)
        if (t->opt_state[i]) clReleaseMemObject(t->opt_state[i]);
    lp_segsort_destroy(t->sorter);
    free(t->init_host);
    free(t->perm);
    free(t->order_host);
    free(t->snap_w);
    free(t->snap_rank);
    free(t->snap_state);
    free(t->best_w);
    free(t->best_state);
    free(t->exchange);
    free(t->bucket_bounds);
    free(t->bucket_reads);
    lp_results_checkpoint_free(&t->ckpt);
}

lp_status lp_trainer_sync_(lp_trainer_ *t) {
    cl_mem params = lp_network_params(t->net);
    for (int i = 0; i < t->n_perm; ++i) {
        const lp_perm_group_ *g = &t->perm[i];
        size_t off = t->tensors[g->tensor].offset;
        LP_TRY(lp_laperm_sync(t->sorter, params, off, t->theta_sorted, off, g->groups,
                              g->group_size, params, off, NULL, 0));
    }
    t->syncs++;
    return LP_OK;
}

bool lp_trainer_sync_due_(const lp_trainer_ *t) {
    const lp_train_config *c = t->cfg;
    return c->laperm && t->step % lp_k_at(&c->k_steps, c->k, t->epoch) == 0;
}

lp_status lp_trainer_project_(lp_trainer_ *t) {
    if (!t->n_perm) return LP_OK;
    cl_mem params = lp_network_params(t->net);
    LP_TRY(lp_cl_check(clEnqueueCopyBuffer(lp_runtime_queue(t->rt), params, t->eval_params, 0, 0,
                                           t->n_params * sizeof(float), 0, NULL, NULL),
                       "copying parameters for evaluation"));
    for (int i = 0; i < t->n_perm; ++i) {
        const lp_perm_group_ *g = &t->perm[i];
        size_t off = t->tensors[g->tensor].offset;
        LP_TRY(lp_laperm_sync(t->sorter, params, off, t->theta_sorted, off, g->groups,
                              g->group_size, t->eval_params, off, t->rank, off));
    }
    return LP_OK;
}

/* What a batch of this run is built into (feed.h). */
static lp_feed feed_(const lp_trainer_ *t) {
    return (lp_feed){.rt = t->rt,
                     .net = t->net,
                     .input = t->input_shape,
                     .x_real = t->x_real,
                     .outputs = t->outputs,
                     .norm_mean = t->norm_mean,
                     .norm_inv_std = t->norm_inv_std,
                     .batch_y = t->batch_y,
                     .batch_t = t->batch_t};
}

lp_status lp_trainer_evaluate_(lp_trainer_ *t, int test_n, double *loss, double *acc) {
    lp_feed f = feed_(t);
    /* Under MPI each rank evaluates its share of the rows and the sums are added in rank
     * order; one process alone takes every row. */
    lp_dist *d = t->cfg->dist;
    long long first, count;
    lp_dist_share(test_n, lp_dist_rank(d), lp_dist_size(d), &first, &count);
    float mine[2] = {0, 0};
    if (count > 0)
        LP_TRY(lp_feed_evaluate_rows(&f, t->cfg->loss, t->eval_batch, t->test_x, t->test_y,
                                     t->test_t, t->test_idx, (int)first, (int)count, t->stats,
                                     2 * t->steps_per_epoch, NULL, mine));
    double sums[2] = {mine[0], mine[1]};
    LP_TRY(lp_dist_sum_doubles(d, sums, 2));
    /* Means of the float sums in float, as lp_feed_evaluate makes them. */
    *loss = test_n ? (float)sums[0] / test_n : 0.0;
    *acc = test_n ? (float)sums[1] / test_n : 0.0;
    return LP_OK;
}

lp_status lp_trainer_batch_(lp_trainer_ *t, const lp_augment_spec *a, int epoch, cl_mem x, cl_mem y,
                            cl_mem tg, cl_mem idx, int first, int n) {
    lp_feed f = feed_(t);
    return lp_feed_batch(&f, a, t->cfg->seed, epoch, x, y, tg, idx, first, n);
}
