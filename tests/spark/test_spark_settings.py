"""The Spark target's folder settings: PDM_SPARK_DIR, the folder of the Spark target's tables and
metastore, may be any path a user has, one with a space included (`~/Spark data`, macOS's
`Application Support`). A real `dbt build --target spark` of a few models, on a small fleet.

Run by `make test-spark` (part of `make test`), which checks for Java first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.simulate import FleetSpec, land_fleet
from tests.spark.spark_builds import build_environment, dbt_build

pytestmark = [pytest.mark.dbt]

FLEET = FleetSpec(dataset="FD121", train_units=2, test_units=2, conditions=1, fault_modes=1, seed=21)


def test_a_spark_folder_whose_path_holds_a_space_builds(tmp_path: Path) -> None:
    land_fleet(FLEET, tmp_path / "landing")
    env = build_environment(tmp_path, tmp_path / "landing", "spark")
    spark_dir = tmp_path / "Spark data" / "spark"
    env["PDM_SPARK_DIR"] = str(spark_dir)
    result = dbt_build(
        "spark",
        env,
        tmp_path / "build.log",
        "--select",
        "+stg_registry__equipment_registry",
        "--exclude-resource-type",
        "test",
        "unit_test",
    )
    # the path reached the JVM's options split at its space: "Could not find or load main class data.spark"
    assert result.returncode == 0, f"dbt build on Spark failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert (spark_dir / "metastore_db").is_dir()
    assert (spark_dir / "derby.log").is_file(), "Derby's home is not the Spark folder"
    assert (spark_dir / "warehouse" / "bronze.db").is_dir()
