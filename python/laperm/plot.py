"""Figures of laperm results files and sweep folders, as PNGs: `python3 -m laperm plot
FILE... -o DIR`. Each figure is one function in FIGURES (its file name and what it shows,
listed in the README's "Plots"); scripts/sweep draws its summary.png with sweep_figure.
"""
import json
import math
import os
import sys

import h5py
import numpy as np

from .errors import LapermError
from .ranking import order_key
from .results import datasets_under
from .results import open as open_results

USAGE = """usage: python3 -m laperm plot FILE_OR_SWEEP_DIR... -o DIR [options]

Writes PNG figures of laperm results files (.h5, also a running or killed run's .part)
and of sweep folders (scripts/sweep's, holding summary.h5) into DIR:
  <run>-curves.png       train/test accuracy and loss per epoch (synced, unsynced, --eval-every)
  curves.png             with several files: their curves overlaid, one colour per run
  <run>-profiles.png     each unit's sorted incoming weights per layer, at init and trained
  <run>-unit-images.png  a model without hidden layers (F1): each output unit's weights as an image
  <run>-rankings.png     per permuted tensor: positions changed per snapshot, drift from init
  <sweep>-sweep.png      a sweep folder: the metric against the first axis, error bars 1 sd

options:
  -o, --out DIR      folder for the PNGs (created)
  --only LIST        only these figures: curves,profiles,unit-images,rankings,sweep
  --units N          at most N units per layer in the weight profiles (default 200)
  --metric NAME      a sweep's metric (default: best_test_accuracy, or best_test_loss
                     when no run has accuracies)
  -h, --help         this text"""

PROFILE_UNITS = 200  # more units than this per layer: a fixed-seed subsample
PROFILE_LAYERS = 16  # more layers than this: evenly spaced ones, named in the title
SUBSAMPLE_SEED = 0
IMAGE_UNITS = 10  # output units drawn as images (the first ones)
DPI = 110


class PlotError(LapermError):
    """A file or folder that cannot be plotted; the message names it and says why."""


# ------------------------------------------------------------------ reading results files

def in_model_order(run, names):
    """`names` ("layer/tensor") in the model file's order (the file's is alphabetical)."""
    order = {n: i for i, n in enumerate(run.model.tensors())}
    return sorted(names, key=lambda n: order.get(n, len(order)))


def kernel_groups(run):
    """{tensor: (groups, group_size, permuted)} from the /init attributes, in model order."""
    f = run.file
    return {n: (int(f["init/" + n].attrs.get("groups", 1)),
                int(f["init/" + n].attrs.get("group_size", 0)),
                bool(f["init/" + n].attrs.get("permuted", 0)))
            for n in in_model_order(run, datasets_under(f, "init"))}


def open_run(path):
    """A results file opened for plotting, checked to hold something to plot."""
    if os.path.isdir(path):
        raise PlotError(f"{path}: a folder without summary.h5 (not a sweep folder, or run "
                        f"`scripts/sweep --summarize {path}` first)")
    run = open_results(path)
    if not len(run.metrics.get("epoch", [])):
        raise PlotError(f"{path}: /metrics is empty (no epoch finished): nothing to plot")
    return run


# ----------------------------------------------------------------------------- helpers

def _pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotError("matplotlib is missing (apt-get install python3-matplotlib, or pip "
                        "install matplotlib)")
    return plt


def _save(fig, path):
    plt = _pyplot()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=DPI)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def run_label(run):
    return os.path.splitext(os.path.basename(run.path.removesuffix(".part")))[0]


def describe(run):
    """One line: model file, optimizer, k and seed, from the root attributes."""
    a = run.attrs
    opt = a.get("optimizer", "?")
    if opt == "laperm":
        opt = f"LaPerm k={a.get('k')} over {a.get('inner_optimizer')}"
    elif opt == "lookahead":
        opt = f"Lookahead k={a.get('lookahead_k')} over {a.get('inner_optimizer')}"
    source = run.file["model_text"].attrs.get("source", "model")  # the model file's path
    source = source.decode() if isinstance(source, bytes) else str(source)
    return f"{os.path.basename(source)}, {opt}, seed {a.get('seed')}"


def steps_per_epoch(run):
    a = run.attrs
    try:
        return -(-int(a["train_images"]) // int(a["batch"]))
    except (KeyError, ValueError, ZeroDivisionError):
        return None


def _epochs_of(run, steps):
    """Steps as fractional epochs (a cut-short last epoch shows where it stopped)."""
    spe = steps_per_epoch(run)
    return np.asarray(steps, np.float64) / spe if spe else None


def is_regression(run):
    acc = run.metrics.get("test_accuracy", np.array([np.nan]))
    return run.attrs.get("loss") == "mse" or not np.isfinite(acc).any()


def _same(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


# ------------------------------------------------------------------ training curves

def curves_figure(runs, path, labels=None):
    """Accuracy (or, for regression, MAE) and loss per epoch of one or more runs."""
    plt = _pyplot()
    labels = labels or [run_label(r) for r in runs]
    regression = [is_regression(r) for r in runs]
    panels = []
    if not all(regression):
        panels.append(("accuracy", "accuracy (%)", 100.0))
    if any(regression):
        panels.append(("mae", "mean absolute error", 1.0))
    loss_names = sorted({"MSE" if reg else "cross-entropy" for reg in regression})
    panels.append(("loss", f"loss ({', '.join(loss_names)})", 1.0))
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4.6), squeeze=False)
    axes = axes[0]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    single = len(runs) == 1
    # One run: a colour per series; several: a colour per run and a line style per series.
    series_color = {"train": colors[0], "test": colors[1], "test, synced": colors[1],
                    "test, unsynced": colors[2]}
    every = f"every {runs[0].attrs.get('eval_every')} steps" if single else "every N steps"
    styles_used = {}
    for ri, run in enumerate(runs):
        run_color = colors[ri % len(colors)]
        m, ev = run.metrics, run.evals
        x = _epochs_of(run, m["step"]) if "step" in m else None
        if x is None:
            x = m["epoch"].astype(np.float64)
        ex = _epochs_of(run, ev["step"]) if ev.get("step") is not None and len(ev["step"]) \
            else None
        for ax, (kind, _, scale) in zip(axes, panels):
            series = [("train", "train_" + kind, "--", None),
                      ("test", "test_" + kind, "-", "o")]
            unsynced = "test_" + kind + "_unsynced"
            if unsynced in m and not _same(m[unsynced], m["test_" + kind]):
                series[1] = ("test, synced", "test_" + kind, "-", "o")
                series.append(("test, unsynced", unsynced, ":", "s"))
            for name, key, ls, marker in series:
                y = m.get(key)
                if y is None or not np.isfinite(y).any():
                    continue
                color = series_color[name] if single else run_color
                ax.plot(x, scale * y, ls=ls, marker=marker, ms=4, color=color, lw=1.6)
                styles_used[name] = (ls, marker, color)
            if ex is not None:
                for name, key, marker, base in (
                        (f"test {every}", "test_" + kind, "x", "test"),
                        (f"test, unsynced {every}", unsynced, "+", "test, unsynced")):
                    y = ev.get(key)
                    if y is None or not np.isfinite(y).any():
                        continue
                    if key == unsynced and _same(y, ev.get("test_" + kind)):
                        continue
                    color = series_color[base] if single else run_color
                    ax.plot(ex, scale * y, ls="none", marker=marker, ms=5, color=color,
                            alpha=0.7)
                    styles_used[name] = ("none", marker, color)
    for ax, (kind, ylabel, _) in zip(axes, panels):
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        lo, hi = ax.get_ylim()
        if kind == "loss" and lo > 0 and hi / lo > 20:
            ax.set_yscale("log")
    if "test, unsynced" in styles_used and "test" in styles_used:  # one name for one line
        styles_used["test, synced"] = styles_used.pop("test")
    from matplotlib.lines import Line2D
    order = ["train", "test", "test, synced", "test, unsynced"]
    named = sorted(styles_used.items(), key=lambda i: order.index(i[0]) if i[0] in order
                   else len(order) + (", unsynced" in i[0]))
    style_handles = [Line2D([], [], color=c if single else "0.3", ls=ls, marker=mk, label=n)
                     for n, (ls, mk, c) in named]
    if len(runs) > 1:  # both legends under the panels, where they hide no curve
        run_handles = [Line2D([], [], color=colors[i % len(colors)], lw=2.5, label=l)
                       for i, l in enumerate(labels)]
        run_cols = min(3, len(runs))
        fig.legend(handles=run_handles, loc="lower left", bbox_to_anchor=(0.02, 0.0),
                   ncol=run_cols, fontsize="small", title="run", title_fontsize="small")
        fig.legend(handles=style_handles, loc="lower right", bbox_to_anchor=(0.98, 0.0),
                   ncol=2, fontsize="small", title="series", title_fontsize="small")
        rows = max(math.ceil(len(runs) / run_cols), math.ceil(len(style_handles) / 2))
        legend_h = 0.1 + 0.2 * (rows + 1)  # inches: the rows and the legend's title
        w, h = fig.get_size_inches()
        fig.set_size_inches(w, h + legend_h)
        fig.suptitle(f"Training curves of {len(runs)} runs")
        fig.tight_layout(rect=(0, legend_h / (h + legend_h), 1, 1))
    else:
        axes[0].legend(handles=style_handles, fontsize="small", loc="best")
        fig.suptitle(f"{labels[0]}: {describe(runs[0])}")
        fig.tight_layout()
    return _save(fig, path)


# ------------------------------------------------------------------ weight profiles

def kernels(run, weights):
    """Names of the tensors with incoming weights per unit (ndim >= 2), in model order."""
    return in_model_order(run, [n for n, w in weights.items() if np.ndim(w) >= 2])


def key(weights):
    """uint32 keys in the ranking's totalOrder of float32 values."""
    return order_key(np.ascontiguousarray(weights, dtype=np.float32).view(np.uint32))


def trained_weights(run):
    """The trained weights: /weights, or of a run still going (or killed) its last snapshot,
    and what they are."""
    if "weights" in run.file:
        return run.weights(source="weights"), "trained"
    if not run.snapshots:
        raise PlotError(f"{run.path}: neither /weights nor a snapshot: no trained weights")
    s = run.snapshots[-1]
    return run.weights(snapshot=s.index), f"snapshot at step {s.step}"


def profiles_figure(run, path, max_units=PROFILE_UNITS):
    """Per layer, each unit's incoming weights sorted ascending, overlaid: init | trained."""
    plt = _pyplot()
    init = run.weights(source="init")
    trained, trained_name = trained_weights(run)
    names = kernels(run, init)
    if not names:
        raise PlotError(f"{run.path}: no weight kernel (no tensor of 2 or more dimensions)")
    shown = names
    if len(names) > PROFILE_LAYERS:
        pick = np.unique(np.linspace(0, len(names) - 1, PROFILE_LAYERS).round().astype(int))
        shown = [names[i] for i in pick]
    groups = kernel_groups(run)
    per_row = 1 if len(shown) <= 6 else 2  # layers side by side: init | trained | init | ...
    nrow = -(-len(shown) // per_row)
    fig, grid = plt.subplots(nrow, 2 * per_row, figsize=(11 * per_row, 2.5 * nrow + 0.9),
                             squeeze=False, layout="constrained")
    axes = [grid[i // per_row][2 * (i % per_row):2 * (i % per_row) + 2]
            for i in range(len(shown))]
    for ax in grid.ravel()[2 * len(shown):]:
        ax.axis("off")
    rng_note = False
    for i, name in enumerate(shown):
        w0 = init[name].reshape(init[name].shape[0], -1)
        w1 = trained[name].reshape(w0.shape)
        units = np.arange(w0.shape[0])
        if len(units) > max_units:
            units = np.sort(np.random.default_rng(SUBSAMPLE_SEED).choice(
                len(units), max_units, replace=False))
            rng_note = True
        fan_in = w0.shape[1]
        x = np.arange(fan_in)
        alpha = float(np.clip(8.0 / len(units), 0.04, 0.6))
        g = groups.get(name)
        same = " (LaPerm: each unit's values kept)" if g and g[2] and g[1] == fan_in else ""
        sub = (f"{len(units)} of {w0.shape[0]} units" if len(units) < w0.shape[0]
               else f"{w0.shape[0]} unit{'s' if w0.shape[0] > 1 else ''}")
        titles = (f"{name} {tuple(init[name].shape)}, {sub}: init",
                  f"{name}: {trained_name}{same}")
        for col, (w, title) in enumerate(((w0, titles[0]), (w1, titles[1]))):
            ax = axes[i][col]
            s = np.sort(w[units], axis=1)
            ax.plot(x, s.T, color="C0", lw=0.6, alpha=alpha)
            ax.plot(x, np.median(s, axis=0), color="k", lw=1.2, label="median over units")
            ax.set_title(title, fontsize=9)
            ax.set_ylabel("weight")
            ax.grid(True, alpha=0.3)
            if i >= len(shown) - per_row:
                ax.set_xlabel("position in the unit's sorted incoming weights")
        lo = min(axes[i][0].get_ylim()[0], axes[i][1].get_ylim()[0])
        hi = max(axes[i][0].get_ylim()[1], axes[i][1].get_ylim()[1])
        axes[i][0].set_ylim(lo, hi)
        axes[i][1].set_ylim(lo, hi)
    axes[0][0].legend(fontsize=8, loc="lower right")
    title = f"{run_label(run)}: weight profiles (each line one unit, sorted ascending)"
    notes = []
    if rng_note:
        notes.append(f"at most {max_units} units per layer, chosen at random (seed "
                     f"{SUBSAMPLE_SEED})")
    if len(shown) < len(names):
        notes.append(f"{len(shown)} of {len(names)} layers")
    fig.suptitle(title + ("\n" + "; ".join(notes) if notes else ""), fontsize=11)
    return _save(fig, path)


# ----------------------------------------------------- unit images (no hidden layer)

def image_kernel(run, init):
    """The one dense kernel of a model without hidden layers on image input, with the
    image shape (C, H, W), else None."""
    names = kernels(run, init)
    shape = tuple(run.model.input_shape)
    if len(names) != 1 or len(shape) != 3 or init[names[0]].ndim != 2:
        return None
    c, h, w = shape
    if h < 2 or w < 2 or init[names[0]].shape[1] != c * h * w:
        return None
    return names[0], shape


def unit_images_figure(run, path):
    """Each output unit's incoming weights as an image, at init and trained (the paper's
    Figure 14): one row each, a shared colour scale centred on 0."""
    plt = _pyplot()
    init = run.weights(source="init")
    found = image_kernel(run, init)
    if found is None:
        raise PlotError(f"{run.path}: the model has hidden layers or no image input: no "
                        "unit images")
    name, (c, h, w) = found
    trained, trained_name = trained_weights(run)
    rows = [("init", init[name]), (trained_name, trained[name])]
    units = min(IMAGE_UNITS, init[name].shape[0])
    vmax = max(float(np.abs(k[:units]).max()) for _, k in rows) or 1.0
    fig, axes = plt.subplots(2, units, figsize=(1.3 * units + 1.6, 3.4), squeeze=False,
                             layout="constrained")
    im = None
    for r, (what, k) in enumerate(rows):
        for u in range(units):
            img = k[u].reshape(c, h, w)
            ax = axes[r][u]
            if c == 3:  # colour input: the channels as RGB, 0 at mid-grey
                rgb = np.clip(0.5 + 0.5 * np.moveaxis(img, 0, -1) / vmax, 0, 1)
                ax.imshow(rgb)
            else:  # one channel, or the mean over other numbers of them
                im = ax.imshow(img.mean(axis=0), cmap="RdBu_r", vmin=-vmax, vmax=vmax)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"unit {u}", fontsize=9)
        axes[r][0].set_ylabel(what, fontsize=9)
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.9, label="weight")
    more = f" (first {units} of {init[name].shape[0]} units)" if units < init[name].shape[0] \
        else ""
    fig.suptitle(f"{run_label(run)}: {name} {tuple(init[name].shape)}, each output unit's "
                 f"weights as a {h}x{w} image{more}" +
                 (f"\nRGB, 0 at mid-grey, ±{vmax:.3g} at the ends" if c == 3 else
                  f", the mean of {c} channels" if c > 1 else ""), fontsize=10)
    return _save(fig, path)


# ---------------------------------------------------------------- ranking dynamics

def _midranks(keys_sorted, keys):
    """Per row, the mean position of each key's tie block in the row's sorted keys: a
    weight's rank with tied values counted as one (so equal values have equal ranks)."""
    g, n = keys_sorted.shape
    off = np.arange(g, dtype=np.uint64)[:, None] << np.uint64(32)
    flat = (off | keys_sorted.astype(np.uint64)).ravel()
    q = (off | keys.astype(np.uint64)).ravel()
    base = (np.arange(g, dtype=np.int64) * n).repeat(keys.shape[1])
    left = np.searchsorted(flat, q, "left") - base
    right = np.searchsorted(flat, q, "right") - base - 1
    return ((left + right) / 2.0).reshape(keys.shape)


def _random_drift(mid_sorted):
    """E|m[pi(j)] - m[j]| per row under a uniformly random permutation pi, averaged:
    (1/n^2) sum over all pairs of |m_a - m_b|, from the sorted midranks."""
    n = mid_sorted.shape[1]
    coef = 2 * np.arange(n) - n + 1
    return float((2.0 * (mid_sorted * coef).sum(axis=1) / (n * n)).mean())


def ranking_dynamics(run):
    """{tensor: (steps, changed, drift)} for each permuted tensor, the first point at
    step 0 (init). changed[s]: fraction of positions whose weight differs from the
    previous snapshot's (from init for the first), tied values counting as one rank;
    drift[s]: mean |midrank now - midrank at init| over positions, divided by its
    expectation under a random permutation of each group (0: the initial order, 1: as
    far from it as a random shuffle). Tensors whose every group holds one value (a zero
    bias, say: nothing a permutation can change) are left out."""
    groups = {n: g for n, g in kernel_groups(run).items() if g[2]}
    if not groups or not run.snapshots:
        return {}
    init = run.weights(source="init")
    state = {}
    for name, (g, n, _) in groups.items():
        k0 = key(init[name]).reshape(g, n)
        ks = np.sort(k0, axis=1)
        if (ks[:, 0] == ks[:, -1]).all():
            continue
        mid0 = _midranks(ks, k0)
        state[name] = {"sorted": ks, "mid0": mid0, "prev": k0,
                       "random": _random_drift(np.sort(mid0, axis=1)),
                       "changed": [0.0], "drift": [0.0]}
    steps = [0]
    snaps = run.snapshots
    for i, (idx, step, _) in enumerate(snaps):
        if i + 1 < len(snaps) and snaps[i + 1].step == step:
            continue  # --snapshot-every's and the epoch end's at one step: the same network
        weights = run.weights(snapshot=idx)
        steps.append(step)
        for name, st in state.items():
            k = key(weights[name]).reshape(st["prev"].shape)
            mid = _midranks(st["sorted"], k)
            st["changed"].append(float(np.mean(k != st["prev"])))
            d = float(np.mean(np.abs(mid - st["mid0"])))
            st["drift"].append(d / st["random"] if st["random"] > 0 else 0.0)
            st["prev"] = k
    return {name: (np.array(steps), np.array(st["changed"]), np.array(st["drift"]))
            for name, st in state.items()}


def rankings_figure(run, path):
    plt = _pyplot()
    dyn = ranking_dynamics(run)
    groups = kernel_groups(run)
    if not dyn:
        raise PlotError(f"{run.path}: no permuted tensor with two values in a group (or no "
                        "snapshot): no ranking figure")
    ncol = 1 if len(dyn) <= 12 else 2
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(9 + 2.5 * (ncol - 1), 7.5), sharex=True)
    cmap = plt.get_cmap("tab20" if len(dyn) > 10 else "tab10")
    for i, (name, (steps, changed, drift)) in enumerate(dyn.items()):
        color = cmap(i % cmap.N)
        ls = ("-", "--", ":", "-.")[i // cmap.N % 4]  # more tensors than colours
        g, n, _ = groups[name]
        label = f"{name} ({g} x {n})"
        a1.plot(steps[1:], 100 * changed[1:], marker="o", ms=3, color=color, ls=ls,
                label=label)
        a2.plot(steps, drift, marker="o", ms=3, color=color, ls=ls, label=label)
    a2.axhline(1.0, color="0.4", ls=":", lw=1)
    a2.text(0.01, 1.0, "random shuffle", transform=a2.get_yaxis_transform(), fontsize=8,
            va="bottom", color="0.3")
    a1.set_ylabel("positions changed since\nthe previous snapshot (%)")
    a2.set_ylabel("drift from the initial order\n(1 = random shuffle)")
    a2.set_xlabel("training step")
    a1.set_ylim(bottom=0)
    constant = [n for n, g in groups.items() if g[2] and n not in dyn]
    note = "first point of each line:\nthe change since init"
    if constant:
        note += ("\n\nnot shown, one value per group:\n" + "\n".join(constant[:6]) +
                 ("\n..." if len(constant) > 6 else ""))
    a2.text(1.01, 1.0, note, transform=a2.transAxes, fontsize=8, ha="left", va="top",
            color="0.3")
    a2.set_ylim(0, max(1.1, max(float(d.max()) for _, _, d in dyn.values()) * 1.05))
    for ax in (a1, a2):
        ax.grid(True, alpha=0.3)
    spe = steps_per_epoch(run)
    if spe:
        top = a1.secondary_xaxis("top", functions=(lambda s: s / spe, lambda e: e * spe))
        top.set_xlabel("epoch")
    a1.legend(fontsize=7 if len(dyn) > 6 else "small", ncol=ncol, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), frameon=False)
    shown = len(next(iter(dyn.values()))[0]) - 1  # snapshots, one per step
    fig.suptitle(f"{run_label(run)}: ranking dynamics over {shown} snapshots "
                 f"(k={run.attrs.get('k')})", fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


# --------------------------------------------------------------------------- sweeps

def _metric_info(summary, metric):
    """(title, kind) of a summary.h5 metric: its attributes (scripts/sweep writes them),
    else from the name."""
    a = summary[metric].attrs
    title = a.get("title", metric.replace("_", " ") + (" %" if "accuracy" in metric else ""))
    kind = a.get("kind", "acc" if "accuracy" in metric else "loss")
    return (title.decode() if isinstance(title, bytes) else str(title),
            kind.decode() if isinstance(kind, bytes) else str(kind))


def sweep_metric(summary_path, metric=None):
    """The metric a sweep's figure shows: `metric` if summary.h5 has it, else
    best_test_accuracy or best_test_loss."""
    with h5py.File(summary_path, "r") as s:
        if metric is None:
            metric = "best_test_accuracy" if "best_test_accuracy" in s else "best_test_loss"
        if metric not in s or "mean" not in s[metric]:
            have = [k for k in s if k not in ("axes", "runs")]
            raise PlotError(f"{summary_path}: no run has {metric} (it has: "
                            f"{', '.join(have) or 'nothing'})")
    return metric


def sweep_figure(summary_path, path, metric=None):
    """A sweep's metric against its first axis: one line per value of the second axis,
    one panel per combination of the others, error bars one sample sd over the seeds,
    each seed's run a dot. A sweep without axes: its one cell."""
    try:
        s = h5py.File(summary_path, "r")
    except OSError as e:
        raise PlotError(f"{summary_path}: cannot be read ({e})")
    with s:
        if "grid" not in s.attrs:
            raise PlotError(f"{summary_path}: not a sweep summary (no grid attribute)")
        grid = json.loads(s.attrs["grid"])
        axes = grid["axes"]
        metric = sweep_metric(summary_path, metric)
        title, kind = _metric_info(s, metric)
        mean, sd = s[metric]["mean"][...], s[metric]["sd"][...]
        n = s[metric]["n"][...]
        runs = s["runs"][metric][...] if metric in s.get("runs", {}) else None
        first = s["axes"][axes[0]["name"]].attrs if axes else {}
        nums = [float(v) for v in first["numeric"]] if "numeric" in first else None
    if not axes:  # one cell: an axis of one value, the seeds
        axes = [{"name": "", "values": [{"label": "all runs"}]}]
        mean, sd, n = mean[None], sd[None], n[None]
        runs = runs[None] if runs is not None else None
    plt = _pyplot()
    scale = 100.0 if kind == "acc" else 1.0
    x_axis = axes[0]
    xs = nums if nums is not None else list(range(len(x_axis["values"])))
    logx = nums is not None and min(nums) > 0 and max(nums) / min(nums) >= 100
    line_axis = axes[1] if len(axes) > 1 else None
    panel_axes = axes[2:]
    panels = [()]
    for a in panel_axes:
        panels = [p + (i,) for p in panels for i in range(len(a["values"]))]
    ncol = min(3, len(panels))
    nrow = -(-len(panels) // ncol)
    fig, subs = plt.subplots(nrow, ncol, figsize=(6.4 * ncol, 4.6 * nrow), squeeze=False,
                             sharey=True)  # panels compared on one scale
    for pi, p in enumerate(panels):
        ax = subs[pi // ncol][pi % ncol]
        lines = range(len(line_axis["values"])) if line_axis else [None]
        for li, l in enumerate(lines):
            idx = [((xi,) + ((l,) if l is not None else ()) + p) for xi in range(len(xs))]
            ok = [i for i, c in enumerate(idx) if n[c] > 0]
            if not ok:
                continue
            y = [scale * mean[idx[i]] for i in ok]
            e = [scale * sd[idx[i]] if n[idx[i]] > 1 else 0.0 for i in ok]
            label = f"{line_axis['name']}={line_axis['values'][l]['label']}" if line_axis \
                else None
            # Shift categorical lines a little so error bars do not hide each other, and
            # join only numeric values by lines.
            dx = 0.0 if nums is not None else 0.06 * (li - (len(lines) - 1) / 2)
            bars = ax.errorbar([xs[i] + dx for i in ok], y, yerr=e,
                               marker="os^vD<>ph*"[li % 10], capsize=3, label=label,
                               ls="-" if nums is not None else "none")
            if runs is not None:
                for i in ok:
                    v = scale * runs[idx[i]]
                    v = v[np.isfinite(v)]
                    side = 0.0 if nums is not None else 0.1  # beside the bar, not on it
                    ax.plot(np.full(v.shape, xs[i] + dx + side), v, ls="none", marker="o",
                            ms=4, mfc="none", alpha=0.6, color=bars[0].get_color())
        if logx:
            ax.set_xscale("log")
        if nums is None:
            ax.set_xticks(xs)
            ax.set_xticklabels([v["label"] for v in x_axis["values"]])
            ax.set_xlim(-0.5, len(xs) - 0.5)
        elif len(xs) <= 12:
            ax.set_xticks(xs)
            ax.set_xticklabels([v["label"] for v in x_axis["values"]])
            ax.minorticks_off()
        ax.set_xlabel(x_axis["name"])
        ax.set_ylabel(title)
        ax.grid(True, alpha=0.3)
        if p:
            ax.set_title(", ".join(f"{a['name']}={a['values'][i]['label']}"
                                   for a, i in zip(panel_axes, p)))
        if line_axis:
            ax.legend(fontsize="small")
    for pi in range(len(panels), nrow * ncol):
        subs[pi // ncol][pi % ncol].axis("off")
    seeds = grid["seeds"]
    name = os.path.basename(os.path.dirname(os.path.abspath(summary_path)))
    fig.suptitle(f"{name}: {title}\nmean ± sd over seed{'s' if len(seeds) > 1 else ''} "
                 f"{','.join(map(str, seeds))}; circles: single runs", fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


# ----------------------------------------------------------------------------- main

# name, file name (of a run's label or a sweep folder's name), function
FIGURES = [
    ("curves", "{}-curves.png", lambda run, path, opts: curves_figure([run], path)),
    ("profiles", "{}-profiles.png",
     lambda run, path, opts: profiles_figure(run, path, opts["units"])),
    ("unit-images", "{}-unit-images.png", lambda run, path, opts: unit_images_figure(run, path)),
    ("rankings", "{}-rankings.png", lambda run, path, opts: rankings_figure(run, path)),
]
SWEEP_FIGURE = ("sweep", "{}-sweep.png")
OVERLAY_FILE = "curves.png"
FIGURE_NAMES = [f[0] for f in FIGURES] + [SWEEP_FIGURE[0]]


def applies(name, run):
    """Whether figure `name` means something for this run (else it is skipped quietly)."""
    if name == "unit-images":
        return image_kernel(run, run.weights(source="init")) is not None
    if name == "rankings":
        return bool(run.snapshots) and any(g[2] for g in kernel_groups(run).values())
    return True


def parse_args(argv):
    opts = {"inputs": [], "out": None, "only": FIGURE_NAMES, "units": PROFILE_UNITS,
            "metric": None}
    it = iter(argv)
    for a in it:
        name, eq, val = a.partition("=") if a.startswith("--") else (a, "", "")
        if a in ("-h", "--help"):
            print(USAGE)
            raise SystemExit(0)
        if name in ("-o", "--out", "--only", "--units", "--metric"):
            if not eq:
                val = next(it, None)
                if val is None:
                    raise PlotError(f"{name} needs a value")
            if name in ("-o", "--out"):
                opts["out"] = val
            elif name == "--only":
                opts["only"] = [v.strip() for v in val.split(",") if v.strip()]
                bad = [v for v in opts["only"] if v not in FIGURE_NAMES]
                if bad:
                    raise PlotError(f"--only {val}: no figure {', '.join(bad)} (figures: "
                                    f"{', '.join(FIGURE_NAMES)})")
            elif name == "--units":
                try:
                    opts["units"] = int(val)
                    if opts["units"] < 1:
                        raise ValueError
                except ValueError:
                    raise PlotError(f"--units {val}: expected a positive integer")
            else:
                opts["metric"] = val
        elif a.startswith("-") and a != "-":
            raise PlotError(f"unknown option {a} (see --help)")
        else:
            opts["inputs"].append(a)
    if not opts["inputs"]:
        raise PlotError("give at least one results file or sweep folder (see --help)")
    if not opts["out"]:
        raise PlotError("give -o DIR, the folder for the figures")
    return opts


def unique_labels(paths):
    """Each file's label: its name without extension, with its folder's name where two
    files share a name, and a number after it where that is not enough either (one file
    given twice, or a/x/run.h5 and b/x/run.h5), so that no figure overwrites another."""
    files = [p for p in paths if not os.path.isdir(p)]
    base = [os.path.splitext(os.path.basename(p.removesuffix(".part")))[0] for p in files]
    out = []
    for p, b in zip(files, base):
        if base.count(b) > 1:
            parent = os.path.basename(os.path.dirname(os.path.abspath(p)))
            b = f"{parent}-{b}"
        out.append(b)
    return [f"{b}-{out[:i].count(b) + 1}" if out.count(b) > 1 else b for i, b in enumerate(out)]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        opts = parse_args(argv)
    except PlotError as e:
        print(f"plot: {e}", file=sys.stderr)
        return 2
    try:
        _pyplot()
        os.makedirs(opts["out"], exist_ok=True)
    except PlotError as e:
        print(f"plot: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"plot: -o {opts['out']}: cannot create the folder ({e.strerror})",
              file=sys.stderr)
        return 1
    failed = False
    runs, labels = [], []

    def wrote(path):
        print(f"plot: wrote {path}", flush=True)

    file_labels = iter(unique_labels(opts["inputs"]))  # one per file, in order
    for path in opts["inputs"]:
        label = None if os.path.isdir(path) else next(file_labels)
        try:
            summary = os.path.join(path, "summary.h5")
            if os.path.isdir(path) and os.path.exists(summary):
                if SWEEP_FIGURE[0] in opts["only"]:
                    name = os.path.basename(os.path.abspath(path))
                    wrote(sweep_figure(summary, os.path.join(
                        opts["out"], SWEEP_FIGURE[1].format(name)), opts["metric"]))
                continue
            run = open_run(path)
            runs.append(run)
            labels.append(label)
            for name, pattern, fn in FIGURES:
                if name in opts["only"] and applies(name, run):
                    wrote(fn(run, os.path.join(opts["out"], pattern.format(label)), opts))
        except LapermError as e:  # PlotError, or the reader's
            print(f"plot: {e}", file=sys.stderr)
            failed = True
        except OSError as e:  # writing a figure
            print(f"plot: {path}: {e}", file=sys.stderr)
            failed = True
    if len(runs) > 1 and "curves" in opts["only"]:
        try:
            wrote(curves_figure(runs, os.path.join(opts["out"], OVERLAY_FILE), labels))
        except (LapermError, OSError) as e:
            print(f"plot: {e}", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
