"""The gold feature table as training and scoring read it: one pinned Delta version, features chosen by name.

* `resolve_version`: the Delta version to read (given, or the latest), checked against the table's log; a table
  not published yet (no folder, or no committed or readable `_delta_log`) raises `lake.TableNotPublishedError`.
* `feature_columns`: `cycle`, every `*_z`, `degradation_index`, every `*_mean_w*`, `*_std_w*`, `*_slope_w*`
  column, chosen by name so new sensors flow in; never labels, ids or `is_last_observed_cycle`.
* `read_training_sample`: what one training reads, filters and columns pushed into DuckDB's `delta_scan`:
  WHOLE labelled train units sampled with the seed and stratified by dataset until the row budgets are filled
  (cycles are never thinned), and the evaluation rows (test units at their last observed cycle, known truth).
* `read_features` (every row, for inspection and small tables), `read_unit_rows` (a few units, for plots),
  `matrix` (the model input as float64).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from deltalake.exceptions import DeltaError

from lakehouse import lake
from ml.config import first_line
from ml.evaluation import last_cycle_per_unit

FEATURE_TABLE = "fct_unit_cycle_features"
CLASS_LABEL = "fails_within_30_cycles"
RUL_LABEL = "rul_capped"
ID_COLUMNS = ("unit_id", "dataset", "split", "unit_number")
NOT_FEATURES = frozenset(
    {
        *ID_COLUMNS,
        "reading_at",
        "registry_version_id",
        "equipment_model_code",
        "operating_regime",
        "is_last_observed_cycle",
        "rul",
        "rul_capped",
        "fails_within_30_cycles",
    }
)
FEATURE_PATTERN = re.compile(r"(_z|_mean_w\d+|_std_w\d+|_slope_w\d+)$")
PLAIN_FEATURES = ("cycle", "degradation_index")


def feature_columns(columns: Sequence[str]) -> list[str]:
    """The model inputs among a table's columns, in table order, chosen by name so new sensors flow in."""
    return [
        name
        for name in columns
        if name not in NOT_FEATURES and (name in PLAIN_FEATURES or FEATURE_PATTERN.search(name) is not None)
    ]


def erased_units(landing: Path | None) -> set[str]:
    """The unit ids the landing folder's erasure tombstone names (none without a landing folder)."""
    if landing is None:
        return set()
    from lakehouse.erase import read_tombstone  # imported here: only training and scoring read the tombstone

    return {row["unit_id"] for row in read_tombstone(landing)}


def _among(units: Collection[str]) -> str:
    return ", ".join("'" + unit.replace("'", "''") + "'" for unit in sorted(units))


def erased_units_in(table_path: Path, version: int, erased: Collection[str]) -> list[str]:
    """Which of the `erased` units version `version` of the feature table holds, sorted (one scan of its
    unit ids; none without `erased`): a version written before their erasure still does."""
    if not erased:
        return []
    con = lake.connect()
    try:
        rows = con.execute(
            f"select distinct unit_id from {lake.delta_scan_sql(table_path, version)} "
            f"where unit_id in ({_among(erased)}) order by 1"
        ).fetchall()
    finally:
        con.close()
    return [unit for (unit,) in rows]


def resolve_version(table_path: Path, version: int | None = None) -> int:
    """The Delta version to read: `version`, or the latest one, checked against the table's log.

    Raises `lake.TableNotPublishedError` (one line, naming the folder) when there is no committed version
    (never published, or a first publish killed before its commit) or when the log cannot be read (a
    truncated commit file), and `lake.LakeError` when the version asked for does not exist.
    """
    try:
        return lake.require_version(Path(table_path), version)
    except DeltaError as error:
        reason = first_line(error)
        raise lake.TableNotPublishedError(
            f"{table_path} holds no readable Delta log ({reason}); run `python -m lakehouse.publish` again"
        ) from error


@dataclass(frozen=True)
class TrainingData:
    """One pinned version of the feature table, split into what training and evaluation need."""

    table_path: Path
    version: int
    frame: pd.DataFrame  # every row, ordered by unit_id, cycle
    features: list[str]

    @property
    def train(self) -> pd.DataFrame:
        rows = self.frame[(self.frame["split"] == "train") & self.frame[CLASS_LABEL].notna()]
        return rows[rows[RUL_LABEL].notna()]

    @property
    def test(self) -> pd.DataFrame:
        return self.frame[self.frame["split"] == "test"]

    @property
    def evaluation(self) -> pd.DataFrame:
        """Test units at their last observed cycle, where the truth is known."""
        last = last_cycle_per_unit(self.test)
        return last[last[CLASS_LABEL].notna() & last[RUL_LABEL].notna()].reset_index(drop=True)


def read_features(table_path: Path, version: int | None = None) -> TrainingData:
    """Read ALL of one version of the feature table (latest if None) in (unit_id, cycle) order.

    For inspection and small tables; training reads a sample of whole units instead (`read_training_sample`).
    """
    resolved = resolve_version(table_path, version)
    con = lake.connect()
    try:
        sql = f"select * from {lake.delta_scan_sql(table_path, resolved)} order by unit_id, cycle"
        frame = con.execute(sql).to_arrow_table().to_pandas()  # faster than .df() on wide tables
    finally:
        con.close()
    return TrainingData(table_path=table_path, version=resolved, frame=frame, features=feature_columns(frame.columns))


def matrix(frame: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """The model input: the feature columns as float64 (nulls as NaN), in the given order."""
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise KeyError(f"feature columns missing from the table: {missing}")
    return frame.loc[:, list(features)].astype("float64").reset_index(drop=True)


def unit_sample_order(units: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The train units in the order a sample takes them: seeded, and stratified by dataset.

    `units` has one row per unit (`unit_id`, `dataset`, `rows`). Within each dataset the units get a seeded
    random rank; the order interleaves datasets by rank / units-in-dataset, so every prefix of the order
    holds each dataset in proportion to its unit count. Depends only on the set of units and the seed.
    """
    ordered = units.sort_values("unit_id", kind="mergesort").reset_index(drop=True)
    key = np.random.default_rng(seed).random(len(ordered))
    ordered = ordered.assign(_key=key)
    rank = ordered.groupby("dataset", sort=False)["_key"].rank(method="first") - 0.5
    size = ordered.groupby("dataset", sort=False)["_key"].transform("size")
    ordered = ordered.assign(_position=rank / size)
    ordered = ordered.sort_values(["_position", "_key", "unit_id"], kind="mergesort")
    return ordered.drop(columns=["_key", "_position"]).reset_index(drop=True)


def sample_units(ordered: pd.DataFrame, max_rows: int, min_units: int = 1) -> list[str]:
    """Whole units, taken in `ordered` order while their rows fit in `max_rows` (at least `min_units`).

    Every cycle of a chosen unit comes along: thinning cycles would keep only a few points per life and make
    the cross-validated metric meaningless. The same order gives nested samples (a smaller budget's units are
    a prefix of a larger one's). Returned sorted by unit_id.
    """
    within = int(np.searchsorted(ordered["rows"].cumsum().to_numpy(), max_rows, side="right"))
    count = min(len(ordered), max(within, min_units))
    return sorted(ordered["unit_id"].iloc[:count].tolist())


@dataclass(frozen=True)
class TrainingSample:
    """What one training reads from a pinned version: sampled train units' rows and the evaluation rows."""

    table_path: Path
    version: int
    features: list[str]
    stats: dict[str, Any]  # the whole version: rows, units, train rows and units, datasets
    cv_units: list[str]
    fit_units: list[str]
    fit: pd.DataFrame  # every cycle of the fit units, ordered by unit_id, cycle
    evaluation: pd.DataFrame  # test units at their last observed cycle with known truth, ordered by unit_id

    @property
    def cv(self) -> pd.DataFrame:
        """Every cycle of the CV units (a subset of the fit units), ordered by unit_id, cycle."""
        return self.fit[self.fit["unit_id"].isin(self.cv_units)].reset_index(drop=True)


LABELLED_TRAIN = f"split = 'train' and {CLASS_LABEL} is not null and {RUL_LABEL} is not null"


def read_training_sample(
    table_path: Path,
    version: int | None,
    seed: int,
    cv_max_rows: int,
    fit_max_rows: int,
    min_units: int,
    left_out: Collection[str] = (),
) -> TrainingSample:
    """Read only what training needs from one version, with the filters and columns pushed into DuckDB.

    Scans: (1) the per-unit row counts of labelled train units (ids and labels only), from which whole units
    are sampled (`unit_sample_order`, `sample_units`); (2) id, feature and label columns of the fit units'
    rows; (3) the test units' last observed cycle. Table-wide counts come from the same id columns. The
    `left_out` units (the erased units this version still holds, as `erased_units_in` finds them: a version
    from before an erasure does) are left out of every scan.
    """
    resolved = resolve_version(table_path, version)
    scan = lake.delta_scan_sql(table_path, resolved)
    if left_out:
        scan = f"(select * from {scan} where unit_id not in ({_among(left_out)}))"
    con = lake.connect()
    try:
        columns = [row[0] for row in con.execute(f"select * from {scan} limit 0").description]
        features = feature_columns(columns)
        rows, units, datasets = con.execute(
            f"select count(*), count(distinct unit_id), coalesce(string_agg(distinct dataset, ',' order by dataset),"
            f" '') from {scan}"
        ).fetchone()
        counts = con.execute(
            f"select unit_id, any_value(dataset) as dataset, count(*) as rows from {scan} "
            f"where {LABELLED_TRAIN} group by unit_id order by unit_id"
        ).df()
        if counts.empty:
            raise ValueError(f"no labelled train rows in {table_path} version {resolved}")
        if len(counts) < min_units:  # the grouped CV deals whole units to its folds: one unit per fold at least
            raise ValueError(
                f"{len(counts)} labelled train unit(s) in {table_path} version {resolved}: the {min_units}-fold "
                f"cross-validation grouped by unit needs at least {min_units} (land more run-to-failure units)"
            )
        ordered = unit_sample_order(counts, seed)
        fit_units = sample_units(ordered, max(fit_max_rows, cv_max_rows), min_units)
        cv_units = sample_units(ordered, cv_max_rows, min_units)
        wanted = ", ".join(f'"{name}"' for name in dict.fromkeys([*ID_COLUMNS, "cycle", *features]))
        labels = f"{CLASS_LABEL}, {RUL_LABEL}"
        con.register("sampled_units", pa.table({"unit_id": pa.array(fit_units, pa.string())}))
        fit = con.execute(
            f"select {wanted}, {labels} from {scan} where {LABELLED_TRAIN} "
            "and unit_id in (select unit_id from sampled_units) order by unit_id, cycle"
        ).to_arrow_table()
        last = con.execute(
            f"select {wanted}, {labels}, is_last_observed_cycle from {scan} "
            "where split = 'test' and is_last_observed_cycle order by unit_id, cycle"
        ).to_arrow_table()
    finally:
        con.close()
    last_rows = last_cycle_per_unit(last.to_pandas())
    evaluation = last_rows[last_rows[CLASS_LABEL].notna() & last_rows[RUL_LABEL].notna()].reset_index(drop=True)
    stats = {
        "rows": int(rows),
        "units": int(units),
        "train_rows": int(counts["rows"].sum()),
        "train_units": len(counts),
        "datasets": datasets,
        "erased_units_left_out": len(left_out),
    }
    return TrainingSample(
        table_path=Path(table_path),
        version=resolved,
        features=features,
        stats=stats,
        cv_units=cv_units,
        fit_units=fit_units,
        fit=fit.to_pandas(),
        evaluation=evaluation,
    )


def read_unit_rows(table_path: Path, version: int, units: Sequence[str], columns: Sequence[str]) -> pd.DataFrame:
    """Every row of the given units at one version, only `columns`, ordered by unit_id, cycle (for plots)."""
    if not units:
        return pd.DataFrame(columns=list(columns))
    con = lake.connect()
    try:
        con.register("wanted_units", pa.table({"unit_id": pa.array(list(units), pa.string())}))
        wanted = ", ".join(f'"{name}"' for name in dict.fromkeys(["unit_id", "cycle", *columns]))
        return con.execute(
            f"select {wanted} from {lake.delta_scan_sql(table_path, version)} "
            "where unit_id in (select unit_id from wanted_units) order by unit_id, cycle"
        ).df()
    finally:
        con.close()


def latest_cycles(
    table_path: Path, version: int, split: str | None = None, units: Sequence[str] | None = None
) -> pd.DataFrame:
    """Each unit's row at its latest observed cycle at one Delta version, by unit_id: of one split and of
    `units` only, if given (the units' range and list are literals, so the scan skips the files holding
    none of them; no units, no rows)."""
    if units is not None and not units:
        return pd.DataFrame()
    conditions = [f"split = '{split}'"] if split is not None else []
    if units is not None:
        quoted = ["'" + unit.replace("'", "''") + "'" for unit in sorted(units)]
        conditions.append(f"unit_id between {quoted[0]} and {quoted[-1]} and unit_id in ({', '.join(quoted)})")
    where = f"where {' and '.join(conditions)}" if conditions else ""
    sql = f"""
        select * from {lake.delta_scan_sql(table_path, version)}
        {where}
        qualify row_number() over (partition by unit_id order by cycle desc) = 1
        order by unit_id
    """
    con = lake.connect()
    try:
        return con.execute(sql).df()
    finally:
        con.close()
