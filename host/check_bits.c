/* `laperm check` rows where laperm promises bits: the segmented sort, the LaPerm sync's
 * invariant, Philox, augmentation and the initial weights (host/check.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check-impl.h"
#include "laperm/augment.h"
#include "laperm/init.h"
#include "laperm/laperm_sync.h"
#include "laperm/rng.h"
#include "reference.h"

/* Keys with what breaks a sort: ties, -0 and +0, infinities, runs sorted and reversed. */
static void keys_(float *k, size_t n, uint64_t *rng) {
    lp_check_fill(k, n, rng, -1.0f, 1.0f);
    for (size_t i = 0; i < n; ++i) {
        uint64_t r = lp_check_next(rng) % 16;
        if (r == 0) k[i] = 0.25f;
        if (r == 1) k[i] = (i & 1) ? -0.0f : 0.0f;
        if (r == 2) k[i] = (i & 1) ? INFINITY : -INFINITY;
        if (r == 3 && i > 0) k[i] = k[i - 1];
    }
}

typedef struct {
    int groups, size;
} shape_;

static const shape_ shapes_[] = {{1, 1},    {3, 7},    {5, 33},    {2, 127},
                                 {1, 4097}, {4, 1000}, {300, 100}, {1, 65536}};

static lp_status sort_case_(lp_check_ctx *c, lp_segsort *ss, shape_ sh, uint64_t seed) {
    size_t n = (size_t)sh.groups * sh.size;
    float *k = malloc(n * 4);
    int32_t *got = malloc(n * 4), *want = malloc(n * 4);
    cl_mem dk = NULL, dord = NULL;
    lp_status s = k && got && want ? LP_OK : lp_fail(LP_ERR_NO_MEMORY, "sort check");
    uint64_t rng = seed;
    if (s == LP_OK) {
        keys_(k, n, &rng);
        s = lp_check_upload(c, k, n * 4, &dk);
    }
    if (s == LP_OK) s = lp_check_upload(c, NULL, n * 4, &dord);
    if (s == LP_OK) s = lp_segsort_argsort(ss, dk, 0, sh.groups, sh.size, dord, 0);
    if (s == LP_OK) s = lp_buffer_read(c->rt, dord, 0, n * 4, got);
    if (s == LP_OK) s = lp_argsort_groups_host(k, sh.groups, sh.size, want);
    if (s == LP_OK) {
        char what[64];
        snprintf(what, sizeof what, "segsort %d groups of %d: order", sh.groups, sh.size);
        lp_check_bits(c, what, got, want, n);
    }
    if (dk) clReleaseMemObject(dk);
    if (dord) clReleaseMemObject(dord);
    free(k), free(got), free(want);
    return s;
}

typedef lp_status (*segsort_case_fn_)(lp_check_ctx *c, lp_segsort *ss, shape_ sh, uint64_t seed);

/* Every shape through fn (the first 6 with --quick), then, when small_tile, shapes 1-4 again
 * with a tile of 16 entries, so that the global-memory merge passes run at small sizes. */
static lp_status segsort_cases_(lp_check_ctx *c, segsort_case_fn_ fn, uint64_t seed,
                                bool small_tile) {
    lp_segsort *ss = NULL;
    LP_TRY(lp_segsort_create(c->rt, 0, &ss));
    lp_status s = LP_OK;
    for (int i = 0; s == LP_OK && i < (c->quick ? 6 : 8); ++i)
        s = fn(c, ss, shapes_[i], seed + (uint64_t)i);
    if (small_tile) lp_segsort_limit_tile(ss, 16);
    for (int i = 1; small_tile && s == LP_OK && i < 5; ++i)
        s = fn(c, ss, shapes_[i], seed + 50 + (uint64_t)i);
    lp_segsort_destroy(ss);
    return s;
}

lp_status lp_check_sort(lp_check_ctx *c) {
    return segsort_cases_(c, sort_case_, 1400, true);
}

/* Three syncs of weights moved at random between them: after each, every group sorts
 * back to its theta_sorted and dst[i] == theta_sorted[rank[i]], with the ranking of the
 * weights before the sync (the host argsort). */
static lp_status sync_case_(lp_check_ctx *c, lp_segsort *ss, shape_ sh, uint64_t seed) {
    size_t n = (size_t)sh.groups * sh.size;
    float *theta = malloc(n * 4), *w = malloc(n * 4), *got = malloc(n * 4), *want = malloc(n * 4);
    int32_t *order = malloc(n * 4), *rank = malloc(n * 4), *want_rank = malloc(n * 4);
    cl_mem dt = NULL, dw = NULL, dr = NULL;
    lp_status s = theta && w && got && want && order && rank && want_rank
                      ? LP_OK
                      : lp_fail(LP_ERR_NO_MEMORY, "sync check");
    uint64_t rng = seed;
    if (s == LP_OK) {
        keys_(theta, n, &rng);
        lp_sort_groups_host(theta, sh.groups, sh.size, theta);
        memcpy(w, theta, n * 4);
        s = lp_check_upload(c, theta, n * 4, &dt);
    }
    if (s == LP_OK) s = lp_check_upload(c, NULL, n * 4, &dw);
    if (s == LP_OK) s = lp_check_upload(c, NULL, n * 4, &dr);
    char what[80];
    for (int round = 0; s == LP_OK && round < 3; ++round) {
        for (size_t i = 0; i < n; ++i) /* a training step's worth of change */
            w[i] += 0.5f * (float)((int)(lp_check_next(&rng) % 2001) - 1000) / 1000.0f;
        s = lp_buffer_write(c->rt, dw, 0, n * 4, w);
        if (s == LP_OK) s = lp_laperm_sync(ss, dw, 0, dt, 0, sh.groups, sh.size, dw, 0, dr, 0);
        if (s == LP_OK) s = lp_argsort_groups_host(w, sh.groups, sh.size, order);
        if (s == LP_OK) s = lp_buffer_read(c->rt, dw, 0, n * 4, got);
        if (s == LP_OK) s = lp_buffer_read(c->rt, dr, 0, n * 4, rank);
        if (s != LP_OK) break;
        for (int g = 0; g < sh.groups; ++g)
            for (int j = 0; j < sh.size; ++j) {
                size_t base = (size_t)g * sh.size;
                want_rank[base + (size_t)order[base + j]] = j;
                want[base + (size_t)order[base + j]] = theta[base + (size_t)j];
            }
        snprintf(what, sizeof what, "laperm_scatter %d groups of %d, sync %d: weights", sh.groups,
                 sh.size, round + 1);
        lp_check_bits(c, what, got, want, n);
        snprintf(what, sizeof what, "laperm_scatter %d groups of %d, sync %d: rank", sh.groups,
                 sh.size, round + 1);
        lp_check_bits(c, what, rank, want_rank, n);
        /* the invariant itself: each group a permutation of its sorted initial values */
        lp_sort_groups_host(got, sh.groups, sh.size, want);
        snprintf(what, sizeof what, "LaPerm invariant %d groups of %d, sync %d", sh.groups, sh.size,
                 round + 1);
        lp_check_bits(c, what, want, theta, n);
        memcpy(w, got, n * 4);
    }
    cl_mem m[] = {dt, dw, dr};
    for (int i = 0; i < 3; ++i)
        if (m[i]) clReleaseMemObject(m[i]);
    free(theta), free(w), free(got), free(want), free(order), free(rank), free(want_rank);
    return s;
}

lp_status lp_check_sync(lp_check_ctx *c) {
    return segsort_cases_(c, sync_case_, 1500, false);
}

lp_status lp_check_philox(lp_check_ctx *c) {
    for (int i = 0; i < LP_REF_PHILOX_KATS; ++i) {
        const lp_ref_philox_kat *k = &lp_ref_philox_kats[i];
        lp_philox_ctr ctr = {{k->ctr[0], k->ctr[1], k->ctr[2], k->ctr[3]}};
        lp_philox_ctr r = lp_philox4x32(ctr, k->key);
        char what[48];
        snprintf(what, sizeof what, "Philox4x32-10 known answer %d", i);
        lp_check_bits(c, what, r.v, k->want, 4);
    }
    return LP_OK;
}

lp_status lp_check_init(lp_check_ctx *c) {
    float w[8];
    lp_init_fill(LP_INIT_HE_UNIFORM, w, 8, 784, 300, 1, 0);
    lp_check_bits(c, "he_uniform fan_in 784 seed 1 stream 0", w, lp_ref_he_uniform_bits, 4);
    lp_init_fill(LP_INIT_HE_NORMAL, w, 4, 300, 100, 1, 2);
    lp_check_bits(c, "he_normal fan_in 300 seed 1 stream 2", w, lp_ref_he_normal_bits, 4);
    return LP_OK;
}

static lp_status augment_case_(lp_check_ctx *c, const lp_augment_spec *a, int n, int ch, int h,
                               int w, int rows, uint64_t seed) {
    size_t plane = (size_t)ch * h * w, nx = (size_t)rows * plane;
    uint8_t *px = malloc((size_t)n * plane);
    int32_t *labels = malloc((size_t)n * 4), *idx = malloc((size_t)n * 4),
            *yl = malloc((size_t)rows * 4), *gyl = malloc((size_t)rows * 4);
    float *mean = malloc(plane * 4), *istd = malloc(plane * 4), *want = malloc(nx * 4),
          *got = malloc(nx * 4);
    cl_mem dpx = NULL, dl = NULL, di = NULL, dm = NULL, ds = NULL, dx = NULL, dy = NULL;
    lp_status s = px && labels && idx && yl && gyl && mean && istd && want && got
                      ? LP_OK
                      : lp_fail(LP_ERR_NO_MEMORY, "augment check");
    uint64_t rng = seed;
    int first = n - rows;
    if (s == LP_OK) {
        for (size_t i = 0; i < (size_t)n * plane; ++i)
            px[i] = (uint8_t)lp_check_next(&rng);
        for (int i = 0; i < n; ++i)
            labels[i] = i % 10, idx[i] = (int32_t)((i * 7 + 3) % n);
        lp_check_fill(mean, plane, &rng, 0.0f, 0.5f);
        lp_check_fill(istd, plane, &rng, 1.0f, 4.0f);
        lp_augment_reference(a, seed, 3, px, labels, idx, first, rows, ch, h, w, mean, istd, want,
                             yl);
        s = lp_check_upload(c, px, (size_t)n * plane, &dpx);
    }
    if (s == LP_OK) s = lp_check_upload(c, labels, (size_t)n * 4, &dl);
    if (s == LP_OK) s = lp_check_upload(c, idx, (size_t)n * 4, &di);
    if (s == LP_OK) s = lp_check_upload(c, mean, plane * 4, &dm);
    if (s == LP_OK) s = lp_check_upload(c, istd, plane * 4, &ds);
    if (s == LP_OK) s = lp_check_upload(c, NULL, nx * 4, &dx);
    if (s == LP_OK) s = lp_check_upload(c, NULL, (size_t)rows * 4, &dy);
    if (s == LP_OK)
        s = lp_op_augment_batch(c->rt, a, seed, 3, dpx, dl, di, first, rows, ch, h, w, dm, ds, dx,
                                dy);
    if (s == LP_OK) s = lp_buffer_read(c->rt, dx, 0, nx * 4, got);
    if (s == LP_OK) s = lp_buffer_read(c->rt, dy, 0, (size_t)rows * 4, gyl);
    if (s == LP_OK) {
        char what[96];
        snprintf(what, sizeof what, "augment %dx%dx%d rows %d%s: values", ch, h, w, rows,
                 a ? "" : " (identity)");
        lp_check_bits(c, what, got, want, nx);
        snprintf(what, sizeof what, "augment %dx%dx%d rows %d: labels", ch, h, w, rows);
        lp_check_bits(c, what, gyl, yl, (size_t)rows);
    }
    cl_mem m[] = {dpx, dl, di, dm, ds, dx, dy};
    for (int i = 0; i < 7; ++i)
        if (m[i]) clReleaseMemObject(m[i]);
    free(px), free(labels), free(idx), free(yl), free(gyl), free(mean), free(istd), free(want),
        free(got);
    return s;
}

lp_status lp_check_augment(lp_check_ctx *c) {
    const lp_augment_spec all = {.rotate_deg = 15.0f, .shift = 0.1f, .zoom = 0.1f, .hflip = true};
    const lp_augment_spec rot = {.rotate_deg = 180.0f};
    LP_TRY(augment_case_(c, &all, 9, 3, 7, 9, 5, 1600));
    LP_TRY(augment_case_(c, NULL, 4, 1, 5, 3, 4, 1601));
    LP_TRY(augment_case_(c, &rot, 3, 1, 1, 1, 1, 1602));
    if (!c->quick) LP_TRY(augment_case_(c, &all, 64, 3, 32, 32, 50, 1603));
    return LP_OK;
}
