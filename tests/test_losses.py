"""The focal and asymmetric (ASL) training losses (``loss=``, ``loss_params=``).

Kernel (``_kernels._asymmetric_delta``, called directly on one row of logits):

* loss and delta against exact values of the formulas (``decimal`` at a
  precision that resolves ``1 - p`` at ``|z| = 700``, derivative by central
  differences there) for logits up to ``|z| = 700``, ``y`` in {0, 1, NaN} and a
  positive weight: a few ulp, every normal value when the exponents are 0;
* delta against central finite differences of the kernel's own loss in float64;
* focal with ``gamma=0`` and ASL with zero exponents and ``clip=0`` equal the
  cross-entropy kernel ``_output_delta`` (to 1e-12);
* sample weights, the batch weight, NaN labels; float32.

Network: the NumPy reference (``_reference.loss_terms``) checked by finite
differences, one full-batch gradient and multi-batch epochs through
``_kernels._fit_epoch`` against the reference (both layouts, dense and CSR),
and the kernel gradient against finite differences of the objective.

Estimators: parameter validation, get_params / clone / pickle, determinism
over ``n_threads``, float32, dense vs CSR, pos_weight / sample_weight / NaN
labels, partial_fit, the validation loss staying the cross-entropy, and the
default ('log_loss') compiling no asymmetric-loss code path into its fits.
"""

import pickle
import warnings
from decimal import Decimal, localcontext

import _reference as ref
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn.base import clone
from sklearn.datasets import make_multilabel_classification
from test_kernels import (
    _reference_epoch,
    as_input,
    assert_grad_close,
    kernel_epoch,
    kernel_gradient,
    make_params,
    make_plan,
    make_problem,
)

from skmultihead import BinaryRelevanceMLPClassifier, MultiHeadMLPClassifier, _engine
from skmultihead import _kernels as K
from skmultihead._monitor import _bce_per_label

ESTIMATORS = [MultiHeadMLPClassifier, BinaryRelevanceMLPClassifier]
EST_IDS = ["multihead", "br"]

# (gamma_pos, gamma_neg, clip): the paper defaults, focal 2 and 1, a milder ASL,
# fractional exponents, a large margin, and the cross-entropy limits.
SETTINGS = [
    (0.0, 4.0, 0.05),
    (2.0, 2.0, 0.0),
    (1.0, 1.0, 0.0),
    (0.0, 2.0, 0.05),
    (0.5, 0.5, 0.0),
    (1.0, 0.5, 0.3),
    (0.0, 0.0, 0.05),
    (0.0, 0.0, 1e-10),  # the gradient at large z is q / clip: q exact there
    (0.0, 0.0, 0.0),
]
_sid = [f"gp{g}-gn{n}-clip{c}" for g, n, c in SETTINGS]

LOGITS = np.concatenate(
    [
        np.linspace(-40.0, 40.0, 41),
        [-700.0, -300.0, -100.0, -50.0, 50.0, 100.0, 300.0, 700.0],
        [0.0, 1e-9, -1e-9, 0.3, -2.5, 2.7],
    ]
)


def kernel_loss(Z, Y, sw, pos_weight, loss, rows=None):
    """``(loss_acc, D)`` of ``_asymmetric_delta`` (``_output_delta`` if ``loss``
    is None) over all rows of ``Z`` (float64 accumulator, NaN-filled D)."""
    n = Z.shape[0]
    rows = np.arange(n) if rows is None else rows
    D = np.full_like(Z, np.nan)
    acc = np.zeros(Z.shape[1])
    args = (Z, Y, sw, pos_weight, rows, 0, n, 1.0 / float(sw.sum()), D, acc)
    if loss is None:
        K._output_delta(*args)
    else:
        K._asymmetric_delta(*args, loss)
    return acc, D


def exact_loss(z, y, pw, setting):
    """Loss and derivative of one entry, from the formulas in ``decimal``.

    The precision grows with ``|z|`` so that ``p`` (or ``1 - p``) near 1 keeps
    ``|z| / ln 10`` more digits; the derivative is a central difference with
    step 1e-25 (truncation error ~1e-50 relative).
    """
    gamma_pos, gamma_neg, clip = (Decimal(v) for v in setting)
    with localcontext() as ctx:
        ctx.prec = 90 + int(abs(z) * 0.44)

        def value(t):
            p = 1 / (1 + (-t).exp())
            q = 1 / (1 + t.exp())  # 1 - p, not cancelled
            if y == 1:
                return Decimal(pw) * (gamma_pos * q.ln()).exp() * -p.ln()
            p_m = p - clip
            if p_m <= 0:
                return Decimal(0)
            return (gamma_neg * p_m.ln()).exp() * -(q + clip).ln()  # 1 - p_m

        t = Decimal(float(z))
        h = Decimal("1e-25")
        return float(value(t)), float((value(t + h) - value(t - h)) / (2 * h))


# ------------------------------------------------------------------------------
# Kernel: one row of logits
# ------------------------------------------------------------------------------


@pytest.mark.parametrize("setting", SETTINGS, ids=_sid)
def test_kernel_matches_exact_formulas(setting):
    m = LOGITS.size
    Z = np.tile(LOGITS, 3)[None, :]
    Y = np.repeat([0.0, 1.0, np.nan], m)[None, :]
    pw = np.full(3 * m, 1.7)
    acc, D = kernel_loss(Z, Y, np.ones(1), pw, K.asymmetric_loss(*setting))
    expected = np.array(
        [
            exact_loss(z, y, 1.7, setting) if y == y else (0.0, 0.0)
            for z, y in zip(Z[0], Y[0])
        ]
    )
    # A few ulp, and 2e-13 where p - clip cancels (1e-3 from the margin's
    # logit). The absolute floor: powers q**g, p**g, p_m**g below 8.6e-17 are
    # taken as 0; without them (exponents 0) every normal value is compared.
    atol = 1e-300 if setting[:2] == (0.0, 0.0) else 1e-15
    assert_allclose(acc, expected[:, 0], rtol=1e-12, atol=atol)
    assert_allclose(D[0], expected[:, 1], rtol=1e-12, atol=atol)
    nan = np.isnan(Y[0])
    assert_array_equal(acc[nan], 0.0)
    assert_array_equal(D[0, nan], 0.0)
    assert np.all(np.isfinite(D))


@pytest.mark.parametrize("setting", SETTINGS, ids=_sid)
def test_kernel_delta_is_the_derivative_of_its_loss(setting):
    """Central differences of the kernel's own loss, in float64."""
    z = np.concatenate([np.linspace(-12.0, 12.0, 49), [0.0, 25.0, -25.0]])
    gamma_pos, gamma_neg, clip = setting
    if clip > 0:  # away from the kink of max(p - clip, 0)
        kink = np.log(clip / (1 - clip))
        z = z[np.abs(z - kink) > 1e-3]
    loss = K.asymmetric_loss(*setting)
    pw = np.full(z.size, 0.6)
    sw = np.ones(1)
    for y in (0.0, 1.0):
        Y = np.full((1, z.size), y)
        _, D = kernel_loss(z[None, :], Y, sw, pw, loss)
        h = 1e-6 * np.maximum(1.0, np.abs(z))
        up, _ = kernel_loss((z + h)[None, :], Y, sw, pw, loss)
        down, _ = kernel_loss((z - h)[None, :], Y, sw, pw, loss)
        fd = (up - down) / (2 * h)
        assert_allclose(D[0], fd, rtol=1e-6, atol=1e-10, err_msg=f"y={y}")


@pytest.mark.parametrize(
    "setting", [(0.0, 0.0, 0.0)], ids=["asl-0-0-0"]
)  # focal gamma=0 is the same vector
@pytest.mark.parametrize("weights", [False, True], ids=["unweighted", "weighted"])
def test_zero_exponents_and_margin_are_the_cross_entropy(setting, weights):
    prob = make_problem(30, 2, 5, seed=3, weights=weights)
    rng = np.random.RandomState(4)
    Z = rng.normal(scale=6.0, size=prob.Y.shape)
    Z[0, :] = [-60.0, 45.0, 0.0, 700.0, -700.0]
    rows = rng.permutation(30)
    bce = kernel_loss(Z, prob.Y, prob.sw, prob.pos_weight, None, rows)
    for loss in (K.asymmetric_loss(*setting), K.asymmetric_loss(0.0, 0.0, 0.0)):
        other = kernel_loss(Z, prob.Y, prob.sw, prob.pos_weight, loss, rows)
        assert_allclose(other[0], bce[0], rtol=1e-12, atol=1e-12)
        assert_allclose(other[1], bce[1], rtol=1e-12, atol=1e-12)


def test_kernel_weights_rows_and_nan():
    """Sample weights scale the loss; the delta is a batch mean over the
    batch's rows (``rows`` maps batch rows to samples); NaN: 0."""
    setting = (0.5, 3.0, 0.1)
    loss = K.asymmetric_loss(*setting)
    prob = make_problem(12, 2, 4, seed=5)
    rng = np.random.RandomState(6)
    rows = rng.permutation(12)[:7]
    Z = rng.normal(scale=3.0, size=(7, 4))
    acc, D = kernel_loss(Z, prob.Y, prob.sw, prob.pos_weight, loss, rows)
    # kernel_loss divides by all samples' weight: the kernel's inv_sw_sum
    scale = prob.sw[rows] / prob.sw.sum()
    terms = ref.loss_terms(Z, prob.Y[rows], prob.pos_weight, setting)
    assert_allclose(acc, prob.sw[rows] @ terms, rtol=1e-13)
    d = ref.loss_derivative(Z, prob.Y[rows], prob.pos_weight, setting)
    assert_allclose(D, d * scale[:, None], rtol=1e-12, atol=1e-16)
    assert_array_equal(D[np.isnan(prob.Y[rows])], 0.0)


def test_kernel_float32():
    setting = (0.0, 4.0, 0.05)
    loss = K.asymmetric_loss(*setting)
    rng = np.random.RandomState(7)
    Z = rng.normal(scale=5.0, size=(6, 5))
    Y = (rng.uniform(size=Z.shape) < 0.4).astype(np.float64)
    Y[0, 0] = np.nan
    sw = rng.uniform(0.5, 2.0, 6)
    pw = rng.uniform(0.5, 3.0, 5)
    acc64, D64 = kernel_loss(Z, Y, sw, pw, loss)
    f32 = [a.astype(np.float32) for a in (Z, Y, sw, pw)]
    acc32, D32 = kernel_loss(*f32, loss)
    assert D32.dtype == np.float32
    # float32 inputs: the arithmetic is float64, the result rounded once
    acc_r, D_r = kernel_loss(*[a.astype(np.float64) for a in f32], loss)
    assert_allclose(acc32, acc_r, rtol=1e-12)
    assert_allclose(D32, D_r, rtol=1e-6, atol=1e-12)
    assert_allclose(acc32, acc64, rtol=1e-5)


# ------------------------------------------------------------------------------
# Network: the reference, a full-batch gradient, epochs
# ------------------------------------------------------------------------------


@pytest.mark.parametrize("setting", SETTINGS, ids=_sid)
def test_reference_delta_is_the_derivative_of_the_reference_loss(setting):
    prob = make_problem(6, 2, 3, seed=8)
    Z = np.random.RandomState(9).normal(scale=4.0, size=prob.Y.shape)
    gamma_pos, gamma_neg, clip = setting
    if clip > 0:
        kink = np.log(clip / (1 - clip))
        Z[np.abs(Z - kink) < 1e-3] += 0.01
    delta = ref.output_delta(Z, prob.Y, prob.sw, prob.pos_weight, setting)

    def f(flat):
        z = flat.reshape(Z.shape)
        return ref.label_losses(z, prob.Y, prob.sw, prob.pos_weight, setting).sum()

    fd = ref.finite_difference_gradient(f, Z.ravel()).reshape(Z.shape)
    assert_allclose(delta, fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "setting", [(0.0, 4.0, 0.05), (2.0, 2.0, 0.0)], ids=["asl", "focal"]
)
@pytest.mark.parametrize("kind", ["dense", "csr"])
@pytest.mark.parametrize("layout", ["multihead", "binary_relevance"])
def test_batch_gradient_matches_reference(layout, kind, setting):
    n, f, hidden, L = 9, 4, (3, 2), 3
    prob = make_problem(n, f, L, seed=10)
    plan = make_plan(layout, f, L, hidden)
    params = make_params(plan, 11)
    X = as_input(prob.X, kind, np.float64)
    grad, res = kernel_gradient(
        X, prob, plan, params, "tanh", 0.3, n_chunks=2, loss=K.asymmetric_loss(*setting)
    )
    expected = ref.flat_gradient(
        prob.X,
        prob.Y,
        params,
        plan.blocks,
        "tanh",
        prob.sw,
        prob.pos_weight,
        0.3,
        output_loss=setting,
    )
    assert_grad_close(grad, expected, rtol=1e-10)
    coefs, intercepts = ref.unflatten(params, plan.blocks)
    Z = ref.predict_logits(prob.X, coefs, intercepts, "tanh")
    losses = ref.label_losses(Z, prob.Y, prob.sw, prob.pos_weight, setting)
    assert_allclose(res.label_loss / n, losses, rtol=1e-12, atol=1e-15)


def test_kernel_gradient_finite_differences():
    """The whole network's gradient against central differences of the
    objective computed from the kernels' forward pass."""
    setting = (1.0, 3.0, 0.05)
    n, f, hidden, L = 9, 3, (3, 2), 3
    prob = make_problem(n, f, L, seed=12)
    plan = make_plan("multihead", f, L, hidden)
    params = make_params(plan, 13)
    alpha = 0.3
    grad, _ = kernel_gradient(
        prob.X, prob, plan, params, "tanh", alpha, loss=K.asymmetric_loss(*setting)
    )
    code = _engine.ACTIVATION_CODES["tanh"]

    def objective(p):
        with _engine.engine_context(1):
            Z = _engine.predict_raw(prob.X, p, plan, code, False)
        data = ref.label_losses(Z, prob.Y, prob.sw, prob.pos_weight, setting).sum()
        w = p[: plan.n_weights]
        return data + 0.5 * alpha * np.dot(w, w) / prob.sw.sum()

    fd = ref.finite_difference_gradient(objective, params)
    assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("kind", ["dense", "csr"])
@pytest.mark.parametrize("layout", ["multihead", "binary_relevance"])
def test_epoch_matches_reference(layout, kind, solver):
    """Three batches of one epoch, loss and parameters, against the reference
    training loop (``_reference_epoch``)."""
    setting = (0.0, 4.0, 0.05) if solver == "sgd" else (2.0, 2.0, 0.0)
    n, f, hidden, L = 12, 3, (4, 3), 3
    prob = make_problem(n, f, L, seed=14)
    plan = make_plan(layout, f, L, hidden)
    params = make_params(plan, 15)
    X = as_input(prob.X, kind, np.float64)
    lr = 0.1 if solver == "sgd" else 0.01
    run = dict(
        solver=solver,
        lr=lr,
        momentum=0.9,
        nesterov=True,
        alpha=0.2,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        batch_size=4,
        order=np.random.RandomState(16).permutation(n),
        frozen=np.zeros(plan.n_groups, dtype=bool),
        group_lr=np.full(plan.n_groups, lr),
    )
    state = np.zeros((2 if solver == "adam" else 1, plan.n_params))
    res = kernel_epoch(
        X,
        prob,
        plan,
        params,
        "relu",
        state=state,
        n_chunks=2,
        n_opt_chunks=2,
        loss=K.asymmetric_loss(*setting),
        **run,
    )
    expected = _reference_epoch(
        prob, plan, params, "relu", state=state, t=0, output_loss=setting, **run
    )
    assert res.t == expected.t == 3
    assert_allclose(res.params, expected.params, rtol=1e-10, atol=1e-13)
    assert_allclose(res.label_loss, expected.label_loss, rtol=1e-12)


def test_epoch_bitwise_across_threads():
    n, f, hidden, L = 60, 5, (8,), 4
    prob = make_problem(n, f, L, seed=17)
    plan = make_plan("multihead", f, L, hidden)
    params = make_params(plan, 18)
    loss = K.asymmetric_loss(0.0, 4.0, 0.05)
    run = dict(solver="adam", lr=0.01, batch_size=20, n_chunks=4, n_opt_chunks=3)
    one = kernel_epoch(
        prob.X, prob, plan, params, "relu", n_threads=1, loss=loss, **run
    )
    two = kernel_epoch(
        prob.X, prob, plan, params, "relu", n_threads=2, loss=loss, **run
    )
    assert_array_equal(one.params, two.params)
    assert_array_equal(one.label_loss, two.label_loss)


# ------------------------------------------------------------------------------
# Estimators
# ------------------------------------------------------------------------------


def _data(n=120, seed=0):
    X, Y = make_multilabel_classification(
        n_samples=n, n_features=10, n_classes=4, random_state=seed
    )
    return X / X.max(), Y


def _fit(Est, X, Y, **params):
    params = {"hidden_layer_sizes": (8,), "max_iter": 30, "random_state": 0, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Est(**params).fit(X, Y)


BAD = [
    (dict(loss="hinge"), r"'loss' parameter"),
    (dict(loss="focal", loss_params=[("gamma", 1.0)]), r"'loss_params' parameter"),
    (dict(loss_params={"gamma": 2.0}), r"loss_params is only used by .*'log_loss'"),
    (dict(loss_params={}), r"loss_params is only used by .*'log_loss'"),
    (dict(loss="focal", loss_params={"gama": 2.0}), r"unknown key\(s\) \['gama'\]"),
    (
        dict(loss="focal", loss_params={"gamma_neg": 2.0}),
        r"'gamma_neg' is a key of loss='asymmetric'",
    ),
    (
        dict(loss="asymmetric", loss_params={"gamma": 2.0}),
        r"'gamma' is a key of loss='focal'",
    ),
    (dict(loss="focal", loss_params={"gamma": -1.0}), r"'gamma'.* non-negative"),
    (
        dict(loss="asymmetric", loss_params={"gamma_neg": -0.5}),
        r"'gamma_neg'.* non-negative",
    ),
    (dict(loss="asymmetric", loss_params={"clip": 1.0}), r"'clip'.* \[0, 1\)"),
    (dict(loss="asymmetric", loss_params={"clip": -0.1}), r"'clip'.* \[0, 1\)"),
    (dict(loss="focal", loss_params={"gamma": np.nan}), r"'gamma'.* finite real"),
    (dict(loss="focal", loss_params={"gamma": "2"}), r"'gamma'.* finite real"),
    (dict(loss="focal", loss_params={"gamma": True}), r"'gamma'.* finite real"),
]


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
@pytest.mark.parametrize("params, match", BAD, ids=[str(p) for p, _ in BAD])
def test_invalid_loss_parameters(Est, params, match):
    X, Y = _data(40)
    est = Est(max_iter=1, **params)
    with pytest.raises(ValueError, match=match):
        est.fit(X, Y)
    with pytest.raises(ValueError, match=match):
        Est(max_iter=1, **params).partial_fit(X, Y)


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_invalid_loss_leaves_fitted_model_unchanged(Est):
    X, Y = _data(60)
    est = _fit(Est, X, Y, loss="focal", cv=None)
    params = est._params.copy()
    est.set_params(loss_params={"gamma": -2.0})
    with pytest.raises(ValueError, match="non-negative"):
        est.fit(X, Y)
    assert_array_equal(est._params, params)


def test_valid_parameters_resolve():
    est = MultiHeadMLPClassifier()
    assert est.loss == "log_loss" and est.loss_params is None
    assert est._loss_bundle() is None
    est.set_params(loss="focal")
    assert_array_equal(est._loss_bundle(), [2.0, 2.0, 0.0])
    est.set_params(loss_params={"gamma": 1})
    assert_array_equal(est._loss_bundle(), [1.0, 1.0, 0.0])
    est.set_params(loss="asymmetric", loss_params=None)
    assert_array_equal(est._loss_bundle(), [0.0, 4.0, 0.05])
    est.set_params(loss_params={"clip": 0.0, "gamma_pos": np.float32(1.5)})
    assert_array_equal(est._loss_bundle(), [1.5, 4.0, 0.0])
    bundle = est._loss_bundle()
    assert bundle.dtype == np.float64 and bundle[K.L_GAMMA_POS] == 1.5
    assert bundle[K.L_GAMMA_NEG] == 4.0 and bundle[K.L_CLIP] == 0.0


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_get_params_clone_pickle(Est):
    X, Y = _data()
    params = {"gamma_neg": 2.0, "clip": 0.1}
    est = Est(loss="asymmetric", loss_params=params)
    assert est.get_params()["loss"] == "asymmetric"
    assert est.get_params()["loss_params"] == params
    cloned = clone(est)
    assert cloned.get_params()["loss_params"] == params
    est = _fit(Est, X, Y, loss="asymmetric", loss_params=params, cv=2)
    again = pickle.loads(pickle.dumps(est))
    assert again.get_params() == est.get_params()
    assert_array_equal(again.predict_proba(X), est.predict_proba(X))
    refit = _fit(Est, X, Y, loss="asymmetric", loss_params=params, cv=2)
    assert_array_equal(refit._params, est._params)


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_focal_fits_dense_and_csr(Est):
    X, Y = _data()
    dense = _fit(Est, X, Y, loss="focal", cv=None)
    csr = _fit(Est, sparse.csr_matrix(X), Y, loss="focal", cv=None)
    P = dense.predict_proba(X)
    assert P.shape == Y.shape and np.all((P > 0) & (P < 1))
    assert dense.predict(X).shape == Y.shape
    assert_allclose(csr.predict_proba(sparse.csr_matrix(X)), P, atol=1e-9)
    assert dense.loss_curve_[-1] < dense.loss_curve_[0]


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
@pytest.mark.parametrize("loss", ["focal", "asymmetric"])
def test_bitwise_across_threads(Est, loss):
    X, Y = _data(300)
    a = _fit(Est, X, Y, loss=loss, hidden_layer_sizes=(32,), cv=2, n_threads=1)
    b = _fit(Est, X, Y, loss=loss, hidden_layer_sizes=(32,), cv=2, n_threads=2)
    assert_array_equal(a._params, b._params)
    assert a.loss_curve_ == b.loss_curve_


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_float32_and_weights_and_missing_labels(Est):
    X, Y = _data()
    Y = Y.astype(np.float64)
    Y[np.random.RandomState(1).uniform(size=Y.shape) < 0.2] = np.nan
    sw = np.random.RandomState(2).uniform(0.5, 2.0, X.shape[0])
    params = dict(loss="asymmetric", pos_weight="balanced", cv=None)
    est = Est(hidden_layer_sizes=(8,), max_iter=20, random_state=0, **params)
    est64 = clone(est).fit(X, Y, sample_weight=sw)
    est32 = clone(est).set_params(dtype="float32").fit(X, Y, sample_weight=sw)
    assert est32._params.dtype == np.float32
    assert np.all(np.isfinite(est32.predict_proba(X)))
    assert_allclose(est32.predict_proba(X), est64.predict_proba(X), atol=1e-3)
    # frequency weights: weight 2 is the row twice
    w = np.ones(X.shape[0])
    w[:10] = 2.0
    rows = np.r_[np.arange(X.shape[0]), np.arange(10)]
    one = clone(est).set_params(shuffle=False, batch_size=X.shape[0] + 10)
    weighted = clone(one).set_params(batch_size=X.shape[0]).fit(X, Y, sample_weight=w)
    repeated = clone(one).fit(X[rows], Y[rows])
    assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-9)


def test_loss_curve_reports_the_training_loss():
    """``loss_curve_`` is the chosen loss (here: of the initial weights, one
    batch and a step too small to move them); the validation loss, which early
    stopping monitors, stays the cross-entropy."""
    X, Y = _data(200)
    setting = (0.0, 4.0, 0.05)
    params = dict(hidden_layer_sizes=(8,), random_state=0, cv=None, threshold=0.5)
    est = MultiHeadMLPClassifier(
        loss="asymmetric",
        max_iter=1,
        batch_size=200,
        shuffle=False,
        alpha=0.0,
        learning_rate_init=1e-300,
        **params,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, Y)
    Z = est.decision_function(X)
    ones = np.ones(Y.shape[1])
    expected = ref.label_losses(Z, Y, np.ones(200), ones, setting).sum()
    assert est.loss_curve_[0] == pytest.approx(expected, rel=1e-12)
    assert est.loss_curve_[0] < ref.label_losses(Z, Y, np.ones(200), ones).sum()

    Xv, Yv = _data(80, seed=1)
    est = MultiHeadMLPClassifier(
        loss="focal", early_stopping=True, alpha=1e-4, max_iter=30, **params
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, Y, X_val=Xv, Y_val=Yv)
    bce = _bce_per_label(est.decision_function(Xv), Yv.astype(float), np.ones(80))
    assert est.best_validation_score_ == pytest.approx(-bce.sum(), rel=1e-9)


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_partial_fit_with_focal(Est):
    X, Y = _data()
    est = Est(hidden_layer_sizes=(8,), loss="focal", random_state=0)
    for _ in range(3):
        est.partial_fit(X, Y)
    assert len(est.loss_curve_) == 3
    assert np.all(np.isfinite(est.predict_proba(X)))
