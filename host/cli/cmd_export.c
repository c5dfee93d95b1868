/* laperm export: a trained network's weights for Keras (save_weights HDF5) or NumPy /
 * PyTorch (.npz). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "use_options.h"

int cli_export(int argc, char **argv) {
    cli_use u;
    int rc = cli_use_open("export", CLI_USE_EXPORT, argc, argv, &u);
    if (rc) return rc < 0 ? 0 : rc;
    const cli_use_args *a = &u.a;
    lp_status s = !strcmp(a->format, "keras") ? lp_weights_write_keras(&u.w, &u.model, a->out)
                                              : lp_weights_write_npz(&u.w, &u.model, a->out);
    if (s != LP_OK) {
        fprintf(stderr, "laperm export: %s\n", lp_last_error());
        rc = 1;
    } else {
        printf("%s: %s of %s (%s) as %s\n", a->out, u.origin.what, a->weights, u.model.source,
               a->format);
    }
    cli_use_close(&u);
    return rc;
}
