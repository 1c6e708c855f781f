"""The GDPR-style erase (`python -m lakehouse.erase`, `make erase`): after erasing one train and one test
unit of a tiny fleet, no warehouse table, no current Delta version and no score file holds them, the
audit record exists with its counts, the other test units keep their RUL labels, a file landed again
with the unit's lines does not bring it back, and the incremental state equals a full refresh.
Real files, the real `dbt build`, real Delta tables, real DuckDB."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from lakehouse import erase as erasing
from lakehouse import lake
from lakehouse import publish as publishing
from lakehouse import watch as watching
from lakehouse.restore import restore
from ml.config import REPO_ROOT, Paths, data_environment
from ml.predict import SCORE_SCHEMA
from ml.simulate import FleetSpec, format_cmapss_lines, read_cmapss
from tests.python.conftest import Environment
from tests.python.test_fault_tolerance import gold_fingerprints

pytestmark = pytest.mark.dbt

FLEET = FleetSpec(dataset="FD101", train_units=3, test_units=3, conditions=1, fault_modes=1, seed=31)
ERASED = (erasing.Unit("FD101", "train", 2), erasing.Unit("FD101", "test", 2))
KEPT_TEST_UNITS = ("FD101-test-001", "FD101-test-003")
# every build here: no settle wait (and, as in every build of the suite, no dbt unit tests: conftest.py)
SETTLED = ("--vars", "{landing_settle_seconds: 0}")


def write_scores(
    env: Environment,
    units: Sequence[tuple[str, int]] = tuple((split, n) for split in ("train", "test") for n in (1, 2, 3)),
    scored_at: datetime = datetime(2026, 1, 1),
) -> Path:
    """A scoring run's file (what ml.predict writes) scoring FD101's `units` (split, number; every unit by
    default), without training a model."""
    folder = env.paths.predictions / "unit_risk_scores"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"scores_{scored_at:%Y%m%dT%H%M%S}000000Z.parquet"
    count = len(units)
    columns = {
        "unit_id": [f"FD101-{s}-{n:03d}" for s, n in units],
        "dataset": ["FD101"] * count,
        "split": [s for s, _ in units],
        "unit_number": [n for _, n in units],
        "cycle": [10] * count,
        "failure_probability": [0.1 * n for _, n in units],
        "predicted_rul": [50.0 + n for _, n in units],
        "classifier_version": ["1"] * count,
        "regressor_version": ["1"] * count,
        "features_delta_version": [0] * count,
        "scored_at": [scored_at] * count,
        "decision_threshold": [0.5] * count,
        "is_predicted_to_fail": [False] * count,
    }
    pq.write_table(pa.table(columns, schema=SCORE_SCHEMA), path)
    return path


def landed_lines_of(env: Environment, unit: erasing.Unit) -> int:
    """Lines of the unit in the landing folder: its sensor lines, plus its RUL line for a test unit."""
    readings = read_cmapss(env.paths.landing / f"{unit.split}_{unit.dataset}.txt")
    return int((readings["unit_number"] == unit.number).sum()) + (unit.split == "test")


def traces(env: Environment, unit: erasing.Unit) -> dict[str, int]:
    """Rows of the unit per warehouse table (change logs aside) and raw lines still naming it."""
    with duckdb.connect(str(env.paths.warehouse), read_only=True) as con:
        found = erasing.unit_rows(con, unit)
        for (table,) in con.execute(
            "select table_schema || '.' || table_name from information_schema.columns "
            "where column_name = 'raw_line' and table_schema != 'dbt_test__audit'"
        ).fetchall():
            (lines,) = con.execute(
                f"select count(*) from {table} where source_file like ? and "
                f"regexp_extract(raw_line, '^\\s*(\\S+)', 1) = ?",
                [f"%{unit.split}_{unit.dataset}%", str(unit.number)],
            ).fetchone()
            if lines:
                found[f"{table} raw_line"] = lines
    return found


@pytest.fixture(scope="module")
def erased(module_environment: Environment) -> tuple[Environment, list[erasing.Erasure], dict]:
    env = module_environment
    env.land(FLEET)
    scores = write_scores(env)
    env.build(*SETTLED)
    publishing.publish(env.paths.warehouse, env.paths.lake)
    before = {
        "labels": env.query(
            "select unit_id, cycle, rul from gold.fct_unit_cycle_features "
            f"where unit_id in {KEPT_TEST_UNITS} order by all"
        ),
        "score_mtime": scores.stat().st_mtime_ns,
        "fct_rows": dict(env.query("select unit_id, count(*) from gold.fct_unit_cycle_features group by 1")),
    }
    records = erasing.erase(
        env.paths,
        ERASED,
        "data subject request #1",
        dbt_args=["--target", "ci", *SETTLED],
        dbt_env=env.env,
        say=io.StringIO(),
    )
    return env, records, before


def test_no_warehouse_table_holds_the_erased_units(erased):
    env, _, _ = erased
    for unit in ERASED:
        assert traces(env, unit) == {}, unit.unit_id
    # bronze keeps a text-less row per erased line, so the file's lines still add up
    erased_lines = env.scalar("select count(*) from bronze.base_cmapss__landed_lines where erased_at is not null")
    assert erased_lines == sum(landed_lines_of(env, unit) for unit in ERASED)
    assert (
        env.scalar(
            "select count(*) from bronze.base_cmapss__landed_lines where erased_at is not null and raw_line is not null"
        )
        == 0
    )


def test_no_current_delta_version_or_score_file_holds_them_and_fingerprints_hold(erased):
    env, records, before = erased
    with lake.connect() as con:
        for name in erasing.published_with_units(env.paths.lake):
            path = lake.mart_path(env.paths.lake, name)
            for unit in ERASED:
                (rows,) = con.execute(
                    f"select count(*) from {lake.delta_scan_sql(path)} where unit_id = ?", [unit.unit_id]
                ).fetchone()
                assert rows == 0, (name, unit.unit_id)
    operations = [
        c["operation"] for c in DeltaTable(str(lake.mart_path(env.paths.lake, "fct_unit_cycle_features"))).history()
    ]
    assert operations.count("DELETE") == 2  # one DELETE commit per erased unit
    # the commits' fingerprints are the warehouse's: the next publish is a no-op
    assert not any(result.changed for result in publishing.publish(env.paths.warehouse, env.paths.lake))
    with duckdb.connect(str(env.paths.warehouse), read_only=True) as con:
        for name in publishing.published_tables(env.paths.lake):
            commit = publishing.latest_commit(DeltaTable(str(lake.mart_path(env.paths.lake, name))))
            assert publishing.fingerprint(con, name).digest == commit[publishing.META_FINGERPRINT], name
    scores = pq.read_table(next((env.paths.predictions / "unit_risk_scores").glob("*.parquet")))
    assert sorted(scores["unit_id"].to_pylist()) == [
        "FD101-test-001",
        "FD101-test-003",
        "FD101-train-001",
        "FD101-train-003",
    ]
    fct = dict(env.query("select unit_id, count(*) from gold.fct_unit_cycle_features group by 1"))
    for record in records:
        assert record.removed_rows["lake/gold/fct_unit_cycle_features"] == before["fct_rows"][record.unit.unit_id]
        assert record.unit.unit_id not in fct
        # the versions before its DELETE commit hold it until vacuumed
        deleted_at = record.delta_versions["lake/gold/fct_unit_cycle_features"]
        assert record.versions_still_holding["fct_unit_cycle_features"] == list(range(deleted_at))


def test_the_audit_record_names_unit_reason_and_counts(erased):
    env, _, before = erased
    with lake.connect() as con:
        rows = con.execute(
            "select unit_id, reason, status, landing_lines_erased, score_rows_removed, removed_rows_json, "
            f"delta_versions_json from {lake.delta_scan_sql(env.paths.lake / 'audit' / 'erasures')} "
            "where status = 'complete' order by unit_id"
        ).fetchall()
        # the request, recorded before anything was erased: one `started` row per unit, the same erasure id
        started = con.execute(
            "select unit_id, count(*), count(distinct erasure_id) "
            f"from {lake.delta_scan_sql(env.paths.lake / 'audit' / 'erasures')} group by 1 order by 1"
        ).fetchall()
    assert started == [("FD101-test-002", 2, 1), ("FD101-train-002", 2, 1)]
    assert [r[0] for r in rows] == ["FD101-test-002", "FD101-train-002"]
    for row, unit in zip(rows, reversed(ERASED), strict=True):
        unit_id, reason, status, lines, score_rows, removed, versions = row
        assert (reason, status, score_rows) == ("data subject request #1", "complete", 1)
        assert lines == landed_lines_of(env, unit)
        removed = json.loads(removed)
        assert removed["gold.fct_unit_cycle_features"] == before["fct_rows"][unit_id]
        assert removed["bronze.stg_cmapss__sensor_readings"] == before["fct_rows"][unit_id]
        assert set(json.loads(versions)) >= {"lake/gold/fct_unit_cycle_features", "lake/gold/dim_units"}
    assert (env.paths.landing / "erasures" / "erased_units.csv").read_text().count("FD101-") == 2
    assert "data subject request" not in (env.paths.landing / "erasures" / "erased_units.csv").read_text()


def test_the_other_test_units_keep_their_rul_labels(erased):
    env, _, before = erased
    after = env.query(
        f"select unit_id, cycle, rul from gold.fct_unit_cycle_features where unit_id in {KEPT_TEST_UNITS} order by all"
    )
    assert after == before["labels"]
    assert all(rul is not None for _, _, rul in after)
    assert env.scalar("select bool_and(is_mapping_trusted) from silver.int_rul_truth_mapped") is True


def test_an_unknown_unit_is_refused_before_anything_is_written(erased):
    env, _, _ = erased
    tombstone = (env.paths.landing / "erasures" / "erased_units.csv").read_text()
    with pytest.raises(erasing.EraseError, match=r"FD101-test-009 is neither in the warehouse .* nothing was erased"):
        erasing.erase(env.paths, [erasing.Unit("FD101", "test", 9)], "typo", dbt_args=["--target", "ci"])
    assert (env.paths.landing / "erasures" / "erased_units.csv").read_text() == tombstone
    with pytest.raises(erasing.EraseError, match="is not a unit id"):
        erasing.Unit.parse("FD101-16")


def test_a_landing_folder_that_cannot_take_the_tombstone_stops_with_one_line(tmp_path, monkeypatch, capsys):
    """A landing folder where the tombstone can't be written (mounted read-only from the source system; here
    `erasures` is a file) stopped `make erase` with a FileExistsError / PermissionError traceback."""
    paths = Paths.from_env(data_environment(tmp_path))
    paths.warehouse.parent.mkdir(parents=True)
    with duckdb.connect(str(paths.warehouse)) as con:
        con.execute("create schema gold; create table gold.dim_units as select 'FD101-test-001' as unit_id")
    paths.landing.mkdir(parents=True)
    (paths.landing / "erasures").write_text("not a folder")
    for name, value in data_environment(tmp_path).items():
        monkeypatch.setenv(name, value)
    assert erasing.main(["--unit", "FD101-test-001", "--reason", "x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f"erase: erasure of FD101-test-001 stopped at the step 'tombstone': can't use {paths.landing / 'erasures'}: "
        "a file is where a folder goes"
    )
    assert "Traceback" not in err
    assert (paths.landing / "erasures").read_text() == "not a folder"


@pytest.mark.parametrize("unit", ["", " , "])
def test_no_unit_at_all_is_refused_before_anything_is_written(erased, unit, monkeypatch, capsys):
    """`make erase REASON=x` without UNIT: refused (exit 2) before the build, the publish or a purge."""
    env, _, _ = erased
    for name, value in env.env.items():
        if name.startswith(("PDM_", "DBT_")):
            monkeypatch.setenv(name, value)
    tombstone = (env.paths.landing / "erasures" / "erased_units.csv").read_text()
    published = sorted((env.paths.lake / "gold").glob("*/_delta_log"))
    versions = {folder.parent.name: DeltaTable(str(folder.parent)).version() for folder in published}
    assert len(versions) > 3
    assert erasing.main(["--unit", unit, "--reason", "x", "--purge"]) == 2
    assert capsys.readouterr().err.startswith(f"erase: no unit named ({unit!r}): --unit (make erase UNIT=) takes")
    assert (env.paths.landing / "erasures" / "erased_units.csv").read_text() == tombstone
    assert {folder.parent.name: DeltaTable(str(folder.parent)).version() for folder in published} == versions


def test_a_restore_from_before_the_erasure_and_a_later_scores_file_bring_nothing_back(erased):
    """`make restore` of a version written before the erasure deletes the erased units again (a second commit
    under the same lock hold), and a scores file still naming them (what a scoring run reading the restored
    version would write) never reaches the warehouse; the next publish leaves the lake equal to it."""
    env, _, _ = erased
    name = "fct_unit_cycle_features"
    path = lake.mart_path(env.paths.lake, name)
    erased_ids = tuple(sorted(unit.unit_id for unit in ERASED))
    result = restore(env.paths.lake, name, version=0, landing=env.paths.landing)
    assert result.erased_units == erased_ids
    assert result.latest_version == result.new_version + 1 == DeltaTable(str(path)).version()
    with lake.connect() as con:
        count = f"select count(*) from {{}} where unit_id in {erased_ids}"
        assert con.execute(count.format(lake.delta_scan_sql(path, result.new_version))).fetchone() == (
            result.erased_rows,
        )
        assert result.erased_rows > 0
        assert con.execute(count.format(lake.delta_scan_sql(path))).fetchone() == (0,)
        # the DELETE commit's row count is the table's (`make history` shows it), though no fingerprint is kept
        (rows,) = con.execute(f"select count(*) from {lake.delta_scan_sql(path)}").fetchone()
    latest = publishing.latest_commit(DeltaTable(str(path)))
    assert int(latest[publishing.META_ROWS]) == rows
    assert publishing.META_FINGERPRINT not in latest
    assert f"deleted again as v{result.latest_version}" in result.summary()
    # a table without units: the restore alone
    assert restore(env.paths.lake, "mart_pipeline_freshness", version=0, landing=env.paths.landing).erased_units == ()

    late = write_scores(env, [(unit.split, unit.number) for unit in ERASED], datetime(2026, 1, 2))
    try:
        env.build(*SETTLED)
        for table in ("silver.int_unit_risk_scores_latest", "gold.mart_fleet_health"):
            assert env.scalar(f"select count(*) from {table} where unit_id in {erased_ids}") == 0, table
    finally:
        late.unlink()
    publishing.publish(env.paths.warehouse, env.paths.lake)
    with duckdb.connect(str(env.paths.warehouse), read_only=True) as con:
        commit = publishing.latest_commit(DeltaTable(str(path)))
        assert publishing.fingerprint(con, name).digest == commit[publishing.META_FINGERPRINT]


def test_a_scores_file_written_during_the_erasure_is_swept_too(erased, monkeypatch):
    """A scoring run that read the tombstone before the erasure wrote it (`ml.predict` takes no lock) writes its
    file after the erasure's score-file step: the erasure completed with that file holding the units' scores."""
    env, _, _ = erased
    build = erasing.run_build

    def scoring_meanwhile(*args, **kwargs):
        write_scores(env, [(unit.split, unit.number) for unit in ERASED], datetime(2026, 1, 3))
        build(*args, **kwargs)

    monkeypatch.setattr(erasing, "run_build", scoring_meanwhile)
    again = erasing.erase(env.paths, ERASED, "again", dbt_args=["--target", "ci", *SETTLED], dbt_env=env.env)
    assert [(r.status, r.score_rows_removed) for r in again] == [("complete", 1)] * 2
    held = [
        pq.read_table(path)["unit_id"].to_pylist()
        for path in (env.paths.predictions / "unit_risk_scores").glob("*.parquet")
    ]
    assert not {unit.unit_id for unit in ERASED} & {unit for units in held for unit in units}


def test_a_file_landed_again_and_a_second_erase_bring_nothing_back_and_equal_a_full_refresh(erased):
    env, _, _ = erased
    path = env.paths.landing / "test_FD101.txt"
    readings = read_cmapss(path)
    late = readings[readings["unit_number"] == 3].tail(1).assign(cycle=lambda r: r["cycle"] + 1)
    path.write_text(format_cmapss_lines(readings) + format_cmapss_lines(late))  # corrected: unit 2 still in it
    # erasing again completes (or, as here, repeats) an erasure: nothing left to remove, and its build
    # ingests the corrected file, whose lines of the erased unit enter bronze blank
    # (with --purge: every old Delta version is vacuumed, so none holds the units any more)
    again = erasing.erase(env.paths, ERASED, "again", True, ["--target", "ci", *SETTLED], env.env, say=io.StringIO())
    assert [(r.status, r.landing_lines_erased, r.delta_versions) for r in again] == [("complete", 0, {})] * 2
    assert [r.versions_still_holding for r in again] == [{}, {}]
    with lake.connect() as con:
        assert erasing.versions_holding(con, env.paths.lake, ERASED[1]) == {}
    for unit in ERASED:
        assert traces(env, unit) == {}, unit.unit_id
    erased_test_lines = env.scalar(
        "select count(*) from bronze.base_cmapss__landed_lines "
        "where erased_at is not null and source_file like '%test_FD101.txt'"
    )
    assert erased_test_lines == 2 * (landed_lines_of(env, ERASED[1]) - 1)  # in both versions of the file
    incremental = gold_fingerprints(env)
    env.build("--full-refresh", *SETTLED)
    assert gold_fingerprints(env) == incremental
    for unit in ERASED:
        assert traces(env, unit) == {}, unit.unit_id


# An erasure SIGKILLed between its per-table Delta DELETE commits (after the first one).
KILLED_BETWEEN_DELETES = """
import os, signal, sys
import lakehouse.erase as erasing
from ml.config import Paths
delete = erasing.delete_units_from_table
calls = []

def delete_then_die(*args, **kwargs):
    calls.append(1)
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return delete(*args, **kwargs)

erasing.delete_units_from_table = delete_then_die
erasing.erase(Paths.from_env(), [erasing.Unit.parse(sys.argv[1])], "data subject request #2")
"""


def test_an_erasure_killed_between_its_delete_commits_is_recorded_and_finished_by_the_next_erase(
    erased, monkeypatch, capsys
):
    """Killed between two tables' DELETE commits, `make erase` left no audit row: nothing said an erasure was
    owed, and the next publish wrote the unit back into the table already deleted from (the warehouse's gold
    still held it). The request is recorded first: publish and the watcher refuse, naming the unit, and the
    next erase (of another unit here) completes it under its own id and reason."""
    env, _, _ = erased
    for name, value in env.env.items():
        if name.startswith(("PDM_", "DBT_")):
            monkeypatch.setenv(name, value)
    unit = erasing.Unit("FD101", "train", 3)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_BETWEEN_DELETES, unit.unit_id], cwd=REPO_ROOT, env=env.env, check=False
    )
    assert killed.returncode == -signal.SIGKILL
    held = {}
    with lake.connect() as con:
        for name in erasing.published_with_units(env.paths.lake):
            path = lake.mart_path(env.paths.lake, name)
            sql = f"select count(*) from {lake.delta_scan_sql(path)} where unit_id = ?"
            held[name] = con.execute(sql, [unit.unit_id]).fetchone()[0]
    deleted_from = sorted(name for name, rows in held.items() if rows == 0)
    assert len(deleted_from) == 1 and len(held) > 1  # killed part-way
    [pending] = erasing.pending_erasures(env.paths.lake)
    assert (pending.unit_id, pending.status, pending.reason) == (unit.unit_id, "started", "data subject request #2")

    assert publishing.main([]) == 1
    err = capsys.readouterr().err
    assert "an erasure was requested and not completed (FD101-train-003: started" in err
    assert "make erase UNIT=FD101-train-003 REASON=..." in err
    with pytest.raises(lake.LakeError, match="an erasure was requested and not completed"):  # called from Python too
        publishing.publish(env.paths.warehouse, env.paths.lake)
    assert watching.main(["--once"]) == 1
    assert "watch: an erasure was requested and not completed (FD101-train-003: started" in capsys.readouterr().err
    with lake.connect() as con:  # nothing published: the unit stays out of the table it was deleted from
        path = lake.mart_path(env.paths.lake, deleted_from[0])
        sql = f"select count(*) from {lake.delta_scan_sql(path)} where unit_id = ?"
        assert con.execute(sql, [unit.unit_id]).fetchone() == (0,)

    say = io.StringIO()
    records = erasing.erase(
        env.paths, ERASED[:1], "again", dbt_args=["--target", "ci", *SETTLED], dbt_env=env.env, say=say
    )
    assert f"completing the earlier erasure of {unit.unit_id} (started)" in say.getvalue()
    finished = {r.unit.unit_id: r for r in records}
    assert finished[unit.unit_id].status == "complete"
    assert (finished[unit.unit_id].erasure_id, finished[unit.unit_id].reason) == (
        pending.erasure_id,
        "data subject request #2",
    )
    assert erasing.pending_erasures(env.paths.lake) == []
    assert traces(env, unit) == {}
    with lake.connect() as con:
        for name in erasing.published_with_units(env.paths.lake):
            path = lake.mart_path(env.paths.lake, name)
            sql = f"select count(*) from {lake.delta_scan_sql(path)} where unit_id = ?"
            assert con.execute(sql, [unit.unit_id]).fetchone() == (0,), name
    assert publishing.main([]) == 0


def test_a_unit_landed_but_never_built_is_erased_and_its_lines_enter_bronze_blank(erased):
    """A unit in a file that landed after the last build (in no warehouse table yet) was refused as unknown
    ("neither in the warehouse nor in the tombstone"), so the next build took it in. Its erasure is recorded
    (tombstone, audit) and that build takes the file in with the unit's lines blank; the other units flow."""
    env, _, _ = erased
    env.land(FleetSpec(dataset="FD102", train_units=2, test_units=2, conditions=1, fault_modes=1, seed=32))
    unit = erasing.Unit("FD102", "test", 1)
    assert env.scalar("select count(*) from bronze.base_cmapss__landed_lines where dataset = 'FD102'") == 0
    assert erasing.landed_files_of(env.paths.landing, unit) == [
        env.paths.landing / "RUL_FD102.txt",
        env.paths.landing / "test_FD102.txt",
    ]
    assert erasing.landed_files_of(env.paths.landing, erasing.Unit("FD102", "test", 9)) == []
    [record] = erasing.erase(
        env.paths, [unit], "never built", dbt_args=["--target", "ci", *SETTLED], dbt_env=env.env, say=io.StringIO()
    )
    assert (record.status, record.removed_rows) == ("complete", {})
    assert "no table held the unit (landed but never built" in erasing.report(record)
    assert unit.unit_id in (env.paths.landing / "erasures" / "erased_units.csv").read_text()
    assert traces(env, unit) == {}
    blank = env.scalar(
        "select count(*) from bronze.base_cmapss__landed_lines where dataset = 'FD102' and erased_at is not null"
    )
    assert blank == landed_lines_of(env, unit)
    assert sorted(r[0] for r in env.query("select unit_id from gold.dim_units where unit_id like 'FD102%'")) == [
        "FD102-test-002",
        "FD102-train-001",
        "FD102-train-002",
    ]
    assert erasing.pending_erasures(env.paths.lake) == []


def test_the_erasures_landed_file_and_unit_number_rules_are_the_dbt_macros(erased):
    """lakehouse/erase.py repeats two of bronze's rules in Python: which landed files are data files
    (LANDED_FILE_NAME, the dbt macro cmapss_file_name_regex) and which unit a raw line names
    (RAW_LINE_UNIT_NUMBER, the macro raw_line_unit_number). Compiled by the real dbt, each macro must give
    what erase.py's copy gives, on names and lines at the edges of the rules: a change to one alone fails.
    And the unit a line names must be found for every unit number the sensor-line parser takes in (up to
    2147483647): a unit numbered past the rule's range kept its raw lines through its erasure."""
    env, _, _ = erased
    inline = (
        "select '{{ cmapss_file_name_regex() }}' as regex, raw_line, {{ raw_line_unit_number('raw_line') }} as n, "
        "case when {{ is_whole_number_token('first_token') }} then {{ token_as_integer('first_token') }} end as parsed "
        "from (select raw_line, regexp_extract(raw_line, '^\\s*(\\S+)', 1) as first_token from raw)"
    )
    out = env.dbt("compile", "--target", "ci", *SETTLED, "--output", "json", "--inline", inline).stdout
    by_dbt_sql = json.loads(out[out.index("{") : out.rindex("}") + 1])["compiled"]
    names = [
        "train_FD001.txt",
        "test_FD004.txt",
        "RUL_FD002.txt",
        "train_FD001_2026-11-22.txt",
        "train_FD001 (resent).txt",
        "test_FD001-b.txt",
        "RUL_FD001_.txt",
        "train_FD1.txt",
        "train_FD0012.txt",
        "TRAIN_FD001.txt",
        "train_FD001.txt.bak",
        "train_FD001x.txt",
        "notes.txt",
        "train_FD001_a/b.txt",
        "train_FD001_a\\b.txt",
    ]
    lines = ["1 1 -0.0007", "  7  2 0.1", "\t12\t3", "0 1 2", "-3 1", "2.0 5", "2.5 5", "1e3 4", "abc 1", ""]
    lines += ["   ", None, "+5 1", "012 3", "12.0 1", "2147483646 1", "2147483647 1", "2147483648 1"]
    with duckdb.connect() as con:
        con.execute("create table raw (raw_line varchar)")
        con.executemany("insert into raw values (?)", [[line] for line in lines])
        rows = con.execute(by_dbt_sql).fetchall()
        by_erase_sql = f"select raw_line, {erasing.RAW_LINE_UNIT_NUMBER.format(col='raw_line')} from raw"
        by_erase = con.execute(by_erase_sql).fetchall()
        regex = rows[0][0].strip()
        assert regex == erasing.LANDED_FILE_NAME.pattern
        for name in names:
            match = erasing.LANDED_FILE_NAME.match(name)
            by_dbt = con.execute(
                "select regexp_matches(?, ?), regexp_extract(?, ?, 1), regexp_extract(?, ?, 2)", [name, regex] * 3
            ).fetchone()
            assert by_dbt == ((True, match[1], match[2]) if match else (False, "", "")), name
    assert [(line, n) for _, line, n, _ in rows] == by_erase
    # every unit number the sensor-line parser takes in (a whole-number token, as an integer), the erasure finds
    assert [(line, n) for _, line, n, parsed in rows if parsed is not None and parsed >= 1 and n != parsed] == []
    assert dict(by_erase)["2147483647 1"] == 2147483647 and dict(by_erase)["\t12\t3"] == 12
