"""The dbt pipeline end to end: real landing files, the real `dbt build`, a real DuckDB warehouse."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ml.simulate import FleetSpec
from tests.python.conftest import Environment

pytestmark = pytest.mark.dbt

SMALL = FleetSpec(dataset="FD101", train_units=6, test_units=6, conditions=1, fault_modes=1, seed=11)
SIX_REGIMES = FleetSpec(dataset="FD102", train_units=6, test_units=6, conditions=6, fault_modes=2, seed=12)
GOLD_TABLES = [
    "dim_equipment_models",
    "dim_unit_registry_history",
    "dim_units",
    "fct_unit_cycle_features",
    "mart_fleet_health",
]

# The first line of NASA's train_FD001.txt, byte for byte (26 values, two trailing spaces).
NASA_FIRST_LINE = (
    b"1 1 -0.0007 -0.0004 100.0 518.67 641.82 1589.70 1400.60 14.62 21.61 554.36 2388.06 9046.19 1.30 "
    b"47.47 521.66 2388.02 8138.62 8.4195 0.03 392 2388 100.00 39.06 23.4190  \n"
)


# Every scalar column of the clean readings (extra_values is a list, not hashable in a set).
READINGS = "select * exclude (extra_values) from bronze.stg_cmapss__sensor_readings order by all"


def line_count(path: Path) -> int:
    return path.read_bytes().count(b"\n")


def gold_fingerprints(env: Environment) -> dict[str, tuple]:
    """Row count and an order-independent digest of every gold table's content."""
    return {
        table: env.query(
            f"select count(*), md5(string_agg(cast(t as varchar), '|' order by cast(t as varchar))) "
            f"from gold.{table} as t"
        )[0]
        for table in GOLD_TABLES
    }


@pytest.fixture(scope="module")
def built(module_environment: Environment) -> Environment:
    module_environment.land(SMALL)
    module_environment.land(SIX_REGIMES)
    module_environment.build()
    return module_environment


def test_every_landed_line_reaches_bronze_and_every_reading_reaches_gold(built: Environment) -> None:
    landing = built.paths.landing
    sensor_lines = sum(line_count(p) for p in landing.glob("t*_FD10*.txt"))
    rul_lines = sum(line_count(p) for p in landing.glob("RUL_FD10*.txt"))
    assert built.scalar("select count(*) from bronze.base_cmapss__landed_lines") == sensor_lines + rul_lines
    assert built.scalar("select count(*) from bronze.stg_cmapss__sensor_readings") == sensor_lines
    assert built.scalar("select count(*) from bronze.stg_cmapss__rul_truth") == rul_lines == 12
    assert built.scalar("select count(*) from bronze.stg_cmapss__quarantined_lines") == 0
    assert built.scalar("select count(*) from gold.fct_unit_cycle_features") == sensor_lines
    assert built.scalar("select count(*) from gold.dim_units") == 24
    assert built.scalar("select count(*) from gold.mart_fleet_health") == 24


def test_six_condition_fleet_is_split_into_six_regimes_and_normalised(built: Environment) -> None:
    regimes = dict(built.query("select dataset, count(*) from silver.int_regime_sensor_baselines group by all"))
    assert regimes == {"FD101": 1, "FD102": 6}
    # Normalised within regime on the train split: mean ~0 and std ~1 per regime.
    stats = built.query(
        "select operating_regime, avg(t50_lpt_outlet_temp_z), stddev_samp(t50_lpt_outlet_temp_z) "
        "from gold.fct_unit_cycle_features where dataset = 'FD102' and split = 'train' group by all"
    )
    for _, mean, std in stats:
        assert abs(mean) < 1e-9
        assert abs(std - 1) < 1e-9


def test_test_labels_add_the_truth_file_to_the_last_observed_cycle(built: Environment) -> None:
    truth = dict(built.query("select unit_number, rul_cycles from bronze.stg_cmapss__rul_truth where dataset='FD101'"))
    rows = built.query(
        "select unit_number, cycle, rul from gold.fct_unit_cycle_features "
        "where dataset = 'FD101' and split = 'test' and is_last_observed_cycle"
    )
    assert len(rows) == 6
    for unit, _, rul in rows:
        assert rul == truth[unit] > 0


def test_analysts_query_the_marts_with_the_plain_duckdb_cli(built: Environment) -> None:
    cli = Path(sys.executable).with_name("duckdb")
    result = subprocess.run(
        [
            str(cli),
            "-readonly",
            "-csv",
            str(built.paths.warehouse),
            "-c",
            "select count(*) from gold.mart_fleet_health where health_band in ('normal', 'watch', 'alert')",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == ["count_star()", "24"]


# The two tests below build the module's warehouse again (the tests above only read it): a build with
# nothing new changes no row, then a third dataset lands.


def test_a_second_build_ingests_nothing_and_leaves_the_marts_identical(built: Environment) -> None:
    before = gold_fingerprints(built)
    landed_before = built.query("select count(*), max(ingested_at) from bronze.base_cmapss__landed_lines")
    second = built.build()
    assert "Landing folder: 6 files, 0 new or changed" in second.stdout
    assert built.query("select count(*), max(ingested_at) from bronze.base_cmapss__landed_lines") == landed_before
    assert gold_fingerprints(built) == before


def test_landing_one_more_file_adds_exactly_its_rows(built: Environment) -> None:
    readings_before = built.query(READINGS)
    more = FleetSpec(dataset="FD103", train_units=3, test_units=2, conditions=1, fault_modes=1, seed=13)
    built.land(more)
    second = built.build()
    assert "Landing folder: 9 files, 3 new or changed" in second.stdout
    new_lines = sum(line_count(p) for p in built.paths.landing.glob("t*_FD103.txt"))
    readings_after = built.query(READINGS)
    assert len(readings_after) == len(readings_before) + new_lines
    assert set(readings_before) <= set(readings_after)
    assert built.scalar("select count(*) from gold.fct_unit_cycle_features where dataset = 'FD103'") == new_lines


def test_registry_changes_are_kept_as_scd2_and_readings_join_the_version_valid_then(
    environment: Environment,
) -> None:
    from ml.simulate import main as simulate

    environment.land(SMALL)
    environment.build()
    rows_before = environment.scalar("select count(*) from gold.fct_unit_cycle_features")
    assert (
        simulate(["registry-update", "--fraction", "0.5", "--seed", "3", "--landing", str(environment.paths.landing)])
        == 0
    )
    environment.build()

    changed = environment.query(
        "select unit_id, valid_from from gold.dim_unit_registry_history where version_number = 2"
    )
    assert len(changed) == 6  # half of the 12 units
    assert environment.scalar("select count(*) from gold.fct_unit_cycle_features") == rows_before
    # Every reading carries the version whose half-open interval holds its time.
    mismatched = environment.scalar(
        """
        select count(*)
        from gold.fct_unit_cycle_features as f
        inner join gold.dim_unit_registry_history as h on f.registry_version_id = h.registry_version_id
        where not (h.valid_from <= f.reading_at and f.reading_at < coalesce(h.valid_to, 'infinity'::timestamp))
        """
    )
    assert mismatched == 0
    for unit_id, change_at in changed:
        versions = environment.query(
            f"select distinct h.version_number from gold.fct_unit_cycle_features as f "
            f"join gold.dim_unit_registry_history as h using (registry_version_id) "
            f"where f.unit_id = '{unit_id}' and f.reading_at >= '{change_at}'"
        )
        assert versions == [(2,)]


def test_real_nasa_files_load_unchanged_and_unrecognised_files_are_quarantined(environment: Environment) -> None:
    landing = environment.paths.landing
    (landing / "train_FD001.txt").write_bytes(NASA_FIRST_LINE + NASA_FIRST_LINE.replace(b"1 1 ", b"1 2 ", 1))
    (landing / "readme.txt").write_text("Data sets consist of multiple multivariate time series.\n")
    (landing / "Damage Propagation Modeling.pdf").write_bytes(b"%PDF-1.4\n\xff\xfe\x00\x01binary")
    result = environment.build()  # no registry: the units load as unregistered
    assert "WARN" in result.stdout
    row = environment.query(
        "select unit_number, cycle, op_setting_1, t24_lpc_outlet_temp, w32_lpt_coolant_bleed "
        "from bronze.stg_cmapss__sensor_readings order by cycle"
    )
    assert row == [(1, 1, -0.0007, 641.82, 23.419), (1, 2, -0.0007, 641.82, 23.419)]
    quarantined = environment.query(
        "select file_name, line_number, rejection_reason from bronze.stg_cmapss__quarantined_lines order by all"
    )
    assert [(name, line) for name, line, _ in quarantined] == [
        ("Damage Propagation Modeling.pdf", 0),
        ("readme.txt", 1),
    ]
    assert all("file name does not match" in reason for _, _, reason in quarantined)
    assert environment.query(
        "select is_registered, reading_at from gold.dim_units join gold.fct_unit_cycle_features "
        "using (unit_id) where cycle = 1"
    ) == [(False, None)]


def test_scores_written_back_by_ml_appear_in_fleet_health(environment: Environment) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    environment.land(SMALL)
    environment.build()
    assert environment.scalar("select count(failure_probability) from gold.mart_fleet_health") == 0
    latest = environment.query("select unit_id, dataset, split, unit_number, latest_cycle from gold.mart_fleet_health")
    scores = environment.paths.predictions / "unit_risk_scores"
    scores.mkdir(parents=True)

    def write_run(name: str, scored_at: str, probability: float) -> None:
        table = pa.table(
            {
                "unit_id": [u for u, *_ in latest],
                "dataset": [d for _, d, *_ in latest],
                "split": [s for _, _, s, *_ in latest],
                "unit_number": pa.array([n for *_, n, _ in latest], pa.int32()),
                "cycle": pa.array([c for *_, c in latest], pa.int32()),
                "failure_probability": [probability] * len(latest),
                "predicted_rul": [42.0] * len(latest),
                "classifier_version": ["1"] * len(latest),
                "regressor_version": ["1"] * len(latest),
                "features_delta_version": pa.array([0] * len(latest), pa.int64()),
                "scored_at": pa.array([scored_at] * len(latest), pa.string()).cast(pa.timestamp("us")),
            }
        )
        pq.write_table(table, scores / name)

    write_run("scores_1.parquet", "2026-01-01 00:00:00", 0.25)
    write_run("scores_2.parquet", "2026-01-02 00:00:00", 0.75)  # the newer run wins
    environment.build()
    assert environment.query(
        "select count(*), min(failure_probability), max(failure_probability), bool_and(is_score_current) "
        "from gold.mart_fleet_health"
    ) == [(12, 0.75, 0.75, True)]
    # score files from before ml.predict recorded the decision are read: no decision, the rule's band stands
    assert environment.query(
        "select count(decision_threshold), count(is_predicted_to_fail), bool_and(health_band = rule_health_band) "
        "from gold.mart_fleet_health"
    ) == [(0, 0, True)]


def test_the_whole_loop_build_publish_train_predict_rebuild(environment: Environment) -> None:
    """make run's chain on a small fleet: the champion's scores and decision land in the contract-enforced mart,
    each landed file's hops (landed, ingested, visible in gold, scored) reach gold.mart_pipeline_freshness, and
    the freshness checks fire on stale data: source freshness, the build's SLA tests, sla_breaches."""
    import json
    import os
    import re
    import time
    from datetime import UTC, datetime

    from deltalake import DeltaTable

    from lakehouse.freshness import Slas, report, sla_breaches
    from lakehouse.lake import mart_path
    from lakehouse.publish import publish
    from ml.monitor import monitor
    from ml.predict import score_all
    from ml.summary import render, warehouse_summary
    from ml.train import TrainConfig, train

    paths = environment.paths
    environment.land(FleetSpec(dataset="FD101", train_units=20, test_units=10, conditions=1, fault_modes=1, seed=21))
    # deliveries written a while ago: the sensor files 2 hours (past the 60-minute warning, not the 24-hour
    # error), the RUL file 2 days (past both)
    now = time.time()
    for name, age_s in (("train_FD101.txt", 7200), ("test_FD101.txt", 7200), ("RUL_FD101.txt", 2 * 86400)):
        os.utime(paths.landing / name, (now - age_s, now - age_s))
    freshness = environment.dbt("source", "freshness", "--target", "ci", check=False)
    assert freshness.returncode == 1  # an error-level staleness fails `dbt source freshness`
    sources = json.loads((paths.data_dir / "dbt_target" / "sources.json").read_text())["results"]
    assert {r["unique_id"].split(".", 2)[2]: r["status"] for r in sources} == {
        "cmapss.sensor_files": "warn",
        "cmapss.rul_files": "error",
        "registry.equipment_registry": "pass",
    }
    first = environment.build()
    # the build only warns: the late landing and the stale dataset, naming the files in the stored failures
    assert "WARN 3 files_ingested_within_sla" in first.stdout
    assert "WARN 1 datasets_landed_within_freshness_warn_limit" in first.stdout
    assert sorted(
        r[0] for r in environment.query("select file_name from dbt_test__audit.files_ingested_within_sla")
    ) == [
        "RUL_FD101.txt",
        "test_FD101.txt",
        "train_FD101.txt",
    ]
    assert environment.query("select pipeline_stage, count(*) from gold.mart_pipeline_freshness group by all") == [
        ("awaiting_gold", 3)
    ]
    published = {result.name: result for result in publish(paths.warehouse, paths.lake)}
    assert published["fct_unit_cycle_features"].version == 0
    trained = train(mart_path(paths.lake, "fct_unit_cycle_features"), paths.mlflow, config=TrainConfig.fast())
    assert trained.delta_version == 0
    run = score_all(mart_path(paths.lake, "fct_unit_cycle_features"), paths.mlflow, paths.predictions)
    drift = monitor(mart_path(paths.lake, "fct_unit_cycle_features"), paths.mlflow, paths.predictions)
    assert drift.written and drift.reference_version == drift.current_version == 0
    environment.dbt(
        "build",
        "--target",
        "ci",
        "--select",
        "stg_predictions__unit_risk_scores+",
        "stg_predictions__model_monitoring+",
    )
    # the drift figures reach gold: every feature of the champion's inputs, PSI 0 against itself
    assert environment.query(
        "select count(*), bool_and(is_latest_run), max(psi), min(reference_delta_version) "
        "from gold.mart_model_monitoring"
    ) == [(len(drift.drift), True, 0.0, 0)]
    scored = environment.query(
        "select count(*), count(failure_probability), bool_and(is_score_current), min(classifier_version) "
        "from gold.mart_fleet_health"
    )
    assert scored[0][:3] == (30, 30, True)
    # one risk decision: the champion's threshold and verdict beside the probability, and the band follows it
    assert environment.query(
        "select count(*) filter (where decision_threshold = ?), "
        "bool_and(is_predicted_to_fail = (failure_probability >= decision_threshold)), "
        "count(*) filter (where is_predicted_to_fail and health_band != 'alert'), "
        "count(*) filter (where health_band != rule_health_band and not is_predicted_to_fail) "
        "from gold.mart_fleet_health".replace("?", repr(run.threshold))
    ) == [(30, True, 0, 0)]
    # every hop of every landed file: visible at fct_unit_cycle_features v0's commit, scored by that run
    (v0,) = [
        c for c in DeltaTable(str(mart_path(paths.lake, "fct_unit_cycle_features"))).history() if c["version"] == 0
    ]
    committed_at = datetime.fromtimestamp(v0["timestamp"] / 1000, UTC).replace(tzinfo=None)
    hops = environment.query(
        "select file_name, pipeline_stage, gold_delta_version, visible_in_gold_at, scored_at, "
        "ingestion_lag_seconds between 7100 and 7300 or file_name like 'RUL%', "
        "gold_lag_seconds = epoch_us(visible_in_gold_at - ingested_at) / 1e6, scoring_lag_seconds > 0 "
        "from gold.mart_pipeline_freshness order by file_name"
    )
    scored_at = run.scores["scored_at"][0].as_py()
    assert hops == [
        (name, "scored", 0, committed_at, scored_at, True, True, True)
        for name in ("RUL_FD101.txt", "test_FD101.txt", "train_FD101.txt")
    ]
    # the summary counts units in service (10 test units), not the 20 train units that ran to failure
    summary = warehouse_summary(paths.warehouse)
    assert sum(n for _, n in summary["health"]) == 10
    assert "fleet health, units in service (test split)" in render(summary, {})
    # sla_breaches judges the rows the newest build wrote (the three files, scored by the feed-back build): their
    # late landing, and the stale dataset (WARN: 120 min); with SLAs of 1 s, every hop of every file, named
    *late, stale = sla_breaches(paths.warehouse)
    assert [line.split(":")[1] for line in late] == [
        " FD101 RUL_FD101.txt",
        " FD101 test_FD101.txt",
        " FD101 train_FD101.txt",
    ]
    assert all("s after it landed (ingestion_lag_sla_seconds 60)" in line for line in late), late
    assert re.fullmatch(
        r"SLA breach \(WARN\): dataset FD101 is stale: its newest file landed 12\d min ago, at "
        r"[-\d]+ [:\d]+ UTC \(freshness_warn_after_minutes 60\)",
        stale,
    ), stale
    strict = sla_breaches(paths.warehouse, slas=Slas(1, 1, 1, 1e6, 1e6))
    assert len(strict) == 9 and all("SLA breach: FD101 " in line for line in strict)
    assert any(line.startswith("SLA breach: FD101 train_FD101.txt: scored ") for line in strict)
    assert report(paths.warehouse)[2].split()[:2] == ["FD101", "3"]
    # Only the mart that changed gets a new Delta version.
    republished = {result.name: result for result in publish(paths.warehouse, paths.lake)}
    assert republished["mart_fleet_health"].changed and republished["mart_fleet_health"].version == 1
    assert republished["mart_model_monitoring"].changed and republished["mart_model_monitoring"].version == 1
    assert not republished["fct_unit_cycle_features"].changed

    # make run's chain again with nothing new: no Delta version, no registry version, no scores file
    from mlflow.tracking import MlflowClient

    def registry_versions() -> int:
        client = MlflowClient()
        return sum(len(client.search_model_versions(f"name = '{m.name}'")) for m in client.search_registered_models())

    scores_files = sorted((paths.predictions / "unit_risk_scores").glob("*.parquet"))
    versions_before = registry_versions()
    environment.build()
    assert not any(result.changed for result in publish(paths.warehouse, paths.lake))
    again = train(mart_path(paths.lake, "fct_unit_cycle_features"), paths.mlflow, config=TrainConfig.fast())
    assert again.reused and registry_versions() == versions_before
    assert not score_all(mart_path(paths.lake, "fct_unit_cycle_features"), paths.mlflow, paths.predictions).written
    assert sorted((paths.predictions / "unit_risk_scores").glob("*.parquet")) == scores_files
    assert not monitor(mart_path(paths.lake, "fct_unit_cycle_features"), paths.mlflow, paths.predictions).written
    environment.dbt(
        "build",
        "--target",
        "ci",
        "--select",
        "stg_predictions__unit_risk_scores+",
        "stg_predictions__model_monitoring+",
    )
    assert not any(result.changed for result in publish(paths.warehouse, paths.lake))
