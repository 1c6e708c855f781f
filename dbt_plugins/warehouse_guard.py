"""dbt-duckdb plugin: open the warehouse file before dbt does, waiting for readers, failing fast otherwise.

The profile attaches the warehouse (`attach:` with the alias named by `database:`, over an
in-memory main database) so that its ATTACH options apply: DuckDB takes `ROW_GROUP_SIZE` only at
ATTACH, never at connect, and does not store it in the file. dbt-duckdb calls
`update_connection_config` right before its own `duckdb.connect`, then `configure_connection` with
that connection before it runs the profile's `ATTACH IF NOT EXISTS` statements; once per opening of
the database (one per run: the profile keeps the connection open). This plugin:

- stops the command at once, naming the environment variable, when a profile setting read from one
  is a value DuckDB can't take (`PDM_DUCKDB_MEMORY_LIMIT`, `PDM_DUCKDB_MAX_VACUUM_TASKS`) or the lock
  wait (`PDM_WAREHOUSE_LOCK_WAIT_SECONDS`) is not a number, before it opens anything;
- creates the warehouse's folder if it does not exist (`PDM_DATA_DIR=/new/folder` builds);
- puts DuckDB's spill folder beside the warehouse (`<warehouse>.tmp`, where DuckDB puts it for a
  database opened by its path), unless the profile sets `temp_directory`;
- attaches the warehouse itself, with the profile's options, on dbt's connection. A lock held by
  another process (an analyst's read-only session, another build) is waited for, up to
  `lock_wait_seconds`, saying every few seconds who holds it (PID and, where /proc shows it,
  command line). Any other error (a folder that can't be created, a read-only file system, a file
  that is not a DuckDB database) can't clear by waiting: the build stops at once with a message
  naming the path. dbt's own ATTACH IF NOT EXISTS then finds it attached;
- makes the warehouse each dbt cursor's default database (`USE`), so the macros' schema-qualified
  names (`silver.unit_change_watermarks`) resolve in it.

A profile whose `path` is the warehouse file itself is guarded too: the plugin opens the file first,
with the same waiting, and keeps that connection until dbt's own has opened, so dbt's connect joins
the same in-process database instance and no other process can take the lock in between.

Once it has given up, later openings in the same run (dbt's other thread) fail at once with the
same message instead of waiting again. `open_warehouse` and `WarehouseUnavailable` are also used
by the Python steps that open the warehouse read-only (`ml.summary`).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import duckdb
from dbt.adapters.duckdb.plugins import BasePlugin
from dbt.adapters.events.logging import AdapterLogger
from dbt_common.exceptions import DbtRuntimeError

logger = AdapterLogger("DuckDB")

DEFAULT_LOCK_WAIT_SECONDS = 30.0
LOCK_WAIT_VARIABLE = "PDM_WAREHOUSE_LOCK_WAIT_SECONDS"  # profiles.yml's lock_wait_seconds
# The profile's DuckDB settings read from the environment (profiles.yml), named when DuckDB can't take one.
SETTING_VARIABLES = {"memory_limit": "PDM_DUCKDB_MEMORY_LIMIT", "max_vacuum_tasks": "PDM_DUCKDB_MAX_VACUUM_TASKS"}
POLL_SECONDS = 0.5
REPORT_EVERY_SECONDS = 5.0
# DuckDB 1.5: 'Could not set lock on file "<path>": Conflicting lock is held in <exe> (PID <n>).'
# followed, when the holder opened the file read-only, by "However, you would be able to open
# this database in read-only mode".
LOCK_CONFLICT = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")
HOLDER_IS_READ_ONLY = "you would be able to open this database in read-only mode"
NOT_LOCAL_FILES = (":memory:", "md:", "motherduck:")

T = TypeVar("T")


class WarehouseUnavailable(DbtRuntimeError):
    """The warehouse file can't be opened: the message names the path and, for a lock, its holder."""


@dataclass(frozen=True)
class LockHolder:
    pid: int
    program: str
    command_line: str | None
    read_only: bool

    def __str__(self) -> str:
        mode = "a read-only session" if self.read_only else "a read-write session"
        return f"PID {self.pid} ({self.command_line or self.program}), {mode}"


def lock_holder(error: Exception | str) -> LockHolder | None:
    """Who holds the lock, from DuckDB's lock-conflict error; None if the error is not a lock conflict."""
    message = str(error)
    found = LOCK_CONFLICT.search(message)
    if found is None:
        return None
    pid = int(found["pid"])
    return LockHolder(
        pid=pid,
        program=found["program"],
        command_line=_command_line(pid),
        read_only=HOLDER_IS_READ_ONLY in message,
    )


def _command_line(pid: int, limit: int = 200) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    text = raw.replace(b"\0", b" ").decode(errors="replace").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def prepare_folder(warehouse: Path, say: Callable[[str], None]) -> None:
    """Create the warehouse's folder if missing; raise WarehouseUnavailable if that can't be done."""
    if warehouse.is_dir():
        raise WarehouseUnavailable(f"the warehouse path {warehouse} is a folder, not a DuckDB file")
    folder = warehouse.parent
    if folder.is_dir():
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        in_the_way = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
        reason = f"{in_the_way} is a file, not a folder" if in_the_way else exc.strerror or str(exc)
        raise WarehouseUnavailable(f"can't create the warehouse folder {folder} for {warehouse}: {reason}") from exc
    say(f"Warehouse: created the folder {folder}")


def open_warehouse(
    warehouse: Path,
    *,
    read_only: bool,
    wait_seconds: float,
    say: Callable[[str], None],
    config: dict[str, Any] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Connect to `warehouse`, waiting up to `wait_seconds` while another process holds its lock.

    Errors other than a lock conflict are raised at once; every error is a WarehouseUnavailable
    naming the path (and the lock's holder, for a lock).
    """
    return wait_for_lock(
        lambda: duckdb.connect(str(warehouse), read_only=read_only, config=config or {}),
        warehouse,
        mode="read-only" if read_only else "read-write",
        wait_seconds=wait_seconds,
        say=say,
    )


def wait_for_lock(
    open_it: Callable[[], T], warehouse: Path, *, mode: str, wait_seconds: float, say: Callable[[str], None]
) -> T:
    """`open_it()` (a connect or an ATTACH of `warehouse`), tried again while another process holds the
    file's lock, up to `wait_seconds`; any other error at once. Errors are WarehouseUnavailable."""
    started = time.monotonic()
    next_report = started
    while True:
        try:
            return open_it()
        except duckdb.Error as exc:
            holder = lock_holder(exc)
            if holder is None:
                raise WarehouseUnavailable(f"can't open the warehouse {warehouse} {mode}: {exc}") from exc
            now = time.monotonic()
            waited = now - started
            if waited >= wait_seconds:
                waiting = (
                    f"; gave up after waiting {waited:.0f} s of the {wait_seconds:g} s allowed "
                    "(lock_wait_seconds, PDM_WAREHOUSE_LOCK_WAIT_SECONDS)"
                    if wait_seconds > 0
                    else ""
                )
                raise WarehouseUnavailable(
                    f"the warehouse {warehouse} is locked by {holder}{waiting}. "
                    f"Run again once that session has ended. DuckDB said: {exc}"
                ) from exc
            if now >= next_report:
                say(
                    f"Warehouse {warehouse} is locked by {holder}: waiting for it "
                    f"({waited:.0f} s of {wait_seconds:g} s)"
                )
                next_report = now + REPORT_EVERY_SECONDS
            time.sleep(min(POLL_SECONDS, max(wait_seconds - waited, 0.0)))


def check_settings(settings: dict[str, Any]) -> None:
    """Each of the profile's settings read from an environment variable, tried on a throw-away DuckDB
    connection: one DuckDB can't take stops the build naming its variable, before the warehouse is
    opened (dbt-duckdb sets them later, and DuckDB's own message names neither)."""
    probe = duckdb.connect()
    try:
        for name, variable in SETTING_VARIABLES.items():
            if name not in settings:
                continue
            value = str(settings[name])
            quoted = value.replace("'", "''")
            try:
                probe.execute(f"set {name} = '{quoted}'")
            except duckdb.Error as exc:
                raise WarehouseUnavailable(f"{variable}={value!r} is not a {name} DuckDB takes: {exc}") from None
    finally:
        probe.close()


def _local_file(path: str) -> Path | None:
    return None if path.startswith(NOT_LOCAL_FILES) or "://" in path else Path(path).absolute()


class Plugin(BasePlugin):
    """Registered last in profiles.yml: it connects with the config the plugins before it set."""

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        wait = str(plugin_config.get("lock_wait_seconds") or "").strip()
        try:
            self.wait_seconds = float(wait) if wait else DEFAULT_LOCK_WAIT_SECONDS
        except ValueError:
            self.wait_seconds = float("nan")
        if not math.isfinite(self.wait_seconds) or self.wait_seconds < 0:  # nan: a wait without end
            raise WarehouseUnavailable(f"{LOCK_WAIT_VARIABLE}={wait!r} is not a number of 0 or more (seconds)")
        self._held: duckdb.DuckDBPyConnection | None = None
        self._failure: str | None = None
        self._attachment: Any = None  # the profile's attach entry of the warehouse
        self._database: str | None = None

    def update_connection_config(self, creds: Any, config: dict[str, Any]) -> None:
        if self._failure is not None:
            raise WarehouseUnavailable(self._failure)
        self._guarded(lambda: check_settings(creds.settings or {}))
        self._release()
        self._attachment = next(
            (a for a in creds.attach or [] if (a.alias or "") == creds.database and _local_file(a.path)), None
        )
        if self._attachment is not None:
            warehouse = _local_file(self._attachment.path)
            self._database = creds.database
            self._guarded(lambda: prepare_folder(warehouse, logger.info))
            config.setdefault("temp_directory", f"{warehouse}.tmp")
            return
        warehouse = _local_file(str(creds.path))
        if warehouse is None:
            return

        def open_file() -> duckdb.DuckDBPyConnection:
            prepare_folder(warehouse, logger.info)
            return open_warehouse(
                warehouse, read_only=False, wait_seconds=self.wait_seconds, say=logger.warning, config=config
            )

        self._held = self._guarded(open_file)

    def configure_connection(self, conn: duckdb.DuckDBPyConnection) -> None:
        self._release()  # a file `path`: dbt's connection to the same database instance is open now
        if self._attachment is None:
            return
        warehouse = _local_file(self._attachment.path)
        self._guarded(
            lambda: wait_for_lock(
                lambda: conn.execute(self._attachment.to_sql()),
                warehouse,
                mode="read-write",
                wait_seconds=self.wait_seconds,
                say=logger.warning,
            )
        )

    def configure_cursor(self, cursor: duckdb.DuckDBPyConnection) -> None:
        if self._database is not None:
            cursor.execute(f'use "{self._database}"')

    def _guarded(self, open_it: Callable[[], T]) -> T:
        try:
            return open_it()
        except WarehouseUnavailable as exc:
            self._failure = exc.msg  # dbt reports the exception: "Encountered an error"
            raise

    def _release(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None
