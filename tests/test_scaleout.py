"""Scale-out: thread discipline in joblib/Dask workers, model selection across
worker processes, and out-of-core training with :mod:`skmultihead.dask`.

The Dask tests share one two-process ``LocalCluster`` (module fixture, always
closed) and are skipped when ``distributed`` is not installed. The whole file
is meant to stay well under a minute.
"""

import os
import subprocess
import sys

import joblib
import numba
import numpy as np
import pytest
from sklearn.datasets import make_multilabel_classification
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline

from skmultihead import BinaryRelevanceMLPClassifier, MultiHeadMLPClassifier
from skmultihead._engine import effective_n_threads, engine_context
from skmultihead.metrics import multilabel_log_loss

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ESTIMATORS = [MultiHeadMLPClassifier, BinaryRelevanceMLPClassifier]


def _data(n_samples=120, n_features=10, n_labels=4, seed=0):
    X, Y = make_multilabel_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_classes=n_labels,
        random_state=seed,
    )
    return X.astype(np.float64), Y


class ThreadRecorder:
    """Early-stopping scorer that records numba's thread count during a fit.

    With ``early_stopping=True`` and a callable ``scoring``, the estimator calls
    the scorer once per epoch from inside its training loop, i.e. under the
    same thread setting as its epoch kernels. ``numba.get_num_threads()`` there
    is the thread count the fit's kernels ran with.
    """

    def __init__(self):
        self.seen = []

    def __repr__(self):
        return "ThreadRecorder()"  # stable: best_params_ reprs are compared

    def __call__(self, estimator, X, Y):
        self.seen.append(numba.get_num_threads())
        return -multilabel_log_loss(Y, estimator.predict_proba(X))


def _recording_estimator(cls=MultiHeadMLPClassifier, **params):
    defaults = dict(
        hidden_layer_sizes=(4,),
        max_iter=4,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=50,
        scoring=ThreadRecorder(),
        random_state=0,
    )
    defaults.update(params)
    return cls(**defaults)


def _affinity():
    return (
        len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else (os.cpu_count() or 1)
    )


def _fit_probe(n_threads):
    """Run in a worker: fit a tiny estimator and report the threads it used."""
    X, Y = _data()
    est = _recording_estimator(n_threads=n_threads).fit(X, Y)
    assert est.predict_proba(X).shape == Y.shape
    with engine_context(n_threads) as n_context:
        pass
    return {
        "pid": os.getpid(),
        "env": os.environ.get("NUMBA_NUM_THREADS"),
        "pool": numba.config.NUMBA_NUM_THREADS,
        "affinity": _affinity(),
        "fit": sorted(set(est.scoring.seen)),
        "context": n_context,
    }


# ----------------------------------------------------------------------------
# Optional dependency
# ----------------------------------------------------------------------------


def test_import_does_not_need_dask():
    code = (
        "import sys\n"
        "sys.modules['dask'] = None\n"  # any 'import dask' now raises ImportError
        "sys.modules['distributed'] = None\n"
        "import skmultihead, skmultihead.dask\n"
        "try:\n"
        "    skmultihead.dask.predict_proba_blocks(None, None)\n"
        "except ImportError as e:\n"
        "    assert 'skmultihead[dask]' in str(e), e\n"
        "else:\n"
        "    raise AssertionError('no ImportError')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# ----------------------------------------------------------------------------
# Thread discipline
# ----------------------------------------------------------------------------


def test_thread_rule_in_main_process():
    est = _recording_estimator().fit(*_data())
    assert est.scoring.seen and set(est.scoring.seen) == {effective_n_threads(None)}
    est = _recording_estimator(n_threads=1).fit(*_data())
    assert set(est.scoring.seen) == {1}


# ----------------------------------------------------------------------------
# Dask cluster
# ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        client.wait_for_workers(2, timeout=60)
        yield client


def _worker_pids(client):
    return set(client.run(os.getpid).values())


def test_thread_rule_in_dask_workers(dask_client):
    auto = dask_client.submit(_fit_probe, None, pure=False).result()
    explicit = dask_client.submit(_fit_probe, 2, pure=False).result()
    workers = _worker_pids(dask_client)
    assert auto["pid"] in workers and explicit["pid"] in workers
    # Dask does not set NUMBA_NUM_THREADS: the pool is all cores, the rule gives
    # one thread per task, and an explicit count still wins.
    assert auto["fit"] == [1] and auto["context"] == 1
    assert explicit["fit"] == [min(2, explicit["pool"])]


# ----------------------------------------------------------------------------
# GridSearchCV: serial vs loky vs Dask
# ----------------------------------------------------------------------------


def _grid():
    grid = []
    for cls in ESTIMATORS:
        grid.append(
            {
                "clf": [_recording_estimator(cls, max_iter=6)],
                "clf__hidden_layer_sizes": [(3,), (6,)],
                "clf__alpha": [1e-4, 1e-1],
            }
        )
    return grid


def _search_scorer(estimator, X, Y):
    """Score plus where (pid) and with how many threads the fit ran."""
    clf = estimator[-1]
    return {
        "loss": -multilabel_log_loss(Y, estimator.predict_proba(X)),
        "pid": os.getpid(),
        "fit_threads": max(clf.scoring.seen),
        "numba_env": int(os.environ.get("NUMBA_NUM_THREADS", -1)),
    }


def _run_search(n_jobs=None):
    X, Y = _data()
    search = GridSearchCV(
        Pipeline([("clf", MultiHeadMLPClassifier())]),
        _grid(),
        scoring=_search_scorer,
        refit="loss",
        cv=KFold(2),
        n_jobs=n_jobs,
    )
    return search.fit(X, Y)


def _split_values(search, name):
    return np.concatenate(
        [search.cv_results_[f"split{k}_test_{name}"] for k in range(2)]
    ).astype(int)


@pytest.fixture(scope="module")
def serial_search():
    return _run_search()


def _assert_same_search(search, serial):
    for key in ("mean_test_loss", "split0_test_loss", "split1_test_loss"):
        np.testing.assert_array_equal(search.cv_results_[key], serial.cv_results_[key])
    assert search.best_index_ == serial.best_index_
    assert repr(search.best_params_) == repr(serial.best_params_)


def test_search_serial(serial_search):
    assert len(serial_search.cv_results_["params"]) == 8
    assert set(_split_values(serial_search, "pid")) == {os.getpid()}
    assert set(_split_values(serial_search, "fit_threads")) == {
        effective_n_threads(None)
    }


def test_search_loky_matches_serial(serial_search):
    search = _run_search(n_jobs=2)
    _assert_same_search(search, serial_search)
    assert os.getpid() not in set(_split_values(search, "pid"))
    # joblib gives each of n_jobs loky workers NUMBA_NUM_THREADS = cores // n_jobs
    # (unless the variable is already set in this process's environment); with
    # n_threads=None the fits use exactly that many threads.
    env = int(os.environ.get("NUMBA_NUM_THREADS", max(joblib.cpu_count() // 2, 1)))
    assert set(_split_values(search, "numba_env")) == {env}
    assert set(_split_values(search, "fit_threads")) == {min(env, _affinity())}


def test_search_dask_matches_serial(serial_search, dask_client):
    with joblib.parallel_config(backend="dask", client=dask_client):
        search = _run_search()
    _assert_same_search(search, serial_search)
    assert set(_split_values(search, "pid")) <= _worker_pids(dask_client)
    # Dask does not set NUMBA_NUM_THREADS; the rule gives one thread per task.
    env = int(os.environ.get("NUMBA_NUM_THREADS", -1))
    assert set(_split_values(search, "numba_env")) == {env}
    assert set(_split_values(search, "fit_threads")) == {1}


def _fit_probes(*n_threads):
    return [_fit_probe(n) for n in n_threads]


def test_explicit_n_threads_wins_in_loky_workers():
    # inner_max_num_threads=2 makes joblib set NUMBA_NUM_THREADS=2 in the
    # workers. Both probes run in one task, one after the other: two concurrent
    # 2-thread fits would oversubscribe a 2-core machine.
    # parallel_config is joblib >= 1.3 (scikit-learn 1.6 allows joblib 1.2).
    config = getattr(joblib, "parallel_config", None) or joblib.parallel_backend
    with config(backend="loky", inner_max_num_threads=2):
        ((auto, one),) = joblib.Parallel(n_jobs=2)(
            [joblib.delayed(_fit_probes)(None, 1)]
        )
    assert auto["pid"] != os.getpid()
    assert auto["env"] == one["env"] == "2"
    assert auto["fit"] == [min(2, auto["affinity"])]
    assert one["fit"] == [1]


# ----------------------------------------------------------------------------
# Out-of-core: skmultihead.dask
# ----------------------------------------------------------------------------


def _numpy_blocks(A, bounds):
    return [A[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("shuffle_blocks", [True, False])
def test_incremental_fit_equals_partial_fit_over_blocks(cls, shuffle_blocks):
    da = pytest.importorskip("dask.array")
    from skmultihead.dask import incremental_fit

    X, Y = _data(n_samples=150)
    Xd = da.from_array(X, chunks=(40, 4))  # column blocks are merged
    Yd = da.from_array(Y, chunks=(25, 2))  # re-chunked to X's row blocks
    est = cls((5,), random_state=0)
    out = incremental_fit(
        est, Xd, Yd, epochs=3, shuffle_blocks=shuffle_blocks, random_state=7
    )
    assert out is est

    ref = cls((5,), random_state=0)
    bounds = [0, 40, 80, 120, 150]
    Xb, Yb = _numpy_blocks(X, bounds), _numpy_blocks(Y, bounds)
    rng = np.random.RandomState(7)
    for _ in range(3):
        order = rng.permutation(4) if shuffle_blocks else range(4)
        for i in order:
            ref.partial_fit(Xb[i], Yb[i])
    for a, b in zip(est.coefs_ + est.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert est.loss_curve_ == ref.loss_curve_
    assert len(est.loss_curve_) == 12


def test_incremental_fit_unknown_chunks_weights_and_binary_y():
    da = pytest.importorskip("dask.array")
    from skmultihead.dask import incremental_fit

    X, Y = _data(n_samples=90)
    y = Y[:, 0]
    sw = np.linspace(0.5, 2.0, 90)
    keep = np.arange(90) % 3 != 0
    keep[30:60] = False  # the middle block becomes empty and is skipped
    Xd = da.from_array(X, chunks=(30, -1))
    mask = da.from_array(keep, chunks=30)
    Xm = Xd[mask]
    assert np.isnan(Xm.shape[0])
    est = incremental_fit(
        MultiHeadMLPClassifier((4,), random_state=0),
        Xm,
        da.from_array(y, chunks=30)[mask],
        sample_weight=da.from_array(sw, chunks=30)[mask],
        classes=[0, 1],
        shuffle_blocks=False,
    )
    ref = MultiHeadMLPClassifier((4,), random_state=0)
    for a, b in ((0, 30), (60, 90)):
        rows = np.flatnonzero(keep[a:b]) + a
        ref.partial_fit(X[rows], y[rows], sample_weight=sw[rows], classes=[0, 1])
    np.testing.assert_array_equal(est.predict_proba(X), ref.predict_proba(X))
    assert est.predict_proba(X).shape == (90, 2)
    assert len(est.loss_curve_) == 2


def test_incremental_fit_input_errors():
    da = pytest.importorskip("dask.array")
    from skmultihead.dask import incremental_fit

    X, Y = _data(n_samples=40)
    Xd = da.from_array(X, chunks=(20, -1))
    est = MultiHeadMLPClassifier((3,))
    with pytest.raises(TypeError, match="dask.array.Array"):
        incremental_fit(est, X, Y)
    with pytest.raises(ValueError, match="40 rows but Y has 39"):
        incremental_fit(est, Xd, Y[:39])
    with pytest.raises(ValueError, match="epochs"):
        incremental_fit(est, Xd, Y, epochs=0)
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        incremental_fit(est, Xd[da.from_array(np.ones(40, bool), chunks=20)], Y)
    assert not hasattr(est, "n_iter_")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_predict_proba_blocks(dtype):
    da = pytest.importorskip("dask.array")
    from skmultihead.dask import predict_proba_blocks

    X, Y = _data(n_samples=130)
    X = X.astype(dtype)
    est = BinaryRelevanceMLPClassifier((4,), max_iter=5, random_state=0).fit(X, Y)
    Xd = da.from_array(X, chunks=(50, 3))
    P = predict_proba_blocks(est, Xd)
    assert isinstance(P, da.Array)
    assert P.shape == (130, 4) and P.chunks == ((50, 50, 30), (4,))
    assert P.dtype == est.predict_proba(X).dtype == dtype
    # Equal to predict_proba on the same NumPy blocks. (Against one call on all
    # rows only up to rounding: BLAS products of different row counts may
    # round differently.)
    blocks = [est.predict_proba(X[a : a + 50]) for a in range(0, 130, 50)]
    np.testing.assert_array_equal(P.compute(scheduler="sync"), np.vstack(blocks))
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(P.compute(), est.predict_proba(X), rtol=rtol)
    # Unknown chunk sizes, with an empty block.
    keep = np.arange(130) >= 50
    Pm = predict_proba_blocks(est, Xd[da.from_array(keep, chunks=50)])
    assert np.isnan(Pm.shape[0])
    np.testing.assert_array_equal(Pm.compute(), np.vstack(blocks[1:]))


def test_out_of_core_on_cluster(dask_client):
    import dask
    import dask.array as da

    from skmultihead.dask import incremental_fit, predict_proba_blocks

    X, Y = _data(n_samples=100)
    Xd = da.from_array(X, chunks=(25, -1))
    Yd = da.from_array(Y, chunks=(25, -1))
    with dask.config.set(scheduler=dask_client):
        est = incremental_fit(
            MultiHeadMLPClassifier((4,), random_state=0), Xd, Yd, random_state=0
        )
        P = predict_proba_blocks(est, Xd).compute()
    ref = incremental_fit(
        MultiHeadMLPClassifier((4,), random_state=0), Xd, Yd, random_state=0
    )
    for a, b in zip(est.coefs_, ref.coefs_):
        np.testing.assert_array_equal(a, b)
    blocks = [ref.predict_proba(X[a : a + 25]) for a in range(0, 100, 25)]
    np.testing.assert_array_equal(P, np.vstack(blocks))
