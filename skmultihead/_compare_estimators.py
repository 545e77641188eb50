"""The estimators of the ``compare`` command and how one of them is fitted and
scored: the registry (keys, table names, aliases), the preprocessing pipeline,
:func:`fit_and_score` and the untimed :func:`warm_up`.

Reused by ``benchmarks/bench_quality.py`` (through :mod:`skmultihead._compare`,
which re-exports every public name).
"""

import contextlib
import time
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler, StandardScaler

from ._compare_report import label_scores, multilabel_scores
from ._warnings import TrainingInterruptedWarning


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
            "multihead-parity",
            "MultiHead-parity",
            "MultiHeadMLPClassifier(**SKLEARN_PARITY): MLPClassifier's configuration "
            "(no cross-fitting, alpha=1e-4, threshold 0.5), exactly",
            True,
            ("mh-parity", "parity"),
        ),
        EstimatorSpec(
            "multihead-towers",
            "MultiHead-towers",
            "MultiHeadMLPClassifier with a shared trunk of 64 units and a tower of "
            "16 units per label (the middle of the sharing spectrum)",
            True,
            ("mh-towers", "towers"),
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

    The MLPs share ``hidden`` (the hidden layer sizes; the towers row has its
    own trunk and towers), ``max_iter`` and ``random_state``; ``n_threads``
    goes to the skmultihead estimators (the scikit-learn ones are limited by
    :func:`fit_and_score`'s ``threads``); everything else is each estimator's
    default.
    """
    from . import SKLEARN_PARITY, BinaryRelevanceMLPClassifier, MultiHeadMLPClassifier

    hidden = tuple(int(h) for h in hidden)
    common = dict(
        hidden_layer_sizes=hidden, max_iter=max_iter, random_state=random_state
    )
    ours = dict(common, n_threads=n_threads)
    if key == "multihead":
        return MultiHeadMLPClassifier(**ours)
    if key == "multihead-parity":
        return MultiHeadMLPClassifier(**{**SKLEARN_PARITY, **ours})
    if key == "multihead-towers":
        towers = dict(ours, hidden_layer_sizes=(64,), tower_layer_sizes=(16,))
        return MultiHeadMLPClassifier(**towers)
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
    if any(issubclass(w.category, TrainingInterruptedWarning) for w in caught):
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
