"""Query a published table at a version or at a point in time (`python -m lakehouse.read`).

    python -m lakehouse.read --table mart_fleet_health                       # latest, first 20 rows
    python -m lakehouse.read --table mart_fleet_health --as-of 2026-11-23T10:00 \\
        --query "select health_band, count(*) from mart_fleet_health group by 1"
    python -m lakehouse.read --table dim_units --version 2

The table is a DuckDB view named after it (over `delta_scan(path, version => N)`), so `--query` is plain
SQL over that name. `--as-of` resolves to the version that was current at that time
(`lakehouse.lake.version_as_of`: no zone = UTC); the first line printed names the version read.
Reads never take the lake lock: a Delta version, once committed, does not change.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import duckdb

from lakehouse import lake as lakelib
from lakehouse.publish import LAYER
from ml.config import Paths


def resolve(lake: Path, table: str, version: int | None = None, as_of: str | None = None) -> tuple[Path, int]:
    """The table's path and the version to read: `version`, the one current at `as_of`, or the latest."""
    path = lakelib.mart_path(Path(lake), table.strip().removeprefix(f"{LAYER}."), LAYER)
    if as_of is not None:
        return path, lakelib.version_as_of(path, as_of)
    return path, lakelib.require_version(path, version)


def query(
    lake: Path, table: str, sql: str | None = None, version: int | None = None, as_of: str | None = None
) -> tuple[int, list[str], list[tuple]]:
    """(version read, column names, rows) of `sql` run over gold.<table> at that version."""
    path, resolved = resolve(lake, table, version, as_of)
    name = path.name
    with lakelib.connect() as con:
        con.execute(f'create temp view "{name}" as select * from {lakelib.delta_scan_sql(path, resolved)}')
        try:
            result = con.execute(sql or f'select * from "{name}" limit 20')
        except duckdb.Error as exc:
            raise lakelib.LakeError(f"query over {LAYER}.{name} v{resolved} failed: {exc}") from exc
        columns = [d[0] for d in result.description]
        return resolved, columns, result.fetchall()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lakehouse.read", description=__doc__.splitlines()[0])
    parser.add_argument("--table", required=True, help="a published table, e.g. mart_fleet_health")
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--version", type=int, help="read this Delta version (default: the latest)")
    when.add_argument("--as-of", help="read the version current at this time (ISO-8601; no zone = UTC)")
    parser.add_argument("--query", help="SQL over a view named after the table (default: its first 20 rows)")
    args = parser.parse_args(argv)
    try:
        version, columns, rows = query(Paths.from_env().lake, args.table, args.query, args.version, args.as_of)
    except lakelib.LakeError as exc:
        print(f"read: {exc}", file=sys.stderr)
        return 1
    print(f"-- {LAYER}.{args.table.removeprefix(f'{LAYER}.')} v{version}")
    print("\t".join(columns))
    for row in rows:
        print("\t".join("" if v is None else str(v) for v in row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
