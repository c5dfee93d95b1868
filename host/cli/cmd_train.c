/* laperm train: load model and data, train on the chosen device, write HDF5 results. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "cli.h"
#include "laperm/gemm.h"
#include "laperm/data.h"
#include "laperm/model.h"
#include "laperm/runtime.h"
#include "laperm/train.h"
#include "progress.h"

typedef struct {
    const char *name, *metavar, *def, *help;
} option_doc_;

/* The single list of options: --help prints it, the parser accepts exactly these. */
static const option_doc_ options_[] = {
    {"--model", "FILE", "(required)", "model file, e.g. models/lenet300.ini"},
    {"--dataset", "NAME", "mnist", "mnist | fashion-mnist | cifar10: file format, default --data"},
    {"--data", "DIR", "per dataset", "data/mnist, /usr/share/datasets/fashion-mnist, data/cifar10"},
    {"--normalize", "MODE", "none", "none | per-channel | per-pixel-mean (training-set statistics)"},
    {"--rotate", "DEG", "0", "augmentation: random rotation in [-DEG, DEG] degrees"},
    {"--shift", "F", "0", "augmentation: random shift up to F times width/height"},
    {"--zoom", "F", "0", "augmentation: random zoom factor in [1-F, 1+F]"},
    {"--hflip", "", "off", "augmentation: mirror left-right with probability 1/2"},
    {"--optimizer", "NAME", "laperm", "laperm | adam | sgd"},
    {"--inner", "NAME", "adam", "LaPerm's inner optimizer: adam | sgd"},
    {"--k", "N", "250", "LaPerm sync period in steps"},
    {"--epochs", "N", "10", "training epochs"},
    {"--batch", "N", "128", "training batch size"},
    {"--eval-batch", "N", "auto", "evaluation batch (auto: up to 1000 within 1 GiB of activations, 256 MiB on CPUs)"},
    {"--lr", "X", "0.001", "learning rate at epoch 0"},
    {"--lr-decay", "X", "1", "exponential schedule: lr * X^epoch (1: constant)"},
    {"--lr-steps", "LIST", "(none)", "step schedule EPOCH:FACTOR,..., e.g. 80:0.1,120:0.01"},
    {"--beta1", "X", "0.9", "Adam beta1"},
    {"--beta2", "X", "0.999", "Adam beta2"},
    {"--eps", "X", "1e-7", "Adam epsilon"},
    {"--momentum", "X", "0.9", "SGD momentum"},
    {"--l2-scale", "X", "1", "multiplies the model file's l2 coefficients (0: no L2)"},
    {"--perm-bias", "", "off", "LaPerm also permutes biases"},
    {"--perm-bn", "", "off", "LaPerm also permutes BatchNorm gamma and beta"},
    {"--group-scope", "NAME", "unit", "unit (one group per output unit) | tensor"},
    {"--seed", "N", "1", "seed of initial weights and data order"},
    {"--device", "D", "$LAPERM_DEVICE or a GPU, else a CPU", "P:D index or name substring"},
    {"--out", "FILE", "results/<model>-<optimizer>.h5", "HDF5 results file"},
    {"--no-out", "", "off", "write no results file"},
    {"--max-steps", "N", "0", "stop after N steps (0: no limit)"},
    {"--train-subset", "N", "0", "use the first N training images (0: all)"},
    {"--test-subset", "N", "0", "use the first N test images (0: all)"},
    {"--conv-algo", "NAME", "auto",
     "auto | gemm | fft | direct: [conv2d] by im2col+GEMM, by FFTs (stride 1), from the "
     "images, or per layer the fastest"},
    {"--gemm", "MODE", "$LAPERM_GEMM or auto",
     "auto | clblast | tiled: matrix products by CLBlast, laperm's kernels, or per shape the faster"},
    {"--progress", "MODE", "auto", "auto | bar | plain | none"},
    {"--profile", "", "off", "print device time per kernel (OpenCL profiling events)"},
};

static void help_(void) {
    printf("usage: laperm train --model FILE [options]\n\n"
           "Trains MODEL with LaPerm (or a plain optimizer) and writes an HDF5 results file.\n"
           "Ctrl-C stops cleanly after the current step and still writes the file.\n\n");
    for (size_t i = 0; i < sizeof options_ / sizeof *options_; ++i) {
        char lhs[64];
        snprintf(lhs, sizeof lhs, "%s %s", options_[i].name, options_[i].metavar);
        printf("  %-22s %s [default: %s]\n", lhs, options_[i].help, options_[i].def);
    }
    printf("  %-22s %s\n", "-h, --help", "show this help");
}

static volatile sig_atomic_t stop_requested_ = 0;

static void on_signal_(int sig) {
    stop_requested_ = 1;
    signal(sig, SIG_DFL); /* a second Ctrl-C kills at once */
}

typedef struct {
    const char *model, *data, *out, *device, *progress, *lr_steps, *dataset_name, *gemm;
    bool no_out, profile;
    int dataset; /* 0 mnist, 1 fashion-mnist */
    long long train_subset, test_subset;
    lp_train_config cfg;
} train_args_;

static bool takes_value_(const char *name) {
    for (size_t i = 0; i < sizeof options_ / sizeof *options_; ++i)
        if (!strcmp(options_[i].name, name)) return options_[i].metavar[0] != '\0';
    return false;
}

static bool known_(const char *name) {
    for (size_t i = 0; i < sizeof options_ / sizeof *options_; ++i)
        if (!strcmp(options_[i].name, name)) return true;
    return false;
}

/* Returns 0 to go on, or an exit status. */
static int parse_(int argc, char **argv, train_args_ *a) {
    static const char *const optimizers[] = {"laperm", "adam", "sgd", NULL};
    static const char *const inners[] = {"adam", "sgd", NULL};
    static const char *const scopes[] = {"unit", "tensor", NULL};
    static const char *const datasets[] = {"mnist", "fashion-mnist", "cifar10", NULL};
    static const char *const norms[] = {"none", "per-channel", "per-pixel-mean", NULL};
    static const char *const modes[] = {"auto", "bar", "plain", "none", NULL};
    /* in lp_conv_algo's order */
    static const char *const conv_algos[] = {"auto", "gemm", "fft", "direct", NULL};
    const char *C = "train";
    lp_train_config *c = &a->cfg;
    double lr_decay = 1.0;
    for (int i = 1; i < argc; ++i) {
        const char *o = argv[i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            help_();
            return -1;
        }
        if (!known_(o)) {
            fprintf(stderr, "laperm train: unknown option '%s' (see laperm train --help)\n", o);
            return 2;
        }
        const char *v = NULL;
        if (takes_value_(o)) {
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
        if (!strcmp(o, "--model")) a->model = v;
        else if (!strcmp(o, "--data")) a->data = v;
        else if (!strcmp(o, "--out")) a->out = v;
        else if (!strcmp(o, "--device")) a->device = v;
        else if (!strcmp(o, "--lr-steps")) a->lr_steps = v;
        else if (!strcmp(o, "--no-out")) a->no_out = true;
        else if (!strcmp(o, "--profile")) a->profile = true;
        else if (!strcmp(o, "--perm-bias")) c->perm_bias = true;
        else if (!strcmp(o, "--hflip")) c->augment.hflip = true;
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
        }
        else if (!strcmp(o, "--perm-bn")) c->perm_bn = true;
        else if (!strcmp(o, "--dataset")) ok = (a->dataset = arg_choice(C, o, v, datasets)) >= 0;
        else if (!strcmp(o, "--progress")) ok = arg_choice(C, o, v, modes) >= 0 && (a->progress = v);
        else if (!strcmp(o, "--gemm")) {
            static const char *const gemms[] = {"auto", "clblast", "tiled", NULL};
            ok = arg_choice(C, o, v, gemms) >= 0 && (a->gemm = v);
        } else if (!strcmp(o, "--conv-algo")) {
            ok = (ch = arg_choice(C, o, v, conv_algos)) >= 0;
            if (ok) c->conv_algo = (lp_conv_algo)ch;
        }
        else if (!strcmp(o, "--optimizer")) {
            ok = (ch = arg_choice(C, o, v, optimizers)) >= 0;
            if (ok) {
                c->laperm = ch == 0;
                if (ch) c->inner = ch == 1 ? LP_OPT_ADAM : LP_OPT_SGD;
            }
        } else if (!strcmp(o, "--inner")) {
            ok = (ch = arg_choice(C, o, v, inners)) >= 0;
            if (ok) c->inner = ch == 0 ? LP_OPT_ADAM : LP_OPT_SGD;
        } else if (!strcmp(o, "--group-scope")) {
            ok = (ch = arg_choice(C, o, v, scopes)) >= 0;
            if (ok) c->per_tensor_scope = ch == 1;
        } else if (!strcmp(o, "--k")) ok = arg_int(C, o, v, 1, 1000000000, &n) && (c->k = (int)n);
        else if (!strcmp(o, "--epochs")) ok = arg_int(C, o, v, 1, 100000, &n) && (c->epochs = (int)n);
        else if (!strcmp(o, "--batch")) ok = arg_int(C, o, v, 1, 65536, &n) && (c->batch = (int)n);
        else if (!strcmp(o, "--eval-batch"))
            ok = arg_int(C, o, v, 1, 65536, &n) && (c->eval_batch = (int)n);
        else if (!strcmp(o, "--seed")) {
            ok = arg_int(C, o, v, 0, 0x7FFFFFFFFFFFFFFFll, &n);
            c->seed = (uint64_t)n;
        } else if (!strcmp(o, "--max-steps")) {
            ok = arg_int(C, o, v, 0, 0x7FFFFFFFFFFFFFFFll, &n);
            c->max_steps = n;
        } else if (!strcmp(o, "--train-subset")) ok = arg_int(C, o, v, 0, 1 << 30, &a->train_subset);
        else if (!strcmp(o, "--test-subset")) ok = arg_int(C, o, v, 0, 1 << 30, &a->test_subset);
        else if (!strcmp(o, "--lr")) ok = arg_double(C, o, v, 1e-12, 1e6, &c->lr.base);
        else if (!strcmp(o, "--lr-decay")) ok = arg_double(C, o, v, 1e-9, 10, &lr_decay);
        else if (!strcmp(o, "--beta1")) ok = arg_double(C, o, v, 0, 0.999999999, &c->beta1);
        else if (!strcmp(o, "--beta2")) ok = arg_double(C, o, v, 0, 0.999999999, &c->beta2);
        else if (!strcmp(o, "--eps")) ok = arg_double(C, o, v, 1e-30, 1, &c->eps);
        else if (!strcmp(o, "--momentum")) ok = arg_double(C, o, v, 0, 0.999999999, &c->momentum);
        else if (!strcmp(o, "--l2-scale")) ok = arg_double(C, o, v, 0, 1e6, &c->l2_scale);
        if (!ok) return 2;
    }
    if (!a->model) {
        fprintf(stderr, "laperm train: --model FILE is required (e.g. --model models/lenet300.ini)\n");
        return 2;
    }
    if (a->lr_steps && lr_decay != 1.0) {
        fprintf(stderr, "laperm train: give either --lr-decay or --lr-steps, not both\n");
        return 2;
    }
    if (a->lr_steps) {
        if (lp_lr_parse_steps(a->lr_steps, &c->lr) != LP_OK) {
            fprintf(stderr, "laperm train: %s\n", lp_last_error());
            return 2;
        }
    } else if (lr_decay != 1.0) {
        c->lr.kind = LP_LR_EXPONENTIAL;
        c->lr.decay = lr_decay;
    }
    static const char *const default_dirs[] = {"data/mnist", "/usr/share/datasets/fashion-mnist",
                                               "data/cifar10"};
    if (!a->data) a->data = default_dirs[a->dataset];
    a->dataset_name = datasets[a->dataset];
    return 0;
}

static void default_out_(const train_args_ *a, char *buf, size_t n) {
    const char *base = strrchr(a->model, '/');
    base = base ? base + 1 : a->model;
    size_t len = strcspn(base, ".");
    const char *opt = a->cfg.laperm ? "laperm" : (a->cfg.inner == LP_OPT_ADAM ? "adam" : "sgd");
    snprintf(buf, n, "results/%.*s-%s.h5", (int)len, base, opt);
}

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
    for (int i = 0; i < n; ++i) total += e[i].total_ms;
    printf("\ndevice time per kernel (OpenCL profiling events):\n");
    printf("  %-26s %10s %8s %10s %6s\n", "kernel", "total ms", "calls", "us/call", "share");
    for (int i = 0; i < n; ++i)
        printf("  %-26s %10.1f %8ld %10.1f %5.1f%%\n", e[i].label, e[i].total_ms, e[i].launches,
               1000.0 * e[i].total_ms / (double)e[i].launches,
               total > 0 ? 100.0 * e[i].total_ms / total : 0.0);
    printf("  %-26s %10.1f\n", "total", total);
}

int cli_train(int argc, char **argv) {
    train_args_ a = {0};
    lp_train_config_defaults(&a.cfg);
    a.progress = "auto";
    int rc = parse_(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;

    char cmdline[2048] = "laperm";
    for (int i = 0; i < argc; ++i) {
        size_t len = strlen(cmdline);
        snprintf(cmdline + len, sizeof cmdline - len, " %s", argv[i]);
    }
    a.cfg.command_line = cmdline;
    a.cfg.dataset = a.dataset_name;
    a.cfg.data_dir = a.data;
    char out_default[1024];
    if (!a.no_out) {
        if (!a.out) default_out_(&a, out_default, sizeof out_default);
        a.cfg.out_path = a.out ? a.out : out_default;
    }

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    lp_model_spec model;
    if (lp_model_load(a.model, &model) != LP_OK) return fail_("");
    lp_dataset train = {0}, test = {0}, sub;
    if (lp_dataset_load(a.dataset_name, a.data, "train", &train) != LP_OK ||
        lp_dataset_load(a.dataset_name, a.data, "test", &test) != LP_OK) {
        lp_model_free(&model);
        lp_dataset_free(&train);
        return fail_("");
    }
    if (a.train_subset && a.train_subset < train.n) {
        if (lp_dataset_subset(&train, 0, (int)a.train_subset, &sub) != LP_OK) return fail_("");
        lp_dataset_free(&train);
        train = sub;
    }
    if (a.test_subset && a.test_subset < test.n) {
        if (lp_dataset_subset(&test, 0, (int)a.test_subset, &sub) != LP_OK) return fail_("");
        lp_dataset_free(&test);
        test = sub;
    }

    lp_runtime *rt;
    lp_runtime_options ro = {.device = a.device, .profiling = a.profile};
    if (lp_runtime_create(&ro, &rt) != LP_OK) {
        lp_model_free(&model);
        lp_dataset_free(&train);
        lp_dataset_free(&test);
        return fail_("");
    }
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
        printf("LaPerm k=%d over %s", a.cfg.k, a.cfg.inner == LP_OPT_ADAM ? "Adam" : "SGD");
    else printf("%s", a.cfg.inner == LP_OPT_ADAM ? "Adam" : "SGD");
    printf(", batch %d, lr %g, %d epochs, seed %llu\n", a.cfg.batch, a.cfg.lr.base, a.cfg.epochs,
           (unsigned long long)a.cfg.seed);
    fflush(stdout);

    signal(SIGINT, on_signal_);
    signal(SIGTERM, on_signal_);
    a.cfg.stop = &stop_requested_;
    lp_train_callbacks cb = cli_progress_callbacks(&prog);
    cb.on_note = on_note_;
    lp_train_result r;
    struct timespec t_train;
    clock_gettime(CLOCK_MONOTONIC, &t_train);
    lp_status s = lp_train(rt, &model, &train, &test, &a.cfg, &cb, &r);
    if (s == LP_OK) {
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
        double before_train = (double)(t_train.tv_sec - t0.tv_sec) + (t_train.tv_nsec - t0.tv_nsec) * 1e-9;
        printf("start-up: %.2f s from process start to the first completed step (kernels: %d "
               "compiled, %d from the disk cache, %.2f s)\n",
               before_train + r.first_step_seconds, bs.compiled, bs.from_disk, bs.build_seconds);
        if (a.cfg.out_path) printf("results: %s\n", a.cfg.out_path);
        if (a.profile) print_profile_(rt);
    }
    lp_runtime_destroy(rt);
    lp_model_free(&model);
    lp_dataset_free(&train);
    lp_dataset_free(&test);
    if (s != LP_OK) return fail_("");
    return r.interrupted ? 130 : 0;
}
