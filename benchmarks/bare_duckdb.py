"""Run benchmarks/bare_duckdb.sql: the bronze -> gold transforms as one plain DuckDB script.

    python -m benchmarks.bare_duckdb --landing PATH --database PATH [--memory-limit 8GB] [--temp-directory PATH]

It reads the landing folder's files (and its registry extract) and writes the tables
quarantined_lines, sensor_readings, rul_truth and fct_unit_cycle_features into the given DuckDB
file (replaced if it exists), then prints one line with the row counts. The engine-limit
baseline of benchmarks/scale.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import duckdb

from ml.config import REGISTRY_FILE_NAME, REGISTRY_SUBDIR

SCRIPT = Path(__file__).with_name("bare_duckdb.sql")
OUTPUT_TABLES = ("quarantined_lines", "sensor_readings", "rul_truth", "fct_unit_cycle_features")


def run(
    landing: Path, database: Path, memory_limit: str | None = None, temp_directory: Path | None = None
) -> dict[str, int]:
    """Build the tables from `landing` into `database`; returns each output table's row count."""
    registry = landing / REGISTRY_SUBDIR / REGISTRY_FILE_NAME
    if not any(p.is_file() for p in landing.glob("*")):
        raise SystemExit(f"bare_duckdb: no files in the landing folder {landing}")
    if not registry.is_file():
        raise SystemExit(f"bare_duckdb: no registry extract at {registry} (the script needs one)")
    database.parent.mkdir(parents=True, exist_ok=True)
    database.unlink(missing_ok=True)
    Path(f"{database}.wal").unlink(missing_ok=True)
    with duckdb.connect(str(database)) as con:
        if memory_limit:
            con.execute(f"set memory_limit = '{memory_limit}'")
        if temp_directory:
            con.execute(f"set temp_directory = '{temp_directory}'")
        con.execute("set variable landing_glob = ?", [str(landing / "*")])
        con.execute("set variable registry_path = ?", [str(registry)])
        con.execute(SCRIPT.read_text())
        return {table: con.execute(f"select count(*) from {table}").fetchone()[0] for table in OUTPUT_TABLES}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bare_duckdb", description=__doc__.split("\n")[0])
    parser.add_argument("--landing", type=Path, required=True, help="the landing folder to read")
    parser.add_argument("--database", type=Path, required=True, help="the DuckDB file to write (replaced)")
    parser.add_argument("--memory-limit", help="DuckDB memory_limit, e.g. 8GB (default: DuckDB's)")
    parser.add_argument("--temp-directory", type=Path, help="where DuckDB spills (default: next to the database)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    counts = run(args.landing.resolve(), args.database.resolve(), args.memory_limit, args.temp_directory)
    print(
        f"bare DuckDB: {', '.join(f'{t} {n:,}' for t, n in counts.items())} "
        f"in {time.perf_counter() - started:.1f}s -> {args.database}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
