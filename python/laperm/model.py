"""Model files (README, "Model files"), parsed as host/model_parse.c and the layer kinds'
key tables (host/layer_*.c) read them: one [section] per layer, `key = value` lines,
defaults filled in, shapes inferred layer by layer with TensorFlow's `valid`/`same` rule
(host/shape.c), and the parameter tensors each layer owns, in laperm's layout.

    model = laperm.model.parse(open("models/conv7.ini").read())
    for layer in model.layers:
        print(layer.name, layer.kind, layer.out_shape, layer.tensors)
"""
import re

import numpy as np

from .errors import LapermError

# ---- the sections and their keys (host/layer_*.c, host/layer_spec.h) ---------------------
# Value types: "int" (positive), "size2" ("3" or "5x3"), "bool", a tuple of words (a choice),
# "float" (any finite), "nonneg", "pos", "rate" (0 <= x < 1), "fraction" (0..1),
# "keep" (0 < x <= 1), "floats" (a,b,... 1 to 16), "levels" (int >= 2), "init", "bias_init",
# "name" (an identifier).
ACTIVATIONS = ("none", "relu")
PADDINGS = ("valid", "same")
KERNEL_INITS = ("he_uniform", "he_normal", "glorot_uniform", "glorot_normal", "constant",
                "choice", "ones")
BIAS_INITS = ("zeros", "ones")
LOSSES = ("softmax-cross-entropy", "mse")
FUNCTIONS = ("relu", "tanh", "sigmoid", "identity")

_INIT_OPTS = {"keep": ("keep", 1.0), "init_value": ("float", None),
              "init_values": ("floats", None), "quantize": ("levels", None)}
_KERNEL = dict({"bias": ("bool", True), "activation": (ACTIVATIONS, "none"),
                "init": (KERNEL_INITS, "he_uniform"), "bias_init": (BIAS_INITS, "zeros"),
                "l2": ("nonneg", 0.0), "permute": ("bool", True)}, **_INIT_OPTS)
_POOL = {"size": ("size2", None), "stride": ("size2", None), "padding": (PADDINGS, "valid")}

# kind -> {key: (type, default)}; a default of None with the key in REQUIRED is required.
SECTIONS = {
    "input": {"channels": ("int", None), "height": ("int", None), "width": ("int", None),
              "loss": (LOSSES, "softmax-cross-entropy")},
    "flatten": {},
    "dense": dict({"units": ("int", None)}, **_KERNEL),
    "conv2d": dict({"filters": ("int", None), "kernel": ("size2", None),
                    "stride": ("size2", (1, 1)), "padding": (PADDINGS, "valid")}, **_KERNEL),
    "maxpool": _POOL,
    "avgpool": _POOL,
    "globalavgpool": {},
    "batchnorm": {"momentum": ("fraction", 0.99), "eps": ("pos", 1e-3),
                  "activation": (ACTIVATIONS, "none"), "permute": ("bool", False)},
    "dropout": {"rate": ("rate", None)},
    "add": dict({"from": ("name", None), "projection": ("bool", False),
                 "activation": (ACTIVATIONS, "none"), "init": (KERNEL_INITS, "he_uniform"),
                 "bias": ("bool", True), "l2": ("nonneg", 0.0), "permute": ("bool", True)},
                **_INIT_OPTS),
    "activation": {"function": (FUNCTIONS, None)},
}
REQUIRED = {"input": ("channels", "height", "width"), "dense": ("units",),
            "conv2d": ("filters", "kernel"), "maxpool": ("size",), "avgpool": ("size",),
            "dropout": ("rate",), "add": ("from",), "activation": ("function",)}
# [add] keys that describe the projection: refused without projection = true.
_PROJECTION_KEYS = ("init", "bias", "l2", "permute", "keep", "init_value", "init_values",
                    "quantize")
NAME_MAX = 47
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _float32(text):
    """The value as laperm stores it: a finite 32-bit float (no inf, nan, hex or %)."""
    if not _NUMBER.match(text):
        raise ValueError
    with np.errstate(over="ignore"):
        v = np.float32(float(text))
    if not np.isfinite(v):
        raise ValueError
    return float(v)


def _value(kind, text):
    """The value of `text` as `kind`, or ValueError with what was expected."""
    if isinstance(kind, tuple):
        if text not in kind:
            raise ValueError("one of " + ", ".join(kind))
        return text
    if kind in ("int", "levels"):
        if not text.isdigit() or int(text) < (2 if kind == "levels" else 1):
            raise ValueError("an integer >= %d" % (2 if kind == "levels" else 1))
        return int(text)
    if kind == "size2":
        parts = text.split("x")
        if len(parts) == 1:
            parts = parts * 2
        if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise ValueError("a positive integer or HxW, such as 3 or 5x3")
        return int(parts[0]), int(parts[1])
    if kind == "bool":
        if text not in ("true", "false"):
            raise ValueError("true or false")
        return text == "true"
    if kind == "name":
        if not _NAME.match(text) or len(text) > NAME_MAX:
            raise ValueError("an identifier of at most %d characters" % NAME_MAX)
        return text
    if kind == "floats":
        items = text.split(",")
        try:
            values = [_float32(s.strip(" \t")) for s in items]
        except ValueError:
            raise ValueError("1 to 16 comma-separated finite numbers")
        if not 1 <= len(values) <= 16:
            raise ValueError("1 to 16 comma-separated finite numbers")
        return tuple(values)
    ranges = {"float": ("any finite number", lambda v: True),
              "nonneg": ("a number >= 0", lambda v: v >= 0),
              "pos": ("a number > 0", lambda v: v > 0),
              "rate": ("a number with 0 <= rate < 1", lambda v: 0 <= v < 1),
              "fraction": ("a number from 0 to 1", lambda v: 0 <= v <= 1),
              "keep": ("a number with 0 < keep <= 1", lambda v: 0 < v <= 1)}
    what, ok = ranges[kind]
    try:
        v = _float32(text)
    except ValueError:
        raise ValueError(what)
    if not ok(v):
        raise ValueError(what)
    return v


def window_axis(n, k, stride, padding):
    """(output size, padding before, padding after) of one axis, as host/shape.c: `same`
    gives ceil(n / stride) with the smaller half of the padding first (TensorFlow)."""
    if padding == "same":
        out = -(-n // stride)
        total = max((out - 1) * stride + k - n, 0)
        return out, total // 2, total - total // 2
    if k > n:
        raise ValueError("window %d larger than the input %d with valid padding" % (k, n))
    return (n - k) // stride + 1, 0, 0


class Layer:
    """One section: `kind`, `name`, `line`, its keys (`layer["filters"]`, defaults filled
    in), `in_shape` and `out_shape` (C, H, W), `tensors` (the parameters: [(tensor name,
    shape)] in laperm's order and layout), `state` (BatchNorm running statistics), and
    for windows `window` ((kh, kw), (sh, sw), (pad top, bottom, left, right)); an [add]
    also has `source` (the index of the layer `from` names)."""

    def __init__(self, kind, name, line):
        self.kind, self.name, self.line = kind, name, line
        self.params = {key: default for key, (_, default) in SECTIONS[kind].items()}
        self.set = set()
        self.in_shape = self.out_shape = None
        self.tensors, self.state = [], []
        self.window = None
        self.source = None

    def __getitem__(self, key):
        return self.params[key]

    def get(self, key, default=None):
        return self.params.get(key, default)

    def __repr__(self):
        return "Layer(%s %s %s)" % (self.kind, self.name, "x".join(map(str, self.out_shape or ())))


class Model:
    """A parsed model: `layers` (Layer, [input] first), `text`, `input_shape` and
    `output_shape` (C, H, W), `loss`, and `tensors()`: every weight the network reads."""

    def __init__(self, layers, text):
        self.layers, self.text = layers, text
        self.input_shape = layers[0].out_shape
        self.output_shape = layers[-1].out_shape
        self.loss = layers[0]["loss"]
        self.outputs = int(np.prod(self.output_shape))

    def layer(self, name):
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise LapermError("the model has no layer '%s'" % name)

    def tensors(self, state=True):
        """{"layer/tensor": shape} of the parameters, in laperm's order, and with `state`
        each [batchnorm]'s running_mean and running_var."""
        out = {}
        for layer in self.layers:
            for tensor, shape in layer.tensors + (layer.state if state else []):
                out[layer.name + "/" + tensor] = shape
        return out

    def param_count(self):
        return sum(int(np.prod(s)) for s in self.tensors(state=False).values())


def _sections(text, source):
    """[(kind, line, [(key, value, line)])] of the text, syntax checked."""
    sections = []
    for number, raw in enumerate(text.split("\n"), 1):
        body = raw
        for c in "#;":
            body = body.split(c, 1)[0]
        body = body.strip(" \t\r")
        if not body:
            continue
        where = "%s:%d" % (source, number)
        if body.startswith("["):
            if not body.endswith("]"):
                raise LapermError("%s: malformed section header '%s'" % (where, body))
            kind = body[1:-1].strip(" \t")
            if kind not in SECTIONS:
                raise LapermError("%s: unknown section [%s] (expected one of %s)" % (
                    where, kind, ", ".join("[%s]" % k for k in SECTIONS)))
            sections.append((kind, number, []))
            continue
        if "=" not in body:
            raise LapermError("%s: expected 'key = value' or '[section]', found '%s'" % (where,
                                                                                      body))
        if not sections:
            raise LapermError("%s: '%s' comes before the first [section]" % (where, body))
        key, value = (s.strip(" \t") for s in body.split("=", 1))
        sections[-1][2].append((key, value, number))
    return sections


def _infer(layers, source):
    """Fills in shapes, windows and tensors, as the kinds' finish functions do."""
    index = {}
    for i, layer in enumerate(layers):
        k, p = layer.kind, layer.params
        where = "%s:%d: [%s] %s" % (source, layer.line, k, layer.name)
        prev = layers[i - 1].out_shape if i else None
        if k == "input":
            if i:
                raise LapermError("%s: [input] must be the first section, once" % where)
            layer.out_shape = (p["channels"], p["height"], p["width"])
            index[layer.name] = i
            continue
        if i == 0:
            raise LapermError("%s:%d: the first section must be [input]" % (source, layer.line))
        c, h, w = layer.in_shape = prev
        flat = h == 1 and w == 1
        if k in ("conv2d", "maxpool", "avgpool", "globalavgpool") and flat:
            raise LapermError("%s: needs a spatial input, but gets the flat shape %d" % (where, c))
        if k == "flatten":
            layer.out_shape = (c * h * w, 1, 1)
        elif k == "dense":
            if not flat:
                raise LapermError("%s: needs a flat input, but gets %dx%dx%d (put [flatten] "
                                  "before it)" % (where, c, h, w))
            layer.out_shape = (p["units"], 1, 1)
            layer.tensors = [("kernel", (p["units"], c))]
            if p["bias"]:
                layer.tensors.append(("bias", (p["units"],)))
        elif k in ("conv2d", "maxpool", "avgpool"):
            (kh, kw), stride = p["kernel" if k == "conv2d" else "size"], p["stride"]
            try:
                oh, pt, pb = window_axis(h, kh, stride[0], p["padding"])
                ow, pl, pr = window_axis(w, kw, stride[1], p["padding"])
            except ValueError as e:
                raise LapermError("%s: impossible shape: %s (input %dx%dx%d)" % (where, e, c, h, w))
            layer.window = ((kh, kw), tuple(stride), (pt, pb, pl, pr))
            f = p["filters"] if k == "conv2d" else c
            layer.out_shape = (f, oh, ow)
            if k == "conv2d":
                layer.tensors = [("kernel", (f, c, kh, kw))]
                if p["bias"]:
                    layer.tensors.append(("bias", (f,)))
        elif k == "globalavgpool":
            layer.out_shape = (c, 1, 1)
        elif k == "batchnorm":
            layer.out_shape = prev
            layer.tensors = [("gamma", (c,)), ("beta", (c,))]
            layer.state = [("running_mean", (c,)), ("running_var", (c,))]
        elif k == "add":
            src = index.get(p["from"])
            if src is None:
                raise LapermError("%s: 'from' = '%s' names no layer above (expected the name "
                                  "of an earlier layer)" % (where, p["from"]))
            if src == i - 1:
                raise LapermError("%s: 'from' = '%s' names the previous layer, which is "
                                  "already the other input" % (where, p["from"]))
            layer.source = src
            fs = layers[src].out_shape
            layer.out_shape = prev
            if not p["projection"]:
                extra = [key for key in _PROJECTION_KEYS if key in layer.set]
                if extra:
                    raise LapermError("%s: '%s' is set but projection = false" % (where,
                                                                                extra[0]))
                if fs != prev:
                    raise LapermError("%s: cannot add %s from '%s' to %s without a projection "
                                      "(the shapes must be equal)" % (
                                          where, "x".join(map(str, fs)), p["from"],
                                          "x".join(map(str, prev))))
            else:
                if (fs[1] == 1 and fs[2] == 1) != flat or fs[1] % h or fs[2] % w:
                    raise LapermError("%s: cannot project %s from '%s' onto %s" % (
                        where, "x".join(map(str, fs)), p["from"], "x".join(map(str, prev))))
                layer.window = ((1, 1), (fs[1] // h, fs[2] // w), (0, 0, 0, 0))
                layer.tensors = [("kernel", (c, fs[0], 1, 1))]
                if p["bias"]:
                    layer.tensors.append(("bias", (c,)))
        else:  # dropout, activation
            layer.out_shape = prev
        index[layer.name] = i


def parse(text, source="model_text"):
    """Model of a model file's text; LapermError naming `source`:line on any error."""
    if isinstance(text, bytes):
        text = text.decode()
    layers, counts, names = [], {}, {}
    for kind, line, items in _sections(text, source):
        counts[kind] = counts.get(kind, 0) + 1
        layer = Layer(kind, "%s_%d" % (kind, counts[kind]), line)
        for key, value, number in items:
            where = "%s:%d" % (source, number)
            if key in layer.set or (key == "name" and "name" in layer.set):
                raise LapermError("%s: key '%s' appears twice in [%s]" % (where, key, kind))
            if key == "name":
                try:
                    layer.name = _value("name", value)
                except ValueError as e:
                    raise LapermError("%s: name '%s' in [%s]: expected %s" % (where, value, kind, e))
            elif key in SECTIONS[kind]:
                try:
                    layer.params[key] = _value(SECTIONS[kind][key][0], value)
                except ValueError as e:
                    raise LapermError("%s: '%s' = '%s' in [%s]: expected %s" % (
                        where, key, value, kind, e))
            else:
                keys = ", ".join(["name"] + list(SECTIONS[kind]))
                raise LapermError("%s: unknown key '%s' in [%s] (expected one of: %s)" % (
                    where, key, kind, keys))
            layer.set.add(key)
        for key in REQUIRED.get(kind, ()):
            if layer.params[key] is None:
                raise LapermError("%s:%d: [%s] needs '%s'" % (source, line, kind, key))
        if kind in ("maxpool", "avgpool") and layer.params["stride"] is None:
            layer.params["stride"] = layer.params["size"]
        if layer.name in names:
            raise LapermError("%s:%d: layer name '%s' is already used on line %d" % (
                source, line, layer.name, names[layer.name]))
        names[layer.name] = line
        layers.append(layer)
    if not layers or layers[0].kind != "input":
        raise LapermError("%s: the first section must be [input]" % source)
    if len(layers) < 2:
        raise LapermError("%s: [input] needs at least one layer after it" % source)
    _infer(layers, source)
    return Model(layers, text)


def load(path):
    """Model of the model file at `path`."""
    with open(path, encoding="utf-8") as fh:
        return parse(fh.read(), path)
