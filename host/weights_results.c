/* Weights from a laperm results file (or a killed run's .part) or a weights-only file as
 * `laperm unpack` writes: /weights, /best, /init, or any snapshot rebuilt from /init and
 * its rankings, values and state (README, "Results file"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/float_order.h"
#include "laperm/results.h"
#include "laperm/weights.h"
#include "results_h5.h"
#include "weights_h5.h"

static int cmp_u32_(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

lp_status lp_weights_rebuild(const float *init, const int32_t *rank, int groups, int group_size,
                             const char *what, float *out) {
    if (groups < 0 || group_size < 1)
        return lp_fail(LP_ERR_FORMAT, "%s: %d groups of %d", what, groups, group_size);
    uint32_t *keys = malloc((size_t)group_size * sizeof *keys + 1);
    unsigned char *seen = malloc((size_t)group_size + 1);
    lp_status s = keys && seen ? LP_OK : lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory", what);
    for (int g = 0; s == LP_OK && g < groups; ++g) {
        const float *in = init + (size_t)g * group_size;
        const int32_t *r = rank + (size_t)g * group_size;
        float *o = out + (size_t)g * group_size;
        for (int j = 0; j < group_size; ++j)
            keys[j] = lp_float_sort_key(in[j]);
        qsort(keys, (size_t)group_size, sizeof *keys, cmp_u32_);
        memset(seen, 0, (size_t)group_size);
        for (int j = 0; j < group_size; ++j) {
            if (r[j] < 0 || r[j] >= group_size || seen[r[j]]) {
                s = lp_fail(LP_ERR_FORMAT,
                            "%s: group %d is not a permutation: rank[%d] = %d (%s; expected each "
                            "of 0..%d once)",
                            what, g, j, r[j],
                            r[j] < 0 || r[j] >= group_size ? "out of range" : "repeated",
                            group_size - 1);
                break;
            }
            seen[r[j]] = 1;
            o[j] = lp_float_from_sort_key(keys[r[j]]);
        }
    }
    free(keys);
    free(seen);
    return s;
}

/* Names of the members of group `name` (sorted by name, as HDF5 iterates). */
typedef struct {
    char **v;
    int n, cap;
} names_;

static herr_t collect_(hid_t g, const char *name, const H5L_info_t *info, void *data) {
    (void)g;
    (void)info;
    names_ *l = data;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        char **grown = realloc(l->v, (size_t)cap * sizeof *grown);
        if (!grown) return -1;
        l->v = grown;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(name))) return -1;
    l->n++;
    return 0;
}

static lp_status members_(hid_t f, const char *group, const char *file, names_ *out) {
    memset(out, 0, sizeof *out);
    hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
    if (g < 0) return lp_h5_fail(LP_ERR_FORMAT, "%s: %s is not a group", file, group);
    herr_t e = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, collect_, out);
    H5Gclose(g);
    return e < 0 ? lp_h5_fail(LP_ERR_HDF5, "%s: listing %s", file, group) : LP_OK;
}

static void names_free_(names_ *l) {
    lp_wh5_strings_free(l->v, l->n);
    memset(l, 0, sizeof *l);
}

/* Every dataset under root/<layer>/<tensor>; with slice >= 0 their entry `slice`. */
static lp_status read_tree_(hid_t f, const char *root, long long slice, const char *file,
                            lp_weights *out) {
    names_ layers;
    LP_TRY(members_(f, root, file, &layers));
    lp_status s = LP_OK;
    for (int i = 0; s == LP_OK && i < layers.n; ++i) {
        char group[512];
        snprintf(group, sizeof group, "%s/%s", root, layers.v[i]);
        names_ tensors;
        s = members_(f, group, file, &tensors);
        for (int j = 0; s == LP_OK && j < tensors.n; ++j) {
            char name[1024];
            snprintf(name, sizeof name, "%s/%s", group, tensors.v[j]);
            int rank, dims[4];
            float *data = NULL;
            s = lp_wh5_read_float(f, name, slice, file, &rank, dims, &data);
            if (s == LP_OK) s = lp_weights_add(out, layers.v[i], tensors.v[j], rank, dims, data);
            free(data);
        }
        names_free_(&tensors);
    }
    names_free_(&layers);
    return s;
}

/* Snapshot s: permuted tensors rebuilt from /init and /rankings[s], the others from
 * /values[s], then /state[s]. */
static lp_status snapshot_(hid_t f, long long s_index, const char *file, lp_weights *out) {
    names_ layers;
    LP_TRY(members_(f, "/init", file, &layers));
    lp_status s = LP_OK;
    for (int i = 0; s == LP_OK && i < layers.n; ++i) {
        char group[512];
        snprintf(group, sizeof group, "/init/%s", layers.v[i]);
        names_ tensors;
        s = members_(f, group, file, &tensors);
        for (int j = 0; s == LP_OK && j < tensors.n; ++j) {
            const char *l = layers.v[i], *t = tensors.v[j];
            char init[1024], rk[1024], val[1024];
            snprintf(init, sizeof init, "/init/%s/%s", l, t);
            snprintf(rk, sizeof rk, "/rankings/%s/%s", l, t);
            snprintf(val, sizeof val, "/values/%s/%s", l, t);
            int rank, dims[4], rrank, rdims[4];
            float *data = NULL, *w = NULL;
            int32_t *r = NULL;
            if (lp_wh5_exists(f, rk)) {
                s = lp_wh5_read_float(f, init, -1, file, &rank, dims, &data);
                if (s == LP_OK)
                    s = lp_wh5_read_int32_slice(f, rk, s_index, file, &rrank, rdims, &r);
                size_t count = 1;
                for (int d = 0; s == LP_OK && d < rank; ++d)
                    count *= (size_t)dims[d];
                if (s == LP_OK && (rrank != 2 || (size_t)rdims[0] * (size_t)rdims[1] != count))
                    s = lp_fail(LP_ERR_FORMAT,
                                "%s: %s is not (snapshots, groups, group_size) for %zu weights",
                                file, rk, count);
                if (s == LP_OK && !(w = malloc(count * sizeof *w)))
                    s = lp_fail(LP_ERR_NO_MEMORY, "out of memory");
                char what[1200];
                snprintf(what, sizeof what, "%s: %s[%lld]", file, rk, s_index);
                if (s == LP_OK) s = lp_weights_rebuild(data, r, rdims[0], rdims[1], what, w);
                if (s == LP_OK) s = lp_weights_add(out, l, t, rank, dims, w);
            } else {
                s = lp_wh5_read_float(f, val, s_index, file, &rank, dims, &data);
                if (s == LP_ERR_NOT_FOUND)
                    s = lp_fail(LP_ERR_FORMAT, "%s: %s has neither rankings nor values", file,
                                init);
                if (s == LP_OK) s = lp_weights_add(out, l, t, rank, dims, data);
            }
            free(data);
            free(w);
            free(r);
        }
        names_free_(&tensors);
    }
    names_free_(&layers);
    if (s == LP_OK && lp_wh5_exists(f, "/state")) s = read_tree_(f, "/state", s_index, file, out);
    return s;
}

/* The snapshot index `pick` names, with its epoch and step. */
static lp_status find_snapshot_(const char *path, const lp_weights_pick *pick,
                                lp_weights_origin *o) {
    int32_t *epoch = NULL;
    int64_t *step = NULL;
    int rank;
    size_t d[4], d2[4];
    lp_status s = lp_results_read_int32(path, "/snapshot_epoch", &epoch, &rank, d);
    if (s == LP_OK) s = lp_results_read_int64(path, "/snapshot_step", &step, &rank, d2);
    /* /snapshot_step is written last: its length counts the complete snapshots */
    long long n = s == LP_OK ? (long long)(d2[0] < d[0] ? d2[0] : d[0]) : 0;
    if (!epoch || !step) n = 0;
    long long at = -1;
    if (s == LP_OK && pick->kind == LP_PICK_EPOCH) {
        for (long long i = 0; i < n; ++i)
            if (epoch[i] == pick->epoch) at = i;
        if (at < 0)
            s = lp_fail(LP_ERR_NOT_FOUND,
                        "%s: no end-of-epoch snapshot of epoch %d (it holds %lld snapshots%s%d)",
                        path, pick->epoch, n, n ? ", the last of epoch " : "",
                        n ? epoch[n - 1] : 0);
    } else if (s == LP_OK) {
        long long want = pick->kind == LP_PICK_SNAPSHOT ? pick->snapshot : -1;
        at = want < 0 ? n + want : want;
        if (n == 0)
            s = lp_fail(LP_ERR_NOT_FOUND,
                        "%s holds no network yet: no /weights and no complete snapshot (its run "
                        "has not finished an epoch)",
                        path);
        else if (at < 0 || at >= n)
            s = lp_fail(LP_ERR_NOT_FOUND, "%s: no snapshot %lld (it holds %lld: 0 to %lld)", path,
                        want, n, n - 1);
    }
    if (s == LP_OK) {
        o->snapshot = at;
        o->epoch = epoch[at];
        o->step = step[at];
        if (o->epoch)
            snprintf(o->what, sizeof o->what, "snapshot %lld (epoch %d, step %lld)", at, o->epoch,
                     o->step);
        else
            snprintf(o->what, sizeof o->what, "snapshot %lld (step %lld)", at, o->step);
    }
    free(epoch);
    free(step);
    return s;
}

/* The running statistics a new network starts with (mean 0, variance 1), shaped as the
 * file's /state entries; none when it holds no snapshot yet (o->partial_state stays). */
static lp_status initial_state_(hid_t f, const char *file, lp_weights *out, lp_weights_origin *o) {
    lp_weights state = {0};
    lp_status s = read_tree_(f, "/state", 0, file, &state);
    if (s == LP_ERR_NOT_FOUND) {
        lp_clear_error();
        lp_weights_free(&state);
        return LP_OK;
    }
    for (int i = 0; s == LP_OK && i < state.n; ++i) {
        lp_named_tensor *t = &state.tensors[i];
        for (size_t j = 0; j < t->count; ++j)
            t->data[j] = strcmp(t->name, "running_var") ? 0.0f : 1.0f;
        s = lp_weights_add(out, t->layer, t->name, t->rank, t->dims, t->data);
    }
    if (s == LP_OK) o->partial_state = false;
    lp_weights_free(&state);
    return s;
}

/* Which of the file's networks `pick` names: its group ("/weights", "/best", "/init") or
 * (NULL) a snapshot, with o filled. Reads by path only (the file is not held open). */
static lp_status choose_(const char *path, bool results, bool has_final,
                         const lp_weights_pick *pick, lp_weights_origin *o, const char **group) {
    lp_weights_pick_kind k = pick ? pick->kind : LP_PICK_FINAL;
    *group = NULL;
    if (!results && k != LP_PICK_FINAL)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "%s holds one network (/weights, no /init or snapshots): --epoch, "
                       "--snapshot, --best and --init need a results file",
                       path);
    if (k == LP_PICK_FINAL && has_final) {
        *group = "/weights";
        /* a results file's /weights is its last snapshot's network: say which */
        if (results && find_snapshot_(path, &(lp_weights_pick){0}, o) == LP_OK) {
            snprintf(o->what, sizeof o->what, "/weights (snapshot %lld, epoch %d, step %lld)",
                     o->snapshot, o->epoch, o->step);
            return LP_OK;
        }
        lp_clear_error();
        snprintf(o->what, sizeof o->what, "/weights");
        o->snapshot = -1;
        return LP_OK;
    }
    if (k == LP_PICK_INIT) {
        snprintf(o->what, sizeof o->what, "/init");
        o->partial_state = true;
        *group = "/init";
        return LP_OK;
    }
    if (k == LP_PICK_BEST) {
        long long valid = 0, step = 0, epoch = 0;
        lp_status s = lp_results_read_attr_int(path, "/best", "valid", &valid);
        if (s == LP_ERR_NOT_FOUND)
            return lp_fail(LP_ERR_NOT_FOUND,
                           "%s: no /best (the run was not trained with --save-best)", path);
        if (s == LP_OK && !valid)
            return lp_fail(LP_ERR_NOT_FOUND, "%s: /best is not whole (valid = 0)", path);
        if (s == LP_OK) s = lp_results_read_attr_int(path, "/best", "step", &step);
        if (s == LP_OK) s = lp_results_read_attr_int(path, "/best", "epoch", &epoch);
        o->step = step;
        o->epoch = (int)epoch;
        snprintf(o->what, sizeof o->what, "/best (epoch %lld, step %lld)", epoch, step);
        *group = "/best";
        return s;
    }
    /* a snapshot; a .part's final network is its last one */
    return find_snapshot_(path, k != LP_PICK_FINAL ? pick : &(lp_weights_pick){0}, o);
}

lp_status lp_weights_load_results(const char *path, const lp_weights_pick *pick,
                                  const lp_model_spec *model, lp_weights *out,
                                  lp_weights_origin *o) {
    (void)model;
    hid_t f;
    LP_TRY(lp_h5_open_read(path, &f));
    bool results = lp_wh5_exists(f, "/init");
    bool has_final = lp_wh5_exists(f, "/weights");
    bool has_text = lp_wh5_exists(f, "/model_text");
    H5Fclose(f);
    o->kind = results ? "results" : "weights";
    o->snapshot = -1;
    const char *group = NULL;
    char *text = NULL;
    LP_TRY(choose_(path, results, has_final, pick, o, &group));
    if (has_text) {
        lp_status s = lp_results_read_string(path, "/model_text", NULL, &text);
        if (s == LP_OK) s = lp_weights_set_model_text(out, text);
        free(text);
        LP_TRY(s);
    }
    LP_TRY(lp_h5_open_read(path, &f));
    lp_status s =
        group ? read_tree_(f, group, -1, path, out) : snapshot_(f, o->snapshot, path, out);
    if (s == LP_OK && o->partial_state && lp_wh5_exists(f, "/state"))
        s = initial_state_(f, path, out, o);
    H5Fclose(f);
    return s;
}
