"""Optimizer state of one fit and its learning-rate schedules.

Used by :class:`skmultihead._base.BaseMultiLabelMLP`. The update itself runs in
the compiled kernels (``_kernels._optimizer_segment``); this module owns what
the update reads and what survives between ``partial_fit`` calls: the moment
arrays, the step count and the learning rate of each convergence group.
"""

import numpy as np

from . import _kernels as K

# The 'adaptive' schedule divides a stalled unit's learning rate by this ...
ADAPTIVE_DIVISOR = 5.0
# ... as long as the rate is above this; then the unit stops (as MLPClassifier).
ADAPTIVE_MIN_LR = 1e-6

SOLVER_CODES = {"sgd": K.SGD, "adam": K.ADAM}


class Optimizer:
    """Adam or SGD state of one fit, and its learning-rate schedule.

    Owns the moment arrays, the step count ``t`` and the learning rate of every
    convergence group; builds the hyper-parameter vector the kernels read; and
    applies the schedule: 'invscaling' after each epoch, 'adaptive' when a
    stopping unit stops improving. The fitted estimator keeps only the plain
    arrays of :meth:`state` (and :attr:`samples_seen` as ``t_``), from which
    the next ``partial_fit`` builds a new optimizer.

    Parameters
    ----------
    solver : {'adam', 'sgd'}
        The update rule.

    n_params : int
        Length of the flat parameter buffer.

    n_groups : int
        Number of convergence groups (each has its own learning rate).

    dtype : numpy dtype
        Training dtype; the moment arrays have it.

    learning_rate_init : float
        Initial learning rate of every group.

    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Schedule. As in :class:`~sklearn.neural_network.MLPClassifier`,
        'invscaling' and 'adaptive' apply to SGD only.

    power_t : float, default=0.5
        Exponent of the 'invscaling' schedule.

    alpha : float, default=1e-4
        L2 strength (already rescaled with the sample weights). Ignored when
        ``group_alpha`` is given.

    group_alpha : array-like of shape (n_groups,), default=None
        One L2 strength per convergence group (members trained with different
        alphas in one pass); the kernels then scale an alpha of 1 by it.

    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's moment decays and denominator offset.

    momentum : float, default=0.9
        SGD momentum.

    nesterovs_momentum : bool, default=True
        Whether SGD uses Nesterov's momentum.

    samples_seen : int, default=0
        Training samples seen by earlier calls (the estimator's ``t_``); the
        'invscaling' schedule counts from it.

    previous : dict, default=None
        The :meth:`state` of an earlier call, continued when its moments have
        the shape and dtype of this fit (``partial_fit``); otherwise, or when
        None, the state starts fresh. Its arrays are copied, never modified.

    verbose : bool, default=False
        Print the learning rate when the 'adaptive' schedule lowers it.

    Attributes
    ----------
    moments : ndarray of shape (n_moments, n_params)
        Adam's first and second moments (``n_moments=2``), or SGD's velocity
        (``n_moments=1``).

    t : int
        Optimizer steps taken (mini-batches), Adam's bias-correction count.

    group_lr : ndarray of shape (n_groups,)
        Learning rate of each convergence group.

    hyper : ndarray of shape (5,) or (5 + n_groups,)
        The kernels' float vector: alpha, beta_1, beta_2, epsilon, momentum,
        then optionally the per-group alphas (``_kernels.H_*`` positions).

    samples_seen : int
        Training samples seen, this call included.

    See Also
    --------
    sklearn.neural_network._stochastic_optimizers.AdamOptimizer : The same
        Adam, bias correction folded into the step size.

    Examples
    --------
    >>> from skmultihead._optimizer import Optimizer
    >>> opt = Optimizer("sgd", 10, 2, "float64", 0.1, learning_rate="invscaling")
    >>> opt.end_epoch(99)
    >>> opt.group_lr
    array([0.01, 0.01])
    >>> sorted(opt.state())
    ['group_lr', 'moments', 't']
    """

    def __init__(
        self,
        solver,
        n_params,
        n_groups,
        dtype,
        learning_rate_init,
        *,
        learning_rate="constant",
        power_t=0.5,
        alpha=1e-4,
        group_alpha=None,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        momentum=0.9,
        nesterovs_momentum=True,
        samples_seen=0,
        previous=None,
        verbose=False,
    ):
        self.solver = SOLVER_CODES[solver]
        self.schedule = learning_rate
        self.learning_rate_init = float(learning_rate_init)
        self.power_t = power_t
        self.nesterov = bool(nesterovs_momentum)
        self.samples_seen = samples_seen
        self.verbose = verbose
        n_moments = 2 if self.solver == K.ADAM else 1
        if (
            previous is None
            or previous["moments"].shape != (n_moments, n_params)
            or previous["moments"].dtype != dtype
        ):
            self.moments = np.zeros((n_moments, n_params), dtype=dtype)
            self.t = 0
            self.group_lr = np.full(n_groups, self.learning_rate_init)
        else:
            self.moments = previous["moments"].copy()
            self.t = previous["t"]
            self.group_lr = previous["group_lr"].copy()
        hyper = [alpha, beta_1, beta_2, epsilon, momentum]
        if group_alpha is not None:
            hyper[K.H_ALPHA] = 1.0
            hyper += list(group_alpha)
        self.hyper = np.array(hyper, dtype=np.float64)

    @classmethod
    def from_estimator(
        cls, est, plan, dtype, alpha, group_alpha=None, samples_seen=0, previous=None
    ):
        """The optimizer of a fit of ``est`` (its hyper-parameters) on ``plan``.

        Parameters
        ----------
        est : BaseMultiLabelMLP
            Read only: ``solver``, ``learning_rate``, ``learning_rate_init``,
            ``power_t``, ``beta_1``, ``beta_2``, ``epsilon``, ``momentum``,
            ``nesterovs_momentum``, ``verbose``.

        plan : LayerPlan
            The network's layer plan (``n_params``, ``n_groups``).

        dtype : numpy dtype
            Training dtype.

        alpha, group_alpha, samples_seen, previous
            As in :class:`Optimizer`.

        Returns
        -------
        optimizer : Optimizer
            A new optimizer.
        """
        return cls(
            est.solver,
            plan.n_params,
            plan.n_groups,
            dtype,
            est._learning_rate_init(),
            learning_rate=est.learning_rate,
            power_t=est.power_t,
            alpha=alpha,
            group_alpha=group_alpha,
            beta_1=est.beta_1,
            beta_2=est.beta_2,
            epsilon=est.epsilon,
            momentum=est.momentum,
            nesterovs_momentum=est.nesterovs_momentum,
            samples_seen=samples_seen,
            previous=previous,
            verbose=est.verbose,
        )

    def run_epoch(self, runner, order, params, frozen, act_code, skip=None):
        """One epoch of ``runner`` (an ``EpochRunner``) with this state.

        Updates ``params`` and :attr:`moments` in place and advances :attr:`t`
        (not when the epoch raises). Returns ``(label_loss, group_l2)``.
        ``skip``: frozen groups left out of the products (see
        ``EpochRunner.run``).
        """
        t, label_loss, group_l2 = runner.run(
            order,
            params,
            self.moments,
            frozen,
            self.group_lr,
            act_code,
            self.solver,
            self.nesterov,
            self.hyper,
            self.t,
            skip,
        )
        self.t = t
        return label_loss, group_l2

    def end_epoch(self, n_samples):
        """Count an epoch of ``n_samples`` samples and apply 'invscaling'.

        The rate becomes ``learning_rate_init / (samples_seen + 1) ** power_t``,
        as ``MLPClassifier``'s (SGD only).
        """
        self.samples_seen += n_samples
        if self.schedule == "invscaling" and self.solver == K.SGD:
            self.group_lr[:] = (
                self.learning_rate_init / (self.samples_seen + 1) ** self.power_t
            )

    def stalled(self, groups):
        """Apply the 'adaptive' schedule to a unit that stopped improving.

        Parameters
        ----------
        groups : ndarray of bool of shape (n_groups,)
            The convergence groups of the unit.

        Returns
        -------
        go_on : bool
            True when the unit's learning rate was divided by 5 (SGD with
            'adaptive', rate still above 1e-6): the unit may go on. False: it
            must stop.
        """
        if self.solver != K.SGD or self.schedule != "adaptive":
            return False
        if not self.group_lr[groups][0] > ADAPTIVE_MIN_LR:
            return False
        self.group_lr[groups] /= ADAPTIVE_DIVISOR
        if self.verbose:
            print(f"Setting learning rate to {self.group_lr[groups][0]:f}")
        return True

    def state(self):
        """The state a later ``partial_fit`` continues from, as plain values.

        Returns
        -------
        state : dict
            ``moments`` (ndarray), ``t`` (int), ``group_lr`` (ndarray); the
            arrays are this optimizer's own (not copies).
        """
        return {"moments": self.moments, "t": int(self.t), "group_lr": self.group_lr}
