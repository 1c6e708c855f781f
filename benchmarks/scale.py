"""The scale benchmark: what a build, a publish and a training run cost as the fleet grows.

For each size (readings landed by the simulator, e.g. 200k, 2M, 20M) it lands a fresh fleet in
its own work folder and runs the project's real commands through the ``PDM_*`` / ``DBT_*``
environment variables, timing each step (wall clock) and reading its CPU time (user + system) and
peak RSS from the OS (``os.wait4``'s resource usage of that one process tree):

======================  =====================================================================
bare DuckDB             ``python -m benchmarks.bare_duckdb``: the same bronze -> gold work as
                        one plain SQL script (the engine-limit baseline)
bare pandas             ``python -m benchmarks.bare_pandas``: the same work in pandas
first build             ``dbt build --target ci`` on an empty warehouse
first publish           ``python -m lakehouse.publish``
no-op build             ``dbt build --target ci`` with nothing new landed
+ one file              a test file of ~10k readings for new units, delivered under a dated
                        name of an existing dataset (``test_FD000_delivery-001.txt``):
                        ``dbt build`` then ``publish`` (each timed, and their sum)
+ corrected file        ``test_FD000.txt`` rewritten with a few values changed: build, publish
+ later cycles          the next cycles of 10 test units spread evenly over the fleet (by
                        unit_id, the order the lake's files hold them), one file per dataset
                        touched (``test_FD000_cycles-001.txt``): build, publish
train                   ``python -m ml.train``
======================  =====================================================================

Each publish's Delta commits are read back from the lake's logs (``benchmarks.lake_writes``): per
table, the files and bytes written and removed, and the share of the table rewritten (a per-unit
publish replaces whole files, so a few changed units spread over the fleet rewrite many files).

The no-op build, + one file, + corrected file and + later cycles are repeated (``--repeats``; each
repeat lands another delivery / correction / later cycles) and reported as median and spread (min-max); the others
run once (``--baseline-repeats`` repeats the two baselines). Then the ratios: each step at the
largest size over the smallest, and the first build and pandas over bare DuckDB per size. The
machine's load average is recorded at each step (a busy machine makes the wall clocks noisy,
and the output says so); CPU time, which another process's load barely moves, is reported with
its ratios beside them. The result is printed as a table and written as JSON (default
``data/benchmarks/scale.json``).

    python -m benchmarks.scale --sizes 200k,2M [--repeats 3] [--workdir PATH] [--keep]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from benchmarks import lake_writes
from benchmarks.reporting import fmt_ratio, git_state, line_count, log, noisy_machine_warning, ratio
from lakehouse.lake import size_text
from ml.config import REPO_ROOT, data_environment
from ml.simulate import FleetSpec, encode_cmapss, land_fleet, read_cmapss, simulate_fleet

BIN = Path(sys.executable).parent
PYTHON = str(BIN / "python")
DBT = str(BIN / "dbt")
DEFAULT_OUTPUT = REPO_ROOT / "data" / "benchmarks" / "scale.json"

# A dataset of the full size: 600 train + 600 test units, ~200k readings (train units live 206
# cycles on average, test series stop ~76 cycles before failure). Sizes are made of such
# datasets, so the corrected file (one dataset's test file) is the same size at every scale.
UNITS_PER_DATASET = 1200
READINGS_PER_UNIT = 168  # the simulator's mean over train and test units
DELIVERY_READINGS = 10_000
DELIVERY_UNITS = round(DELIVERY_READINGS / 130)  # a test series has ~130 cycles on average
# Delivered units are numbered after FD000's own test units (600, then 77 per delivery). unit_id
# pads numbers to three digits and keeps longer ones (macros/cmapss/unit_id.sql); the simulator's
# files hold up to four.
MAX_UNIT_NUMBER = 9999
CORRECTED_LINES = 5  # values changed per correction
LATER_CYCLE_UNITS = 10  # test units given later cycles per repeat, spread evenly over the fleet's test units
LATER_CYCLES = 3  # cycles added to each (a test series stops at least 7 cycles before failure)
# Landed files are dated this far back, so dbt's landing listing finds them settled at once.
SETTLED_AGE_SECONDS = 60

SILVER_GOLD = ("int_", "dim_", "fct_", "mart_")  # model name prefixes of the silver and gold layers
DBT_BUILD = (DBT, "build", "--target", "ci")
PUBLISH = (PYTHON, "-m", "lakehouse.publish")
TRAIN = (PYTHON, "-m", "ml.train")

STEPS = (  # (key, label) in table order
    ("bare_duckdb", "bare DuckDB (script)"),
    ("bare_pandas", "bare pandas"),
    ("first_build", "first build"),
    ("first_publish", "first publish"),
    ("noop_build", "no-op build"),
    ("new_file_build", "+ one file: build"),
    ("new_file_publish", "+ one file: publish"),
    ("new_file_total", "+ one file: build + publish"),
    ("corrected_build", "+ corrected file: build"),
    ("corrected_publish", "+ corrected file: publish"),
    ("corrected_total", "+ corrected file: build + publish"),
    ("cycles_build", f"+ later cycles, {LATER_CYCLE_UNITS} units: build"),
    ("cycles_publish", f"+ later cycles, {LATER_CYCLE_UNITS} units: publish"),
    ("cycles_total", f"+ later cycles, {LATER_CYCLE_UNITS} units: build + publish"),
    ("train", "train"),
)
FEATURE_TABLE = "fct_unit_cycle_features"  # the largest table, unit-keyed: where write amplification shows
PUBLISH_STEPS = ("first_publish", "new_file_publish", "corrected_publish", "cycles_publish")  # writes read back
GOALS = (  # (step, largest/smallest wall-clock ratio allowed), issue 7 item 6
    ("noop_build", 1.3),
    ("new_file_total", 1.5),
)
DBT_OVER_BARE_GOAL = 1.5  # issue 7 item 5: a full dbt build <= 1.5x the bare script


def parse_size(text: str) -> int:
    """'200k' -> 200_000, '2M' -> 2_000_000, '20000' -> 20_000."""
    text = text.strip()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:].lower(), 1)
    number = text[:-1] if scale > 1 else text
    try:
        value = int(float(number) * scale)
    except (ValueError, OverflowError):  # 'abc'; 'inf' (no whole number)
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 200k, 2M)") from None
    if value < 2_000:
        raise argparse.ArgumentTypeError(f"size {text!r}: at least 2k readings")
    return value


def parse_sizes(text: str) -> list[int]:
    """'200k,2M' -> [200_000, 2_000_000]; at least one size (none ran nothing and stopped on an IndexError)."""
    sizes = [parse_size(size) for size in text.split(",") if size.strip()]
    if not sizes:
        raise argparse.ArgumentTypeError(f"{text!r} names no size (use e.g. 200k,2M)")
    return sizes


def size_label(readings: int) -> str:
    if readings % 1_000_000 == 0:
        return f"{readings // 1_000_000}M"
    return f"{readings / 1000:g}k" if readings >= 1000 else str(readings)


def fleet_plan(readings: int) -> list[FleetSpec]:
    """Datasets FD000, FD001, ... of up to UNITS_PER_DATASET units, about `readings` in all;
    even datasets have six flight conditions and two fault modes (FD004-like), odd ones one."""
    units = max(4, round(readings / READINGS_PER_UNIT))
    datasets = math.ceil(units / UNITS_PER_DATASET)
    if datasets > 1000:
        raise SystemExit(f"{size_label(readings)} readings need {datasets} datasets; FD000-FD999 allow 1000")
    per_dataset = units // datasets
    return [
        FleetSpec(
            dataset=f"FD{i:03d}",
            train_units=per_dataset // 2,
            test_units=per_dataset - per_dataset // 2,
            conditions=6 if i % 2 == 0 else 1,
            fault_modes=2 if i % 2 == 0 else 1,
            seed=1000 + i,
        )
        for i in range(datasets)
    ]


def settle(path: Path) -> None:
    stamp = time.time() - SETTLED_AGE_SECONDS
    os.utime(path, (stamp, stamp))


@dataclass
class Run:
    """One timed process."""

    wall_seconds: float
    peak_rss_bytes: int
    load_average: float  # the machine's 1-minute load average as the step started
    # user + system CPU time of the step's process and its children (os.wait4): on a busy machine
    # wall time grows with the other load, CPU time barely does
    cpu_seconds: float | None = None
    # dbt steps, from run_results.json: the models run, and the execution time of the silver and
    # gold ones (int_, dim_, fct_, mart_), which a no-op build should barely spend
    dbt_models_run: int | None = None
    dbt_silver_gold_seconds: float | None = None


@dataclass
class Workspace:
    """A landing folder, warehouse, lake, MLflow store and dbt target folder under one root."""

    root: Path
    logs: Path = field(init=False)
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.landing = self.root / "landing"
        self.warehouse = self.root / "warehouse" / "pdm.duckdb"
        self.target = self.root / "dbt_target"
        self.logs = self.root / "step_logs"
        self.scratch = self.root / "scratch"
        for folder in (self.landing, self.warehouse.parent, self.logs, self.scratch):
            folder.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, **data_environment(self.root)}
        # a reused folder (--reuse) goes on from the deliveries an earlier run landed in it
        self.deliveries = len(list(self.landing.glob("test_FD000_delivery-*.txt")))
        self.corrections = 0
        self.later_cycles = len(list(self.landing.glob("test_*_cycles-*.txt")))

    # ------------------------------------------------------------------ landing

    def land(self, specs: list[FleetSpec]) -> None:
        for spec in specs:
            land_fleet(spec, self.landing)
        for path in self.landing.rglob("*"):
            if path.is_file():
                settle(path)

    @staticmethod
    def built(root: Path) -> bool:
        """Whether an earlier run left a built and published fleet in `root` (what --reuse needs)."""
        return (root / "warehouse" / "pdm.duckdb").is_file() and (root / "lake" / "gold").is_dir()

    def landed(self) -> list[Path]:
        return sorted(p for p in self.landing.iterdir() if p.is_file())

    def land_delivery(self, own_test_units: int) -> Path:
        """A test file of ~10k readings for new units of FD000 (numbered after its `own_test_units`
        and the earlier deliveries'), under a dated delivery name."""
        first_unit = own_test_units + 1 + self.deliveries * DELIVERY_UNITS
        self.deliveries += 1
        if first_unit + DELIVERY_UNITS - 1 > MAX_UNIT_NUMBER:
            raise SystemExit(
                f"delivery {self.deliveries}: FD000's test units would pass {MAX_UNIT_NUMBER} "
                f"({first_unit + DELIVERY_UNITS - 1}); use fewer --repeats"
            )
        spec = FleetSpec(
            dataset="FD000", train_units=1, test_units=DELIVERY_UNITS, conditions=6, fault_modes=2, seed=self.deliveries
        )
        readings = simulate_fleet(spec).test
        readings["unit_number"] += first_unit - 1
        return self._place(f"test_FD000_delivery-{self.deliveries:03d}.txt", encode_cmapss(readings))

    def correct_file(self, name: str = "test_FD000.txt") -> Path:
        """`name` rewritten with the last value of CORRECTED_LINES lines spread over it changed."""
        self.corrections += 1
        lines = (self.landing / name).read_bytes().split(b"\n")
        step = max(1, (len(lines) - 1) // CORRECTED_LINES)
        for index in range(0, step * CORRECTED_LINES, step):
            tokens = lines[index].split()
            tokens[-1] = b"%.4f" % (float(tokens[-1]) + 0.01 * self.corrections)
            lines[index] = b" ".join(tokens) + b"  "
        return self._place(name, b"\n".join(lines))

    def land_later_cycles(self, specs: list[FleetSpec]) -> list[Path]:
        """LATER_CYCLES more cycles of LATER_CYCLE_UNITS test units spread evenly over the fleet's test units
        in unit_id order (their last lines again, cycles numbered on), one file per dataset touched."""
        self.later_cycles += 1
        test_units = [(spec.dataset, number) for spec in specs for number in range(1, spec.test_units + 1)]
        step = len(test_units) / LATER_CYCLE_UNITS
        chosen = sorted({test_units[int(i * step)] for i in range(LATER_CYCLE_UNITS)})
        placed = []
        for dataset in sorted({dataset for dataset, _ in chosen}):
            numbers = [number for d, number in chosen if d == dataset]
            landed = [
                read_cmapss(path)
                for path in [self.landing / f"test_{dataset}.txt", *self.landing.glob(f"test_{dataset}_cycles-*.txt")]
            ]
            series = pd.concat(landed)
            series = series[series["unit_number"].isin(numbers)].sort_values(["unit_number", "cycle"])
            last = series.groupby("unit_number")["cycle"].max()
            later = series.groupby("unit_number").tail(LATER_CYCLES).copy()
            later["cycle"] = later["unit_number"].map(last) + later.groupby("unit_number").cumcount() + 1
            name = f"test_{dataset}_cycles-{self.later_cycles:03d}.txt"
            placed.append(self._place(name, encode_cmapss(later)))
        return placed

    def _place(self, name: str, content: bytes) -> Path:
        """Written aside, dated as settled, then moved into the landing folder whole."""
        staged = self.scratch / name
        staged.write_bytes(content)
        settle(staged)
        return Path(shutil.move(staged, self.landing / name))

    # ------------------------------------------------------------------ running

    def run(self, name: str, command: tuple[str, ...] | list[str]) -> Run:
        """Run one step, its output to step_logs/<name>.log; stop naming the step if it fails."""
        is_dbt = command[0] == DBT
        run_results = self.target / "run_results.json"
        if is_dbt:
            run_results.unlink(missing_ok=True)
        log_path = self.logs / f"{name}.log"
        load_average = os.getloadavg()[0]
        with log_path.open("w") as output:
            started = time.perf_counter()
            process = subprocess.Popen(command, cwd=REPO_ROOT, env=self.env, stdout=output, stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(process.pid, 0)
            wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
            raise SystemExit(
                f"step {name} failed (exit {process.returncode}): {' '.join(command)}\n"
                f"in {self.root}; its log: {log_path}\n{tail}"
            )
        run = Run(
            wall_seconds=wall,
            peak_rss_bytes=usage.ru_maxrss * 1024,
            load_average=load_average,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
        )
        if is_dbt and run_results.exists():
            results = json.loads(run_results.read_text())["results"]
            models = [r for r in results if r["unique_id"].startswith("model.")]
            run.dbt_models_run = len(models)
            run.dbt_silver_gold_seconds = sum(
                r["execution_time"] for r in models if r["unique_id"].split(".")[-1].startswith(SILVER_GOLD)
            )
        return run


def summarise(runs: list[Run]) -> dict:
    walls = [r.wall_seconds for r in runs]
    silver_gold = [r.dbt_silver_gold_seconds for r in runs if r.dbt_silver_gold_seconds is not None]
    cpu = [r.cpu_seconds for r in runs if r.cpu_seconds is not None]
    return {
        "runs": len(runs),
        "wall_seconds": statistics.median(walls),
        "wall_seconds_min": min(walls),
        "wall_seconds_max": max(walls),
        "cpu_seconds": statistics.median(cpu) if cpu else None,
        "peak_rss_bytes": max(r.peak_rss_bytes for r in runs),
        "max_load_average": max(r.load_average for r in runs),
        "dbt_silver_gold_seconds": statistics.median(silver_gold) if silver_gold else None,
        "each": [asdict(r) for r in runs],
    }


def added(first: list[Run], second: list[Run]) -> list[Run]:
    """Build + publish as one step, run by run."""
    return [
        Run(
            wall_seconds=a.wall_seconds + b.wall_seconds,
            peak_rss_bytes=max(a.peak_rss_bytes, b.peak_rss_bytes),
            load_average=max(a.load_average, b.load_average),
            cpu_seconds=None if a.cpu_seconds is None or b.cpu_seconds is None else a.cpu_seconds + b.cpu_seconds,
        )
        for a, b in zip(first, second, strict=False)  # a failed publish leaves its build unpaired
    ]


def measure(root: Path, readings: int, repeats: int, baseline_repeats: int, train: bool, reuse: bool = False) -> dict:
    """Land a fleet of about `readings` readings in `root` and time every step on it (`reuse`: the
    fleet an earlier run landed, built and published there; the repeated steps and training only).
    A failing step ends this size: the row then holds the steps done and `failed` (the step's message)."""
    label = size_label(readings)
    workspace = Workspace(root)
    specs = fleet_plan(readings)
    started = time.perf_counter()
    if not reuse:
        workspace.land(specs)
    files = workspace.landed()
    landed_lines = sum(line_count(p) for p in files)
    landing_seconds = time.perf_counter() - started
    done = "reused" if reuse else f"landed in {landing_seconds:.0f}s"
    log(f"[{label}] {len(specs)} datasets, {len(files)} files, {landed_lines:,} lines: {done}")
    runs: dict[str, list[Run]] = {key: [] for key, _ in STEPS}
    writes: dict[str, list[dict]] = {key: [] for key in PUBLISH_STEPS}
    row = {
        "size": label,
        "target_readings": readings,
        "datasets": len(specs),
        "units": sum(s.train_units + s.test_units for s in specs),
        "files": len(files),
        "landed_lines": landed_lines,
        "landed_bytes": sum(p.stat().st_size for p in files),
        "landing_seconds": None if reuse else landing_seconds,
        "reused": reuse,
        "failed": None,
        "lake_writes": writes,  # per publish step, per run: what its commits wrote, per table
    }
    try:
        row.update(
            timed_steps(workspace, label, runs, writes, specs, repeats, 0 if reuse else baseline_repeats, train, reuse)
        )
    except SystemExit as failure:
        row["failed"] = str(failure)
        log(f"[{label}] stopped: {failure}")
    runs["new_file_total"] = added(runs["new_file_build"], runs["new_file_publish"])
    runs["corrected_total"] = added(runs["corrected_build"], runs["corrected_publish"])
    runs["cycles_total"] = added(runs["cycles_build"], runs["cycles_publish"])
    row["steps"] = {key: summarise(measured) for key, measured in runs.items() if measured}
    return row


def timed_steps(
    workspace: Workspace,
    label: str,
    runs: dict[str, list[Run]],
    writes: dict[str, list[dict]],
    specs: list[FleetSpec],
    repeats: int,
    baseline_repeats: int,
    train: bool,
    reuse: bool = False,
) -> dict:
    """Run every step in order, appending to `runs` (and each publish's Delta writes to `writes`); returns
    what the steps landed and built. `reuse`: the folder holds a fleet built and published by an earlier
    run, so the first build and publish are left out."""
    lake = workspace.root / "lake"

    def step(key: str, command: tuple[str, ...] | list[str], repeat: int = 0) -> Run:
        before = lake_writes.versions(lake) if key in writes else {}
        run = workspace.run(f"{key}_{repeat + 1}", command)
        runs[key].append(run)
        if key in writes:
            writes[key].append(lake_writes.writes_since(lake, before))
        log(
            f"[{label}] {key} {repeat + 1}: {run.wall_seconds:.1f}s, peak RSS {run.peak_rss_bytes / 2**30:.2f} GiB"
            + (
                f", {run.dbt_models_run} models, silver+gold {run.dbt_silver_gold_seconds:.1f}s"
                if run.dbt_models_run is not None
                else ""
            )
        )
        return run

    for repeat in range(baseline_repeats):
        database = workspace.scratch / "bare.duckdb"
        # the dbt profile's memory ceiling (PDM_DUCKDB_MEMORY_LIMIT, 6GB): the same budget, and without it
        # the script took 80 % of RAM at 20 M readings and starved the machine
        step("bare_duckdb", (PYTHON, "-m", "benchmarks.bare_duckdb", "--landing", str(workspace.landing),
                             "--database", str(database), "--temp-directory", str(workspace.scratch / "spill"),
                             "--memory-limit", os.environ.get("PDM_DUCKDB_MEMORY_LIMIT", "6GB")),
             repeat)  # fmt: skip
        database.unlink(missing_ok=True)
        features = workspace.scratch / "features.parquet"
        step("bare_pandas", (PYTHON, "-m", "benchmarks.bare_pandas", "--landing", str(workspace.landing),
                             "--output", str(features)), repeat)  # fmt: skip
        features.unlink(missing_ok=True)
    if not reuse:
        step("first_build", DBT_BUILD)
    warehouse_bytes = workspace.warehouse.stat().st_size
    if not reuse:
        step("first_publish", PUBLISH)
    delivery_lines, corrected_lines = [], []
    for repeat in range(repeats):
        step("noop_build", DBT_BUILD, repeat)
    for repeat in range(repeats):
        delivery_lines.append(line_count(workspace.land_delivery(specs[0].test_units)))
        step("new_file_build", DBT_BUILD, repeat)
        step("new_file_publish", PUBLISH, repeat)
    for repeat in range(repeats):
        corrected_lines.append(line_count(workspace.correct_file()))
        step("corrected_build", DBT_BUILD, repeat)
        step("corrected_publish", PUBLISH, repeat)
    for repeat in range(repeats):
        workspace.land_later_cycles(specs)
        step("cycles_build", DBT_BUILD, repeat)
        step("cycles_publish", PUBLISH, repeat)
    if train:
        step("train", TRAIN)
    return {
        "warehouse_bytes_after_first_build": warehouse_bytes,
        "delivery_lines": delivery_lines,
        "corrected_file_lines": corrected_lines,
    }


def ratios(rows: list[dict]) -> dict:
    """Largest size over smallest, per step; and per size, the dbt build and pandas over bare DuckDB."""
    small, big = rows[0], rows[-1]
    by_size = {
        key: ratio(big["steps"][key]["wall_seconds"], small["steps"][key]["wall_seconds"])
        for key in big["steps"]
        if key in small["steps"]
    }
    cpu = {
        key: ratio(big["steps"][key].get("cpu_seconds"), small["steps"][key].get("cpu_seconds"))
        for key in big["steps"]
        if key in small["steps"]
    }
    peak = {
        key: ratio(big["steps"][key]["peak_rss_bytes"], small["steps"][key]["peak_rss_bytes"])
        for key in big["steps"]
        if key in small["steps"]
    }
    baselines = {}
    for row in rows:
        steps = row["steps"]
        bare = steps.get("bare_duckdb", {}).get("wall_seconds")
        baselines[row["size"]] = {
            "first_build_over_bare_duckdb": ratio(steps.get("first_build", {}).get("wall_seconds"), bare),
            "bare_pandas_over_bare_duckdb": ratio(steps.get("bare_pandas", {}).get("wall_seconds"), bare),
        }
    return {
        "compared": f"{big['size']} / {small['size']}",
        "wall_seconds": by_size,
        "cpu_seconds": cpu,
        "peak_rss": peak,
        "over_bare_duckdb": baselines,
    }


def machine() -> dict:
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = None
    found = {}
    for package in ("dbt-core", "dbt-duckdb", "duckdb", "deltalake", "pandas", "scikit-learn"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    return {
        "cpus": os.cpu_count(),
        "memory_bytes": memory,
        "platform": platform.platform(),
        "python": platform.python_version(),
        **found,
    }


def fmt_seconds(step: dict | None) -> str:
    if step is None:
        return "-"
    if step["runs"] == 1:
        return f"{step['wall_seconds']:.1f} s"
    return f"{step['wall_seconds']:.1f} s ({step['wall_seconds_min']:.1f}-{step['wall_seconds_max']:.1f})"


def fmt_cpu(step: dict | None) -> str:
    return "-" if step is None or step.get("cpu_seconds") is None else f"{step['cpu_seconds']:.1f} s"


def fmt_rss(step: dict | None) -> str:
    return "-" if step is None else f"{step['peak_rss_bytes'] / 2**30:.2f} GiB"


def render(result: dict) -> str:
    rows, summary = result["rows"], result["ratios"]
    repeats = result["settings"]["repeats"]
    titles = [f"{row['size']} ({row['landed_lines']:,} lines)" for row in rows]
    width = max(len(label) for _, label in STEPS) + 2
    column = max(24, *(len(t) + 2 for t in titles))
    lines = [
        f"Scale benchmark: wall clock, median (min-max) of {repeats} runs where repeated; peak RSS of the "
        f"step's process, the largest over its runs. Commit {result['environment']['git']['commit']}"
        + (" + uncommitted changes" if result["environment"]["git"]["uncommitted_changes"] else ""),
        "",
        "step".ljust(width) + "".join(t.rjust(column) for t in titles) + f"ratio {summary['compared']}".rjust(20),
    ]
    for key, label in STEPS:
        steps = [row["steps"].get(key) for row in rows]
        if not any(steps):
            continue
        lines.append(
            label.ljust(width)
            + "".join(fmt_seconds(s).rjust(column) for s in steps)
            + fmt_ratio(summary["wall_seconds"].get(key)).rjust(20)
        )
        lines.append(
            "  CPU time".ljust(width)
            + "".join(fmt_cpu(s).rjust(column) for s in steps)
            + fmt_ratio(summary.get("cpu_seconds", {}).get(key)).rjust(20)
        )
        lines.append(
            "  peak RSS".ljust(width)
            + "".join(fmt_rss(s).rjust(column) for s in steps)
            + fmt_ratio(summary["peak_rss"].get(key)).rjust(20)
        )
    lines += [
        "",
        "dbt's time in silver and gold models (run_results.json, median): "
        + "; ".join(
            f"{row['size']}: "
            + ", ".join(
                f"{key.removesuffix('_build')} {row['steps'][key]['dbt_silver_gold_seconds']:.1f} s"
                for key in ("first_build", "noop_build", "new_file_build", "corrected_build")
                if row["steps"].get(key, {}).get("dbt_silver_gold_seconds") is not None
            )
            for row in rows
        ),
        "",
        "over bare DuckDB (same landing folder, same run): "
        + "; ".join(
            f"{size}: first build {fmt_ratio(r['first_build_over_bare_duckdb'])}, "
            f"pandas {fmt_ratio(r['bare_pandas_over_bare_duckdb'])}"
            for size, r in summary["over_bare_duckdb"].items()
        ),
        "",
        "Delta writes of each publish (median over its runs; the table's files after it; `rewritten`: the bytes",
        "it removed over the table's):",
        *write_lines(rows),
        "",
        "goals (issue 7):",
    ]
    if len(rows) > 1:
        for key, limit in GOALS:
            value = summary["wall_seconds"].get(key)
            verdict = "-" if value is None else ("met" if value <= limit else "NOT met")
            cpu = summary.get("cpu_seconds", {}).get(key)
            lines.append(
                f"  {dict(STEPS)[key]} {summary['compared']} <= {limit}x: {fmt_ratio(value)} ({verdict}; "
                f"CPU time {fmt_ratio(cpu)})"
            )
    for size, r in summary["over_bare_duckdb"].items():
        value = r["first_build_over_bare_duckdb"]
        verdict = "-" if value is None else ("met" if value <= DBT_OVER_BARE_GOAL else "NOT met")
        lines.append(f"  first build / bare DuckDB at {size} <= {DBT_OVER_BARE_GOAL}x: {fmt_ratio(value)} ({verdict})")
    for row in rows:
        if row["failed"]:
            lines.append(f"FAILED at {row['size']}, the steps above are partial: {row['failed'].splitlines()[0]}")
    lines += noisy_machine_warning(
        max((step["max_load_average"] for row in rows for step in row["steps"].values()), default=0.0),
        result["environment"]["cpus"],
    )
    return "\n".join(lines)


def write_lines(rows: list[dict]) -> list[str]:
    """Per size and publish step: the feature table's writes, and every table's bytes written together."""
    lines = []
    for row in rows:
        for key, runs in row.get("lake_writes", {}).items():
            if not runs:
                continue
            features = lake_writes.median_writes(runs, FEATURE_TABLE)
            total = statistics.median(sum(w["bytes_written"] for w in run.values()) for run in runs)
            lines.append(
                f"  {row['size']} {dict(STEPS)[key]}: {FEATURE_TABLE} "
                + (lake_writes.describe(features) if features else "not written")
                + f"; all tables: {size_text(int(total))} written"
            )
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=[200_000, 2_000_000],
        help="comma-separated fleet sizes in readings, smallest first (default: 200k,2M)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of each repeated step (default 3)")
    parser.add_argument("--baseline-repeats", type=int, default=1, help="runs of bare DuckDB and pandas (default 1)")
    parser.add_argument("--no-train", action="store_true", help="skip the training step")
    parser.add_argument("--workdir", type=Path, help="where to build (default: a temp folder, removed afterwards)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (default when --workdir is given)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the JSON result (default: %(default)s)")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="in --workdir, time the repeated steps and training again on the fleets an earlier run there "
        "built and published (no landing, first build or first publish: at 20 M those take ~25 min)",
    )
    return parser


def write_result(
    args: argparse.Namespace,
    sizes: list[int],
    rows: list[dict],
    measured_at: str,
    project_state: dict,
    started: float,
    partial: bool,
) -> dict:
    """The result so far as JSON at --output (`partial`: sizes are still to come); returns it."""
    result = {
        "benchmark": "scale",
        "measured_at": measured_at,
        "settings": {
            "sizes": [size_label(s) for s in sizes],
            "repeats": args.repeats,
            "reuse": args.reuse,
            "baseline_repeats": args.baseline_repeats,
            "units_per_dataset": UNITS_PER_DATASET,
            "delivery_readings": DELIVERY_READINGS,
            "corrected_values": CORRECTED_LINES,
            "later_cycles": {"units": LATER_CYCLE_UNITS, "cycles_each": LATER_CYCLES},
            "commands": {
                "build": " ".join(DBT_BUILD[1:]),
                "publish": "python -m lakehouse.publish",
                "train": "python -m ml.train",
            },
        },
        "environment": {**machine(), "git": project_state},
        "rows": rows,
        "ratios": ratios(rows),
        "total_seconds": time.perf_counter() - started,
        "partial": partial,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sizes = sorted(set(args.sizes))
    if args.repeats < 1 or args.baseline_repeats < 0:
        raise SystemExit("need --repeats >= 1 and --baseline-repeats >= 0")
    if args.reuse:
        if args.workdir is None:
            raise SystemExit("--reuse needs --workdir (the folder of the earlier run)")
        unbuilt = [
            size_label(s) for s in sizes if not Workspace.built(args.workdir.resolve() / f"size_{size_label(s)}")
        ]
        if unbuilt:
            raise SystemExit(f"--reuse: no built and published fleet in {args.workdir} for {', '.join(unbuilt)}")
    temporary = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="pdm-scale-")) if temporary else args.workdir.resolve()
    started = time.perf_counter()
    measured_at = datetime.now(UTC).isoformat(timespec="seconds")
    project_state = git_state()  # before the runs: the code measured
    log(f"scale benchmark: sizes {', '.join(size_label(s) for s in sizes)} in {workdir}")
    try:
        rows = []
        for readings in sizes:
            root = workdir / f"size_{size_label(readings)}"
            if root.exists() and not args.reuse:
                shutil.rmtree(root)  # only the benchmark's own subfolder, from an earlier run
            rows.append(measure(root, readings, args.repeats, args.baseline_repeats, not args.no_train, args.reuse))
            # after each size, so a run stopped at a larger size still leaves what it measured
            write_result(args, sizes, rows, measured_at, project_state, started, partial=readings != sizes[-1])
            if temporary and not args.keep:
                shutil.rmtree(root, ignore_errors=True)  # one size's data at a time on disk
            if rows[-1]["failed"]:
                break  # the larger sizes would fail the same way
    finally:
        if temporary and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    result = write_result(args, sizes, rows, measured_at, project_state, started, partial=False)
    print(render(result))
    print(f"\n(total {result['total_seconds']:.0f}s)")
    print(f"written to {args.output}")
    failed = [row for row in rows if row["failed"]]
    if failed:
        print(f"STOPPED at {failed[0]['size']}: the results above are partial", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
