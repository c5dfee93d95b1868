/* A dataset on the device and the batches fed from it (feed.h): one code path for
 * training and every evaluation. */
#include "feed.h"

#include <stdlib.h>

#include "laperm/ops.h"

/* Float data (x_real) go to the device as they are; regression targets too. */
static lp_status upload_real_(lp_runtime *rt, const lp_dataset *ds, cl_mem *x, cl_mem *tg) {
    size_t features = (size_t)ds->c * ds->h * ds->w, n = (size_t)ds->n;
    if (ds->x_real) {
        LP_TRY(lp_buffer_create(rt, n * features * sizeof(float), "dataset values", x));
        LP_TRY(lp_buffer_write(rt, *x, 0, n * features * sizeof(float), ds->x));
    }
    if (ds->outputs > 0) {
        size_t bytes = n * (size_t)ds->outputs * sizeof(float);
        LP_TRY(lp_buffer_create(rt, bytes, "dataset targets", tg));
        LP_TRY(lp_buffer_write(rt, *tg, 0, bytes, ds->t));
    }
    return LP_OK;
}

lp_status lp_feed_upload(lp_runtime *rt, const lp_dataset *ds, cl_mem *x, cl_mem *y, cl_mem *tg,
                         cl_mem *idx, bool identity_idx) {
    size_t features = (size_t)ds->c * ds->h * ds->w, n = (size_t)ds->n;
    LP_TRY(upload_real_(rt, ds, x, tg));
    /* x_real data are already there: no byte copy */
    uint8_t *bytes = malloc(ds->x_real ? 1 : n * features);
    int32_t *labels = malloc(n * sizeof *labels + 1);
    lp_status s = LP_OK;
    if (!bytes || !labels) s = lp_fail(LP_ERR_NO_MEMORY, "out of host memory for the data");
    /* Pixels were loaded as bytes / 255; store the bytes again (4x less device memory
     * and traffic) and let the batch kernel divide. The round trip is exact. */
    for (size_t i = 0; s == LP_OK && !ds->x_real && i < n * features; ++i)
        bytes[i] = (uint8_t)(ds->x[i] * 255.0f + 0.5f);
    for (size_t i = 0; s == LP_OK && i < n; ++i)
        labels[i] = ds->y[i];
    if (s == LP_OK && !ds->x_real) s = lp_buffer_create(rt, n * features, "dataset pixels", x);
    if (s == LP_OK && !ds->x_real) s = lp_buffer_write(rt, *x, 0, n * features, bytes);
    if (s == LP_OK) s = lp_buffer_create(rt, n * sizeof *labels, "dataset labels", y);
    if (s == LP_OK) s = lp_buffer_write(rt, *y, 0, n * sizeof *labels, labels);
    if (s == LP_OK) s = lp_buffer_create(rt, n * sizeof(int32_t), "data order", idx);
    if (s == LP_OK && identity_idx) {
        for (size_t i = 0; i < n; ++i)
            labels[i] = (int32_t)i;
        s = lp_buffer_write(rt, *idx, 0, n * sizeof *labels, labels);
    }
    free(bytes);
    free(labels);
    return s;
}

lp_status lp_feed_norm(lp_runtime *rt, const lp_dataset *train, lp_norm_mode mode, cl_mem *mean_out,
                       cl_mem *inv_out) {
    size_t features = (size_t)train->c * train->h * train->w;
    float *mean = malloc(features * sizeof *mean), *inv = malloc(features * sizeof *inv);
    lp_status s = mean && inv ? LP_OK : lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    if (s == LP_OK) s = lp_dataset_norm(train, mode, mean, inv);
    if (s == LP_OK) s = lp_buffer_create(rt, features * sizeof *mean, "input means", mean_out);
    if (s == LP_OK) s = lp_buffer_write(rt, *mean_out, 0, features * sizeof *mean, mean);
    if (s == LP_OK) s = lp_buffer_create(rt, features * sizeof *inv, "input scales", inv_out);
    if (s == LP_OK) s = lp_buffer_write(rt, *inv_out, 0, features * sizeof *inv, inv);
    free(mean);
    free(inv);
    return s;
}

lp_status lp_feed_batch(const lp_feed *f, const lp_augment_spec *a, uint64_t seed, int epoch,
                        cl_mem x, cl_mem y, cl_mem tg, cl_mem idx, int first, int n) {
    lp_shape in = f->input;
    lp_status (*batch)(lp_runtime *, const lp_augment_spec *, uint64_t, int, cl_mem, cl_mem, cl_mem,
                       int, int, int, int, int, cl_mem, cl_mem, cl_mem, cl_mem) =
        f->x_real ? lp_op_augment_batch_real : lp_op_augment_batch;
    LP_TRY(batch(f->rt, a, a ? seed : 0, epoch, x, y, idx, first, n, in.c, in.h, in.w, f->norm_mean,
                 f->norm_inv_std, lp_network_input(f->net), f->batch_y));
    if (f->outputs > 0) LP_TRY(lp_op_gather_rows(f->rt, tg, idx, first, n, f->outputs, f->batch_t));
    return LP_OK;
}

lp_status lp_feed_evaluate(const lp_feed *f, const lp_loss *loss, int eval_batch, cl_mem x,
                           cl_mem y, cl_mem tg, cl_mem idx, int n_total, cl_mem stats,
                           int stats_off, float *logits, double *mean_loss, double *mean_stat) {
    float sums[2];
    LP_TRY(lp_feed_evaluate_rows(f, loss, eval_batch, x, y, tg, idx, 0, n_total, stats, stats_off,
                                 logits, sums));
    *mean_loss = n_total ? sums[0] / n_total : 0.0;
    *mean_stat = n_total ? sums[1] / n_total : 0.0;
    return LP_OK;
}

lp_status lp_feed_evaluate_rows(const lp_feed *f, const lp_loss *loss, int eval_batch, cl_mem x,
                                cl_mem y, cl_mem tg, cl_mem idx, int first_row, int n_total,
                                cl_mem stats, int stats_off, float *logits, float sums[2]) {
    lp_runtime *rt = f->rt;
    if (eval_batch <= 0 || eval_batch > lp_network_max_batch(f->net))
        return lp_fail(LP_ERR_INVALID_ARG, "evaluation batch %d (the network holds at most %d)",
                       eval_batch, lp_network_max_batch(f->net));
    LP_TRY(lp_buffer_fill_zero(rt, stats, (size_t)stats_off * sizeof(float), 2 * sizeof(float)));
    int classes = lp_network_classes(f->net);
    for (int first = 0; first < n_total; first += eval_batch) {
        int n = n_total - first < eval_batch ? n_total - first : eval_batch;
        LP_TRY(lp_feed_batch(f, NULL, 0, 0, x, y, tg, idx, first_row + first, n));
        LP_TRY(lp_network_forward(f->net, n, false));
        LP_TRY(loss->run(rt, lp_network_logits(f->net), f->outputs ? f->batch_t : f->batch_y, n,
                         classes, 0.0f, NULL, stats, stats_off));
        if (logits)
            LP_TRY(lp_buffer_read(rt, lp_network_logits(f->net), 0,
                                  (size_t)n * (size_t)classes * sizeof(float),
                                  logits + (size_t)first * (size_t)classes));
    }
    return lp_buffer_read(rt, stats, (size_t)stats_off * sizeof(float), 2 * sizeof(float), sums);
}
