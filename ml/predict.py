"""Score units with the `champion` models of the MLflow registry.

    python -m ml.predict                                   # every unit's latest cycle -> one new Parquet file
    python -m ml.predict --changed-only                    # only the units rewritten since the last scores
    python -m ml.predict --unit 16 --dataset FD001 [--split test]   # one line for one unit
    python -m ml.predict --unit FD001-test-016                      # the same, by unit_id

Without `--unit`: reads the latest Delta version of fct_unit_cycle_features (resolved to its number), scores
the latest observed cycle of every unit with `models:/pdm-fails-within-30-cycles@champion` and
`models:/pdm-rul@champion` (loaded as pyfuncs, `ml.registry.LoadedModel`), writes ONE new file
`<predictions>/unit_risk_scores/scores_<UTC timestamp>.parquet` (schema: SCORE_SCHEMA) and prints the ten
units in service (split test) most at risk, or that there is none. Units the landing folder's erasure
tombstone names are never scored, nor answered for with `--unit` (an older `--version` still holds them). The
decision threshold is the one chosen in training (the classifier pyfunc's config, also the version's
`decision_threshold` tag); every score row carries it (`decision_threshold`) and the classifier pyfunc's
decision at it (`is_predicted_to_fail`), so gold shows the champion's decision, not just a probability. When
the newest readable scores file was written by the same champion versions from the same feature version, has
every SCORE_SCHEMA column and holds every unit (a `--changed-only` file holds only the units it rescored), no
file is written (its scores would be the same): the command says so and names that file; a newest file from
before the decision columns is scored again; newer unreadable files are named on stderr and passed over.
`--changed-only` (the watcher's step, `score_all`) scores just the units the feature table's Delta commits
rewrote since the newest scores file, when that file is from the same champions. A feature table that is not
published yet (no folder, no valid `_delta_log`), or a `--version` a vacuum deleted: one line, exit 2. The
scoring runs under the lake lock (`lakehouse.lock`), as a publish, an erasure or the watcher's steps write the
lake: it says who holds it while it waits (`--lock-timeout`, `PDM_LAKE_LOCK_TIMEOUT`, 600 s) and then gives up
naming the holder, nothing scored, exit 2.

With `--unit`: prints whether that unit fails within 30 cycles, the verdict being the classifier pyfunc's
own decision. `--unit` takes a unit_id as gold names it (`FD101-test-016`) or a unit number; with a number,
`--split` defaults to 'test' when the unit exists there, else 'train', and `--dataset` may be left out when
the table holds one dataset. Exit code 2 for an unknown unit, or one the erasure tombstone names.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from lakehouse import lake
from lakehouse.lock import LakeBusyError, add_lock_timeout_option, lake_lock
from ml.candidates import CLASSIFIER_NAME, REGRESSOR_NAME
from ml.config import Paths, first_line, path_problem
from ml.data import FEATURE_TABLE, erased_units, latest_cycles, matrix, resolve_version
from ml.registry import (
    CHAMPION_ALIAS,
    THRESHOLD_TAG,
    LoadedModel,
    configure_mlflow,
    load_champion,
    load_version,
    store_file,
)

SCORES_SUBDIR = "unit_risk_scores"
SCORE_SCHEMA = pa.schema(
    [
        ("unit_id", pa.string()),
        ("dataset", pa.string()),
        ("split", pa.string()),
        ("unit_number", pa.int32()),
        ("cycle", pa.int32()),
        ("failure_probability", pa.float64()),
        ("predicted_rul", pa.float64()),
        ("classifier_version", pa.string()),
        ("regressor_version", pa.string()),
        ("features_delta_version", pa.int64()),
        ("scored_at", pa.timestamp("us")),
        # the champion classifier's decision: its threshold, and whether failure_probability reaches it
        # (files written before these two columns are still read by dbt: the columns read as null)
        ("decision_threshold", pa.float64()),
        ("is_predicted_to_fail", pa.bool_()),
    ]
)


class UnknownUnitError(LookupError):
    """The unit asked for is not in the feature table."""


@dataclass(frozen=True)
class Champions:
    """Both champions, loaded as a consumer loads them (`ml.registry.LoadedModel`)."""

    classifier: LoadedModel
    regressor: LoadedModel

    @property
    def threshold(self) -> float:
        """The classifier's decision threshold (its pyfunc config; a classifier from before the pyfunc: its tag)."""
        return self.classifier.threshold


class NoChampionError(LookupError):
    """The MLflow store or its champion models are missing: train first."""


_LOADED: dict[tuple[str, str, str], Champions] = {}  # (store, classifier, regressor version) -> models


def _champions(mlflow_dir: Path, classifier_version: str, regressor_version: str) -> Champions:
    """Both champions at these versions, loaded once per process (the watcher scores every tick; a
    registered version's model never changes)."""
    key = (str(mlflow_dir), classifier_version, regressor_version)
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = Champions(
            classifier=load_version(CLASSIFIER_NAME, classifier_version),
            regressor=load_version(REGRESSOR_NAME, regressor_version),
        )
    return _LOADED[key]


def preload_champions(mlflow_dir: Path) -> str | None:
    """Load the champions the aliases point at now into this process's cache, as `score_all` would
    (the watcher's warm-up: its first scoring then reads no model). Returns their versions as text, or
    None when there is no store or no champion yet (nothing to load; scoring will say so)."""
    if not store_file(mlflow_dir).exists():
        return None
    configure_mlflow(mlflow_dir)
    try:
        versions = champion_versions()
    except MlflowException:
        return None
    _champions(mlflow_dir, *versions)
    return f"{CLASSIFIER_NAME} v{versions[0]}, {REGRESSOR_NAME} v{versions[1]}"


def load_champions(mlflow_dir: Path) -> Champions:
    """Both champions from the store in `mlflow_dir` (which must exist: scoring never creates a store)."""
    if not store_file(mlflow_dir).exists():
        raise NoChampionError(f"no MLflow store at {store_file(mlflow_dir)}")
    configure_mlflow(mlflow_dir)
    return Champions(classifier=load_champion(CLASSIFIER_NAME), regressor=load_champion(REGRESSOR_NAME))


def score(frame: pd.DataFrame, champions: Champions, features_version: int, scored_at: datetime) -> pa.Table:
    """Failure probability, the classifier's decision at its threshold and predicted RUL of every row of
    `frame`, as a table of SCORE_SCHEMA."""
    probability, decision = champions.classifier.classify(matrix(frame, champions.classifier.features))
    rul = champions.regressor.rul(matrix(frame, champions.regressor.features))
    n = len(frame)
    stamp = scored_at.astimezone(UTC).replace(tzinfo=None)
    columns = {
        "unit_id": frame["unit_id"].astype(str).tolist(),
        "dataset": frame["dataset"].astype(str).tolist(),
        "split": frame["split"].astype(str).tolist(),
        "unit_number": frame["unit_number"].to_numpy(dtype=np.int32),
        "cycle": frame["cycle"].to_numpy(dtype=np.int32),
        "failure_probability": probability.astype(np.float64),
        "predicted_rul": rul.astype(np.float64),
        "classifier_version": [champions.classifier.version] * n,
        "regressor_version": [champions.regressor.version] * n,
        "features_delta_version": np.full(n, features_version, dtype=np.int64),
        "scored_at": [stamp] * n,
        "decision_threshold": np.full(n, champions.threshold, dtype=np.float64),
        "is_predicted_to_fail": decision.astype(bool),
    }
    return pa.table({field.name: pa.array(columns[field.name], type=field.type) for field in SCORE_SCHEMA})


def write_scores(scores: pa.Table, predictions_dir: Path, scored_at: datetime) -> Path:
    """Write ONE new Parquet file, atomically (a reader never sees half a file), never overwriting one."""
    folder = Path(predictions_dir) / SCORES_SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"scores_{scored_at.astimezone(UTC):%Y%m%dT%H%M%S%fZ}.parquet"
    if target.exists():
        raise FileExistsError(target)
    partial = folder / f".{target.name}.partial"
    pq.write_table(scores.cast(SCORE_SCHEMA), partial)
    partial.rename(target)
    return target


@dataclass(frozen=True)
class ScoreRun:
    path: Path
    scores: pa.Table
    features_delta_version: int
    threshold: float
    written: bool = True  # False: the latest scores file already held these scores, nothing was written
    skipped_files: tuple[str, ...] = ()  # newer scores files that could not be read (named, not used)
    units_changed: tuple[str, ...] | None = None  # --changed-only: the units scored (None: every unit was)
    since_version: int | None = None  # --changed-only: the feature version the previous scores were made on


PAIR = (CLASSIFIER_NAME, REGRESSOR_NAME)
PROVENANCE = ("classifier_version", "regressor_version", "features_delta_version")


def scores_provenance(path: Path) -> tuple[str, str, int]:
    """(classifier version, regressor version, features Delta version) of one scores file, read from its
    three columns. Raises ValueError when the file is unreadable or mixes several provenances."""
    try:
        table = pq.read_table(path, columns=list(PROVENANCE))
    except (OSError, pa.ArrowException) as error:
        raise ValueError(f"{path} is unreadable: {error}") from error
    distinct = {tuple(row.values()) for row in table.group_by(list(PROVENANCE)).aggregate([]).to_pylist()}
    if len(distinct) != 1:
        raise ValueError(f"{path} holds {len(distinct)} provenances, expected one")
    classifier, regressor, features = distinct.pop()
    return str(classifier), str(regressor), int(features)


def has_every_score_column(path: Path) -> bool:
    """Whether the scores file at `path` has every column of SCORE_SCHEMA (files from before the decision
    columns lack them and are rescored once)."""
    try:
        return set(SCORE_SCHEMA.names) <= set(pq.read_schema(path).names)
    except (OSError, pa.ArrowException):
        return False


def holds_every_unit(path: Path, table_path: Path, version: int, erased: set[str]) -> bool:
    """Whether the scores file at `path` holds a score of every unit of the feature table at `version` (less
    the `erased` units). A `--changed-only` file holds just the units rewritten since the file before it:
    scoring every unit must not take it for the fleet's scores."""
    held = set(pq.read_table(path, columns=["unit_id"]).column("unit_id").to_pylist())
    con = lake.connect()
    try:
        rows = con.execute(f"select distinct unit_id from {lake.delta_scan_sql(table_path, version)}").fetchall()
    finally:
        con.close()
    return {unit for (unit,) in rows} - erased <= held


def latest_scores(predictions_dir: Path) -> tuple[Path | None, tuple[str, str, int] | None, list[str]]:
    """The newest READABLE scores file, its provenance, and the messages for newer files that were unreadable."""
    folder = Path(predictions_dir) / SCORES_SUBDIR
    files = sorted(folder.glob("scores_*.parquet"), reverse=True) if folder.is_dir() else []
    problems: list[str] = []
    for path in files:
        try:
            return path, scores_provenance(path), problems
        except ValueError as error:
            problems.append(first_line(error))
    return None, None, problems


def champion_versions() -> tuple[str, str]:
    """The versions the `champion` aliases point at now (classifier, regressor), without loading models."""
    client = MlflowClient()
    classifier, regressor = (client.get_model_version_by_alias(name, CHAMPION_ALIAS) for name in PAIR)
    return str(classifier.version), str(regressor.version)


def units_in_commits(table_path: Path, since: int, version: int) -> list[str] | None:
    """The units in the data files Delta commits `since`+1 .. `version` of `table_path` added with a data
    change: every unit whose rows any of them rewrote (a superset: a file rewritten around a replaced unit
    names its other units too; a compaction's files, `dataChange: false`, name none). None when a commit's
    log file or an added file is missing or unreadable, or a commit changed the table's schema: then no
    commit-based answer is safe."""
    added: list[str] = []
    for number in range(since + 1, version + 1):
        actions = lake.commit_actions(table_path, number)
        if actions is None:
            return None
        if any("metaData" in action for action in actions):
            return None
        # a compaction's files hold the same rows (`dataChange: false`): no unit changed in them
        paths = [a["add"]["path"] for a in actions if "add" in a and a["add"].get("dataChange", True)]
        if any("://" in path or path.startswith("/") for path in paths):
            return None  # absolute URIs: not written by this project's publish
        added += [str(table_path / unquote(path)) for path in paths]
    if not added:
        return []
    con = lake.connect()
    try:
        rows = con.execute("select distinct unit_id from read_parquet(?) order by 1", [added]).fetchall()
    except duckdb.Error:  # a file a later commit removed and a vacuum deleted: no commit-based answer
        return None
    finally:
        con.close()
    return [unit for (unit,) in rows]


def score_all(
    table_path: Path,
    mlflow_dir: Path,
    predictions_dir: Path,
    version: int | None = None,
    changed_only: bool = False,
    landing: Path | None = None,
) -> ScoreRun:
    """Score every unit's latest cycle at the latest (or given) Delta version and write the Parquet file.

    `landing`: the units its erasure tombstone names are never scored (an older version still holds an
    erased unit; its score would be a new trace of it in the predictions folder).

    Writes nothing when the newest readable scores file was made by the same champion versions from the same
    feature version, has every SCORE_SCHEMA column and, unless `changed_only`, holds every unit (not the units
    of a `--changed-only` run alone): its scores would be identical, and that file is returned with
    `written=False`.

    `changed_only` (the watcher's): when that newest file was made by the same champion versions from an
    earlier feature version, only the units the Delta commits since then rewrote (`units_in_commits`) are
    scored, and the file holds just them (their latest score is then the newest, as every other unit's
    already was); no such unit: nothing written, `units_changed` is empty. Anything else (other champions,
    no earlier file, a log that can't be read): every unit, as without it.
    """
    if not store_file(mlflow_dir).exists():
        raise NoChampionError(f"no MLflow store at {store_file(mlflow_dir)}")
    resolved = resolve_version(table_path, version)
    configure_mlflow(mlflow_dir)
    classifier_version, regressor_version = champion_versions()
    latest, provenance, problems = latest_scores(predictions_dir)
    current = provenance == (classifier_version, regressor_version, resolved)
    erased = erased_units(landing)
    if (
        latest is not None
        and current
        and has_every_score_column(latest)
        and (changed_only or holds_every_unit(latest, table_path, resolved, erased))
    ):
        tags = MlflowClient().get_model_version(CLASSIFIER_NAME, classifier_version).tags
        return ScoreRun(
            path=latest,
            scores=pq.read_table(latest),
            features_delta_version=resolved,
            threshold=float(tags.get(THRESHOLD_TAG, "nan")),
            written=False,
            skipped_files=tuple(problems),
            # --changed-only: nothing rewritten since that file, which may hold only the units it rescored
            units_changed=() if changed_only else None,
        )
    units = None
    if changed_only and latest is not None and has_every_score_column(latest):
        same_champions = provenance[:2] == (classifier_version, regressor_version)
        if same_champions and provenance[2] < resolved:
            units = units_in_commits(table_path, provenance[2], resolved)
    frame = latest_cycles(table_path, resolved, units=units)
    if erased and not frame.empty:
        frame = frame[~frame["unit_id"].isin(erased)].reset_index(drop=True)
    if units is not None and frame.empty:
        tags = MlflowClient().get_model_version(CLASSIFIER_NAME, classifier_version).tags
        return ScoreRun(
            path=latest,
            scores=SCORE_SCHEMA.empty_table(),
            features_delta_version=resolved,
            threshold=float(tags.get(THRESHOLD_TAG, "nan")),
            written=False,
            skipped_files=tuple(problems),
            units_changed=(),
        )
    champions = _champions(mlflow_dir, classifier_version, regressor_version)
    scored_at = datetime.now(UTC)
    scores = score(frame, champions, resolved, scored_at)
    path = write_scores(scores, predictions_dir, scored_at)
    return ScoreRun(
        path=path,
        scores=scores,
        features_delta_version=resolved,
        threshold=champions.threshold,
        skipped_files=tuple(problems),
        units_changed=None if units is None else tuple(frame["unit_id"].astype(str)),
        since_version=None if units is None else provenance[2],
    )


def top_at_risk(scores: pa.Table, threshold: float, count: int = 10, split: str | None = "test") -> str:
    """The `count` units of `split` with the highest failure probability, as a text table (None: every unit).

    By default 'test', the units still in service: a train unit ran to failure, so at its last cycle it is
    trivially at risk and would fill the table.
    """
    frame = scores.to_pandas()
    if split is not None:
        frame = frame[frame["split"] == split]
    frame = frame.sort_values(["failure_probability", "unit_id"], ascending=[False, True], kind="mergesort")
    lines = [
        f"{'dataset':<9}{'split':<7}{'unit':>5}{'cycle':>7}{'P(fail<=30)':>13}{'pred RUL':>10}  alert",
    ]
    for row in frame.head(count).itertuples(index=False):
        alert = "YES" if row.failure_probability >= threshold else ""
        lines.append(
            f"{row.dataset:<9}{row.split:<7}{row.unit_number:>5}{row.cycle:>7}"
            f"{row.failure_probability:>13.3f}{row.predicted_rul:>10.1f}  {alert}"
        )
    return "\n".join(lines)


def find_unit(frame: pd.DataFrame, unit: str, dataset: str | None = None, split: str | None = None) -> pd.DataFrame:
    """The one row of `frame` (latest cycles) for `unit`: a unit_id (`FD101-test-016`) or a unit number.

    A unit number needs `dataset` when the table holds several; `split` defaults to 'test' when the unit
    exists there, else 'train'. A unit_id names dataset and split itself (given ones must agree).
    Raises UnknownUnitError naming what was asked for.
    """
    datasets = sorted(frame["dataset"].unique().tolist())
    if not unit.strip().isdigit():
        rows = frame[frame["unit_id"] == unit]
        if rows.empty:
            raise UnknownUnitError(f"no unit_id {unit!r} in {FEATURE_TABLE} (datasets: {', '.join(datasets)})")
        for name, wanted in (("dataset", dataset), ("split", split)):
            if wanted is not None and rows[name].iloc[0] != wanted:
                raise UnknownUnitError(f"{unit} is in {name} {rows[name].iloc[0]}, not {wanted}")
        return rows.iloc[[0]]
    number = int(unit)
    if dataset is None:
        if len(datasets) != 1:
            raise UnknownUnitError(f"several datasets in the table ({', '.join(datasets)}): pass --dataset")
        dataset = datasets[0]
    rows = frame[(frame["dataset"] == dataset) & (frame["unit_number"] == number)]
    if rows.empty:
        raise UnknownUnitError(f"no unit {number} in {dataset} (datasets: {', '.join(datasets)})")
    if split is None:
        split = "test" if (rows["split"] == "test").any() else "train"
    rows = rows[rows["split"] == split]
    if rows.empty:
        raise UnknownUnitError(f"no unit {number} in {dataset} {split}")
    return rows.iloc[[0]]


def unit_answer(
    table_path: Path,
    champions: Champions,
    unit: str | int,
    dataset: str | None = None,
    split: str | None = None,
    version: int | None = None,
    landing: Path | None = None,
) -> str:
    """One line: will this unit (a unit_id or a unit number) fail within 30 cycles, at its latest cycle?

    The verdict is the classifier pyfunc's own decision (its probability against its threshold). A unit the
    landing folder's erasure tombstone names gets no answer (UnknownUnitError), though an older `version`
    still holds it: an answer about it would be a new trace of it, as a score would (`score_all`).
    """
    resolved = resolve_version(table_path, version)
    row = find_unit(latest_cycles(table_path, resolved), str(unit), dataset, split)
    if row.iloc[0]["unit_id"] in erased_units(landing):
        raise UnknownUnitError(f"{row.iloc[0]['unit_id']} was erased (the erasure tombstone names it): no answer")
    X = matrix(row, champions.classifier.features)
    probabilities, decisions = champions.classifier.classify(X)
    probability, threshold = float(probabilities[0]), champions.threshold
    rul = float(champions.regressor.rul(matrix(row, champions.regressor.features))[0])
    found = row.iloc[0]
    return (
        f"{found['dataset']} {found['split']} unit {int(found['unit_number'])} at cycle {int(found['cycle'])}: "
        f"fails within 30 cycles: {'YES' if decisions[0] else 'NO'} "
        f"(p={probability:.2f}, threshold {threshold:.2f}), predicted RUL {rul:.0f} cycles "
        f"(classifier v{champions.classifier.version}, regressor v{champions.regressor.version})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    paths = Paths.from_env()
    parser = argparse.ArgumentParser(prog="python -m ml.predict", description=__doc__.split("\n\n")[0])
    parser.add_argument("--unit", help="answer for one unit: a unit_id (FD101-test-016) or a unit number")
    parser.add_argument("--dataset", help="dataset of --unit, e.g. FD001 (optional if the table holds one)")
    parser.add_argument("--split", choices=["train", "test"], help="split of --unit (default: test if present)")
    parser.add_argument("--version", type=int, help="Delta version to score (default: latest)")
    parser.add_argument(
        "--changed-only",
        action="store_true",
        help="score only the units the feature table's commits rewrote since the newest scores file "
        "(same champions); every unit otherwise (the watcher's step)",
    )
    parser.add_argument("--lake", type=Path, default=paths.lake)
    parser.add_argument("--mlflow-dir", type=Path, default=paths.mlflow)
    parser.add_argument("--predictions-dir", type=Path, default=paths.predictions)
    add_lock_timeout_option(parser)
    args = parser.parse_args(argv)
    if args.unit is None and (args.dataset or args.split):
        parser.error("--dataset and --split go with --unit")
    table = lake.mart_path(args.lake, FEATURE_TABLE)
    try:
        if args.unit is not None:
            champions = load_champions(args.mlflow_dir)
            print(unit_answer(table, champions, args.unit, args.dataset, args.split, args.version, paths.landing))
            return 0
        # under the lake lock, as every other writer of the lake's data (publish, the watcher's steps, restore,
        # erase, optimize): no publish or erasure between reading the tombstone and the features and writing
        # the file (no lake yet: nothing to lock, and nothing to score, which score_all says)
        with lake_lock(args.lake, "predict", args.lock_timeout) if args.lake.is_dir() else nullcontext():
            run = score_all(
                table, args.mlflow_dir, args.predictions_dir, args.version, args.changed_only, paths.landing
            )
    except UnknownUnitError as error:
        print(f"unknown unit: {error}", file=sys.stderr)
        return 2
    except LakeBusyError as error:
        print(f"predict: nothing scored: {error}", file=sys.stderr)
        return 2
    except lake.LakeError as error:
        print(error, file=sys.stderr)
        return 2
    except KeyError as error:  # the table lost a column the champion was trained on
        print(f"{FEATURE_TABLE} does not fit the champion models: {error}; retrain", file=sys.stderr)
        return 2
    except (NoChampionError, MlflowException) as error:
        print(f"no champion model in {args.mlflow_dir}: run `python -m ml.train` first ({error})", file=sys.stderr)
        return 2
    except OSError as error:  # the predictions folder a file, or not writable: one line, not a traceback
        print(f"predict: {path_problem(error)}", file=sys.stderr)
        return 2
    for problem in run.skipped_files:
        print(f"warning: skipped a scores file: {problem}", file=sys.stderr)
    if run.units_changed is not None:
        print(
            f"scored {len(run.units_changed)} units rewritten between {FEATURE_TABLE} v{run.since_version} and "
            f"v{run.features_delta_version} -> {run.path}"
            if run.written
            else f"no unit rewritten since the scores in {run.path}; no new file written"
        )
        return 0
    if run.written:
        headline = f"scored {run.scores.num_rows} units at {FEATURE_TABLE} v{run.features_delta_version} -> {run.path}"
    else:
        headline = (
            f"scores up to date: {run.path} already holds the scores of the champions (classifier "
            f"v{run.scores['classifier_version'][0]}, regressor v{run.scores['regressor_version'][0]}) on "
            f"{FEATURE_TABLE} v{run.features_delta_version}; no new file written"
        )
    if "test" not in set(run.scores.column("split").to_pylist()):
        print(
            f"{headline}\nno unit in service (split test) to rank: the {run.scores.num_rows} units scored all ran "
            "to failure (train), so each is at risk at its last cycle"
        )
        return 0
    print(
        f"{headline}\n"
        f"top 10 at risk among in-service (test) units, alert at P >= {run.threshold:.3f} "
        f"(train units ran to failure; they are in the file, not in this table):\n"
        f"{top_at_risk(run.scores, run.threshold)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
