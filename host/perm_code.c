/* Range coder and Lehmer / multiset-permutation code (laperm/perm_code.h). The coder is
 * LZMA's (a carry propagated through a run of 0xFF bytes held back) widened from 32 to 48
 * bits of range, so that a digit's total may reach 2^32 - 1 while range / total keeps at
 * least 8 bits: the loss per digit is below log2(1 + 2^-8) bits, and for groups of a few
 * thousand values below 2^-27 bits. */
#include "laperm/perm_code.h"

#include <math.h>
#include <stdlib.h>

#define RANGE_MASK_ ((1ull << 48) - 1)
#define RANGE_TOP_ (1ull << 40) /* the range is kept at or above this */
#define RANGE_INIT_BYTES_ 7     /* the decoder's first read: a 0, then 48 bits */

static lp_status put_byte_(lp_range_enc *e, uint8_t b) {
    if (e->len == e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 256;
        uint8_t *grown = realloc(e->buf, cap);
        if (!grown) return lp_fail(LP_ERR_NO_MEMORY, "range coder: out of memory (%zu bytes)", cap);
        e->buf = grown;
        e->cap = cap;
    }
    e->buf[e->len++] = b;
    return LP_OK;
}

/* Emits the byte above the 40 bits kept, unless it may still take a carry (0xFF): then it
 * waits with the run before it until the carry is known. */
static lp_status shift_low_(lp_range_enc *e) {
    if ((e->low & RANGE_MASK_) < (0xFFull << 40) || (e->low >> 48) != 0) {
        uint8_t carry = (uint8_t)(e->low >> 48), b = e->cache;
        do {
            LP_TRY(put_byte_(e, (uint8_t)(b + carry)));
            b = 0xFF;
        } while (--e->cache_size != 0);
        e->cache = (uint8_t)(e->low >> 40);
    }
    e->cache_size++;
    e->low = (e->low & (RANGE_TOP_ - 1)) << 8;
    return LP_OK;
}

static void start_(lp_range_enc *e) {
    if (e->range) return;
    e->range = RANGE_MASK_;
    e->cache_size = 1; /* the first byte: 0, as the decoder expects */
}

lp_status lp_range_enc_put(lp_range_enc *e, uint32_t cum, uint32_t freq, uint32_t total) {
    if (freq == 0 || cum >= total || freq > total - cum)
        return lp_fail(LP_ERR_INVALID_ARG, "range coder: digit [%u, %u + %u) outside [0, %u)", cum,
                       cum, freq, total);
    start_(e);
    uint64_t r = e->range / total;
    e->low += r * cum;
    e->range = r * freq;
    while (e->range < RANGE_TOP_) {
        e->range <<= 8;
        LP_TRY(shift_low_(e));
    }
    return LP_OK;
}

lp_status lp_range_enc_finish(lp_range_enc *e) {
    start_(e);
    for (int i = 0; i < RANGE_INIT_BYTES_; ++i)
        LP_TRY(shift_low_(e));
    return LP_OK;
}

static lp_status next_byte_(lp_range_dec *d, uint8_t *b) {
    if (d->at >= d->n)
        return lp_fail(LP_ERR_FORMAT, "the coded stream ends early (after %zu bytes)", d->n);
    *b = d->p[d->at++];
    return LP_OK;
}

lp_status lp_range_dec_init(lp_range_dec *d, const uint8_t *p, size_t n) {
    *d = (lp_range_dec){.p = p, .n = n, .range = RANGE_MASK_};
    if (n < RANGE_INIT_BYTES_)
        return lp_fail(LP_ERR_FORMAT, "the coded stream has %zu bytes, expected at least %d", n,
                       RANGE_INIT_BYTES_);
    if (p[0] != 0)
        return lp_fail(LP_ERR_FORMAT, "the coded stream starts with 0x%02x, expected 0x00", p[0]);
    for (int i = 0; i < RANGE_INIT_BYTES_; ++i)
        d->code = d->code << 8 | p[d->at++];
    return LP_OK;
}

lp_status lp_range_dec_peek(lp_range_dec *d, uint32_t total, uint32_t *q) {
    if (total == 0) return lp_fail(LP_ERR_INVALID_ARG, "range decoder: total 0");
    uint64_t r = d->range / total, v = d->code / r;
    if (v >= total)
        return lp_fail(LP_ERR_FORMAT, "the coded stream is damaged (digit %llu of %u at byte %zu)",
                       (unsigned long long)v, total, d->at);
    *q = (uint32_t)v;
    return LP_OK;
}

lp_status lp_range_dec_take(lp_range_dec *d, uint32_t cum, uint32_t freq, uint32_t total) {
    if (freq == 0 || cum >= total || freq > total - cum)
        return lp_fail(LP_ERR_INVALID_ARG, "range decoder: digit [%u, %u + %u) outside [0, %u)",
                       cum, cum, freq, total);
    uint64_t r = d->range / total;
    d->code -= r * cum;
    d->range = r * freq;
    while (d->range < RANGE_TOP_) {
        uint8_t b = 0;
        LP_TRY(next_byte_(d, &b));
        d->code = (d->code << 8 | b) & RANGE_MASK_;
        d->range <<= 8;
    }
    if (d->code >= d->range)
        return lp_fail(LP_ERR_FORMAT, "the coded stream is damaged (at byte %zu)", d->at);
    return LP_OK;
}

/* ---- a Fenwick tree of the unused copies of each symbol (1-based: tree[1..d]) ---------- */

static void tree_build_(uint32_t *tree, const uint32_t *count, uint32_t d) {
    tree[0] = 0;
    for (uint32_t i = 1; i <= d; ++i)
        tree[i] = count[i - 1];
    for (uint32_t i = 1; i <= d; ++i) {
        uint64_t j = (uint64_t)i + (i & -i);
        if (j <= d) tree[j] += tree[i];
    }
}

/* Unused copies of the symbols below s. */
static uint32_t tree_prefix_(const uint32_t *tree, uint32_t s) {
    uint32_t sum = 0;
    for (uint32_t i = s; i > 0; i -= i & -i)
        sum += tree[i];
    return sum;
}

static void tree_remove_one_(uint32_t *tree, uint32_t d, uint32_t s) {
    for (uint64_t i = (uint64_t)s + 1; i <= d; i += i & -i)
        tree[i]--;
}

/* The symbol whose unused copies hold position q (q < all unused copies), and *cum, the
 * unused copies below it: binary lifting down the tree. */
static uint32_t tree_find_(const uint32_t *tree, uint32_t d, uint32_t q, uint32_t *cum) {
    uint32_t pos = 0, step = 1, below = 0;
    while (step <= d / 2)
        step <<= 1;
    for (; step; step >>= 1)
        if ((uint64_t)pos + step <= d && tree[pos + step] <= q) {
            pos += step;
            q -= tree[pos];
            below += tree[pos];
        }
    *cum = below;
    return pos; /* tree index pos + 1, symbol pos */
}

/* Checks that the counts add up to n, then fills the tree and the copies left. */
static lp_status start_counts_(const uint32_t *count, uint32_t d, uint32_t n, uint32_t *tree,
                               uint32_t *left) {
    uint64_t sum = 0;
    for (uint32_t a = 0; a < d; ++a)
        sum += count[a];
    if (sum != n)
        return lp_fail(LP_ERR_INVALID_ARG, "the counts add up to %llu, expected %u",
                       (unsigned long long)sum, n);
    tree_build_(tree, count, d);
    for (uint32_t a = 0; a < d; ++a)
        left[a] = count[a];
    return LP_OK;
}

lp_status lp_perm_encode(lp_range_enc *e, const uint32_t *sym, uint32_t n, const uint32_t *count,
                         uint32_t d, uint32_t *tree, uint32_t *left) {
    LP_TRY(start_counts_(count, d, n, tree, left));
    for (uint32_t j = 0; j < n; ++j) {
        uint32_t s = sym[j];
        if (s >= d || left[s] == 0)
            return lp_fail(LP_ERR_INVALID_ARG,
                           "position %u holds symbol %u: not one of the %u symbols left", j, s, d);
        LP_TRY(lp_range_enc_put(e, tree_prefix_(tree, s), left[s], n - j));
        left[s]--;
        tree_remove_one_(tree, d, s);
    }
    return LP_OK;
}

lp_status lp_perm_decode(lp_range_dec *dec, uint32_t *sym, uint32_t n, const uint32_t *count,
                         uint32_t d, uint32_t *tree, uint32_t *left) {
    LP_TRY(start_counts_(count, d, n, tree, left));
    for (uint32_t j = 0; j < n; ++j) {
        uint32_t q = 0, cum;
        LP_TRY(lp_range_dec_peek(dec, n - j, &q));
        uint32_t s = tree_find_(tree, d, q, &cum);
        LP_ASSERT(s < d && left[s] > 0 && q - cum < left[s]);
        LP_TRY(lp_range_dec_take(dec, cum, left[s], n - j));
        sym[j] = s;
        left[s]--;
        tree_remove_one_(tree, d, s);
    }
    return LP_OK;
}

double lp_perm_bound_bits(const uint32_t *count, uint32_t d) {
    double n = 0, bits = 0;
    for (uint32_t a = 0; a < d; ++a) {
        n += count[a];
        bits -= lgamma((double)count[a] + 1.0);
    }
    return (bits + lgamma(n + 1.0)) / log(2.0);
}
