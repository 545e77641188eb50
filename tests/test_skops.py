"""Safe persistence with skops.io, and the persisted state itself.

The fitted state holds only built-in types and arrays (the layer plan is saved as
a dict), so ``skops.io.get_untrusted_types`` lists the estimator class alone.
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
    """Every attribute of two layer plans is equal (group index cache aside)."""
    va, vb = dict(vars(a)), dict(vars(b))
    va.pop("_group_index", None), vb.pop("_group_index", None)
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


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_state_holds_builtin_types_and_arrays(Est):
    est = _fit(Est, early_stopping=True, threshold="f1")
    state = est.__getstate__()
    assert isinstance(state["_plan"], dict)
    for key, value in state["_plan"].items():
        assert isinstance(value, (int, list, dict, np.ndarray, type(None))), key
    # The owner array is run-length encoded, not stored at full length.
    if Est is BinaryRelevanceMLPClassifier:
        assert state["_plan"]["_owner_runs"].size < est._plan.owner.size
    assert isinstance(est._plan, LayerPlan)  # getstate does not touch the model


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_pickle_copy_and_clone(Est):
    X, _ = _data()
    est = _fit(Est)
    for other in (pickle.loads(pickle.dumps(est)), copy.deepcopy(est)):
        _assert_same_plan(est._plan, other._plan)
        _assert_same_predictions(est, other, X)
    shallow = copy.copy(est)
    assert shallow._plan is est._plan and shallow._params is est._params
    assert clone(est).get_params() == est.get_params()


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_state_from_before_plan_was_converted(Est):
    """A state whose plan is a LayerPlan object (pickles made before the plan
    was saved as a dict) still loads."""
    X, _ = _data()
    est = _fit(Est)
    old = Est.__new__(Est)
    old.__setstate__(dict(vars(est)))
    assert old._plan is est._plan
    _assert_same_predictions(est, old, X)


def test_unfitted_round_trip():
    sio = _skops_io()
    est = MultiHeadMLPClassifier(hidden_layer_sizes=(3,))
    assert pickle.loads(pickle.dumps(est)).get_params() == est.get_params()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = sio.loads(sio.dumps(est), trusted=[_name(est)])
    assert loaded.get_params() == est.get_params()
