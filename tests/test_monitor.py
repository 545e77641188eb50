"""The per-epoch bookkeeping of a fit (``_monitor._Monitor``), driven with
scripted losses: the FitRecord it returns (curves, ``n_iter_``, best losses),
stopping per unit, early stopping with the best weights of each unit restored,
and that it never writes to the estimator."""

import copy
import dataclasses

import numpy as np
import pytest
from sklearn.datasets import make_multilabel_classification

from skmultihead import BinaryRelevanceMLPClassifier, MultiHeadMLPClassifier, _monitor
from skmultihead._monitor import FitRecord, _Monitor
from skmultihead._optimizer import Optimizer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _fitted(Est, **params):
    X, Y = make_multilabel_classification(
        n_samples=60, n_features=6, n_classes=3, random_state=0
    )
    base = dict(
        hidden_layer_sizes=(4,),
        max_iter=2,
        random_state=0,
        cv=None,
        alpha=1e-4,
        early_stopping=False,
        threshold=0.5,
    )
    return Est(**{**base, **params}).fit(X / X.max(), Y)


def _monitor_of(est, val=None, incremental=False, warm=False):
    """A monitor continuing ``est``'s record; unless ``warm``, without the best
    losses of its fit (as a new fit: nothing to compare with)."""
    params = est._params.copy()
    previous = FitRecord.of(est)
    if not warm:
        previous = dataclasses.replace(previous, unit_best_loss=None)
    monitor = _Monitor(
        est, est._layout, params, val, incremental, previous, est._act_code
    )
    return monitor, params


def _optimizer(est, **kw):
    return Optimizer(
        "sgd", est._plan.n_params, est._plan.n_groups, np.float64, 0.1, **kw
    )


def _state(est):
    """A deep copy of everything on the estimator."""
    return copy.deepcopy({k: v for k, v in vars(est).items() if k != "_layout_cache"})


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], np.ndarray):
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        elif key != "_random_state":
            assert a[key] == b[key], key


def test_record_continues_the_curves_and_leaves_the_estimator_alone():
    est = _fitted(MultiHeadMLPClassifier)
    before = _state(est)
    curve = est.loss_curve_
    monitor, _ = _monitor_of(est)
    opt = _optimizer(est)
    L = est.n_outputs_
    for total in (3.0, 2.0, 1.5):
        label_loss = np.full(L, (total - 0.3) / L)
        assert monitor.end_epoch(label_loss, np.array([0.3]), opt)
    record = monitor.finish()
    _assert_same_state(_state(est), before)  # nothing written
    assert est.loss_curve_ is curve and len(curve) == 2
    assert isinstance(record, FitRecord)
    assert record.loss_curve[:2] == curve
    np.testing.assert_allclose(record.loss_curve[2:], [3.0, 2.0, 1.5], rtol=1e-15)
    assert record.loss == record.loss_curve[-1]
    assert record.best_loss == min(before["best_loss_"], record.loss)
    assert record.n_iter == 3  # this fit's epochs (a fit, not a partial_fit)
    np.testing.assert_allclose(record.unit_best_loss, [1.5], rtol=1e-15)
    assert record.validation_scores is None and record.best_validation_score is None


def test_incremental_record_adds_epochs_and_keeps_unit_best_loss():
    est = _fitted(BinaryRelevanceMLPClassifier)
    monitor, _ = _monitor_of(est, incremental=True, warm=True)
    L = est.n_outputs_
    monitor.end_epoch(np.ones(L), np.zeros(est._plan.n_groups), _optimizer(est))
    record = monitor.finish()
    np.testing.assert_array_equal(record.n_iter, est.n_iter_ + 1)
    assert record.unit_best_loss is est._unit_best_loss
    assert len(record.loss_curve) == len(est.loss_curve_) + 1


def test_no_epoch_keeps_the_previous_values():
    """An interrupted first epoch: the record is the previous state."""
    est = _fitted(MultiHeadMLPClassifier)
    monitor, _ = _monitor_of(est, incremental=True)
    record = monitor.finish()
    assert record.loss_curve == est.loss_curve_
    assert record.loss == est.loss_ and record.n_iter == est.n_iter_


def test_per_label_units_stop_on_their_own():
    """Binary relevance without early stopping: each label is a unit. A label
    whose loss stops improving by ``tol`` is frozen after ``n_iter_no_change``
    + 1 such epochs; the others go on; ``n_iter_`` counts each label's epochs."""
    est = _fitted(BinaryRelevanceMLPClassifier, tol=0.1, n_iter_no_change=2)
    monitor, _ = _monitor_of(est)
    opt = _optimizer(est)
    n_groups = est._plan.n_groups
    assert monitor.n_units == n_groups == 3
    for epoch in range(8):
        improving = 5.0 - epoch  # label 0
        flat = 2.0 - 0.01 * epoch  # label 1: improves by less than tol
        slow = 3.0 if epoch < 5 else 3.0 - 0.05 * epoch  # label 2: flat, stops
        go_on = monitor.end_epoch(np.array([improving, flat, slow]), np.zeros(3), opt)
        if epoch == 3:
            # Labels 1 and 2: epoch 0 sets their best, epochs 1-3 do not improve.
            np.testing.assert_array_equal(monitor.frozen, [False, True, True])
        assert go_on
    record = monitor.finish()
    np.testing.assert_array_equal(record.n_iter, [8, 4, 4])
    assert len(record.loss_curve) == len(est.loss_curve_) + 8
    # The best loss follows every decrease, by tol or not, while a unit trains.
    np.testing.assert_allclose(record.unit_best_loss, [5.0 - 7, 2.0 - 0.03, 3.0])
    np.testing.assert_array_equal(opt.group_lr, 0.1)  # 'constant': no change


def test_warm_start_compares_with_the_previous_best_loss():
    """As MLPClassifier's warm start: a unit whose loss stays above its best
    loss of the previous fit counts as not improving from the first epoch."""
    est = _fitted(BinaryRelevanceMLPClassifier, tol=0.0, n_iter_no_change=1)
    previous_best = est._unit_best_loss.copy()
    monitor, _ = _monitor_of(est, warm=True)
    opt = _optimizer(est)
    losses = previous_best + np.array([-0.5, 0.5, 0.5])  # label 0 improves
    for epoch in range(2):
        assert monitor.end_epoch(losses - 0.1 * epoch, np.zeros(3), opt)
    np.testing.assert_array_equal(monitor.frozen, [False, True, True])
    record = monitor.finish()
    np.testing.assert_array_equal(record.n_iter, [2, 2, 2])
    np.testing.assert_allclose(
        record.unit_best_loss, [previous_best[0] - 0.6, *previous_best[1:]]
    )
    # Without the previous best (a new fit), all three would still train.
    monitor, _ = _monitor_of(est)
    for epoch in range(2):
        monitor.end_epoch(losses - 0.1 * epoch, np.zeros(3), _optimizer(est))
    assert not monitor.frozen.any()


def test_adaptive_lowers_only_the_stalled_units_rate():
    """With SGD and 'adaptive', the stalled label goes on with its rate / 5."""
    est = _fitted(
        BinaryRelevanceMLPClassifier,
        tol=0.1,
        n_iter_no_change=1,
        solver="sgd",
        learning_rate="adaptive",
    )
    monitor, _ = _monitor_of(est)
    opt = _optimizer(est, learning_rate="adaptive")
    for epoch in range(3):
        losses = np.array([5.0 - epoch, 2.0, 3.0 - epoch])
        assert monitor.end_epoch(losses, np.zeros(3), opt)
    np.testing.assert_allclose(opt.group_lr, [0.1, 0.02, 0.1], rtol=1e-15)
    assert not monitor.frozen.any()
    assert monitor.no_improvement[1] == 0  # its patience starts again


def test_all_units_stopped_ends_the_fit():
    est = _fitted(MultiHeadMLPClassifier, tol=0.0, n_iter_no_change=1)
    monitor, _ = _monitor_of(est)
    opt = _optimizer(est)
    L = est.n_outputs_
    results = [monitor.end_epoch(np.ones(L), np.zeros(1), opt) for _ in range(3)]
    assert results == [True, True, False]
    assert monitor.finish().n_iter == 3


def test_divergence_raises_and_leaves_the_estimator_alone():
    est = _fitted(MultiHeadMLPClassifier)
    before = _state(est)
    monitor, _ = _monitor_of(est)
    monitor.reference_loss = 2.0
    L = est.n_outputs_
    opt = _optimizer(est)
    assert monitor.end_epoch(np.ones(L), np.zeros(1), opt)
    with pytest.raises(ValueError, match=r"epoch 4 .*learning rate 0\.1"):
        monitor.end_epoch(np.full(L, 1e7), np.zeros(1), opt)
    _assert_same_state(_state(est), before)


def test_early_stopping_restores_each_members_best_weights(monkeypatch):
    """Two members stop on their own validation loss: member 0 is best at epoch
    3 and stops three epochs later, member 1 improves to the end. finish()
    restores each member's best weights (epoch 3 and the last epoch) and the
    record holds the validation curves of every epoch."""
    est = _fitted(
        MultiHeadMLPClassifier,
        n_members=2,
        early_stopping=True,
        tol=0.0,
        n_iter_no_change=2,
    )
    M, L = 2, est.n_outputs_
    n_val = 5
    # Validation targets all 1: a larger logit is a smaller loss. Member 0's
    # logits rise to epoch 3 then fall; member 1's rise every epoch.
    script = {0: [1, 2, 3, 2, 1, 0, 0, 0], 1: [1, 2, 3, 4, 5, 6, 7, 8]}
    epoch = {"i": 0}

    def predict_raw(Xv, params, plan, act_code, sigmoid, n_threads, skip=None):
        i = epoch["i"]
        z = np.repeat([script[0][i], script[1][i]], L).astype(np.float64)
        return np.tile(z, (Xv.shape[0], 1))

    monkeypatch.setattr(_monitor, "predict_raw", predict_raw)
    Xv = np.zeros((n_val, est.n_features_in_))
    val = (Xv, np.ones((n_val, M * L)), None, np.ones(n_val), 1.0 / M)
    monitor, params = _monitor_of(est, val=val)
    assert monitor.early_stopping and monitor.n_units == M
    opt = _optimizer(est)
    owner_unit = monitor.unit_of_group[est._plan.owner]
    for i in range(8):
        epoch["i"] = i
        params[:] = i + 1.0  # the weights "trained" in epoch i
        assert monitor.end_epoch(np.ones(M * L), np.zeros(M), opt)
        assert monitor.frozen[0] == (i >= 5)  # best at i=2, then 3 worse epochs
    record = monitor.finish()
    np.testing.assert_array_equal(params[owner_unit == 0], 3.0)
    np.testing.assert_array_equal(params[owner_unit == 1], 8.0)
    assert record.n_iter == 8
    new = record.validation_loss_curve[len(est.validation_loss_curve_) :]
    assert len(new) == 8
    expected = [
        np.mean([np.log1p(np.exp(-script[m][i])) * L for m in range(M)])
        for i in range(8)
    ]
    np.testing.assert_allclose(new, expected, rtol=1e-12)
    scores = record.validation_scores[len(est.validation_scores_) :]
    np.testing.assert_allclose(scores, -np.array(new), rtol=1e-15)
    assert record.best_validation_score == max(record.validation_scores)
    assert record.best_loss is None  # not tracked with early stopping
    assert record.unit_best_loss is est._unit_best_loss  # kept as it was


def test_cross_fitted_tol_is_on_each_members_own_rows(monkeypatch):
    """Under cross-fitting each member is validated on its fold's rows only
    (its targets NaN on the others), and ``tol`` is an improvement of that loss
    -- not of its share of the loss over all rows (k times smaller for k
    folds)."""
    delta = 0.01  # improvement of each output's loss on its own rows, per epoch
    est = _fitted(MultiHeadMLPClassifier, n_members=2, early_stopping=True)
    M, L = 2, est.n_outputs_
    est.set_params(tol=0.75 * L * delta, n_iter_no_change=1)
    n_val = 4
    folds = np.array([0, 0, 1, 1])
    Yv = np.full((n_val, M * L), np.nan)
    for m in range(M):
        Yv[folds == m, m * L : (m + 1) * L] = 1.0
    sw = np.ones(n_val)
    scale = sw.sum() / 2.0 / M  # each fold holds half of the weight
    epoch = {"i": 0}

    def predict_raw(Xv, params, plan, act_code, sigmoid, n_threads, skip=None):
        # softplus(-z) of a logit z: a large first improvement (patience starts
        # once the loss has improved), then delta per epoch
        loss = 0.9 if epoch["i"] == 0 else 0.7 - delta * epoch["i"]
        z = -np.log(np.expm1(loss))
        return np.full((Xv.shape[0], M * L), z)

    monkeypatch.setattr(_monitor, "predict_raw", predict_raw)
    Xv = np.zeros((n_val, est.n_features_in_))
    val = (Xv, Yv, None, sw, np.full(M * L, scale))
    monitor, params = _monitor_of(est, val=val)
    opt = _optimizer(est)
    for i in range(6):
        epoch["i"] = i
        assert monitor.end_epoch(np.ones(M * L), np.zeros(M), opt)
    assert not monitor.frozen.any()
    new = monitor.finish().validation_loss_curve[len(est.validation_loss_curve_) :]
    np.testing.assert_allclose(np.diff(new)[1:], -delta * L, rtol=1e-9)


@pytest.mark.parametrize("fast", [False, True])
def test_race_freezes_a_candidate_that_cannot_overtake(monkeypatch, fast):
    """Two alpha candidates, one member each, validated on the same rows.
    Candidate 0 leads; candidate 1 is far behind and improves every epoch (it
    never stops on its own). Slowly: even going on at its recent rate until
    max_iter it stays above the leader, so it is frozen once its rate is known
    (n_iter_no_change epochs after the first); fast enough to catch up: it is
    left to train. The leader is never eliminated."""
    window, max_iter = 2, 20
    est = _fitted(
        MultiHeadMLPClassifier,
        n_members=2,
        early_stopping=True,
        tol=0.0,
        n_iter_no_change=window,
    )
    est.set_params(max_iter=max_iter)
    M, L = 2, est.n_outputs_
    step = 0.05 if fast else 0.001
    # each output's loss on the validation rows, per epoch
    script = {0: lambda i: 0.5 - 0.01 * i, 1: lambda i: 1.0 - step * i}
    epoch = {"i": 0}

    def predict_raw(Xv, params, plan, act_code, sigmoid, n_threads, skip=None):
        i = epoch["i"]
        loss = np.repeat([script[0](i), script[1](i)], L)
        z = -np.log(np.expm1(loss))  # softplus(-z) == loss for targets 1
        return np.tile(z, (Xv.shape[0], 1))

    monkeypatch.setattr(_monitor, "predict_raw", predict_raw)
    n_val = 3
    Xv = np.zeros((n_val, est.n_features_in_))
    val = (Xv, np.ones((n_val, M * L)), None, np.ones(n_val), 1.0 / M)
    monitor, _ = _monitor_of(est, val=val)
    G = est._layout.groups_per_member
    monitor.race(np.arange(est._plan.n_groups) // G)
    assert monitor.candidate_of_unit.tolist() == [0, 1]
    opt = _optimizer(est)
    for i in range(6):
        epoch["i"] = i
        assert monitor.end_epoch(np.ones(M * L), np.zeros(M), opt)
        # the rate over `window` epochs is known after window + 1 epochs
        eliminated = not fast and i >= window
        assert monitor.eliminated.tolist() == [False, eliminated]
        assert monitor.frozen.tolist() == [False] * G + [eliminated] * G
    # Its held-out loss and its bound at the elimination: 1.0 - 0.002 per
    # output, and 0.998 - 0.001 * (max_iter - 3) = 0.981 > the leader's 0.48.


def test_race_needs_several_candidates_and_each_members_loss(monkeypatch):
    """No race with one candidate, without early stopping, or with a scorer
    (one unit for the whole ensemble)."""
    est = _fitted(MultiHeadMLPClassifier, n_members=2, early_stopping=True)
    L = est.n_outputs_
    val = (
        np.zeros((3, est.n_features_in_)),
        np.ones((3, 2 * L)),
        None,
        np.ones(3),
        0.5,
    )
    G = est._layout.groups_per_member
    monitor, _ = _monitor_of(est, val=val)
    monitor.race(np.zeros(est._plan.n_groups, dtype=int))
    assert monitor.eliminated is None
    monitor, _ = _monitor_of(est)  # no validation data: no early stopping
    monitor.race(np.arange(est._plan.n_groups) // G)
    assert monitor.eliminated is None
    est.set_params(scoring="f1_micro")
    monitor, _ = _monitor_of(est, val=val)
    monitor.race(np.arange(est._plan.n_groups) // G)
    assert monitor.eliminated is None
