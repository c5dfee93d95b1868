/* laperm eval: a trained network's loss and accuracy on a dataset, computed as the run's
 * own evaluation; --out writes per-sample predictions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "laperm/evaluate.h"
#include "laperm/predictions.h"
#include "laperm/results.h"
#include "use_options.h"

/* The test accuracy (regression: loss) /metrics records for `epoch`, NaN if none. */
static double recorded_(const char *path, int epoch, bool regression) {
    double value = NAN, *v = NULL;
    int32_t *ep = NULL;
    int rank;
    size_t d[4], d2[4];
    if (epoch > 0 && lp_results_read_int32(path, "/metrics/epoch", &ep, &rank, d) == LP_OK &&
        lp_results_read_double(path, regression ? "/metrics/test_loss" : "/metrics/test_accuracy",
                               &v, &rank, d2) == LP_OK)
        for (size_t i = 0; i < d[0] && i < d2[0]; ++i)
            if (ep[i] == epoch) value = v[i];
    lp_clear_error();
    free(ep);
    free(v);
    return value;
}

int cli_eval(int argc, char **argv) {
    const char *C = "eval";
    cli_use u;
    int rc = cli_use_open(C, CLI_USE_EVAL, argc, argv, &u);
    if (rc) return rc < 0 ? 0 : rc;
    const cli_use_args *a = &u.a;
    const cli_use_recorded *rec = &u.rec;
    const lp_weights_origin *origin = &u.origin;
    /* the run's data unless told otherwise; another format takes its own folder */
    const char *dataset = a->dataset ? a->dataset : rec->dataset ? rec->dataset : "mnist";
    const lp_dataset_format *fmt = lp_dataset_format_find(dataset);
    bool same_data = rec->dataset && !strcmp(dataset, rec->dataset);
    const char *data = a->data                                          ? a->data
                       : same_data && rec->data_dir && rec->data_dir[0] ? rec->data_dir
                       : fmt                                            ? fmt->default_dir
                                                                        : "";
    bool norm = u.cfg.norm != LP_NORM_NONE;
    lp_dataset train = {0}, test = {0};
    lp_eval_result r = {0};
    lp_status s = fmt ? LP_OK : lp_fail(LP_ERR_INVALID_ARG, "unknown dataset format '%s'", dataset);
    if (s == LP_OK)
        s = cli_use_load_split(fmt, data, "test",
                               a->test_subset ? a->test_subset
                               : same_data    ? rec->test_images
                                              : 0,
                               &test);
    /* normalisation statistics come from the run's training split */
    if (s == LP_OK && norm)
        s = cli_use_load_split(fmt, data, "train", same_data ? rec->train_images : 0, &train);
    if (s == LP_OK) s = cli_use_evaluate(&u, norm ? &train : NULL, &test, &r);
    if (s != LP_OK) {
        fprintf(stderr, "laperm %s: %s\n", C, lp_last_error());
        rc = 1;
        goto done;
    }
    /* the recorded score is compared only on the run's own test data */
    char hash[24];
    lp_dataset_hash(&test, hash);
    bool run_data = same_data && rec->test_data_hash && !strcmp(hash, rec->test_data_hash);
    if (same_data && rec->test_data_hash && !run_data && !a->test_subset && !a->json)
        printf("note: these test data differ from the run's (hash %s, the file records %s)\n", hash,
               rec->test_data_hash);
    double recorded = run_data ? recorded_(a->weights, origin->epoch, r.regression) : NAN;
    if (a->out) {
        lp_attr attrs[] = {LP_ATTR_S("weights", a->weights),
                           LP_ATTR_S("weights_kind", origin->kind),
                           LP_ATTR_S("network", origin->what),
                           LP_ATTR_I("snapshot", origin->snapshot),
                           LP_ATTR_I("epoch", origin->epoch),
                           LP_ATTR_I("step", origin->step),
                           LP_ATTR_S("model_text", u.model.text),
                           LP_ATTR_S("dataset", dataset),
                           LP_ATTR_S("data_dir", data),
                           LP_ATTR_S("normalize", lp_norm_mode_name(u.cfg.norm)),
                           LP_ATTR_I("n", r.n),
                           LP_ATTR_D("loss", r.loss),
                           LP_ATTR_D("accuracy", r.accuracy),
                           LP_ATTR_D("mae", r.mae)};
        lp_predictions p = {.n = r.n,
                            .outputs = r.outputs,
                            .regression = r.regression,
                            .logits = r.logits,
                            .labels = r.regression ? NULL : test.y,
                            .targets = test.t,
                            .attrs = attrs,
                            .n_attrs = (int)(sizeof attrs / sizeof *attrs)};
        if (lp_predictions_write(a->out, &p) != LP_OK) {
            fprintf(stderr, "laperm %s: %s\n", C, lp_last_error());
            rc = 1;
            goto done;
        }
    }
    if (a->json) {
        printf("{\"weights\": ");
        cli_json_string(stdout, a->weights);
        printf(", \"network\": ");
        cli_json_string(stdout, origin->what);
        printf(", \"epoch\": %d, \"step\": %lld, \"dataset\": ", origin->epoch, origin->step);
        cli_json_string(stdout, dataset);
        printf(", \"n\": %d, \"loss\": ", r.n);
        cli_json_number(stdout, r.loss);
        printf(", \"accuracy\": ");
        cli_json_number(stdout, r.accuracy);
        printf(", \"mae\": ");
        cli_json_number(stdout, r.mae);
        printf(", \"recorded\": ");
        cli_json_number(stdout, recorded);
        if (a->out) {
            printf(", \"out\": ");
            cli_json_string(stdout, a->out);
        }
        printf("}\n");
    } else {
        printf("weights: %s, %s\n", a->weights, origin->what);
        printf("data: %s %s, %d %s\n", dataset, data, r.n, r.regression ? "samples" : "images");
        if (r.regression)
            printf("test mse %.6g, mae %.6g\n", r.loss, r.mae);
        else
            printf("test loss %.6g, accuracy %.2f%% (%.0f of %d)\n", r.loss, 100.0 * r.accuracy,
                   r.accuracy * r.n, r.n);
        if (!isnan(recorded) && r.regression)
            printf("recorded test mse at epoch %d: %.6g (%s)\n", origin->epoch, recorded,
                   recorded == r.loss ? "equal" : "DIFFERENT");
        else if (!isnan(recorded))
            printf("recorded test accuracy at epoch %d: %.2f%% (%s)\n", origin->epoch,
                   100.0 * recorded, recorded == r.accuracy ? "equal" : "DIFFERENT");
        if (a->out) printf("predictions: %s\n", a->out);
    }
    rc = 0;
done:
    lp_eval_result_free(&r);
    lp_dataset_free(&train);
    lp_dataset_free(&test);
    cli_use_close(&u);
    return rc;
}
