/* Data-parallel training across processes: `mpirun -np N laperm train` (README,
 * "Training on several devices (MPI)"). Every rank holds the whole network on its own
 * device and trains on its share of each global batch; after each backward pass the
 * ranks sum their gradients in a fixed order, so every rank applies the same update to
 * the same weights and the result does not depend on MPI's choice of algorithm.
 *
 * A NULL lp_dist is one process alone: rank 0 of 1, every sum the identity. Built without
 * MPI (CMake found none), lp_dist_start answers LP_ERR_UNSUPPORTED and the rest works for
 * NULL. */
#ifndef LAPERM_DIST_H
#define LAPERM_DIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "laperm/status.h"

typedef struct lp_dist lp_dist;

/* Whether this laperm was built with MPI. */
bool lp_dist_built(void);

/* The world size an MPI launcher (mpirun, mpiexec, srun) announces in this process's
 * environment, 0 when none does: the environment tells whether to start MPI at all. */
int lp_dist_launcher_size(void);

/* Starts MPI (MPI_Init) and describes this process's place in the job: its rank, and its
 * rank among the processes of its node (local rank). */
lp_status lp_dist_start(int *argc, char ***argv, lp_dist **out);
/* Ends MPI (MPI_Finalize) after every rank got here; NULL is a no-op. */
void lp_dist_stop(lp_dist *d);
/* Ends the whole job at once with `code` (MPI_Abort): what a rank does after an error the
 * others cannot know of, since they would wait for it in the next sum forever. */
void lp_dist_abort(lp_dist *d, int code);

int lp_dist_rank(const lp_dist *d);
int lp_dist_size(const lp_dist *d);
int lp_dist_local_rank(const lp_dist *d);
int lp_dist_local_size(const lp_dist *d);

/* Rows [*first, *first + *count) of n rows that rank `rank` of `size` takes: n / size
 * each, the first n % size ranks one more, in rank order. */
void lp_dist_share(long long n, int rank, int size, long long *first, long long *count);

/* Replaces v (n values on every rank) by the sum over ranks, added in rank order 0, 1, ...
 * in double and rounded once to float: the same bits on every rank and in every run with
 * the same size, whatever the MPI library. A reduce-scatter (rank c sums chunk c) and an
 * all-gather, so each rank sends 2 (N - 1) / N of the buffer, as a ring all-reduce. */
lp_status lp_dist_sum_floats(lp_dist *d, float *v, size_t n);
lp_status lp_dist_sum_doubles(lp_dist *d, double *v, size_t n);

/* The plain-C core of the sums: out[i] = contrib[0][i] + ... + contrib[size - 1][i] in
 * that order (rows of `stride` values), in double, rounded once. */
void lp_dist_add_in_order(const float *contrib, size_t stride, int size, size_t n, float *out);

/* Compares `value` (a hash of something every rank must hold alike) across ranks; when
 * any rank's differs from rank 0's, every rank returns LP_ERR_INTERNAL naming each rank's
 * value and `what`. */
lp_status lp_dist_agree(lp_dist *d, uint64_t value, const char *what);

/* Every rank's `mine` (a short line, e.g. its device), joined in rank order as
 * "0: A; 1: B" into all (cap bytes, truncated), on every rank. */
lp_status lp_dist_gather_text(lp_dist *d, const char *mine, char *all, size_t cap);

/* Waits until every rank got here. */
lp_status lp_dist_barrier(lp_dist *d);

/* Bytes this rank has sent to other ranks so far (the sums, agreements and gathers). */
unsigned long long lp_dist_bytes_sent(const lp_dist *d);

#endif
