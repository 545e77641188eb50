"""The ``compare`` command: cross-validate the multi-label MLPs and their anchors.

``python -m skmultihead compare`` (or the ``skmultihead compare`` console script)
runs a multilabel-stratified k-fold cross-validation of
:class:`~skmultihead.MultiHeadMLPClassifier`,
:class:`~skmultihead.BinaryRelevanceMLPClassifier` and two scikit-learn anchors
(``MLPClassifier`` and ``OneVsRestClassifier(LogisticRegression)``), each behind
the right scaler, on the bundled *emotions* dataset or on an ARFF file, and
prints a table of multi-label metrics (mean +- std over the folds).

The building blocks (:func:`build_estimator`, :func:`make_model`,
:func:`fit_and_score`, :func:`format_table`) are reused by
``benchmarks/bench_quality.py``.

The command line lives here; the estimators and their scoring are in
:mod:`skmultihead._compare_estimators`, the metrics, tables and plot in
:mod:`skmultihead._compare_report`. Every public name of both is importable
from this module too.
"""

import argparse
import datetime
import importlib.util
import json
import re
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.base import clone

from ._compare_estimators import (  # noqa: F401 (re-exported)
    DEFAULT_ESTIMATORS,
    ESTIMATORS,
    EstimatorSpec,
    build_estimator,
    fit_and_score,
    make_model,
    resolve_estimator,
    warm_up,
)
from ._compare_report import (  # noqa: F401 (re-exported)
    FIT_TIME,
    METRICS,
    Metric,
    _pm,
    best_rows,
    format_table,
    label_scores,
    legend,
    multilabel_scores,
    summarise,
    versions,
    write_plot,
)

__all__ = ["main"]

PROG = "skmultihead"

# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


class UsageError(Exception):
    """A problem with the command line or its inputs: message, exit code 2."""


def _parse_labels(text):
    if text is None:
        return None
    text = text.strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise UsageError("--labels needs a number N or a comma-separated list")
    return names


def load_dataset(arff=None, xml=None, labels=None):
    """``(X, Y, info)`` of the bundled emotions data or of ARFF file(s).

    Several ARFF files (e.g. a MULAN train and test split) are stacked.
    """
    from .datasets import load_arff, load_emotions

    if not arff:
        if xml is not None or labels is not None:
            raise UsageError("--xml and --labels only apply with --arff")
        bunch = load_emotions(subset="all")
        X, Y = bunch.data, bunch.target
        info = {
            "name": "emotions",
            "source": "bundled (skmultihead.datasets.load_emotions(subset='all'))",
            "files": [],
        }
        names = bunch.target_names
    else:
        parts = []
        for path in arff:
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    parts.append(load_arff(path, labels=labels, xml=xml))
            except (OSError, ValueError, TypeError) as exc:
                raise UsageError(str(exc)) from None
            for w in caught:
                print(f"{PROG}: warning: {w.message}", file=sys.stderr)
        first = parts[0]
        for path, part in zip(arff[1:], parts[1:]):
            if part.feature_names != first.feature_names:
                raise UsageError(
                    f"{path}: its features differ from those of {arff[0]}; "
                    "several --arff files must have the same attributes"
                )
            if part.target_names != first.target_names:
                raise UsageError(f"{path}: its labels differ from those of {arff[0]}")
        if any(sparse.issparse(p.data) for p in parts):
            X = sparse.vstack([sparse.csr_matrix(p.data) for p in parts], "csr")
        else:
            X = np.vstack([p.data for p in parts])
        Y = np.vstack([p.target for p in parts])
        stem = Path(arff[0]).name
        for suffix in (".gz", ".arff"):
            if stem.lower().endswith(suffix):
                stem = stem[: -len(suffix)]
        info = {
            "name": stem if len(arff) == 1 else re.sub(r"[-_](train|test)$", "", stem),
            "source": "; ".join(p.DESCR for p in parts),
            "files": [str(Path(p).resolve()) for p in arff],
            "relation": first.relation,
        }
        names = first.target_names
    # Both loaders return int64 targets already. Keep it that way: scikit-learn
    # 1.9's label_binarize casts the classes arange(n_labels) to y's dtype, which
    # wraps around past 127 labels in int8 and silently permutes the label
    # columns of MLPClassifier and OneVsRestClassifier (bibtex has 159 labels).
    Y = np.asarray(Y, dtype=np.int64)
    if Y.shape[1] < 2:
        raise UsageError(
            f"the dataset has {Y.shape[1]} label(s); compare needs a multi-label "
            "target with at least 2 labels (check --labels / --xml)"
        )
    info.update(
        n_samples=int(X.shape[0]),
        n_features=int(X.shape[1]),
        n_labels=int(Y.shape[1]),
        sparse=bool(sparse.issparse(X)),
        label_cardinality=float(Y.sum(axis=1).mean()),
        target_names=list(names),
    )
    return X, Y, info


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _cv_folds(text):
    value = _positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"needs at least 2 folds, got {value}")
    return value


def _hidden_sizes(text):
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    if not parts:
        raise argparse.ArgumentTypeError("expected sizes such as 100 or 64,32")
    return tuple(_positive_int(p) for p in parts)


def _estimator_epilog():
    lines = ["estimators (--estimators; * = run by default):"]
    for key, spec in ESTIMATORS.items():
        star = "*" if spec.default else " "
        lines.append(f"  {star} {key:<16} {spec.description}")
    lines += [
        "",
        "All estimators run behind StandardScaler (dense input) or MaxAbsScaler",
        "(sparse input) in a Pipeline. Each cell of the table is the mean +- std",
        "(population std) over the folds.",
        "",
        "examples:",
        f"  {PROG} compare",
        f"  {PROG} compare --estimators multihead br --cv 3 --json out.json",
        f"  {PROG} compare --arff yeast.arff --xml yeast.xml --plot yeast.png",
        f"  {PROG} compare --arff music.arff --labels 6 --format markdown",
    ]
    return "\n".join(lines)


def build_parser():
    from . import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "skmultihead: multi-label MLP classifiers for scikit-learn "
            "(MultiHeadMLPClassifier, BinaryRelevanceMLPClassifier)."
        ),
        epilog=f"Run '{PROG} COMMAND --help' for the options of a command.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    compare = commands.add_parser(
        "compare",
        help="cross-validate the multi-label MLPs against scikit-learn anchors",
        description=textwrap.fill(
            "Multilabel-stratified k-fold cross-validation of "
            "MultiHeadMLPClassifier, BinaryRelevanceMLPClassifier, "
            "sklearn's MLPClassifier and OneVsRestClassifier(LogisticRegression) "
            "on the bundled emotions dataset (593 samples, 72 features, 6 "
            "labels) or on a MULAN/MEKA ARFF file. Prints a table of micro-, "
            "macro- and samples-F1, Hamming loss, subset accuracy, ranking loss, "
            "LRAP and fit time.",
            width=78,
        ),
        epilog=_estimator_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = compare.add_argument_group("data")
    data.add_argument(
        "--arff",
        metavar="PATH",
        nargs="+",
        action="extend",
        help="ARFF file(s) to use instead of the bundled emotions data; several "
        "files (e.g. a MULAN -train and -test split) are stacked",
    )
    which = data.add_mutually_exclusive_group()
    which.add_argument(
        "--xml",
        metavar="PATH",
        help="MULAN label XML file (default: NAME.xml beside the ARFF file, "
        "else '-C N' in its @relation)",
    )
    which.add_argument(
        "--labels",
        metavar="N",
        help="label attributes: N > 0 = first N attributes, N < 0 = last |N| "
        "(MEKA convention), or a comma-separated list of attribute names",
    )
    model = compare.add_argument_group("models")
    model.add_argument(
        "--estimators",
        metavar="NAME",
        nargs="+",
        action="extend",
        help=f"estimators to run (space- or comma-separated; default: "
        f"{' '.join(DEFAULT_ESTIMATORS)}); see the list below",
    )
    model.add_argument(
        "--hidden",
        metavar="SIZES",
        type=_hidden_sizes,
        default=(100,),
        help="hidden layer sizes of the three MLPs, e.g. 100 or 64,32 (default: 100)",
    )
    model.add_argument(
        "--max-iter",
        metavar="N",
        type=_positive_int,
        default=200,
        help="maximum number of epochs of the MLPs (default: 200)",
    )
    model.add_argument(
        "--random-state",
        metavar="INT",
        type=int,
        default=0,
        help="random_state of the MLPs (default: 0)",
    )
    model.add_argument(
        "--threads",
        metavar="N",
        type=int,
        default=1,
        help="threads per fit: BLAS threads of the scikit-learn estimators and "
        "n_threads of the skmultihead ones; 0 = each library's default "
        "(default: 1; on small data threads gain little and a busy machine "
        "makes multi-threaded timings erratic)",
    )
    cv = compare.add_argument_group("cross-validation")
    cv.add_argument(
        "--cv",
        metavar="K",
        type=_cv_folds,
        default=5,
        help="number of folds of MultilabelStratifiedKFold (default: 5)",
    )
    cv.add_argument(
        "--seed",
        metavar="INT",
        type=int,
        default=0,
        help="random_state of the fold shuffling (default: 0)",
    )
    out = compare.add_argument_group("output")
    out.add_argument(
        "--format",
        choices=("text", "markdown"),
        default="text",
        help="table format on stdout (default: text)",
    )
    out.add_argument(
        "--json",
        metavar="PATH",
        help="write the configuration, versions and every per-fold number here",
    )
    out.add_argument(
        "--plot",
        metavar="PNG",
        help="save a bar chart of the metrics (needs matplotlib)",
    )
    out.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress lines or notes on stderr",
    )
    compare.set_defaults(handler=_run_compare)
    return parser


def _check_output_path(path, option):
    parent = Path(path).expanduser().resolve().parent
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: directory {parent} does not exist")
    if Path(path).is_dir():
        raise UsageError(f"{option} {path}: is a directory")


def _matplotlib_available():
    return importlib.util.find_spec("matplotlib") is not None


def _progress(args, message):
    if not args.quiet:
        print(message, file=sys.stderr, flush=True)


def _run_compare(args):
    keys = []
    for item in args.estimators or DEFAULT_ESTIMATORS:
        for name in filter(None, (s.strip() for s in item.split(","))):
            try:
                key = resolve_estimator(name)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
            if key not in keys:
                keys.append(key)
    if not keys:
        raise UsageError("--estimators: no estimator given")
    if args.json:
        _check_output_path(args.json, "--json")
    if args.plot:
        _check_output_path(args.plot, "--plot")
        if not _matplotlib_available():
            raise UsageError(
                "--plot needs matplotlib, which is not installed; install it "
                "with 'pip install matplotlib' (or 'pip install skmultihead[bench]')"
            )

    X, Y, info = load_dataset(args.arff, args.xml, _parse_labels(args.labels))

    from .model_selection import MultilabelStratifiedKFold

    splitter = MultilabelStratifiedKFold(
        n_splits=args.cv, shuffle=True, random_state=args.seed
    )
    try:
        folds = list(splitter.split(np.zeros((X.shape[0], 1)), Y))
    except ValueError as exc:
        raise UsageError(f"--cv {args.cv}: {exc}") from None

    kind = "sparse" if info["sparse"] else "dense"
    _progress(
        args,
        f"{info['name']}: {info['n_samples']} samples, {info['n_features']} "
        f"features ({kind}), {info['n_labels']} labels; {args.cv}-fold CV of "
        f"{len(keys)} estimator(s)",
    )
    if args.threads < 0:
        raise UsageError(f"--threads must be 0 or more, got {args.threads}")
    n_threads = args.threads or None
    seconds = warm_up(
        keys,
        X,
        Y,
        hidden=args.hidden,
        random_state=args.random_state,
        n_threads=n_threads,
    )
    if seconds > 0.5:
        _progress(args, f"compiled/loaded the Numba kernels in {seconds:.1f}s")

    total = len(keys) * len(folds)
    step = 0
    results = {}
    start_all = time.perf_counter()
    for key in keys:
        spec = ESTIMATORS[key]
        template = build_estimator(
            key,
            hidden=args.hidden,
            max_iter=args.max_iter,
            random_state=args.random_state,
            n_threads=n_threads,
        )
        per_fold = []
        for f, (train, test) in enumerate(folds, 1):
            step += 1
            model = make_model(clone(template), X)
            result = fit_and_score(
                model, X[train], Y[train], X[test], Y[test], threads=n_threads
            )
            result = {"fold": f, **result}
            per_fold.append(result)
            _progress(
                args,
                f"[{step}/{total}] {spec.name} fold {f}/{len(folds)}  "
                f"micro-F1 {result['micro_f1']:.3f}  "
                f"{result['fit_time'] + result['predict_time']:.1f}s",
            )
        results[key] = {
            "name": spec.name,
            "estimator": repr(make_model(clone(template), X)),
            "folds": per_fold,
            "summary": summarise(per_fold),
        }
    elapsed = time.perf_counter() - start_all

    names = [results[k]["name"] for k in keys]
    summaries = [results[k]["summary"] for k in keys]
    hidden = ",".join(map(str, args.hidden))
    title = (
        f"{info['name']} ({info['n_samples']} samples, {info['n_features']} "
        f"features, {info['n_labels']} labels): {args.cv}-fold multilabel-"
        f"stratified CV (seed {args.seed}); MLPs hidden=({hidden}), "
        f"max_iter={args.max_iter}, random_state={args.random_state}; "
        f"{args.threads or 'default'} thread(s) per fit"
    )
    table = format_table(names, summaries, fmt=args.format, pm=_pm())
    print(title)
    print()
    print(table)
    print()
    print(f"Mean {_pm()} std over {args.cv} folds. " + legend(fmt=args.format))
    sys.stdout.flush()

    _report_warnings(args, keys, results)
    _progress(args, f"total {elapsed:.1f}s")

    if args.json:
        payload = {
            "tool": f"{PROG} compare",
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"
            ),
            "config": {
                "argv": list(args.argv),
                "estimators": keys,
                "hidden_layer_sizes": list(args.hidden),
                "max_iter": args.max_iter,
                "random_state": args.random_state,
                "cv": args.cv,
                "cv_splitter": repr(splitter),
                "seed": args.seed,
                "threads": args.threads,
                "std": "population standard deviation over the folds (ddof=0)",
            },
            "dataset": info,
            "versions": versions(),
            "folds": [
                {"fold": f, "n_train": int(len(tr)), "n_test": int(len(te))}
                for f, (tr, te) in enumerate(folds, 1)
            ],
            "metrics": [
                {
                    "key": m.key,
                    "label": m.label,
                    "greater_is_better": m.greater_is_better,
                }
                for m in [*METRICS, FIT_TIME]
            ],
            "results": results,
            "total_time": elapsed,
        }
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2)
            fh.write("\n")
        _progress(args, f"wrote {args.json}")
    if args.plot:
        write_plot(args.plot, names, summaries, title)
        _progress(args, f"wrote {args.plot}")
    return 0


def _report_warnings(args, keys, results):
    if args.quiet:
        return
    for key in keys:
        counts = {}
        for fold in results[key]["folds"]:
            for category in {w["warning"].split(":", 1)[0] for w in fold["warnings"]}:
                counts[category] = counts.get(category, 0) + 1
        if counts:
            listed = ", ".join(
                f"{category} in {n}/{len(results[key]['folds'])} folds"
                for category, n in counts.items()
            )
            print(
                f"note: {results[key]['name']}: {listed} (details in --json)",
                file=sys.stderr,
            )


def main(argv=None):
    """Entry point of ``python -m skmultihead`` / ``skmultihead``.

    Returns the exit code: 0 on success, 2 for a usage or input error (bad
    option, unknown estimator, missing or label-less file), 130 when
    interrupted.
    """
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        print(
            f"\n{PROG}: error: a command is required (e.g. 'compare')", file=sys.stderr
        )
        return 2
    args.argv = argv
    try:
        return args.handler(args)
    except UsageError as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
