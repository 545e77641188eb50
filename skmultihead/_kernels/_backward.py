"""Backward pass: activation derivatives (with dropout), weight and bias
gradients, and one row chunk's forward-loss-backward step."""

import numpy as np

from ._core import (
    _SCATTER,
    _ZERO,
    ACT_OFF,
    B_OFF,
    FAN_IN,
    FAN_OUT,
    LOGISTIC,
    N_BLOCKS,
    RELU,
    TANH,
    W_OFF,
    _block_weights,
    _chunk_bounds,
    _copy_spans,
    _dense_weights,
    _gather_runs,
    _gathered_runs,
    _layer_view,
    _skip_span,
    _skipped,
    jit,
    jit_inline,
)
from ._dropout import _keep_scale, _row_key
from ._forward import _forward_rows
from ._loss import _loss_delta


@jit
def _scale_by_derivative(D, A, lo, hi, code, step, dropout, unit_off):
    """``D[lo:hi] *= act'(A[lo:hi])`` with the derivative written through the
    activation's output ``A`` (one loop per activation, as above), for hidden
    units ``unit_off + k``; under dropout (``dropout`` not None, hidden rate
    above 0), :func:`_scale_by_dropout_derivative`."""
    if dropout is not None:
        if dropout.hidden_rate > 0.0:
            rate = dropout.hidden_rate
            key = step.drop_key
            _scale_by_dropout_derivative(
                D, A, step.rows, lo, hi, code, key, unit_off, rate
            )
            return
    width = D.shape[1]
    if code == RELU:
        for i in range(lo, hi):
            for k in range(width):
                D[i, k] = D[i, k] if A[i, k] > 0.0 else 0.0
    elif code == TANH:
        for i in range(lo, hi):
            for k in range(width):
                a = A[i, k]
                D[i, k] *= 1.0 - a * a
    elif code == LOGISTIC:
        for i in range(lo, hi):
            for k in range(width):
                a = A[i, k]
                D[i, k] *= a * (1.0 - a)


@jit
def _scale_by_dropout_derivative(D, A, rows, lo, hi, code, key, unit_off, rate):
    """``D[lo:hi] *= m * act'`` for hidden units under dropout: ``m`` the keep
    scale of each unit (:func:`_keep_scale`, the mask of the forward pass) and
    ``act'`` written through the activation before dropout, ``A / m`` (``A``
    holds the dropped-out activations; a dropped unit's delta is 0)."""
    scale = 1.0 / (1.0 - rate)
    for i in range(lo, hi):
        row_key = _row_key(key, rows[i])
        for k in range(D.shape[1]):
            m = _keep_scale(row_key, unit_off + k, rate, scale)
            a = A[i, k] / scale
            if code == RELU:
                d = 1.0 if a > 0.0 else 0.0
            elif code == TANH:
                d = 1.0 - a * a
            elif code == LOGISTIC:
                d = a * (1.0 - a)
            else:
                d = 1.0
            D[i, k] *= m * d


@jit
def _block_weight_grad(A, D, lo, hi, G, skip):
    """``G[b] = A[lo:hi, block b].T @ D[lo:hi, block b]`` (treated as OUT array);
    0 for the blocks of skipped groups (:func:`_skip_span`)."""
    n_blocks, fan_in, fan_out = G.shape
    per_group = _skip_span(skip, n_blocks)
    G[:] = 0.0
    for i in range(lo, hi):
        for b in range(n_blocks):
            if _skipped(skip, b, per_group):
                continue
            for k in range(fan_in):
                a = A[i, b * fan_in + k]
                for o in range(fan_out):
                    G[b, k, o] += a * D[i, b * fan_out + o]


@jit
def _block_backprop(D, W, lo, hi, D_prev, skip):
    """``D_prev[lo:hi] = D[lo:hi] @ blockdiag(W).T`` (treated as OUT array),
    leaving out the blocks of skipped groups (:func:`_skip_span`)."""
    n_blocks, fan_in, fan_out = W.shape
    per_group = _skip_span(skip, n_blocks)
    for i in range(lo, hi):
        for b in range(n_blocks):
            if _skipped(skip, b, per_group):
                continue
            for k in range(fan_in):
                s = 0.0
                for o in range(fan_out):
                    s += D[i, b * fan_out + o] * W[b, k, o]
                D_prev[i, b * fan_in + k] = s


@jit
def _sparse_weight_grad(start, stop, colptr, crow, cval, D, g):
    """Entries ``start:stop`` of the flattened first-layer gradient
    ``X_batch.T @ D`` for CSR input, from every chunk's columns
    (:func:`_batch_columns`); ``g`` (length ``stop - start``) is treated as OUT
    array.

    Called by the optimizer on its own parameter range, right before the update
    reads it: the gradient of the (wide) first layer is never written out whole
    by each row chunk and summed afterwards. Each gradient row sums the chunks in
    order, and within a chunk its rows in ascending order.
    """
    fan_out = D.shape[1]
    g[:] = 0.0
    for r in range(start // fan_out, (stop - 1) // fan_out + 1):
        base = r * fan_out
        o_lo = max(start - base, 0)
        o_hi = min(stop - base, fan_out)
        out = g[base + o_lo - start : base + o_hi - start]
        for k in range(colptr.shape[0]):
            for q in range(colptr[k, r], colptr[k, r + 1]):
                x = cval[k, q]
                d = D[crow[k, q], o_lo:o_hi]
                for o in range(out.shape[0]):
                    out[o] += x * d[o]


@jit
def _segment_gradient(c, start, stop, first_size, csr, D, grads):
    """The gradient of parameters ``start:stop`` (one segment) for optimizer
    chunk ``c``: the row chunks' partial gradients ``grads[:, start:stop]``
    summed into ``grads[0, start:stop]``; or, for CSR input and a segment of the
    first layer's weights (whose row chunks write no gradient), computed into
    the chunk's buffer ``csr.seg_grad[c]`` (:func:`_sparse_weight_grad`).

    The buffer is reused by every segment of the chunk, so it stays in cache
    from the gradient to the update, where a segment of the first layer's row
    of ``grads`` was evicted since the last step (its ``memset`` alone took 6 %
    of a bibtex step). ``csr`` None (dense input) is a branch numba prunes when
    it compiles.
    """
    if csr is not None:
        if start < first_size:
            g = csr.seg_grad[c, : stop - start]
            _sparse_weight_grad(start, stop, csr.colptr, csr.crow, csr.cval, D, g)
            return g
    # Loops over slices from 0 (see _optimizer_segment).
    g = grads[0, start:stop]
    for k in range(1, grads.shape[0]):
        gk = grads[k, start:stop]
        for i in range(g.shape[0]):
            g[i] += gk[i]
    return g


@jit
def _dense_weight_grad(Xb, D, lo, hi, G, skip):
    """``G = Xb[lo:hi].T @ D[lo:hi]``, the first layer's weight gradient for
    dense input (treated as OUT array). When at least a quarter of the groups
    are skipped (:func:`_skip_span`), only the other groups' columns are
    computed (their columns of ``D`` gathered, multiplied, scattered back; the
    skipped groups' columns of ``G`` are left as they are)."""
    if hi <= lo:
        G[:] = 0.0
        return
    # One call of the product for both cases (each call site is compiled);
    # the gathering is not compiled at all for ``skip`` None.
    Dd, Gd = D, G
    if skip is not None:
        active, span = _gathered_runs(skip, G.shape[1])
        if span > 0:
            Dd = _gather_runs(D, lo, hi, hi, active, span)
            Gd = np.empty((G.shape[0], Dd.shape[1]), dtype=G.dtype)
    np.dot(Xb[lo:hi].T, Dd[lo:hi], Gd)
    if skip is not None:
        if span > 0:
            _copy_spans(G, _ZERO, G.shape[0], active, span, Gd, _SCATTER)


@jit
def _bias_grad(D, lo, hi, g):
    g[:] = 0.0
    for i in range(lo, hi):
        for o in range(D.shape[1]):
            g[o] += D[i, o]


@jit_inline
def _backward_rows(is_sparse, lo, hi, Xb, net, acts, deltas, step, dropout, grads):
    """Back-propagate the output deltas of rows ``lo:hi`` and write this chunk's
    partial gradient of every parameter into ``grads`` (treated as OUT array).

    For dense input, ``Xb`` holds the chunk's gathered rows (after input
    dropout). For CSR input the first layer's weight gradient is left to the
    optimizer (:func:`_sparse_weight_grad`). The deltas of dropped hidden units
    are 0, those of kept units scaled like their activations. Skipped groups
    (``net.skip``) are left out of the products; their gradients are not read
    (only frozen groups are skipped, and the optimizer skips those).
    """
    params, layers, skip = net.params, net.layers, net.skip
    batch_rows = step.rows.shape[0]
    last = layers.shape[0] - 1
    for layer in range(last, -1, -1):
        D = _layer_view(deltas, layers, layer, batch_rows)
        w_off = layers[layer, W_OFF]
        n_blocks = layers[layer, N_BLOCKS]
        fan_in = layers[layer, FAN_IN]
        fan_out = layers[layer, FAN_OUT]
        b_off = layers[layer, B_OFF]
        _bias_grad(D, lo, hi, grads[b_off : b_off + n_blocks * fan_out])
        if layer == 0:
            G = grads[w_off : w_off + fan_in * fan_out].reshape(fan_in, fan_out)
            if not is_sparse:  # else computed by the optimizer (_sparse_weight_grad)
                _dense_weight_grad(Xb, D, lo, hi, G, skip)
            continue
        A = _layer_view(acts, layers, layer - 1, batch_rows)
        D_prev = _layer_view(deltas, layers, layer - 1, batch_rows)
        if n_blocks == 1:
            W = _dense_weights(params, layers, layer)
            G = grads[w_off : w_off + fan_in * fan_out].reshape(fan_in, fan_out)
            if hi > lo:
                np.dot(A[lo:hi].T, D[lo:hi], G)
                np.dot(D[lo:hi], W.T, D_prev[lo:hi])
            else:
                G[:] = 0.0
        else:
            size = n_blocks * fan_in * fan_out
            G = grads[w_off : w_off + size].reshape(n_blocks, fan_in, fan_out)
            _block_weight_grad(A, D, lo, hi, G, skip)
            W3 = _block_weights(params, layers, layer)
            _block_backprop(D, W3, lo, hi, D_prev, skip)
        unit_off = layers[0, FAN_IN] + layers[layer - 1, ACT_OFF]
        _scale_by_derivative(D_prev, A, lo, hi, net.act_code, step, dropout, unit_off)


@jit_inline
def _chunk_step(c, n_chunks, args, is_sparse):
    """Forward, loss and backward for chunk ``c`` of the current batch
    (:class:`TaskArgs` ``args``; the column scratch of CSR input has one row per
    chunk)."""
    step, net, scratch, targets = args.step, args.net, args.scratch, args.targets
    rows, layers = step.rows, net.layers
    m = rows.shape[0]
    lo, hi = _chunk_bounds(c, n_chunks, m)
    acts, deltas, Xb = scratch.acts, scratch.deltas, scratch.Xb
    _forward_rows(args.X, args.csr, c, step, args.dropout, lo, hi, Xb, net, acts)
    last = layers.shape[0] - 1
    Z = _layer_view(acts, layers, last, m)
    D = _layer_view(deltas, layers, last, m)
    loss_parts = scratch.loss_parts
    loss_parts[c, :] = 0.0
    _loss_delta(Z, targets, rows, lo, hi, step.inv_sw_sum, D, loss_parts[c])
    grads = scratch.grads[c]
    _backward_rows(is_sparse, lo, hi, Xb, net, acts, deltas, step, args.dropout, grads)
