"""Layouts (``skmultihead._layout``): trunk + per-label towers, and members.

The kernels run any plan of dense and block-diagonal layers; these tests check
that the plans the layouts build -- shared trunks of depth 0-2 followed by
per-label towers of depth 0-2, replicated over several members -- give the
forward pass and the gradient of the NumPy reference (which treats every layer
as one dense, block-diagonal matrix), and that ``coefs_``/``intercepts_`` read
the flat buffer in scikit-learn's layout.
"""

import _reference as ref
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from test_kernels import (
    _check_relu_margin,
    _kernel_loss,
    _reference_logits,
    as_input,
    assert_grad_close,
    kernel_gradient,
    make_params,
    make_problem,
    reference_gradient,
)

from skmultihead import BinaryRelevanceMLPClassifier, MultiHeadMLPClassifier, _engine
from skmultihead._layout import Layout

# (trunk, towers) of MultiHead; BinaryRelevance uses hidden = trunk + towers.
SPECTRUM = [
    ((), ()),
    ((3,), ()),
    ((3, 2), ()),
    ((), (2,)),
    ((), (2, 3)),
    ((3,), (2,)),
    ((4, 3), (2,)),
    ((3,), (2, 2)),
    ((4, 3), (3, 2)),
]


def _ids(spec):
    trunk, towers = spec
    return f"t{'x'.join(map(str, trunk)) or '0'}-h{'x'.join(map(str, towers)) or '0'}"


def make_layout(kind, spec, n_features, n_labels, n_members):
    trunk, towers = spec
    if kind == "multihead":
        est = MultiHeadMLPClassifier(tower_layer_sizes=towers)
        return est._make_layout(n_features, n_labels, list(trunk), n_members)
    est = BinaryRelevanceMLPClassifier()
    return est._make_layout(n_features, n_labels, [*trunk, *towers], n_members)


@pytest.mark.parametrize("kind", ["dense", "csr"])
@pytest.mark.parametrize("n_members", [1, 2])
@pytest.mark.parametrize("spec", SPECTRUM, ids=_ids)
def test_forward_matches_reference(spec, n_members, kind):
    n, f, L = 23, 4, 3
    layout = make_layout("multihead", spec, f, L, n_members)
    plan = layout.plan
    prob = make_problem(n, f, L * n_members, seed=1)
    params = make_params(plan, 2)
    X = as_input(prob.X, kind, np.float64)
    code = _engine.ACTIVATION_CODES["tanh"]
    with _engine.engine_context(1):
        logits = _engine.predict_raw(X, params, plan, code, False)
    assert logits.shape == (n, n_members * L)
    expected = _reference_logits(X, params, plan, "tanh")
    assert_allclose(logits, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", ["dense", "csr"])
@pytest.mark.parametrize("n_members", [1, 2])
@pytest.mark.parametrize("activation", ["relu", "logistic"])
@pytest.mark.parametrize("spec", SPECTRUM, ids=_ids)
def test_gradient_matches_reference(spec, activation, n_members, kind):
    n, f, L = 9, 3, 3
    layout = make_layout("multihead", spec, f, L, n_members)
    plan = layout.plan
    prob = make_problem(n, f, L * n_members, seed=3)
    params = make_params(plan, 4)
    X = as_input(prob.X, kind, np.float64)
    grad, res = kernel_gradient(X, prob, plan, params, activation, 0.3, n_chunks=2)
    expected = reference_gradient(prob, plan, params, activation, 0.3)
    assert_grad_close(grad, expected, rtol=1e-10)


@pytest.mark.parametrize("spec", [((3,), (2,)), ((), (2, 2)), ((3, 2), (2, 2))], ids=_ids)
def test_gradient_finite_differences(spec):
    n, f, L = 9, 3, 2
    plan = make_layout("multihead", spec, f, L, 2).plan
    prob = make_problem(n, f, 2 * L, seed=5)
    params = make_params(plan, 6)
    _check_relu_margin(prob.X, params, plan, "tanh")
    grad, _ = kernel_gradient(prob.X, prob, plan, params, "tanh", 0.3, n_chunks=2)
    fd = ref.finite_difference_gradient(
        _kernel_loss(prob.X, prob, plan, "tanh", 0.3), params
    )
    assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("n_members", [1, 3])
@pytest.mark.parametrize("spec", SPECTRUM, ids=_ids)
def test_views_read_the_reference_matrices(spec, n_members):
    """coefs_[i][m] (member m) and, for per-label layers, coefs_[i][m, j] are the
    blocks of the reference's dense (block-diagonal) matrices."""
    f, L = 4, 3
    layout = make_layout("multihead", spec, f, L, n_members)
    params = make_params(layout.plan, 7)
    dense_W, dense_b = ref.unflatten(params, layout.plan.blocks)
    col = [0] * len(layout.layers)  # running output column of each layer
    for m in range(n_members):
        for i, (nb, fi, fo, split) in enumerate(layout.layers):
            W = layout.coef_view(params, i)
            b = layout.intercept_view(params, i)
            if n_members > 1:
                W, b = W[m], b[m]
            units = nb if nb > 1 else max(split, 1)
            width = fo if nb > 1 else fo // units
            W = W.reshape(units, fi, width) if (nb > 1 or split) else W[None]
            b = b.reshape(units, width)
            for u in range(units):
                c0 = col[i]
                # Row offset: layer 0 reads every feature; later layers read the
                # previous layer's output of this member (and unit, if blocks).
                r0 = 0
                if i > 0:
                    prev_width = layout.plan.blocks[i][1] * (nb if nb > 1 else 1)
                    r0 = (m * (nb if nb > 1 else 1) + (u if nb > 1 else 0)) * fi
                    if nb == 1:
                        r0 = m * fi
                    assert prev_width >= fi
                expected_W = dense_W[i][r0 : r0 + fi, c0 : c0 + width]
                assert_array_equal(W[u], expected_W)
                assert_array_equal(b[u], dense_b[i][c0 : c0 + width])
                col[i] += width


@pytest.mark.parametrize("spec", SPECTRUM, ids=_ids)
def test_owner_groups(spec):
    """One convergence group per member for a shared trunk; one per label and
    member without a trunk (binary relevance)."""
    f, L, M = 4, 3, 2
    layout = make_layout("multihead", spec, f, L, M)
    trunk, towers = spec
    per_label = not trunk and bool(towers)
    assert layout.per_label_groups == per_label
    assert layout.plan.n_groups == M * (L if per_label else 1)
    owner = layout.plan.owner
    # Every group's parameters reach exactly its own member's outputs: member m's
    # parameters are those a perturbation of which changes only its logits.
    params = make_params(layout.plan, 8)
    X = np.random.RandomState(0).normal(size=(5, f))
    code = _engine.ACTIVATION_CODES["tanh"]
    base = _engine.predict_raw(X, params, layout.plan, code, False)
    for g in range(layout.plan.n_groups):
        p = params.copy()
        p[owner == g] += 0.1
        changed = np.any(_engine.predict_raw(X, p, layout.plan, code, False) != base, 0)
        m = g // (L if per_label else 1)
        expected = np.zeros(M * L, dtype=bool)
        if per_label:
            expected[m * L + g % L] = True
        else:
            expected[m * L : (m + 1) * L] = True
        assert_array_equal(changed, expected)


def test_member_zero_is_the_single_network():
    """Member 0 draws exactly what a one-member fit draws (same random_state)."""
    for est, hidden in [
        (MultiHeadMLPClassifier(tower_layer_sizes=(2,)), [3]),
        (MultiHeadMLPClassifier(), [3, 2]),
        (BinaryRelevanceMLPClassifier(), [3]),
    ]:
        one = est._make_layout(4, 3, hidden, 1)
        three = est._make_layout(4, 3, hidden, 3)

        def draw(rng, fan_in, fan_out):
            return est._glorot(rng, fan_in, fan_out, np.float64)

        p1 = one.init_params(draw, np.random.RandomState(0), np.float64)
        p3 = three.init_params(draw, np.random.RandomState(0), np.float64)
        for i in range(len(one.layers)):
            assert_array_equal(three.coef_view(p3, i)[0], one.coef_view(p1, i))
            assert_array_equal(
                three.intercept_view(p3, i)[0], one.intercept_view(p1, i)
            )
        assert not np.array_equal(three.coef_view(p3, 0)[1], one.coef_view(p1, 0))


def test_layout_rejects_a_blocked_first_layer():
    with pytest.raises(ValueError, match="first layer must be dense"):
        Layout([(2, 3, 4, 2)], 2, True)
