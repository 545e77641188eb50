"""Binary relevance: one independent network per label, trained together."""

from ._base import BaseMultiLabelMLP
from ._docstrings import shared_docstring


@shared_docstring
class BinaryRelevanceMLPClassifier(BaseMultiLabelMLP):
    """One independent binary MLP per label, all trained in one engine.

    The classic binary-relevance baseline: label ``j`` gets its own network of
    shape ``hidden_layer_sizes`` with a single sigmoid output, and nothing is
    shared between labels. The ``n_labels`` networks are trained *together*: the
    first layers of all networks form one wide ``n_features x (n_labels * h1)``
    matrix (one matrix product for all labels), later layers are block-diagonal
    with one block per label, and every network sees the same mini-batches. Since
    the loss is a sum over labels and the optimizers are element-wise, this is
    exactly ``n_labels`` independent trainings that share the batch order. The
    constructor parameters mean the same as in :class:`MultiHeadMLPClassifier`
    (``hidden_layer_sizes`` is the size of *each* label's network), so grids and
    benchmark configurations carry over unchanged.

    Each label converges on its own: a label whose training loss has stopped
    improving by ``tol`` for ``n_iter_no_change`` epochs is frozen while the
    others keep training. With ``early_stopping=True`` all labels are monitored
    together on the summed validation loss (or ``scoring``), as in
    :class:`MultiHeadMLPClassifier`: a per-label validation loss measured on a
    few dozen held-out rows is too noisy to stop rare labels one by one.

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_labels,) or (2,)
        ``arange(n_labels)`` for an indicator Y, or the two classes of a 1-D
        binary y.

    coefs_ : list of ndarray, length n_layers - 1
        ``coefs_[i]`` has shape ``(n_labels, fan_in, fan_out)``: ``coefs_[i][j]``
        is the weight matrix of layer ``i`` of label ``j``'s network, in
        ``MLPClassifier``'s layout (``fan_out`` is 1 for the output layer). Views
        of the model's parameter buffer; assigning a list of arrays of the same
        shapes copies them in.

    intercepts_ : list of ndarray, length n_layers - 1
        ``intercepts_[i]`` has shape ``(n_labels, fan_out)``.

    {attributes}
    n_iter_ : ndarray of shape (n_labels,)
        Number of epochs each label's network was trained for by the last
        ``fit`` (labels stop at different epochs; 0 for a constant label;
        ``partial_fit`` adds one to every label).

    See Also
    --------
    MultiHeadMLPClassifier : One shared network with a sigmoid head per label.
    sklearn.multioutput.MultiOutputClassifier : The same idea with one full
        ``MLPClassifier`` fit per label, one after the other.

    Notes
    -----
    A label that is constant in the training data (all 0 or all 1) is not
    trained: its network is set to output that constant (zero output weights,
    an output bias of ``log(1/eps)`` with the constant's sign) and frozen. A
    warning names such labels.

    {notes}

    Examples
    --------
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from skmultihead import BinaryRelevanceMLPClassifier
    >>> X, Y = make_multilabel_classification(n_samples=200, n_classes=4,
    ...                                       random_state=0)
    >>> clf = BinaryRelevanceMLPClassifier(
    ...     hidden_layer_sizes=(16,), max_iter=500, tol=3e-3, random_state=0
    ... ).fit(X, Y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 4)
    >>> clf.n_members_  # 5 cross-fitted networks per label (cv='auto')
    5
    >>> clf.coefs_[0].shape  # (member, label, n_features, hidden units)
    (5, 4, 20, 16)
    """

    _shared_trunk = False
