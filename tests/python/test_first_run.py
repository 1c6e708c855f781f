"""What a newcomer's first `make run` meets, on real dbt builds: the dirty sample fleet builds green and shows
the quarantine; `dbt show` of the shipped analysis; the summary counts the tests of the build it summarises;
`make docs` from a fresh clone, with the exposures (the ML loop, the publish, the dashboard) in the lineage;
the first watcher tick after a build it did not run; what `make run` hands over to the watcher.

One tiny fleet with the dirty files (`ml.simulate.land_dirty_files`), built once for the module.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lakehouse import watch_handover
from lakehouse.publish import publish
from lakehouse.watch import state_path
from ml import summary
from ml.config import REPO_ROOT
from ml.simulate import DIRTY_LINE_RULES, FleetSpec, land_dirty_files
from tests.python.conftest import Environment
from tests.python.test_lakehouse_watch import TICK_LINE, dbt_traces, deliver, lines_of, once

pytestmark = pytest.mark.dbt

RUN = "make-run-test"  # the hand-over's run id (`make run` passes its own)
TINY = FleetSpec(dataset="FD101", train_units=3, test_units=3, conditions=1, fault_modes=1, seed=3)
EXPOSURES = {
    "fleet_dashboard": "dashboard",
    "ml_train": "ml",
    "ml_predict": "ml",
    "ml_monitor": "ml",
    "delta_publish": "application",
}


@pytest.fixture(scope="module")
def dirty(module_environment: Environment):
    env = module_environment
    env.land(TINY)
    files = land_dirty_files(env.paths.landing, TINY.dataset)
    # the build `make run` runs, after signing what it takes in for the watcher (`watch_handover begin`): no
    # lenient vars, so an error-severity test failing fails it
    watch_handover.begin(env.paths, RUN)
    env.landing_build = env.build()
    shutil.copy(env.paths.data_dir / "dbt_target" / "run_results.json", env.paths.data_dir / "build_results.json")
    return env, files


def test_the_dirty_sample_fleet_builds_green_with_every_bad_line_quarantined(dirty) -> None:
    env, files = dirty
    out = env.landing_build.stdout
    assert re.search(r"ERROR=0 ", out), out[-2000:]
    # the build warns, naming the hostile files
    for warning in ("files_quarantined_share_below_warn_limit", "landed_file_names_are_recognised"):
        assert any(warning in line and "WARN" in line for line in out.splitlines()), warning
    rules = env.query(
        "select rejection_rule from bronze.stg_cmapss__quarantined_lines "
        f"where file_name = '{files.resent.name}' order by line_number"
    )
    assert [rule for (rule,) in rules] == list(DIRTY_LINE_RULES)
    for name, outcomes in files.outcomes.items():
        got = dict(env.query(f"select outcome, line_count from gold.mart_data_quality where file_name = '{name}'"))
        assert got == outcomes, name


def test_the_dirty_files_leave_the_feature_table_as_the_clean_fleet_makes_it(dirty) -> None:
    env, _ = dirty
    # the re-sent good lines are copies: unit 1 keeps one row per cycle of train_FD101.txt, none from the bad lines
    cycles = _train_cycles(env, 1)
    assert env.query(
        "select count(*), count(distinct cycle), min(cycle), max(cycle) "
        "from gold.fct_unit_cycle_features where unit_id = 'FD101-train-001'"
    ) == [(len(cycles), len(cycles), 1, max(cycles))]
    assert env.scalar("select count(distinct dataset) from gold.fct_unit_cycle_features") == 1


def _train_cycles(env: Environment, unit: int) -> list[int]:
    lines = (env.paths.landing / f"train_{TINY.dataset}.txt").read_text().splitlines()
    return [int(parts[1]) for parts in (line.split() for line in lines) if int(parts[0]) == unit]


def test_dbt_show_runs_the_shipped_analysis(dirty) -> None:
    env, _ = dirty
    shown = env.dbt("show", "-s", "units_needing_attention", "--target", "ci", "--limit", "10", "--output", "json")
    rows = json.loads(shown.stdout[shown.stdout.index("{") : shown.stdout.rindex("}") + 1])["show"]
    expected = env.query(
        "select unit_id from gold.mart_fleet_health where not is_run_to_failure "
        "order by failure_probability desc nulls last, degradation_index_mean_w10 desc, unit_id"
    )
    assert [row["unit_id"] for row in rows] == [unit for (unit,) in expected][:10]
    assert [row["attention_rank"] for row in rows] == list(range(1, len(rows) + 1))


def test_the_summary_counts_the_tests_of_the_build_it_is_given(dirty, monkeypatch, capsys) -> None:
    env, _ = dirty
    latest = env.paths.data_dir / "dbt_target" / "run_results.json"
    if json.loads(latest.read_text())["args"]["which"] == "build":  # the test above did not run first
        env.dbt("show", "-s", "units_needing_attention", "--target", "ci")
    for name, value in env.env.items():
        if name.startswith(("PDM_", "DBT_")):
            monkeypatch.setenv(name, value)
    # dbt show rewrote the target's run_results.json, the summary's default: it names it and does not count it
    shown = summary.test_results(summary.dbt_target_path() / "run_results.json")
    assert not shown.counts
    assert "holds the results of `dbt show" in shown.note and "not of a build: tests not counted" in shown.note
    # given the build's own results (what `make run` passes), it counts them and says whose they are
    built = env.paths.data_dir / "build_results.json"
    assert summary.main(["--run-results", str(built)]) == 0
    out = " ".join(capsys.readouterr().out.split())  # unwrapped
    # and the dirty files' quarantine, by rule
    assert "quarantined lines by rule: unrecognised_file_name " in out
    assert all(f"{rule} 1" in out for rule in DIRTY_LINE_RULES)
    statuses = json.loads(built.read_text())["results"]
    passed = sum(r["status"] == "pass" for r in statuses if r["unique_id"].startswith(("test.", "unit_test.")))
    assert re.search(
        rf"tests: .*{passed} pass.*\(`dbt build --target ci` started .* UTC, {re.escape(str(built))}\)", out
    )


def test_make_docs_from_a_fresh_clone_renders_the_lineage_with_its_exposures(tmp_path: Path) -> None:
    """No warehouse: `make docs` generates the static page without a catalog and creates no file."""
    data = tmp_path / "fresh"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PDM_DATA_DIR": str(data),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    target = tmp_path / "docs"
    result = subprocess.run(
        ["make", "--no-print-directory", "docs", f"DOCS_TARGET={target}"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert f"no warehouse at {data}/warehouse/pdm.duckdb: no catalog" in result.stdout
    assert not data.exists()  # nothing created: the in-memory target
    page = (target / "static_index.html").read_text()
    manifest = json.loads((target / "manifest.json").read_text())
    for name, kind in EXPOSURES.items():
        exposure = manifest["exposures"][f"exposure.pdm_lakehouse.{name}"]
        assert exposure["type"] == kind
        assert "model.pdm_lakehouse.fct_unit_cycle_features" in exposure["depends_on"]["nodes"]
        assert f'"exposure.pdm_lakehouse.{name}"' in page  # the manifest is inlined in the page
    assert manifest["exposures"]["exposure.pdm_lakehouse.fleet_dashboard"]["url"] == "http://127.0.0.1:8050"
    assert {"model.pdm_lakehouse.mart_fleet_health", "model.pdm_lakehouse.mart_data_quality"} <= set(
        manifest["exposures"]["exposure.pdm_lakehouse.fleet_dashboard"]["depends_on"]["nodes"]
    )
    # the loop: the scores ml_predict writes are the source stg_predictions__unit_risk_scores reads
    scores = manifest["sources"]["source.pdm_lakehouse.predictions.unit_risk_scores"]
    assert "ml_predict" in scores["description"]
    assert (
        "source.pdm_lakehouse.predictions.unit_risk_scores"
        in manifest["parent_map"]["model.pdm_lakehouse.stg_predictions__unit_risk_scores"]
    )


def test_the_first_watcher_tick_after_a_build_it_did_not_run_ingests_nothing_and_claims_no_latency(dirty) -> None:
    """`make once` after a build the watcher did not run (`make build`, or a `make run` stopped before its
    hand-over): every file is new to the watcher, which has no state yet, but its build ingests none of them
    (they are in gold already), and the tick claims no landing-to-gold latency for them. Near the end of this
    module: it publishes and builds in the module's environment."""
    env, _ = dirty
    ticked = once(env)
    assert ticked.returncode == 0, ticked.stdout + ticked.stderr
    [tick] = [line for line in ticked.stdout.splitlines() if TICK_LINE.match(line)]
    files = sum(1 for path in env.paths.landing.rglob("*") if path.is_file())
    assert f"files {files} new" in tick and "; 0 lines ingested;" in tick, tick
    assert "latency" not in tick.partition(" [")[0], tick


def test_make_run_hands_what_it_took_in_over_to_the_watcher(dirty) -> None:
    """`make run`'s hand-over (`lakehouse.watch_handover`, around the module's build): `make once` after it
    finds nothing new and runs no dbt; a file landing then is what the next tick takes in, with a build of
    what it reaches and its latency. Last in this module (it builds and publishes in its environment)."""
    env, _ = dirty
    state = state_path(env.paths)
    state.unlink(missing_ok=True)  # the state an earlier test's tick left: the watcher starts after `make run`
    publish(env.paths.warehouse, env.paths.lake)
    watch_handover.scores(env.paths, RUN)
    said = watch_handover.commit(env.paths, RUN)
    assert said.startswith(f"watch: what this run took in is handed over to the watcher ({state})"), said
    assert not watch_handover.handover_path(env.paths).exists()
    assert json.loads(state.read_text())["handed_over_by"] == "make run"

    traces = dbt_traces(env)
    # the one thing due: the lake's vacuum, which no watcher ran in this data folder yet (no dbt)
    vacuumed = once(env)
    assert vacuumed.returncode == 0, vacuumed.stdout + vacuumed.stderr
    assert re.fullmatch(r"\d\d:\d\d:\d\d lake vacuum at a quiet moment: nothing to delete\n", vacuumed.stdout)
    quiet = once(env)
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert quiet.stdout.startswith(f"once: nothing new in {env.paths.landing} since `make run` of "), quiet.stdout
    assert dbt_traces(env) == traces, "the watcher ran dbt for what `make run` had taken in"

    delivered = deliver(env, 1)
    ticked = once(env)
    assert ticked.returncode == 0, ticked.stdout + ticked.stderr
    [tick] = [line for line in ticked.stdout.splitlines() if TICK_LINE.match(line)]
    assert "files 1 new, 0 changed" in tick and f"; {lines_of(delivered):,} lines ingested;" in tick, tick
    assert re.search(r"; latency [0-9.]+ s to gold \[", tick), tick
    # a continuation: the build selected what the landed data files reach, not every node
    build = json.loads((env.paths.data_dir / "dbt_target" / "run_results.json").read_text())["args"]
    assert build["select"] == ["source:cmapss.sensor_files+", "source:cmapss.rul_files+"], build
    assert json.loads(state.read_text())["handed_over_by"] is None
