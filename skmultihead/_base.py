"""Base class shared by both multi-label MLP estimators.

Everything that does not depend on how the weights are laid out lives here once:
validation, initialisation, the epoch loop, convergence and early stopping,
thresholds, ``partial_fit`` and prediction. A subclass only says which layer plan
its network has, how weights are initialised and how the flat buffer is shown as
``coefs_``/``intercepts_``.
"""

import numbers
import warnings
from abc import ABCMeta
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
from ._layout import Layout, member_average
from ._monitor import _bce_per_label, _Monitor
from ._thresholds import (  # noqa: F401 (names of the tests)
    MIN_POSITIVES_TO_TUNE,
    STRATEGIES,
    _best_f1_thresholds,
    _f1_cut,
    tune_thresholds,
)
from ._warnings import TrainingInterruptedWarning, warn_user

# 'balanced' positive weights n_neg / n_pos are capped at this value so that a
# label with a handful of positives cannot dominate the loss.
MAX_BALANCED_POS_WEIGHT = 100.0

# What the 'auto' options resolve to (see BaseMultiLabelMLP._resolve_options and
# the measurements in benchmarks/results/quality.md).
AUTO_FOLDS = 5
AUTO_MIN_SAMPLES = 100  # fewer rows: no cross-fitting (folds of < 20 rows)
AUTO_ALPHAS = (1e-3, 1e-1, 10.0)
AUTO_THRESHOLD = "f1_shrunk"
PLAIN_ALPHA = 1e-4  # alpha='auto' without held-out data (MLPClassifier's)

SKLEARN_PARITY = dict(
    hidden_layer_sizes=(100,),
    alpha=1e-4,
    learning_rate_init=1e-3,
    cv=None,
    early_stopping=False,
    threshold=0.5,
    n_members=1,
    tower_layer_sizes=(),
)
"""Parameters that make :class:`MultiHeadMLPClassifier` train exactly as
:class:`~sklearn.neural_network.MLPClassifier` with its defaults (same
initialisation, shuffles and updates): ``MultiHeadMLPClassifier(**SKLEARN_PARITY)``.
"""


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


def _held_out_loss(P, Y, sample_weight):
    """Sample-weighted mean over rows of the BCE summed over labels (NaN labels
    skipped), from probabilities clipped as scikit-learn's ``log_loss`` does."""
    eps = np.finfo(np.float64).eps
    P = np.clip(P.astype(np.float64), eps, 1.0 - eps)
    observed = ~np.isnan(Y)
    Yz = np.where(observed, Y, 0.0)
    terms = -(Yz * np.log(P) + (1.0 - Yz) * np.log1p(-P))
    return float(sample_weight @ np.where(observed, terms, 0.0).sum(axis=1)) / float(
        sample_weight.sum()
    )


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
        "tower_layer_sizes": [
            "array-like",
            Interval(numbers.Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"sgd", "adam"})],
        "alpha": [
            Interval(numbers.Real, 0, None, closed="left"),
            "array-like",
            StrOptions({"auto"}),
        ],
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
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "scoring": [None, str, callable],
        "pos_weight": [None, StrOptions({"balanced"}), "array-like"],
        "threshold": [
            Interval(numbers.Real, 0, 1, closed="both"),
            StrOptions({"auto", *STRATEGIES}),
            "array-like",
        ],
        "min_labels": [Interval(numbers.Integral, 0, 1, closed="both")],
        "dtype": [None, StrOptions({"float32", "float64"}), type, np.dtype],
        "n_threads": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "n_members": [Interval(numbers.Integral, 1, None, closed="left")],
        "cv": [
            None,
            Interval(numbers.Integral, 2, None, closed="left"),
            "cv_object",
            StrOptions({"auto"}),
        ],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left"), "array-like"],
    }

    # Whether the hidden layers are shared by all labels (False: binary
    # relevance, every label's network is private).
    _shared_trunk = True

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha="auto",
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.003,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping="auto",
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        scoring=None,
        pos_weight=None,
        threshold="auto",
        min_labels=0,
        dtype=None,
        n_threads=None,
        n_members=1,
        cv="auto",
        tower_layer_sizes=(),
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
        self.n_members = n_members
        self.cv = cv
        self.tower_layer_sizes = tower_layer_sizes
        self.dropout = dropout

    # ------------------------------------------------------------------------
    # Layout hooks
    # ------------------------------------------------------------------------

    def _member_layers(self, n_features, n_outputs, hidden):
        """Layers ``(n_blocks, fan_in, fan_out, split)`` of one member network
        (see :mod:`skmultihead._layout`): the shared trunk of dense layers, then
        one tower per label (all labels' first tower layers side by side in one
        dense layer, later ones block-diagonal) ending in the label's logit.
        Without towers, the trunk's last layer gives all logits at once."""
        trunk, towers = self._architecture(hidden)
        layers = []
        width = n_features
        for size in trunk:
            layers.append((1, width, size, 0))
            width = size
        if not towers and self._shared_trunk:
            layers.append((1, width, n_outputs, 0))
            return layers
        L = n_outputs
        sizes = [*towers, 1]
        layers.append((1, width, L * sizes[0], L))
        layers += [(L, a, b, L) for a, b in zip(sizes[:-1], sizes[1:])]
        return layers

    def _architecture(self, hidden):
        """``(trunk, towers)`` layer sizes: the network's shared hidden layers and
        each label's private ones."""
        towers = self._tower_sizes()
        if self._shared_trunk:
            return list(hidden), towers
        return [], [*hidden, *towers]  # binary relevance: nothing shared

    def _per_label_groups(self, hidden):
        """Whether every label's network converges (and is frozen) on its own:
        when nothing is shared, i.e. towers without a trunk."""
        trunk, towers = self._architecture(hidden)
        return not trunk and (bool(towers) or not self._shared_trunk)

    def _make_layout(self, n_features, n_outputs, hidden, n_members=1):
        layers = self._member_layers(n_features, n_outputs, hidden)
        per_label = self._per_label_groups(hidden)
        return Layout(layers, n_outputs, per_label, n_members)

    def _make_plan(self, n_features, n_outputs, hidden, n_members=1):
        """The engine's :class:`~skmultihead._engine.LayerPlan` of the network."""
        return self._make_layout(n_features, n_outputs, hidden, n_members).plan

    @property
    def _layout(self):
        """The fitted :class:`~skmultihead._layout.Layout`, rebuilt from the plain
        ``_layout_spec`` kept in the fitted state (and cached outside it)."""
        cache = self.__dict__.get("_layout_cache")
        spec = self._layout_spec
        if cache is None or cache[0] != spec:
            layers, n_labels, per_label, n_members = spec
            cache = (spec, Layout(layers, n_labels, per_label, n_members))
            self.__dict__["_layout_cache"] = cache
        return cache[1]

    @property
    def _plan(self):
        return self._layout.plan

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_layout_cache", None)
        return state

    def __copy__(self):
        # A shallow copy shares the layout cache (pickling drops it).
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        return clone

    def _freeze_constant_labels(self, Y, params):
        """Per-label networks only (nothing shared): set each constant label's
        network to output that constant and freeze it.

        A label whose observed values are all 0 (all 1) gets zero output weights
        and an output bias of ``-log(1/eps)`` (``+log(1/eps)``), i.e. a
        probability within machine precision of the constant; a label with no
        observed value at all predicts 0.5. Returns the frozen labels.
        """
        if not self._layout.per_label_groups:
            return np.empty(0, dtype=np.int64)
        observed = ~np.isnan(Y)
        n_pos = np.where(observed, Y, 0.0).sum(axis=0)
        n_obs = observed.sum(axis=0)
        constant = np.flatnonzero((n_pos == 0) | (n_pos == n_obs))
        if constant.size == 0:
            return constant
        warn_user(
            f"Labels {constant.tolist()} are constant in the training data (or "
            "have no observed value); their networks predict that constant.",
            UserWarning,
        )
        W, b = self._layout.output_views(params)  # (members, labels, ...)
        big = np.log(1.0 / np.finfo(params.dtype).eps)
        for j in constant:
            W[:, j] = 0.0
            sign = 0.0 if n_obs[j] == 0 else (1.0 if n_pos[j] > 0 else -1.0)
            b[:, j] = sign * big
        # The frozen groups: label j of every member.
        n_labels = Y.shape[1]
        members = np.arange(self._n_members())
        return (members[:, None] * n_labels + constant[None, :]).ravel()

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
        layout = self._layout
        return [layout.coef_view(self._params, i) for i in range(len(layout.layers))]

    @coefs_.setter
    def coefs_(self, values):
        self._assign_views("coefs_", self.coefs_, values)

    @property
    def intercepts_(self):
        self._fitted_state("intercepts_")
        layout = self._layout
        return [
            layout.intercept_view(self._params, i) for i in range(len(layout.layers))
        ]

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
        return self._layer_sizes("hidden_layer_sizes")

    def _tower_sizes(self):
        return self._layer_sizes("tower_layer_sizes")

    def _layer_sizes(self, name):
        sizes = getattr(self, name)
        if isinstance(sizes, numbers.Integral):
            sizes = [sizes]
        sizes = list(sizes)
        if any(not isinstance(h, numbers.Integral) or h < 1 for h in sizes):
            raise ValueError(
                f"{name} must contain positive integers, got {getattr(self, name)}."
            )
        return [int(h) for h in sizes]

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
        option = self._threshold_option
        if isinstance(option, str):  # tuned after training
            return np.full(n_outputs, 0.5)
        threshold = np.asarray(option, dtype=np.float64)
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
        Z = self._logits(X)
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
        P = self._proba(X)
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
        log_p, log_q = self._log_proba_pair(X)
        if self._binary_1d:
            return np.hstack([log_q, log_p])
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
        P = self._proba(X)
        Y = (P > self.threshold_).astype(np.int64)
        if self._binary_1d:
            return self.classes_[Y.ravel()]
        if self.min_labels and Y.shape[0]:
            empty = ~Y.any(axis=1)
            Y[empty, np.argmax(P[empty], axis=1)] = 1
        return Y

    def _n_members(self):
        check_is_fitted(self)
        return self._layout_spec[3]

    def _proba(self, X):
        """Probabilities, averaged over the members."""
        return member_average(self._raw(X, sigmoid=True), self._n_members())

    def _log_proba_pair(self, X):
        """``(log p, log(1 - p))`` of the member-averaged probabilities, computed
        stably from the logits."""
        Z = self._raw(X, sigmoid=False)
        # log sigmoid(z) = -softplus(-z); log(1 - sigmoid(z)) = -softplus(z)
        log_p, log_q = -np.logaddexp(0.0, -Z), -np.logaddexp(0.0, Z)
        M = self._n_members()
        if M == 1:
            return log_p, log_q
        n = Z.shape[0]

        def log_mean(a):
            a = a.reshape(n, M, -1)
            top = a.max(axis=1)
            return top + np.log(np.exp(a - top[:, None, :]).mean(axis=1))

        return log_mean(log_p), log_mean(log_q)

    def _logits(self, X):
        """Logits of the member-averaged probabilities (the raw logits for one
        member)."""
        if self._n_members() == 1:
            return self._raw(X, sigmoid=False)
        log_p, log_q = self._log_proba_pair(X)
        return log_p - log_q

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
        self._weight_exponent = int(exponent) - 1  # alpha_ undoes the rescaling
        dtype = X.dtype
        hidden = self._hidden_sizes()
        self._dropout_rates()  # validated before anything is drawn or changed
        self._resolve_options(
            X.shape[0], X_val is not None, incremental, reuse, binary_1d
        )
        # Cross-fitting: n_folds groups of members, each never trained on its
        # own fold (see _member_targets); partial_fit trains every member on
        # every row.
        cross_fit = self._cv_option is not None
        alphas = self._alpha_candidates(
            reuse, incremental, cross_fit or X_val is not None
        )
        alphas = np.ldexp(alphas, 1 - exponent)
        if cross_fit and self._early_stopping and self.scoring is not None:
            raise ValueError(
                "scoring is not supported with cross-fitting (cv): every fold's "
                "networks stop on their own held-out fold's cross-entropy. Use "
                "cv=None (one validation split) to early-stop on a scorer."
            )
        if reuse and incremental:
            n_members = self._n_members()
        else:
            n_members = alphas.size * self.n_members
            n_members *= self._n_folds() if cross_fit else 1
        if reuse:
            self._check_same_architecture(X.shape[1], Y.shape[1], hidden, n_members)
            if not self._tunes_threshold():
                self.threshold_ = self._fixed_threshold(Y.shape[1])
        else:
            self.classes_ = classes
            self._binary_1d = binary_1d
        if not reuse or not incremental:
            self._random_state = check_random_state(self.random_state)
        if not reuse:
            self._initialize(X.shape[1], Y.shape[1], hidden, dtype, n_members)

        val = None
        folds = None
        if cross_fit:
            folds = self._fold_assignment(X, Y, sample_weight)
        elif not incremental:
            X, Y, Y_user, sample_weight, val = self._validation_data(
                X, Y, Y_user, sample_weight, X_val, Y_val
            )
        if not incremental or not reuse:
            self.pos_weight_ = self._resolve_pos_weight(Y, sample_weight)
        # Fresh containers: the transaction restores the previous ones on failure.
        self.loss_curve_ = list(self.loss_curve_)
        if val is not None or (folds is not None and self._uses_validation()):
            self.validation_scores_ = list(self.validation_scores_ or [])
            self.validation_loss_curve_ = list(self.validation_loss_curve_ or [])
            if self._early_stopping and self.best_validation_score_ is None:
                self.best_validation_score_ = -np.inf
        self._train(
            X,
            Y,
            sample_weight,
            val,
            folds,
            incremental=incremental,
            fresh_optimizer=not incremental or not reuse,
            fresh_params=not reuse,
            alphas=alphas,
        )
        return self

    def _resolve_options(self, n_samples, has_x_val, incremental, reuse, binary_1d):
        """Resolve the 'auto' options of this fit (``_cv_option``,
        ``_early_stopping``, ``_threshold_option``, ``_alpha_option``).

        ``cv='auto'`` cross-fits ``AUTO_FOLDS`` folds when ``fit`` gets at least
        ``AUTO_MIN_SAMPLES`` rows and no ``X_val`` (and no ``scoring``, which is
        evaluated on one validation split); ``early_stopping='auto'`` stops on
        held-out data whenever the fit has some (cross-fitting or ``X_val``) or a
        ``scoring`` is set; ``threshold='auto'`` tunes ``AUTO_THRESHOLD`` thresholds
        on held-out data when there is some (else keeps 0.5) for an indicator Y, and
        is 0.5 for a 1-D binary y (the accuracy-optimal cut of calibrated
        probabilities, as every scikit-learn classifier); ``alpha='auto'`` chooses
        among ``AUTO_ALPHAS`` on held-out data when there is some (else
        ``PLAIN_ALPHA``). ``partial_fit`` never holds data out.
        """
        cv = self.cv
        scored = self.scoring is not None and self.early_stopping is not False
        if isinstance(cv, str):
            # A scorer is evaluated on one validation set: no cross-fitting.
            auto = not incremental and not has_x_val and not scored
            cv = AUTO_FOLDS if auto and n_samples >= AUTO_MIN_SAMPLES else None
        if incremental or has_x_val:
            cv = None
        held_out = cv is not None or (has_x_val and not incremental)
        es = self.early_stopping
        self._cv_option = cv
        if isinstance(es, str):
            es = held_out or (scored and not incremental)
        self._early_stopping = bool(es)
        threshold = self.threshold
        if isinstance(threshold, str) and threshold == "auto" and binary_1d:
            threshold = 0.5
        self._threshold_option = threshold
        alpha = self.alpha
        if isinstance(alpha, str):
            has_validation = held_out or (self._uses_validation() and not incremental)
            alpha = AUTO_ALPHAS if has_validation else PLAIN_ALPHA
            if reuse and has_validation and "alpha_" in self.__dict__:
                alpha = self.alpha_
        self._alpha_option = alpha

    def _alpha_candidates(self, reuse, incremental, has_validation):
        """The L2 strengths this fit trains: ``alpha`` itself, or its candidate
        values (each trained by its own members, the best one kept; a
        warm-started fit or ``partial_fit`` keeps the chosen ``alpha_``)."""
        alpha = self._alpha_option
        alphas = np.asarray(alpha, dtype=np.float64).ravel()
        if np.ndim(alpha) > 1 or alphas.size == 0:
            raise ValueError(
                f"alpha must be a non-negative number or a 1-D list of them, got "
                f"{self.alpha!r}."
            )
        if not np.all(np.isfinite(alphas) & (alphas >= 0)):
            raise ValueError(f"alpha values must be finite and >= 0, got {alphas}.")
        if alphas.size == 1:
            return alphas
        if reuse:
            return np.array([self.alpha_])
        if incremental:
            raise ValueError(
                "partial_fit needs a single alpha: several values are chosen on "
                "validation data, which partial_fit does not hold out."
            )
        if not (has_validation or self._uses_validation()):
            raise ValueError(
                "Several alpha values are chosen on held-out data: set cv (or "
                "early_stopping=True, or a string threshold), or pass X_val/Y_val."
            )
        return alphas

    def _check_same_architecture(self, n_features, n_outputs, hidden, n_members):
        plan = self._make_plan(n_features, n_outputs, hidden, n_members)
        if not plan.same_shape(self._plan):
            raise ValueError(
                "warm_start/partial_fit needs the same architecture as the fitted "
                f"model: hidden_layer_sizes={tuple(hidden)} with {n_outputs} labels "
                f"and {n_members} member(s) differs from the fitted network "
                f"({self.n_outputs_} labels, {self._n_members()} member(s))."
            )

    def _initialize(self, n_features, n_outputs, hidden, dtype, n_members=1):
        layout = self._make_layout(n_features, n_outputs, hidden, n_members)
        self._layout_spec = (
            tuple(layout.layers),
            int(n_outputs),
            bool(layout.per_label_groups),
            int(n_members),
        )
        self.__dict__["_layout_cache"] = (self._layout_spec, layout)
        self._params = self._layout.init_params(
            lambda rng, fan_in, fan_out: self._glorot(rng, fan_in, fan_out, dtype),
            self._random_state,
            dtype,
        )
        self.n_members_ = int(n_members)
        self.n_outputs_ = n_outputs
        self.n_layers_ = len(layout.layers) + 1
        self.out_activation_ = "logistic"
        self.n_iter_ = (
            np.zeros(n_outputs, dtype=np.int64) if layout.per_label_groups else 0
        )
        self.t_ = 0
        self.loss_curve_ = []
        self.validation_scores_ = [] if self._uses_validation() else None
        self.validation_loss_curve_ = [] if self._uses_validation() else None
        self.best_validation_score_ = -np.inf if self._early_stopping else None
        self.best_loss_ = None if self._early_stopping else np.inf
        self._unit_best_loss = None
        self.threshold_ = self._fixed_threshold(n_outputs)
        self.pos_weight_ = np.ones(n_outputs)

    def _n_folds(self):
        """Number of cross-fitting folds of ``cv`` (None without cross-fitting)."""
        cv = self._cv_option
        if cv is None:
            return None
        if isinstance(cv, numbers.Integral):
            return int(cv)
        if hasattr(cv, "get_n_splits"):
            return int(cv.get_n_splits())
        return len(list(cv))

    def _fold_assignment(self, X, Y, sample_weight):
        """Cross-fitting fold of every training row: multilabel-stratified folds
        for an int ``cv``, else the test folds of the given splitter or splits
        (which must cover every row exactly once)."""
        n_samples = Y.shape[0]
        cv = self._cv_option
        if isinstance(cv, numbers.Integral):
            from .model_selection import (
                _check_stratification_target,
                _iterative_stratification,
            )

            n_folds = int(cv)
            if n_samples < n_folds:
                raise ValueError(
                    f"cv={n_folds} folds need at least {n_folds} samples, got "
                    f"{n_samples}."
                )
            base, extra = divmod(n_samples, n_folds)
            capacities = [base + 1] * extra + [base] * (n_folds - extra)
            folds = _iterative_stratification(
                _check_stratification_target(Y), capacities, self._random_state
            )
        else:
            splits = cv.split(X, Y) if hasattr(cv, "split") else cv
            folds = np.full(n_samples, -1, dtype=np.int64)
            n_folds = 0
            for _, test in splits:
                test = np.asarray(test)
                if test.dtype == bool:
                    test = np.flatnonzero(test)
                if test.size and (test.min() < 0 or test.max() >= n_samples):
                    raise ValueError("cv gave test indices outside the training rows.")
                if np.any(folds[test] >= 0):
                    raise ValueError(
                        "The test folds of cv must not overlap: cross-fitting needs "
                        "every training row in exactly one test fold."
                    )
                folds[test] = n_folds
                n_folds += 1
            if n_folds < 2 or np.any(folds < 0):
                raise ValueError(
                    "The test folds of cv must cover every training row exactly "
                    f"once, in at least 2 folds (got {n_folds} folds covering "
                    f"{int(np.sum(folds >= 0))} of {n_samples} rows)."
                )
            if n_folds != self._n_folds():
                raise ValueError("cv gave a different number of folds than it said.")
        fold_weight = np.bincount(folds, weights=sample_weight, minlength=n_folds)
        if not np.all(fold_weight > 0):
            raise ValueError(
                f"A cross-fitting fold (of {n_folds}) has zero total sample_weight; "
                "use fewer folds or give more rows positive weights."
            )
        return folds

    # Members are ordered (alpha candidate, fold, seed): member m has seed
    # m % n_members, fold (m // n_members) % n_folds and alpha candidate
    # m // (n_members * n_folds) (n_folds = 1 without cross-fitting).

    def _member_fold(self, m):
        return (m // self.n_members) % self._n_folds()

    def _member_alpha(self, m, n_alphas):
        return m // (self._n_members() // n_alphas)

    def _member_targets(self, Y, folds, held_out):
        """Targets of every member, shape ``(n, n_members * n_labels)``.

        Without folds, every member learns ``Y``. With folds, member ``m``
        belongs to fold :meth:`_member_fold`: for training
        (``held_out=False``) its targets on its own fold's rows are missing
        (NaN: no loss, no gradient); for validation (``held_out=True``) only
        those rows are observed.
        """
        M = self._n_members()
        if M == 1 and folds is None:
            return Y
        Y_members = np.tile(Y, (1, M))
        if folds is not None:
            L = Y.shape[1]
            for m in range(M):
                in_fold = folds == self._member_fold(m)
                masked = ~in_fold if held_out else in_fold
                Y_members[masked, m * L : (m + 1) * L] = np.nan
        return Y_members

    def _uses_validation(self):
        """Whether this fit holds out a validation split when it does not
        cross-fit: early stopping, or an explicit threshold strategy."""
        explicit = self._tunes_threshold() and self._threshold_option != "auto"
        return self._early_stopping or explicit

    def _tunes_threshold(self):
        return isinstance(self._threshold_option, str)

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
        baseline = (
            np.log(2.0)
            * float(np.maximum(self.pos_weight_, 1.0).sum())
            * self._n_members()
        )
        return max(start, baseline) if np.isfinite(start) else baseline

    def _train(
        self,
        X,
        Y,
        sample_weight,
        val,
        folds,
        *,
        incremental,
        fresh_optimizer,
        fresh_params,
        alphas,
    ):
        plan = self._plan
        dtype = X.dtype
        Y_labels = Y
        Y = self._member_targets(Y_labels, folds, held_out=False)
        M = self._n_members()
        if folds is not None and self._uses_validation():
            # Every member is validated on the fold it never trains on.
            fold_weight = np.bincount(
                folds, weights=sample_weight, minlength=self._n_folds()
            )
            member_fold = self._member_fold(np.arange(M))
            scale = np.repeat(
                sample_weight.sum() / fold_weight[member_fold] / M, Y_labels.shape[1]
            )
            val = (
                X,
                self._member_targets(Y_labels, folds, held_out=True),
                None,
                sample_weight,
                scale,
            )
        elif val is not None:
            Xv, Yv, Yv_user, swv = val
            val = (Xv, self._member_targets(Yv, None, True), Yv_user, swv, 1.0 / M)
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
        hyper = [alphas[0], self.beta_1, self.beta_2, self.epsilon, self.momentum]
        if alphas.size > 1:
            # One alpha per member group (see _member_alpha): alpha 1 (scaled as
            # the sample weights) times a factor per convergence group.
            hyper[0] = 1.0
            member = np.arange(plan.n_groups) // self._layout.groups_per_member
            hyper += list(alphas[self._member_alpha(member, alphas.size)])
        hyper = np.array(hyper, dtype=np.float64)
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
            _kernel_array(np.tile(self.pos_weight_, M), dtype),
            plan,
            self._batch_size(n_samples),
            dtype,
            dropout=dropout,
            dropout_seed=seed,
        )
        monitor = _Monitor(self, self._layout, params, val, incremental)
        if not incremental:
            monitor.frozen[self._freeze_constant_labels(Y_labels, params)] = True
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
                    warn_user(
                        "Training interrupted by user; the model keeps the "
                        "weights of the last completed epoch.",
                        TrainingInterruptedWarning,
                    )
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
        self.alpha_ = float(np.ldexp(alphas[0], self._weight_exponent))
        if incremental:
            return
        n_alphas = alphas.size
        held_out = None
        if self._tunes_threshold() or n_alphas > 1:
            held_out = self._held_out_proba(
                X, Y_labels, sample_weight, folds, val, n_alphas
            )
        if n_alphas > 1:
            P, Y_held, sw_held = held_out
            losses = np.array([_held_out_loss(Pa, Y_held, sw_held) for Pa in P])
            best = int(np.argmin(losses))
            self.alpha_losses_ = losses
            self.alpha_ = float(np.ldexp(alphas[best], self._weight_exponent))
            self._keep_members(
                np.flatnonzero(self._member_alpha(np.arange(M), n_alphas) == best)
            )
            held_out = (P[best : best + 1], Y_held, sw_held)
        if self._tunes_threshold() and held_out is not None:
            self.threshold_ = tune_thresholds(
                held_out[0][0], held_out[1], self._threshold_strategy()
            )

    def _held_out_proba(self, X, Y, sample_weight, folds, val, n_alphas):
        """``(P, Y, sample_weight)`` of held-out rows, ``P`` of shape
        ``(n_alphas, n_rows, n_labels)``: the out-of-fold probabilities of every
        training row under cross-fitting (each fold's members predict the fold
        they never trained on), else the member-averaged probabilities of the
        validation set; None without either."""
        L = Y.shape[1]
        if folds is not None:
            P = self._raw(X, sigmoid=True)
            n = P.shape[0]
            P = P.reshape(n, n_alphas, self._n_folds(), -1, L).mean(axis=3)
            P = P[np.arange(n), :, folds].transpose(1, 0, 2)
            return P, Y, sample_weight
        if val is None:
            return None
        P = self._raw(val[0], sigmoid=True)
        n = P.shape[0]
        P = P.reshape(n, n_alphas, -1, L).mean(axis=2).transpose(1, 0, 2)
        return P, val[1][:, :L], val[3]

    def _keep_members(self, members):
        """Keep only ``members`` (their parameters, optimizer state and groups)."""
        old = self._layout
        layers, n_labels, per_label, _ = self._layout_spec
        self._layout_spec = (layers, n_labels, per_label, int(members.size))
        index = old.member_parameters(members, self._layout)
        self._params = self._params[index]
        self._opt_state = self._opt_state[:, index]
        G = old.groups_per_member
        groups = (members[:, None] * G + np.arange(G)[None, :]).ravel()
        self._group_lr = self._group_lr[groups]
        best = self._unit_best_loss
        if best is not None:
            # Per-unit best training losses: one per group or one per member.
            if best.size == old.plan.n_groups:
                self._unit_best_loss = best[groups]
            elif best.size == old.n_members:
                self._unit_best_loss = best[members]
            else:
                self._unit_best_loss = None
        self.n_members_ = int(members.size)

    def _threshold_strategy(self):
        option = self._threshold_option
        return AUTO_THRESHOLD if option == "auto" else option
