"""Determinism under concurrency: several Python threads using the estimators at
once get bitwise the same results as serial calls.

The kernels call BLAS (dense products of more than ``SMALL_ROWS`` rows) with
BLAS limited to one thread: OpenBLAS splits a product among its threads by
output tiles, and the edge tiles of each split are computed by other micro
kernels, so the bits depend on its thread count. The limit is process-wide, so
it must take effect whichever Python thread enters the engine first and be
given back by whichever leaves last (recent threadpoolctl versions otherwise
silently ignore limits set from any thread but the first one that ever set one).

Sizes are chosen so that binary relevance's first layer (100 x 1000) is large
enough for OpenBLAS to use its threads.
"""

import functools
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_multilabel_classification
from threadpoolctl import threadpool_info, threadpool_limits

from skmultihead import BinaryRelevanceMLPClassifier, MultiHeadMLPClassifier, _engine

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning",
    "ignore:Labels .* are constant:UserWarning",
)

ESTIMATORS = [MultiHeadMLPClassifier, BinaryRelevanceMLPClassifier]
EST_IDS = ["MH", "BR"]
N_THREADS = 8


@functools.cache
def _data():
    X, Y = make_multilabel_classification(
        n_samples=1200, n_features=100, n_classes=10, random_state=0
    )
    return X.astype(np.float64), Y


@functools.cache
def _fitted(Est):
    X, Y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Est(hidden_layer_sizes=(100,), max_iter=3, random_state=0).fit(X, Y)


def _blas_threads():
    return sorted(
        (i["filepath"], i["num_threads"])
        for i in threadpool_info()
        if i["user_api"] == "blas"
    )


def _in_thread(fn):
    """``fn()`` run in a new Python thread (not the main one)."""
    out = []
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    thread.join()
    return out[0]


def test_engine_limits_blas_in_any_python_thread():
    # The root cause of the 1-ulp differences: a limit taken in a thread other
    # than the first one that ever took one was silently ignored.
    with _engine.engine_context(1):  # the main thread takes a limit first
        pass
    before = _blas_threads()

    def inside():
        with _engine.engine_context(1):
            return [n for _, n in _blas_threads()]

    assert set(_in_thread(inside)) <= {1}
    assert _blas_threads() == before
    # Nor does the engine keep threadpoolctl's control: a user's own limit in
    # another thread still takes effect afterwards (nobody else holds it: a
    # standalone limit elsewhere in this process would).
    if any(n > 1 for _, n in before):
        _engine._release_blas_control()
        with _engine.engine_context(1):
            pass

        def user_limit():
            with threadpool_limits(1, user_api="blas"):
                return [n for _, n in _blas_threads()]

        assert set(_in_thread(user_limit)) <= {1}
    assert _blas_threads() == before


def test_engine_limit_released_by_the_last_thread_out():
    # Thread A enters first, B enters, A leaves, B leaves last: the user's BLAS
    # setting must come back although B did not take the limit.
    before = _blas_threads()
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with _engine.engine_context(1):
            a_in.set()
            b_in.wait()
        a_out.set()

    def b():
        a_in.wait()
        with _engine.engine_context(1):
            b_in.set()
            a_out.wait()
            seen["b"] = [n for _, n in _blas_threads()]

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(seen["b"]) <= {1}
    assert _blas_threads() == before


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_concurrent_predict_proba_is_bitwise_serial(Est):
    X, _ = _data()
    est = _fitted(Est)
    inputs = [X[:1], X[:16], X[:17], X[:200], X[:600], X, np.asfortranarray(X[:300])]
    serial = [est.predict_proba(x) for x in inputs]
    before = _blas_threads()
    calls = [k % len(inputs) for k in range(25 * N_THREADS)]
    with ThreadPoolExecutor(max_workers=N_THREADS) as pool:
        results = list(pool.map(lambda i: est.predict_proba(inputs[i]), calls))
    differ = [
        (inputs[i].shape[0], float(np.abs(r - serial[i]).max()))
        for i, r in zip(calls, results)
        if not np.array_equal(r, serial[i])
    ]
    assert not differ, f"{len(differ)} of {len(calls)} differ: {differ[:5]}"
    # The limit is given back once the last kernel is done.
    assert _blas_threads() == before


@pytest.mark.parametrize("Est", ESTIMATORS, ids=EST_IDS)
def test_concurrent_fits_of_clones_are_bitwise_serial(Est):
    X, Y = _data()
    X, Y = X[:600], Y[:600]
    base = Est(hidden_layer_sizes=(100,), max_iter=3)
    seeds = range(4)

    def fit(seed):
        est = clone(base).set_params(random_state=seed).fit(X, Y)
        return est._params.copy(), est.predict_proba(X)

    serial = [fit(s) for s in seeds]
    with ThreadPoolExecutor(max_workers=len(seeds)) as pool:
        concurrent = list(pool.map(fit, seeds))
    for (p_serial, proba_serial), (p_conc, proba_conc) in zip(serial, concurrent):
        np.testing.assert_array_equal(p_conc, p_serial)
        np.testing.assert_array_equal(proba_conc, proba_serial)
