"""Real-world landing files: every line of every file ends up in exactly one place (the clean
bronze tables or the quarantine, with its reason), corrections replace, duplicates add nothing,
and the quarantine thresholds warn and fail. Real files, the real `dbt build`, real DuckDB."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from ml.simulate import FleetSpec
from tests.python.conftest import Environment

pytestmark = pytest.mark.dbt

GOOD = FleetSpec(dataset="FD101", train_units=4, test_units=3, conditions=1, fault_modes=1, seed=5)
# Let the build complete whatever the share of bad lines, so that every line can be checked.
LENIENT = ["--vars", "{quarantined_share_error: 1.0}"]

# Columns 3..26 of the first line of NASA's train_FD001.txt.
TEMPLATE = [
    *"-0.0007 -0.0004 100.0 518.67 641.82 1589.70 1400.60 14.62 21.61 554.36 2388.06 9046.19".split(),  # noqa: SIM905
    *"1.30 47.47 521.66 2388.02 8138.62 8.4195 0.03 392 2388 100.00 39.06 23.4190".split(),  # noqa: SIM905
]


def line(unit: object = 1, cycle: object = 1, *, replace: dict[int, str] | None = None, extra: int = 0) -> str:
    """A C-MAPSS line as NASA writes it (two trailing spaces); token i (0-based) replaced if asked."""
    tokens = [str(unit), str(cycle), *TEMPLATE, *(["7.5"] * extra)]
    for index, token in (replace or {}).items():
        tokens[index] = token
    return " ".join(tokens) + "  \n"


# (line text, the rule it breaks or None when it must be kept), in file order.
MIXED_FILE = [
    (line(1, 1), None),
    (line(1, 2), None),
    (" ".join(line(1, 3).split()[:10]) + "\n", "too_few_columns"),  # truncated
    (line(1, 3, replace={7: "12,3"}), "non_numeric_value"),
    (line(1, 3, replace={8: "NaN"}), "non_finite_value"),
    (line(1, 3, replace={9: "inf"}), "non_finite_value"),
    (line(1, 0), "cycle_not_positive_integer"),
    (line(1, 2.5), "cycle_not_positive_integer"),
    (line(0, 3), "unit_not_positive_integer"),
    (line(-2, 3), "unit_not_positive_integer"),
    (line(1, 3, extra=1), "column_count_differs_from_file"),  # a stray 27th value in a 26-column file
    ("\n", "blank_line"),
    (line(1, 2), None),  # duplicate (unit, cycle) within the file: kept, deduplicated in silver
    (line(1, 6), None),  # a gap: cycles 4 and 5 missing
    (line(1, 4), None),  # out of order
    (line(2, 1), None),
    (line(1, 7, replace={6: "6_42.11"}), "non_numeric_value"),  # DuckDB's cast would read 642.11
    (line("1.2e1", 7), "unit_not_positive_integer"),  # the cast would read unit 12
    (line(1, "7e0"), "cycle_not_positive_integer"),  # ... and cycle 7
    (line(1, 7).rstrip() + " " + line(1, 8), "too_many_columns"),  # two readings on one line: 52 values
]


def write(path, text: str | bytes) -> None:
    path.write_bytes(text if isinstance(text, bytes) else text.encode())


def land_bad_inputs(env: Environment) -> None:
    landing = env.paths.landing
    env.land(GOOD)
    write(landing / "train_FD201.txt", "".join(text for text, _ in MIXED_FILE))
    # A UTF-8 byte-order mark and Windows line endings: all good lines.
    write(
        landing / "train_FD202.txt",
        b"\xef\xbb\xbf" + "".join(line(1, c).replace("\n", "\r\n") for c in (1, 2, 3)).encode(),
    )
    # Schema drift: every line carries a 27th value (a new sensor).
    write(landing / "train_FD203.txt", "".join(line(1, c, extra=1) for c in (1, 2, 3)))
    # A RUL file with fewer lines than its test file has units.
    write(landing / "test_FD204.txt", "".join(line(u, c) for u in (1, 2, 3) for c in (1, 2)))
    write(landing / "RUL_FD204.txt", "50 \n60 \n")
    write(landing / "train_FD205.txt", b"")  # empty
    write(landing / "train_FD206.txt", b"\x89PNG\r\n\x1a\n\x00\xff\xfe binary")  # not text
    write(landing / "train_FD207_it's; a name.txt", line(1, 1) + line(1, 2))  # quote, semicolon, space
    # Old Mac line endings: every line ends in a lone CR.
    write(landing / "train_FD208.txt", "".join(line(1, c).replace("\n", "\r") for c in (1, 2, 3, 4)))
    # Every line holds two readings run together (52 values): not a new sensor.
    write(landing / "train_FD209.txt", "".join(line(1, c).rstrip() + " " + line(1, c + 1) for c in (1, 3, 5)))
    shutil.copy(landing / "train_FD101.txt", landing / "train_FD101_copy.txt")  # same content, new name
    write(landing / "readme.txt", "not data\nat all\n")


@pytest.fixture(scope="module")
def bad_inputs(module_environment: Environment) -> Environment:
    land_bad_inputs(module_environment)
    # the build that lands the files is the one that warns about the rows it wrote
    module_environment.landing_build = module_environment.build(*LENIENT)
    return module_environment


def lines_in(env: Environment, name: str) -> int:
    content = (env.paths.landing / name).read_bytes()
    return content.count(b"\n") + (0 if content.endswith(b"\n") or not content else 1)


def outcome_counts(env: Environment, file_name: str) -> dict[str, int]:
    return dict(env.query(f"select outcome, line_count from gold.mart_data_quality where file_name = '{file_name}'"))


def test_every_line_of_the_mixed_file_goes_where_its_rule_says(bad_inputs: Environment) -> None:
    quarantined = dict(
        bad_inputs.query(
            "select line_number, rejection_rule from bronze.stg_cmapss__quarantined_lines "
            "where file_name = 'train_FD201.txt'"
        )
    )
    kept = {
        n
        for (n,) in bad_inputs.query(
            "select line_number from bronze.stg_cmapss__sensor_readings where source_file like '%train_FD201.txt'"
        )
    }
    for number, (_, rule) in enumerate(MIXED_FILE, start=1):
        if rule is None:
            assert number in kept and number not in quarantined, number
        else:
            assert quarantined.get(number) == rule and number not in kept, number
    assert len(kept) + len(quarantined) == len(MIXED_FILE)


def test_quarantine_messages_name_the_problem_and_keep_the_raw_line(bad_inputs: Environment) -> None:
    rows = dict(
        bad_inputs.query(
            "select line_number, rejection_reason || ' | ' || coalesce(raw_line, '') "
            "from bronze.stg_cmapss__quarantined_lines where file_name = 'train_FD201.txt'"
        )
    )
    assert rows[3].startswith("too few columns: 10 of 26 | 1 3 -0.0007")
    assert rows[4].startswith("non-numeric value: '12,3'")
    assert rows[7].startswith("cycle is not a positive integer: 0")
    assert rows[11].startswith("27 columns where the rest of the file has 26")
    assert rows[17].startswith("non-numeric value: '6_42.11' | 1 7 -0.0007")
    assert rows[18].startswith("unit number is not a positive integer: 1.2e1")
    assert rows[19].startswith("cycle is not a positive integer: 7e0")
    assert rows[20].startswith("too many columns: 52, more than 30 (26 and 4 extra: var max_extra_columns)")


def test_every_landed_file_reconciles_in_the_data_quality_mart(bad_inputs: Environment) -> None:
    expected = {
        "train_FD101.txt": {"accepted": lines_in(bad_inputs, "train_FD101.txt")},
        "train_FD202.txt": {"accepted": 3},
        "train_FD203.txt": {"accepted": 3},
        "test_FD204.txt": {"accepted": 6},
        "RUL_FD204.txt": {"accepted": 2},
        "train_FD205.txt": {"unreadable_file": 1},
        "train_FD206.txt": {"unreadable_file": 1},
        "train_FD207_it's; a name.txt": {"accepted": 2},
        "train_FD208.txt": {"accepted": 4},
        "train_FD209.txt": {"too_many_columns": 3},
        "readme.txt": {"unrecognised_file_name": 2},
    }
    for name, outcomes in expected.items():
        assert outcome_counts(bad_inputs, name.replace("'", "''")) == outcomes, name
    assert sum(outcome_counts(bad_inputs, "train_FD201.txt").values()) == len(MIXED_FILE)


def test_bom_crlf_and_an_extra_sensor_column_load_cleanly(bad_inputs: Environment) -> None:
    assert bad_inputs.query(
        "select cycle, w32_lpt_coolant_bleed, extra_values from bronze.stg_cmapss__sensor_readings "
        "where dataset = 'FD202' order by cycle"
    ) == [(1, 23.419, []), (2, 23.419, []), (3, 23.419, [])]
    assert bad_inputs.query(
        "select cycle, extra_values from bronze.stg_cmapss__sensor_readings where dataset = 'FD203' order by cycle"
    ) == [(1, [7.5]), (2, [7.5]), (3, [7.5])]
    # and the drifted file flows through to gold under the existing contract
    assert bad_inputs.scalar("select count(*) from gold.fct_unit_cycle_features where dataset = 'FD203'") == 3


def test_a_file_with_cr_line_endings_is_read_line_by_line(bad_inputs: Environment) -> None:
    # a lone CR ends a line as LF and CRLF do: four readings on lines 1-4, not one line of 104 values
    assert bad_inputs.query(
        "select line_number, cycle, w32_lpt_coolant_bleed, extra_values from bronze.stg_cmapss__sensor_readings "
        "where dataset = 'FD208' order by line_number"
    ) == [(c, c, 23.419, []) for c in (1, 2, 3, 4)]
    assert bad_inputs.query(
        "select line_number, raw_line from bronze.base_cmapss__landed_lines where file_name = 'train_FD208.txt' "
        "order by line_number"
    ) == [(c, line(1, c).removesuffix("\n")) for c in (1, 2, 3, 4)]
    assert bad_inputs.query(
        "select cycle, rul from gold.fct_unit_cycle_features where dataset = 'FD208' order by cycle"
    ) == [(c, 4 - c) for c in (1, 2, 3, 4)]


def test_a_file_whose_lines_each_hold_two_readings_is_quarantined_not_taken_as_schema_drift(
    bad_inputs: Environment,
) -> None:
    assert bad_inputs.query(
        "select line_number, rejection_reason from bronze.stg_cmapss__quarantined_lines "
        "where file_name = 'train_FD209.txt' order by line_number"
    ) == [(n, "too many columns: 52, more than 30 (26 and 4 extra: var max_extra_columns)") for n in (1, 2, 3)]
    assert bad_inputs.scalar("select count(*) from gold.fct_unit_cycle_features where dataset = 'FD209'") == 0


def test_a_copy_under_another_name_adds_nothing_and_the_manifest_says_so(bad_inputs: Environment) -> None:
    assert bad_inputs.query(
        "select ingestion_status, is_current_version from bronze.stg_cmapss__landed_files "
        "where file_name = 'train_FD101_copy.txt'"
    ) == [(f"same content as {bad_inputs.paths.landing / 'train_FD101.txt'}: not read again", False)]
    assert (
        bad_inputs.scalar("select count(*) from bronze.stg_cmapss__sensor_readings where source_file like '%copy%'")
        == 0
    )


def test_duplicates_gaps_disorder_missing_truth_and_unregistered_units_warn(bad_inputs: Environment) -> None:
    # silver keeps one reading per cycle: the later line of the duplicate
    assert bad_inputs.query(
        "select times_landed, line_number from silver.int_sensor_readings_deduplicated "
        "where unit_id = 'FD201-train-001' and cycle = 2"
    ) == [(2, 13)]
    assert bad_inputs.query(
        "select cycle from gold.fct_unit_cycle_features where unit_id = 'FD201-train-001' order by cycle"
    ) == [(1,), (2,), (4,), (6,)]
    # FD204 has 2 truth lines for 3 test units: which line is whose can't be trusted (a missing
    # line shifts every later unit), so the whole test split is kept with unknown labels
    assert bad_inputs.query(
        "select unit_number, rul from gold.fct_unit_cycle_features "
        "where dataset = 'FD204' and is_last_observed_cycle order by unit_number"
    ) == [(1, None), (2, None), (3, None)]
    run = bad_inputs.landing_build
    for warning in [
        "readings_landed_more_than_once",
        "warn_unit_cycle_gaps_and_disorder",
        "warn_rul_truth_matches_test_units",
        "units_have_a_registry_entry",
        "files_quarantined_share_below_warn_limit",
        "landed_file_names_are_recognised",
        "no_file_rejected_whole",
    ]:
        assert any(warning in line and "WARN" in line for line in run.stdout.splitlines()), warning


def test_quarantine_share_past_the_error_limit_stops_the_build_before_silver(environment: Environment) -> None:
    environment.land(GOOD)
    train_file = environment.paths.landing / "train_FD201.txt"
    write(train_file, "".join(line(1, c) for c in range(1, 11)))
    environment.build()
    good_gold = environment.query("select unit_id, cycle from gold.fct_unit_cycle_features order by all")

    # a corrected version that is mostly garbage: the build stops before silver and gold take it
    write(train_file, "".join(text for text, _ in MIXED_FILE))
    result = environment.build(check=False)
    assert result.returncode != 0
    assert "files_quarantined_share_below_error_limit" in result.stdout
    assert "SKIP relation gold.fct_unit_cycle_features" in result.stdout
    assert environment.query("select unit_id, cycle from gold.fct_unit_cycle_features order by all") == good_gold
    # the failing test is stored for inspection, naming the file
    assert environment.query("select source_file from dbt_test__audit.files_quarantined_share_below_error_limit")[0][
        0
    ].endswith("train_FD201.txt")

    # once the file is corrected, the next build catches silver and gold up
    write(train_file, "".join(line(1, c) for c in range(1, 13)))
    environment.build()
    assert (
        environment.scalar("select max(cycle) from gold.fct_unit_cycle_features where unit_id = 'FD201-train-001'")
        == 12
    )


def test_a_file_of_joined_readings_fails_the_build_naming_the_file(environment: Environment) -> None:
    environment.land(GOOD)
    write(
        environment.paths.landing / "train_FD209.txt",
        "".join(line(1, c).rstrip() + " " + line(1, c + 1) for c in range(1, 20, 2)),
    )
    result = environment.build(check=False)
    assert result.returncode != 0
    assert "files_quarantined_share_below_error_limit" in result.stdout
    assert "SKIP relation gold.fct_unit_cycle_features" in result.stdout
    assert [
        (source_file.rsplit("/", 1)[-1], share)
        for source_file, share in environment.query(
            "select source_file, quarantined_share from dbt_test__audit.files_quarantined_share_below_error_limit"
        )
    ] == [("train_FD209.txt", 1.0)]


def test_blank_lines_do_not_set_the_file_column_count(environment: Environment) -> None:
    # Two readings and three trailing blank lines: the file's column count is that of its readings
    # (26), not the blank lines' 0, so the readings are kept and only the blank lines quarantined.
    write(environment.paths.landing / "train_FD210.txt", line(1, 1) + line(1, 2) + "\n\n\n")
    environment.build(*LENIENT)
    assert environment.query(
        "select cycle from bronze.stg_cmapss__sensor_readings where dataset = 'FD210' order by cycle"
    ) == [(1,), (2,)]
    assert environment.query(
        "select line_number, rejection_rule from bronze.stg_cmapss__quarantined_lines "
        "where file_name = 'train_FD210.txt' order by line_number"
    ) == [(3, "blank_line"), (4, "blank_line"), (5, "blank_line")]


def test_a_sentinel_value_is_quarantined_not_a_silver_overflow(environment: Environment) -> None:
    # A sensor writing FLT_MAX as "no value": a finite number, but silver's exact sums (the regime
    # baselines in decimals, the windows in fixed point) overflow on it, and every build stopped at
    # int_regime_sensor_baselines with a Conversion Error naming no file, line or unit.
    environment.land(GOOD)
    write(
        environment.paths.landing / "train_FD211.txt",
        "".join(line(1, c, replace={7: "3.4028235e38"} if c == 3 else None) for c in range(1, 8)),
    )
    environment.build(*LENIENT)
    assert environment.query(
        "select line_number, rejection_rule, rejection_reason from bronze.stg_cmapss__quarantined_lines "
        "where file_name = 'train_FD211.txt'"
    ) == [(3, "value_out_of_range", "value out of range: '3.4028235e38', beyond +/-1000000 (var max_abs_value)")]
    assert environment.query(
        "select cycle from gold.fct_unit_cycle_features where unit_id = 'FD211-train-001' order by cycle"
    ) == [(c,) for c in (1, 2, 4, 5, 6, 7)]


def test_file_names_with_glob_characters_are_read_as_named(environment: Environment) -> None:
    # DuckDB's read_blob expands *, ? and [...] in a path: each file must be read once, as itself.
    landing = environment.paths.landing
    files = {
        "train_FD212_*.txt": 1,  # matched train_FD212_b.txt too: its lines were taken twice
        "train_FD212_b.txt": 2,
        "train_FD213_[1].txt": 3,  # matched train_FD213_1.txt: read its content under this name
        "train_FD213_1.txt": 4,
        "train_FD214_?.txt": 5,
        "train_FD214_x.txt": 6,
    }
    for name, unit in files.items():
        write(landing / name, "".join(line(unit, cycle) for cycle in (1, 2, 3)))
    environment.build()
    assert environment.query(
        "select source_file, list(distinct unit_number), count(*) from bronze.stg_cmapss__sensor_readings "
        "where dataset in ('FD212', 'FD213', 'FD214') group by source_file order by source_file"
    ) == sorted((str(landing / name), [unit], 3) for name, unit in files.items())


def test_a_corrected_file_replaces_its_rows_and_a_touched_file_adds_nothing(environment: Environment) -> None:
    landing = environment.paths.landing
    write(landing / "train_FD301.txt", "".join(line(1, c) for c in range(1, 11)))
    # every build of the test with the vars of the last (whose file is all quarantined): dbt parses the
    # project again, whole, whenever the vars differ from its last run's
    environment.build(*LENIENT)
    # The correction: cycle 10 dropped, cycle 5 re-measured.
    time.sleep(0.01)
    write(
        landing / "train_FD301.txt",
        "".join(line(1, c, replace={6: "700.00"} if c == 5 else None) for c in range(1, 10)),
    )
    environment.build(*LENIENT)
    assert environment.query(
        "select count(*), max(cycle), max(t24_lpc_outlet_temp) from bronze.stg_cmapss__sensor_readings "
        "where dataset = 'FD301'"
    ) == [(9, 9, 700.0)]
    assert environment.query(
        "select count(*), count(*) filter (where is_current_version) from bronze.stg_cmapss__landed_files "
        "where dataset = 'FD301'"
    ) == [(2, 1)]
    # Touched: same bytes, new modification time. Recorded, not read again.
    stat = (landing / "train_FD301.txt").stat()
    os.utime(landing / "train_FD301.txt", (stat.st_atime, stat.st_mtime + 60))
    environment.build(*LENIENT)
    assert environment.query(
        "select ingestion_status from bronze.stg_cmapss__landed_files where dataset = 'FD301' order by ingested_at"
    )[-1] == ("unchanged content: not read again",)
    assert environment.scalar("select count(*) from bronze.stg_cmapss__sensor_readings where dataset = 'FD301'") == 9
    # A correction whose every line is bad still replaces the old rows: they go to the quarantine.
    write(landing / "train_FD301.txt", "".join(line(1, c, replace={7: "x"}) for c in range(1, 4)))
    environment.build(*LENIENT)
    assert environment.scalar("select count(*) from bronze.stg_cmapss__sensor_readings where dataset = 'FD301'") == 0
    assert (
        environment.scalar(
            "select count(*) from bronze.stg_cmapss__quarantined_lines where file_name = 'train_FD301.txt'"
        )
        == 3
    )


def test_late_arriving_cycles_extend_their_unit_and_relabel_it(environment: Environment) -> None:
    landing = environment.paths.landing
    write(landing / "train_FD401.txt", "".join(line(1, c) for c in range(1, 6)))
    environment.build()
    assert (
        environment.scalar(
            "select rul from gold.fct_unit_cycle_features where unit_id = 'FD401-train-001' and cycle = 1"
        )
        == 4
    )
    # Later delivery of the same dataset, out of order, with the unit's last cycles.
    write(landing / "train_FD401_late.txt", "".join(line(1, c) for c in (8, 6, 7)))
    environment.build()
    assert environment.query(
        "select cycle, rul from gold.fct_unit_cycle_features where unit_id = 'FD401-train-001' order by cycle"
    ) == [(c, 8 - c) for c in range(1, 9)]
