"""Scoring and reporting for the ``compare`` command: the multi-label metrics,
their per-fold summary, and the text/Markdown tables, plot and version record.

Reused by ``benchmarks/bench_quality.py`` (through :mod:`skmultihead._compare`,
which re-exports every public name).
"""

import math
import os
import platform
import sys
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    hamming_loss,
    label_ranking_average_precision_score,
    label_ranking_loss,
)

# ---------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    greater_is_better: bool
    digits: int = 3
    mark_best: bool = True  # mark the best row of this column in tables


METRICS = [
    Metric("micro_f1", "micro-F1", True),
    Metric("macro_f1", "macro-F1", True),
    Metric("samples_f1", "samples-F1", True),
    Metric("hamming_loss", "Hamming loss", False),
    Metric("subset_accuracy", "subset accuracy", True),
    Metric("ranking_loss", "ranking loss", False),
    Metric("lrap", "LRAP", True),
]
FIT_TIME = Metric("fit_time", "fit time (s)", False, 2, mark_best=False)


def _dense(a):
    return a.toarray() if sparse.issparse(a) else np.asarray(a)


def label_scores(model, X, n_labels):
    """``(n_samples, n_labels)`` matrix of per-label probabilities (or scores).

    Handles the output shapes of the estimators used here and of multi-output
    estimators (forests, kNN, ``MultiOutputClassifier``), which return a list
    with one ``(n, n_classes_k)`` array per label: the column of class 1 is
    taken, all zeros for a label that had no positive in the training data.
    """
    if hasattr(model, "predict_proba"):
        P = model.predict_proba(X)
    else:
        P = model.decision_function(X)
    if isinstance(P, list):
        clf = model[-1] if hasattr(model, "steps") else model
        per_label = getattr(clf, "classes_", None)
        if per_label is None:
            per_label = [[0, 1]] * len(P)
        columns = []
        for p, classes in zip(P, per_label):
            classes = list(np.asarray(classes))
            p = np.asarray(p)
            columns.append(p[:, classes.index(1)] if 1 in classes else np.zeros(len(p)))
        P = np.column_stack(columns)
    P = _dense(P).astype(np.float64, copy=False)
    if P.ndim == 1:
        P = P.reshape(-1, 1)
    if P.shape != (X.shape[0], n_labels):
        raise ValueError(
            f"expected label scores of shape {(X.shape[0], n_labels)}, got "
            f"{P.shape} from {type(model).__name__}"
        )
    return P


def multilabel_scores(Y_true, Y_pred, P):
    """All metrics of ``METRICS`` from predictions and per-label scores."""
    Y_true = _dense(Y_true).astype(np.int64, copy=False)
    Y_pred = _dense(Y_pred).astype(np.int64, copy=False)
    return {
        "micro_f1": f1_score(Y_true, Y_pred, average="micro", zero_division=0),
        "macro_f1": f1_score(Y_true, Y_pred, average="macro", zero_division=0),
        "samples_f1": f1_score(Y_true, Y_pred, average="samples", zero_division=0),
        "hamming_loss": hamming_loss(Y_true, Y_pred),
        "subset_accuracy": accuracy_score(Y_true, Y_pred),
        "ranking_loss": label_ranking_loss(Y_true, P),
        "lrap": label_ranking_average_precision_score(Y_true, P),
    }


def summarise(folds):
    """Mean and (population, as in GridSearchCV) std of every numeric entry."""
    out = {}
    for metric in [*METRICS, FIT_TIME, Metric("predict_time", "", False, 3, False)]:
        values = np.array([f[metric.key] for f in folds], dtype=np.float64)
        out[metric.key] = {"mean": float(values.mean()), "std": float(values.std())}
    return out


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def _pm(stream=None):
    """'±' unless the output stream cannot encode it."""
    stream = sys.stdout if stream is None else stream
    encoding = getattr(stream, "encoding", None)
    if encoding is None:  # e.g. io.StringIO: holds any text
        return "±"
    try:
        "±".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return "+/-"
    return "±"


def _mean_std(value):
    """``(mean, std)`` of a summary cell: a ``{"mean", "std"}`` dict or a number."""
    if isinstance(value, dict):
        return value.get("mean"), value.get("std")
    return value, None


def best_rows(summaries, metrics):
    """For each metric, the set of row indices with the best mean (ties kept)."""
    best = {}
    for metric in metrics:
        means = [_mean_std(s[metric.key])[0] for s in summaries]
        means = [None if m is None else round(m, metric.digits) for m in means]
        valid = [m for m in means if m is not None]
        if not valid:
            continue
        target = max(valid) if metric.greater_is_better else min(valid)
        best[metric.key] = {i for i, m in enumerate(means) if m == target}
    return best


def format_table(names, summaries, *, metrics=None, fmt="text", pm="±", std=True):
    """Render rows of ``mean ± std`` cells as aligned text or a Markdown table.

    ``summaries[i][metric.key]`` is ``{"mean": ..., "std": ...}`` or a plain
    number (None shows as n/a). The best mean
    of every quality metric is marked (``*`` in text, bold in Markdown) when there
    is more than one row.
    """
    metrics = [*METRICS, FIT_TIME] if metrics is None else metrics
    quality = [m for m in metrics if m.mark_best]
    best = best_rows(summaries, quality) if len(names) > 1 else {}
    header = ["estimator", *[m.label for m in metrics]]
    rows = []
    for i, (name, summary) in enumerate(zip(names, summaries)):
        row = [name]
        for m in metrics:
            mean, sd = _mean_std(summary[m.key])
            cell = "n/a" if mean is None else f"{mean:.{m.digits}f}"
            if std and sd is not None:
                cell += f" {pm} {sd:.{m.digits}f}"
            if i in best.get(m.key, ()):
                cell = f"**{cell}**" if fmt == "markdown" else f"{cell} *"
            elif fmt == "text" and best.get(m.key):
                cell += "  "
            row.append(cell)
        rows.append(row)
    widths = [max(len(r[j]) for r in [header, *rows]) for j in range(len(header))]
    if fmt == "markdown":

        def line(cells):
            padded = [
                c.ljust(w) if j == 0 else c.rjust(w)
                for j, (c, w) in enumerate(zip(cells, widths))
            ]
            return "| " + " | ".join(padded) + " |"

        sep = (
            "|"
            + "|".join(
                ("-" * (w + 1) + "-") if j == 0 else ("-" * (w + 1) + ":")
                for j, w in enumerate(widths)
            )
            + "|"
        )
        return "\n".join([line(header), sep, *(line(r) for r in rows)])

    def line(cells):
        return "  ".join(
            c.ljust(w) if j == 0 else c.rjust(w)
            for j, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def legend(metrics=None, *, fmt="text", marked=True, best="Best mean"):
    metrics = [*METRICS] if metrics is None else metrics
    up = ", ".join(m.label for m in metrics if m.greater_is_better)
    down = ", ".join(m.label for m in metrics if not m.greater_is_better)
    text = f"Higher is better: {up}. Lower is better: {down}."
    if marked:
        mark = "bold" if fmt == "markdown" else "*"
        text += f" {best} per column: {mark}."
    return text


def versions():
    import numba
    import scipy
    import sklearn

    from . import __version__

    info = {
        "skmultihead": __version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    if hasattr(os, "sched_getaffinity"):
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {k: p.get(k) for k in ("internal_api", "version", "num_threads")}
            for p in threadpool_info()
            if p.get("user_api") == "blas"
        ]
    except Exception:  # threadpoolctl is a scikit-learn dependency; be safe
        pass
    return info


def write_plot(path, names, summaries, title):
    """Bar chart (one panel per metric, error bars = std) saved to ``path``."""
    from matplotlib.figure import Figure

    metrics = [*METRICS, FIT_TIME]
    ncols = 4
    nrows = math.ceil(len(metrics) / ncols)
    fig = Figure(figsize=(4 * ncols, 3.2 * nrows + 0.6), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    x = np.arange(len(names))
    colors = [f"C{i % 10}" for i in range(len(names))]
    for ax, metric in zip(axes, metrics):
        means = [s[metric.key]["mean"] for s in summaries]
        stds = [s[metric.key]["std"] for s in summaries]
        ax.bar(x, means, yerr=stds, color=colors, capsize=3)
        arrow = "higher" if metric.greater_is_better else "lower"
        ax.set_title(f"{metric.label} ({arrow} is better)", fontsize=10)
        ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=11)
    fig.savefig(path, dpi=110)
