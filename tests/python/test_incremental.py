"""Silver and gold are incremental per unit: a build rewrites the units touched by what landed since
the last build and no other row, a build with nothing new writes nothing, and an incremental history
of builds gives the same gold, row for row and bit for bit, as one `dbt build --full-refresh`.
Real files, the real `dbt build`, real DuckDB."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from lakehouse import lake
from lakehouse.publish import META_FINGERPRINT, META_MODE, fingerprint, read_change_log
from lakehouse.watch import PREDICTIONS_SOURCES
from ml.config import REPO_ROOT
from ml.predict import SCORE_SCHEMA
from ml.simulate import FleetSpec, format_cmapss_lines, read_cmapss
from tests.python.conftest import Environment
from tests.python.forked_runs import run_module
from tests.python.test_fault_tolerance import gold_fingerprints

pytestmark = pytest.mark.dbt

FLEET = FleetSpec(dataset="FD101", train_units=5, test_units=5, conditions=1, fault_modes=1, seed=11)
NEW_DATASET = FleetSpec(dataset="FD103", train_units=3, test_units=3, conditions=6, fault_modes=2, seed=12)
# The materialised per-unit tables: a build rewrites only the changed units' rows in these.
PER_UNIT_TABLES = (
    "silver.int_sensor_readings_deduplicated",
    "gold.fct_unit_cycle_features",
    "gold.dim_units",
    "gold.mart_fleet_health",
)


def rows_by_unit(env: Environment, table: str) -> dict[str, list[int]]:
    """Each unit's physical row ids: a row written (inserted) gets a new one. (A checkpoint after a
    delete compacts them, so they prove "nothing written" only where nothing was deleted either.)"""
    return {unit: sorted(ids) for unit, ids in env.query(f"select unit_id, list(rowid) from {table} group by unit_id")}


def content_by_unit(env: Environment, table: str) -> dict[str, str]:
    """An order-independent digest of each unit's rows, every column."""
    return dict(
        env.query(
            f"select unit_id, md5(string_agg(cast(t as varchar), '|' order by cast(t as varchar))) "
            f"from {table} as t group by unit_id"
        )
    )


def grain_test_sql(env: Environment, model: str) -> str:
    """The SQL the latest build ran for the grain test of `model` (dbt shortens the file's name)."""
    layer = {"fct": "marts", "dim": "marts", "mart": "marts", "stg": "staging/cmapss"}.get(
        model.split("_")[0], "intermediate"
    )
    tests_run = env.paths.data_dir / "dbt_target" / "run" / "pdm_lakehouse" / "models" / layer / f"{model}.yml"
    return next(tests_run.glob("unique_combination_of_columns*")).read_text()


def digested_inputs(env: Environment) -> dict[str, str]:
    """The filter the latest build put on each input of int_unit_context_hashes (its compiled SQL):
    what it digested."""
    compiled = (
        env.paths.data_dir
        / "dbt_target"
        / "compiled"
        / "pdm_lakehouse"
        / "models"
        / "intermediate"
        / "int_unit_context_hashes.sql"
    ).read_text()
    return {
        name: " ".join(re.search(rf"\b{name} as \(\s*select \* from \S+\s+where (.*?)\n\)", compiled, re.S)[1].split())
        for name in ("registry_versions", "rul_truth", "risk_scores")
    }


def logged_changes(env: Environment) -> int:
    return env.scalar("select count(*) from silver.int_unit_change_log")


def assert_full_refresh_gives_the_same_gold(env: Environment) -> None:
    incremental = gold_fingerprints(env)
    env.build("--full-refresh")
    assert gold_fingerprints(env) == incremental


def land_lines(env: Environment, name: str, readings) -> None:
    (env.paths.landing / name).write_text(format_cmapss_lines(readings))


@pytest.fixture(scope="module")
def env(module_environment: Environment) -> Environment:
    module_environment.land(FLEET)
    module_environment.build()
    return module_environment


def test_a_build_with_nothing_new_writes_no_row(env: Environment) -> None:
    before = {table: rows_by_unit(env, table) for table in PER_UNIT_TABLES}
    changes = logged_changes(env)
    result = env.build()
    assert "Landing folder: 3 files, 0 new or changed" in result.stdout
    assert logged_changes(env) == changes
    assert {table: rows_by_unit(env, table) for table in PER_UNIT_TABLES} == before
    # nothing rewritten, nothing tested: not even the views' tests recompute the history, and
    # bronze's tests read no file
    for model in (
        "int_sensor_readings_normalised",
        "fct_unit_cycle_features",
        "stg_cmapss__sensor_readings",
        "int_rul_truth_mapped",
        "int_equipment_registry_versions",
    ):
        assert "where false) dbt_subquery" in grain_test_sql(env, model), model
    # and no registry version or RUL truth is digested again (no score exists yet)
    digests = digested_inputs(env)
    assert (digests["registry_versions"], digests["rul_truth"]) == ("false", "false"), digests
    assert "scored_at >" not in digests["risk_scores"], digests


def test_new_units_late_cycles_and_a_registry_change_rewrite_only_those_units(env: Environment) -> None:
    test_file = read_cmapss(env.paths.landing / "test_FD101.txt")
    # a new test unit in a later delivery of the dataset, and six late cycles of test unit 2
    new_unit = test_file[test_file["unit_number"] == 1].assign(unit_number=40)
    unit_2 = test_file[test_file["unit_number"] == 2]
    late = unit_2.tail(6).assign(cycle=unit_2["cycle"].max() + range(1, 7))
    land_lines(env, "test_FD101_2026-11-23.txt", new_unit)
    land_lines(env, "test_FD101_late.txt", late)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ml.simulate",
            "registry-update",
            "--landing",
            str(env.paths.landing),
            "--fraction",
            "0.4",
            "--seed",
            "3",
        ],
        cwd=REPO_ROOT,
        env=env.env,
        check=True,
        capture_output=True,
    )
    before = {table: content_by_unit(env, table) for table in PER_UNIT_TABLES}
    env.build()

    batch = env.query(
        "select unit_id, has_reading_change, has_registry_change, has_baseline_change from silver.int_unit_change_log "
        "where changed_at = (select max(changed_at) from silver.int_unit_change_log) order by unit_id"
    )
    changed = {unit for unit, *_ in batch}
    readings = {unit for unit, reading, *_ in batch if reading}
    assert readings == {"FD101-test-002", "FD101-test-040"}
    assert any(registry for _, _, registry, _ in batch), "the registry update changed no unit"
    # the registry changed: every unit's versions were digested, and the registry view tested
    assert digested_inputs(env)["registry_versions"] == "true"
    assert "where true) dbt_subquery" in grain_test_sql(env, "int_equipment_registry_versions")
    assert not any(baseline for *_, baseline in batch), "test rows must not refit the baselines"

    for table in PER_UNIT_TABLES:
        after = content_by_unit(env, table)
        untouched = set(before[table]) - changed
        assert untouched, table
        assert {unit: after[unit] for unit in untouched} == {unit: before[table][unit] for unit in untouched}, (
            f"{table}: rows of units the build did not touch changed"
        )
    assert env.scalar("select max(cycle) from gold.fct_unit_cycle_features where unit_id = 'FD101-test-002'") == (
        unit_2["cycle"].max() + 6
    )
    assert env.scalar("select count(*) from gold.dim_units where unit_id = 'FD101-test-040'") == 1
    # the data tests of the per-unit tables checked exactly the units this build rewrote
    for model in ("int_sensor_readings_normalised", "fct_unit_cycle_features"):
        assert f"unit_id in ({', '.join(repr(unit) for unit in sorted(changed))})" in grain_test_sql(env, model)
    # and bronze's tests the files it ingested, every version of them
    assert "source_file in (" in grain_test_sql(env, "stg_cmapss__sensor_readings")
    assert "test_FD101_late.txt" in grain_test_sql(env, "stg_cmapss__sensor_readings")
    assert "train_FD101.txt" not in grain_test_sql(env, "stg_cmapss__sensor_readings")
    assert_full_refresh_gives_the_same_gold(env)


def test_a_corrected_file_and_a_new_dataset_match_a_full_refresh(env: Environment) -> None:
    train_path = env.paths.landing / "train_FD101.txt"
    train = read_cmapss(train_path)
    corrected = train[train["unit_number"] != 5].copy()  # unit 5 withdrawn
    corrected.loc[corrected["unit_number"] == 1, "s4"] = corrected.loc[corrected["unit_number"] == 1, "s4"] + 1.5
    land_lines(env, "train_FD101.txt", corrected)
    env.land(NEW_DATASET)
    env.build()

    assert env.scalar("select count(*) from gold.fct_unit_cycle_features where unit_id = 'FD101-train-005'") == 0
    assert env.scalar("select count(*) from gold.mart_fleet_health where unit_id = 'FD101-train-005'") == 0
    # still in the registry: dim_units keeps it, with nothing observed
    assert env.query("select observed_cycles from gold.dim_units where unit_id = 'FD101-train-005'") == [(0,)]
    assert env.scalar("select count(distinct unit_id) from gold.fct_unit_cycle_features where dataset = 'FD103'") == 6
    # a train unit changed: FD101's baselines were refitted, so all its units were rewritten
    refitted = env.query(
        "select count(*) filter (where has_baseline_change) from silver.int_unit_change_log "
        "where changed_at = (select max(changed_at) from silver.int_unit_change_log) and unit_id like 'FD101-%'"
    )[0][0]
    assert refitted == env.scalar("select count(*) from gold.dim_units where dataset = 'FD101' and observed_cycles > 0")
    assert_full_refresh_gives_the_same_gold(env)


def test_units_written_in_small_batches_give_the_same_gold(env: Environment) -> None:
    """fct_unit_cycle_features writes the units it rebuilds in batches of whole units, a range of unit
    ids per statement, so its windows fit in memory at any fleet size. An incremental build in
    batches of one or two units leaves gold as a full refresh in such batches writes it, bit for bit,
    and the units it did not touch as the earlier builds wrote them in one batch."""
    log = env.paths.data_dir / "dbt_logs" / "dbt.log"
    # a unit has ~100-300 readings; dbt.log at debug level holds each batch's statements
    small_batches = ("--vars", "{unit_batch_readings: 300}", "--log-level-file", "debug")
    # late cycles of two units far apart in id order: two batches
    test_file = read_cmapss(env.paths.landing / "test_FD101.txt")
    late = []
    for unit_number in (1, 4):
        unit = test_file[test_file["unit_number"] == unit_number]
        late.append(unit.tail(3).assign(cycle=unit["cycle"].max() + range(1, 4)))
    land_lines(env, "test_FD101_late_2.txt", pd.concat(late))
    env.build(*small_batches)
    assert env.query(
        "select max(cycle) from gold.fct_unit_cycle_features "
        "where unit_id in ('FD101-test-001', 'FD101-test-004') group by unit_id order by unit_id"
    ) == [(test_file[test_file["unit_number"] == n]["cycle"].max() + 3,) for n in (1, 4)]
    incremental = gold_fingerprints(env)

    logged = log.read_text().count("set variable pdm_unit_batch_first = 'FD")
    env.build("--full-refresh", *small_batches)
    units = env.scalar("select count(distinct unit_id) from gold.fct_unit_cycle_features")
    assert log.read_text().count("set variable pdm_unit_batch_first = 'FD") - logged >= units // 2
    assert gold_fingerprints(env) == incremental


def test_a_build_that_started_before_one_that_already_wrote_stops_before_any_increment(env: Environment) -> None:
    # what a build that started later, but got the warehouse first, leaves behind
    with duckdb.connect(str(env.paths.warehouse)) as con:
        (watermark,) = con.execute("select max(processed_through) from silver.unit_change_watermarks").fetchone()
        con.execute("update silver.unit_change_watermarks set processed_through = timestamp '2099-01-01'")
    gold = gold_fingerprints(env)
    try:
        env.land(FleetSpec(dataset="FD104", train_units=2, test_units=2, conditions=1, fault_modes=1, seed=13))
        result = env.build(check=False)
        assert result.returncode != 0
        assert "has already written to the warehouse: run the build again" in result.stdout
        assert "SKIP relation gold.fct_unit_cycle_features" in result.stdout
        assert gold_fingerprints(env) == gold
        # a build of the scores fed back alone (`make run`'s and the watcher's selection) has other roots:
        # stopped too, before its silver and gold models
        result = env.build("--select", *PREDICTIONS_SOURCES, check=False)
        assert result.returncode != 0
        assert "has already written to the warehouse: run the build again" in result.stdout
        assert "SKIP relation gold.mart_fleet_health" in result.stdout
        assert gold_fingerprints(env) == gold
    finally:
        with duckdb.connect(str(env.paths.warehouse)) as con:
            con.execute("update silver.unit_change_watermarks set processed_through = ?", [watermark])
    env.build()  # run again: the delivery it held back is taken in
    assert env.scalar("select count(distinct unit_id) from gold.fct_unit_cycle_features where dataset = 'FD104'") == 4


def test_a_build_of_part_of_the_project_that_left_out_an_upstream_increment_stops(env: Environment) -> None:
    """A selection that leaves out an incremental model with an increment pending would have the models
    below it rebuild their changed units from its stale rows and advance their watermarks past them:
    here the feature table would rewrite unit 3 without its late cycles, and no later build would name
    the unit again. It stops before any increment instead; a plain build then takes in everything."""
    test_file = read_cmapss(env.paths.landing / "test_FD101.txt")
    unit_3 = test_file[test_file["unit_number"] == 3]
    last_cycle = unit_3["cycle"].max() + 2
    land_lines(env, "test_FD101_late_3.txt", unit_3.tail(2).assign(cycle=unit_3["cycle"].max() + range(1, 3)))
    env.build("--select", "+int_unit_reading_changes")  # bronze, and the units the late cycles touch
    gold = gold_fingerprints(env)

    result = env.build("--select", "int_unit_change_log+", check=False)  # silver's readings left out
    assert result.returncode != 0
    assert (
        "int_unit_change_log would take its increment from stale rows: upstream of it, "
        "int_sensor_readings_deduplicated not yet built" in result.stdout
    ), result.stdout[-3000:]
    assert "SKIP relation gold.fct_unit_cycle_features" in result.stdout
    assert gold_fingerprints(env) == gold

    env.build()
    assert env.scalar("select max(cycle) from gold.fct_unit_cycle_features where unit_id = 'FD101-test-003'") == (
        last_cycle
    )


def write_scores(env: Environment, unit_ids: list[str], scored_at: datetime) -> Path:
    """A scoring run's file (what ml.predict writes) scoring `unit_ids`, without training a model."""
    folder = env.paths.predictions / "unit_risk_scores"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"scores_{scored_at:%Y%m%dT%H%M%S}000000Z.parquet"
    parts = [unit_id.split("-") for unit_id in unit_ids]
    columns = {
        "unit_id": unit_ids,
        "dataset": [dataset for dataset, _, _ in parts],
        "split": [split for _, split, _ in parts],
        "unit_number": [int(number) for _, _, number in parts],
        "cycle": [10] * len(unit_ids),
        "failure_probability": [0.25 + 0.5 * i / len(unit_ids) for i in range(len(unit_ids))],
        "predicted_rul": [40.0 + i for i in range(len(unit_ids))],
        "classifier_version": ["1"] * len(unit_ids),
        "regressor_version": ["1"] * len(unit_ids),
        "features_delta_version": [0] * len(unit_ids),
        "scored_at": [scored_at] * len(unit_ids),
        "decision_threshold": [0.5] * len(unit_ids),
        "is_predicted_to_fail": [i % 2 == 0 for i in range(len(unit_ids))],
    }
    pq.write_table(pa.table(columns, schema=SCORE_SCHEMA), path)
    return path


def test_a_corrected_rul_file_and_new_scores_are_digested_for_their_units_only(env: Environment) -> None:
    """int_unit_context_hashes digests what changed, not every unit: the truth of the dataset whose RUL
    file was corrected (not the others'), the units with a newer score, and no registry version when the
    registry did not change; the change still reaches gold, equal to a full refresh."""
    rul_path = env.paths.landing / "RUL_FD103.txt"
    truth = [int(value) for value in rul_path.read_text().split()]
    rul_path.write_text("".join(f"{value + 7 * (number == 2)}\n" for number, value in enumerate(truth, start=1)))
    scored = ["FD101-test-001", "FD101-train-002", "FD103-test-003"]
    write_scores(env, scored, datetime(2026, 1, 1))
    env.build()

    batch = env.query(
        "select unit_id, has_reading_change, has_registry_change, has_truth_change, has_score_change "
        "from silver.int_unit_change_log where changed_at = (select max(changed_at) from silver.int_unit_change_log)"
    )
    assert {unit for unit, _, _, truth_changed, _ in batch if truth_changed} == {"FD103-test-002"}
    assert {unit for unit, *_, score_changed in batch if score_changed} == set(scored)
    assert not any(reading or registry for _, reading, registry, *_ in batch)
    digests = digested_inputs(env)
    assert digests["registry_versions"] == "false", digests
    assert digests["rul_truth"] == "(dataset between 'FD103' and 'FD103' and dataset in ('FD103'))", digests
    assert "scored_at >" not in digests["risk_scores"]  # no score was digested before: every score is new
    # the truth mapping's data tests checked the dataset whose truth changed
    assert "and dataset in ('FD103'))) dbt_subquery" in grain_test_sql(env, "int_rul_truth_mapped")
    last_cycle_rul = (
        "select rul from gold.fct_unit_cycle_features where unit_id = 'FD103-test-002' and is_last_observed_cycle"
    )
    assert env.scalar(last_cycle_rul) == truth[1] + 7
    scored_in_gold = "select unit_id from gold.mart_fleet_health where failure_probability is not null order by 1"
    assert env.query(scored_in_gold) == [(unit,) for unit in sorted(scored)]

    # a later scoring run: only its units' scores are digested
    write_scores(env, ["FD103-test-001"], datetime(2026, 1, 2))
    env.build()
    assert "scored_at > cast('2026-01-01 00:00:00' as timestamp)" in digested_inputs(env)["risk_scores"]
    assert env.query(
        "select unit_id from silver.int_unit_change_log where has_score_change "
        "and changed_at = (select max(changed_at) from silver.int_unit_change_log)"
    ) == [("FD103-test-001",)]
    # each per-unit model recorded the units it rewrote: the new score rewrote mart_fleet_health's row of
    # that unit, and none of the feature table or dim_units (they do not take scores) ...
    latest = "(select max(changed_at) from silver.int_unit_change_log)"
    rewritten = env.query(
        f"select model_name, list(unit_id order by unit_id) from silver.unit_rewrites where rewritten_at = {latest} "
        "group by all order by 1"
    )
    assert rewritten == [("mart_fleet_health", ["FD103-test-001"])]
    # ... so the publish compares that unit for mart_fleet_health, none for the feature table
    with duckdb.connect(str(env.paths.warehouse), read_only=True) as con:
        (before,) = con.execute(
            f"select max(changed_at) from silver.int_unit_change_log where changed_at < {latest}"
        ).fetchone()
        assert read_change_log(con, before).units == ("FD103-test-001",)
        assert read_change_log(con, before, "mart_fleet_health").units == ("FD103-test-001",)
        assert read_change_log(con, before, "fct_unit_cycle_features").units == ()
    assert_full_refresh_gives_the_same_gold(env)
    # after the full refresh nothing is left to digest
    env.build()
    digests = digested_inputs(env)
    assert (digests["registry_versions"], digests["rul_truth"]) == ("false", "false"), digests


def test_a_model_full_refreshed_alone_is_published_whole_once(env: Environment) -> None:
    """A changed definition applied the dbt way, `dbt build --full-refresh --select <its models>`, logs no
    unit in the change log; the model's pre-hook records the whole rebuild, and the publish compares and
    writes that table whole, once (last in the module: it leaves the labels as it found them)."""
    features = "fct_unit_cycle_features"
    table_path = lake.mart_path(env.paths.lake, features)

    def publish() -> dict[str, str]:
        """Each table's `vN (rows ...)` or `unchanged at vN (rows)`, without what its commit wrote."""
        result = run_module("lakehouse.publish", [], env.env, REPO_ROOT)
        assert result.returncode == 0, result.stdout + result.stderr
        lines = [line.removeprefix("gold.") for line in result.stdout.splitlines() if line.startswith("gold.")]
        return {table: said.split(": ")[0] for table, said in (line.split(": ", 1) for line in lines)}

    first = publish()
    assert first[features].startswith("v0 ")
    changes = logged_changes(env)
    relabelled = ("--full-refresh", "--select", "int_unit_cycle_labels", features)
    for cap, version in ((100, 1), (125, 2)):  # a new RUL cap, and back
        env.build(*relabelled, "--vars", f"{{rul_cap_cycles: {cap}}}")
        assert logged_changes(env) == changes  # the change log names nothing
        assert env.query(f"select max(rebuilt_at) from silver.unit_model_rebuilds where model_name = '{features}'") == (
            env.query(f"select processed_through from silver.unit_change_watermarks where model_name = '{features}'")
        )

        published = publish()
        assert published[features].startswith(f"v{version} "), published
        assert {t: said for t, said in published.items() if t != features} == {
            t: f"unchanged at {said}" for t, said in first.items() if t != features
        }
        with lake.connect() as con:
            assert con.execute(f"select max(rul_capped) from {lake.delta_scan_sql(table_path)}").fetchall() == [(cap,)]
        with duckdb.connect(str(env.paths.warehouse), read_only=True) as con:
            digest = fingerprint(con, features).digest
        commit = DeltaTable(str(table_path)).history(1)[0]
        assert (commit[META_MODE], commit[META_FINGERPRINT]) == ("full", digest)
        # once: the next publish finds nothing to compare
        assert publish()[features] == f"unchanged at {published[features]}"
