/* The .lpk format (laperm/lpk.h has the layout byte by byte): writing a network as coded
 * permutations of its initial values, and reading it back with every length checked. */
#include "laperm/lpk.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "fs.h"
#include "hash.h"
#include "laperm/float_order.h"
#include "laperm/init.h"
#include "laperm/perm_code.h"

#define HEADER_BYTES_ 32
#define MODEL_TEXT_MAX_ (1u << 24)
#define ATTRS_MAX_ 64
#define ATTR_NAME_MAX_ 63
#define ATTR_STRING_MAX_ 65535u
#define TENSORS_MAX_ 65536u
#define CODING_VALUES_ 0
#define CODING_PERMUTATION_ 1
#define FLAG_INIT_RAW_ 1u

/* ---- bytes out ------------------------------------------------------------------------ */

typedef struct {
    uint8_t *p;
    size_t n, cap;
} out_;

static lp_status put_(out_ *o, const void *d, size_t n) {
    if (n > o->cap - o->n) {
        size_t cap = o->cap ? o->cap : 4096;
        while (n > cap - o->n)
            cap *= 2;
        uint8_t *grown = realloc(o->p, cap);
        if (!grown) return lp_fail(LP_ERR_NO_MEMORY, ".lpk: out of memory (%zu bytes)", cap);
        o->p = grown;
        o->cap = cap;
    }
    memcpy(o->p + o->n, d, n);
    o->n += n;
    return LP_OK;
}

static void le_(uint8_t *b, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i)
        b[i] = (uint8_t)(v >> 8 * i);
}

static lp_status put_uint_(out_ *o, uint64_t v, int bytes) {
    uint8_t b[8];
    le_(b, v, bytes);
    return put_(o, b, (size_t)bytes);
}

static uint32_t bits_(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float float_(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static lp_status put_floats_(out_ *o, const float *x, size_t n) {
    for (size_t i = 0; i < n; ++i)
        LP_TRY(put_uint_(o, bits_(x[i]), 4));
    return LP_OK;
}

static lp_status put_name_(out_ *o, const char *s) {
    LP_TRY(put_uint_(o, strlen(s), 1));
    return put_(o, s, strlen(s));
}

/* ---- shared by both directions --------------------------------------------------------- */

/* The init hash: the permuted tensors' initial values, in table order, as LE bytes. */
static uint64_t init_hash_(const lp_init_setup *s, const lp_param_tensor *t, int n,
                           const float *init) {
    uint64_t h = LP_HASH_SEED;
    for (int i = 0; i < n; ++i) {
        if (!lp_init_permuted(s, &t[i])) continue;
        for (size_t j = 0; j < t[i].count; ++j) {
            uint8_t b[4];
            le_(b, bits_(init[t[i].offset + j]), 4);
            h = lp_hash_bytes(h, b, 4);
        }
    }
    return lp_hash_final(h);
}

/* CRC-32 of p[0..n); zlib's crc32 takes at most 4 GiB per call, so fold in pieces. */
static uint32_t crc_(const uint8_t *p, size_t n) {
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t at = 0; at < n; at += 1u << 30) {
        size_t len = n - at < (1u << 30) ? n - at : (1u << 30);
        crc = crc32(crc, p + at, (uInt)len);
    }
    return (uint32_t)crc;
}

static int cmp_u32_(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* A group's alphabet: the distinct keys of its initial values, ascending, in key[0..*d),
 * and how often each occurs in count[0..*d). key holds n entries. */
static void alphabet_(const float *init, uint32_t n, uint32_t *key, uint32_t *count, uint32_t *d) {
    for (uint32_t j = 0; j < n; ++j)
        key[j] = lp_float_sort_key(init[j]);
    qsort(key, n, sizeof *key, cmp_u32_);
    uint32_t k = 0;
    for (uint32_t j = 0; j < n; ++j) {
        if (k && key[k - 1] == key[j]) {
            count[k - 1]++;
            continue;
        }
        key[k] = key[j];
        count[k++] = 1;
    }
    *d = k;
}

/* Scratch of one group: keys, counts, symbols, the coder's tree and counts left. */
typedef struct {
    uint32_t *key, *count, *sym, *tree, *left;
} scratch_;

static lp_status scratch_alloc_(scratch_ *s, size_t n) {
    s->key = malloc(n * sizeof *s->key);
    s->count = malloc(n * sizeof *s->count);
    s->sym = malloc(n * sizeof *s->sym);
    s->tree = malloc((n + 1) * sizeof *s->tree);
    s->left = malloc(n * sizeof *s->left);
    if (!s->key || !s->count || !s->sym || !s->tree || !s->left)
        return lp_fail(LP_ERR_NO_MEMORY, ".lpk: out of memory for a group of %zu values", n);
    return LP_OK;
}

static void scratch_free_(scratch_ *s) {
    free(s->key), free(s->count), free(s->sym), free(s->tree), free(s->left);
}

/* ---- writing -------------------------------------------------------------------------- */

/* One permuted tensor's groups into one stream. */
static lp_status encode_tensor_(const lp_param_tensor *p, const char *layer, int groups, int gs,
                                const float *init, const float *w, scratch_ *sc, lp_range_enc *e,
                                lp_lpk_sizes *sz) {
    for (int g = 0; g < groups; ++g) {
        size_t base = (size_t)g * (size_t)gs;
        uint32_t d;
        alphabet_(init + base, (uint32_t)gs, sc->key, sc->count, &d);
        for (int j = 0; j < gs; ++j) {
            uint32_t k = lp_float_sort_key(w[base + (size_t)j]);
            const uint32_t *at = bsearch(&k, sc->key, d, sizeof k, cmp_u32_);
            if (!at)
                return lp_fail(LP_ERR_FORMAT,
                               "%s/%s group %d element %d (0x%08x) is not one of the group's "
                               "initial values: not a LaPerm permutation of them",
                               layer, p->name, g, j, (unsigned)bits_(w[base + (size_t)j]));
            sc->sym[j] = (uint32_t)(at - sc->key);
        }
        if (lp_perm_encode(e, sc->sym, (uint32_t)gs, sc->count, d, sc->tree, sc->left) != LP_OK)
            return lp_fail_context(
                LP_ERR_FORMAT, "%s/%s group %d is not a permutation of its initial values: ", layer,
                p->name, g);
        sz->bound_bits += lgamma((double)gs + 1.0) / log(2.0);
        sz->multiset_bits += lp_perm_bound_bits(sc->count, d);
    }
    sz->groups += groups;
    sz->permuted += (long long)p->count;
    return LP_OK;
}

static bool same_shape_(const lp_named_tensor *w, const lp_param_tensor *p) {
    bool same = w->rank == p->rank;
    for (int d = 0; same && d < p->rank; ++d)
        same = w->dims[d] == p->dims[d];
    return same;
}

static lp_status put_tensor_head_(out_ *o, const char *layer, const char *name, int rank,
                                  const int *dims, int coding) {
    LP_TRY(put_name_(o, layer));
    LP_TRY(put_name_(o, name));
    LP_TRY(put_uint_(o, (uint64_t)rank, 1));
    for (int d = 0; d < rank; ++d)
        LP_TRY(put_uint_(o, (uint64_t)dims[d], 4));
    return put_uint_(o, (uint64_t)coding, 1);
}

static lp_status put_attrs_(out_ *o, const lp_attr *a, int n) {
    if (n > ATTRS_MAX_)
        return lp_fail(LP_ERR_INVALID_ARG, ".lpk: %d attributes, at most %d", n, ATTRS_MAX_);
    LP_TRY(put_uint_(o, (uint64_t)n, 4));
    for (int i = 0; i < n; ++i) {
        size_t len = strlen(a[i].name);
        if (len < 1 || len > ATTR_NAME_MAX_)
            return lp_fail(LP_ERR_INVALID_ARG, ".lpk: attribute name '%s' is not 1 to %d bytes",
                           a[i].name, ATTR_NAME_MAX_);
        LP_TRY(put_name_(o, a[i].name));
        LP_TRY(put_uint_(o, (uint64_t)a[i].type, 1));
        if (a[i].type == LP_ATTR_STRING) {
            size_t sl = strlen(a[i].s);
            if (sl > ATTR_STRING_MAX_)
                return lp_fail(LP_ERR_INVALID_ARG, ".lpk: attribute '%s' is longer than %u bytes",
                               a[i].name, ATTR_STRING_MAX_);
            LP_TRY(put_uint_(o, sl, 4));
            LP_TRY(put_(o, a[i].s, sl));
        } else if (a[i].type == LP_ATTR_INT) {
            LP_TRY(put_uint_(o, (uint64_t)a[i].i, 8));
        } else {
            uint64_t u;
            memcpy(&u, &a[i].d, sizeof u);
            LP_TRY(put_uint_(o, u, 8));
        }
    }
    return LP_OK;
}

/* The body after the header: model text, attributes, tensors. */
static lp_status write_body_(out_ *o, const lp_lpk_input *in, const lp_model_spec *m,
                             const lp_param_tensor *t, int nt, const lp_init_setup *setup,
                             lp_lpk_sizes *sz) {
    size_t text_len = strlen(in->model_text);
    if (text_len < 1 || text_len > MODEL_TEXT_MAX_)
        return lp_fail(LP_ERR_INVALID_ARG, ".lpk: the model text has %zu bytes, expected 1 to %u",
                       text_len, MODEL_TEXT_MAX_);
    LP_TRY(put_uint_(o, text_len, 4));
    LP_TRY(put_(o, in->model_text, text_len));
    LP_TRY(put_attrs_(o, in->attrs, in->n_attrs));
    const lp_weights *w = in->weights;
    int extra = 0;
    for (int i = 0; i < w->n; ++i) {
        bool param = false;
        for (int k = 0; k < nt && !param; ++k)
            param = !strcmp(w->tensors[i].layer, m->layers[t[k].layer].name) &&
                    !strcmp(w->tensors[i].name, t[k].name);
        extra += !param;
    }
    LP_TRY(put_uint_(o, (uint64_t)(nt + extra), 4));
    scratch_ sc = {0};
    lp_status s = LP_OK;
    for (int k = 0; s == LP_OK && k < nt; ++k) {
        const lp_param_tensor *p = &t[k];
        const char *layer = m->layers[p->layer].name;
        const lp_named_tensor *have = lp_weights_find(w, layer, p->name);
        if (!have) {
            s = lp_fail(LP_ERR_FORMAT, "no tensor %s/%s in the network", layer, p->name);
            break;
        }
        if (!same_shape_(have, p)) {
            char a[64], b[64];
            s = lp_fail(LP_ERR_FORMAT, "%s/%s is %s in the network but %s in the model", layer,
                        p->name, lp_dims_str(have->rank, have->dims, a, 64),
                        lp_dims_str(p->rank, p->dims, b, 64));
            break;
        }
        sz->fp32_bytes += p->count * 4;
        if (!lp_init_permuted(setup, p)) {
            s = put_tensor_head_(o, layer, p->name, p->rank, p->dims, CODING_VALUES_);
            if (s == LP_OK) s = put_floats_(o, have->data, p->count);
            sz->raw_bytes += p->count * 4;
            continue;
        }
        int groups, gs;
        lp_init_groups(setup, p, &groups, &gs);
        s = put_tensor_head_(o, layer, p->name, p->rank, p->dims, CODING_PERMUTATION_);
        if (s == LP_OK) s = put_uint_(o, (uint64_t)groups, 4);
        if (s == LP_OK) s = put_uint_(o, (uint64_t)gs, 4);
        if (s == LP_OK && in->init_raw) {
            s = put_floats_(o, in->init + p->offset, p->count);
            sz->init_bytes += p->count * 4;
        }
        scratch_free_(&sc);
        memset(&sc, 0, sizeof sc);
        if (s == LP_OK) s = scratch_alloc_(&sc, (size_t)gs);
        lp_range_enc e = {0};
        if (s == LP_OK)
            s = encode_tensor_(p, layer, groups, gs, in->init + p->offset, have->data, &sc, &e, sz);
        if (s == LP_OK) s = lp_range_enc_finish(&e);
        if (s == LP_OK) s = put_uint_(o, e.len, 8);
        if (s == LP_OK) s = put_(o, e.buf, e.len);
        sz->coded_bytes += e.len;
        free(e.buf);
    }
    scratch_free_(&sc);
    /* The state tensors (and anything else the network holds): float32. */
    for (int i = 0; s == LP_OK && i < w->n; ++i) {
        const lp_named_tensor *x = &w->tensors[i];
        bool param = false;
        for (int k = 0; k < nt && !param; ++k)
            param = !strcmp(x->layer, m->layers[t[k].layer].name) && !strcmp(x->name, t[k].name);
        if (param) continue;
        s = put_tensor_head_(o, x->layer, x->name, x->rank, x->dims, CODING_VALUES_);
        if (s == LP_OK) s = put_floats_(o, x->data, x->count);
        sz->fp32_bytes += x->count * 4;
        sz->raw_bytes += x->count * 4;
    }
    return s;
}

/* Writes buf to <path>.part, fsyncs it, renames it to path and fsyncs the folder. */
static lp_status write_file_(const char *path, const void *buf, size_t n) {
    char part[4096], dir[4096];
    if (snprintf(part, sizeof part, "%s.part", path) >= (int)sizeof part)
        return lp_fail(LP_ERR_INVALID_ARG, "%s: path too long", path);
    lp_fs_parent_dir(path, dir, sizeof dir);
    LP_TRY(lp_fs_mkdir_p(dir));
    FILE *f = fopen(part, "wb");
    if (!f) return lp_fail(LP_ERR_IO, "%s: cannot write: %s", part, strerror(errno));
    bool ok = fwrite(buf, 1, n, f) == n;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        remove(part);
        return lp_fail(LP_ERR_IO, "%s: write failed: %s", part, strerror(errno));
    }
    LP_TRY(lp_fs_fsync(part));
    if (rename(part, path) != 0) {
        lp_status s =
            lp_fail(LP_ERR_IO, "%s: cannot rename to %s: %s", part, path, strerror(errno));
        remove(part);
        return s;
    }
    return lp_fs_fsync(dir);
}

lp_status lp_lpk_write(const char *path, const lp_lpk_input *in, lp_lpk_sizes *sizes) {
    if (!path || !in || !in->model_text || !in->weights || !in->init)
        return lp_fail(LP_ERR_INVALID_ARG, "lp_lpk_write: NULL argument");
    lp_lpk_sizes sz = {0};
    lp_model_spec m;
    lp_param_tensor *t = NULL;
    int nt = 0;
    lp_init_setup setup;
    LP_TRY(lp_model_parse_text(in->model_text, "model text", &m));
    lp_status s = lp_model_params(&m, &t, &nt);
    if (s == LP_OK) s = lp_init_setup_from_attrs(in->attrs, in->n_attrs, &setup);
    out_ o = {0};
    uint8_t header[HEADER_BYTES_] = {0};
    if (s == LP_OK) {
        memcpy(header, LP_LPK_MAGIC, 8);
        le_(header + 8, LP_LPK_VERSION, 4);
        le_(header + 12, in->init_raw ? FLAG_INIT_RAW_ : 0, 4);
        le_(header + 24, init_hash_(&setup, t, nt, in->init), 8);
        s = put_(&o, header, sizeof header);
    }
    if (s == LP_OK) s = write_body_(&o, in, &m, t, nt, &setup, &sz);
    if (s == LP_OK) {
        le_(o.p + 16, o.n + 4, 8);
        s = put_uint_(&o, crc_(o.p, o.n), 4);
    }
    if (s == LP_OK) s = write_file_(path, o.p, o.n);
    if (s != LP_OK) lp_fail_context(s, "%s: ", path);
    sz.file_bytes = o.n;
    if (sizes) *sizes = sz;
    free(o.p);
    free(t);
    lp_model_free(&m);
    return s;
}

/* ---- reading -------------------------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t n, at; /* n: where the checksum starts */
    const char *name;
} in_;

static lp_status need_(in_ *c, uint64_t bytes, const char *field) {
    if (bytes > c->n - c->at)
        return lp_fail(LP_ERR_FORMAT,
                       "%s: offset %zu: %s needs %llu bytes but only %zu are left before the "
                       "checksum",
                       c->name, c->at, field, (unsigned long long)bytes, c->n - c->at);
    return LP_OK;
}

static uint64_t le_get_(const uint8_t *b, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i)
        v = v << 8 | b[i];
    return v;
}

static lp_status get_(in_ *c, int bytes, const char *field, uint64_t *v) {
    LP_TRY(need_(c, (uint64_t)bytes, field));
    *v = le_get_(c->p + c->at, bytes);
    c->at += (size_t)bytes;
    return LP_OK;
}

/* A u8 that says which kind of thing follows, 0 to max (`what` the choices in words). */
static lp_status get_kind_(in_ *c, const char *field, const char *kind, uint64_t max,
                           const char *what, uint64_t *v) {
    size_t at = c->at;
    LP_TRY(get_(c, 1, field, v));
    if (*v > max)
        return lp_fail(LP_ERR_FORMAT, "%s: offset %zu: %s has %s %llu, expected %s", c->name, at,
                       field, kind, (unsigned long long)*v, what);
    return LP_OK;
}

/* A u8 length in [1, max], then that many bytes: no NUL, and no '/' when `path`. */
static lp_status get_name_(in_ *c, const char *field, size_t max, bool path, char *out) {
    uint64_t len;
    size_t at = c->at;
    LP_TRY(get_(c, 1, field, &len));
    if (len < 1 || len > max)
        return lp_fail(LP_ERR_FORMAT, "%s: offset %zu: %s has length %llu, expected 1 to %zu",
                       c->name, at, field, (unsigned long long)len, max);
    LP_TRY(need_(c, len, field));
    for (size_t i = 0; i < len; ++i)
        if (c->p[c->at + i] == 0 || (path && c->p[c->at + i] == '/'))
            return lp_fail(LP_ERR_FORMAT, "%s: offset %zu: %s holds a %s byte", c->name, c->at + i,
                           field, c->p[c->at + i] ? "'/'" : "NUL");
    memcpy(out, c->p + c->at, len);
    out[len] = '\0';
    c->at += len;
    return LP_OK;
}

static lp_status get_attrs_(in_ *c, lp_lpk *out) {
    uint64_t n;
    size_t at = c->at;
    LP_TRY(get_(c, 4, "the attribute count", &n));
    if (n > ATTRS_MAX_)
        return lp_fail(LP_ERR_FORMAT, "%s: offset %zu: %llu attributes, expected at most %d",
                       c->name, at, (unsigned long long)n, ATTRS_MAX_);
    out->attrs = calloc((size_t)n + 1, sizeof *out->attrs);
    if (!out->attrs) return lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory", c->name);
    for (uint64_t i = 0; i < n; ++i) {
        char field[128], name[ATTR_NAME_MAX_ + 1];
        snprintf(field, sizeof field, "attribute %llu's name", (unsigned long long)i);
        LP_TRY(get_name_(c, field, ATTR_NAME_MAX_, false, name));
        lp_attr *a = &out->attrs[out->n_attrs];
        a->name = strdup(name);
        a->s = NULL;
        out->n_attrs++;
        if (!a->name) return lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory", c->name);
        uint64_t type, v;
        snprintf(field, sizeof field, "attribute '%s'", name);
        LP_TRY(get_kind_(c, field, "type", LP_ATTR_DOUBLE, "0 (string), 1 (int64) or 2 (float64)",
                         &type));
        a->type = (lp_attr_type)type;
        if (a->type == LP_ATTR_STRING) {
            at = c->at;
            LP_TRY(get_(c, 4, field, &v));
            if (v > ATTR_STRING_MAX_)
                return lp_fail(LP_ERR_FORMAT, "%s: offset %zu: %s has %llu bytes, at most %u",
                               c->name, at, field, (unsigned long long)v, ATTR_STRING_MAX_);
            LP_TRY(need_(c, v, field));
            if (memchr(c->p + c->at, 0, (size_t)v))
                return lp_fail(LP_ERR_FORMAT, "%s: offset %zu: %s holds a NUL byte", c->name, c->at,
                               field);
            char *s = malloc((size_t)v + 1);
            if (!s) return lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory", c->name);
            memcpy(s, c->p + c->at, (size_t)v);
            s[v] = '\0';
            a->s = s;
            c->at += (size_t)v;
        } else {
            LP_TRY(get_(c, 8, field, &v));
            if (a->type == LP_ATTR_INT)
                a->i = (long long)v;
            else
                memcpy(&a->d, &v, sizeof a->d);
        }
    }
    return LP_OK;
}

/* One tensor record as found in the file (its data not yet decoded). */
typedef struct {
    char layer[LP_LAYER_NAME_MAX], name[LP_TENSOR_NAME_MAX];
    int rank, dims[4];
    size_t count;
    int coding;
    size_t values_at; /* coding 0: the values; coding 1 with stored init: the init */
    int groups, group_size;
    size_t payload_at, payload_len;
    int param; /* its index in the model's parameter table, or -1 */
} rec_;

static lp_status get_tensor_(in_ *c, uint64_t i, bool init_raw, rec_ *r) {
    char field[128];
    snprintf(field, sizeof field, "tensor %llu's layer name", (unsigned long long)i);
    LP_TRY(get_name_(c, field, LP_LAYER_NAME_MAX - 1, true, r->layer));
    snprintf(field, sizeof field, "tensor %llu's name", (unsigned long long)i);
    LP_TRY(get_name_(c, field, LP_TENSOR_NAME_MAX - 1, true, r->name));
    snprintf(field, sizeof field, "tensor %llu (%s/%s)", (unsigned long long)i, r->layer, r->name);
    uint64_t v;
    size_t at = c->at;
    LP_TRY(get_(c, 1, field, &v));
    if (v < 1 || v > 4)
        return lp_fail(LP_ERR_FORMAT, "%s: offset %zu: %s has rank %llu, expected 1 to 4", c->name,
                       at, field, (unsigned long long)v);
    r->rank = (int)v;
    uint64_t count = 1;
    for (int d = 0; d < r->rank; ++d) {
        at = c->at;
        LP_TRY(get_(c, 4, field, &v));
        count *= v;
        if (v < 1 || count > 0x7FFFFFFFu)
            return lp_fail(LP_ERR_FORMAT,
                           "%s: offset %zu: %s dimension %d is %llu, expected >= 1 with at most "
                           "2^31 - 1 values in all",
                           c->name, at, field, d, (unsigned long long)v);
        r->dims[d] = (int)v;
    }
    r->count = (size_t)count;
    LP_TRY(get_kind_(c, field, "coding", CODING_PERMUTATION_, "0 (values) or 1 (permutation)", &v));
    r->coding = (int)v;
    if (r->coding == CODING_VALUES_) {
        LP_TRY(need_(c, 4 * count, field));
        r->values_at = c->at;
        c->at += (size_t)(4 * count);
        return LP_OK;
    }
    uint64_t groups, gs;
    at = c->at;
    LP_TRY(get_(c, 4, field, &groups));
    LP_TRY(get_(c, 4, field, &gs));
    if (groups < 1 || gs < 1 || groups * gs != count)
        return lp_fail(LP_ERR_FORMAT,
                       "%s: offset %zu: %s has %llu groups of %llu values, expected a product of "
                       "%llu",
                       c->name, at, field, (unsigned long long)groups, (unsigned long long)gs,
                       (unsigned long long)count);
    r->groups = (int)groups;
    r->group_size = (int)gs;
    if (init_raw) {
        LP_TRY(need_(c, 4 * count, field));
        r->values_at = c->at;
        c->at += (size_t)(4 * count);
    }
    at = c->at;
    LP_TRY(get_(c, 8, field, &v));
    LP_TRY(need_(c, v, field));
    r->payload_at = c->at;
    r->payload_len = (size_t)v;
    c->at += (size_t)v;
    return LP_OK;
}

static const lp_attr *attr_(const lp_lpk *p, const char *name) {
    for (int i = 0; i < p->n_attrs; ++i)
        if (!strcmp(p->attrs[i].name, name)) return &p->attrs[i];
    return NULL;
}

/* Matches each record with the model's tensors: every parameter once with its shape,
 * coded as the setup permutes it; anything else float32 of a layer of the model. */
static lp_status match_(const char *file, rec_ *r, int nr, const lp_model_spec *m,
                        const lp_param_tensor *t, int nt, const lp_init_setup *setup) {
    bool *seen = calloc((size_t)nt + 1, sizeof *seen);
    if (!seen) return lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory", file);
    lp_status s = LP_OK;
    for (int i = 0; s == LP_OK && i < nr; ++i) {
        r[i].param = -1;
        for (int k = 0; k < nt && r[i].param < 0; ++k)
            if (!strcmp(r[i].layer, m->layers[t[k].layer].name) && !strcmp(r[i].name, t[k].name))
                r[i].param = k;
        if (r[i].param < 0) {
            bool layer = false;
            for (int l = 0; l < m->n_layers && !layer; ++l)
                layer = !strcmp(m->layers[l].name, r[i].layer);
            if (!layer || r[i].coding != CODING_VALUES_)
                s = lp_fail(LP_ERR_FORMAT, "%s: tensor %d (%s/%s) %s", file, i, r[i].layer,
                            r[i].name,
                            !layer ? "names no layer of the model"
                                   : "is coded as a permutation but is no parameter of the model");
            continue;
        }
        const lp_param_tensor *p = &t[r[i].param];
        bool same = r[i].rank == p->rank && !seen[r[i].param];
        for (int d = 0; same && d < p->rank; ++d)
            same = r[i].dims[d] == p->dims[d];
        int groups, gs;
        lp_init_groups(setup, p, &groups, &gs);
        bool permuted = lp_init_permuted(setup, p);
        if (seen[r[i].param])
            s = lp_fail(LP_ERR_FORMAT, "%s: tensor %d (%s/%s) appears twice", file, i, r[i].layer,
                        r[i].name);
        else if (!same) {
            char a[64], b[64];
            s = lp_fail(LP_ERR_FORMAT, "%s: tensor %d (%s/%s) is %s but %s in the model", file, i,
                        r[i].layer, r[i].name, lp_dims_str(r[i].rank, r[i].dims, a, 64),
                        lp_dims_str(p->rank, p->dims, b, 64));
        } else if (permuted != (r[i].coding == CODING_PERMUTATION_) ||
                   (permuted && (groups != r[i].groups || gs != r[i].group_size)))
            s = lp_fail(LP_ERR_FORMAT,
                        "%s: tensor %d (%s/%s) is coded as %s (%d groups), but the attributes "
                        "make it %s (%d groups)",
                        file, i, r[i].layer, r[i].name, r[i].coding ? "a permutation" : "values",
                        r[i].groups, permuted ? "permuted" : "not permuted", permuted ? groups : 0);
        seen[r[i].param] = true;
    }
    for (int k = 0; s == LP_OK && k < nt; ++k)
        if (!seen[k])
            s = lp_fail(LP_ERR_FORMAT, "%s: no tensor %s/%s (the model has it)", file,
                        m->layers[t[k].layer].name, t[k].name);
    free(seen);
    return s;
}

static void floats_at_(const uint8_t *p, size_t n, float *out) {
    for (size_t i = 0; i < n; ++i)
        out[i] = float_((uint32_t)le_get_(p + 4 * i, 4));
}

static lp_status decode_tensor_(const char *file, const rec_ *r, const uint8_t *base,
                                const float *init, float *w) {
    scratch_ sc = {0};
    lp_status s = scratch_alloc_(&sc, (size_t)r->group_size);
    lp_range_dec dec;
    if (s == LP_OK) s = lp_range_dec_init(&dec, base + r->payload_at, r->payload_len);
    if (s == LP_ERR_FORMAT)
        lp_fail_context(s, "%s: offset %zu: the permutations of %s/%s: ", file, r->payload_at,
                        r->layer, r->name);
    size_t gs = (size_t)r->group_size;
    for (int g = 0; s == LP_OK && g < r->groups; ++g) {
        uint32_t d;
        alphabet_(init + g * gs, (uint32_t)gs, sc.key, sc.count, &d);
        s = lp_perm_decode(&dec, sc.sym, (uint32_t)gs, sc.count, d, sc.tree, sc.left);
        for (size_t j = 0; s == LP_OK && j < gs; ++j) {
            uint32_t k = sc.key[sc.sym[j]];
            w[g * gs + j] = lp_float_from_sort_key(k);
        }
        if (s != LP_OK)
            lp_fail_context(s, "%s: offset %zu: the permutation of %s/%s, group %d: ", file,
                            r->payload_at, r->layer, r->name, g);
    }
    if (s == LP_OK && dec.at != r->payload_len)
        s = lp_fail(LP_ERR_FORMAT,
                    "%s: offset %zu: the permutations of %s/%s end after %zu of their %zu bytes",
                    file, r->payload_at, r->layer, r->name, dec.at, r->payload_len);
    scratch_free_(&sc);
    return s;
}

/* Checks the header, the size and the checksum: nothing is decoded before they hold. */
static lp_status check_envelope_(const uint8_t *d, size_t n, const char *name, uint32_t *flags) {
    if (n < 8 || memcmp(d, LP_LPK_MAGIC, 8) != 0)
        return lp_fail(LP_ERR_FORMAT,
                       "%s: not a .lpk file (offset 0: expected the magic 89 4C 50 4B 0D 0A 1A 0A)",
                       name);
    if (n < HEADER_BYTES_ + 4)
        return lp_fail(LP_ERR_FORMAT,
                       "%s: truncated: %zu bytes, shorter than the %d-byte header and checksum",
                       name, n, HEADER_BYTES_ + 4);
    uint32_t version = (uint32_t)le_get_(d + 8, 4);
    if (version != LP_LPK_VERSION)
        return lp_fail(LP_ERR_FORMAT, "%s: offset 8: format version %u, this laperm reads %d", name,
                       version, LP_LPK_VERSION);
    *flags = (uint32_t)le_get_(d + 12, 4);
    uint64_t size = le_get_(d + 16, 8);
    if (size != n)
        return lp_fail(LP_ERR_FORMAT,
                       "%s: offset 16: the header says %llu bytes but the file has %zu%s", name,
                       (unsigned long long)size, n, size > n ? " (truncated)" : "");
    uint32_t stored = (uint32_t)le_get_(d + n - 4, 4), crc = crc_(d, n - 4);
    if (stored != crc)
        return lp_fail(LP_ERR_FORMAT,
                       "%s: offset %zu: checksum mismatch: the CRC-32 stored is 0x%08x, the "
                       "contents give 0x%08x (the file is damaged)",
                       name, n - 4, stored, crc);
    if (*flags & ~FLAG_INIT_RAW_)
        return lp_fail(LP_ERR_FORMAT, "%s: offset 12: unknown flags 0x%08x (expected 0 or 1)", name,
                       *flags);
    return LP_OK;
}

static lp_status load_(const uint8_t *d, size_t n, const char *name, size_t max_params,
                       lp_lpk *out) {
    uint32_t flags = 0;
    LP_TRY(check_envelope_(d, n, name, &flags));
    out->init_raw = flags & FLAG_INIT_RAW_;
    out->init_hash = le_get_(d + 24, 8);
    in_ c = {.p = d, .n = n - 4, .at = 32, .name = name};
    uint64_t len;
    LP_TRY(get_(&c, 4, "the model text's length", &len));
    if (len < 1 || len > MODEL_TEXT_MAX_)
        return lp_fail(LP_ERR_FORMAT,
                       "%s: offset 32: the model text has %llu bytes, expected 1 to %u", name,
                       (unsigned long long)len, MODEL_TEXT_MAX_);
    LP_TRY(need_(&c, len, "the model text"));
    if (memchr(d + c.at, 0, (size_t)len))
        return lp_fail(LP_ERR_FORMAT, "%s: offset %zu: the model text holds a NUL byte", name,
                       c.at);
    char *text = malloc((size_t)len + 1);
    if (!text) return lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory", name);
    memcpy(text, d + c.at, (size_t)len);
    text[len] = '\0';
    out->weights.model_text = text;
    c.at += (size_t)len;
    LP_TRY(get_attrs_(&c, out));
    uint64_t nr;
    size_t at = c.at;
    LP_TRY(get_(&c, 4, "the tensor count", &nr));
    /* A record takes at least 10 bytes: the count is bounded by what is left. */
    if (nr < 1 || nr > TENSORS_MAX_ || nr > (c.n - c.at) / 10)
        return lp_fail(LP_ERR_FORMAT,
                       "%s: offset %zu: %llu tensors, expected 1 to %u and at most one per 10 "
                       "bytes left",
                       name, at, (unsigned long long)nr, TENSORS_MAX_);
    rec_ *r = calloc((size_t)nr, sizeof *r);
    if (!r) return lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory", name);
    lp_status s = LP_OK;
    for (uint64_t i = 0; s == LP_OK && i < nr; ++i)
        s = get_tensor_(&c, i, out->init_raw, &r[i]);
    if (s == LP_OK && c.at != c.n)
        s = lp_fail(LP_ERR_FORMAT, "%s: offset %zu: %zu bytes after the last tensor", name, c.at,
                    c.n - c.at);
    lp_model_spec m = {0};
    lp_param_tensor *t = NULL;
    int nt = 0;
    lp_init_setup setup;
    float *init = NULL, *w = NULL;
    if (s == LP_OK && lp_model_parse_text(text, name, &m) != LP_OK)
        s = lp_fail_context(LP_ERR_FORMAT, "%s: offset 36: the model text: ", name);
    if (s == LP_OK) s = lp_model_params(&m, &t, &nt);
    if (s == LP_OK && lp_init_setup_from_attrs(out->attrs, out->n_attrs, &setup) != LP_OK)
        s = lp_fail_context(LP_ERR_FORMAT, "%s: ", name);
    const lp_attr *from = attr_(out, "init_from");
    if (s == LP_OK && !out->init_raw && from && from->type == LP_ATTR_STRING && *from->s)
        s = lp_fail(LP_ERR_FORMAT,
                    "%s: the run started from another file's weights (init_from '%s'), but its "
                    "initial values are not stored",
                    name, from->s);
    if (s == LP_OK) s = match_(name, r, (int)nr, &m, t, nt, &setup);
    size_t params = s == LP_OK ? lp_model_param_count(&m) : 0;
    if (s == LP_OK && params > max_params)
        s = lp_fail(LP_ERR_FORMAT, "%s: the model has %zu parameters, more than %zu", name, params,
                    max_params);
    if (s == LP_OK && !(init = calloc(params + 1, sizeof *init)))
        s = lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory for %zu parameters", name, params);
    if (s == LP_OK && !out->init_raw) lp_init_run_values(&setup, t, nt, init);
    for (uint64_t i = 0; s == LP_OK && out->init_raw && i < nr; ++i)
        if (r[i].coding == CODING_PERMUTATION_)
            floats_at_(d + r[i].values_at, r[i].count, init + t[r[i].param].offset);
    uint64_t hash = s == LP_OK ? init_hash_(&setup, t, nt, init) : 0;
    if (s == LP_OK && hash != out->init_hash)
        s = lp_fail(LP_ERR_FORMAT,
                    "%s: offset 24: the initial values %s hash to %016llx, but the file was packed "
                    "with %016llx: this laperm would rebuild other weights, so it refuses",
                    name, out->init_raw ? "stored" : "regenerated from the seed",
                    (unsigned long long)hash, (unsigned long long)out->init_hash);
    for (uint64_t i = 0; s == LP_OK && i < nr; ++i) {
        free(w);
        if (!(w = malloc(r[i].count * sizeof *w))) {
            s = lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory", name);
            break;
        }
        if (r[i].coding == CODING_VALUES_)
            floats_at_(d + r[i].values_at, r[i].count, w);
        else
            s = decode_tensor_(name, &r[i], d, init + t[r[i].param].offset, w);
        if (s == LP_OK)
            s = lp_weights_add(&out->weights, r[i].layer, r[i].name, r[i].rank, r[i].dims, w);
    }
    free(w);
    free(init);
    free(t);
    lp_model_free(&m);
    free(r);
    return s;
}

lp_status lp_lpk_load_mem(const uint8_t *data, size_t n, const char *name, size_t max_params,
                          lp_lpk *out) {
    memset(out, 0, sizeof *out);
    lp_status s = load_(data, n, name ? name : "(memory)", max_params, out);
    if (s != LP_OK) lp_lpk_free(out);
    return s;
}

void lp_lpk_free(lp_lpk *p) {
    if (!p) return;
    lp_weights_free(&p->weights);
    for (int i = 0; i < p->n_attrs; ++i) {
        free((char *)p->attrs[i].name);
        free((char *)p->attrs[i].s);
    }
    free(p->attrs);
    memset(p, 0, sizeof *p);
}

static lp_status read_all_(const char *path, uint8_t **data, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return lp_fail(errno == ENOENT ? LP_ERR_NOT_FOUND : LP_ERR_IO, "%s: cannot open: %s", path,
                       strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return lp_fail(LP_ERR_IO, "%s: not a regular file", path);
    }
    *n = (size_t)st.st_size;
    *data = malloc(*n + 1);
    if (!*data) {
        fclose(f);
        return lp_fail(LP_ERR_NO_MEMORY, "%s: out of memory for %zu bytes", path, *n);
    }
    bool ok = fread(*data, 1, *n, f) == *n;
    fclose(f);
    if (!ok) {
        free(*data);
        return lp_fail(LP_ERR_IO, "%s: read failed", path);
    }
    return LP_OK;
}

lp_status lp_lpk_load(const char *path, lp_lpk *out) {
    memset(out, 0, sizeof *out);
    uint8_t *d = NULL;
    size_t n = 0;
    LP_TRY(read_all_(path, &d, &n));
    lp_status s = lp_lpk_load_mem(d, n, path, (size_t)1 << 31, out);
    free(d);
    return s;
}

bool lp_lpk_is(const char *path) {
    FILE *f = fopen(path, "rb");
    uint8_t b[8];
    bool is = f && fread(b, 1, 8, f) == 8 && !memcmp(b, LP_LPK_MAGIC, 8);
    if (f) fclose(f);
    return is;
}

lp_status lp_lpk_read(const char *path, lp_weights *out) {
    lp_lpk p;
    LP_TRY(lp_lpk_load(path, &p));
    *out = p.weights;
    memset(&p.weights, 0, sizeof p.weights);
    lp_lpk_free(&p);
    return LP_OK;
}
