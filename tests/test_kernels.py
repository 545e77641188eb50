"""Numba kernels against the naive NumPy reference in ``_reference.py``.

The kernels are called directly (``_kernels._predict_parallel``,
``_kernels._fit_epoch``) or through ``_engine.predict_raw``, on plans built by
the estimators' ``_make_plan``. Every scratch buffer handed to ``_fit_epoch`` is
filled with NaN first, so a kernel that reads memory it has not written shows
up as NaN.

Gradients are read back from one SGD step with ``momentum=0``: the stored
velocity is ``-lr * g`` (exact for ``lr = 0.5``), and the parameter change must
equal it.
"""

import inspect
from dataclasses import dataclass

import _reference as ref
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse

from skmultihead import BinaryRelevanceMLPClassifier, MultiHeadMLPClassifier, _engine
from skmultihead import _kernels as K

ACTIVATIONS = ref.ACTIVATIONS
LAYOUTS = ("multihead", "binary_relevance")
LR = 0.5  # a power of two: the velocity -LR * g is exact

# (n_samples, n_features, hidden_layer_sizes, n_labels)
FORWARD_SHAPES = [
    (1, 1, (1,), 1),
    (7, 3, (5,), 2),
    (6, 4, (3, 2), 3),
    (5, 2, (2, 3, 2), 4),
    (40, 5, (6, 4), 3),  # more than SMALL_ROWS rows: BLAS products
]
GRADIENT_SHAPES = [
    (1, 1, (1,), 1),
    (7, 3, (4,), 2),
    (9, 4, (3, 2), 3),
    (8, 2, (2, 3, 2), 4),
    (40, 5, (6, 4), 3),  # chunks of 40/20 rows use BLAS, of 10 rows loops
]


def _ids(shape):
    n, f, h, L = shape
    return f"n{n}-f{f}-h{'x'.join(map(str, h))}-L{L}"


# ------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------


def make_plan(layout, n_features, n_labels, hidden):
    est = (
        MultiHeadMLPClassifier()
        if layout == "multihead"
        else BinaryRelevanceMLPClassifier()
    )
    return est._make_plan(n_features, n_labels, list(hidden))


def make_params(plan, seed, scale=0.8, dtype=np.float64):
    rng = np.random.RandomState(seed)
    return rng.uniform(-scale, scale, plan.n_params).astype(dtype)


@dataclass
class Problem:
    X: np.ndarray  # dense float64
    Y: np.ndarray  # float64 with NaN = missing
    sw: np.ndarray
    pos_weight: np.ndarray


def make_problem(
    n_samples, n_features, n_labels, seed, *, nan=True, weights=True, pos_weight=True
):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, n_features))
    X[rng.uniform(size=X.shape) < 0.3] = 0.0  # some structural zeros for CSR
    Y = (rng.uniform(size=(n_samples, n_labels)) < 0.5).astype(np.float64)
    if nan and n_samples > 1:
        Y[rng.uniform(size=Y.shape) < 0.25] = np.nan
    sw = rng.uniform(0.2, 3.0, n_samples) if weights else np.ones(n_samples)
    if weights and n_samples > 2:
        sw[1] = 0.0  # a zero weight inside a batch
    pw = rng.uniform(0.3, 4.0, n_labels) if pos_weight else np.ones(n_labels)
    return Problem(X, Y, sw, pw)


def as_input(X, kind, dtype):
    X = np.ascontiguousarray(X, dtype=dtype)
    if kind == "csr":
        Xs = sparse.csr_matrix(X)
        assert Xs.indices.dtype == np.int32
        return Xs
    return X


def label_owner(plan):
    """Convergence group of every parameter, derived from the reference layout."""
    if plan.n_groups == 1:
        return np.zeros(plan.n_params, dtype=np.int64)
    nets = ref.split_labels(np.zeros(plan.n_params), plan.blocks)
    filled = [
        ([np.full_like(W, j) for W in c], [np.full_like(b, j) for b in i])
        for j, (c, i) in enumerate(nets)
    ]
    return ref.merge_label_grads(filled, plan.blocks).astype(np.int64)


@dataclass
class EpochResult:
    params: np.ndarray
    state: np.ndarray
    t: int
    label_loss: np.ndarray  # sums over batches of batch loss * batch size
    group_l2: np.ndarray


def kernel_epoch(
    X,
    prob,
    plan,
    params,
    activation,
    *,
    solver="sgd",
    lr=LR,
    momentum=0.0,
    nesterov=False,
    alpha=0.0,
    beta_1=0.9,
    beta_2=0.999,
    epsilon=1e-8,
    batch_size=None,
    order=None,
    n_chunks=1,
    n_opt_chunks=1,
    state=None,
    t=0,
    frozen=None,
    group_lr=None,
    n_threads=1,
    dropout=None,
    skip=None,
    loss=None,
):
    """One call of ``_fit_epoch`` with explicit chunking; NaN-filled scratch.
    ``loss``: None (BCE) or a loss vector (``K.asymmetric_loss``)."""
    dtype = params.dtype
    n = X.shape[0]
    batch_size = n if batch_size is None else batch_size
    order = np.arange(n) if order is None else np.asarray(order, dtype=np.int64)
    params = params.copy()
    code = K.ADAM if solver == "adam" else K.SGD
    if state is None:
        state = np.zeros((2 if code == K.ADAM else 1, plan.n_params), dtype=dtype)
    state = state.copy()
    X_in, csr = _engine.split_input(X, dtype)
    acts = np.full(batch_size * plan.row_width, np.nan, dtype=dtype)
    n_labels = prob.Y.shape[1]
    scratch = K.Scratch(
        acts=acts,
        deltas=np.full_like(acts, np.nan),
        Xb=np.full(
            (0 if csr is not None else batch_size, plan.n_features), np.nan, dtype
        ),
        grads=np.full((n_chunks, plan.n_params), np.nan, dtype=dtype),
        loss_parts=np.full((n_chunks, n_labels), np.nan),
        sq_parts=np.full((n_opt_chunks, plan.n_groups), np.nan),
        label_loss=np.full(n_labels, np.nan),
        group_l2=np.full(plan.n_groups, np.nan),
    )
    csr = _engine._column_scratch(X, csr, batch_size, n_chunks, n_opt_chunks, dtype)
    if csr is not None:
        csr.colptr[:], csr.crow[:], csr.cval[:] = -1, -1, np.nan
        csr.seg_grad[:] = np.nan
    if frozen is None:
        frozen = np.zeros(plan.n_groups, dtype=np.bool_)
    if group_lr is None:
        group_lr = np.full(plan.n_groups, float(lr))
    hyper = np.array([alpha, beta_1, beta_2, epsilon, momentum], dtype=np.float64)
    targets = K.Targets(
        prob.Y.astype(dtype),
        prob.sw.astype(dtype),
        prob.pos_weight.astype(dtype),
        loss,
    )
    act_code = _engine.ACTIVATION_CODES[activation]
    net = K.Network(params, plan.table, act_code, _engine._skip_mask(plan, skip))
    opt = K.Optimizer(
        state,
        plan.n_weights,
        _engine.optimizer_segments(
            plan, n_opt_chunks, _engine.segment_costs(plan, X, batch_size)
        ),
        frozen,
        np.asarray(group_lr, dtype=np.float64),
        code,
        bool(nesterov),
        hyper,
    )
    with _engine.engine_context(n_threads) as used:
        assert used == n_threads
        t = K._fit_epoch(
            X_in, csr, targets, net, opt, scratch, order, batch_size, t, dropout
        )
    label_loss, group_l2 = scratch.label_loss, scratch.group_l2
    return EpochResult(params, state, int(t), label_loss, group_l2)


def kernel_gradient(X, prob, plan, params, activation, alpha, **kwargs):
    """Gradient used by one full-batch SGD step (``momentum=0``)."""
    res = kernel_epoch(X, prob, plan, params, activation, alpha=alpha, **kwargs)
    assert res.t == 1
    grad = -res.state[0] / LR
    if params.dtype == np.float64:
        # The parameter change is exactly the velocity (p + v, rounded once).
        assert_array_equal(res.params, params + res.state[0])
    else:
        # float32: the kernel adds the float64 velocity before rounding.
        assert_allclose(res.params, params + res.state[0], rtol=1e-6, atol=1e-7)
    return grad, res


def reference_gradient(prob, plan, params, activation, alpha):
    """Reference gradient of the full-batch objective (dense ``prob.X``)."""
    return ref.flat_gradient(
        prob.X,
        prob.Y,
        params.astype(np.float64),
        plan.blocks,
        activation,
        prob.sw,
        prob.pos_weight,
        alpha,
    )


def reference_per_label_gradient(prob, plan, params, activation, alpha):
    """Binary relevance as ``n_labels`` separate dense networks."""
    nets = ref.split_labels(params, plan.blocks)
    grads = []
    for j, (coefs, intercepts) in enumerate(nets):
        grads.append(
            ref.backward(
                prob.X,
                prob.Y[:, j : j + 1],
                coefs,
                intercepts,
                activation,
                prob.sw,
                prob.pos_weight[j : j + 1],
                alpha,
            )
        )
    return ref.merge_label_grads(grads, plan.blocks)


def assert_grad_close(actual, desired, rtol, err_msg=""):
    """Element-wise ``rtol``, with an absolute floor for cancelled entries."""
    scale = np.max(np.abs(desired)) if desired.size else 1.0
    assert_allclose(
        actual, desired, rtol=rtol, atol=rtol * 1e-3 * scale, err_msg=err_msg
    )


# ------------------------------------------------------------------------------
# The reference itself
# ------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("hidden", [(4,), (3, 5)])
def test_reference_matches_sklearn_backprop(activation, hidden):
    """The oracle agrees with MLPClassifier._backprop (pos_weight 1, no NaN)."""
    from sklearn.neural_network import MLPClassifier

    # MLPClassifier takes sample weights from scikit-learn 1.7 on; with an
    # older one the oracle is checked with unit weights.
    weighted = "sample_weight" in inspect.signature(MLPClassifier.fit).parameters
    prob = make_problem(11, 3, 2, seed=0, nan=False, weights=weighted, pos_weight=False)
    plan = make_plan("multihead", 3, 2, hidden)
    coefs, intercepts = ref.unflatten(make_params(plan, 1), plan.blocks)
    alpha = 0.7
    clf = MLPClassifier(hidden_layer_sizes=hidden, activation=activation, alpha=alpha)
    clf.coefs_, clf.intercepts_ = coefs, intercepts
    clf.n_layers_ = len(coefs) + 1
    clf.out_activation_ = "logistic"
    n = len(coefs)
    acts = [prob.X] + [None] * n
    sw = (prob.sw,) if weighted else ()
    loss, cg, ig = clf._backprop(
        prob.X, prob.Y, *sw, acts, [None] * n, [None] * n, [None] * n
    )
    args = (prob.X, prob.Y, coefs, intercepts, activation, prob.sw, prob.pos_weight)
    assert_allclose(ref.loss(*args, alpha), loss, rtol=1e-12)
    rcg, rig = ref.backward(*args, alpha)
    for a, b in zip(rcg + rig, cg + ig):
        assert_allclose(a, b, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", GRADIENT_SHAPES[1:], ids=_ids)
def test_reference_gradient_finite_differences(activation, layout, shape):
    n, f, hidden, L = shape
    prob = make_problem(n, f, L, seed=3)
    plan = make_plan(layout, f, L, hidden)
    params = make_params(plan, 4)
    alpha = 0.3
    tail = (plan.blocks, activation, prob.sw, prob.pos_weight, alpha)
    _check_relu_margin(prob.X, params, plan, activation)
    grad = ref.flat_gradient(prob.X, prob.Y, params, *tail)
    fd = ref.finite_difference_gradient(
        lambda p: ref.flat_loss(prob.X, prob.Y, p, *tail), params, eps=1e-6
    )
    assert np.linalg.norm(fd - grad) <= 1e-6 * np.linalg.norm(grad)
    # element-wise: the absolute floor is the central-difference round-off
    # (~ 1e-16 * |loss| / eps)
    assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)
    if layout == "binary_relevance":
        # The block-diagonal view and the per-label networks agree.
        per_label = reference_per_label_gradient(prob, plan, params, activation, alpha)
        assert_allclose(per_label, grad, rtol=1e-12, atol=1e-15)


def _check_relu_margin(X, params, plan, activation, margin=1e-5):
    """Finite differences need pre-activations away from the relu kink.

    A step of 1e-6 moves a pre-activation by at most ~1e-6 * max|input| < 1e-5.
    """
    if activation != "relu":
        return
    coefs, intercepts = ref.unflatten(params, plan.blocks)
    zs, _ = ref.forward(X, coefs, intercepts, activation)
    for z in zs[:-1]:
        assert np.min(np.abs(z)) > margin, "test data too close to the relu kink"


def test_label_owner_matches_plan():
    for layout in LAYOUTS:
        for _, f, hidden, L in GRADIENT_SHAPES:
            plan = make_plan(layout, f, L, hidden)
            assert_array_equal(plan.owner, label_owner(plan))
            assert plan.n_weights == ref.weight_mask(plan.blocks).sum()


@pytest.mark.parametrize("hidden", [(1,), (3,), (2, 3), (2, 1, 2)])
def test_binary_relevance_views_match_reference_split(hidden):
    """The estimator's coefs_/intercepts_ views read the layout as the oracle does."""
    est = BinaryRelevanceMLPClassifier()
    layout = est._make_layout(3, 4, list(hidden))
    plan = layout.plan
    params = make_params(plan, 0)
    nets = ref.split_labels(params, plan.blocks)
    for layer in range(len(plan.blocks)):
        W = layout.coef_view(params, layer)
        b = layout.intercept_view(params, layer)
        for j, (coefs, intercepts) in enumerate(nets):
            assert_array_equal(W[j], coefs[layer])
            assert_array_equal(b[j], intercepts[layer])


# ------------------------------------------------------------------------------
# (a) Forward pass
# ------------------------------------------------------------------------------


def _reference_logits(X, params, plan, activation):
    coefs, intercepts = ref.unflatten(params.astype(np.float64), plan.blocks)
    Xd = X.toarray() if sparse.issparse(X) else X
    return ref.predict_logits(Xd.astype(np.float64), coefs, intercepts, activation)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("kind", ["dense", "csr"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("shape", FORWARD_SHAPES, ids=_ids)
def test_predict_matches_reference(shape, activation, layout, kind, dtype):
    n, f, hidden, L = shape
    prob = make_problem(n, f, L, seed=10)
    plan = make_plan(layout, f, L, hidden)
    params = make_params(plan, 11, dtype=dtype)
    X = as_input(prob.X, kind, dtype)
    expected = _reference_logits(X, params, plan, activation)
    rtol, atol = (1e-12, 1e-14) if dtype == np.float64 else (1e-5, 1e-6)
    with _engine.engine_context(1):
        logits = _engine.predict_raw(
            X, params, plan, _engine.ACTIVATION_CODES[activation], False
        )
        proba = _engine.predict_raw(
            X, params, plan, _engine.ACTIVATION_CODES[activation], True
        )
    assert logits.dtype == dtype and logits.shape == (n, L)
    assert_allclose(logits, expected, rtol=rtol, atol=atol)
    assert_allclose(proba, ref._sigmoid(expected), rtol=rtol, atol=atol)
    if layout == "binary_relevance":
        # Each label's logit is that of its own dense network.
        for j, (coefs, intercepts) in enumerate(ref.split_labels(params, plan.blocks)):
            zj = ref.predict_logits(prob.X.astype(dtype), coefs, intercepts, activation)
            assert_allclose(logits[:, j], zj[:, 0], rtol=rtol, atol=atol)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("kind", ["dense", "csr"])
def test_predict_without_hidden_layer(layout, kind):
    """hidden_layer_sizes=() is a single (dense) output layer."""
    prob = make_problem(5, 3, 2, seed=1)
    plan = make_plan(layout, 3, 2, ())
    params = make_params(plan, 2)
    X = as_input(prob.X, kind, np.float64)
    with _engine.engine_context(1):
        logits = _engine.predict_raw(X, params, plan, K.RELU, False)
    assert_allclose(logits, _reference_logits(X, params, plan, "relu"), rtol=1e-12)


@pytest.mark.parametrize(
    "n, block_rows", [(7, 1), (7, 3), (7, 7), (7, 100), (40, 17), (40, 40)]
)
@pytest.mark.parametrize("kind", ["dense", "csr"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_predict_row_blocks(n, block_rows, kind, layout):
    """Several (and partial) row blocks, run on 2 threads, give the same rows."""
    prob = make_problem(n, 3, 3, seed=5)
    plan = make_plan(layout, 3, 3, (4, 2))
    params = make_params(plan, 6)
    X = as_input(prob.X, kind, np.float64)
    out = np.full((n, 3), np.nan)
    net = K.Network(params, plan.table, K.TANH)
    output = K.Output(block_rows, plan.row_width, False, out)
    with _engine.engine_context(2):
        K._predict_parallel(*_engine.split_input(X, np.float64), net, output)
    assert_allclose(
        out, _reference_logits(X, params, plan, "tanh"), rtol=1e-12, atol=1e-14
    )


def test_predict_empty_and_csr_empty_rows():
    plan = make_plan("multihead", 3, 2, (4,))
    params = make_params(plan, 0)
    with _engine.engine_context(1):
        out = _engine.predict_raw(np.empty((0, 3)), params, plan, K.RELU, True)
        assert out.shape == (0, 2)
        X = sparse.csr_matrix(np.array([[0.0, 0, 0], [1.0, 0, -2.0], [0, 0, 0]]))
        logits = _engine.predict_raw(X, params, plan, K.RELU, False)
    assert_allclose(logits, _reference_logits(X, params, plan, "relu"), rtol=1e-12)


def _non_canonical_csr():
    """CSR with unsorted column indices, a duplicate entry and an empty row."""
    data = np.array([2.0, -1.0, 0.5, 0.25, 3.0, -2.0])
    indices = np.array([2, 0, 2, 1, 1, 0], dtype=np.int32)
    indptr = np.array([0, 3, 3, 6], dtype=np.int32)
    X = sparse.csr_matrix((data, indices, indptr), shape=(3, 3))
    assert not X.has_canonical_format
    return X


@pytest.mark.parametrize("layout", LAYOUTS)
def test_non_canonical_csr(layout):
    """Duplicates add up (scipy semantics) in the forward and backward passes."""
    X = _non_canonical_csr()
    Xd = X.toarray()
    prob = make_problem(3, 3, 2, seed=7)
    prob.X = Xd
    plan = make_plan(layout, 3, 2, (3,))
    params = make_params(plan, 8)
    with _engine.engine_context(1):
        logits = _engine.predict_raw(X, params, plan, K.TANH, False)
    assert_allclose(logits, _reference_logits(Xd, params, plan, "tanh"), rtol=1e-12)
    grad, _ = kernel_gradient(X, prob, plan, params, "tanh", 0.1, n_chunks=2)
    expected = reference_gradient(prob, plan, params, "tanh", 0.1)
    assert_grad_close(grad, expected, rtol=1e-10)


# ------------------------------------------------------------------------------
# (b) Gradient of one full mini-batch
# ------------------------------------------------------------------------------

CHUNKINGS = [(1, 1), (2, 3), (4, 2)]  # (row chunks, optimizer chunks)


@pytest.mark.parametrize("chunks", CHUNKINGS, ids=lambda c: f"rows{c[0]}-opt{c[1]}")
@pytest.mark.parametrize("kind", ["dense", "csr"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("shape", GRADIENT_SHAPES, ids=_ids)
def test_batch_gradient_matches_reference(shape, activation, layout, kind, chunks):
    n, f, hidden, L = shape
    prob = make_problem(n, f, L, seed=20)
    plan = make_plan(layout, f, L, hidden)
    params = make_params(plan, 21)
    alpha = 0.3
    X = as_input(prob.X, kind, np.float64)
    grad, res = kernel_gradient(
        X,
        prob,
        plan,
        params,
        activation,
        alpha,
        n_chunks=chunks[0],
        n_opt_chunks=chunks[1],
    )
    expected = reference_gradient(prob, plan, params, activation, alpha)
    assert_grad_close(grad, expected, rtol=1e-10)
    if layout == "binary_relevance":
        per_label = reference_per_label_gradient(prob, plan, params, activation, alpha)
        assert_grad_close(grad, per_label, rtol=1e-10)
    # (e) for one batch: the reported loss is the reference objective.
    coefs, intercepts = ref.unflatten(params, plan.blocks)
    Z = ref.predict_logits(prob.X, coefs, intercepts, activation)
    losses = ref.label_losses(Z, prob.Y, prob.sw, prob.pos_weight)
    assert_allclose(res.label_loss / n, losses, rtol=1e-12, atol=1e-15)
    owner = label_owner(plan)
    weights = ref.weight_mask(plan.blocks)
    l2 = [
        0.5 * alpha * np.sum(params[weights & (owner == g)] ** 2) / prob.sw.sum()
        for g in range(plan.n_groups)
    ]
    assert_allclose(res.group_l2 / n, l2, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kind", ["dense", "csr"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_batch_gradient_float32(activation, layout, kind):
    n, f, hidden, L = 9, 4, (3, 2), 3
    prob = make_problem(n, f, L, seed=30)
    plan = make_plan(layout, f, L, hidden)
    params = make_params(plan, 31, dtype=np.float32)
    X = as_input(prob.X, kind, np.float32)
    grad, res = kernel_gradient(X, prob, plan, params, activation, 0.3, n_chunks=2)
    assert grad.dtype == np.float32
    Xr = prob.X.astype(np.float32).astype(np.float64)
    prob64 = Problem(
        Xr, prob.Y, prob.sw.astype(np.float32), prob.pos_weight.astype(np.float32)
    )
    expected = reference_gradient(prob64, plan, params, activation, 0.3)
    assert_grad_close(grad, expected, rtol=2e-4)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_gradient_variants_isolated(layout):
    """pos_weight, NaN labels, sample weights and alpha, one at a time."""
    n, f, hidden, L = 8, 3, (4, 3), 3
    plan = make_plan(layout, f, L, hidden)
    params = make_params(plan, 41)
    variants = {
        "plain": dict(nan=False, weights=False, pos_weight=False),
        "nan": dict(nan=True, weights=False, pos_weight=False),
        "weights": dict(nan=False, weights=True, pos_weight=False),
        "pos_weight": dict(nan=False, weights=False, pos_weight=True),
    }
    for name, kw in variants.items():
        prob = make_problem(n, f, L, seed=40, **kw)
        for alpha in (0.0, 1.5):
            grad, _ = kernel_gradient(prob.X, prob, plan, params, "tanh", alpha)
            expected = reference_gradient(prob, plan, params, "tanh", alpha)
            assert_grad_close(grad, expected, rtol=1e-10, err_msg=f"{name}, {alpha=}")


def test_gradient_nan_label_column_is_zero():
    """A label that is NaN everywhere contributes no gradient at all."""
    prob = make_problem(6, 3, 3, seed=0, nan=False)
    prob.Y[:, 1] = np.nan
    plan = make_plan("binary_relevance", 3, 3, (2,))
    params = make_params(plan, 1)
    grad, res = kernel_gradient(prob.X, prob, plan, params, "tanh", alpha=0.0)
    assert_array_equal(grad[plan.owner == 1], 0.0)
    assert res.label_loss[1] == 0.0
    assert np.all(grad[plan.owner != 1] != 0.0)


# ------------------------------------------------------------------------------
# (c) Kernel gradient against finite differences of the kernel forward pass
# ------------------------------------------------------------------------------


def _kernel_loss(X, prob, plan, activation, alpha):
    code = _engine.ACTIVATION_CODES[activation]

    def f(p):
        with _engine.engine_context(1):
            Z = _engine.predict_raw(X, p, plan, code, False)
        data = ref.label_losses(Z, prob.Y, prob.sw, prob.pos_weight).sum()
        w = p[: plan.n_weights]
        return data + 0.5 * alpha * np.dot(w, w) / prob.sw.sum()

    return f


@pytest.mark.parametrize("kind", ["dense", "csr"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_kernel_gradient_finite_differences(activation, layout, kind):
    n, f, hidden, L = 9, 3, (3, 2), 3
    prob = make_problem(n, f, L, seed=3)
    plan = make_plan(layout, f, L, hidden)
    params = make_params(plan, 4)
    _check_relu_margin(prob.X, params, plan, activation)
    X = as_input(prob.X, kind, np.float64)
    alpha = 0.3
    grad, _ = kernel_gradient(X, prob, plan, params, activation, alpha, n_chunks=2)
    fd = ref.finite_difference_gradient(
        _kernel_loss(X, prob, plan, activation, alpha), params
    )
    assert np.linalg.norm(fd - grad) <= 1e-6 * np.linalg.norm(grad)
    # element-wise: the absolute floor is the central-difference round-off
    # (~ 1e-16 * |loss| / eps)
    assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)


# ------------------------------------------------------------------------------
# (d) Optimizer steps over consecutive batches, (e) epoch loss
# ------------------------------------------------------------------------------


def _reference_epoch(
    prob,
    plan,
    params,
    activation,
    *,
    solver,
    lr,
    momentum,
    nesterov,
    alpha,
    beta_1,
    beta_2,
    epsilon,
    batch_size,
    order,
    state,
    t,
    frozen,
    group_lr,
    output_loss=None,
):
    """sklearn's loop: per batch, gradient at the current params, one step
    (``output_loss``: see ``ref.loss_terms``)."""
    params = params.astype(np.float64).copy()
    state = state.astype(np.float64).copy()
    owner = label_owner(plan)
    weights = ref.weight_mask(plan.blocks)
    active = ~frozen[owner]
    lr_vec = np.asarray(group_lr, dtype=np.float64)[owner]
    n = order.size
    label_loss = np.zeros(prob.Y.shape[1])
    group_l2 = np.zeros(plan.n_groups)
    for start in range(0, n, batch_size):
        rows = order[start : start + batch_size]
        m = rows.size
        sw = prob.sw[rows]
        if sw.sum() <= 0:
            continue
        coefs, intercepts = ref.unflatten(params, plan.blocks)
        Z = ref.predict_logits(prob.X[rows], coefs, intercepts, activation)
        label_loss += (
            ref.label_losses(Z, prob.Y[rows], sw, prob.pos_weight, output_loss) * m
        )
        for g in range(plan.n_groups):
            if not frozen[g]:
                sq = np.sum(params[weights & (owner == g)] ** 2)
                group_l2[g] += 0.5 * alpha * sq / sw.sum() * m
        grad = ref.flat_gradient(
            prob.X[rows],
            prob.Y[rows],
            params,
            plan.blocks,
            activation,
            sw,
            prob.pos_weight,
            alpha,
            output_loss=output_loss,
        )
        if solver == "adam":
            new, m1, v1, t1 = ref.adam_step(
                params, grad, state[0], state[1], t, lr_vec, beta_1, beta_2, epsilon
            )
            t = t1
            state[0, active], state[1, active] = m1[active], v1[active]
        else:
            new, vel = ref.sgd_step(params, grad, state[0], lr_vec, momentum, nesterov)
            t += 1
            state[0, active] = vel[active]
        params[active] = new[active]
    return EpochResult(params, state, t, label_loss, group_l2)


OPTIMIZERS = {
    "sgd": dict(solver="sgd", lr=0.1, momentum=0.0, nesterov=False),
    "momentum": dict(solver="sgd", lr=0.1, momentum=0.9, nesterov=False),
    "nesterov": dict(solver="sgd", lr=0.1, momentum=0.9, nesterov=True),
    "adam": dict(solver="adam", lr=0.01, momentum=0.9, nesterov=True),
}


@pytest.mark.parametrize("kind", ["dense", "csr"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_optimizer_three_batches(optimizer, layout, kind):
    n, f, hidden, L = 12, 3, (4, 3), 3
    prob = make_problem(n, f, L, seed=50)
    plan = make_plan(layout, f, L, hidden)
    params = make_params(plan, 51)
    X = as_input(prob.X, kind, np.float64)
    opts = dict(OPTIMIZERS[optimizer], alpha=0.2, beta_1=0.8, beta_2=0.95, epsilon=1e-7)
    order = np.random.RandomState(52).permutation(n)
    frozen = np.zeros(plan.n_groups, dtype=bool)
    group_lr = np.full(plan.n_groups, opts["lr"])
    if layout == "binary_relevance":
        frozen[1] = True
        group_lr[2] *= 0.5
    solver = opts["solver"]
    state = np.zeros((2 if solver == "adam" else 1, plan.n_params))
    run = dict(opts, batch_size=4, order=order, frozen=frozen, group_lr=group_lr)
    t = 5 if solver == "adam" else 0
    # Two epochs of three batches each: state and t carried over.
    res = kernel_epoch(
        X,
        prob,
        plan,
        params,
        "tanh",
        state=state,
        t=t,
        n_chunks=2,
        n_opt_chunks=2,
        **run,
    )
    expected = _reference_epoch(prob, plan, params, "tanh", state=state, t=t, **run)
    for _ in range(2):
        assert res.t == expected.t
        assert_allclose(res.params, expected.params, rtol=1e-10, atol=1e-13)
        assert_allclose(res.state, expected.state, rtol=1e-9, atol=1e-14)
        assert_allclose(res.label_loss / n, expected.label_loss / n, rtol=1e-12)
        assert_allclose(res.group_l2 / n, expected.group_l2 / n, rtol=1e-12)
        if layout == "binary_relevance":
            label1 = plan.owner == 1
            assert_array_equal(res.params[label1], params[label1])
            assert res.group_l2[1] == 0.0
        res = kernel_epoch(
            X, prob, plan, res.params, "tanh", state=res.state, t=res.t, **run
        )
        expected = _reference_epoch(
            prob,
            plan,
            expected.params,
            "tanh",
            state=expected.state,
            t=expected.t,
            **run,
        )


def test_adam_step_formula():
    """One Adam step on a known gradient, written out by hand."""
    prob = make_problem(5, 2, 2, seed=60)
    plan = make_plan("multihead", 2, 2, (3,))
    params = make_params(plan, 61)
    g = reference_gradient(prob, plan, params, "logistic", 0.1)
    res = kernel_epoch(
        prob.X, prob, plan, params, "logistic", solver="adam", lr=1e-3, alpha=0.1, t=0
    )
    m = 0.1 * g
    v = 0.001 * g * g
    step = 1e-3 * np.sqrt(1 - 0.999) / (1 - 0.9)
    assert res.t == 1
    assert_allclose(res.state[0], m, rtol=1e-10)
    assert_allclose(res.state[1], v, rtol=1e-10)
    assert_allclose(res.params, params - step * m / (np.sqrt(v) + 1e-8), rtol=1e-12)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_float32_update_runs_in_float32(solver):
    """A float32 segment is updated in float32 arithmetic, as scikit-learn's
    updates of float32 arrays by Python floats: the hyper-parameters rounded to
    float32 first. The first entries are built so that float64 arithmetic gives
    another answer: their gradient ``g0 = -l2 * p`` cancels the L2 term exactly
    in float32 (the parameter stays put; powers of two, so that a fused
    multiply-add cancels exactly too) but leaves about 1e-9 in float64, which
    Adam's normalisation makes visible (SGD's step of that size rounds away:
    there only the comparison with the float32 reference tells)."""
    rng = np.random.default_rng(0)
    n = 37  # a vectorised body and a remainder
    l2, lr, adam_scale = 0.1, 0.5, 0.3
    hyper = np.array([1e-4, 0.9, 0.999, 1e-8, 0.9])
    params = rng.normal(size=n).astype(np.float32)
    g0 = rng.normal(size=n).astype(np.float32)
    params[:4] = [1.0, -4.0, 0.5, 8.0]
    g0[:4] = -(np.float32(l2) * params[:4])  # exact cancellation in float32
    state = (rng.random((2, n)) * np.array([[0.0], [1e-3]])).astype(np.float32)
    state[:, :4] = 0.0
    code = K.ADAM if solver == "adam" else K.SGD
    p_k, s_k = params.copy(), state.copy()
    K._optimizer_segment(0, n, p_k, g0, s_k, lr, l2, code, True, adam_scale, hyper)
    f = np.float32
    g = g0 + f(l2) * params
    if solver == "adam":
        m = f(0.9) * state[0] + f(1 - 0.9) * g
        v = f(0.999) * state[1] + f(1 - 0.999) * g * g
        expected = params - f(lr * adam_scale) * m / (np.sqrt(v) + f(1e-8))
    else:
        vel = f(0.9) * state[0] - f(lr) * g
        expected = params + f(0.9) * vel - f(lr) * g
    assert p_k.dtype == np.float32
    assert_array_equal(p_k[:4], params[:4])  # float64 arithmetic moves them
    assert_allclose(p_k, expected, rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("n_chunks", [1, 4])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_epoch_loss_uneven_batches(layout, n_chunks):
    """(e) label_loss/group_l2 follow sklearn: sum of batch loss x batch size.

    Batches of 4, 4 and 2 rows; with 4 row chunks the last batch has empty chunks.
    """
    n, f, hidden, L = 10, 3, (3,), 2
    prob = make_problem(n, f, L, seed=70)
    plan = make_plan(layout, f, L, hidden)
    params = make_params(plan, 71)
    run = dict(
        solver="sgd",
        lr=0.05,
        momentum=0.5,
        nesterov=True,
        alpha=0.4,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        batch_size=4,
        order=np.arange(n),
        frozen=np.zeros(plan.n_groups, bool),
        group_lr=np.full(plan.n_groups, 0.05),
    )
    state = np.zeros((1, plan.n_params))
    res = kernel_epoch(
        prob.X, prob, plan, params, "relu", state=state, n_chunks=n_chunks, **run
    )
    expected = _reference_epoch(prob, plan, params, "relu", state=state, t=0, **run)
    assert res.t == expected.t == 3
    assert_allclose(res.label_loss, expected.label_loss, rtol=1e-12)
    assert_allclose(res.group_l2, expected.group_l2, rtol=1e-12)
    assert_allclose(res.params, expected.params, rtol=1e-10, atol=1e-13)

    # Through the EpochRunner: the same values divided by n.
    runner = _engine.EpochRunner(
        prob.X, prob.Y, prob.sw, prob.pos_weight, plan, 4, np.float64
    )
    p = params.copy()
    st = np.zeros((1, plan.n_params))
    hyper = np.array([0.4, 0.9, 0.999, 1e-8, 0.5])
    with _engine.engine_context(1):
        t, label_loss, group_l2 = runner.run(
            np.arange(n),
            p,
            st,
            np.zeros(plan.n_groups, bool),
            np.full(plan.n_groups, 0.05),
            K.RELU,
            K.SGD,
            True,
            hyper,
            0,
        )
    assert t == 3
    assert_allclose(label_loss, expected.label_loss / n, rtol=1e-12)
    assert_allclose(group_l2, expected.group_l2 / n, rtol=1e-12)
    assert_allclose(p, res.params, rtol=1e-12, atol=1e-15)
    # The parallel items' partial sums keep a cache line apart (no false
    # sharing): rows of whole lines plus one, wider than what is summed.
    for parts, width in (
        (runner.scratch.loss_parts, prob.Y.shape[1]),
        (runner.scratch.sq_parts, plan.n_groups),
    ):
        assert parts.shape[1] % 8 == 0 and parts.shape[1] >= width + 8


def test_zero_weight_batch_is_skipped():
    n, f, L = 6, 2, 2
    prob = make_problem(n, f, L, seed=80)
    prob.sw[2:4] = 0.0  # the second batch of 2 has zero weight
    plan = make_plan("multihead", f, L, (3,))
    params = make_params(plan, 81)
    run = dict(
        solver="adam",
        lr=0.01,
        momentum=0.9,
        nesterov=True,
        alpha=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        batch_size=2,
        order=np.arange(n),
        frozen=np.zeros(1, bool),
        group_lr=np.full(1, 0.01),
    )
    state = np.zeros((2, plan.n_params))
    res = kernel_epoch(prob.X, prob, plan, params, "tanh", state=state, **run)
    expected = _reference_epoch(prob, plan, params, "tanh", state=state, t=0, **run)
    assert res.t == expected.t == 2
    assert np.all(np.isfinite(res.params))
    assert_allclose(res.params, expected.params, rtol=1e-10, atol=1e-13)
    assert_allclose(res.label_loss, expected.label_loss, rtol=1e-12)


# ------------------------------------------------------------------------------
# (f) Determinism across thread counts
# ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dense", "csr"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("batch_size", [32, 48])
def test_fit_epoch_bitwise_identical_across_threads(layout, kind, batch_size):
    """Chunks of 16 rows (loops) and 24 rows (BLAS), 2 epochs' worth of batches."""
    n, f, hidden, L = 96, 6, (8, 5), 4
    prob = make_problem(n, f, L, seed=90)
    plan = make_plan(layout, f, L, hidden)
    params = make_params(plan, 91, scale=0.3)
    X = as_input(prob.X, kind, np.float64)
    order = np.random.RandomState(92).permutation(n)
    results = []
    for n_threads in (1, 2):
        res = kernel_epoch(
            X,
            prob,
            plan,
            params,
            "relu",
            solver="adam",
            lr=0.01,
            alpha=1e-3,
            batch_size=batch_size,
            order=order,
            n_chunks=2,
            n_opt_chunks=2,
            n_threads=n_threads,
        )
        results.append(res)
    a, b = results
    assert a.t == b.t == n // batch_size
    assert a.params.tobytes() == b.params.tobytes()
    assert a.state.tobytes() == b.state.tobytes()
    assert a.label_loss.tobytes() == b.label_loss.tobytes()
    assert a.group_l2.tobytes() == b.group_l2.tobytes()
    assert not np.array_equal(a.params, params)


def test_predict_bitwise_identical_across_threads():
    prob = make_problem(50, 5, 3, seed=93)
    plan = make_plan("binary_relevance", 5, 3, (4, 3))
    params = make_params(plan, 94)
    outs = []
    for n_threads in (1, 2):
        out = np.empty((50, 3))
        with _engine.engine_context(n_threads):
            K._predict_parallel(
                *_engine.split_input(prob.X, np.float64),
                K.Network(params, plan.table, K.LOGISTIC),
                K.Output(7, plan.row_width, False, out),
            )
        outs.append(out)
    assert outs[0].tobytes() == outs[1].tobytes()


# ------------------------------------------------------------------------------
# (g) Stable math at extreme logits
# ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_extreme_logits_are_stable(activation, dtype):
    n, f, L = 4, 2, 4
    plan = make_plan("multihead", f, L, (3,))
    params = np.zeros(plan.n_params, dtype=dtype)
    params[plan.bias_slice(1)] = [1000.0, -1000.0, 1000.0, -1000.0]
    Y = np.array([[1, 1, 0, 0]] * n, dtype=np.float64)
    prob = Problem(np.ones((n, f)), Y, np.ones(n), np.array([1.0, 2.0, 1.0, 3.0]))
    X = prob.X.astype(dtype)
    with _engine.engine_context(1):
        P = _engine.predict_raw(
            X, params, plan, _engine.ACTIVATION_CODES[activation], True
        )
    assert np.all((P >= 0) & (P <= 1))
    assert_array_equal(P, [[1.0, 0.0, 1.0, 0.0]] * n)
    res = kernel_epoch(X, prob, plan, params, activation, alpha=0.1)
    assert np.all(np.isfinite(res.label_loss))
    assert_allclose(
        res.label_loss / n, [0.0, 2000.0, 1000.0, 0.0], rtol=1e-6, atol=1e-6
    )
    assert np.all(np.isfinite(res.params)) and np.all(np.isfinite(res.state))
    # Output deltas are 0, -pw, +1, 0 per sample: the bias gradient is their mean.
    grad = -res.state[0] / LR
    assert_allclose(grad[plan.bias_slice(1)], [0.0, -2.0, 1.0, 0.0], atol=1e-6)


@pytest.mark.parametrize("activation", ["logistic", "tanh"])
def test_saturated_hidden_units_are_stable(activation):
    """Hidden pre-activations of +-1000 saturate without NaN."""
    n, f, L = 3, 2, 2
    plan = make_plan("binary_relevance", f, L, (2, 2))
    params = make_params(plan, 0)
    params[plan.weight_slice(0)] *= 1000.0
    prob = make_problem(n, f, L, seed=1, nan=False)
    prob.X[:] = np.sign(prob.X) + (prob.X == 0)
    res = kernel_epoch(prob.X, prob, plan, params, activation, alpha=0.1)
    assert np.all(np.isfinite(res.params)) and np.all(np.isfinite(res.label_loss))
    expected = reference_gradient(prob, plan, params, activation, 0.1)
    assert_grad_close(-res.state[0] / LR, expected, rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_loss_and_delta_over_the_whole_logit_range(dtype):
    """Loss and logit gradient match the reference from |z| = 0 to beyond exp's
    underflow, across the cut-off where exp(-|z|) is taken as 0 (EXP_CUTOFF),
    for y = 0, 1 and missing."""
    mags = [0.0, 1e-9, 0.3, 0.35, 1.0, 5.0, 20.0, 36.9, 37.1, 300.0, 501.0, 740.0]
    z = np.array([s * m for m in mags for s in (1.0, -1.0)])
    n, L = z.size, 3
    if dtype == np.float32:
        z = np.clip(z, -1e4, 1e4)
    Z = np.repeat(z[:, None], L, axis=1).astype(dtype).astype(np.float64)
    Y = np.tile([1.0, 0.0, np.nan], (n, 1))
    sw = np.linspace(0.5, 1.5, n)
    pw = np.array([2.0, 1.0, 1.0])
    # Depth 0 on identity X: the logits are the weights (exactly).
    plan = make_plan("multihead", n, L, ())
    params = np.zeros(plan.n_params, dtype=dtype)
    params[plan.weight_slice(0)] = Z.ravel()
    prob = Problem(np.eye(n), Y, sw, pw)
    res = kernel_epoch(prob.X.astype(dtype), prob, plan, params, "relu", alpha=0.0)
    expected_loss = sw @ ref.bce_terms(Z, Y, pw) / sw.sum() * n
    rtol = 1e-13 if dtype == np.float64 else 1e-5
    assert_allclose(res.label_loss, expected_loss, rtol=rtol)
    grad = (-res.state[0] / LR)[plan.weight_slice(0)].reshape(n, L)
    expected = ref.output_delta(Z, Y, sw, pw)
    # Beyond |z| = EXP_CUTOFF, exp(-|z|) is taken as 0: the deltas that are
    # multiples of it (wrong-side probabilities) are exact 0s, off by at most
    atol = pw.max() * np.exp(-K.EXP_CUTOFF) * sw.max() / sw.sum()
    assert atol < 2e-17
    assert_allclose(grad, expected, rtol=rtol, atol=atol)
    assert_array_equal(grad[:, 2], 0.0)
    assert np.all(np.isfinite(res.params))


def test_log1p_unit_is_exact_to_an_ulp():
    e = np.concatenate([np.linspace(0.0, 1.0, 20001), np.logspace(-300, 0, 601)])
    got = np.array([K._log1p_unit(v) for v in e])
    assert_allclose(got, np.log1p(e), rtol=5e-16, atol=0)


def test_exp_neg_is_exact_to_two_ulps():
    a = np.concatenate(
        [
            np.linspace(0.0, K.EXP_CUTOFF, 40001),
            np.logspace(-20, 0, 201),
            [0.5 * np.log(2)],
        ]
    )
    got = np.array([K._exp_neg(v) for v in a])
    assert_allclose(got, np.exp(-a), rtol=5e-16, atol=0)


@pytest.mark.parametrize("lo, hi", [(0, 9), (3, 7), (4, 4)])
def test_batch_columns_is_the_csc_of_the_chunk(lo, hi):
    rng = np.random.RandomState(0)
    X = sparse.random(12, 6, density=0.4, format="csr", random_state=rng)
    X.data[0] = 0.0  # an explicit zero is kept like any other entry
    rows = rng.permutation(12)[:9].astype(np.int64)
    colptr = np.full(X.shape[1] + 1, -1, dtype=np.int64)
    cap = X.nnz
    crow = np.full(cap, -1, dtype=np.int64)
    cval = np.full(cap, np.nan)
    K._batch_columns(
        X.data,
        X.indices,
        X.indptr,
        rows,
        np.int64(lo),
        np.int64(hi),
        colptr,
        crow,
        cval,
    )
    chunk = X[rows[lo:hi]].tocsc()
    chunk.sort_indices()
    assert_array_equal(colptr, chunk.indptr)
    nnz = chunk.nnz
    assert_array_equal(crow[:nnz], chunk.indices + lo)
    assert_array_equal(cval[:nnz], chunk.data)


@pytest.mark.parametrize("lo, hi", [(0, 9), (2, 8), (5, 5)])
@pytest.mark.parametrize("skipped", [None, [False, True, False]])
def test_columns_first_layer_is_the_chunk_product(lo, hi, skipped):
    # Columns with no entry in the chunk, the last columns (the weight row
    # prefetched two columns on is clamped to the last) and skipped groups.
    rng = np.random.RandomState(1)
    X = sparse.random(12, 9, density=0.3, format="csr", random_state=rng)
    X[:, 4] = 0.0
    X.eliminate_zeros()
    rows = rng.permutation(12)[:9].astype(np.int64)
    colptr = np.empty(X.shape[1] + 1, dtype=np.int64)
    crow = np.empty(X.nnz, dtype=np.int64)
    cval = np.empty(X.nnz)
    lo, hi = np.int64(lo), np.int64(hi)
    K._batch_columns(X.data, X.indices, X.indptr, rows, lo, hi, colptr, crow, cval)
    W = rng.randn(X.shape[1], 6)
    Z = np.full((9, 6), np.nan)
    skip = None if skipped is None else np.array(skipped)
    K._columns_first_layer(colptr, crow, cval, lo, hi, W, Z, skip)
    expected = X[rows[lo:hi]] @ W
    if skip is None:
        assert_allclose(Z[lo:hi], expected, rtol=1e-12, atol=1e-15)
    else:
        # Group 1 owns the middle third of the columns: not computed (the
        # rows were zeroed first), the other groups' columns are.
        assert_array_equal(Z[lo:hi, 2:4], 0.0)
        keep = [0, 1, 4, 5]
        assert_allclose(Z[lo:hi, keep], expected[:, keep], rtol=1e-12, atol=1e-15)
    assert np.isnan(Z[:lo]).all() and np.isnan(Z[hi:]).all()


def test_prefetch_emits_the_llvm_prefetch_and_changes_nothing():
    from numba import njit
    from numba.core.errors import TypingError

    from skmultihead._kernels._core import _prefetch, _prefetch_row

    @njit
    def touch(a, i):
        _prefetch_row(a[i:])
        return a[i]

    a = np.arange(40.0)
    assert touch(a, 3) == 3.0
    assert_array_equal(a, np.arange(40.0))
    (ir,) = touch.inspect_llvm().values()
    assert "llvm.prefetch" in ir

    @njit
    def bad(a):
        _prefetch(a, 0)

    with pytest.raises(TypingError):  # only 1-D arrays: never a wrong address
        bad(np.zeros((2, 2)))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("hidden", [(), (5,), (3, 4)])
def test_plan_segments_cover_every_parameter_once(layout, hidden):
    plan = make_plan(layout, 7, 3, hidden)
    seg = plan.segments
    assert seg[0, 0] == 0 and seg[-1, 1] == plan.n_params
    assert_array_equal(seg[1:, 0], seg[:-1, 1])
    assert np.all(seg[:, 1] - seg[:, 0] <= _engine._MAX_SEGMENT)
    assert plan.n_weights in seg[:, 0]
    layer_starts = np.concatenate([plan.table[:, K.W_OFF], plan.table[:, K.B_OFF]])
    assert np.all(np.isin(layer_starts, seg[:, 0]))  # no segment straddles layers
    for start, stop, group in seg:
        assert np.all(plan.owner[start:stop] == group)


def test_task_call_checks_the_signature(monkeypatch):
    """The parallel region calls the task function by address; an address
    compiled for other argument types is refused, never called."""
    plan = make_plan("multihead", 3, 2, (4,))
    params = make_params(plan, 0)
    X = np.ones((5, 3))
    real = K._task_address

    def wrong_hash(*args):
        address, sig = real(*args)
        return address, np.int64(sig + 1)

    # Where the entry points look it up.
    monkeypatch.setattr(K._tasks, "_task_address", wrong_hash)
    with pytest.raises(RuntimeError, match="signature mismatch"):
        _engine.predict_raw(X, params, plan, _engine.ACTIVATION_CODES["relu"], True)


def test_predict_with_read_only_parameters():
    """A model memory-mapped read-only predicts (the task function also holds the
    optimizer, typed for writable parameters)."""
    plan = make_plan("multihead", 3, 2, (4,))
    params = make_params(plan, 0)
    X = np.random.RandomState(0).normal(size=(40, 3))
    code = _engine.ACTIVATION_CODES["tanh"]
    expected = _engine.predict_raw(X, params, plan, code, True)
    params.flags.writeable = False
    assert_array_equal(_engine.predict_raw(X, params, plan, code, True), expected)


@pytest.mark.parametrize("kind", ["dense", "csr"])
def test_read_only_input_reuses_the_compiled_engine(kind):
    """A read-only X (e.g. a joblib memory map) trains and predicts exactly like
    a writable one, without compiling another specialisation of the engine."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 5))
    X[X < 0.3] = 0.0
    Y = (rng.uniform(size=(60, 3)) < 0.4).astype(int)
    if kind == "csr":
        X = sparse.csr_matrix(X)
    est = MultiHeadMLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    expected = est.fit(X, Y).predict_proba(X)
    compiled = len(K._run_task.signatures)
    if kind == "csr":
        X_ro = X.copy()
        for a in (X_ro.data, X_ro.indices, X_ro.indptr):
            a.flags.writeable = False
    else:
        X_ro = X.copy()
        X_ro.flags.writeable = False
    got = est.fit(X_ro, Y).predict_proba(X_ro)
    assert_array_equal(got, expected)
    assert len(K._run_task.signatures) == compiled
    est._params.flags.writeable = False  # a model loaded read-only
    assert_array_equal(est.predict_proba(X), expected)
    assert len(K._run_task.signatures) == compiled


# ------------------------------------------------------------------------------
# (h) Dropout
# ------------------------------------------------------------------------------

SEED = 2**63 + 12345  # above int64: the seed is a uint64 throughout


def _dropout(input_rate, hidden_rate, seed=SEED):
    return K.Dropout(np.uint64(seed), input_rate, hidden_rate)


def test_dropout_hash_matches_reference():
    rate = 0.3
    samples, units = [0, 5, 17, 1000], np.arange(40)
    # (uint64 results come back to Python as ints: cast them again)
    key = np.uint64(K._step_key(np.uint64(SEED), np.int64(3)))
    row_keys = [np.uint64(K._row_key(key, np.int64(i))) for i in samples]
    got = [
        [K._keep_scale(r, np.int64(u), rate, 1 / 0.7) for u in units] for r in row_keys
    ]
    assert_array_equal(got, ref.dropout_scales(SEED, 3, samples, units, rate))
    many = ref.dropout_scales(SEED, 1, np.arange(200), np.arange(100), rate)
    assert set(np.unique(many)) == {0.0, 1 / 0.7}
    assert abs(np.mean(many == 0.0) - rate) < 0.01
    other_step = ref.dropout_scales(SEED, 2, np.arange(200), np.arange(100), rate)
    assert np.mean(other_step != many) > 0.3  # a new mask every step


def _dropout_gradient(layout, kind, activation, alpha):
    """Kernel gradient of one full batch with dropout (2 row chunks), its
    parameters, and the reference objective with the same masks (keyword
    arguments of ``ref.flat_loss`` / ``ref.flat_gradient`` but ``params``)."""
    n, f, hidden, L = 12, 5, (4, 3), 3
    prob = make_problem(n, f, L, seed=21)
    plan = make_plan(layout, f, L, hidden)
    params = make_params(plan, 22)
    rates = (0.3, 0.4)
    # One full batch in the natural order at the first step (t = 0 -> step 1).
    masks = ref.dropout_masks(SEED, 1, np.arange(n), plan.blocks, *rates)
    for m in masks:  # something dropped and something kept in every layer
        assert 0 < np.count_nonzero(m) < m.size
    X = as_input(prob.X, kind, np.float64)
    grad, _ = kernel_gradient(
        X, prob, plan, params, activation, alpha, n_chunks=2, dropout=_dropout(*rates)
    )
    objective = dict(
        X=prob.X,
        Y=prob.Y,
        blocks=plan.blocks,
        activation=activation,
        sample_weight=prob.sw,
        pos_weight=prob.pos_weight,
        alpha=alpha,
        masks=masks,
    )
    return grad, params, objective


@pytest.mark.parametrize("kind", ["dense", "csr"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dropout_gradient_matches_reference(activation, layout, kind):
    grad, params, objective = _dropout_gradient(layout, kind, activation, 0.1)
    expected = ref.flat_gradient(params=params, **objective)
    assert_allclose(grad, expected, rtol=1e-10, atol=1e-12)
    objective["masks"] = None
    assert not np.allclose(grad, ref.flat_gradient(params=params, **objective))


@pytest.mark.parametrize("kind", ["dense", "csr"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh"])
def test_dropout_gradient_finite_differences(activation, layout, kind):
    """Central differences of the objective with the step's (fixed) masks."""
    grad, params, objective = _dropout_gradient(layout, kind, activation, 0.3)

    def loss(p):
        return ref.flat_loss(params=p, **objective)

    fd = ref.finite_difference_gradient(loss, params)
    assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("kind", ["dense", "csr"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_dropout_bitwise_identical_across_threads(layout, kind):
    """1 and 2 threads give the same bits; 1 and 2 row chunks the same masks
    (equal results up to the order of the gradient sums)."""
    n, f, hidden, L = 96, 6, (8, 5), 4
    prob = make_problem(n, f, L, seed=90)
    plan = make_plan(layout, f, L, hidden)
    params = make_params(plan, 91, scale=0.3)
    X = as_input(prob.X, kind, np.float64)
    run = dict(
        solver="adam",
        lr=0.01,
        alpha=1e-3,
        batch_size=32,
        order=np.random.RandomState(92).permutation(n),
        n_opt_chunks=2,
        dropout=_dropout(0.2, 0.3),
    )
    a, b = (
        kernel_epoch(X, prob, plan, params, "tanh", n_chunks=2, n_threads=k, **run)
        for k in (1, 2)
    )
    assert a.t == b.t == 3
    assert a.params.tobytes() == b.params.tobytes()
    assert a.state.tobytes() == b.state.tobytes()
    assert a.label_loss.tobytes() == b.label_loss.tobytes()
    one_chunk = kernel_epoch(X, prob, plan, params, "tanh", n_chunks=1, **run)
    assert_allclose(one_chunk.params, a.params, rtol=1e-10, atol=1e-13)
    run["dropout"] = None
    plain = kernel_epoch(X, prob, plan, params, "tanh", n_chunks=2, **run)
    assert not np.allclose(plain.params, a.params)


@pytest.mark.parametrize("kind", ["dense", "csr"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_dropout_rate_zero_is_no_dropout(layout, kind):
    n, f, hidden, L = 40, 5, (6, 4), 3
    prob = make_problem(n, f, L, seed=30)
    plan = make_plan(layout, f, L, hidden)
    params = make_params(plan, 31)
    X = as_input(prob.X, kind, np.float64)
    run = dict(solver="adam", lr=0.01, alpha=1e-3, batch_size=16, n_chunks=2)
    plain = kernel_epoch(X, prob, plan, params, "relu", **run)
    zero = kernel_epoch(
        X, prob, plan, params, "relu", dropout=_dropout(0.0, 0.0, seed=7), **run
    )
    assert zero.params.tobytes() == plain.params.tobytes()
    assert zero.state.tobytes() == plain.state.tobytes()
    assert zero.label_loss.tobytes() == plain.label_loss.tobytes()


def test_cache_entries_carry_the_stamp_of_every_kernel_source(tmp_path):
    """numba invalidates a cached function only when its own file changes, but a
    kernel holds the code of helpers from the package's other files: every
    kernel's cache name carries a stamp of all the sources, which changes when
    any one of them does."""
    import shutil
    from pathlib import Path

    from skmultihead._kernels import _core

    package = Path(_core.__file__).parent
    assert K._STAMP == _core._source_stamp(package)
    copy = tmp_path / "kernels"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert _core._source_stamp(copy) == K._STAMP
    helper = copy / "_loss.py"
    helper.write_text(helper.read_text() + "\n# an edit to a helper\n")
    assert _core._source_stamp(copy) != K._STAMP
    if K._CACHE:
        dispatchers = [
            obj
            for module in (K._core, K._dropout, K._forward, K._loss)
            + (K._backward, K._update, K._tasks)
            for obj in vars(module).values()
            if hasattr(obj, "py_func") and obj.py_func.__module__ == module.__name__
        ]
        assert len(dispatchers) > 30
        for dispatcher in dispatchers:
            assert dispatcher.py_func.__qualname__.endswith("_" + K._STAMP)


# ------------------------------------------------------------------------------
# Frozen groups left out of the products


def _group_plan(name, n_features, n_labels):
    """Plans with several convergence groups: labels (binary relevance), members
    (an ensemble of shared networks, with or without towers), or both."""
    if name == "br":
        return BinaryRelevanceMLPClassifier()._make_plan(n_features, n_labels, [6, 5])
    if name == "br-members":
        est = BinaryRelevanceMLPClassifier()
        return est._make_plan(n_features, n_labels, [6], n_members=2)
    if name == "members":
        return MultiHeadMLPClassifier()._make_plan(n_features, n_labels, [7], 4)
    est = MultiHeadMLPClassifier(tower_layer_sizes=(3, 2))
    return est._make_plan(n_features, n_labels, [7], n_members=3)


def _output_groups(plan):
    """Group of each output (every layer is split evenly by group)."""
    return np.arange(plan.n_outputs) // (plan.n_outputs // plan.n_groups)


@pytest.mark.parametrize("kind", ["dense", "csr"])
@pytest.mark.parametrize("name", ["br", "br-members", "members", "towers"])
@pytest.mark.parametrize("batch_size", [16, 48])  # loops, and BLAS
@pytest.mark.parametrize("share", ["one", "half"])  # under / over a quarter
def test_skipping_frozen_groups_changes_nothing_else(name, kind, batch_size, share):
    """Leaving the frozen groups out of the forward and backward products (the
    scratch is NaN-filled, so their stale units are NaN) gives the other groups
    the same updates and losses, and leaves the frozen ones untouched."""
    n, f, L = 96, 5, 4
    plan = _group_plan(name, f, L)
    # One target column per output (members' targets side by side).
    prob = make_problem(n, f, plan.n_outputs, seed=140)
    assert plan.skippable and plan.n_groups >= 3
    frozen = np.zeros(plan.n_groups, dtype=np.bool_)
    frozen[[1] if share == "one" else np.arange(0, plan.n_groups, 2)] = True
    params = make_params(plan, 141, scale=0.4)
    X = as_input(prob.X, kind, np.float64)
    order = np.random.RandomState(142).permutation(n)
    kwargs = dict(solver="adam", lr=0.01, alpha=1e-3, batch_size=batch_size)
    kwargs.update(order=order, n_chunks=2, n_opt_chunks=2, frozen=frozen)
    full = kernel_epoch(X, prob, plan, params, "tanh", **kwargs)
    skipped = kernel_epoch(X, prob, plan, params, "tanh", skip=frozen, **kwargs)
    owner = plan.owner
    active = ~frozen[owner]
    assert_allclose(skipped.params[active], full.params[active], rtol=1e-12)
    assert_array_equal(skipped.params[~active], params[~active])
    assert_allclose(skipped.state[:, active], full.state[:, active], rtol=1e-12)
    out_active = ~frozen[_output_groups(plan)]
    assert_allclose(
        skipped.label_loss[out_active], full.label_loss[out_active], rtol=1e-12
    )
    assert np.all(np.isfinite(skipped.label_loss[out_active]))
    # Predictions of the groups left in, with the others left out.
    code = _engine.ACTIVATION_CODES["tanh"]
    for rows in (5, 60):  # loops, and BLAS
        expected = _engine.predict_raw(X[:rows], params, plan, code, True)
        got = _engine.predict_raw(X[:rows], params, plan, code, True, skip=frozen)
        assert_allclose(got[:, out_active], expected[:, out_active], rtol=1e-12)


def test_plans_split_by_group():
    """Skipping needs every layer split evenly by group; a plan of one group, or
    layers that mix groups, runs every product."""
    assert not make_plan("multihead", 4, 3, (5,)).skippable  # one group
    assert make_plan("binary_relevance", 4, 3, (5,)).skippable
    plan = make_plan("binary_relevance", 4, 3, (5,))
    mixed = _engine.LayerPlan(plan.blocks, lambda i, kind: 0, n_groups=3)
    assert not mixed.skippable
    skip = np.array([True, False, False])
    # None for a plan that cannot skip: its kernels compile no skipping code
    assert _engine._skip_mask(mixed, skip) is None
    assert_array_equal(_engine._skip_mask(plan, skip), skip)
    # a plan that can skip always gets a mask (one compiled specialisation)
    assert_array_equal(_engine._skip_mask(plan, None), np.zeros(3, bool))


def test_optimizer_segments_balance_the_chunks_by_cost(monkeypatch):
    # A CSR first layer of 20 inputs x 50 units cut into segments of 100
    # weights (two input columns each); inputs 0-1 and 4-5 hold almost every
    # non-zero, so segments 0 and 2 also carry most of the gradient the
    # optimizer computes. Taking every other segment would give both to chunk
    # 0; balanced by cost, they go to different chunks.
    monkeypatch.setattr(_engine, "_MAX_SEGMENT", 100)
    plan = make_plan("multihead", 20, 3, (50,))
    fan_out, first_size = 50, 20 * 50
    assert_array_equal(plan.segments[:3, :2], [[0, 100], [100, 200], [200, 300]])
    rng = np.random.RandomState(0)
    busy = rng.choice([0, 1, 4, 5], 4000)
    cols = np.where(rng.rand(4000) < 0.9, busy, rng.randint(6, 20, 4000))
    rows = np.repeat(np.arange(400), 10)
    X = sparse.csr_matrix((np.ones(4000), (rows, cols)), shape=(400, 20))
    per_batch = np.bincount(X.indices, minlength=20) * 200 / 400
    costs = _engine.segment_costs(plan, X, batch_size=200)
    for n_chunks in (1, 2, 3):
        seg = _engine.optimizer_segments(plan, n_chunks, costs)
        assert_array_equal(seg[:, :3], plan.segments)
        assert set(seg[:, 3]) == set(range(n_chunks))
        cost = (seg[:, 1] - seg[:, 0]).astype(float)
        for i, (start, stop, _, _) in enumerate(seg):
            w = np.arange(start, min(stop, first_size))
            cost[i] += _engine._SPARSE_GRAD_COST * per_batch[w // fan_out].sum()
        assert_allclose(costs, cost)
        load = np.bincount(seg[:, 3], weights=cost, minlength=n_chunks)
        # the costliest first, each to the least loaded: within one segment
        assert load.max() - load.min() <= cost.max() + 1e-9
        # dense input: the parameters only
        dense = _engine.optimizer_segments(plan, n_chunks)
        size = (dense[:, 1] - dense[:, 0]).astype(float)
        load = np.bincount(dense[:, 3], weights=size, minlength=n_chunks)
        assert load.max() - load.min() <= size.max()
    seg = _engine.optimizer_segments(plan, 2, costs)
    assert seg[0, 3] != seg[2, 3]


@pytest.mark.parametrize("kind", ["dense", "csr"])
def test_optimizer_chunks_do_not_change_the_update(kind):
    """The optimizer chunks share the segments by cost
    (``_engine.optimizer_segments``): the updates are the same bits for any
    number of chunks, the squared-weight sums the same to rounding."""
    n, f, L = 64, 7, 3
    prob = make_problem(n, f, L, seed=150)
    plan = make_plan("binary_relevance", f, L, (5,))
    assert plan.segments.shape[0] >= 6
    params = make_params(plan, 151, scale=0.4)
    X = as_input(prob.X, kind, np.float64)
    kwargs = dict(solver="adam", lr=0.01, alpha=1e-2, batch_size=32, n_chunks=2)
    runs = [
        kernel_epoch(X, prob, plan, params, "relu", n_opt_chunks=k, **kwargs)
        for k in (1, 2, 5)
    ]
    for other in runs[1:]:
        assert other.params.tobytes() == runs[0].params.tobytes()
        assert other.state.tobytes() == runs[0].state.tobytes()
        assert_allclose(other.group_l2, runs[0].group_l2, rtol=1e-13)
