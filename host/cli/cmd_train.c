/* laperm train: load model and data, train on the chosen device, write HDF5 results. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "laperm/clock.h"
#include "laperm/data.h"
#include "laperm/gemm.h"
#include "laperm/model.h"
#include "laperm/runtime.h"
#include "laperm/train.h"
#include "progress.h"
#include "train_resume.h"

/* One command-line option. Rows made from a table (an optimizer's hyper-parameters, a
 * learning-rate schedule's flag) say which entry they set. */
typedef enum { ROW_OWN_, ROW_PARAM_, ROW_SCHEDULE_ } row_kind_;
typedef struct {
    const char *name, *metavar;
    char def[64], help[640]; /* help: lines after the first are printed indented below it */
    row_kind_ kind;
    int table, index;  /* ROW_PARAM_: optimizer i, parameter j; ROW_SCHEDULE_: schedule row i */
    const char *value; /* ROW_SCHEDULE_: the value given, parsed after the other options */
} option_;

#define MAX_OPTIONS_ 64

typedef struct {
    option_ rows[MAX_OPTIONS_];
    int n;
} options_;

static option_ *add_(options_ *o, const char *name, const char *metavar, const char *def,
                     const char *help) {
    if (o->n == MAX_OPTIONS_) {
        fprintf(stderr, "laperm train: internal error: more than %d options\n", MAX_OPTIONS_);
        abort();
    }
    option_ *r = &o->rows[o->n++];
    *r = (option_){.name = name, .metavar = metavar, .kind = ROW_OWN_};
    snprintf(r->def, sizeof r->def, "%s", def);
    snprintf(r->help, sizeof r->help, "%s", help);
    return r;
}

/* Appends text to buf (of cap bytes, holding a string), truncating. */
static void cat_(char *buf, size_t cap, const char *fmt, ...) {
    size_t len = strlen(buf);
    if (len + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
}

/* A number as a person writes it: %g without the exponent's leading zero (1e-7). */
static void number_(char *buf, size_t cap, double x) {
    char t[64];
    snprintf(t, sizeof t, "%g", x);
    char *e = strchr(t, 'e');
    if (e && (e[1] == '-' || e[1] == '+') && e[2] == '0' && e[3])
        memmove(e + 2, e + 3, strlen(e + 3) + 1);
    snprintf(buf, cap, "%s", t);
}

/* The single list of options: --help prints it, the parser accepts exactly these. The
 * choices of --dataset, --optimizer, --inner, --conv-algo and --gemm, the hyper-parameter
 * flags and the schedule flags come from their tables (laperm/data.h, laperm/train.h,
 * laperm/network.h, laperm/gemm.h, laperm/schedule.h), with the defaults of
 * lp_train_config_defaults. */
static void options_build_(options_ *o) {
    lp_train_config d;
    lp_train_config_defaults(&d);
    char help[640], names[256];
    const lp_dataset_format *f;
    const lp_optimizer *opt;
    const lp_lr_schedule_kind *sk;
    o->n = 0;

    add_(o, "--model", "FILE", "(required)", "model file, e.g. models/lenet300.ini");
    snprintf(help, sizeof help, "file format; sets the default --data");
    for (int i = 0; (f = lp_dataset_format_at(i)); ++i)
        cat_(help, sizeof help, "\n  %-14s %s (%s)", f->name, f->description, f->default_dir);
    add_(o, "--dataset", "NAME", lp_dataset_format_at(0)->name, help);
    add_(o, "--data", "DIR", "per dataset, see --dataset", "folder holding the data files");
    add_(o, "--normalize", "MODE", "none",
         "none | per-channel | per-pixel-mean (training-set statistics)");
    add_(o, "--rotate", "DEG", "0", "augmentation: random rotation in [-DEG, DEG] degrees");
    add_(o, "--shift", "F", "0", "augmentation: random shift up to F times width/height");
    add_(o, "--zoom", "F", "0", "augmentation: random zoom factor in [1-F, 1+F]");
    add_(o, "--hflip", "", "off", "augmentation: mirror left-right with probability 1/2");

    names[0] = '\0';
    for (int i = 0; (opt = lp_optimizer_at(i)); ++i)
        cat_(names, sizeof names, "%s%s", i ? " | " : "", opt->name);
    snprintf(help, sizeof help, "%s | %s", LP_OPTIMIZER_LAPERM, names);
    add_(o, "--optimizer", "NAME", lp_train_optimizer_name(&d), help);
    snprintf(help, sizeof help, "LaPerm's inner optimizer: %s", names);
    add_(o, "--inner", "NAME", d.inner->name, help);
    add_(o, "--k", "N", "250", "LaPerm sync period in steps");
    add_(o, "--epochs", "N", "10", "training epochs");
    add_(o, "--batch", "N", "128", "training batch size");
    add_(o, "--eval-batch", "N", "auto",
         "evaluation batch (auto: up to 1000 within 1 GiB of activations, 256 MiB on CPUs)");
    add_(o, "--lr", "X", "0.001", "learning rate at epoch 0");
    for (int i = 0; (sk = lp_lr_schedule_at(i)); ++i) {
        if (!sk->option) continue;
        option_ *r = add_(o, sk->option, sk->metavar, sk->def, sk->help);
        r->kind = ROW_SCHEDULE_;
        r->index = i;
    }
    for (int i = 0; (opt = lp_optimizer_at(i)); ++i)
        for (int j = 0; j < opt->n_params; ++j) {
            char def[64];
            number_(def, sizeof def, d.optimizer_params[i][j]);
            option_ *r = add_(o, opt->params[j].option, "X", def, opt->params[j].help);
            r->kind = ROW_PARAM_;
            r->table = i;
            r->index = j;
        }
    add_(o, "--l2-scale", "X", "1", "multiplies the model file's l2 coefficients (0: no L2)");
    add_(o, "--perm-bias", "", "off", "LaPerm also permutes biases");
    add_(o, "--perm-bn", "", "off", "LaPerm also permutes BatchNorm gamma and beta");
    add_(o, "--group-scope", "NAME", "unit", "unit (one group per output unit) | tensor");
    add_(o, "--seed", "N", "1", "seed of initial weights and data order");
    add_(o, "--device", "D", "$LAPERM_DEVICE or a GPU, else a CPU", "P:D index or name substring");
    add_(o, "--out", "FILE", "results/<model>-<optimizer>.h5", "HDF5 results file");
    add_(o, "--no-out", "", "off", "write no results file");
    add_(o, "--max-steps", "N", "0", "stop after N steps (0: no limit)");
    add_(o, "--train-subset", "N", "0", "use the first N training images (0: all)");
    add_(o, "--test-subset", "N", "0", "use the first N test images (0: all)");
    names[0] = '\0';
    for (int i = 0; i < LP_CONV_ALGO_COUNT; ++i)
        cat_(names, sizeof names, "%s%s", i ? " | " : "", lp_conv_algo_name((lp_conv_algo)i));
    snprintf(help, sizeof help,
             "%s: [conv2d] per layer the fastest, by im2col+GEMM, by FFTs (stride 1), or from "
             "the images",
             names);
    add_(o, "--conv-algo", "NAME", lp_conv_algo_name(d.conv_algo), help);
    names[0] = '\0';
    for (int i = 0; i < LP_GEMM_MODE_COUNT; ++i)
        cat_(names, sizeof names, "%s%s", i ? " | " : "", lp_gemm_mode_name((lp_gemm_mode)i));
    snprintf(help, sizeof help,
             "%s: matrix products per shape the faster, by CLBlast, or by laperm's kernels", names);
    add_(o, "--gemm", "MODE", "$LAPERM_GEMM or auto", help);
    add_(o, "--fast", "", "off",
         "let timing choose the conv paths and matrix products (auto): faster on some\n"
         "devices, but the bits then depend on the timings (the choices are recorded)");
    add_(o, "--replay", "FILE", "none", "make the conv and GEMM choices a results file records");
    add_(o, "--snapshot-every", "N", "0",
         "also snapshot the network every N steps (0: epoch ends)");
    add_(o, "--checkpoint-every", "N", "0",
         "also checkpoint every N steps (always: epoch ends, Ctrl-C, SIGTERM)");
    add_(o, "--resume", "FILE", "none",
         "continue the run FILE (or FILE.part) records from its last checkpoint; other flags,\n"
         "if given, must match the run's");
    add_(o, "--progress", "MODE", "auto", "auto | bar | plain | none");
    add_(o, "--profile", "", "off", "print device time per kernel (OpenCL profiling events)");
}

static void help_(const options_ *o) {
    printf("usage: laperm train --model FILE [options]\n\n"
           "Trains MODEL with LaPerm (or a plain optimizer) and writes an HDF5 results file.\n"
           "Ctrl-C stops cleanly after the current step and still writes the file.\n\n");
    for (int i = 0; i < o->n; ++i) {
        const option_ *r = &o->rows[i];
        char lhs[64];
        snprintf(lhs, sizeof lhs, "%s %s", r->name, r->metavar);
        const char *more = strchr(r->help, '\n');
        int first = more ? (int)(more - r->help) : (int)strlen(r->help);
        printf("  %-22s %.*s [default: %s]\n", lhs, first, r->help, r->def);
        while (more) {
            const char *line = more + 1;
            more = strchr(line, '\n');
            int len = more ? (int)(more - line) : (int)strlen(line);
            printf("  %-22s %.*s\n", "", len, line);
        }
    }
    printf("  %-22s %s\n", "-h, --help", "show this help");
}

static volatile sig_atomic_t stop_requested_ = 0;

static void on_signal_(int sig) {
    stop_requested_ = 1;
    signal(sig, SIG_DFL); /* a second Ctrl-C kills at once */
}

typedef struct {
    const char *model, *data, *out, *device, *progress, *gemm, *resume, *replay;
    const lp_dataset_format *format;
    bool no_out, profile;
    long long train_subset, test_subset;
    lp_train_config cfg;
} train_args_;

static option_ *find_option_(options_ *o, const char *name) {
    for (int i = 0; i < o->n; ++i)
        if (!strcmp(o->rows[i].name, name)) return &o->rows[i];
    return NULL;
}

/* The learning-rate schedule from the schedule flags given: at most one of them may
 * choose a schedule other than the constant one. Returns 0 or an exit status. */
static int parse_schedule_(const options_ *o, lp_lr_schedule *lr) {
    const char *chosen = NULL;
    for (int i = 0; i < o->n; ++i) {
        const option_ *r = &o->rows[i];
        if (r->kind != ROW_SCHEDULE_ || !r->value) continue;
        const lp_lr_schedule_kind *sk = lp_lr_schedule_at(r->index);
        lp_lr_schedule s = *lr;
        if (sk->parse(r->value, &s) != LP_OK) {
            fprintf(stderr, "laperm train: %s\n", lp_last_error());
            return 2;
        }
        if (s.kind == LP_LR_CONSTANT) continue;
        if (chosen) {
            fprintf(stderr, "laperm train: give either %s or %s, not both\n", chosen, sk->option);
            return 2;
        }
        chosen = sk->option;
        *lr = s;
    }
    return 0;
}

/* Returns 0 to go on, or an exit status (-1: help was printed). */
static int parse_(int argc, char **argv, train_args_ *a) {
    static const char *const scopes[] = {"unit", "tensor", NULL};
    static const char *const norms[] = {"none", "per-channel", "per-pixel-mean", NULL};
    static const char *const modes[] = {"auto", "bar", "plain", "none", NULL};
    /* The libraries' own names, in their enums' order. */
    const char *conv_algos[LP_CONV_ALGO_COUNT + 1] = {NULL},
                                                *gemms[LP_GEMM_MODE_COUNT + 1] = {NULL};
    for (int i = 0; i < LP_CONV_ALGO_COUNT; ++i)
        conv_algos[i] = lp_conv_algo_name((lp_conv_algo)i);
    for (int i = 0; i < LP_GEMM_MODE_COUNT; ++i)
        gemms[i] = lp_gemm_mode_name((lp_gemm_mode)i);
    /* --optimizer: LaPerm, then every inner optimizer; --inner: those alone */
    const char *optimizers[LP_OPTIMIZER_SLOTS + 2] = {LP_OPTIMIZER_LAPERM};
    const char *const *inners = optimizers + 1;
    for (int i = 0; lp_optimizer_at(i); ++i)
        optimizers[i + 1] = lp_optimizer_at(i)->name;
    const char *datasets[64] = {NULL};
    for (int i = 0; i < 63 && lp_dataset_format_at(i); ++i)
        datasets[i] = lp_dataset_format_at(i)->name;
    static options_ opts;
    options_build_(&opts);

    const char *C = "train";
    lp_train_config *c = &a->cfg;
    a->format = lp_dataset_format_at(0);
    for (int i = 1; i < argc; ++i) {
        const char *o = argv[i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            help_(&opts);
            return -1;
        }
        option_ *row = find_option_(&opts, o);
        if (!row) {
            fprintf(stderr, "laperm train: unknown option '%s' (see laperm train --help)\n", o);
            return 2;
        }
        const char *v = NULL;
        if (row->metavar[0]) {
            if (i + 1 >= argc) {
                fprintf(stderr, "laperm train: %s needs a value\n", o);
                return 2;
            }
            v = argv[++i];
        }
        long long n;
        double x;
        int ch;
        bool ok = true;
        if (row->kind == ROW_PARAM_) {
            const lp_optimizer_param *p = &lp_optimizer_at(row->table)->params[row->index];
            ok = arg_double(C, o, v, p->min, p->max, &c->optimizer_params[row->table][row->index]);
        } else if (row->kind == ROW_SCHEDULE_)
            row->value = v;
        else if (!strcmp(o, "--model"))
            a->model = v;
        else if (!strcmp(o, "--data"))
            a->data = v;
        else if (!strcmp(o, "--out"))
            a->out = v;
        else if (!strcmp(o, "--device"))
            a->device = v;
        else if (!strcmp(o, "--no-out"))
            a->no_out = true;
        else if (!strcmp(o, "--fast"))
            c->fast = true;
        else if (!strcmp(o, "--resume"))
            a->resume = v;
        else if (!strcmp(o, "--replay"))
            a->replay = v;
        else if (!strcmp(o, "--snapshot-every"))
            ok = arg_int(C, o, v, 0, 0x7FFFFFFFFFFFFFFFll, &c->snapshot_every);
        else if (!strcmp(o, "--checkpoint-every"))
            ok = arg_int(C, o, v, 0, 0x7FFFFFFFFFFFFFFFll, &c->checkpoint_every);
        else if (!strcmp(o, "--profile"))
            a->profile = true;
        else if (!strcmp(o, "--perm-bias"))
            c->perm_bias = true;
        else if (!strcmp(o, "--hflip"))
            c->augment.hflip = true;
        else if (!strcmp(o, "--normalize")) {
            ok = (ch = arg_choice(C, o, v, norms)) >= 0;
            if (ok) ok = lp_norm_mode_parse(v, &c->norm) == LP_OK;
        } else if (!strcmp(o, "--rotate")) {
            ok = arg_double(C, o, v, 0, 180, &x);
            c->augment.rotate_deg = (float)x;
        } else if (!strcmp(o, "--shift")) {
            ok = arg_double(C, o, v, 0, 1, &x);
            c->augment.shift = (float)x;
        } else if (!strcmp(o, "--zoom")) {
            ok = arg_double(C, o, v, 0, 0.99, &x);
            c->augment.zoom = (float)x;
        } else if (!strcmp(o, "--perm-bn"))
            c->perm_bn = true;
        else if (!strcmp(o, "--dataset")) {
            ok = (ch = arg_choice(C, o, v, datasets)) >= 0;
            if (ok) a->format = lp_dataset_format_at(ch);
        } else if (!strcmp(o, "--progress"))
            ok = arg_choice(C, o, v, modes) >= 0 && (a->progress = v);
        else if (!strcmp(o, "--gemm")) {
            ok = arg_choice(C, o, v, gemms) >= 0 && (a->gemm = v);
        } else if (!strcmp(o, "--conv-algo")) {
            ok = (ch = arg_choice(C, o, v, conv_algos)) >= 0;
            if (ok) c->conv_algo = (lp_conv_algo)ch;
        } else if (!strcmp(o, "--optimizer")) {
            ok = (ch = arg_choice(C, o, v, optimizers)) >= 0;
            if (ok) {
                c->laperm = ch == 0; /* LaPerm keeps --inner; a plain optimizer is its own */
                if (ch) c->inner = lp_optimizer_at(ch - 1);
            }
        } else if (!strcmp(o, "--inner")) {
            ok = (ch = arg_choice(C, o, v, inners)) >= 0;
            if (ok) c->inner = lp_optimizer_at(ch);
        } else if (!strcmp(o, "--group-scope")) {
            ok = (ch = arg_choice(C, o, v, scopes)) >= 0;
            if (ok) c->per_tensor_scope = ch == 1;
        } else if (!strcmp(o, "--k"))
            ok = arg_int(C, o, v, 1, 1000000000, &n) && (c->k = (int)n);
        else if (!strcmp(o, "--epochs"))
            ok = arg_int(C, o, v, 1, 100000, &n) && (c->epochs = (int)n);
        else if (!strcmp(o, "--batch"))
            ok = arg_int(C, o, v, 1, 65536, &n) && (c->batch = (int)n);
        else if (!strcmp(o, "--eval-batch"))
            ok = arg_int(C, o, v, 1, 65536, &n) && (c->eval_batch = (int)n);
        else if (!strcmp(o, "--seed")) {
            ok = arg_int(C, o, v, 0, 0x7FFFFFFFFFFFFFFFll, &n);
            c->seed = (uint64_t)n;
        } else if (!strcmp(o, "--max-steps")) {
            ok = arg_int(C, o, v, 0, 0x7FFFFFFFFFFFFFFFll, &n);
            c->max_steps = n;
        } else if (!strcmp(o, "--train-subset"))
            ok = arg_int(C, o, v, 0, 1 << 30, &a->train_subset);
        else if (!strcmp(o, "--test-subset"))
            ok = arg_int(C, o, v, 0, 1 << 30, &a->test_subset);
        else if (!strcmp(o, "--lr"))
            ok = arg_double(C, o, v, 1e-12, 1e6, &c->lr.base);
        else if (!strcmp(o, "--l2-scale"))
            ok = arg_double(C, o, v, 0, 1e6, &c->l2_scale);
        if (!ok) return 2;
    }
    if (!a->model && !a->resume) {
        fprintf(stderr,
                "laperm train: --model FILE is required (e.g. --model models/lenet300.ini)\n");
        return 2;
    }
    int rc = parse_schedule_(&opts, &c->lr);
    if (rc) return rc;
    if (!a->data) a->data = a->format->default_dir;
    return 0;
}

static void default_out_(const train_args_ *a, char *buf, size_t n) {
    const char *base = strrchr(a->model, '/');
    base = base ? base + 1 : a->model;
    size_t len = strcspn(base, ".");
    snprintf(buf, n, "results/%.*s-%s.h5", (int)len, base, lp_train_optimizer_name(&a->cfg));
}

/* Exit status of a run stopped by its divergence guard (README, "Command line"). */
#define LP_EXIT_DIVERGED 3

static int fail_(const char *what) {
    fprintf(stderr, "laperm train: %s%s\n", what, lp_last_error());
    return 1;
}

/* Set-up lines from the library: each [conv2d]'s path, and warnings. */
static void on_note_(void *ctx, bool warning, const char *line) {
    (void)ctx;
    if (warning) {
        fprintf(stderr, "laperm train: warning: %s\n", line);
    } else {
        printf("conv %s\n", line);
        fflush(stdout);
    }
}

static void print_profile_(lp_runtime *rt) {
    if (lp_runtime_profile_collect(rt) != LP_OK) return;
    const lp_profile_entry *e;
    int n = lp_runtime_profile_entries(rt, &e);
    double total = 0;
    for (int i = 0; i < n; ++i)
        total += e[i].total_ms;
    printf("\ndevice time per kernel (OpenCL profiling events):\n");
    printf("  %-26s %10s %8s %10s %6s\n", "kernel", "total ms", "calls", "us/call", "share");
    for (int i = 0; i < n; ++i)
        printf("  %-26s %10.1f %8ld %10.1f %5.1f%%\n", e[i].label, e[i].total_ms, e[i].launches,
               1000.0 * e[i].total_ms / (double)e[i].launches,
               total > 0 ? 100.0 * e[i].total_ms / total : 0.0);
    printf("  %-26s %10.1f\n", "total", total);
}

/* The arguments after "train", one per line: what --resume re-reads when given no
 * others. NULL if one holds a newline. */
static char *join_args_(int argc, char **argv) {
    size_t n = 1;
    for (int i = 1; i < argc; ++i)
        n += strlen(argv[i]) + 1;
    char *out = malloc(n);
    if (!out) return NULL;
    out[0] = '\0';
    for (int i = 1; i < argc; ++i) {
        if (strchr(argv[i], '\n')) {
            free(out);
            return NULL;
        }
        strcat(out, argv[i]);
        if (i + 1 < argc) strcat(out, "\n");
    }
    return out;
}

/* --resume FILE without --model: the recorded arguments, then the ones given now. */
static int reparse_recorded_(const char *recorded, int argc, char **argv, train_args_ *a,
                             char **storage, char ***args_out, int *n_out) {
    *storage = strdup(recorded);
    int cap = argc + 2;
    for (const char *p = recorded; *p; ++p)
        cap += *p == '\n';
    char **args = calloc((size_t)cap + 1, sizeof *args);
    if (!*storage || !args) {
        free(args);
        fprintf(stderr, "laperm train: out of memory\n");
        return 1;
    }
    int n = 0;
    args[n++] = "train";
    if (**storage)
        for (char *tok = *storage, *nl;; tok = nl + 1) {
            nl = strchr(tok, '\n');
            if (nl) *nl = '\0';
            args[n++] = tok;
            if (!nl) break;
        }
    for (int i = 1; i < argc; ++i)
        args[n++] = argv[i];
    *args_out = args;
    *n_out = n;
    train_args_ fresh = {0};
    lp_train_config_defaults(&fresh.cfg);
    fresh.progress = "auto";
    int rc = parse_(n, args, &fresh);
    if (rc) return rc < 0 ? 0 : rc;
    *a = fresh;
    return 0;
}

/* Environment variables that steer the choices, recorded as env_<NAME> attributes. */
static const char *const steering_env_[] = {
    "LAPERM_DEVICE",     "LAPERM_GEMM",        "LAPERM_CACHE",         "LAPERM_CACHE_DIR",
    "LAPERM_KERNEL_DIR", "LAPERM_KERNEL_FORM", "LAPERM_CONV_COL_BYTES"};
#define N_STEERING_ENV_ ((int)(sizeof steering_env_ / sizeof *steering_env_))

/* A results file we could not write must fail before minutes of set-up: its folder must
 * be creatable and writable, and the path must not be a folder. */
static int check_out_(const char *out) {
    struct stat st;
    if (stat(out, &st) == 0 && !S_ISREG(st.st_mode)) {
        fprintf(stderr, "laperm train: --out %s: exists and is not a regular file\n", out);
        return 2;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", out);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    /* The nearest existing ancestor must be a writable folder (the rest is created). */
    while (stat(dir, &st) != 0) {
        slash = strrchr(dir, '/');
        if (!slash) {
            snprintf(dir, sizeof dir, ".");
            break;
        }
        if (slash == dir) {
            dir[1] = '\0';
            break;
        }
        *slash = '\0';
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK) != 0) {
        fprintf(stderr, "laperm train: --out %s: cannot write in %s: %s\n", out, dir,
                stat(dir, &st) == 0 && !S_ISDIR(st.st_mode) ? "not a folder" : strerror(errno));
        return 2;
    }
    return 0;
}

int cli_train(int argc, char **argv) {
    train_args_ a = {0};
    lp_train_config_defaults(&a.cfg);
    a.progress = "auto";
    int rc = parse_(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;

    cli_resume_plan plan = {0};
    char *recorded_storage = NULL, **recorded_args = NULL, *joined = NULL;
    int n_recorded = 0;
    if (a.resume) {
        if (a.no_out) {
            fprintf(stderr, "laperm train: --resume writes its results file: drop --no-out\n");
            return 2;
        }
        if ((rc = cli_resume_find(a.resume, &plan))) return rc;
        if (plan.complete) {
            printf("%s holds a finished run: nothing to resume\n", plan.out);
            cli_resume_free(&plan);
            return 0;
        }
        if (!a.model) {
            if (!plan.argv) {
                fprintf(stderr,
                        "laperm train: --resume %s: no run recorded there yet; give the run's "
                        "flags (--model ...) to start it\n",
                        a.resume);
                cli_resume_free(&plan);
                return 1;
            }
            rc = reparse_recorded_(plan.argv, argc, argv, &a, &recorded_storage, &recorded_args,
                                   &n_recorded);
            if (rc || !a.model) {
                cli_resume_free(&plan);
                free(recorded_storage);
                free(recorded_args);
                return rc ? rc : 1;
            }
        }
        a.out = plan.out;
        if (!plan.source[0])
            printf("%s: no checkpoint to resume from: starting the run\n", plan.out);
        else
            a.cfg.resume = &plan.resume;
    }
    joined = plan.argv ? strdup(plan.argv) : join_args_(argc, argv);
    if (!joined) joined = strdup("");

    char cmdline[2048] = "laperm";
    for (int i = 0; i < argc; ++i) {
        size_t len = strlen(cmdline);
        snprintf(cmdline + len, sizeof cmdline - len, " %s", argv[i]);
    }
    a.cfg.command_line = cmdline;
    a.cfg.dataset = a.format->name;
    a.cfg.data_dir = a.data;
    char out_default[1024];
    if (!a.no_out) {
        if (!a.out) default_out_(&a, out_default, sizeof out_default);
        a.cfg.out_path = a.out ? a.out : out_default;
        if ((rc = check_out_(a.cfg.out_path))) goto done_early;
    }
    lp_attr extra[1 + N_STEERING_ENV_];
    char env_names[N_STEERING_ENV_][48];
    extra[0] = LP_ATTR_S("argv", joined ? joined : "");
    for (int i = 0; i < N_STEERING_ENV_; ++i) {
        snprintf(env_names[i], sizeof env_names[i], "env_%s", steering_env_[i]);
        const char *v = getenv(steering_env_[i]);
        extra[1 + i] = LP_ATTR_S(env_names[i], v ? v : "");
    }
    a.cfg.extra_attrs = extra;
    a.cfg.n_extra_attrs = 1 + N_STEERING_ENV_;

    double t0 = lp_seconds();
    lp_model_spec model = {0};
    lp_dataset train = {0}, test = {0}, sub;
    lp_runtime *rt = NULL;
    lp_conv_algo *replay_conv = NULL;
    char *replay_gemm = NULL;
    lp_train_result r = {0};
    lp_status s = LP_ERR_INVALID_ARG;
    rc = 1;
    if (lp_model_load(a.model, &model) != LP_OK) goto done;
    if (a.format->load(a.data, "train", &train) != LP_OK ||
        a.format->load(a.data, "test", &test) != LP_OK)
        goto done;
    long long subsets[2] = {a.train_subset, a.test_subset};
    lp_dataset *sets[2] = {&train, &test};
    for (int i = 0; i < 2; ++i) {
        if (subsets[i] > sets[i]->n)
            fprintf(stderr,
                    "laperm train: warning: --%s-subset %lld is more than the %d images there; "
                    "using all of them\n",
                    i ? "test" : "train", subsets[i], sets[i]->n);
        if (!subsets[i] || subsets[i] >= sets[i]->n) continue;
        if (lp_dataset_subset(sets[i], 0, (int)subsets[i], &sub) != LP_OK) goto done;
        lp_dataset_free(sets[i]);
        *sets[i] = sub;
    }
    /* Choices to replay: --replay's file, or the resumed run's own. */
    const char *replay_from = a.replay ? a.replay : plan.source[0] ? plan.source : NULL;
    if (replay_from) {
        replay_conv = calloc((size_t)model.n_layers, sizeof *replay_conv);
        if (!replay_conv || cli_replay_conv(replay_from, &model, replay_conv)) goto done_quiet;
        a.cfg.replay_conv = replay_conv;
        if (a.replay &&
            lp_results_read_string(a.replay, "/", "gemm_choices", &replay_gemm) != LP_OK)
            goto done;
        a.cfg.replay_gemm = a.replay ? replay_gemm : plan.resume.checkpoint.choices;
    }

    lp_runtime_options ro = {.device = a.device, .profiling = a.profile};
    if (lp_runtime_create(&ro, &rt) != LP_OK) goto done;
    lp_gemm_mode gemm_mode;
    if (a.gemm && lp_gemm_mode_parse(a.gemm, &gemm_mode)) lp_gemm_set_mode(rt, gemm_mode);
    const lp_device_info *dev = lp_runtime_device(rt);
    cli_progress prog;
    cli_progress_init(&prog, a.progress);
    prog.laperm = a.cfg.laperm;
    size_t params = lp_model_param_count(&model);
    printf("laperm %s: %s (%zu parameters) on %s [%d:%d, %s]\n", LAPERM_VERSION, a.model, params,
           dev->device_name, dev->platform_index, dev->device_index, dev->platform_name);
    printf("data %s: %d train, %d test images; ", a.data, train.n, test.n);
    if (a.cfg.laperm)
        printf("LaPerm k=%d over %s", a.cfg.k, a.cfg.inner->title);
    else
        printf("%s", a.cfg.inner->title);
    printf(", batch %d, lr %g, %d epochs, seed %llu\n", a.cfg.batch, a.cfg.lr.base, a.cfg.epochs,
           (unsigned long long)a.cfg.seed);
    if (a.cfg.resume)
        printf("resuming from %s: epoch %d, step %lld\n", plan.source,
               plan.resume.checkpoint.epoch + 1, plan.resume.checkpoint.step);
    fflush(stdout);

    signal(SIGINT, on_signal_);
    signal(SIGTERM, on_signal_);
    a.cfg.stop = &stop_requested_;
    lp_train_callbacks cb = cli_progress_callbacks(&prog);
    cb.on_note = on_note_;
    double t_train = lp_seconds();
    s = lp_train(rt, &model, &train, &test, &a.cfg, &cb, &r);
    if (s == LP_OK && r.diverged) {
        fprintf(stderr,
                "laperm train: diverged: a non-finite value at step %lld: %s; the results file "
                "keeps the last good checkpoint (status diverged)\n",
                r.diverged_step, r.diverged_what);
        if (a.cfg.out_path) fprintf(stderr, "results: %s\n", a.cfg.out_path);
        rc = LP_EXIT_DIVERGED;
    } else if (s == LP_OK) {
        lp_build_stats bs = lp_runtime_build_stats(rt);
        printf("%s after %d epoch(s), %lld steps, %lld syncs: %.0f images/s\n",
               r.interrupted ? "interrupted" : "done", r.epochs_done, r.steps, r.syncs,
               r.images_per_second);
        printf("best test accuracy %.2f%% (epoch %d), final %.2f%%%s\n",
               100.0 * r.best_test_accuracy, r.best_epoch, 100.0 * r.final_test_accuracy,
               a.cfg.laperm ? " (permuted network)" : "");
        if (a.cfg.laperm)
            printf("best unsynced test accuracy %.2f%% (the inner optimizer's weights, not a "
                   "permutation)\n",
                   100.0 * r.best_unsynced_accuracy);
        double before_train = t_train - t0;
        printf("start-up: %.2f s from process start to the first completed step (kernels: %d "
               "compiled, %d from the disk cache, %.2f s)\n",
               before_train + r.first_step_seconds, bs.compiled, bs.from_disk, bs.build_seconds);
        if (a.cfg.out_path) printf("results: %s\n", a.cfg.out_path);
        if (a.profile) print_profile_(rt);
        rc = r.interrupted ? 130 : 0;
    }
done:
    if (s != LP_OK) fail_("");
done_quiet:
    if (rt) lp_runtime_destroy(rt);
    lp_model_free(&model);
    lp_dataset_free(&train);
    lp_dataset_free(&test);
    free(replay_conv);
    free(replay_gemm);
done_early:
    cli_resume_free(&plan);
    free(recorded_storage);
    free(recorded_args);
    free(joined);
    return rc;
}
