/* laperm check: the conformance run of one device (laperm/check.h), printed as a table
 * (or JSON for a bug report) with the device's facts; exit 1 on any failed or broken check. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "json.h"
#include "laperm/check.h"
#include "quiet.h"

#define C "check"

typedef struct {
    const char *device, *out, *only;
    bool quick, json;
    lp_bits bits;
} check_args_;

static void usage_(FILE *f) {
    fprintf(f, "usage: laperm check [options]\n\n"
               "Runs every kernel family on one device against laperm's plain-C references at\n"
               "odd and boundary shapes, and checks the bits laperm promises (sort, LaPerm sync,\n"
               "Philox, dropout masks, augmentation, initial weights). Prints the device's facts\n"
               "and one row per check: its max abs and rel error and its tolerance. Exits 1 if\n"
               "any check fails.\n\n"
               "  --device D     P:D index or name substring (default: $LAPERM_DEVICE, a GPU,\n"
               "                 else a CPU)\n"
               "  --quick        smaller shapes (under a minute on a 2-core CPU)\n"
               "  --bits MODE    fast (default) or portable: the kernels as that mode builds\n"
               "                 them (the golden run is always portable)\n"
               "  --only NAME    only the checks whose name contains NAME\n"
               "  --json         print the report as one JSON object (for bug reports)\n"
               "  --out FILE.h5  also write the report to HDF5 (dataset /check)\n"
               "  --verbose      show the OpenCL compiler's own output\n\n"
               "checks:\n");
    for (int i = 0; i < lp_check_count(); ++i) {
        const lp_check_result *r = lp_check_describe(i);
        fprintf(f, "  %-13s %s\n", r->name, r->kernel);
    }
}

/* 0 after --help, 2 after a usage error (printed), -1 to run. */
static int parse_(int argc, char **argv, check_args_ *a) {
    *a = (check_args_){0};
    static const cli_flag flags[] = {{"--device", "D"}, {"--quick", ""},      {"--only", "NAME"},
                                     {"--json", ""},    {"--out", "FILE.h5"}, {"--verbose", ""},
                                     {"--bits", "MODE"}};
    cli_args it = {C, flags, (int)(sizeof flags / sizeof *flags), argc, 1, argv, ""};
    const cli_flag *flag;
    const char *v;
    cli_arg kind;
    while ((kind = cli_args_next(&it, &flag, &v)) == CLI_ARG_FLAG) {
        const char *o = flag->name;
        a->quick |= !strcmp(o, "--quick");
        a->json |= !strcmp(o, "--json");
        if (!strcmp(o, "--device")) a->device = v;
        if (!strcmp(o, "--out")) a->out = v;
        if (!strcmp(o, "--only")) a->only = v;
        if (!strcmp(o, "--verbose")) cli_quiet_off();
        if (!strcmp(o, "--bits") && !lp_bits_parse(v, &a->bits)) {
            fprintf(stderr, "laperm %s: --bits: '%s' is not fast or portable\n", C, v);
            return 2;
        }
    }
    if (kind == CLI_ARG_HELP) usage_(stdout);
    if (kind == CLI_ARG_POSITIONAL)
        fprintf(stderr, "laperm %s: unexpected argument '%s' (see laperm check --help)\n", C, v);
    return kind == CLI_ARG_END ? -1 : kind == CLI_ARG_HELP ? 0 : 2;
}

static void device_text_(const lp_check_device *d) {
    printf("platform      %s (%s)\n", d->platform, d->platform_version);
    printf("device        %s, %s, vendor %s\n", d->device, d->type, d->vendor);
    printf("driver        %s; %s; %s\n", d->driver, d->device_version, d->opencl_c);
    printf("limits        %u compute units, %llu KiB local memory, work-group %zu, "
           "%llu MiB memory (%llu MiB per buffer)\n",
           d->compute_units, d->local_mem / 1024, d->max_work_group, d->global_mem >> 20,
           d->max_alloc >> 20);
    printf("float32       denormals %s, FMA %s, correctly rounded divide/sqrt %s\n",
           d->denormals ? "yes" : "no", d->fma ? "yes" : "no",
           d->correctly_rounded_sqrt ? "yes" : "no");
    printf("extensions    cl_khr_fp64 %s (told to the kernels as LP_HAVE_FP64; none needs it "
           "nor any other extension; --json lists them all)\n\n",
           d->fp64 ? "yes" : "no");
    printf("%-13s %-5s %11s %11s %9s %10s %7s  %s\n", "check", "state", "max abs", "max rel",
           "err/tol", "values", "seconds", "kernels / note");
}

static void row_text_(void *ctx, const lp_check_result *r) {
    (void)ctx;
    printf("%-13s %-5s %11.3g %11.3g %9.3g %10lld %7.2f  %s\n", r->name,
           lp_check_state_name(r->state), r->max_abs, r->max_rel, r->worst, r->compared, r->seconds,
           r->kernel);
    if (r->note[0]) printf("%-13s   %s\n", "", r->note);
    fflush(stdout);
}

static void json_kv_(const char *k, const char *v, bool comma) {
    printf("\"%s\": ", k);
    cli_json_string(stdout, v);
    if (comma) printf(", ");
}

static void report_json_(const lp_check_report *r) {
    const lp_check_device *d = &r->device;
    printf("{\"device\": {");
    json_kv_("platform", d->platform, true);
    json_kv_("platform_version", d->platform_version, true);
    json_kv_("vendor", d->vendor, true);
    json_kv_("name", d->device, true);
    json_kv_("type", d->type, true);
    json_kv_("device_version", d->device_version, true);
    json_kv_("driver_version", d->driver, true);
    json_kv_("opencl_c_version", d->opencl_c, true);
    printf("\"compute_units\": %u, \"local_mem_bytes\": %llu, \"global_mem_bytes\": %llu, "
           "\"max_alloc_bytes\": %llu, \"max_work_group_size\": %zu, \"fp64\": %s, "
           "\"denormals\": %s, \"fma\": %s, \"correctly_rounded_divide_sqrt\": %s, ",
           d->compute_units, d->local_mem, d->global_mem, d->max_alloc, d->max_work_group,
           d->fp64 ? "true" : "false", d->denormals ? "true" : "false", d->fma ? "true" : "false",
           d->correctly_rounded_sqrt ? "true" : "false");
    json_kv_("extensions", d->extensions, false);
    printf("}, \"version\": ");
    cli_json_string(stdout, LAPERM_VERSION);
    printf(", \"bits\": \"%s\"", r->bits);
    printf(", \"quick\": %s, \"passed\": %d, \"failed\": %d, \"errors\": %d, \"skipped\": %d, "
           "\"seconds\": ",
           r->quick ? "true" : "false", r->passed, r->failed, r->errors, r->skipped);
    cli_json_number(stdout, r->seconds);
    printf(", \"checks\": [");
    for (int i = 0; i < r->n; ++i) {
        const lp_check_result *x = &r->rows[i];
        printf("%s{", i ? ", " : "");
        json_kv_("name", x->name, true);
        json_kv_("state", lp_check_state_name(x->state), true);
        json_kv_("kernel", x->kernel, true);
        json_kv_("tolerance", x->tolerance, true);
        json_kv_("note", x->note, true);
        const char *keys[] = {"max_abs", "max_rel", "worst", "seconds"};
        double vals[] = {x->max_abs, x->max_rel, x->worst, x->seconds};
        for (int k = 0; k < 4; ++k) {
            printf("\"%s\": ", keys[k]);
            cli_json_number(stdout, vals[k]);
            printf(", ");
        }
        printf("\"values\": %lld}", x->compared);
    }
    printf("]}\n");
}

int cli_check(int argc, char **argv) {
    check_args_ a;
    int rc = parse_(argc, argv, &a);
    if (rc >= 0) return rc;
    lp_runtime_options opt = {.device = a.device, .bits = a.bits};
    lp_runtime *rt = NULL;
    if (lp_runtime_create(&opt, &rt) != LP_OK) {
        fprintf(stderr, "laperm %s: %s\n", C, lp_last_error());
        return 1;
    }
    lp_check_options co = {.quick = a.quick, .only = a.only, .progress = a.json ? NULL : row_text_};
    lp_check_report r = {0};
    lp_check_device d;
    lp_status s = lp_check_device_facts(rt, &d);
    if (s == LP_OK && !a.json) {
        printf("laperm check%s%s on %s\n\n", a.quick ? " --quick" : "",
               a.bits == LP_BITS_PORTABLE ? " --bits portable" : "", d.device);
        device_text_(&d);
    }
    if (s == LP_OK) s = lp_check_run(rt, &co, &r);
    if (s == LP_OK && a.json) report_json_(&r);
    if (s == LP_OK && !a.json)
        printf("\n%d passed, %d failed, %d errors, %d skipped in %.1f s\n", r.passed, r.failed,
               r.errors, r.skipped, r.seconds);
    if (s == LP_OK && a.out) {
        char cmd[1024] = "laperm";
        for (int i = 0; i < argc; ++i)
            strncat(cmd, " ", sizeof cmd - strlen(cmd) - 1),
                strncat(cmd, argv[i], sizeof cmd - strlen(cmd) - 1);
        s = lp_check_write_h5(&r, cmd, a.out);
        if (s == LP_OK && !a.json) printf("wrote %s\n", a.out);
    }
    if (s != LP_OK) fprintf(stderr, "laperm %s: %s\n", C, lp_last_error());
    for (int i = 0; s == LP_OK && i < r.n; ++i)
        if (r.rows[i].state == LP_CHECK_FAIL || r.rows[i].state == LP_CHECK_ERROR)
            fprintf(stderr, "laperm %s: %s %s: %s (kernels: %s)\n", C, r.rows[i].name,
                    r.rows[i].state == LP_CHECK_FAIL ? "failed" : "could not run", r.rows[i].note,
                    r.rows[i].kernel);
    int code = s != LP_OK ? 1 : r.failed + r.errors > 0 ? 1 : r.n == 0 ? 2 : 0;
    if (s == LP_OK && r.n == 0)
        fprintf(stderr, "laperm %s: --only '%s' matches no check\n", C, a.only);
    lp_check_report_free(&r);
    lp_runtime_destroy(rt);
    return code;
}
