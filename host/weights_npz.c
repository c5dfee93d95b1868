/* A NumPy .npz of a network's weights: a zip archive (stored, not compressed) of .npy
 * files (format version 1.0), one per tensor, named <layer>.<name> with PyTorch's tensor
 * names (README, "laperm export"). laperm's layouts are PyTorch's already: dense (out,
 * in), conv (cout, cin, kh, kw). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keras_layout.h"
#include "laperm/weights.h"
#include "out_file.h"

/* PyTorch's name of one of our tensors. */
static const char *torch_name_(const char *ours) {
    if (!strcmp(ours, "kernel") || !strcmp(ours, "gamma")) return "weight";
    if (!strcmp(ours, "beta")) return "bias";
    return ours; /* bias, running_mean, running_var */
}

static uint32_t crc32_(uint32_t crc, const unsigned char *p, size_t n) {
    static uint32_t table[256];
    if (!table[1])
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k)
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    crc = ~crc;
    for (size_t i = 0; i < n; ++i)
        crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

static void le16_(unsigned char *p, unsigned v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static void le32_(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; ++i)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* The .npy header (magic, version 1.0, length, dict padded with spaces to a multiple of
 * 64 bytes and ending in a newline) of a little-endian float32 C-order array. */
static size_t npy_header_(const lp_named_tensor *t, unsigned char *out, size_t cap) {
    char dict[256], shape[128] = "";
    for (int d = 0; d < t->rank; ++d)
        snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%d,%s", t->dims[d],
                 d + 1 < t->rank ? " " : "");
    if (t->rank > 1) shape[strlen(shape) - 1] = '\0'; /* (2, 3) but (5,) */
    int len = snprintf(dict, sizeof dict,
                       "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", shape);
    size_t total = 10 + (size_t)len + 1;
    total = (total + 63) / 64 * 64;
    if (total > cap) return 0;
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    le16_(out + 8, (unsigned)(total - 10));
    memset(out + 10, ' ', total - 10);
    memcpy(out + 10, dict, (size_t)len);
    out[total - 1] = '\n';
    return total;
}

typedef struct {
    char name[96];
    uint32_t crc, size, offset;
} entry_;

/* w's tensors in the model's order (keras_layout.h lists each layer's, BatchNorm
 * statistics included), so that the same network gives the same file whatever it was
 * read from. */
static lp_status in_model_order_(const lp_weights *w, const lp_model_spec *m,
                                 const lp_named_tensor ***out, int *n) {
    lp_keras_layer *k;
    int nk;
    LP_TRY(lp_keras_layers(m, &k, &nk));
    const lp_named_tensor **list = calloc((size_t)nk * LP_KERAS_TENSORS_MAX + 1, sizeof *list);
    lp_status s = list ? LP_OK : lp_fail(LP_ERR_NO_MEMORY, "out of memory");
    *n = 0;
    for (int i = 0; s == LP_OK && i < nk; ++i)
        for (int j = 0; s == LP_OK && j < k[i].n; ++j) {
            const char *layer = m->layers[k[i].layer].name;
            const lp_named_tensor *t = lp_weights_find(w, layer, k[i].ours[j]);
            if (!t)
                s = lp_fail(LP_ERR_NOT_FOUND, "the weights have no layer '%s' %s", layer,
                            k[i].ours[j]);
            else
                list[(*n)++] = t;
        }
    free(k);
    if (s != LP_OK) free(list);
    *out = s == LP_OK ? list : NULL;
    return s;
}

lp_status lp_weights_write_npz(const lp_weights *w, const lp_model_spec *m, const char *path) {
    const lp_named_tensor **order;
    int count;
    LP_TRY(in_model_order_(w, m, &order, &count));
    char part[4200];
    lp_status s = lp_out_file_begin(path, part, sizeof part);
    if (s != LP_OK) {
        free(order);
        return s;
    }
    FILE *fp = fopen(part, "wb");
    if (!fp) {
        free(order);
        return lp_fail(LP_ERR_IO, "%s: cannot create", part);
    }
    entry_ *e = calloc((size_t)count + 1, sizeof *e);
    if (!e) s = lp_fail(LP_ERR_NO_MEMORY, "out of memory");
    uint64_t at = 0;
    for (int i = 0; s == LP_OK && i < count; ++i) {
        const lp_named_tensor *t = order[i];
        unsigned char head[256], local[30];
        size_t hl = npy_header_(t, head, sizeof head);
        snprintf(e[i].name, sizeof e[i].name, "%s.%s.npy", t->layer, torch_name_(t->name));
        uint64_t size = hl + t->count * sizeof(float);
        if (at + size + 200 > 0xFFFFFFFFu) {
            s = lp_fail(LP_ERR_UNSUPPORTED, "%s: more than 4 GiB of weights (zip64 is not written)",
                        path);
            break;
        }
        /* the data as little-endian float32 bytes */
        unsigned char *data = malloc(t->count * 4 + 1);
        if (!data) {
            s = lp_fail(LP_ERR_NO_MEMORY, "out of memory");
            break;
        }
        for (size_t j = 0; j < t->count; ++j) {
            uint32_t b;
            memcpy(&b, &t->data[j], 4);
            le32_(data + 4 * j, b);
        }
        e[i].crc = crc32_(crc32_(0, head, hl), data, t->count * 4);
        e[i].size = (uint32_t)size;
        e[i].offset = (uint32_t)at;
        size_t nl = strlen(e[i].name);
        memset(local, 0, sizeof local);
        le32_(local, 0x04034b50u);
        le16_(local + 4, 20); /* version needed: 2.0 */
        le32_(local + 14, e[i].crc);
        le32_(local + 18, e[i].size);
        le32_(local + 22, e[i].size);
        le16_(local + 26, (unsigned)nl);
        bool ok = fwrite(local, 1, 30, fp) == 30 && fwrite(e[i].name, 1, nl, fp) == nl &&
                  fwrite(head, 1, hl, fp) == hl &&
                  fwrite(data, 1, t->count * 4, fp) == t->count * 4;
        free(data);
        if (!ok) s = lp_fail(LP_ERR_IO, "%s: write failed", part);
        at += 30 + nl + size;
    }
    uint64_t dir_at = at, dir_size = 0;
    for (int i = 0; s == LP_OK && i < count; ++i) {
        unsigned char c[46] = {0};
        size_t nl = strlen(e[i].name);
        le32_(c, 0x02014b50u);
        le16_(c + 4, 20);
        le16_(c + 6, 20);
        le32_(c + 16, e[i].crc);
        le32_(c + 20, e[i].size);
        le32_(c + 24, e[i].size);
        le16_(c + 28, (unsigned)nl);
        le32_(c + 42, e[i].offset);
        if (fwrite(c, 1, 46, fp) != 46 || fwrite(e[i].name, 1, nl, fp) != nl)
            s = lp_fail(LP_ERR_IO, "%s: write failed", part);
        dir_size += 46 + nl;
    }
    if (s == LP_OK) {
        unsigned char end[22] = {0};
        le32_(end, 0x06054b50u);
        le16_(end + 8, (unsigned)count);
        le16_(end + 10, (unsigned)count);
        le32_(end + 12, (uint32_t)dir_size);
        le32_(end + 16, (uint32_t)dir_at);
        if (fwrite(end, 1, 22, fp) != 22) s = lp_fail(LP_ERR_IO, "%s: write failed", part);
    }
    if (fclose(fp) != 0 && s == LP_OK) s = lp_fail(LP_ERR_IO, "%s: write failed", part);
    free(e);
    free(order);
    if (s != LP_OK) {
        remove(part);
        return s;
    }
    return lp_out_file_commit(part, path);
}
