"""The dashboard's pages, routes and server (Dash): fleet, unit, data quality, model.

Every page is rendered from a fresh read-only connection to the analysts' database
(`dashboard.queries.open_analysts`): on navigation, and whenever a publish has swapped the file in
(a `dcc.Interval` compares the file's inode, mtime and size every `refresh_seconds`; the page is
re-queried only when they changed). A section whose table is not published, or a database that is
missing or unreadable, shows the reason (naming the table or file) in place of its content; the other
sections and pages keep working. The model page's metrics, which gold does not publish, come from the
MLflow store (`dashboard.champion_metrics`, `PDM_MLFLOW_DIR` / `PDM_DATA_DIR` as for ml.train).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, unquote

import pandas as pd
from dash import Dash, Input, Output, State, dcc, html, no_update

from dashboard import figures, queries
from dashboard.champion_metrics import champion_metrics
from dashboard.queries import DashboardDataError
from ml.config import Paths

PAGES = (("/", "Fleet"), ("/data-quality", "Data quality"), ("/model", "Model"))
UNIT_PREFIX = "/unit/"
STYLE = {
    "page": {"fontFamily": "system-ui, sans-serif", "margin": "0 auto", "maxWidth": "1200px", "padding": "0 16px"},
    "nav": {"display": "flex", "gap": "20px", "alignItems": "baseline", "borderBottom": "1px solid #ccc"},
    "notice": {"background": "#fff3e0", "border": "1px solid #f9a825", "padding": "8px 12px", "margin": "8px 0"},
    "table": {"borderCollapse": "collapse", "fontSize": "13px", "width": "100%"},
    "cell": {"borderBottom": "1px solid #eee", "padding": "3px 8px", "textAlign": "left", "whiteSpace": "nowrap"},
    "scroll": {"overflowX": "auto"},
    "columns": {"display": "flex", "gap": "24px", "alignItems": "flex-start", "flexWrap": "wrap"},
    "muted": {"color": "#666", "fontSize": "13px"},
}


def unit_href(unit_id: str) -> str:
    return UNIT_PREFIX + quote(unit_id, safe="")


def _cell(value: object) -> str:
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):  # every time in gold is UTC
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def table(frame: pd.DataFrame, table_id: str, link: str | None = None) -> html.Div:
    """`frame` as an HTML table; the `link` column's values link to their unit page."""
    header = html.Tr([html.Th(column, style=STYLE["cell"]) for column in frame.columns])
    rows = []
    for record in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, record, strict=True):
            content = dcc.Link(str(value), href=unit_href(str(value))) if column == link else _cell(value)
            cells.append(html.Td(content, style=STYLE["cell"]))
        rows.append(html.Tr(cells, className="data-row"))
    return html.Div(
        html.Table([html.Thead(header), html.Tbody(rows)], id=table_id, style=STYLE["table"]), style=STYLE["scroll"]
    )


def fields(frame: pd.DataFrame, table_id: str) -> html.Div:
    """A one-row (or few-row) frame as a field / value table, one column per row."""
    vertical = frame.T.reset_index()
    vertical.columns = ["field", *(["value"] if len(frame) == 1 else [f"row {i + 1}" for i in range(len(frame))])]
    return table(vertical, table_id)


def notice(text: str, element_id: str | None = None) -> html.Div:
    return html.Div(text, className="notice", style=STYLE["notice"], **({"id": element_id} if element_id else {}))


def graph(figure, graph_id: str) -> dcc.Graph:
    return dcc.Graph(id=graph_id, figure=figure, config={"displaylogo": False})


def section(title: str, build: Callable[[], list]) -> html.Section:
    """A titled part of a page; when its data is not there, the reason instead of the content."""
    try:
        content = build()
    except DashboardDataError as exc:
        content = [notice(str(exc))]
    return html.Section([html.H3(title), *content])


def fleet_page(con) -> list:
    def bands() -> list:
        frame = queries.decision_by_band(con)
        if frame.empty:
            return [notice("no unit in service in gold.mart_fleet_health")]
        wide = frame.pivot_table(index="health_band", columns="decision", values="units", fill_value=0).astype(int)
        wide = wide.reindex([b for b in queries.band_order(wide.index) if b in wide.index]).reset_index()
        return [graph(figures.decision_by_band(frame), "fleet-bands"), table(wide, "fleet-band-table")]

    def at_risk() -> list:
        frame = queries.units_in_service(con)
        if frame.empty:
            return [notice("no unit in service in gold.mart_fleet_health")]
        caption = "Ranked by the champion's failure probability, then the 10-cycle mean degradation index."
        return [html.P(caption, style=STYLE["muted"]), table(frame, "fleet-units", link="unit_id")]

    return [
        section("Units in service by decision and health band", bands),
        section("Most at risk first", at_risk),
        section(
            "Freshness per dataset",
            lambda: [
                html.P(
                    "From gold.mart_pipeline_freshness as published; minutes_since_landing is counted when this "
                    "page was last rendered (at navigation and at each publish).",
                    style=STYLE["muted"],
                ),
                table(queries.dataset_freshness(con), "fleet-freshness"),
            ],
        ),
        section("Latest Delta versions (what this page reads)", lambda: [table(queries.latest_versions(con), "delta")]),
    ]


def unit_page(con, unit_id: str) -> list:
    try:
        health_frame = queries.unit_health(con, unit_id)
        unavailable = None
    except DashboardDataError as exc:  # the chart and the registry history can still be drawn
        health_frame, unavailable = pd.DataFrame(), exc
    health = health_frame.iloc[0] if not health_frame.empty else None

    def summary() -> list:
        if unavailable is not None:
            raise unavailable
        if health is None:
            return [notice(f"unit {unit_id} is not in gold.mart_fleet_health", "unit-missing")]
        if figures.present(health.get("failure_probability")):
            risk = graph(figures.failure_risk(health), "unit-risk")
        else:
            risk = notice("not scored yet: no champion score in gold.mart_fleet_health")
        summary = fields(health_frame.drop(columns=["unit_id"]), "unit-summary")
        return [
            html.Div(
                [html.Div(risk, style={"flex": "1 1 380px"}), html.Div(summary, style={"flex": "1 1 380px"})],
                style=STYLE["columns"],
            )
        ]

    def history() -> list:
        cycles = queries.unit_cycles(con, unit_id)
        if cycles.empty:
            return [notice(f"no cycle of unit {unit_id} in gold.fct_unit_cycle_features")]
        return [graph(figures.unit_history(cycles, health), "unit-chart")]

    return [
        html.H2(f"Unit {unit_id}", id="unit-title"),
        section("Sensors and degradation over cycles", history),
        section("Risk and state (mart_fleet_health)", summary),
        section(
            "Registry history (dim_unit_registry_history)",
            lambda: [table(queries.unit_registry_history(con, unit_id), "unit-registry")],
        ),
    ]


def data_quality_page(con) -> list:
    def by_rule() -> list:
        frame = queries.quarantine_by_rule_and_file(con)
        if frame.empty:
            return [notice("no quarantined line in gold.mart_data_quality")]
        return [graph(figures.quarantine(frame), "quarantine-chart"), table(frame, "quarantine-table")]

    return [
        section("Quarantined lines by rule and file", by_rule),
        section("Latest hostile inputs", lambda: [table(queries.latest_hostile_inputs(con), "hostile")]),
        section("Landed files", lambda: [table(queries.landed_files(con), "landed-files")]),
        html.P(
            "The quarantined lines themselves (raw text, line numbers) are in bronze, which is not published: "
            "`make sql` shows these counts, the warehouse's bronze.stg_cmapss__quarantined_lines the lines.",
            style=STYLE["muted"],
        ),
    ]


def model_page(con, mlflow_dir: Path) -> list:
    def champion() -> list:
        frame = queries.champion(con)
        if frame.empty:
            return [notice("no champion in gold yet: no monitoring run and no score (`make train predict monitor`)")]
        return [fields(frame, "champion")]

    def drift() -> list:
        frame = queries.drift(con)
        if frame.empty:
            return [notice("no monitoring run in gold.mart_model_monitoring yet (`make monitor`)")]
        return [graph(figures.psi(frame), "psi-chart")]

    def metrics() -> list:
        frame = champion_metrics(mlflow_dir)
        if frame.empty:
            return [notice(f"no champion in the MLflow store {mlflow_dir} yet (`make train`)")]
        return [
            table(frame, "champion-metrics"),
            html.P(
                "From the MLflow store (gold does not publish metrics): cv_ is the grouped cross-validation the "
                "candidate was chosen by, test_ the held-out split. Every run: `make mlflow-ui`.",
                style=STYLE["muted"],
            ),
        ]

    return [
        section("Champion", champion),
        section("Champion metrics", metrics),
        section("Drift (latest monitoring run)", drift),
        section("Drift over monitoring runs", lambda: [table(queries.drift_history(con), "drift-history")]),
    ]


def render(database: Path, pathname: str | None, mlflow_dir: Path | None = None) -> list:
    """The page at `pathname`, read from a fresh read-only connection to `database`."""
    pathname = pathname or "/"
    try:
        with queries.open_analysts(database) as con:
            state = queries.published_state(con)
            stamp = html.P(
                f"Published gold as of {_cell(state['refreshed_at'].iloc[0])} (lake {state['lake'].iloc[0]}); "
                f"read from {database}",
                id="published-state",
                style=STYLE["muted"],
            )
            if pathname.startswith(UNIT_PREFIX):
                body = unit_page(con, unquote(pathname.removeprefix(UNIT_PREFIX)))
            elif pathname in ("/", "/fleet"):
                body = fleet_page(con)
            elif pathname == "/data-quality":
                body = data_quality_page(con)
            elif pathname == "/model":
                body = model_page(con, mlflow_dir or Paths.from_env().mlflow)
            else:
                body = [notice(f"no page {pathname}")]
            return [stamp, *body]
    except DashboardDataError as exc:
        return [notice(str(exc), "analysts-unavailable")]


def create_app(database: Path, refresh_seconds: float = 5.0) -> Dash:
    """The Dash app over the analysts' database `database`."""
    database = Path(database)
    app = Dash(__name__, title="Fleet health", update_title=None, suppress_callback_exceptions=True)
    nav = html.Nav(
        [html.H1("Fleet health", style={"fontSize": "20px"})]
        + [dcc.Link(label, href=href, id=f"nav-{label.lower().replace(' ', '-')}") for href, label in PAGES],
        style=STYLE["nav"],
    )

    def layout() -> html.Div:  # evaluated per page load: the page starts from the file as it is now
        return html.Div(
            [
                dcc.Location(id="url"),
                dcc.Interval(id="refresh", interval=int(refresh_seconds * 1000)),
                dcc.Store(id="published", data=queries.signature(database)),
                nav,
                html.Div(id="page"),
            ],
            style=STYLE["page"],
        )

    app.layout = layout

    @app.callback(
        Output("published", "data"),
        Input("refresh", "n_intervals"),
        State("published", "data"),
        prevent_initial_call=True,
    )
    def watch(_ticks: int | None, shown: str | None):
        current = queries.signature(database)
        return no_update if current == shown else current  # changes only when a publish swapped the file

    @app.callback(Output("page", "children"), Input("url", "pathname"), Input("published", "data"))
    def show(pathname: str | None, _published: str | None):
        return render(database, pathname)

    return app
