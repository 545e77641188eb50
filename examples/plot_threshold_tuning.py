"""
==================================================
Tuning one decision threshold per label (F1-based)
==================================================

``predict`` returns a label when its probability exceeds a threshold, 0.5 by
default. For a label that is rare or hard to predict, 0.5 is rarely the best
cut: its probabilities seldom get that high, and the label is missed.
``threshold='f1'`` tunes one threshold per label to maximise that label's F1
score on held-out data.

This example trains the same network twice -- once with ``threshold=0.5`` and
once with ``threshold='f1'`` -- and compares the per-label F1 scores on the test
set. See :ref:`thresholds` in the user guide.
"""

# %%
# Data: train, validation and test
# --------------------------------
# Thresholds must be tuned on probabilities the model has not been trained on.
# We hold out a quarter of the training songs with
# :func:`~skmultihead.model_selection.iterative_train_test_split`, which keeps
# every label's proportion on both sides, and pass it as ``X_val``/``Y_val``.
# (Without ``X_val``, ``threshold='f1'`` makes such a split by itself, of size
# ``validation_fraction``.)
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import f1_score
from sklearn.preprocessing import StandardScaler

from skmultihead import MultiHeadMLPClassifier
from skmultihead.datasets import load_emotions
from skmultihead.model_selection import iterative_train_test_split

# We train for a fixed, small number of epochs (more only overfits these few
# hundred songs); scikit-learn warns when ``max_iter`` ends training.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, Y = load_emotions(subset="train", return_X_y=True)
X_test, Y_test = load_emotions(subset="test", return_X_y=True)
labels = load_emotions().target_names

fit_idx, val_idx = iterative_train_test_split(Y, test_size=0.25, random_state=0)
# Scale by hand: parameters such as X_val bypass the steps of a Pipeline.
scaler = StandardScaler().fit(X[fit_idx])
X_fit, X_val, X_test = (scaler.transform(a) for a in (X[fit_idx], X[val_idx], X_test))
Y_fit, Y_val = Y[fit_idx], Y[val_idx]
print(f"fit: {len(fit_idx)} songs, validation: {len(val_idx)}, test: {len(X_test)}")

# %%
# Same network, two thresholds
# ----------------------------
# The validation set does not influence the weights (no cross-fitting and no
# early stopping here, a fixed ``alpha``), so both models have identical
# probabilities: only their thresholds differ. (With its defaults the estimator
# tunes ``'f1_shrunk'`` thresholds on out-of-fold probabilities instead: see
# :ref:`defaults` in the user guide.)
params = dict(
    hidden_layer_sizes=(64,),
    alpha=1e-2,
    max_iter=100,
    random_state=0,
    cv=None,
    early_stopping=False,
)
default = MultiHeadMLPClassifier(**params).fit(X_fit, Y_fit)
tuned = MultiHeadMLPClassifier(threshold="f1", **params).fit(
    X_fit, Y_fit, X_val=X_val, Y_val=Y_val
)
assert np.array_equal(default.predict_proba(X_test), tuned.predict_proba(X_test))

for name, t in zip(labels, tuned.threshold_):
    print(f"{name:>16}: threshold {t:.3f}")

# %%
# Per-label F1 on the test set
# ----------------------------
f1_default = f1_score(Y_test, default.predict(X_test), average=None)
f1_tuned = f1_score(Y_test, tuned.predict(X_test), average=None)

x = np.arange(len(labels))
width = 0.4
fig, ax = plt.subplots(figsize=(10, 4), layout="constrained")
bars = ax.bar(x - width / 2, f1_default, width, label="threshold = 0.5")
ax.bar_label(bars, fmt="%.2f", fontsize=8)
bars = ax.bar(x + width / 2, f1_tuned, width, label="threshold = 'f1' (tuned)")
ax.bar_label(bars, fmt="%.2f", fontsize=8)
ax.set_xticks(x, labels, rotation=20)
ax.set(ylabel="F1 on the test set", ylim=(0, 1), title="Per-label F1")
ax.legend(loc="lower right")
plt.show()

for average in ("micro", "macro"):
    before = f1_score(Y_test, default.predict(X_test), average=average)
    after = f1_score(Y_test, tuned.predict(X_test), average=average)
    print(f"{average}-F1: {before:.3f} with 0.5, {after:.3f} with tuned thresholds")

# %%
# How a threshold is chosen
# -------------------------
# For each label, the tuner sorts the validation probabilities and keeps the cut
# with the best F1 (halfway between two consecutive probabilities). Here is the
# validation F1 of every possible threshold for one label, with the chosen one;
# the curve is broad and jagged near its top, so a threshold tuned on a small
# validation set is a noisy estimate -- use as much validation data as you can
# spare.
j = int(np.argmin(tuned.threshold_))  # the label whose threshold moved most below 0.5
P_val = tuned.predict_proba(X_val)[:, j]
grid = np.linspace(0.01, 0.99, 99)
f1_grid = [f1_score(Y_val[:, j], P_val > t, zero_division=0) for t in grid]

fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
ax.plot(grid, f1_grid, label="validation F1")
ax.axvline(0.5, color="gray", linestyle=":", label="0.5")
ax.axvline(tuned.threshold_[j], color="C3", linestyle="--", label="tuned threshold")
ax.set(xlabel="threshold", ylabel="F1", title=f"Label {labels[j]!r}")
ax.legend()
plt.show()

# %%
# Tuned thresholds trade precision for recall label by label. They usually help
# the macro average most, since it weighs the hard labels as much as the easy
# ones. When every sample must get at least one label, add ``min_labels=1``.
