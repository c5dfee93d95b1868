/* laperm predict: a trained network's outputs and predicted classes for unlabeled inputs
 * (/x, else /test/x, of an HDF5 file). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "laperm/evaluate.h"
#include "laperm/predictions.h"
#include "use_options.h"

/* The run's training split, for the normalisation statistics. */
static lp_status train_split_(const cli_use_recorded *rec, lp_dataset *train) {
    const lp_dataset_format *fmt = rec->dataset ? lp_dataset_format_find(rec->dataset) : NULL;
    if (!fmt || !rec->data_dir)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "normalisation needs the training data's statistics, and the weights file "
                       "records no dataset: give --normalize none");
    return cli_use_load_split(fmt, rec->data_dir, "train", rec->train_images, train);
}

int cli_predict(int argc, char **argv) {
    const char *C = "predict";
    cli_use u;
    int rc = cli_use_open(C, CLI_USE_PREDICT, argc, argv, &u);
    if (rc) return rc < 0 ? 0 : rc;
    const cli_use_args *a = &u.a;
    lp_eval_config *cfg = &u.cfg;
    if (!cfg->loss && lp_model_loss_name(&u.model))
        cfg->loss = lp_loss_find(lp_model_loss_name(&u.model));
    if (!cfg->loss) cfg->loss = lp_loss_at(0);
    lp_dataset in = {0}, train = {0};
    lp_eval_result r = {0};
    int outputs = (int)lp_shape_size(u.model.layers[u.model.n_layers - 1].out);
    lp_status s = lp_hdf5_inputs_load(a->data, &in);
    /* no labels: class 0 (or zero targets) everywhere; the loss it gives means nothing */
    if (s == LP_OK && cfg->loss->regression) {
        in.outputs = outputs;
        in.t = calloc((size_t)in.n * (size_t)outputs + 1, sizeof *in.t);
        if (!in.t) s = lp_fail(LP_ERR_NO_MEMORY, "out of memory");
    }
    in.classes = cfg->loss->regression ? 0 : outputs;
    bool norm = cfg->norm != LP_NORM_NONE;
    if (s == LP_OK && norm) s = train_split_(&u.rec, &train);
    if (s == LP_OK) s = cli_use_evaluate(&u, norm ? &train : NULL, &in, &r);
    lp_attr attrs[] = {LP_ATTR_S("weights", a->weights),
                       LP_ATTR_S("weights_kind", u.origin.kind),
                       LP_ATTR_S("network", u.origin.what),
                       LP_ATTR_I("snapshot", u.origin.snapshot),
                       LP_ATTR_I("epoch", u.origin.epoch),
                       LP_ATTR_I("step", u.origin.step),
                       LP_ATTR_S("model_text", u.model.text),
                       LP_ATTR_S("data", a->data),
                       LP_ATTR_S("normalize", lp_norm_mode_name(cfg->norm)),
                       LP_ATTR_I("n", r.n)};
    lp_predictions p = {.n = r.n,
                        .outputs = r.outputs,
                        .regression = r.regression,
                        .logits = r.logits,
                        .attrs = attrs,
                        .n_attrs = (int)(sizeof attrs / sizeof *attrs)};
    if (s == LP_OK && a->out) s = lp_predictions_write(a->out, &p);
    if (s != LP_OK) {
        fprintf(stderr, "laperm %s: %s\n", C, lp_last_error());
        rc = 1;
    } else {
        printf("weights: %s, %s\n", a->weights, u.origin.what);
        printf("inputs: %s, %d samples\n", in.origin, r.n);
        if (!r.regression) {
            long long *count = calloc((size_t)r.outputs, sizeof *count);
            for (int i = 0; count && i < r.n; ++i)
                count[lp_predicted_class(r.logits + (size_t)i * r.outputs, r.outputs)]++;
            printf("predicted classes (class: samples):");
            for (int c = 0; count && c < r.outputs; ++c)
                if (count[c]) printf(" %d: %lld", c, count[c]);
            printf("\n");
            free(count);
        }
        if (a->out)
            printf("predictions: %s\n", a->out);
        else
            printf("(--out FILE.h5 writes each sample's outputs and class)\n");
        rc = 0;
    }
    lp_eval_result_free(&r);
    lp_dataset_free(&in);
    lp_dataset_free(&train);
    cli_use_close(&u);
    return rc;
}
