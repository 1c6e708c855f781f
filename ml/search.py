"""Grid search by hand over folds grouped by unit: one mean fold score per grid point, and out-of-fold predictions.

Sequential on purpose: fits of HistGradientBoosting are dominated by per-tree Python work, and two threads
(joblib) ran 2x slower than one here; worker processes cost seconds to start.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import Pipeline

from ml.candidates import ModelSpec


@dataclass
class SearchResult:
    best_params: dict[str, Any]
    cv_score: float
    cv_score_std: float
    table: list[dict[str, Any]]
    oof: np.ndarray  # out-of-fold predictions of the best params, aligned with the CV rows


def fit(
    build: Callable[[dict[str, Any], int], Pipeline], params: dict[str, Any], seed: int, X: pd.DataFrame, y: np.ndarray
) -> Pipeline:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=ConvergenceWarning)  # saga at its max_iter: fine for a grid
        return build(params, seed).fit(X, y)


def _fit_fold(
    spec: ModelSpec,
    params: dict[str, Any],
    seed: int,
    X: pd.DataFrame,
    y: np.ndarray,
    train_rows: np.ndarray,
    valid_rows: np.ndarray,
) -> np.ndarray:
    """Fit on one fold's train rows, predict its validation rows."""
    model = fit(spec.build, params, seed, X.iloc[train_rows], y[train_rows])
    return spec.predict(model, X.iloc[valid_rows])


def grouped_search(
    spec: ModelSpec,
    X: pd.DataFrame,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    seed: int,
) -> SearchResult:
    """Cross-validate every grid point on the grouped folds; best by mean fold score (first wins ties).

    A grid point whose mean is not a number (NaN predictions) never wins; when no point has a number, the
    search stops with a ValueError naming the model, rather than registering a model nothing measured.
    """
    outputs = [_fit_fold(spec, params, seed, X, y, *fold) for params in spec.grid for fold in folds]
    table: list[dict[str, Any]] = []
    best: SearchResult | None = None
    for index, params in enumerate(spec.grid):
        oof = np.full(len(y), np.nan)
        scores = []
        for fold_index, (_, valid_rows) in enumerate(folds):
            oof[valid_rows] = outputs[index * len(folds) + fold_index]
            scores.append(spec.score(y[valid_rows], oof[valid_rows]))
        mean, std = float(np.mean(scores)), float(np.std(scores))
        table.append({"params": params, "mean": mean, "std": std, "folds": scores})
        if not np.isfinite(mean):
            continue
        better = best is None or (mean > best.cv_score if spec.greater_is_better else mean < best.cv_score)
        if better:
            best = SearchResult(params, mean, std, table, oof)
    if best is None:
        raise ValueError(f"{spec.name}: no grid point of {len(spec.grid)} has a cross-validated score (NaN)")
    return best
