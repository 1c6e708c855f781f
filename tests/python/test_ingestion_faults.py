"""Landing-folder faults (issue 8, cases 2, 5, 11, 12): each ends with the last good state kept
and the build saying so, naming the file or line. One landing folder, three real `dbt build`s:
a clean fleet; then every fault at once (a non-UTF-8 line appended to an ingested file, a newer
version of a file in another encoding, a file still being written, a file deleted after
ingestion, a broken symbolic link, a link to itself, a directory with a data file's name, a file
whose name is not UTF-8, a truncated scores file);
then the in-flight file completed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import duckdb
import pytest

from ml.simulate import FleetSpec
from tests.python.conftest import Environment
from tests.python.slow_copy import SlowCopy
from tests.python.test_bad_input import line

pytestmark = pytest.mark.dbt

FLEET = FleetSpec(dataset="FD301", train_units=4, test_units=4, conditions=1, fault_modes=1, seed=1)
SECOND_FLEET = FleetSpec(dataset="FD302", train_units=2, test_units=2, conditions=1, fault_modes=1, seed=2)
# Enough bad lines to pass the 1 % warning limit on a ~850-line file, far below the 25 % error limit.
NON_UTF8_LINES = 10
# The file being copied while the build runs: 150 lines, the last value of each 23.0346.
IN_FLIGHT = "".join(line(1, cycle, replace={25: "23.0346"}) for cycle in range(1, 151)).encode()


def write_scores(path: Path, unit_numbers: list[int]) -> None:
    with duckdb.connect() as con:
        con.execute(
            f"""
            copy (
                select 'FD301-test-' || lpad(cast(u as varchar), 3, '0') as unit_id, 'FD301' as dataset,
                    'test' as split, cast(u as integer) as unit_number, 10 as cycle,
                    0.5 as failure_probability, 40.0 as predicted_rul, '1' as classifier_version,
                    '1' as regressor_version, cast(0 as bigint) as features_delta_version,
                    timestamp '2026-01-01 00:00:00' as scored_at
                from unnest({unit_numbers}) as t(u)
            ) to '{path}' (format parquet)
            """
        )


class Faults:
    """The environment after the fault build, with what the checks compare against."""

    def __init__(self, env: Environment, before: dict, fault_build: subprocess.CompletedProcess[str]) -> None:
        self.env, self.before, self.fault_build = env, before, fault_build


def gold_rows(env: Environment) -> dict:
    return dict(env.query("select dataset || '-' || split, count(*) from gold.fct_unit_cycle_features group by 1"))


@pytest.fixture(scope="module")
def faults(module_environment: Environment) -> Faults:
    env = module_environment
    landing = env.paths.landing
    env.land(FLEET)
    env.land(SECOND_FLEET)
    env.build()
    before = {
        "gold": gold_rows(env),
        "train_lines": (landing / "train_FD301.txt").read_bytes().count(b"\n"),
    }

    # 2: non-UTF-8 lines appended to an ingested file; a newer version of another file in UTF-16.
    with (landing / "train_FD301.txt").open("ab") as out:
        out.write(b"".join(line(4, 900 + n, replace={7: "caf\xe9"}).encode("latin-1") for n in range(NON_UTF8_LINES)))
    test_text = (landing / "test_FD301.txt").read_text()
    (landing / "test_FD301.txt").write_bytes(test_text.encode("utf-16"))
    # 11: a file deleted after ingestion, a broken symbolic link, a directory named like a data file.
    (landing / "train_FD302.txt").unlink()
    (landing / "train_FD308.txt").symlink_to(landing / "no_such_file.txt")
    (landing / "train_FD309.txt").mkdir()
    (landing / "train_FD311.txt").symlink_to(landing / "train_FD311.txt")  # a loop: os.stat raises ELOOP
    # a file whose name is not UTF-8 text (Latin-1 "train_FD310_\xff.txt"): DuckDB can't take the name
    Path(os.fsdecode(os.fsencode(landing) + b"/train_FD310_\xff.txt")).write_bytes(line(1, 1).encode())
    # 12: a truncated scores file beside a whole one.
    scores = env.paths.predictions / "unit_risk_scores"
    scores.mkdir(parents=True)
    write_scores(scores / "scores_20260101T000000000000Z.parquet", [1, 2])
    whole = (scores / "scores_20260101T000000000000Z.parquet").read_bytes()
    (scores / "scores_20260102T000000000000Z.parquet").write_bytes(whole[: len(whole) // 2])
    # 5: a file still being copied while the build lists the folder.
    copy = SlowCopy(landing / "train_FD303.txt", IN_FLIGHT)
    copy.thread.start()
    try:
        fault_build = env.build()
    finally:
        copy.finish()
    return Faults(env, before, fault_build)


def warnings(run: subprocess.CompletedProcess[str]) -> list[str]:
    return [text for text in run.stdout.splitlines() if "WARNING" in text or "WARN " in text]


def test_a_non_utf8_line_is_quarantined_alone_and_the_file_keeps_its_rows(faults: Faults) -> None:
    env = faults.env
    train_lines = faults.before["train_lines"]
    assert env.query(
        "select line_number, rejection_rule, rejection_reason, raw_line from bronze.stg_cmapss__quarantined_lines "
        "where file_name = 'train_FD301.txt' order by line_number limit 1"
    ) == [
        (
            train_lines + 1,
            "not_utf8_text",
            "line is not UTF-8 text (bytes outside printable ASCII shown as \\xNN)",
            line(4, 900, replace={7: "caf\\xE9"}).rstrip("\n"),
        )
    ]
    assert dict(
        env.query("select outcome, line_count from gold.mart_data_quality where file_name = 'train_FD301.txt'")
    ) == {"accepted": train_lines, "not_utf8_text": NON_UTF8_LINES}
    assert gold_rows(env)["FD301-train"] == faults.before["gold"]["FD301-train"]
    # the share limits count these lines like any other quarantined line: past 1 %, a warning naming the file
    assert env.query("select source_file from dbt_test__audit.files_quarantined_share_below_warn_limit") == [
        (str(env.paths.landing / "train_FD301.txt"),)
    ]


def test_a_newer_version_unreadable_as_a_whole_keeps_the_earlier_rows_and_warns(faults: Faults) -> None:
    env = faults.env
    assert gold_rows(env)["FD301-test"] == faults.before["gold"]["FD301-test"]
    assert env.query(
        "select is_current_version, is_rejected_version, ingestion_status from bronze.stg_cmapss__landed_files "
        "where file_name = 'test_FD301.txt' order by ingested_at"
    ) == [
        (True, False, "ingested"),
        (
            False,
            True,
            "rejected: file is not UTF-8 text (binary: it holds NUL bytes); the earlier version's rows are kept",
        ),
    ]
    flagged = env.query(
        "select file_name, landing_problem "
        "from dbt_test__audit.landing_folder_has_no_deleted_rejected_or_skipped_entries order by file_name"
    )
    problem = (
        "rejected_version: file is not UTF-8 text (binary: it holds NUL bytes); the earlier version's rows are kept"
    )
    assert ("test_FD301.txt", problem) in flagged
    test_name = "landing_folder_has_no_deleted_rejected_or_skipped_entries"
    assert any(test_name in text for text in warnings(faults.fault_build))


def test_a_file_still_being_written_is_held_back_then_read_whole(faults: Faults) -> None:
    env = faults.env
    held = [text for text in warnings(faults.fault_build) if "train_FD303.txt' held back" in text]
    assert held and "still being written" in held[0], warnings(faults.fault_build)
    assert env.scalar("select count(*) from bronze.base_cmapss__landed_lines where dataset = 'FD303'") == 0
    # the copy has finished: the next build reads it, every line whole
    env.build("--select", "staging")
    assert env.query(
        "select count(*), min(w32_lpt_coolant_bleed), max(w32_lpt_coolant_bleed) "
        "from bronze.stg_cmapss__sensor_readings where dataset = 'FD303'"
    ) == [(150, 23.0346, 23.0346)]
    assert (
        env.scalar("select count(*) from bronze.stg_cmapss__quarantined_lines where file_name = 'train_FD303.txt'") == 0
    )


def test_a_deleted_file_keeps_its_rows_and_the_manifest_flags_it(faults: Faults) -> None:
    env = faults.env
    assert gold_rows(env)["FD302-train"] == faults.before["gold"]["FD302-train"]
    [(deleted, noticed_at, current)] = env.query(
        "select is_deleted_from_landing, deleted_from_landing_at, is_current_version "
        "from bronze.stg_cmapss__landed_files where file_name = 'train_FD302.txt'"
    )
    assert deleted and current and noticed_at is not None
    path = env.paths.landing / "train_FD302.txt"
    assert any(f"'{path}' was deleted from the landing folder" in text for text in warnings(faults.fault_build))
    # files still there are not flagged
    assert env.scalar("select count(*) from bronze.stg_cmapss__landed_files where is_deleted_from_landing") == 1


def test_a_broken_link_and_a_directory_are_listed_as_skipped_with_a_warning(faults: Faults) -> None:
    env = faults.env
    landing = env.paths.landing
    assert env.query(
        "select file_name, ingestion_status from bronze.stg_cmapss__landed_files "
        "where ingestion_status like 'skipped%' order by file_name"
    ) == [
        (
            "train_FD308.txt",
            f"skipped: symbolic link to {landing / 'no_such_file.txt'}, which does not exist; never read",
        ),
        ("train_FD309.txt", "skipped: a directory; never read"),
        (
            "train_FD310_\ufffd.txt",
            "skipped: a file name that is not UTF-8 text ('train_FD310_\\xff.txt'), which cannot be read: "
            "rename it; never read",
        ),
        (
            "train_FD311.txt",
            f"skipped: symbolic link to {landing / 'train_FD311.txt'}, which can't be followed "
            "(Too many levels of symbolic links); never read",
        ),
    ]
    for name in ("train_FD308.txt", "train_FD309.txt", "train_FD310_\ufffd.txt", "train_FD311.txt"):
        assert any(f"'{landing / name}' skipped" in text for text in warnings(faults.fault_build)), name


def test_a_truncated_scores_file_is_skipped_by_name_and_the_others_are_read(faults: Faults) -> None:
    env = faults.env
    scores = env.paths.predictions / "unit_risk_scores"
    assert env.query("select unit_id, source_file from bronze.stg_predictions__unit_risk_scores order by 1") == [
        ("FD301-test-001", str(scores / "scores_20260101T000000000000Z.parquet")),
        ("FD301-test-002", str(scores / "scores_20260101T000000000000Z.parquet")),
    ]
    truncated = scores / "scores_20260102T000000000000Z.parquet"
    assert any(f"scores file '{truncated}' skipped" in text for text in warnings(faults.fault_build))


def test_nothing_was_lost_the_lines_reconcile(faults: Faults) -> None:
    """The reconciliation test ran in both builds (env.build fails on an error); it stores no failure."""
    assert (
        faults.env.scalar("select count(*) from dbt_test__audit.assert_every_landed_line_is_kept_or_quarantined") == 0
    )


def test_a_deleted_scores_file_keeps_its_scores_and_a_warning_names_the_units(faults: Faults) -> None:
    """The scores the builds took in stay (the last good state), as a deleted landing file's rows do, and
    every build says which units' latest score no file in the predictions folder holds any more."""
    env = faults.env
    (env.paths.predictions / "unit_risk_scores" / "scores_20260101T000000000000Z.parquet").unlink()
    after = env.build()
    assert "warn_latest_scores_still_in_predictions_folder" in "\n".join(warnings(after))
    assert env.query(
        "select unit_id from dbt_test__audit.warn_latest_scores_still_in_predictions_folder order by 1"
    ) == [("FD301-test-001",), ("FD301-test-002",)]
    assert env.scalar("select count(*) from gold.mart_fleet_health where failure_probability is not null") == 2

    # a full refresh, which reads the scores from the folder alone, stops rather than lose them, naming the
    # units; the var accepts the fallback (no score is left for these two)
    held = env.query("select * from silver.int_unit_risk_scores_latest order by unit_id")
    refresh = ("--full-refresh", "--select", "int_unit_risk_scores_latest+")
    stopped = env.build(*refresh, check=False)
    assert stopped.returncode != 0
    assert "A full refresh would take 2 units back to an older score, or none" in stopped.stdout
    assert "FD301-test-001: scored at 2026-01-01 00:00:00 (cycle " in stopped.stdout
    assert "no score left" in stopped.stdout
    assert env.query("select * from silver.int_unit_risk_scores_latest order by unit_id") == held
    assert env.scalar("select count(*) from gold.mart_fleet_health where failure_probability is not null") == 2
    accepted = env.build(*refresh, "--vars", "{full_refresh_drops_deleted_files: true}")
    assert "this full refresh takes 2 units back to an older score, or none" in accepted.stdout
    assert env.scalar("select count(*) from silver.int_unit_risk_scores_latest") == 0
