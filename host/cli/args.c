/* Option value parsing for the CLI. */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool arg_int(const char *cmd, const char *opt, const char *text, long long min, long long max,
             long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end || errno || v < min || v > max) {
        fprintf(stderr, "laperm %s: %s: expected an integer from %lld to %lld, got '%s'\n", cmd,
                opt, min, max, text);
        return false;
    }
    *out = v;
    return true;
}

bool arg_double(const char *cmd, const char *opt, const char *text, double min, double max,
                double *out) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno || !isfinite(v) || v < min || v > max) {
        fprintf(stderr, "laperm %s: %s: expected a number from %g to %g, got '%s'\n", cmd, opt, min,
                max, text);
        return false;
    }
    *out = v;
    return true;
}

int arg_choice(const char *cmd, const char *opt, const char *text, const char *const *choices) {
    for (int i = 0; choices[i]; ++i)
        if (!strcmp(text, choices[i])) return i;
    fprintf(stderr, "laperm %s: %s: expected one of", cmd, opt);
    for (int i = 0; choices[i]; ++i)
        fprintf(stderr, "%s %s", i ? "," : "", choices[i]);
    fprintf(stderr, "; got '%s'\n", text);
    return -1;
}
