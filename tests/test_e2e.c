/* End to end through the laperm program on real MNIST: a few hundred LaPerm steps reach
 * a stated accuracy, the results file reconstructs its weights from the rankings (read
 * back through the HDF5 C API), and Ctrl-C still leaves a complete file. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "laperm/laperm_sync.h"
#include "laperm/results.h"
#include "lp_test.h"

/* 79 steps per epoch on 10,000 images, 3 epochs: 237 steps, 4 syncs at k = 50. */
#define E2E_ARGS                                                                                   \
    "train --model models/lenet300.ini --train-subset 10000 --test-subset 2000 --epochs 3 "        \
    "--k 50 --batch 128 --lr 1e-3 --lr-decay 0.95 --seed 7 --progress plain"
/* Measured 89.85% on PoCL (seed 7); a broken gradient, optimizer or sync lands far
 * below. The margin covers other devices' different summation orders. */
#define E2E_MIN_ACCURACY 0.87

static char *run_laperm_(const char *args, int *status) {
    char cmd[8192];
    const char *bin = getenv("LAPERM_BINARY");
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s --data '%s'", lp_test_source_path(""),
             bin ? bin : "laperm", args, lp_test_mnist_dir());
    char *out = NULL;
    *status = lp_test_run_command(cmd, &out);
    return out;
}

/* weights[g, j] == sort(init[g])[rank[g, j]] bit for bit, for the last snapshot. */
static void check_reconstruction_(const char *h5, const char *layer, size_t min_snapshots) {
    char name[256];
    float *init = NULL, *w = NULL;
    int32_t *rank = NULL;
    int r1, r2, r3;
    size_t d1[4], d2[4], d3[4];
    snprintf(name, sizeof name, "/init/%s/kernel", layer);
    CU_ASSERT_FATAL(lp_results_read_float(h5, name, &init, &r1, d1) == LP_OK);
    snprintf(name, sizeof name, "/weights/%s/kernel", layer);
    CU_ASSERT_FATAL(lp_results_read_float(h5, name, &w, &r2, d2) == LP_OK);
    snprintf(name, sizeof name, "/rankings/%s/kernel", layer);
    CU_ASSERT_FATAL(lp_results_read_int32(h5, name, &rank, &r3, d3) == LP_OK);
    CU_ASSERT_EQUAL_FATAL(r3, 3);
    int groups = (int)d1[0], gs = (int)d1[1];
    CU_ASSERT_EQUAL(d3[1], (size_t)groups);
    CU_ASSERT_EQUAL(d3[2], (size_t)gs);
    CU_ASSERT(d3[0] >= min_snapshots);           /* one snapshot per epoch */
    lp_sort_groups_host(init, groups, gs, init); /* init becomes theta_sorted */
    const int32_t *last = rank + (d3[0] - 1) * (size_t)groups * gs;
    size_t bad = 0;
    for (int g = 0; g < groups; ++g)
        for (int j = 0; j < gs; ++j) {
            int32_t r = last[(size_t)g * gs + j];
            if (r < 0 || r >= gs ||
                memcmp(&w[(size_t)g * gs + j], &init[(size_t)g * gs + r], sizeof(float)) != 0)
                bad++;
        }
    if (bad) printf("\n  %s: %zu weights not reconstructed by their rankings\n", layer, bad);
    CU_ASSERT_EQUAL(bad, 0);
    free(init);
    free(w);
    free(rank);
}

static void test_train_reaches_accuracy(void) {
    if (!lp_test_have_mnist()) {
        printf("\n  MNIST not found in %s (run scripts/fetch-mnist): FAILING\n",
               lp_test_mnist_dir());
        CU_FAIL("no MNIST data");
        return;
    }
    char h5[1024], args[2048];
    snprintf(h5, sizeof h5, "%s/e2e.h5", lp_test_tmpdir());
    snprintf(args, sizeof args, "%s --out '%s'", E2E_ARGS, h5);
    int st;
    char *out = run_laperm_(args, &st);
    printf("\n%s", out ? out : "");
    CU_ASSERT_EQUAL_FATAL(st, 0);
    const char *best = out ? strstr(out, "best test accuracy ") : NULL;
    CU_ASSERT_FATAL(best != NULL);
    double acc = atof(best + strlen("best test accuracy ")) / 100.0;
    printf("  best accuracy %.4f (required >= %.2f)\n", acc, E2E_MIN_ACCURACY);
    CU_ASSERT(acc >= E2E_MIN_ACCURACY);
    free(out);

    /* The file: complete, with every epoch and rankings that rebuild the weights. */
    double file_acc = 0;
    double *accs = NULL;
    int rank;
    size_t dims[4];
    CU_ASSERT_FATAL(lp_results_read_double(h5, "/metrics/test_accuracy", &accs, &rank, dims) ==
                    LP_OK);
    CU_ASSERT_EQUAL(dims[0], 3);
    for (size_t i = 0; i < dims[0]; ++i)
        if (accs[i] > file_acc) file_acc = accs[i];
    CU_ASSERT(file_acc >= E2E_MIN_ACCURACY);
    free(accs);
    char *status = NULL;
    CU_ASSERT(lp_results_read_string(h5, "/", "status", &status) == LP_OK && status &&
              !strcmp(status, "completed"));
    free(status);
    check_reconstruction_(h5, "dense_1", 3);
    check_reconstruction_(h5, "dense_2", 3);
    check_reconstruction_(h5, "dense_3", 3);

    /* The same check with h5py alone, when it is installed. */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c 'import h5py' && /usr/bin/python3 %s '%s'",
             lp_test_source_path("scripts/check-invariant"), h5);
    char *py = NULL;
    int pst = lp_test_run_command(cmd, &py);
    if (py && strstr(py, "No module named"))
        printf("  (h5py missing: python check skipped)\n");
    else
        CU_ASSERT_EQUAL(pst, 0);
    free(py);
}

/* An evaluation batch below the training batch: the network is sized for the larger,
 * evaluation runs in the smaller (Oclgrind once caught batches written past a buffer
 * sized for the evaluation batch alone). */
static void test_small_eval_batch(void) {
    if (!lp_test_have_mnist()) {
        CU_FAIL("no MNIST data");
        return;
    }
    int st = -1;
    char *out =
        run_laperm_("train --model models/logreg.ini --batch 8 --eval-batch 3 "
                    "--train-subset 64 --test-subset 10 --epochs 1 --no-out --progress plain",
                    &st);
    CU_ASSERT_EQUAL(st, 0);
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "test loss"));
    if (st != 0) printf("\n%s\n", out ? out : "(no output)");
    free(out);
}

static void test_interrupt_writes_complete_file(void) {
    if (!lp_test_have_mnist()) {
        CU_FAIL("no MNIST data");
        return;
    }
    char h5[1024], cmd[8192];
    snprintf(h5, sizeof h5, "%s/interrupted.h5", lp_test_tmpdir());
    const char *bin = getenv("LAPERM_BINARY");
    snprintf(cmd, sizeof cmd,
             "cd '%s' && exec '%s' train --model models/lenet300.ini --epochs 1000 --k 20 "
             "--train-subset 5000 --test-subset 500 --progress none --data '%s' --out '%s'",
             lp_test_source_path(""), bin ? bin : "laperm", lp_test_mnist_dir(), h5);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    /* Let it train for a while (two epochs on 5,000 images take about a second). */
    sleep(6);
    kill(pid, SIGINT);
    int st = 0;
    waitpid(pid, &st, 0);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 130);
    char *status = NULL;
    CU_ASSERT(lp_results_read_string(h5, "/", "status", &status) == LP_OK && status &&
              !strcmp(status, "interrupted"));
    free(status);
    check_reconstruction_(h5, "dense_1", 1);
}

static void register_suites(void) {
    CU_pSuite s = CU_add_suite("end to end", NULL, NULL);
    CU_add_test(s, "LaPerm on an MNIST subset reaches the stated accuracy",
                test_train_reaches_accuracy);
    CU_add_test(s, "evaluation batch smaller than the training batch", test_small_eval_batch);
    CU_add_test(s, "SIGINT stops cleanly with a complete results file",
                test_interrupt_writes_complete_file);
}

int main(void) {
    return lp_test_main("test_e2e", register_suites);
}
