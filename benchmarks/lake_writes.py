"""What a publish wrote to the lake: the Delta commits it added to each table, read from their logs.

A benchmark takes `versions(lake)` before a publish and `writes_since(lake, before)` after it: per
table, the commits, the data files written and removed and their bytes, and the table's files and
bytes at its new latest version. The share of the table a publish rewrote (bytes removed over the
table's bytes) is its write amplification: a per-unit publish replaces whole files, each holding many
units besides the ones it replaces (Delta without deletion vectors, which deltalake does not write,
is copy-on-write)."""

from __future__ import annotations

import statistics
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable

from lakehouse import lake as lakelib
from lakehouse.publish import LAYER, published_tables


def versions(lake: Path) -> dict[str, int]:
    """The latest committed version of every table in `<lake>/gold` (tables never committed left out)."""
    return {table: lakelib.latest_version(lakelib.mart_path(lake, table)) for table in published_tables(lake)}


def table_files(table_path: Path) -> tuple[int, int]:
    """The data files of the table's latest version, and their bytes."""
    sizes = pa.table(DeltaTable(str(table_path)).get_add_actions(flatten=True)).column("size_bytes").to_pylist()
    return len(sizes), sum(sizes)


def writes_since(lake: Path, before: dict[str, int]) -> dict[str, dict]:
    """Per table with commits newer than `before` (a table absent there: every commit): what they wrote."""
    writes = {}
    for table, latest in versions(lake).items():
        first = before.get(table, -1) + 1
        if first > latest:
            continue
        path = lakelib.mart_path(lake, table, LAYER)
        commits = [lakelib.commit_files(path, version) for version in range(first, latest + 1)]
        known = [c for c in commits if c is not None]
        files, size = table_files(path)
        writes[table] = {
            "commits": len(commits),
            "files_written": sum(c.added for c in known),
            "bytes_written": sum(c.added_bytes for c in known),
            "files_removed": sum(c.removed for c in known),
            "bytes_removed": sum(c.removed_bytes for c in known),
            "table_files": files,
            "table_bytes": size,
            "unreadable_commits": len(commits) - len(known),
        }
    return writes


def median_writes(runs: list[dict[str, dict]], table: str) -> dict | None:
    """The median of each figure over the runs that wrote `table` (None when none did)."""
    wrote = [run[table] for run in runs if table in run]
    if not wrote:
        return None
    return {key: statistics.median(w[key] for w in wrote) for key in wrote[0]} | {"runs": len(wrote)}


def describe(writes: dict) -> str:
    """`files written 2 (40.1 MiB), removed 1 (32.0 MiB), of 5 (150.2 MiB): 21 % of the table rewritten`."""
    rewritten = writes["bytes_removed"] / writes["table_bytes"] if writes["table_bytes"] else 0.0
    return (
        f"files written {writes['files_written']:g} ({lakelib.size_text(int(writes['bytes_written']))}), "
        f"removed {writes['files_removed']:g} ({lakelib.size_text(int(writes['bytes_removed']))}), "
        f"of {writes['table_files']:g} ({lakelib.size_text(int(writes['table_bytes']))}): "
        f"{100 * rewritten:.0f} % of the table rewritten"
    )
