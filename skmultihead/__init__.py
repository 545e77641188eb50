"""skmultihead: multi-label MLP classifiers for scikit-learn, on Numba kernels.

* :class:`MultiHeadMLPClassifier` -- one network, shared hidden layers, one
  sigmoid output per label.
* :class:`BinaryRelevanceMLPClassifier` -- one independent network per label,
  all trained together in the same engine.
"""

from ._base import SKLEARN_PARITY
from ._binary_relevance import BinaryRelevanceMLPClassifier
from ._multihead import MultiHeadMLPClassifier

__version__ = "0.1.0.dev0"

__all__ = [
    "BinaryRelevanceMLPClassifier",
    "MultiHeadMLPClassifier",
    "SKLEARN_PARITY",
    "__version__",
]
