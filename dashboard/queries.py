"""The dashboard's SQL: every figure and table it shows, read from the analysts' database.

The analysts' database (`lakehouse.analysts`, `<lake>/analysts.duckdb`) is a small DuckDB file of views
over the published Delta gold, swapped whole (`os.replace`) at each publish. `open_analysts` opens it
READ-ONLY with a fresh connection, so a page load never takes a write lock, never waits for `dbt build`
or a publish, and sees one published state of the lake (the views pin Delta versions). The warehouse is
never opened: what gold does not publish, the dashboard does not show.

Each query returns a pandas DataFrame. A gold table that is not published yet raises `NotPublished`
naming the table and the file; a missing or unreadable file raises `AnalystsUnavailable` naming it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd

from lakehouse import lake as lakelib

# The key sensors mart_fleet_health trends (regime z-scores), in the order the unit chart draws them.
KEY_SENSORS = (
    "t50_lpt_outlet_temp",
    "ps30_hpc_static_pressure",
    "phi_fuel_flow_ratio",
    "htbleed_bleed_enthalpy",
)
HEALTH_BANDS = ("normal", "watch", "alert")


def band_order(present: object) -> list[str]:
    """HEALTH_BANDS, then any other band of `present` (mart_fleet_health's `unknown`: no degradation index to
    judge by), so a chart or table over the bands drops no unit."""
    return [*HEALTH_BANDS, *sorted(set(present) - set(HEALTH_BANDS))]


# mart_fleet_health's ranking of the units in service: the champion's failure probability, then wear.
AT_RISK_ORDER = "failure_probability desc nulls last, degradation_index_mean_w10 desc nulls last, unit_id"


class DashboardDataError(Exception):
    """What a page cannot show; the message names the file or the table."""


class AnalystsUnavailable(DashboardDataError):
    """The analysts' database is missing or cannot be read."""


class NotPublished(DashboardDataError):
    """A gold table the page reads is not in the analysts' database (not published yet)."""


def signature(database: Path) -> str | None:
    """What changes when a publish swaps the file in: "inode:mtime_ns:size"; None when it is missing.

    A string, not numbers: the browser keeps it, and JavaScript numbers would round a nanosecond mtime.
    """
    try:
        stat = os.stat(database)
    except OSError:
        return None
    return f"{stat.st_ino}:{stat.st_mtime_ns}:{stat.st_size}"


@contextlib.contextmanager
def open_analysts(database: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh read-only connection to the analysts' database (delta extension loaded, UTC)."""
    database = Path(database)
    if not database.exists():
        raise AnalystsUnavailable(
            f"no analysts' database at {database}: nothing is published yet "
            "(`make run`, or `make build publish`; `python -m lakehouse.analysts` rebuilds it from the lake)"
        )
    try:
        con = lakelib.connect(database, read_only=True)
    except (duckdb.Error, RuntimeError) as exc:
        raise AnalystsUnavailable(f"could not open the analysts' database {database}: {exc}") from exc
    try:
        con.execute("set TimeZone = 'UTC'")
        yield con
    finally:
        con.close()


def _frame(con: duckdb.DuckDBPyConnection, table: str, sql: str, params: list | None = None) -> pd.DataFrame:
    """Run `sql`, which reads `table`: a table not in the file raises `NotPublished`, any other failure
    `AnalystsUnavailable`, both naming the table and the file."""
    try:
        return con.execute(sql, params or []).df()
    except duckdb.CatalogException as exc:
        raise NotPublished(f"{table} is not published yet (not in {_path(con)})") from exc
    except duckdb.Error as exc:
        raise AnalystsUnavailable(f"reading {table} through {_path(con)} failed: {exc}") from exc


def _path(con: duckdb.DuckDBPyConnection) -> str:
    """The file `con` reads."""
    query = "select path from duckdb_databases() where database_name = current_database()"
    return con.execute(query).fetchone()[0]


def published_state(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row: the lake the file reads and when the last publish refreshed it.

    Every refresh writes `analysts_refreshes`: a file without it is another DuckDB database (PDM_ANALYSTS_DB or
    --analysts-db at the warehouse, say), which `AnalystsUnavailable` names as such, not as "not published yet".
    """
    try:
        return _frame(con, "analysts_refreshes", "select lake, refreshed_at, tables from analysts_refreshes")
    except NotPublished as exc:
        raise AnalystsUnavailable(
            f"{_path(con)} is not an analysts' database (it has no analysts_refreshes table, which every publish "
            "writes): point PDM_ANALYSTS_DB (or --analysts-db) at <lake>/analysts.duckdb"
        ) from exc


# ---- fleet page


def units_in_service(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The units in service (not run to failure), most at risk first (AT_RISK_ORDER)."""
    return _frame(
        con,
        "gold.mart_fleet_health",
        f"""
        select row_number() over (order by {AT_RISK_ORDER}) as rank,
               unit_id, equipment_model_code, site_code, latest_cycle, share_of_rated_life_used,
               health_band,
               case when is_predicted_to_fail then 'fails within horizon'
                    when is_predicted_to_fail is not null then 'keeps running'
                    else 'not scored' end as decision,
               failure_probability, decision_threshold, predicted_rul, is_score_current,
               degradation_index_mean_w10
        from gold.mart_fleet_health
        where not is_run_to_failure
        order by {AT_RISK_ORDER}
        """,
    )


def decision_by_band(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Units in service per health band and champion decision (one row per pair present)."""
    return _frame(
        con,
        "gold.mart_fleet_health",
        """
        select health_band,
               case when is_predicted_to_fail then 'fails within horizon'
                    when is_predicted_to_fail is not null then 'keeps running'
                    else 'not scored' end as decision,
               count(*) as units
        from gold.mart_fleet_health
        where not is_run_to_failure
        group by all
        order by all
        """,
    )


def dataset_freshness(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per dataset: its newest landing, ingestion, publish and scoring, and the files at each stage."""
    return _frame(
        con,
        "gold.mart_pipeline_freshness",
        """
        select dataset,
               count(*) as files,
               max(landed_at) as newest_landed_at,
               max(ingested_at) as newest_ingested_at,
               max(visible_in_gold_at) as newest_in_gold_at,
               max(scored_at) as newest_scored_at,
               round(epoch(current_timestamp::timestamp - max(landed_at)) / 60, 1) as minutes_since_landing,
               count(*) filter (where pipeline_stage = 'awaiting_gold') as awaiting_gold,
               count(*) filter (where pipeline_stage = 'awaiting_scoring') as awaiting_scoring,
               count(*) filter (where pipeline_stage = 'scored') as scored
        from gold.mart_pipeline_freshness
        where dataset is not null
        group by dataset
        order by dataset
        """,
    )


def latest_versions(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The Delta version of each published table the views read, with its commit."""
    return _frame(
        con,
        "delta_versions",
        """
        select layer || '.' || table_name as published_table, version, committed_at, operation, row_count
        from delta_versions
        where is_pinned
        order by layer, table_name
        """,
    )


# ---- unit page


def unit_health(con: duckdb.DuckDBPyConnection, unit_id: str) -> pd.DataFrame:
    """The unit's row of mart_fleet_health (empty when the mart does not hold it)."""
    return _frame(
        con,
        "gold.mart_fleet_health",
        """
        select unit_id, dataset, split, equipment_model_code, site_code, firmware_version,
               is_run_to_failure, latest_cycle, share_of_rated_life_used, health_band,
               degradation_index_mean_w10, failure_probability, decision_threshold, is_predicted_to_fail,
               predicted_rul, scored_cycle, is_score_current, scored_at, classifier_version, regressor_version
        from gold.mart_fleet_health
        where unit_id = ?
        """,
        [unit_id],
    )


def unit_cycles(con: duckdb.DuckDBPyConnection, unit_id: str) -> pd.DataFrame:
    """The unit's key sensors' regime z-scores and degradation index, one row per cycle."""
    sensors = ", ".join(f"{sensor}_z" for sensor in KEY_SENSORS)
    return _frame(
        con,
        "gold.fct_unit_cycle_features",
        f"""
        select cycle, {sensors}, degradation_index, degradation_index_mean_w10
        from gold.fct_unit_cycle_features
        where unit_id = ?
        order by cycle
        """,
        [unit_id],
    )


def unit_registry_history(con: duckdb.DuckDBPyConnection, unit_id: str) -> pd.DataFrame:
    """The unit's equipment-registry versions (SCD2), oldest first."""
    return _frame(
        con,
        "gold.dim_unit_registry_history",
        """
        select version_number, equipment_model_code, site_code, firmware_version,
               valid_from, valid_to, valid_from_rule, is_current
        from gold.dim_unit_registry_history
        where unit_id = ?
        order by version_number
        """,
        [unit_id],
    )


# ---- data-quality page


def landed_files(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every landed file version, newest first, with what its lines became (mart_data_quality)."""
    freshness = _frame(
        con,
        "gold.mart_pipeline_freshness",
        """
        select file_version_id, file_name, file_kind, dataset, split, ingestion_status, pipeline_stage,
               landed_at, ingested_at
        from gold.mart_pipeline_freshness
        """,
    )
    lines = _frame(
        con,
        "gold.mart_data_quality",
        """
        select file_version_id,
               cast(sum(line_count) as bigint) as lines,
               -- 0, not null ("—" on the page: unknown), for a file with no line of that outcome
               cast(coalesce(sum(line_count) filter (where not is_quarantined), 0) as bigint) as lines_kept,
               cast(coalesce(sum(line_count) filter (where is_quarantined), 0) as bigint) as lines_quarantined
        from gold.mart_data_quality
        group by file_version_id
        """,
    )
    merged = freshness.merge(lines, on="file_version_id", how="left")
    merged = merged.sort_values(["ingested_at", "file_name"], ascending=[False, True], na_position="last")
    return merged.drop(columns="file_version_id").reset_index(drop=True)


def quarantine_by_rule_and_file(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Quarantined lines per file and rule (current file versions)."""
    return _frame(
        con,
        "gold.mart_data_quality",
        """
        select file_name, dataset, outcome as rule, cast(sum(line_count) as bigint) as lines
        from gold.mart_data_quality
        where is_quarantined
        group by all
        order by lines desc, file_name, rule
        """,
    )


def latest_hostile_inputs(con: duckdb.DuckDBPyConnection, limit: int = 20) -> pd.DataFrame:
    """The most recently ingested quarantines: when, which file, which rule, how many lines."""
    return _frame(
        con,
        "gold.mart_data_quality",
        """
        select ingested_at, file_name, file_kind, outcome as rule, line_count as lines, share_of_file
        from gold.mart_data_quality
        where is_quarantined
        order by ingested_at desc, file_name, rule
        limit ?
        """,
        [limit],
    )


# ---- model page


def champion(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The champion as gold knows it: the latest monitoring run (classifier, training data version, age)
    beside the versions and decision threshold the current scores carry."""
    monitoring = _frame(
        con,
        "gold.mart_model_monitoring",
        """
        select computed_at, classifier_version, reference_delta_version as training_delta_version,
               current_delta_version, champion_age_versions, champion_age_days,
               count(*) as features, count(*) filter (where is_drift) as features_drifting,
               max(psi) as max_psi, max(noise_psi) as noise_psi
        from gold.mart_model_monitoring
        where is_latest_run
        group by all
        """,
    )
    scores = _frame(
        con,
        "gold.mart_fleet_health",
        """
        select classifier_version, regressor_version, decision_threshold,
               count(*) as units_scored, max(scored_at) as scored_at
        from gold.mart_fleet_health
        where classifier_version is not null
        group by all
        order by scored_at desc
        """,
    )
    return monitoring.merge(scores, on="classifier_version", how="outer")


def drift(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """PSI per feature on the latest monitoring run, highest first."""
    return _frame(
        con,
        "gold.mart_model_monitoring",
        """
        select feature, psi, noise_psi, is_drift
        from gold.mart_model_monitoring
        where is_latest_run
        order by psi desc nulls last, feature
        """,
    )


def drift_history(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per monitoring run: the highest PSI, what noise alone reaches, and how many features drifted (above the
    warning level and beyond noise)."""
    return _frame(
        con,
        "gold.mart_model_monitoring",
        """
        select computed_at, classifier_version, current_delta_version, max(psi) as max_psi,
               max(noise_psi) as noise_psi, count(*) filter (where is_drift) as features_drifting
        from gold.mart_model_monitoring
        group by all
        order by computed_at
        """,
    )
