"""The shared-hidden-layer network with one sigmoid output per label."""

from ._base import BaseMultiLabelMLP
from ._docstrings import shared_docstring


@shared_docstring
class MultiHeadMLPClassifier(BaseMultiLabelMLP):
    """Multi-label MLP: shared hidden layers and one sigmoid output per label.

    One network reads the input; its hidden layers are shared by all labels and
    its output layer has one logistic unit per label. Labels do not compete (no
    softmax): each output answers its own yes/no question, and the shared layers
    learn features that every label reuses. The loss is the binary cross-entropy
    (or the focal or asymmetric loss, see ``loss``) summed over labels and
    averaged over samples, plus ``alpha`` times the L2 penalty as
    :class:`~sklearn.neural_network.MLPClassifier` scales it, so on an indicator
    Y the default objective is exactly that of ``MLPClassifier``. Training and
    inference run in compiled Numba kernels.

    Read more in the :ref:`User Guide <user_guide>`.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_labels,) or (2,)
        ``arange(n_labels)`` for an indicator Y (as ``MLPClassifier``), or the two
        classes of a 1-D binary y.

    coefs_ : list of ndarray, length n_layers - 1
        ``coefs_[i]`` of shape ``(fan_in, fan_out)`` is the weight matrix of
        layer ``i``, in ``MLPClassifier``'s layout. The arrays are views of the
        model's parameter buffer; assigning a list of arrays of the same shapes
        copies them in.

    intercepts_ : list of ndarray, length n_layers - 1
        ``intercepts_[i]`` of shape ``(fan_out,)`` is the bias vector of layer
        ``i``.

    {attributes}
    n_iter_ : int
        Number of epochs run by the last ``fit`` (``partial_fit`` adds one).

    See Also
    --------
    BinaryRelevanceMLPClassifier : One independent network per label.
    sklearn.neural_network.MLPClassifier : scikit-learn's MLP (softmax for
        multiclass, the same sigmoid outputs for multi-label).

    Notes
    -----
    {notes}

    Examples
    --------
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from skmultihead import MultiHeadMLPClassifier
    >>> X, Y = make_multilabel_classification(n_samples=200, n_classes=4,
    ...                                       random_state=0)
    >>> clf = MultiHeadMLPClassifier(
    ...     hidden_layer_sizes=(32,), max_iter=500, tol=3e-3, random_state=0
    ... ).fit(X, Y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 4)
    >>> clf.predict(X[:2]).shape
    (2, 4)
    """
