"""A failing error-severity data test keeps failing at the next builds, until its cause is mended: real
dbt builds of a copy of the project, into which a bug is put.

- A per-unit model (the incremental feature build writes the first cycle of each rebuilt test unit
  twice): its tests check the units its build rewrote, and the model's watermark has advanced by the
  time they run; without the on-run-end hook `reopen_watermarks_of_failed_tests`
  (macros/incremental/unit_changes.sql) the second build tested none of those units and passed, and
  the duplicated rows went on to the publish.
- A staging model (it writes the first cycle of each unit it reads twice): its tests check the files
  the build ingested, and ingestion is exactly once; without the on-run-end hook
  `retest_files_of_failed_tests` (macros/incremental/retest_files_of_failed_tests.sql) the second build
  tested no file and passed, and silver and gold took the new dataset, duplicates and all. (Landing the
  same file again does not mend it: an identical content is kept as a duplicate, not read again.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from ml.config import REPO_ROOT
from ml.simulate import FleetSpec
from tests.python.conftest import Environment
from tests.python.forked_runs import run_dbt

pytestmark = pytest.mark.dbt

FLEET = FleetSpec(dataset="FD101", train_units=6, test_units=3, conditions=1, fault_modes=1, seed=1)
NEW_DATASET = FleetSpec(dataset="FD102", train_units=4, test_units=2, conditions=1, fault_modes=1, seed=2)
# What dbt reads of the project, the profile's plugins included (the Python tests stay behind).
PROJECT = (
    "dbt_project.yml",
    "profiles.yml",
    "models",
    "macros",
    "tests",
    "seeds",
    "snapshots",
    "analyses",
    "dbt_plugins",
)
FEATURES = Path("models") / "marts" / "fct_unit_cycle_features.sql"
BUG = "\n{% if is_incremental() %}union all select * from final where split = 'test' and cycle = 1{% endif %}\n"
GRAIN_TEST = "Failure in test unique_combination_of_columns_fct_unit_cycle_features_dataset__split__unit_number__cycle"
REOPENED = "the next build rewrites and tests again the units this build rewrote in fct_unit_cycle_features"
STAGING = Path("models") / "staging" / "cmapss" / "stg_cmapss__sensor_readings.sql"
STAGING_BUG = "\nunion all select * from final where cycle = 1\n"
STAGING_GRAIN = "unique_combination_of_columns_stg_cmapss__sensor_readings_source_file__line_number"
STAGING_GRAIN_TEST = f"Failure in test {STAGING_GRAIN}"
RETESTED = "A data test of landed files failed ("
STAGING_DUPLICATES = (
    "select count(*) from (select source_file, line_number from bronze.stg_cmapss__sensor_readings "
    "group by all having count(*) > 1)"
)
DUPLICATES = (
    "select count(*) from (select unit_id, cycle from gold.fct_unit_cycle_features group by all having count(*) > 1)"
)


def copy_project(target: Path) -> Path:
    target.mkdir()
    for name in PROJECT:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("python", "__pycache__"))
        else:
            shutil.copy2(source, target / name)
    return target


def land_settled(env: Environment, spec: FleetSpec, keep: str | None = None) -> None:
    """Land `spec`, dated past the landing settle interval, so the build reads it at once; files whose
    name holds `keep` keep their date (not landed again)."""
    env.land(spec)
    stamp = time.time() - 60
    for path in env.paths.landing.rglob("*"):
        if keep is None or keep not in path.name:
            os.utime(path, (stamp, stamp))


def build(project: Path, env: Environment, *args: str) -> subprocess.CompletedProcess[str]:
    return run_dbt(
        ["build", "--target", "ci", "--project-dir", str(project), *args],
        {**env.env, "DBT_PROFILES_DIR": str(project)},
        project,
        timeout=300,
    )


def build_then_break(
    environment: Environment, tmp_path: Path, model: Path, bug: str, keep: str | None = None
) -> tuple[Path, str, subprocess.CompletedProcess[str]]:
    """A copy of the project builds FLEET; then `bug` is appended to `model` and NEW_DATASET is landed and
    built. Returns the copy, the model's good text and that second build."""
    project = copy_project(tmp_path / "project")
    land_settled(environment, FLEET)
    first = build(project, environment)
    assert first.returncode == 0, first.stdout[-4000:]

    good_model = (project / model).read_text()
    (project / model).write_text(good_model + bug)
    land_settled(environment, NEW_DATASET, keep=keep)
    return project, good_model, build(project, environment)


def test_a_failing_test_of_a_per_unit_model_fails_again_until_the_bug_is_fixed(
    environment: Environment, tmp_path: Path
) -> None:
    project, good_model, caught = build_then_break(environment, tmp_path, FEATURES, BUG)
    assert caught.returncode != 0 and GRAIN_TEST in caught.stdout, caught.stdout[-4000:]
    assert REOPENED in caught.stdout, caught.stdout[-4000:]

    # nothing new landed, the bug still there: the same units are rewritten and tested again
    again = build(project, environment)
    assert again.returncode != 0, "a build after a failing test passed with the rows it caught still there"
    assert GRAIN_TEST in again.stdout, again.stdout[-4000:]
    assert environment.scalar(DUPLICATES) > 0

    # the bug fixed: the next build rewrites those units right and passes
    (project / FEATURES).write_text(good_model)
    fixed = build(project, environment)
    assert fixed.returncode == 0, fixed.stdout[-4000:]
    assert environment.scalar(DUPLICATES) == 0
    assert environment.scalar(
        "select count(*) from gold.fct_unit_cycle_features where dataset = 'FD102'"
    ) == environment.scalar("select count(*) from silver.int_sensor_readings_deduplicated where dataset = 'FD102'")


def test_a_failing_test_of_the_landed_files_fails_again_until_their_rows_are_mended(
    environment: Environment, tmp_path: Path
) -> None:
    project, good_model, caught = build_then_break(environment, tmp_path, STAGING, STAGING_BUG, FLEET.dataset)
    assert caught.returncode != 0 and STAGING_GRAIN_TEST in caught.stdout, caught.stdout[-4000:]
    retested = [line for line in caught.stdout.splitlines() if RETESTED in line]
    assert retested and STAGING_GRAIN in retested[0] and "train_FD102.txt" in retested[0], caught.stdout[-4000:]

    # a row of a test renamed since it failed: kept while a file-scoped test still fails
    with duckdb.connect(str(environment.paths.warehouse)) as con:
        con.execute(
            "insert into bronze.files_failing_tests select 'test.pdm_lakehouse.renamed', 'renamed', source_file, "
            "failed_at from bronze.files_failing_tests limit 1"
        )
    renamed = "select count(*) from bronze.files_failing_tests where test_name = 'renamed'"

    # nothing new landed: the files the test failed on are tested again, and silver stays as it was
    again = build(project, environment)
    assert again.returncode != 0, "a build after a failing test of the landed files passed, their rows unchecked"
    assert STAGING_GRAIN_TEST in again.stdout, again.stdout[-4000:]
    assert environment.scalar(STAGING_DUPLICATES) > 0
    assert environment.scalar("select count(*) from gold.fct_unit_cycle_features where dataset = 'FD102'") == 0
    assert environment.scalar(renamed) == 1

    # the bug fixed and the tables rebuilt: the rows pass, and the files are no longer kept for retesting
    (project / STAGING).write_text(good_model)
    fixed = build(project, environment, "--full-refresh")
    assert fixed.returncode == 0, fixed.stdout[-4000:]
    assert "Data tests of landed files pass again" in fixed.stdout, fixed.stdout[-4000:]
    assert environment.scalar(STAGING_DUPLICATES) == 0
    assert environment.scalar("select count(*) from bronze.files_failing_tests") == 0
    assert environment.scalar(
        "select count(*) from gold.fct_unit_cycle_features where dataset = 'FD102'"
    ) == environment.scalar("select count(*) from bronze.stg_cmapss__sensor_readings where dataset = 'FD102'")
