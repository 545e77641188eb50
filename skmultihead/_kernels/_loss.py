"""Output loss and its delta: the binary cross-entropy from the logits (the
default, with the branch-free ``exp``/``log1p`` it uses) and the asymmetric
(ASL) / focal loss."""

import numpy as np

from ._core import (
    L_CLIP,
    L_GAMMA_NEG,
    L_GAMMA_POS,
    _prefetch_sample,
    jit,
    jit_inline,
)

# --------------------------------------------------------------------------------
# Loss and backward pass
# --------------------------------------------------------------------------------


# Largest |z| for which the loss computes e = exp(-|z|); beyond it e is taken as
# 0 (e < 8.6e-17 there, below the resolution of sklearn's own loss, which clips
# probabilities to [eps, 1 - eps]).
EXP_CUTOFF = 37.0
_LN2_HI = 6.93147180369123816490e-01  # ln 2 = _LN2_HI + _LN2_LO, _LN2_HI exact
_LN2_LO = 1.90821492927058770002e-10  # in 32 bits (fdlibm's split)
_SQRT2 = 1.4142135623730951


@jit_inline
def _exp_neg(a):
    """``exp(-a)`` for ``0 <= a <= EXP_CUTOFF``, within 2 ulp, branch-free so that
    loops over it vectorise (libm's ``exp`` is a scalar call: 4.9 against 2.7 ns).

    ``a = k ln2 - r`` with ``|r| <= ln2 / 2``: ``exp(-r)`` is its Taylor series to
    ``r**13`` (evaluated in Estrin's scheme: a short dependency chain), and
    ``2**-k`` (``k <= 54``) is a product of selected powers of two.
    """
    k = np.floor(a * 1.4426950408889634 + 0.5)
    r = (k * _LN2_HI - a) + k * _LN2_LO
    r2 = r * r
    r4 = r2 * r2
    c0 = 1.0 + r
    c1 = 0.5 + r * (1.0 / 6.0)
    c2 = 1.0 / 24.0 + r * (1.0 / 120.0)
    c3 = 1.0 / 720.0 + r * (1.0 / 5040.0)
    c4 = 1.0 / 40320.0 + r * (1.0 / 362880.0)
    c5 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0)
    c6 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0)
    p = (c0 + r2 * c1 + r4 * (c2 + r2 * c3)) + (r4 * r4) * (c4 + r2 * c5 + r4 * c6)
    ki = np.int32(k)
    s1 = (2.0**-32 if (ki & 32) != 0 else 1.0) * (2.0**-16 if (ki & 16) != 0 else 1.0)
    s2 = (2.0**-8 if (ki & 8) != 0 else 1.0) * (2.0**-4 if (ki & 4) != 0 else 1.0)
    s3 = (0.25 if (ki & 2) != 0 else 1.0) * (0.5 if (ki & 1) != 0 else 1.0)
    return p * (s1 * (s2 * s3))


@jit_inline
def _log1p_unit(e):
    """``log1p(e)`` for ``0 <= e <= 1``, branch-free so that loops over it
    vectorise (libm's ``log1p`` is a scalar call, 9 ns here).

    ``log1p(e) = 2 atanh(s)`` with ``s = e / (2 + e)`` in ``[0, 1/3]``; the
    series of ``atanh`` to ``s**35`` is exact to within 1 ulp (the first term left
    out is below ``3e-18`` relative).
    """
    s = e / (2.0 + e)
    u = s * s
    p = 1.0 / 35.0
    p = p * u + 1.0 / 33.0
    p = p * u + 1.0 / 31.0
    p = p * u + 1.0 / 29.0
    p = p * u + 1.0 / 27.0
    p = p * u + 1.0 / 25.0
    p = p * u + 1.0 / 23.0
    p = p * u + 1.0 / 21.0
    p = p * u + 1.0 / 19.0
    p = p * u + 1.0 / 17.0
    p = p * u + 1.0 / 15.0
    p = p * u + 1.0 / 13.0
    p = p * u + 1.0 / 11.0
    p = p * u + 1.0 / 9.0
    p = p * u + 1.0 / 7.0
    p = p * u + 1.0 / 5.0
    p = p * u + 1.0 / 3.0
    return 2.0 * s + 2.0 * s * u * p


@jit_inline
def _exp_neg_wide(a):
    """``exp(-a)`` for any ``a >= 0``, branch-free: :func:`_exp_neg` up to
    ``EXP_CUTOFF``, beyond it ``_exp_neg(a / 32) ** 32`` (five squarings:
    within 100 ulp, for values below 8.6e-17; 0 where it underflows)."""
    near = _exp_neg(min(a, EXP_CUTOFF))
    far = _exp_neg(min(a * (1.0 / 32.0), EXP_CUTOFF))
    far = far * far
    far = far * far
    far = far * far
    far = far * far
    far = far * far
    return near if a < EXP_CUTOFF else far


@jit_inline
def _exp_neg_cut(a):
    """``exp(-a)`` for ``a >= 0`` (:func:`_exp_neg`), 0 beyond ``EXP_CUTOFF``
    (where it is below 8.6e-17), branch-free."""
    e = _exp_neg(min(a, EXP_CUTOFF))
    return e if a < EXP_CUTOFF else 0.0


@jit_inline
def _scale_up(m, k, below, factor, step):
    """One step of :func:`_log_unit`'s range reduction: ``m * factor`` and
    ``k + step`` where ``m < below``."""
    small = m < below
    return (m * factor if small else m), (k + step if small else k)


@jit_inline
def _log_unit(x):
    """``log(x)`` for ``0 < x <= 1``, branch-free so that loops over it
    vectorise (libm's ``log`` is a scalar call); ``x`` below the smallest
    normal float is taken as it (``log = -708.4``).

    ``x = m * 2**-k`` with ``m`` in ``[sqrt(1/2), sqrt(2))``, found by ten
    selected multiplications by powers of two and a last halving (``k <=
    1022``), and ``log(x) = log1p(m - 1) - k ln2`` (:func:`_log1p_unit`, with
    ``|m - 1| <= 0.42``; ``m - 1`` is exact).
    """
    m = max(x, 2.0**-1022)
    k = 0.0
    m, k = _scale_up(m, k, 2.0**-511, 2.0**512, 512.0)
    m, k = _scale_up(m, k, 2.0**-255, 2.0**256, 256.0)
    m, k = _scale_up(m, k, 2.0**-127, 2.0**128, 128.0)
    m, k = _scale_up(m, k, 2.0**-63, 2.0**64, 64.0)
    m, k = _scale_up(m, k, 2.0**-31, 2.0**32, 32.0)
    m, k = _scale_up(m, k, 2.0**-15, 2.0**16, 16.0)
    m, k = _scale_up(m, k, 2.0**-7, 2.0**8, 8.0)
    m, k = _scale_up(m, k, 2.0**-3, 2.0**4, 4.0)
    m, k = _scale_up(m, k, 0.5, 4.0, 2.0)
    m, k = _scale_up(m, k, 1.0, 2.0, 1.0)
    high = m > _SQRT2
    m = m * 0.5 if high else m
    k = k - 1.0 if high else k
    return (_log1p_unit(m - 1.0) - k * _LN2_LO) - k * _LN2_HI


@jit_inline
def _output_delta(Z, Y, sw, pos_weight, rows, lo, hi, inv_sw_sum, D, loss_acc):
    """Per-label BCE of rows ``lo:hi`` and its gradient w.r.t. the logits.

    For a logit ``z``, ``p = sigmoid(z)``, label ``y`` and positive weight
    ``w+``, the loss is ``w+ * y * softplus(-z) + (1 - y) * softplus(z)``,
    computed from the logits (no log of a rounded probability), and its
    derivative is ``p * (w+ * y + 1 - y) - w+ * y`` (``p - y`` when ``w+ = 1``,
    sklearn's canonical-link delta). Each row is scaled by its sample weight
    and ``D`` also by ``1 / sum(sample weights of the batch)`` so that all
    downstream gradients are batch means. NaN labels give zero loss and delta.

    ``loss_acc`` (shape ``(n_labels,)``, float64) accumulates the weighted loss
    sums; ``D`` is treated as OUT array.

    Notes
    -----
    One ``exp`` per logit serves both terms: ``e = exp(-|z|)`` never overflows,
    ``softplus(+-z) = max(+-z, 0) + log1p(e)`` and ``sigmoid(z)`` is
    ``1 / (1 + e)`` for ``z >= 0``, ``e / (1 + e)`` otherwise; ``e`` is taken as
    0 beyond ``|z| = EXP_CUTOFF``. ``exp`` and ``log1p`` are branch-free
    polynomials (:func:`_exp_neg`, :func:`_log1p_unit`), so the loop vectorises
    (libm's are scalar calls, and its ``exp`` takes a slow path for large
    arguments).
    """
    n_labels = Z.shape[1]
    for i in range(lo, hi):
        _prefetch_sample(Y, rows, i, hi)  # its label row: a random row of Y
        r = rows[i]
        w = sw[r]
        scale = w * inv_sw_sum
        z_row = Z[i]
        y_row = Y[r]
        d_row = D[i]
        for j in range(n_labels):
            y = y_row[j]
            known = not np.isnan(y)
            y = y if known else 0.0
            z = z_row[j]
            a = abs(z)
            e = _exp_neg(min(a, EXP_CUTOFF))
            e = e if a < EXP_CUTOFF else 0.0
            tail = _log1p_unit(e)
            sp_pos = max(z, 0.0) + tail
            sp_neg = max(-z, 0.0) + tail
            pw = pos_weight[j]
            loss = w * (pw * y * sp_neg + (1.0 - y) * sp_pos)
            loss_acc[j] += loss if known else 0.0
            p = (1.0 if z >= 0.0 else e) / (1.0 + e)
            delta = scale * (p * (pw * y + 1.0 - y) - pw * y)
            d_row[j] = delta if known else 0.0


@jit_inline
def _loss_delta(Z, targets, rows, lo, hi, inv_sw_sum, D, loss_acc):
    """The output loss of rows ``lo:hi`` and its delta (the arguments of
    :func:`_output_delta`, with the :class:`Targets` ``targets``): the binary
    cross-entropy, :func:`_output_delta`, when ``targets.loss`` is None, else
    :func:`_asymmetric_delta`.

    ``targets.loss is None`` is a constant of the compiled types, but numba
    types both branches: the cross-entropy's inlined loop is removed by LLVM
    from a fit with another loss, and :func:`_asymmetric_delta` is compiled
    for None, empty, in a fit with the cross-entropy.
    """
    Y, sw, pos_weight = targets.Y, targets.sw, targets.pos_weight
    if targets.loss is None:
        _output_delta(Z, Y, sw, pos_weight, rows, lo, hi, inv_sw_sum, D, loss_acc)
    else:
        _asymmetric_delta(
            Z, Y, sw, pos_weight, rows, lo, hi, inv_sw_sum, D, loss_acc, targets.loss
        )


@jit
def _asymmetric_delta(
    Z, Y, sw, pos_weight, rows, lo, hi, inv_sw_sum, D, loss_acc, loss
):
    """Per-label asymmetric loss (ASL, Ridnik et al. 2021) of rows ``lo:hi`` and
    its gradient w.r.t. the logits: :func:`_output_delta` for the loss vector
    ``loss`` (:func:`asymmetric_loss`) instead of the binary cross-entropy.
    Nothing when ``loss`` is None
    (a branch numba prunes when it compiles: the cross-entropy then runs
    :func:`_output_delta`, and this function holds no code).

    With ``p = sigmoid(z)``, ``q = 1 - p``, the exponents ``g+, g-`` and margin
    ``m`` of ``loss`` and the shifted probability of the negatives
    ``p_m = max(p - m, 0)``, the loss of a label ``y`` with positive weight
    ``w+`` is ``w+ * y * L+ + (1 - y) * L-`` where::

        L+ = -q**g+ * log(p)          = q**g+ * softplus(-z)
        L- = -p_m**g- * log(1 - p_m)  (= p**g- * softplus(z) when m = 0)

    Focal loss (Lin et al. 2017) is ``g+ = g- = gamma``, ``m = 0``; all three 0
    is the cross-entropy. With ``dp/dz = p * q`` the derivatives are::

        dL+/dz = -q**g+ * (q + g+ * p * softplus(-z))
        dL-/dz = p**g- * (p + g- * q * softplus(z))                      m = 0
        dL-/dz = p * p_m**g- * (g- * q * r + q / (1 - p_m)),  p_m > 0    m > 0
        dL-/dz = 0,                                           p_m = 0

    with ``r = -log(1 - p_m) / p_m`` (``>= 1``, and ``-> 1`` as ``p_m -> 0``),
    which keeps ``p_m**(g- - 1)`` (infinite at ``p_m = 0`` for ``g- < 1``) out
    of the computation. Where ``p_m = 0`` (``p <= m``) the loss and its
    gradient are 0.

    Everything is computed from the logits in float64 by branch-free
    polynomials, so that the loop vectorises like the cross-entropy's:
    ``e = exp(-|z|)`` (:func:`_exp_neg_wide`: not cut off, so that ``q`` stays
    exact for large ``z``, where the clipped term's gradient is about
    ``q / m``), ``log p = -softplus(-z)``, ``log(1 - p) = -softplus(z)``,
    ``q**g = exp(-g * softplus(z))``, ``p**g = exp(-g * softplus(-z))``,
    ``p_m**g = exp(g * log p_m)`` (:func:`_log_unit`; each power taken as 0
    below 8.6e-17, where it multiplies factors of a few units at most),
    ``1 - p_m = q + min(p, m)`` (no cancellation), and ``-log(1 - p_m)`` is
    ``-log1p(-p_m)`` up to ``p_m = 1/2`` (exact as ``p_m -> 0``), ``-log(q +
    m)`` above.
    Weights, NaN labels, ``D`` and ``loss_acc`` as in :func:`_output_delta`.
    """
    if loss is None:
        return
    gp, gn, clip = loss[L_GAMMA_POS], loss[L_GAMMA_NEG], loss[L_CLIP]
    n_labels = Z.shape[1]
    for i in range(lo, hi):
        _prefetch_sample(Y, rows, i, hi)
        r = rows[i]
        w = np.float64(sw[r])
        scale = w * inv_sw_sum
        z_row = Z[i]
        y_row = Y[r]
        d_row = D[i]
        for j in range(n_labels):
            y = np.float64(y_row[j])
            known = not np.isnan(y)
            y = y if known else 0.0
            z = np.float64(z_row[j])
            e = _exp_neg_wide(abs(z))
            tail = _log1p_unit(e)
            sp_pos = max(z, 0.0) + tail  # -log(1 - p)
            sp_neg = max(-z, 0.0) + tail  # -log(p)
            inv = 1.0 / (1.0 + e)
            p = (1.0 if z >= 0.0 else e) * inv
            q = (e if z >= 0.0 else 1.0) * inv
            # positive term
            q_g = _exp_neg_cut(gp * sp_pos)  # q ** gp
            loss_pos = q_g * sp_neg
            d_pos = -q_g * (q + gp * p * sp_neg)
            # negative term
            if clip > 0.0:
                p_m = max(p - clip, 0.0)
                shifted = p_m > 0.0
                one_m = q + min(p, clip)  # 1 - p_m
                near = -_log1p_unit(-min(p_m, 0.5))
                nlog = near if p_m <= 0.5 else -_log_unit(one_m)  # -log(1 - p_m)
                pm_g = _exp_neg_cut(-gn * _log_unit(p_m))  # p_m ** gn (0 ** 0 = 1)
                ratio = nlog / p_m if shifted else 1.0
                d_neg = p * pm_g * (gn * q * ratio + q / one_m)
                d_neg = d_neg if shifted else 0.0
                loss_neg = pm_g * nlog
            else:
                p_g = _exp_neg_cut(gn * sp_neg)  # p ** gn
                loss_neg = p_g * sp_pos
                d_neg = p_g * (p + gn * q * sp_pos)
            pw = np.float64(pos_weight[j])
            value = w * (pw * y * loss_pos + (1.0 - y) * loss_neg)
            loss_acc[j] += value if known else 0.0
            delta = scale * (pw * y * d_pos + (1.0 - y) * d_neg)
            d_row[j] = delta if known else 0.0
