"""The warehouse connection with real dbt builds and real DuckDB locks held by a second process.

Errors that waiting can't clear (the warehouse's folder can't be created, the file is not a
DuckDB database) stop the build at once, naming the path; another process's lock is waited for,
saying who holds it, up to the profile's `lock_wait_seconds` (PDM_WAREHOUSE_LOCK_WAIT_SECONDS),
and the build goes on once it is free (with the profile's two threads).

Every build here is a plain `dbt build` (target dev) with only PDM_DATA_DIR set, pointing at a
folder that does not exist before the first build. The faults keep the warehouse's path (they
change what is on disk), so every build after the first reuses dbt's partial parse.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pytest

from ml.config import REPO_ROOT, Paths
from ml.simulate import FleetSpec, land_fleet
from tests.python.conftest import SUITE_DBT_SETTINGS
from tests.python.forked_runs import DBT, run_dbt

pytestmark = pytest.mark.dbt

FLEET = FleetSpec(dataset="FD101", train_units=3, test_units=3, conditions=1, fault_modes=1, seed=8)
LOCK_WAIT_SECONDS = 6
FAIL_FAST_SECONDS = 10
# Holds the warehouse open (read-only or read-write) until its stdin closes.
HOLDER_CODE = (
    "import sys, duckdb; "
    "con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == 'read-only'); "
    "print('held', flush=True); sys.stdin.read()"
)


@dataclass
class DataDir:
    """A data folder reached through PDM_DATA_DIR alone, as `PDM_DATA_DIR=/new/folder make run` does."""

    paths: Paths
    env: dict[str, str]

    def start_build(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [DBT, "build"], cwd=REPO_ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def build(self) -> tuple[int, str, float]:
        """Run `dbt build`: (exit code, output, seconds from dbt's first line to its last)."""
        result = run_dbt(["build"], self.env, REPO_ROOT)
        return result.returncode, result.stdout + result.stderr, dbt_seconds(result.stdout)


def dbt_seconds(output: str) -> float:
    """The time dbt's output spans, from its timestamps (HH:MM:SS): what dbt itself spent, without
    the Python start-up before its first line, which a loaded 2-core machine can stretch."""
    stamps = [datetime.strptime(found[1], "%H:%M:%S") for found in re.finditer(r"^(\d\d:\d\d:\d\d)  ", output, re.M)]
    assert stamps, f"no timestamped dbt output:\n{output[-2000:]}"
    return ((stamps[-1] - stamps[0]).total_seconds()) % 86400


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> DataDir:
    root = tmp_path_factory.mktemp("warehouse_faults") / "brand" / "new" / "data"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PDM_", "DBT_"))}
    env.update(
        PDM_DATA_DIR=str(root),
        PDM_WAREHOUSE_LOCK_WAIT_SECONDS=str(LOCK_WAIT_SECONDS),
        DBT_PROFILES_DIR=str(REPO_ROOT),
        DBT_TARGET_PATH=str(root.parent / "dbt_target"),
        DBT_LOG_PATH=str(root.parent / "dbt_logs"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DBT_USE_COLORS="false",
        **SUITE_DBT_SETTINGS,
    )
    return DataDir(paths=Paths.from_env({"PDM_DATA_DIR": str(root)}), env=env)


@pytest.fixture
def holder(data_dir: DataDir) -> Iterator[Callable[[str], subprocess.Popen[str]]]:
    """Start a second process holding the warehouse's lock; released at the end of the test."""
    processes: list[subprocess.Popen[str]] = []

    def hold(mode: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-c", HOLDER_CODE, str(data_dir.paths.warehouse), mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        assert process.stdout.readline().strip() == "held"
        return process

    yield hold
    for process in processes:
        release(process)


def release(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.stdin.close()
        process.wait(timeout=30)


def test_a_brand_new_data_folder_builds(data_dir: DataDir) -> None:
    land_fleet(FLEET, data_dir.paths.landing)
    assert not data_dir.paths.warehouse.parent.exists()

    code, output, _ = data_dir.build()

    assert code == 0, output[-6000:]
    assert f"Warehouse: created the folder {data_dir.paths.warehouse.parent}" in output
    with duckdb.connect(str(data_dir.paths.warehouse), read_only=True) as con:
        assert con.execute("select count(*) from gold.dim_units").fetchone()[0] == FLEET.train_units + FLEET.test_units


def test_the_profile_attaches_the_warehouse_with_small_row_groups_and_its_spill_folder(data_dir: DataDir) -> None:
    """The profile attaches the warehouse (ROW_GROUP_SIZE is an ATTACH option): a table dbt writes is
    stored in row groups of 16,384 rows, not DuckDB's 122,880; the warehouse is the cursors' default
    database, and DuckDB spills beside it (<warehouse>.tmp), as for a database opened by its path."""
    assert data_dir.paths.warehouse.exists(), "needs the first build's warehouse"

    def dbt(*args: str) -> str:
        result = run_dbt(list(args), data_dir.env, REPO_ROOT)
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
        return result.stdout

    sql = "create or replace table main.row_group_probe as select range as i from range(40000)"
    dbt("run-operation", "run_query", "--args", f"{{sql: '{sql}'}}")
    shown = dbt(
        "show",
        "--output",
        "json",
        "--inline",
        "select current_database() as db, current_setting('temp_directory') as spill",
    )
    try:
        with duckdb.connect(str(data_dir.paths.warehouse), read_only=True) as con:
            groups = con.execute(
                "select row_group_id, max(count) from pragma_storage_info('main.row_group_probe') "
                "group by all order by 1"
            ).fetchall()
    finally:
        dbt("run-operation", "run_query", "--args", "{sql: 'drop table main.row_group_probe'}")

    assert [rows for _, rows in groups] == [16384, 16384, 40000 - 2 * 16384]
    assert '"db": "pdm"' in shown, shown[-2000:]
    assert f'"spill": "{data_dir.paths.warehouse}.tmp"' in shown, shown[-2000:]


def test_a_warehouse_folder_that_cannot_be_created_fails_fast_naming_it(data_dir: DataDir) -> None:
    # Root ignores file modes, so a read-only folder would not stop it: a regular file where the
    # warehouse's folder should be makes the folder impossible to create, for any user.
    folder = data_dir.paths.warehouse.parent
    aside = folder.with_name("warehouse.aside")
    folder.rename(aside)
    folder.write_text("not a folder\n")
    try:
        code, output, seconds = data_dir.build()
    finally:
        folder.unlink()
        aside.rename(folder)

    assert code != 0
    assert f"can't create the warehouse folder {folder} for {data_dir.paths.warehouse}: {folder} is a file" in output, (
        output[-4000:]
    )
    assert seconds < FAIL_FAST_SECONDS, f"took {seconds:.1f} s to fail"
    assert "waiting for it" not in output


def test_a_file_that_is_not_a_duckdb_database_fails_fast_naming_it(data_dir: DataDir) -> None:
    warehouse = data_dir.paths.warehouse
    aside = warehouse.with_name("pdm.duckdb.aside")
    warehouse.rename(aside)
    warehouse.write_text("unit,cycle\n1,1\n")
    try:
        code, output, seconds = data_dir.build()
    finally:
        warehouse.unlink()
        aside.rename(warehouse)

    assert code != 0
    assert f"can't open the warehouse {warehouse} read-write" in output, output[-4000:]
    assert "not a valid DuckDB database file" in output
    assert seconds < FAIL_FAST_SECONDS, f"took {seconds:.1f} s to fail"


def test_a_build_waits_for_a_reader_says_who_it_is_and_succeeds(data_dir: DataDir, holder) -> None:
    analyst = holder("read-only")
    build = data_dir.start_build()
    lines = []
    for line in build.stdout:  # until dbt says it waits; dbt goes on writing into the pipe
        lines.append(line)
        if "waiting for it" in line:
            time.sleep(2)  # dbt keeps waiting: then the analyst closes the session
            release(analyst)
            break
    lines += build.stdout.readlines()
    code = build.wait()
    output = "".join(lines)

    assert code == 0, output[-6000:]
    waiting = [line for line in lines if "waiting for it" in line]
    assert waiting, f"the build never said it was waiting:\n{output[-4000:]}"
    assert f"locked by PID {analyst.pid} (" in waiting[0]
    assert f"({sys.executable} -c import sys, duckdb" in waiting[0]  # its command line, from /proc
    assert "a read-only session" in waiting[0]
    assert "ERROR=0" in output


def test_a_build_gives_up_after_the_configured_wait_naming_the_holder(data_dir: DataDir, holder) -> None:
    session = holder("read-write")

    code, output, seconds = data_dir.build()

    assert code != 0
    assert f"the warehouse {data_dir.paths.warehouse} is locked by PID {session.pid} (" in output, output[-4000:]
    assert re.search(rf"gave up after waiting \d+ s of the {LOCK_WAIT_SECONDS} s allowed", output)
    assert "a read-write session" in output
    # It waited the configured time (dbt starts in a few seconds), not 2**attempt sums.
    assert LOCK_WAIT_SECONDS <= seconds < LOCK_WAIT_SECONDS + 20, f"took {seconds:.1f} s"


def test_the_summary_names_the_process_holding_the_warehouse(data_dir: DataDir, holder) -> None:
    build = holder("read-write")

    result = subprocess.run(
        [sys.executable, "-m", "ml.summary"],
        cwd=REPO_ROOT,
        env=data_dir.env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1
    assert f"the warehouse {data_dir.paths.warehouse} is locked by PID {build.pid} (" in result.stderr
    assert "a read-write session" in result.stderr
    assert "Traceback" not in result.stderr
