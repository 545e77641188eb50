"""Command-line interface: ``python -m skmultihead`` or ``skmultihead``.

Commands:

* ``compare`` -- cross-validate MultiHeadMLPClassifier, BinaryRelevanceMLPClassifier
  and scikit-learn anchors on the bundled emotions data or an ARFF file.

The implementation lives in :mod:`skmultihead._compare`.
"""

import sys

from ._compare import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
