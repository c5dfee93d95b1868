/* The on-disk cache of [conv2d] algorithm decisions (conv_algo-impl.h): a text file of
 * `<key> <algo> <gemm ms> <fft ms> <direct ms>` lines, read whole and rewritten whole. */
#include "conv_algo-impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime-impl.h"

/* Bump when the line format or what a timing measures changes: old files are then left
 * alone under their old name. */
#define FORMAT_ "laperm-conv-algo-2"
/* A file this long is not ours to keep growing: entries past it are not read. */
#define ENTRIES_MAX_ 4096

typedef struct {
    char key[LP_CONV_KEY_MAX];
    lp_conv_choice c;
} entry_;

typedef struct {
    entry_ *v;
    int n, cap;
    int damaged; /* lines that did not parse */
} table_;

static uint64_t fnv1a_(uint64_t h, const char *s) {
    for (; *s; ++s)
        h = (h ^ (unsigned char)*s) * 0x100000001B3ull;
    return (h ^ 0xFF) * 0x100000001B3ull; /* a separator, so ("ab","c") != ("a","bc") */
}

bool lp_conv_choice_path(const lp_runtime *rt, char *path, size_t cap) {
    char dir[4096];
    if (!lp_cache_enabled_() || !lp_cache_dir_(dir, sizeof dir)) return false;
    const lp_device_info *d = lp_runtime_device(rt);
    uint64_t h = 0xCBF29CE484222325ull;
    /* $LAPERM_GEMM picks the matrix-product backend, so it changes the GEMM side's times. */
    const char *gemm = getenv("LAPERM_GEMM");
    const char *parts[] = {FORMAT_,          d->device_name,      d->driver_version,
                           d->platform_name, d->platform_version, gemm ? gemm : ""};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; ++i)
        h = fnv1a_(h, parts[i]);
    int len = snprintf(path, cap, "%s/conv-algo-%016llx.txt", dir, (unsigned long long)h);
    return len > 0 && (size_t)len < cap;
}

/* One line into e; false when it is not `<key> <algo> <ms> <ms> <ms>` with sane times. */
static bool parse_line_(const char *line, entry_ *e) {
    char algo[8], extra;
    double g, f, d;
    if (sscanf(line, "%127s %7s %lf %lf %lf %c", e->key, algo, &g, &f, &d, &extra) != 5)
        return false;
    if (!(g >= 0 && g < 1e9 && f >= 0 && f < 1e9 && d >= 0 && d < 1e9)) return false; /* NaN too */
    if (strcmp(algo, "gemm") == 0)
        e->c.algo = LP_CONV_ALGO_GEMM;
    else if (strcmp(algo, "fft") == 0)
        e->c.algo = LP_CONV_ALGO_FFT;
    else if (strcmp(algo, "direct") == 0)
        e->c.algo = LP_CONV_ALGO_DIRECT;
    else
        return false;
    e->c.gemm_ms = g;
    e->c.fft_ms = f;
    e->c.direct_ms = d;
    return true;
}

/* Later lines win over earlier ones with the same key. */
static bool table_put_(table_ *t, const entry_ *e) {
    for (int i = 0; i < t->n; ++i)
        if (strcmp(t->v[i].key, e->key) == 0) {
            t->v[i] = *e;
            return true;
        }
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 16;
        entry_ *grown = realloc(t->v, (size_t)cap * sizeof *grown);
        if (!grown) return false;
        t->v = grown;
        t->cap = cap;
    }
    t->v[t->n++] = *e;
    return true;
}

/* The file's good lines; a missing file is an empty table. Comments start with '#'. */
static void table_load_(const char *path, table_ *t) {
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "rb");
    if (!f) return;
    char line[512];
    while (t->n < ENTRIES_MAX_ && fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            t->damaged++; /* overlong: skip the rest of it */
            int ch;
            while ((ch = fgetc(f)) != EOF && ch != '\n') {
            }
            continue;
        }
        if (line[0] == '#' || strspn(line, " \t\r\n") == len) continue;
        entry_ e;
        if (!parse_line_(line, &e) || !table_put_(t, &e)) t->damaged++;
    }
    fclose(f);
}

static lp_status table_save_(const char *path, const table_ *t) {
    char dir[4096], tmp[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        lp_mkdirs_(dir);
    }
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return lp_fail(LP_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
    bool ok = fprintf(f,
                      "# %s: [conv2d] algorithm per layer shape, forward+backward ms of gemm, "
                      "fft, direct (0: not timed)\n",
                      FORMAT_) > 0;
    for (int i = 0; ok && i < t->n; ++i) {
        const lp_conv_choice *c = &t->v[i].c;
        ok = fprintf(f, "%s %s %.3f %.3f %.3f\n", t->v[i].key, lp_conv_algo_name(c->algo),
                     c->gemm_ms, c->fft_ms, c->direct_ms) > 0;
    }
    ok = (fclose(f) == 0) && ok;
    /* rename is atomic: a reader sees the old file or the whole new one */
    if (!ok || rename(tmp, path) != 0) {
        int err = errno;
        remove(tmp);
        return lp_fail(LP_ERR_IO, "%s: cannot write: %s", path, strerror(err));
    }
    return LP_OK;
}

bool lp_conv_choice_read(const char *path, const char *key, lp_conv_choice *out, lp_note_fn note,
                         void *ctx) {
    table_ t;
    table_load_(path, &t);
    bool found = false;
    for (int i = 0; i < t.n && !found; ++i)
        if (strcmp(t.v[i].key, key) == 0) {
            *out = t.v[i].c;
            found = true;
        }
    if (t.damaged) {
        /* Written back without the bad lines, so the next layer does not warn again. */
        bool fixed = table_save_(path, &t) == LP_OK;
        if (note) {
            char msg[4400];
            snprintf(msg, sizeof msg, "%s: ignored %d damaged line%s of the conv algorithm cache%s",
                     path, t.damaged, t.damaged == 1 ? "" : "s",
                     fixed ? " (rewritten without them)" : "");
            note(ctx, true, msg);
        }
    }
    free(t.v);
    return found;
}

lp_status lp_conv_choice_write(const char *path, const char *key, const lp_conv_choice *c) {
    entry_ e;
    if (strlen(key) >= sizeof e.key || strpbrk(key, " \t\r\n#") || !*key)
        return lp_fail(LP_ERR_INVALID_ARG, "conv algorithm cache: bad key '%s'", key);
    if (c->algo != LP_CONV_ALGO_GEMM && c->algo != LP_CONV_ALGO_FFT &&
        c->algo != LP_CONV_ALGO_DIRECT)
        return lp_fail(LP_ERR_INVALID_ARG,
                       "conv algorithm cache: only gemm, fft or direct are stored");
    table_ t;
    table_load_(path, &t);
    snprintf(e.key, sizeof e.key, "%s", key);
    e.c = *c;
    /* Negative or NaN times would make the line unreadable: store 0 instead. */
    double *times[] = {&e.c.gemm_ms, &e.c.fft_ms, &e.c.direct_ms};
    for (int i = 0; i < 3; ++i)
        if (!(*times[i] >= 0 && *times[i] < 1e9)) *times[i] = 0;
    lp_status s = table_put_(&t, &e) ? table_save_(path, &t)
                                     : lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    free(t.v);
    return s;
}
