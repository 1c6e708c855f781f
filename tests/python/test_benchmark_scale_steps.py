"""The scale benchmark's later-cycles delivery, its read-back of what a publish wrote, and the file-size
benchmark (benchmarks/scale.py, lake_writes.py, lake_file_size.py): real simulated files, a real DuckDB
warehouse published as real Delta tables."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from benchmarks import ingestion_scaling, lake_file_size, lake_writes, monitor_noise, scale, spark_vs_duckdb
from benchmarks.scale import LATER_CYCLE_UNITS, LATER_CYCLES, Workspace
from lakehouse import lake
from lakehouse import publish as publishing
from lakehouse.publish import publish
from ml.simulate import FleetSpec, read_cmapss

SPECS = [
    FleetSpec(dataset="FD000", train_units=2, test_units=8, seed=1),
    FleetSpec(dataset="FD001", train_units=2, test_units=12, seed=2),
]


def test_later_cycles_continue_units_spread_over_the_fleet(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    workspace.land(SPECS)
    first = workspace.land_later_cycles(SPECS)
    second = workspace.land_later_cycles(SPECS)
    assert [p.name for p in first] == ["test_FD000_cycles-001.txt", "test_FD001_cycles-001.txt"]
    assert [p.name for p in second] == ["test_FD000_cycles-002.txt", "test_FD001_cycles-002.txt"]

    # 10 of the 20 test units, every second one in unit_id order: 4 of FD000's, 6 of FD001's
    chosen = {p.name[5:10]: sorted(set(read_cmapss(p)["unit_number"])) for p in first}
    assert chosen == {"FD000": [1, 3, 5, 7], "FD001": [1, 3, 5, 7, 9, 11]}
    assert sum(len(units) for units in chosen.values()) == LATER_CYCLE_UNITS
    for dataset in chosen:
        landed = read_cmapss(tmp_path / "landing" / f"test_{dataset}.txt")
        last = landed.groupby("unit_number")["cycle"].max()
        for number, delivery in enumerate((first, second)):
            later = read_cmapss(next(p for p in delivery if dataset in p.name))
            for unit, cycles in later.groupby("unit_number")["cycle"]:
                start = last[unit] + number * LATER_CYCLES
                assert list(cycles) == list(range(start + 1, start + LATER_CYCLES + 1))
    # the readings are the unit's last ones again, under the next cycle numbers
    unit_1 = read_cmapss(tmp_path / "landing" / "test_FD000.txt").query("unit_number == 1")
    again = read_cmapss(first[0]).query("unit_number == 1")
    sensors = [c for c in unit_1.columns if c not in ("unit_number", "cycle")]
    pd.testing.assert_frame_equal(
        again[sensors].reset_index(drop=True), unit_1.tail(LATER_CYCLES)[sensors].reset_index(drop=True)
    )


def test_writes_since_reads_each_commit_from_the_delta_log(tmp_path: Path) -> None:
    warehouse, lake_dir = tmp_path / "warehouse.duckdb", tmp_path / "lake"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema gold")
        con.execute("create table gold.a as select range as id, range * 2 as x from range(1000)")
        con.execute("create table gold.b as select 1 as id")
    assert lake_writes.versions(lake_dir) == {}

    publish(warehouse, lake_dir)
    first = lake_writes.writes_since(lake_dir, {})
    assert set(first) == {"a", "b"}
    assert first["a"]["commits"] == 1 and first["a"]["files_removed"] == 0
    assert first["a"]["files_written"] == first["a"]["table_files"] >= 1
    assert first["a"]["bytes_written"] == first["a"]["table_bytes"] > 0

    before = lake_writes.versions(lake_dir)
    assert before == {"a": 0, "b": 0}
    with duckdb.connect(str(warehouse)) as con:
        con.execute("update gold.a set x = -x where id < 10")
    (result,) = [r for r in publish(warehouse, lake_dir) if r.name == "a"]
    second = lake_writes.writes_since(lake_dir, before)
    assert set(second) == {"a"}  # b did not change: no commit, left out
    files = lake.commit_files(lake.mart_path(lake_dir, "a"), 1)
    assert files == result.files
    assert (second["a"]["files_written"], second["a"]["bytes_written"]) == (files.added, files.added_bytes)
    assert (second["a"]["files_removed"], second["a"]["bytes_removed"]) == (files.removed, files.removed_bytes)
    assert second["a"]["bytes_removed"] == first["a"]["table_bytes"]  # the one file, rewritten whole
    said = lake_writes.describe(second["a"])
    assert said.startswith(f"files written {files.added} (") and f"removed {files.removed} (" in said, said
    share = 100 * files.removed_bytes / second["a"]["table_bytes"]
    assert said.endswith(f"{share:.0f} % of the table rewritten") and 50 < share < 200, said
    assert lake_writes.median_writes([first, second], "a")["runs"] == 2
    assert lake_writes.median_writes([second], "b") is None


def test_the_file_size_benchmark_runs_the_publish_writer_at_each_size(tmp_path: Path) -> None:
    """benchmarks/lake_file_size.py writes through the publish's own writer (its private plan and write):
    this runs it end to end on a small feature table, so a change there can't break it unseen."""
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema gold")
        con.execute(
            "create table gold.fct_unit_cycle_features as select printf('FD000-test-%03d', u) as unit_id, "
            "c::integer as cycle, 'test' as split, (200 - c)::integer as rul, random() as x "
            "from range(1, 41) units(u), range(1, 201) cycles(c)"
        )
    output = tmp_path / "result.json"
    kept = publishing.TARGET_FILE_SIZE
    argv = ["--warehouse", str(warehouse), "--file-sizes-mib", "1,2", "--units", "4", "--repeats", "2"]
    assert lake_file_size.main([*argv, "--read-repeats", "2", "--output", str(output)]) == 0
    assert kept == publishing.TARGET_FILE_SIZE  # put back for the rest of the process

    rows = json.loads(output.read_text())["rows"]
    assert [row["file_size_mib"] for row in rows] == [1, 2]
    for row in rows:
        assert row["files"] >= 1 and row["bytes"] > 0
        assert len(row["rewrites"]) == 2 and all(r["added"] >= 1 and r["removed"] >= 1 for r in row["rewrites"])
        assert set(row["reads"]) == {"scan two columns", "one unit", "50 units", "latest cycle per unit"}
    assert lake_file_size.spread_units([f"u{i}" for i in range(10)], 3, shift=1) == ("u1", "u4", "u7")


@pytest.mark.parametrize("module", [scale, spark_vs_duckdb])
@pytest.mark.parametrize(
    ("sizes", "said"), [("", "'' names no size"), (",", "',' names no size"), ("inf", "not a size")]
)
def test_no_size_or_an_infinite_one_stops_naming_the_option(
    module, sizes: str, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--sizes ''` ran nothing and stopped on an IndexError (scale) or a raw ArgumentTypeError (spark_vs_duckdb);
    `--sizes inf` on an OverflowError."""
    with pytest.raises(SystemExit) as stopped:
        module.main([f"--sizes={sizes}", "--workdir", str(tmp_path / "work"), "--output", str(tmp_path / "out.json")])
    assert stopped.value.code == 2
    assert f"argument --sizes: {said}" in capsys.readouterr().err
    assert not (tmp_path / "work").exists() and not (tmp_path / "out.json").exists()


def test_ingestion_scaling_with_no_repeat_says_so(tmp_path: Path) -> None:
    """--repeats 0 said 'need 1 <= history and 10 * history + 0 <= 1000 dataset names' of a history of 10."""
    with pytest.raises(SystemExit, match=r"^need --repeats >= 1, not 0$"):
        ingestion_scaling.main(["--repeats", "0", "--workdir", str(tmp_path / "work")])
    assert not (tmp_path / "work").exists()


@pytest.mark.parametrize(
    ("module", "option", "given", "minimum"),
    [
        (lake_file_size, "--file-sizes-mib", "0", 1),
        (lake_file_size, "--file-sizes-mib", "8,x", 1),
        (monitor_noise, "--units", "", 2),
        (monitor_noise, "--units", "100,1", 2),
    ],
)
def test_a_list_of_counts_with_none_or_a_bad_one_stops_naming_the_option(
    module, option: str, given: str, minimum: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both parse their lists with `ml.config.whole_numbers_from`. lake_file_size took `--file-sizes-mib 0` (a
    target file size of 0 bytes) and refused `8,x` as an 'invalid <lambda> value'; monitor_noise checked its list
    by hand, as each benchmark did with its own message."""
    argv = {lake_file_size: ["--warehouse", str(tmp_path / "none.duckdb")], monitor_noise: []}[module]
    with pytest.raises(SystemExit) as stopped:
        module.main([*argv, f"{option}={given}", "--output", str(tmp_path / "out.json")])
    assert stopped.value.code == 2
    assert f"argument {option}: {given!r}: give comma-separated whole numbers of {minimum} or more" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "out.json").exists()
