"""Members, cross-fitting and held-out choices: how a fit resolves its 'auto'
options, lays out its members (alpha candidate, fold, seed), masks each fold's
rows, and picks ``alpha`` and the thresholds on held-out probabilities.

A mixin of :class:`skmultihead._base.BaseMultiLabelMLP`.
"""

import numbers

import numpy as np
from scipy import sparse

from ._thresholds import tune_thresholds
from .metrics import multilabel_log_loss

# What the 'auto' options resolve to (see CrossFitMixin._resolve_options and the
# measurements in the user guide, "What the defaults do").
AUTO_FOLDS = 5
AUTO_MIN_SAMPLES = 100  # fewer rows: no cross-fitting (folds of < 20 rows)
AUTO_ALPHAS = (1e-3, 1e-1, 10.0)
AUTO_THRESHOLD = "f1_shrunk"
PLAIN_ALPHA = 1e-4  # alpha='auto' without held-out data (MLPClassifier's)


class CrossFitMixin:
    """'auto' options, members and folds, held-out choices of alpha and
    thresholds."""

    def _resolve_options(self, n_samples, has_x_val, incremental, reuse, binary_1d):
        """Resolve the 'auto' options of this fit (``_cv_option``,
        ``_early_stopping``, ``_threshold_option``, ``_alpha_option``).

        ``cv='auto'`` cross-fits ``AUTO_FOLDS`` folds when ``fit`` gets at least
        ``AUTO_MIN_SAMPLES`` rows and no ``X_val`` (and no ``scoring``, which is
        evaluated on one validation split); ``early_stopping='auto'`` stops on
        held-out data whenever the fit has some (cross-fitting or ``X_val``) or a
        ``scoring`` is set; ``threshold='auto'`` tunes ``AUTO_THRESHOLD`` thresholds
        on held-out data when there is some (else keeps 0.5) for an indicator Y, and
        is 0.5 for a 1-D binary y (the accuracy-optimal cut of calibrated
        probabilities, as every scikit-learn classifier); ``alpha='auto'`` chooses
        among ``AUTO_ALPHAS`` on held-out data when there is some (else
        ``PLAIN_ALPHA``). ``partial_fit`` never holds data out.
        """
        cv = self.cv
        scored = self.scoring is not None and self.early_stopping is not False
        if isinstance(cv, str):
            # A scorer is evaluated on one validation set: no cross-fitting.
            auto = not incremental and not has_x_val and not scored
            cv = AUTO_FOLDS if auto and n_samples >= AUTO_MIN_SAMPLES else None
        if incremental or has_x_val:
            cv = None
        held_out = cv is not None or (has_x_val and not incremental)
        es = self.early_stopping
        self._cv_option = cv
        # An int is the number of folds; a splitter or iterable tells it when
        # _fold_assignment runs it (before the members are laid out).
        self._cv_n_folds = int(cv) if isinstance(cv, numbers.Integral) else None
        if isinstance(es, str):
            es = held_out or (scored and not incremental)
        self._early_stopping = bool(es)
        threshold = self.threshold
        if isinstance(threshold, str) and threshold == "auto" and binary_1d:
            threshold = 0.5
        self._threshold_option = threshold
        alpha = self.alpha
        if isinstance(alpha, str):
            has_validation = held_out or (self._uses_validation() and not incremental)
            alpha = AUTO_ALPHAS if has_validation else PLAIN_ALPHA
            if reuse and has_validation and "alpha_" in self.__dict__:
                alpha = self.alpha_
        self._alpha_option = alpha

    def _alpha_candidates(self, reuse, incremental, has_validation):
        """The L2 strengths this fit trains: ``alpha`` itself, or its candidate
        values (each trained by its own members, the best one kept; a
        warm-started fit or ``partial_fit`` keeps the chosen ``alpha_``)."""
        alpha = self._alpha_option
        alphas = np.asarray(alpha, dtype=np.float64).ravel()
        if np.ndim(alpha) > 1 or alphas.size == 0:
            raise ValueError(
                f"alpha must be a non-negative number or a 1-D list of them, got "
                f"{self.alpha!r}."
            )
        if not np.all(np.isfinite(alphas) & (alphas >= 0)):
            raise ValueError(f"alpha values must be finite and >= 0, got {alphas}.")
        if alphas.size == 1:
            return alphas
        if reuse:
            return np.array([self.alpha_])
        if incremental:
            raise ValueError(
                "partial_fit needs a single alpha: several values are chosen on "
                "validation data, which partial_fit does not hold out."
            )
        if not (has_validation or self._uses_validation()):
            raise ValueError(
                "Several alpha values are chosen on held-out data: set cv (or "
                "early_stopping=True, or a string threshold), or pass X_val/Y_val."
            )
        return alphas

    def _n_folds(self):
        """Number of cross-fitting folds of this fit (None without)."""
        return self._cv_n_folds

    def _fold_assignment(self, X, Y, sample_weight):
        """Cross-fitting fold of every training row: multilabel-stratified folds
        for an int ``cv`` (drawn with the estimator's random stream), else the
        test folds of the given splitter or splits, run once here (they must
        cover every row exactly once; a generator is consumed)."""
        n_samples = Y.shape[0]
        cv = self._cv_option
        if isinstance(cv, numbers.Integral):
            from .model_selection import (
                _check_stratification_target,
                _iterative_stratification,
            )

            n_folds = int(cv)
            if n_samples < n_folds:
                raise ValueError(
                    f"cv={n_folds} folds need at least {n_folds} samples, got "
                    f"{n_samples}."
                )
            base, extra = divmod(n_samples, n_folds)
            capacities = [base + 1] * extra + [base] * (n_folds - extra)
            folds = _iterative_stratification(
                _check_stratification_target(Y), capacities, self._random_state
            )
        else:
            splits = cv.split(X, Y) if hasattr(cv, "split") else cv
            folds = np.full(n_samples, -1, dtype=np.int64)
            n_folds = 0
            for _, test in splits:
                test = np.asarray(test)
                if test.dtype == bool:
                    test = np.flatnonzero(test)
                if test.size and (test.min() < 0 or test.max() >= n_samples):
                    raise ValueError("cv gave test indices outside the training rows.")
                if np.any(folds[test] >= 0):
                    raise ValueError(
                        "The test folds of cv must not overlap: cross-fitting needs "
                        "every training row in exactly one test fold."
                    )
                folds[test] = n_folds
                n_folds += 1
            if n_folds < 2 or np.any(folds < 0):
                raise ValueError(
                    "The test folds of cv must cover every training row exactly "
                    f"once, in at least 2 folds (got {n_folds} folds covering "
                    f"{int(np.sum(folds >= 0))} of {n_samples} rows)."
                )
            self._cv_n_folds = n_folds
        fold_weight = np.bincount(folds, weights=sample_weight, minlength=n_folds)
        if not np.all(fold_weight > 0):
            raise ValueError(
                f"A cross-fitting fold (of {n_folds}) has zero total sample_weight; "
                "use fewer folds or give more rows positive weights."
            )
        return folds

    # Members are ordered (alpha candidate, fold, seed): member m has seed
    # m % n_members, fold (m // n_members) % n_folds and alpha candidate
    # m // (n_members * n_folds) (n_folds = 1 without cross-fitting).

    def _member_fold(self, m):
        return (m // self.n_members) % self._n_folds()

    def _member_alpha(self, m, n_alphas):
        return m // (self._n_members() // n_alphas)

    def _member_targets(self, Y, folds, held_out):
        """Targets of every member, shape ``(n, n_members * n_labels)``.

        Without folds, every member learns ``Y``. With folds, member ``m``
        belongs to fold :meth:`_member_fold`: for training
        (``held_out=False``) its targets on its own fold's rows are missing
        (NaN: no loss, no gradient); for validation (``held_out=True``) only
        those rows are observed.
        """
        M = self._n_members()
        if M == 1 and folds is None:
            return Y
        Y_members = np.tile(Y, (1, M))
        if folds is not None:
            L = Y.shape[1]
            for m in range(M):
                in_fold = folds == self._member_fold(m)
                masked = ~in_fold if held_out else in_fold
                Y_members[masked, m * L : (m + 1) * L] = np.nan
        return Y_members

    def _uses_validation(self):
        """Whether this fit holds out a validation split when it does not
        cross-fit: early stopping, or an explicit threshold strategy."""
        explicit = self._tunes_threshold() and self._threshold_option != "auto"
        return self._early_stopping or explicit

    def _tunes_threshold(self):
        return isinstance(self._threshold_option, str)

    def _validation_data(self, X, Y, Y_user, sample_weight, X_val, Y_val):
        """Split off (or validate) the validation set; returns the train part too."""
        if (X_val is None) != (Y_val is None):
            raise ValueError("X_val and Y_val must be given together.")
        if X_val is not None:
            try:
                Xv = self._validate_X(X_val, reset=False, dtype=X.dtype)
                Yv, _, _ = self._validate_targets(Y_val, Xv.shape[0], first=False)
            except (ValueError, TypeError) as exc:
                kind = ValueError if isinstance(exc, ValueError) else TypeError
                raise kind(f"Invalid validation set (X_val, Y_val): {exc}") from exc
            val = (Xv, Yv, Y_val, np.ones(Xv.shape[0]))
            return X, Y, Y_user, sample_weight, val
        if not self._uses_validation():
            return X, Y, Y_user, sample_weight, None
        from .model_selection import iterative_train_test_split

        if X.shape[0] < 2:
            raise ValueError(
                "early_stopping and threshold='f1' need at least 2 samples to "
                f"hold out a validation set, got {X.shape[0]}."
            )
        train, test = iterative_train_test_split(
            Y, test_size=self.validation_fraction, random_state=self._random_state
        )
        Y_user = np.asarray(Y_user) if not sparse.issparse(Y_user) else Y_user
        if not sample_weight[test].sum() > 0:
            raise ValueError(
                "The validation split (validation_fraction="
                f"{self.validation_fraction}) has zero total sample_weight, so "
                "early stopping and threshold tuning cannot use it; pass X_val and "
                "Y_val, or give the held-out rows positive weights."
            )
        val = (X[test], Y[test], Y_user[test], sample_weight[test])
        return X[train], Y[train], Y_user[train], sample_weight[train], val

    def _member_validation(self, X, Y, sample_weight, folds, val):
        """The monitor's validation set ``(X, member targets, Y as given,
        sample_weight, scale)``, or None: under cross-fitting every member is
        validated on the fold it never trains on (its targets NaN elsewhere);
        otherwise every member on the validation set ``val``. ``scale`` makes
        the reported validation loss each member's loss on its own rows,
        averaged over members."""
        M = self._n_members()
        if folds is not None and self._uses_validation():
            fold_weight = np.bincount(
                folds, weights=sample_weight, minlength=self._n_folds()
            )
            member_fold = self._member_fold(np.arange(M))
            scale = np.repeat(
                sample_weight.sum() / fold_weight[member_fold] / M, Y.shape[1]
            )
            held_out = self._member_targets(Y, folds, held_out=True)
            return X, held_out, None, sample_weight, scale
        if val is None:
            return None
        Xv, Yv, Yv_user, swv = val
        return Xv, self._member_targets(Yv, None, True), Yv_user, swv, 1.0 / M

    def _choose_alpha_and_thresholds(
        self, X, Y, sample_weight, folds, val, alphas, eliminated=None
    ):
        """After training: keep the members of the alpha candidate (of
        ``alphas``) with the lowest held-out log-loss (``alpha_``,
        ``alpha_losses_``), then tune the thresholds on the held-out
        probabilities of the members kept (:meth:`_held_out_proba`).

        The candidates in ``eliminated`` (a boolean mask, or None) were stopped
        by the race of the training loop (``_Monitor.race``): their losses are
        those of their weights when eliminated, and they are not chosen."""
        n_alphas = len(alphas)
        held_out = None
        if self._tunes_threshold() or n_alphas > 1:
            held_out = self._held_out_proba(X, Y, sample_weight, folds, val, n_alphas)
        if n_alphas > 1:
            P, Y_held, sw_held = held_out
            # The held-out loss of each candidate (P float64: eps as log_loss's).
            losses = np.array(
                [
                    multilabel_log_loss(
                        Y_held, Pa.astype(np.float64), sample_weight=sw_held
                    )
                    for Pa in P
                ]
            )
            left = losses
            if eliminated is not None:
                left = np.where(eliminated, np.inf, losses)
            best = int(np.argmin(left))
            self.alpha_losses_ = losses
            self.alpha_ = float(alphas[best])
            members = np.arange(self._n_members())
            self._keep_members(
                np.flatnonzero(self._member_alpha(members, n_alphas) == best)
            )
            held_out = (P[best : best + 1], Y_held, sw_held)
        if self._tunes_threshold() and held_out is not None:
            self.threshold_ = tune_thresholds(
                held_out[0][0], held_out[1], self._threshold_strategy()
            )

    def _held_out_proba(self, X, Y, sample_weight, folds, val, n_alphas):
        """``(P, Y, sample_weight)`` of held-out rows, ``P`` of shape
        ``(n_alphas, n_rows, n_labels)``: the out-of-fold probabilities of every
        training row under cross-fitting (each fold's members predict the fold
        they never trained on), else the member-averaged probabilities of the
        validation set; None without either."""
        L = Y.shape[1]
        if folds is not None:
            P = self._raw(X, sigmoid=True)
            n = P.shape[0]
            P = P.reshape(n, n_alphas, self._n_folds(), -1, L).mean(axis=3)
            P = P[np.arange(n), :, folds].transpose(1, 0, 2)
            return P, Y, sample_weight
        if val is None:
            return None
        P = self._raw(val[0], sigmoid=True)
        n = P.shape[0]
        P = P.reshape(n, n_alphas, -1, L).mean(axis=2).transpose(1, 0, 2)
        return P, val[1][:, :L], val[3]

    def _keep_members(self, members):
        """Keep only ``members`` (their parameters, optimizer state and groups)."""
        old = self._layout
        layers, n_labels, per_label, _ = self._layout_spec
        self._layout_spec = (layers, n_labels, per_label, int(members.size))
        index = old.member_parameters(members, self._layout)
        self._params = self._params[index]
        self._opt_state = self._opt_state[:, index]
        G = old.groups_per_member
        groups = (members[:, None] * G + np.arange(G)[None, :]).ravel()
        self._group_lr = self._group_lr[groups]
        best = self._unit_best_loss
        if best is not None:
            # Per-unit best training losses: one per group or one per member.
            if best.size == old.plan.n_groups:
                self._unit_best_loss = best[groups]
            elif best.size == old.n_members:
                self._unit_best_loss = best[members]
            else:
                self._unit_best_loss = None
        self.n_members_ = int(members.size)

    def _threshold_strategy(self):
        option = self._threshold_option
        return AUTO_THRESHOLD if option == "auto" else option
