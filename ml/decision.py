"""The classifier's decision rule: which threshold on P(fails within 30 cycles) raises a maintenance alert.

Two rules, both chosen on the out-of-fold predictions of the train units (never on test):

* `max_f1`: the threshold maximising F1 (`ml.evaluation.choose_threshold`);
* `min_cost`: the threshold minimising the expected cost of the decisions, where a missed failure (a unit that
  fails within 30 cycles with no alert) costs `missed_failure` and an unneeded maintenance (an alert on a unit
  that does not) costs `unneeded_maintenance`. Expected cost = (missed x FN + unneeded x FP) / decisions.

Whatever the rule, the expected cost at the chosen threshold is computed with the same costs, so two rules (or
two models) can be compared in the same unit. Pure functions: nothing here reads files or talks to MLflow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ml.evaluation import choose_threshold

THRESHOLD_RULES = ("max_f1", "min_cost")


@dataclass(frozen=True)
class DecisionCosts:
    """What one wrong decision costs, in any one currency (only their ratio moves the min-cost threshold)."""

    missed_failure: float = 10.0
    unneeded_maintenance: float = 1.0

    def __post_init__(self) -> None:
        for name in ("missed_failure", "unneeded_maintenance"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"the cost of a {name.replace('_', ' ')} must be a finite number >= 0, got {value}")


@dataclass(frozen=True)
class DecisionRule:
    """A threshold, the rule that chose it, and how its decisions score on the rows it was chosen on."""

    threshold: float
    rule: str  # one of THRESHOLD_RULES, or "default" (one class only)
    method: str  # a sentence for humans and MLflow
    f1: float
    precision: float
    recall: float
    expected_cost: float  # per decision, with `costs`
    n: int
    positives: int


def decision_counts(y_true: Sequence[int], scores: Sequence[float], threshold: float) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) of alerting when `score >= threshold`."""
    true = np.asarray(y_true).astype(bool)
    alert = np.asarray(scores, dtype=float) >= threshold
    tp = int(np.sum(alert & true))
    fp = int(np.sum(alert & ~true))
    fn = int(np.sum(~alert & true))
    return tp, fp, fn, int(true.size) - tp - fp - fn


def decision_cost(y_true: Sequence[int], scores: Sequence[float], threshold: float, costs: DecisionCosts) -> float:
    """Total cost of alerting when `score >= threshold`: missed x FN + unneeded x FP."""
    _, fp, fn, _ = decision_counts(y_true, scores, threshold)
    return costs.missed_failure * fn + costs.unneeded_maintenance * fp


def expected_cost(y_true: Sequence[int], scores: Sequence[float], threshold: float, costs: DecisionCosts) -> float:
    """Cost per decision of alerting when `score >= threshold` (NaN on no rows)."""
    n = len(y_true)
    return decision_cost(y_true, scores, threshold, costs) / n if n else math.nan


def min_cost_threshold(y_true: Sequence[int], scores: Sequence[float], costs: DecisionCosts) -> float:
    """The threshold with the lowest total cost over every reachable cut, "never alert" included.

    Cuts are the distinct scores (alert on `score >= cut`), plus one just above the highest score (no alert).
    Ties go to the lowest threshold (more recall), as in `choose_threshold`. Vectorised: one sort, two cumsums.
    """
    true = np.asarray(y_true).astype(bool)
    score = np.asarray(scores, dtype=float)
    if true.shape != score.shape:
        raise ValueError(f"y_true and scores differ in shape: {true.shape} vs {score.shape}")
    if score.size == 0:
        raise ValueError("a threshold needs at least one scored row")
    order = np.argsort(-score, kind="mergesort")
    sorted_score, sorted_true = score[order], true[order]
    tp = np.cumsum(sorted_true)
    fp = np.cumsum(~sorted_true)
    last_of_run = np.r_[sorted_score[1:] != sorted_score[:-1], True]
    cuts = np.r_[np.nextafter(sorted_score[0], np.inf), sorted_score[last_of_run]]
    fn = int(true.sum()) - np.r_[0, tp[last_of_run]]
    cost = costs.missed_failure * fn + costs.unneeded_maintenance * np.r_[0, fp[last_of_run]]
    best = int(np.flatnonzero(cost == cost.min())[-1])  # cuts run from high to low: last = lowest threshold
    return float(cuts[best])


def choose_decision_rule(
    y_true: Sequence[int], scores: Sequence[float], rule: str, costs: DecisionCosts, default: float = 0.5
) -> DecisionRule:
    """The threshold `rule` picks on (`y_true`, `scores`), with its F1, precision, recall and expected cost."""
    if rule not in THRESHOLD_RULES:
        raise ValueError(f"unknown threshold rule {rule!r}: one of {', '.join(THRESHOLD_RULES)}")
    true = np.asarray(y_true).astype(int)
    score = np.asarray(scores, dtype=float)
    f1_choice = choose_threshold(true, score, default)
    positives = int(true.sum())
    if positives in (0, true.size):
        threshold, rule, method = default, "default", f1_choice.method
    elif rule == "max_f1":
        threshold, method = f1_choice.threshold, f1_choice.method
    else:
        threshold = min_cost_threshold(true, score, costs)
        method = (
            f"min expected cost over out-of-fold predictions (missed failure {costs.missed_failure:g}, "
            f"unneeded maintenance {costs.unneeded_maintenance:g})"
        )
    tp, fp, fn, _ = decision_counts(true, score, threshold)
    precision = tp / (tp + fp) if tp + fp else math.nan
    recall = tp / positives if positives else math.nan
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else math.nan
    return DecisionRule(
        threshold=float(threshold),
        rule=rule,
        method=method,
        f1=float(f1),
        precision=float(precision),
        recall=float(recall),
        expected_cost=expected_cost(true, score, threshold, costs),
        n=int(true.size),
        positives=positives,
    )
