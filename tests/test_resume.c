/* Results you can trust, through the laperm program on real MNIST: the same bits from
 * two runs with empty caches; runs killed with SIGKILL at random moments, or stopped
 * with SIGINT, resumed to files bit-identical to the uninterrupted run's (BatchNorm
 * included); resumes that do not match the run refused; the divergence guard. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "laperm/results.h"
#include "lp_test.h"

#define SMALL_                                                                                     \
    "--model models/lenet300.ini --epochs 3 --train-subset 3000 --test-subset 500 "                \
    "--checkpoint-every 7 --progress none"

/* scripts/compare-results A B: 0 when identical (the differences printed). */
static int compare_(const char *a, const char *b) {
    return lp_test_compare_results(a, b, true);
}

/* conv7 (convolutions by rule) with the default flags, two empty cache folders. */
static void test_same_bits_empty_caches(void) {
    if (!lp_test_have_mnist()) return;
    char args[2048], env[4200];
    for (int i = 0; i < 2; ++i) {
        snprintf(env, sizeof env, "LAPERM_CACHE_DIR='%s'", lp_test_tmp(i ? "cache-b" : "cache-a"));
        snprintf(args, sizeof args,
                 "--model models/conv7.ini --max-steps 12 --batch 32 --test-subset 200 "
                 "--progress none --out '%s'",
                 lp_test_tmp(i ? "same-b.h5" : "same-a.h5"));
        CU_ASSERT_EQUAL_FATAL(lp_test_train(env, args, NULL), 0);
    }
    CU_ASSERT_EQUAL(compare_(lp_test_tmp("same-a.h5"), lp_test_tmp("same-b.h5")), 0);
}

/* scripts/kill-resume: SIGKILL at random moments, each resumed, each compared. */
static void kill_resume_(const char *train_args, int kills) {
    char cmd[8192];
    const char *bin = getenv("LAPERM_BINARY");
    snprintf(cmd, sizeof cmd,
             "cd '%s' && scripts/kill-resume --kills %d --seed %ld --laperm '%s' --dir '%s' -- %s "
             "--data '%s'",
             lp_test_source_path(""), kills, (long)time(NULL) % 30000, bin ? bin : "laperm",
             lp_test_tmp("kills"), train_args, lp_test_mnist_dir());
    char *out = NULL;
    int rc = lp_test_run_command(cmd, &out);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc) printf("\n%s\n", out ? out : "");
    free(out);
}

static void test_kill_resume_lenet(void) {
    if (lp_test_have_mnist()) kill_resume_(SMALL_, 3);
}

/* The /evals series, the best evaluation and its network (/best) resume exactly too:
 * evaluations between syncs (7 is not a multiple of k = 10) and right after them. */
static void test_kill_resume_evals(void) {
    if (lp_test_have_mnist()) kill_resume_(SMALL_ " --k 10 --eval-every 7 --save-best", 3);
}

/* BatchNorm's running statistics and SGD's velocities go through the checkpoint too. */
static void test_kill_resume_batchnorm(void) {
    if (lp_test_have_mnist())
        kill_resume_("--model models/fmnist-bn.ini --epochs 2 --train-subset 1200 "
                     "--test-subset 300 --batch 64 --inner sgd --lr 0.01 --checkpoint-every 5",
                     2);
}

/* Lookahead's slow weights go through the checkpoint (saved at steps 7, 14, ... while
 * the slow-weight steps come at 3, 6, ...), under LaPerm with a k schedule and with
 * weight decay on. */
static void test_kill_resume_lookahead(void) {
    if (lp_test_have_mnist())
        kill_resume_(SMALL_ " --lookahead --la-k 3 --la-alpha 0.6 --weight-decay 0.001 --k 10 "
                            "--k-steps 1:5,2:11",
                     3);
}

/* SIGINT: an interrupted (renamed) file; --resume alone continues it to the same bits. */
static void test_sigint_then_resume(void) {
    if (!lp_test_have_mnist()) return;
    char args[8192];
    snprintf(args, sizeof args, SMALL_ " --out '%s'", lp_test_tmp("int-ref.h5"));
    CU_ASSERT_EQUAL_FATAL(lp_test_train("", args, NULL), 0);
    const char *bin = getenv("LAPERM_BINARY");
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && ('%s' train " SMALL_ " --data '%s' --out '%s' >/dev/null 2>&1 & pid=$!; "
             "sleep 1.2; kill -INT $pid; wait $pid; echo rc=$?)",
             lp_test_source_path(""), bin ? bin : "laperm", lp_test_mnist_dir(),
             lp_test_tmp("int.h5"));
    char *out = NULL;
    CU_ASSERT_EQUAL(lp_test_run_command(cmd, &out), 0);
    bool interrupted = out && strstr(out, "rc=130");
    free(out);
    if (!interrupted) return; /* the run finished before the signal: nothing to resume */
    char *status = NULL;
    CU_ASSERT(lp_results_read_string(lp_test_tmp("int.h5"), "/", "status", &status) == LP_OK &&
              !strcmp(status, "interrupted"));
    free(status);
    snprintf(args, sizeof args, "--resume '%s'", lp_test_tmp("int.h5"));
    CU_ASSERT_EQUAL(lp_test_train("", args, NULL), 0);
    CU_ASSERT_EQUAL(compare_(lp_test_tmp("int-ref.h5"), lp_test_tmp("int.h5")), 0);
    /* Finished now: nothing left to resume. */
    CU_ASSERT_EQUAL(lp_test_train("", args, &out), 0);
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "nothing to resume"));
    free(out);
}

/* A resume whose flags or model differ from the run's is refused, naming what. */
static void test_resume_refuses_other_runs(void) {
    if (!lp_test_have_mnist()) return;
    char args[8192];
    snprintf(args, sizeof args, SMALL_ " --max-steps 20 --out '%s'", lp_test_tmp("refuse.h5"));
    CU_ASSERT_EQUAL_FATAL(lp_test_train("", args, NULL), 0);
    /* Make it resumable again: SIGINT leaves status interrupted; here rename it back. */
    char part[4200];
    snprintf(part, sizeof part, "%s.part", lp_test_tmp("refuse.h5"));
    CU_ASSERT_EQUAL_FATAL(rename(lp_test_tmp("refuse.h5"), part), 0);
    char *out = NULL;
    snprintf(args, sizeof args, SMALL_ " --max-steps 20 --lr 0.002 --resume '%s'", part);
    CU_ASSERT_NOT_EQUAL(lp_test_train("", args, &out), 0);
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "'lr'"));
    if (!(out && strstr(out, "'lr'"))) printf("\n  said: %s\n", out ? out : "");
    free(out);
    snprintf(args, sizeof args, SMALL_ " --max-steps 20 --lookahead --resume '%s'", part);
    CU_ASSERT_NOT_EQUAL(lp_test_train("", args, &out), 0);
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "'lookahead_k'"));
    if (!(out && strstr(out, "'lookahead_k'"))) printf("\n  said: %s\n", out ? out : "");
    free(out);
    snprintf(args, sizeof args,
             "--model models/logreg.ini --epochs 3 --train-subset 3000 --test-subset 500 "
             "--checkpoint-every 7 --progress none --max-steps 20 --resume '%s'",
             part);
    CU_ASSERT_NOT_EQUAL(lp_test_train("", args, &out), 0);
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "model"));
    free(out);
    struct stat st;
    CU_ASSERT_EQUAL(stat(part, &st), 0); /* refused resumes leave the file alone */
}

/* What a results file written before issue 11 lacks, removed with h5py: the checkpoint
 * headers' values from the /evals count on (14 left), the attributes of the settings
 * added since, best_test_loss and best_step, and the MAE columns. max_steps goes too, so
 * that the stopped run below may go on without it. */
static const char *const downgrade_py_ =
    "import sys, h5py, numpy as np\n"
    "f = h5py.File(sys.argv[1], 'r+')\n"
    "for n in ['init', 'init_value', 'init_values', 'quantize', 'keep', 'keep_first',\n"
    "          'init_from', 'init_from_hash', 'init_from_shuffle', 'k_steps', 'lookahead_k',\n"
    "          'lookahead_alpha', 'weight_decay', 'eval_every', 'save_best', 'best_test_loss',\n"
    "          'best_step', 'max_steps']:\n"
    "    del f.attrs[n]\n"
    "for k in ('0', '1'):\n"
    "    h = f['checkpoint/%s/header' % k][:14]\n"
    "    del f['checkpoint/%s/header' % k]\n"
    "    f.create_dataset('checkpoint/%s/header' % k, data=h.astype(np.int64))\n"
    "for n in ('train_mae', 'test_mae', 'test_mae_unsynced'):\n"
    "    del f['metrics/' + n]\n"
    "print('downgraded')\n";

/* A file from an earlier laperm resumes to the same bits, its best epoch end taken from
 * /metrics (at lr 0.05 the best is epoch 1, before the checkpoint at step 60). */
static void test_resume_older_file(void) {
    if (!lp_test_have_mnist()) return;
    if (lp_test_run_command("/usr/bin/python3 -c 'import h5py, numpy' 2>&1", NULL) != 0) {
        printf("\n  (no /usr/bin/python3 with h5py: skipped)\n");
        return;
    }
    char args[8192], part[4200], script[4200], cmd[9000], *out = NULL;
    snprintf(args, sizeof args, SMALL_ " --lr 0.05 --out '%s'", lp_test_tmp("older-ref.h5"));
    CU_ASSERT_EQUAL_FATAL(lp_test_train("", args, NULL), 0);
    snprintf(args, sizeof args, SMALL_ " --lr 0.05 --max-steps 60 --out '%s'",
             lp_test_tmp("older.h5"));
    CU_ASSERT_EQUAL_FATAL(lp_test_train("", args, NULL), 0);
    snprintf(part, sizeof part, "%s.part", lp_test_tmp("older.h5"));
    CU_ASSERT_EQUAL_FATAL(rename(lp_test_tmp("older.h5"), part), 0);
    snprintf(script, sizeof script, "%s", lp_test_tmp("downgrade.py"));
    FILE *f = fopen(script, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(downgrade_py_, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' 2>&1", script, part);
    CU_ASSERT_EQUAL_FATAL(lp_test_run_command(cmd, NULL), 0);
    snprintf(args, sizeof args, SMALL_ " --lr 0.05 --resume '%s'", part);
    int rc = lp_test_train("", args, &out);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc) printf("\n  said: %s\n", out ? out : "");
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "resuming from"));
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "(step 24, epoch 1)"));
    free(out);
    CU_ASSERT_EQUAL(compare_(lp_test_tmp("older-ref.h5"), lp_test_tmp("older.h5")), 0);
}

/* SGD at lr 1e6: exit 3, status diverged, the last good state as /weights. */
static void test_divergence_guard(void) {
    if (!lp_test_have_mnist()) return;
    char args[8192], *out = NULL;
    snprintf(args, sizeof args,
             "--model models/lenet300.ini --epochs 2 --train-subset 1000 --test-subset 200 "
             "--optimizer sgd --lr 1e6 --progress none --out '%s'",
             lp_test_tmp("diverged.h5"));
    int rc = lp_test_train("", args, &out);
    CU_ASSERT_EQUAL(rc, 3);
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "diverged: a non-finite value at step"));
    free(out);
    char *status = NULL;
    CU_ASSERT(lp_results_read_string(lp_test_tmp("diverged.h5"), "/", "status", &status) == LP_OK &&
              !strcmp(status, "diverged"));
    free(status);
    float *w = NULL;
    int rank;
    size_t d[4];
    CU_ASSERT_EQUAL_FATAL(
        lp_results_read_float(lp_test_tmp("diverged.h5"), "/weights/dense_1/kernel", &w, &rank, d),
        LP_OK);
    bool finite = true;
    for (size_t i = 0; i < d[0] * d[1]; ++i)
        finite = finite && w[i] == w[i] && w[i] - w[i] == 0.0f;
    CU_ASSERT_TRUE(finite);
    free(w);
}

static void register_suites(void) {
    CU_pSuite s = CU_add_suite("resume and reproducibility", NULL, NULL);
    CU_add_test(s, "same bits from two empty caches (conv7, defaults)",
                test_same_bits_empty_caches);
    CU_add_test(s, "SIGKILL at random moments, resumed: bit-identical", test_kill_resume_lenet);
    CU_add_test(s, "the same with BatchNorm and SGD", test_kill_resume_batchnorm);
    CU_add_test(s, "the same with --eval-every and --save-best", test_kill_resume_evals);
    CU_add_test(s, "the same with LaPerm over Lookahead, weight decay and a k schedule",
                test_kill_resume_lookahead);
    CU_add_test(s, "SIGINT, then --resume alone: bit-identical", test_sigint_then_resume);
    CU_add_test(s, "resumes of another run refused", test_resume_refuses_other_runs);
    CU_add_test(s, "a file from before issue 11 resumed: bit-identical", test_resume_older_file);
    CU_add_test(s, "divergence guard", test_divergence_guard);
}

int main(void) {
    return lp_test_main("test_resume", register_suites);
}
