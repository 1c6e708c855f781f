"""lakehouse.publish: gold tables of a real DuckDB warehouse published as real Delta tables (no mocks).

The warehouses are small DuckDB files built with SQL in each test (no dbt run), the lake is a
tmp_path folder, and Delta is read back through DuckDB's delta extension (lakehouse.lake).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import yaml
from deltalake import DeltaTable
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse import lake
from lakehouse import publish as publishing
from lakehouse.publish import (
    META_FINGERPRINT,
    META_ROWS,
    UNINDEXED_KEYS,
    PublishError,
    PublishResult,
    SchemaEnforcementError,
    fingerprint,
    history,
    main,
    publish,
)
from ml.config import REPO_ROOT


class Warehouse:
    """A DuckDB file with a `gold` schema, changed by short read-write sessions (closed before publishing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sql("create schema if not exists gold")

    def sql(self, *statements: str) -> None:
        with duckdb.connect(str(self.path)) as con:
            for statement in statements:
                con.execute(statement)


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    (tmp_path / "warehouse").mkdir()
    return Warehouse(tmp_path / "warehouse" / "pdm.duckdb")


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    return tmp_path / "lake"


def read(lake_dir: Path, table: str, sql: str = "select * from {t} order by all", version: int | None = None):
    with lake.connect() as con:
        return con.execute(sql.format(t=lake.delta_scan_sql(lake.mart_path(lake_dir, table), version))).fetchall()


def columns(lake_dir: Path, table: str, version: int | None = None) -> list[str]:
    with lake.connect() as con:
        rel = con.sql(f"select * from {lake.delta_scan_sql(lake.mart_path(lake_dir, table), version)}")
        return list(rel.columns)


def versions(lake_dir: Path, table: str) -> list[int]:
    return sorted(c["version"] for c in DeltaTable(str(lake.mart_path(lake_dir, table))).history())


def by_name(results: list[PublishResult]) -> dict[str, PublishResult]:
    return {r.name: r for r in results}


def test_first_publish_creates_version_0_and_an_unchanged_republish_adds_nothing(warehouse, lake_dir):
    warehouse.sql(
        "create table gold.t (id integer primary key, x double)",
        "insert into gold.t values (1, 1.5), (2, 2.5), (3, null)",
        "create table gold.u (code varchar primary key, n bigint)",
        "insert into gold.u values ('a', 10)",
    )

    first = by_name(publish(warehouse.path, lake_dir))
    assert first["t"] == PublishResult("t", 0, True, 3, first["t"].fingerprint, lake_dir / "gold" / "t")
    assert (first["u"].version, first["u"].changed, first["u"].rows) == (0, True, 1)
    assert read(lake_dir, "t") == [(1, 1.5), (2, 2.5), (3, None)]
    commit = DeltaTable(str(lake_dir / "gold" / "t")).history(limit=1)[0]
    assert commit[META_ROWS] == "3"
    assert commit[META_FINGERPRINT] == first["t"].fingerprint

    again = by_name(publish(warehouse.path, lake_dir))
    assert [(r.version, r.changed, r.rows) for r in again.values()] == [(0, False, 3), (0, False, 1)]
    assert versions(lake_dir, "t") == [0]
    assert versions(lake_dir, "u") == [0]


def test_a_changed_row_adds_exactly_one_version_and_older_versions_time_travel(warehouse, lake_dir):
    warehouse.sql(
        "create table gold.t (id integer primary key, x double)",
        "insert into gold.t values (1, 1.0), (2, 2.0)",
        "create table gold.same (id integer primary key)",
        "insert into gold.same values (1)",
    )
    publish(warehouse.path, lake_dir)
    warehouse.sql("update gold.t set x = 20.0 where id = 2")

    results = by_name(publish(warehouse.path, lake_dir))

    assert (results["t"].version, results["t"].changed) == (1, True)
    assert (results["same"].version, results["same"].changed) == (0, False)
    assert versions(lake_dir, "t") == [0, 1]
    assert read(lake_dir, "t") == [(1, 1.0), (2, 20.0)]
    assert read(lake_dir, "t", version=0) == [(1, 1.0), (2, 2.0)]
    # publishing the same content again adds nothing; going back to the old content is a change
    assert by_name(publish(warehouse.path, lake_dir))["t"].changed is False
    warehouse.sql("update gold.t set x = 2.0 where id = 2")
    assert by_name(publish(warehouse.path, lake_dir))["t"].version == 2
    assert read(lake_dir, "t", version=2) == read(lake_dir, "t", version=0)


def test_a_duplicated_row_is_a_change_even_with_the_same_row_count(warehouse, lake_dir):
    warehouse.sql("create table gold.nokey (x integer)", "insert into gold.nokey values (1), (1), (2), (2)")
    publish(warehouse.path, lake_dir)
    warehouse.sql("delete from gold.nokey", "insert into gold.nokey values (3), (3), (4), (4)")
    assert by_name(publish(warehouse.path, lake_dir))["nokey"].version == 1


def test_only_the_named_tables_are_published_and_unknown_names_are_refused(warehouse, lake_dir):
    warehouse.sql("create table gold.a (id integer primary key)", "create table gold.b (id integer primary key)")

    assert [r.name for r in publish(warehouse.path, lake_dir, ["gold.b"])] == ["b"]
    assert not (lake_dir / "gold" / "a").exists()
    with pytest.raises(PublishError, match=r"no table gold\.missing .* a, b"):
        publish(warehouse.path, lake_dir, ["b", "missing"])


def test_a_new_column_is_a_new_version_and_the_previous_version_reads_without_it(warehouse, lake_dir):
    warehouse.sql("create table gold.t (id integer primary key, x double)", "insert into gold.t values (1, 1.0)")
    publish(warehouse.path, lake_dir)
    warehouse.sql("alter table gold.t add column band varchar", "update gold.t set band = 'green'")

    result = publish(warehouse.path, lake_dir)[0]

    assert (result.version, result.changed) == (1, True)
    assert columns(lake_dir, "t", version=0) == ["id", "x"]
    assert read(lake_dir, "t", version=0) == [(1, 1.0)]
    assert columns(lake_dir, "t") == ["id", "x", "band"]
    assert read(lake_dir, "t") == [(1, 1.0, "green")]
    assert history(lake_dir, "t")[-1].added_columns == ("band",)


def test_a_changed_column_type_is_refused_and_nothing_is_written(warehouse, lake_dir):
    warehouse.sql(
        "create table gold.t (id integer primary key, x double)",
        "insert into gold.t values (1, 1.0)",
        "create table gold.other (id integer primary key)",
    )
    publish(warehouse.path, lake_dir)
    warehouse.sql(
        "alter table gold.t alter column x type varchar",
        "insert into gold.other values (1)",  # a legitimate change in the same publish
    )

    with pytest.raises(SchemaEnforcementError) as refused:
        publish(warehouse.path, lake_dir)

    message = str(refused.value)
    assert "gold.t" in message
    assert "'x'" in message
    assert "from double" in message
    assert "to string" in message
    [violation] = refused.value.violations
    assert (violation.table, violation.column, violation.old_type, violation.new_type) == ("t", "x", "double", "string")
    assert versions(lake_dir, "t") == [0]
    assert versions(lake_dir, "other") == [0]  # every table is checked before any is written
    assert read(lake_dir, "t") == [(1, 1.0)]


def test_a_dropped_column_is_refused(warehouse, lake_dir):
    warehouse.sql(
        "create table gold.t (id integer primary key, x double, y bigint)", "insert into gold.t values (1, 1, 1)"
    )
    publish(warehouse.path, lake_dir)
    warehouse.sql("alter table gold.t drop column y")

    with pytest.raises(SchemaEnforcementError, match=r"gold\.t: column 'y' \(long\) was dropped"):
        publish(warehouse.path, lake_dir)
    assert versions(lake_dir, "t") == [0]
    assert columns(lake_dir, "t") == ["id", "x", "y"]


def _written_rows(lake_dir: Path, table: str) -> list[dict]:
    [data_file] = DeltaTable(str(lake_dir / "gold" / table)).file_uris()
    return pq.read_table(data_file.removeprefix("file://")).to_pylist()


def test_files_are_written_in_primary_key_order_or_by_every_column(warehouse, lake_dir):
    warehouse.sql(
        "create table gold.keyed (b integer, a integer, v varchar, primary key (a, b))",
        "insert into gold.keyed values (2, 1, 'q'), (1, 2, 'r'), (1, 1, 's'), (0, 3, 't')",
        "create table gold.heap (v varchar, n integer)",
        "insert into gold.heap values ('b', 2), ('a', 9), ('b', 1)",
    )
    publish(warehouse.path, lake_dir)

    assert [(r["a"], r["b"]) for r in _written_rows(lake_dir, "keyed")] == [(1, 1), (1, 2), (2, 1), (3, 0)]
    assert [(r["v"], r["n"]) for r in _written_rows(lake_dir, "heap")] == [("a", 9), ("b", 1), ("b", 2)]


def test_a_table_keyed_without_an_index_is_written_in_its_declared_key_order(warehouse, lake_dir):
    # the feature table's grain is no primary key (its index would be written out whole at every
    # checkpoint): the publish takes its key from UNINDEXED_KEYS, and only when the table has those columns
    warehouse.sql(
        "create table gold.fct_unit_cycle_features (v varchar, cycle integer, unit_id varchar)",
        "insert into gold.fct_unit_cycle_features values ('q', 2, 'b'), ('r', 10, 'a'), ('s', 1, 'b'), ('t', 9, 'a')",
    )
    publish(warehouse.path, lake_dir)

    assert [(r["unit_id"], r["cycle"]) for r in _written_rows(lake_dir, "fct_unit_cycle_features")] == [
        ("a", 9),
        ("a", 10),
        ("b", 1),
        ("b", 2),
    ]
    with duckdb.connect(str(warehouse.path)) as con:
        assert publishing.primary_key(con, "fct_unit_cycle_features") == ["unit_id", "cycle"]
        con.execute("create table gold.other (unit_id varchar, x integer)")
        assert publishing.primary_key(con, "other") == []
        con.execute("drop table gold.fct_unit_cycle_features")
        con.execute("create table gold.fct_unit_cycle_features (unit_id varchar, x integer)")  # no `cycle`
        assert publishing.primary_key(con, "fct_unit_cycle_features") == []


def test_the_unindexed_keys_are_the_contracts_grain_and_no_primary_key():
    for table, key in UNINDEXED_KEYS.items():
        [model] = yaml.safe_load((REPO_ROOT / "models" / "marts" / f"{table}.yml").read_text())["models"]
        assert model["config"]["meta"]["grain"] == list(key), table
        constraints = model.get("constraints", []) + [
            c for column in model["columns"] for c in column.get("constraints", [])
        ]
        assert "primary_key" not in {c["type"] for c in constraints}, table


def _fingerprint_of(
    con: duckdb.DuckDBPyConnection, rows: list[tuple[int, int | None, str]], column_type: str = "bigint"
) -> str:
    con.execute(f"create or replace table gold.t (id integer, x {column_type}, s varchar)")
    if rows:
        con.executemany("insert into gold.t values (?, ?, ?)", rows)
    return fingerprint(con, "t").digest


@pytest.fixture(scope="module")
def memory_con():
    with duckdb.connect() as con:
        con.execute("create schema gold")
        yield con


rows_strategy = st.lists(
    st.tuples(st.integers(-1000, 1000), st.none() | st.integers(-(2**40), 2**40), st.text(max_size=5)),
    max_size=12,
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows_strategy, data=st.data())
def test_fingerprint_ignores_row_order_but_not_content(memory_con, rows, data):
    original = _fingerprint_of(memory_con, rows)
    assert _fingerprint_of(memory_con, data.draw(st.permutations(rows))) == original
    assert _fingerprint_of(memory_con, [*rows, (0, 0, "")]) != original
    if rows:
        i = data.draw(st.integers(0, len(rows) - 1))
        changed = list(rows)
        changed[i] = (rows[i][0], (rows[i][1] or 0) + 1, rows[i][2])
        assert _fingerprint_of(memory_con, changed) != original


def test_fingerprint_covers_row_count_column_types_and_names(memory_con):
    rows = [(1, 2, "a")]
    assert _fingerprint_of(memory_con, rows, "bigint") != _fingerprint_of(memory_con, rows, "integer")
    assert _fingerprint_of(memory_con, [], "bigint") != _fingerprint_of(memory_con, [], "integer")
    # XOR of row hashes alone would call these equal (duplicates cancel); the sum and count do not
    assert _fingerprint_of(memory_con, [(1, 1, "a")] * 2) != _fingerprint_of(memory_con, [(2, 2, "b")] * 2)
    assert _fingerprint_of(memory_con, [(1, 1, "a")] * 2) != _fingerprint_of(memory_con, [(1, 1, "a")] * 4)
    renamed = _fingerprint_of(memory_con, rows)
    memory_con.execute("alter table gold.t rename column x to y")
    assert fingerprint(memory_con, "t").digest != renamed


def test_readers_see_the_old_or_the_new_version_never_a_mix(warehouse, lake_dir):
    """A reader thread aggregates the latest version over and over while the table is republished."""
    states = {
        "A": ("select i, i::double from range(50000) r(i)", (50_000, float(sum(range(50_000))))),
        "B": ("select i, (2 * i)::double from range(80000) r(i)", (80_000, float(2 * sum(range(80_000))))),
    }
    warehouse.sql("create table gold.t (id integer primary key, x double)")

    def switch_to(state: str) -> None:
        warehouse.sql("delete from gold.t", f"insert into gold.t {states[state][0]}")
        publish(warehouse.path, lake_dir)

    switch_to("A")
    table = lake.delta_scan_sql(lake.mart_path(lake_dir, "t"))
    seen: list[tuple[int, float]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            with lake.connect() as con:
                deadline = time.monotonic() + 60
                while not stop.is_set() and time.monotonic() < deadline:
                    seen.append(tuple(con.execute(f"select count(*), sum(x) from {table}").fetchone()))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    for state in ["B", "A", "B", "A", "B"]:
        before = len(seen)
        while len(seen) < before + 3 and thread.is_alive():  # let the reader run between publishes
            time.sleep(0.005)
        switch_to(state)
    reads_after_last_publish = len(seen) + 3
    while len(seen) < reads_after_last_publish and thread.is_alive():
        time.sleep(0.005)
    stop.set()
    thread.join(timeout=30)

    assert not errors, errors
    assert versions(lake_dir, "t") == [0, 1, 2, 3, 4, 5]
    observed = set(seen)
    assert observed <= {states["A"][1], states["B"][1]}, observed - {states["A"][1], states["B"][1]}
    assert observed == {states["A"][1], states["B"][1]}
    assert seen[-1] == states["B"][1]
    assert len(seen) >= 18


def test_history_command_lists_every_version_with_row_counts(warehouse, lake_dir, monkeypatch, capsys):
    monkeypatch.setenv("PDM_WAREHOUSE_PATH", str(warehouse.path))
    monkeypatch.setenv("PDM_LAKE_PATH", str(lake_dir))
    warehouse.sql(
        "create table gold.mart_fleet_health (unit_id varchar primary key, score double)",
        "insert into gold.mart_fleet_health select 'u' || i, i from range(40) r(i)",
        "create table gold.dim_units (unit_id varchar primary key)",
    )
    size = r"\(\d+(\.\d)? (B|KiB)\)"  # what a commit wrote and removed, as the Delta log has it
    assert main([]) == 0
    said = capsys.readouterr().out.splitlines()
    assert said[0] == "gold.dim_units: v0 (0 rows)"  # an empty table's commit has no data file
    assert re.fullmatch(rf"gold\.mart_fleet_health: v0 \(40 rows\): 1 file written {size}", said[1]), said
    assert len(said) == 2
    warehouse.sql("insert into gold.mart_fleet_health select 'v' || i, i from range(360) r(i)")
    assert main(["--tables", "mart_fleet_health,dim_units"]) == 0
    said = capsys.readouterr().out.splitlines()
    assert re.fullmatch(rf"gold\.mart_fleet_health: v1 \(400 rows\): 1 file written {size}, 1 removed {size}", said[0])
    assert said[1:] == ["gold.dim_units: unchanged at v0 (0 rows)"]

    assert main(["--history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["gold.dim_units", "v0"],
        ["gold.mart_fleet_health", "v0"],
        ["gold.mart_fleet_health", "v1"],
    ]
    assert all("WRITE" in line and " fp " in line for line in lines)
    assert "    40 rows" in lines[1]
    assert "   400 rows" in lines[2]

    assert main(["--history", "gold.mart_fleet_health"]) == 0
    one = capsys.readouterr().out.splitlines()
    assert one == lines[1:]
    entries = history(lake_dir, "mart_fleet_health")
    assert [(e.version, e.rows, e.operation) for e in entries] == [(0, 40, "WRITE"), (1, 400, "WRITE")]

    assert main(["--history", "nope"]) == 1
    assert "no published Delta table gold.nope" in capsys.readouterr().err


@pytest.fixture
def published_twice(warehouse, lake_dir, monkeypatch) -> Path:
    """gold.dim_units published (v0), then gold.mart_fleet_health (v0, v1: its first file replaced); the
    environment points at the warehouse and the lake."""
    monkeypatch.setenv("PDM_WAREHOUSE_PATH", str(warehouse.path))
    monkeypatch.setenv("PDM_LAKE_PATH", str(lake_dir))
    warehouse.sql(
        "create table gold.dim_units (unit_id varchar primary key)",
        "insert into gold.dim_units values ('u0')",
        "create table gold.mart_fleet_health (unit_id varchar primary key, score double)",
        "insert into gold.mart_fleet_health select 'u' || i, i from range(40) r(i)",
    )
    publish(warehouse.path, lake_dir, ["dim_units"])
    time.sleep(0.02)  # dim_units' v0 is the lake's first commit, by a clear margin
    publish(warehouse.path, lake_dir, ["mart_fleet_health"])
    warehouse.sql("update gold.mart_fleet_health set score = score + 1")
    publish(warehouse.path, lake_dir, ["mart_fleet_health"])
    return lake_dir


def test_history_aligns_the_columns_of_every_operation(published_twice, capsys):
    """VACUUM START / VACUUM END are longer than the other operations: their rows and fingerprint columns
    were pushed right of every other line's."""
    DeltaTable(str(lake.mart_path(published_twice, "mart_fleet_health"))).vacuum(
        retention_hours=0, enforce_retention_duration=False, dry_run=False
    )
    assert main(["--history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["gold.dim_units", "v0"],
        *(["gold.mart_fleet_health", f"v{version}"] for version in range(4)),
    ]
    assert "VACUUM START" in lines[3] and "VACUUM END" in lines[4]
    for column in (" rows  ", "  fp "):  # where each column after the operation begins
        assert len({line.index(column) for line in lines}) == 1, lines


def test_history_as_of_before_any_table_names_the_first_commit(published_twice, capsys):
    """A time before every table's first commit printed "nothing published ... yet" although tables are."""
    first = lake.commit_times(lake.mart_path(published_twice, "dim_units"))[0].isoformat()
    assert main(["--history", "--as-of", "2020-01-01"]) == 0
    assert capsys.readouterr().out == (
        "no published table existed at 2020-01-01T00:00:00+00:00: the first version of one (gold.dim_units v0) "
        f"was committed at {first}\n"
    )
    first = lake.commit_times(lake.mart_path(published_twice, "mart_fleet_health"))[0].isoformat()
    assert main(["--history", "gold.mart_fleet_health", "--as-of", "2020-01-01T01:00:00+01:00"]) == 0
    assert capsys.readouterr().out == (
        f"gold.mart_fleet_health did not exist at 2020-01-01T00:00:00+00:00: its first version (v0) was committed "
        f"at {first}\n"
    )


def test_history_into_a_pipe_closed_early_exits_quietly(published_twice):
    """`make history | head -1`: the reader closes the pipe, and the rest of the listing is not wanted: no
    BrokenPipeError traceback, exit 0. Here the reading end is closed before the command writes at all."""
    reading, writing = os.pipe()
    os.close(reading)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "lakehouse.publish", "--history"],
            cwd=REPO_ROOT,
            env={**os.environ, "PDM_LAKE_PATH": str(published_twice)},
            stdout=writing,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(writing)
    assert (result.returncode, result.stderr) == (0, "")


def test_main_reports_a_refused_schema_change_and_a_missing_warehouse(warehouse, lake_dir, monkeypatch, capsys):
    monkeypatch.setenv("PDM_WAREHOUSE_PATH", str(warehouse.path))
    monkeypatch.setenv("PDM_LAKE_PATH", str(lake_dir))
    warehouse.sql("create table gold.t (id integer primary key, n integer)", "insert into gold.t values (1, 1)")
    assert main([]) == 0
    warehouse.sql("alter table gold.t alter column n type bigint")
    assert main([]) == 1
    err = capsys.readouterr().err
    assert "gold.t: column 'n' changed type from integer (published v0) to long" in err

    monkeypatch.setenv("PDM_WAREHOUSE_PATH", str(warehouse.path.with_name("absent.duckdb")))
    assert main([]) == 1
    assert "no warehouse at" in capsys.readouterr().err
