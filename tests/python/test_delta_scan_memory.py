"""benchmarks.delta_scan_memory runs end to end on real Delta tables: each reader in its own child process,
every figure reported (the figures themselves are the benchmark's to claim, not a test's)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks import delta_scan_memory


def test_each_table_and_reader_is_measured_in_a_child(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "memory.json"
    argv = ["--files", "1,3", "--columns", "4", "--scans", "5", "--repeats", "2", "--output", str(output)]
    assert delta_scan_memory.main(argv) == 0
    result = json.loads(output.read_text())
    assert [(r["files"], r["reader"]) for r in result["results"]] == [
        (1, "delta_scan"), (1, "read_parquet"), (3, "delta_scan"), (3, "read_parquet")
    ]  # fmt: skip
    for row in result["results"]:
        assert len(row["runs"]) == 2 and all(run["scans"] == 5 for run in row["runs"])
        assert math.isfinite(row["rss_mib_per_100"]["median"])
        assert row["heap_kib_per_scan"] is not None  # glibc >= 2.33 on the machines this project supports
    assert result["meta"]["versions"]["delta_extension"]
    assert "| 3 | read_parquet |" in capsys.readouterr().out


def test_bad_counts_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert delta_scan_memory.main(["--scans", "0"]) == 2
    assert "--scans and --repeats must be at least 1" in capsys.readouterr().err
    for files in ("", "0", "1,x"):  # '': a table of nothing, exit 0; 0: deltalake's TableNotFoundError
        with pytest.raises(SystemExit) as stopped:
            delta_scan_memory.main(["--files", files])
        assert stopped.value.code == 2
        said = capsys.readouterr().err
        assert f"argument --files: {files!r}: give comma-separated whole numbers of 1 or more" in said
