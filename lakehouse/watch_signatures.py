"""What the watcher compares between looks: the landing folder's listing and a digest of the project's dbt files.

A signature is every entry under a folder, by relative path: [size, mtime_ns] (directories [-1, -1]),
no file content, so a look costs a listing whatever the folder holds. `Difference` says which entries
are new, changed or removed between two; the tick (lakehouse/watch.py) selects what to build from it
and saves the signature it started from. The project's signature is by content instead: a change to a
dbt file re-parses the project and runs its unit tests and seeds again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ml.config import REPO_ROOT

# The files whose change makes dbt's parse (and so the manifest kept between ticks) stale.
PROJECT_PATHS = ("models", "macros", "tests", "seeds", "snapshots", "analyses", "dbt_project.yml", "profiles.yml")

Signature = dict[str, list[int]]  # relative path -> [size, mtime_ns] (directories: [-1, -1])


def folder_signature(root: Path, skip: Callable[[str], bool] = lambda _: False) -> Signature:
    """Every entry under `root` (recursively): relative path -> [size, mtime_ns]; links followed for
    their target's size and time (a dangling link, or a loop of links: [-2, its own mtime_ns]);
    directories [-1, -1]."""
    signature: Signature = {}
    if not root.is_dir():
        return signature
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in dirs + sorted(files):
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, root)
            if skip(relative):
                continue
            try:
                status = os.stat(path)
            except OSError:  # a dangling link, a loop of links (ELOOP), or gone since it was listed
                with contextlib.suppress(FileNotFoundError):  # gone between listing and looking: not there
                    signature[relative] = [-2, os.lstat(path).st_mtime_ns]
                continue
            signature[relative] = [-1, -1] if name in dirs else [status.st_size, status.st_mtime_ns]
    return signature


def landing_signature(landing: Path) -> Signature:
    """What the landing folder holds, as bronze lists it: names, sizes, modification times (no content)."""
    return folder_signature(landing)


def project_signature(root: Path = REPO_ROOT) -> str:
    """A digest of the project's dbt files (what dbt parses): their paths and contents, to notice a project
    change between ticks (computed only by a tick with work to do). Contents, not modification times: a
    checkout or copy of the same files, a restart in a fresh clone say, is no change, and needs no new
    parse, unit tests or seeds."""
    digest = hashlib.sha256()
    for name in PROJECT_PATHS:
        path = root / name
        files = [(name, path)] if path.is_file() else []
        if path.is_dir():
            skip = lambda relative: relative.startswith("python") or "__pycache__" in relative  # noqa: E731
            listed = sorted(folder_signature(path, skip).items())
            files += [(f"{name}/{rel}", path / rel) for rel, (size, _) in listed if size >= 0]  # files only
        for relative, file in files:
            digest.update(relative.encode() + b"\0")
            with contextlib.suppress(OSError):  # gone since the listing: its name alone
                digest.update(file.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Difference:
    """Entries new, changed and removed between two signatures; `describe` counts files, not folders."""

    new: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    folders: frozenset[str] = frozenset()

    @classmethod
    def between(cls, before: Signature, after: Signature) -> Difference:
        return cls(
            new=tuple(sorted(set(after) - set(before))),
            changed=tuple(sorted(p for p in set(after) & set(before) if after[p] != before[p])),
            removed=tuple(sorted(set(before) - set(after))),
            folders=frozenset(p for p, v in {**before, **after}.items() if v[0] == -1),
        )

    def __bool__(self) -> bool:
        return bool(self.new or self.changed or self.removed)

    def describe(self) -> str:
        def count(entries: tuple[str, ...]) -> int:
            return sum(entry not in self.folders for entry in entries)

        parts = [f"{count(self.new)} new", f"{count(self.changed)} changed"]
        if count(self.removed):
            parts.append(f"{count(self.removed)} removed")
        return "files " + ", ".join(parts)
