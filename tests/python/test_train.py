"""Training on real Delta tables and a real MLflow store: version pinning, determinism, registry, lineage.

`make_feature_table` builds a small synthetic fct_unit_cycle_features (the real column names and types, a
noisy degradation signal) so these tests do not depend on dbt; test_predict.py reuses it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import deltalake
import duckdb
import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from mlflow.tracking import MlflowClient

from lakehouse import lake
from ml.candidates import CLASSIFIER_NAME, REGRESSOR_NAME
from ml.data import FEATURE_TABLE, feature_columns, matrix, read_features, sample_units, unit_sample_order
from ml.monitor import (
    MonitorRun,
    feature_drift,
    monitor,
    noise_psi,
    psi,
    psi_by_split,
    staleness,
    versions_with_new_data,
)
from ml.monitor import main as monitor_main
from ml.registry import CHAMPION_ALIAS, THRESHOLD_TAG, champion_summary, configure_mlflow
from ml.summary import render_champions
from ml.train import TrainConfig, main, report, train, training_digest

# A subset of the real sensors (the code selects features by name, so the count does not matter), each with
# the direction it drifts in as the unit degrades.
SENSORS = {"t30_hpc_outlet_temp": 1.0, "t50_lpt_outlet_temp": 1.0, "p30_hpc_outlet_pressure": -1.0}
EXTRA_SENSOR = ("w31_hpt_coolant_bleed", -1.0)
WINDOWS = ("mean_w5", "mean_w10", "mean_w30", "std_w10", "std_w30", "slope_w10", "slope_w30")
RUL_CAP = 125
DATASET = "FD900"


def _rolling(values: pd.Series, stat: str) -> pd.Series:
    kind, width = stat.split("_w")
    window = values.rolling(int(width), min_periods=1 if kind == "mean" else 2)
    if kind == "mean":
        return window.mean()
    if kind == "std":
        return window.std()
    x = pd.Series(np.arange(len(values), dtype=float), index=values.index)
    xs = x.rolling(int(width), min_periods=2)
    covariance = (x * values).rolling(int(width), min_periods=2).mean() - xs.mean() * window.mean()
    return covariance / (xs.var(ddof=0))


def make_feature_table(
    seed: int = 0, train_units: int = 30, test_units: int = 15, extra_sensor: bool = False
) -> pd.DataFrame:
    """A synthetic gold feature table: train units run to failure, test units stop 3-90 cycles before it.

    The last test unit has no RUL truth (labels null), like a test unit missing from the RUL file.
    """
    rng = np.random.default_rng(seed)
    sensors = dict(SENSORS)
    if extra_sensor:
        sensors[EXTRA_SENSOR[0]] = EXTRA_SENSOR[1]
    rul_at_stop = rng.permutation(np.linspace(3, 90, test_units).round().astype(int))
    frames = []
    for split, count in (("train", train_units), ("test", test_units)):
        for number in range(1, count + 1):
            life = int(rng.integers(110, 170))
            observed = life if split == "train" else life - int(rul_at_stop[number - 1])
            cycle = np.arange(1, observed + 1)
            health = (cycle / life) ** 2.5
            unit = pd.DataFrame({"cycle": cycle.astype(np.int32)})
            for name, direction in sensors.items():
                unit[f"{name}_z"] = direction * 4.0 * health + rng.normal(0.0, 0.7, observed)
            unit["degradation_index"] = sum(direction * unit[f"{name}_z"] for name, direction in sensors.items()) / len(
                sensors
            )
            for name in [*sensors, "degradation_index"]:
                source = unit[f"{name}_z" if name in sensors else name]
                for stat in WINDOWS:
                    unit[f"{name}_{stat}"] = _rolling(source, stat)
            rul = pd.Series(life - cycle, dtype="Int32")
            if split == "test" and number == count:
                rul[:] = pd.NA
            unit_id = f"{DATASET}-{split}-{number:03d}"
            unit = unit.assign(
                unit_id=unit_id,
                dataset=DATASET,
                split=split,
                unit_number=np.int32(number),
                reading_at=[datetime(2026, 1, 1) + timedelta(hours=int(c)) for c in cycle],
                registry_version_id=f"{unit_id}-r1",
                equipment_model_code="TF-220" if number % 3 else None,
                operating_regime=np.int64(1),
                is_last_observed_cycle=cycle == observed,
                rul=rul,
                rul_capped=rul.clip(upper=RUL_CAP),
                fails_within_30_cycles=(rul <= 30).astype("boolean"),
            )
            frames.append(unit)
    table = pd.concat(frames, ignore_index=True)
    ids = ["unit_id", "dataset", "split", "unit_number", "cycle", "reading_at", "registry_version_id"]
    ids += ["equipment_model_code", "operating_regime"]
    labels = ["is_last_observed_cycle", "rul", "rul_capped", "fails_within_30_cycles"]
    features = [c for c in table.columns if c not in ids and c not in labels]
    return table[ids + features + labels]


def write_table(table_path: Path, frame: pd.DataFrame) -> int:
    """Write `frame` as the next version of the Delta table (schema may change), return that version."""
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    deltalake.write_deltalake(str(table_path), arrow, mode="overwrite", schema_mode="overwrite")
    return lake.latest_version(table_path)


# Row budgets below the synthetic table's ~4,200 train rows (30 units), so the whole-unit sampling is exercised.
SAMPLED = dataclasses.replace(TrainConfig.fast(), cv_max_rows=2_000, fit_max_rows=3_000)


@pytest.fixture(scope="module")
def pinned(tmp_path_factory: pytest.TempPathFactory):
    """v0 -> train (latest = 0); write a different v1 -> train --version 0 --force; CLI train (latest = 1)."""
    root = tmp_path_factory.mktemp("train")
    table = lake.mart_path(root / "lake", FEATURE_TABLE)
    mlflow_dir = root / "mlruns"
    assert write_table(table, make_feature_table(seed=0)) == 0
    first = train(table, mlflow_dir, seed=42, config=SAMPLED)
    assert write_table(table, make_feature_table(seed=1, train_units=32, extra_sensor=True)) == 1
    # plots do not change models or metrics (nor the training digest): skipped here to keep the suite fast
    again = train(table, mlflow_dir, version=0, seed=42, config=dataclasses.replace(SAMPLED, plots=False), force=True)
    return {"root": root, "table": table, "mlflow_dir": mlflow_dir, "first": first, "again": again}


def test_feature_columns_are_chosen_by_name():
    columns = [
        "unit_id",
        "dataset",
        "split",
        "unit_number",
        "cycle",
        "reading_at",
        "registry_version_id",
        "equipment_model_code",
        "operating_regime",
        "t30_hpc_outlet_temp_z",
        "new_sensor_z",
        "degradation_index",
        "t30_hpc_outlet_temp_mean_w5",
        "new_sensor_std_w60",
        "degradation_index_slope_w30",
        "is_last_observed_cycle",
        "rul",
        "rul_capped",
        "fails_within_30_cycles",
    ]
    assert feature_columns(columns) == [
        "cycle",
        "t30_hpc_outlet_temp_z",
        "new_sensor_z",
        "degradation_index",
        "t30_hpc_outlet_temp_mean_w5",
        "new_sensor_std_w60",
        "degradation_index_slope_w30",
    ]


def test_read_features_orders_rows_and_splits_train_from_evaluation(tmp_path: Path):
    table = tmp_path / "t"
    frame = make_feature_table(seed=3, train_units=6, test_units=5)
    write_table(table, frame.sample(frac=1.0, random_state=0))  # rows shuffled on disk
    data = read_features(table)
    assert data.version == 0
    assert data.frame[["unit_id", "cycle"]].equals(
        data.frame[["unit_id", "cycle"]].sort_values(["unit_id", "cycle"]).reset_index(drop=True)
    )
    assert set(data.train["split"]) == {"train"}
    # evaluation: the 4 test units with truth, one row each at their last observed cycle
    evaluation = data.evaluation
    assert evaluation["unit_id"].tolist() == [f"{DATASET}-test-{n:03d}" for n in range(1, 5)]
    assert evaluation["is_last_observed_cycle"].all()
    assert len(data.features) == 1 + 4 + 4 * len(WINDOWS)  # cycle, 3 sensors + index, their windows
    assert not {"rul", "rul_capped", "fails_within_30_cycles", "is_last_observed_cycle"} & set(data.features)
    assert matrix(evaluation, data.features).dtypes.eq("float64").all()


def test_whole_units_are_sampled_seeded_nested_and_stratified_by_dataset():
    # 3 datasets of 40, 20 and 10 units, 100-300 rows each
    units = pd.DataFrame(
        {
            "unit_id": [f"{d}-{n:03d}" for d, count in (("A", 40), ("B", 20), ("C", 10)) for n in range(count)],
            "dataset": ["A"] * 40 + ["B"] * 20 + ["C"] * 10,
            "rows": np.random.default_rng(0).integers(100, 300, 70),
        }
    )
    rows = dict(zip(units["unit_id"], units["rows"], strict=True))
    order = unit_sample_order(units, seed=42)
    assert sorted(order["unit_id"]) == sorted(units["unit_id"])
    small, large = sample_units(order, 3_500), sample_units(order, 7_000)
    assert sum(rows[u] for u in small) <= 3_500 < sum(rows[u] for u in small) + rows[order["unit_id"][len(small)]]
    assert set(small) < set(large)  # the CV units are a subset of the fit units
    # every dataset in proportion to its units (within one unit)
    share = pd.Series([u[0] for u in large]).value_counts() / len(large)
    assert abs(share["A"] - 40 / 70) <= 1 / len(large) + 1e-9 and abs(share["C"] - 10 / 70) <= 1 / len(large) + 1e-9
    # deterministic, independent of the input's row order, and another seed picks other units
    assert unit_sample_order(units.sample(frac=1.0, random_state=1), seed=42)["unit_id"].equals(order["unit_id"])
    assert sample_units(unit_sample_order(units, seed=7), 7_000) != large
    # a budget smaller than a unit still gives min_units whole units; a large one takes every unit
    assert len(sample_units(order, 10, min_units=3)) == 3
    assert sample_units(order, 10**9) == sorted(units["unit_id"])


def test_training_uses_whole_units_and_records_the_sample(pinned):
    first = pinned["first"]
    data = read_features(pinned["table"], 0)
    rows_per_unit = data.train.groupby("unit_id").size()
    assert first.sample["fit_rows"] <= SAMPLED.fit_max_rows < len(data.train)
    assert first.sample["cv_units"] < first.sample["fit_units"] < len(rows_per_unit)
    client = MlflowClient()
    params = client.get_run(first.parent_run_id).data.params
    assert (params["cv_units"], params["fit_rows"]) == (str(first.sample["cv_units"]), str(first.sample["fit_rows"]))
    lineage = json.loads(Path(client.download_artifacts(first.parent_run_id, "data/lineage.json")).read_text())
    assert set(lineage["cv_unit_ids"]) < set(lineage["fit_unit_ids"])
    # whole units: the fit rows are every cycle of the listed units
    assert int(rows_per_unit[lineage["fit_unit_ids"]].sum()) == first.sample["fit_rows"]
    assert int(rows_per_unit[lineage["cv_unit_ids"]].sum()) == first.sample["cv_rows"]


def test_default_version_is_resolved_and_recorded(pinned):
    first = pinned["first"]
    assert first.delta_version == 0
    run = MlflowClient().get_run(first.parent_run_id)
    assert run.data.params["delta_version"] == "0"
    assert run.data.params["delta_path"] == str(pinned["table"].resolve())
    assert run.data.tags["pdm.delta_version"] == "0"


def test_same_version_and_seed_give_identical_metrics_and_predictions(pinned):
    first, again = pinned["first"], pinned["again"]
    assert again.delta_version == 0  # pinned, although v1 is now the latest
    assert (again.rows, again.units, again.features) == (first.rows, first.units, first.features)
    assert again.metrics == first.metrics
    assert again.thresholds == first.thresholds
    assert again.best_params == first.best_params
    assert first.test_predictions.keys() == again.test_predictions.keys() == set(first.run_ids)
    for name, predictions in first.test_predictions.items():
        np.testing.assert_array_equal(predictions, again.test_predictions[name])
    # the registered candidates themselves (different versions) predict identically, loaded as a consumer would
    configure_mlflow(pinned["mlflow_dir"])
    data = read_features(pinned["table"], 0)
    X = matrix(data.test, data.features)
    assert again.candidates == first.candidates
    for registered in (CLASSIFIER_NAME, REGRESSOR_NAME):
        one = mlflow.pyfunc.load_model(f"models:/{registered}/{first.registered_versions[registered]}")
        two = mlflow.pyfunc.load_model(f"models:/{registered}/{again.registered_versions[registered]}")
        assert first.registered_versions[registered] != again.registered_versions[registered]
        np.testing.assert_array_equal(np.asarray(one.predict(X)), np.asarray(two.predict(X)))


def test_metrics_are_sensible_on_the_synthetic_fleet(pinned):
    metrics = pinned["first"].metrics
    assert pinned["first"].test_units_evaluated == 14  # 15 test units, one without truth
    for name in ("logreg", "hgb_classifier"):
        assert metrics[f"{name}.cv_roc_auc"] > 0.85
        assert 0.0 < pinned["first"].thresholds[name] < 1.0
        assert {f"{name}.test_{key}" for key in ("roc_auc", "precision", "recall", "f1")} <= metrics.keys()
    for name in ("ridge", "hgb_regressor"):
        assert metrics[f"{name}.cv_rmse"] < 35
        assert {f"{name}.test_{key}" for key in ("rmse", "mae", "phm08_score")} <= metrics.keys()


def test_one_candidate_per_model_is_registered_and_an_identical_one_does_not_take_the_alias(pinned):
    """Each training registers its best model by CV metric per task; retraining the same data (--force) gives an
    equally good candidate, which is registered but kept out of `champion`."""
    first, again = pinned["first"], pinned["again"]
    client = MlflowClient()
    artifacts = {a.path for a in client.list_artifacts(first.run_ids["hgb_classifier"], "plots")}
    assert {"plots/roc_curve.png", "plots/confusion_matrix.png", "plots/threshold_choice.png"} <= artifacts
    artifacts = {a.path for a in client.list_artifacts(first.run_ids["hgb_regressor"], "plots")}
    assert {"plots/predicted_vs_true_rul.png", "plots/test_unit_degradation_curves.png"} <= artifacts
    candidates = {
        CLASSIFIER_NAME: ("cv_roc_auc", max, ["logreg", "hgb_classifier"]),
        REGRESSOR_NAME: ("cv_rmse", min, ["ridge", "hgb_regressor"]),
    }
    for registered, (metric, pick, names) in candidates.items():
        best = pick(names, key=lambda name, metric=metric: first.metrics[f"{name}.{metric}"])
        assert first.candidates[registered] == again.candidates[registered] == best
        # one version per training: v1 from the first, v2 from the forced retraining
        versions = client.search_model_versions(f"name = '{registered}'")
        assert {(int(v.version), v.tags["model"]) for v in versions if v.tags["delta_version"] == "0"} == {
            (int(first.registered_versions[registered]), best),
            (int(again.registered_versions[registered]), best),
        }
        assert first.decisions[registered].promoted and first.decisions[registered].reason == "no champion yet"
        kept = again.decisions[registered]
        assert not kept.promoted and kept.previous_champion == first.registered_versions[registered]
        assert kept.candidate_scores == kept.champion_scores  # the same model, scored on the same units
        assert kept.holdout_units == 14
        version = client.get_model_version(registered, again.registered_versions[registered])
        assert version.tags["champion_decision"] == "kept"
        assert version.tags["compared_with_version"] == first.registered_versions[registered]
        assert version.run_id == again.run_ids[best]
        parent = client.get_run(again.parent_run_id).data
        assert parent.tags[f"gate.{registered}.decision"] == "kept"
        headline = "rmse" if registered == REGRESSOR_NAME else "expected_cost"
        assert parent.metrics[f"gate.{registered}.candidate_{headline}"] == kept.candidate_scores[headline]
        assert parent.metrics[f"gate.{registered}.champion_{headline}"] == kept.champion_scores[headline]
        assert again.champion_versions[registered] == first.registered_versions[registered]
    for name in ("logreg", "hgb_classifier"):
        run = client.get_run(again.run_ids[name])
        assert float(run.data.params[THRESHOLD_TAG]) == again.thresholds[name]
        assert run.data.params["threshold_method"] == "max F1 over out-of-fold predictions"
        assert run.data.params["threshold_rule"] == "max_f1"
        assert run.data.tags["mlflow.parentRunId"] == again.parent_run_id
    classifier = client.get_model_version(CLASSIFIER_NAME, again.registered_versions[CLASSIFIER_NAME])
    assert float(classifier.tags[THRESHOLD_TAG]) == again.thresholds[again.candidates[CLASSIFIER_NAME]]


def test_cli_trains_the_latest_version_with_its_new_sensor(pinned, capsys):
    args = ["--lake", str(pinned["root"] / "lake"), "--mlflow-dir", str(pinned["mlflow_dir"]), "--fast"]
    assert main([*args, "--seed", "7"]) == 0
    out = capsys.readouterr().out
    assert f"{FEATURE_TABLE} v1 " in out
    assert "hgb_regressor" in out
    assert "mlflow ui --workers 1 --backend-store-uri sqlite:///" in out
    client = MlflowClient()
    runs = client.search_runs(
        [pinned["first"].experiment_id], "tags.`pdm.delta_version` = '1'", order_by=["start_time DESC"]
    )
    parents = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    assert parents
    params = parents[0].data.params
    assert (params["delta_version"], params["seed"], params["train_units"]) == ("1", "7", "32")
    lineage = client.download_artifacts(parents[0].info.run_id, "data/lineage.json")
    assert f"{EXTRA_SENSOR[0]}_slope_w30" in Path(lineage).read_text()
    # one candidate per task trained on v1, and the alias where the gate (printed in the report) put it
    for registered in (CLASSIFIER_NAME, REGRESSOR_NAME):
        candidate = max(client.search_model_versions(f"name = '{registered}'"), key=lambda v: int(v.version))
        assert candidate.tags["delta_version"] == "1"
        promoted = candidate.tags["champion_decision"] == "promoted"
        assert f"{registered}: candidate v{candidate.version} {'PROMOTED' if promoted else 'kept'}" in out
        champion = client.get_model_version_by_alias(registered, CHAMPION_ALIAS)
        assert (champion.version == candidate.version) == promoted


def test_cli_without_a_table_or_version_exits_2(tmp_path: Path, pinned, capsys):
    assert main(["--lake", str(tmp_path), "--mlflow-dir", str(tmp_path / "mlruns")]) == 2
    assert "no published Delta table" in capsys.readouterr().err
    assert main(["--lake", str(pinned["root"] / "lake"), "--mlflow-dir", str(tmp_path), "--version", "5"]) == 2
    assert "has no version 5" in capsys.readouterr().err


@pytest.mark.parametrize("seed", ["-5", str(2**32), "4.2"])
def test_cli_refuses_a_seed_numpy_and_scikit_learn_cannot_take(tmp_path: Path, pinned, seed: str, capsys):
    """`--seed -5` stopped with numpy's bare "expected non-negative integer", and a seed past 2**32 - 1 with a
    LogisticRegression 'random_state' error after its MLflow run had started: neither named the option."""
    args = ["--lake", str(pinned["root"] / "lake"), "--mlflow-dir", str(tmp_path / "mlruns"), "--fast"]
    with pytest.raises(SystemExit) as stopped:
        main([*args, "--seed", seed])
    assert stopped.value.code == 2
    assert "argument --seed:" in capsys.readouterr().err
    assert not (tmp_path / "mlruns").exists()


@pytest.mark.parametrize("log", ["none", "empty", "truncated"])
def test_cli_on_a_table_folder_without_a_valid_delta_log_exits_2_with_one_line(tmp_path: Path, log: str, capsys):
    """What a publish killed during its first write leaves: data files, and no (or a broken) _delta_log."""
    table = lake.mart_path(tmp_path / "lake", FEATURE_TABLE)
    table.mkdir(parents=True)
    (table / "part-00000.parquet").write_bytes(b"PAR1 half a file")
    if log != "none":
        (table / "_delta_log").mkdir()
    if log == "truncated":
        (table / "_delta_log" / "00000000000000000000.json").write_text('{"protocol": {"minReaderVers')
    assert main(["--lake", str(tmp_path / "lake"), "--mlflow-dir", str(tmp_path / "mlruns")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert str(table) in err and "lakehouse.publish" in err
    assert not (tmp_path / "mlruns").exists()  # nothing created


def test_same_data_seed_config_and_code_registers_nothing_new(pinned, capsys):
    """`make run` twice with nothing new: the second training points at the versions the first registered."""
    client = MlflowClient()
    configure_mlflow(pinned["mlflow_dir"])

    def counts() -> dict[str, int]:
        return {
            name: len(client.search_model_versions(f"name = '{name}'")) for name in (CLASSIFIER_NAME, REGRESSOR_NAME)
        }

    def champions() -> dict[str, str]:
        return {name: client.get_model_version_by_alias(name, CHAMPION_ALIAS).version for name in counts()}

    before, aliases = counts(), champions()
    again = pinned["again"]  # v0, seed 42, SAMPLED without plots: the newest training with this digest
    reused = train(pinned["table"], pinned["mlflow_dir"], version=0, seed=42, config=SAMPLED)
    assert reused.reused and reused.digest == again.digest
    assert counts() == before and champions() == aliases  # nothing registered, no alias moved
    assert reused.registered_versions == again.registered_versions and reused.candidates == again.candidates
    assert reused.metrics == again.metrics and reused.thresholds == again.thresholds
    assert reused.best_params == again.best_params and reused.sample == again.sample
    assert {model: d.promoted for model, d in reused.decisions.items()} == {m: False for m in again.decisions}
    # the CLI says so, and names the versions (the first call trains v1 with seed 7 unless the CLI test did)
    args = ["--lake", str(pinned["root"] / "lake"), "--mlflow-dir", str(pinned["mlflow_dir"]), "--fast"]
    assert main([*args, "--seed", "7"]) == 0
    capsys.readouterr()
    before = counts()
    assert main([*args, "--seed", "7"]) == 0
    out = capsys.readouterr().out
    assert "nothing new" in out and f"{CLASSIFIER_NAME} v" in out and f"{REGRESSOR_NAME} v" in out
    assert counts() == before
    # what makes another training: another version, seed or model-shaping config (plots and threads do not)
    digest = training_digest(pinned["table"], 0, 42, SAMPLED)
    assert digest == again.digest == training_digest(pinned["table"], 0, 42, dataclasses.replace(SAMPLED, threads=2))
    assert digest != training_digest(pinned["table"], 1, 42, SAMPLED)
    assert digest != training_digest(pinned["table"], 0, 43, SAMPLED)
    assert digest != training_digest(pinned["table"], 0, 42, dataclasses.replace(SAMPLED, fit_max_rows=3_001))


def dirty_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """What a bad delivery does to a feature table: the train units' labels run backwards (a unit "fails"
    at its first cycles), so a model trained on it learns the opposite of wear. Test units keep their truth."""
    train_rows = frame["split"] == "train"
    rul = frame["rul"].copy()
    rul[train_rows] = (frame.loc[train_rows, "cycle"] - 1).astype("Int32")
    return frame.assign(
        rul=rul, rul_capped=rul.clip(upper=RUL_CAP), fails_within_30_cycles=(rul <= 30).astype("boolean")
    )


GATE = dataclasses.replace(TrainConfig.fast(), plots=False)
GATE_MIN_COST = dataclasses.replace(GATE, threshold_rule="min_cost", missed_failure_cost=20.0)


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory):
    """v0 = dirty labels, v1 = clean. Train v0 (first champion), v1 with the min-cost threshold rule (better:
    promoted), then --as-of a time between the two commits with another seed (the dirty v0: worse, kept)."""
    root = tmp_path_factory.mktemp("gate")
    table = lake.mart_path(root / "lake", FEATURE_TABLE)
    clean = make_feature_table(seed=11, train_units=16, test_units=12)
    assert write_table(table, dirty_labels(clean)) == 0
    between = datetime.now(UTC)
    time.sleep(0.05)
    assert write_table(table, clean) == 1
    mlflow_dir = root / "mlruns"
    dirty_first = train(table, mlflow_dir, version=0, seed=42, config=GATE)
    clean_next = train(table, mlflow_dir, seed=42, config=GATE_MIN_COST)
    dirty_again = train(table, mlflow_dir, seed=43, config=GATE, as_of=between.isoformat())
    return {
        "table": table,
        "mlflow_dir": mlflow_dir,
        "between": between,
        "runs": (dirty_first, clean_next, dirty_again),
    }


def test_champion_moves_only_to_a_better_candidate(gated):
    dirty_first, clean_next, dirty_again = gated["runs"]
    client = MlflowClient()
    for registered in (CLASSIFIER_NAME, REGRESSOR_NAME):
        assert dirty_first.decisions[registered].promoted  # no champion yet
        better, worse = clean_next.decisions[registered], dirty_again.decisions[registered]
        assert better.promoted and better.previous_champion == dirty_first.registered_versions[registered]
        assert not worse.promoted and worse.previous_champion == clean_next.registered_versions[registered]
        assert "kept" not in better.line() and "kept as candidate" in worse.line()
        champion = client.get_model_version_by_alias(registered, CHAMPION_ALIAS)
        assert str(champion.version) == clean_next.registered_versions[registered]
        assert (
            client.get_model_version(registered, dirty_again.registered_versions[registered]).tags["champion_decision"]
            == "kept"
        )
    rmse = clean_next.decisions[REGRESSOR_NAME]
    assert rmse.candidate_scores["rmse"] <= 0.99 * rmse.champion_scores["rmse"]
    classifier = dirty_again.decisions[CLASSIFIER_NAME]
    assert classifier.candidate_scores["expected_cost"] > classifier.champion_scores["expected_cost"]
    # the champion classifier's rule and expected cost reach the summary (`python -m ml.summary`)
    champions = render_champions(gated["mlflow_dir"])
    rule = clean_next.threshold_rules[clean_next.candidates[CLASSIFIER_NAME]]
    cost = clean_next.metrics[f"{clean_next.candidates[CLASSIFIER_NAME]}.oof_expected_cost"]
    assert rule == "min_cost" and f"rule min_cost, expected cost {cost:.3f} per decision" in champions
    assert "missed failure 20.0, unneeded maintenance 1.0" in champions
    # one version per task per training: three trainings, three versions each
    for registered in (CLASSIFIER_NAME, REGRESSOR_NAME):
        assert len(client.search_model_versions(f"name = '{registered}'")) == 3


def test_as_of_resolves_to_the_version_current_then_and_is_logged(gated):
    dirty_again = gated["runs"][2]
    assert dirty_again.delta_version == 0 and dirty_again.as_of == gated["between"].isoformat()
    run = MlflowClient().get_run(dirty_again.parent_run_id).data
    assert run.params["as_of"] == gated["between"].isoformat() and run.params["delta_version"] == "0"
    assert run.tags["pdm.as_of"] == gated["between"].isoformat() and run.tags["pdm.as_of_resolved_version"] == "0"
    with pytest.raises(ValueError, match="not both"):
        train(gated["table"], gated["mlflow_dir"], version=1, as_of=gated["between"].isoformat(), config=GATE)


def test_classifier_pyfunc_alone_gives_probability_and_decision(gated):
    """`models:/pdm-fails-within-30-cycles@champion` is usable without this project's code."""
    configure_mlflow(gated["mlflow_dir"])
    model = mlflow.pyfunc.load_model(f"models:/{CLASSIFIER_NAME}@{CHAMPION_ALIAS}")
    data = read_features(gated["table"], 1)
    output = model.predict(matrix(data.evaluation, model.metadata.get_input_schema().input_names()))
    assert list(output.columns) == ["failure_probability", "fails_within_30_cycles"]
    assert output["failure_probability"].between(0, 1).all() and output["fails_within_30_cycles"].dtype == bool
    threshold = float(model.model_config["decision_threshold"])
    assert threshold == gated["runs"][1].thresholds[gated["runs"][1].candidates[CLASSIFIER_NAME]]
    assert output["fails_within_30_cycles"].equals(output["failure_probability"] >= threshold)
    assert output["fails_within_30_cycles"].any() and not output["fails_within_30_cycles"].all()


def test_rerun_as_of_registers_nothing_and_says_so(gated, capsys):
    client = MlflowClient()
    before = {name: len(client.search_model_versions(f"name = '{name}'")) for name in (CLASSIFIER_NAME, REGRESSOR_NAME)}
    lake_dir = gated["table"].parent.parent
    args = ["--lake", str(lake_dir), "--mlflow-dir", str(gated["mlflow_dir"]), "--fast", "--seed", "43"]
    assert main([*args, "--as-of", gated["between"].isoformat()]) == 0  # --fast differs from GATE only in plots
    out = capsys.readouterr().out
    assert f"as of {gated['between'].isoformat()}: Delta v0 was the current version then" in out
    assert "nothing new" in out and "no alias moved" in out
    assert {name: len(client.search_model_versions(f"name = '{name}'")) for name in before} == before
    # a time before the table's first commit names the table and exits 2
    assert main([*args, "--as-of", "2000-01-01T00:00:00"]) == 2
    assert "did not exist at 2000-01-01" in capsys.readouterr().err


def test_monitor_measures_drift_against_the_champions_training_version(gated, tmp_path: Path, capsys):
    """ml.monitor: PSI 0 on the champion's own version; a shifted fleet in service drifts and makes it stale."""
    table, mlflow_dir, predictions = gated["table"], gated["mlflow_dir"], tmp_path / "pred"
    same = monitor(table, mlflow_dir, predictions)  # champion trained on v1, latest v1
    assert same.written and (same.reference_version, same.current_version, same.age_versions) == (1, 1, 0)
    assert same.max_psi == 0.0 and not staleness(same, 0.2, 10, 30)
    again = monitor(table, mlflow_dir, predictions)
    assert not again.written and again.path == same.path  # same champion and versions: nothing new
    # 12 units in service then: with so few, PSI can't tell a shift of one feature from noise (a perfect
    # separation of the 12 is PSI 5.5, and random splits reach 5.9 on it); 100 now, from the same generator
    shifted = make_feature_table(seed=11, train_units=16, test_units=100)
    in_service = shifted["split"] == "test"
    shifted.loc[in_service, "t30_hpc_outlet_temp_z"] += 3.0
    assert write_table(table, shifted) == 2
    drifted = monitor(table, mlflow_dir, predictions)
    assert drifted.written and drifted.drift.iloc[0]["feature"] == "t30_hpc_outlet_temp_z"
    assert drifted.max_psi > 1.0 and drifted.age_versions == 1
    assert drifted.drifted(0.2)["feature"].tolist() == ["t30_hpc_outlet_temp_z"]  # the others: noise
    rows = pq.read_table(drifted.path).to_pandas()
    assert set(rows["reference_delta_version"]) == {1} and set(rows["current_delta_version"]) == {2}
    assert len(rows) == len(drifted.drift) and rows["feature"].is_unique
    assert staleness(drifted, 0.2, 10, 30)[0].startswith("feature t30_hpc_outlet_temp_z drifted")
    # unchanged: the figures are read back from the file, not computed again (the noise level costs seconds on
    # a large fleet); a file edited to hold other noise levels shows that they are what is reported
    reread = monitor(table, mlflow_dir, predictions)
    assert not reread.written and reread.path == drifted.path
    pd.testing.assert_frame_equal(reread.drift, drifted.drift)
    assert (
        (reread.reference_units, reread.current_units) == (drifted.reference_units, drifted.current_units) == (12, 100)
    )
    stored = pq.read_table(drifted.path)
    doubled = stored.set_column(
        stored.schema.get_field_index("noise_psi"), "noise_psi", pc.multiply(stored["noise_psi"], 2.0)
    )
    pq.write_table(doubled, drifted.path)
    reread = monitor(table, mlflow_dir, predictions)
    assert reread.drift["noise_psi"].tolist() == (drifted.drift["noise_psi"] * 2).tolist()
    pq.write_table(stored, drifted.path)
    assert staleness(drifted, 10.0, 0, 30) == ["champion trained on v1, 1 versions with new data since > 0"]
    fresh = dataclasses.replace(drifted, age_days=0.01)  # a quarter of an hour: not "0.0 days ago > 0.0"
    assert staleness(fresh, 10.0, 10, 0) == ["champion registered 0.2 hours ago, more than 0 days"]
    lake_dir = table.parent.parent
    args = ["--lake", str(lake_dir), "--mlflow-dir", str(mlflow_dir), "--predictions-dir", str(predictions)]
    assert monitor_main([*args, "--retrain-if-stale", "--psi-threshold", "100", "--max-age-versions", "5"]) == 0
    out = capsys.readouterr().out
    assert "unchanged since" in out and "champion fresh: no retraining" in out
    # stale by drift: retrained on the latest version, through the champion gate
    client = MlflowClient()
    versions_before = len(client.search_model_versions("name = 'pdm-rul'"))
    assert monitor_main([*args, "--retrain-if-stale", "--fast"]) == 0
    out = capsys.readouterr().out
    assert "champion stale (feature t30_hpc_outlet_temp_z drifted" in out and "champion gate" in out
    retrained = client.search_model_versions("name = 'pdm-rul'")
    assert len(retrained) == versions_before + 1
    newest = max(retrained, key=lambda version: int(version.version))
    assert newest.tags["delta_version"] == "2" and newest.tags["champion_decision"] in {"promoted", "kept"}
    assert monitor_main(["--lake", str(lake_dir), "--mlflow-dir", str(tmp_path / "none")]) == 2
    assert "no MLflow store" in capsys.readouterr().err


def test_a_feature_with_no_value_in_service_gets_a_null_psi_not_nan(tmp_path: Path):
    """A feature null for every unit in service (a sensor a dataset stopped sending) has no PSI. The monitor wrote
    NaN, which SQL orders above every number: `gold.mart_model_monitoring` flagged it `is_above_psi_warn` and its
    warn test fired, while `ml.monitor` itself left it out of the largest PSI and called the champion fresh."""
    table = lake.mart_path(tmp_path / "lake", FEATURE_TABLE)
    frame = make_feature_table(seed=4, train_units=10, test_units=8)
    write_table(table, frame)
    train(table, tmp_path / "mlruns", seed=42, config=dataclasses.replace(TrainConfig.fast(), plots=False))
    silent = frame.copy()
    silent.loc[silent["split"] == "test", "t30_hpc_outlet_temp_z"] = np.nan
    write_table(table, silent)
    run = monitor(table, tmp_path / "mlruns", tmp_path / "pred")
    assert run.written and math.isfinite(run.max_psi) and not staleness(run, 0.2, 10, 30)
    rows = pq.read_table(run.path).to_pandas().set_index("feature")
    assert pd.isna(rows.loc["t30_hpc_outlet_temp_z", "psi"])
    with duckdb.connect() as con:  # as dbt reads the file into gold.mart_model_monitoring: a table
        con.execute("create table monitoring as select * from read_parquet(?)", [str(run.path)])
        above = con.execute("select feature from monitoring where psi > 0.2").fetchall()
        largest = con.execute("select max(psi) from monitoring").fetchone()[0]
    assert above == [] and largest == run.max_psi


def test_drift_must_pass_what_noise_alone_reaches_not_just_the_psi_threshold():
    """~100 units in service and ~150 features: two samples of ONE distribution have a largest PSI far above 0.2,
    so `make retrain-if-stale` called every fleet drifted and retrained on noise. Drift now also has to pass
    `noise_psi`, the PSI random splits of the same rows reach, per feature, family-wise."""
    rng = np.random.default_rng(5)
    features = [f"f{i:03d}" for i in range(150)]
    reference = pd.DataFrame(rng.normal(size=(100, 150)), columns=features)
    current = pd.DataFrame(rng.normal(size=(90, 150)), columns=features)
    reference["f000"] = current["f000"] = 3.0  # a constant feature,
    reference.loc[:9, "f001"] = np.nan  # one with missing values,
    reference["f002"], current["f002"] = rng.integers(0, 3, 100), rng.integers(0, 3, 90)  # one with 3 values
    quantiles = np.linspace(0, 1, 11)[1:-1]
    for name in features[:5]:  # the vectorised PSI of a split is `psi`'s
        ref, cur = reference[name].to_numpy()[None, :], current[name].to_numpy()[None, :]
        assert psi_by_split(ref, cur, np.nanquantile(ref, quantiles, axis=1).T)[0] == pytest.approx(
            psi(ref[0], cur[0]), abs=1e-12
        )

    def run(current: pd.DataFrame) -> MonitorRun:
        drift = feature_drift(reference, current, features, noise_psi(reference, current, features))
        return MonitorRun(drift, 1, 2, "3", 1, 1.0, None, False)

    same = run(current)
    assert same.max_psi > 0.4  # noise, far above 0.2
    assert (same.drift["psi"] <= same.drift["noise_psi"]).all() and same.drifted(0.2).empty
    assert staleness(same, 0.2, 10, 30) == []
    assert noise_psi(reference, current, features).equals(noise_psi(reference, current, features))  # seeded
    noise = same.drift.set_index("feature")["noise_psi"]
    assert noise["f000"] == 0.0 and noise["f002"] < noise["f003"]  # 3 values: fewer bins, less room for noise

    drifted = run(current.assign(f077=current["f077"] + 1.5))
    assert drifted.drifted(0.2)["feature"].tolist() == ["f077"]
    assert staleness(drifted, 0.2, 10, 30)[0].startswith("feature f077 drifted: PSI")
    assert noise_psi(reference, current.iloc[:0], features).empty


def test_erasures_compactions_and_vacuums_do_not_age_the_champion(tmp_path: Path):
    """One `make erase` of N units commits N DELETE versions: counted as the champion's age, a single erasure of
    11 units passed MAX_AGE_VERSIONS (10) and `make retrain-if-stale` retrained on no new data."""
    table = tmp_path / "lake" / "gold" / FEATURE_TABLE
    frame = make_feature_table(seed=2, train_units=6, test_units=4)
    units = sorted(frame["unit_id"].unique())
    assert write_table(table, frame[frame["unit_id"].isin(units[:5])]) == 0
    arrow = pa.Table.from_pandas(frame[~frame["unit_id"].isin(units[:5])], preserve_index=False)
    deltalake.write_deltalake(str(table), arrow, mode="append")  # v1, in a file of its own: the champion's
    for unit in units[:3]:  # what lakehouse.erase does, one unit per commit
        deltalake.DeltaTable(str(table)).delete(f"unit_id = '{unit}'")
    deltalake.DeltaTable(str(table)).optimize.compact()
    deltalake.DeltaTable(str(table)).vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
    latest = lake.latest_version(table)
    operations = [c["operation"] for c in deltalake.DeltaTable(str(table)).history()]
    assert {"DELETE", "OPTIMIZE", "VACUUM START", "VACUUM END"} <= set(operations) and latest >= 7
    assert versions_with_new_data(table, 1, latest) == 0
    assert write_table(table, frame) == latest + 1  # a publish: new data
    assert versions_with_new_data(table, 1, latest + 1) == 1
    assert versions_with_new_data(table, 0, latest + 1) == 2
    assert versions_with_new_data(table, latest + 1, latest + 1) == 0


def test_psi_is_zero_for_the_same_sample_and_grows_with_the_shift():
    rng = np.random.default_rng(0)
    reference = rng.normal(0, 1, 2_000)
    assert psi(reference, reference) == 0.0
    small, large = psi(reference, reference + 0.1), psi(reference, reference + 1.0)
    assert 0 < small < 0.1 < 0.2 < large
    assert psi(np.full(50, 3.0), np.full(50, 3.0)) == 0.0  # a constant feature: two bins, no shift
    assert np.isnan(psi(np.array([np.nan]), reference))


def test_a_vacuumed_training_version_is_one_line_for_readers_and_stale_for_the_monitor(tmp_path: Path, capsys):
    """What an erase with PURGE=1 leaves (every older version vacuumed): reading, training on or scoring that
    version is a one-line error (it was a DuckDB traceback), and the monitor calls the champion stale with no
    drift measured (it failed, and `make run` with it, on every run)."""
    table = lake.mart_path(tmp_path / "lake", FEATURE_TABLE)
    mlflow_dir, predictions = tmp_path / "mlruns", tmp_path / "pred"
    frame = make_feature_table(seed=5, train_units=16, test_units=8)
    assert write_table(table, frame) == 0
    train(table, mlflow_dir, version=0, seed=42, config=GATE)
    assert write_table(table, frame.iloc[: len(frame) - 1]) == 1
    deltalake.DeltaTable(str(table)).vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)

    with pytest.raises(lake.VersionVacuumedError, match=r"v0 can't be read: a vacuum deleted its data files"):
        read_features(table, 0)
    assert len(read_features(table, 1).frame) == len(frame) - 1  # the latest is whole
    capsys.readouterr()  # the training's own output
    assert main(["--lake", str(tmp_path / "lake"), "--mlflow-dir", str(mlflow_dir), "--version", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "a vacuum deleted its data files" in err, err

    run = monitor(table, mlflow_dir, predictions)
    assert run.reference_vacuumed is not None and run.drift.empty and not run.written
    assert staleness(run, 0.2, 10, 30) == ["the version it was trained on, v0, was vacuumed: no drift measured"]
    args = ["--lake", str(tmp_path / "lake"), "--mlflow-dir", str(mlflow_dir), "--predictions-dir", str(predictions)]
    assert monitor_main(args) == 0
    out = capsys.readouterr().out
    assert "(no file written: " in out and out.rstrip().endswith("v0, was vacuumed: no drift measured"), out
    assert not predictions.exists()


def test_monitor_on_a_fleet_with_no_unit_in_service_compares_nothing(tmp_path: Path, capsys):
    """A train-only fleet (the README's real-FD001 recipe): every feature's PSI was NaN, written to a monitoring
    file and printed as 'max PSI 0.000 over 151 features'."""
    table = lake.mart_path(tmp_path / "lake", FEATURE_TABLE)
    assert write_table(table, make_feature_table(seed=9, train_units=16, test_units=0)) == 0
    train(table, tmp_path / "mlruns", seed=42, config=GATE)
    run = monitor(table, tmp_path / "mlruns", tmp_path / "pred")
    assert run.drift.empty and not run.written and not (tmp_path / "pred").exists()
    capsys.readouterr()
    args = ["--lake", str(tmp_path / "lake"), "--mlflow-dir", str(tmp_path / "mlruns")]
    assert monitor_main([*args, "--predictions-dir", str(tmp_path / "pred")]) == 0
    assert "max PSI 0.000 over 0 features (no unit in service to compare: no file written)" in capsys.readouterr().out

    # then test units land (test_FD001.txt after the train file): they are in service now, but there is still
    # nothing to compare them with. It said 'no unit in service to compare' while predict ranked them.
    assert write_table(table, make_feature_table(seed=9, train_units=16, test_units=4)) == 1
    assert monitor_main([*args, "--predictions-dir", str(tmp_path / "pred")]) == 0
    assert (
        "(no unit was in service at v0, where the champion was trained, to compare the 4 in service now with: "
        "no file written)" in capsys.readouterr().out
    )
    assert not (tmp_path / "pred").exists()


def test_the_summary_of_a_champion_gated_without_held_out_units_shows_no_nan_rmse(tmp_path: Path):
    """A train-only fleet (the README's real-FD001 recipe, or every unit run to failure): the candidate is gated
    on no held-out unit. `make run`'s summary printed "pdm-rul v1 (...): held-out RMSE nan when it was gated"."""
    table = lake.mart_path(tmp_path / "lake", FEATURE_TABLE)
    write_table(table, make_feature_table(seed=3, train_units=8, test_units=0))
    result = train(table, tmp_path / "mlruns", seed=42, config=dataclasses.replace(TrainConfig.fast(), plots=False))
    assert result.test_units_evaluated == 0
    lines = champion_summary(tmp_path / "mlruns")
    # test units landed with no RUL file yet: it said "test = 0 units at their last observed cycle" beside them
    assert "test = 0 units with known RUL at their last observed cycle" in report(result)
    regressor = next(line for line in lines if line.startswith(f"{REGRESSOR_NAME} v"))
    assert "nan" not in regressor
    assert regressor.endswith("no held-out RMSE (no test unit with known truth in Delta v0)")


def test_cli_on_fewer_train_units_than_folds_says_what_is_missing(tmp_path: Path, capsys):
    """A fleet of one or two run-to-failure units stopped with "2 units cannot fill 3 folds": neither which units
    (the labelled train units) nor what to do."""
    table = lake.mart_path(tmp_path / "lake", FEATURE_TABLE)
    write_table(table, make_feature_table(seed=2, train_units=2, test_units=3))
    assert main(["--lake", str(tmp_path / "lake"), "--mlflow-dir", str(tmp_path / "mlruns"), "--fast"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after MLflow's own lines on creating the store
    assert err == (
        f"2 labelled train unit(s) in {table} version 0: the 3-fold cross-validation grouped by unit needs at "
        "least 3 (land more run-to-failure units)"
    )


def test_a_training_already_registered_reports_its_recorded_gate_as_past(tmp_path, capsys):
    """`make retrain-if-stale` (or `make train`) on a version already trained with the same seed, config and code:
    nothing is trained, yet the report printed the first training's gate under "champion gate (held-out: ...)",
    "candidate v1 PROMOTED to champion (no champion)", as if this run had promoted it."""
    table = lake.mart_path(tmp_path / "lake", FEATURE_TABLE)
    assert write_table(table, make_feature_table(seed=0)) == 0
    args = ["--lake", str(tmp_path / "lake"), "--mlflow-dir", str(tmp_path / "mlruns"), "--fast"]
    assert main(args) == 0
    assert "champion gate (held-out" in capsys.readouterr().out  # the first training: gated now
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "nothing new" in out and "no alias moved" in out
    assert "champion gate (held-out" not in out
    assert "champion gate, as recorded when those versions were registered (nothing was gated now)" in out
    assert "candidate v1 PROMOTED to champion (no champion)" in out  # the recorded decision, under that heading


def test_a_version_from_before_an_erasure_is_trained_without_the_erased_units(tmp_path, monkeypatch, capsys):
    """`make train VERSION=` of a version written before `make erase` (or the latest version a restore left
    holding an erased unit): the units the erasure tombstone names are left out of the fit, the CV and the
    evaluation, as `make predict` leaves them unscored. Training fitted on them, and listed them in the run's
    lineage (a new model, and MLflow artifacts, made from an erased unit's data after its erasure); a training
    of that version from before the erasure is not "this training" (its digest differs), so it is not reused."""
    from lakehouse.erase import Unit, add_to_tombstone

    table = lake.mart_path(tmp_path / "lake", FEATURE_TABLE)
    write_table(table, make_feature_table(seed=4, train_units=6, test_units=4))
    landing = tmp_path / "landing"
    monkeypatch.setenv("PDM_LANDING_PATH", str(landing))
    args = ["--lake", str(tmp_path / "lake"), "--mlflow-dir", str(tmp_path / "mlruns"), "--fast", "--version", "0"]
    assert main(args) == 0  # before the erasure
    erased = (Unit(DATASET, "train", 2), Unit(DATASET, "test", 1))
    for unit in erased:
        add_to_tombstone(landing, unit, "data subject request", datetime.now(UTC))
    assert main(args) == 0
    assert "nothing new" not in capsys.readouterr().out
    client = MlflowClient()
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = [
        r
        for r in client.search_runs(experiments, order_by=["start_time DESC"])
        if "mlflow.parentRunId" not in r.data.tags
    ]
    assert len(runs) == 2
    params = runs[0].data.params
    assert (params["train_units"], params["test_units_evaluated"]) == ("5", "2")
    assert params["erased_units_left_out"] == "2"
    lineage = json.loads(Path(client.download_artifacts(runs[0].info.run_id, "data/lineage.json")).read_text())
    assert erased[0].unit_id not in lineage["fit_unit_ids"] and len(lineage["fit_unit_ids"]) == 5
    # and again: the same training, reused
    assert main(args) == 0
    assert "nothing new" in capsys.readouterr().out
