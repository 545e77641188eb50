"""Shared fixtures.

``sklearn_parity_defaults``: the estimators' constructor defaults set to
:data:`skmultihead.SKLEARN_PARITY` for the duration of a test. The modules that
check scikit-learn parity, the single validation split and the engine's
behaviour on one network (``test_estimators``, ``test_features``,
``test_reliability``, ...) were written against ``MLPClassifier``'s defaults;
they use it so that every estimator they build without an explicit ``cv``,
``alpha``, ``early_stopping`` or ``threshold`` is the parity configuration,
exactly as a user gets it with ``MultiHeadMLPClassifier(**SKLEARN_PARITY)``.
The new defaults (cross-fitting, alpha chosen on held-out data, tuned
thresholds) are tested in ``test_ensembles`` and ``test_defaults``, and by the
scikit-learn common checks in ``test_common``.
"""

import pytest

from skmultihead import SKLEARN_PARITY
from skmultihead._base import BaseMultiLabelMLP


@pytest.fixture(scope="module")
def sklearn_parity_defaults():
    defaults = dict(BaseMultiLabelMLP.__init__.__kwdefaults__)
    for name, value in SKLEARN_PARITY.items():
        if name == "hidden_layer_sizes":
            continue  # a positional default, already MLPClassifier's
        assert name in defaults, name
        defaults[name] = value
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseMultiLabelMLP.__init__, "__kwdefaults__", defaults)
        yield
