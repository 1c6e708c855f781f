"""Compact small files and vacuum the published Delta tables (`python -m lakehouse.optimize`, `make optimize`);
`compact_small_files` (the compaction alone, of the tables with enough small files) and `vacuum_tables` (the
vacuum alone) are what `make watch` runs.

    python -m lakehouse.optimize                        # every table under $PDM_LAKE_PATH/gold/
    python -m lakehouse.optimize --retention-hours 24   # vacuum files removed more than 24 h ago
    python -m lakehouse.optimize --tables fct_unit_cycle_features

Per table, under the lake lock (`lakehouse.lock`, so never beside a publish):

1. Compaction (`DeltaTable.optimize.compact`) bin-packs small files (each incremental publish adds a
   few) into files of `TARGET_FILE_SIZE`. It is one new version with the same content; it carries the
   previous commit's `pdm.*` metadata (fingerprint, hash aggregates, `pdm.changes_through`), so the
   next publish still compares and updates incrementally against it.
2. Vacuum deletes data files no version needs any more: files removed from the table more than
   `--retention-hours` ago (default 168, Delta's own default), and files no commit mentions (left by
   a killed write). It never deletes a file of a version a registered model was trained on: every
   MLflow model version whose tags `delta_path` / `delta_version` name this table is passed to
   vacuum as `keep_versions`. The registry is the SQLite store `$PDM_MLFLOW_DIR/mlflow.db`; when it
   exists but can't be read, nothing is vacuumed and the command stops naming it; so it does when it is
   missing while the predictions folder holds scores registered models wrote (a mistyped `PDM_MLFLOW_DIR`).
   A vacuum that would delete nothing is skipped (vacuum commits add two versions). Commits never delete old log files
   (`cleanup_expired_logs=False`), so a kept version can always be time-travelled to.
3. The analysts' database (`lakehouse.analysts`) is rebuilt under the same lock, so its views pin
   versions whose files are still there.
   `--purge-registered-versions` drops that protection for this run (an explicit purge).

A lake with nothing published is nothing to optimize: it says so and exits 0, writing no analysts' database
(there is nothing for its views to read); the bronze raw lines are still pruned. Every option is checked
before anything is changed: a bad one stops the command, exit 2, the lake and the warehouse untouched.

Retention policy, dbt vars in dbt_project.yml (the defaults here; the flags override them):

- `delta_version_retention_hours` (168): how long a Delta version's files are kept once a later version
  replaced them (`--retention-hours`).
- `superseded_line_retention_days` (30): how long bronze keeps the raw lines of a file version that a
  newer version of the same file replaced (`--superseded-line-retention-days`): a version of its own, or
  a copy of another file's content, which that file holds. Older ones are deleted
  from `bronze.base_cmapss__landed_lines`, except each version's first line (line 0 or 1): that row keeps
  the version in the manifest and the ingestion checkpoint, so it is never read again. The current
  version of every file, and everything the clean tables hold, is never touched. Needs the warehouse
  read-write: while a build holds it, the command stops naming it (the Delta tables are optimized first).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import yaml
from deltalake import CommitProperties, DeltaTable

from lakehouse import analysts
from lakehouse import lake as lakelib
from lakehouse.lock import DEFAULT_TIMEOUT_S, add_lock_timeout_option, lake_lock
from lakehouse.publish import LAYER, POST_COMMIT, TARGET_FILE_SIZE, latest_commit, pdm_metadata, published_tables
from ml.config import REPO_ROOT, Paths

DEFAULT_RETENTION_HOURS = 168
SMALL_FILE_SIZE = TARGET_FILE_SIZE // 2  # `small_files`: two such files fit in one of the target size
DEFAULT_SUPERSEDED_LINE_RETENTION_DAYS = 30
LANDED_LINES = "bronze.base_cmapss__landed_lines"
MANIFEST = "bronze.stg_cmapss__landed_files"
DELTA_PATH_TAG = "delta_path"
DELTA_VERSION_TAG = "delta_version"


class OptimizeError(lakelib.LakeError):
    """Optimizing could not run safely (unreadable registry, unknown table); nothing was vacuumed."""


@dataclass(frozen=True)
class OptimizeResult:
    """What happened to one table."""

    name: str
    version: int  # latest version after compaction and vacuum
    files_before: int
    files_after: int
    files_vacuumed: int
    kept_versions: tuple[int, ...]  # versions kept because a registered model was trained on them

    def summary(self) -> str:
        kept = f"; kept v{', v'.join(map(str, self.kept_versions))} (registered models)" if self.kept_versions else ""
        return (
            f"{LAYER}.{self.name}: {self.files_before} -> {self.files_after} files at v{self.version}; "
            f"vacuumed {self.files_vacuumed} files{kept}"
        )


def registered_versions(mlflow_dir: Path) -> dict[Path, set[int]]:
    """Delta versions registered models were trained on, by resolved table path ({} when no registry yet)."""
    store = (Path(mlflow_dir) / "mlflow.db").resolve()
    if not store.exists():
        return {}
    try:
        from mlflow.tracking import MlflowClient  # imported here: slow, and only needed with a registry

        client = MlflowClient(tracking_uri=f"sqlite:///{store}", registry_uri=f"sqlite:///{store}")
        versions = []
        token = None
        while True:
            page = client.search_model_versions(max_results=1000, page_token=token)
            versions += list(page)
            token = page.token
            if not token:
                break
    except Exception as exc:  # MLflow raises many types; the point is one clear message and no vacuum
        raise OptimizeError(
            f"can't read the model registry {store} ({type(exc).__name__}: {exc}); nothing was vacuumed, "
            "since the versions registered models were trained on are unknown"
        ) from exc
    pinned: dict[Path, set[int]] = {}
    for version in versions:
        tags = version.tags or {}
        if DELTA_PATH_TAG not in tags:
            continue
        try:
            number = int(tags[DELTA_VERSION_TAG])
        except (KeyError, ValueError):
            raise OptimizeError(
                f"registered model {version.name} v{version.version} names {tags[DELTA_PATH_TAG]} but its "
                f"{DELTA_VERSION_TAG!r} tag is {tags.get(DELTA_VERSION_TAG)!r}; nothing was vacuumed"
            ) from None
        pinned.setdefault(Path(tags[DELTA_PATH_TAG]).resolve(), set()).add(number)
    return pinned


def check_registry_found(mlflow_dir: Path, predictions: Path) -> None:
    """Raise `OptimizeError` when there is no model registry at `mlflow_dir` although registered models have scored
    units (`scores_*.parquet` under `<predictions>/unit_risk_scores/`): the registry is elsewhere (a mistyped
    `PDM_MLFLOW_DIR`, say), and a vacuum would delete the versions its models were trained on, unseen."""
    store = Path(mlflow_dir) / "mlflow.db"
    scores = Path(predictions) / "unit_risk_scores"
    written = sorted(scores.glob("scores_*.parquet")) if scores.is_dir() else []
    if written and not store.exists():
        raise OptimizeError(
            f"no model registry at {store}, yet registered models wrote {len(written)} scores file(s) in {scores}: "
            "the versions they were trained on are unknown, so nothing was vacuumed. Point PDM_MLFLOW_DIR (or "
            "PDM_DATA_DIR) at the registry, or vacuum them too with --purge-registered-versions"
        )


def retention_vars(project_file: Path = REPO_ROOT / "dbt_project.yml") -> tuple[int, int]:
    """(delta_version_retention_hours, superseded_line_retention_days) from the dbt project's vars."""
    variables = (yaml.safe_load(Path(project_file).read_text()) or {}).get("vars") or {}
    return (
        int(variables.get("delta_version_retention_hours", DEFAULT_RETENTION_HOURS)),
        int(variables.get("superseded_line_retention_days", DEFAULT_SUPERSEDED_LINE_RETENTION_DAYS)),
    )


def prune_superseded_lines(warehouse: Path, retention_days: int, now: datetime | None = None) -> int:
    """Delete bronze raw lines of file versions superseded more than `retention_days` ago; returns how many.

    A version is superseded at the `ingested_at` of the newer landing of its file that replaced what the
    file holds: its current version (the manifest's `is_current_version`), or a landing of another file's
    content ("same content as ...": the file then has no current version, the other file holds the rows;
    should that file change, the copy is read again from the landing folder, not from these lines). Each
    version keeps its first line.
    """
    if retention_days < 0:
        raise OptimizeError(f"--superseded-line-retention-days must be 0 or more, not {retention_days}")
    if not Path(warehouse).exists():
        return 0
    cutoff = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None) - timedelta(days=retention_days)
    try:
        with duckdb.connect(str(warehouse)) as con:
            (present,) = con.execute(
                "select count(*) from information_schema.tables where table_schema || '.' || table_name in (?, ?)",
                [LANDED_LINES, MANIFEST],
            ).fetchone()
            if present < 2:
                return 0
            (deleted,) = con.execute(
                f"""
                delete from {LANDED_LINES} as lines
                using (
                    select distinct superseded.file_version_id
                    from {MANIFEST} as superseded
                    inner join {MANIFEST} as replacing
                        on superseded.source_file = replacing.source_file
                        and (
                            replacing.is_current_version
                            or replacing.duplicate_of_source_file <> replacing.source_file
                        )
                    where not superseded.is_current_version
                        and superseded.file_version_id is not null
                        and superseded.ingested_at < replacing.ingested_at
                        and replacing.ingested_at < ?
                ) as versions
                where lines.file_version_id = versions.file_version_id and lines.line_number > 1
                """,
                [cutoff],
            ).fetchone()
    except duckdb.Error as exc:
        raise OptimizeError(
            f"can't prune superseded raw lines in {warehouse} ({exc}); bronze was left as it was "
            "(is a `dbt build` holding the warehouse?)"
        ) from exc
    return int(deleted)


def small_files(path: Path) -> int:
    """How many of the table's current data files are under `SMALL_FILE_SIZE`, half the target size: any two
    fit in one file of the target size, so compaction can merge them (each incremental publish adds one;
    a file a per-unit rewrite left just under the target size is not counted: there is little to merge)."""
    sizes = pa.table(lakelib.open_table(path).get_add_actions(flatten=True)).column("size_bytes").to_pylist()
    return sum(1 for size in sizes if size < SMALL_FILE_SIZE)


def compact_table(path: Path) -> DeltaTable:
    """Bin-pack the table's small files into files of `TARGET_FILE_SIZE`: one new version, the same rows
    (its add actions say `dataChange: false`), carrying the previous commit's `pdm.*` metadata; no version
    when no two files fit in one. Returns the table as it is then."""
    table = lakelib.open_table(path)
    table.optimize.compact(
        target_size=TARGET_FILE_SIZE,
        commit_properties=CommitProperties(custom_metadata=pdm_metadata(latest_commit(table))),
        post_commithook_properties=POST_COMMIT,
    )
    return lakelib.open_table(path)


@dataclass(frozen=True)
class CompactResult:
    """One table `compact_small_files` compacted."""

    name: str
    version: int
    files_before: int
    files_after: int

    def summary(self) -> str:
        return f"{self.name} v{self.version} (compacted, {self.files_before} -> {self.files_after} files)"


def compact_small_files(
    lake: Path, min_small_files: int, lock_timeout: float = DEFAULT_TIMEOUT_S
) -> list[CompactResult]:
    """Compact, under the lake lock, every published table holding at least `min_small_files` small files
    (`small_files`), then rebuild the analysts' database if one got a new version: what `make watch` does
    with its warn tests, so a long run does not leave thousands of small files to every reader. No vacuum:
    the files compaction replaced stay for time travel until `vacuum_tables` or `make optimize` deletes them,
    past the retention. Returns the tables that got a new version."""
    if min_small_files < 2:
        raise OptimizeError(f"compacting needs at least 2 small files to merge, not {min_small_files}")
    results = []
    with lake_lock(Path(lake), "compaction", lock_timeout):
        for name in published_tables(lake):
            path = lakelib.mart_path(Path(lake), name, LAYER)
            if small_files(path) < min_small_files:
                continue
            before = lakelib.open_table(path)
            table = compact_table(path)
            if table.version() == before.version():  # nothing could be merged: no commit
                continue
            results.append(CompactResult(name, table.version(), len(before.file_uris()), len(table.file_uris())))
        if results:
            analysts.refresh_under_lock(Path(lake), analysts.default_database(Path(lake)))
    return results


def vacuum_table(
    table: DeltaTable, path: Path, retention_hours: int, keep: set[int]
) -> tuple[DeltaTable, int, tuple[int, ...]]:
    """Delete the files of `table` (at `path`) removed more than `retention_hours` ago (and files no commit
    mentions), keeping the files of the versions in `keep`; the vacuum's commits carry the latest commit's
    `pdm.*` metadata. No commit when nothing would be deleted. Returns the table as it is then, how many
    files were deleted and the kept versions that exist."""
    kept = tuple(sorted(v for v in keep if 0 <= v <= table.version()))
    options = {
        "retention_hours": retention_hours,
        "enforce_retention_duration": False,
        "keep_versions": list(kept) or None,
        "full": True,  # the folder's listing, so files no commit mentions go too (delta-rs' "lite" reads the log)
    }
    # the list also holds files an earlier vacuum deleted (their tombstones stay in the log): only those still
    # there count, or every vacuum would commit again
    present = [name for name in table.vacuum(dry_run=True, **options) if _data_file(path, name).exists()]
    if present:
        table.vacuum(
            dry_run=False,
            commit_properties=CommitProperties(custom_metadata=pdm_metadata(latest_commit(table))),
            post_commithook_properties=POST_COMMIT,
            **options,
        )
        table = lakelib.open_table(path)
    return table, len(present), kept


def _data_file(table: Path, name: str) -> Path:
    """A file a vacuum lists (relative to the table, or absolute) as a local path."""
    file = Path(name.removeprefix("file://"))
    return file if file.is_absolute() else table / file


@dataclass(frozen=True)
class VacuumResult:
    """One table `vacuum_tables` vacuumed."""

    name: str
    version: int
    files_vacuumed: int
    kept_versions: tuple[int, ...]

    def summary(self) -> str:
        kept = f", kept v{', v'.join(map(str, self.kept_versions))}" if self.kept_versions else ""
        return f"{self.name} v{self.version} ({self.files_vacuumed} files deleted{kept})"


def vacuum_tables(
    lake: Path, mlflow_dir: Path, predictions: Path, retention_hours: int, lock_timeout: float = DEFAULT_TIMEOUT_S
) -> list[VacuumResult]:
    """Vacuum, under the lake lock, every published table (`vacuum_table`: files removed more than
    `retention_hours` ago), keeping the versions registered models were trained on, then rebuild the analysts'
    database if one got a new version: what `make watch` does now and then, so a long run's per-unit rewrites
    and compactions do not pile up on disk (`make optimize` without its compaction). Raises `OptimizeError`,
    nothing vacuumed, when the registry can't be read, or is missing while `predictions` holds scores
    (`check_registry_found`). Returns the tables that got a new version."""
    if retention_hours < 0:
        raise OptimizeError(f"the retention must be 0 hours or more, not {retention_hours}")
    check_registry_found(mlflow_dir, predictions)
    results = []
    with lake_lock(Path(lake), "vacuum", lock_timeout):
        pinned = registered_versions(mlflow_dir)
        for name in published_tables(lake):
            path = lakelib.mart_path(Path(lake), name, LAYER)
            keep = pinned.get(path.resolve(), set())
            table, deleted, kept = vacuum_table(lakelib.open_table(path), path, retention_hours, keep)
            if deleted:
                results.append(VacuumResult(name, table.version(), deleted, kept))
        if results:
            analysts.refresh_under_lock(Path(lake), analysts.default_database(Path(lake)))
    return results


def optimize_table(path: Path, retention_hours: int, keep: set[int]) -> OptimizeResult:
    """Compact then vacuum one table, keeping the files of the versions in `keep`."""
    files_before = len(lakelib.open_table(path).file_uris())
    table, vacuumed, kept = vacuum_table(compact_table(path), path, retention_hours, keep)
    return OptimizeResult(path.name, table.version(), files_before, len(table.file_uris()), vacuumed, kept)


def optimize(
    lake: Path,
    mlflow_dir: Path,
    predictions: Path,
    retention_hours: int = DEFAULT_RETENTION_HOURS,
    tables: Sequence[str] | None = None,
    lock_timeout: float = DEFAULT_TIMEOUT_S,
    purge_registered: bool = False,
) -> list[OptimizeResult]:
    """Compact and vacuum the published tables (all, or those named) under the lake lock.

    Versions registered models were trained on are kept, unless `purge_registered` (an explicit purge); without
    it, a registry missing while `predictions` holds scores raises `OptimizeError`, nothing written
    (`check_registry_found`). Nothing published: [] and nothing written (no analysts' database: its views would
    have nothing to read).
    """
    if retention_hours < 0:
        raise OptimizeError(f"--retention-hours must be 0 or more, not {retention_hours}")
    if not purge_registered:
        check_registry_found(mlflow_dir, predictions)
    with lake_lock(Path(lake), "optimize", lock_timeout):
        available = published_tables(lake)
        names = available
        if tables is not None:
            names = [t.strip().removeprefix(f"{LAYER}.") for t in tables if t.strip()]
            if not names:  # `--tables ,`: not "nothing published"
                raise OptimizeError(f"--tables names no table; published: {', '.join(available) or 'none'}")
            unknown = [n for n in names if n not in available]
            if unknown:
                raise OptimizeError(
                    f"no published Delta table {', '.join(f'{LAYER}.{n}' for n in unknown)} under "
                    f"{Path(lake) / LAYER}; published: {', '.join(available) or 'none'}"
                )
        if not available:
            return []
        pinned = {} if purge_registered else registered_versions(mlflow_dir)
        results = []
        for name in names:
            path = lakelib.mart_path(Path(lake), name, LAYER)
            results.append(optimize_table(path, retention_hours, pinned.get(path.resolve(), set())))
        # compaction wrote versions and vacuum may have removed files the analysts' views pinned
        analysts.refresh_under_lock(Path(lake), analysts.default_database(Path(lake)))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lakehouse.optimize",
        description="Compact small files and vacuum the published Delta tables, keeping every version "
        "a registered model was trained on.",
    )
    parser.add_argument("--tables", help="comma-separated published tables (default: every one)")
    version_hours, line_days = retention_vars()
    parser.add_argument(
        "--retention-hours",
        type=int,
        default=version_hours,
        help="vacuum files removed from the table more than this many hours ago "
        f"(default: var delta_version_retention_hours, {version_hours})",
    )
    parser.add_argument(
        "--superseded-line-retention-days",
        type=int,
        default=line_days,
        help="delete bronze raw lines of file versions superseded more than this many days ago "
        f"(default: var superseded_line_retention_days, {line_days})",
    )
    parser.add_argument(
        "--purge-registered-versions",
        action="store_true",
        help="also vacuum the versions registered models were trained on (they are kept otherwise)",
    )
    add_lock_timeout_option(parser)
    args = parser.parse_args(argv)
    # every option checked before the lake is touched (the bronze pruning comes after the vacuum)
    for option, value in (
        ("--retention-hours", args.retention_hours),
        ("--superseded-line-retention-days", args.superseded_line_retention_days),
    ):
        if value < 0:
            print(f"optimize: {option} must be 0 or more, not {value}", file=sys.stderr)
            return 2
    paths = Paths.from_env()
    try:
        tables = args.tables.split(",") if args.tables is not None else None
        results = optimize(
            paths.lake,
            paths.mlflow,
            paths.predictions,
            args.retention_hours,
            tables,
            args.lock_timeout,
            args.purge_registered_versions,
        )
        if not results:
            print(f"nothing published under {paths.lake / LAYER} yet: nothing to optimize")
        for result in results:
            print(result.summary())
        pruned = prune_superseded_lines(paths.warehouse, args.superseded_line_retention_days)
    except lakelib.LakeError as exc:
        print(f"optimize: {exc}", file=sys.stderr)
        return 1
    print(
        f"{LANDED_LINES}: deleted {pruned} raw lines of file versions superseded more than "
        f"{args.superseded_line_retention_days} days ago"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
