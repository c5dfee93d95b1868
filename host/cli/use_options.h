/* The options of the commands that use a trained network (laperm eval, predict,
 * export): one table --help prints and the parser accepts, each row naming the commands
 * that take it; and the shared first step, loading the weights and the model. */
#ifndef LAPERM_CLI_USE_OPTIONS_H
#define LAPERM_CLI_USE_OPTIONS_H

#include <stdbool.h>

#include "laperm/data.h"
#include "laperm/evaluate.h"
#include "laperm/model.h"
#include "laperm/weights.h"

/* Which commands take a row. */
enum { CLI_USE_EVAL = 1, CLI_USE_PREDICT = 2, CLI_USE_EXPORT = 4 };

typedef struct {
    const char *weights, *model, *data, *device, *out, *format, *dataset, *normalize;
    lp_weights_pick pick;
    const char *pick_flag; /* the flag that chose it, for messages; NULL: the default */
    long long test_subset; /* 0: the run's, else all */
    long long eval_batch;  /* 0: the run's, else automatic */
    bool json;
} cli_use_args;

/* Parses argv[1..argc) for command `cmd` (one of the bits above; name for messages).
 * Returns 0 to go on, -1 after printing --help, or an exit status after printing what was
 * wrong. */
int cli_use_parse(const char *name, unsigned cmd, int argc, char **argv, cli_use_args *a);

/* Loads a->weights (the network a->pick names) and the model: --model, else the model
 * text the weights file records. Returns 0 or 1 after printing why. */
int cli_use_load(const char *name, const cli_use_args *a, lp_model_spec *model, lp_weights *w,
                 lp_weights_origin *origin);

/* What a results file records about its run's data and evaluation, and the evaluation
 * settings made from it. A .lpk and the file `laperm unpack` writes keep the data settings
 * (dataset, data_dir, normalize, loss, subsets, data hashes); a Keras file none (every
 * field empty or 0). */
typedef struct {
    char *dataset, *data_dir, *normalize, *loss, *conv_algo, *conv_paths, *gemm_choices, *gemm_mode,
        *test_data_hash, *bits;
    long long train_images, test_images, batch, eval_batch, fast;
    lp_conv_algo *layer_algo; /* per model layer, from conv_paths; NULL: none */
} cli_use_recorded;

/* Reads them from `path` for the kinds of origin above. Returns 0 or 1 after
 * printing why. */
int cli_use_recorded_read(const char *name, const char *path, const lp_weights_origin *origin,
                          const lp_model_spec *model, cli_use_recorded *r);
void cli_use_recorded_free(cli_use_recorded *r);

/* The evaluation settings: --eval-batch and --normalize, else the run's. */
void cli_use_eval_config(const cli_use_args *a, const cli_use_recorded *r, lp_eval_config *c);

/* Everything a command starts from: its options, the model, the network's weights, what
 * the weights file records of its run, and the evaluation settings. */
typedef struct {
    cli_use_args a;
    lp_model_spec model;
    lp_weights w;
    lp_weights_origin origin;
    cli_use_recorded rec;
    lp_eval_config cfg;
} cli_use;

/* Parses the options, loads the weights and the model and reads the recorded run (*u
 * zeroed first). Returns 0 to go on, -1 after printing --help, or an exit status after
 * printing what was wrong (then nothing is left to free). */
int cli_use_open(const char *name, unsigned cmd, int argc, char **argv, cli_use *u);
void cli_use_close(cli_use *u);

/* Split `split` ("train", "test") of format fmt from dir, only its first `keep` samples
 * (0, or more than it holds: all): the run's subsets, as eval and predict repeat them. */
lp_status cli_use_load_split(const lp_dataset_format *fmt, const char *dir, const char *split,
                             long long keep, lp_dataset *out);

/* Evaluates u's network on data (normalised with norm_from's statistics, NULL: none) on
 * the --device, with the run's GEMM mode. */
lp_status cli_use_evaluate(cli_use *u, const lp_dataset *norm_from, const lp_dataset *data,
                           lp_eval_result *r);

#endif
