/* The bounded race of timed choices (host/tune-impl.h) on a fake clock: the drop rule
 * (over twice the fastest after one run), the budget (the run under way abandoned, nothing
 * more run, the abandoned pass never chosen while another finished), stop requests, the
 * fallbacks, and $LAPERM_TUNE_BUDGET. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "lp_test.h"
#include "tune-impl.h"

static double now_; /* the fake clock, seconds */

static double clock_(void *ctx) {
    (void)ctx;
    return now_;
}

static void start_(lp_tune_race *r, double budget, const volatile sig_atomic_t *stop, int n) {
    now_ = 100;
    lp_tune_limits lim = {.budget = budget, .stop = stop};
    lp_tune_race_start_clock(r, &lim, clock_, NULL, n);
}

/* A run of i taking `secs` on the fake clock, reported as a timed run. */
static bool run_(lp_tune_race *r, int i, double secs) {
    if (!lp_tune_go(r, i)) return false;
    now_ += secs;
    lp_tune_done(r, i, secs);
    return true;
}

static void test_drop_rule(void) {
    lp_tune_race r;
    start_(&r, 100, NULL, 3);
    CU_ASSERT_TRUE(run_(&r, 0, 1.0));
    CU_ASSERT_TRUE(run_(&r, 1, 2.01)); /* over twice 1.0: dropped after this one run */
    CU_ASSERT_TRUE(run_(&r, 2, 1.99)); /* under twice: races on */
    CU_ASSERT_EQUAL(r.state[1], LP_TUNE_DROPPED);
    CU_ASSERT_EQUAL(r.state[2], LP_TUNE_RACING);
    CU_ASSERT_FALSE(run_(&r, 1, 0.1)); /* no second run */
    CU_ASSERT_TRUE(run_(&r, 2, 0.9));  /* later runs are never dropped, the fastest counts */
    CU_ASSERT_TRUE(run_(&r, 0, 1.5));
    CU_ASSERT_TRUE(run_(&r, 2, 5.0));
    CU_ASSERT_EQUAL(r.state[2], LP_TUNE_RACING);
    CU_ASSERT_DOUBLE_EQUAL(r.best[0], 1.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(r.best[2], 0.9, 0);
    CU_ASSERT_EQUAL(r.timed[1], 1);
    CU_ASSERT_EQUAL(lp_tune_best(&r), 2);
    /* The first candidate has nothing to be compared with; a candidate faster than all
     * before it is never dropped. */
    start_(&r, 100, NULL, 2);
    CU_ASSERT_TRUE(run_(&r, 0, 50));
    CU_ASSERT_TRUE(run_(&r, 1, 1));
    CU_ASSERT_EQUAL(r.state[0], LP_TUNE_RACING);
    CU_ASSERT_EQUAL(r.state[1], LP_TUNE_RACING);
}

static void test_budget(void) {
    lp_tune_race r;
    start_(&r, 2.0, NULL, 3);
    CU_ASSERT_TRUE(run_(&r, 0, 0.8));
    CU_ASSERT_TRUE(run_(&r, 1, 0.9)); /* clock 1.7 of 2.0 */
    /* Candidate 2's run is under way when the budget runs out: abandoned at its next
     * point, and with it the race. */
    CU_ASSERT_TRUE(lp_tune_go(&r, 2));
    now_ += 0.6;
    CU_ASSERT_FALSE(lp_tune_mid(&r, 2));
    CU_ASSERT_TRUE(r.over);
    CU_ASSERT_FALSE(r.stopped);
    CU_ASSERT_EQUAL(r.state[0], LP_TUNE_ABANDONED);
    CU_ASSERT_EQUAL(r.state[2], LP_TUNE_ABANDONED);
    CU_ASSERT_FALSE(run_(&r, 0, 0.1));
    CU_ASSERT_FALSE(run_(&r, 1, 0.1));
    CU_ASSERT_EQUAL(r.timed[2], 0);
    CU_ASSERT_EQUAL(lp_tune_best(&r), 0); /* the abandoned pass is never chosen */
    /* Exactly at the budget the race is over (it bounds the time, it is not a target). */
    start_(&r, 2.0, NULL, 2);
    CU_ASSERT_TRUE(run_(&r, 0, 2.0));
    CU_ASSERT_FALSE(lp_tune_go(&r, 1));
    CU_ASSERT_EQUAL(r.state[1], LP_TUNE_ABANDONED);
    CU_ASSERT_EQUAL(lp_tune_best(&r), 0);
}

/* One round of a chooser's loop as conv2d_unit.c's tune_ runs it, passes of fixed fake
 * durations with a point half-way: warm-up runs (warm) or timed runs; runs[i] counts the
 * finished ones. */
static void round_(lp_tune_race *r, const double *pass, bool warm, int *runs) {
    for (int i = 0; i < r->n; ++i) {
        if (!lp_tune_go(r, i)) continue;
        now_ += pass[i] / 2;
        if (!lp_tune_mid(r, i)) continue;
        now_ += pass[i] / 2;
        if (warm)
            lp_tune_warm(r, i, pass[i]);
        else
            lp_tune_done(r, i, pass[i]);
        ++runs[i];
    }
}

/* The time spent stays within the budget plus one pass, and each candidate gets the runs
 * the rules allow. */
static void test_bounded_loop(void) {
    const double pass[3] = {0.3, 0.5, 3.0}; /* the last: one pass over the budget */
    lp_tune_race r;
    start_(&r, 2.0, NULL, 3);
    int runs[3] = {0};
    round_(&r, pass, true, runs);
    for (int rep = 0; rep < 4; ++rep)
        round_(&r, pass, false, runs);
    CU_ASSERT_TRUE(now_ - 100 <= 2.0 + 3.0 / 2 + 1e-9);
    CU_ASSERT_EQUAL(runs[0], 1); /* its warm-up only: candidate 2 spent the budget */
    CU_ASSERT_EQUAL(runs[2], 0); /* abandoned half-way through its warm-up */
    CU_ASSERT_EQUAL(r.state[2], LP_TUNE_ABANDONED);
    /* No timed run finished: the fastest warm-up. */
    CU_ASSERT_EQUAL(lp_tune_best(&r), 0);

    /* With a larger budget: candidate 2 is dropped after its first timed run (3.0 > 2 x
     * 0.3), the others run every round. */
    start_(&r, 60.0, NULL, 3);
    int warm[3] = {0}, timed[3] = {0};
    round_(&r, pass, true, warm);
    for (int rep = 0; rep < 4; ++rep)
        round_(&r, pass, false, timed);
    CU_ASSERT_EQUAL(timed[0], 4);
    CU_ASSERT_EQUAL(timed[1], 4);
    CU_ASSERT_EQUAL(timed[2], 1);
    CU_ASSERT_EQUAL(r.state[2], LP_TUNE_DROPPED);
    CU_ASSERT_EQUAL(lp_tune_best(&r), 0);
}

static void test_stop_request(void) {
    volatile sig_atomic_t stop = 0;
    lp_tune_race r;
    start_(&r, 100, &stop, 2);
    CU_ASSERT_TRUE(run_(&r, 0, 1.0));
    CU_ASSERT_TRUE(lp_tune_go(&r, 1));
    stop = 1; /* arrives during candidate 1's run */
    CU_ASSERT_FALSE(lp_tune_mid(&r, 1));
    CU_ASSERT_TRUE(r.stopped);
    CU_ASSERT_FALSE(r.over);
    CU_ASSERT_FALSE(lp_tune_go(&r, 0));
    CU_ASSERT_EQUAL(lp_tune_best(&r), 0);
    /* A stop before anything ran: nothing runs, nothing to choose. */
    start_(&r, 100, &stop, 2);
    CU_ASSERT_FALSE(lp_tune_go(&r, 0));
    CU_ASSERT_FALSE(lp_tune_go(&r, 1));
    CU_ASSERT_EQUAL(lp_tune_best(&r), -1);
}

static void test_fallbacks(void) {
    lp_tune_race r;
    start_(&r, 100, NULL, 3);
    lp_tune_fail(&r, 0);
    CU_ASSERT_FALSE(lp_tune_go(&r, 0));
    CU_ASSERT_EQUAL(lp_tune_best(&r), -1);
    CU_ASSERT_TRUE(lp_tune_go(&r, 1));
    lp_tune_warm(&r, 1, 3.0);
    CU_ASSERT_TRUE(lp_tune_go(&r, 2));
    lp_tune_warm(&r, 2, 2.0);
    CU_ASSERT_EQUAL(lp_tune_best(&r), 2); /* warm-ups only: the fastest of them */
    lp_tune_done(&r, 1, 2.5);
    CU_ASSERT_EQUAL(lp_tune_best(&r), 1); /* a timed run beats any warm-up */
    /* n is clamped to the table. */
    start_(&r, 1, NULL, LP_TUNE_MAX + 5);
    CU_ASSERT_EQUAL(r.n, LP_TUNE_MAX);
    CU_ASSERT_FALSE(lp_tune_go(&r, LP_TUNE_MAX));
}

static void test_budget_env(void) {
    double b = 0;
    unsetenv("LAPERM_TUNE_BUDGET");
    LP_TEST_OK(lp_tune_budget_from_env(&b));
    CU_ASSERT_DOUBLE_EQUAL(b, LP_TUNE_BUDGET_DEFAULT, 0);
    setenv("LAPERM_TUNE_BUDGET", "0.25", 1);
    LP_TEST_OK(lp_tune_budget_from_env(&b));
    CU_ASSERT_DOUBLE_EQUAL(b, 0.25, 0);
    const char *bad[] = {"0", "-1", "abc", "2s", "nan", "inf", "3601"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; ++i) {
        setenv("LAPERM_TUNE_BUDGET", bad[i], 1);
        CU_ASSERT_EQUAL(lp_tune_budget_from_env(&b), LP_ERR_INVALID_ARG);
        CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "LAPERM_TUNE_BUDGET"));
        lp_clear_error();
    }
    unsetenv("LAPERM_TUNE_BUDGET");
}

static void register_suites(void) {
    CU_pSuite su = CU_add_suite("tune", NULL, NULL);
    CU_add_test(su, "over twice the fastest: dropped after one run", test_drop_rule);
    CU_add_test(su, "budget spent: run abandoned, race over", test_budget);
    CU_add_test(su, "a chooser's loop stays within budget plus one pass", test_bounded_loop);
    CU_add_test(su, "stop request ends the race at the next point", test_stop_request);
    CU_add_test(su, "failures and warm-up fallbacks", test_fallbacks);
    CU_add_test(su, "LAPERM_TUNE_BUDGET", test_budget_env);
}

int main(void) {
    return lp_test_main("test_tune", register_suites);
}
