"""Publish the gold marts as versioned Delta tables (`python -m lakehouse.publish`), run after `dbt build`.

    python -m lakehouse.publish                              # every table of schema `gold`
    python -m lakehouse.publish --tables dim_units,mart_fleet_health
    python -m lakehouse.publish --history                    # every version of every published table
    python -m lakehouse.publish --history mart_fleet_health  # one table

Each table lands in `<lake>/gold/<table>/` (`Paths.lake`, env `PDM_LAKE_PATH`). How it works:

- The warehouse is opened READ-ONLY, so publishing never takes the write lock and can run beside
  analysts' read-only sessions (it does not wait: while `dbt build` holds the file, it fails at
  once with a clear message).
- Every table gets an order-independent content fingerprint computed in DuckDB (see `fingerprint`).
  It is stored in the commit's custom metadata (`pdm.fingerprint`, with `pdm.rows`); when the latest
  Delta version carries the same fingerprint nothing is written. So one publish adds exactly one
  Delta version per changed table and none per unchanged table; the first publish creates version 0.
- Data is exported to Arrow ordered by the table's primary key (all columns when it has none), so
  the files written are deterministic, and written with `mode="overwrite", schema_mode="merge"`:
  one atomic commit per table. Readers of the latest version see the old or the new version,
  never a mix; readers of older versions (`delta_scan(path, version => N)`) keep reading their
  version unchanged, since nothing is ever vacuumed here.
- Schema evolution: a NEW column is published as a new version (older versions read without it).
- Schema enforcement: a column whose type CHANGED, or a column that was DROPPED from the warehouse,
  is refused with `SchemaEnforcementError` naming table, column, old and new type. Dropped columns
  are refused like type changes because readers of the latest version select them: with schema
  merge, Delta would silently keep the column and fill it with NULLs. Every table is checked
  before any is written, so a refused publish leaves the whole lake at its previous versions
  (gold tables that join to each other stay in step). To really change or drop a column, publish
  it under a new name (add the new column, keep the old one until readers have moved).

Delta is read back through DuckDB's delta extension (`lakehouse.lake`), never with
`DeltaTable.to_pyarrow_table()` (aborts the process at exit on this stack, see STACK.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Schema, write_deltalake

from lakehouse import lake as lakelib
from ml.config import Paths

LAYER = "gold"
FINGERPRINT_ALGORITHM = "pdm-fp-1"
# Keys this module writes into each commit's custom metadata (they appear in DeltaTable.history()).
META_FINGERPRINT = "pdm.fingerprint"
META_ROWS = "pdm.rows"
META_SOURCE = "pdm.source"
META_ADDED_COLUMNS = "pdm.added_columns"
META_ALGORITHM = "pdm.fingerprint_algorithm"


class PublishError(RuntimeError):
    """Publishing could not run (no warehouse, warehouse locked, unknown table, unstorable type)."""


@dataclass(frozen=True)
class SchemaViolation:
    """One column of one table whose published Delta schema the warehouse would break."""

    table: str
    column: str
    old_type: str  # the Delta type readers currently see
    new_type: str | None  # the Delta type the warehouse now has; None when the column was dropped
    version: int  # the Delta version that stays the latest

    def __str__(self) -> str:
        where = f"{LAYER}.{self.table}"
        if self.new_type is None:
            return (
                f"{where}: column {self.column!r} ({self.old_type}) was dropped from the warehouse "
                f"but readers of the published Delta table (v{self.version}) depend on it"
            )
        return (
            f"{where}: column {self.column!r} changed type from {self.old_type} "
            f"(published v{self.version}) to {self.new_type}"
        )


class SchemaEnforcementError(PublishError):
    """The warehouse changed or dropped a column of an already published table; nothing was written."""

    def __init__(self, violations: Sequence[SchemaViolation]) -> None:
        self.violations = list(violations)
        lines = [str(v) for v in self.violations]
        super().__init__(
            "schema enforcement refused the publish, no table was written:\n  "
            + "\n  ".join(lines)
            + "\nKeep the published type (cast in the model), or add the data as a new column "
            "and keep the old one until its readers have moved."
        )


@dataclass(frozen=True)
class Fingerprint:
    """What a table's content hashes to; equal fingerprints mean nothing to publish."""

    digest: str
    rows: int

    @property
    def short(self) -> str:
        return self.digest[:12]


@dataclass(frozen=True)
class PublishResult:
    """The outcome for one table: its latest Delta version, and whether this publish wrote it."""

    name: str  # table name in schema gold, e.g. "mart_fleet_health"
    version: int
    changed: bool
    rows: int
    fingerprint: str = ""
    path: Path | None = None

    def summary(self) -> str:
        if self.changed:
            return f"{LAYER}.{self.name}: v{self.version} ({self.rows} rows)"
        return f"{LAYER}.{self.name}: unchanged at v{self.version} ({self.rows} rows)"


@dataclass(frozen=True)
class HistoryEntry:
    """One version of one published Delta table, as `--history` prints it."""

    table: str
    version: int
    timestamp: datetime | None
    operation: str
    rows: int | None
    fingerprint: str | None
    added_columns: tuple[str, ...] = ()

    def line(self, width: int = 0) -> str:
        """One line; `width` pads the table name so several tables' lines align."""
        when = self.timestamp.strftime("%Y-%m-%dT%H:%M:%SZ") if self.timestamp else "?"
        rows = f"{self.rows:>9,} rows" if self.rows is not None else "        ? rows"
        fp = f"fp {self.fingerprint[:12]}" if self.fingerprint else "fp ?"
        added = f"  +columns {','.join(self.added_columns)}" if self.added_columns else ""
        return f"{LAYER}.{self.table:<{width}}  v{self.version:<3} {when}  {self.operation:<8}{rows}  {fp}{added}"


# ----------------------------------------------------------------------------- the warehouse side


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _qualified(table: str) -> str:
    return f"{_ident(LAYER)}.{_ident(table)}"


def gold_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Tables (and views) of schema gold in the connected warehouse, by name."""
    rows = con.execute(
        "select table_name from information_schema.tables "
        "where table_catalog = current_database() and table_schema = ? order by table_name",
        [LAYER],
    ).fetchall()
    return [r[0] for r in rows]


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    """(column name, DuckDB type) in table order."""
    return [
        (name, dtype)
        for name, dtype in con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_catalog = current_database() and table_schema = ? and table_name = ? "
            "order by ordinal_position",
            [LAYER, table],
        ).fetchall()
    ]


def primary_key(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The primary-key columns of gold.<table> (in key order), or [] when it has none."""
    row = con.execute(
        "select constraint_column_names from duckdb_constraints() "
        "where database_name = current_database() and schema_name = ? and table_name = ? "
        "and constraint_type = 'PRIMARY KEY'",
        [LAYER, table],
    ).fetchone()
    return list(row[0]) if row else []


def fingerprint(con: duckdb.DuckDBPyConnection, table: str) -> Fingerprint:
    """An order-independent fingerprint of gold.<table>, computed inside DuckDB.

    Each row is hashed whole (DuckDB `hash()` of the row as a struct, 64 bits); the row hashes are
    combined with two commutative aggregates: their exact sum (as HUGEINT, so duplicated or removed
    duplicate rows change it) and their XOR. The row count, the column names and DuckDB types (in
    order) and the algorithm name go in too, and SHA-256 of all that is the fingerprint. So any
    changed value, row, column name, column type or column order changes it; row order does not.
    """
    columns = table_columns(con, table)
    names = {name for name, _ in columns}
    alias = "__pdm_row"
    while alias in names:
        alias += "_"
    rows, hash_sum, hash_xor = con.execute(
        f"select count(*), coalesce(sum(hash({alias})::hugeint), 0)::varchar, "
        f"coalesce(bit_xor(hash({alias})), 0)::varchar from {_qualified(table)} as {alias}"
    ).fetchone()
    payload = json.dumps(
        {
            "algorithm": FINGERPRINT_ALGORITHM,
            "rows": rows,
            "columns": [[name, dtype] for name, dtype in columns],
            "hash_sum": hash_sum,
            "hash_xor": hash_xor,
        },
        sort_keys=True,
    )
    return Fingerprint(digest=hashlib.sha256(payload.encode()).hexdigest(), rows=int(rows))


def export_sql(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """The SELECT exporting gold.<table> in a deterministic order: by primary key, else by every column."""
    order = primary_key(con, table) or [name for name, _ in table_columns(con, table)]
    return f"select * from {_qualified(table)} order by {', '.join(_ident(c) for c in order)}"


def _reader(con: duckdb.DuckDBPyConnection, sql: str) -> pa.RecordBatchReader:
    result = con.execute(sql).arrow()
    return (
        result
        if isinstance(result, pa.RecordBatchReader)
        else pa.RecordBatchReader.from_batches(result.schema, result.to_batches())
    )


# ------------------------------------------------------------------------------ the Delta side


def delta_type(data_type: object) -> str:
    """A Delta type as readable text: long, double, decimal(18,3), array<string>, struct<a: long>..."""
    if hasattr(data_type, "element_type"):
        return f"array<{delta_type(data_type.element_type)}>"
    if hasattr(data_type, "key_type"):
        return f"map<{delta_type(data_type.key_type)}, {delta_type(data_type.value_type)}>"
    if hasattr(data_type, "fields"):
        return "struct<" + ", ".join(f"{f.name}: {delta_type(f.type)}" for f in data_type.fields) + ">"
    return str(data_type.type)


def _delta_columns(schema: Schema) -> dict[str, str]:
    return {field.name: delta_type(field.type) for field in schema.fields}


def _arrow_to_delta_columns(table: str, arrow_schema: pa.Schema) -> dict[str, str]:
    try:
        return _delta_columns(Schema.from_arrow(arrow_schema))
    except Exception as exc:  # deltalake raises its own types; turn them into one clear message
        raise PublishError(
            f"{LAYER}.{table}: its columns can't be stored in Delta ({exc}); cast them in the model"
        ) from exc


def _latest_fingerprint(table: DeltaTable) -> str | None:
    commits = table.history(limit=1)
    return commits[0].get(META_FINGERPRINT) if commits else None


@dataclass
class _Plan:
    name: str
    path: Path
    fingerprint: Fingerprint
    current_version: int | None  # None: not published yet
    changed: bool
    added_columns: list[str]


def _plan(con: duckdb.DuckDBPyConnection, lake: Path, table: str) -> tuple[_Plan, list[SchemaViolation]]:
    path = lakelib.mart_path(lake, table, LAYER)
    fp = fingerprint(con, table)
    if not DeltaTable.is_deltatable(str(path)):
        return _Plan(table, path, fp, None, True, []), []
    published = DeltaTable(str(path))
    version = published.version()
    if _latest_fingerprint(published) == fp.digest:
        return _Plan(table, path, fp, version, False, []), []
    old = _delta_columns(published.schema())
    new = _arrow_to_delta_columns(table, _reader(con, f"select * from {_qualified(table)} limit 0").schema)
    violations = [
        SchemaViolation(table, column, old_type, new.get(column), version)
        for column, old_type in old.items()
        if new.get(column) != old_type
    ]
    added = [column for column in new if column not in old]
    return _Plan(table, path, fp, version, True, added), violations


def _write(con: duckdb.DuckDBPyConnection, plan: _Plan) -> int:
    data = _reader(con, export_sql(con, plan.name))
    if plan.current_version is None:
        _arrow_to_delta_columns(plan.name, data.schema)  # a clear error before creating anything
    metadata = {
        META_FINGERPRINT: plan.fingerprint.digest,
        META_ROWS: str(plan.fingerprint.rows),
        META_SOURCE: f"{LAYER}.{plan.name}",
        META_ALGORITHM: FINGERPRINT_ALGORITHM,
    }
    if plan.added_columns:
        metadata[META_ADDED_COLUMNS] = ",".join(plan.added_columns)
    plan.path.parent.mkdir(parents=True, exist_ok=True)
    write_deltalake(
        str(plan.path),
        data,
        mode="overwrite",
        schema_mode="merge",
        name=f"{LAYER}.{plan.name}" if plan.current_version is None else None,
        commit_properties=CommitProperties(custom_metadata=metadata),
    )
    return lakelib.latest_version(plan.path)


def _open_warehouse(warehouse: Path) -> duckdb.DuckDBPyConnection:
    if not Path(warehouse).exists():
        raise PublishError(f"no warehouse at {warehouse}: run `dbt build` (or `make build`) first")
    try:
        return duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise PublishError(f"can't open the warehouse {warehouse} read-only (is `dbt build` running?): {exc}") from exc


def _select_tables(available: list[str], requested: Sequence[str] | None) -> list[str]:
    if requested is None:
        return available
    wanted = []
    for raw in requested:
        name = raw.strip().removeprefix(f"{LAYER}.")
        if not name:
            continue
        if name not in available:
            raise PublishError(f"no table {LAYER}.{name} in the warehouse; it has: {', '.join(available) or 'none'}")
        if name not in wanted:
            wanted.append(name)
    return wanted


def publish(warehouse: Path, lake: Path, tables: list[str] | None = None) -> list[PublishResult]:
    """Publish gold tables of `warehouse` (all, or those named) to `<lake>/gold/<table>/` as Delta.

    Writes one Delta version per table whose content fingerprint changed, none otherwise. Raises
    `SchemaEnforcementError` (before writing anything) if a published column changed type or was
    dropped, and `PublishError` if the warehouse can't be opened or a named table doesn't exist.
    """
    with _open_warehouse(warehouse) as con:
        names = _select_tables(gold_tables(con), tables)
        plans: list[_Plan] = []
        violations: list[SchemaViolation] = []
        for name in names:  # check every table before writing any
            plan, problems = _plan(con, Path(lake), name)
            plans.append(plan)
            violations += problems
        if violations:
            raise SchemaEnforcementError(violations)
        results = []
        for plan in plans:
            version = _write(con, plan) if plan.changed else plan.current_version
            results.append(
                PublishResult(
                    plan.name, version, plan.changed, plan.fingerprint.rows, plan.fingerprint.digest, plan.path
                )
            )
    return results


# ------------------------------------------------------------------------------------- history


def published_tables(lake: Path) -> list[str]:
    """Names of the Delta tables under <lake>/gold/."""
    root = Path(lake) / LAYER
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "_delta_log").is_dir())


def history(lake: Path, table: str | None = None) -> list[HistoryEntry]:
    """Every version of every published table (or of `table`), oldest first per table."""
    names = published_tables(lake)
    if table is not None:
        table = table.removeprefix(f"{LAYER}.")
        if table not in names:
            raise PublishError(
                f"no published Delta table {LAYER}.{table} under {Path(lake) / LAYER}; "
                f"published: {', '.join(names) or 'none'}"
            )
        names = [table]
    entries = []
    for name in names:
        for commit in sorted(
            DeltaTable(str(lakelib.mart_path(lake, name, LAYER))).history(), key=lambda c: c["version"]
        ):
            rows = commit.get(META_ROWS)
            if rows is None:  # a commit not made by this module: an overwrite's added rows are all its rows
                rows = (commit.get("operationMetrics") or {}).get("num_added_rows")
            stamp = commit.get("timestamp")
            added = commit.get(META_ADDED_COLUMNS)
            entries.append(
                HistoryEntry(
                    table=name,
                    version=int(commit["version"]),
                    timestamp=datetime.fromtimestamp(stamp / 1000, tz=UTC) if stamp is not None else None,
                    operation=str(commit.get("operation", "?")),
                    rows=int(rows) if rows is not None else None,
                    fingerprint=commit.get(META_FINGERPRINT),
                    added_columns=tuple(added.split(",")) if added else (),
                )
            )
    return entries


# ----------------------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lakehouse.publish",
        description="Publish the gold marts of the DuckDB warehouse as versioned Delta tables "
        "under $PDM_LAKE_PATH/gold/<table>/ (run after dbt build).",
    )
    parser.add_argument("--tables", help="comma-separated gold tables to publish (default: every one)")
    parser.add_argument(
        "--history",
        nargs="?",
        const="",
        metavar="TABLE",
        help="print every version of every published table (or of TABLE) instead of publishing",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    paths = Paths.from_env()
    try:
        if args.history is not None:
            entries = history(paths.lake, args.history or None)
            if not entries:
                print(f"nothing published under {paths.lake / LAYER} yet: run `python -m lakehouse.publish`")
            width = max((len(entry.table) for entry in entries), default=0)
            for entry in entries:
                print(entry.line(width))
            return 0
        tables = args.tables.split(",") if args.tables is not None else None
        for result in publish(paths.warehouse, paths.lake, tables):
            print(result.summary())
    except PublishError as exc:
        print(f"publish: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
