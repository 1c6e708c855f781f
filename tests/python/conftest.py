"""Shared fixtures: a throw-away environment (landing folder, warehouse, lake, MLflow store)
and a runner for the real dbt CLI against it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from ml.config import REPO_ROOT, Paths, data_environment
from ml.simulate import FleetSpec, land_fleet
from tests.python.forked_runs import run_dbt


@dataclass
class Environment:
    """One isolated data environment and the environment variables that point the code at it."""

    paths: Paths
    env: dict[str, str]

    def dbt(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the real dbt CLI on the project, against this environment (in a process of its own)."""
        result = run_dbt(list(args), self.env, REPO_ROOT)
        if check and result.returncode != 0:
            raise AssertionError(f"dbt {' '.join(args)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}")
        return result

    def build(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.dbt("build", "--target", "ci", *args, check=check)

    def land(self, spec: FleetSpec) -> None:
        land_fleet(spec, self.paths.landing)

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.paths.warehouse), read_only=True) as con:
            return con.execute(sql).fetchall()

    def scalar(self, sql: str):
        return self.query(sql)[0][0]


# What every dbt run of the suite leaves out, as the environment variables dbt reads:
# - the dbt unit tests: they test the models' SQL on fixed rows, not the data, and `make ci-build` (in
#   `make test`) runs all of them; in each of the suite's builds they cost ~3 s of ~20.
# - dbt.log's debug level (each statement with its SQL): info keeps each node's start and result, as the
#   watcher logs. A test that reads the statements asks for debug (`--log-level-file debug`).
SUITE_DBT_SETTINGS = {"DBT_EXCLUDE_RESOURCE_TYPES": "unit_test", "DBT_LOG_LEVEL_FILE": "info"}


def make_environment(root: Path) -> Environment:
    overrides = {**data_environment(root), **SUITE_DBT_SETTINGS}
    paths = Paths.from_env(overrides)
    paths.landing.mkdir(parents=True, exist_ok=True)
    paths.warehouse.parent.mkdir(parents=True, exist_ok=True)
    return Environment(paths=paths, env={**os.environ, **overrides})


@pytest.fixture
def environment(tmp_path: Path) -> Environment:
    return make_environment(tmp_path)


@pytest.fixture(scope="module")
def module_environment(tmp_path_factory: pytest.TempPathFactory) -> Environment:
    return make_environment(tmp_path_factory.mktemp("env"))


@pytest.fixture(scope="session")
def environment_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Environment]:
    return lambda name: make_environment(tmp_path_factory.mktemp(name))
