"""The model parser and the forward passes, without the laperm binary: every models/*.ini
parses with laperm's parameter counts, forwards random weights with numpy in float32 and
float64 and with torch, all agreeing; convolution and pooling against plain loops on odd
sizes with asymmetric padding; malformed model texts refused naming the line."""
import glob
import os
import sys
import unittest

import numpy as np

import laperm
from laperm import network
from laperm.errors import LapermError

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
MODELS = sorted(glob.glob(os.path.join(SRC, "models", "*.ini"))) + [
    os.path.join(HERE, "all_kinds.ini")]
# Trainable parameters as `laperm summary` prints them (README, "Shipped models").
COUNTS = {"blobs": 836, "conv13": 14991946, "conv2": 4302922, "conv4": 2427722,
          "conv7": 325578, "f1-agnostic": 7840, "f2-agnostic": 109184, "f2": 109184,
          "fmnist-bn": 422090, "lenet300": 266610, "logreg": 7840, "regression": 4801,
          "resnet20": 273066, "resnet50": 760266}


def have_torch():
    try:
        import torch  # noqa: F401
        return True
    except ImportError:
        return False


def random_weights(model, seed=0):
    """He-scaled kernels, small biases, BatchNorm statistics near 0 and 1."""
    rng = np.random.default_rng(seed)
    w = {}
    for name, shape in model.tensors().items():
        tensor = name.split("/")[1]
        if tensor == "kernel":
            fan_in = int(np.prod(shape[1:]))
            w[name] = rng.normal(0, np.sqrt(2.0 / fan_in), shape)
        elif tensor == "running_var":
            w[name] = rng.uniform(0.5, 1.5, shape)
        elif tensor == "gamma":
            w[name] = 1 + 0.1 * rng.normal(size=shape)
        else:
            w[name] = 0.1 * rng.normal(size=shape)
    return {k: v.astype(np.float32) for k, v in w.items()}


def close(a, b, rel=1e-4):
    scale = 1.0 + float(np.max(np.abs(a)))
    return float(np.max(np.abs(np.asarray(a, np.float64) - b))) <= rel * scale


class ShippedModels(unittest.TestCase):
    def test_every_model_parses_and_forwards(self):
        for path in MODELS:
            name = os.path.basename(path)[:-4]
            with self.subTest(model=name):
                model = laperm.model.load(path)
                if name in COUNTS:
                    self.assertEqual(model.param_count(), COUNTS[name])
                net = laperm.Network(model, random_weights(model))
                x = np.random.default_rng(1).normal(size=(3,) + model.input_shape)
                x = x.astype(np.float32)
                y32 = net.forward(x)
                self.assertEqual(y32.shape, (3, model.outputs))
                self.assertEqual(y32.dtype, np.float32)
                self.assertTrue(np.all(np.isfinite(y32)))
                y64 = net.forward(x, dtype=np.float64)
                self.assertTrue(close(y64, y32), "float32 vs float64 logits of %s" % name)
                if have_torch():
                    import torch
                    with torch.no_grad():
                        yt = net.to_torch()(torch.from_numpy(x)).numpy()
                    self.assertTrue(close(y64, yt), "torch vs numpy logits of %s: %g" % (
                        name, np.max(np.abs(y64 - yt))))

    def test_torch_missing_is_a_clear_import_error(self):
        model = laperm.model.load(os.path.join(SRC, "models", "logreg.ini"))
        net = laperm.Network(model, random_weights(model))
        saved = sys.modules.get("torch")
        sys.modules["torch"] = None  # import torch now raises ImportError
        try:
            with self.assertRaises(ImportError) as cm:
                net.to_torch()
            self.assertIn("to_torch() needs PyTorch", str(cm.exception))
            self.assertIn("Network.forward", str(cm.exception))
        finally:
            if saved is None:
                del sys.modules["torch"]
            else:
                sys.modules["torch"] = saved

    def test_torch_module(self):
        if not have_torch():
            self.skipTest("torch is not installed: to_torch() not tested")
        import torch
        model = laperm.model.load(os.path.join(HERE, "all_kinds.ini"))
        module = laperm.Network(model, random_weights(model)).to_torch()
        self.assertFalse(module.training)
        n = sum(p.numel() for p in module.parameters())
        self.assertEqual(n, model.param_count())
        self.assertIsInstance(module, torch.nn.Module)


def conv_loops(x, k, b, stride, pads):
    """Plain-loop convolution: the reference for network.conv2d."""
    n, c, h, w = x.shape
    f, _, kh, kw = k.shape
    pt, pb, pl, pr = pads
    xp = np.zeros((n, c, h + pt + pb, w + pl + pr))
    xp[:, :, pt:pt + h, pl:pl + w] = x
    oh, ow = (h + pt + pb - kh) // stride[0] + 1, (w + pl + pr - kw) // stride[1] + 1
    y = np.zeros((n, f, oh, ow))
    for i in range(oh):
        for j in range(ow):
            win = xp[:, :, i * stride[0]:i * stride[0] + kh, j * stride[1]:j * stride[1] + kw]
            y[:, :, i, j] = np.einsum("nchw,fchw->nf", win, k) + (0 if b is None else b)
    return y


def pool_loops(x, size, stride, pads, mode):
    """Plain-loop pooling over the in-bounds pixels of each window."""
    n, c, h, w = x.shape
    pt, pb, pl, pr = pads
    oh, ow = (h + pt + pb - size[0]) // stride[0] + 1, (w + pl + pr - size[1]) // stride[1] + 1
    y = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * stride[0] - pt, j * stride[1] - pl
            win = x[:, :, max(r0, 0):min(r0 + size[0], h), max(c0, 0):min(c0 + size[1], w)]
            y[:, :, i, j] = win.max(axis=(2, 3)) if mode == "maxpool" else win.mean(axis=(2, 3))
    return y


class Windows(unittest.TestCase):
    def test_same_padding_is_tensorflows(self):
        # (input, window, stride) -> (output, before, after): the smaller half first.
        for args, want in {(7, 3, 2): (4, 1, 1), (14, 3, 2): (7, 0, 1), (28, 5, 2): (14, 1, 2),
                           (5, 4, 1): (5, 1, 2), (6, 1, 3): (2, 0, 0),
                           (4, 2, 2): (2, 0, 0)}.items():
            self.assertEqual(laperm.model.window_axis(*args, "same"), want, args)
        self.assertEqual(laperm.model.window_axis(7, 3, 2, "valid"), (3, 0, 0))
        with self.assertRaises(ValueError):
            laperm.model.window_axis(2, 3, 1, "valid")

    def test_conv_and_pool_against_loops_on_odd_sizes(self):
        rng = np.random.default_rng(2)
        for (h, w), (kh, kw), stride, padding in [((7, 5), (3, 2), (2, 1), "same"),
                                                  ((6, 9), (5, 3), (2, 3), "same"),
                                                  ((5, 5), (4, 4), (1, 1), "same"),
                                                  ((9, 7), (3, 3), (2, 2), "valid"),
                                                  ((3, 3), (1, 1), (2, 2), "same")]:
            oh, pt, pb = laperm.model.window_axis(h, kh, stride[0], padding)
            ow, pl, pr = laperm.model.window_axis(w, kw, stride[1], padding)
            pads = (pt, pb, pl, pr)
            x = rng.normal(size=(2, 3, h, w)).astype(np.float32)
            k = rng.normal(size=(4, 3, kh, kw)).astype(np.float32)
            b = rng.normal(size=4).astype(np.float32)
            with self.subTest(h=h, w=w, kh=kh, kw=kw, stride=stride, padding=padding):
                y = network.conv2d(x, k, b, stride, pads)
                self.assertEqual(y.shape, (2, 4, oh, ow))
                np.testing.assert_allclose(y, conv_loops(x, k, b, stride, pads), rtol=1e-5,
                                           atol=1e-5)
                for mode in ("maxpool", "avgpool"):
                    got = network.pool(x, (kh, kw), stride, pads, mode)
                    np.testing.assert_allclose(got, pool_loops(x, (kh, kw), stride, pads, mode),
                                               rtol=1e-6, atol=1e-6)
        # Padding never wins a maximum, even when every value is negative.
        neg = -np.ones((1, 1, 3, 3), np.float32)
        self.assertTrue(np.all(network.pool(neg, (3, 3), (1, 1), (1, 1, 1, 1), "maxpool") == -1))

    def test_big_batches_are_cut_into_pieces(self):
        rng = np.random.default_rng(3)
        x = rng.normal(size=(40, 2, 9, 9)).astype(np.float32)
        k = rng.normal(size=(3, 2, 3, 3)).astype(np.float32)
        whole = network.conv2d(x, k, None, (1, 1), (1, 1, 1, 1))
        saved = network._IM2COL_VALUES
        network._IM2COL_VALUES = 2000  # a few samples per piece
        try:
            pieces = network.conv2d(x, k, None, (1, 1), (1, 1, 1, 1))
        finally:
            network._IM2COL_VALUES = saved
        np.testing.assert_allclose(whole, pieces, rtol=1e-5, atol=1e-5)  # BLAS blocking


class ModelText(unittest.TestCase):
    def bad(self, text, *words):
        with self.assertRaises(LapermError) as cm:
            laperm.model.parse(text, "m.ini")
        for w in words:
            self.assertIn(w, str(cm.exception))

    def test_defaults_and_names(self):
        m = laperm.model.parse("[input]\nchannels=1\nheight=8\nwidth=8\n[conv2d]\nfilters=2\n"
                               "kernel=3\n[maxpool]\nsize=2\n[flatten]\n[dense]\nname=out\n"
                               "units=3\nbias=false\n")
        self.assertEqual([l.name for l in m.layers],
                         ["input_1", "conv2d_1", "maxpool_1", "flatten_1", "out"])
        self.assertEqual(m.layers[2]["stride"], (2, 2))
        self.assertEqual(m.tensors(), {"conv2d_1/kernel": (2, 1, 3, 3), "conv2d_1/bias": (2,),
                                       "out/kernel": (3, 18)})
        self.assertEqual(m.loss, "softmax-cross-entropy")

    def test_errors_name_the_line(self):
        head = "[input]\nchannels=1\nheight=4\nwidth=4\n"
        self.bad(head + "[dense]\nunits=2\n", "m.ini:5", "flat input")
        self.bad(head + "[flatten]\n[dense]\nunits=0\n", "m.ini:7", "units")
        self.bad(head + "[conv2d]\nfilters=2\nkernel=5\n", "impossible shape")
        self.bad(head + "[conv]\n", "m.ini:5", "unknown section")
        self.bad(head + "[flatten]\ncolor=red\n", "m.ini:6", "unknown key 'color'")
        self.bad(head + "[dropout]\nrate=1\n", "m.ini:6", "rate")
        self.bad(head + "[dropout]\nrate=nan\n", "rate")
        self.bad(head + "[flatten]\nname=a\n[flatten]\nname=a\n", "already used")
        self.bad(head + "[flatten]\n[add]\nfrom=input_1\n", "cannot add")
        self.bad(head + "[flatten]\n[add]\nfrom=nowhere\n", "names no layer")
        self.bad(head + "[flatten]\n[dense]\nunits=4\n[add]\nfrom=input_1\nl2=1\n",
                 "projection = false")
        self.bad("[flatten]\n", "[input]")
        self.bad(head, "at least one layer")
        self.bad(head + "[dense]\nunits=2\nunits=3\n", "twice")
        self.bad(head + "[flatten]\nunits\n", "key = value")

    def test_network_checks_its_weights(self):
        m = laperm.model.parse("[input]\nchannels=4\nheight=1\nwidth=1\n[dense]\nunits=2\n")
        ok = {"dense_1/kernel": np.zeros((2, 4)), "dense_1/bias": np.zeros(2)}
        laperm.Network(m, ok)
        with self.assertRaisesRegex(LapermError, r"dense_1/kernel has shape \(4, 2\), the model "
                                                 r"gives \(2, 4\)"):
            laperm.Network(m, dict(ok, **{"dense_1/kernel": np.zeros((4, 2))}))
        with self.assertRaisesRegex(LapermError, "lack dense_1/bias"):
            laperm.Network(m, {"dense_1/kernel": np.zeros((2, 4))})
        with self.assertRaisesRegex(LapermError, "hold x/y, which the model has no place for"):
            laperm.Network(m, dict(ok, **{"x/y": np.zeros(1)}))
        net = laperm.Network(m.text, ok)
        self.assertEqual(net.forward(np.zeros((3, 4), np.float32)).shape, (3, 2))  # flat input
        with self.assertRaisesRegex(LapermError, "expects"):
            net.forward(np.zeros((3, 5), np.float32))


if __name__ == "__main__":
    unittest.main()
