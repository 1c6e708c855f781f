"""What the append-only change logs cost as they grow: the same builds and publishes with and without a
long history in them.

    python -m benchmarks.change_log_growth [--readings 200k] [--ticks 525600] [--units-per-tick 40]
        [--repeats 3] [--workdir PATH] [--keep] [--output data/benchmarks/change_log_growth.json]

Every build that changes units appends a row per changed unit to `silver.int_unit_reading_changes` and
`silver.int_unit_change_log`, and one per unit and per-unit model to `silver.unit_rewrites`; nothing
removes them (each per-unit model and each published table reads them from its own position on). Under
`make watch` that is a row per unit per tick that brought its readings. This benchmark measures what
that history costs the steps that read the logs:

1. it lands the scale benchmark's fleet of `--readings` (`benchmarks.scale.fleet_plan`) in one work
   folder ("plain"), builds it (`dbt build --target ci`), publishes it, and lands, builds and publishes
   one delivery (so every per-unit model has rewritten units once);
2. copies that folder whole ("grown") and appends to the grown warehouse's logs `--ticks` ticks of
   `--units-per-tick` units each (the units taken in turn), one minute apart and ending before the
   fleet's first build: by default a year of minute ticks of 40 units, 21 M rows in each log and in
   `unit_rewrites` per model. Being older than every model's watermark and every table's
   `pdm.changes_through`, no build or publish takes them as new;
3. then, round by round and alternating which folder goes first, runs on both the same steps: a no-op
   build, and a delivery (the scale benchmark's ~10k readings for new units; the same file in both)
   built and published.

Reported per step and folder: wall clock and CPU time, the silver and gold models' execution time
(from dbt's run results: what a no-op build should barely spend) and peak RSS, medians (min-max) of
`--repeats` rounds, the grown/plain ratio of the medians, and the warehouse file's size in each. Each
round checks that both folders' delivery builds logged the same units and left the same feature-table
row count (the history changes nothing a build does). Printed as a table, written as JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from benchmarks.reporting import fmt_ratio, git_state, log, noisy_machine_warning, ratio
from benchmarks.scale import (
    DBT_BUILD,
    PUBLISH,
    Run,
    Workspace,
    fleet_plan,
    fmt_rss,
    fmt_seconds,
    machine,
    parse_size,
    size_label,
    summarise,
)
from lakehouse.lake import size_text
from ml.config import REPO_ROOT

DEFAULT_OUTPUT = REPO_ROOT / "data" / "benchmarks" / "change_log_growth.json"
MINUTES_PER_YEAR = 525_600
FOLDERS = ("plain", "grown")
STEPS = (  # (key, label) in table order
    ("noop_build", "no-op build"),
    ("delivery_build", "+ one file: build"),
    ("delivery_publish", "+ one file: publish"),
)
FEATURE_TABLE = "gold.fct_unit_cycle_features"


def grow_change_logs(warehouse: Path, ticks: int, units_per_tick: int) -> dict:
    """Append `ticks` ticks of `units_per_tick` units each to the change logs of `warehouse`, one minute
    apart, the last a minute before its earliest change-log row; the units (those the reading-change log
    knows) taken in turn. `silver.unit_rewrites` gets each tick's units under every model name it holds.
    Returns the rows added per table and the time span."""
    if ticks < 1 or units_per_tick < 1:
        raise ValueError(f"need ticks >= 1 and units_per_tick >= 1, got {ticks} and {units_per_tick}")
    with duckdb.connect(str(warehouse)) as con:
        earliest = con.execute("select min(changed_at) from silver.int_unit_change_log").fetchone()[0]
        models = [
            m for (m,) in con.execute("select distinct model_name from silver.unit_rewrites order by 1").fetchall()
        ]
        if earliest is None or not models:
            raise SystemExit(f"{warehouse}: no change-log rows or no rewrites yet; build a delivery first")
        con.execute(
            "create temp table fleet_units as select row_number() over (order by unit_id) - 1 as position, * "
            "from (select distinct unit_id, dataset, split, unit_number from silver.int_unit_reading_changes)"
        )
        con.execute(
            "create temp table history as select "
            "? - to_minutes(? - tick) as changed_at, fleet_units.* exclude (position) "
            "from range(?) ticks(tick), range(?) slots(slot), fleet_units "
            "where fleet_units.position = (tick * ? + slot) % (select count(*) from fleet_units)",
            [earliest, ticks, ticks, units_per_tick, units_per_tick],
        )
        con.execute(
            "insert into silver.int_unit_reading_changes by name "
            "select unit_id, dataset, split, unit_number, changed_at from history order by changed_at"
        )
        con.execute(
            "insert into silver.int_unit_change_log by name select changed_at, unit_id, "
            "true as has_reading_change, false as has_baseline_change, false as has_registry_change, "
            "false as has_truth_change, false as has_score_change, false as is_full_rebuild "
            "from history order by changed_at"
        )
        con.execute(
            "insert into silver.unit_rewrites by name select model_name, unit_id, changed_at as rewritten_at "
            "from history, unnest(?::varchar[]) models(model_name) order by changed_at",
            [models],
        )
        rows, first, last = con.execute("select count(*), min(changed_at), max(changed_at) from history").fetchone()
        con.execute("checkpoint")
    return {
        "rows_per_log": rows,
        "unit_rewrites_rows": rows * len(models),
        "models": models,
        "from": first.isoformat(),
        "to": last.isoformat(),
    }


def log_rows(warehouse: Path) -> dict[str, int]:
    tables = ("int_unit_reading_changes", "int_unit_change_log", "unit_rewrites")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {t: con.execute(f"select count(*) from silver.{t}").fetchone()[0] for t in tables}


def latest_changes(warehouse: Path) -> tuple[list[str], int]:
    """The units the latest build logged, and the feature table's rows."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        units = con.execute(
            "select unit_id from silver.int_unit_change_log "
            "where changed_at = (select max(changed_at) from silver.int_unit_change_log) order by unit_id"
        ).fetchall()
        rows = con.execute(f"select count(*) from {FEATURE_TABLE}").fetchone()[0]
    return [u for (u,) in units], rows


def prepare(root: Path, readings: int, ticks: int, units_per_tick: int) -> tuple[dict[str, Workspace], dict]:
    """The plain folder built, published and given one delivery; the grown one its copy with the history."""
    plain = Workspace(root / "plain")
    specs = fleet_plan(readings)
    plain.land(specs)
    for key, command in (("first_build", DBT_BUILD), ("first_publish", PUBLISH)):
        plain.run(key, command)
    plain.land_delivery(specs[0].test_units)
    for key, command in (("warm_build", DBT_BUILD), ("warm_publish", PUBLISH)):
        plain.run(key, command)
    shutil.copytree(plain.root, root / "grown", symlinks=True, ignore=shutil.ignore_patterns("dbt_target", "dbt_logs"))
    grown = Workspace(root / "grown")
    started = time.perf_counter()
    # in a process of its own: DuckDB's buffers would stay in this one, and every step forked from it
    # would start with them in its peak RSS
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        history = pool.apply(grow_change_logs, (grown.warehouse, ticks, units_per_tick))
    history["seconds"] = time.perf_counter() - started
    grown.run("warm_noop_build", DBT_BUILD)  # its first parse (dbt's parse holds the folder's paths), untimed
    log(
        f"history: {history['rows_per_log']:,} rows per log from {history['from']} to {history['to']}, "
        f"{history['unit_rewrites_rows']:,} in unit_rewrites ({history['seconds']:.0f} s)"
    )
    return {"plain": plain, "grown": grown}, {
        "units": sum(s.train_units + s.test_units for s in specs),
        "history": history,
    }


def measure(folders: dict[str, Workspace], own_test_units: int, repeats: int) -> tuple[dict, list[dict]]:
    runs: dict[str, dict[str, list[Run]]] = {name: {key: [] for key, _ in STEPS} for name in FOLDERS}
    checks = []

    def step(name: str, key: str, command: tuple[str, ...], repeat: int) -> None:
        run = folders[name].run(f"{key}_{repeat + 1}", command)
        runs[name][key].append(run)
        silver_gold = "" if run.dbt_silver_gold_seconds is None else f", silver+gold {run.dbt_silver_gold_seconds:.1f}s"
        log(f"[{name}] {key} {repeat + 1}: {run.wall_seconds:.1f}s{silver_gold}")

    for repeat in range(repeats):
        order = FOLDERS if repeat % 2 == 0 else FOLDERS[::-1]
        for name in order:
            step(name, "noop_build", DBT_BUILD, repeat)
        for name in order:
            folders[name].land_delivery(own_test_units)  # the same numbering, so the same file in both
            step(name, "delivery_build", DBT_BUILD, repeat)
            step(name, "delivery_publish", PUBLISH, repeat)
        after = {name: latest_changes(folders[name].warehouse) for name in FOLDERS}
        if after["plain"] != after["grown"]:
            raise SystemExit(f"round {repeat + 1}: the folders' delivery builds differ: {after}")
        checks.append({"round": repeat + 1, "units_logged": len(after["plain"][0]), "feature_rows": after["plain"][1]})
    steps = {name: {key: summarise(measured) for key, measured in runs[name].items()} for name in FOLDERS}
    return steps, checks


def render(result: dict) -> str:
    steps, history = result["steps"], result["fleet"]["history"]
    repeats = result["settings"]["repeats"]
    lines = [
        f"Change-log growth: a {result['settings']['readings']} fleet ({result['fleet']['units']:,} units), "
        f"plain vs grown by {history['rows_per_log']:,} rows per log "
        f"({history['unit_rewrites_rows']:,} in unit_rewrites); medians (min-max) of {repeats} rounds",
        "",
        f"{'step':<24}{'plain':>22}{'grown':>22}{'grown/plain':>13}",
    ]
    for key, label in STEPS:
        plain, grown = steps["plain"][key], steps["grown"][key]
        lines.append(
            f"{label:<24}{fmt_seconds(plain):>22}{fmt_seconds(grown):>22}"
            f"{fmt_ratio(ratio(grown['wall_seconds'], plain['wall_seconds'])):>13}"
        )
        cpu = ratio(grown["cpu_seconds"], plain["cpu_seconds"])
        lines.append(f"{'  CPU':<24}{plain['cpu_seconds']:>21.1f}s{grown['cpu_seconds']:>21.1f}s{fmt_ratio(cpu):>13}")
        if plain["dbt_silver_gold_seconds"] is not None:
            a, b = plain["dbt_silver_gold_seconds"], grown["dbt_silver_gold_seconds"]
            lines.append(f"{'  silver + gold models':<24}{a:>21.2f}s{b:>21.2f}s{fmt_ratio(ratio(b, a)):>13}")
        lines.append(f"{'  peak RSS':<24}{fmt_rss(plain):>22}{fmt_rss(grown):>22}")
    sizes = result["warehouse_bytes"]
    lines += [
        "",
        f"warehouse file: plain {size_text(sizes['plain'])}, grown {size_text(sizes['grown'])}",
        f"log rows at the end: plain {result['log_rows']['plain']}, grown {result['log_rows']['grown']}",
    ]
    busiest = max(s["max_load_average"] for folder in steps.values() for s in folder.values())
    lines += noisy_machine_warning(busiest, result["environment"]["cpus"])
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.change_log_growth",
        description="builds and publishes with and without a long change-log history (module docstring)",
    )
    parser.add_argument("--readings", type=parse_size, default=parse_size("200k"), help="fleet size (200k)")
    parser.add_argument("--ticks", type=int, default=MINUTES_PER_YEAR, help="ticks of history (a year of minutes)")
    parser.add_argument("--units-per-tick", type=int, default=40, help="units changed per tick of history (40)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of the measured steps (3)")
    parser.add_argument("--workdir", type=Path, help="work folder (default: a temporary one, removed)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary work folder")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the JSON result")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.repeats < 1 or args.ticks < 1 or args.units_per_tick < 1:
        raise SystemExit("need --repeats, --ticks and --units-per-tick >= 1")
    temporary = args.workdir is None
    root = Path(tempfile.mkdtemp(prefix="pdm-change-log-")) if temporary else args.workdir.resolve()
    if not temporary:
        for name in FOLDERS:
            shutil.rmtree(root / name, ignore_errors=True)  # the benchmark's own subfolders, from an earlier run
    started = time.perf_counter()
    measured_at = datetime.now(UTC).isoformat(timespec="seconds")
    project_state = git_state()
    log(f"change-log growth benchmark: {size_label(args.readings)} readings in {root}")
    try:
        folders, fleet = prepare(root, args.readings, args.ticks, args.units_per_tick)
        steps, checks = measure(folders, fleet_plan(args.readings)[0].test_units, args.repeats)
        result = {
            "benchmark": "change_log_growth",
            "measured_at": measured_at,
            "settings": {
                "readings": size_label(args.readings),
                "ticks": args.ticks,
                "units_per_tick": args.units_per_tick,
                "repeats": args.repeats,
                "build": " ".join(DBT_BUILD[1:]),
                "publish": "python -m lakehouse.publish",
            },
            "environment": {**machine(), "git": project_state},
            "fleet": fleet,
            "steps": steps,
            "checks": checks,
            "warehouse_bytes": {name: folders[name].warehouse.stat().st_size for name in FOLDERS},
            "log_rows": {name: log_rows(folders[name].warehouse) for name in FOLDERS},
            "total_seconds": time.perf_counter() - started,
        }
    finally:
        if temporary and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(render(result))
    print(f"\n(total {result['total_seconds']:.0f}s)")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
