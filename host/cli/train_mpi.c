/* laperm train under an MPI launcher: see train_mpi.h. */
#include "train_mpi.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/runtime.h"

int cli_mpi_start(lp_dist **out) {
    *out = NULL;
    int launched = lp_dist_launcher_size();
    if (launched <= 1) return 0;
    if (lp_dist_start(NULL, NULL, out) != LP_OK) {
        fprintf(stderr, "laperm train: started by an MPI launcher as one of %d processes, but %s\n",
                launched, lp_last_error());
        return 2;
    }
    if (lp_dist_rank(*out) > 0 && !freopen("/dev/null", "w", stdout)) {
        fprintf(stderr, "%s: cannot silence stdout\n", cli_mpi_who(*out));
        return cli_mpi_end(*out, 1);
    }
    return 0;
}

int cli_mpi_end(lp_dist *d, int rc) {
    if (!d) return rc;
    /* 0 done, 2 usage, 3 diverged, 130 interrupted: every rank got there alike. */
    if (rc == 0 || rc == 2 || rc == 3 || rc == 130) {
        fflush(stdout);
        lp_dist_stop(d);
        return rc;
    }
    fflush(stdout);
    fflush(stderr);
    lp_dist_abort(d, rc);
    return rc;
}

const char *cli_mpi_who(const lp_dist *d) {
    static char who[64];
    if (!d) return "laperm train";
    snprintf(who, sizeof who, "laperm train (rank %d of %d)", lp_dist_rank(d), lp_dist_size(d));
    return who;
}

/* Replaces "{local_rank}" and "{rank}" in `in` by the numbers. */
static int substitute_(const char *in, const lp_dist *d, char *out, size_t cap) {
    static const char *const names[] = {"{local_rank}", "{rank}"};
    int values[] = {lp_dist_local_rank(d), lp_dist_rank(d)};
    size_t len = 0;
    out[0] = '\0';
    for (const char *p = in; *p;) {
        int hit = -1;
        for (int i = 0; i < 2 && hit < 0; ++i)
            if (!strncmp(p, names[i], strlen(names[i]))) hit = i;
        int n = hit >= 0 ? snprintf(out + len, cap - len, "%d", values[hit])
                         : snprintf(out + len, cap - len, "%c", *p);
        if (n < 0 || (size_t)n >= cap - len) return 1;
        len += (size_t)n;
        p += hit >= 0 ? strlen(names[hit]) : 1;
    }
    return 0;
}

/* The node's GPUs (Oclgrind, a simulator, left out) in turn by local rank, as "P:D";
 * "" (the default choice) when the node has none. */
static void gpu_in_turn_(const lp_dist *d, char *out, size_t cap) {
    out[0] = '\0';
    lp_device_info *devs;
    int n, gpus = 0;
    if (lp_devices_list(&devs, &n) != LP_OK) {
        lp_clear_error();
        return;
    }
    for (int pass = 0; pass < 2; ++pass) {
        int seen = 0;
        for (int i = 0; i < n; ++i) {
            if (!(devs[i].type & CL_DEVICE_TYPE_GPU) || strstr(devs[i].platform_name, "Oclgrind"))
                continue;
            if (pass == 1 && seen == lp_dist_local_rank(d) % gpus)
                snprintf(out, cap, "%d:%d", devs[i].platform_index, devs[i].device_index);
            ++seen;
        }
        gpus = seen;
        if (!gpus) break;
    }
    free(devs);
}

int cli_mpi_device(const char *given, const lp_dist *d, char *out, size_t cap) {
    const char *spec = given && *given ? given : getenv("LAPERM_DEVICE");
    out[0] = '\0';
    if (!spec || !*spec) {
        if (d) gpu_in_turn_(d, out, cap);
        return 0;
    }
    bool pattern = strstr(spec, "{local_rank}") || strstr(spec, "{rank}");
    if (!d && (pattern || strchr(spec, ','))) {
        fprintf(stderr,
                "laperm train: --device '%s' names devices per rank of an MPI job; start it "
                "with mpirun -np N%s\n",
                spec,
                lp_dist_built() ? ""
                                : " (and a laperm built with MPI: apt-get install "
                                  "libopenmpi-dev, then build again)");
        return 2;
    }
    /* A list: entry local_rank (every rank of a node needs its own). */
    char entry[512];
    snprintf(entry, sizeof entry, "%s", spec);
    if (strchr(spec, ',')) {
        int listed = 1;
        for (const char *c = spec; (c = strchr(c, ',')); ++c)
            ++listed;
        if (listed < lp_dist_local_size(d)) {
            fprintf(stderr, "%s: --device '%s' lists %d devices, but this node runs %d ranks\n",
                    cli_mpi_who(d), spec, listed, lp_dist_local_size(d));
            return 2;
        }
        const char *p = spec;
        for (int at = 0; at < lp_dist_local_rank(d); ++at)
            p = strchr(p, ',') + 1;
        size_t len = strcspn(p, ",");
        snprintf(entry, sizeof entry, "%.*s", (int)len, p);
    }
    if (substitute_(entry, d, out, cap)) {
        fprintf(stderr, "%s: --device '%s' is too long\n", cli_mpi_who(d), spec);
        return 2;
    }
    return 0;
}
