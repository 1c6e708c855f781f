"""The watcher's resident-memory limit: past it, the watcher restarts itself in place between ticks.

A watcher's memory grows over a long run (benchmarks/README.md, "latency"): native memory, not Python
objects, kept by DuckDB's delta extension, which never frees the scan metadata of a `delta_scan`
(duckdb-delta issue #279; `python -m benchmarks.delta_scan_memory`), and a supervisor would otherwise
have to reclaim it by restarting the watcher now and then. `python -m lakehouse.watch --max-memory 4GiB` (the default;
`PDM_WATCH_MAX_MEMORY`, 0 for no limit) reads the process's resident set (`VmRSS`, Linux /proc) after
every tick that succeeded, its state saved; past the limit it says so and re-executes itself
(`os.execv`: the same PID and arguments, a fresh heap). The new process warms up again and goes on
from the state file, as any restart does; warn tests or a compaction still deferred run at its first
look. A restarted watcher does not restart again before `MIN_SECONDS_BETWEEN_RESTARTS`: a limit below
what the fleet needs in steady state costs a warm-up every 10 minutes at most, and each restart line
says how far over the limit the process was.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

MAX_MEMORY_ENV = "PDM_WATCH_MAX_MEMORY"
DEFAULT_MAX_MEMORY = "4GiB"
RESTARTED_AT_ENV = "PDM_WATCH_RESTARTED_AT"  # set for the re-executed process: when it was restarted
MIN_SECONDS_BETWEEN_RESTARTS = 600.0
_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?\s*$", re.IGNORECASE)


def parse_memory(text: str) -> int:
    """Bytes of a size written as DuckDB writes them: `4GiB` (1024^3), `4GB` (1000^3), `500MB`, `0`."""
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(f"can't read {text!r} as a memory size (e.g. 4GiB, 3500MB, 0 for no limit)")
    return int(float(match[1]) * _UNITS[(match[2] or "").lower()])


def describe(size: int) -> str:
    return f"{size / 1024**3:.2f} GiB" if size >= 1024**3 else f"{size / 1024**2:.0f} MiB"


def resident_memory(status: Path = Path("/proc/self/status")) -> int | None:
    """This process's resident set in bytes (`VmRSS`), or None where /proc does not say."""
    try:
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class MemoryLimit:
    """Whether the watcher should restart itself now, and the line that says why."""

    def __init__(self, limit: int, restarted_at: float | None = None) -> None:
        self.limit = limit
        self.restarted_at = restarted_at

    @classmethod
    def from_environment(cls, limit_text: str) -> MemoryLimit:
        restarted = os.environ.get(RESTARTED_AT_ENV)
        try:
            restarted_at = float(restarted) if restarted else None
        except ValueError:
            restarted_at = None
        return cls(parse_memory(limit_text), restarted_at)

    def restart_reason(self, resident: int | None, now: float | None = None) -> str | None:
        """Why to restart, or None: no limit, memory unknown or under the limit, or restarted too recently."""
        if not self.limit or resident is None or resident <= self.limit:
            return None
        now = time.time() if now is None else now
        if self.restarted_at is not None and now - self.restarted_at < MIN_SECONDS_BETWEEN_RESTARTS:
            return None
        return (
            f"resident memory {describe(resident)} is over --max-memory {describe(self.limit)} "
            f"({MAX_MEMORY_ENV}): restarting in place (same PID; the state file carries on)"
        )


def restart(argv: Sequence[str]) -> None:
    """Re-execute `python -m lakehouse.watch <argv>` in this process (does not return). The caller has
    closed what must not outlive it; the lock's descriptor is not inheritable, so exec releases it and the
    new process takes it again."""
    os.environ[RESTARTED_AT_ENV] = f"{time.time():.3f}"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "lakehouse.watch", *argv])
