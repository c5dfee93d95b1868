/* The command line's value parsers (host/cli/args.c) on any text: the first byte picks the
 * parser and its range, the rest is the value. A value accepted is in its range (and
 * finite); a choice is the index of an equal word, or -1. */
#include <limits.h>
#include <math.h>

#include "cli/args.h"
#include "fuzz.h"

static const long long int_ranges_[][2] = {
    {0, 0}, {1, 1000000}, {0, LLONG_MAX}, {LLONG_MIN, LLONG_MAX}, {-5, 5}};
static const double double_ranges_[][2] = {
    {0, 1}, {1e-9, 10}, {0, 180}, {-INFINITY, INFINITY}, {-1e308, 1e308}};
static const char *const choices_[] = {"auto", "gemm", "fft", "direct", "", NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    int pick = data[0];
    char *text = fuzz_text(data + 1, size - 1);
    switch (pick % 3) {
    case 0: {
        const long long *r = int_ranges_[(pick / 3) % 5];
        long long v = 12345;
        if (arg_int("fuzz", "--n", text, r[0], r[1], &v))
            FUZZ_CHECK(v >= r[0] && v <= r[1]);
        else
            FUZZ_CHECK(v == 12345);
        break;
    }
    case 1: {
        const double *r = double_ranges_[(pick / 3) % 5];
        double v = 0.5;
        if (arg_double("fuzz", "--x", text, r[0], r[1], &v))
            FUZZ_CHECK(isfinite(v) && v >= r[0] && v <= r[1]);
        else
            FUZZ_CHECK(v == 0.5);
        break;
    }
    default: {
        int i = arg_choice("fuzz", "--c", text, choices_);
        FUZZ_CHECK(i >= -1 && i < 5);
        FUZZ_CHECK(i < 0 ? strcmp(text, "auto") && strcmp(text, "gemm") && strcmp(text, "fft") &&
                               strcmp(text, "direct") && text[0]
                         : strcmp(text, choices_[i]) == 0);
        break;
    }
    }
    free(text);
    return 0;
}
