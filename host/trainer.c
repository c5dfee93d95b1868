/* The training loop: per step batch (augment) -> forward -> loss -> backward -> optimizer ->
 * (LaPerm sync when step % k == 0), all enqueued without waiting for the device; per
 * epoch evaluation of the projected network, metrics and a rankings snapshot. */
#include <stdlib.h>
#include <string.h>

#include "laperm/augment.h"
#include "laperm/clock.h"
#include "laperm/ops.h"
#include "laperm/rng.h"
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
    if (lp_optimizer_index(c->inner) < 0)
        return lp_fail(LP_ERR_INVALID_ARG, "the inner optimizer is not one of the table's");
    if (!c->loss) return lp_fail(LP_ERR_INVALID_ARG, "no loss given");
    if (!(c->lr.base > 0)) return lp_fail(LP_ERR_INVALID_ARG, "learning rate must be > 0");
    if (train->n <= 0) return lp_fail(LP_ERR_INVALID_ARG, "the training set is empty");
    LP_TRY(lp_augment_check(&c->augment));
    const lp_layer_spec *in = &m->layers[0];
    const lp_dataset *sets[2] = {train, test};
    for (int i = 0; i < 2; ++i) {
        const lp_dataset *d = sets[i];
        if (d->c != in->out.c || d->h != in->out.h || d->w != in->out.w)
            return lp_fail(LP_ERR_INVALID_ARG,
                           "%s: the data are %dx%dx%d (CxHxW) but the model's [input] expects "
                           "%dx%dx%d",
                           m->source, d->c, d->h, d->w, in->out.c, in->out.h, in->out.w);
    }
    const lp_layer_spec *last = &m->layers[m->n_layers - 1];
    if ((int)lp_shape_size(last->out) != train->classes)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "%s:%d: the last layer has %zu outputs but the data have %d classes",
                       m->source, last->line, lp_shape_size(last->out), train->classes);
    return LP_OK;
}

/* Evaluation batch: the configured one, or (0) as many samples as fit in a quarter of
 * the device's memory (at most 1 GiB) of activations and their gradients, capped at
 * 1000 and never below the training batch: large batches evaluate fastest, but a
 * convolutional net's activations at 1000 samples can exceed a small device. */
static int eval_batch_(const lp_train_config *c, const lp_model_spec *m, const lp_runtime *rt) {
    if (c->eval_batch > 0) return c->eval_batch;
    size_t per_sample = 0;
    for (int i = 0; i < m->n_layers; ++i)
        per_sample += lp_shape_size(m->layers[i].out) * 2 * sizeof(float);
    /* GPUs evaluate faster in large batches. A CPU does not (each sample's layers already
     * fill its cores: conv4 evaluated 200 images in 2.0 s at batch 64, 2.6 s at 273),
     * while the buffers, host memory on a CPU, are allocated and zeroed at start-up:
     * 1 GiB of them took 0.4 s there. */
    bool cpu = (lp_runtime_device(rt)->type & CL_DEVICE_TYPE_CPU) != 0;
    cl_ulong cap = cpu ? (256ull << 20) : (1ull << 30);
    cl_ulong budget = lp_runtime_device(rt)->global_mem / 4;
    if (budget > cap) budget = cap;
    size_t fit = per_sample ? (size_t)(budget / per_sample) : 1000;
    int n = fit > 1000 ? 1000 : (int)fit;
    return n > c->batch ? n : c->batch;
}

/* L2 terms into the gradients, then the inner optimizer's update of every parameter. */
static lp_status optimizer_step_(lp_trainer_ *t, double lr) {
    const lp_train_config *c = t->cfg;
    cl_mem w = lp_network_params(t->net), g = lp_network_grads(t->net);
    for (int i = 0; i < t->n_tensors; ++i) {
        const lp_param_tensor *p = &t->tensors[i];
        float coef = (float)(p->l2 * c->l2_scale);
        if (coef > 0) LP_TRY(lp_op_l2_grad(t->rt, w, g, (int)p->offset, (int)p->count, coef));
    }
    lp_optimizer_step s = {.rt = t->rt,
                           .w = w,
                           .g = g,
                           .n = (int)t->n_params,
                           .lr = lr,
                           .step = t->step,
                           .params = c->optimizer_params[lp_optimizer_index(c->inner)]};
    memcpy(s.state, t->opt_state, sizeof s.state);
    return c->inner->step(&s);
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

static lp_status train_epoch_(lp_trainer_ *t, const lp_dataset *train, int epoch, double lr,
                              const lp_train_callbacks *cb, double *seconds, int *samples_done,
                              bool *stopped) {
    const lp_train_config *c = t->cfg;
    lp_runtime *rt = t->rt;
    int classes = lp_network_classes(t->net);
    lp_shape in = t->input_shape;
    lp_shuffle_indices(t->order_host, (uint32_t)train->n, c->seed,
                       LP_STREAM_SHUFFLE + (uint32_t)epoch);
    LP_TRY(lp_buffer_write(rt, t->train_idx, 0, (size_t)train->n * sizeof(int32_t), t->order_host));
    LP_TRY(lp_buffer_fill_zero(rt, t->stats, 0, (size_t)t->steps_per_epoch * 2 * sizeof(float)));
    double t0 = lp_seconds(), last_report = t0;
    int samples = 0, s;
    for (s = 0; s < t->steps_per_epoch; ++s) {
        if ((c->stop && *c->stop) || (c->max_steps && t->step >= c->max_steps)) {
            *stopped = true;
            break;
        }
        int first = s * c->batch;
        int n = train->n - first < c->batch ? train->n - first : c->batch;
        t->step++;
        LP_TRY(lp_op_augment_batch(rt, &c->augment, c->seed, epoch, t->train_x, t->train_y,
                                   t->train_idx, first, n, in.c, in.h, in.w, t->norm_mean,
                                   t->norm_inv_std, lp_network_input(t->net), t->batch_y));
        lp_network_set_rng(t->net, c->seed, t->step);
        LP_TRY(lp_network_forward(t->net, n, true));
        LP_TRY(c->loss->run(rt, lp_network_logits(t->net), t->batch_y, n, classes, 1.0f / (float)n,
                            lp_network_dlogits(t->net), t->stats, 2 * s));
        LP_TRY(lp_network_backward(t->net, n));
        LP_TRY(optimizer_step_(t, lr));
        if (c->laperm && t->step % c->k == 0) LP_TRY(lp_trainer_sync_(t));
        samples += n;
        if (t->step == 1) {
            /* Once per run: wait for the first step, so start-up cost (kernel builds,
             * CLBlast's own compilation) can be reported apart from training. */
            LP_TRY(lp_runtime_finish(rt));
            t->first_step_done = lp_seconds();
        }
        /* Progress costs one small read, a few times a second at most. */
        double now = lp_seconds();
        if (cb && cb->on_progress && now - last_report >= 0.25) {
            lp_progress p = {.epoch = epoch + 1,
                             .epochs = c->epochs,
                             .step_in_epoch = s + 1,
                             .steps_per_epoch = t->steps_per_epoch,
                             .step = t->step};
            LP_TRY(running_stats_(t, s + 1, samples, &p.loss, &p.accuracy));
            now = lp_seconds();
            p.images_per_second = samples / (now - t0);
            p.eta_seconds = (now - t0) / (s + 1) *
                            ((double)(t->steps_per_epoch - s - 1) +
                             (double)(c->epochs - epoch - 1) * t->steps_per_epoch);
            cb->on_progress(cb->ctx, &p);
            last_report = now;
        }
    }
    LP_TRY(lp_runtime_finish(rt));
    *seconds = lp_seconds() - t0;
    *samples_done = samples;
    (void)s;
    return LP_OK;
}

lp_status lp_train(lp_runtime *rt, const lp_model_spec *model, const lp_dataset *train,
                   const lp_dataset *test, const lp_train_config *cfg, const lp_train_callbacks *cb,
                   lp_train_result *result) {
    memset(result, 0, sizeof *result);
    LP_TRY(check_config_(cfg, train, test, model));
    double run_start = lp_seconds();
    lp_trainer_ t = {.rt = rt, .cfg = cfg};
    lp_results *res = NULL;
    int eval_batch = eval_batch_(cfg, model, rt);
    /* The network is sized for evaluation; convolutions are timed and planned for the
     * training batch, where the time goes. */
    lp_network_options no = {.conv_algo = cfg->conv_algo,
                             .tune_batch = cfg->batch,
                             .note = cb ? cb->on_note : NULL,
                             .note_ctx = cb ? cb->ctx : NULL};
    /* An evaluation batch below the training batch must not shrink the buffers that
     * training batches are built in. */
    t.eval_batch = eval_batch;
    int max_batch = eval_batch > cfg->batch ? eval_batch : cfg->batch;
    lp_status s = lp_network_create_opts(rt, model, max_batch, &no, &t.net);
    /* --profile reports training, not the launches that timed the convolutions. */
    if (s == LP_OK) lp_runtime_profile_reset(rt);
    if (s == LP_OK) s = lp_trainer_setup_(&t, train, test);
    if (s == LP_OK && cfg->out_path) s = lp_trainer_results_open_(&t, model, &res);
    result->startup_seconds = lp_seconds() - run_start;
    result->best_epoch = -1;
    long long samples_total = 0;
    for (int epoch = 0; s == LP_OK && epoch < cfg->epochs; ++epoch) {
        double lr = lp_lr_at(&cfg->lr, epoch), secs = 0;
        int samples = 0;
        bool stopped = false;
        s = train_epoch_(&t, train, epoch, lr, cb, &secs, &samples, &stopped);
        if (s != LP_OK) break;
        result->train_seconds += secs;
        samples_total += samples;
        if (stopped && samples == 0) {
            result->interrupted = cfg->stop && *cfg->stop;
            /* Nothing trained since the last projection; before the first epoch there
             * is none yet, so project now for the final snapshot and weights. */
            if (epoch == 0) s = lp_trainer_project_(&t);
            if (s == LP_OK && epoch == 0 && res) s = lp_trainer_results_epoch_(&t, res, NULL, 0);
            break;
        }
        lp_epoch_metrics m = {.epoch = epoch + 1,
                              .step = t.step,
                              .learning_rate = lr,
                              .epoch_seconds = secs,
                              .samples = samples};
        s = running_stats_(&t, (samples + cfg->batch - 1) / cfg->batch, samples, &m.train_loss,
                           &m.train_accuracy);
        /* The weights as the inner optimizer left them (what a Keras-style loop would
         * evaluate); for LaPerm they are not a permutation of the initial weights. */
        if (s == LP_OK)
            s = lp_trainer_evaluate_(&t, test->n, &m.test_loss_unsynced, &m.test_accuracy_unsynced);
        /* LaPerm: evaluate the network a sync would produce now (a true permutation of
         * the initial weights), without disturbing the training state. */
        if (s == LP_OK) s = lp_trainer_project_(&t);
        /* Right after a sync of every permuted tensor the projection is the current
         * network bit for bit, so its evaluation would repeat the one above. */
        bool just_synced = cfg->laperm && t.step % cfg->k == 0;
        cl_mem saved =
            t.n_perm && !just_synced ? lp_network_swap_params(t.net, t.eval_params) : NULL;
        if (s == LP_OK && saved)
            s = lp_trainer_evaluate_(&t, test->n, &m.test_loss, &m.test_accuracy);
        if (saved) {
            lp_network_swap_params(t.net, saved);
        } else {
            m.test_loss = m.test_loss_unsynced;
            m.test_accuracy = m.test_accuracy_unsynced;
        }
        if (s != LP_OK) break;
        m.syncs = t.syncs;
        m.elapsed_seconds = lp_seconds() - run_start;
        result->epochs_done = epoch + 1;
        result->final_test_accuracy = m.test_accuracy;
        if (m.test_accuracy_unsynced > result->best_unsynced_accuracy)
            result->best_unsynced_accuracy = m.test_accuracy_unsynced;
        if (result->best_epoch < 0 || m.test_accuracy > result->best_test_accuracy) {
            result->best_test_accuracy = m.test_accuracy;
            result->best_epoch = epoch + 1;
        }
        if (res) s = lp_trainer_results_epoch_(&t, res, &m, stopped ? 0 : epoch + 1);
        if (s == LP_OK && cb && cb->on_epoch) cb->on_epoch(cb->ctx, &m, cfg->epochs);
        if (stopped) {
            result->interrupted = (cfg->stop && *cfg->stop);
            break;
        }
    }
    result->first_step_seconds = t.first_step_done > 0 ? t.first_step_done - run_start : 0;
    result->steps = t.step;
    result->syncs = t.syncs;
    result->images_per_second =
        result->train_seconds > 0 ? (double)samples_total / result->train_seconds : 0;
    if (res) {
        if (s == LP_OK)
            s = lp_trainer_results_finish_(&t, res, result->interrupted);
        else
            lp_results_abandon(res);
    }
    lp_trainer_release_(&t);
    lp_network_destroy(t.net);
    return s;
}
