"""
=======================================
Grid search in a scikit-learn pipeline
=======================================

Both estimators are ordinary scikit-learn classifiers, so they go into a
:class:`~sklearn.pipeline.Pipeline` and a
:class:`~sklearn.model_selection.GridSearchCV` unchanged. This example searches
over the estimator itself (shared trunk or one network per label) and its
regularisation, with

- :class:`~skmultihead.model_selection.MultilabelStratifiedKFold`, which keeps
  the proportion of every label in every fold, and
- two scores at once: micro-F1 of the predictions and the multi-label log loss
  of the probabilities
  (:data:`~skmultihead.metrics.neg_multilabel_log_loss_scorer`).
"""

# %%
# The pipeline and the grid
# -------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import f1_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skmultihead import BinaryRelevanceMLPClassifier, MultiHeadMLPClassifier
from skmultihead.datasets import load_emotions
from skmultihead.metrics import neg_multilabel_log_loss_scorer
from skmultihead.model_selection import MultilabelStratifiedKFold

# A fixed, small number of epochs keeps the search fast; scikit-learn warns when
# ``max_iter`` ends training.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X_train, Y_train = load_emotions(subset="train", return_X_y=True)
X_test, Y_test = load_emotions(subset="test", return_X_y=True)

pipe = Pipeline(
    [
        ("scale", StandardScaler()),
        ("clf", MultiHeadMLPClassifier(max_iter=100, random_state=0)),
    ]
)
param_grid = [
    {
        "clf": [MultiHeadMLPClassifier(max_iter=100, random_state=0)],
        "clf__hidden_layer_sizes": [(64,)],
        "clf__alpha": [1e-3, 1e-1, 3.0],
    },
    {
        "clf": [BinaryRelevanceMLPClassifier(max_iter=100, random_state=0)],
        "clf__hidden_layer_sizes": [(12,)],
        "clf__alpha": [1e-3, 1e-1, 3.0],
    },
]
search = GridSearchCV(
    pipe,
    param_grid,
    scoring={"f1_micro": "f1_micro", "log_loss": neg_multilabel_log_loss_scorer},
    refit="f1_micro",
    cv=MultilabelStratifiedKFold(n_splits=3, shuffle=True, random_state=0),
)
search.fit(X_train, Y_train)

# %%
# Results
# -------
# ``cv_results_`` holds both scores for every candidate (the log loss is
# negated, following scikit-learn's "greater is better" convention).
res = search.cv_results_
names = [
    f"{type(p['clf']).__name__.replace('MLPClassifier', '')}\nalpha={p['clf__alpha']:g}"
    for p in res["params"]
]
x = np.arange(len(names))
fig, (ax_f1, ax_ll) = plt.subplots(1, 2, figsize=(12, 4), layout="constrained")
ax_f1.bar(x, res["mean_test_f1_micro"], yerr=res["std_test_f1_micro"], color="C0")
ax_f1.set(ylabel="micro-F1 (3-fold CV)", title="micro-F1, higher is better")
ax_f1.set_ylim(0.4, 0.8)
ax_ll.bar(x, -res["mean_test_log_loss"], yerr=res["std_test_log_loss"], color="C1")
ax_ll.set(ylabel="multi-label log loss (3-fold CV)", title="log loss, lower is better")
for ax in (ax_f1, ax_ll):
    ax.set_xticks(x, names, fontsize=8)
plt.show()

# %%
# The refitted best pipeline is scored once on the test songs:
print("best parameters:", {k: v for k, v in search.best_params_.items()})
print(f"cross-validated micro-F1: {search.best_score_:.3f}")
print(f"test micro-F1: {f1_score(Y_test, search.predict(X_test), average='micro'):.3f}")

# %%
# Searches can run in parallel with ``n_jobs``: every worker process then gives
# each fit its share of the cores (see :ref:`threads`), and with
# ``joblib.parallel_config(backend="dask")`` the same search runs on a Dask
# cluster (see :ref:`scaling_out`).
