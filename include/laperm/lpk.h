/* The .lpk file: a LaPerm network in a few bits per weight (README, "Compact files:
 * .lpk"). A LaPerm-trained network is a permutation of its initial weights, and those come
 * from the seed, so the file holds the model text, the root attributes that regenerate the
 * initial values (laperm/init.h: lp_init_run_values), a hash of them, one coded
 * permutation per LaPerm group (laperm/perm_code.h) and every other tensor as float32.
 *
 * Layout, every integer little-endian (format version 1):
 *   offset  size  field
 *   0       8     magic 89 4C 50 4B 0D 0A 1A 0A ("\x89LPK\r\n\x1a\n")
 *   8       4     u32 format version, 1
 *   12      4     u32 flags: bit 0 set = the initial values of the permuted tensors are
 *                 stored (a run they cannot be regenerated for, such as --init-from);
 *                 clear = regenerated from the attributes. Other bits 0.
 *   16      8     u64 file size: every byte, this header and the checksum included
 *   24      8     u64 init hash: lp_hash_final(lp_hash_bytes(LP_HASH_SEED, ...)) (host/hash.h)
 *                 over the initial values of the permuted tensors, in the model's tensor
 *                 order, each float32 as 4 bytes little-endian
 *   32      4     u32 L, the model text's length, 1 to 2^24
 *   36      L     the model text (as in the results file's /model_text)
 *   then    4     u32 A, attributes, 0 to 64; each: u8 name length 1 to 63, the name,
 *                 u8 type (0 string, 1 int64, 2 float64), the value (string: u32 length 0
 *                 to 65535 and the bytes; int64 and float64: 8 bytes)
 *   then    4     u32 T, tensors, 1 to 65536; each:
 *                   u8 length 1 to 47 and the layer name; u8 length 1 to 15 and the
 *                   tensor name; u8 rank 1 to 4; rank x u32 dims (each >= 1, product
 *                   < 2^31); u8 coding:
 *                   0 (values): product x float32;
 *                   1 (permutation): u32 groups, u32 group size (their product is the
 *                     tensor's size); with flag bit 0, product x float32 initial values;
 *                     u64 P and P bytes: the groups one after the other in one range-coded
 *                     stream (lp_perm_encode: group g's values as symbols over the distinct
 *                     values of its sorted initial values, counts their multiplicities)
 *   last    4     u32 CRC-32 (zlib's crc32) of every byte before it
 * Tensors: every parameter tensor of the model exactly once, coded 1 exactly when the
 * attributes make it permuted (lp_init_permuted), with lp_init_groups' groups; the layers'
 * state tensors (BatchNorm running_mean, running_var) coded 0. */
#ifndef LAPERM_LPK_H
#define LAPERM_LPK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "laperm/results.h"
#include "laperm/weights.h"

#define LP_LPK_VERSION 1
#define LP_LPK_MAGIC "\x89LPK\r\n\x1a\n"

/* What to pack: the network (every tensor by name), the model text, the root attributes
 * to keep (those lp_init_setup_from_attrs reads, and any others), and the initial values
 * laid out by the model's parameter table (only the permuted tensors' are read). */
typedef struct {
    const char *model_text;
    const lp_attr *attrs;
    int n_attrs;
    const lp_weights *weights;
    const float *init;
    bool init_raw; /* store the initial values (they cannot be regenerated) */
} lp_lpk_input;

typedef struct {
    size_t file_bytes;    /* the .lpk */
    size_t fp32_bytes;    /* every tensor as float32 */
    size_t coded_bytes;   /* the permutations' streams */
    size_t raw_bytes;     /* tensors stored as float32 */
    size_t init_bytes;    /* initial values stored (flag bit 0) */
    long long groups;     /* LaPerm groups coded */
    long long permuted;   /* values in them */
    double bound_bits;    /* sum over the groups of log2(n!) */
    double multiset_bits; /* sum of log2(n! / prod m_i!): the bound with repeated values */
} lp_lpk_sizes;

/* Writes `path` (through <path>.part, fsynced and renamed: never half a file). Checks the
 * model, the attributes and that each permuted group holds its initial values in some
 * order (LP_ERR_FORMAT naming the tensor, group and element otherwise). sizes may be
 * NULL. */
lp_status lp_lpk_write(const char *path, const lp_lpk_input *in, lp_lpk_sizes *sizes);

/* A read .lpk: the network (with its model text) and the attributes it carries. */
typedef struct {
    lp_weights weights;
    lp_attr *attrs; /* names and strings owned */
    int n_attrs;
    bool init_raw;
    uint64_t init_hash;
} lp_lpk;

/* Whether `path` starts with the .lpk magic. */
bool lp_lpk_is(const char *path);

/* Reads and decodes `path`. The magic, version, size and CRC-32 are checked before
 * anything is decoded; then every count and length against what is left of the file
 * before anything is allocated. The initial values are regenerated (or read) and their
 * hash compared with the stored one. Every failure is LP_ERR_FORMAT (LP_ERR_IO: cannot
 * read, LP_ERR_NOT_FOUND: no file) with a message naming the file, the offset and the
 * field. Free with lp_lpk_free. */
lp_status lp_lpk_load(const char *path, lp_lpk *out);
/* The same from memory; `name` names it in messages and the model may hold at most
 * max_params parameters (lp_lpk_load: 2^31). For the fuzz target and tests. */
lp_status lp_lpk_load_mem(const uint8_t *data, size_t n, const char *name, size_t max_params,
                          lp_lpk *out);
void lp_lpk_free(lp_lpk *p);

/* The network alone (tensors and model text), as the weights loaders give it. */
lp_status lp_lpk_read(const char *path, lp_weights *out);

/* `laperm pack`: the network of results file `results` (/weights, or snapshot `snapshot`
 * (0-based, -1 the last) when `use_snapshot`) to `out`. The initial values are
 * regenerated and compared with the file's /init; where they cannot be (--init-from) or
 * differ, they are stored and `init_note` says why (else it is ""). The file written is
 * read back and compared with the network bit for bit (removed if it differs). `source` says which
 * network was packed ("/weights", "snapshot 4 (epoch 5, step 2345)", "/best"). */
typedef struct {
    bool use_snapshot;
    long long snapshot;
    int epoch; /* > 0: the snapshot recording the end of this epoch (1-based) */
    bool best; /* the best evaluation's network, /best (--save-best runs; whole: valid = 1) */
} lp_lpk_pack_opts;
typedef struct {
    lp_lpk_sizes sizes;
    char source[96];
    char init_note[256];
} lp_lpk_pack_report;
lp_status lp_lpk_pack(const char *results, const lp_lpk_pack_opts *opts, const char *out,
                      lp_lpk_pack_report *report);

/* `laperm unpack`: writes HDF5 file `out` (through <out>.part, renamed when whole) with
 * /weights/<layer>/<tensor> laid out as a results file's /weights, /model_text and the
 * .lpk's attributes as root attributes. */
lp_status lp_lpk_unpack(const char *lpk, const char *out);

#endif
