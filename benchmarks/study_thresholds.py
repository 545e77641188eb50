"""Study: how far better thresholds could take the defaults (issue 13).

Fits ``MultiHeadMLPClassifier()`` (the defaults: cross-fitted, thresholds tuned
on the out-of-fold probabilities) on MULAN train/test splits and scores on the
test split, micro- / macro-F1:

* ``averaged``: what ``predict`` does (the kept fold networks' averaged
  probabilities at the tuned thresholds ``threshold_``);
* ``vote``: a majority vote of the kept networks, each at ``threshold_``;
* ``one member``: the first kept network alone at ``threshold_``;
* ``oracle``: the averaged probabilities at per-label thresholds chosen on the
  test split itself (each label's F1-optimal cut among 201 quantiles of its
  scores): an upper bound of what any threshold rule could reach with these
  probabilities, not a method.

Run from the repository root::

    python benchmarks/study_thresholds.py --datasets emotions yeast scene --seeds 0 1
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_quality import DEFAULT_DATA_DIR, scaled_split  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402

from skmultihead import MultiHeadMLPClassifier  # noqa: E402


def oracle_thresholds(P, Y):
    """Per-label F1-optimal threshold on ``(P, Y)`` among 201 quantiles."""
    cuts = np.empty(P.shape[1])
    for j in range(P.shape[1]):
        grid = np.quantile(np.r_[P[:, j], 0.5], np.linspace(0, 1, 201))
        scores = [f1_score(Y[:, j], P[:, j] > c, zero_division=0) for c in grid]
        cuts[j] = grid[int(np.argmax(scores))]
    return cuts


def f1_pair(Y, Z):
    micro = f1_score(Y, Z, average="micro", zero_division=0)
    macro = f1_score(Y, Z, average="macro", zero_division=0)
    return f"{micro:.3f}/{macro:.3f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["emotions", "yeast", "scene"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    print("| dataset | seed | averaged | vote | one member | oracle thresholds |")
    print("|---|---|---|---|---|---|")
    for name in args.datasets:
        X, Y, Xt, Yt, _ = scaled_split(args.data_dir, name)
        for seed in args.seeds:
            est = MultiHeadMLPClassifier(n_threads=1, random_state=seed).fit(X, Y)
            P = est.predict_proba(Xt)
            members = est._raw(Xt, sigmoid=True).reshape(len(Yt), -1, Yt.shape[1])
            cut = est.threshold_
            cells = [
                P > cut,
                (members > cut).mean(axis=1) > 0.5,
                members[:, 0] > cut,
                P > oracle_thresholds(P, Yt),
            ]
            row = " | ".join(f1_pair(Yt, Z) for Z in cells)
            print(f"| {name} | {seed} | {row} |", flush=True)


if __name__ == "__main__":
    main()
