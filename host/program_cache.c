/* Kernel sources (embedded, or read from $LAPERM_KERNEL_DIR), program builds, and the
 * program cache: in memory per runtime, and on disk as device binaries keyed by a hash
 * of everything that can change the binary, in the folder lp_runtime_cache_dir names
 * (which code built on the runtime uses for its own files too). A disk entry that is cut,
 * damaged or foreign (program_cache.h) is removed and compiled again, with a warning in
 * the build statistics.
 *
 * The entries of the programs a run compiles are written when the runtime is destroyed,
 * not when they are built: asking a driver for CL_PROGRAM_BINARIES makes it generate code
 * for every kernel of the program, used or not (PoCL 3.1: 15-20 s of conv7's 27 s cold
 * start), while a run launches only some and the driver compiles those lazily at their
 * first launch. Written at the end, PoCL's binary also carries the code of the kernels
 * the run launched, so a later run with PoCL's own cache empty loads them too. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "hash.h"
#include "laperm/clock.h"
#include "program_cache.h"
#include "runtime-impl.h"

/* Bump when the cache file layout or the build recipe changes. */
#define LP_CACHE_FORMAT "laperm-program-cache-2"

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
    static const char *const tiled[] = {"gemm", "conv_direct", "conv_winograd"};
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

/* ---- disk entries (layout: program_cache.h) ------------------------------------------ */

static uint64_t entry_hash_(const char *names, size_t names_len, const unsigned char *payload,
                            size_t payload_len) {
    uint64_t h = lp_hash_bytes(LP_HASH_SEED, names, names_len);
    return lp_hash_final(lp_hash_bytes(h, payload, payload_len));
}

static int compare_names_(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The kernel names of a built program, sorted and joined by ';' (malloc'd), or NULL.
 * CL_PROGRAM_KERNEL_NAMES is OpenCL 1.2; 1.1 drivers list them by creating every kernel. */
static char *kernel_names_(cl_program p) {
    char *list = NULL;
    size_t len = 0;
    if (clGetProgramInfo(p, CL_PROGRAM_KERNEL_NAMES, 0, NULL, &len) == CL_SUCCESS && len > 0 &&
        (list = malloc(len + 1)) != NULL) {
        if (clGetProgramInfo(p, CL_PROGRAM_KERNEL_NAMES, len, list, NULL) != CL_SUCCESS) {
            free(list);
            list = NULL;
        } else {
            list[len] = '\0';
        }
    }
    cl_uint nk = 0;
    if (!list && clCreateKernelsInProgram(p, 0, NULL, &nk) == CL_SUCCESS && nk > 0) {
        cl_kernel *ks = calloc(nk, sizeof *ks);
        list = malloc((size_t)nk * 257);
        if (ks && list && clCreateKernelsInProgram(p, nk, ks, NULL) == CL_SUCCESS) {
            list[0] = '\0';
            for (cl_uint i = 0; i < nk; ++i) {
                char name[256] = "";
                clGetKernelInfo(ks[i], CL_KERNEL_FUNCTION_NAME, sizeof name, name, NULL);
                name[sizeof name - 1] = '\0';
                if (i) strcat(list, ";");
                strcat(list, name);
                clReleaseKernel(ks[i]);
            }
        } else {
            free(list);
            list = NULL;
        }
        free(ks);
    }
    if (!list) return NULL;
    /* Drivers list them in an order of their own: sort, so equal sets compare equal. */
    size_t n = 1;
    for (const char *c = list; *c; ++c)
        n += *c == ';';
    char **names = malloc(n * sizeof *names);
    char *out = malloc(strlen(list) + 1);
    if (!names || !out) {
        free(names);
        free(out);
        free(list);
        return NULL;
    }
    n = 0;
    for (char *save = NULL, *tok = strtok_r(list, ";", &save); tok;
         tok = strtok_r(NULL, ";", &save))
        names[n++] = tok;
    qsort(names, n, sizeof *names, compare_names_);
    out[0] = '\0';
    for (size_t i = 0; i < n; ++i) {
        if (i) strcat(out, ";");
        strcat(out, names[i]);
    }
    free(names);
    free(list);
    return out;
}

/* The program in the entry at `path`, built, or NULL. A missing entry leaves why empty;
 * one that cannot be used says why there: cut short, damaged, written for another key,
 * refused by the driver, or holding other kernels than it lists. Nothing reaches
 * clCreateProgramWithBinary before its length and checksum have been checked. */
static cl_program try_disk_(lp_runtime *rt, const char *path, const key128_ *key, char *why,
                            size_t cap) {
    why[0] = '\0';
    size_t len = 0;
    errno = 0;
    unsigned char *file = (unsigned char *)read_file_(path, &len);
    if (!file) {
        if (errno != ENOENT) snprintf(why, cap, "cannot be read: %s", strerror(errno));
        return NULL;
    }
    const size_t head = LP_CACHE_HEADER_BYTES;
    uint32_t names_len = len >= head ? lp_cache_get_u32(file + LP_CACHE_OFF_NAMES_LEN) : 0;
    uint64_t payload_len = len >= head ? lp_cache_get_u64(file + LP_CACHE_OFF_PAYLOAD_LEN) : 0;
    if (len < 8 ? memcmp(file, LP_CACHE_MAGIC, len) != 0 : memcmp(file, LP_CACHE_MAGIC, 8) != 0)
        snprintf(why, cap, "is not a laperm program cache entry (no %s header)", LP_CACHE_MAGIC);
    else if (len < head)
        snprintf(why, cap, "is cut short: %zu bytes, less than its %zu-byte header", len, head);
    else if (lp_cache_get_u32(file + LP_CACHE_OFF_VERSION) != LP_CACHE_ENTRY_VERSION)
        snprintf(why, cap, "has entry format %u, this build writes %u",
                 (unsigned)lp_cache_get_u32(file + LP_CACHE_OFF_VERSION), LP_CACHE_ENTRY_VERSION);
    else if (lp_cache_get_u64(file + LP_CACHE_OFF_KEY) != key->a ||
             lp_cache_get_u64(file + LP_CACHE_OFF_KEY + 8) != key->b)
        snprintf(why, cap, "was written for another program or build (its key is not its name's)");
    else if (payload_len > len || head + names_len + payload_len > len)
        snprintf(why, cap, "is cut short: %zu of its %llu bytes", len,
                 (unsigned long long)(head + names_len + payload_len));
    else if (head + names_len + payload_len < len)
        snprintf(why, cap, "has %llu bytes past its end",
                 (unsigned long long)(len - (head + names_len + payload_len)));
    else if (payload_len == 0 || names_len == 0)
        snprintf(why, cap, "holds no %s", payload_len == 0 ? "binary" : "kernel names");
    else if (lp_cache_get_u64(file + LP_CACHE_OFF_HASH) !=
             entry_hash_((const char *)file + head, names_len, file + head + names_len,
                         (size_t)payload_len))
        snprintf(why, cap, "is damaged: its checksum does not match its contents");
    if (why[0]) {
        free(file);
        return NULL;
    }

    const unsigned char *bin = file + head + names_len;
    size_t bin_len = (size_t)payload_len;
    cl_int status = CL_SUCCESS, err;
    cl_program p =
        clCreateProgramWithBinary(rt->context, 1, &rt->info.device, &bin_len, &bin, &status, &err);
    if (err != CL_SUCCESS || status != CL_SUCCESS) {
        snprintf(why, cap, "holds a binary the driver refuses: %s",
                 lp_cl_error_name(err != CL_SUCCESS ? err : status));
    } else if ((err = clBuildProgram(p, 1, &rt->info.device, NULL, NULL, NULL)) != CL_SUCCESS) {
        snprintf(why, cap, "holds a binary that does not build: %s", lp_cl_error_name(err));
    } else {
        char *have = kernel_names_(p);
        const char *want = (const char *)file + head;
        if (!have || strlen(have) != names_len || memcmp(have, want, names_len) != 0)
            snprintf(why, cap, "holds a binary with kernels %.120s, not the %.*s it lists",
                     have ? (*have ? have : "(none)") : "(unknown)",
                     (int)(names_len < 120 ? names_len : 120), want);
        free(have);
    }
    free(file);
    if (why[0]) {
        if (p) clReleaseProgram(p);
        return NULL;
    }
    return p;
}

/* Writes the entry for p to a temporary file and renames it over `path` (in the cache
 * folder, which is made if missing): a reader sees the old entry, none, or the whole new
 * one. False when it could not. */
static bool save_disk_(cl_program p, const char *path, const key128_ *key) {
    size_t len = 0;
    if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof len, &len, NULL) != CL_SUCCESS ||
        len == 0)
        return false;
    char *names = kernel_names_(p);
    size_t names_len = names ? strlen(names) : 0;
    const size_t head = LP_CACHE_HEADER_BYTES;
    unsigned char *entry =
        names_len && names_len <= UINT32_MAX ? malloc(head + names_len + len) : NULL;
    unsigned char *bin = entry ? entry + head + names_len : NULL;
    bool ok =
        entry && clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) == CL_SUCCESS;
    if (ok) {
        memcpy(entry, LP_CACHE_MAGIC, 8);
        lp_cache_put_u32(entry + LP_CACHE_OFF_VERSION, LP_CACHE_ENTRY_VERSION);
        lp_cache_put_u32(entry + LP_CACHE_OFF_NAMES_LEN, (uint32_t)names_len);
        lp_cache_put_u64(entry + LP_CACHE_OFF_KEY, key->a);
        lp_cache_put_u64(entry + LP_CACHE_OFF_KEY + 8, key->b);
        lp_cache_put_u64(entry + LP_CACHE_OFF_PAYLOAD_LEN, len);
        lp_cache_put_u64(entry + LP_CACHE_OFF_HASH, entry_hash_(names, names_len, bin, len));
        memcpy(entry + head, names, names_len);
        char dir[4608];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = '\0';
            lp_fs_mkdir_p(dir); /* a failure shows in the write that follows */
            lp_clear_error();
        }
        char tmp[4700];
        snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
        FILE *f = fopen(tmp, "wb");
        ok = f != NULL;
        if (f) {
            ok = fwrite(entry, 1, head + names_len + len, f) == head + names_len + len;
            ok = (fclose(f) == 0) && ok;
            if (!ok || rename(tmp, path) != 0) {
                remove(tmp);
                ok = false;
            }
        }
    }
    free(entry);
    free(names);
    return ok;
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
    /* portable_math.cl first (its FP_CONTRACT pragma must precede all code; fast or
     * portable functions by -D), then common.cl, the program's prelude if any, the
     * program. */
    char *common = NULL, *math = NULL, *prelude = NULL, *body = NULL;
    const char *prelude_name = prelude_of_(program);
    lp_status s = source_text_("common", &common);
    if (s == LP_OK) s = source_text_("portable_math", &math);
    if (s == LP_OK && prelude_name) s = source_text_(prelude_name, &prelude);
    if (s == LP_OK) s = source_text_(program, &body);
    if (s != LP_OK) {
        free(common);
        free(math);
        free(prelude);
        return s;
    }
    size_t n = strlen(common) + strlen(math) + (prelude ? strlen(prelude) : 0) + strlen(body) + 64;
    char *source = malloc(n);
    char options[2048];
    snprintf(options, sizeof options, "%s %s", rt->device_options, extra);
    /* #line keeps the build log's line numbers those of the program's own file. */
    if (source)
        snprintf(source, n, "%s\n%s\n%s\n#line 1\n%s", math, common, prelude ? prelude : "", body);
    free(common);
    free(math);
    free(prelude);
    free(body);
    if (!source) return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");

    double t0 = lp_seconds();
    cl_program p = NULL;
    char dir[4096], path[4608], why[256] = "";
    key128_ key = {0, 0};
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
        key.a = lp_hash_final(h.a);
        key.b = lp_hash_final(h.b);
        snprintf(path, sizeof path, "%s/%s-%016llx%016llx.bin", dir, program,
                 (unsigned long long)key.a, (unsigned long long)key.b);
        p = try_disk_(rt, path, &key, why, sizeof why);
        if (p) rt->stats.from_disk++;
    }
    bool compiled = !p;
    if (!p) {
        s = build_from_source_(rt, program, source, options, &p);
        if (s != LP_OK) {
            free(source);
            return s;
        }
        rt->stats.compiled++;
        if (why[0]) {
            /* Not an error: the run goes on with the program just compiled. The bad entry
             * goes now, so that no run meets it again even if this one is killed; the new
             * one is written when the runtime is destroyed. */
            const char *done =
                remove(path) == 0 ? "removed the entry" : "could not remove the entry";
            rt->stats.disk_rejected++;
            snprintf(rt->stats.disk_note, sizeof rt->stats.disk_note,
                     "program cache entry %.280s %s; %s and compiled cl/%s.cl again (its new "
                     "entry is written when the run ends)",
                     path, why, done, program);
        }
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
    lp_program_entry_ *e = &rt->programs[rt->n_programs];
    *e = (lp_program_entry_){.program = strdup(program), .options = strdup(extra), .handle = p};
    if (!e->program || !e->options) { /* the lookup above compares both */
        free(e->program);
        free(e->options);
        clReleaseProgram(p);
        return lp_fail(LP_ERR_NO_MEMORY, "out of host memory caching programs");
    }
    rt->n_programs++;
    if (use_disk && compiled) {
        e->save_path = strdup(path); /* none (no memory): the next run compiles it again */
        e->key_a = key.a;
        e->key_b = key.b;
    }
    *out = p;
    return LP_OK;
}

void lp_programs_release_(lp_runtime *rt) {
    for (int i = 0; i < rt->n_programs; ++i) {
        lp_program_entry_ *e = &rt->programs[i];
        if (e->save_path) {
            key128_ key = {e->key_a, e->key_b};
            save_disk_(e->handle, e->save_path, &key); /* not saved: compiled again next run */
        }
        clReleaseProgram(e->handle);
        free(e->program);
        free(e->options);
        free(e->save_path);
    }
    free(rt->programs);
    rt->programs = NULL;
    rt->n_programs = rt->cap_programs = 0;
}
