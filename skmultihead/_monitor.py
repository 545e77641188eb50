"""Convergence, early stopping and learning curves of one fit.

Used by :class:`skmultihead._base.BaseMultiLabelMLP`; kept apart so that the
estimator module holds the API and the training driver, and this one the
per-epoch bookkeeping. The monitor never writes to the estimator: it starts
from a :class:`FitRecord` of the estimator's curves and counts, and
:meth:`_Monitor.finish` returns the updated record, which the estimator applies
at the end of the fit (a failed fit leaves the fitted model as it was).
"""

import copy
from dataclasses import dataclass, fields

import numpy as np
from sklearn.metrics import check_scoring

from . import _kernels as K
from ._engine import predict_raw

# Training has diverged when an epoch's loss exceeds this many times the loss of
# the starting weights (or of predicting 1/2 for every label, if larger).
DIVERGENCE_FACTOR = 1e6


def _bce_sums(logits, Y, sample_weight):
    """Sample-weighted sum of the BCE of each label from logits; NaN labels
    skipped.

    Returns an array of shape (n_labels,). Computed from the logits as
    ``max(z, 0) - z * y + log1p(exp(-|z|))``, so it never takes the log of a
    rounded probability.
    """
    Z = logits.astype(np.float64, copy=False)
    observed = ~np.isnan(Y)
    Yz = np.where(observed, Y, 0.0)
    loss = np.maximum(Z, 0.0) - Z * Yz + np.log1p(np.exp(-np.abs(Z)))
    loss = np.where(observed, loss, 0.0)
    return sample_weight @ loss


def _bce_per_label(logits, Y, sample_weight):
    """Sample-weighted mean BCE of each label (:func:`_bce_sums`)."""
    return _bce_sums(logits, Y, sample_weight) / sample_weight.sum()


@dataclass
class FitRecord:
    """The curves and counts a fit leaves on the estimator.

    Each field is the estimator attribute of the same name with a trailing
    underscore (``_unit_best_loss`` for ``unit_best_loss``).

    Parameters
    ----------
    loss_curve : list of float
        Training loss of every epoch (``loss_curve_``).

    loss : float or None
        Training loss of the last epoch (``loss_``); None before any epoch.

    best_loss : float or None
        Smallest training loss (``best_loss_``); None with early stopping.

    validation_scores : list of float or None
        Validation score of every epoch.

    validation_loss_curve : list of float or None
        Validation cross-entropy of every epoch.

    best_validation_score : float or None
        Best validation score (early stopping).

    n_iter : int or ndarray of shape (n_labels,)
        Epochs run (per label for per-label networks).

    unit_best_loss : ndarray or None
        Best training loss of each stopping unit, which a warm-started fit
        keeps comparing with.
    """

    loss_curve: list
    loss: object
    best_loss: object
    validation_scores: object
    validation_loss_curve: object
    best_validation_score: object
    n_iter: object
    unit_best_loss: object

    @staticmethod
    def _attribute(name):
        """The estimator attribute that holds field ``name``."""
        return "_unit_best_loss" if name == "unit_best_loss" else name + "_"

    @classmethod
    def of(cls, est):
        """The record of an estimator's attributes (``loss_`` may not exist
        yet: None)."""
        return cls(
            **{f.name: getattr(est, cls._attribute(f.name), None) for f in fields(cls)}
        )

    def apply_to(self, est):
        """Set the estimator's attributes (``loss_`` only once there is one)."""
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "loss" or value is not None:
                setattr(est, self._attribute(f.name), value)


class _Monitor:
    """Convergence, early stopping and learning curves of one fit.

    Losses are tracked per *stopping unit*: one unit for a shared network and
    for early stopping, one unit per label for binary relevance otherwise. A unit that
    stops is frozen (its parameters are no longer updated) while the others go
    on. All quantities are "lower is better" (scores are negated).

    ``est`` is read only: its hyper-parameters (``tol``, ``n_iter_no_change``,
    ``scoring``, ``verbose``, ``n_threads``, the resolved ``_early_stopping``)
    and, for a scorer, a shallow copy that predicts with the current weights.
    ``previous`` (a :class:`FitRecord`) holds the curves and counts this call
    continues; :meth:`finish` returns them updated. ``params`` is the training
    buffer, updated in place by the kernels (and by :meth:`finish`, which
    restores the best weights under early stopping).
    """

    def __init__(self, est, layout, params, val, incremental, previous, act_code):
        self.est = est
        self.layout = layout
        self.plan = plan = layout.plan
        self.params = params
        self.val = val
        self.incremental = incremental
        self.act_code = act_code
        self.early_stopping = (
            est._early_stopping and val is not None and not incremental
        )
        # The curves continued by this call (fresh lists: the previous ones are
        # left as they are).
        self.previous = previous
        self.loss_curve = list(previous.loss_curve)
        self.loss = previous.loss
        self.best_loss = previous.best_loss
        self.validation_scores = previous.validation_scores
        self.validation_loss_curve = previous.validation_loss_curve
        self.best_validation_score = previous.best_validation_score
        if val is not None:
            self.validation_scores = list(previous.validation_scores or [])
            self.validation_loss_curve = list(previous.validation_loss_curve or [])
            if est._early_stopping and self.best_validation_score is None:
                self.best_validation_score = -np.inf
        self.scorer = None
        if self.early_stopping and est.scoring is not None:
            self.scorer = check_scoring(est, scoring=est.scoring)
        M, L = layout.n_members, layout.n_labels
        G = layout.groups_per_member
        n_outputs = M * L
        # Per-label networks stop one by one on their own training loss. With
        # early stopping they are monitored together, like the shared network:
        # a per-label validation loss on a validation set of a few dozen rows
        # bottoms out after a handful of epochs for rare labels (measured on
        # medical: micro-F1 0.19 per label vs 0.57 monitored together). Members
        # (an ensemble, or the fold networks of cross-fitting) stop on their own,
        # except with a scorer, which scores the whole ensemble.
        groups = np.arange(plan.n_groups)
        if self.scorer is not None:
            self.unit_of_group = np.zeros(plan.n_groups, dtype=np.int64)
        elif layout.per_label_groups and not self.early_stopping:
            self.unit_of_group = groups
        else:
            self.unit_of_group = groups // G
        self.n_units = int(self.unit_of_group.max()) + 1
        self.unit_size = np.bincount(self.unit_of_group, minlength=self.n_units)
        # group of each output (member-major: output m * L + j)
        outputs = np.arange(n_outputs)
        self.group_of_label = (outputs // L) * G + (
            outputs % L if layout.per_label_groups else 0
        )
        self.unit_of_label = self.unit_of_group[self.group_of_label]
        self.label_epochs = np.zeros(n_outputs, dtype=np.int64)
        self.frozen = np.zeros(plan.n_groups, dtype=np.bool_)
        self.no_improvement = np.zeros(self.n_units, dtype=np.int64)
        self.started = np.zeros(self.n_units, dtype=np.bool_)
        self.best = np.full(self.n_units, np.inf)
        # Like MLPClassifier, a warm-started fit keeps comparing the training loss
        # with the best loss of the previous fits (per stopping unit).
        best = previous.unit_best_loss
        if (
            not self.early_stopping
            and best is not None
            and best.shape == self.best.shape
        ):
            self.best[:] = best
        self.n_epochs = 0
        # Frozen groups are left out of the products (when the plan allows it,
        # and from the second epoch after they stopped): their training loss is
        # then carried from the last epoch they were computed in, which had
        # their final weights, and so is their validation loss.
        self.skipping = plan.skippable
        self.skip = np.zeros(plan.n_groups, dtype=np.bool_)
        self._frozen_at_start = np.zeros(plan.n_groups, dtype=np.bool_)
        self._carried_loss = np.zeros(n_outputs)
        self._carried_val = None
        self._fold_parts = None
        self.reference_loss = np.inf
        self.best_params = params.copy() if self.early_stopping else None
        # Racing of alpha candidates (see race); None: not raced.
        self.candidate_of_unit = None
        self.eliminated = None
        self._unit_weight = None
        self._best_history = []

    def set_reference(self, X, Y, pos_weight):
        """Set the loss the divergence guard compares with: that of the weights
        this call starts from, on (up to) 64 rows of ``X, Y`` (member targets),
        and at least the loss of predicting 1/2 for every label (``pos_weight``
        of one member's labels)."""
        m = min(X.shape[0], 64)
        logits = predict_raw(
            X[:m], self.params, self.plan, self.act_code, False, self.est.n_threads
        )
        start = float(_bce_per_label(logits, Y[:m], np.ones(m)).sum())
        baseline = (
            np.log(2.0)
            * float(np.maximum(pos_weight, 1.0).sum())
            * self.layout.n_members
        )
        self.reference_loss = max(start, baseline) if np.isfinite(start) else baseline

    def validate_by_fold(self, folds, fold_of_group):
        """Under cross-fitting, validate each fold's members on that fold's rows
        only (``folds``: the fold of each validation row; ``fold_of_group``: the
        fold each group never trains on), instead of every member on every row
        (whose other rows are masked): k times less work for k folds."""
        if not self.skipping or self.scorer is not None:
            return
        Xv, Yv, _, swv, _ = self.val
        self._fold_parts = []
        for f in np.unique(fold_of_group):
            rows = np.flatnonzero(folds == f)
            part = (Xv[rows], Yv[rows], swv[rows], fold_of_group == f)
            self._fold_parts.append(part)

    def race(self, candidate_of_group):
        """Race the alpha candidates: freeze every unit of a candidate once it
        can no longer overtake the leader (:meth:`_race_step`).

        ``candidate_of_group`` is the candidate of each group. Racing needs
        early stopping on the held-out loss of each member (no ``scoring``), and
        a candidate's held-out loss that is the weighted sum of its units'
        losses: each unit validated on rows of its own (its cross-fitting fold),
        or one unit per candidate; with several seeds per fold (``n_members >
        1``), whose probabilities are averaged before the loss, the caller does
        not race. Without these, or with one candidate, nothing is raced.
        """
        if not self.early_stopping or self.scorer is not None:
            return
        candidates = np.asarray(candidate_of_group)
        of_unit = np.zeros(self.n_units, dtype=np.int64)
        of_unit[self.unit_of_group] = candidates
        if np.any(of_unit[self.unit_of_group] != candidates) or of_unit.max() < 1:
            return  # a unit spans candidates, or a single candidate
        # A unit's own-rows loss weighs its rows' share in its candidate's pooled
        # loss (1 / (scale * n_members), see _validation).
        own = np.broadcast_to(
            np.asarray(self.val[4], dtype=np.float64), self.unit_of_label.shape
        )
        weight = np.zeros(self.n_units)
        weight[self.unit_of_label] = 1.0 / (own * self.layout.n_members)
        self.candidate_of_unit = of_unit
        self._unit_weight = weight
        self.eliminated = np.zeros(int(of_unit.max()) + 1, dtype=np.bool_)

    def _race_step(self):
        """Eliminate the candidates that cannot overtake the leader.

        A candidate's held-out loss is the weighted sum of its units' best
        losses (``best``); the leader is the remaining candidate with the
        lowest one, which training can only lower. A candidate is eliminated
        (its units frozen) when a lower bound on its final loss exceeds the
        leader's current loss. The bound: a frozen unit keeps its best loss; an
        active one improves at most at its mean rate over the last
        ``n_iter_no_change`` epochs until ``max_iter`` (and not below 0). It is
        a bound when improvements slow down (a convex best-loss curve), which
        early stopping already assumes; measured on the MULAN sets, the
        eliminated candidates were never the one full training chooses (see
        ``benchmarks/results/alpha_racing.md``).
        """
        est = self.est
        window = est.n_iter_no_change
        self._best_history.append(self.best.copy())
        if len(self._best_history) <= window:
            return
        past = self._best_history.pop(0)
        active = self.active_units()
        remaining = max(est.max_iter - self.n_epochs, 0)
        rate = np.where(active, (past - self.best) / window, 0.0)
        bound = np.maximum(self.best - rate * remaining, 0.0)
        n = self.eliminated.size
        of_unit = self.candidate_of_unit
        loss = np.bincount(of_unit, weights=self._unit_weight * self.best, minlength=n)
        lower = np.bincount(of_unit, weights=self._unit_weight * bound, minlength=n)
        leader = int(np.argmin(np.where(self.eliminated, np.inf, loss)))
        out = ~self.eliminated & (lower > loss[leader])
        out[leader] = False
        for c in np.flatnonzero(out):
            if est.verbose:
                print(
                    f"Alpha candidate {c} cannot reach the held-out loss of "
                    f"candidate {leader} any more. Stopping its members."
                )
            self.frozen[(of_unit == c)[self.unit_of_group]] = True
        self.eliminated |= out

    def _validation_loss(self, skip):
        """Per-output validation loss; the outputs of the groups in ``skip``
        (None: none) are not computed and left at 0."""
        Xv, Yv, _, swv, _ = self.val
        parts = self._fold_parts
        if parts is None:
            parts = [(Xv, Yv, swv, np.ones(self.plan.n_groups, dtype=bool))]
        sums = np.zeros(Yv.shape[1])
        for X_part, Y_part, sw_part, in_part in parts:
            left_out = ~in_part if skip is None else ~in_part | skip
            if left_out.all():
                continue
            logits = predict_raw(
                X_part,
                self.params,
                self.plan,
                self.act_code,
                False,
                self.est.n_threads,
                left_out,
            )
            # Only the computed outputs (the others are those of other folds or
            # skipped groups).
            cols = np.flatnonzero(~left_out[self.group_of_label])
            sums[cols] += _bce_sums(logits[:, cols], Y_part[:, cols], sw_part)
        return sums / swv.sum()

    def start_epoch(self):
        """The groups to leave out of the coming epoch's products, or None.

        Those frozen since before the previous epoch: that epoch computed their
        training loss with their final weights, and it is carried from there
        (:meth:`end_epoch`).
        """
        self.skip = self._frozen_at_start if self.skipping else self.skip
        self._frozen_at_start = self.frozen.copy()
        return self.skip if self.skip.any() else None

    def any_active(self):
        return not self.frozen.all()

    def active_units(self):
        """Units with at least one group still training."""
        n_frozen = np.bincount(
            self.unit_of_group, weights=self.frozen, minlength=self.n_units
        )
        return n_frozen < self.unit_size

    def _per_unit(self, per_label, per_group):
        out = np.zeros(self.n_units)
        np.add.at(out, self.unit_of_label, per_label)
        np.add.at(out, self.unit_of_group, per_group)
        return out

    def end_epoch(self, label_loss, group_l2, optimizer):
        """Record one epoch; return False when every unit has stopped.

        ``optimizer`` (an ``_optimizer.Optimizer``) gives the learning rates and
        decides whether a unit that stopped improving may go on.
        """
        est = self.est
        # The skipped groups' losses were not computed: carry them.
        label_loss = np.where(
            self.skip[self.group_of_label], self._carried_loss, label_loss
        )
        self._carried_loss = label_loss
        loss = float(label_loss.sum() + group_l2.sum())
        limit = DIVERGENCE_FACTOR * self.reference_loss
        if not np.isfinite(loss) or loss > limit:
            raise ValueError(
                f"The training loss became {loss:.6g} at epoch "
                f"{len(self.loss_curve) + 1} (it started at "
                f"{self.reference_loss:.6g}): training diverged. The learning rate "
                f"is probably too large (learning rate {np.max(optimizer.group_lr):g}; "
                "partial_fit keeps the one it started with), or X has very large "
                "values (scale it), or alpha is large relative to a batch's total "
                "sample_weight. The previous model, if any, is unchanged."
            )
        active = self.active_units()
        self.label_epochs += ~self.frozen[self.group_of_label]
        self.n_epochs += 1
        self.loss_curve.append(loss)
        self.loss = loss
        if est.verbose:
            print(f"Iteration {len(self.loss_curve)}, loss = {loss:.8f}")
        value = self._per_unit(label_loss, group_l2)
        if self.best_loss is not None:
            self.best_loss = min(self.best_loss, loss)
        if self.val is not None:
            val_value = self._validation()
            if self.early_stopping:
                value = val_value
        if self.incremental:
            return True
        improved = value < self.best - est.tol
        better = value < self.best
        # Patience starts once the monitored value has improved on its first
        # epoch: a score such as F1 is flat at 0 until predictions first cross
        # the threshold, and counting those epochs stops training before it
        # learns anything (sklearn's early stopping ends medical at F1 0.04).
        self.started |= improved & np.isfinite(self.best)
        waiting = improved | ~active
        if self.early_stopping:
            waiting |= ~self.started
        self.no_improvement = np.where(waiting, 0, self.no_improvement + 1)
        if self.early_stopping and np.any(better & active):
            self._save_best(better & active)
        self.best = np.where(better & active, value, self.best)
        for u in np.flatnonzero((self.no_improvement > est.n_iter_no_change) & active):
            self._trigger_stopping(u, optimizer)
        if self.eliminated is not None:
            self._race_step()
        return self.any_active()

    def _save_best(self, units):
        """Copy the parameters of the stopping ``units`` (a boolean mask) to the
        best weights, segment by segment (members interleave in the first
        layer, so a unit's parameters are not one slice)."""
        if self.n_units == 1:
            self.best_params[:] = self.params
            return
        K._copy_groups(
            self.best_params, self.params, self.plan.segments, units[self.unit_of_group]
        )

    def _trigger_stopping(self, u, optimizer):
        """Unit ``u`` stopped improving: it goes on if the optimizer's schedule
        lowers its learning rate ('adaptive'), else it is frozen."""
        est = self.est
        groups = self.unit_of_group == u
        if optimizer.stalled(groups):
            self.no_improvement[u] = 0
            return
        if est.verbose:
            what = "Validation score" if self.early_stopping else "Training loss"
            print(
                f"{what} did not improve more than tol={est.tol} for "
                f"{est.n_iter_no_change} consecutive epochs. Stopping."
            )
        self.frozen[groups] = True

    def _validation(self):
        est = self.est
        Xv, Yv, Yv_user, swv, scale = self.val
        # Groups frozen since before this epoch have the weights of the last
        # validation: their loss is carried from it.
        skip = None
        if self.skipping and self._carried_val is not None and self.scorer is None:
            skip = self._frozen_at_start
        val_loss = self._validation_loss(skip)
        if skip is not None:
            skipped = skip[self.group_of_label]
            val_loss = np.where(skipped, self._carried_val, val_loss)
        self._carried_val = val_loss
        # Reported: each member's summed loss on its own held-out rows, averaged
        # over members (``scale``). Stopping compares each unit's loss on its
        # own rows (``scale * n_members``: under cross-fitting, val_loss is
        # each fold's loss times the fold's share of the rows), so that ``tol``
        # is an improvement of that loss. (Comparing the raw sums made it k *
        # tol for k folds; measured on emotions, yeast, scene and medical: the
        # same epochs and models either way, the stops being set by the loss
        # rising, not by improvements of the order of tol.)
        self.validation_loss_curve.append(float((val_loss * scale).sum()))
        if self.scorer is not None:
            view = copy.copy(est)
            view._params = self.params
            score = float(self.scorer(view, Xv, Yv_user))
            value = np.array([-score])
        else:
            score = -float((val_loss * scale).sum())
            value = np.zeros(self.n_units)
            own_rows = val_loss * (np.asarray(scale) * self.layout.n_members)
            np.add.at(value, self.unit_of_label, own_rows)
        self.validation_scores.append(score)
        if est.verbose:
            print(f"Validation score: {score:f}")
        if self.early_stopping and score > self.best_validation_score:
            self.best_validation_score = score
        return value

    def finish(self):
        """End the fit: restore the best weights under early stopping, and
        return the :class:`FitRecord` the estimator takes over."""
        unit_best_loss = self.previous.unit_best_loss
        if self.early_stopping:
            self.params[:] = self.best_params
        elif not self.incremental:
            unit_best_loss = self.best.copy()
        if self.incremental:
            n_iter = self.previous.n_iter + self.n_epochs  # 0 if interrupted
        elif self.layout.per_label_groups:
            L = self.layout.n_labels
            n_iter = self.label_epochs.reshape(-1, L).max(axis=0)
        else:
            n_iter = self.n_epochs
        return FitRecord(
            loss_curve=self.loss_curve,
            loss=self.loss,
            best_loss=self.best_loss,
            validation_scores=self.validation_scores,
            validation_loss_curve=self.validation_loss_curve,
            best_validation_score=self.best_validation_score,
            n_iter=n_iter,
            unit_best_loss=unit_best_loss,
        )
