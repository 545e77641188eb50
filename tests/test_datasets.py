"""Tests for skmultihead.datasets (ARFF reader and the bundled dataset)."""

import functools
import gzip
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from skmultihead.datasets import load_arff, load_emotions

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"

# name: (n_samples, n_features, n_labels, label cardinality, sparse, labels first)
SHARED_FILES = {
    "emotions.arff": (593, 72, 6, 1.868, False, False),
    "emotions-train.arff": (391, 72, 6, 1.813, False, False),
    "emotions-test.arff": (202, 72, 6, 1.975, False, False),
    "yeast.arff": (2417, 103, 14, 4.237, False, False),
    "yeast-train.arff": (1500, 103, 14, 4.228, False, False),
    "yeast-test.arff": (917, 103, 14, 4.252, False, False),
    "scene-train.arff": (1211, 294, 6, 1.062, False, False),
    "scene-test.arff": (1196, 294, 6, 1.086, False, False),
    "medical.arff": (978, 1449, 45, 1.245, True, False),
    "medical-train.arff": (333, 1449, 45, 1.255, True, False),
    "medical-test.arff": (645, 1449, 45, 1.240, True, False),
    "bibtex.arff": (7395, 1836, 159, 2.402, True, False),
    "bibtex-train.arff": (4880, 1836, 159, 2.380, True, False),
    "bibtex-test.arff": (2515, 1836, 159, 2.444, True, False),
    "meka/music.arff": (592, 71, 6, 1.870, False, True),
    "meka/scene.arff": (2407, 294, 6, 1.074, False, True),
    "meka/yeast.arff": (2417, 103, 14, 4.237, False, True),
}


def _shared(name):
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"shared dataset {path} not available")
    return path


@functools.cache
def _load_shared_cached(name):
    # Loaded once per test session; tests must not modify the result.
    return load_arff(SHARED / name)


def load_shared(name):
    _shared(name)
    return _load_shared_cached(name)


def _header_names(path):
    """Attribute names of a plain (unquoted-names) ARFF file, by hand."""
    names = []
    with open(path) as f:
        for line in f:
            if line.lower().startswith("@attribute"):
                names.append(line.split()[1])
            elif line.lower().startswith("@data"):
                break
    return names


def _xml_names(path):
    return re.findall(r'<label name="([^"]+)"', Path(path).read_text())


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------
# Shared real datasets
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SHARED_FILES))
def test_shared_file_shapes_and_cardinality(name):
    path = _shared(name)
    n_samples, n_features, n_labels, cardinality, sparse, first = SHARED_FILES[name]
    data = load_shared(name)
    X, Y = data.data, data.target
    assert X.shape == (n_samples, n_features)
    assert Y.shape == (n_samples, n_labels)
    assert X.dtype == np.float64
    assert Y.dtype == np.int64
    assert sp.issparse(X) == sparse
    if sparse:
        assert X.format == "csr"
        assert set(np.unique(X.data)) == {1.0}
    assert not np.isnan(X.data if sparse else X).any()
    assert set(np.unique(Y)) == {0, 1}
    assert round(float(Y.sum(axis=1).mean()), 3) == cardinality
    assert Y.sum(axis=1).min() >= 1  # README: no rows without a label
    assert len(data.feature_names) == n_features
    assert len(data.target_names) == n_labels

    names = _header_names(path)
    if first:  # MEKA: -C N, labels are the first N attributes
        assert data.target_names == names[:n_labels]
        assert data.feature_names == names[n_labels:]
    else:  # MULAN: labels named by the xml, in xml order
        stem = re.sub(r"-(train|test)$", "", Path(name).stem)
        assert data.target_names == _xml_names(SHARED / f"{stem}.xml")
        assert set(data.target_names) == set(names[-n_labels:])
        assert data.feature_names == names[:-n_labels]


def test_every_shared_file_is_covered():
    if not SHARED.is_dir():
        pytest.skip("shared datasets not available")
    present = {
        str(p.relative_to(SHARED)).replace("\\", "/") for p in SHARED.rglob("*.arff")
    }
    assert present <= set(SHARED_FILES)


def test_yeast_labels_follow_xml_order():
    path = _shared("yeast-train.arff")
    names = _header_names(path)
    xml_order = _xml_names(SHARED / "yeast.xml")
    arff_order = names[-14:]
    assert xml_order != arff_order and sorted(xml_order) == sorted(arff_order)
    data = load_shared("yeast-train.arff")
    assert data.target_names == xml_order

    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.lower() == "@data") + 1
    rows = [line for line in lines[start:] if line.strip()]
    for r in (0, 7, 1499):
        tokens = rows[r].split(",")
        np.testing.assert_array_equal(data.data[r], np.array(tokens[:103], dtype=float))
        for k, label in enumerate(xml_order):
            assert data.target[r, k] == int(tokens[names.index(label)])
    # Class6 comes before Class4 in the xml: columns 3 and 4 are swapped
    # relative to the ARFF order.
    j6, j4 = xml_order.index("Class6"), xml_order.index("Class4")
    assert (j6, j4) == (3, 4)


def test_medical_xml_wins_over_stale_relation_c(tmp_path):
    path = _shared("medical.arff")
    data = load_shared("medical.arff")
    assert "-C 45" in data.relation
    names = _header_names(path)
    assert data.target_names == _xml_names(SHARED / "medical.xml") == names[-45:]
    # What the stale -C 45 would have selected: the first 45 words.
    X, Y = load_arff(path, labels=45, return_X_y=True)
    assert Y.shape == (978, 45) and X.shape == (978, 1449)
    assert not np.array_equal(Y, data.target)
    # Without an xml beside it the relation string is used.
    copy = tmp_path / "medical-train.arff"
    copy.write_bytes(_shared("medical-train.arff").read_bytes())
    alone = load_arff(copy)
    assert alone.target_names == names[:45]
    with_xml = load_arff(copy, xml=SHARED / "medical.xml")
    assert with_xml.target_names == names[-45:]


def test_meka_scene_equals_mulan_train_then_test():
    meka = load_shared("meka/scene.arff")
    train = load_shared("scene-train.arff")
    test = load_shared("scene-test.arff")
    np.testing.assert_array_equal(meka.data, np.vstack([train.data, test.data]))
    np.testing.assert_array_equal(meka.target, np.vstack([train.target, test.target]))
    assert [n.lower() for n in meka.target_names] == [
        "beach",
        "sunset",
        "foliage",
        "field",
        "mountain",
        "urban",
    ]


def test_meka_yeast_first_rows_are_mulan_train():
    meka = load_shared("meka/yeast.arff")
    mulan = load_shared("yeast-train.arff")
    order = [meka.target_names.index(n) for n in mulan.target_names]
    a = np.hstack([meka.data[:1500], meka.target[:1500, order]])
    b = np.hstack([mulan.data, mulan.target])
    np.testing.assert_array_equal(np.unique(a, axis=0), np.unique(b, axis=0))


def test_shared_sparse_matches_manual_parse():
    path = _shared("medical-train.arff")
    data = load_shared("medical-train.arff")
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.lower() == "@data") + 1
    row = lines[start + 1]  # second sample
    cols = [int(entry.split()[0]) for entry in row.strip("{}").split(",")]
    features = [c for c in cols if c < 1449]
    labels = [c - 1449 for c in cols if c >= 1449]
    assert data.data[1].indices.tolist() == features
    assert np.flatnonzero(data.target[1]).tolist() == labels  # xml = ARFF order


# ---------------------------------------------------------------------------
# Bundled emotions dataset
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("subset, n", [("train", 391), ("test", 202), ("all", 593)])
def test_load_emotions_shapes(subset, n):
    data = load_emotions(subset=subset)
    assert data.data.shape == (n, 72)
    assert data.target.shape == (n, 6)
    assert data.data.dtype == np.float64 and data.target.dtype == np.int64
    assert len(data.feature_names) == 72
    assert data.target_names == [
        "amazed-suprised",
        "happy-pleased",
        "relaxing-calm",
        "quiet-still",
        "sad-lonely",
        "angry-aggresive",
    ]
    assert "Trohidis" in data.DESCR and "593" in data.DESCR
    X, Y = load_emotions(subset=subset, return_X_y=True)
    np.testing.assert_array_equal(X, data.data)
    np.testing.assert_array_equal(Y, data.target)


def test_load_emotions_all_is_train_then_test():
    train = load_emotions(subset="train")
    test = load_emotions(subset="test")
    full = load_emotions(subset="all")
    np.testing.assert_array_equal(full.data, np.vstack([train.data, test.data]))
    np.testing.assert_array_equal(full.target, np.vstack([train.target, test.target]))
    assert round(float(full.target.sum(axis=1).mean()), 3) == 1.868


def test_load_emotions_bad_subset():
    with pytest.raises(ValueError, match="subset"):
        load_emotions(subset="validation")


@pytest.mark.parametrize("subset", ["train", "test"])
def test_bundled_emotions_equal_shared_copy(subset):
    shared = load_shared(f"emotions-{subset}.arff")
    bundled = load_emotions(subset=subset)
    np.testing.assert_array_equal(bundled.data, shared.data)
    np.testing.assert_array_equal(bundled.target, shared.target)
    assert bundled.feature_names == shared.feature_names
    assert bundled.target_names == shared.target_names


def test_emotions_all_equals_shared_full_file():
    shared = load_shared("emotions.arff")
    X, Y = load_emotions(subset="all", return_X_y=True)
    np.testing.assert_array_equal(X, shared.data)
    np.testing.assert_array_equal(Y, shared.target)


# ---------------------------------------------------------------------------
# Small synthetic files
# ---------------------------------------------------------------------------


def _random_problem(seed=0, n=40):
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(n, 4)) * (rng.random((n, 4)) < 0.4)
    binary = (rng.random((n, 2)) < 0.3).astype(float)
    labels = (rng.random((n, 3)) < 0.4).astype(int)
    # Attribute order: f0, lab0, f1, f2, b0, lab1, f3, b1, lab2
    names = ["f0", "lab0", "f1", "f2", "b0", "lab1", "f3", "b1", "lab2"]
    kinds = ["numeric", "{0,1}", "real", "integer", "{0,1}", "{0,1}"]
    kinds += ["numeric", "{0,1}", "{0,1}"]
    table = np.column_stack(
        [
            numeric[:, 0],
            labels[:, 0],
            numeric[:, 1],
            numeric[:, 2],
            binary[:, 0],
            labels[:, 1],
            numeric[:, 3],
            binary[:, 1],
            labels[:, 2],
        ]
    )
    header = "@relation random\n" + "".join(
        f"@attribute {a} {k}\n" for a, k in zip(names, kinds)
    )
    X = np.column_stack(
        [numeric[:, 0], numeric[:, 1], numeric[:, 2], binary[:, 0]]
        + [numeric[:, 3], binary[:, 1]]
    )
    return header, names, table, X, labels


def _fmt(name, value):
    if name.startswith(("lab", "b")):
        return str(int(value))
    return repr(float(value))


def test_sparse_and_dense_files_agree(tmp_path):
    header, names, table, X, Y = _random_problem()
    dense_rows = [",".join(_fmt(a, v) for a, v in zip(names, row)) for row in table]
    sparse_rows = [
        "{"
        + ",".join(f"{j} {_fmt(names[j], v)}" for j, v in enumerate(row) if v != 0)
        + "}"
        for row in table
    ]
    labels = ["lab0", "lab1", "lab2"]
    dense = load_arff(
        write(tmp_path, "d.arff", header + "@data\n" + "\n".join(dense_rows) + "\n"),
        labels=labels,
    )
    sparse = load_arff(
        write(tmp_path, "s.arff", header + "@data\n" + "\n".join(sparse_rows) + "\n"),
        labels=labels,
    )
    assert isinstance(dense.data, np.ndarray)
    assert sp.issparse(sparse.data) and sparse.data.format == "csr"
    np.testing.assert_array_equal(dense.data, X)
    np.testing.assert_array_equal(sparse.data.toarray(), X)
    np.testing.assert_array_equal(dense.target, Y)
    np.testing.assert_array_equal(sparse.target, Y)
    assert dense.feature_names == sparse.feature_names
    assert dense.feature_names == ["f0", "f1", "f2", "b0", "f3", "b1"]
    assert sparse.data.nnz == np.count_nonzero(X)


def test_sparse_slow_value_conversion_agrees(tmp_path, monkeypatch):
    # Many distinct values make the reader convert entry by entry.
    from skmultihead.datasets import _arff_parse

    monkeypatch.setattr(_arff_parse, "_MAX_TABLE_CELLS", 0)
    test_sparse_and_dense_files_agree(tmp_path)


def test_sparse_quoted_values(tmp_path):
    text = (
        "@relation r\n@attribute 'a b' {'x y',z}\n@attribute n numeric\n"
        "@attribute 'the label' {0,1}\n@data\n"
        "{0 'x y',1 2.5,2 1}\n{0 z , 2 '1'}\n{1 \"-1\"}\n"
    )
    data = load_arff(write(tmp_path, "q.arff", text), labels=["the label"])
    assert data.feature_names == ["a b", "n"]
    np.testing.assert_array_equal(data.data.toarray(), [[0, 2.5], [1, 0], [0, -1]])
    np.testing.assert_array_equal(data.target, [[1], [1], [0]])


def test_sparse_file_with_dense_rows_and_empty_rows(tmp_path):
    text = (
        "@relation 'mixed: -C -1'\n@attribute a numeric\n@attribute b numeric\n"
        "@attribute y {0,1}\n@data\n{}\n{1 2.5,2 1}\n3,0,1\n{ 0 -1 }\n"
    )
    X, Y = load_arff(write(tmp_path, "m.arff", text), return_X_y=True)
    np.testing.assert_array_equal(X.toarray(), [[0, 0], [0, 2.5], [3, 0], [-1, 0]])
    np.testing.assert_array_equal(Y, [[0], [1], [1], [0]])


def test_gzip_and_crlf(tmp_path):
    header, names, table, X, Y = _random_problem(seed=1, n=10)
    rows = [",".join(_fmt(a, v) for a, v in zip(names, row)) for row in table]
    text = header + "@data\n" + "\n".join(rows) + "\n"
    labels = ["lab0", "lab1", "lab2"]
    path = tmp_path / "g.arff.gz"
    with gzip.open(path, "wt") as f:
        f.write(text.replace("\n", "\r\n"))
    XX, YY = load_arff(path, labels=labels, return_X_y=True)
    np.testing.assert_array_equal(XX, X)
    np.testing.assert_array_equal(YY, Y)


def _meka_text(c, labels_first):
    names = ["l1", "l2", "l3", "l4", "l5", "l6"]
    features = ["x1", "x2", "x3"]
    order = names + features if labels_first else features + names
    header = f"@relation 'tiny: -C {c}'\n" + "".join(
        f"@attribute {a} {'{0,1}' if a.startswith('l') else 'numeric'}\n" for a in order
    )
    values = {"l1": 1, "l2": 0, "l3": 0, "l4": 1, "l5": 1, "l6": 0}
    values.update({"x1": 0.5, "x2": -2.0, "x3": 7.0})
    row = ",".join(str(values[a]) for a in order)
    return header + "@data\n" + row + "\n" + row.replace("0.5", "1.5") + "\n"


@pytest.mark.parametrize("c, labels_first", [(6, True), (-6, False)])
def test_meka_relation_convention(tmp_path, c, labels_first):
    path = write(tmp_path, "tiny.arff", _meka_text(c, labels_first))
    data = load_arff(path)
    assert data.target_names == ["l1", "l2", "l3", "l4", "l5", "l6"]
    assert data.feature_names == ["x1", "x2", "x3"]
    np.testing.assert_array_equal(data.target, [[1, 0, 0, 1, 1, 0]] * 2)
    np.testing.assert_array_equal(data.data, [[0.5, -2, 7], [1.5, -2, 7]])
    # The labels argument overrides the relation string.
    same = load_arff(path, labels=c, return_X_y=True)
    np.testing.assert_array_equal(same[1], data.target)
    X, Y = load_arff(path, labels=2 if labels_first else -2, return_X_y=True)
    assert X.shape == (2, 7) and Y.shape == (2, 2)


def test_labels_argument_forms(tmp_path):
    path = write(tmp_path, "tiny.arff", _meka_text(6, True))
    data = load_arff(path, labels=["l4", "l1"])
    assert data.target_names == ["l4", "l1"]
    np.testing.assert_array_equal(data.target, [[1, 1], [1, 1]])
    assert data.feature_names == ["l2", "l3", "l5", "l6", "x1", "x2", "x3"]
    assert load_arff(path, labels="l2").target_names == ["l2"]
    assert load_arff(path, labels=np.int64(3)).target_names == ["l1", "l2", "l3"]
    with pytest.raises(ValueError, match="'nope' .*not an attribute"):
        load_arff(path, labels=["l1", "nope"])
    with pytest.raises(ValueError, match="duplicate"):
        load_arff(path, labels=["l1", "l1"])
    with pytest.raises(TypeError, match="labels must be"):
        load_arff(path, labels=True)
    with pytest.raises(ValueError, match="label count 0"):
        load_arff(path, labels=0)
    with pytest.raises(ValueError, match="at most one"):
        load_arff(path, labels=2, xml=path)


def test_sibling_xml_lookup(tmp_path):
    text = (
        "@relation 'r: -C 1'\n@attribute a numeric\n@attribute y1 {0,1}\n"
        "@attribute y2 {0,1}\n@data\n1,0,1\n"
    )
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<labels xmlns="http://mulan.sourceforge.net/labels">\n'
        '<label name="y2"></label>\n<label name="y1"></label>\n</labels>\n'
    )
    write(tmp_path, "foo.xml", xml)
    for name in ("foo.arff", "foo-train.arff", "foo_test.arff", "FOO-TEST.arff"):
        if name == "FOO-TEST.arff":
            write(tmp_path, "FOO.xml", xml)
        data = load_arff(write(tmp_path, name, text))
        assert data.target_names == ["y2", "y1"], name
        np.testing.assert_array_equal(data.target, [[1, 0]])
    # No xml: the -C 1 of the relation is used.
    other = load_arff(write(tmp_path, "bar-train.arff", text))
    assert other.target_names == ["a"]
    # Explicit xml.
    elsewhere = write(tmp_path, "labels.xml", xml.replace("y2", "y1", 1))
    with pytest.raises(ValueError, match="listed twice"):
        load_arff(tmp_path / "bar-train.arff", xml=elsewhere)


def test_missing_values_become_nan(tmp_path):
    text = (
        "@relation 'q: -C 1'\n@attribute y {0,1}\n@attribute a numeric\n"
        "@attribute b {lo,hi}\n@data\n1,?,hi\n0,2.5,?\n"
    )
    X = load_arff(write(tmp_path, "q.arff", text)).data
    np.testing.assert_array_equal(X, [[np.nan, 1], [2.5, np.nan]])
    sparse = text.replace("1,?,hi\n0,2.5,?\n", "{0 1,1 ?,2 hi}\n{1 2.5,2 ?}\n")
    X = load_arff(write(tmp_path, "qs.arff", sparse)).data
    np.testing.assert_array_equal(X.toarray(), [[np.nan, 1], [2.5, np.nan]])


def test_yes_no_nominals(tmp_path):
    text = (
        "@relation yn\n@attribute f {YES,NO}\n@attribute g {low,mid,high}\n"
        "@attribute lab1 {YES,NO}\n@attribute lab2 {NO,YES}\n"
        "@attribute lab3 {a,b}\n@attribute lab4 {False,True}\n@data\n"
    )
    labels = ["lab1", "lab2", "lab3", "lab4"]
    dense = text + "YES,high,YES,NO,a,True\nNO,low,NO,YES,b,False\n"
    data = load_arff(write(tmp_path, "yn.arff", dense), labels=labels)
    # Features: position of the value in the declaration.
    np.testing.assert_array_equal(data.data, [[0, 2], [1, 0]])
    # Labels: yes/true/1 is "present" wherever declared, else the 2nd value.
    np.testing.assert_array_equal(data.target, [[1, 0, 0, 1], [0, 1, 1, 0]])
    # Sparse: an omitted entry is the first declared value (as in Weka).
    sparse = text + "{}\n{0 NO,1 mid,2 NO,3 YES,4 b,5 True}\n"
    data = load_arff(write(tmp_path, "yns.arff", sparse), labels=labels)
    np.testing.assert_array_equal(data.data.toarray(), [[0, 0], [1, 1]])
    np.testing.assert_array_equal(data.target, [[1, 0, 0, 0], [0, 1, 1, 1]])


def test_quoted_names_comments_and_keyword_case(tmp_path):
    text = (
        "% leading comment\n"
        '@RELATION "quoted names"\n'
        "\n"
        "@ATTRIBUTE 'first feature' NUMERIC\n"
        '@Attribute "second, odd" {\'x y\', "z,w"}\n'
        "@attribute 'it\\'s' Real\n"
        "@attribute 'my label' {0,1}\n"
        '@attribute "other label"{0,1}\n'
        "@DATA\n"
        "% comment in the data section\n"
        "1.5,'x y',3,1,0\n"
        "\n"
        '2.5, "z,w" , 4 ,0,1\n'
    )
    data = load_arff(write(tmp_path, "q.arff", text), labels=-2)
    assert data.relation == "quoted names"
    assert data.feature_names == ["first feature", "second, odd", "it's"]
    assert data.target_names == ["my label", "other label"]
    np.testing.assert_array_equal(data.data, [[1.5, 0, 3], [2.5, 1, 4]])
    np.testing.assert_array_equal(data.target, [[1, 0], [0, 1]])


def test_string_attribute_dropped_with_warning(tmp_path):
    text = (
        "@relation 'r: -C 1'\n@attribute y {0,1}\n@attribute id string\n"
        "@attribute a numeric\n@data\n1,'row one',0.5\n0,\"row, two\",1.5\n"
    )
    with pytest.warns(UserWarning, match=r"string attribute.*'id' \(line 3\)"):
        data = load_arff(write(tmp_path, "s.arff", text))
    assert data.feature_names == ["a"]
    np.testing.assert_array_equal(data.data, [[0.5], [1.5]])


def test_no_warning_for_plain_files(tmp_path):
    path = write(tmp_path, "tiny.arff", _meka_text(6, True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_arff(path)


def test_bunch_and_return_x_y(tmp_path):
    path = write(tmp_path, "tiny.arff", _meka_text(6, True))
    data = load_arff(str(path))
    assert set(data) >= {
        "data",
        "target",
        "feature_names",
        "target_names",
        "DESCR",
        "filename",
        "relation",
    }
    assert data.filename == str(path)
    assert "2 samples" in data.DESCR and "-C 6" in data.DESCR
    X, Y = load_arff(path, return_X_y=True)
    np.testing.assert_array_equal(X, data.data)


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.arff"
    with pytest.raises(FileNotFoundError, match="nope.arff"):
        load_arff(missing)
    path = write(tmp_path, "tiny.arff", _meka_text(6, True))
    with pytest.raises(FileNotFoundError, match="missing.xml"):
        load_arff(path, xml=tmp_path / "missing.xml")


_HEAD = "@relation 't: -C 1'\n@attribute y {0,1}\n@attribute a numeric\n"
_HEAD += "@attribute b numeric\n@data\n"  # @data is line 5

HOSTILE = {
    "truncated": (_HEAD + "1,0.5,0.25\n0,0.5\n", 7, "truncated row"),
    "too-many": (_HEAD + "1,0.5,0.25\n\n1,2,3,4\n", 8, "too many values"),
    "weights": (_HEAD + "1,0.5,0.25,{2}\n", 6, "instance weights"),
    "unknown-type": (
        "@relation r\n@attribute y {0,1}\n@attribute a numerc\n@data\n1,2\n",
        3,
        "unknown attribute type",
    ),
    "date": (
        "@relation r\n@attribute d date 'yyyy-MM-dd'\n@data\n'2020-01-01'\n",
        2,
        "date attributes are not supported",
    ),
    "bad-sparse-index": (_HEAD + "{0 1}\n{0 1,5 2.0}\n", 7, "bad sparse index 5"),
    "negative-sparse-index": (_HEAD + "{-1 1}\n", 6, "bad sparse index -1"),
    "text-sparse-index": (_HEAD + "{0 1,x 2}\n", 6, "bad sparse index 'x'"),
    "unordered-sparse": (_HEAD + "{2 1,1 2}\n", 6, "strictly increasing"),
    "duplicate-sparse": (_HEAD + "{1 1,1 2}\n", 6, "strictly increasing"),
    "malformed-sparse": (_HEAD + "{0 1,2}\n", 6, "malformed sparse entry"),
    "unclosed-sparse": (_HEAD + "{0 1,1 2\n", 6, "does not end with"),
    "empty-data": (_HEAD + "% nothing\n\n", 5, "contains no rows"),
    "no-data-section": ("@relation r\n@attribute y {0,1}\n", 2, "no @data"),
    "no-labels": (
        "@relation plain\n@attribute y {0,1}\n@data\n1\n",
        1,
        "no labels found",
    ),
    "bad-c": (_HEAD.replace("-C 1", "-C 5") + "1,2,3\n", 1, "label count 5"),
    "bad-number": (_HEAD + "1,0.5,abc\n", 6, "invalid numeric value 'abc'"),
    "bad-nominal": (_HEAD + "1,0.5,1\n2,0.5,1\n", 7, "invalid nominal value '2'"),
    "missing-label": (_HEAD + "?,0.5,1\n", 6, "missing value '?' for label"),
    "three-valued-label": (
        _HEAD.replace("y {0,1}", "y {0,1,2}") + "1,2,3\n",
        2,
        "exactly two nominal values",
    ),
    "numeric-label": (
        _HEAD.replace("y {0,1}", "y numeric") + "1,2,3\n2,2,3\n",
        7,
        "numeric labels must be 0 or 1",
    ),
    "duplicate-name": (
        _HEAD.replace("b numeric", "a real") + "1,2,3\n",
        4,
        "duplicate attribute name 'a'",
    ),
    "unterminated-quote": (_HEAD + "1,'0.5,3\n", 6, "unterminated quoted value"),
    "sparse-weights": (_HEAD + "{0 1,1 2},{3}\n", 6, "instance weights"),
    "sparse-weights-2": (_HEAD + "{0 1,1 2}, {3 4}\n", 6, "instance weights"),
    "nested-brace": (_HEAD + "{0 1,{1 2}\n", 6, "unexpected '{' or '}'"),
    "text-after-data": (
        "@relation r\n@attribute y {0,1}\n@data 1\n1\n",
        3,
        "unexpected text after @data",
    ),
    "junk-in-header": (
        "@relation r\n@attribute y {0,1}\nhello\n@data\n1\n",
        3,
        "unexpected line in header",
    ),
    "relational": (
        "@relation r\n@attribute bag relational\n@end bag\n@data\n1\n",
        2,
        "relational attributes",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_malformed_files_name_file_and_line(tmp_path, case):
    text, lineno, fragment = HOSTILE[case]
    path = write(tmp_path, f"{case}.arff", text)
    with pytest.raises(ValueError) as excinfo:
        load_arff(path)
    message = str(excinfo.value)
    assert f"{path}, line {lineno}: " in message
    assert fragment in message


def test_xml_label_missing_from_data(tmp_path):
    path = write(tmp_path, "x.arff", _HEAD + "1,2,3\n")
    xml = write(
        tmp_path,
        "x.xml",
        '<?xml version="1.0"?>\n<labels>\n  <label name="y"/>\n'
        '  <label name="z"></label>\n</labels>\n',
    )
    with pytest.raises(ValueError) as excinfo:
        load_arff(path)
    assert f"{xml}, line 4: label 'z' is not an attribute of {path}" in str(
        excinfo.value
    )
    write(tmp_path, "x.xml", "<labels>\n<label name='y'>\n</labels>\n")
    with pytest.raises(ValueError, match=r"x\.xml, line 3: malformed XML"):
        load_arff(path)
    write(tmp_path, "x.xml", "<labels>\n</labels>\n")
    with pytest.raises(ValueError, match="no <label> elements"):
        load_arff(path)
