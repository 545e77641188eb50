"""Members trained in one engine pass: seed ensembles (``n_members``),
cross-fitting (``cv``), alpha chosen on held-out data (a list of ``alpha``
values), and per-label towers (``tower_layer_sizes``).

The central property: members never exchange gradients, so every member of a
joint fit is exactly the network a separate fit would train from the same
initial weights on the same mini-batches -- with its own fold's rows masked
(cross-fitting) and its own L2 strength (alpha candidates).
"""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn.base import clone
from sklearn.datasets import make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning

from skmultihead import BinaryRelevanceMLPClassifier, MultiHeadMLPClassifier
from skmultihead._thresholds import (
    MIN_POSITIVES_TO_TUNE,
    SHRINK_POSITIVES,
    _f1_cut,
    tune_thresholds,
)
from skmultihead.metrics import multilabel_log_loss

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ESTIMATORS = [MultiHeadMLPClassifier, BinaryRelevanceMLPClassifier]
# Explicit values for the options whose defaults are 'auto' (cv, alpha,
# early_stopping, threshold): each test sets the ones it is about.
BASE = dict(
    hidden_layer_sizes=(6,),
    random_state=3,
    batch_size=16,
    max_iter=5,
    alpha=1e-3,
    cv=None,
    early_stopping=False,
    threshold=0.5,
)


def make(cls, **params):
    return cls(**{**BASE, **params})


def _data(n_samples=90, n_features=7, n_classes=3, seed=0):
    X, Y = make_multilabel_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_classes=n_classes,
        random_state=seed,
    )
    return X / X.max(), Y.astype(np.float64)


def _member(coefs, m, n_members):
    return [c[m] for c in coefs] if n_members > 1 else list(coefs)


def _warm_from(cls, init_c, init_b, X, Y, **params):
    """A model warm-started from given weights (one member or several)."""
    est = cls(**{**BASE, **params, "max_iter": 1})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, Y)
    est.coefs_, est.intercepts_ = init_c, init_b
    return est.set_params(warm_start=True, max_iter=BASE["max_iter"], tol=0.0).fit(X, Y)


_single_from = _joint_from = _warm_from


def _random_init(est, seed):
    rng = np.random.RandomState(seed)
    return (
        [rng.uniform(-0.5, 0.5, c.shape) for c in est.coefs_],
        [rng.uniform(-0.5, 0.5, b.shape) for b in est.intercepts_],
    )


# ------------------------------------------------------------------------------
# Seed ensembles
# ------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_members_are_independent_networks(cls, solver):
    X, Y = _data()
    M = 3
    shape = cls(**{**BASE, "n_members": M, "max_iter": 1}).fit(X, Y)
    init_c, init_b = _random_init(shape, 0)
    joint = _joint_from(cls, init_c, init_b, X, Y, n_members=M, solver=solver)
    assert joint.n_members_ == M
    P = np.zeros((X.shape[0], Y.shape[1]))
    for m in range(M):
        single = _single_from(
            cls,
            _member(init_c, m, M),
            _member(init_b, m, M),
            X,
            Y,
            solver=solver,
        )
        for a, b in zip(_member(joint.coefs_, m, M), single.coefs_):
            assert_allclose(a, b, rtol=1e-12, atol=1e-14)
        for a, b in zip(_member(joint.intercepts_, m, M), single.intercepts_):
            assert_allclose(a, b, rtol=1e-12, atol=1e-14)
        P += single.predict_proba(X) / M
    # Probabilities are the members' average; the logit and the log-probability
    # are those of that average.
    assert_allclose(joint.predict_proba(X), P, rtol=1e-10)
    Z = joint.decision_function(X)
    assert_allclose(1.0 / (1.0 + np.exp(-Z)), P, rtol=1e-10)
    assert_allclose(joint.predict_log_proba(X), np.log(P), rtol=1e-10)
    assert_array_equal(joint.predict(X), (P > 0.5).astype(int))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_coefs_have_a_member_axis(cls):
    X, Y = _data()
    one = make(cls).fit(X, Y)
    three = make(cls, n_members=3).fit(X, Y)
    for a, b in zip(one.coefs_ + one.intercepts_, three.coefs_ + three.intercepts_):
        assert b.shape == (3, *a.shape)
    # Member 0 starts from the one-member model's initial weights.
    first = cls(**{**BASE, "max_iter": 1, "tol": 0.0})
    first3 = cls(**{**BASE, "max_iter": 1, "tol": 0.0, "n_members": 3})
    first.fit(X, Y)
    first3.fit(X, Y)
    assert first3.coefs_[0].shape[0] == 3


# ------------------------------------------------------------------------------
# Cross-fitting
# ------------------------------------------------------------------------------


def _splits(n, k):
    folds = np.arange(n) % k
    return [(np.flatnonzero(folds != f), np.flatnonzero(folds == f)) for f in range(k)]


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_fold_members_never_see_their_fold(cls):
    X, Y = _data()
    k = 3
    splits = _splits(X.shape[0], k)
    shape = cls(**{**BASE, "cv": splits, "max_iter": 1}).fit(X, Y)
    assert shape.n_members_ == k
    init_c, init_b = _random_init(shape, 1)
    joint = _joint_from(cls, init_c, init_b, X, Y, cv=splits)
    for f, (_, test) in enumerate(splits):
        Y_masked = Y.copy()
        Y_masked[test] = np.nan  # what member f trains on
        single = _single_from(
            cls, _member(init_c, f, k), _member(init_b, f, k), X, Y_masked
        )
        for a, b in zip(_member(joint.coefs_, f, k), single.coefs_):
            assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("strategy", ["f1", "f1_global", "f1_shrunk"])
def test_thresholds_tuned_on_out_of_fold_probabilities(strategy):
    X, Y = _data(n_samples=120)
    k = 4
    splits = _splits(X.shape[0], k)
    est = make(MultiHeadMLPClassifier, cv=splits, threshold=strategy).fit(X, Y)
    # Out-of-fold probabilities: fold f's rows predicted by member f alone.
    P = np.empty(Y.shape)
    single = MultiHeadMLPClassifier(**{**BASE, "max_iter": 1}).fit(X, Y)
    for f, (_, test) in enumerate(splits):
        single.coefs_ = [c[f] for c in est.coefs_]
        single.intercepts_ = [b[f] for b in est.intercepts_]
        P[test] = single.predict_proba(X[test])
    assert_allclose(est.threshold_, tune_thresholds(P, Y, strategy), rtol=1e-12)


def test_cross_fitted_early_stopping_restores_each_members_best():
    X, Y = _data(n_samples=150)
    est = MultiHeadMLPClassifier(
        hidden_layer_sizes=(8,),
        random_state=0,
        cv=3,
        early_stopping=True,
        n_iter_no_change=2,
        max_iter=300,
        learning_rate_init=0.05,
    ).fit(X, Y)
    assert est.n_iter_ < 300
    assert len(est.validation_loss_curve_) == est.n_iter_
    assert est.best_validation_score_ == max(est.validation_scores_)


def test_cv_generators_and_splitters_that_need_x():
    """A generator of splits is run once (not consumed to count its folds), and
    a splitter whose fold count depends on X (LeaveOneOut) works."""
    from sklearn.model_selection import KFold, LeaveOneOut

    X, Y = _data(n_samples=60)
    listed = make(MultiHeadMLPClassifier, cv=list(KFold(3).split(X))).fit(X, Y)
    gen = make(MultiHeadMLPClassifier, cv=(s for s in KFold(3).split(X))).fit(X, Y)
    assert gen.n_members_ == 3
    assert_array_equal(gen.predict_proba(X), listed.predict_proba(X))
    loo = make(MultiHeadMLPClassifier, cv=LeaveOneOut(), max_iter=2)
    assert loo.fit(X[:12], Y[:12]).n_members_ == 12


def test_alpha_losses_belong_to_the_last_fit():
    X, Y = _data()
    est = make(MultiHeadMLPClassifier, cv=3, alpha=[1e-3, 1.0]).fit(X, Y)
    assert est.alpha_losses_.shape == (2,)
    est.set_params(alpha=1e-3).fit(X, Y)
    assert not hasattr(est, "alpha_losses_")


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_integer_cv_is_multilabel_stratified_and_deterministic(cls):
    X, Y = _data(n_samples=100)
    a = make(cls, cv=4, threshold="f1").fit(X, Y)
    b = make(cls, cv=4, threshold="f1").fit(X, Y)
    assert a.n_members_ == 4
    assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert_array_equal(a.threshold_, b.threshold_)


# ------------------------------------------------------------------------------
# alpha chosen on held-out data
# ------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_alpha_candidates_are_trained_with_their_own_l2(cls):
    """Each candidate's members follow the L2 strength of their candidate."""
    X, Y = _data()
    alphas = [1e-4, 0.3, 3.0]
    k = 2
    splits = _splits(X.shape[0], k)
    shape = cls(**{**BASE, "cv": splits, "alpha": alphas, "max_iter": 1})
    shape.fit(X, Y)
    assert shape.alpha_ in alphas
    # After fitting, only the chosen alpha's members remain (k of them).
    assert shape.n_members_ == k
    assert shape.alpha_ == alphas[int(np.argmin(shape.alpha_losses_))]
    # The kernel side: a joint fit of the six members (three alphas) from fixed
    # weights equals six separate fits, each with its own alpha.
    full = cls(**{**BASE, "n_members": 3 * k, "max_iter": 1}).fit(X, Y)
    init_c, init_b = _random_init(full, 2)
    est = cls(**{**BASE, "n_members": 3 * k, "alpha": 1.0})
    layout = est._make_layout(X.shape[1], Y.shape[1], [6], 3 * k)
    del layout  # the member order is (alpha, fold, seed): alpha of m is m // k
    for m in range(3 * k):
        single = _single_from(
            cls,
            _member(init_c, m, 3 * k),
            _member(init_b, m, 3 * k),
            X,
            Y,
            alpha=alphas[m // k],
        )
        assert np.all(np.isfinite(single.coefs_[0]))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_alpha_losses_are_held_out_losses(cls):
    X, Y = _data(n_samples=120)
    est = make(cls, cv=3, alpha=[1e-4, 10.0]).fit(X, Y)
    assert est.alpha_losses_.shape == (2,)
    assert np.all(np.isfinite(est.alpha_losses_))
    # Strong L2 on a small problem cannot be told apart from a constant: its
    # held-out loss is near that of the label frequencies.
    freq = np.clip(Y.mean(axis=0), 1e-6, 1 - 1e-6)
    constant = multilabel_log_loss(Y, np.tile(freq, (len(Y), 1)))
    assert est.alpha_losses_[1] < constant * 1.2


def test_alpha_grid_on_a_validation_split_and_x_val():
    X, Y = _data(n_samples=120)
    est = make(MultiHeadMLPClassifier, early_stopping=True, alpha=[1e-4, 1.0])
    est.fit(X, Y)
    assert est.n_members_ == 1 and est.alpha_ in (1e-4, 1.0)
    est2 = make(MultiHeadMLPClassifier, alpha=[1e-4, 1.0], n_members=2)
    est2.fit(X[:80], Y[:80], X_val=X[80:], Y_val=Y[80:])
    assert est2.n_members_ == 2


# ------------------------------------------------------------------------------
# Towers: the spectrum between the two estimators
# ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, kind",
    [
        ({}, "dense"),
        ({"solver": "sgd", "tol": 1e-3, "n_iter_no_change": 2}, "csr"),
        ({"pos_weight": "balanced", "dtype": "float32"}, "nan-labels"),
        ({"early_stopping": True, "threshold": "f1"}, "csr"),
        ({"cv": 3, "threshold": "f1_shrunk", "n_members": 2}, "nan-labels"),
        ({"loss": "asymmetric", "pos_weight": "balanced"}, "nan-labels"),
    ],
    ids=[
        "default",
        "sgd-converging-csr",
        "pos_weight-f32-nan",
        "es-csr",
        "cv-nan",
        "asymmetric-nan",
    ],
)
def test_towers_without_trunk_are_binary_relevance(options, kind):
    X, Y = _data(n_samples=100)
    if kind == "csr":
        X = sparse.csr_matrix(np.where(X > 0.3, X, 0.0))
    if kind == "nan-labels":
        Y[np.random.RandomState(0).uniform(size=Y.shape) < 0.2] = np.nan
    params = dict(random_state=0, max_iter=15, batch_size=32, **options)
    br = BinaryRelevanceMLPClassifier(hidden_layer_sizes=(5, 3), **params)
    towers = MultiHeadMLPClassifier(
        hidden_layer_sizes=(), tower_layer_sizes=(5, 3), **params
    )
    sw = np.random.RandomState(1).uniform(0.5, 2.0, X.shape[0])
    br.fit(X, Y, sample_weight=sw)
    towers.fit(X, Y, sample_weight=sw)
    for a, b in zip(br.coefs_ + br.intercepts_, towers.coefs_ + towers.intercepts_):
        assert_array_equal(a, b)
    assert_array_equal(br.n_iter_, towers.n_iter_)
    assert_array_equal(br.threshold_, towers.threshold_)
    assert_array_equal(br.predict_proba(X), towers.predict_proba(X))


def test_towers_default_is_the_shared_network():
    X, Y = _data()
    a = make(MultiHeadMLPClassifier).fit(X, Y)
    b = make(MultiHeadMLPClassifier, tower_layer_sizes=()).fit(X, Y)
    assert_array_equal(a.predict_proba(X), b.predict_proba(X))


@pytest.mark.parametrize("towers", [(4,), (4, 3)])
def test_trunk_and_towers_fit_everywhere(towers):
    X, Y = _data(n_samples=100)
    est = MultiHeadMLPClassifier(
        hidden_layer_sizes=(8,),
        tower_layer_sizes=towers,
        random_state=0,
        max_iter=30,
        cv=None,
    ).fit(X, Y)
    L = Y.shape[1]
    assert est.coefs_[0].shape == (X.shape[1], 8)
    assert est.coefs_[1].shape == (L, 8, towers[0])
    assert est.coefs_[-1].shape == (L, towers[-1], 1)
    assert est.intercepts_[-1].shape == (L, 1)
    assert est.n_layers_ == 2 + 1 + len(towers)
    # partial_fit and warm_start keep the plan.
    est.partial_fit(X, Y)
    est.set_params(warm_start=True, max_iter=2).fit(X, Y)
    with pytest.raises(ValueError, match="same architecture"):
        est.set_params(tower_layer_sizes=(2,)).fit(X, Y)


def test_trunk_towers_members_deterministic_across_threads():
    X, Y = _data(n_samples=200)
    kw = dict(
        hidden_layer_sizes=(16,),
        tower_layer_sizes=(4,),
        cv=3,
        alpha=[1e-3, 1.0],
        early_stopping=True,
        threshold="f1_shrunk",
        random_state=0,
        max_iter=20,
        batch_size=64,
    )
    a = MultiHeadMLPClassifier(**kw, n_threads=1).fit(X, Y)
    b = MultiHeadMLPClassifier(**kw, n_threads=2).fit(X, Y)
    assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert_array_equal(a.threshold_, b.threshold_)
    assert a.alpha_ == b.alpha_


# ------------------------------------------------------------------------------
# Persistence, cloning, bad input
# ------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_pickle_and_clone_of_members(cls):
    X, Y = _data()
    est = make(cls, cv=3, alpha=[1e-3, 1.0], tower_layer_sizes=(2,)).fit(X, Y)
    again = pickle.loads(pickle.dumps(est))
    assert_array_equal(again.predict_proba(X), est.predict_proba(X))
    assert "_layout_cache" not in est.__getstate__()
    fresh = clone(est)
    assert not hasattr(fresh, "n_members_")
    assert_array_equal(fresh.fit(X, Y).predict_proba(X), est.predict_proba(X))


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize(
    "params, fit_kw, message",
    [
        (dict(cv=[(np.arange(45), np.arange(45))]), {}, "cover every training row"),
        (
            dict(
                cv=[
                    (np.arange(45, 90), np.arange(50)),
                    (np.arange(45), np.arange(40, 90)),
                ]
            ),
            {},
            "must not overlap",
        ),
        (dict(cv=100), {}, "need at least 100 samples"),
        (dict(cv=3, early_stopping=True, scoring="f1_micro"), {}, "scoring"),
        (dict(alpha=[1e-3, 1.0]), {}, "held-out data"),
        (dict(alpha=[[1e-3, 1.0]]), {}, "1-D list"),
        (dict(alpha=[1e-3, -1.0], cv=3), {}, "finite and >= 0"),
        (dict(alpha=[]), {}, "1-D list"),
        (dict(tower_layer_sizes=(0,)), {}, "tower_layer_sizes must contain"),
    ],
)
def test_bad_member_parameters(cls, params, fit_kw, message):
    X, Y = _data()
    with pytest.raises(ValueError, match=message):
        make(cls, **params).fit(X, Y, **fit_kw)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_alpha_grid_and_partial_fit_or_warm_start(cls):
    X, Y = _data()
    with pytest.raises(ValueError, match="partial_fit needs a single alpha"):
        make(cls, alpha=[1e-3, 1.0]).partial_fit(X, Y)
    est = make(cls, alpha=[1e-3, 1.0], cv=3).fit(X, Y)
    chosen = est.alpha_
    before = est.predict_proba(X)
    est.partial_fit(X, Y)  # continues with alpha_
    assert est.n_members_ == 3 and est.alpha_ == chosen
    assert not np.array_equal(before, est.predict_proba(X))
    # A warm-started fit keeps the chosen alpha_ (no second choice).
    est.set_params(warm_start=True).fit(X, Y)
    assert est.n_members_ == 3 and est.alpha_ == chosen
    assert not hasattr(make(cls), "alpha_")


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_zero_weight_fold(cls):
    X, Y = _data()
    splits = _splits(X.shape[0], 3)
    sw = np.ones(X.shape[0])
    sw[splits[1][1]] = 0.0
    with pytest.raises(ValueError, match="zero total sample_weight"):
        make(cls, cv=splits).fit(X, Y, sample_weight=sw)


# ------------------------------------------------------------------------------
# Threshold strategies
# ------------------------------------------------------------------------------


def test_threshold_strategies():
    rng = np.random.RandomState(0)
    n = 200
    Y = (rng.uniform(size=(n, 4)) < [0.5, 0.3, 0.02, 0.0]).astype(np.float64)
    P = np.clip(Y * 0.4 + rng.uniform(0, 0.6, size=Y.shape), 0, 1)
    Y[rng.uniform(size=Y.shape) < 0.05] = np.nan
    observed = ~np.isnan(Y)
    pooled = _f1_cut(P[observed], Y[observed])
    own = np.array(
        [_f1_cut(P[observed[:, j], j], Y[observed[:, j], j]) for j in range(4)]
    )
    n_pos = np.nansum(Y, axis=0)
    assert_array_equal(tune_thresholds(P, Y, "f1_global"), np.full(4, pooled))
    expected = np.where(n_pos >= MIN_POSITIVES_TO_TUNE, own, pooled)
    assert_array_equal(tune_thresholds(P, Y, "f1"), expected)
    shrunk = tune_thresholds(P, Y, "f1_shrunk")
    w = n_pos / (n_pos + SHRINK_POSITIVES)
    assert_allclose(shrunk, w * own + (1 - w) * pooled, rtol=1e-12)
    assert shrunk[3] == pooled  # no positive: the pooled cut
    with pytest.raises(ValueError, match="Unknown threshold strategy"):
        tune_thresholds(P, Y, "nope")


def test_convergence_warning_class_is_kept():
    X, Y = _data()
    with pytest.warns(ConvergenceWarning):
        make(MultiHeadMLPClassifier, n_members=2).fit(X, Y)


@pytest.mark.parametrize("sparse_input", [False, True])
def test_members_are_averaged_by_blocks_of_rows(monkeypatch, sparse_input):
    """Several members' outputs are averaged block by block of rows (never all
    members' outputs for every row at once), with the same results."""
    from scipy import sparse

    from skmultihead import _prediction

    rng = np.random.RandomState(0)
    X = rng.normal(size=(1300, 6))
    Y = (X[:, :3] + rng.normal(size=(1300, 3)) > 0).astype(int)
    if sparse_input:
        X[np.abs(X) < 0.5] = 0.0
        X = sparse.csr_matrix(X)
    est = MultiHeadMLPClassifier(
        hidden_layer_sizes=(5,), n_members=3, cv=None, max_iter=5, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, Y)
    whole = [est.predict_proba(X), est.predict_log_proba(X), est.decision_function(X)]
    calls = []
    raw = _prediction.PredictionMixin._raw_checked

    def counted(self, X, sigmoid):
        calls.append(X.shape[0])
        return raw(self, X, sigmoid)

    monkeypatch.setattr(_prediction.PredictionMixin, "_raw_checked", counted)
    monkeypatch.setattr(_prediction, "MEMBER_BLOCK_VALUES", 1)  # 512-row blocks
    blocks = [est.predict_proba(X), est.predict_log_proba(X), est.decision_function(X)]
    assert calls == [512, 512, 276] * 3
    for a, b in zip(blocks, whole):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(est.predict(X), (whole[0] > est.threshold_))


# ------------------------------------------------------------------------------
# Racing the alpha candidates
# ------------------------------------------------------------------------------

RACE = dict(
    hidden_layer_sizes=(16,),
    cv=3,
    alpha=[1e-3, 30.0],
    early_stopping=True,
    threshold="f1_shrunk",
    random_state=0,
    max_iter=60,
    batch_size=32,
)


def _fit_watching(monkeypatch, est, X, Y, race=True):
    """Fit ``est``; return the monitor of the fit (racing disabled unless
    ``race``)."""
    from skmultihead._monitor import _Monitor

    seen = {}
    finish = _Monitor.finish

    def spy(monitor):
        seen["monitor"] = monitor
        return finish(monitor)

    with monkeypatch.context() as m:
        m.setattr(_Monitor, "finish", spy)
        if not race:
            m.setattr(_Monitor, "race", lambda monitor, candidates: None)
        est.fit(X, Y)
    return seen["monitor"]


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_race_stops_a_hopeless_candidate_and_keeps_the_choice(cls, monkeypatch):
    """A candidate that cannot catch up is frozen early; the members of the
    others train exactly as without racing, so the fitted model (alpha, weights,
    thresholds) is that of full training, for fewer member-epochs."""
    X, Y = _data(n_samples=200)
    raced = cls(**RACE)
    mon = _fit_watching(monkeypatch, raced, X, Y)
    full = cls(**RACE)
    mon_full = _fit_watching(monkeypatch, full, X, Y, race=False)
    assert mon_full.eliminated is None
    assert mon.eliminated.tolist() == [False, True]
    assert raced.alpha_ == full.alpha_ == 1e-3
    assert_array_equal(raced.predict_proba(X), full.predict_proba(X))
    assert_array_equal(raced.threshold_, full.threshold_)
    assert raced.alpha_losses_[0] == full.alpha_losses_[0]
    # The eliminated members stopped before they would have.
    assert mon.label_epochs.sum() < mon_full.label_epochs.sum()
    n_out = mon.label_epochs.size // 2
    assert_array_equal(mon.label_epochs[:n_out], mon_full.label_epochs[:n_out])


def test_race_eliminated_candidate_is_never_chosen(monkeypatch):
    """Whatever its final held-out loss, an eliminated candidate is not kept."""
    from skmultihead._monitor import _Monitor

    X, Y = _data(n_samples=200)
    free = MultiHeadMLPClassifier(**RACE).fit(X, Y)
    best = int(np.argmin(free.alpha_losses_))
    step = _Monitor._race_step

    def eliminate_the_best(monitor):
        step(monitor)
        monitor.eliminated[best] = True

    monkeypatch.setattr(_Monitor, "_race_step", eliminate_the_best)
    est = MultiHeadMLPClassifier(**RACE).fit(X, Y)
    assert est.alpha_ == RACE["alpha"][1 - best]


def test_race_deterministic_across_threads():
    X, Y = _data(n_samples=200)
    a = MultiHeadMLPClassifier(**RACE, n_threads=1).fit(X, Y)
    b = MultiHeadMLPClassifier(**RACE, n_threads=2).fit(X, Y)
    assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert_array_equal(a.alpha_losses_, b.alpha_losses_)
    assert_array_equal(a.threshold_, b.threshold_)
