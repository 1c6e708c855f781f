"""Serve the fleet dashboard: `python -m dashboard [--port 8050] [--refresh-seconds 5]` (`make dashboard`).

Reads the analysts' database (`lakehouse.analysts.default_database()`: `$PDM_ANALYSTS_DB`, else
`<lake>/analysts.duckdb`) read-only, so it runs beside `dbt build`, a publish and `make watch`.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from dashboard.app import create_app
from lakehouse.analysts import default_database


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dashboard", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", help="port, 1 to 65535 (default $PORT, else 8050)")
    parser.add_argument(
        "--refresh-seconds",
        type=float,
        default=5.0,
        help="how often an open page checks whether a publish swapped in a new analysts' database",
    )
    parser.add_argument("--analysts-db", type=Path, help="the analysts' database to read (default: the lake's)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not math.isfinite(args.refresh_seconds) or args.refresh_seconds <= 0:  # nan, inf: every page load failed
        print(f"dashboard: --refresh-seconds must be a positive number, not {args.refresh_seconds}", file=sys.stderr)
        return 2
    # an out-of-range port made Dash fail an assert, a PORT that is not a number int() at import: tracebacks
    given, name = (args.port, "--port") if args.port is not None else (os.environ.get("PORT") or "8050", "PORT")
    port = int(given) if given.strip().isdigit() else -1
    if not 1 <= port <= 65535:
        print(f"dashboard: {name} must be a port number from 1 to 65535, not {given!r}", file=sys.stderr)
        return 2
    args.port = port
    database = args.analysts_db or default_database()
    if not database.exists():
        print(f"dashboard: no analysts' database at {database} yet: pages say so until a publish writes it")
    print(f"dashboard: http://{args.host}:{args.port} over {database} (Ctrl-C stops it)", flush=True)
    create_app(database, args.refresh_seconds).run(host=args.host, port=args.port, debug=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
