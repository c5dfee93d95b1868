/* `laperm check`'s golden training run: LaPerm over Adam on a small dense network and a
 * synthetic dataset drawn from Philox (no files), 3 epochs of 6 steps with a sync every
 * 4, through lp_train as `laperm train` runs it. What it gives (the hash of /weights and
 * each epoch's training loss) is compared with the values frozen in
 * host/reference_golden.c, which only portable-bits mode (--bits portable) promises on
 * every device, so the run is always made in that mode. README "Testing your device" says
 * how to regenerate the values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check-impl.h"
#include "hash.h"
#include "laperm/gemm.h"
#include "laperm/rng.h"
#include "laperm/train.h"
#include "reference.h"

#define SEED_ 20240607u
#define CLASSES_ 4
#define SIDE_ 6 /* 1 x 6 x 6 images */

static const char *const MODEL_ = "[input]\nchannels = 1\nheight = 6\nwidth = 6\n\n[flatten]\n\n"
                                  "[dense]\nunits = 16\nactivation = relu\n\n"
                                  "[dense]\nunits = 4\n";

/* n images of uniform pixels; the label is the prototype (4 more images) nearest in
 * dot product, so the task can be learned. stream separates train and test. */
static lp_status data_(int n, uint32_t stream, lp_dataset *d) {
    const int f = SIDE_ * SIDE_;
    *d = (lp_dataset){.n = n, .c = 1, .h = SIDE_, .w = SIDE_, .classes = CLASSES_};
    d->x = malloc((size_t)n * f * sizeof *d->x);
    d->y = malloc((size_t)n);
    if (!d->x || !d->y) return lp_fail(LP_ERR_NO_MEMORY, "golden run: %d images", n);
    float proto[CLASSES_][SIDE_ * SIDE_];
    for (int k = 0; k < CLASSES_ * f; k += 4)
        lp_uniform4(SEED_, (uint64_t)k / 4, 0x47000000u, 0, &proto[0][0] + k);
    for (int i = 0; i < n; ++i) {
        float *x = d->x + (size_t)i * f;
        for (int j = 0; j < f; j += 4)
            lp_uniform4(SEED_, (uint64_t)i * f / 4 + (uint64_t)j / 4, stream, 0, x + j);
        float best = -1.0f;
        for (int k = 0; k < CLASSES_; ++k) {
            float dot = 0.0f;
            for (int j = 0; j < f; ++j)
                dot += (x[j] - 0.5f) * (proto[k][j] - 0.5f);
            if (k == 0 || dot > best) best = dot, d->y[i] = (uint8_t)k;
        }
    }
    snprintf(d->origin, sizeof d->origin, "laperm check golden run (Philox stream 0x%08x)", stream);
    return LP_OK;
}

typedef struct {
    int epochs;
    double losses[LP_REF_GOLDEN_EPOCHS];
} epochs_;

static void on_epoch_(void *ctx, const lp_epoch_metrics *m, int epochs) {
    epochs_ *e = ctx;
    (void)epochs;
    if (e->epochs < LP_REF_GOLDEN_EPOCHS) e->losses[e->epochs] = m->train_loss;
    e->epochs++;
}

/* Folds dataset name of the results file into h. */
static lp_status hash_dataset_(const char *path, const char *name, uint64_t *h) {
    float *v = NULL;
    int rank;
    size_t dims[4];
    LP_TRY(lp_results_read_float(path, name, &v, &rank, dims));
    size_t n = 1;
    for (int i = 0; i < rank; ++i)
        n *= dims[i];
    *h = lp_hash_bytes(lp_hash_str(*h, name), v, n * sizeof *v);
    free(v);
    return LP_OK;
}

lp_status lp_check_golden_run(lp_runtime *rt, lp_check_golden_values *out) {
    memset(out, 0, sizeof *out);
    lp_model_spec model = {0};
    lp_dataset train = {0}, test = {0};
    epochs_ e = {0};
    char path[512];
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/laperm-check-golden-%ld.h5", tmp && *tmp ? tmp : "/tmp",
             (long)getpid());
    lp_status s = lp_model_parse_text(MODEL_, "laperm check golden run", &model);
    if (s == LP_OK) s = data_(192, 0x47000001u, &train);
    if (s == LP_OK) s = data_(64, 0x47000002u, &test);
    lp_train_config cfg;
    lp_train_config_defaults(&cfg);
    cfg.k = 4;
    cfg.epochs = LP_REF_GOLDEN_EPOCHS;
    cfg.batch = 32;
    cfg.eval_batch = 64;
    cfg.seed = SEED_;
    cfg.conv_algo = LP_CONV_ALGO_GEMM;
    cfg.out_path = path;
    cfg.dataset = "laperm check golden run";
    lp_train_callbacks cb = {.on_epoch = on_epoch_, .ctx = &e};
    lp_train_result res;
    if (s == LP_OK) s = lp_train(rt, &model, &train, &test, &cfg, &cb, &res);
    uint64_t h = LP_HASH_SEED;
    const char *const tensors[] = {"/weights/dense_1/kernel", "/weights/dense_1/bias",
                                   "/weights/dense_2/kernel", "/weights/dense_2/bias"};
    for (int i = 0; s == LP_OK && i < 4; ++i)
        s = hash_dataset_(path, tensors[i], &h);
    if (s == LP_OK && e.epochs != LP_REF_GOLDEN_EPOCHS)
        s = lp_fail(LP_ERR_INTERNAL, "golden run: %d epochs, expected %d", e.epochs,
                    LP_REF_GOLDEN_EPOCHS);
    if (s == LP_OK) {
        out->weights_hash = lp_hash_final(h);
        for (int i = 0; i < LP_REF_GOLDEN_EPOCHS; ++i)
            memcpy(&out->losses[i], &e.losses[i], sizeof out->losses[i]);
    }
    remove(path);
    lp_model_free(&model);
    free(train.x), free(train.y), free(test.x), free(test.y);
    return s;
}

/* The golden values hold only in portable-bits mode, so the run gets a portable runtime
 * on the same device whatever mode the other checks run in. A device below portable
 * mode's fixed limits cannot be compared with them: the row says why and is skipped. */
static lp_status portable_runtime_(lp_runtime *rt, lp_runtime **out, char *why, size_t len) {
    *out = rt;
    if (lp_runtime_bits(rt) == LP_BITS_PORTABLE) return LP_OK;
    const lp_device_info *d = lp_runtime_device(rt);
    char selector[32];
    snprintf(selector, sizeof selector, "%d:%d", d->platform_index, d->device_index);
    lp_runtime_options opt = {.device = selector, .bits = LP_BITS_PORTABLE};
    *out = NULL;
    if (lp_runtime_create(&opt, out) != LP_OK) snprintf(why, len, "%s", lp_last_error());
    return LP_OK;
}

lp_status lp_check_golden(lp_check_ctx *c) {
    lp_runtime *prt;
    char why[300] = "";
    LP_TRY(portable_runtime_(c->rt, &prt, why, sizeof why));
    if (!prt) {
        char note[400];
        snprintf(note, sizeof note, "no portable-bits mode on this device: %s", why);
        lp_check_skip(c, note);
        return LP_OK;
    }
    /* Portable mode's products are its one tiled GEMM, whatever $LAPERM_GEMM asks of the
     * other checks (the simulator's runs set clblast). */
    lp_gemm_mode mode = lp_gemm_get_mode(prt);
    lp_gemm_set_mode(prt, LP_GEMM_AUTO);
    lp_check_golden_values g;
    lp_status s = lp_check_golden_run(prt, &g);
    lp_gemm_set_mode(prt, mode);
    if (prt != c->rt) lp_runtime_destroy(prt);
    LP_TRY(s);
    char got[200];
    int len =
        snprintf(got, sizeof got, "weights 0x%016llx, losses", (unsigned long long)g.weights_hash);
    for (int i = 0; i < LP_REF_GOLDEN_EPOCHS; ++i)
        len += snprintf(got + len, sizeof got - (size_t)len, " 0x%016llx",
                        (unsigned long long)g.losses[i]);
    lp_check_bits(c, "golden run: hash of /weights", &g.weights_hash, &lp_ref_golden_weights_hash,
                  2);
    lp_check_bits(c, "golden run: training loss of each epoch", g.losses, lp_ref_golden_losses,
                  2 * LP_REF_GOLDEN_EPOCHS);
    if (c->r->state == LP_CHECK_FAIL) {
        size_t used = strlen(c->r->note);
        snprintf(c->r->note + used, sizeof c->r->note - used, "; this device gave %s", got);
    }
    return LP_OK;
}
