"""Inference speed: ``predict_proba`` latency (1 row) and throughput (100 000 rows).

``MultiHeadMLPClassifier`` (d=100, L=14, h=100) against an ``MLPClassifier`` holding
the *same* ``coefs_`` and ``intercepts_`` (the outputs are checked to agree), at 1
and 2 threads (our ``n_threads``; ``threadpoolctl.threadpool_limits`` for sklearn).

* latency: median (and 90th percentile) wall time of ``predict_proba(X[:1])`` over
  many calls, in microseconds; calls alternate between the two estimators in
  blocks so that load from other processes hits both alike;
* throughput: rows per second of ``predict_proba`` on a 100 000 x 100 array
  (median over repeats after a warm-up call).

Run ``python benchmarks/bench_predict.py`` (about a minute) or add ``--quick``.
"""

import argparse

import _common as C

# Medians of the same work differ by a few percent on a quiet machine.
THREADS_TOLERANCE = 0.05


def _parser():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="Fewer calls/repeats.")
    parser.add_argument("--n-features", type=int, default=100)
    parser.add_argument("--n-labels", type=int, default=14)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--n-rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    C.add_common_arguments(parser)
    return parser


if __name__ == "__main__":
    ARGS = _parser().parse_args()
    # Must happen before numpy is imported (OpenBLAS reads them at load time).
    ENV_INFO = C.setup_openblas_env(ARGS.openblas_default)

import os  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from contextlib import nullcontext  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.datasets import make_multilabel_classification  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from skmultihead import MultiHeadMLPClassifier  # noqa: E402


def fitted_pair(d, L, h, seed):
    """Our fitted model and an MLPClassifier with identical parameters."""
    X, Y = make_multilabel_classification(
        n_samples=2000, n_features=d, n_classes=L, n_labels=4, random_state=seed
    )
    X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = MultiHeadMLPClassifier(
            hidden_layer_sizes=(h,), max_iter=20, random_state=seed
        ).fit(X, Y)
        # One epoch only builds sklearn's structure; the weights are replaced.
        theirs = MLPClassifier(hidden_layer_sizes=(h,), max_iter=1, random_state=seed)
        theirs.fit(X, Y)
    theirs.coefs_ = [np.array(c, dtype=np.float64) for c in ours.coefs_]
    theirs.intercepts_ = [np.array(b, dtype=np.float64) for b in ours.intercepts_]
    diff = float(np.max(np.abs(ours.predict_proba(X) - theirs.predict_proba(X))))
    return ours, theirs, X, diff


def latency(models, x, n_calls, block=50):
    """Per-call seconds of ``predict_proba(x)``, calls alternating in blocks."""
    times = {name: [] for name in models}
    for name, (est, ctx) in models.items():
        with ctx():
            for _ in range(20):  # warm-up
                est.predict_proba(x)
    done = 0
    while done < n_calls:
        for name, (est, ctx) in models.items():
            with ctx():
                for _ in range(block):
                    t0 = time.perf_counter_ns()
                    est.predict_proba(x)
                    times[name].append((time.perf_counter_ns() - t0) * 1e-9)
        done += block
    return times


def throughput(models, X, repeats):
    """Seconds per ``predict_proba(X)``, interleaved rounds after a warm-up."""

    def runner(est, ctx):
        def run():
            with ctx():
                t0 = time.perf_counter()
                est.predict_proba(X)
                return time.perf_counter() - t0

        return run

    return C.interleaved(
        {name: runner(est, ctx) for name, (est, ctx) in models.items()}, repeats
    )


def main(args, env_info):
    info = C.machine_info(env_info, with_torch=False)
    header = C.format_header(info)
    print("\n".join(header), flush=True)
    d, L, h = args.n_features, args.n_labels, args.hidden
    n_calls = 500 if args.quick else 3000
    repeats = 3 if args.quick else 7
    ours, theirs, X, diff = fitted_pair(d, L, h, args.seed)
    models_line = (
        f"Models: d={d}, L={L}, h={h}, float64; max |predict_proba difference| = "
        f"{diff:.2e} (same coefs_ and intercepts_)."
    )
    print("\n" + models_line, flush=True)
    rng = np.random.RandomState(args.seed)
    X_big = rng.standard_normal((args.n_rows, d))
    x1 = np.ascontiguousarray(X[:1])
    rows = []
    t_start = time.perf_counter()
    for t in args.threads:
        ours.set_params(n_threads=t)
        models = {
            "MultiHeadMLP": (ours, nullcontext),
            "MLPClassifier": (theirs, lambda t=t: threadpool_limits(t)),
        }
        lat = latency(models, x1, n_calls)
        thr = throughput(models, X_big, repeats)
        for name in models:
            lat_s = np.asarray(lat[name])
            rows.append(
                dict(
                    threads=t,
                    model=name,
                    latency_us_median=float(np.median(lat_s) * 1e6),
                    latency_us_p90=float(np.percentile(lat_s, 90) * 1e6),
                    latency_us_min=float(lat_s.min() * 1e6),
                    latency_calls=int(lat_s.size),
                    throughput_rows_per_s=args.n_rows / C.median(thr[name]),
                    throughput_seconds=thr[name],
                )
            )
    by = {(r["model"], r["threads"]): r for r in rows}
    for r in rows:
        mine = by[("MultiHeadMLP", r["threads"])]
        if r["model"] == "MultiHeadMLP":
            r["ours_latency_speedup"] = r["ours_throughput_speedup"] = None
        else:
            r["ours_latency_speedup"] = (
                r["latency_us_median"] / mine["latency_us_median"]
            )
            r["ours_throughput_speedup"] = (
                mine["throughput_rows_per_s"] / r["throughput_rows_per_s"]
            )

    headers = [
        "thr",
        "model",
        "1-row latency median (µs)",
        "p90",
        "min",
        f"rows/s ({args.n_rows} rows)",
        "latency peer/ours",
        "throughput ours/peer",
    ]
    body = [
        [
            r["threads"],
            r["model"],
            C.fmt(r["latency_us_median"], 1),
            C.fmt(r["latency_us_p90"], 1),
            C.fmt(r["latency_us_min"], 1),
            f"{r['throughput_rows_per_s']:.3g}",
            f"{r['ours_latency_speedup']:.2f}x" if r["ours_latency_speedup"] else "",
            (
                f"{r['ours_throughput_speedup']:.2f}x"
                if r["ours_throughput_speedup"]
                else ""
            ),
        ]
        for r in rows
    ]
    table = C.markdown_table(headers, body)

    targets = []
    for t in args.threads:
        mine, peer = by[("MultiHeadMLP", t)], by[("MLPClassifier", t)]
        lat_us = mine["latency_us_median"]
        targets.append(
            (
                f"predict_proba 1 row <= 50 µs [{t} thr]",
                f"{lat_us:.1f} µs",
                C.verdict(lat_us <= 50),
            )
        )
        targets.append(
            (
                f"predict_proba 1 row faster than MLPClassifier [{t} thr]",
                f"{mine['latency_us_median']:.1f} vs "
                f"{peer['latency_us_median']:.1f} µs",
                C.verdict(mine["latency_us_median"] < peer["latency_us_median"]),
            )
        )
        targets.append(
            (
                f"predict_proba throughput vs MLPClassifier [{t} thr] (no target)",
                f"{peer['ours_throughput_speedup']:.2f}x",
                "info",
            )
        )
    if 1 in args.threads and 2 in args.threads:
        one, two = by[("MultiHeadMLP", 1)], by[("MultiHeadMLP", 2)]
        lat_ratio = two["latency_us_median"] / one["latency_us_median"]
        thr_ratio = one["throughput_rows_per_s"] / two["throughput_rows_per_s"]
        tol = THREADS_TOLERANCE
        targets.append(
            (
                f"2 threads never slower than 1, latency and throughput "
                f"(within {tol:.0%} noise)",
                f"2-thr/1-thr time: {lat_ratio:.2f}, {thr_ratio:.2f}",
                C.verdict(lat_ratio <= 1.0 + tol and thr_ratio <= 1.0 + tol),
            )
        )
    try:
        load_end = os.getloadavg()
    except OSError:  # pragma: no cover
        load_end = None
    elapsed = time.perf_counter() - t_start
    report = [
        "# Inference speed (bench_predict.py)",
        "",
        "```",
        *header,
        "```",
        "",
        "## predict_proba",
        "",
        models_line,
        f"Latency: {n_calls} calls on one row per model and thread count, median, "
        "90th percentile and minimum. Throughput: median over "
        f"{repeats} calls on {args.n_rows} rows. *peer/ours* > 1 and *ours/peer* "
        "> 1 mean ours is faster.",
        "",
        table,
        "",
        "## Targets",
        "",
        C.markdown_table(["target", "measured", "verdict"], targets),
        "",
        f"Total {elapsed:.0f} s; load average at start "
        f"{C.fmt_load(info['load_average_at_start'])}, at the end "
        f"{C.fmt_load(load_end)}.",
    ]
    print("\n" + "\n".join(report[report.index("## predict_proba") :]))
    payload = {
        "script": "bench_predict.py",
        "args": {k: v for k, v in vars(args).items() if k != "output"},
        "machine": info,
        "load_average_at_end": load_end,
        "max_abs_proba_difference": diff,
        "results": rows,
        "targets": [dict(target=a, measured=b, verdict=c) for a, b, c in targets],
        "elapsed_s": elapsed,
    }
    path = args.output or C.default_output("bench_predict", args.quick)
    C.write_json(path, payload)
    md = C.write_text(path.with_suffix(".md"), "\n".join(report) + "\n")
    print(f"\nJSON written to {path}; Markdown to {md}")


if __name__ == "__main__":
    main(ARGS, ENV_INFO)
