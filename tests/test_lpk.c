/* The .lpk format: the range coder and Lehmer / multiset code round-trip at odd sizes
 * (random, identity and reversed permutations, repeated values) and cost what log2(n!)
 * says; a packed network reads back bit for bit, with regenerated or stored initial
 * values; a damaged or cut file is refused naming the offset or the field, whichever byte
 * is hit; the regenerated initial values are frozen (the same bits on every machine). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "laperm/init.h"
#include "laperm/lpk.h"
#include "laperm/perm_code.h"
#include "lp_test.h"

static uint64_t rng_ = 0x9E3779B97F4A7C15ull;
static uint32_t next_(uint32_t bound) {
    rng_ ^= rng_ << 13, rng_ ^= rng_ >> 7, rng_ ^= rng_ << 17;
    return (uint32_t)((rng_ >> 11) % bound);
}

/* Codes sym (over count[0..d)) and decodes it again; returns the coded bytes. */
static size_t round_trip_(const uint32_t *sym, uint32_t n, const uint32_t *count, uint32_t d) {
    uint32_t *tree = malloc((d + 1) * sizeof *tree), *left = malloc((d + 1) * sizeof *left);
    uint32_t *back = malloc((n + 1) * sizeof *back);
    CU_ASSERT_FATAL(tree && left && back);
    lp_range_enc e = {0};
    LP_TEST_OK(lp_perm_encode(&e, sym, n, count, d, tree, left));
    LP_TEST_OK(lp_range_enc_finish(&e));
    lp_range_dec dec;
    LP_TEST_OK(lp_range_dec_init(&dec, e.buf, e.len));
    LP_TEST_OK(lp_perm_decode(&dec, back, n, count, d, tree, left));
    CU_ASSERT_EQUAL(dec.at, e.len); /* the decoder reads exactly what was written */
    CU_ASSERT_EQUAL(memcmp(back, sym, n * sizeof *sym), 0);
    size_t len = e.len;
    free(e.buf), free(tree), free(left), free(back);
    return len;
}

static void test_permutations(void) {
    static const uint32_t sizes[] = {1, 2, 3, 7, 4608, 100000};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; ++k) {
        uint32_t n = sizes[k];
        uint32_t *p = malloc(n * sizeof *p), *ones = malloc(n * sizeof *ones);
        CU_ASSERT_FATAL(p && ones);
        for (uint32_t i = 0; i < n; ++i)
            ones[i] = 1;
        double bound = lp_perm_bound_bits(ones, n); /* log2(n!) */
        CU_ASSERT(fabs(bound - lgamma(n + 1.0) / log(2.0)) < 1e-6 * (bound + 1));
        for (int kind = 0; kind < 3; ++kind) {
            for (uint32_t i = 0; i < n; ++i)
                p[i] = kind == 1 ? n - 1 - i : i; /* identity, reversed, random */
            for (uint32_t i = n; kind == 2 && i > 1; --i) {
                uint32_t j = next_(i), t = p[i - 1];
                p[i - 1] = p[j], p[j] = t;
            }
            size_t bytes = round_trip_(p, n, ones, n);
            /* Within 7 bytes of flush and a byte of rounding of ceil(log2(n!) / 8). */
            CU_ASSERT(bytes <= ceil(bound / 8) + 8);
            if (bytes > ceil(bound / 8) + 8)
                printf("\n  n %u kind %d: %zu bytes, log2(n!) = %.1f bits\n", n, kind, bytes,
                       bound);
        }
        free(p), free(ones);
    }
}

/* Repeated values (a mask's zeros, a few levels): the multiset bound, not log2(n!). */
static void test_multisets(void) {
    static const uint32_t sizes[] = {1, 2, 3, 7, 4608, 100000};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; ++k) {
        uint32_t n = sizes[k], d = n < 5 ? n : 5;
        uint32_t *sym = malloc(n * sizeof *sym), count[5] = {0};
        CU_ASSERT_FATAL(sym != NULL);
        for (uint32_t i = 0; i < n; ++i) {
            /* 70% symbol 0 (a keep-0.3 mask's zeros), the rest spread over the others */
            sym[i] = d == 1 || next_(10) < 7 ? 0 : 1 + next_(d - 1);
            count[sym[i]]++;
        }
        double bound = lp_perm_bound_bits(count, d);
        size_t bytes = round_trip_(sym, n, count, d);
        CU_ASSERT(bytes <= ceil(bound / 8) + 8);
        free(sym);
    }
    /* One value only: nothing to code but the flush. */
    uint32_t same[9] = {0}, c9 = 9;
    CU_ASSERT(round_trip_(same, 9, &c9, 1) <= 8);
}

static void test_bad_codes(void) {
    lp_range_enc e = {0};
    CU_ASSERT_EQUAL(lp_range_enc_put(&e, 3, 1, 3), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_range_enc_put(&e, 0, 0, 3), LP_ERR_INVALID_ARG);
    uint32_t sym[3] = {0, 0, 1}, count[2] = {1, 2}, tree[3], left[2];
    CU_ASSERT_EQUAL(lp_perm_encode(&e, sym, 3, count, 2, tree, left), LP_ERR_INVALID_ARG);
    free(e.buf);
    lp_range_dec dec;
    uint8_t short_[3] = {0};
    CU_ASSERT_EQUAL(lp_range_dec_init(&dec, short_, 3), LP_ERR_FORMAT);
    uint8_t nonzero[8] = {1};
    CU_ASSERT_EQUAL(lp_range_dec_init(&dec, nonzero, 8), LP_ERR_FORMAT);
    /* A stream cut short: the decoder says so instead of reading on. */
    uint32_t p[200], ones[200], back[200], t2[201], l2[200];
    for (int i = 0; i < 200; ++i)
        p[i] = 199 - (uint32_t)i, ones[i] = 1;
    lp_range_enc f = {0};
    LP_TEST_OK(lp_perm_encode(&f, p, 200, ones, 200, t2, l2));
    LP_TEST_OK(lp_range_enc_finish(&f));
    LP_TEST_OK(lp_range_dec_init(&dec, f.buf, f.len - 20));
    CU_ASSERT_EQUAL(lp_perm_decode(&dec, back, 200, ones, 200, t2, l2), LP_ERR_FORMAT);
    free(f.buf);
}

/* ---- whole files ----------------------------------------------------------------------- */

static const char *model_ = "[input]\nchannels = 1\nheight = 5\nwidth = 5\n"
                            "[conv2d]\nfilters = 3\nkernel = 3\ninit = he_normal\n"
                            "[batchnorm]\n"
                            "[flatten]\n"
                            "[dense]\nunits = 7\ninit = he_normal\nquantize = 5\n"
                            "[dense]\nunits = 4\nkeep = 0.3\n";

/* A trained-looking network of model_: every permuted group a random permutation of its
 * initial values (as LaPerm leaves it), everything else random, BatchNorm state too. */
static void network_(const lp_init_setup *setup, lp_weights *w, float **init_out) {
    lp_model_spec m;
    lp_param_tensor *t;
    int nt;
    LP_TEST_OK(lp_model_parse_text(model_, "test", &m));
    LP_TEST_OK(lp_model_params(&m, &t, &nt));
    float *init = lp_test_floats(lp_model_param_count(&m));
    lp_init_run_values(setup, t, nt, init);
    for (int i = 0; i < nt; ++i) {
        float *x = lp_test_floats(t[i].count);
        memcpy(x, init + t[i].offset, t[i].count * sizeof *x);
        int groups, gs;
        lp_init_groups(setup, &t[i], &groups, &gs);
        for (int g = 0; g < groups; ++g)
            for (int j = gs; j > 1; --j) {
                uint32_t k = next_((uint32_t)j);
                float v = x[g * gs + j - 1];
                x[g * gs + j - 1] = x[g * gs + k], x[g * gs + k] = v;
            }
        if (!lp_init_permuted(setup, &t[i]))
            for (size_t j = 0; j < t[i].count; ++j)
                x[j] = (float)next_(1000) / 77.0f - 5.0f;
        LP_TEST_OK(
            lp_weights_add(w, m.layers[t[i].layer].name, t[i].name, t[i].rank, t[i].dims, x));
        free(x);
    }
    float stats[3] = {0.25f, -1.5f, 3.0f};
    LP_TEST_OK(lp_weights_add(w, "batchnorm_1", "running_mean", 1, (int[]){3}, stats));
    LP_TEST_OK(lp_weights_add(w, "batchnorm_1", "running_var", 1, (int[]){3}, stats));
    *init_out = init;
    free(t);
    lp_model_free(&m);
}

static bool same_bits_(const lp_weights *a, const lp_weights *b) {
    if (a->n != b->n) return false;
    for (int i = 0; i < a->n; ++i) {
        const lp_named_tensor *x = &a->tensors[i];
        const lp_named_tensor *y = lp_weights_find(b, x->layer, x->name);
        if (!y || y->count != x->count || memcmp(x->data, y->data, x->count * 4)) return false;
    }
    return true;
}

static const lp_attr attrs_[] = {
    LP_ATTR_I("seed", 7),    LP_ATTR_S("optimizer", "laperm"), LP_ATTR_I("perm_bias", 1),
    LP_ATTR_I("perm_bn", 0), LP_ATTR_S("group_scope", "unit"), LP_ATTR_S("init", ""),
    LP_ATTR_D("keep", 0.5),  LP_ATTR_S("dataset", "mnist"),
};

static uint8_t *slurp_(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    CU_ASSERT_FATAL(f != NULL);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    uint8_t *d = malloc(*n);
    CU_ASSERT_FATAL(d && fread(d, 1, *n, f) == *n);
    fclose(f);
    return d;
}

static const char *pack_(bool raw, lp_weights *w, lp_lpk_sizes *sz) {
    const char *path = lp_test_tmp(raw ? "raw.lpk" : "net.lpk");
    lp_init_setup setup;
    LP_TEST_OK(lp_init_setup_from_attrs(attrs_, 8, &setup));
    float *init;
    network_(&setup, w, &init);
    if (raw) /* a start the seed does not give (as --init-from): stored */
        for (int i = 0; i < 9; ++i)
            init[i] = (float)i;
    if (raw) { /* the first conv filter must then be a permutation of those */
        lp_named_tensor *k = &w->tensors[0];
        for (int i = 0; i < 9; ++i)
            k->data[i] = (float)(8 - i);
    }
    lp_lpk_input in = {.model_text = model_,
                       .attrs = attrs_,
                       .n_attrs = 8,
                       .weights = w,
                       .init = init,
                       .init_raw = raw};
    LP_TEST_OK(lp_lpk_write(path, &in, sz));
    free(init);
    return path;
}

static void test_round_trip(void) {
    for (int raw = 0; raw < 2; ++raw) {
        lp_weights w = {0};
        lp_lpk_sizes sz;
        const char *path = pack_(raw, &w, &sz);
        CU_ASSERT(lp_lpk_is(path));
        lp_lpk back;
        LP_TEST_OK(lp_lpk_load(path, &back));
        CU_ASSERT(same_bits_(&w, &back.weights));
        CU_ASSERT_STRING_EQUAL(back.weights.model_text, model_);
        CU_ASSERT_EQUAL(back.n_attrs, 8);
        CU_ASSERT_EQUAL(back.init_raw, raw);
        CU_ASSERT(back.n_attrs == 8 && !strcmp(back.attrs[7].s, "mnist"));
        CU_ASSERT(back.n_attrs == 8 && back.attrs[6].d == 0.5);
        CU_ASSERT(sz.groups == 3 + 1 + 7 + 1 + 4 + 1); /* kernels, biases (--perm-bias) */
        CU_ASSERT(sz.multiset_bits <= sz.bound_bits);
        lp_lpk_free(&back);
        lp_weights only = {0}; /* what the weights loaders get */
        LP_TEST_OK(lp_lpk_read(path, &only));
        CU_ASSERT(same_bits_(&w, &only));
        CU_ASSERT(only.model_text && !strcmp(only.model_text, model_));
        lp_weights_free(&only);
        lp_weights_free(&w);
    }
    CU_ASSERT(!lp_lpk_is(lp_test_tmp("none.lpk")));
    lp_lpk none;
    CU_ASSERT_EQUAL(lp_lpk_load(lp_test_tmp("none.lpk"), &none), LP_ERR_NOT_FOUND);
}

/* Every byte: flipping it is refused (the checksum or the header), cutting the file
 * anywhere is refused, and each message names the file. */
static void test_damage(void) {
    lp_weights w = {0};
    lp_lpk_sizes sz;
    const char *path = pack_(false, &w, &sz);
    size_t n;
    uint8_t *d = slurp_(path, &n);
    CU_ASSERT_EQUAL(n, sz.file_bytes);
    lp_lpk out;
    for (size_t i = 0; i < n; ++i) {
        d[i] ^= 0x10;
        lp_status s = lp_lpk_load_mem(d, n, "x.lpk", 1 << 20, &out);
        CU_ASSERT_EQUAL(s, LP_ERR_FORMAT);
        const char *want = i < 8    ? "not a .lpk"
                           : i < 12 ? "format version"
                           : i < 16 ? "offset"
                                    : "offset";
        CU_ASSERT(strstr(lp_last_error(), want) != NULL);
        CU_ASSERT(strncmp(lp_last_error(), "x.lpk: ", 7) == 0);
        if (i >= 24 && i < n - 4) CU_ASSERT(strstr(lp_last_error(), "checksum mismatch") != NULL);
        d[i] ^= 0x10;
    }
    for (size_t cut = 0; cut < n; cut += cut < 64 ? 1 : 37) {
        CU_ASSERT_EQUAL(lp_lpk_load_mem(d, cut, "x.lpk", 1 << 20, &out), LP_ERR_FORMAT);
        CU_ASSERT(cut < 8 || strstr(lp_last_error(), "truncated") != NULL);
    }
    LP_TEST_OK(lp_lpk_load_mem(d, n, "x.lpk", 1 << 20, &out));
    lp_lpk_free(&out);
    free(d);
    lp_weights_free(&w);
}

/* A file whose checksum is right but whose fields are not (as a writer bug would make):
 * the field and its offset are named, never a crash. */
static void test_bad_fields(void) {
    lp_weights w = {0};
    lp_lpk_sizes sz;
    const char *path = pack_(false, &w, &sz);
    size_t n;
    uint8_t *d = slurp_(path, &n);
    lp_lpk out;
    /* re-seal d after an edit: new CRC */
    struct {
        size_t at;
        uint8_t v;
        const char *want;
    } cases[] = {
        {12, 2, "unknown flags"},
        {24, 0x55, "hash to"},        /* init hash: regenerated values differ */
        {35, 0xFF, "model text has"}, /* its length: over 2^24 */
        {36, 'X', "the model text"},  /* '[' of [input] */
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; ++k) {
        uint8_t *e = malloc(n);
        memcpy(e, d, n);
        e[cases[k].at] = cases[k].v;
        uint32_t crc = (uint32_t)crc32(crc32(0, NULL, 0), e, (unsigned)(n - 4));
        for (int b = 0; b < 4; ++b)
            e[n - 4 + b] = (uint8_t)(crc >> 8 * b);
        CU_ASSERT_EQUAL(lp_lpk_load_mem(e, n, "x.lpk", 1 << 20, &out), LP_ERR_FORMAT);
        if (!strstr(lp_last_error(), cases[k].want))
            printf("\n  case %zu: %s\n", k, lp_last_error());
        CU_ASSERT(strstr(lp_last_error(), cases[k].want) != NULL);
        free(e);
    }
    free(d);
    lp_weights_free(&w);
}

/* The regenerated initial values are frozen: the same seed and setup give these bits on
 * every machine and compiler (a change here breaks every .lpk already written). */
static void test_frozen_init(void) {
    lp_init_setup setup;
    LP_TEST_OK(lp_init_setup_from_attrs(attrs_, 8, &setup));
    lp_model_spec m;
    lp_param_tensor *t;
    int nt;
    LP_TEST_OK(lp_model_parse_text(model_, "test", &m));
    LP_TEST_OK(lp_model_params(&m, &t, &nt));
    size_t np = lp_model_param_count(&m);
    float *init = lp_test_floats(np);
    lp_init_run_values(&setup, t, nt, init);
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < np; ++i) {
        uint32_t b;
        memcpy(&b, &init[i], 4);
        for (int k = 0; k < 4; ++k)
            h = (h ^ (uint8_t)(b >> 8 * k)) * 0x100000001B3ull;
    }
    if (h != 0xb7ce06139d11121full) printf("\n  init hash %016llx\n", (unsigned long long)h);
    CU_ASSERT_EQUAL(h, 0xb7ce06139d11121full);
    free(init), free(t);
    lp_model_free(&m);
}

static int clear_error_(void) {
    lp_clear_error();
    return 0;
}

static void register_suites(void) {
    CU_pSuite su = CU_add_suite("perm code", clear_error_, NULL);
    CU_add_test(su, "Lehmer code round trips at n = 1, 2, 3, 7, 4608, 100000", test_permutations);
    CU_add_test(su, "multiset permutations cost their bound", test_multisets);
    CU_add_test(su, "bad digits and cut streams", test_bad_codes);
    su = CU_add_suite("lpk", clear_error_, NULL);
    CU_add_test(su, "pack and read back bit for bit", test_round_trip);
    CU_add_test(su, "every damaged byte and cut refused", test_damage);
    CU_add_test(su, "bad fields under a good checksum", test_bad_fields);
    CU_add_test(su, "regenerated initial values frozen", test_frozen_init);
}

int main(void) {
    return lp_test_main("test_lpk", register_suites);
}
