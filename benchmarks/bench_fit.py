"""Training speed of skmultihead against its peers (ms per epoch), plus compile time.

Measures, with identical hyper-parameters (Adam, ReLU, alpha=1e-4, tol=0, a fixed
number of epochs, shuffling, Glorot-uniform initialisation):

* ``MultiHeadMLPClassifier`` vs ``MLPClassifier`` on three synthetic problems
  (a) n=2000, d=100, L=14, h=100, batch 200; (b) the same with batch 32;
  (c) n=20000, d=500, L=100, h=256, batch 256, in float64 and float32;
* the same at a large label count (issue 16): ``L1000`` dense n=5000, d=500,
  L=1000, h=100, batch 200, and ``L1000s`` the same shape as CSR with about 25
  non-zeros per row (``_synthetic.make_text_multilabel``);
* the same network in PyTorch (when importable) for (a) and (c), both dtypes;
* ``BinaryRelevanceMLPClassifier`` vs ``MultiOutputClassifier(MLPClassifier)`` and vs
  ``MultiHeadMLPClassifier(hidden_layer_sizes=(L*h,))`` on yeast-sized data;
* achieved GFLOP/s next to the numpy GEMM peak measured in the same run;
* cold Numba compile time and the warm-cache first-fit overhead, in subprocesses.

Our estimators are built from ``skmultihead.SKLEARN_PARITY`` (one network, no
cross-fitting, no alpha search, no early stopping), so that they train the same
network as the peers. Every peer is timed in the same run, in interleaved rounds;
compare the ratios, not the absolute times, across machines or runs. See
benchmarks/README.md.

Run ``python benchmarks/bench_fit.py`` (a few minutes) or add ``--quick``.
"""

import argparse
import os
import sys

import _common as C

CONFIGS = {
    # name: problem size, network, batch, epochs (full run, --quick run), repeats
    "a": dict(n=2000, d=100, L=14, h=100, batch=200, epochs=(20, 5), repeats=5),
    "b": dict(n=2000, d=100, L=14, h=100, batch=32, epochs=(10, 3), repeats=5),
    "c": dict(n=20000, d=500, L=100, h=256, batch=256, epochs=(3, 1), repeats=3),
    "yeast": dict(n=1500, d=103, L=14, h=100, batch=200, epochs=(20, 5), repeats=3),
    # Issue 16, large label counts: dense, and CSR at ~25 non-zeros per row.
    "L1000": dict(n=5000, d=500, L=1000, h=100, batch=200, epochs=(4, 2), repeats=3),
    "L1000s": dict(
        n=5000,
        d=500,
        L=1000,
        h=100,
        batch=200,
        epochs=(4, 2),
        repeats=3,
        sparse=True,
        nnz_per_row=25,
    ),
}
TORCH_CONFIGS = ("a", "c")
# Two medians of the same work differ by a few percent on a quiet machine:
# "2 threads slower than 1" is only reported beyond this margin.
THREADS_TOLERANCE = 0.05
FLOAT32_CONFIGS = ("c",)

TARGETS_TEXT = {
    "a": "(a) batch 200: >= 3x MLPClassifier",
    "b": "(b) batch 32: >= 4x MLPClassifier",
    "c": "(c) >= 1.5x MLPClassifier",
    "c32_torch": "(c) float32: >= 1.0x PyTorch float32",
    "c32_peak": "(c) float32: >= 40% of the float32 GEMM peak",
    "L1000": "L=1000 dense: MultiHead >= 3x MLPClassifier at 2 threads",
    "L1000s": "L=1000 sparse: MultiHead >= 3x MLPClassifier at 2 threads",
    "br_moc": "BR >= 3x MultiOutputClassifier(MLPClassifier)",
    "br_mh": "BR within 1.3x of MultiHead(h=L*h)",
    "cold": "cold compile <= 15 s",
    "warm": "warm-cache first fit+predict <= 0.5 s",
    "threads": "2 threads never slower than 1",
}


def _parser():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="Fewer epochs/repeats.")
    parser.add_argument(
        "--configs",
        nargs="+",
        choices=list(CONFIGS),
        default=list(CONFIGS),
        help="Problems to run.",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="Override the repeat count (>= 3)."
    )
    parser.add_argument("--no-torch", action="store_true", help="Skip PyTorch.")
    parser.add_argument(
        "--no-compile", action="store_true", help="Skip the compile-time subprocesses."
    )
    parser.add_argument("--seed", type=int, default=0)
    C.add_common_arguments(parser)
    return parser


if __name__ == "__main__":
    ARGS = _parser().parse_args()
    # Must happen before numpy is imported (OpenBLAS reads them at load time).
    ENV_INFO = C.setup_openblas_env(ARGS.openblas_default)

import json  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from contextlib import nullcontext  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from _synthetic import make_text_multilabel  # noqa: E402
from sklearn.datasets import make_multilabel_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.multioutput import MultiOutputClassifier  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from skmultihead import (  # noqa: E402
    SKLEARN_PARITY,
    BinaryRelevanceMLPClassifier,
    MultiHeadMLPClassifier,
)

# --------------------------------------------------------------------------------
# Data and models
# --------------------------------------------------------------------------------


def make_data(n, d, L, seed):
    """Standardised ``make_multilabel_classification`` data (float64, int Y).

    Every label gets positives and negatives: with many labels (L=1000, about 20
    positives each) a few columns come out empty, and one is given two random
    rows (these positives do not depend on X; they only keep every column a
    two-class problem, as it would be in real data).
    """
    X, Y = make_multilabel_classification(
        n_samples=n, n_features=d, n_classes=L, n_labels=4, random_state=seed
    )
    X = np.ascontiguousarray(StandardScaler().fit_transform(X), dtype=np.float64)
    rng = np.random.RandomState(seed)
    for j in np.flatnonzero(Y.sum(axis=0) == 0):
        Y[rng.choice(n, size=2, replace=False), j] = 1
    for j in np.flatnonzero(Y.sum(axis=0) == n):
        Y[rng.choice(n, size=2, replace=False), j] = 0
    return X, Y


def make_config_data(cfg, seed):
    """The data of one configuration: dense (``make_data``) or CSR text-like."""
    if cfg.get("sparse"):
        # tokens_per_row=30 gives 25.0 distinct features per row at d=500, L=1000.
        tokens = {25: 30.0}.get(cfg["nnz_per_row"], 1.2 * cfg["nnz_per_row"])
        X, Y = make_text_multilabel(
            cfg["n"],
            cfg["d"],
            cfg["L"],
            tokens_per_row=tokens,
            mean_labels=4.0,
            label_exponent=0.5,
            seed=seed,
        )
        return X, np.asarray(Y, dtype=np.int64)
    return make_data(cfg["n"], cfg["d"], cfg["L"], seed)


def ours_params(**params):
    """Our estimators' parameters: ``SKLEARN_PARITY`` updated with ``params``."""
    return {**SKLEARN_PARITY, **params}


def mlp_params(h, batch, epochs, seed):
    """Hyper-parameters shared by MLPClassifier and our estimators."""
    return dict(
        hidden_layer_sizes=(h,) if np.isscalar(h) else tuple(h),
        activation="relu",
        solver="adam",
        alpha=1e-4,
        batch_size=batch,
        learning_rate_init=1e-3,
        max_iter=epochs,
        tol=0.0,
        # Never stop early: every model runs exactly ``epochs`` epochs.
        n_iter_no_change=epochs + 1,
        shuffle=True,
        early_stopping=False,
        random_state=seed,
    )


def flops_per_epoch(n, layer_products):
    """6 n sum(fan_in * fan_out): forward, weight gradient and delta products."""
    return 6.0 * n * float(sum(layer_products))


def _check_epochs(est, epochs):
    """Number of epochs actually run (all sub-estimators for a meta-estimator)."""
    if hasattr(est, "estimators_"):
        return [int(np.max(e.n_iter_)) for e in est.estimators_]
    return [int(np.max(est.n_iter_))]


def fit_runner(make_estimator, X, Y, threads, blas_limit, epochs, log):
    """A callable timing one ``fit``: returns (wall, CPU) seconds.

    ``blas_limit`` wraps the fit in ``threadpool_limits(threads)`` (sklearn peers).
    """

    def run():
        est = make_estimator()
        ctx = threadpool_limits(threads) if blas_limit else nullcontext()
        with ctx, warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            c0, t0 = time.process_time(), time.perf_counter()
            est.fit(X, Y)
            elapsed = time.perf_counter() - t0, time.process_time() - c0
        done = _check_epochs(est, epochs)
        if any(e != epochs for e in done):
            log.append(f"ran {sorted(set(done))} epochs instead of {epochs}")
        return elapsed

    return run


def torch_runner(torch, X, Y, h, batch, epochs, threads, dtype, seed):
    """A callable timing the same network trained in PyTorch: (wall, CPU) seconds.

    nn.Sequential(Linear, ReLU, Linear), Glorot-uniform weights and biases (as
    MLPClassifier draws them), Adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8) with an
    L2 term ``alpha / batch`` on the weights only (sklearn's penalty), and
    ``BCEWithLogitsLoss(reduction='sum') / batch`` (sklearn's loss scale).
    """
    nn = torch.nn
    tdtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
    Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=dtype))
    Yt = torch.from_numpy(np.ascontiguousarray(Y, dtype=dtype))
    n, d = Xt.shape
    L = Yt.shape[1]
    alpha = 1e-4

    def run():
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            gen = torch.Generator().manual_seed(seed)
            c0, t0 = time.process_time(), time.perf_counter()
            net = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, L)).to(tdtype)
            with torch.no_grad():
                for lin in (net[0], net[2]):
                    bound = float(np.sqrt(6.0 / (lin.in_features + lin.out_features)))
                    lin.weight.uniform_(-bound, bound, generator=gen)
                    lin.bias.uniform_(-bound, bound, generator=gen)
            opt = torch.optim.Adam(
                [
                    {
                        "params": [net[0].weight, net[2].weight],
                        "weight_decay": alpha / batch,
                    },
                    {"params": [net[0].bias, net[2].bias], "weight_decay": 0.0},
                ],
                lr=1e-3,
                betas=(0.9, 0.999),
                eps=1e-8,
            )
            loss_fn = nn.BCEWithLogitsLoss(reduction="sum")
            for _ in range(epochs):
                perm = torch.randperm(n, generator=gen)
                for start in range(0, n, batch):
                    idx = perm[start : start + batch]
                    opt.zero_grad(set_to_none=True)
                    loss = loss_fn(net(Xt[idx]), Yt[idx]) / idx.shape[0]
                    loss.backward()
                    opt.step()
            return time.perf_counter() - t0, time.process_time() - c0
        finally:
            torch.set_num_threads(previous)

    return run


# --------------------------------------------------------------------------------
# Benchmarks
# --------------------------------------------------------------------------------


def bench_config(name, cfg, threads, epochs, repeats, torch, seed, log):
    """Rows of one synthetic configuration at one thread count."""
    X, Y = make_config_data(cfg, seed)
    n, d, L, h, batch = cfg["n"], cfg["d"], cfg["L"], cfg["h"], cfg["batch"]
    kw = mlp_params(h, batch, epochs, seed)
    runners, meta = {}, {}

    def add(model, dtype, runner, products, ref):
        key = f"{model} {dtype}"
        runners[key] = runner
        meta[key] = dict(model=model, dtype=dtype, products=products, ref=ref)

    if name == "yeast":
        Lh = L * h
        add(
            "BinaryRelevanceMLP",
            "float64",
            fit_runner(
                lambda: BinaryRelevanceMLPClassifier(
                    **ours_params(**kw), n_threads=threads
                ),
                X,
                Y,
                threads,
                False,
                epochs,
                log,
            ),
            [d * Lh, Lh],
            None,
        )
        add(
            "MultiOutputClassifier(MLP)",
            "float64",
            fit_runner(
                lambda: MultiOutputClassifier(MLPClassifier(**kw)),
                X,
                Y,
                threads,
                True,
                epochs,
                log,
            ),
            [d * Lh, Lh],
            "BinaryRelevanceMLP float64",
        )
        add(
            f"MultiHeadMLP(h={Lh})",
            "float64",
            fit_runner(
                lambda: MultiHeadMLPClassifier(
                    **ours_params(**mlp_params(Lh, batch, epochs, seed)),
                    n_threads=threads,
                ),
                X,
                Y,
                threads,
                False,
                epochs,
                log,
            ),
            [d * Lh, Lh * L],
            "BinaryRelevanceMLP float64",
        )
    else:
        # CSR: the first layer's products run over the non-zeros only, so its
        # fan-in counts as the mean number of non-zeros per row.
        fan_in = X.nnz / n if cfg.get("sparse") else d
        products = [fan_in * h, h * L]
        dtypes = ["float64"] + (["float32"] if name in FLOAT32_CONFIGS else [])
        for dtype in dtypes:
            if cfg.get("sparse"):
                Xd = X.astype(dtype)
            else:
                Xd = np.ascontiguousarray(X, dtype=dtype)
            ours = f"MultiHeadMLP {dtype}"
            add(
                "MultiHeadMLP",
                dtype,
                fit_runner(
                    lambda: MultiHeadMLPClassifier(
                        **ours_params(**kw), n_threads=threads
                    ),
                    Xd,
                    Y,
                    threads,
                    False,
                    epochs,
                    log,
                ),
                products,
                None,
            )
            add(
                "MLPClassifier",
                dtype,
                fit_runner(
                    lambda: MLPClassifier(**kw), Xd, Y, threads, True, epochs, log
                ),
                products,
                ours,
            )
        if torch is not None and name in TORCH_CONFIGS:
            for dtype in ("float32", "float64"):
                ref = f"MultiHeadMLP {dtype}"
                add(
                    "PyTorch",
                    dtype,
                    torch_runner(torch, X, Y, h, batch, epochs, threads, dtype, seed),
                    products,
                    ref if ref in runners else "MultiHeadMLP float64",
                )

    times = C.interleaved(runners, repeats)
    rows = []
    for key, pairs in times.items():
        m = meta[key]
        ts = [wall for wall, _ in pairs]
        cpu = [c for _, c in pairs]
        ms = C.median(ts) / epochs * 1e3
        rows.append(
            dict(
                config=name,
                threads=threads,
                model=m["model"],
                dtype=m["dtype"],
                ref=m["ref"],
                epochs=epochs,
                repeats=repeats,
                ms_per_epoch=ms,
                ms_per_epoch_min=min(ts) / epochs * 1e3,
                cpu_ms_per_epoch=C.median(cpu) / epochs * 1e3,
                fit_seconds=ts,
                fit_cpu_seconds=cpu,
                gflops=flops_per_epoch(n, m["products"]) / (ms * 1e-3) / 1e9,
            )
        )
    by_key = {f"{r['model']} {r['dtype']}": r for r in rows}
    for r in rows:
        r["ours_speedup"] = (
            r["ms_per_epoch"] / by_key[r["ref"]]["ms_per_epoch"] if r["ref"] else None
        )
    return rows


_COMPILE_CHILD = r"""
import json, time, warnings
t0, c0 = time.perf_counter(), time.process_time()
import numpy as np
import skmultihead
from skmultihead import MultiHeadMLPClassifier
t1 = time.perf_counter()
rng = np.random.RandomState(0)
X = rng.standard_normal((60, 5))
Y = (rng.rand(60, 3) > 0.5).astype(int)
def fit_predict(X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MultiHeadMLPClassifier(hidden_layer_sizes=(4,), max_iter=2, tol=0.0,
                                     random_state=0).fit(X, Y)
        clf.predict_proba(X)
t2, c2 = time.perf_counter(), time.process_time(); fit_predict(X)
t3, c3 = time.perf_counter(), time.process_time(); fit_predict(X)
t4 = time.perf_counter(); fit_predict(X.astype(np.float32))
t5 = time.perf_counter()
print(json.dumps(dict(import_s=t1 - t0, first_fit_predict_s=t3 - t2,
                      second_fit_predict_s=t4 - t3, float32_first_fit_predict_s=t5 - t4,
                      import_fit_predict_s=t3 - t0,
                      import_fit_predict_cpu_s=c3 - c0,
                      first_fit_predict_cpu_s=c3 - c2)))
"""


def _package_fingerprint():
    """Size and mtime of every skmultihead source file (numba's cache key)."""
    import skmultihead

    root = Path(skmultihead.__file__).parent
    return sorted(
        (str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*.py")
    )


def bench_compile(max_tries=3):
    """Cold compile (empty NUMBA_CACHE_DIR) and warm-cache first-fit overhead.

    Numba's cache is keyed on the source files' timestamps, so if skmultihead is
    edited while this runs the "warm" process recompiles; the pair of runs is then
    repeated (up to ``max_tries`` times) and the result flagged.
    """
    for attempt in range(1, max_tries + 1):
        before = _package_fingerprint()
        out = {"attempt": attempt}
        with tempfile.TemporaryDirectory(prefix="skmh-numba-cache-") as cache:
            env = dict(os.environ, NUMBA_CACHE_DIR=cache)
            for phase in ("cold", "warm"):
                t0 = time.perf_counter()
                proc = subprocess.run(
                    [sys.executable, "-c", _COMPILE_CHILD],
                    env=env,
                    cwd=tempfile.gettempdir(),
                    capture_output=True,
                    text=True,
                    timeout=900,
                )
                wall = time.perf_counter() - t0
                if proc.returncode != 0:
                    out[phase] = {"error": proc.stderr[-2000:]}
                    continue
                res = json.loads(proc.stdout.strip().splitlines()[-1])
                res["process_wall_s"] = wall
                out[phase] = res
            out["cache_files"] = sum(len(f) for _, _, f in os.walk(cache))
        out["sources_changed_during_run"] = _package_fingerprint() != before
        if not out["sources_changed_during_run"]:
            break
    return out


# --------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------


def _row_label(r):
    cfg = CONFIGS[r["config"]]
    if r["config"] == "yeast":
        shape = f"yeast-size n={cfg['n']} d={cfg['d']} L={cfg['L']} h={cfg['h']}"
    elif cfg.get("sparse"):
        shape = (
            f"({r['config']}) CSR n={cfg['n']} d={cfg['d']} "
            f"~{cfg['nnz_per_row']} nnz/row L={cfg['L']} h={cfg['h']}"
        )
    else:
        shape = f"({r['config']}) n={cfg['n']} d={cfg['d']} L={cfg['L']} h={cfg['h']}"
    return f"{shape} b={cfg['batch']}"


def results_table(rows, peaks):
    headers = [
        "problem",
        "thr",
        "model",
        "dtype",
        "ms/epoch",
        "min",
        "CPU",
        "GFLOP/s",
        "% GEMM peak",
        "peer/ours",
    ]
    body = []
    for r in rows:
        peak = peaks.get(f"{r['dtype']}/{r['threads']}", {}).get("gflops_best")
        body.append(
            [
                _row_label(r),
                r["threads"],
                r["model"],
                r["dtype"],
                C.fmt(r["ms_per_epoch"]),
                C.fmt(r["ms_per_epoch_min"]),
                C.fmt(r["cpu_ms_per_epoch"]),
                C.fmt(r["gflops"], 1),
                f"{100 * r['gflops'] / peak:.0f}%" if peak else "—",
                f"{r['ours_speedup']:.2f}x" if r["ours_speedup"] else "(ours)",
            ]
        )
    return C.markdown_table(headers, body)


def evaluate_targets(rows, peaks, compile_res, threads):
    """List of (target, measured, verdict) rows."""

    def find(config, model, dtype, t):
        for r in rows:
            if (r["config"], r["model"], r["dtype"], r["threads"]) == (
                config,
                model,
                dtype,
                t,
            ):
                return r
        return None

    out = []

    def ratio_target(key, config, model, dtype, t, bound, ref_model=None):
        r = find(config, model, dtype, t)
        if r is None:
            return
        if ref_model is None:
            value = r["ours_speedup"]
        else:
            other = find(config, ref_model, dtype, t)
            if other is None:
                return
            value = r["ms_per_epoch"] / other["ms_per_epoch"]
        if key == "br_mh":
            ok = value <= bound
            text = f"BR/MH = {value:.2f}"
        else:
            ok = value >= bound
            text = f"{value:.2f}x"
        out.append((f"{TARGETS_TEXT[key]} [{t} thr]", text, C.verdict(ok)))

    for t in threads:
        ratio_target("a", "a", "MLPClassifier", "float64", t, 3.0)
        ratio_target("b", "b", "MLPClassifier", "float64", t, 4.0)
        ratio_target("c", "c", "MLPClassifier", "float64", t, 1.5)
        ratio_target("c32_torch", "c", "PyTorch", "float32", t, 1.0)
        if t == 2:
            ratio_target("L1000", "L1000", "MLPClassifier", "float64", t, 3.0)
            ratio_target("L1000s", "L1000s", "MLPClassifier", "float64", t, 3.0)
        ours32 = find("c", "MultiHeadMLP", "float32", t)
        peak = peaks.get(f"float32/{t}", {}).get("gflops_best")
        if ours32 and peak:
            pct = ours32["gflops"] / peak
            out.append(
                (
                    f"{TARGETS_TEXT['c32_peak']} [{t} thr]",
                    f"{ours32['gflops']:.1f} of {peak:.1f} GFLOP/s = {100 * pct:.0f}%",
                    C.verdict(pct >= 0.40),
                )
            )
        ratio_target("br_moc", "yeast", "MultiOutputClassifier(MLP)", "float64", t, 3.0)
        L, h = CONFIGS["yeast"]["L"], CONFIGS["yeast"]["h"]
        ratio_target(
            "br_mh",
            "yeast",
            "BinaryRelevanceMLP",
            "float64",
            t,
            1.3,
            ref_model=f"MultiHeadMLP(h={L * h})",
        )
    if compile_res:
        cold = compile_res.get("cold", {}).get("import_fit_predict_s")
        warm = compile_res.get("warm", {}).get("first_fit_predict_s")
        if cold is not None:
            out.append((TARGETS_TEXT["cold"], f"{cold:.2f} s", C.verdict(cold <= 15)))
        if warm is not None:
            out.append((TARGETS_TEXT["warm"], f"{warm:.3f} s", C.verdict(warm <= 0.5)))
    if 1 in threads and 2 in threads:
        worst, worst_name = None, None
        for r in rows:
            if r["ref"] is not None or r["threads"] != 2:
                continue
            one = find(r["config"], r["model"], r["dtype"], 1)
            if one is None:
                continue
            ratio = r["ms_per_epoch"] / one["ms_per_epoch"]
            if worst is None or ratio > worst:
                worst, worst_name = ratio, f"({r['config']}) {r['model']} {r['dtype']}"
        if worst is not None:
            out.append(
                (
                    TARGETS_TEXT["threads"]
                    + f" (within {THREADS_TOLERANCE:.0%} noise)",
                    f"worst 2-thr/1-thr time = {worst:.2f} ({worst_name})",
                    C.verdict(worst <= 1.0 + THREADS_TOLERANCE),
                )
            )
    return out


def compile_lines(compile_res):
    """Markdown lines reporting the compile-time subprocesses."""
    cold, warm = compile_res.get("cold", {}), compile_res.get("warm", {})
    if "error" in cold or "error" in warm:
        error = cold.get("error") or warm.get("error")
        return ["Compile measurement failed:", "", "```", error, "```"]
    lines = [
        f"- **Compile time** (cold, empty `NUMBA_CACHE_DIR`): import + tiny fit + "
        f"predict **{cold['import_fit_predict_s']:.2f} s** wall, "
        f"{cold['import_fit_predict_cpu_s']:.2f} s CPU (import "
        f"{cold['import_s']:.2f} s, first tiny fit+predict "
        f"{cold['first_fit_predict_s']:.2f} s; the float32 specialisation adds "
        f"{cold['float32_first_fit_predict_s']:.2f} s on its first use).",
        f"- **Warm-cache first-fit overhead** (new process, filled cache): first "
        f"tiny fit+predict **{warm['first_fit_predict_s']:.3f} s** (steady state "
        f"{warm['second_fit_predict_s']:.3f} s; float32 first use "
        f"{warm['float32_first_fit_predict_s']:.3f} s; import "
        f"{warm['import_s']:.2f} s).",
    ]
    if compile_res.get("sources_changed_during_run"):
        lines.append(
            "- WARNING: skmultihead's sources changed during every attempt, so the "
            "warm process recompiled; these compile numbers are not reliable."
        )
    return lines


def main(args, env_info):
    quick = args.quick
    torch = None if args.no_torch else C.torch_or_none()
    info = C.machine_info(env_info, with_torch=torch is not None)
    header = C.format_header(info)
    if torch is None:
        why = "--no-torch" if args.no_torch else "torch is not importable"
        header.append(f"PyTorch comparison skipped ({why}).")
    print("\n".join(header), flush=True)

    t_start = time.perf_counter()
    peaks = C.gemm_peak(args.threads, repeats=3 if quick else 5)
    peak_lines = [
        f"- {key.split('/')[0]}, {key.split('/')[1]} thread(s): "
        f"**{p['gflops_best']:.1f} GFLOP/s** (median {p['gflops_median']:.1f})"
        for key, p in peaks.items()
    ]
    print("\nGEMM peak (numpy matmul 2000x2000, best of runs):")
    print("\n".join(peak_lines), flush=True)

    compile_res, compile_text = None, []
    if not args.no_compile:
        compile_res = bench_compile()
        compile_text = compile_lines(compile_res)
        print()
        print("\n".join(compile_text), flush=True)

    rows, log = [], []
    for name in args.configs:
        cfg = CONFIGS[name]
        epochs = cfg["epochs"][1 if quick else 0]
        repeats = max(3, args.repeats or (3 if quick else cfg["repeats"]))
        for t in args.threads:
            t0 = time.perf_counter()
            new = bench_config(name, cfg, t, epochs, repeats, torch, args.seed, log)
            rows.extend(new)
            print(
                f"\n[{_row_label(new[0])}, {t} thr, {epochs} epochs x {repeats} "
                f"repeats: {time.perf_counter() - t0:.1f} s]"
            )
            for r in new:
                extra = f"  {r['ours_speedup']:.2f}x" if r["ours_speedup"] else ""
                print(
                    f"  {r['model']:<28} {r['dtype']:<8} "
                    f"{r['ms_per_epoch']:9.2f} ms/epoch{extra}"
                )
            sys.stdout.flush()

    # A second peak measurement at the end: a busy moment at the start would
    # otherwise understate the machine's peak. The best of both is used.
    peaks_end = C.gemm_peak(args.threads, repeats=3 if quick else 5)
    for key, p in peaks_end.items():
        p_start = peaks[key]
        p_start["gflops_best_start"] = p_start["gflops_best"]
        p_start["gflops_best_end"] = p["gflops_best"]
        p_start["gflops_best"] = max(p_start["gflops_best"], p["gflops_best"])
    peak_lines = [
        f"- {key.split('/')[0]}, {key.split('/')[1]} thread(s): "
        f"**{p['gflops_best']:.1f} GFLOP/s** (best at the start "
        f"{p['gflops_best_start']:.1f}, at the end {p['gflops_best_end']:.1f})"
        for key, p in peaks.items()
    ]
    targets = evaluate_targets(rows, peaks, compile_res, args.threads)
    elapsed = time.perf_counter() - t_start
    try:
        load_end = os.getloadavg()
    except OSError:  # pragma: no cover
        load_end = None
    report = [
        "# Training speed (bench_fit.py)",
        "",
        "```",
        *header,
        "```",
        "",
        "## Machine peak and compile time",
        "",
        "GEMM peak (numpy matmul of two 2000x2000 matrices, best of the runs at "
        "the start and at the end of the benchmark):",
        "",
        *peak_lines,
        *([""] + compile_text if compile_text else []),
        "",
        "## Results",
        "",
        "ms/epoch: median fit time over the repeats (after a warm-up fit) divided by "
        "the number of epochs; *min* is the fastest repeat; *CPU* is the process CPU "
        "time per epoch (all threads: a noise check, since time spent waiting for a "
        "busy core is not counted). GFLOP/s uses 6·n·Σ(fan_in·fan_out) FLOPs per "
        "epoch (this counts an input-layer delta nobody computes: about 1.4x the "
        "arithmetic done); % GEMM peak compares it with the best matmul rate of the "
        "same dtype and thread count. *peer/ours*: the peer's time divided by ours "
        "(same problem, threads and dtype; > 1 means ours is faster); on the "
        "MultiHead(h=L·h) row it is MultiHead's time over BR's.",
        "",
        results_table(rows, peaks),
        "",
        "## Targets",
        "",
        C.markdown_table(["target", "measured", "verdict"], targets),
        "",
        f"Total {elapsed:.0f} s; load average at start "
        f"{C.fmt_load(info['load_average_at_start'])}, at the end "
        f"{C.fmt_load(load_end)} (other processes make absolute times noisy: "
        "compare ratios).",
    ]
    if log:
        report += ["", "Warnings: " + "; ".join(sorted(set(log)))]
    print("\n" + "\n".join(report[report.index("## Results") :]))
    payload = {
        "script": "bench_fit.py",
        "args": {k: v for k, v in vars(args).items() if k != "output"},
        "machine": info,
        "load_average_at_end": load_end,
        "gemm_peak": peaks,
        "compile": compile_res,
        "configs": CONFIGS,
        "results": rows,
        "targets": [dict(target=a, measured=b, verdict=c) for a, b, c in targets],
        "warnings": sorted(set(log)),
        "elapsed_s": elapsed,
    }
    path = args.output or C.default_output("bench_fit", quick)
    C.write_json(path, payload)
    md = C.write_text(path.with_suffix(".md"), "\n".join(report) + "\n")
    print(f"\nJSON written to {path}; Markdown to {md}")


if __name__ == "__main__":
    main(ARGS, ENV_INFO)
