"""The optimizer state of a fit (``_optimizer.Optimizer``): learning-rate
schedules against scikit-learn's, the hyper vector the kernels read, Adam's
bias correction, and the exported state that ``partial_fit`` continues from."""

import pickle

import numpy as np
import pytest
from sklearn.datasets import make_multilabel_classification
from sklearn.neural_network import MLPClassifier
from sklearn.neural_network._stochastic_optimizers import (
    AdamOptimizer,
    SGDOptimizer,
)

from skmultihead import BinaryRelevanceMLPClassifier, MultiHeadMLPClassifier
from skmultihead import _kernels as K
from skmultihead._engine import EpochRunner, engine_context
from skmultihead._optimizer import ADAPTIVE_MIN_LR, Optimizer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _problem(n=24, n_features=5, n_labels=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, n_features))
    Y = (rng.uniform(size=(n, n_labels)) < 0.5).astype(np.float64)
    return X, Y


def _plan_and_params(n_features=5, n_labels=3, hidden=(4,), seed=1):
    plan = MultiHeadMLPClassifier()._make_plan(n_features, n_labels, list(hidden))
    params = np.random.RandomState(seed).uniform(-0.8, 0.8, plan.n_params)
    return plan, params


def _runner(X, Y, plan, batch_size):
    n = X.shape[0]
    return EpochRunner(
        X, Y, np.ones(n), np.ones(Y.shape[1]), plan, batch_size, np.float64
    )


def _epochs(optimizer, runner, params, n_epochs, seed=0):
    """``n_epochs`` epochs in a fixed shuffled order, in place."""
    rng = np.random.RandomState(seed)
    n = runner.X.shape[0]
    frozen = np.zeros(optimizer.group_lr.shape[0], dtype=np.bool_)
    with engine_context(1):
        for _ in range(n_epochs):
            order = rng.permutation(n)
            optimizer.run_epoch(runner, order, params, frozen, K.RELU)
            optimizer.end_epoch(n)


# --------------------------------------------------------------------------------
# Schedules
# --------------------------------------------------------------------------------


@pytest.mark.parametrize("power_t", [0.5, 0.3, 1])
@pytest.mark.parametrize("samples_seen", [0, 130])
def test_invscaling_is_sklearns(power_t, samples_seen):
    """After each epoch the rate is sklearn's ``SGDOptimizer.iteration_ends``
    value, bit for bit, counted from the samples seen by earlier calls."""
    opt = Optimizer(
        "sgd",
        10,
        3,
        np.float64,
        0.2,
        learning_rate="invscaling",
        power_t=power_t,
        samples_seen=samples_seen,
    )
    sk = SGDOptimizer(
        [np.zeros(3)], learning_rate_init=0.2, lr_schedule="invscaling", power_t=power_t
    )
    time_step = samples_seen
    np.testing.assert_array_equal(opt.group_lr, 0.2)  # the first epoch: the init
    for n in (37, 37, 11, 200):
        opt.end_epoch(n)
        time_step += n
        sk.iteration_ends(time_step)
        assert opt.samples_seen == time_step
        assert np.all(opt.group_lr == sk.learning_rate)
        assert opt.group_lr[0] == 0.2 / (time_step + 1) ** power_t


@pytest.mark.parametrize(
    "solver,schedule",
    [("adam", "invscaling"), ("sgd", "constant"), ("adam", "constant")],
)
def test_other_schedules_keep_the_rate(solver, schedule):
    opt = Optimizer(solver, 10, 2, np.float64, 0.01, learning_rate=schedule)
    for _ in range(3):
        opt.end_epoch(50)
    assert opt.samples_seen == 150
    np.testing.assert_array_equal(opt.group_lr, 0.01)


def test_adaptive_divides_by_5_and_stops_below_1e6(capsys):
    """A stalled unit's rate is divided by 5 (only its groups) while it is above
    1e-6, then the unit must stop: the same sequence as sklearn's
    ``SGDOptimizer.trigger_stopping``."""
    opt = Optimizer(
        "sgd", 10, 3, np.float64, 1e-3, learning_rate="adaptive", verbose=True
    )
    sk = SGDOptimizer([np.zeros(3)], learning_rate_init=1e-3, lr_schedule="adaptive")
    unit = np.array([True, False, True])
    go_on = []
    while True:
        ours = opt.stalled(unit)
        theirs = not sk.trigger_stopping("", verbose=False)
        assert ours == theirs
        go_on.append(ours)
        if not ours:
            break
        assert opt.group_lr[0] == opt.group_lr[2] == sk.learning_rate
        assert opt.group_lr[1] == 1e-3  # another unit: untouched
    # 1e-3 / 5**k > 1e-6 for k <= 4: five divisions, then stop.
    assert go_on == [True] * 5 + [False]
    assert opt.group_lr[0] == pytest.approx(1e-3 / 5**5)
    assert opt.group_lr[0] < ADAPTIVE_MIN_LR
    out = capsys.readouterr().out
    assert out.count("Setting learning rate to") == 5
    # Refusing to go on changes nothing.
    before = opt.group_lr.copy()
    assert not opt.stalled(unit)
    np.testing.assert_array_equal(opt.group_lr, before)


@pytest.mark.parametrize(
    "solver,schedule",
    [("adam", "adaptive"), ("sgd", "constant"), ("sgd", "invscaling")],
)
def test_only_sgd_adaptive_goes_on(solver, schedule):
    opt = Optimizer(solver, 10, 2, np.float64, 0.01, learning_rate=schedule)
    assert not opt.stalled(np.array([True, False]))
    np.testing.assert_array_equal(opt.group_lr, 0.01)


def test_estimator_rate_is_sklearns_after_fit_and_partial_fit():
    """Through the estimators: the fitted ``_group_lr`` is the rate sklearn's
    MLPClassifier ends with ('invscaling' and 'adaptive')."""
    X, Y = make_multilabel_classification(n_samples=90, n_classes=3, random_state=0)
    X = X / X.max()
    common = dict(
        hidden_layer_sizes=(5,),
        solver="sgd",
        random_state=0,
        batch_size=30,
        alpha=1e-4,
        learning_rate_init=0.1,
    )
    for extra in (
        dict(learning_rate="invscaling", power_t=0.4, max_iter=6, tol=0.0),
        dict(learning_rate="adaptive", max_iter=60, tol=0.05, n_iter_no_change=2),
    ):
        params = {**common, **extra}
        sk = MLPClassifier(**params).fit(X, Y)
        mh = MultiHeadMLPClassifier(cv=None, early_stopping=False, **params).fit(X, Y)
        assert mh.n_iter_ == sk.n_iter_ and mh.t_ == sk.t_
        assert mh._group_lr[0] == sk._optimizer.learning_rate
        if extra["learning_rate"] == "adaptive":
            assert mh._group_lr[0] < common["learning_rate_init"]  # it was lowered
        sk.partial_fit(X, Y)
        mh.partial_fit(X, Y)
        assert mh._group_lr[0] == sk._optimizer.learning_rate


# --------------------------------------------------------------------------------
# What the kernels get
# --------------------------------------------------------------------------------


def test_hyper_vector():
    opt = Optimizer(
        "adam",
        10,
        3,
        np.float32,
        0.01,
        alpha=0.25,
        beta_1=0.8,
        beta_2=0.99,
        epsilon=1e-7,
        momentum=0.7,
    )
    assert opt.hyper.dtype == np.float64
    expected = {K.H_ALPHA: 0.25, K.H_BETA1: 0.8, K.H_BETA2: 0.99}
    expected.update({K.H_EPS: 1e-7, K.H_MOMENTUM: 0.7})
    assert opt.hyper.shape == (K.H_GROUP_ALPHA,)
    for pos, value in expected.items():
        assert opt.hyper[pos] == value
    assert opt.moments.shape == (2, 10) and opt.moments.dtype == np.float32
    assert opt.solver == K.ADAM and opt.t == 0

    # One alpha per group: the kernels scale an alpha of 1 by each.
    per_group = Optimizer(
        "sgd", 10, 3, np.float64, 0.01, alpha=0.25, group_alpha=[1e-4, 1e-2, 1.0]
    )
    assert per_group.hyper[K.H_ALPHA] == 1.0
    np.testing.assert_array_equal(per_group.hyper[K.H_GROUP_ALPHA :], [1e-4, 1e-2, 1.0])
    assert per_group.moments.shape == (1, 10) and per_group.solver == K.SGD


def test_adam_bias_correction_is_sklearns():
    """Each Adam step moves the weights by ``lr * scale * m / (sqrt(v) + eps)``
    with sklearn's ``AdamOptimizer`` scale ``sqrt(1 - beta_2**t) / (1 -
    beta_1**t)`` at the step count t -- which keeps counting across a rebuilt
    optimizer (``partial_fit``)."""
    X, Y = _problem()
    plan, params = _plan_and_params()
    runner = _runner(X, Y, plan, batch_size=X.shape[0])  # one step per epoch
    lr, b1, b2, eps = 0.01, 0.8, 0.95, 1e-8
    kw = dict(alpha=1e-3, beta_1=b1, beta_2=b2, epsilon=eps)
    opt = Optimizer("adam", plan.n_params, plan.n_groups, np.float64, lr, **kw)
    sk = AdamOptimizer([np.zeros(1)], lr, b1, b2, eps)
    for epoch in range(6):
        if epoch == 3:  # as partial_fit: a new optimizer from the exported state
            state = pickle.loads(pickle.dumps(opt.state()))
            opt = Optimizer(
                "adam",
                plan.n_params,
                plan.n_groups,
                np.float64,
                lr,
                previous=state,
                **kw,
            )
        before = params.copy()
        _epochs(opt, runner, params, 1, seed=epoch)
        sk.update_params([np.zeros(1)], [np.zeros(1)])  # t += 1, sets learning_rate
        assert opt.t == sk.t == epoch + 1
        m, v = opt.moments
        direction = m / (np.sqrt(v) + eps)
        moved = np.abs(direction) > 1e-3
        assert moved.sum() > plan.n_params // 2
        step = (before - params)[moved] / direction[moved]
        np.testing.assert_allclose(step, sk.learning_rate, rtol=1e-9)
        assert sk.learning_rate != pytest.approx(lr)  # the correction is not 1


# --------------------------------------------------------------------------------
# The exported state
# --------------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_state_round_trip_equals_continuing(solver):
    """Two epochs, export, a new optimizer from the exported state, three more:
    bit for bit what five epochs of one optimizer give (weights, moments, step
    count, rates, samples seen)."""
    X, Y = _problem(n=30)
    plan, params = _plan_and_params()
    runner = _runner(X, Y, plan, batch_size=8)  # 4 steps per epoch
    kw = dict(learning_rate="adaptive", alpha=1e-3, momentum=0.8)

    def make(previous=None, samples_seen=0):
        return Optimizer(
            solver,
            plan.n_params,
            plan.n_groups,
            np.float64,
            0.05,
            previous=previous,
            samples_seen=samples_seen,
            **kw,
        )

    whole = make()
    p_whole = params.copy()
    _epochs(whole, runner, p_whole, 2, seed=0)
    if solver == "sgd":
        assert whole.stalled(np.ones(plan.n_groups, bool))  # a rate to carry over
    _epochs(whole, runner, p_whole, 3, seed=1)

    first = make()
    p = params.copy()
    _epochs(first, runner, p, 2, seed=0)
    if solver == "sgd":
        first.stalled(np.ones(plan.n_groups, bool))
    state = first.state()
    assert set(state) == {"moments", "t", "group_lr"}
    assert type(state["t"]) is int and state["t"] == 8
    saved = {k: np.copy(v) for k, v in state.items()}
    second = make(previous=pickle.loads(pickle.dumps(state)), samples_seen=60)
    _epochs(second, runner, p, 3, seed=1)

    np.testing.assert_array_equal(p, p_whole)
    np.testing.assert_array_equal(second.moments, whole.moments)
    np.testing.assert_array_equal(second.group_lr, whole.group_lr)
    assert second.t == whole.t == 20
    assert second.samples_seen == whole.samples_seen == 150
    # The exported arrays were copied, not continued in place.
    for key, value in saved.items():
        np.testing.assert_array_equal(state[key], value)


def test_mismatched_previous_state_starts_fresh():
    previous = Optimizer("adam", 10, 2, np.float64, 0.01)
    previous.moments[:] = 1.0
    previous.t = 7
    previous.group_lr[:] = 0.5
    state = previous.state()
    for solver, n_params, dtype in (
        ("sgd", 10, np.float64),  # one moment array, not two
        ("adam", 12, np.float64),  # another network
        ("adam", 10, np.float32),  # another dtype
    ):
        opt = Optimizer(solver, n_params, 2, dtype, 0.01, previous=state)
        assert opt.t == 0 and not opt.moments.any()
        np.testing.assert_array_equal(opt.group_lr, 0.01)
    same = Optimizer("adam", 10, 2, np.float64, 0.01, previous=state)
    assert same.t == 7 and np.all(same.moments == 1.0)
    np.testing.assert_array_equal(same.group_lr, 0.5)


@pytest.mark.parametrize("Est", [MultiHeadMLPClassifier, BinaryRelevanceMLPClassifier])
def test_estimator_keeps_exported_state_only(Est):
    """The fitted estimator holds the optimizer's exported arrays (no Optimizer
    object), and partial_fit continues from them: the step count grows by the
    batches of the call and the adaptive rates of the fit are kept."""
    X, Y = make_multilabel_classification(n_samples=80, n_classes=3, random_state=1)
    est = Est(
        hidden_layer_sizes=(4,),
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=0.1,
        tol=0.05,
        n_iter_no_change=1,
        max_iter=40,
        batch_size=20,
        cv=None,
        early_stopping=False,
        random_state=0,
    ).fit(X / X.max(), Y)
    assert not any(isinstance(v, Optimizer) for v in vars(est).values())
    assert isinstance(est._opt_state, np.ndarray) and type(est._adam_t) is int
    assert est._opt_state.shape == (1, est._plan.n_params)
    assert est._group_lr.shape == (est._plan.n_groups,)
    assert est._group_lr.min() < 0.1  # lowered by the adaptive schedule
    assert est._adam_t == 4 * int(np.max(est.n_iter_))
    lr, t = est._group_lr.copy(), est._adam_t
    est.partial_fit(X / X.max(), Y)
    np.testing.assert_array_equal(est._group_lr, lr)
    assert est._adam_t == t + 4
