/* The training loop: per step batch (augment) -> forward -> loss -> backward (under MPI:
 * over this rank's rows of the batch, with the exchange of trainer_dist.c) -> optimizer
 * (L2, weight decay, inner update, Lookahead every la_k steps) -> divergence guard ->
 * (LaPerm sync when step % k(epoch) == 0), all enqueued without waiting for the device;
 * per epoch (and every eval_every steps) evaluation of the projected network; per epoch
 * metrics, a snapshot and a checkpoint; resuming from a checkpoint, and going back to the
 * last good one when the guard finds a non-finite value. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/augment.h"
#include "laperm/clock.h"
#include "laperm/evaluate.h"
#include "laperm/gemm.h"
#include "laperm/ops.h"
#include "laperm/rng.h"
#include "laperm/tune.h"
#include "memory_plan.h"
#include "out_lock.h"
#include "trainer-impl.h"
#include "trainer_results.h"

void lp_train_config_defaults(lp_train_config *c) {
    memset(c, 0, sizeof *c);
    c->laperm = true;
    c->inner = lp_optimizer_at(0);
    const lp_optimizer *o;
    for (int i = 0; (o = lp_optimizer_at(i)); ++i)
        for (int j = 0; j < o->n_params; ++j)
            c->optimizer_params[i][j] = o->params[j].def;
    c->loss = lp_loss_at(0);
    c->k = 250;
    c->la_k = 5;
    c->la_alpha = 0.5;
    c->epochs = 10;
    c->batch = 128;
    c->eval_batch = 0; /* auto: see eval_batch_ */
    c->lr.kind = LP_LR_CONSTANT;
    c->lr.base = 1e-3;
    c->lr.decay = 1.0;
    c->l2_scale = 1.0;
    c->seed = 1;
    c->conv_algo = LP_CONV_ALGO_AUTO;
}

static lp_status check_config_(const lp_train_config *c, const lp_dataset *train,
                               const lp_dataset *test, const lp_model_spec *m) {
    if (c->batch <= 0 || c->eval_batch < 0 || c->epochs <= 0)
        return lp_fail(LP_ERR_INVALID_ARG, "batch, eval batch and epochs must be positive");
    if (c->laperm && c->k <= 0) return lp_fail(LP_ERR_INVALID_ARG, "k must be positive");
    if (c->k_steps.n < 0 || c->k_steps.n > LP_MAX_K_STEPS)
        return lp_fail(LP_ERR_INVALID_ARG, "k_steps: %d entries (at most %d)", c->k_steps.n,
                       LP_MAX_K_STEPS);
    for (int i = 0; i < c->k_steps.n; ++i)
        if (c->k_steps.k[i] <= 0 || c->k_steps.epoch[i] < 0 ||
            (i && c->k_steps.epoch[i] <= c->k_steps.epoch[i - 1]))
            return lp_fail(LP_ERR_INVALID_ARG,
                           "k_steps entry %d: epochs must ascend from 0 and k be positive", i);
    if (c->lookahead && (c->la_k <= 0 || !(c->la_alpha > 0 && c->la_alpha <= 1)))
        return lp_fail(LP_ERR_INVALID_ARG,
                       "Lookahead: k %d and alpha %g (expected k >= 1, alpha in (0, 1])", c->la_k,
                       c->la_alpha);
    if (!(c->weight_decay >= 0 && c->weight_decay < 1e6))
        return lp_fail(LP_ERR_INVALID_ARG, "weight decay %g (expected 0 <= decay < 1e6)",
                       c->weight_decay);
    if (lp_optimizer_index(c->inner) < 0)
        return lp_fail(LP_ERR_INVALID_ARG, "the inner optimizer is not one of the table's");
    if (!c->loss) return lp_fail(LP_ERR_INVALID_ARG, "no loss given");
    if (!(c->lr.base > 0)) return lp_fail(LP_ERR_INVALID_ARG, "learning rate must be > 0");
    if (train->n <= 0) return lp_fail(LP_ERR_INVALID_ARG, "the training set is empty");
    LP_TRY(lp_augment_check(&c->augment));
    const lp_dataset *sets[2] = {train, test};
    for (int i = 0; i < 2; ++i)
        LP_TRY(lp_eval_check_input(m, sets[i]));
    const lp_layer_spec *last = &m->layers[m->n_layers - 1];
    bool regression = train->outputs > 0;
    if (c->loss->regression != regression || (test->outputs > 0) != regression)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "the loss %s needs %s, but the data have %s (set `loss` in [input] of %s "
                       "or --loss: mse for float targets, softmax-cross-entropy for labels)",
                       c->loss->name,
                       c->loss->regression ? "float targets" : "integer class labels",
                       regression ? "float targets" : "integer class labels", m->source);
    if (regression) {
        if ((int)lp_shape_size(last->out) != train->outputs || test->outputs != train->outputs)
            return lp_fail(LP_ERR_INVALID_ARG,
                           "%s:%d: the last layer has %zu outputs but the data have %d targets "
                           "per sample",
                           m->source, last->line, lp_shape_size(last->out), train->outputs);
        return LP_OK;
    }
    if ((int)lp_shape_size(last->out) != train->classes)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "%s:%d: the last layer has %zu outputs but the data have %d classes",
                       m->source, last->line, lp_shape_size(last->out), train->classes);
    return LP_OK;
}

/* Evaluation batch: the configured one, or (0) lp_eval_batch_auto's: large batches
 * evaluate fastest, but a convolutional net's activations at 1000 samples can exceed a
 * small device. */
static int eval_batch_(const lp_train_config *c, const lp_model_spec *m, const lp_runtime *rt) {
    return c->eval_batch > 0 ? c->eval_batch : lp_eval_batch_auto(m, rt, c->batch);
}

/* L2 terms into the gradients, the decoupled weight decay of the kernels, the inner
 * optimizer's update of every parameter, then (every la_k steps) Lookahead's. */
static lp_status optimizer_step_(lp_trainer_ *t, double lr) {
    const lp_train_config *c = t->cfg;
    cl_mem w = lp_network_params(t->net), g = lp_network_grads(t->net);
    for (int i = 0; i < t->n_tensors; ++i) {
        const lp_param_tensor *p = &t->tensors[i];
        float coef = (float)(p->l2 * c->l2_scale);
        if (coef > 0) LP_TRY(lp_op_l2_grad(t->rt, w, g, (int)p->offset, (int)p->count, coef));
    }
    /* After the L2 terms, which see w before its decay (as in PyTorch's AdamW, where the
     * gradient comes first); on the kernels, the tensors a layer's l2 would cover. */
    if (c->weight_decay > 0) {
        float keep = (float)(1.0 - lr * c->weight_decay);
        for (int i = 0; i < t->n_tensors; ++i) {
            const lp_param_tensor *p = &t->tensors[i];
            if (p->is_kernel)
                LP_TRY(lp_op_weight_decay(t->rt, w, (int)p->offset, (int)p->count, keep));
        }
    }
    lp_optimizer_step s = {.rt = t->rt,
                           .w = w,
                           .g = g,
                           .n = (int)t->n_params,
                           .lr = lr,
                           .step = t->step,
                           .params = c->optimizer_params[lp_optimizer_index(c->inner)]};
    memcpy(s.state, t->opt_state, sizeof s.state);
    LP_TRY(c->inner->step(&s));
    if (c->lookahead && t->step % c->la_k == 0)
        LP_TRY(lp_op_lookahead(t->rt, w, t->opt_state[lp_trainer_inner_buffers_(c)],
                               (int)t->n_params, (float)c->la_alpha));
    return LP_OK;
}

/* Reads the per-step sums of this epoch so far: mean loss and accuracy. */
static lp_status running_stats_(lp_trainer_ *t, int steps, int samples, double *loss, double *acc) {
    float buf[2 * 1024];
    double l = 0, a = 0;
    for (int first = 0; first < steps; first += 1024) {
        int n = steps - first < 1024 ? steps - first : 1024;
        LP_TRY(lp_buffer_read(t->rt, t->stats, (size_t)first * 2 * sizeof(float),
                              (size_t)n * 2 * sizeof(float), buf));
        for (int i = 0; i < n; ++i) {
            l += buf[2 * i];
            a += buf[2 * i + 1];
        }
    }
    *loss = samples ? l / samples : 0;
    *acc = samples ? a / samples : 0;
    return LP_OK;
}

/* Where a run stands, for the loop and its checkpoints. */
typedef struct {
    lp_trainer_ *t;
    lp_results *res; /* NULL: no results file */
    const lp_train_callbacks *cb;
    lp_train_result *result;
} run_;

/* Reads the divergence guard (8 bytes, where the host waits anyway). On a flagged step it
 * fills result->diverged* and returns true. */
static lp_status guard_read_(run_ *r, bool *diverged) {
    lp_trainer_ *t = r->t;
    int32_t flag[2];
    *diverged = false;
    LP_TRY(lp_buffer_read(t->rt, t->guard, 0, sizeof flag, flag));
    if (flag[0] == 0) return LP_OK;
    *diverged = true;
    lp_train_result *res = r->result;
    res->diverged = true;
    res->diverged_step = flag[0];
    int kind = flag[1] >> 28;
    long long element = flag[1] & ((1 << 28) - 1);
    if (kind == 0) {
        snprintf(res->diverged_what, sizeof res->diverged_what, "the training loss");
        return LP_OK;
    }
    const char *layer = "?", *tensor = "?";
    for (int i = 0; i < t->n_tensors; ++i) {
        const lp_param_tensor *p = &t->tensors[i];
        if ((size_t)element >= p->offset && (size_t)element < p->offset + p->count) {
            layer = lp_network_layer_name(t->net, p->layer);
            tensor = p->name;
            element -= (long long)p->offset;
            break;
        }
    }
    snprintf(res->diverged_what, sizeof res->diverged_what, "a %s of %s/%s (element %lld)",
             kind == 1 ? "gradient" : "weight", layer, tensor, element);
    return LP_OK;
}

/* Writes a checkpoint at this position (after the guard has passed: a diverged state is
 * never checkpointed). */
static lp_status checkpoint_(run_ *r, int epoch, int step_in_epoch, long long samples,
                             bool *diverged) {
    lp_trainer_ *t = r->t;
    *diverged = false;
    if (!r->res) return LP_OK;
    LP_TRY(guard_read_(r, diverged));
    if (*diverged) return LP_OK;
    lp_results_checkpoint_size z = lp_trainer_checkpoint_size_(t);
    LP_TRY(lp_trainer_checkpoint_read_(t, &z, &t->ckpt));
    t->ckpt.epoch = epoch;
    t->ckpt.step_in_epoch = step_in_epoch;
    t->ckpt.samples = samples;
    LP_TRY(lp_results_write_checkpoint(r->res, &t->ckpt));
    t->have_ckpt = true;
    return LP_OK;
}

static lp_status train_epoch_(run_ *r, const lp_dataset *train, const lp_dataset *test, int epoch,
                              double lr, int first_step, double *seconds, int *samples_done,
                              bool *stopped) {
    lp_trainer_ *t = r->t;
    const lp_train_config *c = t->cfg;
    const lp_train_callbacks *cb = r->cb;
    lp_runtime *rt = t->rt;
    int classes = lp_network_classes(t->net);
    t->epoch = epoch;
    lp_shuffle_indices(t->order_host, (uint32_t)train->n, c->seed,
                       LP_STREAM_SHUFFLE + (uint32_t)epoch);
    LP_TRY(lp_buffer_write(rt, t->train_idx, 0, (size_t)train->n * sizeof(int32_t), t->order_host));
    /* A resumed epoch keeps the step statistics its checkpoint restored. */
    if (first_step == 0)
        LP_TRY(
            lp_buffer_fill_zero(rt, t->stats, 0, (size_t)t->steps_per_epoch * 2 * sizeof(float)));
    double t0 = lp_seconds(), last_report = t0, last_read = t0;
    int ahead = 1, queued = 0; /* steps between reads that wait for the device (below) */
    int samples = first_step * c->batch < train->n ? first_step * c->batch : train->n, s;
    bool diverged = false;
    for (s = first_step; s < t->steps_per_epoch; ++s) {
        if (lp_trainer_stop_requested_(t) || (c->max_steps && t->step >= c->max_steps)) {
            *stopped = true;
            break;
        }
        int first = s * c->batch;
        int n = train->n - first < c->batch ? train->n - first : c->batch;
        /* This rank's rows of the global batch (one process: all of them). The gradient
         * is of the global batch's mean loss: scaled by 1 / n, summed over ranks. */
        long long mine_first, mine;
        lp_dist_share(n, lp_dist_rank(c->dist), lp_dist_size(c->dist), &mine_first, &mine);
        t->step++;
        if (mine > 0) {
            LP_TRY(lp_trainer_batch_(t, &c->augment, epoch, t->train_x, t->train_y, t->train_t,
                                     t->train_idx, first + (int)mine_first, (int)mine));
            lp_network_set_rng(t->net, c->seed, t->step, mine_first);
            LP_TRY(lp_network_forward(t->net, (int)mine, true));
            LP_TRY(c->loss->run(rt, lp_network_logits(t->net), t->outputs ? t->batch_t : t->batch_y,
                                (int)mine, classes, 1.0f / (float)n, lp_network_dlogits(t->net),
                                t->stats, 2 * s));
        }
        /* (One process always has rows.) */
        if (lp_trainer_distributed_(t))
            LP_TRY(lp_trainer_backward_exchange_(t, s, (int)mine));
        else
            LP_TRY(lp_network_backward(t->net, (int)mine));
        LP_TRY(optimizer_step_(t, lr));
        /* Before the sync, which would hide non-finite weights behind initial values. */
        LP_TRY(lp_op_guard_finite(rt, lp_network_params(t->net), lp_network_grads(t->net),
                                  (int)t->n_params, t->stats, 2 * s, (int)t->step, t->guard));
        if (lp_trainer_sync_due_(t)) {
            LP_TRY(lp_trainer_sync_(t));
            char when[64];
            snprintf(when, sizeof when, "after the sync at step %lld", t->step);
            LP_TRY(lp_trainer_agree_(t, when));
        }
        samples += n;
        if (t->step == 1 || t->first_step_done == 0) {
            /* Once per run: wait for the first step, so start-up cost (kernel builds,
             * CLBlast's own compilation) can be reported apart from training. */
            LP_TRY(lp_runtime_finish(rt));
            t->first_step_done = lp_seconds();
        }
        /* Before the snapshot and checkpoint of this step, which then count it. */
        if (c->eval_every && t->step % c->eval_every == 0) {
            LP_TRY(guard_read_(r, &diverged));
            if (diverged) break;
            double e0 = lp_seconds();
            LP_TRY(lp_trainer_eval_point_(t, r->res, test, epoch + 1, cb));
            t0 += lp_seconds() - e0; /* not training time */
        }
        /* Not at an epoch's last step: the epoch-end snapshot follows and records it. */
        if (r->res && c->snapshot_every && t->step % c->snapshot_every == 0 &&
            s + 1 < t->steps_per_epoch) {
            LP_TRY(guard_read_(r, &diverged));
            if (diverged) break;
            LP_TRY(lp_trainer_project_(t));
            LP_TRY(lp_trainer_results_epoch_(t, r->res, NULL, 0));
        }
        if (c->checkpoint_every && t->step % c->checkpoint_every == 0) {
            LP_TRY(checkpoint_(r, epoch, s + 1, samples, &diverged));
            if (diverged) break;
        }
        /* Progress costs one small read, a few times a second at most. The read also
         * waits for the device: a queue that takes every step at once (PoCL's) would
         * otherwise run a whole epoch ahead of it, so that the bar stood still and Ctrl-C
         * waited for the epoch's end. Reading every `ahead` steps keeps the host about
         * 0.25 s ahead: `ahead` doubles while reads come sooner than that, halves when
         * they come later than 0.5 s. */
        double now = lp_seconds();
        bool report = now - last_report >= 0.25;
        if (report || ++queued >= ahead) {
            LP_TRY(guard_read_(r, &diverged));
            if (diverged) break;
            now = lp_seconds();
            if (now - last_read < 0.125 && ahead < 1 << 20)
                ahead *= 2;
            else if (now - last_read > 0.5 && ahead > 1)
                ahead /= 2;
            last_read = now;
            queued = 0;
            report = now - last_report >= 0.25;
            if (report) last_report = now;
        }
        if (cb && cb->on_progress && report) {
            lp_progress p = {.epoch = epoch + 1,
                             .epochs = c->epochs,
                             .step_in_epoch = s + 1,
                             .steps_per_epoch = t->steps_per_epoch,
                             .step = t->step,
                             .regression = t->outputs > 0};
            LP_TRY(running_stats_(t, s + 1, samples, &p.loss, &p.accuracy));
            now = lp_seconds();
            p.images_per_second = (samples - first_step * c->batch) / (now - t0);
            p.eta_seconds = (now - t0) / (s + 1 - first_step) *
                            ((double)(t->steps_per_epoch - s - 1) +
                             (double)(c->epochs - epoch - 1) * t->steps_per_epoch);
            cb->on_progress(cb->ctx, &p);
            last_report = now;
        }
    }
    LP_TRY(lp_runtime_finish(rt));
    if (!diverged) LP_TRY(guard_read_(r, &diverged));
    if (diverged) *stopped = true;
    /* A stop mid-epoch checkpoints where it stands, before the partial epoch's metrics. */
    if (*stopped && !diverged && s > first_step && s < t->steps_per_epoch)
        LP_TRY(checkpoint_(r, epoch, s, samples, &diverged));
    *seconds = lp_seconds() - t0;
    *samples_done = samples;
    return LP_OK;
}

/* A resumed run's final and best unsynced accuracies so far, from the entries it copied.
 * The best evaluation comes with the checkpoint (resume_best_), except from a checkpoint
 * written before it did (t->best.step 0 after whole epochs): then it is the best epoch end
 * here, by the same rule (lp_trainer_better_), as the run that wrote it recorded. */
static lp_status prior_metrics_(const lp_train_resume *rs, lp_trainer_ *t,
                                lp_train_result *result) {
    long long n = rs->checkpoint.metrics;
    if (n <= 0) return LP_OK;
    bool regression = t->outputs > 0, best_here = t->best.step == 0;
    /* test_mae only for regression: classification files may predate it */
    static const char *const names[] = {"/metrics/test_accuracy", "/metrics/test_accuracy_unsynced",
                                        "/metrics/test_loss", "/metrics/test_mae"};
    double *v[4] = {NULL};
    int64_t *step = NULL;
    int rank;
    size_t dims[4];
    lp_status s = LP_OK;
    for (int i = 0; s == LP_OK && i < (regression ? 4 : 3); ++i) {
        s = lp_results_read_double(rs->source, names[i], &v[i], &rank, dims);
        if (s == LP_OK && dims[0] < (size_t)n)
            s = lp_fail(LP_ERR_FORMAT, "%s: fewer metrics than its checkpoint counts", rs->source);
    }
    if (s == LP_OK && best_here) {
        s = lp_results_read_int64(rs->source, "/metrics/step", &step, &rank, dims);
        if (s == LP_OK && dims[0] < (size_t)n)
            s = lp_fail(LP_ERR_FORMAT, "%s: fewer metrics than its checkpoint counts", rs->source);
    }
    for (long long i = 0; s == LP_OK && i < n; ++i) {
        result->epochs_done = (int)i + 1;
        result->final_test_accuracy = v[0][i];
        result->final_test_loss = v[2][i];
        result->final_test_mae = v[3] ? v[3][i] : NAN;
        if (v[1][i] > result->best_unsynced_accuracy) result->best_unsynced_accuracy = v[1][i];
        if (best_here && lp_trainer_better_(t, &t->best, v[0][i], v[2][i]))
            t->best = (lp_results_best){.step = step[i],
                                        .epoch = (int)i + 1,
                                        .test_accuracy = v[0][i],
                                        .test_loss = v[2][i]};
    }
    for (int i = 0; i < 4; ++i)
        free(v[i]);
    free(step);
    return s;
}

/* After divergence: back to the last good checkpoint, whose projection becomes the
 * file's last snapshot and /weights. */
static lp_status back_to_last_good_(run_ *r) {
    lp_trainer_ *t = r->t;
    if (!r->res || !t->have_ckpt) return LP_OK;
    LP_TRY(lp_trainer_restore_(t, &t->ckpt));
    LP_TRY(lp_trainer_project_(t));
    return lp_trainer_results_epoch_(t, r->res, NULL, 0);
}

/* Evaluates at an epoch's end: the inner optimizer's weights, then the projection; then
 * offers it as the best. */
static lp_status evaluate_epoch_(run_ *r, const lp_dataset *test, lp_epoch_metrics *m) {
    lp_trainer_ *t = r->t;
    LP_TRY(lp_trainer_evaluate_both_(t, test->n, lp_trainer_sync_due_(t), &m->test_loss,
                                     &m->test_accuracy, &m->test_loss_unsynced,
                                     &m->test_accuracy_unsynced));
    lp_trainer_split_mae_(t, &m->train_accuracy, &m->train_mae);
    lp_trainer_split_mae_(t, &m->test_accuracy, &m->test_mae);
    lp_trainer_split_mae_(t, &m->test_accuracy_unsynced, &m->test_mae_unsynced);
    return lp_trainer_offer_best_(t, r->res, m->epoch, m->test_accuracy, m->test_loss);
}

static void record_epoch_(lp_train_result *result, const lp_epoch_metrics *m) {
    result->epochs_done = m->epoch;
    result->final_test_accuracy = m->test_accuracy;
    result->final_test_loss = m->test_loss;
    result->final_test_mae = m->test_mae;
    if (m->test_accuracy_unsynced > result->best_unsynced_accuracy)
        result->best_unsynced_accuracy = m->test_accuracy_unsynced;
}

/* A resumed run's best evaluation so far, and with save_best its network, into the new
 * file's /best. */
static lp_status resume_best_(run_ *r, const lp_results_checkpoint *c) {
    lp_trainer_ *t = r->t;
    t->best = c->best;
    if (!t->cfg->save_best || !c->best_params) return LP_OK;
    memcpy(t->best_w, c->best_params, t->n_params * sizeof(float));
    if (c->best_state)
        memcpy(t->best_state, c->best_state, lp_network_state_floats(t->net) * sizeof(float));
    return r->res && t->best.step ? lp_trainer_results_write_best_(t, r->res) : LP_OK;
}

/* The network's options: as the run's flags say. */
static lp_network_options network_options_(const lp_trainer_ *t, const lp_train_callbacks *cb) {
    const lp_train_config *cfg = t->cfg;
    /* The network is sized for evaluation; convolutions are timed and planned for the
     * training batch, where the time goes. */
    return (lp_network_options){.conv_algo = cfg->conv_algo,
                                .tune_batch = t->batch_local,
                                .exact = !cfg->fast,
                                .layer_algo = cfg->replay_conv,
                                .note = cb ? cb->on_note : NULL,
                                .note_ctx = cb ? cb->ctx : NULL};
}

/* Refuses at once, with the figures, a run whose buffers cannot fit the device (or, on a
 * CPU device, the host's memory left), instead of failing midway inside the driver. */
static lp_status check_memory_(const lp_trainer_ *t, const lp_model_spec *model,
                               const lp_dataset *train, const lp_dataset *test) {
    const lp_train_config *cfg = t->cfg;
    lp_memory_plan_input in = {.batch = t->batch_local,
                               .eval_batch = t->eval_batch,
                               .optimizer_states = lp_trainer_state_buffers_(cfg),
                               .laperm = cfg->laperm,
                               .perm_bias = cfg->perm_bias,
                               .perm_bn = cfg->perm_bn,
                               .per_tensor_scope = cfg->per_tensor_scope,
                               .train_n = train->n,
                               .test_n = test->n,
                               .x_real = train->x_real,
                               .targets = train->outputs,
                               .host_available = lp_memory_host_available()};
    lp_network_plan_ctx layers = {.rt = t->rt, .spec = model, .opt = network_options_(t, NULL)};
    in.layer_bytes = lp_network_plan_held_at;
    in.layer_bytes_ctx = &layers;
    lp_memory_plan plan;
    return lp_memory_plan_check(model, &in, lp_runtime_device(t->rt), &plan);
}

static lp_status create_network_(lp_trainer_ *t, const lp_model_spec *model,
                                 const lp_train_callbacks *cb) {
    const lp_train_config *cfg = t->cfg;
    lp_network_options no = network_options_(t, cb);
    lp_gemm_set_exact(t->rt, !cfg->fast);
    /* Timing (--fast) is bounded per decision and ends at a stop request, which the first
     * step then honours (laperm/tune.h). */
    lp_tune_limits limits = {.stop = cfg->stop};
    LP_TRY(lp_tune_budget_from_env(&limits.budget));
    LP_TRY(lp_tune_set_limits(t->rt, &limits));
    if (cfg->replay_gemm) LP_TRY(lp_gemm_choices_load(t->rt, cfg->replay_gemm));
    /* An evaluation batch below the training batch must not shrink the buffers that
     * training batches are built in. */
    int max_batch = t->eval_batch > t->batch_local ? t->eval_batch : t->batch_local;
    return lp_network_create_opts(t->rt, model, max_batch, &no, &t->net);
}

lp_status lp_train(lp_runtime *rt, const lp_model_spec *model, const lp_dataset *train,
                   const lp_dataset *test, const lp_train_config *cfg, const lp_train_callbacks *cb,
                   lp_train_result *result) {
    memset(result, 0, sizeof *result);
    LP_TRY(check_config_(cfg, train, test, model));
    if (cfg->fast && lp_runtime_bits(rt) == LP_BITS_PORTABLE)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "--fast chooses paths by timing, which --bits portable rules out");
    double run_start = lp_seconds();
    int ranks = lp_dist_size(cfg->dist);
    if (cfg->batch < ranks)
        return lp_fail(LP_ERR_INVALID_ARG, "a global batch of %d rows cannot feed %d ranks",
                       cfg->batch, ranks);
    lp_trainer_ t = {.rt = rt,
                     .cfg = cfg,
                     .eval_batch = eval_batch_(cfg, model, rt),
                     .run_start = run_start,
                     .batch_local = (cfg->batch + ranks - 1) / ranks};
    run_ r = {.t = &t, .cb = cb, .result = result};
    LP_TRY(check_memory_(&t, model, train, test));
    /* Every rank has read what it resumes or replays from before rank 0 rewrites it. */
    LP_TRY(lp_dist_barrier(cfg->dist));
    LP_TRY(lp_trainer_gather_devices_(&t));
    /* One writer per results file, from before anything is allocated to the end. */
    lp_out_lock *lock = NULL;
    if (cfg->out_path) LP_TRY(lp_out_lock_acquire(cfg->out_path, &lock));
    lp_train_data_ids_ ids = {.train_n = train->n, .test_n = test->n};
    lp_dataset_hash(train, ids.train_hash);
    lp_dataset_hash(test, ids.test_hash);
    const lp_train_resume *resume = cfg->resume;
    lp_status s = create_network_(&t, model, cb);
    /* --profile reports training, not the launches that timed the convolutions. */
    if (s == LP_OK) lp_runtime_profile_reset(rt);
    if (s == LP_OK) s = lp_trainer_setup_(&t, train, test);
    if (s == LP_OK && cfg->save_best) s = lp_trainer_best_alloc_(&t);
    if (s == LP_OK && cfg->out_path) s = lp_trainer_results_open_(&t, model, &ids, &r.res);
    int start_epoch = 0, first_step = 0;
    bool diverged = false;
    if (s == LP_OK && resume) {
        s = lp_trainer_restore_(&t, &resume->checkpoint);
        start_epoch = resume->checkpoint.epoch;
        first_step = resume->checkpoint.step_in_epoch;
        if (s == LP_OK) s = resume_best_(&r, &resume->checkpoint);
        /* From the source file, which rank 0 may be replacing by now: only rank 0, which
         * reports them, reads them. */
        if (s == LP_OK && lp_dist_rank(cfg->dist) == 0) s = prior_metrics_(resume, &t, result);
    }
    /* The first checkpoint (a resumed one: its copy on the host) before any step. */
    if (s == LP_OK) s = checkpoint_(&r, start_epoch, first_step, 0, &diverged);
    result->startup_seconds = lp_seconds() - run_start;
    long long samples_total = 0;
    bool projected = false; /* eval_params and rank hold the current projection */
    for (int epoch = start_epoch; s == LP_OK && !diverged && epoch < cfg->epochs; ++epoch) {
        double lr = lp_lr_at(&cfg->lr, epoch), secs = 0;
        int samples = 0;
        bool stopped = false;
        s = train_epoch_(&r, train, test, epoch, lr, epoch == start_epoch ? first_step : 0, &secs,
                         &samples, &stopped);
        if (s != LP_OK) break;
        diverged = result->diverged;
        if (diverged) break;
        int from = epoch == start_epoch ? first_step : 0;
        result->train_seconds += secs;
        samples_total += samples - (from * cfg->batch < train->n ? from * cfg->batch : train->n);
        /* Stopped before the epoch's first step: nothing to record. (A resumed epoch that
         * stops at once still records its partial metrics, as the run it resumes did.) */
        if (stopped && samples == 0) {
            result->interrupted = lp_trainer_stop_requested_(&t);
            break; /* nothing trained since the last projection */
        }
        lp_epoch_metrics m = {.epoch = epoch + 1,
                              .step = t.step,
                              .learning_rate = lr,
                              .epoch_seconds = secs,
                              .samples = samples};
        s = running_stats_(&t, (samples + cfg->batch - 1) / cfg->batch, samples, &m.train_loss,
                           &m.train_accuracy);
        if (s == LP_OK) s = evaluate_epoch_(&r, test, &m);
        if (s != LP_OK) break;
        projected = true;
        m.syncs = t.syncs;
        m.elapsed_seconds = lp_seconds() - run_start;
        record_epoch_(result, &m);
        if (r.res) s = lp_trainer_results_epoch_(&t, r.res, &m, stopped ? 0 : epoch + 1);
        if (s == LP_OK && !stopped) s = checkpoint_(&r, epoch + 1, 0, 0, &diverged);
        if (s == LP_OK && cb && cb->on_epoch) cb->on_epoch(cb->ctx, &m, cfg->epochs);
        if (stopped) {
            result->interrupted = lp_trainer_stop_requested_(&t);
            break;
        }
    }
    if (s == LP_OK && diverged) {
        s = back_to_last_good_(&r);
        projected = true;
    }
    /* A run that trained nothing since its last projection (stopped before its first
     * step, or resumed at its end) projects now for the final snapshot and weights. */
    if (s == LP_OK && !projected) {
        s = lp_trainer_project_(&t);
        /* An epoch-end checkpoint follows that epoch's snapshot. */
        bool have_snapshot =
            resume && resume->checkpoint.snapshots > 0 && resume->checkpoint.step_in_epoch == 0;
        if (s == LP_OK && r.res && !have_snapshot)
            s = lp_trainer_results_epoch_(&t, r.res, NULL, 0);
    }
    /* (A diverged run's rank 0 went back to its checkpoint alone.) */
    if (s == LP_OK && !diverged) s = lp_trainer_agree_(&t, "at the end of the run");
    result->best_step = t.best.step;
    result->best_epoch = t.best.epoch;
    result->best_test_accuracy = t.best.test_accuracy;
    result->best_test_loss = t.best.test_loss;
    result->first_step_seconds = t.first_step_done > 0 ? t.first_step_done - run_start : 0;
    result->steps = t.step;
    result->syncs = t.syncs;
    result->images_per_second =
        result->train_seconds > 0 ? (double)samples_total / result->train_seconds : 0;
    if (r.res) {
        if (s == LP_OK)
            s = lp_trainer_results_finish_(&t, r.res, result);
        else
            lp_results_abandon(r.res);
    }
    lp_trainer_release_(&t);
    lp_network_destroy(t.net);
    lp_out_lock_release(lock);
    return s;
}
