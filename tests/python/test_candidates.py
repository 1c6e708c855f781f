"""The candidate models' pieces that are not scikit-learn's own: the knee of the RUL target."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from ml.candidates import DEFAULT_GRIDS, FAST_GRIDS, KneeTarget, candidate_specs


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
