"""Training losses compared: the cross-entropy (default) against focal and
asymmetric (ASL) loss, on the MULAN train/test splits.

Each row is ``MultiHeadMLPClassifier`` (or ``BinaryRelevanceMLPClassifier``
with ``--estimator br``) with its defaults but ``loss``/``loss_params``,
behind the scaler of ``bench_quality`` (``make_model``), fitted on
``<name>-train.arff`` and scored on ``<name>-test.arff`` with one thread, for
each of ``--seeds`` (``random_state``: weights, shuffles, folds). Reported:
micro- and macro-F1 of ``predict`` (thresholds tuned by the defaults,
``threshold='auto'``) and LRAP of the probabilities (threshold-free), mean
over seeds, and the difference to the cross-entropy of the same seeds.

Results are cached per (estimator, dataset, loss, seed) in
``results/losses.json`` (with a hash of the ``skmultihead/`` sources, for the
record: ``--force`` refits); the Markdown goes to ``results/losses.md``::

    python benchmarks/bench_losses.py            # emotions yeast scene medical
    python benchmarks/bench_losses.py --datasets emotions --seeds 0
    python benchmarks/bench_losses.py --render
"""

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path[:1]:
    sys.path.insert(0, str(REPO))  # this checkout's skmultihead
sys.path.insert(1, str(HERE))

import numpy as np  # noqa: E402
from bench_quality import DEFAULT_DATA_DIR, load_split  # noqa: E402

from skmultihead import (  # noqa: E402
    BinaryRelevanceMLPClassifier,
    MultiHeadMLPClassifier,
)
from skmultihead._compare_estimators import fit_and_score, make_model  # noqa: E402

DATASETS = ("emotions", "yeast", "scene", "medical")
# name -> (loss, loss_params)
LOSSES = {
    "bce": ("log_loss", None),
    "focal-2": ("focal", {"gamma": 2.0}),
    "focal-1": ("focal", {"gamma": 1.0}),
    "asl-4-0-0.05": ("asymmetric", {"gamma_neg": 4.0, "gamma_pos": 0.0, "clip": 0.05}),
    "asl-2-0-0.05": ("asymmetric", {"gamma_neg": 2.0, "gamma_pos": 0.0, "clip": 0.05}),
}
ESTIMATORS = {"multihead": MultiHeadMLPClassifier, "br": BinaryRelevanceMLPClassifier}
METRICS = ("micro_f1", "macro_f1", "lrap")
FIXED = " (alpha of bce)"  # the rows of --alpha-from-bce


def source_hash():
    digest = hashlib.sha1()
    for path in sorted((REPO / "skmultihead").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def render(payload, estimator):
    results = payload["results"]
    seeds = sorted({r["seed"] for r in results.values() if r["estimator"] == estimator})
    lines = [
        f"# Training losses: {estimator}, defaults but `loss`",
        "",
        f"Test-split scores, mean over seeds {seeds} (random_state); in "
        "brackets the mean ± standard deviation over the seeds of the "
        "difference to `bce` of the same seed. micro/macro: F1 of `predict` "
        "(thresholds tuned out-of-fold, `threshold='auto'`); LRAP: ranking "
        "quality of the probabilities. The default `alpha='auto'` picks the L2 "
        "strength by held-out cross-entropy; rows marked `(alpha of bce)` fix "
        "it instead to the value the cross-entropy chose for the same dataset "
        "and seed. epochs: longest network; fit s: wall-clock seconds with one "
        "thread on a shared machine (runs at different loads: indicative only).",
        "",
        "| dataset | loss | micro-F1 | macro-F1 | LRAP | epochs | fit s |",
        "|---|---|---|---|---|---|---|",
    ]
    names = [*LOSSES, *(f"{name}{FIXED}" for name in LOSSES)]
    for dataset in DATASETS:
        base = {}
        for name in names:
            rows = [
                r
                for r in results.values()
                if r["estimator"] == estimator
                and r["dataset"] == dataset
                and r["loss"] == name
            ]
            if not rows:
                continue
            by_seed = {r["seed"]: r for r in rows}
            if name in ("bce", f"bce{FIXED}"):
                base = by_seed
            cells = []
            for metric in METRICS:
                mean = np.mean([r[metric] for r in rows])
                common = [s for s in by_seed if s in base]
                if base is not by_seed and common:
                    diff = [by_seed[s][metric] - base[s][metric] for s in common]
                    spread = f" ± {np.std(diff):.4f}" if len(diff) > 1 else ""
                    cells.append(f"{mean:.4f} ({np.mean(diff):+.4f}{spread})")
                else:
                    cells.append(f"{mean:.4f}")
            epochs = np.mean([np.max(r["n_iter"]) for r in rows])
            fit = np.mean([r["fit_time"] for r in rows])
            lines.append(
                f"| {dataset} | {name} | {' | '.join(cells)} "
                f"| {epochs:.0f} | {fit:.1f} |"
            )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--losses", nargs="+", default=list(LOSSES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--estimator", choices=list(ESTIMATORS), default="multihead")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--output", type=Path, default=HERE / "results" / "losses.json")
    parser.add_argument("--render", action="store_true", help="only the Markdown")
    parser.add_argument("--force", action="store_true", help="refit cached results")
    parser.add_argument(
        "--alpha-from-bce",
        action="store_true",
        help="fix alpha to the value the cross-entropy chose for the same dataset "
        "and seed (a diagnostic: the default chooses alpha by held-out BCE)",
    )
    args = parser.parse_args()
    payload = {"results": {}}
    if args.output.exists():
        payload = json.loads(args.output.read_text())
    code = source_hash()
    if not args.render:
        for dataset in args.datasets:
            X_train, Y_train, X_test, Y_test, _ = load_split(args.data_dir, dataset)
            for seed in args.seeds:
                for name in args.losses:
                    extra, row = {}, name
                    if args.alpha_from_bce:
                        base = f"{args.estimator}/{dataset}/bce/{seed}"
                        extra["alpha"] = payload["results"][base]["alpha"]
                        row = f"{name}{FIXED}"
                    key = f"{args.estimator}/{dataset}/{row}/{seed}"
                    cached = payload["results"].get(key)
                    if cached is not None and not args.force:
                        continue
                    loss, loss_params = LOSSES[name]
                    clf = ESTIMATORS[args.estimator](
                        loss=loss,
                        loss_params=loss_params,
                        random_state=seed,
                        n_threads=1,
                        **extra,
                    )
                    model = make_model(clf, X_train)
                    r = fit_and_score(
                        model, X_train, Y_train, X_test, Y_test, threads=1
                    )
                    result = {
                        "estimator": args.estimator,
                        "dataset": dataset,
                        "loss": row,
                        "seed": seed,
                        "code": code,
                        "n_iter": r["n_iter"],
                        "fit_time": r["fit_time"],
                        "alpha": model[-1].alpha_,
                        **{m: r[m] for m in METRICS},
                    }
                    payload["results"][key] = result
                    print(
                        f"{key}: micro {r['micro_f1']:.4f} macro {r['macro_f1']:.4f} "
                        f"lrap {r['lrap']:.4f} alpha {model[-1].alpha_:g} "
                        f"{r['fit_time']:.1f}s",
                        flush=True,
                    )
                    tmp = args.output.with_suffix(".tmp")
                    tmp.write_text(json.dumps(payload, indent=1, sort_keys=True))
                    os.replace(tmp, args.output)
    md = "".join(
        render(payload, est) + "\n"
        for est in ESTIMATORS
        if any(r["estimator"] == est for r in payload["results"].values())
    )
    args.output.with_suffix(".md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
