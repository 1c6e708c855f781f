"""What a watcher tick leaves out, and why that changes nothing it publishes (issue 9, item 3).

No dbt here: real DuckDB files and real Delta tables.
- `Watcher.selection`: the tick's build selects what is downstream of the sources whose files changed
  since the last successful tick, and everything whenever that tick is not a safe reference;
- `publish.changed_units_fingerprint`: of the units the change log names, only those whose rows
  differ from the published version are rewritten (a unit named for a new score drops out of the
  feature table's commit), and the fingerprint stays the one a full read computes;
- `ml.predict.units_in_commits`: `predict --changed-only` scores the units the feature table's Delta
  commits rewrote since the last scores (a compaction rewrote none), and falls back to every unit when the
  log can't say;
- `ingested_lines_by_file`: the lines a tick reports ingested are those its build stamped;
- `newest_taken_in`: a tick's latency starts at the newest file it took in, not at a file new only to the watcher;
- `project_signature`: the project is signed by its dbt files' contents, not their times.
- `Watcher.run_tick`: a failing tick is retried after a backoff that grows while nothing new lands.
- `write_json`: a state write that fails keeps the old state and leaves no temp file.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from lakehouse import lake
from lakehouse import publish as publishing
from lakehouse.optimize import compact_table
from lakehouse.watch import (
    LANDED_LINES,
    LANDING_SOURCES,
    PREDICTIONS_SOURCES,
    State,
    Watcher,
    ingested_lines_by_file,
    newest_taken_in,
    pending_reason,
    write_json,
)
from lakehouse.watch_signatures import project_signature
from ml.config import Paths, data_environment
from ml.predict import units_in_commits

# ----------------------------------------------------------------------------------- selection

CMAPSS = list(LANDING_SOURCES[None])
LANDED = {"train_FD101.txt": [100, 1], "registry": [-1, -1], "registry/equipment_registry.csv": [10, 1]}
SCORES = {"unit_risk_scores/scores_1.parquet": [50, 1]}


@pytest.fixture
def watcher(tmp_path: Path) -> Watcher:
    paths = Paths.from_env(data_environment(tmp_path))
    paths.warehouse.parent.mkdir(parents=True)
    paths.warehouse.touch()
    return Watcher(paths, target="ci", out=lambda _: None)


def last_tick(watcher: Watcher, **changes) -> State:
    """The state a successful tick over LANDED and SCORES left."""
    state = State(
        signature=dict(LANDED),
        project=project_signature(),
        landing=str(watcher.paths.landing),
        warehouse=str(watcher.paths.warehouse),
        lake=str(watcher.paths.lake),
        predictions=dict(SCORES),
    )
    for name, value in changes.items():
        setattr(state, name, value)
    return state


def select(watcher: Watcher, state: State, landed: dict, scores: dict = SCORES) -> list[str]:
    return watcher.selection(state, project_signature(), landed, scores)


def test_a_failing_tick_is_retried_after_a_backoff_that_grows_while_nothing_new_lands(watcher) -> None:
    # a look within the backoff, which runs nothing, counted as a success: the count of failures went
    # back to 0, so a tick failing for good was retried every 2 s for ever, never 4, 8 ... 300 s apart
    said: list[str] = []
    watcher.out = said.append
    (watcher.paths.landing).mkdir(parents=True)
    (watcher.paths.landing / "train_FD101.txt").write_text("1 1\n")
    # the state can't be written, so every tick fails at its first step, before any dbt
    (watcher.state_path.parent / f".{watcher.state_path.name}.{os.getpid()}.partial").mkdir(parents=True)
    for backoff in (2, 4, 8):
        assert not watcher.run_tick()
        failed = said.pop()
        assert "tick FAILED at dbt build (saving the state before it): IsADirectoryError" in failed
        assert f"the next tick retries (with nothing new landed, after {backoff} s)" in failed
        assert watcher.run_tick() and not said  # within the backoff: nothing runs, nothing is said
        watcher.last_failure_at -= backoff  # the backoff has passed
    (watcher.paths.landing / "test_FD101.txt").write_text("1 1\n")
    assert not watcher.run_tick()  # something new landed: retried at once, the backoff still growing
    assert "after 16 s" in said.pop()


def test_a_state_write_that_fails_keeps_the_old_state_and_leaves_no_temp_file(tmp_path: Path) -> None:
    # a write that failed half-way (a full disk) left its `.state.json.<pid>.partial` behind: one more
    # in the watch folder with each watcher or `make once` that failed so
    path = tmp_path / "state.json"
    write_json(path, {"version": 1})
    with pytest.raises(TypeError):
        write_json(path, {"version": 2, "step": object()})  # fails with part of it written
    assert json.loads(path.read_text()) == {"version": 1}
    assert [entry.name for entry in tmp_path.iterdir()] == ["state.json"]


def test_a_landed_data_file_selects_what_is_downstream_of_the_landing_sources_only(watcher) -> None:
    state = last_tick(watcher)
    assert select(watcher, state, {**LANDED, "test_FD101_delivery-001.txt": [5, 2]}) == CMAPSS
    # a file rewritten in place, or removed, is a change of the landing folder too
    assert select(watcher, state, {**LANDED, "train_FD101.txt": [101, 2]}) == CMAPSS
    without = {k: v for k, v in LANDED.items() if k != "train_FD101.txt"}
    assert select(watcher, state, without) == CMAPSS


def test_the_registry_and_erasure_folders_select_their_own_sources(watcher) -> None:
    state = last_tick(watcher)
    registry = {**LANDED, "registry/equipment_registry.csv": [11, 2]}
    assert select(watcher, state, registry) == list(LANDING_SOURCES["registry"])
    erasures = {**LANDED, "erasures": [-1, -1], f"erasures{os.sep}erased_units.csv": [3, 2]}
    assert select(watcher, state, erasures) == list(LANDING_SOURCES["erasures"])
    both = {**registry, "test_FD101_delivery-001.txt": [5, 2]}
    assert select(watcher, state, both) == CMAPSS + list(LANDING_SOURCES["registry"])


def test_scores_the_last_tick_did_not_take_in_add_the_predictions_sources(watcher) -> None:
    state = last_tick(watcher)
    landed = {**LANDED, "test_FD101_delivery-001.txt": [5, 2]}
    newer_scores = {**SCORES, "unit_risk_scores/scores_2.parquet": [60, 2]}
    assert select(watcher, state, landed, newer_scores) == CMAPSS + list(PREDICTIONS_SOURCES)


def test_scores_written_outside_a_tick_are_taken_in_at_the_next_look_alone(watcher) -> None:
    """`make predict` (or `make monitor`) beside a running watcher: with nothing landed, the next look is
    a tick of the predictions sources alone, not a build of every node, and not left for the next file."""
    state = last_tick(watcher)
    (watcher.paths.lake / "gold").mkdir(parents=True)
    newer_scores = {**SCORES, "unit_risk_scores/scores_2.parquet": [60, 2]}
    assert pending_reason(state, watcher.paths, dict(LANDED), dict(SCORES)) is None
    assert "predictions folder" in pending_reason(state, watcher.paths, dict(LANDED), newer_scores)
    assert select(watcher, state, dict(LANDED), newer_scores) == list(PREDICTIONS_SOURCES)
    # a state written before the predictions folder was recorded: no difference to tell, nothing pending
    assert pending_reason(last_tick(watcher, predictions=None), watcher.paths, dict(LANDED), newer_scores) is None


def test_the_project_is_signed_by_its_files_contents_not_their_times(tmp_path: Path) -> None:
    """The same files checked out again (new modification times) are no project change; a changed byte,
    a new file or a removed one is; pytest's files under tests/python are not dbt's."""
    (tmp_path / "models").mkdir()
    (tmp_path / "tests" / "python").mkdir(parents=True)
    model, project_file = tmp_path / "models" / "a.sql", tmp_path / "dbt_project.yml"
    model.write_text("select 1 as x\n")
    project_file.write_text("name: p\n")
    signed = project_signature(tmp_path)
    later = model.stat().st_mtime_ns + 10**9
    for path in (model, project_file):
        os.utime(path, ns=(later, later))
    (tmp_path / "tests" / "python" / "test_x.py").write_text("def test(): pass\n")
    assert project_signature(tmp_path) == signed
    model.write_text("select 2 as x\n")
    assert project_signature(tmp_path) != signed
    model.write_text("select 1 as x\n")
    assert project_signature(tmp_path) == signed
    (tmp_path / "models" / "b.sql").write_text("")
    assert project_signature(tmp_path) != signed
    (tmp_path / "models" / "b.sql").unlink()
    model.unlink()
    assert project_signature(tmp_path) != signed


@pytest.mark.parametrize(
    "why",
    ["first tick", "tick killed", "project changed", "other warehouse", "no predictions recorded", "unknown folder"],
)
def test_every_node_is_built_when_the_last_tick_is_no_safe_reference(watcher, why) -> None:
    state = {
        "first tick": last_tick(watcher, signature=None),
        "tick killed": last_tick(watcher, in_progress=True),
        "project changed": last_tick(watcher, project="0" * 16),
        "other warehouse": last_tick(watcher, warehouse="/elsewhere/pdm.duckdb"),
        "no predictions recorded": last_tick(watcher, predictions=None),
        "unknown folder": last_tick(watcher),
    }[why]
    landed = {**LANDED, "test_FD101_delivery-001.txt": [5, 2]}
    if why == "unknown folder":
        landed = {**LANDED, "archive": [-1, -1], f"archive{os.sep}old.txt": [5, 2]}
    assert select(watcher, state, landed) == []


# ------------------------------------------------------------------- publish: changed units only


@pytest.fixture
def gold(tmp_path: Path):
    con = lake.connect(tmp_path / "w.duckdb")
    con.execute("create schema gold")
    con.execute(
        "create table gold.t as select unit as unit_id, c::integer as cycle, c * 1.5 as x "
        "from unnest(['a', 'b', 'c', 'o''brien', 'z']) u(unit), range(1, 4) r(c)"
    )
    yield con
    con.close()


def test_only_units_whose_rows_differ_are_replaced_and_the_fingerprint_is_the_full_one(gold, tmp_path) -> None:
    path = tmp_path / "lake" / "t"
    previous = publishing.fingerprint(gold, "t")
    write_deltalake(str(path), publishing._reader(gold, "select * from gold.t"), mode="overwrite")
    gold.execute("update gold.t set x = -x where unit_id = 'b'")
    gold.execute("delete from gold.t where unit_id = 'o''brien'")
    gold.execute("insert into gold.t values ('n', 1, 1.0)")
    named = ["a", "b", "c", "o'brien", "n"]  # a and c named (say, for a new score) but unchanged

    fp, units = publishing.changed_units_fingerprint(gold, "t", previous, path, 0, named)
    assert units == ("b", "n", "o'brien")
    assert fp == publishing.fingerprint(gold, "t")
    every = publishing.changed_units_fingerprint(gold, "t", previous, path, 0, None)  # more than the limit named
    assert every == (fp, units)
    assert publishing.changed_units_fingerprint(gold, "t", previous, path, 0, ["a", "c"]) == (previous, ())


def test_the_units_predicate_puts_the_range_before_the_list_and_survives_quotes(gold) -> None:
    predicate = publishing.units_predicate(["z", "o'brien", "a"])
    assert predicate.startswith("\"unit_id\" between 'a' and 'z' and ")
    assert gold.execute(f"select distinct unit_id from gold.t where {predicate} order by 1").fetchall() == [
        ("a",),
        ("o'brien",),
        ("z",),
    ]


# ------------------------------------------------------------------ predict: units to score


def rows(unit: str, cycles: int, value: float = 0.0) -> pa.Table:
    return pa.table({"unit_id": [unit] * cycles, "cycle": list(range(1, cycles + 1)), "x": [value] * cycles})


def test_the_units_to_score_are_those_the_commits_since_the_last_scores_rewrote(tmp_path) -> None:
    path = tmp_path / "fct"
    for unit in ("a", "b", "c"):  # versions 0, 1, 2: one file per unit
        write_deltalake(str(path), rows(unit, 3), mode="append")
    write_deltalake(str(path), rows("b", 4, 1.0), mode="overwrite", predicate="unit_id = 'b'")  # version 3

    assert units_in_commits(path, 2, 3) == ["b"]
    assert units_in_commits(path, 0, 3) == ["b", "c"]
    assert units_in_commits(path, 3, 3) == []


def test_a_compaction_between_scorings_names_no_unit(tmp_path) -> None:
    path = tmp_path / "fct"
    for unit in ("a", "b", "c"):  # versions 0, 1, 2: one small file per unit
        write_deltalake(str(path), rows(unit, 3), mode="append")
    assert len(compact_table(path).file_uris()) == 1  # version 3: the three files in one, the same rows
    write_deltalake(str(path), rows("b", 4, 1.0), mode="overwrite", predicate="unit_id = 'b'")  # version 4

    assert units_in_commits(path, 2, 3) == []
    assert units_in_commits(path, 2, 4) == ["a", "b", "c"]  # the rewrite of the compacted file names them all
    assert units_in_commits(path, 3, 4) == ["a", "b", "c"]


def test_scoring_falls_back_to_every_unit_when_the_log_cannot_say(tmp_path) -> None:
    path = tmp_path / "fct"
    write_deltalake(str(path), rows("a", 3), mode="append")
    write_deltalake(str(path), rows("b", 3), mode="append")
    wider = rows("c", 2).append_column("y", pa.array([1.0, 2.0]))
    write_deltalake(str(path), wider, mode="append", schema_mode="merge")  # version 2 changes the schema

    assert units_in_commits(path, 0, 1) == ["b"]
    assert units_in_commits(path, 1, 2) is None  # a schema change: the features may all differ
    (path / "_delta_log" / f"{1:020d}.json").unlink()
    assert units_in_commits(path, 0, 1) is None  # a commit file gone


def test_changed_only_scores_the_rewritten_units_as_a_full_scoring_would(tmp_path) -> None:
    """End to end on real champions: the unit whose rows a units commit replaced is scored (with
    whatever else its rewritten file held), each row as scoring every unit gives it; then nothing."""
    from test_train import make_feature_table, write_table

    from ml.data import FEATURE_TABLE
    from ml.predict import score_all
    from ml.train import TrainConfig, train

    table = lake.mart_path(tmp_path / "lake", FEATURE_TABLE)
    write_table(table, make_feature_table(seed=5, train_units=20, test_units=10))
    train(table, tmp_path / "mlruns", seed=42, config=dataclasses.replace(TrainConfig.fast(), plots=False))
    full = score_all(table, tmp_path / "mlruns", tmp_path / "pred")
    assert full.written and full.units_changed is None

    unit = "FD900-test-003"
    with lake.connect() as con:  # the unit loses its last cycle, in one units commit
        shorter = con.execute(
            f"select * from {lake.delta_scan_sql(table)} where unit_id = '{unit}' "
            f"and cycle < (select max(cycle) from {lake.delta_scan_sql(table)} where unit_id = '{unit}')"
        ).to_arrow_table()
    write_deltalake(str(table), shorter, mode="overwrite", predicate=f"unit_id = '{unit}'")

    changed = score_all(table, tmp_path / "mlruns", tmp_path / "pred", changed_only=True)
    assert changed.written and unit in changed.units_changed
    assert changed.since_version == full.features_delta_version < changed.features_delta_version
    everything = score_all(table, tmp_path / "mlruns", tmp_path / "pred_full")
    by_unit = {row["unit_id"]: row for row in everything.scores.to_pylist()}
    assert changed.scores.num_rows == len(changed.units_changed)
    for row in changed.scores.to_pylist():
        assert {**row, "scored_at": None} == {**by_unit[row["unit_id"]], "scored_at": None}
    assert by_unit[unit]["cycle"] == max(shorter.column("cycle").to_pylist())

    again = score_all(table, tmp_path / "mlruns", tmp_path / "pred", changed_only=True)
    assert not again.written and again.path == changed.path


# ------------------------------------------------------------------------- lines ingested, latency


def test_the_lines_ingested_are_those_the_build_stamped(tmp_path) -> None:
    warehouse = tmp_path / "pdm.duckdb"
    started = "2026-12-04 10:00:00.123456"
    assert ingested_lines_by_file(warehouse, started) is None  # no warehouse (a failed first build)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema bronze")
        con.execute(
            f"create table {LANDED_LINES} "
            "(source_file varchar, ingested_at timestamp, line_number bigint, duplicate_of_source_file varchar)"
        )
        con.execute(
            f"insert into {LANDED_LINES} select '/l/a.txt', timestamp '2026-12-01', range, null from range(100)"
        )
        for path, lines in (("/l/a.txt", 7), ("/l/b.txt", 3), ("/elsewhere/b.txt", 2)):
            con.execute(
                f"insert into {LANDED_LINES} "
                f"select '{path}', cast('{started}' as timestamp), range, null from range({lines})"
            )
        # a file touched, or a copy of another: its one row names the file whose content it is, and no line
        # of it is new (it was counted, so a bare touch claimed a line ingested and a latency to gold)
        for path in ("/l/touched.txt", "/l/copy_of_a.txt"):
            con.execute(f"insert into {LANDED_LINES} values ('{path}', cast('{started}' as timestamp), 0, '/l/a.txt')")
    # by name, as the watcher's signature names the landing folder's files (a landing path moved: both)
    assert ingested_lines_by_file(warehouse, started) == {"a.txt": 7, "b.txt": 5}
    assert ingested_lines_by_file(warehouse, "2026-12-04 10:00:00.123457") == {}


def test_the_latency_starts_at_the_newest_file_the_tick_took_in() -> None:
    signature = {
        "train_FD101.txt": [100, 5_000],
        "test_FD101.txt": [80, 9_000],
        "registry": [-1, -1],
        "registry/equipment_registry.csv": [10, 7_000],
    }
    touched = ["registry/equipment_registry.csv", "test_FD101.txt", "train_FD101.txt"]
    # the first tick after `make run`: every file new to the watcher, none ingested by its build
    assert newest_taken_in(signature, touched, {}, watched_before=False, resuming=False) is None
    # ... and on a folder nothing had built: the files its build ingested
    ingested = {"train_FD101.txt": 100, "test_FD101.txt": 80}
    assert newest_taken_in(signature, touched, ingested, watched_before=False, resuming=False) == 9_000
    # a later tick: the data files its build ingested, and the registry extract the watcher saw change
    assert newest_taken_in(signature, touched, {"train_FD101.txt": 100}, watched_before=True, resuming=False) == 7_000
    # a test file touched (same content: no line ingested) and taken in by a `make build` meanwhile: not counted
    only_train = {"train_FD101.txt": 100}
    assert newest_taken_in(signature, touched[1:], only_train, watched_before=True, resuming=False) == 5_000
    assert newest_taken_in(signature, touched[1:], {}, watched_before=True, resuming=False) is None
    # a resumed or retried tick: the files that landed since the last successful tick, which its
    # interrupted attempt may have ingested
    assert newest_taken_in(signature, touched[1:], {}, watched_before=True, resuming=True) == 9_000
    assert newest_taken_in(signature, touched[1:], {}, watched_before=False, resuming=True) is None
    # the warehouse could not be read: unknown
    assert newest_taken_in(signature, touched, None, watched_before=True, resuming=False) is None
