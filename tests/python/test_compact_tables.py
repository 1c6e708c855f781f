"""`dbt run-operation compact_tables` (macros/maintenance/compact_tables.sql) on a real warehouse file.

`make watch`'s builds checkpoint without DuckDB's vacuum (PDM_DUCKDB_MAX_VACUUM_TASKS=0, profiles.yml), so
the rows a per-unit rewrite deletes stay in their row groups until the watcher runs this operation at a
quiet moment. Here a table is left that way (four rows in five deleted from each of five row groups,
checkpointed without vacuum), and the operation must merge its row groups without changing a row; a
table with a primary key (DuckDB never vacuums one) is left alone; and with the variable at 0 the
operation merges nothing, which shows the variable reaches DuckDB through the profile. And the
watcher's own dbt runner, asked for a build without vacuum, runs dbt with the setting at 0.
"""

from __future__ import annotations

import subprocess
import sys

import duckdb

from ml.config import REPO_ROOT

ROW_GROUP_SIZE = 16_384  # the warehouse's ATTACH option in profiles.yml
ROW_GROUPS = 5
TABLES = {"fragments": "", "keyed_fragments": " primary key"}


def fragment(warehouse) -> None:
    con = duckdb.connect(":memory:")
    con.execute(f"attach '{warehouse}' as pdm (row_group_size {ROW_GROUP_SIZE})")
    con.execute("set max_vacuum_tasks = 0")  # as a watcher's build
    con.execute("create schema pdm.silver")
    for table, key in TABLES.items():
        con.execute(f"create table pdm.silver.{table} (id bigint{key}, label varchar, landed_at timestamp)")
        con.execute(
            f"insert into pdm.silver.{table} select range, 'unit-' || range, "
            f"timestamp '2026-01-01' + to_seconds(range) from range({ROW_GROUPS * ROW_GROUP_SIZE})"
        )
        con.execute("checkpoint pdm")
        con.execute(f"delete from pdm.silver.{table} where id % 5 <> 0")
        con.execute("checkpoint pdm")
    con.close()


def row_groups(warehouse, table: str) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        sql = f"select count(distinct row_group_id) from pragma_storage_info('silver.{table}')"
        return con.execute(sql).fetchone()[0]


def contents(warehouse, table: str) -> tuple:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            f"select count(*), sum(hash(id, label, landed_at)), min(id), max(id) from silver.{table}"
        ).fetchone()


def test_compact_tables_merges_the_row_groups_builds_without_vacuum_left_and_changes_no_row(environment) -> None:
    warehouse = environment.paths.warehouse
    fragment(warehouse)
    before = {table: contents(warehouse, table) for table in TABLES}
    assert before["fragments"][0] == ROW_GROUPS * ROW_GROUP_SIZE // 5
    assert all(row_groups(warehouse, table) == ROW_GROUPS for table in TABLES)

    # the watcher's builds' switch: with the variable at 0 DuckDB merges nothing
    environment.env["PDM_DUCKDB_MAX_VACUUM_TASKS"] = "0"
    try:
        environment.dbt("run-operation", "compact_tables", "--target", "ci")
    finally:
        del environment.env["PDM_DUCKDB_MAX_VACUUM_TASKS"]
    assert row_groups(warehouse, "fragments") == ROW_GROUPS
    assert {table: contents(warehouse, table) for table in TABLES} == before

    compacted = environment.dbt("run-operation", "compact_tables", "--target", "ci")
    # the 16,384 rows left fit in one row group
    assert row_groups(warehouse, "fragments") == 1
    assert f"silver.fragments {ROW_GROUPS} -> 1" in compacted.stdout, compacted.stdout[-3000:]
    assert row_groups(warehouse, "keyed_fragments") == ROW_GROUPS  # an index: DuckDB can't vacuum it
    assert "keyed_fragments" not in compacted.stdout
    assert {table: contents(warehouse, table) for table in TABLES} == before

    again = environment.dbt("run-operation", "compact_tables", "--target", "ci")
    assert "row groups: none merged" in again.stdout, again.stdout[-3000:]
    assert {table: contents(warehouse, table) for table in TABLES} == before


# What a continuous tick's builds run: `Dbt.run(..., vacuum=False)`, in the watcher's process.
PROBE = """
import json, os
from lakehouse.watch_signatures import project_signature
from lakehouse.watch_steps import MAX_VACUUM_TASKS_ENV, Dbt

dbt, project = Dbt("ci"), project_signature()
for vacuum in (False, True):
    sql = (
        f"create or replace table main.vacuum_probe_{int(vacuum)} as "
        "select cast(current_setting('max_vacuum_tasks') as bigint) as tasks"
    )
    dbt.run(project, "probe", "run-operation", "run_query", "--args", json.dumps({"sql": sql}), vacuum=vacuum)
print(json.dumps(os.environ.get(MAX_VACUUM_TASKS_ENV)))
"""


def test_the_watchers_builds_without_vacuum_run_dbt_with_the_setting_at_0(environment) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO_ROOT, env=environment.env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert result.stdout.strip().splitlines()[-1] == "null"  # the variable as it was before (unset)
    assert environment.scalar("select tasks from main.vacuum_probe_0") == 0
    assert environment.scalar("select tasks from main.vacuum_probe_1") == 100  # the profile's default
