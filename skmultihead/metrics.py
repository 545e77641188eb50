"""Metrics and scorers for multi-label classifiers with sigmoid outputs.

:func:`multilabel_log_loss` is the binary cross-entropy summed (or averaged)
over the labels, i.e. the data term of the training objective of
:class:`~sklearn.neural_network.MLPClassifier` on multi-label targets. Note
that :func:`sklearn.metrics.log_loss` called on a label indicator matrix
computes something else: it treats every row as a (non-normalised) categorical
distribution and only sums the ``log(p)`` terms of the positive labels,
ignoring the ``log(1 - p)`` terms of the negative ones.

The module only depends on NumPy, SciPy and scikit-learn and can be imported
on its own.
"""

# Authors: The skmultihead developers
# SPDX-License-Identifier: BSD-3-Clause

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import make_scorer

__all__ = [
    "multilabel_log_loss",
    "multilabel_log_loss_scorer",
    "neg_multilabel_log_loss_scorer",
]


def _as_float_array(a, name):
    try:
        a = np.asarray(a)
        if a.dtype.kind not in "f":
            a = a.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array; got {exc}") from exc
    return a


def _check_probabilities(Y_prob):
    if isinstance(Y_prob, list | tuple) and all(
        np.ndim(p) == 2 and np.shape(p)[1] == 2 for p in Y_prob
    ):
        # predict_proba of multi-output estimators such as RandomForestClassifier
        # or KNeighborsClassifier: one (n_samples, 2) array per label.
        Y_prob = np.stack([np.asarray(p)[:, 1] for p in Y_prob], axis=1)
    if sp.issparse(Y_prob):
        Y_prob = Y_prob.toarray()
    Y_prob = _as_float_array(Y_prob, "Y_prob")
    if Y_prob.size and not np.isfinite(Y_prob).all():
        raise ValueError("Y_prob contains NaN or infinite values.")
    if Y_prob.size and Y_prob.max() > 1:
        raise ValueError(f"Y_prob contains values greater than 1: {Y_prob.max()}")
    if Y_prob.size and Y_prob.min() < 0:
        raise ValueError(f"Y_prob contains values lower than 0: {Y_prob.min()}")
    return Y_prob


def multilabel_log_loss(
    Y_true, Y_prob, *, sample_weight=None, average="sum", eps="auto"
):
    r"""Multi-label log loss: binary cross-entropy of every label.

    For a sample :math:`i` with observed labels :math:`O_i`, true values
    :math:`y_{ij} \in \{0, 1\}` and predicted probabilities :math:`p_{ij}`,
    the per-sample loss is

    .. math::

        \ell_i = -\sum_{j \in O_i} \left(y_{ij} \log p_{ij}
                 + (1 - y_{ij}) \log (1 - p_{ij})\right)

    with ``average="sum"``, or :math:`\ell_i / |O_i|` with ``average="mean"``.
    The returned value is the (sample-weighted) mean of :math:`\ell_i` over
    the samples.

    With ``average="sum"`` and no missing label this is the data term of the
    loss minimised by :class:`~sklearn.neural_network.MLPClassifier` on
    multi-label targets (its objective adds an L2 penalty), and it equals
    ``sum(log_loss(Y_true[:, j], Y_prob[:, j]) for j in range(n_labels))``.

    Parameters
    ----------
    Y_true : {array-like, sparse matrix} of shape (n_samples, n_labels) or (n_samples,)
        Ground truth binary indicator matrix (values in {0, 1}). NaN entries
        denote missing labels and contribute nothing to the loss. A 1-D binary
        ``y_true`` (values in {0, 1}) is treated as a single label.

    Y_prob : array-like of shape (n_samples, n_labels) or list of ndarray
        Predicted probability of every label being positive, as returned by
        ``predict_proba`` of a multi-label classifier. A list of ``n_labels``
        arrays of shape (n_samples, 2), the format of
        multi-output estimators such as
        :class:`~sklearn.ensemble.RandomForestClassifier` is accepted (the
        second column of each array is used). For a 1-D ``Y_true``, an array
        of shape (n_samples,) or (n_samples, 2) (second column used).

    sample_weight : array-like of shape (n_samples,), default=None
        Sample weights. The loss is ``sum_i w_i l_i / sum_i w_i``.

    average : {"sum", "mean"}, default="sum"
        How the binary cross-entropies of the labels of one sample are
        combined:

        - ``"sum"``: summed over the observed labels. A sample whose labels
          are all missing has a loss of 0 but still counts in the mean over
          samples (like an objective normalised by the number of samples).
        - ``"mean"``: averaged over the observed labels of the sample. Samples
          whose labels are all missing are skipped.

    eps : "auto" or float, default="auto"
        Probabilities are clipped to ``[eps, 1 - eps]``. ``"auto"`` uses
        ``np.finfo(Y_prob.dtype).eps``, as :func:`sklearn.metrics.log_loss`
        does.

    Returns
    -------
    loss : float
        The multi-label log loss (non-negative, lower is better).

    See Also
    --------
    neg_multilabel_log_loss_scorer : Scorer built from this function.
    sklearn.metrics.log_loss : Log loss for binary and multiclass targets.

    Notes
    -----
    :func:`sklearn.metrics.log_loss` applied to an indicator matrix returns
    ``-mean_i sum_j y_ij log(p_ij)`` (with a warning that the rows of
    ``Y_prob`` do not sum to one): it ignores the negative labels and is
    therefore smaller than this loss.

    Examples
    --------
    >>> import numpy as np
    >>> from skmultihead.metrics import multilabel_log_loss
    >>> Y_true = np.array([[1, 0, 1], [0, 1, 0]])
    >>> Y_prob = np.array([[0.9, 0.2, 0.6], [0.1, 0.7, 0.3]])
    >>> round(multilabel_log_loss(Y_true, Y_prob), 4)
    0.829
    >>> round(multilabel_log_loss(Y_true, Y_prob, average="mean"), 4)
    0.2763

    Missing labels (NaN) are ignored:

    >>> Y_true = np.array([[1, np.nan, 1], [0, 1, np.nan]])
    >>> round(multilabel_log_loss(Y_true, Y_prob), 4)
    0.5391
    """
    if average not in ("sum", "mean"):
        raise ValueError(f"average must be 'sum' or 'mean'; got {average!r}.")
    if not (isinstance(eps, str) and eps == "auto"):
        if not isinstance(eps, numbers.Real) or not 0 <= eps < 0.5:
            raise ValueError(f"eps must be 'auto' or a float in [0, 0.5); got {eps!r}.")

    if sp.issparse(Y_true):
        Y_true = Y_true.toarray()
    Y_true = _as_float_array(Y_true, "Y_true")
    Y_prob = _check_probabilities(Y_prob)

    if Y_true.ndim == 1:
        if Y_prob.ndim == 2 and Y_prob.shape[1] in (1, 2):
            Y_prob = Y_prob[:, -1]
        if Y_prob.shape != Y_true.shape:
            raise ValueError(
                f"Y_true has shape {Y_true.shape} but Y_prob has shape "
                f"{Y_prob.shape}; for a 1-D Y_true, Y_prob must have shape "
                "(n_samples,) or (n_samples, 2)."
            )
        Y_true = Y_true[:, None]
        Y_prob = Y_prob[:, None]
    elif Y_true.ndim == 2:
        if Y_prob.shape != Y_true.shape:
            msg = (
                f"Y_true has shape {Y_true.shape} but Y_prob has shape "
                f"{Y_prob.shape}; they must be equal."
            )
            if Y_true.shape[1] == 2 and Y_prob.shape == Y_true.shape[:1]:
                msg += (
                    " Note: scikit-learn scorers keep only the second column of "
                    "predict_proba when estimator.classes_ looks binary, which "
                    "happens for multi-label estimators with exactly 2 labels."
                )
            raise ValueError(msg)
    else:
        raise ValueError(
            f"Y_true must be 1-D or 2-D; got an array with shape {Y_true.shape}."
        )
    n_samples = Y_true.shape[0]
    if n_samples == 0:
        raise ValueError("Y_true contains no sample.")

    observed = ~np.isnan(Y_true)
    values = Y_true[observed]
    if not np.all((values == 0) | (values == 1)):
        bad = np.unique(values[(values != 0) & (values != 1)])[:5]
        raise ValueError(
            "Y_true must contain only 0, 1 or NaN (missing label); got values "
            f"such as {bad.tolist()}."
        )
    if not observed.any():
        raise ValueError("Y_true has no observed (non-NaN) label.")

    if sample_weight is None:
        weights = np.ones(n_samples)
    else:
        weights = _as_float_array(sample_weight, "sample_weight")
        if weights.shape != (n_samples,):
            raise ValueError(
                f"sample_weight has shape {weights.shape} but Y_true has "
                f"{n_samples} samples; expected shape ({n_samples},)."
            )
        if not np.isfinite(weights).all() or (weights < 0).any():
            raise ValueError("sample_weight must be finite and non-negative.")

    if isinstance(eps, str):
        eps = np.finfo(Y_prob.dtype).eps
    P = np.clip(Y_prob, eps, 1 - eps).astype(np.float64, copy=False)
    positive = Y_true == 1
    with np.errstate(divide="ignore"):  # eps=0 gives an infinite loss
        entry_loss = -np.where(positive, np.log(P), np.log1p(-P))
    entry_loss[~observed] = 0.0
    sample_loss = entry_loss.sum(axis=1)

    if average == "mean":
        n_observed = observed.sum(axis=1)
        keep = n_observed > 0
        sample_loss = sample_loss[keep] / n_observed[keep]
        weights = weights[keep]
    total_weight = weights.sum()
    if total_weight <= 0:
        raise ValueError("The sample weights of the scored samples sum to zero.")
    return float(np.dot(weights, sample_loss) / total_weight)


neg_multilabel_log_loss_scorer = make_scorer(
    multilabel_log_loss, greater_is_better=False, response_method="predict_proba"
)
neg_multilabel_log_loss_scorer.__doc__ = """Scorer for the negated multi-label log loss.

Returns ``-multilabel_log_loss(y, estimator.predict_proba(X))``: values are
negative (or zero) and greater is better, following scikit-learn's convention
for ``"neg_log_loss"``. Use it as ``scoring=neg_multilabel_log_loss_scorer``
in :class:`~sklearn.model_selection.GridSearchCV` or
:func:`~sklearn.model_selection.cross_val_score`.
"""

#: Alias of :data:`neg_multilabel_log_loss_scorer` (its values are *negative*
#: multi-label log losses).
multilabel_log_loss_scorer = neg_multilabel_log_loss_scorer
