/* laperm train's options and their parser (train_options.h). */
#include "train_options.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "laperm/gemm.h"
#include "laperm/init.h"
#include "laperm/network.h"
#include "train_init.h"

/* One command-line option. Rows made from a table (an optimizer's hyper-parameters, a
 * learning-rate schedule's flag) say which entry they set. */
typedef enum { ROW_OWN_, ROW_PARAM_, ROW_SCHEDULE_ } row_kind_;
typedef struct {
    const char *name, *metavar;
    char def[64], help[1024]; /* help: lines after the first are printed indented below it */
    row_kind_ kind;
    int table, index;  /* ROW_PARAM_: optimizer i, parameter j; ROW_SCHEDULE_: schedule row i */
    const char *value; /* ROW_SCHEDULE_: the value given, parsed after the other options */
} option_;

#define MAX_OPTIONS_ 96

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
    char help[1024], names[256], def[64];
    const lp_dataset_format *f;
    const lp_optimizer *opt;
    const lp_lr_schedule_kind *sk;
    const lp_loss *loss;
    o->n = 0;

    add_(o, "--model", "FILE", "(required)",
         "model file, or a name (lenet300) looked up in ./models, the source\n"
         "tree's and the installed share/laperm/models");
    snprintf(help, sizeof help, "file format; sets the default --data");
    for (int i = 0; (f = lp_dataset_format_at(i)); ++i)
        cat_(help, sizeof help, "\n  %-15s %s (%s)", f->name, f->description, f->default_dir);
    add_(o, "--dataset", "NAME", lp_dataset_format_at(0)->name, help);
    add_(o, "--data", "DIR", "per dataset, see --dataset",
         "folder holding the data files (hdf5: the file)");
    names[0] = '\0';
    for (int i = 0; (loss = lp_loss_at(i)); ++i)
        cat_(names, sizeof names, "%s%s", i ? " | " : "", loss->name);
    snprintf(help, sizeof help, "%s (overrides the model file's `loss`)", names);
    add_(o, "--loss", "NAME", "the model's, else softmax-cross-entropy", help);
    add_(o, "--normalize", "MODE", "none",
         "none | per-channel | per-pixel-mean (training-set statistics)");
    add_(o, "--rotate", "DEG", "0", "augmentation: random rotation in [-DEG, DEG] degrees");
    add_(o, "--shift", "F", "0", "augmentation: random shift up to F times width/height");
    add_(o, "--zoom", "F", "0", "augmentation: random zoom factor in [1-F, 1+F]");
    add_(o, "--hflip", "", "off", "augmentation: mirror left-right with probability 1/2");

    names[0] = '\0';
    for (int i = 0; (opt = lp_optimizer_at(i)); ++i)
        cat_(names, sizeof names, "%s%s", i ? " | " : "", opt->name);
    snprintf(help, sizeof help, "%s | %s | %s\n(%s: Lookahead alone, over --inner)",
             LP_OPTIMIZER_LAPERM, LP_OPTIMIZER_LOOKAHEAD, names, LP_OPTIMIZER_LOOKAHEAD);
    add_(o, "--optimizer", "NAME", lp_train_optimizer_name(&d), help);
    snprintf(help, sizeof help, "LaPerm's inner optimizer: %s", names);
    add_(o, "--inner", "NAME", d.inner->name, help);
    add_(o, "--lookahead", "", "off", "LaPerm over Lookahead over --inner (the sync follows it)");
    snprintf(help, sizeof help, "Lookahead: slow-weight step every N steps");
    snprintf(def, sizeof def, "%d", d.la_k);
    add_(o, "--la-k", "N", def, help);
    number_(def, sizeof def, d.la_alpha);
    add_(o, "--la-alpha", "X", def, "Lookahead: slow weights move X of the way, in (0, 1]");
    add_(o, "--k", "N", "250", "LaPerm sync period in steps");
    add_(o, "--k-steps", "LIST", "(none)",
         "LaPerm k by epoch EPOCH:K,... (0-based epochs; --k before the\n"
         "first), e.g. 0:20,10:100,20:400");
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
            number_(def, sizeof def, d.optimizer_params[i][j]);
            option_ *r = add_(o, opt->params[j].option, "X", def, opt->params[j].help);
            r->kind = ROW_PARAM_;
            r->table = i;
            r->index = j;
        }
    add_(o, "--l2-scale", "X", "1", "multiplies the model file's l2 coefficients (0: no L2)");
    add_(o, "--weight-decay", "X", "0",
         "decoupled weight decay (AdamW, SGDW) of every kernel: w *= 1 - lr X\n"
         "before each inner update (0: off)");
    add_(o, "--perm-bias", "", "off", "LaPerm also permutes biases");
    add_(o, "--perm-bn", "", "off", "LaPerm also permutes BatchNorm gamma and beta");
    add_(o, "--group-scope", "NAME", "unit", "unit (one group per output unit) | tensor");
    add_(o, "--seed", "N", "1", "seed of initial weights and data order");
    lp_init_list(LP_INIT_USE_KERNEL, names, sizeof names);
    snprintf(help, sizeof help, "initializer of every permuted kernel: %s", names);
    add_(o, "--init", "NAME", "the model file's", help);
    add_(o, "--init-value", "V", "none", "--init constant: every weight V");
    add_(o, "--init-values", "LIST", "none",
         "--init choice: each weight one of a,b,... (at most 16), uniformly");
    add_(o, "--quantize", "N", "the model file's",
         "round every permuted kernel to N >= 2 evenly spaced levels over its\n"
         "initializer's range");
    add_(o, "--keep", "P", "the model file's",
         "mask every permuted kernel, keeping each weight with probability P\n"
         "(the first kernel keeps max(P, 0.8) unless --keep-first is given)");
    add_(o, "--keep-first", "P", "max(--keep, 0.8)", "the first permuted kernel's --keep");
    add_(o, "--init-from", "FILE", "none",
         "start from the final weights of results file FILE (matched by layer)");
    add_(o, "--init-from-shuffle", "", "off",
         "shuffle each LaPerm group of --init-from's weights at random first");
    add_(o, "--device", "D", "$LAPERM_DEVICE or a GPU, else a CPU",
         "P:D index or name substring; under mpirun {local_rank} and {rank} are replaced, "
         "and a list D0,D1,.. gives each rank of a node its own");
    add_(o, "--out", "FILE", "results/<model>-<optimizer>.h5", "HDF5 results file");
    add_(o, "--no-out", "", "off", "write no results file");
    add_(o, "--max-steps", "N", "0", "stop after N steps (0: no limit)");
    add_(o, "--train-subset", "N", "0", "use the first N training images (0: all)");
    add_(o, "--test-subset", "N", "0", "use the first N test images (0: all)");
    names[0] = '\0';
    for (int i = 0; i < LP_CONV_ALGO_COUNT; ++i)
        cat_(names, sizeof names, "%s%s", i ? " | " : "", lp_conv_algo_name((lp_conv_algo)i));
    snprintf(help, sizeof help,
             "%s: [conv2d] path; auto: per layer by a rule (with\n"
             "--fast: the fastest, timed), gemm: im2col + GEMM, fft: FFTs (stride 1),\n"
             "direct: from the images, winograd: Winograd F(4x4,3x3), F(2x2,3x3) with\n"
             "LAPERM_WINOGRAD_TILE=2 (3x3 stride 1; not with --bits portable)",
             names);
    add_(o, "--conv-algo", "NAME", lp_conv_algo_name(d.conv_algo), help);
    names[0] = '\0';
    for (int i = 0; i < LP_GEMM_MODE_COUNT; ++i)
        cat_(names, sizeof names, "%s%s", i ? " | " : "", lp_gemm_mode_name((lp_gemm_mode)i));
    snprintf(help, sizeof help,
             "%s: matrix products; auto: laperm's kernels on CPUs, CLBlast\n"
             "elsewhere (with --fast: per shape the faster, timed), clblast: CLBlast,\n"
             "tiled: laperm's kernels",
             names);
    add_(o, "--gemm", "MODE", "$LAPERM_GEMM or auto", help);
    names[0] = '\0';
    for (int i = 0; i < LP_BITS_COUNT; ++i)
        cat_(names, sizeof names, "%s%s", i ? " | " : "", lp_bits_name((lp_bits)i));
    snprintf(help, sizeof help,
             "%s: fast: the device's fastest code, repeatable on it;\n"
             "portable: the same bits on every OpenCL implementation (slower)",
             names);
    add_(o, "--bits", "MODE", lp_bits_name(LP_BITS_FAST), help);
    add_(o, "--fast", "", "off",
         "let timing choose the conv paths and matrix products (auto): faster on some\n"
         "devices, but the bits then depend on the timings (the choices are recorded)");
    add_(o, "--replay", "FILE", "none", "make the conv and GEMM choices a results file records");
    add_(o, "--snapshot-every", "N", "0",
         "also snapshot the network every N steps (0: epoch ends)");
    add_(o, "--checkpoint-every", "N", "0",
         "also checkpoint every N steps (always: epoch ends, Ctrl-C, SIGTERM)");
    add_(o, "--eval-every", "N", "0",
         "also evaluate the test set every N steps, into /evals (0: epoch ends only)");
    add_(o, "--save-best", "", "off",
         "keep the best evaluation's network in the results file (/best)");
    add_(o, "--resume", "FILE", "none",
         "continue the run FILE (or FILE.part) records from its last checkpoint; other flags,\n"
         "if given, must match the run's");
    add_(o, "--progress", "MODE", "auto", "auto | bar | plain | none");
    add_(o, "--json", "", "off",
         "print the end-of-run summary as one JSON object on stdout; every other\n"
         "line goes to stderr");
    add_(o, "--verbose", "", "off",
         "show the OpenCL compiler's own output (PoCL's \"N warnings generated.\")");
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
        arg_help_row(lhs, r->help, r->def);
    }
    printf("  %-22s %s\n", "-h, --help", "show this help");
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

/* What wraps the inner optimizer, from the flags given: Lookahead (--optimizer lookahead
 * alone, --lookahead under LaPerm, tuned by --la-k and --la-alpha) and LaPerm's k
 * schedule. Flags that would change nothing are refused. Returns 0 or an exit status. */
static int parse_wrappers_(int chosen, bool la_switch, const char *la_flag, const char *k_steps,
                           lp_train_config *c) {
    if (chosen >= 0) c->lookahead = chosen == 1;
    if (la_switch && !c->laperm && chosen != 1) {
        fprintf(stderr,
                "laperm train: --lookahead puts Lookahead under LaPerm; for Lookahead alone give "
                "--optimizer %s --inner NAME\n",
                LP_OPTIMIZER_LOOKAHEAD);
        return 2;
    }
    if (la_switch) c->lookahead = true;
    if (la_flag && !c->lookahead) {
        fprintf(stderr,
                "laperm train: %s tunes Lookahead, which is off: add --lookahead (under LaPerm) "
                "or give --optimizer %s\n",
                la_flag, LP_OPTIMIZER_LOOKAHEAD);
        return 2;
    }
    if (!k_steps) return 0;
    if (!c->laperm) {
        fprintf(stderr,
                "laperm train: --k-steps is LaPerm's sync schedule; --optimizer %s does "
                "not sync\n",
                lp_train_optimizer_name(c));
        return 2;
    }
    if (lp_k_parse_steps(k_steps, &c->k_steps) != LP_OK) {
        fprintf(stderr, "laperm train: %s\n", lp_last_error());
        return 2;
    }
    return 0;
}

/* Returns 0 to go on, or an exit status (-1: help was printed). */
int cli_train_parse(int argc, char **argv, cli_train_args *a) {
    static const char *const scopes[] = {"unit", "tensor", NULL};
    static const char *const norms[] = {"none", "per-channel", "per-pixel-mean", NULL};
    static const char *const modes[] = {"auto", "bar", "plain", "none", NULL};
    /* The libraries' own names, in their enums' order. */
    const char *conv_algos[LP_CONV_ALGO_COUNT + 1] = {NULL},
                                                *gemms[LP_GEMM_MODE_COUNT + 1] = {NULL},
                                                *bits[LP_BITS_COUNT + 1] = {NULL};
    for (int i = 0; i < LP_BITS_COUNT; ++i)
        bits[i] = lp_bits_name((lp_bits)i);
    for (int i = 0; i < LP_CONV_ALGO_COUNT; ++i)
        conv_algos[i] = lp_conv_algo_name((lp_conv_algo)i);
    for (int i = 0; i < LP_GEMM_MODE_COUNT; ++i)
        gemms[i] = lp_gemm_mode_name((lp_gemm_mode)i);
    /* --optimizer: LaPerm, Lookahead, then every inner optimizer; --inner: those alone */
    const char *optimizers[LP_OPTIMIZER_SLOTS + 3] = {LP_OPTIMIZER_LAPERM, LP_OPTIMIZER_LOOKAHEAD};
    const char *const *inners = optimizers + 2;
    for (int i = 0; lp_optimizer_at(i); ++i)
        optimizers[i + 2] = lp_optimizer_at(i)->name;
    int chosen = -1;                             /* the last --optimizer, by index */
    const char *la_flag = NULL, *k_steps = NULL; /* --la-k / --la-alpha given; --k-steps */
    bool la_switch = false;
    const char *losses[16] = {NULL};
    for (int i = 0; i < 15 && lp_loss_at(i); ++i)
        losses[i] = lp_loss_at(i)->name;
    const char *datasets[64] = {NULL};
    for (int i = 0; i < 63 && lp_dataset_format_at(i); ++i)
        datasets[i] = lp_dataset_format_at(i)->name;
    static options_ opts;
    options_build_(&opts);

    const char *C = "train";
    lp_train_config *c = &a->cfg;
    a->format = lp_dataset_format_at(0);
    static cli_flag flags[MAX_OPTIONS_];
    for (int i = 0; i < opts.n; ++i)
        flags[i] = (cli_flag){opts.rows[i].name, opts.rows[i].metavar};
    cli_args it = {.cmd = C, .flags = flags, .n_flags = opts.n, .argc = argc, .i = 1, .argv = argv};
    const cli_flag *flag;
    const char *v;
    for (cli_arg kind; (kind = cli_args_next(&it, &flag, &v)) != CLI_ARG_END;) {
        if (kind == CLI_ARG_HELP) {
            help_(&opts);
            return -1;
        }
        if (kind == CLI_ARG_POSITIONAL)
            fprintf(stderr, "laperm train: unexpected argument '%s' (see laperm train --help)\n",
                    v);
        if (kind != CLI_ARG_FLAG) return 2;
        option_ *row = &opts.rows[flag - flags];
        const char *o = row->name;
        long long n;
        double x;
        int ch;
        bool ok = true;
        if (row->kind == ROW_PARAM_) {
            const lp_optimizer_param *p = &lp_optimizer_at(row->table)->params[row->index];
            ok = arg_double(C, o, v, p->min, p->max, &c->optimizer_params[row->table][row->index]);
        } else if (row->kind == ROW_SCHEDULE_)
            row->value = v;
        else if (cli_init_is_option(o))
            ok = cli_init_option(o, v, c);
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
        else if (!strcmp(o, "--eval-every"))
            ok = arg_int(C, o, v, 0, 0x7FFFFFFFFFFFFFFFll, &c->eval_every);
        else if (!strcmp(o, "--save-best"))
            c->save_best = true;
        else if (!strcmp(o, "--profile"))
            a->profile = true;
        else if (!strcmp(o, "--json"))
            a->json = true;
        else if (!strcmp(o, "--verbose"))
            a->verbose = true;
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
        else if (!strcmp(o, "--loss")) {
            ok = (ch = arg_choice(C, o, v, losses)) >= 0;
            if (ok) c->loss = lp_loss_at(ch);
            a->loss_given = ok;
        } else if (!strcmp(o, "--dataset")) {
            ok = (ch = arg_choice(C, o, v, datasets)) >= 0;
            if (ok) a->format = lp_dataset_format_at(ch);
        } else if (!strcmp(o, "--progress"))
            ok = arg_choice(C, o, v, modes) >= 0 && (a->progress = v);
        else if (!strcmp(o, "--bits")) {
            ok = (ch = arg_choice(C, o, v, bits)) >= 0;
            if (ok) a->bits = (lp_bits)ch;
        } else if (!strcmp(o, "--gemm")) {
            ok = arg_choice(C, o, v, gemms) >= 0 && (a->gemm = v);
        } else if (!strcmp(o, "--conv-algo")) {
            ok = (ch = arg_choice(C, o, v, conv_algos)) >= 0;
            if (ok) c->conv_algo = (lp_conv_algo)ch;
        } else if (!strcmp(o, "--optimizer")) {
            ok = (chosen = arg_choice(C, o, v, optimizers)) >= 0;
            if (ok) {
                /* LaPerm and Lookahead keep --inner; a plain optimizer is its own */
                c->laperm = chosen == 0;
                if (chosen >= 2) c->inner = lp_optimizer_at(chosen - 2);
            }
        } else if (!strcmp(o, "--lookahead"))
            la_switch = true;
        else if (!strcmp(o, "--la-k")) {
            ok = arg_int(C, o, v, 1, 1000000000, &n) && (c->la_k = (int)n);
            la_flag = o;
        } else if (!strcmp(o, "--la-alpha")) {
            ok = arg_double(C, o, v, 0, 1, &c->la_alpha);
            if (ok && !(c->la_alpha > 0)) {
                fprintf(stderr, "laperm train: --la-alpha: expected a number in (0, 1], got '%s'\n",
                        v);
                ok = false;
            }
            la_flag = o;
        } else if (!strcmp(o, "--k-steps"))
            k_steps = v;
        else if (!strcmp(o, "--weight-decay"))
            ok = arg_double(C, o, v, 0, 1e6, &c->weight_decay);
        else if (!strcmp(o, "--inner")) {
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
    if (!cli_init_check(c)) return 2;
    int rc = parse_schedule_(&opts, &c->lr);
    if (rc) return rc;
    if (!a->data) a->data = a->format->default_dir;
    return parse_wrappers_(chosen, la_switch, la_flag, k_steps, c);
}
