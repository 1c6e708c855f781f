"""The change-log growth benchmark's history (benchmarks/change_log_growth.py): appended to a real DuckDB
warehouse's logs, dated before every row already there, the units taken in turn."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from benchmarks.change_log_growth import grow_change_logs

FIRST_BUILD = datetime(2026, 12, 1, 8, 0)


def warehouse_with_logs(path: Path) -> Path:
    """The three logs with the columns the dbt models and the pre-hook's DDL give them, after one build
    of three units and one delivery that rewrote one unit in two models."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema silver")
        con.execute(
            "create table silver.int_unit_reading_changes (unit_id varchar, dataset varchar, split varchar, "
            "unit_number integer, changed_at timestamp)"
        )
        con.execute(
            "create table silver.int_unit_change_log (changed_at timestamp, unit_id varchar, has_reading_change "
            "boolean, has_baseline_change boolean, has_registry_change boolean, has_truth_change boolean, "
            "has_score_change boolean, is_full_rebuild boolean)"
        )
        con.execute(
            "create table silver.unit_rewrites (model_name varchar not null, unit_id varchar not null, "
            "rewritten_at timestamp not null)"
        )
        for number in (1, 2, 3):
            unit = f"FD000-test-{number:03d}"
            con.execute(
                "insert into silver.int_unit_reading_changes values (?, 'FD000', 'test', ?, ?)",
                [unit, number, FIRST_BUILD],
            )
            con.execute(
                "insert into silver.int_unit_change_log values (?, ?, true, false, false, false, false, false)",
                [FIRST_BUILD, unit],
            )
        later = FIRST_BUILD + timedelta(hours=1)
        for model in ("fct_unit_cycle_features", "dim_units"):
            con.execute("insert into silver.unit_rewrites values (?, 'FD000-test-002', ?)", [model, later])
    return path


def test_the_history_is_older_than_every_logged_change_and_takes_the_units_in_turn(tmp_path: Path) -> None:
    warehouse = warehouse_with_logs(tmp_path / "pdm.duckdb")
    history = grow_change_logs(warehouse, ticks=5, units_per_tick=2)
    assert history["rows_per_log"] == 10 and history["unit_rewrites_rows"] == 20
    assert history["models"] == ["dim_units", "fct_unit_cycle_features"]
    assert history["to"] == (FIRST_BUILD - timedelta(minutes=1)).isoformat()
    assert history["from"] == (FIRST_BUILD - timedelta(minutes=5)).isoformat()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        ticks = con.execute(
            "select changed_at, list(unit_number order by unit_number) from silver.int_unit_reading_changes "
            "where changed_at < ? group by all order by changed_at",
            [FIRST_BUILD],
        ).fetchall()
        # the units in turn, two a tick, one minute apart: (1, 2), (3, 1), (2, 3), ...
        assert [units for _, units in ticks] == [[1, 2], [1, 3], [2, 3], [1, 2], [1, 3]]
        assert [t for t, _ in ticks] == [FIRST_BUILD - timedelta(minutes=m) for m in (5, 4, 3, 2, 1)]
        # the reading-change rows carry the unit's own dataset, split and number
        assert con.execute(
            "select count(*) from silver.int_unit_reading_changes "
            "where unit_id <> printf('FD000-test-%03d', unit_number) or dataset <> 'FD000' or split <> 'test'"
        ).fetchone() == (0,)
        log = con.execute(
            "select count(*), bool_and(has_reading_change), bool_or(has_baseline_change or has_registry_change "
            "or has_truth_change or has_score_change or is_full_rebuild), max(changed_at) "
            "from silver.int_unit_change_log where changed_at < ?",
            [FIRST_BUILD],
        ).fetchone()
        assert log == (10, True, False, FIRST_BUILD - timedelta(minutes=1))
        assert con.execute(
            "select model_name, count(*) from silver.unit_rewrites where rewritten_at < ? group by 1 order by 1",
            [FIRST_BUILD],
        ).fetchall() == [("dim_units", 10), ("fct_unit_cycle_features", 10)]
        # what the builds logged is untouched: the newest rows are still theirs
        assert con.execute(
            "select count(*) from silver.int_unit_change_log where changed_at >= ?", [FIRST_BUILD]
        ).fetchone() == (3,)


def test_a_warehouse_no_delivery_rewrote_is_refused(tmp_path: Path) -> None:
    warehouse = warehouse_with_logs(tmp_path / "pdm.duckdb")
    with duckdb.connect(str(warehouse)) as con:
        con.execute("delete from silver.unit_rewrites")
    with pytest.raises(SystemExit, match="build a delivery first"):
        grow_change_logs(warehouse, ticks=1, units_per_tick=1)
    with pytest.raises(ValueError, match="ticks >= 1"):
        grow_change_logs(warehouse, ticks=0, units_per_tick=1)
