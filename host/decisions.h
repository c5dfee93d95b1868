/* Internal: timed decisions (which matrix-product variant, which [conv2d] path is fastest
 * for a shape), kept so that later runs need not time again. One text file per device in
 * the disk cache's folder (lp_runtime_cache_dir), named decisions-<hash>.txt, the hash
 * covering the device's name, platform, platform version and driver version and the file
 * format:
 *
 *   laperm-decisions-2
 *   # comment lines (the device, the columns of each kind in the file)
 *   <kind>.<revision> <key> <value> <ms> ...
 *
 * This file knows no kind: each is defined by the code that makes its decisions (an
 * lp_decision_kind) and passed on every call. The first line must be the version line,
 * else the whole file is ignored. Blank lines and lines starting with '#' are comments
 * (not kept by a rewrite); every other line must be under 512 bytes, without a NUL, and
 * hold a kind word (a name, a dot, a decimal revision), a key and a value (tokens, see
 * below) and 0 to LP_DECISION_TIMES_MAX timings (ms), each finite, non-negative and below
 * 1e9, and be among the first 4096 such lines; any other line is ignored, with one
 * warning per load of the file naming the file and the lines. A later line replaces an
 * earlier one of the same kind word and key. Loading takes time linear in the file and
 * memory bounded by those limits, whatever the file holds (entries are found through a
 * hash; a long line is skipped, not read whole).
 * A kind checks its lines when it first looks one up or writes after a load: a line of
 * its name and revision must hold its number of timings and a value it can choose for
 * the key (kind->valid), else it is ignored, with one warning for that kind and load
 * naming the file and the lines; a line of its name and another revision is stale (the
 * kind changed since it was timed) and ignored without a warning. Both are dropped when
 * the file is next written; lines of kinds this process never used are kept verbatim.
 * Rewrites merge with what is on disk then (so entries another process added are kept),
 * under a lock file next to it, through a temporary file in the same folder renamed over
 * it (a reader sees the old file or the whole new one). The cache never makes a run fail:
 * at worst a shape is timed again. */
#ifndef LAPERM_DECISIONS_H
#define LAPERM_DECISIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "laperm/runtime.h"

/* Bump when the line format changes: files are then found under a new name. */
#define LP_DECISIONS_FORMAT "laperm-decisions-2"
/* Longest key or value, NUL included; both are printable ASCII without spaces or '#'. */
#define LP_DECISION_TOKEN_MAX 160
#define LP_DECISION_TIMES_MAX 4
/* Longest kind name, NUL included. */
#define LP_DECISION_NAME_MAX 32
/* Most kinds one process uses on one file. */
#define LP_DECISION_KINDS_MAX 16

/* Receives warnings (a damaged file); may be NULL, when they go to stderr: a warning
 * nobody asked to receive is still one the user should see. */
typedef void (*lp_note_fn)(void *ctx, bool warning, const char *line);

/* A kind of decision, defined by the code that makes it (lp_decision_gemm in gemm.c,
 * lp_decision_conv in conv_algo.c), which passes it on every call. */
typedef struct {
    const char *name;   /* its lines' first word is <name>.<revision>; letters, digits, _ - */
    int revision;       /* bump when what a choice means or how it is timed changes: the lines
                           of other revisions are then stale */
    int n_times;        /* timings stored after the value, at most LP_DECISION_TIMES_MAX */
    const char *legend; /* what its lines hold after the kind word: in a comment line of
                           every rewrite of a file holding such lines */
    /* Whether value is a choice this kind can make for key. */
    bool (*valid)(const char *key, const char *value);
} lp_decision_kind;

typedef struct {
    char value[LP_DECISION_TOKEN_MAX];
    double ms[LP_DECISION_TIMES_MAX]; /* the kind's n_times first are meaningful */
} lp_decision;

/* ---- one file ------------------------------------------------------------------------- */

typedef struct lp_decisions lp_decisions;

/* Reads the file at path (a missing one is empty). Lines that are not well formed are
 * skipped, told through note as one warning (a kind's own checks come when it is used).
 * about (may be NULL) is written as a comment line into every rewrite. LP_ERR_NO_MEMORY
 * is the only failure. */
lp_status lp_decisions_load(const char *path, const char *about, lp_note_fn note, void *ctx,
                            lp_decisions **out);
/* Reads the file again if it changed on disk since it was last read or written here (its
 * inode, size or modification time), which is again one warning at most. */
lp_status lp_decisions_refresh(lp_decisions *d, lp_note_fn note, void *ctx);
void lp_decisions_free(lp_decisions *d);

/* The stored decision of kind (its name and revision) for key; false when there is none.
 * The kind's first use since the file was (re)read checks its lines (see above), lines
 * it refuses told through note as one warning. */
bool lp_decisions_find(lp_decisions *d, const lp_decision_kind *kind, const char *key,
                       lp_decision *out, lp_note_fn note, void *ctx);

/* Records a decision, replacing any with the same kind and key: merges with the file as it
 * is on disk now and rewrites it (see above; warnings through note); folders are made as
 * needed. A key or value the kind refuses, a bad timing or a kind whose name is not as
 * above is LP_ERR_INVALID_ARG; more than LP_DECISION_KINDS_MAX kinds used on one file
 * LP_ERR_UNSUPPORTED; a file that cannot be written LP_ERR_IO (the decision is still kept
 * in d). */
lp_status lp_decisions_put(lp_decisions *d, const lp_decision_kind *kind, const char *key,
                           const lp_decision *dec, lp_note_fn note, void *ctx);

/* ---- per runtime --------------------------------------------------------------------- */

/* This device's decision file; false when the disk cache is off ($LAPERM_CACHE) or has no
 * folder. */
bool lp_decisions_path(const lp_runtime *rt, char *path, size_t cap);

/* The stored decision for key on this runtime's device: the file is loaded on first use
 * (and again when it changed on disk), once per runtime, with its warnings (and those of
 * the kind's checks) through note. False when there is none or the disk cache is off. */
bool lp_decision_get(lp_runtime *rt, const lp_decision_kind *kind, const char *key,
                     lp_decision *out, lp_note_fn note, void *ctx);
/* Stores a decision in this device's file (nothing when the disk cache is off); warnings
 * go to stderr. */
lp_status lp_decision_set(lp_runtime *rt, const lp_decision_kind *kind, const char *key,
                          const lp_decision *dec);

#endif
