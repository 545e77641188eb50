"""Multi-label features of both estimators, as documented in their parameters.

pos_weight (None / 'balanced' / array, 'balanced' computed per fit), threshold
(float / array / 'f1', min_labels), missing labels (NaN in Y, with a
finite-difference check of the masked gradient), sample_weight, early stopping
(stratified validation split, curves, best weights, scoring, X_val/Y_val), and
the multi-label log-loss scorer in a grid search.
"""

import functools
import warnings
from math import ceil
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_multilabel_classification
from sklearn.metrics import f1_score, recall_score
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    cross_val_score,
    cross_validate,
)

import skmultihead.model_selection as ms
from skmultihead import BinaryRelevanceMLPClassifier, MultiHeadMLPClassifier

pytestmark = [
    pytest.mark.usefixtures("sklearn_parity_defaults"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

ESTIMATORS = [MultiHeadMLPClassifier, BinaryRelevanceMLPClassifier]

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@functools.cache
def _cached_data(n_samples, n_features, n_classes, seed):
    X, Y = make_multilabel_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_classes=n_classes,
        random_state=seed,
    )
    return X / X.max(), Y.astype(float)


def _data(n_samples=120, n_features=8, n_classes=4, seed=0):
    X, Y = _cached_data(n_samples, n_features, n_classes, seed)
    return X.copy(), Y.copy()


def _rare_label_problem(n, seed):
    """Label 0 is rare (about 3 %) but learnable; labels 1-2 are balanced."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 6)
    Y = np.c_[X[:, 0] + 0.5 * X[:, 1] > 1.8, X[:, 2] > 0, X[:, 3] + X[:, 4] > 0].astype(
        float
    )
    return X, Y


def _bce(Z, Y):
    """Validation loss as documented: BCE summed over labels, mean over rows."""
    loss = np.logaddexp(0.0, Z) - Z * Y
    return float(loss.mean(axis=0).sum())


# --------------------------------------------------------------------------------
# yeast (shared dataset), parsed with numpy: dense numeric ARFF, 14 labels last
# --------------------------------------------------------------------------------


@functools.cache
def _load_yeast_split(name):
    lines = (SHARED / name).read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().lower() == "@data")
    rows = [
        line.split(",")
        for line in lines[start + 1 :]
        if line.strip() and not line.startswith("%")
    ]
    data = np.array(rows, dtype=float)
    return data[:, :-14], data[:, -14:]


@pytest.fixture(scope="module")
def yeast():
    if not (SHARED / "yeast-train.arff").exists():
        pytest.skip(f"shared dataset folder {SHARED} (yeast) not available")
    X_train, Y_train = _load_yeast_split("yeast-train.arff")
    X_test, Y_test = _load_yeast_split("yeast-test.arff")
    assert X_train.shape == (1500, 103) and Y_train.shape == (1500, 14)
    assert X_test.shape == (917, 103)
    return X_train, Y_train, X_test, Y_test


_YEAST_PARAMS = dict(
    hidden_layer_sizes=(64,), max_iter=100, learning_rate_init=0.003, random_state=0
)


@pytest.fixture(scope="module")
def yeast_full_model(sklearn_parity_defaults, yeast):
    X_train, Y_train, _, _ = yeast
    return MultiHeadMLPClassifier(**_YEAST_PARAMS).fit(X_train, Y_train)


# --------------------------------------------------------------------------------
# pos_weight
# --------------------------------------------------------------------------------


def _balanced(Y, sample_weight=None):
    w = np.ones(len(Y)) if sample_weight is None else sample_weight
    observed = ~np.isnan(Y)
    pos = w @ np.where(observed, Y, 0)
    neg = w @ np.where(observed, 1 - Y, 0)
    return neg / pos


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_pos_weight_values(Est):
    X, Y = _data()
    params = dict(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    est = Est(**params).fit(X, Y)
    np.testing.assert_array_equal(est.pos_weight_, np.ones(Y.shape[1]))

    est = Est(pos_weight="balanced", **params).fit(X, Y)
    assert est.pos_weight_.shape == (Y.shape[1],)
    np.testing.assert_allclose(est.pos_weight_, _balanced(Y), rtol=1e-12)

    # Weighted counts of the observed entries only.
    sw = np.random.RandomState(0).uniform(0.5, 2.0, len(X))
    Y_nan = Y.copy()
    Y_nan[::4, 1] = np.nan
    est = Est(pos_weight="balanced", **params).fit(X, Y_nan, sample_weight=sw)
    np.testing.assert_allclose(est.pos_weight_, _balanced(Y_nan, sw), rtol=1e-12)

    # Capped at 100 for a label with very few positives.
    Y_rare = Y.copy()
    Y_rare[:, 0] = 0
    Y_rare[0, 0] = 1
    est = Est(pos_weight="balanced", **params).fit(X, Y_rare)
    assert est.pos_weight_[0] == 100.0

    weights = np.array([1.0, 2.5, 0.5, 4.0])
    est = Est(pos_weight=weights, **params).fit(X, Y)
    np.testing.assert_array_equal(est.pos_weight_, weights)
    est = Est(pos_weight=list(weights), **params).fit(X, Y)
    np.testing.assert_array_equal(est.pos_weight_, weights)


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize(
    "bad", [[1.0, 2.0], [1, 1, 1, 1, 1], [1, -1, 1, 1], [1, np.nan, 1, 1]]
)
def test_pos_weight_bad_array(Est, bad):
    X, Y = _data()
    with pytest.raises(ValueError, match="pos_weight"):
        Est(pos_weight=bad, max_iter=2).fit(X, Y)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_pos_weight_balanced_is_computed_per_fold(Est):
    X, Y = _data(n_samples=150)
    est = Est(pos_weight="balanced", hidden_layer_sizes=(4,), max_iter=3)
    est.set_params(random_state=0)
    folds = list(KFold(3, shuffle=True, random_state=0).split(X))

    result = cross_validate(est, X, Y, cv=folds, return_estimator=True)
    per_fold = [fitted.pos_weight_ for fitted in result["estimator"]]
    for weights, (train, _) in zip(per_fold, folds):
        np.testing.assert_allclose(weights, _balanced(Y[train]), rtol=1e-12)
    assert not np.allclose(per_fold[0], per_fold[1])
    assert not np.allclose(per_fold[0], _balanced(Y))

    # Same through cross_val_score, recorded by a scorer.
    seen = []

    def recording_scorer(fitted, X_test, Y_test):
        seen.append(fitted.pos_weight_.copy())
        return f1_score(Y_test, fitted.predict(X_test), average="micro")

    cross_val_score(est, X, Y, cv=folds, scoring=recording_scorer)
    assert len(seen) == 3
    for weights, (train, _) in zip(seen, folds):
        np.testing.assert_allclose(weights, _balanced(Y[train]), rtol=1e-12)


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("pos_weight", ["balanced", [10.0, 1.0, 1.0]])
def test_pos_weight_raises_recall_of_rare_label(Est, pos_weight):
    X, Y = _rare_label_problem(400, seed=0)
    X_test, Y_test = _rare_label_problem(2000, seed=1)
    assert Y[:, 0].mean() < 0.05
    params = dict(
        hidden_layer_sizes=(8,), max_iter=60, learning_rate_init=0.01, random_state=0
    )
    plain = Est(**params).fit(X, Y)
    weighted = Est(pos_weight=pos_weight, **params).fit(X, Y)
    recall_plain = recall_score(Y_test[:, 0], plain.predict(X_test)[:, 0])
    recall_weighted = recall_score(Y_test[:, 0], weighted.predict(X_test)[:, 0])
    assert recall_weighted > recall_plain + 0.3
    assert recall_weighted > 0.7


# --------------------------------------------------------------------------------
# threshold and min_labels
# --------------------------------------------------------------------------------


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_fixed_thresholds(Est):
    X, Y = _data()
    params = dict(hidden_layer_sizes=(6,), max_iter=30, random_state=0)
    params["learning_rate_init"] = 0.01
    default = Est(**params).fit(X, Y)
    np.testing.assert_array_equal(default.threshold_, np.full(4, 0.5))
    P = default.predict_proba(X)
    np.testing.assert_array_equal(default.predict(X), (P > 0.5).astype(int))

    est = Est(threshold=0.3, **params).fit(X, Y)
    assert est.threshold_.shape == (4,)
    np.testing.assert_array_equal(est.threshold_, np.full(4, 0.3))
    np.testing.assert_array_equal(est.predict(X), (P > 0.3).astype(int))

    thresholds = [0.1, 0.5, 0.7, 0.95]
    est = Est(threshold=thresholds, **params).fit(X, Y)
    np.testing.assert_array_equal(est.threshold_, thresholds)
    np.testing.assert_array_equal(est.predict(X), (P > thresholds).astype(int))
    # The thresholds change predictions, not probabilities.
    np.testing.assert_array_equal(est.predict_proba(X), P)

    for bad in ([0.5, 0.5], [0.1, 0.2, 0.3, 1.5]):
        with pytest.raises(ValueError, match="threshold"):
            Est(threshold=bad, **params).fit(X, Y)


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_threshold_as_numpy_array(Est, method):
    # 'array-like of shape (n_labels,)' includes an ndarray (the natural thing
    # to pass, e.g. thresholds tuned elsewhere).
    X, Y = _data()
    thresholds = np.array([0.1, 0.5, 0.7, 0.95])
    est = Est(threshold=thresholds, hidden_layer_sizes=(6,), max_iter=5)
    getattr(est.set_params(random_state=0), method)(X, Y)
    np.testing.assert_array_equal(est.threshold_, thresholds)
    P = est.predict_proba(X)
    np.testing.assert_array_equal(est.predict(X), (P > thresholds).astype(int))
    # Also inside a grid over thresholds.
    grid = GridSearchCV(
        Est(hidden_layer_sizes=(6,), max_iter=5, random_state=0),
        {"threshold": [np.full(4, 0.3), np.full(4, 0.6)]},
        cv=2,
        scoring="f1_micro",
        error_score="raise",
    ).fit(X, Y)
    assert grid.best_estimator_.threshold_.shape == (4,)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_min_labels_gives_every_row_a_label(Est):
    X, Y = _data()
    params = dict(hidden_layer_sizes=(6,), max_iter=10, random_state=0)
    # A high threshold leaves many rows without any label.
    plain = Est(threshold=0.9, **params).fit(X, Y)
    assert (plain.predict(X).sum(axis=1) == 0).sum() > 10
    est = Est(threshold=0.9, min_labels=1, **params).fit(X, Y)
    pred = est.predict(X)
    assert np.all(pred.sum(axis=1) >= 1)
    P = est.predict_proba(X)
    empty = plain.predict(X).sum(axis=1) == 0
    # Rows that would be empty get exactly their most probable label...
    np.testing.assert_array_equal(
        pred[empty], np.eye(Y.shape[1], dtype=int)[P[empty].argmax(axis=1)]
    )
    # ... and the other rows are untouched.
    np.testing.assert_array_equal(pred[~empty], plain.predict(X)[~empty])


def _best_f1_on(P, Y):
    """Best achievable F1 of ``P > t`` over all cut points, per label."""
    best = []
    for j in range(Y.shape[1]):
        cuts = np.concatenate([[-1.0], np.unique(P[:, j])])
        best.append(
            max(f1_score(Y[:, j], P[:, j] > t, zero_division=0.0) for t in cuts)
        )
    return np.array(best)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_threshold_f1_tuned_on_validation_data(Est):
    X, Y = _data(n_samples=150)
    X_val, Y_val = X[110:], Y[110:]
    X_fit, Y_fit = X[:110], Y[:110]
    params = dict(hidden_layer_sizes=(6,), max_iter=20, random_state=0)
    params["learning_rate_init"] = 0.01
    est = Est(threshold="f1", **params).fit(X_fit, Y_fit, X_val=X_val, Y_val=Y_val)
    assert est.threshold_.shape == (4,)
    assert np.all((est.threshold_ >= 0) & (est.threshold_ <= 1))
    assert not np.allclose(est.threshold_, 0.5)
    # All rows were trained on (no internal split when X_val is given).
    assert est.t_ == int(np.max(est.n_iter_)) * len(X_fit)
    P_val = est.predict_proba(X_val)
    pred = est.predict(X_val)
    np.testing.assert_array_equal(pred, (P_val > est.threshold_).astype(int))
    # The thresholds are F1-optimal on the validation set, label by label.
    achieved = [f1_score(Y_val[:, j], pred[:, j], zero_division=0.0) for j in range(4)]
    np.testing.assert_allclose(achieved, _best_f1_on(P_val, Y_val), atol=1e-12)

    # Without X_val a stratified validation part is held out (not trained on).
    est = Est(threshold="f1", **params).fit(X_fit, Y_fit)
    n_val = ceil(0.1 * len(X_fit))
    assert est.t_ == int(np.max(est.n_iter_)) * (len(X_fit) - n_val)
    assert est.threshold_.shape == (4,)


def test_threshold_f1_improves_macro_f1_on_yeast(yeast, yeast_full_model):
    X_train, Y_train, X_test, Y_test = yeast
    tuned = MultiHeadMLPClassifier(threshold="f1", **_YEAST_PARAMS)
    tuned.fit(X_train, Y_train)
    assert tuned.threshold_.shape == (14,)
    macro_default = f1_score(Y_test, yeast_full_model.predict(X_test), average="macro")
    macro_tuned = f1_score(Y_test, tuned.predict(X_test), average="macro")
    # measured: 0.42 -> 0.47
    assert macro_tuned > macro_default + 0.02


# --------------------------------------------------------------------------------
# Missing labels (NaN in Y)
# --------------------------------------------------------------------------------


def test_missing_labels_on_yeast_nearly_match_full_labels(yeast, yeast_full_model):
    X_train, Y_train, X_test, Y_test = yeast
    rng = np.random.RandomState(0)
    Y_missing = Y_train.copy()
    Y_missing[rng.rand(*Y_train.shape) < 0.3] = np.nan
    est = MultiHeadMLPClassifier(**_YEAST_PARAMS).fit(X_train, Y_missing)
    micro_full = f1_score(Y_test, yeast_full_model.predict(X_test), average="micro")
    micro_missing = f1_score(Y_test, est.predict(X_test), average="micro")
    # measured: 0.623 (full) vs 0.624 (30 % hidden)
    assert micro_missing > micro_full - 0.03


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_label_entirely_missing(Est):
    X, Y = _data()
    Y[:, 2] = np.nan
    Y[::3, 0] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # BR names the label
        est = Est(hidden_layer_sizes=(6,), max_iter=10, random_state=0).fit(X, Y)
    P = est.predict_proba(X)
    assert P.shape == (len(X), 4)
    assert np.all(np.isfinite(P))
    assert np.all(np.isfinite(est.loss_curve_))
    assert est.predict(X).shape == (len(X), 4)
    assert np.all(np.isfinite(est.decision_function(X)))
    # The same with early stopping, threshold='f1' and 'balanced' weights.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        est = Est(
            hidden_layer_sizes=(6,),
            max_iter=10,
            random_state=0,
            early_stopping=True,
            threshold="f1",
            pos_weight="balanced",
        ).fit(X, Y)
    assert np.all(np.isfinite(est.predict_proba(X)))
    assert np.all(np.isfinite(est.validation_loss_curve_))
    # No observed value: the label gets the threshold pooled over all labels.
    assert 0.0 < est.threshold_[2] < 1.0
    assert est.pos_weight_[2] == 1.0


def test_f1_thresholds_per_label_and_pooled():
    from skmultihead._base import MIN_POSITIVES_TO_TUNE, _best_f1_thresholds, _f1_cut

    rng = np.random.RandomState(0)
    n = 200
    Y = np.zeros((n, 3))
    Y[:80, 0] = 1  # frequent: tuned on its own
    Y[:2, 1] = 1  # two positives: too few, gets the pooled threshold
    Y[:, 2] = np.nan  # never observed: pooled threshold
    P = np.clip(0.3 * Y + rng.uniform(0, 0.6, (n, 3)), 0, 1)
    P[np.isnan(P)] = rng.uniform(0, 1, np.isnan(P).sum())
    t = _best_f1_thresholds(P, Y)
    assert t[0] == _f1_cut(P[:, 0], Y[:, 0])
    observed = ~np.isnan(Y)
    pooled = _f1_cut(P[observed], Y[observed])
    assert t[1] == pooled and t[2] == pooled
    assert Y[:, 1].sum() < MIN_POSITIVES_TO_TUNE
    # The per-label cut maximises that label's F1 among all cuts.
    f1 = [f1_score(Y[:, 0], P[:, 0] > c) for c in np.unique(P[:, 0])]
    assert f1_score(Y[:, 0], P[:, 0] > t[0]) == pytest.approx(max(f1))


def _masked_loss(est, X, Y, sample_weight, pos_weight, alpha):
    """The documented objective, from the model's own logits."""
    Z = est.decision_function(X)
    observed = ~np.isnan(Y)
    Y0 = np.where(observed, Y, 0.0)
    per_entry = pos_weight * Y0 * np.logaddexp(0.0, -Z) + (1 - Y0) * np.logaddexp(
        0.0, Z
    )
    per_entry = np.where(observed, per_entry, 0.0)
    total_w = sample_weight.sum()
    l2 = 0.5 * alpha * sum(float((c**2).sum()) for c in est.coefs_)
    return (sample_weight @ per_entry.sum(axis=1) + l2) / total_w


def _params_flat(est):
    return np.concatenate([np.ravel(a) for a in est.coefs_ + est.intercepts_])


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("hidden", [(3,), (3, 2)])
def test_masked_gradient_equals_finite_differences(Est, hidden):
    rng = np.random.RandomState(0)
    n, n_labels = 40, 3
    X = rng.randn(n, 4)
    Y = (rng.rand(n, n_labels) < 0.5).astype(float)
    Y[rng.rand(n, n_labels) < 0.3] = np.nan
    for j in range(n_labels):  # keep both classes observed in every label
        Y[j, j], Y[n - 1 - j, j] = 0.0, 1.0
    sw = rng.uniform(0.5, 2.0, n)
    pos_weight = np.array([1.0, 3.0, 0.5])
    alpha = 0.1
    est = Est(
        hidden_layer_sizes=hidden,
        activation="tanh",
        solver="sgd",
        momentum=0.0,
        learning_rate_init=0.5,
        batch_size=n,
        shuffle=False,
        max_iter=1,
        alpha=alpha,
        pos_weight=pos_weight,
        n_threads=1,
        random_state=0,
    ).fit(X, Y, sample_weight=sw)
    # Start from test-drawn weights (large enough to be away from linearity).
    est.coefs_ = [rng.uniform(-1, 1, c.shape) for c in est.coefs_]
    est.intercepts_ = [rng.uniform(-1, 1, b.shape) for b in est.intercepts_]
    start = _params_flat(est)

    # Finite differences of the masked loss, through the model's own logits.
    h = 1e-6
    numeric = []
    for view in est.coefs_ + est.intercepts_:
        for idx in np.ndindex(view.shape):
            original = view[idx]
            view[idx] = original + h
            plus = _masked_loss(est, X, Y, sw, pos_weight, alpha)
            view[idx] = original - h
            minus = _masked_loss(est, X, Y, sw, pos_weight, alpha)
            view[idx] = original
            numeric.append((plus - minus) / (2 * h))
    numeric = np.array(numeric)
    np.testing.assert_array_equal(_params_flat(est), start)

    # One full-batch SGD step without momentum: params -= lr * gradient.
    lr = est.learning_rate_init
    est.set_params(warm_start=True).fit(X, Y, sample_weight=sw)
    analytic = (start - _params_flat(est)) / lr
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)
    # The reported loss of that epoch is the masked loss at the start point.
    est.coefs_, est.intercepts_ = _unflatten(start, est)
    assert est.loss_curve_[-1] == pytest.approx(
        _masked_loss(est, X, Y, sw, pos_weight, alpha), rel=1e-10
    )


def _unflatten(flat, est):
    coefs, intercepts, pos = [], [], 0
    for target, arrays in ((coefs, est.coefs_), (intercepts, est.intercepts_)):
        for a in arrays:
            target.append(flat[pos : pos + a.size].reshape(a.shape))
            pos += a.size
    return coefs, intercepts


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_nan_entries_are_ignored_not_zeros(Est):
    # Single label: making entries missing is the same as giving those rows
    # zero weight, except that the missing rows still count in the batch mean
    # (the loss is averaged over all rows), which SGD's rate compensates.
    X, Y = _data()
    y = Y[:, [0]]
    missing = np.zeros(len(X), dtype=bool)
    missing[::3] = True
    y_nan = y.copy()
    y_nan[missing] = np.nan
    n, n_kept = len(X), int((~missing).sum())
    params = dict(
        hidden_layer_sizes=(5,),
        solver="sgd",
        max_iter=5,
        random_state=0,
        shuffle=False,
        tol=0.0,
        batch_size=n,
    )
    a = Est(learning_rate_init=0.1 * n / n_kept, **params).fit(X, y_nan)
    b = Est(learning_rate_init=0.1, **params).fit(
        X, y, sample_weight=(~missing).astype(float)
    )
    for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(u, v, rtol=0, atol=1e-12)
    # ... and differs from treating the entries as 0.
    y_zero = np.where(missing[:, None], 0.0, y)
    c = Est(learning_rate_init=0.1 * n / n_kept, **params).fit(X, y_zero)
    assert not np.allclose(a.predict_proba(X), c.predict_proba(X))


# --------------------------------------------------------------------------------
# sample_weight
# --------------------------------------------------------------------------------


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_integer_weights_equal_duplicated_rows(Est, solver):
    X, Y = _data(n_samples=60, n_features=5, n_classes=3)
    w = np.random.RandomState(0).randint(0, 4, len(X))
    X_dup, Y_dup = np.repeat(X, w, axis=0), np.repeat(Y, w, axis=0)
    assert w.sum() <= 200  # batch_size='auto' is one batch for both
    params = dict(
        hidden_layer_sizes=(4,),
        solver=solver,
        random_state=0,
        tol=0.0,
        shuffle=False,
        max_iter=5,
        learning_rate_init=0.01,
    )
    weighted = Est(**params).fit(X, Y, sample_weight=w)
    duplicated = Est(**params).fit(X_dup, Y_dup)
    for u, v in zip(
        weighted.coefs_ + weighted.intercepts_,
        duplicated.coefs_ + duplicated.intercepts_,
    ):
        np.testing.assert_allclose(u, v, rtol=0, atol=1e-12)
    np.testing.assert_allclose(weighted.loss_curve_, duplicated.loss_curve_, rtol=1e-12)
    # Zero weights equal dropping the rows.
    kept = w > 0
    dropped = Est(**params).fit(X[kept], Y[kept], sample_weight=w[kept])
    for u, v in zip(
        weighted.coefs_ + weighted.intercepts_, dropped.coefs_ + dropped.intercepts_
    ):
        np.testing.assert_allclose(u, v, rtol=0, atol=1e-12)
    np.testing.assert_allclose(weighted.loss_curve_, dropped.loss_curve_, rtol=1e-12)

    # The same in partial_fit.
    a, b, c = Est(**params), Est(**params), Est(**params)
    for _ in range(3):
        a.partial_fit(X, Y, sample_weight=w)
        b.partial_fit(X_dup, Y_dup)
        c.partial_fit(X[kept], Y[kept], sample_weight=w[kept])
    for other in (b, c):
        for u, v in zip(a.coefs_ + a.intercepts_, other.coefs_ + other.intercepts_):
            np.testing.assert_allclose(u, v, rtol=0, atol=1e-12)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_sample_weight_scale_invariance_and_effect(Est):
    X, Y = _data(n_samples=60, n_features=5, n_classes=3)
    params = dict(hidden_layer_sizes=(4,), random_state=0, max_iter=5, tol=0.0)
    w = np.random.RandomState(1).uniform(0.1, 3.0, len(X))
    a = Est(alpha=0.0, **params).fit(X, Y, sample_weight=w)
    b = Est(alpha=0.0, **params).fit(X, Y, sample_weight=7.0 * w)
    # Without L2 (whose documented scale is alpha / sum(w)), weights only
    # matter relative to each other: the data term is a weighted batch mean.
    for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(u, v, rtol=1e-9, atol=1e-12)
    ones = Est(alpha=0.0, **params).fit(X, Y, sample_weight=np.ones(len(X)))
    plain = Est(alpha=0.0, **params).fit(X, Y)
    np.testing.assert_array_equal(ones.predict_proba(X), plain.predict_proba(X))
    assert not np.allclose(a.predict_proba(X), plain.predict_proba(X))


# --------------------------------------------------------------------------------
# Early stopping
# --------------------------------------------------------------------------------


@pytest.fixture
def split_spy(monkeypatch):
    """Record the validation splits the estimators make."""
    calls = []
    original = ms.iterative_train_test_split

    def spy(*args, **kwargs):
        result = original(*args, **kwargs)
        calls.append(result)
        return result

    monkeypatch.setattr(ms, "iterative_train_test_split", spy)
    return calls


def _rare_labels_matrix(n=150, seed=0):
    """3 rare labels (2, 3 and 5 positives) on separate rows + 2 common ones."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 6)
    Y = np.zeros((n, 5))
    rows = rng.permutation(n)
    Y[rows[:2], 0] = 1
    Y[rows[2:5], 1] = 1
    Y[rows[5:10], 2] = 1
    Y[:, 3] = X[:, 0] > 0
    Y[:, 4] = X[:, 1] + X[:, 2] > 0.5
    return X, Y


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_early_stopping_split_curves_and_best_weights(Est, split_spy):
    X, Y = _rare_labels_matrix()
    est = Est(
        hidden_layer_sizes=(6,),
        early_stopping=True,
        validation_fraction=0.1,
        learning_rate_init=0.02,
        n_iter_no_change=5,
        max_iter=150,
        random_state=0,
    ).fit(X, Y)
    assert len(split_spy) == 1
    train, val = split_spy[0]
    assert len(val) == ceil(0.1 * len(X))
    np.testing.assert_array_equal(np.sort(np.r_[train, val]), np.arange(len(X)))
    # Multilabel-stratified: every label with >= 2 positives is in both parts.
    for j in range(Y.shape[1]):
        if Y[:, j].sum() >= 2:
            assert Y[val, j].sum() >= 1, j
            assert Y[train, j].sum() >= 1, j
    # Only the training part is trained on.
    n_epochs = int(np.max(est.n_iter_))
    assert est.t_ == n_epochs * len(train)
    assert n_epochs < 150  # it did stop early
    # One entry per epoch.
    assert len(est.validation_loss_curve_) == n_epochs
    assert len(est.validation_scores_) == n_epochs
    assert len(est.loss_curve_) == n_epochs
    assert est.best_loss_ is None
    # scoring=None monitors minus the validation BCE.
    np.testing.assert_allclose(
        est.validation_scores_, -np.array(est.validation_loss_curve_), rtol=1e-12
    )
    assert est.best_validation_score_ == max(est.validation_scores_)
    # Best weights restored: the final model's validation loss is the minimum
    # of the curve (binary relevance too: with early stopping its labels are
    # monitored together on the summed validation loss).
    final = _bce(est.decision_function(X[val]), Y[val])
    assert final == pytest.approx(min(est.validation_loss_curve_), rel=1e-9)
    assert final <= est.validation_loss_curve_[-1]
    if Est is MultiHeadMLPClassifier:
        assert isinstance(est.n_iter_, int)
    else:
        assert est.n_iter_.shape == (Y.shape[1],)
        np.testing.assert_array_equal(est.n_iter_, n_epochs)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_early_stopping_with_zero_weight_validation_rows(Est, split_spy):
    # sample_weight=0 is the documented way to drop rows. If the stratified
    # validation part happens to hold only such rows, its weighted loss is
    # 0/0: the fit must not silently return its random initial weights.
    X, Y = _data(n_samples=100)
    params = dict(
        hidden_layer_sizes=(8,),
        early_stopping=True,
        max_iter=100,
        random_state=0,
        learning_rate_init=0.01,
        n_iter_no_change=5,
    )
    Est(**params).fit(X, Y)
    _, val = split_spy[-1]
    w = np.ones(len(X))
    w[val] = 0.0
    est = Est(**params)
    try:
        est.fit(X, Y, sample_weight=w)
    except ValueError as exc:  # a clear refusal is fine too
        assert "weight" in str(exc)
        return
    np.testing.assert_array_equal(split_spy[-1][1], val)  # same split
    assert np.all(np.isfinite(est.validation_loss_curve_))
    initial = Est(**{**params, "early_stopping": False, "max_iter": 1})
    initial.set_params(learning_rate_init=1e-300).fit(X, Y)
    assert not np.allclose(est.coefs_[0], initial.coefs_[0])


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_early_stopping_with_f1_micro_scoring(Est):
    X, Y = _data(n_samples=150)
    est = Est(
        hidden_layer_sizes=(8,),
        early_stopping=True,
        scoring="f1_micro",
        learning_rate_init=0.02,
        n_iter_no_change=4,
        max_iter=100,
        random_state=0,
    ).fit(X, Y)
    n_epochs = int(np.max(est.n_iter_))
    assert len(est.validation_scores_) == n_epochs
    assert len(est.validation_loss_curve_) == n_epochs
    scores = np.array(est.validation_scores_)
    assert np.all((scores >= 0) & (scores <= 1))
    assert est.best_validation_score_ == scores.max()
    if Est is BinaryRelevanceMLPClassifier:
        # A global scorer stops all labels together.
        assert len(set(est.n_iter_.tolist())) == 1


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_early_stopping_with_explicit_validation_set(Est, split_spy):
    X, Y = _data(n_samples=150)
    X_val, Y_val = X[:37], Y[:37]
    X_fit, Y_fit = X[37:], Y[37:]
    est = Est(
        hidden_layer_sizes=(8,),
        early_stopping=True,
        learning_rate_init=0.02,
        n_iter_no_change=5,
        max_iter=150,
        random_state=0,
    ).fit(X_fit, Y_fit, X_val=X_val, Y_val=Y_val)
    assert split_spy == []  # no internal split
    n_epochs = int(np.max(est.n_iter_))
    assert est.t_ == n_epochs * len(X_fit)
    assert len(est.validation_loss_curve_) == n_epochs
    final = _bce(est.decision_function(X_val), Y_val)
    assert final == pytest.approx(min(est.validation_loss_curve_), rel=1e-9)

    with pytest.raises(ValueError, match="together"):
        clone(est).fit(X_fit, Y_fit, X_val=X_val)
    with pytest.raises(ValueError, match="features"):
        clone(est).fit(X_fit, Y_fit, X_val=X_val[:, :3], Y_val=Y_val)
    with pytest.raises(ValueError, match="labels"):
        clone(est).fit(X_fit, Y_fit, X_val=X_val, Y_val=Y_val[:, :3])

    # Through GridSearchCV: the validation set is passed on to every fit.
    grid = GridSearchCV(
        clone(est).set_params(max_iter=20),
        {"alpha": [1e-4, 1e-2]},
        cv=2,
        scoring="f1_micro",
        error_score="raise",
    ).fit(X_fit, Y_fit, X_val=X_val, Y_val=Y_val)
    assert split_spy == []
    best = grid.best_estimator_
    final = _bce(best.decision_function(X_val), Y_val)
    assert final == pytest.approx(min(best.validation_loss_curve_), rel=1e-9)


# --------------------------------------------------------------------------------
# skmultihead.metrics integration
# --------------------------------------------------------------------------------


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_multilabel_log_loss_scorer_in_grid_search(Est):
    metrics = pytest.importorskip(
        "skmultihead.metrics", reason="skmultihead.metrics not available yet"
    )
    scorer = getattr(metrics, "neg_multilabel_log_loss_scorer", None)
    if scorer is None:
        pytest.skip("skmultihead.metrics has no neg_multilabel_log_loss_scorer yet")
    X, Y = _data(n_samples=150)
    grid = GridSearchCV(
        Est(hidden_layer_sizes=(6,), max_iter=20, random_state=0),
        {"alpha": [1e-4, 1.0]},
        cv=3,
        scoring=scorer,
        error_score="raise",
    ).fit(X, Y)
    scores = grid.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and np.all(scores < 0)
    best = grid.best_estimator_
    assert scorer(best, X, Y) == pytest.approx(
        -metrics.multilabel_log_loss(Y, best.predict_proba(X))
    )
    # Same value as the estimator's own validation loss definition.
    assert scorer(best, X, Y) == pytest.approx(-_bce(best.decision_function(X), Y))
    # As the early-stopping scoring too.
    est = Est(
        hidden_layer_sizes=(6,),
        max_iter=30,
        random_state=0,
        early_stopping=True,
        scoring=scorer,
    ).fit(X, Y)
    assert len(est.validation_scores_) == int(np.max(est.n_iter_))
    assert np.all(np.array(est.validation_scores_) < 0)
