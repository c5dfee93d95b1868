/* The collectives of data-parallel training (host/dist_mpi.c), run by ctest under
 * mpirun -np 2 and -np 3: the sums are the rank-order sums every rank could compute from
 * all contributions, bit for bit and alike on every rank, on odd sizes (fewer values than
 * ranks included); the bytes each rank counts; a hash that differs on one rank fails on
 * every rank naming that rank; the gathered lines. Each rank prints its own CUnit report
 * and the job fails when any rank fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/dist.h"
#include "lp_test.h"

static lp_dist *dist_;

/* Rank r's value i: magnitudes far apart, so that the order of the additions matters. */
static float contribution_(int r, size_t i) {
    static const float scale[] = {1.0f, 1e8f, 0x1p-20f, -1e8f};
    return scale[(r + (int)i) % 4] * (float)((int)((i * 7 + (size_t)r * 13) % 17) - 8);
}

static void test_sums_in_rank_order(void) {
    static const size_t ns[] = {0, 1, 2, 3, 1001, 65537};
    int size = lp_dist_size(dist_), rank = lp_dist_rank(dist_);
    for (size_t k = 0; k < sizeof ns / sizeof *ns; ++k) {
        size_t n = ns[k];
        float *all = malloc((n * (size_t)size + 1) * sizeof(float));
        float *v = malloc((n + 1) * sizeof(float)), *want = malloc((n + 1) * sizeof(float));
        for (int r = 0; r < size; ++r)
            for (size_t i = 0; i < n; ++i)
                all[(size_t)r * n + i] = contribution_(r, i);
        for (size_t i = 0; i < n; ++i)
            v[i] = contribution_(rank, i);
        lp_dist_add_in_order(all, n, size, n, want);
        unsigned long long before = lp_dist_bytes_sent(dist_);
        CU_ASSERT_EQUAL_FATAL(lp_dist_sum_floats(dist_, v, n), LP_OK);
        CU_ASSERT(memcmp(v, want, n * sizeof(float)) == 0);
        long long first, mine;
        lp_dist_share((long long)n, rank, size, &first, &mine);
        CU_ASSERT_EQUAL(lp_dist_bytes_sent(dist_) - before,
                        ((n - (size_t)mine) + (size_t)mine * (size_t)(size - 1)) * sizeof(float));
        free(all), free(v), free(want);
    }
    double d[3] = {0.1 * (rank + 1), 1e300, -1e300 * (rank == 0)}, want = 0;
    for (int r = 0; r < size; ++r)
        want += 0.1 * (r + 1);
    CU_ASSERT_EQUAL_FATAL(lp_dist_sum_doubles(dist_, d, 3), LP_OK);
    CU_ASSERT_EQUAL(d[0], want);
    CU_ASSERT_EQUAL(d[1], 1e300 * size);
}

static void test_agreement(void) {
    int rank = lp_dist_rank(dist_);
    CU_ASSERT_EQUAL(lp_dist_agree(dist_, 0x1234, "the weights at step 7"), LP_OK);
    lp_status s = lp_dist_agree(dist_, rank == 1 ? 0x99 : 0x1234, "the weights at step 8");
    CU_ASSERT_EQUAL(s, LP_ERR_MPI);
    const char *e = lp_last_error();
    CU_ASSERT_PTR_NOT_NULL(strstr(e, "the weights at step 8 differ between ranks"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e, "rank 1 0x0000000000000099"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e, "rank 0 0x0000000000001234"));
    CU_ASSERT_PTR_NULL(strstr(e, "rank 2 "));
}

static void test_gather_text(void) {
    char mine[32], all[256], want[256] = "";
    snprintf(mine, sizeof mine, "device %d", lp_dist_rank(dist_) * 10);
    CU_ASSERT_EQUAL_FATAL(lp_dist_gather_text(dist_, mine, all, sizeof all), LP_OK);
    for (int r = 0; r < lp_dist_size(dist_); ++r) {
        size_t len = strlen(want);
        snprintf(want + len, sizeof want - len, "%s%d: device %d", r ? "; " : "", r, r * 10);
    }
    CU_ASSERT_STRING_EQUAL(all, want);
    CU_ASSERT_EQUAL(lp_dist_barrier(dist_), LP_OK);
}

static void register_suites(void) {
    CU_pSuite s = CU_add_suite("MPI collectives", NULL, NULL);
    CU_add_test(s, "sums in rank order, alike on every rank", test_sums_in_rank_order);
    CU_add_test(s, "a differing hash names its rank", test_agreement);
    CU_add_test(s, "every rank's line", test_gather_text);
}

int main(int argc, char **argv) {
    if (lp_dist_start(&argc, &argv, &dist_) != LP_OK) {
        fprintf(stderr, "mpi_dist_test: %s\n", lp_last_error());
        return 1;
    }
    if (lp_dist_size(dist_) < 2) {
        fprintf(stderr, "mpi_dist_test: run it with mpirun -np 2 or more (size %d)\n",
                lp_dist_size(dist_));
        lp_dist_stop(dist_);
        return 1;
    }
    int rc = lp_test_main("mpi_dist_test", register_suites);
    /* Every rank's verdict: the job fails when one rank does. */
    double failed = rc != 0;
    if (lp_dist_sum_doubles(dist_, &failed, 1) != LP_OK) failed = 1;
    lp_dist_stop(dist_);
    return failed > 0 ? 1 : 0;
}
