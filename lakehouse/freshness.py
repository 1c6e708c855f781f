"""How late the data is, against the SLA vars (`python -m lakehouse.freshness`).

    python -m lakehouse.freshness        # a freshness table per dataset, then the SLA breaches
    python -m lakehouse.freshness --sources [DBT_ARGS]   # then `dbt source freshness` (make freshness)

Reads `gold.mart_pipeline_freshness` (one row per landed file version: landed, ingested, visible in the
published gold, scored, and the lag at each hop) from the warehouse, opened read-only and without
waiting (a build holding the warehouse makes it say so and exit 1). The SLAs are the dbt vars of
`dbt_project.yml` (`ingestion_lag_sla_seconds`, `gold_lag_sla_seconds`, `scoring_lag_sla_seconds`,
`freshness_warn_after_minutes`, `freshness_error_after_minutes`), read from that file.

`sla_breaches(warehouse)` gives one line per breach, naming the dataset and file, the lag and the SLA:
- a hop that took longer than its SLA, for the files the newest build that wrote the mart wrote (or
  every row written since `since`), so a breach is reported by the build that saw it, not forever (a
  file's row is rewritten when a later hop arrives, and is then judged on all its hops again);
- a file still waiting for gold or for a score longer than that hop's SLA (checked on every call: a
  stuck file stays a breach until it moves);
- a dataset with no file landed for longer than `freshness_warn_after_minutes` (WARN) or
  `freshness_error_after_minutes` (ERROR).
Dataset staleness is computed here, at the time of the call, never stored (it changes with the clock).

`--sources` then runs `dbt source freshness` (its own arguments after it), first naming each landing
source with no file in the landing folder: dbt would only say ERROR STALE (its newest file "landed" in
year 1). A source this folder never had (the registry extract or the RUL files of a folder of real NASA
files, or of train files alone: the build accepts both) is left out of dbt's check; one it had (the
registry history holds units, a RUL file was ingested) stays in, so the command fails, as it does for a
folder with no sensor file at all (said too).
Exit code of the CLI: 0, or 1 when the warehouse or the mart can't be read; with `--sources`, 1 as
well when `dbt source freshness` fails.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import yaml

from dbt_plugins.warehouse_guard import WarehouseUnavailable, open_warehouse
from ml.config import REGISTRY_FILE_NAME, REGISTRY_SUBDIR, REPO_ROOT, Paths

MART = "gold.mart_pipeline_freshness"
PROJECT_FILE = REPO_ROOT / "dbt_project.yml"


class FreshnessUnavailable(RuntimeError):
    """The warehouse can't be opened read-only, or has no gold.mart_pipeline_freshness yet."""


@dataclass(frozen=True)
class Slas:
    """The SLA vars of dbt_project.yml."""

    ingestion_lag_seconds: float
    gold_lag_seconds: float
    scoring_lag_seconds: float
    warn_after_minutes: float
    error_after_minutes: float

    @classmethod
    def from_project(cls, project_file: Path = PROJECT_FILE) -> Slas:
        values = (yaml.safe_load(Path(project_file).read_text()) or {}).get("vars", {})
        return cls(
            ingestion_lag_seconds=float(values["ingestion_lag_sla_seconds"]),
            gold_lag_seconds=float(values["gold_lag_sla_seconds"]),
            scoring_lag_seconds=float(values["scoring_lag_sla_seconds"]),
            warn_after_minutes=float(values["freshness_warn_after_minutes"]),
            error_after_minutes=float(values["freshness_error_after_minutes"]),
        )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # the mart's timestamps are naive UTC


def _connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    if not Path(warehouse).exists():
        raise FreshnessUnavailable(f"no warehouse at {warehouse}: run `make build` first")
    try:
        con = open_warehouse(Path(warehouse), read_only=True, wait_seconds=0, say=lambda _: None)
    except WarehouseUnavailable as exc:
        raise FreshnessUnavailable(str(exc)) from exc
    (present,) = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'gold' and table_name = 'mart_pipeline_freshness'"
    ).fetchone()
    if not present:
        con.close()
        raise FreshnessUnavailable(f"the warehouse {warehouse} has no {MART} yet: run `make build`")
    return con


def _breaches(con: duckdb.DuckDBPyConnection, slas: Slas, now: datetime, since: datetime | None) -> list[str]:
    lines: list[str] = []
    written = "updated_at >= ?" if since is not None else f"updated_at = (select max(updated_at) from {MART})"
    hops = con.execute(
        f"""
        select dataset, file_name, ingestion_lag_seconds, gold_lag_seconds, scoring_lag_seconds
        from {MART}
        where {written}
        order by dataset, file_name, ingested_at
        """,
        [since] if since is not None else [],
    ).fetchall()
    for dataset, file_name, ingestion, gold, scoring in hops:
        where = f"{dataset or '?'} {file_name}"
        if ingestion is not None and ingestion > slas.ingestion_lag_seconds:
            lines.append(
                f"SLA breach: {where}: ingested {ingestion:.1f} s after it landed "
                f"(ingestion_lag_sla_seconds {slas.ingestion_lag_seconds:g})"
            )
        if gold is not None and gold > slas.gold_lag_seconds:
            lines.append(
                f"SLA breach: {where}: visible in gold {gold:.1f} s after ingestion "
                f"(gold_lag_sla_seconds {slas.gold_lag_seconds:g})"
            )
        if scoring is not None and scoring > slas.scoring_lag_seconds:
            lines.append(
                f"SLA breach: {where}: scored {scoring:.1f} s after it was visible in gold "
                f"(scoring_lag_sla_seconds {slas.scoring_lag_seconds:g})"
            )
    waiting = con.execute(
        f"""
        select dataset, file_name, pipeline_stage, ingested_at, visible_in_gold_at
        from {MART}
        where pipeline_stage in ('awaiting_gold', 'awaiting_scoring')
        order by dataset, file_name, ingested_at
        """
    ).fetchall()
    for dataset, file_name, stage, ingested_at, visible_at in waiting:
        where = f"{dataset or '?'} {file_name}"
        if stage == "awaiting_gold" and (now - ingested_at).total_seconds() > slas.gold_lag_seconds:
            lines.append(
                f"SLA breach: {where}: not in the published gold yet, {(now - ingested_at).total_seconds():.0f} s "
                f"after ingestion (gold_lag_sla_seconds {slas.gold_lag_seconds:g})"
            )
        if stage == "awaiting_scoring" and (now - visible_at).total_seconds() > slas.scoring_lag_seconds:
            lines.append(
                f"SLA breach: {where}: not scored yet, {(now - visible_at).total_seconds():.0f} s after it was "
                f"visible in gold (scoring_lag_sla_seconds {slas.scoring_lag_seconds:g})"
            )
    for dataset, last_landed_at in con.execute(
        f"select dataset, max(landed_at) from {MART} where dataset is not null group by dataset order by dataset"
    ).fetchall():
        minutes = (now - last_landed_at).total_seconds() / 60
        if minutes > slas.error_after_minutes:
            level, var, limit = "ERROR", "freshness_error_after_minutes", slas.error_after_minutes
        elif minutes > slas.warn_after_minutes:
            level, var, limit = "WARN", "freshness_warn_after_minutes", slas.warn_after_minutes
        else:
            continue
        lines.append(
            f"SLA breach ({level}): dataset {dataset} is stale: its newest file landed {minutes:.0f} min ago, "
            f"at {last_landed_at:%Y-%m-%d %H:%M:%S} UTC ({var} {limit:g})"
        )
    return lines


def sla_breaches(
    warehouse: Path, *, since: datetime | None = None, slas: Slas | None = None, now: datetime | None = None
) -> list[str]:
    """One human line per SLA breach (dataset and file, the lag, the SLA var and its value); [] when none.

    Hop lags are judged for the rows the newest build that wrote the mart wrote (`since`: every row
    written at or after that time, naive UTC); waiting files and stale datasets at the time of the call.
    A warehouse that can't be read, or has no mart yet, gives one line saying so (never an exception:
    the watcher prints it and goes on).
    """
    try:
        con = _connect(warehouse)
    except FreshnessUnavailable as exc:
        return [f"SLA unknown: {exc}"]
    with con:
        return _breaches(con, slas or Slas.from_project(), now or _now(), since)


@dataclass(frozen=True)
class DatasetFreshness:
    """One dataset's line of the freshness table."""

    dataset: str
    files: int
    last_landed_at: datetime
    stale_minutes: float
    ingestion_lag_seconds: float | None  # of the dataset's newest file expected in gold
    gold_lag_seconds: float | None
    scoring_lag_seconds: float | None
    awaiting_gold: int
    awaiting_scoring: int


def dataset_freshness(con: duckdb.DuckDBPyConnection, now: datetime) -> list[DatasetFreshness]:
    rows = con.execute(
        f"""
        with newest as (
            select dataset, ingestion_lag_seconds, gold_lag_seconds, scoring_lag_seconds
            from {MART}
            where is_expected_in_gold
            qualify row_number() over (partition by dataset order by ingested_at desc, landed_at desc) = 1
        )
        select
            files.dataset,
            count(*),
            max(files.landed_at),
            any_value(newest.ingestion_lag_seconds),
            any_value(newest.gold_lag_seconds),
            any_value(newest.scoring_lag_seconds),
            count(*) filter (where files.pipeline_stage = 'awaiting_gold'),
            count(*) filter (where files.pipeline_stage = 'awaiting_scoring')
        from {MART} as files
        left join newest on files.dataset = newest.dataset
        where files.dataset is not null
        group by files.dataset
        order by files.dataset
        """
    ).fetchall()
    return [
        DatasetFreshness(
            dataset=dataset,
            files=files,
            last_landed_at=last,
            stale_minutes=(now - last).total_seconds() / 60,
            ingestion_lag_seconds=ingestion,
            gold_lag_seconds=gold,
            scoring_lag_seconds=scoring,
            awaiting_gold=awaiting_gold,
            awaiting_scoring=awaiting_scoring,
        )
        for dataset, files, last, ingestion, gold, scoring, awaiting_gold, awaiting_scoring in rows
    ]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def render_table(datasets: Sequence[DatasetFreshness], slas: Slas) -> list[str]:
    """The freshness table, one line per dataset (lags in seconds, of the dataset's newest file)."""
    lines = [
        f"{'dataset':<10}{'files':>6}  {'last landed (UTC)':<20}{'stale min':>10}"
        f"{'ingest s':>10}{'gold s':>9}{'score s':>9}  waiting",
        f"{'SLA':<10}{'':>6}  {'':<20}{slas.warn_after_minutes:>10g}"
        f"{slas.ingestion_lag_seconds:>10g}{slas.gold_lag_seconds:>9g}{slas.scoring_lag_seconds:>9g}",
    ]
    for d in datasets:
        waiting = []
        if d.awaiting_gold:
            waiting.append(f"{d.awaiting_gold} for gold")
        if d.awaiting_scoring:
            waiting.append(f"{d.awaiting_scoring} for a score")
        lines.append(
            f"{d.dataset:<10}{d.files:>6}  {d.last_landed_at:%Y-%m-%d %H:%M:%S} {d.stale_minutes:>10.0f}"
            f"{_seconds(d.ingestion_lag_seconds):>10}{_seconds(d.gold_lag_seconds):>9}"
            f"{_seconds(d.scoring_lag_seconds):>9}  {', '.join(waiting) or '-'}"
        )
    return lines


def report(warehouse: Path, slas: Slas | None = None, now: datetime | None = None) -> list[str]:
    """The freshness table per dataset, then the SLA breaches (or a line saying there are none).

    Raises FreshnessUnavailable when the warehouse or the mart can't be read.
    """
    slas = slas or Slas.from_project()
    now = now or _now()
    with _connect(warehouse) as con:
        datasets = dataset_freshness(con, now)
        breaches = _breaches(con, slas, now, None)
    if not datasets:
        return ["no landed file yet"]
    return [*render_table(datasets, slas), *(breaches or ["no SLA breach"])]


@dataclass(frozen=True)
class SourceWithoutFiles:
    """A landing source with no file in the landing folder, which `dbt source freshness` reports as ERROR STALE."""

    source: str  # dbt's <source>.<table>
    message: str
    ever_delivered: bool  # False: left out of dbt's check (this folder never had it); True: dbt fails on it


def sources_without_files(con: duckdb.DuckDBPyConnection, landing: Path) -> list[SourceWithoutFiles]:
    """The landing sources with no file in `landing`, and whether the warehouse says this folder ever had one."""
    missing = []
    registry = Path(landing) / REGISTRY_SUBDIR / REGISTRY_FILE_NAME
    if not registry.is_file():
        (snapshot,) = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'snapshots' and table_name = 'snap_equipment_registry'"
        ).fetchone()
        units = 0
        if snapshot:
            (units,) = con.execute(
                "select count(*) from snapshots.snap_equipment_registry "
                "where dbt_valid_to is null and coalesce(dbt_is_deleted, 'False') != 'True'"
            ).fetchone()
        if units:
            message = (
                f"the registry extract {registry} is missing, but the registry history holds {units} units: "
                "restore it (or point PDM_LANDING_PATH at the folder holding it); the next build stops until then"
            )
        else:
            message = (
                f"no registry extract at {registry}: this landing folder has never had one (real NASA files come "
                "without one; their units load as unregistered), so its freshness is not checked"
            )
        missing.append(SourceWithoutFiles("registry.equipment_registry", message, bool(units)))
    if not any(path.is_file() for path in Path(landing).glob("RUL_FD*.txt")):
        (ingested,) = con.execute(f"select count(*) from {MART} where file_kind = 'rul_truth'").fetchone()
        if ingested:
            message = (
                f"no RUL_FDnnn.txt file in {landing} any more, though {ingested} were ingested: "
                "deleted from the landing folder?"
            )
        else:
            message = (
                f"no RUL_FDnnn.txt file in {landing}: none has ever landed there (test units have no RUL truth), "
                "so its freshness is not checked"
            )
        missing.append(SourceWithoutFiles("cmapss.rul_files", message, bool(ingested)))
    sensor_file = re.compile(r"(train|test)_FD[^/\\]*\.txt")
    if not any(sensor_file.fullmatch(path.name) and path.is_file() for path in Path(landing).glob("*_FD*.txt")):
        # no data at all: dbt's check fails, as it should; this says why
        missing.append(
            SourceWithoutFiles(
                "cmapss.sensor_files",
                f"no train_FDnnn.txt or test_FDnnn.txt file in {landing}: nothing delivered there "
                "(or PDM_LANDING_PATH points at the wrong folder)",
                True,
            )
        )
    return missing


def source_freshness(warehouse: Path, landing: Path, dbt_args: Sequence[str]) -> int:
    """`dbt source freshness` (with `dbt_args`), after a line per landing source with no file; the sources
    the landing folder never had are left out. Returns dbt's exit code."""
    with _connect(warehouse) as con:
        missing = sources_without_files(con, landing)
    for source in missing:
        if not source.ever_delivered:
            print(f"source {source.source}: {source.message}")
    excluded = [f"source:{source.source}" for source in missing if not source.ever_delivered]
    dbt = Path(sys.executable).parent / "dbt"
    command = [str(dbt), "source", "freshness", *(["--exclude", *excluded] if excluded else []), *dbt_args]
    print(" ".join(command), flush=True)
    returncode = subprocess.run(command, cwd=REPO_ROOT, check=False).returncode
    for source in missing:  # under dbt's ERROR STALE, which says no more
        if source.ever_delivered:
            print(f"source {source.source}: {source.message}", file=sys.stderr)
    return returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lakehouse.freshness", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sources",
        nargs=argparse.REMAINDER,
        metavar="DBT_ARGS",
        help="then run `dbt source freshness` (with DBT_ARGS), naming and leaving out the sources never delivered",
    )
    args = parser.parse_args(argv)
    paths = Paths.from_env()
    try:
        lines = report(paths.warehouse)
    except FreshnessUnavailable as exc:
        print(f"freshness: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines), flush=True)
    if args.sources is None:
        return 0
    try:
        return 1 if source_freshness(paths.warehouse, paths.landing, args.sources) else 0
    except FreshnessUnavailable as exc:  # a build took the warehouse in between
        print(f"freshness: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
