/* laperm command-line front end: dispatches subcommands. Only this layer prints and exits. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage_(FILE *f) {
    fprintf(f,
            "laperm %s: train neural networks by reconnecting them (LaPerm) on OpenCL\n\n"
            "usage: laperm COMMAND [options]\n\n"
            "commands:\n"
            "  bench     measure the device: peak, GEMM, passes, sort, LaPerm sync\n"
            "  devices   list OpenCL platforms and devices\n"
            "  summary   print a model's layers, shapes and parameter counts\n"
            "  train     train a model and write an HDF5 results file\n"
            "  version   print the version\n\n"
            "Run 'laperm COMMAND --help' for the options of each command.\n",
            LAPERM_VERSION);
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
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("laperm %s\n", LAPERM_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "bench")) return cli_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "devices")) return cli_devices(argc - 1, argv + 1);
    if (!strcmp(cmd, "summary")) return cli_summary(argc - 1, argv + 1);
    if (!strcmp(cmd, "train")) return cli_train(argc - 1, argv + 1);
    fprintf(stderr,
            "laperm: unknown command '%s' (expected bench, devices, summary, train, version)\n",
            cmd);
    return 2;
}
