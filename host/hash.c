/* hash.h: FNV-1a (Fowler, Noll, Vo) and the splitmix64 finaliser. */
#include "hash.h"

#include <string.h>

uint64_t lp_hash_bytes(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; ++i)
        h = (h ^ p[i]) * 0x100000001B3ull;
    return h;
}

uint64_t lp_hash_str(uint64_t h, const char *s) {
    return lp_hash_bytes(h, s, strlen(s) + 1);
}

uint64_t lp_hash_final(uint64_t h) {
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}
