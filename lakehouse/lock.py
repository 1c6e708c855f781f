"""One writer at a time on the lake: an advisory `fcntl.flock` on `<lake>/.lake.lock`.

`publish` and `optimize` hold it for their whole run; `restore`, `erase` (its steps that write the lake,
the warehouse or the score files), `ml.predict` (its scoring: reading the tombstone and features, writing
the scores file) and a rebuild of the analysts' database hold it while they work. The kernel releases a flock when its
process ends, however it ends (SIGKILL included), so a killed writer never leaves the lake locked.
The holder writes its PID, command and start time into the file; a second writer prints who holds
the lock, waits up to `timeout` seconds, and then gives up with `LakeBusyError` naming that PID.
A lock file that can't be created or opened for writing (a read-only lake folder, a lake path that is a
file) stops the command with `LakeError` naming the path, before it changes anything.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import math
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from lakehouse.lake import LakeError
from ml.config import env_number, path_problem

LOCK_FILE = ".lake.lock"
DEFAULT_TIMEOUT_S = 600.0
POLL_S = 0.2


class LakeBusyError(LakeError):
    """Another process held the lake lock for longer than this one would wait."""


def add_lock_timeout_option(parser: argparse.ArgumentParser) -> None:
    """`--lock-timeout SECONDS` (default `PDM_LAKE_LOCK_TIMEOUT`, else DEFAULT_TIMEOUT_S): every command that
    takes the lake lock offers it, with one meaning."""
    parser.add_argument(
        "--lock-timeout",
        type=float,
        default=env_number("PDM_LAKE_LOCK_TIMEOUT", DEFAULT_TIMEOUT_S),
        metavar="SECONDS",
        help="how long to wait for another writer (a publish, restore, erase, optimize or scoring run) to release "
        f"the lake lock (default $PDM_LAKE_LOCK_TIMEOUT or {DEFAULT_TIMEOUT_S:g})",
    )


def lock_path(lake: Path) -> Path:
    return Path(lake) / LOCK_FILE


def holder(lake: Path) -> str:
    """Who holds (or last held) the lock, as text: 'PID 123 (publish, since 2026-11-22T10:00:00Z)'."""
    try:
        info = json.loads(lock_path(lake).read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info.get("pid"):
        return "an unknown process"
    return f"PID {info['pid']} ({info.get('command', '?')}, since {info.get('since', '?')})"


@contextmanager
def lake_lock(
    lake: Path, command: str, timeout: float = DEFAULT_TIMEOUT_S, say: TextIO | None = None
) -> Iterator[None]:
    """Hold the lake's writer lock for the `with` block, waiting at most `timeout` seconds for it."""
    if not math.isfinite(timeout):  # --lock-timeout nan or inf: a wait without end
        raise LakeError(f"{command}: the lake lock timeout must be a finite number of seconds, not {timeout}")
    path = lock_path(lake)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:  # a read-only lake folder, a lake path that is a file: one line, nothing changed
        raise LakeError(f"can't take the lake's writer lock, so nothing was changed: {path_problem(exc)}") from None
    try:
        deadline = time.monotonic() + max(timeout, 0.0)
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LakeBusyError(
                        f"the lake {lake} is locked by {holder(lake)} (lock file {path}); "
                        f"gave up after waiting {timeout:g} s. If that process is gone, run again: "
                        "the lock is released when its holder exits."
                    ) from None
                if not announced:
                    print(
                        f"{command}: waiting up to {timeout:g} s for the lake lock held by {holder(lake)}",
                        file=say or sys.stderr,
                        flush=True,
                    )
                    announced = True
                time.sleep(POLL_S)
        since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "command": command, "since": since}).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
