"""The dashboard in a real browser: `make test-dashboard` (part of `make test`).

A small fleet goes through make run's chain (build, publish, train, score, monitor, feed-back build,
publish) in a throw-away environment; `python -m dashboard` serves it on a free port; headless Chromium
(Debian's `chromium` + `chromium-driver`, driven by Selenium, no driver download) opens every page. It
checks the fleet page ranks first the unit the mart ranks first, that unit's chart is drawn with its
data, the data-quality and model pages show what gold holds, and a publish reaches an open page with no
reload, all while a write connection holds the warehouse (the dashboard never opens it). Screenshots
go to target/test-artifacts/dashboard/ (env PDM_TEST_ARTIFACTS: another folder), printed at the end.

This folder is outside pyproject's testpaths, so the core `make pytest` run does not collect it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from plotly.utils import PlotlyJSONEncoder
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from dashboard.app import render
from dashboard.queries import landed_files, open_analysts
from lakehouse.analysts import default_database
from lakehouse.lake import connect, mart_path
from lakehouse.publish import publish
from lakehouse.restore import restore
from ml.config import REPO_ROOT
from ml.monitor import monitor
from ml.predict import score_all
from ml.simulate import FleetSpec
from ml.train import TrainConfig, train
from tests.python.conftest import Environment, make_environment

pytestmark = [pytest.mark.dbt, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(os.environ.get("PDM_TEST_ARTIFACTS") or REPO_ROOT / "target" / "test-artifacts" / "dashboard")
FLEET = FleetSpec(dataset="FD101", train_units=10, test_units=5, conditions=1, fault_modes=1, seed=21)
# appended to the test file: a truncated line, a blank line, a line with a non-numeric token in too few columns
HOSTILE_LINES = "1 abc 0.1\n\n3 12,5 x\n"
NO_SETTLE = ("--vars", "{landing_settle_seconds: 0}")
WAIT_S = 30


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Environment:
    """make run's chain on a small fleet with three hostile lines: gold with scores and drift, published."""
    environment = make_environment(tmp_path_factory.mktemp("dashboard"))
    paths = environment.paths
    environment.land(FLEET)
    with open(paths.landing / "test_FD101.txt", "a") as handle:
        handle.write(HOSTILE_LINES)
    environment.build(*NO_SETTLE)
    publish(paths.warehouse, paths.lake)
    features = mart_path(paths.lake, "fct_unit_cycle_features")
    train(features, paths.mlflow, config=dataclasses.replace(TrainConfig.fast(), plots=False))
    score_all(features, paths.mlflow, paths.predictions)
    monitor(features, paths.mlflow, paths.predictions)
    environment.build(
        *NO_SETTLE, "--select", "stg_predictions__unit_risk_scores+", "stg_predictions__model_monitoring+"
    )
    publish(paths.warehouse, paths.lake)
    return environment


def analysts(environment: Environment, sql: str) -> list[tuple]:
    """What the mart says, read the way an analyst reads it (`make sql`)."""
    with connect(default_database(environment.paths.lake), read_only=True) as con:
        return con.execute(sql).fetchall()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(published: Environment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m dashboard` on a free port over the environment's lake; its URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "dashboard.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "dashboard", "--port", str(port), "--refresh-seconds", "1"],
            cwd=REPO_ROOT,
            env=published.env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the dashboard did not serve {url}:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:  # `make test-dashboard` installs them; a bare pytest run must fail, not skip
        raise AssertionError(f"{', '.join(missing)} missing: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1300,1700"):
        options.add_argument(argument)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_OFFLINE", "true")  # Selenium Manager, were it consulted, must not download anything
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def wait_for(driver: webdriver.Chrome, css: str, what: str):
    """The first element matching `css`, once present; the failure names what was awaited."""
    return WebDriverWait(driver, WAIT_S, ignored_exceptions=(Exception,)).until(
        lambda d: d.find_element(By.CSS_SELECTOR, css), message=f"{what} ({css}) never appeared"
    )


def cell_texts(driver: webdriver.Chrome, table_id: str, column: int) -> list[str]:
    """One column of a table, read in one step (a refresh can replace the page between two reads)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), cell => cell.innerText.trim());",
        f"#{table_id} tbody tr td:nth-child({column})",
    )


def test_pages_show_the_published_gold(published: Environment, server: str, browser: webdriver.Chrome) -> None:
    # expected from the marts, read the way an analyst reads them
    ranked = [
        unit
        for (unit,) in analysts(
            published,
            "select unit_id from gold.mart_fleet_health where not is_run_to_failure "
            "order by failure_probability desc nulls last, degradation_index_mean_w10 desc nulls last, unit_id",
        )
    ]
    assert len(ranked) == FLEET.test_units
    first = ranked[0]
    ((cycles, classifier),) = analysts(
        published,
        "select count(*), any_value(h.classifier_version) from gold.fct_unit_cycle_features as f "
        f"join gold.mart_fleet_health as h using (unit_id) where unit_id = '{first}'",
    )
    rules = sorted(
        r for (r,) in analysts(published, "select distinct outcome from gold.mart_data_quality where is_quarantined")
    )
    assert rules  # the hostile lines were quarantined

    # a write connection holds the warehouse for the whole browsing: the dashboard never needs it
    with duckdb.connect(str(published.paths.warehouse)):
        browser.get(server + "/")
        wait_for(browser, "#fleet-units tbody tr", "the fleet table")
        assert cell_texts(browser, "fleet-units", 2) == ranked  # most at risk first, as the mart ranks them
        wait_for(browser, "#fleet-bands .main-svg", "the health-band chart")
        wait_for(browser, "#fleet-freshness tbody tr", "the freshness table")
        versions = dict(zip(cell_texts(browser, "delta", 1), cell_texts(browser, "delta", 2), strict=True))
        assert versions["gold.mart_fleet_health"] == "1"  # v0 built before scoring, v1 with the scores
        screenshot(browser, "fleet")

        browser.find_element(By.LINK_TEXT, first).click()
        wait_for(browser, "#unit-chart .main-svg g.trace.scatter path.js-line", "the unit chart's lines")
        assert browser.current_url == f"{server}/unit/{first}"
        assert browser.find_element(By.ID, "unit-title").text == f"Unit {first}"
        lines = browser.find_elements(By.CSS_SELECTOR, "#unit-chart g.trace.scatter path.js-line")
        assert len(lines) == 6  # four key sensors, the degradation index and its 10-cycle mean
        points = [line.get_attribute("d").count("L") + 1 for line in lines]
        assert min(points) > cycles // 4 and max(points) <= cycles, (points, cycles)  # (plotly drops collinear points)
        wait_for(browser, "#unit-risk .main-svg", "the failure-probability gauge")
        assert "predicted failure: cycle" in browser.find_element(By.ID, "unit-chart").text
        assert len(cell_texts(browser, "unit-registry", 1)) >= 1
        screenshot(browser, "unit")
        browser.get(f"{server}/unit/FD101-test-999")
        assert "unit FD101-test-999 is not in gold.mart_fleet_health" in wait_for(browser, "#unit-missing", "").text

        browser.find_element(By.ID, "nav-data-quality").click()
        wait_for(browser, "#quarantine-table tbody tr", "the quarantine table")
        assert sorted(set(cell_texts(browser, "quarantine-table", 3))) == rules
        assert set(cell_texts(browser, "quarantine-table", 1)) == {"test_FD101.txt"}
        assert sorted(cell_texts(browser, "landed-files", 1)) == ["RUL_FD101.txt", "test_FD101.txt", "train_FD101.txt"]
        screenshot(browser, "data-quality")

        browser.find_element(By.ID, "nav-model").click()
        wait_for(browser, "#psi-chart .main-svg", "the drift chart")
        champion = dict(zip(cell_texts(browser, "champion", 1), cell_texts(browser, "champion", 2), strict=True))
        assert champion["classifier_version"] == classifier
        assert champion["training_delta_version"] == "0"
        # the champions' metrics, from the MLflow store: the classifier's and the regressor's test metrics
        metrics = cell_texts(browser, "champion-metrics", 5)
        assert {"cv_roc_auc", "test_f1", "cv_rmse", "test_rmse", "test_phm08_score"} <= set(metrics), metrics
        assert set(cell_texts(browser, "champion-metrics", 4)) == {"0"}
        screenshot(browser, "model")

        # a publish while the fleet page is open reaches it with no reload: restoring the pre-scoring version
        browser.find_element(By.ID, "nav-fleet").click()
        wait_for(browser, "#fleet-units tbody tr", "the fleet table")
        restore(published.paths.lake, "mart_fleet_health", version=0)
        WebDriverWait(browser, WAIT_S, ignored_exceptions=(Exception,)).until(
            lambda d: (
                dict(zip(cell_texts(d, "delta", 1), cell_texts(d, "delta", 2), strict=True)).get(
                    "gold.mart_fleet_health"
                )
                == "2"
            ),
            message="the open fleet page never showed mart_fleet_health v2 after the restore",
        )
        assert set(cell_texts(browser, "fleet-units", 8)) == {"not scored"}
        screenshot(browser, "fleet-after-restore")
    print(f"dashboard screenshots: {ARTIFACTS}")


def page_text(components: list) -> str:
    """Everything a rendered page would show, as one string (the component tree as JSON)."""
    return json.dumps(components, cls=PlotlyJSONEncoder)


def test_a_missing_analysts_database_is_named_on_the_page(tmp_path: Path) -> None:
    missing = tmp_path / "lake" / "analysts.duckdb"
    for page in ("/", "/unit/FD101-test-001", "/data-quality", "/model"):
        text = page_text(render(missing, page))
        assert f"no analysts' database at {missing}: nothing is published yet" in text, text


def test_a_table_not_published_yet_is_named_and_the_other_sections_render(tmp_path: Path) -> None:
    """A lake where only the refresh record and the version list exist: each section names its missing table."""
    database = tmp_path / "analysts.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("create schema gold")
        con.execute("create table analysts_refreshes as select 'lake' as lake, now() as refreshed_at, 0 as tables")
        con.execute(
            "create table delta_versions (layer varchar, table_name varchar, version bigint, "
            "committed_at timestamptz, operation varchar, row_count bigint, fingerprint varchar, is_pinned boolean)"
        )
    fleet = page_text(render(database, "/"))
    assert f"gold.mart_fleet_health is not published yet (not in {database})" in fleet
    assert f"gold.mart_pipeline_freshness is not published yet (not in {database})" in fleet
    assert '"id": "delta"' in fleet  # the version list still renders (empty)
    no_store = tmp_path / "mlruns"
    model = page_text(render(database, "/model", mlflow_dir=no_store))
    assert f"gold.mart_model_monitoring is not published yet (not in {database})" in model
    assert f"no MLflow store at {no_store / 'mlflow.db'}: no model trained yet" in model
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "mlflow.db").write_bytes(b"not an sqlite database " * 100)
    model = page_text(render(database, "/model", mlflow_dir=damaged))
    assert f"reading the MLflow store {damaged / 'mlflow.db'} failed" in model
    assert f"gold.mart_model_monitoring is not published yet (not in {database})" in model
    unit = page_text(render(database, "/unit/FD101-test-001"))
    assert f"gold.mart_fleet_health is not published yet (not in {database})" in unit


def test_a_bad_port_or_refresh_interval_stops_with_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make dashboard PORT=…` / `python -m dashboard`: exit 2 naming the setting, before any server starts (a PORT
    that is not a number was an int() traceback at start, a port past 65535 Dash's AssertionError, a NaN refresh
    interval a server whose every page load failed)."""
    from dashboard.__main__ import main

    monkeypatch.setenv("PORT", "abc")
    assert main([]) == 2
    assert "dashboard: PORT must be a port number from 1 to 65535, not 'abc'" in capsys.readouterr().err
    monkeypatch.delenv("PORT")
    for argv, said in (
        (["--port", "99999"], "--port must be a port number from 1 to 65535, not '99999'"),
        (["--port", "0"], "--port must be a port number from 1 to 65535, not '0'"),
        (["--refresh-seconds", "nan"], "--refresh-seconds must be a positive number, not nan"),
    ):
        assert main(argv) == 2, argv
        assert f"dashboard: {said}" in capsys.readouterr().err


def test_a_unit_scored_before_decisions_were_recorded_gets_its_page(tmp_path: Path) -> None:
    """A score file from before ml.predict recorded the decision (read by the build: no decision, the rule's band)
    leaves is_predicted_to_fail null: the unit page drew its gauge from `bool(pd.NA)`, a TypeError, no page."""
    database = tmp_path / "analysts.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("create schema gold")
        con.execute("create table analysts_refreshes as select 'lake' as lake, now() as refreshed_at, 0 as tables")
        con.execute(
            """
            create table gold.mart_fleet_health as select
                'FD101-test-001' as unit_id, 'FD101' as dataset, 'test' as split, 'CFM56-7B' as equipment_model_code,
                'AMS' as site_code, '1.0' as firmware_version, false as is_run_to_failure, 50 as latest_cycle,
                0.2 as share_of_rated_life_used, 'watch' as health_band, 0.9 as degradation_index_mean_w10,
                0.8 as failure_probability, null::double as decision_threshold, null::boolean as is_predicted_to_fail,
                20.0 as predicted_rul, 50 as scored_cycle, true as is_score_current,
                now()::timestamp as scored_at, '1' as classifier_version, '1' as regressor_version
            """
        )
    text = page_text(render(database, "/unit/FD101-test-001"))
    assert '"id": "unit-risk"' in text, text
    assert "P(fails within horizon)" in text


def test_units_in_the_unknown_band_are_counted_on_the_fleet_page(tmp_path: Path) -> None:
    """mart_fleet_health's `unknown` band (no degradation index to judge by): the chart and table of units per band
    listed normal, watch and alert only, so its units were missing from the counts."""
    database = tmp_path / "analysts.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("create schema gold")
        con.execute("create table analysts_refreshes as select 'lake' as lake, now() as refreshed_at, 0 as tables")
        con.execute(
            """
            create table gold.mart_fleet_health as
            select 'FD101-test-00' || i as unit_id, 'CFM56-7B' as equipment_model_code, 'AMS' as site_code,
                   false as is_run_to_failure, 50 as latest_cycle, 0.2 as share_of_rated_life_used,
                   band as health_band, null::boolean as is_predicted_to_fail, null::double as failure_probability,
                   null::double as decision_threshold, null::double as predicted_rul, null::boolean as is_score_current,
                   degradation as degradation_index_mean_w10
            from (values (1, 'normal', 0.1), (2, 'unknown', null), (3, 'unknown', null)) as units(i, band, degradation)
            """
        )
    text = page_text(render(database, "/"))

    def graph_data(node: object) -> list | None:  # the data of the figure of the graph with id fleet-bands
        if isinstance(node, dict):
            if node.get("props", {}).get("id") == "fleet-bands":
                return node["props"]["figure"]["data"]
            node = list(node.values())
        for child in node if isinstance(node, list) else []:
            if (found := graph_data(child)) is not None:
                return found
        return None

    bands = graph_data(json.loads(text))
    assert [(bar["name"], bar["x"], bar["y"]) for bar in bands] == [
        ("not scored", ["normal", "watch", "alert", "unknown"], [1, 0, 0, 2])
    ], bands
    assert '"children": "unknown"' in text  # the table's row


def test_landed_files_say_zero_lines_quarantined_not_unknown(tmp_path: Path) -> None:
    """The data-quality page's landed files: a clean file showed lines_quarantined as null ("—", unknown), a file
    quarantined whole lines_kept as null; both are 0."""
    database = tmp_path / "analysts.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("create schema gold")
        con.execute(
            """
            create table gold.mart_pipeline_freshness as
            select file_version_id, file_name, 'sensor_readings' as file_kind, 'FD101' as dataset, 'test' as split,
                   'ingested' as ingestion_status, 'scored' as pipeline_stage,
                   now()::timestamp as landed_at, now()::timestamp as ingested_at
            from (values ('v1', 'test_FD101.txt'), ('v2', 'readme.txt')) as files(file_version_id, file_name)
            """
        )
        con.execute(
            """
            create table gold.mart_data_quality as
            select * from (values ('v1', false, 100), ('v2', true, 11))
                as quality(file_version_id, is_quarantined, line_count)
            """
        )
    with open_analysts(database) as con:
        frame = landed_files(con).set_index("file_name")
    assert frame.loc["test_FD101.txt", ["lines", "lines_kept", "lines_quarantined"]].tolist() == [100, 100, 0]
    assert frame.loc["readme.txt", ["lines", "lines_kept", "lines_quarantined"]].tolist() == [11, 0, 11]


def test_a_database_that_is_not_the_analysts_one_is_named_as_such(tmp_path: Path) -> None:
    """PDM_ANALYSTS_DB (or --analysts-db) at another DuckDB file, the warehouse say: every page said
    "analysts_refreshes is not published yet", as if a publish would fix it."""
    warehouse = tmp_path / "pdm.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema gold; create table gold.mart_fleet_health (unit_id varchar)")
    for page in ("/", "/unit/FD101-test-001", "/data-quality", "/model"):
        text = page_text(render(warehouse, page))
        assert f"{warehouse} is not an analysts' database (it has no analysts_refreshes table" in text, text
        assert "not published yet" not in text
