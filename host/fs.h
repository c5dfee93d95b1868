/* Internal: file-system helpers shared by every file laperm writes (results, compiled
 * programs, timed decisions): mkdir -p, the folder of a path, fsync by name. Below the
 * runtime, like status.c: they use nothing else of laperm. */
#ifndef LAPERM_FS_H
#define LAPERM_FS_H

#include <stdbool.h>
#include <stddef.h>

#include "laperm/status.h"

/* Makes `dir` and its missing parents; LP_ERR_IO naming the folder that could not be made,
 * or `dir` when it exists but is not a folder. */
lp_status lp_fs_mkdir_p(const char *dir);
/* The folder holding `path` ("." for a bare name, "/" for a file at the root). */
void lp_fs_parent_dir(const char *path, char *out, size_t cap);
/* Whether both paths exist and name one file (a writer must not replace its own input). */
bool lp_fs_same_file(const char *a, const char *b);
/* fsync of a file or folder by name. */
lp_status lp_fs_fsync(const char *path);

#endif
