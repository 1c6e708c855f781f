"""Compact small files and vacuum the published Delta tables (`python -m lakehouse.optimize`, `make optimize`).

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
   exists but can't be read, nothing is vacuumed and the command stops naming it. A vacuum that would
   delete nothing is skipped (vacuum commits add two versions). Commits never delete old log files
   (`cleanup_expired_logs=False`), so a kept version can always be time-travelled to.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from deltalake import CommitProperties, DeltaTable

from lakehouse import lake as lakelib
from lakehouse.lock import DEFAULT_TIMEOUT_S, lake_lock
from lakehouse.publish import LAYER, POST_COMMIT, TARGET_FILE_SIZE, latest_commit, pdm_metadata, published_tables
from ml.config import Paths

DEFAULT_RETENTION_HOURS = 168
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


def optimize_table(path: Path, retention_hours: int, keep: set[int]) -> OptimizeResult:
    """Compact then vacuum one table, keeping the files of the versions in `keep`."""
    table = DeltaTable(str(path))
    files_before = len(table.file_uris())
    table.optimize.compact(
        target_size=TARGET_FILE_SIZE,
        commit_properties=CommitProperties(custom_metadata=pdm_metadata(latest_commit(table))),
        post_commithook_properties=POST_COMMIT,
    )
    table = DeltaTable(str(path))
    kept = tuple(sorted(v for v in keep if 0 <= v <= table.version()))
    options = {
        "retention_hours": retention_hours,
        "enforce_retention_duration": False,
        "keep_versions": list(kept) or None,
    }
    vacuumed = table.vacuum(dry_run=True, **options)
    if vacuumed:
        table.vacuum(
            dry_run=False,
            commit_properties=CommitProperties(custom_metadata=pdm_metadata(latest_commit(table))),
            post_commithook_properties=POST_COMMIT,
            **options,
        )
        table = DeltaTable(str(path))
    return OptimizeResult(path.name, table.version(), files_before, len(table.file_uris()), len(vacuumed), kept)


def optimize(
    lake: Path,
    mlflow_dir: Path,
    retention_hours: int = DEFAULT_RETENTION_HOURS,
    tables: Sequence[str] | None = None,
    lock_timeout: float = DEFAULT_TIMEOUT_S,
) -> list[OptimizeResult]:
    """Compact and vacuum the published tables (all, or those named) under the lake lock."""
    if retention_hours < 0:
        raise OptimizeError(f"--retention-hours must be 0 or more, not {retention_hours}")
    with lake_lock(Path(lake), "optimize", lock_timeout):
        available = published_tables(lake)
        names = available
        if tables is not None:
            names = [t.strip().removeprefix(f"{LAYER}.") for t in tables if t.strip()]
            unknown = [n for n in names if n not in available]
            if unknown:
                raise OptimizeError(
                    f"no published Delta table {', '.join(f'{LAYER}.{n}' for n in unknown)} under "
                    f"{Path(lake) / LAYER}; published: {', '.join(available) or 'none'}"
                )
        pinned = registered_versions(mlflow_dir)
        results = []
        for name in names:
            path = lakelib.mart_path(Path(lake), name, LAYER)
            results.append(optimize_table(path, retention_hours, pinned.get(path.resolve(), set())))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lakehouse.optimize",
        description="Compact small files and vacuum the published Delta tables, keeping every version "
        "a registered model was trained on.",
    )
    parser.add_argument("--tables", help="comma-separated published tables (default: every one)")
    parser.add_argument(
        "--retention-hours",
        type=int,
        default=DEFAULT_RETENTION_HOURS,
        help=f"vacuum files removed from the table more than this many hours ago (default {DEFAULT_RETENTION_HOURS})",
    )
    parser.add_argument(
        "--lock-timeout",
        type=float,
        default=float(os.environ.get("PDM_LAKE_LOCK_TIMEOUT", DEFAULT_TIMEOUT_S)),
        metavar="SECONDS",
        help="how long to wait for a running publish to release the lake",
    )
    args = parser.parse_args(argv)
    paths = Paths.from_env()
    try:
        tables = args.tables.split(",") if args.tables is not None else None
        results = optimize(paths.lake, paths.mlflow, args.retention_hours, tables, args.lock_timeout)
    except lakelib.LakeError as exc:
        print(f"optimize: {exc}", file=sys.stderr)
        return 1
    if not results:
        print(f"nothing published under {paths.lake / LAYER} yet: nothing to optimize")
    for result in results:
        print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
