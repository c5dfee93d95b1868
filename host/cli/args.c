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

/* Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
static int distance_(const char *a, const char *b) {
    enum { MAX_ = 64 };
    int n = (int)strlen(a), m = (int)strlen(b);
    if (n >= MAX_ || m >= MAX_) return MAX_;
    static int d[MAX_][MAX_];
    for (int i = 0; i <= n; ++i)
        d[i][0] = i;
    for (int j = 0; j <= m; ++j)
        d[0][j] = j;
    for (int i = 1; i <= n; ++i)
        for (int j = 1; j <= m; ++j) {
            int cost = a[i - 1] != b[j - 1];
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[n][m];
}

const char *cli_closest(const char *word, const void *table, int n, size_t stride) {
    /* a third of the word's letters, 1 to 3, may be wrong: "--epcohs", "trian" */
    size_t letters = strspn(word, "-");
    int limit = (int)(strlen(word) - letters) / 3;
    limit = limit < 1 ? 1 : limit > 3 ? 3 : limit;
    const char *best = NULL;
    int best_d = limit + 1;
    for (int i = 0; i < n; ++i) {
        const char *name = *(const char *const *)((const char *)table + (size_t)i * stride);
        int d = distance_(word, name);
        if (d < best_d) {
            best_d = d;
            best = name;
        }
    }
    return best;
}

static const cli_flag *flag_find_(const cli_args *a, const char *name) {
    for (int i = 0; i < a->n_flags; ++i)
        if (!strcmp(a->flags[i].name, name)) return &a->flags[i];
    return NULL;
}

cli_arg cli_args_next(cli_args *a, const cli_flag **flag, const char **value) {
    *flag = NULL;
    *value = NULL;
    if (a->i >= a->argc) return CLI_ARG_END;
    const char *arg = a->argv[a->i++];
    if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) return CLI_ARG_HELP;
    if (arg[0] != '-' || !arg[1]) {
        *value = arg;
        return CLI_ARG_POSITIONAL;
    }
    const char *name = arg, *eq = strncmp(arg, "--", 2) ? NULL : strchr(arg, '=');
    if (eq) {
        snprintf(a->split, sizeof a->split, "%.*s", (int)(eq - arg), arg);
        name = a->split;
    }
    const cli_flag *f = flag_find_(a, name);
    if (!f) {
        static const char *const help[] = {"--help"}; /* in no table: answered above */
        const char *near = cli_closest(name, a->flags, a->n_flags, sizeof *a->flags);
        if (!near) near = cli_closest(name, help, 1, sizeof *help);
        fprintf(stderr, "laperm %s: unknown option '%s'", a->cmd, name);
        if (near) fprintf(stderr, ": did you mean %s?", near);
        fprintf(stderr, " (see laperm %s --help)\n", a->cmd);
        return CLI_ARG_ERROR;
    }
    *flag = f;
    if (!f->metavar[0]) {
        if (eq) {
            fprintf(stderr, "laperm %s: %s is a switch and takes no value (got '%s')\n", a->cmd,
                    f->name, arg);
            return CLI_ARG_ERROR;
        }
        return CLI_ARG_FLAG;
    }
    if (eq) {
        *value = eq + 1;
        return CLI_ARG_FLAG;
    }
    if (a->i >= a->argc) {
        fprintf(stderr, "laperm %s: %s needs a value\n", a->cmd, f->name);
        return CLI_ARG_ERROR;
    }
    *value = a->argv[a->i++];
    return CLI_ARG_FLAG;
}

int cli_args_json_only(const char *cmd, int argc, char **argv, const char *help, const char *usage,
                       bool *json, const char **positional) {
    static const cli_flag flags[] = {{"--json", ""}};
    cli_args it = {.cmd = cmd, .flags = flags, .n_flags = 1, .argc = argc, .i = 1, .argv = argv};
    const cli_flag *flag;
    const char *v;
    *json = false;
    for (cli_arg kind; (kind = cli_args_next(&it, &flag, &v)) != CLI_ARG_END;) {
        if (kind == CLI_ARG_HELP) {
            fputs(help, stdout);
            return -1;
        }
        if (kind == CLI_ARG_ERROR) return 2;
        if (kind == CLI_ARG_FLAG) {
            *json = true;
        } else if (positional && !*positional) {
            *positional = v;
        } else {
            fprintf(stderr, "laperm %s: unexpected argument '%s' (usage: %s)\n", cmd, v, usage);
            return 2;
        }
    }
    return 0;
}

void arg_help_row(const char *lhs, const char *help, const char *def) {
    const char *more = strchr(help, '\n');
    int first = more ? (int)(more - help) : (int)strlen(help);
    printf("  %-22s %.*s [default: %s]\n", lhs, first, help, def);
    while (more) {
        const char *line = more + 1;
        more = strchr(line, '\n');
        int len = more ? (int)(more - line) : (int)strlen(line);
        printf("  %-22s %.*s\n", "", len, line);
    }
}
