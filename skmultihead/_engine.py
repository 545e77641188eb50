"""Python side of the engine: thread control, layer plans and kernel calls.

Nothing here is jitted: the kernels live in :mod:`skmultihead._kernels`. This module
turns an estimator's layer plan into the flat arrays the kernels take, decides the
(thread-count independent) chunking, and runs kernels under the thread discipline
described in :func:`effective_n_threads`.
"""

import os
import threading
from contextlib import contextmanager

import numba
import numpy as np
import threadpoolctl

from . import _kernels as K

ACTIVATION_CODES = {
    "identity": K.IDENTITY,
    "logistic": K.LOGISTIC,
    "tanh": K.TANH,
    "relu": K.RELU,
}

# Rows per block when predicting: bounds predict's scratch memory to about
# ``_PREDICT_BLOCK_ROWS * (n_features + sum of layer widths)`` values per thread.
_PREDICT_BLOCK_ROWS = 512


# --------------------------------------------------------------------------------
# Threads
# --------------------------------------------------------------------------------


# How long numba's OpenMP threads (GNU libgomp) spin before they sleep when they
# wait for work: set from GOMP_SPINCOUNT when libgomp is loaded, at numba's first
# parallel region. The engine runs two parallel regions per mini-batch. With
# libgomp's default, 300,000 spins (milliseconds), two processes that train at
# once (two notebooks, two CI jobs) spend their cores spinning against each
# other: two bibtex fits side by side at 2 threads each took 109-123 ms per epoch
# (one alone at 1 thread: 44-50); with 50,000 spins 49-58 ms. Fewer spins make
# the threads sleep between regions and pay the wake-up on a quiet machine
# (synthetic CSR problem at 2 threads: 300,000 spins 42.6-46.8 ms per epoch,
# 50,000: 43.2-44.0, 20,000: 44.7-47.9, 1000: 58.6-59.4). Set only when the user
# has set neither variable, and only before numba loads libgomp.
_GOMP_SPINCOUNT = "50000"


def _bound_openmp_spinning(environ=os.environ):
    """Set ``GOMP_SPINCOUNT`` to ``_GOMP_SPINCOUNT`` unless the user has set it or
    ``OMP_WAIT_POLICY``; return whether it was set.

    It reaches numba's libgomp only if that is not loaded yet (numba loads it
    at its first parallel region, which importing skmultihead does not run);
    other OpenMP runtimes already loaded (scikit-learn's own copy) keep their
    setting, and so does numba's TBB threading layer, which does not spin.
    """
    if "GOMP_SPINCOUNT" in environ or "OMP_WAIT_POLICY" in environ:
        return False
    environ["GOMP_SPINCOUNT"] = _GOMP_SPINCOUNT
    return True


_bound_openmp_spinning()


def _cpu_budget():
    """CPUs this process may use: affinity mask and numba's own launch limit."""
    try:
        n_cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        n_cpus = os.cpu_count() or 1
    return max(1, min(n_cpus, numba.config.NUMBA_NUM_THREADS))


def _dask_worker_threads():
    """Thread count of the enclosing Dask worker, or None outside a worker."""
    import sys

    if "distributed" not in sys.modules:
        return None
    try:
        from distributed import get_worker

        return int(get_worker().state.nthreads)
    except Exception:
        return None


def _ray_worker_cpus():
    """CPUs Ray assigned to the enclosing Ray task or actor, or None outside one.

    Ray, like Dask, does not set ``NUMBA_NUM_THREADS`` in its workers (it sets
    ``OMP_NUM_THREADS`` to the task's ``num_cpus``, which numba ignores).
    """
    import sys

    if "ray" not in sys.modules:
        return None
    try:
        import ray

        if not ray.is_initialized():
            return None
        context = ray.get_runtime_context()
        if context.worker.mode != ray.WORKER_MODE:
            return None
        return max(1, int(context.get_assigned_resources().get("CPU", 1)))
    except Exception:
        return None


def effective_n_threads(n_threads):
    """Number of kernel threads to use for a given ``n_threads`` parameter.

    The rule, documented in the estimators' ``n_threads`` parameter:

    * an explicit positive integer wins (capped at numba's thread pool size,
      ``NUMBA_NUM_THREADS``);
    * ``None`` means "what this process may use without oversubscribing": the
      CPU affinity mask, capped by ``NUMBA_NUM_THREADS`` (which joblib's loky
      workers set to ``cores // n_jobs``) and, inside a Dask worker, by the
      worker's thread count divided among its tasks (one thread per task);
      inside a Ray task or actor, by the CPUs Ray assigned to it.
    """
    budget = _cpu_budget()
    if n_threads is not None:
        return max(1, min(int(n_threads), numba.config.NUMBA_NUM_THREADS))
    if _dask_worker_threads() is not None:
        # A Dask worker runs ``nthreads`` tasks at once, each one of our fits.
        return 1
    ray_cpus = _ray_worker_cpus()
    if ray_cpus is not None:
        return min(budget, ray_cpus)
    return budget


def _release_blas_control():
    """Let the next limit take effect whichever Python thread sets it.

    Recent threadpoolctl versions (3.8 here) let only one "controlling" Python
    thread change a process-wide OpenBLAS thread pool: limits set from any other
    thread are silently ignored, and a ``limit()`` used without ``with`` never
    gives the control back (threadpoolctl's README, "the controlling thread").
    The engine's limit is process-wide state guarded by its own lock, taken by
    the first thread in and given back by the last one out (often another
    thread), so it clears the control, with the documented
    ``OpenBLASController.clear_controlling_thread(force=True)``, before and
    after each change. Older versions have no such control: nothing to do.
    """
    controller_class = getattr(threadpoolctl, "OpenBLASController", None)
    clear = getattr(controller_class, "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)


class _BlasSingleThread:
    """Keep BLAS single-threaded while any kernel runs.

    Kernels call BLAS from inside their own fixed chunks; a multi-threaded BLAS
    would both oversubscribe the cores and make results depend on the thread
    count (OpenBLAS splits a product into tiles per thread, and the edge tiles
    of each split are computed by other micro-kernels, so its bits depend on its
    thread count). A reference count makes the limit safe when several Python
    threads run kernels at once: the first one in sets the limit, the last one
    out restores the user's setting, whichever threads these are
    (:func:`_release_blas_control`).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._depth = 0
        self._restore = None
        self._controller = None

    def __enter__(self):
        with self._lock:
            if self._depth == 0:
                if self._controller is None:
                    self._controller = threadpoolctl.ThreadpoolController()
                blas = self._controller.select(user_api="blas")
                _release_blas_control()
                try:
                    self._restore = blas.limit(limits=1)
                finally:
                    _release_blas_control()
            self._depth += 1

    def __exit__(self, *exc):
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                _release_blas_control()
                try:
                    self._restore.restore_original_limits()
                finally:
                    _release_blas_control()
                    self._restore = None


_blas_single_thread = _BlasSingleThread()


# The engine context the current Python thread is in: ``(n_threads, count)``.
_this_thread = threading.local()


@contextmanager
def engine_context(n_threads):
    """Run kernels with ``n_threads`` numba threads and single-threaded BLAS.

    ``numba.set_num_threads`` is thread-local, so concurrent calls from several
    Python threads do not interfere; the previous value is restored in
    ``finally``.

    Inside a context entered with the same ``n_threads`` on the same Python
    thread (a fit's validation predictions, every epoch), nothing is set up
    again: the thread count stands and the BLAS limit is held. (Entering cost
    about 75 us, 4-5 % of a default fit on emotions.)
    """
    current = getattr(_this_thread, "context", None)
    if current is not None and current[0] == n_threads:
        yield current[1]
        return
    n = effective_n_threads(n_threads)
    with _blas_single_thread:
        previous = numba.get_num_threads()
        numba.set_num_threads(n)
        _this_thread.context = (n_threads, n)
        try:
            yield n
        finally:
            _this_thread.context = current
            numba.set_num_threads(previous)


# --------------------------------------------------------------------------------
# Layer plans
# --------------------------------------------------------------------------------


class LayerPlan:
    """Shapes and offsets of a network stored in one flat parameter buffer.

    Parameters
    ----------
    blocks : list of tuple (n_blocks, fan_in, fan_out)
        One entry per layer. Layer 0 must be dense (``n_blocks == 1``); its
        ``fan_in`` is the number of input features.
    owner_of : callable
        ``owner_of(layer, kind)`` returns the convergence group of every weight
        (``kind='w'``, in storage order) or bias (``kind='b'``) of a layer.
    n_groups : int
        Number of convergence groups.
    """

    def __init__(self, blocks, owner_of, n_groups):
        self.blocks = [tuple(int(v) for v in b) for b in blocks]
        if self.blocks[0][0] != 1:
            raise ValueError("The first layer must be dense.")
        w_sizes = [nb * fi * fo for nb, fi, fo in self.blocks]
        b_sizes = [nb * fo for nb, fi, fo in self.blocks]
        self.n_weights = int(sum(w_sizes))
        self.n_params = self.n_weights + int(sum(b_sizes))
        w_offs = np.concatenate([[0], np.cumsum(w_sizes)[:-1]])
        b_offs = self.n_weights + np.concatenate([[0], np.cumsum(b_sizes)[:-1]])
        widths = np.array(b_sizes)
        act_offs = np.concatenate([[0], np.cumsum(widths)[:-1]])
        self.row_width = int(widths.sum())
        self.table = np.array(
            [
                [w_offs[i], b_offs[i], nb, fi, fo, act_offs[i]]
                for i, (nb, fi, fo) in enumerate(self.blocks)
            ],
            dtype=np.int64,
        ).reshape(-1, 6)
        self.n_groups = int(n_groups)
        # Segments never straddle a layer's weights or biases (the optimizer
        # computes the sparse first layer's gradient segment by segment).
        layer_bounds = np.unique(
            np.concatenate([self.table[:, K.W_OFF], self.table[:, K.B_OFF]])
        )
        if self.n_groups == 1:
            # One group (the shared network): no per-parameter owner array, which
            # would cost a pass over n_params (and fresh pages) on every fit.
            self._owner = None
            bounds = np.append(layer_bounds, self.n_params)
            self.segments = _segments_of_bounds(
                bounds, np.zeros(bounds.size - 1, np.int64)
            )
        else:
            owner = np.empty(self.n_params, dtype=np.int64)
            for i in range(len(self.blocks)):
                owner[self.weight_slice(i)] = owner_of(i, "w")
                owner[self.bias_slice(i)] = owner_of(i, "b")
            self._owner = owner
            self.segments = _segments(owner, layer_bounds)
        self.skippable = self._split_by_group()

    def _split_by_group(self):
        """Whether every layer is split by group as the kernels' skipping of
        frozen groups assumes (``_kernels._core._skip_span``): with ``G``
        groups, group ``g`` owns the ``g``-th of ``G`` equal runs of the first
        layer's columns and of every later layer's blocks (which are then
        block-diagonal), so that no group's units feed another's."""
        G = self.n_groups
        if G < 2:
            return False
        for i, (nb, fi, fo) in enumerate(self.blocks):
            if i == 0:
                width = fo
                if width % G:
                    return False
                W_owner = self._owner[self.weight_slice(i)].reshape(fi, fo)
                expected = np.arange(fo) // (fo // G)
                if not np.array_equal(W_owner, np.broadcast_to(expected, (fi, fo))):
                    return False
            else:
                if nb % G:
                    return False
                W_owner = self._owner[self.weight_slice(i)].reshape(nb, fi * fo)
                expected = np.arange(nb) // (nb // G)
                if not np.array_equal(
                    W_owner, np.repeat(expected, fi * fo).reshape(nb, -1)
                ):
                    return False
            b_owner = self._owner[self.bias_slice(i)]
            if not np.array_equal(b_owner, np.arange(nb * fo) // (nb * fo // G)):
                return False
        return True

    @property
    def owner(self):
        """Convergence group of every parameter, shape ``(n_params,)``."""
        if self._owner is None:
            return np.zeros(self.n_params, dtype=np.int64)
        return self._owner

    @property
    def n_features(self):
        return self.blocks[0][1]

    @property
    def n_outputs(self):
        nb, _, fo = self.blocks[-1]
        return nb * fo

    def weight_slice(self, layer):
        start = int(self.table[layer, K.W_OFF])
        nb, fi, fo = self.blocks[layer]
        return slice(start, start + nb * fi * fo)

    def bias_slice(self, layer):
        start = int(self.table[layer, K.B_OFF])
        nb, _, fo = self.blocks[layer]
        return slice(start, start + nb * fo)

    def same_shape(self, other):
        return self.blocks == other.blocks and self.n_groups == other.n_groups


# Longest run of parameters the optimizer treats as one unit: long enough for
# the loops to vectorise, short enough to spread over the optimizer chunks.
_MAX_SEGMENT = 8192


def _segments(owner, cuts):
    """``[start, stop, group]`` runs of equal owner, split at ``cuts`` and at
    most ``_MAX_SEGMENT`` long."""
    n = owner.size
    bounds = np.flatnonzero(np.diff(owner)) + 1
    bounds = np.unique(np.concatenate([[0, n], cuts, bounds]))
    return _segments_of_bounds(bounds, owner[bounds[:-1]])


def _segments_of_bounds(bounds, groups):
    """Runs ``bounds[i]:bounds[i + 1]`` of group ``groups[i]``, cut into pieces of
    at most ``_MAX_SEGMENT``, as ``[start, stop, group]`` rows."""
    bounds = np.asarray(bounds, dtype=np.int64)
    a, b = bounds[:-1], bounds[1:]
    keep = b > a
    a, b, groups = a[keep], b[keep], np.asarray(groups, dtype=np.int64)[keep]
    # Run i gives ceil(length / _MAX_SEGMENT) pieces, starting every _MAX_SEGMENT.
    pieces = (b - a + _MAX_SEGMENT - 1) // _MAX_SEGMENT
    run = np.repeat(np.arange(a.size), pieces)
    first = np.cumsum(pieces) - pieces  # index of each run's first piece
    starts = a[run] + (np.arange(run.size) - first[run]) * _MAX_SEGMENT
    stops = np.minimum(starts + _MAX_SEGMENT, b[run])
    return np.column_stack([starts, stops, groups[run]]).astype(np.int64)


# --------------------------------------------------------------------------------
# Chunking (a function of the problem size only, never of the thread count)
# --------------------------------------------------------------------------------


_MAX_GRAD_BYTES = 512 * 2**20


def row_chunks(batch_size, plan):
    """Number of row chunks a mini-batch is split into.

    One chunk while a step is too small to pay for a parallel region, then 2, 4
    or 8 as the work per step grows, at least 32 rows each, and never more than
    the machine has cores (``os.cpu_count()``: a property of the machine, not of
    ``n_threads`` or of this process's affinity, so a given machine gives the
    same chunks, hence the same bits, for any thread count).

    The work of a step is counted as ``batch_size * n_params`` for CSR input
    too, although its first layer costs only its non-zeros: a CSR step also
    pays a pass over every first-layer weight (Adam updates them all) and more
    per multiply-add. Measured on medical (333 x 1449, 13 non-zeros per row,
    h=100): two chunks cost 2 % at 1 thread and save 27 % at 2 threads.

    Two chunks from 2**19 (was 2**21): emotions (7,906 parameters) at batch
    200, 1.6 M, ran every step on one thread: two chunks took an epoch from
    0.38-0.40 to 0.21-0.23 ms at 2 threads (0.40 to 0.34 at 1); at batch 100,
    0.8 M, from 0.36 to 0.28 ms (1 thread unchanged); at batch 64, 0.5 M, two
    chunks of 32 rows gained nothing at 2 threads and cost 7 % at 1. (The 4 and
    8 chunk thresholds were not re-measured: this machine has 2 cores.)
    """
    work = batch_size * plan.n_params
    n_chunks = (
        1 if work < 2**19 else (2 if work < 2**24 else (4 if work < 2**26 else 8))
    )
    n_chunks = min(n_chunks, batch_size // 32, os.cpu_count() or 1)
    # Each chunk has its own gradient buffer: beyond _MAX_GRAD_BYTES in total
    # (huge networks, e.g. binary relevance on wide sparse input) the memory
    # costs more than the parallel speed-up gives.
    n_chunks = min(n_chunks, _MAX_GRAD_BYTES // (8 * plan.n_params))
    return int(max(1, n_chunks))


# Least cost (in parameter updates, see segment_costs) of an optimizer chunk: a
# parallel region costs about 10-20 us to launch and join, Adam about 1.4 ns a
# parameter (bibtex, 2 threads), so a chunk does at least about 23 us of work.
# (32768 left a dense 20000 x 500 problem with 22 labels, 52,000 parameters, in
# one chunk; two: -6 % per epoch at 2 threads, no change at 1.)
_MIN_CHUNK_COST = 16384


def param_chunks(plan, cost=None):
    """Number of parameter chunks of the optimizer loop: one per
    ``_MIN_CHUNK_COST`` of work, at most 8, the machine's cores
    (``os.cpu_count()``) or the number of segments. ``cost`` is the cost of
    each segment (:func:`segment_costs`); None counts one per parameter.

    A function of the sizes, the data and the machine, never of ``n_threads``
    (the chunks only change the order of the squared-weight sums). For CSR input
    the optimizer also computes the first layer's weight gradient, which can
    cost more than the updates: on a 21519 x 500 bag of words with 22 labels
    (52,000 parameters, 23 non-zeros per row, h=100), counting only the
    parameters gave one chunk, and the other thread waited through the whole
    optimizer loop; two chunks: -23 % per epoch at 2 threads.
    """
    total = plan.n_params if cost is None else float(np.sum(cost))
    n_chunks = min(
        int(total // _MIN_CHUNK_COST), 8, os.cpu_count() or 1, plan.segments.shape[0]
    )
    return int(max(1, n_chunks))


# Cost of one multiply-add of the CSR first layer's gradient relative to one
# parameter's Adam update (bibtex, 2 threads: about 0.16 and 1.4 ns).
_SPARSE_GRAD_COST = 0.12


def segment_costs(plan, X=None, batch_size=1):
    """Cost of the optimizer's work on each segment of ``plan.segments``, in
    parameter updates: its parameters and, for a CSR ``X`` and the first
    layer's weights, the gradient the optimizer computes there: one
    multiply-add per batch non-zero of each weight's input column, counted at
    the column's rate in ``X`` and at ``_SPARSE_GRAD_COST``."""
    seg = plan.segments
    cost = (seg[:, 1] - seg[:, 0]).astype(np.float64)
    if X is not None and hasattr(X, "indptr") and X.shape[0] > 0:
        n_features = plan.n_features
        fan_out = int(plan.table[0, K.FAN_OUT])
        first_size = n_features * fan_out
        # Non-zeros per batch of each input column (a 0 after the last), and
        # their sum over the weights before weight w (row w // fan_out of the
        # first layer, column w % fan_out): no array as long as the layer.
        per_batch = np.zeros(n_features + 1)
        per_batch[:n_features] = np.bincount(X.indices, minlength=n_features)[
            :n_features
        ] * (min(batch_size, X.shape[0]) / X.shape[0])
        by_row = np.concatenate([[0.0], np.cumsum(per_batch)])

        def before(w):
            row, col = np.divmod(w, fan_out)
            return fan_out * by_row[row] + col * per_batch[row]

        first = seg[:, 0] < first_size
        lo, hi = seg[first, 0], np.minimum(seg[first, 1], first_size)
        cost[first] += _SPARSE_GRAD_COST * (before(hi) - before(lo))
    return cost


def optimizer_segments(plan, n_chunks, cost=None):
    """``plan.segments`` with a fourth column: the optimizer chunk that updates
    each segment (``_kernels._optimizer_chunk``).

    The segments go to ``n_chunks`` chunks of about equal ``cost``
    (:func:`segment_costs`; None: their lengths, the cost for dense input), the
    costliest first, each to the least loaded chunk (ties to the lowest).
    (Taking every n-th segment instead left bibtex's first chunk one
    first-layer segment more, and its item 5 % slower, at every step.)

    Which chunk updates a parameter changes none of its bits, only the order of
    the squared-weight sums; the assignment is a function of the data and the
    chunk count, never of the thread count.
    """
    seg = plan.segments
    if cost is None:
        cost = segment_costs(plan)
    chunk = np.zeros(seg.shape[0], dtype=np.int64)
    load = np.zeros(n_chunks)
    for s in np.argsort(-cost, kind="stable"):
        c = int(np.argmin(load))
        chunk[s] = c
        load[c] += cost[s]
    return np.column_stack([seg, chunk])


# --------------------------------------------------------------------------------
# Kernel calls
# --------------------------------------------------------------------------------


class _ArrayInterface:
    """Exposes an ``__array_interface__`` and keeps the array it describes alive."""

    def __init__(self, interface, owner):
        self.__array_interface__ = interface
        self._owner = owner


def _readable(a):
    """``a`` itself, or for a read-only ``a`` a writable alias of its memory.

    The kernels only ever read the input arrays, but numba compiles a separate
    specialisation for read-only arrays: a read-only ``X`` (a memory map, such as
    the ones joblib hands to the workers of ``GridSearchCV(n_jobs=...)``) would
    compile the whole engine again. The alias is never written to.
    """
    if a.flags.writeable or a.size == 0:
        return a
    interface = dict(a.__array_interface__)
    interface["data"] = (interface["data"][0], False)
    return np.asarray(_ArrayInterface(interface, a))


def split_input(X, dtype):
    """``(X, csr)`` as the kernels take them: the dense matrix and None, or for
    a CSR ``X`` a ``(0, n_features)`` placeholder and a :class:`_kernels.CSR`
    whose column scratch is empty (prediction reads the rows directly)."""
    if hasattr(X, "indptr"):
        dummy = np.empty((0, X.shape[1]), dtype=dtype)
        no_columns = np.empty((0, 0), dtype=np.int64)
        csr = K.CSR(
            _readable(X.data),
            _readable(X.indices),
            _readable(X.indptr),
            no_columns,
            no_columns,
            np.empty((0, 0), dtype=dtype),
            np.empty((0, 0), dtype=dtype),
        )
        return dummy, csr
    # No CSR bundle: numba then compiles the dense specialisation without any
    # sparse code (see _kernels._first_layer).
    return _readable(X), None


def predict_raw(X, params, plan, act_code, sigmoid, n_threads=None, skip=None):
    """Logits or probabilities, shape ``(n_samples, n_outputs)``.

    Up to ``SMALL_ROWS`` rows run serially with no BLAS call (lowest latency,
    no thread set-up); more rows run under :func:`engine_context`, in parallel
    blocks when there is more than one block.

    ``skip`` (boolean, one per group; None for none) leaves those groups out
    where the plan allows it (``plan.skippable``): their outputs are then
    undefined.
    """
    n_samples = X.shape[0]
    out = np.empty((n_samples, plan.n_outputs), dtype=params.dtype)
    X, csr = split_input(X, params.dtype)
    # _readable: a model loaded from a read-only memory map.
    net = K.Network(_readable(params), plan.table, act_code, _skip_mask(plan, skip))
    output = K.Output(_PREDICT_BLOCK_ROWS, plan.row_width, sigmoid, out)
    if n_samples <= K.SMALL_ROWS:
        K._predict_parallel(X, csr, net, output)
    else:
        with engine_context(n_threads):
            K._predict_parallel(X, csr, net, output)
    return out


def _skip_mask(plan, skip):
    """``skip`` for the kernels: None for a plan not split by group
    (:meth:`LayerPlan._split_by_group`), which compiles no skipping code; else
    the groups to leave out of the products (an all-False mask for none, so
    that a fit runs one compiled specialisation throughout)."""
    if not plan.skippable:
        return None
    if skip is None:
        return np.zeros(plan.n_groups, dtype=np.bool_)
    return np.ascontiguousarray(skip, dtype=np.bool_)


def _column_scratch(X, csr, batch_size, n_chunks, n_opt_chunks, dtype):
    """``csr`` with per-chunk buffers for a batch grouped by column (``colptr``,
    ``crow``, ``cval``; see ``_kernels._batch_columns``) and room for one
    first-layer segment's gradient (at most ``_MAX_SEGMENT`` long) per optimizer
    chunk (``seg_grad``; see ``_kernels._segment_gradient``); None for dense
    input.

    A chunk holds at most ``ceil(batch_size / n_chunks)`` rows, so it never
    holds more non-zeros than the densest rows of ``X`` that many.
    """
    if csr is None:
        return None
    rows_per_chunk = -(-batch_size // n_chunks)
    row_nnz = np.diff(X.indptr)
    capacity = int(np.sort(row_nnz)[::-1][:rows_per_chunk].sum())
    return csr._replace(
        colptr=np.empty((n_chunks, X.shape[1] + 1), dtype=np.int64),
        crow=np.empty((n_chunks, capacity), dtype=np.int64),
        cval=np.empty((n_chunks, capacity), dtype=dtype),
        seg_grad=np.empty((n_opt_chunks, _MAX_SEGMENT), dtype=dtype),
    )


def _apart(n):
    """Row length for ``n`` float64 partial sums per parallel item: a multiple
    of a 64-byte cache line plus one line, so that no two items' rows share a
    line whatever the array's alignment (items add to their row once per
    sample: a shared line went back and forth between the cores)."""
    return -(-n // 8) * 8 + 8


class EpochRunner:
    """Scratch buffers of one fit and the call of the epoch kernel.

    Everything a mini-batch needs is allocated here once per fit.

    ``dropout`` is ``(input_rate, hidden_rate)``, each in ``[0, 1)``; which units
    a step drops is a function of ``dropout_seed``, the optimizer step count and
    the sample index only (``_kernels._keep_scale``), so it does not depend on
    the thread count. Rates 0 (the default) compile and run no dropout code.
    ``loss`` is None (binary cross-entropy) or the loss vector of
    ``_kernels.asymmetric_loss``.
    """

    def __init__(
        self,
        X,
        Y,
        sample_weight,
        pos_weight,
        plan,
        batch_size,
        dtype,
        dropout=(0.0, 0.0),
        dropout_seed=0,
        loss=None,
    ):
        input_rate, hidden_rate = (float(r) for r in dropout)
        # None: the no-dropout specialisation, compiled with no dropout code.
        self.dropout = (
            K.Dropout(np.uint64(dropout_seed), input_rate, hidden_rate)
            if input_rate > 0.0 or hidden_rate > 0.0
            else None
        )
        self.X, csr = split_input(X, dtype)
        # loss: None (the cross-entropy, compiled with no code of the other
        # losses) or the vector of _kernels.asymmetric_loss.
        self.targets = K.Targets(Y, sample_weight, pos_weight, loss)
        self.plan = plan
        self.batch_size = int(batch_size)
        n_chunks = row_chunks(self.batch_size, plan)
        cost = segment_costs(plan, X, self.batch_size)
        n_opt_chunks = param_chunks(plan, cost)
        self.csr = _column_scratch(
            X, csr, self.batch_size, n_chunks, n_opt_chunks, dtype
        )
        self.segments = optimizer_segments(plan, n_opt_chunks, cost)
        acts = np.empty(self.batch_size * plan.row_width, dtype=dtype)
        gather_rows = 0 if csr is not None else self.batch_size
        n_labels = Y.shape[1]
        self.scratch = K.Scratch(
            acts=acts,
            deltas=np.empty_like(acts),
            Xb=np.empty((gather_rows, plan.n_features), dtype=dtype),
            grads=np.empty((n_chunks, plan.n_params), dtype=dtype),
            loss_parts=np.empty((n_chunks, _apart(n_labels)), dtype=np.float64),
            sq_parts=np.empty((n_opt_chunks, _apart(plan.n_groups)), dtype=np.float64),
            label_loss=np.empty(n_labels, dtype=np.float64),
            group_l2=np.empty(plan.n_groups, dtype=np.float64),
        )

    def run(
        self,
        order,
        params,
        state,
        frozen,
        group_lr,
        act_code,
        solver,
        nesterov,
        hyper,
        t,
        skip=None,
    ):
        """One epoch in place; returns ``(t, label_loss, group_l2)`` (sums / n).

        ``skip``: frozen groups to leave out of the products (see
        :func:`predict_raw`); their entries of ``label_loss`` are undefined.
        """
        plan = self.plan
        net = K.Network(params, plan.table, act_code, _skip_mask(plan, skip))
        opt = K.Optimizer(
            state,
            plan.n_weights,
            self.segments,
            frozen,
            group_lr,
            solver,
            nesterov,
            hyper,
        )
        t = K._fit_epoch(
            self.X,
            self.csr,
            self.targets,
            net,
            opt,
            self.scratch,
            order,
            self.batch_size,
            t,
            self.dropout,
        )
        n = order.shape[0]
        scratch = self.scratch
        return int(t), scratch.label_loss / n, scratch.group_l2 / n
