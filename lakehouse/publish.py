"""Publish the gold marts as versioned Delta tables (`python -m lakehouse.publish`), run after `dbt build`.

    python -m lakehouse.publish                              # every table of schema `gold`
    python -m lakehouse.publish --tables dim_units,mart_fleet_health
    python -m lakehouse.publish --history                    # every version of every table (VACUUMED: unreadable)
    python -m lakehouse.publish --history mart_fleet_health  # one table
    python -m lakehouse.publish --history --as-of 2026-11-23T10:00  # the version of each table current then (UTC)

Each table lands in `<lake>/gold/<table>/` (`Paths.lake`, env `PDM_LAKE_PATH`). How it works:

- The warehouse is opened READ-ONLY, so publishing never takes the write lock and can run beside
  analysts' read-only sessions (it does not wait: while `dbt build` holds the file, it fails at
  once with a clear message).
- One writer at a time: a publish holds the lake's lock (`lakehouse.lock`, `<lake>/.lake.lock`) from
  planning to its last commit. A second publisher prints the holder's PID and waits (`--lock-timeout`,
  default 600 s), then plans again against what the first one committed: so two publishes started
  together, or `make run` twice with nothing new, add no version the second time.
- Every table gets an order-independent content fingerprint computed in DuckDB (see `fingerprint`).
  It is stored in the commit's custom metadata (`pdm.fingerprint`, with `pdm.rows` and the raw row-hash
  aggregates `pdm.hash_sum` / `pdm.hash_xor`); when the latest Delta version carries the same
  fingerprint nothing is written. So one publish adds exactly one Delta version per changed table and
  none per unchanged table; the first publish creates version 0.
- Unit-keyed tables (key starting with `unit_id`; a table's key is its primary key, or its entry in
  `UNINDEXED_KEYS`) are published incrementally when the warehouse has the change log
  `silver.int_unit_change_log`: the units named there since the table's last applied change
  (`pdm.changes_through` in its latest commit) are compared unit by unit; for a table whose model
  records the units its incremental builds rewrote (`silver.unit_rewrites`, the per-unit models'
  delete pre-hook), only those, so a cause the model does not take (new risk scores for every unit,
  for the feature table) costs no read at all. The comparison: row count and hash
  aggregates of the published rows, read back from Delta and cast to the warehouse types, against
  the warehouse's rows), and those that differ are replaced in ONE commit (`write_deltalake(...,
  mode="overwrite", predicate="unit_id in (...)")`), which rewrites only the files holding those
  units; other units keep their files (a unit named for a cause that does not touch this table, say
  a new risk score for the feature table, is not rewritten; no unit differs: no commit). The
  fingerprint is updated without a full read: the old rows' hash aggregates of those units are taken
  out and the new rows' put in, which gives the same digest as a full fingerprint. When the log
  names more than `MAX_UNITS_PER_COMMIT` units, every unit is compared (one pass over the published
  version and one over the warehouse table). With no change log, no `pdm.changes_through` yet, a
  full-rebuild marker newer than it, a whole rebuild of the table's model newer than it
  (`silver.unit_model_rebuilds`: a full refresh of that model alone, after its SQL or a var changed,
  names no unit in the log), a new column, or more than `MAX_UNITS_PER_COMMIT` units that differ, the
  table is compared, and written, whole instead. Other tables are small (per file, per equipment
  model) and are always compared and written whole.
- Data is streamed from DuckDB in record batches (`BATCH_ROWS`) ordered by the table's key (all
  columns when it has none), so the files are deterministic and memory stays flat as tables grow
  (DuckDB sorts within `PDM_PUBLISH_MEMORY_LIMIT`, spilling to `<lake>/.publish-spill`). A
  unit-keyed table, written whole or by units, is sorted one range of units at a time
  (`EXPORT_RANGE_ROWS`), in unit order, so neither memory nor the spill grows with the table or the
  commit. Files are cut at `TARGET_FILE_SIZE`, so a unit's rows sit in one or two files. Whole
  writes use `mode="overwrite", schema_mode="merge"`. Each write is one atomic commit per table:
  readers of the latest version see the old or the new version, never a mix; readers of older
  versions (`delta_scan(path, version => N)`) keep reading their version (only `make optimize` and
  `make watch` vacuum, past the retention, and both keep every version a registered model was trained on).
- A publish killed mid-way leaves every table at a committed version: the tables it had finished at
  their new version, the others at their previous one (a table whose first write was cut off has a
  folder with no committed version: "not published yet", see `lakehouse.lake.require_version`). The
  next publish completes the rest.
- Schema evolution: a NEW column is published as a new version (older versions read without it).
- Schema enforcement: a column whose type CHANGED, or a column that was DROPPED from the warehouse,
  is refused with `SchemaEnforcementError` naming table, column, old and new type. Dropped columns
  are refused like type changes because readers of the latest version select them: with schema
  merge, Delta would silently keep the column and fill it with NULLs. Every table is checked
  before any is written, so a refused publish leaves the whole lake at its previous versions
  (gold tables that join to each other stay in step). To really change or drop a column, publish
  it under a new name (add the new column, keep the old one until readers have moved).

- The analysts' database (`lakehouse.analysts`: DuckDB views over these tables, pinned to their latest
  versions) is rebuilt at the end of a publish that committed a version, or when it is missing or pins
  other versions than the lake's latest, still under the lake lock. If that fails the command exits 1
  naming the file and what was committed (the commits stand; readers keep the previous file).

Delta is read back through DuckDB's delta extension (`lakehouse.lake`), never with
`DeltaTable.to_pyarrow_table()` (with deltalake 1.6 and pyarrow 25 it makes the process abort at exit).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
from deltalake import (
    CommitProperties,
    DeltaTable,
    PostCommitHookProperties,
    Schema,
    WriterProperties,
    write_deltalake,
)

from lakehouse import lake as lakelib
from lakehouse.lock import DEFAULT_TIMEOUT_S, add_lock_timeout_option, lake_lock
from ml.config import Paths, first_line

LAYER = "gold"
FINGERPRINT_ALGORITHM = "pdm-fp-1"
# Keys this module writes into each commit's custom metadata (they appear in DeltaTable.history()).
META_FINGERPRINT = "pdm.fingerprint"
META_ROWS = "pdm.rows"
META_SOURCE = "pdm.source"
META_ADDED_COLUMNS = "pdm.added_columns"
META_ALGORITHM = "pdm.fingerprint_algorithm"
META_HASH_SUM = "pdm.hash_sum"  # sum of the row hashes (decimal text), for incremental fingerprints
META_HASH_XOR = "pdm.hash_xor"  # xor of the row hashes (decimal text)
META_SCHEMA = "pdm.schema"  # sha256 of the (column, DuckDB type) list the hashes were computed on
META_CHANGES_THROUGH = "pdm.changes_through"  # newest change-log `changed_at` this version includes
META_MODE = "pdm.mode"  # "full" (table written whole) or "units" (units replaced by predicate)
META_UNITS = "pdm.units"  # how many units a "units" commit replaced
# On a RESTORE commit whose content holds erased units (lakehouse.restore): how many, until its second commit
# deletes them again. A version that still carries it (the restore stopped in between) is not pinned by the
# analysts' database; the next publish writes over it.
META_ERASED_PENDING = "pdm.erased_units_pending"
PDM_METADATA_PREFIX = "pdm."

# The incremental build's change log (the lead's contract: changed_at, unit_id, is_full_rebuild).
CHANGE_LOG_SCHEMA = "silver"
CHANGE_LOG_TABLE = "int_unit_change_log"
# The units each per-unit gold model's incremental builds rewrote (model_name, unit_id, rewritten_at =
# the build's start), written by its delete pre-hook (macros/incremental/unit_changes.sql). The change
# log names a unit for any cause; a table's own rewrites leave out the causes its model does not take.
REWRITES_TABLE = "unit_rewrites"
# The builds that rebuilt a per-unit model whole (model_name, rebuilt_at = the build's start): its first
# build, or a full refresh, of the whole project or of that model alone (written by the same pre-hook).
# The change log says nothing of a model full-refreshed alone (after its SQL or a var changed): any of its
# units may differ, so the publish compares that table whole.
REBUILDS_TABLE = "unit_model_rebuilds"
UNIT_KEY = "unit_id"
# Gold tables whose grain is not a DuckDB primary key, and the key it would be. DuckDB keeps a primary
# key in an ART index that every checkpoint writes out whole: on the feature table (2 M rows) that is
# ~0.8 s at each build that touched it, one unit or thousands, and it grows with the history. Its
# grain is checked instead by its error-severity unique test on the units each build rewrote, before
# anything is published (models/marts/fct_unit_cycle_features.yml, generated by
# scripts/generate_feature_contract.py, whose meta `grain` names the same columns).
UNINDEXED_KEYS = {"fct_unit_cycle_features": ("unit_id", "cycle")}
# Beyond this many changed units one predicate commit stops paying off: the table is rewritten whole.
MAX_UNITS_PER_COMMIT = 5000
# Rows per Arrow record batch streamed from DuckDB to the Delta writer, and per Parquet row group: the
# writer's memory grows with both (measured: 64 Ki-row batches cost ~1 GB more peak RSS on a 100-column table;
# on the 2 M-row, 163-column feature table, 8 Ki-row batches ~0.2 GB more than 2 Ki).
BATCH_ROWS = 2 * 1024
ROW_GROUP_ROWS = 16 * 1024
SPILL_FOLDER = ".publish-spill"  # in the lake: DuckDB's temp files while publishing
EXPORT_RANGE_ROWS = 100_000  # rows per sort of a unit-keyed table's export: ~130 MB at 163 columns
TARGET_FILE_SIZE = 32 * 1024 * 1024  # bytes per data file: a unit's rows sit in one or two files
# DuckDB's memory limit while publishing (env PDM_PUBLISH_MEMORY_LIMIT; unset or empty: this one): one export
# range's sort fits in it; the Delta writer takes ~1 GB besides, so a first publish of the 2 M-row feature table
# peaked at 1.7 GB RSS (2.3 GB with 1GB and 500 k-row ranges).
DEFAULT_MEMORY_LIMIT = "384MB"
MEMORY_LIMIT_ENV = "PDM_PUBLISH_MEMORY_LIMIT"
# Never let a commit's post-commit hook delete old log files: time travel to a pinned version needs them.
POST_COMMIT = PostCommitHookProperties(create_checkpoint=True, cleanup_expired_logs=False)


class PublishError(lakelib.LakeError):
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
    """What a table's content hashes to; equal fingerprints mean nothing to publish.

    `hash_sum` / `hash_xor` are the commutative aggregates of the row hashes the digest is made of:
    kept so a later publish can update the fingerprint from the changed units' rows alone.
    """

    digest: str
    rows: int
    hash_sum: int = 0
    hash_xor: int = 0
    schema: str = ""

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
    mode: str = field(default="", compare=False)  # "full" or "units" when written
    units: int = field(default=0, compare=False)  # units replaced by a "units" commit
    files: lakelib.CommitFiles | None = field(default=None, compare=False)  # what the commit wrote and removed

    def summary(self) -> str:
        if not self.changed:
            return f"{LAYER}.{self.name}: unchanged at v{self.version} ({self.rows} rows)"
        replaced = f"; {self.units} unit{'s' * (self.units != 1)} replaced" if self.mode == "units" else ""
        line = f"{LAYER}.{self.name}: v{self.version} ({self.rows} rows{replaced})"
        if self.files is not None and (self.files.added or self.files.removed):
            line += f": {self.files.describe()}"
        return line


# The operation column's least width: WRITE, DELETE, MERGE, RESTORE, OPTIMIZE; a longer one (VACUUM START,
# CREATE TABLE) widens it for every line printed with it.
OPERATION_WIDTH = len("OPTIMIZE")
VACUUMED_MARK = "VACUUMED (its data files are deleted: can't be read or restored)"


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
    vacuumed: bool = False  # a vacuum deleted data files of it: it can't be read or restored

    def line(self, width: int = 0, operation_width: int = OPERATION_WIDTH) -> str:
        """One line; `width` pads the table name and `operation_width` the operation (at least
        `OPERATION_WIDTH`) so several lines' columns align (`history_lines`)."""
        # to the millisecond, as Delta keeps it: a time copied from here as AS_OF= is that very version's
        when = self.timestamp.isoformat(timespec="milliseconds").replace("+00:00", "Z") if self.timestamp else "?"
        rows = f"{self.rows:>9,} rows" if self.rows is not None else "        ? rows"
        fp = f"fp {self.fingerprint[:12]}" if self.fingerprint else "fp ?"
        added = f"  +columns {','.join(self.added_columns)}" if self.added_columns else ""
        gone = f"  {VACUUMED_MARK}" if self.vacuumed else ""
        operation = f"{self.operation:<{max(operation_width, OPERATION_WIDTH)}}"
        return f"{LAYER}.{self.table:<{width}}  v{self.version:<3} {when}  {operation} {rows}  {fp}{added}{gone}"


def history_lines(entries: Sequence[HistoryEntry]) -> list[str]:
    """`entries` as `--history` prints them, the table name and operation columns padded to the widest."""
    width = max((len(entry.table) for entry in entries), default=0)
    operation_width = max((len(entry.operation) for entry in entries), default=0)
    return [entry.line(width, operation_width) for entry in entries]


# ----------------------------------------------------------------------------- the warehouse side


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


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
    """The key of gold.<table> (in key order): its primary key, else its entry in `UNINDEXED_KEYS` when the
    table has those columns, else [] (no key)."""
    row = con.execute(
        "select constraint_column_names from duckdb_constraints() "
        "where database_name = current_database() and schema_name = ? and table_name = ? "
        "and constraint_type = 'PRIMARY KEY'",
        [LAYER, table],
    ).fetchone()
    if row:
        return list(row[0])
    declared = list(UNINDEXED_KEYS.get(table, ()))
    present = {name for name, _ in table_columns(con, table)} if declared else set()
    return declared if declared and set(declared) <= present else []


def _row_alias(columns: list[tuple[str, str]]) -> str:
    names = {name for name, _ in columns}
    alias = "__pdm_row"
    while alias in names:
        alias += "_"
    return alias


def _hash_aggregates(con: duckdb.DuckDBPyConnection, relation: str, alias: str) -> tuple[int, int, int]:
    """(row count, sum, xor) of the whole-row hashes of `relation` (a table name or a parenthesised SELECT)."""
    rows, hash_sum, hash_xor = con.execute(
        f"select count(*), coalesce(sum(hash({alias})::hugeint), 0)::varchar, "
        f"coalesce(bit_xor(hash({alias})), 0)::varchar from {relation} as {alias}"
    ).fetchone()
    return int(rows), int(hash_sum), int(hash_xor)


def _schema_digest(columns: list[tuple[str, str]]) -> str:
    return hashlib.sha256(json.dumps([[name, dtype] for name, dtype in columns]).encode()).hexdigest()


def _fingerprint_from(columns: list[tuple[str, str]], rows: int, hash_sum: int, hash_xor: int) -> Fingerprint:
    payload = json.dumps(
        {
            "algorithm": FINGERPRINT_ALGORITHM,
            "rows": rows,
            "columns": [[name, dtype] for name, dtype in columns],
            "hash_sum": str(hash_sum),
            "hash_xor": str(hash_xor),
        },
        sort_keys=True,
    )
    return Fingerprint(
        digest=hashlib.sha256(payload.encode()).hexdigest(),
        rows=rows,
        hash_sum=hash_sum,
        hash_xor=hash_xor,
        schema=_schema_digest(columns),
    )


def fingerprint(con: duckdb.DuckDBPyConnection, table: str) -> Fingerprint:
    """An order-independent fingerprint of gold.<table>, computed inside DuckDB in one streaming pass.

    Each row is hashed whole (DuckDB `hash()` of the row as a struct, 64 bits); the row hashes are
    combined with two commutative aggregates: their exact sum (as HUGEINT, so duplicated or removed
    duplicate rows change it) and their XOR. The row count, the column names and DuckDB types (in
    order) and the algorithm name go in too, and SHA-256 of all that is the fingerprint. So any
    changed value, row, column name, column type or column order changes it; row order does not.
    Because both aggregates are commutative, `units_fingerprint` can update it from a few units' rows.
    """
    columns = table_columns(con, table)
    rows, hash_sum, hash_xor = _hash_aggregates(con, _qualified(table), _row_alias(columns))
    return _fingerprint_from(columns, rows, hash_sum, hash_xor)


def units_fingerprint(
    con: duckdb.DuckDBPyConnection,
    table: str,
    previous: Fingerprint,
    published: Path,
    version: int,
    units: Sequence[str],
) -> Fingerprint:
    """The fingerprint gold.<table> has once `units` are replaced, from `previous` and those units' rows only.

    `previous` is the fingerprint of Delta `version` at `published` (same columns and types as the
    warehouse table). The old rows of `units` are read back from that version, cast to the warehouse
    types (so they hash exactly as they did in the warehouse), and their count, hash sum and hash xor
    are taken out of `previous`; the warehouse's current rows of `units` are put in. Equal to
    `fingerprint(con, table)` whenever the rows of every other unit are unchanged.
    """
    columns = table_columns(con, table)
    alias = _row_alias(columns)
    in_units = units_predicate(units)
    casts = ", ".join(f"cast({_ident(name)} as {dtype}) as {_ident(name)}" for name, dtype in columns)
    old_rows, old_sum, old_xor = _hash_aggregates(
        con, f"(select {casts} from {lakelib.delta_scan_sql(published, version)} where {in_units})", alias
    )
    new_rows, new_sum, new_xor = _hash_aggregates(con, f"(select * from {_qualified(table)} where {in_units})", alias)
    return _fingerprint_from(
        columns,
        previous.rows - old_rows + new_rows,
        previous.hash_sum - old_sum + new_sum,
        previous.hash_xor ^ old_xor ^ new_xor,
    )


def units_predicate(units: Sequence[str]) -> str:
    """`unit_id in (...)` for DuckDB, with the list's range in front: DuckDB skips row groups on the
    range (their min/max), not on a long IN list, when all columns are read (150 units of the 2 M-row
    feature table, every column hashed: 12.5 s with the list alone, 0.7 s with the range)."""
    listed = sorted(units)
    column = _ident(UNIT_KEY)
    return (
        f"{column} between {_literal(listed[0])} and {_literal(listed[-1])} "
        f"and {column} in ({', '.join(_literal(u) for u in listed)})"
    )


def _unit_groups(units: Sequence[str]) -> list[list[str]]:
    """`units` grouped by their id up to its last '-' (dataset and split: `FD001-test-042`), one query
    each, so each range stays narrow (the new units of one dataset and the rescored ones of another
    would otherwise span every unit sorting between them)."""
    groups: dict[str, list[str]] = {}
    for unit in sorted(units):
        groups.setdefault(unit.rpartition("-")[0], []).append(unit)
    return list(groups.values())


def _unit_hash_aggregates(con: duckdb.DuckDBPyConnection, relation: str, alias: str) -> dict[str, tuple[int, int, int]]:
    """Per unit: (row count, sum, xor) of the whole-row hashes of `relation`'s rows of that unit."""
    rows = con.execute(
        f"select {alias}.{_ident(UNIT_KEY)}, count(*), coalesce(sum(hash({alias})::hugeint), 0)::varchar, "
        f"coalesce(bit_xor(hash({alias})), 0)::varchar from {relation} as {alias} group by 1"
    ).fetchall()
    return {unit: (int(count), int(hash_sum), int(hash_xor)) for unit, count, hash_sum, hash_xor in rows}


def changed_units_fingerprint(
    con: duckdb.DuckDBPyConnection,
    table: str,
    previous: Fingerprint,
    published: Path,
    version: int,
    units: Sequence[str] | None,
) -> tuple[Fingerprint, tuple[str, ...]]:
    """`units_fingerprint`, and which of `units` (None: every unit) really changed: those whose rows'
    count, hash sum or hash xor differ between Delta `version` and the warehouse (a unit the change log
    names for a cause that does not touch this table, say a new risk score for the feature table, drops
    out)."""
    columns = table_columns(con, table)
    alias = _row_alias(columns)
    casts = ", ".join(f"cast({_ident(name)} as {dtype}) as {_ident(name)}" for name, dtype in columns)
    old: dict[str, tuple[int, int, int]] = {}
    new: dict[str, tuple[int, int, int]] = {}
    for in_units in ["true"] if units is None else [units_predicate(group) for group in _unit_groups(units)]:
        old |= _unit_hash_aggregates(
            con, f"(select {casts} from {lakelib.delta_scan_sql(published, version)} where {in_units})", alias
        )
        new |= _unit_hash_aggregates(con, f"(select * from {_qualified(table)} where {in_units})", alias)
    changed = tuple(sorted(unit for unit in old.keys() | new.keys() if old.get(unit) != new.get(unit)))
    rows, hash_sum, hash_xor = previous.rows, previous.hash_sum, previous.hash_xor
    for unit in changed:
        old_rows, old_sum, old_xor = old.get(unit, (0, 0, 0))
        new_rows, new_sum, new_xor = new.get(unit, (0, 0, 0))
        rows += new_rows - old_rows
        hash_sum += new_sum - old_sum
        hash_xor ^= old_xor ^ new_xor
    return _fingerprint_from(columns, rows, hash_sum, hash_xor), changed


def export_sql(con: duckdb.DuckDBPyConnection, table: str, where: str = "") -> str:
    """The SELECT exporting gold.<table> in a deterministic order: by primary key, else by every column."""
    order = primary_key(con, table) or [name for name, _ in table_columns(con, table)]
    condition = f" where {where}" if where else ""
    return f"select * from {_qualified(table)}{condition} order by {', '.join(_ident(c) for c in order)}"


def _reader(con: duckdb.DuckDBPyConnection, sql: str) -> pa.RecordBatchReader:
    """The query's result as a stream of record batches (never materialised whole)."""
    return con.execute(sql).to_arrow_reader(BATCH_ROWS)


def unit_ranges(
    con: duckdb.DuckDBPyConnection, table: str, rows_per_range: int, where: str = ""
) -> list[tuple[str, str]]:
    """gold.<table>'s units (those matching `where`) cut, in unit_id order, into ranges [first, last] of
    about `rows_per_range` rows."""
    condition = f" where {where}" if where else ""
    return con.execute(
        f"""
        with units as (select {UNIT_KEY} as unit, count(*) as n from {_qualified(table)}{condition} group by all),
        running as (select unit, sum(n) over (order by unit rows unbounded preceding) - n as before from units)
        select min(unit), max(unit) from running group by before // ? order by 1
        """,
        [rows_per_range],
    ).fetchall()


def _unit_keyed_reader(con: duckdb.DuckDBPyConnection, table: str, where: str = "") -> pa.RecordBatchReader:
    """gold.<table>'s rows matching `where` (all when empty), in primary-key order, as a stream of record
    batches. A table keyed by unit first is read one range of units at a time (`EXPORT_RANGE_ROWS` rows),
    each range sorted on its own: the ranges follow each other in unit_id order, so the stream is in the
    same order as one sort, and neither memory nor the spill grows with the table (one sort of the
    whole 20 M-row feature table had spilled 16 GB, and growing, when stopped; a commit replacing
    5,000 units sorts ~850 k rows)."""
    if primary_key(con, table)[:1] != [UNIT_KEY]:
        return _reader(con, export_sql(con, table, where))
    schema = _reader(con, f"select * from {_qualified(table)} limit 0").schema
    ranges = unit_ranges(con, table, EXPORT_RANGE_ROWS, where)

    def batches() -> Iterator[pa.RecordBatch]:
        for first, last in ranges:
            in_range = f"{UNIT_KEY} between {_literal(first)} and {_literal(last)}"
            yield from _reader(con, export_sql(con, table, f"{in_range} and ({where})" if where else in_range))

    return pa.RecordBatchReader.from_batches(schema, batches())


@dataclass(frozen=True)
class ChangeLog:
    """What `silver.int_unit_change_log` says happened after `since` (None: the log exists, nothing applied yet)."""

    through: datetime | None  # newest changed_at in the log (or the table's whole rebuild, when newer)
    full_rebuild_since: bool  # a full-rebuild marker, or the table's whole rebuild, is newer than `since`
    units: tuple[str, ...]  # units named after `since` (for one table: those it rewrote, when it records them)


def _silver_table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables "
        "where table_catalog = current_database() and table_schema = ? and table_name = ?",
        [CHANGE_LOG_SCHEMA, name],
    ).fetchone()
    return bool(row[0])


def has_change_log(con: duckdb.DuckDBPyConnection) -> bool:
    return _silver_table_exists(con, CHANGE_LOG_TABLE)


def _rebuilt_at(con: duckdb.DuckDBPyConnection, table: str | None) -> datetime | None:
    """When `table`'s model was last rebuilt whole (REBUILDS_TABLE); None when it has no record there."""
    if table is None or not _silver_table_exists(con, REBUILDS_TABLE):
        return None
    rebuilds = f"{_ident(CHANGE_LOG_SCHEMA)}.{_ident(REBUILDS_TABLE)}"
    (rebuilt_at,) = con.execute(f"select max(rebuilt_at) from {rebuilds} where model_name = ?", [table]).fetchone()
    return rebuilt_at


def read_change_log(con: duckdb.DuckDBPyConnection, since: datetime | None, table: str | None = None) -> ChangeLog:
    """The change log after `since`. With `table`: its units are those `table`'s own incremental builds
    rewrote after `since` (REWRITES_TABLE), when its model records them (it has any row there); otherwise
    every unit the log names. A whole rebuild of `table`'s model after `since` counts as a full-rebuild
    marker, and `through` is never older than that rebuild: the version written after it records it as
    applied (a rebuild that changed no row writes no version, and is compared again next time)."""
    log = f"{_ident(CHANGE_LOG_SCHEMA)}.{_ident(CHANGE_LOG_TABLE)}"
    (through,) = con.execute(f"select max(changed_at) from {log}").fetchone()
    rebuilt_at = _rebuilt_at(con, table)
    if rebuilt_at is not None and (through is None or rebuilt_at > through):
        through = rebuilt_at
    if since is None:
        return ChangeLog(through, True, ())
    (markers,) = con.execute(f"select count(*) from {log} where is_full_rebuild and changed_at > ?", [since]).fetchone()
    full = markers > 0 or (rebuilt_at is not None and rebuilt_at > since)
    sql, params = f"select distinct unit_id from {log} where changed_at > ? and unit_id is not null order by 1", [since]
    if table is not None and _silver_table_exists(con, REWRITES_TABLE):
        rewrites = f"{_ident(CHANGE_LOG_SCHEMA)}.{_ident(REWRITES_TABLE)}"
        if con.execute(f"select 1 from {rewrites} where model_name = ? limit 1", [table]).fetchone():
            sql = f"select distinct unit_id from {rewrites} where model_name = ? and rewritten_at > ? order by 1"
            params = [table, since]
    units = con.execute(sql, params).fetchall()
    return ChangeLog(through, full, tuple(u for (u,) in units))


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


def latest_commit(table: DeltaTable) -> dict:
    """The newest commit's info (custom metadata included); {} when the log has none."""
    commits = table.history(limit=1)
    return commits[0] if commits else {}


def pdm_metadata(commit: dict) -> dict[str, str]:
    """The `pdm.*` keys of a commit: what `make optimize` carries over to its own commits."""
    return {key: str(value) for key, value in commit.items() if key.startswith(PDM_METADATA_PREFIX)}


def _stored_fingerprint(commit: dict) -> Fingerprint | None:
    """The fingerprint with its aggregates as stored in a commit, or None when it lacks any part."""
    try:
        return Fingerprint(
            digest=commit[META_FINGERPRINT],
            rows=int(commit[META_ROWS]),
            hash_sum=int(commit[META_HASH_SUM]),
            hash_xor=int(commit[META_HASH_XOR]),
            schema=commit[META_SCHEMA],
        )
    except (KeyError, TypeError, ValueError):
        return None


def _stored_changes_through(commit: dict) -> datetime | None:
    value = commit.get(META_CHANGES_THROUGH)
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


@dataclass
class _Plan:
    name: str
    path: Path
    fingerprint: Fingerprint
    current_version: int | None  # None: not published yet
    changed: bool
    added_columns: list[str]
    mode: str = "full"  # "full": write the whole table; "units": replace `units` by predicate
    units: tuple[str, ...] = ()
    changes_through: datetime | None = None  # recorded in the commit (unit-keyed tables with a change log)


def _plan(
    con: duckdb.DuckDBPyConnection, lake: Path, table: str, log_present: bool
) -> tuple[_Plan, list[SchemaViolation]]:
    path = lakelib.mart_path(lake, table, LAYER)
    unit_keyed = log_present and primary_key(con, table)[:1] == [UNIT_KEY]
    if not lakelib.is_published(path):
        through = read_change_log(con, None, table).through if unit_keyed else None
        return _Plan(table, path, fingerprint(con, table), None, True, [], changes_through=through), []
    published = lakelib.open_table(path)
    version = published.version()
    commit = latest_commit(published)
    old = _delta_columns(published.schema())
    new = _arrow_to_delta_columns(table, _reader(con, f"select * from {_qualified(table)} limit 0").schema)
    violations = [
        SchemaViolation(table, column, old_type, new.get(column), version)
        for column, old_type in old.items()
        if new.get(column) != old_type
    ]
    added = [column for column in new if column not in old]
    stored = _stored_fingerprint(commit)
    since = _stored_changes_through(commit)
    if unit_keyed and stored is not None and since is not None and not added and not violations:
        log = read_change_log(con, since, table)
        same_schema = stored.schema == _schema_digest(table_columns(con, table))
        if same_schema and not log.full_rebuild_since:
            if not log.units:  # nothing touched this table's units since its last commit: no read at all
                return _Plan(table, path, stored, version, False, []), []
            named = log.units if len(log.units) <= MAX_UNITS_PER_COMMIT else None  # None: compare every unit
            fp, units = changed_units_fingerprint(con, table, stored, path, version, named)
            if len(units) <= MAX_UNITS_PER_COMMIT:
                return _Plan(table, path, fp, version, bool(units), [], "units", units, log.through), []
    fp = fingerprint(con, table)
    through = read_change_log(con, None, table).through if unit_keyed else None
    changed = fp.digest != commit.get(META_FINGERPRINT)
    return _Plan(table, path, fp, version, changed, added, changes_through=through), violations


def _write(con: duckdb.DuckDBPyConnection, plan: _Plan) -> int:
    metadata = {
        META_FINGERPRINT: plan.fingerprint.digest,
        META_ROWS: str(plan.fingerprint.rows),
        META_HASH_SUM: str(plan.fingerprint.hash_sum),
        META_HASH_XOR: str(plan.fingerprint.hash_xor),
        META_SCHEMA: plan.fingerprint.schema,
        META_SOURCE: f"{LAYER}.{plan.name}",
        META_ALGORITHM: FINGERPRINT_ALGORITHM,
        META_MODE: plan.mode,
    }
    if plan.changes_through is not None:
        metadata[META_CHANGES_THROUGH] = plan.changes_through.isoformat()
    if plan.added_columns:
        metadata[META_ADDED_COLUMNS] = ",".join(plan.added_columns)
    options = {
        "target_file_size": TARGET_FILE_SIZE,
        "writer_properties": WriterProperties(max_row_group_size=ROW_GROUP_ROWS),
        "post_commithook_properties": POST_COMMIT,
    }
    if plan.mode == "units":
        metadata[META_UNITS] = str(len(plan.units))
        in_units = f"{UNIT_KEY} in ({', '.join(_literal(u) for u in plan.units)})"
        write_deltalake(
            str(plan.path),
            _unit_keyed_reader(con, plan.name, units_predicate(plan.units)),
            mode="overwrite",
            predicate=in_units,
            commit_properties=CommitProperties(custom_metadata=metadata),
            **options,
        )
        return lakelib.latest_version(plan.path)
    data = _unit_keyed_reader(con, plan.name)
    if plan.current_version is None:
        _arrow_to_delta_columns(plan.name, data.schema)  # a clear error before creating anything
    plan.path.parent.mkdir(parents=True, exist_ok=True)
    write_deltalake(
        str(plan.path),
        data,
        mode="overwrite",
        schema_mode="merge",
        name=f"{LAYER}.{plan.name}" if plan.current_version is None else None,
        commit_properties=CommitProperties(custom_metadata=metadata),
        **options,
    )
    return lakelib.latest_version(plan.path)


@contextmanager
def _spill_folder(lake: Path) -> Iterator[Path]:
    """DuckDB's temp folder while publishing: `<lake>/.publish-spill`, on the lake's disk (not a /tmp
    that may be RAM), used under the lake lock. Emptied first, since under the lock anything in it was
    left by a publish that was killed (spill files of GBs at 20 M rows), and removed at the end."""
    spill = lake / SPILL_FOLDER
    shutil.rmtree(spill, ignore_errors=True)
    spill.mkdir(parents=True)
    try:
        yield spill
    finally:
        shutil.rmtree(spill, ignore_errors=True)


def _open_warehouse(warehouse: Path, spill_dir: str) -> duckdb.DuckDBPyConnection:
    if not Path(warehouse).exists():
        raise PublishError(f"no warehouse at {warehouse}: run `dbt build` (or `make build`) first")
    try:
        con = lakelib.connect(warehouse, read_only=True)
    except duckdb.Error as exc:
        raise PublishError(f"can't open the warehouse {warehouse} read-only (is `dbt build` running?): {exc}") from exc
    memory_limit = os.environ.get(MEMORY_LIMIT_ENV, "").strip() or DEFAULT_MEMORY_LIMIT
    try:
        con.execute(f"set memory_limit = {_literal(memory_limit)}")
    except duckdb.Error as exc:
        con.close()
        raise PublishError(
            f"{MEMORY_LIMIT_ENV}={memory_limit!r} is not a memory size DuckDB takes (e.g. 384MB, 2GB): {exc}"
        ) from None
    con.execute(f"set temp_directory = {_literal(spill_dir)}")
    con.execute("set TimeZone = 'UTC'")
    con.execute("set enable_progress_bar = false")
    return con


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


def publish(
    warehouse: Path,
    lake: Path,
    tables: list[str] | None = None,
    lock_timeout: float = DEFAULT_TIMEOUT_S,
    refresh_analysts: bool = True,
    completing_erasure: bool = False,
) -> list[PublishResult]:
    """Publish gold tables of `warehouse` (all, or those named) to `<lake>/gold/<table>/` as Delta.

    Holds the lake lock (waiting up to `lock_timeout` s, then `LakeBusyError`) and plans under it, so
    it compares against what any earlier publisher committed. Under the lock, before the warehouse is opened,
    it refuses (`LakeError`, naming the units) while an erasure is unfinished (`lakehouse.erase`): the
    warehouse's gold may still hold the units, and this publish would write them back. The erasure's own
    publish passes `completing_erasure`. Writes one Delta version per table whose
    content fingerprint changed, none otherwise, then refreshes the analysts' database of the lake
    (`lakehouse.analysts`) if anything was committed or it is stale; with `refresh_analysts` False
    it leaves that to its caller (the watcher, once per tick: after the tick's last publish). Raises
    `SchemaEnforcementError` (before writing anything) if a published column changed type or was
    dropped, `PublishError` if the warehouse can't be opened or a named table doesn't exist, and
    `AnalystsError` (after the commits) if the analysts' database can't be written.
    """
    with lake_lock(Path(lake), "publish", lock_timeout):
        if not completing_erasure:
            from lakehouse.erase import refuse_if_erasure_pending  # erase imports this module

            refuse_if_erasure_pending(Path(lake), "a publish")
        with _spill_folder(Path(lake)) as spill, _open_warehouse(warehouse, str(spill)) as con:
            names = _select_tables(gold_tables(con), tables)
            log_present = has_change_log(con)
            plans: list[_Plan] = []
            violations: list[SchemaViolation] = []
            for name in names:  # check every table before writing any
                try:
                    plan, problems = _plan(con, Path(lake), name, log_present)
                except lakelib.LakeError:
                    raise
                except Exception as exc:  # a data file of the published version gone, a file where its folder goes
                    reason = first_line(exc, fallback="")
                    path = lakelib.mart_path(Path(lake), name, LAYER)
                    raise PublishError(
                        f"{LAYER}.{name}: can't compare it with its published Delta table {path} "
                        f"({type(exc).__name__}: {reason}); nothing was written"
                    ) from exc
                plans.append(plan)
                violations += problems
            if violations:
                raise SchemaEnforcementError(violations)
            results = []
            for plan in plans:
                try:
                    version = _write(con, plan) if plan.changed else plan.current_version
                except Exception as exc:  # deltalake's, DuckDB's, pyarrow's and the OS's types: one line naming it
                    raise PublishError(_write_failure(plan, results, exc)) from exc
                results.append(
                    PublishResult(
                        plan.name,
                        version,
                        plan.changed,
                        plan.fingerprint.rows,
                        plan.fingerprint.digest,
                        plan.path,
                        plan.mode if plan.changed else "",
                        len(plan.units) if plan.changed else 0,
                        lakelib.commit_files(plan.path, version) if plan.changed else None,
                    )
                )
            if refresh_analysts:
                _refresh_analysts(con, Path(lake), results)
        return results


def _write_failure(plan: _Plan, results: Sequence[PublishResult], exc: Exception) -> str:
    """What a failed write of `plan` (a disk full, an unwritable folder, a data file gone) left, in one message:
    the table, the version it is at, and the tables this publish committed before it."""
    reason = first_line(exc, fallback="")
    try:
        now = f"it is at v{lakelib.latest_version(plan.path)}"
    except lakelib.LakeError:
        now = "it is not published yet"
    committed = "; ".join(r.summary() for r in results if r.changed) or "none"
    return (
        f"{LAYER}.{plan.name}: writing its new version failed ({type(exc).__name__}: {reason}); {now} "
        f"(tables committed before it: {committed}). Fix the cause (free disk space, say) and publish again: "
        "the next publish completes the rest"
    )


def _refresh_analysts(con: duckdb.DuckDBPyConnection, lake: Path, results: Sequence[PublishResult]) -> None:
    """Rebuild the analysts' database (lakehouse.analysts) when this publish committed, or when it is stale.

    Runs under the publish's lake lock, on its connection (the delta extension is loaded already).
    A failure raises `AnalystsError` naming the file and what was committed: the commits stand.
    """
    from lakehouse import analysts  # it imports this module

    if not results:
        return
    database = analysts.default_database(lake)
    if not any(r.changed for r in results) and analysts.is_current(lake, database):
        return
    try:
        analysts.refresh_under_lock(lake, database, con)
    except analysts.AnalystsError as exc:
        committed = "; ".join(r.summary() for r in results if r.changed) or "no table changed"
        raise analysts.AnalystsError(f"published ({committed}), but {exc}") from exc


# ------------------------------------------------------------------------------------- history


def table_folders(lake: Path) -> list[str]:
    """Names of the folders under <lake>/gold/ (published or not)."""
    root = Path(lake) / LAYER
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir())


def published_tables(lake: Path) -> list[str]:
    """Names of the Delta tables under <lake>/gold/ that have at least one committed version."""
    return [name for name in table_folders(lake) if lakelib.is_published(lakelib.mart_path(Path(lake), name, LAYER))]


def unpublished_folders(lake: Path) -> list[str]:
    """Folders under <lake>/gold/ with no committed version: first publishes that were interrupted."""
    published = set(published_tables(lake))
    return [name for name in table_folders(lake) if name not in published]


def require_published_table(lake: Path, table: str) -> str:
    """`table` (`mart_fleet_health` or `gold.mart_fleet_health`) as the name of a published table: a folder
    directly under <lake>/gold/ holding a committed Delta version. Anything else raises `LakeError` naming
    the published tables: an empty name, a path (`../audit/erasures`, `/elsewhere/t`: a command taking a
    table name never reaches outside <lake>/gold/), and `TableNotPublishedError` for a name with no folder
    or the folder of an interrupted first publish."""
    names = published_tables(lake)
    name = table.strip().removeprefix(f"{LAYER}.")
    if name in names:
        return name
    published = f"published: {', '.join(names) or 'none'}"
    root = Path(lake) / LAYER
    if not name or Path(name).name != name or name in {".", ".."} or "\\" in name:
        raise lakelib.LakeError(
            f"{table!r} is not the name of a published table: a table is a folder directly under {root}, "
            f"named without a path ({published})"
        )
    why = (
        "its folder holds no committed Delta version (a first publish was interrupted; "
        "the next `python -m lakehouse.publish` completes it)"
        if (root / name).is_dir()
        else "it has not been published yet"
    )
    raise lakelib.TableNotPublishedError(f"no published Delta table {LAYER}.{name} under {root}: {why}; {published}")


def history(lake: Path, table: str | None = None) -> list[HistoryEntry]:
    """Every version of every published table (or of `table`), oldest first per table.

    Raises `LakeError` when `table` is not the name of a published table (`require_published_table`).
    """
    names = [require_published_table(lake, table)] if table is not None else published_tables(lake)
    entries = []
    for name in names:
        path = lakelib.mart_path(lake, name, LAYER)
        commits = sorted(lakelib.open_table(path).history(), key=lambda c: c["version"])
        vacuumed = vacuumed_versions(path, [int(c["version"]) for c in commits])
        for commit in commits:
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
                    vacuumed=int(commit["version"]) in vacuumed,
                )
            )
    return entries


def vacuumed_versions(path: Path, versions: Sequence[int]) -> set[int]:
    """Of `versions` of the Delta table at `path`, the older ones (a vacuum keeps the latest version's files)
    missing a data file: the check `lakelib.require_version` makes before a read or a restore, one log replay
    per version stepping forward from the oldest, each file looked for once."""
    older = sorted(v for v in versions if v < max(versions, default=-1))
    gone: set[int] = set()
    present: dict[str, bool] = {}
    table = None
    for version in older:
        try:
            if table is None:
                table = lakelib.open_table(path, version)
            else:
                table.load_as_version(version)
            files = table.file_uris()
        except Exception:  # its log entries were cleaned up too: no more readable than a vacuumed one
            gone.add(version)
            table = None
            continue
        for uri in files:
            if "://" not in uri and not present.setdefault(uri, Path(uri).exists()):
                gone.add(version)
                break
    return gone


def current_at(entries: Sequence[HistoryEntry], moment: datetime) -> list[HistoryEntry]:
    """Of `entries`, per table the newest version committed at or before `moment` (tables younger: none)."""
    current: dict[str, HistoryEntry] = {}
    for entry in entries:
        committed = entry.timestamp is not None and entry.timestamp <= moment
        if committed and (entry.table not in current or entry.version > current[entry.table].version):
            current[entry.table] = entry
    return list(current.values())


def history_report(lake: Path, table: str | None = None, as_of: str | None = None) -> list[str]:
    """What `--history [TABLE] [--as-of TIME]` prints: a line per version (per table, the one current at
    `as_of`), then the folders of interrupted first publishes; when nothing was published at `as_of`, when
    the first version was committed."""
    entries = history(lake, table)
    said = []
    if as_of is not None:
        moment = lakelib.parse_timestamp(as_of)
        current = current_at(entries, moment)
        dated = [entry for entry in entries if entry.timestamp is not None]
        if dated and not current:  # the same words as `lake.version_as_of`, which restore and train raise
            first = min(dated, key=lambda entry: entry.timestamp)
            said.append(
                f"{LAYER}.{first.table} did not exist at {moment.isoformat()}: its first version "
                f"(v{first.version}) was committed at {first.timestamp.isoformat()}"
                if table is not None
                else f"no published table existed at {moment.isoformat()}: the first version of one "
                f"({LAYER}.{first.table} v{first.version}) was committed at {first.timestamp.isoformat()}"
            )
        entries = current
    pending = [] if table else unpublished_folders(lake)
    if not entries and not pending and not said:
        said.append(f"nothing published under {Path(lake) / LAYER} yet: run `python -m lakehouse.publish`")
    return [
        *said,
        *history_lines(entries),
        *(
            f"{LAYER}.{name}: not published yet (its folder holds no committed Delta version: "
            "a first publish was interrupted; the next publish completes it)"
            for name in pending
        ),
    ]


def print_lines(lines: Sequence[str]) -> int:
    """Print `lines`; a reader that closes the pipe early (`make history | head -1`) has what it wanted:
    exit 0, no BrokenPipeError traceback."""
    try:
        for line in lines:
            print(line)
        sys.stdout.flush()
    except BrokenPipeError:
        # the interpreter flushes stdout again at exit, which would fail the same way: /dev/null takes it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


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
    parser.add_argument(
        "--as-of",
        metavar="TIME",
        help="with --history: only the version of each table that was current at TIME (ISO-8601; no zone = UTC)",
    )
    parser.add_argument(
        "--no-analysts",
        action="store_true",
        help="leave the analysts' database as it is: a later publish (or `python -m lakehouse.analysts`) "
        "refreshes it, as the watcher's second publish of a tick does",
    )
    add_lock_timeout_option(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    paths = Paths.from_env()
    try:
        if args.history is not None:
            return print_lines(history_report(paths.lake, args.history or None, args.as_of))
        tables = args.tables.split(",") if args.tables is not None else None
        for result in publish(paths.warehouse, paths.lake, tables, args.lock_timeout, not args.no_analysts):
            print(result.summary())
    except lakelib.LakeError as exc:
        print(f"publish: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
