"""Evaluating a run's network on its test data, as laperm does: the mean softmax
cross-entropy and the fraction of first-largest logits equal to the label (for a model
with `loss = mse`: the mean over samples of the mean squared error over outputs, and the
mean absolute error in place of accuracy).

    r = laperm.evaluate("results/run.h5", epoch=2)
    print(r["accuracy"], r["loss"], r["n"])

`python3 -m laperm evaluate FILE ...` prints the same (see main's usage).
"""
import argparse
import sys

import numpy as np

from . import data as data_mod
from .errors import LapermError
from .results import Run, open as open_run


def losses(logits, y, loss="softmax-cross-entropy"):
    """(mean loss, accuracy or for mse the mean absolute error, per-sample predictions)."""
    logits = np.asarray(logits, dtype=np.float64)
    if loss == "mse":
        t = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        if t.shape != logits.shape:
            raise LapermError("the network has %d outputs per sample, the targets %d" % (
                logits.shape[1], t.shape[1]))
        d = logits - t
        return float(np.mean(np.mean(d * d, axis=1))), float(np.mean(np.abs(d))), logits
    y = np.asarray(y).astype(np.int64)
    if len(y) and logits.shape[1] <= int(y.max()):
        raise LapermError("the network has %d outputs, but a label is %d" % (logits.shape[1],
                                                                             int(y.max())))
    m = logits.max(axis=1)
    lse = m + np.log(np.exp(logits - m[:, None]).sum(axis=1))
    pred = np.argmax(logits, axis=1)  # ties: the first maximum, as cl/loss.cl
    loss_value = float(np.mean(lse - logits[np.arange(len(y)), y])) if len(y) else float("nan")
    acc = float(np.mean(pred == y)) if len(y) else float("nan")
    return loss_value, acc, pred


def torch_logits(net, x, batch=1000):
    """Logits of x through net.to_torch(), float32 numpy."""
    from .torch_net import _import_torch
    torch = _import_torch()  # the clear ImportError when torch is missing
    module = net.to_torch()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.append(module(torch.from_numpy(np.ascontiguousarray(x[i:i + batch]))).numpy())
    return np.concatenate(out) if out else np.zeros((0, net.model.outputs), np.float32)


def evaluate(run, data_dir=None, epoch=None, snapshot=None, source="snapshot", dataset=None,
             test_subset=None, use_torch=False, batch=1000, data=None):
    """dict(loss, accuracy, n, predictions, logits, labels, network) of a run's network
    (see Run.network for epoch, snapshot, source) on its test data (laperm.data.load
    with the run's dataset, data folder, normalisation and test images unless dataset,
    data_dir or test_subset say otherwise; data=(x, y) skips the loading). use_torch
    evaluates through to_torch(). For a regression run `accuracy` is the mean absolute
    error (laperm's /metrics test_mae)."""
    own = not isinstance(run, Run)
    run = open_run(run) if own else run
    try:
        net = run.network(epoch=epoch, snapshot=snapshot, source=source)
        if data is None:
            data = data_mod.load(dataset, data_dir, "test", run=run, subset=test_subset)
        x, y = data
        logits = torch_logits(net, x, batch) if use_torch else net.forward(x, batch)
        loss_kind = run.attrs.get("loss") or net.model.loss
        loss, acc, pred = losses(logits, y, loss_kind)
        return {"loss": loss, "accuracy": acc, "n": len(x), "predictions": pred,
                "logits": logits, "labels": y, "network": net}
    finally:
        if own:
            run.close()


USAGE = """python3 -m laperm evaluate FILE [--data DIR] [--dataset NAME]
        [--epoch N | --snapshot I | --weights | --best | --init] [--torch]
        [--test-subset N] [--batch N]

Evaluates a results file's network on the test data with numpy alone (--torch: through
to_torch() in PyTorch) and prints its loss and accuracy, next to the figures laperm
recorded in /metrics for that epoch. The network is the last snapshot by default (the
final state; /weights in a file without snapshots, such as laperm unpack's), --epoch N the one at the end of epoch N, --snapshot I snapshot I (negative
counts from the end), --weights /weights, --best /best (--save-best), --init /init. The
data default to the run's dataset, data folder, normalisation and test images.
Exits 0, 1 when the file or the data cannot be used, 2 on a usage error."""


def _recorded(run, epoch, snapshot, source):
    """(epoch, accuracy, loss) laperm recorded for the network evaluated, or None."""
    if source == "best":  # /best's own attributes: also in a .part, before the finish
        b = run.file["best"].attrs if "best" in run.file else {}
        if "test_accuracy" not in b:
            return None
        return int(b["epoch"]), float(b["test_accuracy"]), float(b["test_loss"])
    if source == "init":
        return None
    if source == "weights":
        if not run.snapshots:  # e.g. laperm unpack's file: /weights alone
            return None
        index = len(run.snapshots) - 1
    else:
        index = run._snapshot(snapshot) if snapshot is not None else run.snapshot_index(epoch)
    s = run.snapshots[index]
    i = run.metric_index(s.epoch) if s.epoch > 0 else None
    if i is None or ("step" in run.metrics and int(run.metrics["step"][i]) != s.step):
        return None
    acc = "test_mae" if (run.attrs.get("loss") == "mse") else "test_accuracy"
    return s.epoch, float(run.metrics[acc][i]), float(run.metrics["test_loss"][i])


def main(argv):
    ap = argparse.ArgumentParser(prog="python3 -m laperm evaluate", usage=USAGE.split("\n\n")[0],
                                 description=USAGE.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", help="a results file (.h5, or a running or killed job's .part)")
    ap.add_argument("--data", metavar="DIR",
                    help="data folder (hdf5: file); default: the run's data_dir")
    ap.add_argument("--dataset", choices=list(data_mod.FORMATS))
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--epoch", type=int, metavar="N", help="the snapshot of epoch N's end")
    which.add_argument("--snapshot", type=int, metavar="I", help="snapshot index I")
    which.add_argument("--weights", dest="source", action="store_const", const="weights",
                       help="/weights (the final network)")
    which.add_argument("--best", dest="source", action="store_const", const="best",
                       help="/best (runs with --save-best)")
    which.add_argument("--init", dest="source", action="store_const", const="init",
                       help="/init (the initial network)")
    ap.add_argument("--torch", action="store_true", help="evaluate through to_torch()")
    ap.add_argument("--test-subset", type=int, metavar="N", help="the first N test images")
    ap.add_argument("--batch", type=int, default=1000, metavar="N",
                    help="samples per forward pass (default 1000)")
    a = ap.parse_args(argv)
    if a.test_subset is not None and a.test_subset <= 0:
        ap.error("--test-subset must be positive")
    if a.batch <= 0:
        ap.error("--batch must be positive")
    source = a.source or "snapshot"
    try:
        with open_run(a.file) as run:
            if (not a.source and a.epoch is None and a.snapshot is None and not run.snapshots
                    and "weights" in run.file):
                source = "weights"  # no snapshots (laperm unpack's file): the final network
            r = evaluate(run, a.data, a.epoch, a.snapshot, source, a.dataset, a.test_subset,
                         a.torch, a.batch)
            rec = _recorded(run, a.epoch, a.snapshot, source)
            mse = (run.attrs.get("loss") or r["network"].model.loss) == "mse"
    except ImportError as e:
        print("laperm evaluate: %s" % e, file=sys.stderr)
        return 1
    except LapermError as e:
        print("laperm evaluate: %s" % e, file=sys.stderr)
        return 1
    except (OSError, KeyError, ValueError) as e:  # a damaged file: HDF5's own words
        print("laperm evaluate: %s: cannot read: %s" % (a.file, e), file=sys.stderr)
        return 1
    what = {"snapshot": "snapshot %s" % (a.snapshot if a.snapshot is not None else
                                         "of epoch %d" % a.epoch if a.epoch else "(last)"),
            "weights": "/weights", "best": "/best", "init": "/init"}[source]
    name = "mae" if mse else "accuracy"
    print("%s: %s, %d test samples, %s" % (a.file, what, r["n"], "torch" if a.torch else "numpy"))
    if mse:
        print("  loss %.6f  mae %.6f" % (r["loss"], r["accuracy"]))
    else:
        correct = int(round(r["accuracy"] * r["n"]))
        print("  loss %.6f  accuracy %.6f (%d/%d)" % (r["loss"], r["accuracy"], correct, r["n"]))
    if rec is not None and (a.test_subset is None or a.test_subset == run.attrs.get(
            "test_images")):
        ep, acc, loss = rec
        line = "  laperm recorded (epoch %d): loss %.6f  %s %.6f" % (ep, loss, name, acc)
        if not mse:
            line += " (%d/%d): %+d correct" % (int(round(acc * r["n"])), r["n"],
                                              int(round(r["accuracy"] * r["n"])) -
                                              int(round(acc * r["n"])))
        print(line)
    return 0
