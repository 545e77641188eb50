"""Tasks, the parallel region, the call by address, one epoch, and the
Python entry points :func:`_fit_epoch` and :func:`_predict_parallel`."""

import zlib

import numba
import numpy as np
from numba import prange

try:  # the numba internals of the call by address (see _BY_ADDRESS)
    from numba._dispatcher import compute_fingerprint
    from numba.core import callconv, cgutils, funcdesc
    from numba.core.codegen import JITCodeLibrary
    from numba.core.compiler import CompileResult
    from numba.extending import intrinsic
except ImportError:  # pragma: no cover - another numba layout
    intrinsic = None

from ._backward import _chunk_step
from ._core import (
    _NO_KEY,
    _ONE,
    _ZERO,
    ADAM,
    H_ALPHA,
    H_BETA1,
    H_BETA2,
    Optimizer,
    Output,
    Scratch,
    Step,
    Targets,
    TaskArgs,
    jit,
    jit_inline,
    jit_parallel,
)
from ._dropout import _step_key
from ._forward import _predict_block
from ._update import _optimizer_chunk

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


@jit
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
        _optimizer_chunk(c, args)
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


@jit_parallel
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

    The loop body only builds the arguments and calls :func:`_run_task`, a
    separately compiled function (never ``inline='always'``): numba loses the
    writes a parallel loop body makes itself to an array held in a named tuple
    (numba issues 5872, 7135, 10338; reproduced with numba 0.68), not those made
    in a function it calls.
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


@jit_inline
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


@jit
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
                np.empty((0, 4), dtype=np.int64),
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
