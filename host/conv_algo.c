/* The [conv2d] algorithms' names, and the `auto` algorithm's decisions in the device's
 * decision file (conv_algo-impl.h, decisions.h). */
#include "conv_algo-impl.h"

#include <stdio.h>
#include <string.h>

#include "laperm/gemm.h"

/* The one place naming the algorithms, indexed by lp_conv_algo. */
static const char *const names_[] = {[LP_CONV_ALGO_AUTO] = "auto",
                                     [LP_CONV_ALGO_GEMM] = "gemm",
                                     [LP_CONV_ALGO_FFT] = "fft",
                                     [LP_CONV_ALGO_DIRECT] = "direct",
                                     [LP_CONV_ALGO_WINOGRAD] = "winograd"};
#define N_NAMES_ (sizeof names_ / sizeof *names_)
_Static_assert(N_NAMES_ == LP_CONV_ALGO_COUNT, "one name per lp_conv_algo");

const char *lp_conv_algo_name(lp_conv_algo a) {
    return (unsigned)a < N_NAMES_ ? names_[a] : "?";
}

bool lp_conv_algo_from_name(const char *name, lp_conv_algo *out) {
    for (size_t i = 0; name && i < N_NAMES_; ++i)
        if (strcmp(name, names_[i]) == 0) {
            *out = (lp_conv_algo)i;
            return true;
        }
    return false;
}

/* "gemm-<mode>:<shape>": the GEMM mode changes the GEMM path's time, so the decision. */
static bool key_(lp_runtime *rt, const char *shape, char *key, size_t cap) {
    int len = snprintf(key, cap, "gemm-%s:%s", lp_gemm_mode_name(lp_gemm_get_mode(rt)), shape);
    return len > 0 && (size_t)len < cap;
}

/* The key names a GEMM mode and a shape; the value is a path auto can take. */
static bool decision_valid_(const char *key, const char *value) {
    const char *colon = strchr(key, ':');
    char mode_name[16];
    if (strncmp(key, "gemm-", 5) != 0 || !colon || colon[1] == '\0' ||
        (size_t)(colon - key - 5) >= sizeof mode_name)
        return false;
    memcpy(mode_name, key + 5, (size_t)(colon - key - 5));
    mode_name[colon - key - 5] = '\0';
    lp_gemm_mode mode;
    lp_conv_algo algo;
    return lp_gemm_mode_parse(mode_name, &mode) && lp_conv_algo_from_name(value, &algo) &&
           algo != LP_CONV_ALGO_AUTO;
}

/* Bump the revision when what a timing measures changes, so old decisions are not used. */
const lp_decision_kind lp_decision_conv = {
    .name = "conv",
    .revision = 4, /* 4: Winograd, a fourth path and a fourth time */
    .n_times = 4,
    .legend = "gemm-<gemm mode>:<layer shape> <gemm|fft|direct|winograd> <forward+backward ms "
              "of gemm> <of fft> <of direct> <of winograd> (0: not timed)",
    .valid = decision_valid_,
};

bool lp_conv_choice_path(const lp_runtime *rt, char *path, size_t cap) {
    return lp_decisions_path(rt, path, cap);
}

bool lp_conv_choice_read(lp_runtime *rt, const char *shape, lp_conv_choice *out, lp_note_fn note,
                         void *ctx) {
    char key[LP_DECISION_TOKEN_MAX];
    lp_decision d;
    if (!key_(rt, shape, key, sizeof key) ||
        !lp_decision_get(rt, &lp_decision_conv, key, &d, note, ctx))
        return false;
    /* The line was checked by decision_valid_ before it was found: the name is one of
     * the four. */
    if (!lp_conv_algo_from_name(d.value, &out->algo)) return false;
    out->gemm_ms = d.ms[0];
    out->fft_ms = d.ms[1];
    out->direct_ms = d.ms[2];
    out->winograd_ms = d.ms[3];
    return true;
}

lp_status lp_conv_choice_write(lp_runtime *rt, const char *shape, const lp_conv_choice *c) {
    if (c->algo <= LP_CONV_ALGO_AUTO || c->algo >= LP_CONV_ALGO_COUNT)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "conv algorithm decision: only a path (not auto) is stored, got %d",
                       (int)c->algo);
    char key[LP_DECISION_TOKEN_MAX];
    if (!key_(rt, shape, key, sizeof key) || strlen(shape) >= LP_CONV_KEY_MAX)
        return lp_fail(LP_ERR_INVALID_ARG, "conv algorithm decision: shape key too long");
    lp_decision d = {.ms = {c->gemm_ms, c->fft_ms, c->direct_ms, c->winograd_ms}};
    snprintf(d.value, sizeof d.value, "%s", lp_conv_algo_name(c->algo));
    /* A path that failed while timing has no time: stored as "not timed". */
    for (int i = 0; i < lp_decision_conv.n_times; ++i)
        if (!(d.ms[i] >= 0 && d.ms[i] < 1e9)) d.ms[i] = 0;
    return lp_decision_set(rt, &lp_decision_conv, key, &d);
}
