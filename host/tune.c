/* Bounded timing of candidates (tune-impl.h), the candidates left out by rule, and the
 * runtime's limits (laperm/tune.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "laperm/clock.h"
#include "laperm/status.h"
#include "tune-impl.h"

/* The state's key among the runtime's attachments (lp_runtime_attach). */
#define ATTACH_KEY_ "laperm.tune"

typedef struct {
    lp_tune_limits limits;
    double nested;    /* clock seconds of the races that have ended, excluded from others */
    int depth;        /* races under way (nested ones inside the outermost) */
    double layer_end; /* on layer_clock_: when the outermost race's layer bound ends */
} tune_state_;

static tune_state_ *state_(lp_runtime *rt) {
    tune_state_ *s = lp_runtime_attached(rt, ATTACH_KEY_);
    if (s) return s;
    s = calloc(1, sizeof *s);
    if (!s) return NULL;
    /* $LAPERM_TUNE_BUDGET for every user of the runtime (laperm bench too); a bad value
     * is the default here, and an error where a run sets its limits (lp_train). */
    if (lp_tune_budget_from_env(&s->limits.budget) != LP_OK) {
        s->limits.budget = LP_TUNE_BUDGET_DEFAULT;
        lp_clear_error();
    }
    if (lp_runtime_attach(rt, ATTACH_KEY_, s, free) != LP_OK) {
        free(s);
        return NULL;
    }
    return s;
}

lp_status lp_tune_set_limits(lp_runtime *rt, const lp_tune_limits *limits) {
    if (!(limits->budget > 0))
        return lp_fail(LP_ERR_INVALID_ARG, "tuning budget %g s: expected seconds > 0",
                       limits->budget);
    tune_state_ *s = state_(rt);
    if (!s) return lp_fail(LP_ERR_NO_MEMORY, "tuning limits: out of host memory");
    s->limits = *limits;
    return LP_OK;
}

lp_tune_limits lp_tune_get_limits(lp_runtime *rt) {
    const tune_state_ *s = state_(rt);
    return s ? s->limits : (lp_tune_limits){.budget = LP_TUNE_BUDGET_DEFAULT};
}

lp_status lp_tune_budget_from_env(double *out) {
    *out = LP_TUNE_BUDGET_DEFAULT;
    const char *v = getenv("LAPERM_TUNE_BUDGET");
    if (!v || !*v) return LP_OK;
    char *end;
    errno = 0;
    double b = strtod(v, &end);
    if (errno || *end || !(b > 0 && b <= 3600))
        return lp_fail(LP_ERR_INVALID_ARG,
                       "LAPERM_TUNE_BUDGET=%s: expected seconds of timing per decision, a "
                       "number above 0 and at most 3600",
                       v);
    *out = b;
    return LP_OK;
}

/* Wall time less program builds and less the races that ended meanwhile. */
static double runtime_clock_(void *ctx) {
    lp_runtime *rt = ctx;
    tune_state_ *s = lp_runtime_attached(rt, ATTACH_KEY_);
    return lp_seconds() - lp_runtime_build_stats(rt).build_seconds - (s ? s->nested : 0);
}

/* Wall time less program builds, the races under way or ended included: a layer's. */
static double layer_clock_(void *ctx) {
    return lp_seconds() - lp_runtime_build_stats(ctx).build_seconds;
}

void lp_tune_race_start_clock(lp_tune_race *r, const lp_tune_limits *limits,
                              double (*clock)(void *ctx), void *ctx, int n) {
    *r = (lp_tune_race){.limits = *limits,
                        .clock = clock,
                        .clock_ctx = ctx,
                        .layer_clock = clock,
                        .layer_end = INFINITY};
    r->n = n < 1 ? 1 : n > LP_TUNE_MAX ? LP_TUNE_MAX : n;
    for (int i = 0; i < r->n; ++i) {
        r->state[i] = LP_TUNE_RACING;
        r->best[i] = r->warm[i] = INFINITY;
    }
    r->start = clock(ctx);
}

void lp_tune_race_start(lp_tune_race *r, lp_runtime *rt, int n) {
    tune_state_ *s = state_(rt); /* a home for the nested time and the layer (NULL: none) */
    lp_tune_limits limits = lp_tune_get_limits(rt);
    lp_tune_race_start_clock(r, &limits, runtime_clock_, rt, n);
    r->rt = rt;
    if (!s) return;
    if (s->depth++ == 0) s->layer_end = layer_clock_(rt) + LP_TUNE_LAYER_FACTOR * limits.budget;
    lp_tune_race_bound(r, layer_clock_, s->layer_end);
}

void lp_tune_race_bound(lp_tune_race *r, double (*layer_clock)(void *ctx), double layer_end) {
    r->layer_clock = layer_clock;
    r->layer_end = layer_end;
}

/* Whether the race is over now; the first time, every candidate still racing is
 * abandoned. */
static bool over_(lp_tune_race *r) {
    if (!r->over && !r->stopped) {
        if (r->limits.stop && *r->limits.stop)
            r->stopped = true;
        else if (r->clock(r->clock_ctx) - r->start >= r->limits.budget ||
                 r->layer_clock(r->clock_ctx) >= r->layer_end)
            r->over = true;
        else
            return false;
        for (int i = 0; i < r->n; ++i)
            if (r->state[i] == LP_TUNE_RACING) r->state[i] = LP_TUNE_ABANDONED;
    }
    return true;
}

bool lp_tune_go(lp_tune_race *r, int i) {
    if (i < 0 || i >= r->n || r->state[i] != LP_TUNE_RACING) return false;
    return !over_(r);
}

bool lp_tune_mid(lp_tune_race *r, int i) {
    return !over_(r) && i >= 0 && i < r->n && r->state[i] == LP_TUNE_RACING;
}

void lp_tune_warm(lp_tune_race *r, int i, double seconds) {
    if (i >= 0 && i < r->n && seconds < r->warm[i]) r->warm[i] = seconds;
}

void lp_tune_done(lp_tune_race *r, int i, double seconds) {
    if (i < 0 || i >= r->n) return;
    if (seconds < r->best[i]) r->best[i] = seconds;
    if (r->timed[i]++ > 0 || r->state[i] != LP_TUNE_RACING) return;
    /* The drop rule: measured against the fastest timed run of any candidate so far. */
    double fastest = INFINITY;
    for (int j = 0; j < r->n; ++j)
        if (j != i && r->best[j] < fastest) fastest = r->best[j];
    if (seconds > 2 * fastest) r->state[i] = LP_TUNE_DROPPED;
}

void lp_tune_fail(lp_tune_race *r, int i) {
    if (i >= 0 && i < r->n) r->state[i] = LP_TUNE_FAILED;
}

int lp_tune_best(const lp_tune_race *r) {
    int best = -1;
    for (int i = 0; i < r->n; ++i)
        if (r->state[i] != LP_TUNE_FAILED && r->timed[i] > 0 &&
            (best < 0 || r->best[i] < r->best[best]))
            best = i;
    if (best >= 0) return best;
    for (int i = 0; i < r->n; ++i)
        if (r->state[i] != LP_TUNE_FAILED && r->warm[i] < INFINITY &&
            (best < 0 || r->warm[i] < r->warm[best]))
            best = i;
    return best;
}

void lp_tune_race_end(lp_tune_race *r) {
    if (!r->rt) return;
    tune_state_ *s = lp_runtime_attached(r->rt, ATTACH_KEY_);
    if (s) {
        s->nested += r->clock(r->clock_ctx) - r->start;
        if (s->depth > 0) s->depth--;
    }
    r->rt = NULL;
}

const char *lp_tune_state_name(lp_tune_state s) {
    static const char *const names[] = {[LP_TUNE_RACING] = "timed",
                                        [LP_TUNE_DROPPED] = "dropped",
                                        [LP_TUNE_ABANDONED] = "abandoned",
                                        [LP_TUNE_FAILED] = "failed"};
    return (unsigned)s < sizeof names / sizeof *names ? names[s] : "?";
}

/* Measured on PoCL 3.1 (2 cores, AVX-512; README "Timed choices are bounded"): the FFT
 * path lost every timing of a 3x3 or 4x4 layer of conv7 and conv4, by 9x to 65x (larger
 * windows at stride 1, where the FFT's cost grows least, were not measured: kept), and
 * clFFT's plans take seconds to make; CLBlast lost each of conv4's products to laperm's
 * tiled kernels (`laperm bench`: 1.03x to 28x, eight of eleven by 5x or more), and its
 * first run compiles its own kernels for seconds. Other devices keep every candidate. */
const char *lp_tune_skip_fft(const lp_runtime *rt, int kh, int kw) {
    if (!lp_runtime_vector_loops(rt) || kh * kw > 16) return NULL;
    return "fft left out: a window of at most 16 taps on a CPU";
}

bool lp_tune_skip_clblast(const lp_runtime *rt, bool ta, bool tb) {
    return lp_runtime_vector_loops(rt) && !(ta && tb);
}
