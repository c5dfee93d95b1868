"""laperm's datasets, read as host/dataset*.c read them, and its input normalisation
(host/normalize.c, cl/augment.cl): every value fed to the network is

    x = (pixel - mean[f]) * inv_std[f]      pixel = byte / 255 in float32 (or an HDF5 float)

with mean and inv_std computed in double precision from the training images and rounded
to float32. Given a run, load() uses the run's dataset, data folder, normalisation, and
its first `train_images` / `test_images` images, so x is bit for bit what laperm evaluated.

    x, y = laperm.data.load("mnist", "data/mnist")                 # test split, (n,1,28,28)
    x, y = laperm.data.load(None, None, run=laperm.open("run.h5"))  # as the run saw it
"""
import gzip
import os
import struct

import numpy as np

from .errors import LapermError

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NORMALIZE_MODES = ("none", "per-channel", "per-pixel-mean")
STD_EPSILON = 1e-6  # Keras divides by (std + 1e-6), as host/normalize.c


# ---- IDX (MNIST, Fashion-MNIST): host/idx.c, host/dataset_mnist.c ------------------------

def _read_maybe_gzip(path):
    with open(path, "rb") as fh:
        data = fh.read()
    if data[:2] == b"\x1f\x8b":  # recognised by content, as laperm does
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, ValueError) as e:
            raise LapermError("%s: corrupt gzip data: %s" % (path, e))
    return data


def read_idx(path, ndims):
    """uint8 array of an IDX file of `ndims`-D unsigned bytes, checked strictly."""
    data = _read_maybe_gzip(path)
    if len(data) < 4 or data[0] or data[1]:
        raise LapermError("%s: not an IDX file (the first two bytes must be 0)" % path)
    if data[2] != 8:
        raise LapermError("%s: IDX type code 0x%02x is not supported, only 0x08 (unsigned byte)"
                          % (path, data[2]))
    if data[3] != ndims:
        raise LapermError("%s: %d dimensions, expected %d" % (path, data[3], ndims))
    header = 4 + 4 * ndims
    if len(data) < header:
        raise LapermError("%s: the file ends inside its %d-byte header" % (path, header))
    dims = struct.unpack(">%dI" % ndims, data[4:header])
    size = int(np.prod(dims, dtype=np.int64))
    if len(data) - header < size:
        raise LapermError("%s: expected %d bytes of data after the %d-byte header, found %d" % (
            path, size, header, len(data) - header))
    if len(data) - header > size:
        raise LapermError("%s: %d extra bytes after the data (the header describes %s = %d "
                          "bytes)" % (path, len(data) - header - size,
                                      " x ".join(map(str, dims)), size))
    return np.frombuffer(data, np.uint8, size, header).reshape(dims)


def _find_idx(folder, prefix, kind, rank):
    forms = ("%s-%s-idx%d-ubyte", "%s-%s.idx%d-ubyte")
    for ext in ("", ".gz"):
        for form in forms:
            path = os.path.join(folder, (form % (prefix, kind, rank)) + ext)
            if os.path.isfile(path):
                return path
    raise LapermError("%s: no %s %s file (looked for %s and %s, each also with .gz)" % (
        folder, "train" if prefix == "train" else "test", kind, forms[0] % (prefix, kind, rank),
        forms[1] % (prefix, kind, rank)))


def _load_idx(folder, split, classes=10):
    prefix = "train" if split == "train" else "t10k"
    ipath = _find_idx(folder, prefix, "images", 3)
    lpath = _find_idx(folder, prefix, "labels", 1)
    images, labels = read_idx(ipath, 3), read_idx(lpath, 1)
    if len(images) != len(labels):
        raise LapermError("%s: %d labels, but %s holds %d images" % (lpath, len(labels), ipath,
                                                                   len(images)))
    bad = np.nonzero(labels >= classes)[0]
    if bad.size:
        raise LapermError("%s: label %d is %d, expected 0 to %d" % (lpath, bad[0],
                                                                  labels[bad[0]], classes - 1))
    return _unit(images[:, None, :, :]), labels.astype(np.int64)


# ---- CIFAR binary versions: host/dataset_cifar.c ------------------------------------------

_CIFAR = {  # name -> (subfolder, train files, test files, label bytes, which label, classes)
    "cifar10": ("cifar-10-batches-bin", ["data_batch_%d.bin" % i for i in range(1, 6)],
                ["test_batch.bin"], 1, 0, 10),
    "cifar100": ("cifar-100-binary", ["train.bin"], ["test.bin"], 2, 1, 100),
    "cifar100-coarse": ("cifar-100-binary", ["train.bin"], ["test.bin"], 2, 0, 20),
}


def _load_cifar(name, folder, split):
    sub, train, test, nlab, which, classes = _CIFAR[name]
    files = train if split == "train" else test
    where = folder
    if not os.path.isfile(os.path.join(where, files[0])):
        where = os.path.join(folder, sub)
        if not os.path.isfile(os.path.join(where, files[0])):
            raise LapermError("%s: no %s here or in %s; the %s %s split needs %s" % (
                folder, files[0], where, name, split, ", ".join(files)))
    record = nlab + 3072
    xs, ys = [], []
    for fname in files:
        path = os.path.join(where, fname)
        if not os.path.isfile(path):
            raise LapermError("%s: no %s; the %s %s split needs %s" % (where, fname, name, split,
                                                                      ", ".join(files)))
        raw = np.fromfile(path, np.uint8)
        if raw.size == 0 or raw.size % record:
            raise LapermError("%s: %d bytes is not a whole number of %d-byte records (%d label "
                              "byte%s + 3072 pixels)" % (path, raw.size, record, nlab,
                                                         "s" if nlab > 1 else ""))
        rec = raw.reshape(-1, record)
        limits = (20, 100) if nlab == 2 else (10,)
        for j, limit in enumerate(limits):
            bad = np.nonzero(rec[:, j] >= limit)[0]
            if bad.size:
                what = ("coarse ", "fine ")[j] if nlab == 2 else ""
                raise LapermError("%s: record %d has %slabel %d, expected 0 to %d" % (
                    path, bad[0], what, rec[bad[0], j], limit - 1))
        xs.append(rec[:, nlab:].reshape(-1, 3, 32, 32))
        ys.append(rec[:, which].astype(np.int64))
    return _unit(np.concatenate(xs)), np.concatenate(ys)


# ---- HDF5 data: host/dataset_hdf5.c ----------------------------------------------------------

def _load_hdf5(path, split):
    import h5py
    if not os.path.isfile(path):
        raise LapermError("%s: no such file (--dataset hdf5 takes a file: /train/x, /train/y, "
                          "/test/x, /test/y)" % path)
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise LapermError("%s: not an HDF5 file" % path)
    with f:
        for what in ("x", "y"):
            if "%s/%s" % (split, what) not in f:
                raise LapermError("%s: no dataset /%s/%s (an HDF5 data file holds /train/x, "
                                  "/train/y, /test/x and /test/y)" % (path, split, what))
        x, y = f[split + "/x"], f[split + "/y"]
        name = "/%s/x" % split
        if x.ndim not in (2, 4):
            raise LapermError("%s: %s has rank %d, expected 2 (n, features) or 4 (n, channels, "
                              "height, width)" % (path, name, x.ndim))
        if x.dtype not in (np.float32, np.float64, np.uint8):
            raise LapermError("%s: %s must be float32, float64 or uint8" % (path, name))
        if len(x) == 0:
            raise LapermError("%s: %s is empty (each split needs at least one sample)" % (path,
                                                                                       name))
        if len(x) != len(y):
            raise LapermError("%s: %s has %d samples but /%s/y has %d" % (path, name, len(x),
                                                                        split, len(y)))
        xv, yv = x[...], y[...]
    if xv.dtype == np.uint8:
        xv = _unit(xv)
    else:
        if xv.dtype == np.float64:
            with np.errstate(over="ignore"):
                x32 = xv.astype(np.float32)
            if not np.all(np.isfinite(x32[np.isfinite(xv)])):
                raise LapermError("%s: %s holds a value that does not fit a float32" % (path,
                                                                                      name))
            xv = x32
        if not np.all(np.isfinite(xv)):
            raise LapermError("%s: %s holds NaN or infinity: inputs must be finite" % (path,
                                                                                    name))
    if xv.ndim == 2:
        xv = xv.reshape(len(xv), -1, 1, 1)
    if np.issubdtype(yv.dtype, np.integer):
        if yv.ndim != 1:
            raise LapermError("%s: /%s/y holds integer labels and must have rank 1 (n)" % (
                path, split))
        if yv.size and yv.min() < 0:
            i = int(np.argmin(yv))
            raise LapermError("%s: /%s/y[%d] is %d: class labels must be >= 0" % (path, split, i,
                                                                                yv[i]))
        return xv, yv.astype(np.int64)
    if not np.issubdtype(yv.dtype, np.floating) or yv.ndim not in (1, 2):
        raise LapermError("%s: /%s/y must be integer labels (n,) or float targets (n,) or (n, "
                          "outputs)" % (path, split))
    return xv, yv.astype(np.float32).reshape(len(yv), -1)


# ---- the table of formats (host/dataset.c) ---------------------------------------------------

FORMATS = {  # name -> (default --data, loader(folder or file, split) -> (x, y))
    "mnist": ("data/mnist", _load_idx),
    "fashion-mnist": ("/usr/share/datasets/fashion-mnist", _load_idx),
    "cifar10": ("data/cifar10", lambda d, s: _load_cifar("cifar10", d, s)),
    "cifar100": ("data/cifar100", lambda d, s: _load_cifar("cifar100", d, s)),
    "cifar100-coarse": ("data/cifar100", lambda d, s: _load_cifar("cifar100-coarse", d, s)),
    "hdf5": ("data/data.h5", _load_hdf5),
}


def _unit(images):
    """bytes / 255 in float32, correctly rounded as cl/augment.cl's lp_aug_unit."""
    return np.asarray(images).astype(np.float32) / np.float32(255)


def resolve(path):
    """A data path as given, or relative to the source tree when laperm ran from there."""
    if not path or os.path.isabs(path) or os.path.exists(path):
        return path
    alt = os.path.join(SOURCE_DIR, path)
    return alt if os.path.exists(alt) else path


def load_raw(dataset, data_dir=None, split="test"):
    """(x float32 (n, C, H, W) in [0, 1] or the HDF5 floats, y) of a split, unnormalised."""
    if dataset not in FORMATS:
        raise LapermError("unknown dataset '%s' (expected one of %s)" % (dataset,
                                                                         ", ".join(FORMATS)))
    if split not in ("train", "test"):
        raise LapermError("split '%s' is neither 'train' nor 'test'" % split)
    default, loader = FORMATS[dataset]
    where = resolve(data_dir or default)
    if dataset != "hdf5" and not os.path.isdir(where):
        raise LapermError("%s: no such folder (pass the %s data folder)" % (where, dataset))
    return loader(where, split)


def _sequential_sum(chunks, axis=None):
    """The float64 sum of the chunks' values added one at a time in order, as a C loop
    `sum += x` does (numpy's own sum is pairwise and may differ in the last bit): a
    cumulative sum, carried from chunk to chunk. axis=0 sums each feature over samples."""
    total = None
    for c in chunks:
        c = c.reshape(-1) if axis is None else c.reshape(len(c), -1)
        if total is not None:
            c = np.concatenate([np.asarray(total)[None] if axis is None else total[None], c])
        total = np.cumsum(c, axis=0 if axis is not None else None)[-1]
    return total


def norm_stats(mode, train):
    """float32 (mean, inv_std), each of one sample's shape, of the training inputs
    `train` (float32, (n, C, H, W)), bit for bit as host/normalize.c computes them: double
    sums in the C loops' order, the per-channel variance in a second pass."""
    if mode not in NORMALIZE_MODES:
        raise LapermError("unknown normalisation '%s': expected %s" % (
            mode, ", ".join(NORMALIZE_MODES)))
    shape = train.shape[1:]
    if mode == "none":
        return np.zeros(shape, np.float32), np.ones(shape, np.float32)
    if len(train) == 0:
        raise LapermError("the training set is empty: no normalisation statistics")
    step = 2048
    starts = range(0, len(train), step)
    if mode == "per-pixel-mean":  # per feature, over the samples in order
        total = _sequential_sum((train[i:i + step].astype(np.float64) for i in starts), axis=0)
        return (total / len(train)).reshape(shape).astype(np.float32), np.ones(shape, np.float32)
    count = float(len(train) * shape[1] * shape[2])
    mean, inv = np.empty(shape[0], np.float32), np.empty(shape[0], np.float32)
    for ch in range(shape[0]):  # per channel: samples in order, each plane row by row
        m = _sequential_sum(train[i:i + step, ch].astype(np.float64) for i in starts) / count
        sq = _sequential_sum((train[i:i + step, ch].astype(np.float64) - m) ** 2 for i in starts)
        mean[ch] = np.float32(m)
        inv[ch] = np.float32(1.0 / (np.sqrt(sq / count) + STD_EPSILON))
    return (np.broadcast_to(mean[:, None, None], shape).copy(),
            np.broadcast_to(inv[:, None, None], shape).copy())


def apply_norm(x, mean, inv_std):
    """(x - mean) * inv_std in float32, one rounding per operation as on the device."""
    return (x.astype(np.float32) - mean[None]) * inv_std[None]


def load(dataset=None, data_dir=None, split="test", normalize=None, run=None, subset=None,
         train_subset=None):
    """(x, y) of `split` as laperm feeds it: x float32 (n, C, H, W) normalised, y int64
    labels (or float32 (n, outputs) regression targets).

    dataset, data_dir: a format of FORMATS and its folder (the file for hdf5); with a run
    they default to its recorded `dataset` and `data_dir`. normalize: "none",
    "per-channel" or "per-pixel-mean" (default: the run's `normalize`, else "none"), its
    statistics from the first `train_subset` training images (default: the run's
    `train_images`, else all). subset: keep the first N samples of the split (default
    with a run and the test split: its `test_images`)."""
    attrs = run.attrs if run is not None else {}
    dataset = dataset or attrs.get("dataset") or "mnist"
    if data_dir is None and run is not None and dataset == attrs.get("dataset"):
        data_dir = attrs.get("data_dir") or None
    mode = normalize or attrs.get("normalize") or "none"
    if mode not in NORMALIZE_MODES:
        raise LapermError("unknown normalisation '%s': expected %s" % (
            mode, ", ".join(NORMALIZE_MODES)))
    if subset is None and run is not None:
        subset = int(attrs.get("%s_images" % split, 0)) or None
    if train_subset is None and run is not None:
        train_subset = int(attrs.get("train_images", 0)) or None
    x, y = load_raw(dataset, data_dir, split)
    if subset is not None and subset > len(x):
        raise LapermError("%s: the %s split holds %d samples, %d were asked for" % (
            resolve(data_dir or FORMATS[dataset][0]), split, len(x), subset))
    if subset is not None:
        x, y = x[:subset], y[:subset]
    if mode != "none":
        train = x if split == "train" and subset == train_subset else load_raw(
            dataset, data_dir, "train")[0]
        if train_subset is not None:
            if train_subset > len(train):
                raise LapermError("the training split holds %d samples, the run used %d" % (
                    len(train), train_subset))
            train = train[:train_subset]
        mean, inv = norm_stats(mode, train)
        x = apply_norm(x, mean, inv)
    return x, y
