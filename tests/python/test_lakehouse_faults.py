"""Publish under faults and concurrency (issue 8, cases 6 and 7), on real DuckDB files and Delta tables.

Publishers run as real `python -m lakehouse.publish` subprocesses; the kill is a real SIGKILL in the
middle of a Delta write.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from deltalake import DeltaTable

from lakehouse import lake
from lakehouse.lock import lake_lock
from lakehouse.publish import main, publish
from ml.config import REPO_ROOT

BIG_ROWS = 600_000  # big enough that writing it takes a few seconds, so a kill lands mid-write


def warehouse_sql(path: Path, *statements: str) -> None:
    with duckdb.connect(str(path)) as con:
        for statement in statements:
            con.execute(statement)


def env_for(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PDM_WAREHOUSE_PATH": str(tmp_path / "warehouse" / "pdm.duckdb"),
        "PDM_LAKE_PATH": str(tmp_path / "lake"),
    }


def start_publish(tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "lakehouse.publish", *args],
        cwd=REPO_ROOT,
        env=env_for(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def versions(lake_dir: Path, table: str) -> list[int]:
    return sorted(c["version"] for c in DeltaTable(str(lake.mart_path(lake_dir, table))).history())


def scalar(sql: str):
    with lake.connect() as con:
        return con.execute(sql).fetchone()


def content(source: str, database: Path | None = None) -> tuple[int, int]:
    """Row count and an order-independent checksum of (id, x0) of `source` (in `database` if given)."""
    with lake.connect(database or ":memory:", read_only=database is not None) as con:
        return con.execute(f"select count(*), bit_xor(hash(id, x0)) from {source}").fetchone()


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    (tmp_path / "warehouse").mkdir()
    path = tmp_path / "warehouse" / "pdm.duckdb"
    warehouse_sql(
        path,
        "create schema gold",
        "create table gold.dim_units (unit_id varchar primary key, n integer)",
        "insert into gold.dim_units select 'u' || i, i from range(50) r(i)",
        "create table gold.mart_fleet_health (unit_id varchar primary key, score double)",
        "insert into gold.mart_fleet_health select 'u' || i, i / 50 from range(50) r(i)",
    )
    return path


def test_two_publishers_started_together_add_one_version_and_the_second_names_the_first(warehouse, tmp_path):
    lake_dir = tmp_path / "lake"
    with lake_lock(lake_dir, "test holder"):  # both start while the lake is held, so they truly overlap
        first = start_publish(tmp_path, "--lock-timeout", "60")
        second = start_publish(tmp_path, "--lock-timeout", "60")
        waiting = [first.stderr.readline(), second.stderr.readline()]
    outputs = [p.communicate(timeout=120) for p in (first, second)]

    for line in waiting:
        assert f"waiting up to 60 s for the lake lock held by PID {os.getpid()} (test holder" in line
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    # each line without what its commit wrote (`: 1 file written (...)`)
    summaries = sorted(re.sub(r"\): .*", ")", out.strip()) for out, _ in outputs)
    assert summaries == [
        "gold.dim_units: unchanged at v0 (50 rows)\ngold.mart_fleet_health: unchanged at v0 (50 rows)",
        "gold.dim_units: v0 (50 rows)\ngold.mart_fleet_health: v0 (50 rows)",
    ]
    assert versions(lake_dir, "dim_units") == [0]
    assert versions(lake_dir, "mart_fleet_health") == [0]
    # and run again with nothing new (`make run` twice): still no new version
    assert [r.changed for r in publish(warehouse, lake_dir)] == [False, False]
    assert versions(lake_dir, "dim_units") == [0]


def test_a_publisher_gives_up_after_its_timeout_naming_the_holder(warehouse, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PDM_WAREHOUSE_PATH", str(warehouse))
    monkeypatch.setenv("PDM_LAKE_PATH", str(tmp_path / "lake"))
    with lake_lock(tmp_path / "lake", "optimize"):
        started = time.monotonic()
        assert main(["--lock-timeout", "0.5"]) == 1
        assert 0.4 < time.monotonic() - started < 10
    err = capsys.readouterr().err
    assert f"the lake {tmp_path / 'lake'} is locked by PID {os.getpid()} (optimize, since " in err
    assert "gave up after waiting 0.5 s" in err
    assert not (tmp_path / "lake" / "gold").exists()  # nothing was written


def test_a_lake_that_cannot_hold_the_lock_file_stops_each_writer_naming_it(warehouse, tmp_path, monkeypatch, capsys):
    """A lake path that is a file (or a read-only lake folder): one line naming the lock file, exit 1, no traceback."""
    from lakehouse import optimize

    not_a_folder = tmp_path / "lake"
    not_a_folder.write_text("a file where the lake folder goes\n")
    monkeypatch.setenv("PDM_WAREHOUSE_PATH", str(warehouse))
    monkeypatch.setenv("PDM_LAKE_PATH", str(not_a_folder))
    for command, run in (
        ("publish", lambda: main([])),
        ("optimize", lambda: optimize.main([])),
    ):
        assert run() == 1, command
        err = capsys.readouterr().err
        assert err.startswith(f"{command}: can't take the lake's writer lock, so nothing was changed: "), err
        assert f"can't use {not_a_folder}: a file is where a folder goes" in err
    assert not_a_folder.read_text() == "a file where the lake folder goes\n"


@pytest.mark.parametrize("damage", ["truncated", "deleted"])
def test_a_damaged_commit_file_is_named_by_history_publish_restore_and_optimize(
    warehouse, tmp_path, monkeypatch, capsys, damage
):
    """A commit file cut short or deleted (a bad disk, a hand edit) ended `make history`, `make publish`,
    `make restore` and `make optimize` in deltalake's `DeltaError` traceback, naming neither table nor file."""
    from lakehouse import optimize, restore

    lake_dir = tmp_path / "lake"
    publish(warehouse, lake_dir)
    warehouse_sql(warehouse, "update gold.dim_units set n = n + 1 where unit_id = 'u1'")
    publish(warehouse, lake_dir)
    table = lake.mart_path(lake_dir, "dim_units")
    damaged = table / "_delta_log" / f"{1 if damage == 'truncated' else 0:020d}.json"
    if damage == "truncated":
        damaged.write_text(damaged.read_text()[:120])
    else:
        damaged.unlink()
    log = sorted((table / "_delta_log").iterdir())
    monkeypatch.setenv("PDM_WAREHOUSE_PATH", str(warehouse))
    monkeypatch.setenv("PDM_LAKE_PATH", str(lake_dir))
    for command, run in (
        ("publish", lambda: main(["--history"])),
        ("publish", lambda: main([])),
        ("restore", lambda: restore.main(["--table", "dim_units", "--version", "0"])),
        ("optimize", lambda: optimize.main([])),
    ):
        assert run() == 1, command
        err = capsys.readouterr().err
        assert err.startswith(f"{command}: the Delta table {table} can't be read ("), err
        assert str(damaged) in err and "Traceback" not in err
    assert sorted((table / "_delta_log").iterdir()) == log  # nothing written


def _file_size_limit(limit: int) -> None:
    """In the child: writes past `limit` bytes fail (EFBIG), as on a disk that fills up, with no root needed."""
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_write_that_fails_or_a_table_folder_in_the_way_names_the_table_and_what_was_committed(
    warehouse, tmp_path, monkeypatch, capsys
):
    """A disk filling up during a publish, or a file where a table's folder goes, ended in deltalake's
    `DeltaError` / `OSError` traceback, naming neither the table nor what the publish had committed."""
    columns = ", ".join(f"x{j} double" for j in range(10))
    values = ", ".join("random()" for _ in range(10))
    warehouse_sql(
        warehouse,
        f"create table gold.fct_unit_cycle_features (id bigint primary key, {columns})",
        f"insert into gold.fct_unit_cycle_features select i, {values} from range(200000) r(i)",
    )
    lake_dir = tmp_path / "lake"
    # 1. the big table's data file can't be written whole (the small ones before it fit)
    process = subprocess.run(
        [sys.executable, "-m", "lakehouse.publish"],
        cwd=REPO_ROOT,
        env=env_for(tmp_path),
        capture_output=True,
        text=True,
        preexec_fn=lambda: _file_size_limit(4 * 1024 * 1024),
    )
    assert process.returncode == 1, process.stderr
    said = [line for line in process.stderr.splitlines() if line.startswith("publish: ")]
    assert len(said) == 1 and "Traceback" not in process.stderr, process.stderr
    assert said[0].startswith("publish: gold.fct_unit_cycle_features: writing its new version failed (")
    assert "it is not published yet (tables committed before it: gold.dim_units: v0 (50 rows)" in said[0]
    assert "and publish again" in said[0]
    assert versions(lake_dir, "dim_units") == [0]
    assert not lake.is_published(lake.mart_path(lake_dir, "fct_unit_cycle_features"))
    monkeypatch.setenv("PDM_WAREHOUSE_PATH", str(warehouse))
    monkeypatch.setenv("PDM_LAKE_PATH", str(lake_dir))
    assert main([]) == 0  # with room again, the next publish completes it
    assert "gold.fct_unit_cycle_features: v0 (200000 rows)" in capsys.readouterr().out

    # 2. a file where a table's folder goes: stopped while planning, nothing written
    other = tmp_path / "other_lake"
    (other / "gold").mkdir(parents=True)
    (other / "gold" / "dim_units").write_text("not a folder\n")
    monkeypatch.setenv("PDM_LAKE_PATH", str(other))
    assert main([]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f"publish: gold.dim_units: can't compare it with its published Delta table {other}/gold/dim_units ("
    )
    assert err.rstrip().endswith("nothing was written") and "Traceback" not in err
    assert sorted(p.name for p in (other / "gold").iterdir()) == ["dim_units"]


def _kill_when_writing(process: subprocess.Popen, folder: Path, before: set[str]) -> None:
    """SIGKILL `process` as soon as a new file appears in `folder` (the Delta writer has started)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if folder.is_dir() and {p.name for p in folder.iterdir() if p.is_file()} - before:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            return
        time.sleep(0.002)
    raise AssertionError(f"the publish ended (rc {process.poll()}) before it wrote into {folder}: no kill happened")


def test_a_publish_killed_mid_write_leaves_every_table_readable_and_the_next_one_completes_it(
    warehouse, tmp_path, monkeypatch, capsys
):
    lake_dir = tmp_path / "lake"
    monkeypatch.setenv("PDM_WAREHOUSE_PATH", str(warehouse))
    monkeypatch.setenv("PDM_LAKE_PATH", str(lake_dir))
    columns = ", ".join(f"x{j} double" for j in range(10))
    values = ", ".join("random()" for _ in range(10))
    warehouse_sql(
        warehouse,
        f"create table gold.fct_unit_cycle_features (id bigint primary key, {columns})",
        f"insert into gold.fct_unit_cycle_features select i, {values} from range({BIG_ROWS}) r(i)",
    )
    big = lake.mart_path(lake_dir, "fct_unit_cycle_features")

    # 1. killed during the big table's FIRST write (tables are written in name order: dim_units first)
    process = start_publish(tmp_path)
    _kill_when_writing(process, big, set())
    assert process.returncode == -signal.SIGKILL
    assert big.is_dir() and not lake.is_published(big)
    assert versions(lake_dir, "dim_units") == [0]
    assert scalar(f"select count(*) from {lake.delta_scan_sql(lake.mart_path(lake_dir, 'dim_units'))}") == (50,)
    with pytest.raises(lake.TableNotPublishedError, match=r"holds no committed Delta version .* interrupted"):
        lake.require_version(big)
    assert main(["--history"]) == 0
    out = capsys.readouterr().out
    assert "gold.fct_unit_cycle_features: not published yet" in out
    assert "gold.dim_units" in out
    assert main(["--history", "fct_unit_cycle_features"]) == 1
    err = capsys.readouterr().err
    assert "no published Delta table gold.fct_unit_cycle_features" in err and "Traceback" not in err

    # the next publish completes it (the killed holder's lock was released by the kernel)
    assert main(["--lock-timeout", "5"]) == 0
    assert "gold.fct_unit_cycle_features: v0 (600000 rows)" in capsys.readouterr().out
    assert versions(lake_dir, "fct_unit_cycle_features") == [0]
    assert versions(lake_dir, "dim_units") == [0]
    old = content(lake.delta_scan_sql(big))
    assert old == content("gold.fct_unit_cycle_features", warehouse)

    # 2. killed during an UPDATE of the published table: readers keep the previous version
    warehouse_sql(warehouse, "update gold.fct_unit_cycle_features set x0 = x0 + 1")
    files_v0 = {p.name for p in big.iterdir() if p.is_file()}
    process = start_publish(tmp_path)
    _kill_when_writing(process, big, files_v0)
    assert lake.require_version(big) == 0
    assert content(lake.delta_scan_sql(big)) == old
    assert main(["--lock-timeout", "5"]) == 0
    assert "gold.fct_unit_cycle_features: v1 (600000 rows)" in capsys.readouterr().out
    new = content(lake.delta_scan_sql(big))
    assert new != old
    assert new == content("gold.fct_unit_cycle_features", warehouse)


# A restore whose RESTORE commit is its last act: SIGKILL where it would delete the erased units again.
KILLED_BEFORE_DELETING_AGAIN = """
import os, signal, sys
from pathlib import Path
import lakehouse.restore as restoring
restoring.delete_units_from_table = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
restoring.restore(Path(sys.argv[1]), "mart_fleet_health", version=0, landing=Path(sys.argv[2]))
"""


def test_a_restore_killed_before_deleting_erased_units_again_is_never_pinned_and_publish_completes_it(
    warehouse, tmp_path
):
    """The RESTORE commit of a version from before an erasure holds the erased unit until the restore's second
    commit; killed in between, the latest version holds it: the analysts' database refuses to pin that version
    (it did pin it, showing the erased unit, exit 0), and the next publish, or the restore again, writes over it."""
    from datetime import UTC, datetime

    from lakehouse import analysts
    from lakehouse import erase as erasing
    from lakehouse.restore import restore

    lake_dir, landing = tmp_path / "lake", tmp_path / "landing"
    gone = erasing.Unit("FD101", "test", 2)
    warehouse_sql(warehouse, f"insert into gold.mart_fleet_health values ('{gone.unit_id}', 0.5)")
    publish(warehouse, lake_dir)
    analysts.refresh(lake_dir)
    # the erasure, as `make erase` leaves the lake: the tombstone, the warehouse and a DELETE commit
    erasing.add_to_tombstone(landing, gone, "data subject request", datetime.now(UTC))
    warehouse_sql(warehouse, f"delete from gold.mart_fleet_health where unit_id = '{gone.unit_id}'")
    with lake.connect() as con:
        assert erasing.delete_units_from_table(con, lake_dir, "mart_fleet_health", [gone.unit_id], "erase")
    table = lake.mart_path(lake_dir, "mart_fleet_health")
    held = f"select count(*) from {lake.delta_scan_sql(table)} where unit_id = '{gone.unit_id}'"

    killed = subprocess.run(
        [sys.executable, "-c", KILLED_BEFORE_DELETING_AGAIN, str(lake_dir), str(landing)], cwd=REPO_ROOT, check=False
    )
    assert killed.returncode == -signal.SIGKILL
    assert versions(lake_dir, "mart_fleet_health") == [0, 1, 2] and scalar(held) == (1,)
    database = analysts.default_database(lake_dir)
    pinned = analysts.pinned_versions(database)
    with pytest.raises(analysts.AnalystsError, match=r"gold.mart_fleet_health v2: a restore stopped before deleting"):
        analysts.refresh(lake_dir)
    assert analysts.pinned_versions(database) == pinned  # readers keep the file from before the restore

    # the restore again completes it: its second commit deletes the unit, and the views move on
    assert restore(lake_dir, "mart_fleet_health", version=0, landing=landing).erased_units == (gone.unit_id,)
    assert scalar(held) == (0,)
    assert analysts.pinned_versions(database)[1][("gold", "mart_fleet_health")] == 4
    # killed again: the next publish writes over it
    subprocess.run([sys.executable, "-c", KILLED_BEFORE_DELETING_AGAIN, str(lake_dir), str(landing)], cwd=REPO_ROOT)
    assert scalar(held) == (1,)
    assert [r.changed for r in publish(warehouse, lake_dir)] == [False, True]
    assert scalar(held) == (0,)
    with lake.connect(database, read_only=True) as con:
        assert (
            con.execute(f"select count(*) from gold.mart_fleet_health where unit_id = '{gone.unit_id}'").fetchone()[0]
            == 0
        )
