/* laperm pack W -o net.lpk and laperm unpack net.lpk -o weights.h5: a LaPerm network as
 * its seed and one coded permutation per group, and back (laperm/lpk.h). */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "laperm/lpk.h"

static void pack_help_(void) {
    printf("usage: laperm pack RESULTS.h5 [--epoch N | --snapshot S] -o NET.lpk\n\n"
           "Stores a network of a laperm results file compactly: the model text, the seed and\n"
           "the settings that regenerate the initial weights, one permutation per LaPerm group\n"
           "coded near log2(n!) bits, every other tensor as float32, and a checksum.\n\n"
           "  --epoch N      the snapshot of the end of epoch N (1-based)\n"
           "  --snapshot S   snapshot S (0-based; -1 the last)\n"
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

/* -o/--out FILE; returns false after printing a usage error. */
static bool out_arg_(const char *cmd, int argc, char **argv, int *i, const char **out) {
    if (strcmp(argv[*i], "-o") && strcmp(argv[*i], "--out")) return false;
    if (*i + 1 >= argc) {
        fprintf(stderr, "laperm %s: %s needs a file name\n", cmd, argv[*i]);
        *out = NULL;
        return true;
    }
    *out = argv[++*i];
    return true;
}

int cli_pack(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    lp_lpk_pack_opts o = {0};
    for (int i = 1; i < argc; ++i) {
        long long v;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            pack_help_();
            return 0;
        }
        if (out_arg_("pack", argc, argv, &i, &out)) {
            if (!out) return 2;
        } else if (!strcmp(argv[i], "--epoch") || !strcmp(argv[i], "--snapshot")) {
            bool epoch = !strcmp(argv[i], "--epoch");
            if (i + 1 >= argc) {
                fprintf(stderr, "laperm pack: %s needs a number\n", argv[i]);
                return 2;
            }
            if (!arg_int("pack", argv[i], argv[i + 1], epoch ? 1 : -1000000000LL, 1000000000LL, &v))
                return 2;
            if (epoch)
                o.epoch = (int)v;
            else
                o.use_snapshot = true, o.snapshot = v;
            ++i;
        } else if (argv[i][0] == '-' || in) {
            fprintf(stderr,
                    "laperm pack: unexpected argument '%s' (usage: laperm pack RESULTS.h5 "
                    "[--epoch N | --snapshot S] -o NET.lpk)\n",
                    argv[i]);
            return 2;
        } else {
            in = argv[i];
        }
    }
    if (!in || !out || (o.epoch && o.use_snapshot)) {
        fprintf(stderr,
                "laperm pack: %s (usage: laperm pack RESULTS.h5 [--epoch N | --snapshot "
                "S] -o NET.lpk)\n",
                !in    ? "missing RESULTS.h5"
                : !out ? "missing -o NET.lpk"
                       : "--epoch and --snapshot exclude each other");
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
    const char *in = NULL, *out = NULL;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            unpack_help_();
            return 0;
        }
        if (out_arg_("unpack", argc, argv, &i, &out)) {
            if (!out) return 2;
        } else if (argv[i][0] == '-' || in) {
            fprintf(stderr,
                    "laperm unpack: unexpected argument '%s' (usage: laperm unpack NET.lpk -o "
                    "WEIGHTS.h5)\n",
                    argv[i]);
            return 2;
        } else {
            in = argv[i];
        }
    }
    if (!in || !out) {
        fprintf(stderr, "laperm unpack: missing %s (usage: laperm unpack NET.lpk -o WEIGHTS.h5)\n",
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
