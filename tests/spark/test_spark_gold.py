"""Same answers on Spark: the CI fleet built by the real `dbt build` on DuckDB (target ci) and on
Spark (target spark: dbt-spark, method session, local[2], parquet tables), every gold table
compared row for row. The registry extract is landed with its columns in reverse order: both
engines read it by its header's names.

Spark's gold tables are read where Spark wrote them, `<spark dir>/warehouse/gold.db/<table>/`, with
DuckDB's read_parquet. Floats agree within 1e-9 (relative); labels, keys and counts exactly. The
columns that record when a build ran (the build's start, `ingested_at` / `updated_at`, and the lag
computed from it) differ between any two builds and are left out, by name, below. Spark's
`timestamp` is an instant: its parquet files mark timestamps UTC-adjusted, which DuckDB reads as
TIMESTAMP WITH TIME ZONE; read in UTC (the Spark session's time zone) they are compared as the
plain timestamps DuckDB's gold holds.

Run by `make test-spark` (part of `make test`), not by the core `pytest` target (its testpaths
are tests/python). The make target checks for Java first.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pytest

from ml.simulate import FleetSpec, land_fleet, registry_path
from tests.spark.spark_builds import build_environment, dbt_build

pytestmark = [pytest.mark.dbt]

# The fleet of the Makefile's ci-build.
CI_FLEET = (
    FleetSpec(dataset="FD101", train_units=20, test_units=20, conditions=1, fault_modes=1, seed=1),
    FleetSpec(dataset="FD102", train_units=20, test_units=20, conditions=6, fault_modes=2, seed=2),
)
# Columns holding the time a build ran (its start), or a lag measured from it: no two builds agree.
BUILD_TIME_COLUMNS = {"ingested_at", "updated_at", "ingestion_lag_seconds"}
RELATIVE_TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The CI fleet landed once, built on DuckDB and on Spark at the same time (2 cores: the Spark
    build mostly waits on its JVM). Returns (DuckDB warehouse, Spark warehouse folder)."""
    root = tmp_path_factory.mktemp("spark_vs_duckdb")
    landing = root / "landing"
    for spec in CI_FLEET:
        land_fleet(spec, landing)
    reverse_registry_columns(registry_path(landing))
    duck_env = build_environment(root, landing, "duckdb")
    spark_env = build_environment(root, landing, "spark")
    with ThreadPoolExecutor(max_workers=2) as pool:
        duck = pool.submit(dbt_build, "ci", duck_env, root / "duckdb_build.log")
        spark = pool.submit(dbt_build, "spark", spark_env, root / "spark_build.log")
        for name, future in (("duckdb", duck), ("spark", spark)):
            result = future.result()
            assert result.returncode == 0, (
                f"dbt build on {name} failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
            )
    return Path(duck_env["PDM_WAREHOUSE_PATH"]), Path(spark_env["PDM_SPARK_DIR"]) / "warehouse"


def reverse_registry_columns(path: Path) -> None:
    """The registry extract rewritten with its columns (header included) in reverse order, its values
    as they were: both engines must read it by the header's names. Read by position, as both CSV
    readers do when given the columns, the registry history would differ (a text read as a time is
    null) and dim_units and the registry history with it."""
    text = path.read_text().splitlines()
    rows = [line.split(",") for line in text]
    assert all(len(row) == len(rows[0]) for row in rows), "a registry value holds a comma: reverse by CSV"
    path.write_text("".join(",".join(reversed(row)) + "\n" for row in rows))


def _gold_tables(warehouse: Path) -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'gold' and table_type = 'BASE TABLE' order by 1"
        ).fetchall()
    return [row[0] for row in rows]


def _spark_table(spark_warehouse: Path, table: str) -> str:
    return f"read_parquet('{spark_warehouse / 'gold.db' / table}/*.parquet')"


def test_every_gold_table_is_built_on_both_engines(built: tuple[Path, Path]) -> None:
    warehouse, spark_warehouse = built
    duck_tables = _gold_tables(warehouse)
    spark_tables = sorted(path.name for path in (spark_warehouse / "gold.db").iterdir() if path.is_dir())
    assert len(duck_tables) >= 8
    assert spark_tables == duck_tables


def _plain_type(data_type: str) -> str:
    return "TIMESTAMP" if data_type == "TIMESTAMP WITH TIME ZONE" else data_type


def _rows(con: duckdb.DuckDBPyConnection, relation: str, columns: list[str], floats: set[str]) -> list[tuple]:
    order = [c for c in columns if c not in floats] + [c for c in columns if c in floats]
    select = ", ".join(f'"{c}"' for c in columns)
    if relation.startswith("read_parquet"):  # Spark's instants as UTC wall clock (the connection is in UTC)
        types = {row[0]: row[1] for row in con.execute(f"describe select * from {relation}").fetchall()}
        select = ", ".join(
            f'cast("{c}" as timestamp) as "{c}"' if types.get(c) == "TIMESTAMP WITH TIME ZONE" else f'"{c}"'
            for c in columns
        )
    order_by = ", ".join(f'"{c}"' for c in order)
    return con.execute(f"select {select} from {relation} order by {order_by}").fetchall()


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-12)
    return a == b


@pytest.mark.parametrize(
    "table",
    [
        "dim_equipment_models",
        "dim_unit_registry_history",
        "dim_units",
        "fct_unit_cycle_features",
        "mart_data_quality",
        "mart_fleet_health",
        "mart_model_monitoring",
        "mart_pipeline_freshness",
    ],
)
def test_gold_table_is_the_same_on_spark(built: tuple[Path, Path], table: str) -> None:
    warehouse, spark_warehouse = built
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        duck_types = dict(
            con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'gold' and table_name = ? order by ordinal_position",
                [table],
            ).fetchall()
        )
        spark_relation = _spark_table(spark_warehouse, table)
        spark_types = {
            row[0]: _plain_type(row[1]) for row in con.execute(f"describe select * from {spark_relation}").fetchall()
        }
        assert spark_types == duck_types, f"{table}: columns or types differ"
        columns = [c for c in duck_types if c not in BUILD_TIME_COLUMNS]
        floats = {c for c in columns if duck_types[c] in ("DOUBLE", "FLOAT")}
        duck_rows = _rows(con, f"gold.{table}", columns, floats)
        spark_rows = _rows(con, spark_relation, columns, floats)
    assert len(spark_rows) == len(duck_rows), f"{table}: {len(spark_rows)} rows on Spark, {len(duck_rows)} on DuckDB"
    if table != "mart_model_monitoring":  # no drift run in a fresh environment: empty on both
        assert duck_rows, f"{table} is empty: the comparison would prove nothing"
    for duck_row, spark_row in zip(duck_rows, spark_rows, strict=True):
        differing = [
            f"{column}: duckdb {d!r} spark {s!r}"
            for column, d, s in zip(columns, duck_row, spark_row, strict=True)
            if not _same(d, s)
        ]
        assert not differing, f"{table}, row {dict(zip(columns, duck_row, strict=True))}:\n" + "\n".join(differing)
