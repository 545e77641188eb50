"""Property-based tests (hypothesis), bounded to a few dozen examples each.

* Any valid problem (1-40 samples, 1-8 features, 1-5 labels, float32 / float64 /
  integer X, dense or sparse, int / float / bool / NaN-holed Y, any activation
  and solver, 0-3 hidden layers of 1-6 units, any batch size and alpha, sample
  weights with zeros, 'balanced' pos_weight, any loss, early stopping,
  threshold='f1', then maybe a partial_fit or a warm-started refit) fits,
  and every prediction method returns the right shape and dtype: probabilities
  in [0, 1], no NaN, predict in {0, 1} and consistent with threshold_.
* Any hostile input (non-finite values anywhere, wrong shapes, impossible label
  values, bad sample weights, strings, complex numbers) raises only ValueError
  or TypeError -- never a Numba typing error, an IndexError, a crash -- and a
  fitted model that rejects a fit/partial_fit comes out unchanged.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse

from skmultihead import BinaryRelevanceMLPClassifier, MultiHeadMLPClassifier

ESTIMATORS = [MultiHeadMLPClassifier, BinaryRelevanceMLPClassifier]
ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]

SETTINGS = settings(
    max_examples=35,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def problems(draw, max_n=40):
    n = draw(st.integers(1, max_n))
    d = draw(st.integers(1, 8))
    L = draw(st.integers(1, 5))
    rng = np.random.RandomState(draw(st.integers(0, 2**31 - 1)))
    x_kind = draw(st.sampled_from(["float32", "float64", "int64", "csr32", "csr64"]))
    scale = draw(st.sampled_from([1e-3, 1.0, 30.0]))
    X = rng.randn(n, d) * scale
    X_test = rng.randn(draw(st.integers(1, 30)), d) * scale
    if x_kind == "int64":
        X, X_test = (np.round(A * 3).astype(np.int64) for A in (X, X_test))
    elif x_kind.startswith("csr"):
        dtype = np.float32 if x_kind == "csr32" else np.float64
        X[rng.rand(n, d) < 0.5] = 0.0
        X, X_test = (sparse.csr_matrix(A.astype(dtype)) for A in (X, X_test))
    else:
        X, X_test = X.astype(x_kind), X_test.astype(x_kind)
    binary_1d = L == 1 and n >= 2 and draw(st.booleans())
    Y = (rng.rand(n, L) < draw(st.floats(0.0, 1.0))).astype(np.float64)
    if binary_1d:
        y = Y[:, 0]
        y[0], y[-1] = 0, 1  # both classes present
        Y = y.astype(draw(st.sampled_from([np.int64, bool, np.float64])))
    else:
        y_kind = draw(st.sampled_from(["int", "float", "bool", "missing"]))
        if y_kind == "missing":
            Y[rng.rand(n, L) < 0.2] = np.nan
        else:
            Y = Y.astype({"int": np.int64, "float": np.float64, "bool": bool}[y_kind])
    Est = draw(st.sampled_from(ESTIMATORS))
    params = dict(
        hidden_layer_sizes=tuple(draw(st.lists(st.integers(1, 6), max_size=3))),
        activation=draw(st.sampled_from(ACTIVATIONS)),
        solver=draw(st.sampled_from(["adam", "sgd"])),
        batch_size=draw(st.one_of(st.just("auto"), st.integers(1, 50))),
        alpha=draw(st.sampled_from([0.0, 1e-4, 0.1, 10.0])),
        max_iter=draw(st.integers(1, 4)),
        min_labels=draw(st.sampled_from([0, 1])),
        pos_weight=draw(st.sampled_from([None, "balanced"])),
        loss=draw(st.sampled_from(["log_loss", "focal", "asymmetric"])),
        random_state=0,
    )
    if n >= 2:  # both hold out a validation split
        params["early_stopping"] = draw(st.booleans())
        params["threshold"] = draw(st.sampled_from([0.5, 0.3, "f1"]))
    sample_weight = None
    if draw(st.booleans()):
        # Frequency weights: the L2 term is alpha / (a batch's weight sum), as in
        # MLPClassifier, so tiny weights with a large alpha are a genuinely
        # unstable SGD problem (it diverges in scikit-learn too); keep >= 0.5.
        sample_weight = rng.uniform(0.5, 1.5, n) * draw(st.sampled_from([1.0, 1e3]))
        held_out = params.get("early_stopping") or params.get("threshold") == "f1"
        if not held_out:  # a zero-weight validation split is rejected (documented)
            sample_weight[rng.rand(n) < 0.2] = 0.0
            sample_weight[rng.randint(n)] = 1.0
    follow_up = draw(st.sampled_from(["none", "partial_fit", "warm_start"]))
    return Est, params, X, Y, X_test, binary_1d, sample_weight, follow_up


def _model_dtype(X):
    return np.float32 if X.dtype == np.float32 else np.float64


@SETTINGS
@given(problems())
def test_valid_problems_give_well_formed_outputs(problem):
    Est, params, X, Y, X_test, binary_1d, sample_weight, follow_up = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = Est(**params).fit(X, Y, sample_weight=sample_weight)
        if follow_up == "partial_fit":
            est.partial_fit(X, Y, sample_weight=sample_weight)
        elif follow_up == "warm_start":
            est.set_params(warm_start=True).fit(X, Y, sample_weight=sample_weight)
    n_test = X_test.shape[0]
    L = 1 if binary_1d else Y.shape[1]
    dtype = _model_dtype(X)

    P = est.predict_proba(X_test)
    assert P.dtype == dtype
    assert P.shape == ((n_test, 2) if binary_1d else (n_test, L))
    assert not np.isnan(P).any()
    assert np.all((P >= 0) & (P <= 1))

    Z = est.decision_function(X_test)
    assert Z.dtype == dtype
    assert Z.shape == ((n_test,) if binary_1d else (n_test, L))
    assert not np.isnan(Z).any()

    logP = est.predict_log_proba(X_test)
    assert logP.shape == P.shape and not np.isnan(logP).any()
    assert np.all(logP <= 0)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(np.exp(logP), P, rtol=tol, atol=tol)

    pred = est.predict(X_test)
    if binary_1d:
        assert pred.shape == (n_test,)
        assert set(np.unique(pred)) <= set(est.classes_)
        np.testing.assert_array_equal(
            pred, est.classes_[(P[:, 1] > est.threshold_[0]).astype(int)]
        )
    else:
        assert pred.shape == (n_test, L)
        assert pred.dtype.kind == "i"
        assert set(np.unique(pred)) <= {0, 1}
        expected = (P > est.threshold_).astype(int)
        if params["min_labels"]:
            assert np.all(pred.sum(axis=1) >= 1)
            assert np.all(pred >= expected)
        else:
            np.testing.assert_array_equal(pred, expected)

    assert len(est.loss_curve_) >= 1 and np.all(np.isfinite(est.loss_curve_))
    for c in est.coefs_ + est.intercepts_:
        assert c.dtype == dtype and np.all(np.isfinite(c))


# ------------------------------------------------------------------------------
# Hostile inputs
# ------------------------------------------------------------------------------

BAD_LABEL_VALUES = [2, -1, 0.5, 0.999, 1e-300, -1e-300, 3, np.inf, -np.inf, 1e300]
NON_FINITE = [np.nan, np.inf, -np.inf]
PREDICTORS = ["predict", "predict_proba", "decision_function", "predict_log_proba"]


@st.composite
def hostile_calls(draw):
    """(description, est, call): ``call()`` must raise ValueError or TypeError."""
    n = draw(st.integers(2, 25))
    d = draw(st.integers(1, 6))
    L = draw(st.integers(1, 4))
    rng = np.random.RandomState(draw(st.integers(0, 2**31 - 1)))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    X = rng.rand(n, d).astype(dtype)
    Y = (rng.rand(n, L) < 0.5).astype(np.int64)
    Est = draw(st.sampled_from(ESTIMATORS))
    est = Est(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
    fitted = draw(st.booleans())
    if fitted:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, Y)
        est.set_params(warm_start=draw(st.booleans()))
    i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, d - 1))
    kind = draw(
        st.sampled_from(
            [
                "X-non-finite",
                "X-non-finite-sparse",
                "X-string",
                "X-complex",
                "X-ndim",
                "X-empty",
                "Y-bad-value",
                "Y-ndim",
                "rows",
                "sample_weight",
                "labels",
                "features",
                "predict-non-finite",
                "predict-features",
                "predict-ndim",
            ]
        )
    )
    method = draw(st.sampled_from(["fit", "partial_fit"]))
    Xb, Yb, kwargs = X, Y, {}
    if kind == "X-non-finite":
        Xb = X.copy()
        Xb[i, j] = draw(st.sampled_from(NON_FINITE))
    elif kind == "X-non-finite-sparse":
        Xb = X.copy()
        Xb[i, j] = draw(st.sampled_from(NON_FINITE))
        Xb = sparse.csr_matrix(Xb)
    elif kind == "X-string":
        Xb = X.astype(object)
        Xb[i, j] = draw(st.sampled_from(["a", "1,5", "", "nan?"]))
    elif kind == "X-complex":
        Xb = X.astype(np.complex128)
        Xb[i, j] += 1j * draw(st.sampled_from([1e-12, 1.0]))
    elif kind == "X-ndim":
        Xb = draw(st.sampled_from([X.reshape(n, d, 1), X[:, 0], np.float64(1.0)]))
    elif kind == "X-empty":
        Xb, Yb = draw(st.sampled_from([(X[:0], Y[:0]), (X[:, :0], Y)]))
    elif kind == "Y-bad-value":
        Yb = Y.astype(np.float64)
        Yb[i, draw(st.integers(0, L - 1))] = draw(st.sampled_from(BAD_LABEL_VALUES))
    elif kind == "Y-ndim":
        Yb = Y.reshape(n, L, 1)
    elif kind == "rows":
        k = draw(st.integers(1, n - 1))
        Xb, Yb = draw(st.sampled_from([(X[k:], Y), (X, Y[k:])]))
    elif kind == "sample_weight":
        sw = np.ones(n)
        bad = draw(st.sampled_from(["negative", "nan", "inf", "length", "zero"]))
        if bad == "length":
            sw = np.ones(n + draw(st.sampled_from([-1, 1])))
        elif bad == "zero":
            sw = np.zeros(n)
        else:
            sw[i] = {
                "negative": -draw(st.floats(1e-9, 1e9)),
                "nan": np.nan,
                "inf": np.inf,
            }[bad]
        kwargs["sample_weight"] = sw
    elif kind == "labels":  # a different number of labels than the fitted model
        if not fitted:
            kind = "Y-bad-value"
            Yb = Y.astype(np.float64)
            Yb[i, 0] = 2
        else:
            Yb = draw(st.sampled_from([Y[:, :0], np.hstack([Y, Y])]))
            method = "partial_fit"
    elif kind == "features":  # a different number of features than the fitted model
        if not fitted:
            Xb = X[:, :0]
        else:
            Xb = draw(st.sampled_from([X[:, : d - 1], np.hstack([X, X])]))
            method = "partial_fit"
            if Xb.shape[1] == 0:
                method = "fit"

    if kind.startswith("predict"):
        if not fitted:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est.fit(X, Y)
            fitted = True
        predictor = draw(st.sampled_from(PREDICTORS))
        if kind == "predict-non-finite":
            Xp = X.copy()
            Xp[i, j] = draw(st.sampled_from(NON_FINITE))
            if draw(st.booleans()):
                Xp = sparse.csr_matrix(Xp)
        elif kind == "predict-features":
            Xp = draw(st.sampled_from([X[:, : d - 1], np.hstack([X, X])]))
        else:
            Xp = draw(st.sampled_from([X[0], X.reshape(n, d, 1), X[:0]]))

        def call():
            return getattr(est, predictor)(Xp)

        return f"{kind} {predictor}", est, call, False

    def call():
        return getattr(est, method)(Xb, Yb, **kwargs)

    return f"{kind} {method} fitted={fitted}", est, call, fitted


@SETTINGS
@given(hostile_calls())
def test_hostile_inputs_raise_only_value_or_type_errors(hostile):
    description, est, call, check_unchanged = hostile
    before = None
    if check_unchanged:
        before = [a.copy() for a in est.coefs_ + est.intercepts_]
        P = est.predict_proba(np.ones((2, est.n_features_in_)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises((ValueError, TypeError)):
            call()
    if before is not None:
        after = est.coefs_ + est.intercepts_
        assert all(np.array_equal(a, b) for a, b in zip(after, before)), description
        np.testing.assert_array_equal(
            est.predict_proba(np.ones((2, est.n_features_in_))), P
        )


@pytest.mark.filterwarnings(
    "ignore:(invalid value|overflow) encountered:RuntimeWarning"
)
@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(ESTIMATORS),
    st.integers(1, 6),
    st.lists(
        st.sampled_from([-np.inf, -1e300, -1.0, 0.0, 1.0, 1e300, np.inf, np.nan]),
        min_size=1,
        max_size=12,
    ),
)
def test_predict_on_arbitrary_values_is_nan_free_or_rejected(Est, d, values):
    """Any X made of extreme values is either rejected (non-finite) or predicted
    without NaN probabilities."""
    rng = np.random.RandomState(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = Est(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(
            rng.rand(20, d), (rng.rand(20, 2) < 0.5).astype(int)
        )
    X = np.resize(np.array(values, dtype=np.float64), (len(values), d))
    if not np.all(np.isfinite(X)):
        with pytest.raises(ValueError, match="NaN|infinity"):
            est.predict_proba(X)
        return
    P = est.predict_proba(X)
    assert not np.isnan(P).any() and np.all((P >= 0) & (P <= 1))
