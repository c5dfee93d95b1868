/* laperm train: load model and data, train on the chosen device, write HDF5 results. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "laperm/clock.h"
#include "laperm/data.h"
#include "laperm/gemm.h"
#include "laperm/model.h"
#include "laperm/runtime.h"
#include "laperm/train.h"
#include "model_path.h"
#include "progress.h"
#include "quiet.h"
#include "train_json.h"
#include "train_mpi.h"
#include "train_options.h"
#include "train_resume.h"

static volatile sig_atomic_t stop_requested_ = 0;

static void on_signal_(int sig) {
    stop_requested_ = 1;
    signal(sig, SIG_DFL); /* a second Ctrl-C kills at once */
}

static void default_out_(const cli_train_args *a, char *buf, size_t n) {
    const char *base = strrchr(a->model, '/');
    base = base ? base + 1 : a->model;
    size_t len = strcspn(base, ".");
    snprintf(buf, n, "results/%.*s-%s.h5", (int)len, base, lp_train_optimizer_name(&a->cfg));
}

/* Exit status of a run stopped by its divergence guard (README, "Command line"). */
#define LP_EXIT_DIVERGED 3

/* Under MPI, the rank that prints (laperm/dist.h); NULL: one process. */
static const lp_dist *dist_;

static int fail_(const char *what) {
    fprintf(stderr, "%s: %s%s\n", cli_mpi_who(dist_), what, lp_last_error());
    return 1;
}

/* Set-up lines from the library: each [conv2d]'s path, and warnings. */
static void on_note_(void *ctx, bool warning, const char *line) {
    (void)ctx;
    if (warning) {
        fprintf(stderr, "%s: warning: %s\n", cli_mpi_who(dist_), line);
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
static int reparse_recorded_(const char *recorded, int argc, char **argv, cli_train_args *a,
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
    cli_train_args fresh = {0};
    lp_train_config_defaults(&fresh.cfg);
    fresh.progress = "auto";
    int rc = cli_train_parse(n, args, &fresh);
    if (rc) return rc < 0 ? 0 : rc;
    *a = fresh;
    return 0;
}

/* Environment variables that steer the choices, recorded as env_<NAME> attributes. */
static const char *const steering_env_[] = {
    "LAPERM_DEVICE",         "LAPERM_GEMM",        "LAPERM_CACHE",
    "LAPERM_CACHE_DIR",      "LAPERM_KERNEL_DIR",  "LAPERM_KERNEL_FORM",
    "LAPERM_CONV_COL_BYTES", "LAPERM_TUNE_BUDGET", "LAPERM_WINOGRAD_TILE"};
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

static int train_(int argc, char **argv, lp_dist *dist) {
    cli_train_args a = {0};
    lp_train_config_defaults(&a.cfg);
    a.progress = "auto";
    int rc = cli_train_parse(argc, argv, &a);
    if (rc) return rc < 0 ? 0 : rc;
    if (a.verbose) cli_quiet_off();
    /* --json: stdout is the JSON alone; what would go there goes to stderr */
    int json_fd = -1;
    if (a.json) {
        fflush(stdout);
        json_fd = dup(STDOUT_FILENO);
        if (json_fd < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
            fprintf(stderr, "laperm train: --json: cannot redirect stdout: %s\n", strerror(errno));
            return 1;
        }
        /* the bar, now on stderr, where the terminal is (the JSON goes to a pipe or file) */
        if (!strcmp(a.progress, "auto") && cli_quiet_stderr_isatty()) a.progress = "bar";
    }

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
    char model_path[4096];
    if ((rc = cli_model_path("train", a.model, model_path, sizeof model_path))) goto done_early;
    a.model = model_path;
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
    /* Under MPI rank 0 writes the results file, the others nothing. */
    if (!a.no_out && lp_dist_rank(dist) == 0) {
        if (!a.out) default_out_(&a, out_default, sizeof out_default);
        a.cfg.out_path = a.out ? a.out : out_default;
        if ((rc = check_out_(a.cfg.out_path))) goto done_early;
    }
    a.cfg.dist = dist;
    if (lp_dist_rank(dist) > 0) a.progress = "none";
    char device[512];
    if ((rc = cli_mpi_device(a.device, dist, device, sizeof device))) goto done_early;
    if (device[0]) a.device = device;
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
    /* --loss, else the model file's `loss`, else the table's first */
    if (!a.loss_given && lp_model_loss_name(&model))
        a.cfg.loss = lp_loss_find(lp_model_loss_name(&model));
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

    lp_runtime_options ro = {.device = a.device, .profiling = a.profile, .bits = a.bits};
    if (lp_runtime_create(&ro, &rt) != LP_OK) goto done;
    lp_gemm_mode gemm_mode;
    if (a.gemm && lp_gemm_mode_parse(a.gemm, &gemm_mode)) lp_gemm_set_mode(rt, gemm_mode);
    const lp_device_info *dev = lp_runtime_device(rt);
    cli_progress prog;
    cli_progress_init(&prog, a.progress);
    prog.laperm = a.cfg.laperm;
    prog.regression = train.outputs > 0;
    size_t params = lp_model_param_count(&model);
    printf("laperm %s: %s (%zu parameters) on %s [%d:%d, %s]\n", LAPERM_VERSION, a.model, params,
           dev->device_name, dev->platform_index, dev->device_index, dev->platform_name);
    printf("data %s: %d train, %d test %s; ", a.data, train.n, test.n,
           train.outputs > 0 ? "samples" : "images");
    if (a.cfg.laperm) {
        printf("LaPerm k=%d", a.cfg.k);
        if (a.cfg.k_steps.n) {
            char k_steps[LP_MAX_K_STEPS * 24]; /* "EPOCH:K," each at most 19 */
            lp_k_steps_text(&a.cfg.k_steps, k_steps, sizeof k_steps);
            printf(" (k-steps %s)", k_steps);
        }
        printf(" over ");
    }
    if (a.cfg.lookahead) printf("Lookahead k=%d alpha=%g over ", a.cfg.la_k, a.cfg.la_alpha);
    printf("%s", a.cfg.inner->title);
    if (a.cfg.weight_decay > 0) printf(", weight decay %g", a.cfg.weight_decay);
    printf(", batch %d, lr %g, %d epochs, seed %llu\n", a.cfg.batch, a.cfg.lr.base, a.cfg.epochs,
           (unsigned long long)a.cfg.seed);
    if (dist)
        printf("MPI: %d ranks, each on its own device and a share of each batch of %d (at most "
               "%d rows), gradients summed in rank order\n",
               lp_dist_size(dist), a.cfg.batch,
               (a.cfg.batch + lp_dist_size(dist) - 1) / lp_dist_size(dist));
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
    const char *json_status = NULL; /* set when the run ended with a summary */
    double startup = 0;
    lp_build_stats cache = lp_runtime_build_stats(rt);
    if (cache.disk_rejected)
        fprintf(stderr, "laperm train: warning: %d program cache entr%s refused; the last: %s\n",
                cache.disk_rejected, cache.disk_rejected == 1 ? "y" : "ies", cache.disk_note);
    if (s == LP_OK && r.diverged) {
        fprintf(stderr,
                "laperm train: diverged: a non-finite value at step %lld: %s; the results file "
                "keeps the last good checkpoint (status diverged)\n",
                r.diverged_step, r.diverged_what);
        if (a.cfg.out_path) fprintf(stderr, "results: %s\n", a.cfg.out_path);
        rc = LP_EXIT_DIVERGED;
        json_status = "diverged";
    } else if (s == LP_OK) {
        lp_build_stats bs = lp_runtime_build_stats(rt);
        printf("%s after %d epoch(s), %lld steps, %lld syncs: %.0f images/s\n",
               r.interrupted ? "interrupted" : "done", r.epochs_done, r.steps, r.syncs,
               r.images_per_second);
        if (r.best_step && train.outputs > 0)
            printf("best test mse %.4g (step %lld, epoch %d), final mse %.4g, mae %.4g%s\n",
                   r.best_test_loss, r.best_step, r.best_epoch, r.final_test_loss, r.final_test_mae,
                   a.cfg.laperm ? " (permuted network)" : "");
        else if (r.best_step)
            printf("best test accuracy %.2f%% (step %lld, epoch %d), final %.2f%%%s\n",
                   100.0 * r.best_test_accuracy, r.best_step, r.best_epoch,
                   100.0 * r.final_test_accuracy, a.cfg.laperm ? " (permuted network)" : "");
        if (a.cfg.laperm && train.outputs == 0 && r.best_step)
            printf("best unsynced test accuracy %.2f%% (the inner optimizer's weights, not a "
                   "permutation)\n",
                   100.0 * r.best_unsynced_accuracy);
        double before_train = t_train - t0;
        if (r.first_step_seconds > 0)
            printf("start-up: %.2f s from process start to the first completed step (kernels: %d "
                   "compiled, %d from the disk cache, %.2f s)\n",
                   before_train + r.first_step_seconds, bs.compiled, bs.from_disk,
                   bs.build_seconds);
        else
            printf("start-up: no step completed (kernels: %d compiled, %d from the disk cache, "
                   "%.2f s)\n",
                   bs.compiled, bs.from_disk, bs.build_seconds);
        if (a.cfg.out_path) printf("results: %s\n", a.cfg.out_path);
        if (a.profile) print_profile_(rt);
        rc = r.interrupted ? 130 : 0;
        json_status = r.interrupted ? "interrupted" : "done";
        startup = before_train + r.first_step_seconds;
    }
    if (json_status && json_fd >= 0) {
        FILE *jf = fdopen(json_fd, "w");
        if (jf) {
            cli_train_json(jf, &a, &r, dev, json_status, train.outputs > 0, lp_seconds() - t0,
                           startup);
            fclose(jf);
            json_fd = -1;
        }
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
    if (json_fd >= 0) close(json_fd);
    cli_resume_free(&plan);
    free(recorded_storage);
    free(recorded_args);
    free(joined);
    return rc;
}

int cli_train(int argc, char **argv) {
    lp_dist *dist = NULL;
    int rc = cli_mpi_start(&dist);
    if (rc) return rc;
    dist_ = dist;
    return cli_mpi_end(dist, train_(argc, argv, dist));
}
