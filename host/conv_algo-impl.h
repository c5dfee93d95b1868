/* Internal: the [conv2d] algorithms' names, and the decisions of the `auto` algorithm
 * (GEMM, FFT or direct per layer shape), kept in the device's decision file (decisions.h)
 * so that later runs need not time again. A decision's key is the GEMM mode in effect
 * (lp_gemm_get_mode: the GEMM path's time depends on it) and the layer's shape key; its
 * value the path, with the forward + backward ms of gemm, fft and direct (0: not timed). */
#ifndef LAPERM_CONV_ALGO_IMPL_H
#define LAPERM_CONV_ALGO_IMPL_H

#include "decisions.h"
#include "laperm/network.h"

typedef struct {
    lp_conv_algo algo; /* LP_CONV_ALGO_GEMM, _FFT, _DIRECT or _WINOGRAD */
    double gemm_ms, fft_ms, direct_ms, winograd_ms; /* forward + backward as timed; 0: not timed */
} lp_conv_choice;

/* The conv path's kind of decision (decisions.h), defined next to its chooser. */
extern const lp_decision_kind lp_decision_conv;

/* Longest shape key, NUL included; keys hold no white space or '#'. */
#define LP_CONV_KEY_MAX 128

/* The algorithm lp_conv_algo_name calls name; false if none is. */
bool lp_conv_algo_from_name(const char *name, lp_conv_algo *out);

/* This device's decision file; false when the disk cache is off ($LAPERM_CACHE) or has no
 * folder, and nothing is then read or written. */
bool lp_conv_choice_path(const lp_runtime *rt, char *path, size_t cap);

/* The decision for the layer shape `shape` under the GEMM mode in effect; false when there
 * is none. Damage in the file is one warning per load through note (may be NULL: stderr).
 * Never an error. */
bool lp_conv_choice_read(lp_runtime *rt, const char *shape, lp_conv_choice *out, lp_note_fn note,
                         void *ctx);

/* Records shape's decision under the GEMM mode in effect, replacing the one there was (the
 * file rewritten whole, see decisions.h). Timings that are negative or not finite are
 * stored as 0 (not timed). A shape key with white space, or a choice other than gemm, fft
 * or direct, is LP_ERR_INVALID_ARG; a file that cannot be written LP_ERR_IO. */
lp_status lp_conv_choice_write(lp_runtime *rt, const char *shape, const lp_conv_choice *c);

#endif
