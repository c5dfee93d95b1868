/* The optimizers around the inner one, through the laperm program on real MNIST:
 * Lookahead with alpha 1 is the inner optimizer bit for bit (alone and under LaPerm);
 * LaPerm over Lookahead still leaves a permutation of the initial weights after a sync,
 * while the slow weights are not one; --weight-decay 0 changes no bit; --k-steps parses
 * as documented and syncs at the steps it says. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/laperm_sync.h"
#include "laperm/results.h"
#include "laperm/schedule.h"
#include "lp_test.h"

/* 20 steps an epoch. */
#define SMALL_                                                                                     \
    "--model models/lenet300.ini --train-subset 1280 --test-subset 300 --batch 64 "                \
    "--progress none"

/* laperm train SMALL_ ARGS --out OUT; false (after a failure) when it did not finish. */
static bool train_(const char *args, const char *out) {
    char all[4608], *o = NULL;
    snprintf(all, sizeof all, SMALL_ " %s --out '%s'", args, out);
    int rc = lp_test_train("", all, &o);
    if (rc) printf("\n  laperm train %s\n  exit %d:\n%s\n", all, rc, o ? o : "");
    free(o);
    CU_ASSERT_EQUAL(rc, 0);
    return rc == 0;
}

/* Two runs that must give the same bits (same = true) or must not. */
static void expect_same_(const char *args_a, const char *args_b, bool same, const char *name) {
    char a[64], b[64];
    snprintf(a, sizeof a, "%s-a.h5", name);
    snprintf(b, sizeof b, "%s-b.h5", name);
    const char *pa = lp_test_tmp(a), *pb = lp_test_tmp(b);
    if (!train_(args_a, pa) || !train_(args_b, pb)) return;
    int rc = lp_test_compare_results(pa, pb, same);
    if ((rc == 0) != same)
        printf("\n  %s: '%s' and '%s' %s\n", name, args_a, args_b,
               same ? "differ" : "give the same bits");
    CU_ASSERT_EQUAL(rc == 0, same);
}

static void test_lookahead_alpha_one_is_the_inner_optimizer(void) {
    if (!lp_test_have_mnist()) return;
    expect_same_("--epochs 2 --optimizer adam",
                 "--epochs 2 --optimizer lookahead --inner adam --la-k 3 --la-alpha 1", true,
                 "la1-adam");
    expect_same_("--epochs 2 --optimizer sgd --lr 0.01",
                 "--epochs 2 --optimizer lookahead --inner sgd --lr 0.01 --la-k 4 --la-alpha 1",
                 true, "la1-sgd");
    expect_same_("--epochs 2 --k 7", "--epochs 2 --k 7 --lookahead --la-k 3 --la-alpha 1", true,
                 "la1-laperm");
    /* and the slow weights do move the run when alpha < 1 */
    expect_same_("--epochs 2 --optimizer adam", "--epochs 2 --optimizer lookahead --inner adam",
                 false, "la-half");
}

/* The concatenated /init tensors of lenet300, in the parameter buffer's order, with each
 * one's groups (LaPerm's per-unit groups; a bias is one group). */
typedef struct {
    const char *name;
    int groups, group_size;
} tensor_;
static const tensor_ lenet_[] = {
    {"dense_1/kernel", 300, 784}, {"dense_1/bias", 1, 300},    {"dense_2/kernel", 100, 300},
    {"dense_2/bias", 1, 100},     {"dense_3/kernel", 10, 100}, {"dense_3/bias", 1, 10},
};

/* Groups of `w` (the parameter buffer) whose values are not a permutation of the initial
 * values in `h5`'s /init. */
static size_t groups_not_permuted_(const char *h5, const float *w, size_t n) {
    size_t off = 0, bad = 0;
    for (size_t t = 0; t < sizeof lenet_ / sizeof *lenet_; ++t) {
        char name[64];
        snprintf(name, sizeof name, "/init/%s", lenet_[t].name);
        float *init = NULL;
        int rank;
        size_t d[4];
        LP_TEST_OK(lp_results_read_float(h5, name, &init, &rank, d));
        size_t count = (size_t)lenet_[t].groups * lenet_[t].group_size;
        CU_ASSERT_FATAL(init && d[0] * d[1] * d[2] * d[3] == count && off + count <= n);
        float *a = malloc(count * sizeof *a), *b = malloc(count * sizeof *b);
        CU_ASSERT_FATAL(a && b);
        lp_sort_groups_host(init, lenet_[t].groups, lenet_[t].group_size, a);
        lp_sort_groups_host(w + off, lenet_[t].groups, lenet_[t].group_size, b);
        for (int g = 0; g < lenet_[t].groups; ++g) {
            size_t at = (size_t)g * lenet_[t].group_size;
            if (memcmp(a + at, b + at, (size_t)lenet_[t].group_size * sizeof *a)) bad++;
        }
        off += count;
        free(init);
        free(a);
        free(b);
    }
    CU_ASSERT_EQUAL(off, n);
    return bad;
}

/* LaPerm over Lookahead, stopped at step 30: a sync (k 10) right after a slow-weight step
 * (la-k 5). The weights the run trains (its last checkpoint) are then a permutation of
 * the initial ones in every group, biases included; the slow weights, never synced, are
 * not. Stopped at step 33 (no sync since 30, three inner steps), the weights are not. */
static void test_laperm_over_lookahead_keeps_the_invariant(void) {
    if (!lp_test_have_mnist()) return;
    const char *flags = "--epochs 2 --k 10 --lookahead --la-k 5 --perm-bias";
    for (int at_sync = 1; at_sync >= 0; --at_sync) {
        char args[512];
        const char *h5 = lp_test_tmp(at_sync ? "la-invariant.h5" : "la-between.h5");
        snprintf(args, sizeof args, "%s --max-steps %d", flags, at_sync ? 30 : 33);
        if (!train_(args, h5)) return;
        lp_results_checkpoint c;
        LP_TEST_OK(lp_results_read_checkpoint(h5, &c));
        CU_ASSERT_EQUAL_FATAL(c.step, at_sync ? 30 : 33);
        /* Adam's two moment buffers, then the slow weights */
        CU_ASSERT_EQUAL_FATAL(c.size.optimizer_buffers, 3);
        size_t n = c.size.params;
        size_t bad_w = groups_not_permuted_(h5, c.params, n);
        size_t bad_slow = groups_not_permuted_(h5, c.optimizer + 2 * n, n);
        if (at_sync) {
            if (bad_w) printf("\n  %zu groups not a permutation right after a sync\n", bad_w);
            CU_ASSERT_EQUAL(bad_w, 0);
        } else {
            CU_ASSERT(bad_w > 0);
        }
        CU_ASSERT(bad_slow > 0);
        lp_results_checkpoint_free(&c);
        /* and the file's snapshots rebuild its weights */
        char cmd[4608], *out = NULL;
        snprintf(cmd, sizeof cmd, "cd '%s' && scripts/check-invariant '%s'",
                 lp_test_source_path(""), h5);
        CU_ASSERT_EQUAL(lp_test_run_command(cmd, &out), 0);
        free(out);
    }
}

static void test_weight_decay(void) {
    if (!lp_test_have_mnist()) return;
    /* off: no flag and --weight-decay 0 are the same run */
    expect_same_("--epochs 2", "--epochs 2 --weight-decay 0", true, "wd0-laperm");
    expect_same_("--epochs 2 --optimizer sgd", "--epochs 2 --optimizer sgd --weight-decay 0", true,
                 "wd0-sgd");
    /* on, with Adam (AdamW) and SGD (SGDW) */
    expect_same_("--epochs 2 --optimizer adam", "--epochs 2 --optimizer adam --weight-decay 0.5",
                 false, "wd-adam");
    expect_same_("--epochs 2 --optimizer sgd", "--epochs 2 --optimizer sgd --weight-decay 0.5",
                 false, "wd-sgd");
    double wd = -1;
    LP_TEST_OK(lp_results_read_attr_double(lp_test_tmp("wd-sgd-b.h5"), "/", "weight_decay", &wd));
    CU_ASSERT_EQUAL(wd, 0.5);
    /* One plain SGD step (lr 0.1), with decay 0.5 and without, of a model with BatchNorm
     * (gamma starts at 1, so a decay would show): the gradients are the same (taken before
     * the decay), so a kernel with decay is init * 0.95 + (the step without decay), and
     * every other tensor has the same bits either way. */
    const char *one = "--model models/fmnist-bn.ini --epochs 1 --max-steps 1 --optimizer sgd "
                      "--momentum 0 --lr 0.1";
    char args[256];
    snprintf(args, sizeof args, "%s --weight-decay 0.5", one);
    if (!train_(one, lp_test_tmp("wd-step-a.h5")) || !train_(args, lp_test_tmp("wd-step-b.h5")))
        return;
    static const char *const tensors[] = {"conv2d_1/kernel",  "conv2d_1/bias",  "batchnorm_1/gamma",
                                          "batchnorm_1/beta", "dense_2/kernel", "dense_2/bias",
                                          "batchnorm_3/gamma"};
    for (size_t t = 0; t < sizeof tensors / sizeof *tensors; ++t) {
        bool kernel = strstr(tensors[t], "kernel") != NULL;
        float *w[3] = {NULL, NULL, NULL};
        int rank;
        size_t d[3][4];
        const char *from[3] = {"/init", "/weights", "/weights"};
        const char *file[3] = {lp_test_tmp("wd-step-a.h5"), lp_test_tmp("wd-step-a.h5"),
                               lp_test_tmp("wd-step-b.h5")};
        char name[64];
        for (int i = 0; i < 3; ++i) {
            snprintf(name, sizeof name, "%s/%s", from[i], tensors[t]);
            LP_TEST_OK(lp_results_read_float(file[i], name, &w[i], &rank, d[i]));
        }
        size_t n = d[0][0] * d[0][1] * d[0][2] * d[0][3], bad = 0, moved = 0;
        for (size_t j = 0; j < n; ++j) {
            float init = w[0][j], plain = w[1][j], decayed = w[2][j];
            moved += init != 0.0f;
            if (kernel)
                bad += !(fabsf(decayed - (init * 0.95f + (plain - init))) <= 1e-6f);
            else
                bad += memcmp(&plain, &decayed, sizeof plain) != 0;
        }
        if (bad) printf("\n  %s: %zu of %zu values off\n", tensors[t], bad, n);
        CU_ASSERT_EQUAL(bad, 0);
        if (strstr(tensors[t], "gamma")) CU_ASSERT_EQUAL(moved, n); /* a decay would show */
        for (int i = 0; i < 3; ++i)
            free(w[i]);
    }
}

static void test_k_steps(void) {
    lp_k_schedule s = {0};
    LP_TEST_OK(lp_k_parse_steps("0:20,10:100,20:400", &s));
    CU_ASSERT_EQUAL(s.n, 3);
    const int epochs[] = {0, 9, 10, 19, 20, 1000}, want[] = {20, 20, 100, 100, 400, 400};
    for (int i = 0; i < 6; ++i)
        CU_ASSERT_EQUAL(lp_k_at(&s, 250, epochs[i]), want[i]);
    char text[64];
    lp_k_steps_text(&s, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text, "0:20,10:100,20:400");
    LP_TEST_OK(lp_k_parse_steps("5:7", &s));
    CU_ASSERT_EQUAL(lp_k_at(&s, 250, 4), 250); /* --k before the first entry */
    CU_ASSERT_EQUAL(lp_k_at(&s, 250, 5), 7);
    lp_k_schedule none = {0};
    CU_ASSERT_EQUAL(lp_k_at(&none, 250, 3), 250);
    lp_k_steps_text(&none, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text, "");
    static const char *const bad[] = {"",
                                      "5",
                                      "5:",
                                      ":5",
                                      "1:2:3",
                                      "0:0",
                                      "0:-1",
                                      "-1:5",
                                      "0:5,0:6",
                                      "3:5,2:6",
                                      "0:5,",
                                      "0:5,,1:6",
                                      " 0:5",
                                      "0: 5",
                                      "0:+5",
                                      "0:1.5",
                                      "0:1e3",
                                      "0:99999999999",
                                      "99999999999:1",
                                      "1000001:5",
                                      "0:1000000001"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; ++i) {
        CU_ASSERT_EQUAL(lp_k_parse_steps(bad[i], &s), LP_ERR_INVALID_ARG);
        if (!strstr(lp_last_error(), "--k-steps"))
            printf("\n  '%s': the error does not name --k-steps: %s\n", bad[i], lp_last_error());
        CU_ASSERT(strstr(lp_last_error(), "--k-steps") != NULL);
        lp_clear_error();
    }
    char many[256] = "";
    for (int i = 0; i <= LP_MAX_K_STEPS; ++i)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s%d:5", i ? "," : "", i);
    CU_ASSERT_EQUAL(lp_k_parse_steps(many, &s), LP_ERR_INVALID_ARG);
    lp_clear_error();
    LP_TEST_OK(lp_k_parse_steps("0:1000000000,1000000:1", &s));

    if (!lp_test_have_mnist()) return;
    /* 20 steps an epoch; k 3 in epoch 0 (steps 3..18: 6 syncs), 4 in epoch 1 (24..40: 5),
     * 10 in epoch 2 (50, 60: 2). */
    const char *h5 = lp_test_tmp("k-steps.h5");
    if (!train_("--epochs 3 --k 3 --k-steps 1:4,2:10", h5)) return;
    int64_t *syncs = NULL;
    int rank;
    size_t d[4];
    LP_TEST_OK(lp_results_read_int64(h5, "/metrics/syncs", &syncs, &rank, d));
    CU_ASSERT_FATAL(syncs && d[0] == 3);
    CU_ASSERT(syncs[0] == 6 && syncs[1] == 11 && syncs[2] == 13);
    if (!(syncs[0] == 6 && syncs[1] == 11 && syncs[2] == 13))
        printf("\n  syncs by epoch %lld %lld %lld, expected 6 11 13\n", (long long)syncs[0],
               (long long)syncs[1], (long long)syncs[2]);
    free(syncs);
    char *attr = NULL;
    LP_TEST_OK(lp_results_read_string(h5, "/", "k_steps", &attr));
    CU_ASSERT(attr && !strcmp(attr, "1:4,2:10"));
    free(attr);
    long long k = 0;
    LP_TEST_OK(lp_results_read_attr_int(h5, "/", "k", &k));
    CU_ASSERT_EQUAL(k, 3);
    /* one entry from epoch 0 is --k itself */
    expect_same_("--epochs 2 --k 6", "--epochs 2 --k 250 --k-steps 0:6", true, "k-steps-same");
}

static void register_suites(void) {
    CU_pSuite s = CU_add_suite("optimizers around the inner one", NULL, NULL);
    CU_add_test(s, "Lookahead at alpha 1 is the inner optimizer bit for bit",
                test_lookahead_alpha_one_is_the_inner_optimizer);
    CU_add_test(s, "LaPerm over Lookahead: a permutation after each sync",
                test_laperm_over_lookahead_keeps_the_invariant);
    CU_add_test(s, "weight decay: 0 changes nothing, on changes Adam and SGD", test_weight_decay);
    CU_add_test(s, "--k-steps: parsing, k by epoch, the syncs it makes", test_k_steps);
}

int main(void) {
    return lp_test_main("test_optim", register_suites);
}
