"""ONNX export of the fitted estimators with skl2onnx.

Importing this module registers converters for
:class:`~skmultihead.MultiHeadMLPClassifier` and
:class:`~skmultihead.BinaryRelevanceMLPClassifier` with skl2onnx, so that
``skl2onnx.to_onnx`` converts them, alone or inside a scikit-learn
:class:`~sklearn.pipeline.Pipeline`. The exported graph needs only an ONNX
runtime (no numba, no scikit-learn) and reproduces

* ``probabilities``: :meth:`predict_proba`, shape ``(n_samples, n_labels)``, or
  ``(n_samples, 2)`` for a model fitted on a 1-D binary ``y``;
* ``label``: :meth:`predict`, the 0/1 indicator matrix from the fitted per-label
  ``threshold_`` (and ``min_labels``), or the predicted class of a 1-D binary
  model.

The input is a dense float tensor (``float32``, or ``float64`` for a
double-precision graph). skl2onnx's classifier option ``zipmap`` applies as for
its own classifiers: by default probabilities come out as a list of
``{label: probability}`` dictionaries; pass ``options={"zipmap": False}`` to get
the plain ``(n_samples, n_labels)`` tensor.

skl2onnx and onnxruntime are optional dependencies
(``pip install "skmultihead[onnx]"``). Without skl2onnx this module still
imports (there is then nothing to register with, and nothing to call
``to_onnx``); :func:`register` raises an ImportError saying what to install.
"""

import inspect

import numpy as np
from sklearn.utils.validation import check_is_fitted

try:
    from onnx import TensorProto, numpy_helper
    from skl2onnx import update_registered_converter
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
        guess_proto_type,
    )
    from skl2onnx.common.utils import (
        check_input_and_output_numbers,
        check_input_and_output_types,
    )
except ImportError as exc:  # pragma: no cover - depends on the environment
    _MISSING = exc
else:
    _MISSING = None

from . import _kernels as K
from ._base import BaseMultiLabelMLP

__all__ = ["register"]

# Hidden activation code -> ONNX operator (None: identity).
_ACTIVATION_OPS = {
    K.IDENTITY: None,
    K.LOGISTIC: "Sigmoid",
    K.TANH: "Tanh",
    K.RELU: "Relu",
}


def _class_labels(est):
    """Classes of a 1-D binary model as ``(values, tensor type, proto type)``.

    Integer and boolean classes (and integral floats, as skl2onnx does for its
    own classifiers) come out as int64, strings as strings.
    """
    classes = np.asarray(est.classes_)
    if classes.dtype.kind in "biu":
        return classes.astype(np.int64), Int64TensorType, TensorProto.INT64
    if classes.dtype.kind == "f":
        if np.all(classes == np.round(classes)):
            return classes.astype(np.int64), Int64TensorType, TensorProto.INT64
        raise NotImplementedError(
            "ONNX export supports integer or string class labels; this model's "
            f"classes_ are non-integral floats: {classes}."
        )
    if classes.dtype.kind in "USO":
        return classes.astype(str), StringTensorType, TensorProto.STRING
    raise NotImplementedError(
        f"ONNX export cannot represent classes_ of dtype {classes.dtype}."
    )


def _n_members(est):
    """Members whose sigmoid outputs ``predict_proba`` averages (1 for one net)."""
    return int(getattr(est, "n_members_", 1))


def _shape_calculator(operator):
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=2)
    check_input_and_output_types(
        operator, good_input_types=[FloatTensorType, DoubleTensorType]
    )
    est = operator.raw_operator
    check_is_fitted(est)
    x_type = operator.inputs[0].type
    n_features = x_type.shape[1] if len(x_type.shape) == 2 else None
    if isinstance(n_features, int) and n_features != est.n_features_in_:
        raise ValueError(
            f"The ONNX input has {n_features} features but the model was fitted "
            f"with {est.n_features_in_}."
        )
    N = operator.inputs[0].get_first_dimension()
    if est._binary_1d:
        _, label_type, _ = _class_labels(est)
        operator.outputs[0].type = label_type([N])
        operator.outputs[1].type = x_type.__class__([N, 2])
    else:
        operator.outputs[0].type = Int64TensorType([N, est.n_outputs_])
        operator.outputs[1].type = x_type.__class__([N, est.n_outputs_])


class _Graph:
    """Adds nodes and initializers to skl2onnx's container, with unique names."""

    def __init__(self, scope, container, proto, dtype):
        self.scope = scope
        self.container = container
        self.proto = proto
        self.dtype = dtype

    def const(self, hint, value, proto=None):
        """An initializer holding ``value`` (float constants in the graph's dtype)."""
        name = self.scope.get_unique_variable_name(hint)
        proto = self.proto if proto is None else proto
        value = np.asarray(value)
        shape = list(value.shape)
        if proto == TensorProto.STRING:
            content = [s.encode("utf-8") for s in value.ravel()]
        else:
            dtype = {TensorProto.INT64: np.int64, TensorProto.INT32: np.int32}.get(
                proto, self.dtype
            )
            # A TensorProto with raw bytes: no conversion to a Python list, which
            # would cost seconds for a model with millions of weights.
            content = numpy_helper.from_array(
                np.ascontiguousarray(value, dtype=dtype), name
            )
        self.container.add_initializer(name, proto, shape, content)
        return name

    def shape(self, *dims):
        return self.const("shape", np.array(dims, dtype=np.int64), TensorProto.INT64)

    def node(self, op_type, inputs, output=None, op_version=None, **attrs):
        if output is None:
            output = self.scope.get_unique_variable_name(op_type.lower())
        self.container.add_node(
            op_type,
            inputs,
            output,
            name=self.scope.get_unique_operator_name(op_type),
            op_version=op_version,
            **attrs,
        )
        return output

    def reduce(self, op_type, x, axis, keepdims):
        """``op_type`` (ReduceMean, ReduceMax) over one axis, for any opset."""
        if self.container.target_opset >= 18:  # axes became an input in opset 18
            axes = self.const("axes", np.array([axis], np.int64), TensorProto.INT64)
            return self.node(op_type, [x, axes], op_version=18, keepdims=keepdims)
        return self.node(op_type, [x], op_version=13, axes=[axis], keepdims=keepdims)


def _layer(g, a, W, b, n_blocks, fan_in, fan_out):
    """Pre-activation of one layer: dense, or block-diagonal as a batched MatMul.

    A block-diagonal layer is run as ``n_blocks`` independent products, batched:
    ``(N, n_blocks * fan_in)`` is viewed as ``(n_blocks, N, fan_in)`` and
    multiplied by the stacked ``(n_blocks, fan_in, fan_out)`` weights. Writing it
    as one dense matrix with zero off-diagonal blocks would store and multiply
    ``n_blocks`` times more weights (binary relevance with 1000 labels and
    h=100: a 100000 x 100000 matrix, 40 GB, instead of 40 MB).
    """
    if n_blocks == 1:
        W = g.const("coef", W.reshape(fan_in, fan_out))
        return g.node("Gemm", [a, W, g.const("intercept", b)])
    a = g.node("Reshape", [a, g.shape(-1, n_blocks, fan_in)])
    a = g.node("Transpose", [a], perm=[1, 0, 2])
    z = g.node("MatMul", [a, g.const("coef", W.reshape(n_blocks, fan_in, fan_out))])
    z = g.node("Add", [z, g.const("intercept", b.reshape(n_blocks, 1, fan_out))])
    z = g.node("Transpose", [z], perm=[1, 0, 2])
    return g.node("Reshape", [z, g.shape(-1, n_blocks * fan_out)])


def _probabilities(g, est, x):
    """Per-label probabilities ``(N, n_labels)``, walked from the layer table."""
    params = np.asarray(est._params, dtype=g.dtype)
    table = est._plan.table
    n_layers = table.shape[0]
    hidden_op = _ACTIVATION_OPS[int(est._act_code)]
    a = x
    for layer in range(n_layers):
        w_off, b_off, n_blocks, fan_in, fan_out = (
            int(v)
            for v in table[layer, [K.W_OFF, K.B_OFF, K.N_BLOCKS, K.FAN_IN, K.FAN_OUT]]
        )
        W = params[w_off : w_off + n_blocks * fan_in * fan_out]
        b = params[b_off : b_off + n_blocks * fan_out]
        a = _layer(g, a, W, b, n_blocks, fan_in, fan_out)
        op = "Sigmoid" if layer == n_layers - 1 else hidden_op
        if op is not None:
            a = g.node(op, [a])
    n_members, n_labels = _n_members(est), est.n_outputs_
    width = int(table[-1, K.N_BLOCKS] * table[-1, K.FAN_OUT])
    if width != n_members * n_labels:
        raise ValueError(
            f"The output layer has {width} units; expected n_members_ * n_labels "
            f"= {n_members} * {n_labels}."
        )
    if n_members > 1:
        # Output column m * n_labels + j is member m's label j (member-major).
        a = g.node("Reshape", [a, g.shape(-1, n_members, n_labels)])
        a = g.reduce("ReduceMean", a, axis=1, keepdims=0)
    return a


def _converter(scope, operator, container):
    est = operator.raw_operator
    proto = guess_proto_type(operator.inputs[0].type)
    if proto != TensorProto.DOUBLE:
        proto = TensorProto.FLOAT
    dtype = np.float64 if proto == TensorProto.DOUBLE else np.float32
    g = _Graph(scope, container, proto, dtype)
    label_out, proba_out = (v.full_name for v in operator.outputs)

    P = _probabilities(g, est, operator.inputs[0].full_name)
    positive = g.node("Greater", [P, g.const("threshold", est.threshold_)])
    if est._binary_1d:
        negative = g.node("Sub", [g.const("one", 1.0), P])
        g.node("Concat", [negative, P], proba_out, axis=1)
        classes, _, class_proto = _class_labels(est)
        index = g.node("Cast", [positive], to=TensorProto.INT64)
        index = g.node("Reshape", [index, g.shape(-1)])
        g.node("Gather", [g.const("classes", classes, class_proto), index], label_out)
        return
    g.node("Identity", [P], proba_out)
    if est.min_labels:
        # Samples with no label above its threshold get their most probable one.
        n_positive = g.node("Cast", [positive], to=TensorProto.INT32)
        any_positive = g.reduce("ReduceMax", n_positive, axis=1, keepdims=1)
        none = g.node("Equal", [any_positive, g.const("zero", 0, TensorProto.INT32)])
        top = g.node("ArgMax", [P], axis=1, keepdims=1)
        labels = g.const("labels", np.arange(est.n_outputs_), TensorProto.INT64)
        top = g.node("Equal", [top, labels])
        positive = g.node("Or", [positive, g.node("And", [top, none])])
    g.node("Cast", [positive], label_out, to=TensorProto.INT64)


def _estimator_classes(cls=BaseMultiLabelMLP):
    """Every concrete subclass of ``cls`` defined so far."""
    for sub in cls.__subclasses__():
        if not inspect.isabstract(sub):
            yield sub
        yield from _estimator_classes(sub)


def register():
    """Register the converters of both estimators with skl2onnx.

    Called when :mod:`skmultihead.onnx` is imported. Afterwards
    ``skl2onnx.to_onnx`` converts a fitted
    :class:`~skmultihead.MultiHeadMLPClassifier` or
    :class:`~skmultihead.BinaryRelevanceMLPClassifier`, alone or as a step of a
    :class:`~sklearn.pipeline.Pipeline`. Calling it again is harmless; it also
    registers subclasses of the estimators defined since the import (the
    converter reads only the fitted state, see :ref:`deploying`).

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from skl2onnx import to_onnx
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from skmultihead import MultiHeadMLPClassifier
    >>> import skmultihead.onnx  # registers the converters
    >>> X, Y = make_multilabel_classification(n_samples=100, n_classes=3,
    ...                                       random_state=0)
    >>> X = X.astype(np.float32)
    >>> clf = MultiHeadMLPClassifier(
    ...     hidden_layer_sizes=(8,), max_iter=500, tol=3e-3, random_state=0
    ... ).fit(X, Y)
    >>> onx = to_onnx(clf, X[:1], options={"zipmap": False})
    >>> sess = ort.InferenceSession(
    ...     onx.SerializeToString(), providers=["CPUExecutionProvider"]
    ... )
    >>> labels, proba = sess.run(None, {"X": X[:5]})
    >>> bool(np.abs(proba - clf.predict_proba(X[:5])).max() < 1e-5)
    True
    """
    if _MISSING is not None:
        raise ImportError(
            "skmultihead.onnx needs skl2onnx: pip install 'skmultihead[onnx]' "
            "(or pip install skl2onnx onnxruntime)."
        ) from _MISSING
    for cls in _estimator_classes():
        update_registered_converter(
            cls,
            f"Skmultihead{cls.__module__}.{cls.__qualname__}",
            _shape_calculator,
            _converter,
            # skl2onnx's classifier parser reads 'nocl' (class indices instead of
            # class labels in the ZipMap); only the class labels are supported.
            options={"zipmap": [True, False, "columns"], "nocl": [False]},
        )


if _MISSING is None:
    register()
