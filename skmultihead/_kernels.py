"""Numba kernels of the multi-label MLP engine.

One engine serves both estimators. A network is a list of *layers*; each layer is
either dense (one block) or block-diagonal (``n_blocks`` independent blocks of
shape ``(fan_in, fan_out)``). The shared multi-head network is all dense layers;
binary relevance is a dense first layer (all label networks side by side, one
wide product) followed by block-diagonal layers (one block per label).

Everything lives in one self-contained module: numba's disk cache does not notice
edits made to jitted helpers or jit options imported from another file.

Conventions
-----------
* All parameters sit in one flat buffer ``params``: every weight matrix first
  (the L2-penalised region ``params[:n_weights]``), then every bias vector.
  ``layers`` is an int64 table with one row per layer::

      [w_off, b_off, n_blocks, fan_in, fan_out, act_off]

  where ``fan_in``/``fan_out`` are per block, the layer's input width is
  ``n_blocks * fan_in`` (``n_features`` for layer 0, which is always dense) and
  ``act_off`` is the sum of the widths of the layers before it (the offset of
  the layer's output within one row of activations).
* Kernels take arrays, scalars and a few named tuples of them (the argument
  bundles :class:`CSR`, :class:`Targets`, :class:`Network`, :class:`Optimizer`,
  :class:`Scratch`, :class:`Step`, :class:`Output`, :class:`TaskArgs`, defined
  once below) and write into caller-allocated OUT buffers; nothing is
  allocated per mini-batch.
* Determinism: mini-batch rows are split into ``n_chunks`` fixed chunks (chosen
  from the problem size, never from the thread count). Each chunk owns its rows
  of the activations and its own partial-gradient buffer; partial gradients are
  summed in a fixed order by the optimizer loop (for CSR input the first layer's
  gradient is computed there directly, from every chunk's non-zeros in a fixed
  order). BLAS is called single-threaded from inside the chunks (the caller
  limits BLAS threads), so results are bitwise identical for any number of
  threads.
* One parallel region, :func:`_parallel_tasks`, runs the items of a task (the
  row chunks of a step, the parameter chunks of the optimizer, the row blocks of
  a prediction) by calling :func:`_run_task` by address, so that the engine's
  code is compiled once instead of once inside every caller (see
  :func:`_call_native`). Python entry points: :func:`_fit_epoch` and
  :func:`_predict_parallel`.
* The call by address uses private numba internals. It sits behind one switch,
  :data:`_BY_ADDRESS`: off under ``NUMBA_DISABLE_JIT=1`` (the kernels then run
  as plain Python, for coverage runs) or when any of those internals is missing
  (:func:`_native_calls_supported`), and :func:`_run_task` is then called
  directly: slower to compile, same results. Hence no upper bound on numba in
  ``pyproject.toml``: a numba that moves the internals loses compile speed, not
  correctness, while a cap would make the package uninstallable on each new
  Python (which only a new numba supports) and, through numba's own numpy
  pins, hold numpy back. CI tests the newest numba (see ``.ci``).
* Dense input passes None for the CSR bundle: numba prunes ``is None`` branches
  on a function argument when it compiles, so dense and CSR input each compile
  only their own code (see :func:`_first_layer`). The input arrays are only
  ever read. A fit without dropout passes None for the :class:`Dropout` bundle
  the same way, and compiles no dropout code.
* Missing labels are NaN entries of ``Y``: they contribute no loss and no
  gradient. The fast-math flag set below keeps ``isnan`` working.
"""

import warnings
import zlib
from collections import namedtuple

import numba
import numpy as np
from numba import njit, prange

try:  # the numba internals of the call by address (see _BY_ADDRESS)
    from numba._dispatcher import compute_fingerprint
    from numba.core import callconv, cgutils, funcdesc
    from numba.core.codegen import JITCodeLibrary
    from numba.core.compiler import CompileResult
    from numba.extending import intrinsic
except ImportError:  # pragma: no cover - another numba layout
    intrinsic = None


def _disk_cache_available():
    """Whether numba can write a disk cache for this module.

    In a read-only installation with no writable ``NUMBA_CACHE_DIR`` or user
    cache directory, ``cache=True`` makes the decoration itself fail ("no
    locator available"); the kernels then compile in memory instead, once per
    process.
    """
    try:
        njit(cache=True)(_probe_function)
    except RuntimeError:
        return False
    return True


def _probe_function():  # a function of this file, for the cache probe
    return 0


# Every fast-math flag except 'nnan'/'ninf' so that NaN guards survive
# (``np.isnan(nan)`` is False under full fastmath; UMAP #1228).
_FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
_CACHE = _disk_cache_available()
if not _CACHE:
    warnings.warn(
        "skmultihead cannot write numba's disk cache (read-only installation and "
        "no writable NUMBA_CACHE_DIR); its kernels are compiled in memory in every "
        "new process. Set NUMBA_CACHE_DIR to a writable directory to cache them.",
        RuntimeWarning,
        stacklevel=2,
    )
# error_model="numpy": a float division by zero gives inf/nan instead of raising
# ZeroDivisionError. The Python model's check before every division keeps loops
# from vectorising (measured: Adam's update 9 ns/parameter scalar vs about 1 ns
# vectorised); no kernel divides by a quantity that can be zero.
_JIT = dict(cache=_CACHE, nogil=True, fastmath=_FASTMATH, error_model="numpy")
_JIT_PARALLEL = dict(_JIT, parallel=True)
# Tiny helpers, and the functions that have a single caller (_chunk_step,
# _output_delta, _backward_rows, _optimizer_chunk, _predict_block: all inlined
# into _run_task), are inlined at the numba IR level: each separately compiled
# function costs a full compilation pipeline, and numba re-optimises and
# re-compiles every callee inside each caller's module, so fewer, flatter
# functions compile faster.
_JIT_INLINE = dict(_JIT, inline="always")

# Activation codes (mapped from strings in Python).
IDENTITY, LOGISTIC, TANH, RELU = 0, 1, 2, 3
# Solver codes.
SGD, ADAM = 0, 1
# Integer constants passed to jitted helpers. A literal argument (``f(0)``)
# makes numba compile a separate specialisation for ``Literal[int](0)`` (and
# again for every callee it reaches), nearly doubling the cold compile time;
# these are plain int64 values.
_ZERO = np.int64(0)
_ONE = np.int64(1)
# Column indices of the layer table.
W_OFF, B_OFF, N_BLOCKS, FAN_IN, FAN_OUT, ACT_OFF = 0, 1, 2, 3, 4, 5
# Row counts up to which dense products are hand-written loops instead of BLAS
# calls: cheaper for a few rows, and free of BLAS threading.
SMALL_ROWS = 16
# Positions in the float hyper-parameter vector. Optional entries from
# H_GROUP_ALPHA on scale alpha per convergence group (members trained with
# different L2 strengths in one pass); without them every group uses alpha.
H_ALPHA, H_BETA1, H_BETA2, H_EPS, H_MOMENTUM, H_GROUP_ALPHA = 0, 1, 2, 3, 4, 5

# --------------------------------------------------------------------------------
# Argument bundles
# --------------------------------------------------------------------------------
# The kernels take their arguments in a few named tuples (numba types a named
# tuple by its class and the types of its fields), each written once here.
#
# The CSR arrays travel apart from the dense matrix ``X``, in their own bundle
# that is None for dense input: numba prunes an ``if csr is None`` branch when
# ``csr`` is an argument of the function being compiled, but not when it is a
# field of a tuple (checked: the dead branch is then typed, and fails to type).
# So only functions that receive ``csr`` as an argument branch on it
# (:func:`_first_layer`, :func:`_first_layer_segment_grad`), and a dense fit
# compiles no sparse code.

CSR = namedtuple("CSR", "data indices indptr colptr crow cval")
CSR.__doc__ = """CSR input ``X.data, X.indices, X.indptr`` and the column scratch.

``colptr, crow, cval`` have one row per row chunk (:func:`_batch_columns`) in
training, and no columns in prediction (the rows are then read directly)."""
Targets = namedtuple("Targets", "Y sw pos_weight")
Targets.__doc__ = """Labels (NaN: missing), sample weights, positive weights."""
Network = namedtuple("Network", "params layers act_code")
Network.__doc__ = """Flat parameters, layer table and hidden activation code."""
Optimizer = namedtuple(
    "Optimizer", "state n_weights segments frozen group_lr solver nesterov hyper"
)
Optimizer.__doc__ = """Optimizer state and settings (see :func:`_fit_epoch_kernel`)."""
Scratch = namedtuple(
    "Scratch", "acts deltas Xb grads loss_parts sq_parts label_loss group_l2"
)
Scratch.__doc__ = """Buffers of one fit; ``grads`` has one row per row chunk and
``sq_parts`` one per optimizer chunk, which fixes the chunking."""
Step = namedtuple("Step", "rows inv_sw_sum adam_scale l2_scale drop_key")
Step.__doc__ = """Sample index of each batch row and the scalars of one optimizer
step, made by the epoch kernel: batch weight, Adam scale, L2 scale and the
step's dropout key (:func:`_step_key`)."""
Dropout = namedtuple("Dropout", "seed input_rate hidden_rate")
Dropout.__doc__ = """Dropout of a fit: ``seed`` (uint64) and the rates of the
input units and of the hidden units, in ``[0, 1)`` (see :func:`_keep_scale`).

None instead (no dropout; prediction) compiles no dropout code: like ``csr``, it
is only tested against None where it is a function argument."""
_NO_KEY = np.uint64(0)
Output = namedtuple("Output", "block_rows row_width sigmoid out")
Output.__doc__ = """Prediction settings and result (placeholders in training)."""
TaskArgs = namedtuple("TaskArgs", "X csr targets net opt scratch step dropout output")
TaskArgs.__doc__ = """Everything a task of :func:`_run_task` may read or write."""


@njit(**_JIT_INLINE)
def _sigmoid(z):
    # Branch on the sign so that exp never overflows.
    if z >= 0.0:
        return 1.0 / (1.0 + np.exp(-z))
    e = np.exp(z)
    return e / (1.0 + e)


@njit(**_JIT_INLINE)
def _chunk_bounds(c, n_chunks, n_rows):
    return (c * n_rows) // n_chunks, ((c + 1) * n_rows) // n_chunks


@njit(**_JIT_INLINE)
def _layer_view(buf, layers, layer, rows):
    """2-D view ``(rows, width)`` of one layer's slot in a flat row buffer.

    A buffer laid out for ``rows`` rows holds each layer's ``(rows, width)`` block
    one after the other, so the slot starts at ``rows * layers[layer, ACT_OFF]``.
    """
    width = layers[layer, N_BLOCKS] * layers[layer, FAN_OUT]
    off = rows * layers[layer, ACT_OFF]
    return buf[off : off + rows * width].reshape(rows, width)


@njit(**_JIT_INLINE)
def _dense_weights(params, layers, layer):
    w_off = layers[layer, W_OFF]
    fan_in = layers[layer, FAN_IN]
    fan_out = layers[layer, FAN_OUT]
    return params[w_off : w_off + fan_in * fan_out].reshape(fan_in, fan_out)


@njit(**_JIT_INLINE)
def _block_weights(params, layers, layer):
    w_off = layers[layer, W_OFF]
    n_blocks = layers[layer, N_BLOCKS]
    fan_in = layers[layer, FAN_IN]
    fan_out = layers[layer, FAN_OUT]
    size = n_blocks * fan_in * fan_out
    return params[w_off : w_off + size].reshape(n_blocks, fan_in, fan_out)


# --------------------------------------------------------------------------------
# Dropout masks
# --------------------------------------------------------------------------------
# A unit is kept or dropped by a hash of (seed, step, sample, unit), computed where
# it is used: no mask is stored or drawn, and the mask does not depend on how the
# batch is chunked or on the thread count. Units are numbered across the network:
# the input features 0..n_features-1, then the hidden layers' units in the order
# of the activation row (n_features + act_off + k).

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S11, _S27, _S30, _S31 = np.uint64(11), np.uint64(27), np.uint64(30), np.uint64(31)


@njit(**_JIT_INLINE)
def _splitmix64(x):
    """SplitMix64 (Steele et al., 2014) of the uint64 counter ``x``."""
    z = x + _GOLDEN
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(**_JIT_INLINE)
def _step_key(seed, t):
    """Dropout key of optimizer step ``t`` (1 for a fit's first step)."""
    return _splitmix64(_splitmix64(np.uint64(seed)) + np.uint64(t))


@njit(**_JIT_INLINE)
def _row_key(key, sample):
    return _splitmix64(np.uint64(key) + np.uint64(sample))


@njit(**_JIT_INLINE)
def _keep_scale(row_key, unit, rate, scale):
    """``scale = 1 / (1 - rate)`` if the unit is kept, else 0 (inverted dropout):
    kept when 53 bits of its hash, as a uniform number in [0, 1), are at least
    ``rate``."""
    u = _splitmix64(np.uint64(row_key) + np.uint64(unit))
    r = np.float64(u >> _S11) * (1.0 / 9007199254740992.0)
    return scale if r >= rate else 0.0


@njit(**_JIT)
def _drop_units(Z, rows, lo, hi, key, unit_off, rate):
    """``Z[lo:hi, k] *= keep scale of unit unit_off + k`` of sample ``rows[i]``."""
    scale = 1.0 / (1.0 - rate)
    for i in range(lo, hi):
        row_key = _row_key(key, rows[i])
        for k in range(Z.shape[1]):
            Z[i, k] *= _keep_scale(row_key, unit_off + k, rate, scale)


@njit(**_JIT)
def _drop_columns(colptr, crow, cval, rows, key, rate):
    """Input dropout on a chunk's non-zeros grouped by column
    (:func:`_batch_columns`): ``cval[q] *= keep scale`` of input unit ``c`` of
    sample ``rows[crow[q]]``."""
    scale = 1.0 / (1.0 - rate)
    for c in range(colptr.shape[0] - 1):
        for q in range(colptr[c], colptr[c + 1]):
            row_key = _row_key(key, rows[crow[q]])
            cval[q] *= _keep_scale(row_key, c, rate, scale)


# --------------------------------------------------------------------------------
# Forward pass
# --------------------------------------------------------------------------------


@njit(**_JIT)
def _gather_rows(X, rows, lo, hi, out):
    """Copy ``X[rows[lo:hi]]`` into ``out[lo:hi]`` (treated as OUT array)."""
    n_features = X.shape[1]
    for i in range(lo, hi):
        src = rows[i]
        for k in range(n_features):
            out[i, k] = X[src, k]


@njit(**_JIT)
def _sparse_first_layer(data, indices, indptr, rows, lo, hi, W, Z):
    """``Z[lo:hi] = X[rows[lo:hi]] @ W`` for a CSR ``X`` (treated as OUT array)."""
    fan_out = W.shape[1]
    for i in range(lo, hi):
        for o in range(fan_out):
            Z[i, o] = 0.0
        r = rows[i]
        for p in range(indptr[r], indptr[r + 1]):
            x = data[p]
            col = indices[p]
            for o in range(fan_out):
                Z[i, o] += x * W[col, o]


@njit(**_JIT)
def _batch_columns(data, indices, indptr, rows, lo, hi, colptr, crow, cval):
    """The non-zeros of ``X[rows[lo:hi]]`` grouped by column (CSC of a chunk).

    Column ``c``'s entries are ``crow[colptr[c]:colptr[c + 1]]`` (batch row
    indices, ascending) and ``cval[...]`` (values); all three are treated as OUT
    arrays, ``colptr`` of length ``n_features + 1``. A counting sort: linear in
    the chunk's non-zeros plus ``n_features``.
    """
    n_features = colptr.shape[0] - 1
    colptr[:] = 0
    for i in range(lo, hi):
        r = rows[i]
        for p in range(indptr[r], indptr[r + 1]):
            colptr[indices[p] + 1] += 1
    for c in range(n_features):
        colptr[c + 1] += colptr[c]
    # Fill, using colptr[c] as column c's cursor, then shift the cursors back.
    for i in range(lo, hi):
        r = rows[i]
        for p in range(indptr[r], indptr[r + 1]):
            c = indices[p]
            q = colptr[c]
            crow[q] = i
            cval[q] = data[p]
            colptr[c] = q + 1
    for c in range(n_features, 0, -1):
        colptr[c] = colptr[c - 1]
    colptr[0] = 0


@njit(**_JIT)
def _columns_first_layer(colptr, crow, cval, lo, hi, W, Z):
    """``Z[lo:hi] = X_chunk @ W`` from the chunk's columns (:func:`_batch_columns`).

    Column by column, each row of ``W`` is read once per chunk however many rows
    use it (measured on bibtex: 108 instead of 152 us per 100 rows, row by row);
    each row of ``Z`` still sums its columns in ascending order.
    """
    fan_out = W.shape[1]
    for i in range(lo, hi):
        for o in range(fan_out):
            Z[i, o] = 0.0
    for c in range(colptr.shape[0] - 1):
        w = W[c]
        for q in range(colptr[c], colptr[c + 1]):
            x = cval[q]
            z = Z[crow[q]]
            for o in range(fan_out):
                z[o] += x * w[o]


@njit(**_JIT)
def _block_forward(A, W, lo, hi, Z):
    """Block-diagonal product ``Z[lo:hi] = A[lo:hi] @ blockdiag(W)``."""
    n_blocks, fan_in, fan_out = W.shape
    if fan_out == 1:
        # One output per block (binary relevance's output layer): a dot product
        # accumulated in a register, not added into Z in memory at every step.
        for i in range(lo, hi):
            for b in range(n_blocks):
                a_row = A[i, b * fan_in : (b + 1) * fan_in]
                w_col = W[b, :, 0]
                acc = 0.0
                for k in range(fan_in):
                    acc += a_row[k] * w_col[k]
                Z[i, b] = acc
        return
    for i in range(lo, hi):
        for b in range(n_blocks):
            for o in range(fan_out):
                Z[i, b * fan_out + o] = 0.0
            for k in range(fan_in):
                a = A[i, b * fan_in + k]
                for o in range(fan_out):
                    Z[i, b * fan_out + o] += a * W[b, k, o]


@njit(**_JIT)
def _matmul_rows(A, W, lo, hi, Z):
    """``Z[lo:hi] = A[lo:hi] @ W`` (treated as OUT array).

    Loops for at most ``SMALL_ROWS`` rows, BLAS otherwise.
    """
    if hi - lo <= SMALL_ROWS:
        _block_forward(A, W.reshape(1, W.shape[0], W.shape[1]), lo, hi, Z)
    else:
        np.dot(A[lo:hi], W, Z[lo:hi])


@njit(**_JIT)
def _bias_activate(Z, bias, lo, hi, code):
    """``Z[lo:hi] = act(Z[lo:hi] + bias)`` in place, one pass over the rows.

    One loop per activation: a branch on ``code`` inside the loop would keep
    it from vectorising.
    """
    width = Z.shape[1]
    if code == RELU:
        for i in range(lo, hi):
            for o in range(width):
                z = Z[i, o] + bias[o]
                Z[i, o] = z if z > 0.0 else 0.0
    elif code == TANH:
        for i in range(lo, hi):
            for o in range(width):
                Z[i, o] = np.tanh(Z[i, o] + bias[o])
    elif code == LOGISTIC:
        for i in range(lo, hi):
            for o in range(width):
                Z[i, o] = _sigmoid(Z[i, o] + bias[o])
    else:
        for i in range(lo, hi):
            for o in range(width):
                Z[i, o] += bias[o]


@njit(**_JIT)
def _scale_by_derivative(D, A, lo, hi, code, step, dropout, unit_off):
    """``D[lo:hi] *= act'(A[lo:hi])`` with the derivative written through the
    activation's output ``A`` (one loop per activation, as above), for hidden
    units ``unit_off + k``; under dropout (``dropout`` not None, hidden rate
    above 0), :func:`_scale_by_dropout_derivative`."""
    if dropout is not None:
        if dropout.hidden_rate > 0.0:
            rate = dropout.hidden_rate
            key = step.drop_key
            _scale_by_dropout_derivative(
                D, A, step.rows, lo, hi, code, key, unit_off, rate
            )
            return
    width = D.shape[1]
    if code == RELU:
        for i in range(lo, hi):
            for k in range(width):
                D[i, k] = D[i, k] if A[i, k] > 0.0 else 0.0
    elif code == TANH:
        for i in range(lo, hi):
            for k in range(width):
                a = A[i, k]
                D[i, k] *= 1.0 - a * a
    elif code == LOGISTIC:
        for i in range(lo, hi):
            for k in range(width):
                a = A[i, k]
                D[i, k] *= a * (1.0 - a)


@njit(**_JIT)
def _scale_by_dropout_derivative(D, A, rows, lo, hi, code, key, unit_off, rate):
    """``D[lo:hi] *= m * act'`` for hidden units under dropout: ``m`` the keep
    scale of each unit (:func:`_keep_scale`, the mask of the forward pass) and
    ``act'`` written through the activation before dropout, ``A / m`` (``A``
    holds the dropped-out activations; a dropped unit's delta is 0)."""
    scale = 1.0 / (1.0 - rate)
    for i in range(lo, hi):
        row_key = _row_key(key, rows[i])
        for k in range(D.shape[1]):
            m = _keep_scale(row_key, unit_off + k, rate, scale)
            a = A[i, k] / scale
            if code == RELU:
                d = 1.0 if a > 0.0 else 0.0
            elif code == TANH:
                d = 1.0 - a * a
            elif code == LOGISTIC:
                d = a * (1.0 - a)
            else:
                d = 1.0
            D[i, k] *= m * d


@njit(**_JIT)
def _first_layer(X, csr, c, step, dropout, lo, hi, Xb, W, Z):
    """``Z[lo:hi] = X[rows[lo:hi]] @ W`` for dense or CSR input
    (``rows = step.rows``), with the step's input dropout (none, and no
    dropout code compiled, for ``dropout`` None).

    Dense input has ``csr`` None: numba prunes the branches on ``is None`` when
    it compiles, so that dense input compiles no sparse code, and the other way
    round. CSR input in training gives per-chunk scratch ``csr.colptr, crow,
    cval`` (chunk ``c`` is grouped by column first, :func:`_batch_columns`); an
    empty ``colptr`` (prediction: no dropout) reads the CSR rows directly.

    Input dropout scales the gathered rows ``Xb`` (dense) or the chunk's
    non-zeros (CSR), which the first layer's weight gradient reads too.
    """
    rows = step.rows
    if csr is None:
        _gather_rows(X, rows, lo, hi, Xb)
        if dropout is not None:
            if dropout.input_rate > 0.0:
                rate = dropout.input_rate
                _drop_units(Xb, rows, lo, hi, step.drop_key, _ZERO, rate)
        _matmul_rows(Xb, W, lo, hi, Z)
    elif csr.colptr.shape[1] == 0:
        _sparse_first_layer(csr.data, csr.indices, csr.indptr, rows, lo, hi, W, Z)
    else:
        colptr, crow, cval = csr.colptr[c], csr.crow[c], csr.cval[c]
        _batch_columns(
            csr.data, csr.indices, csr.indptr, rows, lo, hi, colptr, crow, cval
        )
        if dropout is not None:
            if dropout.input_rate > 0.0:
                rate = dropout.input_rate
                _drop_columns(colptr, crow, cval, rows, step.drop_key, rate)
        _columns_first_layer(colptr, crow, cval, lo, hi, W, Z)


@njit(**_JIT)
def _forward_rows(X, csr, c, step, dropout, lo, hi, Xb, params, layers, act_code, acts):
    """Forward pass of rows ``lo:hi`` of a batch through every layer.

    Parameters
    ----------
    X, csr, c :
        The input and the first layer's scratch (see :func:`_first_layer`).
    step : Step
        ``rows`` of shape (batch_rows,): sample index of each batch row, and the
        step's dropout key.
    dropout : Dropout or None
        Dropout rates (hidden units are dropped after their activation); None
        for none (no dropout code compiled).
    lo, hi : int
        Rows of the batch handled here.
    Xb : ndarray of shape (>= batch_rows, n_features)
        Gather buffer for dense input (treated as OUT array).
    params, layers : ndarray
        Flat parameters and layer table (see module docstring).
    act_code : int
        Hidden activation code; the output layer is left as logits.
    acts : ndarray
        Flat activation buffer, laid out for ``batch_rows`` rows (treated as OUT
        array).
    """
    batch_rows = step.rows.shape[0]
    n_features = layers[0, FAN_IN]
    n_layers = layers.shape[0]
    for layer in range(n_layers):
        code = act_code if layer < n_layers - 1 else IDENTITY
        Z = _layer_view(acts, layers, layer, batch_rows)
        b_off = layers[layer, B_OFF]
        bias = params[b_off : b_off + Z.shape[1]]
        if layer == 0:
            W = _dense_weights(params, layers, 0)
            _first_layer(X, csr, c, step, dropout, lo, hi, Xb, W, Z)
        else:
            A = _layer_view(acts, layers, layer - 1, batch_rows)
            if layers[layer, N_BLOCKS] == 1:
                _matmul_rows(A, _dense_weights(params, layers, layer), lo, hi, Z)
            else:
                _block_forward(A, _block_weights(params, layers, layer), lo, hi, Z)
        _bias_activate(Z, bias, lo, hi, code)
        if dropout is not None:
            if layer < n_layers - 1 and dropout.hidden_rate > 0.0:
                unit_off = n_features + layers[layer, ACT_OFF]
                rate = dropout.hidden_rate
                _drop_units(Z, step.rows, lo, hi, step.drop_key, unit_off, rate)


@njit(**_JIT_INLINE)
def _predict_block(X, csr, is_sparse, net, start, m, row_width, sigmoid, out):
    """Logits (or probabilities) of samples ``start:start + m``.

    Parameters
    ----------
    X, csr :
        Dense or CSR input (see :func:`_first_layer`); for CSR input the column
        scratch is empty (its rows are read directly).
    is_sparse : bool
        Whether ``csr`` is given.
    net : Network
        Flat parameters, layer table and hidden activation code.
    start, m : int
        First sample and number of samples.
    row_width : int
        Sum of the layer widths (size of one row of activations).
    sigmoid : bool
        Apply the logistic function to the logits.
    out : ndarray of shape (n_samples, n_outputs)
        Result (treated as OUT array). Scratch memory is about
        ``m * (n_features + row_width)`` values.
    """
    params, layers = net.params, net.layers
    n_features = layers[0, FAN_IN]
    last = layers.shape[0] - 1
    # No dropout in prediction (the caller passes None).
    step = Step(np.arange(start, start + m), 0.0, 0.0, 0.0, _NO_KEY)
    acts = np.empty(m * row_width, dtype=params.dtype)
    Xb = np.empty((0 if is_sparse else m, n_features), dtype=params.dtype)
    _forward_rows(
        X, csr, _ZERO, step, None, _ZERO, m, Xb, params, layers, net.act_code, acts
    )
    logits = _layer_view(acts, layers, last, m)
    for i in range(m):
        for j in range(logits.shape[1]):
            z = logits[i, j]
            out[start + i, j] = _sigmoid(z) if sigmoid else z


# --------------------------------------------------------------------------------
# Loss and backward pass
# --------------------------------------------------------------------------------


# Largest |z| for which the loss computes e = exp(-|z|); beyond it e is taken as
# 0 (e < 8.6e-17 there, below the resolution of sklearn's own loss, which clips
# probabilities to [eps, 1 - eps]).
EXP_CUTOFF = 37.0
_LN2_HI = 6.93147180369123816490e-01  # ln 2 = _LN2_HI + _LN2_LO, _LN2_HI exact
_LN2_LO = 1.90821492927058770002e-10  # in 32 bits (fdlibm's split)


@njit(**_JIT_INLINE)
def _exp_neg(a):
    """``exp(-a)`` for ``0 <= a <= EXP_CUTOFF``, within 2 ulp, branch-free so that
    loops over it vectorise (libm's ``exp`` is a scalar call: 4.9 against 2.7 ns).

    ``a = k ln2 - r`` with ``|r| <= ln2 / 2``: ``exp(-r)`` is its Taylor series to
    ``r**13`` (evaluated in Estrin's scheme: a short dependency chain), and
    ``2**-k`` (``k <= 54``) is a product of selected powers of two.
    """
    k = np.floor(a * 1.4426950408889634 + 0.5)
    r = (k * _LN2_HI - a) + k * _LN2_LO
    r2 = r * r
    r4 = r2 * r2
    c0 = 1.0 + r
    c1 = 0.5 + r * (1.0 / 6.0)
    c2 = 1.0 / 24.0 + r * (1.0 / 120.0)
    c3 = 1.0 / 720.0 + r * (1.0 / 5040.0)
    c4 = 1.0 / 40320.0 + r * (1.0 / 362880.0)
    c5 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0)
    c6 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0)
    p = (c0 + r2 * c1 + r4 * (c2 + r2 * c3)) + (r4 * r4) * (c4 + r2 * c5 + r4 * c6)
    ki = np.int32(k)
    s1 = (2.0**-32 if (ki & 32) != 0 else 1.0) * (2.0**-16 if (ki & 16) != 0 else 1.0)
    s2 = (2.0**-8 if (ki & 8) != 0 else 1.0) * (2.0**-4 if (ki & 4) != 0 else 1.0)
    s3 = (0.25 if (ki & 2) != 0 else 1.0) * (0.5 if (ki & 1) != 0 else 1.0)
    return p * (s1 * (s2 * s3))


@njit(**_JIT_INLINE)
def _log1p_unit(e):
    """``log1p(e)`` for ``0 <= e <= 1``, branch-free so that loops over it
    vectorise (libm's ``log1p`` is a scalar call, 9 ns here).

    ``log1p(e) = 2 atanh(s)`` with ``s = e / (2 + e)`` in ``[0, 1/3]``; the
    series of ``atanh`` to ``s**35`` is exact to within 1 ulp (the first term left
    out is below ``3e-18`` relative).
    """
    s = e / (2.0 + e)
    u = s * s
    p = 1.0 / 35.0
    p = p * u + 1.0 / 33.0
    p = p * u + 1.0 / 31.0
    p = p * u + 1.0 / 29.0
    p = p * u + 1.0 / 27.0
    p = p * u + 1.0 / 25.0
    p = p * u + 1.0 / 23.0
    p = p * u + 1.0 / 21.0
    p = p * u + 1.0 / 19.0
    p = p * u + 1.0 / 17.0
    p = p * u + 1.0 / 15.0
    p = p * u + 1.0 / 13.0
    p = p * u + 1.0 / 11.0
    p = p * u + 1.0 / 9.0
    p = p * u + 1.0 / 7.0
    p = p * u + 1.0 / 5.0
    p = p * u + 1.0 / 3.0
    return 2.0 * s + 2.0 * s * u * p


@njit(**_JIT_INLINE)
def _output_delta(Z, Y, sw, pos_weight, rows, lo, hi, inv_sw_sum, D, loss_acc):
    """Per-label BCE of rows ``lo:hi`` and its gradient w.r.t. the logits.

    For a logit ``z``, ``p = sigmoid(z)``, label ``y`` and positive weight
    ``w+``, the loss is ``w+ * y * softplus(-z) + (1 - y) * softplus(z)``,
    computed from the logits (no log of a rounded probability), and its
    derivative is ``p * (w+ * y + 1 - y) - w+ * y`` (``p - y`` when ``w+ = 1``,
    sklearn's canonical-link delta). Each row is scaled by its sample weight
    and ``D`` also by ``1 / sum(sample weights of the batch)`` so that all
    downstream gradients are batch means. NaN labels give zero loss and delta.

    ``loss_acc`` (shape ``(n_labels,)``, float64) accumulates the weighted loss
    sums; ``D`` is treated as OUT array.

    Notes
    -----
    One ``exp`` per logit serves both terms: ``e = exp(-|z|)`` never overflows,
    ``softplus(+-z) = max(+-z, 0) + log1p(e)`` and ``sigmoid(z)`` is
    ``1 / (1 + e)`` for ``z >= 0``, ``e / (1 + e)`` otherwise; ``e`` is taken as
    0 beyond ``|z| = EXP_CUTOFF``. ``exp`` and ``log1p`` are branch-free
    polynomials (:func:`_exp_neg`, :func:`_log1p_unit`), so the loop vectorises
    (libm's are scalar calls, and its ``exp`` takes a slow path for large
    arguments).
    """
    n_labels = Z.shape[1]
    for i in range(lo, hi):
        r = rows[i]
        w = sw[r]
        scale = w * inv_sw_sum
        z_row = Z[i]
        y_row = Y[r]
        d_row = D[i]
        for j in range(n_labels):
            y = y_row[j]
            known = not np.isnan(y)
            y = y if known else 0.0
            z = z_row[j]
            a = abs(z)
            e = _exp_neg(min(a, EXP_CUTOFF))
            e = e if a < EXP_CUTOFF else 0.0
            tail = _log1p_unit(e)
            sp_pos = max(z, 0.0) + tail
            sp_neg = max(-z, 0.0) + tail
            pw = pos_weight[j]
            loss = w * (pw * y * sp_neg + (1.0 - y) * sp_pos)
            loss_acc[j] += loss if known else 0.0
            p = (1.0 if z >= 0.0 else e) / (1.0 + e)
            delta = scale * (p * (pw * y + 1.0 - y) - pw * y)
            d_row[j] = delta if known else 0.0


@njit(**_JIT)
def _block_weight_grad(A, D, lo, hi, G):
    """``G[b] = A[lo:hi, block b].T @ D[lo:hi, block b]`` (treated as OUT array)."""
    n_blocks, fan_in, fan_out = G.shape
    G[:] = 0.0
    for i in range(lo, hi):
        for b in range(n_blocks):
            for k in range(fan_in):
                a = A[i, b * fan_in + k]
                for o in range(fan_out):
                    G[b, k, o] += a * D[i, b * fan_out + o]


@njit(**_JIT)
def _block_backprop(D, W, lo, hi, D_prev):
    """``D_prev[lo:hi] = D[lo:hi] @ blockdiag(W).T`` (treated as OUT array)."""
    n_blocks, fan_in, fan_out = W.shape
    for i in range(lo, hi):
        for b in range(n_blocks):
            for k in range(fan_in):
                s = 0.0
                for o in range(fan_out):
                    s += D[i, b * fan_out + o] * W[b, k, o]
                D_prev[i, b * fan_in + k] = s


@njit(**_JIT)
def _sparse_weight_grad(start, stop, colptr, crow, cval, D, g):
    """Entries ``start:stop`` of the flattened first-layer gradient
    ``X_batch.T @ D`` for CSR input, from every chunk's columns
    (:func:`_batch_columns`); ``g`` (length ``stop - start``) is treated as OUT
    array.

    Called by the optimizer on its own parameter range, right before the update
    reads it: the gradient of the (wide) first layer is never written out whole
    by each row chunk and summed afterwards. Each gradient row sums the chunks in
    order, and within a chunk its rows in ascending order.
    """
    fan_out = D.shape[1]
    g[:] = 0.0
    for r in range(start // fan_out, (stop - 1) // fan_out + 1):
        base = r * fan_out
        o_lo = max(start - base, 0)
        o_hi = min(stop - base, fan_out)
        out = g[base + o_lo - start : base + o_hi - start]
        for k in range(colptr.shape[0]):
            for q in range(colptr[k, r], colptr[k, r + 1]):
                x = cval[k, q]
                d = D[crow[k, q], o_lo:o_hi]
                for o in range(out.shape[0]):
                    out[o] += x * d[o]


@njit(**_JIT)
def _first_layer_segment_grad(start, stop, first_size, csr, D, g):
    """For CSR input and a segment of the first layer's weights, write its
    gradient into ``g[start:stop]`` (:func:`_sparse_weight_grad`) and return
    True; otherwise (dense input: ``csr`` is None, a branch numba prunes when
    it compiles) return False."""
    if csr is None:
        return False
    if start >= first_size:
        return False
    _sparse_weight_grad(start, stop, csr.colptr, csr.crow, csr.cval, D, g[start:stop])
    return True


@njit(**_JIT)
def _bias_grad(D, lo, hi, g):
    g[:] = 0.0
    for i in range(lo, hi):
        for o in range(D.shape[1]):
            g[o] += D[i, o]


@njit(**_JIT_INLINE)
def _backward_rows(is_sparse, lo, hi, Xb, net, acts, deltas, step, dropout, grads):
    """Back-propagate the output deltas of rows ``lo:hi`` and write this chunk's
    partial gradient of every parameter into ``grads`` (treated as OUT array).

    For dense input, ``Xb`` holds the chunk's gathered rows (after input
    dropout). For CSR input the first layer's weight gradient is left to the
    optimizer (:func:`_sparse_weight_grad`). The deltas of dropped hidden units
    are 0, those of kept units scaled like their activations.
    """
    params, layers = net.params, net.layers
    batch_rows = step.rows.shape[0]
    last = layers.shape[0] - 1
    for layer in range(last, -1, -1):
        D = _layer_view(deltas, layers, layer, batch_rows)
        w_off = layers[layer, W_OFF]
        n_blocks = layers[layer, N_BLOCKS]
        fan_in = layers[layer, FAN_IN]
        fan_out = layers[layer, FAN_OUT]
        b_off = layers[layer, B_OFF]
        _bias_grad(D, lo, hi, grads[b_off : b_off + n_blocks * fan_out])
        if layer == 0:
            G = grads[w_off : w_off + fan_in * fan_out].reshape(fan_in, fan_out)
            if is_sparse:
                pass  # computed by the optimizer (see _sparse_weight_grad)
            elif hi > lo:
                np.dot(Xb[lo:hi].T, D[lo:hi], G)
            else:
                G[:] = 0.0
            continue
        A = _layer_view(acts, layers, layer - 1, batch_rows)
        D_prev = _layer_view(deltas, layers, layer - 1, batch_rows)
        if n_blocks == 1:
            W = _dense_weights(params, layers, layer)
            G = grads[w_off : w_off + fan_in * fan_out].reshape(fan_in, fan_out)
            if hi > lo:
                np.dot(A[lo:hi].T, D[lo:hi], G)
                np.dot(D[lo:hi], W.T, D_prev[lo:hi])
            else:
                G[:] = 0.0
        else:
            size = n_blocks * fan_in * fan_out
            G = grads[w_off : w_off + size].reshape(n_blocks, fan_in, fan_out)
            _block_weight_grad(A, D, lo, hi, G)
            _block_backprop(D, _block_weights(params, layers, layer), lo, hi, D_prev)
        unit_off = layers[0, FAN_IN] + layers[layer - 1, ACT_OFF]
        _scale_by_derivative(D_prev, A, lo, hi, net.act_code, step, dropout, unit_off)


@njit(**_JIT_INLINE)
def _chunk_step(c, n_chunks, args, is_sparse):
    """Forward, loss and backward for chunk ``c`` of the current batch
    (:class:`TaskArgs` ``args``; the column scratch of CSR input has one row per
    chunk)."""
    step, net, scratch, targets = args.step, args.net, args.scratch, args.targets
    rows, layers = step.rows, net.layers
    m = rows.shape[0]
    lo, hi = _chunk_bounds(c, n_chunks, m)
    acts, deltas, Xb = scratch.acts, scratch.deltas, scratch.Xb
    _forward_rows(
        args.X,
        args.csr,
        c,
        step,
        args.dropout,
        lo,
        hi,
        Xb,
        net.params,
        layers,
        net.act_code,
        acts,
    )
    last = layers.shape[0] - 1
    Z = _layer_view(acts, layers, last, m)
    D = _layer_view(deltas, layers, last, m)
    loss_parts = scratch.loss_parts
    loss_parts[c, :] = 0.0
    _output_delta(
        Z,
        targets.Y,
        targets.sw,
        targets.pos_weight,
        rows,
        lo,
        hi,
        step.inv_sw_sum,
        D,
        loss_parts[c],
    )
    grads = scratch.grads[c]
    _backward_rows(is_sparse, lo, hi, Xb, net, acts, deltas, step, args.dropout, grads)


# --------------------------------------------------------------------------------
# Optimizer
# --------------------------------------------------------------------------------


@njit(**_JIT)
def _optimizer_segment(
    start,
    stop,
    params,
    grads,
    n_parts,
    state,
    lr,
    l2_scale,
    solver,
    nesterov,
    adam_scale,
    hyper,
):
    """Update ``params[start:stop]``, one group's weights or biases, in place.

    ``g = sum_{c < n_parts} grads[c] + l2_scale * w`` (the L2 term is added here
    so that the backward pass never touches it; ``l2_scale`` is 0 for biases);
    Adam with the
    bias correction ``adam_scale = sqrt(1 - beta_2**t) / (1 - beta_1**t)``
    folded into the step size (sklearn's formulation), or SGD with (Nesterov)
    momentum. The chunks' partial gradients are first summed into ``grads[0]``,
    so that the update loops are branch-free and vectorise.

    Returns
    -------
    sq : float
        Sum of the squared parameters before the update.
    """
    # Loops run over slices from 0: with range(start, stop) numba cannot prove
    # the index non-negative, keeps its wrap-around check and the loop does not
    # vectorise (measured: Adam 4.7 vs 1.2 ns/parameter).
    p_ = params[start:stop]
    g0 = grads[0, start:stop]
    for c in range(1, n_parts):
        gc = grads[c, start:stop]
        for i in range(g0.shape[0]):
            g0[i] += gc[i]
    sq = 0.0
    if solver == ADAM:
        beta1 = hyper[H_BETA1]
        beta2 = hyper[H_BETA2]
        eps = hyper[H_EPS]
        step = lr * adam_scale
        m_ = state[0, start:stop]
        v_ = state[1, start:stop]
        for i in range(p_.shape[0]):
            p = p_[i]
            g = g0[i] + l2_scale * p
            sq += p * p
            m = beta1 * m_[i] + (1.0 - beta1) * g
            v = beta2 * v_[i] + (1.0 - beta2) * g * g
            m_[i] = m
            v_[i] = v
            p_[i] = p - step * m / (np.sqrt(v) + eps)
    else:
        momentum = hyper[H_MOMENTUM]
        vel = state[0, start:stop]
        for i in range(p_.shape[0]):
            p = p_[i]
            g = g0[i] + l2_scale * p
            sq += p * p
            velocity = momentum * vel[i] - lr * g
            vel[i] = velocity
            # (loop-invariant branch: unswitched by the compiler)
            if nesterov:
                p_[i] = p + momentum * velocity - lr * g
            else:
                p_[i] = p + velocity
    return sq


@njit(**_JIT_INLINE)
def _optimizer_chunk(c, n_chunks, args):
    """Optimizer update of the segments of chunk ``c`` (:class:`TaskArgs`
    ``args``).

    ``args.opt.segments`` rows are ``[start, stop, group]``: runs of parameters
    of one convergence group, never straddling the weights/biases boundary
    ``n_weights``. Frozen groups are skipped; each group has its own learning
    rate. Squared-weight sums go to ``sq_parts[c, group]``.

    For CSR input (``args.csr`` not None), the first layer's weight gradient is
    computed here, segment by segment, from the batch's columns and the first
    layer's deltas (:func:`_sparse_weight_grad`).
    """
    net, opt, scratch, step = args.net, args.opt, args.scratch, args.step
    params, layers, segments = net.params, net.layers, opt.segments
    grads, sq_parts = scratch.grads, scratch.sq_parts
    lo, hi = _chunk_bounds(c, n_chunks, segments.shape[0])
    sq_parts[c, :] = 0.0
    first_size = layers[0, FAN_IN] * layers[0, FAN_OUT]
    D1 = _layer_view(scratch.deltas, layers, _ZERO, step.rows.shape[0])
    for s in range(lo, hi):
        start, stop, group = segments[s, 0], segments[s, 1], segments[s, 2]
        if opt.frozen[group]:
            continue
        is_weight = start < opt.n_weights
        n_parts = grads.shape[0]
        if _first_layer_segment_grad(start, stop, first_size, args.csr, D1, grads[0]):
            n_parts = 1
        factor = 1.0
        if opt.hyper.shape[0] > H_GROUP_ALPHA:
            factor = opt.hyper[H_GROUP_ALPHA + group]
        sq = _optimizer_segment(
            start,
            stop,
            params,
            grads,
            n_parts,
            opt.state,
            opt.group_lr[group],
            step.l2_scale * factor if is_weight else 0.0,
            opt.solver,
            opt.nesterov,
            step.adam_scale,
            opt.hyper,
        )
        if is_weight:
            sq_parts[c, group] += sq * factor


# --------------------------------------------------------------------------------
# Tasks and the parallel region
# --------------------------------------------------------------------------------

# Task codes of _run_task (int64 values, not literals: see _ZERO).
TASK_CHUNK, TASK_OPTIMIZER, TASK_PREDICT = np.int64(0), np.int64(1), np.int64(2)
_FALSE = np.bool_(False)


def _signature_hash(arg_types):
    """Stable hash of a tuple of numba types (checked by :func:`_call_native`)."""
    return np.int64(zlib.crc32(str(tuple(arg_types)).encode()))


def _call_native(typingctx, address, sig_hash, args):
    """Call the compiled function at ``address`` with the tuple ``args`` as its
    arguments and propagate its exceptions (see :func:`_task_address`).

    The callee's code is not linked into the caller: with a direct call numba
    links, re-optimises and re-compiles the whole callee closure inside every
    library that calls it (a parfor body even goes through three libraries: the
    kernel and two gufunc wrappers), so that the engine's code was compiled six
    times over. Called by address, it is compiled once, in :func:`_run_task`.

    ``sig_hash`` must be :func:`_signature_hash` of the argument types (checked
    here, so that a function compiled for other types is never called).
    """
    if not (
        isinstance(address, numba.types.Integer)
        and isinstance(sig_hash, numba.types.Integer)
        and isinstance(args, numba.types.BaseTuple)
    ):
        return None
    arg_types = tuple(args.types)
    expected = int(_signature_hash(arg_types))

    def codegen(context, builder, signature, llargs):
        ll_address, ll_hash, ll_args = llargs
        mismatch = builder.icmp_signed("!=", ll_hash, ll_hash.type(expected))
        with builder.if_then(mismatch, likely=False):
            context.call_conv.return_user_exc(
                builder, RuntimeError, ("task function signature mismatch",)
            )
        fnty = context.call_conv.get_function_type(numba.types.none, arg_types)
        fn = builder.inttoptr(ll_address, fnty.as_pointer())
        values = cgutils.unpack_tuple(builder, ll_args, len(arg_types))
        status, _ = context.call_conv.call_function(
            builder, fn, numba.types.none, arg_types, values
        )
        with cgutils.if_unlikely(builder, status.is_error):
            context.call_conv.return_status_propagate(builder, status)
        return context.get_dummy_value()

    return numba.types.none(address, sig_hash, args), codegen


def _native_calls_supported():
    """Whether the numba internals the call by address uses are all there.

    They are private (numba promises nothing about them): the call goes
    through :func:`_call_native` only where every one of them is found, and
    never when JIT is disabled (``NUMBA_DISABLE_JIT=1``, pure Python).
    """
    if numba.config.DISABLE_JIT or intrinsic is None:
        return False
    needed = {
        callconv.CPUCallConv: (
            "return_user_exc",
            "get_function_type",
            "call_function",
            "return_status_propagate",
        ),
        cgutils: ("unpack_tuple", "if_unlikely"),
        JITCodeLibrary: ("get_pointer_to_function",),
        funcdesc.FunctionDescriptor: ("llvm_func_name",),
    }
    return all(
        hasattr(owner, name) for owner, names in needed.items() for name in names
    ) and {"fndesc", "library"} <= set(getattr(CompileResult, "_fields", ()))


if _native_calls_supported():
    _call_native = intrinsic(_call_native)
else:  # only ever referenced in branches pruned away (see _parallel_tasks)
    _call_native = None


@njit(**_JIT)
def _run_task(task, c, n, args):
    """Item ``c`` of ``n`` of a task on the :class:`TaskArgs` ``args``:
    :func:`_chunk_step` of row chunk ``c`` (TASK_CHUNK), :func:`_optimizer_chunk`
    of parameter chunk ``c`` (TASK_OPTIMIZER) or :func:`_predict_block` of row
    block ``c`` of ``args.output.block_rows`` rows (TASK_PREDICT); the other
    tasks' fields are unused.

    Called by address (:func:`_call_native`), or directly when
    :data:`_BY_ADDRESS` is off (see :func:`_parallel_tasks`).
    """
    is_sparse = args.csr is not None  # a constant of the compiled types
    if task == TASK_CHUNK:
        _chunk_step(c, n, args, is_sparse)
    elif task == TASK_OPTIMIZER:
        _optimizer_chunk(c, n, args)
    else:
        output = args.output
        start = c * output.block_rows
        m = min(output.block_rows, output.out.shape[0] - start)
        _predict_block(
            args.X,
            args.csr,
            is_sparse,
            args.net,
            start,
            m,
            output.row_width,
            output.sigmoid,
            output.out,
        )


@njit(**_JIT_PARALLEL)
def _parallel_tasks(
    task,
    n,
    task_fn,
    task_sig,
    X,
    csr,
    targets,
    net,
    opt,
    scratch,
    step,
    dropout,
    output,
):
    """The only parallel region: :func:`_run_task` for items ``0..n-1`` of
    ``task``; the last nine arguments are the fields of a :class:`TaskArgs`
    (callers pass ``*args``).

    ``task_fn, task_sig`` are the address and signature hash of
    :func:`_run_task` for these types (:func:`_task_address`), which is then
    called by address; or None and 0, and it is called directly (the fallback
    of :data:`_BY_ADDRESS`: numba prunes the branch on ``task_fn is None`` when
    it compiles, so each specialisation holds one kind of call).

    A single item runs serially (no parallel-region launch).

    Notes
    -----
    The bundles are separate arguments, and the :class:`TaskArgs` is built
    inside the loop body, because a parallel loop body takes each named tuple
    it reads as its fields, one level deep, and only for a named tuple that is
    an argument or made in the body: a bundle nested in a bundle it cannot pass.

    Each item owns what it writes (its row chunk, parameter chunk or row block),
    so results do not depend on the number of threads.
    """
    if n == 1:
        args = TaskArgs(X, csr, targets, net, opt, scratch, step, dropout, output)
        if task_fn is None:
            _run_task(task, _ZERO, _ONE, args)
        else:
            _call_native(task_fn, task_sig, (task, _ZERO, _ONE, args))
        return
    for i in prange(n):
        args = TaskArgs(X, csr, targets, net, opt, scratch, step, dropout, output)
        # prange indices are unsigned: cast to the int64 of the signature.
        if task_fn is None:
            _run_task(task, np.int64(i), n, args)
        else:
            _call_native(task_fn, task_sig, (task, np.int64(i), n, args))


@njit(**_JIT_INLINE)
def _run_tasks(task, n, task_fn, task_sig, args):
    """:func:`_parallel_tasks` on the :class:`TaskArgs` ``args`` (jitted
    callers cannot pass ``*args`` after other arguments)."""
    _parallel_tasks(
        task,
        n,
        task_fn,
        task_sig,
        args.X,
        args.csr,
        args.targets,
        args.net,
        args.opt,
        args.scratch,
        args.step,
        args.dropout,
        args.output,
    )


# --------------------------------------------------------------------------------
# One epoch
# --------------------------------------------------------------------------------


@njit(**_JIT)
def _fit_epoch_kernel(
    X, csr, targets, net, opt, scratch, order, batch_size, t, dropout, task_fn, task_sig
):
    """Run every mini-batch of one epoch: forward, loss, backward, update.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Dense input; a ``(0, n_features)`` placeholder for CSR input.
    csr : CSR or None
        CSR input and its per-chunk column scratch: ``n_features + 1`` column
        pointers and room for the most non-zeros a chunk can hold (see
        :func:`_batch_columns`); None for dense input.
    targets : Targets
        ``Y`` of shape (n_samples, n_outputs): targets in {0, 1}, NaN for a
        missing label; ``sw`` of shape (n_samples,): sample weights;
        ``pos_weight`` of shape (n_outputs,): weight of the positive term of
        each label's loss.
    net : Network
        ``params`` of shape (n_params,): flat parameters, updated in place;
        ``layers`` of shape (n_layers, 6): layer table; ``act_code``: hidden
        activation.
    opt : Optimizer
        ``state``: optimizer state (Adam's moments or the velocity), updated
        in place; ``n_weights``: length of the L2-penalised prefix of
        ``params``; ``segments`` of shape (n_segments, 3): ``[start, stop,
        group]`` runs of parameters of one convergence group (group 0 for a
        shared network, the label for binary relevance); ``frozen`` of shape
        (n_groups,): groups whose parameters are not updated; ``group_lr`` of
        shape (n_groups,): learning rate of each group; ``solver``,
        ``nesterov``: optimizer and Nesterov flag; ``hyper`` of shape (5,) or
        (5 + n_groups,): alpha, beta_1, beta_2, epsilon, momentum, then
        optionally one factor per group scaling alpha for its weights.
    scratch : Scratch
        ``acts, deltas, Xb, grads, loss_parts, sq_parts``: scratch; ``grads``
        has one row per chunk (its row count fixes the chunking) and
        ``sq_parts`` one row per optimizer chunk. ``label_loss`` of shape
        (n_outputs,): sum over batches of ``batch_size * batch data loss``;
        ``group_l2`` of shape (n_groups,): same for the L2 term of each group
        (both treated as OUT arrays).
    order : ndarray of shape (n_samples,)
        Sample order of this epoch (drawn in Python).
    batch_size : int
        Mini-batch size.
    t : int
        Adam step counter before this epoch.
    dropout : Dropout or None
        Seed and rates (None: no dropout, and no dropout code compiled); the
        units of step ``t`` are kept or dropped by a hash of (seed, t, sample
        index, unit), see :func:`_keep_scale`.
    task_fn, task_sig : int or None
        Address and signature hash of :func:`_run_task` for these argument
        types (see :func:`_fit_epoch`, which passes them).

    Returns
    -------
    t : int
        Adam step counter after this epoch.

    Notes
    -----
    Parallel over the fixed row chunks of a batch, then over fixed parameter
    chunks in the optimizer; every chunk owns what it writes and partial sums are
    reduced in a fixed order, so results do not depend on the thread count.
    """
    n_samples = order.shape[0]
    n_chunks = scratch.grads.shape[0]
    n_opt_chunks = scratch.sq_parts.shape[0]
    hyper = opt.hyper
    alpha = hyper[H_ALPHA]
    label_loss, group_l2 = scratch.label_loss, scratch.group_l2
    # The prediction fields of the task arguments are unused in training.
    output = Output(_ONE, _ZERO, _FALSE, np.empty((0, 0), dtype=net.params.dtype))
    label_loss[:] = 0.0
    group_l2[:] = 0.0
    for start in range(0, n_samples, batch_size):
        m = min(batch_size, n_samples - start)
        rows = order[start : start + m]
        sw_sum = 0.0
        for i in range(m):
            sw_sum += targets.sw[rows[i]]
        if sw_sum <= 0.0:
            continue  # an all-zero-weight batch carries no information
        inv_sw_sum = 1.0 / sw_sum
        key = _NO_KEY
        if dropout is not None:
            key = _step_key(dropout.seed, t + 1)
        step = Step(rows, inv_sw_sum, 1.0, 0.0, key)
        args = TaskArgs(X, csr, targets, net, opt, scratch, step, dropout, output)
        _run_tasks(TASK_CHUNK, n_chunks, task_fn, task_sig, args)
        for c in range(n_chunks):
            for j in range(label_loss.shape[0]):
                label_loss[j] += scratch.loss_parts[c, j] * inv_sw_sum * m

        t += 1
        adam_scale = 1.0
        if opt.solver == ADAM:
            adam_scale = np.sqrt(1.0 - hyper[H_BETA2] ** t) / (
                1.0 - hyper[H_BETA1] ** t
            )
        l2_scale = alpha * inv_sw_sum
        step = Step(rows, inv_sw_sum, adam_scale, l2_scale, key)
        args = TaskArgs(X, csr, targets, net, opt, scratch, step, dropout, output)
        _run_tasks(TASK_OPTIMIZER, n_opt_chunks, task_fn, task_sig, args)
        for c in range(n_opt_chunks):
            for g in range(group_l2.shape[0]):
                group_l2[g] += 0.5 * l2_scale * scratch.sq_parts[c, g] * m
    return t


# --------------------------------------------------------------------------------
# Entry points (Python): the address of the task function
# --------------------------------------------------------------------------------

_TASK_ADDRESSES = {}


def _task_address(tag, key_values, make_args):
    """``(address, signature hash)`` of :func:`_run_task` compiled for
    ``(task, c, n, make_args())``, or ``(None, 0)`` when :data:`_BY_ADDRESS` is
    off (the kernels then call it directly).

    Looked up by ``tag`` and numba's type fingerprints of ``key_values`` (the
    values the task argument types derive from; cheap, what numba's dispatchers
    use to find a compiled specialisation); compiled or loaded from the disk
    cache on a miss.
    """
    if not _BY_ADDRESS:
        return None, _ZERO
    try:
        key = (tag, *[compute_fingerprint(v) for v in key_values])
    except Exception:  # a value numba cannot fingerprint: look it up by type
        key = (tag, *[numba.typeof(v) for v in key_values])
    entry = _TASK_ADDRESSES.get(key)
    if entry is None:
        sig = (numba.types.int64,) * 3 + (numba.typeof(make_args()),)
        _run_task.compile(sig)
        cres = _run_task.overloads[sig]
        address = cres.library.get_pointer_to_function(cres.fndesc.llvm_func_name)
        entry = _TASK_ADDRESSES[key] = (np.int64(address), _signature_hash(sig))
    return entry


def _fit_epoch(X, csr, targets, net, opt, scratch, order, batch_size, t, dropout=None):
    """:func:`_fit_epoch_kernel` (same arguments, same result), given the
    address of :func:`_run_task` for these argument types."""
    given = (X, csr, targets, net, opt, scratch, order, batch_size, t, dropout)

    def task_args():
        # Of the types _fit_epoch_kernel passes: rows is a slice of order; the
        # prediction fields are placeholders.
        step = Step(order, 0.0, 0.0, 0.0, _NO_KEY)
        output = Output(1, 0, False, np.empty((0, 0), dtype=net.params.dtype))
        return TaskArgs(X, csr, targets, net, opt, scratch, step, dropout, output)

    return _fit_epoch_kernel(*given, *_task_address("fit", given, task_args))


_TRAINING_PLACEHOLDERS = {}


def _training_placeholders(dtype):
    """Empty ``(targets, opt, scratch, step)`` of the types training passes:
    predict then reuses the specialisation training compiled."""
    if dtype not in _TRAINING_PLACEHOLDERS:
        vec = np.empty(0, dtype=dtype)
        mat = np.empty((0, 0), dtype=dtype)
        f64_vec = np.empty(0, dtype=np.float64)
        f64_mat = np.empty((0, 0), dtype=np.float64)
        index_vec = np.empty(0, dtype=np.int64)
        _TRAINING_PLACEHOLDERS[dtype] = (
            Targets(mat, vec, vec),
            Optimizer(
                mat,
                0,
                np.empty((0, 3), dtype=np.int64),
                np.empty(0, dtype=np.bool_),
                f64_vec,
                0,
                False,
                f64_vec,
            ),
            Scratch(vec, vec, mat, mat, f64_mat, f64_mat, f64_vec, f64_vec),
            Step(index_vec, 0.0, 0.0, 0.0, _NO_KEY),
        )
    return _TRAINING_PLACEHOLDERS[dtype]


def _predict_parallel(X, csr, net, output):
    """Logits (or probabilities) of all samples into ``output.out``, in
    parallel row blocks of ``output.block_rows`` (:func:`_predict_block` per
    block, via :func:`_parallel_tasks`).

    ``csr`` is None for dense input; for CSR input its column scratch is empty
    (of the training types, with no columns: the rows are read directly).
    """
    if not net.params.flags.writeable:
        # A model loaded from a read-only memory map: the task function also
        # holds the optimizer, which is typed for writable parameters.
        net = net._replace(params=net.params.copy())
    targets, opt, scratch, step = _training_placeholders(net.params.dtype)
    # No dropout (None): prediction runs the no-dropout specialisation.
    args = TaskArgs(X, csr, targets, net, opt, scratch, step, None, output)
    given = (X, csr, net, output)
    task_fn, task_sig = _task_address("predict", given, lambda: args)
    block_rows = output.block_rows
    n_blocks = max(1, (output.out.shape[0] + block_rows - 1) // block_rows)
    _parallel_tasks(TASK_PREDICT, n_blocks, task_fn, task_sig, *args)


# The switch: call _run_task by address (compiled once for all its callers), or
# directly (numba then compiles it again inside each caller: slower to compile,
# same results) where JIT is disabled or numba's internals are not as expected.
_BY_ADDRESS = (
    _call_native is not None
    and hasattr(_run_task, "compile")
    and hasattr(_run_task, "overloads")
)
