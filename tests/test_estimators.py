"""Core behaviour of MultiHeadMLPClassifier and BinaryRelevanceMLPClassifier.

Parity with scikit-learn's MLPClassifier (same weights -> same probabilities; same
seed -> same training trajectory), binary and bad targets, scikit-learn tooling
(pipelines, grid search, cross-validation scorers, clone, pickle), determinism
across thread counts, dtypes and memory layouts, sparse input, warm start and
partial_fit, binary relevance as independent per-label networks, per-label
convergence, constant labels, and failure safety (a failed fit changes nothing).
"""

import functools
import inspect
import os
import pickle
import warnings

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.datasets import make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    get_scorer,
    roc_auc_score,
)
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmultihead import BinaryRelevanceMLPClassifier, MultiHeadMLPClassifier, _engine

pytestmark = [
    pytest.mark.usefixtures("sklearn_parity_defaults"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

ESTIMATORS = [MultiHeadMLPClassifier, BinaryRelevanceMLPClassifier]
ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]


@functools.cache
def _cached_data(n_samples, n_features, n_classes, seed):
    X, Y = make_multilabel_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_classes=n_classes,
        random_state=seed,
    )
    return X / X.max(), Y


def _data(n_samples=120, n_features=8, n_classes=4, seed=0):
    """Small multi-label problem (cached: the generator is slow); fresh copies."""
    X, Y = _cached_data(n_samples, n_features, n_classes, seed)
    return X.copy(), Y.copy()


def _same_params(a, b):
    """Bitwise equality of every coefs_/intercepts_ array of two models."""
    return all(
        np.array_equal(u, v)
        for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_)
    )


def _max_param_diff(a, b):
    return max(
        float(np.max(np.abs(np.asarray(u) - np.asarray(v))))
        for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_)
    )


def _snapshot(est):
    return [c.copy() for c in est.coefs_ + est.intercepts_]


def _unchanged(est, snapshot):
    return all(
        np.array_equal(u, v) for u, v in zip(est.coefs_ + est.intercepts_, snapshot)
    )


# --------------------------------------------------------------------------------
# Parity with scikit-learn's MLPClassifier
# --------------------------------------------------------------------------------


@pytest.mark.parametrize("hidden", [(), (7,), (7, 5), (6, 5, 4)])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_predict_proba_equals_sklearn_given_same_weights(activation, hidden):
    X, Y = _data()
    sk = MLPClassifier(
        hidden_layer_sizes=hidden,
        activation=activation,
        max_iter=30,
        learning_rate_init=0.05,
        random_state=1,
    ).fit(X, Y)
    mh = MultiHeadMLPClassifier(
        hidden_layer_sizes=hidden, activation=activation, max_iter=1, random_state=5
    ).fit(X, Y)
    assert not _max_param_diff(mh, sk) < 1e-3  # really different weights before
    mh.coefs_ = sk.coefs_
    mh.intercepts_ = sk.intercepts_
    assert _max_param_diff(mh, sk) == 0.0
    P_sk = sk.predict_proba(X)
    np.testing.assert_allclose(mh.predict_proba(X), P_sk, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(mh.predict(X), sk.predict(X))
    np.testing.assert_allclose(
        mh.predict_log_proba(X), np.log(P_sk), rtol=1e-10, atol=1e-12
    )


def test_coefs_setter_copies_and_checks_shapes():
    X, Y = _data()
    for Est in ESTIMATORS:
        est = Est(hidden_layer_sizes=(5,), max_iter=1, random_state=0).fit(X, Y)
        new = [np.full(c.shape, 0.25) for c in est.coefs_]
        est.coefs_ = new
        new[0][...] = 99.0  # the model holds a copy, not the caller's arrays
        assert all(np.all(c == 0.25) for c in est.coefs_)
        with pytest.raises(ValueError, match=r"coefs_\[0\] must have shape"):
            est.coefs_ = [np.zeros((3, 3)), est.coefs_[1]]
        with pytest.raises(ValueError, match="must have 2 arrays"):
            est.intercepts_ = est.intercepts_[:1]
        assert all(np.all(c == 0.25) for c in est.coefs_)


_SOLVER_CONFIGS = {
    "adam": dict(solver="adam"),
    "sgd-nesterov": dict(solver="sgd", momentum=0.9, nesterovs_momentum=True),
    "sgd-momentum": dict(solver="sgd", momentum=0.8, nesterovs_momentum=False),
    "sgd-plain": dict(solver="sgd", momentum=0.0),
    "sgd-invscaling": dict(
        solver="sgd", learning_rate="invscaling", power_t=0.3, momentum=0.5
    ),
    "sgd-adaptive": dict(solver="sgd", learning_rate="adaptive", momentum=0.9),
    # tol > 0: the adaptive schedule divides the rate by 5 several times and
    # the fit stops on its own (lr < 1e-6), as in sklearn.
    "sgd-adaptive-tol": dict(
        solver="sgd",
        learning_rate="adaptive",
        momentum=0.9,
        tol=0.05,
        n_iter_no_change=2,
        max_iter=200,
    ),
    # tol > 0 with a constant rate: same stopping epoch as sklearn.
    "adam-tol": dict(solver="adam", tol=0.01, n_iter_no_change=3, max_iter=200),
}


@pytest.mark.parametrize(
    "activation,hidden",
    [("relu", (7,)), ("tanh", (6, 5)), ("logistic", (5, 4, 3)), ("identity", (6,))],
)
@pytest.mark.parametrize("config", list(_SOLVER_CONFIGS))
def test_training_trajectory_matches_sklearn(config, activation, hidden):
    X, Y = _data()
    params = dict(
        hidden_layer_sizes=hidden,
        activation=activation,
        random_state=3,
        tol=0.0,
        max_iter=12,
        batch_size=32,
        shuffle=True,
        alpha=1e-3,
        learning_rate_init=0.05,
    )
    params.update(_SOLVER_CONFIGS[config])
    sk = MLPClassifier(**params).fit(X, Y)
    mh = MultiHeadMLPClassifier(**params).fit(X, Y)
    assert mh.n_iter_ == sk.n_iter_
    assert mh.t_ == sk.t_
    np.testing.assert_allclose(mh.loss_curve_, sk.loss_curve_, rtol=0, atol=1e-10)
    assert _max_param_diff(mh, sk) < 1e-10
    # It reaches at least the same training loss.
    assert mh.loss_curve_[-1] <= sk.loss_curve_[-1] + 1e-10
    assert mh.best_loss_ == pytest.approx(sk.best_loss_, abs=1e-10)
    if config.startswith("sgd-adaptive"):
        assert mh._group_lr[0] == pytest.approx(sk._optimizer.learning_rate)


@pytest.mark.parametrize("variant", ["sample_weight", "sparse", "binary-strings"])
def test_training_trajectory_matches_sklearn_variants(variant):
    X, Y = _data()
    params = dict(
        hidden_layer_sizes=(7,),
        random_state=3,
        tol=0.0,
        max_iter=10,
        batch_size=32,
        alpha=1e-2,
        learning_rate_init=0.05,
    )
    fit_kw = {}
    if variant == "sample_weight":
        if "sample_weight" not in inspect.signature(MLPClassifier.fit).parameters:
            pytest.skip("MLPClassifier takes sample_weight from scikit-learn 1.7 on")
        fit_kw["sample_weight"] = np.random.RandomState(0).uniform(0, 2, len(X))
    elif variant == "sparse":
        X[X < 0.3] = 0.0
        X = sparse.csr_matrix(X)
    else:
        Y = np.where(Y[:, 0] == 1, "yes", "no")
    sk = MLPClassifier(**params).fit(X, Y, **fit_kw)
    mh = MultiHeadMLPClassifier(**params).fit(X, Y, **fit_kw)
    np.testing.assert_allclose(mh.loss_curve_, sk.loss_curve_, rtol=0, atol=1e-10)
    assert _max_param_diff(mh, sk) < 1e-10
    np.testing.assert_allclose(
        mh.predict_proba(X), sk.predict_proba(X), rtol=0, atol=1e-10
    )
    np.testing.assert_array_equal(mh.predict(X), sk.predict(X))


def test_warm_start_and_partial_fit_match_sklearn():
    X, Y = _data()
    params = dict(hidden_layer_sizes=(6,), random_state=0, tol=0.0, max_iter=4)
    sk = MLPClassifier(warm_start=True, **params).fit(X, Y).fit(X, Y)
    mh = MultiHeadMLPClassifier(warm_start=True, **params).fit(X, Y).fit(X, Y)
    assert len(mh.loss_curve_) == len(sk.loss_curve_) == 8
    np.testing.assert_allclose(mh.loss_curve_, sk.loss_curve_, rtol=0, atol=1e-10)
    assert _max_param_diff(mh, sk) < 1e-10
    assert mh.n_iter_ == sk.n_iter_ and mh.t_ == sk.t_

    sk = MLPClassifier(**params)
    mh = MultiHeadMLPClassifier(**params)
    for _ in range(3):
        sk.partial_fit(X, Y, classes=np.arange(Y.shape[1]))
        mh.partial_fit(X, Y)  # no classes= needed for an indicator Y
    np.testing.assert_allclose(mh.loss_curve_, sk.loss_curve_, rtol=0, atol=1e-10)
    assert _max_param_diff(mh, sk) < 1e-10


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("classes", [("no", "yes"), (3, 7)])
def test_binary_1d_target(Est, classes):
    X, Y = _data()
    y = np.where(Y[:, 0] == 1, classes[1], classes[0])
    est = Est(
        hidden_layer_sizes=(6,), max_iter=60, learning_rate_init=0.02, random_state=0
    ).fit(X, y)
    np.testing.assert_array_equal(est.classes_, np.array(classes))
    assert est.n_outputs_ == 1
    P = est.predict_proba(X)
    assert P.shape == (len(X), 2)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    z = est.decision_function(X)
    assert z.shape == (len(X),)
    np.testing.assert_allclose(P[:, 1], 1 / (1 + np.exp(-z)), rtol=1e-12)
    np.testing.assert_allclose(est.predict_log_proba(X), np.log(P), atol=1e-12)
    pred = est.predict(X)
    assert pred.shape == (len(X),)
    assert set(np.unique(pred)) <= set(classes)
    np.testing.assert_array_equal(pred, np.asarray(classes)[(P[:, 1] > 0.5) * 1])
    assert est.score(X, y) > 0.6


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("y_kind", ["int", "str"])
def test_multiclass_1d_target_refused(Est, y_kind):
    X, _ = _data()
    y = np.arange(len(X)) % 3
    if y_kind == "str":
        y = np.array(["a", "b", "c"])[y]
    with pytest.raises(ValueError, match="MLPClassifier"):
        Est(max_iter=2).fit(X, y)


# --------------------------------------------------------------------------------
# scikit-learn tooling
# --------------------------------------------------------------------------------


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_pipeline_grid_search_and_cross_val_scorers(Est):
    X, Y = _data(n_samples=150)
    X = X * 10 + 3  # something for the scaler to do
    est = Est(
        hidden_layer_sizes=(8,), max_iter=25, learning_rate_init=0.01, random_state=0
    )
    pipe = make_pipeline(StandardScaler(), est)
    cv = KFold(3, shuffle=True, random_state=0)
    for scoring in ["f1_micro", "f1_samples", "roc_auc", "average_precision"]:
        scores = cross_val_score(
            pipe, X, Y, cv=cv, scoring=scoring, error_score="raise"
        )
        assert scores.shape == (3,)
        assert np.all(np.isfinite(scores)) and np.all((scores > 0) & (scores <= 1))

    # The probability scorers use predict_proba (not hard predictions).
    train, test = next(cv.split(X))
    fitted = clone(pipe).fit(X[train], Y[train])
    P = fitted.predict_proba(X[test])
    for name, metric in [
        ("roc_auc", roc_auc_score),
        ("average_precision", average_precision_score),
    ]:
        assert get_scorer(name)(fitted, X[test], Y[test]) == pytest.approx(
            metric(Y[test], P)
        )
    assert get_scorer("f1_samples")(fitted, X[test], Y[test]) == pytest.approx(
        f1_score(Y[test], fitted.predict(X[test]), average="samples")
    )

    step = pipe.steps[-1][0]
    grid = GridSearchCV(
        pipe,
        {f"{step}__alpha": [1e-4, 1e-1], f"{step}__hidden_layer_sizes": [(4,), (8,)]},
        cv=cv,
        scoring="f1_micro",
        error_score="raise",
    ).fit(X, Y)
    assert len(grid.cv_results_["mean_test_score"]) == 4
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    assert grid.predict(X).shape == Y.shape


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_clone_and_pickle_round_trip(Est):
    X, Y = _data()
    est = Est(hidden_layer_sizes=(6, 4), max_iter=10, random_state=0, alpha=0.01)
    cloned = clone(est)
    assert cloned.get_params() == est.get_params()
    est.fit(X, Y)
    unfitted = clone(est)
    assert not hasattr(unfitted, "coefs_")
    assert unfitted.get_params() == est.get_params()

    restored = pickle.loads(pickle.dumps(est))
    assert _same_params(restored, est)
    np.testing.assert_array_equal(restored.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(restored.predict(X), est.predict(X))
    # The restored model is a working model: it can go on training identically.
    est.partial_fit(X, Y)
    restored.partial_fit(X, Y)
    assert _same_params(restored, est)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_bitwise_identical_across_thread_counts(Est):
    rng = np.random.RandomState(0)
    n, n_features, hidden, batch = 512, 300, 256, 256
    X = rng.randn(n, n_features)
    Y = (rng.rand(n, 3) < 0.4).astype(float)
    models = [
        Est(
            hidden_layer_sizes=(hidden,),
            batch_size=batch,
            max_iter=2,
            random_state=0,
            n_threads=k,
        ).fit(X, Y)
        for k in (1, 2)
    ]
    # The problem really is split into several row chunks (and optimizer chunks);
    # row chunks are capped at the machine's core count.
    assert _engine.row_chunks(batch, models[0]._plan) >= min(2, os.cpu_count())
    assert _engine.param_chunks(models[0]._plan) >= 2
    assert _same_params(models[0], models[1])
    np.testing.assert_array_equal(models[0].loss_curve_, models[1].loss_curve_)
    # Prediction over several row blocks, dense and sparse.
    X_big = rng.randn(1500, n_features)
    X_big[X_big < 0.5] = 0.0
    for Xp in (X_big, sparse.csr_matrix(X_big)):
        P = [m.predict_proba(Xp) for m in models]
        np.testing.assert_array_equal(P[0], P[1])
        models[0].set_params(n_threads=2)
        np.testing.assert_array_equal(models[0].predict_proba(Xp), P[0])
        models[0].set_params(n_threads=1)
        np.testing.assert_allclose(P[0], models[0].predict_proba(X_big), atol=1e-14)


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(Est, dtype):
    X, Y = _data()
    est = Est(hidden_layer_sizes=(6,), max_iter=5, random_state=0).fit(
        X.astype(dtype), Y
    )
    assert all(c.dtype == dtype for c in est.coefs_ + est.intercepts_)
    for Xp in (X.astype(np.float32), X.astype(np.float64)):
        assert est.predict_proba(Xp).dtype == dtype
        assert est.decision_function(Xp).dtype == dtype
    # dtype= overrides the input's type.
    other = np.float64 if dtype == np.float32 else np.float32
    forced = Est(
        hidden_layer_sizes=(6,), max_iter=5, random_state=0, dtype=other.__name__
    ).fit(X.astype(dtype), Y)
    assert forced.coefs_[0].dtype == other
    # float32 training follows the float64 trajectory closely.
    ref = Est(hidden_layer_sizes=(6,), max_iter=5, random_state=0).fit(X, Y)
    np.testing.assert_allclose(
        est.predict_proba(X), ref.predict_proba(X), rtol=0, atol=1e-4
    )


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_memory_layouts_give_same_results(Est, tmp_path):
    X, Y = _data()
    X = np.ascontiguousarray(X, dtype=np.float64)
    params = dict(hidden_layer_sizes=(6,), max_iter=5, random_state=0)
    ref = Est(**params).fit(X, Y)
    P = ref.predict_proba(X)

    fortran = np.asfortranarray(X)
    read_only = X.copy()
    read_only.flags.writeable = False
    path = tmp_path / "X.dat"
    mm = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    del mm
    memmapped = np.memmap(path, dtype=np.float64, mode="r", shape=X.shape)
    Y_ro = Y.copy()
    Y_ro.flags.writeable = False
    for Xv in (fortran, read_only, memmapped):
        np.testing.assert_array_equal(ref.predict_proba(Xv), P)
        est = Est(**params).fit(Xv, Y_ro)
        assert _same_params(est, ref)
    # A non-contiguous view (every other column) too.
    wide = np.repeat(X, 2, axis=1)
    est = Est(**params).fit(wide[:, ::2], Y)
    assert _same_params(est, ref)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_sparse_input_same_model_as_dense(Est):
    X, Y = _data()
    X[X < 0.25] = 0.0  # make it actually sparse
    params = dict(hidden_layer_sizes=(6,), max_iter=8, random_state=0)
    dense = Est(**params).fit(X, Y)
    P = dense.predict_proba(X)
    for fmt in ("csr", "csc", "coo"):
        Xs = sparse.csr_matrix(X).asformat(fmt)
        est = Est(**params).fit(Xs, Y)
        assert _max_param_diff(est, dense) < 1e-12
        np.testing.assert_allclose(est.predict_proba(Xs), P, rtol=0, atol=1e-12)
        np.testing.assert_allclose(dense.predict_proba(Xs), P, rtol=0, atol=1e-12)
    # Sparse Y is accepted too.
    est = Est(**params).fit(X, sparse.csr_matrix(Y))
    assert _same_params(est, dense)
    # float32 sparse input.
    est32 = Est(**params).fit(sparse.csr_matrix(X, dtype=np.float32), Y)
    assert est32.coefs_[0].dtype == np.float32


# --------------------------------------------------------------------------------
# warm_start and partial_fit
# --------------------------------------------------------------------------------


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_warm_start_continues_from_fitted_weights(Est):
    X, Y = _data()
    est = Est(hidden_layer_sizes=(6,), max_iter=20, random_state=0, tol=0.0)
    est.fit(X, Y)
    first = _snapshot(est)
    curve = list(est.loss_curve_)
    # A tiny step size: the second fit barely moves, so it starts where the
    # first one ended (a fresh initialisation would be far away).
    est.set_params(warm_start=True, learning_rate_init=1e-12, max_iter=3)
    est.fit(X, Y)
    assert est.loss_curve_[:20] == curve
    assert len(est.loss_curve_) == 23
    assert max(np.max(np.abs(a - b)) for a, b in zip(_snapshot(est), first)) < 1e-8
    assert est.loss_curve_[-1] < curve[0]
    # With a normal rate it keeps improving on the training loss.
    est.set_params(learning_rate_init=1e-3, max_iter=20)
    est.fit(X, Y)
    assert est.loss_curve_[-1] < curve[-1]
    # Without warm_start the next fit starts again from scratch.
    est.set_params(warm_start=False, max_iter=20)
    est.fit(X, Y)
    fresh = Est(hidden_layer_sizes=(6,), max_iter=20, random_state=0, tol=0.0)
    assert _same_params(est, fresh.fit(X, Y))


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_partial_fit_calls_equal_fit_without_shuffle(Est, solver):
    X, Y = _data()
    k = 4
    params = dict(
        hidden_layer_sizes=(6,),
        random_state=0,
        shuffle=False,
        solver=solver,
        batch_size=32,
        learning_rate_init=0.01,
    )
    full = Est(max_iter=k, tol=0.0, **params).fit(X, Y)
    inc = Est(**params)
    for _ in range(k):
        inc.partial_fit(X, Y)  # indicator Y: no classes= needed
    assert _same_params(inc, full)
    assert inc.loss_curve_ == full.loss_curve_
    assert inc.t_ == full.t_ == k * len(X)
    np.testing.assert_array_equal(inc.n_iter_, full.n_iter_)
    np.testing.assert_array_equal(inc.predict_proba(X), full.predict_proba(X))


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_partial_fit_target_checks(Est):
    X, Y = _data()
    est = Est(hidden_layer_sizes=(4,), random_state=0).partial_fit(X, Y)
    np.testing.assert_array_equal(est.classes_, np.arange(Y.shape[1]))
    # classes= is accepted (and ignored) for an indicator Y.
    other = Est(hidden_layer_sizes=(4,), random_state=0)
    other.partial_fit(X, Y, classes=np.arange(Y.shape[1]))
    assert _same_params(other, est)
    before = _snapshot(est)
    with pytest.raises(ValueError, match="3 labels but the model was fitted with 4"):
        est.partial_fit(X, Y[:, :3])
    with pytest.raises(ValueError, match="2-D indicator Y"):
        est.partial_fit(X, Y[:, 0])
    with pytest.raises(ValueError, match="4 features"):
        est.partial_fit(X[:, :4], Y)
    assert _unchanged(est, before)
    # warm_start fit with a different width is refused the same way.
    est.set_params(warm_start=True)
    with pytest.raises(ValueError, match="labels"):
        est.fit(X, Y[:, :2])
    assert _unchanged(est, before)

    # 1-D binary y: classes= is needed when the first call has one class only.
    y = np.where(Y[:, 0] == 1, "yes", "no")
    first = y == "no"
    with pytest.raises(ValueError, match="classes"):
        Est(hidden_layer_sizes=(4,)).partial_fit(X[first], y[first])
    b = Est(hidden_layer_sizes=(4,), random_state=0)
    b.partial_fit(X[first], y[first], classes=["no", "yes"])
    b.partial_fit(X, y)
    np.testing.assert_array_equal(b.classes_, ["no", "yes"])
    assert b.predict_proba(X).shape == (len(X), 2)


# --------------------------------------------------------------------------------
# Binary relevance: independent per-label networks
# --------------------------------------------------------------------------------


def _warm_fit_from(est, coefs, intercepts, X, Y, **params):
    """Fit ``est`` from given initial weights (warm start keeps the weights and
    draws only the shuffles from random_state)."""
    est.fit(X, Y)  # builds the structure
    est.coefs_ = coefs
    est.intercepts_ = intercepts
    return est.set_params(warm_start=True, **params).fit(X, Y)


_BR_CONFIGS = {
    "adam": dict(solver="adam", tol=0.0, max_iter=6),
    "sgd": dict(solver="sgd", tol=0.0, max_iter=6),
    # With tol > 0 every label also stops (or lowers its rate) on its own.
    "adam-converging": dict(solver="adam", tol=1e-3, n_iter_no_change=3),
    "sgd-adaptive": dict(
        solver="sgd", learning_rate="adaptive", tol=1e-2, n_iter_no_change=2
    ),
    "sgd-invscaling": dict(
        solver="sgd",
        learning_rate="invscaling",
        learning_rate_init=0.5,
        tol=1e-3,
        n_iter_no_change=3,
    ),
}


@pytest.mark.parametrize("hidden", [(5,), (5, 4)])
@pytest.mark.parametrize("config", ["adam", "sgd"])
def test_binary_relevance_equals_separate_single_label_fits(config, hidden):
    # tol=0: the brief's setting (fixed number of epochs).
    _check_br_equals_single_label_fits(config, hidden)


@pytest.mark.parametrize("hidden", [(5,), (5, 4)])
@pytest.mark.parametrize(
    "config", ["adam-converging", "sgd-adaptive", "sgd-invscaling"]
)
def test_binary_relevance_per_label_convergence_equals_single_label_fits(
    config, hidden
):
    # With tol > 0 each label must stop (or divide its rate) exactly when its
    # own single-label network would: "n_labels independent trainings".
    _check_br_equals_single_label_fits(config, hidden)


def _check_br_equals_single_label_fits(config, hidden):
    X, Y = _data(n_samples=80, n_features=6, n_classes=3, seed=0)
    n_labels = Y.shape[1]
    params = dict(
        hidden_layer_sizes=hidden,
        random_state=7,
        learning_rate_init=0.02,
        batch_size=16,
        alpha=1e-3,
        max_iter=300,
    )
    params.update(_BR_CONFIGS[config])
    first = dict(max_iter=1)
    shapes = BinaryRelevanceMLPClassifier(**{**params, **first}).fit(X, Y)
    rng = np.random.RandomState(0)
    init_c = [rng.uniform(-0.6, 0.6, c.shape) for c in shapes.coefs_]
    init_b = [rng.uniform(-0.6, 0.6, b.shape) for b in shapes.intercepts_]
    assert init_c[0].shape == (n_labels, X.shape[1], hidden[0])
    br = BinaryRelevanceMLPClassifier(**{**params, **first})
    _warm_fit_from(br, init_c, init_b, X, Y, max_iter=params["max_iter"])
    P = br.predict_proba(X)
    if config.endswith("converging") or config.startswith("sgd-"):
        assert br.n_iter_.max() < params["max_iter"]  # they really converged
    for j in range(n_labels):
        yj = Y[:, [j]]
        # A 1-label binary-relevance model...
        one = BinaryRelevanceMLPClassifier(**{**params, **first})
        _warm_fit_from(
            one,
            [c[j : j + 1] for c in init_c],
            [b[j : j + 1] for b in init_b],
            X,
            yj,
            max_iter=params["max_iter"],
        )
        # ... and a multi-head model with one output, from the label-j slices.
        mh = MultiHeadMLPClassifier(**{**params, **first})
        _warm_fit_from(
            mh,
            [c[j] for c in init_c],
            [b[j] for b in init_b],
            X,
            yj,
            max_iter=params["max_iter"],
        )
        assert one.n_iter_[0] == mh.n_iter_
        assert br.n_iter_[j] == mh.n_iter_, f"label {j}"
        np.testing.assert_allclose(one.predict_proba(X)[:, 0], P[:, j], atol=1e-10)
        np.testing.assert_allclose(mh.predict_proba(X)[:, 0], P[:, j], atol=1e-10)
        for c_one, c_mh, c_br in zip(one.coefs_, mh.coefs_, br.coefs_):
            np.testing.assert_allclose(c_one[0], c_br[j], rtol=0, atol=1e-10)
            np.testing.assert_allclose(c_mh, c_br[j], rtol=0, atol=1e-10)


def test_binary_relevance_initialisation_is_per_label():
    # Label j's initial network does not depend on the number of labels:
    # it is drawn as MLPClassifier draws a binary network, label after label.
    X, Y = _data(n_samples=50, n_features=5, n_classes=3)
    br = BinaryRelevanceMLPClassifier(hidden_layer_sizes=(4,), max_iter=1)
    br.set_params(random_state=0, learning_rate_init=1e-300)
    br.fit(X, Y)
    sk = MLPClassifier(hidden_layer_sizes=(4,), max_iter=1, random_state=0)
    sk.set_params(learning_rate_init=1e-300).fit(X, Y[:, 0])
    for c_br, c_sk in zip(br.coefs_, sk.coefs_):
        np.testing.assert_allclose(c_br[0], c_sk, rtol=0, atol=1e-12)


def _per_label_problem():
    rng = np.random.RandomState(0)
    X = rng.randn(120, 5)
    Y = np.c_[
        X[:, 0] > 0,
        X[:, 1] + X[:, 2] > 0,
        rng.rand(120) < 0.5,
        X[:, 3] * X[:, 4] > 0,
    ].astype(float)
    return X, Y


def test_binary_relevance_per_label_convergence():
    X, Y = _per_label_problem()
    params = dict(
        hidden_layer_sizes=(6,),
        random_state=0,
        tol=1e-3,
        n_iter_no_change=3,
        learning_rate_init=0.01,
    )
    br = BinaryRelevanceMLPClassifier(max_iter=400, **params).fit(X, Y)
    assert br.n_iter_.shape == (Y.shape[1],)
    assert br.n_iter_.dtype.kind == "i"
    assert len(np.unique(br.n_iter_)) >= 2
    assert len(br.loss_curve_) == br.n_iter_.max()
    assert br.n_iter_.max() < 400
    # A label frozen at epoch k has exactly the parameters it had after k
    # epochs: its parameters stop changing while the others go on.
    j = int(np.argmin(br.n_iter_))
    k = int(br.n_iter_[j])
    short = BinaryRelevanceMLPClassifier(max_iter=k, **params).fit(X, Y)
    for a, b in zip(br.coefs_ + br.intercepts_, short.coefs_ + short.intercepts_):
        np.testing.assert_array_equal(a[j], b[j])
    late = int(np.argmax(br.n_iter_))
    assert not np.array_equal(br.coefs_[-1][late], short.coefs_[-1][late])
    # The shared network has one n_iter_ for all labels.
    mh = MultiHeadMLPClassifier(max_iter=400, **params).fit(X, Y)
    assert isinstance(mh.n_iter_, int)
    assert mh.n_iter_ == len(mh.loss_curve_)


def test_binary_relevance_constant_labels():
    X, Y = _per_label_problem()
    Y[:, 1] = 0
    Y[:, 2] = 1
    params = dict(
        hidden_layer_sizes=(6,),
        random_state=0,
        tol=1e-3,
        n_iter_no_change=3,
        learning_rate_init=0.01,
        max_iter=200,
    )
    with pytest.warns(UserWarning, match=r"\[1, 2\]") as record:
        br = BinaryRelevanceMLPClassifier(**params).fit(X, Y)
    assert any("constant" in str(w.message) for w in record)
    assert br.n_iter_[1] == 0 and br.n_iter_[2] == 0
    assert br.n_iter_[0] > 0 and br.n_iter_[3] > 0
    P = br.predict_proba(X)
    assert np.all(np.isfinite(P))
    assert np.all(P[:, 1] < 1e-6) and np.all(P[:, 2] > 1 - 1e-6)
    assert np.all(br.predict(X)[:, 1] == 0) and np.all(br.predict(X)[:, 2] == 1)
    assert np.all(np.isfinite(br.decision_function(X)))
    assert np.all(np.isfinite(br.predict_log_proba(X)))
    assert np.isfinite(br.loss_)

    mh = MultiHeadMLPClassifier(**params).fit(X, Y)
    P = mh.predict_proba(X)
    assert np.all(np.isfinite(P))
    assert np.all(P[:, 1] < 0.1) and np.all(P[:, 2] > 0.9)
    assert np.all(mh.predict(X)[:, 1] == 0) and np.all(mh.predict(X)[:, 2] == 1)


# --------------------------------------------------------------------------------
# Failure safety
# --------------------------------------------------------------------------------

# Configurations whose training loss really becomes non-finite with
# learning_rate_init=1e6 (Adam's steps are bounded by the learning rate, so a
# deep identity network on huge inputs is needed to overflow).
_DIVERGING = {
    "sgd-momentum0": (
        dict(hidden_layer_sizes=(8,), activation="identity", solver="sgd", momentum=0),
        1e10,
    ),
    "adam": (
        dict(hidden_layer_sizes=(8, 8, 8), activation="identity", solver="adam"),
        1e150,
    ),
}


@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
@pytest.mark.parametrize("config", list(_DIVERGING))
@pytest.mark.parametrize("Est", ESTIMATORS)
def test_diverging_fit_raises_and_keeps_previous_model(Est, config, how):
    X, Y = _data(n_samples=100, n_features=6, n_classes=3, seed=0)
    params, scale = _DIVERGING[config]
    if how == "warm_start":
        est = Est(random_state=0, max_iter=10, warm_start=True, **params).fit(X, Y)
        est.set_params(learning_rate_init=1e6, n_iter_no_change=50, max_iter=50)
    else:
        # partial_fit keeps its optimizer (and learning rate) between calls, as
        # MLPClassifier does: the rate is set from the start. A first call of
        # one step stays finite (its loss is measured before the step).
        est = Est(random_state=0, learning_rate_init=1e6, batch_size=len(X), **params)
        est.partial_fit(X, Y)
        assert np.isfinite(est.loss_)
    est.set_params(batch_size=10)  # several steps per epoch
    before = _snapshot(est)
    P = est.predict_proba(X)
    state = (list(est.loss_curve_), np.copy(est.n_iter_), est.t_, est.loss_)
    with pytest.raises(ValueError, match="learning rate|non-finite"):
        if how == "warm_start":
            est.fit(X * scale, Y)
        else:
            est.partial_fit(X * scale, Y)
    assert _unchanged(est, before)
    np.testing.assert_array_equal(est.predict_proba(X), P)
    assert est.loss_curve_ == state[0]
    np.testing.assert_array_equal(est.n_iter_, state[1])
    assert est.t_ == state[2] and est.loss_ == state[3]
    # The model is still usable: training on sane data goes on from there (for
    # partial_fit through a warm-started fit: partial_fit would keep the 1e6
    # learning rate of its optimizer and diverge again).
    est.set_params(learning_rate_init=1e-3, max_iter=2, warm_start=True)
    est.fit(X, Y)
    assert len(est.loss_curve_) == len(state[0]) + 2


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("warm_start", [False, True])
def test_bad_input_after_good_fit_leaves_model_unchanged(Est, warm_start):
    X, Y = _data()
    est = Est(hidden_layer_sizes=(5,), max_iter=5, random_state=0).fit(X, Y)
    est.set_params(warm_start=warm_start)
    before = _snapshot(est)
    P = est.predict_proba(X)
    attrs = {
        k: v for k, v in vars(est).items() if k.endswith("_") and not k.startswith("_")
    }
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    Y_bad = Y.copy()
    Y_bad[0, 0] = 2
    bad_calls = [
        lambda: est.fit(X_nan, Y),
        lambda: est.fit(X, Y_bad),
        lambda: est.fit(X[:-1], Y),
        lambda: est.fit(X, Y, sample_weight=-np.ones(len(X))),
        lambda: est.partial_fit(X_nan, Y),
        lambda: est.partial_fit(X, Y_bad),
        lambda: est.partial_fit(X, Y[:, :2]),
    ]
    for call in bad_calls:
        with pytest.raises((ValueError, TypeError)):
            call()
        assert _unchanged(est, before)
        np.testing.assert_array_equal(est.predict_proba(X), P)
        for k, v in attrs.items():
            now = getattr(est, k)
            if isinstance(v, np.ndarray):
                np.testing.assert_array_equal(now, v)
            else:
                assert now == v, k


# --------------------------------------------------------------------------------
# Bad inputs give clear errors
# --------------------------------------------------------------------------------


def _bad_inputs():
    X, Y = _data(n_samples=30, n_features=5, n_classes=3)
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    X_inf = X.copy()
    X_inf[0, 0] = np.inf
    Y_two = Y.copy()
    Y_two[2, 1] = 2
    Y_half = Y.astype(float)
    Y_half[0, 0] = 0.5
    return [
        ("nan-X", X_nan, Y, ValueError, "NaN"),
        ("inf-X", X_inf, Y, ValueError, "infinity"),
        ("Y-two", X, Y_two, ValueError, "only 0 and 1"),
        ("Y-half", X, Y_half, ValueError, "only 0 and 1"),
        ("Y-negative", X, -Y, ValueError, "only 0 and 1"),
        ("rows", X[:-1], Y, ValueError, "inconsistent numbers of samples"),
        ("empty-X", np.empty((0, 5)), np.empty((0, 3)), ValueError, "0 sample"),
        ("no-features", np.empty((30, 0)), Y, ValueError, "0 feature"),
        ("no-labels", X, np.empty((30, 0)), ValueError, "0 labels"),
        (
            "str-label-lists",
            X[:3],
            [["a", "b"], ["b"], ["c"]],
            ValueError,
            "MultiLabelBinarizer",
        ),
        (
            "str-label-lists-same-length",
            X[:3],
            [["a", "b"], ["b", "c"], ["c", "a"]],
            ValueError,
            "MultiLabelBinarizer",
        ),
        (
            "int-label-lists",
            X[:3],
            [[0, 2], [1], [2]],
            ValueError,
            "MultiLabelBinarizer",
        ),
        ("label-sets", X[:2], [{"a"}, {"a", "b"}], ValueError, "MultiLabelBinarizer"),
        ("3-D-Y", X, Y[:, :, None], ValueError, "1-D or 2-D"),
        ("Y-None", X, None, ValueError, "requires y"),
        ("Y-string", X, "abc", TypeError, "indicator"),
        ("continuous-y", X, np.linspace(0, 1, 30), ValueError, "continuous"),
        ("str-X", [["a"] * 5] * 30, Y, ValueError, "string"),
    ]


_BAD = _bad_inputs()


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("case", _BAD, ids=[c[0] for c in _BAD])
def test_bad_inputs_clear_errors(Est, case):
    _, X, Y, error, message = case
    with pytest.raises(error, match=message):
        Est(max_iter=2).fit(X, Y)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_bad_inputs_at_predict_and_sample_weight(Est):
    X, Y = _data(n_samples=40, n_features=5, n_classes=3)
    est = Est(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    with pytest.raises(Exception, match="not fitted"):
        est.predict(X)
    est.fit(X, Y)
    for Xp in (X[:, :4], np.c_[X, X]):
        for method in ("predict", "predict_proba", "decision_function"):
            with pytest.raises(ValueError, match="features"):
                getattr(est, method)(Xp)
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.predict(X_nan)
    with pytest.raises(ValueError, match="sample_weight|Sample weights"):
        Est(max_iter=2).fit(X, Y, sample_weight=np.ones(len(X) - 1))
    with pytest.raises(ValueError, match="[Nn]egative"):
        Est(max_iter=2).fit(X, Y, sample_weight=-np.ones(len(X)))
    with pytest.raises(ValueError, match="non-zero|positive"):
        Est(max_iter=2).fit(X, Y, sample_weight=np.zeros(len(X)))
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        Est(hidden_layer_sizes=(4, 0), max_iter=2).fit(X, Y)


def test_no_convergence_warning_from_converged_fit_and_warning_otherwise():
    X, Y = _data(n_samples=60, n_features=5, n_classes=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        MultiHeadMLPClassifier(
            hidden_layer_sizes=(4,), tol=10.0, max_iter=50, random_state=0
        ).fit(X, Y)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        MultiHeadMLPClassifier(hidden_layer_sizes=(4,), max_iter=2).fit(X, Y)
