/* One writer per output file: an exclusive lock on <path>.lock, held for as long as a run
 * writes <path> (and <path>.part), so that a second laperm process started on the same
 * results file is refused instead of overwriting the first one's .part under it. */
#ifndef LAPERM_OUT_LOCK_H
#define LAPERM_OUT_LOCK_H

#include "laperm/status.h"

typedef struct lp_out_lock lp_out_lock;

/* Takes the lock for `results_path`: creates its folder and <results_path>.lock, locks it
 * (flock, so the kernel lets go when the process ends, however it ends) and writes the
 * owner's pid and command line into it. A lock file left by a process that is gone is
 * taken over without a word. A lock held by another process, or by another lock of this
 * one, is LP_ERR_IO: "results/x.h5 is being written by process 1234 (laperm train --model
 * ...)". A file system without locks is not refused: the lock file is written, unlocked. */
lp_status lp_out_lock_acquire(const char *results_path, lp_out_lock **out);

/* Removes the lock file and lets go of the lock; NULL is a no-op. */
void lp_out_lock_release(lp_out_lock *lock);

#endif
