"""The same project on dbt-spark (local[2]) and on dbt-duckdb: the first build of one fleet, timed.

For each size it lands a fresh fleet (the scale benchmark's plan, benchmarks/scale.py) and runs the
real `dbt build` on it, once with `--target ci` (DuckDB) and once with `--target spark` (dbt-spark,
method session, local[2], parquet), one after the other, and reports each wall clock and the ratio.
Where Spark's time goes is read from its run_results.json: the JVM start (the wall clock less the
nodes' own time), the models and the tests, and the slowest nodes.

    python -m benchmarks.spark_vs_duckdb --sizes 200k [--workdir PATH]

Needs the Spark dependencies (make install-spark) and Java.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.reporting import log
from benchmarks.scale import fleet_plan, parse_size, size_label
from ml.config import REPO_ROOT
from ml.simulate import land_fleet

DBT = str(Path(sys.executable).with_name("dbt"))
TARGETS = {"duckdb": "ci", "spark": "spark"}


def build(target: str, env: dict[str, str]) -> tuple[float, list[dict]]:
    """One `dbt build`: its wall clock and its nodes' timings (run_results.json)."""
    started = time.perf_counter()
    result = subprocess.run(
        [DBT, "build", "--target", target, "--vars", "{landing_settle_seconds: 0}"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"dbt build --target {target} failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}")
    results = json.loads((Path(env["DBT_TARGET_PATH"]) / "run_results.json").read_text())["results"]
    return seconds, [{"node": r["unique_id"], "seconds": r["execution_time"]} for r in results]


def where_time_goes(wall: float, nodes: list[dict], threads: int = 2) -> dict:
    by_kind: dict[str, float] = {}
    for node in nodes:
        kind = node["node"].split(".")[0]
        by_kind[kind] = by_kind.get(kind, 0.0) + node["seconds"]
    busy = sum(by_kind.values()) / threads
    return {
        "outside_nodes_seconds": round(max(wall - busy, 0.0), 1),
        "node_seconds_by_kind": {kind: round(seconds, 1) for kind, seconds in sorted(by_kind.items())},
        "slowest_nodes": [
            {"node": n["node"], "seconds": round(n["seconds"], 1)}
            for n in sorted(nodes, key=lambda n: -n["seconds"])[:8]
        ],
    }


def measure(root: Path, readings: int) -> dict:
    landing = root / "landing"
    for spec in fleet_plan(readings):
        land_fleet(spec, landing)
    row: dict = {"size": size_label(readings)}
    for engine, target in TARGETS.items():
        env = {
            **os.environ,
            "DBT_PROFILES_DIR": str(REPO_ROOT),
            "PDM_DATA_DIR": str(root / engine),
            "PDM_LANDING_PATH": str(landing),
            "PDM_WAREHOUSE_PATH": str(root / engine / "pdm.duckdb"),
            "PDM_SPARK_DIR": str(root / engine / "spark"),
            "DBT_TARGET_PATH": str(root / engine / "target"),
            "DBT_LOG_PATH": str(root / engine / "logs"),
        }
        log(f"{row['size']}: dbt build --target {target} ...")
        seconds, nodes = build(target, env)
        row[engine] = {"seconds": round(seconds, 1), **where_time_goes(seconds, nodes)}
        log(f"{row['size']}: {engine} {seconds:.1f} s")
    row["spark_over_duckdb"] = round(row["spark"]["seconds"] / row["duckdb"]["seconds"], 2)
    row["load_average"] = os.getloadavg()[0]
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.spark_vs_duckdb", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="200k", help="fleet sizes in readings, comma-separated (default 200k)")
    parser.add_argument("--workdir", type=Path, help="where to build (default: a temp folder, removed afterwards)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="spark_vs_duckdb_") as temp:
        for size in args.sizes.split(","):
            readings = parse_size(size)
            root = (args.workdir or Path(temp)) / size_label(readings)
            rows.append(measure(root, readings))
    print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
