/* The MPI side of data-parallel training (laperm/dist.h): start and stop, the fixed-order
 * sums, the agreement check and the gathers. Built without MPI, lp_dist_start answers
 * LP_ERR_UNSUPPORTED and a NULL lp_dist (one process) is all there is. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/dist.h"

#ifdef LAPERM_HAVE_MPI
#include <mpi.h>

struct lp_dist {
    int rank, size, local_rank, local_size;
    unsigned long long sent;
    void *scratch; /* the contributions to this rank's chunk, size x chunk values */
    size_t scratch_bytes;
    int *counts; /* 4 x size: each rank's chunk and offset, what each sends this rank */
};

/* Errors come back as codes (MPI_ERRORS_RETURN on MPI_COMM_WORLD), named by MPI. */
static lp_status mpi_check_(int err, const char *what) {
    if (err == MPI_SUCCESS) return LP_OK;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(err, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "code %d", err);
    return lp_fail(LP_ERR_MPI, "%s: %s", what, text);
}

bool lp_dist_built(void) {
    return true;
}

lp_status lp_dist_start(int *argc, char ***argv, lp_dist **out) {
    *out = NULL;
    int ready = 0;
    LP_TRY(mpi_check_(MPI_Initialized(&ready), "MPI_Initialized"));
    if (!ready) LP_TRY(mpi_check_(MPI_Init(argc, argv), "MPI_Init"));
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    lp_dist *d = calloc(1, sizeof *d);
    if (!d) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    MPI_Comm node;
    lp_status s = mpi_check_(MPI_Comm_rank(MPI_COMM_WORLD, &d->rank), "MPI_Comm_rank");
    if (s == LP_OK) s = mpi_check_(MPI_Comm_size(MPI_COMM_WORLD, &d->size), "MPI_Comm_size");
    if (s == LP_OK)
        s = mpi_check_(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank,
                                           MPI_INFO_NULL, &node),
                       "MPI_Comm_split_type (the ranks of this node)");
    if (s == LP_OK) {
        MPI_Comm_rank(node, &d->local_rank);
        MPI_Comm_size(node, &d->local_size);
        MPI_Comm_free(&node);
    }
    if (s == LP_OK && !(d->counts = calloc(4 * (size_t)d->size, sizeof(int))))
        s = lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    if (s != LP_OK) {
        free(d);
        return s;
    }
    *out = d;
    return LP_OK;
}

void lp_dist_stop(lp_dist *d) {
    if (!d) return;
    free(d->scratch);
    free(d->counts);
    free(d);
    MPI_Finalize();
}

void lp_dist_abort(lp_dist *d, int code) {
    if (d) MPI_Abort(MPI_COMM_WORLD, code);
}

int lp_dist_rank(const lp_dist *d) {
    return d ? d->rank : 0;
}
int lp_dist_size(const lp_dist *d) {
    return d ? d->size : 1;
}
int lp_dist_local_rank(const lp_dist *d) {
    return d ? d->local_rank : 0;
}
int lp_dist_local_size(const lp_dist *d) {
    return d ? d->local_size : 1;
}
unsigned long long lp_dist_bytes_sent(const lp_dist *d) {
    return d ? d->sent : 0;
}

static void add_doubles_in_order_(const double *contrib, size_t stride, int size, size_t n,
                                  double *out) {
    for (size_t i = 0; i < n; ++i) {
        double acc = contrib[i];
        for (int r = 1; r < size; ++r)
            acc += contrib[(size_t)r * stride + i];
        out[i] = acc;
    }
}

/* Reduce-scatter by MPI_Alltoallv (rank c receives every rank's chunk c and adds the
 * contributions in rank order), then MPI_Allgatherv of the sums: the order of the
 * additions is laperm's, never the MPI library's. */
static lp_status sum_(lp_dist *d, void *v, size_t n, size_t esz, MPI_Datatype type) {
    if (!d || d->size == 1 || n == 0) return LP_OK;
    if (n > INT_MAX)
        return lp_fail(LP_ERR_UNSUPPORTED, "a sum across ranks of %zu values (at most %d)", n,
                       INT_MAX);
    int p = d->size, *counts = d->counts;
    int *displs = counts + p, *recv_counts = counts + 2 * p, *recv_displs = counts + 3 * p;
    for (int c = 0; c < p; ++c) {
        long long first, count;
        lp_dist_share((long long)n, c, p, &first, &count);
        counts[c] = (int)count;
        displs[c] = (int)first;
    }
    int mine = counts[d->rank];
    for (int r = 0; r < p; ++r) {
        recv_counts[r] = mine;
        recv_displs[r] = r * mine;
    }
    size_t need = (size_t)p * (size_t)mine * esz;
    if (need > d->scratch_bytes) {
        void *grown = realloc(d->scratch, need);
        if (!grown) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory (%zu bytes)", need);
        d->scratch = grown;
        d->scratch_bytes = need;
    }
    lp_status s = mpi_check_(MPI_Alltoallv(v, counts, displs, type, d->scratch, recv_counts,
                                           recv_displs, type, MPI_COMM_WORLD),
                             "MPI_Alltoallv (the sum across ranks)");
    if (s == LP_OK) {
        char *own = (char *)v + (size_t)displs[d->rank] * esz;
        if (type == MPI_FLOAT)
            lp_dist_add_in_order(d->scratch, (size_t)mine, p, (size_t)mine, (float *)own);
        else
            add_doubles_in_order_(d->scratch, (size_t)mine, p, (size_t)mine, (double *)own);
        s = mpi_check_(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, v, counts, displs, type,
                                      MPI_COMM_WORLD),
                       "MPI_Allgatherv (the sum across ranks)");
    }
    /* What this rank put on the wire: every chunk but its own, then its own to the others. */
    if (s == LP_OK) d->sent += ((n - (size_t)mine) + (size_t)mine * (size_t)(p - 1)) * esz;
    return s;
}

lp_status lp_dist_sum_floats(lp_dist *d, float *v, size_t n) {
    return sum_(d, v, n, sizeof *v, MPI_FLOAT);
}

lp_status lp_dist_sum_doubles(lp_dist *d, double *v, size_t n) {
    return sum_(d, v, n, sizeof *v, MPI_DOUBLE);
}

lp_status lp_dist_agree(lp_dist *d, uint64_t value, const char *what) {
    if (!d || d->size == 1) return LP_OK;
    uint64_t *all = malloc((size_t)d->size * sizeof *all);
    if (!all) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    lp_status s =
        mpi_check_(MPI_Allgather(&value, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD),
                   "MPI_Allgather (the ranks' hashes)");
    d->sent += (size_t)(d->size - 1) * sizeof value;
    int differ = 0;
    for (int r = 1; s == LP_OK && r < d->size; ++r)
        differ += all[r] != all[0];
    if (s == LP_OK && differ) {
        char list[512] = "";
        size_t len = 0;
        for (int r = 0; r < d->size && len < sizeof list - 40; ++r)
            if (r == 0 || all[r] != all[0])
                len += (size_t)snprintf(list + len, sizeof list - len, "%srank %d 0x%016" PRIx64,
                                        r ? ", " : "", r, all[r]);
        s = lp_fail(LP_ERR_MPI,
                    "%s differ between ranks (%d of %d differ from rank 0: %s): the ranks' "
                    "devices do not compute the same bits (run `laperm check` on each, or use "
                    "--bits portable)",
                    what, differ, d->size, list);
    }
    free(all);
    return s;
}

lp_status lp_dist_gather_text(lp_dist *d, const char *mine, char *all, size_t cap) {
    if (!cap) return LP_OK;
    if (!d || d->size == 1) {
        snprintf(all, cap, "0: %s", mine);
        return LP_OK;
    }
    enum { LINE_ = 256 };
    char own[LINE_] = {0}, *lines = calloc((size_t)d->size, LINE_);
    if (!lines) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    snprintf(own, sizeof own, "%s", mine);
    lp_status s =
        mpi_check_(MPI_Allgather(own, LINE_, MPI_CHAR, lines, LINE_, MPI_CHAR, MPI_COMM_WORLD),
                   "MPI_Allgather (the ranks' lines)");
    d->sent += (size_t)(d->size - 1) * LINE_;
    size_t len = 0;
    all[0] = '\0';
    for (int r = 0; s == LP_OK && r < d->size && len < cap; ++r)
        len += (size_t)snprintf(all + len, cap - len, "%s%d: %.*s", r ? "; " : "", r, LINE_ - 1,
                                lines + (size_t)r * LINE_);
    free(lines);
    return s;
}

lp_status lp_dist_barrier(lp_dist *d) {
    if (!d || d->size == 1) return LP_OK;
    return mpi_check_(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

#else /* !LAPERM_HAVE_MPI: one process, always */

bool lp_dist_built(void) {
    return false;
}

lp_status lp_dist_start(int *argc, char ***argv, lp_dist **out) {
    (void)argc, (void)argv;
    *out = NULL;
    return lp_fail(LP_ERR_UNSUPPORTED,
                   "this laperm was built without MPI: install an MPI (apt-get install "
                   "libopenmpi-dev openmpi-bin) and build again (scripts/build)");
}

void lp_dist_stop(lp_dist *d) {
    (void)d;
}
void lp_dist_abort(lp_dist *d, int code) {
    (void)d, (void)code;
}
int lp_dist_rank(const lp_dist *d) {
    (void)d;
    return 0;
}
int lp_dist_size(const lp_dist *d) {
    (void)d;
    return 1;
}
int lp_dist_local_rank(const lp_dist *d) {
    (void)d;
    return 0;
}
int lp_dist_local_size(const lp_dist *d) {
    (void)d;
    return 1;
}
unsigned long long lp_dist_bytes_sent(const lp_dist *d) {
    (void)d;
    return 0;
}
lp_status lp_dist_sum_floats(lp_dist *d, float *v, size_t n) {
    (void)d, (void)v, (void)n;
    return LP_OK;
}
lp_status lp_dist_sum_doubles(lp_dist *d, double *v, size_t n) {
    (void)d, (void)v, (void)n;
    return LP_OK;
}
lp_status lp_dist_agree(lp_dist *d, uint64_t value, const char *what) {
    (void)d, (void)value, (void)what;
    return LP_OK;
}
lp_status lp_dist_gather_text(lp_dist *d, const char *mine, char *all, size_t cap) {
    (void)d;
    if (cap) snprintf(all, cap, "0: %s", mine);
    return LP_OK;
}
lp_status lp_dist_barrier(lp_dist *d) {
    (void)d;
    return LP_OK;
}

#endif
