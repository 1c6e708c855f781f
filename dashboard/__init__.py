"""The fleet dashboard over the published gold (`make dashboard`, `python -m dashboard`).

Modules: `queries` (the SQL against the analysts' database, read-only), `figures` (plotly charts),
`app` (Dash pages, routes and the refresh), `__main__` (the command line).
"""
