"""Dropout masks: a hash of (seed, step, sample, unit), never stored."""

import numpy as np

from ._core import (
    jit,
    jit_inline,
)

# --------------------------------------------------------------------------------
# Dropout masks
# --------------------------------------------------------------------------------
# A unit is kept or dropped by a hash of (seed, step, sample, unit), computed where
# it is used: no mask is stored or drawn, and the mask does not depend on how the
# batch is chunked or on the thread count. Units are numbered across the network:
# the input features 0..n_features-1, then the hidden layers' units in the order
# of the activation row (n_features + act_off + k).

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S11, _S27, _S30, _S31 = np.uint64(11), np.uint64(27), np.uint64(30), np.uint64(31)


@jit_inline
def _splitmix64(x):
    """SplitMix64 (Steele et al., 2014) of the uint64 counter ``x``."""
    z = x + _GOLDEN
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@jit_inline
def _step_key(seed, t):
    """Dropout key of optimizer step ``t`` (1 for a fit's first step)."""
    return _splitmix64(_splitmix64(np.uint64(seed)) + np.uint64(t))


@jit_inline
def _row_key(key, sample):
    return _splitmix64(np.uint64(key) + np.uint64(sample))


@jit_inline
def _keep_scale(row_key, unit, rate, scale):
    """``scale = 1 / (1 - rate)`` if the unit is kept, else 0 (inverted dropout):
    kept when 53 bits of its hash, as a uniform number in [0, 1), are at least
    ``rate``."""
    u = _splitmix64(np.uint64(row_key) + np.uint64(unit))
    r = np.float64(u >> _S11) * (1.0 / 9007199254740992.0)
    return scale if r >= rate else 0.0


@jit
def _drop_units(Z, rows, lo, hi, key, unit_off, rate):
    """``Z[lo:hi, k] *= keep scale of unit unit_off + k`` of sample ``rows[i]``."""
    scale = 1.0 / (1.0 - rate)
    for i in range(lo, hi):
        row_key = _row_key(key, rows[i])
        for k in range(Z.shape[1]):
            Z[i, k] *= _keep_scale(row_key, unit_off + k, rate, scale)


@jit
def _drop_columns(colptr, crow, cval, rows, key, rate):
    """Input dropout on a chunk's non-zeros grouped by column
    (:func:`_batch_columns`): ``cval[q] *= keep scale`` of input unit ``c`` of
    sample ``rows[crow[q]]``."""
    scale = 1.0 / (1.0 - rate)
    for c in range(colptr.shape[0] - 1):
        for q in range(colptr[c], colptr[c + 1]):
            row_key = _row_key(key, rows[crow[q]])
            cval[q] *= _keep_scale(row_key, c, rate, scale)
