"""Sparse CSR training speed: MultiHeadMLPClassifier vs MLPClassifier on text data.

Trains both on the CSR train splits of the MULAN text datasets in
``../shared/datasets`` (bibtex, medical) with identical hyper-parameters (hidden
100, Adam, ReLU, batch 'auto', tol=0, a fixed number of epochs), in the same run,
in interleaved rounds, at each thread count, in float64 and float32 (scikit-learn
keeps a float32 CSR input in float32 too). X stays CSR for both.

Two numbers per estimator, because one fit mixes two costs:

* **ms/epoch**, the steady-state cost of one epoch: the slope between fits of
  ``--short`` and ``--long`` epochs, ``(T_long - T_short) / (long - short)``;
* **fixed ms**, what a fit costs besides its epochs (validation, initialisation,
  first touch of fresh buffers): ``T_short - short * ms/epoch``.

The speed-up target (>= 4x scikit-learn) is on ms/epoch; the table also gives the
ratio of whole fits of ``--long`` epochs. A memory line checks that training never
densifies X: the peak of Python-tracked allocations (numpy's included) during one
fit against the size of a dense X.

Run ``python benchmarks/bench_sparse.py`` (about two minutes on 2 cores).
Writes ``benchmarks/results/bench_sparse.{md,json}``.
"""

import argparse
import sys

import _common as C


def _parser():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--datasets", nargs="+", default=["medical", "bibtex"])
    parser.add_argument("--short", type=int, default=2, help="Epochs of the short fit.")
    parser.add_argument(
        "--long",
        type=int,
        nargs="+",
        default=None,
        help="Epochs of the long fit, per dataset (default: 40 medical, 12 bibtex).",
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    C.add_common_arguments(parser)
    return parser


if __name__ == "__main__":
    ARGS = _parser().parse_args()
    # Must happen before numpy is imported (OpenBLAS reads them at load time).
    ENV_INFO = C.setup_openblas_env(ARGS.openblas_default)

import time  # noqa: E402
import tracemalloc  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from skmultihead import MultiHeadMLPClassifier  # noqa: E402
from skmultihead.datasets import load_arff  # noqa: E402

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "datasets"
DEFAULT_LONG = {"medical": 40, "bibtex": 12}
TARGET = 4.0


def _params(epochs):
    return dict(
        hidden_layer_sizes=(100,),
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=0,
    )


def _runner(make, X, Y, threads, blas_limit):
    def run():
        est = make()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if blas_limit:
                with threadpool_limits(threads):
                    t0 = time.perf_counter()
                    est.fit(X, Y)
            else:
                t0 = time.perf_counter()
                est.fit(X, Y)
            return time.perf_counter() - t0

    return run


def _peak_memory(fit):
    """Peak of the allocations tracemalloc sees during ``fit()`` (bytes)."""
    tracemalloc.start()
    try:
        fit()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def bench_dataset(name, long, args, log):
    train = load_arff(SHARED / f"{name}-train.arff", xml=SHARED / f"{name}.xml")
    X64, Y = train.data.tocsr(), train.target
    rows = []
    for dtype in args.dtypes:
        X = X64.astype(dtype)
        for threads in args.threads:
            runners = {}
            for epochs in (args.short, long):
                runners[("ours", epochs)] = _runner(
                    lambda e=epochs: MultiHeadMLPClassifier(
                        **_params(e), n_threads=threads
                    ),
                    X,
                    Y,
                    threads,
                    False,
                )
                runners[("sklearn", epochs)] = _runner(
                    lambda e=epochs: MLPClassifier(**_params(e)), X, Y, threads, True
                )
            times = C.interleaved(runners, args.repeats)
            med = {key: C.median(ts) for key, ts in times.items()}
            row = dict(
                dataset=name,
                shape=list(X.shape),
                nnz=int(X.nnz),
                labels=int(Y.shape[1]),
                dtype=dtype,
                threads=threads,
                short=args.short,
                long=long,
            )
            for who in ("ours", "sklearn"):
                per_epoch = (med[(who, long)] - med[(who, args.short)]) / (
                    long - args.short
                )
                row[f"{who}_ms_per_epoch"] = 1e3 * per_epoch
                row[f"{who}_fixed_ms"] = 1e3 * (
                    med[(who, args.short)] - args.short * per_epoch
                )
                row[f"{who}_long_fit_s"] = med[(who, long)]
            row["ratio_per_epoch"] = (
                row["sklearn_ms_per_epoch"] / row["ours_ms_per_epoch"]
            )
            row["ratio_long_fit"] = row["sklearn_long_fit_s"] / row["ours_long_fit_s"]
            rows.append(row)
            print(
                f"  {name} {dtype} {threads} thr: ours {row['ours_ms_per_epoch']:.1f} "
                f"ms/epoch (+{row['ours_fixed_ms']:.1f} ms per fit), sklearn "
                f"{row['sklearn_ms_per_epoch']:.1f} (+{row['sklearn_fixed_ms']:.1f}) "
                f"-> {row['ratio_per_epoch']:.2f}x per epoch, "
                f"{row['ratio_long_fit']:.2f}x per {long}-epoch fit",
                flush=True,
            )
    peak = _peak_memory(
        lambda: MultiHeadMLPClassifier(**_params(1), n_threads=1).fit(X64, Y)
    )
    memory = dict(
        dataset=name,
        peak_fit_bytes=int(peak),
        dense_X_bytes=int(X64.shape[0] * X64.shape[1] * 8),
        csr_X_bytes=int(X64.data.nbytes + X64.indices.nbytes + X64.indptr.nbytes),
    )
    return rows, memory


def main(args, env_info):
    info = C.machine_info(env_info, with_torch=False)
    header = C.format_header(info)
    print("\n".join(header), flush=True)
    warnings.simplefilter("ignore", ConvergenceWarning)
    longs = args.long or [DEFAULT_LONG.get(name, 10) for name in args.datasets]
    if len(longs) == 1:
        longs = longs * len(args.datasets)
    rows, memory, log = [], [], []
    t_start = time.perf_counter()
    for name, long in zip(args.datasets, longs):
        if long <= args.short:
            sys.exit(f"--long ({long}) must exceed --short ({args.short}).")
        new_rows, mem = bench_dataset(name, long, args, log)
        rows += new_rows
        memory.append(mem)
    table = C.markdown_table(
        [
            "dataset",
            "n x d (nnz)",
            "labels",
            "dtype",
            "thr",
            "ours ms/epoch",
            "sklearn ms/epoch",
            "per-epoch ratio",
            "ours fixed ms/fit",
            "sklearn fixed ms/fit",
            "whole-fit ratio",
            f"target >= {TARGET:g}x",
        ],
        [
            [
                r["dataset"],
                f"{r['shape'][0]} x {r['shape'][1]} ({r['nnz']})",
                r["labels"],
                r["dtype"],
                r["threads"],
                C.fmt(r["ours_ms_per_epoch"]),
                C.fmt(r["sklearn_ms_per_epoch"]),
                f"{r['ratio_per_epoch']:.2f}x",
                C.fmt(r["ours_fixed_ms"], 1),
                C.fmt(r["sklearn_fixed_ms"], 1),
                f"{r['ratio_long_fit']:.2f}x ({r['long']} ep)",
                C.verdict(r["ratio_per_epoch"] >= TARGET),
            ]
            for r in rows
        ],
    )
    mem_lines = [
        f"- {m['dataset']}: peak of tracked allocations during a 1-epoch fit "
        f"{m['peak_fit_bytes'] / 2**20:.1f} MiB; X as CSR "
        f"{m['csr_X_bytes'] / 2**20:.1f} MiB, as a dense float64 array "
        f"{m['dense_X_bytes'] / 2**20:.1f} MiB"
        for m in memory
    ]
    elapsed = time.perf_counter() - t_start
    report = [
        "# Sparse CSR training (bench_sparse.py)",
        "",
        "```",
        *header,
        "```",
        "",
        "Hidden 100, Adam, ReLU, batch 'auto' (200), tol=0; X stays CSR for both. "
        f"ms/epoch is the slope between fits of {args.short} and the given number of "
        f"epochs (median of {args.repeats} interleaved rounds); fixed ms/fit is the "
        "rest of a fit (validation, initialisation, fresh buffers). Ratios are "
        "sklearn / ours (> 1: ours faster). The whole-fit ratio divides whole fits "
        "of the long length.",
        "",
        table,
        "",
        "Memory (X is never densified):",
        "",
        *mem_lines,
        "",
        f"Total {elapsed:.0f} s; load average at start "
        f"{C.fmt_load(info['load_average_at_start'])}.",
    ]
    text = "\n".join(report) + "\n"
    print("\n" + "\n".join(report[report.index(table) - 2 :]))
    path = args.output or C.default_output("bench_sparse", False)
    C.write_json(
        path,
        {
            "script": "bench_sparse.py",
            "args": {k: v for k, v in vars(args).items() if k != "output"},
            "machine": info,
            "results": rows,
            "memory": memory,
            "elapsed_s": elapsed,
        },
    )
    md = C.write_text(path.with_suffix(".md"), text)
    print(f"\nJSON written to {path}; Markdown to {md}")


if __name__ == "__main__":
    main(ARGS, ENV_INFO)
