"""A laperm results file (README, "Results file (HDF5)"): its settings, model, metrics,
snapshots, and the network of any snapshot rebuilt bit for bit from /init and the
rankings, with the invariant checked.

    run = laperm.open("results/run.h5")      # also a killed run's .part (SWMR read)
    print(run.attrs["seed"], run.metrics["test_accuracy"])
    net = run.network(epoch=2)               # the network laperm evaluated after epoch 2
"""
import builtins
import collections
import os

import h5py
import numpy as np

from . import ranking
from .errors import InvariantError, LapermError
from .model import parse

Snapshot = collections.namedtuple("Snapshot", "index step epoch")
SOURCES = ("snapshot", "weights", "best", "init")
LPK_MAGIC = b"\x89LPK\r\n\x1a\n"  # README, "Compact files: .lpk"


def open_h5(path):
    """h5py.File of a results file; a .part still marked as open for SWMR writing (a
    running or killed job) is opened with SWMR, as laperm's readers do."""
    if os.path.isdir(path):
        raise LapermError("%s: a folder, not a results file" % path)
    try:
        return h5py.File(path, "r")
    except FileNotFoundError:
        raise LapermError("%s: cannot open: no such file" % path)
    except OSError as plain:
        try:
            return h5py.File(path, "r", libver="latest", swmr=True)
        except OSError:
            pass
        with builtins.open(path, "rb") as f:
            if f.read(8) == LPK_MAGIC:
                raise LapermError("%s: a .lpk file; rebuild its weights first: laperm unpack %s "
                                  "-o WEIGHTS.h5" % (path, path))
        raise LapermError("%s: cannot open as HDF5: %s" % (path, plain))


def datasets_under(f, group):
    """Names ("layer/tensor") of the datasets under `group`, [] if it is missing."""
    names = []
    if group in f:
        f[group].visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    return names


def _plain(v):
    """An attribute as str, int or float (bytes decoded, numpy scalars unwrapped)."""
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray):
        return v.tolist() if v.ndim else _plain(v[()])
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def _refreshed(ds):
    """The dataset with its extent brought up to date, for an SWMR reader of a file that
    is still being written; as it is otherwise."""
    try:
        ds.refresh()
    except (AttributeError, RuntimeError, ValueError, OSError):
        pass  # not opened with SWMR
    return ds


def _read(ds, n=None):
    """A dataset's values (refreshed), the first n when n is given."""
    ds = _refreshed(ds)
    return ds[...] if n is None else ds[:n]


class Run:
    """An opened results file; see the module's text. Close it with close() or `with`."""

    def __init__(self, path):
        self.path = path
        self._f = open_h5(path)
        f = self._f
        try:
            self.attrs = {k: _plain(v) for k, v in f.attrs.items()}
            if "model_text" not in f:
                raise LapermError("%s: no /model_text (not a laperm results file?)" % path)
            self.model_text = f["model_text"].asstr()[()]
            steps = "snapshot_step" if "snapshot_step" in f else "rankings_step"
            epochs = "snapshot_epoch" if "snapshot_epoch" in f else "rankings_epoch"
            step = _read(f[steps]) if steps in f else np.zeros(0, np.int64)
            epoch = _read(f[epochs], len(step)) if epochs in f else np.zeros(len(step), np.int32)
            # The step list is written after the rankings: its length is the number of
            # complete snapshots.
            self.snapshots = [Snapshot(i, int(s), int(e)) for i, (s, e) in
                              enumerate(zip(step, epoch))]
            self.metrics = self._columns("metrics", "epoch")
            self.evals = self._columns("evals", "step")
        except (KeyError, OSError, ValueError) as e:
            self._f.close()
            raise LapermError("%s: cannot read: %s" % (path, e))
        self._model = None

    def _columns(self, group, last):
        """{name: array} of an extendible group whose column `last` is written last (its
        length counts the complete entries)."""
        f = self._f
        if group not in f:
            return {}
        n = len(_read(f[group][last])) if last in f[group] else None
        return {name: _read(f[group][name], n) for name in f[group]
                if isinstance(f[group][name], h5py.Dataset)}

    # ---- plumbing --------------------------------------------------------------------------

    @property
    def file(self):
        """The open h5py.File."""
        return self._f

    def close(self):
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<laperm.Run %s: %d snapshots, %d epochs>" % (self.path, len(self.snapshots),
                                                            len(self.metrics.get("epoch", [])))

    @property
    def model(self):
        if self._model is None:
            self._model = parse(self.model_text, "%s: /model_text" % self.path)
        return self._model

    @property
    def best(self):
        """{step, epoch, test_accuracy, test_loss} of the best evaluation (root attributes,
        written at finish), or None in a .part."""
        if "best_step" not in self.attrs:
            return None
        return {k: self.attrs.get("best_" + k) for k in ("step", "epoch", "test_accuracy",
                                                          "test_loss")}

    # ---- snapshots -----------------------------------------------------------------------

    def snapshot_index(self, epoch=None, step=None):
        """Index of the snapshot taken at the end of `epoch` (1-based), or at global `step`;
        with neither, the last snapshot (the final state)."""
        if not self.snapshots:
            raise LapermError("%s: no snapshots (/snapshot_step is missing or empty)" % self.path)
        if epoch is not None and step is not None:
            raise LapermError("give an epoch or a step, not both")
        if step is not None:
            hits = [s.index for s in self.snapshots if s.step == int(step)]
            what = "step %d" % step
            have = ", ".join(str(s.step) for s in self.snapshots)
        elif epoch is not None:
            hits = [s.index for s in self.snapshots if s.epoch == int(epoch) and s.epoch > 0]
            what = "epoch %d" % epoch
            have = "epochs " + ", ".join(str(s.epoch) for s in self.snapshots if s.epoch > 0)
        else:
            return len(self.snapshots) - 1
        if not hits:
            raise LapermError("%s: no snapshot at the end of %s (the file has %s)" % (
                self.path, what, have or "none"))
        return hits[-1]

    def _snapshot(self, index):
        n = len(self.snapshots)
        if not n:
            raise LapermError("%s: no snapshots (/snapshot_step is missing or empty)" % self.path)
        if not -n <= index < n:
            raise LapermError("%s: snapshot %d out of range: the file holds %d snapshots" % (
                self.path, index, n))
        return index % n

    def weights_at(self, index, check=True):
        """{"layer/tensor": float32 array} of snapshot `index`, rebuilt as the README says:
        each permuted tensor from /init and /rankings[index], every other trained tensor
        from /values[index], each BatchNorm's running statistics from /state[index].
        Raises InvariantError when a ranking row is not a permutation, or (with `check`)
        when the last snapshot does not rebuild /weights bit for bit."""
        s = self._snapshot(index)
        f = self._f
        out = {}
        for name in datasets_under(f, "rankings"):
            if "init/" + name not in f:
                raise LapermError("%s: /rankings/%s has no /init/%s" % (self.path, name, name))
            rank = _refreshed(f["rankings/" + name])[s]
            bad = ranking.bad_rows(rank)
            if bad.size:
                raise InvariantError("%s: /rankings/%s: snapshot %d group %d is not a "
                                     "permutation of 0..%d" % (self.path, name, s, bad[0],
                                                               rank.shape[1] - 1))
            out[name] = ranking.rebuild(f["init/" + name][...], rank)
        for group in ("values", "state"):
            for name in datasets_under(f, group):
                if name in out:
                    raise LapermError("%s: %s is in more than one of /rankings, /values, "
                                      "/state" % (self.path, name))
                out[name] = np.asarray(_refreshed(f[group][name])[s], dtype=np.float32)
        for name in datasets_under(f, "init"):
            if name not in out:
                raise LapermError("%s: /init/%s has neither /rankings nor /values (format_version "
                                  "%s)" % (self.path, name, self.attrs.get("format_version", "?")))
        if check and s == len(self.snapshots) - 1 and "weights" in f:
            self._check_final(out)
        return out

    def final_mismatches(self, net):
        """["name: what differs"] between /weights and `net`, the rebuild of the last
        snapshot, compared as uint32 bits (-0.0 vs +0.0 and NaN payloads count)."""
        names = datasets_under(self._f, "weights")
        bad = []
        for name in sorted(set(names) | set(net)):
            if name not in net or name not in names:
                bad.append("%s: only in %s" % (name, "/weights" if name in names else
                                              "the snapshot"))
                continue
            w = self._f["weights/" + name][...]
            r = np.ascontiguousarray(net[name], dtype=np.float32)
            if w.dtype != np.float32 or w.shape != r.shape:
                bad.append("%s: /weights is %s %s, the snapshot %s %s" % (
                    name, w.dtype, w.shape, r.dtype, r.shape))
                continue
            diff = np.count_nonzero(w.view(np.uint32) != r.view(np.uint32))
            if diff:
                bad.append("%s: %d of %d values differ" % (name, diff, w.size))
        return bad

    def _check_final(self, net):
        bad = self.final_mismatches(net)
        if bad:
            raise InvariantError("%s: the last snapshot does not rebuild /weights: /weights/%s%s"
                                 % (self.path, bad[0], " (and %d more)" % (len(bad) - 1)
                                    if len(bad) > 1 else ""))

    def _group(self, group):
        """{"layer/tensor": array} of /weights, /best or /init."""
        f = self._f
        if group not in f:
            why = {"weights": "an unfinished run (.part) has none",
                   "best": "the run was not trained with --save-best",
                   "init": ""}[group]
            raise LapermError("%s: no /%s%s" % (self.path, group, " (%s)" % why if why else ""))
        if group == "best" and int(f["best"].attrs.get("valid", 0)) != 1:
            raise LapermError("%s: /best is not valid (no evaluation yet, or it was being "
                              "rewritten when the run stopped)" % self.path)
        return {name: np.asarray(f[group][name][...], dtype=np.float32)
                for name in datasets_under(f, group)}

    def weights(self, epoch=None, snapshot=None, source="snapshot"):
        """{"layer/tensor": float32 array} in laperm's layout (BatchNorm running statistics
        included): a snapshot's rebuild, or /weights, /best or /init (its running
        statistics the initial 0 and 1)."""
        if source not in SOURCES:
            raise LapermError("source '%s': expected one of %s" % (source, ", ".join(SOURCES)))
        if source != "snapshot":
            if epoch is not None or snapshot is not None:
                raise LapermError("epoch and snapshot select a snapshot; source '%s' has one "
                                  "network" % source)
            w = self._group(source)
            if source == "init":
                for layer in self.model.layers:
                    for tensor, shape in layer.state:
                        w[layer.name + "/" + tensor] = (np.zeros(shape, np.float32) if tensor ==
                                                        "running_mean" else np.ones(shape,
                                                                                    np.float32))
            return w
        if epoch is not None and snapshot is not None:
            raise LapermError("give an epoch or a snapshot index, not both")
        index = self.snapshot_index(epoch) if snapshot is None else snapshot
        return self.weights_at(index)

    def network(self, epoch=None, snapshot=None, source="snapshot"):
        """Network of a snapshot (the end of `epoch`, or index `snapshot`; the last by
        default), or source="weights" (/weights), "best" (/best), "init" (/init)."""
        from .network import Network
        return Network(self.model, self.weights(epoch, snapshot, source))

    def metric_index(self, epoch):
        """Row of /metrics for `epoch` (1-based), or None."""
        ep = self.metrics.get("epoch")
        if ep is None:
            n = len(self.metrics.get("test_accuracy", []))
            return epoch - 1 if 0 < epoch <= n else None
        hits = np.nonzero(ep == epoch)[0]
        return int(hits[-1]) if hits.size else None


def open(path):  # noqa: A001 (laperm.open, as h5py.File or builtins.open)
    """Run of the results file at `path` (a finished .h5 or a running or killed .part)."""
    return Run(path)
