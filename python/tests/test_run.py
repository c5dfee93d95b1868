"""The package on a real results file: a short LaPerm run of all_kinds.ini (every layer
kind) trained here with the laperm binary on MNIST. Snapshots rebuild /weights bit for
bit; a corrupted copy raises InvariantError; numpy gives laperm's recorded test accuracy
and loss at each epoch end and for /best; torch gives numpy's logits; a killed run's
.part opens; the command line (evaluate, info, check, plot) works and fails clearly."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

import laperm
from laperm.errors import InvariantError, LapermError

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("LAPERM_SOURCE_DIR", os.path.dirname(os.path.dirname(HERE)))
BIN = os.environ.get("LAPERM_BINARY", os.path.join(SRC, "build", "laperm"))
MNIST = os.environ.get("LAPERM_DATA_DIR", os.path.join(SRC, "data", "mnist"))
TEST_IMAGES = 300
TMP = RUN = None


def setUpModule():
    global TMP, RUN
    if not os.path.exists(BIN):
        raise unittest.SkipTest("no laperm binary at %s (build it, or set LAPERM_BINARY)" % BIN)
    if not any(os.path.exists(os.path.join(MNIST, "t10k-images-idx3-ubyte" + gz))
               for gz in ("", ".gz")):
        raise RuntimeError("MNIST not found in %s (run scripts/fetch-mnist)" % MNIST)
    TMP = tempfile.mkdtemp(prefix="laperm-pytest-")
    RUN = os.path.join(TMP, "run.h5")
    cmd = [BIN, "train", "--model", os.path.join(HERE, "all_kinds.ini"), "--data", MNIST,
           "--epochs", "2", "--train-subset", "1024", "--test-subset", str(TEST_IMAGES),
           "--batch", "32", "--k", "4", "--normalize", "per-channel", "--save-best",
           "--out", RUN, "--progress", "none"]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode:
        raise RuntimeError("%s failed:\n%s" % (" ".join(cmd), r.stdout))


def tearDownModule():
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def cli(*args, path=()):
    """python3 -m laperm ARGS, with the folders `path` before the package on PYTHONPATH."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(list(path) + [os.path.join(SRC,
                                                                                 "python")]))
    return subprocess.run([sys.executable, "-m", "laperm"] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, env=env, cwd=SRC)


class Reader(unittest.TestCase):
    def test_run_contents(self):
        with laperm.open(RUN) as run:
            self.assertEqual(run.path, RUN)
            self.assertIsInstance(run.attrs["seed"], int)
            self.assertIsInstance(run.attrs["lr"], float)
            self.assertEqual(run.attrs["normalize"], "per-channel")
            self.assertIn("[avgpool]", run.model_text)
            self.assertEqual(run.model.layers[1].name, "c1")
            np.testing.assert_array_equal(run.metrics["epoch"], [1, 2])
            self.assertEqual(run.evals, {})
            self.assertEqual([(s.index, s.epoch) for s in run.snapshots], [(0, 1), (1, 2)])
            self.assertEqual(run.snapshot_index(epoch=1), 0)
            self.assertEqual(run.snapshot_index(), 1)
            self.assertEqual(run.snapshot_index(step=run.snapshots[0].step), 0)
            with self.assertRaisesRegex(LapermError, "no snapshot at the end of epoch 3 "
                                                     r"\(the file has epochs 1, 2\)"):
                run.snapshot_index(epoch=3)
            with self.assertRaisesRegex(LapermError, "out of range"):
                run.network(snapshot=5)
            self.assertEqual(run.best["epoch"], run.attrs["best_epoch"])

    def test_rebuild_is_bit_for_bit(self):
        with laperm.open(RUN) as run, h5py.File(RUN, "r") as f:
            net = run.network()
            self.assertEqual(set(net.weights), set(run.model.tensors()))
            for name, w in net.weights.items():
                np.testing.assert_array_equal(bits(w), bits(f["weights/" + name][...]), name)
            stored = run.network(source="weights")
            for name, w in stored.weights.items():
                np.testing.assert_array_equal(bits(w), bits(net.weights[name]), name)
            first = run.network(epoch=1).weights
            for name in f["rankings"]["c1"]:
                w = first["c1/" + name]
                self.assertTrue(np.array_equal(np.sort(bits(w), axis=None),
                                               np.sort(bits(f["init/c1/" + name][...]),
                                                       axis=None)) or name == "bias")
            init = run.network(source="init").weights
            np.testing.assert_array_equal(bits(init["c1/kernel"]), bits(f["init/c1/kernel"]))
            np.testing.assert_array_equal(init["batchnorm_1/running_var"], 1)
            best = run.network(source="best").weights
            np.testing.assert_array_equal(bits(best["d1/kernel"]), bits(f["best/d1/kernel"]))

    def corrupt(self, name, edit):
        path = os.path.join(TMP, name)
        shutil.copy(RUN, path)
        with h5py.File(path, "r+") as f:
            edit(f)
        return path

    def test_invariant_violation_detected(self):
        def bad_rank(f):
            d = f["rankings/c1/kernel"]
            a = d[...]
            a[0, 2, 0] = a[0, 2, 1]  # not a permutation any more
            d[...] = a

        def bad_weight(f):
            d = f["weights/d1/kernel"]
            a = d[...]
            a[3, 4] = 9.0
            d[...] = a

        path = self.corrupt("bad-rank.h5", bad_rank)
        with laperm.open(path) as run:
            with self.assertRaisesRegex(InvariantError, "c1/kernel: snapshot 0 group 2 is not a "
                                                        "permutation"):
                run.network(epoch=1)
            run.network(epoch=2)  # the other snapshot is whole
        r = subprocess.run([sys.executable, os.path.join(SRC, "scripts", "check-invariant"),
                            path], stdout=subprocess.PIPE, text=True)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("c1/kernel: MISMATCH: snapshot 0 group 2 is not a permutation", r.stdout)
        path = self.corrupt("bad-weight.h5", bad_weight)
        with laperm.open(path) as run:
            with self.assertRaisesRegex(InvariantError, r"/weights/d1/kernel: 1 of 128 values "
                                                        "differ"):
                run.network()
            run.network(epoch=1)
        r = cli("check", path)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("d1/kernel: MISMATCH: last snapshot gives", r.stdout)
        self.assertEqual(cli("check", RUN).returncode, 0)

    def test_damaged_file_is_a_message(self):
        path = os.path.join(TMP, "damaged.h5")
        shutil.copy(RUN, path)
        with h5py.File(path, "r") as f:  # the first snapshot's compressed ranking chunk
            at = f["rankings/d1/kernel"].id.get_chunk_info(0).byte_offset
        with open(path, "r+b") as fh:
            fh.seek(at + 8)
            fh.write(b"\xff" * 64)
        r = cli("evaluate", path, "--epoch", "1", "--data", MNIST)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("damaged.h5: cannot read:", r.stdout)
        r = cli("check", path)
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn("damaged.h5: cannot read:", r.stdout)

    def test_killed_part_opens(self):
        part = os.path.join(TMP, "killed.h5.part")
        shutil.copy(RUN, part)
        # A writer in SWMR mode that dies without closing: the file stays marked open.
        code = ("import h5py, os\nf = h5py.File(%r, 'r+', libver='latest')\ndel f['weights']\n"
                "f.attrs['status'] = 'running'\nf.swmr_mode = True\nf.flush()\nos._exit(0)\n"
                % part)
        subprocess.run([sys.executable, "-c", code], check=True)
        with self.assertRaises(OSError):
            h5py.File(part, "r").close()
        with laperm.open(part) as run:
            self.assertEqual(run.attrs["status"], "running")
            self.assertEqual(len(run.snapshots), 2)
            net = run.network()  # no /weights to compare with: the rebuild alone
            with self.assertRaisesRegex(LapermError, "no /weights"):
                run.network(source="weights")
        with laperm.open(RUN) as run:
            np.testing.assert_array_equal(bits(net.weights["c1/kernel"]),
                                          bits(run.network().weights["c1/kernel"]))
        # info: "running" only while the lock file names a live process
        lock = os.path.join(TMP, "killed.h5.lock")
        for pid, want in ((os.getpid(), ": running,"), (2 ** 22 + 1, ": stopped while running")):
            with open(lock, "w") as f:
                f.write("%d\nlaperm train ...\n" % pid)
            r = cli("info", part)
            self.assertEqual(r.returncode, 0, r.stdout)
            self.assertIn(want, r.stdout.splitlines()[0])


class Evaluation(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.results = laperm.open(RUN)
        cls.data = laperm.data.load(run=cls.results)

    @classmethod
    def tearDownClass(cls):
        cls.results.close()

    def test_numpy_gives_laperms_metrics(self):
        x, y = self.data
        self.assertEqual(x.shape, (TEST_IMAGES, 1, 28, 28))
        for epoch in (1, 2):
            with self.subTest(epoch=epoch):
                r = laperm.evaluate(self.results, epoch=epoch, data=self.data)
                i = self.results.metric_index(epoch)
                want = self.results.metrics["test_accuracy"][i]
                diff = round(r["accuracy"] * r["n"]) - round(want * r["n"])
                print("\n  epoch %d: numpy %d/%d correct, laperm %d: %+d images" % (
                    epoch, round(r["accuracy"] * r["n"]), r["n"], round(want * r["n"]), diff),
                    end="")
                self.assertLessEqual(abs(diff), 2)
                self.assertAlmostEqual(r["loss"], self.results.metrics["test_loss"][i],
                                       delta=1e-4 * abs(r["loss"]))
        r = laperm.evaluate(self.results, source="best", data=self.data)
        self.assertAlmostEqual(r["accuracy"], self.results.attrs["best_test_accuracy"],
                               delta=2.5 / TEST_IMAGES)
        # Without data=: the run's own data, loaded as it recorded them.
        r = laperm.evaluate(RUN)
        self.assertEqual(r["n"], TEST_IMAGES)
        np.testing.assert_array_equal(r["labels"], y)

    def test_torch_gives_numpys_logits(self):
        try:
            import torch  # noqa: F401
        except ImportError:
            self.skipTest("torch is not installed: to_torch() not compared")
        a = laperm.evaluate(self.results, data=self.data)
        b = laperm.evaluate(self.results, data=self.data, use_torch=True)
        scale = 1 + np.abs(a["logits"]).max()
        self.assertLess(np.abs(a["logits"] - b["logits"]).max(), 1e-5 * scale)
        self.assertLessEqual(int(np.sum(a["predictions"] != b["predictions"])), 2)
        self.assertAlmostEqual(a["loss"], b["loss"], delta=1e-5 * a["loss"])


class CommandLine(unittest.TestCase):
    def test_evaluate(self):
        r = cli("evaluate", RUN, "--epoch", "1", "--data", MNIST)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertRegex(r.stdout, r"snapshot of epoch 1, 300 test samples, numpy\n"
                                   r"  loss \d\.\d+  accuracy 0\.\d+ \(\d+/300\)\n"
                                   r"  laperm recorded \(epoch 1\): loss")
        r = cli("evaluate", RUN, "--best", "--data", MNIST, "--test-subset", "50")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("/best, 50 test samples", r.stdout)
        self.assertNotIn("laperm recorded", r.stdout)  # 50 images are not the run's 300
        r = cli("evaluate", RUN, "--epoch", "7", "--data", MNIST)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no snapshot at the end of epoch 7", r.stdout)
        r = cli("evaluate", RUN, "--data", os.path.join(TMP, "nowhere"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("nowhere: no such folder", r.stdout)
        r = cli("evaluate", os.path.join(TMP, "none.h5"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("none.h5: cannot open", r.stdout)
        # Without torch, --torch says how to get it (a torch module that fails to import).
        fake = os.path.join(TMP, "notorch")
        os.makedirs(fake, exist_ok=True)
        with open(os.path.join(fake, "torch.py"), "w") as fh:
            fh.write("raise ImportError('no torch here')\n")
        r = cli("evaluate", RUN, "--torch", "--data", MNIST, path=[fake])
        self.assertEqual(r.returncode, 1)
        self.assertIn("to_torch() needs PyTorch", r.stdout)
        self.assertIn("python3-torch", r.stdout)
        r = cli("evaluate", RUN, "--epoch", "1", "--best")
        self.assertEqual(r.returncode, 2)
        self.assertIn("not allowed with argument", r.stdout)

    def test_unpacked_lpk_and_folder(self):
        """laperm unpack's file (/weights, no snapshots) evaluates as the run's /weights;
        a .lpk and a folder are named as such."""
        lpk, unpacked = os.path.join(TMP, "net.lpk"), os.path.join(TMP, "unpacked.h5")
        for cmd in (["pack", RUN, "-o", lpk], ["unpack", lpk, "-o", unpacked]):
            r = subprocess.run([BIN] + cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
            self.assertEqual(r.returncode, 0, r.stdout)
        with laperm.open(RUN) as a, laperm.open(unpacked) as b:
            self.assertEqual(b.snapshots, [])
            wa, wb = a.weights(source="weights"), b.weights(source="weights")
            self.assertEqual(sorted(wa), sorted(wb))
            for name in wa:
                np.testing.assert_array_equal(bits(wa[name]), bits(wb[name]))
        # no snapshots: the default is /weights (its data settings are not in a .lpk)
        got = cli("evaluate", unpacked, "--data", MNIST, "--test-subset", str(TEST_IMAGES))
        self.assertEqual(got.returncode, 0, got.stdout)
        self.assertIn("unpacked.h5: /weights, %d test samples" % TEST_IMAGES, got.stdout)
        r = cli("info", unpacked)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("a network of laperm unpack (step", r.stdout)
        self.assertIn("networks: /weights", r.stdout)
        for path, msg in ((lpk, "a .lpk file; rebuild its weights first: laperm unpack"),
                          (TMP, "a folder, not a results file")):
            r = cli("info", path)
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn(msg, r.stdout)
        foreign = os.path.join(TMP, "foreign.h5")
        with h5py.File(foreign, "w") as f:
            f["a"] = np.arange(3)
        r = cli("check", foreign)
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn("foreign.h5: no /model_text: not a laperm results file", r.stdout)
        r = cli("evalute", RUN)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command 'evalute': did you mean evaluate?", r.stdout)

    def test_info_and_table(self):
        r = cli("info", RUN)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("snapshots: 2 (epoch ends 1..2)", r.stdout)
        self.assertIn("normalize per-channel", r.stdout)
        r = cli("frobnicate")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command 'frobnicate'", r.stdout)
        for name in ("evaluate", "info", "check", "plot"):
            self.assertIn(name, cli("--help").stdout)
        if not os.path.exists(os.path.join(SRC, "python", "laperm", "plot.py")):
            r = cli("plot", RUN)
            self.assertEqual(r.returncode, 2)
            self.assertIn("not available", r.stdout)


if __name__ == "__main__":
    unittest.main()
