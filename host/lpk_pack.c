/* `laperm pack`: a results file's network (its /weights, or one snapshot rebuilt from /init,
 * /rankings, /values and /state) into a .lpk, with the initial values regenerated from the
 * recorded attributes and checked against the file's /init, or stored when they cannot be. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "laperm/init.h"
#include "laperm/lpk.h"
#include "results_h5.h"

/* The attributes a .lpk keeps besides lp_init_setup_attr_names: where the run started, and
 * the data and loss it was evaluated with, so that laperm eval repeats that evaluation from
 * the .lpk (or its unpacked file) as from the results file. */
static const char *const more_attrs_[] = {"init_from",
                                          "init_from_shuffle",
                                          "init_from_hash",
                                          "program_version",
                                          "dataset",
                                          "data_dir",
                                          "normalize",
                                          "loss",
                                          "train_images",
                                          "test_images",
                                          "train_data_hash",
                                          "test_data_hash",
                                          NULL};

/* Dataset `name` of the open file f: all of it (s < 0), or its entry s along the first
 * dimension (a snapshot), as mem_type; *count the values read; dims of what was read (rank
 * *rank). */
static lp_status read_(hid_t f, const char *path, const char *name, long long s, hid_t mem_type,
                       void **out, int *rank, int dims[4], size_t *count) {
    *out = NULL;
    if (H5Lexists(f, name, H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return lp_fail(LP_ERR_NOT_FOUND, "%s: no %s", path, name);
    }
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (ds < 0) return lp_h5_fail(LP_ERR_FORMAT, "%s: %s is not a dataset", path, name);
    hid_t space = H5Dget_space(ds);
    int nd = H5Sget_simple_extent_ndims(space);
    hsize_t d[5] = {0}, start[5] = {0}, cnt[5] = {0};
    lp_status st = LP_OK;
    if (nd < 1 || nd > (s < 0 ? 4 : 5))
        st = lp_fail(LP_ERR_FORMAT, "%s: %s has rank %d", path, name, nd);
    if (st == LP_OK) H5Sget_simple_extent_dims(space, d, NULL);
    if (st == LP_OK && s >= 0 && (hsize_t)s >= d[0])
        st = lp_fail(LP_ERR_FORMAT, "%s: %s has %llu snapshots, not %lld", path, name,
                     (unsigned long long)d[0], s + 1);
    size_t n = 1;
    int first = s < 0 ? 0 : 1;
    *rank = nd - first;
    for (int i = 0; st == LP_OK && i < nd; ++i) {
        cnt[i] = i == 0 && s >= 0 ? 1 : d[i];
        start[i] = i == 0 && s >= 0 ? (hsize_t)s : 0;
        if (i >= first) dims[i - first] = (int)d[i], n *= (size_t)d[i];
    }
    if (st == LP_OK && *rank == 0) {
        *rank = 1;
        dims[0] = 1;
    }
    if (st == LP_OK && !(*out = malloc((n + 1) * H5Tget_size(mem_type))))
        st = lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory reading %s", path, name);
    if (st == LP_OK) {
        hid_t mspace = H5Screate_simple(nd, cnt, NULL);
        if (H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, cnt, NULL) < 0 ||
            H5Dread(ds, mem_type, mspace, space, H5P_DEFAULT, *out) < 0)
            st = lp_h5_fail(LP_ERR_HDF5, "%s: reading %s", path, name);
        H5Sclose(mspace);
    }
    H5Sclose(space);
    H5Dclose(ds);
    if (st != LP_OK) free(*out), *out = NULL;
    *count = n;
    return st;
}

static lp_status check_shape_(const char *path, const char *name, int rank, const int *dims,
                              const lp_param_tensor *p) {
    bool same = rank == p->rank;
    for (int d = 0; same && d < rank; ++d)
        same = dims[d] == p->dims[d];
    if (same) return LP_OK;
    char a[64], b[64];
    return lp_fail(LP_ERR_FORMAT, "%s: %s is %s but the model says %s", path, name,
                   lp_dims_str(rank, dims, a, 64), lp_dims_str(p->rank, p->dims, b, 64));
}

/* Snapshot s of a permuted tensor: w[g, j] = sort(init[g])[rank[s, g, j]]. */
static lp_status rebuild_(hid_t f, const char *path, const char *layer, const lp_param_tensor *p,
                          long long s, const float *init, float *w) {
    char name[256];
    snprintf(name, sizeof name, "/rankings/%s/%s", layer, p->name);
    int32_t *rank;
    int r, dims[4];
    size_t n;
    LP_TRY(read_(f, path, name, s, H5T_NATIVE_INT32, (void **)&rank, &r, dims, &n));
    lp_status st = LP_OK;
    if (n != p->count || r != 2)
        st = lp_fail(LP_ERR_FORMAT, "%s: %s holds %zu values per snapshot, expected %zu", path,
                     name, n, p->count);
    char what[320];
    snprintf(what, sizeof what, "%s: %s[%lld]", path, name, s);
    if (st == LP_OK) st = lp_weights_rebuild(init, rank, dims[0], dims[1], what, w);
    free(rank);
    return st;
}

/* Appends to w every dataset under `group`/<layer>/ that is not a parameter tensor (the
 * state tensors: BatchNorm running statistics), entry s of each (s < 0: all of it). */
static lp_status add_state_(hid_t f, const char *path, const char *group, long long s,
                            const lp_model_spec *m, const lp_param_tensor *t, int nt,
                            lp_weights *w) {
    if (H5Lexists(f, group, H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return LP_OK;
    }
    for (int l = 0; l < m->n_layers; ++l) {
        char lg[256];
        snprintf(lg, sizeof lg, "%s/%s", group, m->layers[l].name);
        if (H5Lexists(f, lg, H5P_DEFAULT) <= 0) {
            H5Eclear2(H5E_DEFAULT);
            continue;
        }
        H5G_info_t info;
        if (H5Gget_info_by_name(f, lg, &info, H5P_DEFAULT) < 0)
            return lp_h5_fail(LP_ERR_FORMAT, "%s: %s is not a group", path, lg);
        for (hsize_t i = 0; i < info.nlinks; ++i) {
            char tn[64];
            if (H5Lget_name_by_idx(f, lg, H5_INDEX_NAME, H5_ITER_INC, i, tn, sizeof tn,
                                   H5P_DEFAULT) < 0)
                return lp_h5_fail(LP_ERR_FORMAT, "%s: reading the names in %s", path, lg);
            bool param = false;
            for (int k = 0; k < nt && !param; ++k)
                param = t[k].layer == l && !strcmp(t[k].name, tn);
            if (param) continue;
            char name[320];
            snprintf(name, sizeof name, "%s/%s", lg, tn);
            float *x;
            int r, dims[4];
            size_t n;
            LP_TRY(read_(f, path, name, s, H5T_NATIVE_FLOAT, (void **)&x, &r, dims, &n));
            lp_status st = lp_weights_add(w, m->layers[l].name, tn, r, dims, x);
            free(x);
            LP_TRY(st);
        }
    }
    return LP_OK;
}

/* The network: group `whole` laid out as /weights (/weights or /best; s < 0) or snapshot s. */
static lp_status network_(hid_t f, const char *path, const char *whole, long long s,
                          const lp_model_spec *m, const lp_param_tensor *t, int nt,
                          const float *file_init, lp_weights *w) {
    for (int k = 0; k < nt; ++k) {
        const lp_param_tensor *p = &t[k];
        const char *layer = m->layers[p->layer].name;
        char name[256];
        float *x = NULL;
        int r, dims[4];
        size_t n;
        lp_status st;
        snprintf(name, sizeof name, "/rankings/%s/%s", layer, p->name);
        bool ranked = s >= 0 && H5Lexists(f, "/rankings", H5P_DEFAULT) > 0 &&
                      H5Lexists(f, name, H5P_DEFAULT) > 0;
        H5Eclear2(H5E_DEFAULT);
        if (ranked) {
            x = malloc(p->count * sizeof *x);
            st = x ? rebuild_(f, path, layer, p, s, file_init + p->offset, x)
                   : lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory", path);
            r = p->rank;
            memcpy(dims, p->dims, sizeof dims);
        } else {
            snprintf(name, sizeof name, "%s/%s/%s", s < 0 ? whole : "/values", layer, p->name);
            st = read_(f, path, name, s, H5T_NATIVE_FLOAT, (void **)&x, &r, dims, &n);
            if (st == LP_OK) st = check_shape_(path, name, r, dims, p);
        }
        if (st == LP_OK) st = lp_weights_add(w, layer, p->name, p->rank, p->dims, x);
        free(x);
        LP_TRY(st);
    }
    return add_state_(f, path, s < 0 ? whole : "/state", s, m, t, nt, w);
}

/* Reads the attributes to keep (string, integer or float, whichever the file holds). */
static lp_status attrs_(const char *path, lp_attr *a, int *n, char **strings) {
    const char *const *lists[2] = {lp_init_setup_attr_names, more_attrs_};
    *n = 0;
    for (int l = 0; l < 2; ++l)
        for (const char *const *name = lists[l]; *name; ++name) {
            char *s = NULL;
            long long i;
            double d;
            lp_status st = lp_results_read_string(path, "/", *name, &s);
            if (st == LP_OK) {
                strings[*n] = s;
                a[(*n)++] = LP_ATTR_S(*name, s);
                continue;
            }
            if (st == LP_ERR_NOT_FOUND) continue;
            if (lp_results_read_attr_int(path, "/", *name, &i) == LP_OK) {
                a[(*n)++] = LP_ATTR_I(*name, i);
                continue;
            }
            LP_TRY(lp_results_read_attr_double(path, "/", *name, &d));
            a[(*n)++] = LP_ATTR_D(*name, d);
        }
    lp_clear_error();
    return LP_OK;
}

/* --best: /best when it is whole (attribute valid = 1), its step and epoch. */
static lp_status choose_best_(const char *path, long long *step, long long *epoch, char *source,
                              size_t cap) {
    long long valid = 0;
    lp_status st = lp_results_read_attr_int(path, "/best", "valid", &valid);
    if (st == LP_ERR_NOT_FOUND)
        return lp_fail(LP_ERR_NOT_FOUND,
                       "%s: no /best (only a run trained with --save-best keeps its best network)",
                       path);
    LP_TRY(st);
    if (valid != 1)
        return lp_fail(LP_ERR_FORMAT,
                       "%s: /best is not whole (valid = %lld: no evaluation yet, or the run "
                       "stopped while rewriting it)",
                       path, valid);
    LP_TRY(lp_results_read_attr_int(path, "/best", "step", step));
    LP_TRY(lp_results_read_attr_int(path, "/best", "epoch", epoch));
    snprintf(source, cap, "/best (the best evaluation, step %lld, epoch %lld)", *step, *epoch);
    return LP_OK;
}

/* Which snapshot opts choose: *s (-1: /weights), its step and epoch, the report's words. */
static lp_status choose_(hid_t f, const char *path, const lp_lpk_pack_opts *o, long long *s,
                         long long *step, long long *epoch, char *source, size_t cap) {
    if (o->best) {
        *s = -1;
        return choose_best_(path, step, epoch, source, cap);
    }
    int64_t *steps = NULL;
    int32_t *epochs = NULL;
    int r, dims[4];
    size_t n = 0, n2;
    bool final = !o->use_snapshot && o->epoch <= 0;
    bool have_weights = H5Lexists(f, "/weights", H5P_DEFAULT) > 0;
    H5Eclear2(H5E_DEFAULT);
    lp_status st =
        read_(f, path, "/snapshot_step", -1, H5T_NATIVE_INT64, (void **)&steps, &r, dims, &n);
    if (st == LP_OK)
        st = read_(f, path, "/snapshot_epoch", -1, H5T_NATIVE_INT32, (void **)&epochs, &r, dims,
                   &n2);
    if (st == LP_OK && n2 != n)
        st =
            lp_fail(LP_ERR_FORMAT, "%s: /snapshot_step and /snapshot_epoch differ in length", path);
    if (st == LP_ERR_NOT_FOUND && final && have_weights) /* a file without snapshots */
        st = LP_OK, n = 0;
    *s = -1;
    if (st == LP_OK && o->epoch > 0) {
        for (size_t i = 0; i < n; ++i)
            if (epochs[i] == o->epoch) *s = (long long)i;
        int last = 0; /* the last epoch whose end has a snapshot (0: a mid-epoch one) */
        for (size_t i = 0; i < n; ++i)
            last = epochs[i] > last ? epochs[i] : last;
        if (*s < 0 && last)
            st = lp_fail(LP_ERR_NOT_FOUND,
                         "%s: no snapshot of the end of epoch %d (%zu snapshots, the last epoch "
                         "end recorded is epoch %d's)",
                         path, o->epoch, n, last);
        else if (*s < 0)
            st = lp_fail(LP_ERR_NOT_FOUND,
                         "%s: no snapshot of the end of epoch %d (%zu snapshots, none at an "
                         "epoch's end: use --snapshot S)",
                         path, o->epoch, n);
    } else if (st == LP_OK && o->use_snapshot) {
        *s = o->snapshot < 0 ? (long long)n + o->snapshot : o->snapshot;
        if (*s < 0 || *s >= (long long)n)
            st = lp_fail(LP_ERR_NOT_FOUND,
                         "%s: no snapshot %lld (it holds %zu: 0 to %zu, or -1 for the last)", path,
                         o->snapshot, n, n ? n - 1 : 0);
    } else if (st == LP_OK && !have_weights) {
        if (n == 0) st = lp_fail(LP_ERR_NOT_FOUND, "%s: no /weights and no snapshot", path);
        *s = (long long)n - 1;
    }
    long long at = *s >= 0 ? *s : (long long)n - 1;
    *step = st == LP_OK && at >= 0 ? steps[at] : 0;
    *epoch = st == LP_OK && at >= 0 ? epochs[at] : 0;
    if (final && have_weights)
        snprintf(source, cap, "/weights (the final network, step %lld)", *step);
    else if (*epoch)
        snprintf(source, cap, "snapshot %lld (end of epoch %lld, step %lld%s)", *s, *epoch, *step,
                 final ? "; the file has no /weights" : "");
    else
        snprintf(source, cap, "snapshot %lld (step %lld, within an epoch%s)", *s, *step,
                 final ? "; the file has no /weights" : "");
    free(steps);
    free(epochs);
    return st;
}

/* The file's /init of every permuted tensor, into init (the parameter layout). */
static lp_status file_init_(hid_t f, const char *path, const lp_model_spec *m,
                            const lp_param_tensor *t, int nt, const lp_init_setup *setup,
                            float *init) {
    for (int k = 0; k < nt; ++k) {
        if (!lp_init_permuted(setup, &t[k])) continue;
        char name[256];
        snprintf(name, sizeof name, "/init/%s/%s", m->layers[t[k].layer].name, t[k].name);
        float *x;
        int r, dims[4];
        size_t n;
        LP_TRY(read_(f, path, name, -1, H5T_NATIVE_FLOAT, (void **)&x, &r, dims, &n));
        lp_status st = check_shape_(path, name, r, dims, &t[k]);
        if (st == LP_OK) memcpy(init + t[k].offset, x, t[k].count * sizeof *x);
        free(x);
        LP_TRY(st);
    }
    return LP_OK;
}

/* Where the regenerated values first differ from the file's, as words ("" if nowhere). */
static void compare_init_(const lp_model_spec *m, const lp_param_tensor *t, int nt,
                          const lp_init_setup *setup, const float *a, const float *b, char *note,
                          size_t cap) {
    note[0] = '\0';
    for (int k = 0; k < nt; ++k) {
        if (!lp_init_permuted(setup, &t[k])) continue;
        for (size_t j = 0; j < t[k].count; ++j)
            if (memcmp(&a[t[k].offset + j], &b[t[k].offset + j], 4)) {
                snprintf(note, cap,
                         "the initial values regenerated from the seed differ from the file's "
                         "/init (first at %s/%s element %zu): stored raw",
                         m->layers[t[k].layer].name, t[k].name, j);
                return;
            }
    }
}

/* Reads `out` back and compares it with w bit for bit, as `laperm unpack` will see it;
 * removes it if it differs (which only a bug could make). */
static lp_status verify_(const char *out, const lp_weights *w) {
    lp_lpk back;
    LP_TRY(lp_lpk_load(out, &back));
    lp_status st = LP_OK;
    if (back.weights.n != w->n)
        st = lp_fail(LP_ERR_INTERNAL, "%s: reading it back gives %d tensors, not %d", out,
                     back.weights.n, w->n);
    for (int i = 0; st == LP_OK && i < w->n; ++i) {
        const lp_named_tensor *a = &w->tensors[i];
        const lp_named_tensor *b = lp_weights_find(&back.weights, a->layer, a->name);
        if (!b || b->count != a->count || memcmp(a->data, b->data, a->count * sizeof *a->data))
            st = lp_fail(LP_ERR_INTERNAL, "%s: reading it back gives other values for %s/%s", out,
                         a->layer, a->name);
    }
    lp_lpk_free(&back);
    if (st != LP_OK) remove(out);
    return st;
}

/* The string attribute `name`, or "". */
static const char *str_attr_(const lp_attr *a, int n, const char *name) {
    for (int i = 0; i < n; ++i)
        if (!strcmp(a[i].name, name) && a[i].type == LP_ATTR_STRING) return a[i].s;
    return "";
}

lp_status lp_lpk_pack(const char *results, const lp_lpk_pack_opts *opts, const char *out,
                      lp_lpk_pack_report *report) {
    static const lp_lpk_pack_opts none = {0};
    if (!opts) opts = &none;
    memset(report, 0, sizeof *report);
    char *text = NULL, *strings[32] = {0};
    lp_attr attrs[34];
    int n_attrs = 0;
    lp_model_spec m = {0};
    lp_param_tensor *t = NULL;
    int nt = 0;
    float *regen = NULL, *finit = NULL;
    lp_weights w = {0};
    hid_t f = -1;
    lp_init_setup setup;
    long long s = -1, step = 0, epoch = 0;
    if (lp_fs_same_file(results, out))
        return lp_fail(LP_ERR_INVALID_ARG, "%s: the .lpk to write is the results file itself", out);
    lp_status st = lp_results_read_string(results, "/model_text", NULL, &text);
    if (st == LP_OK) st = attrs_(results, attrs, &n_attrs, strings);
    if (st == LP_OK && lp_init_setup_from_attrs(attrs, n_attrs, &setup) != LP_OK)
        st = lp_fail_context(LP_ERR_FORMAT, "%s: ", results);
    if (st == LP_OK && lp_model_parse_text(text, results, &m) != LP_OK)
        st = lp_fail_context(LP_ERR_FORMAT, "%s: /model_text: ", results);
    if (st == LP_OK) st = lp_model_params(&m, &t, &nt);
    size_t np = st == LP_OK ? lp_model_param_count(&m) : 0;
    if (st == LP_OK &&
        (!(regen = calloc(np + 1, sizeof *regen)) || !(finit = calloc(np + 1, sizeof *finit))))
        st = lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory for %zu parameters", results, np);
    if (st == LP_OK) st = lp_h5_open_read(results, &f);
    if (st == LP_OK)
        st = choose_(f, results, opts, &s, &step, &epoch, report->source, sizeof report->source);
    if (st == LP_OK) st = file_init_(f, results, &m, t, nt, &setup, finit);
    if (st == LP_OK)
        st = network_(f, results, opts->best ? "/best" : "/weights", s, &m, t, nt, finit, &w);
    const char *from = str_attr_(attrs, n_attrs, "init_from");
    bool any = false;
    for (int k = 0; k < nt; ++k)
        any |= lp_init_permuted(&setup, &t[k]);
    bool raw = false;
    const char *optimizer = str_attr_(attrs, n_attrs, "optimizer");
    if (st == LP_OK && !any)
        snprintf(report->init_note, sizeof report->init_note,
                 "nothing is permuted (optimizer %s): every tensor is stored as float32",
                 optimizer);
    if (st == LP_OK && any && *from) {
        raw = true;
        snprintf(report->init_note, sizeof report->init_note,
                 "the run started from %s's weights (--init-from): its initial values are "
                 "stored raw",
                 from);
    } else if (st == LP_OK && any) {
        lp_init_run_values(&setup, t, nt, regen);
        compare_init_(&m, t, nt, &setup, regen, finit, report->init_note, sizeof report->init_note);
        raw = report->init_note[0] != '\0';
    }
    if (st == LP_OK) {
        attrs[n_attrs++] = LP_ATTR_I("snapshot_step", step);
        attrs[n_attrs++] = LP_ATTR_I("snapshot_epoch", epoch);
        lp_lpk_input in = {.model_text = text,
                           .attrs = attrs,
                           .n_attrs = n_attrs,
                           .weights = &w,
                           .init = raw ? finit : regen,
                           .init_raw = raw};
        st = lp_lpk_write(out, &in, &report->sizes);
    }
    if (st == LP_OK && (st = verify_(out, &w)) != LP_OK) remove(out); /* not what was asked */
    if (f >= 0) H5Fclose(f);
    lp_weights_free(&w);
    free(regen);
    free(finit);
    free(t);
    lp_model_free(&m);
    for (int i = 0; i < 32; ++i)
        free(strings[i]);
    free(text);
    return st;
}
