/* The parts of data-parallel training that need no MPI (host/dist.c): how rows are shared
 * among ranks, the fixed order of the sums, the launcher's environment, and one process
 * (a NULL lp_dist) as rank 0 of 1. The collectives themselves run under mpirun in
 * tests/mpi_dist_test.c. */
#include <stdlib.h>
#include <string.h>

#include "laperm/dist.h"
#include "lp_test.h"

/* Every row once, in rank order, counts differing by at most one, the larger first. */
static void test_share(void) {
    static const long long ns[] = {0, 1, 2, 7, 128, 1001};
    for (size_t i = 0; i < sizeof ns / sizeof *ns; ++i)
        for (int size = 1; size <= 9; ++size) {
            long long next = 0, first, count, prev = -1;
            for (int r = 0; r < size; ++r) {
                lp_dist_share(ns[i], r, size, &first, &count);
                CU_ASSERT_EQUAL(first, next);
                CU_ASSERT(count == ns[i] / size || count == ns[i] / size + 1);
                if (prev >= 0) CU_ASSERT(count <= prev);
                prev = count;
                next = first + count;
            }
            CU_ASSERT_EQUAL(next, ns[i]);
        }
}

/* Rank order, in double, one rounding: 1 + 2^-30 - 1 gives 2^-30 in that order (a float
 * sum would give 0), and the same values in another order give another float. */
static void test_add_in_order(void) {
    const float c[3 * 2] = {1.0f, 3.0f, 0x1p-30f, 1e8f, -1.0f, -1e8f};
    float out[2];
    lp_dist_add_in_order(c, 2, 3, 2, out);
    CU_ASSERT_EQUAL(out[0], 0x1p-30f);
    CU_ASSERT_EQUAL(out[1], 3.0f);
    const float swapped[3 * 2] = {1.0f, 1e8f, -1.0f, -1e8f, 0x1p-30f, 3.0f};
    lp_dist_add_in_order(swapped, 2, 3, 2, out);
    CU_ASSERT_EQUAL(out[0], 0x1p-30f); /* exact in double either way */
    CU_ASSERT_EQUAL(out[1], 3.0f);
    /* 1 + 2^54 - 2^54 is 0 in rank order (the 1 is lost in 2^54's spacing of 4); any
     * order that adds the big ones first gives 1. */
    const float order[3] = {1.0f, 0x1p54f, -0x1p54f};
    lp_dist_add_in_order(order, 1, 3, 1, out);
    CU_ASSERT_EQUAL(out[0], 0.0f);
    /* 2^24 + 1 + 1: a float accumulation loses both ones, the double one keeps them. */
    const float big[3] = {0x1p24f, 1.0f, 1.0f};
    lp_dist_add_in_order(big, 1, 3, 1, out);
    CU_ASSERT_EQUAL(out[0], 0x1p24f + 2.0f);
}

static void test_launcher_environment(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE"};
    for (size_t i = 0; i < 3; ++i)
        unsetenv(vars[i]);
    CU_ASSERT_EQUAL(lp_dist_launcher_size(), 0);
    setenv("PMI_SIZE", "4", 1);
    CU_ASSERT_EQUAL(lp_dist_launcher_size(), 4);
    setenv("PMI_SIZE", "junk", 1);
    CU_ASSERT_EQUAL(lp_dist_launcher_size(), 0);
    unsetenv("PMI_SIZE");
}

/* One process: rank 0 of 1, sums and agreements the identity, no bytes sent. */
static void test_one_process(void) {
    CU_ASSERT_EQUAL(lp_dist_rank(NULL), 0);
    CU_ASSERT_EQUAL(lp_dist_size(NULL), 1);
    CU_ASSERT_EQUAL(lp_dist_local_size(NULL), 1);
    float v[3] = {1.5f, -2.0f, 0x1p-149f};
    CU_ASSERT_EQUAL(lp_dist_sum_floats(NULL, v, 3), LP_OK);
    CU_ASSERT(v[0] == 1.5f && v[1] == -2.0f && v[2] == 0x1p-149f);
    double d[1] = {0.1};
    CU_ASSERT_EQUAL(lp_dist_sum_doubles(NULL, d, 1), LP_OK);
    CU_ASSERT_EQUAL(d[0], 0.1);
    CU_ASSERT_EQUAL(lp_dist_agree(NULL, 42, "the weights"), LP_OK);
    char all[32];
    CU_ASSERT_EQUAL(lp_dist_gather_text(NULL, "pocl", all, sizeof all), LP_OK);
    CU_ASSERT_STRING_EQUAL(all, "0: pocl");
    CU_ASSERT_EQUAL(lp_dist_barrier(NULL), LP_OK);
    CU_ASSERT_EQUAL(lp_dist_bytes_sent(NULL), 0);
}

static void register_suites(void) {
    CU_pSuite s = CU_add_suite("data-parallel parts without MPI", NULL, NULL);
    CU_add_test(s, "rows shared among ranks", test_share);
    CU_add_test(s, "sums in rank order, in double", test_add_in_order);
    CU_add_test(s, "the launcher's environment", test_launcher_environment);
    CU_add_test(s, "one process", test_one_process);
}

int main(void) {
    return lp_test_main("test_dist", register_suites);
}
