/* Options of laperm eval, predict and export, and loading their weights (use_options.h). */
#include "use_options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "model_path.h"
#include "quiet.h"

typedef enum {
    OPT_WEIGHTS_,
    OPT_MODEL_,
    OPT_EPOCH_,
    OPT_SNAPSHOT_,
    OPT_BEST_,
    OPT_INIT_,
    OPT_DATASET_,
    OPT_DATA_,
    OPT_NORMALIZE_,
    OPT_TEST_SUBSET_,
    OPT_EVAL_BATCH_,
    OPT_DEVICE_,
    OPT_FORMAT_,
    OPT_OUT_,
    OPT_JSON_,
    OPT_VERBOSE_,
} opt_id_;

typedef struct {
    opt_id_ id;
    const char *name, *alias, *metavar, *def, *help;
    unsigned cmds;
} row_;

#define ALL_ (CLI_USE_EVAL | CLI_USE_PREDICT | CLI_USE_EXPORT)
#define RUN_ (CLI_USE_EVAL | CLI_USE_PREDICT)

static const row_ rows_[] = {
    {OPT_WEIGHTS_, "--weights", NULL, "FILE", "required",
     "a laperm results file (or a killed run's .part), a weights file from `laperm unpack`,\n"
     "or a Keras save_weights HDF5 file (layers matched to --model by order and shape)",
     ALL_},
    {OPT_MODEL_, "--model", NULL, "FILE", "the one the weights file records",
     "model file or name (conv7: models/conv7.ini); required for a Keras file that laperm\n"
     "did not export",
     ALL_},
    {OPT_EPOCH_, "--epoch", NULL, "N", "the final network",
     "the end-of-epoch snapshot of epoch N (1-based, as /metrics/epoch)", ALL_},
    {OPT_SNAPSHOT_, "--snapshot", NULL, "S", "the final network",
     "snapshot S (0-based; -1 the last, -2 the one before)", ALL_},
    {OPT_BEST_, "--best", NULL, "", "off", "the best evaluation's network (/best, --save-best)",
     ALL_},
    {OPT_INIT_, "--init", NULL, "", "off", "the initial network (/init)", ALL_},
    {OPT_DATASET_, "--dataset", NULL, "NAME", "the run's, else mnist",
     "data format, as for laperm train", CLI_USE_EVAL},
    {OPT_DATA_, "--data", NULL, "DIR", "the run's, else the format's",
     "data folder (hdf5: the file); predict: an HDF5 file whose /x (else /test/x) it reads", RUN_},
    {OPT_NORMALIZE_, "--normalize", NULL, "MODE", "the run's, else none",
     "none, per-channel or per-pixel-mean (statistics of the training split, as the run's)", RUN_},
    {OPT_TEST_SUBSET_, "--test-subset", NULL, "N", "the run's",
     "evaluate the first N test samples (0: all)", CLI_USE_EVAL},
    {OPT_EVAL_BATCH_, "--eval-batch", NULL, "N", "the run's, else auto", "samples per forward pass",
     RUN_},
    {OPT_DEVICE_, "--device", NULL, "D", "$LAPERM_DEVICE, a GPU, else a CPU",
     "P:D or a name substring", RUN_},
    {OPT_FORMAT_, "--format", NULL, "NAME", "required", "keras or npz", CLI_USE_EXPORT},
    {OPT_OUT_, "--out", "-o", "FILE", "eval, predict: none; export: required",
     "eval, predict: an HDF5 predictions file; export: the file written", ALL_},
    {OPT_JSON_, "--json", NULL, "", "off", "print the result as one JSON object", CLI_USE_EVAL},
    {OPT_VERBOSE_, "--verbose", NULL, "", "off",
     "show the OpenCL compiler's own output (PoCL's \"N warnings generated.\")", RUN_},
};
#define N_ROWS_ ((int)(sizeof rows_ / sizeof *rows_))

static const char *usage_(unsigned cmd) {
    return cmd == CLI_USE_EVAL ? "laperm eval --weights FILE [--model FILE] [options]"
           : cmd == CLI_USE_PREDICT
               ? "laperm predict --weights FILE [--model FILE] --data FILE.h5 [--out FILE]"
               : "laperm export --format keras|npz [--weights] FILE -o OUT [options]";
}

static void help_(unsigned cmd) {
    printf("usage: %s\n\n", usage_(cmd));
    if (cmd == CLI_USE_EVAL)
        printf("Evaluates a trained network on a dataset: loss and accuracy (regression: MSE\n"
               "and MAE), computed as the run's own evaluation, so a snapshot gives the test\n"
               "accuracy the results file records for it. The data, normalisation and\n"
               "evaluation settings default to the run's.\n\n");
    else if (cmd == CLI_USE_PREDICT)
        printf("Runs a trained network on unlabeled inputs: /x of an HDF5 file (else /test/x),\n"
               "(n, features) or (n, channels, height, width), and writes the outputs and\n"
               "predicted classes.\n\n");
    else
        printf("Writes a network's weights for another framework: keras (a save_weights file\n"
               "that Keras' load_weights reads for the same architecture) or npz (NumPy arrays\n"
               "<layer>.<tensor> in PyTorch layout).\n\n");
    for (int i = 0; i < N_ROWS_; ++i) {
        const row_ *r = &rows_[i];
        if (!(r->cmds & cmd)) continue;
        char lhs[64];
        snprintf(lhs, sizeof lhs, "%s%s%s %s", r->alias ? r->alias : "", r->alias ? ", " : "",
                 r->name, r->metavar);
        arg_help_row(lhs, r->help, r->def);
    }
    printf("  %-22s %s\n", "-h, --help", "show this help");
}

/* One network choice: a second one is refused. */
static bool pick_(const char *name, const char *flag, cli_use_args *a, lp_weights_pick p) {
    if (a->pick_flag) {
        fprintf(stderr, "laperm %s: %s and %s both choose the network: give one\n", name,
                a->pick_flag, flag);
        return false;
    }
    a->pick = p;
    a->pick_flag = flag;
    return true;
}

int cli_use_parse(const char *name, unsigned cmd, int argc, char **argv, cli_use_args *a) {
    static const char *const norms[] = {"none", "per-channel", "per-pixel-mean", NULL};
    static const char *const formats[] = {"keras", "npz", NULL};
    memset(a, 0, sizeof *a);
    /* this command's rows, as the flag walk takes them (an alias is a row of its own) */
    cli_flag flags[2 * N_ROWS_];
    const row_ *of[2 * N_ROWS_];
    int nf = 0;
    for (int i = 0; i < N_ROWS_; ++i) {
        if (!(rows_[i].cmds & cmd)) continue;
        of[nf] = &rows_[i];
        flags[nf++] = (cli_flag){rows_[i].name, rows_[i].metavar};
        if (rows_[i].alias) {
            of[nf] = &rows_[i];
            flags[nf++] = (cli_flag){rows_[i].alias, rows_[i].metavar};
        }
    }
    cli_args it = {.cmd = name, .flags = flags, .n_flags = nf, .argc = argc, .i = 1, .argv = argv};
    const cli_flag *flag;
    const char *v;
    for (cli_arg kind; (kind = cli_args_next(&it, &flag, &v)) != CLI_ARG_END;) {
        if (kind == CLI_ARG_HELP) {
            help_(cmd);
            return -1;
        }
        if (kind == CLI_ARG_ERROR) return 2;
        if (kind == CLI_ARG_POSITIONAL) {
            if (cmd == CLI_USE_EXPORT && !a->weights) {
                a->weights = v;
                continue;
            }
            fprintf(stderr, "laperm %s: unexpected argument '%s' (usage: %s)\n", name, v,
                    usage_(cmd));
            return 2;
        }
        const row_ *r = of[flag - flags];
        const char *o = flag->name;
        long long n;
        bool ok = true;
        switch (r->id) {
        case OPT_WEIGHTS_:
            a->weights = v;
            break;
        case OPT_MODEL_:
            a->model = v;
            break;
        case OPT_EPOCH_:
            ok = arg_int(name, o, v, 1, 1000000000, &n) &&
                 pick_(name, o, a, (lp_weights_pick){.kind = LP_PICK_EPOCH, .epoch = (int)n});
            break;
        case OPT_SNAPSHOT_:
            ok = arg_int(name, o, v, -1000000000, 1000000000, &n) &&
                 pick_(name, o, a, (lp_weights_pick){.kind = LP_PICK_SNAPSHOT, .snapshot = n});
            break;
        case OPT_BEST_:
            ok = pick_(name, o, a, (lp_weights_pick){.kind = LP_PICK_BEST});
            break;
        case OPT_INIT_:
            ok = pick_(name, o, a, (lp_weights_pick){.kind = LP_PICK_INIT});
            break;
        case OPT_DATASET_:
            ok = lp_dataset_format_find(v) != NULL;
            if (!ok) {
                fprintf(stderr, "laperm %s: --dataset: unknown format '%s' (expected", name, v);
                for (int j = 0; lp_dataset_format_at(j); ++j)
                    fprintf(stderr, "%s %s", j ? "," : "", lp_dataset_format_at(j)->name);
                fprintf(stderr, ")\n");
            }
            a->dataset = v;
            break;
        case OPT_DATA_:
            a->data = v;
            break;
        case OPT_NORMALIZE_:
            ok = arg_choice(name, o, v, norms) >= 0;
            a->normalize = v;
            break;
        case OPT_TEST_SUBSET_:
            ok = arg_int(name, o, v, 0, 2000000000, &a->test_subset);
            break;
        case OPT_EVAL_BATCH_:
            ok = arg_int(name, o, v, 1, 1000000, &a->eval_batch);
            break;
        case OPT_DEVICE_:
            a->device = v;
            break;
        case OPT_FORMAT_:
            ok = arg_choice(name, o, v, formats) >= 0;
            a->format = v;
            break;
        case OPT_OUT_:
            a->out = v;
            break;
        case OPT_JSON_:
            a->json = true;
            break;
        case OPT_VERBOSE_:
            cli_quiet_off();
            break;
        }
        if (!ok) return 2;
    }
    if (!a->weights) {
        fprintf(stderr, "laperm %s: missing --weights FILE (usage: %s)\n", name, usage_(cmd));
        return 2;
    }
    if (cmd == CLI_USE_EXPORT && (!a->format || !a->out)) {
        fprintf(stderr, "laperm %s: missing %s (usage: %s)\n", name,
                !a->format ? "--format keras|npz" : "-o OUT", usage_(cmd));
        return 2;
    }
    if (cmd == CLI_USE_PREDICT && !a->data) {
        fprintf(stderr, "laperm %s: missing --data FILE.h5 (usage: %s)\n", name, usage_(cmd));
        return 2;
    }
    return 0;
}

int cli_use_load(const char *name, const cli_use_args *a, lp_model_spec *model, lp_weights *w,
                 lp_weights_origin *origin) {
    memset(model, 0, sizeof *model);
    char path[4096];
    if (a->model) {
        int rc = cli_model_path(name, a->model, path, sizeof path);
        if (rc) return rc;
    }
    if (a->model && lp_model_load(path, model) != LP_OK) {
        fprintf(stderr, "laperm %s: %s\n", name, lp_last_error());
        return 1;
    }
    if (lp_weights_load(a->weights, &a->pick, a->model ? model : NULL, w, origin) != LP_OK) {
        fprintf(stderr, "laperm %s: %s\n", name, lp_last_error());
        lp_model_free(model);
        return 1;
    }
    if (a->model) return 0;
    if (!w->model_text) {
        fprintf(stderr, "laperm %s: %s records no model: give --model FILE\n", name, a->weights);
        lp_weights_free(w);
        return 1;
    }
    char source[4200];
    snprintf(source, sizeof source, "%s:/model_text", a->weights);
    if (lp_model_parse_text(w->model_text, source, model) != LP_OK) {
        fprintf(stderr, "laperm %s: %s\n", name, lp_last_error());
        lp_weights_free(w);
        return 1;
    }
    return 0;
}
