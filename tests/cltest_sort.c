/* Device segmented argsort (host/segsort.c, cl/sort.cl) against the host qsort
 * reference: the order must match exactly, for every group size and awkward value. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "laperm/laperm_sync.h"
#include "laperm/segsort.h"
#include "lp_test.h"

typedef enum {
    FILL_RANDOM,
    FILL_TIES,
    FILL_EQUAL,
    FILL_SORTED,
    FILL_REVERSED,
    FILL_SPECIAL
} fill_kind;

static float bits_(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void fill_(float *x, size_t n, fill_kind kind, uint64_t seed) {
    /* Values whose order the float-to-key mapping must get right, including NaNs at
     * both ends; 0xFFFFFFFF has the same key as a pad and must still sort before it. */
    const float special[] = {-0.0f,
                             0.0f,
                             INFINITY,
                             -INFINITY,
                             1.0f,
                             -1.0f,
                             1e-45f,
                             -1e-45f,
                             bits_(0xFFFFFFFFu),
                             bits_(0x7FFFFFFFu),
                             bits_(0x7FC00000u),
                             bits_(0xFFC00000u),
                             3.4028235e38f,
                             -3.4028235e38f};
    uint64_t st = seed;
    for (size_t i = 0; i < n; ++i) {
        switch (kind) {
        case FILL_RANDOM:
            x[i] = lp_test_uniform(&st, -1.0f, 1.0f);
            break;
        case FILL_TIES:
            x[i] = (float)(lp_test_next(&st) % 3) - 1.0f;
            break;
        case FILL_EQUAL:
            x[i] = 0.25f;
            break;
        case FILL_SORTED:
            x[i] = (float)i * 0.5f - 7.0f;
            break;
        case FILL_REVERSED:
            x[i] = 7.0f - (float)i * 0.5f;
            break;
        case FILL_SPECIAL:
            x[i] = special[lp_test_next(&st) % (sizeof special / sizeof special[0])];
            break;
        }
    }
}

/* Sorts `groups` x `gs` values of `kind` on the device, with the keys and the order
 * at nonzero offsets when asked, and compares with the host argsort. */
static void check_argsort_(lp_segsort *s, int groups, int gs, fill_kind kind, size_t keys_off,
                           size_t order_off) {
    size_t n = (size_t)groups * gs;
    float *x = malloc((keys_off + n) * sizeof *x);
    int32_t *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got);
    float *after = malloc(n * sizeof *after);
    CU_ASSERT_FATAL(x && want && got && after);
    for (size_t i = 0; i < keys_off; ++i)
        x[i] = 1e30f; /* must not leak into a group */
    fill_(x + keys_off, n, kind, 0x5EED0000u + (uint64_t)gs * 131 + (uint64_t)kind);
    CU_ASSERT_EQUAL_FATAL(lp_argsort_groups_host(x + keys_off, groups, gs, want), LP_OK);

    lp_runtime *rt = lp_test_rt;
    cl_mem keys, order;
    CU_ASSERT_EQUAL_FATAL(lp_buffer_create(rt, (keys_off + n) * 4, "keys", &keys), LP_OK);
    CU_ASSERT_EQUAL_FATAL(lp_buffer_create(rt, (order_off + n) * 4, "order", &order), LP_OK);
    CU_ASSERT_EQUAL(lp_buffer_write(rt, keys, 0, (keys_off + n) * 4, x), LP_OK);
    lp_status st = lp_segsort_argsort(s, keys, keys_off, groups, gs, order, order_off);
    if (st != LP_OK) printf("\n  argsort: %s\n", lp_last_error());
    CU_ASSERT_EQUAL(st, LP_OK);
    CU_ASSERT_EQUAL(lp_buffer_read(rt, order, order_off * 4, n * 4, got), LP_OK);
    CU_ASSERT_EQUAL(lp_buffer_read(rt, keys, keys_off * 4, n * 4, after), LP_OK);
    size_t bad = 0;
    while (bad < n && got[bad] == want[bad])
        bad++;
    if (bad < n)
        printf("\n  %d x %d (kind %d): order[%zu] = %d, want %d\n", groups, gs, (int)kind, bad,
               got[bad], want[bad]);
    CU_ASSERT_EQUAL(bad, n);
    CU_ASSERT(memcmp(after, x + keys_off, n * 4) == 0); /* keys untouched */
    clReleaseMemObject(keys);
    clReleaseMemObject(order);
    free(x);
    free(want);
    free(got);
    free(after);
}

static lp_segsort *new_sort_(void) {
    lp_segsort *s = NULL;
    lp_status st = lp_segsort_create(lp_test_rt, 0, &s);
    if (st != LP_OK) printf("\n  lp_segsort_create: %s\n", lp_last_error());
    return s;
}

static const int sizes_[] = {1, 2, 3, 7, 64, 100, 784, 1000, 4097};
#define N_SIZES (int)(sizeof sizes_ / sizeof sizes_[0])

/* The simulator leaves the groups wider than the device's tile to test_tile_edges (one
 * group of tile + 1, the same sort as here) and test_one_large_group (two groups of
 * tile + 1): each tile of 4096 there takes seconds to simulate. */
static void test_group_sizes(void) {
    lp_segsort *s = new_sort_();
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    for (int i = 0; i < N_SIZES; ++i) {
        if (lp_test_simulator() && (size_t)sizes_[i] > lp_segsort_tile(s)) continue;
        check_argsort_(s, 1, sizes_[i], FILL_RANDOM, 0, 0);
        check_argsort_(s, lp_test_simulator() ? 3 : 5, sizes_[i], FILL_RANDOM, 0, 0);
    }
    lp_segsort_destroy(s);
}

/* Sizes right at the tile and past it, where the sort switches from one local pass
 * to global merge passes (one and two steps per pass). */
static void test_tile_edges(void) {
    lp_segsort *s = new_sort_();
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    int tile = (int)lp_segsort_tile(s);
    const int sz[] = {tile / 2 + 1, tile - 1, tile, tile + 1, 2 * tile + 1};
    for (int i = 0; i < (int)(sizeof sz / sizeof sz[0]); ++i)
        check_argsort_(s, lp_test_simulator() ? 1 : 3, sz[i], FILL_RANDOM, 0, 0);
    lp_segsort_destroy(s);
}

/* Tiny tiles push every size through many global merge stages, cheaply. In the
 * simulator the sizes stop at 784 (P = 1024): that is already 4 to 9 merge widths with
 * both global kernels, their flips and the tile passes between them; 1000 pads to the
 * same P, and 4097 only adds more of the same stages (20 s there). */
static void test_small_tiles(void) {
    const size_t tiles[] = {2, 8, 64};
    for (int t = 0; t < 3; ++t) {
        lp_segsort *s = new_sort_();
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        lp_segsort_limit_tile(s, tiles[t]);
        CU_ASSERT_EQUAL(lp_segsort_tile(s), tiles[t]);
        for (int i = 0; i < N_SIZES; ++i) {
            if (lp_test_simulator() && sizes_[i] > 784) continue;
            check_argsort_(s, 3, sizes_[i], FILL_TIES, 1, 0);
        }
        check_argsort_(s, 2, 300, FILL_SPECIAL, 0, 3);
        lp_segsort_destroy(s);
    }
}

static void test_awkward_values(void) {
    lp_segsort *s = new_sort_();
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const fill_kind kinds[] = {FILL_TIES, FILL_EQUAL, FILL_SORTED, FILL_REVERSED, FILL_SPECIAL};
    /* The simulator skips the largest size here; test_group_sizes covers it. */
    int n_sizes = lp_test_simulator() ? N_SIZES - 1 : N_SIZES;
    for (int k = 0; k < 5; ++k)
        for (int i = 0; i < n_sizes; ++i)
            check_argsort_(s, 3, sizes_[i], kinds[k], 0, 0);
    lp_segsort_destroy(s);
}

static void test_many_groups_and_offsets(void) {
    lp_segsort *s = new_sort_();
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    /* 8 work-groups of one group each in the simulator (24 took 5 s there). */
    int groups = lp_test_simulator() ? 8 : 300;
    check_argsort_(s, groups, 784, FILL_RANDOM, 0, 0);
    check_argsort_(s, groups, 100, FILL_TIES, 0, 0);
    check_argsort_(s, 7, 1000, FILL_RANDOM, 13, 5);
    check_argsort_(s, 1000, 1, FILL_RANDOM, 3, 0);
    check_argsort_(s, 333, 3, FILL_SPECIAL, 1, 2);
    lp_segsort_destroy(s);
}

/* One big group: many global merge stages, and a workspace grown from a small hint. */
static void test_one_large_group(void) {
    lp_segsort *s = NULL;
    CU_ASSERT_EQUAL_FATAL(lp_segsort_create(lp_test_rt, 64, &s), LP_OK);
    int n = lp_test_simulator() ? 1 << 13 : 1 << 20;
    check_argsort_(s, 1, n, FILL_RANDOM, 0, 0);
    check_argsort_(s, 1, n - 5, FILL_TIES, 2, 0);
    check_argsort_(s, 2, n / 2 + 1, FILL_SPECIAL, 0, 1);
    check_argsort_(s, 2, 300, FILL_RANDOM, 0, 0); /* smaller after a grown workspace */
    lp_segsort_destroy(s);
}

static void test_invalid_arguments(void) {
    lp_segsort *s = new_sort_();
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    cl_mem keys, order;
    CU_ASSERT_EQUAL_FATAL(lp_buffer_create(lp_test_rt, 40, "keys", &keys), LP_OK);
    CU_ASSERT_EQUAL_FATAL(lp_buffer_create(lp_test_rt, 40, "order", &order), LP_OK);
    /* A host write rather than a fill: Oclgrind 21.10 treats filled memory as
     * uninitialised. */
    const float zeros[10] = {0};
    CU_ASSERT_EQUAL(lp_buffer_write(lp_test_rt, keys, 0, sizeof zeros, zeros), LP_OK);
    CU_ASSERT_EQUAL(lp_segsort_argsort(s, keys, 0, 0, 5, order, 0), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_segsort_argsort(s, keys, 0, 2, 0, order, 0), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_segsort_argsort(s, keys, 0, 2, -3, order, 0), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_segsort_argsort(s, NULL, 0, 2, 5, order, 0), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_segsort_argsort(s, keys, 1, 2, 5, order, 0), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_segsort_argsort(s, keys, 0, 2, 5, order, 1), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_segsort_argsort(s, keys, 0, 3, 5, order, 0), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_segsort_argsort(s, keys, 0, 2, 5, order, 0), LP_OK);
    CU_ASSERT_EQUAL(lp_runtime_finish(lp_test_rt), LP_OK);
    clReleaseMemObject(keys);
    clReleaseMemObject(order);
    lp_segsort_destroy(s);
}

/* Not an assertion: keys per second on this device, for the report (not in the simulator
 * nor on slow devices, LAPERM_TEST_SMALL: there it would only cost time). */
static void test_throughput(void) {
    if (lp_test_small()) return;
    lp_segsort *s = new_sort_();
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const int shapes[2][2] = {{300, 784}, {1, 1 << 20}};
    for (int c = 0; c < 2; ++c) {
        int groups = shapes[c][0], gs = shapes[c][1];
        size_t n = (size_t)groups * gs;
        float *x = malloc(n * sizeof *x);
        CU_ASSERT_PTR_NOT_NULL_FATAL(x);
        fill_(x, n, FILL_RANDOM, 42);
        cl_mem keys, order;
        CU_ASSERT_EQUAL_FATAL(lp_buffer_create(lp_test_rt, n * 4, "keys", &keys), LP_OK);
        CU_ASSERT_EQUAL_FATAL(lp_buffer_create(lp_test_rt, n * 4, "order", &order), LP_OK);
        CU_ASSERT_EQUAL(lp_buffer_write(lp_test_rt, keys, 0, n * 4, x), LP_OK);
        CU_ASSERT_EQUAL(lp_segsort_argsort(s, keys, 0, groups, gs, order, 0), LP_OK); /* warm */
        CU_ASSERT_EQUAL(lp_runtime_finish(lp_test_rt), LP_OK);
        int reps = 5;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int r = 0; r < reps; ++r)
            CU_ASSERT_EQUAL(lp_segsort_argsort(s, keys, 0, groups, gs, order, 0), LP_OK);
        CU_ASSERT_EQUAL(lp_runtime_finish(lp_test_rt), LP_OK);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        printf("\n  argsort %d x %d: %.3f ms, %.1f Mkeys/s ", groups, gs, 1e3 * sec / reps,
               (double)n * reps / sec / 1e6);
        clReleaseMemObject(keys);
        clReleaseMemObject(order);
        free(x);
    }
    lp_segsort_destroy(s);
}

static void register_suites(void) {
    CU_pSuite su = CU_add_suite("segsort", NULL, NULL);
    CU_add_test(su, "group sizes 1..4097, one and several groups", test_group_sizes);
    CU_add_test(su, "sizes around the tile", test_tile_edges);
    CU_add_test(su, "tiny tiles: many global merge stages", test_small_tiles);
    CU_add_test(su, "ties, equal, sorted, reversed, -0/+0, inf, NaN", test_awkward_values);
    CU_add_test(su, "many groups, keys and order offsets", test_many_groups_and_offsets);
    CU_add_test(su, "one large group, grown workspace", test_one_large_group);
    CU_add_test(su, "invalid arguments", test_invalid_arguments);
    CU_add_test(su, "throughput (printed)", test_throughput);
}

int main(void) {
    return lp_cltest_main("cltest_sort", register_suites);
}
