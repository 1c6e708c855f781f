"""Train the failure classifier and the RUL regressor on a pinned Delta version of the gold feature table.

    python -m ml.train [--version N | --as-of TIME] [--seed 42] [--experiment NAME] [--lake DIR]
                       [--mlflow-dir DIR] [--fast] [--force] [--threshold-rule max_f1|min_cost]
                       [--missed-failure-cost C] [--unneeded-maintenance-cost C] [--champion-margin F]
                       [--rul-margin-rule min_phm08|none]

The flow, one named step each (`_train`): read the sample (`ml.data.read_training_sample`) -> prepare the
inputs (`prepare_inputs`) -> log the lineage (`log_lineage`) -> search, fit and log every candidate
(`fit_candidate`, `ml.candidates`, `ml.search`, `ml.plots`) -> per task, pick the best by CV metric
(`pick_candidate`) -> register it (`register_candidate`) -> the champion gate (`ml.registry.champion_gate`)
-> log the decision (`log_decision`).

* Input: `<lake>/gold/fct_unit_cycle_features`, read with DuckDB `delta_scan(path, version => N)`. Without
  `--version` the latest version is resolved to its number once, at start, and recorded everywhere; with
  `--as-of TIME` the version current at that time (`lakehouse.lake.version_as_of`), logged as the param
  `as_of` and the tags `pdm.as_of` / `pdm.as_of_resolved_version`. A table not published yet (no folder, or
  no committed or readable `_delta_log`), a version that does not exist or a time before the table's first
  commit: a one-line message and exit code 2. The units the erasure tombstone (`<landing>/erasures/`,
  `make erase`) names are left out of every read, as `ml.predict` leaves them unscored: a version from before
  an erasure still holds them (the param `erased_units_left_out` counts those left out).
* Rows, features, the unit-grouped CV and the candidates: see `ml.data`, `ml.candidates`, `ml.search`.
  Evaluation = split 'test' at each unit's last observed cycle, units with known labels only.
* The RUL regressor's predictions are lowered by a margin in cycles chosen on its out-of-fold predictions of
  the train units by the rule `rul_margin_rule` (`ml.decision.choose_rul_margin`): the lowest PHM08 score
  where a test series could stop (default `min_phm08`; `none`: no margin). Logged as the param `rul_margin`.
* The classifier's alert threshold is chosen on the out-of-fold predictions of the train units, never on test,
  by the rule `threshold_rule` (`ml.decision`): max F1 (default) or min expected cost with the costs of a
  missed failure (`missed_failure_cost`, 10) and of an unneeded maintenance (`unneeded_maintenance_cost`, 1).
  The rule and the out-of-fold expected cost of both rules are logged on the model's run.
* MLflow (`ml.registry`): one parent run per training (data lineage: Delta path, resolved version, row/unit
  counts, the sampled units and rows, feature list, decision costs), one nested child run per candidate
  (params, CV and test metrics, plots). Per task, ONE version is registered: the candidate with the best
  cross-validated metric (its model logged in its child run; the classifier as a pyfunc whose output carries
  the probability and the decision). The `champion` alias then moves only if the candidate beats the current
  champion on this version's held-out test units by `champion_margin` (`ml.registry.champion_gate`); the
  decision, its reason and both scores are tags of the version and tags / metrics of the parent run, and the
  report prints them.
* Idempotent: every registered version carries the tag `training_digest` (Delta path + version, seed, the
  config fields that shape models, a digest of the training code, and the erased units that version holds and
  the training leaves out; see `training_digest`). When the
  registry already holds a gated candidate of each task with the same digest, nothing is trained or
  registered and no alias moves: the command says so and names the versions. `--force` trains anyway.
* Same Delta version + same seed -> same metrics and same predictions: rows are ordered by (unit_id, cycle),
  the unit sample and the folds are seeded, every estimator gets `random_state=seed`.
* Speed: one OpenMP thread (see TrainConfig); the work is bounded by the row budgets, not by the table size.

Browse the store with `make mlflow-ui`, or the command the report ends with (`browse_command`: the venv's
`mlflow ui` on this store, one worker).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import shlex
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # offline machines: no usage pings

import mlflow
import numpy as np
import pandas as pd
import sklearn
from mlflow.data.delta_dataset_source import DeltaDatasetSource
from mlflow.data.meta_dataset import MetaDataset
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient
from threadpoolctl import threadpool_limits

from lakehouse import lake
from ml import plots
from ml.candidates import (
    CLASSIFIER_NAME,
    DEFAULT_GRIDS,
    FAST_GRIDS,
    REGRESSOR_NAME,
    LateMargin,
    ModelSpec,
    candidate_specs,
    predict_rul,
    probability,
)
from ml.config import Paths, env_number, path_problem, seed_number
from ml.data import (
    CLASS_LABEL,
    FEATURE_TABLE,
    RUL_LABEL,
    TrainingSample,
    erased_units,
    erased_units_in,
    matrix,
    read_training_sample,
    read_unit_rows,
    resolve_version,
)
from ml.decision import (
    RUL_MARGIN_RULES,
    THRESHOLD_RULES,
    DecisionCosts,
    DecisionRule,
    RulMargin,
    choose_decision_rule,
    choose_rul_margin,
    expected_cost,
)
from ml.evaluation import classification_metrics, grouped_folds, regression_metrics
from ml.registry import (
    DIGEST_TAG,
    REGISTERED_MODELS,
    THRESHOLD_TAG,
    GateDecision,
    champion_gate,
    champion_version,
    configure_mlflow,
    decision_from_tags,
    ensure_experiment,
    log_classifier,
    log_regressor,
    register,
    registered_training,
)
from ml.search import SearchResult, fit, grouped_search

DEFAULT_EXPERIMENT = "pdm-predictive-maintenance"


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
    logreg_grid: tuple[dict[str, Any], ...] = DEFAULT_GRIDS["logreg"]
    hgb_classifier_grid: tuple[dict[str, Any], ...] = DEFAULT_GRIDS["hgb_classifier"]
    ridge_grid: tuple[dict[str, Any], ...] = DEFAULT_GRIDS["ridge"]
    hgb_regressor_grid: tuple[dict[str, Any], ...] = DEFAULT_GRIDS["hgb_regressor"]
    # OpenMP threads for HistGradientBoosting. On the shared 2-core box two spinning OpenMP threads ran up
    # to 10x slower than one when other processes were busy (measured), so the default is 1.
    threads: int = 1
    plots: bool = True
    plot_units: int = 3
    # The classifier's alert threshold, chosen out-of-fold on the train units (ml.decision): "max_f1" or
    # "min_cost" (the lowest expected cost with these costs of a missed failure and an unneeded maintenance).
    threshold_rule: str = "max_f1"
    missed_failure_cost: float = 10.0
    unneeded_maintenance_cost: float = 1.0
    # The RUL regressor's late margin, chosen out-of-fold on the train units (ml.decision.choose_rul_margin):
    # "min_phm08" (cycles subtracted from every prediction, lowest PHM08 score) or "none".
    rul_margin_rule: str = "min_phm08"
    # How much better a candidate must be to take the `champion` alias (ml.registry.compare): 0.01 = RMSE 1 %
    # lower / expected decision cost 1 % lower (and F1 not lower).
    champion_margin: float = 0.01

    def __post_init__(self) -> None:
        if self.threshold_rule not in THRESHOLD_RULES:
            raise ValueError(f"threshold_rule {self.threshold_rule!r}: one of {', '.join(THRESHOLD_RULES)}")
        if self.rul_margin_rule not in RUL_MARGIN_RULES:
            raise ValueError(f"rul_margin_rule {self.rul_margin_rule!r}: one of {', '.join(RUL_MARGIN_RULES)}")
        if not 0 <= self.champion_margin < 1:
            raise ValueError(f"champion_margin must be in [0, 1), got {self.champion_margin}")
        self.costs  # noqa: B018 (validates the costs)

    @property
    def costs(self) -> DecisionCosts:
        """The costs of a wrong decision, for the threshold rule, the expected costs and the champion gate."""
        return DecisionCosts(self.missed_failure_cost, self.unneeded_maintenance_cost)

    @classmethod
    def fast(cls) -> TrainConfig:
        """Tiny grids and few trees (`ml.candidates.FAST_GRIDS`): the real code path, in seconds (tests)."""
        return cls(
            n_splits=3,
            logreg_grid=FAST_GRIDS["logreg"],
            hgb_classifier_grid=FAST_GRIDS["hgb_classifier"],
            ridge_grid=FAST_GRIDS["ridge"],
            hgb_regressor_grid=FAST_GRIDS["hgb_regressor"],
        )

    def models(self) -> tuple[ModelSpec, ...]:
        """The candidates this configuration searches, with its grids."""
        return candidate_specs(
            {
                "logreg": self.logreg_grid,
                "hgb_classifier": self.hgb_classifier_grid,
                "ridge": self.ridge_grid,
                "hgb_regressor": self.hgb_regressor_grid,
            }
        )


@dataclass
class TrainResult:
    """What one training did. `metrics` keys are `<model>.<metric>`; deterministic for (version, seed).

    `reused` is True when the store already held this exact training (same digest, see `training_digest`):
    nothing was trained or registered, and the fields describe the existing versions and their gate decisions.
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
    thresholds: dict[str, float]  # classifier model name -> its decision threshold
    threshold_rules: dict[str, str]  # classifier model name -> the rule that chose it (ml.decision)
    margins: dict[str, float]  # regressor model name -> cycles its predictions are lowered by (ml.decision)
    best_params: dict[str, dict[str, Any]]
    experiment_id: str
    parent_run_id: str
    run_ids: dict[str, str]  # model name -> its child run
    candidates: dict[str, str]  # registered model -> the model name it registered (best by CV metric)
    registered_versions: dict[str, str]  # registered model -> the candidate's version
    decisions: dict[str, GateDecision]  # registered model -> the champion gate's decision
    champions: dict[str, str]  # registered model -> model name of the version carrying the alias
    champion_versions: dict[str, str]  # registered model -> version carrying the alias
    seconds: float
    timings: dict[str, float]
    tracking_uri: str
    test_predictions: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    digest: str = ""
    reused: bool = False
    sample: dict[str, Any] = field(default_factory=dict)  # cv/fit units and rows actually used
    as_of: str | None = None  # the timestamp the version was resolved from, if one was given


# TrainConfig fields that change what is logged, how fast, or who becomes champion; never the models or metrics.
DIGEST_IGNORES = frozenset({"threads", "plots", "plot_units", "champion_margin"})
# The modules whose code shapes the models and metrics (plots, the registry and the CLI do not).
CODE_FILES = tuple(
    Path(__file__).resolve().with_name(name)
    for name in ("train.py", "data.py", "candidates.py", "search.py", "evaluation.py", "decision.py", "pyfunc.py")
)


def code_version() -> str:
    """A digest of the training code (CODE_FILES) and the library versions it runs on."""
    digest = hashlib.sha256()
    for path in CODE_FILES:
        digest.update(path.read_bytes())
    digest.update(f"sklearn {sklearn.__version__} numpy {np.__version__} pandas {pd.__version__}".encode())
    return digest.hexdigest()[:16]


def training_digest(
    table_path: Path, version: int, seed: int, config: TrainConfig, left_out: Sequence[str] = ()
) -> str:
    """What identifies a training: Delta path + version, seed, the config fields that shape models, code, and
    the erased units of that version it leaves out (`left_out`; none: the digest of a training before them).

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
    if left_out:
        payload["erased_units_left_out"] = sorted(left_out)
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=repr).encode()).hexdigest()[:32]


def resolve_training_version(table_path: Path, version: int | None, as_of: str | None) -> int:
    """The Delta version to train on: `version`, the one current at `as_of` (`lake.version_as_of`), or the
    latest. Both given: ValueError. Errors name the table (`lake.LakeError`)."""
    if version is not None and as_of is not None:
        raise ValueError("give a Delta version or an as-of time, not both")
    if as_of is not None:
        version = lake.version_as_of(Path(table_path), as_of)
    return resolve_version(table_path, version)


def train(
    table_path: Path,
    mlflow_dir: Path,
    version: int | None = None,
    seed: int = 42,
    experiment: str = DEFAULT_EXPERIMENT,
    config: TrainConfig | None = None,
    force: bool = False,
    as_of: str | None = None,
    landing: Path | None = None,
) -> TrainResult:
    """Train, evaluate and log every candidate on one pinned version of the feature table; register each
    task's best candidate and let it through the champion gate (`ml.registry.champion_gate`). `landing`: the
    units its erasure tombstone names are left out (a version from before an erasure still holds them).

    When the registry already holds this training's candidates (same digest: Delta path and version, seed,
    config and code), nothing is trained or registered and no alias moves: the existing versions and their
    recorded decisions are returned (`reused=True`). `force=True` trains and registers anyway (the gate then
    keeps the champion unless the new candidate beats it).
    """
    config = config or TrainConfig()
    table_path, mlflow_dir = Path(table_path), Path(mlflow_dir)
    resolved = resolve_training_version(table_path, version, as_of)
    left_out = erased_units_in(table_path, resolved, erased_units(landing))
    digest = training_digest(table_path, resolved, seed, config, left_out)
    uri = configure_mlflow(mlflow_dir)
    if not force:
        existing = registered_training(digest)
        if existing is not None:
            return reuse_training(existing, digest, uri, as_of)
    with threadpool_limits(limits=config.threads):
        return _train(table_path, mlflow_dir, resolved, seed, experiment, config, digest, as_of, left_out)


def _param_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def reuse_training(existing: dict[str, ModelVersion], digest: str, uri: str, as_of: str | None) -> TrainResult:
    """The result of an identical earlier training, read back from its runs and its versions' tags."""
    started = time.perf_counter()
    client = MlflowClient()
    first = client.get_run(existing[CLASSIFIER_NAME].run_id)
    parent_run_id = first.data.tags.get("mlflow.parentRunId", "")
    parent = client.get_run(parent_run_id)
    params = parent.data.params
    children = client.search_runs(
        [first.info.experiment_id], f"tags.mlflow.parentRunId = '{parent_run_id}'", max_results=100
    )
    runs = {run.data.params["model"]: run for run in children if "model" in run.data.params}
    metrics: dict[str, float] = {}
    thresholds: dict[str, float] = {}
    rules: dict[str, str] = {}
    margins: dict[str, float] = {}
    best_params: dict[str, dict[str, Any]] = {}
    for name, run in runs.items():
        metrics |= {f"{name}.{key}": value for key, value in run.data.metrics.items()}
        best_params[name] = {
            key.removeprefix("best_"): _param_value(value)
            for key, value in run.data.params.items()
            if key.startswith("best_")
        }
        if THRESHOLD_TAG in run.data.params:
            thresholds[name] = float(run.data.params[THRESHOLD_TAG])
            rules[name] = run.data.params.get("threshold_rule", "max_f1")
        if "rul_margin" in run.data.params:
            margins[name] = float(run.data.params["rul_margin"])
    lineage = json.loads(Path(client.download_artifacts(parent_run_id, "data/lineage.json")).read_text())
    champions = current_champions()
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
        threshold_rules=rules,
        margins=margins,
        best_params=best_params,
        experiment_id=first.info.experiment_id,
        parent_run_id=parent_run_id,
        run_ids={name: run.info.run_id for name, run in runs.items()},
        candidates={model: version.tags.get("model", "") for model, version in existing.items()},
        registered_versions={model: str(version.version) for model, version in existing.items()},
        decisions={model: decision_from_tags(version) for model, version in existing.items()},
        champions={model: name for model, (name, _) in champions.items()},
        champion_versions={model: version for model, (_, version) in champions.items()},
        seconds=time.perf_counter() - started,
        timings={},
        tracking_uri=uri,
        digest=digest,
        reused=True,
        sample={key: int(params[key]) for key in ("cv_units", "cv_rows", "fit_units", "fit_rows") if key in params},
        as_of=as_of,
    )


def current_champions() -> dict[str, tuple[str, str]]:
    """registered model -> (model name, version) of the version carrying the `champion` alias now."""
    found = {}
    for registered_model in REGISTERED_MODELS:
        version = champion_version(registered_model)
        if version is not None:
            found[registered_model] = (version.tags.get("model", ""), str(version.version))
    return found


# ------------------------------------------------------------------------------------------ the steps


LABELS = {
    "classification": lambda frame: frame[CLASS_LABEL].astype(int).to_numpy(),
    "regression": lambda frame: frame[RUL_LABEL].astype(float).to_numpy(),
}


@dataclass(frozen=True)
class TrainingInputs:
    """The matrices and folds every candidate is searched, fitted and evaluated on."""

    data: TrainingSample
    folds: list[tuple[np.ndarray, np.ndarray]]
    X_cv: pd.DataFrame
    X_fit: pd.DataFrame
    X_eval: pd.DataFrame
    curves: pd.DataFrame  # every row of a few test units (plots), empty without plots
    X_curves: pd.DataFrame


def prepare_inputs(table_path: Path, data: TrainingSample, config: TrainConfig, seed: int) -> TrainingInputs:
    """Step 2: folds grouped by unit over the CV rows, and the model inputs of CV, fit, evaluation and plots."""
    cv_frame = data.cv
    curve_units = plots.curve_units(data.evaluation, config.plot_units) if config.plots else []
    curves = read_unit_rows(table_path, data.version, curve_units, [*data.features, RUL_LABEL])
    return TrainingInputs(
        data=data,
        folds=grouped_folds(cv_frame["unit_id"].to_numpy(), config.n_splits, seed),
        X_cv=matrix(cv_frame, data.features),
        X_fit=matrix(data.fit, data.features),
        X_eval=matrix(data.evaluation, data.features),
        curves=curves,
        X_curves=matrix(curves, data.features),
    )


def lineage_params(table_path: Path, data: TrainingSample, config: TrainConfig, seed: int, digest: str) -> dict:
    """What the training used: Delta path and version, counts, the sample, the features, the code."""
    return {
        "delta_path": str(Path(table_path).resolve()),
        "delta_version": data.version,
        "seed": seed,
        "rows": data.stats["rows"],
        "units": data.stats["units"],
        "train_rows": data.stats["train_rows"],
        "train_units": data.stats["train_units"],
        "cv_units": len(data.cv_units),
        "cv_rows": int(data.fit["unit_id"].isin(data.cv_units).sum()),
        "fit_units": len(data.fit_units),
        "fit_rows": len(data.fit),
        "sampling": "whole units, seeded, stratified by dataset; cv units within the fit units",
        "test_units_evaluated": len(data.evaluation),
        "test_last_cycle_rows": len(data.evaluation),
        "n_features": len(data.features),
        "n_splits": config.n_splits,
        "datasets": data.stats["datasets"],
        "erased_units_left_out": data.stats["erased_units_left_out"],
        "code_version": code_version(),
        DIGEST_TAG: digest,
    }


def log_lineage(table_path: Path, data: TrainingSample, lineage: dict, config: TrainConfig, as_of: str | None) -> None:
    """Step 3: the parent run's params, tags, lineage artifact and dataset inputs."""
    mlflow.log_params(
        lineage
        | {
            "as_of": as_of or "",
            "threshold_rule": config.threshold_rule,
            "missed_failure_cost": config.missed_failure_cost,
            "unneeded_maintenance_cost": config.unneeded_maintenance_cost,
            "champion_margin": config.champion_margin,
        }
    )
    tags = {
        "pdm.delta_path": lineage["delta_path"],
        "pdm.delta_version": str(data.version),
        f"pdm.{DIGEST_TAG}": lineage[DIGEST_TAG],
    }
    if as_of is not None:
        tags |= {"pdm.as_of": as_of, "pdm.as_of_resolved_version": str(data.version)}
    mlflow.set_tags(tags)
    mlflow.log_dict(
        {"features": data.features, **lineage, "cv_unit_ids": data.cv_units, "fit_unit_ids": data.fit_units},
        "data/lineage.json",
    )
    # Dataset lineage as metadata only (the Delta path + version identify the data): MLflow's pandas
    # datasets infer a schema row by row, which took 30 s on 160k rows.
    source = DeltaDatasetSource(path=str(Path(table_path).resolve()), delta_table_version=data.version)
    for role, context, rows in (
        ("train", "training", lineage["fit_rows"]),
        ("test_last_cycle", "evaluation", lineage["test_last_cycle_rows"]),
    ):
        dataset = MetaDataset(source, name=f"{FEATURE_TABLE}@v{data.version}:{role}")
        mlflow.log_input(dataset, context=context, tags={"rows": str(rows)})


@dataclass
class CandidateFit:
    """One candidate after its search and final fit, logged to its child run (no model artifact yet)."""

    spec: ModelSpec
    model: Any
    search: SearchResult
    run_id: str
    metrics: dict[str, float]
    test_prediction: np.ndarray
    rule: DecisionRule | None  # classifiers only
    seconds: dict[str, float]
    margin: RulMargin | None = None  # regressors only


def with_late_margin(
    spec: ModelSpec, model: Any, cv: pd.DataFrame, y_cv: np.ndarray, oof: np.ndarray, rule: str
) -> tuple[Any, RulMargin | None]:
    """A fitted regressor lowered by the margin `rule` picks on its out-of-fold predictions over the CV rows
    `cv` (whole units: unit_id, cycle), and that margin; a classifier (or a zero margin) is returned as is."""
    if spec.task != "regression":
        return model, None
    margin = choose_rul_margin(y_cv, oof, cv["unit_id"].to_numpy(), cv["cycle"].to_numpy(), rule)
    return (LateMargin.around(model, margin.margin) if margin.margin else model), margin


def fit_candidate(
    spec: ModelSpec, inputs: TrainingInputs, config: TrainConfig, seed: int, lineage: dict, experiment_id: str
) -> CandidateFit:
    """Step 4, per candidate: grouped grid search, final fit, the decision rule (classifiers), test metrics and
    plots, all logged to a nested child run."""
    started = time.perf_counter()
    data, label = inputs.data, LABELS[spec.task]
    y_cv, y_fit = label(data.cv), label(data.fit)
    search = grouped_search(spec, inputs.X_cv, y_cv, inputs.folds, seed)
    cv_seconds = time.perf_counter() - started
    model = fit(spec.build, search.best_params, seed, inputs.X_fit, y_fit)
    model, margin = with_late_margin(spec, model, data.cv, y_cv, search.oof, config.rul_margin_rule)
    seconds = {"cv": cv_seconds, "fit": time.perf_counter() - started - cv_seconds}
    metrics = {spec.cv_metric: search.cv_score, f"{spec.cv_metric}_std": search.cv_score_std}
    has_eval = len(inputs.X_eval) > 0
    rule = None
    with mlflow.start_run(experiment_id=experiment_id, run_name=spec.name, nested=True) as child:
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
        if spec.task == "classification":
            rule = choose_decision_rule(y_cv, search.oof, config.threshold_rule, config.costs)
            max_f1 = choose_decision_rule(y_cv, search.oof, "max_f1", config.costs)
            min_cost = choose_decision_rule(y_cv, search.oof, "min_cost", config.costs)
            mlflow.log_params(
                {
                    THRESHOLD_TAG: repr(rule.threshold),
                    "threshold_rule": rule.rule,
                    "threshold_method": rule.method,
                    "threshold_source": f"out-of-fold predictions, {rule.n} train rows, {rule.positives} positive",
                }
            )
            metrics |= {
                "oof_f1": rule.f1,
                "oof_precision": rule.precision,
                "oof_recall": rule.recall,
                "oof_expected_cost": rule.expected_cost,
                "oof_expected_cost_max_f1": max_f1.expected_cost,
                "oof_expected_cost_min_cost": min_cost.expected_cost,
            }
            prediction = probability(model, inputs.X_eval) if has_eval else np.array([])
            if has_eval:
                y_test = label(data.evaluation)
                test = classification_metrics(y_test, prediction, rule.threshold)
                test["expected_cost"] = expected_cost(y_test, prediction, rule.threshold, config.costs)
                metrics |= {f"test_{key}": value for key, value in test.items()}
                if config.plots:
                    plots.classifier_plots(spec.name, y_test, prediction, y_cv, search.oof, rule.threshold)
        else:
            assert margin is not None
            mlflow.log_params(
                {"rul_margin": margin.margin, "rul_margin_rule": margin.rule, "rul_margin_method": margin.method}
            )
            metrics |= {"oof_phm08_per_row": margin.phm08_before, "oof_phm08_per_row_with_margin": margin.phm08_after}
            prediction = predict_rul(model, inputs.X_eval) if has_eval else np.array([])
            if has_eval:
                metrics |= {f"test_{k}": v for k, v in regression_metrics(label(data.evaluation), prediction).items()}
                if config.plots:
                    curves = predict_rul(model, inputs.X_curves)
                    plots.regressor_plots(
                        spec.name, data.evaluation, prediction, inputs.curves, curves, config.plot_units
                    )
        mlflow.log_metrics(metrics)
        run_id = child.info.run_id
    seconds["total"] = time.perf_counter() - started
    return CandidateFit(spec, model, search, run_id, metrics, prediction, rule, seconds, margin)


def pick_candidate(fits: dict[str, CandidateFit], registered_model: str) -> CandidateFit:
    """Step 5: the task's best fit by cross-validated metric (never by the test metric); first wins ties."""
    competing = [f for f in fits.values() if f.spec.registered_model == registered_model]
    better = max if competing[0].spec.greater_is_better else min
    return better(competing, key=lambda f: f.search.cv_score)


def register_candidate(
    candidate: CandidateFit, inputs: TrainingInputs, lineage: dict, config: TrainConfig, experiment_id: str
) -> str:
    """Step 6: log the candidate's model in its child run and register it; returns the version."""
    X = inputs.X_eval if len(inputs.X_eval) else inputs.X_fit
    example = _input_example(X)
    spec = candidate.spec
    tags = {
        "model": spec.name,
        "delta_path": lineage["delta_path"],
        "delta_version": str(lineage["delta_version"]),
        "seed": str(lineage["seed"]),
        DIGEST_TAG: lineage[DIGEST_TAG],
        spec.cv_metric: repr(candidate.search.cv_score),
        "run_id": candidate.run_id,
    }
    with (
        mlflow.start_run(run_id=candidate.run_id, experiment_id=experiment_id, nested=True),
        warnings.catch_warnings(),  # MLflow's own pandas-4 deprecation noise
    ):
        warnings.filterwarnings("ignore", message="Operation with range is deprecated")
        if candidate.rule is not None:
            rule = candidate.rule
            info = log_classifier(candidate.model, rule, config.costs, example)
            tags |= {
                THRESHOLD_TAG: repr(rule.threshold),
                "threshold_rule": rule.rule,
                "threshold_method": rule.method,
                "oof_expected_cost": repr(rule.expected_cost),
                "missed_failure_cost": repr(config.missed_failure_cost),
                "unneeded_maintenance_cost": repr(config.unneeded_maintenance_cost),
            }
        else:
            info = log_regressor(candidate.model, example, predict_rul(candidate.model, example))
        version = register(info.model_uri, spec.registered_model, tags)
        mlflow.set_tag("registered_model_version", f"{spec.registered_model}/{version}")
    return version


def log_decision(decision: GateDecision) -> None:
    """Step 7: the gate's decision and both held-out scores on the parent run."""
    key = f"gate.{decision.registered_model}"
    mlflow.set_tags(
        {
            f"{key}.decision": "promoted" if decision.promoted else "kept",
            f"{key}.reason": decision.reason[:5000],
            f"{key}.candidate_version": decision.candidate_version,
            f"{key}.previous_champion": decision.previous_champion or "none",
            f"champion.{decision.registered_model}": f"v{decision.champion_version}",
        }
    )
    mlflow.log_metrics(
        {f"{key}.candidate_{name}": value for name, value in decision.candidate_scores.items()}
        | {f"{key}.champion_{name}": value for name, value in decision.champion_scores.items()}
    )


def _train(
    table_path: Path,
    mlflow_dir: Path,
    version: int,
    seed: int,
    experiment: str,
    config: TrainConfig,
    digest: str,
    as_of: str | None,
    left_out: Sequence[str],
) -> TrainResult:
    started = time.perf_counter()
    data = read_training_sample(
        table_path, version, seed, config.cv_max_rows, config.fit_max_rows, config.n_splits, left_out
    )
    timings = {"read_seconds": time.perf_counter() - started}
    inputs = prepare_inputs(table_path, data, config, seed)
    lineage = lineage_params(table_path, data, config, seed, digest)
    uri = configure_mlflow(mlflow_dir)
    experiment_id = ensure_experiment(experiment, mlflow_dir)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"train delta v{data.version} seed {seed}") as parent:
        log_lineage(table_path, data, lineage, config, as_of)
        fits = {
            spec.name: fit_candidate(spec, inputs, config, seed, lineage, experiment_id) for spec in config.models()
        }
        candidates, versions, decisions = {}, {}, {}
        for registered_model in REGISTERED_MODELS:
            candidate = pick_candidate(fits, registered_model)
            candidates[registered_model] = candidate.spec.name
            versions[registered_model] = register_candidate(candidate, inputs, lineage, config, experiment_id)
            label = LABELS[candidate.spec.task](data.evaluation) if len(data.evaluation) else np.array([])
            decisions[registered_model] = champion_gate(
                registered_model,
                versions[registered_model],
                data.evaluation,
                label,
                config.costs,
                config.champion_margin,
            )
            log_decision(decisions[registered_model])
        for name, candidate_fit in fits.items():
            timings |= {
                f"{name}_{key}_seconds" if key != "total" else f"{name}_seconds": value
                for key, value in candidate_fit.seconds.items()
            }
        seconds = time.perf_counter() - started
        mlflow.log_metrics({f"timing.{key}": value for key, value in timings.items()} | {"timing.total": seconds})
    champions = current_champions()
    return TrainResult(
        delta_path=lineage["delta_path"],
        delta_version=data.version,
        rows=lineage["rows"],
        units=lineage["units"],
        train_rows=lineage["train_rows"],
        train_units=lineage["train_units"],
        test_units_evaluated=lineage["test_units_evaluated"],
        features=data.features,
        metrics={f"{name}.{key}": float(value) for name, f in fits.items() for key, value in f.metrics.items()},
        thresholds={name: f.rule.threshold for name, f in fits.items() if f.rule is not None},
        threshold_rules={name: f.rule.rule for name, f in fits.items() if f.rule is not None},
        margins={name: f.margin.margin for name, f in fits.items() if f.margin is not None},
        best_params={name: f.search.best_params for name, f in fits.items()},
        experiment_id=experiment_id,
        parent_run_id=parent.info.run_id,
        run_ids={name: f.run_id for name, f in fits.items()},
        candidates=candidates,
        registered_versions=versions,
        decisions=decisions,
        champions={model: name for model, (name, _) in champions.items()},
        champion_versions={model: version for model, (_, version) in champions.items()},
        seconds=seconds,
        timings=timings,
        tracking_uri=uri,
        test_predictions={name: f.test_prediction for name, f in fits.items()},
        digest=digest,
        sample={key: lineage[key] for key in ("cv_units", "cv_rows", "fit_units", "fit_rows")},
        as_of=as_of,
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
    if result.as_of is not None:
        lines.append(f"as of {result.as_of}: Delta v{result.delta_version} was the current version then")
    if result.sample:
        s = result.sample
        lines.append(
            f"sampled whole units: cv {s['cv_units']} units / {int(s['cv_rows']):,} rows, "
            f"fit {s['fit_units']} units / {int(s['fit_rows']):,} rows"
        )
    if result.reused:
        versions = "; ".join(
            f"{model} v{version} ({result.candidates.get(model, '?')})"
            for model, version in result.registered_versions.items()
        )
        lines.append(
            f"nothing new: this training (same Delta version, seed, config and code; {DIGEST_TAG} "
            f"{result.digest}) is already registered: {versions}. Nothing trained or registered, no alias "
            f"moved (use --force to train again)"
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

    def marks(registered_model: str, name: str) -> str:
        if result.candidates.get(registered_model) != name:
            return ""
        version = result.registered_versions[registered_model]
        is_champion = result.champion_versions.get(registered_model) == version
        return f"  candidate v{version}" + (" = champion" if is_champion else "")

    lines += [
        "",
        f"classification {CLASS_LABEL}, test = {result.test_units_evaluated} units with known RUL at their last "
        "observed cycle",
        f"  {'model':<16}{'cv AUC':>8}{'test AUC':>10}{'thresh':>8}{'rule':>9}{'prec':>7}{'recall':>8}{'F1':>7}"
        f"{'oof cost':>10}",
    ]
    for name in ("logreg", "hgb_classifier"):
        if f"{name}.cv_roc_auc" not in m:
            continue
        lines.append(
            f"  {name:<16}{m[f'{name}.cv_roc_auc']:>8.3f}{m.get(f'{name}.test_roc_auc', math.nan):>10.3f}"
            f"{result.thresholds[name]:>8.3f}{result.threshold_rules.get(name, '?'):>9}"
            f"{m.get(f'{name}.test_precision', math.nan):>7.2f}"
            f"{m.get(f'{name}.test_recall', math.nan):>8.2f}{m.get(f'{name}.test_f1', math.nan):>7.2f}"
            f"{m.get(f'{name}.oof_expected_cost', math.nan):>10.3f}{marks(CLASSIFIER_NAME, name)}"
        )
    lines += [
        "",
        f"regression {RUL_LABEL}",
        f"  {'model':<16}{'cv RMSE':>8}{'RMSE':>8}{'MAE':>8}{'PHM08':>10}{'margin':>8}",
    ]
    for name in ("ridge", "hgb_regressor"):
        if f"{name}.cv_rmse" not in m:
            continue
        lines.append(
            f"  {name:<16}{m[f'{name}.cv_rmse']:>8.2f}{m.get(f'{name}.test_rmse', math.nan):>8.2f}"
            f"{m.get(f'{name}.test_mae', math.nan):>8.2f}{m.get(f'{name}.test_phm08_score', math.nan):>10.1f}"
            f"{result.margins.get(name, math.nan):>8.2f}{marks(REGRESSOR_NAME, name)}"
        )
    if result.reused:  # the decisions recorded then: a "PROMOTED" here read as a promotion by this run
        lines += ["", "champion gate, as recorded when those versions were registered (nothing was gated now)"]
    else:
        lines += ["", "champion gate (held-out: the test units' last observed cycle of this Delta version)"]
    lines += [f"  {decision.line()}" for decision in result.decisions.values()]
    lines += [
        "  champions now: " + ", ".join(f"{model} v{version}" for model, version in result.champion_versions.items()),
        "",
        f"MLflow {result.tracking_uri}, parent run {result.parent_run_id}",
        f"browse: {browse_command(result.tracking_uri)}",
    ]
    return "\n".join(lines)


def browse_command(tracking_uri: str) -> str:
    """A shell command that serves the MLflow UI on `tracking_uri`, runnable as printed from any folder.

    The `mlflow` beside this interpreter (the venv's, absolute: not on PATH unless the venv is
    activated), one server worker (mlflow's default is 4), MLflow's job runner off (GenAI jobs, unused here;
    one process less), on http://127.0.0.1:5000 (add `--port N` for another).
    """
    script = Path(sys.executable).with_name("mlflow")
    program = shlex.quote(str(script)) if script.exists() else "mlflow"
    store = shlex.quote(tracking_uri)
    return f"MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false {program} ui --workers 1 --backend-store-uri {store}"


def main(argv: Sequence[str] | None = None) -> int:
    paths = Paths.from_env()
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(prog="python -m ml.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", type=int, default=None, help="Delta version to train on (default: latest)")
    parser.add_argument(
        "--as-of", default=None, help="train on the Delta version current at this ISO-8601 time (UTC if no zone)"
    )
    parser.add_argument(
        "--seed", type=seed_number, default=42, help="seeds the unit sample, the folds and every model (0 to 2**32 - 1)"
    )
    parser.add_argument("--experiment", default=DEFAULT_EXPERIMENT)
    parser.add_argument("--lake", type=Path, default=paths.lake, help=f"lake folder (default {paths.lake})")
    parser.add_argument("--mlflow-dir", type=Path, default=paths.mlflow, help=f"MLflow store (default {paths.mlflow})")
    parser.add_argument("--fast", action="store_true", help="tiny grids (smoke runs)")
    parser.add_argument(
        "--force", action="store_true", help="train and register even if this exact training is registered"
    )
    parser.add_argument(
        "--threshold-rule",
        choices=THRESHOLD_RULES,
        default=os.environ.get("PDM_THRESHOLD_RULE") or defaults.threshold_rule,
        help="how the classifier's alert threshold is chosen out-of-fold (env PDM_THRESHOLD_RULE; default %(default)s)",
    )
    parser.add_argument(
        "--rul-margin-rule",
        choices=RUL_MARGIN_RULES,
        default=os.environ.get("PDM_RUL_MARGIN_RULE") or defaults.rul_margin_rule,
        help="how many cycles the RUL regressor's predictions are lowered by, chosen out-of-fold "
        "(env PDM_RUL_MARGIN_RULE; default %(default)s)",
    )
    parser.add_argument(
        "--missed-failure-cost",
        type=float,
        default=env_number("PDM_MISSED_FAILURE_COST", defaults.missed_failure_cost),
        help="cost of a failure with no alert (env PDM_MISSED_FAILURE_COST; default %(default)s)",
    )
    parser.add_argument(
        "--unneeded-maintenance-cost",
        type=float,
        default=env_number("PDM_UNNEEDED_MAINTENANCE_COST", defaults.unneeded_maintenance_cost),
        help="cost of an alert on a unit that does not fail within 30 cycles (env PDM_UNNEEDED_MAINTENANCE_COST; "
        "default %(default)s)",
    )
    parser.add_argument(
        "--champion-margin",
        type=float,
        default=env_number("PDM_CHAMPION_MARGIN", defaults.champion_margin),
        help="how much better (a fraction) a candidate must be to take the champion alias "
        "(env PDM_CHAMPION_MARGIN; default %(default)s)",
    )
    args = parser.parse_args(argv)
    given = set(argv if argv is not None else sys.argv[1:])
    for variable, value, allowed in (  # an option's value is a choice already: a bad one comes from the variable
        ("PDM_THRESHOLD_RULE", args.threshold_rule, THRESHOLD_RULES),
        ("PDM_RUL_MARGIN_RULE", args.rul_margin_rule, RUL_MARGIN_RULES),
    ):
        if value not in allowed:  # argparse checks an option's choices, never a default read from the environment
            print(f"{variable}={value!r} is not one of {', '.join(allowed)}", file=sys.stderr)
            return 2
    for option, cost in (  # from the environment, env_number has checked it already
        ("--missed-failure-cost", args.missed_failure_cost),
        ("--unneeded-maintenance-cost", args.unneeded_maintenance_cost),
    ):
        if not (math.isfinite(cost) and cost >= 0):
            print(f"{option} must be a finite number of 0 or more, not {cost:g}", file=sys.stderr)
            return 2
    if args.missed_failure_cost == 0 and args.unneeded_maintenance_cost == 0:
        # no decision would cost anything: the min-cost threshold alerted on every unit, and the champion gate's
        # "expected cost lower by champion_margin" (0 vs 0) never let a classifier candidate through again
        print(
            "the cost of a missed failure and of an unneeded maintenance (--missed-failure-cost, "
            "--unneeded-maintenance-cost; PDM_MISSED_FAILURE_COST, PDM_UNNEEDED_MAINTENANCE_COST) are both 0: "
            "give one above 0 (only their ratio matters)",
            file=sys.stderr,
        )
        return 2
    if not 0 <= args.champion_margin < 1:
        named = (
            "--champion-margin"
            if any(arg.split("=")[0] == "--champion-margin" for arg in given)
            else "PDM_CHAMPION_MARGIN"
        )
        print(f"{named} must be a fraction in [0, 1), not {args.champion_margin:g}", file=sys.stderr)
        return 2
    table = lake.mart_path(args.lake, FEATURE_TABLE)
    try:
        config = dataclasses.replace(
            TrainConfig.fast() if args.fast else TrainConfig(),
            threshold_rule=args.threshold_rule,
            rul_margin_rule=args.rul_margin_rule,
            missed_failure_cost=args.missed_failure_cost,
            unneeded_maintenance_cost=args.unneeded_maintenance_cost,
            champion_margin=args.champion_margin,
        )
        result = train(
            table,
            args.mlflow_dir,
            version=args.version,
            seed=args.seed,
            experiment=args.experiment,
            config=config,
            force=args.force,
            as_of=args.as_of,
            landing=paths.landing,
        )
    except (lake.LakeError, ValueError) as error:
        print(error, file=sys.stderr)
        return 2
    except OSError as error:  # the MLflow folder a file, or not writable: one line, not a traceback
        print(f"train: {path_problem(error)}", file=sys.stderr)
        return 2
    print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
