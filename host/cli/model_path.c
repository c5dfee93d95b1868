/* Model files by name (model_path.h). */
#include "model_path.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"

#ifndef LAPERM_SOURCE_MODELS
#define LAPERM_SOURCE_MODELS ""
#endif
#ifndef LAPERM_INSTALL_MODELS
#define LAPERM_INSTALL_MODELS ""
#endif

static bool is_file_(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* <folder of this program>/../share/laperm/models: where `cmake --install --prefix P` put
 * them, whatever prefix the build was configured with. */
static bool beside_program_(char *out, size_t cap) {
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return false;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return false;
    *slash = '\0';
    return snprintf(out, cap, "%s/../share/laperm/models", exe) < (int)cap;
}

int cli_model_dirs(char dirs[][4096], int max) {
    char candidates[4][4096] = {"./models", LAPERM_SOURCE_MODELS, "", LAPERM_INSTALL_MODELS};
    if (!beside_program_(candidates[2], sizeof candidates[2])) candidates[2][0] = '\0';
    int n = 0;
    struct stat seen[4];
    for (int i = 0; i < 4 && n < max; ++i) {
        if (!candidates[i][0]) continue;
        /* the same folder reached twice (a build run from the source tree) is listed once */
        struct stat st;
        bool dup = false;
        if (stat(candidates[i], &st) == 0)
            for (int j = 0; j < n; ++j)
                dup = dup || (seen[j].st_ino && seen[j].st_dev == st.st_dev &&
                              seen[j].st_ino == st.st_ino);
        else
            memset(&st, 0, sizeof st);
        if (dup) continue;
        seen[n] = st;
        snprintf(dirs[n++], 4096, "%.4095s", candidates[i]);
    }
    return n;
}

static int compare_(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The model names (file names less .ini) in the folders, sorted, without repeats. */
static int names_(char dirs[][4096], int n_dirs, char **names, int max) {
    int n = 0;
    for (int d = 0; d < n_dirs; ++d) {
        DIR *dir = opendir(dirs[d]);
        if (!dir) continue;
        for (struct dirent *e; (e = readdir(dir)) && n < max;) {
            size_t len = strlen(e->d_name);
            if (len <= 4 || strcmp(e->d_name + len - 4, ".ini")) continue;
            char *name = strndup(e->d_name, len - 4);
            bool dup = false;
            for (int i = 0; i < n && name; ++i)
                dup = dup || !strcmp(names[i], name);
            if (!name || dup)
                free(name);
            else
                names[n++] = name;
        }
        closedir(dir);
    }
    qsort(names, (size_t)n, sizeof *names, compare_);
    return n;
}

int cli_model_path(const char *cmd, const char *given, char *out, size_t cap) {
    snprintf(out, cap, "%s", given);
    if (!given[0]) { /* --model= */
        fprintf(stderr,
                "laperm %s: the model is empty: give a model file or a name such as conv7\n", cmd);
        return 2;
    }
    if (is_file_(given) || strchr(given, '/')) return 0;
    char dirs[4][4096];
    int n_dirs = cli_model_dirs(dirs, 4);
    size_t len = strlen(given);
    bool has_ini = len > 4 && !strcmp(given + len - 4, ".ini");
    for (int d = 0; d < n_dirs; ++d) {
        snprintf(out, cap, "%s/%s%s", dirs[d], given, has_ini ? "" : ".ini");
        if (is_file_(out)) return 0;
    }
    char *names[256];
    int n = names_(dirs, n_dirs, names, 256);
    char base[256];
    snprintf(base, sizeof base, "%.*s", (int)(has_ini ? len - 4 : len), given);
    fprintf(stderr, "laperm %s: no model file '%s', nor a model named '%s' in", cmd, given, base);
    for (int d = 0; d < n_dirs; ++d)
        fprintf(stderr, "%s %s", d ? "," : "", dirs[d]);
    const char *near = cli_closest(base, names, n, sizeof *names);
    if (near) fprintf(stderr, "; did you mean %s?", near);
    fprintf(stderr, "\n  models available:");
    for (int i = 0; i < n; ++i)
        fprintf(stderr, " %s", names[i]);
    fprintf(stderr, "%s\n", n ? "" : " none");
    for (int i = 0; i < n; ++i)
        free(names[i]);
    return 2;
}
