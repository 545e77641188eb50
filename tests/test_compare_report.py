"""Tests of the metrics and tables of the ``compare`` command
(:mod:`skmultihead._compare_report`)."""

import numpy as np
import pytest
from sklearn.metrics import f1_score, label_ranking_loss

from skmultihead import _compare_report


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_multilabel_scores_two_labels():
    # Two labels: classes_ == [0, 1] must not be mistaken for a binary problem.
    from sklearn.neural_network import MLPClassifier

    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 0]).astype(int)
    clf = MLPClassifier((5,), max_iter=300, random_state=0).fit(X, Y)
    P = _compare_report.label_scores(clf, X, 2)
    assert P.shape == (60, 2)
    scores = _compare_report.multilabel_scores(Y, clf.predict(X), P)
    assert scores["micro_f1"] == pytest.approx(
        f1_score(Y, clf.predict(X), average="micro")
    )
    assert scores["ranking_loss"] == pytest.approx(label_ranking_loss(Y, P))
    # list-of-(n, 2) output of multi-output meta-estimators
    listed = [np.column_stack([1 - P[:, j], P[:, j]]) for j in range(2)]

    class ListProba:
        def predict_proba(self, X):
            return listed

    np.testing.assert_allclose(_compare_report.label_scores(ListProba(), X, 2), P)


def test_format_table_marks_best():
    summary = {m.key: {"mean": 0.5, "std": 0.1} for m in _compare_report.METRICS}
    summary["fit_time"] = {"mean": 1.0, "std": 0.0}
    better = {**summary, "micro_f1": {"mean": 0.9, "std": 0.0}}
    text = _compare_report.format_table(["a", "b"], [summary, better])
    assert "0.900 ± 0.000 *" in text
    markdown = _compare_report.format_table(
        ["a", "b"], [summary, better], fmt="markdown"
    )
    assert "**0.900 ± 0.000**" in markdown


def test_label_scores_of_a_multi_output_estimator_with_a_constant_label():
    """Forests return one (n, n_classes) array per label; a label with no
    positive in training has the single class 0, so its score is 0, not the
    probability of class 0."""
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3))
    Y = (rng.uniform(size=(40, 3)) < 0.5).astype(int)
    Y[:, 1] = 0
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, Y)
    P = _compare_report.label_scores(forest, X, 3)
    np.testing.assert_array_equal(P[:, 1], 0.0)
    np.testing.assert_array_equal(P[:, 0], forest.predict_proba(X)[0][:, 1])
