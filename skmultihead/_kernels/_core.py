"""JIT options, constants, argument bundles and the small helpers that every
kernel module uses (the conventions are in the package docstring)."""

import warnings
import zlib
from collections import namedtuple
from pathlib import Path

import numba
import numpy as np
from numba import njit

try:  # the numba internals of the prefetch intrinsic (see _prefetch)
    from llvmlite import ir as llvm_ir
    from numba.core import cgutils
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


def _source_stamp(directory=Path(__file__).parent):
    """CRC32 of the sources of every module in ``directory`` (this package), as 8
    hex digits."""
    crc = 0
    for path in sorted(Path(directory).glob("*.py")):
        try:
            crc = zlib.crc32(path.read_bytes(), crc)
        except OSError:  # pragma: no cover - sources not readable
            return "nostamp"
    return f"{crc:08x}"


# numba's disk cache keys a compiled function by the file that defines it: its
# index is invalidated when that file changes, not when a helper it calls (and
# whose code it holds) changes in another file. numba names a function's cache
# files after its qualified name, so every kernel's qualified name carries the
# stamp of all this package's sources: an edit to any kernel module gives every
# kernel new cache entries, and a stale one is never loaded.
_STAMP = _source_stamp()


def _compiled(options):
    def decorate(function):
        if options["cache"]:
            function.__qualname__ = f"{function.__qualname__}_{_STAMP}"
        return njit(**options)(function)

    return decorate


jit = _compiled(_JIT)
jit_inline = _compiled(_JIT_INLINE)
jit_parallel = _compiled(_JIT_PARALLEL)

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
# Positions in the loss vector of a non-default output loss (Targets.loss).
L_GAMMA_POS, L_GAMMA_NEG, L_CLIP = 0, 1, 2


def asymmetric_loss(gamma_pos, gamma_neg, clip):
    """The loss vector ``Targets.loss`` of the asymmetric loss (ASL, Ridnik et
    al. 2021): the focusing exponents of the positive and the negative term and
    the probability margin of the negatives (see :func:`_asymmetric_delta`).
    Focal loss is ``asymmetric_loss(gamma, gamma, 0.0)``."""
    loss = np.empty(3, dtype=np.float64)
    loss[L_GAMMA_POS], loss[L_GAMMA_NEG], loss[L_CLIP] = gamma_pos, gamma_neg, clip
    return loss


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
# (:func:`_first_layer`, :func:`_segment_gradient`), and a dense fit
# compiles no sparse code.

CSR = namedtuple("CSR", "data indices indptr colptr crow cval seg_grad")
CSR.__doc__ = """CSR input ``X.data, X.indices, X.indptr``, the column scratch,
and ``seg_grad``: one row per optimizer chunk, room for the gradient of one
first-layer segment (:func:`_segment_gradient`).

``colptr, crow, cval`` have one row per row chunk (:func:`_batch_columns`) in
training, and no columns in prediction (the rows are then read directly)."""
Targets = namedtuple("Targets", "Y sw pos_weight loss", defaults=(None,))
Targets.__doc__ = """Labels (NaN: missing), sample weights, positive weights and
the output loss: None (the default) for the binary cross-entropy, else the
float64 vector of the asymmetric loss (:func:`asymmetric_loss`).

None compiles none of the other losses' code: like ``csr``, it is only tested
against None where it is a function argument (:func:`_asymmetric_delta`). A
vector rather than a named tuple of floats: a parallel loop body cannot take a
named tuple nested in a bundle it reads (see :func:`_parallel_tasks`)."""
# Values of the flag of _copy_spans (not literals: see _ZERO).
_GATHER, _SCATTER = np.bool_(False), np.bool_(True)
Network = namedtuple("Network", "params layers act_code skip", defaults=(None,))
Network.__doc__ = """Flat parameters, layer table, hidden activation code, and
``skip``: None, or of shape (n_groups,) the convergence groups whose units the
products leave out (:func:`_skip_span`).

None (a plan of one group) compiles no skipping code: the functions that read
``skip`` take it as an argument and test it against None (see CSR)."""
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


@jit_inline
def _sigmoid(z):
    # Branch on the sign so that exp never overflows.
    if z >= 0.0:
        return 1.0 / (1.0 + np.exp(-z))
    e = np.exp(z)
    return e / (1.0 + e)


@jit_inline
def _chunk_bounds(c, n_chunks, n_rows):
    return (c * n_rows) // n_chunks, ((c + 1) * n_rows) // n_chunks


@jit_inline
def _layer_view(buf, layers, layer, rows):
    """2-D view ``(rows, width)`` of one layer's slot in a flat row buffer.

    A buffer laid out for ``rows`` rows holds each layer's ``(rows, width)`` block
    one after the other, so the slot starts at ``rows * layers[layer, ACT_OFF]``.
    """
    width = layers[layer, N_BLOCKS] * layers[layer, FAN_OUT]
    off = rows * layers[layer, ACT_OFF]
    return buf[off : off + rows * width].reshape(rows, width)


@jit_inline
def _block_weights(params, layers, layer):
    """Weights of a layer as ``(n_blocks, fan_in, fan_out)``, a view."""
    w_off = layers[layer, W_OFF]
    n_blocks = layers[layer, N_BLOCKS]
    fan_in = layers[layer, FAN_IN]
    fan_out = layers[layer, FAN_OUT]
    size = n_blocks * fan_in * fan_out
    return params[w_off : w_off + size].reshape(n_blocks, fan_in, fan_out)


@jit_inline
def _dense_weights(params, layers, layer):
    """Weights of a dense layer as ``(fan_in, fan_out)``, a view."""
    return _block_weights(params, layers, layer)[0]


# --------------------------------------------------------------------------------
# Skipped groups
# --------------------------------------------------------------------------------
# The layer plans of skmultihead are split by convergence group in every layer:
# with G groups, group g owns the g-th of G equal runs of each layer's columns
# (of the first layer's units, of a block-diagonal layer's blocks, of the
# outputs); no unit of one group feeds a unit of another. A group that has
# stopped training (frozen) can then be left out of the products: its units are
# not computed, and no other group reads them.


@jit_inline
def _skip_span(skip, width):
    """Width of each group's run of ``width`` columns (or blocks) when a group is
    skipped, or 0: none is (or ``skip`` is None), or ``width`` is not split
    evenly by group (a layer of one group), and every column is computed."""
    if skip is None:
        return 0
    n_groups = skip.shape[0]
    if n_groups < 2 or width % n_groups != 0:
        return 0
    for g in range(n_groups):
        if skip[g]:
            return width // n_groups
    return 0


@jit_inline
def _skipped(skip, index, per_group):
    """Whether block (or column) ``index`` belongs to a skipped group, for
    ``per_group`` blocks a group (:func:`_skip_span`; 0: none skipped)."""
    if skip is None:
        return False
    return per_group > 0 and skip[index // per_group]


@jit_inline
def _active_groups(skip):
    """Indices of the groups not skipped (none for ``skip`` None)."""
    if skip is None:
        return np.empty(0, dtype=np.int64)
    n = 0
    for g in range(skip.shape[0]):
        n += 0 if skip[g] else 1
    active = np.empty(n, dtype=np.int64)
    a = 0
    for g in range(skip.shape[0]):
        if not skip[g]:
            active[a] = g
            a += 1
    return active


@jit_inline
def _column_runs(skip, width):
    """``(active, span)``: the groups not skipped and the width of each group's
    run of ``width`` columns, 0 when every column is to be computed
    (:func:`_skip_span`)."""
    return _active_groups(skip), _skip_span(skip, width)


@jit_inline
def _gathered_runs(skip, width):
    """:func:`_column_runs` for a dense product, which gathers the groups not
    skipped (span > 0) only when at least a quarter of the groups are skipped:
    below that, the gathering costs about what it saves."""
    active, span = _column_runs(skip, width)
    if skip is None or 4 * (skip.shape[0] - active.shape[0]) < skip.shape[0]:
        return active, 0
    return active, span


@jit
def _gather_runs(M, lo, hi, n_rows, active, span):
    """A new ``(n_rows, active.size * span)`` array holding, in rows ``lo:hi``,
    the ``active`` groups' column runs of ``M`` side by side."""
    packed = np.empty((n_rows, active.shape[0] * span), dtype=M.dtype)
    _copy_spans(M, lo, hi, active, span, packed, _GATHER)
    return packed


@jit_inline
def _add_scaled(z, x, w, active, span):
    """``z += x * w`` (rows of the first layer), on the column runs (``span``
    wide) of the ``active`` groups; on every column for ``span`` 0
    (:func:`_skip_span`)."""
    if span == 0:
        for o in range(w.shape[0]):
            z[o] += x * w[o]
        return
    for a in range(active.shape[0]):
        g = active[a]
        for o in range(g * span, (g + 1) * span):
            z[o] += x * w[o]


@jit
def _copy_spans(M, lo, hi, active, span, packed, scatter):
    """Gather the ``active`` groups' column runs (``span`` wide) of rows
    ``lo:hi`` of ``M`` into the same rows of ``packed``, side by side, or, with
    ``scatter``, the other way round."""
    for i in range(lo, hi):
        for a in range(active.shape[0]):
            src = active[a] * span
            dst = a * span
            for o in range(span):
                if scatter:
                    M[i, src + o] = packed[i, dst + o]
                else:
                    packed[i, dst + o] = M[i, src + o]


# --------------------------------------------------------------------------------
# Prefetching
# --------------------------------------------------------------------------------


def _prefetch(a, i):
    """Hint the CPU to load the cache line of ``a[i]`` (``a`` 1-D) ahead of its
    use: LLVM's ``llvm.prefetch`` (a read, kept in every cache level). A hint
    only: it never faults, reads nothing into the program and changes no
    result. This Python body is the stand-in where the intrinsic is not
    compiled (JIT disabled, or numba's internals not as expected): nothing.
    """


def _prefetch_typing(typingctx, a, i):
    """numba intrinsic of :func:`_prefetch`: typed for a 1-D array and an
    integer index (anything else is a typing error, never a wrong address)."""
    if not (
        isinstance(a, numba.types.Array)
        and a.ndim == 1
        and isinstance(i, numba.types.Integer)
    ):
        return None

    def codegen(context, builder, signature, args):
        array_type, index_type = signature.args
        array = context.make_array(array_type)(context, builder, args[0])
        index = context.cast(builder, args[1], index_type, numba.types.intp)
        # a[i] of a 1-D array with unit stride; no bounds check (a prefetch of
        # any address is harmless), callers pass indices inside the array.
        address = builder.gep(array.data, [index])
        i8_ptr = cgutils.voidptr_t
        i32 = llvm_ir.IntType(32)
        fn_type = llvm_ir.FunctionType(llvm_ir.VoidType(), [i8_ptr, i32, i32, i32])
        fn = builder.module.declare_intrinsic("llvm.prefetch", [i8_ptr], fn_type)
        # (address, read = 0, locality 3 = keep in all cache levels, data = 1)
        builder.call(fn, [builder.bitcast(address, i8_ptr), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return numba.types.none(a, i), codegen


if not numba.config.DISABLE_JIT and intrinsic is not None:
    _prefetch = intrinsic(_prefetch_typing)


# How many rows ahead of its use a randomly chosen row (a sample of the batch)
# is prefetched (:func:`_prefetch_row`): far enough for its loads to arrive
# while the rows before it are worked on.
_AHEAD = 4


@jit_inline
def _prefetch_row(a):
    """:func:`_prefetch` every 64-byte cache line of the contiguous 1-D view
    ``a`` (a row about to be read).

    Rows read in a random order (the shuffled samples of a batch) miss every
    cache, and the CPU's own prefetcher only starts after a row's first
    misses: asked for a few rows ahead, the loads overlap the current row's
    work. Measured (2 threads, paired runs in one process, both orders): the
    grouping of bibtex's CSR rows by column fell from 8.0 to 4.7-5.0 % of the
    samples of an epoch, bibtex's epoch -4.4 %, a dense 20000 x 200 problem's
    at least -2.8 %.
    """
    step = max(64 // a.itemsize, 1)
    for i in range(0, a.shape[0], step):
        _prefetch(a, i)


@jit_inline
def _prefetch_sample(M, rows, i, hi):
    """:func:`_prefetch_row` the row of ``M`` (samples by rows: dense ``X`` or
    ``Y``) that row ``i + _AHEAD`` of a chunk ending at ``hi`` will read."""
    if i + _AHEAD < hi:
        _prefetch_row(M[rows[i + _AHEAD]])
