/* Kernel sources (embedded, or read from $LAPERM_KERNEL_DIR), program builds, and the
 * program cache: in memory per runtime, and on disk as device binaries keyed by a hash
 * of everything that can change the binary, in the folder lp_runtime_cache_dir names
 * (which code built on the runtime uses for its own files too). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "hash.h"
#include "laperm/clock.h"
#include "runtime-impl.h"

/* Bump when the cache file layout or the build recipe changes. */
#define LP_CACHE_FORMAT "laperm-program-cache-1"

struct lp_embedded_source {
    const char *name;
    const char *text;
    size_t length;
};
extern const struct lp_embedded_source lp_embedded_sources[];

static char *read_file_(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len) *len = (size_t)n;
    }
    return buf;
}

/* Returns a malloc'd copy of cl/<name>.cl. */
static lp_status source_text_(const char *name, char **out) {
    const char *dir = getenv("LAPERM_KERNEL_DIR");
    if (dir && *dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.cl", dir, name);
        *out = read_file_(path, NULL);
        if (!*out)
            return lp_fail(LP_ERR_NOT_FOUND, "%s: cannot read kernel source (LAPERM_KERNEL_DIR=%s)",
                           path, dir);
        return LP_OK;
    }
    for (const struct lp_embedded_source *s = lp_embedded_sources; s->name; ++s) {
        if (strcmp(s->name, name) == 0) {
            *out = strdup(s->text);
            return *out ? LP_OK : lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
        }
    }
    return lp_fail(LP_ERR_NOT_FOUND, "no kernel source cl/%s.cl was embedded in this build", name);
}

/* The file built in between common.cl and a program's own, or NULL: the register tile
 * (cl/tile.cl) for the programs that share it. */
static const char *prelude_of_(const char *program) {
    static const char *const tiled[] = {"gemm", "conv_direct"};
    for (size_t i = 0; i < sizeof tiled / sizeof *tiled; ++i)
        if (strcmp(program, tiled[i]) == 0) return "tile";
    return NULL;
}

/* Two hashes (hash.h) of several strings with different seeds: 128 bits of key. */
typedef struct {
    uint64_t a, b;
} key128_;

static void hash_add_(key128_ *h, const char *s) {
    h->a = lp_hash_str(h->a, s);
    h->b = lp_hash_str(h->b, s);
}

bool lp_runtime_cache_dir(char *dst, size_t cap) {
    const char *v = getenv("LAPERM_CACHE");
    if (v && (strcmp(v, "off") == 0 || strcmp(v, "0") == 0 || strcmp(v, "no") == 0)) return false;
    const char *d = getenv("LAPERM_CACHE_DIR");
    int len = -1;
    if (d && *d) {
        len = snprintf(dst, cap, "%s", d);
    } else if ((d = getenv("XDG_CACHE_HOME")) && *d) {
        len = snprintf(dst, cap, "%s/laperm", d);
    } else if ((d = getenv("HOME")) && *d) {
        len = snprintf(dst, cap, "%s/.cache/laperm", d);
    }
    return len > 0 && (size_t)len < cap; /* a cut path would name another folder */
}

static cl_program try_disk_(lp_runtime *rt, const char *path) {
    size_t len = 0;
    char *bin = read_file_(path, &len);
    if (!bin || len == 0) {
        free(bin);
        return NULL;
    }
    const unsigned char *ptr = (const unsigned char *)bin;
    cl_int status = CL_SUCCESS, err;
    cl_program p =
        clCreateProgramWithBinary(rt->context, 1, &rt->info.device, &len, &ptr, &status, &err);
    free(bin);
    if (err != CL_SUCCESS || status != CL_SUCCESS) {
        if (p) clReleaseProgram(p);
        return NULL;
    }
    if (clBuildProgram(p, 1, &rt->info.device, NULL, NULL, NULL) != CL_SUCCESS) {
        clReleaseProgram(p); /* stale or foreign binary: fall back to compiling */
        return NULL;
    }
    return p;
}

static void save_disk_(cl_program p, const char *dir, const char *path) {
    size_t len = 0;
    if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof len, &len, NULL) != CL_SUCCESS ||
        len == 0)
        return;
    unsigned char *bin = malloc(len);
    if (!bin) return;
    if (clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) == CL_SUCCESS) {
        lp_fs_mkdir_p(dir); /* a failure shows in the write that follows */
        lp_clear_error();
        char tmp[4700];
        snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
        FILE *f = fopen(tmp, "wb");
        if (f) {
            bool ok = fwrite(bin, 1, len, f) == len;
            ok = (fclose(f) == 0) && ok;
            /* rename is atomic: a reader sees the old file, no file, or the whole new one */
            if (!ok || rename(tmp, path) != 0) remove(tmp);
        }
    }
    free(bin);
}

static lp_status build_from_source_(lp_runtime *rt, const char *program, const char *source,
                                    const char *options, cl_program *out) {
    cl_int err;
    cl_program p = clCreateProgramWithSource(rt->context, 1, &source, NULL, &err);
    if (err != CL_SUCCESS) return lp_cl_check(err, "clCreateProgramWithSource");
    err = clBuildProgram(p, 1, &rt->info.device, options, NULL, NULL);
    if (err != CL_SUCCESS) {
        size_t log_len = 0;
        clGetProgramBuildInfo(p, rt->info.device, CL_PROGRAM_BUILD_LOG, 0, NULL, &log_len);
        char *log = malloc(log_len + 1);
        if (log) {
            log[0] = '\0';
            clGetProgramBuildInfo(p, rt->info.device, CL_PROGRAM_BUILD_LOG, log_len, log, NULL);
            log[log_len] = '\0';
        }
        lp_status s = lp_fail(LP_ERR_BUILD,
                              "building cl/%s.cl for %s failed: %s (%d)\noptions: %s\nbuild "
                              "log:\n%s",
                              program, rt->info.device_name, lp_cl_error_name(err), err, options,
                              log ? log : "(unavailable)");
        free(log);
        clReleaseProgram(p);
        return s;
    }
    *out = p;
    return LP_OK;
}

lp_status lp_program_get_(lp_runtime *rt, const char *program, const char *extra, cl_program *out) {
    if (!extra) extra = "";
    for (int i = 0; i < rt->n_programs; ++i) {
        if (strcmp(rt->programs[i].program, program) == 0 &&
            strcmp(rt->programs[i].options, extra) == 0) {
            rt->stats.from_memory++;
            *out = rt->programs[i].handle;
            return LP_OK;
        }
    }
    char *common = NULL, *prelude = NULL, *body = NULL;
    const char *prelude_name = prelude_of_(program);
    lp_status s = source_text_("common", &common);
    if (s == LP_OK && prelude_name) s = source_text_(prelude_name, &prelude);
    if (s == LP_OK) s = source_text_(program, &body);
    if (s != LP_OK) {
        free(common);
        free(prelude);
        return s;
    }
    size_t n = strlen(common) + (prelude ? strlen(prelude) : 0) + strlen(body) + 64;
    char *source = malloc(n);
    char options[2048];
    snprintf(options, sizeof options, "%s %s", rt->device_options, extra);
    /* #line keeps the build log's line numbers those of the program's own file. */
    if (source) snprintf(source, n, "%s\n%s\n#line 1\n%s", common, prelude ? prelude : "", body);
    free(common);
    free(prelude);
    free(body);
    if (!source) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");

    double t0 = lp_seconds();
    cl_program p = NULL;
    char dir[4096], path[4608];
    bool use_disk = lp_runtime_cache_dir(dir, sizeof dir);
    if (use_disk) {
        key128_ h = {LP_HASH_SEED, ~LP_HASH_SEED};
        hash_add_(&h, LP_CACHE_FORMAT);
        hash_add_(&h, source);
        hash_add_(&h, options);
        hash_add_(&h, rt->info.device_name);
        hash_add_(&h, rt->info.driver_version);
        hash_add_(&h, rt->info.platform_version);
        hash_add_(&h, rt->info.platform_name);
        snprintf(path, sizeof path, "%s/%s-%016llx%016llx.bin", dir, program,
                 (unsigned long long)lp_hash_final(h.a), (unsigned long long)lp_hash_final(h.b));
        p = try_disk_(rt, path);
        if (p) rt->stats.from_disk++;
    }
    if (!p) {
        s = build_from_source_(rt, program, source, options, &p);
        if (s != LP_OK) {
            free(source);
            return s;
        }
        rt->stats.compiled++;
        if (use_disk) save_disk_(p, dir, path);
    }
    free(source);
    rt->stats.build_seconds += lp_seconds() - t0;

    if (rt->n_programs == rt->cap_programs) {
        int cap = rt->cap_programs ? rt->cap_programs * 2 : 16;
        lp_program_entry_ *grown = realloc(rt->programs, (size_t)cap * sizeof *grown);
        if (!grown) {
            clReleaseProgram(p);
            return lp_fail(LP_ERR_NO_MEMORY, "out of host memory caching programs");
        }
        rt->programs = grown;
        rt->cap_programs = cap;
    }
    rt->programs[rt->n_programs].program = strdup(program);
    rt->programs[rt->n_programs].options = strdup(extra);
    rt->programs[rt->n_programs].handle = p;
    rt->n_programs++;
    *out = p;
    return LP_OK;
}

void lp_programs_release_(lp_runtime *rt) {
    for (int i = 0; i < rt->n_programs; ++i) {
        clReleaseProgram(rt->programs[i].handle);
        free(rt->programs[i].program);
        free(rt->programs[i].options);
    }
    free(rt->programs);
    rt->programs = NULL;
    rt->n_programs = rt->cap_programs = 0;
}
