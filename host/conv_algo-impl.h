/* Internal: the decisions of the [conv2d] `auto` algorithm (GEMM, FFT or direct per layer
 * shape), kept on disk so that later runs need not time again. One small text file per
 * device (name, driver, platform) in the program cache's folder, one line per layer shape:
 *   <key> <gemm|fft|direct> <gemm ms> <fft ms> <direct ms>     (0: that path not timed)
 * Lines that do not parse are ignored with a warning and dropped when the file is next
 * written; the cache never makes a run fail. */
#ifndef LAPERM_CONV_ALGO_IMPL_H
#define LAPERM_CONV_ALGO_IMPL_H

#include "laperm/network.h"

typedef struct {
    lp_conv_algo algo;                 /* LP_CONV_ALGO_GEMM, _FFT or _DIRECT */
    double gemm_ms, fft_ms, direct_ms; /* forward + backward as timed; 0: not timed */
} lp_conv_choice;

typedef void (*lp_note_fn)(void *ctx, bool warning, const char *line);

/* Longest key, NUL included; keys hold no white space. */
#define LP_CONV_KEY_MAX 128

/* The decision file of this device in the disk cache's folder; false when the disk cache
 * is off ($LAPERM_CACHE) or has no folder. */
bool lp_conv_choice_path(const lp_runtime *rt, char *path, size_t cap);

/* Looks `key` up in the file at path; false when the file or the key is missing. A damaged
 * file (lines that do not parse, an unknown algorithm) is one warning through note (may be
 * NULL), and the good lines are written back. Never an error. */
bool lp_conv_choice_read(const char *path, const char *key, lp_conv_choice *out, lp_note_fn note,
                         void *ctx);

/* Records key's choice, replacing any line with the same key, by writing the whole file
 * to a temporary name and renaming it (a reader never sees half a file). LP_ERR_IO when
 * the folder or the file cannot be written. */
lp_status lp_conv_choice_write(const char *path, const char *key, const lp_conv_choice *c);

#endif
