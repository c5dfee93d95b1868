/* The command-line program on bad input: each case must exit non-zero with a message
 * that names the option, file or line and what was expected. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lp_test.h"

/* Runs `laperm ARGS`, then `then` (shell text: "" or "2>/dev/null | ..."), in folder dir;
 * returns the exit status, the output into *out (free it). */
static int run_(const char *dir, const char *args, const char *then, char **out) {
    char cmd[8192];
    const char *bin = getenv("LAPERM_BINARY");
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s %s", dir, bin ? bin : "laperm", args, then);
    return lp_test_run_command(cmd, out);
}

/* Runs `laperm ARGS` in folder dir and checks the exit status and that the output
 * contains `want`. */
static void expect_in_(const char *dir, const char *args, int want_status, const char *want) {
    char *out = NULL;
    int st = run_(dir, args, "", &out);
    bool ok = st == want_status && out && strstr(out, want);
    if (!ok)
        printf("\n  laperm %s\n  exit %d (want %d), output:\n%s\n  (wanted to contain: %s)\n", args,
               st, want_status, out ? out : "(none)", want);
    CU_ASSERT(ok);
    free(out);
}

/* The same, run in the source tree. */
static void expect_(const char *args, int want_status, const char *want) {
    expect_in_(lp_test_source_path(""), args, want_status, want);
}

static void test_usage_errors(void) {
    expect_("", 2, "usage: laperm COMMAND");
    expect_("frobnicate", 2,
            "laperm: unknown command 'frobnicate' (expected bench, check, devices, eval, export, "
            "pack, predict, summary, train, unpack, version)");
    expect_("pack", 2, "laperm pack: missing RESULTS.h5");
    expect_("unpack x.lpk", 2, "laperm unpack: missing -o WEIGHTS.h5");
    expect_("train", 2, "laperm train: --model FILE is required");
    expect_("train --model models/logreg.ini --bogus", 2,
            "laperm train: unknown option '--bogus' (see laperm train --help)");
    expect_("train --model models/logreg.ini --k", 2, "laperm train: --k needs a value");
    expect_("train --model models/logreg.ini --k abc", 2,
            "laperm train: --k: expected an integer from 1 to 1000000000, got 'abc'");
    expect_("train --model models/logreg.ini --k 0", 2,
            "laperm train: --k: expected an integer from 1 to 1000000000, got '0'");
    expect_("train --model models/logreg.ini --lr -1", 2,
            "laperm train: --lr: expected a number from 1e-12 to 1e+06, got '-1'");
    expect_(
        "train --model models/logreg.ini --optimizer rmsprop", 2,
        "laperm train: --optimizer: expected one of laperm, lookahead, adam, sgd; got 'rmsprop'");
    expect_("train --model models/logreg.ini --conv-algo bogus", 2,
            "laperm train: --conv-algo: expected one of auto, gemm, fft, direct, winograd; got "
            "'bogus'");
    expect_("train --model models/logreg.ini --gemm cublas", 2,
            "laperm train: --gemm: expected one of auto, clblast, tiled; got 'cublas'");
    expect_("train --model models/logreg.ini --lr-steps 10:x", 2,
            "laperm train: --lr-steps '10:x': factor after '10:' must be a positive number");
    expect_("train --model models/logreg.ini --lr-steps 20:0.1,10:0.01", 2,
            "--lr-steps '20:0.1,10:0.01': epochs must be ascending");
    expect_("train --model models/logreg.ini --k-steps 20:5,10:50", 2,
            "laperm train: --k-steps '20:5,10:50': epochs must be ascending");
    expect_("train --model models/logreg.ini --k-steps 0:0", 2,
            "laperm train: --k-steps '0:0': K after '0:' must be a whole number from 1 to "
            "1000000000");
    expect_("train --model models/logreg.ini --k-steps 0:-3", 2,
            "laperm train: --k-steps '0:-3': K after '0:' must be a whole number");
    expect_("train --model models/logreg.ini --k-steps 0:20,x", 2,
            "laperm train: --k-steps '0:20,x': expected EPOCH:K[,EPOCH:K...] with 0-based "
            "epochs, e.g. 0:20,10:100,20:400");
    expect_("train --model models/logreg.ini --k-steps 0:20,", 2,
            "laperm train: --k-steps '0:20,': ends with a comma");
    expect_("train --model models/logreg.ini --k-steps ''", 2,
            "laperm train: --k-steps: empty list");
    expect_("train --model models/logreg.ini --optimizer adam --k-steps 0:20", 2,
            "laperm train: --k-steps is LaPerm's sync schedule; --optimizer adam does not sync");
    expect_("train --model models/logreg.ini --optimizer sgd --lookahead", 2,
            "laperm train: --lookahead puts Lookahead under LaPerm; for Lookahead alone give "
            "--optimizer lookahead --inner NAME");
    expect_("train --model models/logreg.ini --la-alpha 0.3", 2,
            "laperm train: --la-alpha tunes Lookahead, which is off: add --lookahead (under "
            "LaPerm) or give --optimizer lookahead");
    expect_("train --model models/logreg.ini --lookahead --la-alpha 0", 2,
            "laperm train: --la-alpha: expected a number in (0, 1], got '0'");
    expect_("train --model models/logreg.ini --optimizer lookahead --la-k 0", 2,
            "laperm train: --la-k: expected an integer from 1 to 1000000000, got '0'");
    expect_("train --model models/logreg.ini --weight-decay -0.1", 2,
            "laperm train: --weight-decay: expected a number from 0 to 1e+06, got '-0.1'");
    /* the initial-weight flags: values, then combinations */
    expect_("train --model models/logreg.ini --keep 0", 2,
            "laperm train: --keep: expected a fraction > 0 and <= 1, got '0'");
    expect_("train --model models/logreg.ini --keep 1.5", 2,
            "laperm train: --keep: expected a number from 0 to 1, got '1.5'");
    expect_("train --model models/logreg.ini --keep-first x", 2,
            "laperm train: --keep-first: expected a number from 0 to 1, got 'x'");
    expect_("train --model models/logreg.ini --quantize 1", 2,
            "laperm train: --quantize: expected an integer from 2 to 16777216, got '1'");
    expect_("train --model models/logreg.ini --init uniform", 2,
            "laperm train: --init: expected one of he_uniform, he_normal, glorot_uniform, "
            "glorot_normal, constant, choice, got 'uniform'");
    expect_("train --model models/logreg.ini --init choice --init-values 1,,2", 2,
            "laperm train: --init-values: item 2 is '': expected a comma-separated list");
    expect_("train --model models/logreg.ini --init constant", 2,
            "laperm train: --init constant needs --init-value V (a nonzero value)");
    expect_("train --model models/logreg.ini --init-value 0.08", 2,
            "laperm train: --init-value is for --init constant: give that too");
    expect_("train --model models/logreg.ini --init choice", 2,
            "laperm train: --init choice needs --init-values a,b,...");
    expect_("train --model models/logreg.ini --init-values 0,1 --init he_normal", 2,
            "laperm train: --init-values is for --init choice: give that too");
    expect_("train --model models/logreg.ini --init-from-shuffle", 2,
            "laperm train: --init-from-shuffle shuffles the weights --init-from FILE loads");
    expect_("train --model models/logreg.ini --init-from a.h5 --keep 0.5", 2,
            "laperm train: --init-from gives the initial values: --init, --init-value, "
            "--init-values, --quantize, --keep and --keep-first cannot be added");
    expect_("train --model models/logreg.ini --optimizer adam --keep 0.5", 2,
            "act on the kernels LaPerm permutes: with a plain --optimizer there are none");
    expect_("devices --xml", 2,
            "laperm devices: unknown option '--xml' (see laperm devices --help)");
    expect_("summary", 2, "laperm summary: missing MODEL");
    expect_("bench --only peak,bogus", 2,
            "laperm bench: --only: expected one of peak, gemm, layers, memory, sort, sync; got "
            "'bogus'");
    expect_("bench --gemm-size x", 2,
            "laperm bench: --gemm-size: expected an integer from 0 to 16384, got 'x'");
    expect_("bench --gemm fastest", 2, "laperm bench: --gemm: expected auto, clblast or tiled");
    expect_("bench --conv-algo im2col", 2,
            "laperm bench: --conv-algo: expected one of auto, gemm, fft, direct, winograd; got "
            "'im2col'");
    expect_("bench --min-time", 2, "laperm bench: --min-time needs a value");
    expect_("bench --frob 1", 2, "laperm bench: unknown option '--frob'");
    expect_("bench --only sort --models nosuch:4", 2, "nor a model named 'nosuch' in ./models");
    expect_("bench --only sort --models lenet300:4x", 2,
            "laperm bench: --models: 'lenet300' needs a batch from 1 to 1000000 after its colon, "
            "got '4x'");
}

/* A real, short benchmark: the table on stdout and an HDF5 file written whole. */
static void test_bench_runs(void) {
    char args[2048], path[1200];
    snprintf(path, sizeof path, "%s/bench.h5", lp_test_tmpdir());
    snprintf(args, sizeof args,
             "bench --only gemm,layers,memory,sort,sync --gemm-size 33 --models logreg:8 "
             "--sort-sizes 999 --min-time 0 --out '%s'",
             path);
    expect_(args, 0, "Mkeys/s");
    expect_(args, 0, "logreg    dense_1      gemm     784 > 10");
    expect_(args, 0, "logreg peak device memory");
    FILE *f = fopen(path, "rb");
    CU_ASSERT_PTR_NOT_NULL(f);
    if (f) {
        char magic[8] = {0};
        CU_ASSERT_EQUAL(fread(magic, 1, 8, f), 8);
        CU_ASSERT(memcmp(magic, "\x89HDF\r\n\x1a\n", 8) == 0);
        fclose(f);
    }
}

static void test_help_lists_defaults(void) {
    expect_("train --help", 0, "--k N                  LaPerm sync period in steps [default: 250]");
    expect_("train --help", 0, "--batch N              training batch size [default: 128]");
    expect_("devices --help", 0, "--json");
    expect_("summary --help", 0, "usage: laperm summary [--json] MODEL");
}

static void test_bad_files(void) {
    expect_("summary /nonexistent/model.ini", 1, "/nonexistent/model.ini");
    const char *bad =
        lp_test_write_tmp("bad.ini", "[input]\nchannels = 1\nheight = 28\nwidth = 28\n"
                                     "[flatten]\n[dense]\nunit = 10\n");
    char args[2048];
    snprintf(args, sizeof args, "summary %s", bad);
    expect_(args, 1, ":7: unknown key 'unit' in [dense]");
    snprintf(args, sizeof args, "train --model models/logreg.ini --data %s --no-out",
             lp_test_tmpdir());
    expect_(args, 1, "scripts/fetch-mnist");
    /* A truncated IDX file is named, with what was expected. */
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/trunc", lp_test_tmpdir());
    char mk[8192];
    snprintf(mk, sizeof mk,
             "mkdir -p %s && cp %s/*labels* %s/t10k-images-idx3-ubyte %s/ && head -c 1000 "
             "%s/train-images-idx3-ubyte > %s/train-images-idx3-ubyte",
             dir, lp_test_mnist_dir(), lp_test_mnist_dir(), dir, lp_test_mnist_dir(), dir);
    if (lp_test_run_command(mk, NULL) == 0) {
        snprintf(args, sizeof args, "train --model models/logreg.ini --data %s --no-out", dir);
        expect_(args, 1,
                "train-images-idx3-ubyte: expected 47040000 bytes of data after the "
                "16-byte header, found 984");
    } else {
        printf("\n  (no MNIST in %s: truncated-file case skipped)\n", lp_test_mnist_dir());
    }
}

static void test_unknown_device(void) {
    expect_("train --model models/logreg.ini --device no-such-device --no-out --epochs 1", 1,
            "no OpenCL device matches 'no-such-device' (give an index P:D or part of a name); "
            "devices present:");
}

static void test_summary_counts(void) {
    expect_("summary models/lenet300.ini", 0, "total params: 266,610");
    expect_("summary models/f2.ini", 0, "total params: 109,184");
    expect_("summary models/logreg.ini", 0, "total params: 7,840");
}

/* "did you mean" over every subcommand's table, and over the subcommands. */
static void test_did_you_mean(void) {
    expect_("trian", 2, "laperm: unknown command 'trian': did you mean train?");
    expect_("sumary x", 2, "did you mean summary?");
    expect_("train --model models/logreg.ini --epcohs 3", 2,
            "laperm train: unknown option '--epcohs': did you mean --epochs? (see laperm train "
            "--help)");
    expect_("train --model models/logreg.ini --lr-stesp 1:0.1", 2, "did you mean --lr-steps?");
    expect_("train --model models/logreg.ini -epochs 3", 2, "did you mean --epochs?");
    expect_("devices --jsno", 2, "laperm devices: unknown option '--jsno': did you mean --json?");
    expect_("summary --jason x", 2,
            "laperm summary: unknown option '--jason': did you mean --json?");
    expect_("bench --min-tiem 0", 2,
            "laperm bench: unknown option '--min-tiem': did you mean "
            "--min-time?");
    /* pack and unpack walk their flags as the others do; --help is in no table */
    static const char *const typo[][2] = {
        {"pack --epcoh 2 x.h5 -o x.lpk", "pack: unknown option '--epcoh': did you mean --epoch?"},
        {"unpack x.lpk --outt x.h5", "unpack: unknown option '--outt': did you mean --out?"},
        {"train --hlep", "train: unknown option '--hlep': did you mean --help?"},
        {"pack --hepl", "pack: unknown option '--hepl': did you mean --help?"},
    };
    for (size_t i = 0; i < sizeof typo / sizeof *typo; ++i)
        expect_(typo[i][0], 2, typo[i][1]);
    /* nothing near: no guess */
    expect_("train --model models/logreg.ini --frobnicate 3", 2,
            "laperm train: unknown option '--frobnicate' (see laperm train --help)");
}

/* --flag=value wherever --flag value works; a switch given a value is refused. */
static void test_flag_equals_value(void) {
    static const struct {
        const char *args;
        int status;
        const char *want;
    } cases[] = {
        {"train --model=models/logreg.ini --k=abc", 2,
         "laperm train: --k: expected an integer from 1 to 1000000000, got 'abc'"},
        {"train --model models/logreg.ini --k-steps=", 2, "laperm train: --k-steps: empty list"},
        {"train --model models/logreg.ini --optimizer=rmsprop", 2,
         "laperm train: --optimizer: expected one of laperm, lookahead, adam, sgd; got 'rmsprop'"},
        {"train --model models/logreg.ini --hflip=1", 2,
         "laperm train: --hflip is a switch and takes no value (got '--hflip=1')"},
        {"train --model models/logreg.ini --bogus=1", 2, "unknown option '--bogus'"},
        {"bench --gemm-size=x", 2,
         "laperm bench: --gemm-size: expected an integer from 0 to 16384, got 'x'"},
        {"devices --json=yes", 2, "laperm devices: --json is a switch and takes no value"},
        {"train --model= --no-out", 2, "laperm train: the model is empty: give a model file"},
        {"pack --epoch=0 x.h5 -o x.lpk", 2,
         "laperm pack: --epoch: expected an integer from 1 to 1000000000, got '0'"},
        {"pack no-such.h5 --out=x.lpk", 1, "no-such.h5"},
        {"unpack no-such.lpk --out=x.h5", 1, "no-such.lpk"},
        {"train --model=models/logreg.ini --device=no-such-device --no-out", 1,
         "no OpenCL device matches 'no-such-device'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; ++i)
        expect_(cases[i].args, cases[i].status, cases[i].want);
}

/* --model NAME and summary NAME from any folder; an unknown name lists the names. */
static void test_model_by_name(void) {
    expect_("summary logreg", 0, "total params: 7,840");
    expect_("summary logreg.ini", 0, "total params: 7,840");
    expect_in_("/", "summary lenet300", 0, "total params: 266,610");
    expect_in_(lp_test_tmpdir(), "summary f2", 0, "total params: 109,184");
    expect_in_("/", "summary conv77", 2, "nor a model named 'conv77' in ./models");
    expect_in_("/", "summary conv77", 2, "did you mean conv7?");
    expect_in_("/", "summary conv77", 2, "models available: ");
    expect_in_("/", "summary conv77", 2, " lenet300 logreg ");
    expect_in_("/", "train --model nosuch", 2, "laperm train: no model file 'nosuch'");
    /* a model of that name in ./models comes first */
    char dir[1100], mk[4096];
    snprintf(dir, sizeof dir, "%s/local", lp_test_tmpdir());
    snprintf(mk, sizeof mk, "mkdir -p %s/models && cp '%s' %s/models/lenet300.ini", dir,
             lp_test_source_path("models/logreg.ini"), dir);
    CU_ASSERT_EQUAL_FATAL(lp_test_run_command(mk, NULL), 0);
    expect_in_(dir, "summary lenet300", 0, "total params: 7,840");
    /* a path with '/' is only a path */
    expect_in_("/", "summary ./lenet300", 1, "./lenet300");
}

/* Runs `laperm ARGS | python3 -c CHECK` (CHECK reads the JSON as d) in the source tree. */
static void expect_json_(const char *args, const char *check) {
    char then[2048];
    snprintf(then, sizeof then,
             "2>/dev/null | /usr/bin/python3 -c 'import json, sys; d = json.load(sys.stdin); "
             "assert %s, d'",
             check);
    char *out = NULL;
    int st = run_(lp_test_source_path(""), args, then, &out);
    if (st != 0)
        printf("\n  laperm %s %s\n  exit %d, output:\n%s\n", args, then, st, out ? out : "(none)");
    CU_ASSERT_EQUAL(st, 0);
    free(out);
}

static void test_json(void) {
    expect_json_("summary --json logreg",
                 "d[\"total_params\"] == 7840 and d[\"permuted_groups\"] == 10 and "
                 "[l[\"kind\"] for l in d[\"layers\"]] == [\"input\", \"flatten\", \"dense\"] and "
                 "d[\"layers\"][2][\"output\"] == [10, 1, 1] and "
                 "d[\"model\"].endswith(\"logreg.ini\")");
    expect_json_("summary lenet300 --json", "d[\"total_params\"] == 266610");
    if (!lp_test_have_mnist()) {
        printf("\n  (no MNIST in %s: train --json skipped)\n", lp_test_mnist_dir());
        return;
    }
    char args[2048];
    snprintf(args, sizeof args,
             "train --model logreg --data '%s' --epochs 1 --max-steps 2 --train-subset 256 "
             "--test-subset 100 --no-out --json",
             lp_test_mnist_dir());
    expect_json_(args, "d[\"status\"] == \"done\" and d[\"steps\"] == 2 and d[\"epochs\"] == 1 and "
                       "d[\"results\"] is None and 0 <= d[\"final\"][\"test_accuracy\"] <= 1 and "
                       "d[\"best\"][\"step\"] == 2 and d[\"seconds\"][\"total\"] > 0 and "
                       "d[\"model\"].endswith(\"models/logreg.ini\")");
    /* the human lines went to stderr: stdout holds the JSON alone */
    char *out = NULL;
    CU_ASSERT_EQUAL(run_(lp_test_source_path(""), args, "2>/dev/null", &out), 0);
    CU_ASSERT(out && out[0] == '{' && !strstr(out, "epoch 1/1") && !strstr(out, "laperm 0"));
    free(out);
}

/* PoCL's compiler prints "N warnings generated." to stderr itself: kept out unless
 * --verbose. The kernels here are laperm's with a warning added to cl/common.cl. */
static void test_compiler_noise(void) {
    if (!lp_test_have_mnist()) {
        printf("\n  (no MNIST in %s: skipped)\n", lp_test_mnist_dir());
        return;
    }
    char dir[1100], mk[4096];
    snprintf(dir, sizeof dir, "%s/noisy-cl", lp_test_tmpdir());
    snprintf(mk, sizeof mk,
             "mkdir -p %s && cp %s/*.cl %s/ && printf 'void lp_test_noise_(void) { 1; }\\n' >> "
             "%s/common.cl",
             dir, lp_test_source_path("cl"), dir, dir);
    CU_ASSERT_EQUAL_FATAL(lp_test_run_command(mk, NULL), 0);
    char args[4096];
    for (int verbose = 0; verbose < 2; ++verbose) {
        snprintf(args, sizeof args,
                 "train --model logreg --data '%s' --epochs 1 --max-steps 1 --train-subset 128 "
                 "--test-subset 100 --no-out --progress none%s",
                 lp_test_mnist_dir(), verbose ? " --verbose" : "");
        char *out = NULL, pre[2400];
        /* a fresh build: no laperm cache, no PoCL cache */
        snprintf(pre, sizeof pre, "env LAPERM_CACHE=off POCL_KERNEL_CACHE=0 LAPERM_KERNEL_DIR=%s",
                 dir);
        char cmd[8192];
        const char *bin = getenv("LAPERM_BINARY");
        snprintf(cmd, sizeof cmd, "cd '%s' && %s '%s' %s 2>&1", lp_test_source_path(""), pre,
                 bin ? bin : "laperm", args);
        int st = lp_test_run_command(cmd, &out);
        CU_ASSERT_EQUAL(st, 0);
        bool noise = out && strstr(out, " generated.");
        bool pocl = out && strstr(out, "Portable Computing Language");
        if (verbose && pocl) CU_ASSERT(noise);
        if (!verbose) CU_ASSERT(!noise);
        if (st != 0 || (!verbose && noise) || (verbose && pocl && !noise))
            printf("\n  %s\n  exit %d, output:\n%s\n", cmd, st, out ? out : "(none)");
        free(out);
    }
}

static void register_suites(void) {
    CU_pSuite s = CU_add_suite("cli", NULL, NULL);
    CU_add_test(s, "usage errors name the option and the expectation", test_usage_errors);
    CU_add_test(s, "--help lists every flag with its default", test_help_lists_defaults);
    CU_add_test(s, "bench: a short real run writes its table", test_bench_runs);
    CU_add_test(s, "bad model and data files", test_bad_files);
    CU_add_test(s, "unknown device lists the devices", test_unknown_device);
    CU_add_test(s, "summary parameter counts", test_summary_counts);
    CU_add_test(s, "did you mean: flags and commands", test_did_you_mean);
    CU_add_test(s, "--flag=value", test_flag_equals_value);
    CU_add_test(s, "models by name", test_model_by_name);
    CU_add_test(s, "--json of summary and train", test_json);
    CU_add_test(s, "compiler noise only with --verbose", test_compiler_noise);
}

int main(void) {
    return lp_test_main("test_cli", register_suites);
}
