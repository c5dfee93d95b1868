"""A Network as a torch.nn.Module (torch is optional: imported only here). The module
computes what network.py computes: NCHW tensors throughout (a flat shape is (n, C, 1, 1)),
TensorFlow `same` padding as an explicit (possibly asymmetric) F.pad, max pooling padded
with -inf, average pooling over in-bounds pixels only, BatchNorm2d with the layer's eps
and momentum in eval mode, Dropout (identity in eval mode), [add] with its 1x1
projection. Its parameters and buffers hold the Network's weights; it is returned in
eval mode.

    module = net.to_torch()
    logits = module(torch.from_numpy(x))
"""
import numpy as np

NO_TORCH = ("to_torch() needs PyTorch, which this Python (%s) cannot import: install it "
            "(Debian: apt-get install python3-torch; or pip install torch), or use the numpy "
            "forward pass (Network.forward)")


def _import_torch():
    """torch, or an ImportError that says how to get it."""
    try:
        import torch
    except ImportError as e:
        import sys
        raise ImportError(NO_TORCH % sys.executable + " [%s]" % e) from e
    return torch


def to_torch(net):
    """torch.nn.Module equivalent to `net` (a laperm.Network), in eval mode."""
    torch = _import_torch()
    nn, F = torch.nn, torch.nn.functional

    def tensor(name):
        return torch.from_numpy(np.array(net.weights[name], dtype=np.float32))

    class Pad(nn.Module):
        """Explicit padding (top, bottom, left, right) with a constant."""

        def __init__(self, pads, fill=0.0):
            super().__init__()
            pt, pb, pl, pr = pads
            self.pads, self.fill = (pl, pr, pt, pb), fill
            self.active = any(pads)

        def forward(self, x):
            return F.pad(x, self.pads, value=self.fill) if self.active else x

        def extra_repr(self):
            pl, pr, pt, pb = self.pads
            return "top=%d, bottom=%d, left=%d, right=%d, value=%g" % (pt, pb, pl, pr, self.fill)

    class AvgPool(nn.Module):
        """Sum over the window / the number of in-bounds pixels in it."""

        def __init__(self, size, stride, pads, in_hw):
            super().__init__()
            self.pad, self.size, self.stride = Pad(pads), size, stride
            ones = torch.ones((1, 1) + tuple(in_hw))
            count = F.avg_pool2d(self.pad(ones), size, stride, divisor_override=1)
            self.register_buffer("count", count)

        def forward(self, x):
            return F.avg_pool2d(self.pad(x), self.size, self.stride, divisor_override=1) / self.count

    class Act(nn.Module):
        def __init__(self, fn):
            super().__init__()
            self.fn = fn

        def forward(self, x):
            if self.fn == "relu":
                return torch.relu(x)
            if self.fn == "tanh":
                return torch.tanh(x)
            if self.fn == "sigmoid":
                return torch.sigmoid(x)
            return x

        def extra_repr(self):
            return self.fn

    class Dense(nn.Module):
        def __init__(self, linear, act):
            super().__init__()
            self.linear, self.act = linear, act

        def forward(self, x):
            y = self.linear(x.reshape(x.shape[0], -1))
            return self.act(y).reshape(y.shape[0], -1, 1, 1)

    class Add(nn.Module):
        def __init__(self, projection, act):
            super().__init__()
            self.projection, self.act = projection, act

        def forward(self, x, shortcut):
            if self.projection is not None:
                shortcut = self.projection(shortcut)
            return self.act(x + shortcut)

    def conv(layer, name, cin, cout):
        (kh, kw), stride, pads = layer.window
        c = nn.Conv2d(cin, cout, (kh, kw), stride=stride, padding=0, bias=layer["bias"])
        with torch.no_grad():
            c.weight.copy_(tensor(name + "/kernel"))
            if layer["bias"]:
                c.bias.copy_(tensor(name + "/bias"))
        return nn.Sequential(Pad(pads), c) if any(pads) else c

    class LapermModule(nn.Module):
        """The network of a laperm model; forward(x (n, C, H, W)) -> (n, outputs)."""

        def __init__(self, model):
            super().__init__()
            self.kinds, self.sources = [], []
            self.layers = nn.ModuleDict()
            self.keep = {l.source for l in model.layers if l.kind == "add"}
            for layer in model.layers[1:]:
                k, p, name = layer.kind, layer.params, layer.name
                cin = layer.in_shape[0]
                if k == "flatten":
                    m = nn.Flatten()
                elif k == "dense":
                    lin = nn.Linear(cin, p["units"], bias=p["bias"])
                    with torch.no_grad():
                        lin.weight.copy_(tensor(name + "/kernel"))
                        if p["bias"]:
                            lin.bias.copy_(tensor(name + "/bias"))
                    m = Dense(lin, Act(p["activation"]))
                elif k == "conv2d":
                    m = nn.Sequential(conv(layer, name, cin, p["filters"]), Act(p["activation"]))
                elif k == "maxpool":
                    size, stride, pads = layer.window
                    m = nn.Sequential(Pad(pads, float("-inf")), nn.MaxPool2d(size, stride))
                elif k == "avgpool":
                    size, stride, pads = layer.window
                    m = AvgPool(size, stride, pads, layer.in_shape[1:])
                elif k == "globalavgpool":
                    m = nn.AdaptiveAvgPool2d(1)
                elif k == "batchnorm":
                    # torch's momentum weighs the new batch: laperm's (Keras') 1 - momentum.
                    bn = nn.BatchNorm2d(cin, eps=p["eps"], momentum=1.0 - p["momentum"])
                    with torch.no_grad():
                        bn.weight.copy_(tensor(name + "/gamma"))
                        bn.bias.copy_(tensor(name + "/beta"))
                        bn.running_mean.copy_(tensor(name + "/running_mean"))
                        bn.running_var.copy_(tensor(name + "/running_var"))
                    m = nn.Sequential(bn, Act(p["activation"]))
                elif k == "dropout":
                    m = nn.Dropout(p["rate"])
                elif k == "add":
                    proj = conv(layer, name, model.layers[layer.source].out_shape[0], cin) \
                        if p["projection"] else None
                    m = Add(proj, Act(p["activation"]))
                elif k == "activation":
                    m = Act(p["function"])
                else:
                    raise ValueError("to_torch: unknown layer kind %s" % k)
                self.layers[name] = m
                self.kinds.append(k)
                self.sources.append(layer.source)
            self.flat_input = model.input_shape

        def forward(self, x):
            saved = {0: x} if 0 in self.keep else {}
            for i, (m, k, src) in enumerate(zip(self.layers.values(), self.kinds, self.sources),
                                            1):
                if k == "flatten":
                    x = x.reshape(x.shape[0], -1, 1, 1)
                elif k == "add":
                    x = m(x, saved[src])
                else:
                    x = m(x)
                if i in self.keep:
                    saved[i] = x
            return x.reshape(x.shape[0], -1)

    return LapermModule(net.model).eval()
