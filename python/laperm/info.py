"""`python3 -m laperm info FILE...`: a short summary of each run: what ran (model,
data, optimizer), its state, its snapshots and its best evaluation."""
import os
import sys

import numpy as np

from .errors import LapermError
from .results import open as open_run

# Settings shown, in order, when the file has them: (attribute, label).
SETTINGS = (("optimizer", "optimizer"), ("inner_optimizer", "inner"), ("k", "k"),
            ("lr", "lr"), ("lr_schedule", "schedule"), ("batch", "batch"), ("epochs", "epochs"),
            ("seed", "seed"), ("loss", "loss"), ("normalize", "normalize"))


def _status(path, status):
    """The recorded status; "running" only while the process named in the run's lock file
    (README, "Crash safety") is alive: a killed run's .part still says "running"."""
    if status != "running" or not path.endswith(".part"):
        return status
    try:
        with open(path[:-len(".part")] + ".lock") as f:
            pid = int(f.readline())
        os.kill(pid, 0)
    except PermissionError:  # alive, another user's
        pass
    except (OSError, ValueError):  # no lock file, no pid in it, or no such process
        return "stopped while running (no laperm process writes it: killed?)"
    return status


def summary(run):
    """The summary's lines."""
    a = run.attrs
    unpacked = "status" not in a and "snapshot_step" in a  # laperm unpack's file
    if unpacked:
        lines = ["%s: a network of laperm unpack (step %s%s of its run), laperm %s" % (
            run.path, a["snapshot_step"],
            ", end of epoch %s" % a["snapshot_epoch"] if a.get("snapshot_epoch") else "",
            a.get("program_version", "?"))]
    else:
        lines = ["%s: %s, laperm %s, %s" % (run.path, _status(run.path, a.get("status", "?")),
                                             a.get("program_version", "?"), a.get("device", "?"))]
    try:
        m = run.model
        params = "%d layers, %s parameters" % (len(m.layers) - 1, format(m.param_count(), ","))
    except LapermError as e:
        params = "model text not understood: %s" % e
    lines.append("  model %s: %s" % (run.file["model_text"].attrs.get("source", "/model_text"), params))
    if a.get("mpi_world_size", 0) > 1:  # an MPI job (README, "Training on several devices")
        sent = a.get("mpi_bytes_per_step", 0)
        lines.append("  MPI: %d ranks (%s)%s" % (
            a["mpi_world_size"], a.get("mpi_devices", "?"),
            ", %s bytes sent per step by rank 0" % format(int(sent), ",") if sent else ""))
    if not unpacked:  # it records no data, command or metrics
        lines.append("  data %s %s: %s train, %s test images" % (
            a.get("dataset", "?"), a.get("data_dir", "?"), a.get("train_images", "?"),
            a.get("test_images", "?")))
    lines.append("  " + ", ".join("%s %s" % (label, a[k]) for k, label in SETTINGS if k in a))
    if unpacked:
        stored = [g for g in ("weights",) if g in run.file]
        lines.append("  networks: %s" % ", ".join("/" + g for g in stored))
        return lines
    lines.append("  command: %s" % a.get("command_line", "?"))
    snaps = run.snapshots
    ends = [s.epoch for s in snaps if s.epoch > 0]
    lines.append("  snapshots: %d (epoch ends %s%s), last at step %s" % (
        len(snaps), "%d..%d" % (ends[0], ends[-1]) if ends else "none",
        ", %d elsewhere" % (len(snaps) - len(ends)) if len(snaps) > len(ends) else "",
        snaps[-1].step if snaps else "-"))
    met = run.metrics
    if "epoch" in met and len(met["epoch"]):
        acc = "test_mae" if a.get("loss") == "mse" else "test_accuracy"
        lines.append("  epochs done: %d; last: %s %.4f, test_loss %.4f, train_loss %.4f" % (
            len(met["epoch"]), acc, met[acc][-1], met["test_loss"][-1], met["train_loss"][-1]))
    best = run.best
    if best and best["step"]:
        lines.append("  best: test_accuracy %.4f, test_loss %.4f at step %d (epoch %d)%s" % (
            best["test_accuracy"], best["test_loss"], best["step"], best["epoch"],
            ", saved in /best" if "best" in run.file else ""))
    if run.evals:
        lines.append("  evaluations (--eval-every): %d" % len(run.evals.get("step", [])))
    stored = [g for g in ("weights", "best", "init") if g in run.file]
    lines.append("  networks: %s" % ", ".join(["snapshots"] * bool(snaps) +
                                              ["/" + g for g in stored]))
    return lines


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python3 -m laperm info FILE...\n\n" + __doc__.split("\n\n")[0].split(
            ": ", 1)[1], file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    status = 0
    for path in argv:
        try:
            with open_run(path) as run:
                print("\n".join(summary(run)))
        except LapermError as e:
            print("laperm info: %s" % e, file=sys.stderr)
            status = 1
        except (OSError, KeyError, ValueError) as e:  # a damaged file: HDF5's own words
            print("laperm info: %s: cannot read: %s" % (path, e), file=sys.stderr)
            status = 1
    return status
