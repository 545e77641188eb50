"""Naive NumPy reference of the skmultihead engine (STUMPY-style oracle).

Everything here is written for clarity, not speed, and shares no code with the
package. A network is a pair of lists ``(coefs, intercepts)``: ``coefs[i]`` of
shape ``(fan_in, fan_out)`` and ``intercepts[i]`` of shape ``(fan_out,)``, as in
``MLPClassifier``. Hidden layers use one activation; the output layer returns
logits.

The objective of a batch (sklearn's ``_backprop`` convention, extended with
positive weights and missing labels)::

    sum_j  sum_i sw_i * obs_ij * bce(z_ij, y_ij; pw_j) / sum_i sw_i
    + 0.5 * alpha * sum_l ||W_l||^2 / sum_i sw_i

with ``bce(z, y; pw) = pw * y * softplus(-z) + (1 - y) * softplus(z)`` and
``obs_ij = 0`` where ``y_ij`` is NaN. The denominator is the weight of *all*
rows of the batch, observed or not. With ``output_loss=(gamma_pos, gamma_neg,
clip)`` the BCE is replaced by the asymmetric loss (:func:`loss_terms`; focal
loss is ``(gamma, gamma, 0)``).

Block-diagonal (binary relevance) networks are handled two ways:
:func:`unflatten` turns a flat parameter buffer and its ``blocks`` into dense
block-diagonal matrices (so every dense routine applies), and
:func:`split_labels` turns it into ``n_labels`` independent dense networks.
"""

import numpy as np
from scipy import sparse

ACTIVATIONS = ("identity", "logistic", "tanh", "relu")


# ------------------------------------------------------------------------------
# Activations
# ------------------------------------------------------------------------------


def _sigmoid(z):
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    e = np.exp(z[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def activate(z, activation):
    if activation == "identity":
        return z.copy()
    if activation == "logistic":
        return _sigmoid(z)
    if activation == "tanh":
        return np.tanh(z)
    if activation == "relu":
        return np.maximum(z, 0.0)
    raise ValueError(activation)


def activation_derivative(z, activation):
    """Derivative of the activation at the pre-activation ``z``."""
    if activation == "identity":
        return np.ones_like(z)
    if activation == "logistic":
        s = _sigmoid(z)
        return s * (1.0 - s)
    if activation == "tanh":
        return 1.0 - np.tanh(z) ** 2
    if activation == "relu":
        return (z > 0).astype(np.float64)
    raise ValueError(activation)


def softplus(z):
    """``log(1 + exp(z))`` without overflow."""
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


# ------------------------------------------------------------------------------
# Forward pass, loss, backward pass
# ------------------------------------------------------------------------------


def _as_dense(X):
    if sparse.issparse(X):
        X = X.toarray()
    return np.asarray(X, dtype=np.float64)


def forward(X, coefs, intercepts, activation, masks=None):
    """Pre-activations ``zs`` and activations ``activations`` of every layer.

    ``activations[0]`` is ``X``; ``activations[-1]`` equals ``zs[-1]`` (logits).
    With dropout ``masks`` (see :func:`dropout_masks`), ``activations[i]`` is
    multiplied by ``masks[i]`` for the input and every hidden layer.
    """
    A = _as_dense(X)
    if masks is not None:
        A = A * masks[0]
    activations = [A]
    zs = []
    n_layers = len(coefs)
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        Z = A @ np.asarray(W, dtype=np.float64) + np.asarray(b, dtype=np.float64)
        zs.append(Z)
        A = Z.copy() if i == n_layers - 1 else activate(Z, activation)
        if masks is not None and i < n_layers - 1:
            A = A * masks[i + 1]
        activations.append(A)
    return zs, activations


def predict_logits(X, coefs, intercepts, activation, masks=None):
    return forward(X, coefs, intercepts, activation, masks)[0][-1]


def bce_terms(Z, Y, pos_weight):
    """Per-entry BCE ``pw * y * softplus(-z) + (1 - y) * softplus(z)``; 0 at NaN."""
    Y = np.asarray(Y, dtype=np.float64)
    observed = ~np.isnan(Y)
    Y0 = np.where(observed, Y, 0.0)
    pw = np.asarray(pos_weight, dtype=np.float64)
    terms = pw * Y0 * softplus(-Z) + (1.0 - Y0) * softplus(Z)
    return np.where(observed, terms, 0.0)


def loss_terms(Z, Y, pos_weight, output_loss=None):
    """Per-entry loss; 0 at NaN. ``output_loss`` None: :func:`bce_terms`; else
    ``(gamma_pos, gamma_neg, clip)``, the asymmetric loss (Ridnik et al. 2021)::

        pw * y * (1 - p)**gamma_pos * -log(p)
        + (1 - y) * p_m**gamma_neg * -log(1 - p_m),    p_m = max(p - clip, 0)

    with ``-log(p) = softplus(-z)``, and ``-log(1 - p_m)`` = ``softplus(z)``
    when ``clip = 0``, else ``-log1p(-p_m)``.
    """
    if output_loss is None:
        return bce_terms(Z, Y, pos_weight)
    gamma_pos, gamma_neg, clip = output_loss
    Z, observed, Y0, pw, p, q = _loss_inputs(Z, Y, pos_weight)
    positive = q**gamma_pos * softplus(-Z)
    if clip == 0:
        negative = p**gamma_neg * softplus(Z)
    else:
        p_m = np.maximum(p - clip, 0.0)
        negative = p_m**gamma_neg * -np.log1p(-p_m)
    terms = pw * Y0 * positive + (1.0 - Y0) * negative
    return np.where(observed, terms, 0.0)


def _loss_inputs(Z, Y, pos_weight):
    """``(Z, observed, Y with 0 at NaN, pos_weight, p, 1 - p)`` in float64."""
    Y = np.asarray(Y, dtype=np.float64)
    Z = np.asarray(Z, dtype=np.float64)
    observed = ~np.isnan(Y)
    Y0 = np.where(observed, Y, 0.0)
    pw = np.asarray(pos_weight, dtype=np.float64)
    return Z, observed, Y0, pw, _sigmoid(Z), _sigmoid(-Z)


def loss_derivative(Z, Y, pos_weight, output_loss):
    """d :func:`loss_terms` / dz of the asymmetric loss, by the chain rule
    ``dL/dz = dL/dp * dp/dz`` with ``dp/dz = p * (1 - p)`` (and ``dp_m/dp = 1``
    where ``p_m > 0``, else 0); 0 at NaN."""
    gamma_pos, gamma_neg, clip = output_loss
    Z, observed, Y0, pw, p, q = _loss_inputs(Z, Y, pos_weight)
    with np.errstate(divide="ignore", invalid="ignore"):
        # L+ = q**g * -log(p):  dL+/dp = g * q**(g-1) * log(p) - q**g / p
        dpos_dp = gamma_pos * q ** (gamma_pos - 1) * -softplus(-Z) - q**gamma_pos / p
        if gamma_pos == 0:
            dpos_dp = -1.0 / p
        # L- = p_m**g * -log(1 - p_m):
        # dL-/dp_m = g * p_m**(g-1) * -log(1 - p_m) + p_m**g / (1 - p_m)
        p_m = np.maximum(p - clip, 0.0)
        nlog = softplus(Z) if clip == 0 else -np.log1p(-p_m)
        dneg_dp = gamma_neg * p_m ** (gamma_neg - 1) * nlog + p_m**gamma_neg / (
            q + np.minimum(p, clip)
        )
        if gamma_neg == 0:
            dneg_dp = 1.0 / (q + np.minimum(p, clip))
        dneg_dp = np.where(p_m > 0, dneg_dp, 0.0)
    d = (pw * Y0 * dpos_dp + (1.0 - Y0) * dneg_dp) * p * q
    return np.where(observed, d, 0.0)


def label_losses(Z, Y, sample_weight, pos_weight, output_loss=None):
    """Sample-weighted mean loss of each label (denominator: all rows' weight)."""
    sw = np.asarray(sample_weight, dtype=np.float64)
    return sw @ loss_terms(Z, Y, pos_weight, output_loss) / sw.sum()


def l2_penalty(coefs, alpha, sample_weight):
    sq = sum(float(np.sum(np.asarray(W, dtype=np.float64) ** 2)) for W in coefs)
    return 0.5 * alpha * sq / float(np.sum(sample_weight))


def loss(
    X,
    Y,
    coefs,
    intercepts,
    activation,
    sample_weight,
    pos_weight,
    alpha,
    masks=None,
    output_loss=None,
):
    """The full batch objective (data term summed over labels + L2)."""
    Z = predict_logits(X, coefs, intercepts, activation, masks)
    data = label_losses(Z, Y, sample_weight, pos_weight, output_loss).sum()
    return data + l2_penalty(coefs, alpha, sample_weight)


def output_delta(Z, Y, sample_weight, pos_weight, output_loss=None):
    """d objective / d logits (already divided by the batch weight)."""
    if output_loss is not None:
        d = loss_derivative(Z, Y, pos_weight, output_loss)
        sw = np.asarray(sample_weight, dtype=np.float64)
        return d * sw[:, None] / sw.sum()
    Y = np.asarray(Y, dtype=np.float64)
    observed = ~np.isnan(Y)
    Y0 = np.where(observed, Y, 0.0)
    pw = np.asarray(pos_weight, dtype=np.float64)
    p = _sigmoid(Z)
    # d/dz [pw*y*softplus(-z) + (1-y)*softplus(z)] = -pw*y*(1-p) + (1-y)*p
    d = -pw * Y0 * (1.0 - p) + (1.0 - Y0) * p
    d = np.where(observed, d, 0.0)
    sw = np.asarray(sample_weight, dtype=np.float64)
    return d * sw[:, None] / sw.sum()


def backward(
    X,
    Y,
    coefs,
    intercepts,
    activation,
    sample_weight,
    pos_weight,
    alpha,
    masks=None,
    output_loss=None,
):
    """Gradients ``(coef_grads, intercept_grads)`` of :func:`loss`."""
    zs, activations = forward(X, coefs, intercepts, activation, masks)
    sw_sum = float(np.sum(sample_weight))
    delta = output_delta(zs[-1], Y, sample_weight, pos_weight, output_loss)
    n_layers = len(coefs)
    coef_grads = [None] * n_layers
    intercept_grads = [None] * n_layers
    for i in range(n_layers - 1, -1, -1):
        W = np.asarray(coefs[i], dtype=np.float64)
        coef_grads[i] = activations[i].T @ delta + alpha * W / sw_sum
        intercept_grads[i] = delta.sum(axis=0)
        if i > 0:
            delta = (delta @ W.T) * activation_derivative(zs[i - 1], activation)
            if masks is not None:
                delta = delta * masks[i]
    return coef_grads, intercept_grads


# ------------------------------------------------------------------------------
# Optimizers (sklearn/neural_network/_stochastic_optimizers.py, one array)
# ------------------------------------------------------------------------------


def sgd_step(param, grad, velocity, learning_rate, momentum, nesterov):
    """``SGDOptimizer._get_updates`` + ``update_params``; returns (param, velocity)."""
    velocity = momentum * velocity - learning_rate * grad
    update = momentum * velocity - learning_rate * grad if nesterov else velocity
    return param + update, velocity


def adam_step(param, grad, m, v, t, learning_rate_init, beta_1, beta_2, epsilon):
    """``AdamOptimizer._get_updates`` + ``update_params``.

    ``t`` is the step counter *before* the step; returns ``(param, m, v, t + 1)``.
    """
    t = t + 1
    m = beta_1 * m + (1 - beta_1) * grad
    v = beta_2 * v + (1 - beta_2) * grad**2
    learning_rate = learning_rate_init * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    return param - learning_rate * m / (np.sqrt(v) + epsilon), m, v, t


# ------------------------------------------------------------------------------
# Flat parameter buffers (the kernels' layout), read independently of the package
# ------------------------------------------------------------------------------


def _layout(blocks):
    """Weight and bias offsets of every layer: weights first, then biases."""
    w_sizes = [nb * fi * fo for nb, fi, fo in blocks]
    b_sizes = [nb * fo for nb, fi, fo in blocks]
    n_weights = sum(w_sizes)
    w_offs = np.concatenate([[0], np.cumsum(w_sizes)]).astype(int)
    b_offs = n_weights + np.concatenate([[0], np.cumsum(b_sizes)]).astype(int)
    return w_offs, b_offs, n_weights, n_weights + sum(b_sizes)


def _block_diag(Wb):
    nb, fi, fo = Wb.shape
    out = np.zeros((nb * fi, nb * fo))
    for b in range(nb):
        out[b * fi : (b + 1) * fi, b * fo : (b + 1) * fo] = Wb[b]
    return out


def unflatten(params, blocks):
    """Dense ``(coefs, intercepts)`` (block-diagonal matrices where nb > 1)."""
    params = np.asarray(params, dtype=np.float64)
    w_offs, b_offs, _, _ = _layout(blocks)
    coefs, intercepts = [], []
    for i, (nb, fi, fo) in enumerate(blocks):
        w = params[w_offs[i] : w_offs[i + 1]]
        if nb == 1:
            coefs.append(w.reshape(fi, fo).copy())
        else:
            coefs.append(_block_diag(w.reshape(nb, fi, fo)))
        intercepts.append(params[b_offs[i] : b_offs[i + 1]].copy())
    return coefs, intercepts


def flatten_grads(coef_grads, intercept_grads, blocks):
    """Flat gradient buffer from dense gradients (block-diagonal entries only)."""
    w_offs, b_offs, _, n_params = _layout(blocks)
    flat = np.empty(n_params)
    for i, (nb, fi, fo) in enumerate(blocks):
        G = np.asarray(coef_grads[i], dtype=np.float64)
        if nb == 1:
            flat[w_offs[i] : w_offs[i + 1]] = G.ravel()
        else:
            Gb = np.stack(
                [G[b * fi : (b + 1) * fi, b * fo : (b + 1) * fo] for b in range(nb)]
            )
            flat[w_offs[i] : w_offs[i + 1]] = Gb.ravel()
        flat[b_offs[i] : b_offs[i + 1]] = intercept_grads[i]
    return flat


def weight_mask(blocks):
    """Boolean mask of the L2-penalised (weight) region of the flat buffer."""
    _, _, n_weights, n_params = _layout(blocks)
    mask = np.zeros(n_params, dtype=bool)
    mask[:n_weights] = True
    return mask


def split_labels(params, blocks):
    """Binary-relevance buffer as ``n_labels`` independent dense networks.

    Layer 0 holds all label networks side by side (``fan_out = L * h1``, label
    ``j`` owns columns ``j*h1:(j+1)*h1``); every later layer has one block per
    label. Returns a list of ``(coefs, intercepts)``, one per label.
    """
    params = np.asarray(params, dtype=np.float64)
    w_offs, b_offs, _, _ = _layout(blocks)
    L = blocks[-1][0] * blocks[-1][2]  # output width: one logit per label
    nets = [([], []) for _ in range(L)]
    for i, (nb, fi, fo) in enumerate(blocks):
        w = params[w_offs[i] : w_offs[i + 1]]
        b = params[b_offs[i] : b_offs[i + 1]]
        if i == 0:
            h = fo // L
            W = w.reshape(fi, fo)
            for j in range(L):
                nets[j][0].append(W[:, j * h : (j + 1) * h].copy())
                nets[j][1].append(b[j * h : (j + 1) * h].copy())
        else:
            W = w.reshape(nb, fi, fo)
            B = b.reshape(nb, fo)
            for j in range(L):
                nets[j][0].append(W[j].copy())
                nets[j][1].append(B[j].copy())
    return nets


def merge_label_grads(label_grads, blocks):
    """Inverse of :func:`split_labels` for per-label ``(coef_grads, int_grads)``."""
    w_offs, b_offs, _, n_params = _layout(blocks)
    L = len(label_grads)
    flat = np.empty(n_params)
    for i, (nb, fi, fo) in enumerate(blocks):
        if i == 0:
            W = np.concatenate([g[0][0] for g in label_grads], axis=1)
            b = np.concatenate([g[1][0] for g in label_grads])
        else:
            W = np.stack([label_grads[j][0][i] for j in range(L)])
            b = np.concatenate([label_grads[j][1][i] for j in range(L)])
        flat[w_offs[i] : w_offs[i + 1]] = W.ravel()
        flat[b_offs[i] : b_offs[i + 1]] = b
    return flat


def flat_gradient(
    X,
    Y,
    params,
    blocks,
    activation,
    sample_weight,
    pos_weight,
    alpha,
    masks=None,
    output_loss=None,
):
    """Gradient of :func:`loss` w.r.t. a flat parameter buffer."""
    coefs, intercepts = unflatten(params, blocks)
    cg, ig = backward(
        X,
        Y,
        coefs,
        intercepts,
        activation,
        sample_weight,
        pos_weight,
        alpha,
        masks,
        output_loss,
    )
    return flatten_grads(cg, ig, blocks)


def flat_loss(
    X,
    Y,
    params,
    blocks,
    activation,
    sample_weight,
    pos_weight,
    alpha,
    masks=None,
    output_loss=None,
):
    coefs, intercepts = unflatten(params, blocks)
    return loss(
        X,
        Y,
        coefs,
        intercepts,
        activation,
        sample_weight,
        pos_weight,
        alpha,
        masks,
        output_loss,
    )


# ------------------------------------------------------------------------------
# Dropout masks (the kernels' counter-based hash, written out with NumPy)
# ------------------------------------------------------------------------------


def splitmix64(x):
    """SplitMix64 of a uint64 array (wrapping arithmetic)."""
    z = np.asarray(x, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def dropout_scales(seed, step, samples, units, rate):
    """``(len(samples), len(units))`` matrix: ``1 / (1 - rate)`` where the unit
    of that sample is kept at optimizer step ``step`` (1 for the first), else 0.

    A unit is kept when the top 53 bits of
    ``h(h(h(h(seed) + step) + sample) + unit)`` (``h`` = SplitMix64), read as a
    number in [0, 1), are at least ``rate``.
    """
    key = splitmix64(splitmix64(np.array([seed], np.uint64)) + np.uint64(step))
    rows = splitmix64(key + np.asarray(samples, dtype=np.uint64))
    u = splitmix64(rows[:, None] + np.asarray(units, dtype=np.uint64)[None, :])
    r = (u >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return np.where(r >= rate, 1.0 / (1.0 - rate), 0.0)


def dropout_masks(seed, step, samples, blocks, input_rate, hidden_rate):
    """Masks of the input and of every hidden layer (for :func:`forward`) of a
    network of ``blocks``: units numbered input first, then each hidden layer's
    units in order."""
    widths = [nb * fo for nb, _, fo in blocks]
    n_features = blocks[0][1]
    masks = [dropout_scales(seed, step, samples, np.arange(n_features), input_rate)]
    start = n_features
    for width in widths[:-1]:
        units = np.arange(start, start + width)
        masks.append(dropout_scales(seed, step, samples, units, hidden_rate))
        start += width
    return masks


def finite_difference_gradient(f, params, eps=1e-6):
    """Central differences of a scalar function of a flat buffer."""
    params = np.asarray(params, dtype=np.float64)
    grad = np.empty_like(params)
    for k in range(params.size):
        up = params.copy()
        down = params.copy()
        up[k] += eps
        down[k] -= eps
        grad[k] = (f(up) - f(down)) / (2 * eps)
    return grad
