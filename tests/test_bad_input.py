"""Hostile input at the validation boundary, tried against both estimators.

Every case in ``CASES`` is one hostile input. It is run against
MultiHeadMLPClassifier and BinaryRelevanceMLPClassifier, and the test asserts
the exception type (ValueError or TypeError; scikit-learn's InvalidParameterError
and NotFittedError are ValueErrors) and a message fragment that names the
argument or the problem. Test ids are ``<case id>-<estimator>``. Every
``fit``/``partial_fit`` case is also replayed on an already fitted model
(with ``warm_start`` False and True), which must come out unchanged: coefs_,
intercepts_, every public fitted attribute and the predictions.

``python tests/test_bad_input.py`` prints the table of hostile inputs and what
each one actually gets (exception type and message), one row per estimator.

Summary of the hostile inputs (groups; the ids are the test ids):

* X values: NaN / inf in X for fit, partial_fit, predict, predict_proba,
  decision_function, predict_log_proba, sparse X with NaN -> ValueError naming
  NaN / infinity.
* X types and shapes: strings, object arrays, complex, dict, set, None, scalar,
  1-D, 3-D, ragged lists, np.matrix, structured arrays, 0 samples, 0 features,
  wrong feature count at predict (dense and sparse) and at partial_fit, predict
  before fit.
* Y: values 2, -1, 0.5, inf (dense and sparse), lists of label lists, 2-D
  strings (-> MultiLabelBinarizer), object and complex Y, multiclass 1-D y
  (-> MLPClassifier), continuous y, single-class y, NaN in a 1-D y, 3-D Y,
  0 labels, wrong number of rows, None / scalar / str y, wrong label count at
  a later partial_fit, 1-D after 2-D and 2-D after 1-D, bad ``classes``.
* sample_weight: negative, wrong length, all zero, NaN, inf, 2-D, strings.
* Validation set: X_val without Y_val (and vice versa), X_val with the wrong
  feature count, Y_val with the wrong label count or rows, NaN in X_val, early
  stopping on one sample.
* Hyper-parameters: hidden_layer_sizes (0,), (-3,), 'abc', 0, (2.5,), None;
  learning_rate_init 0, -1, NaN; max_iter 0; batch_size 0; alpha -1; momentum 2;
  validation_fraction 1.5; activation 'softmax'; solver 'lbfgs'; threshold 1.5,
  wrong length, NaN; pos_weight wrong length, negative, NaN; loss 'hinge',
  loss_params not a dict, given with 'log_loss', with an unknown key (one of the
  other loss), clip 1, negative gamma; dtype 'int32',
  np.int32, np.float16; n_threads 0, 1.5; min_labels 2; beta_2 1; epsilon 0;
  unknown scoring; bad random_state.

The accepted-input tests at the end check what must *not* be rejected: one
sample, every sparse format (same predictions as dense), F-ordered, read-only,
memmap, strided, big-endian, integer and bool X, bool / sparse Y, pandas X.
"""

import copy
import re
import warnings

import numpy as np
import pytest
from scipy import sparse

from skmultihead import BinaryRelevanceMLPClassifier, MultiHeadMLPClassifier

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning",
    "ignore:Labels .* are constant:UserWarning",
    # raised by the hostile inputs themselves (np.matrix, casting NaN in y)
    "ignore:the matrix subclass:PendingDeprecationWarning",
    "ignore:invalid value encountered in cast:RuntimeWarning",
)

ESTIMATORS = [MultiHeadMLPClassifier, BinaryRelevanceMLPClassifier]
EST_IDS = ["MH", "BR"]

# ------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------

_rng = np.random.RandomState(0)
N, D, L = 30, 5, 3
X = _rng.rand(N, D)
Y = (_rng.rand(N, L) < 0.5).astype(np.int64)
Y[:2] = [[0, 1, 0], [1, 0, 1]]  # every label has both values
y1 = np.arange(N) % 2  # a 1-D binary target


def _with(A, index, value):
    A = np.array(A, dtype=np.result_type(A, type(value)))
    A[index] = value
    return A


X_nan = _with(X, (3, 1), np.nan)
X_inf = _with(X, (0, 0), np.inf)
X_neg_inf = _with(X, (5, 4), -np.inf)


def _est(Est, **params):
    return Est(hidden_layer_sizes=(5,), max_iter=3, random_state=0, **params)


_FITTED = {}


def _fitted(Est, binary=False):
    """A fitted model (fresh deep copy of a cached one)."""
    key = (Est, binary)
    if key not in _FITTED:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _FITTED[key] = _est(Est).fit(X, y1 if binary else Y)
    return copy.deepcopy(_FITTED[key])


# ------------------------------------------------------------------------------
# The hostile inputs
# ------------------------------------------------------------------------------


class Case:
    """One hostile input.

    ``setup`` is 'fresh' (unfitted estimator), 'fitted' (fitted on a 2-D Y) or
    'binary' (fitted on a 1-D y). ``call(est)`` does the hostile call.
    ``replay`` says whether the call is a fit/partial_fit that can be replayed
    on a fitted model to check that a failed fit changes nothing.
    """

    def __init__(self, id, setup, call, exc, match, replay=None):
        self.id = id
        self.setup = setup
        self.call = call
        self.exc = exc
        self.match = match
        self.replay = replay


def _fit(**params):
    return lambda est: est.set_params(**params).fit(X, Y)


def _param(name, value, match=None):
    match = match or rf"'{name}' parameter"
    return Case(
        f"param-{name}={value!r}", "fresh", _fit(**{name: value}), ValueError, match
    )


VAL_SET = r"X_val"  # a validation-set error must name the validation set

CASES = [
    # --- NaN / inf in X, at every entry point -------------------------------------
    Case(
        "fit-nan-X",
        "fresh",
        lambda e: e.fit(X_nan, Y),
        ValueError,
        "Input X contains NaN",
    ),
    Case(
        "fit-inf-X",
        "fresh",
        lambda e: e.fit(X_inf, Y),
        ValueError,
        "Input X contains infinity",
    ),
    Case(
        "fit-sparse-nan-X",
        "fresh",
        lambda e: e.fit(sparse.csr_matrix(X_nan), Y),
        ValueError,
        "Input X contains NaN",
    ),
    Case(
        "partial_fit-nan-X",
        "fresh",
        lambda e: e.partial_fit(X_nan, Y),
        ValueError,
        "Input X contains NaN",
    ),
    Case(
        "partial_fit-inf-X-later-call",
        "fitted",
        lambda e: e.partial_fit(X_inf, Y),
        ValueError,
        "Input X contains infinity",
    ),
    Case(
        "predict-nan-X",
        "fitted",
        lambda e: e.predict(X_nan),
        ValueError,
        "Input X contains NaN",
    ),
    Case(
        "predict_proba-inf-X",
        "fitted",
        lambda e: e.predict_proba(X_inf),
        ValueError,
        "Input X contains infinity",
    ),
    Case(
        "decision_function-nan-X",
        "fitted",
        lambda e: e.decision_function(X_nan),
        ValueError,
        "Input X contains NaN",
    ),
    Case(
        "predict_log_proba--inf-X",
        "fitted",
        lambda e: e.predict_log_proba(X_neg_inf),
        ValueError,
        "Input X contains infinity",
    ),
    Case(
        "predict-float32-nan-X",
        "fitted",
        lambda e: e.predict(X_nan.astype(np.float32)),
        ValueError,
        "Input X contains NaN",
    ),
    # --- X of the wrong type ------------------------------------------------------
    Case(
        "fit-string-X",
        "fresh",
        lambda e: e.fit([["a", "b", "c", "d", "e"]] * N, Y),
        ValueError,
        "could not convert string to float",
    ),
    Case(
        "fit-object-X",
        "fresh",
        lambda e: e.fit(np.array([[1.0, "x", None, 2, 3]] * N, dtype=object), Y),
        ValueError,
        "could not convert string to float",
    ),
    Case(
        "fit-complex-X",
        "fresh",
        lambda e: e.fit(X + 1j, Y),
        ValueError,
        "Complex data not supported",
    ),
    Case(
        "predict-complex-X",
        "fitted",
        lambda e: e.predict(X + 1j),
        ValueError,
        "Complex data not supported",
    ),
    Case("fit-dict-X", "fresh", lambda e: e.fit({"a": [1, 2]}, Y), TypeError, "dict"),
    Case("fit-set-X", "fresh", lambda e: e.fit({1, 2, 3}, Y), TypeError, "set"),
    Case(
        "fit-None-X", "fresh", lambda e: e.fit(None, Y), ValueError, "Expected 2D array"
    ),
    Case(
        "fit-scalar-X",
        "fresh",
        lambda e: e.fit(3.0, Y),
        ValueError,
        "Expected 2D array",
    ),
    Case(
        "fit-structured-X",
        "fresh",
        lambda e: e.fit(np.zeros(N, dtype=[("a", "f8"), ("b", "f8")]), Y),
        TypeError,
        "Cannot cast",
    ),
    Case(
        "fit-np.matrix-X",
        "fresh",
        lambda e: e.fit(np.asmatrix(X), Y),
        TypeError,
        "np.matrix is not supported",
    ),
    # --- X of the wrong shape -----------------------------------------------------
    Case(
        "fit-1d-X",
        "fresh",
        lambda e: e.fit(X[:, 0], Y),
        ValueError,
        "Expected 2D array, got 1D array",
    ),
    Case(
        "fit-3d-X",
        "fresh",
        lambda e: e.fit(X[:, :4].reshape(N, 2, 2), Y),
        ValueError,
        "Found array with dim 3",
    ),
    Case(
        "fit-ragged-X",
        "fresh",
        lambda e: e.fit([[1.0, 2.0], [3.0]], Y[:2]),
        ValueError,
        "inhomogeneous",
    ),
    Case(
        "fit-0-samples",
        "fresh",
        lambda e: e.fit(X[:0], Y[:0]),
        ValueError,
        r"0 sample\(s\)",
    ),
    Case(
        "fit-0-features",
        "fresh",
        lambda e: e.fit(X[:, :0], Y),
        ValueError,
        r"0 feature\(s\)",
    ),
    Case(
        "predict-0-samples",
        "fitted",
        lambda e: e.predict(X[:0]),
        ValueError,
        r"0 sample\(s\)",
    ),
    Case(
        "predict-1d-X",
        "fitted",
        lambda e: e.predict(X[0]),
        ValueError,
        "Expected 2D array, got 1D array",
    ),
    Case(
        "predict-wrong-n-features",
        "fitted",
        lambda e: e.predict(X[:, :3]),
        ValueError,
        "X has 3 features, but .* is expecting 5 features",
    ),
    Case(
        "predict_proba-sparse-wrong-n-features",
        "fitted",
        lambda e: e.predict_proba(sparse.csr_matrix(X[:, :3])),
        ValueError,
        "X has 3 features, but .* is expecting 5 features",
    ),
    Case(
        "decision_function-too-many-features",
        "fitted",
        lambda e: e.decision_function(np.hstack([X, X])),
        ValueError,
        "X has 10 features, but .* is expecting 5 features",
    ),
    Case(
        "partial_fit-wrong-n-features",
        "fitted",
        lambda e: e.partial_fit(X[:, :3], Y),
        ValueError,
        "X has 3 features, but .* is expecting 5 features",
    ),
    Case(
        "predict-before-fit",
        "fresh",
        lambda e: e.predict(X),
        ValueError,
        "is not fitted yet",
    ),
    # --- Y values -----------------------------------------------------------------
    Case(
        "Y-value-2",
        "fresh",
        lambda e: e.fit(X, _with(Y, (4, 1), 2)),
        ValueError,
        r"Y must contain only 0 and 1.*\[2\.\]",
    ),
    Case(
        "Y-value--1",
        "fresh",
        lambda e: e.fit(X, _with(Y, (4, 1), -1)),
        ValueError,
        r"Y must contain only 0 and 1.*\[-1\.\]",
    ),
    Case(
        "Y-value-0.5",
        "fresh",
        lambda e: e.fit(X, _with(Y, (4, 1), 0.5)),
        ValueError,
        r"Y must contain only 0 and 1.*\[0\.5\]",
    ),
    Case(
        "Y-value-inf",
        "fresh",
        lambda e: e.fit(X, _with(Y, (4, 1), np.inf)),
        ValueError,
        r"Y must contain only 0 and 1.*\[inf\]",
    ),
    Case(
        "Y-sparse-value-2",
        "fresh",
        lambda e: e.fit(X, sparse.csr_matrix(_with(Y, (4, 1), 2))),
        ValueError,
        "Y must contain only 0 and 1",
    ),
    Case(
        "partial_fit-Y-value-2",
        "fitted",
        lambda e: e.partial_fit(X, _with(Y, (4, 1), 2)),
        ValueError,
        "Y must contain only 0 and 1",
    ),
    # --- Y as label lists / names -------------------------------------------------
    Case(
        "Y-list-of-label-lists",
        "fresh",
        lambda e: e.fit(X[:3], [[0, 2], [1], [2]]),
        ValueError,
        "MultiLabelBinarizer",
    ),
    Case(
        "Y-list-of-label-name-lists",
        "fresh",
        lambda e: e.fit(X[:3], [["a", "b"], ["b"], ["c"]]),
        ValueError,
        "MultiLabelBinarizer",
    ),
    Case(
        "Y-list-of-label-sets",
        "fresh",
        lambda e: e.fit(X[:2], [{"a", "b"}, {"c", "a"}]),
        ValueError,
        "MultiLabelBinarizer",
    ),
    Case(
        "Y-2d-strings",
        "fresh",
        lambda e: e.fit(X, np.array([["a", "b", "c"]] * N)),
        ValueError,
        "MultiLabelBinarizer",
    ),
    Case(
        "Y-object-with-None",
        "fresh",
        lambda e: e.fit(X, np.array([[0, 1, None]] * N, dtype=object)),
        ValueError,
        "numeric 0/1 indicator",
    ),
    Case(
        "Y-complex",
        "fresh",
        lambda e: e.fit(X, Y + 0j),
        ValueError,
        "numeric 0/1 indicator",
    ),
    # --- 1-D y that is not binary ---------------------------------------------------
    Case(
        "y-multiclass-1d",
        "fresh",
        lambda e: e.fit(X, np.arange(N) % 3),
        ValueError,
        "MLPClassifier",
    ),
    Case(
        "y-multiclass-strings",
        "fresh",
        lambda e: e.fit(X, np.array(["a", "b", "c"] * 10)),
        ValueError,
        "MLPClassifier",
    ),
    Case(
        "y-continuous-1d",
        "fresh",
        lambda e: e.fit(X, np.linspace(0, 1, N)),
        ValueError,
        "continuous",
    ),
    Case(
        "y-single-class-1d",
        "fresh",
        lambda e: e.fit(X, np.zeros(N)),
        ValueError,
        "only one class",
    ),
    Case(
        "y-1d-nan",
        "fresh",
        lambda e: e.fit(X, _with(y1, 0, np.nan)),
        ValueError,
        "Input y contains NaN",
    ),
    # --- Y shapes -------------------------------------------------------------------
    Case(
        "Y-3d",
        "fresh",
        lambda e: e.fit(X, Y.reshape(N, L, 1)),
        ValueError,
        "Y must be 1-D or 2-D",
    ),
    Case(
        "Y-0-labels",
        "fresh",
        lambda e: e.fit(X, Y[:, :0]),
        ValueError,
        "Y has 0 labels",
    ),
    Case(
        "Y-wrong-n-rows",
        "fresh",
        lambda e: e.fit(X[:-1], Y),
        ValueError,
        "inconsistent numbers of samples",
    ),
    Case(
        "y-None",
        "fresh",
        lambda e: e.fit(X, None),
        ValueError,
        "requires y to be passed",
    ),
    Case(
        "y-scalar", "fresh", lambda e: e.fit(X, 1), TypeError, "Y must be an array-like"
    ),
    Case(
        "y-str",
        "fresh",
        lambda e: e.fit(X, "abc"),
        TypeError,
        "Y must be an array-like",
    ),
    Case(
        "partial_fit-fewer-labels",
        "fitted",
        lambda e: e.partial_fit(X, Y[:, :2]),
        ValueError,
        "Y has 2 labels but the model was fitted with 3",
    ),
    Case(
        "partial_fit-more-labels",
        "fitted",
        lambda e: e.partial_fit(X, np.hstack([Y, Y])),
        ValueError,
        "Y has 6 labels but the model was fitted with 3",
    ),
    Case(
        "partial_fit-1d-after-2d",
        "fitted",
        lambda e: e.partial_fit(X, y1),
        ValueError,
        "fitted on a 2-D indicator Y",
    ),
    Case(
        "partial_fit-2d-after-1d",
        "binary",
        lambda e: e.partial_fit(X, Y),
        ValueError,
        "fitted on a 1-D binary y",
    ),
    Case(
        "partial_fit-y-label-not-in-classes",
        "binary",
        lambda e: e.partial_fit(X, y1 + 1),
        ValueError,
        "not in classes_",
    ),
    # ``classes`` only matters on the first call with a 1-D y.
    Case(
        "partial_fit-3-classes",
        "fresh",
        lambda e: e.partial_fit(X, y1, classes=[0, 1, 2]),
        ValueError,
        "2 classes",
        replay=False,
    ),
    Case(
        "partial_fit-duplicate-classes",
        "fresh",
        lambda e: e.partial_fit(X, np.zeros(N, dtype=int), classes=[0, 0]),
        ValueError,
        "classes",
        replay=False,
    ),
    Case(
        "partial_fit-2d-classes",
        "fresh",
        lambda e: e.partial_fit(X, y1, classes=[[0, 1]]),
        ValueError,
        "classes",
        replay=False,
    ),
    # --- sample_weight --------------------------------------------------------------
    Case(
        "sample_weight-negative",
        "fresh",
        lambda e: e.fit(X, Y, sample_weight=_with(np.ones(N), 3, -1.0)),
        ValueError,
        "Negative values in data passed to `sample_weight`",
    ),
    Case(
        "sample_weight-wrong-length",
        "fresh",
        lambda e: e.fit(X, Y, sample_weight=np.ones(N - 1)),
        ValueError,
        r"sample_weight.shape == \(29,\), expected \(30,\)",
    ),
    Case(
        "sample_weight-all-zero",
        "fresh",
        lambda e: e.fit(X, Y, sample_weight=np.zeros(N)),
        ValueError,
        "[Ss]ample.weight",
    ),
    Case(
        "sample_weight-nan",
        "fresh",
        lambda e: e.fit(X, Y, sample_weight=_with(np.ones(N), 0, np.nan)),
        ValueError,
        "Input sample_weight contains NaN",
    ),
    Case(
        "sample_weight-inf",
        "fresh",
        lambda e: e.fit(X, Y, sample_weight=_with(np.ones(N), 0, np.inf)),
        ValueError,
        "Input sample_weight contains infinity",
    ),
    Case(
        "sample_weight-2d",
        "fresh",
        lambda e: e.fit(X, Y, sample_weight=np.ones((N, 1))),
        ValueError,
        "Sample weights must be 1D",
    ),
    Case(
        "sample_weight-strings",
        "fresh",
        lambda e: e.fit(X, Y, sample_weight=["a"] * N),
        ValueError,
        "could not convert string to float",
    ),
    Case(
        "partial_fit-sample_weight-negative",
        "fitted",
        lambda e: e.partial_fit(X, Y, sample_weight=-np.ones(N)),
        ValueError,
        "Negative values in data passed to `sample_weight`",
    ),
    # --- validation set -------------------------------------------------------------
    Case(
        "X_val-without-Y_val",
        "fresh",
        lambda e: e.fit(X, Y, X_val=X),
        ValueError,
        "X_val and Y_val must be given together",
    ),
    Case(
        "Y_val-without-X_val",
        "fresh",
        lambda e: e.fit(X, Y, Y_val=Y),
        ValueError,
        "X_val and Y_val must be given together",
    ),
    Case(
        "X_val-wrong-n-features",
        "fresh",
        lambda e: e.fit(X, Y, X_val=X[:, :3], Y_val=Y),
        ValueError,
        VAL_SET,
    ),
    Case(
        "Y_val-wrong-n-labels",
        "fresh",
        lambda e: e.fit(X, Y, X_val=X, Y_val=Y[:, :2]),
        ValueError,
        VAL_SET,
    ),
    Case(
        "Y_val-wrong-n-rows",
        "fresh",
        lambda e: e.fit(X, Y, X_val=X, Y_val=Y[:5]),
        ValueError,
        VAL_SET,
    ),
    Case(
        "X_val-nan",
        "fresh",
        lambda e: e.fit(X, Y, X_val=X_nan, Y_val=Y),
        ValueError,
        VAL_SET,
    ),
    Case(
        "early_stopping-1-sample",
        "fresh",
        lambda e: e.set_params(early_stopping=True).fit(X[:1], Y[:1]),
        ValueError,
        "at least 2 samples",
    ),
    # --- hyper-parameters -------------------------------------------------------------
    _param(
        "hidden_layer_sizes", (0,), "hidden_layer_sizes must contain positive integers"
    ),
    _param(
        "hidden_layer_sizes", (-3,), "hidden_layer_sizes must contain positive integers"
    ),
    _param(
        "hidden_layer_sizes",
        (4, 2.5),
        "hidden_layer_sizes must contain positive integers",
    ),
    _param("hidden_layer_sizes", "abc"),
    _param("hidden_layer_sizes", 0),
    _param("hidden_layer_sizes", None),
    _param("learning_rate_init", 0),
    _param("learning_rate_init", -1),
    _param("learning_rate_init", float("nan")),
    _param("max_iter", 0),
    _param("batch_size", 0),
    _param("alpha", -1),
    _param("momentum", 2),
    _param("validation_fraction", 1.5),
    _param("activation", "softmax"),
    _param("solver", "lbfgs"),
    _param("threshold", 1.5),
    _param("threshold", [0.5, 0.5], "threshold must be a number in .* 3 numbers"),
    _param(
        "threshold",
        [0.5, float("nan"), 0.5],
        "threshold must be a number in .* 3 numbers",
    ),
    _param(
        "pos_weight",
        [1.0, 2.0],
        "pos_weight must be None, 'balanced' or 3 non-negative",
    ),
    _param(
        "pos_weight",
        [1.0, -2.0, 1.0],
        "pos_weight must be None, 'balanced' or 3 non-negative",
    ),
    _param(
        "pos_weight",
        [1.0, float("nan"), 1.0],
        "pos_weight must be None, 'balanced' or 3 non-negative",
    ),
    _param("loss", "hinge"),
    _param("loss_params", [("gamma", 2.0)]),
    _param("loss_params", {"gamma": 2.0}, "loss_params is only used by"),
    Case(
        "param-loss='focal'-loss_params-unknown-key",
        "fresh",
        _fit(loss="focal", loss_params={"gamma_neg": 2.0}),
        ValueError,
        r"unknown key\(s\) \['gamma_neg'\] for loss='focal'",
    ),
    Case(
        "param-loss='asymmetric'-clip=1",
        "fresh",
        _fit(loss="asymmetric", loss_params={"clip": 1.0}),
        ValueError,
        r"loss_params\['clip'\] must be in \[0, 1\)",
    ),
    Case(
        "param-loss='focal'-gamma=-1",
        "fresh",
        _fit(loss="focal", loss_params={"gamma": -1.0}),
        ValueError,
        r"loss_params\['gamma'\] must be non-negative",
    ),
    _param("dtype", "int32"),
    _param("dtype", np.int32, "dtype must be float32, float64 or None"),
    _param("dtype", np.float16, "dtype must be float32, float64 or None"),
    _param("n_threads", 0),
    _param("n_threads", 1.5),
    _param("min_labels", 2),
    _param("beta_2", 1.0),
    _param("epsilon", 0.0),
    _param("random_state", "seed"),
    Case(
        "param-scoring='nonsense'",
        "fresh",
        _fit(early_stopping=True, scoring="nonsense"),
        ValueError,
        "'nonsense' is not a valid scoring value",
    ),
]

_ids = [c.id for c in CASES]
assert len(set(_ids)) == len(_ids), "duplicate case ids"


def _prepare(Est, setup):
    if setup == "fresh":
        return _est(Est)
    return _fitted(Est, binary=setup == "binary")


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_hostile_input(case, Est):
    est = _prepare(Est, case.setup)
    with pytest.raises(case.exc, match=case.match):
        case.call(est)


def _is_replayable(case):
    """fit/partial_fit cases that can be replayed on a model fitted on a 2-D Y."""
    if case.replay is not None:
        return case.replay
    return case.setup != "binary" and not case.id.startswith(
        ("predict", "decision_function")
    )


REPLAY = [c for c in CASES if _is_replayable(c)]


def _state(est):
    params = [a.copy() for a in est.coefs_ + est.intercepts_]
    public = {
        k: copy.deepcopy(v)
        for k, v in vars(est).items()
        if k.endswith("_") and not k.startswith("_")
    }
    return params, public


def _assert_same_state(est, state):
    params, public = state
    now = est.coefs_ + est.intercepts_
    assert len(now) == len(params)
    for a, b in zip(now, params):
        np.testing.assert_array_equal(a, b)
    assert set(
        k for k in vars(est) if k.endswith("_") and not k.startswith("_")
    ) == set(public)
    for k, v in public.items():
        now = getattr(est, k)
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(now, v, err_msg=k)
        elif isinstance(v, float) and np.isnan(v):
            assert np.isnan(now), k
        else:
            assert now == v, k


@pytest.mark.parametrize("warm_start", [False, True], ids=["cold", "warm"])
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
@pytest.mark.parametrize("case", REPLAY, ids=[c.id for c in REPLAY])
def test_failed_fit_after_good_fit_changes_nothing(case, Est, warm_start):
    est = _fitted(Est)
    est.set_params(warm_start=warm_start)
    state = _state(est)
    P = est.predict_proba(X)
    with pytest.raises((ValueError, TypeError)):
        case.call(est)
    _assert_same_state(est, state)
    # Predictions too, with the parameters exactly as the failed call left them
    # (a rejected set_params(...).fit(...) must not change what predict does).
    np.testing.assert_array_equal(est.predict_proba(X), P)
    np.testing.assert_array_equal(est.predict(X), (P > est.threshold_).astype(int))


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
@pytest.mark.parametrize("attr", ["coefs_", "intercepts_"])
@pytest.mark.parametrize("bad", ["wrong-shape", "strings", "too-few"])
def test_rejected_weight_assignment_changes_nothing(Est, attr, bad):
    """Assigning coefs_/intercepts_ is all or nothing: when a later array is
    rejected, the earlier ones must not have been copied in already."""
    est = _fitted(Est)
    state = _state(est)
    P = est.predict_proba(X)
    current = getattr(est, attr)
    new = [np.full_like(a, 7.0) for a in current]
    if bad == "wrong-shape":
        new[-1] = np.zeros(new[-1].shape + (1,))
    elif bad == "strings":
        new[-1] = np.full(new[-1].shape, "x")
    else:
        new = new[:-1]
    with pytest.raises(ValueError):
        setattr(est, attr, new)
    _assert_same_state(est, state)
    np.testing.assert_array_equal(est.predict_proba(X), P)


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_partial_fit_classes_order_does_not_matter(Est):
    """classes= is a set of labels: classes_ comes out sorted (as in
    scikit-learn), whatever order it was given in."""
    a = _est(Est).partial_fit(X, y1, classes=[1, 0])
    b = _est(Est).partial_fit(X, y1, classes=[0, 1])
    np.testing.assert_array_equal(a.classes_, [0, 1])
    assert _same_params(a, b)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_case_count():
    """The issue asks for at least 25 distinct hostile inputs."""
    assert len(CASES) >= 25
    assert len(REPLAY) >= 25


# ------------------------------------------------------------------------------
# Accepted inputs
# ------------------------------------------------------------------------------


def _ref(Est, Xf=X, Yf=Y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _est(Est, **params).fit(Xf, Yf)


def _same_params(a, b):
    pa, pb = a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_
    return len(pa) == len(pb) and all(np.array_equal(u, v) for u, v in zip(pa, pb))


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_one_sample_fits(Est):
    est = _ref(Est, X[:1], Y[:1])
    P = est.predict_proba(X)
    assert P.shape == (N, L) and np.all((P >= 0) & (P <= 1))
    assert est.predict(X[:1]).shape == (1, L)
    # one sample also for partial_fit, and for a 1-D y when classes are given
    est = _est(Est).partial_fit(X[:1], Y[:1]).partial_fit(X[1:2], Y[1:2])
    assert est.predict(X).shape == (N, L)
    est = _est(Est).partial_fit(X[:1], [1], classes=[0, 1])
    assert set(est.predict(X)) <= {0, 1}


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
@pytest.mark.parametrize("fmt", ["csc", "coo", "lil", "dok", "bsr", "dia", "csr_array"])
def test_sparse_formats_converted(Est, fmt):
    """Any sparse format trains the same model as CSR, close to the dense one."""
    csr = sparse.csr_matrix(X)
    Xs = sparse.csr_array(X) if fmt == "csr_array" else csr.asformat(fmt)
    ref_sparse = _ref(Est, csr)
    est = _ref(Est, Xs)
    assert _same_params(est, ref_sparse)
    np.testing.assert_array_equal(est.predict_proba(Xs), ref_sparse.predict_proba(csr))
    dense = _ref(Est)
    np.testing.assert_allclose(
        est.predict_proba(Xs), dense.predict_proba(X), atol=1e-12
    )
    np.testing.assert_array_equal(est.predict(Xs), dense.predict(X))


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_sparse_with_duplicates_and_unsorted_indices(Est):
    est = _ref(Est)
    x = X[0]
    data = np.r_[x[1] / 2, x[0] / 2, x[1] / 2, x[0] / 2, x[4], x[3], x[2]]
    m = sparse.csr_matrix((data, [1, 0, 1, 0, 4, 3, 2], [0, 7]), shape=(1, D))
    assert not m.has_canonical_format
    np.testing.assert_allclose(
        est.predict_proba(m), est.predict_proba(X[:1]), atol=1e-14
    )


def _read_only(A):
    A = np.array(A)
    A.setflags(write=False)
    return A


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
@pytest.mark.parametrize(
    "layout", ["F-order", "read-only", "memmap", "strided", "big-endian", "list"]
)
def test_layouts_give_the_same_model(Est, layout, tmp_path):
    if layout == "F-order":
        Xa, Ya = np.asfortranarray(X), np.asfortranarray(Y)
    elif layout == "read-only":
        Xa, Ya = _read_only(X), _read_only(Y)
    elif layout == "memmap":
        path = tmp_path / "X.dat"
        m = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
        m[:] = X
        m.flush()
        Xa, Ya = np.memmap(path, dtype=np.float64, mode="r", shape=X.shape), Y
    elif layout == "strided":
        Xa, Ya = np.repeat(X, 2, axis=1)[:, ::2], np.repeat(Y, 2, axis=0)[::2]
    elif layout == "big-endian":
        Xa, Ya = X.astype(">f8"), Y.astype(">i8")
    else:
        Xa, Ya = X.tolist(), Y.tolist()
    ref = _ref(Est)
    est = _ref(Est, Xa, Ya)
    assert _same_params(est, ref)
    np.testing.assert_array_equal(est.predict_proba(Xa), ref.predict_proba(X))
    # the fitted model predicts on that layout too, for small and block-sized inputs
    big = np.tile(X, (40, 1))
    big_ro = _read_only(big)
    np.testing.assert_array_equal(ref.predict_proba(big_ro), ref.predict_proba(big))
    np.testing.assert_array_equal(
        ref.predict_proba(np.asfortranarray(big)), ref.predict_proba(big)
    )


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_integer_and_bool_X(Est):
    Xi = (X * 10).astype(np.int64)
    ref = _ref(Est, Xi.astype(np.float64))
    for Xa in (Xi, Xi.astype(np.int32), Xi.astype(np.uint8)):
        est = _ref(Est, Xa)
        assert _same_params(est, ref)
        P = est.predict_proba(Xa)
        assert P.dtype == np.float64
        np.testing.assert_array_equal(P, ref.predict_proba(Xi.astype(np.float64)))
    Xb = X > 0.5
    est = _ref(Est, Xb)
    assert _same_params(est, _ref(Est, Xb.astype(np.float64)))
    np.testing.assert_array_equal(est.predict_proba(Xb), est.predict_proba(Xb * 1.0))


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
@pytest.mark.parametrize(
    "kind", ["bool", "float", "uint8", "csr", "lil", "csc_array", "F-order", "list"]
)
def test_Y_encodings_give_the_same_model(Est, kind):
    Ya = {
        "bool": lambda: Y.astype(bool),
        "float": lambda: Y.astype(np.float32),
        "uint8": lambda: Y.astype(np.uint8),
        "csr": lambda: sparse.csr_matrix(Y),
        "lil": lambda: sparse.lil_matrix(Y),
        "csc_array": lambda: sparse.csc_array(Y),
        "F-order": lambda: np.asfortranarray(Y),
        "list": lambda: Y.tolist(),
    }[kind]()
    ref = _ref(Est)
    est = _ref(Est, X, Ya)
    assert _same_params(est, ref)
    np.testing.assert_array_equal(est.predict(X), ref.predict(X))
    # and the same for a later partial_fit
    a, b = copy.deepcopy(ref), copy.deepcopy(ref)
    a.partial_fit(X, Ya)
    b.partial_fit(X, Y)
    assert _same_params(a, b)


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_pandas_dataframe_X(Est):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(D)])
    est = _ref(Est, df)
    assert list(est.feature_names_in_) == list(df.columns)
    assert _same_params(est, _ref(Est))
    np.testing.assert_array_equal(est.predict_proba(df), _ref(Est).predict_proba(X))
    with pytest.raises(ValueError, match="feature names"):
        est.predict(df.rename(columns={"f0": "zz"}))


# ------------------------------------------------------------------------------
# The table of hostile inputs (python tests/test_bad_input.py)
# ------------------------------------------------------------------------------


def _table():
    rows = []
    for case in CASES:
        for Est, name in zip(ESTIMATORS, EST_IDS):
            est = _prepare(Est, case.setup)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    case.call(est)
                got = "accepted (no error)"
            except Exception as exc:  # we report whatever happens
                msg = re.sub(r"\s+", " ", str(exc))
                got = f"{type(exc).__name__}: {msg}"
            ok = "ok" if _expected(case, got) else "BUG"
            rows.append((case.id, name, ok, got[:120]))
    return rows


def _expected(case, got):
    name = case.exc.__name__
    if got.startswith("accepted"):
        return False
    # InvalidParameterError / NotFittedError are ValueErrors
    exc_name = got.split(":")[0]
    good_types = {name, "InvalidParameterError", "NotFittedError"}
    if name == "TypeError":
        good_types = {name}
    return exc_name in good_types and re.search(case.match, got) is not None


if __name__ == "__main__":  # pragma: no cover
    rows = _table()
    width = max(len(r[0]) for r in rows)
    print(f"{len(CASES)} hostile inputs x {len(ESTIMATORS)} estimators")
    for case_id, name, ok, got in rows:
        print(f"{case_id:<{width}}  {name}  {ok:3}  {got}")
