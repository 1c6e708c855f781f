"""A failing error-severity data test of a per-unit model keeps failing at the next builds, until its
cause is fixed: real dbt builds of a copy of the project, into which a bug is put (the incremental
feature build writes the first cycle of each rebuilt test unit twice).

The tests of a per-unit model check the units its build rewrote, and the model's watermark has
advanced by the time they run; without the on-run-end hook `reopen_watermarks_of_failed_tests`
(macros/incremental/unit_changes.sql) the second build tested none of those units and passed, and
the duplicated rows went on to the publish."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from ml.config import REPO_ROOT
from ml.simulate import FleetSpec
from tests.python.conftest import DBT, Environment

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


def land_settled(env: Environment, spec: FleetSpec) -> None:
    """Land `spec`, dated past the landing settle interval, so the build reads it at once."""
    env.land(spec)
    stamp = time.time() - 60
    for path in env.paths.landing.rglob("*"):
        os.utime(path, (stamp, stamp))


def build(project: Path, env: Environment) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DBT, "build", "--target", "ci", "--project-dir", str(project)],
        cwd=project,
        env={**env.env, "DBT_PROFILES_DIR": str(project)},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_a_failing_test_of_a_per_unit_model_fails_again_until_the_bug_is_fixed(
    environment: Environment, tmp_path: Path
) -> None:
    project = copy_project(tmp_path / "project")
    land_settled(environment, FLEET)
    first = build(project, environment)
    assert first.returncode == 0, first.stdout[-4000:]

    good_model = (project / FEATURES).read_text()
    (project / FEATURES).write_text(good_model + BUG)
    land_settled(environment, NEW_DATASET)
    caught = build(project, environment)
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
