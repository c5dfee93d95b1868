/* Internal: files written whole (predictions, exported weights): to <path>.part, then
 * fsynced and renamed, so <path> is the previous file or the complete new one, never a
 * half-written one. */
#ifndef LAPERM_OUT_FILE_H
#define LAPERM_OUT_FILE_H

#include <stddef.h>

#include "laperm/status.h"

/* <path>.part into part (cap bytes); LP_ERR_INVALID_ARG when it does not fit. A stale one
 * is removed, and missing parent folders are made. */
lp_status lp_out_file_begin(const char *path, char *part, size_t cap);
/* fsync part, rename it to path, fsync the folder; on failure part is removed. */
lp_status lp_out_file_commit(const char *part, const char *path);

#endif
