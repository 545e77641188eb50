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
