"""Reading the Delta lake: DuckDB with the `delta` extension shipped in duckdb-extension-delta.

Delta tables are read through DuckDB's `delta_scan(path, version => N)` rather than
deltalake's `to_pyarrow_table()`, which aborts the process at exit on this stack
(see ../shared/STACK.md).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import duckdb_extension_delta
from deltalake import DeltaTable

DELTA_EXTENSION = next(
    Path(duckdb_extension_delta.__file__).parent.glob(f"extensions/v{duckdb.__version__}/delta.duckdb_extension"),
    None,
)


def connect(database: str | Path = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the delta extension loaded from the installed wheel (no download)."""
    if DELTA_EXTENSION is None:
        raise RuntimeError(
            f"duckdb-extension-delta has no extension for duckdb {duckdb.__version__}: "
            "install the versions pinned in requirements.txt"
        )
    con = duckdb.connect(str(database), read_only=read_only)
    con.execute(f"install '{DELTA_EXTENSION}'")
    con.execute("load delta")
    return con


def delta_scan_sql(table_path: Path, version: int | None = None) -> str:
    """The SQL table expression reading `table_path`, at `version` or the latest."""
    quoted = str(table_path).replace("'", "''")
    if version is None:
        return f"delta_scan('{quoted}')"
    return f"delta_scan('{quoted}', version => {int(version)})"


def latest_version(table_path: Path) -> int:
    """The newest committed version of a Delta table (raises if there is no table there)."""
    return DeltaTable(str(table_path)).version()


def mart_path(lake: Path, mart: str, layer: str = "gold") -> Path:
    """Where a published table lives: <lake>/<layer>/<mart>/."""
    return lake / layer / mart
