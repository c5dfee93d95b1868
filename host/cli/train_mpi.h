/* laperm train under an MPI launcher (README, "Training on several devices (MPI)"):
 * starting and ending MPI, each rank's device, and what ranks other than 0 keep quiet. */
#ifndef LAPERM_CLI_TRAIN_MPI_H
#define LAPERM_CLI_TRAIN_MPI_H

#include <stddef.h>

#include "laperm/dist.h"

/* Starts MPI when a launcher started this process as one of several (NULL otherwise);
 * ranks other than 0 send stdout to /dev/null. Returns 0 or an exit status after
 * printing why (a launcher of several processes, but a laperm built without MPI). */
int cli_mpi_start(lp_dist **out);

/* Ends the job after `rc` (this rank's exit status): MPI_Finalize after a run every rank
 * ended alike (done, interrupted, diverged, a usage error), else MPI_Abort, which ends
 * the other ranks at once instead of leaving them waiting for this one. Returns rc. */
int cli_mpi_end(lp_dist *d, int rc);

/* This rank's device selector from --device (or $LAPERM_DEVICE) into out: "{local_rank}"
 * and "{rank}" replaced by the rank's numbers, a comma-separated list indexed by local
 * rank; with neither given, the node's GPUs in turn (a CPU platform: one device that the
 * ranks share). Without MPI, a selector with a rank pattern is refused. Returns 0 or an
 * exit status after printing why. */
int cli_mpi_device(const char *given, const lp_dist *d, char *out, size_t cap);

/* "laperm train" or, under MPI, "laperm train (rank R of N)": how a rank's messages start. */
const char *cli_mpi_who(const lp_dist *d);

#endif
