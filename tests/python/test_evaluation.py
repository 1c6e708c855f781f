"""Evaluation helpers against hand-computed values; the grouped folds' guarantees as properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml.evaluation import (
    choose_threshold,
    classification_metrics,
    grouped_folds,
    last_cycle_per_unit,
    mae,
    phm08_score,
    regression_metrics,
    rmse,
    stopping_points,
    truncation_points,
)

E = math.e


def test_phm08_score_penalises_late_predictions_more_than_early_ones():
    # d = pred - true: 0 (free), +10 late -> e^(10/10) - 1, -13 early -> e^(13/13) - 1.
    assert phm08_score([50, 50, 50], [50, 60, 37]) == pytest.approx(2 * (E - 1))
    # The same 13 cycles late costs e^1.3 - 1 = 2.6693 against 1.7183 early.
    assert phm08_score([100], [113]) == pytest.approx(math.exp(1.3) - 1) == pytest.approx(2.669296668)
    assert phm08_score([100], [87]) == pytest.approx(E - 1) == pytest.approx(1.718281828)
    assert phm08_score([7, 8], [7, 8]) == 0.0


def test_phm08_score_is_a_sum_over_units():
    one = phm08_score([20], [25])  # e^0.5 - 1
    assert one == pytest.approx(math.exp(0.5) - 1)
    assert phm08_score([20, 20, 20], [25, 25, 25]) == pytest.approx(3 * one)


def test_rmse_and_mae_by_hand():
    assert rmse([0, 0], [3, 4]) == pytest.approx(math.sqrt(12.5))  # sqrt((9 + 16) / 2) = 3.5355
    assert mae([0, 0], [3, -4]) == pytest.approx(3.5)
    assert rmse([1, 2, 3], [1, 2, 3]) == 0.0
    metrics = regression_metrics([10, 10], [20, 0])  # d = +10, -10
    assert metrics == pytest.approx({"rmse": 10.0, "mae": 10.0, "phm08_score": (E - 1) + (math.exp(10 / 13) - 1)})


def test_metrics_refuse_mismatched_or_empty_input():
    with pytest.raises(ValueError, match="shape"):
        rmse([1, 2], [1])
    with pytest.raises(ValueError, match="empty"):
        rmse([], [])


def test_last_cycle_per_unit_takes_the_flagged_row_of_each_unit():
    frame = pd.DataFrame(
        {
            "unit_id": ["b", "b", "a", "a", "a"],
            "cycle": [1, 2, 1, 2, 3],
            "is_last_observed_cycle": [False, True, False, False, True],
            "rul": [11, 10, 7, 6, 5],
        }
    )
    last = last_cycle_per_unit(frame)
    assert last[["unit_id", "cycle", "rul"]].to_dict("records") == [
        {"unit_id": "a", "cycle": 3, "rul": 5},
        {"unit_id": "b", "cycle": 2, "rul": 10},
    ]
    frame.loc[0, "is_last_observed_cycle"] = True
    with pytest.raises(ValueError, match="more than one row"):
        last_cycle_per_unit(frame)


def test_choose_threshold_maximises_f1():
    # top-k cuts: k=1 F1 .5, k=2 .8, k=3 .667, k=4 (P 3/4, R 1) 6/7, k=5 .75 -> cut at the 4th score, 0.6.
    choice = choose_threshold([1, 1, 0, 1, 0], [0.9, 0.8, 0.7, 0.6, 0.2])
    assert choice.threshold == 0.6
    assert choice.f1 == pytest.approx(6 / 7)
    assert (choice.precision, choice.recall) == pytest.approx((0.75, 1.0))
    assert (choice.n, choice.positives) == (5, 3)
    assert "out-of-fold" in choice.method


def test_choose_threshold_ties_go_to_the_lower_threshold_and_equal_scores_cut_together():
    # F1 2/3 at 0.9 (P 1, R .5) and at 0.6 (P .5, R 1): the lower one, for recall.
    assert choose_threshold([1, 0, 0, 1], [0.9, 0.8, 0.7, 0.6]).threshold == 0.6
    # Two rows share 0.5: the cut can't separate them (P .5, R 1, F1 2/3 beats 0.2's F1 .5).
    choice = choose_threshold([1, 0, 0], [0.5, 0.5, 0.2])
    assert (choice.threshold, choice.precision) == (0.5, 0.5)
    assert choice.f1 == pytest.approx(2 / 3)


def test_choose_threshold_without_both_classes_falls_back():
    choice = choose_threshold([0, 0, 0], [0.1, 0.2, 0.3], default=0.42)
    assert choice.threshold == 0.42
    assert "default" in choice.method


def test_classification_metrics_by_hand():
    # predicted at 0.5: [1, 1, 0, 0] vs truth [1, 0, 1, 0] -> tp fp fn tn = 1 each.
    # AUC: positive/negative pairs (.9,.6) (.9,.1) (.4,.6) (.4,.1) -> 3 of 4 ordered right.
    metrics = classification_metrics([1, 0, 1, 0], [0.9, 0.6, 0.4, 0.1], threshold=0.5)
    assert metrics["roc_auc"] == pytest.approx(0.75)
    assert {key: metrics[key] for key in ("precision", "recall", "f1", "accuracy")} == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "f1": 0.5, "accuracy": 0.5}
    )
    assert (metrics["tp"], metrics["fp"], metrics["fn"], metrics["tn"]) == (1, 1, 1, 1)
    assert math.isnan(classification_metrics([0, 0], [0.1, 0.9], 0.5)["roc_auc"])


def test_weighted_metrics_count_each_prediction_as_often_as_its_weight():
    true, pred, weight = [10.0, 20.0, 30.0, 40.0], [12.0, 15.0, 60.0, 40.0], [2.0, 1.0, 0.0, 1.0]
    repeated_true, repeated_pred = [10.0, 10.0, 20.0, 40.0], [12.0, 12.0, 15.0, 40.0]
    assert rmse(true, pred, weight) == pytest.approx(rmse(repeated_true, repeated_pred))
    assert phm08_score(true, pred, weight) == pytest.approx(phm08_score(repeated_true, repeated_pred))
    assert phm08_score(true, pred, [0.5] * 4) == pytest.approx(phm08_score(true, pred) / 2)
    labels, scores, weight = [1, 0, 1, 0, 1], [0.9, 0.6, 0.4, 0.1, 0.7], [2.0, 1.0, 1.0, 3.0, 0.0]
    repeated = classification_metrics([1, 1, 0, 1, 0, 0, 0], [0.9, 0.9, 0.6, 0.4, 0.1, 0.1, 0.1], 0.5)
    assert classification_metrics(labels, scores, 0.5, weight) == pytest.approx(repeated)
    for bad in ([1.0, -1.0, 1.0, 1.0], [1.0, 1.0], [1.0, float("nan"), 1.0, 1.0]):
        with pytest.raises(ValueError, match="sample_weight"):
            rmse(true, pred, bad)


def test_grouped_folds_keep_each_unit_on_one_side():
    units = np.repeat([f"u{i:02d}" for i in range(12)], [5, 3, 8, 2, 6, 4, 7, 1, 9, 3, 2, 5])
    folds = grouped_folds(units, n_splits=5, seed=42)
    assert len(folds) == 5
    seen_in_validation: list[str] = []
    for train_rows, valid_rows in folds:
        assert not set(units[train_rows]) & set(units[valid_rows])
        assert sorted(np.r_[train_rows, valid_rows].tolist()) == list(range(units.size))
        seen_in_validation += sorted(set(units[valid_rows]))
    # every unit is validated exactly once; 12 units over 5 folds -> 3, 3, 2, 2, 2 units
    assert sorted(seen_in_validation) == sorted(set(units))
    assert sorted(len(set(units[valid])) for _, valid in folds) == [2, 2, 2, 3, 3]


def test_grouped_folds_are_deterministic_and_seeded():
    units = np.repeat([f"u{i}" for i in range(20)], 3)
    first = grouped_folds(units, 4, seed=7)
    again = grouped_folds(units, 4, seed=7)
    other = grouped_folds(units, 4, seed=8)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(first, again, strict=True))
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(first, other, strict=True))


def test_grouped_folds_refuse_too_few_units():
    with pytest.raises(ValueError, match="cannot fill"):
        grouped_folds(["a", "a", "b"], n_splits=3, seed=0)
    with pytest.raises(ValueError, match="at least 2"):
        grouped_folds(["a", "b"], n_splits=1, seed=0)


@settings(max_examples=60, deadline=None)
@given(
    units=st.lists(st.sampled_from([f"unit-{i}" for i in range(15)]), min_size=1, max_size=80),
    n_splits=st.integers(2, 5),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_grouped_folds_properties(units, n_splits, seed, data):
    units = np.array(units)
    if np.unique(units).size < n_splits:
        with pytest.raises(ValueError):
            grouped_folds(units, n_splits, seed)
        return
    folds = grouped_folds(units, n_splits, seed)
    fold_of_unit: dict[str, int] = {}
    for index, (train_rows, valid_rows) in enumerate(folds):
        assert valid_rows.size > 0
        assert not set(units[train_rows]) & set(units[valid_rows])
        for unit in set(units[valid_rows]):
            assert unit not in fold_of_unit
            fold_of_unit[unit] = index
    assert set(fold_of_unit) == set(units)
    # the assignment depends on the set of units and the seed, not on row order
    order = data.draw(st.permutations(range(units.size)))
    shuffled = units[list(order)]
    reshuffled = {
        unit: i for i, (_, valid) in enumerate(grouped_folds(shuffled, n_splits, seed)) for unit in shuffled[valid]
    }
    assert reshuffled == fold_of_unit


def run_to_failure(lives: dict[str, int]) -> pd.DataFrame:
    """Every cycle 1..life of each unit, with its true remaining life."""
    frames = [
        pd.DataFrame({"unit_id": unit, "cycle": np.arange(1, life + 1), "rul": life - np.arange(1, life + 1)})
        for unit, life in lives.items()
    ]
    return pd.concat(frames, ignore_index=True)


def test_truncation_points_cut_where_a_nasa_test_series_stops():
    frame = run_to_failure({"a": 200, "b": 128, "c": 362})
    cuts = truncation_points(frame, seed=1, cuts_per_unit=50)
    assert cuts["unit_id"].tolist() == ["a"] * 50 + ["b"] * 50 + ["c"] * 50
    assert cuts["truncation"].tolist() == list(range(50)) * 3
    # remaining life 7-145 and at least 31 cycles seen: b (life 128) can stop between cycle 31 (rul 97) and 121
    assert cuts["rul_at_truncation"].equals(cuts["rul"])
    assert cuts["rul_at_truncation"].between(7, 145).all()
    assert (cuts["cycle"] >= 31).all()
    assert cuts.loc[cuts["unit_id"] == "b", "rul_at_truncation"].max() <= 97
    # uniform over the window: 50 draws from 139 cycles of c spread over it
    assert cuts.loc[cuts["unit_id"] == "c", "rul_at_truncation"].agg(["min", "max"]).tolist()[0] < 40
    assert cuts.loc[cuts["unit_id"] == "c", "rul_at_truncation"].max() > 110


def test_truncation_points_depend_on_the_seed_not_on_row_order():
    frame = run_to_failure({f"u{i}": 150 + i for i in range(10)})
    first = truncation_points(frame, seed=7)
    shuffled = truncation_points(frame.sample(frac=1.0, random_state=3), seed=7)
    pd.testing.assert_frame_equal(first, shuffled)
    assert not first["cycle"].equals(truncation_points(frame, seed=8)["cycle"])
    assert len(first) == 10 and first["unit_id"].is_unique


def test_truncation_points_of_short_units_and_bad_arguments():
    # 40 cycles: the 31st cycle leaves 9 (>= 7): cut between cycle 31 and 33 (rul 9..7)
    # 33 cycles: the 31st leaves 2 (< 7): cut there; 10 cycles (< 31 seen): cut at its last cycle
    frame = run_to_failure({"long": 40, "short": 33, "tiny": 10})
    cuts = truncation_points(frame, seed=0, cuts_per_unit=20).groupby("unit_id")["cycle"].agg(["min", "max"])
    assert cuts.loc["long"].between(31, 33).all()
    assert cuts.loc["short"].tolist() == [31, 31]
    assert cuts.loc["tiny"].tolist() == [10, 10]
    with pytest.raises(ValueError, match="cuts_per_unit"):
        truncation_points(frame, seed=0, cuts_per_unit=0)
    with pytest.raises(ValueError, match="rul_range"):
        truncation_points(frame, seed=0, rul_range=(10, 5))
    with pytest.raises(ValueError, match="no rows"):
        truncation_points(frame.iloc[:0], seed=0)


def test_stopping_points_are_every_row_a_cut_can_land_on_each_unit_weighing_one():
    frame = run_to_failure({"a": 200, "b": 128, "short": 33, "tiny": 10})
    stops = stopping_points(frame.sample(frac=1.0, random_state=5))
    # a: remaining life 7-145 with 31 cycles seen, cycles 55-193; b: cycles 31-121; short: 31; tiny: 10
    assert stops.groupby("unit_id")["cycle"].agg(["min", "max", "size"]).to_dict("index") == {
        "a": {"min": 55, "max": 193, "size": 139},
        "b": {"min": 31, "max": 121, "size": 91},
        "short": {"min": 31, "max": 31, "size": 1},
        "tiny": {"min": 10, "max": 10, "size": 1},
    }
    assert stops["weight"].groupby(stops["unit_id"]).sum().tolist() == pytest.approx([1.0] * 4)
    assert stops["rul_at_truncation"].equals(stops["rul"])
    # exactly the rows random truncations draw from
    cuts = truncation_points(frame, seed=3, cuts_per_unit=3000)
    assert set(zip(cuts["unit_id"], cuts["cycle"], strict=True)) == set(
        zip(stops["unit_id"], stops["cycle"], strict=True)
    )
