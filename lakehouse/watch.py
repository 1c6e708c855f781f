"""Continuous mode: watch the landing folder and carry what lands through to gold and fresh scores.

    python -m lakehouse.watch [--every SECONDS]   # until Ctrl-C / SIGTERM (`make watch EVERY=2`)
    python -m lakehouse.watch --once              # trigger-once: what is pending, then exit (`make once`)

Every tick (one every `--every` seconds, at once after a tick that took longer, and as soon as the
kernel reports that a file landed: lakehouse/landing_events.py, Linux inotify) lists the landing
folder (`PDM_LANDING_PATH`; the registry extract's and the erasure tombstone's subfolders included:
relative path, size, mtime_ns of every entry, no file content: lakehouse/watch_signatures.py) and
compares that signature with the one saved after the last SUCCESSFUL tick in `<data>/watch/state.json`
(written atomically; or by the last `make run`, which hands what it took in over to the watcher:
lakehouse/watch_handover.py), and the predictions folder's listing with the one that tick's builds
took in. Nothing changed: nothing else
happens (no dbt, no output). Changed (in the predictions folder: scores or drift figures written
outside a tick, by `make predict` or `make monitor`), no state yet, the warehouse or the lake gone, or
a tick that did not finish (the state file says `in_progress`): the tick runs what `make run` runs
after a delivery:

1. `dbt build` (incremental, in this process: dbt's programmatic runner with a manifest kept between
   ticks and re-parsed when a project file changes). The new files the kernel saw closed by their
   writer, or moved in, and unchanged since, go in the var `landing_settled_files`: bronze reads
   them without waiting the settle interval (`landing_settle_seconds`; others still wait it). After
   a successful tick on the same project files it selects only what is downstream of the sources
   whose files changed since then (`selection`: `source:cmapss.sensor_files+
   source:cmapss.rul_files+` for a landed data file, the registry's or the erasures' source for
   those subfolders, the predictions' when scores or drift figures landed that no build took in:
   alone when nothing else changed), its error-severity
   data tests included (they gate gold: a failing one fails the tick before anything is published);
   the warn-severity ones are left out for step 5 (`WARN_TESTS`); unit tests, seeds and the registry
   snapshot are left out when what they depend on has not changed (`exclusions`). When an MLflow
   store exists, the marts that read the scores (`SCORE_FED_MARTS`: mart_fleet_health,
   mart_pipeline_freshness) are left out too: step 4 builds and publishes them once, with the scores;
2. `python -m lakehouse.publish --tables <the gold models step 1 ran>` (every table on a resumed
   or retried tick; `--no-analysts` when an MLflow store exists: step 4's publish follows and
   refreshes the analysts' database, once per tick, or a tick that fails before it does so as it
   fails);
3. `python -m ml.predict --changed-only` when an MLflow store exists: the units the feature table's
   Delta commits rewrote since the last scores (every unit after a new champion; no champion: said
   once, scores wait for `make train`);
4. when step 3 wrote a scores file: the score feed-back build (`dbt build --select
   stg_predictions__unit_risk_scores+` less what a score cannot change, `SCORE_FEEDBACK_EXCLUDE`; its
   own target folder `<target>/scores`; warn tests left out too) and a second publish of the gold
   models it ran. Here the latency is taken: the data is in gold with its scores. When step 1 left the
   score-fed marts out and no scores were written (no champion, no unit changed), a build of those
   marts and their publish instead.
5. off the latency path, `dbt test` of the warn-severity tests the builds left out (those of what they
   selected; own target folder `<target>/warn_tests`), scoped to what step 1's build wrote (the var
   `scoped_tests_build_started_at`, macros/incremental/scoped_tests.sql); their warnings are printed
   as a build's would be, and an error running one fails the tick as it would have failed the build.
   In continuous mode (no stop requested) they wait for a quiet moment, so a file landing while they
   would run is not delayed by them (the tick line ends `warn tests and compaction deferred to a quiet
   moment`): the state file keeps their selectors and the scope of the build they were left out of
   (`build_test_scope`: each model's watermark as its tests would have used it, read right after the
   build), and they run, scoped to every deferred build as well as the latest (the var
   `scoped_tests_earlier_builds`), at the first look that finds nothing new EVERY seconds or more
   after the last tick that did work (its own line, `warn tests and compaction of the builds since
   ...`), or, when files keep landing, in a tick once deferred `MAX_WARN_TESTS_DEFERRAL_S` (5 min). A
   watcher stopped while they wait leaves them in the state file: its next start (or `--once`) runs them.
6. the compaction, after the warn tests and with them (deferred to the same quiet moment): in continuous
   mode the builds of steps 1 and 4 run without DuckDB's vacuum (`PDM_DUCKDB_MAX_VACUUM_TASKS=0` for
   their invocations, read by profiles.yml), so their checkpoints write only what they appended, and
   `dbt run-operation compact_tables` (macros/maintenance/compact_tables.sql) later merges the row groups
   they left (the state file's `compaction_pending`). `--once` and a stopping watcher's builds vacuum, as
   `make run`'s do.
7. the lake's compaction, wherever the warn tests run (the quiet moment, the 5-min cap, `--once`, a
   stop): every published table holding `--compact-lake-files` (32, `PDM_WATCH_COMPACT_LAKE_FILES`; 0:
   never) files under half the target size is compacted (`lakehouse.optimize.compact_small_files`: one
   version, the same rows, under the lake lock, the analysts' database rebuilt). Each incremental publish
   adds a file or two; without it every reader, and every `delta_scan` the watcher binds, would pay for
   them all (what `make optimize` does, without its vacuum).
8. the lake's vacuum, with step 7, at most once every `--vacuum-every-hours` (1, `PDM_WATCH_VACUUM_EVERY_HOURS`;
   0: never; the state file's `lake_vacuumed_at`): every published table's files removed from it more than
   `--vacuum-retention-hours` ago (default: the var `delta_version_retention_hours`, 168, as `make optimize`)
   are deleted, keeping every version a registered model was trained on (`lakehouse.optimize.vacuum_tables`;
   the analysts' database rebuilt when a table got a version). Each per-unit publish rewrites the files
   holding the units it replaces, and each compaction the files it merged: without it the lake's folder only
   grows. A watcher with nothing landing vacuums too, when due, at a look that finds the landing folder quiet
   (with step 7), so the files the last ticks replaced go once their retention has passed. A registry that
   can't be read, or none where champions have written scores, vacuums nothing, said as a warning; the vacuum
   is tried again at a quiet moment VACUUM_RETRY_S (5 min) later at the earliest, or `--vacuum-every-hours`
   if that is shorter.

Steps 2-4's commands run as their modules' `main(args)` in this process (imported once: scoring
otherwise pays ~4 s of imports per tick), output captured; `--isolated-steps` runs them as child
processes instead (lakehouse/watch_steps.py, with the in-process dbt runner). Before its first look
the watcher parses the project, imports those modules and loads the current champion models (the
warm-up), so the first file that lands pays none of it. Then the tick saves the signature taken at
its start (a file landing during the tick differs from it, so the next tick takes it: it builds it
unless this tick's build listed the folder after the file was whole and ingested it already, which
that next tick's line then shows as a new file with no lines ingested). A failing step is printed
with its output's tail; the signature is not saved, so the next tick retries (after consecutive
failures with nothing new landed, with a backoff of 2, 4, 8 ... s, at most `MAX_RETRY_SECONDS`);
`--once` exits 1.

A tick that did work prints one line: files new / changed / removed, landed lines ingested (the rows
of `bronze.base_cmapss__landed_lines` stamped with the build's run_started_at, less the row of a file
touched or copied: `ingested_lines_by_file`), units scored, the Delta
versions published (and compacted), the tables vacuumed, the latency (seconds from the modification
time of the newest file the tick took in to gold published, and to gold published with its scores;
`newest_taken_in` says which files count) and what each step took, steps 5-8 after `after the
latency:`; then dbt's warnings (the warn tests' included), one line each.

One watcher per data folder: `<data>/watch/watch.lock` is held with `fcntl.flock` (the kernel drops
it when the process ends, SIGKILL included) and holds the PID; a second watcher (or `--once`) exits 1
naming it. SIGTERM or Ctrl-C (SIGINT) during a tick lets the tick finish, then exits 0; during the
sleep between ticks it exits at once. Child commands (`--isolated-steps`) run in their own process
group (a terminal's Ctrl-C does not cut a publish in half) and are killed if the watcher dies. A
watcher killed mid-tick leaves `in_progress` in its state: the next start runs a tick at once, which completes the
incremental build (its watermarks catch up a build that died half-way; ingestion is exactly-once by
file version) and the publish (idempotent by content fingerprint: nothing already committed is
committed again).

The project's dbt files (models, macros, tests, seeds, snapshots, dbt_project.yml, profiles.yml) are
signed too, by content: a change re-parses and runs the unit tests and seeds again (the same files
checked out again, or in another clone, are no change). A change to `dbt_plugins/`
needs a restart (they are imported once).

Memory: past `--max-memory` (default 4GiB, `PDM_WATCH_MAX_MEMORY`; 0: never) of resident memory after a
tick, the watcher restarts itself in place (same PID and arguments; lakehouse/watch_restart.py).
"""

from __future__ import annotations

import argparse
import fcntl
import importlib
import json
import math
import os
import re
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lakehouse.landing_events import LandingEvents
from lakehouse.watch_restart import DEFAULT_MAX_MEMORY, MAX_MEMORY_ENV, MemoryLimit, resident_memory, restart
from lakehouse.watch_signatures import Difference, Signature, folder_signature, landing_signature, project_signature
from lakehouse.watch_steps import (
    GOLD_SCHEMA,
    OUTPUT_TAIL_LINES,
    Dbt,
    DbtOutcome,
    StepFailed,
    freeze_long_lived,
    run_module,
    target_path,
)
from ml.config import REPO_ROOT, Paths, env_number, first_line, path_problem

STATE_SUBDIR = "watch"
STATE_FILE = "state.json"
LOCK_FILE = "watch.lock"
STATE_VERSION = 1
DEFAULT_EVERY_S = 10.0
MAX_RETRY_SECONDS = 300.0  # a failing tick with nothing new landed is retried at most this far apart
# deferred warn tests run at least this often, even while files keep landing back to back: a tick then
# runs them after its latency, and a file landing meanwhile waits for them (1-2 s at 2 M readings); 5 min
# keeps that to about one tick in 35 of a saturated stream (one in 7 at 60 s)
MAX_WARN_TESTS_DEFERRAL_S = 300.0
SLEEP_SLICE_S = 0.1
# The gold marts that read the scores. When scores can be made (an MLflow store), the tick's main build
# leaves them out, so they are built and published once, with the scores of what landed: by the score
# feed-back build, or by a build of their own when no scores were written.
SCORE_FED_MARTS = ("mart_fleet_health", "mart_pipeline_freshness")
# What make run's score step feeds back into gold (Makefile `run`) ...
SCORE_FEEDBACK_SELECT = "stg_predictions__unit_risk_scores+"
# ... less what a new score cannot change: the models whose change causes leave scores out (var
# feature_change_causes; the registry history's and the equipment models' causes are not scores
# either), and the views only they read. They catch the score rows of the change log up, as no-ops,
# in the next tick's main build. dim_units (a no-op too) stays: mart_fleet_health's row-count test
# compares against it, and dbt leaves out a test any of whose parents is excluded.
SCORE_FEEDBACK_EXCLUDE = (
    "fct_unit_cycle_features",
    "dim_unit_registry_history",
    "dim_equipment_models",
    "int_sensor_readings_registry_joined",
    "int_sensor_readings_normalised",
    "int_unit_cycle_rolling_features",
    "int_unit_cycle_labels",
)
# Warn-severity data tests gate nothing (a warning never stops a build or a publish), so a tick's builds
# leave them out and one `dbt test` runs them after the tick's last publish, off the latency path (their
# own target folder `<target>/warn_tests`; `scoped_tests_build_started_at` scopes them to the main build's
# writes, macros/incremental/scoped_tests.sql). Error-severity tests stay in the builds and gate gold.
WARN_TESTS = "config.severity:warn"
WARN_TESTS_SCOPE_VAR = "scoped_tests_build_started_at"
EARLIER_BUILDS_VAR = "scoped_tests_earlier_builds"  # the scope of deferred builds tested in the same run
# The main build's var naming the new files seen whole (lakehouse/landing_events.py): no settle wait.
SETTLED_FILES_VAR = "landing_settled_files"
COMPACTION_OPERATION = "compact_tables"
# the lake's compaction (step 7): tables with this many files under half the target size are compacted
COMPACT_LAKE_FILES_ENV = "PDM_WATCH_COMPACT_LAKE_FILES"
DEFAULT_COMPACT_LAKE_FILES = 32
# the lake's vacuum (step 8): at most once every this many hours, of the files removed more than the
# var delta_version_retention_hours ago (`--vacuum-retention-hours`)
VACUUM_EVERY_ENV = "PDM_WATCH_VACUUM_EVERY_HOURS"
DEFAULT_VACUUM_EVERY_HOURS = 1.0
VACUUM_RETRY_S = 300.0  # after a vacuum that could not run (unreadable registry), the next try at the earliest
# What a tick runs in process (steps 2-4), imported by the warm-up before the first look
WARM_MODULES = ("lakehouse.publish", "ml.predict")
# The dbt sources each part of the landing folder feeds (None: its top-level entries, which bronze
# lists), and the scores / drift figures folder's: a tick's build selects what is downstream of the
# sources whose files changed (see `Watcher.selection`).
LANDING_SOURCES: dict[str | None, tuple[str, ...]] = {
    None: ("source:cmapss.sensor_files+", "source:cmapss.rul_files+"),
    "registry": ("source:registry+",),
    "erasures": ("source:erasures+",),
}
PREDICTIONS_SOURCES = ("source:predictions+",)
SCORES_SUBDIR = "unit_risk_scores"  # ml.predict.SCORES_SUBDIR (not imported: it pulls in mlflow)
MLFLOW_STORE = "mlflow.db"  # ml.registry.store_file (idem)
LANDED_LINES = "bronze.base_cmapss__landed_lines"
REGISTRY_SUBDIR = "registry"
PUBLISHED = re.compile(r"^gold\.(?P<table>\S+): v(?P<version>\d+) \(")


class WatcherBusyError(RuntimeError):
    """Another watcher holds this data folder's lock; `who` names it ('PID 123 (since ...)')."""

    def __init__(self, message: str, who: str) -> None:
        super().__init__(message)
        self.who = who


# ---------------------------------------------------------------------------------- state


@dataclass
class State:
    """What `<data>/watch/state.json` holds: the last successful tick's signature (or that of what `make run`
    took in: lakehouse/watch_handover.py) and whether a tick is running."""

    signature: Signature | None = None  # landing signature at the start of the last successful tick
    project: str | None = None  # project signature the last successful tick ran unit tests and seeds for
    landing: str | None = None
    warehouse: str | None = None
    lake: str | None = None
    in_progress: bool = False
    step: str = ""
    succeeded_at: str | None = None
    handed_over_by: str | None = None  # set when `make run` wrote this state (lakehouse/watch_handover.py)
    predictions: Signature | None = None  # the predictions folder at the end of the last successful tick
    # warn tests deferred to a quiet moment (`Watcher.defer_warn_tests`): `select` (the selectors of
    # the builds they were left out of), `scope` (those builds' test scope, `build_test_scope`),
    # `latest_build` (the last of those builds' run_started_at), `deferred_at` (when first deferred)
    warn_tests: dict[str, Any] | None = None
    # builds ran without vacuum since the last compaction (`compact_tables`, run with the warn tests)
    compaction_pending: bool = False
    lake_vacuumed_at: str | None = None  # when step 8 last vacuumed the lake (`_now()`'s format, UTC)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> State:
        """The state saved at `path`; none (a first start) without the file. A file that is no watcher state
        (not JSON: damaged; JSON but not an object, `[]` or `3`) is said on stderr, naming it, and ignored
        as none: the next tick takes in everything pending, as a first one does, and rewrites it."""
        try:
            data = json.loads(path.read_text())
        except OSError:
            return cls()
        except ValueError as error:
            return cls._ignored(path, f"it is not JSON ({first_line(error)})")
        if not isinstance(data, dict):
            return cls._ignored(path, f"it holds a JSON {type(data).__name__}, not an object")
        if data.get("version") != STATE_VERSION:
            return cls()
        return cls(
            signature=data.get("signature"),
            project=data.get("project"),
            landing=data.get("landing"),
            warehouse=data.get("warehouse"),
            lake=data.get("lake"),
            in_progress=bool(data.get("in_progress")),
            step=data.get("step", ""),
            succeeded_at=data.get("succeeded_at"),
            handed_over_by=data.get("handed_over_by"),
            predictions=data.get("predictions"),
            warn_tests=data.get("warn_tests"),
            compaction_pending=bool(data.get("compaction_pending")),
            lake_vacuumed_at=data.get("lake_vacuumed_at"),
        )

    @classmethod
    def _ignored(cls, path: Path, why: str) -> State:
        print(
            f"watch: the state file {path} is damaged ({why}): ignored, so the next tick takes in everything "
            "pending, as a first start does, and rewrites it; nothing else to do (deleting it also silences this)",
            file=sys.stderr,
            flush=True,
        )
        return cls()

    def save(self, path: Path) -> None:
        """Write atomically (`write_json`)."""
        data = {
            "version": STATE_VERSION,
            "signature": self.signature,
            "project": self.project,
            "landing": self.landing,
            "warehouse": self.warehouse,
            "lake": self.lake,
            "in_progress": self.in_progress,
            "step": self.step,
            "succeeded_at": self.succeeded_at,
            "handed_over_by": self.handed_over_by,
            "predictions": self.predictions,
            "warn_tests": self.warn_tests,
            "compaction_pending": self.compaction_pending,
            "lake_vacuumed_at": self.lake_vacuumed_at,
            "pid": os.getpid(),
            "updated_at": _now(),
        }
        write_json(path, data)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write `data` to `path` atomically: a temp file in the same folder, fsynced, renamed over the old one.
    A write that fails (a full disk) leaves the old file as it was and removes its temp file."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with open(partial, "w") as handle:
            json.dump(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


STATE_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"  # the state file's times, UTC


def _now() -> str:
    return datetime.now(UTC).strftime(STATE_TIME)


def _seconds_since(stamp: str) -> float:
    """Seconds from a time `_now()` wrote until now; ValueError when `stamp` is not one."""
    return (datetime.now(UTC) - datetime.strptime(stamp, STATE_TIME).replace(tzinfo=UTC)).total_seconds()


def pending_reason(state: State, paths: Paths, signature: Signature, predictions: Signature) -> str | None:
    """Why a tick must run now (None: nothing to do). `predictions`: the predictions folder now; scores or
    drift figures written there by anything but this watcher's ticks (`make predict`, `make monitor`, a
    scheduled scoring) are fed back to gold at the next look, not left for the next landed file's tick."""
    if state.signature is None:
        return "no successful tick recorded yet"
    if state.in_progress:
        return f"the previous tick did not finish (it was at: {state.step or '?'})"
    if (state.landing, state.warehouse, state.lake) != (str(paths.landing), str(paths.warehouse), str(paths.lake)):
        return "the landing folder, warehouse or lake path changed"
    if not paths.warehouse.exists():
        return f"the warehouse {paths.warehouse} is missing"
    if not (paths.lake / "gold").is_dir():
        return f"nothing published under {paths.lake / 'gold'}"
    if Difference.between(state.signature, signature):
        return "the landing folder changed"
    if state.predictions is not None and predictions != state.predictions:
        return "scores or drift figures written to the predictions folder outside a tick"
    return None


# ----------------------------------------------------------------------------------- lock


def lock_path(paths: Paths) -> Path:
    return paths.data_dir / STATE_SUBDIR / LOCK_FILE


def state_path(paths: Paths) -> Path:
    return paths.data_dir / STATE_SUBDIR / STATE_FILE


def acquire_lock(paths: Paths) -> int:
    """Hold this data folder's watcher lock (until the process ends); raises WatcherBusyError naming the holder."""
    path = lock_path(paths)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            holder = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        except ValueError:
            holder = {}
        os.close(fd)
        who = f"PID {holder['pid']} (since {holder.get('since', '?')})" if holder.get("pid") else "another process"
        raise WatcherBusyError(
            f"another watcher, {who}, is watching the data folder {paths.data_dir} (lock file {path}); "
            "stop it first (one watcher per data folder)",
            who,
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps({"pid": os.getpid(), "since": _now(), "argv": sys.argv}).encode(), 0)
    return fd


# ------------------------------------------------------------------------------- stopping


class Stop:
    """SIGTERM / SIGINT set the flag: a tick in progress finishes, a sleep ends at once."""

    def __init__(self) -> None:
        self.requested = False
        self.signal_name = ""

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, _frame: Any) -> None:
        self.requested = True
        self.signal_name = signal.Signals(signum).name


def wait_for_landing(stop: Stop, events: LandingEvents, seconds: float) -> None:
    """Until `seconds` have passed, a stop is requested or the kernel reports a landing, whichever comes first."""
    deadline = time.monotonic() + seconds
    while not stop.requested:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or events.wait(min(SLEEP_SLICE_S, remaining)):
            return


# ---------------------------------------------------------------------------------- tick inputs


def ingested_lines_by_file(warehouse: Path, build_started_at: str | None) -> dict[str, int] | None:
    """The landed lines a build ingested, per landed file's name: the rows of bronze's append-only
    landed-lines table it stamped with its run_started_at (counted after the tick's publishes, off the
    latency path; None when the warehouse can't be read now, e.g. another process is writing it), less
    the one row of a file whose content bronze held already (`duplicate_of_source_file`: a file touched
    or copied, which brings no line in). By name, as the watcher's signature names the landing folder's
    top-level files, however the landing path is spelled."""
    if build_started_at is None or not warehouse.exists():
        return None
    import duckdb

    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            sql = (
                f"select source_file, count(*) from {LANDED_LINES} "
                "where ingested_at = cast(? as timestamp) and duplicate_of_source_file is null group by source_file"
            )
            rows = con.execute(sql, [build_started_at]).fetchall()
    except duckdb.CatalogException:
        return {}
    except duckdb.Error:
        return None
    lines: dict[str, int] = {}
    for source_file, count in rows:
        name = os.path.basename(source_file)
        lines[name] = lines.get(name, 0) + int(count)
    return lines


def newest_taken_in(
    signature: Signature,
    touched: Sequence[str],
    ingested: dict[str, int] | None,
    watched_before: bool,
    resuming: bool,
) -> int | None:
    """The newest modification time (ns) of the files a tick took in: what its latency is measured from.

    Of the entries `touched` (new or changed since the last successful tick), a landed data file (the
    landing folder's top level, which bronze lists) counts when the tick's build ingested lines of it
    (`ingested`, by name), or, in a resumed or retried tick, when the watcher saw it land (its
    interrupted attempt may have ingested it); a file in a subfolder (the registry extract, the erasure
    tombstones), which bronze does not list, counts when the watcher saw it change. `watched_before`:
    the watcher had a signature of the folder before this tick. So the first tick after `make run`,
    which finds every file new to it but ingests none, claims no latency, nor does a tick whose data
    files a `make build` run meanwhile already took in, or one after a bare `touch`. A registry extract
    or tombstone that a build outside the watcher (`make build`, `make erase`) took in meanwhile still
    counts: nothing records which build read them. None: no such file, or `ingested` unknown."""
    if ingested is None:
        return None

    def counts(entry: str) -> bool:
        if os.sep in entry:
            return watched_before
        return entry in ingested or (resuming and watched_before)

    return max((signature[p][1] for p in touched if counts(p)), default=None)


def scores_files(predictions: Path) -> set[Path]:
    folder = predictions / SCORES_SUBDIR
    return set(folder.glob("scores_*.parquet")) if folder.is_dir() else set()


def scored_units(files: set[Path]) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(path).metadata.num_rows for path in files)


def published_versions(publish_output: str) -> list[str]:
    """`table vN` for every table a publish committed (its summary lines `gold.<table>: vN (...)`)."""
    return [f"{m['table']} v{m['version']}" for m in map(PUBLISHED.match, publish_output.splitlines()) if m]


# ------------------------------------------------------------------------------------ tick


@dataclass
class TickReport:
    difference: Difference
    reason: str
    lines_ingested: int | None = 0  # None: the warehouse could not be read to count them
    units_scored: int | None = None  # None: no champion models
    versions: list[str] = field(default_factory=list)
    vacuumed: list[str] = field(default_factory=list)  # the lake's vacuum (step 8): tables, files deleted
    latency_gold_s: float | None = None
    latency_scored_s: float | None = None
    steps: dict[str, float] = field(default_factory=dict)
    after: dict[str, float] = field(default_factory=dict)  # steps after the latency was taken: the warn tests
    warnings: list[str] = field(default_factory=list)
    breaches: list[str] = field(default_factory=list)
    warn_tests_deferred: bool = False  # the tick's warn tests wait for a quiet moment
    compaction_deferred: bool = False  # and the compaction its builds skipped
    deferred_only: bool = False  # a look with nothing new that ran what earlier ticks deferred

    def line(self) -> str:
        now = datetime.now().strftime("%H:%M:%S")
        if self.deferred_only:
            timed = f": {_timed(self.after)}" if self.after else ""
            versions = f"; {', '.join(self.versions)}" if self.versions else ""
            vacuumed = f"; vacuumed {', '.join(self.vacuumed)}" if self.vacuumed else ""
            return f"{now} {self.reason}{timed}{versions}{vacuumed}"
        parts = [self.difference.describe() if self.difference else self.reason]
        parts.append("? lines ingested" if self.lines_ingested is None else f"{self.lines_ingested:,} lines ingested")
        parts.append("no champion: not scored" if self.units_scored is None else f"{self.units_scored:,} units scored")
        if self.versions:
            parts.append(f"{len(self.versions)} Delta versions ({', '.join(self.versions)})")
        else:
            parts.append("0 Delta versions")
        if self.vacuumed:
            parts.append(f"vacuumed {', '.join(self.vacuumed)}")
        if self.latency_gold_s is not None:
            latency = f"latency {self.latency_gold_s:.1f} s to gold"
            if self.latency_scored_s is not None:
                latency += f", {self.latency_scored_s:.1f} s with scores"
            parts.append(latency)
        steps = _timed(self.steps) + (f"; after the latency: {_timed(self.after)}" if self.after else "")
        if self.warn_tests_deferred:
            deferred = "warn tests and compaction" if self.compaction_deferred else "warn tests"
            steps += f"; {deferred} deferred to a quiet moment"
        return f"{now} tick: {'; '.join(parts)} [{steps}]"


def _timed(steps: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in steps.items())


class Watcher:
    def __init__(
        self,
        paths: Paths,
        target: str | None,
        out: Callable[[str], None] = print,
        isolated: bool = False,
        events: LandingEvents | None = None,
    ) -> None:
        self.paths = paths
        self.isolated = isolated  # publish and predict as child processes rather than in this process
        self.events = events  # the kernel's landing events: which new files are whole (no settle wait)
        self.dbt = Dbt(target)
        self.out = out
        self.state_path = state_path(paths)
        self.said_no_champion = False
        self.failures = 0
        self.last_failure_at = 0.0
        self.failed_signature: Signature | None = None
        self.idle = False  # the last tick found nothing pending
        # continuous mode: a tick's warn tests wait for a look that finds nothing new at least
        # `warn_tests_quiet_s` (the watcher's EVERY) after the last tick that did work, or at most
        # MAX_WARN_TESTS_DEFERRAL_S, so they do not delay a file that lands meanwhile; not in `--once`,
        # nor when stopping
        self.defer_warn_tests: Callable[[], bool] = lambda: False
        self.single_tick = False  # `--once`: no next tick to retry a failure, the next run does
        self.warn_tests_quiet_s = DEFAULT_EVERY_S
        self.last_work_at = float("-inf")  # time.monotonic() at the end of the last tick that did work
        self.compact_lake_files = DEFAULT_COMPACT_LAKE_FILES  # step 7's threshold; 0: never
        self.vacuum_every_s = DEFAULT_VACUUM_EVERY_HOURS * 3600  # step 8's interval; 0: never
        self.vacuum_retention_hours: int | None = None  # step 8's; None: the var delta_version_retention_hours
        self.vacuum_failed_at: float | None = None  # time.monotonic() of step 8's last failure, if it failed

    def continues(self, state: State, project: str) -> bool:
        """Whether the last successful tick ran on the same project files, folders and warehouse (what a
        tick leaves out of its build is relative to that tick)."""
        same_place = (state.landing, state.warehouse, state.lake) == (
            str(self.paths.landing),
            str(self.paths.warehouse),
            str(self.paths.lake),
        )
        return state.signature is not None and state.project == project and same_place and self.paths.warehouse.exists()

    def selection(self, state: State, project: str, signature: Signature, predictions: Signature) -> list[str]:
        """The `--select` of a tick's build ([]: every node): the nodes downstream of the sources whose
        files changed since the last successful tick (`LANDING_SOURCES`; the predictions folder's when it
        differs from what that tick's builds took in), with their data tests (dbt's eager indirect
        selection: a test any of whose parents is selected). A node no changed file reaches reads what it
        read at that tick, so building it again would change nothing. Every node on a first tick, after a
        project or place change, when the previous tick did not finish, or when a file changed in a
        landing subfolder no source is known to read."""
        if not self.continues(state, project) or state.in_progress or state.predictions is None:
            return []
        difference = Difference.between(state.signature or {}, signature)
        parts: set[str | None] = set()
        for path in difference.new + difference.changed + difference.removed:
            top, _, rest = path.partition(os.sep)
            part = top if top in LANDING_SOURCES else None
            if rest and part is None:
                return []
            parts.add(part)
        selectors = [selector for part in LANDING_SOURCES if part in parts for selector in LANDING_SOURCES[part]]
        if predictions != state.predictions:
            selectors += PREDICTIONS_SOURCES
        return selectors

    # what a tick may leave out of `dbt build` (nothing, on a first tick or after a project change)
    def exclusions(self, state: State, project: str, signature: Signature) -> list[str]:
        """Nodes a tick's build can skip without changing what the build leaves:

        - unit tests and seeds, when the last successful tick ran them for the same project files
          (unit tests test the SQL, not the data; seeds are the project's own files);
        - the registry snapshot, when the registry extract's folder is unchanged since that tick (a
          check-strategy snapshot of an unchanged extract records nothing).
        """
        if not self.continues(state, project):
            return []
        excluded = ["resource_type:unit_test", "resource_type:seed"]
        registry = {p: v for p, v in signature.items() if p.split(os.sep)[0] == REGISTRY_SUBDIR}
        before = {p: v for p, v in state.signature.items() if p.split(os.sep)[0] == REGISTRY_SUBDIR}
        if registry and registry == before and not state.in_progress:
            excluded.append("resource_type:snapshot")
        return excluded

    def mark(self, state: State, step: str) -> None:
        """Save the state as at `step`; a save that fails (a full disk) fails the tick as that step, which did
        not run (the state file still names the step before it)."""
        state.in_progress = True
        state.step = step
        try:
            state.save(self.state_path)
        except OSError as error:
            raise StepFailed(
                f"{step} (saving the state before it)",
                f"{type(error).__name__}: {error} ({self.state_path})",
                "".join(traceback.format_exc().splitlines(keepends=True)[-OUTPUT_TAIL_LINES:]),
            ) from error

    def tick(self) -> TickReport | None:
        """One tick: None when nothing is pending; raises StepFailed when a step fails."""
        state = State.load(self.state_path)
        signature = landing_signature(self.paths.landing)
        predictions = folder_signature(self.paths.predictions)
        reason = pending_reason(state, self.paths, signature, predictions)
        if reason is None and not state.warn_tests and not state.compaction_pending and not self.vacuum_due(state):
            return None
        if reason is None:  # nothing new: the deferred warn tests and compaction run once the landing folder is quiet
            quiet = time.monotonic() - self.last_work_at >= self.warn_tests_quiet_s
            if self.defer_warn_tests() and not quiet and not _deferred_too_long(state.warn_tests):
                return None
            return self.deferred_work(state, signature)
        project = project_signature()
        difference = Difference.between(state.signature or {}, signature)
        report = TickReport(difference=difference, reason=reason)
        touched = [p for p in difference.new + difference.changed if signature[p][1] > 0]
        watched_before = state.signature is not None
        # the new files the kernel saw whole: bronze reads them without waiting the settle interval
        whole = self.events.settled(signature) if self.events else {}
        settled = {name: value for name, value in whole.items() if name in touched}
        excluded = self.exclusions(state, project, signature)
        selected = self.selection(state, project, signature, predictions)
        consumed = predictions if not selected or PREDICTIONS_SOURCES[0] in selected else state.predictions
        everything = state.in_progress or self.failures > 0  # a resumed or retried tick publishes every table
        scoring = (self.paths.mlflow / MLFLOW_STORE).exists()
        # the marts that read the scores wait for them: built once, by the score feed-back build (or, when
        # no scores are written, by a build of their own), and published with them
        held_back = list(SCORE_FED_MARTS) if scoring else []
        # in continuous mode the builds leave DuckDB's vacuum to the compaction at a quiet moment
        without_vacuum = self.defer_warn_tests()
        if without_vacuum:
            state.compaction_pending = True  # saved by `mark`: a watcher killed from here on leaves it pending
        self.mark(state, "dbt build")

        outcome = self.dbt.build(
            project,
            "dbt build",
            *(["--select", *selected] if selected else []),
            "--exclude",
            *excluded,
            *held_back,
            WARN_TESTS,
            *(["--vars", json.dumps({SETTLED_FILES_VAR: settled})] if settled else []),
            vacuum=not without_vacuum,
        )
        if self.dbt.parse_seconds:
            report.steps["parse"] = self.dbt.parse_seconds
            self.dbt.parse_seconds = 0.0
        report.steps["build"] = outcome.seconds
        report.warnings += outcome.warnings
        # the warn tests of what the builds select (a warn test any of whose parents they select, as `dbt
        # build` selects tests), run after the last publish
        warn_tests = [f"{selector},{WARN_TESTS}" for selector in selected] or [WARN_TESTS]

        self.mark(state, "publish")
        tables = [] if everything else outcome.gold_models
        # with scoring, a second publish follows in this tick (step 4) and refreshes the analysts'
        # database, once: analysts go from one tick's gold to the next, features with their scores (a
        # tick that fails before it refreshes it then, `refresh_stale_analysts`)
        output, report.steps["publish"] = run_module(
            "publish", "lakehouse.publish", self.isolated, [*_tables(tables), *(["--no-analysts"] if scoring else [])]
        )
        report.versions += published_versions(output)
        gold_at, scored_at = time.time(), None  # the latency's ends; its start is known after the tick

        if scoring:
            self.mark(state, "predict")
            before = scores_files(self.paths.predictions)
            try:
                _, report.steps["predict"] = run_module("predict", "ml.predict", self.isolated, ["--changed-only"])
            except StepFailed as failed:
                if "no champion model" not in failed.output:
                    raise
                self.say_no_champion()
            else:
                written = scores_files(self.paths.predictions) - before
                report.units_scored = scored_units(written)
                if written:
                    consumed = folder_signature(self.paths.predictions)
                    self.second_build(
                        state,
                        report,
                        project,
                        ("score feed-back build", "scores build", "publish scores"),
                        ["--select", SCORE_FEEDBACK_SELECT, "--exclude", "resource_type:unit_test"],
                        SCORE_FEEDBACK_EXCLUDE,
                        vacuum=not without_vacuum,
                    )
                    warn_tests.append(f"{SCORE_FEEDBACK_SELECT},{WARN_TESTS}")
                    held_back = []
        else:
            self.say_no_champion()
        if held_back:  # no scores written (no champion, no unit changed): the held-back marts now, unscored
            self.second_build(
                state,
                report,
                project,
                ("score-fed marts build", "marts build", "publish marts"),
                ["--select", *held_back, "--exclude"],
                vacuum=not without_vacuum,
            )
        if report.units_scored:
            scored_at = time.time()

        # off the latency path: the warn tests (reported as the build's were; an error running one fails
        # the tick as it would have failed the build), then the count of lines ingested
        # (with those deferred from earlier ticks, scoped to their builds too); in continuous mode
        # deferred themselves to a quiet moment
        self.mark(state, "warn tests")
        deferred = state.warn_tests
        select = sorted(set(deferred["select"]) | set(warn_tests)) if deferred else warn_tests
        scope = (
            build_test_scope(self.paths.warehouse, outcome.started_at)
            if outcome.started_at and self.defer_warn_tests() and not _deferred_too_long(deferred)
            else None
        )
        if scope is not None:
            state.warn_tests = {
                "select": select,
                "scope": merged_test_scope(deferred["scope"], scope) if deferred else scope,
                "latest_build": outcome.started_at,
                "deferred_at": deferred["deferred_at"] if deferred else _now(),
            }
            report.warn_tests_deferred = True
            report.compaction_deferred = state.compaction_pending
        else:
            tested = self.run_warn_tests(
                project, select, excluded, outcome.started_at, deferred["scope"] if deferred else None
            )
            state.warn_tests = None
            report.after["warn tests"] = tested.seconds
            report.warnings += [w for w in tested.warnings if w not in report.warnings]
            if state.compaction_pending:
                report.after["compaction"] = self.compact(state, project)
            self.compact_lake(state, report)
            self.vacuum_lake(state, report)
        ingested = ingested_lines_by_file(self.paths.warehouse, outcome.started_at)
        report.lines_ingested = None if ingested is None else sum(ingested.values())
        newest = newest_taken_in(signature, touched, ingested, watched_before, resuming=everything)
        if newest is not None:
            report.latency_gold_s = max(gold_at - newest / 1e9, 0.0)
            if scored_at is not None:
                report.latency_scored_s = max(scored_at - newest / 1e9, 0.0)

        state.signature = signature
        state.predictions = consumed
        state.project = project
        state.landing, state.warehouse, state.lake = (
            str(self.paths.landing),
            str(self.paths.warehouse),
            str(self.paths.lake),
        )
        state.in_progress = False
        state.step = ""
        state.succeeded_at = _now()
        state.handed_over_by = None
        state.save(self.state_path)
        report.breaches = sla_breaches(self.paths.warehouse)
        self.last_work_at = time.monotonic()
        return report

    def warm_up(self) -> str:
        """Before the first look, what the first tick would otherwise pay on its latency path: dbt's parse,
        and (steps in process) the imports of the publish and the scoring and the loading of the champion
        models the aliases point at now (a new champion later is loaded by the scoring that first uses it);
        then what it loaded is frozen out of the garbage collector's sight (`freeze_long_lived`).
        Returns what it did, one line; a failure is said there and left to the tick, which reports it as a
        step's."""
        started = time.monotonic()
        done = ["dbt parse"]
        try:
            self.dbt.ensure_parsed(project_signature())
            self.dbt.parse_seconds = 0.0  # not the first tick's
            if not self.isolated:
                for module in WARM_MODULES:
                    importlib.import_module(module)
                done.append("imports")
                champions = importlib.import_module("ml.predict").preload_champions(self.paths.mlflow)
                if champions:
                    done.append(f"champions {champions}")
            freeze_long_lived()
        except Exception as error:  # the first tick runs and reports it
            return f"warm-up failed ({type(error).__name__}: {first_line(error, fallback='')})"
        return f"warmed up in {time.monotonic() - started:.1f} s ({', '.join(done)})"

    def second_build(
        self,
        state: State,
        report: TickReport,
        project: str,
        names: tuple[str, str, str],
        selection: list[str],
        excluded: Sequence[str] = (),
        vacuum: bool = True,
    ) -> None:
        """The build after the scoring (`selection`: its --select and --exclude; `excluded` and the warn
        tests excluded too; own target folder `<target>/scores`; `vacuum` as `Dbt.run`'s), then the publish
        of the gold models it ran; `names`: the state's step, the report's build step and its publish step."""
        step, build_step, publish_step = names
        self.mark(state, step)
        outcome = self.dbt.build(
            project,
            step,
            *selection,
            *excluded,
            WARN_TESTS,
            "--target-path",
            str(target_path()) + "/scores",
            vacuum=vacuum,
        )
        report.steps[build_step] = outcome.seconds
        report.warnings += [w for w in outcome.warnings if w not in report.warnings]
        self.mark(state, "second publish")
        output, report.steps[publish_step] = run_module(
            "second publish", "lakehouse.publish", self.isolated, _tables(outcome.gold_models)
        )
        report.versions += published_versions(output)

    def run_warn_tests(
        self,
        project: str,
        select: Sequence[str],
        excluded: Sequence[str],
        build_started_at: str | None,
        earlier: dict[str, Any] | None = None,
    ) -> DbtOutcome:
        """`dbt test` of the warn-severity tests `select` names, scoped to what the build started at
        `build_started_at` wrote, and with `earlier` (`build_test_scope`) to what those builds wrote too."""
        variables: dict[str, Any] = {WARN_TESTS_SCOPE_VAR: build_started_at}
        if earlier:
            variables[EARLIER_BUILDS_VAR] = earlier
        return self.dbt.run(
            project,
            "warn tests",
            "test",
            "--select",
            *select,
            *(["--exclude", *excluded] if excluded else []),
            "--vars",
            json.dumps(variables),
            "--target-path",
            str(target_path()) + "/warn_tests",
        )

    def deferred_work(self, state: State, signature: Signature) -> TickReport:
        """A look that found nothing new (in continuous mode, the landing folder quiet) runs what earlier
        ticks deferred: their warn tests, then the compaction their builds skipped; and steps 7-8, so an idle
        watcher still vacuums the lake when due."""
        deferred = state.warn_tests
        project = project_signature()
        report = TickReport(difference=Difference((), (), ()), reason="", deferred_only=True)
        if deferred:
            self.mark(state, "warn tests")
            tested = self.run_warn_tests(
                project,
                deferred["select"],
                self.exclusions(state, project, signature),
                deferred["latest_build"],
                deferred["scope"],
            )
            report.after["warn tests"] = tested.seconds
            report.warnings = tested.warnings
            state.warn_tests = None
        if state.compaction_pending:
            report.after["compaction"] = self.compact(state, project)
        self.compact_lake(state, report)
        self.vacuum_lake(state, report)
        since = f" of the builds since {deferred['scope']['files_since']}" if deferred else ""
        ran = list(report.after)
        done = f"{', '.join(ran[:-1])} and {ran[-1]}" if len(ran) > 1 else "".join(ran)
        if ran:
            report.reason = f"{done}{since} (deferred to a quiet moment)"
        else:  # only the lake's vacuum was due, and it deleted nothing or could not run (a warning says why)
            report.reason = "lake vacuum at a quiet moment: " + ("not run" if report.warnings else "nothing to delete")
        state.in_progress = False
        state.step = ""
        state.save(self.state_path)
        return report

    def compact(self, state: State, project: str) -> float:
        """`dbt run-operation compact_tables` (macros/maintenance/compact_tables.sql): the row-group merges
        the builds since the last one skipped; clears `compaction_pending`. Returns its seconds."""
        self.mark(state, "compaction")
        folder = str(target_path()) + "/compaction"
        outcome = self.dbt.run(project, "compaction", "run-operation", COMPACTION_OPERATION, "--target-path", folder)
        state.compaction_pending = False
        return outcome.seconds

    def compact_lake(self, state: State, report: TickReport) -> None:
        """Step 7: compact the published tables with `compact_lake_files` small files or more
        (`lakehouse.optimize.compact_small_files`); each one compacted is added to the report's versions,
        the step's seconds to its `after` when any was."""
        if self.compact_lake_files <= 0 or not (self.paths.lake / GOLD_SCHEMA).is_dir():
            return
        from lakehouse import optimize  # imports deltalake: only once there is a lake

        self.mark(state, "lake compaction")
        started = time.monotonic()
        compacted = optimize.compact_small_files(self.paths.lake, self.compact_lake_files)
        if compacted:
            report.after["lake compaction"] = time.monotonic() - started
            report.versions += [result.summary() for result in compacted]

    def vacuum_lake(self, state: State, report: TickReport) -> None:
        """Step 8: once `vacuum_every_s` has passed since the state's `lake_vacuumed_at` (or there is none),
        vacuum the published tables (`lakehouse.optimize.vacuum_tables`); each one vacuumed is added to the
        report's `vacuumed`, the step's seconds to its `after` when any was. A registry that can't be read, or
        none where champions have scored, is a warning of the report (nothing vacuumed, `lake_vacuumed_at` kept:
        `vacuum_due` allows the next try VACUUM_RETRY_S later at the earliest)."""
        if not self.vacuum_due(state):
            return
        from lakehouse import optimize  # imports deltalake: only once there is a lake

        retention = self.vacuum_retention_hours
        if retention is None:
            retention, _ = optimize.retention_vars()
        self.mark(state, "lake vacuum")
        started = time.monotonic()
        try:
            vacuumed = optimize.vacuum_tables(self.paths.lake, self.paths.mlflow, self.paths.predictions, retention)
        except optimize.OptimizeError as error:
            self.vacuum_failed_at = time.monotonic()
            report.warnings.append(f"the lake's vacuum was skipped: {error}")
            return
        self.vacuum_failed_at = None
        state.lake_vacuumed_at = _now()
        if vacuumed:
            report.after["lake vacuum"] = time.monotonic() - started
            report.vacuumed += [result.summary() for result in vacuumed]

    def vacuum_due(self, state: State) -> bool:
        """Whether step 8 is due: on, a lake published, `vacuum_every_s` passed since the state's
        `lake_vacuumed_at` (or none), and, after a failure, VACUUM_RETRY_S or `vacuum_every_s` (the shorter)
        since it."""
        if self.vacuum_every_s <= 0 or not (self.paths.lake / GOLD_SCHEMA).is_dir():
            return False
        retry_s = min(VACUUM_RETRY_S, self.vacuum_every_s)
        if self.vacuum_failed_at is not None and time.monotonic() - self.vacuum_failed_at < retry_s:
            return False
        try:
            return not state.lake_vacuumed_at or _seconds_since(state.lake_vacuumed_at) >= self.vacuum_every_s
        except ValueError:  # a state file edited by hand: now
            return True

    def refresh_stale_analysts(self) -> str:
        """After a failed tick: refresh the analysts' database if it does not pin the lake's latest
        versions (a publish of the tick committed, and the step that was to refresh it failed). Returns
        what it did, one line ('' when it was current)."""
        try:
            from lakehouse import analysts

            database = analysts.default_database(self.paths.lake)
            if not analysts.published(self.paths.lake) or analysts.is_current(self.paths.lake, database):
                return ""
            run_module("analysts refresh", "lakehouse.analysts", self.isolated)
        except Exception as error:  # said with the tick's failure; the next publish refreshes it
            detail = error.detail if isinstance(error, StepFailed) else f"{type(error).__name__}: {error}"
            return f"the analysts' database could not be refreshed to the lake's latest versions: {detail}"
        return f"the analysts' database was refreshed to the lake's latest versions ({database})"

    def say_no_champion(self) -> None:
        if not self.said_no_champion:
            self.out(f"no champion models in {self.paths.mlflow}: scores wait for `make train`")
            self.said_no_champion = True

    def retry_backoff_s(self) -> float:
        """How long a failed tick's retry waits while nothing new lands: 2, 4, 8 ... s after as many
        consecutive failures, at most MAX_RETRY_SECONDS."""
        return min(MAX_RETRY_SECONDS, 2.0 ** min(self.failures, 12))

    def run_tick(self) -> bool:
        """A tick with its output: True unless a step failed. After a failure, a look that finds the landing
        folder as the failed tick found it runs nothing until the backoff has passed (the failures are still
        counted: a look within the backoff is no success)."""
        signature_at_start = landing_signature(self.paths.landing)
        if (
            self.failures
            and signature_at_start == self.failed_signature
            and time.monotonic() - self.last_failure_at < self.retry_backoff_s()
        ):
            return True
        try:
            report = self.tick()
        except Exception as error:  # a step's failure, or anything else: said loudly, retried, never fatal
            failed = (
                error
                if isinstance(error, StepFailed)
                else StepFailed(
                    State.load(self.state_path).step or "tick",
                    f"{type(error).__name__}: {error}",
                    "".join(traceback.format_exc().splitlines(keepends=True)[-OUTPUT_TAIL_LINES:]),
                )
            )
            self.failures += 1
            self.last_failure_at = time.monotonic()
            self.failed_signature = signature_at_start
            analysts_line = self.refresh_stale_analysts()
            rule = "!" * 78
            retry = (
                "the next `make once` (or tick of `make watch`) retries"
                if self.single_tick
                else f"the next tick retries (with nothing new landed, after {self.retry_backoff_s():g} s)"
            )
            self.out(
                f"{rule}\n{datetime.now().strftime('%H:%M:%S')} tick FAILED at {failed.step}: {failed.detail}\n"
                + (f"{analysts_line}\n" if analysts_line else "")
                + f"the landing signature is not saved: {retry}. Last lines of its output:\n"
                f"{failed.output}\n{rule}"
            )
            return False
        self.failures = 0
        self.idle = report is None
        if report is not None:
            self.out(report.line())
            for warning in report.warnings:
                self.out(f"  warning: {warning}")
            for breach in report.breaches:
                self.out(f"  {breach}")
        return True


def build_test_scope(warehouse: Path, build_started_at: str) -> dict[str, Any] | None:
    """What the scoped tests of the build started at `build_started_at` check, read right after it (before
    another build moves the watermarks), as the var `scoped_tests_earlier_builds` of a later `dbt test` that
    also stands for this build (macros/incremental/scoped_tests.sql, whose watermark rule this repeats):
    each model's watermark as the placeholders would use it (None: every row), the build's start for the
    files, and whether the registry may have changed (true unless the build digested it and found it
    unchanged: never fewer tests). None when the warehouse cannot say (no watermarks yet): not deferred."""
    import duckdb

    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            units = con.execute(
                "select model_name, cast(nullif(case when updated_at = cast(? as timestamp) "
                "then previous_processed_through else processed_through end, "
                "cast('-infinity' as timestamp)) as varchar) from silver.unit_change_watermarks",
                [build_started_at],
            ).fetchall()
            try:
                unchanged = con.execute(
                    "select updated_at = cast(? as timestamp) and previous_input_mark is not distinct from "
                    "input_mark from silver.unit_context_input_marks where input_name = 'registry'",
                    [build_started_at],
                ).fetchone()
            except duckdb.CatalogException:
                unchanged = None
    except duckdb.Error:
        return None
    return {
        "units_since": dict(units),
        "files_since": build_started_at,
        "registry_changed": not (unchanged and unchanged[0]),
    }


def merged_test_scope(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """One scope standing for both builds': per model the earlier watermark (None, every row, wins), the
    earlier build's start, the registry changed in either."""
    units = dict(first["units_since"])
    for model, since in second["units_since"].items():
        before = units.get(model, since)
        # same text format (DuckDB's timestamp as varchar): the smaller string is the earlier time
        units[model] = None if before is None or since is None else min(before, since)
    return {
        "units_since": units,
        "files_since": min(first["files_since"], second["files_since"]),
        "registry_changed": bool(first["registry_changed"] or second["registry_changed"]),
    }


def _deferred_too_long(deferred: dict[str, Any] | None) -> bool:
    """Whether warn tests deferred first at `deferred_at` have waited MAX_WARN_TESTS_DEFERRAL_S: then they
    run without waiting for a quiet moment (a steady stream of files does not put them off for ever)."""
    if not deferred:
        return False
    return _seconds_since(deferred["deferred_at"]) >= MAX_WARN_TESTS_DEFERRAL_S


def _tables(names: Sequence[str]) -> list[str]:
    """`lakehouse.publish`'s arguments for publishing `names` (none: every gold table)."""
    return ["--tables", ",".join(names)] if names else []


def sla_breaches(warehouse: Path) -> list[str]:
    """The freshness SLA breaches `lakehouse.freshness` reports after a tick (its own failure is one line:
    the tick's work is done and saved by then)."""
    try:
        from lakehouse import freshness
    except ImportError:  # a project without the freshness SLAs
        return []
    try:
        lines = list(freshness.sla_breaches(warehouse))
    except Exception as error:  # never fails the tick
        return [f"SLA check failed: {type(error).__name__}: {error}"]
    return [line if line.startswith("SLA ") else f"SLA breach: {line}" for line in lines]


# ------------------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lakehouse.watch",
        description="Watch the landing folder; when files land: incremental dbt build, publish, score, publish.",
    )
    parser.add_argument(
        "--every", type=float, default=DEFAULT_EVERY_S, metavar="SECONDS", help="seconds between ticks (10)"
    )
    parser.add_argument("--once", action="store_true", help="process what is pending, then exit (exit code 1: failed)")
    parser.add_argument("--target", help="dbt target (default: the profile's, dev)")
    parser.add_argument(
        "--max-memory",
        metavar="SIZE",
        help=f"restart in place between ticks once the resident memory passes SIZE (e.g. 4GiB, 3500MB; 0: never; "
        f"default {MAX_MEMORY_ENV} or {DEFAULT_MAX_MEMORY}; lakehouse/watch_restart.py)",
    )
    parser.add_argument(
        "--compact-lake-files",
        type=int,
        metavar="N",
        help="with the warn tests, compact each published table holding N files under half the target size or more "
        f"(default {COMPACT_LAKE_FILES_ENV} or {DEFAULT_COMPACT_LAKE_FILES}; 0: never)",
    )
    parser.add_argument(
        "--vacuum-every-hours",
        type=float,
        metavar="HOURS",
        help="with the warn tests, at most once every HOURS, vacuum the published tables, keeping the versions "
        f"registered models were trained on (default {VACUUM_EVERY_ENV} or {DEFAULT_VACUUM_EVERY_HOURS:g}; 0: never)",
    )
    parser.add_argument(
        "--vacuum-retention-hours",
        type=int,
        metavar="HOURS",
        help="the vacuum deletes files removed from a table more than HOURS ago "
        "(default: the var delta_version_retention_hours, as make optimize)",
    )
    parser.add_argument(
        "--isolated-steps",
        action="store_true",
        help="run publish and predict as child processes (`python -m ...`, as make run does) rather than "
        "in the watcher's process (default: in process, imported once: ~4 s less per tick)",
    )
    return parser


def _source(given: object, option: str, env: str) -> str:
    """Which of an option and its PDM_WATCH_* variable a setting came from, to name it in an error: the
    option when it was given (it wins), else the variable (or the default, when that is unset)."""
    return option if given is not None else env


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    compact_from = _source(args.compact_lake_files, "--compact-lake-files", COMPACT_LAKE_FILES_ENV)
    vacuum_from = _source(args.vacuum_every_hours, "--vacuum-every-hours", VACUUM_EVERY_ENV)
    memory_from = _source(args.max_memory, "--max-memory", MAX_MEMORY_ENV)
    try:
        if args.compact_lake_files is None:
            args.compact_lake_files = env_number(COMPACT_LAKE_FILES_ENV, DEFAULT_COMPACT_LAKE_FILES, int)
        if args.vacuum_every_hours is None:
            args.vacuum_every_hours = env_number(VACUUM_EVERY_ENV, DEFAULT_VACUUM_EVERY_HOURS)
    except SystemExit as not_a_number:  # exit 2, as for the options' other bad values
        print(f"watch: {not_a_number}", file=sys.stderr)
        return 2
    if args.max_memory is None:
        args.max_memory = os.environ.get(MAX_MEMORY_ENV, "").strip() or DEFAULT_MAX_MEMORY
    if not args.every > 0 or not math.isfinite(args.every):
        print("watch: --every must be a positive number of seconds", file=sys.stderr)
        return 2
    if args.compact_lake_files == 1 or args.compact_lake_files < 0:
        print(f"watch: {compact_from} must be 0 (never) or at least 2", file=sys.stderr)
        return 2
    if not math.isfinite(args.vacuum_every_hours):  # nan compared as no vacuum after the first, never refused
        print(f"watch: {vacuum_from} must be a finite number of hours (0: never)", file=sys.stderr)
        return 2
    if args.vacuum_every_hours < 0:
        print(f"watch: {vacuum_from} must be 0 or more", file=sys.stderr)
        return 2
    if args.vacuum_retention_hours is not None and args.vacuum_retention_hours < 0:
        print("watch: --vacuum-retention-hours must be 0 or more", file=sys.stderr)
        return 2
    try:
        memory = MemoryLimit.from_environment(args.max_memory)
    except ValueError as error:
        print(f"watch: {memory_from}: {error}", file=sys.stderr)
        return 2
    restart_reason = None
    os.environ.setdefault("DBT_PROFILES_DIR", str(REPO_ROOT))
    paths = Paths.from_env()
    from lakehouse.erase import refuse_if_erasure_pending
    from lakehouse.lake import LakeError

    try:  # the watcher's publish would write the units of an unfinished erasure back into the lake
        refuse_if_erasure_pending(paths.lake, "the watcher's publish")
    except LakeError as pending:
        print(f"watch: {pending}", file=sys.stderr)
        return 1
    stop = Stop()
    stop.install()
    try:
        lock = acquire_lock(paths)
    except WatcherBusyError as busy:
        print(f"watch: {busy}", file=sys.stderr)
        return 1
    except OSError as error:  # a data folder that is a file, or one that can't be written: one line
        print(f"watch: can't take the watcher's lock: {path_problem(error)}", file=sys.stderr)
        return 2
    events = None if args.once else LandingEvents(paths.landing)
    watcher = Watcher(
        paths, args.target, out=lambda text: print(text, flush=True), isolated=args.isolated_steps, events=events
    )
    watcher.defer_warn_tests = lambda: not args.once and not stop.requested
    watcher.single_tick = args.once
    watcher.warn_tests_quiet_s = args.every
    watcher.compact_lake_files = args.compact_lake_files
    watcher.vacuum_every_s = args.vacuum_every_hours * 3600
    watcher.vacuum_retention_hours = args.vacuum_retention_hours
    try:
        if args.once:
            ok = watcher.run_tick()
            if ok and watcher.idle:
                state = State.load(watcher.state_path)
                since = f"`{state.handed_over_by}`" if state.handed_over_by else "the tick"
                print(f"once: nothing new in {paths.landing} since {since} of {state.succeeded_at}", flush=True)
            return 0 if ok else 1
        assert events is not None
        print(watcher.warm_up(), flush=True)
        woken_by = "and as files land" if events.available else f"(no landing events: {events.reason})"
        print(
            f"watching {paths.landing} every {args.every:g} s {woken_by} (PID {os.getpid()}; state "
            f"{watcher.state_path}); Ctrl-C or SIGTERM stops after the current tick",
            flush=True,
        )
        while not stop.requested:
            looked_at = time.monotonic()
            if watcher.run_tick() and not stop.requested:  # between ticks, the state saved
                restart_reason = memory.restart_reason(resident_memory())
                if restart_reason:
                    break
            # a look every EVERY s, or as soon as a file lands; after a tick that took longer, at once
            wait_for_landing(stop, events, args.every - (time.monotonic() - looked_at))
        if not restart_reason:
            print(f"watch: {stop.signal_name or 'stop'} received: stopped after the current tick", flush=True)
            return 0
    finally:
        if events is not None:
            events.close()
        os.close(lock)
    if stop.requested:  # a SIGTERM or Ctrl-C since the tick: stop rather than restart
        print(f"watch: {stop.signal_name} received: stopped after the current tick", flush=True)
        return 0
    print(f"{datetime.now().strftime('%H:%M:%S')} watch: {restart_reason}", flush=True)
    restart(sys.argv[1:] if argv is None else argv)  # does not return
    return 1


if __name__ == "__main__":
    sys.exit(main())
