"""The analysts' database: a small DuckDB file of views over the published Delta tables (`make sql`).

    python -m lakehouse.analysts                     # refresh it now, and say where it is
    python -m lakehouse.analysts sql                 # open it in the DuckDB CLI, read-only (`make sql`)
    python -m lakehouse.analysts sql --query "..."   # run one query, print the result, exit (`make sql Q=...`)

The file (env `PDM_ANALYSTS_DB`, default `analysts.duckdb` in the lake's folder, so
`data/lake/analysts.duckdb`: it is derived from the lake alone, so whatever knows the lake knows where
it is, and `make clean` leaves it with the lake) holds no data, only what reads the lake:

- `gold.<table>`: one view per published table under `<lake>/gold/`, each pinned to the Delta version
  that was the latest when the file was refreshed (`delta_scan(path, version => N)`); `audit.<table>`
  the same for the tables under `<lake>/audit/` (the erasure records). Refreshes run under the lake
  lock, so the pinned versions are all from one state of the lake: a query joining marts never mixes
  two publishes. The view comments name the version and its commit time.
- `delta_versions`: every version of every published table (layer, table_name, version, committed_at UTC,
  operation, row_count, fingerprint: the `pdm.*` commit metadata `lakehouse.publish` writes), with
  `is_pinned` marking the version the views read.
- `analysts_refreshes`: one row, the lake the file reads and when it was refreshed.
- Macros: `gold_version(table_name, delta_version)` reads any version of a table (a table macro:
  `from gold_version('mart_fleet_health', 3)`); `gold_version_at(table_name, moment)` is the version
  that was current at a time (`delta_versions`; NULL before the table existed, which `gold_version` refuses,
  saying so). DuckDB does not take a
  sub-query in a table function's argument, so reading a table as of a time is two statements:
  `set variable v = gold_version_at('mart_fleet_health', '2026-11-23 10:00');`
  `from gold_version('mart_fleet_health', getvariable('v'));`

Readers are never blocked and never see a partial file: a refresh writes the new file under a temporary
name beside the target (`.<name>.refreshing.duckdb`), checkpoints and closes it, then `os.replace`s it
over the old one. A session that opened the old file keeps reading it (its views pin versions that
stay readable until `make optimize` or `make watch` vacuums them, 168 h after they were replaced by
default); the next session opens the new one. Nothing here locks the warehouse, so `make sql` works while
`dbt build` or a publish runs.

The views hold the lake's absolute path as it was at refresh time (the `PDM_*` paths in force): any
DuckDB client can open the file as it is. `python -m lakehouse.analysts sql` rebuilds the file first
when it is missing or was built for another lake path (a moved data folder). Who refreshes it:
`lakehouse.publish` at the end of every publish that committed a version (or when the file is missing
or pins other versions than the lake's latest) unless told `--no-analysts` (the watcher's first publish
of a tick: its last one refreshes it), `lakehouse.restore` and `lakehouse.erase` after their commits,
the watcher when a tick fails after a publish, and this module's CLI. A refresh that fails raises
`AnalystsError` naming the file; the lake's commits stand, and readers keep the previous file.
A gold table whose latest version is a RESTORE commit still holding erased units (`pdm.erased_units_pending`:
the restore stopped before its second commit deleted them again) is not pinned: the refresh raises
`AnalystsError` naming it, until the restore is run again or a publish writes over that version.

A refresh writes over nothing but an analysts' database: a DuckDB file whose `main` schema holds the tables
every refresh writes, `analysts_refreshes` and `delta_versions`, with their columns (`check_replaceable`).
When the path names anything else (a directory, a file DuckDB can't open, another DuckDB database such as a
copy of the warehouse, even an empty one), the refresh, `make sql` included, stops naming the path and why,
and writes nothing, not even the temporary file beside it. A missing file is created.

The CLI is the pinned `duckdb-cli` of `.venv` (same version as the engine); it loads the delta
extension shipped in `duckdb-extension-delta` itself (`-cmd "load '<path>'"`) and sets the session's
time zone to UTC (a time without a zone is read as UTC, as everywhere in the project).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from lakehouse import lake as lakelib
from lakehouse import publish as publishing
from lakehouse.lock import DEFAULT_TIMEOUT_S, add_lock_timeout_option, lake_lock
from ml.config import REPO_ROOT, Paths

ENV_VAR = "PDM_ANALYSTS_DB"
FILE_NAME = "analysts.duckdb"
# Layers of the lake the file reads: <lake>/<layer>/<table>/ becomes the view <layer>.<table>.
LAYERS = (publishing.LAYER, "audit")
VERSIONS_TABLE = "delta_versions"
REFRESHES_TABLE = "analysts_refreshes"
DUCKDB_CLI = Path(sys.executable).with_name("duckdb")
VERSIONS_SCHEMA = pa.schema(
    [
        ("layer", pa.string()),
        ("table_name", pa.string()),
        ("version", pa.int64()),
        ("committed_at", pa.timestamp("us", tz="UTC")),
        ("operation", pa.string()),
        ("row_count", pa.int64()),
        ("fingerprint", pa.string()),
    ]
)


class AnalystsError(lakelib.LakeError):
    """The analysts' database could not be refreshed or opened; the message names the file."""


def default_database(lake: Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """Where the analysts' database lives: `$PDM_ANALYSTS_DB`, else `analysts.duckdb` in the lake's folder.

    `lake` defaults to the one `ml.config.Paths` resolves from the environment; a relative
    `PDM_ANALYSTS_DB` is taken relative to the repo root, like the other `PDM_*` paths.
    """
    env = os.environ if environ is None else environ
    if env.get(ENV_VAR):
        path = Path(env[ENV_VAR])
        return path if path.is_absolute() else REPO_ROOT / path
    if lake is None:
        lake = Paths.from_env(env).lake
    return Path(lake) / FILE_NAME


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def published(lake: Path) -> dict[tuple[str, str], int]:
    """(layer, table) -> latest committed version, for every Delta table under the lake's layers."""
    found = {}
    for layer in LAYERS:
        root = Path(lake) / layer
        if not root.is_dir():
            continue
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            if lakelib.is_published(folder):
                found[(layer, folder.name)] = lakelib.open_table(folder).version()
    return found


def _version_row(layer: str, table: str, commit: dict) -> dict:
    rows = commit.get(publishing.META_ROWS)
    overwrite = str((commit.get("operationParameters") or {}).get("mode", "")).lower() == "overwrite"
    if rows is None and overwrite:  # not written by lakehouse.publish: an overwrite's added rows are all its rows
        rows = (commit.get("operationMetrics") or {}).get("num_added_rows")
    stamp = commit.get("timestamp")
    return {
        "layer": layer,
        "table_name": table,
        "version": int(commit["version"]),
        "committed_at": datetime.fromtimestamp(stamp / 1000, tz=UTC) if stamp is not None else None,
        "operation": str(commit.get("operation", "")) or None,
        "row_count": int(rows) if rows is not None else None,
        "fingerprint": commit.get(publishing.META_FINGERPRINT),
    }


def _previous_versions(database: Path, lake: Path) -> list[dict]:
    """The version rows of the current file, when it was built for this lake (so only new commits are read)."""
    if not database.exists():
        return []
    try:
        with duckdb.connect(str(database), read_only=True) as con:
            (built_for,) = con.execute(f"select lake from {REFRESHES_TABLE}").fetchone()
            if built_for != str(lake):
                return []
            table = con.execute(
                f"select layer, table_name, version, committed_at, operation, row_count, fingerprint "
                f"from {VERSIONS_TABLE}"
            ).to_arrow_table()
    except (duckdb.Error, TypeError):  # an older or damaged file: rebuild the list from the Delta logs
        return []
    return table.cast(VERSIONS_SCHEMA).to_pylist()


def version_rows(lake: Path, latest: Mapping[tuple[str, str], int], previous: Sequence[dict]) -> list[dict]:
    """Every version of every table in `latest`, reading only the commits `previous` does not hold."""
    known: dict[tuple[str, str], dict[int, dict]] = {}
    for row in previous:
        known.setdefault((row["layer"], row["table_name"]), {})[row["version"]] = row
    rows = []
    for (layer, table), newest in latest.items():
        have = known.get((layer, table), {})
        if have and max(have) > newest:  # the table was created again since: read it whole
            have = {}
        start = max(have) + 1 if have else 0
        if start <= newest:
            commits = lakelib.open_table(Path(lake) / layer / table).history(limit=newest - start + 1)
            have = {**have, **{int(c["version"]): _version_row(layer, table, c) for c in commits}}
        rows += [have[v] for v in sorted(have) if v <= newest]
    return rows


def pinned_versions(database: Path) -> tuple[str, dict[tuple[str, str], int]] | None:
    """(lake path, {(layer, table): pinned version}) recorded in the file; None if it is missing or unreadable."""
    if not Path(database).exists():
        return None
    try:
        with duckdb.connect(str(database), read_only=True) as con:
            (built_for,) = con.execute(f"select lake from {REFRESHES_TABLE}").fetchone()
            pins = con.execute(f"select layer, table_name, version from {VERSIONS_TABLE} where is_pinned").fetchall()
    except (duckdb.Error, TypeError):
        return None
    return built_for, {(layer, table): int(version) for layer, table, version in pins}


def _marker_columns() -> dict[str, set[str]]:
    """The tables (in `main`) and columns every refresh writes, since the first: what marks an analysts' database."""
    return {REFRESHES_TABLE: {"lake", "refreshed_at", "tables"}, VERSIONS_TABLE: {*VERSIONS_SCHEMA.names, "is_pinned"}}


def check_replaceable(database: Path) -> None:
    """Raise `AnalystsError`, naming `database` and why, unless a refresh may write it: it is missing (it is
    created) or it is an analysts' database (it is replaced). Anything else is someone else's file and is left
    as it is: a directory, a file DuckDB can't open (not a database, or one a writer holds), a DuckDB database
    without the tables and columns `_marker_columns` lists (a copy of the warehouse; an empty DuckDB database
    too: whoever created it may mean to fill it, and deleting it is theirs to decide)."""
    database = Path(database)
    if not os.path.lexists(database):
        return
    hint = f"it was left as it is: point {ENV_VAR} at another file, or move this one away"
    if database.is_dir():
        raise AnalystsError(
            f"{database} is a directory, not the analysts' database (a DuckDB file); nothing was written: "
            f"point {ENV_VAR} at a file (e.g. {database / FILE_NAME})"
        )
    marker = _marker_columns()
    try:
        with duckdb.connect(str(database), read_only=True) as con:
            found = con.execute(
                "select table_name, column_name from duckdb_columns() "
                "where database_name = current_database() and schema_name = 'main' and table_name in (?, ?) "
                "and table_oid in (select table_oid from duckdb_tables())",
                list(marker),
            ).fetchall()
    except duckdb.Error as exc:
        raise AnalystsError(
            f"{database} is not an analysts' database DuckDB can open ({type(exc).__name__}: {exc}); {hint}"
        ) from exc
    columns: dict[str, set[str]] = {}
    for table, column in found:
        columns.setdefault(table, set()).add(column)
    lacking = [f"main.{table}" for table, needed in marker.items() if not needed <= columns.get(table, set())]
    if lacking:
        raise AnalystsError(
            f"{database} is a DuckDB database but not an analysts' database (it lacks {' and '.join(lacking)}, "
            f"the tables every refresh writes); {hint}"
        )


def is_current(lake: Path, database: Path) -> bool:
    """Whether `database` exists, reads this lake, and pins the latest version of every published table."""
    recorded = pinned_versions(database)
    return recorded is not None and recorded == (str(Path(lake).resolve()), published(lake))


CATALOG = "pdm_analysts_refresh"  # the name the file being written is attached under


def _build(con: duckdb.DuckDBPyConnection, lake: Path, latest: Mapping[tuple[str, str], int], rows: list[dict]) -> None:
    """Fill the database attached as CATALOG (views, the versions table, the macros) and checkpoint it."""
    committed = {(r["layer"], r["table_name"], r["version"]): r["committed_at"] for r in rows}
    main = f"{CATALOG}.main"
    for layer in sorted({layer for layer, _ in latest}):
        con.execute(f"create schema {CATALOG}.{_ident(layer)}")
    for (layer, table), version in latest.items():
        path = Path(lake) / layer / table
        view = f"{CATALOG}.{_ident(layer)}.{_ident(table)}"
        con.execute(f"create view {view} as select * from {lakelib.delta_scan_sql(path, version)}")
        when = committed.get((layer, table, version))
        stamp = f", committed {when.isoformat(timespec='milliseconds').replace('+00:00', 'Z')}" if when else ""
        con.execute(f"comment on view {view} is {_literal(f'{layer}.{table} as published: Delta v{version}{stamp}')}")
    versions = pa.Table.from_pylist(rows, schema=VERSIONS_SCHEMA)
    pins = pa.table(
        {
            "layer": [layer for layer, _ in latest],
            "table_name": [table for _, table in latest],
            "version": pa.array(list(latest.values()), pa.int64()),
        }
    )
    con.register("pdm_analysts_versions", versions)
    con.register("pdm_analysts_pins", pins)
    try:
        con.execute(
            f"create table {main}.{VERSIONS_TABLE} as select v.*, p.version is not null as is_pinned "
            "from pdm_analysts_versions as v left join pdm_analysts_pins as p "
            "on v.layer = p.layer and v.table_name = p.table_name and v.version = p.version "
            "order by v.layer, v.table_name, v.version"
        )
    finally:
        con.unregister("pdm_analysts_versions")
        con.unregister("pdm_analysts_pins")
    con.execute(
        f"comment on table {main}.{VERSIONS_TABLE} is 'One row per Delta version of every published table "
        "(commit time UTC, operation, row count and content fingerprint from the pdm.* commit metadata); "
        "is_pinned: the version the views read.'"
    )
    con.execute(
        f"create table {main}.{REFRESHES_TABLE} as select ?::varchar as lake, ?::timestamptz as refreshed_at, "
        "?::integer as tables",
        [str(lake), datetime.now(UTC), len(latest)],
    )
    gold = _literal(str(Path(lake) / publishing.LAYER) + os.sep)
    # a NULL version (gold_version_at before the table's first commit, or of a name not published) made the delta
    # extension fail an internal assertion: "INTERNAL Error: Calling GetValueInternal on a value that is NULL"
    # and a C++ stack trace. Say what it means instead.
    no_version = (
        "'gold_version(''' || table_name || ''', NULL): no Delta version given. gold_version_at gives NULL for a "
        "time before the table''s first commit, or for a table not published: delta_versions lists each "
        "table''s versions and commit times'"
    )
    con.execute(
        f"create macro {main}.gold_version(table_name, delta_version) as table "
        f"select * from delta_scan({gold} || table_name, version => coalesce(delta_version, error({no_version})))"
    )
    con.execute(
        f"create macro {main}.gold_version_at(mart, moment) as ("
        f"select max(version) from {VERSIONS_TABLE} "
        f"where layer = {_literal(publishing.LAYER)} and table_name = mart and committed_at <= moment::timestamptz)"
    )
    con.execute(f"checkpoint {CATALOG}")


def refresh_under_lock(lake: Path, database: Path, con: duckdb.DuckDBPyConnection | None = None) -> Path:
    """Rebuild `database` from the lake as it is now; the caller holds the lake lock (`lakehouse.lock`).

    Writes a temporary file beside `database`, checkpoints and closes it, then renames it over
    `database` (atomic): readers see the old file or the new one, whole. `con`: a connection with the
    delta extension loaded to build it with (publish passes its own: loading the extension costs
    ~0.5 s); by default an in-memory one. Raises `AnalystsError` naming the file, having written nothing,
    when `database` is not an analysts' database (`check_replaceable`) or nothing is published; and when the
    file can't be written.
    """
    lake = Path(lake).resolve()
    database = Path(database)
    check_replaceable(database)
    latest = published(lake)
    if not latest:
        raise AnalystsError(
            f"nothing published under {lake / publishing.LAYER} yet, so the analysts' database {database} "
            "was not written: run `make run` (or `make build publish`)"
        )
    interrupted = [
        f"{layer}.{table} v{version}"
        for (layer, table), version in sorted(latest.items())
        if layer == publishing.LAYER
        and publishing.META_ERASED_PENDING in publishing.latest_commit(lakelib.open_table(lake / layer / table))
    ]
    if interrupted:  # a restore stopped between its RESTORE commit and deleting the erased units again
        raise AnalystsError(
            f"{', '.join(interrupted)}: a restore stopped before deleting the rows of erased units it brought "
            f"back, so the analysts' database {database} was not written (readers keep the previous file): "
            "run `make publish` (or the restore again), which writes over them"
        )
    temporary = database.with_name(f".{database.stem}.refreshing.duckdb")
    own = con is None
    attached = False
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
        rows = version_rows(lake, latest, _previous_versions(database, lake))
        for leftover in (temporary, temporary.with_name(temporary.name + ".wal")):
            leftover.unlink(missing_ok=True)  # a refresh killed mid-way (refreshes never overlap: lake lock)
        if own:
            con = lakelib.connect()
        con.execute(f"attach {_literal(str(temporary))} as {CATALOG} (read_only false)")
        attached = True
        (previous_catalog,) = con.execute("select current_database()").fetchone()
        con.execute(f"use {CATALOG}")  # macro bodies are bound where they are created: in the new file
        try:
            _build(con, lake, latest, rows)
        finally:
            con.execute(f"use {_ident(previous_catalog)}")
        con.execute(f"detach {CATALOG}")
        attached = False
        os.replace(temporary, database)
        directory = os.open(database.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except (OSError, duckdb.Error, RuntimeError) as exc:
        raise AnalystsError(
            f"could not refresh the analysts' database {database} ({type(exc).__name__}: {exc}); "
            "the lake is unchanged and readers keep the previous file, if any"
        ) from exc
    finally:
        if attached:
            with contextlib.suppress(duckdb.Error):  # the error being raised is the one to report
                con.execute(f"detach {CATALOG}")
        if own and con is not None:
            con.close()
        with contextlib.suppress(OSError):  # (an OSError here means there was no temporary to remove)
            temporary.unlink(missing_ok=True)
    return database


def refresh(lake: Path, database: Path | None = None, lock_timeout: float = DEFAULT_TIMEOUT_S) -> Path:
    """Rebuild the analysts' database (`database`, default `default_database(lake)`) under the lake lock.

    Waits up to `lock_timeout` s for a running publish, restore, erase or optimize (`LakeBusyError`
    past it), so the pinned versions are one state of the lake. Returns the file's path.
    """
    database = default_database(lake) if database is None else Path(database)
    with lake_lock(Path(lake), "analysts refresh", lock_timeout):
        return refresh_under_lock(lake, database)


def summary(database: Path) -> str:
    recorded = pinned_versions(database)
    pins = recorded[1] if recorded else {}
    listed = ", ".join(f"{layer}.{table} v{version}" for (layer, table), version in sorted(pins.items()))
    return f"analysts' database {database}: {listed or 'no table'}"


def cli_argv(database: Path, query: str | None = None, options: Sequence[str] = ()) -> list[str]:
    """The DuckDB CLI command `make sql` runs: read-only, delta extension loaded, UTC; `query`: run it and exit."""
    if not DUCKDB_CLI.exists():
        raise AnalystsError(f"no DuckDB CLI at {DUCKDB_CLI}: install the pinned requirements (`make install`)")
    if lakelib.DELTA_EXTENSION is None:
        raise AnalystsError(
            f"duckdb-extension-delta has no extension for duckdb {duckdb.__version__}: "
            "install the versions pinned in requirements.txt"
        )
    argv = [
        str(DUCKDB_CLI),
        "-readonly",
        "-cmd",
        f"load {_literal(str(lakelib.DELTA_EXTENSION))}",
        "-cmd",
        "set TimeZone = 'UTC'",
        *options,
        str(database),
    ]
    return [*argv, "-c", query] if query is not None else argv


def open_sql(paths: Paths, database: Path, query: str | None, lock_timeout: float) -> list[str]:
    """The CLI command for `make sql`, after rebuilding the file if it is missing or reads another lake;
    `AnalystsError` when the path holds something else than an analysts' database (`check_replaceable`)."""
    check_replaceable(database)
    recorded = pinned_versions(database)
    lake = Path(paths.lake).resolve()
    if recorded is None or recorded[0] != str(lake):
        if recorded is not None:
            why = f"built for the lake {recorded[0]}"
        else:
            why = "without a refresh record" if os.path.lexists(database) else "missing"
        print(f"sql: the analysts' database {database} is {why}: refreshing it from {lake}", file=sys.stderr)
        refresh(lake, database, lock_timeout)
    return cli_argv(database, query)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lakehouse.analysts",
        description="Refresh the analysts' database (DuckDB views over the published Delta tables, pinned "
        "to their latest versions), or open it in the DuckDB CLI with `sql`.",
    )
    add_lock_timeout_option(parser)
    commands = parser.add_subparsers(dest="command")
    sql = commands.add_parser("sql", help="open the analysts' database in the DuckDB CLI, read-only")
    sql.add_argument("--query", "-q", help="run this SQL, print the result and exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    paths = Paths.from_env()
    database = default_database(paths.lake)
    try:
        if args.command == "sql":
            command = open_sql(paths, database, args.query, args.lock_timeout)
            sys.stdout.flush()
            sys.stderr.flush()
            os.execv(command[0], command)  # the DuckDB CLI takes over this process (and its exit code)
        refresh(paths.lake, database, args.lock_timeout)
    except lakelib.LakeError as exc:
        print(f"analysts: {exc}", file=sys.stderr)
        return 1
    print(summary(database))
    return 0


if __name__ == "__main__":
    sys.exit(main())
