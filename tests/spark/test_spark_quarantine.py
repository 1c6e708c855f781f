"""The same quarantine on Spark: a sensor file and a RUL file of lines each broken in one way (or not at
all), landed once and built by the real `dbt build` on DuckDB (target ci) and on Spark (target spark,
local[2]), from bronze to the staging models. Each line must be kept on both engines, or quarantined on
both under the rule DuckDB gives it (models/staging: the parser's rules). Spark casts text to numbers
with Java's parser and matches with Java's regular expressions, which read some tokens DuckDB does not:
those are the cases below. And a file whose name holds a colon, which Spark must read as DuckDB does.

Run by `make test-spark` (part of `make test`), which checks for Java first.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.python.test_bad_input import line
from tests.spark.spark_builds import build_environment, dbt_build

pytestmark = [pytest.mark.dbt]

# The staging models and what they are built on; no data tests (test_spark_gold's build runs them all).
SELECTION = (
    "--select",
    "+stg_cmapss__sensor_readings",
    "+stg_cmapss__quarantined_lines",
    "+stg_cmapss__rul_truth",
    "--exclude-resource-type",
    "test",
    "unit_test",
    "--vars",
    "{landing_settle_seconds: 0, quarantined_share_error: 1.0}",
)
SENSOR_FILE, RUL_FILE = "train_FD401.txt", "RUL_FD401.txt"
# A delivery named with its time (a colon: Hadoop's checksummed local file system could not read it).
TIMED_FILE = "train_FD402_2026-01-01T10:00:00.txt"
# (case, file, the line's text without its line break, the rule DuckDB gives it: None when kept).
CASES = [
    ("good reading", SENSOR_FILE, line(1, 1), None),
    ("hexadecimal float", SENSOR_FILE, line(1, 2, replace={8: "0x10p0"}), "non_numeric_value"),
    ("upper-case hexadecimal float", SENSOR_FILE, line(1, 3, replace={8: "0X1P3"}), "non_numeric_value"),
    ("control character after a value", SENSOR_FILE, line(1, 4, replace={8: "1.5\x01"}), "non_numeric_value"),
    ("control character before a value", SENSOR_FILE, line(1, 5, replace={8: "\x1f1.5"}), "non_numeric_value"),
    ("NUL after a value", SENSOR_FILE, line(1, 6, replace={8: "1.5\x00"}), "non_numeric_value"),
    ("Java type suffix", SENSOR_FILE, line(1, 7, replace={8: "1d"}), "non_numeric_value"),
    ("Java type suffix after a point", SENSOR_FILE, line(1, 8, replace={8: "2.f"}), "non_numeric_value"),
    ("infinite value", SENSOR_FILE, line(1, 9, replace={8: "inf"}), "non_finite_value"),
    ("negative infinite value", SENSOR_FILE, line(1, 10, replace={8: "-inf"}), "non_finite_value"),
    ("upper-case infinite value", SENSOR_FILE, line(1, 11, replace={8: "INF"}), "non_finite_value"),
    ("negative NaN", SENSOR_FILE, line(1, 12, replace={8: "-nan"}), "non_finite_value"),
    ("negative NaN, mixed case", SENSOR_FILE, line(1, 13, replace={8: "-NaN"}), "non_finite_value"),
    ("vertical tabs between values", SENSOR_FILE, line(1, 14).replace(" ", "\v", 3), "too_few_columns"),
    ("vertical tab alone", SENSOR_FILE, "\v", "too_few_columns"),
    ("tabs and form feeds between values", SENSOR_FILE, line(1, 15).replace(" ", "\t\f", 3), None),
    ("RUL hexadecimal float", RUL_FILE, "0x1p3", "non_numeric_value"),
    ("negative NaN RUL", RUL_FILE, "-nan", "rul_not_non_negative_integer"),
    ("infinite RUL", RUL_FILE, "inf", "rul_not_non_negative_integer"),
    ("good RUL", RUL_FILE, "60", None),
    ("a file named with a colon", TIMED_FILE, line(1, 1), None),
]


def outcomes(table: str, warehouse: str | None = None) -> dict[tuple[str, int], str | None]:
    """{(file name, line number): the rule of each landed line, None when kept}, from `table`: a relation
    with `{table}` where the staging model's name goes, in the DuckDB `warehouse` (attached as `w`) if given."""
    sql = f"""
        select regexp_extract(source_file, '[^/]+$'), line_number, null
        from {table.format(table="stg_cmapss__sensor_readings")}
        union all
        select regexp_extract(source_file, '[^/]+$'), line_number, null
        from {table.format(table="stg_cmapss__rul_truth")}
        union all
        select file_name, line_number, rejection_rule from {table.format(table="stg_cmapss__quarantined_lines")}
    """
    with duckdb.connect() as con:
        if warehouse:
            con.execute(f"attach '{warehouse}' as w (read_only)")
        rows = con.execute(sql).fetchall()
    keys = [(name, number) for name, number, _ in rows]
    assert len(keys) == len(set(keys)), f"a line both kept and quarantined, or twice: {sorted(keys)}"
    return {(name, number): rule for name, number, rule in rows}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[tuple[str, int], str | None]]:
    """The two files landed, built on DuckDB, then on Spark. Returns {engine: its outcomes}."""
    root = tmp_path_factory.mktemp("spark_quarantine")
    landing = root / "landing"
    landing.mkdir()
    for name in (SENSOR_FILE, RUL_FILE, TIMED_FILE):
        text = "".join(text.removesuffix("\n") + "\n" for _, file, text, _ in CASES if file == name)
        (landing / name).write_bytes(text.encode())
    found = {}
    for target, name in (("ci", "duckdb"), ("spark", "spark")):
        env = build_environment(root, landing, name)
        result = dbt_build(target, env, root / f"{name}_build.log", *SELECTION)
        assert result.returncode == 0, f"dbt build on {name} failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
        if name == "duckdb":
            found[name] = outcomes("w.bronze.{table}", env["PDM_WAREHOUSE_PATH"])
        else:
            folder = Path(env["PDM_SPARK_DIR"]) / "warehouse" / "bronze.db"
            found[name] = outcomes(f"read_parquet('{folder}/{{table}}/*.parquet')")
    return found


def line_number(case: str) -> tuple[str, int]:
    """(file name, line number) of the case's line."""
    file = next(file for name, file, _, _ in CASES if name == case)
    return file, [name for name, f, _, _ in CASES if f == file].index(case) + 1


@pytest.mark.parametrize(("case", "rule"), [(name, rule) for name, _, _, rule in CASES], ids=[c[0] for c in CASES])
def test_a_line_is_kept_or_quarantined_under_the_same_rule_on_spark(built, case: str, rule: str | None) -> None:
    key = line_number(case)
    assert built["duckdb"][key] == rule, f"{case}: DuckDB gives {built['duckdb'][key]!r}"
    assert built["spark"][key] == rule, f"{case}: Spark gives {built['spark'][key]!r}, DuckDB {rule!r}"


def test_every_line_has_the_same_outcome_on_both_engines(built) -> None:
    assert len(built["duckdb"]) == len(CASES)
    assert built["spark"] == built["duckdb"]
