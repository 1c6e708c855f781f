"""The candidate models' pieces that are not scikit-learn's own: the knee of the RUL target, the late margin."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from threadpoolctl import threadpool_limits

from ml.candidates import DEFAULT_GRIDS, FAST_GRIDS, KneeTarget, LateMargin, candidate_specs, predict_rul


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
