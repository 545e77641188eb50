"""Tests of the ``compare`` command (``python -m skmultihead compare``)."""

import contextlib
import io
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import make_multilabel_classification

from skmultihead import _compare, _compare_estimators, _compare_report
from skmultihead.__main__ import main

TINY = ["--cv", "2", "--max-iter", "5", "--hidden", "8"]
COLUMNS = [
    "micro-F1",
    "macro-F1",
    "samples-F1",
    "Hamming loss",
    "subset accuracy",
    "ranking loss",
    "LRAP",
    "fit time (s)",
]
CELL = re.compile(r"(\d+\.\d+) ± (\d+\.\d+)")


def run(argv):
    """``main(argv)`` with captured output: ``(exit code, stdout, stderr)``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def table_rows(stdout):
    """``{estimator name: [(mean, std), ...]}`` parsed from the text table."""
    rows = {}
    for line in stdout.splitlines():
        cells = CELL.findall(line)
        if cells:
            rows[line.split()[0]] = [(float(m), float(s)) for m, s in cells]
    return rows


def write_tiny_arff(path, *, n=40, n_features=4, n_labels=3, sparse=False, seed=0):
    """A small MEKA-style (labels first, ``-C n_labels``) or sparse MULAN file."""
    X, Y = make_multilabel_classification(
        n_samples=n,
        n_features=n_features,
        n_classes=n_labels,
        allow_unlabeled=False,
        random_state=seed,
    )
    labels = [f"label{j}" for j in range(n_labels)]
    lines = [f"@relation 'tiny: -C {n_labels}'" if not sparse else "@relation tiny"]
    if sparse:  # MULAN order: features first, labels last (named in the xml)
        lines += [f"@attribute f{j} numeric" for j in range(n_features)]
        lines += [f"@attribute {name} {{0,1}}" for name in labels]
    else:
        lines += [f"@attribute {name} {{0,1}}" for name in labels]
        lines += [f"@attribute f{j} numeric" for j in range(n_features)]
    lines.append("@data")
    for x, y in zip(X, Y):
        if sparse:
            values = [*x, *y]
            entries = [f"{i} {int(v)}" for i, v in enumerate(values) if v != 0]
            lines.append("{" + ",".join(entries) + "}")
        else:
            lines.append(",".join([*map(str, y), *(f"{v:g}" for v in x)]))
    path.write_text("\n".join(lines) + "\n")
    if sparse:
        xml = "".join(f'<label name="{name}"></label>' for name in labels)
        path.with_suffix(".xml").write_text(
            '<?xml version="1.0" encoding="utf-8"?>\n'
            f'<labels xmlns="http://mulan.sourceforge.net/labels">{xml}</labels>\n'
        )
    return X, Y


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    """One tiny run on the bundled emotions data, shared by several tests."""
    path = tmp_path_factory.mktemp("compare") / "result.json"
    code, out, err = run(["compare", *TINY, "--json", str(path)])
    return code, out, err, json.loads(path.read_text()) if path.exists() else None


def test_bundled_table(bundled):
    code, out, err, _ = bundled
    assert code == 0, err
    header = next(line for line in out.splitlines() if "micro-F1" in line)
    positions = [header.index(c) for c in COLUMNS]
    assert positions == sorted(positions)
    assert "emotions (593 samples, 72 features, 6 labels)" in out
    rows = table_rows(out)
    assert list(rows) == [
        "MultiHead",
        "MultiHead-parity",
        "MultiHead-towers",
        "BinaryRelevance",
        "MLPClassifier",
        "OvR-LogReg",
    ]
    for cells in rows.values():
        assert len(cells) == len(COLUMNS)
        for mean, std in cells[:-1]:  # quality metrics are in [0, 1]
            assert 0 <= mean <= 1 and 0 <= std <= 1
        assert cells[-1][0] >= 0  # fit time


def test_bundled_progress(bundled):
    code, _, err, _ = bundled
    assert code == 0
    assert re.search(r"^\[1/12\] MultiHead fold 1/2 .*\d+\.\ds$", err, re.M)
    assert re.search(r"^\[12/12\] OvR-LogReg fold 2/2 ", err, re.M)


def test_bundled_json(bundled):
    code, out, _, data = bundled
    assert code == 0
    config = data["config"]
    assert config["cv"] == 2 and config["max_iter"] == 5
    assert config["hidden_layer_sizes"] == [8]
    assert config["estimators"] == [
        "multihead",
        "multihead-parity",
        "multihead-towers",
        "br",
        "mlp",
        "ovr",
    ]
    assert config["seed"] == 0 and config["random_state"] == 0
    for key in ("skmultihead", "scikit-learn", "numpy", "scipy", "numba", "python"):
        assert data["versions"][key]
    assert data["dataset"]["n_samples"] == 593
    assert data["dataset"]["n_labels"] == 6
    assert sum(f["n_test"] for f in data["folds"]) == 593
    metric_keys = [m["key"] for m in data["metrics"]]
    rows = table_rows(out)
    for key, result in data["results"].items():
        folds = result["folds"]
        assert [f["fold"] for f in folds] == [1, 2]
        for metric in metric_keys:
            values = [f[metric] for f in folds]
            assert result["summary"][metric]["mean"] == pytest.approx(np.mean(values))
            assert result["summary"][metric]["std"] == pytest.approx(np.std(values))
        # the table shows the same numbers, rounded
        micro = rows[result["name"]][0][0]
        assert micro == pytest.approx(result["summary"]["micro_f1"]["mean"], abs=6e-4)
        assert "StandardScaler" in result["estimator"]
    assert data["results"]["mlp"]["folds"][0]["n_iter"] == 5
    assert len(data["results"]["br"]["folds"][0]["n_iter"]) == 6


def test_dense_arff_subset_quiet_markdown(tmp_path):
    path = tmp_path / "tiny.arff"
    write_tiny_arff(path)
    out_json = tmp_path / "tiny.json"
    code, out, err = run(
        [
            "compare",
            "--arff",
            str(path),
            "--estimators",
            "MultiHead,br",
            "--format",
            "markdown",
            "--quiet",
            "--json",
            str(out_json),
            *TINY,
        ]
    )
    assert code == 0, err
    assert err == ""
    assert "tiny (40 samples, 4 features, 3 labels)" in out
    assert re.search(r"^\| MultiHead +\|", out, re.M)
    assert re.search(r"^\| BinaryRelevance +\|", out, re.M)
    assert "MLPClassifier" not in out
    data = json.loads(out_json.read_text())
    assert list(data["results"]) == ["multihead", "br"]
    assert data["dataset"]["sparse"] is False
    assert data["dataset"]["target_names"] == ["label0", "label1", "label2"]


def test_sparse_arff_uses_maxabsscaler(tmp_path):
    path = tmp_path / "sparse.arff"  # labels named in sparse.xml beside it
    write_tiny_arff(path, sparse=True)
    out_json = tmp_path / "sparse.json"
    code, out, err = run(
        ["compare", "--arff", str(path), "-q", "--json", str(out_json)]
        + ["--estimators", "multihead", "ovr", *TINY]
    )
    assert code == 0, err
    assert set(table_rows(out)) == {"MultiHead", "OvR-LogReg"}
    data = json.loads(out_json.read_text())
    assert data["dataset"]["sparse"] is True
    for result in data["results"].values():
        assert "MaxAbsScaler" in result["estimator"]


def test_several_arff_files_are_stacked(tmp_path):
    write_tiny_arff(tmp_path / "tiny-train.arff", n=30, seed=0)
    write_tiny_arff(tmp_path / "tiny-test.arff", n=20, seed=1)
    files = [str(tmp_path / "tiny-train.arff"), str(tmp_path / "tiny-test.arff")]
    code, out, err = run(
        ["compare", "--arff", *files, "--estimators", "ovr", "-q", *TINY]
    )
    assert code == 0, err
    assert "tiny (50 samples, 4 features, 3 labels)" in out


def _assert_usage_error(argv, message):
    code, out, err = run(argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert out == ""


def test_missing_file(tmp_path):
    missing = tmp_path / "missing.arff"
    _assert_usage_error(["compare", "--arff", str(missing)], "not found")


def test_file_without_labels(tmp_path):
    path = tmp_path / "nolabels.arff"
    path.write_text(
        "@relation nolabels\n@attribute a numeric\n@attribute y {0,1}\n"
        "@data\n1,0\n2,1\n"
    )
    _assert_usage_error(["compare", "--arff", str(path)], "no labels found")


def test_single_label_is_rejected(tmp_path):
    path = tmp_path / "tiny.arff"
    write_tiny_arff(path)
    _assert_usage_error(
        ["compare", "--arff", str(path), "--labels", "1"], "at least 2 labels"
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["compare", "--estimators", "nope"], "unknown estimator 'nope'"),
        (["compare", "--bogus"], "unrecognized arguments: --bogus"),
        (["compare", "--cv", "1"], "at least 2 folds"),
        (["compare", "--hidden", "0"], "at least 1"),
        (["compare", "--xml", "labels.xml"], "only apply with --arff"),
        (["compare", "--json", "/no/such/dir/out.json"], "does not exist"),
        (["frobnicate"], "invalid choice"),
        ([], "a command is required"),
    ],
)
def test_usage_errors(argv, message):
    code, _, err = run(argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_plot_without_matplotlib(monkeypatch, tmp_path):
    monkeypatch.setattr(_compare, "_matplotlib_available", lambda: False)
    _assert_usage_error(
        ["compare", "--plot", str(tmp_path / "out.png")], "needs matplotlib"
    )


def test_plot(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "tiny.arff"
    write_tiny_arff(path)
    png = tmp_path / "out.png"
    code, _, err = run(
        ["compare", "--arff", str(path), "--estimators", "ovr", "multihead", "-q"]
        + ["--plot", str(png), *TINY]
    )
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_help_and_version():
    code, out, _ = run(["--help"])
    assert code == 0 and "compare" in out
    code, out, _ = run(["compare", "--help"])
    assert code == 0
    for option in ("--arff", "--xml", "--labels", "--estimators", "--cv", "--json"):
        assert option in out
    code, out, _ = run(["--version"])
    assert code == 0 and out.startswith("skmultihead ")


def test_python_m_help():
    proc = subprocess.run(
        [sys.executable, "-m", "skmultihead", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "compare" in proc.stdout


def test_resolve_estimator():
    assert _compare_estimators.resolve_estimator("MultiHead") == "multihead"
    assert _compare_estimators.resolve_estimator("binary_relevance") == "br"
    assert _compare_estimators.resolve_estimator("OvR-LogReg") == "ovr"
    with pytest.raises(ValueError, match="choose from"):
        _compare_estimators.resolve_estimator("svm")


def test_building_blocks_still_importable_from_compare():
    # benchmarks and user scripts import them from skmultihead._compare.
    for module in (_compare_estimators, _compare_report):
        for name in dir(module):
            obj = getattr(module, name)
            if name.startswith("_") or getattr(obj, "__module__", None) != (
                module.__name__
            ):
                continue
            assert getattr(_compare, name) is obj, name


def test_many_labels_keep_their_columns(tmp_path):
    # scikit-learn's label_binarize (used by MLPClassifier and
    # OneVsRestClassifier) casts the classes arange(n_labels) to y's dtype,
    # permuting the columns of an int8 indicator matrix with more than 127
    # labels; the loaders and compare must give a wider Y.
    from sklearn.preprocessing import LabelBinarizer

    rng = np.random.RandomState(0)
    n, n_labels = 12, 130
    Y = (rng.uniform(size=(n, n_labels)) < 0.3).astype(int)
    lines = [f"@relation 'many: -C {n_labels}'"]
    lines += [f"@attribute y{j} {{0,1}}" for j in range(n_labels)]
    lines += ["@attribute x0 numeric", "@attribute x1 numeric", "@data"]
    lines += [",".join([*map(str, y), "0.5", "-1"]) for y in Y]
    path = tmp_path / "many.arff"
    path.write_text("\n".join(lines) + "\n")
    _, Y_loaded, info = _compare.load_dataset([str(path)])
    assert info["n_labels"] == n_labels
    assert Y_loaded.dtype == np.int64
    np.testing.assert_array_equal(LabelBinarizer().fit_transform(Y_loaded), Y)


def test_fit_and_score_turns_an_interrupted_fit_into_keyboardinterrupt():
    # skmultihead's training loop turns Ctrl-C into a warning and returns;
    # compare must stop, not score a half-trained model.
    import warnings

    from skmultihead._warnings import TrainingInterruptedWarning

    class Interrupted:
        def fit(self, X, Y):
            warnings.warn("stopped", TrainingInterruptedWarning)
            return self

        def predict(self, X):
            return np.zeros((X.shape[0], 2), dtype=int)

        def predict_proba(self, X):
            return np.full((X.shape[0], 2), 0.5)

    X, Y = np.zeros((4, 2)), np.zeros((4, 2), dtype=int)
    with pytest.raises(KeyboardInterrupt):
        _compare_estimators.fit_and_score(Interrupted(), X, Y, X, Y)
