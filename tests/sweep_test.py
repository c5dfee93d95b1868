#!/usr/bin/env python3
"""ctest sweep: scripts/sweep on a tiny LeNet-300-100 grid (k 5 and 50 x seeds 1 and 2,
4 epochs of 6000 MNIST images). The sweep is stopped with SIGINT while its second run
trains, then killed with SIGKILL (the sweep and its laperm) during a later run, then run
to the end:
finished runs must not be redone (their files untouched), the interrupted and the killed
ones resumed, and the summary must hold n = 2 per cell with the statistics computed here
from the run files. A changed grid is refused naming what differs; a run laperm refuses
is recorded, its error shown, the sweep goes on and exits 1.
Environment (set by ctest): LAPERM_SOURCE_DIR, LAPERM_BINARY; LAPERM_DATA_DIR overrides
data/mnist. Exit 77 (skipped) when /usr/bin/python3 has no h5py."""
import importlib.util
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

try:
    import h5py
    import numpy as np
except ImportError:
    print("sweep: /usr/bin/python3 has no h5py/numpy: skipped")
    sys.exit(77)

SRC = os.environ.get("LAPERM_SOURCE_DIR", os.getcwd())
BIN = os.environ.get("LAPERM_BINARY", os.path.join(SRC, "build", "laperm"))
DATA = os.environ.get("LAPERM_DATA_DIR", os.path.join(SRC, "data", "mnist"))
SWEEP = [sys.executable, os.path.join(SRC, "scripts", "sweep"), "--laperm", BIN]
FAILURES = []


def check(cond, what):
    print(("ok:   " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        FAILURES.append(what)


def status_of(path):
    try:
        with h5py.File(path, "r") as f:
            return f.attrs["status"]
    except Exception:
        return None


def wait_for(cond, timeout, what):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if cond():
            return True
        time.sleep(0.05)
    check(False, f"{what} within {timeout} s")
    return False


def part_epochs(part):
    """Epochs a running .part records (SWMR read), 0 if it cannot be read yet."""
    try:
        with h5py.File(part, "r", libver="latest", swmr=True) as f:
            return len(f["metrics/epoch"])
    except Exception:
        return 0


def main():
    if not os.path.exists(os.path.join(DATA, "train-images-idx3-ubyte")) and \
            not os.path.exists(os.path.join(DATA, "train-images-idx3-ubyte.gz")):
        print(f"sweep: MNIST not found in {DATA} (run scripts/fetch-mnist): FAILING")
        return 1
    tmp = tempfile.mkdtemp(prefix="sweep-test.")
    try:
        return run_tests(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_tests(tmp):
    out = os.path.join(tmp, "k")
    flags = ["--model", os.path.join(SRC, "models", "lenet300.ini"), "--data", DATA,
             "--epochs", "4", "--train-subset", "6000", "--test-subset", "500",
             "--checkpoint-every", "5"]
    grid = ["--out", out, "--seeds", "1,2", "--axis", "k=5,50"]
    cmd = SWEEP + grid + ["--"] + flags
    names = ["k=5_seed=1", "k=50_seed=1", "k=5_seed=2", "k=50_seed=2"]
    files = [os.path.join(out, n + ".h5") for n in names]

    # 1. SIGINT while the second run trains (it has recorded an epoch).
    p = subprocess.Popen(cmd, stdout=open(os.path.join(tmp, "a.log"), "w"),
                         stderr=subprocess.STDOUT)
    wait_for(lambda: status_of(files[0]) == "completed" and part_epochs(files[1] + ".part") >= 1,
             60, "run 1 completed and run 2 in its second epoch")
    p.send_signal(signal.SIGINT)
    rc = p.wait(60)
    log = open(os.path.join(tmp, "a.log")).read()
    check(rc == 130, f"SIGINT: sweep exits 130 (got {rc})")
    check("interrupted" in log and "--resume" in log, "SIGINT: the sweep says how to go on")
    check(status_of(files[1]) == "interrupted",
          f"SIGINT: run 2's laperm stopped cleanly (status {status_of(files[1])!r})")
    check(not os.path.exists(files[2]) and not os.path.exists(files[2] + ".part"),
          "SIGINT: no run started after it")
    stamp0 = (os.stat(files[0]).st_mtime_ns, h5py.File(files[0], "r").attrs["start_time"])

    # 2. SIGKILL of the sweep and of its laperm while the third run trains.
    p = subprocess.Popen(cmd, stdout=open(os.path.join(tmp, "b.log"), "w"),
                         stderr=subprocess.STDOUT)
    wait_for(lambda: status_of(files[1]) == "completed" and part_epochs(files[2] + ".part") >= 1,
             60, "run 2 resumed to the end and run 3 in its second epoch")
    try:
        holder = int(open(files[2] + ".lock").read().split("\n")[0])
    except (OSError, ValueError):
        holder = None
    # laperm first: killed after the sweep, it would get the sweep's SIGTERM first and
    # complete its file as interrupted.
    if holder:
        try:
            os.kill(holder, signal.SIGKILL)
        except OSError:
            pass
    p.kill()
    p.wait(60)
    log = open(os.path.join(tmp, "b.log")).read()
    check("resuming (interrupted)" in log, "rerun: the interrupted run is resumed")
    check(holder is not None and status_of(files[2]) is None and
          os.path.exists(files[2] + ".part"), "SIGKILL: run 3 left only its .part")
    stamp1 = (os.stat(files[1]).st_mtime_ns, h5py.File(files[1], "r").attrs["start_time"])

    # 3. A changed grid is refused, naming the difference; the files are left alone.
    r = subprocess.run(SWEEP + ["--out", out, "--seeds", "1,2,3", "--axis", "k=5,50", "--"] +
                       flags, capture_output=True, text=True)
    check(r.returncode == 2 and "seeds: saved 1,2, given 1,2,3" in r.stderr,
          f"changed seeds refused (exit {r.returncode}: {r.stderr.strip()})")
    r = subprocess.run(SWEEP + ["--out", out, "--seeds", "1,2", "--axis", "k=5,60", "--"] +
                       flags, capture_output=True, text=True)
    check(r.returncode == 2 and "axis k: saved 'k=5,50', given 'k=5,60'" in r.stderr,
          f"changed axis refused (exit {r.returncode}: {r.stderr.strip()})")

    # 4. The same command finishes the sweep without redoing finished runs.
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    print(r.stdout)
    check(r.returncode == 0, f"rerun: exits 0 (got {r.returncode})")
    check("2 finished, 1 to resume, 1 to start" in r.stdout,
          "rerun: 2 runs finished, the killed one resumed, the last started")
    check("resuming (killed)" in r.stdout, "rerun: the killed run resumed from its .part")
    for f, stamp in ((files[0], stamp0), (files[1], stamp1)):
        now = (os.stat(f).st_mtime_ns, h5py.File(f, "r").attrs["start_time"])
        check(now == stamp, f"rerun: {os.path.basename(f)} not redone")
    check(all(status_of(f) == "completed" for f in files), "every run completed")
    r = subprocess.run([sys.executable, os.path.join(SRC, "scripts", "check-invariant"),
                        files[1], files[2]], capture_output=True, text=True)
    check(r.returncode == 0, "the resumed runs' files pass scripts/check-invariant")
    r = subprocess.run(SWEEP + ["--resume", out], capture_output=True, text=True)
    check(r.returncode == 0 and "4 finished, 0 to resume, 0 to start" in r.stdout,
          "--resume DIR on a finished sweep runs nothing")

    # 5. The summary against statistics computed here.
    check_summary(out, files)

    # 6. A run laperm refuses: recorded, its error shown, the others run, exit 1.
    bad = os.path.join(tmp, "bad")
    r = subprocess.run(SWEEP + ["--out", bad, "--axis", "k=5,0", "--quiet", "--",
                                "--model", os.path.join(SRC, "models", "logreg.ini"),
                                "--data", DATA, "--epochs", "1", "--train-subset", "500",
                                "--test-subset", "100"], capture_output=True, text=True)
    print(r.stdout)
    check(r.returncode == 1, f"a failed run: the sweep exits 1 (got {r.returncode})")
    check("k=0_seed=1: FAILED" in r.stdout and "--k" in r.stdout.split("FAILED", 1)[-1],
          "a failed run: laperm's error shown")
    check(status_of(os.path.join(bad, "k=5_seed=1.h5")) == "completed",
          "a failed run: the other run completed")
    r = subprocess.run(SWEEP + ["--out", bad, "--axis", "nonsense=1,2", "--", "--epochs", "1"],
                       capture_output=True, text=True)
    check(r.returncode == 2 and "no flag --nonsense" in r.stderr,
          f"an unknown flag as an axis refused ({r.stderr.strip()})")
    check_regression_summary(os.path.join(tmp, "reg"))
    return 1 if FAILURES else 0


def check_regression_summary(out):
    """--summarize on made-up regression results (NaN accuracies, test_mae): the accuracy
    columns left out, the losses and MAE summarised; a cell with one seed has no sd."""
    os.makedirs(out)
    grid = {"format": 1, "flags": ["--model", "m.ini"], "seeds": [1, 2, 3],
            "axes": [{"name": "opt", "spec": "opt=a:--optimizer adam|b:--optimizer sgd",
                      "flag": None,
                      "values": [{"label": "a", "value": "a", "flags": ["--optimizer", "adam"]},
                                 {"label": "b", "value": "b", "flags": ["--optimizer", "sgd"]}]}]}
    with open(os.path.join(out, "sweep.json"), "w") as f:
        json.dump(grid, f)
    rng = np.random.default_rng(7)
    mae = {"a": [], "b": []}
    for opt, seeds in (("a", (1, 2, 3)), ("b", (1,))):
        for seed in seeds:
            loss = rng.uniform(0.1, 1.0, 4)
            m = rng.uniform(0.1, 1.0, 4)
            mae[opt].append(float(m.min()))
            with h5py.File(os.path.join(out, f"opt={opt}_seed={seed}.h5"), "w") as f:
                f.attrs["status"] = "completed"
                f.attrs["train_images"] = 1000
                f.attrs["batch"] = 100
                g = f.create_group("metrics")
                g["step"] = np.arange(1, 5) * 10
                g["epoch_seconds"] = np.full(4, 0.5)
                g["elapsed_seconds"] = np.arange(1, 5) * 0.6
                for name in ("test_accuracy", "train_accuracy", "test_accuracy_unsynced"):
                    g[name] = np.full(4, np.nan)
                g["test_loss"] = loss
                g["train_loss"] = loss
                g["test_mae"] = m
    r = subprocess.run(SWEEP + ["--summarize", out], capture_output=True, text=True)
    check(r.returncode == 0, f"regression --summarize exits 0 ({r.stderr.strip()})")
    with h5py.File(os.path.join(out, "summary.h5"), "r") as s:
        check("best_test_accuracy" not in s and "best_test_mae" in s,
              "regression summary.h5: NaN accuracies left out, MAE kept")
        v = mae["a"]
        mean = sum(v) / 3
        sd = math.sqrt(sum((x - mean) ** 2 for x in v) / 2)
        got = s["best_test_mae/mean"][...], s["best_test_mae/sd"][...], s["best_test_mae/n"][...]
        check(math.isclose(got[0][0], mean, rel_tol=1e-12) and
              math.isclose(got[1][0], sd, rel_tol=1e-12) and got[2].tolist() == [3, 1] and
              math.isclose(got[0][1], mae["b"][0]) and math.isnan(got[1][1]),
              f"regression summary.h5: best_test_mae {got} (expected {mean}, {sd}, n 3 and 1)")
        check(s["images_per_second/mean"][0] == 4 * 1000 / 2.0, "images/s: 4 epochs of 1000 "
              "images in 2 s")
    md = open(os.path.join(out, "summary.md")).read()
    check("acc %" not in md and "best test MAE" in md and f"{mae['b'][0]:.4f} ± — (1)" in md,
          "regression summary.md: no accuracy column, MAE with n, no sd for n = 1")
    check("Figure: summary.png (best_test_loss)" in md, "regression: the figure shows the loss")
    check("opt=b_seed=2.h5" in md, "summary.md lists the runs not counted")

    # laperm's best_test_accuracy attribute when it is a number (its best over every
    # evaluation, --eval-every's included), else the best of /metrics and /evals.
    cls = out + "-cls"
    os.makedirs(cls)
    grid["seeds"] = [1, 2]
    grid["axes"][0]["values"] = grid["axes"][0]["values"][:1]
    with open(os.path.join(cls, "sweep.json"), "w") as f:
        json.dump(grid, f)
    for seed, attr, evals in ((1, 0.875, [0.5, 0.875]), (2, math.nan, None)):
        with h5py.File(os.path.join(cls, f"opt=a_seed={seed}.h5"), "w") as f:
            f.attrs["status"] = "completed"
            f.attrs["best_test_accuracy"] = attr
            g = f.create_group("metrics")
            g["test_accuracy"] = np.array([0.25, 0.75])
            g["test_accuracy_unsynced"] = np.array([0.25, 0.5])
            if evals:
                f["evals/test_accuracy"] = np.array(evals)
                f["evals/test_accuracy_unsynced"] = np.array([0.625, 0.25])
    r = subprocess.run(SWEEP + ["--summarize", cls], capture_output=True, text=True)
    with h5py.File(os.path.join(cls, "summary.h5"), "r") as s:
        best = s["best_test_accuracy/mean"][0]
        unsynced = s["best_unsynced_accuracy/mean"][0]
    check(r.returncode == 0 and best == (0.875 + 0.75) / 2 and unsynced == (0.625 + 0.5) / 2,
          f"best accuracies from the attribute, else /metrics and /evals ({best}, {unsynced})")


def check_summary(out, files):
    r = subprocess.run(SWEEP + ["--summarize", out, "--metric", "final_train_accuracy"],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"--summarize exits 0 ({r.stdout.strip()} {r.stderr.strip()})")
    # Independently: per k, over seeds 1 and 2.
    expected = {}
    for k in ("5", "50"):
        vals = {"best": [], "final_train": [], "unsynced": [], "ips": []}
        for seed in (1, 2):
            with h5py.File(os.path.join(out, f"k={k}_seed={seed}.h5"), "r") as f:
                m = f["metrics"]
                vals["best"].append(float(np.max(m["test_accuracy"][...])))
                vals["final_train"].append(float(m["train_accuracy"][-1]))
                vals["unsynced"].append(float(np.max(m["test_accuracy_unsynced"][...])))
                # 4 whole epochs of 6000 images over the summed epoch times.
                vals["ips"].append(4 * 6000 / float(np.sum(m["epoch_seconds"][...])))
        expected[k] = {}
        for key, v in vals.items():
            mean = (v[0] + v[1]) / 2
            sd = math.sqrt(((v[0] - mean) ** 2 + (v[1] - mean) ** 2) / (2 - 1))
            expected[k][key] = (mean, sd)
    with h5py.File(os.path.join(out, "summary.h5"), "r") as s:
        check(list(s["axes/k"].asstr()[...]) == ["5", "50"], "summary.h5: axis k's values")
        for key, name in (("best", "best_test_accuracy"), ("final_train", "final_train_accuracy"),
                          ("unsynced", "best_unsynced_accuracy"), ("ips", "images_per_second")):
            n = s[name + "/n"][...]
            check(n.tolist() == [2, 2], f"summary.h5: {name} n = 2 per cell ({n.tolist()})")
            for i, k in enumerate(("5", "50")):
                mean, sd = expected[k][key]
                got = (s[name + "/mean"][i], s[name + "/sd"][i])
                check(math.isclose(got[0], mean, rel_tol=1e-9) and
                      math.isclose(got[1], sd, rel_tol=1e-9, abs_tol=1e-12),
                      f"summary.h5: {name} k={k}: {got} == ({mean}, {sd})")
    md = open(os.path.join(out, "summary.md")).read()
    for k in ("5", "50"):
        mean, sd = expected[k]["best"]
        cell = f"| {k} | {100 * mean:.2f} ± {100 * sd:.2f} (2) |"
        check(cell in md, f"summary.md: row k={k} starts {cell!r}")
    png = os.path.join(out, "summary.png")
    if importlib.util.find_spec("matplotlib"):
        check(os.path.getsize(png) > 5000 and open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n",
              "summary.png written")
    else:
        check("matplotlib is missing" in r.stdout, "no matplotlib: said so")


if __name__ == "__main__":
    sys.exit(main())
