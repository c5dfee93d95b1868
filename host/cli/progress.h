/* Training progress on the terminal: a live bar on a TTY, one line per epoch elsewhere. */
#ifndef LAPERM_CLI_PROGRESS_H
#define LAPERM_CLI_PROGRESS_H

#include <stdbool.h>

#include "laperm/train.h"

typedef struct {
    bool tty;   /* draw a bar, rewritten in place */
    bool quiet; /* nothing per epoch */
    bool bar_drawn;
    bool laperm;     /* also show the unsynced accuracy */
    bool regression; /* MSE and MAE instead of accuracy */
} cli_progress;

void cli_progress_init(cli_progress *p, const char *mode /* auto|bar|plain|none */);
lp_train_callbacks cli_progress_callbacks(cli_progress *p);

#endif
