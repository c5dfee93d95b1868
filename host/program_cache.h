/* Internal: the layout of one compiled-program file of the disk cache (program_cache.c),
 * for the tests that damage such files on purpose. Every field is checked before the
 * device binary reaches the driver, which may crash on a cut or foreign one. */
#ifndef LAPERM_PROGRAM_CACHE_H
#define LAPERM_PROGRAM_CACHE_H

#include <stdint.h>

/* An entry is a header of LP_CACHE_HEADER_BYTES, then the program's kernel names
 * (names_len bytes: sorted, joined by ';', no NUL), then the device binary
 * (payload_len bytes). Integers are little-endian:
 *   0  magic, the 8 bytes of LP_CACHE_MAGIC
 *   8  u32 LP_CACHE_ENTRY_VERSION
 *   12 u32 names_len
 *   16 u64 key_a, 24 u64 key_b: the cache key the file name carries, so an entry copied
 *      under another name is foreign
 *   32 u64 payload_len
 *   40 u64 lp_hash_final(lp_hash_bytes(lp_hash_bytes(LP_HASH_SEED, names), payload)) */
#define LP_CACHE_MAGIC "LPCLPROG"
#define LP_CACHE_ENTRY_VERSION 1u
#define LP_CACHE_HEADER_BYTES 48
#define LP_CACHE_OFF_VERSION 8
#define LP_CACHE_OFF_NAMES_LEN 12
#define LP_CACHE_OFF_KEY 16
#define LP_CACHE_OFF_PAYLOAD_LEN 32
#define LP_CACHE_OFF_HASH 40

/* The header's little-endian fields. */
static inline void lp_cache_put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; ++i)
        p[i] = (unsigned char)(v >> (8 * i));
}
static inline void lp_cache_put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; ++i)
        p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint32_t lp_cache_get_u32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i)
        v = (v << 8) | p[i];
    return v;
}
static inline uint64_t lp_cache_get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i)
        v = (v << 8) | p[i];
    return v;
}

#endif
