/* The file of timed decisions (host/decisions.h), without a device: round trips, the
 * version line, damaged lines ignored with one warning per load and out-of-range ones with
 * one per kind and load, keys that differ by the GEMM mode, lines of other revisions
 * dropped and of unknown kinds kept, atomic rewrites, and rewrites by other writers
 * merged. */
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conv_algo-impl.h"
#include "decisions.h"
#include "gemm-impl.h"
#include "laperm/clock.h"
#include "lp_test.h"

/* ---- helpers ------------------------------------------------------------------------- */

typedef struct {
    int warnings;
    char last[2048];
} notes_;

static void on_note_(void *ctx, bool warning, const char *line) {
    notes_ *n = ctx;
    n->warnings += warning;
    snprintf(n->last, sizeof n->last, "%s", line);
}

/* A fresh folder per call, and the decision file's path in it. */
static const char *fresh_path_(void) {
    static char dir[512], path[600];
    static int count;
    snprintf(dir, sizeof dir, "%s/dec-%d", lp_test_tmpdir(), ++count);
    CU_ASSERT_FATAL(mkdir(dir, 0755) == 0);
    snprintf(path, sizeof path, "%s/decisions-test.txt", dir);
    return path;
}

static void write_text_(const char *path, const char *text, size_t len) {
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT(fwrite(text, 1, len, f) == len);
    fclose(f);
}

/* The file's text (malloc'd), "" when it is missing. */
static char *read_text_(const char *path) {
    FILE *f = fopen(path, "rb");
    char *buf = calloc(1, 1 << 20);
    CU_ASSERT_FATAL(buf != NULL);
    if (f) {
        size_t n = fread(buf, 1, (1 << 20) - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

static lp_decisions *load_(const char *path, notes_ *notes) {
    lp_decisions *d = NULL;
    LP_TEST_OK(lp_decisions_load(path, "device: test", on_note_, notes, &d));
    CU_ASSERT_FATAL(d != NULL);
    return d;
}

static lp_decision dec1_(const char *value, double ms) {
    lp_decision d = {.ms = {ms}};
    snprintf(d.value, sizeof d.value, "%s", value);
    return d;
}

static lp_decision dec3_(const char *value, double a, double b, double c) {
    lp_decision d = {.ms = {a, b, c, 0}}; /* winograd not timed */
    snprintf(d.value, sizeof d.value, "%s", value);
    return d;
}

static int count_lines_starting_(const char *text, const char *prefix) {
    int n = 0;
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        n += strncmp(p, prefix, strlen(prefix)) == 0;
    return n;
}

#define TILED_ "tiled:vw16:mr8:nv2:dm4:dn4:lx1:k1"

/* The kind words of the two kinds at their current revisions: "gemm.<revision>" and
 * "conv.<revision>". */
static char gemm_[32], conv_[32];

static bool find_(lp_decisions *d, const lp_decision_kind *kind, const char *key, lp_decision *out,
                  notes_ *notes) {
    return lp_decisions_find(d, kind, key, out, on_note_, notes);
}

static lp_status put_(lp_decisions *d, const lp_decision_kind *kind, const char *key,
                      lp_decision dec, notes_ *notes) {
    return lp_decisions_put(d, kind, key, &dec, on_note_, notes);
}

/* Appends printf-style text to buf (cap bytes). */
static void append_(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void append_(char *buf, size_t cap, const char *fmt, ...) {
    size_t len = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
    CU_ASSERT_FATAL(n >= 0 && (size_t)n < cap - len);
}

/* ---- tests --------------------------------------------------------------------------- */

static void test_round_trip(void) {
    const char *path = fresh_path_();
    notes_ notes = {0};
    lp_decisions *d = load_(path, &notes); /* no file yet: empty, no warning */
    lp_decision got;
    CU_ASSERT_FALSE(find_(d, &lp_decision_gemm, "auto:nt:b0:9x11x13", &got, &notes));
    LP_TEST_OK(put_(d, &lp_decision_gemm, "auto:nt:b0:9x11x13", dec1_(TILED_, 0.125), &notes));
    LP_TEST_OK(put_(d, &lp_decision_conv, "gemm-auto:n50:in32x26x26",
                    dec3_("direct", 13.25, 0, 11.5), &notes));
    LP_TEST_OK(put_(d, &lp_decision_gemm, "auto:nn:b1:5x9x9000", dec1_("clblast:k4", 2.5), &notes));
    lp_decisions_free(d);

    d = load_(path, &notes);
    CU_ASSERT_TRUE(find_(d, &lp_decision_gemm, "auto:nt:b0:9x11x13", &got, &notes));
    CU_ASSERT_STRING_EQUAL(got.value, TILED_);
    CU_ASSERT_DOUBLE_EQUAL(got.ms[0], 0.125, 1e-12);
    CU_ASSERT_TRUE(find_(d, &lp_decision_gemm, "auto:nn:b1:5x9x9000", &got, &notes));
    CU_ASSERT_STRING_EQUAL(got.value, "clblast:k4");
    CU_ASSERT_TRUE(find_(d, &lp_decision_conv, "gemm-auto:n50:in32x26x26", &got, &notes));
    CU_ASSERT_STRING_EQUAL(got.value, "direct");
    CU_ASSERT_DOUBLE_EQUAL(got.ms[0], 13.25, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(got.ms[1], 0, 0);
    CU_ASSERT_DOUBLE_EQUAL(got.ms[2], 11.5, 1e-9);
    /* A key is looked up within its kind only. */
    CU_ASSERT_FALSE(find_(d, &lp_decision_conv, "auto:nt:b0:9x11x13", &got, &notes));
    /* The same key again replaces its line. */
    LP_TEST_OK(
        put_(d, &lp_decision_conv, "gemm-auto:n50:in32x26x26", dec3_("gemm", 10, 0, 12), &notes));
    lp_decisions_free(d);
    char *text = read_text_(path), want[256];
    CU_ASSERT_EQUAL(strncmp(text, LP_DECISIONS_FORMAT "\n", strlen(LP_DECISIONS_FORMAT) + 1), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\n# device: test\n"));
    /* The legend of each kind, with its kind word. */
    snprintf(want, sizeof want, "\n# %s %s\n", gemm_, lp_decision_gemm.legend);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, want));
    snprintf(want, sizeof want, "\n# %s %s\n", conv_, lp_decision_conv.legend);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, want));
    snprintf(want, sizeof want, "\n%s gemm-auto:n50:in32x26x26 gemm 10 0 12 0\n", conv_);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, want));
    snprintf(want, sizeof want, "\n%s auto:nt:b0:9x11x13 " TILED_ " 0.125\n", gemm_);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, want));
    snprintf(want, sizeof want, "%s ", conv_);
    CU_ASSERT_EQUAL(count_lines_starting_(text, want), 1);
    snprintf(want, sizeof want, "%s ", gemm_);
    CU_ASSERT_EQUAL(count_lines_starting_(text, want), 2);
    free(text);
    CU_ASSERT_EQUAL(notes.warnings, 0);
}

static void test_version_line_required(void) {
    char line[128], bodies[5][256];
    snprintf(line, sizeof line, "%s gemm-auto:a gemm 1 2 3 0\n", conv_);
    snprintf(bodies[0], sizeof bodies[0], "%s", line);                            /* none */
    snprintf(bodies[1], sizeof bodies[1], "laperm-decisions-1\n%s", line);        /* older */
    snprintf(bodies[2], sizeof bodies[2], "%s \n%s", LP_DECISIONS_FORMAT, line);  /* not it */
    snprintf(bodies[3], sizeof bodies[3], "# %s\n%s", LP_DECISIONS_FORMAT, line); /* not first */
    bodies[4][0] = '\0';                                                          /* empty */
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; ++i) {
        const char *path = fresh_path_();
        write_text_(path, bodies[i], strlen(bodies[i]));
        notes_ notes = {0};
        lp_decisions *d = load_(path, &notes);
        lp_decision got;
        CU_ASSERT_FALSE(find_(d, &lp_decision_conv, "gemm-auto:a", &got, &notes));
        CU_ASSERT_EQUAL(notes.warnings, 1);
        CU_ASSERT_PTR_NOT_NULL(strstr(notes.last, path));
        CU_ASSERT_PTR_NOT_NULL(strstr(notes.last, LP_DECISIONS_FORMAT));
        /* The next write replaces the file with one of this format. */
        LP_TEST_OK(put_(d, &lp_decision_conv, "gemm-auto:b", dec3_("fft", 2, 1, 0), &notes));
        lp_decisions_free(d);
        char *text = read_text_(path);
        CU_ASSERT_EQUAL(strncmp(text, LP_DECISIONS_FORMAT "\n", strlen(LP_DECISIONS_FORMAT) + 1),
                        0);
        CU_ASSERT_PTR_NULL(strstr(text, "gemm-auto:a"));
        free(text);
        CU_ASSERT_EQUAL(notes.warnings, 1);
    }
    /* CRLF line ends are read like LF. */
    const char *path = fresh_path_();
    char crlf[256];
    snprintf(crlf, sizeof crlf, "%s\r\n%s gemm-auto:a gemm 1 2 3 0\r\n", LP_DECISIONS_FORMAT,
             conv_);
    write_text_(path, crlf, strlen(crlf));
    notes_ notes = {0};
    lp_decisions *d = load_(path, &notes);
    lp_decision got;
    CU_ASSERT_TRUE(find_(d, &lp_decision_conv, "gemm-auto:a", &got, &notes));
    CU_ASSERT_EQUAL(notes.warnings, 0);
    lp_decisions_free(d);
}

/* Lines that are not well formed, whatever their kind, are one warning per load; a line
 * well formed but refused by its kind is one warning when the kind first looks. */
static void test_damaged_lines(void) {
    const char *path = fresh_path_();
    char text[4096] = "";
    append_(text, sizeof text,
            LP_DECISIONS_FORMAT
            "\n"
            "# comment\n"
            "%s gemm-auto:good gemm 1.0 2.0 0 0\n" /* line 3 */
            "%s gemm-auto:short\n"                 /* 4: too few fields */
            "%s gemm-auto:old fft 1.0 2.0 3\n"     /* 5: one timing short: conv refuses it */
            "%s gemm-auto:extra fft 1 2 3 4 5\n"   /* 6: too many fields */
            "conv gemm-auto:kind gemm 1 2 3 0\n"   /* 7: no revision */
            "%s gemm-auto:x gemm 1 2 3x 0\n"       /* 8: not a number */
            "conv.-1 gemm-auto:y gemm 1 2 3 0\n"   /* 9: a revision that is not one */
            "\n"
            "   # indented comment\n"
            "%s gemm-auto:good fft 5 4 0 0\n", /* 12: later lines win */
            conv_, conv_, conv_, conv_, conv_, conv_);
    size_t len = strlen(text);
    memset(text + len, 'x', 700); /* 13: an overlong line */
    len += 700;
    char tail[200];
    int tl =
        snprintf(tail, sizeof tail, "\n\x01\xff@\x7f fft\n%s gemm-auto:last direct 3 0 4 0", conv_);
    tail[3] = '\0'; /* 14: a NUL inside a line; 15: the last line has no final newline */
    memcpy(text + len, tail, (size_t)tl);
    len += (size_t)tl;
    write_text_(path, text, len);

    notes_ notes = {0};
    lp_decisions *d = load_(path, &notes);
    CU_ASSERT_EQUAL(notes.warnings, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.last, path));
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.last, "ignored 7 damaged")); /* lines 4, 6-9, 13, 14 */
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.last, "line 4 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.last, "line 7 "));
    CU_ASSERT_PTR_NULL(strstr(notes.last, "line 5 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.last, "and 1 more"));
    lp_decision got;
    CU_ASSERT_TRUE(find_(d, &lp_decision_conv, "gemm-auto:good", &got, &notes));
    CU_ASSERT_STRING_EQUAL(got.value, "fft");
    /* The conv kind's first look: line 5 refused, one warning naming it. */
    CU_ASSERT_EQUAL(notes.warnings, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.last, path));
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.last, "ignored 1 out-of-range"));
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.last, conv_));
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.last, "line 5 "));
    CU_ASSERT_TRUE(find_(d, &lp_decision_conv, "gemm-auto:last", &got, &notes));
    CU_ASSERT_STRING_EQUAL(got.value, "direct");
    CU_ASSERT_DOUBLE_EQUAL(got.ms[2], 4, 1e-12);
    const char *bad[] = {"gemm-auto:short", "gemm-auto:old", "gemm-auto:extra",
                         "gemm-auto:kind",  "gemm-auto:x",   "gemm-auto:y"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; ++i)
        CU_ASSERT_FALSE(find_(d, &lp_decision_conv, bad[i], &got, &notes));
    /* Lookups and a refresh of an unchanged file do not warn again. */
    LP_TEST_OK(lp_decisions_refresh(d, on_note_, &notes));
    CU_ASSERT_EQUAL(notes.warnings, 2);
    /* Writing drops the damaged and the refused lines, and keeps the good ones as they were
     * written. */
    LP_TEST_OK(put_(d, &lp_decision_conv, "gemm-auto:z", dec3_("gemm", 1, 0, 0), &notes));
    CU_ASSERT_EQUAL(notes.warnings, 2);
    char *now = read_text_(path), want[128];
    CU_ASSERT_PTR_NULL(strstr(now, "gemm-auto:old"));
    CU_ASSERT_PTR_NULL(strstr(now, "gemm-auto:short"));
    CU_ASSERT_PTR_NULL(strstr(now, "xxxx"));
    snprintf(want, sizeof want, "\n%s gemm-auto:good fft 5 4 0 0\n", conv_);
    CU_ASSERT_PTR_NOT_NULL(strstr(now, want));
    snprintf(want, sizeof want, "\n%s gemm-auto:last direct 3 0 4 0\n", conv_);
    CU_ASSERT_PTR_NOT_NULL(strstr(now, want));
    free(now);
    /* A change on disk is a new load: one more warning for the damage there now, and one
     * more from the kind's next look. */
    char changed[256];
    snprintf(changed, sizeof changed,
             LP_DECISIONS_FORMAT "\n%s gemm-auto:y fft nan 1 0 0\n%s gemm-auto:w fft 1 0\n", conv_,
             conv_);
    write_text_(path, changed, strlen(changed));
    LP_TEST_OK(lp_decisions_refresh(d, on_note_, &notes));
    CU_ASSERT_EQUAL(notes.warnings, 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.last, "line 2 "));
    CU_ASSERT_FALSE(find_(d, &lp_decision_conv, "gemm-auto:good", &got, &notes));
    CU_ASSERT_EQUAL(notes.warnings, 4);
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.last, "line 3 "));
    CU_ASSERT_FALSE(find_(d, &lp_decision_conv, "gemm-auto:w", &got, &notes));
    CU_ASSERT_EQUAL(notes.warnings, 4);
    LP_TEST_OK(put_(d, &lp_decision_conv, "gemm-auto:z", dec3_("gemm", 1, 0, 0), &notes));
    lp_decisions_free(d);
    notes = (notes_){0};
    d = load_(path, &notes);
    CU_ASSERT_TRUE(find_(d, &lp_decision_conv, "gemm-auto:z", &got, &notes));
    CU_ASSERT_FALSE(find_(d, &lp_decision_conv, "gemm-auto:w", &got, &notes));
    CU_ASSERT_EQUAL(notes.warnings, 0);
    lp_decisions_free(d);
}

static void test_out_of_range(void) {
    /* Each of these is well formed but not a value its kind can have for its key. */
    const char *gemm_lines[] = {
        "auto:nn:b0:4x4x1 tiled:vw3:mr8:nv2:dm4:dn4:lx1:k1 1",   /* vector width 3 */
        "auto:nn:b0:4x4x2 tiled:vw16:mr17:nv2:dm4:dn4:lx1:k1 1", /* 17 tile rows */
        "auto:nn:b0:4x4x3 tiled:vw16:mr8:nv2:dm4:dn4:lx2000:k1 1",
        "auto:nn:b0:4x4x5 clblast:k0 1",    /* no slice */
        "auto:nn:b0:4x4x6 clblast:k129 1",  /* more slices than candidates make */
        "auto:nn:b0:4x4x7 clblast:k1:x 1",  /* trailing text */
        "auto:nn:b0:4x4x8 cublas:k1 1",     /* no such back end */
        "clblast:nn:b0:4x4x4 " TILED_ " 1", /* clblast mode times CLBlast only */
        "auto:tt:b0:4x4x4 " TILED_ " 1",    /* no tiled A^T.B^T kernel */
        "tiled:nn:b0:4x4x4 " TILED_ " 1",   /* the tiled mode times nothing */
        "fast:nn:b0:4x4x4 clblast:k1 1",    /* no such mode */
        "auto:nn:b2:4x4x4 clblast:k1 1",
        "auto:nn:b0:4x0x4 clblast:k1 1",    /* an empty product */
        "auto:nn:b0:4x4x9 clblast:k1",      /* no timing */
        "auto:nn:b0:4x4x10 clblast:k1 1 2", /* two */
    };
    const char *conv_lines[] = {
        "gemm-auto:s auto 1 2 3 0",                             /* auto is not a path */
        "gemm-auto:t cuda 1 2 3 0", "gemm-fast:s gemm 1 2 3 0", /* no such GEMM mode */
        "gemm-auto: gemm 1 2 3 0",                              /* no shape */
        "auto:s gemm 1 2 3",                                    /* no GEMM mode */
    };
    /* And these are timings no line can have, whatever its kind. */
    const char *timing_lines[] = {
        "gemm.%d auto:nn:b0:4x4x11 clblast:k1 -1", /* negative */
        "gemm.%d auto:nn:b0:4x4x12 clblast:k1 inf",
        "gemm.%d auto:nn:b0:4x4x13 clblast:k1 1e9", /* past the bound */
        "conv.%d gemm-auto:u gemm 1 -0.5 3 0",
        "conv.%d gemm-auto:v gemm nan 2 3 0",
    };
    const size_t ng = sizeof gemm_lines / sizeof *gemm_lines;
    const size_t nc = sizeof conv_lines / sizeof *conv_lines;
    const size_t nt = sizeof timing_lines / sizeof *timing_lines;
    char text[8192] = LP_DECISIONS_FORMAT "\n";
    for (size_t i = 0; i < ng; ++i)
        append_(text, sizeof text, "%s %s\n", gemm_, gemm_lines[i]);
    for (size_t i = 0; i < nc; ++i)
        append_(text, sizeof text, "%s %s\n", conv_, conv_lines[i]);
    for (size_t i = 0; i < nt; ++i) {
        append_(text, sizeof text, timing_lines[i],
                timing_lines[i][0] == 'g' ? lp_decision_gemm.revision : lp_decision_conv.revision);
        append_(text, sizeof text, "\n");
    }
    /* 0 ms is a (very fast) time. */
    append_(text, sizeof text, "%s auto:nn:b0:4x4x4 clblast:k2 0\n", gemm_);
    const char *path = fresh_path_();
    write_text_(path, text, strlen(text));
    notes_ notes = {0};
    lp_decisions *d = load_(path, &notes);
    CU_ASSERT_EQUAL(notes.warnings, 1);
    char want[64];
    snprintf(want, sizeof want, "ignored %zu damaged", nt);
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.last, want));
    lp_decision got;
    CU_ASSERT_TRUE(find_(d, &lp_decision_gemm, "auto:nn:b0:4x4x4", &got, &notes));
    CU_ASSERT_STRING_EQUAL(got.value, "clblast:k2");
    CU_ASSERT_EQUAL(notes.warnings, 2);
    snprintf(want, sizeof want, "ignored %zu out-of-range \"%s\"", ng, gemm_);
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.last, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.last, "more"));
    for (size_t i = 0; i < ng; ++i) {
        char key[64];
        sscanf(gemm_lines[i], "%63s", key);
        CU_ASSERT_FALSE(find_(d, &lp_decision_gemm, key, &got, &notes));
    }
    CU_ASSERT_EQUAL(notes.warnings, 2);
    CU_ASSERT_FALSE(find_(d, &lp_decision_conv, "gemm-auto:s", &got, &notes));
    CU_ASSERT_EQUAL(notes.warnings, 3);
    snprintf(want, sizeof want, "ignored %zu out-of-range \"%s\"", nc, conv_);
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.last, want));
    CU_ASSERT_FALSE(find_(d, &lp_decision_conv, "gemm-auto:t", &got, &notes));
    CU_ASSERT_FALSE(find_(d, &lp_decision_conv, "gemm-auto:u", &got, &notes));
    CU_ASSERT_EQUAL(notes.warnings, 3);
    /* Writing them is refused, and leaves the file as it was. */
    char *before = read_text_(path);
    lp_decision bad[] = {dec1_("tiled:vw3:mr8:nv2:dm4:dn4:lx1:k1", 1),
                         dec1_("clblast:k1", -1),
                         dec1_("clblast:k1", NAN),
                         dec1_("clblast:k1", INFINITY),
                         dec1_("clblast k1", 1),
                         dec1_("", 1)};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; ++i)
        CU_ASSERT_EQUAL(put_(d, &lp_decision_gemm, "auto:nn:b0:4x4x4", bad[i], &notes),
                        LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(put_(d, &lp_decision_gemm, "auto:tt:b0:4x4x4", dec1_(TILED_, 1), &notes),
                    LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(put_(d, &lp_decision_gemm, "auto:nn:b0 4x4x4", dec1_(TILED_, 1), &notes),
                    LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(put_(d, &lp_decision_conv, "gemm-auto:s", dec3_("auto", 1, 1, 1), &notes),
                    LP_ERR_INVALID_ARG);
    /* A kind whose name could not be read back as one. */
    lp_decision_kind odd = lp_decision_gemm;
    odd.name = "gemm 2";
    CU_ASSERT_EQUAL(put_(d, &odd, "auto:nn:b0:4x4x4", dec1_("clblast:k1", 1), &notes),
                    LP_ERR_INVALID_ARG);
    char *after = read_text_(path);
    CU_ASSERT_STRING_EQUAL(before, after);
    free(before);
    free(after);
    CU_ASSERT_EQUAL(notes.warnings, 3);
    lp_decisions_free(d);
}

/* Loading is linear in the file: 100,000 lines, most of them replacing an earlier line of
 * one of 4000 keys (a hash lookup each, not a scan of what was read), then lines past the
 * entry limit and a 4 MiB line without a newline (read in bounded memory, skipped), load in
 * well under a second; the last line of each key wins. */
static void test_large_file(void) {
    enum { LINES = 100000, KEYS = 4000, LONG = 4 << 20 };
    size_t cap = (size_t)LINES * 64 + LONG + 4096, len = 0;
    char *text = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    len += (size_t)snprintf(text, cap, "%s\n", LP_DECISIONS_FORMAT);
    for (int i = 0; i < LINES; ++i)
        len += (size_t)snprintf(text + len, cap - len, "%s auto:nn:b0:%dx4x4 clblast:k1 %d\n",
                                gemm_, 1 + i % KEYS, i);
    for (int i = 0; i < 200; ++i) /* 4000 + 200 keys: the last 104 past the limit */
        len += (size_t)snprintf(text + len, cap - len, "%s auto:nn:b0:%dx4x5 clblast:k1 1\n", gemm_,
                                1 + i);
    memset(text + len, 'x', LONG);
    len += LONG;
    const char *path = fresh_path_();
    write_text_(path, text, len);
    free(text);
    notes_ notes = {0};
    double t0 = lp_seconds();
    lp_decisions *d = load_(path, &notes);
    double dt = lp_seconds() - t0;
    if (dt > 1.0) printf("\n  %d lines loaded in %.2f s\n", LINES, dt);
    CU_ASSERT(dt < 1.0);
    CU_ASSERT_EQUAL(notes.warnings, 1);
    char want[64];
    snprintf(want, sizeof want, "line %d (past the entry limit)", 2 + LINES + 96);
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.last, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.last, "ignored 105 damaged"));
    lp_decision got;
    for (int k = 1; k <= KEYS; k += 333) {
        char key[64];
        snprintf(key, sizeof key, "auto:nn:b0:%dx4x4", k);
        CU_ASSERT_TRUE_FATAL(find_(d, &lp_decision_gemm, key, &got, &notes));
        int last = LINES - KEYS + k - 1; /* the last i with 1 + i % KEYS == k */
        CU_ASSERT_DOUBLE_EQUAL(got.ms[0], last, 1e-9);
    }
    CU_ASSERT_TRUE(find_(d, &lp_decision_gemm, "auto:nn:b0:96x4x5", &got, &notes));
    CU_ASSERT_FALSE(find_(d, &lp_decision_gemm, "auto:nn:b0:97x4x5", &got, &notes));
    CU_ASSERT_EQUAL(notes.warnings, 1);
    lp_decisions_free(d);
}

/* The GEMM mode is part of a conv key (the GEMM path's time depends on it) and of a GEMM
 * key (it limits the candidates): the same shape under two modes is two decisions. */
static void test_gemm_mode_in_keys(void) {
    const char *path = fresh_path_();
    notes_ notes = {0};
    lp_decisions *d = load_(path, &notes);
    LP_TEST_OK(
        put_(d, &lp_decision_conv, "gemm-auto:n50:in1x28x28", dec3_("direct", 10, 0, 8), &notes));
    LP_TEST_OK(
        put_(d, &lp_decision_conv, "gemm-clblast:n50:in1x28x28", dec3_("gemm", 6, 0, 8), &notes));
    LP_TEST_OK(put_(d, &lp_decision_gemm, "auto:nn:b0:3x4x5000", dec1_(TILED_, 1), &notes));
    LP_TEST_OK(
        put_(d, &lp_decision_gemm, "clblast:nn:b0:3x4x5000", dec1_("clblast:k1", 2), &notes));
    lp_decisions_free(d);
    d = load_(path, &notes);
    lp_decision got;
    CU_ASSERT_TRUE(find_(d, &lp_decision_conv, "gemm-auto:n50:in1x28x28", &got, &notes));
    CU_ASSERT_STRING_EQUAL(got.value, "direct");
    CU_ASSERT_TRUE(find_(d, &lp_decision_conv, "gemm-clblast:n50:in1x28x28", &got, &notes));
    CU_ASSERT_STRING_EQUAL(got.value, "gemm");
    CU_ASSERT_FALSE(find_(d, &lp_decision_conv, "gemm-tiled:n50:in1x28x28", &got, &notes));
    CU_ASSERT_TRUE(find_(d, &lp_decision_gemm, "auto:nn:b0:3x4x5000", &got, &notes));
    CU_ASSERT_STRING_EQUAL(got.value, TILED_);
    CU_ASSERT_TRUE(find_(d, &lp_decision_gemm, "clblast:nn:b0:3x4x5000", &got, &notes));
    CU_ASSERT_STRING_EQUAL(got.value, "clblast:k1");
    CU_ASSERT_EQUAL(notes.warnings, 0);
    lp_decisions_free(d);
}

/* A kind's lines of another revision (timed before the kind changed, or by a newer laperm)
 * are ignored without a warning and dropped by the next rewrite of a process that uses
 * the kind; a process that does not use a kind keeps its lines as they are, and so does
 * every process with the lines of a kind it does not know. */
static void test_revisions_and_unknown_kinds(void) {
    const char *path = fresh_path_();
    const int rg = lp_decision_gemm.revision, rc = lp_decision_conv.revision;
    char text[2048] = "", unknown[] = "cuda.1  some:key\tcublas 1.50 2";
    append_(text, sizeof text,
            LP_DECISIONS_FORMAT
            "\n"
            "# gemm.%d an old legend\n"
            "gemm.%d auto:nn:b0:4x4x4 clblast:k1 1\n" /* 3: the revision before */
            "gemm.%d auto:nn:b0:5x5x5 clblast:k2 2\n" /* 4 */
            "gemm.%d auto:tt:b0:4x4x4 " TILED_ " 1\n" /* 5: refused */
            "conv.%d gemm-auto:s fft 1 2 3 0\n"       /* 6: a newer laperm's */
            "conv.%d gemm-auto:t direct 1 0 2 0\n"    /* 7 */
            "%s\n",                                   /* 8: a kind nobody here knows */
            rg - 1, rg - 1, rg, rg, rc + 1, rc, unknown);
    write_text_(path, text, strlen(text));
    char old_conv[64], cur_conv[64], want[128];
    snprintf(old_conv, sizeof old_conv, "\nconv.%d gemm-auto:s fft 1 2 3 0\n", rc + 1);
    snprintf(cur_conv, sizeof cur_conv, "\nconv.%d gemm-auto:t direct 1 0 2 0\n", rc);
    snprintf(want, sizeof want, "\n%s\n", unknown);

    /* A process that uses only the gemm kind. */
    notes_ notes = {0};
    lp_decisions *d = load_(path, &notes);
    CU_ASSERT_EQUAL(notes.warnings, 0); /* every line is well formed */
    lp_decision got;
    CU_ASSERT_FALSE(find_(d, &lp_decision_gemm, "auto:nn:b0:4x4x4", &got, &notes));
    CU_ASSERT_EQUAL(notes.warnings, 1); /* line 5, not the stale line 3 */
    CU_ASSERT_PTR_NOT_NULL(strstr(notes.last, "line 5 "));
    CU_ASSERT_PTR_NULL(strstr(notes.last, "line 3 "));
    CU_ASSERT_TRUE(find_(d, &lp_decision_gemm, "auto:nn:b0:5x5x5", &got, &notes));
    CU_ASSERT_STRING_EQUAL(got.value, "clblast:k2");
    /* The kind that wrote line 3 still finds it (a laperm before the upgrade). */
    lp_decision_kind before = lp_decision_gemm;
    before.revision = rg - 1;
    CU_ASSERT_TRUE(find_(d, &before, "auto:nn:b0:4x4x4", &got, &notes));
    CU_ASSERT_STRING_EQUAL(got.value, "clblast:k1");
    lp_decisions_free(d);
    notes = (notes_){0};
    d = load_(path, &notes);
    LP_TEST_OK(put_(d, &lp_decision_gemm, "auto:nn:b0:6x6x6", dec1_("clblast:k1", 3), &notes));
    CU_ASSERT_EQUAL(notes.warnings, 1); /* line 5 again: this process had not seen it */
    lp_decisions_free(d);
    char *now = read_text_(path), line[128];
    snprintf(line, sizeof line, "\ngemm.%d auto:nn:b0:4x4x4 ", rg - 1);
    CU_ASSERT_PTR_NULL(strstr(now, line));               /* stale: dropped */
    CU_ASSERT_PTR_NULL(strstr(now, "auto:tt:b0:4x4x4")); /* refused: dropped */
    CU_ASSERT_PTR_NULL(strstr(now, "an old legend"));
    snprintf(line, sizeof line, "\ngemm.%d auto:nn:b0:5x5x5 clblast:k2 2\n", rg);
    CU_ASSERT_PTR_NOT_NULL(strstr(now, line));
    snprintf(line, sizeof line, "\ngemm.%d auto:nn:b0:6x6x6 clblast:k1 3\n", rg);
    CU_ASSERT_PTR_NOT_NULL(strstr(now, line));
    CU_ASSERT_PTR_NOT_NULL(strstr(now, old_conv)); /* conv is not used here: kept */
    CU_ASSERT_PTR_NOT_NULL(strstr(now, cur_conv));
    CU_ASSERT_PTR_NOT_NULL(strstr(now, want)); /* verbatim, spaces and tab */
    snprintf(line, sizeof line, "\n# %s.%d %s\n", lp_decision_gemm.name, rg,
             lp_decision_gemm.legend);
    CU_ASSERT_PTR_NOT_NULL(strstr(now, line));
    CU_ASSERT_PTR_NULL(strstr(now, "\n# conv.")); /* the legends of the kinds used */
    CU_ASSERT_PTR_NULL(strstr(now, "\n# cuda"));
    free(now);

    /* A process that uses the conv kind: the newer laperm's conv line is dropped. */
    notes = (notes_){0};
    d = load_(path, &notes);
    CU_ASSERT_FALSE(find_(d, &lp_decision_conv, "gemm-auto:s", &got, &notes));
    CU_ASSERT_TRUE(find_(d, &lp_decision_conv, "gemm-auto:t", &got, &notes));
    CU_ASSERT_STRING_EQUAL(got.value, "direct");
    LP_TEST_OK(put_(d, &lp_decision_conv, "gemm-auto:n", dec3_("fft", 4, 3, 0), &notes));
    CU_ASSERT_EQUAL(notes.warnings, 0);
    lp_decisions_free(d);
    now = read_text_(path);
    CU_ASSERT_PTR_NULL(strstr(now, old_conv));
    CU_ASSERT_PTR_NOT_NULL(strstr(now, cur_conv));
    CU_ASSERT_PTR_NOT_NULL(strstr(now, want));
    snprintf(line, sizeof line, "\ngemm.%d auto:nn:b0:6x6x6 clblast:k1 3\n", rg);
    CU_ASSERT_PTR_NOT_NULL(strstr(now, line));
    snprintf(line, sizeof line, "\n# %s.%d %s\n", lp_decision_conv.name, rc,
             lp_decision_conv.legend);
    CU_ASSERT_PTR_NOT_NULL(strstr(now, line));
    free(now);
}

/* No temporary file stays behind, a reader of the old file keeps reading the whole old
 * file, every write leaves a file that loads without a warning, and a write that cannot
 * happen leaves the file as it was. */
static void test_atomic_rewrite(void) {
    const char *path = fresh_path_();
    char dir[600];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    notes_ notes = {0};
    lp_decisions *d = load_(path, &notes);
    lp_decision c = dec3_("gemm", 1, 2, 3);
    LP_TEST_OK(put_(d, &lp_decision_conv, "gemm-auto:first", c, &notes));
    char *old = read_text_(path);
    FILE *reader = fopen(path, "rb");
    CU_ASSERT_FATAL(reader != NULL);
    for (int i = 0; i < 50; ++i) {
        char key[64];
        snprintf(key, sizeof key, "gemm-auto:n%d", i);
        c.ms[0] = i;
        LP_TEST_OK(put_(d, &lp_decision_conv, key, c, &notes));
        notes_ check = {0};
        lp_decisions *e = load_(path, &check);
        lp_decision got;
        CU_ASSERT_TRUE(find_(e, &lp_decision_conv, key, &got, &check));
        CU_ASSERT_EQUAL(check.warnings, 0);
        lp_decisions_free(e);
    }
    char seen[4096];
    size_t n = fread(seen, 1, sizeof seen - 1, reader);
    seen[n] = '\0';
    fclose(reader);
    CU_ASSERT_STRING_EQUAL(seen, old); /* the old inode, whole */
    free(old);
    DIR *dh = opendir(dir);
    CU_ASSERT_FATAL(dh != NULL);
    for (struct dirent *e; (e = readdir(dh));)
        if (strstr(e->d_name, ".tmp")) {
            printf("\n  left behind: %s\n", e->d_name);
            CU_FAIL("a temporary file was left behind");
        }
    closedir(dh);
    /* A folder that cannot be made is LP_ERR_IO; the decision stays in memory. */
    char blocked[700];
    snprintf(blocked, sizeof blocked, "%s/below/decisions.txt", path); /* path is a file */
    lp_decisions *b = load_(blocked, &notes);
    CU_ASSERT_EQUAL(put_(b, &lp_decision_conv, "gemm-auto:k", c, &notes), LP_ERR_IO);
    lp_decision got;
    CU_ASSERT_TRUE(find_(b, &lp_decision_conv, "gemm-auto:k", &got, &notes));
    lp_decisions_free(b);
    /* Folders are made as needed. */
    char deep[700];
    snprintf(deep, sizeof deep, "%s/a/b/decisions.txt", dir);
    lp_decisions *e = load_(deep, &notes);
    LP_TEST_OK(put_(e, &lp_decision_conv, "gemm-auto:k", c, &notes));
    lp_decisions_free(e);
    CU_ASSERT_EQUAL(access(deep, R_OK), 0);
    lp_decisions_free(d);
    CU_ASSERT_EQUAL(notes.warnings, 0);
}

/* Two loaded copies of one file each add an entry: the second write merges the first's,
 * which it never saw. Then several processes write at once, each its own keys: every
 * entry survives (the lock file serialises the merges). */
static void test_concurrent_rewrites(void) {
    const char *path = fresh_path_();
    notes_ notes = {0};
    lp_decisions *a = load_(path, &notes), *b = load_(path, &notes);
    LP_TEST_OK(put_(a, &lp_decision_conv, "gemm-auto:x", dec3_("gemm", 1, 0, 0), &notes));
    LP_TEST_OK(put_(b, &lp_decision_conv, "gemm-auto:y", dec3_("direct", 2, 0, 1), &notes));
    lp_decision got;
    CU_ASSERT_TRUE(find_(b, &lp_decision_conv, "gemm-auto:x", &got, &notes)); /* merged */
    /* a sees y once it looks at the file again. */
    CU_ASSERT_FALSE(find_(a, &lp_decision_conv, "gemm-auto:y", &got, &notes));
    LP_TEST_OK(lp_decisions_refresh(a, on_note_, &notes));
    CU_ASSERT_TRUE(find_(a, &lp_decision_conv, "gemm-auto:y", &got, &notes));
    lp_decisions_free(a);
    lp_decisions_free(b);

    enum { WRITERS = 4, EACH = 20 };
    fflush(NULL);
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; ++w) {
        pids[w] = fork();
        CU_ASSERT_FATAL(pids[w] >= 0);
        if (pids[w] == 0) {
            lp_decisions *d = NULL;
            int failed = lp_decisions_load(path, NULL, NULL, NULL, &d) != LP_OK;
            for (int i = 0; !failed && i < EACH; ++i) {
                char key[64];
                snprintf(key, sizeof key, "gemm-auto:w%d-%d", w, i);
                lp_decision v = dec3_("fft", w, i, 0);
                failed = lp_decisions_put(d, &lp_decision_conv, key, &v, NULL, NULL) != LP_OK;
            }
            _exit(failed);
        }
    }
    for (int w = 0; w < WRITERS; ++w) {
        int st = -1;
        CU_ASSERT_EQUAL(waitpid(pids[w], &st, 0), pids[w]);
        CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    lp_decisions *d = load_(path, &notes);
    int found = 0;
    for (int w = 0; w < WRITERS; ++w)
        for (int i = 0; i < EACH; ++i) {
            char key[64];
            snprintf(key, sizeof key, "gemm-auto:w%d-%d", w, i);
            found +=
                find_(d, &lp_decision_conv, key, &got, &notes) && got.ms[0] == w && got.ms[1] == i;
        }
    CU_ASSERT_EQUAL(found, WRITERS * EACH);
    CU_ASSERT_TRUE(find_(d, &lp_decision_conv, "gemm-auto:x", &got, &notes));
    CU_ASSERT_TRUE(find_(d, &lp_decision_conv, "gemm-auto:y", &got, &notes));
    CU_ASSERT_EQUAL(notes.warnings, 0);
    lp_decisions_free(d);
}

static void register_suites(void) {
    snprintf(gemm_, sizeof gemm_, "%s.%d", lp_decision_gemm.name, lp_decision_gemm.revision);
    snprintf(conv_, sizeof conv_, "%s.%d", lp_decision_conv.name, lp_decision_conv.revision);
    CU_pSuite su = CU_add_suite("decisions", NULL, NULL);
    CU_add_test(su, "round trip, replace, kinds apart", test_round_trip);
    CU_add_test(su, "version line required", test_version_line_required);
    CU_add_test(su, "damaged lines ignored with one warning per load", test_damaged_lines);
    CU_add_test(su, "out-of-range values and timings ignored, and refused", test_out_of_range);
    CU_add_test(su, "keys differing by the GEMM mode are distinct", test_gemm_mode_in_keys);
    CU_add_test(su, "a large file loads in linear time", test_large_file);
    CU_add_test(su, "older revisions dropped, unknown kinds kept verbatim",
                test_revisions_and_unknown_kinds);
    CU_add_test(su, "atomic rewrite leaves a valid file", test_atomic_rewrite);
    CU_add_test(su, "rewrites merge other writers' entries", test_concurrent_rewrites);
}

int main(void) {
    return lp_test_main("test_decisions", register_suites);
}
