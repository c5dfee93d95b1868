"""`python3 -m laperm plot`: every figure from tiny runs made here (a model without hidden
layers on 8x8 images, one with a convolution and hidden layers, a regression run, a
2 x 2 sweep), checked to be PNGs of a sensible size; bad input refused with a message
and a non-zero exit. Run by ctest python_package (python/tests/run_tests.py); skipped
with a message without matplotlib or h5py.

Environment (set by ctest): LAPERM_SOURCE_DIR, LAPERM_BINARY.
"""
import contextlib
import importlib.util
import io
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

SRC = os.environ.get("LAPERM_SOURCE_DIR") or \
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LAPERM = os.environ.get("LAPERM_BINARY") or os.path.join(SRC, "build", "laperm")
PY = sys.executable
MISSING = [m for m in ("numpy", "h5py", "matplotlib") if importlib.util.find_spec(m) is None]

if not MISSING:
    import h5py
    import numpy as np

# A model without hidden layers (F1-like: one shared value, half the weights kept).
NO_HIDDEN = """[input]
channels = 1
height = 8
width = 8

[flatten]

[dense]
units = 4
bias = false
activation = none
init = constant
init_value = 0.1
keep = 0.5
"""
HIDDEN = """[input]
channels = 1
height = 8
width = 8

[conv2d]
filters = 4
kernel = 3
activation = relu

[flatten]

[dense]
units = 12
activation = relu

[dense]
units = 4
activation = none
"""


def write_images(path, seed=0):
    """4 classes of 8x8 images: one bright quadrant each, plus noise."""
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        for split, n in (("train", 256), ("test", 64)):
            y = rng.integers(0, 4, n)
            x = rng.uniform(0, 0.3, (n, 1, 8, 8)).astype(np.float32)
            for i, c in enumerate(y):
                r, q = divmod(int(c), 2)
                x[i, 0, 4 * r:4 * r + 4, 4 * q:4 * q + 4] += 0.7
            f[split + "/x"] = x
            f[split + "/y"] = y.astype(np.int64)


def png_size(path):
    """(width, height) of a PNG, or None if the file is not one."""
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def plot(*args):
    """The command line, as a user runs it."""
    env = dict(os.environ, PYTHONPATH=os.path.join(SRC, "python"))
    return subprocess.run([PY, "-m", "laperm", "plot", *args], capture_output=True, text=True,
                          env=env, cwd=SRC, timeout=300)


def plot_here(*args):
    """plot's main in this process (no interpreter and matplotlib start-up per case):
    (exit status, stdout, stderr)."""
    sys.path.insert(0, os.path.join(SRC, "python"))
    from laperm import plot as lp
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = lp.main(list(args))
    return subprocess.CompletedProcess(args, rc, out.getvalue(), err.getvalue())


@unittest.skipIf(MISSING, f"needs {', '.join(MISSING)} (python3-matplotlib, python3-h5py)")
class PlotTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(LAPERM, os.X_OK):
            raise unittest.SkipTest(f"no laperm program at {LAPERM} (build it first)")
        cls.tmp = tempfile.mkdtemp(prefix="laperm-plot-")
        t = cls.tmp
        write_images(os.path.join(t, "img.h5"))
        for name, text in (("nohidden", NO_HIDDEN), ("hidden", HIDDEN)):
            with open(os.path.join(t, name + ".ini"), "w") as f:
                f.write(text)
        subprocess.run([PY, os.path.join(SRC, "scripts", "make-hdf5-data"), t, "--train",
                        "256", "--test", "64"], check=True, capture_output=True)
        img = ["--dataset", "hdf5", "--data", os.path.join(t, "img.h5"), "--batch", "32"]
        cls.runs = {
            # lr: enough for 0.1 and 0 to trade places in a few steps
            "nohidden": ["--model", os.path.join(t, "nohidden.ini"), *img, "--epochs", "2",
                         "--k", "4", "--lr", "0.05", "--eval-every", "3", "--snapshot-every", "4"],
            # --perm-bias: zero biases, permuted tensors the ranking figure leaves out
            "hidden": ["--model", os.path.join(t, "hidden.ini"), *img, "--epochs", "2",
                       "--k", "4", "--eval-every", "5", "--perm-bias"],
            "regress": ["--model", os.path.join(SRC, "models", "regression.ini"),
                        "--dataset", "hdf5", "--data", os.path.join(t, "regress.h5"),
                        "--batch", "32", "--epochs", "2", "--k", "4"],
        }
        for name, args in cls.runs.items():
            r = subprocess.run([LAPERM, "train", *args, "--out", os.path.join(t, name + ".h5"),
                                "--progress", "none"], capture_output=True, text=True)
            if r.returncode:
                raise RuntimeError(f"laperm train {name} failed:\n{r.stdout}{r.stderr}")
        cls.sweep = os.path.join(t, "tiny-sweep")
        r = subprocess.run([PY, os.path.join(SRC, "scripts", "sweep"), "--out", cls.sweep,
                            "--seeds", "1,2", "--axis", "k=2,8", "--laperm", LAPERM, "--quiet",
                            "--", "--model", os.path.join(t, "nohidden.ini"), *img,
                            "--epochs", "1", "--lr", "0.05"],
                           capture_output=True, text=True, cwd=SRC)
        if r.returncode:
            raise RuntimeError(f"scripts/sweep failed:\n{r.stdout}{r.stderr}")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def check_png(self, path, min_bytes=8000):
        self.assertTrue(os.path.exists(path), f"{path} written")
        size = png_size(path)
        self.assertIsNotNone(size, f"{path} is a PNG")
        w, h = size
        self.assertTrue(300 <= w <= 3000 and 200 <= h <= 4000, f"{path}: {w}x{h} pixels")
        self.assertGreater(os.path.getsize(path), min_bytes, f"{path}: not a blank image")

    def test_every_figure(self):
        t = self.tmp
        out = os.path.join(t, "figs")
        files = [os.path.join(t, n + ".h5") for n in ("nohidden", "hidden", "regress")]
        r = plot(*files, self.sweep, "-o", out)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        expected = ["nohidden-curves.png", "nohidden-profiles.png", "nohidden-unit-images.png",
                    "nohidden-rankings.png", "hidden-curves.png", "hidden-profiles.png",
                    "hidden-rankings.png", "regress-curves.png", "regress-profiles.png",
                    "regress-rankings.png", "tiny-sweep-sweep.png", "curves.png"]
        for name in expected:
            self.check_png(os.path.join(out, name))
            self.assertIn(os.path.join(out, name), r.stdout, "each file written is named")
        # Unit images only for the model without hidden layers.
        self.assertEqual(sorted(os.listdir(out)), sorted(expected))
        # scripts/sweep drew its summary.png with the same code.
        self.check_png(os.path.join(self.sweep, "summary.png"))

    def test_only_and_units(self):
        out = os.path.join(self.tmp, "only")
        r = plot_here(os.path.join(self.tmp, "hidden.h5"), "--only", "profiles", "--units", "3",
                 "-o", out)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(os.listdir(out), ["hidden-profiles.png"])

    def test_same_name_twice(self):
        """One file given twice, or two files of one name in folders of one name: each
        gets its own figure, none overwrites another."""
        out = os.path.join(self.tmp, "twice")
        hidden = os.path.join(self.tmp, "hidden.h5")
        r = plot_here(hidden, hidden, "--only", "curves", "-o", out)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        name = os.path.basename(self.tmp)
        self.assertEqual(sorted(os.listdir(out)), sorted(
            ["curves.png", f"{name}-hidden-1-curves.png", f"{name}-hidden-2-curves.png"]))

    def test_ranking_dynamics(self):
        """The measures on the figure: 0 drift at init, changes exactly where weights moved."""
        sys.path.insert(0, os.path.join(SRC, "python"))
        from laperm import plot as lp
        run = lp.open_run(os.path.join(self.tmp, "nohidden.h5"))
        dyn = lp.ranking_dynamics(run)
        self.assertEqual(list(dyn), ["dense_1/kernel"])
        steps, changed, drift = dyn["dense_1/kernel"]
        self.assertEqual(steps[0], 0)
        # One point per snapshot step (--snapshot-every 4 leaves step 8 to the epoch end's).
        self.assertEqual(steps[1:].tolist(), sorted({s.step for s in run.snapshots}))
        self.assertEqual(len(steps), len(run.snapshots) + 1)
        self.assertEqual(drift[0], 0.0)
        self.assertTrue(((changed >= 0) & (changed <= 1)).all())
        self.assertGreater(drift[-1], 0.0, "LaPerm moved some weights")
        # changed[1]: the fraction of weights whose value differs from init's.
        init = run.network(source="init").weights["dense_1/kernel"]
        first = run.network(snapshot=0).weights["dense_1/kernel"]
        self.assertAlmostEqual(changed[1], float(np.mean(init != first)))
        # A random permutation of each group drifts by 1 on average.
        g = init.reshape(init.shape[0], -1)
        keys = lp.key(g)
        mid0 = lp._midranks(np.sort(keys, axis=1), keys)
        rng = np.random.default_rng(1)
        d = []
        for _ in range(200):
            shuffled = np.stack([rng.permutation(row) for row in keys])
            d.append(np.abs(lp._midranks(np.sort(keys, axis=1), shuffled) - mid0).mean())
        ratio = np.mean(d) / lp._random_drift(np.sort(mid0, axis=1))
        self.assertAlmostEqual(ratio, 1.0, delta=0.03)
        # Zero biases, permuted: nothing to show.
        hidden = lp.open_run(os.path.join(self.tmp, "hidden.h5"))
        permuted = [n for n, g in lp.kernel_groups(hidden).items() if g[2]]
        self.assertIn("dense_1/bias", permuted)
        self.assertEqual(sorted(lp.ranking_dynamics(hidden)),
                         ["conv2d_1/kernel", "dense_1/kernel", "dense_2/kernel"])

    def test_bad_input(self):
        t = self.tmp
        out = os.path.join(t, "bad")
        cases = []
        cases.append((os.path.join(t, "absent.h5"), "no such file"))
        text = os.path.join(t, "text.h5")
        with open(text, "w") as f:
            f.write("not hdf5\n")
        cases.append((text, "cannot open as HDF5"))
        other = os.path.join(t, "other.h5")
        with h5py.File(other, "w") as f:
            f["x"] = np.zeros(3)
        cases.append((other, "not a laperm results file"))
        empty = os.path.join(t, "empty.h5")
        shutil.copy(os.path.join(t, "hidden.h5"), empty)
        with h5py.File(empty, "a") as f:
            for k in f["metrics"]:
                f["metrics"][k].resize((0,))
        cases.append((empty, "/metrics is empty"))
        cases.append((t, "not a sweep folder"))
        for path, message in cases:
            r = plot_here(path, "-o", out)
            self.assertNotEqual(r.returncode, 0, f"{path}: exit status")
            self.assertIn(message, r.stderr, f"{path}: the message")
            self.assertIn(path, r.stderr, f"{path}: the message names the file")
            self.assertNotIn("Traceback", r.stderr)
        # A bad file among good ones: the good one is still plotted, the exit is 1.
        r = plot_here(os.path.join(t, "absent.h5"), os.path.join(t, "hidden.h5"), "--only",
                 "curves", "-o", out)
        self.assertEqual(r.returncode, 1)
        self.check_png(os.path.join(out, "hidden-curves.png"))
        for args, message in ((["-o", out], "give at least one"),
                              ([os.path.join(t, "hidden.h5")], "give -o DIR"),
                              ([os.path.join(t, "hidden.h5"), "-o", out, "--only", "pie"],
                               "no figure pie"),
                              ([os.path.join(t, "hidden.h5"), "-o", out, "--bogus"],
                               "unknown option --bogus")):
            r = plot_here(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(message, r.stderr)
        afile = os.path.join(t, "afile")
        open(afile, "w").close()
        r = plot_here(os.path.join(t, "hidden.h5"), "-o", afile)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"-o {afile}: cannot create the folder", r.stderr)
        r = plot_here(self.sweep, "-o", out, "--metric", "best_test_mae")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no run has best_test_mae", r.stderr)

    def test_without_matplotlib(self):
        code = ("import sys; sys.modules['matplotlib'] = None; "
                "from laperm import plot; sys.exit(plot.main(sys.argv[1:]))")
        env = dict(os.environ, PYTHONPATH=os.path.join(SRC, "python"))
        r = subprocess.run([PY, "-c", code, os.path.join(self.tmp, "hidden.h5"), "-o",
                            os.path.join(self.tmp, "nompl")], capture_output=True, text=True,
                           env=env)
        self.assertEqual(r.returncode, 1)
        self.assertIn("matplotlib is missing", r.stderr)


if __name__ == "__main__":
    unittest.main()
