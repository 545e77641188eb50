"""The ``compare`` command: cross-validate the multi-label MLPs and their anchors.

``python -m skmultihead compare`` (or the ``skmultihead compare`` console script)
runs a multilabel-stratified k-fold cross-validation of
:class:`~skmultihead.MultiHeadMLPClassifier`,
:class:`~skmultihead.BinaryRelevanceMLPClassifier` and two scikit-learn anchors
(``MLPClassifier`` and ``OneVsRestClassifier(LogisticRegression)``), each behind
the right scaler, on the bundled *emotions* dataset or on an ARFF file, and
prints a table of multi-label metrics (mean +- std over the folds).

The building blocks (:func:`build_estimator`, :func:`make_model`,
:func:`fit_and_score`, :func:`format_table`) are reused by
``benchmarks/bench_quality.py``.
"""

import argparse
import contextlib
import datetime
import importlib.util
import json
import math
import os
import platform
import re
import sys
import textwrap
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.base import clone
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    hamming_loss,
    label_ranking_average_precision_score,
    label_ranking_loss,
)
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler, StandardScaler

__all__ = ["main"]

PROG = "skmultihead"

# ---------------------------------------------------------------------------
# Estimators
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EstimatorSpec:
    """One estimator the command can run."""

    key: str
    name: str  # shown in the table
    description: str
    default: bool  # part of the default set
    aliases: tuple = ()


ESTIMATORS = {
    spec.key: spec
    for spec in [
        EstimatorSpec(
            "multihead",
            "MultiHead",
            "MultiHeadMLPClassifier: shared hidden layers, one sigmoid per label",
            True,
            ("mh", "multiheadmlpclassifier"),
        ),
        EstimatorSpec(
            "br",
            "BinaryRelevance",
            "BinaryRelevanceMLPClassifier: one network per label",
            True,
            ("binaryrelevance", "binary-relevance", "binaryrelevancemlpclassifier"),
        ),
        EstimatorSpec(
            "mlp",
            "MLPClassifier",
            "sklearn MLPClassifier (sigmoid outputs on an indicator Y)",
            True,
            ("mlpclassifier", "sklearn-mlp"),
        ),
        EstimatorSpec(
            "ovr",
            "OvR-LogReg",
            "sklearn OneVsRestClassifier(LogisticRegression(max_iter=1000))",
            True,
            ("ovr-logreg", "logreg", "onevsrest"),
        ),
        EstimatorSpec(
            "multihead-tuned",
            "MultiHead-tuned",
            "MultiHead with threshold='f1', pos_weight='balanced', early_stopping=True",
            False,
            ("mh-tuned",),
        ),
        EstimatorSpec(
            "br-tuned",
            "BR-tuned",
            "BinaryRelevance with threshold='f1', pos_weight='balanced', "
            "early_stopping=True",
            False,
            ("binaryrelevance-tuned",),
        ),
        EstimatorSpec(
            "mlp-es",
            "MLPClassifier-ES",
            "sklearn MLPClassifier(early_stopping=True)",
            False,
            ("mlp-early-stopping",),
        ),
    ]
}
DEFAULT_ESTIMATORS = [k for k, s in ESTIMATORS.items() if s.default]
_ALIASES = {
    alias: key for key, spec in ESTIMATORS.items() for alias in (key, *spec.aliases)
}

_TUNED = dict(threshold="f1", pos_weight="balanced", early_stopping=True)


def resolve_estimator(name):
    """Canonical key of an estimator name or alias (case-insensitive)."""
    key = _ALIASES.get(name.strip().lower().replace("_", "-"))
    if key is None:
        raise ValueError(
            f"unknown estimator {name!r}; choose from: {', '.join(ESTIMATORS)}"
        )
    return key


def build_estimator(
    key, *, hidden=(100,), max_iter=200, random_state=0, n_threads=None
):
    """A fresh, unfitted classifier for ``key`` (see ``ESTIMATORS``).

    The three MLPs share ``hidden`` (the hidden layer sizes), ``max_iter`` and
    ``random_state``; ``n_threads`` goes to the skmultihead estimators (the
    scikit-learn ones are limited by :func:`fit_and_score`'s ``threads``);
    everything else is each estimator's default.
    """
    from . import BinaryRelevanceMLPClassifier, MultiHeadMLPClassifier

    hidden = tuple(int(h) for h in hidden)
    common = dict(
        hidden_layer_sizes=hidden, max_iter=max_iter, random_state=random_state
    )
    ours = dict(common, n_threads=n_threads)
    if key == "multihead":
        return MultiHeadMLPClassifier(**ours)
    if key == "br":
        return BinaryRelevanceMLPClassifier(**ours)
    if key == "mlp":
        return MLPClassifier(**common)
    if key == "ovr":
        return OneVsRestClassifier(LogisticRegression(max_iter=1000))
    if key == "multihead-tuned":
        return MultiHeadMLPClassifier(**ours, **_TUNED)
    if key == "br-tuned":
        return BinaryRelevanceMLPClassifier(**ours, **_TUNED)
    if key == "mlp-es":
        return MLPClassifier(**common, early_stopping=True)
    raise ValueError(f"unknown estimator {key!r}")


def _has_nan(X):
    data = X.data if sparse.issparse(X) else X
    return bool(np.isnan(data).any())


def make_model(clf, X):
    """``clf`` behind the right preprocessing for ``X``, as a Pipeline.

    StandardScaler for dense input, MaxAbsScaler for sparse input (keeps it
    sparse); a mean SimpleImputer first if ``X`` has missing values (NaN).
    """
    steps = []
    if _has_nan(X):
        steps.append(("impute", SimpleImputer(strategy="mean")))
    scaler = MaxAbsScaler() if sparse.issparse(X) else StandardScaler()
    steps.append(("scale", scaler))
    steps.append(("clf", clf))
    return Pipeline(steps)


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
    meta-estimators (a list of ``(n, 2)`` arrays).
    """
    if hasattr(model, "predict_proba"):
        P = model.predict_proba(X)
    else:
        P = model.decision_function(X)
    if isinstance(P, list):
        P = np.column_stack([np.asarray(p)[:, -1] for p in P])
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


def _n_iter(model):
    clf = model[-1] if isinstance(model, Pipeline) else model
    n_iter = getattr(clf, "n_iter_", None)
    if n_iter is None:
        return None
    if np.ndim(n_iter):
        return [int(v) for v in np.ravel(n_iter)]
    return int(n_iter)


def _summarise_warnings(caught):
    seen = {}
    for w in caught:
        message = str(w.message).splitlines()[0] if str(w.message) else ""
        if len(message) > 160:
            message = message[:157] + "..."
        text = f"{w.category.__name__}: {message}"
        seen[text] = seen.get(text, 0) + 1
    return [{"warning": text, "count": n} for text, n in seen.items()]


def _thread_limit(threads):
    """Limit BLAS/OpenMP pools to ``threads`` (None or 0: no limit)."""
    if not threads:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads)


def fit_and_score(model, X_train, Y_train, X_test, Y_test, *, threads=None):
    """Fit ``model`` and score it; returns metrics, times and diagnostics.

    ``threads`` (if not None or 0) limits the BLAS and OpenMP thread pools
    during fit and prediction. Warnings raised during fit and prediction are
    recorded (not shown) in the ``"warnings"`` entry of the result.
    """
    with _thread_limit(threads), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        model.fit(X_train, Y_train)
        fit_time = time.perf_counter() - start
        start = time.perf_counter()
        Y_pred = model.predict(X_test)
        P = label_scores(model, X_test, Y_test.shape[1])
        predict_time = time.perf_counter() - start
    if any(str(w.message).startswith("Training interrupted") for w in caught):
        # skmultihead's training loop turns Ctrl-C into a warning and returns.
        raise KeyboardInterrupt
    result = {k: float(v) for k, v in multilabel_scores(Y_test, Y_pred, P).items()}
    result["fit_time"] = fit_time
    result["predict_time"] = predict_time
    result["n_iter"] = _n_iter(model)
    result["warnings"] = _summarise_warnings(caught)
    return result


def warm_up(keys, X, Y, *, hidden=(100,), random_state=0, n_threads=None):
    """Fit the skmultihead estimators once on a few rows, untimed.

    Numba compiles (or loads from its cache) the kernels on first use; without
    this, that one-off cost would be counted in the first fold's fit time.
    Returns the seconds spent.
    """
    start = time.perf_counter()
    n = min(X.shape[0], 64)
    for key in keys:
        clf = build_estimator(
            key,
            hidden=hidden,
            max_iter=2,
            random_state=random_state,
            n_threads=n_threads,
        )
        if not type(clf).__module__.startswith("skmultihead"):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = make_model(clf, X).fit(X[:n], Y[:n])
            model.predict(X[:n])
            model.predict_proba(X[:n])
    return time.perf_counter() - start


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


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


class UsageError(Exception):
    """A problem with the command line or its inputs: message, exit code 2."""


def _parse_labels(text):
    if text is None:
        return None
    text = text.strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise UsageError("--labels needs a number N or a comma-separated list")
    return names


def load_dataset(arff=None, xml=None, labels=None):
    """``(X, Y, info)`` of the bundled emotions data or of ARFF file(s).

    Several ARFF files (e.g. a MULAN train and test split) are stacked.
    """
    from .datasets import load_arff, load_emotions

    if not arff:
        if xml is not None or labels is not None:
            raise UsageError("--xml and --labels only apply with --arff")
        bunch = load_emotions(subset="all")
        X, Y = bunch.data, bunch.target
        info = {
            "name": "emotions",
            "source": "bundled (skmultihead.datasets.load_emotions(subset='all'))",
            "files": [],
        }
        names = bunch.target_names
    else:
        parts = []
        for path in arff:
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    parts.append(load_arff(path, labels=labels, xml=xml))
            except (OSError, ValueError, TypeError) as exc:
                raise UsageError(str(exc)) from None
            for w in caught:
                print(f"{PROG}: warning: {w.message}", file=sys.stderr)
        first = parts[0]
        for path, part in zip(arff[1:], parts[1:]):
            if part.feature_names != first.feature_names:
                raise UsageError(
                    f"{path}: its features differ from those of {arff[0]}; "
                    "several --arff files must have the same attributes"
                )
            if part.target_names != first.target_names:
                raise UsageError(f"{path}: its labels differ from those of {arff[0]}")
        if any(sparse.issparse(p.data) for p in parts):
            X = sparse.vstack([sparse.csr_matrix(p.data) for p in parts], "csr")
        else:
            X = np.vstack([p.data for p in parts])
        Y = np.vstack([p.target for p in parts])
        stem = Path(arff[0]).name
        for suffix in (".gz", ".arff"):
            if stem.lower().endswith(suffix):
                stem = stem[: -len(suffix)]
        info = {
            "name": stem if len(arff) == 1 else re.sub(r"[-_](train|test)$", "", stem),
            "source": "; ".join(p.DESCR for p in parts),
            "files": [str(Path(p).resolve()) for p in arff],
            "relation": first.relation,
        }
        names = first.target_names
    # The loaders return int8 targets; scikit-learn 1.9's label_binarize casts
    # the classes arange(n_labels) to y's dtype, which wraps around past 127
    # labels in int8 and silently permutes the label columns of MLPClassifier
    # and OneVsRestClassifier (bibtex has 159 labels). A wider dtype avoids it.
    Y = np.asarray(Y, dtype=np.int64)
    if Y.shape[1] < 2:
        raise UsageError(
            f"the dataset has {Y.shape[1]} label(s); compare needs a multi-label "
            "target with at least 2 labels (check --labels / --xml)"
        )
    info.update(
        n_samples=int(X.shape[0]),
        n_features=int(X.shape[1]),
        n_labels=int(Y.shape[1]),
        sparse=bool(sparse.issparse(X)),
        label_cardinality=float(Y.sum(axis=1).mean()),
        target_names=list(names),
    )
    return X, Y, info


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _cv_folds(text):
    value = _positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"needs at least 2 folds, got {value}")
    return value


def _hidden_sizes(text):
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    if not parts:
        raise argparse.ArgumentTypeError("expected sizes such as 100 or 64,32")
    return tuple(_positive_int(p) for p in parts)


def _estimator_epilog():
    lines = ["estimators (--estimators; * = run by default):"]
    for key, spec in ESTIMATORS.items():
        star = "*" if spec.default else " "
        lines.append(f"  {star} {key:<16} {spec.description}")
    lines += [
        "",
        "All estimators run behind StandardScaler (dense input) or MaxAbsScaler",
        "(sparse input) in a Pipeline. Each cell of the table is the mean +- std",
        "(population std) over the folds.",
        "",
        "examples:",
        f"  {PROG} compare",
        f"  {PROG} compare --estimators multihead br --cv 3 --json out.json",
        f"  {PROG} compare --arff yeast.arff --xml yeast.xml --plot yeast.png",
        f"  {PROG} compare --arff music.arff --labels 6 --format markdown",
    ]
    return "\n".join(lines)


def build_parser():
    from . import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "skmultihead: multi-label MLP classifiers for scikit-learn "
            "(MultiHeadMLPClassifier, BinaryRelevanceMLPClassifier)."
        ),
        epilog=f"Run '{PROG} COMMAND --help' for the options of a command.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    compare = commands.add_parser(
        "compare",
        help="cross-validate the multi-label MLPs against scikit-learn anchors",
        description=textwrap.fill(
            "Multilabel-stratified k-fold cross-validation of "
            "MultiHeadMLPClassifier, BinaryRelevanceMLPClassifier, "
            "sklearn's MLPClassifier and OneVsRestClassifier(LogisticRegression) "
            "on the bundled emotions dataset (593 samples, 72 features, 6 "
            "labels) or on a MULAN/MEKA ARFF file. Prints a table of micro-, "
            "macro- and samples-F1, Hamming loss, subset accuracy, ranking loss, "
            "LRAP and fit time.",
            width=78,
        ),
        epilog=_estimator_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = compare.add_argument_group("data")
    data.add_argument(
        "--arff",
        metavar="PATH",
        nargs="+",
        action="extend",
        help="ARFF file(s) to use instead of the bundled emotions data; several "
        "files (e.g. a MULAN -train and -test split) are stacked",
    )
    which = data.add_mutually_exclusive_group()
    which.add_argument(
        "--xml",
        metavar="PATH",
        help="MULAN label XML file (default: NAME.xml beside the ARFF file, "
        "else '-C N' in its @relation)",
    )
    which.add_argument(
        "--labels",
        metavar="N",
        help="label attributes: N > 0 = first N attributes, N < 0 = last |N| "
        "(MEKA convention), or a comma-separated list of attribute names",
    )
    model = compare.add_argument_group("models")
    model.add_argument(
        "--estimators",
        metavar="NAME",
        nargs="+",
        action="extend",
        help=f"estimators to run (space- or comma-separated; default: "
        f"{' '.join(DEFAULT_ESTIMATORS)}); see the list below",
    )
    model.add_argument(
        "--hidden",
        metavar="SIZES",
        type=_hidden_sizes,
        default=(100,),
        help="hidden layer sizes of the three MLPs, e.g. 100 or 64,32 (default: 100)",
    )
    model.add_argument(
        "--max-iter",
        metavar="N",
        type=_positive_int,
        default=200,
        help="maximum number of epochs of the MLPs (default: 200)",
    )
    model.add_argument(
        "--random-state",
        metavar="INT",
        type=int,
        default=0,
        help="random_state of the MLPs (default: 0)",
    )
    model.add_argument(
        "--threads",
        metavar="N",
        type=int,
        default=1,
        help="threads per fit: BLAS threads of the scikit-learn estimators and "
        "n_threads of the skmultihead ones; 0 = each library's default "
        "(default: 1; on small data threads gain little and a busy machine "
        "makes multi-threaded timings erratic)",
    )
    cv = compare.add_argument_group("cross-validation")
    cv.add_argument(
        "--cv",
        metavar="K",
        type=_cv_folds,
        default=5,
        help="number of folds of MultilabelStratifiedKFold (default: 5)",
    )
    cv.add_argument(
        "--seed",
        metavar="INT",
        type=int,
        default=0,
        help="random_state of the fold shuffling (default: 0)",
    )
    out = compare.add_argument_group("output")
    out.add_argument(
        "--format",
        choices=("text", "markdown"),
        default="text",
        help="table format on stdout (default: text)",
    )
    out.add_argument(
        "--json",
        metavar="PATH",
        help="write the configuration, versions and every per-fold number here",
    )
    out.add_argument(
        "--plot",
        metavar="PNG",
        help="save a bar chart of the metrics (needs matplotlib)",
    )
    out.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress lines or notes on stderr",
    )
    compare.set_defaults(handler=_run_compare)
    return parser


def _check_output_path(path, option):
    parent = Path(path).expanduser().resolve().parent
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: directory {parent} does not exist")
    if Path(path).is_dir():
        raise UsageError(f"{option} {path}: is a directory")


def _matplotlib_available():
    return importlib.util.find_spec("matplotlib") is not None


def _progress(args, message):
    if not args.quiet:
        print(message, file=sys.stderr, flush=True)


def _run_compare(args):
    keys = []
    for item in args.estimators or DEFAULT_ESTIMATORS:
        for name in filter(None, (s.strip() for s in item.split(","))):
            try:
                key = resolve_estimator(name)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
            if key not in keys:
                keys.append(key)
    if not keys:
        raise UsageError("--estimators: no estimator given")
    if args.json:
        _check_output_path(args.json, "--json")
    if args.plot:
        _check_output_path(args.plot, "--plot")
        if not _matplotlib_available():
            raise UsageError(
                "--plot needs matplotlib, which is not installed; install it "
                "with 'pip install matplotlib' (or 'pip install skmultihead[bench]')"
            )

    X, Y, info = load_dataset(args.arff, args.xml, _parse_labels(args.labels))

    from .model_selection import MultilabelStratifiedKFold

    splitter = MultilabelStratifiedKFold(
        n_splits=args.cv, shuffle=True, random_state=args.seed
    )
    try:
        folds = list(splitter.split(np.zeros((X.shape[0], 1)), Y))
    except ValueError as exc:
        raise UsageError(f"--cv {args.cv}: {exc}") from None

    kind = "sparse" if info["sparse"] else "dense"
    _progress(
        args,
        f"{info['name']}: {info['n_samples']} samples, {info['n_features']} "
        f"features ({kind}), {info['n_labels']} labels; {args.cv}-fold CV of "
        f"{len(keys)} estimator(s)",
    )
    if args.threads < 0:
        raise UsageError(f"--threads must be 0 or more, got {args.threads}")
    n_threads = args.threads or None
    seconds = warm_up(
        keys,
        X,
        Y,
        hidden=args.hidden,
        random_state=args.random_state,
        n_threads=n_threads,
    )
    if seconds > 0.5:
        _progress(args, f"compiled/loaded the Numba kernels in {seconds:.1f}s")

    total = len(keys) * len(folds)
    step = 0
    results = {}
    start_all = time.perf_counter()
    for key in keys:
        spec = ESTIMATORS[key]
        template = build_estimator(
            key,
            hidden=args.hidden,
            max_iter=args.max_iter,
            random_state=args.random_state,
            n_threads=n_threads,
        )
        per_fold = []
        for f, (train, test) in enumerate(folds, 1):
            step += 1
            model = make_model(clone(template), X)
            result = fit_and_score(
                model, X[train], Y[train], X[test], Y[test], threads=n_threads
            )
            result = {"fold": f, **result}
            per_fold.append(result)
            _progress(
                args,
                f"[{step}/{total}] {spec.name} fold {f}/{len(folds)}  "
                f"micro-F1 {result['micro_f1']:.3f}  "
                f"{result['fit_time'] + result['predict_time']:.1f}s",
            )
        results[key] = {
            "name": spec.name,
            "estimator": repr(make_model(clone(template), X)),
            "folds": per_fold,
            "summary": summarise(per_fold),
        }
    elapsed = time.perf_counter() - start_all

    names = [results[k]["name"] for k in keys]
    summaries = [results[k]["summary"] for k in keys]
    hidden = ",".join(map(str, args.hidden))
    title = (
        f"{info['name']} ({info['n_samples']} samples, {info['n_features']} "
        f"features, {info['n_labels']} labels): {args.cv}-fold multilabel-"
        f"stratified CV (seed {args.seed}); MLPs hidden=({hidden}), "
        f"max_iter={args.max_iter}, random_state={args.random_state}; "
        f"{args.threads or 'default'} thread(s) per fit"
    )
    table = format_table(names, summaries, fmt=args.format, pm=_pm())
    print(title)
    print()
    print(table)
    print()
    print(f"Mean {_pm()} std over {args.cv} folds. " + legend(fmt=args.format))
    sys.stdout.flush()

    _report_warnings(args, keys, results)
    _progress(args, f"total {elapsed:.1f}s")

    if args.json:
        payload = {
            "tool": f"{PROG} compare",
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"
            ),
            "config": {
                "argv": list(args.argv),
                "estimators": keys,
                "hidden_layer_sizes": list(args.hidden),
                "max_iter": args.max_iter,
                "random_state": args.random_state,
                "cv": args.cv,
                "cv_splitter": repr(splitter),
                "seed": args.seed,
                "threads": args.threads,
                "std": "population standard deviation over the folds (ddof=0)",
            },
            "dataset": info,
            "versions": versions(),
            "folds": [
                {"fold": f, "n_train": int(len(tr)), "n_test": int(len(te))}
                for f, (tr, te) in enumerate(folds, 1)
            ],
            "metrics": [
                {
                    "key": m.key,
                    "label": m.label,
                    "greater_is_better": m.greater_is_better,
                }
                for m in [*METRICS, FIT_TIME]
            ],
            "results": results,
            "total_time": elapsed,
        }
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2)
            fh.write("\n")
        _progress(args, f"wrote {args.json}")
    if args.plot:
        write_plot(args.plot, names, summaries, title)
        _progress(args, f"wrote {args.plot}")
    return 0


def _report_warnings(args, keys, results):
    if args.quiet:
        return
    for key in keys:
        counts = {}
        for fold in results[key]["folds"]:
            for category in {w["warning"].split(":", 1)[0] for w in fold["warnings"]}:
                counts[category] = counts.get(category, 0) + 1
        if counts:
            listed = ", ".join(
                f"{category} in {n}/{len(results[key]['folds'])} folds"
                for category, n in counts.items()
            )
            print(
                f"note: {results[key]['name']}: {listed} (details in --json)",
                file=sys.stderr,
            )


def main(argv=None):
    """Entry point of ``python -m skmultihead`` / ``skmultihead``.

    Returns the exit code: 0 on success, 2 for a usage or input error (bad
    option, unknown estimator, missing or label-less file), 130 when
    interrupted.
    """
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        print(
            f"\n{PROG}: error: a command is required (e.g. 'compare')", file=sys.stderr
        )
        return 2
    args.argv = argv
    try:
        return args.handler(args)
    except UsageError as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
