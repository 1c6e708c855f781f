"""The MLflow store and model registry: where runs go, how models are registered, and who is `champion`.

* Store: a SQLite database `<mlflow dir>/mlflow.db` with artifacts in `<mlflow dir>/artifacts` (MLflow 3.17
  refuses the plain file store unless MLFLOW_ALLOW_FILE_STORE=true, as it is in maintenance mode; SQLite is its
  default and holds runs, the model registry and aliases offline).
* Registered models: `pdm-fails-within-30-cycles` (classifier, logged as the pyfunc of `ml/pyfunc.py`: its
  output carries the probability and the decision at its threshold) and `pdm-rul` (regressor, sklearn flavour).
  A training registers ONE version of each: its candidate (the best of that task's models by CV metric). Every
  version carries the tags `delta_path`, `delta_version` (what it was trained on: `lakehouse.optimize` keeps
  those versions), `training_digest` (what identifies its training) and, for the classifier,
  `decision_threshold`, `threshold_rule` and the decision costs.
* `champion`: the alias scoring (`ml.predict`) loads. It moves only through the gate (`champion_gate`): the
  candidate and the current champion, both loaded from the registry as a consumer loads them, are scored on
  the same held-out rows (the test units' last observed cycle of the training's Delta version), and the alias
  moves only if the candidate is better by the margin (`compare`): RMSE lower by at least `margin` of the
  champion's for `pdm-rul`; F1 not lower AND expected decision cost lower by at least `margin` of the
  champion's for the classifier. The decision, its reason and both scores (`champion_gate_scores`, JSON) are
  tags of the candidate version.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # offline machines: no usage pings

import mlflow
import numpy as np
import pandas as pd
import sklearn
import skops.io
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo
from mlflow.tracking import MlflowClient
from sklearn.base import BaseEstimator

from ml.candidates import CLASSIFIER_NAME, REGRESSOR_NAME
from ml.config import first_line
from ml.data import matrix
from ml.decision import DecisionCosts, DecisionRule, expected_cost
from ml.evaluation import classification_metrics, regression_metrics

REGISTERED_MODELS = (CLASSIFIER_NAME, REGRESSOR_NAME)
CHAMPION_ALIAS = "champion"
THRESHOLD_TAG = "decision_threshold"
DIGEST_TAG = "training_digest"
DECISION_TAG = "champion_decision"  # "promoted" | "kept", set by the gate on every candidate version
SCORES_TAG = "champion_gate_scores"  # JSON: both held-out scores, the units they were computed on, the margin
PYFUNC_FILE = Path(__file__).resolve().with_name("pyfunc.py")
PROBABILITY_COLUMN = "failure_probability"  # the classifier pyfunc's output columns (ml/pyfunc.py)
DECISION_COLUMN = "fails_within_30_cycles"
TASKS = {CLASSIFIER_NAME: "classification", REGRESSOR_NAME: "regression"}


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


def pip_requirements() -> list[str]:
    """The model's requirements, given explicitly: MLflow's inference imports the model in a subprocess (slow)."""
    return [f"scikit-learn=={sklearn.__version__}", f"numpy=={np.__version__}", f"pandas=={pd.__version__}"]


def own_types(model: BaseEstimator) -> list[str]:
    """The types skops would refuse to load from this model. It is the model this process just trained, so
    they are trusted; MLflow stores the list in the MLmodel file and passes it back to skops when loading."""
    return sorted(skops.io.get_untrusted_types(data=skops.io.dumps(model)))


# ------------------------------------------------------------------------------------------- logging


def log_classifier(model: BaseEstimator, rule: DecisionRule, costs: DecisionCosts, example: pd.DataFrame) -> ModelInfo:
    """Log the fitted classifier to the active run as the pyfunc of `ml/pyfunc.py` (probability + decision).

    The pipeline is saved in MLflow's sklearn format (skops, its own types trusted) as the pyfunc's artifact
    `classifier`; the threshold and its rule travel in the model config.
    """
    import tempfile

    output = pd.DataFrame(
        {PROBABILITY_COLUMN: model.predict_proba(example)[:, 1], DECISION_COLUMN: [False] * len(example)}
    )
    output[DECISION_COLUMN] = output[PROBABILITY_COLUMN] >= rule.threshold
    with tempfile.TemporaryDirectory(prefix="pdm-classifier-") as folder:
        saved = Path(folder) / "classifier"
        mlflow.sklearn.save_model(
            model, saved, pip_requirements=pip_requirements(), skops_trusted_types=own_types(model)
        )
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=str(PYFUNC_FILE),
            artifacts={"classifier": str(saved)},
            model_config={
                THRESHOLD_TAG: rule.threshold,
                "threshold_rule": rule.rule,
                "missed_failure_cost": costs.missed_failure,
                "unneeded_maintenance_cost": costs.unneeded_maintenance,
            },
            signature=infer_signature(example, output),
            input_example=example,
            pip_requirements=pip_requirements(),
        )


def log_regressor(model: BaseEstimator, example: pd.DataFrame, output_example: np.ndarray) -> ModelInfo:
    """Log the fitted regressor to the active run (sklearn flavour; pyfunc `predict`)."""
    return mlflow.sklearn.log_model(
        model,
        name="model",
        signature=infer_signature(example, output_example[: len(example)]),
        input_example=example,
        pip_requirements=pip_requirements(),
        skops_trusted_types=own_types(model),
    )


def register(model_uri: str, registered_model: str, tags: dict[str, str]) -> str:
    """Register `model_uri` as a new version of `registered_model` with `tags`; returns the version."""
    return str(mlflow.register_model(model_uri, registered_model, tags=tags).version)


def registered_training(
    digest: str, registered_models: tuple[str, ...] = REGISTERED_MODELS
) -> dict[str, ModelVersion] | None:
    """The newest version of each registered model tagged with `digest` and gated (`champion_decision`), or
    None when one is missing (that training never completed)."""
    client = MlflowClient()
    found: dict[str, ModelVersion] = {}
    for registered_model in registered_models:
        versions = client.search_model_versions(f"name = '{registered_model}' and tags.{DIGEST_TAG} = '{digest}'")
        gated = [v for v in versions if DECISION_TAG in (v.tags or {})]
        if not gated:
            return None
        found[registered_model] = max(gated, key=lambda v: int(v.version))
    return found


# ------------------------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class LoadedModel:
    """One registered model version, loaded as a consumer loads it (`mlflow.pyfunc.load_model`)."""

    name: str
    version: str
    model: Any  # mlflow.pyfunc.PyFuncModel
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        """The input columns of the model's signature, in order."""
        return list(self.model.metadata.get_input_schema().input_names())

    @property
    def threshold(self) -> float:
        """The decision threshold: the pyfunc's model config, else the version's `decision_threshold` tag."""
        value = (self.model.model_config or {}).get(THRESHOLD_TAG, self.tags.get(THRESHOLD_TAG))
        if value is None:
            raise ValueError(f"{self.name} v{self.version} has no '{THRESHOLD_TAG}': retrain it")
        return float(value)

    def classify(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(probability, decision) per row. A classifier registered before the pyfunc (sklearn flavour,
        `predict_proba` output) is decided at its `decision_threshold` tag."""
        output = self.model.predict(X.loc[:, self.features])
        if isinstance(output, pd.DataFrame) and PROBABILITY_COLUMN in output:
            return output[PROBABILITY_COLUMN].to_numpy(dtype=float), output[DECISION_COLUMN].to_numpy(dtype=bool)
        probability = np.asarray(output, dtype=float)[:, 1]
        return probability, probability >= self.threshold

    def rul(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted remaining useful life, floored at 0."""
        return np.clip(np.asarray(self.model.predict(X.loc[:, self.features]), dtype=float), 0.0, None)


def load_version(name: str, version: str) -> LoadedModel:
    """`models:/<name>/<version>` from the configured registry, with its tags."""
    model_version = MlflowClient().get_model_version(name, version)
    model = mlflow.pyfunc.load_model(f"models:/{name}/{model_version.version}")
    return LoadedModel(name=name, version=str(model_version.version), model=model, tags=dict(model_version.tags))


def champion_version(name: str) -> ModelVersion | None:
    """The version carrying the `champion` alias, or None (no such registered model, or no alias)."""
    try:
        return MlflowClient().get_model_version_by_alias(name, CHAMPION_ALIAS)
    except MlflowException:
        return None


def load_champion(name: str) -> LoadedModel:
    """`models:/<name>@champion`, loaded by the version the alias resolved to (a training may move it after)."""
    version = MlflowClient().get_model_version_by_alias(name, CHAMPION_ALIAS)
    return load_version(name, str(version.version))


# ---------------------------------------------------------------------------------------------- gate


@dataclass(frozen=True)
class GateDecision:
    """Whether a training's candidate took the `champion` alias, why, and both held-out scores."""

    registered_model: str
    candidate_version: str
    previous_champion: str | None  # the version holding the alias before the gate ran
    promoted: bool
    reason: str
    candidate_scores: dict[str, float]
    champion_scores: dict[str, float]
    holdout_units: int
    margin: float

    @property
    def champion_version(self) -> str | None:
        """The version holding the alias after the gate."""
        return self.candidate_version if self.promoted else self.previous_champion

    def line(self) -> str:
        """One line for the training report."""
        verb = "PROMOTED to champion" if self.promoted else "kept as candidate"
        against = f"champion v{self.previous_champion}" if self.previous_champion else "no champion"
        return f"{self.registered_model}: candidate v{self.candidate_version} {verb} ({against}): {self.reason}"


def holdout_scores(
    model: LoadedModel, task: str, evaluation: pd.DataFrame, label: np.ndarray, costs: DecisionCosts
) -> dict[str, float]:
    """The gate's scores of one loaded model on the held-out rows (raises KeyError on missing features).

    Classification: F1, precision, recall, ROC AUC at the model's own decision, and the expected cost per
    decision with `costs`. Regression: RMSE, MAE and PHM08 score of the floored RUL.
    """
    X = matrix(evaluation, model.features)
    if task == "regression":
        return regression_metrics(label, model.rul(X))
    probability, decision = model.classify(X)
    metrics = classification_metrics(label, decision.astype(float), 0.5)
    auc = classification_metrics(label, probability, 0.5)["roc_auc"]
    return {
        "f1": metrics["f1"],
        "precision": metrics["precision"],
        "recall": metrics["recall"],
        "roc_auc": auc,
        "expected_cost": expected_cost(label, decision.astype(float), 0.5, costs),
    }


def compare(task: str, candidate: dict[str, float], champion: dict[str, float], margin: float) -> tuple[bool, str]:
    """(promote?, why): the candidate must beat the champion by `margin` (a fraction) on the same rows.

    Regression: RMSE <= champion RMSE x (1 - margin). Classification: F1 >= champion F1 AND expected cost
    < champion cost and <= champion cost x (1 - margin) (a champion with zero cost cannot be beaten).
    """
    if task == "regression":
        new, old = candidate["rmse"], champion["rmse"]
        needed = old * (1 - margin)
        verdict = new <= needed
        relation = "<=" if verdict else ">"
        return verdict, f"held-out RMSE {new:.3f} {relation} {needed:.3f} (champion {old:.3f} less {margin:.1%})"
    new_f1, old_f1 = (0.0 if math.isnan(x) else x for x in (candidate["f1"], champion["f1"]))
    new_cost, old_cost = candidate["expected_cost"], champion["expected_cost"]
    needed = old_cost * (1 - margin)
    f1_ok, cost_ok = new_f1 >= old_f1, new_cost < old_cost and new_cost <= needed
    text = (
        f"held-out F1 {new_f1:.3f} vs {old_f1:.3f} ({'not lower' if f1_ok else 'LOWER'}), expected cost "
        f"{new_cost:.3f} vs {old_cost:.3f} ({'lower by' if cost_ok else 'not lower by'} >= {margin:.1%})"
    )
    return f1_ok and cost_ok, text


def champion_gate(
    registered_model: str,
    candidate_version: str,
    evaluation: pd.DataFrame,
    label: np.ndarray,
    costs: DecisionCosts,
    margin: float,
) -> GateDecision:
    """Score the candidate and the current champion on the same held-out rows; move `champion` only if the
    candidate is better by `margin` (`compare`). Every outcome is recorded on the candidate version's tags.

    No champion yet: the candidate is promoted. A champion that cannot score this version (a feature column
    gone, its artifacts unreadable) is replaced, and the reason names the error. No held-out row with known
    truth: the champion is kept (nothing to compare on).
    """
    task = TASKS[registered_model]
    current = champion_version(registered_model)
    previous = str(current.version) if current is not None else None
    candidate = load_version(registered_model, candidate_version)
    candidate_scores = holdout_scores(candidate, task, evaluation, label, costs) if len(evaluation) else {}
    champion_scores: dict[str, float] = {}
    if previous is None:
        promoted, reason = True, "no champion yet"
    elif not len(evaluation):
        promoted, reason = False, "no held-out test unit with known truth to compare on: champion kept"
    else:
        try:
            champion_scores = holdout_scores(load_version(registered_model, previous), task, evaluation, label, costs)
        except (KeyError, MlflowException, OSError, ValueError) as error:
            first = first_line(error)
            promoted, reason = True, f"champion v{previous} cannot score this version ({first}): replaced"
        else:
            promoted, reason = compare(task, candidate_scores, champion_scores, margin)
    decision = GateDecision(
        registered_model=registered_model,
        candidate_version=candidate_version,
        previous_champion=previous,
        promoted=promoted,
        reason=reason,
        candidate_scores=candidate_scores,
        champion_scores=champion_scores,
        holdout_units=len(evaluation),
        margin=margin,
    )
    record_decision(decision)
    return decision


def record_decision(decision: GateDecision) -> None:
    """Tag the candidate version with the decision and both scores; move the alias if it was promoted."""
    client = MlflowClient()
    # four tags: each write is a SQLite transaction (~60 ms), so the scores travel as one JSON tag
    tags = {
        DECISION_TAG: "promoted" if decision.promoted else "kept",
        "champion_decision_reason": decision.reason,
        "compared_with_version": decision.previous_champion or "none",
        SCORES_TAG: json.dumps(
            {
                "candidate": decision.candidate_scores,
                "champion": decision.champion_scores,
                "holdout_units": decision.holdout_units,
                "margin": decision.margin,
            },
            sort_keys=True,
        ),
    }
    for key, value in tags.items():
        client.set_model_version_tag(decision.registered_model, decision.candidate_version, key, value)
    if decision.promoted:
        client.set_registered_model_alias(decision.registered_model, CHAMPION_ALIAS, decision.candidate_version)
        what = (
            "P(fails within 30 cycles) and the alert decision"
            if TASKS[decision.registered_model] == "classification"
            else "RUL (capped)"
        )
        client.update_registered_model(
            decision.registered_model,
            description=f"{what} from fct_unit_cycle_features; alias '{CHAMPION_ALIAS}' moves only when a "
            "training's candidate beats it on the same held-out test units by the champion margin.",
        )


def decision_from_tags(version: ModelVersion) -> GateDecision:
    """The gate's decision as recorded on a candidate version's tags (for a training that is reused)."""
    tags = dict(version.tags or {})
    previous = tags.get("compared_with_version", "none")
    scores = json.loads(tags.get(SCORES_TAG, "{}"))
    return GateDecision(
        registered_model=version.name,
        candidate_version=str(version.version),
        previous_champion=None if previous == "none" else previous,
        promoted=tags.get(DECISION_TAG) == "promoted",
        reason=tags.get("champion_decision_reason", ""),
        candidate_scores=scores.get("candidate", {}),
        champion_scores=scores.get("champion", {}),
        holdout_units=int(scores.get("holdout_units", 0)),
        margin=float(scores.get("margin", math.nan)),
    )


def champion_summary(mlflow_dir: Path) -> list[str]:
    """Lines naming each champion version, its training data and, for the classifier, the decision rule and
    its expected cost (read from the registry's tags; no model is loaded). Empty without a store."""
    if not store_file(mlflow_dir).exists():
        return []
    configure_mlflow(mlflow_dir)
    lines = []
    for name in REGISTERED_MODELS:
        version = champion_version(name)
        if version is None:
            lines.append(f"{name}: no champion")
            continue
        tags = dict(version.tags or {})
        line = f"{name} v{version.version} ({tags.get('model', '?')}, Delta v{tags.get('delta_version', '?')})"
        if name == CLASSIFIER_NAME:
            line += (
                f": alert at P >= {float(tags.get(THRESHOLD_TAG, 'nan')):.3f}, "
                f"rule {tags.get('threshold_rule', 'max_f1')}, "
                f"expected cost {float(tags.get('oof_expected_cost', 'nan')):.3f} per decision out-of-fold "
                f"(missed failure {tags.get('missed_failure_cost', '?')}, unneeded maintenance "
                f"{tags.get('unneeded_maintenance_cost', '?')})"
            )
        else:
            scores = json.loads(tags.get(SCORES_TAG, "{}"))
            rmse = scores.get("candidate", {}).get("rmse", math.nan)
            # a fleet with no test unit with known truth (train only): nothing was held out, no RMSE to show
            line += (
                f": held-out RMSE {rmse:.2f} when it was gated"
                if math.isfinite(rmse)
                else f": no held-out RMSE (no test unit with known truth in Delta v{tags.get('delta_version', '?')})"
            )
        lines.append(line)
    return lines
