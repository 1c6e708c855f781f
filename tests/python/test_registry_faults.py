"""Registry and RUL-truth faults (issue 8, cases 1, 3, 4 and 10) on real files and real `dbt build`s.

One tiny fleet is built once; each fixture below applies one fault to its landing folder, runs the
real builds and restores the good files, in a fixed order (each depends on the one before), so the
tests share a warehouse and the module stays lean.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from dataclasses import dataclass

import pandas as pd
import pytest

from ml.simulate import FleetSpec, read_registry, registry_path, write_registry
from tests.python.conftest import Environment

pytestmark = pytest.mark.dbt

FLEET = FleetSpec(dataset="FD301", train_units=2, test_units=3, conditions=1, fault_modes=1, seed=1)
SNAPSHOT = "select * from snapshots.snap_equipment_registry order by all"
# The snapshot and what it is built from (the extract, the catalogue) with their tests: enough to
# show a fault stopping the snapshot, at a fraction of a full build's time.
UP_TO_SNAPSHOT = ("--select", "+snap_equipment_registry")
HISTORY = (
    "select version_number, site_code, firmware_version, valid_from_rule, valid_from, valid_to, is_current "
    "from gold.dim_unit_registry_history where unit_id = '{}' order by version_number"
)
FLEET_HEALTH_REGISTRY = "select is_registered, is_in_current_registry from gold.mart_fleet_health where unit_id = '{}'"


@dataclass
class Baseline:
    env: Environment
    registry: pd.DataFrame
    snapshot: list[tuple]
    rul_text: bytes


@dataclass
class Edited:
    builds: list[subprocess.CompletedProcess[str]]  # the build after the edits, the build after the put-back
    removed_fleet_health: list[tuple]  # FLEET_HEALTH_REGISTRY of the removed unit after the first build


def unit_row(registry: pd.DataFrame, split: str, unit_number: int) -> pd.Series:
    return (registry["split"] == split) & (registry["unit_number"] == unit_number)


@pytest.fixture(scope="module")
def baseline(module_environment: Environment) -> Baseline:
    env = module_environment
    env.land(FLEET)
    env.build()
    return Baseline(
        env=env,
        registry=read_registry(registry_path(env.paths.landing)),
        snapshot=env.query(SNAPSHOT),
        rul_text=(env.paths.landing / "RUL_FD301.txt").read_bytes(),
    )


@pytest.fixture(scope="module")
def vanished(baseline: Baseline) -> dict[str, tuple[subprocess.CompletedProcess[str], list[tuple]]]:
    """The extract header-only, then missing, then back (a full build): each build's result and the
    snapshot after it."""
    env, path = baseline.env, registry_path(baseline.env.paths.landing)
    good = path.read_bytes()
    results = {}
    path.write_bytes(good.splitlines(keepends=True)[0])
    results["header_only"] = (env.build(*UP_TO_SNAPSHOT, check=False), env.query(SNAPSHOT))
    path.unlink()
    results["missing"] = (env.build(*UP_TO_SNAPSHOT, check=False), env.query(SNAPSHOT))
    path.write_bytes(good)
    results["back"] = (env.build(check=False), env.query(SNAPSHOT))
    return results


def test_a_missing_or_empty_registry_extract_stops_the_build_and_keeps_history(
    baseline: Baseline, vanished: dict
) -> None:
    path = registry_path(baseline.env.paths.landing)
    for case, state in (("header_only", "has no rows (empty or header only)"), ("missing", "is missing")):
        result, snapshot = vanished[case]
        assert result.returncode != 0, case
        assert f"The registry extract {path} {state}" in result.stdout
        assert "holds 5 units: refusing to record every unit as removed" in result.stdout
        assert "ERROR snapshotting snapshots.snap_equipment_registry" in result.stdout
        assert snapshot == baseline.snapshot  # no unit closed
    result, snapshot = vanished["back"]
    assert result.returncode == 0, result.stdout[-3000:]
    assert snapshot == baseline.snapshot
    assert baseline.env.scalar("select count(*) from gold.dim_unit_registry_history where not is_current") == 0


@pytest.fixture(scope="module")
def edited(baseline: Baseline, vanished: dict) -> Edited:
    """Test unit 1 removed; train unit 1's firmware changed with updated_at unchanged; train unit 2
    relocated with updated_at set back a day. Then test unit 1 put back as it was."""
    env, path = baseline.env, registry_path(baseline.env.paths.landing)
    registry = baseline.registry.copy()
    registry.loc[unit_row(registry, "train", 1), "firmware_version"] = "9.9.9"
    moved = unit_row(registry, "train", 2)
    registry.loc[moved, "site_code"] = "XXX"
    registry.loc[moved, "updated_at"] -= pd.Timedelta(days=1)
    write_registry(registry[~unit_row(registry, "test", 1)], path)
    removed = env.build(check=False)
    removed_row = env.query(FLEET_HEALTH_REGISTRY.format("FD301-test-001"))
    write_registry(registry, path)
    put_back = env.build(check=False)
    return Edited([removed, put_back], removed_row)


def test_a_unit_removed_and_put_back_gets_a_new_version(baseline: Baseline, edited: Edited) -> None:
    env = baseline.env
    assert [result.returncode for result in edited.builds] == [0, 0], edited.builds[-1].stdout[-3000:]
    (first, _, _, rule_1, from_1, to_1, current_1), (second, _, _, rule_2, from_2, to_2, current_2) = env.query(
        HISTORY.format("FD301-test-001")
    )
    assert (first, rule_1, current_1) == (1, "commissioning", False)
    assert (second, rule_2, current_2, to_2) == (2, "captured_at", True, None)
    assert from_1 < to_1 < from_2  # closed at the removal, a gap, then the new version
    assert edited.removed_fleet_health == [(True, False)]  # registered (it was), no longer listed
    assert env.query(FLEET_HEALTH_REGISTRY.format("FD301-test-001")) == [(True, True)]
    assert env.scalar("select is_in_current_registry from gold.dim_units where unit_id = 'FD301-test-001'")
    warned = env.query("select unit_id from dbt_test__audit.warn_registry_versions_dated_by_capture order by 1")
    assert ("FD301-test-001",) in warned


def test_a_registry_change_without_a_newer_updated_at_is_captured(baseline: Baseline, edited: Edited) -> None:
    env = baseline.env
    upgraded = env.query(HISTORY.format("FD301-train-001"))
    [old_firmware] = baseline.registry.loc[unit_row(baseline.registry, "train", 1), "firmware_version"]
    assert [(v, firmware, rule, current) for v, _, firmware, rule, _, _, current in upgraded] == [
        (1, old_firmware, "commissioning", False),
        (2, "9.9.9", "captured_at", True),
    ]
    moved = env.query(HISTORY.format("FD301-train-002"))
    assert [(v, site, rule) for v, site, _, rule, *_ in moved][1] == (2, "XXX", "captured_at")
    assert env.query("select firmware_version from gold.dim_units where unit_id = 'FD301-train-001'") == [("9.9.9",)]
    # readings already joined to version 1 stay there: the change is dated by the build that saw it
    assert (
        env.scalar(
            "select count(*) from gold.fct_unit_cycle_features as f join gold.dim_unit_registry_history as h "
            "using (registry_version_id) where f.unit_id = 'FD301-train-001' and h.version_number = 2"
        )
        == 0
    )
    messages = env.query("select failure_message from dbt_test__audit.warn_registry_versions_dated_by_capture")
    assert any("unit FD301-train-001 version 2" in message for (message,) in messages)
    assert any("unit FD301-train-002 version 2" in message for (message,) in messages)
    assert "WARN 3 warn_registry_versions_dated_by_capture" in edited.builds[-1].stdout


@pytest.fixture(scope="module")
def unknown_code(baseline: Baseline, edited: Edited) -> tuple[subprocess.CompletedProcess[str], list[tuple]]:
    env, path = baseline.env, registry_path(baseline.env.paths.landing)
    good = path.read_bytes()
    registry = read_registry(path)
    registry.loc[unit_row(registry, "test", 2), "equipment_model_code"] = "ZZ-999"
    write_registry(registry, path)
    before = env.query(SNAPSHOT)
    result = env.build(*UP_TO_SNAPSHOT, check=False)
    path.write_bytes(good)
    return result, before


def test_an_unknown_equipment_model_code_stops_the_build_naming_unit_and_code(
    baseline: Baseline, unknown_code: tuple
) -> None:
    env = baseline.env
    result, snapshot_before = unknown_code
    assert result.returncode != 0
    assert "FAIL 1 registry_equipment_model_codes_are_known" in result.stdout
    assert "SKIP relation snapshots.snap_equipment_registry" in result.stdout
    assert env.query(SNAPSHOT) == snapshot_before  # nothing recorded
    assert env.query(
        "select unit_id, equipment_model_code, failure_message "
        "from dbt_test__audit.registry_equipment_model_codes_are_known"
    ) == [
        (
            "FD301-test-002",
            "ZZ-999",
            "unit_id FD301-test-002 has equipment_model_code 'ZZ-999', which seeds/equipment_models.csv does not list",
        )
    ]


def last_cycle_truth(env: Environment) -> dict[str, int | None]:
    """Each test unit's RUL truth as its labels carry it (rul at its last observed cycle)."""
    labels = "silver.int_unit_cycle_labels where split = 'test' and is_last_observed_cycle"
    return dict(env.query(f"select unit_id, rul from {labels}"))


@pytest.fixture(scope="module")
def shifted(baseline: Baseline, unknown_code: tuple) -> dict:
    """RUL_FD301.txt with its middle line deleted, then the corrected file landed (same name)."""
    env, rul_file = baseline.env, baseline.env.paths.landing / "RUL_FD301.txt"
    lines = baseline.rul_text.splitlines(keepends=True)
    rul_file.write_bytes(b"".join(lines[:1] + lines[2:]))
    result = env.build(check=False)
    after_delete = last_cycle_truth(env)
    train_nulls = env.scalar("select count(*) from silver.int_unit_cycle_labels where split = 'train' and rul is null")
    message = env.query("select failure_message from dbt_test__audit.warn_rul_truth_matches_test_units")
    rul_file.write_bytes(baseline.rul_text)
    corrected = env.build(check=False)
    return {
        "result": result,
        "after_delete": after_delete,
        "train_nulls": train_nulls,
        "message": message,
        "corrected": corrected,
        "after_correction": last_cycle_truth(env),
    }


def test_a_rul_line_deleted_from_the_middle_leaves_the_test_labels_null(baseline: Baseline, shifted: dict) -> None:
    assert shifted["result"].returncode == 0, shifted["result"].stdout[-3000:]
    assert "WARN 1 warn_rul_truth_matches_test_units" in shifted["result"].stdout
    assert shifted["after_delete"] == {f"FD301-test-00{unit}": None for unit in (1, 2, 3)}  # none shifted
    assert shifted["train_nulls"] == 0
    [(message,)] = shifted["message"]
    assert "RUL_FD301.txt has 2 lines but FD301 has 3 test units" in message
    # the corrected file (same name) restores every unit's own truth
    assert shifted["corrected"].returncode == 0
    truth = [int(line) for line in baseline.rul_text.split()]
    assert shifted["after_correction"] == {f"FD301-test-00{unit}": truth[unit - 1] for unit in (1, 2, 3)}


def test_an_extract_with_its_columns_in_another_order_is_read_by_name(environment: Environment) -> None:
    # read_csv with `columns` reads by position: an extract whose site_code and firmware_version came
    # swapped was recorded as every unit moved to a site named like a firmware version, exit 0.
    env = environment
    env.land(FLEET)
    env.build(*UP_TO_SNAPSHOT)
    before = env.query(SNAPSHOT)
    path = registry_path(env.paths.landing)
    swapped = pd.read_csv(path, dtype=str)  # the extract's text as it is, two text columns swapped
    order = list(swapped.columns)
    site, firmware = order.index("site_code"), order.index("firmware_version")
    order[site], order[firmware] = order[firmware], order[site]
    swapped = swapped[order]
    swapped.to_csv(path, index=False)
    assert path.read_text().startswith("dataset,split,unit_number,equipment_model_code,firmware_version,site_code,")
    result = env.build(*UP_TO_SNAPSHOT)
    assert env.query(SNAPSHOT) == before  # nothing changed: no new version of any unit
    assert "its columns are in another order" in result.stdout

    # a column renamed (or missing, or one more): the build stops, naming the file and the columns
    swapped.rename(columns={"site_code": "site"}).to_csv(path, index=False)
    failed = env.build(*UP_TO_SNAPSHOT, check=False)
    assert failed.returncode != 0
    assert f"The registry extract {path} has the header" in failed.stdout
    assert "Missing: site_code; not expected: site." in failed.stdout
    assert env.query(SNAPSHOT) == before


def test_an_extract_still_being_written_stops_the_build_and_keeps_history(environment: Environment) -> None:
    # the extract is overwritten in place: a build (say `make watch`'s, a look after the writer began)
    # that read it half written recorded the units not written yet as removed from the registry, and
    # the next build put them back: two versions of each in the history for nothing, exit 0
    env = environment
    # every build of the test with the settle interval of the one the writer is caught by: dbt parses the
    # project again, whole, whenever the vars differ from its last run's
    settled_within_5_s = ("--vars", json.dumps({"landing_settle_seconds": 5}))
    env.land(FLEET)
    env.build(*UP_TO_SNAPSHOT, *settled_within_5_s)
    before = env.query(SNAPSHOT)
    path = registry_path(env.paths.landing)
    header, *rows = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(header + b"".join(rows[:2]))  # the writer is at its third unit of five ...
    stop = threading.Event()

    def write_the_rest() -> None:  # ... still at work (its file touched every second) until the build is over,
        while not stop.wait(1.0):  # so the extract changes between the build's two looks whenever they are
            os.utime(path)
        with path.open("ab") as extract:  # then it writes the rest
            extract.write(b"".join(rows[2:]))

    writer = threading.Thread(target=write_the_rest)
    writer.start()
    try:
        failed = env.build(*UP_TO_SNAPSHOT, *settled_within_5_s, check=False)
    finally:
        stop.set()
        writer.join()
    assert failed.returncode != 0
    assert f"The registry extract {path} changed during the 5 s settle interval" in failed.stdout
    assert env.query(SNAPSHOT) == before
    env.build(*UP_TO_SNAPSHOT, *settled_within_5_s)  # whole now: read, and nothing in it is new
    assert env.query(SNAPSHOT) == before
