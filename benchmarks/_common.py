"""Helpers shared by the benchmark scripts: environment, machine info, timing, output.

This module imports only the standard library at module level, so that a script can
call :func:`setup_openblas_env` *before* numpy (and with it OpenBLAS) is loaded.
Everything that needs numpy imports it inside the function.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO_DIR = Path(__file__).resolve().parent.parent

# The scripts benchmark this checkout's skmultihead (not an installed copy, if any):
# the repository root goes first on sys.path as soon as a script imports this module.
if str(REPO_DIR) not in sys.path[:1]:
    sys.path.insert(0, str(REPO_DIR))


# --------------------------------------------------------------------------------
# Environment (must run before numpy is imported)
# --------------------------------------------------------------------------------


def add_common_arguments(parser):
    """Arguments every benchmark script takes."""
    parser.add_argument(
        "--openblas-default",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=(
            "Unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE in this process (and the "
            "subprocesses it starts) before numpy is imported, so that OpenBLAS "
            "detects the CPU itself (default: on; --no-openblas-default keeps them)."
        ),
    )
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[1, 2],
        help="Thread counts to measure (default: 1 2).",
    )
    parser.add_argument(
        "--output",
        type=_json_path,
        default=None,
        help="JSON output file, the Markdown report beside it with the suffix .md "
        "(default: benchmarks/results/<script>.json; a .md path names the report).",
    )


def _json_path(value):
    """``--output``: the JSON path; given the report's ``.md`` path, the JSON
    beside it (a .md path used to get the JSON written into it, then replaced by
    the report)."""
    path = Path(value)
    return path.with_suffix(".json") if path.suffix == ".md" else path


def setup_openblas_env(enabled):
    """Unset the OpenBLAS tuning variables in this process if ``enabled``.

    Returns a dict describing the variables as found and what was done. OpenBLAS
    reads them when the library is loaded, so this is only effective before numpy
    (or scipy) is imported; the returned dict says so if it was too late.
    """
    found = {name: os.environ.get(name) for name in OPENBLAS_VARS}
    too_late = "numpy" in sys.modules
    actions = []
    if enabled:
        for name in OPENBLAS_VARS:
            if name in os.environ:
                del os.environ[name]
                actions.append(f"unset {name} (was {found[name]!r})")
        if not actions:
            actions.append("nothing to unset")
    else:
        actions.append("left as found (--no-openblas-default)")
    if too_late:
        actions.append("WARNING: numpy was already imported, so this had no effect")
    return {
        "found": found,
        "openblas_default": bool(enabled),
        "action": "; ".join(actions),
        "now": {name: os.environ.get(name) for name in OPENBLAS_VARS},
    }


# --------------------------------------------------------------------------------
# Machine and library information
# --------------------------------------------------------------------------------


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    wanted = ("avx", "avx2", "fma", "avx512f")
                    return [f for f in wanted if f in flags]
    except OSError:
        pass
    return []


def _git_commit():
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_DIR), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "-C", str(REPO_DIR), "status", "--porcelain", "skmultihead"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        commit = out.stdout.strip()
        if dirty.stdout.strip():
            commit += " (+ uncommitted changes in skmultihead/)"
        return commit or None
    except (OSError, subprocess.SubprocessError):
        return None


def torch_or_none():
    """The torch module, or None when it cannot be imported."""
    try:
        import torch
    except Exception:  # ImportError, or a broken install
        return None
    return torch


def numba_threading_layer():
    """Name of numba's threading layer (runs a tiny parallel function first)."""
    import numba
    import numpy as np

    @numba.njit(parallel=True, cache=False)
    def _touch(a):
        s = 0.0
        for i in numba.prange(a.shape[0]):
            s += a[i]
        return s

    _touch(np.ones(4))
    try:
        return numba.threading_layer()
    except ValueError:
        return None


def machine_info(env_info, with_torch):
    """Machine, library versions, thread settings and environment, as a dict."""
    import numba
    import numpy as np
    import scipy
    import sklearn
    import threadpoolctl

    import skmultihead

    try:
        affinity = sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        affinity = None
    versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "numba": numba.__version__,
        "threadpoolctl": threadpoolctl.__version__,
        "skmultihead": getattr(skmultihead, "__version__", "?"),
    }
    torch = torch_or_none() if with_torch else None
    torch_info = None
    if torch is not None:
        versions["torch"] = torch.__version__
        torch_info = {
            "num_threads": torch.get_num_threads(),
            "num_interop_threads": torch.get_num_interop_threads(),
        }
    blas = [
        {
            k: lib.get(k)
            for k in (
                "internal_api",
                "version",
                "num_threads",
                "threading_layer",
                "architecture",
                "filepath",
            )
        }
        for lib in threadpoolctl.threadpool_info()
    ]
    try:
        load = os.getloadavg()
    except OSError:  # pragma: no cover
        load = None
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "hostname": platform.node(),
        "cpu_model": _cpu_model(),
        "cpu_flags": _cpu_flags(),
        "cpu_count": os.cpu_count(),
        "affinity": affinity,
        "load_average_at_start": load,
        "platform": platform.platform(),
        "versions": versions,
        "git_commit": _git_commit(),
        "numba_threading_layer": numba_threading_layer(),
        "numba_num_threads": numba.config.NUMBA_NUM_THREADS,
        "threadpools": blas,
        "torch_threads": torch_info,
        "openblas_env": env_info,
        "env": {
            k: os.environ.get(k)
            for k in (
                "OMP_NUM_THREADS",
                "OPENBLAS_NUM_THREADS",
                "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS",
                "NUMBA_THREADING_LAYER",
                "NUMBA_CACHE_DIR",
            )
            if os.environ.get(k) is not None
        },
    }


def format_header(info):
    """Human-readable lines of :func:`machine_info`."""
    v = info["versions"]
    lines = [
        f"# {info['date']}  host {info['hostname']}  commit {info['git_commit']}",
        f"CPU: {info['cpu_model']} ({', '.join(info['cpu_flags'])}); "
        f"{info['cpu_count']} logical CPUs; affinity {info['affinity']}; "
        f"load average {fmt_load(info['load_average_at_start'])}",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"numba: threading layer {info['numba_threading_layer']}, "
        f"NUMBA_NUM_THREADS={info['numba_num_threads']}",
    ]
    for lib in info["threadpools"]:
        lines.append(
            f"threadpool: {lib['internal_api']} {lib['version']} "
            f"({lib.get('architecture') or '-'}), num_threads={lib['num_threads']}, "
            f"{Path(lib['filepath']).name}"
        )
    if info["torch_threads"]:
        t = info["torch_threads"]
        lines.append(
            f"torch: num_threads={t['num_threads']}, interop={t['num_interop_threads']}"
        )
    env = info["openblas_env"]
    found = ", ".join(f"{k}={val!r}" for k, val in env["found"].items())
    lines.append(f"OpenBLAS env as found: {found}; --openblas-default: {env['action']}")
    if info["env"]:
        lines.append(
            "Other env: " + ", ".join(f"{k}={val}" for k, val in info["env"].items())
        )
    return lines


def fmt_load(load):
    return "n/a" if load is None else "/".join(f"{x:.2f}" for x in load)


# --------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------


def gemm_peak(threads, size=2000, repeats=5):
    """Best GFLOP/s of an ``size x size`` numpy matmul per dtype and thread count."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    rng = np.random.RandomState(0)
    out = {}
    for dtype in ("float64", "float32"):
        a = rng.standard_normal((size, size)).astype(dtype)
        b = rng.standard_normal((size, size)).astype(dtype)
        for n in threads:
            with threadpool_limits(n):
                a @ b  # warm-up (thread pool start, page faults)
                times = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    a @ b
                    times.append(time.perf_counter() - t0)
            flops = 2.0 * size**3
            out[f"{dtype}/{n}"] = {
                "gflops_best": flops / min(times) / 1e9,
                "gflops_median": flops / float(np.median(times)) / 1e9,
            }
    return out


# Pause before every measurement. After a call, OpenBLAS's worker threads (and
# OpenMP's) keep spinning for a while before they sleep; a peer timed right after
# another one then finds a core taken. Measured here: our 2-thread fit of (a) took
# 4.6 ms/epoch right after an MLPClassifier fit and 2.4 ms/epoch after a 0.3 s pause.
SETTLE_S = 0.3


def interleaved(runners, repeats, warmup=1, settle=SETTLE_S):
    """Time several callables in interleaved rounds.

    ``runners`` maps a name to a callable returning the elapsed seconds of one
    measurement (or a tuple of measurements, such as wall and CPU seconds), so
    that it can exclude its own set-up. Each runner is first called
    ``warmup`` times (not recorded), then ``repeats`` rounds call every runner
    once, the order rotating from round to round, so that a burst of load from
    another process hits all peers alike. Every measurement starts after a pause
    of ``settle`` seconds (see ``SETTLE_S``). Returns ``{name: [seconds, ...]}``.
    """
    names = list(runners)
    for name in names:
        for _ in range(warmup):
            runners[name]()
    times = {name: [] for name in names}
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            time.sleep(settle)
            times[name].append(runners[name]())
    return times


def median(values):
    import numpy as np

    return float(np.median(values))


# --------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------


def markdown_table(headers, rows):
    """A GitHub-flavoured Markdown table (cells are converted with ``str``)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]

    def line(values):
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths)) + " |"

    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(row) for row in cells]
    return "\n".join(out)


def fmt(x, digits=2):
    """Format a number for a table; ``None`` becomes an em dash."""
    if x is None:
        return "—"
    if isinstance(x, str):
        return x
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.{digits}f}"


def verdict(ok):
    if ok is None:
        return "n/a"
    return "MET" if ok else "MISSED"


def write_json(path, payload):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(payload, f, indent=2, default=_json_default)
        f.write("\n")
    return path


def _json_default(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj)}")


def default_output(stem, quick):
    """``results/<stem>.json``, or ``results/quick/<stem>.json`` for --quick runs.

    Quick runs go to a sub-folder so that they never replace the full results (the
    documentation renders the files directly in ``results/``).
    """
    folder = RESULTS_DIR / "quick" if quick else RESULTS_DIR
    return folder / f"{stem}.json"


def write_text(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
