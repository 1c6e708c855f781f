"""The plots a training logs to each model's MLflow run (PNG artifacts under `plots/`, PLOT_DPI dots per inch).

Classifier: ROC and confusion matrix on the test units at their last observed cycle, and precision / recall /
F1 over thresholds out-of-fold on the train units with the chosen threshold marked. Regressor: predicted
against true RUL at the last observed cycle, and a few test units' RUL curves over their life.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay

from ml.data import RUL_LABEL

PLOT_DPI = 80


def log_figure(fig: plt.Figure, name: str) -> None:
    """Log `fig` to the active run as `plots/<name>` and close it."""
    fig.set_dpi(PLOT_DPI)
    mlflow.log_figure(fig, f"plots/{name}")
    plt.close(fig)


def classifier_plots(
    name: str, y_test: np.ndarray, p_test: np.ndarray, y_oof: np.ndarray, oof: np.ndarray, threshold: float
) -> None:
    """ROC, confusion matrix at `threshold`, and how the threshold sits among out-of-fold precision / recall / F1."""
    if 0 < y_test.sum() < len(y_test):
        fig, ax = plt.subplots(figsize=(5, 5))
        RocCurveDisplay.from_predictions(y_test, p_test, ax=ax, name=name)
        ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
        ax.set_title("ROC, test units at last observed cycle")
        log_figure(fig, "roc_curve.png")
    log_figure(confusion_matrix_figure(y_test, p_test, threshold), "confusion_matrix.png")
    # How the threshold was chosen: precision / recall / F1 over thresholds, out-of-fold on train units.
    cuts = np.linspace(0.0, 1.0, 101)
    positives = max(int(y_oof.sum()), 1)
    tp = np.array([np.sum((oof >= cut) & (y_oof == 1)) for cut in cuts])
    predicted = np.array([np.sum(oof >= cut) for cut in cuts])
    precision = np.divide(tp, predicted, out=np.ones_like(cuts), where=predicted > 0)
    recall = tp / positives
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(cuts), where=precision + recall > 0)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(cuts, precision, label="precision")
    ax.plot(cuts, recall, label="recall")
    ax.plot(cuts, f1, label="F1")
    ax.axvline(threshold, color="black", linestyle="--", label=f"chosen {threshold:.3f}")
    ax.set_xlabel("threshold on P(fails within 30 cycles)")
    ax.set_title("out-of-fold, train units")
    ax.legend()
    log_figure(fig, "threshold_choice.png")


def confusion_matrix_figure(y_test: np.ndarray, p_test: np.ndarray, threshold: float) -> plt.Figure:
    """The confusion matrix at `threshold`: true class down the rows, the decision across, both axes labelled
    and laid out inside the figure (constrained layout: the colour bar does not push the row label out)."""
    fig, ax = plt.subplots(figsize=(5, 4.2), layout="constrained")
    ConfusionMatrixDisplay.from_predictions(
        y_test, (p_test >= threshold).astype(int), labels=[0, 1], display_labels=["> 30", "<= 30"], ax=ax
    )
    ax.set_xlabel(f"predicted RUL, cycles (<= 30 when P >= {threshold:.3f})")
    ax.set_ylabel("true RUL, cycles")
    ax.set_title("test units at last observed cycle")
    return fig


def regressor_plots(
    name: str, evaluation: pd.DataFrame, rul_test: np.ndarray, test: pd.DataFrame, curves: np.ndarray, units: int
) -> None:
    """Predicted against true RUL at the last observed cycle, and `units` test units' RUL curves (`curves`)."""
    true = evaluation[RUL_LABEL].to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(true, rul_test, s=14, alpha=0.7)
    top = max(float(true.max(initial=0)), float(rul_test.max(initial=0))) + 5
    ax.plot([0, top], [0, top], color="grey", linestyle=":")
    ax.set_xlabel("true RUL (capped)")
    ax.set_ylabel("predicted RUL")
    ax.set_title(f"{name}: test units at last observed cycle")
    log_figure(fig, "predicted_vs_true_rul.png")
    chosen = curve_units(evaluation, units)
    if not chosen:
        return
    fig, axes = plt.subplots(len(chosen), 1, figsize=(7, 2.4 * len(chosen)), squeeze=False)
    for ax, unit in zip(axes[:, 0], chosen, strict=True):
        rows = (test["unit_id"] == unit).to_numpy()
        cycles = test.loc[rows, "cycle"].to_numpy()
        ax.plot(cycles, test.loc[rows, RUL_LABEL].to_numpy(dtype=float), label="true RUL (capped)", color="black")
        ax.plot(cycles, curves[rows], label="predicted RUL", color="tab:red")
        ax.set_ylabel("RUL")
        twin = ax.twinx()
        twin.plot(cycles, test.loc[rows, "degradation_index"].to_numpy(dtype=float), color="tab:blue", alpha=0.4)
        twin.set_ylabel("degradation index", color="tab:blue")
        ax.set_title(unit, fontsize=9)
    axes[0, 0].legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("cycle")
    fig.subplots_adjust(hspace=0.6, right=0.86)
    log_figure(fig, "test_unit_degradation_curves.png")


def curve_units(evaluation: pd.DataFrame, count: int) -> list[str]:
    """A few test units spread over the range of true RUL, deterministically."""
    if evaluation.empty or count <= 0:
        return []
    ordered = evaluation.sort_values([RUL_LABEL, "unit_id"], kind="mergesort")["unit_id"].tolist()
    picks = np.unique(np.linspace(0, len(ordered) - 1, min(count, len(ordered))).round().astype(int))
    return [ordered[i] for i in picks]
