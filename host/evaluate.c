/* A network given by its weights, evaluated on a dataset (laperm/evaluate.h) through the
 * trainer's evaluation (feed.c). */
#include "laperm/evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "laperm/gemm.h"

int lp_eval_batch_auto(const lp_model_spec *m, const lp_runtime *rt, int train_batch) {
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
    /* Portable bits: the batches group the evaluation's sums, so they come from the
     * model alone (the memory plan still checks that they fit). */
    if (lp_runtime_bits(rt) == LP_BITS_PORTABLE) budget = 256ull << 20;
    size_t fit = per_sample ? (size_t)(budget / per_sample) : 1000;
    int n = fit > 1000 ? 1000 : (int)fit;
    return n > train_batch ? n : train_batch;
}

lp_status lp_eval_check_input(const lp_model_spec *m, const lp_dataset *d) {
    const lp_layer_spec *in = &m->layers[0];
    if (d->c != in->out.c || d->h != in->out.h || d->w != in->out.w)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "%s: the data are %dx%dx%d (CxHxW%s%s) but the model's [input] expects "
                       "%dx%dx%d",
                       m->source, d->c, d->h, d->w, d->origin[0] ? ", from " : "", d->origin,
                       in->out.c, in->out.h, in->out.w);
    return LP_OK;
}

/* The data must fit the model: its input shape, and its classes or targets. */
static lp_status check_data_(const lp_model_spec *m, const lp_dataset *d, const lp_loss *loss) {
    const lp_layer_spec *last = &m->layers[m->n_layers - 1];
    LP_TRY(lp_eval_check_input(m, d));
    if (loss->regression != (d->outputs > 0))
        return lp_fail(LP_ERR_INVALID_ARG, "the loss %s needs %s, but the data have %s", loss->name,
                       loss->regression ? "float targets" : "integer class labels",
                       d->outputs > 0 ? "float targets" : "integer class labels");
    int want = d->outputs > 0 ? d->outputs : d->classes;
    if ((int)lp_shape_size(last->out) < want ||
        (d->outputs > 0 && (int)lp_shape_size(last->out) != want))
        return lp_fail(LP_ERR_INVALID_ARG,
                       "%s:%d: the last layer has %zu outputs but the data have %d %s", m->source,
                       last->line, lp_shape_size(last->out), want,
                       d->outputs > 0 ? "targets per sample" : "classes");
    return LP_OK;
}

/* The network's parameters and state tensors from w. */
static lp_status load_(lp_network *net, const lp_model_spec *m, const lp_weights *w, bool partial,
                       const char *what, lp_runtime *rt) {
    int nt;
    const lp_param_tensor *t = lp_network_tensors(net, &nt);
    size_t np = lp_network_param_count(net), ns = lp_network_state_floats(net);
    float *params = malloc(np * sizeof *params + 1), *state = malloc(ns * sizeof *state + 1);
    lp_status s = params && state ? LP_OK : lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    if (s == LP_OK) s = lp_weights_to_params(w, what, m, t, nt, params);
    if (s == LP_OK && ns && partial) s = lp_network_state_read(net, state);
    size_t off = 0;
    for (int i = 0; s == LP_OK && i < lp_network_state_count(net); ++i) {
        const lp_state_tensor *st = lp_network_state_at(net, i);
        const char *layer = m->layers[st->layer].name;
        const lp_named_tensor *have = lp_weights_find(w, layer, st->name);
        bool same = have && have->rank == st->rank;
        for (int d = 0; same && d < st->rank; ++d)
            same = have->dims[d] == st->dims[d];
        char a[64], b[64];
        if (!have && !partial)
            s = lp_fail(LP_ERR_NOT_FOUND, "%s: no tensor for layer '%s' %s (%s expected)", what,
                        layer, st->name, lp_dims_str(st->rank, st->dims, b, 64));
        else if (have && !same)
            s = lp_fail(LP_ERR_FORMAT, "%s: layer '%s' %s is %s there but %s in the model", what,
                        layer, st->name, lp_dims_str(have->rank, have->dims, a, 64),
                        lp_dims_str(st->rank, st->dims, b, 64));
        else if (have)
            memcpy(state + off, have->data, st->count * sizeof *state);
        off += st->count;
    }
    if (s == LP_OK) s = lp_buffer_write(rt, lp_network_params(net), 0, np * sizeof *params, params);
    if (s == LP_OK && ns) s = lp_network_state_write(net, state);
    /* the state write reads its host copy until it is done */
    if (s == LP_OK) s = lp_runtime_finish(rt);
    free(params);
    free(state);
    return s;
}

lp_status lp_evaluate(lp_runtime *rt, const lp_model_spec *m, const lp_weights *w,
                      const lp_dataset *norm_from, const lp_dataset *data, const lp_eval_config *c,
                      lp_eval_result *out) {
    memset(out, 0, sizeof *out);
    const lp_loss *loss = c->loss;
    if (!loss && lp_model_loss_name(m)) loss = lp_loss_find(lp_model_loss_name(m));
    if (!loss) loss = lp_loss_at(0);
    LP_TRY(check_data_(m, data, loss));
    if (data->n <= 0) return lp_fail(LP_ERR_INVALID_ARG, "the data hold no samples");
    if (!norm_from) norm_from = data;
    int eval_batch = c->eval_batch > 0
                         ? c->eval_batch
                         : lp_eval_batch_auto(m, rt, c->tune_batch > 0 ? c->tune_batch : 1);
    int tune = c->tune_batch > 0 ? c->tune_batch : eval_batch;
    lp_network_options no = {.conv_algo = c->conv_algo,
                             .tune_batch = tune,
                             .exact = !c->fast,
                             .layer_algo = c->layer_algo};
    lp_gemm_set_exact(rt, !c->fast);
    if (c->replay_gemm) LP_TRY(lp_gemm_choices_load(rt, c->replay_gemm));
    lp_network *net = NULL;
    LP_TRY(lp_network_create_opts(rt, m, eval_batch > tune ? eval_batch : tune, &no, &net));
    int outputs = lp_network_classes(net);
    lp_feed f = {.rt = rt,
                 .net = net,
                 .input = (lp_shape){data->c, data->h, data->w},
                 .x_real = data->x_real,
                 .outputs = data->outputs};
    cl_mem x = NULL, y = NULL, tg = NULL, idx = NULL, stats = NULL;
    lp_status s =
        load_(net, m, w, c->partial_state, c->weights_name ? c->weights_name : "the weights", rt);
    if (s == LP_OK) s = lp_feed_upload(rt, data, &x, &y, &tg, &idx, true);
    if (s == LP_OK) s = lp_feed_norm(rt, norm_from, c->norm, &f.norm_mean, &f.norm_inv_std);
    int max_batch = lp_network_max_batch(net);
    if (s == LP_OK)
        s = lp_buffer_create(rt, (size_t)max_batch * sizeof(int32_t), "batch labels", &f.batch_y);
    if (s == LP_OK && f.outputs > 0)
        s = lp_buffer_create(rt, (size_t)max_batch * (size_t)f.outputs * sizeof(float),
                             "batch targets", &f.batch_t);
    if (s == LP_OK) s = lp_buffer_create(rt, 2 * sizeof(float), "loss statistics", &stats);
    out->n = data->n;
    out->outputs = outputs;
    out->regression = data->outputs > 0;
    out->logits = malloc((size_t)data->n * (size_t)outputs * sizeof(float) + 1);
    if (s == LP_OK && !out->logits) s = lp_fail(LP_ERR_NO_MEMORY, "out of host memory for outputs");
    double stat = 0;
    if (s == LP_OK)
        s = lp_feed_evaluate(&f, loss, eval_batch, x, y, tg, idx, data->n, stats, 0, out->logits,
                             &out->loss, &stat);
    out->accuracy = out->regression ? NAN : stat;
    out->mae = out->regression ? stat : NAN;
    cl_mem bufs[] = {x, y, tg, idx, stats, f.norm_mean, f.norm_inv_std, f.batch_y, f.batch_t};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; ++i)
        if (bufs[i]) clReleaseMemObject(bufs[i]);
    lp_network_destroy(net);
    if (s != LP_OK) lp_eval_result_free(out);
    return s;
}

void lp_eval_result_free(lp_eval_result *r) {
    if (!r) return;
    free(r->logits);
    memset(r, 0, sizeof *r);
}
