"""The benchmark's baselines (benchmarks/bare_duckdb.sql, benchmarks/bare_pandas.py) do the dbt
project's bronze -> gold work: on one landing folder, with bad lines, a later delivery, a copy
and unreadable files in it, they produce the dbt build's row counts and its feature table,
every column equal (doubles within 1e-9; registry_version_id null in the same rows only, as
dbt's id includes the capture time of the snapshot). Real files, the real `dbt build`, real DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from benchmarks import bare_duckdb, bare_pandas
from ml.simulate import FleetSpec
from tests.python.conftest import Environment

pytestmark = pytest.mark.dbt

FLEETS = (
    FleetSpec(dataset="FD101", train_units=3, test_units=3, conditions=1, fault_modes=1, seed=11),
    FleetSpec(dataset="FD102", train_units=3, test_units=3, conditions=6, fault_modes=2, seed=12),
)
# The quarantine may hold more than the default error share in this small folder.
LENIENT = ["--vars", "{quarantined_share_error: 1.0}"]
TOLERANCE = 1e-9


def tokens_of_first_line(env: Environment, name: str) -> list[str]:
    return (env.paths.landing / name).read_text().splitlines()[0].split()


def land(env: Environment) -> None:
    landing = env.paths.landing
    for spec in FLEETS:
        env.land(spec)
    good = tokens_of_first_line(env, "train_FD101.txt")
    mixed = [
        " ".join(["1", "1", *good[2:]]),
        "",  # blank_line
        " ".join(["1", "2", *good[2:10]]),  # too_few_columns
        " ".join(["1", "2", *good[2:7], "12,3", *good[8:]]),  # non_numeric_value
        " ".join(["1", "2", *good[2:7], "NaN", *good[8:]]),  # non_finite_value
        " ".join(["1", "2", *good[2:7], "3.4028235e38", *good[8:]]),  # value_out_of_range
        " ".join(["1", "2", *good[2:], "7.5"]),  # column_count_differs_from_file
        " ".join(["1", "0", *good[2:]]),  # cycle_not_positive_integer
        " ".join(["1", "3", *good[2:]]),
    ]
    (landing / "train_FD201.txt").write_text("  \n".join(mixed) + "  \n")
    # A later delivery of FD101's test split repeating its first cycles with other values: it wins.
    first_lines = (landing / "test_FD101.txt").read_text().splitlines(keepends=True)[:3]
    later = [" ".join([*ln.split()[:-1], "99.9999"]) + "  \r\n" for ln in first_lines]
    (landing / "test_FD101_2026-11-23.txt").write_bytes(b"\xef\xbb\xbf" + "".join(later).encode())
    (landing / "train_FD102_copy.txt").write_bytes((landing / "train_FD102.txt").read_bytes())
    (landing / "train_FD205.txt").write_bytes(b"")
    # two readings, then more blank lines than readings: the blank lines set no column count
    (landing / "train_FD206.txt").write_text("\n".join(" ".join(["1", str(c), *good[2:]]) for c in (1, 2)) + "\n\n\n\n")
    (landing / "notes.txt").write_text("not data\n")


@pytest.fixture(scope="module")
def built(module_environment: Environment, tmp_path_factory: pytest.TempPathFactory) -> dict:
    env = module_environment
    land(env)
    env.build(*LENIENT)
    out = tmp_path_factory.mktemp("baselines")
    return {
        "env": env,
        "duckdb_counts": bare_duckdb.run(env.paths.landing, out / "bare.duckdb"),
        "duckdb_file": out / "bare.duckdb",
        "pandas_counts": bare_pandas.run(env.paths.landing, out / "features.parquet"),
        "pandas_file": out / "features.parquet",
    }


def dbt_counts(env: Environment) -> dict[str, int]:
    return {
        "quarantined_lines": env.scalar("select count(*) from bronze.stg_cmapss__quarantined_lines"),
        "sensor_readings": env.scalar("select count(*) from bronze.stg_cmapss__sensor_readings"),
        "rul_truth": env.scalar("select count(*) from bronze.stg_cmapss__rul_truth"),
        "fct_unit_cycle_features": env.scalar("select count(*) from gold.fct_unit_cycle_features"),
    }


def differing_columns(env: Environment, baseline_sql: str, bare_database: Path | None = None) -> dict[str, int]:
    """Columns of gold.fct_unit_cycle_features where the baseline differs, with how many rows."""
    with duckdb.connect() as con:
        con.execute(f"attach '{env.paths.warehouse}' as warehouse (read_only)")
        if bare_database is not None:
            con.execute(f"attach '{bare_database}' as bare (read_only)")
        con.execute(f"create view baseline as {baseline_sql}")
        dbt_columns = con.execute(
            "select column_name, data_type from information_schema.columns where table_catalog = 'warehouse' "
            "and table_name = 'fct_unit_cycle_features' order by ordinal_position"
        ).fetchall()
        baseline_columns = [row[0] for row in con.execute("describe baseline").fetchall()]
        assert baseline_columns == [name for name, _ in dbt_columns]
        differing = {}
        for name, data_type in dbt_columns:
            if name == "registry_version_id":  # dbt's id holds the capture time of the build that saw it
                equal = f"(d.{name} is null) = (b.{name} is null)"
            elif data_type == "DOUBLE":
                equal = f"abs(d.{name} - b.{name}) <= {TOLERANCE} or (d.{name} is null and b.{name} is null)"
            else:
                equal = f"d.{name} is not distinct from b.{name}"
            rows = con.execute(
                f"select count(*) from warehouse.gold.fct_unit_cycle_features as d "
                f"full join baseline as b on d.unit_id = b.unit_id and d.cycle = b.cycle where not ({equal})"
            ).fetchone()[0]
            if rows:
                differing[name] = rows
        return differing


def test_the_landing_folder_exercises_the_quarantine_and_the_deduplication(built: dict) -> None:
    counts = dbt_counts(built["env"])
    assert counts["quarantined_lines"] >= 8  # 6 bad lines, an empty file, an unrecognised name
    assert counts["sensor_readings"] > counts["fct_unit_cycle_features"]  # the later delivery's repeats


def test_bare_duckdb_gives_the_dbt_builds_counts_and_feature_table(built: dict) -> None:
    assert built["duckdb_counts"] == dbt_counts(built["env"])
    assert differing_columns(built["env"], "select * from bare.fct_unit_cycle_features", built["duckdb_file"]) == {}


def test_bare_pandas_gives_the_dbt_builds_counts_and_feature_table(built: dict) -> None:
    assert built["pandas_counts"] == dbt_counts(built["env"])
    assert differing_columns(built["env"], f"select * from read_parquet('{built['pandas_file']}')") == {}
