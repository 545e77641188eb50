"""
==================================================================
How much should the labels share? The trunk-and-towers spectrum
==================================================================

Between one network shared by every label and one private network per label
lies a spectrum: a shared *trunk* of hidden layers followed by a small private
*tower* per label (``tower_layer_sizes``). This example walks along it on the
*emotions* dataset and plots the test micro- and macro-F1 and the fit time of
each point. Everything else is at the defaults (cross-fitting, ``alpha`` and
the thresholds chosen out of fold).

See :ref:`towers` in the user guide.
"""

# %%
# Data
# ----
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import f1_score
from sklearn.preprocessing import StandardScaler

from skmultihead import MultiHeadMLPClassifier
from skmultihead.datasets import load_emotions

train = load_emotions(subset="train")
test = load_emotions(subset="test")
scaler = StandardScaler().fit(train.data)
X_train, Y_train = scaler.transform(train.data), train.target
X_test, Y_test = scaler.transform(test.data), test.target

# %%
# Points of the spectrum
# ----------------------
# From fully shared (left) to nothing shared (right). ``hidden_layer_sizes=()``
# with towers is exactly binary relevance.
spectrum = {
    "shared 100": dict(hidden_layer_sizes=(100,)),
    "trunk 64 +\ntowers 16": dict(hidden_layer_sizes=(64,), tower_layer_sizes=(16,)),
    "trunk 32 +\ntowers 32": dict(hidden_layer_sizes=(32,), tower_layer_sizes=(32,)),
    "towers 32\n(no trunk)": dict(hidden_layer_sizes=(), tower_layer_sizes=(32,)),
}
results = {}
for name, params in spectrum.items():
    clf = MultiHeadMLPClassifier(random_state=0, **params)
    start = time.perf_counter()
    clf.fit(X_train, Y_train)
    seconds = time.perf_counter() - start
    Y_pred = clf.predict(X_test)
    results[name] = (
        f1_score(Y_test, Y_pred, average="micro"),
        f1_score(Y_test, Y_pred, average="macro"),
        seconds,
    )
    label = name.replace("\n", " ")
    micro, macro, _ = results[name]
    print(f"{label:24s} micro-F1 {micro:.3f}  macro-F1 {macro:.3f}  {seconds:.1f} s")

# %%
# Quality and cost along the spectrum
# -----------------------------------
names = list(results)
values = np.array([results[n] for n in names])
x = np.arange(len(names))
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
ax1.bar(x - 0.2, values[:, 0], width=0.4, label="micro-F1")
ax1.bar(x + 0.2, values[:, 1], width=0.4, label="macro-F1")
ax1.set_xticks(x, names, fontsize=8)
ax1.set_ylim(0.5, 0.8)
ax1.set_title("Test F1 (emotions)")
ax1.legend()
ax2.bar(x, values[:, 2], color="gray")
ax2.set_xticks(x, names, fontsize=8)
ax2.set_ylabel("seconds")
ax2.set_title("Fit time")
fig.tight_layout()
plt.show()
