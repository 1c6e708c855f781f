"""Does a build's ingestion cost grow with the NEW files, or with the history already landed?

For a history of N and of 10N small simulated datasets (three files each, ~1,900 lines per
dataset), the benchmark builds once (untimed), saves that state, and then, from that same
state each time, lands ONE new train file (~2,000 lines) and times with ``time.perf_counter``:

* ``dbt build --select staging``: the bronze layer, incremental (the production path);
* ``dbt build --select staging --full-refresh``: the bronze layer re-read from every landed
  file, what a non-incremental reader would pay;
* ``dbt build``: the whole project.

Each measurement is repeated (a different new file each time, the warehouse and the landing
folder restored to the saved state before each) and the median reported. Besides the wall
clock of the dbt process, the table shows dbt's own node timings from ``run_results.json``
(no start-up: project parse, adapter): the ingestion node ``base_cmapss__landed_lines`` (list
the folder, skip the file versions already read, read the new ones), and the sums over the
staging models and over their tests, to show where a growth comes from.

Everything runs in a work folder of its own (landing folder, warehouse, dbt target and logs
via ``PDM_*`` / ``DBT_*`` environment variables), never against the user's data. The result is
printed and written as JSON (default ``data/benchmarks/ingestion_scaling.json``).

    python -m benchmarks.ingestion_scaling [--history 10] [--repeats 3] [--workdir PATH]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.reporting import fmt_ratio, git_state, line_count, log, noisy_machine_warning, ratio
from ml.config import REPO_ROOT, data_environment
from ml.simulate import FleetSpec, encode_cmapss, land_fleet, simulate_fleet

DBT = str(Path(sys.executable).with_name("dbt"))
DEFAULT_OUTPUT = REPO_ROOT / "data" / "benchmarks" / "ingestion_scaling.json"

# One history dataset: train + test + RUL file, ~1,900 lines in all.
HISTORY_UNITS = {"train_units": 6, "test_units": 6}
# One new file: a train file of this many units, ~2,000 lines.
NEW_FILE_TRAIN_UNITS = 10
# Dataset names are FD + three digits: history counts up from FD000, new files down from FD999.
DATASET_NAMES = 1000

INGESTION_NODE = "model.pdm_lakehouse.base_cmapss__landed_lines"
MEASUREMENTS = {
    "incremental_bronze": ("build", "--target", "ci", "--select", "staging"),
    "full_refresh_bronze": ("build", "--target", "ci", "--select", "staging", "--full-refresh"),
    "full_build": ("build", "--target", "ci"),
}


@dataclass
class Run:
    """One timed dbt invocation."""

    wall_seconds: float
    dbt_elapsed_seconds: float | None  # run_results.json: from the first node to the last
    ingestion_node_seconds: float | None  # base_cmapss__landed_lines' execution time
    model_node_seconds: float | None  # sum of the execution times of the models run
    test_node_seconds: float | None  # sum of the execution times of the data and unit tests run
    new_files_listed: str | None  # dbt's "Landing folder: ..." line
    full_parse: bool  # dbt re-parsed the whole project (no partial parse)
    load_average: float  # the machine's 1-minute load average as the run started (noise check)


@dataclass
class Workspace:
    """A landing folder, a warehouse and dbt's target/log folders under one root."""

    root: Path
    env: dict[str, str] = field(init=False)
    next_new_dataset: int = DATASET_NAMES - 1

    def __post_init__(self) -> None:
        self.landing = self.root / "landing"
        self.warehouse = self.root / "warehouse" / "pdm.duckdb"
        self.target = self.root / "dbt_target"
        self.saved = self.root / "saved_state"
        self.scratch = self.root / "scratch"
        for folder in (self.landing, self.warehouse.parent, self.saved, self.scratch):
            folder.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, **data_environment(self.root)}

    # ------------------------------------------------------------------ landing

    def land_history(self, datasets: int) -> None:
        for i in range(datasets):
            land_fleet(FleetSpec(dataset=f"FD{i:03d}", seed=10_000 + i, **HISTORY_UNITS), self.landing)

    def land_new_file(self) -> Path:
        """One new train file for a dataset never landed before, moved into place whole."""
        number = self.next_new_dataset
        self.next_new_dataset -= 1
        spec = FleetSpec(dataset=f"FD{number:03d}", train_units=NEW_FILE_TRAIN_UNITS, test_units=1, seed=number)
        staged = self.scratch / f"train_FD{number:03d}.txt"
        staged.write_bytes(encode_cmapss(simulate_fleet(spec).train))
        return Path(shutil.move(staged, self.landing / staged.name))

    def landed(self) -> list[Path]:
        return sorted(p for p in self.landing.iterdir() if p.is_file())

    # ------------------------------------------------------------ saved state

    def _warehouse_files(self, folder: Path) -> list[Path]:
        return [folder / self.warehouse.name, folder / f"{self.warehouse.name}.wal"]

    def save_state(self) -> None:
        self.saved_landing = {p.name for p in self.landed()}
        for source, copy in zip(
            self._warehouse_files(self.warehouse.parent), self._warehouse_files(self.saved), strict=True
        ):
            copy.unlink(missing_ok=True)
            if source.exists():
                shutil.copy2(source, copy)

    def restore_state(self) -> None:
        for path in self.landed():
            if path.name not in self.saved_landing:
                path.unlink()
        for copy, target in zip(
            self._warehouse_files(self.saved), self._warehouse_files(self.warehouse.parent), strict=True
        ):
            target.unlink(missing_ok=True)
            if copy.exists():
                shutil.copy2(copy, target)

    # -------------------------------------------------------------------- dbt

    def dbt(self, *args: str) -> Run:
        run_results = self.target / "run_results.json"
        run_results.unlink(missing_ok=True)
        load_average = os.getloadavg()[0]
        started = time.perf_counter()
        result = subprocess.run([DBT, *args], cwd=REPO_ROOT, env=self.env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if result.returncode != 0:
            raise SystemExit(
                f"dbt {' '.join(args)} failed (exit {result.returncode}) in {self.root}:\n"
                f"{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
            )
        elapsed = node = models = tests = None
        if run_results.exists():
            results = json.loads(run_results.read_text())
            elapsed = results.get("elapsed_time")
            node = next((r["execution_time"] for r in results["results"] if r["unique_id"] == INGESTION_NODE), None)
            models = sum(r["execution_time"] for r in results["results"] if r["unique_id"].startswith("model."))
            tests = sum(
                r["execution_time"] for r in results["results"] if r["unique_id"].startswith(("test.", "unit_test."))
            )
        listed = next(
            (line.split("  ", 1)[-1] for line in result.stdout.splitlines() if "Landing folder:" in line), None
        )
        return Run(
            wall_seconds=wall,
            dbt_elapsed_seconds=elapsed,
            ingestion_node_seconds=node,
            model_node_seconds=models,
            test_node_seconds=tests,
            new_files_listed=listed,
            full_parse="Unable to do partial parsing" in result.stdout,
            load_average=load_average,
        )


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def measure(root: Path, history: int, repeats: int) -> dict:
    """Land `history` datasets, build once, then time each measurement `repeats` times."""
    workspace = Workspace(root)
    started = time.perf_counter()
    workspace.land_history(history)
    files = workspace.landed()
    log(f"history {history}: landed {len(files)} files in {time.perf_counter() - started:.1f}s; first build (untimed)")
    started = time.perf_counter()
    workspace.dbt(*MEASUREMENTS["full_build"])
    first_build = time.perf_counter() - started
    workspace.save_state()
    runs: dict[str, list[Run]] = {name: [] for name in MEASUREMENTS}
    new_file_lines = []
    for repeat in range(repeats):
        for name, args in MEASUREMENTS.items():  # interleaved, so a slow spell hits every measurement alike
            workspace.restore_state()
            new_file = workspace.land_new_file()
            new_file_lines.append(line_count(new_file))
            run = workspace.dbt(*args)
            runs[name].append(run)
            log(
                f"history {history}, repeat {repeat + 1}/{repeats}, {name}: {run.wall_seconds:.2f}s "
                f"(ingestion node {run.ingestion_node_seconds or 0:.2f}s; {run.new_files_listed})"
            )
    workspace.restore_state()
    row = {
        "history_datasets": history,
        "history_files": len(files),
        "history_lines": sum(line_count(p) for p in files),
        "new_file_lines_median": statistics.median(new_file_lines),
        "first_build_seconds": first_build,
        "warehouse_bytes": workspace.warehouse.stat().st_size,
    }
    for name, measured in runs.items():
        row[f"{name}_seconds"] = median([r.wall_seconds for r in measured])
        row[f"{name}_ingestion_node_seconds"] = median([r.ingestion_node_seconds for r in measured])
        row[f"{name}_model_nodes_seconds"] = median([r.model_node_seconds for r in measured])
        row[f"{name}_test_nodes_seconds"] = median([r.test_node_seconds for r in measured])
        row[f"{name}_dbt_startup_seconds"] = median(
            [r.wall_seconds - r.dbt_elapsed_seconds for r in measured if r.dbt_elapsed_seconds is not None]
        )
        row[f"{name}_runs"] = [r.__dict__ for r in measured]
    row["max_load_average"] = max(r.load_average for measured in runs.values() for r in measured)
    return row


def versions() -> dict:
    found = {}
    for package in ("dbt-core", "dbt-duckdb", "duckdb"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    return found


def fmt_seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def render(result: dict) -> str:
    small, big = result["rows"]
    ratios = result["ratios"]
    columns = [
        ("incremental bronze", "incremental_bronze_seconds"),
        ("full-refresh bronze", "full_refresh_bronze_seconds"),
        ("full build", "full_build_seconds"),
    ]
    node_columns = [
        ("ingest, incr.", "incremental_bronze_ingestion_node_seconds"),
        ("models, incr.", "incremental_bronze_model_nodes_seconds"),
        ("tests, incr.", "incremental_bronze_test_nodes_seconds"),
        ("ingest, full r.", "full_refresh_bronze_ingestion_node_seconds"),
        ("models, full r.", "full_refresh_bronze_model_nodes_seconds"),
    ]

    def label(row: dict) -> str:
        return f"{row['history_datasets']} datasets ({row['history_files']} files, {row['history_lines']:,} lines)"

    width = max(len(label(small)), len(label(big)), 16) + 2
    lines = [
        f"Ingestion scaling: median of {result['settings']['repeats']} runs; before each, ONE new file "
        f"(~{int(small['new_file_lines_median']):,} lines) is landed on top of the history",
        "",
        "dbt wall clock (dbt build --select staging [--full-refresh]; dbt build):",
        "history".ljust(width) + "".join(title.rjust(22) for title, _ in columns),
    ]
    for row in (small, big):
        lines.append(label(row).ljust(width) + "".join(fmt_seconds(row[key]).rjust(22) for _, key in columns))
    lines.append("ratio 10N/N".ljust(width) + "".join(fmt_ratio(ratios[key]).rjust(22) for _, key in columns))
    lines += [
        "",
        "dbt's own node timings in those bronze builds (run_results.json; no start-up): the ingestion node",
        "base_cmapss__landed_lines, and the sums over all staging models and over their data/unit tests:",
        "history".ljust(width) + "".join(title.rjust(17) for title, _ in node_columns),
    ]
    for row in (small, big):
        lines.append(label(row).ljust(width) + "".join(fmt_seconds(row[key]).rjust(17) for _, key in node_columns))
    lines.append("ratio 10N/N".ljust(width) + "".join(fmt_ratio(ratios[key]).rjust(17) for _, key in node_columns))
    lines += [
        "",
        "dbt start-up per invocation (wall clock minus run_results elapsed, incremental bronze): "
        + ", ".join(f"{fmt_seconds(row['incremental_bronze_dbt_startup_seconds'])}" for row in (small, big)),
    ]
    lines += noisy_machine_warning(max(row["max_load_average"] for row in (small, big)), result["environment"]["cpus"])
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ingestion_scaling", description=__doc__.split("\n")[0])
    parser.add_argument("--history", type=int, default=10, help="N: the smaller history, in datasets (default 10)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement; the median is kept")
    parser.add_argument("--workdir", type=Path, help="where to build (default: a temp folder, removed afterwards)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the JSON result (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    new_files_needed = 2 * len(MEASUREMENTS) * args.repeats
    if args.repeats < 1:  # the message below said 'need 1 <= history', of a history of 10
        raise SystemExit(f"need --repeats >= 1, not {args.repeats}")
    if args.history < 1 or 10 * args.history + new_files_needed > DATASET_NAMES:
        raise SystemExit(f"need 1 <= history and 10 * history + {new_files_needed} <= {DATASET_NAMES} dataset names")
    temporary = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="pdm-ingestion-scaling-")) if temporary else args.workdir.resolve()
    started = time.perf_counter()
    project_state = git_state()  # before the runs: the code measured
    try:
        rows = []
        for history in (args.history, 10 * args.history):
            root = workdir / f"history_{history}"
            if root.exists():
                shutil.rmtree(root)  # only the benchmark's own subfolder, from an earlier run
            rows.append(measure(root, history, args.repeats))
    finally:
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)
    small, big = rows
    ratio_keys = [
        f"{name}_{measure}"
        for name in MEASUREMENTS
        for measure in ("seconds", "ingestion_node_seconds", "model_nodes_seconds", "test_nodes_seconds")
    ]
    result = {
        "benchmark": "ingestion_scaling",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {
            "history": args.history,
            "repeats": args.repeats,
            "history_dataset_units": HISTORY_UNITS,
            "new_file_train_units": NEW_FILE_TRAIN_UNITS,
            "commands": {name: f"dbt {' '.join(cmd)}" for name, cmd in MEASUREMENTS.items()},
        },
        "environment": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            **versions(),
            "git": project_state,
        },
        "rows": rows,
        "ratios": {key: ratio(big[key], small[key]) for key in ratio_keys},
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
