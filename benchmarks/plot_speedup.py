"""Plot the speed-up over MLPClassifier against problem size.

Reads ``results/bench_fit.json`` (and ``results/bench_sparse.json`` when present)
and writes ``results/speedup.png``: for every configuration, the ratio
MLPClassifier time / skmultihead time per epoch at 1 and 2 threads (float64),
with the configurations ordered by FLOPs per epoch. Needs matplotlib (the
``bench`` extra).

Run: ``python benchmarks/plot_speedup.py`` after the benchmark scripts.
"""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def _fit_points():
    data = json.loads((RESULTS / "bench_fit.json").read_text())
    points = []
    for row in data["results"]:
        peer = row["model"] in ("MLPClassifier", "MultiOutputClassifier(MLP)")
        if not peer or row["dtype"] != "float64":
            continue
        cfg = data["configs"][row["config"]]
        flops = 6 * cfg["n"] * (cfg["d"] * cfg["h"] + cfg["h"] * cfg["L"])
        label = f"{row['config']}: n={cfg['n']} d={cfg['d']} L={cfg['L']} "
        label += f"h={cfg['h']} b={cfg['batch']}"
        if row["model"] != "MLPClassifier":  # binary relevance: L networks
            flops *= cfg["L"]
            label = "BR vs MultiOutput(MLP), " + label
        points.append((flops, label, row["threads"], row["ours_speedup"]))
    return points


def _sparse_points():
    path = RESULTS / "bench_sparse.json"
    if not path.exists():
        return []
    points = []
    for row in json.loads(path.read_text())["results"]:
        if row["dtype"] != "float64":
            continue
        n, d = row["shape"]
        flops = 6 * n * (d * 100 + 100 * row["labels"])
        label = f"{row['dataset']} (CSR): n={n} d={d} L={row['labels']} h=100"
        points.append((flops, label, row["threads"], row["ratio_per_epoch"]))
    return points


def main():
    points = sorted(_fit_points() + _sparse_points())
    labels = list(dict.fromkeys(p[1] for p in points))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for threads, marker in ((1, "o"), (2, "s")):
        xs = [labels.index(p[1]) for p in points if p[2] == threads]
        ys = [p[3] for p in points if p[2] == threads]
        ax.plot(xs, ys, marker=marker, linestyle="none", label=f"{threads} thread(s)")
    ax.axhline(1.0, color="gray", linewidth=0.8)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("speed-up over scikit-learn\n(per epoch, float64)")
    ax.set_title("skmultihead vs scikit-learn, ordered by FLOPs per epoch")
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "speedup.png", dpi=110)
    print(f"wrote {RESULTS / 'speedup.png'}")


if __name__ == "__main__":
    main()
