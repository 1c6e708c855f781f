"""Content landed twice is read once and never lost (macros/ingestion/files_not_yet_ingested.sql,
base_cmapss__landed_lines): copies, files overwritten with another file's bytes, earlier versions put
back, the same bytes under another name; and `make optimize`'s pruning of the raw lines of versions
replaced loses none of it. Real files, the real `dbt build`, real DuckDB."""

from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, datetime, timedelta

import pytest

from lakehouse.optimize import prune_superseded_lines
from tests.python.conftest import Environment
from tests.python.test_bad_input import LENIENT, line, write

pytestmark = pytest.mark.dbt

CORRECTED_T24 = "642.50"  # a reading's t24 in a later delivery (the template's is 641.82)


def test_copies_restored_versions_and_renamed_files_keep_every_landed_line(environment: Environment) -> None:
    """Content landed twice is read once, and never lost: a copy takes over the content it copied when
    that file changes; a file whose new content copies another file's gives up its old rows; an earlier
    version put back with its old size and time is read again; the same bytes under another dataset's
    name, or first under a name no rule recognises, are data of their own; of two deliveries of a
    reading, the later is kept (by build, then by modification time). The warehouse then holds what a
    full refresh (bronze read again from the folder, silver and gold rebuilt whole) makes of the same
    folder, and the full refresh finds every row it holds there (nothing to stop for)."""
    landing = environment.paths.landing
    units_1_2 = "".join(line(u, c) for u in (1, 2) for c in range(1, 11))
    write(landing / "train_FD401_x.txt", units_1_2)
    shutil.copy(landing / "train_FD401_x.txt", landing / "train_FD401_y.txt")  # a copy
    write(landing / "train_FD401_d.txt", "".join(line(4, c) for c in range(1, 9)))
    write(landing / "train_FD401_e.txt", "".join(line(6, c) for c in range(1, 9)))
    write(landing / "train_FD402.txt", units_1_2)  # the same bytes, another dataset
    write(landing / "train-FD403.txt", "".join(line(7, c) for c in range(1, 9)))  # a name no rule knows
    ten_cycles = "".join(line(5, c) for c in range(1, 11))
    write(landing / "train_FD401_z.txt", ten_cycles)
    an_hour_ago = time.time() - 3600
    os.utime(landing / "train_FD401_z.txt", (an_hour_ago, an_hour_ago))
    environment.build(*LENIENT)

    def units(dataset: str) -> list[tuple]:
        return environment.query(
            "select unit_number, count(*) from bronze.stg_cmapss__sensor_readings "
            f"where dataset = '{dataset}' group by 1 order by 1"
        )

    def status(name: str) -> tuple:
        return environment.query(
            "select ingestion_status, bool_or(is_current_version) over () from bronze.stg_cmapss__landed_files "
            f"where file_name = '{name}' order by ingested_at desc limit 1"
        )[0]

    assert units("FD401") == [(1, 10), (2, 10), (4, 8), (5, 10), (6, 8)]
    assert units("FD402") == [(1, 10), (2, 10)]
    assert status("train_FD401_y.txt")[0].startswith("same content as ")

    # x corrected to unit 1 alone, with another t24: its copy y still holds units 1 and 2, and now holds
    # them itself, read in the same build; d overwritten with e's bytes: d's unit 4 leaves; unit 6
    # delivered again in a (a name sorting before e's), with another t24; z rewritten shorter; the
    # unrecognised file renamed right
    write(landing / "train_FD401_x.txt", "".join(line(1, c, replace={6: CORRECTED_T24}) for c in range(1, 11)))
    shutil.copy(landing / "train_FD401_e.txt", landing / "train_FD401_d.txt")
    ten_minutes_ago = time.time() - 600  # before a's time: times are read to the second
    os.utime(landing / "train_FD401_d.txt", (ten_minutes_ago, ten_minutes_ago))
    write(landing / "train_FD401_a.txt", "".join(line(6, c, replace={6: CORRECTED_T24}) for c in range(1, 9)))
    write(landing / "train_FD401_z.txt", "".join(line(5, c) for c in range(1, 6)))
    half_an_hour_ago = time.time() - 1800
    os.utime(landing / "train_FD401_z.txt", (half_an_hour_ago, half_an_hour_ago))
    shutil.move(landing / "train-FD403.txt", landing / "train_FD403.txt")
    environment.build(*LENIENT)
    assert units("FD401") == [(1, 20), (2, 10), (5, 5), (6, 16)]  # units 1 and 6 twice: silver keeps one
    # of two deliveries, the later wins: x, corrected after y was copied from it (both read in this
    # build: the file modified last), and a, read a build after e (whatever the names' order)
    assert environment.query(
        "select unit_id, source_file, count(*), min(t24_lpc_outlet_temp), max(t24_lpc_outlet_temp) "
        "from silver.int_sensor_readings_deduplicated where unit_id in ('FD401-train-001', 'FD401-train-006') "
        "group by all order by 1"
    ) == [
        ("FD401-train-001", str(landing / "train_FD401_x.txt"), 10, float(CORRECTED_T24), float(CORRECTED_T24)),
        ("FD401-train-006", str(landing / "train_FD401_a.txt"), 8, float(CORRECTED_T24), float(CORRECTED_T24)),
    ]
    assert units("FD403") == [(7, 8)]
    assert status("train_FD401_y.txt") == ("ingested", True)
    assert status("train_FD401_d.txt")[0].endswith("train_FD401_e.txt: not read again")
    assert status("train_FD401_d.txt")[1] is False  # no current version: e holds the rows
    assert (
        environment.scalar(
            "select count(*) from silver.int_sensor_readings_deduplicated where unit_id = 'FD401-train-004'"
        )
        == 0
    )

    # z's first version put back as a backup restores it: its old bytes, size and time; unit 2 delivered
    # again in b with another t24, copied with its time kept (`cp -p`): older than y, which holds unit 2
    write(landing / "train_FD401_z.txt", ten_cycles)
    os.utime(landing / "train_FD401_z.txt", (an_hour_ago, an_hour_ago))
    write(landing / "train_FD401_b.txt", "".join(line(2, c, replace={6: CORRECTED_T24}) for c in range(1, 11)))
    a_day_ago = time.time() - 86400
    os.utime(landing / "train_FD401_b.txt", (a_day_ago, a_day_ago))
    environment.build(*LENIENT)
    assert units("FD401") == [(1, 20), (2, 20), (5, 10), (6, 16)]
    # the later delivery wins, read a build after y took unit 2 over, though its file is older
    assert environment.query(
        "select source_file, count(*), min(t24_lpc_outlet_temp), max(t24_lpc_outlet_temp) "
        "from silver.int_sensor_readings_deduplicated where unit_id = 'FD401-train-002' group by all"
    ) == [(str(landing / "train_FD401_b.txt"), 10, float(CORRECTED_T24), float(CORRECTED_T24))]

    # `make optimize` prunes the raw lines of the versions replaced (past the retention), each keeping its
    # first line: x's first, z's first two, and d's, replaced by a copy of e's content
    now = datetime.now(UTC) + timedelta(seconds=1)
    assert prune_superseded_lines(environment.paths.warehouse, 0, now) == (20 - 1) + (10 - 1) + (5 - 1) + (8 - 1)
    assert environment.query(
        "select line_number from bronze.base_cmapss__landed_lines where file_name = 'train_FD401_d.txt' order by 1"
    ) == [(0,), (1,)]  # the copy's file-level row, and the first line of the version it replaced

    # a full refresh of the same folder (a first build's work: bronze read again, silver and gold rebuilt
    # whole) finds every row bronze holds in the folder, so it does not stop, and changes nothing; nor
    # does a second one, which reads the landing times the first kept
    compared = (
        # the readings, and which file holds them: of files with one content, the one that held it before
        # (e holds the content d was given, though d's name sorts first)
        "select dataset, split, unit_number, cycle, t24_lpc_outlet_temp, source_file "
        "from bronze.stg_cmapss__sensor_readings",
        # which delivery each reading is taken from: a full refresh reads every file in one build, and
        # keeps the later of two as the incremental builds did (by when bronze first took in each
        # file's content, not by file time: b is older than y)
        "select unit_id, cycle, t24_lpc_outlet_temp, source_file from silver.int_sensor_readings_deduplicated",
        "select unit_id, cycle, rul, rul_capped from gold.fct_unit_cycle_features",
    )
    incremental = [sorted(environment.query(sql)) for sql in compared]
    for _ in range(2):
        environment.build("--full-refresh", *LENIENT)
        assert [sorted(environment.query(sql)) for sql in compared] == incremental

    # p's unit 8, and its copy q; a later delivery r of unit 8 (an older file) wins; then p is rewritten
    # and, before any incremental build reads it, a full refresh runs: an incremental build would read q
    # again with p, and q would hold unit 8 from then on, newer than r. So does the full refresh.
    write(landing / "train_FD401_p.txt", "".join(line(8, c) for c in range(1, 6)))
    shutil.copy(landing / "train_FD401_p.txt", landing / "train_FD401_q.txt")
    environment.build(*LENIENT)
    write(landing / "train_FD401_r.txt", "".join(line(8, c, replace={6: CORRECTED_T24}) for c in range(1, 6)))
    os.utime(landing / "train_FD401_r.txt", (a_day_ago, a_day_ago))
    environment.build(*LENIENT)

    def unit_8() -> list[tuple]:
        return environment.query(
            "select source_file, count(*), max(t24_lpc_outlet_temp) from silver.int_sensor_readings_deduplicated "
            "where unit_id = 'FD401-train-008' group by all"
        )

    assert unit_8() == [(str(landing / "train_FD401_r.txt"), 5, float(CORRECTED_T24))]
    write(landing / "train_FD401_p.txt", "".join(line(9, c) for c in range(1, 6)))
    environment.build("--full-refresh", *LENIENT)
    assert unit_8() == [(str(landing / "train_FD401_q.txt"), 5, 641.82)]
