/* Internal: the one hash laperm keys things with (compiled-program cache files, timed
 * decisions): 64-bit FNV-1a, then a 64-bit finaliser so that every input bit reaches
 * every output bit. Not cryptographic: it detects torn or damaged files (checkpoints,
 * cache entries), not tampering. */
#ifndef LAPERM_HASH_H
#define LAPERM_HASH_H

#include <stddef.h>
#include <stdint.h>

/* The usual FNV-1a start; other seeds give other, independent-enough hashes. */
#define LP_HASH_SEED 0xcbf29ce484222325ull

/* Folds n bytes into the running state h (start with a seed). */
uint64_t lp_hash_bytes(uint64_t h, const void *data, size_t n);
/* Folds a string and its terminating NUL, so ("ab", "c") and ("a", "bc") differ. */
uint64_t lp_hash_str(uint64_t h, const char *s);
/* The finished value of a running state. */
uint64_t lp_hash_final(uint64_t h);

#endif
