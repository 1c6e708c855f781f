"""The bronze -> gold transforms of the dbt project in pandas: landing files to the feature table.

    python -m benchmarks.bare_pandas --landing PATH --output PATH.parquet

The same work as benchmarks/bare_duckdb.sql (and the dbt models it mirrors), single-threaded
in pandas/numpy, one dataset at a time (units, baselines and truth never cross datasets, so
memory follows the largest dataset), as a second baseline for benchmarks/scale.py: each landed
file is read as raw lines with their numbers, every line checked against the quarantine rules
and typed once, then the readings deduplicated per unit and cycle (newest file name, then last
line, wins), joined to the registry extract as of their time, normalised against per-regime
baselines fitted on the train split, summarised in rolling windows over cycles, and labelled
(registry_version_id as in bare_duckdb.sql: md5 of unit_id | updated_at). The feature table is
written as Parquet; one line with the row counts is printed.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from ml.config import REGISTRY_FILE_NAME, REGISTRY_SUBDIR, REPO_ROOT

SETTINGS = ("op_setting_1", "op_setting_2", "op_setting_3")
SENSORS = (
    "t2_fan_inlet_temp",
    "t24_lpc_outlet_temp",
    "t30_hpc_outlet_temp",
    "t50_lpt_outlet_temp",
    "p2_fan_inlet_pressure",
    "p15_bypass_duct_pressure",
    "p30_hpc_outlet_pressure",
    "nf_fan_speed",
    "nc_core_speed",
    "epr_engine_pressure_ratio",
    "ps30_hpc_static_pressure",
    "phi_fuel_flow_ratio",
    "nrf_corrected_fan_speed",
    "nrc_corrected_core_speed",
    "bpr_bypass_ratio",
    "farb_burner_fuel_air_ratio",
    "htbleed_bleed_enthalpy",
    "nf_dmd_demanded_fan_speed",
    "pcnfr_dmd_demanded_corrected_fan_speed",
    "w31_hpt_coolant_bleed",
    "w32_lpt_coolant_bleed",
)
VALUE_COLUMNS = (*SETTINGS, *SENSORS)
EXPECTED_COLUMNS = 2 + len(VALUE_COLUMNS)
MAX_ABS_VALUE = 1_000_000  # dbt_project.yml var max_abs_value: a larger value is quarantined (value_out_of_range)
FILE_NAME = re.compile(r"^(train|test|RUL)_(FD[0-9]{3})([_ -][^/\\]*)?\.txt$")
NAN_WORDS = {"nan", "+nan", "-nan"}


def project_vars() -> dict:
    """The dbt vars the transforms depend on (dbt_project.yml), so both stay in step."""
    return yaml.safe_load((REPO_ROOT / "dbt_project.yml").read_text())["vars"]


# ------------------------------------------------------------------------------------- bronze


def split_lines(text: str) -> list[str]:
    """A file's lines: the text after a final newline is not a line; CR and a leading BOM dropped."""
    lines = (text[:-1] if text.endswith("\n") else text).split("\n")
    lines = [line.rstrip("\r") for line in lines]
    lines[0] = lines[0].rstrip("\r").lstrip("\ufeff")
    return lines


def parse_numbers(lines: pd.Series, width: int) -> tuple[pd.DataFrame, pd.Series]:
    """Every line's tokens as doubles (NaN where absent or not a number), and each line's first
    non-numeric position (0 when every token is a number, 'nan' and 'inf' included)."""
    # every line ended by a newline: the parser takes a last, unterminated empty line for the end of the text
    text = "".join(line + "\n" for line in lines.where(lines.str.strip() != "", ""))
    columns = list(range(width))
    frame = pd.read_csv(
        io.StringIO(text),
        sep=r"\s+",
        header=None,
        names=columns,
        skip_blank_lines=False,
        quoting=csv.QUOTE_NONE,
        dtype=str,
        na_filter=False,
        engine="c",
    )
    if len(frame) != len(lines):  # cannot happen with skip_blank_lines=False; checked, not assumed
        raise SystemExit(f"bare_pandas: {len(frame)} rows parsed from {len(lines)} lines")
    numbers = pd.DataFrame(index=frame.index, columns=columns, dtype="float64")
    first_bad = pd.Series(0, index=frame.index)
    for position in reversed(columns):  # so the smallest bad position is the one left
        tokens = frame[position]
        values = pd.to_numeric(tokens, errors="coerce")
        bad = tokens.ne("") & values.isna() & ~tokens.str.lower().isin(NAN_WORDS)
        numbers[position] = values
        first_bad = first_bad.mask(bad, position + 1)
    return numbers, first_bad


def sensor_lines(lines: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    """The typed readings of one sensor file and each line's rejection rule (None when good)."""
    column_count = lines.str.count(r"\S+")
    numbers, first_bad = parse_numbers(lines, max(int(column_count.max()), EXPECTED_COLUMNS))
    values = numbers.to_numpy()
    present = np.arange(values.shape[1]) < column_count.to_numpy()[:, None]
    non_finite = (present & ~np.isfinite(values)).any(axis=1)
    out_of_range = (present[:, 2:] & (np.abs(values[:, 2:]) > MAX_ABS_VALUE)).any(axis=1)
    unit, cycle = numbers[0], numbers[1]
    # of the lines holding values, as bronze: blank lines do not outvote a file's readings
    holding = column_count[column_count.gt(0)]
    file_column_count = holding.mode().iloc[0] if len(holding) else 0
    rule = np.select(
        [
            column_count.eq(0),
            column_count.lt(EXPECTED_COLUMNS),
            column_count.ne(file_column_count),
            first_bad.gt(0),
            non_finite,
            out_of_range,
            unit.ne(np.floor(unit)) | unit.le(0),
            cycle.ne(np.floor(cycle)) | cycle.le(0),
        ],
        [
            "blank_line",
            "too_few_columns",
            "column_count_differs_from_file",
            "non_numeric_value",
            "non_finite_value",
            "value_out_of_range",
            "unit_not_positive_integer",
            "cycle_not_positive_integer",
        ],
        default="",
    )
    return numbers.iloc[:, :EXPECTED_COLUMNS], pd.Series(rule, index=lines.index).replace("", None)


def rul_lines(lines: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The remaining life on each line of a RUL file and each line's rejection rule."""
    column_count = lines.str.count(r"\S+")
    stripped = lines.str.strip()
    value = pd.to_numeric(stripped, errors="coerce")
    non_numeric = value.isna() & ~stripped.str.lower().isin(NAN_WORDS)
    rule = np.select(
        [
            column_count.eq(0),
            column_count.ne(1),
            non_numeric,
            ~np.isfinite(value) | value.ne(np.floor(value)) | value.lt(0),
        ],
        ["blank_line", "rul_not_one_value", "non_numeric_value", "rul_not_non_negative_integer"],
        default="",
    )
    return value, pd.Series(rule, index=lines.index).replace("", None)


def decoded(content: bytes) -> str | None:
    """The file's text; None when it is empty or not UTF-8."""
    try:
        return content.decode("utf-8") or None
    except UnicodeDecodeError:
        return None


def content_copies(paths: list[Path]) -> set[Path]:
    """Readable files whose content an earlier file (in path order) already has: read once."""
    first_of_content: dict[str, Path] = {}
    copies = set()
    for path in sorted(paths):
        content = path.read_bytes()
        if decoded(content) is not None and first_of_content.setdefault(hashlib.md5(content).hexdigest(), path) != path:
            copies.add(path)
    return copies


def concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def read_files(paths: list[Path], copies: set[Path]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The good readings, the good RUL truth lines and the quarantined lines of these files."""
    readings, truths, quarantined = [], [], []
    for path in sorted(paths):
        if path in copies:
            continue
        text = decoded(path.read_bytes())
        if text is None:
            quarantined.append(pd.DataFrame({"source_file": [str(path)], "line_number": [0]}))
            continue
        match = FILE_NAME.match(path.name)
        lines = pd.Series(split_lines(text), dtype=object)
        line_number = np.arange(1, len(lines) + 1)
        if match is None:
            quarantined.append(pd.DataFrame({"source_file": str(path), "line_number": line_number}))
            continue
        prefix, dataset = match.group(1), match.group(2)
        split = "train" if prefix == "train" else "test"
        if prefix == "RUL":
            value, rule = rul_lines(lines)
            good = rule.isna().to_numpy()
            truths.append(
                pd.DataFrame(
                    {
                        "dataset": dataset,
                        "unit_number": line_number[good],
                        "rul_cycles": value[good].astype("int64").to_numpy(),
                        "source_file": str(path),
                    }
                )
            )
        else:
            numbers, rule = sensor_lines(lines)
            good = rule.isna().to_numpy()
            frame = numbers[good].set_axis(["unit_number", "cycle", *VALUE_COLUMNS], axis=1)
            frame = frame.astype({"unit_number": "int64", "cycle": "int64"})
            readings.append(
                frame.assign(dataset=dataset, split=split, source_file=str(path), line_number=line_number[good])
            )
        quarantined.append(pd.DataFrame({"source_file": str(path), "line_number": line_number[~good]}))
    return (
        concat(readings, ["unit_number", "cycle", *VALUE_COLUMNS, "dataset", "split", "source_file", "line_number"]),
        concat(truths, ["dataset", "unit_number", "rul_cycles", "source_file"]),
        concat(quarantined, ["source_file", "line_number"]),
    )


# ------------------------------------------------------------------------------------- silver


def unit_ids(frame: pd.DataFrame) -> pd.Series:
    return frame["dataset"] + "-" + frame["split"] + "-" + frame["unit_number"].astype(str).str.zfill(3)


def round_half_away(values: pd.Series, decimals: int) -> pd.Series:
    """SQL round(): halves away from zero (numpy rounds them to even)."""
    scale = 10.0**decimals
    return np.sign(values) * np.floor(np.abs(values) * scale + 0.5) / scale


def read_registry(path: Path) -> pd.DataFrame:
    """The registry extract as the only version of each unit, with its version id and validity."""
    registry = pd.read_csv(path, dtype={"dataset": str, "split": str}, parse_dates=["commissioned_at", "updated_at"])
    registry["unit_id"] = unit_ids(registry)
    updated = registry["updated_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    registry["registry_version_id"] = [
        hashlib.md5(f"{unit}|{stamp}".encode()).hexdigest()
        for unit, stamp in zip(registry["unit_id"], updated, strict=True)
    ]
    registry["valid_from"] = registry[["updated_at", "commissioned_at"]].min(axis=1)
    return registry[
        ["unit_id", "registry_version_id", "equipment_model_code", "commissioned_at", "cycle_hours", "valid_from"]
    ]


def deduplicated(readings: pd.DataFrame) -> pd.DataFrame:
    key = ["dataset", "split", "unit_number", "cycle"]
    ordered = readings.sort_values([*key, "source_file", "line_number"], kind="stable")
    latest = ordered.drop_duplicates(key, keep="last").reset_index(drop=True)
    latest.insert(0, "unit_id", unit_ids(latest))
    return latest


def registry_joined(readings: pd.DataFrame, registry: pd.DataFrame) -> pd.DataFrame:
    joined = readings.merge(registry, on="unit_id", how="left")
    micros = np.floor(joined["cycle"] * joined["cycle_hours"] * 3_600_000_000 + 0.5)
    joined["reading_at"] = joined["commissioned_at"] + pd.to_timedelta(micros, unit="us")
    valid = joined["reading_at"] >= joined["valid_from"]
    for column in ("registry_version_id", "equipment_model_code"):
        joined[column] = joined[column].where(valid)
    return joined.drop(columns=["commissioned_at", "cycle_hours", "valid_from"])


def normalised(readings: pd.DataFrame, decimals: list[int], degradation: dict[str, int]) -> pd.DataFrame:
    """Regime baselines (train split; all rows of a dataset without one), z-scores, degradation index."""
    regime = [f"regime_{s}" for s in SETTINGS]
    for setting, column, d in zip(SETTINGS, regime, decimals, strict=True):
        readings[column] = round_half_away(readings[setting], d)
    has_train = readings.groupby("dataset")["split"].transform(lambda s: (s == "train").any())
    fitting = readings[readings["split"].eq("train") | ~has_train]
    grouped = fitting.groupby(["dataset", *regime])[list(SENSORS)]
    baselines = grouped.mean().add_suffix("_mean").join(grouped.std(ddof=1).add_suffix("_std")).reset_index()
    baselines["operating_regime"] = baselines.groupby("dataset").cumcount() + 1  # sorted keys: a dense rank
    joined = readings.merge(baselines, on=["dataset", *regime], how="left")
    known = joined["operating_regime"].notna()
    index = 0.0
    for sensor, direction in degradation.items():
        std = joined[f"{sensor}_std"]
        z = (joined[sensor] - joined[f"{sensor}_mean"]) / std
        joined[f"{sensor}_z"] = z.where(std > 0, np.where(known, 0.0, np.nan))
        index = index + direction * joined[f"{sensor}_z"]
    joined["degradation_index"] = index / len(degradation)
    joined["operating_regime"] = joined["operating_regime"].astype("Int64")
    return joined


# --------------------------------------------------------------------------------------- gold


def rolling_features(
    readings: pd.DataFrame, degradation: dict[str, int], windows: dict[str, list[int]], baseline_cycles: int
) -> dict:
    """Each feature's rolling mean / std / slope over the unit's last N cycles (a range of cycles), and
    drift_mean: the rolling mean minus the unit's healthy level (its mean over its first
    `baseline_cycles` cycles, or up to this cycle before that).

    The frame is sorted by unit and cycle and indexed by a clock in which each unit's cycles are
    seconds and units sit further apart than any window, so one rolling pass never mixes units.
    """
    sources = {**{s: f"{s}_z" for s in degradation}, "degradation_index": "degradation_index"}
    gap = int(readings["cycle"].max()) + max(max(n) for n in windows.values()) + 1
    unit_code = readings.groupby("unit_id", sort=False).ngroup().to_numpy()
    clock = pd.to_datetime(unit_code.astype("int64") * gap + readings["cycle"].to_numpy(), unit="s")
    y = readings[list(sources.values())].set_axis(list(sources), axis=1).set_index(clock)
    x = pd.DataFrame({name: readings["cycle"].to_numpy(dtype="float64") for name in sources}, index=clock)
    x = x.where(y.notna())  # regr_slope uses the pairs where both are present
    cycle = readings["cycle"].to_numpy()
    first_cycle = readings.groupby("unit_id", sort=False)["cycle"].transform("min").to_numpy()
    healthy = y.where(pd.Series(cycle < first_cycle + baseline_cycles, index=clock), axis=0)
    units = pd.Series(unit_code, index=clock)
    healthy_level = healthy.fillna(0.0).groupby(units).cumsum() / healthy.notna().groupby(units).cumsum()
    features = {}
    for statistic in ("mean", "std", "slope", "drift_mean"):
        for n in windows.get(statistic, []):
            window = y.rolling(f"{n}s")
            if statistic == "drift_mean":
                result = window.mean() - healthy_level
            elif statistic == "mean":
                result = window.mean()
            elif statistic == "std":
                result = window.std(ddof=1)
            else:
                count = window.count()
                sx, sy = x.rolling(f"{n}s").sum(), window.sum()
                sxy, sxx = (x * y).rolling(f"{n}s").sum(), (x * x).rolling(f"{n}s").sum()
                result = ((sxy - sx * sy / count) / (sxx - sx * sx / count)).where(count >= 2)
            for name in sources:
                features[f"{name}_{statistic}_w{n}"] = result[name].to_numpy()
    return features


def feature_table(readings: pd.DataFrame, truths: pd.DataFrame, variables: dict) -> pd.DataFrame:
    degradation = variables["degradation_sensors"]
    windows = variables["feature_windows"]
    frame = readings.sort_values(["unit_id", "cycle"], kind="stable").reset_index(drop=True)
    rolling = rolling_features(frame, degradation, windows, variables["unit_baseline_cycles"])
    latest_truth = (
        truths.sort_values(["dataset", "unit_number", "source_file"])
        .drop_duplicates(["dataset", "unit_number"], keep="last")
        .drop(columns="source_file")
        .assign(split="test")
    )
    labelled = frame[["unit_id", "dataset", "split", "unit_number", "cycle"]].merge(
        latest_truth, on=["dataset", "split", "unit_number"], how="left"
    )
    last_cycle = frame.groupby("unit_id")["cycle"].transform("max")
    failure = np.where(frame["split"].eq("train"), last_cycle, last_cycle + labelled["rul_cycles"])
    rul = pd.array(failure - frame["cycle"].to_numpy(), dtype="Int64")
    cap, horizon = variables["rul_cap_cycles"], variables["failure_horizon_cycles"]
    columns = {
        "unit_id": frame["unit_id"],
        "dataset": frame["dataset"],
        "split": frame["split"],
        "unit_number": frame["unit_number"].astype("int32"),
        "cycle": frame["cycle"].astype("int32"),
        "reading_at": frame["reading_at"],
        "registry_version_id": frame["registry_version_id"].astype("string"),  # typed even when all null
        "equipment_model_code": frame["equipment_model_code"].astype("string"),
        "operating_regime": frame["operating_regime"],
        **{f"{s}_z": frame[f"{s}_z"] for s in degradation},
        "degradation_index": frame["degradation_index"],
    }
    ordered = [  # the dbt column order: feature, statistic, window
        f"{f}_{stat}_w{n}"
        for f in [*degradation, "degradation_index"]
        for stat in ("mean", "std", "slope", "drift_mean")
        for n in windows.get(stat, [])
    ]
    columns.update({name: rolling[name] for name in ordered})
    columns["is_last_observed_cycle"] = frame["cycle"].eq(last_cycle)
    rul = pd.Series(rul)
    columns["rul"] = rul
    columns["rul_capped"] = rul.mask(rul.gt(cap).fillna(False), cap)  # an unknown rul stays unknown
    columns["fails_within_30_cycles"] = rul.le(horizon)
    return pd.DataFrame(columns)


def run(landing: Path, output: Path) -> dict[str, int]:
    """Build the feature table from `landing` into the Parquet file `output`; returns row counts."""
    registry_file = landing / REGISTRY_SUBDIR / REGISTRY_FILE_NAME
    if not any(p.is_file() for p in landing.glob("*")):
        raise SystemExit(f"bare_pandas: no files in the landing folder {landing}")
    if not registry_file.is_file():
        raise SystemExit(f"bare_pandas: no registry extract at {registry_file} (the script needs one)")
    variables = project_vars()
    registry = read_registry(registry_file)
    paths = sorted(p for p in landing.iterdir() if p.is_file())
    copies = content_copies(paths)
    by_dataset: dict[str, list[Path]] = {}
    for path in paths:  # units, baselines and truth never cross datasets: one dataset at a time
        match = FILE_NAME.match(path.name)
        by_dataset.setdefault(match.group(2) if match else "", []).append(path)
    counts = dict.fromkeys(("quarantined_lines", "sensor_readings", "rul_truth", "fct_unit_cycle_features"), 0)
    output.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    try:
        for dataset in sorted(by_dataset):
            readings, truths, quarantined = read_files(by_dataset[dataset], copies)
            counts["quarantined_lines"] += len(quarantined)
            counts["sensor_readings"] += len(readings)
            counts["rul_truth"] += len(truths)
            if readings.empty:
                continue
            silver = registry_joined(deduplicated(readings), registry)
            silver = normalised(silver, variables["regime_setting_decimals"], variables["degradation_sensors"])
            features = feature_table(silver, truths, variables)
            counts["fct_unit_cycle_features"] += len(features)
            table = pa.Table.from_pandas(features, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(output, table.schema)
            writer.write_table(table.cast(writer.schema))
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise SystemExit(f"bare_pandas: no good sensor reading in the landing folder {landing}")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bare_pandas", description=__doc__.split("\n")[0])
    parser.add_argument("--landing", type=Path, required=True, help="the landing folder to read")
    parser.add_argument("--output", type=Path, required=True, help="the feature table's Parquet file (replaced)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    counts = run(args.landing.resolve(), args.output.resolve())
    print(
        f"bare pandas: {', '.join(f'{t} {n:,}' for t, n in counts.items())} "
        f"in {time.perf_counter() - started:.1f}s -> {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
