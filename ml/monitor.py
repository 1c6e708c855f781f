"""Drift and staleness of the champion: PSI per feature between the units in service now and when it was trained.

    python -m ml.monitor [--psi-threshold 0.2] [--max-age-versions 10] [--max-age-days 30] [--retrain-if-stale [--fast]]

* Reference: the units in service (split 'test') at their latest cycle in the Delta version of
  fct_unit_cycle_features the champion classifier was trained on (its `delta_version` tag). Current: the same
  population at the latest version. Both read with `delta_scan` at a pinned version.
* PSI per feature (`psi`): ten bins at the reference's deciles, proportions floored at 1e-4,
  sum((current - reference) x ln(current / reference)). 0 = same distribution; above 0.2 is usually read as
  a shift worth acting on. Features: the champion's inputs present in both versions. A feature with no value
  then or now has no PSI: null in the file, left out of the largest PSI.
* Noise (`noise_psi`): per feature, the PSI random splits of the same units reach (5 % family-wise over the
  features). A fleet in service is a small sample, so noise alone passes 0.2 on many features; a feature
  has drifted only when its PSI passes both the threshold and its noise level.
* Staleness: the champion's age in Delta versions with new data since the one it was trained on (an erasure's
  deletes, compactions and vacuums don't count: `versions_with_new_data`) and in days (since it was registered).
* Output: ONE new Parquet file per run, `<predictions>/model_monitoring/monitoring_<UTC timestamp>.parquet`,
  one row per feature (MONITORING_SCHEMA), which dbt reads into `gold.mart_model_monitoring` (its warn test
  fires above the dbt var `psi_warn` and the noise level). When the newest file was computed for the same
  champion, reference and current versions, nothing is written (the figures would be the same) and the
  command says so; it reads the figures back from that file rather than computing them again (the noise
  level costs seconds on a fleet of thousands: `benchmarks/monitor_noise.py`).
* `--retrain-if-stale` (`make retrain-if-stale`): when a feature has drifted (its PSI above `--psi-threshold`
  and its noise level) or the age passes `--max-age-versions` / `--max-age-days`, runs `python -m ml.train`
  (the same champion gate: a retrained candidate takes the alias only if it is better); otherwise says the
  champion is fresh.
No store, no champion, or no published table: one line, exit 2. No unit in service then or now (a train-only
fleet): nothing compared, no file written. The version the champion was trained on vacuumed (`make erase
PURGE=1`): the champion is stale, with no drift measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse import lake
from ml.config import Paths, env_number, path_problem
from ml.data import FEATURE_TABLE, feature_columns, latest_cycles, resolve_version

MONITORING_SUBDIR = "model_monitoring"
MONITORING_SCHEMA = pa.schema(
    [
        ("computed_at", pa.timestamp("us")),
        ("feature", pa.string()),
        ("psi", pa.float64()),
        ("noise_psi", pa.float64()),
        ("reference_delta_version", pa.int64()),
        ("current_delta_version", pa.int64()),
        ("reference_units", pa.int64()),
        ("current_units", pa.int64()),
        ("classifier_version", pa.string()),
        ("champion_age_versions", pa.int64()),
        ("champion_age_days", pa.float64()),
    ]
)
PROVENANCE = ("classifier_version", "reference_delta_version", "current_delta_version")
FLOOR = 1e-4
# drift is called only above the PSI random splits of the same rows reach, family-wise, this often (`noise_psi`)
NOISE_LEVEL = 0.95
NOISE_PERMUTATIONS = 200
# Delta operations that bring no new reading: they don't age the champion (`versions_with_new_data`)
NO_NEW_DATA = frozenset({"DELETE", "OPTIMIZE", "VACUUM START", "VACUUM END"})


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index of `current` against `reference` (NaN ignored; NaN if either is empty).

    Bin edges are the reference's inner quantiles (duplicates dropped, so a constant feature gets two bins:
    below its value, and at or above it); proportions are floored at 1e-4 so an empty bin stays finite.
    """
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    if not ref.size or not cur.size:
        return float("nan")
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    counts_ref = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=edges.size + 1)
    counts_cur = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=edges.size + 1)
    p = np.maximum(counts_ref / ref.size, FLOOR)
    q = np.maximum(counts_cur / cur.size, FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


def noise_psi(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: Sequence[str],
    permutations: int = NOISE_PERMUTATIONS,
    level: float = NOISE_LEVEL,
    seed: int = 0,
) -> pd.Series:
    """Per feature, the PSI sampling noise alone reaches: a drift called above it is a false alarm on at most
    1 - `level` of the runs, whichever feature it is on (a family-wise rate over all `features`).

    The rows of both samples are pooled and split at random, `permutations` times, into samples of the two
    sizes (rows whole, so the features' correlations stay); each split's PSI per feature (`psi`, vectorised
    over the splits) is standardised by that feature's mean and SD over the splits, so a feature with few
    distinct values (wide PSI noise) and a smooth one are judged alike. The `level` quantile of each split's
    largest standardised PSI, turned back into each feature's scale, is its noise level. NaN for a feature
    with no value in a sample; no feature or an empty sample: an empty Series. Deterministic for a seed.

    A fleet in service is a small sample: with ~100 units, ten bins and ~150 features, the largest PSI of two
    samples of ONE distribution is near 0.85, far above the usual 0.2, so a fixed threshold alone calls noise
    drift.
    """
    if not len(features) or reference.empty or current.empty:
        return pd.Series(dtype=float)
    names = list(features)
    pooled = np.vstack([reference[names].to_numpy(dtype=float), current[names].to_numpy(dtype=float)])
    n = len(reference)
    rng = np.random.default_rng(seed)
    splits = np.argsort(rng.random((permutations, len(pooled))), axis=1)
    quantiles = np.linspace(0, 1, 11)[1:-1]
    null = np.full((permutations, len(names)), np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a split whose sample is all NaN: no PSI
        for index, column in enumerate(pooled.T):
            drawn = column[splits]  # (permutations, rows)
            ref, cur = drawn[:, :n], drawn[:, n:]
            edges = np.nanquantile(ref, quantiles, axis=1).T  # (permutations, 9); equal edges: empty bins, PSI 0
            null[:, index] = psi_by_split(ref, cur, edges)
        mean, sd = np.nanmean(null, axis=0), np.nanstd(null, axis=0)
        standard = np.where(sd > 0, (null - mean) / np.where(sd > 0, sd, 1), np.nan)
        largest = np.nanmax(standard, axis=1)
    largest = largest[np.isfinite(largest)]
    bound = float(np.quantile(largest, level)) if largest.size else 0.0
    return pd.Series(np.where(sd > 0, mean + bound * sd, mean), index=names)


def psi_by_split(ref: np.ndarray, cur: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """`psi` of each row of `cur` against the same row of `ref`, binned at that row's `edges` (NaN ignored)."""

    def proportions(sample: np.ndarray) -> np.ndarray:
        valid = ~np.isnan(sample)
        bins = (sample[:, :, None] >= edges[:, None, :]).sum(axis=2)  # searchsorted(side="right"), per row
        counts = np.stack([((bins == b) & valid).sum(axis=1) for b in range(edges.shape[1] + 1)], axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return counts / valid.sum(axis=1, keepdims=True)

    p, q = np.maximum(proportions(ref), FLOOR), np.maximum(proportions(cur), FLOOR)  # NaN rows stay NaN
    return np.sum((q - p) * np.log(q / p), axis=1)


def feature_drift(
    reference: pd.DataFrame, current: pd.DataFrame, features: Sequence[str], noise: pd.Series | None = None
) -> pd.DataFrame:
    """One row per feature: its PSI and the PSI noise alone reaches (`noise`, from `noise_psi`; NaN without it),
    largest PSI first (ties by name)."""
    rows = [(name, psi(reference[name].to_numpy(), current[name].to_numpy())) for name in features]
    frame = pd.DataFrame(rows, columns=["feature", "psi"])
    frame["noise_psi"] = frame["feature"].map(noise) if noise is not None else np.nan
    return frame.sort_values(["psi", "feature"], ascending=[False, True], na_position="last").reset_index(drop=True)


@dataclass(frozen=True)
class MonitorRun:
    drift: pd.DataFrame  # feature, psi
    reference_version: int
    current_version: int
    classifier_version: str
    age_versions: int
    age_days: float
    path: Path | None
    written: bool
    reference_vacuumed: str | None = None  # why the trained-on version can't be read: no drift measured
    reference_units: int = 0  # units in service (split test) then and now
    current_units: int = 0

    @property
    def max_psi(self) -> float:
        values = self.drift["psi"].dropna()
        return float(values.max()) if len(values) else 0.0

    def drifted(self, psi_threshold: float) -> pd.DataFrame:
        """The features whose PSI passes `psi_threshold` and what noise alone reaches, largest PSI first."""
        psi_, noise = self.drift["psi"], self.drift["noise_psi"].fillna(0.0)
        return self.drift[(psi_ > psi_threshold) & (psi_ > noise)]


class NoChampionError(LookupError):
    """No MLflow store or no champion classifier: train first."""


def champion_training(mlflow_dir: Path) -> tuple[str, int, str, float]:
    """(classifier version, Delta version and path it was trained on, age in days) of the champion classifier."""
    from ml.candidates import CLASSIFIER_NAME  # imported here: the registry imports MLflow (slow)
    from ml.registry import champion_version, configure_mlflow, store_file

    if not store_file(mlflow_dir).exists():
        raise NoChampionError(f"no MLflow store at {store_file(mlflow_dir)}: run `make train` first")
    configure_mlflow(mlflow_dir)
    version = champion_version(CLASSIFIER_NAME)
    if version is None:
        raise NoChampionError(f"no champion {CLASSIFIER_NAME} in {store_file(mlflow_dir)}: run `make train` first")
    age_days = (datetime.now(UTC).timestamp() * 1000 - version.creation_timestamp) / 86_400_000
    return str(version.version), int(version.tags["delta_version"]), version.tags["delta_path"], age_days


def newest_provenance(folder: Path) -> tuple[Path | None, tuple | None]:
    """The newest readable monitoring file and its (classifier, reference, current) versions."""
    for path in sorted(folder.glob("monitoring_*.parquet"), reverse=True) if folder.is_dir() else []:
        try:
            first = pq.read_table(path, columns=list(PROVENANCE)).slice(0, 1).to_pylist()
        except (OSError, pa.ArrowException):
            print(f"warning: monitoring file {path} is unreadable; passed over", file=sys.stderr)
            continue
        if first:
            row = first[0]
            return path, (
                str(row["classifier_version"]),
                int(row["reference_delta_version"]),
                int(row["current_delta_version"]),
            )
    return None, None


def stored_drift(path: Path) -> tuple[pd.DataFrame, int, int] | None:
    """The drift a monitoring file holds, ordered as `feature_drift` orders it, and the units in service it
    compared (then, now); None when it can't be read or predates the noise level (`noise_psi`), so the caller
    computes it afresh."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException):
        return None
    if "noise_psi" not in table.column_names or not table.num_rows:
        return None
    frame = table.select(["feature", "psi", "noise_psi"]).to_pandas()
    drift = frame.sort_values(["psi", "feature"], ascending=[False, True], na_position="last").reset_index(drop=True)
    return drift, int(table["reference_units"][0].as_py()), int(table["current_units"][0].as_py())


def versions_with_new_data(table_path: Path, reference_version: int, current_version: int) -> int:
    """The versions after `reference_version`, up to `current_version`, that brought data: every commit but an
    erasure's DELETE, a compaction's OPTIMIZE and a vacuum's two commits, which bring no reading the champion
    has not seen (one `make erase` of 20 units alone made 20 versions, and a retrain)."""
    if current_version <= reference_version:
        return 0
    commits = lake.open_table(table_path).history(limit=current_version - reference_version)
    return sum(
        1
        for commit in commits
        if reference_version < int(commit["version"]) <= current_version and commit.get("operation") not in NO_NEW_DATA
    )


def monitor(table_path: Path, mlflow_dir: Path, predictions_dir: Path) -> MonitorRun:
    """Compute drift and staleness for the champion and write them as one new Parquet file (unless unchanged)."""
    classifier, reference_version, trained_path, age_days = champion_training(mlflow_dir)
    if Path(trained_path).resolve() != Path(table_path).resolve():
        raise lake.LakeError(f"the champion was trained on {trained_path}, not on {table_path}: retrain it here")
    current_version = resolve_version(table_path)
    age_versions = versions_with_new_data(table_path, reference_version, current_version)
    folder = Path(predictions_dir) / MONITORING_SUBDIR
    newest, provenance = newest_provenance(folder)

    def run_of(drift: pd.DataFrame, **measured: Any) -> MonitorRun:  # this champion and these versions
        return MonitorRun(
            drift, reference_version, current_version, classifier, age_versions, age_days, newest, False, **measured
        )

    try:
        resolve_version(table_path, reference_version)  # never published there: says so, naming the table
    except lake.VersionVacuumedError as vacuumed:  # an erase with PURGE=1, or optimize: stale, nothing measured
        return run_of(feature_drift(pd.DataFrame(), pd.DataFrame(), []), reference_vacuumed=str(vacuumed))
    if provenance == (classifier, reference_version, current_version):  # computed already: the same figures
        stored = stored_drift(newest)
        if stored is not None:
            drift, reference_units, current_units = stored
            return run_of(drift, reference_units=reference_units, current_units=current_units)
    reference = latest_cycles(table_path, reference_version, split="test")  # the units in service
    current = latest_cycles(table_path, current_version, split="test")
    # no unit in service then or now (a train-only fleet): nothing to compare, not a PSI of 0 on every feature
    features = [] if reference.empty or current.empty else feature_columns(current.columns)
    compared = [name for name in features if name in set(reference.columns)]
    drift = feature_drift(reference, current, compared, noise_psi(reference, current, compared))
    run = run_of(drift, reference_units=len(reference), current_units=len(current))
    if provenance == (classifier, reference_version, current_version) or drift.empty:
        return run
    computed_at = datetime.now(UTC)
    n = len(drift)
    table = pa.table(
        {
            "computed_at": pa.array([computed_at.replace(tzinfo=None)] * n, pa.timestamp("us")),
            "feature": pa.array(drift["feature"].tolist(), pa.string()),
            # a PSI not measured (no value of the feature then or now) is null, not NaN: SQL reads NaN as greater
            # than any number, so gold would flag it above `psi_warn` as the largest drift of all
            "psi": pa.array(drift["psi"].to_numpy(dtype=float), pa.float64(), from_pandas=True),
            "noise_psi": pa.array(drift["noise_psi"].to_numpy(dtype=float), pa.float64(), from_pandas=True),
            "reference_delta_version": pa.array([reference_version] * n, pa.int64()),
            "current_delta_version": pa.array([current_version] * n, pa.int64()),
            "reference_units": pa.array([len(reference)] * n, pa.int64()),
            "current_units": pa.array([len(current)] * n, pa.int64()),
            "classifier_version": pa.array([classifier] * n, pa.string()),
            "champion_age_versions": pa.array([age_versions] * n, pa.int64()),
            "champion_age_days": pa.array([age_days] * n, pa.float64()),
        },
        schema=MONITORING_SCHEMA,
    )
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"monitoring_{computed_at:%Y%m%dT%H%M%S%fZ}.parquet"
    partial = folder / f".{target.name}.partial"
    pq.write_table(table, partial)
    partial.rename(target)  # atomic: dbt never reads half a file
    return dataclasses.replace(run, path=target, written=True)


def age_text(days: float) -> str:
    """An age for people: in days from one day up, in hours below (so a fresh champion is not "0.0 days")."""
    return f"{days:.1f} days" if days >= 1 else f"{days * 24:.1f} hours"


def staleness(run: MonitorRun, psi_threshold: float, max_age_versions: int, max_age_days: float) -> list[str]:
    """The reasons the champion is stale (empty: fresh)."""
    reasons = []
    if run.reference_vacuumed is not None:
        reasons.append(f"the version it was trained on, v{run.reference_version}, was vacuumed: no drift measured")
    drifted = run.drifted(psi_threshold)
    if len(drifted):
        worst = drifted.iloc[0]
        more = f" (and {len(drifted) - 1} more)" if len(drifted) > 1 else ""
        reasons.append(
            f"feature {worst['feature']} drifted: PSI {worst['psi']:.3f} > {psi_threshold}, and above "
            f"{worst['noise_psi']:.3f}, what noise alone reaches for it in these samples{more}"
        )
    if run.age_versions > max_age_versions:
        reasons.append(
            f"champion trained on v{run.reference_version}, {run.age_versions} versions with new data since "
            f"> {max_age_versions}"
        )
    if run.age_days > max_age_days:
        reasons.append(f"champion registered {age_text(run.age_days)} ago, more than {max_age_days:g} days")
    return reasons


def main(argv: Sequence[str] | None = None) -> int:
    paths = Paths.from_env()
    parser = argparse.ArgumentParser(prog="python -m ml.monitor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--lake", type=Path, default=paths.lake)
    parser.add_argument("--mlflow-dir", type=Path, default=paths.mlflow)
    parser.add_argument("--predictions-dir", type=Path, default=paths.predictions)
    parser.add_argument("--psi-threshold", type=float, default=env_number("PDM_PSI_THRESHOLD", 0.2))
    parser.add_argument("--max-age-versions", type=int, default=env_number("PDM_MAX_AGE_VERSIONS", 10, int))
    parser.add_argument("--max-age-days", type=float, default=env_number("PDM_MAX_AGE_DAYS", 30.0))
    parser.add_argument("--retrain-if-stale", action="store_true", help="run ml.train when the champion is stale")
    parser.add_argument("--fast", action="store_true", help="with --retrain-if-stale: train with ml.train's tiny grids")
    args = parser.parse_args(argv)
    for option, value in (
        ("--psi-threshold", args.psi_threshold),
        ("--max-age-versions", args.max_age_versions),
        ("--max-age-days", args.max_age_days),
    ):
        if not math.isfinite(value) or value < 0:
            print(f"monitor: {option} must be a number of 0 or more, not {value}", file=sys.stderr)
            return 2
    table = lake.mart_path(args.lake, FEATURE_TABLE)
    try:
        run = monitor(table, args.mlflow_dir, args.predictions_dir)
    except (NoChampionError, lake.LakeError) as error:
        print(f"monitor: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # the predictions folder a file, or not writable: one line, not a traceback
        print(f"monitor: {path_problem(error)}", file=sys.stderr)
        return 2
    if run.written:
        written = f"-> {run.path}"
    elif run.reference_vacuumed is not None:
        written = f"(no file written: {run.reference_vacuumed})"
    elif run.drift.empty and run.current_units and not run.reference_units:
        # test units landed after a train-only training (the README's real-FD001 recipe, then test_FD001.txt)
        written = (
            f"(no unit was in service at v{run.reference_version}, where the champion was trained, to compare "
            f"the {run.current_units} in service now with: no file written)"
        )
    elif run.drift.empty and run.reference_units and not run.current_units:
        written = f"(no unit in service at v{run.current_version} to compare: no file written)"
    elif run.drift.empty:
        written = "(no unit in service to compare: no file written)"
    else:
        written = f"unchanged since {run.path}: no new file written"
    print(
        f"champion classifier v{run.classifier_version}: trained on {FEATURE_TABLE} v{run.reference_version}, "
        f"latest v{run.current_version} ({run.age_versions} versions with new data, {age_text(run.age_days)}); "
        f"max PSI {run.max_psi:.3f} over {len(run.drift)} features {written}"
    )
    for row in run.drift.head(5).itertuples(index=False):
        print(f"  {row.feature:<40}{row.psi:>8.3f}   noise alone up to {row.noise_psi:.3f}")
    within = run.drift[run.drift["psi"] > args.psi_threshold]
    if len(within) and not len(run.drifted(args.psi_threshold)):
        print(
            f"{len(within)} features above PSI {args.psi_threshold}, none beyond what random splits of the same "
            f"units reach (noise): no drift"
        )
    reasons = staleness(run, args.psi_threshold, args.max_age_versions, args.max_age_days)
    if not args.retrain_if_stale:
        print("stale: " + "; ".join(reasons) if reasons else "fresh")
        return 0
    if not reasons:
        print("champion fresh: no retraining")
        return 0
    print("champion stale (" + "; ".join(reasons) + "): retraining through the champion gate")
    from ml import train  # imported here: training pulls in scikit-learn and MLflow

    return train.main(
        ["--lake", str(args.lake), "--mlflow-dir", str(args.mlflow_dir), *(["--fast"] if args.fast else [])]
    )


if __name__ == "__main__":
    sys.exit(main())
