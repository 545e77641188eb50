"""ONNX export (skmultihead.onnx): onnxruntime reproduces predict_proba and predict.

Probabilities must agree with ``predict_proba`` to 1e-5 on every row. A float32
graph cannot be expected to decide a probability that lies within float32
rounding of its threshold the way the float64 model does, so labels are compared
exactly on the rows where every probability is more than ``MARGIN`` away from its
threshold (and, with ``min_labels=1``, the two most probable labels are more than
``MARGIN`` apart); at least 90 % of the rows qualify. Double-precision graphs are
compared exactly on every row.
"""

import functools
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.datasets import make_multilabel_classification
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmultihead import BinaryRelevanceMLPClassifier, MultiHeadMLPClassifier, _engine
from skmultihead._engine import LayerPlan

pytest.importorskip(
    "skl2onnx", reason="ONNX export needs the 'onnx' extra: pip install -e '.[onnx]'"
)
ort = pytest.importorskip(
    "onnxruntime", reason="ONNX tests need the 'onnx' extra: pip install -e '.[onnx]'"
)
from skl2onnx import to_onnx  # noqa: E402

import skmultihead.onnx  # noqa: E402, F401  (registers the converters)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ESTIMATORS = [MultiHeadMLPClassifier, BinaryRelevanceMLPClassifier]
ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]
MARGIN = 1e-5


@functools.cache
def _cached_data(n_labels, seed):
    X, Y = make_multilabel_classification(
        n_samples=160,
        n_features=10,
        n_classes=max(n_labels, 2),
        random_state=seed,
    )
    return (X / X.max()).astype(np.float32), Y[:, :n_labels]


def _data(n_labels=4, seed=0):
    X, Y = _cached_data(n_labels, seed)
    return X.copy(), Y.copy()


def _fit(Est, X, Y, **params):
    params = {"hidden_layer_sizes": (6,), "max_iter": 40, "random_state": 0, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # constant labels (BR)
        return Est(**params).fit(X, Y)


def _run(model, X, **options):
    """Convert ``model`` for ``X``'s dtype and run it: ``(labels, proba)``."""
    options = {"zipmap": False, **options}
    onx = to_onnx(model, X[:1], options=options)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1  # the test machine's cores are shared
    sess = ort.InferenceSession(
        onx.SerializeToString(), so, providers=["CPUExecutionProvider"]
    )
    return sess.run(None, {sess.get_inputs()[0].name: X})


def _decided_rows(P, threshold, min_labels):
    """Rows whose labels float32 rounding cannot flip (see the module docstring)."""
    safe = np.all(np.abs(P - threshold) > MARGIN, axis=1)
    if min_labels and P.shape[1] > 1:
        top2 = np.sort(P, axis=1)[:, -2:]
        safe &= top2[:, 1] - top2[:, 0] > MARGIN
    return safe


def _check(est, X, P_onnx, labels_onnx, P=None, labels=None):
    P = est.predict_proba(X) if P is None else P
    labels = est.predict(X) if labels is None else labels
    assert P_onnx.shape == P.shape
    np.testing.assert_allclose(P_onnx, P, rtol=0, atol=1e-5)
    assert labels_onnx.shape == labels.shape
    P_pos = P[:, 1:] if est._binary_1d else P
    safe = _decided_rows(P_pos, est.threshold_, est.min_labels)
    assert safe.mean() >= 0.9
    np.testing.assert_array_equal(labels_onnx[safe], labels[safe])


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("n_labels", [1, 2, 12])
@pytest.mark.parametrize("hidden", [(), (6,), (6, 5)], ids=["h0", "h1", "h2"])
def test_matches_predict(Est, n_labels, hidden):
    X, Y = _data(n_labels)
    est = _fit(Est, X, Y, hidden_layer_sizes=hidden)
    labels, P = _run(est, X)
    assert labels.dtype == np.int64 and P.dtype == np.float32
    _check(est, X, P, labels)


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_each_activation(Est, activation):
    X, Y = _data(5)
    est = _fit(Est, X, Y, hidden_layer_sizes=(7, 4), activation=activation)
    labels, P = _run(est, X)
    _check(est, X, P, labels)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_many_labels(Est):
    X, Y = _data(50, seed=1)
    est = _fit(Est, X, Y, hidden_layer_sizes=(8, 4), max_iter=20)
    labels, P = _run(est, X)
    _check(est, X, P, labels)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_per_label_thresholds_and_min_labels(Est):
    X, Y = _data(4)
    threshold = [0.45, 0.5, 0.55, 0.6]
    for min_labels in (0, 1):
        est = _fit(Est, X, Y, threshold=threshold, min_labels=min_labels, max_iter=300)
        labels, P = _run(est, X)
        _check(est, X, P, labels)
    # min_labels=1 actually changed something here: rows left with no label.
    assert np.any(~(est.predict_proba(X) > est.threshold_).any(axis=1))
    assert np.all(labels.sum(axis=1) >= 1)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_tuned_thresholds(Est):
    X, Y = _data(4)
    est = _fit(Est, X, Y, threshold="f1", early_stopping=True, max_iter=60)
    assert not np.all(est.threshold_ == 0.5)
    labels, P = _run(est, X)
    _check(est, X, P, labels)


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize(
    "classes", [np.array([3, 7]), np.array(["no", "yes"])], ids=["int", "str"]
)
def test_binary_1d(Est, classes):
    X, Y = _data(2)
    y = classes[Y[:, 0]]
    est = _fit(Est, X, y)
    labels, P = _run(est, X)
    assert P.shape == (X.shape[0], 2)
    _check(est, X, P, labels)
    # Default options: skl2onnx's ZipMap, one {class: probability} per sample.
    labels_zip, P_zip = _run(est, X, zipmap=True)
    np.testing.assert_array_equal(labels_zip, labels)
    assert set(P_zip[0]) == set(classes.tolist())
    np.testing.assert_allclose(
        [[row[c] for c in classes.tolist()] for row in P_zip], P, atol=1e-6
    )


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_zipmap_multilabel(Est):
    X, Y = _data(3)
    est = _fit(Est, X, Y)
    labels, P_zip = _run(est, X, zipmap=True)
    _, P = _run(est, X)
    assert labels.shape == (X.shape[0], 3)
    np.testing.assert_allclose([[row[j] for j in range(3)] for row in P_zip], P)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_pipeline_with_scaler(Est):
    X, Y = _data(4)
    X = X * 40.0 + 3.0  # worth scaling
    pipe = make_pipeline(StandardScaler(), clone(_fit(Est, X[:2], Y[:2])))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        pipe.fit(X, Y)
    labels, P = _run(pipe, X)
    _check(pipe[-1], pipe[0].transform(X), P, labels, pipe.predict_proba(X))
    np.testing.assert_array_equal(
        labels[_decided_rows(P, pipe[-1].threshold_, 0)],
        pipe.predict(X)[_decided_rows(P, pipe[-1].threshold_, 0)],
    )


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_double_graph_exact(Est):
    """A float64 graph of a float64 model gives the same labels on every row."""
    X, Y = _data(6)
    X = X.astype(np.float64)
    est = _fit(Est, X, Y, hidden_layer_sizes=(6, 5), min_labels=1)
    labels, P = _run(est, X)
    assert P.dtype == np.float64
    np.testing.assert_allclose(P, est.predict_proba(X), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(labels, est.predict(X))


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_float32_model(Est):
    X, Y = _data(4)
    est = _fit(Est, X.astype(np.float64), Y, dtype="float32")
    assert est._params.dtype == np.float32
    labels, P = _run(est, X)
    _check(est, X, P, labels)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_trained_on_sparse_input(Est):
    """A model fitted on CSR input exports; the graph takes the dense rows."""
    X, Y = _data(4)
    est = _fit(Est, sparse.csr_matrix(X), Y)
    labels, P = _run(est, X)
    _check(est, X, P, labels)


def test_zipmap_columns():
    X, Y = _data(3)
    est = _fit(MultiHeadMLPClassifier, X, Y)
    labels, *columns = _run(est, X, zipmap="columns")
    P = est.predict_proba(X)
    np.testing.assert_allclose(np.column_stack(columns), P, rtol=0, atol=1e-5)


def test_wrong_number_of_features():
    X, Y = _data(3)
    est = _fit(MultiHeadMLPClassifier, X, Y)
    with pytest.raises(ValueError, match="features"):
        to_onnx(est, X[:1, :-1], options={"zipmap": False})


def test_register_twice():
    skmultihead.onnx.register()
    X, Y = _data(2)
    labels, P = _run(_fit(MultiHeadMLPClassifier, X, Y), X)
    assert P.shape == (X.shape[0], 2)


# --------------------------------------------------------------------------------
# Several members (seed ensembles, cross-fitting folds): the output layer holds
# n_members * n_labels logits, member-major, and predict_proba is the mean of the
# members' sigmoids.
# --------------------------------------------------------------------------------


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("hidden", [(6,), (6, 5)], ids=["h1", "h2"])
def test_members_are_averaged(Est, hidden):
    X, Y = _data(4)
    est = _fit(Est, X, Y, hidden_layer_sizes=hidden, n_members=3, min_labels=1, cv=None)
    assert est.n_members_ == 3 and est._plan.n_outputs == 3 * 4
    # The members disagree, so a wrong layout or no averaging would show.
    member_P = est._raw(X, sigmoid=True).reshape(-1, 3, 4)
    assert np.abs(member_P - member_P.mean(axis=1, keepdims=True)).max() > 1e-2
    labels, P = _run(est, X)
    _check(est, X, P, labels)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_cross_fitted(Est):
    X, Y = _data(4)
    est = _fit(Est, X, Y, cv=3, n_members=2, threshold="f1", max_iter=60)
    assert est.n_members_ == 6
    labels, P = _run(est, X)
    _check(est, X, P, labels)


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("towers", [(4,), (4, 3)], ids=["t1", "t2"])
@pytest.mark.parametrize("n_members", [1, 2])
def test_towers(Est, towers, n_members):
    """Shared trunk, then a private tower per label (and members of those)."""
    X, Y = _data(5)
    est = _fit(Est, X, Y, tower_layer_sizes=towers, n_members=n_members)
    labels, P = _run(est, X)
    _check(est, X, P, labels)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_alpha_chosen_on_held_out_data(Est):
    """Only the chosen alpha's members stay in the model, and are exported."""
    X, Y = _data(4)
    est = _fit(Est, X, Y, alpha=[1e-4, 1.0], cv=2, n_members=2)
    assert est.n_members_ == 4
    labels, P = _run(est, X)
    _check(est, X, P, labels)


def test_members_layout_checked():
    X, Y = _data(4)
    est = _fit(MultiHeadMLPClassifier, X, Y, n_members=2)
    est.n_members_ = 3
    with pytest.raises(ValueError, match="n_members_"):
        _run(est, X)


class _AnyPlan(MultiHeadMLPClassifier):
    """Runs a hand-built layer plan: these class attributes shadow the base
    class's properties (skl2onnx lists every attribute of the model, and the
    coefs_ views follow the fitted layout, not the hand-built plan)."""

    _plan = None
    coefs_ = None
    intercepts_ = None


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_hand_built_plan(activation):
    """Any plan the engine runs exports: a shared trunk, then one block-diagonal
    tower per label (random weights; the engine's predict_proba is the oracle)."""
    X, Y = _data(4)
    est = _AnyPlan(activation=activation, min_labels=1, random_state=0)
    est.__dict__.update(vars(_fit(MultiHeadMLPClassifier, X, Y, cv=None)))
    n_features, L = X.shape[1], Y.shape[1]
    blocks = [(1, n_features, 8), (1, 8, 3 * L), (L, 3, 2), (L, 2, 1)]
    est._plan = LayerPlan(blocks, lambda layer, kind: 0, n_groups=1)
    rng = np.random.RandomState(3)  # no tower dead (constant) with relu
    est._params = rng.normal(scale=0.8, size=est._plan.n_params).astype(np.float32)
    est._act_code = _engine.ACTIVATION_CODES[activation]
    X = StandardScaler().fit_transform(X).astype(np.float32)
    # Thresholds at each label's median: about half the samples on either side.
    est.threshold_ = np.median(est.predict_proba(X), axis=0).astype(np.float64)
    assert np.all(est.predict_proba(X).std(axis=0) > 0.01)
    skmultihead.onnx.register()  # registers the subclass too
    labels, P = _run(est, X)
    _check(est, X, P, labels)


def test_import_without_skl2onnx():
    """The module imports without the extra; register() says what to install."""
    code = (
        "import sys; sys.modules['skl2onnx'] = None\n"
        "import skmultihead.onnx as m\n"
        "try:\n"
        "    m.register()\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    ).stdout
    assert "pip install 'skmultihead[onnx]'" in out
