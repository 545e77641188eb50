"""Safe persistence with skops.io, and the persisted state itself.

The fitted state holds only built-in types and arrays (the network layout is
kept as a plain ``_layout_spec`` tuple; the Layout and LayerPlan objects built
from it are a cache left out of the state), so ``skops.io.get_untrusted_types``
lists the estimator class alone.
"""

import copy
import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_multilabel_classification

from skmultihead import BinaryRelevanceMLPClassifier, MultiHeadMLPClassifier
from skmultihead._engine import LayerPlan

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ESTIMATORS = [MultiHeadMLPClassifier, BinaryRelevanceMLPClassifier]
FITS = {
    "default": {},
    "early_stopping_f1": {"early_stopping": True, "threshold": "f1"},
    "deep_float32": {"hidden_layer_sizes": (6, 5), "dtype": "float32"},
    "global_rng": {"random_state": None},
    "rng_instance": {"random_state": np.random.RandomState(3)},
    "members": {"n_members": 2},
    "cross_fit_f1": {"cv": 3, "threshold": "f1"},
    "towers": {"tower_layer_sizes": (3,), "n_members": 2},
    "alpha_chosen": {"alpha": [1e-4, 1.0], "cv": 2},
    "asymmetric_loss": {"loss": "asymmetric", "loss_params": {"gamma_neg": 2.0}},
}


def _data():
    X, Y = make_multilabel_classification(
        n_samples=150, n_features=8, n_classes=5, random_state=0
    )
    return X / X.max(), Y


def _fit(Est, **params):
    X, Y = _data()
    params = {"hidden_layer_sizes": (7,), "max_iter": 30, "random_state": 0, **params}
    if isinstance(params["random_state"], np.random.RandomState):
        params["random_state"] = copy.deepcopy(params["random_state"])
    return Est(**params).fit(X, Y)


def _name(est):
    return f"{type(est).__module__}.{type(est).__qualname__}"


def _assert_same_plan(a, b):
    """Every attribute of two layer plans is equal."""
    va, vb = dict(vars(a)), dict(vars(b))
    assert va.keys() == vb.keys()
    for key in va:
        if isinstance(va[key], np.ndarray):
            np.testing.assert_array_equal(va[key], vb[key])
            assert va[key].dtype == vb[key].dtype
        else:
            assert va[key] == vb[key], key
    np.testing.assert_array_equal(a.owner, b.owner)


def _assert_same_predictions(a, b, X):
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    np.testing.assert_array_equal(a.decision_function(X), b.decision_function(X))


def _skops_io():
    return pytest.importorskip(
        "skops.io",
        reason="skops tests need the 'skops' extra: pip install -e '.[skops]'",
    )


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("fit", list(FITS))
def test_only_the_estimator_is_untrusted(Est, fit):
    sio = _skops_io()
    est = _fit(Est, **FITS[fit])
    assert sio.get_untrusted_types(data=sio.dumps(est)) == [_name(est)]


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("fit", list(FITS))
def test_round_trip(Est, fit):
    sio = _skops_io()
    est = _fit(Est, **FITS[fit])
    data = sio.dumps(est)
    loaded = sio.loads(data, trusted=[_name(est)])
    assert type(loaded) is type(est)
    X, _ = _data()
    _assert_same_predictions(est, loaded, X)
    _assert_same_plan(est._plan, loaded._plan)
    assert isinstance(loaded._plan, LayerPlan)
    np.testing.assert_array_equal(loaded.threshold_, est.threshold_)
    assert loaded._params.dtype == est._params.dtype
    # The saved object is unchanged by saving it.
    assert isinstance(est._plan, LayerPlan)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_untrusted_load_refused(Est):
    sio = _skops_io()
    data = sio.dumps(_fit(Est))
    with pytest.raises(Exception, match="untrusted|Untrusted"):
        sio.loads(data)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_training_continues_after_load(Est):
    """partial_fit and warm_start on a skops-loaded model do exactly what they do
    on a pickled one (same weights, optimizer state and random stream)."""
    sio = _skops_io()
    X, Y = _data()
    est = _fit(Est)
    by_skops = sio.loads(sio.dumps(est), trusted=[_name(est)])
    by_pickle = pickle.loads(pickle.dumps(est))
    for model in (by_skops, by_pickle):
        model.partial_fit(X, Y)
        model.set_params(warm_start=True, max_iter=3).fit(X, Y)
    _assert_same_predictions(by_skops, by_pickle, X)
    np.testing.assert_array_equal(by_skops._params, by_pickle._params)
    np.testing.assert_array_equal(by_skops._opt_state, by_pickle._opt_state)


# --------------------------------------------------------------------------------
# The persisted state itself (no skops needed)
# --------------------------------------------------------------------------------


def _plain(value, path="state"):
    """Assert ``value`` is built of built-in types and NumPy arrays/scalars only
    (NumPy's RandomState, which skops trusts by default, aside)."""
    if isinstance(value, dict):
        for key, item in value.items():
            _plain(key, f"{path} key")
            _plain(item, f"{path}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _plain(item, f"{path}[{i}]")
    else:
        plain = (int, float, str, bool, type(None), np.ndarray, np.generic)
        assert isinstance(value, plain + (np.random.RandomState,)), (
            f"{path} is a {type(value).__name__}"
        )


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("fit", list(FITS))
def test_state_holds_builtin_types_and_arrays(Est, fit):
    est = _fit(Est, **FITS[fit])
    est.predict(_data()[0])  # builds the layout cache
    params = set(est.get_params())
    _plain({k: v for k, v in est.__getstate__().items() if k not in params})


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_pickle_and_copies(Est):
    X, _ = _data()
    est = _fit(Est, n_members=2)
    for other in (
        pickle.loads(pickle.dumps(est)),
        copy.deepcopy(est),
        copy.copy(est),
    ):
        _assert_same_plan(est._plan, other._plan)
        _assert_same_predictions(est, other, X)
    assert clone(est).get_params() == est.get_params()


def test_unfitted_round_trip():
    sio = _skops_io()
    est = MultiHeadMLPClassifier(hidden_layer_sizes=(3,))
    assert pickle.loads(pickle.dumps(est)).get_params() == est.get_params()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = sio.loads(sio.dumps(est), trusted=[_name(est)])
    assert loaded.get_params() == est.get_params()
