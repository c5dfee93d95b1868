/* Models by name: `--model conv7` finds models/conv7.ini from any directory. */
#ifndef LAPERM_CLI_MODEL_PATH_H
#define LAPERM_CLI_MODEL_PATH_H

#include <stdbool.h>
#include <stddef.h>

/* The model file `given` names, into out: `given` itself when it is a file; else, for a
 * name without '/', NAME or NAME.ini in ./models, the source tree's models folder and
 * the installed share/laperm/models (next to the program's bin/, then the configured
 * prefix's), in that order. A path with '/' that is no file is returned as it is, for the
 * model loader to report. Returns 0, or 2 after printing (for command `cmd`) where it
 * looked and the names there, with the closest one. */
int cli_model_path(const char *cmd, const char *given, char *out, size_t cap);

/* The folders searched, existing or not, in order; returns how many (at most max). */
int cli_model_dirs(char dirs[][4096], int max);

#endif
