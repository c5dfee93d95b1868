/* Files written whole: <path>.part, then renamed (out_file.h). */
#include "out_file.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fs.h"

lp_status lp_out_file_begin(const char *path, char *part, size_t cap) {
    if (!path || !*path) return lp_fail(LP_ERR_INVALID_ARG, "no output path given");
    if (snprintf(part, cap, "%s.part", path) >= (int)cap)
        return lp_fail(LP_ERR_INVALID_ARG, "%s: path too long", path);
    char dir[4096];
    lp_fs_parent_dir(path, dir, sizeof dir);
    LP_TRY(lp_fs_mkdir_p(dir));
    remove(part);
    return LP_OK;
}

lp_status lp_out_file_commit(const char *part, const char *path) {
    lp_status s = lp_fs_fsync(part);
    if (s == LP_OK && rename(part, path) != 0)
        s = lp_fail(LP_ERR_IO, "%s: cannot rename to %s: %s", part, path, strerror(errno));
    if (s != LP_OK) {
        remove(part);
        return s;
    }
    char dir[4096];
    lp_fs_parent_dir(path, dir, sizeof dir);
    return lp_fs_fsync(dir);
}
