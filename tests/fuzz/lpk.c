/* The .lpk reader on any bytes, as they come and again with the header's size and the
 * CRC-32 made right (so that the fields behind the checksum are reached): it refuses the
 * input with a message that starts with the name, or gives a network whose every tensor
 * holds as many values as its shape, with the model text it was packed with. */
#include <zlib.h>

#include "fuzz.h"
#include "laperm/lpk.h"

static void check_(const uint8_t *data, size_t size) {
    lp_lpk p;
    lp_status s = lp_lpk_load_mem(data, size, "in.lpk", (size_t)1 << 16, &p);
    if (s != LP_OK) {
        FUZZ_CHECK(s == LP_ERR_FORMAT || s == LP_ERR_NO_MEMORY);
        FUZZ_CHECK(strncmp(lp_last_error(), "in.lpk", 6) == 0);
        FUZZ_CHECK(p.weights.n == 0 && p.attrs == NULL && p.weights.model_text == NULL);
        return;
    }
    FUZZ_CHECK(p.weights.n >= 1 && p.weights.model_text != NULL);
    for (int i = 0; i < p.weights.n; ++i) {
        const lp_named_tensor *t = &p.weights.tensors[i];
        size_t count = 1;
        for (int d = 0; d < t->rank; ++d)
            count *= (size_t)t->dims[d];
        FUZZ_CHECK(t->rank >= 1 && t->rank <= 4 && count == t->count && t->data != NULL);
    }
    for (int i = 0; i < p.n_attrs; ++i)
        FUZZ_CHECK(p.attrs[i].name && (p.attrs[i].type != LP_ATTR_STRING || p.attrs[i].s));
    lp_lpk_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check_(data, size);
    if (size < 36) return 0;
    uint8_t *sealed = malloc(size);
    FUZZ_CHECK(sealed != NULL);
    memcpy(sealed, data, size);
    for (int b = 0; b < 8; ++b)
        sealed[16 + b] = (uint8_t)((uint64_t)size >> 8 * b);
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), sealed, (uInt)(size - 4));
    for (int b = 0; b < 4; ++b)
        sealed[size - 4 + b] = (uint8_t)(crc >> 8 * b);
    check_(sealed, size);
    free(sealed);
    return 0;
}
