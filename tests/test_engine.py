"""The Python side of the engine (:mod:`skmultihead._engine`): the thread rule,
the layer plan (one flat parameter buffer, its offsets and optimizer segments)
and the chunking, which must depend on the problem and the machine only, never
on the thread count (that is what makes results bitwise independent of it).

The kernels themselves are tested in ``test_kernels.py``; running them from
several Python threads in ``test_concurrency.py``.
"""

import os
import warnings

import numba
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skmultihead import BinaryRelevanceMLPClassifier, MultiHeadMLPClassifier, _engine
from skmultihead import _kernels as K
from skmultihead._engine import (
    LayerPlan,
    effective_n_threads,
    engine_context,
    param_chunks,
    row_chunks,
)

# ----------------------------------------------------------------------------
# Thread rule
# ----------------------------------------------------------------------------


@pytest.fixture
def outside_workers(monkeypatch):
    """Neither a Dask nor a Ray worker, whatever the test process imported."""
    monkeypatch.setattr(_engine, "_dask_worker_threads", lambda: None)
    monkeypatch.setattr(_engine, "_ray_worker_cpus", lambda: None)


def test_explicit_n_threads_wins_capped_at_numba_pool(monkeypatch, outside_workers):
    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", 4)
    monkeypatch.setattr(_engine, "_cpu_budget", lambda: 2)
    # An explicit count is not capped by the affinity budget...
    assert effective_n_threads(3) == 3
    assert effective_n_threads(1) == 1
    # ...only by numba's pool, and it is at least 1.
    assert effective_n_threads(16) == 4
    assert effective_n_threads(0) == 1


def test_none_means_the_cpu_budget(monkeypatch, outside_workers):
    monkeypatch.setattr(_engine, "_cpu_budget", lambda: 3)
    assert effective_n_threads(None) == 3


def test_cpu_budget_is_affinity_capped_by_numba_pool(monkeypatch):
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no CPU affinity on this platform")
    affinity = len(os.sched_getaffinity(0))
    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", 1)
    assert _engine._cpu_budget() == 1
    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", affinity + 7)
    assert _engine._cpu_budget() == affinity


def test_dask_worker_gets_one_thread_per_task(monkeypatch):
    monkeypatch.setattr(_engine, "_cpu_budget", lambda: 8)
    monkeypatch.setattr(_engine, "_dask_worker_threads", lambda: 4)
    monkeypatch.setattr(_engine, "_ray_worker_cpus", lambda: None)
    assert effective_n_threads(None) == 1
    assert effective_n_threads(2) == min(2, numba.config.NUMBA_NUM_THREADS)


def test_ray_task_gets_its_assigned_cpus(monkeypatch):
    monkeypatch.setattr(_engine, "_cpu_budget", lambda: 8)
    monkeypatch.setattr(_engine, "_dask_worker_threads", lambda: None)
    monkeypatch.setattr(_engine, "_ray_worker_cpus", lambda: 3)
    assert effective_n_threads(None) == 3
    monkeypatch.setattr(_engine, "_ray_worker_cpus", lambda: 32)
    assert effective_n_threads(None) == 8


def test_worker_probes_outside_workers_say_none():
    # This test process is neither a Dask worker nor a Ray task.
    assert _engine._dask_worker_threads() is None
    assert _engine._ray_worker_cpus() is None


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({}, _engine._GOMP_SPINCOUNT),
        ({"GOMP_SPINCOUNT": "77"}, "77"),  # the user's value is kept
        ({"OMP_WAIT_POLICY": "ACTIVE"}, None),  # and so is their policy
    ],
)
def test_openmp_spinning_is_bounded_unless_the_user_chose(environ, expected):
    user_set = bool(environ)
    environ = dict(environ)
    assert _engine._bound_openmp_spinning(environ) == (not user_set)
    assert environ.get("GOMP_SPINCOUNT") == expected


def test_importing_skmultihead_bounds_openmp_spinning_before_numba_loads_it():
    # In a fresh interpreter: the variable is set at import, before numba's
    # threading layer (and with it libgomp) is loaded.
    import subprocess
    import sys

    code = (
        "import os; import skmultihead; "
        "from numba.np.ufunc import parallel; "
        "print(os.environ.get('GOMP_SPINCOUNT'), parallel._is_initialized)"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")
    }
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == [_engine._GOMP_SPINCOUNT, "False"]


def test_engine_context_sets_and_restores_numba_threads():
    before = numba.get_num_threads()
    with engine_context(1) as n:
        assert n == 1
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
    with pytest.raises(RuntimeError), engine_context(1):
        raise RuntimeError
    assert numba.get_num_threads() == before


# ----------------------------------------------------------------------------
# Layer plans
# ----------------------------------------------------------------------------


def _plans():
    yield "MH", MultiHeadMLPClassifier()._make_plan(7, 3, (5, 4))
    yield "MH-deep", MultiHeadMLPClassifier()._make_plan(3, 2, (4, 6, 5))
    yield "BR", BinaryRelevanceMLPClassifier()._make_plan(7, 3, (5, 4))
    yield "BR-1", BinaryRelevanceMLPClassifier()._make_plan(2, 4, (1,))
    # Big enough for segments to be cut at _MAX_SEGMENT.
    yield "MH-big", MultiHeadMLPClassifier()._make_plan(300, 5, (100,))
    yield "BR-big", BinaryRelevanceMLPClassifier()._make_plan(300, 3, (40,))


PLANS = dict(_plans())


def test_offsets_of_a_block_diagonal_plan():
    # Binary relevance, 7 features, 3 labels, one hidden layer of 5 per label:
    # a dense 7 x 15 first layer, then 3 blocks of 5 x 1.
    plan = BinaryRelevanceMLPClassifier()._make_plan(7, 3, (5,))
    assert plan.blocks == [(1, 7, 15), (3, 5, 1)]
    n_weights = 7 * 15 + 3 * 5
    assert plan.n_weights == n_weights
    assert plan.n_params == n_weights + 15 + 3
    assert plan.row_width == 15 + 3
    assert plan.n_features == 7 and plan.n_outputs == 3
    expected = [
        # W_OFF, B_OFF, N_BLOCKS, FAN_IN, FAN_OUT, ACT_OFF
        [0, n_weights, 1, 7, 15, 0],
        [7 * 15, n_weights + 15, 3, 5, 1, 15],
    ]
    np.testing.assert_array_equal(plan.table, expected)
    assert plan.table.dtype == np.int64
    assert plan.weight_slice(1) == slice(105, 120)
    assert plan.bias_slice(0) == slice(n_weights, n_weights + 15)
    # Label j owns columns j*5:(j+1)*5 of the first layer and block j after it.
    W0 = plan.owner[plan.weight_slice(0)].reshape(7, 15)
    np.testing.assert_array_equal(W0[0], np.repeat([0, 1, 2], 5))
    np.testing.assert_array_equal(
        plan.owner[plan.weight_slice(1)], np.repeat([0, 1, 2], 5)
    )
    np.testing.assert_array_equal(plan.owner[plan.bias_slice(1)], [0, 1, 2])


@pytest.mark.parametrize("name", PLANS)
def test_layers_tile_the_flat_buffer(name):
    plan = PLANS[name]
    covered = np.zeros(plan.n_params, dtype=int)
    for layer in range(len(plan.blocks)):
        covered[plan.weight_slice(layer)] += 1
        covered[plan.bias_slice(layer)] += 1
    assert (covered == 1).all()
    # All weights first, then all biases (the optimizer relies on n_weights).
    assert plan.bias_slice(0).start == plan.n_weights
    # Each layer takes the previous one's full width as input.
    for (nb0, _, fo0), (nb1, fi1, _) in zip(plan.blocks, plan.blocks[1:]):
        assert nb0 * fo0 == nb1 * fi1
    # Activation slots: consecutive, each as wide as its layer.
    widths = [nb * fo for nb, _, fo in plan.blocks]
    np.testing.assert_array_equal(
        plan.table[:, K.ACT_OFF], np.concatenate([[0], np.cumsum(widths)[:-1]])
    )
    assert plan.row_width == sum(widths)


@pytest.mark.parametrize("name", PLANS)
def test_segments_cover_parameters_in_order_within_one_group(name):
    plan = PLANS[name]
    seg = plan.segments
    assert seg.dtype == np.int64 and seg.shape[1] == 3
    starts, stops, groups = seg.T
    assert starts[0] == 0 and stops[-1] == plan.n_params
    np.testing.assert_array_equal(starts[1:], stops[:-1])
    assert (stops > starts).all()
    assert (stops - starts <= _engine._MAX_SEGMENT).all()
    owner = plan.owner
    for a, b, g in seg:
        assert (owner[a:b] == g).all()
    # Never straddling a layer's weights or biases.
    bounds = set(plan.table[:, K.W_OFF]) | set(plan.table[:, K.B_OFF])
    for a, b, _ in seg:
        assert not any(a < cut < b for cut in bounds)
    assert set(np.unique(groups)) == set(range(plan.n_groups))


@pytest.mark.parametrize("name", PLANS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_copy_groups_copies_exactly_the_selected_groups_parameters(name, dtype):
    # The best-weight copy of early stopping (_monitor._save_best), segment by
    # segment, against a masked copy by parameter owner.
    plan = PLANS[name]
    rng = np.random.RandomState(0)
    src = rng.randn(plan.n_params).astype(dtype)
    for selected in (
        rng.rand(plan.n_groups) < 0.5,
        np.zeros(plan.n_groups, dtype=bool),
        np.ones(plan.n_groups, dtype=bool),
    ):
        dst = rng.randn(plan.n_params).astype(dtype)
        expected = np.where(selected[plan.owner], src, dst)
        K._copy_groups(dst, src, plan.segments, selected)
        np.testing.assert_array_equal(dst, expected)


def test_segments_of_bounds_cuts_every_run_at_the_maximum_length():
    m = _engine._MAX_SEGMENT
    bounds = np.array([0, 3, 3, 3 + 2 * m, 3 + 2 * m + 1, 5 * m])
    groups = np.array([4, 9, 1, 2, 7])  # the empty run 3:3 (group 9) is dropped
    expected = [
        [0, 3, 4],
        [3, 3 + m, 1],
        [3 + m, 3 + 2 * m, 1],
        [3 + 2 * m, 3 + 2 * m + 1, 2],
        [3 + 2 * m + 1, 3 + 3 * m + 1, 7],
        [3 + 3 * m + 1, 3 + 4 * m + 1, 7],
        [3 + 4 * m + 1, 5 * m, 7],
    ]
    np.testing.assert_array_equal(_engine._segments_of_bounds(bounds, groups), expected)


def test_first_layer_must_be_dense():
    with pytest.raises(ValueError, match="dense"):
        LayerPlan([(2, 3, 4)], lambda layer, kind: 0, n_groups=1)


def test_same_shape():
    a = MultiHeadMLPClassifier()._make_plan(7, 3, (5,))
    assert a.same_shape(MultiHeadMLPClassifier()._make_plan(7, 3, (5,)))
    assert not a.same_shape(MultiHeadMLPClassifier()._make_plan(7, 3, (6,)))
    assert not a.same_shape(BinaryRelevanceMLPClassifier()._make_plan(7, 3, (5,)))


# ----------------------------------------------------------------------------
# Chunking: a function of the sizes and the machine, not of the thread count
# ----------------------------------------------------------------------------

BATCH_SIZES = [1, 31, 32, 64, 200, 1000, 4096]


def _chunking():
    return {
        name: (
            [row_chunks(b, plan) for b in BATCH_SIZES],
            param_chunks(plan),
        )
        for name, plan in PLANS.items()
    }


def test_chunks_do_not_depend_on_thread_settings(monkeypatch):
    reference = _chunking()
    for n in (1, 2):
        with engine_context(n):
            assert _chunking() == reference
    # Nor on numba's pool size or the affinity budget (e.g. inside a joblib
    # worker with NUMBA_NUM_THREADS=1).
    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", 1)
    monkeypatch.setattr(_engine, "_cpu_budget", lambda: 1)
    assert _chunking() == reference


@pytest.mark.parametrize("name", PLANS)
def test_row_chunks_bounds(name):
    plan = PLANS[name]
    cpus = os.cpu_count() or 1
    previous = 1
    for b in BATCH_SIZES:
        n = row_chunks(b, plan)
        assert 1 <= n <= max(1, min(8, b // 32, cpus))
        assert n == 1 or n * 8 * plan.n_params <= _engine._MAX_GRAD_BYTES
        assert n >= previous  # more rows never means fewer chunks
        previous = n
    # A small step runs as one chunk (no parallel region).
    assert row_chunks(32, MultiHeadMLPClassifier()._make_plan(4, 2, (3,))) == 1


def test_row_chunks_split_small_networks():
    """A small network's step (emotions: 72 features, 6 labels, h=100) is split
    from 2**19 multiply-adds (batch_size * n_params) on; below, one chunk."""
    plan = MultiHeadMLPClassifier()._make_plan(72, 6, (100,))
    assert plan.n_params == 72 * 100 + 100 + 100 * 6 + 6
    assert 64 * plan.n_params < 2**19 <= 100 * plan.n_params
    cpus = os.cpu_count() or 1
    assert row_chunks(64, plan) == 1
    assert row_chunks(100, plan) == row_chunks(200, plan) == min(2, cpus)


def test_row_chunks_limited_by_gradient_memory(monkeypatch):
    plan = PLANS["MH-big"]
    monkeypatch.setattr(_engine, "_MAX_GRAD_BYTES", 8 * plan.n_params)
    assert row_chunks(4096, plan) == 1


@pytest.mark.parametrize("name", PLANS)
def test_param_chunks_bounds(name):
    plan = PLANS[name]
    n = param_chunks(plan)
    cpus = os.cpu_count() or 1
    assert 1 <= n <= max(1, min(8, cpus, plan.n_params // _engine._MIN_CHUNK_COST))
    assert n <= plan.segments.shape[0]


def test_param_chunks_count_the_sparse_gradient():
    """For CSR input the optimizer also computes the first layer's weight
    gradient: the chunk count counts it (a small network on a bag of words would
    otherwise run its whole optimizer loop on one thread)."""
    from scipy import sparse

    plan = MultiHeadMLPClassifier()._make_plan(100, 10, (100,))
    X = sparse.random(2000, 100, density=0.25, format="csr", random_state=0)
    cost = _engine.segment_costs(plan, X, batch_size=200)
    lengths = plan.segments[:, 1] - plan.segments[:, 0]
    # Per batch of 200 rows, X.nnz / 10 non-zeros, each a multiply-add per
    # hidden unit (100), at _SPARSE_GRAD_COST, on top of one per parameter.
    sparse_work = _engine._SPARSE_GRAD_COST * X.nnz / 10 * 100
    np.testing.assert_allclose(cost.sum(), plan.n_params + sparse_work)
    np.testing.assert_array_equal(_engine.segment_costs(plan), lengths)  # dense
    least = _engine._MIN_CHUNK_COST
    assert plan.n_params < least and (plan.n_params + sparse_work) // least == 4
    cpus = os.cpu_count() or 1
    assert param_chunks(plan) == 1
    assert param_chunks(plan, cost) == min(4, cpus, plan.segments.shape[0])


# ------------------------------------------------------------------------------
# Frozen groups left out of the products, end to end


def _no_skipping(monkeypatch):
    monkeypatch.setattr(_engine.LayerPlan, "_split_by_group", lambda self: False)


@pytest.mark.parametrize("sparse_input", [False, True])
@pytest.mark.parametrize(
    "make",
    [
        # labels stop one by one on their training loss
        lambda: BinaryRelevanceMLPClassifier(
            hidden_layer_sizes=(6,), cv=None, max_iter=60, tol=1e-2, n_iter_no_change=3
        ),
        # fold members stop one by one on their held-out fold (and alpha choice)
        lambda: MultiHeadMLPClassifier(
            hidden_layer_sizes=(6,), cv=3, learning_rate_init=0.02, max_iter=100
        ),
        # both: binary relevance with cross-fitting
        lambda: BinaryRelevanceMLPClassifier(
            hidden_layer_sizes=(4,), cv=3, learning_rate_init=0.02, max_iter=100
        ),
    ],
    ids=["br", "multihead-cv", "br-cv"],
)
def test_skipping_frozen_groups_gives_the_same_fit(monkeypatch, make, sparse_input):
    """Stopped groups are left out of the products, their training and
    validation losses carried (validation only on each fold's own rows): the
    same model, curves and epochs as computing everything."""
    from scipy import sparse

    rng = np.random.RandomState(0)
    X = rng.normal(size=(150, 8))
    W = rng.normal(size=(8, 5))
    Y = (X @ W + rng.normal(size=(150, 5)) > 0.5).astype(int)
    if sparse_input:
        X[np.abs(X) < 0.8] = 0.0
        X = sparse.csr_matrix(X)
    from skmultihead import _monitor

    start_epoch = _monitor._Monitor.start_epoch
    skips, n_groups = [], []

    def spy(self):
        skip = start_epoch(self)
        skips.append(0 if skip is None else int(skip.sum()))
        n_groups.append(self.plan.n_groups)
        return skip

    monkeypatch.setattr(_monitor._Monitor, "start_epoch", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        skipped = make().set_params(random_state=0).fit(X, Y)
    assert skipped._plan.skippable
    assert max(skips) > 0 and skips[-1] < n_groups[-1]  # some, not all
    monkeypatch.undo()
    _no_skipping(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        full = make().set_params(random_state=0).fit(X, Y)
    assert not full._plan.skippable
    np.testing.assert_array_equal(skipped.n_iter_, full.n_iter_)
    np.testing.assert_allclose(skipped.loss_curve_, full.loss_curve_, rtol=1e-10)
    if full.validation_loss_curve_ is not None:
        np.testing.assert_allclose(
            skipped.validation_loss_curve_, full.validation_loss_curve_, rtol=1e-10
        )
    for a, b in zip(skipped.coefs_, full.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        skipped.predict_proba(X), full.predict_proba(X), rtol=1e-9, atol=1e-12
    )
    np.testing.assert_array_equal(skipped.threshold_, full.threshold_)


def test_nested_engine_context_with_the_same_threads_sets_nothing_up(monkeypatch):
    # A fit's validation predictions run inside the fit's own context: they
    # must not recompute the thread count or touch numba's and BLAS's settings.
    calls = []
    real = _engine.effective_n_threads
    monkeypatch.setattr(
        _engine, "effective_n_threads", lambda n: calls.append(n) or real(n)
    )
    before = numba.get_num_threads()
    with engine_context(1) as n:
        assert calls == [1]
        with engine_context(1) as inner:
            assert inner == n == 1
            assert numba.get_num_threads() == 1
        assert calls == [1]  # nothing recomputed
        assert numba.get_num_threads() == 1  # the inner exit restored nothing
        if numba.config.NUMBA_NUM_THREADS > 1:
            with engine_context(2) as other:  # another count: a real context
                assert other == 2 and numba.get_num_threads() == 2
            assert calls == [1, 2]
            assert numba.get_num_threads() == 1
        k = len(calls)
        with engine_context(1):  # the outer context holds again after it
            assert len(calls) == k
    assert numba.get_num_threads() == before
    with engine_context(1):  # outside any context: set up again
        assert len(calls) == k + 1
