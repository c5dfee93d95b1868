/* laperm train --resume and --replay: finding the file and checkpoint a run continues
 * from, and the choices another run made. */
#ifndef LAPERM_CLI_TRAIN_RESUME_H
#define LAPERM_CLI_TRAIN_RESUME_H

#include <stdbool.h>

#include "laperm/model.h"
#include "laperm/network.h"
#include "laperm/train.h"

typedef struct {
    char out[4096];    /* the results file the run writes (FILE without ".part") */
    char source[4096]; /* the file whose checkpoint it continues from ("": none) */
    char *argv;        /* the recorded arguments after "train", one per line; NULL: none */
    bool complete;     /* out is a finished run with nothing left to do */
    lp_train_resume resume;
} cli_resume_plan;

/* Looks at FILE and FILE.part (or FILE.part's final name): the newest valid checkpoint of
 * the two, the recorded arguments. Returns 0 or an exit status after printing why. */
int cli_resume_find(const char *file, cli_resume_plan *plan);
void cli_resume_free(cli_resume_plan *plan);

/* The convolution paths (one per model layer, AUTO where none) recorded in `file`'s
 * conv_paths attribute ("name=path,..."), which must name this model's layers. */
int cli_replay_conv(const char *file, const lp_model_spec *model, lp_conv_algo *per_layer);

#endif
