"""Numeric settings read from the environment (`ml.config.env_number`): unset or empty means the default, and
a value that is not a number stops the command with a message naming the variable, before it does anything,
never with a traceback. Each command that reads one is run with a bad value."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from lakehouse import analysts, erase, optimize, publish, restore
from ml import monitor, train
from ml.config import data_environment, env_number


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
