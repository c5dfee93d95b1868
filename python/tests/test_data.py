"""laperm.data on small files written here: IDX plain and gzipped, both name forms, CIFAR
records, HDF5 data; every malformed input refused with a message naming the file and what
is wrong; the normalisation statistics as host/normalize.c computes them."""
import gzip
import math
import os
import shutil
import struct
import tempfile
import unittest

import h5py
import numpy as np

import laperm
from laperm import data
from laperm.errors import LapermError


def idx_bytes(a, code=8):
    a = np.asarray(a, np.uint8)
    return bytes([0, 0, code, a.ndim]) + struct.pack(">%dI" % a.ndim, *a.shape) + a.tobytes()


class Loaders(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="laperm-data-")
        self.rng = np.random.default_rng(0)

    def tearDown(self):
        shutil.rmtree(self.dir)

    def path(self, *names):
        return os.path.join(self.dir, *names)

    def write(self, name, raw, gz=False):
        with open(self.path(name), "wb") as fh:
            fh.write(gzip.compress(raw) if gz else raw)

    def mnist(self, n_train=6, n_test=4, gz=False, dotted=False):
        sep = "." if dotted else "-"
        imgs = {}
        for prefix, n in (("train", n_train), ("t10k", n_test)):
            x = self.rng.integers(0, 256, (n, 5, 3), dtype=np.uint8)
            y = self.rng.integers(0, 10, n, dtype=np.uint8)
            suffix = ".gz" if gz else ""
            self.write("%s-images%sidx3-ubyte%s" % (prefix, sep, suffix), idx_bytes(x), gz)
            self.write("%s-labels%sidx1-ubyte%s" % (prefix, sep, suffix), idx_bytes(y), gz)
            imgs[prefix] = (x, y)
        return imgs

    def bad(self, *words, **kw):
        with self.assertRaises(LapermError) as cm:
            data.load(kw.pop("dataset", "mnist"), kw.pop("where", self.dir), **kw)
        for w in words:
            self.assertIn(w, str(cm.exception))

    def test_idx_plain_gzip_and_names(self):
        for gz, dotted in ((False, False), (True, False), (False, True), (True, True)):
            with self.subTest(gz=gz, dotted=dotted):
                for f in os.listdir(self.dir):
                    os.remove(self.path(f))
                want = self.mnist(gz=gz, dotted=dotted)
                x, y = data.load("mnist", self.dir)
                self.assertEqual(x.shape, (4, 1, 5, 3))
                self.assertEqual(x.dtype, np.float32)
                np.testing.assert_array_equal(x[:, 0], want["t10k"][0].astype(np.float32) /
                                              np.float32(255))
                np.testing.assert_array_equal(y, want["t10k"][1])
                x, y = data.load("fashion-mnist", self.dir, split="train", subset=2)
                self.assertEqual(x.shape, (2, 1, 5, 3))

    def test_idx_errors(self):
        self.bad("no such folder", where=self.path("nowhere"))
        self.bad("no test images file", "t10k-images-idx3-ubyte")
        want = self.mnist()
        x, y = want["t10k"]
        raw = idx_bytes(x)
        self.write("t10k-images-idx3-ubyte", raw[:-7])
        self.bad("expected 60 bytes of data after the 16-byte header, found 53")
        self.write("t10k-images-idx3-ubyte", raw + b"12345678")
        self.bad("8 extra bytes after the data")
        self.write("t10k-images-idx3-ubyte", idx_bytes(x, code=0x0d))
        self.bad("IDX type code 0x0d", "only 0x08")
        self.write("t10k-images-idx3-ubyte", idx_bytes(x[:, 0]))
        self.bad("2 dimensions, expected 3")
        self.write("t10k-images-idx3-ubyte", gzip.compress(raw)[:-4])
        self.bad("corrupt gzip data")
        self.write("t10k-images-idx3-ubyte", raw)
        self.write("t10k-labels-idx1-ubyte", idx_bytes(y[:3]))
        self.bad("3 labels, but", "holds 4 images")
        self.write("t10k-labels-idx1-ubyte", idx_bytes([1, 2, 12, 3]))
        self.bad("label 2 is 12, expected 0 to 9")
        self.write("t10k-labels-idx1-ubyte", idx_bytes(y))
        self.bad("holds 4 samples, 5 were asked for", subset=5)
        self.bad("unknown dataset 'emnist'", dataset="emnist")
        self.bad("split 'valid'", split="valid")
        self.bad("unknown normalisation 'zca'", normalize="zca")

    def cifar(self, name, n, labels=1, sub=""):
        os.makedirs(self.path(sub), exist_ok=True)
        rec = self.rng.integers(0, 256, (n, labels + 3072), dtype=np.uint8)
        rec[:, 0] = rec[:, 0] % (20 if labels == 2 else 10)
        if labels == 2:
            rec[:, 1] = rec[:, 1] % 100
        rec.tofile(self.path(sub, name))
        return rec

    def test_cifar(self):
        rec = self.cifar("test_batch.bin", 3, sub="cifar-10-batches-bin")
        x, y = data.load("cifar10", self.dir)  # the tarball's folder found from its parent
        self.assertEqual(x.shape, (3, 3, 32, 32))
        np.testing.assert_array_equal(y, rec[:, 0])
        np.testing.assert_array_equal(x[1, 2, 0, :4], rec[1, 1 + 2048:1 + 2052] / np.float32(255))
        self.bad("no data_batch_1.bin", dataset="cifar10", split="train")
        for i in range(1, 5):
            self.cifar("data_batch_%d.bin" % i, 2, sub="cifar-10-batches-bin")
        self.bad("no data_batch_5.bin", dataset="cifar10", split="train")
        with open(self.path("cifar-10-batches-bin", "test_batch.bin"), "ab") as fh:
            fh.write(b"\0" * 100)
        self.bad("not a whole number of 3073-byte records", dataset="cifar10")
        rec[1, 0] = 10
        rec.tofile(self.path("cifar-10-batches-bin", "test_batch.bin"))
        self.bad("record 1 has label 10, expected 0 to 9", dataset="cifar10")
        rec = self.cifar("test.bin", 4, labels=2)
        x, fine = data.load("cifar100", self.dir)
        _, coarse = data.load("cifar100-coarse", self.dir)
        np.testing.assert_array_equal(fine, rec[:, 1])
        np.testing.assert_array_equal(coarse, rec[:, 0])
        np.testing.assert_array_equal(x[0, 0, 0, :3], rec[0, 2:5] / np.float32(255))
        rec[2, 1] = 100
        rec.tofile(self.path("test.bin"))
        self.bad("record 2 has fine label 100, expected 0 to 99", dataset="cifar100")

    def h5(self, **sets):
        path = self.path("d.h5")
        with h5py.File(path, "w") as f:
            for name, value in sets.items():
                f[name.replace("_", "/")] = value
        return path

    def test_hdf5(self):
        x = self.rng.normal(size=(5, 3)).astype(np.float64)
        path = self.h5(train_x=x, train_y=np.arange(5), test_x=x[:2], test_y=np.arange(2))
        got, y = data.load("hdf5", path)
        self.assertEqual(got.shape, (2, 3, 1, 1))
        self.assertEqual(got.dtype, np.float32)
        np.testing.assert_array_equal(got[:, :, 0, 0], x[:2].astype(np.float32))
        path = self.h5(train_x=np.zeros((2, 1, 2, 2), np.uint8), train_y=np.zeros((2, 2)),
                       test_x=np.full((1, 1, 2, 2), 255, np.uint8),
                       test_y=np.array([[0.5, 1.5]], np.float32))
        got, y = data.load("hdf5", path)
        self.assertTrue(np.all(got == 1))
        self.assertEqual(y.shape, (1, 2))
        self.assertEqual(y.dtype, np.float32)
        where = dict(dataset="hdf5")
        self.bad("no such file", where=self.path("none.h5"), **where)
        with open(self.path("text.h5"), "w") as fh:
            fh.write("not hdf5")
        self.bad("not an HDF5 file", where=self.path("text.h5"), **where)
        cases = [(dict(test_x=np.zeros((2, 3))), "no dataset /test/y"),
                 (dict(test_x=np.zeros((2, 3, 4)), test_y=np.zeros(2, int)), "has rank 3"),
                 (dict(test_x=np.zeros((2, 3)), test_y=np.zeros(3, int)),
                  "/test/x has 2 samples but /test/y has 3"),
                 (dict(test_x=np.array([[1.0, np.nan]]), test_y=np.zeros(1, int)), "NaN"),
                 (dict(test_x=np.array([[1e300]]), test_y=np.zeros(1, int)), "float32"),
                 (dict(test_x=np.zeros((0, 3)), test_y=np.zeros(0, int)), "is empty"),
                 (dict(test_x=np.zeros((2, 3), np.int32), test_y=np.zeros(2, int)),
                  "float32, float64 or uint8"),
                 (dict(test_x=np.zeros((2, 3)), test_y=np.array([0, -1])),
                  "/test/y[1] is -1: class labels must be >= 0")]
        for sets, words in cases:
            with self.subTest(words=words):
                self.bad(words, where=self.h5(**sets), **where)

    def test_normalisation_as_laperm(self):
        """The statistics as host/normalize.c's loops compute them, in plain Python: double
        sums one value at a time in the C order, rounded to float32."""
        self.mnist(n_train=7)
        train, _ = data.load("mnist", self.dir, "train")
        raw, _ = data.load("mnist", self.dir)
        n = len(train)
        flat = [float(v) for v in train.reshape(-1)]  # sample, row, column: the C order
        for mode in data.NORMALIZE_MODES:
            with self.subTest(mode=mode):
                x, _ = data.load("mnist", self.dir, normalize=mode)
                if mode == "none":
                    mean, inv = np.float32(0), np.float32(1)
                elif mode == "per-pixel-mean":
                    features = len(flat) // n
                    sums = [0.0] * features
                    for i, v in enumerate(flat):
                        sums[i % features] += v
                    mean = np.array([t / n for t in sums], np.float32).reshape(train.shape[1:])
                    inv = np.float32(1)
                else:
                    total = 0.0
                    for v in flat:
                        total += v
                    m = total / len(flat)
                    sq = 0.0
                    for v in flat:
                        sq += (v - m) * (v - m)
                    mean = np.float32(m)
                    inv = np.float32(1.0 / (math.sqrt(sq / len(flat)) + 1e-6))
                np.testing.assert_array_equal(x, (raw - mean) * inv)
        # Statistics from the first 3 training images only, as a run with --train-subset 3.
        x, _ = data.load("mnist", self.dir, normalize="per-pixel-mean", train_subset=3)
        first = train[:3].astype(np.float64)
        mean = ((first[0] + first[1]) + first[2]) / 3
        np.testing.assert_array_equal(x, raw - mean.astype(np.float32))


if __name__ == "__main__":
    unittest.main()
