"""Tests for skmultihead.metrics."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_multilabel_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score, cross_validate
from sklearn.neural_network import MLPClassifier

from skmultihead.metrics import (
    multilabel_log_loss,
    multilabel_log_loss_scorer,
    neg_multilabel_log_loss_scorer,
)


def _data(seed=0, n=40, n_labels=5, dtype=np.float64):
    rng = np.random.RandomState(seed)
    Y = (rng.random_sample((n, n_labels)) < 0.4).astype(float)
    P = rng.random_sample((n, n_labels)).astype(dtype)
    return Y, P


def _reference(Y, P, w=None, average="sum", eps=None):
    """Plain NumPy reference implementation, written independently."""
    Y = np.asarray(Y, dtype=float)
    P = np.asarray(P)
    eps = np.finfo(P.dtype).eps if eps is None else eps
    P = np.clip(P, eps, 1 - eps).astype(float)
    w = np.ones(len(Y)) if w is None else np.asarray(w, dtype=float)
    total, weight = 0.0, 0.0
    for i in range(len(Y)):
        terms = []
        for j in range(Y.shape[1]):
            if np.isnan(Y[i, j]):
                continue
            if Y[i, j] == 1:
                terms.append(-np.log(P[i, j]))
            else:
                terms.append(-np.log(1 - P[i, j]))
        if average == "mean":
            if not terms:
                continue
            total += w[i] * np.mean(terms)
        else:
            total += w[i] * np.sum(terms)
        weight += w[i]
    return total / weight


@pytest.mark.parametrize("average", ["sum", "mean"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_numpy_reference(average, dtype):
    Y, P = _data(dtype=dtype)
    expected = _reference(Y, P, average=average)
    got = multilabel_log_loss(Y, P, average=average)
    assert isinstance(got, float)
    assert got == pytest.approx(expected, rel=1e-12)


def test_sum_equals_sklearn_log_loss_per_column():
    Y, P = _data(1)
    w = np.random.RandomState(1).random_sample(len(Y))
    for weights in (None, w):
        expected = sum(
            log_loss(Y[:, j], P[:, j], sample_weight=weights, labels=[0, 1])
            for j in range(Y.shape[1])
        )
        got = multilabel_log_loss(Y, P, sample_weight=weights)
        assert got == pytest.approx(expected, rel=1e-12)
        mean = multilabel_log_loss(Y, P, sample_weight=weights, average="mean")
        assert mean == pytest.approx(expected / Y.shape[1], rel=1e-12)


def test_sklearn_log_loss_on_indicator_differs():
    # sklearn.metrics.log_loss accepts an indicator matrix but treats each row
    # as a categorical distribution: it sums only -y*log(p) (the positive
    # labels) and ignores -(1-y)*log(1-p). In scikit-learn 1.9 this does not
    # raise: it emits a UserWarning because the rows of Y_prob do not sum to
    # one, and returns a smaller value.
    Y, P = _data(2)
    with pytest.warns(UserWarning, match="do not sum to one"):
        sk_value = log_loss(Y, P)
    ours = multilabel_log_loss(Y, P)
    assert sk_value < ours
    positive_part = np.mean(np.sum(-Y * np.log(P), axis=1))
    negative_part = np.mean(np.sum(-(1 - Y) * np.log(1 - P), axis=1))
    assert sk_value == pytest.approx(positive_part, rel=1e-12)
    assert ours - sk_value == pytest.approx(negative_part, rel=1e-12)


def test_equals_mlp_training_objective():
    # With alpha=0 (no L2 term), MLPClassifier.loss_ (lbfgs: the objective at
    # the final weights) is exactly the 'sum' multi-label log loss.
    X, Y = make_multilabel_classification(
        n_samples=60, n_features=6, n_classes=4, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(
            hidden_layer_sizes=(5,), alpha=0.0, solver="lbfgs", max_iter=20
        )
        mlp.fit(X, Y)
    ours = multilabel_log_loss(Y, mlp.predict_proba(X))
    assert ours == pytest.approx(mlp.loss_, rel=1e-10)


@pytest.mark.parametrize("average", ["sum", "mean"])
def test_nan_entries_are_skipped(average):
    Y, P = _data(3)
    rng = np.random.RandomState(3)
    Y_nan = Y.copy()
    Y_nan[rng.random_sample(Y.shape) < 0.3] = np.nan
    expected = _reference(Y_nan, P, average=average)
    assert multilabel_log_loss(Y_nan, P, average=average) == pytest.approx(
        expected, rel=1e-12
    )
    # The predictions at missing entries do not matter.
    P2 = np.where(np.isnan(Y_nan), 1 - P, P)
    assert multilabel_log_loss(Y_nan, P2, average=average) == pytest.approx(
        multilabel_log_loss(Y_nan, P, average=average), rel=1e-12
    )
    # Sparse input with explicitly stored NaN entries.
    assert multilabel_log_loss(
        sp.csr_matrix(Y_nan), P, average=average
    ) == pytest.approx(expected, rel=1e-12)


def test_samples_with_all_labels_missing():
    Y, P = _data(4, n=10)
    Y_nan = Y.copy()
    Y_nan[0] = np.nan
    rest = multilabel_log_loss(Y[1:], P[1:], average="mean")
    # 'mean': the sample is skipped.
    assert multilabel_log_loss(Y_nan, P, average="mean") == pytest.approx(rest)
    # 'sum': the sample contributes 0 but counts in the mean over samples.
    rest_sum = multilabel_log_loss(Y[1:], P[1:])
    assert multilabel_log_loss(Y_nan, P) == pytest.approx(rest_sum * 9 / 10)
    with pytest.raises(ValueError, match="no observed"):
        multilabel_log_loss(np.full((3, 2), np.nan), P[:3, :2])


@pytest.mark.parametrize("average", ["sum", "mean"])
def test_sample_weight(average):
    Y, P = _data(5, n=12)
    w = np.arange(12) % 3  # includes zero weights
    expected = _reference(Y, P, w=w, average=average)
    got = multilabel_log_loss(Y, P, sample_weight=w, average=average)
    assert got == pytest.approx(expected, rel=1e-12)
    # Integer weights are equivalent to repeating samples.
    repeated = multilabel_log_loss(
        np.repeat(Y, w, axis=0), np.repeat(P, w, axis=0), average=average
    )
    assert got == pytest.approx(repeated, rel=1e-12)
    # Uniform weights change nothing.
    assert multilabel_log_loss(
        Y, P, sample_weight=np.full(12, 2.5), average=average
    ) == pytest.approx(multilabel_log_loss(Y, P, average=average), rel=1e-12)


def test_mean_vs_sum():
    Y, P = _data(6, n_labels=7)
    assert multilabel_log_loss(Y, P, average="mean") == pytest.approx(
        multilabel_log_loss(Y, P, average="sum") / 7, rel=1e-12
    )


def test_1d_binary_target():
    rng = np.random.RandomState(7)
    y = (rng.random_sample(30) < 0.5).astype(int)
    p = rng.random_sample(30)
    expected = log_loss(y, p)
    assert multilabel_log_loss(y, p) == pytest.approx(expected, rel=1e-12)
    p2 = np.column_stack([1 - p, p])
    assert multilabel_log_loss(y, p2) == pytest.approx(expected, rel=1e-12)
    assert multilabel_log_loss(y.astype(bool), p) == pytest.approx(expected)


def test_sparse_and_list_inputs():
    Y, P = _data(8)
    expected = multilabel_log_loss(Y, P)
    for container in (sp.csr_matrix, sp.csc_array):
        assert multilabel_log_loss(container(Y), P) == pytest.approx(expected)
    # predict_proba format of multi-output estimators (e.g. random forests).
    P_list = [np.column_stack([1 - P[:, j], P[:, j]]) for j in range(P.shape[1])]
    assert multilabel_log_loss(Y, P_list) == pytest.approx(expected)
    assert multilabel_log_loss(Y.tolist(), P.tolist()) == pytest.approx(expected)


def test_clipping():
    Y = np.array([[1, 0], [0, 1]])
    P = np.array([[0.0, 1.0], [1.0, 0.0]])  # confidently wrong
    eps = np.finfo(np.float64).eps
    expected = -np.log(eps) - np.log1p(-(1 - eps))
    assert multilabel_log_loss(Y, P) == pytest.approx(expected)
    assert np.isfinite(multilabel_log_loss(Y, P.astype(np.float32)))
    assert multilabel_log_loss(Y, P, eps=1e-3) == pytest.approx(-2 * np.log(1e-3))
    assert multilabel_log_loss(Y, 1 - P) == pytest.approx(2 * eps, abs=1e-12)
    # float32 probabilities are clipped at float32's eps, like sklearn's.
    P32 = P.astype(np.float32)
    assert multilabel_log_loss(Y, P32) == pytest.approx(_reference(Y, P32), rel=1e-6)


@pytest.mark.parametrize(
    "Y_true, Y_prob, kwargs, match",
    [
        ([[1, 2]], [[0.5, 0.5]], {}, r"only 0, 1 or NaN.*\[2\.0\]"),
        ([[1, 0.5]], [[0.5, 0.5]], {}, "only 0, 1 or NaN"),
        ([[1, np.inf]], [[0.5, 0.5]], {}, "only 0, 1 or NaN"),
        ([[1, 0]], [[0.5, 1.5]], {}, "greater than 1"),
        ([[1, 0]], [[-0.1, 0.5]], {}, "lower than 0"),
        ([[1, 0]], [[np.nan, 0.5]], {}, "NaN or infinite"),
        ([[1, 0]], [[0.5, 0.5, 0.5]], {}, r"\(1, 2\).*\(1, 3\)"),
        ([[1, 0], [0, 1]], [0.5, 0.5], {}, r"\(2, 2\).*\(2,\).*exactly 2 labels"),
        ([1, 0, 1], [[0.2, 0.3, 0.5]] * 3, {}, r"\(3,\).*\(3, 3\)"),
        (np.zeros((2, 2, 2)), np.zeros((2, 2, 2)), {}, "1-D or 2-D"),
        (np.zeros((0, 2)), np.zeros((0, 2)), {}, "no sample"),
        ([[1, 0]], [[0.5, 0.5]], {"average": "macro"}, "average must be"),
        ([[1, 0]], [[0.5, 0.5]], {"eps": 0.7}, "eps must be"),
        ([[1, 0]], [[0.5, 0.5]], {"eps": "tiny"}, "eps must be"),
        ([[1, 0]], [[0.5, 0.5]], {"sample_weight": [1, 2]}, "sample_weight has"),
        ([[1, 0]], [[0.5, 0.5]], {"sample_weight": [-1]}, "non-negative"),
        ([[1, 0]], [[0.5, 0.5]], {"sample_weight": [0]}, "sum to zero"),
        ([["a", "b"]], [[0.5, 0.5]], {}, "Y_true must be a numeric"),
    ],
)
def test_validation(Y_true, Y_prob, kwargs, match):
    with pytest.raises(ValueError, match=match):
        multilabel_log_loss(Y_true, Y_prob, **kwargs)


# --------------------------------------------------------------------------
# Scorer
# --------------------------------------------------------------------------


def test_scorer_alias_and_repr():
    assert multilabel_log_loss_scorer is neg_multilabel_log_loss_scorer
    assert "greater_is_better=False" in repr(neg_multilabel_log_loss_scorer)
    assert "predict_proba" in repr(neg_multilabel_log_loss_scorer)


@pytest.fixture(scope="module")
def multilabel_data():
    X, Y = make_multilabel_classification(
        n_samples=120, n_features=8, n_classes=5, random_state=0
    )
    return X, Y


def _mlp():
    return MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_scorer_in_cross_val_score(multilabel_data):
    X, Y = multilabel_data
    cv = KFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(
        _mlp(), X, Y, cv=cv, scoring=neg_multilabel_log_loss_scorer
    )
    assert scores.shape == (3,)
    assert np.all(scores < 0)
    # Same values as computing the loss by hand on each fold.
    result = cross_validate(
        _mlp(),
        X,
        Y,
        cv=cv,
        scoring=neg_multilabel_log_loss_scorer,
        return_estimator=True,
        return_indices=True,
    )
    np.testing.assert_allclose(result["test_score"], scores, rtol=1e-12)
    for est, test, score in zip(
        result["estimator"], result["indices"]["test"], result["test_score"]
    ):
        by_hand = multilabel_log_loss(Y[test], est.predict_proba(X[test]))
        assert score == pytest.approx(-by_hand, rel=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_scorer_in_grid_search(multilabel_data):
    X, Y = multilabel_data
    search = GridSearchCV(
        _mlp(),
        {"alpha": [1e-4, 1.0]},
        cv=3,
        scoring=neg_multilabel_log_loss_scorer,
    ).fit(X, Y)
    assert np.all(search.cv_results_["mean_test_score"] < 0)
    best = search.best_estimator_
    assert -search.score(X, Y) == pytest.approx(
        multilabel_log_loss(Y, best.predict_proba(X))
    )


def test_scorer_with_list_predict_proba(multilabel_data):
    # RandomForestClassifier returns one (n_samples, 2) array per label.
    X, Y = multilabel_data
    forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, Y)
    score = neg_multilabel_log_loss_scorer(forest, X, Y)
    expected = multilabel_log_loss(Y, forest.predict_proba(X))
    assert score == pytest.approx(-expected)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_scorer_two_labels_limitation():
    # scikit-learn's scorers keep only column 1 of predict_proba when
    # estimator.classes_ is binary-looking, which MLPClassifier's classes_
    # ([0, 1]) is for a 2-label problem: the metric then explains the error.
    X, Y = make_multilabel_classification(
        n_samples=40, n_features=4, n_classes=2, random_state=0
    )
    mlp = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    mlp.fit(X, Y)
    with pytest.raises(ValueError, match="exactly 2 labels"):
        neg_multilabel_log_loss_scorer(mlp, X, Y)
