"""A full refresh rebuilds bronze from the landing folder alone: it must not drop, silently, the rows of
a file deleted from the folder after ingestion (which every incremental build keeps). It stops before
replacing anything, naming the file and its lines, every layer keeping its rows; with the var
full_refresh_drops_deleted_files it drops them, deliberately; with the file back, or its content in
the folder under another name (read by bronze or not yet), it passes and keeps them. A new version of a
file that is unreadable as a whole stops it too: an incremental build keeps the earlier rows then; and
so does a file being rewritten in place while the full refresh lists the folder (held back, it would
leave every layer until a later build reads it). Real files, the real `dbt build`, real DuckDB. The
tests run in order on one landing folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ml.simulate import FleetSpec
from tests.python.conftest import Environment
from tests.python.slow_copy import SlowCopy

pytestmark = pytest.mark.dbt

FLEET = FleetSpec(dataset="FD401", train_units=3, test_units=3, conditions=1, fault_modes=1, seed=41)
DELETED_FLEET = FleetSpec(dataset="FD402", train_units=2, test_units=2, conditions=1, fault_modes=1, seed=42)
DELETED = "train_FD402.txt"
COPY = "train_FD402_resent.txt"
KEPT = "train_FD401.txt"
KEPT_RESENT = "train_FD401_resent.txt"
REWRITTEN = "test_FD401.txt"
# Every build of the module with the settle interval the rewritten file is held back by (1 s: a file written
# just before a build is older than that by the time its listing looks, or is read after at most 1 s unchanged):
# dbt parses the project again, whole, whenever the vars differ from its last run's (~7 s, 20-40 s under load).
SETTLED = "landing_settle_seconds: 1"
ACCEPT_LOSS = "full_refresh_drops_deleted_files: true"


def settled(*more_vars: str) -> tuple[str, str]:
    return ("--vars", "{" + ", ".join((SETTLED, *more_vars)) + "}")


def deleted_units_rows(env: Environment) -> dict[str, int]:
    """The rows of the deleted file's units (FD402's train units) in each layer."""
    return {
        "bronze lines": env.scalar(
            f"select count(*) from bronze.base_cmapss__landed_lines where file_name in ('{DELETED}', '{COPY}') "
            "and line_number > 0"
        ),
        "bronze readings": env.scalar(
            "select count(*) from bronze.stg_cmapss__sensor_readings where dataset = 'FD402' and split = 'train'"
        ),
        "silver": env.scalar(
            "select count(*) from silver.int_sensor_readings_deduplicated where unit_id like 'FD402-train-%'"
        ),
        "gold": env.scalar("select count(*) from gold.fct_unit_cycle_features where unit_id like 'FD402-train-%'"),
        "gold observed cycles": env.scalar(
            "select coalesce(sum(observed_cycles), 0) from gold.dim_units where unit_id like 'FD402-train-%'"
        ),
    }


@pytest.fixture(scope="module")
def env(module_environment: Environment) -> Environment:
    module_environment.land(FLEET)
    module_environment.land(DELETED_FLEET)
    module_environment.build(*settled())
    return module_environment


@pytest.fixture(scope="module")
def aside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the deleted file is moved to (outside the landing folder)."""
    return tmp_path_factory.mktemp("aside")


def test_a_full_refresh_stops_naming_the_deleted_file_and_every_layer_keeps_its_rows(
    env: Environment, aside: Path
) -> None:
    path = env.paths.landing / DELETED
    lines = path.read_bytes().count(b"\n")
    shutil.move(path, aside / DELETED)
    kept = env.build(*settled())  # incremental: keeps the rows and warns
    assert f"'{path}' was deleted from the landing folder" in kept.stdout
    before = deleted_units_rows(env)
    assert before["bronze lines"] == lines and all(rows > 0 for rows in before.values()), before

    refresh = env.build("--full-refresh", *settled(), check=False)
    assert refresh.returncode != 0
    assert f"'{path}' ({lines} lines): deleted from the landing folder" in refresh.stdout, refresh.stdout[-3000:]
    assert "full_refresh_drops_deleted_files: true" in refresh.stdout
    assert "SKIP relation gold.fct_unit_cycle_features" in refresh.stdout
    assert deleted_units_rows(env) == before
    assert env.scalar(
        f"select is_deleted_from_landing from bronze.stg_cmapss__landed_files where file_name = '{DELETED}'"
    )

    # a full refresh of models downstream of bronze only rebuilds nothing from the landing folder
    env.build("--full-refresh", "--select", "dim_units", *settled())
    assert deleted_units_rows(env) == before


def test_with_the_file_put_back_the_full_refresh_keeps_its_rows(env: Environment, aside: Path) -> None:
    before = deleted_units_rows(env)
    shutil.move(aside / DELETED, env.paths.landing / DELETED)
    env.build("--full-refresh", *settled())
    assert deleted_units_rows(env) == before
    assert not env.scalar(
        f"select is_deleted_from_landing from bronze.stg_cmapss__landed_files where file_name = '{DELETED}'"
    )


def test_a_file_being_rewritten_in_place_stops_the_full_refresh_until_it_is_whole(env: Environment) -> None:
    """The full refresh's listing holds back a file that changes during the settle interval; bronze holds
    the rows of its earlier version, which an incremental build keeps (it reads nothing of the file), and
    the full refresh, which does not read it, would drop from every layer until a later build does."""
    path = env.paths.landing / REWRITTEN
    content = path.read_bytes()
    lines = content.count(b"\n")
    rows = "select count(*) from gold.fct_unit_cycle_features where unit_id like 'FD401-test-%'"
    before = env.scalar(rows)
    assert before > 0
    rewrite = SlowCopy(path, content)  # the same bytes, written again a few at a time
    rewrite.thread.start()
    try:
        incremental = env.build(*settled())
        assert f"landing file '{path}' held back" in incremental.stdout
        assert env.scalar(rows) == before

        refresh = env.build("--full-refresh", *settled(), check=False)
        assert refresh.returncode != 0
        assert f"A full refresh would drop {lines} ingested lines until a later build reads their files" in (
            refresh.stdout
        ), refresh.stdout[-3000:]
        assert f"'{path}' ({lines} lines): changed during the 1 s settle interval" in refresh.stdout
        assert "SKIP relation gold.fct_unit_cycle_features" in refresh.stdout
        assert env.scalar(rows) == before
    finally:
        rewrite.finish()
    env.build("--full-refresh", *settled())
    assert env.scalar(rows) == before


def test_with_its_content_in_the_folder_under_another_name_the_full_refresh_passes(env: Environment) -> None:
    """A copy landed as "same content as ..." holds no line of its own in bronze, but the full refresh
    reads its content again: nothing is lost."""
    landing = env.paths.landing
    shutil.copy(landing / DELETED, landing / COPY)
    env.build(*settled())
    assert (
        env.scalar(f"select ingestion_status from bronze.stg_cmapss__landed_files where file_name = '{COPY}'")
        == f"same content as {landing / DELETED}: not read again"
    )
    before = deleted_units_rows(env)
    (landing / DELETED).unlink()
    env.build(*settled())

    env.build("--full-refresh", *settled())
    assert deleted_units_rows(env) == before


def test_a_new_version_unreadable_as_a_whole_stops_the_full_refresh_before_it_is_read(env: Environment) -> None:
    """An incremental build rejects a new version of a file that is unreadable as a whole and keeps the
    earlier version's rows; a full refresh would read only the new one, quarantine it and drop them. The
    check reads what bronze has not read yet to tell, so it stops before any build has seen the file."""
    path = env.paths.landing / KEPT
    original = path.read_bytes()
    lines = original.count(b"\n")
    before = env.scalar("select count(*) from gold.fct_unit_cycle_features where unit_id like 'FD401-train-%'")
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")  # an image landed under its name

    refresh = env.build("--full-refresh", *settled(), check=False)
    assert refresh.returncode != 0
    assert (
        f"'{path}' ({lines} lines): in the landing folder, but its new version is unreadable "
        "(file is not UTF-8 text (binary: it holds NUL bytes)): an incremental build keeps the earlier "
        "version's rows" in refresh.stdout
    ), refresh.stdout[-3000:]
    assert env.scalar("select count(*) from gold.fct_unit_cycle_features where unit_id like 'FD401-train-%'") == before

    # the same bytes under another dataset's name are that dataset's data, and under a name no rule
    # recognises they are quarantined whole: neither is the file's content
    path.unlink()
    elsewhere = env.paths.landing / "train_FD409.txt"
    elsewhere.write_bytes(original)
    for name in ("train_FD409.txt", "train_FD401.txt.bak"):
        elsewhere = elsewhere.rename(env.paths.landing / name)
        refresh = env.build("--full-refresh", *settled(), check=False)
        assert refresh.returncode != 0
        assert f"'{path}' ({lines} lines): deleted from the landing folder after ingestion" in refresh.stdout

    # the content back under a name of its kind that bronze has not read yet: read by the next test's
    # full refresh from there, so it drops only what it names
    elsewhere.rename(env.paths.landing / KEPT_RESENT)


def test_with_the_var_the_full_refresh_drops_the_rows_deliberately(env: Environment) -> None:
    copy = env.paths.landing / COPY
    lines = copy.read_bytes().count(b"\n")
    copy.unlink()
    refresh = env.build("--full-refresh", *settled(ACCEPT_LOSS))
    assert f"this full refresh drops {lines} ingested lines" in refresh.stdout
    assert str(env.paths.landing / KEPT) not in refresh.stdout
    assert f"'{copy}' ({lines} lines): deleted from the landing folder" in refresh.stdout
    assert set(deleted_units_rows(env).values()) == {0}
    assert env.scalar("select count(*) from gold.dim_units where unit_id like 'FD401-%'") == 6
