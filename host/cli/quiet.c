/* The stderr filter of quiet.h: a pipe in place of fd 2 and a child process that copies
 * it to the real stderr line by line, less the compiler's "N warning(s) generated."
 * lines. A line that cannot become one of those is passed on before its newline arrives.
 * A process, not a thread: whatever this one wrote before it crashed, was killed or was
 * stopped by a sanitizer's report still reaches the terminal, since the child reads the
 * pipe to its end. */
#include "quiet.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int real_fd_ = -1, pipe_fd_ = -1;
static pid_t child_ = -1;

/* How much of "<digits> warning(s) generated.\n" the line s (len bytes) matches: 2 all
 * of it, 1 a beginning of it, 0 not. */
static int noise_(const char *s, size_t len) {
    size_t i = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        ++i;
    if (i == len) return 1;
    if (i == 0) return 0;
    static const char *const tails[] = {" warning generated.\n", " warnings generated.\n"};
    for (int t = 0; t < 2; ++t) {
        size_t n = strlen(tails[t]), m = len - i;
        if (m <= n && !memcmp(s + i, tails[t], m)) return m == n ? 2 : 1;
    }
    return 0;
}

static void write_all_(const char *s, size_t n) {
    while (n > 0) {
        ssize_t w = write(real_fd_, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

static void pump_(void) {
    char line[4096];
    size_t len = 0;
    bool passing = false; /* the rest of this line goes through: it cannot be noise */
    for (;;) {
        char buf[4096];
        ssize_t n = read(pipe_fd_, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; ++i) {
            line[len++] = buf[i];
            int kind = passing ? 0 : noise_(line, len);
            if (kind == 2) { /* a whole noise line: dropped */
                len = 0;
                continue;
            }
            passing = passing || kind == 0;
            if (buf[i] == '\n' || len == sizeof line) {
                write_all_(line, len);
                len = 0;
                passing = buf[i] != '\n';
            }
        }
        /* what cannot be noise goes out now, not at its newline (a prompt, a bar) */
        if (passing && len) {
            write_all_(line, len);
            len = 0;
        }
    }
    if (len) write_all_(line, len);
}

/* Puts the real stderr back in every descriptor that holds the pipe (stdout too, after
 * train --json), so that the child reads to the end; then waits for it. */
static void stop_(void) {
    if (child_ < 0) return;
    fflush(stdout);
    fflush(stderr);
    struct stat pipe_st, out_st;
    if (fstat(STDERR_FILENO, &pipe_st) == 0 && fstat(STDOUT_FILENO, &out_st) == 0 &&
        pipe_st.st_dev == out_st.st_dev && pipe_st.st_ino == out_st.st_ino)
        dup2(real_fd_, STDOUT_FILENO);
    dup2(real_fd_, STDERR_FILENO);
    while (waitpid(child_, NULL, 0) < 0 && errno == EINTR) {
    }
    child_ = -1;
}

void cli_quiet_start(void) {
    int fds[2];
    if (child_ >= 0 || pipe(fds) != 0) return;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        /* The filter: Ctrl-C and kill go to laperm, which still writes its last lines;
         * this process ends when the pipe does. */
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        signal(SIGQUIT, SIG_IGN);
        close(fds[1]);
        close(STDIN_FILENO);
        close(STDOUT_FILENO); /* a reader of laperm's stdout sees its end with laperm's */
        real_fd_ = STDERR_FILENO;
        pipe_fd_ = fds[0];
        pump_();
        _exit(0);
    }
    close(fds[0]);
    real_fd_ = dup(STDERR_FILENO);
    if (real_fd_ < 0 || dup2(fds[1], STDERR_FILENO) < 0) {
        close(fds[1]); /* the child sees the end of the pipe and goes */
        waitpid(pid, NULL, 0);
        return;
    }
    close(fds[1]);
    /* Two processes now write to where stdout and stderr lead: this one (stdout) and the
     * filter (stderr). A message written to an unbuffered stderr in pieces could then
     * arrive with stdout's lines between its pieces; a line-buffered stderr writes each
     * line at once. Nothing is pending: stderr was flushed before the fork. */
    static char stderr_buffer[BUFSIZ];
    setvbuf(stderr, stderr_buffer, _IOLBF, sizeof stderr_buffer);
    child_ = pid;
    atexit(stop_);
}

void cli_quiet_off(void) {
    stop_();
}

bool cli_quiet_stderr_isatty(void) {
    return isatty(child_ >= 0 ? real_fd_ : STDERR_FILENO);
}
