"""GridSearchCV across processes: serial vs joblib/loky vs a Dask cluster.

A grid of 8 candidates (both estimators x 2 widths x 2 alphas) x 3 folds on
yeast-sized data (1500 x 103, 14 labels: the MULAN yeast training set when
found, else synthetic data of that shape) is run

* serially in this process (each fit uses the process's thread budget),
* with ``n_jobs=2`` on joblib's loky backend (2 worker processes, which joblib
  gives ``NUMBA_NUM_THREADS = cores // 2``),
* on a Dask ``LocalCluster`` of 2 worker processes x 1 thread through
  ``joblib.parallel_config(backend="dask")`` (the estimators use one thread per
  task inside a Dask worker).

Worker pools are started and warmed up (imports, numba's cached kernels) before
timing; their start-up time is reported separately. Every fit records the numba
thread count its training loop ran with (an early-stopping scorer reads
``numba.get_num_threads()`` once per epoch) and the process it ran in, so the
table shows what the thread rule did in each setting. The three searches must
give identical ``cv_results_`` scores.

Run::

    python benchmarks/bench_search.py [--max-iter 40] [--data yeast|synthetic]
"""

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import joblib
import numba
import numpy as np
from sklearn.datasets import make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skmultihead import BinaryRelevanceMLPClassifier, MultiHeadMLPClassifier
from skmultihead._engine import effective_n_threads
from skmultihead.metrics import multilabel_log_loss

YEAST_CANDIDATES = [
    Path(__file__).resolve().parents[2] / "shared" / "datasets" / "yeast-train.arff",
    Path("/work/shared/datasets/yeast-train.arff"),
]


class ThreadRecorder:
    """Early-stopping scorer recording numba's thread count inside the fit."""

    def __init__(self):
        self.seen = []

    def __repr__(self):
        return "ThreadRecorder()"

    def __call__(self, estimator, X, Y):
        self.seen.append(numba.get_num_threads())
        return -multilabel_log_loss(Y, estimator.predict_proba(X))


def search_scorer(estimator, X, Y):
    """Test score, the pid of the fit and the threads its kernels used."""
    return {
        "loss": -multilabel_log_loss(Y, estimator.predict_proba(X)),
        "pid": os.getpid(),
        "threads": max(estimator[-1].scoring.seen),
    }


def load_data(kind):
    if kind == "yeast":
        for path in YEAST_CANDIDATES:
            if path.exists():
                from skmultihead.datasets import load_arff

                X, Y = load_arff(path, return_X_y=True)
                return X, Y.astype(np.float64), f"yeast-train ({path.name})"
        print("yeast-train.arff not found; using synthetic data")
    X, Y = make_multilabel_classification(
        n_samples=1500, n_features=103, n_classes=14, n_labels=4, random_state=0
    )
    return X.astype(np.float64), Y, "synthetic make_multilabel_classification"


def make_search(max_iter, n_jobs=None):
    def est(cls):
        return cls(
            max_iter=max_iter,
            early_stopping=True,
            n_iter_no_change=max_iter + 1,  # fixed work: never stop early
            scoring=ThreadRecorder(),
            random_state=0,
        )

    grid = [
        {
            "clf": [est(cls)],
            "clf__hidden_layer_sizes": [(64,), (128,)],
            "clf__alpha": [1e-4, 1e-2],
        }
        for cls in (MultiHeadMLPClassifier, BinaryRelevanceMLPClassifier)
    ]
    pipe = Pipeline([("scale", StandardScaler()), ("clf", est(MultiHeadMLPClassifier))])
    return GridSearchCV(
        pipe,
        grid,
        scoring=search_scorer,
        refit=False,
        cv=KFold(3, shuffle=True, random_state=0),
        n_jobs=n_jobs,
    )


def _warm_up():
    """Import and load the cached kernels in a worker; return its thread rule."""
    X, Y = make_multilabel_classification(n_samples=50, n_classes=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for cls in (MultiHeadMLPClassifier, BinaryRelevanceMLPClassifier):
            cls((4,), max_iter=2).fit(X, Y).predict_proba(X)
    return os.getpid(), effective_n_threads(None)


def _split(search, name):
    res = search.cv_results_
    n_splits = search.n_splits_
    return np.concatenate([res[f"split{k}_test_{name}"] for k in range(n_splits)])


def _split_times(search):
    res = search.cv_results_
    return res["mean_fit_time"] * search.n_splits_


def run(label, X, Y, max_iter, n_jobs=None):
    search = make_search(max_iter, n_jobs)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, Y)
    wall = time.perf_counter() - t0
    pids = {int(v) for v in _split(search, "pid")}
    threads = sorted({int(v) for v in _split(search, "threads")})
    return {
        "setting": label,
        "wall_s": wall,
        "processes": len(pids),
        "in_main_process": os.getpid() in pids,
        "numba_threads_per_fit": threads,
        "scores": search.cv_results_["mean_test_loss"].tolist(),
        "sum_fit_s": float(np.sum(_split_times(search))),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=["yeast", "synthetic"], default="yeast")
    parser.add_argument("--max-iter", type=int, default=40)
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    X, Y, name = load_data(args.data)
    print(f"data: {name}, X {X.shape}, Y {Y.shape}; 8 candidates x 3 folds")
    print(
        f"cpus (affinity): {len(os.sched_getaffinity(0))}, "
        f"load average before: {os.getloadavg()[0]:.2f}, "
        f"numba threading layer: ",
        end="",
    )
    _warm_up()
    print(numba.threading_layer())

    rows = [run("serial (main process)", X, Y, args.max_iter)]

    t0 = time.perf_counter()
    joblib.Parallel(n_jobs=2, backend="loky")(
        joblib.delayed(_warm_up)() for _ in range(4)
    )
    loky_start = time.perf_counter() - t0
    rows.append(run("loky, n_jobs=2", X, Y, args.max_iter, n_jobs=2))
    rows[-1]["pool_start_s"] = loky_start

    if not args.no_dask:
        from distributed import Client, LocalCluster

        t0 = time.perf_counter()
        with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            client.wait_for_workers(2)
            client.run(_warm_up)
            dask_start = time.perf_counter() - t0
            with joblib.parallel_config(backend="dask"):
                rows.append(run("dask, 2 workers x 1 thread", X, Y, args.max_iter))
            rows[-1]["pool_start_s"] = dask_start

    serial = rows[0]
    print()
    print(
        "| setting | wall (s) | speed-up | worker processes | numba threads per fit "
        "| sum of fit times (s) | pool start-up (s) | scores = serial |"
    )
    print("|---|---:|---:|---:|---|---:|---:|---|")
    for r in rows:
        start = r.get("pool_start_s")
        print(
            f"| {r['setting']} | {r['wall_s']:.2f} | "
            f"{serial['wall_s'] / r['wall_s']:.2f}x | "
            f"{'main' if r['in_main_process'] else r['processes']} | "
            f"{r['numba_threads_per_fit']} | {r['sum_fit_s']:.1f} | "
            f"{'-' if start is None else f'{start:.1f}'} | "
            f"{'yes' if r['scores'] == serial['scores'] else 'NO'} |"
        )
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
