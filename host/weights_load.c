/* lp_weights_load: which kind of weights file a path holds, found from its content, and
 * the one loader of that kind. Adding a kind is one entry in kinds_. */
#include <stdio.h>
#include <string.h>

#include "laperm/lpk.h"
#include "laperm/weights.h"
#include "results_h5.h"
#include "weights_h5.h"

/* What a detector sees: the file's first bytes, and the HDF5 file when it is one (else
 * -1). */
typedef struct {
    const unsigned char *head;
    size_t n;
    hid_t h5;
} probe_;

typedef struct {
    const char *kind;
    const char *one_network; /* a file holding one network, named so: only the final pick */
    bool (*detect)(const probe_ *p);
    lp_status (*load)(const char *path, const lp_weights_pick *pick, const lp_model_spec *model,
                      lp_weights *out, lp_weights_origin *origin);
} kind_;

static bool is_keras_(const probe_ *p) {
    if (p->h5 < 0) return false;
    htri_t a = H5Aexists(p->h5, "layer_names"), b = H5Aexists(p->h5, "layer_names0");
    H5Eclear2(H5E_DEFAULT);
    return a > 0 || b > 0;
}

/* A results file (/init) or a weights-only file (/weights and /model_text). */
static bool is_laperm_(const probe_ *p) {
    return p->h5 >= 0 && (lp_wh5_exists(p->h5, "/init") || (lp_wh5_exists(p->h5, "/weights") &&
                                                            lp_wh5_exists(p->h5, "/model_text")));
}

static bool is_lpk_(const probe_ *p) {
    return p->n >= 8 && !memcmp(p->head, LP_LPK_MAGIC, 8);
}

/* A .lpk holds one network, with its model text. */
static lp_status load_lpk_(const char *path, const lp_weights_pick *pick,
                           const lp_model_spec *model, lp_weights *out, lp_weights_origin *o) {
    (void)pick;
    (void)model;
    o->kind = "lpk";
    snprintf(o->what, sizeof o->what, ".lpk network");
    return lp_lpk_read(path, out);
}

static const kind_ kinds_[] = {
    {"results", NULL, is_laperm_, lp_weights_load_results},
    {"keras", "a Keras weights file", is_keras_, lp_weights_load_keras},
    {"lpk", "a .lpk", is_lpk_, load_lpk_},
};

lp_status lp_weights_load(const char *path, const lp_weights_pick *pick, const lp_model_spec *model,
                          lp_weights *out, lp_weights_origin *origin) {
    lp_weights_free(out);
    memset(origin, 0, sizeof *origin);
    origin->snapshot = -1;
    FILE *fp = fopen(path, "rb");
    if (!fp) return lp_fail(LP_ERR_NOT_FOUND, "%s: no such file (or it cannot be read)", path);
    unsigned char head[16] = {0};
    size_t n = fread(head, 1, sizeof head, fp);
    fclose(fp);
    static const unsigned char hdf5_sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    probe_ p = {.head = head, .n = n, .h5 = -1};
    if (n >= 8 && !memcmp(head, hdf5_sig, 8)) LP_TRY(lp_h5_open_read(path, &p.h5));
    const kind_ *k = NULL;
    for (size_t i = 0; !k && i < sizeof kinds_ / sizeof *kinds_; ++i)
        if (kinds_[i].detect(&p)) k = &kinds_[i];
    bool keras3 = p.h5 >= 0 && !k && lp_wh5_exists(p.h5, "/layers");
    if (p.h5 >= 0) H5Fclose(p.h5);
    if (keras3)
        return lp_fail(LP_ERR_UNSUPPORTED,
                       "%s: a Keras 3 .weights.h5 file (/layers/<name>/vars/<i>), whose layers "
                       "are not stored in model order: save the weights in the Keras 2 layout "
                       "(tf.keras model.save_weights('w.h5'), or Keras 3's "
                       "keras.src.legacy.saving.legacy_h5_format.save_weights_to_hdf5_group)",
                       path);
    if (!k)
        return lp_fail(LP_ERR_FORMAT,
                       "%s: not a weights file laperm reads (expected a laperm results file, a "
                       "weights file from `laperm unpack` (/weights and /model_text), a .lpk or "
                       "a Keras save_weights HDF5 file (root attribute layer_names))%s",
                       path, p.h5 < 0 ? ": not HDF5" : "");
    if (k->one_network && pick && pick->kind != LP_PICK_FINAL)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "%s is %s (one network): --epoch, --snapshot, --best and --init need a "
                       "laperm results file",
                       path, k->one_network);
    lp_status s = k->load(path, pick, model, out, origin);
    if (s != LP_OK) lp_weights_free(out);
    return s;
}
