"""Print what the last build did: rows per layer, units, quarantine, tests, the health of the units in service
(the test split: train units ran to failure and are left out), how late the data is per dataset against the
SLAs (lakehouse.freshness), and the champion models with the classifier's decision rule and its expected cost
(`python -m ml.summary [--run-results PATH]`).

The test counts come from the run results of the build being summarised: `--run-results` names them (`make run`
passes its main build's, which it writes to its own target folder), else `<dbt target>/run_results.json`. A file
written by another dbt command (`dbt show`, `dbt docs generate`, `dbt test -s ...`) is named and not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dbt_plugins.warehouse_guard import WarehouseUnavailable, open_warehouse
from ml.config import REPO_ROOT, Paths

LAYER_COUNTS = {
    "bronze: lines landed": "select count(*) from bronze.base_cmapss__landed_lines",
    "bronze: clean sensor readings": "select count(*) from bronze.stg_cmapss__sensor_readings",
    "bronze: quarantined lines": "select count(*) from bronze.stg_cmapss__quarantined_lines",
    "silver: deduplicated readings": "select count(*) from silver.int_sensor_readings_deduplicated",
    "gold: fct_unit_cycle_features": "select count(*) from gold.fct_unit_cycle_features",
    "gold: dim_units": "select count(*) from gold.dim_units",
    "gold: registry versions": "select count(*) from gold.dim_unit_registry_history",
}


def warehouse_summary(warehouse: Path) -> dict[str, object]:
    """Counts from the warehouse, opened read-only (safe beside analysts' sessions).

    Raises WarehouseUnavailable, naming the lock's holder, while a build holds the warehouse:
    the summary does not wait for it.
    """
    with open_warehouse(warehouse, read_only=True, wait_seconds=0, say=print) as con:
        counts = {label: con.execute(sql).fetchone()[0] for label, sql in LAYER_COUNTS.items()}
        units = con.execute("select dataset, split, count(*) from gold.dim_units group by all order by all").fetchall()
        quarantine = con.execute(
            "select rejection_rule, count(*) from bronze.stg_cmapss__quarantined_lines group by all order by 2 desc, 1"
        ).fetchall()
        # units in service only: a train unit's series ends at its failure, so it is trivially `alert`
        health = con.execute(
            "select health_band, count(*) from gold.mart_fleet_health where not is_run_to_failure "
            "group by all order by all"
        ).fetchall()
        flagged = con.execute(
            "select count(*) filter (where is_predicted_to_fail), count(is_predicted_to_fail), count(*) "
            "from gold.mart_fleet_health where not is_run_to_failure"
        ).fetchone()
        at_risk = con.execute(
            """
            select unit_id, latest_cycle, failure_probability, predicted_rul, health_band, classifier_version
            from gold.mart_fleet_health
            where failure_probability is not null and not is_run_to_failure  -- in service, not failed
            order by failure_probability desc, predicted_rul, unit_id
            limit 10
            """
        ).fetchall()
    return {
        "counts": counts,
        "units": units,
        "quarantine": quarantine,
        "health": health,
        "flagged": flagged,
        "at_risk": at_risk,
    }


@dataclass(frozen=True)
class BuildTestResults:
    """The data and unit test statuses of one `dbt build`, and where they were read (`source`: path, command, time).

    `counts` is empty, and `note` says why, when the file is missing, unreadable or not a build's.
    """

    counts: Counter[str]
    source: str
    note: str | None = None


def test_results(run_results: Path) -> BuildTestResults:
    """Statuses of the data and unit tests in `run_results` (a run_results.json), if a `dbt build` wrote it."""
    if not run_results.exists():
        return BuildTestResults(Counter(), str(run_results), f"no run results at {run_results}: tests not counted")
    try:
        document = json.loads(run_results.read_text())
        results = document["results"]
    except (ValueError, KeyError, TypeError) as exc:
        return BuildTestResults(Counter(), str(run_results), f"can't read {run_results} ({exc}): tests not counted")
    args = document.get("args") or {}
    started = (document.get("metadata") or {}).get("invocation_started_at") or "?"
    command = args.get("invocation_command") or f"dbt {args.get('which', '?')}"
    source = f"`{command}` started {started[:19].replace('T', ' ')} UTC, {run_results}"
    if args.get("which") != "build":
        return BuildTestResults(
            Counter(), source, f"{run_results} holds the results of `{command}`, not of a build: tests not counted"
        )
    counts = Counter(r["status"] for r in results if r["unique_id"].startswith(("test.", "unit_test.")))
    return BuildTestResults(counts, source)


def render(summary: dict[str, object], tests: BuildTestResults | Counter[str]) -> str:
    lines = ["", "Build summary"]
    lines += [f"  {label:<32}{count:>12,}" for label, count in summary["counts"].items()]
    lines.append("  units: " + ", ".join(f"{d} {s} {n}" for d, s, n in summary["units"]))
    if summary.get("quarantine"):
        by_rule = ", ".join(f"{rule} {n}" for rule, n in summary["quarantine"])
        lines += textwrap.wrap(
            f"quarantined lines by rule: {by_rule} (bronze.stg_cmapss__quarantined_lines)",
            width=110,
            initial_indent="  ",
            subsequent_indent="    ",
        )
    in_service = ", ".join(f"{band} {n}" for band, n in summary["health"]) or "none"
    lines.append(f"  fleet health, units in service (test split): {in_service}")
    flagged, scored, total = summary.get("flagged") or (0, 0, 0)
    if scored:
        lines.append(
            f"  predicted to fail within 30 cycles (champion's decision): {flagged} of {scored} scored units in service"
        )
    elif total:
        lines.append(
            f"  predicted to fail within 30 cycles: no decision yet for the {total} units in service "
            "(run `make predict`)"
        )
    if isinstance(tests, BuildTestResults):
        if tests.note:
            lines += textwrap.wrap(
                f"tests: {tests.note}", width=110, initial_indent="  ", subsequent_indent="    ", break_on_hyphens=False
            )
        else:
            counted = ", ".join(f"{n} {status}" for status, n in sorted(tests.counts.items())) or "none run"
            lines += textwrap.wrap(
                f"tests: {counted} ({tests.source})",
                width=110,
                initial_indent="  ",
                subsequent_indent="    ",
                break_on_hyphens=False,
            )
    elif tests:
        lines.append("  tests: " + ", ".join(f"{n} {status}" for status, n in sorted(tests.items())))
    if summary["at_risk"]:
        lines += ["", "Top 10 at risk among units in service (gold.mart_fleet_health, latest scores)"]
        lines.append(f"  {'unit':<18}{'cycle':>6}{'P(fail<=30)':>13}{'pred. RUL':>11}  {'health':<8}classifier")
        for unit, cycle, probability, rul, band, version in summary["at_risk"]:
            lines.append(f"  {unit:<18}{cycle:>6}{probability:>13.3f}{rul:>11.0f}  {band:<8}v{version}")
    return "\n".join(lines)


def render_freshness(warehouse: Path) -> str:
    """How late the data is per dataset, and the SLA breaches (lakehouse.freshness); one line when it can't tell."""
    from lakehouse.freshness import FreshnessUnavailable, report

    try:
        lines = report(warehouse)
    except FreshnessUnavailable as exc:
        return f"\nFreshness: {exc}"
    return "\n".join(
        [
            "",
            "Freshness (gold.mart_pipeline_freshness; lags of each dataset's newest file)",
            *(f"  {line}" for line in lines),
        ]
    )


def render_champions(mlflow_dir: Path) -> str:
    """The champions, the classifier's threshold rule and its expected cost per decision (out-of-fold), read from
    the MLflow registry's tags; a line saying so when there is no store yet."""
    from ml.registry import champion_summary, store_file  # imported here: MLflow is slow to import

    lines = champion_summary(mlflow_dir)
    if not lines:
        return f"\nModels: no MLflow store at {store_file(mlflow_dir)} (run `make train`)"
    return "\n".join(["", "Champion models (MLflow registry)", *(f"  {line}" for line in lines)])


def dbt_target_path(environ: os._Environ[str] | dict[str, str] | None = None) -> Path:
    """dbt's target folder: DBT_TARGET_PATH (relative to the repo root) or `target/`."""
    env = os.environ if environ is None else environ
    path = Path(env.get("DBT_TARGET_PATH") or "target")
    return path if path.is_absolute() else REPO_ROOT / path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.summary", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--run-results",
        type=Path,
        default=None,
        help="run_results.json of the build to summarise (default: <dbt target>/run_results.json)",
    )
    args = parser.parse_args(argv)
    run_results = args.run_results or dbt_target_path() / "run_results.json"
    paths = Paths.from_env()
    if not paths.warehouse.exists():
        print(f"no warehouse at {paths.warehouse}: run `make build` first", file=sys.stderr)
        return 1
    try:
        summary = warehouse_summary(paths.warehouse)
    except WarehouseUnavailable as exc:
        print(f"summary: {exc}", file=sys.stderr)
        return 1
    except duckdb.CatalogException as exc:
        print(f"summary: the warehouse {paths.warehouse} lacks a table the summary reads: {exc}", file=sys.stderr)
        print("run `make build` (then `make predict` for the scores) first", file=sys.stderr)
        return 1
    print(render(summary, test_results(run_results)))
    print(render_freshness(paths.warehouse))
    print(render_champions(paths.mlflow))
    return 0


if __name__ == "__main__":
    sys.exit(main())
