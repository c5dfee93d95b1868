/* The one table of `laperm check` (README, "Testing your device"): each row a name, the
 * kernels it exercises (file: kernels, so a failure names them), how its values are
 * compared and why, and its function. u is float32's unit roundoff 2^-24; "k u S" means
 * |got - want| <= k u S per value, S the sum of |terms| that made it. That is Higham's
 * bound for a sum or dot product of k terms in ANY order, with or without FMA, so every
 * correct device passes, while an index or a dropped term is off by whole terms. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check-impl.h"
#include "laperm/clock.h"
#include "laperm/gemm.h"

typedef struct {
    const char *name, *kernel, *tolerance;
    lp_check_fn run;
} check_def_;

static const check_def_ checks_[] = {
    {"gemm", "gemm.cl: lp_gemm_ap lp_gemm_nt lp_gemm_pack_a lp_gemm_reduce; CLBlast Xgemm",
     "(K+2) u S: K products and K-1 additions in any order, then alpha and beta; NN, NT, TN "
     "as the layers use them: the library's choice, the tiled kernels whole and split along K, "
     "CLBlast (not by itself with --quick)",
     lp_check_gemm},
    {"dense", "dense.cl: lp_bias_act_forward lp_relu_backward lp_bias_grad",
     "bias+ReLU 1 u S (one addition); ReLU mask bit for bit (a product by 0 or 1 is exact); "
     "bias gradient (rows+1) u S (a sum over rows)",
     lp_check_dense},
    {"softmax-xent", "loss.cl: lp_softmax_xent",
     "(C+16+2 max|x-m|) u S: C-term sum of exp (OpenCL C allows 3 ulp for exp and log, 2.5 "
     "for division), S = (p+onehot)|scale|; summed loss (rows+C+16) u S; correct count exact",
     lp_check_softmax},
    {"mse", "loss.cl: lp_mse",
     "gradient 8 u |2e/n scale| (a subtraction, products, a 2.5-ulp division); summed loss "
     "and MAE (rows+outputs+8) u S",
     lp_check_mse},
    {"sgd", "optim.cl: lp_sgd_update", "8 u S per step (momentum product, two additions)",
     lp_check_sgd},
    {"adam", "optim.cl: lp_adam_update",
     "m, v: 4 u S; w: 24 u S (sqrt 3 ulp and division 2.5 ulp in OpenCL C, products, sums)",
     lp_check_adam},
    {"lookahead", "optim.cl: lp_lookahead_update lp_weight_decay",
     "slow weights 4 u S; fast weights = slow bit for bit; weight decay 2 u |w| (one correctly "
     "rounded product: half an ulp, at most u |w|)",
     lp_check_lookahead},
    {"train-ops", "loss.cl: lp_gather_rows; optim.cl: lp_l2_grad; guard.cl: lp_guard_finite",
     "the batch gather bit for bit (a copy); the L2 term 4 u S (a product and a sum); the "
     "divergence guard's step and code exact",
     lp_check_train_ops},
    {"conv-gemm",
     "conv.cl: lp_conv_im2col(_planes) lp_conv_col2im(_planes) lp_conv_rows_to_nchw(_planes) "
     "lp_conv_grad_rows(_planes); gemm.cl",
     "forward (K+3) u S, K = cin kh kw; dW (n P+2) u S; dx (F kh kw+2) u S: dot products "
     "in any order; strides 1-3, same/valid padding, odd sizes",
     lp_check_conv_gemm},
    {"conv-direct",
     "conv_direct.cl: lp_conv_direct_split(_rows) lp_conv_direct_pack lp_conv_direct_pack_dx "
     "lp_conv_direct_grad_z; gemm.cl",
     "as conv-gemm: (K+3) u S, (n P+2) u S, (F kh kw+2) u S", lp_check_conv_direct},
    {"conv-fft", "conv_fft.cl: lp_conv_fft_pack lp_conv_fft_crop(_add) lp_conv_fft_mac; clFFT",
     "1700 u S + 34 u max S: a transform spreads every input's rounding over the whole plane "
     "(error ~ log2(size) u of the plane's magnitude), as tests/cltest_conv_fft.c",
     lp_check_conv_fft},
    {"conv-winograd",
     "conv_winograd.cl: lp_wg_filter_packed lp_wg_input lp_wg_products lp_wg_output(_rows) "
     "lp_wg_grad lp_wg_dw_products lp_wg_dw_output",
     "forward (cin+35) u E, dW (n tiles+34) u E, dx (F+34) u E, E the tile computation on "
     "absolute values (host/reference_conv.c): the transforms' constants (up to 8 and 1/24 "
     "for F(4x4,3x3)) scale the rounding; 3x3 stride 1, same/valid padding, odd sizes",
     lp_check_conv_winograd},
    {"conv-bias", "conv.cl: lp_conv_grad_rows(_planes) lp_conv_bias_reduce",
     "bit for bit: the bias gradient's summation order is fixed (16 lanes by a pairwise tree, "
     "then samples in order), the same bits on every device and for any chunking",
     lp_check_conv_bias},
    {"pool",
     "pool.cl: lp_pool_forward lp_pool_backward lp_pool_forward_planes lp_pool_backward_planes",
     "max forward and argmax bit for bit (a selection; ties take the first); average (kh kw+4) "
     "u S (a sum and a 2.5-ulp division); backward (kh kw+2) u S (overlapping windows add)",
     lp_check_pool},
    {"batchnorm",
     "batchnorm.cl: lp_bn_stats lp_bn_apply(_planes) lp_bn_backward_params lp_bn_backward_dx("
     "_planes) lp_bn_plane_sums lp_bn_plane_stats lp_bn_plane_grads lp_bn_plane_params",
     "training forward (2m+16) u S (mean and variance are m-term sums, rsqrt 3 ulp); "
     "dbeta (m+2) u S; dgamma (2m+16) u S; dx (3m+24) u S; inference 16 u S",
     lp_check_batchnorm},
    {"activation", "activation.cl: lp_activation_forward lp_activation_backward",
     "tanh, sigmoid 16 u |y| (OpenCL C allows 5 ulp for tanh, 3 for exp, 2.5 for division); "
     "their gradients 8 u S; relu and identity exact (a zero's sign aside), their gradients "
     "bit for bit",
     lp_check_activation},
    {"dropout", "dropout.cl: lp_dropout_forward lp_dropout_backward; Philox4x32-10",
     "mask and values bit for bit: the mask is Philox (integers only) and kept values are one "
     "correctly rounded product",
     lp_check_dropout},
    {"add", "add.cl: lp_add_forward lp_add_backward",
     "bit for bit: x + x and the ReLU mask are exact in float", lp_check_add},
    {"segsort", "sort.cl: segsort_sort_tiles segsort_merge_tiles segsort_global_step(2)",
     "bit for bit: the permutation against qsort by (totalOrder key, index), with ties, -0/+0, "
     "infinities, sizes 1 to beyond a tile",
     lp_check_sort},
    {"laperm-sync", "laperm.cl: laperm_scatter; sort.cl",
     "bit for bit: after each sync every group is a permutation of its sorted initial values, "
     "placed by the ranking of the current weights (the LaPerm invariant)",
     lp_check_sync},
    {"philox", "host Philox4x32-10 (rng.c)",
     "bit for bit: Random123's known answers, the draws every initializer, shuffle, dropout "
     "mask and augmentation use",
     lp_check_philox},
    {"augment", "augment.cl: lp_augment_batch",
     "bit for bit against lp_augment_reference: integer Philox draws, a fixed sin/cos "
     "polynomial, no contraction, nearest-pixel sampling",
     lp_check_augment},
    {"init", "host initializers (init.c)",
     "bit for bit: he_uniform's and he_normal's first weights against bits frozen in "
     "host/reference_golden.c (integer Philox, exact libm functions only)",
     lp_check_init},
    {"golden-run", "every kernel of a short dense training run",
     "bit for bit, always run in portable-bits mode: each epoch's loss and the weights' hash "
     "against golden values shipped with laperm (host/reference_golden.c)",
     lp_check_golden},
};
#define N_CHECKS_ ((int)(sizeof checks_ / sizeof *checks_))

const char *lp_check_state_name(lp_check_state s) {
    switch (s) {
    case LP_CHECK_PASS:
        return "pass";
    case LP_CHECK_FAIL:
        return "FAIL";
    case LP_CHECK_ERROR:
        return "error";
    case LP_CHECK_SKIP:
        return "skip";
    }
    return "?";
}

int lp_check_count(void) {
    return N_CHECKS_;
}

const lp_check_result *lp_check_describe(int i) {
    static lp_check_result rows[N_CHECKS_];
    if (i < 0 || i >= N_CHECKS_) return NULL;
    rows[i] = (lp_check_result){
        .name = checks_[i].name, .kernel = checks_[i].kernel, .tolerance = checks_[i].tolerance};
    return &rows[i];
}

lp_status lp_check_run(lp_runtime *rt, const lp_check_options *opt, lp_check_report *out) {
    memset(out, 0, sizeof *out);
    lp_check_options none = {0};
    if (!opt) opt = &none;
    out->quick = opt->quick;
    out->bits = lp_bits_name(lp_runtime_bits(rt));
    /* what training does without --fast: products chosen by rule, not by timing every
     * candidate (which would compile them all: a minute on a CPU) */
    lp_gemm_set_exact(rt, true);
    LP_TRY(lp_check_device_facts(rt, &out->device));
    out->rows = calloc(N_CHECKS_, sizeof *out->rows);
    if (!out->rows) return lp_fail(LP_ERR_NO_MEMORY, "lp_check_run: %d rows", N_CHECKS_);
    double t0 = lp_seconds();
    for (int i = 0; i < N_CHECKS_; ++i) {
        const check_def_ *d = &checks_[i];
        if (opt->only && !strstr(d->name, opt->only)) continue;
        lp_check_result *r = &out->rows[out->n++];
        *r = (lp_check_result){.name = d->name, .kernel = d->kernel, .tolerance = d->tolerance};
        lp_check_ctx c = {.rt = rt, .quick = opt->quick, .r = r};
        double t = lp_seconds();
        lp_clear_error();
        lp_status s = d->run(&c);
        if (s == LP_OK) s = lp_runtime_finish(rt);
        r->seconds = lp_seconds() - t;
        if (s != LP_OK) {
            r->state = LP_CHECK_ERROR;
            snprintf(r->note, sizeof r->note, "%s", lp_last_error());
        }
        out->passed += r->state == LP_CHECK_PASS;
        out->failed += r->state == LP_CHECK_FAIL;
        out->errors += r->state == LP_CHECK_ERROR;
        out->skipped += r->state == LP_CHECK_SKIP;
        if (opt->progress) opt->progress(opt->progress_ctx, r);
    }
    out->seconds = lp_seconds() - t0;
    return LP_OK;
}

void lp_check_report_free(lp_check_report *r) {
    free(r->rows);
    memset(r, 0, sizeof *r);
}
