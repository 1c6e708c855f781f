"""Erase every trace of a unit (GDPR-style): `python -m lakehouse.erase --unit FD101-test-016 --reason "..."`.

    python -m lakehouse.erase --unit FD101-test-016 --reason "owner asked, ticket 123"
    python -m lakehouse.erase --unit FD101-test-016 --reason "..." --purge   # also vacuum old Delta versions
    python -m lakehouse.erase --unit FD101-test-016,FD101-train-003 --reason "..."  # several: one build

`make erase UNIT=<unit_id> REASON="<text>" [PURGE=1]`. The unit must be in the warehouse, in a data file at the
top of the landing folder (landed, not built yet: `landed_files_of`) or in the tombstone; otherwise the request is
refused, nothing written. In order, each step safe to repeat:

0. The request: one audit row per unit, status `started`, appended to `<lake>/audit/erasures` before anything
   is erased (step 8 appends its `complete` row, same erasure id). A unit whose latest audit row is not
   `complete` (the erasure was killed or failed part-way: the warehouse's gold may still hold it while a
   Delta table no longer does) is pending: `lakehouse.publish` and the watcher refuse to start, naming it
   (a publish would write it back), and the next erasure, of any unit, completes it under its own id and
   reason (`pending_erasures`).
1. The tombstone: the unit is added to `<landing>/erasures/erased_units.csv` (written to a temporary
   file beside it, then renamed: atomic). It holds the unit, when, and the SHA-256 of the reason (the
   reason itself goes to the audit table only). The folder travels with the landed files; the landing
   listing passes over it, and bronze honours it on every read (a full refresh, a file landed again):
   the unit's lines enter as rows with no text (`erased_at` set), never parsed. The landed files
   themselves are left as delivered: they are the source system's files (their versions are the
   ingestion checkpoint); the source system erases its own copy.
2. Score files: every `scores_*.parquet` under `<predictions>/unit_risk_scores/` holding the unit is
   rewritten without it (temporary file, then rename; its modification time kept), or removed when it
   held nothing else. The scores are read whole by every build (no checkpoint), so nothing is re-read.
   They are swept again after the publish (step 6): `python -m ml.predict` scores under the lake lock, so
   it reads the tombstone before this erasure takes the lock or after it wrote it, but a scoring run outside
   the lock (`ml.predict.score_all` called from Python) may have written a file holding the unit since.
3. The warehouse, in one transaction (waiting for a running build like dbt does): the unit's bronze
   raw lines are blanked in place (`raw_line` null, `erased_at` set: the rows stay, so the checkpoint,
   the duplicate detection and the reconciliation "landed = kept + quarantined + erased" hold); its
   rows leave the clean bronze tables, the quarantine, the pending parse batch, the registry snapshot
   and the latest-score table (`silver.int_unit_risk_scores_latest` only takes newer scores in). The
   checkpoint of the models that count each file's lines (`mart_data_quality`) is moved back to just
   before the oldest landing that lost lines, so the build recounts those files.
4. The published Delta tables: one DELETE commit per table holding the unit (predicate on `unit_id`,
   under the lake lock), carrying the previous commit's `pdm.*` metadata with the fingerprint updated
   (the unit's rows' hash aggregates taken out), so the next publish compares against it as usual.
5. `dbt build` (the normal incremental one): int_unit_reading_changes names the erased unit, so every
   per-unit silver and gold model deletes its rows (and a train unit refits its dataset's baselines).
   Then every warehouse table is checked: none may hold a row of the unit (the change logs, which name
   units and hold no data, aside: LOG_TABLES).
6. `lakehouse.publish` (the normal one) publishes what the build changed.
7. Old versions: without `--purge` the command names, per table, the versions that still hold the
   unit (until `make optimize` or `make watch` vacuums them); with `--purge` it vacuums every published
   table with retention 0 (registered models' versions included). Either way it names the registered
   models trained on a Delta version that held the unit (MLflow tags `delta_path` / `delta_version`).
8. The audit record: one row, status `complete`, appended to the Delta table `<lake>/audit/erasures`
   (unit, reason, when, rows removed per table, landing lines erased, score rows removed, Delta versions
   written, old versions still holding it, models trained on it, status). `make optimize` works on `<lake>/gold/`
   only, so the audit table is never compacted or vacuumed.
9. The analysts' database (`lakehouse.analysts`, in the lake's folder) is rebuilt: its views pin the
   versions without the unit, and `audit.erasures` shows the new record.

A failure (the build stops on something else, a lock held too long) ends the command with exit 1 and
a message naming the step; the audit table gets a row with that status (a kill leaves the `started` row).
Every step is idempotent, so `make erase` on the same unit (or any other) again completes the erasure.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import CommitProperties, write_deltalake

from lakehouse import analysts
from lakehouse import lake as lakelib
from lakehouse import publish as publishing
from lakehouse.lock import DEFAULT_TIMEOUT_S, add_lock_timeout_option, lake_lock
from lakehouse.optimize import optimize_table, registered_versions
from ml.config import ERASURES_SUBDIR, REPO_ROOT, Paths, env_number, first_line, path_problem

TOMBSTONE_FILE = "erased_units.csv"
TOMBSTONE_COLUMNS = ("unit_id", "dataset", "split", "unit_number", "erased_at", "reason_sha256")
AUDIT_TABLE = ("audit", "erasures")  # <lake>/audit/erasures
SCORES_SUBDIR = "unit_risk_scores"
LANDED_LINES = "bronze.base_cmapss__landed_lines"
# Models incremental per landed file (bronze.ingestion_watermarks) whose rows count a file's lines.
PER_FILE_MODELS_TABLE = "bronze.ingestion_watermarks"
PER_FILE_MODELS = ("mart_data_quality",)
# Tables that name units without holding their data: which units each build changed, each unit's
# input digests (a unit no input knows keeps a row of null digests), and which units each per-unit
# gold model rewrote. They must keep naming the unit for the build after an erasure to delete it
# downstream, and for the publish after it to replace it in the Delta tables.
LOG_TABLES = (
    "silver.int_unit_reading_changes",
    "silver.int_unit_change_log",
    "silver.int_unit_context_hashes",
    "silver.unit_rewrites",
)
# The unit number a raw sensor line names (its first token, a positive whole number): the same rule
# as the dbt macro raw_line_unit_number (macros/ingestion/read_erased_units.sql; test_lakehouse_erase compares them).
_FIRST = r"try_cast(regexp_extract({col}, '^\s*(\S+)', 1) as double)"
RAW_LINE_UNIT_NUMBER = (
    f"case when {_FIRST} between 1 and 2147483647 and {_FIRST} = floor({_FIRST}) then cast({_FIRST} as integer) end"
)
UNIT_ID_PATTERN = re.compile(r"^(?P<dataset>[A-Za-z0-9_]+)-(?P<split>train|test)-(?P<number>[0-9]+)$")
DBT = str(Path(sys.executable).with_name("dbt"))


class EraseError(lakelib.LakeError):
    """The erasure could not run or complete; the message names the unit and the step."""


class EraseRefused(EraseError):
    """The request itself is wrong (not a unit id, an unknown unit, no reason): nothing was written."""


@dataclass(frozen=True)
class Unit:
    """One unit: `FD101-test-016` is dataset FD101, split test, unit number 16."""

    dataset: str
    split: str
    number: int

    @property
    def unit_id(self) -> str:
        return f"{self.dataset}-{self.split}-{self.number:03d}"

    @classmethod
    def parse(cls, text: str) -> Unit:
        match = UNIT_ID_PATTERN.match(text.strip())
        if not match or int(match["number"]) < 1:
            raise EraseRefused(
                f"{text!r} is not a unit id: expected <dataset>-<train|test>-<number>, e.g. FD101-test-016"
            )
        return cls(match["dataset"], match["split"], int(match["number"]))


@dataclass
class Erasure:
    """What one run of the erasure did (the audit record)."""

    unit: Unit
    reason: str
    erased_at: datetime
    purge: bool
    erasure_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    status: str = "started"
    landing_lines_erased: int = 0
    score_rows_removed: int = 0
    removed_rows: dict[str, int] = field(default_factory=dict)  # table -> rows removed (warehouse and Delta)
    delta_versions: dict[str, int] = field(default_factory=dict)  # Delta table -> version of its DELETE commit
    versions_still_holding: dict[str, list[int]] = field(default_factory=dict)
    models_trained_on_unit: list[str] = field(default_factory=list)

    def audit_row(self) -> pa.Table:
        def text(value: object) -> str:
            return json.dumps(value, sort_keys=True)

        return pa.table(
            {
                "erasure_id": [self.erasure_id],
                "unit_id": [self.unit.unit_id],
                "dataset": [self.unit.dataset],
                "split": [self.unit.split],
                "unit_number": pa.array([self.unit.number], pa.int32()),
                "reason": [self.reason],
                "reason_sha256": [reason_digest(self.reason)],
                "erased_at": pa.array([self.erased_at], pa.timestamp("us", tz="UTC")),
                "recorded_at": pa.array([datetime.now(UTC)], pa.timestamp("us", tz="UTC")),
                "status": [self.status],
                "purged": [self.purge],
                "landing_lines_erased": pa.array([self.landing_lines_erased], pa.int64()),
                "score_rows_removed": pa.array([self.score_rows_removed], pa.int64()),
                "removed_rows_json": [text(self.removed_rows)],
                "delta_versions_json": [text(self.delta_versions)],
                "versions_still_holding_json": [text(self.versions_still_holding)],
                "models_trained_on_unit_json": [text(self.models_trained_on_unit)],
            }
        )


def reason_digest(reason: str) -> str:
    return hashlib.sha256(reason.encode()).hexdigest()


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _qualified(table: str) -> str:
    schema, name = table.split(".", 1)
    return f"{_ident(schema)}.{_ident(name)}"


# ----------------------------------------------------------------------------------- the tombstone


def tombstone_path(landing: Path) -> Path:
    return Path(landing) / ERASURES_SUBDIR / TOMBSTONE_FILE


def read_tombstone(landing: Path) -> list[dict[str, str]]:
    """The tombstone's rows (none without the file), read as bronze's `read_csv` reads it: a byte-order mark
    (an editor's save) is no part of the header. One that names no unit_id column (empty, garbled) raises
    `EraseError` naming the file: who reads it (the erase, a restore, training, scoring) must not go on as if
    no unit were erased."""
    path = tombstone_path(landing)
    if not path.exists():
        return []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise EraseError(f"the erasure tombstone {path} can't be read ({error}): put it back from a backup") from error
    if "unit_id" not in (reader.fieldnames or []):
        raise EraseError(
            f"the erasure tombstone {path} has no unit_id column (its header: {reader.fieldnames or 'none'}): "
            f"put it back from a backup, or its first line back to {','.join(TOMBSTONE_COLUMNS)}"
        )
    return [row for row in rows if row["unit_id"]]


def add_to_tombstone(landing: Path, unit: Unit, reason: str, now: datetime) -> datetime:
    """Add `unit` to the tombstone unless it is there; returns its erasure time (the first one)."""
    rows = read_tombstone(landing)
    for row in rows:
        if row["unit_id"] == unit.unit_id:
            return datetime.fromisoformat(row["erased_at"]).replace(tzinfo=UTC)
    erased_at = now.astimezone(UTC)
    rows.append(
        {
            "unit_id": unit.unit_id,
            "dataset": unit.dataset,
            "split": unit.split,
            "unit_number": str(unit.number),
            "erased_at": erased_at.strftime("%Y-%m-%d %H:%M:%S.%f"),
            "reason_sha256": reason_digest(reason),
        }
    )
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=TOMBSTONE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = tombstone_path(landing)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(buffer.getvalue())
    os.replace(partial, path)
    return erased_at


# ------------------------------------------------------------------------------------- score files


def erase_from_scores(predictions: Path, unit: Unit) -> int:
    """Rewrite every scores file holding `unit` without it (atomically; removed when nothing is left)."""
    folder = Path(predictions) / SCORES_SUBDIR
    removed = 0
    for path in sorted(folder.glob("*.parquet")) if folder.is_dir() else []:
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException) as error:
            raise EraseError(
                f"scores file {path} is unreadable ({error}); it may hold {unit.unit_id}: "
                "remove or repair it, then run the erasure again"
            ) from error
        if "unit_id" not in table.column_names:
            continue
        keep = pa.compute.not_equal(table["unit_id"], unit.unit_id)
        kept = table.filter(pa.compute.fill_null(keep, True))
        if kept.num_rows == table.num_rows:
            continue
        removed += table.num_rows - kept.num_rows
        if kept.num_rows == 0:
            path.unlink()
            continue
        status = path.stat()
        partial = path.with_name(f".{path.name}.partial")
        pq.write_table(kept, partial)
        os.utime(partial, ns=(status.st_atime_ns, status.st_mtime_ns))
        os.replace(partial, path)
    return removed


# ------------------------------------------------------------------------------------ the warehouse


def open_warehouse(warehouse: Path, wait_s: float, say: TextIO) -> duckdb.DuckDBPyConnection:
    """The warehouse read-write (delta extension loaded), waiting up to `wait_s` for a build to finish."""
    if not Path(warehouse).exists():
        raise EraseError(f"no warehouse at {warehouse}: nothing to erase from (run `make build` first)")
    deadline = time.monotonic() + wait_s
    announced = False
    while True:
        try:
            con = lakelib.connect(warehouse)
            con.execute("set TimeZone = 'UTC'")
            return con
        except duckdb.IOException as error:
            if time.monotonic() >= deadline:
                raise EraseError(
                    f"the warehouse {warehouse} stayed locked for {wait_s:g} s ({error}); nothing was erased "
                    "from it: run the erasure again once the build or session is over"
                ) from error
            if not announced:
                print(f"erase: waiting up to {wait_s:g} s for the warehouse {warehouse}: {error}", file=say)
                announced = True
            time.sleep(1.0)


def _tables_with(con: duckdb.DuckDBPyConnection, column: str) -> list[str]:
    rows = con.execute(
        """
        select c.table_schema || '.' || c.table_name
        from information_schema.columns as c
        inner join information_schema.tables as t
            on c.table_catalog = t.table_catalog and c.table_schema = t.table_schema and c.table_name = t.table_name
        where c.table_catalog = current_database() and t.table_type = 'BASE TABLE' and c.column_name = ?
        order by 1
        """,
        [column],
    ).fetchall()
    return [name for (name,) in rows]


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    schema, name = table.split(".", 1)
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_catalog = current_database() and table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchall()
    return {column for (column,) in rows}


def unit_rows(con: duckdb.DuckDBPyConnection, unit: Unit, exclude: Sequence[str] = LOG_TABLES) -> dict[str, int]:
    """Rows of `unit` per warehouse table (by `unit_id`, else by dataset + split + unit_number); none: left out."""
    counts: dict[str, int] = {}
    by_id = set(_tables_with(con, "unit_id"))
    by_number = set(_tables_with(con, "unit_number")) & set(_tables_with(con, "split"))
    by_number &= set(_tables_with(con, "dataset"))
    for table in sorted(by_id | by_number):
        if table in exclude:
            continue
        if table in by_id:
            condition, params = "unit_id = ?", [unit.unit_id]
        else:
            condition, params = "dataset = ? and split = ? and unit_number = ?", [unit.dataset, unit.split, unit.number]
        (rows,) = con.execute(f"select count(*) from {_qualified(table)} where {condition}", params).fetchone()
        if rows:
            counts[table] = int(rows)
    return counts


# A landed data file's name, as bronze reads it: what it holds (group 1), which dataset (group 2). The text of
# the dbt macro cmapss_file_name_regex, character for character (test_lakehouse_erase compares them).
LANDED_FILE_NAME = re.compile(r"^(train|test|RUL)_(FD[0-9]{3})([_ -][^/\\]*)?\.txt$")


def landed_files_of(landing: Path, unit: Unit) -> list[Path]:
    """The data files at the top of the landing folder (where bronze lists them) holding a line of `unit`: a
    sensor file of its dataset and split with a line whose first token is its number (RAW_LINE_UNIT_NUMBER),
    or, for a test unit, its dataset's RUL file with a line numbered as the unit. What makes a unit that landed
    but was never built (in no warehouse table yet) known to the erasure."""
    folder = Path(landing)
    found = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        match = LANDED_FILE_NAME.match(path.name)
        kind, dataset = (match[1], match[2]) if match else (None, None)
        if dataset != unit.dataset or not path.is_file():
            continue
        if kind == "RUL":
            if unit.split == "test" and _line_count(path) >= unit.number:
                found.append(path)
        elif kind == unit.split and _holds_unit_number(path, unit.number):
            found.append(path)
    return found


def _line_count(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def _holds_unit_number(path: Path, number: int) -> bool:
    with path.open("rb") as handle:
        for line in handle:
            first = line.split(maxsplit=1)[:1]
            try:
                if first and float(first[0]) == number:
                    return True
            except ValueError:
                continue
    return False


def known_in_warehouse(con: duckdb.DuckDBPyConnection, unit: Unit) -> bool:
    if unit_rows(con, unit):
        return True
    if LANDED_LINES not in _tables_with(con, "raw_line"):
        return False
    (lines,) = con.execute(
        f"select count(*) from {LANDED_LINES} where {_line_of_unit_sql()}", _line_of_unit_params(unit)
    ).fetchone()
    return bool(lines)


def _line_of_unit_sql() -> str:
    unit_of_line = RAW_LINE_UNIT_NUMBER.format(col="raw_line")
    return (
        "dataset = ? and split = ? and ("
        f"(file_kind = 'sensor_readings' and {unit_of_line} = ?) or (file_kind = 'rul_truth' and line_number = ?))"
    )


def _line_of_unit_params(unit: Unit) -> list:
    return [unit.dataset, unit.split, unit.number, unit.number]


def erase_from_warehouse(con: duckdb.DuckDBPyConnection, unit: Unit, erased_at: datetime, record: Erasure) -> None:
    """Blank the unit's bronze lines and drop its rows from the tables no build rewrites per unit (one transaction)."""
    stamp = erased_at.astimezone(UTC).replace(tzinfo=None)
    existing = existing_tables(con)
    con.execute("begin transaction")
    try:
        if LANDED_LINES in existing:
            if "erased_at" not in _columns(con, LANDED_LINES):  # a warehouse built before erasures existed
                con.execute(f"alter table {LANDED_LINES} add column erased_at timestamp")
            blanked = con.execute(
                f"update {LANDED_LINES} set raw_line = null, column_count = null, erased_at = ? "
                f"where erased_at is null and {_line_of_unit_sql()} returning ingested_at",
                [stamp, *_line_of_unit_params(unit)],
            ).fetchall()
            record.landing_lines_erased += len(blanked)
            if blanked and PER_FILE_MODELS_TABLE in existing_tables(con):
                # the per-file models count kept and quarantined lines: rewind their checkpoint to
                # just before the oldest landing that lost lines, so the build recounts from there
                con.execute(
                    f"update {PER_FILE_MODELS_TABLE} set processed_through = least(processed_through, ?) "
                    f"where model_name in ({', '.join('?' for _ in PER_FILE_MODELS)})",
                    [min(row[0] for row in blanked) - timedelta(microseconds=1), *PER_FILE_MODELS],
                )
            erased_lines = f"(select file_version_id, line_number from {LANDED_LINES} where erased_at is not null)"
            for table in ("bronze.stg_cmapss__quarantined_lines", "bronze.base_cmapss__sensor_lines_parsed"):
                if table in existing:
                    (deleted,) = con.execute(
                        f"delete from {table} where (file_version_id, line_number) in {erased_lines}"
                    ).fetchone()
                    _count(record, table, deleted)
        by_number = {
            "bronze.stg_cmapss__sensor_readings",
            "bronze.stg_cmapss__rul_truth",
            "bronze.base_cmapss__sensor_lines_parsed",
        }
        for table in sorted(by_number & existing):
            (deleted,) = con.execute(
                f"delete from {table} where dataset = ? and split = ? and unit_number = ?",
                [unit.dataset, unit.split, unit.number],
            ).fetchone()
            _count(record, table, deleted)
        for table in ("snapshots.snap_equipment_registry", "silver.int_unit_risk_scores_latest"):
            if table in existing:
                (deleted,) = con.execute(f"delete from {table} where unit_id = ?", [unit.unit_id]).fetchone()
                _count(record, table, deleted)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_catalog = current_database()"
    ).fetchall()
    return {name for (name,) in rows}


def _count(record: Erasure, table: str, rows: int) -> None:
    if rows:
        record.removed_rows[table] = record.removed_rows.get(table, 0) + int(rows)


# ---------------------------------------------------------------------------------------- the lake


def published_with_units(lake: Path) -> list[str]:
    """Published gold tables with a `unit_id` column."""
    names = []
    for name in publishing.published_tables(lake):
        fields = lakelib.open_table(lakelib.mart_path(lake, name, publishing.LAYER)).schema().fields
        if any(f.name == publishing.UNIT_KEY for f in fields):
            names.append(name)
    return names


def delete_from_lake(con: duckdb.DuckDBPyConnection, lake: Path, unit: Unit, record: Erasure) -> None:
    """One DELETE commit per published table holding the unit, its fingerprint updated (lake lock held)."""
    for name in published_with_units(lake):
        deleted = delete_units_from_table(con, lake, name, [unit.unit_id], "erase")
        if deleted is not None:
            record.delta_versions[f"lake/{publishing.LAYER}/{name}"] = deleted.version
            record.removed_rows[f"lake/{publishing.LAYER}/{name}"] = deleted.rows


@dataclass(frozen=True)
class DeletedUnits:
    """What `delete_units_from_table` deleted: the units the table held, their rows, the DELETE commit."""

    units: tuple[str, ...]  # sorted
    rows: int
    version: int


def delete_units_from_table(
    con: duckdb.DuckDBPyConnection, lake: Path, name: str, unit_ids: Sequence[str], mode: str
) -> DeletedUnits | None:
    """Delete the rows of `unit_ids` from the latest version of published table `name` in one DELETE commit
    (lake lock held), carrying the previous commit's `pdm.*` metadata with the fingerprint updated (the
    rows' hash aggregates taken out) and `pdm.mode` `mode`; returns which of the units it held, their rows and
    the new version, or None when the table holds none of them (no commit)."""

    def among(units: Sequence[str]) -> str:
        return f"{publishing.UNIT_KEY} in ({', '.join(publishing._literal(u) for u in units)})"

    path = lakelib.mart_path(lake, name, publishing.LAYER)
    table = lakelib.open_table(path)
    version = table.version()
    held = con.execute(
        f"select {publishing.UNIT_KEY}, count(*) from {lakelib.delta_scan_sql(path, version)} "
        f"where {among(unit_ids)} group by all order by 1"
    ).fetchall()
    if not held:
        return None
    predicate = among([unit for unit, _ in held])  # the fingerprint's update and the DELETE: the units it holds
    commit = publishing.latest_commit(table)
    metadata = publishing.pdm_metadata(commit)
    stored = publishing._stored_fingerprint(commit)
    columns = publishing.table_columns(con, name)
    if stored is not None and columns and stored.schema == publishing._schema_digest(columns):
        alias = publishing._row_alias(columns)
        casts = ", ".join(f"cast({_ident(c)} as {dtype}) as {_ident(c)}" for c, dtype in columns)
        gone, gone_sum, gone_xor = publishing._hash_aggregates(
            con, f"(select {casts} from {lakelib.delta_scan_sql(path, version)} where {predicate})", alias
        )
        left = publishing._fingerprint_from(
            columns, stored.rows - gone, stored.hash_sum - gone_sum, stored.hash_xor ^ gone_xor
        )
        metadata.update(
            {
                publishing.META_FINGERPRINT: left.digest,
                publishing.META_ROWS: str(left.rows),
                publishing.META_HASH_SUM: str(left.hash_sum),
                publishing.META_HASH_XOR: str(left.hash_xor),
            }
        )
    else:  # no usable fingerprint to update: the next publish compares the table whole; the row count holds
        for key in (publishing.META_FINGERPRINT, publishing.META_HASH_SUM, publishing.META_HASH_XOR):
            metadata.pop(key, None)
        if publishing.META_ROWS in metadata:
            metadata[publishing.META_ROWS] = str(int(metadata[publishing.META_ROWS]) - sum(int(n) for _, n in held))
    metadata[publishing.META_MODE] = mode
    if mode == "restore":  # a restore's second commit: the erased units its RESTORE commit brought back are gone
        metadata.pop(publishing.META_ERASED_PENDING, None)
    table.delete(
        predicate,
        commit_properties=CommitProperties(custom_metadata=metadata),
        post_commithook_properties=publishing.POST_COMMIT,
    )
    return DeletedUnits(
        tuple(unit for unit, _ in held), sum(int(n) for _, n in held), lakelib.open_table(path).version()
    )


def versions_holding(con: duckdb.DuckDBPyConnection, lake: Path, unit: Unit) -> dict[str, list[int]]:
    """Per published table, the versions (readable, not the latest) whose rows include the unit."""
    predicate = f"{publishing.UNIT_KEY} = {publishing._literal(unit.unit_id)}"
    holding: dict[str, list[int]] = {}
    for name in published_with_units(lake):
        path = lakelib.mart_path(lake, name, publishing.LAYER)
        latest = lakelib.open_table(path).version()
        for version in range(latest):
            try:
                (rows,) = con.execute(
                    f"select count(*) from {lakelib.delta_scan_sql(path, version)} where {predicate}"
                ).fetchone()
            except duckdb.Error:  # its files were vacuumed: it holds nothing readable
                continue
            if rows:
                holding.setdefault(name, []).append(version)
    return holding


def models_trained_on(con: duckdb.DuckDBPyConnection, mlflow_dir: Path, unit: Unit) -> list[str]:
    """Registered model versions whose training Delta version (tags delta_path / delta_version) held the unit."""
    store = Path(mlflow_dir) / "mlflow.db"
    if not store.exists():
        return []
    from mlflow.tracking import MlflowClient  # slow to import: only with a registry

    pinned = registered_versions(mlflow_dir)
    client = MlflowClient(tracking_uri=f"sqlite:///{store.resolve()}", registry_uri=f"sqlite:///{store.resolve()}")
    predicate = f"{publishing.UNIT_KEY} = {publishing._literal(unit.unit_id)}"
    held: set[tuple[str, int]] = set()
    for path, versions in pinned.items():
        for version in versions:
            try:
                (rows,) = con.execute(
                    f"select count(*) from {lakelib.delta_scan_sql(path, version)} where {predicate}"
                ).fetchone()
            except duckdb.Error:
                continue
            if rows:
                held.add((str(path), version))
    found = []
    for model in client.search_model_versions(max_results=1000):
        tags = model.tags or {}
        key = (str(Path(tags.get("delta_path", "")).resolve()), int(tags.get("delta_version", -1) or -1))
        if key in held:
            found.append(f"{model.name} v{model.version} (trained on {Path(key[0]).name} v{key[1]})")
    return sorted(found)


def write_audit(lake: Path, record: Erasure) -> Path:
    path = Path(lake).joinpath(*AUDIT_TABLE)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_deltalake(str(path), record.audit_row(), mode="append")
    return path


@dataclass(frozen=True)
class PendingErasure:
    """An erasure whose latest audit row is not `complete`: requested, then killed or failed part-way."""

    unit_id: str
    erasure_id: str
    reason: str
    status: str


def pending_erasures(lake: Path) -> list[PendingErasure]:
    """The units whose latest audit row (by `recorded_at`) is not `complete`, sorted by unit: an erasure was
    requested (its `started` row is written before anything is erased) and never finished."""
    path = Path(lake).joinpath(*AUDIT_TABLE)
    if not (path / "_delta_log").is_dir():
        return []
    try:
        rows = (
            lakelib.open_table(path)
            .to_pyarrow_table(columns=["unit_id", "erasure_id", "reason", "status", "recorded_at"])
            .to_pylist()
        )
    except Exception as error:  # a damaged audit table: nobody can tell what was erased
        raise lakelib.LakeError(f"can't read the erasure audit table {path}: {first_line(error)}") from error
    latest: dict[str, dict] = {}
    for row in sorted(rows, key=lambda r: r["recorded_at"]):
        latest[row["unit_id"]] = row
    return [
        PendingErasure(unit, row["erasure_id"], row["reason"], row["status"])
        for unit, row in sorted(latest.items())
        if row["status"] != "complete"
    ]


def refuse_if_erasure_pending(lake: Path, command: str) -> None:
    """Raise a `LakeError` naming the units of an unfinished erasure (see `pending_erasures`): until the
    erasure completes, the warehouse's gold may still hold them and a publish would write them back."""
    pending = pending_erasures(lake)
    if pending:
        units = ",".join(p.unit_id for p in pending)
        states = "; ".join(f"{p.unit_id}: {p.status}" for p in pending)
        raise lakelib.LakeError(
            f"an erasure was requested and not completed ({states}; {'/'.join(AUDIT_TABLE)} in {lake}): "
            f"{command} would bring the unit's rows back. Run `make erase UNIT={units} REASON=...` to complete "
            "it (or wait for the erasure that is running now to finish)"
        )


# -------------------------------------------------------------------------------------- the command


def build_environment(paths: Paths, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """os.environ pointed at `paths` (so the build works on the very folders this erasure did), plus `extra`."""
    return {
        **os.environ,
        "PDM_LANDING_PATH": str(paths.landing),
        "PDM_WAREHOUSE_PATH": str(paths.warehouse),
        "PDM_LAKE_PATH": str(paths.lake),
        "PDM_MLFLOW_DIR": str(paths.mlflow),
        "PDM_PREDICTIONS_PATH": str(paths.predictions),
        "DBT_PROFILES_DIR": os.environ.get("DBT_PROFILES_DIR", str(REPO_ROOT)),
        **(extra or {}),
    }


def run_build(dbt_args: Sequence[str], environment: Mapping[str, str]) -> None:
    result = subprocess.run(
        [DBT, "build", *dbt_args], cwd=REPO_ROOT, env=dict(environment), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout.splitlines() + result.stderr.splitlines())[-25:])
        raise EraseError(f"`dbt build` failed, so silver and gold may still hold the unit:\n{tail}")


def erase(
    paths: Paths,
    units: Sequence[Unit],
    reason: str,
    purge: bool = False,
    dbt_args: Sequence[str] = (),
    dbt_env: Mapping[str, str] | None = None,
    lock_timeout: float = DEFAULT_TIMEOUT_S,
    warehouse_wait_s: float = 30.0,
    say: TextIO = sys.stdout,
) -> list[Erasure]:
    """Erase `units` everywhere (see the module docstring; one build and one publish for all of them).

    The build runs `dbt build <dbt_args>` on `paths` (their PDM_* variables set over os.environ and
    `dbt_env`).

    Returns the audit records it appended, one per unit.
    """
    if not reason.strip():
        raise EraseRefused("an erasure needs a reason (--reason / REASON=): it goes to the audit table")
    now = datetime.now(UTC)
    records = [Erasure(unit, reason, now, purge) for unit in dict.fromkeys(units)]
    names = ", ".join(r.unit.unit_id for r in records)
    lake = Path(paths.lake)
    step = "tombstone"
    requested = False  # the `started` audit rows are written: a failure from here on is recorded
    before: dict[str, dict[str, int]] = {}
    try:
        with lake_lock(lake, "erase", lock_timeout):
            con = open_warehouse(paths.warehouse, warehouse_wait_s, say)
            try:
                listed = {row["unit_id"] for row in read_tombstone(paths.landing)}
                unknown = [
                    r.unit.unit_id
                    for r in records
                    if r.unit.unit_id not in listed
                    and not known_in_warehouse(con, r.unit)
                    and not landed_files_of(paths.landing, r.unit)  # landed, not built yet: its lines enter blank
                ]
                if unknown:
                    raise EraseRefused(
                        f"unit {', '.join(unknown)} is neither in the warehouse {paths.warehouse}, nor in a file "
                        f"landed in {paths.landing}, nor in the tombstone {tombstone_path(paths.landing)}: nothing was "
                        "erased (check the id)"
                    )
                # an earlier erasure killed or failed part-way is completed by this one, under its own id and reason
                asked = {r.unit.unit_id for r in records}
                for earlier in pending_erasures(lake):
                    if earlier.unit_id not in asked:
                        print(
                            f"erase: completing the earlier erasure of {earlier.unit_id} ({earlier.status})", file=say
                        )
                        records.append(
                            Erasure(Unit.parse(earlier.unit_id), earlier.reason, now, purge, earlier.erasure_id)
                        )
                names = ", ".join(r.unit.unit_id for r in records)
                # the request, durable before anything is erased: until its `complete` row, publish, the
                # watcher and the next erase know an erasure of these units is unfinished
                for record in records:
                    write_audit(lake, record)
                requested = True
                for record in records:
                    record.erased_at = add_to_tombstone(paths.landing, record.unit, record.reason, now)
                step = "score files"
                for record in records:
                    record.score_rows_removed = erase_from_scores(paths.predictions, record.unit)
                step = "warehouse"
                for record in records:
                    before[record.unit.unit_id] = unit_rows(con, record.unit)
                    erase_from_warehouse(con, record.unit, record.erased_at, record)
                step = "Delta DELETE commits"
                for record in records:
                    delete_from_lake(con, lake, record.unit, record)
            finally:
                con.close()
            step = "dbt build"
            run_build(dbt_args, build_environment(paths, dbt_env))
        step = "publish"
        for result in publishing.publish(
            paths.warehouse, paths.lake, lock_timeout=lock_timeout, completing_erasure=True
        ):
            if result.changed:
                print(f"erase: published {result.summary()}", file=say)
        with lake_lock(lake, "erase", lock_timeout):
            step = "checking the warehouse"
            with lakelib.connect(paths.warehouse, read_only=True) as con:
                left = {}
                for record in records:
                    remaining = unit_rows(con, record.unit)
                    for table, rows in before[record.unit.unit_id].items():
                        if table not in record.removed_rows and table not in remaining:
                            record.removed_rows[table] = rows
                    left.update({f"{table} ({record.unit.unit_id})": n for table, n in remaining.items()})
                if left:
                    raise EraseError(
                        "still held after the build: " + ", ".join(f"{t}: {n} rows" for t, n in sorted(left.items()))
                    )
                step = "score files, again"
                for record in records:  # what a scoring run that read the tombstone before it was written wrote
                    record.score_rows_removed += erase_from_scores(paths.predictions, record.unit)
                step = "old Delta versions"
                for record in records:
                    record.models_trained_on_unit = models_trained_on(con, paths.mlflow, record.unit)
                if purge:
                    for name in publishing.published_tables(lake):
                        optimize_table(lakelib.mart_path(lake, name, publishing.LAYER), 0, set())
                for record in records:
                    record.versions_still_holding = versions_holding(con, lake, record.unit)
            for record in records:
                record.status = "complete"
                write_audit(lake, record)
    except Exception as error:
        detail = first_line(error)
        if requested:
            try:
                with lake_lock(lake, "erase", lock_timeout):
                    for record in records:
                        record.status = f"failed at {step}: {detail}"
                        write_audit(lake, record)
            except Exception as audit_error:  # the first error is the one to report
                print(f"erase: could not write the audit record: {audit_error}", file=sys.stderr)
        if isinstance(error, EraseRefused):
            raise
        if isinstance(error, (lakelib.LakeError, OSError)):  # OSError: a landing or predictions folder read-only
            again = " ".join(f"UNIT={r.unit.unit_id}" for r in records)
            problem = path_problem(error) if isinstance(error, OSError) else error
            raise EraseError(
                f"erasure of {names} stopped at the step '{step}': {problem}\n"
                f"Run `make erase {again} REASON=...` again to complete it (every step is idempotent)."
            ) from error
        raise
    try:  # the analysts' database: the DELETE commits and the audit rows (publish refreshed it for the former)
        with lake_lock(lake, "erase", lock_timeout):
            analysts.refresh_under_lock(lake, analysts.default_database(lake))
    except lakelib.LakeError as error:
        raise EraseError(
            f"erasure of {names} is complete (audit rows written), but {error}\n"
            "Run `python -m lakehouse.analysts` to rebuild the analysts' database."
        ) from error
    return records


def report(record: Erasure) -> str:
    lines = [f"erase: {record.unit.unit_id} erased (recorded at {record.erased_at:%Y-%m-%dT%H:%M:%SZ})"]
    lines.append(f"  landing: tombstone row; {record.landing_lines_erased} raw lines blanked in bronze")
    lines.append(f"  scores: {record.score_rows_removed} rows removed from the score files")
    for table, rows in sorted(record.removed_rows.items()):
        where = f" (DELETE commit v{record.delta_versions[table]})" if table in record.delta_versions else ""
        lines.append(f"  {table}: {rows} rows removed{where}")
    if not record.removed_rows:
        lines.append(
            "  no table held the unit (landed but never built, or erased before): the tombstone keeps its "
            "landed lines out of every build (they enter bronze with no text)"
        )
    if record.versions_still_holding:
        held = "; ".join(f"{t} v{', v'.join(map(str, v))}" for t, v in sorted(record.versions_still_holding.items()))
        lines.append(f"  old Delta versions still holding the unit until vacuumed ({held}): run with PURGE=1")
    elif record.purge:
        lines.append("  old Delta versions vacuumed (retention 0): no readable version holds the unit")
    if record.models_trained_on_unit:
        lines.append("  registered models trained on a Delta version holding the unit:")
        lines += [f"    {model}" for model in record.models_trained_on_unit]
    else:
        lines.append("  no registered model was trained on a Delta version holding the unit")
    lines.append(f"  audit: {'/'.join(AUDIT_TABLE)} row {record.erasure_id}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lakehouse.erase",
        description="Erase every trace of one unit from the current state (landing tombstone, bronze, silver, "
        "gold, the published Delta tables, the scores) and record it in <lake>/audit/erasures.",
    )
    parser.add_argument("--unit", required=True, help="the unit_id, e.g. FD101-test-016 (several: comma-separated)")
    parser.add_argument("--reason", required=True, help="why (kept in the audit table only)")
    parser.add_argument("--purge", action="store_true", help="also vacuum every old Delta version (retention 0)")
    parser.add_argument("--target", help="the dbt target of the build (default: the profile's)")
    add_lock_timeout_option(parser)
    args = parser.parse_args(argv)
    paths = Paths.from_env()
    try:
        units = [Unit.parse(text) for text in args.unit.split(",") if text.strip()]
        if not units:
            raise EraseRefused(
                f"no unit named ({args.unit!r}): --unit (make erase UNIT=) takes the unit_id(s) to erase"
            )
        records = erase(
            paths,
            units,
            args.reason,
            args.purge,
            ["--target", args.target] if args.target else [],
            None,
            args.lock_timeout,
            env_number("PDM_WAREHOUSE_LOCK_WAIT_SECONDS", 30.0),
        )
    except lakelib.LakeError as error:
        print(f"erase: {error}", file=sys.stderr)
        return 2 if isinstance(error, EraseRefused) else 1
    for record in records:
        print(report(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
