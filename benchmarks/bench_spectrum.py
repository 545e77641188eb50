"""Speed along the sharing spectrum: a trunk + per-label towers network against
its two parts measured alone, and against the same network in PyTorch.

On yeast-sized synthetic data (n=1500, d=103, L=14, ``make_multilabel_classification``,
standardised), batch 200, Adam, ReLU, float64 (PyTorch: float32 and float64), it
measures milliseconds per epoch of:

* ``MultiHead(100) + towers(16)``: ``MultiHeadMLPClassifier(hidden_layer_sizes=(100,),
  tower_layer_sizes=(16,))``;
* its parts alone, ``MultiHead(100)`` and ``BinaryRelevance(16)``, whose sum is
  what the tower network may cost at most (issue target: within 1.3x);
* the tower network in float32 (``dtype='float32'``), against PyTorch's float32;
* the same tower network written as a PyTorch module (trunk ``Linear``, the
  towers as one batched ``einsum`` per layer, ``BCEWithLogitsLoss``), when torch
  is installed (``pip install torch==2.13.0``; not part of any extra).

Every skmultihead model uses ``SKLEARN_PARITY`` (one network, no cross-fitting)
and runs one epoch per ``partial_fit``; the first epochs (compilation, warm-up)
are not timed; the median of the timed epochs is reported. Usage::

    python benchmarks/bench_spectrum.py            # 1 and 2 threads
    python benchmarks/bench_spectrum.py --threads 2 --epochs 30

Writes ``benchmarks/results/bench_spectrum.json`` and ``.md``.
"""

import argparse
import sys
import time

from _common import add_common_arguments, setup_openblas_env

N, D, L, TRUNK, TOWER, BATCH = 1500, 103, 14, 100, 16, 200
TOWERS = "MultiHead(100) + towers(16)"


def _data():
    import numpy as np
    from sklearn.datasets import make_multilabel_classification
    from sklearn.preprocessing import StandardScaler

    X, Y = make_multilabel_classification(
        n_samples=N, n_features=D, n_classes=L, n_labels=4, random_state=0
    )
    return StandardScaler().fit_transform(X), Y.astype(np.float64)


def _ours(model, X, Y, epochs, warmup):
    times = []
    for e in range(warmup + epochs):
        start = time.perf_counter()
        model.partial_fit(X, Y)
        if e >= warmup:
            times.append(time.perf_counter() - start)
    return 1e3 * sorted(times)[len(times) // 2]


def _torch(X, Y, threads, epochs, warmup, dtype_name):
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    dtype = getattr(torch, dtype_name)
    Xt = torch.tensor(X, dtype=dtype)
    Yt = torch.tensor(Y, dtype=dtype)

    class TrunkTowers(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk = torch.nn.Linear(D, TRUNK)
            self.W1 = torch.nn.Parameter(torch.randn(L, TRUNK, TOWER) * 0.1)
            self.b1 = torch.nn.Parameter(torch.zeros(L, TOWER))
            self.W2 = torch.nn.Parameter(torch.randn(L, TOWER, 1) * 0.1)
            self.b2 = torch.nn.Parameter(torch.zeros(L, 1))

        def forward(self, x):
            h = torch.relu(self.trunk(x))
            t = torch.relu(torch.einsum("nh,lht->nlt", h, self.W1) + self.b1)
            return (torch.einsum("nlt,lto->nlo", t, self.W2) + self.b2)[..., 0]

    net = TrunkTowers().to(dtype)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    rng = np.random.RandomState(0)
    times = []
    for e in range(warmup + epochs):
        start = time.perf_counter()
        perm = torch.from_numpy(rng.permutation(N))
        for i in range(0, N, BATCH):
            idx = perm[i : i + BATCH]
            opt.zero_grad()
            loss = loss_fn(net(Xt[idx]), Yt[idx])
            loss.backward()
            opt.step()
        if e >= warmup:
            times.append(time.perf_counter() - start)
    return 1e3 * sorted(times)[len(times) // 2]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args(argv)
    env = setup_openblas_env(args.openblas_default)

    import json

    from _common import RESULTS_DIR

    from skmultihead import (
        SKLEARN_PARITY,
        BinaryRelevanceMLPClassifier,
        MultiHeadMLPClassifier,
    )

    X, Y = _data()
    rows = []
    for threads in args.threads:
        common = dict(SKLEARN_PARITY, random_state=0, n_threads=threads)
        models = {
            "MultiHead(100) + towers(16)": MultiHeadMLPClassifier(
                **{
                    **common,
                    "hidden_layer_sizes": (TRUNK,),
                    "tower_layer_sizes": (TOWER,),
                }
            ),
            "towers float32": MultiHeadMLPClassifier(
                **{
                    **common,
                    "hidden_layer_sizes": (TRUNK,),
                    "tower_layer_sizes": (TOWER,),
                    "dtype": "float32",
                }
            ),
            "MultiHead(100)": MultiHeadMLPClassifier(
                **{**common, "hidden_layer_sizes": (TRUNK,)}
            ),
            "BinaryRelevance(16)": BinaryRelevanceMLPClassifier(
                **{**common, "hidden_layer_sizes": (TOWER,)}
            ),
        }
        ms = {
            name: _ours(model, X, Y, args.epochs, args.warmup)
            for name, model in models.items()
        }
        row = {"threads": threads, **{k: round(v, 3) for k, v in ms.items()}}
        parts = ms["MultiHead(100)"] + ms["BinaryRelevance(16)"]
        row["towers / (MultiHead + BR)"] = round(
            ms["MultiHead(100) + towers(16)"] / parts, 3
        )
        try:
            import torch  # noqa: F401
        except ImportError:
            row["torch"] = "not installed"
        else:
            for dt in ("float32", "float64"):
                t = _torch(X, Y, threads, args.epochs, args.warmup, dt)
                ours = ms["towers float32" if dt == "float32" else TOWERS]
                row[f"PyTorch {dt}"] = round(t, 3)
                row[f"PyTorch {dt} / towers {dt}"] = round(t / ours, 2)
        rows.append(row)
        print(json.dumps(row), flush=True)
    out = args.output or RESULTS_DIR / "bench_spectrum.json"
    out.write_text(json.dumps({"environment": env, "results": rows}, indent=2))
    lines = [
        "# Sharing spectrum: ms per epoch (median), n=1500, d=103, L=14, batch 200",
        "",
        "| " + " | ".join(rows[0]) + " |",
        "|" + "---|" * len(rows[0]),
    ]
    lines += ["| " + " | ".join(str(v) for v in r.values()) + " |" for r in rows]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
