"""Multi-label iterative stratification.

This module implements the *iterative stratification* algorithm of Sechidis,
Tsoumakas & Vlahavas (2011) for splitting multi-label data so that the
proportion of positive examples of every label is (approximately) preserved
in every subset, including for rare labels.

It provides a single train/test split, :func:`iterative_train_test_split`, and
a scikit-learn cross-validation splitter, :class:`MultilabelStratifiedKFold`.
The module only depends on NumPy, SciPy and scikit-learn and can be imported
on its own.
"""

# Authors: The skmultihead developers
# SPDX-License-Identifier: BSD-3-Clause

import numbers
import warnings
from math import ceil

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection._split import _BaseKFold
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target

__all__ = ["MultilabelStratifiedKFold", "iterative_train_test_split"]


def _check_stratification_target(y, input_name="y"):
    """Validate a target and return the CSR indicator of its positive entries.

    Parameters
    ----------
    y : {array-like, sparse matrix} of shape (n_samples,) or (n_samples, n_labels)
        Either a 2-D binary indicator matrix (values in {0, 1}, NaN meaning
        "missing label") or a 1-D binary / multiclass target, which is one-hot
        encoded.

    Returns
    -------
    Y : scipy.sparse.csr_array of shape (n_samples, n_columns), dtype int32
        ``Y[i, j] == 1`` iff sample ``i`` is a positive example of column ``j``.
        NaN entries are treated as "not positive".
    """
    not_binary = (
        f"{input_name} must be a binary indicator matrix with values in {{0, 1}} "
        "(NaN for missing labels)"
    )
    if sp.issparse(y):
        if y.ndim != 2:
            raise ValueError(f"Sparse {input_name} must be 2-D; got shape {y.shape}.")
        Y = sp.csr_array(y, copy=True)
        data = Y.data
        if data.dtype.kind not in "biuf":
            raise ValueError(f"{not_binary}; got sparse dtype {data.dtype}.")
        observed = data[~np.isnan(data)] if data.dtype.kind == "f" else data
        if not np.all((observed == 0) | (observed == 1)):
            bad = np.unique(observed[(observed != 0) & (observed != 1)])[:5]
            raise ValueError(f"{not_binary}; got values such as {bad.tolist()}.")
        Y.data = (data == 1).astype(np.int32)
        Y.eliminate_zeros()
        Y.sum_duplicates()
        return Y

    if not hasattr(y, "__array__") and not isinstance(y, list | tuple):
        raise ValueError(
            f"{input_name} must be array-like or a sparse matrix; got {type(y)}."
        )
    y = np.asarray(y)
    if y.ndim == 1:
        y_type = type_of_target(y, input_name=input_name)
        if y_type not in ("binary", "multiclass"):
            raise ValueError(
                f"A 1-D {input_name} must be a binary or multiclass target; "
                f"got type_of_target({input_name})={y_type!r}."
            )
        _, codes = np.unique(y, return_inverse=True)
        codes = codes.ravel()
        n = y.shape[0]
        return sp.csr_array(
            (np.ones(n, dtype=np.int32), codes, np.arange(n + 1)),
            shape=(n, int(codes.max()) + 1),
        )
    if y.ndim != 2:
        raise ValueError(
            f"{input_name} must be 1-D or a 2-D indicator matrix; got an array "
            f"with shape {y.shape}."
        )
    kind = y.dtype.kind
    if kind == "b":
        positive = y
    else:
        if kind not in "iuf":
            try:
                y = y.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{not_binary}; got dtype {y.dtype}.") from exc
            kind = "f"
        positive = y == 1
        valid = positive | (y == 0)
        if kind == "f":
            valid |= np.isnan(y)
        if not valid.all():
            bad = np.unique(y[~valid])[:5]
            raise ValueError(f"{not_binary}; got values such as {bad.tolist()}.")
    return sp.csr_array(positive, dtype=np.int32)


def _choose(candidates, desired, capacity, u):
    """Pick a subset among ``candidates`` following Sechidis et al.

    Largest desired number of examples of the current label first, then
    largest remaining capacity (desired number of examples overall), then a
    random choice driven by ``u`` in [0, 1) (first candidate if ``u`` is None).
    """
    if len(candidates) == 1:
        return candidates[0]
    best_d = max(desired[j] for j in candidates)
    ties = [j for j in candidates if desired[j] == best_d]
    if len(ties) > 1:
        best_c = max(capacity[j] for j in ties)
        ties = [j for j in ties if capacity[j] == best_c]
    if len(ties) == 1 or u is None:
        return ties[0]
    return ties[int(u * len(ties))]


def _iterative_stratification(Y, capacities, rng):
    """Assign every row of ``Y`` to one of ``len(capacities)`` subsets.

    Parameters
    ----------
    Y : scipy.sparse.csr_array of shape (n_samples, n_labels)
        Indicator of positive entries (as returned by
        :func:`_check_stratification_target`).
    capacities : sequence of int
        Exact size of each subset; must sum to ``n_samples``.
    rng : RandomState or None
        Source of randomness (processing order of the samples and tie
        breaking). ``None`` gives a deterministic assignment (samples are
        processed in index order and ties go to the first subset / label).

    Returns
    -------
    assignment : ndarray of shape (n_samples,), dtype intp
        Subset index of every sample.
    """
    n, n_labels = Y.shape
    k = len(capacities)
    capacity = [int(c) for c in capacities]
    if sum(capacity) != n or min(capacity) < 0:
        raise ValueError("capacities must be non-negative and sum to n_samples.")

    # Process the samples in a random order: permuting the rows once makes the
    # order of the examples of every label random without per-label shuffles.
    if rng is None:
        perm = np.arange(n)
        u = None
    else:
        perm = rng.permutation(n)
        u = rng.random_sample(n).tolist()
        Y = Y[perm]
    Y_csc = Y.tocsc()
    col_ptr = Y_csc.indptr
    col_rows = Y_csc.indices

    n_pos = np.diff(col_ptr).astype(np.int64)
    caps = np.asarray(capacity, dtype=np.int64)
    # Desired number of examples of label i in subset j, c_j^i = |D^i| r_j with
    # r_j = capacity_j / n, scaled by n so that all bookkeeping is exact integer
    # arithmetic (ties are exact).  It is floored at 1 (i.e. n after scaling) so
    # that a label with few positives asks for at least one positive in every
    # subset -- otherwise a label with 2 positives and test_size=0.1 would put
    # both positives in the training set.
    desired = np.maximum(caps[:, None] * n_pos[None, :], n)
    got = np.zeros((k, n_labels), dtype=np.int64)
    remaining = n_pos.copy()
    assignment = np.full(n, -1, dtype=np.intp)
    multi = n_pos >= 2

    while True:
        active = remaining > 0
        if not active.any():
            break
        # Label with the fewest remaining examples, ties broken randomly.
        fewest = remaining[active].min()
        tied = np.flatnonzero(remaining == fewest)
        label = tied[0] if rng is None else tied[rng.randint(len(tied))]

        rows = col_rows[col_ptr[label] : col_ptr[label + 1]]
        rows = rows[assignment[rows] < 0]
        block = Y[rows]
        count = np.asarray(block.sum(axis=0)).ravel()

        # "Last chance" bookkeeping: a label whose remaining positives are
        # not more numerous than the subsets still lacking a positive of it is
        # *critical*; its positives must go to those subsets.  Only labels
        # that may become critical while this block is assigned need the
        # (slower) per-sample check.
        missing = (got == 0).sum(axis=0)
        at_risk = np.flatnonzero(
            multi & (count > 0) & (missing > 0) & (remaining - count < missing)
        )
        if at_risk.size:
            sub = block[:, at_risk]
            risk_ptr = sub.indptr.tolist()
            risk_labels = at_risk[sub.indices].tolist()
            rem_loc = dict(zip(at_risk.tolist(), remaining[at_risk].tolist()))
            got_loc = {i: got[:, i].tolist() for i in rem_loc}
        else:
            risk_ptr = None

        d = desired[:, label].tolist()
        block_assign = np.empty(rows.size, dtype=np.intp)
        rows_list = rows.tolist()
        for t, row in enumerate(rows_list):
            cands = [j for j in range(k) if capacity[j] > 0]
            labs = risk_labels[risk_ptr[t] : risk_ptr[t + 1]] if risk_ptr else ()
            if labs:
                score = [0] * k
                for i in labs:
                    g = got_loc[i]
                    lacking = [j for j in cands if g[j] == 0]
                    if lacking and rem_loc[i] <= len(lacking):
                        for j in lacking:
                            score[j] += 1
                best = max(score[j] for j in cands)
                if best > 0:
                    cands = [j for j in cands if score[j] == best]
            m = _choose(cands, d, capacity, None if u is None else u[row])
            block_assign[t] = m
            capacity[m] -= 1
            d[m] -= n
            for i in labs:
                rem_loc[i] -= 1
                got_loc[i][m] += 1

        assignment[rows] = block_assign
        # Vectorised update of the per-label bookkeeping for the whole block.
        onehot = sp.csr_array(
            (np.ones(rows.size, dtype=np.int64), (block_assign, np.arange(rows.size))),
            shape=(k, rows.size),
        )
        counts = (onehot @ block).toarray().astype(np.int64)
        got += counts
        desired -= n * counts
        remaining -= counts.sum(axis=0)

    # Samples without any positive label fill the remaining capacities (they
    # are already in random order when rng is given).
    left = np.flatnonzero(assignment < 0)
    assignment[left] = np.repeat(np.arange(k), capacity)

    result = np.empty(n, dtype=np.intp)
    result[perm] = assignment
    return result


def _validate_test_size(test_size, n_samples):
    """Return ``(n_train, n_test)`` following :func:`~sklearn.model_selection.\
train_test_split` semantics."""
    if isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool):
        n_test = int(test_size)
        if not 1 <= n_test < n_samples:
            raise ValueError(
                f"test_size={test_size} should be an integer in "
                f"[1, n_samples - 1] = [1, {n_samples - 1}] or a float in (0, 1)."
            )
    elif isinstance(test_size, numbers.Real) and not isinstance(test_size, bool):
        if not 0.0 < test_size < 1.0:
            raise ValueError(
                f"test_size={test_size} should be a float in the (0, 1) range or "
                f"an integer in [1, n_samples - 1] = [1, {n_samples - 1}]."
            )
        n_test = ceil(test_size * n_samples)
        if n_test >= n_samples:
            raise ValueError(
                f"With n_samples={n_samples} and test_size={test_size}, the "
                "resulting train set would be empty. Adjust test_size."
            )
    else:
        raise ValueError(
            f"test_size must be a float in (0, 1) or a positive integer; got "
            f"{test_size!r} of type {type(test_size).__name__}."
        )
    return n_samples - n_test, n_test


def iterative_train_test_split(Y, *, test_size=0.1, random_state=None):
    """Split sample indices into a train and a test set by iterative stratification.

    Implements the iterative stratification algorithm of Sechidis, Tsoumakas
    and Vlahavas (2011): labels are processed from the rarest to the most
    frequent and each example of the current label is sent to the subset that
    most needs examples of that label, so that every label -- including rare
    ones -- keeps approximately the same proportion of positive examples in the
    train and the test set.

    Parameters
    ----------
    Y : {array-like, sparse matrix} of shape (n_samples, n_labels) or (n_samples,)
        Multi-label binary indicator matrix (values in {0, 1}); NaN entries
        denote missing labels and count as "not positive". A 1-D binary or
        multiclass target is one-hot encoded, which yields an ordinary
        stratified split.

    test_size : float or int, default=0.1
        If float, the fraction of samples in the test set, in (0, 1); the test
        set then has ``ceil(test_size * n_samples)`` samples, as in
        :func:`~sklearn.model_selection.train_test_split`. If int, the absolute
        number of test samples, in ``[1, n_samples - 1]``.

    random_state : int, RandomState instance or None, default=None
        Controls the processing order of the samples and the random tie
        breaking. Pass an int for reproducible output across multiple function
        calls.

    Returns
    -------
    train : ndarray of shape (n_train,)
        Sorted indices of the training samples.

    test : ndarray of shape (n_test,)
        Sorted indices of the test samples.

    See Also
    --------
    MultilabelStratifiedKFold : K-fold cross-validation by iterative
        stratification.
    sklearn.model_selection.train_test_split : Random (optionally
        single-label stratified) split.

    Notes
    -----
    Differences with the algorithm as published:

    - the subset sizes are hard constraints: a subset that is full never
      receives more samples, so the sizes are exactly those requested;
    - the desired number of positives of a label in a subset is at least one,
      and a positive example whose label would otherwise miss a subset for
      good is sent to that subset ("last chance" rule). Hence a label with
      at least 2 positive examples has positives on both sides of the split,
      unless the constraints of several labels sharing the same samples
      conflict (ensuring this for all labels at once is a set-splitting
      problem, which is NP-complete, so this is a best-effort guarantee);
    - samples without any positive label fill the remaining room of each
      subset at the end.

    The cost is roughly linear in the number of non-zero entries of ``y`` plus
    ``n_samples`` Python-level steps.

    References
    ----------
    .. [1] K. Sechidis, G. Tsoumakas and I. Vlahavas (2011). "On the
       stratification of multi-label data". Machine Learning and Knowledge
       Discovery in Databases (ECML PKDD 2011), LNCS 6913, pp. 145-158.

    Examples
    --------
    >>> import numpy as np
    >>> from skmultihead.model_selection import iterative_train_test_split
    >>> Y = np.zeros((20, 3), dtype=int)
    >>> Y[:2, 0] = 1    # a label with only two positive examples
    >>> Y[::2, 1] = 1
    >>> Y[::3, 2] = 1
    >>> train, test = iterative_train_test_split(Y, test_size=0.25, random_state=0)
    >>> len(train), len(test)
    (15, 5)
    >>> int(Y[train, 0].sum()), int(Y[test, 0].sum())
    (1, 1)
    """
    Y = _check_stratification_target(Y, input_name="Y")
    n_samples = Y.shape[0]
    if n_samples < 2:
        raise ValueError(
            f"iterative_train_test_split needs at least 2 samples; got {n_samples}."
        )
    n_train, n_test = _validate_test_size(test_size, n_samples)
    rng = check_random_state(random_state)
    assignment = _iterative_stratification(Y, [n_train, n_test], rng)
    return np.flatnonzero(assignment == 0), np.flatnonzero(assignment == 1)


class MultilabelStratifiedKFold(_BaseKFold):
    """Multi-label stratified K-fold cross-validator (iterative stratification).

    Provides train/test indices to split data in train/test sets. Every sample
    is in exactly one test fold, and the folds are built with the iterative
    stratification algorithm of Sechidis, Tsoumakas and Vlahavas (2011) so that
    the proportion of positive examples of every label is approximately the
    same in every fold.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds. Must be at least 2.

    shuffle : bool, default=False
        Whether to process the samples in a random order and break ties at
        random. If False, samples are processed in index order and ties are
        broken deterministically (first fold), so the folds only depend on
        ``y``.

    random_state : int, RandomState instance or None, default=None
        When ``shuffle`` is True, controls the randomness of the folds. Pass an
        int for reproducible output across multiple calls to ``split``. Must
        be None when ``shuffle`` is False.

    See Also
    --------
    iterative_train_test_split : Single train/test split by iterative
        stratification.
    sklearn.model_selection.StratifiedKFold : Stratified K-fold for binary or
        multiclass targets.

    Notes
    -----
    The fold sizes are exactly those of :class:`~sklearn.model_selection.KFold`:
    the first ``n_samples % n_splits`` folds have ``n_samples // n_splits + 1``
    samples and the others ``n_samples // n_splits``, so sizes differ by at most
    one. The per-fold positive counts of each label are close to proportional;
    a label with at least ``n_splits`` positive examples gets at least one
    positive example in every fold whenever the labels sharing its samples do
    not prevent it (see :func:`iterative_train_test_split` for the deviations
    from the published algorithm).

    A 1-D binary or multiclass ``y`` is one-hot encoded, which yields ordinary
    class-stratified folds. NaN entries of a 2-D ``y`` (missing labels) count as
    "not positive".

    References
    ----------
    .. [1] K. Sechidis, G. Tsoumakas and I. Vlahavas (2011). "On the
       stratification of multi-label data". Machine Learning and Knowledge
       Discovery in Databases (ECML PKDD 2011), LNCS 6913, pp. 145-158.

    Examples
    --------
    >>> import numpy as np
    >>> from skmultihead.model_selection import MultilabelStratifiedKFold
    >>> X = np.zeros((9, 2))
    >>> Y = np.array([[1, 0], [1, 0], [1, 0], [0, 1], [0, 1],
    ...               [0, 1], [1, 1], [1, 1], [1, 1]])
    >>> cv = MultilabelStratifiedKFold(n_splits=3)
    >>> cv.get_n_splits()
    3
    >>> for train, test in cv.split(X, Y):
    ...     print(test, Y[test].sum(axis=0))
    [0 3 6] [2 2]
    [1 4 7] [2 2]
    [2 5 8] [2 2]
    """

    def __init__(self, n_splits=5, *, shuffle=False, random_state=None):
        super().__init__(n_splits=n_splits, shuffle=shuffle, random_state=random_state)

    def split(self, X, y, groups=None):
        """Generate indices to split data into training and test set.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, where `n_samples` is the number of samples and
            `n_features` is the number of features. Only its length is used.

        y : {array-like, sparse matrix} of shape (n_samples, n_labels) or \
(n_samples,)
            Binary indicator matrix of the labels (NaN for missing labels), or
            a 1-D binary or multiclass target. Stratification is done based on
            it.

        groups : object
            Always ignored, exists for API compatibility.

        Yields
        ------
        train : ndarray
            The training set indices for that split.

        test : ndarray
            The testing set indices for that split.

        Notes
        -----
        With ``shuffle=True`` and ``random_state=None`` every call to ``split``
        gives different folds. Set ``random_state`` to an int to make them
        identical.
        """
        if y is None:
            raise ValueError(
                f"{self.__class__.__name__}.split requires y (the labels to "
                "stratify on); got y=None."
            )
        if groups is not None:
            warnings.warn(
                f"The groups parameter is ignored by {self.__class__.__name__}",
                UserWarning,
            )
        return super().split(X, y, groups)

    def _iter_test_masks(self, X, y=None, groups=None):
        Y = _check_stratification_target(y)
        n_samples = Y.shape[0]
        base, extra = divmod(n_samples, self.n_splits)
        capacities = [base + 1] * extra + [base] * (self.n_splits - extra)
        rng = check_random_state(self.random_state) if self.shuffle else None
        assignment = _iterative_stratification(Y, capacities, rng)
        for fold in range(self.n_splits):
            yield assignment == fold
