"""What size the lake's data files should be: rewriting a few units against reading the table.

    python -m benchmarks.lake_file_size --warehouse DIR/size_2M/warehouse/pdm.duckdb [--file-sizes-mib 8,16,32,64]
        [--units 10] [--repeats 3] [--read-repeats 9] [--workdir PATH] [--output data/benchmarks/lake_file_size.json]

Delta as deltalake writes it is copy-on-write: a publish replacing a few units rewrites every file
holding any of them (benchmarks/README.md, "What a publish rewrites"). Smaller files rewrite fewer
bytes; readers then open more files. For each target file size, with the warehouse of a fleet the
scale benchmark built (`--keep` or `--workdir`; opened read-only, never changed), it:

1. publishes `gold.fct_unit_cycle_features` whole into a lake of its own, the publish's own writer
   with `lakehouse.publish.TARGET_FILE_SIZE` set to that size (wall clock, files, bytes);
2. replaces `--units` units spread evenly over the table's units in unit_id order (the order the
   files hold them), another set at each repeat, as a per-unit publish does (the publish's writer,
   "units" mode: one commit, `predicate="unit_id in (...)"`): wall clock, files and bytes written and
   removed, read back from the commit's log;
3. once every size's lake is written, times what readers do on each, interleaved (round by round,
   size by size, so a machine slowing down mid-run slows every size alike), each read in a fresh
   DuckDB connection with the delta extension (`lakehouse.lake`), at the latest version: a scan of
   two columns of every row (an analyst's aggregate), every column of one unit (a look-up), every
   column of 50 units (`ml.data.read_unit_rows`, what scoring reads for changed units), and each
   unit's latest cycle (`ml.data.latest_cycles`, what the fleet's scores start from).

Times are medians (min-max) of `--repeats` commits and `--read-repeats` reads; the rows are the same
at every size (the warehouse's), so the reads are compared on the same data.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from benchmarks.reporting import git_state, log
from lakehouse import lake as lakelib
from lakehouse import publish as publishing
from ml import data
from ml.config import REPO_ROOT, whole_numbers_from

TABLE = "fct_unit_cycle_features"
DEFAULT_OUTPUT = REPO_ROOT / "data" / "benchmarks" / "lake_file_size.json"
MIB = 1024 * 1024
SCORED_UNITS = 50  # units read whole by the 50-unit read


def spread_units(units: list[str], count: int, shift: int) -> tuple[str, ...]:
    """`count` units evenly spread over `units` (sorted), starting `shift` units in."""
    step = len(units) / count
    return tuple(sorted({units[(int(i * step) + shift) % len(units)] for i in range(count)}))


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def reads(path: Path, units: list[str]) -> dict[str, Callable[[], object]]:
    """The reader workloads, each a function running it once."""
    one = units[len(units) // 2]
    scored = list(spread_units(units, SCORED_UNITS, 7))

    def scan(sql: str) -> Callable[[], object]:
        def run() -> object:
            with lakelib.connect() as con:
                return con.execute(sql.format(t=lakelib.delta_scan_sql(path))).fetchall()

        return run

    version = lakelib.latest_version(path)
    return {
        "scan two columns": scan("select count(*), avg(cycle), max(unit_id) from {t}"),
        "one unit": scan(f"select * from {{t}} where unit_id = '{one}'"),
        f"{SCORED_UNITS} units": lambda: data.read_unit_rows(path, version, scored, ["rul"]),
        "latest cycle per unit": lambda: data.latest_cycles(path, version),
    }


@contextmanager
def target_file_size(size: int) -> Iterator[None]:
    """The publish's writer cuts files at `size` bytes meanwhile (it reads the constant at each write)."""
    kept = publishing.TARGET_FILE_SIZE
    publishing.TARGET_FILE_SIZE = size
    try:
        yield
    finally:
        publishing.TARGET_FILE_SIZE = kept


def measure(warehouse: Path, root: Path, file_size: int, unit_count: int, repeats: int) -> dict:
    with target_file_size(file_size):
        return _written_at(warehouse, root, file_size, unit_count, repeats)


def _written_at(warehouse: Path, root: Path, file_size: int, unit_count: int, repeats: int) -> dict:
    """Steps 1 and 2 at one file size; the lake stays for the reads."""
    lake = root / f"lake_{file_size // MIB}MiB"
    shutil.rmtree(lake, ignore_errors=True)
    path = lakelib.mart_path(lake, TABLE)
    first_seconds = timed(lambda: publishing.publish(warehouse, lake, [TABLE], refresh_analysts=False))
    first = lakelib.commit_files(path, 0)
    row: dict = {
        "file_size_mib": file_size // MIB,
        "first_publish_seconds": first_seconds,
        "files": first.added,
        "bytes": first.added_bytes,
        "rewrites": [],
    }
    log(f"[{file_size // MIB} MiB] first publish {first_seconds:.1f} s, {first.added} files")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        units = [u for (u,) in con.execute(f"select distinct unit_id from gold.{TABLE} order by 1").fetchall()]
        fingerprint = publishing.fingerprint(con, TABLE)
        for repeat in range(repeats):
            replaced = spread_units(units, unit_count, shift=repeat + 1)
            plan = publishing._Plan(TABLE, path, fingerprint, lakelib.latest_version(path), True, [], "units", replaced)
            seconds = timed(lambda plan=plan: publishing._write(con, plan))
            files = lakelib.commit_files(path, lakelib.latest_version(path))
            row["rewrites"].append({"seconds": seconds, **asdict(files)})
            log(f"[{file_size // MIB} MiB] {unit_count} units replaced: {seconds:.1f} s, {files.describe()}")
    row["rewrite_seconds"] = summary([r["seconds"] for r in row["rewrites"]])
    row["rewrite_bytes"] = summary([r["added_bytes"] + r["removed_bytes"] for r in row["rewrites"]])
    row["units"] = units
    return row


def time_reads(root: Path, rows: list[dict], repeats: int) -> None:
    """Each read on each size's lake, interleaved (round by round, size by size), so a machine that
    slows down during the run slows every size alike; the medians go into each row's `reads`."""
    workloads = {
        row["file_size_mib"]: reads(
            lakelib.mart_path(root / f"lake_{row['file_size_mib']}MiB", TABLE), row.pop("units")
        )
        for row in rows
    }
    for runs in workloads.values():
        for run in runs.values():
            run()  # a first run, not timed: the file system's cache warm for every size alike
    times: dict[int, dict[str, list[float]]] = {size: {name: [] for name in runs} for size, runs in workloads.items()}
    for _ in range(repeats):
        for size, runs in workloads.items():
            for name, run in runs.items():
                times[size][name].append(timed(run))
    for row in rows:
        row["reads"] = {name: summary(values) for name, values in times[row["file_size_mib"]].items()}
        log(
            f"[{row['file_size_mib']} MiB] reads: "
            + ", ".join(f"{n} {v['median']:.2f} s" for n, v in row["reads"].items())
        )


def render(result: dict) -> str:
    rows = result["rows"]
    names = list(rows[0]["reads"])
    header = ["file size", "files", "first publish", f"{result['settings']['units']} units replaced", "MiB rewritten"]
    lines = [
        f"Lake file size: {result['settings']['warehouse']}, {TABLE}; medians (min-max) of "
        f"{result['settings']['repeats']} commits and {result['settings']['read_repeats']} reads (interleaved over "
        f"the sizes). Commit {result['git']['commit']}"
        + (" + uncommitted changes" if result["git"]["uncommitted_changes"] else ""),
        "",
        " | ".join(header + names),
        " | ".join("---" for _ in header + names),
    ]

    def fmt(s: dict) -> str:
        return f"{s['median']:.2f} s ({s['min']:.2f}-{s['max']:.2f})"

    for row in rows:
        cells = [
            f"{row['file_size_mib']} MiB",
            str(row["files"]),
            f"{row['first_publish_seconds']:.1f} s",
            fmt(row["rewrite_seconds"]),
            f"{row['rewrite_bytes']['median'] / MIB:.0f} ({row['rewrite_bytes']['min'] / MIB:.0f}-"
            f"{row['rewrite_bytes']['max'] / MIB:.0f})",
        ] + [fmt(row["reads"][name]) for name in names]
        lines.append(" | ".join(cells))
    lines.append("")
    lines.append("MiB rewritten: bytes written + bytes removed by the replacing commit.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lake_file_size", description=__doc__.split("\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="a built warehouse (the scale benchmark's)")
    parser.add_argument(
        "--file-sizes-mib",
        type=whole_numbers_from(1, "8,16,32,64"),
        default="8,16,32,64",
        help="target data file sizes to compare, MiB (default: 8,16,32,64)",
    )
    parser.add_argument("--units", type=int, default=10, help="units replaced per commit (default 10)")
    parser.add_argument("--repeats", type=int, default=3, help="commits replacing units, per size (default 3)")
    parser.add_argument("--read-repeats", type=int, default=9, help="timed runs of each read, per size (default 9)")
    parser.add_argument("--workdir", type=Path, help="where the lakes go (default: a temp folder, removed)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the JSON result (default: %(default)s)")
    args = parser.parse_args(argv)
    if not args.warehouse.is_file():
        raise SystemExit(f"no warehouse at {args.warehouse}: run `python -m benchmarks.scale --keep` first")
    if min(args.repeats, args.read_repeats, args.units) < 1:
        raise SystemExit("need --repeats, --read-repeats and --units >= 1")
    root = args.workdir.resolve() if args.workdir else Path(tempfile.mkdtemp(prefix="pdm-file-size-"))
    root.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    project_state = git_state()  # before the runs: the code measured
    try:
        rows = [measure(args.warehouse, root, size * MIB, args.units, args.repeats) for size in args.file_sizes_mib]
        time_reads(root, rows, args.read_repeats)
    finally:
        if args.workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    result = {
        "benchmark": "lake_file_size",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {
            "warehouse": str(args.warehouse),
            "units": args.units,
            "repeats": args.repeats,
            "read_repeats": args.read_repeats,
        },
        "git": project_state,
        "rows": rows,
        "total_seconds": time.perf_counter() - started,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(render(result))
    print(f"\n(total {result['total_seconds']:.0f}s)\nwritten to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
