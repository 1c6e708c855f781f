"""The classifier's decision rule and the regressor's late margin (ml.decision): pure functions, checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.decision import (
    DecisionCosts,
    choose_decision_rule,
    choose_rul_margin,
    decision_counts,
    expected_cost,
    min_cost_threshold,
    truncation_window,
)
from ml.evaluation import choose_threshold, truncation_points
from ml.registry import compare


def test_min_cost_threshold_beats_max_f1_when_a_missed_failure_costs_more():
    # 4 failing rows among 10; one failure scores low, among the healthy rows
    y = np.array([1, 1, 1, 0, 0, 0, 0, 1, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.35, 0.3, 0.2, 0.1])
    costs = DecisionCosts(missed_failure=10.0, unneeded_maintenance=1.0)
    f1 = choose_decision_rule(y, p, "max_f1", costs)
    cheap = choose_decision_rule(y, p, "min_cost", costs)
    assert f1.threshold == choose_threshold(y, p).threshold == 0.7  # 3 of 4 caught, no false alarm: F1 6/7
    # alerting down to 0.3 catches every failure at the price of 4 unneeded maintenances: cost 4, not 10
    assert cheap.threshold == 0.3 and cheap.rule == "min_cost"
    assert decision_counts(y, p, 0.3) == (4, 4, 0, 2)
    assert cheap.expected_cost == pytest.approx(4 / 10) and f1.expected_cost == pytest.approx(10 / 10)
    assert cheap.expected_cost < f1.expected_cost and cheap.recall == 1.0
    assert "missed failure 10" in cheap.method
    # symmetric costs: an extra alert costs as much as a miss, and max F1's cut is no worse than the cheapest
    even = DecisionCosts(1.0, 1.0)
    assert expected_cost(y, p, min_cost_threshold(y, p, even), even) <= expected_cost(y, p, f1.threshold, even)


def test_min_cost_may_be_never_alert_and_ties_go_to_the_lower_threshold():
    y, p = np.array([0, 0, 1]), np.array([0.9, 0.8, 0.1])
    never = min_cost_threshold(y, p, DecisionCosts(missed_failure=1.0, unneeded_maintenance=5.0))
    assert never > 0.9 and decision_counts(y, p, never) == (0, 0, 1, 2)
    # alerting on everything (cut 0.1) costs 2, alerting on nothing costs 2: the lower threshold wins
    assert min_cost_threshold(y, p, DecisionCosts(missed_failure=2.0, unneeded_maintenance=1.0)) == 0.1


def test_one_class_gives_the_default_and_bad_input_is_refused():
    rule = choose_decision_rule([0, 0, 0], [0.2, 0.4, 0.9], "min_cost", DecisionCosts())
    assert (rule.threshold, rule.rule) == (0.5, "default")
    with pytest.raises(ValueError, match="unknown threshold rule"):
        choose_decision_rule([0, 1], [0.2, 0.4], "max_recall", DecisionCosts())
    with pytest.raises(ValueError, match="missed failure"):
        DecisionCosts(missed_failure=-1.0)
    with pytest.raises(ValueError, match="finite"):
        DecisionCosts(unneeded_maintenance=float("nan"))


def test_champion_gate_comparison_needs_the_margin():
    assert compare("regression", {"rmse": 9.9}, {"rmse": 10.0}, 0.01)[0]
    assert not compare("regression", {"rmse": 9.95}, {"rmse": 10.0}, 0.01)[0]
    champion = {"f1": 0.8, "expected_cost": 1.0}
    assert compare("classification", {"f1": 0.8, "expected_cost": 0.9}, champion, 0.01)[0]
    promote, why = compare("classification", {"f1": 0.7, "expected_cost": 0.5}, champion, 0.01)
    assert not promote and "LOWER" in why  # F1 dropped: cheaper is not enough
    assert not compare("classification", {"f1": 0.9, "expected_cost": 1.0}, champion, 0.01)[0]
    assert not compare("classification", {"f1": 1.0, "expected_cost": 0.0}, {"f1": 1.0, "expected_cost": 0.0}, 0)[0]


def _units(lives: dict[str, int]) -> pd.DataFrame:
    """Whole run-to-failure units: one row per cycle, the capped RUL as truth."""
    frame = pd.concat(
        [pd.DataFrame({"unit": unit, "cycle": np.arange(1, life + 1)}) for unit, life in lives.items()],
        ignore_index=True,
    )
    remaining = frame.groupby("unit")["cycle"].transform("max") - frame["cycle"]
    return frame.assign(remaining=remaining, truth=np.minimum(remaining, 125).astype(float))


def test_the_late_margin_undoes_a_late_bias_where_a_test_series_could_stop():
    units = _units({"u1": 200, "u2": 160, "u3": 20})  # u3: too short to be cut like a test series
    window = truncation_window(units["unit"], units["cycle"])
    expected = units["remaining"].between(7, 145) & (units["cycle"] >= 31)
    np.testing.assert_array_equal(window, expected.to_numpy())
    assert not window[units["unit"].to_numpy() == "u3"].any()
    # 3 cycles late in the window; wildly late outside it, which must not move the margin
    predicted = units["truth"].to_numpy() + np.where(window, 3.0, 40.0)
    margin = choose_rul_margin(units["truth"], predicted, units["unit"], units["cycle"], "min_phm08")
    assert margin.margin == 3.0 and margin.phm08_after == 0.0 and margin.rows == int(window.sum())
    assert margin.phm08_before == pytest.approx(np.exp(0.3) - 1)
    assert "RUL 7-145" in margin.method
    # no bias: no margin (ties and the minimum go to the smallest margin)
    unbiased = choose_rul_margin(units["truth"], units["truth"], units["unit"], units["cycle"], "min_phm08")
    assert unbiased.margin == 0.0
    kept = choose_rul_margin(units["truth"], predicted, units["unit"], units["cycle"], "none")
    assert kept.margin == 0.0 and kept.phm08_after == kept.phm08_before


def test_the_late_margin_window_holds_every_truncation_point_and_bad_rules_are_refused():
    units = _units({f"u{i}": life for i, life in enumerate([40, 90, 150, 210, 330])})
    cuts = truncation_points(units.rename(columns={"unit": "unit_id"}), seed=3, cuts_per_unit=30)
    window = units.assign(window=truncation_window(units["unit"], units["cycle"]))
    long_enough = cuts[cuts["unit_id"] != "u0"]  # u0 (40 cycles) is cut at its 31st cycle: RUL 9, in the window
    joined = long_enough.merge(window, left_on=["unit_id", "cycle"], right_on=["unit", "cycle"])
    assert len(joined) == len(long_enough) and joined["window"].all()
    short = _units({"a": 25})
    none = choose_rul_margin(short["truth"], short["truth"] + 9, short["unit"], short["cycle"], "min_phm08")
    assert none.margin == 0.0 and none.rows == 0 and "no out-of-fold row" in none.method
    with pytest.raises(ValueError, match="unknown RUL margin rule"):
        choose_rul_margin([1.0], [1.0], ["a"], [1], "quantile")
