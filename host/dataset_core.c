/* Datasets in host memory, whatever their format: subsets, hashes and freeing. The loaders
 * (dataset_mnist.c, dataset_cifar.c, dataset_hdf5.c) and their callers use these; nothing
 * here calls a loader. */
#include "laperm/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

lp_status lp_dataset_subset(const lp_dataset *src, int first, int count, lp_dataset *out) {
    if (!src || !out || !src->x || !src->y)
        return lp_fail(LP_ERR_INVALID_ARG, "lp_dataset_subset: src (loaded) and out are required");
    if (first < 0 || count < 1 || first > src->n - count)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "subset of %d samples from %d does not fit in a dataset of %d samples",
                       count, first, src->n);
    size_t sample = (size_t)src->c * (size_t)src->h * (size_t)src->w;
    *out = *src;
    out->n = count;
    out->x = malloc((size_t)count * sample * sizeof *out->x);
    out->y = malloc((size_t)count);
    size_t outputs = src->t ? (size_t)src->outputs : 0;
    out->t = outputs ? malloc((size_t)count * outputs * sizeof *out->t) : NULL;
    if (!out->x || !out->y || (outputs && !out->t)) {
        lp_dataset_free(out);
        return lp_fail(LP_ERR_NO_MEMORY, "cannot allocate a subset of %d samples", count);
    }
    memcpy(out->x, src->x + (size_t)first * sample, (size_t)count * sample * sizeof *out->x);
    memcpy(out->y, src->y + first, (size_t)count);
    if (outputs)
        memcpy(out->t, src->t + (size_t)first * outputs, (size_t)count * outputs * sizeof *out->t);
    return LP_OK;
}

void lp_dataset_free(lp_dataset *ds) {
    if (!ds) return;
    free(ds->x);
    free(ds->y);
    free(ds->t);
    memset(ds, 0, sizeof *ds);
}

void lp_dataset_hash(const lp_dataset *d, char out[24]) {
    uint64_t h =
        lp_hash_bytes(LP_HASH_SEED, d->x, (size_t)d->n * d->c * d->h * d->w * sizeof(float));
    h = lp_hash_bytes(h, d->y, (size_t)d->n);
    if (d->t) h = lp_hash_bytes(h, d->t, (size_t)d->n * (size_t)d->outputs * sizeof(float));
    h = lp_hash_final(h);
    snprintf(out, 24, "%016llx", (unsigned long long)h);
}
