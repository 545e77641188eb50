"""Synthetic multilabel text data for the benchmarks: CSR bag-of-words, numpy only.

:func:`make_text_multilabel` draws a corpus the way a topic model would, so that the
labels can be learnt from the features:

1. **Labels.** Each row gets ``1 + Poisson(mean_labels - 1)`` distinct labels
   (at most ``n_labels``), drawn without replacement with Zipf-like prior weights
   ``1 / (rank + 1) ** label_exponent`` (Gumbel top-k). Then every label with
   fewer than ``min_positives`` rows is added to that many random rows, and the
   generator checks that every label has positives and negatives.
2. **Words.** Each label owns ``keywords`` features, drawn with weights that favour
   mid-frequency features (like topic words), with Zipf-decaying weights among
   them. Each row draws about ``tokens_per_row`` tokens (Poisson, at least 1):
   a token comes from the background Zipf distribution over all features
   (``1 / (rank + 2.7)``, feature ids shuffled) with probability
   ``1 - topic_share``, otherwise from the keywords of one of the row's labels,
   chosen uniformly. Repeated tokens are counted, so ``nnz`` per row is smaller
   than the number of tokens (calibrated so that ``tokens_per_row=28`` gives about
   23 distinct features per row at ``n_features=500``).
3. **Values.** tf-idf like scikit-learn's ``TfidfTransformer(sublinear_tf=True)``:
   ``(1 + log(count)) * (log((1 + n) / (1 + df)) + 1)``, rows L2-normalised;
   all values are positive.

The result is deterministic in ``seed`` (numpy's ``Generator(PCG64(seed))``).
"""

import numpy as np
from scipy import sparse


def make_text_multilabel(
    n_samples,
    n_features,
    n_labels,
    *,
    tokens_per_row=28.0,
    mean_labels=1.8,
    label_exponent=0.8,
    keywords=25,
    topic_share=0.45,
    min_positives=2,
    dtype=np.float64,
    seed=0,
):
    """CSR tf-idf ``X`` of shape (n_samples, n_features) and an int8 indicator ``Y``.

    See the module docstring for the model. Returns ``(X, Y)``, ``X`` a
    ``scipy.sparse.csr_matrix`` with sorted indices and no explicit zeros, ``Y`` a
    dense C-contiguous ``(n_samples, n_labels)`` array of 0/1 in which every label
    has at least ``min_positives`` positives and at least one negative.
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    n, d, L = int(n_samples), int(n_features), int(n_labels)

    # 1. Label sets: Gumbel top-k over the Zipf-like prior, k = cardinality per row.
    prior = 1.0 / np.arange(1, L + 1) ** label_exponent
    prior = prior[rng.permutation(L)]
    k = 1 + rng.poisson(max(mean_labels - 1.0, 0.0), size=n)
    k = np.minimum(k, L)
    scores = np.log(prior)[None, :] + rng.gumbel(size=(n, L))
    order = np.argsort(-scores, axis=1)
    Y = np.zeros((n, L), dtype=np.int8)
    chosen = np.arange(L)[None, :] < k[:, None]
    rows = np.broadcast_to(np.arange(n)[:, None], (n, L))[chosen]
    Y[rows, order[chosen]] = 1
    for j in np.flatnonzero(Y.sum(axis=0) < min_positives):
        Y[rng.choice(n, size=min_positives, replace=False), j] = 1
    counts = Y.sum(axis=0)
    if counts.min() < min(min_positives, n) or counts.max() >= n:
        raise ValueError("a label has no positives or no negatives")

    # 2. Tokens: background Zipf over the features, or a keyword of a row label.
    background = 1.0 / (np.arange(d) + 2.7)
    background = background[rng.permutation(d)]
    background /= background.sum()
    # Topic words: favour mid-frequency features (weight sqrt(p) rather than p).
    kw = min(keywords, d)
    topic_pick = np.sqrt(background) / np.sqrt(background).sum()
    topic_words = np.stack(
        [rng.choice(d, size=kw, replace=False, p=topic_pick) for _ in range(L)]
    )
    kw_weight = 1.0 / np.arange(1, kw + 1)
    kw_cum = np.cumsum(kw_weight / kw_weight.sum())

    n_tok = np.maximum(rng.poisson(tokens_per_row, size=n), 1)
    tok_row = np.repeat(np.arange(n), n_tok)
    m = tok_row.size
    feature = rng.choice(d, size=m, p=background)
    topical = rng.random(m) < topic_share
    # A uniformly chosen label of each topical token's row.
    lab_rows, lab_cols = np.nonzero(Y)  # row-major: each row's labels are adjacent
    start = np.searchsorted(lab_rows, np.arange(n))
    r = tok_row[topical]
    per_row = np.bincount(lab_rows, minlength=n)
    pick = start[r] + (rng.random(r.size) * per_row[r]).astype(np.int64)
    label = lab_cols[pick]
    slot = np.minimum(np.searchsorted(kw_cum, rng.random(r.size)), kw - 1)
    feature[topical] = topic_words[label, slot]

    # 3. Counts per (row, feature), then sublinear tf-idf, rows L2-normalised.
    keys, tf = np.unique(tok_row.astype(np.int64) * d + feature, return_counts=True)
    row, col = np.divmod(keys, d)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=n), out=indptr[1:])
    df = np.bincount(col, minlength=d)
    idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
    data = (1.0 + np.log(tf)) * idf[col]
    norms = np.sqrt(np.add.reduceat(data**2, indptr[:-1]))
    data /= np.repeat(norms, np.diff(indptr))
    X = sparse.csr_matrix(
        (data.astype(dtype), col.astype(np.int32), indptr.astype(np.int32)),
        shape=(n, d),
    )
    X.has_sorted_indices = True
    return X, Y


def describe(X, Y):
    """Shape, nnz per row and label statistics, as a dict (for the reports)."""
    pos = Y.sum(axis=0)
    return dict(
        shape=list(X.shape),
        nnz=int(X.nnz),
        nnz_per_row=X.nnz / X.shape[0],
        labels=int(Y.shape[1]),
        label_cardinality=float(Y.sum(axis=1).mean()),
        min_positives=int(pos.min()),
        max_positives=int(pos.max()),
    )
