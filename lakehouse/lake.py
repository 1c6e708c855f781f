"""Reading the Delta lake: DuckDB with the `delta` extension shipped in duckdb-extension-delta.

Delta tables are read through DuckDB's `delta_scan(path, version => N)` rather than
deltalake's `to_pyarrow_table()`, which makes the process abort at exit (exit code 134) with
the pinned deltalake 1.6 and pyarrow 25.

A table folder without a committed Delta version (never published, or a first publish that was
killed before its commit) is "not published yet": `require_version` and `latest_version` raise
`TableNotPublishedError` with a message saying so, never deltalake's raw `TableNotFoundError`.
A table whose log can't be read (a commit file truncated, emptied or deleted) raises `UnreadableLogError`
from `open_table`, naming the table's folder and the damaged file, never deltalake's raw `DeltaError`.

Time travel by time: `version_as_of(path, "2026-11-23T10:00")` is the version that was current
then (the newest whose commit time is at or before it; a time without a zone is UTC).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import duckdb_extension_delta
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError

from ml.config import first_line

DELTA_EXTENSION = next(
    Path(duckdb_extension_delta.__file__).parent.glob(f"extensions/v{duckdb.__version__}/delta.duckdb_extension"),
    None,
)


class LakeError(RuntimeError):
    """A lake operation could not run; the message says which table or file, and what to do."""


class TableNotPublishedError(LakeError):
    """There is no committed Delta version at a table's path (yet)."""


class VersionVacuumedError(LakeError):
    """A version is in the table's log, but a vacuum (`make optimize`, `make erase PURGE=1`) deleted its files."""


class UnreadableLogError(LakeError):
    """A table's `_delta_log` is there but can't be read: a commit file is damaged or missing."""


_shared: tuple[int, duckdb.DuckDBPyConnection] | None = None  # (pid, the process's in-memory database)
_shared_lock = threading.Lock()


def connect(database: str | Path = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the delta extension loaded from the installed wheel (no download).

    In memory (the default), a new connection (a cursor) to one in-memory database per process, which
    loads the extension once: a load verifies the extension's signature, a hash of its 83 MB file, ~0.17 s
    per database, paid by every step of a watcher's tick that reads the lake. Each connection has its own
    transactions, session settings and temporary objects; what one attaches, creates in `memory` or sets
    globally is seen by the others, so readers create temporary views and detach what they attach.
    A database file gets a database of its own, the extension loaded in it."""
    if DELTA_EXTENSION is None:
        raise RuntimeError(
            f"duckdb-extension-delta has no extension for duckdb {duckdb.__version__}: "
            "install the versions pinned in requirements.txt"
        )
    if str(database) == ":memory:" and not read_only:
        return _in_memory_connection()
    return _with_delta(duckdb.connect(str(database), read_only=read_only))


def _with_delta(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """`con` with the delta extension installed from the wheel and loaded, and DuckDB's external file
    cache off.

    That cache keeps the bytes of every file a database reads (the lake's Parquet files) in its buffer
    pool, evicted only under the memory limit (80 % of RAM by default): in the process's in-memory
    database, which a watcher keeps for as long as it runs, it held every file its ticks read, the ones
    compaction and new versions had since replaced too, and the watcher's memory grew without a plateau
    (213 MiB of a 2 M-reading lake after one read of each gold table). The lake is on local disk: the
    operating system's page cache serves a re-read."""
    con.execute(f"install '{DELTA_EXTENSION}'")
    con.execute("load delta")
    con.execute("set enable_external_file_cache = false")
    return con


def _in_memory_connection() -> duckdb.DuckDBPyConnection:
    """A new connection to the process's in-memory database, made with the extension loaded the first time
    (again in a forked child: a database is not carried over a fork)."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared[0] != os.getpid():
            _shared = (os.getpid(), _with_delta(duckdb.connect(":memory:")))
        return _shared[1].cursor()


def delta_scan_sql(table_path: Path, version: int | None = None) -> str:
    """The SQL table expression reading `table_path`, at `version` or the latest.

    The delta extension 1.5.5 keeps each scan's metadata for the life of the process (duckdb-delta issue
    #279; `python -m benchmarks.delta_scan_memory`): a long-lived process pays per scan, which is why the
    watcher has `--max-memory`."""
    quoted = str(table_path).replace("'", "''")
    if version is None:
        return f"delta_scan('{quoted}')"
    return f"delta_scan('{quoted}', version => {int(version)})"


def log_damage(table_path: Path) -> str | None:
    """Which commit file of the table's `_delta_log` is damaged: missing (a gap in the versions since the
    newest checkpoint, or since v0), empty, or not JSON; None when every one reads."""
    log = Path(table_path) / "_delta_log"
    commits = {int(f.name[:-5]): f for f in log.glob("*.json") if f.name[:-5].isdigit()}
    if not commits:
        return None
    checkpoints = [
        int(f.name.split(".")[0]) for f in log.glob("*.checkpoint*.parquet") if f.name.split(".")[0].isdigit()
    ]
    start = max((c for c in checkpoints if c <= max(commits)), default=0)
    for version in range(start, max(commits) + 1):
        file = commits.get(version)
        if file is None:
            if version != start or start not in checkpoints:
                return f"{log / f'{version:020d}.json'} is missing"
            continue
        try:
            lines = [line for line in file.read_text().splitlines() if line.strip()]
            for line in lines:
                json.loads(line)
        except (OSError, ValueError) as exc:
            return f"{file} can't be read as JSON ({exc})"
        if not lines:
            return f"{file} is empty"
    return None


def open_table(table_path: Path, version: int | None = None) -> DeltaTable:
    """The Delta table at `table_path` (at `version`: the latest by default). Raises `UnreadableLogError`,
    naming the folder and the damaged commit file (`log_damage`), when deltalake can't read its log."""
    try:
        return DeltaTable(str(table_path), version=version)
    except DeltaError as exc:
        reason = first_line(exc)
        damage = log_damage(table_path)
        raise UnreadableLogError(
            f"the Delta table {table_path} can't be read ({reason}"
            + (f"; {damage}" if damage else "")
            + "): put its log file back from a backup, or move the table's folder away and run "
            "`python -m lakehouse.publish` again (its versions then start again at v0)"
        ) from None


def is_published(table_path: Path) -> bool:
    """Whether `table_path` holds a Delta table with at least one committed version."""
    return DeltaTable.is_deltatable(str(table_path))


def not_published_message(table_path: Path) -> str:
    """Why there is nothing to read at `table_path`, and what to run."""
    path = Path(table_path)
    if path.is_dir():
        why = (
            "its folder holds no committed Delta version (a first publish was interrupted; "
            "the next `python -m lakehouse.publish` completes it)"
        )
    else:
        why = "it has not been published yet"
    return f"no published Delta table at {path}: {why}; run `dbt build` then `python -m lakehouse.publish`"


def require_version(table_path: Path, version: int | None = None) -> int:
    """The Delta version to read at `table_path`: the latest, or `version` once checked to exist.

    Raises `TableNotPublishedError` when there is no committed version there, `LakeError` when
    `version` is not one of the table's versions, and `VersionVacuumedError` when a vacuum deleted
    its files. Readers (training, scoring, drift) call this before `delta_scan` so a missing table
    or version is a one-line message, not a traceback.
    """
    if not is_published(table_path):
        raise TableNotPublishedError(not_published_message(table_path))
    latest = open_table(table_path).version()
    if version is None:
        return latest
    if not 0 <= int(version) <= latest:
        raise LakeError(f"{table_path} has no version {int(version)} (its versions are 0 to {latest})")
    if int(version) < latest:  # a vacuum keeps the latest version's files, and may have deleted an older one's
        files = open_table(table_path, int(version)).file_uris()  # local paths here
        missing = [uri for uri in files if "://" not in uri and not Path(uri).exists()]
        if missing:
            raise VersionVacuumedError(
                f"{table_path} v{int(version)} can't be read: a vacuum deleted its data files ({len(missing)} of "
                f"{len(files)}, e.g. {Path(missing[0]).name}); read a later version (`make history` lists them)"
            )
    return int(version)


def parse_timestamp(when: str | datetime) -> datetime:
    """`when` as an aware UTC datetime: ISO-8601 text (`2026-11-23`, `2026-11-23T10:00`, `...+01:00`, `...Z`)
    or a datetime. A time without a zone is taken as UTC."""
    if isinstance(when, datetime):
        moment = when
    else:
        text = str(when).strip()
        try:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise LakeError(
                f"can't read {when!r} as a time: give ISO-8601, e.g. 2026-11-23T10:00:00 (UTC) "
                "or 2026-11-23T11:00:00+01:00"
            ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def commit_times(table_path: Path) -> dict[int, datetime]:
    """Every committed version of the table at `table_path` with its commit time (UTC), oldest first."""
    if not is_published(table_path):
        raise TableNotPublishedError(not_published_message(table_path))
    commits = open_table(table_path).history()
    return {
        int(c["version"]): datetime.fromtimestamp(c["timestamp"] / 1000, tz=UTC)
        for c in sorted(commits, key=lambda c: c["version"])
    }


def version_as_of(table_path: Path, timestamp: str | datetime) -> int:
    """The newest Delta version of `table_path` whose commit time is at or before `timestamp`.

    `timestamp` is ISO-8601 text or a datetime; one without a time zone is read as UTC. Raises
    `LakeError` naming the table and its first commit time when `timestamp` is older than the
    table, and `TableNotPublishedError` when it has no committed version.
    """
    moment = parse_timestamp(timestamp)
    times = commit_times(table_path)
    eligible = [version for version, committed in times.items() if committed <= moment]
    if not eligible:
        first = min(times.values())
        raise LakeError(
            f"{table_path} did not exist at {moment.isoformat()}: its first version (v{min(times)}) "
            f"was committed at {first.isoformat()}"
        )
    return max(eligible)


def latest_version(table_path: Path) -> int:
    """The newest committed version of a Delta table (`TableNotPublishedError` if there is none)."""
    return require_version(table_path)


@dataclass(frozen=True)
class CommitFiles:
    """The data files one Delta commit added and removed, and their bytes (what it cost to write)."""

    added: int
    added_bytes: int
    removed: int
    removed_bytes: int

    def describe(self) -> str:
        """`2 files written (64.1 MiB), 1 removed (32.0 MiB)`: what a publish line says of its commit."""
        written = f"{self.added} file{'s' * (self.added != 1)} written ({size_text(self.added_bytes)})"
        return written + (f", {self.removed} removed ({size_text(self.removed_bytes)})" if self.removed else "")


def size_text(size: int) -> str:
    """Bytes as people read them: `812 B`, `4.1 KiB`, `32.0 MiB`, `1.24 GiB`."""
    if size < 1024:
        return f"{size} B"
    if size < 1024**2:
        return f"{size / 1024:.1f} KiB"
    if size < 1024**3:
        return f"{size / 1024**2:.1f} MiB"
    return f"{size / 1024**3:.2f} GiB"


def commit_actions(table_path: Path, version: int) -> list[dict] | None:
    """The actions of commit `version` of the table at `table_path` (`add`, `remove`, `metaData`, ...), read
    from its log file (`_delta_log/<version>.json`); None when that file can't be read (cleaned up after a
    checkpoint, or not written)."""
    try:
        lines = (table_path / "_delta_log" / f"{version:020d}.json").read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]
    except (OSError, ValueError):
        return None


def commit_files(table_path: Path, version: int) -> CommitFiles | None:
    """The data files commit `version` of the table at `table_path` added and removed (`commit_actions`);
    None when its log file can't be read."""
    actions = commit_actions(table_path, version)
    if actions is None:
        return None
    added = [action["add"] for action in actions if "add" in action]
    removed = [action["remove"] for action in actions if "remove" in action]
    return CommitFiles(
        added=len(added),
        added_bytes=sum(int(a.get("size") or 0) for a in added),
        removed=len(removed),
        removed_bytes=sum(int(r.get("size") or 0) for r in removed),
    )


def mart_path(lake: Path, mart: str, layer: str = "gold") -> Path:
    """Where a published table lives: <lake>/<layer>/<mart>/."""
    return lake / layer / mart
