"""The simulator lands real files: format, determinism, realism, registry behaviour."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml.config import EQUIPMENT_MODELS_SEED, SENSORS_SEED
from ml.simulate import (
    CMAPSS_COLUMNS,
    CMAPSS_DECIMALS,
    REGISTRY_COLUMNS,
    SITE_CODES,
    FleetSpec,
    _atomic_writer,
    format_cmapss_lines,
    health_index,
    main,
    read_cmapss,
    read_last_cycles,
    read_registry,
    registry_path,
    simulate_fleet,
    to_printed_precision,
    write_fleet,
)

TRAIN_UNITS, TEST_UNITS = 100, 100
# Whole-file standard deviations of NASA's real FD001 train file (train_FD001.txt, C-MAPSS).
FD001_SD = {
    "s2": 0.50,
    "s3": 6.1,
    "s4": 9.0,
    "s7": 0.89,
    "s8": 0.071,
    "s9": 22,
    "s11": 0.27,
    "s12": 0.74,
    "s13": 0.072,
    "s14": 19,
    "s15": 0.038,
    "s17": 1.5,
    "s20": 0.18,
    "s21": 0.11,
}
# Within-unit standard deviation over the first 30 cycles of real FD001 train (measured with
# `python -m benchmarks.simulator_realism`): the noise a healthy engine shows.
FD001_NOISE = {
    "s2": 0.297,
    "s3": 3.96,
    "s4": 3.90,
    "s7": 0.400,
    "s8": 0.0309,
    "s9": 4.16,
    "s11": 0.100,
    "s12": 0.299,
    "s13": 0.0295,
    "s14": 3.06,
    "s15": 0.0197,
    "s17": 0.915,
    "s20": 0.098,
    "s21": 0.060,
}
CONSTANT_COLUMNS = ["s1", "s5", "s10", "s16", "s18", "s19", "setting_3"]
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def fleet_args(landing: Path, dataset: str = "FD101", seed: int = 42, **options: int) -> list[str]:
    args = ["fleet", "--dataset", dataset, "--seed", str(seed), "--landing", str(landing)]
    sizes = {"train_units": TRAIN_UNITS, "test_units": TEST_UNITS, **options}
    for name, value in sizes.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    return args


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A landing folder holding FD101 (100 train + 100 test units, seed 42)."""
    path = tmp_path_factory.mktemp("landing")
    assert main(fleet_args(path)) == 0
    return path


@pytest.fixture
def landing_copy(landing: Path, tmp_path: Path) -> Path:
    """A private copy of ``landing`` for tests that change it."""
    return Path(shutil.copytree(landing, tmp_path / "landing"))


@pytest.fixture(scope="module")
def train(landing: Path) -> pd.DataFrame:
    frame = read_cmapss(landing / "train_FD101.txt")
    life = frame.groupby("unit_number")["cycle"].transform("max")
    return frame.assign(rul=life - frame["cycle"])


@pytest.fixture(scope="module")
def directions() -> pd.Series:
    return pd.read_csv(SENSORS_SEED).set_index("sensor_code")["degradation_direction"]


# ------------------------------------------------------------------------- format


def number_pattern(decimals: int) -> str:
    return r"-?\d+" + (rf"\.\d{{{decimals}}}" if decimals else "")


LINE = re.compile(" ".join(number_pattern(d) for d in CMAPSS_DECIMALS) + "  \n")


@pytest.mark.parametrize("split", ["train", "test"])
def test_lines_have_the_nasa_layout(landing: Path, split: str) -> None:
    text = (landing / f"{split}_FD101.txt").read_bytes().decode("ascii")
    lines = text.splitlines(keepends=True)
    assert text.endswith("  \n") and "\r" not in text
    assert all(LINE.fullmatch(line) for line in lines)
    assert all(len(line.split()) == 26 for line in lines)


@pytest.mark.parametrize("split", ["train", "test"])
def test_units_are_numbered_and_cycles_contiguous(landing: Path, split: str) -> None:
    frame = read_cmapss(landing / f"{split}_FD101.txt", columns=["unit_number", "cycle"])
    units = frame["unit_number"].to_numpy()
    assert np.all(np.diff(units) >= 0)
    assert np.array_equal(np.unique(units), np.arange(1, 101))
    expected = frame.groupby("unit_number").cumcount() + 1
    assert frame["cycle"].equals(expected.astype(frame["cycle"].dtype))


def test_landing_holds_only_the_files_a_build_expects(landing: Path) -> None:
    names = sorted(path.name for path in landing.iterdir())
    assert names == ["RUL_FD101.txt", "registry", "test_FD101.txt", "train_FD101.txt"]
    assert [path.name for path in registry_path(landing).parent.iterdir()] == ["equipment_registry.csv"]


def test_a_failed_write_leaves_the_landed_file_as_it_was(tmp_path: Path) -> None:
    fleet = simulate_fleet(FleetSpec(train_units=3, test_units=2, seed=1))
    write_fleet(fleet, tmp_path)
    before = (tmp_path / "train_FD101.txt").read_bytes()
    broken = dataclasses.replace(fleet, train=fleet.train.drop(columns="s21"))
    with pytest.raises(KeyError):
        write_fleet(broken, tmp_path)
    assert (tmp_path / "train_FD101.txt").read_bytes() == before
    assert not (tmp_path / ".partial").exists()
    assert not (tmp_path.parent / f".{tmp_path.name}.partial").exists()


def test_a_file_being_written_is_not_in_the_landing_folder(tmp_path: Path) -> None:
    # bronze lists the landing folder's directories (a hidden .partial among them: 'skipped: a
    # directory', warned) and the watcher builds every node for an unknown landing subfolder
    landing = tmp_path / "landing"
    write_fleet(simulate_fleet(FleetSpec(train_units=1, test_units=1, seed=1)), landing)
    before = sorted(os.listdir(landing))
    with _atomic_writer(landing / "train_FD101.txt") as handle:
        handle.write(b"1 1")
        assert sorted(os.listdir(landing)) == before
    assert (landing / "train_FD101.txt").read_bytes() == b"1 1"
    assert sorted(os.listdir(tmp_path)) == ["landing"]


@pytest.mark.parametrize(
    "option", [["--dataset", "train"], ["--dataset", "FD1"], ["--train-units", "0"], ["--seed", "-1"]]
)
def test_bad_arguments_are_refused(tmp_path: Path, option: list[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["fleet", "--landing", str(tmp_path), *option])
    assert refused.value.code == 2
    assert not any(tmp_path.iterdir())


def test_a_fleet_too_large_for_memory_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """numpy's _ArrayMemoryError traceback, from drawing the lifetimes."""
    assert main(fleet_args(tmp_path, train_units=10**13)) == 1
    said = capsys.readouterr().err
    assert (
        said
        == f"fleet: not enough memory to simulate {10**13:,} train and {TEST_UNITS:,} test units; nothing was landed\n"
    )
    assert not any(tmp_path.iterdir())


def test_rul_file_has_one_positive_integer_per_test_unit(landing: Path) -> None:
    lines = (landing / "RUL_FD101.txt").read_text().splitlines(keepends=True)
    assert len(lines) == TEST_UNITS
    assert all(re.fullmatch(r"\d+ \n", line) for line in lines)
    assert min(int(line) for line in lines) >= 1


def test_files_hold_exactly_the_simulated_fleet(landing: Path) -> None:
    fleet = simulate_fleet(FleetSpec(dataset="FD101", seed=42))
    for split, expected in (("train", fleet.train), ("test", fleet.test)):
        landed = read_cmapss(landing / f"{split}_FD101.txt")
        pd.testing.assert_frame_equal(landed, expected, check_exact=False, rtol=1e-12)
    rul = np.loadtxt(landing / "RUL_FD101.txt", dtype=np.int64)
    assert np.array_equal(rul, fleet.rul)


def test_rul_truth_is_life_minus_last_observed_cycle() -> None:
    fleet = simulate_fleet(FleetSpec(train_units=30, test_units=30, seed=3))
    engines = fleet.engines.set_index(["split", "unit_number"])
    last = fleet.test.groupby("unit_number")["cycle"].max()
    assert np.array_equal(fleet.rul, (engines.loc["test", "lifetime_cycles"] - last).to_numpy())
    train_life = fleet.train.groupby("unit_number")["cycle"].max()
    assert np.array_equal(train_life.to_numpy(), engines.loc["train", "lifetime_cycles"].to_numpy())


def test_the_real_first_line_of_fd001_round_trips(tmp_path: Path) -> None:
    line = (
        "1 1 -0.0007 -0.0004 100.0 518.67 641.82 1589.70 1400.60 14.62 21.61 554.36 2388.06 9046.19 1.30 "
        "47.47 521.66 2388.02 8138.62 8.4195 0.03 392 2388 100.00 39.06 23.4190  \n"
    )
    (tmp_path / "train_FD001.txt").write_text(line)
    assert format_cmapss_lines(read_cmapss(tmp_path / "train_FD001.txt")) == line


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.lists(st.floats(min_value=-1e4, max_value=1e4, allow_nan=False), min_size=26, max_size=26),
        min_size=1,
        max_size=5,
    )
)
def test_formatter_prints_like_python(rows: list[list[float]]) -> None:
    raw = np.array(rows)
    frame = pd.DataFrame(
        {
            name: to_printed_precision(raw[:, j], decimals)
            for j, (name, decimals) in enumerate(zip(CMAPSS_COLUMNS, CMAPSS_DECIMALS, strict=True))
        }
    )
    expected = "".join(
        " ".join(f"{value:.{d}f}" for value, d in zip(row, CMAPSS_DECIMALS, strict=True)) + "  \n"
        for row in frame.itertuples(index=False)
    )
    assert format_cmapss_lines(frame) == expected


# -------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_bytes(landing: Path, tmp_path: Path) -> None:
    assert main(fleet_args(tmp_path)) == 0
    for name in ("train_FD101.txt", "test_FD101.txt", "RUL_FD101.txt"):
        assert (tmp_path / name).read_bytes() == (landing / name).read_bytes()
    assert registry_path(tmp_path).read_bytes() == registry_path(landing).read_bytes()


def test_other_seed_gives_other_data(landing: Path, tmp_path: Path) -> None:
    assert main(fleet_args(tmp_path, seed=43)) == 0
    for name in ("train_FD101.txt", "test_FD101.txt", "RUL_FD101.txt"):
        assert (tmp_path / name).read_bytes() != (landing / name).read_bytes()


# ------------------------------------------------------------------------ realism


def test_lifetimes_look_like_fd001(train: pd.DataFrame) -> None:
    life = train.groupby("unit_number")["cycle"].max()
    assert 186 <= life.mean() <= 226
    assert life.min() >= 128 and life.max() <= 362


def test_constant_columns_are_constant(train: pd.DataFrame) -> None:
    constant = train[CONSTANT_COLUMNS]
    assert constant.eq(constant.iloc[0]).all().all()


def test_informative_sensors_drift_their_way(train: pd.DataFrame, directions: pd.Series) -> None:
    early, late = train[train["cycle"] <= 20], train[train["rul"] < 20]
    for sensor, sd in FD001_SD.items():
        shift = (late[sensor].mean() - early[sensor].mean()) / sd
        assert np.sign(shift) == directions[sensor], sensor
        assert 1.0 < abs(shift) < 6.0, (sensor, shift)  # a few SDs: learnable, not trivial


def test_early_noise_is_fd001s(train: pd.DataFrame) -> None:
    early = train[train["cycle"] <= 30]
    for sensor, noise in FD001_NOISE.items():
        within_unit = early[sensor] - early.groupby("unit_number")[sensor].transform("mean")
        assert 0.85 * noise < within_unit.std() < 1.15 * noise, sensor


def test_whole_file_spread_is_fd001s(train: pd.DataFrame) -> None:
    """Noise, engine-to-engine offsets and wear together spread each sensor as much as in FD001."""
    for sensor, sd in FD001_SD.items():
        assert 0.8 * sd < train[sensor].std() < 1.25 * sd, sensor


def test_core_speeds_drift_by_engine_like_fd001(train: pd.DataFrame) -> None:
    """s9 and s14 share one drift scale per engine: some engines end below their healthy level, most above."""
    units = train.groupby("unit_number")
    drift = (
        units.tail(5).groupby("unit_number")[["s9", "s14"]].mean()
        - units.head(30).groupby("unit_number")[["s9", "s14"]].mean()
    )
    assert drift["s9"].corr(drift["s14"]) > 0.9
    assert 0.1 < (drift["s9"] < 0).mean() < 0.5
    assert drift["s9"].std() > drift["s9"].mean() > 0


def test_health_index_accelerates_to_failure() -> None:
    cycle = np.arange(1, 201)
    health = health_index(cycle, np.full(200, 200), np.full(200, 0.05), np.full(200, 5.0))
    assert health[-1] == pytest.approx(1.0)
    assert health[0] == pytest.approx(0.05, abs=0.01)
    assert np.all(np.diff(health) > 0) and np.all(np.diff(health, 2) > 0)


def test_six_conditions_give_six_regimes_with_their_own_levels() -> None:
    fleet = simulate_fleet(FleetSpec(train_units=20, test_units=5, conditions=6, seed=5))
    regime = fleet.train[["setting_1", "setting_2", "setting_3"]].round({"setting_1": 0, "setting_2": 2})
    assert len(regime.drop_duplicates()) == 6
    by_regime = fleet.train.groupby([regime["setting_1"], regime["setting_3"]])
    s1_range = by_regime["s1"].agg(["min", "max"])
    assert s1_range["min"].equals(s1_range["max"])
    assert by_regime["s1"].first().nunique() == 6
    assert by_regime["s2"].mean().std() > 10 * by_regime["s2"].std().max()


def test_two_fault_modes_are_both_used() -> None:
    fleet = simulate_fleet(FleetSpec(train_units=30, test_units=10, fault_modes=2, seed=5))
    assert set(fleet.engines["fault_mode"]) == {"HPC", "fan"}
    single = simulate_fleet(FleetSpec(train_units=30, test_units=10, seed=5))
    assert set(single.engines["fault_mode"]) == {"HPC"}


# ----------------------------------------------------------------------- registry


def test_registry_has_one_row_per_unit(landing: Path) -> None:
    path = registry_path(landing)
    header = path.read_text().splitlines()[0]
    assert header == ",".join(REGISTRY_COLUMNS)
    raw = pd.read_csv(path, dtype=str)
    assert raw["commissioned_at"].str.fullmatch(TIMESTAMP.pattern).all()
    assert raw["cycle_hours"].str.fullmatch(r"\d\.\d{2}").all()
    registry = read_registry(path)
    assert registry["split"].value_counts().to_dict() == {"train": TRAIN_UNITS, "test": TEST_UNITS}
    for split in ("train", "test"):
        units = registry.loc[registry["split"] == split, "unit_number"]
        assert units.tolist() == list(range(1, 101))
    seed_codes = set(pd.read_csv(EQUIPMENT_MODELS_SEED)["equipment_model_code"])
    assert set(registry["equipment_model_code"]) <= seed_codes
    assert set(registry["site_code"]) <= set(SITE_CODES)
    assert registry["firmware_version"].str.fullmatch(r"\d+\.\d+\.\d+").all()
    assert registry["cycle_hours"].between(1.5, 9.0).all()
    assert registry["commissioned_at"].dt.year.isin([2023, 2024]).all()
    assert registry["updated_at"].equals(registry["commissioned_at"])


def test_another_dataset_keeps_the_first_ones_rows(landing_copy: Path) -> None:
    before = read_registry(registry_path(landing_copy))
    assert main(fleet_args(landing_copy, "FD102", train_units=5, test_units=3, conditions=6)) == 0
    after = read_registry(registry_path(landing_copy))
    kept = after[after["dataset"] == "FD101"].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, before)
    assert (after["dataset"] == "FD102").sum() == 8
    assert after.equals(after.sort_values(["dataset", "split", "unit_number"], ignore_index=True))
    assert main(fleet_args(landing_copy, "FD102", train_units=4, test_units=2)) == 0
    assert (read_registry(registry_path(landing_copy))["dataset"] == "FD102").sum() == 6


@pytest.mark.parametrize("name", ["train_FD001.txt", "RUL_FD001.txt"])
def test_files_the_simulator_did_not_land_are_never_written_over(
    landing_copy: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """NASA's real file landed as the README says, then `fleet --dataset FD001` ("an FD001-style fleet") replaced
    it with simulated data, exit 0: the next build took it for a corrected delivery and the real units were gone."""
    real = b"1 1 -0.0007 -0.0004 100.0 518.67 641.82 1589.70 1400.60 14.62 21.61 554.36 2388.06 9046.19 1.30 47.47 "
    (landing_copy / name).write_bytes(real + b"521.66 2388.02 8138.62 8.4195 0.03 392 2388 100.00 39.06 23.4190  \n")
    before = {path.name: path.read_bytes() for path in landing_copy.rglob("*") if path.is_file()}
    assert main(fleet_args(landing_copy, "FD001", train_units=2, test_units=2)) == 1
    assert f"fleet: {name} already in {landing_copy}, not landed by the simulator" in capsys.readouterr().err
    assert {path.name: path.read_bytes() for path in landing_copy.rglob("*") if path.is_file()} == before
    # a dataset the simulator landed is landed again, as before
    assert main(fleet_args(landing_copy, "FD101", seed=7, train_units=2, test_units=2)) == 0
    assert (landing_copy / "train_FD101.txt").read_bytes() != before["train_FD101.txt"]


def test_default_landing_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PDM_LANDING_PATH", str(tmp_path))
    assert main(["fleet", "--dataset", "FD109", "--train-units", "2", "--test-units", "2"]) == 0
    assert (tmp_path / "train_FD109.txt").exists()
    assert registry_path(tmp_path).exists()


def registry_update(landing: Path, *options: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(registry before, registry after) one ``registry-update`` run."""
    before = read_registry(registry_path(landing))
    assert main(["registry-update", "--landing", str(landing), *options]) == 0
    return before, read_registry(registry_path(landing))


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_registry_update_moves_or_upgrades_forward_in_time(
    landing_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before, after = registry_update(landing_copy, "--fraction", "0.2", "--seed", "7")
    assert "40 of 200 units changed" in capsys.readouterr().out
    fixed = ["dataset", "split", "unit_number", "equipment_model_code", "commissioned_at"]
    pd.testing.assert_frame_equal(after[fixed], before[fixed])
    assert after["cycle_hours"].equals(before["cycle_hours"])
    upgraded = after["firmware_version"] != before["firmware_version"]
    moved = after["site_code"] != before["site_code"]
    changed = after["updated_at"] != before["updated_at"]
    assert changed.sum() == 40
    assert (changed == (upgraded ^ moved)).all()  # one change per changed unit, none elsewhere
    assert (after.loc[changed, "updated_at"] > before.loc[changed, "updated_at"]).all()
    new_versions, old_versions = after.loc[upgraded, "firmware_version"], before.loc[upgraded, "firmware_version"]
    assert all(version(new) > version(old) for new, old in zip(new_versions, old_versions, strict=True))

    last_cycle = pd.concat(
        read_cmapss(landing_copy / f"{split}_FD101.txt", ["unit_number", "cycle"])
        .groupby("unit_number", as_index=False)["cycle"]
        .max()
        .assign(split=split)
        for split in ("train", "test")
    )
    life = after.merge(last_cycle, on=["split", "unit_number"])
    end_of_life = life["commissioned_at"] + pd.to_timedelta(life["cycle"] * life["cycle_hours"], unit="h")
    assert (life["updated_at"] <= end_of_life).all()

    again_before, again_after = registry_update(landing_copy, "--fraction", "0.5", "--seed", "8")
    assert (again_after["updated_at"] >= again_before["updated_at"]).all()


def test_registry_update_reads_a_landed_file_in_any_whitespace(landing_copy: Path) -> None:
    """The pipeline splits a line on any run of whitespace and quarantines a bad one; registry-update read the
    landed files in the simulator's exact format and stopped with a pandas traceback on tabs or a stray line."""
    train = landing_copy / "train_FD101.txt"
    expected = read_cmapss(train, ["unit_number", "cycle"]).groupby("unit_number")["cycle"].max()
    lines = train.read_text().splitlines()
    train.write_text("\n".join(["\t  ".join(line.split()) for line in lines] + ["not a reading", ""]) + "\n")
    assert main(["registry-update", "--landing", str(landing_copy), "--fraction", "0.2", "--seed", "7"]) == 0
    last = read_last_cycles(landing_copy, [("FD101", "train")]).set_index("unit_number")["last_cycle"]
    pd.testing.assert_series_equal(last, expected, check_names=False)


def test_registry_update_is_deterministic(landing: Path, tmp_path: Path) -> None:
    copies = [Path(shutil.copytree(landing, tmp_path / name)) for name in ("a", "b")]
    for copy in copies:
        registry_update(copy, "--seed", "7")
    assert registry_path(copies[0]).read_bytes() == registry_path(copies[1]).read_bytes()


def test_registry_update_keeps_to_its_dataset(landing_copy: Path) -> None:
    assert main(fleet_args(landing_copy, "FD102", train_units=10, test_units=10)) == 0
    before, after = registry_update(landing_copy, "--dataset", "FD102", "--fraction", "0.5")
    untouched = before["dataset"] == "FD101"
    pd.testing.assert_frame_equal(after[untouched], before[untouched])
    assert (after.loc[~untouched, "updated_at"] != before.loc[~untouched, "updated_at"]).sum() == 10


def test_registry_update_with_no_firmware_upgrade(landing_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # --fraction 0 (and a small fleet whose few changes are all relocations) upgrades no firmware:
    # the registry is rewritten unchanged, not a pandas KeyError
    before, after = registry_update(landing_copy, "--fraction", "0")
    assert "0 of 200 units changed" in capsys.readouterr().out
    pd.testing.assert_frame_equal(after, before)


def test_registry_update_of_an_unknown_dataset_is_refused(
    landing_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = registry_path(landing_copy).read_bytes()
    assert main(["registry-update", "--landing", str(landing_copy), "--dataset", "FD999"]) == 1
    assert "lists no unit of FD999" in capsys.readouterr().err
    assert registry_path(landing_copy).read_bytes() == before


def test_a_landing_folder_that_is_a_file_is_named_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    landing = tmp_path / "landing"
    landing.write_text("not a folder")
    for args in (
        ["sample-fleet", "--landing", str(landing)],
        fleet_args(landing, "FD109", train_units=1, test_units=1),
    ):
        assert main(args) == 1
        error = capsys.readouterr().err
        assert f"the landing folder {landing} can't be used ({landing}" in error and "Traceback" not in error


def test_a_landing_folder_holding_only_hidden_files_gets_the_sample_fleet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A `.gitkeep` (the folder kept in git) or Finder's `.DS_Store` made `make run` say 'holds 1 files: not
    simulating', then build nothing to train on."""
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / ".gitkeep").write_bytes(b"")
    (landing / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    assert main(["sample-fleet", "--landing", str(landing)]) == 0
    assert "not simulating" not in capsys.readouterr().out
    assert (landing / "train_FD101.txt").is_file() and (landing / "train_FD104.txt").is_file()
    assert main(["sample-fleet", "--landing", str(landing)]) == 0
    assert f"landing folder {landing} holds 6 files: not simulating" in capsys.readouterr().out


def test_nasas_archive_unzipped_into_a_subfolder_gets_no_sample_fleet_beside_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`unzip CMAPSSData.zip -d data/landing` keeps the archive's folder: `make run` landed the simulated sample
    fleet beside it and trained on that, while the build skipped the folder with a warning."""
    landing = tmp_path / "landing"
    (landing / "CMAPSSData").mkdir(parents=True)
    (landing / "CMAPSSData" / "train_FD001.txt").write_text("1 1 0.0 0.0 100.0\n")
    (landing / "empty").mkdir()
    assert main(["sample-fleet", "--landing", str(landing)]) == 1
    err = capsys.readouterr().err
    assert f"the landing folder {landing} holds no file, but its folder CMAPSSData/ does" in err
    assert "move them up into it" in err
    assert sorted(path.name for path in landing.iterdir()) == ["CMAPSSData", "empty"]
    # an empty folder, or only the registry's or the erasure tombstone's, is still an empty landing folder
    (landing / "CMAPSSData" / "train_FD001.txt").unlink()
    (landing / "erasures").mkdir()
    (landing / "erasures" / "erased_units.csv").write_text("unit_id\n")
    assert main(["sample-fleet", "--landing", str(landing)]) == 0
    assert (landing / "train_FD101.txt").is_file()
