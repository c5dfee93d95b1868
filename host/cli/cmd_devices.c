/* laperm devices: a table (or JSON) of every OpenCL platform and device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "json.h"
#include "laperm/runtime.h"

static double mib_(cl_ulong b) {
    return (double)b / (1024.0 * 1024.0);
}

int cli_devices(int argc, char **argv) {
    bool json;
    int rc = cli_args_json_only(
        "devices", argc, argv,
        "usage: laperm devices [--json]\n\n"
        "Lists every OpenCL device as P:D (platform:device index), the value that\n"
        "--device and LAPERM_DEVICE accept.\n\n"
        "  --json    print a JSON array instead of a table (default: table)\n",
        "laperm devices [--json]", &json, NULL);
    if (rc) return rc < 0 ? 0 : rc;
    lp_device_info *d;
    int n;
    if (lp_devices_list(&d, &n) != LP_OK) {
        fprintf(stderr, "laperm devices: %s\n", lp_last_error());
        return 1;
    }
    if (json) {
        printf("[");
        for (int i = 0; i < n; ++i) {
            printf("%s\n  {\"index\": \"%d:%d\", \"platform\": ", i ? "," : "", d[i].platform_index,
                   d[i].device_index);
            cli_json_string(stdout, d[i].platform_name);
            printf(", \"device\": ");
            cli_json_string(stdout, d[i].device_name);
            printf(", \"type\": \"%s\", \"compute_units\": %u, \"global_mem_bytes\": %llu, "
                   "\"max_alloc_bytes\": %llu, \"local_mem_bytes\": %llu, \"opencl_c_version\": ",
                   lp_device_type_name(d[i].type), d[i].compute_units,
                   (unsigned long long)d[i].global_mem, (unsigned long long)d[i].max_alloc,
                   (unsigned long long)d[i].local_mem);
            cli_json_string(stdout, d[i].opencl_c_version);
            printf(", \"driver\": ");
            cli_json_string(stdout, d[i].driver_version);
            printf(", \"fp64\": %s}", d[i].fp64 ? "true" : "false");
        }
        printf("%s]\n", n ? "\n" : "");
    } else if (n == 0) {
        printf("no OpenCL device found (install e.g. pocl-opencl-icd; see /etc/OpenCL/vendors)\n");
    } else {
        printf("%-5s %-28s %-40s %-5s %4s %10s %10s %8s %-14s %s\n", "index", "platform", "device",
               "type", "CUs", "global MiB", "alloc MiB", "local KiB", "OpenCL C", "fp64");
        for (int i = 0; i < n; ++i) {
            char idx[16];
            snprintf(idx, sizeof idx, "%d:%d", d[i].platform_index, d[i].device_index);
            const char *cver = strncmp(d[i].opencl_c_version, "OpenCL C ", 9) == 0
                                   ? d[i].opencl_c_version + 9
                                   : d[i].opencl_c_version;
            printf("%-5s %-28.28s %-40.40s %-5s %4u %10.0f %10.0f %8.0f %-14.14s %s\n", idx,
                   d[i].platform_name, d[i].device_name, lp_device_type_name(d[i].type),
                   d[i].compute_units, mib_(d[i].global_mem), mib_(d[i].max_alloc),
                   (double)d[i].local_mem / 1024.0, cver, d[i].fp64 ? "yes" : "no");
        }
    }
    free(d);
    return 0;
}
