"""The same project on dbt-spark (local[2]) and on dbt-duckdb: the first build of one fleet, timed.

For each size it lands a fresh fleet (the scale benchmark's plan, benchmarks/scale.py) and runs the
real `dbt build` on it, once with `--target ci` (DuckDB) and once with `--target spark` (dbt-spark,
method session, local[2], parquet), one after the other, and reports each wall clock, CPU time and
peak RSS from the OS and the ratio: `os.wait4` of the dbt process and of every process it leaves
behind (Spark's JVM is a child of dbt's Python, method session, which dbt does not wait for: this
process is made their subreaper, so the JVM's CPU time and RSS are counted when it exits).
Both engines get the same memory: DuckDB's `memory_limit` (`PDM_DUCKDB_MEMORY_LIMIT`, the profile's
6GB) and Spark's driver heap (`PDM_SPARK_DRIVER_MEMORY`, set to the same figure here unless given).
Where each engine's time goes is read from its run_results.json: the time outside the nodes (for
Spark the JVM start and the parse; the wall clock less the nodes' own time over the threads), the
models, the tests, and the slowest nodes.

    python -m benchmarks.spark_vs_duckdb --sizes 200k,2M [--workdir PATH] [--output PATH]

The result is printed and written to data/benchmarks/spark_vs_duckdb.json after each size
(`"partial": true` until the last), so a run stopped at a larger size keeps what it measured.
Needs the Spark dependencies (make install-spark) and Java.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.reporting import git_state, line_count, log, noisy_machine_warning
from benchmarks.scale import fleet_plan, machine, parse_sizes, size_label
from ml.config import REPO_ROOT
from ml.simulate import land_fleet

DBT = str(Path(sys.executable).with_name("dbt"))
TARGETS = {"duckdb": "ci", "spark": "spark"}
DEFAULT_OUTPUT = REPO_ROOT / "data" / "benchmarks" / "spark_vs_duckdb.json"
PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
# the profile's DuckDB memory_limit default; Spark's driver heap gets the same unless set
DEFAULT_MEMORY = "6GB"


def spark_memory(duckdb_limit: str) -> str:
    """DuckDB's '6GB' as a JVM heap size, '6g'."""
    return duckdb_limit.strip().lower().removesuffix("b").replace("i", "")


def build(target: str, env: dict[str, str], log_path: Path) -> dict:
    """One `dbt build`: wall clock, CPU time and peak RSS from the OS, and its nodes' timings."""
    load_average = os.getloadavg()[0]
    with log_path.open("w") as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            [DBT, "build", "--target", target, "--vars", "{landing_settle_seconds: 0}"],
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        cpu_seconds, peak_rss = usage.ru_utime + usage.ru_stime, usage.ru_maxrss
        for orphan in reap_orphans():  # Spark's JVM, reparented here when dbt exited
            cpu_seconds += orphan.ru_utime + orphan.ru_stime
            peak_rss = max(peak_rss, orphan.ru_maxrss)
    if os.waitstatus_to_exitcode(status) != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
        raise SystemExit(f"dbt build --target {target} failed; its log: {log_path}\n{tail}")
    results = json.loads((Path(env["DBT_TARGET_PATH"]) / "run_results.json").read_text())["results"]
    nodes = [{"node": r["unique_id"], "seconds": r["execution_time"]} for r in results]
    return {
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1),
        "peak_rss_bytes": peak_rss * 1024,
        "load_average_at_start": load_average,
        "load_average_at_end": os.getloadavg()[0],
        **where_time_goes(seconds, nodes),
    }


def become_subreaper() -> None:
    """Orphaned descendants of our children (Spark's JVM) are reparented to this process, not to init."""
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SystemExit(f"prctl(PR_SET_CHILD_SUBREAPER) failed: {os.strerror(ctypes.get_errno())}")


def reap_orphans() -> list[os.struct_rusage]:
    """Wait for every process left behind by the step (they exit once dbt has): their resource usage."""
    usages = []
    while True:
        try:
            _, _, usage = os.wait4(-1, 0)
        except ChildProcessError:
            return usages
        usages.append(usage)


def where_time_goes(wall: float, nodes: list[dict], threads: int = 2) -> dict:
    by_kind: dict[str, float] = {}
    count_by_kind: dict[str, int] = {}
    for node in nodes:
        kind = node["node"].split(".")[0]
        by_kind[kind] = by_kind.get(kind, 0.0) + node["seconds"]
        count_by_kind[kind] = count_by_kind.get(kind, 0) + 1
    busy = sum(by_kind.values()) / threads
    return {
        "outside_nodes_seconds": round(max(wall - busy, 0.0), 1),
        "node_seconds_by_kind": {kind: round(seconds, 1) for kind, seconds in sorted(by_kind.items())},
        "nodes_by_kind": dict(sorted(count_by_kind.items())),
        "slowest_nodes": [
            {"node": n["node"], "seconds": round(n["seconds"], 1)}
            for n in sorted(nodes, key=lambda n: -n["seconds"])[:10]
        ],
    }


def measure(root: Path, readings: int, memory: str) -> dict:
    landing = root / "landing"
    for spec in fleet_plan(readings):
        land_fleet(spec, landing)
    lines = sum(line_count(p) for p in landing.iterdir() if p.is_file())
    row: dict = {"size": size_label(readings), "landed_lines": lines}
    for engine, target in TARGETS.items():
        folder = root / engine
        folder.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "DBT_PROFILES_DIR": str(REPO_ROOT),
            "PDM_DATA_DIR": str(folder),
            "PDM_LANDING_PATH": str(landing),
            "PDM_WAREHOUSE_PATH": str(folder / "pdm.duckdb"),
            "PDM_SPARK_DIR": str(folder / "spark"),
            "PDM_DUCKDB_MEMORY_LIMIT": memory,
            "PDM_SPARK_DRIVER_MEMORY": os.environ.get("PDM_SPARK_DRIVER_MEMORY", spark_memory(memory)),
            "DBT_TARGET_PATH": str(folder / "target"),
            "DBT_LOG_PATH": str(folder / "logs"),
        }
        log(f"{row['size']}: dbt build --target {target} ...")
        row[engine] = build(target, env, folder / "build.log")
        log(f"{row['size']}: {engine} {row[engine]['seconds']:.1f} s, CPU {row[engine]['cpu_seconds']:.0f} s")
    row["spark_over_duckdb"] = round(row["spark"]["seconds"] / row["duckdb"]["seconds"], 2)
    row["spark_over_duckdb_cpu"] = round(row["spark"]["cpu_seconds"] / row["duckdb"]["cpu_seconds"], 2)
    return row


def report(rows: list[dict]) -> list[str]:
    out = ["| size | DuckDB | Spark local[2] | Spark / DuckDB (CPU) |", "|---|---|---|---|"]
    for row in rows:
        cells = [
            f"{row[e]['seconds']:.0f} s, CPU {row[e]['cpu_seconds']:.0f} s, {row[e]['peak_rss_bytes'] / 2**30:.2f} GiB"
            for e in TARGETS
        ]
        out.append(
            f"| {row['size']} ({row['landed_lines']:,} lines) | {cells[0]} | {cells[1]} | "
            f"{row['spark_over_duckdb']:.1f}x ({row['spark_over_duckdb_cpu']:.1f}x) |"
        )
    if len(rows) > 1:
        for engine in TARGETS:
            growth = rows[-1][engine]["seconds"] / rows[0][engine]["seconds"]
            out.append(f"{engine}: {rows[-1]['size']} / {rows[0]['size']} = {growth:.1f}x")
    busiest = max(max(r[e]["load_average_at_start"], r[e]["load_average_at_end"]) for r in rows for e in TARGETS)
    return out + noisy_machine_warning(busiest, os.cpu_count())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.spark_vs_duckdb", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", type=parse_sizes, default=[200_000], help="fleet sizes in readings, comma-separated (default 200k)"
    )
    parser.add_argument("--workdir", type=Path, help="where to build (default: a temp folder, removed afterwards)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the JSON result (default: %(default)s)")
    args = parser.parse_args(argv)
    become_subreaper()
    memory = os.environ.get("PDM_DUCKDB_MEMORY_LIMIT", DEFAULT_MEMORY)
    sizes = args.sizes
    result = {
        "benchmark": "spark_vs_duckdb",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {"sizes": [size_label(s) for s in sizes], "memory": memory, "threads": 2},
        "environment": {**machine(), "git": git_state()},
        "rows": [],
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="spark_vs_duckdb_") as temp:
        for readings in sizes:
            root = (args.workdir or Path(temp)) / size_label(readings)
            result["rows"].append(measure(root, readings, memory))
            result["partial"] = len(result["rows"]) < len(sizes)
            result["total_seconds"] = round(time.perf_counter() - started, 1)
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["rows"], indent=2))
    print("\n".join(report(result["rows"])))
    log(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
