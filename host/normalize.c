/* Input normalisation statistics, computed once on the host from the training set and
 * applied on the device as (byte / 255 - mean[f]) * inv_std[f] for every feature f. */
#include "laperm/data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Keras divides by (std + 1e-6), which also keeps a constant channel finite. */
#define STD_EPSILON_ 1e-6

static const char *const mode_names_[] = {"none", "per-channel", "per-pixel-mean"};
#define MODES_ (int)(sizeof mode_names_ / sizeof mode_names_[0])

const char *lp_norm_mode_name(lp_norm_mode mode) {
    return (int)mode >= 0 && (int)mode < MODES_ ? mode_names_[mode] : "unknown";
}

lp_status lp_norm_mode_parse(const char *name, lp_norm_mode *out) {
    if (!name || !out)
        return lp_fail(LP_ERR_INVALID_ARG, "lp_norm_mode_parse: name and out are required");
    for (int i = 0; i < MODES_; ++i)
        if (strcmp(name, mode_names_[i]) == 0) {
            *out = (lp_norm_mode)i;
            return LP_OK;
        }
    return lp_fail(LP_ERR_INVALID_ARG,
                   "unknown normalisation \"%s\": expected none, per-channel or per-pixel-mean",
                   name);
}

/* mean and inv_std of each channel over every sample and pixel (two passes, so that the
 * variance does not lose digits to cancellation). */
static void per_channel_(const lp_dataset *d, float *mean, float *inv_std) {
    size_t hw = (size_t)d->h * d->w, features = (size_t)d->c * hw;
    double count = (double)d->n * (double)hw;
    for (int ch = 0; ch < d->c; ++ch) {
        double sum = 0, sq = 0;
        for (int s = 0; s < d->n; ++s) {
            const float *x = d->x + (size_t)s * features + (size_t)ch * hw;
            for (size_t p = 0; p < hw; ++p)
                sum += x[p];
        }
        double m = sum / count;
        for (int s = 0; s < d->n; ++s) {
            const float *x = d->x + (size_t)s * features + (size_t)ch * hw;
            for (size_t p = 0; p < hw; ++p)
                sq += (x[p] - m) * (x[p] - m);
        }
        float fm = (float)m, fi = (float)(1.0 / (sqrt(sq / count) + STD_EPSILON_));
        for (size_t p = 0; p < hw; ++p) {
            mean[(size_t)ch * hw + p] = fm;
            inv_std[(size_t)ch * hw + p] = fi;
        }
    }
}

static lp_status per_pixel_mean_(const lp_dataset *d, float *mean, float *inv_std) {
    size_t features = (size_t)d->c * d->h * d->w;
    double *sum = calloc(features, sizeof *sum);
    if (!sum) return lp_fail(LP_ERR_NO_MEMORY, "cannot allocate %zu doubles for means", features);
    for (int s = 0; s < d->n; ++s) {
        const float *x = d->x + (size_t)s * features;
        for (size_t f = 0; f < features; ++f)
            sum[f] += x[f];
    }
    for (size_t f = 0; f < features; ++f) {
        mean[f] = (float)(sum[f] / d->n);
        inv_std[f] = 1.0f;
    }
    free(sum);
    return LP_OK;
}

lp_status lp_dataset_norm(const lp_dataset *train, lp_norm_mode mode, float *mean, float *inv_std) {
    if (!train || !mean || !inv_std)
        return lp_fail(LP_ERR_INVALID_ARG, "lp_dataset_norm: train, mean and inv_std are required");
    if (train->n < 1 || train->c < 1 || train->h < 1 || train->w < 1 || !train->x)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "lp_dataset_norm: the training set is empty (%d samples of %dx%dx%d)",
                       train->n, train->c, train->h, train->w);
    size_t features = (size_t)train->c * train->h * train->w;
    switch (mode) {
    case LP_NORM_NONE:
        for (size_t f = 0; f < features; ++f) {
            mean[f] = 0.0f;
            inv_std[f] = 1.0f;
        }
        return LP_OK;
    case LP_NORM_PER_CHANNEL:
        per_channel_(train, mean, inv_std);
        return LP_OK;
    case LP_NORM_PER_PIXEL_MEAN:
        return per_pixel_mean_(train, mean, inv_std);
    }
    return lp_fail(LP_ERR_INVALID_ARG, "lp_dataset_norm: unknown mode %d", (int)mode);
}
