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
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
)

from ._crossfit import (  # noqa: F401 (the 'auto' values, for the docs and tests)
    AUTO_ALPHAS,
    AUTO_FOLDS,
    AUTO_MIN_SAMPLES,
    AUTO_THRESHOLD,
    PLAIN_ALPHA,
    CrossFitMixin,
)
from ._engine import ACTIVATION_CODES, EpochRunner, engine_context
from ._layout import LayoutMixin
from ._monitor import FitRecord, _Monitor
from ._optimizer import Optimizer
from ._prediction import PredictionMixin
from ._thresholds import (  # noqa: F401 (names of the tests)
    MIN_POSITIVES_TO_TUNE,
    STRATEGIES,
    _best_f1_thresholds,
    _f1_cut,
    tune_thresholds,
)
from ._validation import MAX_BALANCED_POS_WEIGHT, InputValidationMixin  # noqa: F401
from ._warnings import TrainingInterruptedWarning, warn_user

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


class BaseMultiLabelMLP(
    LayoutMixin,
    InputValidationMixin,
    CrossFitMixin,
    PredictionMixin,
    ClassifierMixin,
    BaseEstimator,
    metaclass=ABCMeta,
):
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
        "learning_rate_init": [
            Interval(numbers.Real, 0, None, closed="neither"),
            StrOptions({"auto"}),
        ],
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
        "loss": [StrOptions({"log_loss", "focal", "asymmetric"})],
        "loss_params": [None, dict],
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
        learning_rate_init="auto",
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
        loss="log_loss",
        loss_params=None,
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
        self.loss = loss
        self.loss_params = loss_params
        self.threshold = threshold
        self.min_labels = min_labels
        self.dtype = dtype
        self.n_threads = n_threads
        self.n_members = n_members
        self.cv = cv
        self.tower_layer_sizes = tower_layer_sizes
        self.dropout = dropout

    # ------------------------------------------------------------------------
    # Validation at the boundary
    # ------------------------------------------------------------------------

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
        dtype = X.dtype
        hidden = self._hidden_sizes()
        self._dropout_rates()  # validated before anything is drawn or changed
        self._loss_bundle()
        self._resolve_options(
            X.shape[0], X_val is not None, incremental, reuse, binary_1d
        )
        # Cross-fitting: n_folds groups of members, each never trained on its
        # own fold (see _member_targets); partial_fit trains every member on
        # every row.
        cross_fit = self._cv_option is not None
        alpha_values = self._alpha_candidates(
            reuse, incremental, cross_fit or X_val is not None
        )
        if cross_fit and self._early_stopping and self.scoring is not None:
            raise ValueError(
                "scoring is not supported with cross-fitting (cv): every fold's "
                "networks stop on their own held-out fold's cross-entropy. Use "
                "cv=None (one validation split) to early-stop on a scorer."
            )
        folds = None
        if cross_fit and not isinstance(self._cv_option, numbers.Integral):
            # Given splits draw nothing: run them now, they give the fold count.
            folds = self._fold_assignment(X, Y, sample_weight)
        if reuse and incremental:
            n_members = self._n_members()
        else:
            n_members = alpha_values.size * self.n_members
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
        if cross_fit:
            if folds is None:  # int cv: drawn after the weights
                folds = self._fold_assignment(X, Y, sample_weight)
        elif not incremental:
            X, Y, Y_user, sample_weight, val = self._validation_data(
                X, Y, Y_user, sample_weight, X_val, Y_val
            )
        if not incremental or not reuse:
            self.pos_weight_ = self._resolve_pos_weight(Y, sample_weight)
        self._train(
            X,
            Y,
            sample_weight,
            val,
            folds,
            incremental=incremental,
            fresh_optimizer=not incremental or not reuse,
            fresh_params=not reuse,
            alpha_values=alpha_values,
            alphas=np.ldexp(alpha_values, 1 - exponent),
        )
        return self

    def _optimizer_state(self):
        """The optimizer state a ``partial_fit`` continues (plain arrays)."""
        return {
            "moments": self._opt_state,
            "t": self._adam_t,
            "group_lr": self._group_lr,
        }

    def _apply_fit(self, params, optimizer, record):
        """Take over the outcome of the epochs: the weights, the optimizer's
        exported state and the monitor's ``FitRecord``."""
        self._params = params
        state = optimizer.state()
        self._opt_state = state["moments"]
        self._adam_t = state["t"]
        self._group_lr = state["group_lr"]
        self.t_ = optimizer.samples_seen
        record.apply_to(self)

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
        self.__dict__.pop("alpha_losses_", None)  # set again if alpha is chosen
        self.threshold_ = self._fixed_threshold(n_outputs)
        self.pos_weight_ = np.ones(n_outputs)

    def _learning_rate_init(self):
        """``learning_rate_init``; 'auto' is 0.003 for Adam, whose steps are about
        that size whatever the gradient's scale, and ``MLPClassifier``'s 0.001
        for SGD, whose steps grow with the gradient (unscaled input)."""
        if isinstance(self.learning_rate_init, str):
            return 0.003 if self.solver == "adam" else 0.001
        return float(self.learning_rate_init)

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is "
                "going to be clipped"
            )
        return int(np.clip(self.batch_size, 1, n_samples))

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
        alpha_values,
        alphas,
    ):
        """One fit or ``partial_fit`` call on validated data. ``alphas`` are the
        L2 candidates ``alpha_values`` rescaled with the sample weights."""
        plan = self._plan
        dtype = X.dtype
        Y_labels = Y
        Y = self._member_targets(Y_labels, folds, held_out=False)
        M = self._n_members()
        val = self._member_validation(X, Y_labels, sample_weight, folds, val)
        # Train on a copy of a fitted model's weights (a failed fit must leave
        # them untouched); weights drawn by this very call need no copy.
        params = self._params.astype(dtype, copy=not fresh_params)
        n_samples = X.shape[0]
        # The member each convergence group belongs to (members are laid out by
        # alpha candidate, fold and seed: see _member_alpha, _member_fold).
        member = np.arange(plan.n_groups) // self._layout.groups_per_member
        group_alpha = None
        if alphas.size > 1:
            # One alpha per member group (see _member_alpha): alpha 1 (scaled as
            # the sample weights) times a factor per convergence group.
            group_alpha = alphas[self._member_alpha(member, alphas.size)]
        optimizer = Optimizer.from_estimator(
            self,
            plan,
            dtype,
            alphas[0],
            group_alpha,
            samples_seen=self.t_,
            previous=None if fresh_optimizer else self._optimizer_state(),
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
            _kernel_array(np.tile(self.pos_weight_, M), dtype),
            plan,
            self._batch_size(n_samples),
            dtype,
            dropout=dropout,
            dropout_seed=seed,
            loss=self._loss_bundle(),
        )
        act_code = ACTIVATION_CODES[self.activation]
        monitor = _Monitor(
            self, self._layout, params, val, incremental, FitRecord.of(self), act_code
        )
        if folds is not None and val is not None:
            monitor.validate_by_fold(folds, self._member_fold(member))
        if not incremental:
            monitor.frozen[self._freeze_constant_labels(Y_labels, params)] = True
        if alphas.size > 1 and self.n_members == 1:
            # Race the candidates (one member per fold each: a candidate's
            # held-out loss is then the sum of its members' fold losses).
            monitor.race(self._member_alpha(member, alphas.size))
        order = np.arange(n_samples)
        self._act_code = act_code  # what predict uses, whatever set_params does later
        monitor.set_reference(X, Y, self.pos_weight_)
        max_epochs = 1 if incremental else self.max_iter
        with engine_context(self.n_threads):
            for _ in range(max_epochs):
                if self.shuffle:
                    perm = np.arange(n_samples)
                    self._random_state.shuffle(perm)
                    order = order[perm]
                try:
                    skip = monitor.start_epoch()
                    label_loss, group_l2 = optimizer.run_epoch(
                        runner, order, params, monitor.frozen, act_code, skip
                    )
                except KeyboardInterrupt:
                    warn_user(
                        "Training interrupted by user; the model keeps the "
                        "weights of the last completed epoch.",
                        TrainingInterruptedWarning,
                    )
                    break
                optimizer.end_epoch(n_samples)
                if not monitor.end_epoch(label_loss, group_l2, optimizer):
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
        # The outcome of the epochs, applied in one place (nothing above wrote
        # to the estimator's training state: a failed fit changes nothing).
        self._apply_fit(params, optimizer, monitor.finish())
        self.alpha_ = float(alpha_values[0])
        if incremental:
            return
        self._choose_alpha_and_thresholds(
            X, Y_labels, sample_weight, folds, val, alpha_values, monitor.eliminated
        )
