"""Docstring text shared by both estimators (one source, two classes)."""

import textwrap

_PARAMETERS = """\
hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
    The ith element is the number of neurons in the ith hidden layer. An empty
    tuple gives a network without hidden layers (one logistic regression per
    label, trained jointly).

activation : {'identity', 'logistic', 'tanh', 'relu'}, default='relu'
    Activation function of the hidden layers. The output layer is always one
    sigmoid per label.

solver : {'adam', 'sgd'}, default='adam'
    Mini-batch optimizer: Adam (Kingma and Ba) or stochastic gradient descent
    with (Nesterov) momentum, as in ``MLPClassifier``.

alpha : float, default=0.0001
    Strength of the L2 penalty, scaled as in ``MLPClassifier``
    (``0.5 * alpha * ||W||^2 / sum of the batch's sample weights``).

batch_size : int or 'auto', default='auto'
    Mini-batch size; 'auto' means ``min(200, n_samples)``.

learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
    Learning-rate schedule of ``solver='sgd'`` (as in ``MLPClassifier``):
    constant; ``learning_rate_init / (t + 1) ** power_t`` with ``t`` the number
    of samples seen; or divided by 5 each time the monitored quantity stops
    improving, training stopping once it falls below 1e-6.

learning_rate_init : float, default=0.001
    Initial step size.

power_t : float, default=0.5
    Exponent of the 'invscaling' schedule.

max_iter : int, default=200
    Maximum number of epochs (passes over the training data).

shuffle : bool, default=True
    Whether to shuffle the samples at every epoch.

random_state : int, RandomState instance or None, default=None
    Seeds the weight initialisation, the shuffling and the validation split. The
    same seed gives bitwise-identical models whatever ``n_threads`` is.

tol : float, default=1e-4
    Tolerance: when the monitored loss (or score) does not improve by at least
    ``tol`` for ``n_iter_no_change`` consecutive epochs, training stops (or, for
    'adaptive', the learning rate is divided by 5).

verbose : bool, default=False
    Print the loss (and validation score) of every epoch.

warm_start : bool, default=False
    Reuse the fitted weights as the starting point of the next ``fit`` (the
    optimizer state starts afresh, as in ``MLPClassifier``).

momentum : float, default=0.9
    Momentum of 'sgd'.

nesterovs_momentum : bool, default=True
    Use Nesterov's momentum with 'sgd'.

early_stopping : bool, default=False
    Hold out ``validation_fraction`` of the training data (or use ``X_val``,
    ``Y_val`` given to ``fit``) and stop when the monitored validation quantity
    stops improving; the best weights are restored. Unlike ``MLPClassifier``
    (which monitors exact-match accuracy on a random split), the split is
    multilabel-stratified (iterative stratification, so rare labels fall on both
    sides) and the monitored quantity is the validation binary cross-entropy, or
    ``scoring``.

validation_fraction : float, default=0.1
    Fraction of the training data held out when ``early_stopping=True`` or
    ``threshold='f1'`` and no ``X_val`` is given.

beta_1 : float, default=0.9
    Exponential decay of Adam's first-moment estimates.

beta_2 : float, default=0.999
    Exponential decay of Adam's second-moment estimates.

epsilon : float, default=1e-8
    Numerical stability constant of Adam.

n_iter_no_change : int, default=10
    Number of epochs without ``tol`` improvement before stopping.

scoring : str, callable or None, default=None
    What early stopping monitors on the validation set: ``None`` for the
    validation binary cross-entropy, or any scikit-learn scorer name
    (``'f1_micro'``, ``'roc_auc'``...) or callable ``scorer(estimator, X, Y)``,
    higher being better.

pos_weight : {None, 'balanced'} or array-like of shape (n_labels,), default=None
    Weight of the positive term of each label's loss,
    ``-(pos_weight[j] * y * log p + (1 - y) * log(1 - p))``. 'balanced' uses
    ``n_negative / n_positive`` of each label, computed from the (weighted)
    training rows of this fit (so it is right inside cross-validation), capped
    at 100. The resolved weights are stored in ``pos_weight_``.

threshold : float, array-like of shape (n_labels,) or 'f1', default=0.5
    Decision threshold of each label's probability used by ``predict``. 'f1'
    tunes the thresholds to maximise F1 on held-out probabilities: the
    validation set (``X_val``/``Y_val``, or a stratified ``validation_fraction``
    split of the training data, which is then not trained on), never the
    training predictions. A label with at least 5 positives there gets the
    threshold that maximises its own F1; rarer labels share the one that
    maximises micro-F1 over all labels pooled (a threshold fitted to one or two
    positives is noise).

min_labels : {0, 1}, default=0
    With 1, every sample is predicted to have at least its most probable label.

dtype : {'float32', 'float64'}, numpy dtype or None, default=None
    Floating-point type of the computation. ``None`` keeps float32 input in
    float32 and uses float64 otherwise.

n_threads : int or None, default=None
    Number of threads of the compiled kernels. ``None`` uses the CPUs this
    process may use without oversubscribing: the CPU affinity mask, capped by
    ``NUMBA_NUM_THREADS`` (set to ``cores // n_jobs`` in joblib's workers) and
    one thread inside a Dask worker. An explicit value always wins (capped at
    ``NUMBA_NUM_THREADS``). Results do not depend on it.

dropout : float or tuple of (float, float), default=0.0
    Dropout rate of the hidden units, or a pair ``(input_rate, hidden_rate)``
    to drop input features too; each in [0, 1). In training, every unit of every
    sample is dropped with that probability at each optimizer step and the kept
    ones are scaled by ``1 / (1 - rate)`` (inverted dropout); prediction uses
    the whole network. Which units are dropped is a function of
    ``random_state``, the step and the sample only, so results stay
    bitwise-identical whatever ``n_threads`` is. ``0.0`` turns it off."""

_ATTRIBUTES = """\
n_features_in_ : int
    Number of features seen during fit.

feature_names_in_ : ndarray of shape (`n_features_in_`,)
    Names of features seen during fit. Defined only when X has feature names
    that are all strings.

n_outputs_ : int
    Number of labels (1 for a 1-D binary y).

n_layers_ : int
    Number of layers, input and output included.

out_activation_ : str
    Always 'logistic' (one sigmoid per label).

loss_ : float
    Training loss (summed BCE plus L2 term) of the last epoch.

best_loss_ : float or None
    Lowest training loss seen; None when ``early_stopping=True``.

loss_curve_ : list of float
    Training loss of every epoch.

validation_scores_ : list of float or None
    Monitored validation score of every epoch (minus the validation BCE when
    ``scoring=None``); None without a validation set.

validation_loss_curve_ : list of float or None
    Validation BCE (summed over labels) of every epoch; None without a
    validation set.

best_validation_score_ : float or None
    Best validation score; None when ``early_stopping=False``.

t_ : int
    Number of training samples seen by the solver.

threshold_ : ndarray of shape (n_labels,)
    Decision threshold of each label used by ``predict``.

pos_weight_ : ndarray of shape (n_labels,)
    Positive-class weight of each label used by the loss."""

_NOTES = """\
Missing labels: a NaN entry of a float Y means "unknown"; it contributes no
loss and no gradient, and ``predict_proba`` still returns every label.

The kernels are compiled by Numba on first use and cached on disk, so only the
first fit on a new installation pays the compilation. Mini-batches are split
into a fixed number of chunks chosen from the problem size (never from the
thread count) and BLAS runs single-threaded inside them, so a given
``random_state`` gives bitwise-identical weights for any ``n_threads``."""


def _indent(text, n=4):
    return textwrap.indent(text, " " * n).lstrip()


def shared_docstring(cls):
    """Fill the ``{parameters}``, ``{attributes}`` and ``{notes}`` slots."""
    cls.__doc__ = cls.__doc__.format(
        parameters=_indent(_PARAMETERS),
        attributes=_indent(_ATTRIBUTES) + "\n",
        notes=_indent(_NOTES),
    )
    return cls
