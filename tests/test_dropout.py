"""The ``dropout`` parameter of both estimators (the kernels' masks and
gradients are tested against the NumPy reference in ``test_kernels.py``)."""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning

from skmultihead import BinaryRelevanceMLPClassifier, MultiHeadMLPClassifier

ESTIMATORS = [MultiHeadMLPClassifier, BinaryRelevanceMLPClassifier]


def _data(n=120, n_features=8, n_labels=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, n_features))
    X[rng.uniform(size=X.shape) < 0.3] = 0.0
    Y = (X[:, :n_labels] + 0.5 * rng.normal(size=(n, n_labels)) > 0).astype(int)
    return X, Y


def _fit(Est, X, Y, **params):
    params = {"hidden_layer_sizes": (6,), "max_iter": 4, "random_state": 0, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return Est(**params).fit(X, Y)


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize(
    "dropout", [1.0, -0.1, (0.1,), (0.1, 0.2, 0.3), (0.1, 1.0), (-0.5, 0.1), "high"]
)
def test_invalid_dropout(Est, dropout):
    X, Y = _data()
    with pytest.raises(ValueError, match="dropout"):
        Est(dropout=dropout, max_iter=1).fit(X, Y)


@pytest.mark.parametrize("kind", ["dense", "csr"])
@pytest.mark.parametrize("Est", ESTIMATORS)
def test_dropout_is_deterministic_and_changes_the_fit(Est, kind):
    X, Y = _data()
    if kind == "csr":
        X = sparse.csr_matrix(X)
    plain = _fit(Est, X, Y)
    a = _fit(Est, X, Y, dropout=(0.2, 0.3))
    b = _fit(Est, X, Y, dropout=(0.2, 0.3))
    assert_array_equal(a._params, b._params)
    assert not np.allclose(a._params, plain._params)
    for rates in (0.3, (0.2, 0.0)):  # hidden only, input only
        other = _fit(Est, X, Y, dropout=rates)
        assert not np.allclose(other._params, plain._params)
        assert not np.allclose(other._params, a._params)
    # Prediction uses the whole network: deterministic, probabilities.
    P = a.predict_proba(X)
    assert_array_equal(P, a.predict_proba(X))
    assert np.all((P >= 0) & (P <= 1))


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_dropout_zero_is_no_dropout(Est):
    """Rate 0 draws no seed and runs the plain code: the same bits as before
    dropout existed (the kernels' rate-0 path is tested bitwise too)."""
    X, Y = _data()
    plain = _fit(Est, X, Y)
    for zero in (0.0, (0.0, 0.0), [0, 0]):
        other = _fit(Est, X, Y, dropout=zero)
        assert_array_equal(other._params, plain._params)
    rs_plain, rs_zero = np.random.RandomState(3), np.random.RandomState(3)
    _fit(Est, X, Y, random_state=rs_plain)
    _fit(Est, X, Y, random_state=rs_zero, dropout=0.0)
    assert rs_plain.randint(2**31) == rs_zero.randint(2**31)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_dropout_bitwise_identical_across_threads(Est):
    # Large enough for two row chunks per batch (_engine.row_chunks).
    X, Y = _data(n=400, n_features=100, n_labels=4, seed=1)
    params = dict(hidden_layer_sizes=(128,), max_iter=2, dropout=(0.1, 0.3))
    one = _fit(Est, X, Y, n_threads=1, **params)
    two = _fit(Est, X, Y, n_threads=2, **params)
    assert one._params.tobytes() == two._params.tobytes()
    assert one.predict_proba(X).tobytes() == two.predict_proba(X).tobytes()


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_dropout_pickles_and_partial_fit(Est):
    X, Y = _data()
    est = _fit(Est, X, Y, dropout=(0.1, 0.25))
    clone = pickle.loads(pickle.dumps(est))
    assert clone.dropout == (0.1, 0.25)
    assert_array_equal(clone.predict_proba(X), est.predict_proba(X))
    # partial_fit continues with fresh masks, the same for the same history.
    for model in (est, clone):
        model.partial_fit(X, Y)
    assert_array_equal(clone._params, est._params)
