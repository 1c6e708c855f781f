"""Does reading a Delta table with DuckDB's `delta_scan` keep memory in the process, and how much per scan?

    python -m benchmarks.delta_scan_memory [--files 1,50,400] [--columns 160] [--scans 200] [--repeats 3]
                                           [--output FILE.json]

Why: a long-running `make watch` grows by ~2 MiB a tick in process (benchmarks/README.md, "latency"), memory in
use, not Python objects. A tick's publishes and its scoring read the lake with `delta_scan` (lakehouse.lake):
up to 14 times a publish (fingerprints of the changed units, the analysts' views), once the scoring. The delta
extension 1.5.5 (the newest on the package index) never frees the scan metadata a scan takes from the Delta
kernel (duckdb/duckdb-delta issue #279, fixed by pull request #360, not in a release yet).

For each file count, a Delta table of that many Parquet files (one append commit each, then a checkpoint, as
`lakehouse.publish` commits; `--columns` float columns, the feature table has 163) is written in a temp
folder. Then, each in a fresh child process (so no run inherits another's heap), `--scans` reads of the whole
table through the process's in-memory lake database (`lakehouse.lake.connect`, as the watcher reads), after 5
warm-up reads:

* `delta_scan`: `select count(*) from delta_scan(table)`;
* `read_parquet` (the baseline, in the same run): the same files read by their paths, no Delta log.

The child reports glibc's heap in use (`mallinfo2`: small blocks in use plus mmapped blocks) and the resident
set (`VmRSS`, /proc) before and after, with the Python garbage collected. Printed per file count and reader: KiB
kept per scan and MiB per 100 scans (heap, RSS), median and range over `--repeats` children. A fixed extension
shows ~0 for `delta_scan`, as `read_parquet` does: re-run this after upgrading `duckdb-extension-delta`.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa

from benchmarks.reporting import git_state, log
from lakehouse import lake
from lakehouse.watch_restart import resident_memory
from ml.config import whole_numbers_from

READERS = ("delta_scan", "read_parquet")
WARM_UP = 5


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks")
    ] + [("keepcost", ctypes.c_size_t)]


def heap_in_use() -> int | None:
    """Bytes glibc's malloc has handed out and not had back (None without glibc 2.33's mallinfo2)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
    except (OSError, AttributeError):
        return None
    info = libc.mallinfo2()
    return int(info.uordblks + info.hblkhd)


def resident() -> int:
    """This process's resident set in bytes (the watcher's own reading, `resident_memory`)."""
    rss = resident_memory()
    if rss is None:
        raise RuntimeError("no VmRSS in /proc/self/status: this benchmark needs Linux")
    return rss


def write_table(path: Path, files: int, columns: int) -> None:
    """A Delta table of `files` Parquet files of 200 rows (a unit id, a cycle and `columns` float columns, each
    with its statistics in the log), one append commit each, then a checkpoint."""
    from deltalake import DeltaTable, write_deltalake

    for k in range(files):
        values = {f"sensor_{c:03d}": [float(k + c)] * 200 for c in range(columns)}
        rows = pa.table({"unit_id": [f"U{k:04d}"] * 200, "cycle": list(range(200)), **values})
        write_deltalake(str(path), rows, mode="append")
    DeltaTable(str(path)).create_checkpoint()


def child(table: Path, reader: str, scans: int) -> dict:
    """In this process: `scans` reads of `table` with `reader`, and what the heap and RSS kept."""
    con = lake.connect()
    if reader == "delta_scan":
        source = lake.delta_scan_sql(table)
    else:
        from deltalake import DeltaTable

        files = [uri.removeprefix("file://") for uri in DeltaTable(str(table)).file_uris()]
        source = "read_parquet([" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "])"
    query = f"select count(*) from {source}"
    for _ in range(WARM_UP):
        con.execute(query).fetchall()
    gc.collect()
    heap0, rss0 = heap_in_use(), resident()
    for _ in range(scans):
        con.execute(query).fetchall()
    gc.collect()
    heap1, rss1 = heap_in_use(), resident()
    return {
        "heap_bytes": None if heap0 is None or heap1 is None else heap1 - heap0,
        "rss_bytes": rss1 - rss0,
        "scans": scans,
    }


def run_child(table: Path, reader: str, scans: int) -> dict:
    command = [sys.executable, "-m", "benchmarks.delta_scan_memory", "--child", str(table), "--reader", reader]
    done = subprocess.run(
        [*command, "--scans", str(scans)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the {reader} child failed on {table}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def versions() -> dict:
    import deltalake

    with lake.connect() as con:
        row = con.execute("select extension_version from duckdb_extensions() where extension_name = 'delta'").fetchone()
    return {
        "duckdb": duckdb.__version__,
        "delta_extension": row[0] if row else None,
        "deltalake": deltalake.__version__,
    }


def render(results: list[dict], meta: dict) -> str:
    lines = [
        f"duckdb {meta['versions']['duckdb']}, delta extension {meta['versions']['delta_extension']}, "
        f"deltalake {meta['versions']['deltalake']}; tables of {meta['columns']} float columns; "
        f"{meta['scans']} scans per child after {WARM_UP} warm-up, "
        f"{meta['repeats']} children each; median (min-max)",
        "",
        "| files | reader | heap kept per scan (KiB) | heap per 100 scans (MiB) | RSS per 100 scans (MiB) |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        heap = r["heap_kib_per_scan"]
        heap_cell = "n/a" if heap is None else f"{heap['median']:.1f} ({heap['min']:.1f}-{heap['max']:.1f})"
        per100 = r["heap_mib_per_100"]
        per100_cell = "n/a" if per100 is None else f"{per100['median']:.1f} ({per100['min']:.1f}-{per100['max']:.1f})"
        rss = r["rss_mib_per_100"]
        lines.append(
            f"| {r['files']} | {r['reader']} | {heap_cell} | {per100_cell} | "
            f"{rss['median']:.1f} ({rss['min']:.1f}-{rss['max']:.1f}) |"
        )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.delta_scan_memory", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--files",
        type=whole_numbers_from(1, "1,50,400"),
        default="1,50,400",
        help="comma-separated file counts of the table (%(default)s)",
    )
    parser.add_argument(
        "--columns", type=int, default=160, help="float columns, like the feature table's (%(default)s)"
    )
    parser.add_argument("--scans", type=int, default=200, help="reads per child (%(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="children per file count and reader (%(default)s)")
    parser.add_argument("--output", type=Path, default=None, help="also write the figures as JSON")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--reader", choices=READERS, default="delta_scan", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, args.reader, args.scans)))
        return 0
    if args.scans < 1 or args.repeats < 1:
        print("delta-scan-memory: --scans and --repeats must be at least 1", file=sys.stderr)
        return 2
    counts = args.files
    results = []
    with tempfile.TemporaryDirectory(prefix="pdm-delta-scan-memory-") as folder:
        for files in counts:
            table = Path(folder) / f"table_{files}"
            log(f"writing a Delta table of {files} files, {args.columns} float columns ...")
            write_table(table, files, args.columns)
            for reader in READERS:
                runs = [run_child(table, reader, args.scans) for _ in range(args.repeats)]
                heaps = [r["heap_bytes"] for r in runs]
                known = None not in heaps
                results.append(
                    {
                        "files": files,
                        "reader": reader,
                        "heap_kib_per_scan": _spread([h / 1024 / args.scans for h in heaps]) if known else None,
                        "heap_mib_per_100": _spread([h / 2**20 * 100 / args.scans for h in heaps]) if known else None,
                        "rss_mib_per_100": _spread([r["rss_bytes"] / 2**20 * 100 / args.scans for r in runs]),
                        "runs": runs,
                    }
                )
                log(f"{files} files, {reader}: {results[-1]['rss_mib_per_100']['median']:.1f} MiB RSS per 100 scans")
    meta = {
        "columns": args.columns,
        "scans": args.scans,
        "repeats": args.repeats,
        "versions": versions(),
        "git": git_state(),
    }
    print(render(results, meta))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
