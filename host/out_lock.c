/* out_lock.h: <path>.lock, flock()ed while held, holding "<pid>\n<command line>\n". */
#define _DEFAULT_SOURCE /* flock */
#include "out_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"

#define CMDLINE_MAX_ 1024
#define TRIES_ 100 /* lock files removed under us (an owner releasing) before giving up */

struct lp_out_lock {
    char *path; /* <results_path>.lock */
    int fd;
};

static void sleep_ms_(long ms) {
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

/* This process's command line, arguments joined by spaces ("" where /proc has none). */
static void own_cmdline_(char *dst, size_t cap) {
    dst[0] = '\0';
    FILE *f = fopen("/proc/self/cmdline", "rb");
    if (!f) return;
    size_t n = fread(dst, 1, cap - 1, f);
    fclose(f);
    while (n > 0 && dst[n - 1] == '\0')
        n--;
    for (size_t i = 0; i < n; ++i)
        if (dst[i] == '\0' || dst[i] == '\n') dst[i] = ' ';
    dst[n] = '\0';
}

static bool write_owner_(int fd) {
    char cmd[CMDLINE_MAX_], text[CMDLINE_MAX_ + 32];
    own_cmdline_(cmd, sizeof cmd);
    int n = snprintf(text, sizeof text, "%ld\n%s\n", (long)getpid(), cmd);
    if (n < 0) return false;
    if ((size_t)n >= sizeof text) n = (int)sizeof text - 1;
    return ftruncate(fd, 0) == 0 && pwrite(fd, text, (size_t)n, 0) == (ssize_t)n;
}

/* The owner's pid (0 if unknown) and command line, as the lock file says. The owner
 * writes them just after locking: an empty file is read again a few times. */
static long read_owner_(int fd, char *cmd, size_t cap) {
    char text[CMDLINE_MAX_ + 32];
    cmd[0] = '\0';
    for (int tries = 0; tries < 20; ++tries) {
        ssize_t n = pread(fd, text, sizeof text - 1, 0);
        if (n > 0) {
            text[n] = '\0';
            char *end = NULL;
            long pid = strtol(text, &end, 10);
            if (end == text || *end != '\n' || pid <= 0) return 0;
            snprintf(cmd, cap, "%s", end + 1);
            size_t len = strlen(cmd);
            while (len > 0 && cmd[len - 1] == '\n')
                cmd[--len] = '\0';
            for (char *c = cmd; *c; ++c)
                if ((unsigned char)*c < ' ') *c = ' ';
            return pid;
        }
        sleep_ms_(5);
    }
    return 0;
}

lp_status lp_out_lock_acquire(const char *results_path, lp_out_lock **out) {
    if (!out) return lp_fail(LP_ERR_INVALID_ARG, "lp_out_lock_acquire: out is NULL");
    *out = NULL;
    if (!results_path || !*results_path)
        return lp_fail(LP_ERR_INVALID_ARG, "lp_out_lock_acquire: empty results path");
    char dir[4096];
    lp_fs_parent_dir(results_path, dir, sizeof dir);
    LP_TRY(lp_fs_mkdir_p(dir));
    size_t len = strlen(results_path) + sizeof ".lock";
    lp_out_lock *l = calloc(1, sizeof *l);
    char *path = malloc(len);
    if (!l || !path) {
        free(l);
        free(path);
        return lp_fail(LP_ERR_NO_MEMORY, "out of host memory");
    }
    snprintf(path, len, "%s.lock", results_path);
    l->path = path;
    l->fd = -1;

    for (int tries = 0; tries < TRIES_; ++tries) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            lp_status s =
                lp_fail(LP_ERR_IO, "%s: cannot create the lock file: %s", path, strerror(errno));
            lp_out_lock_release(l);
            return s;
        }
        bool locked = flock(fd, LOCK_EX | LOCK_NB) == 0;
        int err = errno;
        if (!locked && (err == EWOULDBLOCK || err == EAGAIN)) {
            char cmd[CMDLINE_MAX_];
            long pid = read_owner_(fd, cmd, sizeof cmd);
            close(fd);
            lp_status s =
                pid > 0 ? lp_fail(LP_ERR_IO,
                                  "%s is being written by process %ld (%.300s); wait for it to "
                                  "finish or choose another --out",
                                  results_path, pid, *cmd ? cmd : "command line unknown")
                        : lp_fail(LP_ERR_IO,
                                  "%s is being written by another process (it holds %s); wait "
                                  "for it to finish or choose another --out",
                                  results_path, path);
            lp_out_lock_release(l);
            return s;
        }
        if (!locked && err != ENOLCK && err != EOPNOTSUPP && err != ENOSYS && err != EINTR) {
            close(fd);
            lp_status s = lp_fail(LP_ERR_IO, "%s: cannot lock: %s", path, strerror(err));
            lp_out_lock_release(l);
            return s;
        }
        if (!locked && err == EINTR) {
            close(fd);
            continue;
        }
        /* An owner releasing removes the file while holding its lock: a lock won on the
         * removed file would be a second lock. Lock the file that the name holds now. */
        struct stat a, b;
        if (locked && (fstat(fd, &a) != 0 || stat(path, &b) != 0 || a.st_dev != b.st_dev ||
                       a.st_ino != b.st_ino)) {
            close(fd);
            sleep_ms_(1);
            continue;
        }
        /* Ours: a file left by a process that is gone is simply taken over. */
        if (!write_owner_(fd)) {
            lp_status s =
                lp_fail(LP_ERR_IO, "%s: cannot write the lock file: %s", path, strerror(errno));
            close(fd);
            if (locked) unlink(path);
            lp_out_lock_release(l);
            return s;
        }
        l->fd = fd;
        *out = l;
        return LP_OK;
    }
    lp_out_lock_release(l);
    return lp_fail(LP_ERR_IO, "%s.lock: removed and created again %d times while locking it",
                   results_path, TRIES_);
}

void lp_out_lock_release(lp_out_lock *l) {
    if (!l) return;
    if (l->fd >= 0) {
        unlink(l->path); /* while still locked, so no one locks the name's file in between */
        close(l->fd);
    }
    free(l->path);
    free(l);
}
