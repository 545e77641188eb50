"""Validation at the boundary: the input, the targets and the parameters that are
resolved per fit (layer sizes, dropout rates, the loss, positive weights, fixed
thresholds).

A mixin of :class:`skmultihead._base.BaseMultiLabelMLP`; every check and every
error message lives here, so the kernels never see bad input.
"""

import numbers

import numpy as np
from scipy import sparse
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import validate_data

from ._kernels import asymmetric_loss

# The keys of loss_params of each loss, with their defaults: focal loss (Lin et
# al. 2017) and the asymmetric loss (ASL) of Ridnik et al. 2021 with the values
# their paper recommends for multi-label data.
LOSS_PARAMS = {
    "focal": {"gamma": 2.0},
    "asymmetric": {"gamma_neg": 4.0, "gamma_pos": 0.0, "clip": 0.05},
}

# 'balanced' positive weights n_neg / n_pos are capped at this value so that a
# label with a handful of positives cannot dominate the loss.
MAX_BALANCED_POS_WEIGHT = 100.0


class InputValidationMixin:
    """Checks and conversions of ``X``, ``Y`` and the per-fit parameters."""

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

    def _loss_bundle(self):
        """The output loss as the kernels take it: None for 'log_loss' (the
        binary cross-entropy), else the loss vector of ``loss`` and
        ``loss_params`` (``_kernels.asymmetric_loss``; a missing key takes its
        default in :data:`LOSS_PARAMS`)."""
        params = self.loss_params
        if self.loss == "log_loss":
            if params is not None:
                raise ValueError(
                    "loss_params is only used by loss='focal' or 'asymmetric'; "
                    f"got loss_params={params!r} with loss='log_loss'. Set "
                    "loss_params=None."
                )
            return None
        defaults = LOSS_PARAMS[self.loss]
        given = {} if params is None else dict(params)
        unknown = [key for key in given if key not in defaults]
        if unknown:
            other = [
                f"{key!r} is a key of loss={name!r}"
                for key in unknown
                for name, keys in LOSS_PARAMS.items()
                if name != self.loss and key in keys
            ]
            raise ValueError(
                f"loss_params has unknown key(s) {unknown} for loss={self.loss!r}, "
                f"whose keys are {sorted(defaults)}"
                + (f" ({'; '.join(other)})" if other else "")
                + "."
            )
        values = {**defaults, **given}
        for key, value in values.items():
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
            if not ok or not np.isfinite(value):
                raise ValueError(
                    f"loss_params[{key!r}] must be a finite real number, got {value!r}."
                )
            if key == "clip" and not 0.0 <= value < 1.0:
                raise ValueError(
                    f"loss_params['clip'] must be in [0, 1), got {value!r}."
                )
            if key != "clip" and value < 0.0:
                raise ValueError(
                    f"loss_params[{key!r}] must be non-negative, got {value!r}."
                )
        if self.loss == "focal":
            gamma = float(values["gamma"])
            return asymmetric_loss(gamma, gamma, 0.0)
        return asymmetric_loss(
            float(values["gamma_pos"]),
            float(values["gamma_neg"]),
            float(values["clip"]),
        )

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
