"""Convergence, early stopping and learning curves of one fit.

Used by :class:`skmultihead._base.BaseMultiLabelMLP`; kept apart so that the
estimator module holds the API and the training driver, and this one the
per-epoch bookkeeping.
"""

import copy

import numpy as np
from sklearn.metrics import check_scoring

from ._engine import predict_raw

# Training has diverged when an epoch's loss exceeds this many times the loss of
# the starting weights (or of predicting 1/2 for every label, if larger).
DIVERGENCE_FACTOR = 1e6


def _bce_per_label(logits, Y, sample_weight):
    """Sample-weighted mean BCE of each label from logits; NaN labels skipped.

    Returns an array of shape (n_labels,). Computed from the logits as
    ``max(z, 0) - z * y + log1p(exp(-|z|))``, so it never takes the log of a
    rounded probability.
    """
    Z = logits.astype(np.float64, copy=False)
    observed = ~np.isnan(Y)
    Yz = np.where(observed, Y, 0.0)
    loss = np.maximum(Z, 0.0) - Z * Yz + np.log1p(np.exp(-np.abs(Z)))
    loss = np.where(observed, loss, 0.0)
    return sample_weight @ loss / sample_weight.sum()


class _Monitor:
    """Convergence, early stopping and learning curves of one fit.

    Losses are tracked per *stopping unit*: one unit for a shared network and
    for early stopping, one unit per label for binary relevance otherwise. A unit that
    stops is frozen (its parameters are no longer updated) while the others go
    on. All quantities are "lower is better" (scores are negated).
    """

    def __init__(self, est, layout, params, val, incremental):
        self.est = est
        self.layout = layout
        self.plan = plan = layout.plan
        self.params = params
        self.val = val
        self.incremental = incremental
        self.early_stopping = (
            est._early_stopping and val is not None and not incremental
        )
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
        previous = getattr(est, "_unit_best_loss", None)
        if (
            not self.early_stopping
            and previous is not None
            and previous.shape == self.best.shape
        ):
            self.best[:] = previous
        self.n_epochs = 0
        self.reference_loss = np.inf
        self.best_params = params.copy() if self.early_stopping else None
        self._unit_of_param = None

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

    def end_epoch(self, label_loss, group_l2, group_lr):
        """Record one epoch; return False when every unit has stopped."""
        est = self.est
        loss = float(label_loss.sum() + group_l2.sum())
        limit = DIVERGENCE_FACTOR * self.reference_loss
        if not np.isfinite(loss) or loss > limit:
            raise ValueError(
                f"The training loss became {loss:.6g} at epoch "
                f"{len(est.loss_curve_) + 1} (it started at "
                f"{self.reference_loss:.6g}): training diverged. The learning rate "
                f"is probably too large (learning rate {np.max(group_lr):g}; "
                "partial_fit keeps the one it started with), or X has very large "
                "values (scale it), or alpha is large relative to a batch's total "
                "sample_weight. The previous model, if any, is unchanged."
            )
        active = self.active_units()
        self.label_epochs += ~self.frozen[self.group_of_label]
        self.n_epochs += 1
        est.loss_curve_.append(loss)
        est.loss_ = loss
        if est.verbose:
            print(f"Iteration {len(est.loss_curve_)}, loss = {loss:.8f}")
        value = self._per_unit(label_loss, group_l2)
        if est.best_loss_ is not None:
            est.best_loss_ = min(est.best_loss_, loss)
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
            self._trigger_stopping(u, group_lr)
        return self.any_active()

    def _save_best(self, units):
        """Copy the parameters of the stopping ``units`` (a boolean mask) to the
        best weights: one masked pass over the buffer (members interleave in the
        first layer, so a unit's parameters are not one slice)."""
        if self.n_units == 1:
            self.best_params[:] = self.params
            return
        if self._unit_of_param is None:
            self._unit_of_param = self.unit_of_group[self.plan.owner]
        np.copyto(self.best_params, self.params, where=units[self._unit_of_param])

    def _trigger_stopping(self, u, group_lr):
        est = self.est
        groups = self.unit_of_group == u
        if est.solver == "sgd" and est.learning_rate == "adaptive":
            if group_lr[groups][0] > 1e-6:
                group_lr[groups] /= 5.0
                self.no_improvement[u] = 0
                if est.verbose:
                    print(f"Setting learning rate to {group_lr[groups][0]:f}")
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
        logits = predict_raw(
            Xv, self.params, self.plan, est._act_code, False, est.n_threads
        )
        val_loss = _bce_per_label(logits, Yv, swv)
        # Reported: each member's summed loss on its own held-out rows, averaged
        # over members (``scale``). Stopping compares the raw per-unit sums,
        # which under cross-fitting are each fold's loss times the fold's share
        # of the rows (1/k): ``tol`` then acts as k * tol on the fold's own loss
        # (the defaults were measured with this behaviour).
        est.validation_loss_curve_.append(float((val_loss * scale).sum()))
        if self.scorer is not None:
            view = copy.copy(est)
            view._params = self.params
            score = float(self.scorer(view, Xv, Yv_user))
            value = np.array([-score])
        else:
            score = -float((val_loss * scale).sum())
            value = np.zeros(self.n_units)
            np.add.at(value, self.unit_of_label, val_loss)
        est.validation_scores_.append(score)
        if est.verbose:
            print(f"Validation score: {score:f}")
        if self.early_stopping and score > est.best_validation_score_:
            est.best_validation_score_ = score
        return value

    def finish(self):
        est = self.est
        if self.early_stopping:
            self.params[:] = self.best_params
        elif not self.incremental:
            est._unit_best_loss = self.best.copy()
        if self.incremental:
            est.n_iter_ = est.n_iter_ + self.n_epochs  # 0 if interrupted
        elif self.layout.per_label_groups:
            L = self.layout.n_labels
            est.n_iter_ = self.label_epochs.reshape(-1, L).max(axis=0)
        else:
            est.n_iter_ = self.n_epochs
