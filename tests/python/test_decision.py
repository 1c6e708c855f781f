"""The classifier's decision rule (ml.decision): pure functions, checked against hand-computed costs."""

from __future__ import annotations

import numpy as np
import pytest

from ml.decision import DecisionCosts, choose_decision_rule, decision_counts, expected_cost, min_cost_threshold
from ml.evaluation import choose_threshold
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
