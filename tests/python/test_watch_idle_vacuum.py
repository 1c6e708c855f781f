"""A watcher with nothing landing still vacuums the lake when step 8 is due (at a quiet look), and a vacuum
that could not run is not tried again at every look. No dbt: real Delta tables, the watcher's real tick
and state file, a real (unreadable) MLflow store file."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from lakehouse import lake
from lakehouse.watch import VACUUM_RETRY_S, State, Watcher
from lakehouse.watch_signatures import folder_signature, landing_signature, project_signature
from ml.config import Paths, data_environment

TABLE = "mart_fleet_health"


def rows(risk: float) -> pa.Table:
    return pa.table({"unit_id": ["FD101-train-001", "FD101-train-002"], "risk": [risk, risk / 2]})


@pytest.fixture
def idle(tmp_path: Path) -> tuple[Watcher, list[str]]:
    """A watcher whose last tick saw the landing folder as it is, over a lake table published twice (the
    first version's file replaced), vacuumed with a retention of 0 h and no lake compaction."""
    paths = Paths.from_env(data_environment(tmp_path))
    paths.landing.mkdir(parents=True)
    paths.warehouse.parent.mkdir(parents=True)
    paths.warehouse.touch()
    table = lake.mart_path(paths.lake, TABLE)
    write_deltalake(str(table), rows(0.5))
    write_deltalake(str(table), rows(0.9), mode="overwrite")
    printed: list[str] = []
    watcher = Watcher(paths, target="ci", out=printed.append)
    watcher.vacuum_retention_hours = 0
    watcher.compact_lake_files = 0
    watcher.state_path.parent.mkdir(parents=True)
    State(
        signature=landing_signature(paths.landing),
        project=project_signature(),
        landing=str(paths.landing),
        warehouse=str(paths.warehouse),
        lake=str(paths.lake),
        predictions=folder_signature(paths.predictions),
    ).save(watcher.state_path)
    return watcher, printed


def data_files(watcher: Watcher) -> set[str]:
    return {path.name for path in lake.mart_path(watcher.paths.lake, TABLE).glob("*.parquet")}


def test_an_idle_watcher_vacuums_when_due_then_not_until_the_interval_has_passed(idle) -> None:
    watcher, printed = idle
    latest = {Path(uri).name for uri in DeltaTable(str(lake.mart_path(watcher.paths.lake, TABLE))).file_uris()}
    assert len(data_files(watcher)) == 2 and len(latest) == 1

    assert watcher.run_tick() and not watcher.idle
    assert data_files(watcher) == latest
    [line] = printed
    assert "lake vacuum (deferred to a quiet moment): lake vacuum" in line and f"vacuumed {TABLE} v" in line, line
    assert State.load(watcher.state_path).lake_vacuumed_at is not None

    # due again only `vacuum_every_s` later: the next looks find nothing to do
    assert watcher.run_tick() and watcher.idle and len(printed) == 1
    # past the interval (here 0 s), with nothing left to delete
    watcher.vacuum_every_s = 1e-6
    assert watcher.run_tick() and not watcher.idle
    assert printed[-1].endswith("lake vacuum at a quiet moment: nothing to delete"), printed[-1]


def test_a_vacuum_that_could_not_run_waits_before_its_next_try_and_deletes_nothing(idle) -> None:
    watcher, printed = idle
    watcher.paths.mlflow.mkdir(parents=True)
    (watcher.paths.mlflow / "mlflow.db").write_text("not a database")
    # never vacuumed: due (every hour by default); after a failure, the retry wait of 5 min applies

    assert watcher.run_tick() and not watcher.idle
    assert printed[0].endswith("lake vacuum at a quiet moment: not run"), printed
    assert printed[1].startswith("  warning: the lake's vacuum was skipped: can't read the model registry"), printed
    assert len(data_files(watcher)) == 2 and State.load(watcher.state_path).lake_vacuumed_at is None

    # the next looks: not tried again within the retry wait (no warning at every look)
    assert watcher.run_tick() and watcher.idle and len(printed) == 2
    # the retry wait over, the registry readable again (gone: no registered models)
    watcher.vacuum_failed_at -= VACUUM_RETRY_S
    (watcher.paths.mlflow / "mlflow.db").unlink()
    assert watcher.run_tick() and not watcher.idle
    assert f"vacuumed {TABLE} v" in printed[-1] and len(data_files(watcher)) == 1, printed
