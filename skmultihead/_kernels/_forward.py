"""Forward pass: first layer (dense or CSR), dense and block-diagonal layers,
activations, and the prediction of a block of rows."""

import numpy as np

from ._core import (
    _AHEAD,
    _NO_KEY,
    _SCATTER,
    _ZERO,
    ACT_OFF,
    B_OFF,
    FAN_IN,
    IDENTITY,
    LOGISTIC,
    N_BLOCKS,
    RELU,
    SMALL_ROWS,
    TANH,
    Step,
    _add_scaled,
    _block_weights,
    _column_runs,
    _copy_spans,
    _dense_weights,
    _gather_runs,
    _gathered_runs,
    _layer_view,
    _prefetch_row,
    _prefetch_sample,
    _sigmoid,
    _skip_span,
    _skipped,
    jit,
    jit_inline,
)
from ._dropout import _drop_columns, _drop_units

# --------------------------------------------------------------------------------
# Forward pass
# --------------------------------------------------------------------------------


@jit
def _gather_rows(X, rows, lo, hi, out):
    """Copy ``X[rows[lo:hi]]`` into ``out[lo:hi]`` (treated as OUT array)."""
    n_features = X.shape[1]
    for i in range(lo, hi):
        _prefetch_sample(X, rows, i, hi)
        src = rows[i]
        for k in range(n_features):
            out[i, k] = X[src, k]


@jit
def _sparse_first_layer(data, indices, indptr, rows, lo, hi, W, Z, skip):
    """``Z[lo:hi] = X[rows[lo:hi]] @ W`` for a CSR ``X`` (treated as OUT array),
    leaving out the columns of skipped groups (:func:`_skip_span`)."""
    fan_out = W.shape[1]
    active, span = _column_runs(skip, fan_out)
    for i in range(lo, hi):
        Z[i] = 0.0
        r = rows[i]
        for p in range(indptr[r], indptr[r + 1]):
            _add_scaled(Z[i], data[p], W[indices[p]], active, span)


@jit_inline
def _prefetch_csr_row(data, indices, indptr, r):
    """:func:`_prefetch_row` the values and the column indices of CSR row ``r``."""
    _prefetch_row(data[indptr[r] : indptr[r + 1]])
    _prefetch_row(indices[indptr[r] : indptr[r + 1]])


@jit
def _batch_columns(data, indices, indptr, rows, lo, hi, colptr, crow, cval):
    """The non-zeros of ``X[rows[lo:hi]]`` grouped by column (CSC of a chunk).

    Column ``c``'s entries are ``crow[colptr[c]:colptr[c + 1]]`` (batch row
    indices, ascending) and ``cval[...]`` (values); all three are treated as OUT
    arrays, ``colptr`` of length ``n_features + 1``. A counting sort: linear in
    the chunk's non-zeros plus ``n_features``.
    """
    n_features = colptr.shape[0] - 1
    colptr[:] = 0
    # The rows are a random sample of X: each is fetched (both of its arrays,
    # the values for the second pass) _AHEAD rows before it is counted.
    for i in range(lo, min(lo + _AHEAD, hi)):
        _prefetch_csr_row(data, indices, indptr, rows[i])
    for i in range(lo, hi):
        if i + _AHEAD < hi:
            _prefetch_csr_row(data, indices, indptr, rows[i + _AHEAD])
        r = rows[i]
        for p in range(indptr[r], indptr[r + 1]):
            colptr[indices[p] + 1] += 1
    for c in range(n_features):
        colptr[c + 1] += colptr[c]
    # Fill, using colptr[c] as column c's cursor, then shift the cursors back.
    for i in range(lo, hi):
        r = rows[i]
        for p in range(indptr[r], indptr[r + 1]):
            c = indices[p]
            q = colptr[c]
            crow[q] = i
            cval[q] = data[p]
            colptr[c] = q + 1
    for c in range(n_features, 0, -1):
        colptr[c] = colptr[c - 1]
    colptr[0] = 0


@jit
def _columns_first_layer(colptr, crow, cval, lo, hi, W, Z, skip):
    """``Z[lo:hi] = X_chunk @ W`` from the chunk's columns (:func:`_batch_columns`),
    leaving out the columns of skipped groups (:func:`_skip_span`).

    Column by column, each row of ``W`` is read once per chunk however many rows
    use it (measured on bibtex: 108 instead of 152 us per 100 rows, row by row);
    each row of ``Z`` still sums its columns in ascending order.
    """
    fan_out = W.shape[1]
    active, span = _column_runs(skip, fan_out)
    Z[lo:hi] = 0.0
    n_columns = colptr.shape[0] - 1
    for c in range(n_columns):
        if colptr[c + 1] == colptr[c]:
            continue
        # The weight row two columns on (which the optimizer may just have
        # written on another core) is fetched while this one is used.
        _prefetch_row(W[min(c + 2, n_columns - 1)])
        w = W[c]
        for q in range(colptr[c], colptr[c + 1]):
            _add_scaled(Z[crow[q]], cval[q], w, active, span)


@jit
def _block_forward(A, W, lo, hi, Z, skip):
    """Block-diagonal product ``Z[lo:hi] = A[lo:hi] @ blockdiag(W)``, leaving out
    the blocks of skipped groups (:func:`_skip_span`)."""
    n_blocks, fan_in, fan_out = W.shape
    per_group = _skip_span(skip, n_blocks)
    if fan_out == 1:
        # One output per block (binary relevance's output layer): a dot product
        # accumulated in a register, not added into Z in memory at every step.
        for i in range(lo, hi):
            for b in range(n_blocks):
                if _skipped(skip, b, per_group):
                    continue
                a_row = A[i, b * fan_in : (b + 1) * fan_in]
                w_col = W[b, :, 0]
                acc = 0.0
                for k in range(fan_in):
                    acc += a_row[k] * w_col[k]
                Z[i, b] = acc
        return
    for i in range(lo, hi):
        for b in range(n_blocks):
            if _skipped(skip, b, per_group):
                continue
            for o in range(fan_out):
                Z[i, b * fan_out + o] = 0.0
            for k in range(fan_in):
                a = A[i, b * fan_in + k]
                for o in range(fan_out):
                    Z[i, b * fan_out + o] += a * W[b, k, o]


@jit
def _matmul_rows(A, W, lo, hi, Z, skip):
    """``Z[lo:hi] = A[lo:hi] @ W`` (treated as OUT array).

    Loops for at most ``SMALL_ROWS`` rows, BLAS otherwise. When at least a
    quarter of the groups are skipped (:func:`_skip_span`), only the other
    groups' columns are computed: their columns of ``W`` are gathered into one
    matrix, multiplied, and the result scattered back. (Below a quarter, the
    gathering costs about what it saves.)
    """
    # One call of each product for both cases (each call site is compiled);
    # the gathering is not compiled at all for ``skip`` None.
    Wd, Zd = W, Z
    if skip is not None:
        active, span = _gathered_runs(skip, W.shape[1])
        if span > 0:
            Wd = _gather_runs(W, _ZERO, W.shape[0], W.shape[0], active, span)
            Zd = np.empty((hi, Wd.shape[1]), dtype=Z.dtype)
    if hi - lo <= SMALL_ROWS:
        # One block, from which ``skip`` leaves nothing out (:func:`_skip_span`
        # is 0 for a width of 1 and several groups): the call has the types of
        # the block-diagonal layers' call, one specialisation for both.
        W3 = Wd.reshape(1, Wd.shape[0], Wd.shape[1])
        _block_forward(A, W3, lo, hi, Zd, skip)
    else:
        np.dot(A[lo:hi], Wd, Zd[lo:hi])
    if skip is not None:
        if span > 0:
            _copy_spans(Z, lo, hi, active, span, Zd, _SCATTER)


@jit
def _bias_activate(Z, bias, lo, hi, code):
    """``Z[lo:hi] = act(Z[lo:hi] + bias)`` in place, one pass over the rows.

    One loop per activation: a branch on ``code`` inside the loop would keep
    it from vectorising.
    """
    width = Z.shape[1]
    if code == RELU:
        for i in range(lo, hi):
            for o in range(width):
                z = Z[i, o] + bias[o]
                Z[i, o] = z if z > 0.0 else 0.0
    elif code == TANH:
        for i in range(lo, hi):
            for o in range(width):
                Z[i, o] = np.tanh(Z[i, o] + bias[o])
    elif code == LOGISTIC:
        for i in range(lo, hi):
            for o in range(width):
                Z[i, o] = _sigmoid(Z[i, o] + bias[o])
    else:
        for i in range(lo, hi):
            for o in range(width):
                Z[i, o] += bias[o]


@jit
def _first_layer(X, csr, c, step, dropout, lo, hi, Xb, W, Z, skip):
    """``Z[lo:hi] = X[rows[lo:hi]] @ W`` for dense or CSR input
    (``rows = step.rows``), with the step's input dropout (none, and no
    dropout code compiled, for ``dropout`` None).

    Dense input has ``csr`` None: numba prunes the branches on ``is None`` when
    it compiles, so that dense input compiles no sparse code, and the other way
    round. CSR input in training gives per-chunk scratch ``csr.colptr, crow,
    cval`` (chunk ``c`` is grouped by column first, :func:`_batch_columns`); an
    empty ``colptr`` (prediction: no dropout) reads the CSR rows directly.

    Input dropout scales the gathered rows ``Xb`` (dense) or the chunk's
    non-zeros (CSR), which the first layer's weight gradient reads too. The
    columns of skipped groups are left out (:func:`_skip_span`).
    """
    rows = step.rows
    if csr is None:
        _gather_rows(X, rows, lo, hi, Xb)
        if dropout is not None:
            if dropout.input_rate > 0.0:
                rate = dropout.input_rate
                _drop_units(Xb, rows, lo, hi, step.drop_key, _ZERO, rate)
        _matmul_rows(Xb, W, lo, hi, Z, skip)
    elif csr.colptr.shape[1] == 0:
        data, indices, indptr = csr.data, csr.indices, csr.indptr
        _sparse_first_layer(data, indices, indptr, rows, lo, hi, W, Z, skip)
    else:
        colptr, crow, cval = csr.colptr[c], csr.crow[c], csr.cval[c]
        _batch_columns(
            csr.data, csr.indices, csr.indptr, rows, lo, hi, colptr, crow, cval
        )
        if dropout is not None:
            if dropout.input_rate > 0.0:
                rate = dropout.input_rate
                _drop_columns(colptr, crow, cval, rows, step.drop_key, rate)
        _columns_first_layer(colptr, crow, cval, lo, hi, W, Z, skip)


@jit
def _forward_rows(X, csr, c, step, dropout, lo, hi, Xb, net, acts):
    """Forward pass of rows ``lo:hi`` of a batch through every layer.

    Parameters
    ----------
    X, csr, c :
        The input and the first layer's scratch (see :func:`_first_layer`).
    step : Step
        ``rows`` of shape (batch_rows,): sample index of each batch row, and the
        step's dropout key.
    dropout : Dropout or None
        Dropout rates (hidden units are dropped after their activation); None
        for none (no dropout code compiled).
    lo, hi : int
        Rows of the batch handled here.
    Xb : ndarray of shape (>= batch_rows, n_features)
        Gather buffer for dense input (treated as OUT array).
    net : Network
        Flat parameters, layer table, hidden activation code (the output
        layer is left as logits) and the groups to skip: their units are not
        computed (their values in ``acts`` are stale, and must not be read).
    acts : ndarray
        Flat activation buffer, laid out for ``batch_rows`` rows (treated as OUT
        array).
    """
    params, layers, act_code, skip = net.params, net.layers, net.act_code, net.skip
    batch_rows = step.rows.shape[0]
    n_features = layers[0, FAN_IN]
    n_layers = layers.shape[0]
    for layer in range(n_layers):
        code = act_code if layer < n_layers - 1 else IDENTITY
        Z = _layer_view(acts, layers, layer, batch_rows)
        b_off = layers[layer, B_OFF]
        bias = params[b_off : b_off + Z.shape[1]]
        if layer == 0:
            W = _dense_weights(params, layers, 0)
            _first_layer(X, csr, c, step, dropout, lo, hi, Xb, W, Z, skip)
        else:
            A = _layer_view(acts, layers, layer - 1, batch_rows)
            if layers[layer, N_BLOCKS] == 1:
                W = _dense_weights(params, layers, layer)
                _matmul_rows(A, W, lo, hi, Z, skip)
            else:
                W3 = _block_weights(params, layers, layer)
                _block_forward(A, W3, lo, hi, Z, skip)
        _bias_activate(Z, bias, lo, hi, code)
        if dropout is not None:
            if layer < n_layers - 1 and dropout.hidden_rate > 0.0:
                unit_off = n_features + layers[layer, ACT_OFF]
                rate = dropout.hidden_rate
                _drop_units(Z, step.rows, lo, hi, step.drop_key, unit_off, rate)


@jit_inline
def _predict_block(X, csr, is_sparse, net, start, m, row_width, sigmoid, out):
    """Logits (or probabilities) of samples ``start:start + m``.

    Parameters
    ----------
    X, csr :
        Dense or CSR input (see :func:`_first_layer`); for CSR input the column
        scratch is empty (its rows are read directly).
    is_sparse : bool
        Whether ``csr`` is given.
    net : Network
        Flat parameters, layer table, hidden activation code and the groups
        to skip (their outputs in ``out`` are left as they are).
    start, m : int
        First sample and number of samples.
    row_width : int
        Sum of the layer widths (size of one row of activations).
    sigmoid : bool
        Apply the logistic function to the logits.
    out : ndarray of shape (n_samples, n_outputs)
        Result (treated as OUT array). Scratch memory is about
        ``m * (n_features + row_width)`` values.
    """
    params, layers = net.params, net.layers
    n_features = layers[0, FAN_IN]
    last = layers.shape[0] - 1
    # No dropout in prediction (the caller passes None).
    step = Step(np.arange(start, start + m), 0.0, 0.0, 0.0, _NO_KEY)
    acts = np.empty(m * row_width, dtype=params.dtype)
    Xb = np.empty((0 if is_sparse else m, n_features), dtype=params.dtype)
    _forward_rows(X, csr, _ZERO, step, None, _ZERO, m, Xb, net, acts)
    logits = _layer_view(acts, layers, last, m)
    for i in range(m):
        for j in range(logits.shape[1]):
            z = logits[i, j]
            out[start + i, j] = _sigmoid(z) if sigmoid else z
