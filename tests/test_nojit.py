"""The engine's compile modes.

* Pure Python: under ``NUMBA_DISABLE_JIT=1`` the package imports, fits and
  predicts (slowly), so that a coverage run can trace the kernels.
* The direct-call fallback of the call by address (``_kernels._BY_ADDRESS``
  off: JIT disabled, or numba's internals not as expected) gives the results of
  the call by address.
* Dense input without dropout compiles no sparse or dropout code (the CSR and
  dropout bundles are None and numba prunes their branches).
* A cross-fitted fit and its predictions compile one specialisation of each
  kernel (every extra one is compiled, and re-optimised inside its callers, on
  the first fit).

Each mode that needs a fresh interpreter runs in a subprocess.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import sparse

from skmultihead import MultiHeadMLPClassifier
from skmultihead import _kernels as K

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Both estimators on dense and CSR input; predict on more rows than one predict
# block (_engine._PREDICT_BLOCK_ROWS), so that the parallel loop runs too.
_FITS = """
import json, warnings
import numpy as np
from scipy import sparse
warnings.simplefilter("ignore")
from skmultihead import BinaryRelevanceMLPClassifier, MultiHeadMLPClassifier
from skmultihead import _kernels as K
rng = np.random.RandomState(0)
X = rng.rand(1100, 5)
X[X < 0.4] = 0.0
Y = (rng.rand(1100, 3) < 0.4).astype(int)
out = {"by_address": K._BY_ADDRESS}
for name, Est in (("MH", MultiHeadMLPClassifier), ("BR", BinaryRelevanceMLPClassifier)):
    for kind, x in (("dense", X), ("csr", sparse.csr_matrix(X))):
        est = Est(hidden_layer_sizes=(4,), max_iter=2, batch_size=10, random_state=0)
        est.fit(x[:40], Y[:40])
        out[name + "-" + kind] = est.predict_proba(x).tolist()
print(json.dumps(out))
"""


def _run_python(code, **env):
    """stdout of ``python -c code`` run from the repository root."""
    env = dict(os.environ, **env)
    cmd = [sys.executable, "-c", code]
    out = subprocess.check_output(cmd, text=True, timeout=900, env=env, cwd=_ROOT)
    return out.strip().splitlines()[-1]


def test_fit_and_predict_with_jit_disabled():
    jitted = json.loads(_run_python(_FITS))
    python = json.loads(_run_python(_FITS, NUMBA_DISABLE_JIT="1"))
    assert jitted.pop("by_address") is True
    assert python.pop("by_address") is False
    assert jitted.keys() == python.keys()
    for key, proba in jitted.items():
        # Pure Python rounds differently (no fast-math reassociation, libm's
        # exp), nothing more.
        assert_allclose(python[key], proba, rtol=1e-9, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("kind", ["dense", "csr"])
def test_direct_call_fallback_gives_the_same_results(kind, monkeypatch):
    rng = np.random.RandomState(1)
    X = rng.rand(60, 5)
    X[X < 0.4] = 0.0
    Y = (rng.rand(60, 3) < 0.4).astype(int)
    if kind == "csr":
        X = sparse.csr_matrix(X)
    est = MultiHeadMLPClassifier(
        hidden_layer_sizes=(4,), max_iter=3, batch_size=20, random_state=0
    )
    with pytest.warns(Warning):  # ConvergenceWarning
        expected = est.fit(X, Y).predict_proba(X)
    monkeypatch.setattr(K._tasks, "_BY_ADDRESS", False)
    assert K._task_address("fit", (), lambda: ()) == (None, 0)
    with pytest.warns(Warning):
        got = est.fit(X, Y).predict_proba(X)
    assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


_DENSE_FIT = """
import numpy as np
from skmultihead import MultiHeadMLPClassifier, _kernels as K
rng = np.random.RandomState(0)
X = rng.rand(40, 4)
Y = (rng.rand(40, 2) < 0.5).astype(int)
est = MultiHeadMLPClassifier(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
est.fit(X, Y).predict_proba(X)
unused = (K._batch_columns, K._columns_first_layer, K._sparse_first_layer,
          K._sparse_weight_grad, K._drop_units, K._drop_columns,
          K._scale_by_dropout_derivative)
print(sum(len(f.signatures) for f in unused), len(K._first_layer.signatures))
"""


def test_dense_fit_compiles_no_sparse_or_dropout_code(tmp_path):
    """A dense fit and predict without dropout, in a cold process (empty numba
    cache), compile the first layer once and no sparse or dropout helper."""
    counts = _run_python(_DENSE_FIT, NUMBA_CACHE_DIR=str(tmp_path))
    n_unused, n_first_layer = map(int, counts.split())
    assert (n_unused, n_first_layer) == (0, 1)


_CROSS_FITTED_FIT = """
import types, warnings
import numba, numpy as np
from skmultihead import MultiHeadMLPClassifier, _kernels as K
warnings.simplefilter("ignore")
rng = np.random.RandomState(0)
X = rng.randn(150, 5)
Y = (rng.rand(150, 3) > 0.5).astype(int)
est = MultiHeadMLPClassifier(hidden_layer_sizes=(4,), max_iter=2)
est.fit(X, Y).predict_proba(X[:40])
assert est.n_members_ > 1  # cross-fitted: the kernels get a skip mask
stamp = "_" + K._core._STAMP
counts = {}
for module in vars(K).values():
    if isinstance(module, types.ModuleType):
        for name, f in vars(module).items():
            if isinstance(f, numba.core.registry.CPUDispatcher):
                counts[name.split(stamp)[0]] = len(f.overloads)
print(" ".join(f"{name}={n}" for name, n in sorted(counts.items())))
"""


def test_cross_fitted_fit_compiles_one_specialisation_of_each_kernel(tmp_path):
    """In a cold process (empty numba cache: a cached caller is loaded without
    its callees), a cross-fitted fit and predict reach every kernel with one
    set of types (the small-row product once passed an Optional mask to
    _block_forward, which the block layers pass as an array: two)."""
    line = _run_python(_CROSS_FITTED_FIT, NUMBA_CACHE_DIR=str(tmp_path))
    counts = dict(item.split("=") for item in line.split())
    assert counts["_block_forward"] == "1"
    assert {name for name, n in counts.items() if int(n) > 1} == set()
