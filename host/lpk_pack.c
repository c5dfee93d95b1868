/* `laperm pack`: a results file's network (/weights, /best or a snapshot, read by
 * lp_weights_load) into a .lpk, with the initial values regenerated from the recorded
 * attributes and checked against the file's /init, or stored when they cannot be. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "laperm/init.h"
#include "laperm/lpk.h"
#include "laperm/weights.h"

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

/* The network opts choose, through the one results-file loader (laperm/weights.h). */
static lp_status network_(const char *path, const lp_lpk_pack_opts *o, const lp_model_spec *m,
                          lp_weights *w, lp_weights_origin *origin) {
    lp_weights_pick pick = {.kind = o->best           ? LP_PICK_BEST
                                    : o->epoch > 0    ? LP_PICK_EPOCH
                                    : o->use_snapshot ? LP_PICK_SNAPSHOT
                                                      : LP_PICK_FINAL,
                            .snapshot = o->snapshot,
                            .epoch = o->epoch};
    return lp_weights_load(path, &pick, m, w, origin);
}

/* The file's /init, into init (the parameter layout). */
static lp_status file_init_(const char *path, const lp_model_spec *m, const lp_param_tensor *t,
                            int nt, float *init) {
    lp_weights w = {0};
    lp_weights_origin origin;
    lp_status st = lp_weights_load(path, &(lp_weights_pick){.kind = LP_PICK_INIT}, m, &w, &origin);
    if (st == LP_OK) st = lp_weights_to_params(&w, path, m, t, nt, init);
    lp_weights_free(&w);
    return st;
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
    lp_weights_origin origin = {0};
    lp_init_setup setup;
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
    if (st == LP_OK) st = network_(results, opts, &m, &w, &origin);
    if (st == LP_OK) snprintf(report->source, sizeof report->source, "%s", origin.what);
    if (st == LP_OK) st = file_init_(results, &m, t, nt, finit);
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
        attrs[n_attrs++] = LP_ATTR_I("snapshot_step", origin.step);
        attrs[n_attrs++] = LP_ATTR_I("snapshot_epoch", origin.epoch);
        lp_lpk_input in = {.model_text = text,
                           .attrs = attrs,
                           .n_attrs = n_attrs,
                           .weights = &w,
                           .init = raw ? finit : regen,
                           .init_raw = raw};
        st = lp_lpk_write(out, &in, &report->sizes);
    }
    if (st == LP_OK && (st = verify_(out, &w)) != LP_OK) remove(out); /* not what was asked */
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
