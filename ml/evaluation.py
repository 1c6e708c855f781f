"""Pure evaluation helpers: the PHM08 score, RMSE, last-cycle selection, threshold choice, grouped folds,
where NASA's test series stop (truncation points, every stopping row).

Nothing here reads files or talks to MLflow, so every function can be tested against hand-computed values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, f1_score, precision_score, recall_score, roc_auc_score

# PHM08 challenge constants: late predictions (d > 0) are penalised harder than early ones.
PHM08_EARLY = 13.0
PHM08_LATE = 10.0


def _as_float_arrays(y_true: Sequence[float], y_pred: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    true = np.asarray(y_true, dtype=float)
    pred = np.asarray(y_pred, dtype=float)
    if true.shape != pred.shape:
        raise ValueError(f"y_true and y_pred differ in shape: {true.shape} vs {pred.shape}")
    return true, pred


def _weights(sample_weight: Sequence[float] | None, size: int) -> np.ndarray:
    """`sample_weight` as an array of `size` non-negative floats (ones when None)."""
    if sample_weight is None:
        return np.ones(size)
    weight = np.asarray(sample_weight, dtype=float)
    if weight.shape != (size,) or (weight < 0).any() or not np.isfinite(weight).all():
        raise ValueError(f"sample_weight must be {size} finite non-negative numbers")
    return weight


def phm08_score(
    y_true: Sequence[float], y_pred: Sequence[float], sample_weight: Sequence[float] | None = None
) -> float:
    """PHM08 score: sum of exp(-d/13) - 1 for early (d < 0) and exp(d/10) - 1 for late, d = pred - true.

    Lower is better; 0 is perfect. Summed (not averaged), as the papers report it; with `sample_weight`,
    each prediction's penalty counts that many times (1/n for each of a unit's n stopping rows: the unit's
    expected penalty).
    """
    true, pred = _as_float_arrays(y_true, y_pred)
    return float(np.sum(_weights(sample_weight, true.size) * phm08_penalties(true, pred)))


def phm08_penalties(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Each prediction's PHM08 penalty (`phm08_score` sums them), any array shape."""
    d = np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)
    return np.where(d < 0, np.exp(-d / PHM08_EARLY) - 1.0, np.exp(d / PHM08_LATE) - 1.0)


def rmse(y_true: Sequence[float], y_pred: Sequence[float], sample_weight: Sequence[float] | None = None) -> float:
    """Root mean squared error (weighted by `sample_weight` when given)."""
    true, pred = _as_float_arrays(y_true, y_pred)
    if true.size == 0:
        raise ValueError("rmse of an empty sample")
    return float(np.sqrt(np.average((pred - true) ** 2, weights=_weights(sample_weight, true.size))))


def mae(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    """Mean absolute error."""
    true, pred = _as_float_arrays(y_true, y_pred)
    if true.size == 0:
        raise ValueError("mae of an empty sample")
    return float(np.mean(np.abs(pred - true)))


def regression_metrics(y_true: Sequence[float], y_pred: Sequence[float]) -> dict[str, float]:
    """RMSE, MAE and PHM08 score of RUL predictions."""
    return {"rmse": rmse(y_true, y_pred), "mae": mae(y_true, y_pred), "phm08_score": phm08_score(y_true, y_pred)}


def last_cycle_per_unit(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows flagged `is_last_observed_cycle` (one per unit), ordered by unit_id.

    This is where the papers evaluate a test set: one prediction per engine, at the last cycle seen.
    """
    flag = frame["is_last_observed_cycle"].fillna(False).astype(bool)
    last = frame.loc[flag].sort_values(["unit_id", "cycle"], kind="mergesort")
    if last["unit_id"].duplicated().any():
        raise ValueError("more than one row per unit is flagged is_last_observed_cycle")
    return last.reset_index(drop=True)


@dataclass(frozen=True)
class ThresholdChoice:
    """A decision threshold on a predicted probability, and how it was chosen."""

    threshold: float
    method: str
    f1: float
    precision: float
    recall: float
    n: int
    positives: int


def choose_threshold(y_true: Sequence[int], scores: Sequence[float], default: float = 0.5) -> ThresholdChoice:
    """The threshold maximising F1 of `score >= threshold`, over the observed scores (use out-of-fold ones).

    Candidates are the distinct scores. Ties in F1 go to the lowest threshold (more recall: in maintenance a
    missed failure costs more than an extra inspection). Without positives or negatives F1 is undefined and
    `default` is returned.
    """
    true = np.asarray(y_true).astype(bool)
    score = np.asarray(scores, dtype=float)
    if true.shape != score.shape:
        raise ValueError(f"y_true and scores differ in shape: {true.shape} vs {score.shape}")
    positives = int(true.sum())
    if positives == 0 or positives == true.size:
        nan = float("nan")
        return ThresholdChoice(default, "default (one class only)", nan, nan, nan, int(true.size), positives)
    # Sort by score descending; predicting positive for the top k rows = threshold at the k-th score.
    order = np.argsort(-score, kind="mergesort")
    sorted_score, sorted_true = score[order], true[order]
    tp = np.cumsum(sorted_true)
    predicted = np.arange(1, score.size + 1)
    # Only the last index of each run of equal scores is a reachable cut.
    last_of_run = np.r_[sorted_score[1:] != sorted_score[:-1], True]
    tp, predicted, cut = tp[last_of_run], predicted[last_of_run], sorted_score[last_of_run]
    precision = tp / predicted
    recall = tp / positives
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(tp > 0, 2 * precision * recall / (precision + recall), 0.0)
    best = int(np.flatnonzero(f1 == f1.max())[-1])  # cuts run from high to low threshold: last = lowest
    return ThresholdChoice(
        threshold=float(cut[best]),
        method="max F1 over out-of-fold predictions",
        f1=float(f1[best]),
        precision=float(precision[best]),
        recall=float(recall[best]),
        n=int(true.size),
        positives=positives,
    )


def classification_metrics(
    y_true: Sequence[int], scores: Sequence[float], threshold: float, sample_weight: Sequence[float] | None = None
) -> dict[str, float]:
    """ROC AUC (threshold-free) and accuracy, precision, recall, F1 and confusion counts at `threshold`;
    with `sample_weight`, every count is a sum of weights (the expected counts, for weights 1/n per unit)."""
    true = np.asarray(y_true).astype(int)
    score = np.asarray(scores, dtype=float)
    weight = _weights(sample_weight, true.size)
    predicted = (score >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(true, predicted, labels=[0, 1], sample_weight=weight).ravel()
    both_classes = 0 < true.sum() < true.size
    return {
        "roc_auc": float(roc_auc_score(true, score, sample_weight=weight)) if both_classes else float("nan"),
        "accuracy": float(np.average(predicted == true, weights=weight)),
        "precision": float(precision_score(true, predicted, zero_division=0, sample_weight=weight)),
        "recall": float(recall_score(true, predicted, zero_division=0, sample_weight=weight)),
        "f1": float(f1_score(true, predicted, zero_division=0, sample_weight=weight)),
        "tp": float(tp),
        "fp": float(fp),
        "tn": float(tn),
        "fn": float(fn),
        "positives": float(weight[true == 1].sum()),
        "n": float(weight.sum()),
    }


def grouped_folds(units: Sequence[str], n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """K folds over rows, grouped by unit: every row of a unit lands in the same validation fold.

    `units` holds one unit id per row. The distinct units are sorted, shuffled with `seed` and dealt to the
    folds in turn, so fold sizes differ by at most one unit and the result depends only on the set of units
    and the seed (not on row order). Returns (train row indices, validation row indices) pairs, usable as
    scikit-learn's `cv=`.
    """
    groups = np.asarray(units)
    distinct = np.unique(groups)
    if n_splits < 2:
        raise ValueError(f"n_splits must be at least 2, got {n_splits}")
    if distinct.size < n_splits:
        raise ValueError(f"{distinct.size} units cannot fill {n_splits} folds")
    shuffled = distinct[np.random.default_rng(seed).permutation(distinct.size)]
    fold_of_unit = dict(zip(shuffled.tolist(), (np.arange(distinct.size) % n_splits).tolist(), strict=True))
    fold_of_row = np.array([fold_of_unit[unit] for unit in groups.tolist()], dtype=int)
    rows = np.arange(groups.size)
    return [(rows[fold_of_row != fold], rows[fold_of_row == fold]) for fold in range(n_splits)]


# NASA's FD001 test series stop with a true RUL of 7-145 cycles after at least 31 observed cycles.
TEST_RUL_RANGE = (7, 145)
MIN_OBSERVED_CYCLES = 31


def truncation_points(
    frame: pd.DataFrame,
    seed: int,
    cuts_per_unit: int = 1,
    rul_range: tuple[int, int] = TEST_RUL_RANGE,
    min_observed_cycles: int = MIN_OBSERVED_CYCLES,
) -> pd.DataFrame:
    """Rows of run-to-failure units cut the way NASA's test sets are made: where a test series would stop.

    `frame` holds every cycle of each unit (`unit_id`, `cycle`; a unit's last cycle is its failure). For each
    unit, `cuts_per_unit` rows are drawn uniformly, with replacement, among its cycles whose remaining life
    `last cycle - cycle` lies in `rul_range` (both ends included) and that have at least
    `min_observed_cycles` cycles up to them (counted from the unit's first cycle). A unit too short for the
    whole window is cut where it can be: its `min_observed_cycles`-th cycle when that leaves less than
    `rul_range[0]` cycles, its last cycle when it has fewer cycles than that. Features built from a unit's
    own past only are then what a test series would show at its last cycle. Returns those rows (all
    columns) plus `truncation` (0 .. cuts_per_unit - 1) and `rul_at_truncation`, ordered by unit_id,
    truncation; depends only on the rows and the seed, not their order.
    """
    if cuts_per_unit < 1:
        raise ValueError(f"cuts_per_unit must be at least 1, got {cuts_per_unit}")
    candidates = _stopping_rows(frame, rul_range, min_observed_cycles)
    position = candidates.groupby("unit_id", sort=True).cumcount().to_numpy()
    count = candidates.groupby("unit_id", sort=True)["cycle"].transform("size").to_numpy()
    start = np.flatnonzero(position == 0)
    draws = np.random.default_rng(seed).random((start.size, cuts_per_unit))
    picked = start[:, None] + np.floor(draws * count[start][:, None]).astype(int)
    chosen = candidates.iloc[picked.ravel()].reset_index(drop=True)
    return chosen.assign(truncation=np.tile(np.arange(cuts_per_unit), start.size)).rename(
        columns={"_remaining": "rul_at_truncation"}
    )


def stopping_points(
    frame: pd.DataFrame,
    rul_range: tuple[int, int] = TEST_RUL_RANGE,
    min_observed_cycles: int = MIN_OBSERVED_CYCLES,
) -> pd.DataFrame:
    """Every row where a test series could stop (the rows `truncation_points` draws from), each with
    `weight` 1/n for its unit's n such rows: metrics weighted by it are the expected value over
    truncations, every unit counting once, without the luck of a few random cuts.

    Returns those rows (all columns) plus `rul_at_truncation` and `weight`, ordered by unit_id, cycle.
    """
    candidates = _stopping_rows(frame, rul_range, min_observed_cycles)
    count = candidates.groupby("unit_id", sort=True)["cycle"].transform("size").to_numpy()
    return candidates.assign(weight=1.0 / count).rename(columns={"_remaining": "rul_at_truncation"})


def _stopping_rows(frame: pd.DataFrame, rul_range: tuple[int, int], min_observed_cycles: int) -> pd.DataFrame:
    """The rows of `frame` a test series could stop at (see `truncation_points`), ordered by unit_id, cycle,
    with `_remaining` (the unit's last cycle minus the row's)."""
    low, high = rul_range
    if not 0 <= low <= high:
        raise ValueError(f"rul_range must be 0 <= low <= high, got {rul_range}")
    if frame.empty:
        raise ValueError("no rows to truncate")
    rows = frame.sort_values(["unit_id", "cycle"], kind="mergesort").reset_index(drop=True)
    units = rows.groupby("unit_id", sort=True)["cycle"]
    last = units.transform("max").to_numpy()
    first = units.transform("min").to_numpy()
    remaining = last - rows["cycle"].to_numpy()
    observed = rows["cycle"].to_numpy() - first + 1
    longest = last - first + 1 - min_observed_cycles  # remaining life at the min_observed-th cycle
    unit_high = np.minimum(high, np.maximum(longest, 0))
    unit_low = np.minimum(low, unit_high)
    candidate = (
        (remaining >= unit_low) & (remaining <= unit_high) & ((observed >= min_observed_cycles) | (remaining == 0))
    )
    return rows.loc[candidate].assign(_remaining=remaining[candidate]).reset_index(drop=True)
