"""The analysts' database (`lakehouse.analysts`, `make sql`): reader loops run the DuckDB CLI exactly as
`make sql Q=...` does while a real `dbt build` and real publishes run; they never get an error, and every
result they see is a whole published version: its row count and the `pdm.fingerprint` that publish stored
for that version, recomputed from what the reader read. Also: the real `make sql Q=...`, the version and
as-of macros, a restore and a failed refresh (loud, the commits stand; the next publish writes the file).
Real dbt, real Delta tables, the real DuckDB CLI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest
from deltalake import DeltaTable

from lakehouse import analysts
from lakehouse import lake as lakelib
from lakehouse import publish as publishing
from lakehouse.restore import main as restore_main
from ml.config import REPO_ROOT
from ml.simulate import FleetSpec
from tests.python.conftest import Environment
from tests.python.forked_runs import run_module

pytestmark = pytest.mark.dbt

FLEET = FleetSpec(dataset="FD101", train_units=3, test_units=3, conditions=1, fault_modes=1, seed=41)
LATER = FleetSpec(dataset="FD103", train_units=2, test_units=2, conditions=1, fault_modes=1, seed=42)
# every build here: no settle wait (and, as in every build of the suite, no dbt unit tests: conftest.py)
SETTLED = ("--vars", "{landing_settle_seconds: 0}")
# the first build only sets the scene: no data tests either
FIRST_BUILD = ("--vars", "{landing_settle_seconds: 0}", "--exclude", "test_type:data")
# What the readers check: a per-unit mart, a dimension, a per-file mart.
CHECKED = ("mart_fleet_health", "dim_units", "mart_data_quality")
READERS = 3
PAUSE_S = 2.0  # between a reader's queries (each CLI start verifies and loads the 80 MB delta extension: ~0.5 s CPU)


@dataclass
class Reader:
    """One loop running the `make sql` command; what it saw, when, and any failure."""

    seen: list[tuple[float, float, dict[str, tuple[int, int, int, int]]]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def reader_sql(columns: dict[str, list[tuple[str, str]]]) -> str:
    """Per checked table: the pinned version, and the row count and row-hash aggregates publish fingerprints.

    The view's columns are cast back to the warehouse types, as `publish.units_fingerprint` does, so the
    aggregates are the ones the published version's `pdm.fingerprint` was computed from.
    """
    parts = []
    for table, cols in columns.items():
        alias = publishing._row_alias(cols)
        casts = ", ".join(f'cast("{name}" as {dtype}) as "{name}"' for name, dtype in cols)
        parts.append(
            f"select '{table}', (select version from {analysts.VERSIONS_TABLE} where layer = 'gold' "
            f"and table_name = '{table}' and is_pinned), count(*), coalesce(sum(hash({alias})::hugeint), 0), "
            f"coalesce(bit_xor(hash({alias})), 0) from (select {casts} from gold.{table}) as {alias}"
        )
    return " union all ".join(parts) + ";"


def read_loop(argv: list[str], stop: threading.Event, reader: Reader) -> None:
    while not stop.is_set():
        started = time.monotonic()
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0 or result.stderr.strip():
            reader.errors.append(f"exit {result.returncode}: {result.stderr.strip()[:500]}")
        else:
            rows = [line.split(",") for line in result.stdout.split()]
            reader.seen.append(
                (started, time.monotonic(), {t: (int(v), int(n), int(s), int(x)) for t, v, n, s, x in rows})
            )
        stop.wait(PAUSE_S)


def publish_cli(env: Environment) -> str:
    result = run_module("lakehouse.publish", [], env.env, REPO_ROOT)
    assert result.returncode == 0, result.stderr
    return result.stdout


def commits(env: Environment, table: str) -> dict[int, tuple[int, str]]:
    """version -> (rows, fingerprint) as publish recorded them in the commit metadata."""
    history = DeltaTable(str(lakelib.mart_path(env.paths.lake, table))).history()
    return {
        int(c["version"]): (int(c[publishing.META_ROWS]), c[publishing.META_FINGERPRINT])
        for c in history
        if publishing.META_FINGERPRINT in c
    }


@dataclass
class Run:
    env: Environment
    database: Path
    columns: dict[str, list[tuple[str, str]]]
    readers: list[Reader]
    build_window: tuple[float, float]
    published_at: float
    history: dict[str, dict[int, tuple[int, str]]]


@pytest.fixture(scope="module")
def run(module_environment: Environment) -> Run:
    """FD101 built and published; then readers loop while FD103 lands, builds and publishes (rows change)."""
    env = module_environment
    env.land(FLEET)
    env.build(*FIRST_BUILD)
    publish_cli(env)
    database = analysts.default_database(env.paths.lake)
    assert database == env.paths.lake / "analysts.duckdb" and database.exists()
    with duckdb.connect(str(env.paths.warehouse), read_only=True) as con:
        columns = {table: publishing.table_columns(con, table) for table in CHECKED}
    argv = analysts.cli_argv(database, reader_sql(columns), ["-csv", "-noheader"])
    stop = threading.Event()
    readers = [Reader() for _ in range(READERS)]
    threads = [threading.Thread(target=read_loop, args=(argv, stop, r), daemon=True) for r in readers]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 30
        while not all(r.seen or r.errors for r in readers) and time.monotonic() < deadline:
            time.sleep(0.1)
        env.land(LATER)
        build_started = time.monotonic()
        env.build(*SETTLED)
        build_ended = time.monotonic()
        publish_cli(env)
        published_at = time.monotonic()
        deadline = published_at + 30
        while not all(any(start > published_at for start, _, _ in r.seen) or r.errors for r in readers):
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    history = {table: commits(env, table) for table in CHECKED}
    return Run(env, database, columns, readers, (build_started, build_ended), published_at, history)


def test_readers_are_never_blocked_or_failed_by_builds_and_publishes(run):
    assert [e for r in run.readers for e in r.errors] == []
    start, end = run.build_window
    for reader in run.readers:
        during_build = [seen for seen in reader.seen if seen[0] >= start and seen[1] <= end]
        assert during_build, "a reader got no answer while dbt build held the warehouse"


def test_every_result_is_a_whole_published_version(run):
    versions_seen: dict[str, set[int]] = {table: set() for table in CHECKED}
    for reader in run.readers:
        for _, _, result in reader.seen:
            assert set(result) == set(CHECKED)
            for table, (version, rows, hash_sum, hash_xor) in result.items():
                digest = publishing._fingerprint_from(run.columns[table], rows, hash_sum, hash_xor).digest
                assert (rows, digest) == run.history[table][version], (table, version)
                versions_seen[table].add(version)
    # the readers saw the fleet before and after the publish that changed rows, and nothing else
    for table in CHECKED:
        latest = max(run.history[table])
        assert latest > 0 and run.history[table][0][0] < run.history[table][latest][0], table
        assert versions_seen[table] == {0, latest}, table
    after = [res for r in run.readers for start, _, res in r.seen if start > run.published_at]
    assert after and all(res["dim_units"][0] == max(run.history["dim_units"]) for res in after)


def test_make_sql_runs_one_query_and_exits(run):
    result = subprocess.run(
        ["make", "--no-print-directory", "sql", "Q=select count(*) as units_published from gold.dim_units"],
        cwd=REPO_ROOT,
        env=run.env.env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "units_published" in result.stdout
    units = FLEET.train_units + FLEET.test_units + LATER.train_units + LATER.test_units
    assert re.search(rf"│\s+{units} │", result.stdout), result.stdout


def test_macros_read_a_pinned_version_and_the_version_current_at_a_time(run):
    table = DeltaTable(str(run.env.paths.lake / "gold" / "dim_units"))
    committed = {int(c["version"]): int(c["timestamp"]) for c in table.history()}  # epoch milliseconds
    first_ms, latest = committed[0], max(committed)
    sql = (
        "select count(*) from gold_version('dim_units', 0); "
        f"select gold_version_at('dim_units', make_timestamptz({first_ms * 1000}) - interval 1 second); "
        f"select gold_version_at('dim_units', make_timestamptz({committed[latest] * 1000})); "
        f"set variable v = gold_version_at('dim_units', make_timestamptz({first_ms * 1000})); "
        "select count(*) from gold_version('dim_units', getvariable('v'));"
    )
    result = subprocess.run(
        analysts.cli_argv(run.database, sql, ["-csv", "-noheader"]), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    v0_rows = run.history["dim_units"][0][0]
    assert result.stdout.split() == [str(v0_rows), "NULL", str(latest), str(v0_rows)]


def test_restore_refreshes_what_analysts_read(run, monkeypatch, capsys):
    env = run.env
    for name, value in env.env.items():
        if name.startswith("PDM_"):
            monkeypatch.setenv(name, value)
    assert restore_main(["--table", "mart_data_quality", "--version", "0"]) == 0
    restored = DeltaTable(str(env.paths.lake / "gold" / "mart_data_quality")).version()
    pinned = analysts.pinned_versions(run.database)
    assert pinned is not None and pinned[1][("gold", "mart_data_quality")] == restored
    with lakelib.connect(run.database, read_only=True) as con:
        assert (
            con.execute("select count(*) from gold.mart_data_quality").fetchone()[0]
            == (run.history["mart_data_quality"][0][0])
        )


def test_a_failed_refresh_is_loud_and_the_next_publish_writes_the_missing_file(tmp_path, monkeypatch, capsys):
    warehouse = tmp_path / "warehouse" / "pdm.duckdb"
    warehouse.parent.mkdir()
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema gold; create table gold.t (id integer primary key); insert into gold.t values (1)")
    blocked = tmp_path / "not_a_folder"
    blocked.write_text("a file where the analysts' folder should be")
    monkeypatch.setenv("PDM_WAREHOUSE_PATH", str(warehouse))
    monkeypatch.setenv("PDM_LAKE_PATH", str(tmp_path / "lake"))
    monkeypatch.setenv(analysts.ENV_VAR, str(blocked / "analysts.duckdb"))

    assert publishing.main([]) == 1
    err = capsys.readouterr().err
    assert "gold.t: v0 (1 rows)" in err and str(blocked / "analysts.duckdb") in err
    assert lakelib.latest_version(tmp_path / "lake" / "gold" / "t") == 0  # the commit stands

    monkeypatch.delenv(analysts.ENV_VAR)
    assert publishing.main([]) == 0  # nothing to commit, but the file is missing: written now
    assert "unchanged at v0" in capsys.readouterr().out
    assert analysts.pinned_versions(tmp_path / "lake" / "analysts.duckdb") == (
        str((tmp_path / "lake").resolve()),
        {("gold", "t"): 0},
    )
    assert analysts.main([]) == 0
    assert f"analysts' database {tmp_path / 'lake' / 'analysts.duckdb'}: gold.t v0" in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path / "lake")) == [".lake.lock", "analysts.duckdb", "gold"]  # no temporary left


@pytest.fixture
def small_lake(tmp_path: Path, monkeypatch) -> tuple[Path, dict[str, str]]:
    """A one-table warehouse published to a lake, no dbt: the warehouse and the environment the commands run in."""
    monkeypatch.delenv(analysts.ENV_VAR, raising=False)
    warehouse = tmp_path / "warehouse" / "pdm.duckdb"
    warehouse.parent.mkdir()
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema gold; create table gold.t (id integer primary key); insert into gold.t values (1)")
    publishing.publish(warehouse, tmp_path / "lake")
    env = {**os.environ, "PDM_WAREHOUSE_PATH": str(warehouse), "PDM_LAKE_PATH": str(tmp_path / "lake")}
    return warehouse, env


def folder_state(folder: Path) -> dict[str, bytes | None]:
    """Every entry under `folder`: a file's bytes, None for a folder."""
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes() for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("a copy of the warehouse", "is a DuckDB database but not an analysts' database"),
        ("an empty DuckDB database", "is a DuckDB database but not an analysts' database"),
        ("a text file", "is not an analysts' database DuckDB can open"),
        ("a directory", "is a directory, not the analysts' database"),
    ],
)
def test_sql_and_publish_refuse_a_path_that_is_not_an_analysts_database(small_lake, tmp_path, kind, reason):
    """`PDM_ANALYSTS_DB=<something else> make sql Q=...`: it used to call the file "missing", replace it with an
    analysts' database and exit 0 (a directory: fail writing a temporary beside it). Now `make sql` and a publish
    (which refreshes the file too) stop, naming the path and why, and leave the folder byte for byte as it was."""
    warehouse, env = small_lake
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    target = theirs / "x.duckdb"
    if kind == "a copy of the warehouse":
        shutil.copy(warehouse, target)
    elif kind == "an empty DuckDB database":
        duckdb.connect(str(target)).close()
    elif kind == "a text file":
        target.write_text("notes an analyst keeps\n")
    else:
        target.mkdir()
        (target / "kept.txt").write_text("kept")
    before = folder_state(theirs)
    env = {**env, analysts.ENV_VAR: str(target)}

    for module, args in (("lakehouse.analysts", ["sql", "--query", "select 1"]), ("lakehouse.publish", [])):
        result = run_module(module, args, env, REPO_ROOT)
        assert result.returncode == 1, (module, result.stdout, result.stderr)
        assert f"{target} {reason}" in result.stderr, (module, result.stderr)
        assert "refreshing" not in result.stderr and "missing" not in result.stderr, result.stderr
        assert folder_state(theirs) == before, module  # not replaced, and no temporary left beside it


def test_sql_creates_a_missing_analysts_database_and_replaces_one_built_for_another_lake(small_lake, tmp_path):
    """What `make sql` still writes: a missing file (and its folder); the file it wrote, opened as it is; an
    analysts' database recording another lake (a moved data folder), rebuilt for this one."""
    _, env = small_lake
    database = tmp_path / "analysts" / "mine.duckdb"
    env = {**env, analysts.ENV_VAR: str(database)}
    query = ["sql", "--query", "select count(*) as rows_published from gold.t"]

    created = run_module("lakehouse.analysts", query, env, REPO_ROOT)
    assert created.returncode == 0, created.stderr
    assert f"the analysts' database {database} is missing: refreshing it" in created.stderr
    assert "rows_published" in created.stdout and re.search(r"│\s+1 │", created.stdout), created.stdout

    again = run_module("lakehouse.analysts", query, env, REPO_ROOT)
    assert again.returncode == 0 and "refreshing" not in again.stderr, again.stderr

    with duckdb.connect(str(database)) as con:
        con.execute(f"update {analysts.REFRESHES_TABLE} set lake = '/a/moved/lake'")
    moved = run_module("lakehouse.analysts", query, env, REPO_ROOT)
    assert moved.returncode == 0, moved.stderr
    assert f"{database} is built for the lake /a/moved/lake: refreshing it" in moved.stderr
    assert analysts.pinned_versions(database) == (str((tmp_path / "lake").resolve()), {("gold", "t"): 0})


def test_reading_as_of_a_time_before_the_first_commit_says_so(small_lake, tmp_path):
    """The README's as-of recipe (`set variable v = gold_version_at(...)`, then `from gold_version(..., v)`) at a time
    before the table existed: gold_version_at is NULL, and gold_version passed it to the delta extension, which
    failed an internal assertion ("INTERNAL Error: Calling GetValueInternal on a value that is NULL", a C++ stack
    trace). Now the error says what the NULL means; a version given still reads."""
    _, env = small_lake
    sql = (
        "set variable v = gold_version_at('t', '2001-01-01 00:00'); "
        "select count(*) from gold_version('t', getvariable('v'));"
    )
    before = run_module("lakehouse.analysts", ["sql", "--query", sql], env, REPO_ROOT)
    assert before.returncode == 1
    assert "INTERNAL" not in before.stdout + before.stderr and "Stack Trace" not in before.stdout + before.stderr
    assert (
        "gold_version('t', NULL): no Delta version given. gold_version_at gives NULL for a time before the "
        "table's first commit, or for a table not published" in before.stdout + before.stderr
    ), before.stderr
    pinned = run_module(
        "lakehouse.analysts", ["sql", "--query", "select count(*) as n from gold_version('t', 0)"], env, REPO_ROOT
    )
    assert pinned.returncode == 0 and re.search(r"│\s+1 │", pinned.stdout), pinned.stdout + pinned.stderr
