"""`make freshness` (`python -m lakehouse.freshness --sources`) on a landing folder missing a source's files:
never delivered (real NASA files, train files alone) is said and not checked; delivered once and gone fails."""

from __future__ import annotations

import shutil

from ml.config import REPO_ROOT
from ml.simulate import FleetSpec
from tests.python.conftest import Environment
from tests.python.forked_runs import run_module

# Every dbt run of the test (the builds and `dbt source freshness`) with the same vars: dbt parses the
# project again, whole, whenever the vars differ from its last run's (~7 s a time, 20-40 s under load).
SETTLED = ("--vars", "{landing_settle_seconds: 0}")
FRESHNESS = ["--sources", "--target", "ci", *SETTLED]


def test_freshness_names_sources_the_landing_folder_never_had_and_fails_on_one_gone(
    environment: Environment,
) -> None:
    paths = environment.paths
    environment.build(*SETTLED)  # nothing landed yet: no data at all fails, saying so under dbt's ERROR STALE
    empty = run_module("lakehouse.freshness", FRESHNESS, environment.env, REPO_ROOT)
    assert empty.returncode == 1, empty.stdout + empty.stderr
    assert "ERROR STALE freshness of cmapss.sensor_files" in empty.stdout
    assert f"source cmapss.sensor_files: no train_FDnnn.txt or test_FDnnn.txt file in {paths.landing}" in empty.stderr

    environment.land(FleetSpec(dataset="FD101", train_units=6, test_units=3, conditions=1, fault_modes=1, seed=5))
    kept = paths.data_dir / "kept_registry.csv"
    shutil.move(paths.registry_file, kept)
    (paths.landing / "RUL_FD101.txt").unlink()
    (paths.landing / "test_FD101.txt").unlink()  # train files alone, no registry: the build accepts both
    environment.build(*SETTLED)

    never = run_module("lakehouse.freshness", FRESHNESS, environment.env, REPO_ROOT)
    assert never.returncode == 0, never.stdout + never.stderr
    assert (
        f"source registry.equipment_registry: no registry extract at {paths.registry_file}: this landing folder "
        "has never had one" in never.stdout
    )
    assert f"source cmapss.rul_files: no RUL_FDnnn.txt file in {paths.landing}: none has ever landed" in never.stdout
    assert "PASS freshness of cmapss.sensor_files" in never.stdout
    assert "ERROR STALE" not in never.stdout  # dbt's year-1 "newest file" of a source with none

    # the registry delivered, then gone: the history holds units, so dbt checks it and the command fails, saying why
    shutil.move(kept, paths.registry_file)
    environment.build(*SETTLED)
    paths.registry_file.unlink()
    gone = run_module("lakehouse.freshness", FRESHNESS, environment.env, REPO_ROOT)
    assert gone.returncode == 1, gone.stdout + gone.stderr
    assert "ERROR STALE freshness of registry.equipment_registry" in gone.stdout
    assert (
        f"source registry.equipment_registry: the registry extract {paths.registry_file} is missing, but the "
        "registry history holds 9 units" in gone.stderr
    )
