"""A network: a Model and its weights in laperm's layout, with a pure-numpy forward pass
in inference mode that computes what laperm's kernels compute (cl/*.cl, host/layer_*.c):
convolutions and pooling with TensorFlow's `valid`/`same` padding (the smaller half of an
odd padding first), max pooling where padding never wins, average pooling over the
in-bounds pixels, BatchNorm on its running statistics as gamma * ((x - mean) *
1/sqrt(var + eps)) + beta, dropout as the identity, [add] with its 1x1 projection,
[flatten] in channel, row, column order. Everything is float32, as on the device; only
the order of the sums differs, so logits agree to rounding.

    net = laperm.Network(model, weights)     # weights: {"layer/tensor": array}
    logits = net.forward(x)                  # x: (n, C, H, W) float32, normalised
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .errors import LapermError
from .model import Model, parse

# Values per im2col block: the forward pass cuts a batch into pieces whose unfolded
# windows stay under this many floats (128 MiB), so memory is bounded for any model.
_IM2COL_VALUES = 1 << 22


def _windows(x, kh, kw, sh, sw, pads, fill):
    """(N, C, OH, OW, kh, kw) view of x's windows after padding with `fill`."""
    pt, pb, pl, pr = pads
    if pt or pb or pl or pr:
        x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=fill)
    return sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


def conv2d(x, kernel, bias, stride, pads):
    """x (N, Cin, H, W) * kernel (F, Cin, kh, kw) -> (N, F, OH, OW), in pieces of the batch
    so that the unfolded windows stay small."""
    f, cin, kh, kw = kernel.shape
    n = x.shape[0]
    per_sample = max(1, x[:1].size * kh * kw // max(1, stride[0] * stride[1]))
    step = max(1, _IM2COL_VALUES // per_sample)
    out = []
    for first in range(0, n, step):
        win = _windows(x[first:first + step], kh, kw, stride[0], stride[1], pads, 0)
        y = np.tensordot(win, kernel, axes=([1, 4, 5], [1, 2, 3]))  # (N, OH, OW, F)
        if bias is not None:
            y += bias
        out.append(y.transpose(0, 3, 1, 2))
    return np.ascontiguousarray(np.concatenate(out) if len(out) > 1 else out[0])


def pool(x, size, stride, pads, mode):
    """Max or average pooling; the average is over the pixels inside the plane
    (TensorFlow's `same`), the maximum never taken from padding. One strided slice per
    window offset: much faster than reducing over a window view."""
    (kh, kw), (sh, sw) = size, stride
    pt, pb, pl, pr = pads
    n, c, h, w = x.shape
    oh, ow = (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1
    fill = -np.inf if mode == "maxpool" else 0
    if pt or pb or pl or pr:
        x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=fill)
    out = None
    for i in range(kh):
        for j in range(kw):
            part = x[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
            if out is None:
                out = part.copy()
            elif mode == "maxpool":
                np.maximum(out, part, out=out)
            else:
                out += part
    if mode == "maxpool":
        return out
    # In-bounds pixels of each window, per axis: the window clipped to the plane.
    rows = np.minimum(np.arange(oh) * sh - pt + kh, h) - np.maximum(np.arange(oh) * sh - pt, 0)
    cols = np.minimum(np.arange(ow) * sw - pl + kw, w) - np.maximum(np.arange(ow) * sw - pl, 0)
    return out / (rows[:, None] * cols[None, :]).astype(x.dtype)


def activate(x, fn):
    if fn == "relu":
        return np.fmax(x, x.dtype.type(0))
    if fn == "tanh":
        return np.tanh(x)
    if fn == "sigmoid":
        one = x.dtype.type(1)
        with np.errstate(over="ignore"):
            return one / (one + np.exp(-x))
    return x


class Network:
    """A model with weights. `weights` maps "layer/tensor" to arrays in laperm's layout:
    dense kernel (out, in), conv kernel (cout, cin, kh, kw), bias (n,), BatchNorm gamma,
    beta, running_mean, running_var (channels,). Every tensor the model has must be
    there with its shape, and nothing else; a mismatch names the tensor and both shapes."""

    def __init__(self, model, weights):
        if isinstance(model, str):
            model = parse(model)
        if not isinstance(model, Model):
            raise TypeError("Network(model, weights): model is a laperm.model.Model or a "
                            "model text")
        self.model = model
        want = model.tensors()
        have = {str(k): np.asarray(v) for k, v in dict(weights).items()}
        missing = [k for k in want if k not in have]
        if missing:
            raise LapermError("the weights lack %s (shape %s)%s" % (
                missing[0], want[missing[0]], " and %d more" % (len(missing) - 1)
                if len(missing) > 1 else ""))
        extra = sorted(k for k in have if k not in want)
        if extra:
            raise LapermError("the weights hold %s, which the model has no place for (its "
                              "tensors: %s)" % (extra[0], ", ".join(want)))
        for name, shape in want.items():
            if tuple(have[name].shape) != tuple(shape):
                raise LapermError("%s has shape %s, the model gives %s" % (
                    name, tuple(have[name].shape), tuple(shape)))
        self.weights = {name: np.ascontiguousarray(have[name], dtype=np.float32)
                        for name in want}

    def __repr__(self):
        return "<laperm.Network %d layers, %d parameters>" % (len(self.model.layers),
                                                             self.model.param_count())

    def _check_input(self, x):
        x = np.asarray(x)
        shape = self.model.input_shape
        if x.ndim == 2 and shape[1] == 1 and shape[2] == 1 and x.shape[1] == shape[0]:
            x = x.reshape(len(x), shape[0], 1, 1)
        if x.ndim != 4 or tuple(x.shape[1:]) != tuple(shape):
            raise LapermError("the input is %s, the model's [input] expects (n, %d, %d, %d)" % (
                x.shape, *shape))
        return x

    def forward(self, x, batch=1000, dtype=np.float32):
        """Logits (n, outputs) as float32 of x (n, C, H, W) as laperm feeds it (float32
        after normalisation), in inference mode, `batch` samples at a time; dtype=np.float64
        computes in double precision instead."""
        x = self._check_input(x)
        if len(x) == 0:
            return np.zeros((0, self.model.outputs), np.float32)
        w = {k: v.astype(dtype, copy=False) for k, v in self.weights.items()}
        out = [self._forward(x[i:i + batch].astype(dtype, copy=False), w)
               for i in range(0, len(x), max(1, int(batch)))]
        return np.concatenate(out).astype(np.float32, copy=False)

    def _forward(self, x, w):
        layers = self.model.layers
        keep = {l.source for l in layers if l.kind == "add"}
        saved = {}
        for i, l in enumerate(layers):
            k, p = l.kind, l.params
            name = l.name + "/"
            if k == "flatten":
                x = x.reshape(len(x), -1, 1, 1)
            elif k == "dense":
                y = x.reshape(len(x), -1) @ w[name + "kernel"].T
                if p["bias"]:
                    y += w[name + "bias"]
                x = activate(y, p["activation"]).reshape(len(x), -1, 1, 1)
            elif k == "conv2d":
                x = conv2d(x, w[name + "kernel"], w.get(name + "bias"), l.window[1],
                           l.window[2])
                x = activate(x, p["activation"])
            elif k in ("maxpool", "avgpool"):
                x = pool(x, l.window[0], l.window[1], l.window[2], k)
            elif k == "globalavgpool":
                x = x.mean(axis=(2, 3), keepdims=True, dtype=x.dtype)
            elif k == "batchnorm":
                def col(t):
                    return w[name + t][None, :, None, None]
                rstd = x.dtype.type(1) / np.sqrt(col("running_var") + x.dtype.type(p["eps"]))
                y = x - col("running_mean")  # gamma * ((x - mean) * rstd) + beta, in order
                y *= rstd
                y *= col("gamma")
                y += col("beta")
                x = activate(y, p["activation"])
            elif k == "add":
                src = saved[l.source]
                if p["projection"]:
                    src = conv2d(src, w[name + "kernel"], w.get(name + "bias"), l.window[1],
                                 l.window[2])
                x = activate(x + src, p["activation"])
            elif k == "activation":
                x = activate(x, p["function"])
            # input and dropout (the identity in inference) leave x as it is
            if i in keep:
                saved[i] = x
        return x.reshape(len(x), -1)

    def predict(self, x, batch=1000):
        """Class indices (n,) of x: the first largest logit, as laperm counts accuracy."""
        return np.argmax(self.forward(x, batch), axis=1)

    def to_torch(self):
        """The equivalent torch.nn.Module, in eval mode (ImportError without torch)."""
        from .torch_net import to_torch
        return to_torch(self)
