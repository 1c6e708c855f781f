"""The classifier as MLflow logs it: a pyfunc whose output carries the probability AND the decision.

MLflow "models from code": `ml.registry` logs THIS FILE as the model's code, with the fitted scikit-learn
pipeline as the artifact `classifier` (MLflow's sklearn format, skops) and the threshold in the model config
(`decision_threshold`, `threshold_rule`). A consumer needs nothing of this project:

    model = mlflow.pyfunc.load_model("models:/pdm-fails-within-30-cycles@champion")
    model.predict(features)  # DataFrame: failure_probability (float), fails_within_30_cycles (bool)

`fails_within_30_cycles` is `failure_probability >= decision_threshold`. The file imports only MLflow and
pandas, because it runs inside whatever process loads the model.
"""

from __future__ import annotations

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

PROBABILITY_COLUMN = "failure_probability"
DECISION_COLUMN = "fails_within_30_cycles"


class ThresholdedClassifier(PythonModel):
    """P(fails within 30 cycles) from the fitted pipeline, and the alert decision at the training's threshold."""

    def load_context(self, context) -> None:
        self.classifier = mlflow.sklearn.load_model(context.artifacts["classifier"])
        self.threshold = float(context.model_config["decision_threshold"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        probability = self.classifier.predict_proba(model_input)[:, 1]
        return pd.DataFrame({PROBABILITY_COLUMN: probability, DECISION_COLUMN: probability >= self.threshold})


mlflow.models.set_model(ThresholdedClassifier())
