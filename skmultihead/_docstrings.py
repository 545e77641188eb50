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

alpha : float, array-like of floats or 'auto', default='auto'
    Strength of the L2 penalty, scaled as in ``MLPClassifier``
    (``0.5 * alpha * ||W||^2 / sum of the batch's sample weights``). Several
    values are candidates: each is trained by its own networks in the same
    engine pass and the one with the lowest held-out loss (out-of-fold under
    cross-fitting, else on the validation set) is kept, the others discarded
    (``alpha_``, ``alpha_losses_``). With one network per fold (or per
    candidate), a candidate is stopped early once it can no longer overtake
    the best one (see the User Guide, "What the defaults do"), and is not
    kept. 'auto' means the candidates
    ``(1e-3, 0.1, 10)`` when the fit has held-out data (see ``cv``), else 1e-4
    (``MLPClassifier``'s default). The best strength differs by orders of
    magnitude across datasets (chosen on the MULAN sets: 10 on emotions and
    yeast, 0.1 on scene, medical and bibtex), which is why it is chosen from
    data rather than fixed.

batch_size : int or 'auto', default='auto'
    Mini-batch size; 'auto' means ``min(200, n_samples)``.

learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
    Learning-rate schedule of ``solver='sgd'`` (as in ``MLPClassifier``):
    constant; ``learning_rate_init / (t + 1) ** power_t`` with ``t`` the number
    of samples seen; or divided by 5 each time the monitored quantity stops
    improving, training stopping once it falls below 1e-6.

learning_rate_init : float or 'auto', default='auto'
    Initial step size. 'auto' is 0.003 for 'adam' and 0.001 (``MLPClassifier``'s
    value, see ``SKLEARN_PARITY``) for 'sgd': an Adam step is about
    ``learning_rate_init`` whatever the scale of the gradient, so the larger
    step is safe and reaches the best held-out loss in fewer epochs (measured:
    the same or better F1 on the MULAN sets, +0.05 micro-F1 on medical), while
    an SGD step grows with the gradient and diverges sooner on unscaled input.

power_t : float, default=0.5
    Exponent of the 'invscaling' schedule.

max_iter : int, default=200
    Maximum number of epochs (passes over the training data).

shuffle : bool, default=True
    Whether to shuffle the samples at every epoch.

random_state : int, RandomState instance or None, default=None
    Seeds the weight initialisation, the shuffling, the validation split and
    the cross-fitting folds. The same seed gives bitwise-identical models
    whatever ``n_threads`` is.

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

early_stopping : bool or 'auto', default='auto'
    Stop when the monitored validation quantity stops improving and restore the
    best weights. Under cross-fitting (``cv``) every fold's networks stop on
    their own held-out fold; otherwise ``validation_fraction`` of the training
    data is held out (or ``X_val``, ``Y_val`` given to ``fit`` are used).
    Unlike ``MLPClassifier`` (which monitors exact-match accuracy on a random
    split), the split is multilabel-stratified (iterative stratification, so
    rare labels fall on both sides) and the monitored quantity is the
    validation binary cross-entropy, or ``scoring``. 'auto' means True when the
    fit has held-out data (cross-fitting or ``X_val``) or ``scoring`` is set,
    else False.

validation_fraction : float, default=0.1
    Fraction of the training data held out when ``early_stopping=True`` or a
    threshold strategy is set, there is no cross-fitting and no ``X_val`` is
    given.

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
    at 100. The resolved weights are stored in ``pos_weight_``. With another
    ``loss`` it multiplies that loss's positive term.

loss : {'log_loss', 'focal', 'asymmetric'}, default='log_loss'
    Training loss of each label, from ``p = sigmoid(z)`` of its logit ``z``
    and its target ``y``:

    - 'log_loss': the binary cross-entropy
      ``-(y * log p + (1 - y) * log(1 - p))``;
    - 'focal': focal loss (Lin et al. 2017),
      ``-(y * (1 - p)**gamma * log p + (1 - y) * p**gamma * log(1 - p))``,
      which down-weights the examples already classified well;
    - 'asymmetric': the asymmetric loss ASL (Ridnik et al. 2021), with separate
      exponents for the positive and the negative term and a probability
      margin ``clip`` on the negatives, ``p_m = max(p - clip, 0)``:
      ``-(y * (1 - p)**gamma_pos * log p + (1 - y) * p_m**gamma_neg *
      log(1 - p_m))``; negatives predicted below ``clip`` add nothing.

    ``pos_weight``, ``sample_weight`` and missing (NaN) labels apply to every
    loss; ``loss_curve_`` and ``loss_`` report the chosen loss. Early stopping
    (``validation_scores_``), the choice of ``alpha`` and the threshold tuning
    are model-selection criteria on the predicted probabilities and stay on the
    cross-entropy (or ``scoring``) whatever the training loss. Measured on
    four MULAN datasets with the other defaults, focal and asymmetric loss
    lost to the cross-entropy on emotions and yeast, a little on scene, and
    won only on medical (many rare labels; see the User Guide): the
    cross-entropy stays the default.

loss_params : dict or None, default=None
    Parameters of ``loss`` (None: all defaults; a missing key takes its
    default): for 'focal', ``{'gamma': 2.0}``; for 'asymmetric',
    ``{'gamma_neg': 4.0, 'gamma_pos': 0.0, 'clip': 0.05}`` (the paper's
    values). Exponents are non-negative, ``clip`` in [0, 1); focal loss with
    ``gamma=0`` and ASL with zero exponents and ``clip=0`` are the
    cross-entropy. Must be None with 'log_loss'.

threshold : float, array-like of shape (n_labels,), \
        {'auto', 'f1', 'f1_global', 'f1_shrunk'}, default='auto'
    Decision threshold of each label's probability used by ``predict``. The
    strategies tune the thresholds for F1 on held-out probabilities -- the
    out-of-fold probabilities of every training row under cross-fitting, else
    the validation set (``X_val``/``Y_val``, or a stratified
    ``validation_fraction`` split, then not trained on) -- never the training
    predictions:

    - 'f1': a label with at least 5 held-out positives gets the cut that
      maximises its own F1; rarer labels share the cut that maximises micro-F1
      over all labels pooled;
    - 'f1_global': one cut for every label, maximising micro-F1;
    - 'f1_shrunk': each label's own F1 cut shrunk towards the pooled cut by its
      number of held-out positives ``n``, with weight ``n / (n + 10)``: frequent
      labels keep their own cut, rare ones move smoothly to the pooled one.

    'auto' means 'f1_shrunk' when the fit has held-out data and 0.5 otherwise,
    and always 0.5 for a 1-D binary y (the accuracy-optimal cut, as
    scikit-learn's classifiers). Measured on the MULAN test splits (out-of-fold
    thresholds), 'f1_shrunk' is within 0.01 of the best strategy on micro- and
    macro-F1 everywhere, where 'f1' loses micro-F1 on dense-label data (yeast)
    and 'f1_global' loses macro-F1 on rare labels.

min_labels : {0, 1}, default=0
    With 1, every sample is predicted to have at least its most probable label.

dtype : {'float32', 'float64'}, numpy dtype or None, default=None
    Floating-point type of the computation. ``None`` keeps float32 input in
    float32 and uses float64 otherwise.

n_threads : int or None, default=None
    Number of threads of the compiled kernels. ``None`` uses the CPUs this
    process may use without oversubscribing: the CPU affinity mask, capped by
    ``NUMBA_NUM_THREADS`` (set to ``cores // n_jobs`` in joblib's workers), one
    thread inside a Dask worker, and the CPUs Ray assigned inside a Ray task or
    actor. An explicit value always wins (capped at ``NUMBA_NUM_THREADS``).
    Results do not depend on it.

n_members : int, default=1
    Number of independently initialised networks (an ensemble) trained
    together in one engine pass; their probabilities are averaged. They share
    the mini-batch order. Under cross-fitting, each fold has ``n_members``
    networks.

cv : int, cross-validation generator, iterable, 'auto' or None, default='auto'
    Cross-fitting: ``k`` groups of networks trained together in one engine pass,
    group ``f`` never trained on fold ``f`` (its targets there are masked, as
    missing labels). Early stopping stops each group on its own held-out fold,
    thresholds are tuned on the pooled out-of-fold probabilities of all training
    rows, ``alpha`` candidates are compared on them, and the final model
    averages the ``k`` groups (no row is permanently lost to validation). An int
    gives multilabel-stratified folds drawn with ``random_state``; a splitter or
    an iterable of ``(train, test)`` splits must have test folds covering every
    row exactly once. 'auto' means 5 folds when ``fit`` gets at least 100 rows,
    no ``X_val`` and no early-stopping ``scoring`` (a scorer is evaluated on one
    validation split), else none. ``partial_fit`` never cross-fits. Measured on
    the MULAN test splits, averaging the fold networks beat refitting networks
    on all rows for the chosen number of epochs on three of four datasets, and
    costs no second pass.

tower_layer_sizes : array-like of shape (n_tower_layers,), default=()
    Hidden layers of a private tower per label, after the shared
    ``hidden_layer_sizes`` trunk: label ``j``'s logit comes from its own tower
    reading the trunk's output. ``()`` is the fully shared network;
    ``hidden_layer_sizes=()`` with towers is binary relevance (bitwise).
    For :class:`BinaryRelevanceMLPClassifier` (nothing shared) each label's
    network has the layers ``hidden_layer_sizes`` then ``tower_layer_sizes``.

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
    Training loss (summed over labels: the BCE, or ``loss``, plus the L2 term)
    of the last epoch.

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
    Positive-class weight of each label used by the loss.

n_members_ : int
    Number of networks whose probabilities are averaged (``n_members`` times
    the number of cross-fitting folds).

alpha_ : float
    The L2 strength of the kept networks (chosen among the candidates of
    ``alpha``, or ``alpha`` itself).

alpha_losses_ : ndarray of shape (n_alpha_candidates,)
    Held-out loss (mean over rows of the BCE summed over labels) of each
    ``alpha`` candidate; set only when several were compared. A candidate
    stopped by the race keeps the loss of its weights when it was stopped."""

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
