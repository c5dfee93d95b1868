/* fs.h: the few file-system steps laperm's writers share. */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

lp_status lp_fs_mkdir_p(const char *dir) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return lp_fail(LP_ERR_INVALID_ARG, "%s: path too long", dir);
    for (char *p = buf + 1;; ++p) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return lp_fail(LP_ERR_IO, "%s: cannot create folder: %s", buf, strerror(errno));
        *p = c;
        if (c == '\0') break;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return lp_fail(LP_ERR_IO, "%s: not a folder", dir);
    return LP_OK;
}

void lp_fs_parent_dir(const char *path, char *out, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, cap, ".");
    else if (slash == path)
        snprintf(out, cap, "/");
    else
        snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

lp_status lp_fs_fsync(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return lp_fail(LP_ERR_IO, "%s: cannot open to fsync: %s", path, strerror(errno));
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    if (rc != 0) return lp_fail(LP_ERR_IO, "%s: fsync failed: %s", path, strerror(err));
    return LP_OK;
}

bool lp_fs_same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}
