/* The HDF5 results file: round trip through our readers with the rankings formula checked
 * bit for bit, crash safety of the .part/rename scheme (including a SIGKILLed writer),
 * errors that name file and dataset, and scripts/check-invariant through h5py. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>

#include "laperm/results.h"
#include "lp_test.h"

enum { G = 5, S = 7, N_EPOCHS = 3 }; /* dense kernel (out 5, in 7): 5 groups of 7 */

static float init_k[G * S], init_b[G];
static float w_k[N_EPOCHS][G * S]; /* kernel after each epoch's sync */
static int32_t rank_k[N_EPOCHS][G * S];
static float final_b[G];

static uint32_t bits_(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

/* The sort order of the schema: IEEE totalOrder on bits, ties to the lower index. */
static uint64_t sort_key_(float f, int index) {
    uint32_t b = bits_(f);
    b ^= (b >> 31) ? 0xFFFFFFFFu : 0x80000000u;
    return (uint64_t)b << 32 | (uint32_t)index;
}

static int cmp_u64_(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* rank[j] = position of w[j] in its sorted group; sorted[] gets the sorted values. */
static void rank_group_(const float *w, int n, int32_t *rank, float *sorted) {
    uint64_t keys[64];
    for (int j = 0; j < n; ++j)
        keys[j] = sort_key_(w[j], j);
    qsort(keys, (size_t)n, sizeof keys[0], cmp_u64_);
    for (int p = 0; p < n; ++p) {
        int j = (int)(keys[p] & 0xFFFFFFFFu);
        rank[j] = p;
        if (sorted) sorted[p] = w[j];
    }
}

/* Init values with ties, -0.0 and +0.0; each epoch permutes every group by a known
 * shuffle, as a LaPerm sync would. */
static void make_data_(void) {
    uint64_t rng = 42;
    for (int i = 0; i < G * S; ++i)
        init_k[i] = (float)(int)lp_test_uniform(&rng, -4.0f, 4.0f) * 0.25f; /* many ties */
    init_k[0] = -0.0f, init_k[1] = 0.0f, init_k[2] = -0.0f, init_k[3] = 0.0f;
    init_k[S + 4] = -0.0f, init_k[S + 5] = 0.0f;
    for (int j = 0; j < S; ++j)
        init_k[2 * S + j] = 0.5f; /* a group of equal values */
    for (int g = 0; g < G; ++g)
        init_b[g] = lp_test_uniform(&rng, -1.0f, 1.0f);
    for (int e = 0; e < N_EPOCHS; ++e)
        for (int g = 0; g < G; ++g) {
            int perm[S];
            for (int j = 0; j < S; ++j)
                perm[j] = j;
            for (int j = S - 1; j > 0; --j) {
                int k = (int)(lp_test_next(&rng) % (uint64_t)(j + 1)), t = perm[j];
                perm[j] = perm[k], perm[k] = t;
            }
            for (int j = 0; j < S; ++j)
                w_k[e][g * S + j] = init_k[g * S + perm[j]];
            rank_group_(&w_k[e][g * S], S, &rank_k[e][g * S], NULL);
        }
    for (int g = 0; g < G; ++g)
        final_b[g] = init_b[g] + 0.125f;
}

static const char *model_text_ = "[input]\nshape = 7\n\n[dense1]\nunits = 5\n";

/* One state tensor (as BatchNorm's running mean would be) and small checkpoint slots. */
static const lp_results_state state_[1] = {
    {.layer = "dense1", .name = "running_mean", .rank = 1, .dims = {3}}};
static const lp_results_checkpoint_size ckpt_size_ = {
    .params = 11, .state = 3, .stats = 4, .optimizer_buffers = 2};

static void state_of_(int e, float out[3]) {
    for (int i = 0; i < 3; ++i)
        out[i] = 0.25f * (float)(e + 1) + (float)i;
}

/* The test run's file; resume NULL: a new run; extras: with /evals, /best and the
 * checkpoints' best network. */
static lp_status create_with_(const char *path, const lp_results_resume *resume, bool extras,
                              lp_results **r) {
    lp_results_tensor t[2] = {
        {.layer = "dense1",
         .tensor = "kernel",
         .rank = 2,
         .dims = {G, S},
         .groups = G,
         .group_size = S,
         .permuted = true,
         .init = init_k},
        {.layer = "dense1", .tensor = "bias", .rank = 1, .dims = {G}, .init = init_b},
    };
    lp_attr a[] = {LP_ATTR_S("device", "Test Device"),
                   LP_ATTR_S("platform", "Test Platform"),
                   LP_ATTR_S("driver", "1.2.3"),
                   LP_ATTR_I("seed", 1234567890123LL),
                   LP_ATTR_D("lr", 1e-3),
                   LP_ATTR_I("k", 250)};
    lp_results_layout layout = {.tensors = t,
                                .n_tensors = 2,
                                .state = state_,
                                .n_state = 1,
                                .checkpoint = ckpt_size_,
                                .resume = resume,
                                .evals = extras,
                                .best = extras};
    layout.checkpoint.best = extras;
    return lp_results_create(path, a, 6, model_text_, "models/test.ini", &layout, r);
}

static lp_status create_resumed_(const char *path, const lp_results_resume *resume,
                                 lp_results **r) {
    return create_with_(path, resume, false, r);
}

static lp_status create_(const char *path, lp_results **r) {
    return create_resumed_(path, NULL, r);
}

static lp_epoch_metrics metrics_(int e) {
    return (lp_epoch_metrics){.epoch = e + 1,
                              .step = 100LL * (e + 1),
                              .train_loss = 2.0 - e,
                              .train_accuracy = 0.1 * e,
                              .test_loss = 2.5 - e,
                              .test_accuracy = 0.2 * e,
                              .learning_rate = 1e-3 * (e + 1),
                              .epoch_seconds = 1.5,
                              .elapsed_seconds = 1.5 * (e + 1),
                              .syncs = 4LL * (e + 1)};
}

static lp_status append_epoch_(lp_results *r, int e) {
    lp_epoch_metrics m = metrics_(e);
    LP_TRY(lp_results_append_metrics(r, &m));
    const int32_t *ranks[2] = {rank_k[e], NULL};
    const float *values[2] = {NULL, init_b};
    float st[3];
    state_of_(e, st);
    const float *state[1] = {st};
    lp_results_snapshot snap = {
        .step = m.step, .epoch = e + 1, .rankings = ranks, .values = values, .state = state};
    return lp_results_append_snapshot(r, &snap);
}

/* A complete run: N_EPOCHS epochs, finished with the last epoch's weights. */
static lp_status write_run_(const char *path) {
    lp_results *r = NULL;
    LP_TRY(create_(path, &r));
    for (int e = 0; e < N_EPOCHS; ++e) {
        lp_status s = append_epoch_(r, e);
        if (s != LP_OK) {
            lp_results_abandon(r);
            return s;
        }
    }
    const float *w[2] = {w_k[N_EPOCHS - 1], final_b};
    float st[3];
    state_of_(N_EPOCHS - 1, st);
    const float *state[1] = {st};
    return lp_results_finish(r, w, state, NULL, 0, "completed");
}

static bool exists_(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static const char *tmp_(const char *name) {
    static char buf[4][512];
    static int next = 0;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", lp_test_tmpdir(), name);
    return b;
}

/* A python3 that has h5py and numpy, or NULL (those checks are then skipped). */
static const char *python_(void) {
    static const char *cands[] = {"python3", "/usr/bin/python3"};
    static int found = -2;
    if (found == -2) {
        found = -1;
        for (int i = 0; i < 2 && found < 0; ++i) {
            char cmd[256];
            snprintf(cmd, sizeof cmd, "%s -c 'import h5py, numpy'", cands[i]);
            if (lp_test_run_command(cmd, NULL) == 0) found = i;
        }
        if (found < 0) printf("\n  (no python3 with h5py: skipping the h5py checks)\n");
    }
    return found >= 0 ? cands[found] : NULL;
}

/* ---- tests --------------------------------------------------------------------------- */

static void test_round_trip(void) {
    const char *path = tmp_("nested/dir/run.h5"); /* parent folders are created */
    CU_ASSERT_EQUAL_FATAL(write_run_(path), LP_OK);
    CU_ASSERT_TRUE(exists_(path));
    CU_ASSERT_FALSE(exists_(tmp_("nested/dir/run.h5.part")));

    float *f = NULL;
    int32_t *i32 = NULL;
    int64_t *i64 = NULL;
    double *f64 = NULL;
    int rank;
    size_t d[4];
    CU_ASSERT_EQUAL_FATAL(lp_results_read_float(path, "/init/dense1/kernel", &f, &rank, d), LP_OK);
    CU_ASSERT(rank == 2 && d[0] == G && d[1] == S);
    CU_ASSERT(memcmp(f, init_k, sizeof init_k) == 0);
    free(f);
    CU_ASSERT_EQUAL_FATAL(lp_results_read_float(path, "/weights/dense1/bias", &f, &rank, d), LP_OK);
    CU_ASSERT(rank == 1 && d[0] == G && memcmp(f, final_b, sizeof final_b) == 0);
    free(f);
    float *w = NULL;
    CU_ASSERT_EQUAL_FATAL(lp_results_read_float(path, "/weights/dense1/kernel", &w, &rank, d),
                          LP_OK);
    CU_ASSERT(memcmp(w, w_k[N_EPOCHS - 1], sizeof w_k[0]) == 0);

    /* The formula, bit for bit, on every snapshot: weights[g,j] == sort(init[g])[rank]. */
    CU_ASSERT_EQUAL_FATAL(lp_results_read_int32(path, "/rankings/dense1/kernel", &i32, &rank, d),
                          LP_OK);
    CU_ASSERT_FATAL(rank == 3 && d[0] == N_EPOCHS && d[1] == G && d[2] == S);
    int bad = 0;
    for (int g = 0; g < G; ++g) {
        float sorted[S];
        int32_t unused[S];
        rank_group_(&init_k[g * S], S, unused, sorted);
        for (int e = 0; e < N_EPOCHS; ++e)
            for (int j = 0; j < S; ++j) {
                int32_t k = i32[(size_t)e * G * S + g * S + j];
                bad += k != rank_k[e][g * S + j];
                bad += bits_(sorted[k]) != bits_(w_k[e][g * S + j]);
                if (e == N_EPOCHS - 1) bad += bits_(sorted[k]) != bits_(w[g * S + j]);
            }
    }
    CU_ASSERT_EQUAL(bad, 0);
    free(i32);
    free(w);
    CU_ASSERT_EQUAL(lp_results_read_int32(path, "/rankings/dense1/bias", &i32, &rank, d),
                    LP_ERR_NOT_FOUND); /* not permuted: no rankings */

    CU_ASSERT_EQUAL_FATAL(lp_results_read_int64(path, "/snapshot_step", &i64, &rank, d), LP_OK);
    CU_ASSERT(rank == 1 && d[0] == N_EPOCHS && i64[0] == 100 && i64[2] == 300);
    free(i64);
    CU_ASSERT_EQUAL_FATAL(lp_results_read_int32(path, "/snapshot_epoch", &i32, &rank, d), LP_OK);
    CU_ASSERT(d[0] == N_EPOCHS && i32[0] == 1 && i32[1] == 2 && i32[2] == 3);
    free(i32);

    /* Metrics: one entry per epoch, each with its stored type. */
    CU_ASSERT_EQUAL_FATAL(lp_results_read_int32(path, "/metrics/epoch", &i32, &rank, d), LP_OK);
    CU_ASSERT(rank == 1 && d[0] == N_EPOCHS && i32[2] == 3);
    free(i32);
    const char *i64_names[] = {"/metrics/step", "/metrics/syncs"};
    for (int k = 0; k < 2; ++k) {
        CU_ASSERT_EQUAL_FATAL(lp_results_read_int64(path, i64_names[k], &i64, &rank, d), LP_OK);
        lp_epoch_metrics m = metrics_(2);
        CU_ASSERT(d[0] == N_EPOCHS && i64[2] == (k == 0 ? m.step : m.syncs));
        free(i64);
    }
    const char *f64_names[] = {"train_loss",    "train_accuracy", "test_loss",      "test_accuracy",
                               "learning_rate", "epoch_seconds",  "elapsed_seconds"};
    for (int k = 0; k < 7; ++k) {
        char name[64];
        snprintf(name, sizeof name, "/metrics/%s", f64_names[k]);
        CU_ASSERT_EQUAL_FATAL(lp_results_read_double(path, name, &f64, &rank, d), LP_OK);
        CU_ASSERT_EQUAL(d[0], N_EPOCHS);
        for (int e = 0; e < N_EPOCHS; ++e) {
            lp_epoch_metrics m = metrics_(e);
            double want[7] = {m.train_loss,    m.train_accuracy, m.test_loss,      m.test_accuracy,
                              m.learning_rate, m.epoch_seconds,  m.elapsed_seconds};
            CU_ASSERT_EQUAL(f64[e], want[k]);
        }
        free(f64);
    }

    /* Root attributes, /init attributes, model text. */
    long long v = 0;
    double dv = 0;
    char *s = NULL;
    CU_ASSERT(lp_results_read_attr_int(path, "/", "format_version", &v) == LP_OK &&
              v == LP_RESULTS_FORMAT_VERSION);
    CU_ASSERT(lp_results_read_attr_int(path, "/", "seed", &v) == LP_OK && v == 1234567890123LL);
    CU_ASSERT(lp_results_read_attr_double(path, "/", "lr", &dv) == LP_OK && dv == 1e-3);
    CU_ASSERT(lp_results_read_attr_int(path, "/init/dense1/kernel", "group_size", &v) == LP_OK &&
              v == S);
    CU_ASSERT(lp_results_read_attr_int(path, "/init/dense1/bias", "permuted", &v) == LP_OK &&
              v == 0);
    const char *want_str[][2] = {{"device", "Test Device"},
                                 {"platform", "Test Platform"},
                                 {"driver", "1.2.3"},
                                 {"status", "completed"}};
    for (int k = 0; k < 4; ++k) {
        CU_ASSERT_EQUAL_FATAL(lp_results_read_string(path, "/", want_str[k][0], &s), LP_OK);
        CU_ASSERT_STRING_EQUAL(s, want_str[k][1]);
        free(s);
    }
    const char *times[] = {"start_time", "end_time"};
    for (int k = 0; k < 2; ++k) {
        CU_ASSERT_EQUAL_FATAL(lp_results_read_string(path, "/", times[k], &s), LP_OK);
        CU_ASSERT(strlen(s) == 20 && s[10] == 'T' && s[19] == 'Z'); /* 2025-01-31T12:00:00Z */
        free(s);
    }
    CU_ASSERT_EQUAL_FATAL(lp_results_read_string(path, "/model_text", NULL, &s), LP_OK);
    CU_ASSERT_STRING_EQUAL(s, model_text_);
    free(s);
    CU_ASSERT_EQUAL_FATAL(lp_results_read_string(path, "/model_text", "source", &s), LP_OK);
    CU_ASSERT_STRING_EQUAL(s, "models/test.ini");
    free(s);
}

static void test_part_until_finish(void) {
    const char *path = tmp_("follow.h5"), *part = tmp_("follow.h5.part");
    lp_results *r = NULL;
    CU_ASSERT_EQUAL_FATAL(create_(path, &r), LP_OK);
    CU_ASSERT_STRING_EQUAL(lp_results_partial_path(r), part);
    CU_ASSERT_EQUAL(append_epoch_(r, 0), LP_OK);
    CU_ASSERT_EQUAL(append_epoch_(r, 1), LP_OK);
    CU_ASSERT_FALSE(exists_(path));
    CU_ASSERT_TRUE(exists_(part));
    /* Another process follows the running file with SWMR, as documented. */
    const char *py = python_();
    if (py) {
        char cmd[1024], *out = NULL;
        snprintf(cmd, sizeof cmd,
                 "%s -c \"import h5py; f = h5py.File('%s', 'r', libver='latest', swmr=True); "
                 "print(len(f['metrics/epoch']), f['rankings/dense1/kernel'].shape, "
                 "f.attrs['status'])\"",
                 py, part);
        CU_ASSERT_EQUAL(lp_test_run_command(cmd, &out), 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(out, "2 (2, 5, 7) running"));
        if (!strstr(out, "2 (2, 5, 7) running")) printf("\n  h5py said: %s\n", out);
        free(out);
    }
    CU_ASSERT_EQUAL(append_epoch_(r, 2), LP_OK);
    /* A reader still following the .part holds a shared lock; finish must get past it. */
    if (py) {
        const char *marker = tmp_("follow.reading");
        char cmd[2048];
        snprintf(cmd, sizeof cmd,
                 "(%s -c \"import h5py, os, time; "
                 "f = h5py.File('%s', 'r', libver='latest', swmr=True); open('%s', 'w').close(); "
                 "t = time.time()\n"
                 "while not os.path.exists('%s') and time.time() - t < 20: time.sleep(0.02)\" "
                 ">/dev/null 2>&1 &)",
                 py, part, marker, path);
        CU_ASSERT_EQUAL(lp_test_run_command(cmd, NULL), 0);
        for (int i = 0; i < 500 && !exists_(marker); ++i)
            nanosleep(&(struct timespec){0, 20000000}, NULL);
        CU_ASSERT_TRUE(exists_(marker));
    }
    const float *w[2] = {w_k[N_EPOCHS - 1], final_b};
    float st[3] = {0};
    const float *state[1] = {st};
    CU_ASSERT_EQUAL(lp_results_finish(r, w, state, NULL, 0, "interrupted"), LP_OK);
    if (!exists_(path)) printf("\n  finish: %s\n", lp_last_error());
    CU_ASSERT_TRUE(exists_(path));
    CU_ASSERT_FALSE(exists_(part));
    char *s = NULL;
    CU_ASSERT(lp_results_read_string(path, "/", "status", &s) == LP_OK &&
              strcmp(s, "interrupted") == 0);
    free(s);
}

static char *slurp_(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(*n ? *n : 1);
    if (b && fread(b, 1, *n, f) != *n) free(b), b = NULL;
    fclose(f);
    return b;
}

static void test_abandon_keeps_previous(void) {
    const char *path = tmp_("keep.h5");
    CU_ASSERT_EQUAL_FATAL(write_run_(path), LP_OK);
    size_t n0 = 0, n1 = 0;
    char *before = slurp_(path, &n0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(before);

    lp_results *r = NULL;
    CU_ASSERT_EQUAL_FATAL(create_(path, &r), LP_OK);
    CU_ASSERT_EQUAL(append_epoch_(r, 0), LP_OK);
    lp_results_abandon(r);
    /* A failed finish (weights that are not the last snapshot's permutation) also leaves
     * the previous file alone. */
    CU_ASSERT_EQUAL_FATAL(create_(path, &r), LP_OK);
    CU_ASSERT_EQUAL(append_epoch_(r, 0), LP_OK);
    const float *w[2] = {w_k[1], final_b};
    float st[3] = {0};
    const float *state[1] = {st};
    CU_ASSERT_EQUAL(lp_results_finish(r, w, state, NULL, 0, "completed"), LP_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "dense1/kernel"));

    char *after = slurp_(path, &n1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(after);
    CU_ASSERT(n0 == n1 && memcmp(before, after, n0) == 0);
    CU_ASSERT_TRUE(exists_(tmp_("keep.h5.part")));
    free(before);
    free(after);
}

/* lp_results_check_same_run: the same values pass, another is refused naming both; an
 * attribute the file was written without (by a laperm from before it) passes when this
 * run's value is the "off" one (0, +0.0, ""), and is refused naming it otherwise. */
static void test_same_run(void) {
    const char *path = tmp_("same.h5");
    CU_ASSERT_EQUAL_FATAL(write_run_(path), LP_OK);
    lp_attr same[] = {LP_ATTR_S("device", "Test Device"), LP_ATTR_I("seed", 1234567890123LL),
                      LP_ATTR_D("lr", 1e-3), LP_ATTR_I("k", 250)};
    CU_ASSERT_EQUAL(lp_results_check_same_run(path, same, 4, NULL, model_text_), LP_OK);
    lp_attr other = LP_ATTR_I("k", 20);
    CU_ASSERT_EQUAL(lp_results_check_same_run(path, &other, 1, NULL, model_text_),
                    LP_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "'k' was 250 in that run, 20 now"));
    lp_attr newer_off[] = {LP_ATTR_I("eval_every", 0), LP_ATTR_D("weight_decay", 0.0),
                           LP_ATTR_S("k_steps", "")};
    CU_ASSERT_EQUAL(lp_results_check_same_run(path, newer_off, 3, NULL, model_text_), LP_OK);
    lp_attr newer_on[] = {LP_ATTR_I("eval_every", 250), LP_ATTR_D("weight_decay", -0.0),
                          LP_ATTR_S("k_steps", "0:20")};
    for (int i = 0; i < 3; ++i) {
        CU_ASSERT_EQUAL(lp_results_check_same_run(path, &newer_on[i], 1, NULL, model_text_),
                        LP_ERR_INVALID_ARG);
        CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "was written without"));
        CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), newer_on[i].name));
    }
}

static void test_read_errors(void) {
    const char *junk = tmp_("junk.h5");
    FILE *f = fopen(junk, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("this is not an HDF5 file\n", f);
    fclose(f);
    float *data = NULL;
    int rank;
    size_t d[4];
    CU_ASSERT_EQUAL(lp_results_read_float(junk, "/init/dense1/kernel", &data, &rank, d),
                    LP_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), junk));
    CU_ASSERT_EQUAL(lp_results_read_float(tmp_("absent.h5"), "/x", &data, &rank, d),
                    LP_ERR_NOT_FOUND);

    const char *path = tmp_("errors.h5");
    CU_ASSERT_EQUAL_FATAL(write_run_(path), LP_OK);
    CU_ASSERT_EQUAL(lp_results_read_float(path, "/init/dense9/kernel", &data, &rank, d),
                    LP_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), path));
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "/init/dense9/kernel"));
    CU_ASSERT_EQUAL(lp_results_read_float(path, "/snapshot_step", &data, &rank, d), LP_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "int64"));
    CU_ASSERT_EQUAL(lp_results_read_float(path, "/init", &data, &rank, d), LP_ERR_FORMAT);
    CU_ASSERT_PTR_NULL(data);
    long long v;
    CU_ASSERT_EQUAL(lp_results_read_attr_int(path, "/", "nope", &v), LP_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "nope"));
}

static void test_invalid_args(void) {
    const char *path = tmp_("invalid.h5");
    lp_results *r = NULL;
    lp_results_tensor t = {
        .layer = "a/b", .tensor = "kernel", .rank = 1, .dims = {3}, .init = init_b};
    lp_attr a[] = {LP_ATTR_S("device", "d"), LP_ATTR_S("platform", "p"), LP_ATTR_S("driver", "v"),
                   LP_ATTR_I("seed", 1), LP_ATTR_S("status", "x")};
    lp_results_layout layout = {.tensors = &t, .n_tensors = 1};
    CU_ASSERT_EQUAL(lp_results_create(path, a, 4, "", NULL, &layout, &r), LP_ERR_INVALID_ARG);
    t.layer = "a";
    CU_ASSERT_EQUAL(lp_results_create(path, a, 5, "", NULL, &layout, &r), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_results_create(path, a, 3, "", NULL, &layout, &r), LP_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "seed"));
    t.permuted = true, t.groups = 2, t.group_size = 2; /* 4 != 3 elements */
    CU_ASSERT_EQUAL(lp_results_create(path, a, 4, "", NULL, &layout, &r), LP_ERR_INVALID_ARG);
    CU_ASSERT_FALSE(exists_(tmp_("invalid.h5.part")));

    /* A ranking that is not a permutation is refused, and nothing of it is written. */
    CU_ASSERT_EQUAL_FATAL(create_(path, &r), LP_OK);
    int32_t broken[G * S];
    memcpy(broken, rank_k[0], sizeof broken);
    broken[3 * S + 1] = broken[3 * S];
    const int32_t *ranks[2] = {broken, NULL};
    const float *values[2] = {NULL, init_b};
    float st0[3] = {0};
    const float *st0p[1] = {st0};
    lp_results_snapshot snap = {
        .step = 1, .epoch = 1, .rankings = ranks, .values = values, .state = st0p};
    CU_ASSERT_EQUAL(lp_results_append_snapshot(r, &snap), LP_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "group 3"));
    ranks[0] = NULL;
    CU_ASSERT_EQUAL(lp_results_append_snapshot(r, &snap), LP_ERR_INVALID_ARG);
    ranks[0] = rank_k[0], values[1] = NULL; /* the bias has neither */
    CU_ASSERT_EQUAL(lp_results_append_snapshot(r, &snap), LP_ERR_INVALID_ARG);
    const float *w[2] = {w_k[0], final_b};
    float st[3] = {0};
    const float *state[1] = {st};
    CU_ASSERT_EQUAL(lp_results_finish(r, w, state, NULL, 0, "completed"),
                    LP_ERR_INVALID_ARG); /* no snapshot */
    CU_ASSERT_FALSE(exists_(path));
    int32_t *steps = NULL;
    int rank;
    size_t d[4];
    CU_ASSERT_EQUAL(
        lp_results_read_int32(tmp_("invalid.h5.part"), "/snapshot_epoch", &steps, &rank, d), LP_OK);
    CU_ASSERT(d[0] == 0 && steps == NULL);
}

/* A checkpoint whose arrays are filled from `seed` at `step`. */
typedef struct {
    float params[11], optimizer[22], state[3], stats[4];
    char choices[64];
    lp_results_checkpoint c;
} ckpt_buf_;

static void ckpt_fill_(ckpt_buf_ *b, long long step) {
    memset(b, 0, sizeof *b);
    for (int i = 0; i < 11; ++i)
        b->params[i] = (float)step + 0.5f * (float)i;
    for (int i = 0; i < 22; ++i)
        b->optimizer[i] = -(float)step - (float)i;
    for (int i = 0; i < 3; ++i)
        b->state[i] = (float)(step * 3 + i);
    for (int i = 0; i < 4; ++i)
        b->stats[i] = (float)(step * 7 + i);
    snprintf(b->choices, sizeof b->choices, "auto:nn:b0:%lldx3x4 clblast:k1\n", step);
    b->c = (lp_results_checkpoint){.step = step,
                                   .syncs = step / 2,
                                   .epoch = (int)(step / 10),
                                   .step_in_epoch = (int)(step % 10),
                                   .samples = step * 3,
                                   .size = ckpt_size_,
                                   .params = b->params,
                                   .optimizer = b->optimizer,
                                   .state = b->state,
                                   .stats = b->stats,
                                   .choices = b->choices};
}

static void assert_ckpt_(const lp_results_checkpoint *got, long long step) {
    ckpt_buf_ want;
    ckpt_fill_(&want, step);
    CU_ASSERT_EQUAL(got->step, step);
    CU_ASSERT_EQUAL(got->syncs, step / 2);
    CU_ASSERT_EQUAL(got->epoch, (int)(step / 10));
    CU_ASSERT_EQUAL(got->step_in_epoch, (int)(step % 10));
    CU_ASSERT_EQUAL(got->samples, step * 3);
    CU_ASSERT(got->params && !memcmp(got->params, want.params, sizeof want.params));
    CU_ASSERT(got->optimizer && !memcmp(got->optimizer, want.optimizer, sizeof want.optimizer));
    CU_ASSERT(got->state && !memcmp(got->state, want.state, sizeof want.state));
    CU_ASSERT(got->stats && !memcmp(got->stats, want.stats, sizeof want.stats));
    CU_ASSERT(got->choices && !strcmp(got->choices, want.choices));
}

/* Two slots: the newest complete checkpoint is read back; one damaged after the fact is
 * skipped for the other; a file without any is NOT_FOUND. */
static void test_checkpoints(void) {
    const char *path = tmp_("ckpt.h5"), *part = tmp_("ckpt.h5.part");
    lp_results *r = NULL;
    CU_ASSERT_EQUAL_FATAL(create_(path, &r), LP_OK);
    lp_results_checkpoint got;
    CU_ASSERT_EQUAL(lp_results_read_checkpoint(part, &got), LP_ERR_NOT_FOUND);
    ckpt_buf_ b;
    ckpt_fill_(&b, 10);
    CU_ASSERT_EQUAL(lp_results_write_checkpoint(r, &b.c), LP_OK);
    CU_ASSERT_EQUAL(append_epoch_(r, 0), LP_OK);
    ckpt_fill_(&b, 20);
    CU_ASSERT_EQUAL(lp_results_write_checkpoint(r, &b.c), LP_OK);
    CU_ASSERT_EQUAL(b.c.metrics, 1);
    CU_ASSERT_EQUAL(b.c.snapshots, 1);
    CU_ASSERT_EQUAL_FATAL(lp_results_read_checkpoint(part, &got), LP_OK); /* while writing */
    assert_ckpt_(&got, 20);
    CU_ASSERT_EQUAL(got.metrics, 1);
    lp_results_checkpoint_free(&got);
    ckpt_fill_(&b, 30); /* overwrites step 10's slot */
    CU_ASSERT_EQUAL(lp_results_write_checkpoint(r, &b.c), LP_OK);
    ckpt_fill_(&b, 5);
    b.c.size.params = 12; /* other sizes are refused */
    CU_ASSERT_EQUAL(lp_results_write_checkpoint(r, &b.c), LP_ERR_INVALID_ARG);
    lp_results_abandon(r);
    CU_ASSERT_EQUAL_FATAL(lp_results_read_checkpoint(part, &got), LP_OK);
    assert_ckpt_(&got, 30);
    lp_results_checkpoint_free(&got);

    /* Damage step 30's parameters (slot 0) as a torn write would: step 20 is read. */
    hid_t f = H5Fopen(part, H5F_ACC_RDWR, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    hid_t ds = H5Dopen2(f, "/checkpoint/0/params", H5P_DEFAULT);
    float junk[11] = {1.0f};
    CU_ASSERT(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, junk) >= 0);
    H5Dclose(ds);
    H5Fclose(f);
    CU_ASSERT_EQUAL_FATAL(lp_results_read_checkpoint(part, &got), LP_OK);
    assert_ckpt_(&got, 20);

    /* Resuming from it: a new .part with the first entries copied and the checkpoint. */
    lp_results_resume resume = {.source = part, .checkpoint = &got};
    CU_ASSERT_EQUAL_FATAL(create_resumed_(path, &resume, &r), LP_OK);
    lp_results_checkpoint again;
    CU_ASSERT_EQUAL_FATAL(lp_results_read_checkpoint(part, &again), LP_OK);
    assert_ckpt_(&again, 20);
    lp_results_checkpoint_free(&again);
    CU_ASSERT_EQUAL(append_epoch_(r, 1), LP_OK);
    const float *w[2] = {w_k[1], final_b};
    float st[3];
    state_of_(1, st);
    const float *state[1] = {st};
    lp_attr extra[] = {LP_ATTR_I("extra", 7)};
    CU_ASSERT_EQUAL_FATAL(lp_results_finish(r, w, state, extra, 1, "diverged"), LP_OK);
    lp_results_checkpoint_free(&got);
    int rank;
    size_t d[4];
    int32_t *epochs = NULL;
    float *running = NULL;
    CU_ASSERT_EQUAL(lp_results_read_int32(path, "/metrics/epoch", &epochs, &rank, d), LP_OK);
    CU_ASSERT(d[0] == 2 && epochs && epochs[0] == 1 && epochs[1] == 2);
    free(epochs);
    CU_ASSERT_EQUAL(lp_results_read_float(path, "/state/dense1/running_mean", &running, &rank, d),
                    LP_OK);
    CU_ASSERT(rank == 2 && d[0] == 2 && d[1] == 3 && running && running[3] == st[0]);
    free(running);
    CU_ASSERT_EQUAL(lp_results_read_float(path, "/weights/dense1/running_mean", &running, &rank, d),
                    LP_OK);
    CU_ASSERT(rank == 1 && d[0] == 3 && running && running[2] == st[2]);
    free(running);
    long long extra_v = 0;
    CU_ASSERT(lp_results_read_attr_int(path, "/", "extra", &extra_v) == LP_OK && extra_v == 7);
    char *status = NULL;
    CU_ASSERT(lp_results_read_string(path, "/", "status", &status) == LP_OK &&
              !strcmp(status, "diverged"));
    free(status);
}

/* A writer killed with SIGKILL leaves <path> absent and a .part holding every flushed
 * epoch, readable by our reader and h5py (SWMR) and, after `h5clear -s`, by anything. */
static void test_killed_writer(void) {
    const char *path = tmp_("killed.h5"), *part = tmp_("killed.h5.part");
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        lp_results *r = NULL;
        if (create_(path, &r) != LP_OK || append_epoch_(r, 0) != LP_OK ||
            append_epoch_(r, 1) != LP_OK)
            _exit(3);
        raise(SIGKILL);
        _exit(4);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CU_ASSERT_FATAL(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    CU_ASSERT_FALSE(exists_(path));
    int32_t *data = NULL;
    int rank;
    size_t d[4];
    CU_ASSERT_EQUAL(lp_results_read_int32(part, "/rankings/dense1/kernel", &data, &rank, d), LP_OK);
    CU_ASSERT(d[0] == 2 && data && memcmp(data + G * S, rank_k[1], sizeof rank_k[1]) == 0);
    free(data);
    const char *py = python_();
    if (py) {
        /* h5py follows it with SWMR as is; after `h5clear -s` (which must not truncate
         * it: the writer keeps the superblock's end of file current) it is a plain file. */
        char cmd[2048], *out = NULL;
        const char *script = lp_test_source_path("scripts/check-invariant");
        snprintf(cmd, sizeof cmd,
                 "%s %s %s && h5clear -s %s && %s -c \"import h5py; f = h5py.File('%s', 'r'); "
                 "print(len(f['metrics/train_loss']), f['rankings/dense1/kernel'].shape)\" && "
                 "%s %s %s",
                 py, script, part, part, py, part, py, script, part);
        CU_ASSERT_EQUAL(lp_test_run_command(cmd, &out), 0);
        CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "2 (2, 5, 7)"));
        if (!out || !strstr(out, "2 (2, 5, 7)")) printf("\n  killed .part: %s\n", out);
        free(out);
    }
}

static void test_check_invariant_script(void) {
    const char *py = python_();
    if (!py) return;
    const char *path = tmp_("script.h5"), *script = lp_test_source_path("scripts/check-invariant");
    CU_ASSERT_EQUAL_FATAL(write_run_(path), LP_OK);
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s %s %s", py, script, path);
    CU_ASSERT_EQUAL(lp_test_run_command(cmd, &out), 0);
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "dense1/kernel"));
    if (out && !strstr(out, "OK")) printf("\n  check-invariant said: %s\n", out);
    free(out);
    /* Break it two ways with h5py: one final weight, one middle snapshot's ranking. */
    const char *edits[] = {"d = f['weights/dense1/kernel']; a = d[...]; a[4, 6] = 9.0; d[...] = a",
                           "d = f['rankings/dense1/kernel']; a = d[...]; a[1, 2, 0] = a[1, 2, 1]; "
                           "d[...] = a"};
    for (int k = 0; k < 2; ++k) {
        const char *broken = tmp_(k == 0 ? "broken0.h5" : "broken1.h5");
        snprintf(cmd, sizeof cmd,
                 "cp %s %s && %s -c \"import h5py; f = h5py.File('%s', 'r+'); %s\" && %s %s %s",
                 path, broken, py, broken, edits[k], py, script, broken);
        int rc = lp_test_run_command(cmd, &out);
        CU_ASSERT(rc != 0 && rc != -1);
        CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "MISMATCH"));
        if (!out || !strstr(out, "MISMATCH")) printf("\n  broken %d: %s\n", k, out);
        free(out);
    }
}

static lp_eval_metrics eval_(int i) {
    return (lp_eval_metrics){.step = 7LL * (i + 1),
                             .epoch = i / 2 + 1,
                             .synced = i % 2,
                             .test_loss = 1.0 + i,
                             .test_accuracy = 0.1 * i,
                             .test_loss_unsynced = 2.0 + i,
                             .test_accuracy_unsynced = 0.3 * i,
                             .elapsed_seconds = 0.5 * i};
}

static long long attr_(const char *path, const char *object, const char *name) {
    long long v = -1;
    CU_ASSERT_EQUAL(lp_results_read_attr_int(path, object, name, &v), LP_OK);
    return v;
}

/* /evals and /best: appended and overwritten in SWMR mode, counted and carried by the
 * checkpoint, copied up to it on resume; refused where the layout has none. */
static void test_evals_and_best(void) {
    const char *path = tmp_("evals.h5"), *part = tmp_("evals.h5.part");
    lp_results *r = NULL;
    CU_ASSERT_EQUAL_FATAL(create_with_(path, NULL, true, &r), LP_OK);
    CU_ASSERT_EQUAL(attr_(part, "/best", "valid"), 0);
    for (int i = 0; i < 2; ++i) {
        lp_eval_metrics e = eval_(i);
        CU_ASSERT_EQUAL(lp_results_append_eval(r, &e), LP_OK);
    }
    float st[3];
    state_of_(0, st);
    const float *w[2] = {w_k[0], final_b}, *state[1] = {st};
    lp_results_best best = {.step = 7, .epoch = 1, .test_accuracy = 0.5, .test_loss = 1.5};
    CU_ASSERT_EQUAL(lp_results_write_best(r, &best, w, state), LP_OK);
    CU_ASSERT_EQUAL(attr_(part, "/best", "valid"), 1);
    CU_ASSERT_EQUAL(attr_(part, "/best", "step"), 7);
    ckpt_buf_ b;
    ckpt_fill_(&b, 14);
    float best_params[11], best_state[3];
    for (int i = 0; i < 11; ++i)
        best_params[i] = 100.0f + (float)i;
    memcpy(best_state, st, sizeof st);
    b.c.size.best = true;
    b.c.best = best;
    b.c.best_params = best_params;
    b.c.best_state = best_state;
    CU_ASSERT_EQUAL(lp_results_write_checkpoint(r, &b.c), LP_OK);
    CU_ASSERT_EQUAL(b.c.evals, 2);
    lp_eval_metrics e = eval_(2);
    CU_ASSERT_EQUAL(lp_results_append_eval(r, &e), LP_OK);
    lp_results_abandon(r);

    int64_t *steps = NULL;
    int rank;
    size_t d[4];
    CU_ASSERT_EQUAL(lp_results_read_int64(part, "/evals/step", &steps, &rank, d), LP_OK);
    CU_ASSERT(d[0] == 3 && steps && steps[2] == 21);
    free(steps);
    float *kernel = NULL;
    CU_ASSERT_EQUAL(lp_results_read_float(part, "/best/dense1/kernel", &kernel, &rank, d), LP_OK);
    CU_ASSERT(rank == 2 && d[0] == G && d[1] == S && kernel &&
              !memcmp(kernel, w_k[0], sizeof w_k[0]));
    free(kernel);
    lp_results_checkpoint got;
    CU_ASSERT_EQUAL_FATAL(lp_results_read_checkpoint(part, &got), LP_OK);
    assert_ckpt_(&got, 14);
    CU_ASSERT(got.evals == 2 && got.size.best && got.best.step == 7 && got.best.epoch == 1 &&
              got.best.test_accuracy == 0.5 && got.best.test_loss == 1.5);
    CU_ASSERT(got.best_params && !memcmp(got.best_params, best_params, sizeof best_params));
    CU_ASSERT(got.best_state && !memcmp(got.best_state, best_state, sizeof best_state));

    /* Resumed: the two /evals entries the checkpoint counts, not the third. */
    lp_results_resume resume = {.source = part, .checkpoint = &got};
    CU_ASSERT_EQUAL_FATAL(create_with_(path, &resume, true, &r), LP_OK);
    double *acc = NULL;
    CU_ASSERT_EQUAL(lp_results_read_double(part, "/evals/test_accuracy_unsynced", &acc, &rank, d),
                    LP_OK);
    CU_ASSERT(d[0] == 2 && acc && acc[1] == eval_(1).test_accuracy_unsynced);
    free(acc);
    CU_ASSERT_EQUAL(attr_(part, "/best", "valid"), 0); /* until the trainer writes it */
    CU_ASSERT_EQUAL(lp_results_write_best(r, &got.best, w, state), LP_OK);
    CU_ASSERT_EQUAL(append_epoch_(r, 0), LP_OK);
    const float *fw[2] = {w_k[0], final_b};
    CU_ASSERT_EQUAL_FATAL(lp_results_finish(r, fw, state, NULL, 0, "completed"), LP_OK);
    lp_results_checkpoint_free(&got);
    CU_ASSERT_EQUAL(attr_(path, "/best", "valid"), 1);
    CU_ASSERT_EQUAL(attr_(path, "/best", "epoch"), 1);
    float *running = NULL;
    CU_ASSERT_EQUAL(lp_results_read_float(path, "/best/dense1/running_mean", &running, &rank, d),
                    LP_OK);
    CU_ASSERT(d[0] == 3 && running && !memcmp(running, st, sizeof st));
    free(running);

    /* A layout without them: neither the datasets nor the calls. */
    CU_ASSERT_EQUAL_FATAL(create_(tmp_("plain.h5"), &r), LP_OK);
    CU_ASSERT_EQUAL(lp_results_append_eval(r, &e), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_results_write_best(r, &best, w, state), LP_ERR_INVALID_ARG);
    lp_results_abandon(r);
    CU_ASSERT_EQUAL(lp_results_read_int64(tmp_("plain.h5.part"), "/evals/step", &steps, &rank, d),
                    LP_ERR_NOT_FOUND);
}

static void register_suites(void) {
    make_data_();
    CU_pSuite s = CU_add_suite("results", NULL, NULL);
    CU_add_test(s, "round trip, formula bit for bit", test_round_trip);
    CU_add_test(s, ".part until finish, SWMR follow", test_part_until_finish);
    CU_add_test(s, "abandon keeps the previous file", test_abandon_keeps_previous);
    CU_add_test(s, "read errors name file and dataset", test_read_errors);
    CU_add_test(s, "same run: attributes, and those a file predates", test_same_run);
    CU_add_test(s, "invalid arguments", test_invalid_args);
    CU_add_test(s, "SIGKILLed writer", test_killed_writer);
    CU_add_test(s, "checkpoints: two slots, damage, resume", test_checkpoints);
    CU_add_test(s, "/evals and /best, with checkpoints and resume", test_evals_and_best);
    CU_add_test(s, "scripts/check-invariant", test_check_invariant_script);
}

int main(void) {
    return lp_test_main("test_results", register_suites);
}
