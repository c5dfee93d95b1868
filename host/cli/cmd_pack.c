/* laperm pack W -o net.lpk and laperm unpack net.lpk -o weights.h5: a LaPerm network as
 * its seed and one coded permutation per group, and back (laperm/lpk.h). */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "laperm/lpk.h"

static void pack_help_(void) {
    printf("usage: laperm pack RESULTS.h5 [--epoch N | --snapshot S | --best] -o NET.lpk\n\n"
           "Stores a network of a laperm results file compactly: the model text, the seed and\n"
           "the settings that regenerate the initial weights, one permutation per LaPerm group\n"
           "coded near log2(n!) bits, every other tensor as float32, and a checksum.\n\n"
           "  --epoch N      the snapshot of the end of epoch N (1-based)\n"
           "  --snapshot S   snapshot S (0-based; -1 the last)\n"
           "  --best         the best evaluation's network (/best, a --save-best run's)\n"
           "                 (default: /weights, the final network)\n"
           "  -o, --out FILE the .lpk to write (required)\n"
           "  -h, --help     this text\n\n"
           "Prints the sizes: float32 weights, the .lpk, their ratio, and the log2(n!) bound.\n"
           "'laperm unpack' rebuilds the weights bit for bit.\n");
}

static void unpack_help_(void) {
    printf("usage: laperm unpack NET.lpk -o WEIGHTS.h5\n\n"
           "Rebuilds the network of a .lpk bit for bit (regenerating the initial weights from\n"
           "the seed, checked against the hash the pack stored) into an HDF5 file with\n"
           "/weights/<layer>/<tensor> laid out as a results file's /weights, /model_text,\n"
           "and the pack's attributes (seed, ...) as root attributes.\n\n"
           "  -o, --out FILE the HDF5 file to write (required; through FILE.part)\n"
           "  -h, --help     this text\n");
}

#define PACK_USAGE_ "laperm pack RESULTS.h5 [--epoch N | --snapshot S | --best] -o NET.lpk"
#define UNPACK_USAGE_ "laperm unpack NET.lpk -o WEIGHTS.h5"

/* The one positional argument, the input; false after printing a usage error. */
static bool input_arg_(const char *cmd, const char *usage, const char *v, const char **in) {
    if (*in) {
        fprintf(stderr, "laperm %s: unexpected argument '%s' (usage: %s)\n", cmd, v, usage);
        return false;
    }
    *in = v;
    return true;
}

int cli_pack(int argc, char **argv) {
    static const cli_flag flags[] = {
        {"-o", "FILE"}, {"--out", "FILE"}, {"--epoch", "N"}, {"--snapshot", "S"}, {"--best", ""}};
    cli_args it = {.cmd = "pack",
                   .flags = flags,
                   .n_flags = (int)(sizeof flags / sizeof *flags),
                   .argc = argc,
                   .i = 1,
                   .argv = argv};
    const char *in = NULL, *out = NULL, *v;
    const cli_flag *f;
    lp_lpk_pack_opts o = {0};
    for (cli_arg kind; (kind = cli_args_next(&it, &f, &v)) != CLI_ARG_END;) {
        long long n;
        if (kind == CLI_ARG_HELP) {
            pack_help_();
            return 0;
        }
        if (kind == CLI_ARG_ERROR) return 2;
        if (kind == CLI_ARG_POSITIONAL) {
            if (!input_arg_("pack", PACK_USAGE_, v, &in)) return 2;
        } else if (!strcmp(f->name, "-o") || !strcmp(f->name, "--out")) {
            out = v;
        } else if (!strcmp(f->name, "--best")) {
            o.best = true;
        } else {
            bool epoch = !strcmp(f->name, "--epoch");
            if (!arg_int("pack", f->name, v, epoch ? 1 : -1000000000LL, 1000000000LL, &n)) return 2;
            if (epoch)
                o.epoch = (int)n;
            else
                o.use_snapshot = true, o.snapshot = n;
        }
    }
    if (!in || !out || (o.epoch > 0) + o.use_snapshot + o.best > 1) {
        fprintf(stderr, "laperm pack: %s (usage: " PACK_USAGE_ ")\n",
                !in    ? "missing RESULTS.h5"
                : !out ? "missing -o NET.lpk"
                       : "--epoch, --snapshot and --best exclude each other");
        return 2;
    }
    lp_lpk_pack_report r;
    if (lp_lpk_pack(in, &o, out, &r) != LP_OK) {
        fprintf(stderr, "laperm pack: %s\n", lp_last_error());
        return 1;
    }
    const lp_lpk_sizes *z = &r.sizes;
    printf("packed %s of %s into %s\n", r.source, in, out);
    if (r.init_note[0]) printf("note: %s\n", r.init_note);
    printf("fp32 weights   %12zu bytes\n", z->fp32_bytes);
    printf(".lpk           %12zu bytes  (%.4fx of fp32)\n", z->file_bytes,
           z->fp32_bytes ? (double)z->file_bytes / (double)z->fp32_bytes : 0.0);
    printf("  permutations %12zu bytes  for %lld values in %lld groups (%.3f bits a value)\n",
           z->coded_bytes, z->permuted, z->groups,
           z->permuted ? 8.0 * (double)z->coded_bytes / (double)z->permuted : 0.0);
    printf("  bound        %12.0f bytes  sum of log2(n!) over the groups (%.4fx of fp32)\n",
           z->bound_bits / 8, z->fp32_bytes ? z->bound_bits / 8 / (double)z->fp32_bytes : 0.0);
    printf("  bound, ties  %12.0f bytes  sum of log2(n! / prod m_i!) (repeated initial values)\n",
           z->multiset_bits / 8);
    printf("  float32      %12zu bytes  tensors not permuted\n", z->raw_bytes);
    if (z->init_bytes)
        printf("  float32      %12zu bytes  initial values of the permuted tensors\n",
               z->init_bytes);
    return 0;
}

int cli_unpack(int argc, char **argv) {
    static const cli_flag flags[] = {{"-o", "FILE"}, {"--out", "FILE"}};
    cli_args it = {
        .cmd = "unpack", .flags = flags, .n_flags = 2, .argc = argc, .i = 1, .argv = argv};
    const char *in = NULL, *out = NULL, *v;
    const cli_flag *f;
    for (cli_arg kind; (kind = cli_args_next(&it, &f, &v)) != CLI_ARG_END;) {
        if (kind == CLI_ARG_HELP) {
            unpack_help_();
            return 0;
        }
        if (kind == CLI_ARG_ERROR) return 2;
        if (kind == CLI_ARG_POSITIONAL) {
            if (!input_arg_("unpack", UNPACK_USAGE_, v, &in)) return 2;
        } else {
            out = v;
        }
    }
    if (!in || !out) {
        fprintf(stderr, "laperm unpack: missing %s (usage: " UNPACK_USAGE_ ")\n",
                !in ? "NET.lpk" : "-o WEIGHTS.h5");
        return 2;
    }
    if (lp_lpk_unpack(in, out) != LP_OK) {
        fprintf(stderr, "laperm unpack: %s\n", lp_last_error());
        return 1;
    }
    printf("unpacked %s into %s\n", in, out);
    return 0;
}
