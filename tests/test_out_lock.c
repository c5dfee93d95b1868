/* One writer per results file (out_lock.h): a second lock on the same file is refused with
 * a message naming the holder's pid and command line, whether the holder is another
 * process (a forked child here) or this one; a lock file whose process is gone is taken
 * over; releasing removes the lock file. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lp_test.h"
#include "out_lock.h"

static const char *results_path_(const char *name) {
    static char path[512];
    snprintf(path, sizeof path, "%s/out-lock/%s", lp_test_tmpdir(), name);
    return path;
}

static bool exists_(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* The lock file's first line, the owner's pid (0 if none). */
static long owner_pid_(const char *results) {
    char path[600];
    snprintf(path, sizeof path, "%s.lock", results);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    long pid = 0;
    if (fscanf(f, "%ld", &pid) != 1) pid = 0;
    fclose(f);
    return pid;
}

static void test_acquire_release(void) {
    const char *res = results_path_("sub/dir/a.h5"); /* the folders do not exist yet */
    char lock_path[600];
    snprintf(lock_path, sizeof lock_path, "%s.lock", res);
    lp_out_lock *l = NULL;
    LP_TEST_OK(lp_out_lock_acquire(res, &l));
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT(exists_(lock_path));
    CU_ASSERT_EQUAL(owner_pid_(res), (long)getpid());
    lp_out_lock_release(l);
    CU_ASSERT(!exists_(lock_path));
    /* And again, now that it is free. */
    LP_TEST_OK(lp_out_lock_acquire(res, &l));
    lp_out_lock_release(l);
    lp_out_lock_release(NULL);
}

static void test_same_process(void) {
    const char *res = results_path_("b.h5");
    lp_out_lock *a = NULL, *b = NULL;
    LP_TEST_OK(lp_out_lock_acquire(res, &a));
    CU_ASSERT_EQUAL(lp_out_lock_acquire(res, &b), LP_ERR_IO);
    CU_ASSERT_PTR_NULL(b);
    char want[700];
    snprintf(want, sizeof want, "%s is being written by process %ld (", res, (long)getpid());
    if (!strstr(lp_last_error(), want)) printf("\n  message: %s\n", lp_last_error());
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), want));
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "test_out_lock"));
    /* The refused attempt did not take the lock file away from its owner. */
    CU_ASSERT_EQUAL(owner_pid_(res), (long)getpid());
    lp_out_lock_release(a);
}

/* A child takes the lock and says so on `ready`; it keeps it until `go` is readable, then
 * releases it (release = true) or ends without releasing (the lock file stays). */
static pid_t child_holding_(const char *res, bool release, int *go_fd) {
    int ready[2], go[2];
    if (pipe(ready) != 0 || pipe(go) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(ready[0]);
        close(go[1]);
        lp_out_lock *l = NULL;
        char c = lp_out_lock_acquire(res, &l) == LP_OK ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1) _exit(3);
        if (read(go[0], &c, 1) < 0) _exit(4);
        if (release) lp_out_lock_release(l);
        _exit(c == 'y' ? 0 : 5);
    }
    close(ready[1]);
    close(go[0]);
    char c = 'n';
    if (pid < 0 || read(ready[0], &c, 1) != 1 || c != 'y') {
        close(ready[0]);
        close(go[1]);
        return -1;
    }
    close(ready[0]);
    *go_fd = go[1];
    return pid;
}

static void test_other_process(void) {
    const char *res = results_path_("c.h5");
    int go = -1;
    pid_t child = child_holding_(res, true, &go);
    CU_ASSERT_FATAL(child > 0);
    lp_out_lock *l = NULL;
    CU_ASSERT_EQUAL(lp_out_lock_acquire(res, &l), LP_ERR_IO);
    char want[700];
    snprintf(want, sizeof want, "%s is being written by process %ld (", res, (long)child);
    if (!strstr(lp_last_error(), want)) printf("\n  message: %s\n", lp_last_error());
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), want));
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "test_out_lock"));
    CU_ASSERT_EQUAL(write(go, "y", 1), 1); /* let the child release and end */
    close(go);
    int status = 0;
    CU_ASSERT_EQUAL(waitpid(child, &status, 0), child);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char lock_path[600];
    snprintf(lock_path, sizeof lock_path, "%s.lock", res);
    CU_ASSERT(!exists_(lock_path));
    LP_TEST_OK(lp_out_lock_acquire(res, &l));
    lp_out_lock_release(l);
}

static void test_dead_owner(void) {
    const char *res = results_path_("d.h5");
    int go = -1;
    pid_t child = child_holding_(res, false, &go);
    CU_ASSERT_FATAL(child > 0);
    kill(child, SIGKILL); /* ends without releasing: the file stays, the lock does not */
    int status = 0;
    CU_ASSERT_EQUAL(waitpid(child, &status, 0), child);
    close(go);
    CU_ASSERT_EQUAL(owner_pid_(res), (long)child);
    lp_out_lock *l = NULL;
    lp_clear_error();
    LP_TEST_OK(lp_out_lock_acquire(res, &l));
    CU_ASSERT_STRING_EQUAL(lp_last_error(), ""); /* silently */
    CU_ASSERT_EQUAL(owner_pid_(res), (long)getpid());
    lp_out_lock_release(l);
}

static void test_bad_arguments(void) {
    lp_out_lock *l = (lp_out_lock *)1;
    CU_ASSERT_EQUAL(lp_out_lock_acquire("", &l), LP_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NULL(l);
    CU_ASSERT_EQUAL(lp_out_lock_acquire(NULL, &l), LP_ERR_INVALID_ARG);
    CU_ASSERT_EQUAL(lp_out_lock_acquire("x.h5", NULL), LP_ERR_INVALID_ARG);
    /* A folder that cannot be made: its parent is a regular file. */
    const char *file = results_path_("plain-file");
    FILE *f = fopen(file, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fclose(f);
    char res[600];
    snprintf(res, sizeof res, "%s/x.h5", file);
    CU_ASSERT_EQUAL(lp_out_lock_acquire(res, &l), LP_ERR_IO);
    CU_ASSERT_PTR_NULL(l);
}

static int clear_error_(void) {
    lp_clear_error();
    return 0;
}

static void register_suites(void) {
    CU_pSuite su = CU_add_suite("out lock", clear_error_, NULL);
    CU_add_test(su, "acquire, release, acquire again", test_acquire_release);
    CU_add_test(su, "a second lock in the same process is refused", test_same_process);
    CU_add_test(su, "another process's lock is refused, naming it", test_other_process);
    CU_add_test(su, "a dead owner's lock file is taken over", test_dead_owner);
    CU_add_test(su, "bad arguments", test_bad_arguments);
}

int main(void) {
    return lp_test_main("test_out_lock", register_suites);
}
