/* The IDX reader on any file, plain or gzipped (zlib reads both): it refuses it with a
 * message that starts with the path, or the array holds exactly the bytes its header
 * describes. */
#include "fuzz.h"
#include "laperm/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file("input.idx", data, size);
    lp_idx idx;
    lp_status s = lp_idx_read(path, &idx);
    if (s != LP_OK) {
        FUZZ_CHECK(s == LP_ERR_FORMAT || s == LP_ERR_NO_MEMORY);
        FUZZ_CHECK(strncmp(lp_last_error(), path, strlen(path)) == 0);
        FUZZ_CHECK(idx.data == NULL && idx.size == 0 && idx.ndims == 0);
        return 0;
    }
    FUZZ_CHECK(idx.ndims >= 1 && idx.ndims <= 4 && idx.data != NULL);
    size_t want = 1;
    for (int i = 0; i < 4; ++i) {
        FUZZ_CHECK(i < idx.ndims ? idx.dims[i] > 0 : idx.dims[i] == 0);
        if (i < idx.ndims) want *= idx.dims[i];
    }
    FUZZ_CHECK(idx.size == want);
    /* A plain file holds the header, then exactly the data. */
    if (size >= 2 && !(data[0] == 0x1f && data[1] == 0x8b)) {
        size_t header = 4 + 4 * (size_t)idx.ndims;
        FUZZ_CHECK(size == header + idx.size && memcmp(idx.data, data + header, idx.size) == 0);
    }
    lp_idx_free(&idx);
    FUZZ_CHECK(idx.data == NULL);
    return 0;
}
