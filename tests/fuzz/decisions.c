/* The decision file on any text. Loading warns once at most; every decision found is one
 * its kind accepts, with timings in [0, 1e9); a decision put is found again by a fresh
 * load of the rewritten file, which then warns of nothing (damaged lines, and lines that
 * the kinds used before the rewrite refuse, are dropped by it). */
#include <ctype.h>
#include <math.h>

#include "conv_algo-impl.h"
#include "decisions.h"
#include "fuzz.h"
#include "gemm-impl.h"

static void count_(void *ctx, bool warning, const char *line) {
    (void)line;
    *(int *)ctx += warning;
}

static const lp_decision_kind *const kinds_[] = {&lp_decision_gemm, &lp_decision_conv};

/* Looks up `key` in both kinds; whatever is found must be valid. */
static void find_(lp_decisions *d, const char *key, int *warnings) {
    for (int k = 0; k < 2; ++k) {
        lp_decision got;
        if (!lp_decisions_find(d, kinds_[k], key, &got, count_, warnings)) continue;
        FUZZ_CHECK(kinds_[k]->valid(key, got.value));
        for (int t = 0; t < kinds_[k]->n_times; ++t)
            FUZZ_CHECK(isfinite(got.ms[t]) && got.ms[t] >= 0 && got.ms[t] < 1e9);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file("decisions.txt", data, size);
    char file[4200];
    snprintf(file, sizeof file, "%s", path);
    int warnings = 0;
    lp_decisions *d = NULL;
    FUZZ_CHECK(lp_decisions_load(file, "device: fuzz", count_, &warnings, &d) == LP_OK);
    FUZZ_CHECK(warnings <= 1);
    /* The second word of each of the first lines, as a key to look up. */
    const char *p = (const char *)data, *end = p + size;
    for (int line = 0; line < 64 && p < end; ++line) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *w = p;
        while (w < eol && !isspace((unsigned char)*w))
            w++;
        while (w < eol && isspace((unsigned char)*w))
            w++;
        const char *we = w;
        while (we < eol && !isspace((unsigned char)*we) && *we)
            we++;
        char key[LP_DECISION_TOKEN_MAX];
        if (we > w && (size_t)(we - w) < sizeof key) {
            memcpy(key, w, (size_t)(we - w));
            key[we - w] = '\0';
            find_(d, key, &warnings);
        }
        p = eol + 1;
    }
    find_(d, "auto:nn:b0:4x4x4", &warnings); /* both kinds look at their lines at least once */
    FUZZ_CHECK(warnings <= 3);               /* the load's, and one per kind's first look */
    const char *key = "auto:nn:b0:7x8x9";
    lp_decision put = {.value = "clblast:k1", .ms = {1.5}};
    lp_status s = lp_decisions_put(d, &lp_decision_gemm, key, &put, count_, &warnings);
    lp_decisions_free(d);
    if (s == LP_ERR_UNSUPPORTED) return 0; /* the file holds the most entries it may */
    FUZZ_CHECK(s == LP_OK);
    warnings = 0;
    FUZZ_CHECK(lp_decisions_load(file, "device: fuzz", count_, &warnings, &d) == LP_OK);
    lp_decision got;
    FUZZ_CHECK(lp_decisions_find(d, &lp_decision_gemm, key, &got, count_, &warnings));
    FUZZ_CHECK(strcmp(got.value, put.value) == 0 && got.ms[0] == put.ms[0]);
    find_(d, "gemm-auto:x", &warnings);
    FUZZ_CHECK(warnings == 0);
    lp_decisions_free(d);
    return 0;
}
