"""`make run` hands what it took in over to the watcher, so `make watch` starts from there.

    python -m lakehouse.watch_handover --run ID begin   # before make run's build: landing folder and project signed
    python -m lakehouse.watch_handover --run ID scores  # before its score feed-back build: the predictions folder
    python -m lakehouse.watch_handover --run ID commit  # after its last publish: the state a tick would leave

Without it, a watcher started after `make run` has no state (`<data>/watch/state.json`): its first look
finds every landed file new and runs a build of every node, unit tests and seeds included, and a publish
of every table, for nothing `make run` had not already carried to gold with its scores.

`make run` does what a tick does (lakehouse/watch.py): a `dbt build` of the landing folder, a publish,
the scoring, the score feed-back build and a second publish. So when all of it succeeded, `commit` writes
the state such a tick would leave: the landing folder's signature taken by `begin` (before the build
listed the folder: a file that lands or changes after that differs from it, and the watcher's next
look takes it in), the project's signature taken then too (a project file changed during the run
makes the next tick build every node again), and the predictions folder's taken by `scores` (scores
written after the feed-back build began, by anything else, are fed back by the next tick). The state
written is never ahead of what the run took in: a file the run may have missed is new to the watcher,
and at worst its next tick builds something that changes nothing.

The watcher's own bookkeeping in an existing state is kept as it was: the warn tests it deferred, a
compaction it left pending, when it last vacuumed the lake. A tick it left unfinished (`in_progress`)
is done by the run: its build of every node and its publish of every table are what the resumed tick
would have run.

Nothing is handed over when a step of the run failed (make stops before `commit`), or while a watcher
holds the data folder's lock (it keeps its own state; `commit` says so and exits 0). The pending
hand-over is `<data>/watch/handover.json`, written atomically; `commit` removes it. `--run` names the
run (make run passes an id of its own): `scores` and `commit` refuse a hand-over another run began, so
the steps of a run that failed half-way can't be completed by hand or by the next run's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lakehouse.watch import STATE_SUBDIR, State, WatcherBusyError, _now, acquire_lock, state_path, write_json
from lakehouse.watch_signatures import folder_signature, landing_signature, project_signature
from ml.config import Paths

HANDOVER_FILE = "handover.json"
HANDOVER_VERSION = 1
BY = "make run"  # the state's `handed_over_by`: who ran what the state records


class HandoverError(RuntimeError):
    """The hand-over can't be committed: nothing is written to the watcher's state."""


def handover_path(paths: Paths) -> Path:
    return paths.data_dir / STATE_SUBDIR / HANDOVER_FILE


def _places(paths: Paths) -> dict[str, str]:
    return {"landing": str(paths.landing), "warehouse": str(paths.warehouse), "lake": str(paths.lake)}


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, data)


def _read(paths: Paths, run: str) -> dict[str, Any]:
    path = handover_path(paths)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise HandoverError(f"no hand-over begun ({path} is missing): `begin` runs before the build") from None
    except ValueError as error:
        raise HandoverError(f"{path} is not readable JSON ({error}): run `make run` again") from None
    if data.get("version") != HANDOVER_VERSION:
        raise HandoverError(f"{path} was written by another version of this module: run `make run` again")
    if data.get("run") != run:
        raise HandoverError(
            f"{path} was begun by another run ({data.get('run')!r}, not {run!r}): a run's steps are its own"
        )
    if data.get("places") != _places(paths):
        raise HandoverError(
            f"{path} was begun for other paths ({data.get('places')}) than these ({_places(paths)}): "
            "the PDM_* variables changed during the run"
        )
    return data


def begin(paths: Paths, run: str) -> Path:
    """Before the build: the landing folder's and the project's signatures, as a tick takes them at its start."""
    path = handover_path(paths)
    _write(
        path,
        {
            "version": HANDOVER_VERSION,
            "run": run,
            "places": _places(paths),
            "signature": landing_signature(paths.landing),
            "project": project_signature(),
            "begun_at": _now(),
            "predictions": None,
        },
    )
    return path


def scores(paths: Paths, run: str) -> None:
    """Before the score feed-back build: the predictions folder's signature (what that build takes in)."""
    data = _read(paths, run)
    data["predictions"] = folder_signature(paths.predictions)
    _write(handover_path(paths), data)


def commit(paths: Paths, run: str) -> str:
    """After the last publish: the watcher's state, as the tick that ran the same would have left it.
    Returns the line to print. Raises HandoverError when `begin` or `scores` did not run for this run and
    these paths."""
    data = _read(paths, run)
    if data["predictions"] is None:
        raise HandoverError(f"{handover_path(paths)}: `scores` did not run before the score feed-back build")
    try:
        lock = acquire_lock(paths)
    except WatcherBusyError as busy:
        return (
            f"watch: nothing handed over: a watcher, {busy.who}, is watching {paths.data_dir}; it keeps its own state"
        )
    try:
        path = state_path(paths)
        state = State.load(path)  # the watcher's own bookkeeping (deferred work, the vacuum's time) is kept
        state.signature = data["signature"]
        state.project = data["project"]
        state.predictions = data["predictions"]
        state.landing, state.warehouse, state.lake = (data["places"][key] for key in ("landing", "warehouse", "lake"))
        state.in_progress = False
        state.step = ""
        state.succeeded_at = _now()
        state.handed_over_by = BY
        state.save(path)
        with contextlib.suppress(FileNotFoundError):
            handover_path(paths).unlink()
    finally:
        os.close(lock)
    return (
        f"watch: what this run took in is handed over to the watcher ({path}): `make watch` and "
        f"`make once` take in what landed since its build began ({data['begun_at']})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lakehouse.watch_handover",
        description="Hand what `make run` took in over to the watcher (lakehouse/watch.py), step by step.",
    )
    parser.add_argument("--run", default="", help="the run's id: each step of one run passes the same")
    parser.add_argument(
        "step",
        choices=("begin", "scores", "commit"),
        help="begin: before the build; scores: before the score feed-back build; commit: after the last publish",
    )
    args = parser.parse_args(argv)
    paths = Paths.from_env()
    try:
        if args.step == "begin":
            begin(paths, args.run)
        elif args.step == "scores":
            scores(paths, args.run)
        else:
            print(commit(paths, args.run), flush=True)
    except HandoverError as error:
        print(f"watch_handover {args.step}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
