/* laperm summary MODEL: layers, output shapes and parameter counts. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "laperm/model.h"

int cli_summary(int argc, char **argv) {
    const char *path = NULL;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: laperm summary MODEL\n\n"
                   "Prints each layer of MODEL (a models/*.ini file) with its output shape and\n"
                   "parameter count, then the totals. Has no options besides --help.\n");
            return 0;
        }
        if (argv[i][0] == '-' || path) {
            fprintf(stderr,
                    "laperm summary: unexpected argument '%s' (usage: laperm summary "
                    "MODEL)\n",
                    argv[i]);
            return 2;
        }
        path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "laperm summary: missing MODEL (usage: laperm summary MODEL)\n");
        return 2;
    }
    lp_model_spec m;
    if (lp_model_load(path, &m) != LP_OK) {
        fprintf(stderr, "laperm summary: %s\n", lp_last_error());
        return 1;
    }
    int rc = lp_model_summary(&m, stdout) == LP_OK ? 0 : 1;
    lp_model_free(&m);
    return rc;
}
