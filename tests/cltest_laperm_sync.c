/* The LaPerm invariant (LAPERM.md steps 5 and 8) on the device: after any number of
 * perturb-then-sync rounds every group, sorted, is theta_sorted bit for bit, the rank
 * reconstructs the weights, and the permutation equals the host reference exactly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/init.h"
#include "laperm/laperm_sync.h"
#include "lp_test.h"

typedef struct {
    int groups, gs;
} shape_;

/* Dense-like groups, a 1-D tensor as one group, tiny groups, groups wider than a tile. */
static int shapes_(shape_ *out) {
    bool sim = lp_test_simulator();
    shape_ all[] = {{sim ? 16 : 300, 784},
                    {10, 1000},
                    {1, 4097},
                    {64, 1},
                    {128, 3},
                    {1, 10},
                    {37, 100},
                    {4, 64}};
    int n = (int)(sizeof all / sizeof all[0]);
    memcpy(out, all, sizeof all);
    return n;
}

/* He-uniform-like initial weights with a third pruned to 0.0 (masks put many equal
 * values into theta_sorted, which LaPerm then moves around). */
static void init_weights_(float *w, size_t n, int gs, uint64_t *rng) {
    float limit = 2.449f / (float)(gs < 1 ? 1 : gs);
    for (size_t i = 0; i < n; ++i) {
        w[i] = lp_test_uniform(rng, -limit, limit);
        if (lp_test_next(rng) % 3 == 0) w[i] = 0.0f;
    }
}

/* A few "Adam steps": small moves for every weight, large ones for some, and some
 * exact ties and -0.0 so the tie rule is exercised. */
static void perturb_(float *w, size_t n, uint64_t *rng) {
    for (size_t i = 0; i < n; ++i) {
        uint64_t r = lp_test_next(rng) % 16;
        if (r == 0)
            w[i] = -0.0f;
        else if (r == 1)
            w[i] = 0.5f;
        else if (r == 2)
            w[i] += lp_test_uniform(rng, -1.0f, 1.0f);
        else
            w[i] += lp_test_uniform(rng, -0.01f, 0.01f);
    }
}

/* What a sync must give, from the host argsort of `src`. */
static void reference_sync_(const float *src, const float *sorted, int groups, int gs, float *w_out,
                            int32_t *rank_out) {
    size_t n = (size_t)groups * gs;
    int32_t *order = malloc(n * sizeof *order);
    CU_ASSERT_PTR_NOT_NULL_FATAL(order);
    CU_ASSERT_EQUAL(lp_argsort_groups_host(src, groups, gs, order), LP_OK);
    for (int g = 0; g < groups; ++g)
        for (int j = 0; j < gs; ++j) {
            size_t to = (size_t)g * gs + (size_t)order[(size_t)g * gs + j];
            w_out[to] = sorted[(size_t)g * gs + j];
            rank_out[to] = j;
        }
    free(order);
}

/* Every group of w, sorted, is theta_sorted bit for bit; w[g, j] is the rank-th value. */
static bool invariant_holds_(const float *w, const int32_t *rank, const float *sorted, int groups,
                             int gs) {
    size_t n = (size_t)groups * gs;
    float *resorted = malloc(n * sizeof *resorted);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resorted);
    lp_sort_groups_host(w, groups, gs, resorted);
    bool ok = memcmp(resorted, sorted, n * sizeof *sorted) == 0;
    for (size_t i = 0; ok && i < n; ++i) {
        size_t g = i / (size_t)gs;
        ok = rank[i] >= 0 && rank[i] < gs &&
             memcmp(&w[i], &sorted[g * gs + (size_t)rank[i]], sizeof(float)) == 0;
    }
    free(resorted);
    return ok;
}

static lp_segsort *new_sort_(void) {
    lp_segsort *s = NULL;
    lp_status st = lp_segsort_create(lp_test_rt, 1 << 16, &s);
    if (st != LP_OK) printf("\n  lp_segsort_create: %s\n", lp_last_error());
    return s;
}

/* Initial weights from laperm's own initializers and options (laperm/init.h); a NULL
 * case means init_weights_. */
typedef struct {
    const char *what;
    lp_init_kind kind;
    lp_init_opts opts;
} init_case_;

/* Several perturb + in-place sync rounds for one shape. */
static void check_in_place_(lp_segsort *s, int groups, int gs, int rounds, uint64_t seed,
                            const init_case_ *ic) {
    lp_runtime *rt = lp_test_rt;
    size_t n = (size_t)groups * gs, b = n * 4;
    float *w = malloc(b), *sorted = malloc(b), *want = malloc(b);
    int32_t *rank = malloc(b), *want_rank = malloc(b);
    CU_ASSERT_FATAL(w && sorted && want && rank && want_rank);
    uint64_t rng = seed;
    if (ic)
        lp_init_fill_opts(ic->kind, &ic->opts, w, n, gs, groups, seed, 0);
    else
        init_weights_(w, n, gs, &rng);
    lp_sort_groups_host(w, groups, gs, sorted);
    cl_mem dw, dsorted, drank;
    CU_ASSERT_EQUAL_FATAL(lp_buffer_create(rt, b, "weights", &dw), LP_OK);
    CU_ASSERT_EQUAL_FATAL(lp_buffer_create(rt, b, "theta_sorted", &dsorted), LP_OK);
    CU_ASSERT_EQUAL_FATAL(lp_buffer_create(rt, b, "rank", &drank), LP_OK);
    CU_ASSERT_EQUAL(lp_buffer_write(rt, dsorted, 0, b, sorted), LP_OK);
    for (int r = 0; r < rounds; ++r) {
        perturb_(w, n, &rng);
        reference_sync_(w, sorted, groups, gs, want, want_rank);
        CU_ASSERT_EQUAL(lp_buffer_write(rt, dw, 0, b, w), LP_OK);
        lp_status st = lp_laperm_sync(s, dw, 0, dsorted, 0, groups, gs, dw, 0, drank, 0);
        if (st != LP_OK) printf("\n  sync: %s\n", lp_last_error());
        CU_ASSERT_EQUAL(st, LP_OK);
        CU_ASSERT_EQUAL(lp_buffer_read(rt, dw, 0, b, w), LP_OK);
        CU_ASSERT_EQUAL(lp_buffer_read(rt, drank, 0, b, rank), LP_OK);
        bool inv = invariant_holds_(w, rank, sorted, groups, gs);
        bool same = memcmp(w, want, b) == 0 && memcmp(rank, want_rank, b) == 0;
        if (!inv || !same)
            printf("\n  %s%d x %d round %d: invariant %d, equals host reference %d\n",
                   ic ? ic->what : "", groups, gs, r, inv, same);
        CU_ASSERT(inv);
        CU_ASSERT(same);
    }
    clReleaseMemObject(dw);
    clReleaseMemObject(dsorted);
    clReleaseMemObject(drank);
    free(w);
    free(sorted);
    free(want);
    free(rank);
    free(want_rank);
}

/* The simulator syncs each shape twice, not four times: the second round already starts
 * from a synced, perturbed state, as every later one does, and runs the same launches
 * (the sorts' own sizes are cltest_sort's; a round of 16 x 784 takes seconds there). */
static void test_in_place_rounds(void) {
    lp_segsort *s = new_sort_();
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    shape_ sh[16];
    int n = shapes_(sh);
    for (int i = 0; i < n; ++i)
        check_in_place_(s, sh[i].groups, sh[i].gs, lp_test_simulator() ? 2 : 4, 1000 + (uint64_t)i,
                        NULL);
    lp_segsort_destroy(s);
}

/* The same from the model files' initial values: masks (most of a group +0.0), one
 * shared value, lists and quantisation (few distinct values, many ties). */
static void test_init_options_rounds(void) {
    static const init_case_ cases[] = {
        {"weight-agnostic (0.08, keep 4/7): ",
         LP_INIT_CONSTANT,
         {.keep = 0.5714286f, .value = 0.08f}},
        {"sparse (keep 0.1): ", LP_INIT_HE_UNIFORM, {.keep = 0.1f}},
        {"ternary: ", LP_INIT_CHOICE, {.values = {3, {-0.05f, 0.0f, 0.05f}}}},
        {"binary, keep 0.3: ", LP_INIT_CHOICE, {.keep = 0.3f, .values = {2, {-1.0f, 1.0f}}}},
        {"quantize 4: ", LP_INIT_HE_NORMAL, {.quantize = 4}},
        {"quantize 3, keep 0.5: ", LP_INIT_GLOROT_UNIFORM, {.keep = 0.5f, .quantize = 3}},
    };
    lp_segsort *s = new_sort_();
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    shape_ sh[16];
    int n = shapes_(sh);
    bool sim = lp_test_simulator(); /* there only the small shapes, fewer rounds */
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c)
        for (int i = 0; i < n; ++i)
            if (!sim || sh[i].groups * sh[i].gs <= 4000)
                check_in_place_(s, sh[i].groups, sh[i].gs, sim ? 2 : 3, 2000 + (uint64_t)i,
                                &cases[c]);
    lp_segsort_destroy(s);
}

/* A projected copy into another buffer (at offsets, without rank) leaves src alone. */
static void test_separate_dst(void) {
    lp_runtime *rt = lp_test_rt;
    lp_segsort *s = new_sort_();
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const int groups = 12, gs = 300, so = 7, to = 11, oo = 3;
    size_t n = (size_t)groups * gs;
    float *w = malloc(n * 4), *sorted = malloc(n * 4), *want = malloc(n * 4);
    float *got = malloc(n * 4), *src_after = malloc(n * 4);
    int32_t *want_rank = malloc(n * 4);
    CU_ASSERT_FATAL(w && sorted && want && got && src_after && want_rank);
    uint64_t rng = 77;
    init_weights_(w, n, gs, &rng);
    lp_sort_groups_host(w, groups, gs, sorted);
    perturb_(w, n, &rng);
    reference_sync_(w, sorted, groups, gs, want, want_rank);
    cl_mem dsrc, dsorted, ddst;
    CU_ASSERT_EQUAL_FATAL(lp_buffer_create(rt, (so + n) * 4, "src", &dsrc), LP_OK);
    CU_ASSERT_EQUAL_FATAL(lp_buffer_create(rt, (oo + n) * 4, "theta_sorted", &dsorted), LP_OK);
    CU_ASSERT_EQUAL_FATAL(lp_buffer_create(rt, (to + n) * 4, "dst", &ddst), LP_OK);
    /* Whole buffers from offset 0: Oclgrind 21.10 loses track of what is initialised
     * after a host write that starts inside a buffer (false, flaky reports). */
    float *padded = calloc(so + oo + n, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(padded);
    memcpy(padded + so, w, n * 4);
    CU_ASSERT_EQUAL(lp_buffer_write(rt, dsrc, 0, (so + n) * 4, padded), LP_OK);
    memset(padded, 0, (so + oo + n) * 4);
    memcpy(padded + oo, sorted, n * 4);
    CU_ASSERT_EQUAL(lp_buffer_write(rt, dsorted, 0, (oo + n) * 4, padded), LP_OK);
    free(padded);
    CU_ASSERT_EQUAL(lp_laperm_sync(s, dsrc, so, dsorted, oo, groups, gs, ddst, to, NULL, 0), LP_OK);
    CU_ASSERT_EQUAL(lp_buffer_read(rt, ddst, to * 4, n * 4, got), LP_OK);
    CU_ASSERT_EQUAL(lp_buffer_read(rt, dsrc, so * 4, n * 4, src_after), LP_OK);
    CU_ASSERT(memcmp(got, want, n * 4) == 0);
    CU_ASSERT(memcmp(src_after, w, n * 4) == 0);
    clReleaseMemObject(dsrc);
    clReleaseMemObject(dsorted);
    clReleaseMemObject(ddst);
    free(w);
    free(sorted);
    free(want);
    free(got);
    free(src_after);
    free(want_rank);
    lp_segsort_destroy(s);
}

/* Host references: sorting is by the total order, and argsort ties go to the lower index. */
static void test_host_reference(void) {
    const float x[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.0f, -0.0f, 1.0f};
    float sorted[7];
    int32_t order[7];
    lp_sort_groups_host(x, 1, 7, sorted);
    const float want[] = {-1.0f, -0.0f, -0.0f, 0.0f, 0.0f, 1.0f, 1.0f};
    CU_ASSERT(memcmp(sorted, want, sizeof want) == 0);
    CU_ASSERT_EQUAL(lp_argsort_groups_host(x, 1, 7, order), LP_OK);
    const int32_t want_order[] = {3, 1, 5, 0, 4, 2, 6};
    CU_ASSERT(memcmp(order, want_order, sizeof want_order) == 0);
}

static void test_invalid_arguments(void) {
    lp_segsort *s = new_sort_();
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    cl_mem a, b;
    CU_ASSERT_EQUAL_FATAL(lp_buffer_create(lp_test_rt, 40, "a", &a), LP_OK);
    CU_ASSERT_EQUAL_FATAL(lp_buffer_create(lp_test_rt, 40, "b", &b), LP_OK);
    CU_ASSERT_EQUAL(lp_laperm_sync(s, a, 0, b, 0, 0, 10, a, 0, NULL, 0), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_laperm_sync(s, a, 0, NULL, 0, 1, 10, a, 0, NULL, 0), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_laperm_sync(s, a, 0, b, 1, 1, 10, a, 0, NULL, 0), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_laperm_sync(s, a, 0, b, 0, 1, 10, a, 2, NULL, 0), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_laperm_sync(s, a, 0, b, 0, 1, 10, a, 0, b, 1), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_laperm_sync(s, a, 0, b, 0, 1, 11, a, 0, NULL, 0), LP_ERR_INVALID_ARG);
    clReleaseMemObject(a);
    clReleaseMemObject(b);
    lp_segsort_destroy(s);
}

static void register_suites(void) {
    CU_pSuite su = CU_add_suite("laperm_sync", NULL, NULL);
    CU_add_test(su, "host reference order", test_host_reference);
    CU_add_test(su, "in-place sync rounds keep the invariant", test_in_place_rounds);
    CU_add_test(su, "masked, shared, listed and quantised initial values keep it",
                test_init_options_rounds);
    CU_add_test(su, "sync into another buffer leaves src", test_separate_dst);
    CU_add_test(su, "invalid arguments", test_invalid_arguments);
}

int main(void) {
    return lp_cltest_main("cltest_laperm_sync", register_suites);
}
