"""Decision thresholds tuned for F1 on held-out (validation or out-of-fold)
probabilities.

Three strategies, all skipping missing (NaN) labels:

``'f1'``
    Each label with at least ``MIN_POSITIVES_TO_TUNE`` held-out positives gets
    the cut maximising its own F1; rarer labels share the cut maximising
    micro-F1 over all labels pooled.
``'f1_global'``
    One cut for every label: the one maximising micro-F1 over all labels pooled.
``'f1_shrunk'``
    Each label's own F1 cut shrunk towards the pooled cut by its number of
    held-out positives ``n``: ``(n * own + SHRINK_POSITIVES * pooled) / (n +
    SHRINK_POSITIVES)``. A label's own F1-optimal cut is a noisy estimate when
    it rests on a handful of positives (the F1 curve of a rare label is a few
    steps); the pooled cut rests on all labels' positives. The weight is that of
    a prior worth ``SHRINK_POSITIVES`` positives, so frequent labels keep their
    own cut and rare ones move smoothly to the pooled one (no hard cliff as in
    ``'f1'``).
"""

import numpy as np

# threshold='f1': labels with fewer held-out positives share a pooled threshold.
MIN_POSITIVES_TO_TUNE = 5
# threshold='f1_shrunk': the pooled cut counts as this many positives.
SHRINK_POSITIVES = 10.0

STRATEGIES = ("f1", "f1_global", "f1_shrunk")


def _f1_cut(p, y):
    """Threshold maximising F1 of ``p > threshold`` for one score vector.

    Thresholds sit halfway between consecutive distinct scores; 0.5 when ``y``
    has no positive.
    """
    n_pos = y.sum()
    if n_pos == 0:
        return 0.5
    order = np.argsort(-p, kind="stable")
    p, y = p[order], y[order]
    # Predicting the top k scores positive: tp = cumsum(y), fp = k - tp.
    tp = np.cumsum(y)
    f1 = 2 * tp / (np.arange(1, p.size + 1) + n_pos)
    # Only cut where the next score differs (ties go together).
    valid = np.append(p[1:] < p[:-1], True)
    best = np.flatnonzero(valid)[np.argmax(f1[valid])]
    nxt = p[best + 1] if best + 1 < p.size else 0.0
    return 0.5 * (p[best] + nxt)


def _per_label(P, Y, observed):
    """Each label's own F1 cut and its number of observed positives."""
    cuts = np.empty(P.shape[1])
    n_pos = np.empty(P.shape[1])
    for j in range(P.shape[1]):
        p, y = P[observed[:, j], j], Y[observed[:, j], j]
        n_pos[j] = y.sum()
        cuts[j] = _f1_cut(p, y)
    return cuts, n_pos


def tune_thresholds(P, Y, strategy="f1"):
    """Per-label thresholds maximising F1 on held-out probabilities.

    Parameters
    ----------
    P : ndarray of shape (n_samples, n_labels)
        Held-out probabilities.
    Y : ndarray of shape (n_samples, n_labels)
        Held-out targets in {0, 1}, NaN for a missing label.
    strategy : {'f1', 'f1_global', 'f1_shrunk'}, default='f1'
        See the module docstring.

    Returns
    -------
    thresholds : ndarray of shape (n_labels,)
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"Unknown threshold strategy {strategy!r}.")
    P = P.astype(np.float64)
    observed = ~np.isnan(Y)
    pooled = _f1_cut(P[observed], Y[observed])
    if strategy == "f1_global":
        return np.full(P.shape[1], pooled)
    cuts, n_pos = _per_label(P, Y, observed)
    if strategy == "f1":
        return np.where(n_pos >= MIN_POSITIVES_TO_TUNE, cuts, pooled)
    return (n_pos * cuts + SHRINK_POSITIVES * pooled) / (n_pos + SHRINK_POSITIVES)


def _best_f1_thresholds(P, Y):
    """``tune_thresholds(P, Y, 'f1')`` (kept for the tests and old callers)."""
    return tune_thresholds(P, Y, "f1")
