"""Out-of-core helpers for Dask arrays.

Two small functions for data that does not fit in memory, held as a
:class:`dask.array.Array` chunked along rows:

* :func:`incremental_fit` trains any estimator with ``partial_fit`` block by
  block (one block in memory at a time);
* :func:`predict_proba_blocks` maps ``predict_proba`` over the blocks and returns
  a lazy Dask array.

Dask is an optional dependency (``pip install skmultihead[dask]``): it is imported
when one of these functions is called, never when :mod:`skmultihead` (or this
module) is imported.

Model selection across a cluster does not need anything from this module: use
scikit-learn's ``GridSearchCV`` / ``cross_validate`` inside
``joblib.parallel_config(backend="dask")``. dask-ml's ``Incremental`` and
``ParallelPostFit`` wrappers are not supported (they assume a 1-D ``y``).
"""

import numbers

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

__all__ = ["incremental_fit", "predict_proba_blocks"]


def _dask_array():
    try:
        import dask.array as da
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "skmultihead.dask needs dask: pip install 'skmultihead[dask]' "
            "(or pip install 'dask[array]')."
        ) from exc
    return da


def _check_X(X, da):
    if not isinstance(X, da.Array):
        raise TypeError(
            "X must be a dask.array.Array chunked along rows, got "
            f"{type(X).__name__}. For in-memory data call the estimator directly."
        )
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got a dask array of shape {X.shape}.")
    if X.numblocks[1] != 1:
        # One block per row range: partial_fit needs all features of its rows.
        X = X.rechunk({1: -1})
    return X


def _align_rows(A, X, name, da):
    """``A`` (dask or array-like, 1-D or 2-D) as a dask array with X's row blocks."""
    if A is None:
        return None
    if not isinstance(A, da.Array):
        if any(np.isnan(c) for c in X.chunks[0]):
            raise ValueError(
                f"X has unknown chunk sizes: pass {name} as a dask array whose "
                "blocks match X's blocks, or call X.compute_chunk_sizes() first."
            )
        A = np.asarray(A)
        if A.ndim not in (1, 2):
            raise ValueError(f"{name} must be 1-D or 2-D, got shape {A.shape}.")
        if A.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but {name} has {A.shape[0]}.")
        A = da.from_array(A, chunks=(X.chunks[0],) + tuple((s,) for s in A.shape[1:]))
    if A.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D or 2-D, got shape {A.shape}.")
    if A.ndim == 2 and A.numblocks[1] != 1:
        A = A.rechunk({1: -1})
    known = not any(np.isnan(c) for c in X.chunks[0] + A.chunks[0])
    if known:
        if A.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but {name} has {A.shape[0]}.")
        if A.chunks[0] != X.chunks[0]:
            A = A.rechunk({0: X.chunks[0]})
    elif A.numblocks[0] != X.numblocks[0]:
        raise ValueError(
            f"X and {name} have unknown chunk sizes and different numbers of row "
            f"blocks ({X.numblocks[0]} and {A.numblocks[0]}); their blocks must "
            "hold the same rows."
        )
    return A


def incremental_fit(
    estimator,
    X,
    Y,
    *,
    epochs=1,
    shuffle_blocks=True,
    random_state=None,
    sample_weight=None,
    classes=None,
):
    """Train an estimator with ``partial_fit`` over the row blocks of a Dask array.

    Only one block of ``X`` (and the matching rows of ``Y``) is in memory at a
    time: each block is computed with the current Dask scheduler (a
    ``distributed.Client`` if one is the default) and passed to
    ``estimator.partial_fit``. One epoch is one pass over all blocks; within a
    block, the estimator shuffles rows itself when its ``shuffle=True``.

    Parameters
    ----------
    estimator : estimator instance
        Any estimator with ``partial_fit``, for instance
        :class:`~skmultihead.MultiHeadMLPClassifier`. It is updated in place and
        is *not* reset first: pass an unfitted estimator (or ``clone(estimator)``)
        to train from scratch, a fitted one to continue training.

    X : dask.array.Array of shape (n_samples, n_features)
        Training data, chunked along rows. Blocks split along columns are merged
        (``X.rechunk({1: -1})``) so that every block holds whole rows.

    Y : dask.array.Array or array-like of shape (n_samples, n_labels) or \
            (n_samples,)
        Targets (0/1 indicator matrix, NaN for a missing label, or a 1-D binary
        ``y``). Re-chunked to X's row blocks when its chunks differ. With
        unknown chunk sizes (``nan`` in ``X.chunks``), ``Y`` must be a Dask array
        with as many row blocks as ``X``, each holding the same rows.

    epochs : int, default=1
        Number of passes over all blocks.

    shuffle_blocks : bool, default=True
        Visit the blocks in a new random order in every epoch. The order of
        epoch ``e`` is the ``e``-th ``rng.permutation(n_blocks)`` of
        ``rng = sklearn.utils.check_random_state(random_state)``; with
        ``shuffle_blocks=False`` blocks are visited in storage order.

    random_state : int, RandomState instance or None, default=None
        Seeds the block order only. Weight initialisation and the shuffling of
        rows within a block follow the estimator's own ``random_state``.

    sample_weight : dask.array.Array or array-like of shape (n_samples,), \
            default=None
        Sample weights, aligned with X's rows like ``Y``.

    classes : array-like of shape (2,), default=None
        Passed to every ``partial_fit`` call (needed for a 1-D ``y`` when the
        first block does not contain both classes). Ignored for an indicator Y.

    Returns
    -------
    estimator : estimator instance
        The same estimator, trained.

    Notes
    -----
    Every block is one ``partial_fit`` call, so a :mod:`skmultihead` estimator
    records one ``loss_curve_`` entry per block and ``n_iter_`` counts blocks.
    Blocks with no rows are skipped. The result equals calling ``partial_fit``
    on the same NumPy blocks in the same order.

    Examples
    --------
    >>> import dask.array as da
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from skmultihead import MultiHeadMLPClassifier
    >>> from skmultihead.dask import incremental_fit, predict_proba_blocks
    >>> X, Y = make_multilabel_classification(n_samples=400, random_state=0)
    >>> Xd = da.from_array(X, chunks=(100, -1))
    >>> Yd = da.from_array(Y, chunks=(100, -1))
    >>> clf = MultiHeadMLPClassifier((16,), random_state=0)
    >>> clf = incremental_fit(clf, Xd, Yd, epochs=3, random_state=0)
    >>> predict_proba_blocks(clf, Xd).shape
    (400, 5)
    """
    da = _dask_array()
    import dask

    if not hasattr(estimator, "partial_fit"):
        raise TypeError(f"{type(estimator).__name__} has no partial_fit method.")
    if (
        not isinstance(epochs, numbers.Integral)
        or isinstance(epochs, bool)
        or epochs < 1
    ):
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
    X = _check_X(X, da)
    Y = _align_rows(Y, X, "Y", da)
    if Y is None:
        raise ValueError("Y is required.")
    sample_weight = _align_rows(sample_weight, X, "sample_weight", da)
    if sample_weight is not None and sample_weight.ndim != 1:
        raise ValueError("sample_weight must be 1-D.")

    kwargs = {}
    if classes is not None:
        kwargs["classes"] = classes
    rng = check_random_state(random_state)
    n_blocks = X.numblocks[0]
    for _ in range(int(epochs)):
        order = rng.permutation(n_blocks) if shuffle_blocks else np.arange(n_blocks)
        for i in order:
            parts = [X.blocks[i], Y.blocks[i]]
            if sample_weight is not None:
                parts.append(sample_weight.blocks[i])
            parts = dask.compute(*parts)
            if parts[0].shape[0] == 0:
                continue
            if sample_weight is not None:
                kwargs["sample_weight"] = parts[2]
            estimator.partial_fit(parts[0], parts[1], **kwargs)
    return estimator


def _proba_block(x, estimator, n_columns, dtype):
    if x.shape[0] == 0:
        return np.empty((0, n_columns), dtype=dtype)
    return estimator.predict_proba(x)


def predict_proba_blocks(estimator, X):
    """``estimator.predict_proba`` mapped over the row blocks of a Dask array.

    Parameters
    ----------
    estimator : fitted estimator
        A fitted classifier whose ``predict_proba`` returns one 2-D array with
        ``len(classes_)`` columns, e.g. a fitted
        :class:`~skmultihead.MultiHeadMLPClassifier` (``n_labels`` columns, or 2
        for a 1-D binary ``y``) or a pipeline ending with one. It is put into the
        task graph once, not once per block.

    X : dask.array.Array of shape (n_samples, n_features)
        Data, chunked along rows (column blocks are merged).

    Returns
    -------
    proba : dask.array.Array of shape (n_samples, n_columns)
        Lazy probabilities with X's row blocks and a single column block; its
        dtype is the dtype of the estimator's weights (``coefs_[0]``) when it has
        them, float64 otherwise.

    Notes
    -----
    Each block runs under the estimator's thread rule: inside a Dask worker a
    :mod:`skmultihead` estimator with ``n_threads=None`` uses one thread per
    task. With Dask's local threaded scheduler several blocks run at once in one
    process, each with all the process's threads: set ``n_threads=1`` on the
    estimator (or use a ``distributed`` cluster) to avoid oversubscription.
    """
    da = _dask_array()
    import dask

    check_is_fitted(estimator)
    X = _check_X(X, da)
    n_columns = len(estimator.classes_)
    coefs = getattr(estimator, "coefs_", None)
    dtype = np.dtype(coefs[0].dtype) if coefs else np.dtype(np.float64)
    return da.map_blocks(
        _proba_block,
        X,
        dask.delayed(estimator, pure=True),
        n_columns,
        dtype,
        chunks=(X.chunks[0], (n_columns,)),
        dtype=dtype,
        meta=np.empty((0, 0), dtype=dtype),
    )
