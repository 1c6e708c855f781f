"""The candidate models' pieces that are not scikit-learn's own: the RUL target's knee, the late margin, the search."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from ml.candidates import DEFAULT_GRIDS, FAST_GRIDS, KneeTarget, LateMargin, candidate_specs, predict_rul
from ml.search import grouped_search


def test_knee_target_fits_the_rul_capped_at_its_knee():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a", "b", "c"])
    y = 200.0 * rng.random(400)
    tree = HistGradientBoostingRegressor(max_iter=20, random_state=1)
    with threadpool_limits(limits=1):  # two spinning OpenMP threads crawl on a busy 2-core machine
        kneed = KneeTarget(tree, knee=120).fit(X, y)
        capped = HistGradientBoostingRegressor(max_iter=20, random_state=1).fit(X, np.minimum(y, 120))
    np.testing.assert_array_equal(kneed.predict(X), capped.predict(X))
    assert kneed.predict(X).max() <= 120 + 1e-9
    assert not hasattr(tree, "n_iter_")  # the estimator given is a template, never fitted itself


def test_the_rul_candidates_train_on_their_grids_knee():
    for grids in (DEFAULT_GRIDS, FAST_GRIDS):
        spec = next(spec for spec in candidate_specs(grids) if spec.name == "hgb_regressor")
        for params in spec.grid:
            model = spec.build(params, 0).named_steps["model"]
            assert isinstance(model, KneeTarget) and model.knee == params["target_knee"]


def test_a_late_margin_lowers_the_fitted_regressors_predictions():
    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(200, 2)), columns=["a", "b"])
    y = 50 + 10 * X["a"].to_numpy()
    fitted = Ridge(alpha=1.0).fit(X, y)
    lowered = LateMargin.around(fitted, 2.5)
    assert lowered.regressor_ is fitted  # wrapped as it is, not refitted
    np.testing.assert_allclose(lowered.predict(X), fitted.predict(X) - 2.5)
    refit = LateMargin(Ridge(alpha=1.0), 2.5).fit(X, y)
    np.testing.assert_allclose(refit.predict(X), lowered.predict(X))
    assert predict_rul(LateMargin.around(fitted, 80.0), X).min() == 0.0  # floored at 0 like every RUL


class _NaNRegressor(BaseEstimator, RegressorMixin):
    """Predicts NaN for every row, as a diverged fit would."""

    def fit(self, X, y):
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        return np.full(len(X), np.nan)


def test_a_grid_point_scored_nan_never_wins_the_search():
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(120, 2)), columns=["a", "b"])
    y = 50 + 10 * X["a"].to_numpy()
    units = np.repeat(np.arange(6), 20)
    folds = [(np.flatnonzero(units % 3 != k), np.flatnonzero(units % 3 == k)) for k in range(3)]
    ridge = next(spec for spec in candidate_specs(FAST_GRIDS) if spec.name == "ridge")

    def build(params, seed):
        return Pipeline([("model", _NaNRegressor())]) if params.get("diverges") else ridge.build(params, seed)

    # NaN compares false with every score: a NaN first grid point used to stay the best.
    spec = dataclasses.replace(ridge, build=build, grid=({"alpha": 1.0, "diverges": True}, *ridge.grid))
    result = grouped_search(spec, X, y, folds, seed=0)
    assert result.best_params in ridge.grid and np.isfinite(result.cv_score)
    assert np.isnan(result.table[0]["mean"])  # still reported in the table

    only_nan = dataclasses.replace(spec, grid=({"diverges": True},))
    with pytest.raises(ValueError, match="ridge: no grid point of 1 has a cross-validated score"):
        grouped_search(only_nan, X, y, folds, seed=0)
