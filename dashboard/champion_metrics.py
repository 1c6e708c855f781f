"""The champions' metrics, read from the MLflow store: gold publishes which versions are champion
(gold.mart_model_monitoring) and their drift, not how well they scored.

`champion_metrics(mlflow_dir)` reads the store through MLflow's client, writing nothing (the
registry's `champion` alias of each registered model, then the metrics its training run logged):
the cross-validated metric the candidate was chosen by and the held-out test metrics. A missing or
unreadable store raises `DashboardDataError` naming the file; a registered model without a
champion is left out.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import pandas as pd

from dashboard.queries import DashboardDataError
from ml import registry

# The metrics shown per task, in this order, as logged by ml.train (cv_: the grouped CV the
# candidate was chosen by; test_: the held-out test split, never used to choose).
CLASSIFIER_METRICS = ("cv_roc_auc", "test_f1", "test_precision", "test_recall", "test_roc_auc", "test_expected_cost")
REGRESSOR_METRICS = ("cv_rmse", "test_rmse", "test_mae", "test_phm08_score")


def champion_metrics(mlflow_dir: Path) -> pd.DataFrame:
    """One row per metric of each registered model's champion: model, version, metric, value."""
    store = registry.store_file(mlflow_dir)
    if not store.exists():
        raise DashboardDataError(f"no MLflow store at {store}: no model trained yet (`make train`)")
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    uri = registry.tracking_uri(mlflow_dir)
    rows = []
    try:
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        champions = []
        for name in registry.REGISTERED_MODELS:
            try:
                version = client.get_model_version_by_alias(name, registry.CHAMPION_ALIAS)
            except MlflowException:
                continue  # no such registered model, or no champion yet
            champions.append((name, version, client.get_run(version.run_id).data.metrics))
    except Exception as exc:  # a store MLflow cannot read (locked, damaged, another schema): say so, naming it
        raise DashboardDataError(f"reading the MLflow store {store} failed: {exc}") from exc
    for name, version, metrics in champions:
        wanted = CLASSIFIER_METRICS if "cv_roc_auc" in metrics else REGRESSOR_METRICS
        base = {
            "registered_model": name,
            "version": str(version.version),
            "model": version.tags.get("model", ""),
            "trained_on_delta_version": version.tags.get("delta_version", ""),
        }
        rows += [
            base | {"metric": metric, "value": round(metrics[metric], 4)} for metric in wanted if metric in metrics
        ]
    return pd.DataFrame(
        rows, columns=["registered_model", "version", "model", "trained_on_delta_version", "metric", "value"]
    )
