"""Prediction: probabilities, logits and labels, averaged over the members.

A mixin of :class:`skmultihead._base.BaseMultiLabelMLP`.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._engine import predict_raw
from ._layout import member_average

# Several members are averaged block of rows by block of rows, each block's
# member outputs (members x labels per row) at most about this many values: the
# outputs of every member are never held for every row at once.
MEMBER_BLOCK_VALUES = 1 << 21


class PredictionMixin:
    """``decision_function``, ``predict_proba``, ``predict_log_proba`` and
    ``predict`` of a fitted model (one network or several members)."""

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
        M = self._n_members()
        return self._by_row_blocks(X, True, lambda P: (member_average(P, M),))[0]

    def _log_proba_pair(self, X):
        """``(log p, log(1 - p))`` of the member-averaged probabilities, computed
        stably from the logits."""
        M = self._n_members()

        def log_mean(a):
            a = a.reshape(a.shape[0], M, -1)
            top = a.max(axis=1)
            return top + np.log(np.exp(a - top[:, None, :]).mean(axis=1))

        def pair(Z):
            # log sigmoid(z) = -softplus(-z); log(1 - sigmoid(z)) = -softplus(z)
            log_p, log_q = -np.logaddexp(0.0, -Z), -np.logaddexp(0.0, Z)
            if M == 1:
                return log_p, log_q
            return log_mean(log_p), log_mean(log_q)

        return self._by_row_blocks(X, False, pair)

    def _by_row_blocks(self, X, sigmoid, reduce):
        """``reduce`` (a tuple of per-row arrays) of the members' outputs
        (probabilities or logits, member-major columns), computed by blocks of
        rows (:data:`MEMBER_BLOCK_VALUES`) when there are several members."""
        X = self._checked_X(X)
        n, width = X.shape[0], self._plan.n_outputs
        rows = max(512, MEMBER_BLOCK_VALUES // max(width, 1))
        if self._n_members() == 1 or n <= rows:
            return reduce(self._raw_checked(X, sigmoid))
        out = None
        for start in range(0, n, rows):
            parts = reduce(self._raw_checked(X[start : start + rows], sigmoid))
            if out is None:
                out = [np.empty((n, *p.shape[1:]), dtype=p.dtype) for p in parts]
            for o, p in zip(out, parts):
                o[start : start + rows] = p
        return tuple(out)

    def _logits(self, X):
        """Logits of the member-averaged probabilities (the raw logits for one
        member)."""
        if self._n_members() == 1:
            return self._raw(X, sigmoid=False)
        log_p, log_q = self._log_proba_pair(X)
        return log_p - log_q

    def _raw(self, X, *, sigmoid):
        return self._raw_checked(self._checked_X(X), sigmoid)

    def _checked_X(self, X):
        check_is_fitted(self)
        if not self._is_clean_array(X):
            X = self._validate_X(X, reset=False, dtype=self._params.dtype)
        return X

    def _raw_checked(self, X, sigmoid):
        """Raw outputs of every member (``X`` already validated)."""
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
