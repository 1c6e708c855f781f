"""What `make run` hands over to the watcher (`lakehouse.watch_handover`), on real files, without dbt.

The state it writes is never ahead of what the run took in: a file landing after `begin` and scores written
after `scores` are new to the watcher. The watcher's own bookkeeping is kept; nothing is written when the
hand-over was not begun, was begun by another run or for other paths, or while a watcher holds the data
folder's lock. `make run` runs the three steps, with one id, around the right commands. The end-to-end
case (`make once` after it runs no dbt, and the next delivery is a continuation) is in test_first_run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from lakehouse import watch_handover
from lakehouse.watch import State, Watcher, acquire_lock, pending_reason, state_path
from lakehouse.watch_signatures import Difference, folder_signature, landing_signature, project_signature
from ml.config import REPO_ROOT, Paths, data_environment

RUN = "make-run-1"


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    paths = Paths.from_env(data_environment(tmp_path))
    paths.landing.mkdir(parents=True)
    (paths.landing / "train_FD101.txt").write_text("1 1 " + "0 " * 24 + "\n")
    (paths.predictions / "unit_risk_scores").mkdir(parents=True)
    (paths.predictions / "unit_risk_scores" / "scores-1.parquet").write_bytes(b"first")
    (paths.lake / "gold").mkdir(parents=True)
    paths.warehouse.parent.mkdir(parents=True)
    paths.warehouse.write_bytes(b"")
    return paths


def hand_over(paths: Paths) -> str:
    watch_handover.begin(paths, RUN)
    watch_handover.scores(paths, RUN)
    return watch_handover.commit(paths, RUN)


def test_the_state_records_what_the_run_took_in_and_the_watcher_finds_nothing_pending(paths: Paths) -> None:
    said = hand_over(paths)
    assert said.startswith(f"watch: what this run took in is handed over to the watcher ({state_path(paths)})"), said
    state = State.load(state_path(paths))
    assert state.signature == landing_signature(paths.landing)
    assert state.predictions == folder_signature(paths.predictions)
    assert state.project == project_signature()
    assert (state.landing, state.warehouse, state.lake) == (str(paths.landing), str(paths.warehouse), str(paths.lake))
    assert not state.in_progress and state.succeeded_at and state.handed_over_by == "make run"
    assert pending_reason(state, paths, landing_signature(paths.landing), folder_signature(paths.predictions)) is None
    # a continuation: the next tick's build is scoped to what changes from here
    watcher = Watcher(paths, target=None, out=lambda _: None)
    assert watcher.continues(state, project_signature())
    assert not watch_handover.handover_path(paths).exists()


def test_a_file_landing_during_the_run_and_scores_written_after_its_feed_back_build_stay_new(paths: Paths) -> None:
    watch_handover.begin(paths, RUN)
    (paths.landing / "test_FD101.txt").write_text("1 1 " + "0 " * 24 + "\n")  # after the build listed the folder
    (paths.landing / "train_FD101.txt").write_text("2 1 " + "0 " * 24 + "\n")  # corrected meanwhile
    watch_handover.scores(paths, RUN)
    (paths.predictions / "unit_risk_scores" / "scores-2.parquet").write_bytes(b"second")  # `make predict` meanwhile
    watch_handover.commit(paths, RUN)
    state = State.load(state_path(paths))
    difference = Difference.between(state.signature, landing_signature(paths.landing))
    assert difference.new == ("test_FD101.txt",) and difference.changed == ("train_FD101.txt",)
    reason = pending_reason(state, paths, landing_signature(paths.landing), folder_signature(paths.predictions))
    assert reason == "the landing folder changed"
    (paths.landing / "test_FD101.txt").unlink()
    watch_handover.begin(paths, RUN)  # a second run: its scores signed before the scores-3 file
    watch_handover.scores(paths, RUN)
    (paths.predictions / "unit_risk_scores" / "scores-3.parquet").write_bytes(b"third")
    watch_handover.commit(paths, RUN)
    state = State.load(state_path(paths))
    reason = pending_reason(state, paths, landing_signature(paths.landing), folder_signature(paths.predictions))
    assert reason == "scores or drift figures written to the predictions folder outside a tick"


def test_the_watchers_own_bookkeeping_is_kept_and_an_unfinished_tick_is_done(paths: Paths) -> None:
    state_path(paths).parent.mkdir(parents=True)
    deferred = {"select": ["config.severity:warn"], "scope": {}, "latest_build": "x", "deferred_at": "y"}
    State(
        signature={"old.txt": [1, 1]},
        in_progress=True,
        step="publish",
        warn_tests=deferred,
        compaction_pending=True,
        lake_vacuumed_at="2026-12-07T00:00:00.000000Z",
    ).save(state_path(paths))
    hand_over(paths)
    state = State.load(state_path(paths))
    assert state.warn_tests == deferred and state.compaction_pending
    assert state.lake_vacuumed_at == "2026-12-07T00:00:00.000000Z"
    assert not state.in_progress and state.step == "" and state.signature == landing_signature(paths.landing)


def test_nothing_is_handed_over_while_a_watcher_holds_the_data_folder(paths: Paths) -> None:
    watch_handover.begin(paths, RUN)
    watch_handover.scores(paths, RUN)
    lock = acquire_lock(paths)  # a watcher: flock conflicts between open files, in one process too
    try:
        said = watch_handover.commit(paths, RUN)
    finally:
        os.close(lock)
    assert re.fullmatch(
        rf"watch: nothing handed over: a watcher, PID {os.getpid()} \(since [^)]+\), is watching "
        rf"{re.escape(str(paths.data_dir))}; it keeps its own state",
        said,
    ), said
    assert not state_path(paths).exists()


def test_a_hand_over_not_begun_for_these_paths_writes_nothing_and_exits_1(
    paths: Paths, tmp_path: Path, monkeypatch, capsys
) -> None:
    for variable, value in data_environment(tmp_path).items():
        monkeypatch.setenv(variable, value)
    assert watch_handover.main(["--run", RUN, "commit"]) == 1
    assert "watch_handover commit: no hand-over begun" in capsys.readouterr().err
    watch_handover.begin(paths, RUN)
    with pytest.raises(watch_handover.HandoverError, match="`scores` did not run"):
        watch_handover.commit(paths, RUN)
    elsewhere = dataclasses.replace(paths, lake=tmp_path / "other-lake")
    with pytest.raises(watch_handover.HandoverError, match="begun for other paths"):
        watch_handover.scores(elsewhere, RUN)
    # another run's steps (a run that failed half-way, completed by hand or by the next run's)
    assert watch_handover.main(["commit"]) == 1
    assert f"was begun by another run ('{RUN}', not '')" in capsys.readouterr().err
    with pytest.raises(watch_handover.HandoverError, match="begun by another run"):
        watch_handover.scores(paths, "make-run-2")
    handover = watch_handover.handover_path(paths)
    handover.write_text(json.dumps({**json.loads(handover.read_text()), "version": 0}))
    with pytest.raises(watch_handover.HandoverError, match="another version of this module"):
        watch_handover.scores(paths, RUN)
    assert not state_path(paths).exists()


def test_make_run_hands_over_around_its_build_and_after_its_last_publish() -> None:
    """The recipe's order, and one id for its three steps (`make -n run`: make's own expansion)."""
    recipe = re.search(r"^run:.*\n((?:\t.*\n)+)", (REPO_ROOT / "Makefile").read_text(), re.MULTILINE)
    assert recipe
    steps = [line.strip() for line in recipe.group(1).splitlines() if not line.strip().startswith("@#")]
    begin, scores, commit = (steps.index(f"$(HANDOVER) {step}") for step in ("begin", "scores", "commit"))
    builds = [i for i, step in enumerate(steps) if step.startswith("$(DBT) build")]
    publishes = [i for i, step in enumerate(steps) if step == "$(PY) -m lakehouse.publish"]
    assert begin < builds[0] and builds[0] < scores < builds[1] and commit > max(publishes)
    assert begin == 1  # right after the sample fleet lands, before anything reads the folder
    dry_run = subprocess.run(
        ["make", "-n", "-o", "install", "run"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    ids = re.findall(r"-m lakehouse\.watch_handover --run (\S+) (begin|scores|commit)\n", dry_run)
    assert [step for _, step in ids] == ["begin", "scores", "commit"], dry_run
    assert len({run for run, _ in ids}) == 1 and ids[0][0].startswith("make-run-"), ids
