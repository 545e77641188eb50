"""Multi-label datasets: an ARFF reader and a small bundled dataset."""

# Authors: The skmultihead developers
# SPDX-License-Identifier: BSD-3-Clause

from ._arff import load_arff
from ._emotions import load_emotions

__all__ = ["load_arff", "load_emotions"]
