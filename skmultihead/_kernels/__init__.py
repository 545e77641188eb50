"""Numba kernels of the multi-label MLP engine.

One engine serves both estimators. A network is a list of *layers*; each layer is
either dense (one block) or block-diagonal (``n_blocks`` independent blocks of
shape ``(fan_in, fan_out)``). The shared multi-head network is all dense layers;
binary relevance is a dense first layer (all label networks side by side, one
wide product) followed by block-diagonal layers (one block per label).

Modules, in the order a training step runs through them:

* :mod:`._core`: JIT options, constants, the argument bundles, tiny helpers;
* :mod:`._dropout`: dropout masks (a hash, never stored);
* :mod:`._forward`: the forward pass and the prediction of a block of rows;
* :mod:`._loss`: the output loss and its delta;
* :mod:`._backward`: the backward pass, and one row chunk's whole step;
* :mod:`._update`: the optimizer update (and the copy of the best weights);
* :mod:`._tasks`: the parallel region, the call by address, one epoch, and the
  Python entry points :func:`_fit_epoch` and :func:`_predict_parallel`.

This package re-exports what the rest of skmultihead and the tests use. numba's
disk cache only notices edits to the file that defines a cached function, not to
the helpers it calls from other files: every kernel's cache entry is therefore
named with a stamp of all the package's sources (see ``_core._STAMP``).

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
  the same way, and compiles no dropout code. The binary cross-entropy (the
  default loss) passes None for the loss vector of :class:`Targets`, and
  compiles none of the other losses' code (see :func:`_loss._loss_delta`).
* Missing labels are NaN entries of ``Y``: they contribute no loss and no
  gradient. The fast-math flag set below keeps ``isnan`` working.
"""

from ._backward import _scale_by_dropout_derivative, _sparse_weight_grad
from ._core import (
    _CACHE,
    _STAMP,
    ACT_OFF,
    ADAM,
    B_OFF,
    CSR,
    FAN_IN,
    FAN_OUT,
    H_ALPHA,
    H_BETA1,
    H_BETA2,
    H_EPS,
    H_GROUP_ALPHA,
    H_MOMENTUM,
    IDENTITY,
    L_CLIP,
    L_GAMMA_NEG,
    L_GAMMA_POS,
    LOGISTIC,
    N_BLOCKS,
    RELU,
    SGD,
    SMALL_ROWS,
    TANH,
    W_OFF,
    Dropout,
    Network,
    Optimizer,
    Output,
    Scratch,
    Step,
    Targets,
    TaskArgs,
    asymmetric_loss,
)
from ._dropout import _drop_columns, _drop_units, _keep_scale, _row_key, _step_key
from ._forward import (
    _batch_columns,
    _columns_first_layer,
    _first_layer,
    _sparse_first_layer,
)
from ._loss import (
    EXP_CUTOFF,
    _asymmetric_delta,
    _exp_neg,
    _log1p_unit,
    _output_delta,
)
from ._tasks import (
    _BY_ADDRESS,
    _fit_epoch,
    _fit_epoch_kernel,
    _parallel_tasks,
    _predict_parallel,
    _run_task,
    _task_address,
)
from ._update import _copy_groups, _optimizer_segment

__all__ = [
    "ACT_OFF",
    "ADAM",
    "B_OFF",
    "CSR",
    "EXP_CUTOFF",
    "FAN_IN",
    "FAN_OUT",
    "H_ALPHA",
    "H_BETA1",
    "H_BETA2",
    "H_EPS",
    "H_GROUP_ALPHA",
    "H_MOMENTUM",
    "IDENTITY",
    "L_CLIP",
    "L_GAMMA_NEG",
    "L_GAMMA_POS",
    "LOGISTIC",
    "N_BLOCKS",
    "RELU",
    "SGD",
    "SMALL_ROWS",
    "TANH",
    "W_OFF",
    "_BY_ADDRESS",
    "_CACHE",
    "_STAMP",
    "Dropout",
    "Network",
    "Optimizer",
    "Output",
    "Scratch",
    "Step",
    "Targets",
    "TaskArgs",
    "_asymmetric_delta",
    "_batch_columns",
    "_columns_first_layer",
    "_copy_groups",
    "_drop_columns",
    "_drop_units",
    "_exp_neg",
    "_first_layer",
    "_fit_epoch",
    "_fit_epoch_kernel",
    "_keep_scale",
    "_log1p_unit",
    "_optimizer_segment",
    "_output_delta",
    "_parallel_tasks",
    "_predict_parallel",
    "_row_key",
    "_run_task",
    "_scale_by_dropout_derivative",
    "_sparse_first_layer",
    "_sparse_weight_grad",
    "_step_key",
    "_task_address",
    "asymmetric_loss",
]
