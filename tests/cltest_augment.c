/* Augmented batches on the device against the host reference (bit for bit), and the
 * transform's defining properties: identity = normalised gather, flips mirror exactly,
 * whole-pixel shifts translate exactly, draws depend on (seed, epoch, position) only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laperm/augment.h"
#include "lp_test.h"

#define SENTINEL_ 12345.5f
#define Y_UNSET_ (-7)

/* ---- a byte dataset on the host and the device ------------------------------------------- */

typedef struct {
    int n, c, h, w, idx_len, cap_rows;
    size_t features;
    uint8_t *pix;
    int32_t *labels, *idx;
    float *mean, *inv;
    cl_mem dpix, dlab, didx, dmean, dinv, dx, dy;
} set_;

/* n samples of c x h x w random bytes, a shuffled order of idx_len entries, random
 * statistics (distinct per feature, so that using the wrong feature shows), and output
 * buffers for up to cap_rows rows plus one spare row that must stay untouched. */
static bool set_make_(set_ *s, int n, int c, int h, int w, int idx_len, int cap_rows,
                      uint64_t seed) {
    memset(s, 0, sizeof *s);
    *s = (set_){.n = n, .c = c, .h = h, .w = w, .idx_len = idx_len, .cap_rows = cap_rows};
    s->features = (size_t)c * h * w;
    s->pix = malloc((size_t)n * s->features);
    s->labels = malloc((size_t)n * sizeof *s->labels);
    s->idx = malloc((size_t)idx_len * sizeof *s->idx);
    s->mean = malloc(s->features * sizeof *s->mean);
    s->inv = malloc(s->features * sizeof *s->inv);
    if (!s->pix || !s->labels || !s->idx || !s->mean || !s->inv) return false;
    uint64_t rng = seed;
    for (size_t i = 0; i < (size_t)n * s->features; ++i)
        s->pix[i] = (uint8_t)(lp_test_next(&rng) >> 24);
    for (int i = 0; i < n; ++i)
        s->labels[i] = (int32_t)(lp_test_next(&rng) % 10);
    for (int i = 0; i < idx_len; ++i)
        s->idx[i] = i % n;
    for (int i = idx_len - 1; i > 0; --i) {
        int j = (int)(lp_test_next(&rng) % (uint64_t)(i + 1)), t = s->idx[i];
        s->idx[i] = s->idx[j];
        s->idx[j] = t;
    }
    for (size_t f = 0; f < s->features; ++f) {
        s->mean[f] = lp_test_uniform(&rng, 0.2f, 0.7f);
        s->inv[f] = lp_test_uniform(&rng, 0.5f, 4.0f);
    }
    s->dpix = lp_test_upload(s->pix, (size_t)n * s->features);
    s->dlab = lp_test_upload(s->labels, (size_t)n * sizeof(int32_t));
    s->didx = lp_test_upload(s->idx, (size_t)idx_len * sizeof(int32_t));
    s->dmean = lp_test_upload(s->mean, s->features * sizeof(float));
    s->dinv = lp_test_upload(s->inv, s->features * sizeof(float));
    lp_buffer_create(lp_test_rt, (size_t)(cap_rows + 1) * s->features * sizeof(float), "x", &s->dx);
    lp_buffer_create(lp_test_rt, (size_t)(cap_rows + 1) * sizeof(int32_t), "y", &s->dy);
    return s->dpix && s->dlab && s->didx && s->dmean && s->dinv && s->dx && s->dy;
}

/* Sets the statistics to `mean` and `inv` everywhere (on both sides). */
static void set_stats_(set_ *s, float mean, float inv) {
    for (size_t f = 0; f < s->features; ++f)
        s->mean[f] = mean, s->inv[f] = inv;
    LP_TEST_OK(lp_buffer_write(lp_test_rt, s->dmean, 0, s->features * sizeof(float), s->mean));
    LP_TEST_OK(lp_buffer_write(lp_test_rt, s->dinv, 0, s->features * sizeof(float), s->inv));
}

static void set_free_(set_ *s) {
    cl_mem m[] = {s->dpix, s->dlab, s->didx, s->dmean, s->dinv, s->dx, s->dy};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; ++i)
        if (m[i]) clReleaseMemObject(m[i]);
    free(s->pix);
    free(s->labels);
    free(s->idx);
    free(s->mean);
    free(s->inv);
    memset(s, 0, sizeof *s);
}

/* Runs the kernel for rows [first, first + rows) into x ((rows + 1) * features floats) and
 * y (rows + 1 ints), after filling the whole output buffers with sentinels. */
static bool run_(set_ *s, const lp_augment_spec *a, uint64_t seed, int epoch, int first, int rows,
                 float *x, int32_t *y) {
    size_t xn = (size_t)(rows + 1) * s->features, cap = (size_t)(s->cap_rows + 1) * s->features;
    float *fill = malloc(cap * sizeof *fill);
    int32_t yfill[1024];
    if (!fill || s->cap_rows + 1 > 1024 || rows > s->cap_rows) {
        free(fill);
        return false;
    }
    for (size_t i = 0; i < cap; ++i)
        fill[i] = SENTINEL_;
    for (int i = 0; i <= s->cap_rows; ++i)
        yfill[i] = Y_UNSET_;
    lp_status st = lp_buffer_write(lp_test_rt, s->dx, 0, cap * sizeof(float), fill);
    if (st == LP_OK)
        st = lp_buffer_write(lp_test_rt, s->dy, 0, (size_t)(s->cap_rows + 1) * sizeof(int32_t),
                             yfill);
    free(fill);
    if (st == LP_OK)
        st = lp_op_augment_batch(lp_test_rt, a, seed, epoch, s->dpix, s->dlab, s->didx, first, rows,
                                 s->c, s->h, s->w, s->dmean, s->dinv, s->dx, s->dy);
    if (st == LP_OK) st = lp_buffer_read(lp_test_rt, s->dx, 0, xn * sizeof(float), x);
    if (st == LP_OK)
        st = lp_buffer_read(lp_test_rt, s->dy, 0, (size_t)(rows + 1) * sizeof(int32_t), y);
    if (st != LP_OK) printf("\n  run: %s\n", lp_last_error());
    return st == LP_OK;
}

/* Number of output floats that differ in their bits; prints the first. */
static size_t count_diff_(const set_ *s, const float *got, const float *want, int rows,
                          const char *what) {
    size_t bad = 0, hw = (size_t)s->h * s->w;
    for (size_t k = 0; k < (size_t)rows * s->features; ++k) {
        if (memcmp(&got[k], &want[k], sizeof(float)) == 0) continue;
        if (bad++ == 0) {
            size_t r = k / s->features, f = k % s->features;
            printf("\n  %s: row %zu channel %zu pixel (%zu, %zu): got %.9g want %.9g\n", what, r,
                   f / hw, f % hw / s->w, f % s->w, got[k], want[k]);
        }
    }
    if (bad) printf("  %s: %zu of %zu values differ\n", what, bad, (size_t)rows * s->features);
    return bad;
}

/* The spare row after the batch is untouched, and the labels are those of the sources. */
static void check_tail_(const set_ *s, const float *x, const int32_t *y, int first, int rows) {
    size_t untouched = 0;
    for (size_t f = 0; f < s->features; ++f)
        untouched += x[(size_t)rows * s->features + f] == SENTINEL_;
    CU_ASSERT_EQUAL(untouched, s->features);
    CU_ASSERT_EQUAL(y[rows], Y_UNSET_);
    int bad = 0;
    for (int r = 0; r < rows; ++r)
        bad += y[r] != s->labels[s->idx[first + r]];
    CU_ASSERT_EQUAL(bad, 0);
}

/* ---- device against the host reference ---------------------------------------------------- */

static void check_reference_(const char *what, const lp_augment_spec *a, int c, int h, int w,
                             int rows, int first, uint64_t seed, int epoch) {
    set_ s;
    CU_ASSERT_FATAL(set_make_(&s, 23, c, h, w, first + rows + 3, rows, seed ^ 0x5eed));
    size_t xn = (size_t)(rows + 1) * s.features;
    float *x = malloc(xn * sizeof *x), *want = malloc(xn * sizeof *want);
    int32_t *y = malloc((size_t)(rows + 1) * sizeof *y), *ywant = malloc((size_t)rows * 4);
    CU_ASSERT_FATAL(x && want && y && ywant);
    CU_ASSERT_FATAL(run_(&s, a, seed, epoch, first, rows, x, y));
    lp_augment_reference(a, seed, epoch, s.pix, s.labels, s.idx, first, rows, c, h, w, s.mean,
                         s.inv, want, ywant);
    char label[160];
    snprintf(label, sizeof label, "%s (%dx%dx%d, %d rows from %d, epoch %d)", what, c, h, w, rows,
             first, epoch);
    CU_ASSERT_EQUAL(count_diff_(&s, x, want, rows, label), 0);
    CU_ASSERT(memcmp(y, ywant, (size_t)rows * sizeof *y) == 0);
    check_tail_(&s, x, y, first, rows);
    free(x);
    free(want);
    free(y);
    free(ywant);
    set_free_(&s);
}

static void test_reference(void) {
    bool sim = lp_test_simulator();
    const lp_augment_spec conv = {.rotate_deg = 15, .shift = 0.1f, .hflip = true}; /* Conv2-13 */
    const lp_augment_spec conv7 = {.rotate_deg = 10, .shift = 0.1f, .zoom = 0.1f};
    const lp_augment_spec resnet = {.shift = 0.1f, .hflip = true};
    const lp_augment_spec wild = {.rotate_deg = 180, .shift = 1, .zoom = 0.9f, .hflip = true};
    uint64_t big_seed = 0x123456789ABCDEF0ull;
    if (sim) {
        check_reference_("conv", &conv, 3, 9, 8, 4, 7, 1, 0);
        check_reference_("conv", &conv, 3, 32, 32, 2, 1000, 1, 124);
        check_reference_("conv7", &conv7, 1, 7, 6, 3, 0, 2, 5);
        check_reference_("resnet", &resnet, 3, 5, 5, 3, 2, big_seed, 1);
    } else {
        check_reference_("conv", &conv, 3, 32, 32, 50, 7, 1, 0);
        check_reference_("conv", &conv, 3, 32, 32, 50, 1000, 1, 124);
        check_reference_("conv7", &conv7, 1, 28, 28, 50, 0, 2, 5);
        check_reference_("resnet", &resnet, 3, 32, 32, 50, 50, big_seed, 199);
    }
    check_reference_("wild", &wild, 2, 7, 9, sim ? 5 : 40, 3, 3, 2);
    check_reference_("one pixel", &wild, 3, 1, 1, 4, 0, 4, 0);
    check_reference_("one row", &wild, 1, 1, 6, 4, 0, 5, 0);
    check_reference_("one column", &wild, 1, 5, 1, 4, 0, 6, 0);
}

/* Float values (lp_dataset.x_real data) equal to the bytes / 255 give the byte path's
 * bits: the same transform picks the same sources, only the load differs. */
static void test_real_values(void) {
    const lp_augment_spec a = {.rotate_deg = 30, .shift = 0.2f, .zoom = 0.2f, .hflip = true};
    int rows = 9, first = 2;
    set_ s;
    CU_ASSERT_FATAL(set_make_(&s, 13, 3, 7, 5, first + rows, rows, 91));
    size_t xn = (size_t)(rows + 1) * s.features, vn = (size_t)s.n * s.features;
    float *want = malloc(xn * sizeof *want), *got = malloc(xn * sizeof *got),
          *values = malloc(vn * sizeof *values);
    int32_t *y = malloc((size_t)(rows + 1) * sizeof *y);
    CU_ASSERT_FATAL(want && got && values && y);
    CU_ASSERT_FATAL(run_(&s, &a, 5, 3, first, rows, want, y));
    for (size_t i = 0; i < vn; ++i)
        values[i] = (float)s.pix[i] / 255.0f;
    cl_mem dv = lp_test_upload(values, vn * sizeof *values);
    CU_ASSERT_FATAL(dv != NULL);
    LP_TEST_OK(lp_op_augment_batch_real(lp_test_rt, &a, 5, 3, dv, s.dlab, s.didx, first, rows, s.c,
                                        s.h, s.w, s.dmean, s.dinv, s.dx, s.dy));
    CU_ASSERT(lp_test_download(s.dx, (size_t)rows * s.features * sizeof(float), got));
    CU_ASSERT_EQUAL(count_diff_(&s, got, want, rows, "real values"), 0);
    clReleaseMemObject(dv);
    free(want);
    free(got);
    free(values);
    free(y);
    set_free_(&s);
}

/* Same seed, same bits; another seed, other draws. */
static void test_determinism(void) {
    const lp_augment_spec a = {.rotate_deg = 20, .shift = 0.2f, .zoom = 0.2f, .hflip = true};
    int rows = 6;
    set_ s;
    CU_ASSERT_FATAL(set_make_(&s, 11, 2, 8, 7, rows, rows, 77));
    size_t xn = (size_t)(rows + 1) * s.features;
    float *x1 = malloc(xn * sizeof *x1), *x2 = malloc(xn * sizeof *x2);
    int32_t y1[8], y2[8];
    CU_ASSERT_FATAL(x1 && x2);
    CU_ASSERT_FATAL(run_(&s, &a, 99, 4, 0, rows, x1, y1));
    CU_ASSERT_FATAL(run_(&s, &a, 99, 4, 0, rows, x2, y2));
    CU_ASSERT(memcmp(x1, x2, xn * sizeof *x1) == 0);
    CU_ASSERT(memcmp(y1, y2, (size_t)(rows + 1) * sizeof *y1) == 0);
    CU_ASSERT_FATAL(run_(&s, &a, 100, 4, 0, rows, x2, y2));
    int rows_differ = 0;
    for (int r = 0; r < rows; ++r)
        rows_differ +=
            memcmp(x1 + r * s.features, x2 + r * s.features, s.features * sizeof *x1) != 0;
    CU_ASSERT(rows_differ >= rows - 1);
    CU_ASSERT(memcmp(y1, y2, (size_t)rows * sizeof *y1) == 0); /* labels do not depend on it */
    free(x1);
    free(x2);
    set_free_(&s);
}

/* ---- defining properties ------------------------------------------------------------------ */

/* No augmentation is the normalised gather: (byte / 255 - mean[f]) * inv_std[f] at the same
 * pixel. Every sample holds every byte value, so the device's v / 255 is checked for all. */
static void test_identity(void) {
    const lp_augment_spec zero = {0}, *specs[2] = {NULL, &zero};
    int rows = 3, first = 1;
    set_ s;
    CU_ASSERT_FATAL(set_make_(&s, 4, 1, 16, 16, first + rows, rows, 8));
    for (int k = 0; k < s.n; ++k)
        for (int p = 0; p < 256; ++p)
            s.pix[k * 256 + p] = (uint8_t)(p * 7 + k * 37); /* 7 is odd: a permutation */
    LP_TEST_OK(lp_buffer_write(lp_test_rt, s.dpix, 0, (size_t)s.n * s.features, s.pix));
    size_t xn = (size_t)(rows + 1) * s.features;
    float *x = malloc(xn * sizeof *x), *want = malloc(xn * sizeof *want);
    int32_t y[4];
    CU_ASSERT_FATAL(x && want);
    for (int pass = 0; pass < 4; ++pass) {
        if (pass == 2) set_stats_(&s, 0.0f, 1.0f); /* then the values are exactly byte / 255 */
        for (int r = 0; r < rows; ++r)
            for (size_t f = 0; f < s.features; ++f) {
                float v = (float)s.pix[(size_t)s.idx[first + r] * s.features + f] / 255.0f;
                want[r * s.features + f] = (v - s.mean[f]) * s.inv[f];
            }
        CU_ASSERT_FATAL(run_(&s, specs[pass % 2], 12345, pass, first, rows, x, y));
        CU_ASSERT_EQUAL(count_diff_(&s, x, want, rows, "identity"), 0);
        check_tail_(&s, x, y, first, rows);
    }
    free(x);
    free(want);
    set_free_(&s);
}

/* With per-pixel statistics equal to the one sample itself, every output is exactly 0
 * whatever the transform: the mean used is that of the source pixel. */
static void test_stats_follow_pixels(void) {
    const lp_augment_spec a = {.rotate_deg = 90, .shift = 0.5f, .zoom = 0.5f, .hflip = true};
    int rows = 5;
    set_ s;
    CU_ASSERT_FATAL(set_make_(&s, 1, 2, 6, 5, rows, rows, 21));
    for (size_t f = 0; f < s.features; ++f)
        s.mean[f] = (float)s.pix[f] / 255.0f;
    LP_TEST_OK(lp_buffer_write(lp_test_rt, s.dmean, 0, s.features * sizeof(float), s.mean));
    size_t xn = (size_t)(rows + 1) * s.features;
    float *x = malloc(xn * sizeof *x), *want = calloc(xn, sizeof *want);
    int32_t y[6];
    CU_ASSERT_FATAL(x && want);
    CU_ASSERT_FATAL(run_(&s, &a, 5, 0, 0, rows, x, y));
    CU_ASSERT_EQUAL(count_diff_(&s, x, want, rows, "statistics follow the pixel"), 0);
    free(x);
    free(want);
    set_free_(&s);
}

/* Flips alone: each sample is exactly its mirror image or exactly itself, as drawn. */
static void test_flip_only(void) {
    const lp_augment_spec a = {.hflip = true};
    int rows = 12, first = 2, flipped = 0;
    uint64_t seed = 31;
    set_ s;
    CU_ASSERT_FATAL(set_make_(&s, 9, 2, 5, 7, first + rows, rows, 3));
    set_stats_(&s, 0.0f, 1.0f);
    size_t xn = (size_t)(rows + 1) * s.features, hw = (size_t)s.h * s.w;
    float *x = malloc(xn * sizeof *x), *want = malloc(xn * sizeof *want);
    int32_t y[16];
    CU_ASSERT_FATAL(x && want);
    for (int r = 0; r < rows; ++r) {
        lp_augment_params p;
        lp_augment_draw(&a, seed, 0, first + r, s.h, s.w, &p);
        flipped += p.flip;
        const uint8_t *src = s.pix + (size_t)s.idx[first + r] * s.features;
        for (int ch = 0; ch < s.c; ++ch)
            for (int i = 0; i < s.h; ++i)
                for (int j = 0; j < s.w; ++j)
                    want[r * s.features + ch * hw + (size_t)i * s.w + j] =
                        (float)src[ch * hw + (size_t)i * s.w + (p.flip ? s.w - 1 - j : j)] / 255.0f;
    }
    CU_ASSERT(flipped > 0 && flipped < rows); /* both cases occur with this seed */
    CU_ASSERT_FATAL(run_(&s, &a, seed, 0, first, rows, x, y));
    CU_ASSERT_EQUAL(count_diff_(&s, x, want, rows, "flip"), 0);
    free(x);
    free(want);
    set_free_(&s);
}

static int clamp_(int v, int hi) {
    return v < 0 ? 0 : v > hi ? hi : v;
}

/* Shifts alone translate by the nearest whole pixel, edges repeated: no resampling blur. */
static void test_shift_only(void) {
    const lp_augment_spec a = {.shift = 0.3f};
    int rows = 10, near_tie = 0;
    uint64_t seed = 8;
    set_ s;
    CU_ASSERT_FATAL(set_make_(&s, 7, 3, 7, 9, rows, rows, 4));
    size_t xn = (size_t)(rows + 1) * s.features, hw = (size_t)s.h * s.w;
    float *x = malloc(xn * sizeof *x), *want = malloc(xn * sizeof *want);
    int32_t y[16];
    CU_ASSERT_FATAL(x && want);
    CU_ASSERT_FATAL(run_(&s, &a, seed, 2, 0, rows, x, y));
    int moved = 0;
    for (int r = 0; r < rows; ++r) {
        lp_augment_params p;
        lp_augment_draw(&a, seed, 2, r, s.h, s.w, &p);
        CU_ASSERT(p.angle_deg == 0 && p.zoom == 1 && !p.flip);
        /* a shift within 1e-4 of a half pixel could round either way: none here */
        near_tie += fabs(fabs(p.tx - floor(p.tx)) - 0.5) < 1e-4 ||
                    fabs(fabs(p.ty - floor(p.ty)) - 0.5) < 1e-4;
        int kx = (int)floor(p.tx + 0.5), ky = (int)floor(p.ty + 0.5);
        moved += kx != 0 || ky != 0;
        const uint8_t *src = s.pix + (size_t)s.idx[r] * s.features;
        for (int ch = 0; ch < s.c; ++ch)
            for (int i = 0; i < s.h; ++i)
                for (int j = 0; j < s.w; ++j) {
                    size_t g = ch * hw + (size_t)clamp_(i + ky, s.h - 1) * s.w +
                               (size_t)clamp_(j + kx, s.w - 1);
                    want[r * s.features + ch * hw + (size_t)i * s.w + j] =
                        ((float)src[g] / 255.0f - s.mean[g]) * s.inv[g];
                }
    }
    CU_ASSERT_EQUAL(near_tie, 0);
    CU_ASSERT(moved >= rows / 2);
    CU_ASSERT_EQUAL(count_diff_(&s, x, want, rows, "whole-pixel shift"), 0);
    free(x);
    free(want);
    set_free_(&s);
}

/* Draws depend on (seed, epoch, position in the epoch's order), not on the batch: a batch
 * from position 5 equals rows 5.. of a batch from 0, and another epoch draws anew. */
static void test_epochs_and_positions(void) {
    const lp_augment_spec a = {.rotate_deg = 30, .shift = 0.2f, .zoom = 0.3f, .hflip = true};
    int rows = 8;
    set_ s;
    CU_ASSERT_FATAL(set_make_(&s, 5, 1, 6, 6, rows, rows, 12));
    size_t xn = (size_t)(rows + 1) * s.features;
    float *all = malloc(xn * sizeof *all), *part = malloc(xn * sizeof *part);
    int32_t y[16];
    CU_ASSERT_FATAL(all && part);
    CU_ASSERT_FATAL(run_(&s, &a, 6, 1, 0, rows, all, y));
    CU_ASSERT_FATAL(run_(&s, &a, 6, 1, 5, 3, part, y));
    CU_ASSERT(memcmp(part, all + 5 * s.features, 3 * s.features * sizeof *part) == 0);
    check_tail_(&s, part, y, 5, 3);
    CU_ASSERT_FATAL(run_(&s, &a, 6, 2, 0, rows, part, y));
    int same = 0;
    for (int r = 0; r < rows; ++r) {
        same += memcmp(part + r * s.features, all + r * s.features, s.features * sizeof *all) == 0;
        lp_augment_params p1, p2;
        lp_augment_draw(&a, 6, 1, r, s.h, s.w, &p1);
        lp_augment_draw(&a, 6, 2, r, s.h, s.w, &p2);
        CU_ASSERT(p1.angle_deg != p2.angle_deg && p1.tx != p2.tx && p1.ty != p2.ty &&
                  p1.zoom != p2.zoom);
    }
    CU_ASSERT(same <= 1);
    free(all);
    free(part);
    set_free_(&s);
}

/* ---- the draws themselves (host) ------------------------------------------------------------ */

static void test_draws(void) {
    const lp_augment_spec a = {.rotate_deg = 180, .shift = 0.1f, .zoom = 0.25f, .hflip = true};
    int n = lp_test_simulator() ? 2000 : 20000, flips = 0;
    double worst_sin = 0, worst_cos = 0, lo = 0, hi = 0;
    for (int k = 0; k < n; ++k) {
        lp_augment_params p;
        lp_augment_draw(&a, 2024, 3, k, 32, 28, &p);
        double t = p.angle_deg * (3.14159265358979323846 / 180);
        worst_sin = fmax(worst_sin, fabs(p.sin_t - sin(t)));
        worst_cos = fmax(worst_cos, fabs(p.cos_t - cos(t)));
        lo = fmin(lo, p.angle_deg), hi = fmax(hi, p.angle_deg);
        CU_ASSERT(fabsf(p.tx) <= 0.1f * 28 && fabsf(p.ty) <= 0.1f * 32);
        CU_ASSERT(p.zoom >= 0.75f && p.zoom <= 1.25f);
        flips += p.flip;
    }
    if (worst_sin > 1e-6 || worst_cos > 1e-6)
        printf("\n  sin error %.3g, cos error %.3g\n", worst_sin, worst_cos);
    CU_ASSERT(worst_sin <= 1e-6 && worst_cos <= 1e-6);
    CU_ASSERT(lo >= -180 && lo < -179 && hi <= 180 && hi > 179);
    CU_ASSERT(fabs((double)flips / n - 0.5) < 0.05);

    lp_augment_params p;
    lp_augment_draw(NULL, 2024, 3, 0, 32, 32, &p);
    CU_ASSERT(p.angle_deg == 0 && p.sin_t == 0 && p.cos_t == 1 && p.tx == 0 && p.ty == 0 &&
              p.zoom == 1 && !p.flip);
    CU_ASSERT(lp_augment_is_identity(NULL));
    CU_ASSERT(lp_augment_is_identity(&(lp_augment_spec){0}));
    CU_ASSERT(!lp_augment_is_identity(&(lp_augment_spec){.hflip = true}));
}

/* ---- arguments ------------------------------------------------------------------------------ */

static void expect_msg_(lp_status got, lp_status want, const char *msg) {
    CU_ASSERT_EQUAL(got, want);
    CU_ASSERT_STRING_EQUAL(lp_last_error(), msg);
    if (got != want || strcmp(lp_last_error(), msg) != 0)
        printf("\n  got  %s: %s\n  want %s: %s\n", lp_status_name(got), lp_last_error(),
               lp_status_name(want), msg);
}

static void test_arguments(void) {
    expect_msg_(lp_augment_check(&(lp_augment_spec){.rotate_deg = 181}), LP_ERR_INVALID_ARG,
                "augmentation rotate_deg is 181, expected 0 to 180 (degrees)");
    expect_msg_(lp_augment_check(&(lp_augment_spec){.rotate_deg = NAN}), LP_ERR_INVALID_ARG,
                "augmentation rotate_deg is nan, expected 0 to 180 (degrees)");
    expect_msg_(lp_augment_check(&(lp_augment_spec){.shift = -0.1f}), LP_ERR_INVALID_ARG,
                "augmentation shift is -0.1, expected 0 to 1 (a fraction of the image size)");
    expect_msg_(lp_augment_check(&(lp_augment_spec){.zoom = 1}), LP_ERR_INVALID_ARG,
                "augmentation zoom is 1, expected 0 to less than 1 (the factor is drawn from "
                "[1 - zoom, 1 + zoom])");
    CU_ASSERT_EQUAL(lp_augment_check(NULL), LP_OK);
    CU_ASSERT_EQUAL(
        lp_augment_check(&(lp_augment_spec){.rotate_deg = 180, .shift = 1, .zoom = 0.99f}), LP_OK);

    set_ s;
    CU_ASSERT_FATAL(set_make_(&s, 2, 1, 3, 3, 2, 2, 1));
    lp_runtime *rt = lp_test_rt;
    expect_msg_(lp_op_augment_batch(rt, NULL, 1, 0, s.dpix, s.dlab, s.didx, 0, 2, 1, 3, 3, NULL,
                                    s.dinv, s.dx, s.dy),
                LP_ERR_INVALID_ARG,
                "lp_op_augment_batch: rt and every buffer (pixels, labels, idx, mean, inv_std, "
                "x_out, y_out) are required");
    expect_msg_(lp_op_augment_batch(rt, &(lp_augment_spec){.zoom = 2}, 1, 0, s.dpix, s.dlab, s.didx,
                                    0, 2, 1, 3, 3, s.dmean, s.dinv, s.dx, s.dy),
                LP_ERR_INVALID_ARG,
                "augmentation zoom is 2, expected 0 to less than 1 (the factor is drawn from "
                "[1 - zoom, 1 + zoom])");
    expect_msg_(lp_op_augment_batch(rt, NULL, 1, 0, s.dpix, s.dlab, s.didx, 0, 2, 0, 3, 3, s.dmean,
                                    s.dinv, s.dx, s.dy),
                LP_ERR_INVALID_ARG,
                "lp_op_augment_batch: image shape 0x3x3, expected positive sizes with at most "
                "2147483647 features");
    expect_msg_(lp_op_augment_batch(rt, NULL, 1, -1, s.dpix, s.dlab, s.didx, 0, 2, 1, 3, 3, s.dmean,
                                    s.dinv, s.dx, s.dy),
                LP_ERR_INVALID_ARG,
                "lp_op_augment_batch: first 0, rows 2 and epoch -1 must be >= 0 (and first + "
                "rows fit an int)");
    /* More rows than the order (idx_len 2) or an output holds: refused, never written
     * past the end. */
    expect_msg_(lp_op_augment_batch(rt, NULL, 1, 0, s.dpix, s.dlab, s.didx, 1, 2, 1, 3, 3, s.dmean,
                                    s.dinv, s.dx, s.dy),
                LP_ERR_INVALID_ARG, "lp_op_augment_batch: idx holds 8 bytes, 3 entries need 12");
    cl_mem tiny = lp_test_buffer(4);
    CU_ASSERT_FATAL(tiny != NULL);
    expect_msg_(lp_op_augment_batch(rt, NULL, 1, 0, s.dpix, s.dlab, s.didx, 0, 1, 1, 3, 3, s.dmean,
                                    s.dinv, tiny, s.dy),
                LP_ERR_INVALID_ARG, "lp_op_augment_batch: x_out holds 4 bytes, 1 entries need 36");
    expect_msg_(lp_op_augment_batch(rt, NULL, 1, 0, s.dpix, s.dlab, s.didx, 0, 2, 1, 3, 3, s.dmean,
                                    s.dinv, s.dx, tiny),
                LP_ERR_INVALID_ARG, "lp_op_augment_batch: y_out holds 4 bytes, 2 entries need 8");
    clReleaseMemObject(tiny);
    /* no rows: nothing enqueued, nothing written */
    LP_TEST_OK(lp_op_augment_batch(rt, NULL, 1, 0, s.dpix, s.dlab, s.didx, 0, 0, 1, 3, 3, s.dmean,
                                   s.dinv, s.dx, s.dy));
    LP_TEST_OK(lp_runtime_finish(rt));
    set_free_(&s);
}

static void register_suites(void) {
    CU_pSuite su = CU_add_suite("augment", NULL, NULL);
    CU_add_test(su, "device equals host reference bit for bit", test_reference);
    CU_add_test(su, "same seed same bits, other seed other draws", test_determinism);
    CU_add_test(su, "float values give the byte path's bits", test_real_values);
    CU_add_test(su, "no augmentation = normalised gather (every byte)", test_identity);
    CU_add_test(su, "statistics follow the source pixel", test_stats_follow_pixels);
    CU_add_test(su, "flip only: exact mirror images", test_flip_only);
    CU_add_test(su, "shift only: exact whole-pixel translation", test_shift_only);
    CU_add_test(su, "draws keyed by epoch and position", test_epochs_and_positions);
    CU_add_test(su, "draws: ranges, sin/cos accuracy, flip rate", test_draws);
    CU_add_test(su, "invalid arguments", test_arguments);
}

int main(void) {
    return lp_cltest_main("cltest_augment", register_suites);
}
