"""Incremental publish of unit-keyed gold tables from the change log `silver.int_unit_change_log`.

Real DuckDB warehouse files, real Delta tables; the change log is created directly in the warehouse
with the columns the incremental build writes (changed_at, unit_id, is_full_rebuild).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from deltalake import DeltaTable
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse import lake
from lakehouse import publish as publishing
from lakehouse.publish import META_CHANGES_THROUGH, META_FINGERPRINT, META_MODE, fingerprint, publish, unit_ranges

UNITS = [f"u{i:02d}" for i in range(30)] + ["o'brien"]  # a quote must survive both SQL dialects
FEATURES = """create table gold.fct_features (
    unit_id varchar, cycle integer, x double, reading_at timestamp, is_late boolean, score decimal(18, 3),
    primary key (unit_id, cycle))"""


class Warehouse:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.sql("create schema if not exists gold", "create schema if not exists silver")

    def sql(self, *statements: str, con_query: str | None = None):
        with duckdb.connect(str(self.path)) as con:
            for statement in statements:
                con.execute(statement)
            return con.execute(con_query).fetchall() if con_query else None

    def log(self, changed_at: str, *units: str, full: bool = False) -> None:
        rows = [f"(timestamp '{changed_at}', null, true)"] if full else []
        rows += [f"(timestamp '{changed_at}', '{u.replace(chr(39), chr(39) * 2)}', false)" for u in units]
        self.sql(f"insert into silver.int_unit_change_log values {', '.join(rows)}")

    def full_fingerprint(self, table: str) -> str:
        with duckdb.connect(str(self.path), read_only=True) as con:
            return fingerprint(con, table).digest


def rows(source: str) -> list[tuple]:
    with lake.connect() as con:
        return con.execute(f"select * from {source} order by all").fetchall()


def warehouse_rows(warehouse: Warehouse, table: str) -> list[tuple]:
    with duckdb.connect(str(warehouse.path), read_only=True) as con:
        return con.execute(f"select * from gold.{table} order by all").fetchall()


def file_sizes(lake_dir: Path, table: str, version: int) -> dict[str, int]:
    """The data files of `version` of `table`, with their bytes."""
    actions = DeltaTable(str(lake.mart_path(lake_dir, table)), version=version).get_add_actions(flatten=True)
    files = pa.table(actions).select(["path", "size_bytes"]).to_pydict()
    return dict(zip(files["path"], files["size_bytes"], strict=True))


def delta(lake_dir: Path, table: str, version: int | None = None) -> str:
    return lake.delta_scan_sql(lake.mart_path(lake_dir, table), version)


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    (tmp_path / "warehouse").mkdir()
    w = Warehouse(tmp_path / "warehouse" / "pdm.duckdb")
    w.sql(
        FEATURES,
        "create table silver.int_unit_change_log (changed_at timestamp, unit_id varchar, is_full_rebuild boolean)",
        "create table gold.dim_equipment_models (model_code varchar primary key, n integer)",
        "insert into gold.dim_equipment_models values ('A', 1), ('B', 2)",
    )
    units = ", ".join("'" + u.replace("'", "''") + "'" for u in UNITS)
    w.sql(
        "insert into gold.fct_features select u, c::integer, u_i * 100 + c * 0.5, "
        "timestamp '2026-01-01' + to_hours(c::bigint), c % 7 = 0, (c / 3)::decimal(18, 3) "
        f"from (select unnest([{units}]) as u, generate_subscripts([{units}], 1) as u_i), range(1, 401) r(c)"
    )
    w.log("2026-01-01 00:00:00", full=True)
    return w


@pytest.fixture
def small_files(monkeypatch):
    """Small data files, so a table of a few thousand rows spans many files as a big one does."""
    monkeypatch.setattr(publishing, "TARGET_FILE_SIZE", 4096)
    monkeypatch.setattr(publishing, "BATCH_ROWS", 100)  # the writer cuts files between record batches


def test_changed_units_are_replaced_in_one_commit_touching_only_their_files(warehouse, tmp_path, small_files):
    lake_dir = tmp_path / "lake"
    first = {r.name: r for r in publish(warehouse.path, lake_dir)}
    assert (first["fct_features"].version, first["fct_features"].mode) == (0, "full")
    table = DeltaTable(str(lake.mart_path(lake_dir, "fct_features")))
    files_v0 = set(table.file_uris())
    assert len(files_v0) >= 10, "the test needs a table spread over many files"
    assert table.history(1)[0][META_CHANGES_THROUGH] == "2026-01-01T00:00:00"

    before = rows(delta(lake_dir, "fct_features"))
    warehouse.sql(
        "update gold.fct_features set x = -x where unit_id in ('u03', 'o''brien')",
        "delete from gold.fct_features where unit_id = 'u17'",
        "insert into gold.fct_features select 'u99', c::integer, c, null, false, 0 from range(1, 6) r(c)",
    )
    warehouse.log("2026-01-02 00:00:00", "u03", "o'brien", "u17", "u99")

    second = {r.name: r for r in publish(warehouse.path, lake_dir)}

    fct = second["fct_features"]
    assert (fct.version, fct.changed, fct.mode, fct.units) == (1, True, "units", 4)
    assert second["dim_equipment_models"].changed is False
    commit = DeltaTable(str(lake.mart_path(lake_dir, "fct_features"))).history(1)[0]
    assert commit[META_MODE] == "units"
    assert commit[META_CHANGES_THROUGH] == "2026-01-02T00:00:00"
    assert commit["operationParameters"]["predicate"] == "unit_id IN ('o''brien', 'u03', 'u17', 'u99')"
    files_v1 = set(DeltaTable(str(lake.mart_path(lake_dir, "fct_features"))).file_uris())
    removed = files_v0 - files_v1
    assert 1 <= len(removed) <= 6  # the files holding the 3 changed old units, at most one more each
    assert len(files_v0 & files_v1) >= len(files_v0) - 6  # every other file is kept as it was
    # the publish says what the commit wrote and removed: files and bytes, as the Delta log has them
    sizes = {version: file_sizes(lake_dir, "fct_features", version) for version in (0, 1)}
    added, dropped = sizes[1].keys() - sizes[0].keys(), sizes[0].keys() - sizes[1].keys()
    assert (len(dropped), len(added)) == (len(removed), len(files_v1 - files_v0))
    written, gone = sum(sizes[1][f] for f in added), sum(sizes[0][f] for f in dropped)
    assert fct.files == lake.CommitFiles(len(added), written, len(dropped), gone)
    assert fct.summary() == (
        f"gold.fct_features: v1 ({fct.rows} rows; 4 units replaced): {len(added)} files written "
        f"({lake.size_text(written)}), {len(dropped)} removed ({lake.size_text(gone)})"
    )
    assert second["dim_equipment_models"].files is None and first["dim_equipment_models"].files.removed == 0
    # the lake holds exactly the warehouse rows, the old version is untouched, and the incrementally
    # updated fingerprint is the one a full read computes
    assert rows(delta(lake_dir, "fct_features")) == warehouse_rows(warehouse, "fct_features")
    assert rows(delta(lake_dir, "fct_features", 0)) == before
    assert commit[META_FINGERPRINT] == warehouse.full_fingerprint("fct_features") == fct.fingerprint


def test_nothing_logged_since_the_last_publish_reads_nothing_and_writes_nothing(warehouse, tmp_path):
    lake_dir = tmp_path / "lake"
    publish(warehouse.path, lake_dir)
    # a change the log does not name is, by the log's contract, not a change: proves no full read happens
    warehouse.sql("update gold.fct_features set x = 0 where unit_id = 'u05'")
    assert publish(warehouse.path, lake_dir)[1].changed is False
    # units named but with identical rows (the build touched them, nothing changed): no new version either
    warehouse.log("2026-01-02 00:00:00", "u01", "u02")
    result = publish(warehouse.path, lake_dir)[1]
    assert (result.version, result.changed) == (0, False)
    assert DeltaTable(str(lake.mart_path(lake_dir, "fct_features"))).version() == 0


def test_a_full_rebuild_marker_or_a_missing_log_rewrites_the_table_whole(warehouse, tmp_path):
    lake_dir = tmp_path / "lake"
    publish(warehouse.path, lake_dir)
    warehouse.sql("update gold.fct_features set x = 0 where unit_id = 'u05'")
    warehouse.log("2026-01-03 00:00:00", full=True)

    result = publish(warehouse.path, lake_dir)[1]
    assert (result.version, result.mode) == (1, "full")
    assert result.fingerprint == warehouse.full_fingerprint("fct_features")
    commit = DeltaTable(str(lake.mart_path(lake_dir, "fct_features"))).history(1)[0]
    assert commit[META_CHANGES_THROUGH] == "2026-01-03T00:00:00"

    warehouse.sql("drop table silver.int_unit_change_log", "update gold.fct_features set x = 1 where unit_id = 'u06'")
    result = publish(warehouse.path, lake_dir)[1]
    assert (result.version, result.mode) == (2, "full")
    assert rows(delta(lake_dir, "fct_features")) == warehouse_rows(warehouse, "fct_features")


def test_a_model_rebuilt_whole_alone_is_compared_whole_once(warehouse, tmp_path):
    """`dbt build --full-refresh -s <model>` after its SQL or a var changed: the change log names no unit,
    but the model's pre-hook records the whole rebuild in silver.unit_model_rebuilds."""
    lake_dir = tmp_path / "lake"
    warehouse.sql(
        "create table silver.unit_model_rebuilds (model_name varchar not null, rebuilt_at timestamp not null)"
    )
    publish(warehouse.path, lake_dir)
    warehouse.sql(
        "update gold.fct_features set x = x + 1",  # every unit, as a changed formula would
        "insert into silver.unit_model_rebuilds values ('fct_features', timestamp '2026-01-04 00:00:00'), "
        "('other_model', timestamp '2026-01-05 00:00:00')",
    )

    result = publish(warehouse.path, lake_dir)[1]
    assert (result.version, result.changed, result.mode) == (1, True, "full")
    assert rows(delta(lake_dir, "fct_features")) == warehouse_rows(warehouse, "fct_features")
    commit = DeltaTable(str(lake.mart_path(lake_dir, "fct_features"))).history(1)[0]
    assert commit[META_CHANGES_THROUGH] == "2026-01-04T00:00:00"  # the rebuild, newer than the log's last change

    # done once: the next publish takes the rebuild as applied, and goes back to the log (nothing named,
    # nothing read: a change the log does not name stays unpublished, as in the test above)
    warehouse.sql("update gold.fct_features set x = 0 where unit_id = 'u05'")
    assert publish(warehouse.path, lake_dir)[1].changed is False
    warehouse.log("2026-01-06 00:00:00", "u05")
    result = publish(warehouse.path, lake_dir)[1]
    assert (result.version, result.mode, result.units) == (2, "units", 1)
    assert rows(delta(lake_dir, "fct_features")) == warehouse_rows(warehouse, "fct_features")


# ------------------------------------------------------------------ incremental == full fingerprint

TYPES = (
    "id integer, unit_id varchar, x double, t timestamptz, d date, amount decimal(18, 3), tags varchar[], ok boolean"
)
value_rows = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d'e", "é"]),
        st.none() | st.floats(allow_nan=True, allow_infinity=True, width=64),
        st.none() | st.integers(0, 2**40),
        st.none() | st.lists(st.text(max_size=3), max_size=2),
        st.booleans(),
    ),
    max_size=8,
)


def _load(con: duckdb.DuckDBPyConnection, data: list[tuple]) -> None:
    """`data`: (id, unit, x, n, tags, ok) rows; n drives the timestamp, date and decimal columns."""
    con.execute(f"create or replace table gold.t ({TYPES})")
    for i, unit, x, n, tags, ok in data:
        con.execute(
            "insert into gold.t values (?, ?, ?, to_timestamp(?), ?, ?, ?, ?)",
            [
                i,
                unit,
                x,
                n,
                None if n is None else date(2022, 1, 1) + timedelta(days=n % 1000),
                None if n is None else n / 1000,
                tags,
                ok,
            ],
        )


@pytest.fixture(scope="module")
def memory_con(tmp_path_factory):
    with lake.connect(tmp_path_factory.mktemp("warehouse") / "w.duckdb") as con:
        con.execute("create schema gold")
        con.execute("set TimeZone = 'UTC'")
        yield con


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=value_rows, after=value_rows, touched=st.sets(st.sampled_from(["a", "b", "c", "d'e", "é"])))
def test_the_incremental_fingerprint_equals_the_full_one(memory_con, tmp_path_factory, before, after, touched):
    """Rows of untouched units stay; touched units' rows are replaced by `after`'s rows of those units."""
    path = tmp_path_factory.mktemp("fp") / "t"
    before = [(i, *r) for i, r in enumerate(before)]
    after = [(1000 + i, *r) for i, r in enumerate(after)]
    _load(memory_con, before)
    previous = fingerprint(memory_con, "t")
    publishing.write_deltalake(str(path), publishing._reader(memory_con, "select * from gold.t"), mode="overwrite")
    kept = [r for r in before if r[1] not in touched]
    _load(memory_con, kept + [r for r in after if r[1] in touched])

    full = fingerprint(memory_con, "t")
    updated = publishing.units_fingerprint(memory_con, "t", previous, path, 0, sorted(touched) or ["none"])
    assert updated == full
    if not touched or not [r for r in before + after if r[1] in touched]:
        assert full == previous  # nothing of the touched units, before or after: same content


def test_a_whole_write_sorted_range_by_range_gives_the_files_of_one_sort(warehouse, tmp_path, small_files, monkeypatch):
    """A unit-keyed table written whole is sorted one range of units at a time (at 20 M feature rows one
    sort spilled ~25 GB): the same rows in the same order, so the same data files."""
    one_sort = {r.name: r for r in publish(warehouse.path, tmp_path / "one_sort")}["fct_features"]
    cut = []
    monkeypatch.setattr(publishing, "EXPORT_RANGE_ROWS", 1000)
    monkeypatch.setattr(publishing, "unit_ranges", lambda *a: cut.extend(ranges := unit_ranges(*a)) or ranges)
    in_ranges = {r.name: r for r in publish(warehouse.path, tmp_path / "ranges")}["fct_features"]
    assert len(cut) >= 10  # 31 units x 400 rows
    assert [u for r in cut for u in r] == sorted(u for r in cut for u in r)
    assert in_ranges.fingerprint == one_sort.fingerprint
    sizes = [
        sorted(f.stat().st_size for f in lake.mart_path(tmp_path / name, "fct_features").glob("*.parquet"))
        for name in ("one_sort", "ranges")
    ]
    assert sizes[0] == sizes[1] and len(sizes[0]) >= 10
    assert rows(delta(tmp_path / "ranges", "fct_features")) == rows(delta(tmp_path / "one_sort", "fct_features"))


def test_a_units_commit_is_sorted_range_by_range_too(warehouse, tmp_path, small_files, monkeypatch):
    """The rows of a commit replacing units are exported one range of those units at a time as well (a
    5,000-unit commit is ~850 k feature rows, more than one sort fits in the publish memory limit)."""
    lake_dir = tmp_path / "lake"
    publish(warehouse.path, lake_dir)
    changed = ["u02", "u05", "u06", "u11", "u12", "u20", "u21", "u22"]
    warehouse.sql(f"update gold.fct_features set x = x + 1 where unit_id in ({', '.join(repr(u) for u in changed)})")
    warehouse.log("2026-01-02 00:00:00", *changed)
    cut = []
    monkeypatch.setattr(publishing, "EXPORT_RANGE_ROWS", 1000)  # 400 rows a unit: up to three a range
    monkeypatch.setattr(publishing, "unit_ranges", lambda *a: cut.extend(ranges := unit_ranges(*a)) or ranges)
    fct = {r.name: r for r in publish(warehouse.path, lake_dir)}["fct_features"]
    assert (fct.mode, fct.units) == ("units", len(changed))
    assert cut == [("u02", "u06"), ("u11", "u12"), ("u20", "u22")]  # ranges of the changed units only
    assert rows(delta(lake_dir, "fct_features")) == warehouse_rows(warehouse, "fct_features")
    assert fct.fingerprint == warehouse.full_fingerprint("fct_features")


def test_what_a_killed_publish_spilled_is_removed_by_the_next(warehouse, tmp_path):
    lake_dir = tmp_path / "lake"
    leftover = lake_dir / publishing.SPILL_FOLDER / "duckdb_temp_storage_DEFAULT-0.tmp"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"\0" * 4096)  # as a publish killed while sorting leaves it
    publish(warehouse.path, lake_dir)
    assert not (lake_dir / publishing.SPILL_FOLDER).exists()
