"""lakehouse.watch_restart: sizes, the resident memory from /proc, and when a watcher restarts itself.
The restart itself (a real watcher re-executing in place) is tested in test_lakehouse_watch.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse.watch_restart import MIN_SECONDS_BETWEEN_RESTARTS, MemoryLimit, parse_memory, resident_memory


def test_sizes_are_read_as_duckdb_writes_them() -> None:
    assert parse_memory("4GiB") == 4 * 1024**3
    assert parse_memory("4GB") == 4 * 1000**3
    assert parse_memory(" 3.5 gib ") == int(3.5 * 1024**3)
    assert parse_memory("500MB") == 500 * 1000**2
    assert parse_memory("0") == 0
    for bad in ("", "four GB", "4TB", "-1GB", "4 GiB of RAM"):
        with pytest.raises(ValueError, match="memory size"):
            parse_memory(bad)


def test_resident_memory_is_this_process_rss(tmp_path: Path) -> None:
    own = resident_memory()
    assert own is not None and 10 * 1024**2 < own < 64 * 1024**3
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmHWM:\t 9000 kB\nVmRSS:\t 2048 kB\n")
    assert resident_memory(status) == 2048 * 1024
    assert resident_memory(tmp_path / "missing") is None


def test_a_watcher_restarts_past_its_limit_but_not_again_too_soon() -> None:
    gib = 1024**3
    fresh = MemoryLimit(4 * gib)
    assert fresh.restart_reason(4 * gib) is None  # at the limit: no
    assert fresh.restart_reason(None) is None  # memory unknown (no /proc): never
    reason = fresh.restart_reason(5 * gib)
    assert reason is not None and "5.00 GiB is over --max-memory 4.00 GiB" in reason
    assert MemoryLimit(0).restart_reason(64 * gib) is None  # 0: no limit
    restarted = MemoryLimit(4 * gib, restarted_at=1000.0)
    assert restarted.restart_reason(5 * gib, now=1000.0 + MIN_SECONDS_BETWEEN_RESTARTS - 1) is None
    assert restarted.restart_reason(5 * gib, now=1000.0 + MIN_SECONDS_BETWEEN_RESTARTS) is not None


def test_the_restarted_process_knows_when_it_was_restarted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PDM_WATCH_RESTARTED_AT", "1234.5")
    assert MemoryLimit.from_environment("2GiB").restarted_at == 1234.5
    monkeypatch.setenv("PDM_WATCH_RESTARTED_AT", "garbage")
    assert MemoryLimit.from_environment("2GiB").restarted_at is None
    with pytest.raises(ValueError, match="memory size"):
        MemoryLimit.from_environment("lots")
