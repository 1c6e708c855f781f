"""The dashboard's charts: plotly figures built from the frames `dashboard.queries` returns."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from dashboard.queries import KEY_SENSORS, band_order

BAND_COLOURS = {"normal": "#2e7d32", "watch": "#f9a825", "alert": "#c62828"}
DECISION_COLOURS = {"fails within horizon": "#c62828", "keeps running": "#546e7a", "not scored": "#b0bec5"}
SENSOR_LABELS = {
    "t50_lpt_outlet_temp": "T50 LPT outlet temp",
    "ps30_hpc_static_pressure": "Ps30 HPC static pressure",
    "phi_fuel_flow_ratio": "phi fuel flow / Ps30",
    "htbleed_bleed_enthalpy": "htBleed bleed enthalpy",
}
LAYOUT = {"margin": {"l": 50, "r": 20, "t": 40, "b": 40}, "template": "plotly_white", "height": 360}


def decision_by_band(frame: pd.DataFrame) -> go.Figure:
    """Stacked bars: units in service per health band, split by the champion's decision."""
    figure = go.Figure()
    bands = band_order(frame["health_band"])
    for decision, colour in DECISION_COLOURS.items():
        rows = frame[frame["decision"] == decision].set_index("health_band")["units"]
        counts = [int(rows.get(band, 0)) for band in bands]
        if any(counts):
            figure.add_bar(name=decision, x=bands, y=counts, marker_color=colour)
    figure.update_layout(
        barmode="stack",
        title="Units in service by health band and decision",
        xaxis_title="health band",
        yaxis_title="units",
        **LAYOUT,
    )
    return figure


def unit_history(cycles: pd.DataFrame, health: pd.Series | None) -> go.Figure:
    """The unit's key sensors (regime z-scores) and degradation index over cycles, with where the champion
    places its failure (scored cycle + predicted RUL)."""
    figure = go.Figure()
    for sensor in KEY_SENSORS:
        figure.add_scatter(
            x=cycles["cycle"], y=cycles[f"{sensor}_z"], mode="lines", name=SENSOR_LABELS[sensor], opacity=0.55
        )
    figure.add_scatter(
        x=cycles["cycle"],
        y=cycles["degradation_index"],
        mode="lines",
        name="degradation index",
        line={"color": "black", "width": 2},
    )
    figure.add_scatter(
        x=cycles["cycle"],
        y=cycles["degradation_index_mean_w10"],
        mode="lines",
        name="degradation index, 10-cycle mean",
        line={"color": "#c62828", "width": 3},
    )
    if health is not None and present(health.get("predicted_rul")) and present(health.get("scored_cycle")):
        failure_cycle = float(health["scored_cycle"]) + float(health["predicted_rul"])
        figure.add_vline(
            x=failure_cycle,
            line_dash="dash",
            line_color="#c62828",
            annotation_text=f"predicted failure: cycle {failure_cycle:.0f} (RUL {float(health['predicted_rul']):.0f})",
            annotation_position="top left",
        )
        figure.add_vline(x=float(health["scored_cycle"]), line_dash="dot", line_color="#546e7a")
    figure.update_layout(
        title="Key sensors (regime z-scores) and degradation index",
        xaxis_title="cycle",
        yaxis_title="z-score",
        legend={"orientation": "h", "y": -0.2},
        **{**LAYOUT, "height": 460},
    )
    return figure


def failure_risk(health: pd.Series) -> go.Figure:
    """The champion's failure probability for the unit against its decision threshold."""
    probability = float(health["failure_probability"])
    threshold = float(health["decision_threshold"]) if present(health.get("decision_threshold")) else None
    gauge = {
        "axis": {"range": [0, 1]},
        # null (pd.NA) for a score from before ml.predict recorded decisions: no decision, not a failure to draw
        "bar": {
            "color": "#c62828"
            if present(health.get("is_predicted_to_fail")) and health["is_predicted_to_fail"]
            else "#546e7a"
        },
    }
    if threshold is not None:
        gauge["threshold"] = {"line": {"color": "black", "width": 4}, "thickness": 0.9, "value": threshold}
    figure = go.Figure(go.Indicator(mode="gauge+number", value=probability, gauge=gauge, number={"valueformat": ".2f"}))
    title = "P(fails within horizon)" + (f"; decision threshold {threshold:.2f}" if threshold is not None else "")
    figure.update_layout(title=title, **{**LAYOUT, "height": 260})
    return figure


def quarantine(frame: pd.DataFrame) -> go.Figure:
    """Stacked bars: quarantined lines per file, one colour per rule."""
    figure = go.Figure()
    for rule, rows in frame.groupby("rule", sort=True):
        figure.add_bar(name=rule, x=rows["file_name"], y=rows["lines"])
    figure.update_layout(
        barmode="stack", title="Quarantined lines by file and rule", yaxis_title="lines", xaxis_title="file", **LAYOUT
    )
    return figure


def psi(frame: pd.DataFrame, top: int = 25) -> go.Figure:
    """Horizontal bars: the features with the highest PSI on the latest monitoring run, each with a tick at the
    PSI sampling noise alone reaches for it (`noise_psi`), when the run recorded it."""
    shown = frame.head(top).iloc[::-1]
    colours = ["#c62828" if drifted else "#546e7a" for drifted in shown["is_drift"]]
    figure = go.Figure(go.Bar(x=shown["psi"], y=shown["feature"], orientation="h", marker_color=colours, name="PSI"))
    if shown["noise_psi"].notna().any():
        figure.add_scatter(
            x=shown["noise_psi"],
            y=shown["feature"],
            mode="markers",
            marker={"symbol": "line-ns-open", "size": 14, "color": "black"},
            name="noise alone",
        )
    figure.update_layout(
        title=f"Drift of the champion's inputs: PSI, top {min(top, len(frame))} of {len(frame)} features",
        xaxis={
            "title": "PSI (red: above psi_warn and beyond noise; tick: what noise alone reaches)",
            "rangemode": "tozero",
        },
        **{**LAYOUT, "height": max(300, 22 * len(shown) + 100), "margin": {"l": 260, "r": 20, "t": 40, "b": 40}},
    )
    return figure


def present(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and value is not pd.NA
