/* Timing on a runtime (host/tune-impl.h): the races of one layer share its bound (the
 * outermost race's start plus LP_TUNE_LAYER_FACTOR budgets, nested races counted), and the
 * candidates left out by rule are left out on the devices the rule names only. */
#include <string.h>

#include "laperm/clock.h"
#include "lp_test.h"
#include "tune-impl.h"

static void spin_until_(double t) {
    while (lp_seconds() < t) {
    }
}

static void test_layer_bound(void) {
    lp_tune_limits saved = lp_tune_get_limits(lp_test_rt);
    lp_tune_limits lim = {.budget = 0.5};
    LP_TEST_OK(lp_tune_set_limits(lp_test_rt, &lim));
    double t0 = lp_seconds();
    lp_tune_race outer, inner;
    lp_tune_race_start(&outer, lp_test_rt, 2);
    CU_ASSERT_TRUE(lp_tune_go(&outer, 0));
    /* The outer race's first run goes on into a nested race (a GEMM choice inside a conv
     * path's run), which starts with its own whole budget but within the layer's. */
    spin_until_(t0 + 0.75);
    lp_tune_race_start(&inner, lp_test_rt, 2);
    CU_ASSERT_TRUE(lp_tune_go(&inner, 0));
    spin_until_(t0 + 1.02 * LP_TUNE_LAYER_FACTOR * lim.budget);
    /* Its own clock shows ~0.27 s of its 0.5 s budget; the layer's bound has passed. */
    CU_ASSERT_TRUE(lp_seconds() - t0 - 0.75 < lim.budget);
    CU_ASSERT_FALSE(lp_tune_go(&inner, 1));
    CU_ASSERT_EQUAL(inner.state[1], LP_TUNE_ABANDONED);
    CU_ASSERT_TRUE(inner.over);
    lp_tune_race_end(&inner);
    CU_ASSERT_FALSE(lp_tune_go(&outer, 1));
    lp_tune_race_end(&outer);
    /* The next layer has a bound of its own. */
    lp_tune_race_start(&outer, lp_test_rt, 1);
    CU_ASSERT_TRUE(lp_tune_go(&outer, 0));
    lp_tune_race_end(&outer);
    LP_TEST_OK(lp_tune_set_limits(lp_test_rt, &saved));
}

static void test_skip_rules(void) {
    bool cpu_form = lp_runtime_vector_loops(lp_test_rt);
    const char *why = lp_tune_skip_fft(lp_test_rt, 3, 3);
    CU_ASSERT_EQUAL(why != NULL, cpu_form);
    CU_ASSERT_EQUAL(lp_tune_skip_fft(lp_test_rt, 4, 4) != NULL, cpu_form);
    CU_ASSERT_PTR_NULL(lp_tune_skip_fft(lp_test_rt, 5, 5)); /* not measured: kept */
    CU_ASSERT_EQUAL(lp_tune_skip_clblast(lp_test_rt, false, false), cpu_form);
    CU_ASSERT_EQUAL(lp_tune_skip_clblast(lp_test_rt, true, false), cpu_form);
    CU_ASSERT_FALSE(lp_tune_skip_clblast(lp_test_rt, true, true)); /* only CLBlast runs it */
    if (why) CU_ASSERT_PTR_NOT_NULL(strstr(why, "fft"));
}

static void register_suites(void) {
    CU_pSuite su = CU_add_suite("tune", NULL, NULL);
    CU_add_test(su, "the races of one layer share its bound", test_layer_bound);
    CU_add_test(su, "candidates left out by rule", test_skip_rules);
}

int main(void) {
    return lp_cltest_main("cltest_tune", register_suites);
}
