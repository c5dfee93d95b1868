/* Internal: a race among the candidates of one timed choice, bounded by the runtime's
 * limits (laperm/tune.h). The chooser runs the candidates itself and reports to the race:
 *
 *   lp_tune_race r;
 *   lp_tune_race_start(&r, rt, n);
 *   for each round, for each candidate i:
 *       if (!lp_tune_go(&r, i)) continue;     // out of the race, or the race is over
 *       ... part of a run ...
 *       if (!lp_tune_mid(&r, i)) continue;    // between parts: abandon the run?
 *       ... rest of the run ...
 *       lp_tune_done(&r, i, seconds);         // or lp_tune_warm(&r, i, seconds)
 *   best = lp_tune_best(&r);                  // -1: nothing finished
 *
 * The rules: a candidate whose first timed run takes more than twice the fastest timed
 * run so far is dropped; once the race's clock passes the budget, or a stop is requested,
 * the race is over: the run under way is abandoned at its next point, and nothing more
 * runs. The clock counts wall time less program builds and less the time of other races
 * run meanwhile (a conv path's run may time the GEMM variants of its products), so a
 * budget means the same on cold and warm caches.
 *
 * A layer's timing is bounded too: the outermost race (a conv layer's paths) and every
 * race started during it (the GEMM variants of its products) end once LP_TUNE_LAYER_FACTOR
 * budgets have passed since the outermost began, on a clock that counts those nested
 * races (wall time less program builds). Without it a conv layer could take its budget
 * plus one budget per GEMM product its paths run. */
#ifndef LAPERM_TUNE_IMPL_H
#define LAPERM_TUNE_IMPL_H

#include <stdbool.h>

#include "laperm/tune.h"

#define LP_TUNE_MAX 16
#define LP_TUNE_LAYER_FACTOR 2

typedef enum {
    LP_TUNE_RACING,    /* gets further runs */
    LP_TUNE_DROPPED,   /* its first timed run was over twice the best: no further runs */
    LP_TUNE_ABANDONED, /* a run cut short, or never run: the budget was spent or a stop came */
    LP_TUNE_FAILED,    /* the chooser could not run it */
} lp_tune_state;

typedef struct {
    lp_tune_limits limits;
    double (*clock)(void *ctx); /* seconds; the race's budget is measured on it */
    void *clock_ctx;
    double start;
    int n;
    lp_tune_state state[LP_TUNE_MAX];
    double best[LP_TUNE_MAX];         /* fastest timed run; INFINITY: none finished */
    double warm[LP_TUNE_MAX];         /* its warm-up run (builds excluded); INFINITY: none */
    int timed[LP_TUNE_MAX];           /* timed runs finished */
    bool over;                        /* the budget was spent */
    bool stopped;                     /* a stop was requested */
    double (*layer_clock)(void *ctx); /* the layer's clock: nested races counted */
    double layer_end;                 /* on layer_clock: the layer's timing ends; INFINITY */
    lp_runtime *rt;                   /* NULL with a clock of the caller's (tests) */
} lp_tune_race;

/* A race of n (1 .. LP_TUNE_MAX) candidates under rt's limits, on rt's clock, within the
 * layer's bound (above): the outermost race of rt sets it, the races nested in it share it. */
void lp_tune_race_start(lp_tune_race *r, lp_runtime *rt, int n);
/* Bounds r's race by a layer's: over once layer_clock(ctx) reaches layer_end (tests). */
void lp_tune_race_bound(lp_tune_race *r, double (*layer_clock)(void *ctx), double layer_end);
/* The same with limits and a clock of the caller's (tests give a fake one). */
void lp_tune_race_start_clock(lp_tune_race *r, const lp_tune_limits *limits,
                              double (*clock)(void *ctx), void *ctx, int n);
/* Whether candidate i gets a run now: false when it is out of the race, or the race is
 * over (budget spent, stop requested), when every candidate still racing is abandoned. */
bool lp_tune_go(lp_tune_race *r, int i);
/* A point inside a run of i: false (and i abandoned) when the race is over. */
bool lp_tune_mid(lp_tune_race *r, int i);
/* i's warm-up run (not a timing: it builds and first touches) took `seconds`. */
void lp_tune_warm(lp_tune_race *r, int i, double seconds);
/* i's timed run took `seconds`: the fastest counts; the drop rule applies to its first. */
void lp_tune_done(lp_tune_race *r, int i, double seconds);
/* i could not run (the chooser says why). */
void lp_tune_fail(lp_tune_race *r, int i);
/* The fastest candidate with a timed run, else the fastest warm-up, else -1. */
int lp_tune_best(const lp_tune_race *r);
/* Ends the race: its wall time no longer counts on the clocks of races around it. */
void lp_tune_race_end(lp_tune_race *r);
/* "dropped", "abandoned", ... for notes. */
const char *lp_tune_state_name(lp_tune_state s);

/* Candidates that timing leaves out because measurements say they cannot win (README,
 * "Timed choices are bounded"): a rule on the device and the shape alone, so the same on
 * every run, for the devices it was measured on, CPUs that take the vector form
 * (lp_runtime_vector_loops: PoCL). Why the FFT path is left out for a kh x kw window,
 * or NULL. */
const char *lp_tune_skip_fft(const lp_runtime *rt, int kh, int kw);
/* Whether CLBlast is left out of the GEMM variants timed for a product with these
 * transpositions (never for A^T.B^T, which only CLBlast runs). */
bool lp_tune_skip_clblast(const lp_runtime *rt, bool ta, bool tb);

#endif
