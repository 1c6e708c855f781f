"""The suite's runner of commands in forked processes (tests/python/forked_runs.py) reports what the
`dbt` script and `python -m` report, gives each run exactly its own environment, and leaves the
warehouse closed as a `dbt` process does."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from ml.config import REPO_ROOT
from tests.python.conftest import Environment
from tests.python.forked_runs import DBT, run_dbt, run_module


def assert_same_as_the_command(forked: subprocess.CompletedProcess[str], env: dict[str, str]) -> None:
    """`forked` reports what the same command, started as a process of its own, reports."""
    real = subprocess.run(forked.args, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
    assert (forked.args, forked.returncode, forked.stdout, forked.stderr) == (
        real.args,
        real.returncode,
        real.stdout,
        real.stderr,
    )


@pytest.mark.parametrize("args", [["--version"], ["no-such-command"], ["build", "--no-such-option"]])
def test_a_forked_run_reports_what_the_dbt_script_reports(environment: Environment, args: list[str]) -> None:
    forked = run_dbt(args, environment.env, REPO_ROOT)

    assert forked.args == [DBT, *args]
    assert_same_as_the_command(forked, environment.env)
    assert forked.returncode == (0 if args == ["--version"] else 2)


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (["--help"], 0, "usage: python -m lakehouse.watch [-h]"),
        (["--once", "--vacuum-every-hours", "-1"], 2, "watch: --vacuum-every-hours must be 0 or more"),
    ],
    ids=["help", "refused"],
)
def test_a_forked_module_reports_what_python_m_reports(
    environment: Environment, args: list[str], code: int, said: str
) -> None:
    """The module runs as `__main__` with `python -m`'s argv, and its exit code is the process's."""
    forked = run_module("lakehouse.watch", args, environment.env, REPO_ROOT)

    assert forked.args == [sys.executable, "-m", "lakehouse.watch", *args]
    assert_same_as_the_command(forked, environment.env)
    assert forked.returncode == code and said in forked.stdout + forked.stderr


def test_each_run_has_exactly_its_own_environment(environment: Environment, tmp_path: Path) -> None:
    """A variable set for one run is gone in the next (the child's environment is replaced, not merged)."""
    elsewhere = tmp_path / "profiles_elsewhere"
    with_it = run_dbt(["debug", "--config-dir"], {**environment.env, "DBT_PROFILES_DIR": str(elsewhere)}, REPO_ROOT)
    without = {name: value for name, value in environment.env.items() if name != "DBT_PROFILES_DIR"}
    without_it = run_dbt(["debug", "--config-dir"], without, REPO_ROOT)

    assert with_it.returncode == 0 and f"open {elsewhere}\n" in with_it.stdout, with_it.stdout
    # unset, dbt's default: the working folder, which holds profiles.yml
    assert without_it.returncode == 0 and f"open {REPO_ROOT}\n" in without_it.stdout, without_it.stdout


def test_a_run_writes_where_its_environment_says_and_closes_the_warehouse(environment: Environment) -> None:
    """The seed lands in this environment's warehouse, with no write-ahead log left beside it: the
    adapter's exit handler closed the database (checkpointing it), as at the end of a `dbt` process."""
    result = environment.dbt("seed", "--target", "ci", "--select", "sensors")

    warehouse = environment.paths.warehouse
    assert "Completed successfully" in result.stdout
    assert environment.scalar("select count(*) from reference.sensors") == 21
    assert warehouse.exists() and not warehouse.with_name(warehouse.name + ".wal").exists()
    assert (Path(environment.env["DBT_LOG_PATH"]) / "dbt.log").exists()
    assert (Path(environment.env["DBT_TARGET_PATH"]) / "run_results.json").exists()


def test_a_run_past_its_timeout_is_killed_and_reported_as_subprocess_run_does(environment: Environment) -> None:
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired) as expired:
        run_dbt(["parse"], environment.env, REPO_ROOT, timeout=0.5)

    assert time.monotonic() - started < 10
    assert expired.value.cmd == [DBT, "parse"] and expired.value.timeout == 0.5
    # The server is still there for the next run.
    assert run_dbt(["--version"], environment.env, REPO_ROOT).returncode == 0
