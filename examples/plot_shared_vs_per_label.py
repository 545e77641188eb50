"""
=========================================================
Shared hidden layers vs one network per label (emotions)
=========================================================

:class:`~skmultihead.MultiHeadMLPClassifier` trains one network whose hidden
layers are shared by all labels; :class:`~skmultihead.BinaryRelevanceMLPClassifier`
trains one independent network per label. This example trains both on the
*emotions* dataset (music clips tagged with 6 emotions), follows their test
loss epoch by epoch, and compares them label by label.

See :ref:`models` in the user guide for the mathematics and the trade-offs.
"""

# %%
# Data
# ----
# The MULAN train/test split of *emotions* ships with the package. Networks want
# standardised features; the scaler is fitted on the training songs only.
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import f1_score, hamming_loss
from sklearn.preprocessing import StandardScaler

from skmultihead import BinaryRelevanceMLPClassifier, MultiHeadMLPClassifier
from skmultihead.datasets import load_emotions
from skmultihead.metrics import multilabel_log_loss

train = load_emotions(subset="train")
test = load_emotions(subset="test")
scaler = StandardScaler().fit(train.data)
X_train, Y_train = scaler.transform(train.data), train.target
X_test, Y_test = scaler.transform(test.data), test.target
labels = train.target_names
print(f"train: {X_train.shape}, test: {X_test.shape}, labels: {labels}")
print("positives per label (train):", Y_train.sum(axis=0))

# %%
# Two models of similar size
# --------------------------
# The shared model has one hidden layer of 64 units for all labels. Each
# per-label network gets 12 hidden units, so the two models have a similar
# number of parameters (the per-label model pays ``n_labels`` times for its
# first layer).
models = {
    "shared (64)": MultiHeadMLPClassifier(
        hidden_layer_sizes=(64,), alpha=1e-2, random_state=0
    ),
    "per label (6 x 12)": BinaryRelevanceMLPClassifier(
        hidden_layer_sizes=(12,), alpha=1e-2, random_state=0
    ),
}

# %%
# Learning curves on the test set
# -------------------------------
# ``partial_fit`` runs one epoch per call, which lets us measure the test loss
# after every epoch. No ``classes=`` argument is needed for an indicator ``Y``.
n_epochs = 200
curves = {name: {"loss": [], "f1": []} for name in models}
fit_time = {}
for name, model in models.items():
    start = time.perf_counter()
    for epoch in range(n_epochs):
        model.partial_fit(X_train, Y_train)
        P = model.predict_proba(X_test)
        curves[name]["loss"].append(multilabel_log_loss(Y_test, P))
        curves[name]["f1"].append(f1_score(Y_test, P > 0.5, average="micro"))
    fit_time[name] = time.perf_counter() - start

fig, (ax_loss, ax_f1) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
for name in models:
    ax_loss.plot(curves[name]["loss"], label=name)
    ax_f1.plot(curves[name]["f1"], label=name)
ax_loss.set(
    xlabel="epoch", ylabel="test log loss (summed over labels)", title="Test loss"
)
ax_f1.set(xlabel="epoch", ylabel="micro-averaged F1", title="Test micro-F1")
ax_loss.legend()
plt.show()

# %%
# The test loss first falls, then rises again once the networks start to
# memorise the 391 training songs: on such a small dataset, ``alpha``, a small
# network or ``early_stopping=True`` matter. Compare where each curve bottoms
# out and how low it gets.
#
# Final scores
# ------------
# The parameters are read from ``coefs_`` and ``intercepts_``, which use
# scikit-learn's layout (one extra leading axis, the label, for the per-label
# model).
for name, model in models.items():
    n_params = sum(c.size for c in model.coefs_) + sum(
        b.size for b in model.intercepts_
    )
    P = model.predict_proba(X_test)
    Y_pred = model.predict(X_test)
    best = int(np.argmin(curves[name]["loss"]))
    print(f"{name}: {n_params} parameters")
    print(
        f"    micro-F1 {f1_score(Y_test, Y_pred, average='micro'):.3f}, "
        f"macro-F1 {f1_score(Y_test, Y_pred, average='macro'):.3f}, "
        f"Hamming loss {hamming_loss(Y_test, Y_pred):.3f}"
    )
    print(
        f"    test log loss {multilabel_log_loss(Y_test, P):.3f} "
        f"(lowest {min(curves[name]['loss']):.3f}, at epoch {best + 1})"
    )
    print(f"    {n_epochs} epochs, each with a test evaluation: {fit_time[name]:.2f} s")

# %%
# Label by label
# --------------
# Where do the two models differ? The F1 score of every label on the test set:
width = 0.4
x = np.arange(len(labels))
fig, ax = plt.subplots(figsize=(10, 4), layout="constrained")
for k, (name, model) in enumerate(models.items()):
    scores = f1_score(Y_test, model.predict(X_test), average=None)
    bars = ax.bar(x + (k - 0.5) * width, scores, width, label=name)
    ax.bar_label(bars, fmt="%.2f", fontsize=8)
ax.set_xticks(x, labels, rotation=20)
ax.set(ylabel="F1 on the test set", ylim=(0, 1), title="Per-label F1")
ax.legend(loc="lower right")
plt.show()

# %%
# Why share? The emotions are far from independent: the correlations between
# the label columns show pairs that go together and pairs that exclude each
# other.
corr = np.corrcoef(Y_train.T)
fig, ax = plt.subplots(figsize=(6, 5), layout="constrained")
im = ax.imshow(corr, cmap="RdBu_r", vmin=-1, vmax=1)
ax.set_xticks(x, labels, rotation=45, ha="right")
ax.set_yticks(x, labels)
for i in range(len(labels)):
    for j in range(len(labels)):
        ax.text(j, i, f"{corr[i, j]:.2f}", ha="center", va="center", fontsize=8)
fig.colorbar(im, ax=ax, label="correlation of the label columns (train)")
ax.set_title("Label correlations")
plt.show()

# %%
# Correlated labels rest on the same audio evidence. A shared trunk learns that
# evidence once for all of them, and every label's head can use it; each
# per-label network must find it alone, from its own positives. On data where
# labels are unrelated, or where one label must not change when others are
# added, the per-label model is the safer choice (see :ref:`models`).
#
# ``python -m skmultihead compare`` runs the same comparison as a
# cross-validation, with scikit-learn baselines, on any ARFF dataset.
