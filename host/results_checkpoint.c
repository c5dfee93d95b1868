/* Checkpoints inside a results file: two slots, /checkpoint/0 and /checkpoint/1, each a
 * header (int64 counters, a validity flag and a hash) and the arrays a run resumes from.
 * A write goes to the older slot, invalidated first and validated last, so a kill at any
 * moment leaves the other slot whole; a reader takes the newest slot whose hash matches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "results_impl.h"

static const char *const arrays_[LP_CKPT_N] = {
    "header", "params", "optimizer", "state", "stats", "gemm_choices", "best_params", "best_state"};

/* Whether a checkpoint of size z has array i: the best network's only with --save-best. */
static bool has_(const lp_results_checkpoint_size *z, int i) {
    return z->best || (i != LP_CKPT_BEST_PARAMS && i != LP_CKPT_BEST_STATE);
}

/* Values in array i of a checkpoint of size z (at least 1: HDF5 datasets are not empty). */
static size_t count_(const lp_results_checkpoint_size *z, int i) {
    size_t n = i == LP_CKPT_HEADER                               ? LP_CKH_N
               : i == LP_CKPT_CHOICES                            ? LP_RESULTS_CHOICES_MAX
               : i == LP_CKPT_PARAMS || i == LP_CKPT_BEST_PARAMS ? z->params
               : i == LP_CKPT_OPTIMIZER ? z->params * (size_t)z->optimizer_buffers
               : i == LP_CKPT_STATE || i == LP_CKPT_BEST_STATE ? z->state
                                                               : z->stats;
    return n ? n : 1;
}

static void *array_(const lp_results_checkpoint *c, int i) {
    return i == LP_CKPT_CHOICES       ? (void *)c->choices
           : i == LP_CKPT_PARAMS      ? c->params
           : i == LP_CKPT_OPTIMIZER   ? c->optimizer
           : i == LP_CKPT_STATE       ? c->state
           : i == LP_CKPT_BEST_PARAMS ? c->best_params
           : i == LP_CKPT_BEST_STATE  ? c->best_state
                                      : c->stats;
}

/* Hash of the arrays as stored (an empty array hashes as nothing). */
static size_t value_size_(int i) {
    return i == LP_CKPT_CHOICES ? 1 : i == LP_CKPT_HEADER ? sizeof(long long) : sizeof(float);
}

static hid_t mem_type_(int i) {
    return i == LP_CKPT_CHOICES  ? H5T_NATIVE_UCHAR
           : i == LP_CKPT_HEADER ? H5T_NATIVE_LLONG
                                 : H5T_NATIVE_FLOAT;
}

/* Hash of the arrays as stored (an empty array hashes as nothing; the choices up to
 * their NUL). */
static uint64_t hash_(const lp_results_checkpoint *c) {
    uint64_t h = LP_HASH_SEED;
    for (int i = LP_CKPT_PARAMS; i < LP_CKPT_N; ++i) {
        const void *a = array_(c, i);
        if (!has_(&c->size, i)) continue;
        if (i == LP_CKPT_CHOICES)
            h = lp_hash_str(h, a ? (const char *)a : "");
        else if (a)
            h = lp_hash_bytes(h, a, count_(&c->size, i) * value_size_(i));
    }
    return lp_hash_final(h);
}

static bool same_size_(const lp_results_checkpoint_size *a, const lp_results_checkpoint_size *b) {
    return a->params == b->params && a->state == b->state && a->stats == b->stats &&
           a->optimizer_buffers == b->optimizer_buffers && a->best == b->best;
}

static void header_(const lp_results_checkpoint *c, bool valid, long long out[LP_CKH_N]) {
    memset(out, 0, LP_CKH_N * sizeof *out);
    out[LP_CKH_MAGIC] = LP_CKPT_MAGIC;
    out[LP_CKH_VALID] = valid;
    out[LP_CKH_STEP] = c->step;
    out[LP_CKH_SYNCS] = c->syncs;
    out[LP_CKH_EPOCH] = c->epoch;
    out[LP_CKH_STEP_IN_EPOCH] = c->step_in_epoch;
    out[LP_CKH_SAMPLES] = c->samples;
    out[LP_CKH_METRICS] = c->metrics;
    out[LP_CKH_SNAPSHOTS] = c->snapshots;
    out[LP_CKH_HASH] = (long long)hash_(c);
    out[LP_CKH_PARAMS] = (long long)c->size.params;
    out[LP_CKH_OPTIMIZER_BUFFERS] = c->size.optimizer_buffers;
    out[LP_CKH_STATE] = (long long)c->size.state;
    out[LP_CKH_STATS] = (long long)c->size.stats;
    out[LP_CKH_EVALS] = c->evals;
    out[LP_CKH_BEST_SAVED] = c->size.best;
    out[LP_CKH_BEST_STEP] = c->best.step;
    out[LP_CKH_BEST_EPOCH] = c->best.epoch;
    memcpy(&out[LP_CKH_BEST_ACCURACY], &c->best.test_accuracy, sizeof(double));
    memcpy(&out[LP_CKH_BEST_LOSS], &c->best.test_loss, sizeof(double));
}

static lp_status write_header_(lp_results *r, int slot, const long long h[LP_CKH_N]) {
    if (H5Dwrite(r->ckpt[slot][LP_CKPT_HEADER], H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                 h) < 0 ||
        H5Dflush(r->ckpt[slot][LP_CKPT_HEADER]) < 0)
        return lp_h5_fail(LP_ERR_HDF5, "%s: /checkpoint/%d/header", r->part, slot);
    return lp_results_flush(r);
}

static lp_status write_arrays_(lp_results *r, int slot, const lp_results_checkpoint *c) {
    char *choices = NULL;
    for (int i = LP_CKPT_PARAMS; i < LP_CKPT_N; ++i) {
        const void *a = array_(c, i);
        if (!has_(&c->size, i) || (!a && i != LP_CKPT_CHOICES)) continue; /* empty */
        if (i == LP_CKPT_CHOICES) {
            /* whole dataset: the text, then zeros */
            choices = calloc(1, LP_RESULTS_CHOICES_MAX);
            if (!choices) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
            snprintf(choices, LP_RESULTS_CHOICES_MAX, "%s", a ? (const char *)a : "");
            a = choices;
        }
        herr_t rc = H5Dwrite(r->ckpt[slot][i], mem_type_(i), H5S_ALL, H5S_ALL, H5P_DEFAULT, a);
        if (i == LP_CKPT_CHOICES) free(choices);
        if (rc < 0 || H5Dflush(r->ckpt[slot][i]) < 0)
            return lp_h5_fail(LP_ERR_HDF5, "%s: /checkpoint/%d/%s", r->part, slot, arrays_[i]);
    }
    return lp_results_flush(r);
}

lp_status lp_results_checkpoint_create(lp_results *r, const lp_results_checkpoint *from) {
    if (!r->ckpt_size.params) return LP_OK;
    long long invalid[LP_CKH_N] = {LP_CKPT_MAGIC, 0};
    for (int k = 0; k < 2; ++k) {
        for (int i = 0; i < LP_CKPT_N; ++i) {
            if (!has_(&r->ckpt_size, i)) continue;
            char name[64];
            snprintf(name, sizeof name, "/checkpoint/%d/%s", k, arrays_[i]);
            hsize_t n = count_(&r->ckpt_size, i);
            hid_t type = i == LP_CKPT_HEADER    ? H5T_STD_I64LE
                         : i == LP_CKPT_CHOICES ? H5T_STD_U8LE
                                                : H5T_IEEE_F32LE;
            r->ckpt[k][i] = lp_h5_create_ds(r->file, name, type, 1, &n, NULL, false);
            if (r->ckpt[k][i] < 0) return lp_h5_fail(LP_ERR_HDF5, "%s", name);
        }
        LP_TRY(write_header_(r, k, invalid));
    }
    if (!from) return LP_OK;
    lp_results_checkpoint c = *from; /* the counts it was written with */
    if (!same_size_(&c.size, &r->ckpt_size))
        return lp_fail(LP_ERR_INVALID_ARG, "the checkpoint to resume from has other sizes");
    long long h[LP_CKH_N];
    header_(&c, true, h);
    LP_TRY(write_arrays_(r, 0, &c));
    LP_TRY(write_header_(r, 0, h));
    r->ckpt_step[0] = c.step;
    return LP_OK;
}

lp_status lp_results_write_checkpoint(lp_results *r, lp_results_checkpoint *c) {
    lp_h5_quiet();
    if (!r || !c || !c->params || !same_size_(&c->size, &r->ckpt_size) || !r->ckpt_size.params ||
        (c->size.best && (!c->best_params || (c->size.state && !c->best_state))) ||
        (c->choices && strlen(c->choices) >= LP_RESULTS_CHOICES_MAX))
        return lp_fail(LP_ERR_INVALID_ARG,
                       "lp_results_write_checkpoint: no checkpoint slots of these sizes");
    c->metrics = (long long)r->n_epochs;
    c->snapshots = (long long)r->n_snapshots;
    c->evals = (long long)r->n_evals;
    int slot = r->ckpt_step[0] <= r->ckpt_step[1] ? 0 : 1; /* the older one */
    long long h[LP_CKH_N];
    header_(c, false, h);
    LP_TRY(write_header_(r, slot, h));
    r->ckpt_step[slot] = -1;
    LP_TRY(write_arrays_(r, slot, c));
    h[LP_CKH_VALID] = 1;
    LP_TRY(write_header_(r, slot, h));
    r->ckpt_step[slot] = c->step;
    return LP_OK;
}

void lp_results_checkpoint_free(lp_results_checkpoint *c) {
    if (!c) return;
    free(c->params);
    free(c->optimizer);
    free(c->state);
    free(c->stats);
    free(c->choices);
    free(c->best_params);
    free(c->best_state);
    memset(c, 0, sizeof *c);
}

static lp_status read_ds_(hid_t f, const char *path, const char *name, hid_t mem, size_t n,
                          void *out) {
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    lp_status s = LP_OK;
    hid_t space = ds >= 0 ? H5Dget_space(ds) : -1;
    if (ds < 0 || space < 0 || H5Sget_simple_extent_npoints(space) != (hssize_t)n ||
        H5Dread(ds, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
        s = lp_h5_fail(LP_ERR_FORMAT, "%s: %s is missing or not %zu values", path, name, n);
    if (space >= 0) H5Sclose(space);
    if (ds >= 0) H5Dclose(ds);
    return s;
}

/* Values in dataset `name`, or -1 when it cannot be read. */
static hssize_t npoints_(hid_t f, const char *name) {
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t space = ds >= 0 ? H5Dget_space(ds) : -1;
    hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    if (space >= 0) H5Sclose(space);
    if (ds >= 0) H5Dclose(ds);
    H5Eclear2(H5E_DEFAULT);
    return n;
}

/* Slot k into c (arrays malloc'd) if it is valid and whole; *ok tells. */
static lp_status read_slot_(hid_t f, const char *path, int k, lp_results_checkpoint *c, bool *ok) {
    *ok = false;
    char name[64];
    long long h[LP_CKH_N] = {0};
    snprintf(name, sizeof name, "/checkpoint/%d/header", k);
    /* A header written before /evals and the best evaluation ends at the sizes: read as
     * no /evals entries, no best network and no best evaluation (the trainer then takes
     * the best epoch end from /metrics). */
    bool before_evals = npoints_(f, name) == LP_CKH_EVALS;
    LP_TRY(read_ds_(f, path, name, H5T_NATIVE_LLONG, before_evals ? LP_CKH_EVALS : LP_CKH_N, h));
    if (h[LP_CKH_MAGIC] != LP_CKPT_MAGIC || h[LP_CKH_VALID] != 1) return LP_OK;
    memset(c, 0, sizeof *c);
    c->step = h[LP_CKH_STEP];
    c->syncs = h[LP_CKH_SYNCS];
    c->epoch = (int)h[LP_CKH_EPOCH];
    c->step_in_epoch = (int)h[LP_CKH_STEP_IN_EPOCH];
    c->samples = h[LP_CKH_SAMPLES];
    c->metrics = h[LP_CKH_METRICS];
    c->snapshots = h[LP_CKH_SNAPSHOTS];
    c->evals = h[LP_CKH_EVALS];
    c->best.step = h[LP_CKH_BEST_STEP];
    c->best.epoch = (int)h[LP_CKH_BEST_EPOCH];
    memcpy(&c->best.test_accuracy, &h[LP_CKH_BEST_ACCURACY], sizeof(double));
    memcpy(&c->best.test_loss, &h[LP_CKH_BEST_LOSS], sizeof(double));
    c->size = (lp_results_checkpoint_size){.params = (size_t)h[LP_CKH_PARAMS],
                                           .state = (size_t)h[LP_CKH_STATE],
                                           .stats = (size_t)h[LP_CKH_STATS],
                                           .optimizer_buffers = (int)h[LP_CKH_OPTIMIZER_BUFFERS],
                                           .best = h[LP_CKH_BEST_SAVED] == 1};
    if (h[LP_CKH_PARAMS] <= 0 || h[LP_CKH_STATE] < 0 || h[LP_CKH_STATS] < 0 ||
        h[LP_CKH_OPTIMIZER_BUFFERS] < 0 || h[LP_CKH_OPTIMIZER_BUFFERS] > 16 || c->step < 0 ||
        c->epoch < 0 || c->step_in_epoch < 0 || c->metrics < 0 || c->snapshots < 0 ||
        c->evals < 0 || (h[LP_CKH_BEST_SAVED] != 0 && h[LP_CKH_BEST_SAVED] != 1) ||
        c->best.step < 0 || c->best.step > c->step || c->best.epoch < 0)
        return lp_fail(LP_ERR_FORMAT, "%s: /checkpoint/%d/header holds impossible values", path, k);
    lp_status s = LP_OK;
    for (int i = LP_CKPT_PARAMS; s == LP_OK && i < LP_CKPT_N; ++i) {
        if (!has_(&c->size, i)) continue;
        size_t n = count_(&c->size, i);
        void *a = malloc(n * value_size_(i));
        if (!a) s = lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory for a checkpoint", path);
        if (i == LP_CKPT_PARAMS) c->params = a;
        if (i == LP_CKPT_OPTIMIZER) c->optimizer = a;
        if (i == LP_CKPT_STATE) c->state = a;
        if (i == LP_CKPT_STATS) c->stats = a;
        if (i == LP_CKPT_CHOICES) c->choices = a;
        if (i == LP_CKPT_BEST_PARAMS) c->best_params = a;
        if (i == LP_CKPT_BEST_STATE) c->best_state = a;
        snprintf(name, sizeof name, "/checkpoint/%d/%s", k, arrays_[i]);
        if (s == LP_OK) s = read_ds_(f, path, name, mem_type_(i), n, a);
    }
    if (c->choices) c->choices[LP_RESULTS_CHOICES_MAX - 1] = '\0';
    /* Empty arrays were written as nothing. */
    if (!c->size.optimizer_buffers) free(c->optimizer), c->optimizer = NULL;
    if (!c->size.state) free(c->state), c->state = NULL;
    if (!c->size.state) free(c->best_state), c->best_state = NULL;
    if (!c->size.stats) free(c->stats), c->stats = NULL;
    if (s == LP_OK && (long long)hash_(c) == h[LP_CKH_HASH]) *ok = true;
    if (!*ok) lp_results_checkpoint_free(c);
    return s;
}

lp_status lp_results_read_checkpoint(const char *path, lp_results_checkpoint *out) {
    memset(out, 0, sizeof *out);
    hid_t f;
    LP_TRY(lp_h5_open_read(path, &f));
    lp_status s = LP_OK;
    if (H5Lexists(f, "/checkpoint", H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        s = lp_fail(LP_ERR_NOT_FOUND, "%s: holds no checkpoint (written by an older laperm?)",
                    path);
    }
    lp_results_checkpoint slot[2];
    bool ok[2] = {false, false};
    for (int k = 0; s == LP_OK && k < 2; ++k)
        s = read_slot_(f, path, k, &slot[k], &ok[k]);
    H5Fclose(f);
    if (s == LP_OK && !ok[0] && !ok[1])
        s = lp_fail(LP_ERR_NOT_FOUND,
                    "%s: no complete checkpoint (the run was killed before its first one)", path);
    if (s != LP_OK) {
        for (int k = 0; k < 2; ++k)
            if (ok[k]) lp_results_checkpoint_free(&slot[k]);
        return s;
    }
    int best = !ok[1] || (ok[0] && slot[0].step >= slot[1].step) ? 0 : 1;
    *out = slot[best];
    if (ok[1 - best]) lp_results_checkpoint_free(&slot[1 - best]);
    return LP_OK;
}
