"""benchmarks.compare_evaluations on predictions files written the way `evaluate_real --predictions` writes them:
paired figures and their intervals, test sets drawn with the rows' weights, goals, and files that do not pair."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks import compare_evaluations


def predictions(rows: list[tuple], task: str = "classification", seed: int = 42) -> pd.DataFrame:
    """(unit_id, cycle, truth, prediction, weight) rows of one champion; a classifier's threshold is 0.5."""
    frame = pd.DataFrame(rows, columns=["unit_id", "cycle", "truth", "prediction", "weight"])
    classifier = task == "classification"
    return frame.assign(
        seed=seed,
        fold=0,
        model="champion (logreg)" if classifier else "champion (hgb_regressor)",
        task=task,
        threshold=0.5 if classifier else np.nan,
        decision=(frame["prediction"] >= 0.5) if classifier else pd.NA,
    ).astype({"decision": "boolean"})


def write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_parquet(path, index=False)
    return path


def fleet(units: int, wrong: set[str]) -> list[tuple]:
    """Two stopping rows per unit (weight 1/2 each), the first within 30 cycles of failure; the units in
    `wrong` are mis-classified at their first row (a missed failure)."""
    rows = []
    for k in range(units):
        unit = f"U{k:03d}"
        rows.append((unit, 100, 1.0, 0.1 if unit in wrong else 0.9, 0.5))
        rows.append((unit, 60, 0.0, 0.1, 0.5))
    return rows


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = compare_evaluations.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_better_classifier_is_measured_paired_with_its_test_set_odds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 40 units: the baseline misses 4 failures, the candidate none
    baseline = write(predictions(fleet(40, {"U000", "U001", "U002", "U003"})), tmp_path / "baseline.parquet")
    candidate = write(predictions(fleet(40, set())), tmp_path / "candidate.parquet")
    output = tmp_path / "comparison.json"
    argv = [str(baseline), str(candidate), "--test-sets", "4000", "--resamples", "500", "--output", str(output)]
    code, out, _ = run([*argv, "--goal", "f1=0.98"], capsys)
    assert code == 0
    (task,) = json.loads(output.read_text())["tasks"]
    assert task["task"] == "classification" and task["units"] == 40
    f1 = task["figures"]["f1"]
    # expected counts: tp 18, fn 2 (4 units x 1/2), fp 0 -> F1 36 / 38
    assert f1["baseline"] == pytest.approx(36 / 38) and f1["candidate"] == 1.0
    assert f1["difference"] == pytest.approx(1 - 36 / 38)
    assert 0 < f1["low"] <= f1["difference"] <= f1["high"]
    assert task["figures"]["errors"]["baseline"] == pytest.approx(100 * 2 / 40)
    # a test set draws one of the two rows of each unit: the baseline is perfect only when it draws none of
    # its 4 misses at their failing row, (1/2)^4 of the time
    goal = task["goals"]["f1"]
    assert goal["candidate"] == 1.0 and goal["candidate_given_baseline"] == 1.0
    assert goal["baseline"] == pytest.approx(1 / 16, abs=0.02)
    assert task["test_sets"]["f1"]["candidate_as_good"] == 1.0
    assert "| F1 (fails within 30) >= 0.98 |" in out


def test_a_file_against_itself_differs_by_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(3)
    rows = [
        (f"U{k:02d}", c, float(rng.integers(0, 125)), float(rng.normal(60, 30)), 0.25)
        for k in range(30)
        for c in range(4)
    ]
    same = write(predictions(rows, task="regression"), tmp_path / "same.parquet")
    output = tmp_path / "comparison.json"
    code, out, _ = run(
        [str(same), str(same), "--test-sets", "500", "--resamples", "200", "--output", str(output)], capsys
    )
    assert code == 0
    (task,) = json.loads(output.read_text())["tasks"]
    for metric in ("rmse", "phm08"):
        figures = task["figures"][metric]
        assert figures["difference"] == figures["low"] == figures["high"] == 0
        assert task["test_sets"][metric]["candidate_as_good"] == 1.0
    assert "f1" not in task["goals"] and set(task["goals"]) == {"rmse", "phm08"}
    assert "| regression | RMSE |" in out


def test_test_sets_draw_each_units_rows_with_their_weights(tmp_path: Path) -> None:
    # one unit, two stopping rows weighted 1/4 and 3/4, errors 0 and 10: a test set's RMSE is 0 a quarter of
    # the time; a second seed's rows are drawn on their own
    rows = [("U1", 10, 50.0, 50.0, 0.25), ("U1", 11, 49.0, 59.0, 0.75)]
    frame = pd.concat([predictions(rows, "regression", seed) for seed in (1, 2)], ignore_index=True)
    path = write(frame, tmp_path / "weights.parquet")
    table = compare_evaluations.load(path, "champion")
    paired = compare_evaluations.paired(table, table, "regression")
    result = compare_evaluations.compare_task(paired, "regression", {"rmse": 5.0}, 10, 20000, 0)
    assert result.seeds == [1, 2]
    assert result.goals["rmse"]["baseline"] == pytest.approx(0.25, abs=0.015)
    assert result.figures["rmse"]["baseline"] == pytest.approx(np.sqrt(0.75 * 100))


def test_files_that_do_not_pair_stop_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = predictions(fleet(3, set()))
    baseline = write(base, tmp_path / "baseline.parquet")
    fewer = write(base.iloc[1:], tmp_path / "fewer.parquet")
    code, _, err = run([str(baseline), str(fewer)], capsys)
    assert code == 2 and "1 rows are in one file only" in err and "unit U000 cycle 100 (only in the baseline)" in err
    other_truth = write(base.assign(truth=1.0 - base["truth"]), tmp_path / "truth.parquet")
    code, _, err = run([str(baseline), str(other_truth)], capsys)
    assert code == 2 and "truth or weight differs" in err
    code, _, err = run([str(baseline), str(baseline), "--model", "logreg"], capsys)
    assert code == 2 and "no predictions of model 'logreg'" in err and "['champion']" in err
    regression = write(predictions([("U1", 10, 5.0, 5.0, 1.0)], "regression"), tmp_path / "regression.parquet")
    code, _, err = run([str(baseline), str(regression)], capsys)
    assert code == 2 and "share no task" in err
    code, _, err = run([str(baseline), str(baseline), "--goal", "auc=0.9"], capsys)
    assert code == 2 and "--goal 'auc=0.9'" in err
    for goal in ("f1=abc", "rmse=nan", "phm08=inf"):  # a traceback; 'RMSE < nan', met by no draw
        code, out, err = run([str(baseline), str(baseline), "--goal", goal], capsys)
        assert code == 2 and f"--goal '{goal}': expected METRIC=NUMBER" in err and not out
    with pytest.raises(SystemExit) as stopped:  # numpy's 'expected non-negative integer', after loading
        compare_evaluations.main([str(baseline), str(baseline), "--seed", "-1"])
    assert stopped.value.code == 2 and "argument --seed: -1 is not from 0 to" in capsys.readouterr().err
    not_parquet = tmp_path / "notes.parquet"
    not_parquet.write_text("not a parquet file")
    code, _, err = run([str(not_parquet), str(baseline)], capsys)
    assert code == 2 and str(not_parquet) in err
