"""Reliability: numerical faults, interrupts, determinism, concurrency, memory and
read-only installations. Nothing a failed call touches may be lost.

* Numerical faults: an absurd learning rate stops with a clear ValueError and a
  failed warm-start fit / partial_fit leaves the previous model exactly as it
  was (weights, curves, counters, random stream); extreme logits and huge
  inputs never give NaN probabilities; sample weights of any positive scale
  train the same model.
* KeyboardInterrupt inside an epoch: a warning, the last complete epoch is
  kept, and the model is usable and self-consistent.
* Determinism: bitwise-identical weights and probabilities across n_threads,
  pickling and a fresh process with a warm Numba cache.
* Concurrency: predict_proba from 4 Python threads at once equals serial calls.
* Bounded memory: predicting 10^6 rows costs the output plus a few blocks of
  512 rows (tracemalloc for NumPy's allocations, peak RSS in a subprocess for
  everything else).
* Read-only installation: no usable Numba cache locator -> a RuntimeWarning at
  import and in-memory compilation; a chmod-read-only copy of the package
  imports and fits.
"""

import copy
import functools
import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
import tracemalloc
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.datasets import make_multilabel_classification
from threadpoolctl import threadpool_info

import skmultihead
from skmultihead import (
    SKLEARN_PARITY,
    BinaryRelevanceMLPClassifier,
    MultiHeadMLPClassifier,
    _engine,
)

pytestmark = [
    pytest.mark.usefixtures("sklearn_parity_defaults"),
    pytest.mark.filterwarnings(
        "ignore::sklearn.exceptions.ConvergenceWarning",
        "ignore:Labels .* are constant:UserWarning",
    ),
]

ESTIMATORS = [MultiHeadMLPClassifier, BinaryRelevanceMLPClassifier]
EST_IDS = ["MH", "BR"]
ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]
PACKAGE_DIR = os.path.dirname(os.path.abspath(skmultihead.__file__))


@functools.cache
def _cached_data(n_samples, n_features, n_classes):
    X, Y = make_multilabel_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_classes=n_classes,
        random_state=0,
    )
    return X / X.max(), Y


def _data(n_samples=200, n_features=10, n_classes=4):
    X, Y = _cached_data(n_samples, n_features, n_classes)
    return X.copy(), Y.copy()


def _params(est):
    return [a.copy() for a in est.coefs_ + est.intercepts_]


def _same_params(a, b):
    pa = a if isinstance(a, list) else _params(a)
    pb = b if isinstance(b, list) else _params(b)
    return len(pa) == len(pb) and all(np.array_equal(u, v) for u, v in zip(pa, pb))


def _snapshot(est):
    """Everything a failed call must leave untouched."""
    return {
        "params": _params(est),
        "loss_curve_": list(est.loss_curve_),
        "n_iter_": copy.deepcopy(est.n_iter_),
        "t_": est.t_,
        "threshold_": est.threshold_.copy(),
        "best_loss_": est.best_loss_,
        "rng": _rng_state(est),
    }


def _rng_state(est):
    _, key, pos, has_gauss, gauss = est._random_state.get_state()
    return np.concatenate([key.astype(np.float64), [pos, has_gauss, gauss]])


def _assert_unchanged(est, snap, X):
    assert _same_params(est, snap["params"]), "weights changed"
    assert est.loss_curve_ == snap["loss_curve_"]
    np.testing.assert_array_equal(est.n_iter_, snap["n_iter_"])
    assert est.t_ == snap["t_"]
    np.testing.assert_array_equal(est.threshold_, snap["threshold_"])
    assert est.best_loss_ == snap["best_loss_"]
    np.testing.assert_array_equal(
        _rng_state(est), snap["rng"], err_msg="random stream moved"
    )
    assert np.all(np.isfinite(est.predict_proba(X)))


# ==============================================================================
# Numerical faults
# ==============================================================================


@pytest.mark.parametrize("batch_size", [20, "auto"])
@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_huge_learning_rate_stops_with_clear_error(Est, solver, batch_size):
    """learning_rate_init=1e6 diverges (losses of 1e8..1e60): a ValueError, not a
    silently useless model."""
    X, Y = _data()
    est = Est(
        hidden_layer_sizes=(16,),
        solver=solver,
        learning_rate_init=1e6,
        batch_size=batch_size,
        max_iter=30,
        random_state=0,
    )
    with pytest.raises(ValueError, match="learning rate"):
        est.fit(X, Y)
    assert not est.__sklearn_is_fitted__()


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_huge_learning_rate_warm_start_keeps_previous_model(Est, solver):
    X, Y = _data()
    est = Est(
        hidden_layer_sizes=(16,),
        solver=solver,
        batch_size=20,
        max_iter=5,
        random_state=0,
    ).fit(X, Y)
    snap = _snapshot(est)
    P = est.predict_proba(X)
    est.set_params(warm_start=True, learning_rate_init=1e6)
    with pytest.raises(ValueError, match="learning rate"):
        est.fit(X, Y)
    _assert_unchanged(est, snap, X)
    np.testing.assert_array_equal(est.predict_proba(X), P)
    # Nothing lost: training goes on exactly as if the failed fit never happened.
    est.set_params(learning_rate_init=1e-3)
    ref = Est(
        hidden_layer_sizes=(16,),
        solver=solver,
        batch_size=20,
        max_iter=5,
        random_state=0,
    ).fit(X, Y)
    ref.set_params(warm_start=True)
    assert _same_params(est.fit(X, Y), ref.fit(X, Y))


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_huge_learning_rate_partial_fit_keeps_previous_model(Est, solver):
    """partial_fit keeps its optimizer, learning rate included, between calls
    (as MLPClassifier does), so the rate is set at the start. A first call on
    rows whose labels are all missing (NaN) has no gradient (alpha=0): it only
    sets the optimizer up. The next call diverges and must fail, leaving that
    model exactly as it was; a first call that diverges leaves nothing."""
    X, Y = _data()
    params = dict(
        hidden_layer_sizes=(16,),
        solver=solver,
        learning_rate_init=1e6,
        alpha=0.0,
        batch_size=20,
        random_state=0,
    )
    with pytest.raises(ValueError, match="learning rate"):
        Est(**params).partial_fit(X, Y)
    est = Est(**params).partial_fit(X, np.full(Y.shape, np.nan))
    snap = _snapshot(est)
    P = est.predict_proba(X)
    with pytest.raises(ValueError, match="learning rate"):
        est.partial_fit(X, Y)
    _assert_unchanged(est, snap, X)
    np.testing.assert_array_equal(est.predict_proba(X), P)


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_failed_partial_fit_does_not_consume_the_random_stream(Est, monkeypatch):
    """A partial_fit that fails after shuffling (any fault inside the epoch) must
    leave the shuffling stream where it was: the next partial_fit is the one that
    would have happened without the failed call."""
    X, Y = _data()

    def make():
        return Est(hidden_layer_sizes=(8,), batch_size=20, random_state=0).partial_fit(
            X, Y
        )

    est, ref = make(), make()
    snap = _snapshot(est)

    def fault(self, *args, **kwargs):
        raise FloatingPointError("simulated fault inside the epoch kernel")

    with monkeypatch.context() as m:
        m.setattr(_engine.EpochRunner, "run", fault)
        with pytest.raises(FloatingPointError):
            est.partial_fit(X, Y)
    _assert_unchanged(est, snap, X)
    assert _same_params(est.partial_fit(X, Y), ref.partial_fit(X, Y))


def _set_extreme_output_layer(est, big):
    """Positive hidden activations and +/-``big`` output weights and biases:
    label j's logit is about ``+big`` for even j, ``-big`` for odd j (or +/-inf
    once the sum overflows), never inf - inf."""
    coefs, intercepts = est.coefs_, est.intercepts_
    L = est.n_outputs_
    sign = np.where(np.arange(L) % 2 == 0, 1.0, -1.0)
    new_c = [np.abs(c) + 0.1 for c in coefs[:-1]]
    new_i = [np.zeros_like(b) for b in intercepts[:-1]]
    last_c, last_i = coefs[-1], intercepts[-1]
    if isinstance(est, BinaryRelevanceMLPClassifier):
        out_c = np.broadcast_to(sign[:, None, None] * big, last_c.shape)
        out_i = np.broadcast_to(sign[:, None] * big, last_i.shape)
    else:
        out_c = np.broadcast_to(sign[None, :] * big, last_c.shape)
        out_i = sign * big
    est.coefs_ = new_c + [out_c]
    est.intercepts_ = new_i + [out_i]
    return sign


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("hidden", [(), (4,), (4, 3)], ids=["h0", "h1", "h2"])
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_extreme_logits_never_give_nan(Est, hidden, dtype):
    X, Y = _data(n_samples=60, n_features=6, n_classes=4)
    est = Est(
        hidden_layer_sizes=hidden,
        activation="relu",
        max_iter=2,
        random_state=0,
        dtype=dtype,
    ).fit(X, Y)
    finfo = np.finfo(dtype)
    X_big = np.tile(X, (25, 1))  # 1500 rows: several parallel blocks
    for big in (50.0, 1e4, float(finfo.max) ** 0.5, float(finfo.max) / 4):
        sign = _set_extreme_output_layer(est, big)
        for n in (3, 40, 1500):  # serial loops, BLAS, parallel blocks
            Xp = X_big[:n]
            P = est.predict_proba(Xp)
            assert P.dtype == np.dtype(dtype)
            assert not np.isnan(P).any(), (big, n)
            assert np.all((P >= 0) & (P <= 1))
            Z = est.decision_function(Xp)
            assert not np.isnan(Z).any()
            assert np.all(np.sign(Z) == sign)
            logP = est.predict_log_proba(Xp)
            assert not np.isnan(logP).any() and np.all(logP <= 0)
            np.testing.assert_array_equal(
                est.predict(Xp), np.broadcast_to(sign > 0, P.shape).astype(int)
            )
            if big >= 1e4:
                np.testing.assert_array_equal(P, np.broadcast_to(sign > 0, P.shape))


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_huge_inputs_do_not_give_nan(Est, activation):
    X, Y = _data(n_samples=60, n_features=6, n_classes=4)
    est = Est(
        hidden_layer_sizes=(8, 8), activation=activation, max_iter=3, random_state=0
    ).fit(X, Y)
    rng = np.random.RandomState(1)
    for scale in (1e150, 1e300):
        for n in (3, 40, 1500):
            X_huge = scale * np.where(rng.rand(n, 6) < 0.5, -1.0, 1.0)
            P = est.predict_proba(X_huge)
            assert not np.isnan(P).any(), (scale, n)
            assert np.all((P >= 0) & (P <= 1))
            assert not np.isnan(est.predict_log_proba(X_huge)).any()
    # A float32 model cannot represent 1e150: a clear error, not inf/NaN.
    est32 = Est(hidden_layer_sizes=(4,), max_iter=2, random_state=0, dtype="float32")
    est32.fit(X, Y)
    with pytest.raises(ValueError, match="too large"):
        est32.predict_proba(np.full((3, 6), 1e150))


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_fit_on_huge_inputs_fails_clearly_or_gives_finite_model(Est):
    X, Y = _data(n_samples=60, n_features=6, n_classes=4)
    est = Est(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    try:
        est.fit(X * 1e150, Y)
    except ValueError as exc:
        assert "large" in str(exc)
        assert not est.__sklearn_is_fitted__()
    else:
        assert np.all(np.isfinite(est.predict_proba(X * 1e150)))


@pytest.mark.parametrize(
    "dtype, scale, alpha",
    [
        ("float64", 2.0**-10, 1e-4),  # in range: holds today
        ("float64", 2.0**10, 1e-4),
        ("float32", 2.0**-10, 1e-4),
        ("float64", 2.0**1020, 1e-4),  # the weight sums overflow float64
        ("float64", 2.0**1020, 0.0),
        ("float32", 2.0**130, 0.0),  # the weights overflow float32
        ("float32", 2.0**-160, 0.0),  # the weights underflow float32 (become 0)
    ],
    ids=lambda v: f"{v:g}" if isinstance(v, float) else v,
)
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_sample_weight_scale_follows_the_objective(Est, dtype, scale, alpha):
    """sample_weight are frequency weights (MLPClassifier's objective: weighted
    mean loss + alpha * ||W||^2 / (2 * sum of the batch's weights)), so uniform
    weights ``c`` are the unit-weight model with ``alpha / c``. For a power of two
    ``c`` that is exact, and it must hold for every finite positive ``c``: not a
    NaN loss blamed on the learning rate when the sums overflow, not a model that
    silently never trains when the weights underflow the model's dtype."""
    X, Y = _data(n_samples=60, n_features=6, n_classes=4)
    params = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0, dtype=dtype)
    ref = Est(alpha=alpha / scale, **params).fit(X, Y)
    est = Est(alpha=alpha, **params).fit(X, Y, sample_weight=np.full(len(X), scale))
    assert _same_params(est, ref)
    np.testing.assert_array_equal(est.predict_proba(X), ref.predict_proba(X))


# ==============================================================================
# KeyboardInterrupt
# ==============================================================================


def _interrupt_at(monkeypatch, epoch):
    """Make the ``epoch``-th call of the epoch kernel raise KeyboardInterrupt."""
    original = _engine.EpochRunner.run
    calls = {"n": 0}

    def run(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == epoch:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(_engine.EpochRunner, "run", run)
    return calls


@pytest.mark.parametrize("early_stopping", [False, True], ids=["plain", "early"])
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_keyboard_interrupt_keeps_last_complete_epoch(Est, early_stopping, monkeypatch):
    X, Y = _data()
    params = dict(
        hidden_layer_sizes=(8,),
        max_iter=10,
        random_state=0,
        early_stopping=early_stopping,
        n_iter_no_change=50,
    )
    with monkeypatch.context() as m:
        _interrupt_at(m, 3)
        with pytest.warns(UserWarning, match="Training interrupted by user."):
            est = Est(**params).fit(X, Y)
    # The model of the two complete epochs, bit for bit.
    ref = Est(**dict(params, max_iter=2)).fit(X, Y)
    assert _same_params(est, ref)
    np.testing.assert_array_equal(est.predict_proba(X), ref.predict_proba(X))
    # Consistent bookkeeping.
    np.testing.assert_array_equal(est.n_iter_, 2)
    assert len(est.loss_curve_) == 2 and est.loss_ == est.loss_curve_[-1]
    assert est.loss_curve_ == ref.loss_curve_ and est.t_ == ref.t_
    if early_stopping:
        assert len(est.validation_scores_) == 2
        assert est.best_validation_score_ == max(est.validation_scores_)
    # Usable: predicts, and training can go on.
    assert est.predict(X).shape == Y.shape
    est.partial_fit(X, Y)
    np.testing.assert_array_equal(est.n_iter_, 3)


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_keyboard_interrupt_in_first_epoch(Est, monkeypatch):
    X, Y = _data()
    with monkeypatch.context() as m:
        _interrupt_at(m, 1)
        with pytest.warns(UserWarning, match="Training interrupted by user."):
            est = Est(hidden_layer_sizes=(8,), max_iter=10, random_state=0).fit(X, Y)
    np.testing.assert_array_equal(est.n_iter_, 0)
    assert est.loss_curve_ == [] and est.t_ == 0
    P = est.predict_proba(X)
    assert P.shape == Y.shape and np.all(np.isfinite(P))


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_keyboard_interrupt_in_partial_fit(Est, monkeypatch):
    """An interrupted partial_fit ran no complete epoch: nothing may change,
    n_iter_ included (n_iter_ must keep matching loss_curve_ and t_)."""
    X, Y = _data()
    est = Est(hidden_layer_sizes=(8,), batch_size=20, random_state=0)
    est.partial_fit(X, Y)
    snap = _snapshot(est)
    with monkeypatch.context() as m:
        _interrupt_at(m, 1)
        with pytest.warns(UserWarning, match="Training interrupted by user."):
            est.partial_fit(X, Y)
    assert _same_params(est, snap["params"])
    assert est.loss_curve_ == snap["loss_curve_"] and est.t_ == snap["t_"]
    np.testing.assert_array_equal(est.n_iter_, snap["n_iter_"])
    np.testing.assert_array_equal(est.n_iter_, len(est.loss_curve_))
    assert est.predict(X).shape == Y.shape


# ==============================================================================
# Determinism
# ==============================================================================

# Big enough for several row chunks (see _engine.row_chunks) and predict blocks.
BIG = dict(n=768, d=300, labels=3, hidden=256, batch=256, max_iter=2)


def _big_problem():
    rng = np.random.RandomState(0)
    X = rng.randn(BIG["n"], BIG["d"])
    Y = (rng.rand(BIG["n"], BIG["labels"]) < 0.4).astype(float)
    X_test = rng.randn(3000, BIG["d"])
    return X, Y, X_test


def _big_model(Est, n_threads):
    X, Y, _ = _big_problem()
    # Explicit parity parameters: the fresh process does not have the fixture.
    params = dict(
        SKLEARN_PARITY,
        hidden_layer_sizes=(BIG["hidden"],),
        batch_size=BIG["batch"],
        max_iter=BIG["max_iter"],
        random_state=0,
        n_threads=n_threads,
    )
    return Est(**params).fit(X, Y)


def _digest(est, X_test):
    h = hashlib.sha256()
    for a in est.coefs_ + est.intercepts_:
        h.update(np.ascontiguousarray(a).tobytes())
    coefs = h.hexdigest()
    proba = hashlib.sha256(est.predict_proba(X_test).tobytes()).hexdigest()
    return coefs, proba


@pytest.fixture(scope="module", params=ESTIMATORS, ids=EST_IDS)
def big_models(request):
    return {k: _big_model(request.param, k) for k in (1, 2)}


def test_bitwise_identical_across_thread_counts(big_models):
    m1, m2 = big_models[1], big_models[2]
    *_, X_test = _big_problem()
    assert _engine.row_chunks(BIG["batch"], m1._plan) >= min(2, os.cpu_count())
    assert _same_params(m1, m2)
    assert m1.loss_curve_ == m2.loss_curve_
    P1, P2 = m1.predict_proba(X_test), m2.predict_proba(X_test)
    np.testing.assert_array_equal(P1, P2)
    # The thread count used to predict does not matter either.
    for k in (1, 2, 3):
        np.testing.assert_array_equal(
            copy.deepcopy(m1).set_params(n_threads=k).predict_proba(X_test), P1
        )


def test_bitwise_identical_after_pickle(big_models):
    est = big_models[1]
    X, Y, X_test = _big_problem()
    restored = pickle.loads(pickle.dumps(est))
    assert _same_params(restored, est)
    assert _digest(restored, X_test) == _digest(est, X_test)
    # and it trains on identically (optimizer state, random stream)
    a, b = copy.deepcopy(est), restored
    a.partial_fit(X, Y)
    b.partial_fit(X, Y)
    assert _same_params(a, b)


_FRESH_PROCESS = """
import importlib.util, json, sys, warnings
warnings.simplefilter("ignore")
spec = importlib.util.spec_from_file_location("reliability", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
from skmultihead import _kernels as K
name = sys.argv[2]
Est = {"MH": mod.MultiHeadMLPClassifier, "BR": mod.BinaryRelevanceMLPClassifier}[name]
est = mod._big_model(Est, int(sys.argv[3]))
*_, X_test = mod._big_problem()
coefs, proba = mod._digest(est, X_test)
kernels = (K._fit_epoch_kernel, K._run_task, K._parallel_tasks)
misses = sum(sum(f.stats.cache_misses.values()) for f in kernels)
print(json.dumps({"coefs": coefs, "proba": proba, "cache_misses": misses}))
"""


def test_bitwise_identical_in_a_fresh_process(big_models, request):
    est = big_models[1]
    name = "MH" if isinstance(est, MultiHeadMLPClassifier) else "BR"
    *_, X_test = _big_problem()
    expected = _digest(est, X_test)
    out = subprocess.run(
        [sys.executable, "-c", _FRESH_PROCESS, os.path.abspath(__file__), name, "2"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert (got["coefs"], got["proba"]) == expected
    # The cache was warm (this process compiled and saved every kernel it used),
    # unless another process rewrote the kernels meanwhile.
    if got["cache_misses"]:
        warnings.warn(f"fresh process compiled {got['cache_misses']} kernel(s)")


# ==============================================================================
# Concurrency
# ==============================================================================


def _blas_threads():
    return sorted(
        (i["filepath"], i["num_threads"])
        for i in threadpool_info()
        if i["user_api"] == "blas"
    )


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_concurrent_predict_proba_is_bitwise_serial(Est):
    rng = np.random.RandomState(0)
    X = rng.rand(3000, 12)
    Y = (rng.rand(3000, 4) < 0.5).astype(int)
    est = Est(hidden_layer_sizes=(32, 16), max_iter=2, random_state=0).fit(
        X[:300], Y[:300]
    )
    inputs = [X[:1], X[:20], X[:600], X, X[100:700], np.asfortranarray(X[:20])]
    serial = [est.predict_proba(x) for x in inputs]
    blas_before = _blas_threads()
    for _ in range(4):
        with ThreadPoolExecutor(max_workers=4) as pool:
            jobs = [
                (i, pool.submit(est.predict_proba, x)) for i, x in enumerate(inputs)
            ]
            jobs += [
                (i, pool.submit(est.predict_proba, inputs[i])) for i in (3, 2, 1, 0)
            ]
            for i, job in jobs:
                np.testing.assert_array_equal(job.result(), serial[i])
    # The BLAS limit taken by the kernels is given back (reference counted).
    assert _blas_threads() == blas_before


# ==============================================================================
# Bounded memory
# ==============================================================================

MEM_ROWS = 10**6
MEM_FEATURES = 20


def _scratch_bound(est):
    """Documented scratch of predict: blocks of 512 rows x (n_features + sum of
    layer widths) values per thread."""
    itemsize = est._params.dtype.itemsize
    n_threads = _engine.effective_n_threads(est.n_threads)
    return (
        _engine._PREDICT_BLOCK_ROWS
        * (est.n_features_in_ + est._plan.row_width)
        * itemsize
        * n_threads
    )


def _traced_peak(fn):
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        result = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.fixture(scope="module")
def mem_X():
    return np.random.RandomState(0).rand(MEM_ROWS, MEM_FEATURES)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_predict_memory_is_bounded(Est, dtype, mem_X):
    rng = np.random.RandomState(0)
    est = Est(hidden_layer_sizes=(8,), max_iter=2, random_state=0, dtype=dtype).fit(
        rng.rand(200, MEM_FEATURES), (rng.rand(200, 3) < 0.5).astype(int)
    )
    X = mem_X.astype(dtype)  # already the model's dtype: no input conversion
    slack = 256 * 1024
    bound = _scratch_bound(est) + slack
    P, peak = _traced_peak(lambda: est.predict_proba(X))
    assert P.shape == (MEM_ROWS, 3) and np.all(np.isfinite(P[::997]))
    assert peak <= P.nbytes + bound, (peak, P.nbytes)
    Z, peak = _traced_peak(lambda: est.decision_function(X))
    assert peak <= Z.nbytes + bound, (peak, Z.nbytes)
    # predict also holds the probabilities and the boolean comparison.
    Yp, peak = _traced_peak(lambda: est.predict(X))
    assert peak <= Yp.nbytes + P.nbytes + Yp.size + bound, (peak, Yp.nbytes)
    del P, Z, Yp
    if dtype == "float32":
        # float64 input: plus the float32 copy of the input, nothing more.
        P, peak = _traced_peak(lambda: est.predict_proba(mem_X))
        assert peak <= P.nbytes + mem_X.size * 4 + bound, (peak, P.nbytes)


_RSS_SCRIPT = """
import re, sys, warnings
import numpy as np
warnings.simplefilter("ignore")
from skmultihead import SKLEARN_PARITY, MultiHeadMLPClassifier
from skmultihead import _engine

def status(key):
    text = open("/proc/self/status").read()
    return int(re.search(key + r":\\s+(\\d+)", text).group(1)) * 1024

rng = np.random.RandomState(0)
# One network (the parity configuration): the output is one (n, n_labels) array.
est = MultiHeadMLPClassifier(**dict(SKLEARN_PARITY, hidden_layer_sizes=(8,),
                             max_iter=2, random_state=0, dtype=sys.argv[1]))
est.fit(rng.rand(200, 20), (rng.rand(200, 3) < 0.5).astype(int))
X = rng.rand(10**6, 20).astype(sys.argv[1])
est.predict_proba(X[:5000])  # threads started, kernels loaded
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak RSS
before = status("VmRSS")
P = est.predict_proba(X)
extra = status("VmHWM") - before
n_threads = _engine.effective_n_threads(None)
scratch = (_engine._PREDICT_BLOCK_ROWS * (20 + est._plan.row_width)
           * P.itemsize * n_threads)
print(extra, P.nbytes, scratch)
"""


@pytest.mark.skipif(
    not os.access("/proc/self/clear_refs", os.W_OK), reason="needs /proc clear_refs"
)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_predict_peak_rss_is_bounded(dtype):
    """Peak RSS of the whole process (Numba's own allocations included) while
    predicting 10^6 rows: the output plus the block scratch, plus 4 MiB for
    allocator and page granularity."""
    out = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, dtype],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    extra, out_bytes, scratch = map(int, out.stdout.split())
    assert extra <= out_bytes + scratch + 4 * 2**20, (extra, out_bytes, scratch)


# ==============================================================================
# Read-only installation
# ==============================================================================

_NO_LOCATOR = """
import warnings
import numba.core.caching as caching
caching.CacheImpl._locator_classes = []  # what a read-only install looks like
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import skmultihead
messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
assert any("disk cache" in m for m in messages), messages
from skmultihead import _kernels
assert _kernels._CACHE is False
import numpy as np
warnings.simplefilter("ignore")
rng = np.random.RandomState(0)
X = rng.rand(40, 5)
Y = (rng.rand(40, 3) < 0.5).astype(int)
for Est in (skmultihead.MultiHeadMLPClassifier,
            skmultihead.BinaryRelevanceMLPClassifier):
    est = Est(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(X, Y)
    P = est.predict_proba(np.tile(X, (20, 1)))
    assert P.shape == (800, 3) and np.all((P >= 0) & (P <= 1))
    assert est.predict(X[:2]).shape == (2, 3)
print("OK")
"""


@pytest.fixture(scope="module")
def no_locator_process(request):
    """Started when the module starts: compiling every kernel in memory takes a
    while, and the other tests run meanwhile."""
    wanted = any(
        item.name == "test_read_only_install_without_cache_locator"
        for item in request.session.items
    )
    if not wanted:
        yield None
        return
    proc = subprocess.Popen(
        [sys.executable, "-c", _NO_LOCATOR],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.fixture(scope="module", autouse=True)
def _start_no_locator_early(no_locator_process):
    yield


def test_read_only_install_without_cache_locator(no_locator_process):
    stdout, stderr = no_locator_process.communicate(timeout=900)
    assert no_locator_process.returncode == 0, stderr[-3000:]
    assert stdout.strip().splitlines()[-1] == "OK"


def _chmod_tree(root, writable):
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            mode = os.stat(path).st_mode
            os.chmod(path, (mode | 0o200) if writable else (mode & ~0o222))
    mode = os.stat(root).st_mode
    os.chmod(root, (mode | 0o200) if writable else (mode & ~0o222))


_READ_ONLY_COPY = """
import json, sys, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import skmultihead
import numpy as np
warnings.simplefilter("ignore")
rng = np.random.RandomState(0)
X = rng.rand(40, 5)
Y = (rng.rand(40, 3) < 0.5).astype(int)
est = skmultihead.MultiHeadMLPClassifier(hidden_layer_sizes=(4,), max_iter=3,
                                         random_state=0).fit(X, Y)
print(json.dumps({
    "file": skmultihead.__file__,
    "warned": any("disk cache" in str(w.message) for w in caught
                  if issubclass(w.category, RuntimeWarning)),
    "proba": est.predict_proba(X[:2]).tolist(),
}))
"""


def test_read_only_copy_of_the_package(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    # With its __pycache__: Numba's index is keyed on the source's content, so
    # a writable run can reuse it; a read-only one must not need to write it.
    shutil.copytree(PACKAGE_DIR, site / "skmultihead")
    no_cache = tmp_path / "no-cache"
    no_cache.mkdir()
    env = dict(
        os.environ,
        PYTHONPATH=str(site),
        XDG_CACHE_HOME=str(no_cache),  # numba's user-wide cache: read-only too
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.pop("NUMBA_CACHE_DIR", None)
    _chmod_tree(site, writable=False)
    _chmod_tree(no_cache, writable=False)
    try:
        out = subprocess.run(
            [sys.executable, "-c", _READ_ONLY_COPY],
            capture_output=True,
            text=True,
            timeout=900,
            cwd=tmp_path,
            env=env,
        )
    finally:
        _chmod_tree(site, writable=True)
        _chmod_tree(no_cache, writable=True)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["file"].startswith(str(site))
    P = np.array(got["proba"])
    assert P.shape == (2, 3) and np.all((P >= 0) & (P <= 1))
    if os.geteuid() != 0:  # root writes through chmod; nothing to warn about
        assert got["warned"]
