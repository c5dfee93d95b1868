/* The CIFAR-10 batch reader on any file: its first byte picks the split (bit 0: train,
 * whose five batch files each get the rest of the input, else test) and where the files
 * lie (bit 1: in the cifar-10-batches-bin subfolder); the rest is the batch. The reader
 * refuses it with a message, or every record is a label below 10 and 3072 pixels in
 * [0, 1], read back in file order. */
#include <sys/stat.h>

#include "fuzz.h"
#include "laperm/data.h"

#define RECORD_ 3073

static const char *const train_[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                     "data_batch_4.bin", "data_batch_5.bin"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    bool train = data[0] & 1, sub = data[0] & 2;
    data++, size--;
    char dir[4200], folder[4300];
    snprintf(dir, sizeof dir, "%s/cifar", fuzz_dir());
    fuzz_rm_tree(dir); /* the previous input's files */
    FUZZ_CHECK(mkdir(dir, 0755) == 0);
    snprintf(folder, sizeof folder, sub ? "%s/cifar-10-batches-bin" : "%s", dir);
    if (sub) FUZZ_CHECK(mkdir(folder, 0755) == 0);
    for (int i = 0; i < (train ? 5 : 1); ++i) {
        char name[4400];
        snprintf(name, sizeof name, "cifar%s/%s", sub ? "/cifar-10-batches-bin" : "",
                 train ? train_[i] : "test_batch.bin");
        fuzz_file(name, data, size);
    }
    lp_dataset ds;
    lp_status s = lp_cifar10_load(dir, train ? "train" : "test", &ds);
    if (s != LP_OK) {
        FUZZ_CHECK(s == LP_ERR_FORMAT);
        FUZZ_CHECK(ds.x == NULL && ds.y == NULL && ds.n == 0);
        return 0;
    }
    size_t records = size / RECORD_;
    FUZZ_CHECK(size % RECORD_ == 0 && records > 0);
    FUZZ_CHECK((size_t)ds.n == records * (train ? 5 : 1));
    FUZZ_CHECK(ds.c == 3 && ds.h == 32 && ds.w == 32 && ds.classes == 10);
    for (int i = 0; i < ds.n; ++i) {
        const uint8_t *rec = data + (size_t)(i % (int)records) * RECORD_;
        FUZZ_CHECK(ds.y[i] == rec[0] && ds.y[i] < 10);
        for (int p = 0; p < 3072; ++p)
            FUZZ_CHECK(ds.x[(size_t)i * 3072 + p] == (float)rec[1 + p] / 255.0f);
    }
    lp_dataset_free(&ds);
    return 0;
}
