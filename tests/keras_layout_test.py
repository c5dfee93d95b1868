#!/usr/bin/env python3
"""ctest keras_layout: Keras save_weights files built with h5py from known weights are read
by laperm with the right layouts.

The weights are drawn in Keras' own layout (conv kernels (kh, kw, cin, cout), dense
(in, out), BatchNorm gamma, beta, moving_mean, moving_variance), and the reference is a
numpy forward pass in Keras' semantics: channels-last images, TensorFlow "same" padding
(the smaller half before, here with stride 2 on odd sizes, so the halves differ), and
Keras' Flatten of (h, w, c). laperm reads the file for a model of the same architecture
(tests/keras_layout_test.py writes it), runs `laperm eval --out` on an HDF5 data file of
the same inputs (channels-first), and its logits must match numpy's to float rounding.
The same weights exported by laperm as .npz (laperm's / PyTorch's layout) and run through
the package's numpy forward pass (python/laperm, laperm.Network, channels-first) must give
the same logits too. A second file in Keras 3's .weights.h5 layout is refused with a
message saying so.
Environment (set by ctest): LAPERM_BINARY. Exit 77 when h5py is missing.
"""
import os
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
except ImportError:
    print("keras_layout: /usr/bin/python3 has no h5py/numpy: skipped")
    sys.exit(77)

BIN = os.environ.get("LAPERM_BINARY", os.path.join(os.getcwd(), "build", "laperm"))

MODEL = """[input]
channels = 2
height = 7
width = 5
loss = softmax-cross-entropy

[conv2d]
name = c1
filters = 3
kernel = 3
stride = 2
padding = same
activation = relu

[batchnorm]
name = bn

[conv2d]
name = c2
filters = 4
kernel = 2
padding = valid
activation = relu

[flatten]

[dense]
name = d1
units = 5
activation = relu

[dense]
name = d2
units = 3
"""


def same_pad(n, k, s):
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return out, total // 2, total - total // 2


def conv_nhwc(x, k, b, stride, padding):
    """x (n, h, w, cin), k (kh, kw, cin, cout): Keras Conv2D."""
    n, h, w, _ = x.shape
    kh, kw, _, cout = k.shape
    if padding == "same":
        oh, top, bottom = same_pad(h, kh, stride)
        ow, left, right = same_pad(w, kw, stride)
        x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    else:
        oh, ow = (h - kh) // stride + 1, (w - kw) // stride + 1
    y = np.zeros((n, oh, ow, cout), np.float64)
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            y[:, i, j, :] = np.tensordot(patch, k, axes=([1, 2, 3], [0, 1, 2]))
    return y + b


def forward(x_nhwc, w):
    relu = lambda v: np.maximum(v, 0)
    y = relu(conv_nhwc(x_nhwc, w["c1/kernel"], w["c1/bias"], 2, "same"))
    y = w["bn/gamma"] * (y - w["bn/moving_mean"]) / np.sqrt(w["bn/moving_variance"] + 1e-3) \
        + w["bn/beta"]
    y = relu(conv_nhwc(y, w["c2/kernel"], w["c2/bias"], 1, "valid"))
    y = y.reshape(len(y), -1)  # Keras Flatten of (h, w, c)
    y = relu(y @ w["d1/kernel"] + w["d1/bias"])
    return y @ w["d2/kernel"] + w["d2/bias"]


def main():
    rng = np.random.default_rng(7)
    keras = {  # Keras layouts
        "c1/kernel": rng.normal(0, 0.5, (3, 3, 2, 3)), "c1/bias": rng.normal(0, 0.1, 3),
        "bn/gamma": rng.uniform(0.5, 1.5, 3), "bn/beta": rng.normal(0, 0.1, 3),
        "bn/moving_mean": rng.normal(0, 0.3, 3), "bn/moving_variance": rng.uniform(0.5, 2, 3),
        "c2/kernel": rng.normal(0, 0.5, (2, 2, 3, 4)), "c2/bias": rng.normal(0, 0.1, 4),
        "d1/kernel": rng.normal(0, 0.3, (24, 5)), "d1/bias": rng.normal(0, 0.1, 5),
        "d2/kernel": rng.normal(0, 0.3, (5, 3)), "d2/bias": rng.normal(0, 0.1, 3),
    }
    keras = {k: v.astype(np.float32) for k, v in keras.items()}
    layers = [("conv2d", "c1", ["kernel", "bias"]),
              ("batch_normalization", "bn", ["gamma", "beta", "moving_mean", "moving_variance"]),
              ("conv2d_1", "c2", ["kernel", "bias"]), ("flatten", None, []),
              ("dense", "d1", ["kernel", "bias"]), ("dense_1", "d2", ["kernel", "bias"])]
    n = 23
    x = rng.uniform(-1, 1, (n, 2, 7, 5)).astype(np.float32)  # laperm: (n, c, h, w)
    want = forward(x.transpose(0, 2, 3, 1).astype(np.float64), keras)

    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "model.ini")
        open(model, "w").write(MODEL)
        data = os.path.join(tmp, "data.h5")
        with h5py.File(data, "w") as f:
            for split in ("train", "test"):
                f[split + "/x"] = x
                f[split + "/y"] = np.arange(n, dtype=np.int64) % 3
        weights = os.path.join(tmp, "keras.h5")
        with h5py.File(weights, "w") as f:  # as Keras 2's save_weights writes it
            f.attrs["layer_names"] = np.array([name.encode() for name, _, _ in layers])
            f.attrs["backend"] = b"tensorflow"
            f.attrs["keras_version"] = b"2.15.0"
            for name, ours, tensors in layers:
                g = f.create_group(name)
                g.attrs["weight_names"] = np.array(
                    [f"{name}/{t}:0".encode() for t in tensors], dtype="S")
                for t in tensors:
                    g[f"{name}/{t}:0"] = keras[f"{ours}/{t}"]
        out = os.path.join(tmp, "pred.h5")
        cmd = [BIN, "eval", "--weights", weights, "--model", model, "--dataset", "hdf5",
               "--data", data, "--out", out]
        r = subprocess.run(cmd, capture_output=True, text=True)
        print(r.stdout + r.stderr)
        if r.returncode != 0:
            print("keras_layout: laperm eval failed")
            return 1
        got = h5py.File(out, "r")["logits"][...]
        err = np.abs(got - want).max()
        print(f"max |laperm - numpy| over {n} samples x 3 logits: {err:.3g}")
        if not err < 1e-4:
            print("keras_layout: logits differ")
            return 1

        # laperm's conversion, exported as .npz, through the package's channels-first forward
        npz = os.path.join(tmp, "w.npz")
        r = subprocess.run([BIN, "export", "--format", "npz", "--weights", weights, "--model",
                            model, "-o", npz], capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stderr + "keras_layout: export --format npz failed")
            return 1
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                        "python"))
        import laperm
        bn = {"bn.weight": "bn/gamma", "bn.bias": "bn/beta"}
        z = np.load(npz)
        ours = {bn.get(k, k.replace(".weight", "/kernel").replace(".", "/")): z[k] for k in z}
        net = laperm.Network(laperm.model.parse(MODEL), ours)
        err2 = np.abs(net.forward(x, dtype=np.float64) - want).max()
        print(f"max |laperm.Network (from the .npz) - numpy Keras| : {err2:.3g}")
        if not err2 < 1e-6:
            print("keras_layout: the exported .npz does not hold Keras' network")
            return 1

        # Keras 3's .weights.h5: refused, saying what it is
        k3 = os.path.join(tmp, "model.weights.h5")
        with h5py.File(k3, "w") as f:
            f["layers/dense/vars/0"] = keras["d2/kernel"]
        r = subprocess.run([BIN, "eval", "--weights", k3, "--model", model, "--dataset", "hdf5",
                            "--data", data], capture_output=True, text=True)
        print(r.stderr)
        if r.returncode != 1 or "Keras 3 .weights.h5" not in r.stderr:
            print("keras_layout: a Keras 3 file was not refused clearly")
            return 1
    print("keras_layout: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
