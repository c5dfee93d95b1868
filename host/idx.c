/* Reader for IDX files (the MNIST format), plain or gzipped. Sizes are checked strictly so
 * that a truncated download or a wrong file is reported instead of silently trained on. */
#include "laperm/data.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* gzread counts in unsigned int: large arrays are read in slices of at most this. */
#define SLICE_ (1u << 30)
/* The buffer grows from this size as data arrives, so a corrupt header that claims
 * terabytes fails on the short data, not on a huge allocation. */
#define FIRST_CAP_ ((size_t)1 << 20)

/* Reads up to `len` bytes; *got < len only at the end of the data. zlib reads plain files
 * too (gzip is recognised by its 1f 8b magic), so there is one path for both. */
static lp_status read_(gzFile gz, const char *path, void *buf, size_t len, size_t *got) {
    *got = 0;
    while (*got < len) {
        size_t want = len - *got < SLICE_ ? len - *got : SLICE_;
        int n = gzread(gz, (uint8_t *)buf + *got, (unsigned)want);
        int saved_errno = errno;
        int err = Z_OK;
        const char *msg = gzerror(gz, &err);
        switch (err) {
        case Z_OK:
            break;
        case Z_ERRNO:
            return lp_fail(LP_ERR_IO, "%s: read failed: %s", path, strerror(saved_errno));
        case Z_MEM_ERROR:
            return lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory in zlib", path);
        case Z_BUF_ERROR:
            return lp_fail(LP_ERR_FORMAT, "%s: gzip data ends unexpectedly (truncated file?)",
                           path);
        default: {
            /* zlib prefixes its own name for the file ("<fd:3>: "); ours is the path */
            const char *reason = strstr(msg, ": ");
            return lp_fail(LP_ERR_FORMAT, "%s: corrupt gzip data: %s", path,
                           reason ? reason + 2 : msg);
        }
        }
        if (n <= 0) break;
        *got += (size_t)n;
    }
    return LP_OK;
}

static const char *type_name_(int code) {
    switch (code) {
    case 0x08:
        return "unsigned byte";
    case 0x09:
        return "signed byte";
    case 0x0B:
        return "short";
    case 0x0C:
        return "int";
    case 0x0D:
        return "float";
    case 0x0E:
        return "double";
    }
    return "unknown";
}

/* "60000x28x28", for messages. */
static const char *dims_text_(const lp_idx *idx, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < idx->ndims && len < cap; ++i)
        len += (size_t)snprintf(buf + len, cap - len, i ? "x%u" : "%u", (unsigned)idx->dims[i]);
    return buf;
}

static lp_status read_header_(gzFile gz, const char *path, lp_idx *out, size_t *header_bytes) {
    uint8_t head[4 + 4 * 4];
    size_t got;
    LP_TRY(read_(gz, path, head, 4, &got));
    if (got < 4)
        return lp_fail(LP_ERR_FORMAT, "%s: file ends inside the IDX header, after %zu bytes", path,
                       got);
    if (head[0] != 0 || head[1] != 0)
        return lp_fail(LP_ERR_FORMAT,
                       "%s: not an IDX file: it starts with bytes %02x %02x, expected 00 00", path,
                       head[0], head[1]);
    if (head[2] != 0x08)
        return lp_fail(LP_ERR_FORMAT,
                       "%s: IDX type code 0x%02x (%s) is not supported, only 0x08 (unsigned byte)",
                       path, head[2], type_name_(head[2]));
    int ndims = head[3];
    if (ndims < 1 || ndims > 4)
        return lp_fail(LP_ERR_FORMAT, "%s: IDX dimension count is %d, expected 1 to 4", path,
                       ndims);
    *header_bytes = 4 + 4 * (size_t)ndims;
    LP_TRY(read_(gz, path, head + 4, 4 * (size_t)ndims, &got));
    if (got < 4 * (size_t)ndims)
        return lp_fail(LP_ERR_FORMAT, "%s: file ends inside the IDX header, after %zu bytes", path,
                       4 + got);

    out->ndims = ndims;
    out->size = 1;
    for (int i = 0; i < ndims; ++i) {
        const uint8_t *b = head + 4 + 4 * i; /* big-endian */
        out->dims[i] = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        if (out->dims[i] == 0)
            return lp_fail(LP_ERR_FORMAT, "%s: IDX dimension %d of %d is 0", path, i + 1, ndims);
    }
    for (int i = 0; i < ndims; ++i) {
        if (out->dims[i] > SIZE_MAX / out->size) {
            char dims[64];
            return lp_fail(LP_ERR_FORMAT, "%s: IDX dimensions %s are too large to address", path,
                           dims_text_(out, dims, sizeof dims));
        }
        out->size *= out->dims[i];
    }
    return LP_OK;
}

/* Fills out->data with exactly out->size bytes and checks that nothing follows. */
static lp_status read_data_(gzFile gz, const char *path, lp_idx *out, size_t header_bytes) {
    size_t total = out->size, have = 0, cap = 0, got;
    for (;;) {
        if (have == cap) {
            cap = cap == 0 ? (total < FIRST_CAP_ ? total : FIRST_CAP_)
                           : (cap > total / 2 ? total : cap * 2);
            uint8_t *grown = realloc(out->data, cap);
            if (!grown)
                return lp_fail(LP_ERR_NO_MEMORY, "%s: cannot allocate %zu bytes", path, cap);
            out->data = grown;
        }
        LP_TRY(read_(gz, path, out->data + have, cap - have, &got));
        have += got;
        if (have == total || have < cap) break; /* complete, or end of file */
    }
    if (have < total)
        return lp_fail(LP_ERR_FORMAT,
                       "%s: expected %zu bytes of data after the %zu-byte header, found %zu", path,
                       total, header_bytes, have);

    uint8_t scratch[1 << 16];
    size_t extra = 0;
    do {
        LP_TRY(read_(gz, path, scratch, sizeof scratch, &got));
        extra += got;
    } while (got == sizeof scratch);
    if (extra > 0) {
        char dims[64];
        return lp_fail(LP_ERR_FORMAT,
                       "%s: %zu extra bytes after the data (the header describes %s = %zu bytes)",
                       path, extra, dims_text_(out, dims, sizeof dims), total);
    }
    return LP_OK;
}

lp_status lp_idx_read(const char *path, lp_idx *out) {
    if (!path || !out) return lp_fail(LP_ERR_INVALID_ARG, "lp_idx_read: path and out are required");
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return lp_fail(LP_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        return lp_fail(LP_ERR_NO_MEMORY, "%s: cannot start the zlib reader", path);
    }
    gzbuffer(gz, 1 << 17); /* fewer read() calls than zlib's 8 KiB default */
    size_t header_bytes = 0;
    lp_status s = read_header_(gz, path, out, &header_bytes);
    if (s == LP_OK) s = read_data_(gz, path, out, header_bytes);
    gzclose(gz);
    if (s != LP_OK) lp_idx_free(out);
    return s;
}

void lp_idx_free(lp_idx *idx) {
    if (!idx) return;
    free(idx->data);
    memset(idx, 0, sizeof *idx);
}
