"""The latency benchmark: how long a landed file takes to reach gold WITH its scores while the watcher runs.

    python -m benchmarks.latency --history 2M --files 20 --every 2 [--workdir PATH] [--keep]
    make benchmark-latency HISTORY=2M FILES=20 EVERY=2

In a work folder of its own (the ``PDM_*`` / ``DBT_*`` variables point every step there) it:

1. lands a history of about ``--history`` readings with ``ml.simulate`` (the scale benchmark's fleet
   plan: datasets FD000, FD001, ... of up to 1,200 units), dated as settled, and one delivery (as in 4)
   per dataset: the fleet in service. The first test units landed after a dataset's RUL file make its
   RUL mapping untrusted (int_rul_truth_mapped: one line per test unit), which changes the labels
   of every test unit of the dataset, a dataset-wide rebuild; from the second delivery on, a delivery
   changes only its own units' rows, which is what the measured files are;
2. takes it through once: ``python -m lakehouse.watch --once`` (build, publish), ``python -m ml.train
   --fast``, ``python -m ml.predict``, the score feed-back build and a publish (each timed);
3. starts ``python -m lakehouse.watch --every EVERY --target ci`` as a subprocess (its output in
   ``step_logs/watch.log``) and waits until it is idle (``wait_until_idle``: its first look takes in
   the set-up's scores);
4. lands ``--files`` files one by one, each a test file of ~10 k readings for ~77 new units of one
   dataset (``test_FD00n_delivery-NNN.txt``), written aside and moved into the landing folder whole
   (its modification time is the write, not back-dated: the landing settle interval applies as it
   would to a real delivery). After each it polls the published Delta table ``gold.mart_fleet_health``
   (latest version, through DuckDB's delta extension) until every unit of the file is there
   (``visible in gold``) and then scored at its latest cycle (``scored_cycle = latest_cycle``: visible
   with its scores), and only then lands the next (the watcher may still be running the tick's steps
   after the latency, its warn tests and checkpoint: the next file waits for them, in its latency);
5. stops the watcher with SIGTERM (it must exit 0).

Latency is wall clock from the moment the file was moved in to the poll that saw it. Reported: p50 /
p95 / max over the files (nearest rank) for both, the watcher's own per-step times for the ticks
that did work (median and max, parsed from its tick lines), the setup steps, and the machine's load
average (a busy machine makes the figures noisy, and the output says so). JSON to
``data/benchmarks/latency.json`` (``--output``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.reporting import git_state, line_count, log, noisy_machine_warning
from benchmarks.scale import (
    DELIVERY_UNITS,
    MAX_UNIT_NUMBER,
    PYTHON,
    Workspace,
    fleet_plan,
    machine,
    parse_size,
    settle,
    size_label,
)
from ml.config import REPO_ROOT
from ml.simulate import FleetSpec, encode_cmapss, simulate_fleet

DEFAULT_OUTPUT = REPO_ROOT / "data" / "benchmarks" / "latency.json"
GOAL_P95_SECONDS = 10.0  # issue 9 item 3
POLL_SECONDS = 0.2
FILE_TIMEOUT_SECONDS = 900.0
WATCH = (PYTHON, "-m", "lakehouse.watch", "--target", "ci")
TICK_STEPS = re.compile(r"\[(?P<steps>[^\]]*)\]\s*$")
STEP = re.compile(r"(?P<name>[a-z ]+?) (?P<seconds>\d+(?:\.\d+)?) s")
AFTER_THE_LATENCY = "; after the latency: "  # lakehouse.watch.TickReport.line: the steps off the latency path


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (p95 of 20 values is the 19th smallest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


class Deliveries:
    """Test files of ~10 k readings for new units, numbered after each dataset's own test units, the
    datasets taken in turn (unit numbers stay <= 999: unit_id keeps three digits)."""

    def __init__(self, workspace: Workspace, specs: list[FleetSpec], landed_before: int = 0) -> None:
        self.workspace = workspace
        self.specs = specs
        self.next_unit = {spec.dataset: spec.test_units + 1 for spec in specs}
        self.count = 0
        for _ in range(landed_before):  # numbered after the deliveries the setup landed
            self.next_unit[self.specs[self.count % len(self.specs)].dataset] += DELIVERY_UNITS
            self.count += 1

    def land(self) -> tuple[Path, dict[str, int]]:
        """Move one delivery into the landing folder; returns it and its units' latest cycles by unit_id."""
        spec = self.specs[self.count % len(self.specs)]
        self.count += 1
        first = self.next_unit[spec.dataset]
        if first + DELIVERY_UNITS - 1 > MAX_UNIT_NUMBER:
            raise SystemExit(
                f"delivery {self.count}: {spec.dataset}'s unit numbers would pass {MAX_UNIT_NUMBER}; "
                "land fewer --files or a larger --history (more datasets)"
            )
        self.next_unit[spec.dataset] = first + DELIVERY_UNITS
        readings = simulate_fleet(
            FleetSpec(
                dataset=spec.dataset,
                train_units=1,
                test_units=DELIVERY_UNITS,
                conditions=spec.conditions,
                fault_modes=spec.fault_modes,
                seed=5000 + self.count,
            )
        ).test
        readings["unit_number"] += first - 1
        latest = readings.groupby("unit_number")["cycle"].max()
        units = {f"{spec.dataset}-test-{int(n):03d}": int(c) for n, c in latest.items()}
        name = f"test_{spec.dataset}_delivery-{self.count:03d}.txt"
        staged = self.workspace.scratch / name
        staged.write_bytes(encode_cmapss(readings))
        return Path(shutil.move(staged, self.workspace.landing / name)), units


def poll_visible(lake: Path, units: dict[str, int], landed_at: float, watcher: subprocess.Popen) -> dict:
    """Poll the latest Delta versions until the units are in gold.fct_unit_cycle_features at their latest
    cycle (visible in gold: the hop `mart_pipeline_freshness.visible_in_gold_at` records), then in
    gold.mart_fleet_health scored at that cycle; the seconds from `landed_at` to each. Every POLL_SECONDS
    the two tables' `_delta_log` folders are listed, and queried only when one holds a new commit (the
    poller stays off the watcher's CPU)."""
    import duckdb

    from lakehouse.lake import connect, delta_scan_sql, mart_path

    features, health = mart_path(lake, "fct_unit_cycle_features"), mart_path(lake, "mart_fleet_health")
    expected = ", ".join(f"('{unit}', {cycle})" for unit, cycle in units.items())
    in_list = ", ".join(f"'{unit}'" for unit in units)
    sql = f"""
        with expected(unit_id, cycle) as (values {expected})
        select
            (select count(*) from expected as e join (
                select unit_id, cycle from {delta_scan_sql(features)} where unit_id in ({in_list})
            ) as f on f.unit_id = e.unit_id and f.cycle = e.cycle),
            (select count(*) from expected as e join {delta_scan_sql(health)} as h
                on h.unit_id = e.unit_id and h.latest_cycle = e.cycle and h.scored_cycle = e.cycle)
    """
    seen: dict = {"gold_seconds": None, "scored_seconds": None}
    logs = (features / "_delta_log", health / "_delta_log")
    looked_at: set[str] | None = None
    with connect() as con:
        while time.time() - landed_at < FILE_TIMEOUT_SECONDS:
            if watcher.poll() is not None:
                raise SystemExit(f"the watcher exited ({watcher.returncode}) before the file was visible")
            commits = {f"{log.parent.name}/{name}" for log in logs if log.is_dir() for name in os.listdir(log)}
            if commits == looked_at:  # no new version since the last query: only the folders are listed
                time.sleep(POLL_SECONDS)
                continue
            try:
                present, scored = con.execute(sql).fetchone()
                looked_at = commits
            except duckdb.Error:  # not published yet: poll again
                present, scored = 0, 0
            now = time.time()
            if present == len(units) and seen["gold_seconds"] is None:
                seen["gold_seconds"] = now - landed_at
            if scored == len(units):
                seen["scored_seconds"] = now - landed_at
                if seen["gold_seconds"] is None:  # both in the same look
                    seen["gold_seconds"] = seen["scored_seconds"]
                return seen
            time.sleep(POLL_SECONDS)
    raise SystemExit(f"not visible with scores after {FILE_TIMEOUT_SECONDS:.0f} s")


def wait_until_idle(workspace: Workspace, watch_log: Path, watcher: subprocess.Popen, every: float) -> None:
    """Past the watcher's warm-up (dbt parse, imports: it prints `watching ...` then) and its first looks:
    the first takes in the scores the set-up's scoring wrote after its `--once` (a tick of the
    predictions' sources alone), then the warn tests that tick deferred run at a quiet moment. Idle: no
    tick in progress (the state file) and nothing printed for max(2 EVERY, 3) s."""
    from lakehouse.watch import STATE_FILE, STATE_SUBDIR, State

    state, quiet = workspace.root / STATE_SUBDIR / STATE_FILE, max(2 * every, 3.0)
    deadline = time.monotonic() + FILE_TIMEOUT_SECONDS
    printed, printed_at = "", time.monotonic()
    while True:
        if watcher.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the watcher did not start watching, or never went idle: see {watch_log}")
        output = watch_log.read_text(errors="replace")
        if output != printed:
            printed, printed_at = output, time.monotonic()
        busy = State.load(state).in_progress
        if "watching " in output and not busy and time.monotonic() - printed_at >= quiet:
            return
        time.sleep(POLL_SECONDS)


def tick_steps(watch_log: Path) -> list[dict[str, float]]:
    """The per-step seconds of every tick line the watcher printed; the steps it ran after taking the
    latency (`; after the latency: warn tests …, checkpoint …`) named `after: <step>`."""
    ticks = []
    for line in watch_log.read_text(errors="replace").splitlines():
        if " tick: " in line and (match := TICK_STEPS.search(line)):
            on_path, _, after = match["steps"].partition(AFTER_THE_LATENCY)
            tick = {m["name"].strip(): float(m["seconds"]) for m in STEP.finditer(on_path)}
            tick |= {f"after: {m['name'].strip()}": float(m["seconds"]) for m in STEP.finditer(after)}
            ticks.append(tick)
    return ticks


def summarise_steps(ticks: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    names = [name for tick in ticks for name in tick]
    ordered = list(dict.fromkeys(names))
    return {
        name: {
            "ticks": len(values := [tick[name] for tick in ticks if name in tick]),
            "median_seconds": statistics.median(values),
            "max_seconds": max(values),
        }
        for name in ordered
    }


def prepare(workspace: Workspace, specs: list[FleetSpec]) -> dict[str, float]:
    """Land the history and one delivery per dataset, and take them through once (watch --once, train,
    predict, scores build, publish)."""
    workspace.land(specs)
    primes = Deliveries(workspace, specs)
    for _ in specs:  # the fleet in service: from here a delivery's new units change only their own rows
        path, _ = primes.land()
        settle(path)
    landed = workspace.landed()
    log(f"latency: landed {len(specs)} datasets, {sum(line_count(p) for p in landed):,} lines in {workspace.root}")
    setup = {}
    for key, command in (
        ("once", (*WATCH, "--once")),
        ("train", (PYTHON, "-m", "ml.train", "--fast")),
        ("predict", (PYTHON, "-m", "ml.predict")),
        ("score_build", (str(Path(PYTHON).with_name("dbt")), "build", "--target", "ci", "--select",
                         "stg_predictions__unit_risk_scores+", "--target-path", str(workspace.target / "scores"))),
        ("publish", (PYTHON, "-m", "lakehouse.publish")),
    ):  # fmt: skip
        setup[key] = workspace.run(f"setup_{key}", command).wall_seconds
        log(f"latency: setup {key} {setup[key]:.1f} s")
    return setup


def pristine_copy(root: Path) -> Path:
    """Where `--reuse-setup` keeps the set-up history, next to the run's folder."""
    return root.with_name(root.name + ".setup")


def measure(root: Path, readings: int, files: int, every: float, reuse_setup: bool = False) -> dict:
    specs = fleet_plan(readings)
    pristine = pristine_copy(root)
    setup_file = pristine / "latency_setup.json"
    if reuse_setup and setup_file.exists():
        started = time.perf_counter()
        shutil.copytree(pristine, root, symlinks=True)  # same path as it was set up at: the watch state matches
        setup = json.loads(setup_file.read_text())
        log(f"latency: the set-up history copied from {pristine} in {time.perf_counter() - started:.0f} s")
        workspace = Workspace(root)
        landed = workspace.landed()
    else:
        workspace = Workspace(root)
        setup = prepare(workspace, specs)
        landed = workspace.landed()
        if reuse_setup:
            shutil.rmtree(pristine, ignore_errors=True)
            shutil.copytree(root, pristine, symlinks=True)
            (pristine / "latency_setup.json").write_text(json.dumps(setup))
            log(f"latency: the set-up history kept in {pristine} for the next --reuse-setup run")
    watch_log = workspace.logs / "watch.log"
    samples, loads = [], []
    with watch_log.open("w") as output:
        watcher = subprocess.Popen(
            (*WATCH, "--every", f"{every:g}"), cwd=REPO_ROOT, env=workspace.env, stdout=output, stderr=output
        )
        deliveries = Deliveries(workspace, specs, landed_before=len(specs))
        try:
            wait_until_idle(workspace, watch_log, watcher, every)
            for number in range(1, files + 1):
                loads.append(os.getloadavg()[0])
                path, units = deliveries.land()
                landed_at = time.time()
                seen = poll_visible(workspace.root / "lake", units, landed_at, watcher)
                samples.append({"file": path.name, "lines": line_count(path), "units": len(units), **seen})
                log(
                    f"latency: file {number}/{files} {path.name}: gold {seen['gold_seconds']:.1f} s, "
                    f"with scores {seen['scored_seconds']:.1f} s"
                )
        finally:
            watcher.send_signal(signal.SIGTERM)
            try:
                watcher.wait(timeout=FILE_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                watcher.kill()
                watcher.wait()
    if watcher.returncode != 0:
        raise SystemExit(f"the watcher exited {watcher.returncode} on SIGTERM; its output: {watch_log}")
    ticks = tick_steps(watch_log)[-files:]  # the ticks that took the deliveries
    scored = [s["scored_seconds"] for s in samples]
    gold = [s["gold_seconds"] for s in samples]
    return {
        "history": size_label(readings),
        "datasets": len(specs),
        "history_lines": sum(line_count(p) for p in landed),
        "setup_seconds": setup,
        "files": samples,
        "with_scores": {"p50": percentile(scored, 0.5), "p95": percentile(scored, 0.95), "max": max(scored)},
        "gold": {"p50": percentile(gold, 0.5), "p95": percentile(gold, 0.95), "max": max(gold)},
        "tick_steps": summarise_steps(ticks),
        "max_load_average": max(loads, default=0.0),
    }


def render(result: dict) -> str:
    row, settings = result["row"], result["settings"]
    scored, gold = row["with_scores"], row["gold"]
    verdict = "met" if scored["p95"] <= GOAL_P95_SECONDS else "NOT met"
    lines = [
        f"Latency benchmark: {len(row['files'])} files of ~{row['files'][0]['lines']:,} lines landed one by one "
        f"on {row['history']} readings of history ({row['history_lines']:,} lines), "
        f"`make watch EVERY={settings['every']:g}`."
        f" Commit {result['environment']['git']['commit']}"
        + (" + uncommitted changes" if result["environment"]["git"]["uncommitted_changes"] else ""),
        "",
        "landing -> published gold      p50 {p50:6.1f} s   p95 {p95:6.1f} s   max {max:6.1f} s".format(**gold),
        "landing -> gold with scores    p50 {p50:6.1f} s   p95 {p95:6.1f} s   max {max:6.1f} s".format(**scored),
        f"goal (issue 9): p95 with scores <= {GOAL_P95_SECONDS:g} s: {scored['p95']:.1f} s ({verdict})",
        "",
        "the watcher's ticks that took them (seconds, median / max):",
    ]
    for name, step in row["tick_steps"].items():
        lines.append(f"  {name:<20}{step['median_seconds']:6.1f} / {step['max_seconds']:.1f}")
    lines += [
        "",
        "setup: " + ", ".join(f"{key} {seconds:.1f} s" for key, seconds in row["setup_seconds"].items()),
    ]
    lines += noisy_machine_warning(row["max_load_average"], result["environment"]["cpus"])
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.latency", description=__doc__.split("\n")[0])
    parser.add_argument("--history", type=parse_size, default=2_000_000, help="readings of history (default 2M)")
    parser.add_argument("--files", type=int, default=20, help="files landed one by one (default 20)")
    parser.add_argument("--every", type=float, default=2.0, help="the watcher's interval in seconds (default 2)")
    parser.add_argument("--workdir", type=Path, help="where to build (default: a temp folder, removed afterwards)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (default when --workdir is given)")
    parser.add_argument(
        "--reuse-setup",
        action="store_true",
        help="keep the set-up history (landed, built, trained, scored) in <workdir>/history_<size>.setup and, "
        "when it is there, start from a copy of it (same files, same units: runs compare; needs --workdir)",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the JSON result (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.files < 1 or args.every <= 0:
        raise SystemExit("need --files >= 1 and --every > 0")
    if args.reuse_setup and args.workdir is None:
        raise SystemExit("--reuse-setup needs --workdir (a temp folder is removed afterwards)")
    temporary = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="pdm-latency-")) if temporary else args.workdir.resolve()
    root = workdir / f"history_{size_label(args.history)}"
    if root.exists():
        shutil.rmtree(root)  # only the benchmark's own subfolder, from an earlier run
    measured_at = datetime.now(UTC).isoformat(timespec="seconds")
    project_state = git_state()
    started = time.perf_counter()
    try:
        row = measure(root, args.history, args.files, args.every, args.reuse_setup)
    finally:
        if temporary and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    result = {
        "benchmark": "latency",
        "measured_at": measured_at,
        "settings": {"history": size_label(args.history), "files": args.files, "every": args.every},
        "environment": {**machine(), "git": project_state},
        "row": row,
        "total_seconds": time.perf_counter() - started,
    }
    print(render(result))
    print(f"\n(total {result['total_seconds']:.0f}s)")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
