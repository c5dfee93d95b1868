/* laperm command-line front end: dispatches subcommands. Only this layer prints and exits. */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "quiet.h"

static int version_(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("laperm %s\n", LAPERM_VERSION);
    return 0;
}

/* The one list of subcommands: usage, dispatch, "did you mean", and through the usage
 * text the man page and the bash completion (scripts/make-cli-docs) all come from it. */
typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command_;

static const command_ commands_[] = {
    {"bench", cli_bench, "measure the device: peak, GEMM, passes, sort, LaPerm sync"},
    {"check", cli_check, "check that a device computes every laperm kernel correctly"},
    {"devices", cli_devices, "list OpenCL platforms and devices"},
    {"eval", cli_eval, "evaluate a trained network on a dataset (loss, accuracy, predictions)"},
    {"export", cli_export, "write a trained network's weights for Keras (HDF5) or NumPy (.npz)"},
    {"pack", cli_pack, "store a trained network as its seed and permutations (.lpk)"},
    {"predict", cli_predict, "run a trained network on unlabeled inputs (HDF5)"},
    {"summary", cli_summary, "print a model's layers, shapes and parameter counts"},
    {"train", cli_train, "train a model and write an HDF5 results file"},
    {"unpack", cli_unpack, "rebuild a .lpk's weights bit for bit into an HDF5 file"},
    {"version", version_, "print the version"},
};
#define N_COMMANDS_ ((int)(sizeof commands_ / sizeof *commands_))

static void usage_(FILE *f) {
    fprintf(f,
            "laperm %s: train neural networks by reconnecting them (LaPerm) on OpenCL\n\n"
            "usage: laperm COMMAND [options]\n\n"
            "commands:\n",
            LAPERM_VERSION);
    for (int i = 0; i < N_COMMANDS_; ++i)
        fprintf(f, "  %-9s %s\n", commands_[i].name, commands_[i].summary);
    fprintf(f, "\nRun 'laperm COMMAND --help' for the options of each command.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage_(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage_(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) return version_(argc - 1, argv + 1);
    for (int i = 0; i < N_COMMANDS_; ++i)
        if (!strcmp(cmd, commands_[i].name)) {
            cli_quiet_start(); /* a command's --verbose lets the compiler's lines through */
            return commands_[i].run(argc - 1, argv + 1);
        }
    fprintf(stderr, "laperm: unknown command '%s'", cmd);
    const char *near = cli_closest(cmd, commands_, N_COMMANDS_, sizeof *commands_);
    if (near) fprintf(stderr, ": did you mean %s?", near);
    fprintf(stderr, " (expected");
    for (int i = 0; i < N_COMMANDS_; ++i)
        fprintf(stderr, "%s %s", i ? "," : "", commands_[i].name);
    fprintf(stderr, ")\n");
    return 2;
}
