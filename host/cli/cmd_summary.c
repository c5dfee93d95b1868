/* laperm summary MODEL: layers, output shapes and parameter counts (a table or JSON). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "json.h"
#include "laperm/model.h"
#include "model_path.h"

/* The table's content as one JSON object: each layer's name, kind, output shape and
 * parameters, then the totals (the permuted ones as the table counts them). */
static lp_status print_json_(const lp_model_spec *m, const char *path) {
    lp_param_tensor *t = NULL;
    int nt = 0;
    LP_TRY(lp_model_params(m, &t, &nt));
    printf("{\"model\": ");
    cli_json_string(stdout, path);
    printf(", \"layers\": [");
    for (int i = 0; i < m->n_layers; ++i) {
        const lp_layer_spec *l = &m->layers[i];
        size_t params = 0;
        for (int k = 0; k < nt; ++k)
            if (t[k].layer == i) params += t[k].count;
        printf("%s\n  {\"index\": %d, \"name\": ", i ? "," : "", i);
        cli_json_string(stdout, l->name);
        printf(", \"kind\": ");
        cli_json_string(stdout, lp_layer_kind_name(l->kind));
        printf(", \"output\": [%d, %d, %d], \"params\": %zu}", l->out.c, l->out.h, l->out.w,
               params);
    }
    size_t total = 0, permuted = 0;
    long groups = 0;
    for (int k = 0; k < nt; ++k) {
        total += t[k].count;
        if (!t[k].permute_default) continue;
        permuted += t[k].count;
        groups += t[k].groups;
    }
    printf("\n], \"total_params\": %zu, \"tensors\": %d, \"permuted_params\": %zu, "
           "\"permuted_groups\": %ld}\n",
           total, nt, permuted, groups);
    free(t);
    return LP_OK;
}

int cli_summary(int argc, char **argv) {
    const char *given = NULL;
    bool json;
    int rc = cli_args_json_only(
        "summary", argc, argv,
        "usage: laperm summary [--json] MODEL\n\n"
        "Prints each layer of MODEL (a model file, or a name such as conv7: see\n"
        "laperm train --model) with its output shape and parameter count, then the\n"
        "totals.\n\n"
        "  --json    print one JSON object instead of the table (default: table)\n",
        "laperm summary [--json] MODEL", &json, &given);
    if (rc) return rc < 0 ? 0 : rc;
    if (!given) {
        fprintf(stderr, "laperm summary: missing MODEL (usage: laperm summary [--json] MODEL)\n");
        return 2;
    }
    char path[4096];
    if (cli_model_path("summary", given, path, sizeof path)) return 2;
    lp_model_spec m;
    if (lp_model_load(path, &m) != LP_OK) {
        fprintf(stderr, "laperm summary: %s\n", lp_last_error());
        return 1;
    }
    lp_status s = json ? print_json_(&m, path) : lp_model_summary(&m, stdout);
    if (s != LP_OK) fprintf(stderr, "laperm summary: %s\n", lp_last_error());
    lp_model_free(&m);
    return s == LP_OK ? 0 : 1;
}
