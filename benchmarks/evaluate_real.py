"""Real FD001, truncated-CV: how well the `make run` models predict on NASA's real engines.

    python -m benchmarks.evaluate_real [--train-file PATH] [--seeds 42,43,44] [--folds 5]
                                       [--cuts-per-unit 1 | --every-stop] [--task classification|regression]
                                       [--workdir DIR] [--keep] [--reuse] [--project DIR] [--fast]
                                       [--output FILE.json] [--predictions FILE.parquet]
                                       [--rul-margin-rule min_phm08|none]

(with --workdir or --keep the printed table is also written to <workdir>/report.txt)

NASA's FD001 test and RUL files are held out, so this evaluates on the 100 real train units:

1. lands ``train_FD001.txt`` (default ``../shared/data/cmapss/train_FD001.txt``, byte for byte, under the
   name the simulator uses) in a throw-away landing folder and runs the project's real ``dbt build --target
   ci`` on it (its own warehouse, never ``data/``); without the file it says so and exits 0: the project
   never needs it;
2. reads ``gold.fct_unit_cycle_features`` (train split) and, per seed, deals the units to grouped folds
   (``ml.evaluation.grouped_folds``);
3. per fold, trains every candidate model of ``ml.train`` (``TrainConfig().models()``: the same features,
   grids, inner grouped search, out-of-fold threshold and champion choice as ``python -m ml.train``) on
   every cycle of the training units (regressors lowered by their out-of-fold late margin,
   ``--rul-margin-rule``, as ``ml.train`` does), and predicts each validation unit at a truncation point drawn
   the way NASA's test sets are cut (``ml.evaluation.truncation_points``: true RUL 7-145, at least 31 cycles seen);
   with ``--every-stop``, at every row where a test series could stop instead (``ml.evaluation.stopping_points``),
   each weighted 1/n for its unit's n such rows: the expected figures over truncations, each unit counting once,
   without the luck of a few random cuts;
4. scores RUL (capped at 125) with RMSE and the PHM08 score, and fails-within-30-cycles with F1 at the
   model's own threshold, pooled per seed over all 100 units (one truncation per unit per seed: the
   papers' 100-engine figures), with the spread over seeds and folds and per unit. "champion" is the model
   ``ml.train`` would pick in that fold (best inner-CV metric).

``--predictions`` writes every prediction (seed, fold, model, unit, cycle, truth, prediction, weight, and for a
classifier its threshold and decision) to Parquet: ``python -m benchmarks.compare_evaluations`` compares two such
files on the same rows, paired. ``--project DIR`` builds the features with the dbt project at DIR instead of this
one (a checkout of an older commit: today's models and evaluation on that commit's features); ``--task`` keeps
one task's models (about half the time).

The regime baselines of silver are fitted on all train units, validation ones included (one affine
normalisation per sensor for the whole dataset); everything else a validation row carries is computed
from its own unit's cycles up to that row.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from benchmarks.reporting import absent_train_file, git_state, log, real_train_file, unwritable_output
from ml.candidates import ModelSpec
from ml.config import REPO_ROOT, data_environment, seed_list, whole_number_from
from ml.data import CLASS_LABEL, RUL_LABEL, feature_columns, matrix, sample_units, unit_sample_order
from ml.decision import RUL_MARGIN_RULES
from ml.evaluation import (
    choose_threshold,
    classification_metrics,
    grouped_folds,
    phm08_score,
    rmse,
    stopping_points,
    truncation_points,
)
from ml.search import grouped_search
from ml.train import TrainConfig, with_late_margin

LANDED_NAME = "train_FD001.txt"  # the simulator's naming: train_<dataset>.txt
DBT = str(Path(sys.executable).with_name("dbt"))
TASKS = ("regression", "classification")
FEATURE_QUERY = "select * from gold.fct_unit_cycle_features where split = 'train' order by unit_id, cycle"


@dataclass(frozen=True)
class FoldResult:
    """One model's predictions for one fold's validation units at their truncation points."""

    seed: int
    fold: int
    model: str
    task: str
    inner_cv: float
    threshold: float | None
    fit_seconds: float
    predictions: pd.DataFrame  # unit_id, cycle, truth, prediction, weight (1 for a cut, 1/n of n stopping rows)


def land_and_build(train_file: Path, root: Path, reuse: bool, project: Path = REPO_ROOT) -> Path:
    """Land the real file in `root`/landing, `dbt build --target ci` it with the dbt project at `project`
    (its own profiles.yml); returns the warehouse file."""
    env = {**os.environ, **data_environment(root), "DBT_PROFILES_DIR": str(project)}
    warehouse = Path(env["PDM_WAREHOUSE_PATH"])
    if reuse and warehouse.exists():
        log(f"reusing the warehouse {warehouse} (--reuse)")
        return warehouse
    landing = Path(env["PDM_LANDING_PATH"])
    landing.mkdir(parents=True, exist_ok=True)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(train_file, landing / LANDED_NAME)  # keeps the mtime: settled at once
    log(f"landed {train_file} as {landing / LANDED_NAME}; dbt build --target ci in {project} ...")
    started = time.perf_counter()
    done = subprocess.run(
        [DBT, "build", "--target", "ci"], cwd=project, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"dbt build on {landing} failed:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}")
    log(f"built in {time.perf_counter() - started:.0f} s: {warehouse}")
    return warehouse


def read_train_features(warehouse: Path) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(FEATURE_QUERY).to_arrow_table().to_pandas()


def evaluate_fold(
    spec: ModelSpec,
    config: TrainConfig,
    train_rows: pd.DataFrame,
    cuts: pd.DataFrame,
    features: list[str],
    seed: int,
) -> tuple[float, float | None, np.ndarray, float]:
    """What `ml.train` does for one model on `train_rows`, then its predictions at `cuts`.

    Whole-unit row budgets (cv_max_rows, fit_max_rows), inner grouped search over the grid, refit with the
    best parameters; for a classifier the max-F1 threshold on the inner out-of-fold predictions, for a regressor
    the late margin of `config.rul_margin_rule` on them (`ml.train.with_late_margin`).
    Returns (inner CV score, threshold or None, predictions at the cuts, seconds).
    """
    started = time.perf_counter()
    counts = train_rows.groupby("unit_id", sort=True).agg(dataset=("dataset", "first"), rows=("cycle", "size"))
    ordered = unit_sample_order(counts.reset_index(), seed)
    fit_units = sample_units(ordered, max(config.fit_max_rows, config.cv_max_rows), config.n_splits)
    cv_units = sample_units(ordered, config.cv_max_rows, config.n_splits)
    fit = train_rows[train_rows["unit_id"].isin(fit_units)].reset_index(drop=True)
    cv = fit[fit["unit_id"].isin(cv_units)].reset_index(drop=True)
    label = CLASS_LABEL if spec.task == "classification" else RUL_LABEL
    kind = int if spec.task == "classification" else float
    y_cv, y_fit = cv[label].astype(kind).to_numpy(), fit[label].astype(kind).to_numpy()
    inner = grouped_folds(cv["unit_id"].to_numpy(), config.n_splits, seed)
    search = grouped_search(spec, matrix(cv, features), y_cv, inner, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        model = spec.build(search.best_params, seed).fit(matrix(fit, features), y_fit)
    model, _ = with_late_margin(spec, model, cv, y_cv, search.oof, config.rul_margin_rule)
    threshold = choose_threshold(y_cv, search.oof).threshold if spec.task == "classification" else None
    predicted = spec.predict(model, matrix(cuts, features))
    return search.cv_score, threshold, predicted, time.perf_counter() - started


def run_cv(
    frame: pd.DataFrame,
    config: TrainConfig,
    seeds: list[int],
    folds: int,
    cuts_per_unit: int,
    every_stop: bool = False,
    tasks: tuple[str, ...] = TASKS,
) -> list[FoldResult]:
    features = feature_columns(frame.columns)
    specs = [spec for spec in config.models() if spec.task in tasks]
    labelled = frame[frame[CLASS_LABEL].notna() & frame[RUL_LABEL].notna()].reset_index(drop=True)
    results: list[FoldResult] = []
    with threadpool_limits(limits=config.threads):
        for seed in seeds:
            unit_folds = grouped_folds(labelled["unit_id"].to_numpy(), folds, seed)
            for fold, (train_index, valid_index) in enumerate(unit_folds):
                valid = labelled.iloc[valid_index]
                cuts = (
                    stopping_points(valid)
                    if every_stop
                    else truncation_points(valid, seed * 1000 + fold, cuts_per_unit).assign(weight=1.0)
                )
                train_rows = labelled.iloc[train_index].reset_index(drop=True)
                for spec in specs:
                    inner_cv, threshold, predicted, seconds = evaluate_fold(
                        spec, config, train_rows, cuts, features, seed
                    )
                    truth = cuts[CLASS_LABEL if spec.task == "classification" else RUL_LABEL].astype(float)
                    results.append(
                        FoldResult(
                            seed=seed,
                            fold=fold,
                            model=spec.name,
                            task=spec.task,
                            inner_cv=inner_cv,
                            threshold=threshold,
                            fit_seconds=seconds,
                            predictions=pd.DataFrame(
                                {
                                    "unit_id": cuts["unit_id"].to_numpy(),
                                    "cycle": cuts["cycle"].to_numpy(),
                                    "truth": truth.to_numpy(),
                                    "prediction": predicted,
                                    "weight": cuts["weight"].to_numpy(),
                                }
                            ),
                        )
                    )
                log(
                    f"seed {seed} fold {fold + 1}/{folds}: "
                    + ", ".join(f"{r.model} {r.fit_seconds:.0f} s" for r in results[-len(specs) :])
                )
    return results


def with_champions(results: list[FoldResult], config: TrainConfig) -> list[FoldResult]:
    """`results` plus, per fold and task, a copy of the model `ml.train` would make champion (inner CV)."""
    champions: list[FoldResult] = []
    specs = {spec.name: spec for spec in config.models()}
    keys = sorted({(r.seed, r.fold, r.task) for r in results})
    for seed, fold, task in keys:
        candidates = [r for r in results if (r.seed, r.fold, r.task) == (seed, fold, task)]
        pick = max if specs[candidates[0].model].greater_is_better else min
        best = pick(candidates, key=lambda r: r.inner_cv)
        name = f"champion ({best.model})"
        champions.append(FoldResult(seed, fold, name, task, best.inner_cv, best.threshold, 0.0, best.predictions))
    return results + champions


def predictions_table(results: list[FoldResult]) -> pd.DataFrame:
    """Every prediction of `results`, one row each: seed, fold, model, task, unit_id, cycle, truth, prediction,
    weight, and for a classifier its fold's threshold and the decision (prediction >= threshold)."""
    parts = []
    for r in results:
        decision = r.predictions["prediction"] >= r.threshold if r.threshold is not None else None
        parts.append(
            r.predictions.assign(
                seed=r.seed, fold=r.fold, model=r.model, task=r.task, threshold=r.threshold, decision=decision
            )
        )
    columns = ["seed", "fold", "model", "task", "unit_id", "cycle", "truth", "prediction", "weight"]
    table = pd.concat(parts, ignore_index=True)
    return table[[*columns, "threshold", "decision"]].astype({"threshold": "float64", "decision": "boolean"})


def _group_metrics(rows: list[FoldResult]) -> dict[str, float]:
    predictions = pd.concat([r.predictions for r in rows], ignore_index=True)
    truth, prediction = predictions["truth"].to_numpy(), predictions["prediction"].to_numpy()
    weight = predictions["weight"].to_numpy()
    if rows[0].task == "regression":
        per_100 = 100.0 / weight.sum()
        return {
            "rmse": rmse(truth, prediction, weight),
            "phm08_per_100": phm08_score(truth, prediction, weight) * per_100,
        }
    decisions = np.concatenate([r.predictions["prediction"].to_numpy() >= r.threshold for r in rows])
    metrics = classification_metrics(truth.astype(int), decisions.astype(float), 0.5, weight)
    auc = classification_metrics(truth.astype(int), prediction, 0.5, weight)["roc_auc"]
    if not truth.any():  # no unit within 30 cycles of failure: F1, precision and recall are undefined
        return {"f1": np.nan, "precision": np.nan, "recall": np.nan, "roc_auc": auc}
    return {"f1": metrics["f1"], "precision": metrics["precision"], "recall": metrics["recall"], "roc_auc": auc}


def summarise(results: list[FoldResult]) -> list[dict]:
    """Per model: metrics pooled per seed (mean, sd and range over seeds), fold range, per-unit errors."""
    rows: list[dict] = []
    names = list(dict.fromkeys(r.model.split(" (")[0] if r.model.startswith("champion") else r.model for r in results))
    for task in ("regression", "classification"):
        for name in names:
            group = [r for r in results if r.task == task and (r.model == name or r.model.startswith(f"{name} ("))]
            if not group:
                continue
            seeds = sorted({r.seed for r in group})
            per_seed = [_group_metrics([r for r in group if r.seed == seed]) for seed in seeds]
            per_fold = [_group_metrics([r]) for r in group]
            row: dict = {"task": task, "model": name, "seeds": seeds, "folds": len(group)}
            for key in per_seed[0]:
                values = np.array([m[key] for m in per_seed])
                fold_values = np.array([m[key] for m in per_fold])
                row[key] = {
                    "mean": float(values.mean()),
                    "sd_over_seeds": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                    "seed_min": float(values.min()),
                    "seed_max": float(values.max()),
                    # a fold without both classes has no ROC AUC (NaN): left out of the range
                    "fold_min": float(fold_values[np.isfinite(fold_values)].min(initial=np.inf)),
                    "fold_max": float(fold_values[np.isfinite(fold_values)].max(initial=-np.inf)),
                }
            if task == "regression":
                predictions = pd.concat([r.predictions for r in group], ignore_index=True)
                error = (predictions["prediction"] - predictions["truth"]).abs()
                per_unit = error.groupby(predictions["unit_id"]).mean()  # a unit's rows weigh the same
                row["abs_error"] = {
                    "median": weighted_quantile(error.to_numpy(), predictions["weight"].to_numpy(), 0.5),
                    "p90": weighted_quantile(error.to_numpy(), predictions["weight"].to_numpy(), 0.9),
                    "max": float(error.max()),
                    "worst_units": {unit: round(float(value), 1) for unit, value in per_unit.nlargest(5).items()},
                }
            if name == "champion":
                row["picked"] = dict(pd.Series([r.model[len("champion (") : -1] for r in group]).value_counts())
                row["picked"] = {key: int(value) for key, value in row["picked"].items()}
            row["fit_seconds_median"] = float(np.median([r.fit_seconds for r in group])) if name != "champion" else None
            rows.append(row)
    return rows


def weighted_quantile(values: np.ndarray, weights: np.ndarray, share: float) -> float:
    """The smallest value whose cumulative weight reaches `share` of the total (nearest rank, weighted)."""
    order = np.argsort(values, kind="mergesort")
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, share * cumulative[-1])])


def _cell(metric: dict | None, digits: int) -> str:
    if metric is None:
        return ""
    return (
        f"{metric['mean']:.{digits}f} ± {metric['sd_over_seeds']:.{digits}f} "
        f"(folds {metric['fold_min']:.{digits}f}-{metric['fold_max']:.{digits}f})"
    )


def render(summary: list[dict], meta: dict) -> str:
    lines = [
        f"real FD001, truncated-CV: {meta['units']} train units, {meta['folds']}-fold grouped CV x seeds "
        f"{','.join(map(str, meta['seeds']))}, "
        + (
            "every row where a test series could stop, each unit weighted 1 (expected over truncations); "
            if meta.get("every_stop")
            else f"{meta['cuts_per_unit']} truncation(s) per unit per seed; "
        )
        + f"{meta['features']} features; RUL capped at 125",
        f"mean ± sd over seeds (each seed pools its {meta['units']} units); in brackets the range over single folds "
        f"(~{meta['units'] / meta['folds']:.0f} units each, PHM08 scaled to 100 units)",
        "",
        "| task | model | RMSE | PHM08 (per 100 units) | F1 (fails within 30) | ROC AUC | fit s/fold |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in summary:
        model = row["model"]
        if "picked" in row:
            model += " (" + ", ".join(f"{name} {count}/{row['folds']}" for name, count in row["picked"].items()) + ")"
        seconds = f"{row['fit_seconds_median']:.1f}" if row.get("fit_seconds_median") else ""
        lines.append(
            f"| {row['task']} | {model} | {_cell(row.get('rmse'), 2)} | {_cell(row.get('phm08_per_100'), 0)} | "
            f"{_cell(row.get('f1'), 3)} | {_cell(row.get('roc_auc'), 3)} | {seconds} |"
        )
    lines.append("")
    for row in summary:
        if "abs_error" in row:
            e = row["abs_error"]
            worst = ", ".join(f"{unit} {value}" for unit, value in e["worst_units"].items())
            lines.append(
                f"{row['model']}: |error| per prediction median {e['median']:.1f}, p90 {e['p90']:.1f}, "
                f"max {e['max']:.1f}; worst units (mean |error|): {worst}"
            )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.evaluate_real", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--train-file",
        type=Path,
        default=None,
        help="the real train_FD001.txt (default: ../shared/data/cmapss/train_FD001.txt)",
    )
    parser.add_argument(
        "--seeds", type=seed_list, default=[42, 43, 44], help="comma-separated seeds (folds, truncations, models)"
    )
    parser.add_argument("--folds", type=whole_number_from(2), default=5)
    cuts = parser.add_mutually_exclusive_group()
    cuts.add_argument(
        "--cuts-per-unit", type=whole_number_from(1), default=1, help="random truncations per validation unit (1)"
    )
    cuts.add_argument(
        "--every-stop",
        action="store_true",
        help="score every row a test series could stop at, weighted 1/n per unit, instead of random cuts",
    )
    parser.add_argument("--task", choices=TASKS, default=None, help="evaluate only this task's models (default: both)")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temp folder, removed unless --keep")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (landing, warehouse)")
    parser.add_argument("--reuse", action="store_true", help="use the warehouse already built in --workdir")
    parser.add_argument(
        "--project",
        type=Path,
        default=REPO_ROOT,
        help="the dbt project that builds the features (default: this one; e.g. a checkout of an older commit)",
    )
    parser.add_argument("--fast", action="store_true", help="TrainConfig.fast(): tiny grids (smoke runs)")
    parser.add_argument(
        "--rul-margin-rule",
        choices=RUL_MARGIN_RULES,
        default=TrainConfig().rul_margin_rule,
        help="the regressors' late margin (ml.decision.choose_rul_margin; default %(default)s)",
    )
    parser.add_argument("--output", type=Path, default=None, help="also write the summary as JSON")
    parser.add_argument(
        "--predictions",
        type=Path,
        default=None,
        help="also write every prediction as Parquet (for python -m benchmarks.compare_evaluations)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if (code := absent_train_file(args.train_file, "evaluate-real", "nothing to evaluate")) is not None:
        return code
    args.train_file = real_train_file(args.train_file)
    project = args.project.resolve()
    if not (project / "dbt_project.yml").is_file() or not (project / "profiles.yml").is_file():
        print(f"evaluate-real: {project} is not a dbt project with its profiles.yml (--project)", file=sys.stderr)
        return 2
    for option, path in (("--output", args.output), ("--predictions", args.predictions)):
        if problem := unwritable_output(option, path):
            print(f"evaluate-real: {problem}", file=sys.stderr)
            return 2
    seeds = args.seeds
    tasks = TASKS if args.task is None else (args.task,)
    config = dataclasses.replace(
        TrainConfig.fast() if args.fast else TrainConfig(), rul_margin_rule=args.rul_margin_rule
    )
    root = args.workdir or Path(tempfile.mkdtemp(prefix="pdm-evaluate-real-"))
    try:
        warehouse = land_and_build(args.train_file, root.resolve(), args.reuse, project)
        frame = read_train_features(warehouse)
        if frame.empty:
            print(f"evaluate-real: {warehouse} holds no train rows of fct_unit_cycle_features", file=sys.stderr)
            return 1
        units = frame["unit_id"].nunique()
        if units < args.folds:
            print(f"evaluate-real: --folds {args.folds}: {args.train_file} holds only {units} units", file=sys.stderr)
            return 2
        started = time.perf_counter()
        results = with_champions(
            run_cv(frame, config, seeds, args.folds, args.cuts_per_unit, args.every_stop, tasks), config
        )
        summary = summarise(results)
        meta = {
            "train_file": str(args.train_file),
            "units": int(frame["unit_id"].nunique()),
            "rows": len(frame),
            "features": len(feature_columns(frame.columns)),
            "seeds": seeds,
            "folds": args.folds,
            "cuts_per_unit": None if args.every_stop else args.cuts_per_unit,
            "every_stop": args.every_stop,
            "config": "fast" if args.fast else "default",
            "rul_margin_rule": config.rul_margin_rule,
            "tasks": list(tasks),
            "project": {"path": str(project), **git_state(project)},
            "cv_seconds": round(time.perf_counter() - started, 1),
            "git": git_state(),
        }
        report = render(summary, meta)
        print(report)
        if args.workdir is not None or args.keep:
            (root / "report.txt").write_text(report + "\n")
        if args.output:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(json.dumps({"meta": meta, "models": summary}, indent=2, default=str))
        if args.predictions:
            args.predictions.parent.mkdir(parents=True, exist_ok=True)
            predictions_table(results).to_parquet(args.predictions, index=False)
            log(f"predictions written: {args.predictions}")
    finally:
        if args.workdir is None and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        elif args.keep or args.workdir:
            log(f"work folder kept: {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
