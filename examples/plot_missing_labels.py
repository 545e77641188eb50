"""
====================================
Training with missing labels (NaN)
====================================

Real annotations are often incomplete: an annotator checked some labels of a
sample but not the others. skmultihead takes a ``NaN`` in ``Y`` to mean
"unknown": the entry contributes no loss and no gradient, while the sample still
trains every label it has.

This example hides 30% of the label entries of the *emotions* training set at
random and compares four ways of training on what is left:

- **NaN**: mark the hidden entries as missing (skmultihead's way);
- **fill with 0**: treat unknown as "label absent", the usual workaround;
- **drop rows**: keep only the songs whose labels are all known;
- **complete labels**: the reference, trained without hiding anything.

See :ref:`missing_labels` in the user guide.
"""

# %%
# Hide 30% of the label entries
# -----------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import f1_score
from sklearn.preprocessing import StandardScaler

from skmultihead import MultiHeadMLPClassifier
from skmultihead.datasets import load_emotions
from skmultihead.metrics import multilabel_log_loss

# A fixed, small number of epochs (more only overfits these few hundred songs);
# scikit-learn warns when ``max_iter`` ends training.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X_train, Y_train = load_emotions(subset="train", return_X_y=True)
X_test, Y_test = load_emotions(subset="test", return_X_y=True)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

rng = np.random.RandomState(0)
hidden = rng.uniform(size=Y_train.shape) < 0.3
Y_nan = Y_train.astype(float)  # an integer array cannot hold NaN
Y_nan[hidden] = np.nan
complete_rows = ~hidden.any(axis=1)
print(f"hidden entries: {hidden.mean():.0%}")
print(f"songs with every label known: {complete_rows.sum()} of {len(Y_train)}")

# %%
# Four training sets, one model
# -----------------------------
training_sets = {
    "complete labels": (X_train, Y_train),
    "NaN (missing)": (X_train, Y_nan),
    "fill with 0": (X_train, np.nan_to_num(Y_nan, nan=0.0)),
    "drop rows": (X_train[complete_rows], Y_train[complete_rows]),
}
results = {}
for name, (X, Y) in training_sets.items():
    model = MultiHeadMLPClassifier(
        hidden_layer_sizes=(64,), alpha=1e-2, max_iter=100, random_state=0
    ).fit(X, Y)
    P = model.predict_proba(X_test)
    Y_pred = model.predict(X_test)
    results[name] = {
        "micro-F1": f1_score(Y_test, Y_pred, average="micro"),
        "macro-F1": f1_score(Y_test, Y_pred, average="macro"),
        "pos. rate": Y_pred.mean(),
        "log loss": multilabel_log_loss(Y_test, P),
    }

print(f"{'':>16}" + "".join(f"{m:>10}" for m in results["NaN (missing)"]))
for name, scores in results.items():
    print(f"{name:>16}" + "".join(f"{v:10.3f}" for v in scores.values()))
print(f"{'true labels':>16}{'':>20}{Y_test.mean():10.3f}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 4), layout="constrained")
names = list(results)
colors = ["C7", "C0", "C1", "C2"]
for ax, metric in zip(axes, ["micro-F1", "macro-F1", "log loss"]):
    values = [results[n][metric] for n in names]
    bars = ax.bar(range(len(names)), values, color=colors)
    ax.bar_label(bars, fmt="%.3f", fontsize=8)
    ax.set_xticks(range(len(names)), names, rotation=25, ha="right")
    ax.set_title("test " + metric + (" (lower is better)" if "loss" in metric else ""))
plt.show()

# %%
# Filling the gaps with 0 teaches the model that the hidden labels are absent:
# it predicts fewer positives than there are (compare its positive rate with
# that of the true test labels) and its probabilities are biased low, which
# shows in the log loss. Dropping incomplete rows keeps only the few complete
# songs counted above, and throws away the labels the other songs do have.
# Marking the entries as missing keeps all the known labels and nothing false.
#
# Scoring with missing labels
# ---------------------------
# Validation data can have gaps too. scikit-learn's metrics do not accept NaN,
# so score every label on its observed rows; the multi-label log loss of
# skmultihead skips missing entries by itself.
model = MultiHeadMLPClassifier(
    hidden_layer_sizes=(64,), alpha=1e-2, max_iter=100, random_state=0
).fit(X_train, Y_nan)
Y_test_gappy = Y_test.astype(float)
Y_test_gappy[rng.uniform(size=Y_test.shape) < 0.3] = np.nan
Y_pred = model.predict(X_test)
per_label_f1 = []
for j in range(Y_test.shape[1]):
    observed = ~np.isnan(Y_test_gappy[:, j])
    per_label_f1.append(f1_score(Y_test_gappy[observed, j], Y_pred[observed, j]))
print("per-label F1 on observed entries:", np.round(per_label_f1, 3))
print(
    "log loss on observed entries:",
    round(multilabel_log_loss(Y_test_gappy, model.predict_proba(X_test)), 3),
)
