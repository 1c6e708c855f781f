"""Python side of the predictive-maintenance lakehouse: simulator, training, scoring."""
