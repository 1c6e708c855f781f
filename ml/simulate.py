"""Simulate a turbofan fleet in the NASA C-MAPSS text format, and its equipment registry.

Two subcommands (``python -m ml.simulate --help``):

``fleet``
    Lands ``train_<DATASET>.txt``, ``test_<DATASET>.txt`` and ``RUL_<DATASET>.txt`` in
    the landing folder, byte for byte in the layout of the public files (space
    separated, no header, 26 columns, two trailing blanks per line), and replaces
    this dataset's rows in the equipment registry extract.
``sample-fleet [--dirty]``
    Lands the default sample fleet (``SAMPLE_FLEET``) into an empty landing folder; ``--dirty``
    adds a few realistic bad files beside it (``land_dirty_files``: a garbled re-sent piece of
    ``train_FD101.txt``, NASA's ``readme.txt``, a transfer that died at zero bytes), so a first
    build shows the quarantine at work. Their good lines are exact copies of lines already
    landed, so the feature table, and every model trained on it, is the same with or without
    them (the data-quality and freshness marts do count them).
``registry-update``
    Simulates the operational registry changing under the fleet: firmware upgrades
    and relocations, each with an ``updated_at`` inside the unit's observed life.
    The extract is overwritten in place, so only a snapshot sees the history.

The sensor model, in a nutshell: every engine has a lifetime drawn like FD001's
(128-362 cycles, mean 206), some initial wear and a health index that degrades
along an exponential curve to 1.0 at its last cycle. Each informative sensor starts
at an engine-specific healthy level and drifts in the direction ``seeds/sensors.csv``
gives, by 4-11 noise standard deviations at failure, scaled per fault mode (HPC or
fan) and per engine (the core speeds s9/s14 by one widely spread scale per engine);
Gaussian noise buries early wear. Levels, noise, engine offsets, drift and the
curvature of the wear are calibrated against NASA's real FD001 train file
(``python -m benchmarks.simulator_realism`` prints the comparison). With six operating
conditions each cycle runs in a random regime, and every sensor's level, noise and
drift scale with the regime's level, so values compare only after per-regime
normalisation.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
from tqdm import tqdm

from ml.config import EQUIPMENT_MODELS_SEED, ERASURES_SUBDIR, REGISTRY_SUBDIR, SENSORS_SEED, Paths

SENSOR_CODES: tuple[str, ...] = tuple(f"s{i}" for i in range(1, 22))
SETTING_COLUMNS: tuple[str, ...] = ("setting_1", "setting_2", "setting_3")
CMAPSS_COLUMNS: tuple[str, ...] = ("unit_number", "cycle", *SETTING_COLUMNS, *SENSOR_CODES)
# Decimals each column is printed with in the NASA files; 0 means an integer column.
CMAPSS_DECIMALS: tuple[int, ...] = (0, 0, 4, 4, 1, *(2,) * 14, 4, 2, 0, 0, 2, 2, 4)
DECIMALS: dict[str, int] = dict(zip(CMAPSS_COLUMNS, CMAPSS_DECIMALS, strict=True))
FAULT_MODES: tuple[str, str] = ("HPC", "fan")

# Lifetimes: 128 + Gamma(2.9, 27) has FD001's mean (206) and spread (sd 46).
LIFETIME_MIN, LIFETIME_MAX = 128, 362
LIFETIME_GAMMA_SHAPE, LIFETIME_GAMMA_SCALE = 2.9, 27.0
INITIAL_WEAR_MAX = 0.10  # health index at cycle 0, as a fraction of the wear at failure
WEAR_RATE_RANGE = (3.0, 5.0)  # exponent of the health curve: higher = later, steeper (FD001: ~37 % of the
# drift at failure is reached 50 cycles before it, ~13 % 100 cycles before)
# A test series stops with a true RUL drawn uniformly from this range (NASA FD001's RUL truth spans
# 7-145), so about a sixth of test units are within 30 cycles of failure, as in the real file.
TEST_RUL_RANGE = (7, 145)
MIN_TEST_CYCLES = 5
UNIT_SENSITIVITY_RANGE = (0.75, 1.25)  # engine-to-engine scale of each sensor's drift
# The core speeds (Nc s9, NRc s14) drift with one scale per engine, shared by both and far more
# spread than the others': in FD001 a third of the engines end slightly below their healthy
# level and a few far above it (quantiles of the drift / its mean: 10 % -0.3, median 0.5, 90 % 2.7).
CORE_SPEED_SENSORS = (8, 13)  # s9, s14 (0-based)
CORE_SENSITIVITY_SHIFT, CORE_SENSITIVITY_SCALE, CORE_SENSITIVITY_MAX = -0.6, 1.6, 4.0

# Operating regimes, FD002-like: (altitude-ish, Mach-ish, throttle resolver angle).
REGIME_SETTINGS = np.array(
    [
        [0.0, 0.00, 100.0],
        [10.0, 0.25, 100.0],
        [20.0, 0.70, 100.0],
        [25.0, 0.62, 60.0],
        [35.0, 0.84, 100.0],
        [42.0, 0.84, 100.0],
    ]
)
REGIME_SHARES = np.array([0.15, 0.15, 0.15, 0.15, 0.15, 0.25])
SETTING_NOISE_SD = np.array([0.0022, 0.0003, 0.0])  # FD001's spread; setting_3 is exact
# Healthy level of s1..s21 per regime; regime 0 is FD001's single condition. s6 sits
# just above a rounding edge so that, as in FD001, about 2 % of rows print 21.60.
REGIME_LEVELS = np.array(
    [
        [518.67, 642.34, 1586.3, 1400.9, 14.62, 21.608, 554.06, 2388.054, 9053.4, 1.30, 47.32,
         522.08, 2388.055, 8136.4, 8.417, 0.03, 392.0, 2388.0, 100.00, 38.97, 23.370],
        [489.05, 604.30, 1494.0, 1305.0, 10.52, 15.49, 394.30, 2318.90, 8770.0, 1.26, 45.30,
         371.50, 2388.05, 8130.0, 8.650, 0.02, 369.0, 2319.0, 100.00, 28.60, 17.160],
        [491.19, 607.40, 1479.0, 1253.0, 9.35, 13.65, 334.50, 2323.95, 8715.0, 1.08, 44.30,
         315.20, 2388.08, 8065.0, 9.220, 0.02, 364.0, 2324.0, 100.00, 24.50, 14.700],
        [462.54, 536.70, 1262.0, 1050.0, 7.05, 9.03, 175.50, 1915.30, 7995.0, 0.94, 36.60,
         164.50, 2028.20, 7875.0, 10.900, 0.02, 307.0, 1915.0, 84.93, 14.30, 8.590],
        [449.44, 555.50, 1366.0, 1120.0, 5.48, 8.00, 194.40, 2222.65, 8340.0, 1.02, 41.90,
         183.10, 2388.02, 8070.0, 9.330, 0.02, 334.0, 2223.0, 100.00, 14.80, 8.880],
        [445.00, 549.60, 1353.0, 1125.0, 3.91, 5.71, 138.50, 2211.85, 8305.0, 1.02, 41.70,
         129.80, 2387.98, 8080.0, 9.380, 0.02, 330.0, 2212.0, 100.00, 10.60, 6.360],
    ]
)  # fmt: skip
# The sensor model below is calibrated against NASA's real FD001 train file
# (`python -m benchmarks.simulator_realism` prints both side by side).
# Noise SD of s1..s21 in regime 0: FD001's within-unit SD over a unit's first 30 cycles
# (s17, printed as an integer, a little less: rounding adds the rest). 0 = constant sensor.
NOISE_SD = np.array(
    [0.0, 0.30, 4.0, 3.95, 0.0, 0.0015, 0.405, 0.031, 4.2, 0.0, 0.101,
     0.305, 0.030, 3.15, 0.020, 0.0, 0.90, 0.0, 0.0, 0.100, 0.061]
)  # fmt: skip
# Engine-to-engine offset of each sensor's healthy level, in noise SDs: FD001's spread of the
# units' healthy levels (the core speeds s9 and s14 differ most between engines).
UNIT_OFFSET_SDS = np.array(
    [0.0, 0.75, 0.55, 1.1, 0.0, 0.3, 1.15, 1.35, 1.3, 0.0, 1.4,
     1.3, 1.5, 2.0, 0.85, 0.0, 0.75, 0.0, 0.0, 0.8, 0.8]
)  # fmt: skip
# Drift at failure in noise SDs (FD001's, over the mean sensitivity and initial wear); its sign
# comes from seeds/sensors.csv.
DRIFT_AT_FAILURE_SDS = np.array(
    [0.0, 4.7, 4.2, 7.3, 0.0, 0.0, 6.7, 6.1, 10.9, 0.0, 8.6,
     7.6, 6.5, 10.5, 5.6, 0.0, 4.7, 0.0, 0.0, 5.4, 5.2]
)  # fmt: skip
# How strongly each fault mode moves each sensor: fan wear shows most in T24, Nf,
# NRf and BPR and hardly in the core speeds.
FAULT_MODE_WEIGHTS = np.array(
    [
        np.ones(21),
        [1.0, 1.3, 0.6, 0.6, 1.0, 1.0, 0.6, 1.6, 0.3, 1.0, 0.6,
         0.6, 1.6, 0.3, 1.6, 1.0, 0.6, 1.0, 1.0, 0.6, 0.6],
    ]
)  # fmt: skip

REGISTRY_COLUMNS: tuple[str, ...] = (
    "dataset",
    "split",
    "unit_number",
    "equipment_model_code",
    "site_code",
    "firmware_version",
    "commissioned_at",
    "cycle_hours",
    "updated_at",
)
REGISTRY_TEXT_COLUMNS: tuple[str, ...] = (
    "dataset",
    "split",
    "equipment_model_code",
    "site_code",
    "firmware_version",
)
REGISTRY_KEY: list[str] = ["dataset", "split", "unit_number"]
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
SITE_CODES: tuple[str, ...] = ("AMS", "ATL", "DXB", "LHR", "SIN", "SEA")
FIRMWARE_VERSIONS: tuple[str, ...] = ("4.0.3", "4.1.0", "4.1.2", "4.2.0", "4.2.1", "5.0.0")
COMMISSIONED_FROM = np.datetime64("2023-01-01T00:00:00", "s")
COMMISSIONED_UNTIL = np.datetime64("2025-01-01T00:00:00", "s")
CYCLE_HOURS_RANGE = (1.5, 9.0)
UPDATE_STEP_CYCLES = (20, 100)  # a registry change lands this many cycles after the last
MINOR_BUMP_SHARE = 0.3  # of firmware upgrades; the rest are patch releases
REGISTRY_STREAM = 1  # keeps the registry's random numbers apart from the sensors'

PROGRESS_MIN_ROWS = 200_000
UNITS_PER_CHUNK = 500  # about 100k rows: bounds the formatter's memory
DATASET_PATTERN = re.compile(r"FD\d{3}")  # what the landing folder's file-name regex accepts
PARTIAL_SUBDIR = ".partial"  # files being written (_atomic_writer): beside the landing folder, not in it


@dataclass(frozen=True)
class FleetSpec:
    """What to simulate; the CLI's ``fleet`` arguments."""

    dataset: str = "FD101"
    train_units: int = 100
    test_units: int = 100
    conditions: int = 1
    fault_modes: int = 1
    seed: int = 42


# What `make run` lands in an empty landing folder: an FD001-like and an FD004-like fleet.
SAMPLE_FLEET = (
    FleetSpec(dataset="FD101", train_units=100, test_units=100, conditions=1, fault_modes=1, seed=42),
    FleetSpec(dataset="FD104", train_units=100, test_units=100, conditions=6, fault_modes=2, seed=43),
)


@dataclass(frozen=True)
class Fleet:
    """A simulated dataset: readings as they land, plus the truth the files don't carry.

    ``train`` and ``test`` hold the 26 C-MAPSS columns (``CMAPSS_COLUMNS``), already
    rounded to the printed precision; ``rul`` is line i of the RUL file (test unit
    i+1); ``engines`` has one row per (split, unit_number) with ``lifetime_cycles``,
    ``observed_cycles``, ``rul``, ``fault_mode``, ``initial_wear`` and ``wear_rate``.
    """

    spec: FleetSpec
    train: pd.DataFrame
    test: pd.DataFrame
    rul: np.ndarray
    engines: pd.DataFrame


@dataclass(frozen=True)
class FleetFiles:
    train: Path
    test: Path
    rul: Path


@dataclass(frozen=True)
class RegistryUpdate:
    registry: pd.DataFrame
    firmware_upgrades: int
    relocations: int
    units_in_scope: int


# ---------------------------------------------------------------------------- fleet


def load_degradation_directions(path: Path = SENSORS_SEED) -> np.ndarray:
    """``degradation_direction`` (+1, -1, 0) of s1..s21, in that order."""
    seed = pd.read_csv(path).set_index("sensor_code")["degradation_direction"]
    missing = sorted(set(SENSOR_CODES) - set(seed.index))
    if missing:
        raise ValueError(f"{path} has no row for {', '.join(missing)}")
    return seed.reindex(list(SENSOR_CODES)).to_numpy(dtype=np.int64)


def draw_lifetimes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Cycles to failure, FD001-like: shifted gamma, clipped to [128, 362]."""
    raw = LIFETIME_MIN + rng.gamma(LIFETIME_GAMMA_SHAPE, LIFETIME_GAMMA_SCALE, n)
    return np.clip(np.rint(raw), LIFETIME_MIN, LIFETIME_MAX).astype(np.int64)


def draw_test_cuts(rng: np.random.Generator, lifetimes: np.ndarray) -> np.ndarray:
    """Last observed cycle of a test series: true RUL uniform in TEST_RUL_RANGE, >= MIN_TEST_CYCLES observed."""
    rul = rng.integers(TEST_RUL_RANGE[0], TEST_RUL_RANGE[1] + 1, lifetimes.size)
    return np.clip(lifetimes - rul, MIN_TEST_CYCLES, lifetimes - 1).astype(np.int64)


def health_index(
    cycle: np.ndarray, lifetime: np.ndarray, initial_wear: np.ndarray, wear_rate: np.ndarray
) -> np.ndarray:
    """Wear from ``initial_wear`` at cycle 0 to exactly 1.0 at ``lifetime``, accelerating."""
    curve = np.expm1(wear_rate * cycle / lifetime) / np.expm1(wear_rate)
    return initial_wear + (1.0 - initial_wear) * curve


def flat_cycles(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(series index, cycle 1..length) of every row of series laid end to end."""
    series = np.repeat(np.arange(lengths.size), lengths)
    starts = np.cumsum(lengths) - lengths
    return series, np.arange(series.size) - starts[series] + 1


def draw_engines(rng: np.random.Generator, train_units: int, test_units: int, fault_modes: int) -> pd.DataFrame:
    """One row per engine, train first: the truth each series is simulated from."""
    n = train_units + test_units
    lifetime = draw_lifetimes(rng, n)
    is_test = np.arange(n) >= train_units
    observed = np.where(is_test, draw_test_cuts(rng, lifetime), lifetime)
    fault_mode = rng.integers(0, fault_modes, n)
    return pd.DataFrame(
        {
            "split": np.where(is_test, "test", "train"),
            "unit_number": np.where(is_test, np.arange(n) - train_units, np.arange(n)) + 1,
            "lifetime_cycles": lifetime,
            "observed_cycles": observed,
            "rul": lifetime - observed,
            "fault_mode": np.asarray(FAULT_MODES)[fault_mode],
            "initial_wear": rng.uniform(0.0, INITIAL_WEAR_MAX, n),
            "wear_rate": rng.uniform(*WEAR_RATE_RANGE, n),
        }
    )


def simulate_readings(
    rng: np.random.Generator, engines: pd.DataFrame, conditions: int, directions: np.ndarray
) -> pd.DataFrame:
    """All cycles of all engines, in ``engines``' order: ``CMAPSS_COLUMNS``, printed precision."""
    n_engines = len(engines)
    offset = rng.normal(0.0, 1.0, (len(SENSOR_CODES), n_engines)) * UNIT_OFFSET_SDS[:, None]
    sensitivity = rng.uniform(*UNIT_SENSITIVITY_RANGE, (len(SENSOR_CODES), n_engines))
    core = CORE_SENSITIVITY_SHIFT + rng.exponential(CORE_SENSITIVITY_SCALE, n_engines)
    sensitivity[list(CORE_SPEED_SENSORS)] = np.minimum(core, CORE_SENSITIVITY_MAX)
    engine, cycle = flat_cycles(engines["observed_cycles"].to_numpy())
    mode = pd.Index(FAULT_MODES).get_indexer(engines["fault_mode"])[engine]
    health = health_index(
        cycle,
        engines["lifetime_cycles"].to_numpy()[engine],
        engines["initial_wear"].to_numpy()[engine],
        engines["wear_rate"].to_numpy()[engine],
    )
    regime = (
        rng.choice(len(REGIME_SHARES), size=engine.size, p=REGIME_SHARES)
        if conditions == 6
        else np.zeros(engine.size, dtype=np.int64)
    )
    columns: dict[str, np.ndarray] = {
        "unit_number": engines["unit_number"].to_numpy()[engine],
        "cycle": cycle,
    }
    for j, name in enumerate(SETTING_COLUMNS):
        noise = rng.normal(0.0, SETTING_NOISE_SD[j], engine.size)
        columns[name] = to_printed_precision(REGIME_SETTINGS[regime, j] + noise, DECIMALS[name])
    drift = directions * DRIFT_AT_FAILURE_SDS * FAULT_MODE_WEIGHTS  # (mode, sensor)
    for j, name in enumerate(SENSOR_CODES):
        level = REGIME_LEVELS[regime, j]
        scale = NOISE_SD[j] * level / REGIME_LEVELS[0, j]
        signal = offset[j, engine] + drift[mode, j] * sensitivity[j, engine] * health
        value = level + scale * (signal + rng.standard_normal(engine.size))
        columns[name] = to_printed_precision(value, DECIMALS[name])
    return pd.DataFrame(columns)


def to_printed_precision(values: np.ndarray, decimals: int) -> np.ndarray:
    """``values`` rounded as the files print them: int64 for 0 decimals, never -0.0."""
    rounded = np.round(values, decimals) + 0.0
    return rounded.astype(np.int64) if decimals == 0 else rounded


def simulate_fleet(spec: FleetSpec, directions: np.ndarray | None = None) -> Fleet:
    """Simulate ``spec``; the same spec gives the same fleet, to the bit.

    ``directions`` defaults to ``seeds/sensors.csv``'s ``degradation_direction``.
    """
    if spec.conditions not in (1, 6):
        raise ValueError(f"conditions must be 1 or 6, not {spec.conditions}")
    if spec.fault_modes not in (1, 2):
        raise ValueError(f"fault_modes must be 1 or 2, not {spec.fault_modes}")
    if spec.train_units < 1 or spec.test_units < 1:
        raise ValueError("a fleet needs at least one train and one test unit")
    if directions is None:
        directions = load_degradation_directions()
    rng = np.random.default_rng(spec.seed)
    engines = draw_engines(rng, spec.train_units, spec.test_units, spec.fault_modes)
    readings = simulate_readings(rng, engines, spec.conditions, directions)
    is_test = engines["split"] == "test"
    train_rows = int(engines.loc[~is_test, "observed_cycles"].sum())  # train engines come first
    return Fleet(
        spec=spec,
        train=readings.iloc[:train_rows].reset_index(drop=True),
        test=readings.iloc[train_rows:].reset_index(drop=True),
        rul=engines.loc[is_test, "rul"].to_numpy(),
        engines=engines,
    )


# ------------------------------------------------------------------- C-MAPSS text


def _fixed_point_chars(values: np.ndarray, decimals: int) -> np.ndarray:
    """(width, n) ASCII codes of ``values`` printed with ``decimals`` places.

    Right-aligned; unused leading positions hold 0 (NUL) and are dropped when the
    rows are packed, so a column needs no fixed width in the output.
    """
    scaled = np.rint(values * 10.0**decimals).astype(np.int64)
    magnitude = np.abs(scaled)
    largest = int(magnitude.max(initial=0))
    n_digits = max(len(str(largest)), decimals + 1)
    digits = np.zeros((n_digits, values.size), dtype=np.uint8)
    rest = magnitude.astype(np.uint32 if largest < 2**32 else np.uint64)  # uint32 divides faster
    for position in range(n_digits - 1, -1, -1):  # least significant first
        shown = rest > 0 if position < n_digits - decimals - 1 else True
        rest, digit = np.divmod(rest, 10)
        digits[position] = np.where(shown, digit + ord("0"), 0)
    sign = np.where(scaled < 0, ord("-"), 0).astype(np.uint8)[None, :]
    if not decimals:
        return np.vstack([sign, digits])
    point = np.full((1, values.size), ord("."), dtype=np.uint8)
    return np.vstack([sign, digits[:-decimals], point, digits[-decimals:]])


def encode_cmapss(readings: pd.DataFrame) -> bytes:
    """The rows as C-MAPSS text: 26 space-separated numbers, two blanks, newline."""
    n = len(readings)
    blank = np.full((1, n), ord(" "), dtype=np.uint8)
    blocks: list[np.ndarray] = []
    for name, decimals in DECIMALS.items():
        blocks += [_fixed_point_chars(readings[name].to_numpy(dtype=np.float64), decimals), blank]
    blocks += [blank, np.full((1, n), ord("\n"), dtype=np.uint8)]
    chars = np.ascontiguousarray(np.vstack(blocks).T)  # one row of bytes per line
    return chars[chars != 0].tobytes()


def format_cmapss_lines(readings: pd.DataFrame) -> str:
    """``encode_cmapss`` as text."""
    return encode_cmapss(readings).decode("ascii")


def read_cmapss(path: Path, columns: Sequence[str] = CMAPSS_COLUMNS) -> pd.DataFrame:
    """A C-MAPSS text file (this module's or NASA's) as a frame with ``CMAPSS_COLUMNS``."""
    return pd.read_csv(
        path,
        sep=" ",
        header=None,
        names=[*CMAPSS_COLUMNS, "_blank_1", "_blank_2"],
        usecols=list(columns),
    )


def cmapss_file(landing: Path, split: str, dataset: str) -> Path:
    return landing / f"{split}_{dataset}.txt"


@contextlib.contextmanager
def _atomic_writer(path: Path, partial_dir: Path | None = None) -> Iterator[IO[bytes]]:
    """A binary file that appears at ``path`` whole, or not at all.

    It is written in ``partial_dir`` and renamed into place; the folder is removed again when
    empty. By default that is a hidden sibling of the file's folder (``.landing.partial`` beside
    ``landing/``), as the README asks of any upstream system: a build lists the landing folder's
    directories too (and warns about them), and the watcher takes a file in an unknown landing
    subfolder for a reason to build every node. Where that sibling can't be created (the parent
    is not writable), a hidden subfolder of the file's folder.
    """
    partial_dir = partial_dir or path.parent.parent / f".{path.parent.name}{PARTIAL_SUBDIR}"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        partial_dir.mkdir(parents=True, exist_ok=True)
    except PermissionError:
        partial_dir = path.parent / PARTIAL_SUBDIR
        partial_dir.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=partial_dir, prefix=f"{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    finally:
        with contextlib.suppress(OSError):  # not empty: another writer is busy in it
            partial_dir.rmdir()


def _unit_chunks(unit_number: np.ndarray, units_per_chunk: int) -> list[tuple[int, int]]:
    """Row ranges covering whole units, ``units_per_chunk`` units each."""
    starts = np.flatnonzero(np.diff(unit_number, prepend=np.nan) != 0)
    bounds = [*starts[::units_per_chunk].tolist(), unit_number.size]
    return list(itertools.pairwise(bounds))


def write_fleet(fleet: Fleet, landing: Path, progress: bool | None = None) -> FleetFiles:
    """Land the fleet's three C-MAPSS files, each atomically.

    The readings are formatted in chunks of whole units; ``progress`` (default: more
    than 200k rows) shows a bar over them on stderr.
    """
    dataset = fleet.spec.dataset
    files = FleetFiles(
        train=cmapss_file(landing, "train", dataset),
        test=cmapss_file(landing, "test", dataset),
        rul=landing / f"RUL_{dataset}.txt",
    )
    n_rows = len(fleet.train) + len(fleet.test)
    show = n_rows > PROGRESS_MIN_ROWS if progress is None else progress
    with tqdm(total=n_rows, desc=dataset, unit="row", unit_scale=True, disable=not show, file=sys.stderr) as bar:
        for readings, path in ((fleet.train, files.train), (fleet.test, files.test)):
            with _atomic_writer(path) as handle:
                for start, stop in _unit_chunks(readings["unit_number"].to_numpy(), UNITS_PER_CHUNK):
                    handle.write(encode_cmapss(readings.iloc[start:stop]))
                    bar.update(stop - start)
    with _atomic_writer(files.rul) as handle:
        handle.write("".join(f"{rul} \n" for rul in fleet.rul.tolist()).encode("ascii"))
    return files


# ------------------------------------------------------------------------ dirty files

# The rule each bad line of the re-sent file breaks, in file order (rejection_rule codes of
# bronze.stg_cmapss__quarantined_lines); the whole-file cases are in DIRTY_FILE_OUTCOMES.
DIRTY_LINE_RULES: tuple[str, ...] = (
    "non_numeric_value",
    "non_finite_value",
    "cycle_not_positive_integer",
    "column_count_differs_from_file",
    "blank_line",
    "not_utf8_text",
    "too_few_columns",
)
DIRTY_COPIED_CYCLES = range(31, 71)  # the good lines: unit 1's cycles 31-70 (every train unit lives >= 128)
NASA_README = """Data Set: FD001
Train trjectories: 100
Test trajectories: 100
Conditions: ONE (Sea Level)
Fault Modes: ONE (HPC Degradation)

Experimental Scenario

Data sets consists of multiple multivariate time series. Each data set is further divided into training and
test subsets. Each time series is from a different engine i.e., the data can be considered to be from a fleet
of engines of the same type.
"""


@dataclass(frozen=True)
class DirtyFiles:
    """What ``land_dirty_files`` wrote: the re-sent file (its bad lines' rules), the readme, the empty file."""

    resent: Path
    readme: Path
    empty: Path
    resent_lines: int

    @property
    def outcomes(self) -> dict[str, dict[str, int]]:
        """Per file name, the line counts gold.mart_data_quality gives it per outcome."""
        bad = len(DIRTY_LINE_RULES)
        return {
            self.resent.name: {"accepted": self.resent_lines - bad, **dict.fromkeys(DIRTY_LINE_RULES, 1)},
            self.readme.name: {"unrecognised_file_name": NASA_README.count("\n")},
            self.empty.name: {"unreadable_file": 1},
        }


def _garbled(tokens: list[bytes], index: int, value: bytes) -> bytes:
    changed = list(tokens)
    changed[index] = value
    return b" ".join(changed) + b"  \n"


def land_dirty_files(landing: Path, dataset: str = "FD101") -> DirtyFiles:
    """Land, beside an already landed ``train_<dataset>.txt``, the bad files a real feed brings.

    - ``train_<dataset>_resent.txt``: a site gateway re-sent 40 lines of unit 1 (cycles 31-70, exact
      copies: kept, and deduplicated in silver, values unchanged) with two of them swapped (out of
      order), one sent twice, and seven lines garbled in transit, one per rule: a decimal comma, a NaN,
      cycle 0, a stray 27th value, a blank line, a byte that is not UTF-8, and a last line cut off
      mid-way (no newline). 7 of 48 lines: above the warn share (1 %), below the error share (25 %).
    - ``readme.txt``: NASA's archive readme, unzipped with the data: quarantined whole, the build warns.
    - ``train_<dataset>_retry.txt``: a transfer that died at zero bytes: quarantined whole, the build warns.

    The files are written atomically. Returns what was written.
    """
    source = cmapss_file(landing, "train", dataset)
    if not source.exists():
        raise FileNotFoundError(f"no {source.name} in {landing}: land the fleet first")
    lines = source.read_bytes().splitlines()
    unit_one = [line.split() for line in lines if line.split()[:1] == [b"1"]]
    good = [tokens for tokens in unit_one if int(tokens[1]) in DIRTY_COPIED_CYCLES]
    if len(good) != len(DIRTY_COPIED_CYCLES) or len(unit_one) <= DIRTY_COPIED_CYCLES.stop:
        raise ValueError(f"unit 1 of {source.name} has {len(unit_one)} cycles: too few to copy cycles 31-70")
    copied = [b" ".join(tokens) + b"  \n" for tokens in good]
    copied[15], copied[16] = copied[16], copied[15]  # out of order
    copied.insert(36, copied[35])  # the same line twice
    garbled = [
        _garbled(good[5], 7, good[5][7].replace(b".", b",")),  # decimal comma: non_numeric_value
        _garbled(good[12], 9, b"NaN"),  # non_finite_value
        _garbled(good[20], 1, b"0"),  # cycle_not_positive_integer
        b" ".join([*good[25], b"7.5"]) + b"  \n",  # a 27th value: column_count_differs_from_file
        b"\n",  # blank_line
        _garbled(good[30], 5, good[30][5] + b"\xb0"),  # a Latin-1 degree sign: not_utf8_text
    ]
    # the garbled lines go between the copies, in DIRTY_LINE_RULES order; the file ends mid-line
    content = list(copied)
    for offset, line in enumerate(garbled):
        content.insert(4 + offset * 6, line)
    content.append(b" ".join(unit_one[DIRTY_COPIED_CYCLES.stop - 1][:10]))  # cut off: too_few_columns
    files = DirtyFiles(
        resent=landing / f"train_{dataset}_resent.txt",
        readme=landing / "readme.txt",
        empty=landing / f"train_{dataset}_retry.txt",
        resent_lines=len(content),
    )
    for path, data in (
        (files.resent, b"".join(content)),
        (files.readme, NASA_README.encode("ascii")),
        (files.empty, b""),
    ):
        with _atomic_writer(path) as handle:
            handle.write(data)
    return files


# ------------------------------------------------------------------------ registry


def registry_path(landing: Path) -> Path:
    """Where the registry extract lives under ``landing`` (``Paths.registry_file``)."""
    return dataclasses.replace(Paths.from_env(), landing=landing).registry_file


def load_model_codes(path: Path = EQUIPMENT_MODELS_SEED) -> list[str]:
    return pd.read_csv(path)["equipment_model_code"].tolist()


def build_registry(
    dataset: str, train_units: int, test_units: int, model_codes: Sequence[str], seed: int
) -> pd.DataFrame:
    """Fresh registry rows for a new fleet: one per (split, unit), ``updated_at`` = commissioning."""
    rng = np.random.default_rng([REGISTRY_STREAM, seed])
    n = train_units + test_units
    span_seconds = int((COMMISSIONED_UNTIL - COMMISSIONED_FROM) / np.timedelta64(1, "s"))
    commissioned = COMMISSIONED_FROM + rng.integers(0, span_seconds, n).astype("timedelta64[s]")
    return pd.DataFrame(
        {
            "dataset": dataset,
            "split": ["train"] * train_units + ["test"] * test_units,
            "unit_number": np.r_[np.arange(train_units), np.arange(test_units)] + 1,
            "equipment_model_code": rng.choice(np.asarray(model_codes), n),
            "site_code": rng.choice(np.asarray(SITE_CODES), n),
            "firmware_version": rng.choice(np.asarray(FIRMWARE_VERSIONS), n),
            "commissioned_at": commissioned,
            "cycle_hours": np.round(rng.uniform(*CYCLE_HOURS_RANGE, n), 2),
            "updated_at": commissioned,
        }
    )


def empty_registry() -> pd.DataFrame:
    """A registry with no rows and the columns' types."""
    types = {
        **dict.fromkeys(REGISTRY_TEXT_COLUMNS, "str"),
        "unit_number": "int64",
        "commissioned_at": "datetime64[s]",
        "cycle_hours": "float64",
        "updated_at": "datetime64[s]",
    }
    return pd.DataFrame({column: pd.Series(dtype=types[column]) for column in REGISTRY_COLUMNS})


def sort_registry(registry: pd.DataFrame) -> pd.DataFrame:
    return registry.sort_values(REGISTRY_KEY, ignore_index=True)[list(REGISTRY_COLUMNS)]


def merge_registry(existing: pd.DataFrame, fresh: pd.DataFrame) -> pd.DataFrame:
    """``existing`` with the rows of ``fresh``'s datasets replaced by ``fresh``."""
    kept = existing[~existing["dataset"].isin(fresh["dataset"].unique())]
    return sort_registry(pd.concat([kept, fresh], ignore_index=True) if len(kept) else fresh)


def read_registry(path: Path) -> pd.DataFrame:
    """The registry extract, typed; no file reads as an empty registry."""
    if not path.exists():
        return empty_registry()
    registry = pd.read_csv(path, dtype=dict.fromkeys(REGISTRY_TEXT_COLUMNS, str), keep_default_na=False)
    if tuple(registry.columns) != REGISTRY_COLUMNS:
        raise ValueError(f"{path}: header is not {','.join(REGISTRY_COLUMNS)}")
    for column in ("commissioned_at", "updated_at"):
        parsed = pd.to_datetime(registry[column], format=TIMESTAMP_FORMAT)
        registry[column] = parsed.astype("datetime64[s]")
    return registry


def write_registry(registry: pd.DataFrame, path: Path) -> None:
    """Write the extract atomically: a build reading it sees the old file or the new one."""
    text = sort_registry(registry).assign(
        commissioned_at=lambda frame: frame["commissioned_at"].dt.strftime(TIMESTAMP_FORMAT),
        updated_at=lambda frame: frame["updated_at"].dt.strftime(TIMESTAMP_FORMAT),
    )
    # below the registry's own folder, which neither the build's listing nor the watcher takes for a delivery
    with _atomic_writer(path, path.parent / PARTIAL_SUBDIR) as handle:
        handle.write(text.to_csv(index=False, float_format="%.2f", lineterminator="\n").encode())


def read_unit_cycles(path: Path) -> pd.DataFrame:
    """(unit_number, cycle) of every line of a landed C-MAPSS file whose first two values are whole numbers,
    split on any run of whitespace as the pipeline splits them: a landed file need not be in this module's
    exact format (tabs, several spaces), and a line the pipeline quarantines (too few values, text) is skipped
    here. ``read_cmapss`` reads this module's and NASA's format only."""
    pairs = []
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        tokens = line.split()
        if len(tokens) >= 2 and tokens[0].isdigit() and tokens[1].isdigit():
            pairs.append((int(tokens[0]), int(tokens[1])))
    return pd.DataFrame(pairs, columns=["unit_number", "cycle"], dtype="int64")


def read_last_cycles(landing: Path, keys: Iterable[tuple[str, str]]) -> pd.DataFrame:
    """Last landed cycle of every unit of each (dataset, split) in ``keys``."""
    frames = []
    for dataset, split in sorted(set(keys)):
        path = cmapss_file(landing, split, dataset)
        if not path.exists():
            raise FileNotFoundError(f"{path}: the registry lists {split} units of {dataset}")
        cycles = read_unit_cycles(path)
        last = cycles.groupby("unit_number", as_index=False)["cycle"].max()
        frames.append(last.rename(columns={"cycle": "last_cycle"}).assign(dataset=dataset, split=split))
    if not frames:
        return empty_registry()[REGISTRY_KEY].assign(last_cycle=pd.Series(dtype="int64"))
    return pd.concat(frames, ignore_index=True)[[*REGISTRY_KEY, "last_cycle"]]


def bump_firmware(versions: pd.Series, minor: np.ndarray) -> pd.Series:
    """``a.b.c`` -> ``a.(b+1).0`` where ``minor``, else ``a.b.(c+1)``."""
    if versions.empty:  # no unit upgraded (a small fleet, --fraction 0): nothing to split
        return versions
    parts = versions.str.split(".", expand=True).astype(np.int64)
    major, minor_part, patch = parts[0], parts[1] + minor, np.where(minor, 0, parts[2] + 1)
    return major.astype(str) + "." + minor_part.astype(str) + "." + pd.Series(patch, index=versions.index).astype(str)


def update_registry(
    registry: pd.DataFrame,
    last_cycles: pd.DataFrame,
    fraction: float,
    seed: int,
    dataset: str | None = None,
) -> RegistryUpdate:
    """Upgrade the firmware of, or relocate, about ``fraction`` of the units in scope.

    Scope is ``dataset``'s units (all units when None). A change happens at a cycle
    20-100 cycles after the unit's current ``updated_at`` (counted in its
    ``cycle_hours``), before its last landed cycle (``last_cycles``); units with no
    such cycle left are not changed. Model, commissioning and cycle hours never change.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within [0, 1], not {fraction}")
    rng = np.random.default_rng(seed)
    registry = sort_registry(registry)
    in_scope = registry["dataset"].eq(dataset) if dataset is not None else registry["dataset"].notna()
    last_cycle = registry.merge(last_cycles, on=REGISTRY_KEY, how="left")["last_cycle"].to_numpy()
    cycle_seconds = registry["cycle_hours"].to_numpy() * 3600.0
    age_seconds = (registry["updated_at"] - registry["commissioned_at"]).dt.total_seconds().to_numpy()
    current_cycle = np.floor(age_seconds / cycle_seconds)
    eligible = in_scope.to_numpy() & (current_cycle + 1 <= last_cycle - 1)  # NaN: never

    candidates = np.flatnonzero(eligible)
    n_changes = min(round(fraction * int(in_scope.sum())), candidates.size)
    changed = np.sort(rng.choice(candidates, size=n_changes, replace=False))
    is_firmware = rng.random(n_changes) < 0.5
    step = rng.integers(UPDATE_STEP_CYCLES[0], UPDATE_STEP_CYCLES[1] + 1, n_changes)
    cycle_at = np.minimum(current_cycle[changed] + step, last_cycle[changed] - 1)
    seconds = np.floor((cycle_at + rng.random(n_changes)) * cycle_seconds[changed])
    minor = rng.random(n_changes) < MINOR_BUMP_SHARE
    site_shift = rng.integers(1, len(SITE_CODES), n_changes)

    updated = registry.copy()
    rows = updated.index[changed]
    commissioned = updated.loc[rows, "commissioned_at"].to_numpy()
    previous = updated.loc[rows, "updated_at"].to_numpy()
    new_updated_at = np.maximum(
        commissioned + seconds.astype(np.int64).astype("timedelta64[s]"),
        previous + np.timedelta64(1, "s"),
    )
    upgraded = rows[is_firmware]
    updated.loc[upgraded, "firmware_version"] = bump_firmware(
        updated.loc[upgraded, "firmware_version"], minor[is_firmware]
    )
    moved = rows[~is_firmware]
    site_index = pd.Index(SITE_CODES).get_indexer(updated.loc[moved, "site_code"])
    new_site = (site_index + site_shift[~is_firmware]) % len(SITE_CODES)
    updated.loc[moved, "site_code"] = np.asarray(SITE_CODES)[new_site]
    updated.loc[rows, "updated_at"] = new_updated_at
    return RegistryUpdate(
        registry=updated,
        firmware_upgrades=int(is_firmware.sum()),
        relocations=int((~is_firmware).sum()),
        units_in_scope=int(in_scope.sum()),
    )


# ----------------------------------------------------------------------------- CLI


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, not {value}")
    return value


def _dataset_name(text: str) -> str:
    if not DATASET_PATTERN.fullmatch(text):
        raise argparse.ArgumentTypeError(f"FD and three digits (like FD101), not {text!r}")
    return text


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be within [0, 1], not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ml.simulate",
        description="Simulate a C-MAPSS-style turbofan fleet and its equipment registry.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    default_landing = Paths.from_env().landing

    fleet = commands.add_parser("fleet", help="land train/test/RUL files and register the units")
    fleet.add_argument("--dataset", type=_dataset_name, default=FleetSpec.dataset)
    fleet.add_argument("--train-units", type=_positive_int, default=FleetSpec.train_units)
    fleet.add_argument("--test-units", type=_positive_int, default=FleetSpec.test_units)
    fleet.add_argument("--conditions", type=int, choices=(1, 6), default=FleetSpec.conditions)
    fleet.add_argument("--fault-modes", type=int, choices=(1, 2), default=FleetSpec.fault_modes)
    fleet.add_argument("--seed", type=_non_negative_int, default=FleetSpec.seed)
    fleet.add_argument("--landing", type=Path, default=default_landing)

    sample = commands.add_parser(
        "sample-fleet",
        help="land the default sample fleet (SAMPLE_FLEET) if the landing folder holds no files; else nothing",
    )
    sample.add_argument("--landing", type=Path, default=default_landing)
    sample.add_argument(
        "--dirty",
        action="store_true",
        help="also land a few realistic bad files (land_dirty_files), so the first build shows the quarantine",
    )

    update = commands.add_parser(
        "registry-update", help="upgrade firmware / relocate some units in the registry extract"
    )
    update.add_argument("--fraction", type=_fraction, default=0.2)
    update.add_argument("--seed", type=_non_negative_int, default=7)
    update.add_argument("--dataset", type=_dataset_name, default=None, help="default: all")
    update.add_argument("--landing", type=Path, default=default_landing)
    return parser


class NotSimulatedError(Exception):
    """The dataset's files in the landing folder were not landed by the simulator (NASA's real files, say)."""


def land_fleet(spec: FleetSpec, landing: Path) -> str:
    """Simulate, write the three files and register the units; returns a one-line report.

    A dataset the simulator landed before is landed again (its files replaced, its registry rows too). Files of
    the dataset with no registry row of it were not the simulator's (NASA's real ``train_FD001.txt`` landed as the
    README says, another system's delivery): they are never written over (`NotSimulatedError`)."""
    registry_file = registry_path(landing)
    landed = [
        path
        for path in (
            *(cmapss_file(landing, split, spec.dataset) for split in ("train", "test")),
            landing / f"RUL_{spec.dataset}.txt",
        )
        if path.exists()
    ]
    if landed and not (read_registry(registry_file)["dataset"] == spec.dataset).any():
        raise NotSimulatedError(
            f"{', '.join(path.name for path in landed)} already in {landing}, not landed by the simulator (the "
            f"registry extract lists no unit of {spec.dataset}): not replacing them; choose another --dataset"
        )
    fleet = simulate_fleet(spec)
    files = write_fleet(fleet, landing)
    fresh = build_registry(spec.dataset, spec.train_units, spec.test_units, load_model_codes(), spec.seed)
    write_registry(merge_registry(read_registry(registry_file), fresh), registry_file)
    return (
        f"fleet {spec.dataset}: {files.train.name} ({len(fleet.train):,} rows, {spec.train_units} units), "
        f"{files.test.name} ({len(fleet.test):,} rows, {spec.test_units} units), {files.rul.name}, "
        f"{len(fresh)} units registered in {registry_file.relative_to(landing)}; in {landing}"
    )


def _run_fleet(args: argparse.Namespace) -> int:
    spec = FleetSpec(
        dataset=args.dataset,
        train_units=args.train_units,
        test_units=args.test_units,
        conditions=args.conditions,
        fault_modes=args.fault_modes,
        seed=args.seed,
    )
    try:
        print(land_fleet(spec, args.landing))
    except NotSimulatedError as error:
        print(f"fleet: {error}", file=sys.stderr)
        return 1
    return 0


def landed_files(landing: Path) -> list[Path]:
    """The files at the top of the landing folder (where C-MAPSS files go; the registry is below). A hidden file
    (a `.gitkeep` keeping the folder in git, Finder's `.DS_Store`) is no delivery: a folder holding only such files
    is empty, and `make run` lands the sample fleet there."""
    if not landing.is_dir():
        return []
    return sorted(p for p in landing.iterdir() if p.is_file() and not p.name.startswith("."))


def folders_with_files(landing: Path) -> list[Path]:
    """The landing folder's subfolders holding a file (the registry's and the erasure tombstone's own folders and
    hidden ones aside): the build reads only the files directly in the landing folder, and skips a folder with a
    warning."""
    if not landing.is_dir():
        return []
    return sorted(
        folder
        for folder in landing.iterdir()
        if folder.is_dir()
        and not folder.name.startswith(".")
        and folder.name not in (REGISTRY_SUBDIR, ERASURES_SUBDIR)
        and any(path.is_file() for path in folder.rglob("*"))
    )


def _run_sample_fleet(args: argparse.Namespace) -> int:
    existing = landed_files(args.landing)
    if existing:
        print(f"landing folder {args.landing} holds {len(existing)} files: not simulating")
        return 0
    folders = folders_with_files(args.landing)
    if folders:  # NASA's archive unzipped with its folder (landing/CMAPSSData/train_FD001.txt): not an empty folder
        print(
            f"sample-fleet: the landing folder {args.landing} holds no file, but its folder "
            f"{', '.join(folder.name + '/' for folder in folders)} does: the build reads only the files directly in "
            "the landing folder (a folder is skipped), so move them up into it. Not simulating a sample fleet beside "
            "them",
            file=sys.stderr,
        )
        return 1
    for spec in SAMPLE_FLEET:
        print(land_fleet(spec, args.landing))
    if args.dirty:
        dirty = land_dirty_files(args.landing, SAMPLE_FLEET[0].dataset)
        print(
            f"dirty files (sample-fleet --dirty; `make run DIRTY=0` lands none): {dirty.resent.name} "
            f"({dirty.resent_lines} lines, {len(DIRTY_LINE_RULES)} of them bad: {', '.join(DIRTY_LINE_RULES)}), "
            f"{dirty.readme.name} (not a C-MAPSS file), {dirty.empty.name} (empty). The build quarantines them "
            "and warns: bronze.stg_cmapss__quarantined_lines, gold.mart_data_quality"
        )
    return 0


def _run_registry_update(args: argparse.Namespace) -> int:
    registry_file = registry_path(args.landing)
    if not registry_file.exists():
        print(f"no registry at {registry_file}: run `fleet` first", file=sys.stderr)
        return 1
    registry = read_registry(registry_file)
    scope = registry if args.dataset is None else registry[registry["dataset"] == args.dataset]
    if scope.empty and args.dataset is not None:
        print(f"registry-update: {registry_file} lists no unit of {args.dataset}", file=sys.stderr)
        return 1
    keys = scope[["dataset", "split"]].drop_duplicates().itertuples(index=False, name=None)
    try:
        last_cycles = read_last_cycles(args.landing, keys)
    except FileNotFoundError as missing:
        print(f"registry-update: {missing}", file=sys.stderr)
        return 1
    result = update_registry(registry, last_cycles, args.fraction, args.seed, args.dataset)
    write_registry(result.registry, registry_file)
    print(
        f"registry-update: {result.firmware_upgrades + result.relocations} of "
        f"{result.units_in_scope} units changed ({result.firmware_upgrades} firmware upgrades, "
        f"{result.relocations} relocations) in {registry_file}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run = {"fleet": _run_fleet, "sample-fleet": _run_sample_fleet}.get(args.command, _run_registry_update)
    try:
        return run(args)
    except MemoryError:  # --train-units 1000000000: the fleet is simulated in memory before a file is written
        units = f"{args.train_units:,} train and {args.test_units:,} test units" if args.command == "fleet" else "it"
        print(f"{args.command}: not enough memory to simulate {units}; nothing was landed", file=sys.stderr)
        return 1
    except OSError as error:  # the landing folder is a file, read-only, on a full disk...
        where = f"{error.filename}: " if error.filename else ""
        print(
            f"{args.command}: the landing folder {args.landing} can't be used ({where}{error.strerror})",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
