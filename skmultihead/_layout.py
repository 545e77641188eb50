"""Network layouts: how one network, or an ensemble of them, sits in the engine.

The engine (:mod:`skmultihead._engine`) runs any stack of *dense* and
*block-diagonal* layers stored in one flat parameter buffer. A layout says which
stack an estimator trains and how its flat buffer is shown to the user as
``coefs_`` / ``intercepts_`` in scikit-learn's layout.

One *member* is one complete network (the shared network of
:class:`~skmultihead.MultiHeadMLPClassifier`, or the ``n_labels`` networks of
:class:`~skmultihead.BinaryRelevanceMLPClassifier`). Several members -- a seed
ensemble, or the fold networks of cross-fitting -- are laid side by side in one
plan, so that they train in one engine pass:

* the first layer (always dense) of all members is one wide matrix, member
  ``m`` owning output columns ``[m * F, (m + 1) * F)``;
* every later layer becomes block-diagonal, member ``m`` owning blocks
  ``[m * B, (m + 1) * B)`` (``B`` the member's own block count, 1 for a dense
  layer of the member);
* the output has ``n_members * n_labels`` logits, member-major: column
  ``m * n_labels + j`` is member ``m``'s logit for label ``j``.

With one member the plan is exactly the single network's (same offsets, same
bits). Since the loss is a sum over outputs and the optimizers are element-wise,
members never exchange gradients: training them together is training them
independently on the same mini-batches.

Each layer of a member is described by ``(n_blocks, fan_in, fan_out, split)``:
``n_blocks`` > 1 for a block-diagonal layer; for a dense layer, ``split`` is the
number of label networks whose units it holds side by side (binary relevance's
first layer holds the first layer of every label's network: split ``n_labels``),
0 for a layer of one network; a block-diagonal layer sets ``split`` to
``n_blocks`` (so that a per-label layer keeps its label axis when there is one
label). ``coefs_[i]`` then has shape ``(fan_in, fan_out)`` for an unsplit dense
layer, ``(split, fan_in, fan_out // split)`` for a split one and ``(n_blocks,
fan_in, fan_out)`` for a block-diagonal one, with a leading member axis when
there is more than one member.
"""

import numpy as np

from ._engine import LayerPlan
from ._warnings import warn_user


class Layout:
    """A member network's layers, replicated ``n_members`` times.

    Parameters
    ----------
    layers : list of tuple (n_blocks, fan_in, fan_out, split)
        The layers of one member (see the module docstring). Layer 0 must be
        dense; its ``fan_in`` is the number of input features.
    n_labels : int
        Outputs of one member.
    per_label_groups : bool
        Whether every label's network is its own convergence group (binary
        relevance: group of a parameter = its label); otherwise a member is one
        group.
    n_members : int, default=1
        Number of members.
    """

    def __init__(self, layers, n_labels, per_label_groups, n_members=1):
        self.layers = [tuple(int(v) for v in layer) for layer in layers]
        self.n_labels = int(n_labels)
        self.per_label_groups = bool(per_label_groups)
        self.n_members = int(n_members)
        if self.layers[0][0] != 1:
            raise ValueError("The first layer must be dense.")
        M = self.n_members
        blocks = []
        for i, (nb, fi, fo, _) in enumerate(self.layers):
            blocks.append((1, fi, M * fo) if i == 0 else (M * nb, fi, fo))
        self.groups_per_member = self.n_labels if self.per_label_groups else 1
        self.plan = LayerPlan(
            blocks, self._owner_of, n_groups=M * self.groups_per_member
        )

    # ------------------------------------------------------------------------
    # Shapes
    # ------------------------------------------------------------------------

    def _unit_axes(self, layer):
        """``(units, fan_out)`` of one member's layer: the label networks (or
        blocks) it holds side by side and the width of each."""
        nb, _, fo, split = self.layers[layer]
        if nb > 1:
            return nb, fo
        return max(split, 1), fo // max(split, 1)

    def _shown_shape(self, shape, layer):
        """Drop the member axis for one member and the unit axis for an unsplit
        dense layer (scikit-learn's layout)."""
        nb, _, _, split = self.layers[layer]
        if nb == 1 and split == 0:
            shape = shape[:1] + shape[2:]
        if self.n_members == 1:
            shape = shape[1:]
        return shape

    def coef_view(self, params, layer):
        """``coefs_[layer]`` as a view of ``params``."""
        W = self._full_views(params, layer)[0]
        return W.reshape(self._shown_shape(W.shape, layer))

    def intercept_view(self, params, layer):
        """``intercepts_[layer]`` as a view of ``params``."""
        b = self._full_views(params, layer)[1]
        return b.reshape(self._shown_shape(b.shape, layer))

    def _full_views(self, params, layer):
        """Weights and biases of a layer with both the member and the unit
        axes, shapes ``(M, units, fan_in, fo)`` and ``(M, units, fo)``."""
        _, fi, _, _ = self.layers[layer]
        units, fo = self._unit_axes(layer)
        M = self.n_members
        W = params[self.plan.weight_slice(layer)]
        if layer == 0:
            W = W.reshape(fi, M, units, fo).transpose(1, 2, 0, 3)
        elif self.layers[layer][0] == 1:
            W = W.reshape(M, fi, units, fo).transpose(0, 2, 1, 3)
        else:
            W = W.reshape(M, units, fi, fo)
        b = params[self.plan.bias_slice(layer)].reshape(M, units, fo)
        return W, b

    # ------------------------------------------------------------------------
    # Convergence groups
    # ------------------------------------------------------------------------

    def _owner_of(self, layer, kind):
        """Group of every weight (``kind='w'``, storage order) or bias of a layer:
        ``member * groups_per_member + label`` (label 0 for a shared member)."""
        _, fi, _, _ = self.layers[layer]
        units, fo = self._unit_axes(layer)
        M = self.n_members
        G = self.groups_per_member
        unit_group = np.arange(units) if self.per_label_groups else np.zeros(units)
        group = (np.arange(M)[:, None] * G + unit_group[None, :]).astype(np.int64)
        if kind == "b":
            return np.broadcast_to(group[:, :, None], (M, units, fo)).ravel()
        if layer == 0:
            shape = (fi, M, units, fo)
            return np.broadcast_to(group[None, :, :, None], shape).ravel()
        if self.layers[layer][0] == 1:
            shape = (M, fi, units, fo)
            return np.broadcast_to(group[:, None, :, None], shape).ravel()
        shape = (M, units, fi, fo)
        return np.broadcast_to(group[:, :, None, None], shape).ravel()

    # ------------------------------------------------------------------------
    # Initialisation
    # ------------------------------------------------------------------------

    def init_params(self, draw, rng, dtype):
        """Flat parameter buffer, every member drawn in turn.

        ``draw(rng, fan_in, fan_out)`` returns one layer's ``(coef, intercept)``.
        A member draws its shared layers (``split == 0``) layer by layer, as
        ``MLPClassifier`` does, then its per-label layers label by label, each
        label's tower layer by layer, as ``MLPClassifier`` draws a binary
        network. So member 0 of a shared network is exactly ``MLPClassifier``'s
        start, a label's tower does not depend on the other labels' sizes, and
        towers without a trunk are drawn as binary relevance draws its networks.
        """
        params = np.empty(self.plan.n_params, dtype=dtype)
        views = [self._full_views(params, i) for i in range(len(self.layers))]
        shared = [i for i, layer in enumerate(self.layers) if layer[3] == 0]
        towers = [i for i, layer in enumerate(self.layers) if layer[3] != 0]
        for m in range(self.n_members):
            for i in shared:
                W, b = views[i]
                W[m, 0], b[m, 0] = draw(rng, W.shape[2], W.shape[3])
            for j in range(self.n_labels if towers else 0):
                for i in towers:
                    W, b = views[i]
                    W[m, j], b[m, j] = draw(rng, W.shape[2], W.shape[3])
        return params

    def member_parameters(self, members, new):
        """Flat indices into this layout's buffer of the parameters of
        ``members``, in the order of ``new`` (a layout of those members)."""
        index = np.arange(self.plan.n_params)
        out = np.empty(new.plan.n_params, dtype=np.int64)
        for i in range(len(self.layers)):
            W_old, b_old = self._full_views(index, i)
            W_new, b_new = new._full_views(out, i)
            W_new[...] = W_old[members]
            b_new[...] = b_old[members]
        return out

    def output_views(self, params):
        """Output-layer weights and biases, shapes ``(M, L, fan_in, fo)`` and
        ``(M, L, fo)`` for per-label networks (``fo`` = 1)."""
        return self._full_views(params, len(self.layers) - 1)


def member_average(P, n_members):
    """Mean over members of member-major ``(n, n_members * L)`` columns."""
    if n_members == 1:
        return P
    n, width = P.shape
    return P.reshape(n, n_members, width // n_members).mean(axis=1)


class LayoutMixin:
    """How an estimator's network is laid out: the member's layers (a shared
    trunk, then per-label towers), the :class:`Layout` rebuilt from the plain
    ``_layout_spec`` of the fitted state, ``coefs_``/``intercepts_`` as views of
    the flat buffer, and the Glorot initialisation.

    A mixin of :class:`skmultihead._base.BaseMultiLabelMLP`, which sets
    ``_shared_trunk``.
    """

    def _member_layers(self, n_features, n_outputs, hidden):
        """Layers ``(n_blocks, fan_in, fan_out, split)`` of one member network
        (see :mod:`skmultihead._layout`): the shared trunk of dense layers, then
        one tower per label (all labels' first tower layers side by side in one
        dense layer, later ones block-diagonal) ending in the label's logit.
        Without towers, the trunk's last layer gives all logits at once."""
        trunk, towers = self._architecture(hidden)
        layers = []
        width = n_features
        for size in trunk:
            layers.append((1, width, size, 0))
            width = size
        if not towers and self._shared_trunk:
            layers.append((1, width, n_outputs, 0))
            return layers
        L = n_outputs
        sizes = [*towers, 1]
        layers.append((1, width, L * sizes[0], L))
        layers += [(L, a, b, L) for a, b in zip(sizes[:-1], sizes[1:])]
        return layers

    def _architecture(self, hidden):
        """``(trunk, towers)`` layer sizes: the network's shared hidden layers and
        each label's private ones."""
        towers = self._tower_sizes()
        if self._shared_trunk:
            return list(hidden), towers
        return [], [*hidden, *towers]  # binary relevance: nothing shared

    def _per_label_groups(self, hidden):
        """Whether every label's network converges (and is frozen) on its own:
        when nothing is shared, i.e. towers without a trunk."""
        trunk, towers = self._architecture(hidden)
        return not trunk and (bool(towers) or not self._shared_trunk)

    def _make_layout(self, n_features, n_outputs, hidden, n_members=1):
        layers = self._member_layers(n_features, n_outputs, hidden)
        per_label = self._per_label_groups(hidden)
        return Layout(layers, n_outputs, per_label, n_members)

    def _make_plan(self, n_features, n_outputs, hidden, n_members=1):
        """The engine's :class:`~skmultihead._engine.LayerPlan` of the network."""
        return self._make_layout(n_features, n_outputs, hidden, n_members).plan

    @property
    def _layout(self):
        """The fitted :class:`~skmultihead._layout.Layout`, rebuilt from the plain
        ``_layout_spec`` kept in the fitted state (and cached outside it)."""
        cache = self.__dict__.get("_layout_cache")
        spec = self._layout_spec
        if cache is None or cache[0] != spec:
            layers, n_labels, per_label, n_members = spec
            cache = (spec, Layout(layers, n_labels, per_label, n_members))
            self.__dict__["_layout_cache"] = cache
        return cache[1]

    @property
    def _plan(self):
        return self._layout.plan

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_layout_cache", None)
        return state

    def __copy__(self):
        # A shallow copy shares the layout cache (pickling drops it).
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        return clone

    def _freeze_constant_labels(self, Y, params):
        """Per-label networks only (nothing shared): set each constant label's
        network to output that constant and freeze it.

        A label whose observed values are all 0 (all 1) gets zero output weights
        and an output bias of ``-log(1/eps)`` (``+log(1/eps)``), i.e. a
        probability within machine precision of the constant; a label with no
        observed value at all predicts 0.5. Returns the frozen labels.
        """
        if not self._layout.per_label_groups:
            return np.empty(0, dtype=np.int64)
        observed = ~np.isnan(Y)
        n_pos = np.where(observed, Y, 0.0).sum(axis=0)
        n_obs = observed.sum(axis=0)
        constant = np.flatnonzero((n_pos == 0) | (n_pos == n_obs))
        if constant.size == 0:
            return constant
        warn_user(
            f"Labels {constant.tolist()} are constant in the training data (or "
            "have no observed value); their networks predict that constant.",
            UserWarning,
        )
        W, b = self._layout.output_views(params)  # (members, labels, ...)
        big = np.log(1.0 / np.finfo(params.dtype).eps)
        for j in constant:
            W[:, j] = 0.0
            sign = 0.0 if n_obs[j] == 0 else (1.0 if n_pos[j] > 0 else -1.0)
            b[:, j] = sign * big
        # The frozen groups: label j of every member.
        n_labels = Y.shape[1]
        members = np.arange(self._n_members())
        return (members[:, None] * n_labels + constant[None, :]).ravel()

    def _glorot(self, rng, fan_in, fan_out, dtype):
        """Weights and biases as ``MLPClassifier._init_coef`` draws them."""
        factor = 2.0 if self.activation == "logistic" else 6.0
        bound = np.sqrt(factor / (fan_in + fan_out))
        coef = rng.uniform(-bound, bound, (fan_in, fan_out))
        intercept = rng.uniform(-bound, bound, fan_out)
        return coef.astype(dtype, copy=False), intercept.astype(dtype, copy=False)

    def __sklearn_is_fitted__(self):
        return "_params" in self.__dict__

    def _fitted_state(self, name):
        if "_params" not in self.__dict__:
            raise AttributeError(
                f"'{type(self).__name__}' object has no attribute '{name}' "
                "(it is set by fit)."
            )

    @property
    def coefs_(self):
        self._fitted_state("coefs_")
        layout = self._layout
        return [layout.coef_view(self._params, i) for i in range(len(layout.layers))]

    @coefs_.setter
    def coefs_(self, values):
        self._assign_views("coefs_", self.coefs_, values)

    @property
    def intercepts_(self):
        self._fitted_state("intercepts_")
        layout = self._layout
        return [
            layout.intercept_view(self._params, i) for i in range(len(layout.layers))
        ]

    @intercepts_.setter
    def intercepts_(self, values):
        self._assign_views("intercepts_", self.intercepts_, values)

    def _assign_views(self, name, views, values):
        if len(values) != len(views):
            raise ValueError(
                f"{name} must have {len(views)} arrays, got {len(values)}."
            )
        # Check and convert everything first: a bad array must not leave the
        # earlier layers already overwritten.
        arrays = []
        for i, (view, value) in enumerate(zip(views, values)):
            value = np.asarray(value)
            if value.shape != view.shape:
                raise ValueError(
                    f"{name}[{i}] must have shape {view.shape}, got {value.shape}."
                )
            arrays.append(value.astype(view.dtype, copy=False))
        for view, value in zip(views, arrays):
            view[...] = value
        # The weights no longer come from the recorded training: a warm-started
        # fit must not compare its losses with the old best loss.
        self._unit_best_loss = None
        if self.best_loss_ is not None:
            self.best_loss_ = np.inf
