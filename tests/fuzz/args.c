/* The command line's value parsers (host/cli/args.c) on any text: the first byte picks the
 * parser and its range, the rest is the value. A value accepted is in its range (and
 * finite); a choice is the index of an equal word, or -1. First bytes from 0xF0 on give
 * the flag walk (the rest: arguments, one a line) and "did you mean" (the rest: a word):
 * every argument is taken once, a flag is a row of the table with a value exactly when
 * it has a metavar, and the closest name is one of the table's. */
#include <limits.h>
#include <math.h>

#include "cli/args.h"
#include "fuzz.h"

static const long long int_ranges_[][2] = {
    {0, 0}, {1, 1000000}, {0, LLONG_MAX}, {LLONG_MIN, LLONG_MAX}, {-5, 5}};
static const double double_ranges_[][2] = {
    {0, 1}, {1e-9, 10}, {0, 180}, {-INFINITY, INFINITY}, {-1e308, 1e308}};
static const char *const choices_[] = {"auto", "gemm", "fft", "direct", "", NULL};

static const cli_flag flags_[] = {{"--epochs", "N"}, {"--json", ""}, {"--model", "FILE"},
                                  {"--hflip", ""},   {"--k", "N"},   {"--k-steps", "LIST"}};
#define N_FLAGS_ ((int)(sizeof flags_ / sizeof *flags_))

static void walk_(char *text) {
    char *argv[256] = {"cmd"};
    int argc = 1;
    for (char *line = text; argc < 256; ++argc) {
        argv[argc] = line;
        char *nl = strchr(line, '\n');
        if (!nl) {
            ++argc;
            break;
        }
        *nl = '\0';
        line = nl + 1;
    }
    cli_args it = {
        .cmd = "fuzz", .flags = flags_, .n_flags = N_FLAGS_, .argc = argc, .i = 1, .argv = argv};
    const cli_flag *flag;
    const char *v;
    for (int last = it.i;; last = it.i) {
        cli_arg kind = cli_args_next(&it, &flag, &v);
        if (kind == CLI_ARG_END) {
            FUZZ_CHECK(it.i == argc);
            break;
        }
        FUZZ_CHECK(it.i > last && it.i <= argc);
        if (kind == CLI_ARG_FLAG) {
            FUZZ_CHECK(flag >= flags_ && flag < flags_ + N_FLAGS_);
            FUZZ_CHECK((v != NULL) == (flag->metavar[0] != '\0'));
        }
        if (kind == CLI_ARG_POSITIONAL) FUZZ_CHECK(v == argv[last]);
        if (kind == CLI_ARG_ERROR) break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    int pick = data[0];
    char *text = fuzz_text(data + 1, size - 1);
    if (pick >= 0xF0) {
        if (pick & 1) {
            const char *near = cli_closest(text, flags_, N_FLAGS_, sizeof *flags_);
            bool known = false;
            for (int i = 0; i < N_FLAGS_ && near; ++i)
                known = known || near == flags_[i].name;
            FUZZ_CHECK(!near || known);
        } else {
            walk_(text);
        }
        free(text);
        return 0;
    }
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
