"""Our rows of ``bench_quality.py`` over several seeds: mean +- sd.

A single fit's test-split F1 moves by 0.01-0.02 with ``random_state`` (fold
assignment, initialisation, shuffles), as much as some of issue 13's margins.
This script runs ``bench_quality.py --only ours`` once per seed (results in
``results/quality_seeds/seed_<S>.{json,md}``, cached there like
``bench_quality``'s own), then writes ``results/quality_seeds.md``: per dataset,
the best anchor of ``results/quality.json`` (``random_state=0``), the mean +- sd
over the seeds of each of our rows (micro- and macro-F1, fit time), and issue
13's targets for the defaults judged on the mean.

Run from the repository root (about 8 minutes for three seeds, most of it
bibtex)::

    python benchmarks/quality_seeds.py --seeds 0 1 2
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_quality as BQ  # noqa: E402

# Issue 13's targets for the defaults (micro-F1, macro-F1).
TARGETS = {
    "emotions": (0.71, 0.70),
    "yeast": (0.65, 0.48),
    "scene": (0.76, 0.77),
    "medical": (0.75, 0.33),
    "bibtex": (0.44, 0.32),
}


def run_seeds(args):
    """One ``bench_quality`` run per seed; the paths of their JSON files."""
    paths = []
    for seed in args.seeds:
        md = args.folder / f"seed_{seed}.md"
        argv = ["--only", "ours", "--random-state", str(seed), "--output", str(md)]
        argv += ["--rows", *args.rows, "--datasets", *args.datasets]
        argv += ["--data-dir", str(args.data_dir)]
        if BQ.main(argv):
            raise SystemExit(f"bench_quality failed for seed {seed}")
        paths.append(md.with_suffix(".json"))
    return paths


def _stat(values, fmt):
    values = np.asarray(values, dtype=float)
    sd = values.std(ddof=1) if values.size > 1 else 0.0
    return f"{values.mean():{fmt}} ± {sd:{fmt}}"


def render(args, paths):
    runs = [json.loads(p.read_text()) for p in paths]
    anchors = json.loads(args.anchors.read_text()) if args.anchors.exists() else None
    lines = [
        "# Our rows over several seeds (quality_seeds.py)",
        "",
        f"Seeds {', '.join(map(str, args.seeds))}; `bench_quality.py --only ours "
        "--random-state S` per seed (one thread per fit; fit times indicative). "
        "Mean ± sd over the seeds; the best anchor is that of `quality.json` "
        "(random_state=0). Targets: issue 13, for the defaults (`multihead`), "
        "judged on the mean.",
        "",
        "| dataset | row | micro-F1 | macro-F1 | fit s | best anchor micro / macro "
        "| target micro / macro |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in args.datasets:
        best = "—"
        if anchors is not None and name in anchors["datasets"]:
            results = anchors["datasets"][name]["results"]
            micro = BQ.best_anchor(results, "micro_f1")
            macro = BQ.best_anchor(results, "macro_f1")
            if micro and macro:
                best = f"{micro[1]:.3f} / {macro[1]:.3f}"
        for row in args.rows:
            entries = [r["datasets"].get(name, {}).get("results", {}) for r in runs]
            entries = [e.get(row) for e in entries if BQ._ok(e.get(row))]
            if not entries:
                continue
            micro = [e["micro_f1"] for e in entries]
            macro = [e["macro_f1"] for e in entries]
            target = "—"
            if row == "multihead" and name in TARGETS:
                t_micro, t_macro = TARGETS[name]
                verdict = [
                    "met" if np.mean(v) >= t else "missed"
                    for v, t in ((micro, t_micro), (macro, t_macro))
                ]
                target = f"{t_micro:.2f} {verdict[0]} / {t_macro:.2f} {verdict[1]}"
            lines.append(
                f"| {name} | {BQ._name(runs[0], row)} | {_stat(micro, '.3f')} "
                f"| {_stat(macro, '.3f')} "
                f"| {_stat([e['fit_time'] for e in entries], '.2f')} "
                f"| {best} | {target} |"
            )
    args.output.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=list(TARGETS))
    parser.add_argument("--rows", nargs="+", default=["multihead", "multihead-parity"])
    parser.add_argument("--data-dir", type=Path, default=BQ.DEFAULT_DATA_DIR)
    parser.add_argument(
        "--folder", type=Path, default=HERE / "results" / "quality_seeds"
    )
    parser.add_argument(
        "--anchors", type=Path, default=HERE / "results" / "quality.json"
    )
    parser.add_argument(
        "--output", type=Path, default=HERE / "results" / "quality_seeds.md"
    )
    parser.add_argument("--render", action="store_true", help="only the Markdown")
    args = parser.parse_args(argv)
    args.folder.mkdir(parents=True, exist_ok=True)
    if args.render:
        paths = [args.folder / f"seed_{s}.json" for s in args.seeds]
    else:
        paths = run_seeds(args)
    render(args, paths)


if __name__ == "__main__":
    main()
