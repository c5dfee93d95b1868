/* --init-from: initial values read from another run's results file (init_from.h). */
#include "init_from.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "laperm/results.h"

/* "10x784" */
static const char *dims_str_(int rank, const size_t *dims, char *buf, size_t size) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < rank && len < size; ++i) {
        int w = snprintf(buf + len, size - len, "%s%zu", i ? "x" : "", dims[i]);
        len = w < 0 ? size : len + (size_t)w;
    }
    return buf;
}

lp_status lp_init_from_results(const char *path, const lp_param_tensor *t, int n,
                               const char *const *layer_names, float *dst, char hash[17]) {
    uint64_t h = LP_HASH_SEED;
    /* Said here: below, a missing dataset would read as a missing layer. */
    if (access(path, F_OK) != 0)
        return lp_fail(LP_ERR_NOT_FOUND,
                       "--init-from %s: no such file (give a finished laperm run's results file)",
                       path);
    for (int i = 0; i < n; ++i) {
        const lp_param_tensor *p = &t[i];
        const char *layer = layer_names[p->layer];
        char name[160];
        snprintf(name, sizeof name, "/weights/%s/%s", layer, p->name);
        float *data = NULL;
        int rank = 0;
        size_t dims[4];
        lp_status s = lp_results_read_float(path, name, &data, &rank, dims);
        if (s == LP_ERR_NOT_FOUND)
            return lp_fail_context(s,
                                   "--init-from %s: no weights for layer '%s' %s (layers match "
                                   "by name; the file must be a finished run's): ",
                                   path, layer, p->name);
        if (s != LP_OK) return lp_fail_context(s, "--init-from %s: ", path);
        size_t want[4];
        bool same = rank == p->rank;
        for (int d = 0; d < p->rank; ++d) {
            want[d] = (size_t)p->dims[d];
            same = same && dims[d] == want[d];
        }
        if (!same) {
            char there[64], here[64];
            free(data);
            return lp_fail(LP_ERR_FORMAT,
                           "--init-from %s: layer '%s' %s is %s there but %s in this model", path,
                           layer, p->name, dims_str_(rank, dims, there, sizeof there),
                           dims_str_(p->rank, want, here, sizeof here));
        }
        memcpy(dst + p->offset, data, p->count * sizeof *dst);
        h = lp_hash_bytes(h, data, p->count * sizeof *data);
        free(data);
    }
    snprintf(hash, 17, "%016llx", (unsigned long long)lp_hash_final(h));
    return LP_OK;
}
