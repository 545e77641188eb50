"""Fit time of the defaults against the scikit-learn-parity network (issue 13's
budget: "within 3x of today's default fit").

For each MULAN training split: ``MultiHeadMLPClassifier(**SKLEARN_PARITY)``
(one network, no early stopping: the default before cross-fitting) and
``MultiHeadMLPClassifier()`` (the defaults), behind the preprocessing of
``bench_quality.py``'s rows (StandardScaler, or MaxAbsScaler for sparse X),
``random_state=0``, at the given thread count (``default``: ``n_threads=None``);
best of ``--repeats`` fits after a warm-up fit that compiles. Run on a quiet machine::

    python benchmarks/bench_defaults_time.py --threads default 1
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_quality import DEFAULT_DATA_DIR, scaled_split  # noqa: E402

from skmultihead import SKLEARN_PARITY, MultiHeadMLPClassifier  # noqa: E402


def best_fit_time(params, X, Y, threads, repeats):
    MultiHeadMLPClassifier(**params, max_iter=2, n_threads=threads).fit(X, Y)
    times = []
    for _ in range(repeats):
        est = MultiHeadMLPClassifier(**params, random_state=0, n_threads=threads)
        start = time.perf_counter()
        est.fit(X, Y)
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=["emotions", "yeast", "scene", "medical", "bibtex"],
    )
    parser.add_argument("--threads", nargs="+", default=["default"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    print("| dataset | threads | parity s | defaults s | ratio |")
    print("|---|---|---|---|---|")
    for name in args.datasets:
        X, Y, _, _, _ = scaled_split(args.data_dir, name)
        repeats = 1 if name == "bibtex" else args.repeats
        for value in args.threads:
            threads = None if value == "default" else int(value)
            parity = best_fit_time(SKLEARN_PARITY, X, Y, threads, repeats)
            ours = best_fit_time({}, X, Y, threads, repeats)
            ratio = ours / parity
            row = f"| {name} | {value} | {parity:.3f} | {ours:.3f} | {ratio:.1f}x |"
            print(row, flush=True)


if __name__ == "__main__":
    main()
