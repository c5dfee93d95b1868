/* Evaluation every N steps (--eval-every), the best evaluation (best_* attributes) and its
 * network (--save-best), through the laperm program on real MNIST: evaluations land on
 * the right steps, LaPerm's right after a sync counts once, they leave training alone,
 * /best is the network at best_step, and without the flags the layout is unchanged.
 * (Resuming them exactly: tests/test_resume.c.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/results.h"
#include "lp_test.h"

/* 3000 images at batch 128: 24 steps an epoch, 48 in all. */
#define RUN_                                                                                       \
    "--model models/lenet300.ini --epochs 2 --train-subset 3000 --test-subset 500 --progress "     \
    "plain"

/* Trains RUN_ plus `flags` into tmp/<name>; returns the path (NULL on failure). */
static const char *run_(const char *name, const char *flags) {
    char args[4096], *out = NULL;
    const char *path = lp_test_tmp(name);
    snprintf(args, sizeof args, RUN_ " %s --out '%s'", flags, path);
    int rc = lp_test_train("", args, &out);
    if (rc) printf("\n  laperm train %s: exit %d\n%s\n", args, rc, out ? out : "");
    free(out);
    return rc ? NULL : path;
}

typedef struct {
    size_t n;
    int64_t *step;
    int32_t *epoch, *synced;
    double *acc, *acc_u, *loss, *loss_u;
} evals_;

static void evals_read_(const char *path, evals_ *e) {
    memset(e, 0, sizeof *e);
    int rank;
    size_t d[4];
    CU_ASSERT_EQUAL_FATAL(lp_results_read_int64(path, "/evals/step", &e->step, &rank, d), LP_OK);
    e->n = d[0];
    CU_ASSERT_EQUAL(lp_results_read_int32(path, "/evals/epoch", &e->epoch, &rank, d), LP_OK);
    CU_ASSERT_EQUAL(lp_results_read_int32(path, "/evals/synced", &e->synced, &rank, d), LP_OK);
    CU_ASSERT_EQUAL(lp_results_read_double(path, "/evals/test_accuracy", &e->acc, &rank, d), LP_OK);
    CU_ASSERT_EQUAL(
        lp_results_read_double(path, "/evals/test_accuracy_unsynced", &e->acc_u, &rank, d), LP_OK);
    CU_ASSERT_EQUAL(lp_results_read_double(path, "/evals/test_loss", &e->loss, &rank, d), LP_OK);
    CU_ASSERT_EQUAL(lp_results_read_double(path, "/evals/test_loss_unsynced", &e->loss_u, &rank, d),
                    LP_OK);
}

static void evals_free_(evals_ *e) {
    free(e->step), free(e->epoch), free(e->synced);
    free(e->acc), free(e->acc_u), free(e->loss), free(e->loss_u);
}

/* The evaluations of `flags` are at `steps` (n of them) with `synced`; a synced one's
 * permuted and unsynced results are one evaluation; one at an epoch end equals that
 * epoch's /metrics entry bit for bit. */
static void check_points_(const char *name, const char *flags, const long long *steps,
                          const int *synced, size_t n) {
    const char *path = run_(name, flags);
    CU_ASSERT_FATAL(path != NULL);
    evals_ e;
    evals_read_(path, &e);
    CU_ASSERT_EQUAL(e.n, n);
    int rank;
    size_t d[4];
    int64_t *mstep = NULL;
    double *macc = NULL, *macc_u = NULL;
    CU_ASSERT_EQUAL(lp_results_read_int64(path, "/metrics/step", &mstep, &rank, d), LP_OK);
    CU_ASSERT_EQUAL(lp_results_read_double(path, "/metrics/test_accuracy", &macc, &rank, d), LP_OK);
    CU_ASSERT_EQUAL(
        lp_results_read_double(path, "/metrics/test_accuracy_unsynced", &macc_u, &rank, d), LP_OK);
    for (size_t i = 0; i < e.n && i < n; ++i) {
        CU_ASSERT_EQUAL(e.step[i], steps[i]);
        CU_ASSERT_EQUAL(e.epoch[i], (int)((steps[i] - 1) / 24 + 1));
        CU_ASSERT_EQUAL(e.synced[i], synced[i]);
        if (synced[i]) CU_ASSERT(e.acc[i] == e.acc_u[i] && e.loss[i] == e.loss_u[i]);
        for (size_t m = 0; m < d[0]; ++m)
            if (mstep[m] == e.step[i]) CU_ASSERT(macc[m] == e.acc[i] && macc_u[m] == e.acc_u[i]);
    }
    free(mstep), free(macc), free(macc_u);
    evals_free_(&e);
}

static void test_points_laperm(void) {
    if (!lp_test_have_mnist()) return;
    /* 15 is not a multiple of k = 10: step 30 falls right after a sync, 15 and 45 not */
    const long long a[] = {15, 30, 45};
    const int a_synced[] = {0, 1, 0};
    check_points_("k10-e15.h5", "--k 10 --eval-every 15", a, a_synced, 3);
    /* a multiple of k: every one right after a sync; 24 and 48 are epoch ends */
    const long long b[] = {12, 24, 36, 48};
    const int b_synced[] = {1, 1, 1, 1};
    check_points_("k6-e12.h5", "--k 6 --eval-every 12", b, b_synced, 4);
}

static void test_points_plain(void) {
    if (!lp_test_have_mnist()) return;
    const long long a[] = {12, 24, 36, 48};
    const int a_synced[] = {0, 0, 0, 0};
    check_points_("adam-e12.h5", "--optimizer adam --eval-every 12", a, a_synced, 4);
    evals_ e;
    evals_read_(lp_test_tmp("adam-e12.h5"), &e);
    for (size_t i = 0; i < e.n; ++i)
        CU_ASSERT(e.acc[i] == e.acc_u[i] && e.loss[i] == e.loss_u[i]);
    evals_free_(&e);
}

static bool same_(const char *a, const char *b, const char *dataset) {
    float *x = NULL, *y = NULL;
    int rx, ry;
    size_t dx[4], dy[4];
    bool same = lp_results_read_float(a, dataset, &x, &rx, dx) == LP_OK &&
                lp_results_read_float(b, dataset, &y, &ry, dy) == LP_OK && rx == ry &&
                !memcmp(dx, dy, sizeof dx) && !memcmp(x, y, dx[0] * dx[1] * dx[2] * dx[3] * 4);
    if (!same) printf("\n  %s differs between %s and %s\n", dataset, a, b);
    free(x), free(y);
    return same;
}

/* Evaluating every 5 steps (between syncs, after them, at an epoch end's step) changes
 * nothing that training produces. */
static void test_training_undisturbed(void) {
    if (!lp_test_have_mnist()) return;
    const char *a = run_("plain.h5", "--k 10"), *b = run_("every5.h5", "--k 10 --eval-every 5");
    CU_ASSERT_FATAL(a && b);
    CU_ASSERT(same_(a, b, "/weights/dense_1/kernel"));
    CU_ASSERT(same_(a, b, "/weights/dense_3/bias"));
    CU_ASSERT(same_(a, b, "/values/dense_2/bias"));
    double *la = NULL, *lb = NULL;
    int rank;
    size_t da[4], db[4];
    CU_ASSERT(lp_results_read_double(a, "/metrics/train_loss", &la, &rank, da) == LP_OK &&
              lp_results_read_double(b, "/metrics/train_loss", &lb, &rank, db) == LP_OK &&
              da[0] == 2 && db[0] == 2 && !memcmp(la, lb, 2 * sizeof *la));
    free(la), free(lb);
}

/* Without the flags: no /evals, no /best, no best network in the checkpoints; the
 * attributes say so, and best_* is the best epoch end. */
static void test_off_layout(void) {
    if (!lp_test_have_mnist()) return;
    const char *path = lp_test_tmp("plain.h5"); /* from test_training_undisturbed */
    int rank;
    size_t d[4];
    int64_t *steps = NULL;
    float *f = NULL;
    CU_ASSERT_EQUAL(lp_results_read_int64(path, "/evals/step", &steps, &rank, d), LP_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(lp_results_read_float(path, "/best/dense_1/kernel", &f, &rank, d),
                    LP_ERR_NOT_FOUND);
    CU_ASSERT_EQUAL(lp_results_read_float(path, "/checkpoint/0/best_params", &f, &rank, d),
                    LP_ERR_NOT_FOUND);
    lp_clear_error();
    long long every = -1, save = -1, step = -1, epoch = -1;
    CU_ASSERT(lp_results_read_attr_int(path, "/", "eval_every", &every) == LP_OK && every == 0);
    CU_ASSERT(lp_results_read_attr_int(path, "/", "save_best", &save) == LP_OK && save == 0);
    CU_ASSERT_EQUAL(lp_results_read_attr_int(path, "/", "best_step", &step), LP_OK);
    CU_ASSERT_EQUAL(lp_results_read_attr_int(path, "/", "best_epoch", &epoch), LP_OK);
    double best = -1, *acc = NULL;
    CU_ASSERT_EQUAL(lp_results_read_attr_double(path, "/", "best_test_accuracy", &best), LP_OK);
    CU_ASSERT_EQUAL_FATAL(lp_results_read_double(path, "/metrics/test_accuracy", &acc, &rank, d),
                          LP_OK);
    int want = acc[1] > acc[0] ? 1 : 0; /* a tie keeps the earlier */
    CU_ASSERT(best == acc[want] && epoch == want + 1 && step == 24 * (want + 1));
    free(acc);
}

/* The best over epoch ends and eval points (ties: the earlier), and /best is the network
 * at best_step: the snapshot taken there, rebuilt from /init and /rankings, /values and
 * /state (BatchNorm's running statistics included), bit for bit. */
static const char *best_check_py_ =
    "import sys, h5py, numpy as np\n"
    "f = h5py.File(sys.argv[1], 'r')\n"
    "ev = [(int(s), int(e), a) for s, e, a in zip(f['evals/step'], f['evals/epoch'], "
    "f['evals/test_accuracy'])]\n"
    "ev += [(int(s), int(e), a) for s, e, a in zip(f['metrics/step'], f['metrics/epoch'], "
    "f['metrics/test_accuracy'])]\n"
    "ev.sort(key=lambda x: x[0])\n"
    "best = None\n"
    "for x in ev:\n"
    "    if best is None or x[2] > best[2]: best = x\n"
    "a, b = f.attrs, f['best'].attrs\n"
    "assert (a['best_step'], a['best_epoch'], a['best_test_accuracy']) == best, (dict(a), best)\n"
    "assert b['valid'] == 1 and (b['step'], b['epoch'], b['test_accuracy']) == best, dict(b)\n"
    "s = int(np.nonzero(f['snapshot_step'][...] == best[0])[0][-1])\n"
    "def rebuild(name):\n"
    "    rank = f['rankings/' + name][s]\n"
    "    bits = f['init/' + name][...].reshape(rank.shape).view(np.uint32)\n"
    "    key = np.where(bits >> 31 == 1, ~bits, bits | np.uint32(0x80000000))\n"
    "    srt = np.take_along_axis(bits, np.argsort(key, axis=1, kind='stable'), axis=1)\n"
    "    return np.take_along_axis(srt, rank.astype(np.int64), axis=1).view(np.float32)\n"
    "n = 0\n"
    "def check(name, obj):\n"
    "    global n\n"
    "    if not isinstance(obj, h5py.Dataset): return\n"
    "    want = rebuild(name) if 'rankings/' + name in f else (f['values/' + name][s] if "
    "'values/' + name in f else f['state/' + name][s])\n"
    "    assert np.array_equal(obj[...].view(np.uint32).ravel(), "
    "np.asarray(want).view(np.uint32).ravel()), name\n"
    "    n += 1\n"
    "f['best'].visititems(check)\n"
    "print('best OK: step %d epoch %d, %d tensors' % (best[0], best[1], n))\n";

static void check_best_(const char *path) {
    char script[4200], cmd[9000], *out = NULL;
    snprintf(script, sizeof script, "%s.py", path);
    FILE *f = fopen(script, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(best_check_py_, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s'", script, path);
    int rc = lp_test_run_command(cmd, &out);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "best OK"));
    printf("\n  %s", out ? out : "");
    free(out);
}

static void test_best_network(void) {
    if (!lp_test_have_mnist()) return;
    /* Every evaluation has a snapshot at its step. On PoCL the first run's best is step 45,
     * an evaluation between syncs in mid-epoch (epoch 6 is steps 41 to 48); the second has
     * BatchNorm (its running statistics in /best) and permuted biases. */
    static const char *const runs[2][2] = {
        {"best.h5", "--model models/lenet300.ini --train-subset 1000 --epochs 6 --lr 0.01 "
                    "--test-subset 500 --k 10"},
        {"best-bn.h5", "--model models/fmnist-bn.ini --epochs 2 --train-subset 640 "
                       "--test-subset 200 --batch 64 --k 4 --perm-bias"}};
    for (int i = 0; i < 2; ++i) {
        char args[4096], *out = NULL;
        snprintf(args, sizeof args,
                 "%s --eval-every 3 --snapshot-every 3 --save-best --progress none --out '%s'",
                 runs[i][1], lp_test_tmp(runs[i][0]));
        CU_ASSERT_EQUAL_FATAL(lp_test_train("", args, &out), 0);
        free(out);
        check_best_(lp_test_tmp(runs[i][0]));
    }
}

/* The plain-mode line per evaluation and the summary's best step. */
static void test_cli_lines(void) {
    if (!lp_test_have_mnist()) return;
    char args[4096], *out = NULL;
    snprintf(args, sizeof args, RUN_ " --k 10 --eval-every 15 --no-out");
    CU_ASSERT_EQUAL_FATAL(lp_test_train("", args, &out), 0);
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "eval  step     15  epoch 1  test loss "));
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "(synced)"));
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "best test accuracy ") && strstr(out, "(step "));
    free(out);
    CU_ASSERT_EQUAL(lp_test_train("", RUN_ " --eval-every -1 --no-out", &out), 2);
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "--eval-every"));
    free(out);
}

/* A resume with another --eval-every or --save-best is another run. */
static void test_resume_compares(void) {
    if (!lp_test_have_mnist()) return;
    const char *path = run_("cmp.h5", "--k 10 --eval-every 7 --max-steps 20");
    CU_ASSERT_FATAL(path != NULL);
    char part[4300], args[8192], *out = NULL;
    snprintf(part, sizeof part, "%s.part", path);
    CU_ASSERT_EQUAL_FATAL(rename(path, part), 0);
    const char *other[] = {"--eval-every 8", "--eval-every 7 --save-best"};
    const char *named[] = {"'eval_every'", "'save_best'"};
    for (int i = 0; i < 2; ++i) {
        snprintf(args, sizeof args, RUN_ " --k 10 --max-steps 20 %s --resume '%s'", other[i], part);
        CU_ASSERT_NOT_EQUAL(lp_test_train("", args, &out), 0);
        CU_ASSERT_PTR_NOT_NULL(out && strstr(out, named[i]));
        if (!(out && strstr(out, named[i]))) printf("\n  said: %s\n", out ? out : "");
        free(out);
    }
}

static void register_suites(void) {
    CU_pSuite s = CU_add_suite("evaluation cadence and best", NULL, NULL);
    CU_add_test(s, "LaPerm: the steps, synced or not, epoch ends", test_points_laperm);
    CU_add_test(s, "plain optimizer: the steps, one evaluation", test_points_plain);
    CU_add_test(s, "evaluations leave training alone", test_training_undisturbed);
    CU_add_test(s, "without the flags: the layout as before", test_off_layout);
    CU_add_test(s, "best_* and /best: the network at best_step", test_best_network);
    CU_add_test(s, "progress lines, summary, bad values", test_cli_lines);
    CU_add_test(s, "resume compares eval_every and save_best", test_resume_compares);
}

int main(void) {
    return lp_test_main("test_evals", register_suites);
}
