"""Optimizer update (Adam or SGD with momentum) of a chunk of parameter
segments; the sparse first layer's gradient is computed here."""

import numpy as np

from ._backward import _segment_gradient
from ._core import (
    _ZERO,
    ADAM,
    FAN_IN,
    FAN_OUT,
    H_BETA1,
    H_BETA2,
    H_EPS,
    H_GROUP_ALPHA,
    H_MOMENTUM,
    _layer_view,
    jit,
    jit_inline,
)

# --------------------------------------------------------------------------------
# Optimizer
# --------------------------------------------------------------------------------


@jit
def _optimizer_segment(
    start,
    stop,
    params,
    g0,
    state,
    lr,
    l2_scale,
    solver,
    nesterov,
    adam_scale,
    hyper,
):
    """Update ``params[start:stop]``, one group's weights or biases, in place,
    from their gradient ``g0`` (:func:`_segment_gradient`).

    ``g = g0 + l2_scale * w`` (the L2 term is added here so that the backward
    pass never touches it; ``l2_scale`` is 0 for biases); Adam with the bias
    correction ``adam_scale = sqrt(1 - beta_2**t) / (1 - beta_1**t)`` folded
    into the step size (sklearn's formulation), or SGD with (Nesterov)
    momentum. The update loops are branch-free and vectorise.

    The update runs in the parameters' dtype: the float64 hyper-parameters are
    rounded to it first, as NumPy rounds Python floats in scikit-learn's
    float32 updates. (Promoted to float64, a float32 fit's Adam paid float64's
    square root and division, the slowest part of its update.)

    Returns
    -------
    sq : float
        Sum of the squared parameters before the update (accumulated in
        float64).
    """
    # Loops run over slices from 0: with range(start, stop) numba cannot prove
    # the index non-negative, keeps its wrap-around check and the loop does not
    # vectorise (measured: Adam 4.7 vs 1.2 ns/parameter).
    p_ = params[start:stop]
    real = params.dtype.type
    l2 = real(l2_scale)
    sq = 0.0
    if solver == ADAM:
        beta1 = real(hyper[H_BETA1])
        beta2 = real(hyper[H_BETA2])
        # 1 - beta rounded once, from the float64 value (as scikit-learn).
        keep1 = real(1.0 - hyper[H_BETA1])
        keep2 = real(1.0 - hyper[H_BETA2])
        eps = real(hyper[H_EPS])
        step = real(lr * adam_scale)
        m_ = state[0, start:stop]
        v_ = state[1, start:stop]
        for i in range(p_.shape[0]):
            p = p_[i]
            g = g0[i] + l2 * p
            sq += p * p
            m = beta1 * m_[i] + keep1 * g
            v = beta2 * v_[i] + keep2 * g * g
            m_[i] = m
            v_[i] = v
            p_[i] = p - step * m / (np.sqrt(v) + eps)
    else:
        momentum = real(hyper[H_MOMENTUM])
        rate = real(lr)
        vel = state[0, start:stop]
        for i in range(p_.shape[0]):
            p = p_[i]
            g = g0[i] + l2 * p
            sq += p * p
            velocity = momentum * vel[i] - rate * g
            vel[i] = velocity
            # (loop-invariant branch: unswitched by the compiler)
            if nesterov:
                p_[i] = p + momentum * velocity - rate * g
            else:
                p_[i] = p + velocity
    return sq


@jit_inline
def _optimizer_chunk(c, args):
    """Optimizer update of the segments of chunk ``c`` (:class:`TaskArgs`
    ``args``).

    ``args.opt.segments`` rows are ``[start, stop, group, chunk]``: runs of
    parameters of one convergence group, never straddling the weights/biases
    boundary ``n_weights``, and the chunk that updates them (the chunks' costs
    balanced by ``_engine.optimizer_segments``). Frozen groups are skipped;
    each group has its own learning rate. Squared-weight sums go to
    ``sq_parts[c, group]``.

    For CSR input (``args.csr`` not None), the first layer's weight gradient is
    computed here, segment by segment, from the batch's columns and the first
    layer's deltas (:func:`_segment_gradient`).
    """
    net, opt, scratch, step = args.net, args.opt, args.scratch, args.step
    params, layers, segments = net.params, net.layers, opt.segments
    grads, sq_parts = scratch.grads, scratch.sq_parts
    sq_parts[c, :] = 0.0
    first_size = layers[0, FAN_IN] * layers[0, FAN_OUT]
    D1 = _layer_view(scratch.deltas, layers, _ZERO, step.rows.shape[0])
    for s in range(segments.shape[0]):
        start, stop, group = segments[s, 0], segments[s, 1], segments[s, 2]
        if segments[s, 3] != c or opt.frozen[group]:
            continue
        is_weight = start < opt.n_weights
        g0 = _segment_gradient(c, start, stop, first_size, args.csr, D1, grads)
        factor = 1.0
        if opt.hyper.shape[0] > H_GROUP_ALPHA:
            factor = opt.hyper[H_GROUP_ALPHA + group]
        sq = _optimizer_segment(
            start,
            stop,
            params,
            g0,
            opt.state,
            opt.group_lr[group],
            step.l2_scale * factor if is_weight else 0.0,
            opt.solver,
            opt.nesterov,
            step.adam_scale,
            opt.hyper,
        )
        if is_weight:
            sq_parts[c, group] += sq * factor


# --------------------------------------------------------------------------------
# Best weights (early stopping)
# --------------------------------------------------------------------------------


@jit
def _copy_groups(dst, src, segments, selected):
    """Copy ``src[start:stop]`` to ``dst`` for every ``[start, stop, group]`` row
    of ``segments`` whose group is ``selected`` (a boolean per group).

    Early stopping keeps the best weights of each stopping unit; the units'
    parameters interleave in the first layer (thousands of short segments), so a
    masked NumPy copy took a pass over an index array as long as ``params`` (on
    medical's 15 cross-fitted networks, 6.7 ms of each 45 ms epoch).
    """
    for s in range(segments.shape[0]):
        if selected[segments[s, 2]]:
            d = dst[segments[s, 0] : segments[s, 1]]
            v = src[segments[s, 0] : segments[s, 1]]
            for i in range(d.shape[0]):
                d[i] = v[i]
