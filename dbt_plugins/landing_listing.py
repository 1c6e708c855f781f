"""dbt-duckdb plugin: list the landing folder, saying what each entry is and whether it is stable.

DuckDB's own `glob` / `read_blob` skip directories and symbolic links whose target is missing, so
a file listing built on them cannot say that such an entry is there. This plugin registers one
SQL function on dbt's connection, behind the `list_landed_files` macro:

    pdm_list_landing_folder(folder VARCHAR, settle_seconds DOUBLE, settled VARCHAR)
        -> STRUCT(source_file VARCHAR, entry_kind VARCHAR, file_size_bytes BIGINT,
                  modified_epoch_seconds BIGINT, detail VARCHAR)[]

one element per entry at the top level of `folder` (none when the folder does not exist), sorted
by path. `source_file` is `folder` (trailing slashes dropped) + "/" + the entry's name, exactly as
`read_blob` names the file. `entry_kind` is:

- `file`: a regular file (or a link to one) whose size and modification time did not change
  across the settle interval: safe to read;
- `settling`: a regular file whose size or modification time changed while it was watched (a
  copy still in progress), held back this time;
- `directory`, `dangling_symlink` (a link whose target is missing, or a loop of links),
  `not_a_regular_file` (a FIFO, socket or device, or an entry that can't be looked at),
  `undecodable_name` (a name that is not UTF-8 text, which DuckDB can neither take nor open;
  `source_file` shows each byte that is not UTF-8 as U+FFFD, the detail the name's bytes as
  `\\xNN`): never read.

The settle interval: files last modified less than `settle_seconds` ago are looked at again once
they are that old (the call sleeps at most `settle_seconds`); a file unchanged between the two
looks is `file`, one that changed is `settling`. Older files are not waited for. Modification
times are whole seconds, as `read_blob` reports them, so the ingestion checkpoint compares alike.

`settled` (JSON, `{"<entry name>": [size, mtime_ns]}`; `{}`: none) names files known to be whole: the
watcher saw their writer close them, or them moved in (lakehouse/landing_events.py). Such a file is
not waited for when its size and modification time (in nanoseconds) are still those given; a file
changed since then waits the settle interval as any other.
"""

from __future__ import annotations

import json
import os
import stat
import time
from typing import Any

import duckdb
from dbt.adapters.duckdb.plugins import BasePlugin

FUNCTION_NAME = "pdm_list_landing_folder"
ENTRY_TYPE = (
    "STRUCT(source_file VARCHAR, entry_kind VARCHAR, file_size_bytes BIGINT, "
    "modified_epoch_seconds BIGINT, detail VARCHAR)[]"
)


def _entry(source_file: str, kind: str, status: os.stat_result | None = None, detail: str | None = None) -> dict:
    return {
        "source_file": source_file,
        "entry_kind": kind,
        "file_size_bytes": status.st_size if status else None,
        "modified_epoch_seconds": int(status.st_mtime) if status else None,
        "detail": detail,
    }


def _look(path: str) -> tuple[str, os.stat_result | None, str | None]:
    """What the entry at `path` is: (kind, its stat when a regular file, a detail)."""
    try:
        status = os.stat(path)  # follows symbolic links
    except FileNotFoundError:
        if os.path.islink(path):
            return "dangling_symlink", None, f"symbolic link to {os.readlink(path)}, which does not exist"
        return "missing", None, None
    except OSError as error:  # a loop of links (ELOOP), a target that can't be looked at: never read
        if os.path.islink(path):
            detail = f"symbolic link to {os.readlink(path)}, which can't be followed ({error.strerror})"
            return "dangling_symlink", None, detail
        return "not_a_regular_file", None, f"can't be looked at ({error.strerror})"
    if stat.S_ISREG(status.st_mode):
        return "file", status, None
    if stat.S_ISDIR(status.st_mode):
        return "directory", None, "a directory"
    return "not_a_regular_file", None, "not a regular file (a FIFO, socket or device)"


def _is_undecodable(name: str) -> bool:
    """Whether `name` (from os.listdir) holds bytes that are not UTF-8 (Python's surrogate escapes)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _is_settled(name: str, status: os.stat_result, settled: dict[str, list[int]]) -> bool:
    """Whether the file `name` is still as it was when it was known whole (`settled`)."""
    known = settled.get(name)
    return known is not None and list(known) == [status.st_size, status.st_mtime_ns]


def list_landing_folder(folder: str, settle_seconds: float | None, settled: str | None = None) -> list[dict[str, Any]]:
    """The entries at the top level of `folder` (see the module docstring)."""
    folder = folder.rstrip("/") or "/"
    try:
        names = sorted(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    settle = max(float(settle_seconds or 0.0), 0.0)
    whole = json.loads(settled) if settled else {}
    undecodable = [name for name in names if _is_undecodable(name)]
    looked = {f"{folder}/{name}": _look(f"{folder}/{name}") for name in names if name not in undecodable}
    now = time.time()
    fresh = {
        path: info
        for path, info in looked.items()
        if info[0] == "file"
        and now - info[1].st_mtime < settle
        and not _is_settled(os.path.basename(path), info[1], whole)
    }
    if fresh:
        newest = max(info[1].st_mtime for info in fresh.values())
        time.sleep(min(settle, max(0.0, newest + settle - now)))
    entries = []
    for path, (kind, status, detail) in looked.items():
        if path in fresh:
            again_kind, again, _ = _look(path)
            if again_kind != "file" or (again.st_size, again.st_mtime_ns) != (status.st_size, status.st_mtime_ns):
                grown = f"{status.st_size} -> {again.st_size} bytes" if again_kind == "file" else "gone"
                detail = f"changed during the {settle:g} s settle interval ({grown}): still being written"
                entries.append(_entry(path, "settling", again or status, detail))
                continue
        if kind != "missing":  # removed between listing and looking: not there
            entries.append(_entry(path, kind, status, detail))
    shown = {}  # two such names may show alike: one entry each shown name
    for name in undecodable:
        raw = os.fsencode(name)
        detail = f"a file name that is not UTF-8 text ({str(raw)[1:]}), which cannot be read: rename it"
        shown.setdefault(f"{folder}/{raw.decode('utf-8', 'replace')}", detail)
    entries += [_entry(path, "undecodable_name", None, detail) for path, detail in shown.items()]
    return sorted(entries, key=lambda entry: entry["source_file"])


class Plugin(BasePlugin):
    """Registers `pdm_list_landing_folder` on every connection dbt opens."""

    def configure_connection(self, conn: duckdb.DuckDBPyConnection) -> None:
        conn.create_function(
            FUNCTION_NAME,
            list_landing_folder,
            [duckdb.sqltype("VARCHAR"), duckdb.sqltype("DOUBLE"), duckdb.sqltype("VARCHAR")],
            duckdb.sqltype(ENTRY_TYPE),
            side_effects=True,
        )
