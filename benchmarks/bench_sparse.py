"""Sparse CSR training speed: MultiHeadMLPClassifier vs MLPClassifier.

Trains both on the CSR train splits of the MULAN text datasets in
``../shared/datasets`` (bibtex, medical), with identical hyper-parameters
(hidden 100, Adam, tol=0, a fixed number of epochs), in the same run, at 1 and
2 threads, and reports ms/epoch and the ratio. X stays CSR for both.

Run: ``python benchmarks/bench_sparse.py [--epochs 5] [--repeats 3]``.
Writes ``benchmarks/results/bench_sparse.{md,json}``.
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

from skmultihead import MultiHeadMLPClassifier
from skmultihead.datasets import load_arff

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "datasets"


def _time_fit(make, X, Y, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        make().fit(X, Y)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--datasets", nargs="+", default=["medical", "bibtex"])
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    rows = []
    for name in args.datasets:
        train = load_arff(SHARED / f"{name}-train.arff", xml=SHARED / f"{name}.xml")
        X, Y = train.data.tocsr(), train.target
        params = dict(
            hidden_layer_sizes=(100,), max_iter=args.epochs, tol=0.0, random_state=0
        )
        MultiHeadMLPClassifier(**{**params, "max_iter": 1}).fit(X, Y)  # compile
        for n_threads in (1, 2):
            ours = _time_fit(
                lambda: MultiHeadMLPClassifier(**params, n_threads=n_threads),
                X,
                Y,
                args.repeats,
            )
            with threadpool_limits(n_threads):
                peer = _time_fit(lambda: MLPClassifier(**params), X, Y, args.repeats)
            rows.append(
                dict(
                    dataset=name,
                    shape=list(X.shape),
                    nnz=int(X.nnz),
                    labels=int(Y.shape[1]),
                    threads=n_threads,
                    ours_ms_per_epoch=1e3 * ours / args.epochs,
                    sklearn_ms_per_epoch=1e3 * peer / args.epochs,
                    ratio=peer / ours,
                )
            )
    lines = [
        "# Sparse CSR training (bench_sparse.py)",
        "",
        f"{time.strftime('%Y-%m-%dT%H:%M:%S')}; hidden 100, Adam, batch 'auto', "
        f"{args.epochs} epochs, median of {args.repeats}; ratio = sklearn / ours "
        "(> 1: ours faster; target >= 4x).",
        "",
        "| dataset | n x d (nnz) | labels | threads | ours ms/epoch | "
        "MLPClassifier ms/epoch | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['shape'][0]} x {r['shape'][1]} ({r['nnz']}) | "
            f"{r['labels']} | {r['threads']} | {r['ours_ms_per_epoch']:.1f} | "
            f"{r['sklearn_ms_per_epoch']:.1f} | {r['ratio']:.2f}x |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "bench_sparse.md").write_text(text)
    (out / "bench_sparse.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
