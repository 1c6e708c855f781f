"""The watcher (`python -m lakehouse.watch`, `make watch` / `make once`) on a tiny fleet, as a user runs it:
a real process over a real landing folder, warehouse and lake. Trigger-once ingests and publishes; an
unchanged landing folder runs no dbt; a second watcher is refused, naming the first's PID; SIGTERM during
a tick finishes the tick and exits 0; the warn-severity tests run after the tick's publish, scoped to
what its build wrote, and their warnings are printed; a watcher SIGKILLed during its dbt build is resumed
by the next `--once` to the state `make build && make publish` would leave, each landed line ingested
once; a file moved in wakes a waiting watcher at once and is read without the settle wait; the warn
tests wait for a quiet moment, then cover every build they were left out of; an MLflow store with no
champion: the marts that read scores are built by a build of their own and published; a tick compacts
the tables its publishes left with many small files; an error-severity test failing stops the tick
before anything is published; a data folder that is a file is named in one line; a vacuum interval
of nan or inf is refused.

With champions in the MLflow store (scoring, the analysts' refresh after the last publish, the vacuum):
test_lakehouse_watch_scores.py, which shares this file's helpers."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Environment

from lakehouse import analysts
from lakehouse.lake import connect, delta_scan_sql, mart_path
from lakehouse.publish import history, publish, published_tables
from lakehouse.watch import LOCK_FILE, MLFLOW_STORE, SCORE_FED_MARTS, STATE_FILE, STATE_SUBDIR, State
from ml.config import REPO_ROOT, data_environment
from ml.simulate import FleetSpec, encode_cmapss, simulate_fleet
from tests.python.forked_runs import run_command

pytestmark = pytest.mark.dbt

FLEET = FleetSpec(dataset="FD101", train_units=3, test_units=2, conditions=1, fault_modes=1, seed=41)
TICK_LINE = re.compile(r"^\d\d:\d\d:\d\d tick: ")
TICK_TIMEOUT_S = 240
# The one mart whose rows record the Delta commit times of earlier publishes (visible-in-gold times).
RECORDS_PUBLISH_TIMES = "mart_pipeline_freshness"


def watch_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "lakehouse.watch", "--target", "ci", *args]


def once(env: Environment, variables: dict[str, str] | None = None, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m lakehouse.watch --once` (in a forked process, tests/python/forked_runs.py); `variables` set on
    top of the environment's."""
    environment = {**env.env, **(variables or {})}
    return run_command(watch_command("--once", *args), environment, REPO_ROOT, timeout=TICK_TIMEOUT_S)


STARTED: list[subprocess.Popen[str]] = []  # the watchers `start` made, stopped after each test


def start(
    env: Environment, every: str = "0.2", log: Path | None = None, variables: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """A watcher; its stdout piped, or with `log` written to that file (readable while it runs); `variables`
    set on top of the environment's."""
    watcher = subprocess.Popen(
        watch_command("--every", every),
        cwd=REPO_ROOT,
        env={**env.env, **(variables or {})},
        stdout=subprocess.PIPE if log is None else log.open("w"),
        stderr=subprocess.PIPE,
        text=True,
    )
    STARTED.append(watcher)
    return watcher


@pytest.fixture(autouse=True)
def no_watcher_left_running() -> Iterator[None]:
    """A test that fails while its watcher runs leaves it holding the shared data folder's watch lock: each
    later test of the module then failed as 'another watcher ... is watching'. Killed, it fails alone."""
    yield
    while STARTED:
        watcher = STARTED.pop()
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate(timeout=60)


def state(env: Environment) -> dict:
    try:
        return json.loads((env.paths.data_dir / STATE_SUBDIR / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def wait_for(condition, what: str, timeout: float = TICK_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def deliver(
    env: Environment, number: int, cycle_gap: bool = False, garbage_lines: int = 0, fresh: bool = False
) -> Path:
    """A test file of two new FD101 units, written aside and moved into the landing folder whole; with
    `cycle_gap`, its first unit's cycle 3 left out (the warn test warn_unit_cycle_gaps_and_disorder fires);
    with `garbage_lines`, that many lines that are not readings added (quarantined); `fresh`: dated now,
    within the settle interval (else dated past it)."""
    readings = simulate_fleet(FleetSpec(dataset="FD101", train_units=1, test_units=2, seed=100 + number)).test
    readings["unit_number"] += 10 * number
    if cycle_gap:
        first = readings["unit_number"].min()
        readings = readings[~((readings["unit_number"] == first) & (readings["cycle"] == 3))]
    staged = env.paths.data_dir / f"test_FD101_delivery-{number:03d}.txt"
    staged.write_bytes(encode_cmapss(readings) + b"not a reading\n" * garbage_lines)
    if not fresh:
        settled(staged)
    return Path(shutil.move(staged, env.paths.landing / staged.name))


def settled(path: Path) -> None:
    """Dated past the landing settle interval (3 s), so the build's listing does not wait it out."""
    stamp = time.time() - 5
    os.utime(path, (stamp, stamp))


def lines_of(path: Path) -> int:
    return len(path.read_bytes().splitlines())


def published_units(env: Environment, table: str = "dim_units") -> set[str]:
    with connect() as con:
        rows = con.execute(f"select distinct unit_id from {delta_scan_sql(mart_path(env.paths.lake, table))}")
        return {row[0] for row in rows.fetchall()}


def unit_ids(path: Path) -> set[str]:
    numbers = {int(line.split()[0]) for line in path.read_text().splitlines() if line[:1].isdigit()}
    return {f"FD101-test-{number:03d}" for number in numbers}


def warn_tests(env: Environment) -> set[str]:
    """The project's warn-severity data tests (the build's manifest)."""
    nodes = json.loads((env.paths.data_dir / "dbt_target" / "manifest.json").read_text())["nodes"]
    return {
        n["name"] for n in nodes.values() if n["resource_type"] == "test" and n["config"]["severity"].lower() == "warn"
    }


def run_results(env: Environment, folder: str = "") -> dict[str, str]:
    """Model or test name -> status in a run_results.json under the environment's dbt target folder."""
    results = json.loads((env.paths.data_dir / "dbt_target" / folder / "run_results.json").read_text())["results"]
    return {
        r["unique_id"].split(".")[2]: r["status"] for r in results if r["unique_id"].split(".")[0] in ("model", "test")
    }


def dbt_traces(env: Environment) -> tuple[int, int]:
    """dbt.log's size and run_results.json's modification time: both move whenever dbt runs."""
    log = env.paths.data_dir / "dbt_logs" / "dbt.log"
    results = env.paths.data_dir / "dbt_target" / "run_results.json"
    assert log.exists() and results.exists()
    return log.stat().st_size, results.stat().st_mtime_ns


def watching(log: Path) -> None:
    """Wait for a watcher started with `log` to be past its warm-up (dbt parse, imports) and its first look."""
    wait_for(lambda: "watching " in log.read_text(), "the watcher's warm-up")
    time.sleep(1.0)


@pytest.fixture(scope="module")
def watched(module_environment: Environment) -> tuple[Environment, subprocess.CompletedProcess[str]]:
    """A tiny fleet landed and taken through by one `--once` (the first tick: a full parse and the seeds;
    the suite's environments leave the dbt unit tests out)."""
    module_environment.land(FLEET)
    for path in module_environment.paths.landing.rglob("*.*"):
        settled(path)
    return module_environment, once(module_environment)


def test_once_ingests_what_landed_and_publishes_it(watched) -> None:
    env, first = watched
    assert first.returncode == 0, first.stdout + first.stderr
    ticks = [line for line in first.stdout.splitlines() if TICK_LINE.match(line)]
    assert len(ticks) == 1, first.stdout
    data_files = [p for p in env.paths.landing.iterdir() if p.is_file()]
    assert f"files {len(data_files) + 1} new" in ticks[0]  # + the registry extract
    assert f"{sum(lines_of(p) for p in data_files):,} lines ingested" in ticks[0]
    tables = published_tables(env.paths.lake)
    assert f"{len(tables)} Delta versions" in ticks[0] and "fct_unit_cycle_features v0" in ticks[0]
    assert "no champion models" in first.stdout  # said once: scores wait for `make train`
    assert "; after the latency: warn tests " in ticks[0]
    # a first tick on a folder nothing had built: its latency starts at the newest file its build took in
    assert re.search(r"; latency [0-9.]+ s to gold \[", ticks[0]), ticks[0]
    assert "compaction" not in ticks[0] and not state(env)["compaction_pending"]  # its builds vacuumed
    built = {row[0] for row in env.query("select unit_id from gold.dim_units")}
    assert built and published_units(env) == built
    saved = state(env)
    assert not saved["in_progress"] and sorted(saved["signature"]) == sorted(
        str(p.relative_to(env.paths.landing)) for p in env.paths.landing.rglob("*")
    )


def test_an_unchanged_landing_folder_runs_no_dbt(watched) -> None:
    env, _ = watched
    traces, versions = dbt_traces(env), len(history(env.paths.lake))
    started = time.monotonic()
    done = once(env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("once: nothing new in ") and not TICK_LINE.search(done.stdout)
    assert dbt_traces(env) == traces and len(history(env.paths.lake)) == versions
    assert time.monotonic() - started < 10


def test_a_second_watcher_is_refused_naming_the_first_pid_and_sigterm_while_idle_exits_at_once(watched) -> None:
    env, _ = watched
    log = env.paths.data_dir / "first_watcher.log"
    first = start(env, log=log)
    lock = env.paths.data_dir / STATE_SUBDIR / LOCK_FILE
    wait_for(lambda: lock.exists() and f'"pid": {first.pid}' in lock.read_text(), "the first watcher's lock")
    second = once(env)
    assert second.returncode == 1
    assert f"PID {first.pid}" in second.stderr and str(lock) in second.stderr
    watching(log)
    traces = dbt_traces(env)
    time.sleep(1.0)  # several ticks over an unchanged landing folder
    first.send_signal(signal.SIGTERM)
    _, err = first.communicate(timeout=5)
    out = log.read_text()
    assert first.returncode == 0, err
    assert not TICK_LINE.search(out) and "SIGTERM received" in out and "warmed up in " in out
    assert dbt_traces(env) == traces  # no dbt invocation on an unchanged landing folder (after the warm-up)


def test_sigterm_during_a_tick_finishes_the_tick_then_exits_0(watched) -> None:
    """... and the tick's warn tests run after its publish: on the rows its build wrote (the delivered
    file's cycle gap), reported as warnings; the build itself ran the error-severity tests only."""
    env, _ = watched
    delivered = deliver(env, 1, cycle_gap=True)
    watcher = start(env, every="60")
    wait_for(lambda: state(env).get("step") == "dbt build", "the tick's dbt build")
    watcher.send_signal(signal.SIGTERM)
    out, err = watcher.communicate(timeout=TICK_TIMEOUT_S)
    assert watcher.returncode == 0, out + err
    ticks = [line for line in out.splitlines() if TICK_LINE.match(line)]
    assert len(ticks) == 1 and "files 1 new" in ticks[0], out
    assert f"{lines_of(delivered):,} lines ingested" in ticks[0] and "; latency " in ticks[0]
    assert out.rstrip().endswith("SIGTERM received: stopped after the current tick")
    assert unit_ids(delivered) <= published_units(env)
    saved = state(env)
    assert not saved["in_progress"] and delivered.name in saved["signature"]
    # the warn tests: not in the build, run after the publish, the one the gap fires reported
    warn, built, tested = warn_tests(env), run_results(env), run_results(env, "warn_tests")
    assert warn and not warn & set(built) and "files_quarantined_share_below_error_limit" in built
    assert set(tested) <= warn and tested["warn_unit_cycle_gaps_and_disorder"] == "warn"
    assert "warning: test warn_unit_cycle_gaps_and_disorder warned: " in out
    assert ticks[0].index("publish ") < ticks[0].index("after the latency: warn tests ")


def test_a_watcher_killed_during_its_build_is_resumed_by_the_next_once(watched) -> None:
    env, _ = watched
    delivered = deliver(env, 2)
    log_size = dbt_traces(env)[0]
    watcher = start(env, every="60")
    wait_for(lambda: state(env).get("step") == "dbt build", "the tick's dbt build")
    # killed once dbt has started running nodes
    log = env.paths.data_dir / "dbt_logs" / "dbt.log"
    wait_for(lambda: " START " in log.read_text(errors="replace")[log_size:], "dbt running nodes")
    watcher.send_signal(signal.SIGKILL)
    watcher.communicate(timeout=10)
    assert state(env)["in_progress"] and state(env)["step"] == "dbt build"

    resumed = once(env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "files 1 new" in resumed.stdout and unit_ids(delivered) <= published_units(env)
    assert not state(env)["in_progress"]
    # exactly-once ingestion: every landed line is in bronze once
    per_file = dict(env.query("select source_file, count(*) from bronze.base_cmapss__landed_lines group by 1"))
    data_files = [p for p in env.paths.landing.iterdir() if p.is_file()]
    assert per_file == {str(p): lines_of(p) for p in data_files}
    # no Delta commit repeated: consecutive versions of a table never carry the same content
    by_table: dict[str, list[str | None]] = {}
    for entry in history(env.paths.lake):
        by_table.setdefault(entry.table, []).append(entry.fingerprint)
    for table, fingerprints in by_table.items():
        assert all(a != b for a, b in itertools.pairwise(fingerprints)), table
    # the state `make build && make publish` leaves: building and publishing again changes nothing (but
    # the freshness mart, which learns when the tick's publish made gold visible from the next build)
    env.build()
    changed = {r.name for r in publish(env.paths.warehouse, env.paths.lake) if r.changed}
    assert changed <= {RECORDS_PUBLISH_TIMES}, changed


def test_a_file_moved_in_wakes_the_watcher_at_once_and_is_read_without_the_settle_wait(watched) -> None:
    """The kernel's landing event starts the tick (a look every 600 s could not have), and the build is
    told the file is whole (var landing_settled_files), so bronze reads it without waiting 3 s."""
    env, _ = watched
    log = env.paths.data_dir / "event_watcher.log"
    watcher = start(env, every="600", log=log)
    watching(log)  # past its first look (nothing pending): it waits for the next look or an event
    delivered = deliver(env, 4, fresh=True)
    landed_at = time.monotonic()
    wait_for(
        lambda: delivered.name in state(env).get("signature", {}) and not state(env).get("in_progress"),
        "the tick the landing event started",
    )
    took = time.monotonic() - landed_at
    watcher.send_signal(signal.SIGTERM)
    _, err = watcher.communicate(timeout=TICK_TIMEOUT_S)
    out = log.read_text()
    assert watcher.returncode == 0, out + err
    assert "every 600 s and as files land" in out and took < 300
    ticks = [line for line in out.splitlines() if TICK_LINE.match(line)]
    assert len(ticks) == 1 and "files 1 new" in ticks[0] and "held back" not in out, out
    status = delivered.stat()
    build_args = json.loads((env.paths.data_dir / "dbt_target" / "run_results.json").read_text())["args"]
    assert build_args["vars"]["landing_settled_files"] == {delivered.name: [status.st_size, status.st_mtime_ns]}
    assert unit_ids(delivered) <= published_units(env)


def test_past_its_memory_limit_the_watcher_restarts_in_place_and_goes_on(watched) -> None:
    """`--max-memory` below what any watcher holds: after the tick that took a file, the watcher says so and
    re-executes itself (the same PID, a fresh heap); the new process warms up, goes on from the state file,
    takes the next file, and does not restart again within MIN_SECONDS_BETWEEN_RESTARTS."""
    env, _ = watched
    log = env.paths.data_dir / "restart_watcher.log"
    first = deliver(env, 11)
    watcher = subprocess.Popen(
        watch_command("--every", "0.2", "--max-memory", "1MB"),
        cwd=REPO_ROOT,
        env=env.env,
        stdout=log.open("w"),
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: log.read_text().count("watching ") == 2, "the restarted watcher's warm-up")
    second = deliver(env, 12)
    wait_for(
        lambda: second.name in state(env).get("signature", {}) and not state(env).get("in_progress"),
        "the restarted watcher's tick",
    )
    time.sleep(1.0)  # looks with nothing new, past the limit: no second restart so soon
    lock = json.loads((env.paths.data_dir / STATE_SUBDIR / LOCK_FILE).read_text())
    watcher.send_signal(signal.SIGTERM)
    _, err = watcher.communicate(timeout=TICK_TIMEOUT_S)
    out = log.read_text()
    assert watcher.returncode == 0, out + err
    lines = out.splitlines()
    restarts = [i for i, line in enumerate(lines) if "restarting in place" in line]
    assert len(restarts) == 1 and "is over --max-memory 1 MiB (PDM_WATCH_MAX_MEMORY)" in lines[restarts[0]], out
    ticks = [i for i, line in enumerate(lines) if TICK_LINE.match(line)]
    assert len(ticks) == 2 and ticks[0] < restarts[0] < ticks[1], out
    assert "files 1 new" in lines[ticks[0]] and "files 1 new" in lines[ticks[1]]
    assert out.count(f"(PID {watcher.pid};") == 2 and lock["pid"] == watcher.pid  # exec: the same process
    assert unit_ids(first) | unit_ids(second) <= published_units(env)


def test_warn_tests_wait_for_a_quiet_moment_then_cover_every_build_they_were_left_out_of(watched) -> None:
    """Under `watch`, a tick's warn tests wait for a quiet moment: a second file landing during the first
    file's tick is built at once, both ticks defer them, and the first look with nothing new EVERY
    seconds after the second tick runs them on their own, scoped to both builds (the first file's cycle
    gap warns there), then clears them. The compaction those builds skipped (they ran without DuckDB's
    vacuum) waits with them and runs after them, and so does the lake's compaction (here of the tables
    with 2 small files or more). Deferred tests, or a compaction, that a look with nothing new finds in
    the state run on their own too."""
    env, _ = watched
    first = deliver(env, 5, cycle_gap=True)
    log = env.paths.data_dir / "watch_quiet.log"
    watcher = start(env, every="3", log=log, variables={"PDM_WATCH_COMPACT_LAKE_FILES": "2"})
    wait_for(lambda: state(env).get("step") == "dbt build", "the first file's dbt build")
    second = deliver(env, 6)
    wait_for(
        lambda: second.name in state(env).get("signature", {}) and not state(env).get("in_progress"),
        "the second file's tick",
        timeout=2 * TICK_TIMEOUT_S,
    )
    assert state(env)["warn_tests"] is not None and state(env)["compaction_pending"]  # waiting
    wait_for(
        lambda: state(env).get("warn_tests", 1) is None and not state(env).get("compaction_pending", True),
        "the deferred warn tests and compaction",
    )
    watcher.send_signal(signal.SIGTERM)
    _, err = watcher.communicate(timeout=TICK_TIMEOUT_S)
    out = log.read_text()
    assert watcher.returncode == 0, out + err
    ticks = [line for line in out.splitlines() if TICK_LINE.match(line)]
    assert len(ticks) == 2, out
    assert all(
        t.endswith("warn tests and compaction deferred to a quiet moment]") and "after the latency" not in t
        for t in ticks
    )
    quiet = " warn tests, compaction and lake compaction of the builds since "
    [quiet_line] = [line for line in out.splitlines() if quiet in line]
    timed = r"\(deferred to a quiet moment\): warn tests [0-9.]+ s, compaction [0-9.]+ s, lake compaction [0-9.]+ s; "
    assert re.search(timed + r"(\w+ v\d+ \(compacted, \d+ -> \d+ files\)(, |$))+", quiet_line), quiet_line
    for table in re.findall(r"(\w+) v\d+ \(compacted", quiet_line):
        assert history(env.paths.lake, table)[-1].operation == "OPTIMIZE"
    compaction = json.loads((env.paths.data_dir / "dbt_target" / "compaction" / "run_results.json").read_text())
    assert compaction["args"]["macro"] == "compact_tables", compaction["args"]
    gap_warning = "warning: test warn_unit_cycle_gaps_and_disorder warned: "
    assert gap_warning in out and out.index(gap_warning) > out.index(quiet_line), out
    assert unit_ids(first) | unit_ids(second) <= published_units(env)

    # deferred tests in the state, nothing new landed: a look runs them alone, with their scope
    saved = json.loads((env.paths.data_dir / STATE_SUBDIR / STATE_FILE).read_text())
    since = "2000-01-01 00:00:00"
    saved["warn_tests"] = {
        "select": ["source:cmapss.sensor_files+,config.severity:warn"],
        "scope": {
            "units_since": {"int_sensor_readings_deduplicated": since},
            "files_since": since,
            "registry_changed": False,
        },
        "latest_build": since,
        "deferred_at": "2000-01-01T00:00:00.000000Z",
    }
    (env.paths.data_dir / STATE_SUBDIR / STATE_FILE).write_text(json.dumps(saved))
    traces = dbt_traces(env)
    alone = once(env)
    assert alone.returncode == 0, alone.stdout + alone.stderr
    assert f"warn tests of the builds since {since} (deferred to a quiet moment)" in alone.stdout
    assert gap_warning in alone.stdout
    assert not TICK_LINE.search(alone.stdout) and dbt_traces(env)[1] == traces[1]  # no build ran
    assert state(env)["warn_tests"] is None and not state(env)["in_progress"]

    # a compaction left pending (a watcher stopped before its quiet moment): the next look runs it alone
    saved = json.loads((env.paths.data_dir / STATE_SUBDIR / STATE_FILE).read_text())
    saved["compaction_pending"] = True
    (env.paths.data_dir / STATE_SUBDIR / STATE_FILE).write_text(json.dumps(saved))
    alone = once(env)
    assert alone.returncode == 0, alone.stdout + alone.stderr
    assert re.search(r" compaction \(deferred to a quiet moment\): compaction [0-9.]+ s\n", alone.stdout), alone.stdout
    assert not TICK_LINE.search(alone.stdout) and dbt_traces(env)[1] == traces[1]
    assert not state(env)["compaction_pending"] and not state(env)["in_progress"]


def test_a_store_without_champions_builds_the_marts_that_read_scores_on_their_own(watched) -> None:
    """An MLflow store with no champion: nothing is scored, and a build of their own makes the marts the
    main build left out, then publishes them: the new units reach mart_fleet_health unscored."""
    env, _ = watched
    import mlflow

    mlflow.MlflowClient(tracking_uri=f"sqlite:///{env.paths.mlflow / MLFLOW_STORE}").search_experiments()
    delivered = deliver(env, 8)
    ticked = once(env)
    assert ticked.returncode == 0, ticked.stdout + ticked.stderr
    [tick] = [line for line in ticked.stdout.splitlines() if TICK_LINE.match(line)]
    assert "no champion: not scored" in tick and "marts build" in tick and "publish marts" in tick, tick
    built, marts = run_results(env), run_results(env, "scores")
    assert not set(SCORE_FED_MARTS) & set(built)
    assert all(marts[mart] == "success" for mart in SCORE_FED_MARTS)
    assert unit_ids(delivered) <= published_units(env, "mart_fleet_health")


def test_a_tick_compacts_the_tables_its_publishes_left_with_enough_small_files(watched) -> None:
    """`PDM_WATCH_COMPACT_LAKE_FILES` (here 2): after the tick's warn tests, every published table with that
    many files under half the target size is compacted, one OPTIMIZE version with the same rows, and the
    analysts' database pins it; a look with nothing new compacts nothing more."""
    env, _ = watched
    deliver(env, 10)
    compacting = {"PDM_WATCH_COMPACT_LAKE_FILES": "2"}
    ticked = once(env, compacting)
    assert ticked.returncode == 0, ticked.stdout + ticked.stderr
    [tick] = [line for line in ticked.stdout.splitlines() if TICK_LINE.match(line)]
    assert re.search(r"after the latency: warn tests [0-9.]+ s, lake compaction [0-9.]+ s", tick), tick
    compacted = re.findall(r"(\w+) v(\d+) \(compacted, (\d+) -> (\d+) files\)", tick)
    assert compacted, tick
    for table, version, before, after in compacted:
        assert int(after) < int(before), tick
        entries = history(env.paths.lake, table)
        assert entries[-1].version == int(version) and entries[-1].operation == "OPTIMIZE"
        assert entries[-1].fingerprint == entries[-2].fingerprint  # the content the tick's publish committed
        with connect() as con:
            path = mart_path(env.paths.lake, table)
            new, old = (
                con.execute(f"select * from {delta_scan_sql(path, v)} order by all").fetchall()
                for v in (int(version), int(version) - 1)
            )
            assert new == old, table
    assert analysts.is_current(env.paths.lake, analysts.default_database(env.paths.lake))
    assert not state(env)["in_progress"]

    again = once(env, compacting)
    assert again.returncode == 0 and again.stdout.startswith("once: nothing new in "), again.stdout + again.stderr
    assert [history(env.paths.lake, table)[-1].version for table, *_ in compacted] == [
        int(version) for _, version, *_ in compacted
    ]
    refused = subprocess.run(
        watch_command("--once", "--compact-lake-files", "1"), cwd=REPO_ROOT, env=env.env, capture_output=True, text=True
    )
    assert refused.returncode == 2 and "--compact-lake-files must be 0 (never) or at least 2" in refused.stderr
    garbled = {**env.env, "PDM_WATCH_COMPACT_LAKE_FILES": "many"}
    refused = subprocess.run(watch_command("--once"), cwd=REPO_ROOT, env=garbled, capture_output=True, text=True)
    assert refused.returncode == 2 and "PDM_WATCH_COMPACT_LAKE_FILES='many' is not a whole number" in refused.stderr
    negative = watch_command("--once", "--vacuum-every-hours", "-1")
    refused = subprocess.run(negative, cwd=REPO_ROOT, env=env.env, capture_output=True, text=True)
    assert refused.returncode == 2 and "--vacuum-every-hours must be 0 or more" in refused.stderr


def test_a_data_folder_that_is_a_file_is_named_in_one_line_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a folder\n")
    env = {**os.environ, **data_environment(tmp_path / "data")}
    refused = subprocess.run(watch_command("--once"), cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr
    assert f"can't use {tmp_path / 'data' / 'watch'}: a file is where a folder goes" in refused.stderr


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("[]", "it holds a JSON list, not an object"),
        ("3", "it holds a JSON int, not an object"),
        ('"state"', "it holds a JSON str, not an object"),
        ('{"version": 1', "it is not JSON (Expecting"),
    ],
)
def test_a_state_file_that_is_no_json_object_is_named_and_ignored_not_a_traceback(
    tmp_path: Path, capsys, text: str, why: str
) -> None:
    """A state file holding valid JSON that is no object (`[]`, `3`) stopped the watcher with an AttributeError
    traceback; like a damaged one, it is ignored as no state (the next tick takes in everything pending), now
    saying so, naming the file."""
    path = tmp_path / STATE_SUBDIR / STATE_FILE
    path.parent.mkdir()
    path.write_text(text)
    assert State.load(path) == State()
    err = capsys.readouterr().err
    assert f"watch: the state file {path} is damaged ({why}" in err
    assert "ignored, so the next tick takes in everything pending" in err
    assert State.load(tmp_path / "none.json") == State() and capsys.readouterr().err == ""  # no file: a first start


@pytest.mark.parametrize("hours", ["nan", "inf"])
def test_a_vacuum_interval_that_is_no_finite_number_is_refused_as_its_variable_is(tmp_path: Path, hours: str) -> None:
    # PDM_WATCH_VACUUM_EVERY_HOURS=nan was refused, --vacuum-every-hours nan ran a watcher that vacuumed
    # once and never again
    env = {**os.environ, **data_environment(tmp_path)}  # refused or not, nothing written outside tmp_path
    for command, variables in (
        (watch_command("--once", "--vacuum-every-hours", hours), {}),
        (watch_command("--once"), {"PDM_WATCH_VACUUM_EVERY_HOURS": hours}),
    ):
        refused = subprocess.run(command, cwd=REPO_ROOT, env={**env, **variables}, capture_output=True, text=True)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "VACUUM_EVERY_HOURS" in refused.stderr or "--vacuum-every-hours must be a finite" in refused.stderr
    assert not (tmp_path / "watch").exists()  # refused before anything was taken


def test_an_error_test_failing_stops_the_tick_before_the_publish(watched) -> None:
    """A file with more than quarantined_share_error (25 %) of its lines quarantined fails an error-severity
    test: the tick fails at its build, nothing is published, no warn test runs, the state is not saved.
    Last in this module: the file stays in the landing folder."""
    env, _ = watched
    versions, tested = len(history(env.paths.lake)), run_results(env, "warn_tests")
    warn_results = env.paths.data_dir / "dbt_target" / "warn_tests" / "run_results.json"
    warn_mtime = warn_results.stat().st_mtime_ns
    delivered = deliver(env, 3, garbage_lines=200)
    failed = once(env)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "tick FAILED at dbt build" in failed.stdout and "files_quarantined_share_below_error_limit" in failed.stdout
    assert "not saved: the next `make once` (or tick of `make watch`) retries." in failed.stdout  # no backoff
    assert len(history(env.paths.lake)) == versions and not unit_ids(delivered) & published_units(env)
    assert warn_results.stat().st_mtime_ns == warn_mtime and run_results(env, "warn_tests") == tested
    assert delivered.name not in state(env)["signature"]
