"""Tests for skmultihead.model_selection (iterative stratification)."""

import time
from math import ceil

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_multilabel_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    ShuffleSplit,
    cross_val_score,
)
from sklearn.multiclass import OneVsRestClassifier

from skmultihead.model_selection import (
    MultilabelStratifiedKFold,
    iterative_train_test_split,
)


def _rare_label_matrix(seed, n=100):
    """Y with 3 rare labels (2, 3 and 5 positives) and 3 common ones."""
    rng = np.random.RandomState(seed)
    Y = (rng.random_sample((n, 6)) < [0, 0, 0, 0.3, 0.5, 0.1]).astype(int)
    for j, n_pos in enumerate([2, 3, 5]):
        Y[rng.choice(n, n_pos, replace=False), j] = 1
    return Y


def _yeast_like(seed=0):
    _, Y = make_multilabel_classification(
        n_samples=500, n_classes=14, n_labels=4, random_state=seed
    )
    return Y


def _check_partition(train, test, n):
    assert train.dtype.kind == "i" and test.dtype.kind == "i"
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(n))


# --------------------------------------------------------------------------
# iterative_train_test_split
# --------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 7, 100, 101])
@pytest.mark.parametrize("test_size", [0.1, 0.25, 0.5, 0.49])
def test_split_sizes_float(n, test_size):
    Y = _rare_label_matrix(0, n=max(n, 10))[:n]
    n_test = ceil(test_size * n)
    train, test = iterative_train_test_split(Y, test_size=test_size, random_state=0)
    _check_partition(train, test, n)
    assert len(test) == n_test
    assert len(train) == n - n_test
    assert len(train) > 0 and len(test) > 0


def test_split_sizes_match_sklearn_train_test_split():
    from sklearn.model_selection import train_test_split

    for n in [10, 33, 100, 257]:
        for test_size in [0.1, 0.2, 0.33, 0.9, 3, 9]:
            Y = np.zeros((n, 2))
            Y[::3, 0] = 1
            train_sk, test_sk = train_test_split(np.arange(n), test_size=test_size)
            train, test = iterative_train_test_split(Y, test_size=test_size)
            assert (len(train), len(test)) == (len(train_sk), len(test_sk))


@pytest.mark.parametrize("test_size", [1, 5, 99])
def test_split_sizes_int(test_size):
    Y = _rare_label_matrix(1)
    train, test = iterative_train_test_split(Y, test_size=test_size, random_state=1)
    _check_partition(train, test, 100)
    assert len(test) == test_size


def test_split_deterministic():
    Y = _yeast_like()
    a = iterative_train_test_split(Y, test_size=0.2, random_state=42)
    b = iterative_train_test_split(Y, test_size=0.2, random_state=42)
    rs = np.random.RandomState(42)
    c = iterative_train_test_split(Y, test_size=0.2, random_state=rs)
    for x, y, z in zip(a, b, c):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(x, z)
    tests = {
        tuple(iterative_train_test_split(Y, test_size=0.2, random_state=s)[1])
        for s in range(5)
    }
    assert len(tests) == 5


@pytest.mark.parametrize("test_size", [0.1, 0.2, 0.5])
def test_rare_labels_on_both_sides(test_size):
    # Labels with 2, 3 and 5 positives among 100 samples: a random split (or
    # the published algorithm without the at-least-one rule) would often put
    # all of them on the training side when test_size=0.1.
    for seed in range(40):
        Y = _rare_label_matrix(seed)
        train, test = iterative_train_test_split(
            Y, test_size=test_size, random_state=seed
        )
        for j in range(3):
            assert Y[train, j].sum() >= 1, (seed, j)
            assert Y[test, j].sum() >= 1, (seed, j)


def test_rare_labels_sharing_samples():
    # Rare labels sharing samples, so that placing the positives of one label
    # also places positives of others ("side effects").
    Y = np.zeros((30, 7), dtype=int)
    # A 4-cycle of 2-positive labels on rows 0-3: only {0, 2} | {1, 3} works.
    for j, rows in enumerate([[0, 1], [1, 2], [2, 3], [3, 0]]):
        Y[rows, j] = 1
    # Label 4 = {10, 11}; label 5 = {10, 12}; label 6 = {11, 13}. If labels 5
    # and 6 are processed first, label 4 has no positive left when its turn
    # comes, so it relies on the "last chance" rule.
    for j, rows in zip([4, 5, 6], [[10, 11], [10, 12], [11, 13]]):
        Y[rows, j] = 1
    for seed in range(30):
        train, test = iterative_train_test_split(Y, test_size=0.3, random_state=seed)
        np.testing.assert_array_equal(Y[test].sum(axis=0), 1, err_msg=str(seed))
        np.testing.assert_array_equal(Y[train].sum(axis=0), 1, err_msg=str(seed))


def test_rare_labels_impossible_constraints():
    # A "triangle" of 2-positive labels cannot be split so that every label
    # is on both sides (this is set splitting, NP-complete in general): the
    # guarantee is best effort, and here 2 of the 3 labels are split.
    Y = np.zeros((30, 3), dtype=int)
    for j, rows in enumerate([[0, 1], [1, 2], [2, 0]]):
        Y[rows, j] = 1
    for seed in range(10):
        train, test = iterative_train_test_split(Y, test_size=0.3, random_state=seed)
        assert len(test) == 9
        split = (Y[train].sum(axis=0) > 0) & (Y[test].sum(axis=0) > 0)
        assert split.sum() == 2


def test_better_than_random_split_on_yeast_like_data():
    def deviation(Y, train, test):
        return np.abs(Y[train].mean(axis=0) - Y[test].mean(axis=0)).mean()

    iterative, random = [], []
    for seed in range(10):
        Y = _yeast_like(seed)
        train, test = iterative_train_test_split(Y, test_size=0.2, random_state=seed)
        iterative.append(deviation(Y, train, test))
        splitter = ShuffleSplit(n_splits=1, test_size=0.2, random_state=seed)
        train, test = next(splitter.split(Y))
        random.append(deviation(Y, train, test))
    assert np.mean(iterative) < 0.6 * np.mean(random)


def test_per_label_counts_close_to_proportional():
    Y = _yeast_like(3)
    train, test = iterative_train_test_split(Y, test_size=0.2, random_state=0)
    expected = 0.2 * Y.sum(axis=0)
    # Labels are processed rarest first; the most frequent ones, processed
    # last, absorb the remaining slack.
    assert np.all(np.abs(Y[test].sum(axis=0) - expected) <= 0.15 * expected + 2)


def test_nan_is_not_positive():
    Y = _rare_label_matrix(4).astype(float)
    Y_nan = Y.copy()
    rng = np.random.RandomState(0)
    Y_nan[(rng.random_sample(Y.shape) < 0.2) & (Y == 0)] = np.nan
    for seed in range(3):
        expected = iterative_train_test_split(Y, test_size=0.2, random_state=seed)
        got = iterative_train_test_split(Y_nan, test_size=0.2, random_state=seed)
        for e, g in zip(expected, got):
            np.testing.assert_array_equal(e, g)
    # NaN entries stored explicitly in a sparse matrix behave the same.
    got = iterative_train_test_split(
        sp.csr_matrix(Y_nan), test_size=0.2, random_state=2
    )
    np.testing.assert_array_equal(got[1], expected[1])


@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csc_array, sp.coo_matrix])
def test_sparse_equals_dense(container):
    Y = _yeast_like(5)
    dense = iterative_train_test_split(Y, test_size=0.2, random_state=7)
    sparse = iterative_train_test_split(container(Y), test_size=0.2, random_state=7)
    np.testing.assert_array_equal(dense[0], sparse[0])
    np.testing.assert_array_equal(dense[1], sparse[1])
    boolean = iterative_train_test_split(Y.astype(bool), test_size=0.2, random_state=7)
    np.testing.assert_array_equal(dense[1], boolean[1])


def test_samples_without_labels_fill_the_sizes():
    Y = np.zeros((50, 4), dtype=int)
    train, test = iterative_train_test_split(Y, test_size=0.3, random_state=0)
    _check_partition(train, test, 50)
    assert len(test) == 15
    Y[:3, 0] = 1  # a few labelled samples among many unlabelled ones
    train, test = iterative_train_test_split(Y, test_size=0.3, random_state=0)
    assert len(test) == 15
    assert 1 <= Y[test, 0].sum() <= 2


@pytest.mark.parametrize("y_kind", ["binary", "multiclass", "strings"])
def test_1d_target_is_class_stratified(y_kind):
    rng = np.random.RandomState(0)
    if y_kind == "binary":
        y = (rng.random_sample(200) < 0.1).astype(int)
    elif y_kind == "multiclass":
        y = rng.choice(5, size=200, p=[0.5, 0.2, 0.15, 0.1, 0.05])
    else:
        y = rng.choice(np.array(["a", "b", "c"]), size=200, p=[0.7, 0.2, 0.1])
    for seed in range(5):
        train, test = iterative_train_test_split(y, test_size=0.25, random_state=seed)
        _check_partition(train, test, 200)
        assert len(test) == 50
        for c in np.unique(y):
            # Every class gets its proportional share of the test set, up to
            # rounding.
            assert abs(np.sum(y[test] == c) - 0.25 * np.sum(y == c)) <= 1


def test_split_bibtex_sized_is_fast():
    rng = np.random.RandomState(0)
    n, n_labels = 7395, 159
    freq = np.clip(np.sort(rng.pareto(1.0, n_labels) + 1)[::-1], None, 400)
    freq = np.clip(freq / freq.sum() * 2.4, 2 / n, 0.9)
    Y = sp.csr_array((rng.random_sample((n, n_labels)) < freq).astype(np.int8))
    start = time.perf_counter()
    train, test = iterative_train_test_split(Y, test_size=0.1, random_state=0)
    elapsed = time.perf_counter() - start
    # Typically ~0.1 s; a loose bound to catch accidental O(n^2) behaviour.
    assert elapsed < 5
    _check_partition(train, test, n)
    Yd = Y.toarray()
    multi = Yd.sum(axis=0) >= 2
    both = (Yd[train].sum(axis=0) > 0) & (Yd[test].sum(axis=0) > 0)
    assert both[multi].all()


@pytest.mark.parametrize(
    "test_size, match",
    [
        (0.0, "test_size=0.0 should be a float"),
        (1.0, "test_size=1.0 should be a float"),
        (1.5, "should be a float in the"),
        (-0.1, "should be a float in the"),
        (0, "test_size=0 should be an integer"),
        (10, "should be an integer in"),
        (11, "should be an integer in"),
        ("0.1", "test_size must be a float"),
        (True, "test_size must be a float"),
        (0.95, "train set would be empty"),
    ],
)
def test_split_invalid_test_size(test_size, match):
    Y = np.eye(10, 3)
    with pytest.raises(ValueError, match=match):
        iterative_train_test_split(Y, test_size=test_size)


@pytest.mark.parametrize(
    "Y, match",
    [
        (np.array([[1, 0]]), "at least 2 samples"),
        (np.zeros((0, 3)), "at least 2 samples"),
        (np.array([[1, 2], [0, 1]]), r"values in \{0, 1\}.*\[2"),
        (np.array([[0.5, 1], [0, 1]]), r"values such as \[0.5\]"),
        (np.array([[np.inf, 1], [0, 1]]), "values such as"),
        (np.array([[-1, 1], [0, 1]]), "values such as"),
        (sp.csr_matrix(np.array([[3, 1], [0, 1]])), "values such as"),
        (np.zeros((4, 2, 2)), "1-D or a 2-D indicator"),
        (np.array([0.1, 0.5, 0.7]), "binary or multiclass"),
        (np.array([["a", "b"], ["c", "d"]]), "binary indicator matrix"),
    ],
)
def test_split_invalid_y(Y, match):
    with pytest.raises(ValueError, match=match):
        iterative_train_test_split(Y, test_size=0.5)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 60),
    n_labels=st.integers(1, 6),
    density=st.floats(0, 1),
    test_frac=st.floats(0.01, 0.99),
    seed=st.integers(0, 2**31 - 1),
)
def test_split_properties(n, n_labels, density, test_frac, seed):
    rng = np.random.RandomState(seed)
    Y = (rng.random_sample((n, n_labels)) < density).astype(int)
    n_test = min(max(ceil(test_frac * n), 1), n - 1)
    train, test = iterative_train_test_split(Y, test_size=n_test, random_state=seed)
    _check_partition(train, test, n)
    assert len(test) == n_test
    again = iterative_train_test_split(Y, test_size=n_test, random_state=seed)
    np.testing.assert_array_equal(test, again[1])
    # With a single label nothing can conflict: a label with >= 2 positives
    # always ends up on both sides.
    y = Y[:, 0]
    train, test = iterative_train_test_split(
        Y[:, :1], test_size=n_test, random_state=seed
    )
    if y.sum() >= 2:
        assert y[train].any() and y[test].any()
    # Same for both classes of a 1-D binary target (one-hot encoded), provided
    # both sides have room for two samples.
    if min(n_test, n - n_test) >= 2:
        train, test = iterative_train_test_split(y, test_size=n_test, random_state=seed)
        for value in (0, 1):
            if np.sum(y == value) >= 2:
                assert np.any(y[train] == value) and np.any(y[test] == value)


def test_compare_with_iterstrat_if_available():
    iterstrat = pytest.importorskip("iterstrat.ml_stratifiers")
    deviations = {"ours": [], "iterstrat": []}
    for seed in range(5):
        Y = _yeast_like(seed)
        X = np.zeros((len(Y), 1))
        splitter = iterstrat.MultilabelStratifiedShuffleSplit(
            n_splits=1, test_size=0.2, random_state=seed
        )
        splits = {
            "ours": iterative_train_test_split(Y, test_size=0.2, random_state=seed),
            "iterstrat": next(splitter.split(X, Y)),
        }
        for name, (train, test) in splits.items():
            dev = np.abs(Y[train].mean(axis=0) - Y[test].mean(axis=0)).mean()
            deviations[name].append(dev)
    assert np.mean(deviations["ours"]) < 1.5 * np.mean(deviations["iterstrat"])


# --------------------------------------------------------------------------
# MultilabelStratifiedKFold
# --------------------------------------------------------------------------


@pytest.mark.parametrize("n_splits", [2, 3, 5, 7])
@pytest.mark.parametrize("shuffle", [False, True])
def test_kfold_partitions(n_splits, shuffle):
    Y = _yeast_like(1)[:203]
    n = len(Y)
    random_state = 0 if shuffle else None
    cv = MultilabelStratifiedKFold(n_splits, shuffle=shuffle, random_state=random_state)
    assert cv.get_n_splits() == n_splits
    folds = list(cv.split(np.zeros((n, 1)), Y))
    assert len(folds) == n_splits
    tests = np.concatenate([test for _, test in folds])
    np.testing.assert_array_equal(np.sort(tests), np.arange(n))
    for train, test in folds:
        _check_partition(train, test, n)
    # Same fold sizes as KFold: they differ by at most one.
    sizes = [len(test) for _, test in folds]
    kfold_sizes = [len(test) for _, test in KFold(n_splits).split(Y)]
    assert sizes == kfold_sizes
    # Per-label counts are close to proportional: within one for the rare
    # labels (processed first); the frequent labels, processed last when the
    # folds are almost full (nearly every sample has a label here), absorb
    # the remaining slack.
    counts = np.array([Y[test].sum(axis=0) for _, test in folds])
    expected = Y.sum(axis=0) / n_splits
    deviation = np.abs(counts - expected)
    assert np.all(deviation[:, expected < 5] < 1)
    assert np.all(deviation <= 0.6 * expected + 2)
    assert deviation.mean() < 1.5


def test_kfold_better_than_kfold_shuffle():
    def spread(Y, folds):
        fractions = np.array([Y[test].mean(axis=0) for _, test in folds])
        return fractions.std(axis=0).mean()

    ours, plain = [], []
    for seed in range(5):
        Y = _yeast_like(seed)
        cv = MultilabelStratifiedKFold(5, shuffle=True, random_state=seed)
        ours.append(spread(Y, cv.split(Y, Y)))
        plain.append(spread(Y, KFold(5, shuffle=True, random_state=seed).split(Y)))
    assert np.mean(ours) < 0.6 * np.mean(plain)


def test_kfold_rare_labels_in_every_fold():
    for seed in range(20):
        Y = _rare_label_matrix(seed)
        cv = MultilabelStratifiedKFold(3, shuffle=True, random_state=seed)
        for _, test in cv.split(Y, Y):
            # 3 and 5 positives, 3 folds: every fold gets at least one.
            assert Y[test, 1].sum() >= 1 and Y[test, 2].sum() >= 1
            # 2 positives: never both in the same fold.
            assert Y[test, 0].sum() <= 1


def test_kfold_determinism():
    Y = _yeast_like(2)
    X = np.zeros((len(Y), 2))

    def tests(cv):
        return [test.tolist() for _, test in cv.split(X, Y)]

    assert tests(MultilabelStratifiedKFold(4)) == tests(MultilabelStratifiedKFold(4))
    a = tests(MultilabelStratifiedKFold(4, shuffle=True, random_state=3))
    b = tests(MultilabelStratifiedKFold(4, shuffle=True, random_state=3))
    c = tests(MultilabelStratifiedKFold(4, shuffle=True, random_state=4))
    assert a == b and a != c


def test_kfold_nan_and_sparse():
    Y = _yeast_like(6).astype(float)
    Y_nan = Y.copy()
    Y_nan[::7, 3] = np.where(Y[::7, 3] == 0, np.nan, 1)
    cv = MultilabelStratifiedKFold(3, shuffle=True, random_state=0)
    expected = [test.tolist() for _, test in cv.split(Y, Y)]
    assert [t.tolist() for _, t in cv.split(Y, Y_nan)] == expected
    assert [t.tolist() for _, t in cv.split(Y, sp.csr_matrix(Y))] == expected


def test_kfold_1d_target():
    y = np.repeat([0, 1, 2], [30, 12, 6])
    for _, test in MultilabelStratifiedKFold(3).split(np.zeros(len(y)), y):
        np.testing.assert_array_equal(np.bincount(y[test]), [10, 4, 2])


def test_kfold_in_cross_val_score():
    X, Y = make_multilabel_classification(
        n_samples=150, n_features=10, n_classes=5, random_state=0
    )
    clf = OneVsRestClassifier(LogisticRegression(solver="liblinear"))
    scores = cross_val_score(clf, X, Y, cv=MultilabelStratifiedKFold(3))
    assert scores.shape == (3,)
    assert np.all((scores >= 0) & (scores <= 1))
    cv = MultilabelStratifiedKFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(clf, {"estimator__C": [0.1, 1.0]}, cv=cv).fit(X, Y)
    assert search.n_splits_ == 3


def test_kfold_repr_and_params():
    cv = MultilabelStratifiedKFold(4, shuffle=True, random_state=1)
    assert repr(cv) == (
        "MultilabelStratifiedKFold(n_splits=4, random_state=1, shuffle=True)"
    )


def test_kfold_invalid():
    Y = np.eye(6, 2)
    with pytest.raises(ValueError, match="n_splits=2 or more"):
        MultilabelStratifiedKFold(1)
    with pytest.raises(ValueError, match="Setting a random_state has no effect"):
        MultilabelStratifiedKFold(3, random_state=0)
    with pytest.raises(ValueError, match="greater than the number of samples"):
        list(MultilabelStratifiedKFold(7).split(Y, Y))
    with pytest.raises(ValueError, match="requires y"):
        list(MultilabelStratifiedKFold(3).split(Y, None))
    with pytest.raises(ValueError, match="values such as"):
        list(MultilabelStratifiedKFold(3).split(Y, 2 * Y))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        list(MultilabelStratifiedKFold(3).split(Y, Y[:5]))
    with pytest.warns(UserWarning, match="groups parameter is ignored"):
        list(MultilabelStratifiedKFold(3).split(Y, Y, groups=np.arange(6)))
