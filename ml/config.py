"""Every path the project uses, built from the repository root (never from the caller's cwd), the
reading of a numeric setting from the environment (`env_number`) and of seeds and counts from the
command line (`seed_number`, `seed_list`, `whole_number_from`), and the one-line messages that quote
a path or a library's error (`path_problem`, `first_line`).

Environment variables override the defaults so tests and CI can point a run at a
throw-away folder without touching the user's data:

| variable            | default                          |
|---------------------|----------------------------------|
| PDM_DATA_DIR        | <repo>/data                      |
| PDM_LANDING_PATH    | $PDM_DATA_DIR/landing            |
| PDM_WAREHOUSE_PATH  | $PDM_DATA_DIR/warehouse/pdm.duckdb |
| PDM_LAKE_PATH       | $PDM_DATA_DIR/lake               |
| PDM_MLFLOW_DIR      | $PDM_DATA_DIR/mlruns             |
| PDM_PREDICTIONS_PATH | $PDM_DATA_DIR/predictions       |
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SEEDS_DIR = REPO_ROOT / "seeds"
EQUIPMENT_MODELS_SEED = SEEDS_DIR / "equipment_models.csv"
SENSORS_SEED = SEEDS_DIR / "sensors.csv"

# Where, inside the landing folder, the equipment registry extract lives.
REGISTRY_SUBDIR = "registry"
REGISTRY_FILE_NAME = "equipment_registry.csv"
# Where, inside the landing folder, the erasure tombstone lives (lakehouse.erase).
ERASURES_SUBDIR = "erasures"


@dataclass(frozen=True)
class Paths:
    """The data locations of one environment (the user's, or a test's temp folder)."""

    data_dir: Path
    landing: Path
    warehouse: Path
    lake: Path
    mlflow: Path
    predictions: Path

    @property
    def registry_file(self) -> Path:
        return self.landing / REGISTRY_SUBDIR / REGISTRY_FILE_NAME

    @classmethod
    def from_env(cls, environ: os._Environ[str] | dict[str, str] | None = None) -> Paths:
        env = os.environ if environ is None else environ
        data_dir = _resolve(env.get("PDM_DATA_DIR"), REPO_ROOT / "data")
        return cls(
            data_dir=data_dir,
            landing=_resolve(env.get("PDM_LANDING_PATH"), data_dir / "landing"),
            warehouse=_resolve(env.get("PDM_WAREHOUSE_PATH"), data_dir / "warehouse" / "pdm.duckdb"),
            lake=_resolve(env.get("PDM_LAKE_PATH"), data_dir / "lake"),
            mlflow=_resolve(env.get("PDM_MLFLOW_DIR"), data_dir / "mlruns"),
            predictions=_resolve(env.get("PDM_PREDICTIONS_PATH"), data_dir / "predictions"),
        )


def _resolve(value: str | None, default: Path) -> Path:
    """A relative override is taken relative to the repo root, like dbt's project-relative paths."""
    if not value:
        return default
    path = Path(value)
    return path if path.is_absolute() else REPO_ROOT / path


def data_environment(root: Path) -> dict[str, str]:
    """The PDM_* and DBT_* variables that point every step (dbt included) at the data folder `root`.

    What a test, a benchmark or a second environment sets on top of os.environ: the landing folder,
    warehouse, lake, MLflow store and predictions under `root`, and dbt's target and log folders
    there too, so two environments never share a parse, a log or a file.
    """
    return {
        "PDM_DATA_DIR": str(root),
        "PDM_LANDING_PATH": str(root / "landing"),
        "PDM_WAREHOUSE_PATH": str(root / "warehouse" / "pdm.duckdb"),
        "PDM_LAKE_PATH": str(root / "lake"),
        "PDM_MLFLOW_DIR": str(root / "mlruns"),
        "PDM_PREDICTIONS_PATH": str(root / "predictions"),
        "DBT_PROFILES_DIR": str(REPO_ROOT),
        "DBT_TARGET_PATH": str(root / "dbt_target"),
        "DBT_LOG_PATH": str(root / "dbt_logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "false",
    }


def env_number(name: str, default: float, kind: type[int] | type[float] = float) -> float:
    """The environment variable `name` as a number of `kind` (unset or empty: `default`). Every such setting
    (a timeout, a threshold, an age, a cost, a count) is a finite number of 0 or more: any other value stops
    the program with a message naming the variable (SystemExit), not a traceback or a wait without end."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    noun = "a whole number" if kind is int else "a number"
    try:
        number = kind(value)
    except ValueError:
        raise SystemExit(f"{name}={value!r} is not {noun}") from None
    if not math.isfinite(number) or number < 0:
        raise SystemExit(f"{name}={value!r} is not {noun} of 0 or more")
    return number


def first_line(error: BaseException, fallback: str | None = None) -> str:
    """The first line of an exception's message, for one-line messages that quote a library's error; `fallback`
    (the exception type's name unless given) when the message is empty."""
    message = str(error).strip()
    if message:
        return message.splitlines()[0]
    return type(error).__name__ if fallback is None else fallback


MAX_SEED = 2**32 - 1  # numpy's and scikit-learn's random_state: 0 to 2**32 - 1


def seed_number(text: str) -> int:
    """`--seed`: a whole number numpy and scikit-learn take as a seed. A negative or too large one failed part-way,
    with numpy's "expected non-negative integer" or a LogisticRegression 'random_state' error, after a run was
    started."""
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= seed <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{seed} is not from 0 to {MAX_SEED}")
    return seed


def seed_list(text: str) -> list[int]:
    """`--seeds 42,43,44` (the benchmarks): at least one seed, each a `seed_number`. A bad one stopped a run with a
    traceback after its dbt build; none at all printed a table of nothing (or NaN), exit 0."""
    seeds = [seed_number(part.strip()) for part in text.split(",") if part.strip()]
    if not seeds:
        raise argparse.ArgumentTypeError(f"{text!r} names no seed: give comma-separated whole numbers, e.g. 42,43,44")
    return seeds


def whole_numbers_from(minimum: int, example: str) -> Callable[[str], list[int]]:
    """An argparse type: comma-separated whole numbers of at least `minimum` (the benchmarks' file counts, fleet
    sizes), at least one. `example` goes in the message. Each benchmark parsed its own list: an empty one ran
    nothing (exit 0) and a 0 or a word stopped in a traceback after its set-up."""

    def parse(text: str) -> list[int]:
        try:
            numbers = [int(part) for part in text.split(",") if part.strip()]
        except ValueError:
            numbers = []
        if not numbers or min(numbers) < minimum:
            raise argparse.ArgumentTypeError(
                f"{text!r}: give comma-separated whole numbers of {minimum} or more, e.g. {example}"
            )
        return numbers

    return parse


def whole_number_from(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least `minimum` (a count of folds, cuts, units)."""

    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {number}")
        return number

    return parse


def path_problem(error: OSError) -> str:
    """One line for an OSError on a configured path: a `PDM_*` path or an option naming a file where a folder
    goes (or the other way round), a folder that can't be written. The ML commands print it, exit 2."""
    second = f" -> {error.filename2}" if getattr(error, "filename2", None) else ""
    where = f"{error.filename}{second}" if error.filename else "a path"
    reason = error.strerror or str(error)
    if isinstance(error, (FileExistsError, NotADirectoryError)):
        reason = "a file is where a folder goes"
    return f"can't use {where}: {reason} (check PDM_DATA_DIR and the PDM_*_PATH / PDM_*_DIR settings)"
