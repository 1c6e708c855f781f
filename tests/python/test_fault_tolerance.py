"""Fault tolerance with real dbt builds: a build killed with SIGKILL part-way, and two builds
started at once on one warehouse, must leave a warehouse that the next normal build brings to
exactly what one uninterrupted build of the same landing folder gives."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from ml.config import REPO_ROOT
from ml.simulate import FleetSpec
from tests.python.conftest import Environment
from tests.python.forked_runs import DBT

pytestmark = pytest.mark.dbt

# ~27k lines: the bronze read and the clean-readings increment take long enough (about half
# a second and a second) to be killed in the middle of, and a build stays quick.
FLEET = FleetSpec(dataset="FD101", train_units=80, test_units=80, conditions=1, fault_modes=1, seed=21)
LAYERS = ("bronze", "silver", "gold", "snapshots")
BUILD_TIMEOUT_SECONDS = 180
LOCK_ERROR = "Could not set lock on file"
NEWER_BUILD_ERROR = "has already written to the warehouse: run the build again"
# Where a row came from and when it was read: differs between two environments by design.
LINEAGE_COLUMNS = {"source_file", "file_version_id", "ingested_at"}
# Gold tables that record when each build ran, not what the data says (a rebuilt history has its own timeline).
TIMELINE_TABLES = {"mart_pipeline_freshness"}


# --------------------------------------------------------------------------- helpers


# Work tables that hold only a build's pending batch (empty once a build has completed it), not data.
PENDING_BATCHES = frozenset({"bronze.base_cmapss__sensor_lines_parsed"})


def relation_row_counts(env: Environment) -> dict[str, int]:
    """Row count of every table and view of the bronze, silver, gold and snapshot layers (pending batches aside)."""
    relations = env.query(
        f"select table_schema, table_name from information_schema.tables where table_schema in {LAYERS} order by all"
    )
    return {
        f"{schema}.{name}": env.scalar(f'select count(*) from "{schema}"."{name}"')
        for schema, name in relations
        if f"{schema}.{name}" not in PENDING_BATCHES
    }


def gold_fingerprints(env: Environment) -> dict[str, tuple]:
    """Row count and an order-independent digest of every gold table's content, lineage columns
    (which name this environment's files and this build's time) and timeline tables left out."""
    columns: dict[str, list[str]] = {}
    for table, column in env.query(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'gold' order by table_name, ordinal_position"
    ):
        if column not in LINEAGE_COLUMNS and table not in TIMELINE_TABLES:
            columns.setdefault(table, []).append(f'"{column}"')
    return {
        table: env.query(
            f"select count(*), md5(string_agg(line, '|' order by line)) "
            f"from (select cast(row({', '.join(names)}) as varchar) as line from gold.{table})"
        )[0]
        for table, names in columns.items()
    }


def duplicate_readings(env: Environment) -> int:
    return env.scalar(
        "select count(*) from (select source_file, line_number from bronze.stg_cmapss__sensor_readings "
        "group by all having count(*) > 1)"
    )


def landed_line_count(env: Environment) -> int | None:
    """Rows in the bronze checkpoint table; None when the table does not exist (yet)."""
    exists = env.scalar(
        "select count(*) from information_schema.tables "
        "where table_schema = 'bronze' and table_name = 'base_cmapss__landed_lines'"
    )
    return env.scalar("select count(*) from bronze.base_cmapss__landed_lines") if exists else None


def copy_landing(source: Environment, target: Environment) -> None:
    """The same files, same sizes and modification times (so the same file versions)."""
    shutil.copytree(source.paths.landing, target.paths.landing, dirs_exist_ok=True)


@dataclass
class Started:
    """A `dbt build` running in its own process group, its output collected line by line."""

    process: subprocess.Popen[str]
    lines: list[str]
    reader: threading.Thread

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait(self) -> int:
        try:
            code = self.process.wait(timeout=BUILD_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired as timeout:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            message = f"dbt build did not finish in {BUILD_TIMEOUT_SECONDS}s:\n{self.output[-4000:]}"
            raise AssertionError(message) from timeout
        self.reader.join(timeout=10)
        return code


def start_build(env: dict[str, str], on_line: Callable[[str, subprocess.Popen[str]], None] | None = None) -> Started:
    """Start `dbt build --target ci`; `on_line` sees every output line as dbt prints it."""
    process = subprocess.Popen(
        [DBT, "build", "--target", "ci"],
        cwd=REPO_ROOT,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        start_new_session=True,  # its own process group: a kill reaches dbt and anything it started
    )
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if on_line is not None:
                on_line(line, process)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return Started(process, lines, reader)


# -------------------------------------------------------------------------- fixtures


@dataclass
class Reference:
    """One uninterrupted build of FLEET: what every recovered warehouse must equal."""

    env: Environment
    row_counts: dict[str, int]
    gold: dict[str, tuple]


@pytest.fixture(scope="module")
def reference(module_environment: Environment) -> Reference:
    module_environment.land(FLEET)
    module_environment.build()
    return Reference(
        env=module_environment,
        row_counts=relation_row_counts(module_environment),
        gold=gold_fingerprints(module_environment),
    )


def assert_same_as_reference(env: Environment, reference: Reference) -> None:
    assert relation_row_counts(env) == reference.row_counts
    assert gold_fingerprints(env) == reference.gold
    assert duplicate_readings(env) == 0


# ----------------------------------------------------------------------------- tests

# Where to kill: so many seconds after the first output line that contains the marker.
# "Landing folder: ..." is logged by base_cmapss__landed_lines once it has listed the folder,
# right before it reads the files: the kill lands while bronze is being written. The START
# line of stg_cmapss__sensor_readings comes after bronze has committed; half a second later
# the model is inside its SQL (and the quarantine, which starts beside it, inside its own).
KILL_POINTS = {
    "during_bronze_read": ("Landing folder:", 0.0),
    "during_clean_readings": ("START sql incremental model bronze.stg_cmapss__sensor_readings", 0.5),
}


@pytest.mark.parametrize("kill_point", list(KILL_POINTS))
def test_a_build_killed_part_way_is_completed_by_the_next_build(
    environment: Environment, reference: Reference, kill_point: str
) -> None:
    copy_landing(reference.env, environment)
    marker, delay = KILL_POINTS[kill_point]
    killed = threading.Event()

    def kill_at_marker(line: str, process: subprocess.Popen[str]) -> None:
        if marker in line and not killed.is_set():
            time.sleep(delay)  # dbt keeps running: its output waits in the pipe
            os.killpg(process.pid, signal.SIGKILL)
            killed.set()

    build = start_build(environment.env, kill_at_marker)
    code = build.wait()
    assert killed.is_set(), f"the build never reached {marker!r}:\n{build.output[-4000:]}"
    assert code == -signal.SIGKILL

    # What the kill left: a write-ahead log (replayed by the next open; opening the file at all
    # shows the lock died with the process), and bronze either untouched or fully committed.
    wal = environment.paths.warehouse.with_name(environment.paths.warehouse.name + ".wal")
    left_behind = {"wal": wal.exists(), "bronze_lines": landed_line_count(environment)}
    print(f"{kill_point}: left behind {left_behind}")
    if kill_point == "during_bronze_read":
        assert not left_behind["bronze_lines"], "the kill came after bronze committed: move the kill point"
    else:
        assert left_behind["bronze_lines"] == reference.row_counts["bronze.base_cmapss__landed_lines"]

    rerun = environment.build()
    # 3 C-MAPSS files (the registry is in a subfolder): read again only if the kill undid bronze.
    expected_new = 3 if kill_point == "during_bronze_read" else 0
    assert f"Landing folder: 3 files, {expected_new} new or changed" in rerun.stdout
    assert_same_as_reference(environment, reference)


def test_two_builds_started_at_once_leave_a_consistent_warehouse(
    environment: Environment, reference: Reference
) -> None:
    copy_landing(reference.env, environment)
    root = environment.paths.data_dir
    # One warehouse and one landing folder; dbt's target and log folders apart, as two checkouts
    # (or two users) would have them. The first keeps the environment's, so the final build
    # below reuses its parse.
    second = {**environment.env, "DBT_TARGET_PATH": str(root / "target_2"), "DBT_LOG_PATH": str(root / "logs_2")}
    builds = [start_build(environment.env), start_build(second)]
    codes = [build.wait() for build in builds]
    for n, (code, build) in enumerate(zip(codes, builds, strict=True), start=1):
        print(f"build {n}: exit {code}")
        print(
            "\n".join(
                line for line in build.output.splitlines() if "ERROR" in line or "Error" in line or "lock" in line
            )
        )
        if code != 0:
            # it waited for the other's lock past the lock wait, or got the lock once the other had
            # written and was stopped before its increments (macros/incremental/assert_no_newer_build.sql)
            lock_error, newer_build = LOCK_ERROR in build.output, NEWER_BUILD_ERROR in build.output
            assert lock_error or newer_build, f"build {n} failed for another reason:\n{build.output[-6000:]}"
            assert not lock_error or str(environment.paths.warehouse) in build.output
    assert 0 in codes, "neither build finished"

    final = environment.build()  # passes every data test, or raises
    assert "ERROR=0" in final.stdout
    assert_same_as_reference(environment, reference)
    # The files were read once, by one build.
    assert environment.scalar("select count(distinct ingested_at) from bronze.base_cmapss__landed_lines") == 1
