"""Study: racing the alpha candidates of the defaults (issue 13).

``alpha='auto'`` trains ``AUTO_ALPHAS`` (three candidates) times 5 folds: 15
members in one engine pass, each early-stopping on its own fold. This script
fits the defaults (``n_threads=1``) on MULAN train/test splits *without* racing
and records, every epoch, each member's validation loss on its own rows (the
monitor's stopping value) and which members are still training; then it
replays candidate-elimination rules on those curves:

* ``SH@a,b``: successive halving, the candidate with the highest pooled loss
  (fold-weighted mean of its members' best losses) dropped at epochs a and b;
* ``paired-stall``: a candidate worse than the leader on every fold, whose
  members each gained less than their gap over the last ``n_iter_no_change``
  epochs;
* ``pooled-stall``: the same on the pooled losses;
* ``bound``: the rule of ``_Monitor._race_step``: a lower bound on the final
  pooled loss (each active member goes on at its mean rate of the last
  ``n_iter_no_change`` epochs until ``max_iter``, floored at 0; a stopped one
  keeps its loss) above the leader's current pooled loss.

A member frozen by a rule stays frozen (its best weights kept) and the other
members train exactly as before (members are independent networks), so the
replay is exact: the chosen alpha is the best pooled loss among the candidates
left, and the member-epochs saved are the ones the eliminated members would
have trained. With ``--check`` the script also fits with racing (the package's
rule) and reports the chosen alpha, F1, member-epochs and fit time.

Run from the repository root::

    python benchmarks/study_alpha_racing.py --datasets emotions yeast scene \\
        medical --seeds 0 1 2 --check --output benchmarks/results/alpha_racing.md
"""

import argparse
import pickle
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_quality import load_split  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402

from skmultihead import MultiHeadMLPClassifier, _monitor  # noqa: E402
from skmultihead._compare_estimators import make_model  # noqa: E402
from skmultihead._crossfit import AUTO_ALPHAS, AUTO_FOLDS  # noqa: E402

K = MultiHeadMLPClassifier().n_iter_no_change
T = MultiHeadMLPClassifier().max_iter
A, F = len(AUTO_ALPHAS), AUTO_FOLDS


# ---------------------------------------------------------------------------
# Recording
# ---------------------------------------------------------------------------


class Recorder:
    """Wraps ``_Monitor`` to log every epoch's per-member stopping value and
    active mask; ``race=False`` disables the package's racing."""

    def __init__(self, race):
        self.race = race
        self.log = {"value": [], "active": [], "eliminated_at": None}

    def __enter__(self):
        cls = _monitor._Monitor
        self.saved = (cls.end_epoch, cls._validation, cls.race)
        end_epoch, validation, race = self.saved
        log = self.log

        def _validation(mon):
            value = validation(mon)
            mon._study_value = np.array(value, copy=True)
            return value

        def _end_epoch(mon, label_loss, group_l2, optimizer):
            active = mon.active_units().copy()
            out = end_epoch(mon, label_loss, group_l2, optimizer)
            if mon.early_stopping:
                log["value"].append(mon._study_value)
                log["active"].append(active)
                if mon.eliminated is not None:
                    at = log["eliminated_at"]
                    if at is None:
                        at = log["eliminated_at"] = np.full(mon.eliminated.size, -1)
                    at[(at < 0) & mon.eliminated] = len(log["value"])
            return out

        cls._validation = _validation
        cls.end_epoch = _end_epoch
        if not self.race:
            cls.race = lambda mon, candidates: None
        return self.log

    def __exit__(self, *exc):
        cls = _monitor._Monitor
        cls.end_epoch, cls._validation, cls.race = self.saved


def record(data, name, seed, race):
    """Fit the defaults on one dataset; the curves, choice and test scores."""
    X_train, Y_train, X_test, Y_test = data
    model = make_model(MultiHeadMLPClassifier(random_state=seed, n_threads=1), X_train)
    with Recorder(race) as log:
        start = time.perf_counter()
        model.fit(X_train, Y_train)
        fit_time = time.perf_counter() - start
    pred = model.predict(X_test)
    est = model[-1]
    return {
        "dataset": name,
        "seed": seed,
        "value": np.array(log["value"]),
        "active": np.array(log["active"]),
        "eliminated_at": log["eliminated_at"],
        "alpha_": est.alpha_,
        "alpha_losses_": np.array(est.alpha_losses_),
        "micro": f1_score(Y_test, pred, average="micro", zero_division=0),
        "macro": f1_score(Y_test, pred, average="macro", zero_division=0),
        "fit_time": fit_time,
    }


# ---------------------------------------------------------------------------
# Rules, replayed on the curves
# ---------------------------------------------------------------------------


def pooled(best):
    """Pooled held-out loss of each candidate (folds of equal weight: the
    stratified folds differ by at most one row)."""
    return best.reshape(A, F).mean(axis=1)


def rule_halving(checkpoints):
    def rule(t, hist, alive, active):
        out = np.zeros(A, dtype=bool)
        if t + 1 in checkpoints and alive.sum() > 1:
            out[int(np.argmax(np.where(alive, pooled(hist[t]), -np.inf)))] = True
        return out

    return rule


def _leader(best, alive):
    return int(np.argmin(np.where(alive, pooled(best), np.inf)))


def rule_paired_stall(t, hist, alive, active):
    out = np.zeros(A, dtype=bool)
    if t < K:
        return out
    b, past = hist[t].reshape(A, F), hist[t - K].reshape(A, F)
    lead = _leader(hist[t], alive)
    for a in np.flatnonzero(alive):
        gap = b[a] - b[lead]
        out[a] = a != lead and np.all(gap > 0) and np.all(past[a] - b[a] < gap)
    return out


def rule_pooled_stall(t, hist, alive, active):
    out = np.zeros(A, dtype=bool)
    if t < K:
        return out
    s, past = pooled(hist[t]), pooled(hist[t - K])
    lead = _leader(hist[t], alive)
    for a in np.flatnonzero(alive):
        out[a] = a != lead and past[a] - s[a] < s[a] - s[lead]
    return out


def lower_bound(t, hist, active, scale=1.0):
    """Each candidate's lower bound of ``_Monitor._race_step`` after epoch t."""
    rate = np.where(active, (hist[t - K] - hist[t]) / K, 0.0)
    return pooled(np.maximum(hist[t] - scale * rate * (T - t - 1), 0.0))


def rule_bound(t, hist, alive, active):
    out = np.zeros(A, dtype=bool)
    if t < K:
        return out
    lead = _leader(hist[t], alive)
    out[:] = alive & (lower_bound(t, hist, active) > pooled(hist[t])[lead])
    out[lead] = False
    return out


RULES = {
    "SH@10,20": rule_halving({10, 20}),
    "SH@20,40": rule_halving({20, 40}),
    "paired-stall": rule_paired_stall,
    "pooled-stall": rule_pooled_stall,
    "bound": rule_bound,
}


def replay(run, rule):
    """``(alpha full, alpha raced, member-epochs full, raced, epochs of the
    eliminations)`` of one rule on one recorded run."""
    hist = np.minimum.accumulate(run["value"], axis=0)
    active = run["active"]
    n = hist.shape[0]
    alive = np.ones(A, dtype=bool)
    at = np.full(A, -1)
    cost = 0
    for t in range(n):
        cost += int(np.sum(active[t] & np.repeat(alive, F)))
        after = active[t + 1] if t + 1 < n else np.zeros(A * F, dtype=bool)
        out = rule(t, hist, alive, after & np.repeat(alive, F)) & alive
        alive &= ~out
        at[out] = t + 1
    final = pooled(hist[-1])
    full = int(np.argmin(final))
    raced = int(np.argmin(np.where(alive, final, np.inf)))
    return AUTO_ALPHAS[full], AUTO_ALPHAS[raced], int(active.sum()), cost, at


def critical_scale(run):
    """Largest ``c`` for which the bound with rates times ``c`` would have
    eliminated the candidate chosen by full training (the rule uses c = 1)."""
    hist = np.minimum.accumulate(run["value"], axis=0)
    active = run["active"]
    n = hist.shape[0]
    w = int(np.argmin(pooled(hist[-1])))
    worst = 0.0
    for t in range(K, n):
        s = pooled(hist[t])
        lead = int(np.argmin(s))
        if lead == w:
            continue
        after = active[t + 1] if t + 1 < n else np.zeros(A * F, dtype=bool)
        drop = s[w] - lower_bound(t, hist, after)[w]  # allowance at c = 1
        worst = max(worst, (s[w] - s[lead]) / max(drop, 1e-300))
    return worst


def bound_violations(run):
    """How often the bound is above the candidate's actual final pooled loss
    (``(violations, candidate-epochs)``, full training)."""
    hist = np.minimum.accumulate(run["value"], axis=0)
    active = run["active"]
    n = hist.shape[0]
    final = pooled(hist[-1])
    bad = total = 0
    for t in range(K, n):
        after = active[t + 1] if t + 1 < n else np.zeros(A * F, dtype=bool)
        training = after.reshape(A, F).any(axis=1)
        total += int(training.sum())
        bad += int(np.sum(training & (final < lower_bound(t, hist, after) - 1e-12)))
    return bad, total


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def report(runs, checked):
    lines = ["## Rules replayed on the full-training curves", ""]
    lines.append(
        "Member-epochs saved (of the full fit's), the epochs at which candidates "
        "are eliminated (alpha@epoch), and **full -> raced** where the chosen "
        "alpha changes."
    )
    lines.append("")
    names = [f"{r['dataset']}-{r['seed']}" for r in runs]
    lines.append("| rule | " + " | ".join(names) + " | same alpha | saved (all runs) |")
    lines.append("|" + "---|" * (len(runs) + 3))
    for rule_name, rule in RULES.items():
        cells, same, saved, total = [], 0, 0, 0
        for run in runs:
            full, raced, n_full, n_raced, at = replay(run, rule)
            same += full == raced
            saved += n_full - n_raced
            total += n_full
            where = ", ".join(
                f"{AUTO_ALPHAS[a]:g}@{e}" for a, e in enumerate(at) if e >= 0
            )
            cell = f"{100 * (n_full - n_raced) / n_full:.0f}% ({where or '-'})"
            if full != raced:
                cell += f" **{full:g} -> {raced:g}**"
            cells.append(cell)
        lines.append(
            f"| {rule_name} | "
            + " | ".join(cells)
            + f" | {same}/{len(runs)} | {100 * saved / total:.0f}% |"
        )
    lines += ["", "## The bound rule: margin and validity", ""]
    lines.append(
        "*c\\**: the bound with every rate multiplied by c eliminates the alpha of "
        "full training iff c < c\\* (the rule uses c = 1; 0: that alpha led at every "
        "epoch from n_iter_no_change on). *violated*: candidate-epochs at which "
        "the bound exceeded the candidate's actual final pooled loss."
    )
    lines.append("")
    lines.append("| run | alpha (full) | member-epochs (full) | c\\* | violated |")
    lines.append("|---|---|---|---|---|")
    for run in runs:
        bad, total = bound_violations(run)
        lines.append(
            f"| {run['dataset']}-{run['seed']} | {run['alpha_']:g} | "
            f"{int(run['active'].sum())} | {critical_scale(run):.3g} | "
            f"{bad}/{total} |"
        )
    if checked:
        lines += ["", "## Fitted with racing (the package's rule) vs without", ""]
        lines.append(
            "Fit times: one thread, on a machine shared with another job "
            "(indicative); member-epochs are exact."
        )
        lines.append("")
        lines.append(
            "| run | alpha full / raced | eliminated (alpha@epoch) | member-epochs "
            "full / raced | micro-F1 full / raced | macro-F1 full / raced | "
            "fit s full / raced |"
        )
        lines.append("|---|---|---|---|---|---|---|")
        for run, raced in zip(runs, checked):
            at = raced["eliminated_at"]
            where = ", ".join(
                f"{AUTO_ALPHAS[a]:g}@{e}" for a, e in enumerate(at) if e >= 0
            )
            lines.append(
                f"| {run['dataset']}-{run['seed']} | {run['alpha_']:g} / "
                f"{raced['alpha_']:g} | {where or '-'} | "
                f"{int(run['active'].sum())} / {int(raced['active'].sum())} | "
                f"{run['micro']:.4f} / {raced['micro']:.4f} | "
                f"{run['macro']:.4f} / {raced['macro']:.4f} | "
                f"{run['fit_time']:.1f} / {raced['fit_time']:.1f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["emotions", "yeast"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument(
        "--data-dir", type=Path, default=ROOT.parent / "shared" / "datasets"
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path("/tmp/alpha_racing"),
        help="directory of the recorded curves (reused when present)",
    )
    parser.add_argument("--check", action="store_true", help="also fit with racing")
    parser.add_argument("--output", type=Path, help="Markdown report (else stdout)")
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    runs, checked = [], []
    for name in args.datasets:
        X_train, Y_train, X_test, Y_test, _ = load_split(args.data_dir, name)
        data = (X_train, Y_train, X_test, Y_test)
        for seed in args.seeds:
            kinds = ("full", "raced") if args.check else ("full",)
            for kind in kinds:
                path = args.cache / f"{name}-{seed}-{kind}.pkl"
                if path.exists():
                    with open(path, "rb") as fh:
                        run = pickle.load(fh)
                else:
                    run = record(data, name, seed, race=kind == "raced")
                    with open(path, "wb") as fh:
                        pickle.dump(run, fh)
                    print(
                        f"{name} seed {seed} {kind}: alpha {run['alpha_']:g}, "
                        f"{run['value'].shape[0]} epochs, {run['fit_time']:.1f} s",
                        flush=True,
                    )
                (runs if kind == "full" else checked).append(run)
    text = report(runs, checked)
    if args.output:
        args.output.write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
