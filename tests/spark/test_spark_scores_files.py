"""Scores files named with glob characters: each `scores_*.parquet` in the predictions folder is read as
itself, on DuckDB (target ci) and on Spark (target spark, local[2]). Both engines' path reads expand
`[...]`, `*` and `?`: `scores_2026 [1].parquet` read `scores_2026 1.parquet` in its place, and the
units only it scored had no score. Real `dbt build`s of the latest scores and what they are built on.

Run by `make test-spark` (part of `make test`), which checks for Java first.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from ml.simulate import FleetSpec, land_fleet
from tests.spark.spark_builds import build_environment, dbt_build

pytestmark = [pytest.mark.dbt]

FLEET = FleetSpec(dataset="FD131", train_units=2, test_units=2, conditions=1, fault_modes=1, seed=31)
# file name -> the unit it scores: the first name, as a glob, matches the second
SCORES_FILES = {"scores_2026 [1].parquet": "FD131-test-002", "scores_2026 1.parquet": "FD131-test-001"}
SELECTION = ("--select", "+int_unit_risk_scores_latest", "--exclude-resource-type", "test", "unit_test")


def write_scores(path: Path, unit_id: str) -> None:
    with duckdb.connect() as con:
        con.execute(
            f"""
            copy (
                select '{unit_id}' as unit_id, 'FD131' as dataset, 'test' as split,
                    cast(right('{unit_id}', 3) as integer) as unit_number, 10 as cycle, 0.5 as failure_probability,
                    40.0 as predicted_rul, '1' as classifier_version, '1' as regressor_version,
                    cast(0 as bigint) as features_delta_version, timestamp '2026-01-01 00:00:00' as scored_at
            ) to '{path}' (format parquet)
            """
        )


def test_a_scores_file_named_with_glob_characters_is_read_as_itself(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    land_fleet(FLEET, landing)
    folder = tmp_path / "predictions" / "unit_risk_scores"
    folder.mkdir(parents=True)
    for name, unit_id in SCORES_FILES.items():
        write_scores(folder / name, unit_id)
    latest = {}
    for target, name in (("ci", "duckdb"), ("spark", "spark")):
        env = build_environment(tmp_path, landing, name)
        result = dbt_build(target, env, tmp_path / f"{name}_build.log", *SELECTION)
        assert result.returncode == 0, f"dbt build on {name} failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
        with duckdb.connect() as con:
            if name == "duckdb":
                con.execute(f"attach '{env['PDM_WAREHOUSE_PATH']}' as w (read_only)")
                table = "w.silver.int_unit_risk_scores_latest"
            else:
                spark_table = Path(env["PDM_SPARK_DIR"]) / "warehouse" / "silver.db" / "int_unit_risk_scores_latest"
                table = f"read_parquet('{spark_table}/*.parquet')"
            latest[name] = sorted(row[0] for row in con.execute(f"select unit_id from {table}").fetchall())
    assert latest == {"duckdb": sorted(SCORES_FILES.values()), "spark": sorted(SCORES_FILES.values())}
