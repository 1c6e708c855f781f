"""The candidate models: how each is built, its hyperparameter grid, and how it is scored in cross-validation.

Classification `fails_within_30_cycles`: mean imputer -> StandardScaler -> LogisticRegression (the reference
talk's baseline; l2 and elastic net via saga, C grid, ROC AUC) and HistGradientBoostingClassifier. Regression
`rul_capped`: mean imputer -> StandardScaler -> Ridge (baseline) and HistGradientBoostingRegressor (RMSE), the
latter fitted on the RUL capped at its grid's `target_knee` (`KneeTarget`). After the search, ml.train lowers a
fitted regressor's predictions by a margin chosen out-of-fold (`LateMargin`, `ml.decision.choose_rul_margin`).
The grids were chosen with `python -m benchmarks.evaluate_real` (grouped CV on NASA's real FD001 train units,
each validation unit cut where a test series would stop).
Every estimator gets `random_state=seed`. The default grids are `DEFAULT_GRIDS`, the test-sized ones
`FAST_GRIDS`; `candidate_specs` turns a set of grids into the `ModelSpec`s a training searches.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ml.evaluation import rmse

# The registered model each task's candidates compete for (one version per training, see ml.registry).
CLASSIFIER_NAME = "pdm-fails-within-30-cycles"
REGRESSOR_NAME = "pdm-rul"


def _logreg(params: dict[str, Any], seed: int) -> Pipeline:
    elastic = params["penalty"] == "elasticnet"
    model = LogisticRegression(
        C=params["C"],
        l1_ratio=params.get("l1_ratio", 0.5) if elastic else 0.0,
        solver="saga" if elastic else "lbfgs",
        max_iter=params.get("max_iter", 300),
        tol=params.get("tol", 1e-2 if elastic else 1e-4),  # saga: 1e-2 stops at ~40 epochs, same AUC as 1e-3
        random_state=seed,
    )
    return Pipeline([("impute", SimpleImputer(strategy="mean")), ("scale", StandardScaler()), ("model", model)])


def _ridge(params: dict[str, Any], seed: int) -> Pipeline:
    model = Ridge(alpha=params["alpha"], random_state=seed)
    return Pipeline([("impute", SimpleImputer(strategy="mean")), ("scale", StandardScaler()), ("model", model)])


def _hgb_params(params: dict[str, Any], seed: int) -> dict[str, Any]:
    return {
        "learning_rate": params["learning_rate"],
        "max_leaf_nodes": params["max_leaf_nodes"],
        "max_iter": params["max_iter"],
        "min_samples_leaf": params.get("min_samples_leaf", 40),
        "l2_regularization": params.get("l2_regularization", 1.0),
        # 63 bins and half the features per split: ~2x faster, same CV error on the simulated fleet
        "max_bins": params.get("max_bins", 63),
        "max_features": params.get("max_features", 0.5),
        "early_stopping": False,  # a seeded validation split would make results depend on row order
        "random_state": seed,
    }


def _hgb_classifier(params: dict[str, Any], seed: int) -> Pipeline:
    # HistGradientBoosting handles NaN natively (early-life std/slope windows): no imputer.
    return Pipeline([("model", HistGradientBoostingClassifier(**_hgb_params(params, seed)))])


class KneeTarget(RegressorMixin, BaseEstimator):
    """Fits `regressor` on min(y, knee): the piecewise-linear RUL target with its knee at `knee` cycles.

    `rul_capped` is capped at 125 (the evaluation's cap); a lower knee trains the model to hold its estimate
    flat a little earlier, which on real FD001 cost nothing in RMSE and lowered the PHM08 score (late
    predictions cost more). Predictions are the regressor's own.
    """

    def __init__(self, regressor: BaseEstimator, knee: float) -> None:
        self.regressor = regressor
        self.knee = knee

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> KneeTarget:
        self.regressor_ = clone(self.regressor).fit(X, np.minimum(np.asarray(y, dtype=float), self.knee))
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.regressor_.predict(X)


class LateMargin(RegressorMixin, BaseEstimator):
    """A RUL regressor's predictions lowered by `margin` cycles (a late prediction costs more than an early one).

    The margin is chosen on out-of-fold predictions after the search (`ml.decision.choose_rul_margin`);
    `LateMargin.around` wraps the already fitted regressor, `fit` fits a clone of `regressor`.
    """

    def __init__(self, regressor: BaseEstimator, margin: float) -> None:
        self.regressor = regressor
        self.margin = margin

    @classmethod
    def around(cls, fitted: BaseEstimator, margin: float) -> LateMargin:
        wrapped = cls(fitted, margin)
        wrapped.regressor_ = fitted
        return wrapped

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> LateMargin:
        self.regressor_ = clone(self.regressor).fit(X, y)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.regressor_.predict(X) - self.margin


def _hgb_regressor(params: dict[str, Any], seed: int) -> Pipeline:
    model = HistGradientBoostingRegressor(**_hgb_params(params, seed))
    knee = params.get("target_knee")
    return Pipeline([("model", model if knee is None else KneeTarget(model, knee))])


def probability(model: BaseEstimator, X: pd.DataFrame) -> np.ndarray:
    """P(class 1) of a fitted classifier."""
    return model.predict_proba(X)[:, 1]


def predict_rul(model: BaseEstimator, X: pd.DataFrame) -> np.ndarray:
    """Predicted remaining useful life, floored at 0 (a unit cannot have negative life left)."""
    return np.clip(model.predict(X), 0.0, None)


def _auc(y_true: np.ndarray, score: np.ndarray) -> float:
    return float(roc_auc_score(y_true, score))


@dataclass(frozen=True)
class ModelSpec:
    """One candidate model: how to build it, its grid, and how it is scored in cross-validation."""

    name: str
    task: str  # "classification" | "regression"
    registered_model: str
    build: Callable[[dict[str, Any], int], Pipeline]
    grid: tuple[dict[str, Any], ...]
    description: str

    @property
    def cv_metric(self) -> str:
        return "cv_roc_auc" if self.task == "classification" else "cv_rmse"

    @property
    def greater_is_better(self) -> bool:
        return self.task == "classification"

    def score(self, y_true: np.ndarray, prediction: np.ndarray) -> float:
        return _auc(y_true, prediction) if self.task == "classification" else rmse(y_true, prediction)

    def predict(self, model: BaseEstimator, X: pd.DataFrame) -> np.ndarray:
        return probability(model, X) if self.task == "classification" else predict_rul(model, X)


def _grid(**axes: Sequence[Any]) -> tuple[dict[str, Any], ...]:
    """The cartesian product of the axes, in a fixed order."""
    combos: list[dict[str, Any]] = [{}]
    for key, values in axes.items():
        combos = [{**combo, key: value} for combo in combos for value in values]
    return tuple(combos)


GridSet = Mapping[str, tuple[dict[str, Any], ...]]

DEFAULT_GRIDS: dict[str, tuple[dict[str, Any], ...]] = {
    "logreg": (
        *_grid(penalty=["l2"], C=[0.01, 0.1, 1.0]),
        *_grid(penalty=["elasticnet"], C=[0.1], l1_ratio=[0.5]),
    ),
    "hgb_classifier": _grid(learning_rate=[0.1], max_leaf_nodes=[15, 31], max_iter=[100]),
    "ridge": _grid(alpha=[1.0, 10.0, 100.0]),
    # Real FD001, truncated-CV: knee 120 and slower, longer boosting with larger leaves beat the
    # earlier grid (lr 0.1, 15 or 31 leaves, 100 trees, cap 125); one point, so CV costs what two did.
    "hgb_regressor": _grid(
        learning_rate=[0.05], max_leaf_nodes=[15], max_iter=[200], min_samples_leaf=[80], target_knee=[120]
    ),
}

# Tiny grids and few trees: the real code path, in seconds (tests, `--fast`).
FAST_GRIDS: dict[str, tuple[dict[str, Any], ...]] = {
    "logreg": (
        {"penalty": "l2", "C": 0.1},
        {"penalty": "elasticnet", "C": 0.1, "l1_ratio": 0.5, "max_iter": 50},
    ),
    "hgb_classifier": _grid(learning_rate=[0.1], max_leaf_nodes=[7, 15], max_iter=[30]),
    "ridge": _grid(alpha=[1.0, 10.0]),
    "hgb_regressor": _grid(learning_rate=[0.1], max_leaf_nodes=[15], max_iter=[30], target_knee=[120]),
}


def candidate_specs(grids: GridSet) -> tuple[ModelSpec, ...]:
    """The four candidates, in a fixed order, each with its grid from `grids` (keyed by candidate name)."""
    return (
        ModelSpec(
            "logreg",
            "classification",
            CLASSIFIER_NAME,
            _logreg,
            grids["logreg"],
            "mean imputer -> StandardScaler -> LogisticRegression (reference baseline)",
        ),
        ModelSpec(
            "hgb_classifier",
            "classification",
            CLASSIFIER_NAME,
            _hgb_classifier,
            grids["hgb_classifier"],
            "HistGradientBoostingClassifier (native NaN handling)",
        ),
        ModelSpec(
            "ridge",
            "regression",
            REGRESSOR_NAME,
            _ridge,
            grids["ridge"],
            "mean imputer -> StandardScaler -> Ridge (baseline)",
        ),
        ModelSpec(
            "hgb_regressor",
            "regression",
            REGRESSOR_NAME,
            _hgb_regressor,
            grids["hgb_regressor"],
            "HistGradientBoostingRegressor (native NaN handling), fitted on RUL capped at target_knee",
        ),
    )
