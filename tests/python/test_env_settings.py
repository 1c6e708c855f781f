"""Settings read from the environment: unset or empty means the default, and a bad value stops the command
with a message naming the variable (or the option, when one was given instead), before it does anything,
never with a traceback. Each command that reads one is run with a bad value: the numbers
(`ml.config.env_number`), the watcher's `PDM_WATCH_*`, publish's memory limit and the build's DuckDB
settings and lock wait (profiles.yml, checked by dbt_plugins/warehouse_guard.py)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb
import pytest

from dbt_plugins.warehouse_guard import DEFAULT_LOCK_WAIT_SECONDS, WarehouseUnavailable, check_settings
from dbt_plugins.warehouse_guard import Plugin as GuardPlugin
from lakehouse import analysts, erase, optimize, publish, restore, watch
from ml import monitor, train
from ml.config import REPO_ROOT, data_environment, env_number
from tests.python.conftest import Environment
from tests.python.forked_runs import run_dbt


def test_unset_or_empty_is_the_default_and_a_number_is_read_as_its_kind(monkeypatch) -> None:
    monkeypatch.delenv("PDM_TEST_SETTING", raising=False)
    assert env_number("PDM_TEST_SETTING", 0.2) == 0.2
    monkeypatch.setenv("PDM_TEST_SETTING", "  ")
    assert env_number("PDM_TEST_SETTING", 10, int) == 10
    monkeypatch.setenv("PDM_TEST_SETTING", "2.5")
    assert env_number("PDM_TEST_SETTING", 0.2) == 2.5
    monkeypatch.setenv("PDM_TEST_SETTING", " 7 ")
    assert env_number("PDM_TEST_SETTING", 10, int) == 7
    monkeypatch.setenv("PDM_TEST_SETTING", "2.5")
    with pytest.raises(SystemExit, match=r"^PDM_TEST_SETTING='2.5' is not a whole number$"):
        env_number("PDM_TEST_SETTING", 10, int)
    for value in ("nan", "inf", "-1"):  # a wait without end, a threshold never passed, an age always passed
        monkeypatch.setenv("PDM_TEST_SETTING", value)
        with pytest.raises(SystemExit, match=rf"^PDM_TEST_SETTING='{value}' is not a number of 0 or more$"):
            env_number("PDM_TEST_SETTING", 0.2)


COMMANDS: list[tuple[str, str, Callable[[Sequence[str]], int], list[str]]] = [
    ("PDM_PSI_THRESHOLD", "abc", monitor.main, []),
    ("PDM_MAX_AGE_VERSIONS", "2.5", monitor.main, []),
    ("PDM_MAX_AGE_DAYS", "a month", monitor.main, []),
    ("PDM_CHAMPION_MARGIN", "1%", train.main, []),
    ("PDM_MISSED_FAILURE_COST", "high", train.main, []),
    ("PDM_LAKE_LOCK_TIMEOUT", "soon", publish.main, []),
    ("PDM_LAKE_LOCK_TIMEOUT", "soon", optimize.main, []),
    ("PDM_LAKE_LOCK_TIMEOUT", "soon", restore.main, ["--table", "dim_units", "--version", "0"]),
    ("PDM_LAKE_LOCK_TIMEOUT", "soon", analysts.main, []),
    ("PDM_LAKE_LOCK_TIMEOUT", "soon", erase.main, ["--unit", "FD101-train-001", "--reason", "test"]),
    ("PDM_WAREHOUSE_LOCK_WAIT_SECONDS", "soon", erase.main, ["--unit", "FD101-train-001", "--reason", "test"]),
]


@pytest.mark.parametrize(
    ("variable", "value", "main", "argv"),
    COMMANDS,
    ids=[f"{main.__module__}-{variable}" for variable, _, main, _ in COMMANDS],
)
def test_a_bad_value_stops_the_command_naming_the_variable(
    variable: str, value: str, main: Callable[[Sequence[str]], int], argv: list[str], tmp_path: Path, monkeypatch
) -> None:
    for name, setting in data_environment(tmp_path).items():
        monkeypatch.setenv(name, setting)
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    noun = "a whole number" if variable == "PDM_MAX_AGE_VERSIONS" else "a number"
    assert str(stopped.value) == f"{variable}={value!r} is not {noun}"
    assert list(tmp_path.iterdir()) == []  # stopped before it did anything


WATCH_SETTINGS = [
    # (environment, command line, what the message names, what it says)
    ({"PDM_WATCH_COMPACT_LAKE_FILES": "1"}, [], "PDM_WATCH_COMPACT_LAKE_FILES", "must be 0 (never) or at least 2"),
    ({"PDM_WATCH_COMPACT_LAKE_FILES": "abc"}, ["--compact-lake-files", "1"], "--compact-lake-files", "must be 0"),
    ({"PDM_WATCH_VACUUM_EVERY_HOURS": "-1"}, [], "PDM_WATCH_VACUUM_EVERY_HOURS", "'-1' is not a number of 0 or more"),
    ({"PDM_WATCH_VACUUM_EVERY_HOURS": "x"}, ["--vacuum-every-hours", "-2"], "--vacuum-every-hours", "must be 0"),
    ({"PDM_WATCH_MAX_MEMORY": "lots"}, [], "PDM_WATCH_MAX_MEMORY", "can't read 'lots' as a memory size"),
    ({"PDM_WATCH_MAX_MEMORY": "lots"}, ["--max-memory", "4 GiBs"], "--max-memory", "can't read '4 GiBs'"),
]


@pytest.mark.parametrize(
    ("environment", "argv", "named", "says"),
    WATCH_SETTINGS,
    ids=[f"{named}-{'option' if argv else 'variable'}" for _, argv, named, _ in WATCH_SETTINGS],
)
def test_a_bad_watcher_setting_is_named_by_the_variable_or_the_option_it_came_from(
    environment: dict[str, str], argv: list[str], named: str, says: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    """The option, when given, wins over its PDM_WATCH_* variable (which is then not read at all)."""
    for name, setting in {**data_environment(tmp_path), **environment}.items():
        monkeypatch.setenv(name, setting)
    assert watch.main(["--once", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"watch: {named}")
    assert says in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("variable", ["PDM_WATCH_COMPACT_LAKE_FILES", "PDM_WATCH_VACUUM_EVERY_HOURS"])
def test_a_watcher_setting_that_is_not_a_number_stops_it_naming_the_variable(
    variable: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    for name, setting in data_environment(tmp_path).items():
        monkeypatch.setenv(name, setting)
    monkeypatch.setenv(variable, "often")
    assert watch.main(["--once"]) == 2
    assert re.match(rf"^watch: {variable}='often' is not a (whole )?number$", capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_a_publish_memory_limit_duckdb_does_not_take_stops_the_publish_naming_it(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    for name, setting in data_environment(tmp_path).items():
        monkeypatch.setenv(name, setting)
    warehouse = Path(data_environment(tmp_path)["PDM_WAREHOUSE_PATH"])
    warehouse.parent.mkdir(parents=True)
    duckdb.connect(str(warehouse)).close()
    monkeypatch.setenv("PDM_PUBLISH_MEMORY_LIMIT", "lots")
    assert publish.main([]) == 1
    assert capsys.readouterr().err.startswith(
        "publish: PDM_PUBLISH_MEMORY_LIMIT='lots' is not a memory size DuckDB takes (e.g. 384MB, 2GB): "
    )
    assert not (tmp_path / "lake" / "gold").exists()


BUILD_SETTINGS = [
    ({"memory_limit": "lots"}, "PDM_DUCKDB_MEMORY_LIMIT='lots' is not a memory_limit DuckDB takes: "),
    ({"max_vacuum_tasks": "x"}, "PDM_DUCKDB_MAX_VACUUM_TASKS='x' is not a max_vacuum_tasks DuckDB takes: "),
]


@pytest.mark.parametrize(("settings", "message"), BUILD_SETTINGS, ids=["memory_limit", "max_vacuum_tasks"])
def test_a_build_setting_duckdb_does_not_take_is_named_by_its_variable(settings: dict[str, str], message: str) -> None:
    check_settings({"memory_limit": "2GB", "max_vacuum_tasks": "0", "threads": "2"})  # good values pass
    with pytest.raises(WarehouseUnavailable) as stopped:
        check_settings(settings)
    assert stopped.value.msg.startswith(message)


def test_a_lock_wait_that_is_not_a_number_is_named_by_its_variable() -> None:
    assert GuardPlugin("warehouse_guard", {"lock_wait_seconds": ""}).wait_seconds == DEFAULT_LOCK_WAIT_SECONDS
    assert GuardPlugin("warehouse_guard", {"lock_wait_seconds": "2.5"}).wait_seconds == 2.5
    for wait in ("soon", "nan", "-1"):  # nan waited for the lock without end
        with pytest.raises(WarehouseUnavailable, match=rf"PDM_WAREHOUSE_LOCK_WAIT_SECONDS='{wait}' is not a number of"):
            GuardPlugin("warehouse_guard", {"lock_wait_seconds": wait})


def test_dbt_takes_an_empty_build_setting_as_its_default_and_stops_on_a_bad_one_before_the_warehouse(
    environment: Environment,
) -> None:
    """The profile's wiring, with the real dbt CLI: profiles.yml reads an empty variable as unset, and the
    warehouse guard stops the command before it creates the warehouse file."""
    empty = {"PDM_DUCKDB_MEMORY_LIMIT": "", "PDM_DUCKDB_MAX_VACUUM_TASKS": "", "PDM_WAREHOUSE_LOCK_WAIT_SECONDS": ""}
    command = ["run-operation", "compact_tables", "--target", "ci"]
    bad = run_dbt(command, {**environment.env, **empty, "PDM_DUCKDB_MEMORY_LIMIT": "lots"}, REPO_ROOT)
    assert bad.returncode == 1
    assert "PDM_DUCKDB_MEMORY_LIMIT='lots' is not a memory_limit DuckDB takes" in bad.stdout
    assert not environment.paths.warehouse.exists()
    good = run_dbt(command, {**environment.env, **empty}, REPO_ROOT)
    assert good.returncode == 0, good.stdout[-3000:]
    assert "compact_tables: 0 tables checkpointed" in good.stdout
    assert environment.paths.warehouse.exists()


def test_an_option_that_is_nan_infinite_or_negative_is_refused_before_anything(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """The same rule on the command line: `--psi-threshold -1` made every champion stale, `nan` none, and
    `--lock-timeout nan` waited for the lake lock without end."""
    for name, setting in data_environment(tmp_path).items():
        monkeypatch.setenv(name, setting)
    for option in ("--psi-threshold", "--max-age-versions", "--max-age-days"):
        value = "-1" if option == "--max-age-versions" else "nan"
        assert monitor.main([option, value]) == 2
        assert capsys.readouterr().err.startswith(f"monitor: {option} must be a number of 0 or more, not ")
    for every in ("nan", "inf", "0"):
        assert watch.main(["--once", "--every", every]) == 2
        assert capsys.readouterr().err == "watch: --every must be a positive number of seconds\n"
    assert publish.main(["--lock-timeout", "nan"]) == 1
    assert "the lake lock timeout must be a finite number of seconds, not nan" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


TRAIN_SETTINGS = [
    # (environment, command line, the message)
    ({"PDM_THRESHOLD_RULE": "max-f1"}, [], "PDM_THRESHOLD_RULE='max-f1' is not one of max_f1, min_cost"),
    ({"PDM_RUL_MARGIN_RULE": "phm08"}, [], "PDM_RUL_MARGIN_RULE='phm08' is not one of min_phm08, none"),
    ({"PDM_CHAMPION_MARGIN": "1"}, [], "PDM_CHAMPION_MARGIN must be a fraction in [0, 1), not 1"),
    ({}, ["--champion-margin", "5"], "--champion-margin must be a fraction in [0, 1), not 5"),
    # "the cost of a unneeded maintenance must be ...": named by neither its option nor make's variable
    ({}, ["--missed-failure-cost", "-1"], "--missed-failure-cost must be a finite number of 0 or more, not -1"),
    (
        {},
        ["--unneeded-maintenance-cost=inf"],
        "--unneeded-maintenance-cost must be a finite number of 0 or more, not inf",
    ),
    # min_cost then alerted on every unit, and the gate's cost (0 vs 0) never let a classifier candidate through
    (
        {"PDM_MISSED_FAILURE_COST": "0"},
        ["--unneeded-maintenance-cost", "0"],
        "the cost of a missed failure and of an unneeded maintenance (--missed-failure-cost, "
        "--unneeded-maintenance-cost; PDM_MISSED_FAILURE_COST, PDM_UNNEEDED_MAINTENANCE_COST) are both 0: "
        "give one above 0 (only their ratio matters)",
    ),
]


@pytest.mark.parametrize(
    ("environment", "argv", "message"), TRAIN_SETTINGS, ids=[m.split()[0] for *_, m in TRAIN_SETTINGS]
)
def test_a_training_setting_out_of_its_range_is_named_by_its_variable_or_option(
    environment: dict[str, str], argv: list[str], message: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    """`PDM_THRESHOLD_RULE=max-f1 make train` said "threshold_rule 'max-f1': one of ...", and a champion margin
    of 1 "champion_margin must be in [0, 1)": names of a dataclass field, neither the variable nor the option
    (argparse checks an option's choices, not a default read from the environment)."""
    for name, setting in {**data_environment(tmp_path), **environment}.items():
        monkeypatch.setenv(name, setting)
    assert train.main(argv) == 2
    assert capsys.readouterr().err.strip() == message
    assert list(tmp_path.iterdir()) == []
