"""Quality benchmark: skmultihead against the strong multi-label anchors.

Every row is fitted once on ``<name>-train.arff`` and scored on
``<name>-test.arff`` (MULAN fixed splits, labels from ``<name>.xml``) of each
dataset in the data directory (default ``../shared/datasets`` beside the
repository: emotions, yeast, scene, medical, bibtex), behind StandardScaler
(dense X) or MaxAbsScaler (sparse X). ``random_state=0`` everywhere.

Rows
----
Anchors (what a scikit-learn user would pick instead), library defaults:

* ``rf``   RandomForestClassifier(n_estimators=300)      (native multi-label)
* ``et``   ExtraTreesClassifier(n_estimators=300)        (native multi-label)
* ``ovr``  OneVsRestClassifier(LogisticRegression(max_iter=1000))
* ``cc``   ClassifierChain(LogisticRegression(max_iter=1000))
* ``knn``  KNeighborsClassifier(n_neighbors=10)          (native multi-label)
* ``mlp``  MLPClassifier(hidden_layer_sizes=(100,))      (200 epochs)
* ``hgb``  MultiOutputClassifier(HistGradientBoostingClassifier()), X densified
* ``xgb``  XGBClassifier(tree_method="hist") on the 2-D indicator Y (if installed)

A label with a single class in the training split is fitted around for
``cc`` and ``hgb`` (the label's model predicts the constant; ``ovr`` does the
same by itself). The per-label rows ``cc`` and ``hgb`` run under a time budget
(``--budget``, default 1800 s): after a few labels the fit time of all labels
is projected, and the row is recorded as skipped, with the reason, when the
projection exceeds the budget (``hgb`` on bibtex: 159 labels).

Ours (the skmultihead package of this checkout, ``n_threads=1``):

* ``multihead``        "MultiHead (defaults)": MultiHeadMLPClassifier(random_state=0),
  defaults as they are at run time;
* ``multihead-parity`` "MultiHead (parity)": ``skmultihead.SKLEARN_PARITY`` (the
  parameters that reproduce MLPClassifier), ``{}`` if the package has none;
* ``br``               "BinaryRelevance": BinaryRelevanceMLPClassifier(random_state=0);
* ``multihead-tuned``  "MultiHead-tuned": threshold='f1', pos_weight='balanced',
  early_stopping=True over the defaults;
* any number of extra rows ``--config 'NAME=JSON'``: JSON parameters over the
  defaults; the class is ``BinaryRelevanceMLPClassifier`` if NAME starts with
  ``br`` (or ``"class": "br"``), else ``MultiHeadMLPClassifier``
  (``"class": "multihead"``); ``"base": "parity"`` starts from SKLEARN_PARITY.
  The parameters are stored in the JSON, so a later ``--rows NAME`` re-runs
  the row without repeating ``--config``.

Metrics on the test split: micro-, macro- and samples-F1 and Hamming loss of
``predict``; LRAP (and ranking loss) of the positive-class probabilities;
subset accuracy; fit time. Fit times are wall-clock seconds with one thread
per fit (``--threads``) on a shared machine: indicative only.

Outputs: ``benchmarks/results/quality.md`` (summary, one table per dataset,
best anchor and the margin of "MultiHead (defaults)"), ``quality.json`` (all
numbers; also the cache) and ``quality.png`` (micro/macro-F1 per dataset,
ours vs the best anchor).

Cache
-----
Each result is stored with a key made of the dataset, the row, its parameters
and the code version (for our rows: a hash of the ``skmultihead/`` sources of
this checkout; for the anchors: the scikit-learn / xgboost versions). A row
whose key matches is not fitted again (``--force`` does), so after changing
``skmultihead/`` only our rows are re-fitted::

    python benchmarks/bench_quality.py                       # everything missing
    python benchmarks/bench_quality.py --only ours           # our rows only
    python benchmarks/bench_quality.py --only ours --rows multihead \\
        --config 'mh-h256={"hidden_layer_sizes": [256], "alpha": 1.0}'
    python benchmarks/bench_quality.py --datasets emotions yeast --rows rf xgb
    python benchmarks/bench_quality.py --forget mh-h256      # drop a row
    python benchmarks/bench_quality.py --render              # md + png from the JSON

Run from the repository root; the script imports the ``skmultihead`` of this
checkout (it puts the repository root first on ``sys.path``).

How long
--------
Measured at the first full run (one thread per fit, on the 2-core machine
shared with other jobs, load average 8-10, so roughly 2-4 times the times of a
quiet machine): all anchors on all five datasets about 37 minutes, most of it
on bibtex (RandomForest 5.5 min, ExtraTrees 8 min, MLPClassifier 2.5 min,
XGBoost 2 min, and 4 min of HistGradientBoosting before its projection, about
3.8 hours, hit the budget) and HistGradientBoosting on medical (3.5 min).
Our MultiHead rows take seconds per dataset (a re-run of ``--only ours
--exclude bibtex:br`` is about a minute, mostly BinaryRelevance on medical and
scene); BinaryRelevance on bibtex (159 networks, about 7 s per epoch on a
quiet core; 80 epochs before its tol stop at 9faa025) is the one slow row of
ours: 37 minutes at the first run, loaded (``--exclude bibtex:br`` skips
it). A run where everything is cached takes a few seconds.
"""

import argparse
import contextlib
import datetime
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path[:1]:
    sys.path.insert(0, str(REPO))  # this checkout's skmultihead, not an installed one

import numpy as np  # noqa: E402
from scipy import sparse  # noqa: E402
from sklearn.base import BaseEstimator, ClassifierMixin, clone  # noqa: E402

import skmultihead  # noqa: E402
from skmultihead._compare import (  # noqa: E402
    fit_and_score,
    make_model,
    versions,
)
from skmultihead.datasets import load_arff  # noqa: E402

DEFAULT_DATA_DIR = REPO.parent / "shared" / "datasets"
DEFAULT_OUTPUT = HERE / "results" / "quality.md"
DATASETS = ["emotions", "yeast", "scene", "medical", "bibtex"]
FORMAT = 2


# ---------------------------------------------------------------------------
# Per-label helpers: constant labels and the time budget
# ---------------------------------------------------------------------------


class BudgetExceeded(Exception):
    """A per-label row would take longer than the time budget."""


class _Budget:
    """Wall-clock budget of the per-label fits of one row (module-level state).

    ``ConstantSafe.fit`` calls :meth:`check` before and :meth:`tick` after each
    label; after ``min_labels`` labels the time for all labels is projected.
    """

    def __init__(self):
        self.reset(None, 0)

    def reset(self, seconds, n_labels, min_labels=2):
        self.seconds = seconds
        self.n_labels = n_labels
        self.min_labels = min_labels
        self.done = 0
        self.start = time.perf_counter()

    def check(self):
        if self.seconds is None:
            return
        elapsed = time.perf_counter() - self.start
        if elapsed > self.seconds:
            raise BudgetExceeded(
                f"time budget of {self.seconds:.0f} s exceeded after "
                f"{self.done}/{self.n_labels} labels"
            )
        if self.done >= self.min_labels:
            projected = elapsed / self.done * self.n_labels
            if projected > self.seconds:
                raise BudgetExceeded(
                    f"projected {projected:.0f} s for {self.n_labels} labels "
                    f"({elapsed:.1f} s for the first {self.done}, one thread) "
                    f"> budget of {self.seconds:.0f} s"
                )

    def tick(self):
        self.done += 1


_BUDGET = _Budget()


class ConstantSafe(ClassifierMixin, BaseEstimator):
    """Binary classifier that predicts the constant for a one-class label.

    Wraps ``estimator`` for ``MultiOutputClassifier`` / ``ClassifierChain``
    (both give it one label at a time); classes are always ``[0, 1]``.
    ``densify`` converts sparse X to dense (HistGradientBoosting needs it).
    Counts the labels for the module's time budget.
    """

    def __init__(self, estimator, densify=False):
        self.estimator = estimator
        self.densify = densify

    def _X(self, X):
        return X.toarray() if self.densify and sparse.issparse(X) else X

    def fit(self, X, y):
        _BUDGET.check()
        y = np.asarray(y).astype(np.int64).ravel()
        self.classes_ = np.array([0, 1])
        values = np.unique(y)
        if len(values) == 1:
            self.constant_ = int(values[0])
            self.estimator_ = None
        else:
            self.constant_ = None
            self.estimator_ = clone(self.estimator).fit(self._X(X), y)
        _BUDGET.tick()
        return self

    def predict_proba(self, X):
        if self.estimator_ is None:
            p = np.full(X.shape[0], float(self.constant_))
        else:
            P = self.estimator_.predict_proba(self._X(X))
            p = P[:, list(self.estimator_.classes_).index(1)]
        return np.column_stack([1.0 - p, p])

    def predict(self, X):
        if self.estimator_ is None:
            return np.full(X.shape[0], self.constant_, dtype=np.int64)
        return np.asarray(self.estimator_.predict(self._X(X))).astype(np.int64)


# ---------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------


def _xgboost():
    try:
        import xgboost
    except Exception:  # not installed or broken
        return None
    return xgboost


ANCHORS = {
    # key: (display name, description)
    "rf": (
        "RandomForest(300)",
        "RandomForestClassifier(n_estimators=300), native multi-label",
    ),
    "et": (
        "ExtraTrees(300)",
        "ExtraTreesClassifier(n_estimators=300), native multi-label",
    ),
    "ovr": ("OvR-LogReg", "OneVsRestClassifier(LogisticRegression(max_iter=1000))"),
    "cc": (
        "Chain-LogReg",
        "ClassifierChain(LogisticRegression(max_iter=1000)), label order as in the "
        "file; constant labels predicted as constants",
    ),
    "knn": ("kNN(10)", "KNeighborsClassifier(n_neighbors=10), native multi-label"),
    "mlp": (
        "MLPClassifier(100)",
        "MLPClassifier(hidden_layer_sizes=(100,)), 200 epochs",
    ),
    "hgb": (
        "MOC-HistGB",
        "MultiOutputClassifier(HistGradientBoostingClassifier()), X densified; "
        "constant labels predicted as constants; time budget",
    ),
    "xgb": ("XGBoost", 'XGBClassifier(tree_method="hist") on the 2-D indicator Y'),
}
BUDGETED = {"cc", "hgb"}


def build_anchor(key, random_state):
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.multioutput import ClassifierChain, MultiOutputClassifier
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier

    rs = random_state
    if key == "rf":
        return RandomForestClassifier(n_estimators=300, random_state=rs, n_jobs=1)
    if key == "et":
        return ExtraTreesClassifier(n_estimators=300, random_state=rs, n_jobs=1)
    if key == "ovr":
        return OneVsRestClassifier(LogisticRegression(max_iter=1000, random_state=rs))
    if key == "cc":
        return ClassifierChain(
            ConstantSafe(LogisticRegression(max_iter=1000, random_state=rs)),
            random_state=rs,
        )
    if key == "knn":
        return KNeighborsClassifier(n_neighbors=10)
    if key == "mlp":
        return MLPClassifier(hidden_layer_sizes=(100,), max_iter=200, random_state=rs)
    if key == "hgb":
        return MultiOutputClassifier(
            ConstantSafe(HistGradientBoostingClassifier(random_state=rs), densify=True)
        )
    if key == "xgb":
        xgboost = _xgboost()
        if xgboost is None:
            return None
        return xgboost.XGBClassifier(tree_method="hist", random_state=rs, n_jobs=1)
    raise ValueError(key)


CLASSES = {
    "multihead": "MultiHeadMLPClassifier",
    "mh": "MultiHeadMLPClassifier",
    "multiheadmlpclassifier": "MultiHeadMLPClassifier",
    "br": "BinaryRelevanceMLPClassifier",
    "binaryrelevance": "BinaryRelevanceMLPClassifier",
    "binaryrelevancemlpclassifier": "BinaryRelevanceMLPClassifier",
}


def parity_params():
    """``skmultihead.SKLEARN_PARITY`` (a dict), or None if the package has none."""
    params = getattr(skmultihead, "SKLEARN_PARITY", None)
    return None if params is None else dict(params)


def builtin_ours():
    """Our built-in rows: key -> spec (name, class, params, description)."""
    parity = parity_params()
    tuned = {"threshold": "f1", "pos_weight": "balanced", "early_stopping": True}
    return {
        "multihead": {
            "name": "MultiHead (defaults)",
            "class": "MultiHeadMLPClassifier",
            "params": {},
            "description": (
                "MultiHeadMLPClassifier(random_state=0), defaults at run time"
            ),
        },
        "multihead-parity": {
            "name": "MultiHead (parity)",
            "class": "MultiHeadMLPClassifier",
            "params": parity or {},
            "description": (
                f"MultiHeadMLPClassifier(**SKLEARN_PARITY) = {parity}"
                if parity is not None
                else "skmultihead.SKLEARN_PARITY does not exist yet: same as defaults"
            ),
        },
        "br": {
            "name": "BinaryRelevance",
            "class": "BinaryRelevanceMLPClassifier",
            "params": {},
            "description": (
                "BinaryRelevanceMLPClassifier(random_state=0), defaults at run time"
            ),
        },
        "multihead-tuned": {
            "name": "MultiHead-tuned",
            "class": "MultiHeadMLPClassifier",
            "params": tuned,
            "description": "MultiHead with threshold='f1', pos_weight='balanced', "
            "early_stopping=True over the defaults",
        },
    }


def parse_config(text):
    """``NAME=JSON`` of ``--config`` -> (name, spec)."""
    if "=" not in text:
        raise ValueError(f"--config {text!r}: expected NAME=JSON")
    name, raw = text.split("=", 1)
    name = name.strip()
    if not name or name in ANCHORS or name in builtin_ours():
        raise ValueError(f"--config: bad or reserved row name {name!r}")
    params = json.loads(raw)
    if not isinstance(params, dict):
        raise ValueError(f"--config {name}: the JSON must be an object")
    cls = params.pop("class", None)
    if cls is None:
        cls = "br" if name.lower().startswith("br") else "multihead"
    if cls.lower() not in CLASSES:
        raise ValueError(f"--config {name}: unknown class {cls!r}")
    base = params.pop("base", None)
    if base not in (None, "defaults", "parity"):
        raise ValueError(f"--config {name}: base must be 'defaults' or 'parity'")
    if base == "parity":
        params = {**(parity_params() or {}), **params}
    desc = f"{CLASSES[cls.lower()]}({json.dumps(params, sort_keys=True)})"
    if base == "parity":
        desc += " (SKLEARN_PARITY + these)"
    return name, {
        "name": name,
        "class": CLASSES[cls.lower()],
        "params": params,
        "description": desc + ", from --config",
    }


def _tuplify(params):
    out = dict(params)
    if isinstance(out.get("hidden_layer_sizes"), list):
        out["hidden_layer_sizes"] = tuple(out["hidden_layer_sizes"])
    return out


def build_ours(spec, random_state, threads):
    cls = getattr(skmultihead, spec["class"])
    params = {"random_state": random_state, "n_threads": threads or None}
    params.update(_tuplify(spec["params"]))
    return cls(**params)


# ---------------------------------------------------------------------------
# Versions and cache keys
# ---------------------------------------------------------------------------


def code_hash():
    """Hash of this checkout's ``skmultihead/`` sources (what our rows ran)."""
    root = Path(skmultihead.__file__).resolve().parent
    h = hashlib.sha1()
    for path in sorted(root.rglob("*")):
        if (
            path.suffix in (".py", ".pyx", ".c", ".json")
            and "__pycache__" not in path.parts
        ):
            h.update(str(path.relative_to(root)).encode())
            h.update(b"\0")
            h.update(path.read_bytes())
            h.update(b"\0")
    return h.hexdigest()[:12]


def git_commit():
    """``HEAD`` of the repository (``-dirty`` if ``skmultihead/`` has changes)."""

    def git(*args):
        return subprocess.run(
            ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", "skmultihead")
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def anchor_version(key):
    import sklearn

    v = {"scikit-learn": sklearn.__version__}
    if key == "xgb":
        xgboost = _xgboost()
        v["xgboost"] = getattr(xgboost, "__version__", None)
    return v


def cache_key(dataset, row, params, version):
    blob = json.dumps([dataset, row, params, version], sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


def load_split(data_dir, name):
    """``(X_train, Y_train, X_test, Y_test, info)`` of one MULAN dataset."""
    xml = data_dir / f"{name}.xml"
    train = load_arff(data_dir / f"{name}-train.arff", xml=xml)
    test = load_arff(data_dir / f"{name}-test.arff", xml=xml)
    if train.feature_names != test.feature_names:
        raise ValueError(f"{name}: train and test files have different features")
    if train.target_names != test.target_names:
        raise ValueError(f"{name}: train and test files have different labels")
    Y_train = np.asarray(train.target).astype(np.int64)
    Y_test = np.asarray(test.target).astype(np.int64)
    info = {
        "n_train": int(train.data.shape[0]),
        "n_test": int(test.data.shape[0]),
        "n_features": int(train.data.shape[1]),
        "n_labels": int(Y_train.shape[1]),
        "sparse": bool(sparse.issparse(train.data)),
        "label_cardinality_train": float(Y_train.sum(axis=1).mean()),
        "labels_constant_in_train": int(
            np.sum(Y_train.min(axis=0) == Y_train.max(axis=0))
        ),
        "labels_without_positive_in_test": int(np.sum(Y_test.sum(axis=0) == 0)),
    }
    # int64, not the loader's int8: see skmultihead._compare.load_dataset
    # (scikit-learn's label_binarize permutes int8 targets with > 127 labels).
    return train.data, Y_train, test.data, Y_test, info


def scaled_split(data_dir, name):
    """:func:`load_split` behind the preprocessing every row gets
    (:func:`~skmultihead._compare.make_model`), fitted on the training split:
    for studies that need the estimator itself rather than a Pipeline."""
    X_train, Y_train, X_test, Y_test, info = load_split(data_dir, name)
    prep = make_model("passthrough", X_train)
    X_train = prep.fit_transform(X_train)
    return X_train, Y_train, prep.transform(X_test), Y_test, info


# ---------------------------------------------------------------------------
# Fitting
# ---------------------------------------------------------------------------


def run_one(clf, X_train, Y_train, X_test, Y_test, threads):
    """Fit ``clf`` behind the scaler and score it on the test split (the
    ``compare`` command's :func:`~skmultihead._compare.fit_and_score`)."""
    model = make_model(clf, X_train)
    result = fit_and_score(model, X_train, Y_train, X_test, Y_test, threads=threads)
    if isinstance(result["n_iter"], list):  # per-label epochs: the longest
        result["n_iter"] = max(result["n_iter"])
    result["estimator"] = repr(model)
    return result


def warm_up(clf, X, Y):
    """Untimed tiny fit so that Numba compilation / cache loading is not timed."""
    small = clone(clf).set_params(max_iter=1)
    n = min(64, X.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = make_model(small, X).fit(X[:n], Y[:n])
        model.predict_proba(X[:n])


# ---------------------------------------------------------------------------
# JSON file (cache) and reports
# ---------------------------------------------------------------------------


def _write_atomic(path, text):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(json_path):
    """Exclusive lock beside ``json_path`` (several runs may share the file)."""
    digest = hashlib.sha1(str(json_path.resolve()).encode()).hexdigest()[:12]
    lock_path = Path(tempfile.gettempdir()) / f"bench_quality-{digest}.lock"
    with open(lock_path, "w") as lock:
        try:
            import fcntl
        except ImportError:  # not POSIX
            yield
            return
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read_payload(json_path):
    if json_path.exists():
        payload = json.loads(json_path.read_text())
        if payload.get("format") == FORMAT:
            return payload
        print(f"{json_path}: older format, starting afresh", file=sys.stderr)
    return {"format": FORMAT, "config": {}, "rows": {}, "datasets": {}}


def update_payload(json_path, md_path, config, mutate):
    """Re-read the JSON under the lock, apply ``mutate(payload)``, write all."""
    with _locked(json_path):
        payload = read_payload(json_path)
        mutate(payload)
        payload["config"] = config
        payload["versions"] = versions()
        payload["updated"] = datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        )
        _write_atomic(json_path, json.dumps(payload, indent=2, default=str) + "\n")
        _write_atomic(md_path, render_markdown(payload))
    return payload


COLUMNS = [
    # key, header, greater is better, digits
    ("micro_f1", "micro-F1", True, 3),
    ("macro_f1", "macro-F1", True, 3),
    ("samples_f1", "samples-F1", True, 3),
    ("hamming_loss", "Hamming", False, 4),
    ("lrap", "LRAP", True, 3),
    ("subset_accuracy", "subset acc", True, 3),
]


def ordered_rows(payload):
    """Row keys: anchors, our built-in rows, then --config rows (first seen)."""
    known = list(ANCHORS) + list(builtin_ours())
    extra = [k for k in payload["rows"] if k not in known]
    return [k for k in known if k in payload["rows"]] + extra


def _ok(entry):
    return entry is not None and entry.get("status") == "ok"


def best_anchor(results, metric):
    """(row key, value) of the best anchor of ``results`` on ``metric``."""
    best = None
    for key in ANCHORS:
        r = results.get(key)
        if _ok(r) and (best is None or r[metric] > best[1]):
            best = (key, r[metric])
    return best


def _name(payload, key):
    return payload["rows"].get(key, {}).get("name", key)


def render_markdown(payload):
    rows = ordered_rows(payload)
    v = payload.get("versions", {})
    config = payload.get("config", {})
    datasets = [d for d in DATASETS if d in payload["datasets"]] + sorted(
        d for d in payload["datasets"] if d not in DATASETS
    )
    lines = [
        "# Quality on the MULAN train/test splits: skmultihead vs the strong anchors",
        "",
        f"Generated by `benchmarks/bench_quality.py` ({payload.get('updated')}); "
        "see its docstring for how to re-run it. Each row is fitted once on "
        "`<name>-train.arff` and scored on `<name>-test.arff`, behind "
        "StandardScaler (dense) or MaxAbsScaler (sparse X); random_state="
        f"{config.get('random_state')}; {config.get('threads') or 'library-default'}"
        " thread(s) per fit. Predictions at each estimator's own threshold "
        "(0.5 unless the estimator tunes it); LRAP from the positive-class "
        "probabilities.",
        "",
        f"scikit-learn {v.get('scikit-learn')}, numpy {v.get('numpy')}, numba "
        f"{v.get('numba')}, xgboost {config.get('xgboost') or 'not installed'}, "
        f"Python {v.get('python')}, {v.get('cpus_usable', v.get('cpu_count'))} CPUs. "
        "**Fit times are indicative only**: wall-clock seconds, one thread, on a "
        "machine shared with other jobs.",
        "",
        "## Summary: best anchor vs MultiHead (defaults), micro-F1 / macro-F1",
        "",
        "Margin = MultiHead (defaults) minus the best anchor of the column "
        "(positive: ours is better).",
        "",
        "| dataset | best anchor, micro-F1 | best anchor, macro-F1 | "
        "MultiHead (defaults) | margin micro / macro |",
        "|---|---|---|---|---|",
    ]
    for d in datasets:
        res = payload["datasets"][d]["results"]
        bmi, bma = best_anchor(res, "micro_f1"), best_anchor(res, "macro_f1")
        mh = res.get("multihead")
        cells = [d]
        for b in (bmi, bma):
            cells.append(f"{b[1]:.3f} ({_name(payload, b[0])})" if b else "—")
        if _ok(mh):
            cells.append(f"{mh['micro_f1']:.3f} / {mh['macro_f1']:.3f}")
            cells.append(
                " / ".join(
                    f"{mh[m] - b[1]:+.3f}" if b else "—"
                    for m, b in (("micro_f1", bmi), ("macro_f1", bma))
                )
            )
        else:
            cells += ["not run", "—"]
        lines.append("| " + " | ".join(cells) + " |")

    lines += [
        "",
        "## All rows, micro-F1 / macro-F1",
        "",
        "Bold: best of the column among all rows.",
        "",
        "| row | " + " | ".join(datasets) + " |",
        "|---|" + "---|" * len(datasets),
    ]
    best = {}
    for d in datasets:
        res = payload["datasets"][d]["results"]
        for m in ("micro_f1", "macro_f1"):
            vals = [round(r[m], 3) for r in res.values() if _ok(r)]
            best[d, m] = max(vals) if vals else None
    for key in rows:
        cells = []
        for d in datasets:
            r = payload["datasets"][d]["results"].get(key)
            if _ok(r):
                parts = []
                for m in ("micro_f1", "macro_f1"):
                    s = f"{r[m]:.3f}"
                    parts.append(f"**{s}**" if round(r[m], 3) == best[d, m] else s)
                cells.append(" / ".join(parts))
            elif r is not None:
                cells.append("skipped")
            else:
                cells.append("—")
        lines.append(f"| {_name(payload, key)} | " + " | ".join(cells) + " |")

    lines += ["", "## Rows", ""]
    for key in rows:
        spec = payload["rows"][key]
        kind = "anchor" if key in ANCHORS else "ours"
        lines.append(f"- **{spec['name']}** (`{key}`, {kind}): {spec['description']}")
    codes = sorted(
        {
            f"{r.get('code_hash')} (git {r.get('git_commit')})"
            for d in datasets
            for k, r in payload["datasets"][d]["results"].items()
            if k not in ANCHORS and r.get("code_hash")
        }
    )
    lines += [
        "",
        "Our rows ran on skmultihead sources " + "; ".join(codes) + " (hash of "
        "`skmultihead/`; the *code* column of each table says which; -dirty = "
        "uncommitted changes).",
    ]

    for d in datasets:
        entry = payload["datasets"][d]
        info, res = entry["info"], entry["results"]
        kind = "sparse" if info["sparse"] else "dense"
        lines += [
            "",
            f"## {d}",
            "",
            f"{info['n_train']} train / {info['n_test']} test samples, "
            f"{info['n_features']} features ({kind}), {info['n_labels']} labels "
            f"(label cardinality {info['label_cardinality_train']:.2f}; "
            f"{info['labels_constant_in_train']} label(s) constant in train, "
            f"{info['labels_without_positive_in_test']} without a positive in test).",
            "",
        ]
        bmi, bma = best_anchor(res, "micro_f1"), best_anchor(res, "macro_f1")
        mh = res.get("multihead")
        if bmi and bma:
            text = (
                f"Best anchor: micro-F1 **{_name(payload, bmi[0])}** {bmi[1]:.3f}, "
                f"macro-F1 **{_name(payload, bma[0])}** {bma[1]:.3f}."
            )
            if _ok(mh):
                text += (
                    f" MultiHead (defaults) {mh['micro_f1']:.3f} / "
                    f"{mh['macro_f1']:.3f}: "
                    f"margin {mh['micro_f1'] - bmi[1]:+.3f} micro, "
                    f"{mh['macro_f1'] - bma[1]:+.3f} macro."
                )
            lines += [text, ""]
        present = [k for k in rows if k in res]
        ok = [k for k in present if _ok(res[k])]
        header = ["row"] + [c[1] for c in COLUMNS] + ["fit (s)", "epochs", "code"]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|---|" + "---:|" * (len(header) - 2) + "---|")
        for key in ok:
            r = res[key]
            cells = [_name(payload, key)]
            for m, _, greater, digits in COLUMNS:
                vals = [round(res[k][m], digits) for k in ok]
                target = max(vals) if greater else min(vals)
                s = f"{r[m]:.{digits}f}"
                cells.append(f"**{s}**" if round(r[m], digits) == target else s)
            cells.append(
                f"{r['fit_time']:.1f}"
                if r["fit_time"] >= 10
                else f"{r['fit_time']:.2f}"
            )
            cells.append("—" if r.get("n_iter") is None else str(r["n_iter"]))
            cells.append(r.get("code_hash") or "—")
            lines.append("| " + " | ".join(cells) + " |")
        for key in present:
            if key not in ok:
                lines += [
                    "",
                    f"Skipped **{_name(payload, key)}**: {res[key].get('reason')}.",
                ]
        missing = [_name(payload, k) for k in rows if k not in res]
        if missing:
            lines += ["", f"Not run on {d}: {', '.join(missing)}."]
    lines += [
        "",
        "Bold in the per-dataset tables: best value of the column (Hamming: lowest). "
        "*epochs*: epochs trained (BinaryRelevance: the label trained longest).",
        "",
    ]
    return "\n".join(lines)


def write_plot(payload, png_path):
    """micro/macro-F1 per dataset: best anchor vs our rows, grouped bars."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    datasets = [d for d in DATASETS if d in payload["datasets"]]
    ours = [k for k in ordered_rows(payload) if k not in ANCHORS]
    ours = [
        k for k in ours if any(k in payload["datasets"][d]["results"] for d in datasets)
    ]
    if not datasets:
        return
    groups = ["best anchor"] + [_name(payload, k) for k in ours]
    fig = Figure(
        figsize=(max(8, 1.6 * len(datasets) * (1 + len(ours)) / 2.5), 7.5),
        layout="constrained",
    )
    axes = fig.subplots(2, 1)
    width = 0.8 / len(groups)
    x = np.arange(len(datasets))
    for ax, (metric, label) in zip(
        axes, (("micro_f1", "micro-F1"), ("macro_f1", "macro-F1"))
    ):
        for g, name in enumerate(groups):
            vals, notes = [], []
            for d in datasets:
                res = payload["datasets"][d]["results"]
                if g == 0:
                    b = best_anchor(res, metric)
                    vals.append(b[1] if b else np.nan)
                    notes.append(_name(payload, b[0]) if b else "")
                else:
                    r = res.get(ours[g - 1])
                    vals.append(r[metric] if _ok(r) else np.nan)
                    notes.append("")
            pos = x - 0.4 + width * (g + 0.5)
            color = "0.55" if g == 0 else f"C{g - 1}"
            bars = ax.bar(pos, vals, width, label=name, color=color)
            for bar, note, val in zip(bars, notes, vals):
                if np.isfinite(val):
                    ax.text(
                        bar.get_x() + bar.get_width() / 2,
                        val + 0.005,
                        f"{val:.3f}",
                        ha="center",
                        va="bottom",
                        fontsize=6,
                        rotation=90,
                    )
                if note:
                    ax.text(
                        bar.get_x() + bar.get_width() / 2,
                        0.02,
                        note,
                        ha="center",
                        va="bottom",
                        fontsize=6,
                        rotation=90,
                        color="white",
                    )
        ax.set_xticks(x, datasets)
        ax.set_ylabel(label)
        ax.set_ylim(0, 1.05)
        ax.grid(axis="y", alpha=0.3)
        ax.set_title(
            f"{label} on the MULAN test splits (higher is better)", fontsize=10
        )
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        fontsize=8,
        ncols=min(len(groups), 5),
        loc="outside lower center",
    )
    fig.savefig(png_path, dpi=110)


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="See the module docstring for the rows, the cache and run times.",
    )
    parser.add_argument("--datasets", nargs="+", default=DATASETS, metavar="NAME")
    parser.add_argument(
        "--rows",
        nargs="+",
        default=None,
        metavar="KEY",
        help="rows to run (default: all built-in rows plus the --config rows); "
        f"anchors: {' '.join(ANCHORS)}; ours: {' '.join(builtin_ours())}; or the "
        "name of a --config row stored in the JSON",
    )
    parser.add_argument(
        "--only", choices=["anchors", "ours"], default=None, help="restrict the rows"
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help='extra row of ours, e.g. \'mh-h256={"hidden_layer_sizes": [256], '
        '"alpha": 1.0}\' (repeatable)',
    )
    parser.add_argument(
        "--exclude", nargs="+", default=[], metavar="DATASET:ROW", help="e.g. bibtex:br"
    )
    parser.add_argument("--force", action="store_true", help="refit cached results")
    parser.add_argument(
        "--budget",
        type=float,
        default=1800.0,
        help="seconds allowed for a per-label anchor (cc, hgb) on one dataset "
        "(default 1800)",
    )
    parser.add_argument(
        "--forget",
        nargs="+",
        default=[],
        metavar="ROW",
        help="remove these rows from the JSON, then render",
    )
    parser.add_argument(
        "--render",
        action="store_true",
        help="only re-write the Markdown and PNG from the JSON",
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=".md path")
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per fit (0 = library defaults; default 1)",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    md_path = args.output
    json_path = md_path.with_suffix(".json")
    png_path = md_path.with_suffix(".png")
    md_path.parent.mkdir(parents=True, exist_ok=True)
    xgboost = _xgboost()
    config = {
        "random_state": args.random_state,
        "threads": args.threads,
        "data_dir": str(args.data_dir),
        "xgboost": getattr(xgboost, "__version__", None),
        # for the docs' summary: the default width of our estimators at run time
        "hidden": list(skmultihead.MultiHeadMLPClassifier().hidden_layer_sizes),
    }

    if args.render or args.forget:

        def forget(payload):
            for key in args.forget:
                payload["rows"].pop(key, None)
                for entry in payload["datasets"].values():
                    entry["results"].pop(key, None)

        with _locked(json_path):
            payload = read_payload(json_path)
            config = payload.get("config") or config
        payload = update_payload(json_path, md_path, config, forget)
        write_plot(payload, png_path)
        print(f"wrote {md_path}, {png_path}", file=sys.stderr)
        return 0

    # Row specifications: built-in, stored --config rows, new --config rows.
    ours = builtin_ours()
    with _locked(json_path):
        stored = read_payload(json_path)
    stored_extra = {
        k: s
        for k, s in stored["rows"].items()
        if k not in ANCHORS and k not in ours and "class" in s
    }
    new_extra = dict(parse_config(text) for text in args.config)
    extra = {**stored_extra, **new_extra}
    if args.rows is None:
        keys = list(ANCHORS) + list(ours) + list(new_extra)
    else:
        keys = list(args.rows) + [k for k in new_extra if k not in args.rows]
    for key in keys:
        if key not in ANCHORS and key not in ours and key not in extra:
            raise SystemExit(f"unknown row {key!r}")
    if args.only == "anchors":
        keys = [k for k in keys if k in ANCHORS]
    elif args.only == "ours":
        keys = [k for k in keys if k not in ANCHORS]
    if "xgb" in keys and xgboost is None:
        print("xgboost is not installed: no XGBoost row", file=sys.stderr)
        keys.remove("xgb")
    specs = {}
    for key in keys:
        if key in ANCHORS:
            specs[key] = {"name": ANCHORS[key][0], "description": ANCHORS[key][1]}
        else:
            specs[key] = ours.get(key) or extra[key]
    exclude = {tuple(p.split(":", 1)) for p in args.exclude}
    for name in args.datasets:
        if not (args.data_dir / f"{name}-train.arff").is_file():
            raise SystemExit(f"no {name}-train.arff in {args.data_dir}")

    def register(payload):
        payload["rows"].update(specs)

    update_payload(json_path, md_path, config, register)

    chash, commit = code_hash(), git_commit()
    threads = args.threads or None
    warmed = set()
    print(
        f"rows: {' '.join(keys)}; skmultihead code {chash} (git {commit})",
        file=sys.stderr,
        flush=True,
    )
    for name in args.datasets:
        X_train, Y_train, X_test, Y_test, info = load_split(args.data_dir, name)
        print(
            f"{name}: {info['n_train']}/{info['n_test']} samples, "
            f"{info['n_features']} features, {info['n_labels']} labels",
            file=sys.stderr,
            flush=True,
        )
        with _locked(json_path):
            cached = (
                read_payload(json_path)["datasets"].get(name, {}).get("results", {})
            )
        for key in keys:
            if (name, key) in exclude:
                continue
            spec = specs[key]
            if key in ANCHORS:
                clf = build_anchor(key, args.random_state)
                params = repr(clf)
                version = anchor_version(key)
            else:
                clf = build_ours(spec, args.random_state, threads)
                params = {
                    "class": spec["class"],
                    **spec["params"],
                    "random_state": args.random_state,
                }
                version = {"skmultihead": skmultihead.__version__, "code": chash}
            version["threads"] = args.threads
            ck = cache_key(name, key, params, version)
            old = cached.get(key)
            if old is not None and old.get("cache_key") == ck and not args.force:
                if old.get("status") == "ok" or old.get("budget", 0) >= args.budget:
                    print(f"  {spec['name']:<22} cached", file=sys.stderr)
                    continue
            if key not in ANCHORS and spec["class"] not in warmed:
                warm_up(clf, X_train, Y_train)
                warmed.add(spec["class"])
            entry = {
                "row": key,
                "name": spec["name"],
                "cache_key": ck,
                "params": params,
                "version": version,
                "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
                    timespec="seconds"
                ),
            }
            if key not in ANCHORS:
                entry.update(code_hash=chash, git_commit=commit)
            _BUDGET.reset(args.budget if key in BUDGETED else None, Y_train.shape[1])
            start = time.perf_counter()
            try:
                result = run_one(clf, X_train, Y_train, X_test, Y_test, args.threads)
            except BudgetExceeded as exc:
                entry.update(status="skipped", reason=str(exc), budget=args.budget)
                print(
                    f"  {spec['name']:<22} skipped: {exc}", file=sys.stderr, flush=True
                )
            else:
                entry.update(status="ok", **result)
                print(
                    f"  {spec['name']:<22} micro-F1 {result['micro_f1']:.3f}  "
                    f"macro-F1 {result['macro_f1']:.3f}  LRAP {result['lrap']:.3f}  "
                    f"fit {result['fit_time']:.1f}s  epochs {result['n_iter']}",
                    file=sys.stderr,
                    flush=True,
                )
            finally:
                _BUDGET.reset(None, 0)
            entry["wall_time"] = time.perf_counter() - start

            def store(payload, name=name, key=key, entry=entry):
                ds = payload["datasets"].setdefault(name, {"results": {}})
                ds["info"] = info
                ds["results"][key] = entry

            payload = update_payload(json_path, md_path, config, store)
    with _locked(json_path):
        payload = read_payload(json_path)
    try:
        write_plot(payload, png_path)
    except ImportError:
        print("matplotlib is not installed: no PNG", file=sys.stderr)
    print(f"wrote {md_path}, {json_path.name}, {png_path.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
