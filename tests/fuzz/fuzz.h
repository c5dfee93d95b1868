/* What the libFuzzer targets of this folder share (tests/fuzz/CMakeLists.txt lists them,
 * scripts/fuzz builds and runs them): each <name>.c defines LLVMFuzzerTestOneInput, feeds
 * the input to one reader or parser and checks what it promises on success, so that a
 * promise broken (a size that wrapped, a value out of its range) is a crash like a memory
 * error. Readers that take a path get the input as a file in a folder of this process. */
#ifndef LAPERM_FUZZ_H
#define LAPERM_FUZZ_H

#include <dirent.h>
#include <sanitizer/common_interface_defs.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "laperm/status.h"

/* A broken promise: say which and where, then abort (libFuzzer keeps the input). The
 * message goes where sanitizer reports go, which is still the log when libFuzzer runs
 * with -close_fd_mask (scripts/fuzz silences what the code under test prints). */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            char fuzz_msg_[1024];                                                                  \
            snprintf(fuzz_msg_, sizeof fuzz_msg_, "%s:%d: fuzz check failed: %s (last error: %s)", \
                     __FILE__, __LINE__, #cond, lp_last_error());                                  \
            __sanitizer_report_error_summary(fuzz_msg_);                                           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The input as a C string (malloc'd; free it): up to its first NUL byte, if any. */
static inline char *fuzz_text(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    FUZZ_CHECK(s != NULL);
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static char fuzz_dir_[4096];

/* Removes a folder and everything below it (no links followed: unlink removes a link). */
static inline void fuzz_rm_tree(const char *path) {
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char sub[4400];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        fuzz_rm_tree(sub);
    }
    closedir(d);
    rmdir(path);
}

static inline void fuzz_dir_remove_(void) {
    fuzz_rm_tree(fuzz_dir_);
}

/* This process's scratch folder ($TMPDIR or /tmp), made on first use and removed when the
 * process exits normally; paths built in it are at most 4096 bytes. */
static inline const char *fuzz_dir(void) {
    if (!fuzz_dir_[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(fuzz_dir_, sizeof fuzz_dir_, "%s/laperm-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        FUZZ_CHECK(mkdtemp(fuzz_dir_) != NULL);
        atexit(fuzz_dir_remove_);
    }
    return fuzz_dir_;
}

/* Writes bytes to <fuzz_dir>/<name> (replacing it) and returns the path (static). */
static inline const char *fuzz_file(const char *name, const void *data, size_t size) {
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(fwrite(data, 1, size, f) == size);
    FUZZ_CHECK(fclose(f) == 0);
    return path;
}

#endif
