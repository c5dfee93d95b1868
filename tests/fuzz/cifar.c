/* The CIFAR-10 and CIFAR-100 binary readers on any file: its first byte picks the split
 * (bit 0: train, else test), where the files lie (bit 1: in the tarball's subfolder,
 * cifar-10-batches-bin or cifar-100-binary), the version (bit 2: CIFAR-100, whose train
 * split is one file, train.bin; else CIFAR-10, whose five batch files each get the rest
 * of the input) and, for CIFAR-100, the labels kept (bit 3: coarse, else fine); the rest
 * is the file. The reader refuses it with a message, or every record is a label below
 * the class count and 3072 pixels in [0, 1], read back in file order (CIFAR-100: both
 * label bytes checked, the kept one stored). */
#include <sys/stat.h>

#include "fuzz.h"
#include "laperm/data.h"

#define PIXELS_ 3072

static const char *const train_[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                     "data_batch_4.bin", "data_batch_5.bin"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    bool train = data[0] & 1, sub = data[0] & 2, c100 = data[0] & 4, coarse = data[0] & 8;
    data++, size--;
    const char *subdir = c100 ? "cifar-100-binary" : "cifar-10-batches-bin";
    int files = train && !c100 ? 5 : 1, labels = c100 ? 2 : 1;
    size_t record = (size_t)labels + PIXELS_;
    char dir[4200], folder[4300];
    snprintf(dir, sizeof dir, "%s/cifar", fuzz_dir());
    fuzz_rm_tree(dir); /* the previous input's files */
    FUZZ_CHECK(mkdir(dir, 0755) == 0);
    snprintf(folder, sizeof folder, "%s%s%s", dir, sub ? "/" : "", sub ? subdir : "");
    if (sub) FUZZ_CHECK(mkdir(folder, 0755) == 0);
    for (int i = 0; i < files; ++i) {
        const char *file =
            c100 ? (train ? "train.bin" : "test.bin") : (train ? train_[i] : "test_batch.bin");
        char name[4400];
        snprintf(name, sizeof name, "cifar%s%s/%s", sub ? "/" : "", sub ? subdir : "", file);
        fuzz_file(name, data, size);
    }
    lp_dataset ds;
    const char *split = train ? "train" : "test";
    lp_status s = !c100    ? lp_cifar10_load(dir, split, &ds)
                  : coarse ? lp_cifar100_coarse_load(dir, split, &ds)
                           : lp_cifar100_load(dir, split, &ds);
    if (s != LP_OK) {
        FUZZ_CHECK(s == LP_ERR_FORMAT);
        FUZZ_CHECK(ds.x == NULL && ds.y == NULL && ds.n == 0);
        return 0;
    }
    size_t records = size / record;
    int classes = !c100 ? 10 : coarse ? 20 : 100, kept = c100 && !coarse ? 1 : 0;
    FUZZ_CHECK(size % record == 0 && records > 0);
    FUZZ_CHECK((size_t)ds.n == records * (size_t)files);
    FUZZ_CHECK(ds.c == 3 && ds.h == 32 && ds.w == 32 && ds.classes == classes);
    for (int i = 0; i < ds.n; ++i) {
        const uint8_t *rec = data + (size_t)(i % (int)records) * record;
        FUZZ_CHECK(ds.y[i] == rec[kept] && ds.y[i] < classes);
        FUZZ_CHECK(!c100 || (rec[0] < 20 && rec[1] < 100));
        for (int p = 0; p < PIXELS_; ++p)
            FUZZ_CHECK(ds.x[(size_t)i * PIXELS_ + p] == (float)rec[labels + p] / 255.0f);
    }
    lp_dataset_free(&ds);
    return 0;
}
