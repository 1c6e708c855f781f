"""The classifier's decision rule: which threshold on P(fails within 30 cycles) raises a maintenance alert.

Two rules, both chosen on the out-of-fold predictions of the train units (never on test):

* `max_f1`: the threshold maximising F1 (`ml.evaluation.choose_threshold`);
* `min_cost`: the threshold minimising the expected cost of the decisions, where a missed failure (a unit that
  fails within 30 cycles with no alert) costs `missed_failure` and an unneeded maintenance (an alert on a unit
  that does not) costs `unneeded_maintenance`. Expected cost = (missed x FN + unneeded x FP) / decisions.

Whatever the rule, the expected cost at the chosen threshold is computed with the same costs, so two rules (or
two models) can be compared in the same unit.

The RUL regressor's late margin, also chosen on out-of-fold predictions of the train units: a number of cycles
subtracted from every predicted RUL (`choose_rul_margin`). Rule `min_phm08` takes the margin with the lowest
PHM08 score (late predictions cost exp(d/10), early ones exp(-d/13)) over the rows where a test series could
stop (`ml.evaluation.truncation_points`' window); rule `none` keeps the predictions as they are.
Pure functions: nothing here reads files or talks to MLflow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.evaluation import MIN_OBSERVED_CYCLES, TEST_RUL_RANGE, choose_threshold, phm08_score

THRESHOLD_RULES = ("max_f1", "min_cost")
RUL_MARGIN_RULES = ("min_phm08", "none")
# Margins tried by `min_phm08`, in cycles: 0 to 10 in quarter cycles.
RUL_MARGINS = tuple(np.arange(0.0, 10.0 + 1e-9, 0.25).tolist())


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


@dataclass(frozen=True)
class RulMargin:
    """Cycles subtracted from every predicted RUL, the rule that chose it, and the PHM08 score it was chosen on."""

    margin: float
    rule: str  # one of RUL_MARGIN_RULES
    method: str  # a sentence for humans and MLflow
    phm08_before: float  # mean PHM08 score per row of the out-of-fold predictions, margin 0
    phm08_after: float  # the same with the margin
    rows: int  # rows of the window it was chosen on


def truncation_window(units: Sequence[str], cycles: Sequence[int]) -> np.ndarray:
    """Rows of run-to-failure units where a test series could stop (as `ml.evaluation.truncation_points`):
    remaining life `last cycle - cycle` within TEST_RUL_RANGE and at least MIN_OBSERVED_CYCLES cycles seen.

    Every row of a unit must be present (whole units), since its last row is taken as its failure.
    """
    frame = pd.DataFrame({"unit": np.asarray(units), "cycle": np.asarray(cycles, dtype=float)})
    by_unit = frame.groupby("unit", sort=False)["cycle"]
    remaining = by_unit.transform("max") - frame["cycle"]
    observed = frame["cycle"] - by_unit.transform("min") + 1
    low, high = TEST_RUL_RANGE
    return ((remaining >= low) & (remaining <= high) & (observed >= MIN_OBSERVED_CYCLES)).to_numpy()


def choose_rul_margin(
    y_true: Sequence[float],
    predicted: Sequence[float],
    units: Sequence[str],
    cycles: Sequence[int],
    rule: str,
    margins: Sequence[float] = RUL_MARGINS,
) -> RulMargin:
    """The margin `rule` picks on out-of-fold RUL predictions of whole train units (`y_true` the capped RUL).

    `min_phm08`: among `margins`, the one with the lowest PHM08 score of `max(predicted - margin, 0)` over
    `truncation_window`; ties go to the smallest margin. No such row: margin 0, said in `method`.
    """
    if rule not in RUL_MARGIN_RULES:
        raise ValueError(f"unknown RUL margin rule {rule!r}: one of {', '.join(RUL_MARGIN_RULES)}")
    true = np.asarray(y_true, dtype=float)
    prediction = np.asarray(predicted, dtype=float)
    window = truncation_window(units, cycles) & np.isfinite(prediction)
    rows = int(window.sum())
    if not rows:
        return RulMargin(0.0, rule, "no out-of-fold row where a test series could stop: no margin", np.nan, np.nan, 0)
    true, prediction = true[window], prediction[window]
    before = phm08_score(true, prediction) / rows
    if rule == "none":
        return RulMargin(0.0, rule, "no margin (rule none)", before, before, rows)
    scores = [phm08_score(true, np.clip(prediction - margin, 0.0, None)) / rows for margin in margins]
    best = int(np.argmin(scores))  # first minimum: the smallest margin
    low, high = TEST_RUL_RANGE
    method = (
        f"min PHM08 over out-of-fold predictions at {rows} rows with RUL {low}-{high} and "
        f">= {MIN_OBSERVED_CYCLES} cycles seen"
    )
    return RulMargin(float(margins[best]), rule, method, float(before), float(scores[best]), rows)
