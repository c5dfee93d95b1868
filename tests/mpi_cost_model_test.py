#!/usr/bin/env python3
"""ctest mpi_cost_model: scripts/mpi-cost-model's formulas against hand-computed cases
(N = 2 and 4, known P, S, bandwidth and latency; the gradient buckets; rank 0's bytes),
then the script end to end on a hand-made laperm bench file (--compute-from) and results
files with and without the root attribute mpi_bytes_per_step (--measured). Environment
(set by ctest): LAPERM_SOURCE_DIR, LAPERM_BINARY. Exit 77 (skipped) when /usr/bin/python3
has no h5py."""
import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
except ImportError:
    print("mpi_cost_model: /usr/bin/python3 has no h5py/numpy: skipped")
    sys.exit(77)

SRC = os.environ.get("LAPERM_SOURCE_DIR", os.getcwd())
BIN = os.environ.get("LAPERM_BINARY", os.path.join(SRC, "build", "laperm"))
SCRIPT = os.path.join(SRC, "scripts", "mpi-cost-model")
FAILURES = []


def check(cond, what):
    print(("ok:   " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        FAILURES.append(what)


def close(got, want, what):
    check(abs(got - want) <= 1e-12 * abs(want), f"{what}: {got!r} == {want!r}")


loader = importlib.machinery.SourceFileLoader("mpi_cost_model", SCRIPT)
spec = importlib.util.spec_from_loader("mpi_cost_model", loader)
m = importlib.util.module_from_spec(spec)
loader.exec_module(m)

# P = 1000 parameters, S = 12 running-statistics floats, 3 control floats: 1015 floats.
nbytes = m.exchanged_bytes(1000, 12)
check(nbytes == 4060, f"exchanged bytes 4 x (1000 + 12 + 3) = 4060, got {nbytes}")
close(m.bytes_sent_per_rank(2, nbytes), 4060.0, "N=2 sends 2 (1/2) x 4060")
close(m.bytes_sent_per_rank(4, nbytes), 6090.0, "N=4 sends 2 (3/4) x 4060")
close(m.comm_seconds(1, nbytes, 5e-6, 3.125e9, 25e9, 10), 0.0, "N=1 has no exchange")
# 25 Gbit/s = 3.125e9 bytes/s, alpha 5 us, staging 25 GB/s, k = 10:
# N=2: 2 x 1 x 5e-6 + 4060 / 3.125e9 + 2 x 4060 / 25e9 + 1 x 5e-6 / 10
close(m.comm_seconds(2, nbytes, 5e-6, 3.125e9, 25e9, 10),
      1e-5 + 1.2992e-6 + 3.248e-7 + 5e-7, "T_comm(2)")
# N=4: 2 x 3 x 5e-6 + 6090 / 3.125e9 + 3.248e-7 + 2 x 5e-6 / 10
t4 = 3e-5 + 1.9488e-6 + 3.248e-7 + 1e-6
close(m.comm_seconds(4, nbytes, 5e-6, 3.125e9, 25e9, 10), t4, "T_comm(4)")
close(m.comm_seconds(4, nbytes, 5e-6, 3.125e9, 0, 10), t4 - 3.248e-7, "T_comm(4), no staging")
# 3 sums (2 gradient buckets and the statistics): 3 x 2 x 3 message steps of 5 us.
close(m.comm_seconds(4, nbytes, 5e-6, 3.125e9, 25e9, 10, sums=3), t4 + 6e-5, "T_comm(4), 3 sums")
# Buckets of whole layers from the last, closed at 262,144 floats or at the first layer
# with parameters (host/trainer_dist.c): lenet300's 235,500 + 30,100 + 1,010 is one.
check(m.bucket_sizes([0, 235500, 30100, 1010]) == [266610], "lenet300: 1 bucket")
check(m.bucket_sizes([0, 300000, 0, 262144, 5, 0]) == [262149, 300000],
      "5 + 262,144 | 300,000: 2 buckets")
check(m.bucket_sizes([0, 10, 262144]) == [262144, 10], "262,144 | 10: 2 buckets")
check(m.bucket_sizes([0, 0]) == [], "no parameters, no bucket")
# Rank 0's chunk of n floats is ceil(n/N): 4 x ((10 + 2 x 3) + (262144 + 2 x 65536)).
check(m.rank0_bytes_sent(4, [10, 262144]) == 4 * (16 + 393216), "rank 0's bytes at N = 4")
check(m.rank0_bytes_sent(2, [10, 7]) == 68, "rank 0's bytes at N = 2: the whole buffer")
check(m.rows_per_rank(50, 4) == 13 and m.rows_per_rank(50, 5) == 10 and
      m.rows_per_rank(50, 64) == 1, "the slowest rank has ceil(B/N) rows")
# B = 50, 1 ms per image, 2 ms replicated per step: T_step(1) = 52 ms,
# T_step(4) = 13 ms + 2 ms + t4; weak: T_step(4) = 50 ms + 2 ms + t4.
close(m.efficiency(4, 50, 1e-3, 2e-3, t4), 52e-3 / (4 * (15e-3 + t4)), "strong E(4)")
close(m.efficiency(4, 50, 1e-3, 2e-3, t4, weak=True), 52e-3 / (52e-3 + t4), "weak E(4)")
close(m.efficiency(1, 50, 1e-3, 2e-3, 0.0), 1.0, "E(1) = 1")
# Overlap: the exchange runs behind 2/3 of the compute; what is left shows.
close(m.efficiency(4, 50, 1e-3, 2e-3, 20e-3, hidden=2 / 3),
      52e-3 / (4 * (15e-3 + (20e-3 - 13e-3 * 2 / 3))), "strong E(4), exchange partly hidden")
close(m.efficiency(4, 50, 1e-3, 2e-3, t4, hidden=2 / 3), 52e-3 / (4 * 15e-3),
      "strong E(4), exchange wholly hidden")


def run(*args):
    r = subprocess.run([sys.executable, SCRIPT, "--laperm", BIN, *args], capture_output=True,
                       text=True)
    return r.returncode, r.stdout, r.stderr


def bench_file(path, images_per_s, sync_s, flops, gbs):
    """A laperm bench file in the layout of README "laperm bench's HDF5 file"."""
    bench_t = np.dtype([("section", "S16"), ("name", "S48"), ("detail", "S64"),
                        ("seconds", "<f8"), ("value", "<f8"), ("unit", "S12"),
                        ("of_peak", "<f8")])
    layers_t = np.dtype([("model", "S32"), ("layer", "S48"), ("path", "S16"), ("shape", "S64"),
                         ("batch", "<i4"), ("forward_seconds", "<f8"), ("forward_flops", "<f8"),
                         ("input_grad_seconds", "<f8"), ("input_grad_flops", "<f8"),
                         ("kernel_grad_seconds", "<f8"), ("kernel_grad_flops", "<f8")])
    bench = np.array([("layers", "lenet300 forward+backward", "batch 128, no optimizer",
                       128 / images_per_s, images_per_s, "images/s", 0),
                      ("sync", "lenet300 LaPerm sync", "3 tensors", sync_s, sync_s * 1e3, "ms",
                       0)], dtype=bench_t)
    # 128 images: forward 1/2, input gradient 1/4, kernel gradient 1/4 of the FLOPs.
    layers = np.array([("lenet300", "dense_1", "gemm", "784 > 300", 128, 1e-3, flops * 64, 0, 0,
                        1e-3, flops * 32),
                       ("lenet300", "dense_2", "gemm", "300 > 100", 128, 1e-3, 0, 1e-3,
                        flops * 32, 0, 0)], dtype=layers_t)
    with h5py.File(path, "w") as f:
        f.create_dataset("bench", data=bench)
        f.create_dataset("layers", data=layers)
        f.attrs["peak_gbs"] = gbs
        f.attrs["device"] = np.bytes_("test device [0:0, test]")
        f.attrs["command"] = np.bytes_("laperm bench (hand-made)")


def cells(out, model, n, table):
    """The cells of row (model, n) of the table whose heading starts with `table`."""
    part = out.split("### " + table, 1)[1].split("###", 1)[0] if table else out
    for line in part.splitlines():
        c = [x.strip() for x in line.strip("|").split("|")]
        if len(c) > 2 and c[0] == model and c[1] == str(n):
            return c
    return None


with tempfile.TemporaryDirectory() as tmp:
    if not os.access(BIN, os.X_OK):
        print(f"mpi_cost_model: no laperm binary at {BIN}: end-to-end part skipped")
        sys.exit(1 if FAILURES else 77)
    bench = os.path.join(tmp, "bench.h5")
    # 10000 images/s, sync 25 ms, 2 MFLOP per image, copy bandwidth 20 GB/s.
    bench_file(bench, 1e4, 25e-3, 2e6, 20.0)
    rc, out, err = run("--compute-from", bench, "--ranks", "2,4,256", "--gbits", "25",
                       "--device-tflops", "10", "--device-gbs", "1000", "--pcie-gbs", "16",
                       "--alpha-us", "5", "lenet300:128:250")
    check(rc == 0, f"the script runs on a hand-made bench file (rc {rc}: {err.strip()})")
    nb = 4 * (266610 + 0 + 3)  # models/lenet300.ini: 266,610 parameters, no BatchNorm
    t_rep = 28 * 266610 / 20e9 + 25e-3 / 250
    want = {}
    for n in (2, 4):
        # 2 sums a step (lenet300's one gradient bucket, then the statistics).
        sent = 2 * (n - 1) / n * nb
        comm_cpu = (2 * 2 * (n - 1) * 5e-6 + sent / 3.125e9 + 2 * nb / 10e9
                    + {2: 1, 4: 2}[n] * 5e-6 / 250)
        comm_gpu = (2 * 2 * (n - 1) * 5e-6 + sent / 3.125e9 + 2 * nb / 16e9
                    + {2: 1, 4: 2}[n] * 5e-6 / 250)
        t_gpu = 2e6 / 10e12
        rep_gpu = 28 * 266610 / 1000e9
        e_cpu = (128e-4 + t_rep) / (n * (128 // n * 1e-4 + t_rep + comm_cpu))
        e_gpu = (128 * t_gpu + rep_gpu) / (n * (128 // n * t_gpu + rep_gpu + comm_gpu))
        # Half the hand-made FLOPs are the backward pass's, which the exchange may hide in.
        comp = 128 // n * t_gpu
        e_hid = (128 * t_gpu + rep_gpu) / (n * (comp + rep_gpu + max(0, comm_gpu - comp / 2)))
        want[n] = [f"{128 // n}", f"{sent / 1e6:.3g}", f"{100 * e_cpu:.1f}%",
                   f"{100 * e_gpu:.1f}% ({100 * e_hid:.1f}%)"]
        got = cells(out, "lenet300", n, "Strong")
        check(got is not None and got[2:] == want[n],
              f"strong N={n}: rows, MB, E measured, E flop-rate = {want[n]}, got {got}")
    got = cells(out, "lenet300", 256, "Strong")
    check(got is not None and got[2:] == ["-"] * 4, f"N=256 > B=128 shown as '-', got {got}")
    got = cells(out, "lenet300", 2, "Weak")
    check(got is not None and got[2] == "128", f"weak scaling keeps 128 rows per rank: {got}")

    # Several bench files: each figure's best (here the second file's images/s and the
    # first one's sync and copy bandwidth).
    bench2 = os.path.join(tmp, "bench2.h5")
    bench_file(bench2, 2e4, 50e-3, 2e6, 10.0)
    rc, out, err = run("--compute-from", bench, "--compute-from", bench2, "--ranks", "2",
                       "lenet300:128:250")
    row = cells(out, "lenet300", "128", "")  # the inputs table: model, B, ...
    check(rc == 0 and row is not None and row[7] == "0.05, 128" and
          row[8] == f"{1e3 * (28 * 266610 / 20e9 + 25e-3 / 250):.3g}" and
          "2 runs, each figure's best" in out,
          f"two bench files: 0.05 ms/image (20,000 images/s), the better sync and bandwidth "
          f"({row})")

    rc, out, err = run("--compute-from", bench, "conv7:50")
    check(rc == 1 and "no row 'conv7 forward+backward'" in err,
          f"a model missing from the bench file is refused by name (rc {rc}: {err.strip()})")
    rc, out, err = run("--compute-from", os.path.join(tmp, "none.h5"), "lenet300")
    check(rc == 1 and "none.h5" in err, f"a missing bench file is refused (rc {rc})")

    # --measured, on a results file of a model of 152 parameters (dense 10x10 + 10,
    # BatchNorm's gamma and beta of 10, dense 10x2 + 2) and S = 20: one gradient bucket of
    # 152 floats, then 20 + 3 statistics. 2 ranks: rank 0 sends 4 x (152 + 23) = 700.
    # 3 ranks: 4 x ((152 + ceil(152/3)) + (23 + ceil(23/3))) = 4 x (203 + 31) = 936, the
    # mean 2 (2/3) x 700 = 933.
    run_h5 = os.path.join(tmp, "run.h5")
    with h5py.File(run_h5, "w") as f:
        f["model_text"] = ("[input]\nchannels = 1\nheight = 1\nwidth = 10\n\n[flatten]\n\n"
                           "[dense]\nunits = 10\n\n[batchnorm]\n\n[dense]\nunits = 2\n")
    def measured(set_attrs=None, drop=()):
        """The script on run_h5 after changing its root attributes."""
        with h5py.File(run_h5, "a") as f:
            for name in drop:
                del f.attrs[name]
            for name, value in (set_attrs or {}).items():
                f.attrs[name] = value
        return run("--compute-from", bench, "--measured", run_h5, "--ranks", "2", "lenet300")

    rc, out, err = measured()
    check(rc == 0 and "no root attribute mpi_bytes_per_step" in err and
          "measured bytes skipped" in out,
          f"a run without mpi_bytes_per_step is skipped with a message (rc {rc})")
    rc, out, err = measured({"mpi_world_size": 0, "mpi_bytes_per_step": 0.0})
    check(rc == 0 and "a run of one process" in out,
          f"a one-process run is skipped with a message (rc {rc}: {err.strip()})")
    rc, out, err = measured({"mpi_bytes_per_step": 700.0}, drop=("mpi_world_size",))
    check(rc == 0 and "2 ranks (--measured-ranks)" in out and "P = 152, S = 20" in out and
          "measured 700 bytes sent by rank 0 per step; predicted 700 for rank 0 "
          "(ratio 1.000000)" in out,
          f"measured 700 bytes against the prediction 700 (rc {rc}: {err.strip()})")
    rc, out, err = measured({"mpi_world_size": 3, "mpi_bytes_per_step": 940.0})
    check(rc == 0 and "3 ranks (attribute mpi_world_size)" in out and
          "predicted 936 for rank 0 (ratio 1.004274), the mean 2 (N-1)/N x 4 (P + S + 3) = 933"
          in out, f"the file's world size is used: rank 0 936, the mean 933 (rc {rc})")
    with h5py.File(run_h5, "a") as f:
        del f["model_text"]
    rc, out, err = run("--compute-from", bench, "--measured", run_h5, "lenet300")
    check(rc == 1 and "no /model_text" in err,
          f"a file without /model_text refused (rc {rc}: {err.strip()})")

if FAILURES:
    print(f"{len(FAILURES)} check(s) failed")
    sys.exit(1)
print("all checks passed")
