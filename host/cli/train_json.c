/* laperm train --json (train_json.h). Accuracies are fractions (0.9812), as in the
 * results file; a figure that does not apply (accuracy of a regression) is null. */
#include "train_json.h"

#include <math.h>

#include "json.h"

static void key_(FILE *f, const char *key, double x) {
    fprintf(f, ", \"%s\": ", key);
    cli_json_number(f, x);
}

void cli_train_json(FILE *f, const cli_train_args *a, const lp_train_result *r,
                    const lp_device_info *dev, const char *status, bool regression, double seconds,
                    double startup) {
    fprintf(f, "{\"status\": \"%s\", \"model\": ", status);
    cli_json_string(f, a->model);
    fprintf(f, ", \"results\": ");
    if (a->cfg.out_path)
        cli_json_string(f, a->cfg.out_path);
    else
        fputs("null", f);
    fprintf(f, ", \"device\": ");
    cli_json_string(f, dev->device_name);
    fprintf(f, ", \"optimizer\": ");
    cli_json_string(f, lp_train_optimizer_name(&a->cfg));
    fprintf(f, ", \"task\": \"%s\", \"epochs\": %d, \"steps\": %lld, \"syncs\": %lld",
            regression ? "regression" : "classification", r->epochs_done, r->steps, r->syncs);
    if (r->diverged) fprintf(f, ", \"diverged_step\": %lld", r->diverged_step);
    bool evaluated = r->best_step > 0;
    const double none = NAN; /* printed as null */
    fprintf(f, ", \"final\": {\"test_loss\": ");
    cli_json_number(f, evaluated ? r->final_test_loss : none);
    key_(f, regression ? "test_mae" : "test_accuracy",
         !evaluated   ? none
         : regression ? r->final_test_mae
                      : r->final_test_accuracy);
    fprintf(f, "}, \"best\": ");
    if (evaluated) {
        fprintf(f, "{\"step\": %lld, \"epoch\": %d, \"test_loss\": ", r->best_step, r->best_epoch);
        cli_json_number(f, r->best_test_loss);
        if (!regression) key_(f, "test_accuracy", r->best_test_accuracy);
        if (!regression && a->cfg.laperm)
            key_(f, "unsynced_test_accuracy", r->best_unsynced_accuracy);
        fputc('}', f);
    } else {
        fputs("null", f);
    }
    fprintf(f, ", \"seconds\": {\"total\": ");
    cli_json_number(f, seconds);
    key_(f, "train", r->train_seconds);
    key_(f, "startup", startup);
    fprintf(f, "}");
    key_(f, "images_per_second", r->images_per_second);
    fprintf(f, "}\n");
}
