"""`make optimize` (python -m lakehouse.optimize): compaction, and a vacuum that keeps every version a
registered model was trained on; the watcher's compaction of the tables with enough small files, and its
vacuum. Real Delta tables and a real MLflow SQLite registry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from deltalake import DeltaTable
from mlflow.tracking import MlflowClient

from lakehouse import analysts, lake, optimize
from lakehouse import publish as publishing
from lakehouse.optimize import OptimizeError, compact_small_files, main, retention_vars, small_files, vacuum_tables
from lakehouse.publish import META_FINGERPRINT, publish
from lakehouse.watch import STATE_TIME, State, TickReport, Watcher
from lakehouse.watch_signatures import Difference
from ml.config import Paths


def read(table_path: Path, version: int | None = None) -> list[tuple]:
    with lake.connect() as con:
        return con.execute(f"select * from {lake.delta_scan_sql(table_path, version)} order by all").fetchall()


def register(mlflow_dir: Path, name: str, table_path: Path, version: int) -> None:
    """A registered model version tagged as ml.train tags them (delta_path, delta_version)."""
    mlflow_dir.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{(mlflow_dir / 'mlflow.db').resolve()}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    if client.search_registered_models(f"name = '{name}'") == []:
        client.create_registered_model(name)
    client.create_model_version(
        name,
        source=str(mlflow_dir / "artifacts" / "model"),
        tags={"delta_path": str(table_path.resolve()), "delta_version": str(version)},
    )


@pytest.fixture
def lakehouse(tmp_path: Path, monkeypatch):
    """A warehouse whose gold.t is published as v0, v1, v2 (each a full rewrite), and gold.u as v0, v1."""
    (tmp_path / "warehouse").mkdir()
    warehouse = tmp_path / "warehouse" / "pdm.duckdb"
    lake_dir, mlflow_dir = tmp_path / "lake", tmp_path / "mlruns"
    monkeypatch.setenv("PDM_WAREHOUSE_PATH", str(warehouse))
    monkeypatch.setenv("PDM_LAKE_PATH", str(lake_dir))
    monkeypatch.setenv("PDM_MLFLOW_DIR", str(mlflow_dir))
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema gold")
        con.execute("create table gold.t (id integer primary key, x double)")
        con.execute("create table gold.u (id integer primary key)")
    for step in range(3):
        with duckdb.connect(str(warehouse)) as con:
            con.execute(f"insert into gold.t select i, {step} from range({step * 10}, {step * 10 + 10}) r(i)")
            if step < 2:
                con.execute(f"insert into gold.u values ({step})")
        publish(warehouse, lake_dir)
    return warehouse, lake_dir, mlflow_dir


def test_vacuum_keeps_the_version_a_registered_model_was_trained_on(lakehouse, capsys):
    warehouse, lake_dir, mlflow_dir = lakehouse
    t, u = lake.mart_path(lake_dir, "t"), lake.mart_path(lake_dir, "u")
    v0, v1 = read(t, 0), read(t, 1)
    register(mlflow_dir, "pdm-rul", t, 0)

    assert main(["--retention-hours", "0"]) == 0

    out = capsys.readouterr().out
    assert "gold.t: 1 -> 1 files at v4; vacuumed 1 files; kept v0 (registered models)" in out  # +2: VACUUM START, END
    assert read(t, 0) == v0  # the registered model's version still reads, row for row
    assert len(read(t)) == 30
    assert main(["--retention-hours", "0"]) == 0  # nothing left to delete: no vacuum version
    assert "gold.t: 1 -> 1 files at v4; vacuumed 0 files" in capsys.readouterr().out
    with pytest.raises(duckdb.IOException):  # the unpinned v1 was vacuumed (so the vacuum did run)
        read(t, 1)
    assert len(v1) == 20
    with pytest.raises(duckdb.IOException):  # no model pins gold.u: its old version is gone
        read(u, 0)
    # nothing new: the next publish compares against the carried fingerprint and writes nothing
    assert [r.changed for r in publish(warehouse, lake_dir)] == [False, False]


def test_history_marks_the_versions_a_vacuum_made_unreadable_and_restore_refuses_them(lakehouse, capsys):
    """`make history` listed a version whose data files a vacuum deleted like any other, so it looked
    restorable; `make restore AS_OF=<its time>` was not checked for it as VERSION= is. Both now say so."""
    _, lake_dir, mlflow_dir = lakehouse
    t = lake.mart_path(lake_dir, "t")
    register(mlflow_dir, "pdm-rul", t, 0)  # v0 kept by the vacuum, v1 not
    times = lake.commit_times(t)
    assert times[0] < times[1] < times[2]  # each its own publish: AS_OF of v1's time is v1
    assert not any(publishing.VACUUMED_MARK in line for line in publishing.history_report(lake_dir))
    assert main(["--retention-hours", "0"]) == 0
    capsys.readouterr()

    lines = publishing.history_report(lake_dir)
    marked = sorted(line.split()[0:2] for line in lines if line.endswith(publishing.VACUUMED_MARK))
    assert marked == [["gold.t", "v1"], ["gold.u", "v0"]], lines
    assert len(lines) == 9  # t: v0-v2 and the vacuum's two commits; u: v0, v1 and two
    assert publishing.main(["--history", "t"]) == 0  # `make history TABLE`: the same mark
    printed = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in printed if line.endswith(publishing.VACUUMED_MARK)] == ["v1"]

    from lakehouse.restore import main as restore_main

    as_of = times[1].isoformat()
    for how in (["--version", "1"], ["--as-of", as_of]):
        assert restore_main(["--table", "t", *how]) == 1
        err = capsys.readouterr().err
        assert f"restore: {t} v1 can't be read: a vacuum deleted its data files" in err, how
    assert DeltaTable(str(t)).version() == 4  # nothing committed
    assert restore_main(["--table", "t", "--version", "0"]) == 0  # the registered model's version still restores


def published_in_small_files(warehouse: Path, lake_dir: Path, monkeypatch) -> tuple[Path, DeltaTable]:
    """gold.t with 5,000 more rows published in files of 1,000 rows: its path and the table at that version."""
    monkeypatch.setattr(publishing, "TARGET_FILE_SIZE", 1)  # every record batch its own file
    monkeypatch.setattr(publishing, "BATCH_ROWS", 1000)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("insert into gold.t select i, 9 from range(100, 5100) r(i)")
    publish(warehouse, lake_dir)
    t = lake.mart_path(lake_dir, "t")
    return t, DeltaTable(str(t))


def test_compaction_merges_small_files_and_keeps_the_fingerprint(lakehouse, monkeypatch, capsys):
    warehouse, lake_dir, _ = lakehouse
    t, before = published_in_small_files(warehouse, lake_dir, monkeypatch)
    files, rows, fp = len(before.file_uris()), read(t), before.history(1)[0][META_FINGERPRINT]
    assert files > 1

    assert main(["--tables", "gold.t"]) == 0  # default retention: nothing recent is vacuumed

    after = DeltaTable(str(t))
    assert len(after.file_uris()) == 1
    commit = after.history(1)[0]
    assert commit["operation"] == "OPTIMIZE"
    assert commit[META_FINGERPRINT] == fp
    assert read(t) == rows
    assert read(t, before.version()) == rows  # files of the previous version are still there
    assert f"gold.t: {files} -> 1 files at v{after.version()}; vacuumed 0 files" in capsys.readouterr().out
    assert publish(warehouse, lake_dir, ["t"])[0].changed is False


def test_the_watchers_compaction_takes_the_tables_with_enough_small_files_only(lakehouse, monkeypatch):
    warehouse, lake_dir, _ = lakehouse
    t, before = published_in_small_files(warehouse, lake_dir, monkeypatch)
    files, rows, fp = len(before.file_uris()), read(t), before.history(1)[0][META_FINGERPRINT]
    assert files > 2 and small_files(t) == files and small_files(lake.mart_path(lake_dir, "u")) == 1
    database = analysts.default_database(lake_dir)
    assert analysts.is_current(lake_dir, database)

    assert compact_small_files(lake_dir, files + 1) == []  # under the threshold: no table, no version
    assert DeltaTable(str(t)).version() == before.version()

    compacted = compact_small_files(lake_dir, files)
    after = DeltaTable(str(t))
    assert [(r.name, r.version, r.files_before, r.files_after) for r in compacted] == [
        ("t", before.version() + 1, files, 1)
    ]
    assert compacted[0].summary() == f"t v{after.version()} (compacted, {files} -> 1 files)"
    commit = after.history(1)[0]
    assert commit["operation"] == "OPTIMIZE" and commit[META_FINGERPRINT] == fp
    log = (t / "_delta_log" / f"{after.version():020d}.json").read_text().splitlines()
    assert [action["add"]["dataChange"] for action in map(json.loads, log) if "add" in action] == [False]
    assert read(t) == rows and read(t, before.version()) == rows  # no vacuum: the old files are still there
    assert analysts.is_current(lake_dir, database)  # rebuilt: its views pin the compacted version
    assert publish(warehouse, lake_dir, ["t"])[0].changed is False
    with pytest.raises(OptimizeError, match="at least 2 small files"):
        compact_small_files(lake_dir, 1)


def test_files_compaction_cannot_merge_make_no_version_and_no_refresh(lakehouse, monkeypatch):
    """Files counted small that do not fit two to a file of the target size: compaction commits nothing, so
    nothing is reported and the analysts' database is not rebuilt."""
    warehouse, lake_dir, _ = lakehouse
    t, before = published_in_small_files(warehouse, lake_dir, monkeypatch)
    monkeypatch.setattr(optimize, "TARGET_FILE_SIZE", 1)  # no two files fit in one
    monkeypatch.setattr(optimize, "SMALL_FILE_SIZE", 2**40)  # and every file counts as small
    database = analysts.default_database(lake_dir)
    built = database.stat().st_mtime_ns
    assert small_files(t) == len(before.file_uris()) > 2

    assert compact_small_files(lake_dir, 2) == []
    assert DeltaTable(str(t)).version() == before.version() and database.stat().st_mtime_ns == built


def test_the_watchers_vacuum_deletes_what_the_retention_lets_go_and_keeps_registered_versions(lakehouse):
    """`vacuum_tables` (the watcher's step 8): files removed within the retention stay; past it, every
    table's removed files go except a registered model's version's; a vacuum commits no data (the fingerprint
    is carried) and the analysts' database is rebuilt to pin it; a registry that can't be read, or none where
    champions have scored (a mistyped `PDM_MLFLOW_DIR`), vacuums nothing."""
    warehouse, lake_dir, mlflow_dir = lakehouse
    t, u = lake.mart_path(lake_dir, "t"), lake.mart_path(lake_dir, "u")
    v0, latest = read(t, 0), read(t)
    database = analysts.default_database(lake_dir)
    predictions = lake_dir.parent / "predictions"  # no scores yet

    assert vacuum_tables(lake_dir, mlflow_dir, predictions, retention_hours=1) == []  # removed seconds ago: all kept
    assert DeltaTable(str(t)).version() == 2 and read(t, 1)

    register(mlflow_dir, "pdm-rul", t, 0)
    orphan = t / "part-00000-left-by-a-killed-write-c000.parquet"  # no commit mentions it
    orphan.write_bytes(b"PAR1")
    vacuumed = vacuum_tables(lake_dir, mlflow_dir, predictions, retention_hours=0)
    assert not orphan.exists()
    assert [r.summary() for r in vacuumed] == [
        "t v4 (2 files deleted, kept v0)",  # v1's file and the orphan; +2 versions: VACUUM START, END
        "u v3 (1 files deleted)",
    ]
    assert read(t, 0) == v0 and read(t) == latest
    with pytest.raises(duckdb.IOException):
        read(t, 1)
    assert DeltaTable(str(t)).history(1)[0][META_FINGERPRINT] == DeltaTable(str(t)).history(3)[2][META_FINGERPRINT]
    assert analysts.is_current(lake_dir, database)
    assert (
        vacuum_tables(lake_dir, mlflow_dir, predictions, retention_hours=0) == []
    )  # nothing left to delete: no version
    assert DeltaTable(str(u)).version() == 3

    # the watcher started with PDM_MLFLOW_DIR mistyped: no registry there, yet champions have scored units
    scores = predictions / "unit_risk_scores"
    scores.mkdir(parents=True)
    (scores / "scores_20261207T100000.parquet").write_bytes(b"PAR1")
    trained = DeltaTable(str(t)).version()
    register(mlflow_dir, "pdm-rul", t, trained)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("update gold.t set x = 9")
    publish(warehouse, lake_dir)  # a full rewrite: the trained-on version's files are removed from the table
    with pytest.raises(OptimizeError, match=r"no model registry at .*mlrun/mlflow.db, yet registered models wrote 1"):
        vacuum_tables(lake_dir, mlflow_dir.parent / "mlrun", predictions, retention_hours=0)
    assert read(t, trained) == latest

    (mlflow_dir / "mlflow.db").write_bytes(b"not a database")
    with pytest.raises(OptimizeError, match="can't read the model registry"):
        vacuum_tables(lake_dir, mlflow_dir, predictions, retention_hours=0)
    assert read(t, 0) == v0


def test_the_watcher_vacuums_at_most_once_an_interval_and_warns_when_the_registry_cannot_be_read(
    lakehouse, tmp_path, monkeypatch
):
    """`Watcher.vacuum_lake` (step 8), on a real lake and state file: the first call vacuums and dates it in the
    state; within `vacuum_every_s` of that nothing is vacuumed (a file no commit mentions stays); past it, it
    is; a registry that can't be read is a warning, nothing vacuumed and the date kept, so the next call
    tries again; an interval of 0 never vacuums."""
    _, lake_dir, mlflow_dir = lakehouse
    monkeypatch.setenv("PDM_DATA_DIR", str(tmp_path / "data"))
    watcher = Watcher(Paths.from_env(), target=None, out=lambda _: None)
    watcher.state_path.parent.mkdir(parents=True)
    watcher.vacuum_retention_hours = 0
    state = State()

    def vacuum() -> TickReport:
        report = TickReport(difference=Difference((), (), ()), reason="")
        watcher.vacuum_lake(state, report)
        return report

    first = vacuum()
    assert first.vacuumed == ["t v4 (2 files deleted)", "u v3 (1 files deleted)"]
    assert "lake vacuum" in first.after and first.warnings == []
    vacuumed_at = state.lake_vacuumed_at
    assert vacuumed_at is not None and State.load(watcher.state_path).step == "lake vacuum"
    orphan = lake.mart_path(lake_dir, "t") / "part-00000-left-by-a-killed-write-c000.parquet"
    orphan.write_bytes(b"PAR1")
    assert vacuum().vacuumed == [] and orphan.exists() and state.lake_vacuumed_at == vacuumed_at

    state.lake_vacuumed_at = (datetime.now(UTC) - timedelta(hours=2)).strftime(STATE_TIME)
    assert vacuum().vacuumed == ["t v6 (1 files deleted)"] and not orphan.exists()

    orphan.write_bytes(b"PAR1")
    mlflow_dir.mkdir(parents=True, exist_ok=True)
    (mlflow_dir / "mlflow.db").write_bytes(b"not a database")
    state.lake_vacuumed_at = None
    broken = vacuum()
    assert broken.vacuumed == [] and orphan.exists() and state.lake_vacuumed_at is None
    [warning] = broken.warnings
    assert warning.startswith("the lake's vacuum was skipped: can't read the model registry"), warning

    watcher.vacuum_every_s = 0
    (mlflow_dir / "mlflow.db").unlink()
    assert vacuum().vacuumed == [] and orphan.exists()


def test_an_unknown_table_or_a_broken_registry_stops_before_vacuuming(lakehouse, capsys):
    _, lake_dir, mlflow_dir = lakehouse
    assert main(["--tables", "nope"]) == 1
    assert "no published Delta table gold.nope" in capsys.readouterr().err
    mlflow_dir.mkdir(parents=True, exist_ok=True)
    (mlflow_dir / "mlflow.db").write_bytes(b"not a database")
    t = lake.mart_path(lake_dir, "t")
    v0 = read(t, 0)
    assert main(["--retention-hours", "0"]) == 1
    assert "can't read the model registry" in capsys.readouterr().err
    assert read(t, 0) == v0


def test_a_registry_missing_where_models_have_scored_stops_before_vacuuming(lakehouse, tmp_path, monkeypatch, capsys):
    """`PDM_MLFLOW_DIR` mistyped (`mlrun`): no registry there, so no version was kept for the registered models, and
    `make optimize` vacuumed the version the champions were trained on, exit 0, without a word."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    _, lake_dir, mlflow_dir = lakehouse
    t = lake.mart_path(lake_dir, "t")
    register(mlflow_dir, "pdm-rul", t, 0)
    scores = tmp_path / "predictions" / "unit_risk_scores"
    scores.mkdir(parents=True)
    pq.write_table(pa.table({"unit_id": ["u1"], "failure_probability": [0.5]}), scores / "scores_20261207T1.parquet")
    monkeypatch.setenv("PDM_PREDICTIONS_PATH", str(tmp_path / "predictions"))
    monkeypatch.setenv("PDM_MLFLOW_DIR", str(tmp_path / "mlrun"))
    v0 = read(t, 0)

    assert main(["--retention-hours", "0"]) == 1
    err = capsys.readouterr().err
    assert f"optimize: no model registry at {tmp_path / 'mlrun' / 'mlflow.db'}, yet registered models wrote 1" in err
    assert "nothing was vacuumed" in err and "PDM_MLFLOW_DIR" in err
    assert read(t, 0) == v0 and DeltaTable(str(t)).version() == 2  # no compaction, no vacuum either
    monkeypatch.setenv("PDM_MLFLOW_DIR", str(mlflow_dir))  # the right registry: the version is kept
    assert main(["--retention-hours", "0"]) == 0
    assert "kept v0 (registered models)" in capsys.readouterr().out
    assert read(t, 0) == v0


def test_an_explicit_purge_vacuums_registered_versions_too(lakehouse, capsys):
    _, lake_dir, mlflow_dir = lakehouse
    t = lake.mart_path(lake_dir, "t")
    register(mlflow_dir, "pdm-rul", t, 0)
    assert main(["--tables", "t", "--retention-hours", "0", "--purge-registered-versions"]) == 0
    assert "kept v" not in capsys.readouterr().out
    with pytest.raises(duckdb.IOException):  # v0 was purged although a registered model names it
        read(t, 0)
    assert len(read(t)) == 30


def test_retention_defaults_come_from_the_dbt_vars():
    assert retention_vars() == (168, 30)


def test_a_bad_option_stops_optimize_before_anything_is_vacuumed(lakehouse, capsys):
    """`make optimize RETENTION_HOURS=0 LINE_RETENTION_DAYS=-1` used to vacuum every table and only then refuse
    the line retention: every option is now checked first, exit 2, no version, no file deleted, no refresh."""
    _, lake_dir, _ = lakehouse
    t, u = lake.mart_path(lake_dir, "t"), lake.mart_path(lake_dir, "u")
    v1, u0 = read(t, 1), read(u, 0)
    database = analysts.default_database(lake_dir)
    built = database.stat().st_mtime_ns
    for argv, option in (
        (["--retention-hours", "0", "--superseded-line-retention-days", "-1"], "--superseded-line-retention-days"),
        (["--retention-hours", "-1", "--superseded-line-retention-days", "0"], "--retention-hours"),
    ):
        assert main(argv) == 2
        assert f"optimize: {option} must be 0 or more, not -1" in capsys.readouterr().err
    assert (DeltaTable(str(t)).version(), DeltaTable(str(u)).version()) == (2, 1)
    assert read(t, 1) == v1 and read(u, 0) == u0  # the replaced versions' files are all still there
    assert database.stat().st_mtime_ns == built


def test_an_empty_lake_is_nothing_to_optimize(tmp_path, monkeypatch, capsys):
    """Nothing published: a clean exit 0 saying so (it used to fail, exit 1, on the analysts' database it could
    not write); no analysts' database is written, and naming a table is still an error."""
    lake_dir = tmp_path / "lake"
    monkeypatch.setenv("PDM_WAREHOUSE_PATH", str(tmp_path / "warehouse" / "pdm.duckdb"))
    monkeypatch.setenv("PDM_LAKE_PATH", str(lake_dir))
    monkeypatch.setenv("PDM_MLFLOW_DIR", str(tmp_path / "mlruns"))
    monkeypatch.delenv(analysts.ENV_VAR, raising=False)

    assert main([]) == 0
    out, err = capsys.readouterr()
    assert f"nothing published under {lake_dir / 'gold'} yet: nothing to optimize" in out
    assert err == ""
    assert not analysts.default_database(lake_dir).exists()
    assert main(["--tables", "t"]) == 1
    assert f"no published Delta table gold.t under {lake_dir / 'gold'}; published: none" in capsys.readouterr().err
    assert main(["--tables", " , "]) == 1
    assert "optimize: --tables names no table; published: none" in capsys.readouterr().err
