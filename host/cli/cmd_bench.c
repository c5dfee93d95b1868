/* laperm bench: the device's peak, matrix products (1024^3 and each model's training
 * shapes), forward/backward passes with their per-kernel and per-layer split, peak device
 * memory of a training step, segmented sort and one LaPerm sync, printed as tables and
 * optionally written to HDF5. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "laperm/bench.h"
#include "laperm/bench_h5.h"
#include "laperm/gemm.h"
#include "model_path.h"
#include "quiet.h"

#define C "bench"

/* --only's sections, in the order they run; want[] follows it. */
enum { S_PEAK_, S_GEMM_, S_LAYERS_, S_MEMORY_, S_SORT_, S_SYNC_, N_SECTIONS_ };
static const char *const sections_[] = {"peak", "gemm", "layers", "memory", "sort", "sync", NULL};

typedef struct {
    const char *device, *out, *models, *sort_sizes;
    bool want[N_SECTIONS_];
    long long gemm_size;
    double min_time;
    bool markdown, fast;
    lp_conv_algo conv_algo;
} bench_args_;

static void usage_(FILE *f) {
    fprintf(f, "usage: laperm bench [options]\n\n"
               "Measures the device: FMA peak and memory bandwidth, SGEMM at N^3 and at each\n"
               "model's training shapes (CLBlast, laperm's tiled kernels and the automatic\n"
               "choice), a forward+backward pass with device time per kernel and, per conv and\n"
               "dense layer, the device time, GFLOP/s and share of the FMA peak of its forward\n"
               "pass, input gradient and kernel gradient (FLOPs: 2 x the multiply-adds of the\n"
               "direct convolution, whatever path ran), the peak device memory of a training\n"
               "step, segmented argsort at the models' LaPerm group sizes and for single groups\n"
               "of 1M and 16M keys, and one LaPerm sync. Every figure is timed on the device\n"
               "after a warm-up.\n\n"
               "  --device D       P:D index or name substring (default: $LAPERM_DEVICE, a GPU,\n"
               "                   else a CPU)\n"
               "  --only LIST      some of peak,gemm,layers,memory,sort,sync (default: all;\n"
               "                   layers measures the peak too, for its shares)\n"
               "  --models LIST    MODEL:BATCH,... (default lenet300:128,conv7:50,conv4:50;\n"
               "                   MODEL is a file or a name, as laperm train --model)\n"
               "  --gemm-size N    square SGEMM size (default 1024; 0: skip)\n"
               "  --sort-sizes L   single-group argsorts, keys each (default 1048576,16777216)\n"
               "  --min-time S     seconds each measurement repeats for (default 0.2)\n"
               "  --gemm MODE      auto | clblast | tiled: what the models' passes use\n"
               "  --conv-algo A    auto | gemm | direct | winograd | fft: the conv layers' path,\n"
               "                   as laperm train --conv-algo (default auto)\n"
               "  --fast           conv paths and matrix products chosen by timing, as laperm\n"
               "                   train --fast (default: by the rule, as laperm train)\n"
               "  --markdown       print the tables as markdown\n"
               "  --out FILE.h5    also write the tables to HDF5 (datasets /bench, /layers,\n"
               "                   /memory)\n"
               "  --verbose        show the OpenCL compiler's own output (PoCL's \"N warnings\n"
               "                   generated.\")\n");
}

static bool parse_only_(const char *list, bool *want) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    memset(want, 0, N_SECTIONS_ * sizeof *want);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int i = arg_choice(C, "--only", tok, sections_);
        if (i < 0) return false;
        want[i] = true;
    }
    return true;
}

/* One entry of --models, NAME[:BATCH] (tok is cut at the colon): its file into path and
 * its batch (128 if not given). False, with the reason printed, if either is wrong. */
static bool model_entry_(char *tok, char *path, size_t cap, int *batch) {
    char *colon = strchr(tok, ':');
    *batch = 128;
    if (colon) {
        *colon = 0;
        char *end;
        long b = strtol(colon + 1, &end, 10);
        if (*end || end == colon + 1 || b < 1 || b > 1000000) {
            fprintf(stderr,
                    "laperm %s: --models: '%s' needs a batch from 1 to 1000000 after its "
                    "colon, got '%s'\n",
                    C, tok, colon + 1);
            return false;
        }
        *batch = (int)b;
    }
    return cli_model_path(C, tok, path, cap) == 0;
}

/* Every entry of --models is checked before a device is opened. */
static bool models_ok_(const char *models) {
    char list[512], path[4096];
    snprintf(list, sizeof list, "%s", models);
    char *save = NULL;
    int batch;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (!model_entry_(tok, path, sizeof path, &batch)) return false;
    return true;
}

static int parse_(int argc, char **argv, bench_args_ *a, lp_gemm_mode *mode, bool *mode_set) {
    *a = (bench_args_){.models = "lenet300:128,conv7:50,conv4:50",
                       .sort_sizes = "1048576,16777216",
                       .gemm_size = 1024,
                       .min_time = 0.2};
    for (int i = 0; i < N_SECTIONS_; ++i)
        a->want[i] = true;
    static const cli_flag flags[] = {
        {"--device", "D"},     {"--only", "LIST"},  {"--models", "LIST"}, {"--gemm-size", "N"},
        {"--sort-sizes", "L"}, {"--min-time", "S"}, {"--gemm", "MODE"},   {"--markdown", ""},
        {"--out", "FILE.h5"},  {"--verbose", ""},   {"--fast", ""},       {"--conv-algo", "A"}};
    cli_args it = {.cmd = C,
                   .flags = flags,
                   .n_flags = (int)(sizeof flags / sizeof *flags),
                   .argc = argc,
                   .i = 1,
                   .argv = argv};
    const cli_flag *flag;
    const char *v;
    for (cli_arg kind; (kind = cli_args_next(&it, &flag, &v)) != CLI_ARG_END;) {
        if (kind == CLI_ARG_HELP) {
            usage_(stdout);
            return 0;
        }
        if (kind == CLI_ARG_POSITIONAL)
            fprintf(stderr, "laperm %s: unexpected argument '%s' (see laperm bench --help)\n", C,
                    v);
        if (kind != CLI_ARG_FLAG) return 2;
        const char *o = flag->name;
        if (!strcmp(o, "--markdown")) {
            a->markdown = true;
            continue;
        }
        if (!strcmp(o, "--fast")) {
            a->fast = true;
            continue;
        }
        if (!strcmp(o, "--verbose")) {
            cli_quiet_off();
            continue;
        }
        bool ok = true;
        if (!strcmp(o, "--device"))
            a->device = v;
        else if (!strcmp(o, "--out"))
            a->out = v;
        else if (!strcmp(o, "--models"))
            a->models = v;
        else if (!strcmp(o, "--sort-sizes"))
            a->sort_sizes = v;
        else if (!strcmp(o, "--only"))
            ok = parse_only_(v, a->want);
        else if (!strcmp(o, "--gemm-size"))
            ok = arg_int(C, o, v, 0, 16384, &a->gemm_size);
        else if (!strcmp(o, "--min-time"))
            ok = arg_double(C, o, v, 0.0, 60.0, &a->min_time);
        else if (!strcmp(o, "--conv-algo")) {
            const char *algos[LP_CONV_ALGO_COUNT + 1] = {NULL};
            for (int i = 0; i < LP_CONV_ALGO_COUNT; ++i)
                algos[i] = lp_conv_algo_name((lp_conv_algo)i);
            int ch = arg_choice(C, o, v, algos);
            ok = ch >= 0;
            if (ok) a->conv_algo = (lp_conv_algo)ch;
        } else if (!strcmp(o, "--gemm")) {
            ok = lp_gemm_mode_parse(v, mode);
            if (!ok)
                fprintf(stderr, "laperm %s: --gemm: expected auto, clblast or tiled, got '%s'\n", C,
                        v);
            *mode_set = true;
        }
        if (!ok) return 2;
    }
    return models_ok_(a->models) ? -1 : 2;
}

/* Runs the sections asked for; stops at the first failure (its message is in
 * lp_last_error). */
static lp_status run_(lp_runtime *rt, const lp_runtime_options *opt, const bench_args_ *a,
                      lp_bench_table *t) {
    if (a->want[S_PEAK_] || a->want[S_LAYERS_]) LP_TRY(lp_bench_peak(rt, t));
    if (a->want[S_GEMM_] && a->gemm_size > 0)
        LP_TRY(lp_bench_gemm_square(rt, (size_t)a->gemm_size, t));
    char list[512];
    snprintf(list, sizeof list, "%s", a->models);
    char *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char path[4096];
        int batch;
        if (!model_entry_(tok, path, sizeof path, &batch)) /* checked by parse_ already */
            return lp_fail(LP_ERR_INVALID_ARG, "--models: '%s' (see above)", tok);
        unsigned what = (a->want[S_GEMM_] ? LP_BENCH_MODEL_GEMM : 0) |
                        (a->want[S_LAYERS_] ? LP_BENCH_MODEL_LAYERS : 0);
        if (what) LP_TRY(lp_bench_model(rt, path, batch, what, t));
        if (a->want[S_MEMORY_]) LP_TRY(lp_bench_memory(opt, path, batch, t));
        if (a->want[S_SORT_]) LP_TRY(lp_bench_sort_model(rt, path, t));
        if (a->want[S_SYNC_]) LP_TRY(lp_bench_sync(rt, path, t));
    }
    snprintf(list, sizeof list, "%s", a->want[S_SORT_] ? a->sort_sizes : "");
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        long n = strtol(tok, &end, 10);
        if (*end || n < 1 || n > (1L << 30))
            return lp_fail(LP_ERR_INVALID_ARG,
                           "--sort-sizes: expected key counts from 1 to 2^30, got '%s'", tok);
        char name[48];
        snprintf(name, sizeof name, "one group of %ld", n);
        LP_TRY(lp_bench_sort(rt, name, 1, (int)n, t));
    }
    return LP_OK;
}

static void print_(const lp_bench_table *t, bool markdown) {
    if (markdown) {
        printf("| section | what | detail | value | unit | of peak |\n|---|---|---|---|---|---|\n");
        for (int i = 0; i < t->n; ++i) {
            const lp_bench_row *r = &t->rows[i];
            printf("| %s | %s | %s | %.4g | %s | ", r->section, r->name, r->detail, r->value,
                   r->unit);
            if (r->of_peak > 0)
                printf("%.1f%% |\n", 100 * r->of_peak);
            else
                printf(" |\n");
        }
        return;
    }
    printf("%-7s %-40s %-44s %12s %-9s %8s\n", "section", "what", "detail", "value", "unit",
           "of peak");
    for (int i = 0; i < t->n; ++i) {
        const lp_bench_row *r = &t->rows[i];
        printf("%-7s %-40s %-44s %12.4g %-9s", r->section, r->name, r->detail, r->value, r->unit);
        if (r->of_peak > 0) printf(" %7.1f%%", 100 * r->of_peak);
        printf("\n");
    }
}

/* One pass's cells: ms, GFLOP/s, share of the peak ("-" for a pass not run). */
static void pass_cells_(const lp_bench_layer *l, int p, double peak, bool markdown) {
    double s = l->seconds[p], f = l->flops[p];
    if (f <= 0 || s <= 0) {
        /* not run; or an input gradient that took no measurable time beyond the kernel
         * gradient's (a difference of two measurements: noise on a busy machine) */
        const char *t = f <= 0 ? "-" : "0";
        printf(markdown ? " %s | - | - |" : " %8s %8s %6s", t, "-", "-");
        return;
    }
    double gf = f / s * 1e-9;
    if (markdown) {
        printf(" %.3f | %.1f |", s * 1e3, gf);
        if (peak > 0)
            printf(" %.1f%% |", 100 * gf / peak);
        else
            printf(" |");
        return;
    }
    printf(" %8.3f %8.1f", s * 1e3, gf);
    if (peak > 0)
        printf(" %5.1f%%", 100 * gf / peak);
    else
        printf(" %6s", "");
}

static void print_layers_(const lp_bench_table *t, bool markdown) {
    if (!t->n_layers) return;
    printf("\nper layer: device time of each pass at the model's batch, nominal FLOPs (2 x the\n"
           "multiply-adds of the direct convolution, whatever path ran: Winograd or FFT may show\n"
           "over 100%%), share of the FMA peak (%.1f GFLOP/s)\n",
           t->peak_gflops);
    if (markdown)
        printf("| model | layer | path | shape | MFLOP a pass | forward ms | GFLOP/s | of peak | "
               "input grad ms | GFLOP/s | of peak | kernel grad ms | GFLOP/s | of peak |\n"
               "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    else
        printf("%-9s %-12s %-8s %-30s %8s %8s %8s %6s %8s %8s %6s %8s %8s %6s\n", "model", "layer",
               "path", "shape", "MFLOP", "fwd ms", "GFLOP/s", "peak", "dx ms", "GFLOP/s", "peak",
               "dW ms", "GFLOP/s", "peak");
    for (int i = 0; i < t->n_layers; ++i) {
        const lp_bench_layer *l = &t->layers[i];
        double mflop = l->flops[LP_BENCH_FORWARD] * 1e-6;
        if (markdown)
            printf("| %s | %s | %s | %s | %.1f |", l->model, l->layer, l->path, l->shape, mflop);
        else
            printf("%-9s %-12s %-8s %-30s %8.1f", l->model, l->layer, l->path, l->shape, mflop);
        for (int p = 0; p < LP_BENCH_PASSES; ++p)
            pass_cells_(l, p, t->peak_gflops, markdown);
        printf("\n");
    }
}

static void print_memory_(const lp_bench_table *t, bool markdown) {
    if (!t->n_memory) return;
    const double mib = 1.0 / (1 << 20);
    printf("\npeak device memory of a training step (forward, backward, Adam), MiB\n");
    if (markdown)
        printf("| model | batch | peak | parameters + gradients | Adam | activations + gradients "
               "| workspaces, layer state | memory plan's estimate |\n"
               "|---|---|---|---|---|---|---|---|\n");
    else
        printf("%-9s %6s %10s %12s %10s %12s %12s %10s\n", "model", "batch", "peak", "param+grad",
               "Adam", "activations", "other", "planned");
    for (int i = 0; i < t->n_memory; ++i) {
        const lp_bench_memory_row *m = &t->memory[i];
        printf(markdown ? "| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n"
                        : "%-9s %6d %10.2f %12.2f %10.2f %12.2f %12.2f %10.2f\n",
               m->model, m->batch, m->total * mib, m->parameters * mib, m->optimizer * mib,
               m->activations * mib, m->other * mib, m->planned * mib);
        if (m->untracked)
            printf("(%s: %ld buffers' release could not be followed: counted as never freed)\n",
                   m->model, m->untracked);
    }
}

int cli_bench(int argc, char **argv) {
    bench_args_ a;
    lp_gemm_mode mode = LP_GEMM_AUTO;
    bool mode_set = false;
    int rc = parse_(argc, argv, &a, &mode, &mode_set);
    if (rc >= 0) return rc;
    lp_runtime_options opt = {.device = a.device, .profiling = true};
    lp_runtime *rt = NULL;
    if (lp_runtime_create(&opt, &rt) != LP_OK) {
        fprintf(stderr, "laperm %s: %s\n", C, lp_last_error());
        return 1;
    }
    if (mode_set) lp_gemm_set_mode(rt, mode);
    const lp_device_info *d = lp_runtime_device(rt);
    char device[300];
    snprintf(device, sizeof device, "%s [%d:%d, %s]", d->device_name, d->platform_index,
             d->device_index, d->platform_name);
    printf("laperm bench on %s\n", device);
    lp_bench_table t = {.min_seconds = a.min_time,
                        .fast = a.fast,
                        .gemm_mode_set = mode_set,
                        .gemm_mode = mode,
                        .conv_algo = a.conv_algo};
    lp_status st = run_(rt, &opt, &a, &t);
    print_(&t, a.markdown);
    print_layers_(&t, a.markdown);
    print_memory_(&t, a.markdown);
    if (st != LP_OK) fprintf(stderr, "laperm %s: %s\n", C, lp_last_error());
    if (st == LP_OK && a.out) {
        char cmd[1024] = "laperm";
        for (int i = 0; i < argc; ++i)
            strncat(cmd, " ", sizeof cmd - strlen(cmd) - 1),
                strncat(cmd, argv[i], sizeof cmd - strlen(cmd) - 1);
        st = lp_bench_write_h5(&t, device, cmd, a.out);
        if (st != LP_OK)
            fprintf(stderr, "laperm %s: %s\n", C, lp_last_error());
        else
            printf("wrote %s\n", a.out);
    }
    lp_bench_table_free(&t);
    lp_runtime_destroy(rt);
    return st == LP_OK ? 0 : 1;
}
