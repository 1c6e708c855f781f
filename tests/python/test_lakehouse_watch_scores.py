"""The watcher with an MLflow store that holds champions (`python -m lakehouse.watch --once`), on a tiny
fleet trained on once: a real process over a real landing folder, warehouse, lake and MLflow store. The
marts that read scores are built and published once per tick, by the score feed-back build; the
analysts' database is refreshed after the tick's last publish (or as a tick fails after its first);
drift figures written to the predictions folder outside a tick reach gold at the next look; a tick's
vacuum deletes what its rewrites replaced but keeps the versions registered models were trained on.

The watcher without champions, and the helpers these tests share, are in test_lakehouse_watch.py."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import duckdb
import pytest
from deltalake import DeltaTable

from lakehouse import analysts, optimize
from lakehouse.lake import connect, delta_scan_sql, mart_path
from lakehouse.publish import history, published_tables
from lakehouse.watch import SCORE_FED_MARTS
from ml.config import REPO_ROOT
from tests.python.conftest import Environment
from tests.python.forked_runs import run_module
from tests.python.test_lakehouse_watch import (
    FLEET,
    TICK_LINE,
    TICK_TIMEOUT_S,
    deliver,
    once,
    published_units,
    run_results,
    settled,
    state,
    unit_ids,
)

pytestmark = pytest.mark.dbt


def versions_of(env: Environment, table: str) -> list[int]:
    return [entry.version for entry in history(env.paths.lake) if entry.table == table]


@pytest.fixture(scope="module")
def scored(environment_factory) -> Environment:
    """A tiny fleet taken through by one `--once`, then champions trained on it (fast grids)."""
    env = environment_factory("scored")
    env.land(dataclasses.replace(FLEET, train_units=12, test_units=4, seed=43))
    for path in env.paths.landing.rglob("*.*"):
        settled(path)
    first = once(env)
    assert first.returncode == 0, first.stdout + first.stderr
    trained = run_module("ml.train", ["--fast"], env.env, REPO_ROOT, timeout=TICK_TIMEOUT_S)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    return env


def test_a_scored_tick_publishes_the_marts_that_read_scores_once_with_the_scores(scored) -> None:
    """With champions, the main build leaves mart_fleet_health and mart_pipeline_freshness out; the score
    feed-back build makes them, and the second publish adds ONE version of each, the new units scored."""
    env = scored
    before = versions_of(env, "mart_fleet_health")
    delivered = deliver(env, 7)
    ticked = once(env)
    assert ticked.returncode == 0, ticked.stdout + ticked.stderr
    [tick] = [line for line in ticked.stdout.splitlines() if TICK_LINE.match(line)]
    assert "scores build" in tick and "publish scores" in tick and "marts build" not in tick, tick
    assert re.search(r"; latency [0-9.]+ s to gold, [0-9.]+ s with scores \[", tick), tick
    built, fed = run_results(env), run_results(env, "scores")
    assert "fct_unit_cycle_features" in built and not set(SCORE_FED_MARTS) & set(built)
    assert all(fed[mart] == "success" for mart in SCORE_FED_MARTS)
    assert len(versions_of(env, "mart_fleet_health")) == len(before) + 1
    with connect() as con:
        scored_at_latest = con.execute(
            f"select unit_id, scored_cycle = latest_cycle from "
            f"{delta_scan_sql(mart_path(env.paths.lake, 'mart_fleet_health'))} where unit_id in "
            f"({', '.join(repr(unit) for unit in sorted(unit_ids(delivered)))}) order by 1"
        ).fetchall()
    assert scored_at_latest == [(unit, True) for unit in sorted(unit_ids(delivered))]


def test_a_scored_tick_refreshes_the_analysts_database_after_its_last_publish_even_when_it_fails(scored) -> None:
    """The tick's first publish leaves the analysts' database to the publish of the scores, so analysts go
    from one tick's gold to the next. A tick that fails between the two (here its scoring: a file where
    the scores folder should be) refreshes it as it fails, to what its first publish committed; the
    retried tick leaves it pinning every table's latest version, refreshed after the scores' commit."""
    env = scored
    database = analysts.default_database(env.paths.lake)
    folder = env.paths.predictions / "unit_risk_scores"
    aside = folder.with_name("unit_risk_scores.aside")
    folder.rename(aside)
    folder.write_text("not a folder\n")
    try:
        delivered = deliver(env, 9)
        failed = once(env)
    finally:
        folder.unlink()
        aside.rename(folder)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "tick FAILED at predict" in failed.stdout, failed.stdout
    assert "the analysts' database was refreshed to the lake's latest versions" in failed.stdout
    assert unit_ids(delivered) <= published_units(env, "fct_unit_cycle_features")
    assert analysts.is_current(env.paths.lake, database)

    retried = once(env)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert analysts.is_current(env.paths.lake, database)
    [scores_commit] = [e.timestamp for e in history(env.paths.lake, "mart_fleet_health")][-1:]
    with duckdb.connect(str(database), read_only=True) as con:
        (refreshed_at,) = con.execute("select refreshed_at from analysts_refreshes").fetchone()
    assert scores_commit is not None and refreshed_at >= scores_commit


def test_what_is_written_to_the_predictions_folder_outside_a_tick_reaches_gold_at_the_next_look(scored) -> None:
    """`make monitor` (or `make predict`) beside the watcher: the next look, with no file landed, builds what
    reads the predictions folder (not the landing's models) and publishes it; the look after it finds
    nothing pending."""
    env = scored
    monitored = run_module("ml.monitor", [], env.env, REPO_ROOT, timeout=TICK_TIMEOUT_S)
    assert monitored.returncode == 0, monitored.stdout + monitored.stderr
    [written] = (env.paths.predictions / "model_monitoring").glob("monitoring_*.parquet")
    with connect() as con:
        (computed_at,) = con.execute(f"select max(computed_at) from read_parquet('{written}')").fetchone()
    ticked = once(env)
    assert ticked.returncode == 0, ticked.stdout + ticked.stderr
    [tick] = [line for line in ticked.stdout.splitlines() if TICK_LINE.match(line)]
    assert "written to the predictions folder outside a tick" in tick, tick
    built = run_results(env)
    assert "mart_model_monitoring" in built and "base_cmapss__landed_lines" not in built, built
    with connect() as con:
        (published,) = con.execute(
            f"select max(computed_at) from {delta_scan_sql(mart_path(env.paths.lake, 'mart_model_monitoring'))}"
        ).fetchone()
    assert published == computed_at
    again = once(env)
    assert again.returncode == 0 and not TICK_LINE.search(again.stdout), again.stdout + again.stderr


def test_a_ticks_vacuum_deletes_the_files_its_rewrites_replaced_but_not_a_registered_version(scored) -> None:
    """Step 8 with a retention of 0 h, due (the last vacuum more than `--vacuum-every-hours` ago): each
    published table's folder then holds its latest version's files and those of the versions registered
    models were trained on, nothing else. The feature table's files of the champion's training version are
    no longer in its latest version (a later whole rewrite, or step 7's compaction, here with a threshold of
    2, replaced them), so the vacuum kept them for the registry alone: that version still reads."""
    env = scored
    deliver(env, 11)
    ticked = once(
        env, {"PDM_WATCH_COMPACT_LAKE_FILES": "2"}, "--vacuum-every-hours", "0.0001", "--vacuum-retention-hours", "0"
    )
    assert ticked.returncode == 0, ticked.stdout + ticked.stderr
    [tick] = [line for line in ticked.stdout.splitlines() if TICK_LINE.match(line)]
    assert re.search(r"after the latency: .*lake vacuum [0-9.]+ s", tick), tick
    assert re.search(r"; vacuumed .*mart_fleet_health v\d+ \(\d+ files deleted\)", tick), tick
    assert state(env)["lake_vacuumed_at"] is not None
    registered = optimize.registered_versions(env.paths.mlflow)
    features = mart_path(env.paths.lake, "fct_unit_cycle_features")
    trained_on = registered.get(features.resolve())
    assert trained_on, registered

    def files(path: Path, version: int | None = None) -> set[str]:
        return {uri.removeprefix("file://") for uri in DeltaTable(str(path), version=version).file_uris()}

    for table in published_tables(env.paths.lake):
        path = mart_path(env.paths.lake, table)
        needed = files(path).union(*(files(path, version) for version in registered.get(path.resolve(), ())))
        on_disk = {str(file) for file in path.rglob("*.parquet") if "_delta_log" not in file.parts}
        assert on_disk == needed, table
    assert set().union(*(files(features, version) for version in trained_on)) - files(features)
    with connect() as con:
        for version in trained_on:
            (rows,) = con.execute(f"select count(*) from {delta_scan_sql(features, version)}").fetchone()
            assert rows > 0
