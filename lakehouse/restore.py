"""Restore a published table to an earlier version, as a NEW Delta version (`make restore`).

    python -m lakehouse.restore --table mart_fleet_health --version 3
    python -m lakehouse.restore --table gold.mart_fleet_health --as-of 2026-11-23T10:00:00   # UTC
    make restore TABLE=mart_fleet_health VERSION=3      (or AS_OF=2026-11-23T10:00:00+01:00)

Under the lake lock (`lakehouse.lock`, never beside a publish or optimize), Delta's RESTORE makes the
table's content that of the chosen version again in one new commit: history shows it as RESTORE, and
every earlier version stays readable. The RESTORE commit carries the restored version's `pdm.*` commit
metadata (its fingerprint, row-hash sums and `pdm.changes_through`), so the next `lakehouse.publish`
compares the warehouse with what the table now holds: it re-applies exactly the units the change log
named after the restored version (or compares and rewrites the table whole when it has no change log, or
its model was rebuilt whole since: `silver.unit_model_rebuilds`), and the stored
fingerprint stays that of the content. `restored_from_version` (and `restored_as_of`) record the target
in the commit. A restore is undone by publishing again (the warehouse is unchanged) or by another restore.
Then the analysts' database (`lakehouse.analysts`) is rebuilt, under the same lock hold.

The table is named as published, `mart_fleet_health` or `gold.mart_fleet_health`: a folder directly under
<lake>/gold/ holding a Delta table. An empty name, a path (`../audit/erasures`, `/elsewhere/t`) or a name
not published is refused (exit 1), naming the published tables: a restore never reaches another table.
Restoring the version that is already the current one (`AS_OF` of a time since the last commit, say)
changes nothing: the command says so and exits 0, with no commit.

A version whose data files were vacuumed can't be restored: the command stops, naming the table and
version, and the table is left as it was.

A unit erased with `make erase` after the restored version was written stays erased: its rows, back with
that version's content, are deleted again in a second commit under the same lock hold, before the
analysts' database is rebuilt (`lakehouse.erase.delete_units_from_table`; the units are read from the
erasure tombstone in the landing folder). The RESTORE commit itself, like every version before the
erasure, still holds them until old versions are vacuumed (`make erase ... PURGE=1`, `make optimize`).
Which erased units the restored version holds is read before the RESTORE commit, which then carries
`pdm.erased_units_pending` (their number) until the second commit: a restore stopped in between (killed,
a failing DELETE) leaves that mark on the latest version, and the analysts' database refuses to pin it
(`AnalystsError` naming table and version; readers keep the previous file) until the restore is run again
or the next publish writes over it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from deltalake import CommitProperties, DeltaTable

from lakehouse import analysts
from lakehouse import lake as lakelib
from lakehouse.erase import delete_units_from_table, read_tombstone
from lakehouse.lock import DEFAULT_TIMEOUT_S, add_lock_timeout_option, lake_lock
from lakehouse.publish import (
    LAYER,
    META_ERASED_PENDING,
    POST_COMMIT,
    UNIT_KEY,
    pdm_metadata,
    published_tables,
    require_published_table,
)
from ml.config import Paths
from ml.data import erased_units_in

META_RESTORED_FROM = "restored_from_version"  # not pdm.*: optimize must not carry it to its own commits
META_RESTORED_AS_OF = "restored_as_of"


class RestoreError(lakelib.LakeError):
    """The restore could not run; the table is left at its latest version."""


@dataclass(frozen=True)
class RestoreResult:
    table: str
    restored_version: int  # the version whose content the table has again
    new_version: int  # the RESTORE commit
    as_of: str | None = None
    erased_units: tuple[str, ...] = ()  # erased units the restored content held, deleted again
    erased_rows: int = 0
    latest_version: int | None = None  # the DELETE commit that removed them
    unchanged: bool = False  # the version asked for is the current one: no commit made

    def summary(self) -> str:
        when = f" (the version current at {self.as_of})" if self.as_of else ""
        if self.unchanged:
            return (
                f"{LAYER}.{self.table}: v{self.restored_version}{when} is already the current version: "
                "nothing to restore"
            )
        said = f"{LAYER}.{self.table}: restored v{self.restored_version}{when} as v{self.new_version}"
        if self.erased_units:
            units = ", ".join(self.erased_units)
            said += (
                f"; the {self.erased_rows} rows of {len(self.erased_units)} erased unit(s) it held ({units}) "
                f"deleted again as v{self.latest_version}"
            )
        return said


def commit_of(table: DeltaTable, version: int) -> dict:
    """The commit info of `version` (custom metadata included)."""
    for commit in table.history():
        if int(commit["version"]) == version:
            return commit
    raise RestoreError(f"{table.table_uri}: no commit info for v{version} (its log file is gone)")


def erased_units_held(path: Path, version: int, tombstoned: Sequence[str], name: str) -> list[str]:
    """Which of the `tombstoned` units version `version` of the table at `path` holds (`ml.data.erased_units_in`;
    none when the table has no unit_id column). Read before the RESTORE commit, so that commit can say so."""
    if not tombstoned or UNIT_KEY not in {f.name for f in lakelib.open_table(path, version).schema().fields}:
        return []
    try:
        return erased_units_in(path, version, tombstoned)
    except Exception as exc:  # duckdb's own types (a vacuumed data file): one message naming table and version
        raise RestoreError(
            f"{LAYER}.{name}: can't restore v{version} ({type(exc).__name__}: {exc}); "
            "the table is left as it was (were that version's files vacuumed?)"
        ) from exc


def restore(
    lake: Path,
    table: str,
    version: int | None = None,
    as_of: str | None = None,
    lock_timeout: float = DEFAULT_TIMEOUT_S,
    landing: Path | None = None,
) -> RestoreResult:
    """Restore gold.<table> to `version`, or to the version current at `as_of`, as a new Delta version.

    The rows of units erased since (the tombstone in `landing`; None: no tombstone to honour) are then
    deleted again, in a second commit. Then rebuilds the lake's analysts' database (`lakehouse.analysts`)
    under the same lock hold, so analysts read the restored version; `AnalystsError` if it can't be (the
    restore stands).
    """
    if (version is None) == (as_of is None):
        raise RestoreError("give exactly one of VERSION (a Delta version) or AS_OF (a time)")
    if not table.strip():
        names = ", ".join(published_tables(Path(lake))) or "none"
        raise RestoreError(f"name the table to restore: TABLE=<table> (--table) is required (published: {names})")
    name = require_published_table(Path(lake), table)  # a table under <lake>/gold/, never a path elsewhere
    path = lakelib.mart_path(Path(lake), name, LAYER)
    with lake_lock(Path(lake), "restore", lock_timeout):
        # AS_OF: the version current then, checked as VERSION= is (a vacuumed one is refused, naming it)
        target = lakelib.require_version(path, lakelib.version_as_of(path, as_of) if as_of is not None else version)
        published = lakelib.open_table(path)
        if target == published.version():  # Delta refuses it ("should be less then last available version")
            when = lakelib.parse_timestamp(as_of).isoformat() if as_of is not None else None
            return RestoreResult(name, target, target, when, unchanged=True)
        tombstoned = sorted({row["unit_id"] for row in read_tombstone(landing)}) if landing is not None else []
        erased = erased_units_held(path, target, tombstoned, name)
        metadata = pdm_metadata(commit_of(published, target))
        metadata.pop(META_ERASED_PENDING, None)
        if erased:  # until the second commit: a restore stopped in between leaves the mark on the latest version
            metadata[META_ERASED_PENDING] = str(len(erased))
        metadata[META_RESTORED_FROM] = str(target)
        if as_of is not None:
            metadata[META_RESTORED_AS_OF] = lakelib.parse_timestamp(as_of).isoformat()
        try:
            published.restore(
                target,
                commit_properties=CommitProperties(custom_metadata=metadata),
                post_commithook_properties=POST_COMMIT,
            )
        except Exception as exc:  # deltalake raises its own types; one message naming table and version
            raise RestoreError(
                f"{LAYER}.{name}: can't restore v{target} ({type(exc).__name__}: {exc}); "
                f"the table is left at v{published.version()} (were that version's files vacuumed?)"
            ) from exc
        new_version = lakelib.latest_version(path)
        deleted = None
        if erased:
            # an in-memory connection: no warehouse table to type the fingerprint by, so the DELETE commit
            # drops it and the next publish compares the table whole
            try:
                with lakelib.connect() as con:
                    deleted = delete_units_from_table(con, Path(lake), name, erased, "restore")
            except Exception as exc:  # deltalake's and duckdb's own types: one message naming what is left
                raise RestoreError(
                    f"{LAYER}.{name}: restored v{target} as v{new_version}, but the rows it holds of "
                    f"{len(erased)} erased unit(s) could not be deleted again "
                    f"({type(exc).__name__}: {exc}): run `make publish` now (the warehouse no longer holds them)"
                ) from exc
        try:
            analysts.refresh_under_lock(Path(lake), analysts.default_database(Path(lake)))
        except analysts.AnalystsError as exc:
            raise analysts.AnalystsError(f"{LAYER}.{name}: restored v{target} as v{new_version}, but {exc}") from exc
    return RestoreResult(
        name,
        target,
        new_version,
        metadata.get(META_RESTORED_AS_OF),
        deleted.units if deleted else (),
        deleted.rows if deleted else 0,
        deleted.version if deleted else None,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lakehouse.restore",
        description="Restore a published gold table to an earlier Delta version, as a new version.",
    )
    parser.add_argument("--table", required=True, help="the published table, e.g. mart_fleet_health")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--version", type=int, help="the Delta version to restore")
    target.add_argument("--as-of", help="restore the version current at this time (ISO-8601; no zone = UTC)")
    add_lock_timeout_option(parser)
    args = parser.parse_args(argv)
    try:
        paths = Paths.from_env()
        result = restore(paths.lake, args.table, args.version, args.as_of, args.lock_timeout, paths.landing)
    except lakelib.LakeError as exc:
        print(f"restore: {exc}", file=sys.stderr)
        return 1
    print(result.summary())
    if not result.unchanged:
        print("the next `make publish` re-applies the warehouse's changes made since that version")
    return 0


if __name__ == "__main__":
    sys.exit(main())
