/* The disk cache of compiled programs against damaged entries: a cut file, random bytes,
 * another program's entry or raw binary under this program's name, and an entry whose
 * header is right but whose binary holds other kernels. Each must be refused before the
 * driver sees it (PoCL aborts on a cut binary), removed and compiled again with a warning in
 * the build statistics, and written anew when the runtime is destroyed, so that the next
 * run loads it from disk. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"
#include "lp_test.h"
#include "program_cache.h"

static char cache_dir_[512];

/* One "run": a fresh runtime on the test device, one kernel of `program`, its stats. */
static lp_build_stats run_(const char *program, const char *kernel) {
    lp_build_stats st;
    memset(&st, 0, sizeof st);
    const lp_device_info *d = lp_runtime_device(lp_test_rt);
    char sel[32];
    snprintf(sel, sizeof sel, "%d:%d", d->platform_index, d->device_index);
    lp_runtime_options opt = {.device = sel};
    lp_runtime *rt = NULL;
    LP_TEST_OK(lp_runtime_create(&opt, &rt));
    if (!rt) return st;
    cl_kernel k = NULL;
    LP_TEST_OK(lp_runtime_kernel(rt, program, kernel, NULL, &k));
    CU_ASSERT_PTR_NOT_NULL(k);
    st = lp_runtime_build_stats(rt);
    lp_runtime_destroy(rt);
    return st;
}

/* The path of program's entry in the cache folder (there is exactly one). */
static const char *entry_path_(const char *program) {
    static char path[1024];
    path[0] = '\0';
    DIR *dir = opendir(cache_dir_);
    if (!dir) return path;
    size_t n = strlen(program);
    int found = 0;
    for (struct dirent *e; (e = readdir(dir));) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, program, n) == 0 && e->d_name[n] == '-' && len > 4 &&
            strcmp(e->d_name + len - 4, ".bin") == 0) {
            snprintf(path, sizeof path, "%s/%s", cache_dir_, e->d_name);
            found++;
        }
    }
    closedir(dir);
    CU_ASSERT_EQUAL(found, 1);
    return path;
}

static unsigned char *read_all_(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void write_all_(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(data, 1, len, f), len);
    CU_ASSERT_EQUAL(fclose(f), 0);
}

/* After the entry of `add` was damaged: one run refuses it (the note says why and names
 * the entry), removes it, compiles, and writes it anew at its end; the next loads it from
 * disk without a warning. */
static void expect_recovery_(const char *why) {
    lp_build_stats st = run_("add", "lp_add_accumulate");
    CU_ASSERT_EQUAL(st.compiled, 1);
    CU_ASSERT_EQUAL(st.from_disk, 0);
    CU_ASSERT_EQUAL(st.disk_rejected, 1);
    if (!strstr(st.disk_note, why) || !strstr(st.disk_note, "removed the entry"))
        printf("\n  note: '%s' (expected '%s')\n", st.disk_note, why);
    CU_ASSERT_PTR_NOT_NULL(strstr(st.disk_note, why));
    CU_ASSERT_PTR_NOT_NULL(strstr(st.disk_note, "removed the entry"));
    CU_ASSERT_PTR_NOT_NULL(strstr(st.disk_note, "/add-"));
    if (getenv("LP_TEST_VERBOSE")) printf("\n  %s\n", st.disk_note);
    st = run_("add", "lp_add_accumulate");
    CU_ASSERT_EQUAL(st.compiled, 0);
    CU_ASSERT_EQUAL(st.from_disk, 1);
    CU_ASSERT_EQUAL(st.disk_rejected, 0);
    CU_ASSERT_STRING_EQUAL(st.disk_note, "");
}

static void test_damaged_entries(void) {
    /* Each step creates runtimes; the simulator runs the kernel tests, not the cache. */
    if (lp_test_simulator()) return;
    const lp_device_info *d = lp_runtime_device(lp_test_rt);
    snprintf(cache_dir_, sizeof cache_dir_, "%s/program-cache-%d-%d", lp_test_tmpdir(),
             d->platform_index, d->device_index);
    setenv("LAPERM_CACHE_DIR", cache_dir_, 1);
    unsetenv("LAPERM_CACHE");

    lp_build_stats st = run_("add", "lp_add_accumulate");
    CU_ASSERT_EQUAL(st.compiled, 1);
    CU_ASSERT_EQUAL(st.disk_rejected, 0);
    st = run_("fill", "lp_fill_float");
    CU_ASSERT_EQUAL(st.compiled, 1);
    st = run_("add", "lp_add_accumulate");
    CU_ASSERT_EQUAL(st.from_disk, 1);
    CU_ASSERT_EQUAL(st.compiled, 0);

    char add_path[1024], fill_path[1024];
    snprintf(add_path, sizeof add_path, "%s", entry_path_("add"));
    snprintf(fill_path, sizeof fill_path, "%s", entry_path_("fill"));
    size_t add_len = 0, fill_len = 0;
    unsigned char *add = read_all_(add_path, &add_len);
    unsigned char *fill = read_all_(fill_path, &fill_len);
    CU_ASSERT_FATAL(add && fill && add_len > LP_CACHE_HEADER_BYTES &&
                    fill_len > LP_CACHE_HEADER_BYTES);
    CU_ASSERT_EQUAL(memcmp(add, LP_CACHE_MAGIC, 8), 0);

    /* Cut in half: the driver would read past its end. */
    write_all_(add_path, add, add_len / 2);
    expect_recovery_("is cut short");
    /* Cut inside the header, and empty. */
    write_all_(add_path, add, 20);
    expect_recovery_("is cut short");
    write_all_(add_path, add, 0);
    expect_recovery_("is cut short");

    /* Random bytes of the same length. */
    uint64_t rng = 7;
    unsigned char *junk = malloc(add_len);
    CU_ASSERT_FATAL(junk != NULL);
    for (size_t i = 0; i < add_len; ++i)
        junk[i] = (unsigned char)lp_test_next(&rng);
    write_all_(add_path, junk, add_len);
    expect_recovery_("is not a laperm program cache entry");

    /* The right header, one flipped byte in the binary. */
    memcpy(junk, add, add_len);
    junk[add_len - 10] ^= 0x5A;
    write_all_(add_path, junk, add_len);
    expect_recovery_("checksum");

    /* Another program's whole entry, then its bare device binary. */
    write_all_(add_path, fill, fill_len);
    expect_recovery_("another program");
    uint32_t fill_names = lp_cache_get_u32(fill + LP_CACHE_OFF_NAMES_LEN);
    size_t fill_bin = LP_CACHE_HEADER_BYTES + fill_names;
    write_all_(add_path, fill + fill_bin, fill_len - fill_bin);
    expect_recovery_("is not a laperm program cache entry");

    /* A forged entry: add's key and kernel names, fill's valid binary, a checksum that
     * matches. Only loading it shows that the kernels are not add's. */
    uint32_t add_names = lp_cache_get_u32(add + LP_CACHE_OFF_NAMES_LEN);
    size_t bin_len = fill_len - fill_bin;
    size_t forged_len = LP_CACHE_HEADER_BYTES + add_names + bin_len;
    unsigned char *forged = malloc(forged_len);
    CU_ASSERT_FATAL(forged != NULL);
    memcpy(forged, add, LP_CACHE_HEADER_BYTES + add_names);
    memcpy(forged + LP_CACHE_HEADER_BYTES + add_names, fill + fill_bin, bin_len);
    lp_cache_put_u32(forged + LP_CACHE_OFF_NAMES_LEN, add_names);
    lp_cache_put_u64(forged + LP_CACHE_OFF_PAYLOAD_LEN, bin_len);
    uint64_t h = lp_hash_bytes(LP_HASH_SEED, add + LP_CACHE_HEADER_BYTES, add_names);
    lp_cache_put_u64(forged + LP_CACHE_OFF_HASH,
                     lp_hash_final(lp_hash_bytes(h, fill + fill_bin, bin_len)));
    CU_ASSERT_EQUAL(lp_cache_get_u64(forged + LP_CACHE_OFF_KEY),
                    lp_cache_get_u64(add + LP_CACHE_OFF_KEY));
    write_all_(add_path, forged, forged_len);
    expect_recovery_("lp_fill_float");

    /* An entry that cannot be written anew (a folder stands where its temporary file
     * goes) is gone all the same, so that later runs do not meet it again. */
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", add_path, (long)getpid());
    CU_ASSERT_EQUAL_FATAL(mkdir(tmp, 0755), 0);
    write_all_(add_path, add, add_len / 3);
    st = run_("add", "lp_add_accumulate");
    CU_ASSERT_EQUAL(st.disk_rejected, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(st.disk_note, "removed the entry"));
    CU_ASSERT_NOT_EQUAL(access(add_path, F_OK), 0);
    st = run_("add", "lp_add_accumulate"); /* no entry: compiled, quietly */
    CU_ASSERT_EQUAL(st.compiled, 1);
    CU_ASSERT_EQUAL(st.disk_rejected, 0);
    CU_ASSERT_EQUAL(rmdir(tmp), 0);
    st = run_("add", "lp_add_accumulate"); /* written again */
    CU_ASSERT_EQUAL(st.compiled, 1);
    st = run_("add", "lp_add_accumulate");
    CU_ASSERT_EQUAL(st.from_disk, 1);

    /* The rewritten entry is add's again (drivers need not compile to the same bytes). */
    size_t again_len = 0;
    unsigned char *again = read_all_(add_path, &again_len);
    CU_ASSERT_FATAL(again != NULL && again_len > LP_CACHE_HEADER_BYTES);
    CU_ASSERT_EQUAL(memcmp(again, add, LP_CACHE_OFF_PAYLOAD_LEN), 0);
    free(again);
    free(forged);
    free(junk);
    free(add);
    free(fill);
}

/* A run asks the driver for no binary while it runs (that would make PoCL generate code
 * for every kernel of the program): the entry appears when the runtime is destroyed. */
static void test_entry_written_at_the_end(void) {
    if (lp_test_simulator()) return;
    const lp_device_info *d = lp_runtime_device(lp_test_rt);
    char dir[512], sel[32];
    snprintf(dir, sizeof dir, "%s/program-cache-end-%d-%d", lp_test_tmpdir(), d->platform_index,
             d->device_index);
    snprintf(cache_dir_, sizeof cache_dir_, "%s", dir);
    setenv("LAPERM_CACHE_DIR", dir, 1);
    unsetenv("LAPERM_CACHE");
    snprintf(sel, sizeof sel, "%d:%d", d->platform_index, d->device_index);
    lp_runtime_options opt = {.device = sel};
    lp_runtime *rt = NULL;
    LP_TEST_OK(lp_runtime_create(&opt, &rt));
    CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
    cl_kernel k = NULL;
    LP_TEST_OK(lp_runtime_kernel(rt, "guard", "lp_guard_finite", NULL, &k));
    CU_ASSERT_EQUAL(lp_runtime_build_stats(rt).compiled, 1);
    DIR *dd = opendir(dir);
    int files = 0;
    for (struct dirent *e; dd && (e = readdir(dd));)
        files += e->d_name[0] != '.';
    if (dd) closedir(dd);
    CU_ASSERT_EQUAL(files, 0);
    lp_runtime_destroy(rt);
    CU_ASSERT_NOT_EQUAL(entry_path_("guard")[0], '\0');
    lp_build_stats st = run_("guard", "lp_guard_finite");
    CU_ASSERT_EQUAL(st.from_disk, 1);
    CU_ASSERT_EQUAL(st.compiled, 0);
}

static void register_suites(void) {
    CU_pSuite su = CU_add_suite("program cache", NULL, NULL);
    CU_add_test(su, "damaged, cut or foreign entries are rebuilt and rewritten",
                test_damaged_entries);
    CU_add_test(su, "entries are written when the runtime is destroyed",
                test_entry_written_at_the_end);
}

int main(void) {
    return lp_cltest_main("cltest_program_cache", register_suites);
}
