"""Train the failure classifier and the RUL regressor on a pinned Delta version of the gold feature table.

    python -m ml.train [--version N] [--seed 42] [--experiment NAME] [--lake DIR] [--mlflow-dir DIR] [--fast]
                       [--force]

* Input: `<lake>/gold/fct_unit_cycle_features`, read with DuckDB `delta_scan(path, version => N)`. Without
  `--version` the latest version is resolved to its number once, at start, and recorded everywhere. A table
  that is not published yet (no folder, or a folder without a committed or readable `_delta_log`) or a
  version that does not exist: a one-line message and exit code 2.
* Rows (`read_training_sample`, filters and columns pushed into DuckDB): train = WHOLE labelled units of split
  'train' (every dataset), every cycle of each, sampled with the seed and stratified by dataset until the
  row budgets of TrainConfig are filled (cv_max_rows for cross-validation, fit_max_rows for the final fit;
  the CV units are a subset of the fit units); cycles are never thinned. Evaluation = split 'test' at each
  unit's last observed cycle, units with known labels only (one prediction per engine, as the papers
  report). Only id, feature and label columns are read.
* Features: `cycle`, every `*_z`, `degradation_index`, every `*_mean_w*`, `*_std_w*`, `*_slope_w*` column,
  chosen by name from the table so new sensors flow in. Never labels, ids or `is_last_observed_cycle`.
* Cross-validation is grouped by unit (`ml.evaluation.grouped_folds`), never by row. A small grid per model is
  searched by hand over the same folds, which also yields out-of-fold predictions: the classification
  threshold is the max-F1 threshold on the out-of-fold predictions of the train units, never on test.
* Models: classification `fails_within_30_cycles` with StandardScaler -> LogisticRegression (the reference
  talk's baseline; l2 and elastic net via saga, C grid, ROC AUC) and HistGradientBoostingClassifier;
  regression `rul_capped` with Ridge (baseline) and HistGradientBoostingRegressor (RMSE).
* MLflow: a SQLite store `<mlflow dir>/mlflow.db` with artifacts in `<mlflow dir>/artifacts` (MLflow 3.17
  refuses the plain file store unless MLFLOW_ALLOW_FILE_STORE=true, as it is in maintenance mode; SQLite is
  its default and holds runs, the model registry and aliases offline). One parent run per training (data
  lineage: Delta path, resolved version, row/unit counts, the sampled units and rows, feature list), one
  nested child run per model (params, CV and test metrics, plots, the model with signature and input
  example). Every model is registered as a new version of `pdm-fails-within-30-cycles` or `pdm-rul`; the
  alias `champion` moves to the best version of this training by the cross-validated metric (never by the
  test metric). The chosen threshold travels as the model version tag `decision_threshold`.
* Idempotent: every registered version carries the tag `training_digest` (Delta path + version, seed, the
  config fields that shape models, and a digest of this code; see `training_digest`). When the registry
  already holds every model of a training with the same digest, nothing is trained or registered: the
  command says so, names the existing versions and sets `champion` on the best of them. `--force` trains
  anyway.
* Same Delta version + same seed -> same metrics and same predictions: rows are ordered by (unit_id, cycle),
  the unit sample and the folds are seeded, every estimator gets `random_state=seed`.
* Speed: one OpenMP thread (see TrainConfig); the work is bounded by the row budgets, not by the table size.

Browse the store with `mlflow ui --backend-store-uri sqlite:///<mlflow dir>/mlflow.db`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # offline machines: no usage pings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
import sklearn
import skops.io
from deltalake.exceptions import DeltaError
from mlflow.data.delta_dataset_source import DeltaDatasetSource
from mlflow.data.meta_dataset import MetaDataset
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from lakehouse import lake
from ml.config import Paths
from ml.evaluation import (
    ThresholdChoice,
    choose_threshold,
    classification_metrics,
    grouped_folds,
    last_cycle_per_unit,
    regression_metrics,
    rmse,
)

FEATURE_TABLE = "fct_unit_cycle_features"
DEFAULT_EXPERIMENT = "pdm-predictive-maintenance"
CLASSIFIER_NAME = "pdm-fails-within-30-cycles"
REGRESSOR_NAME = "pdm-rul"
CHAMPION_ALIAS = "champion"
THRESHOLD_TAG = "decision_threshold"
CLASS_LABEL = "fails_within_30_cycles"
RUL_LABEL = "rul_capped"
ID_COLUMNS = ("unit_id", "dataset", "split", "unit_number")
NOT_FEATURES = frozenset(
    {
        *ID_COLUMNS,
        "reading_at",
        "registry_version_id",
        "equipment_model_code",
        "operating_regime",
        "is_last_observed_cycle",
        "rul",
        "rul_capped",
        "fails_within_30_cycles",
    }
)
FEATURE_PATTERN = re.compile(r"(_z|_mean_w\d+|_std_w\d+|_slope_w\d+)$")
PLAIN_FEATURES = ("cycle", "degradation_index")
PLOT_DPI = 80


def feature_columns(columns: Sequence[str]) -> list[str]:
    """The model inputs among a table's columns, in table order, chosen by name so new sensors flow in."""
    return [
        name
        for name in columns
        if name not in NOT_FEATURES and (name in PLAIN_FEATURES or FEATURE_PATTERN.search(name) is not None)
    ]


# --------------------------------------------------------------------------------------------- models


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


def _hgb_regressor(params: dict[str, Any], seed: int) -> Pipeline:
    return Pipeline([("model", HistGradientBoostingRegressor(**_hgb_params(params, seed)))])


def _probability(model: BaseEstimator, X: pd.DataFrame) -> np.ndarray:
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
        return _probability(model, X) if self.task == "classification" else predict_rul(model, X)


def _grid(**axes: Sequence[Any]) -> tuple[dict[str, Any], ...]:
    """The cartesian product of the axes, in a fixed order."""
    combos: list[dict[str, Any]] = [{}]
    for key, values in axes.items():
        combos = [{**combo, key: value} for combo in combos for value in values]
    return tuple(combos)


@dataclass(frozen=True)
class TrainConfig:
    """Knobs of a training. The defaults are the real ones; `fast()` shrinks grids and rows for tests."""

    n_splits: int = 5
    # Row budgets, filled with WHOLE units (every cycle of a unit, never thinned), sampled with the seed and
    # stratified by dataset (`unit_sample_order`): CV on the units whose rows fit in cv_max_rows, the final
    # refit on the units whose rows fit in fit_max_rows (the CV units are a subset of them). A table
    # smaller than a budget is used whole.
    cv_max_rows: int = 25_000
    fit_max_rows: int = 60_000
    logreg_grid: tuple[dict[str, Any], ...] = (
        *_grid(penalty=["l2"], C=[0.01, 0.1, 1.0]),
        *_grid(penalty=["elasticnet"], C=[0.1], l1_ratio=[0.5]),
    )
    hgb_classifier_grid: tuple[dict[str, Any], ...] = _grid(
        learning_rate=[0.1], max_leaf_nodes=[15, 31], max_iter=[100]
    )
    ridge_grid: tuple[dict[str, Any], ...] = _grid(alpha=[1.0, 10.0, 100.0])
    hgb_regressor_grid: tuple[dict[str, Any], ...] = _grid(learning_rate=[0.1], max_leaf_nodes=[15, 31], max_iter=[100])
    # OpenMP threads for HistGradientBoosting. On the shared 2-core box two spinning OpenMP threads ran up
    # to 10x slower than one when other processes were busy (measured), so the default is 1.
    threads: int = 1
    plots: bool = True
    plot_units: int = 3

    @classmethod
    def fast(cls) -> TrainConfig:
        """Tiny grids and few trees: the real code path, in seconds (tests)."""
        return cls(
            n_splits=3,
            logreg_grid=(
                {"penalty": "l2", "C": 0.1},
                {"penalty": "elasticnet", "C": 0.1, "l1_ratio": 0.5, "max_iter": 50},
            ),
            hgb_classifier_grid=_grid(learning_rate=[0.1], max_leaf_nodes=[7, 15], max_iter=[30]),
            ridge_grid=_grid(alpha=[1.0, 10.0]),
            hgb_regressor_grid=_grid(learning_rate=[0.1], max_leaf_nodes=[15], max_iter=[30]),
        )

    def models(self) -> tuple[ModelSpec, ...]:
        return (
            ModelSpec(
                "logreg",
                "classification",
                CLASSIFIER_NAME,
                _logreg,
                self.logreg_grid,
                "mean imputer -> StandardScaler -> LogisticRegression (reference baseline)",
            ),
            ModelSpec(
                "hgb_classifier",
                "classification",
                CLASSIFIER_NAME,
                _hgb_classifier,
                self.hgb_classifier_grid,
                "HistGradientBoostingClassifier (native NaN handling)",
            ),
            ModelSpec(
                "ridge",
                "regression",
                REGRESSOR_NAME,
                _ridge,
                self.ridge_grid,
                "mean imputer -> StandardScaler -> Ridge (baseline)",
            ),
            ModelSpec(
                "hgb_regressor",
                "regression",
                REGRESSOR_NAME,
                _hgb_regressor,
                self.hgb_regressor_grid,
                "HistGradientBoostingRegressor (native NaN handling)",
            ),
        )


# ----------------------------------------------------------------------------------------------- data


def resolve_version(table_path: Path, version: int | None = None) -> int:
    """The Delta version to read: `version`, or the latest one, checked against the table's log.

    Raises `lake.TableNotPublishedError` (one line, naming the folder) when there is no committed version
    (never published, or a first publish killed before its commit) or when the log cannot be read (a
    truncated commit file), and `lake.LakeError` when the version asked for does not exist.
    """
    try:
        return lake.require_version(Path(table_path), version)
    except DeltaError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise lake.TableNotPublishedError(
            f"{table_path} holds no readable Delta log ({reason}); run `python -m lakehouse.publish` again"
        ) from error


@dataclass(frozen=True)
class TrainingData:
    """One pinned version of the feature table, split into what training and evaluation need."""

    table_path: Path
    version: int
    frame: pd.DataFrame  # every row, ordered by unit_id, cycle
    features: list[str]

    @property
    def train(self) -> pd.DataFrame:
        rows = self.frame[(self.frame["split"] == "train") & self.frame[CLASS_LABEL].notna()]
        return rows[rows[RUL_LABEL].notna()]

    @property
    def test(self) -> pd.DataFrame:
        return self.frame[self.frame["split"] == "test"]

    @property
    def evaluation(self) -> pd.DataFrame:
        """Test units at their last observed cycle, where the truth is known."""
        last = last_cycle_per_unit(self.test)
        return last[last[CLASS_LABEL].notna() & last[RUL_LABEL].notna()].reset_index(drop=True)


def read_features(table_path: Path, version: int | None = None) -> TrainingData:
    """Read ALL of one version of the feature table (latest if None) in (unit_id, cycle) order.

    For inspection and small tables; training reads a sample of whole units instead (`read_training_sample`).
    """
    resolved = resolve_version(table_path, version)
    con = lake.connect()
    try:
        sql = f"select * from {lake.delta_scan_sql(table_path, resolved)} order by unit_id, cycle"
        frame = con.execute(sql).to_arrow_table().to_pandas()  # faster than .df() on wide tables
    finally:
        con.close()
    return TrainingData(table_path=table_path, version=resolved, frame=frame, features=feature_columns(frame.columns))


def matrix(frame: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """The model input: the feature columns as float64 (nulls as NaN), in the given order."""
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise KeyError(f"feature columns missing from the table: {missing}")
    return frame.loc[:, list(features)].astype("float64").reset_index(drop=True)


def unit_sample_order(units: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The train units in the order a sample takes them: seeded, and stratified by dataset.

    `units` has one row per unit (`unit_id`, `dataset`, `rows`). Within each dataset the units get a seeded
    random rank; the order interleaves datasets by rank / units-in-dataset, so every prefix of the order
    holds each dataset in proportion to its unit count. Depends only on the set of units and the seed.
    """
    ordered = units.sort_values("unit_id", kind="mergesort").reset_index(drop=True)
    key = np.random.default_rng(seed).random(len(ordered))
    ordered = ordered.assign(_key=key)
    rank = ordered.groupby("dataset", sort=False)["_key"].rank(method="first") - 0.5
    size = ordered.groupby("dataset", sort=False)["_key"].transform("size")
    ordered = ordered.assign(_position=rank / size)
    ordered = ordered.sort_values(["_position", "_key", "unit_id"], kind="mergesort")
    return ordered.drop(columns=["_key", "_position"]).reset_index(drop=True)


def sample_units(ordered: pd.DataFrame, max_rows: int, min_units: int = 1) -> list[str]:
    """Whole units, taken in `ordered` order while their rows fit in `max_rows` (at least `min_units`).

    Every cycle of a chosen unit comes along: thinning cycles would keep only a few points per life and make
    the cross-validated metric meaningless. The same order gives nested samples (a smaller budget's units are
    a prefix of a larger one's). Returned sorted by unit_id.
    """
    within = int(np.searchsorted(ordered["rows"].cumsum().to_numpy(), max_rows, side="right"))
    count = min(len(ordered), max(within, min_units))
    return sorted(ordered["unit_id"].iloc[:count].tolist())


@dataclass(frozen=True)
class TrainingSample:
    """What one training reads from a pinned version: sampled train units' rows and the evaluation rows."""

    table_path: Path
    version: int
    features: list[str]
    stats: dict[str, Any]  # the whole version: rows, units, train rows and units, datasets
    cv_units: list[str]
    fit_units: list[str]
    fit: pd.DataFrame  # every cycle of the fit units, ordered by unit_id, cycle
    evaluation: pd.DataFrame  # test units at their last observed cycle with known truth, ordered by unit_id

    @property
    def cv(self) -> pd.DataFrame:
        """Every cycle of the CV units (a subset of the fit units), ordered by unit_id, cycle."""
        return self.fit[self.fit["unit_id"].isin(self.cv_units)].reset_index(drop=True)


LABELLED_TRAIN = f"split = 'train' and {CLASS_LABEL} is not null and {RUL_LABEL} is not null"


def read_training_sample(
    table_path: Path, version: int | None, seed: int, cv_max_rows: int, fit_max_rows: int, min_units: int
) -> TrainingSample:
    """Read only what training needs from one version, with the filters and columns pushed into DuckDB.

    Scans: (1) the per-unit row counts of labelled train units (ids and labels only), from which whole units
    are sampled (`unit_sample_order`, `sample_units`); (2) id, feature and label columns of the fit units'
    rows; (3) the test units' last observed cycle. Table-wide counts come from the same id columns.
    """
    resolved = resolve_version(table_path, version)
    scan = lake.delta_scan_sql(table_path, resolved)
    con = lake.connect()
    try:
        columns = [row[0] for row in con.execute(f"select * from {scan} limit 0").description]
        features = feature_columns(columns)
        rows, units, datasets = con.execute(
            f"select count(*), count(distinct unit_id), coalesce(string_agg(distinct dataset, ',' order by dataset),"
            f" '') from {scan}"
        ).fetchone()
        counts = con.execute(
            f"select unit_id, any_value(dataset) as dataset, count(*) as rows from {scan} "
            f"where {LABELLED_TRAIN} group by unit_id order by unit_id"
        ).df()
        if counts.empty:
            raise ValueError(f"no labelled train rows in {table_path} version {resolved}")
        ordered = unit_sample_order(counts, seed)
        fit_units = sample_units(ordered, max(fit_max_rows, cv_max_rows), min_units)
        cv_units = sample_units(ordered, cv_max_rows, min_units)
        wanted = ", ".join(f'"{name}"' for name in dict.fromkeys([*ID_COLUMNS, "cycle", *features]))
        labels = f"{CLASS_LABEL}, {RUL_LABEL}"
        con.register("sampled_units", pa.table({"unit_id": pa.array(fit_units, pa.string())}))
        fit = con.execute(
            f"select {wanted}, {labels} from {scan} where {LABELLED_TRAIN} "
            "and unit_id in (select unit_id from sampled_units) order by unit_id, cycle"
        ).to_arrow_table()
        last = con.execute(
            f"select {wanted}, {labels}, is_last_observed_cycle from {scan} "
            "where split = 'test' and is_last_observed_cycle order by unit_id, cycle"
        ).to_arrow_table()
    finally:
        con.close()
    last_rows = last_cycle_per_unit(last.to_pandas())
    evaluation = last_rows[last_rows[CLASS_LABEL].notna() & last_rows[RUL_LABEL].notna()].reset_index(drop=True)
    stats = {
        "rows": int(rows),
        "units": int(units),
        "train_rows": int(counts["rows"].sum()),
        "train_units": len(counts),
        "datasets": datasets,
    }
    return TrainingSample(
        table_path=Path(table_path),
        version=resolved,
        features=features,
        stats=stats,
        cv_units=cv_units,
        fit_units=fit_units,
        fit=fit.to_pandas(),
        evaluation=evaluation,
    )


def read_unit_rows(table_path: Path, version: int, units: Sequence[str], columns: Sequence[str]) -> pd.DataFrame:
    """Every row of the given units at one version, only `columns`, ordered by unit_id, cycle (for plots)."""
    if not units:
        return pd.DataFrame(columns=list(columns))
    con = lake.connect()
    try:
        con.register("wanted_units", pa.table({"unit_id": pa.array(list(units), pa.string())}))
        wanted = ", ".join(f'"{name}"' for name in dict.fromkeys(["unit_id", "cycle", *columns]))
        return con.execute(
            f"select {wanted} from {lake.delta_scan_sql(table_path, version)} "
            "where unit_id in (select unit_id from wanted_units) order by unit_id, cycle"
        ).df()
    finally:
        con.close()


# ------------------------------------------------------------------------------------------------ search


@dataclass
class SearchResult:
    best_params: dict[str, Any]
    cv_score: float
    cv_score_std: float
    table: list[dict[str, Any]]
    oof: np.ndarray  # out-of-fold predictions of the best params, aligned with the CV rows


def _fit(
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
    model = _fit(spec.build, params, seed, X.iloc[train_rows], y[train_rows])
    return spec.predict(model, X.iloc[valid_rows])


def grouped_search(
    spec: ModelSpec,
    X: pd.DataFrame,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    seed: int,
) -> SearchResult:
    """Cross-validate every grid point on the grouped folds; best by mean fold score (first wins ties).

    Sequential on purpose: fits of HistGradientBoosting are dominated by per-tree Python work, and two
    threads (joblib) ran 2x slower than one here; worker processes cost seconds to start.
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
        better = best is None or (mean > best.cv_score if spec.greater_is_better else mean < best.cv_score)
        if better:
            best = SearchResult(params, mean, std, table, oof)
    assert best is not None, "empty grid"
    return best


# ----------------------------------------------------------------------------------------------- MLflow


def store_file(mlflow_dir: Path) -> Path:
    """The SQLite database of the tracking + registry store inside `mlflow_dir`."""
    return (Path(mlflow_dir) / "mlflow.db").resolve()


def tracking_uri(mlflow_dir: Path) -> str:
    """`sqlite:////abs/path/mlflow.db`: the URI of the store inside `mlflow_dir`."""
    return f"sqlite:///{store_file(mlflow_dir)}"


def configure_mlflow(mlflow_dir: Path) -> str:
    """Point MLflow (tracking and registry) at the store in `mlflow_dir`, creating the folder."""
    Path(mlflow_dir).mkdir(parents=True, exist_ok=True)
    uri = tracking_uri(mlflow_dir)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def ensure_experiment(name: str, mlflow_dir: Path) -> str:
    """The experiment's id; created with its artifacts under `<mlflow_dir>/artifacts` (not the cwd)."""
    client = MlflowClient()
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        artifacts = (Path(mlflow_dir) / "artifacts").resolve().as_uri()
        return client.create_experiment(name, artifact_location=artifacts)
    if experiment.lifecycle_stage == "deleted":
        client.restore_experiment(experiment.experiment_id)
    return experiment.experiment_id


def _pip_requirements() -> list[str]:
    # Given explicitly: MLflow's requirement inference imports the model in a subprocess (slow).
    return [f"scikit-learn=={sklearn.__version__}", f"numpy=={np.__version__}", f"pandas=={pd.__version__}"]


def _own_types(model: BaseEstimator) -> list[str]:
    """The types skops would refuse to load from this model. It is the model this process just trained, so
    they are trusted; MLflow stores the list in the MLmodel file and passes it back to skops when loading."""
    return sorted(skops.io.get_untrusted_types(data=skops.io.dumps(model)))


def _log_figure(fig: plt.Figure, name: str) -> None:
    fig.set_dpi(PLOT_DPI)
    mlflow.log_figure(fig, f"plots/{name}")
    plt.close(fig)


def _classifier_plots(
    spec: ModelSpec, y_test: np.ndarray, p_test: np.ndarray, y_oof: np.ndarray, oof: np.ndarray, choice: ThresholdChoice
) -> None:
    if 0 < y_test.sum() < len(y_test):
        fig, ax = plt.subplots(figsize=(5, 5))
        RocCurveDisplay.from_predictions(y_test, p_test, ax=ax, name=spec.name)
        ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
        ax.set_title("ROC, test units at last observed cycle")
        _log_figure(fig, "roc_curve.png")
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ConfusionMatrixDisplay.from_predictions(
        y_test, (p_test >= choice.threshold).astype(int), labels=[0, 1], display_labels=["> 30", "<= 30"], ax=ax
    )
    ax.set_title(f"test, threshold {choice.threshold:.3f}")
    _log_figure(fig, "confusion_matrix.png")
    # How the threshold was chosen: precision / recall / F1 over thresholds, out-of-fold on train units.
    cuts = np.linspace(0.0, 1.0, 101)
    positives = max(int(y_oof.sum()), 1)
    tp = np.array([np.sum((oof >= cut) & (y_oof == 1)) for cut in cuts])
    predicted = np.array([np.sum(oof >= cut) for cut in cuts])
    precision = np.divide(tp, predicted, out=np.ones_like(cuts), where=predicted > 0)
    recall = tp / positives
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(cuts), where=precision + recall > 0)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(cuts, precision, label="precision")
    ax.plot(cuts, recall, label="recall")
    ax.plot(cuts, f1, label="F1")
    ax.axvline(choice.threshold, color="black", linestyle="--", label=f"chosen {choice.threshold:.3f}")
    ax.set_xlabel("threshold on P(fails within 30 cycles)")
    ax.set_title("out-of-fold, train units")
    ax.legend()
    _log_figure(fig, "threshold_choice.png")


def _regressor_plots(
    spec: ModelSpec, evaluation: pd.DataFrame, rul_test: np.ndarray, test: pd.DataFrame, curves: np.ndarray, units: int
) -> None:
    true = evaluation[RUL_LABEL].to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(true, rul_test, s=14, alpha=0.7)
    top = max(float(true.max(initial=0)), float(rul_test.max(initial=0))) + 5
    ax.plot([0, top], [0, top], color="grey", linestyle=":")
    ax.set_xlabel("true RUL (capped)")
    ax.set_ylabel("predicted RUL")
    ax.set_title(f"{spec.name}: test units at last observed cycle")
    _log_figure(fig, "predicted_vs_true_rul.png")
    chosen = _curve_units(evaluation, units)
    if not chosen:
        return
    fig, axes = plt.subplots(len(chosen), 1, figsize=(7, 2.4 * len(chosen)), squeeze=False)
    for ax, unit in zip(axes[:, 0], chosen, strict=True):
        rows = (test["unit_id"] == unit).to_numpy()
        cycles = test.loc[rows, "cycle"].to_numpy()
        ax.plot(cycles, test.loc[rows, RUL_LABEL].to_numpy(dtype=float), label="true RUL (capped)", color="black")
        ax.plot(cycles, curves[rows], label="predicted RUL", color="tab:red")
        ax.set_ylabel("RUL")
        twin = ax.twinx()
        twin.plot(cycles, test.loc[rows, "degradation_index"].to_numpy(dtype=float), color="tab:blue", alpha=0.4)
        twin.set_ylabel("degradation index", color="tab:blue")
        ax.set_title(unit, fontsize=9)
    axes[0, 0].legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("cycle")
    fig.subplots_adjust(hspace=0.6, right=0.86)
    _log_figure(fig, "test_unit_degradation_curves.png")


def _curve_units(evaluation: pd.DataFrame, count: int) -> list[str]:
    """A few test units spread over the range of true RUL, deterministically."""
    if evaluation.empty or count <= 0:
        return []
    ordered = evaluation.sort_values([RUL_LABEL, "unit_id"], kind="mergesort")["unit_id"].tolist()
    picks = np.unique(np.linspace(0, len(ordered) - 1, min(count, len(ordered))).round().astype(int))
    return [ordered[i] for i in picks]


# ------------------------------------------------------------------------------------------------ train


@dataclass
class TrainResult:
    """What one training did. `metrics` keys are `<model>.<metric>`; deterministic for (version, seed).

    `reused` is True when the store already held every model of this exact training (same digest, see
    `training_digest`): nothing was trained or registered, and the fields describe the existing versions.
    """

    delta_path: str
    delta_version: int
    rows: int
    units: int
    train_rows: int
    train_units: int
    test_units_evaluated: int
    features: list[str]
    metrics: dict[str, float]
    thresholds: dict[str, float]
    best_params: dict[str, dict[str, Any]]
    experiment_id: str
    parent_run_id: str
    run_ids: dict[str, str]
    registered_versions: dict[str, str]  # model name -> version of its registered model
    champions: dict[str, str]  # registered model -> model name carrying the alias
    champion_versions: dict[str, str]  # registered model -> version carrying the alias
    seconds: float
    timings: dict[str, float]
    tracking_uri: str
    test_predictions: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    digest: str = ""
    reused: bool = False
    sample: dict[str, Any] = field(default_factory=dict)  # cv/fit units and rows actually used


DIGEST_TAG = "training_digest"
# TrainConfig fields that change what is logged or how fast, never the models or metrics.
DIGEST_IGNORES = frozenset({"threads", "plots", "plot_units"})
CODE_FILES = (Path(__file__).resolve(), Path(__file__).resolve().with_name("evaluation.py"))


def code_version() -> str:
    """A digest of the training code (this module, ml/evaluation.py) and the library versions it runs on."""
    digest = hashlib.sha256()
    for path in CODE_FILES:
        digest.update(path.read_bytes())
    digest.update(f"sklearn {sklearn.__version__} numpy {np.__version__} pandas {pd.__version__}".encode())
    return digest.hexdigest()[:16]


def training_digest(table_path: Path, version: int, seed: int, config: TrainConfig) -> str:
    """What identifies a training: Delta path + version, seed, the config fields that shape models, code.

    Two trainings with the same digest fit the same models on the same rows (training is deterministic), so
    the second registers nothing (see `train`).
    """
    settings = {key: value for key, value in asdict(config).items() if key not in DIGEST_IGNORES}
    payload = {
        "delta_path": str(Path(table_path).resolve()),
        "delta_version": int(version),
        "seed": int(seed),
        "config": settings,
        "code": code_version(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=repr).encode()).hexdigest()[:32]


def train(
    table_path: Path,
    mlflow_dir: Path,
    version: int | None = None,
    seed: int = 42,
    experiment: str = DEFAULT_EXPERIMENT,
    config: TrainConfig | None = None,
    force: bool = False,
) -> TrainResult:
    """Train, evaluate, log and register both tasks' models on one pinned version of the feature table.

    When the registry already holds a version of every model with this training's digest (same Delta path and
    version, seed, config and code), nothing is trained or registered: the existing versions are returned
    (`reused=True`) and the `champion` aliases are set on the best of them, as that training set them.
    `force=True` trains and registers anyway.
    """
    config = config or TrainConfig()
    table_path, mlflow_dir = Path(table_path), Path(mlflow_dir)
    resolved = resolve_version(table_path, version)
    digest = training_digest(table_path, resolved, seed, config)
    uri = configure_mlflow(mlflow_dir)
    if not force:
        existing = registered_training(digest, config)
        if existing is not None:
            return reuse_training(existing, digest, config, uri)
    with threadpool_limits(limits=config.threads):
        return _train(table_path, mlflow_dir, resolved, seed, experiment, config, digest)


def registered_training(digest: str, config: TrainConfig) -> dict[str, Any] | None:
    """The newest registered version of every model of `config` tagged with `digest`, or None if one is missing."""
    client = MlflowClient()
    found: dict[str, Any] = {}
    for registered_model in dict.fromkeys(spec.registered_model for spec in config.models()):
        versions = client.search_model_versions(f"name = '{registered_model}' and tags.{DIGEST_TAG} = '{digest}'")
        for model_version in sorted(versions, key=lambda v: int(v.version)):
            found[model_version.tags.get("model", "")] = model_version
    if any(spec.name not in found for spec in config.models()):
        return None
    return {spec.name: found[spec.name] for spec in config.models()}


def _param_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def set_champions(cv_scores: dict[str, float], versions: dict[str, str], config: TrainConfig) -> dict[str, str]:
    """Point each registered model's `champion` alias at its best version by CV metric; returns model names."""
    client = MlflowClient()
    champions: dict[str, str] = {}
    for registered_model in (CLASSIFIER_NAME, REGRESSOR_NAME):
        candidates = [spec for spec in config.models() if spec.registered_model == registered_model]
        best = (max if candidates[0].greater_is_better else min)(candidates, key=lambda s: cv_scores[s.name])
        client.set_registered_model_alias(registered_model, CHAMPION_ALIAS, versions[best.name])
        client.update_registered_model(
            registered_model,
            description=f"{'P(fails within 30 cycles)' if best.task == 'classification' else 'RUL (capped)'}"
            f" from {FEATURE_TABLE}; alias '{CHAMPION_ALIAS}' = best {best.cv_metric} of the latest training.",
        )
        champions[registered_model] = best.name
    return champions


def reuse_training(existing: dict[str, Any], digest: str, config: TrainConfig, uri: str) -> TrainResult:
    """The result of an identical earlier training, read back from its runs; champions set on its best models."""
    started = time.perf_counter()
    client = MlflowClient()
    runs = {name: client.get_run(model_version.run_id) for name, model_version in existing.items()}
    metrics: dict[str, float] = {}
    cv_scores: dict[str, float] = {}
    thresholds: dict[str, float] = {}
    best_params: dict[str, dict[str, Any]] = {}
    for spec in config.models():
        run = runs[spec.name]
        metrics |= {f"{spec.name}.{key}": value for key, value in run.data.metrics.items()}
        cv_scores[spec.name] = run.data.metrics[spec.cv_metric]
        best_params[spec.name] = {
            key.removeprefix("best_"): _param_value(value)
            for key, value in run.data.params.items()
            if key.startswith("best_")
        }
        if THRESHOLD_TAG in existing[spec.name].tags:
            thresholds[spec.name] = float(existing[spec.name].tags[THRESHOLD_TAG])
    versions = {name: str(model_version.version) for name, model_version in existing.items()}
    champions = set_champions(cv_scores, versions, config)
    first = runs[config.models()[0].name]
    parent_run_id = first.data.tags.get("mlflow.parentRunId", "")
    params = client.get_run(parent_run_id).data.params if parent_run_id else first.data.params
    lineage = json.loads(Path(client.download_artifacts(parent_run_id, "data/lineage.json")).read_text())
    return TrainResult(
        delta_path=params["delta_path"],
        delta_version=int(params["delta_version"]),
        rows=int(params["rows"]),
        units=int(params["units"]),
        train_rows=int(params["train_rows"]),
        train_units=int(params["train_units"]),
        test_units_evaluated=int(params["test_units_evaluated"]),
        features=list(lineage["features"]),
        metrics=metrics,
        thresholds=thresholds,
        best_params=best_params,
        experiment_id=first.info.experiment_id,
        parent_run_id=parent_run_id,
        run_ids={name: run.info.run_id for name, run in runs.items()},
        registered_versions=versions,
        champions=champions,
        champion_versions={model: versions[name] for model, name in champions.items()},
        seconds=time.perf_counter() - started,
        timings={},
        tracking_uri=uri,
        digest=digest,
        reused=True,
        sample={key: int(params[key]) for key in ("cv_units", "cv_rows", "fit_units", "fit_rows") if key in params},
    )


def _train(
    table_path: Path, mlflow_dir: Path, version: int, seed: int, experiment: str, config: TrainConfig, digest: str
) -> TrainResult:
    started = time.perf_counter()
    data = read_training_sample(table_path, version, seed, config.cv_max_rows, config.fit_max_rows, config.n_splits)
    read_seconds = time.perf_counter() - started
    evaluation = data.evaluation
    features = data.features
    fit_frame = data.fit
    cv_frame = data.cv
    folds = grouped_folds(cv_frame["unit_id"].to_numpy(), config.n_splits, seed)
    X_cv, X_fit = matrix(cv_frame, features), matrix(fit_frame, features)
    X_eval = matrix(evaluation, features)
    curve_units = _curve_units(evaluation, config.plot_units) if config.plots else []
    test = read_unit_rows(table_path, data.version, curve_units, [*features, RUL_LABEL])
    X_test = matrix(test, features)
    labels = {
        "classification": lambda f: f[CLASS_LABEL].astype(int).to_numpy(),
        "regression": lambda f: f[RUL_LABEL].astype(float).to_numpy(),
    }

    uri = configure_mlflow(mlflow_dir)
    experiment_id = ensure_experiment(experiment, mlflow_dir)
    source = DeltaDatasetSource(path=str(Path(table_path).resolve()), delta_table_version=data.version)

    metrics: dict[str, float] = {}
    thresholds: dict[str, float] = {}
    best_params: dict[str, dict[str, Any]] = {}
    run_ids: dict[str, str] = {}
    versions: dict[str, str] = {}
    cv_scores: dict[str, float] = {}
    predictions: dict[str, np.ndarray] = {}
    timings: dict[str, float] = {"read_seconds": read_seconds}

    sample = {
        "cv_units": len(data.cv_units),
        "cv_rows": len(cv_frame),
        "fit_units": len(data.fit_units),
        "fit_rows": len(fit_frame),
    }
    lineage = {
        "delta_path": str(Path(table_path).resolve()),
        "delta_version": data.version,
        "seed": seed,
        "rows": data.stats["rows"],
        "units": data.stats["units"],
        "train_rows": data.stats["train_rows"],
        "train_units": data.stats["train_units"],
        **sample,
        "sampling": "whole units, seeded, stratified by dataset; cv units within the fit units",
        "test_units_evaluated": len(evaluation),
        "test_last_cycle_rows": len(evaluation),
        "n_features": len(features),
        "n_splits": config.n_splits,
        "datasets": data.stats["datasets"],
        "code_version": code_version(),
        DIGEST_TAG: digest,
    }
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"train delta v{data.version} seed {seed}") as parent:
        mlflow.log_params(lineage)
        mlflow.set_tags(
            {
                "pdm.delta_path": lineage["delta_path"],
                "pdm.delta_version": str(data.version),
                f"pdm.{DIGEST_TAG}": digest,
            }
        )
        mlflow.log_dict(
            {"features": features, **lineage, "cv_unit_ids": data.cv_units, "fit_unit_ids": data.fit_units},
            "data/lineage.json",
        )
        # Dataset lineage as metadata only (the Delta path + version identify the data): MLflow's pandas
        # datasets infer a schema row by row, which took 30 s on 160k rows.
        for role, context, rows in (
            ("train", "training", lineage["fit_rows"]),
            ("test_last_cycle", "evaluation", lineage["test_last_cycle_rows"]),
        ):
            dataset = MetaDataset(source, name=f"{FEATURE_TABLE}@v{data.version}:{role}")
            mlflow.log_input(dataset, context=context, tags={"rows": str(rows)})

        for spec in config.models():
            model_started = time.perf_counter()
            label = labels[spec.task]
            y_cv, y_fit = label(cv_frame), label(fit_frame)
            search = grouped_search(spec, X_cv, y_cv, folds, seed)
            timings[f"{spec.name}_cv_seconds"] = time.perf_counter() - model_started
            model = _fit(spec.build, search.best_params, seed, X_fit, y_fit)
            timings[f"{spec.name}_fit_seconds"] = (
                time.perf_counter() - model_started - timings[f"{spec.name}_cv_seconds"]
            )
            prefix = spec.name
            cv_scores[spec.name] = search.cv_score
            best_params[spec.name] = search.best_params
            model_metrics = {spec.cv_metric: search.cv_score, f"{spec.cv_metric}_std": search.cv_score_std}

            with mlflow.start_run(experiment_id=experiment_id, run_name=spec.name, nested=True) as child:
                run_ids[spec.name] = child.info.run_id
                mlflow.log_params(
                    {
                        "model": spec.name,
                        "task": spec.task,
                        "description": spec.description,
                        "grid": json.dumps(list(spec.grid)),
                        "cv": f"{config.n_splits}-fold grouped by unit_id, seed {seed}",
                        **{f"best_{key}": value for key, value in search.best_params.items()},
                        **{f"data_{key}": value for key, value in lineage.items()},
                    }
                )
                mlflow.log_dict({"search": search.table}, "cv_results.json")
                tags: dict[str, str] = {
                    "model": spec.name,
                    "delta_path": lineage["delta_path"],
                    "delta_version": str(data.version),
                    "seed": str(seed),
                    DIGEST_TAG: digest,
                    spec.cv_metric: repr(search.cv_score),
                    "run_id": child.info.run_id,
                }
                if spec.task == "classification":
                    choice = choose_threshold(y_cv, search.oof)
                    thresholds[spec.name] = choice.threshold
                    mlflow.log_params(
                        {
                            THRESHOLD_TAG: repr(choice.threshold),
                            "threshold_method": choice.method,
                            "threshold_source": f"out-of-fold predictions, {len(y_cv)} train rows, "
                            f"{choice.positives} positive",
                        }
                    )
                    model_metrics |= {
                        "oof_f1": choice.f1,
                        "oof_precision": choice.precision,
                        "oof_recall": choice.recall,
                    }
                    tags |= {THRESHOLD_TAG: repr(choice.threshold), "threshold_method": choice.method}
                    p_test = _probability(model, X_eval) if len(X_eval) else np.array([])
                    predictions[spec.name] = p_test
                    if len(X_eval):
                        y_test = label(evaluation)
                        test_metrics = classification_metrics(y_test, p_test, choice.threshold)
                        model_metrics |= {f"test_{key}": value for key, value in test_metrics.items()}
                        if config.plots:
                            _classifier_plots(spec, y_test, p_test, y_cv, search.oof, choice)
                    output_example = model.predict_proba(X_eval.head(5) if len(X_eval) else X_fit.head(5))
                else:
                    rul_test = predict_rul(model, X_eval) if len(X_eval) else np.array([])
                    predictions[spec.name] = rul_test
                    if len(X_eval):
                        test_metrics = regression_metrics(label(evaluation), rul_test)
                        model_metrics |= {f"test_{key}": value for key, value in test_metrics.items()}
                        if config.plots:
                            curves = predict_rul(model, X_test)
                            _regressor_plots(spec, evaluation, rul_test, test, curves, config.plot_units)
                    output_example = predict_rul(model, X_eval.head(5) if len(X_eval) else X_fit.head(5))

                mlflow.log_metrics(model_metrics)
                example = _input_example(X_eval if len(X_eval) else X_fit)
                with warnings.catch_warnings():  # MLflow's own pandas-4 deprecation noise
                    warnings.filterwarnings("ignore", message="Operation with range is deprecated")
                    info = mlflow.sklearn.log_model(
                        model,
                        name="model",
                        signature=infer_signature(example, output_example[: len(example)]),
                        input_example=example,
                        pip_requirements=_pip_requirements(),
                        skops_trusted_types=_own_types(model),
                        pyfunc_predict_fn="predict_proba" if spec.task == "classification" else "predict",
                    )
                registered = mlflow.register_model(info.model_uri, spec.registered_model, tags=tags)
                versions[spec.name] = str(registered.version)
                mlflow.set_tag("registered_model_version", f"{spec.registered_model}/{registered.version}")
                metrics |= {f"{prefix}.{key}": float(value) for key, value in model_metrics.items()}
                timings[f"{spec.name}_seconds"] = time.perf_counter() - model_started

        champions = set_champions(cv_scores, versions, config)
        champion_versions = {registered_model: versions[name] for registered_model, name in champions.items()}
        for registered_model, name in champions.items():
            mlflow.set_tag(f"champion.{registered_model}", f"{name} v{versions[name]}")
        seconds = time.perf_counter() - started
        mlflow.log_metrics({f"timing.{key}": value for key, value in timings.items()} | {"timing.total": seconds})

    return TrainResult(
        delta_path=lineage["delta_path"],
        delta_version=data.version,
        rows=lineage["rows"],
        units=lineage["units"],
        train_rows=lineage["train_rows"],
        train_units=lineage["train_units"],
        test_units_evaluated=lineage["test_units_evaluated"],
        features=features,
        metrics=metrics,
        thresholds=thresholds,
        best_params=best_params,
        experiment_id=experiment_id,
        parent_run_id=parent.info.run_id,
        run_ids=run_ids,
        registered_versions=versions,
        champions=champions,
        champion_versions=champion_versions,
        seconds=seconds,
        timings=timings,
        tracking_uri=uri,
        test_predictions=predictions,
        digest=digest,
        sample=sample,
    )


def _input_example(X: pd.DataFrame, rows: int = 3) -> pd.DataFrame:
    """A few complete rows (JSON has no NaN), or the first rows if none is complete."""
    complete = X.dropna()
    return (complete if len(complete) else X).head(rows).reset_index(drop=True)


# ------------------------------------------------------------------------------------------------- CLI


def report(result: TrainResult) -> str:
    """A short human report of one training."""
    m = result.metrics
    lines = [
        f"{FEATURE_TABLE} v{result.delta_version} ({result.delta_path}): {result.rows:,} rows, {result.units} units;"
        f" train {result.train_rows:,} rows / {result.train_units} units; {len(result.features)} features",
    ]
    if result.sample:
        s = result.sample
        lines.append(
            f"sampled whole units: cv {s['cv_units']} units / {int(s['cv_rows']):,} rows, "
            f"fit {s['fit_units']} units / {int(s['fit_rows']):,} rows"
        )
    if result.reused:
        versions = "; ".join(
            f"{registered_model} "
            + ", ".join(
                f"v{result.registered_versions[spec.name]} ({spec.name})"
                for spec in TrainConfig().models()
                if spec.registered_model == registered_model and spec.name in result.registered_versions
            )
            for registered_model in (CLASSIFIER_NAME, REGRESSOR_NAME)
        )
        lines.append(
            f"nothing new: this training (same Delta version, seed, config and code; {DIGEST_TAG} "
            f"{result.digest}) is already registered: {versions}. Nothing trained or registered; "
            f"'{CHAMPION_ALIAS}' set on the best of them (use --force to train again)"
        )
    else:
        lines.append(
            f"trained in {result.seconds:.1f} s (read {result.timings['read_seconds']:.1f} s; "
            + ", ".join(
                f"{name} {result.timings[f'{name}_seconds']:.1f} s = cv {result.timings[f'{name}_cv_seconds']:.1f}"
                f" + fit {result.timings[f'{name}_fit_seconds']:.1f} + log"
                for name in result.run_ids
            )
            + ")"
        )
    lines += [
        "",
        f"classification {CLASS_LABEL}, test = {result.test_units_evaluated} units at their last observed cycle",
        f"  {'model':<16}{'cv AUC':>8}{'test AUC':>10}{'thresh':>8}{'prec':>7}{'recall':>8}{'F1':>7}  version",
    ]
    for name in ("logreg", "hgb_classifier"):
        if f"{name}.cv_roc_auc" not in m:
            continue
        star = " champion" if result.champions.get(CLASSIFIER_NAME) == name else ""
        lines.append(
            f"  {name:<16}{m[f'{name}.cv_roc_auc']:>8.3f}{m.get(f'{name}.test_roc_auc', math.nan):>10.3f}"
            f"{result.thresholds[name]:>8.3f}{m.get(f'{name}.test_precision', math.nan):>7.2f}"
            f"{m.get(f'{name}.test_recall', math.nan):>8.2f}{m.get(f'{name}.test_f1', math.nan):>7.2f}"
            f"  {CLASSIFIER_NAME} v{result.registered_versions[name]}{star}"
        )
    lines += [
        "",
        f"regression {RUL_LABEL}",
        f"  {'model':<16}{'cv RMSE':>8}{'RMSE':>8}{'MAE':>8}{'PHM08':>10}  version",
    ]
    for name in ("ridge", "hgb_regressor"):
        if f"{name}.cv_rmse" not in m:
            continue
        star = " champion" if result.champions.get(REGRESSOR_NAME) == name else ""
        lines.append(
            f"  {name:<16}{m[f'{name}.cv_rmse']:>8.2f}{m.get(f'{name}.test_rmse', math.nan):>8.2f}"
            f"{m.get(f'{name}.test_mae', math.nan):>8.2f}{m.get(f'{name}.test_phm08_score', math.nan):>10.1f}"
            f"  {REGRESSOR_NAME} v{result.registered_versions[name]}{star}"
        )
    lines += [
        "",
        f"MLflow {result.tracking_uri}, parent run {result.parent_run_id}",
        f"browse: mlflow ui --backend-store-uri {result.tracking_uri}",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    paths = Paths.from_env()
    parser = argparse.ArgumentParser(prog="python -m ml.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", type=int, default=None, help="Delta version to train on (default: latest)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--experiment", default=DEFAULT_EXPERIMENT)
    parser.add_argument("--lake", type=Path, default=paths.lake, help=f"lake folder (default {paths.lake})")
    parser.add_argument("--mlflow-dir", type=Path, default=paths.mlflow, help=f"MLflow store (default {paths.mlflow})")
    parser.add_argument("--fast", action="store_true", help="tiny grids (smoke runs)")
    parser.add_argument(
        "--force", action="store_true", help="train and register even if this exact training is registered"
    )
    args = parser.parse_args(argv)
    table = lake.mart_path(args.lake, FEATURE_TABLE)
    try:
        result = train(
            table,
            args.mlflow_dir,
            version=args.version,
            seed=args.seed,
            experiment=args.experiment,
            config=TrainConfig.fast() if args.fast else TrainConfig(),
            force=args.force,
        )
    except (lake.LakeError, ValueError) as error:
        print(error, file=sys.stderr)
        return 2
    print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
