"""Two evaluations of the same rows, compared paired: is the candidate better, by how much, and how often would a
100-unit test set like NASA's show each model reaching a goal.

    python -m benchmarks.compare_evaluations BASELINE.parquet CANDIDATE.parquet [--model champion]
        [--goal f1=0.98 --goal rmse=10.97 --goal phm08=175] [--test-sets 20000] [--resamples 2000] [--seed 0]
        [--output FILE.json]

The files are what ``python -m benchmarks.evaluate_real --predictions`` writes, best with ``--every-stop`` (every
row where a test series could stop, weighted 1/n for a unit's n such rows). Both must come from the same train
file, seeds and folds, so that they hold the same (seed, unit, cycle) rows with the same truth: the two models
then differ only in what they predicted there (say, today's models on today's features against an older commit's
features with ``evaluate_real --project``). Rows that are not in both files, or whose truth differs, stop the
comparison with a message naming one of them.

For each task in both files (the model ``--model``, "champion" by default):

1. the figures of ``evaluate_real``'s table (pooled per seed, averaged over seeds): RMSE and PHM08 per 100 units,
   or F1 and wrong decisions per 100 units, for both, and candidate - baseline with a 95 % interval from
   resampling units (the same units for both models, a unit's rows of every seed together);
2. 100-unit test sets drawn like NASA's: per seed, ``--test-sets`` draws of one stopping row per unit (chosen with
   probability its weight, as ``ml.evaluation.truncation_points`` draws), each scored as the test set's 100 last
   cycles would be. Per metric, the median and 10-90 % range of each model, and the share of draws where the
   candidate does at least as well; per goal, the share of draws where each model meets it (F1 >= goal, RMSE and
   PHM08 < goal) and where the candidate meets it among the draws where the baseline does. A test set is one such
   draw: a model's figure on it is luck as much as skill, and this says how much.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ml.config import seed_number
from ml.evaluation import phm08_penalties

KEYS = ["seed", "unit_id", "cycle", "repeat"]  # repeat: a row drawn twice (random cuts are drawn with replacement)
REQUIRED = ("seed", "model", "task", "unit_id", "cycle", "truth", "prediction", "weight", "decision")
LOWER_IS_BETTER = {"rmse": True, "phm08": True, "f1": False, "errors": True}
METRICS = {"regression": ("rmse", "phm08"), "classification": ("f1", "errors")}
LABELS = {
    "rmse": "RMSE",
    "phm08": "PHM08 per 100 units",
    "f1": "F1 (fails within 30)",
    "errors": "wrong decisions per 100 units",
}
_DIGITS = {"rmse": 2, "phm08": 0, "f1": 3, "errors": 2}
DEFAULT_GOALS = ("f1=0.98", "rmse=10.97", "phm08=175")  # issue 12: the deep-learning table's best, F1 kept


class ComparisonError(ValueError):
    """The two files cannot be compared row for row (a message for the user)."""


def load(path: Path, model: str) -> pd.DataFrame:
    """One model's predictions from an `evaluate_real --predictions` file ("champion" matches "champion (...)")."""
    try:
        table = pd.read_parquet(path)
    except (OSError, ValueError) as error:
        raise ComparisonError(f"{path}: not a readable predictions file ({error})") from error
    missing = [name for name in REQUIRED if name not in table.columns]
    if missing:
        raise ComparisonError(f"{path}: not an evaluate_real --predictions file, columns missing: {missing}")
    rows = table[(table["model"] == model) | table["model"].str.startswith(f"{model} (")]
    if rows.empty:
        models = sorted({name.split(" (")[0] for name in table["model"].unique()})
        raise ComparisonError(f"{path}: no predictions of model {model!r} (it has {models})")
    rows = rows.sort_values(["seed", "unit_id", "cycle"], kind="mergesort").reset_index(drop=True)
    return rows.assign(repeat=rows.groupby(["task", "seed", "unit_id", "cycle"]).cumcount())


def paired(baseline: pd.DataFrame, candidate: pd.DataFrame, task: str) -> pd.DataFrame:
    """The task's rows of both files side by side (`*_b`, `*_c`); raises when they are not the same rows."""
    columns = [*KEYS, "truth", "prediction", "weight", "decision"]
    b = baseline.loc[baseline["task"] == task, columns]
    c = candidate.loc[candidate["task"] == task, columns]
    merged = b.merge(c, on=KEYS, how="outer", suffixes=("_b", "_c"), indicator=True)
    alone = merged[merged["_merge"] != "both"]
    if not alone.empty:
        first = alone.iloc[0]
        side = "baseline" if first["_merge"] == "left_only" else "candidate"
        raise ComparisonError(
            f"{task}: {len(alone)} rows are in one file only, e.g. seed {first['seed']} unit {first['unit_id']} "
            f"cycle {first['cycle']} (only in the {side}): compare evaluations of the same train file, seeds, "
            "folds and cuts"
        )
    differ = merged[(merged["truth_b"] != merged["truth_c"]) | (merged["weight_b"] != merged["weight_c"])]
    if not differ.empty:
        first = differ.iloc[0]
        raise ComparisonError(
            f"{task}: truth or weight differs at {len(differ)} rows, e.g. seed {first['seed']} unit "
            f"{first['unit_id']} cycle {first['cycle']}: the files were not made from the same train file"
        )
    merged = merged.drop(columns=["_merge", "truth_c", "weight_c"])
    return merged.rename(columns={"truth_b": "truth", "weight_b": "weight"}).sort_values(KEYS, ignore_index=True)


def _parts(rows: pd.DataFrame, task: str, side: str) -> np.ndarray:
    """Per prediction of one model (`side` "b" or "c"), the quantities whose weighted sums make its metrics:
    1, squared error, PHM08 penalty (regression) or 1, true positive, false positive, false negative."""
    truth = rows["truth"].to_numpy(dtype=float)
    if task == "regression":
        prediction = rows[f"prediction_{side}"].to_numpy(dtype=float)
        return np.column_stack([np.ones_like(truth), (prediction - truth) ** 2, phm08_penalties(truth, prediction)])
    positive = truth.astype(bool)
    decision = rows[f"decision_{side}"].to_numpy(dtype=bool)
    return np.column_stack(
        [np.ones_like(truth), positive & decision, ~positive & decision, positive & ~decision]
    ).astype(float)


def _metrics(sums: np.ndarray, task: str) -> dict[str, np.ndarray]:
    """Metrics from sums (..., parts) of `_parts`: weight, then squared error and PHM08, or tp, fp, fn."""
    weight = sums[..., 0]
    if task == "regression":
        return {"rmse": np.sqrt(sums[..., 1] / weight), "phm08": 100.0 * sums[..., 2] / weight}
    tp, fp, fn = sums[..., 1], sums[..., 2], sums[..., 3]
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)
    return {"f1": f1, "errors": 100.0 * (fp + fn) / weight}


@dataclass
class TaskComparison:
    task: str
    seeds: list[int]
    units: int
    rows: int
    figures: dict  # metric -> {baseline, candidate, difference, low, high}
    test_sets: dict  # metric -> {baseline/candidate median, p10, p90; candidate_as_good}
    goals: dict  # metric -> {goal, baseline, candidate, candidate_given_baseline, draws_baseline_meets}


def compare_task(
    rows: pd.DataFrame, task: str, goals: dict[str, float], resamples: int, test_sets: int, seed: int
) -> TaskComparison:
    rng = np.random.default_rng(seed)
    seeds = sorted(rows["seed"].unique().tolist())
    units = np.sort(rows["unit_id"].unique())
    weight = rows["weight"].to_numpy(dtype=float)[:, None]
    parts = {side: _parts(rows, task, side) for side in ("b", "c")}

    # 1. figures per seed (unit sums), averaged over seeds; units resampled with their rows of every seed
    unit_index = np.searchsorted(units, rows["unit_id"].to_numpy())
    counts = rng.multinomial(len(units), np.full(len(units), 1.0 / len(units)), size=resamples).astype(float)
    point: dict[str, dict[str, float]] = {}
    resampled: dict[str, dict[str, np.ndarray]] = {}
    for side, values in parts.items():
        per_seed_point, per_seed_boot = [], []
        for s in seeds:
            mask = (rows["seed"] == s).to_numpy()
            unit_sums = np.zeros((len(units), values.shape[1]))
            np.add.at(unit_sums, unit_index[mask], weight[mask] * values[mask])
            per_seed_point.append(_metrics(unit_sums.sum(axis=0), task))
            per_seed_boot.append(_metrics(counts @ unit_sums, task))
        point[side] = {m: float(np.nanmean([p[m] for p in per_seed_point])) for m in METRICS[task]}
        resampled[side] = {m: np.nanmean([p[m] for p in per_seed_boot], axis=0) for m in METRICS[task]}
    figures = {}
    for m in METRICS[task]:
        difference = resampled["c"][m] - resampled["b"][m]
        low, high = np.nanpercentile(difference, [2.5, 97.5])
        figures[m] = {
            "baseline": point["b"][m],
            "candidate": point["c"][m],
            "difference": point["c"][m] - point["b"][m],
            "low": float(low),
            "high": float(high),
        }

    # 2. test sets: per seed, one row per unit drawn with probability its weight (within its unit)
    drawn: dict[str, dict[str, list[np.ndarray]]] = {"b": {}, "c": {}}
    for s in seeds:
        index = np.flatnonzero((rows["seed"] == s).to_numpy())  # rows are ordered by unit within a seed
        seed_rows = rows.iloc[index]
        position = pd.factorize(seed_rows["unit_id"], sort=True)[0]
        share = seed_rows.groupby("unit_id", sort=True)["weight"]
        within = (share.cumsum() / share.transform("sum")).to_numpy(dtype=float, copy=True)
        within[np.r_[position[1:] != position[:-1], True]] = 1.0  # each unit's last row closes its interval
        cumulative = position + within  # unit k's rows split (k, k + 1] by their weights
        targets = np.arange(position.max() + 1)[None, :] + rng.random((test_sets, position.max() + 1))
        pick = np.searchsorted(cumulative, targets, side="right")
        for side, values in parts.items():
            metrics = _metrics(values[index][pick].sum(axis=1), task)
            for m, v in metrics.items():
                drawn[side].setdefault(m, []).append(v)
    test_figures, goal_figures = {}, {}
    for m in METRICS[task]:
        b, c = np.concatenate(drawn["b"][m]), np.concatenate(drawn["c"][m])
        lower = LOWER_IS_BETTER[m]
        test_figures[m] = {
            **_spread("baseline", b),
            **_spread("candidate", c),
            "candidate_as_good": float(np.mean(c <= b if lower else c >= b)),
            "draws": int(b.size),
        }
        if m in goals:
            goal = goals[m]
            meets_b = b < goal if lower else b >= goal
            meets_c = c < goal if lower else c >= goal
            goal_figures[m] = {
                "goal": goal,
                "baseline": float(meets_b.mean()),
                "candidate": float(meets_c.mean()),
                "candidate_given_baseline": float(meets_c[meets_b].mean()) if meets_b.any() else float("nan"),
                "draws_baseline_meets": int(meets_b.sum()),
            }
    return TaskComparison(task, seeds, len(units), len(rows), figures, test_figures, goal_figures)


def _spread(side: str, values: np.ndarray) -> dict[str, float]:
    low, median, high = np.nanpercentile(values, [10, 50, 90])
    return {f"{side}_p10": float(low), f"{side}_median": float(median), f"{side}_p90": float(high)}


def _spread_cell(figures: dict, side: str, metric: str) -> str:
    digits = _DIGITS[metric]
    median, low, high = (figures[f"{side}_{key}"] for key in ("median", "p10", "p90"))
    return f"{median:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def parse_goals(values: list[str]) -> dict[str, float]:
    goals = {}
    for value in values:
        name, _, number = value.partition("=")
        try:
            goal = float(number)
        except ValueError:  # f1=abc: a traceback; rmse=nan: 'RMSE < nan', met by no draw
            goal = math.nan
        if name not in LOWER_IS_BETTER or not math.isfinite(goal):
            known = sorted(LOWER_IS_BETTER)
            raise ComparisonError(f"--goal {value!r}: expected METRIC=NUMBER with METRIC one of {known}")
        goals[name] = goal
    return goals


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def render(comparisons: list[TaskComparison], meta: dict) -> str:
    figures, test_sets, goals = [], [], []
    for c in comparisons:
        for m, f in c.figures.items():
            d = _DIGITS[m]
            interval = f"{f['difference']:+.{d}f} ({f['low']:+.{d}f} to {f['high']:+.{d}f})"
            figures.append([c.task, LABELS[m], f"{f['baseline']:.{d}f}", f"{f['candidate']:.{d}f}", interval])
        for m, f in c.test_sets.items():
            as_good = f"{f['candidate_as_good']:.1%} of {f['draws']}"
            test_sets.append(
                [c.task, LABELS[m], _spread_cell(f, "baseline", m), _spread_cell(f, "candidate", m), as_good]
            )
        for m, g in c.goals.items():
            goal = f"{LABELS[m]} {'<' if LOWER_IS_BETTER[m] else '>='} {g['goal']:g}"
            given = f"{g['candidate_given_baseline']:.1%} (of {g['draws_baseline_meets']} draws)"
            goals.append([goal, f"{g['baseline']:.1%}", f"{g['candidate']:.1%}", given])
    lines = [
        f"baseline:  {meta['baseline']}",
        f"candidate: {meta['candidate']}",
        f"model {meta['model']!r}, paired on the same rows; "
        f"95 % intervals from {meta['resamples']} resamples of the units",
        "",
        *_table(["task", "metric", "baseline", "candidate", "candidate - baseline (95 % interval)"], figures),
        "",
        f"test sets like NASA's: one stopping row per unit, {meta['test_sets']} draws per seed; median (10-90 %)",
        "",
        *_table(["task", "metric", "baseline", "candidate", "candidate at least as good"], test_sets),
    ]
    if goals:
        header = ["goal", "baseline meets it", "candidate meets it", "candidate meets it where the baseline does"]
        lines += ["", *_table(header, goals)]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compare_evaluations", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("baseline", type=Path, help="evaluate_real --predictions file of the baseline")
    parser.add_argument("candidate", type=Path, help="evaluate_real --predictions file of the candidate")
    parser.add_argument("--model", default="champion", help="the model compared in both files (%(default)s)")
    parser.add_argument(
        "--goal",
        action="append",
        default=None,
        metavar="METRIC=NUMBER",
        help=f"f1, rmse, phm08 or errors (per 100 units); default {' '.join(DEFAULT_GOALS)}",
    )
    parser.add_argument("--test-sets", type=int, default=20000, help="100-unit test sets drawn per seed")
    parser.add_argument("--resamples", type=int, default=2000, help="unit resamples for the intervals")
    parser.add_argument("--seed", type=seed_number, default=0, help="of the resamples and the draws")
    parser.add_argument("--output", type=Path, default=None, help="also write the figures as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        goals = parse_goals(args.goal if args.goal is not None else list(DEFAULT_GOALS))
        if args.test_sets < 1 or args.resamples < 1:
            raise ComparisonError("--test-sets and --resamples must be at least 1")
        baseline, candidate = load(args.baseline, args.model), load(args.candidate, args.model)
        tasks = [t for t in METRICS if t in set(baseline["task"]) and t in set(candidate["task"])]
        if not tasks:
            raise ComparisonError("the two files share no task (regression, classification)")
        comparisons = [
            compare_task(paired(baseline, candidate, task), task, goals, args.resamples, args.test_sets, args.seed)
            for task in tasks
        ]
    except ComparisonError as error:
        print(f"compare-evaluations: {error}", file=sys.stderr)
        return 2
    meta = {
        "baseline": str(args.baseline),
        "candidate": str(args.candidate),
        "model": args.model,
        "resamples": args.resamples,
        "test_sets": args.test_sets,
        "seed": args.seed,
    }
    print(render(comparisons, meta))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        payload = {"meta": meta, "tasks": [vars(c) for c in comparisons]}
        args.output.write_text(json.dumps(payload, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
