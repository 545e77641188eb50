"""Base class shared by both multi-label MLP estimators.

Everything that does not depend on how the weights are laid out lives here once:
validation, initialisation, the epoch loop, convergence and early stopping,
thresholds, ``partial_fit`` and prediction. A subclass only says which layer plan
its network has, how weights are initialised and how the flat buffer is shown as
``coefs_``/``intercepts_``.
"""

import numbers
import warnings
from abc import ABCMeta, abstractmethod
from contextlib import contextmanager

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from . import _kernels as K
from ._engine import ACTIVATION_CODES, EpochRunner, engine_context, predict_raw
from ._monitor import _bce_per_label, _Monitor

# 'balanced' positive weights n_neg / n_pos are capped at this value so that a
# label with a handful of positives cannot dominate the loss.
MAX_BALANCED_POS_WEIGHT = 100.0
# threshold='f1': labels with fewer held-out positives share a pooled threshold.
MIN_POSITIVES_TO_TUNE = 5


def _kernel_array(a, dtype):
    """``a`` as the kernels take it: C-contiguous, writable, of ``dtype``.

    Copied only when needed. Numba compiles one specialisation per array type,
    and read-only or non-contiguous arrays are distinct types: passing them
    through would compile the whole engine again for them.
    """
    a = np.asarray(a, dtype=dtype, order="C")
    return a if a.flags.writeable else a.copy()


@contextmanager
def _transaction(estimator):
    """Restore the estimator's previous state if the body raises.

    A failed ``fit``/``partial_fit`` must not leave a half-updated model behind.
    Fitting never mutates the previous arrays in place (it trains on copies), so
    restoring the attribute dictionary is enough -- except for the random stream,
    which shuffling advances in place: its state is restored too, so the next
    ``partial_fit`` shuffles as if the failed call never happened.
    """
    saved = dict(estimator.__dict__)
    rng = saved.get("_random_state")
    rng_state = (
        rng.get_state()
        if isinstance(rng, np.random.RandomState) and rng is not np.random.mtrand._rand
        else None
    )
    try:
        yield
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(saved)
        if rng_state is not None:
            rng.set_state(rng_state)
        raise


def _f1_cut(p, y):
    """Threshold maximising F1 of ``p > threshold`` for one score vector.

    Thresholds sit halfway between consecutive distinct scores; 0.5 when ``y``
    has no positive.
    """
    n_pos = y.sum()
    if n_pos == 0:
        return 0.5
    order = np.argsort(-p, kind="stable")
    p, y = p[order], y[order]
    # Predicting the top k scores positive: tp = cumsum(y), fp = k - tp.
    tp = np.cumsum(y)
    f1 = 2 * tp / (np.arange(1, p.size + 1) + n_pos)
    # Only cut where the next score differs (ties go together).
    valid = np.append(p[1:] < p[:-1], True)
    best = np.flatnonzero(valid)[np.argmax(f1[valid])]
    nxt = p[best + 1] if best + 1 < p.size else 0.0
    return 0.5 * (p[best] + nxt)


def _best_f1_thresholds(P, Y):
    """Per-label thresholds maximising F1 on held-out probabilities.

    A label with at least ``MIN_POSITIVES_TO_TUNE`` observed positives gets the
    threshold maximising its own F1. Rarer labels share one threshold, the one
    maximising micro-F1 over all labels pooled: a threshold tuned on one or two
    positives is noise (measured on medical, whose validation split has 34 rows:
    per-label tuning of every label cut the test micro-F1 from 0.57 to 0.19).
    NaN (missing) labels are skipped.
    """
    P = P.astype(np.float64)
    observed = ~np.isnan(Y)
    pooled = _f1_cut(P[observed], Y[observed])
    thresholds = np.full(P.shape[1], pooled)
    for j in range(P.shape[1]):
        p, y = P[observed[:, j], j], Y[observed[:, j], j]
        if y.sum() >= MIN_POSITIVES_TO_TUNE:
            thresholds[j] = _f1_cut(p, y)
    return thresholds


class BaseMultiLabelMLP(ClassifierMixin, BaseEstimator, metaclass=ABCMeta):
    """Shared implementation of the multi-label MLP estimators.

    Not meant to be used directly: use :class:`MultiHeadMLPClassifier` or
    :class:`BinaryRelevanceMLPClassifier`.
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(numbers.Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"sgd", "adam"})],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(numbers.Integral, 1, None, closed="left"),
        ],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "power_t": [Interval(numbers.Real, 0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(numbers.Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "scoring": [None, str, callable],
        "pos_weight": [None, StrOptions({"balanced"}), "array-like"],
        "threshold": [
            Interval(numbers.Real, 0, 1, closed="both"),
            StrOptions({"f1"}),
            "array-like",
        ],
        "min_labels": [Interval(numbers.Integral, 0, 1, closed="both")],
        "dtype": [None, StrOptions({"float32", "float64"}), type, np.dtype],
        "n_threads": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left"), "array-like"],
    }

    # Whether each label is its own convergence group (binary relevance).
    _per_label_groups = False

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        scoring=None,
        pos_weight=None,
        threshold=0.5,
        min_labels=0,
        dtype=None,
        n_threads=None,
        dropout=0.0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.scoring = scoring
        self.pos_weight = pos_weight
        self.threshold = threshold
        self.min_labels = min_labels
        self.dtype = dtype
        self.n_threads = n_threads
        self.dropout = dropout

    # ------------------------------------------------------------------------
    # Layout hooks
    # ------------------------------------------------------------------------

    @abstractmethod
    def _make_plan(self, n_features, n_outputs, hidden):
        """The :class:`~skmultihead._engine.LayerPlan` of the network."""

    @abstractmethod
    def _init_params(self, plan, hidden, rng, dtype):
        """Glorot-initialised flat parameter buffer for ``plan``."""

    @abstractmethod
    def _coef_view(self, layer):
        """``coefs_[layer]`` as a view of the flat parameter buffer."""

    @abstractmethod
    def _intercept_view(self, layer):
        """``intercepts_[layer]`` as a view of the flat parameter buffer."""

    def _freeze_constant_labels(self, Y, params):
        """Labels to freeze from the start of a fit (per-label networks only)."""
        return np.empty(0, dtype=np.int64)

    def _glorot(self, rng, fan_in, fan_out, dtype):
        """Weights and biases as ``MLPClassifier._init_coef`` draws them."""
        factor = 2.0 if self.activation == "logistic" else 6.0
        bound = np.sqrt(factor / (fan_in + fan_out))
        coef = rng.uniform(-bound, bound, (fan_in, fan_out))
        intercept = rng.uniform(-bound, bound, fan_out)
        return coef.astype(dtype, copy=False), intercept.astype(dtype, copy=False)

    # ------------------------------------------------------------------------
    # coefs_ / intercepts_ as views of the flat buffer
    # ------------------------------------------------------------------------

    def __sklearn_is_fitted__(self):
        return "_params" in self.__dict__

    def _fitted_state(self, name):
        if "_params" not in self.__dict__:
            raise AttributeError(
                f"'{type(self).__name__}' object has no attribute '{name}' "
                "(it is set by fit)."
            )

    @property
    def coefs_(self):
        self._fitted_state("coefs_")
        return [self._coef_view(i) for i in range(len(self._plan.blocks))]

    @coefs_.setter
    def coefs_(self, values):
        self._assign_views("coefs_", self.coefs_, values)

    @property
    def intercepts_(self):
        self._fitted_state("intercepts_")
        return [self._intercept_view(i) for i in range(len(self._plan.blocks))]

    @intercepts_.setter
    def intercepts_(self, values):
        self._assign_views("intercepts_", self.intercepts_, values)

    def _assign_views(self, name, views, values):
        if len(values) != len(views):
            raise ValueError(
                f"{name} must have {len(views)} arrays, got {len(values)}."
            )
        # Check and convert everything first: a bad array must not leave the
        # earlier layers already overwritten.
        arrays = []
        for i, (view, value) in enumerate(zip(views, values)):
            value = np.asarray(value)
            if value.shape != view.shape:
                raise ValueError(
                    f"{name}[{i}] must have shape {view.shape}, got {value.shape}."
                )
            arrays.append(value.astype(view.dtype, copy=False))
        for view, value in zip(views, arrays):
            view[...] = value
        # The weights no longer come from the recorded training: a warm-started
        # fit must not compare its losses with the old best loss.
        self._unit_best_loss = None
        if self.best_loss_ is not None:
            self.best_loss_ = np.inf

    # ------------------------------------------------------------------------
    # Validation at the boundary
    # ------------------------------------------------------------------------

    def _float_dtype(self, X):
        if self.dtype is not None:
            dtype = np.dtype(self.dtype)
            if dtype not in (np.float32, np.float64):
                raise ValueError(
                    f"dtype must be float32, float64 or None, got {self.dtype!r}."
                )
            return dtype
        dtype = getattr(X, "dtype", None)
        if dtype is not None and dtype in (np.float32, np.float64):
            return np.dtype(dtype)
        return np.dtype(np.float64)

    def _validate_X(self, X, *, reset, dtype=None):
        if dtype is None:
            dtype = self._float_dtype(X)
        X = validate_data(
            self,
            X,
            reset=reset,
            accept_sparse="csr",
            dtype=dtype,
            order="C",
            ensure_min_features=1,
        )
        if sparse.issparse(X):
            X = X.tocsr()
            if X.indices.dtype != X.indptr.dtype:
                index_dtype = np.result_type(X.indices.dtype, X.indptr.dtype)
                X.indices = X.indices.astype(index_dtype)
                X.indptr = X.indptr.astype(index_dtype)
        return X

    def _validate_targets(self, y, n_samples, *, first, classes=None):
        """Targets as a float matrix (NaN = missing label) and the class info.

        Returns ``(Y, classes, binary_1d)``.
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        if sparse.issparse(y):
            y = y.toarray()
        if isinstance(y, (str, bytes, dict, set)) or np.isscalar(y):
            raise TypeError(
                f"Y must be an array-like 0/1 indicator matrix, got {type(y)}."
            )
        if isinstance(y, (list, tuple)) and any(
            isinstance(v, (list, tuple, set, frozenset)) for v in y
        ):
            lengths = {
                len(v) for v in y if isinstance(v, (list, tuple, set, frozenset))
            }
            if len(lengths) > 1 or any(isinstance(v, set | frozenset) for v in y):
                raise ValueError(
                    "Y looks like a list of label lists; convert it to a 0/1 "
                    "indicator matrix with sklearn.preprocessing.MultiLabelBinarizer."
                )
        y = np.asarray(y)
        if y.ndim == 1:
            Y, classes = self._binary_targets(y, first=first, classes=classes)
            binary_1d = True
        elif y.ndim == 2:
            Y, classes = self._indicator_targets(y, first=first)
            binary_1d = False
        else:
            raise ValueError(f"Y must be 1-D or 2-D, got an array of shape {y.shape}.")
        if Y.shape[0] != n_samples:
            raise ValueError(
                "Found input variables with inconsistent numbers of samples: "
                f"X has {n_samples} samples but Y has {Y.shape[0]}."
            )
        return Y, classes, binary_1d

    def _binary_targets(self, y, *, first, classes):
        if not first and not self._binary_1d:
            raise ValueError(
                f"The model was fitted on a 2-D indicator Y with {self.n_outputs_} "
                "labels, got a 1-D y."
            )
        target_type = type_of_target(y, input_name="y")
        if target_type == "multiclass":
            raise ValueError(
                "Only binary classification is supported. "
                f"{type(self).__name__} is a multi-label (and binary) classifier: "
                "y has more than two classes. For multiclass classification use "
                "sklearn.neural_network.MLPClassifier (softmax output), or pass a "
                "2-D 0/1 indicator matrix if samples can have several labels."
            )
        if target_type not in ("binary",):
            raise ValueError(f"Unknown label type: {target_type!r}.")
        if first:
            if classes is None:
                classes = np.unique(y)
            else:
                given = np.asarray(classes)
                if given.ndim != 1 or np.unique(given).size != given.size:
                    raise ValueError(
                        "classes must be a 1-D array of distinct class labels, got "
                        f"{classes!r}."
                    )
                classes = np.unique(given)  # sorted, as scikit-learn's classes_
            if classes.size == 1:
                raise ValueError(
                    "Classifier can't train when only one class is present in a "
                    "1-D y; pass classes= with both classes or a 2-D indicator Y."
                )
            if classes.size != 2:
                raise ValueError(
                    f"A 1-D y must have 2 classes, got {classes.size}: {classes}."
                )
        else:
            classes = self.classes_
        unseen = np.setdiff1d(np.unique(y), classes)
        if unseen.size:
            raise ValueError(f"y contains labels not in classes_ {classes}: {unseen}.")
        Y = (y == classes[1]).astype(np.float64).reshape(-1, 1)
        return Y, classes

    def _indicator_targets(self, y, *, first):
        if y.dtype.kind not in "biuf":
            raise ValueError(
                "Y must be a numeric 0/1 indicator matrix (NaN marks a missing "
                f"label), got dtype {y.dtype}. For lists of label names use "
                "sklearn.preprocessing.MultiLabelBinarizer."
            )
        Y = y.astype(np.float64)
        if Y.shape[1] == 0:
            raise ValueError("Y has 0 labels (columns); at least one is required.")
        observed = Y[~np.isnan(Y)]
        bad = observed[(observed != 0) & (observed != 1)]
        if bad.size:
            raise ValueError(
                "Y must contain only 0 and 1 (and NaN for missing labels); found "
                f"{np.unique(bad)[:5]}."
            )
        if not first:
            if self._binary_1d:
                raise ValueError("The model was fitted on a 1-D binary y, got a 2-D Y.")
            if Y.shape[1] != self.n_outputs_:
                raise ValueError(
                    f"Y has {Y.shape[1]} labels but the model was fitted with "
                    f"{self.n_outputs_} labels."
                )
        return Y, np.arange(Y.shape[1])

    def _hidden_sizes(self):
        hidden = self.hidden_layer_sizes
        if isinstance(hidden, numbers.Integral):
            hidden = [hidden]
        hidden = list(hidden)
        if any(not isinstance(h, numbers.Integral) or h < 1 for h in hidden):
            raise ValueError(
                "hidden_layer_sizes must contain positive integers, got "
                f"{self.hidden_layer_sizes}."
            )
        return [int(h) for h in hidden]

    def _dropout_rates(self):
        """``(input_rate, hidden_rate)`` of the ``dropout`` parameter."""
        if isinstance(self.dropout, numbers.Real):
            rates = (0.0, float(self.dropout))
        else:
            rates = tuple(np.asarray(self.dropout, dtype=np.float64).ravel())
        if len(rates) != 2 or not all(0.0 <= r < 1.0 for r in rates):
            raise ValueError(
                "dropout must be a float in [0, 1) or a pair (input_rate, "
                f"hidden_rate) of floats in [0, 1), got {self.dropout!r}."
            )
        return rates

    def _resolve_pos_weight(self, Y, sample_weight):
        n_outputs = Y.shape[1]
        if self.pos_weight is None:
            return np.ones(n_outputs)
        if isinstance(self.pos_weight, str):  # 'balanced', from this fit's rows
            observed = ~np.isnan(Y)
            pos = sample_weight @ np.where(observed, Y, 0.0)
            neg = sample_weight @ np.where(observed, 1.0 - Y, 0.0)
            # n_neg / n_pos; 1 for a label without positives or negatives here
            with np.errstate(divide="ignore", invalid="ignore"):
                weight = np.where((pos > 0) & (neg > 0), neg / pos, 1.0)
            return np.clip(
                weight, 1.0 / MAX_BALANCED_POS_WEIGHT, MAX_BALANCED_POS_WEIGHT
            )
        weight = np.asarray(self.pos_weight, dtype=np.float64).ravel()
        if (
            weight.shape != (n_outputs,)
            or not np.all(np.isfinite(weight))
            or np.any(weight < 0)
        ):
            raise ValueError(
                f"pos_weight must be None, 'balanced' or {n_outputs} non-negative "
                f"finite numbers (one per label), got {self.pos_weight!r}."
            )
        return weight

    def _fixed_threshold(self, n_outputs):
        if isinstance(self.threshold, str):  # 'f1': tuned after training
            return np.full(n_outputs, 0.5)
        threshold = np.asarray(self.threshold, dtype=np.float64)
        if threshold.ndim == 0:
            threshold = np.full(n_outputs, float(threshold))
        if threshold.shape != (n_outputs,) or np.any(
            ~((threshold >= 0) & (threshold <= 1))
        ):
            raise ValueError(
                f"threshold must be a number in [0, 1], 'f1' or {n_outputs} numbers "
                f"in [0, 1] (one per label), got {self.threshold!r}."
            )
        return threshold

    # ------------------------------------------------------------------------
    # Public API
    # ------------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, X_val=None, Y_val=None):
        """Fit the model to data matrix X and target(s) Y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data. Sparse input is used as CSR without densifying.

        y : {array-like, sparse matrix} of shape (n_samples, n_labels) or \
                (n_samples,)
            Targets: a 0/1 label indicator matrix Y (NaN marks a missing label),
            or a 1-D binary target.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        X_val : {array-like, sparse matrix} of shape (n_val_samples, n_features), \
                default=None
            Validation data for early stopping and threshold tuning. When given,
            no internal validation split is made.

        Y_val : {array-like, sparse matrix}, default=None
            Targets of ``X_val``.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        with _transaction(self):
            return self._fit(X, y, sample_weight, X_val, Y_val, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with one pass (one epoch) over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        y : {array-like, sparse matrix} of shape (n_samples, n_labels) or \
                (n_samples,)
            Targets: a 0/1 label indicator matrix Y (NaN marks a missing label),
            or a 1-D binary target. The number of labels is taken from the first
            call; later calls must have the same width.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        classes : array-like of shape (2,), default=None
            Only for a 1-D ``y``: the two classes, needed on the first call when
            that call's ``y`` does not contain both. Ignored for an indicator Y.

        Returns
        -------
        self : object
            Updated estimator.
        """
        with _transaction(self):
            return self._fit(
                X, y, sample_weight, None, None, incremental=True, classes=classes
            )

    def decision_function(self, X):
        """Logit of every label (before the sigmoid).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        logits : ndarray of shape (n_samples, n_labels) or (n_samples,)
            One logit per label; a 1-D array for a model fitted on a 1-D binary y.
        """
        Z = self._raw(X, sigmoid=False)
        return Z.ravel() if self._binary_1d else Z

    def predict_proba(self, X):
        """Probability of every label, each from its own sigmoid.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_labels) or (n_samples, 2)
            ``proba[i, j]`` is the probability that sample ``i`` has label ``j``.
            Rows do not sum to one: labels do not compete. For a model fitted on
            a 1-D binary y, the two columns are the probabilities of
            ``classes_[0]`` and ``classes_[1]``.
        """
        P = self._raw(X, sigmoid=True)
        if self._binary_1d:
            return np.hstack([1.0 - P, P])
        return P

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed stably from the logits.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_proba : ndarray of the same shape as ``predict_proba(X)``
            Log-probabilities.
        """
        Z = self._raw(X, sigmoid=False)
        # log sigmoid(z) = -softplus(-z); log(1 - sigmoid(z)) = -softplus(z)
        log_p = -np.logaddexp(0.0, -Z)
        if self._binary_1d:
            return np.hstack([-np.logaddexp(0.0, Z), log_p])
        return log_p

    def predict(self, X):
        """Predict the labels of every sample using ``threshold_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        Y : ndarray of shape (n_samples, n_labels) or (n_samples,)
            0/1 indicator matrix (label ``j`` is predicted when its probability
            exceeds ``threshold_[j]``; with ``min_labels=1`` the most probable
            label is added to samples that would get none), or the predicted
            class for a model fitted on a 1-D binary y.
        """
        P = self._raw(X, sigmoid=True)
        Y = (P > self.threshold_).astype(np.int64)
        if self._binary_1d:
            return self.classes_[Y.ravel()]
        if self.min_labels and Y.shape[0]:
            empty = ~Y.any(axis=1)
            Y[empty, np.argmax(P[empty], axis=1)] = 1
        return Y

    def _raw(self, X, *, sigmoid):
        check_is_fitted(self)
        if not self._is_clean_array(X):
            X = self._validate_X(X, reset=False, dtype=self._params.dtype)
        return predict_raw(
            X, self._params, self._plan, self._act_code, sigmoid, self.n_threads
        )

    def _is_clean_array(self, X):
        """Fast path for latency: an ndarray that needs no conversion at all.

        True only for a C-contiguous, finite, non-empty 2-D ndarray of the
        model's dtype with the right number of columns, when the model was not
        fitted with feature names; everything else goes through
        ``validate_data`` (which gives the error messages).
        """
        return (
            type(X) is np.ndarray
            and X.ndim == 2
            and X.dtype == self._params.dtype
            and X.flags.c_contiguous
            and X.shape[0] > 0
            and X.shape[1] == self.n_features_in_
            and not hasattr(self, "feature_names_in_")
            # A sum is finite iff every value is (or it overflowed: then the
            # slow path decides); no (n_samples, n_features) boolean temporary.
            and bool(np.isfinite(X.sum()))
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.classifier_tags.multi_class = False
        tags.target_tags.multi_output = True
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------------------
    # Training
    # ------------------------------------------------------------------------

    def _fit(self, X, Y, sample_weight, X_val, Y_val, *, incremental, classes=None):
        fitted = self.__sklearn_is_fitted__()
        reuse = fitted and (incremental or self.warm_start)
        X = self._validate_X(
            X,
            reset=not reuse,
            dtype=self._params.dtype if reuse and self.dtype is None else None,
        )
        Y_user = Y
        Y, classes, binary_1d = self._validate_targets(
            Y, X.shape[0], first=not reuse, classes=classes
        )
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        if not sample_weight.sum() > 0:
            raise ValueError("sample_weight must have a positive sum.")
        # Frequency weights: weights c * w are the objective of w with alpha / c.
        # Rescale by a power of two (exact, so in-range weights give the same
        # bits) to put the largest weight in [1, 2): weight sums cannot overflow
        # and no weight leaves the training dtype's range.
        _, exponent = np.frexp(sample_weight.max())
        sample_weight = np.ldexp(sample_weight, 1 - exponent)
        alpha = float(np.ldexp(self.alpha, 1 - exponent))
        dtype = X.dtype
        hidden = self._hidden_sizes()
        self._dropout_rates()  # validated before anything is drawn or changed
        if reuse:
            self._check_same_architecture(X.shape[1], Y.shape[1], hidden)
            if not self._tunes_threshold():
                self.threshold_ = self._fixed_threshold(Y.shape[1])
        else:
            self.classes_ = classes
            self._binary_1d = binary_1d
        if not reuse or not incremental:
            self._random_state = check_random_state(self.random_state)
        if not reuse:
            self._initialize(X.shape[1], Y.shape[1], hidden, dtype)

        val = None
        if not incremental:
            X, Y, Y_user, sample_weight, val = self._validation_data(
                X, Y, Y_user, sample_weight, X_val, Y_val
            )
        if not incremental or not reuse:
            self.pos_weight_ = self._resolve_pos_weight(Y, sample_weight)
        # Fresh containers: the transaction restores the previous ones on failure.
        self.loss_curve_ = list(self.loss_curve_)
        if val is not None:
            self.validation_scores_ = list(self.validation_scores_ or [])
            self.validation_loss_curve_ = list(self.validation_loss_curve_ or [])
            if self.early_stopping and self.best_validation_score_ is None:
                self.best_validation_score_ = -np.inf
        self._train(
            X,
            Y,
            sample_weight,
            val,
            incremental=incremental,
            fresh_optimizer=not incremental or not reuse,
            fresh_params=not reuse,
            alpha=alpha,
        )
        return self

    def _check_same_architecture(self, n_features, n_outputs, hidden):
        plan = self._make_plan(n_features, n_outputs, hidden)
        if not plan.same_shape(self._plan):
            raise ValueError(
                "warm_start/partial_fit needs the same architecture as the fitted "
                f"model: hidden_layer_sizes={tuple(hidden)} with {n_outputs} labels "
                f"differs from the fitted network ({self.n_outputs_} labels)."
            )

    def _initialize(self, n_features, n_outputs, hidden, dtype):
        plan = self._make_plan(n_features, n_outputs, hidden)
        self._plan = plan
        self._params = self._init_params(plan, hidden, self._random_state, dtype)
        self.n_outputs_ = n_outputs
        self.n_layers_ = len(hidden) + 2
        self.out_activation_ = "logistic"
        self.n_iter_ = (
            np.zeros(n_outputs, dtype=np.int64) if self._per_label_groups else 0
        )
        self.t_ = 0
        self.loss_curve_ = []
        self.validation_scores_ = [] if self._uses_validation() else None
        self.validation_loss_curve_ = [] if self._uses_validation() else None
        self.best_validation_score_ = -np.inf if self.early_stopping else None
        self.best_loss_ = None if self.early_stopping else np.inf
        self._unit_best_loss = None
        self.threshold_ = self._fixed_threshold(n_outputs)
        self.pos_weight_ = np.ones(n_outputs)

    def _uses_validation(self):
        return self.early_stopping or self._tunes_threshold()

    def _tunes_threshold(self):
        return isinstance(self.threshold, str) and self.threshold == "f1"

    def _validation_data(self, X, Y, Y_user, sample_weight, X_val, Y_val):
        """Split off (or validate) the validation set; returns the train part too."""
        if (X_val is None) != (Y_val is None):
            raise ValueError("X_val and Y_val must be given together.")
        if X_val is not None:
            try:
                Xv = self._validate_X(X_val, reset=False, dtype=X.dtype)
                Yv, _, _ = self._validate_targets(Y_val, Xv.shape[0], first=False)
            except (ValueError, TypeError) as exc:
                kind = ValueError if isinstance(exc, ValueError) else TypeError
                raise kind(f"Invalid validation set (X_val, Y_val): {exc}") from exc
            val = (Xv, Yv, Y_val, np.ones(Xv.shape[0]))
            return X, Y, Y_user, sample_weight, val
        if not self._uses_validation():
            return X, Y, Y_user, sample_weight, None
        from .model_selection import iterative_train_test_split

        if X.shape[0] < 2:
            raise ValueError(
                "early_stopping and threshold='f1' need at least 2 samples to "
                f"hold out a validation set, got {X.shape[0]}."
            )
        train, test = iterative_train_test_split(
            Y, test_size=self.validation_fraction, random_state=self._random_state
        )
        Y_user = np.asarray(Y_user) if not sparse.issparse(Y_user) else Y_user
        if not sample_weight[test].sum() > 0:
            raise ValueError(
                "The validation split (validation_fraction="
                f"{self.validation_fraction}) has zero total sample_weight, so "
                "early stopping and threshold tuning cannot use it; pass X_val and "
                "Y_val, or give the held-out rows positive weights."
            )
        val = (X[test], Y[test], Y_user[test], sample_weight[test])
        return X[train], Y[train], Y_user[train], sample_weight[train], val

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is "
                "going to be clipped"
            )
        return int(np.clip(self.batch_size, 1, n_samples))

    def _reference_loss(self, X, Y, params, plan, act_code):
        """Loss the divergence guard compares with: that of the weights this
        call starts from, on (up to) 64 rows, and at least the loss of
        predicting 1/2 for every label."""
        m = min(X.shape[0], 64)
        logits = predict_raw(X[:m], params, plan, act_code, False, self.n_threads)
        start = float(_bce_per_label(logits, Y[:m], np.ones(m)).sum())
        baseline = np.log(2.0) * float(np.maximum(self.pos_weight_, 1.0).sum())
        return max(start, baseline) if np.isfinite(start) else baseline

    def _train(
        self,
        X,
        Y,
        sample_weight,
        val,
        *,
        incremental,
        fresh_optimizer,
        fresh_params,
        alpha,
    ):
        plan = self._plan
        dtype = X.dtype
        # Train on a copy of a fitted model's weights (a failed fit must leave
        # them untouched); weights drawn by this very call need no copy.
        params = self._params.astype(dtype, copy=not fresh_params)
        n_samples = X.shape[0]
        n_groups = plan.n_groups
        solver = K.ADAM if self.solver == "adam" else K.SGD
        n_moments = 2 if solver == K.ADAM else 1
        if (
            fresh_optimizer
            or self._opt_state.shape != (n_moments, plan.n_params)
            or self._opt_state.dtype != dtype
        ):
            state = np.zeros((2 if solver == K.ADAM else 1, plan.n_params), dtype=dtype)
            adam_t = 0
            group_lr = np.full(n_groups, float(self.learning_rate_init))
        else:
            state = self._opt_state.copy()
            adam_t = self._adam_t
            group_lr = self._group_lr.copy()
        hyper = np.array(
            [alpha, self.beta_1, self.beta_2, self.epsilon, self.momentum],
            dtype=np.float64,
        )
        dropout = self._dropout_rates()
        # The dropout seed is drawn only with dropout, last before the epochs:
        # fits without dropout draw exactly what they drew before it existed.
        seed = (
            self._random_state.randint(2**63 - 1, dtype=np.int64) if any(dropout) else 0
        )
        runner = EpochRunner(
            X,
            _kernel_array(Y, dtype),
            _kernel_array(sample_weight, dtype),
            _kernel_array(self.pos_weight_, dtype),
            plan,
            self._batch_size(n_samples),
            dtype,
            dropout=dropout,
            dropout_seed=seed,
        )
        monitor = _Monitor(self, plan, Y.shape[1], params, val, incremental)
        if not incremental:
            monitor.frozen[self._freeze_constant_labels(Y, params)] = True
        order = np.arange(n_samples)
        act_code = ACTIVATION_CODES[self.activation]
        self._act_code = act_code  # what predict uses, whatever set_params does later
        monitor.reference_loss = self._reference_loss(X, Y, params, plan, act_code)
        nesterov = bool(self.nesterovs_momentum)
        max_epochs = 1 if incremental else self.max_iter
        with engine_context(self.n_threads):
            for _ in range(max_epochs):
                if self.shuffle:
                    perm = np.arange(n_samples)
                    self._random_state.shuffle(perm)
                    order = order[perm]
                try:
                    adam_t, label_loss, group_l2 = runner.run(
                        order,
                        params,
                        state,
                        monitor.frozen,
                        group_lr,
                        act_code,
                        solver,
                        nesterov,
                        hyper,
                        adam_t,
                    )
                except KeyboardInterrupt:
                    warnings.warn("Training interrupted by user.")
                    break
                self.t_ += n_samples
                if self.learning_rate == "invscaling" and solver == K.SGD:
                    group_lr[:] = (
                        self.learning_rate_init / (self.t_ + 1) ** self.power_t
                    )
                if not monitor.end_epoch(label_loss, group_l2, group_lr):
                    break
            else:
                if not incremental and monitor.any_active():
                    warnings.warn(
                        "Stochastic Optimizer: Maximum iterations "
                        f"({self.max_iter}) reached and the optimization hasn't "
                        "converged yet.",
                        ConvergenceWarning,
                    )
        if not np.all(np.isfinite(params)):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may "
                "contain large values and need to be preprocessed, or the learning "
                "rate may be too large."
            )
        monitor.finish()
        self._params = params
        self._opt_state = state
        self._adam_t = adam_t
        self._group_lr = group_lr
        if self._tunes_threshold() and val is not None:
            P = predict_raw(val[0], params, plan, act_code, True, self.n_threads)
            self.threshold_ = _best_f1_thresholds(P, val[1])
