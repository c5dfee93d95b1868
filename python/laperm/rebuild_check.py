"""Rebuilds the network of a laperm results snapshot from the file alone and evaluates
it with numpy, to check the test metrics laperm recorded. h5py and numpy only.

Usage: rebuild-snapshot RESULTS.h5 [--snapshot S | --all] [--data DIR]
                        [--dataset mnist|fashion-mnist|cifar10|...] [--test-subset N]
                        [--dtype float64|float32]

Snapshot S (an index into /snapshot_step, negative counts from the end; default: every
snapshot whose /snapshot_epoch is > 0, i.e. every epoch end; --all: every snapshot) is
rebuilt as the README's "Results file (HDF5)" says: each permuted tensor is
sort(/init group)[/rankings[S]] (sort: ascending IEEE 754 totalOrder of the float bits),
every other trained tensor is /values/<layer>/<tensor>[S], and each BatchNorm's running
statistics are /state/<layer>/running_mean[S] and running_var[S]. /model_text (the model
file the run used) gives the layers, which are evaluated in inference mode (BatchNorm on
its running statistics with the layer's eps, dropout as identity) in float64 (or
--dtype float32) on the first `test_images` test images of the run's data (root
attributes `dataset` and `data_dir`, unless --dataset / --data say otherwise), pixels
bytes / 255, normalised with the run's `normalize` mode from the statistics of the first
`train_images` training images, as host/normalize.c computes them.

For a snapshot taken at the end of epoch e it prints laperm's /metrics/test_accuracy and
/metrics/test_loss of that epoch, numpy's, and the differences. They agree when the
number of correctly classified images differs by at most max(1, 0.1% of the test
images) and the mean softmax cross-entropy loss by at most 1e-3 relative. With
--test-subset N other than the run's test_images the figures are printed, not compared.
It also checks that the final /weights (tensors and running statistics) equal the
rebuild of the last snapshot bit for bit.

Exits 0 when everything agrees, 1 on a mismatch, 2 if the file, the model text or the
data cannot be read. A .part file of a running (or killed) job is opened with SWMR.
(scripts/rebuild-snapshot runs this module, python/laperm/rebuild_check.py.)
"""
import argparse
import math
import sys

import numpy as np

from . import data
from .errors import InvariantError, LapermError
from .evaluation import losses
from .network import Network
from .results import datasets_under, open as open_run

ACCURACY_IMAGES_FRACTION = 0.001  # correct predictions may differ by max(1, this * images)
LOSS_RELATIVE = 1e-3
EVAL_BATCH = 500


def check_weights(run):
    """Compares /weights with the rebuild of the last snapshot, as uint32 bits."""
    f = run.file
    if "weights" not in f:
        print("%s: no /weights (unfinished run): final weights not checked" % run.path)
        return 0
    last = len(run.snapshots) - 1
    names = datasets_under(f, "weights")
    bad = run.final_mismatches(run.weights_at(last, check=False))
    for b in bad:
        print("%s: MISMATCH: /weights/%s" % (run.path, b))
    print("%s: /weights: %d tensors vs the rebuild of snapshot %d (the last): %s" % (
        run.path, len(names), last, "OK, bit for bit" if not bad else "%d differ" % len(bad)))
    return 1 if bad else 0


def load_test_set(run, args):
    a = run.attrs
    fmt = args.dataset or a.get("dataset") or "mnist"
    folder = args.data or (a.get("data_dir") if fmt == a.get("dataset") else None) or \
        data.FORMATS[fmt][0]
    folder = data.resolve(folder)
    run_test = int(a.get("test_images", 0))
    n_test = args.test_subset or run_test
    if n_test <= 0:
        raise LapermError("no test_images attribute: pass --test-subset N")
    mode = a.get("normalize") or "none"
    if mode != "none" and int(a.get("train_images", 0)) <= 0:
        raise LapermError("no train_images attribute: the normalisation cannot be recomputed")
    x, y = data.load(fmt, folder, "test", run=run, subset=n_test)
    desc = "%s %s, %d test images, normalize %s" % (fmt, folder, n_test, mode)
    return x, y, n_test == run_test, desc


def evaluate(net, images, labels, dtype):
    """(mean softmax cross-entropy, correct predictions) over the images."""
    logits = net.forward(images, EVAL_BATCH, dtype)
    loss, acc, _ = losses(logits, labels)
    return loss, int(round(acc * len(images)))


def run_checks(args):
    run = open_run(args.results)
    with run:
        n = len(run.snapshots)
        if not n:
            raise LapermError("no snapshots (/snapshot_step is missing or empty)")
        steps = [s.step for s in run.snapshots]
        epochs = [s.epoch for s in run.snapshots]
        if args.snapshot is not None:
            if not -n <= args.snapshot < n:
                raise LapermError("snapshot %d out of range: the file holds %d snapshots" % (
                    args.snapshot, n))
            chosen = [args.snapshot % n]
        elif args.all:
            chosen = list(range(n))
        else:
            chosen = [s for s in range(n) if epochs[s] > 0]
        model = run.model
        dtype = np.float32 if args.dtype == "float32" else np.float64
        status = check_weights(run)
        if not chosen:
            print("%s: no epoch-end snapshot (pass --snapshot S or --all)" % args.results)
            return status
        x, y, comparable, desc = load_test_set(run, args)
        print("%s: %s, %s" % (args.results, desc, args.dtype))
        allowed = max(1, int(ACCURACY_IMAGES_FRACTION * len(x)))
        for s in chosen:
            try:
                net = Network(model, run.weights_at(s, check=False))
            except InvariantError as e:
                print("  snapshot %d: MISMATCH: %s" % (s, e))
                status = 1
                continue
            loss, correct = evaluate(net, x, y, dtype)
            head = "snapshot %d: epoch %d, step %d:" % (s, epochs[s], steps[s])
            mine = "numpy acc %.6f (%d/%d) loss %.6f" % (correct / len(x), correct, len(x), loss)
            i = run.metric_index(int(epochs[s])) if epochs[s] > 0 else None
            if i is None or not comparable:
                why = ("a snapshot not taken at an epoch end" if i is None else
                       "--test-subset differs from the run's %d test images" %
                       int(run.attrs.get("test_images", 0)))
                print("  %s %s; not compared (%s)" % (head, mine, why))
                continue
            lacc = float(run.metrics["test_accuracy"][i])
            lloss = float(run.metrics["test_loss"][i])
            lcorrect = int(round(lacc * len(x)))
            dimg = correct - lcorrect
            rel = (loss - lloss) / abs(lloss) if lloss else loss - lloss
            ok_acc = abs(dimg) <= allowed
            ok_loss = abs(rel) <= LOSS_RELATIVE or (math.isnan(loss) and math.isnan(lloss))
            print("  %s laperm acc %.6f (%d) loss %.6f | %s | diff %+d images (max %d), "
                  "loss %+.2e relative (max %.0e): %s" % (
                      head, lacc, lcorrect, lloss, mine, dimg, allowed, rel, LOSS_RELATIVE,
                      "OK" if ok_acc and ok_loss else "MISMATCH"))
            status = max(status, 0 if ok_acc and ok_loss else 1)
        return status


def main(argv):
    """rebuild-snapshot's command line: argv[0] is the program."""
    if "-h" in argv[1:] or "--help" in argv[1:]:
        print(__doc__.strip())
        return 0
    ap = argparse.ArgumentParser(prog="rebuild-snapshot", add_help=False,
                                 usage=__doc__.strip().split("\n\n")[1][len("Usage: "):])
    ap.add_argument("results")
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--snapshot", type=int)
    which.add_argument("--all", action="store_true")
    ap.add_argument("--data")
    ap.add_argument("--dataset", choices=list(data.FORMATS))
    ap.add_argument("--test-subset", type=int, default=0)
    ap.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    args = ap.parse_args(argv[1:])  # usage errors exit 2
    if args.test_subset < 0:
        ap.error("--test-subset must be positive")
    try:
        return run_checks(args)
    except LapermError as e:
        msg = str(e)
        print(msg if msg.startswith(args.results + ":") else "%s: %s" % (args.results, msg),
              file=sys.stderr)
        return 2
    except (OSError, KeyError, ValueError) as e:
        print("%s: cannot read: %s" % (args.results, e), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
