"""The registry extract on Spark: a line that does not read as the header's columns stops the build, naming
the line, as DuckDB's CSV reader does (Spark's by default drops a value too many, reads a missing or
mistyped one as null and a number in Java's syntax, `7d`, as 7.0, and builds on). A trailing comma, which
DuckDB reads past, still builds. Real `dbt build`s on DuckDB (target ci) and on Spark (target spark,
local[2]) of the registry's staging model and its data tests, on a small fleet.

Run by `make test-spark` (part of `make test`), which checks for Java first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.simulate import REGISTRY_COLUMNS, FleetSpec, land_fleet, registry_path
from tests.spark.spark_builds import build_environment, dbt_build

pytestmark = [pytest.mark.dbt]

FLEET = FleetSpec(dataset="FD151", train_units=2, test_units=2, conditions=1, fault_modes=1, seed=51)
# the registry's staging model, and its data tests (on Spark a view: read by its tests; one reads the seed)
SELECTION = (
    "--select",
    "+stg_registry__equipment_registry",
    "equipment_models",
    "--exclude-resource-type",
    "unit_test",
)


def build_both(root: Path, edit) -> dict[str, tuple[int, str]]:
    """A fleet landed, its registry extract's data lines passed through `edit`, built on both engines:
    {engine: (exit code, output)}."""
    landing = root / "landing"
    land_fleet(FLEET, landing)
    extract = registry_path(landing)
    header, *rows = extract.read_text().splitlines()
    extract.write_text("\n".join([header, *(edit(row) for row in rows)]) + "\n")
    results = {}
    for target, name in (("ci", "duckdb"), ("spark", "spark")):
        result = dbt_build(target, build_environment(root, landing, name), root / f"{name}_build.log", *SELECTION)
        results[name] = (result.returncode, result.stdout + result.stderr)
    return results


def test_a_registry_line_with_a_value_too_many_stops_the_spark_build_naming_it(tmp_path: Path) -> None:
    results = build_both(tmp_path, lambda row: row + ",extra" if ",test,2," in row else row)
    assert results["duckdb"][0] != 0, "DuckDB read the extract"
    code, output = results["spark"]
    assert code != 0, "Spark dropped the value too many and built on"
    raised = output.split("[USER_RAISED_EXCEPTION] The registry extract ")
    assert len(raised) > 1, "the build did not stop on the line"
    assert raised[1].startswith(f"{registry_path(tmp_path / 'landing')} has a line that does not read as the columns")
    assert ",test,2," in raised[1].split("typed: a value too many or too few, or one not of its type): ")[1][:200]


def test_a_registry_number_in_java_syntax_stops_the_spark_build_naming_it(tmp_path: Path) -> None:
    """Java's number parser reads `7d` (a type suffix) as 7.0: Spark's CSV reader built on with that cycle_hours,
    where DuckDB's stops the build."""
    hours = REGISTRY_COLUMNS.index("cycle_hours")

    def java_hours(row: str) -> str:
        if ",test,2," not in row:
            return row
        values = row.split(",")
        values[hours] = values[hours] + "d"
        return ",".join(values)

    results = build_both(tmp_path, java_hours)
    assert results["duckdb"][0] != 0, "DuckDB read the extract"
    code, output = results["spark"]
    assert code != 0, "Spark read 7d as 7.0 and built on"
    raised = output.split("[USER_RAISED_EXCEPTION] The registry extract ")
    assert len(raised) > 1, "the build did not stop on the line"
    assert ",test,2," in raised[1].split("typed: a value too many or too few, or one not of its type): ")[1][:200]


def test_a_registry_extract_with_trailing_commas_builds_on_both_engines(tmp_path: Path) -> None:
    results = build_both(tmp_path, lambda row: row + ",")
    assert {name: code for name, (code, _) in results.items()} == {"duckdb": 0, "spark": 0}
