/* Permutations coded near their information content, log2(n!) bits for n distinct values
 * and log2(n! / (m_1! ... m_d!)) for a multiset with multiplicities m_i: each position's
 * symbol is coded by its rank among the symbols not used yet (the Lehmer code, kept in a
 * Fenwick tree, O(n log n)) with a range coder whose digit ranges are exact: digit i of a
 * group of n lies in [0, n - i) and takes log2(n - i) bits, to within 2^-8 bits (README,
 * "Compact files: .lpk"). Used by the .lpk format (laperm/lpk.h). */
#ifndef LAPERM_PERM_CODE_H
#define LAPERM_PERM_CODE_H

#include <stddef.h>
#include <stdint.h>

#include "laperm/status.h"

/* A range coder over 48 bits (LZMA's carry-less byte output scaled from 32 bits): a digit
 * (cum, freq) of `total` narrows the range to range / total * freq; totals up to 2^32 - 1.
 * Zero-initialise, then lp_range_enc_put ..., lp_range_enc_finish; the bytes are buf[0..len)
 * (malloc'd; the caller frees buf). */
typedef struct {
    uint8_t *buf;
    size_t len, cap;
    uint64_t low, range;
    uint64_t cache_size;
    uint8_t cache;
} lp_range_enc;

/* Codes the digit [cum, cum + freq) of [0, total); 0 < freq, cum + freq <= total. */
lp_status lp_range_enc_put(lp_range_enc *e, uint32_t cum, uint32_t freq, uint32_t total);
/* Flushes the last bytes. */
lp_status lp_range_enc_finish(lp_range_enc *e);

typedef struct {
    const uint8_t *p;
    size_t n, at;
    uint64_t code, range;
} lp_range_dec;

/* Starts reading the stream p[0..n); LP_ERR_FORMAT when it is too short or does not start
 * with the encoder's first byte (0). */
lp_status lp_range_dec_init(lp_range_dec *d, const uint8_t *p, size_t n);
/* The next digit's value in [0, total): *q, then lp_range_dec_take with the digit that
 * holds it. LP_ERR_FORMAT when the stream is damaged (no digit holds it). */
lp_status lp_range_dec_peek(lp_range_dec *d, uint32_t total, uint32_t *q);
/* Consumes the digit [cum, cum + freq) of [0, total) (the one holding the peeked value);
 * LP_ERR_FORMAT when the stream ends early. */
lp_status lp_range_dec_take(lp_range_dec *d, uint32_t cum, uint32_t freq, uint32_t total);

/* Codes sym[0..n), a sequence over the alphabet 0..d-1 holding symbol a exactly count[a]
 * times (so n is the sum of the counts): position j as the digit [rank, rank + left[s]) of
 * [0, n - j), rank = how many of the symbols still unused are smaller than s = sym[j],
 * left[s] = how many copies of s are still unused. With every count 1 (a permutation of
 * 0..n-1) this is the Lehmer code with exact uniform digits. Scratch: `tree` of d + 1
 * entries, `left` of d. LP_ERR_INVALID_ARG when sym does not hold each symbol count[a] times. */
lp_status lp_perm_encode(lp_range_enc *e, const uint32_t *sym, uint32_t n, const uint32_t *count,
                         uint32_t d, uint32_t *tree, uint32_t *left);
/* The inverse: fills sym[0..n). LP_ERR_FORMAT when the stream is damaged or ends early. */
lp_status lp_perm_decode(lp_range_dec *dec, uint32_t *sym, uint32_t n, const uint32_t *count,
                         uint32_t d, uint32_t *tree, uint32_t *left);

/* log2(n! / (count[0]! ... count[d-1]!)), n the sum of the counts: the bits any coder needs
 * on average to tell the arrangements apart (log2(n!) with every count 1). */
double lp_perm_bound_bits(const uint32_t *count, uint32_t d);

#endif
