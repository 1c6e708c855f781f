"""benchmarks.evaluate_real and benchmarks.simulator_realism on real files: a simulated run-to-failure file
stands in for NASA's train_FD001.txt (the project never needs the real one), landed, built with the real
`dbt build`, cross-validated with the real candidates; and both say so and exit 0 when the file is missing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks import compare_evaluations, evaluate_real, reporting, simulator_realism
from ml.config import REPO_ROOT
from ml.simulate import FleetSpec, simulate_fleet, write_fleet

pytestmark = pytest.mark.dbt


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A C-MAPSS train file of 6 run-to-failure units under NASA's name, FD004-style (six flight conditions,
    two fault modes), so the candidates, the late margin and the champion run on the harder kind of fleet."""
    folder = tmp_path_factory.mktemp("stand_in")
    spec = FleetSpec(dataset="FD001", train_units=6, test_units=1, conditions=6, fault_modes=2, seed=5)
    files = write_fleet(simulate_fleet(spec), folder)
    return files.train


@pytest.mark.parametrize("module", [evaluate_real, simulator_realism])
def test_a_missing_train_file_is_said_and_is_no_error(
    module, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --train-file, NASA's file is optional: its absence is said, exit 0."""
    monkeypatch.setattr(reporting, "REAL_TRAIN_FILE", tmp_path / "train_FD001.txt")
    assert module.main([]) == 0
    out = capsys.readouterr().out
    assert "no real FD001 train file" in out and str(tmp_path) in out and "TRAIN_FILE=path" in out


@pytest.mark.parametrize("module", [evaluate_real, simulator_realism])
def test_a_train_file_named_but_absent_is_an_error(module, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --train-file (`make evaluate-real TRAIN_FILE=...`) with a typo exited 0 having done nothing."""
    typo = tmp_path / "train_FD0O1.txt"
    assert module.main(["--train-file", str(typo)]) == 2
    assert f"--train-file {typo}: no such file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("module", "option", "value", "said"),
    [
        (evaluate_real, "--seeds", "abc", "'abc' is not a whole number"),
        (evaluate_real, "--seeds", ",", "',' names no seed"),
        (evaluate_real, "--seeds", "42,-5", "-5 is not from 0 to 4294967295"),
        (evaluate_real, "--folds", "1", "must be at least 2, not 1"),
        (evaluate_real, "--cuts-per-unit", "0", "must be at least 1, not 0"),
        (simulator_realism, "--seeds", "", "'' names no seed"),
        (simulator_realism, "--seed", "-1", "must be at least 0, not -1"),
        (simulator_realism, "--units", "0", "must be at least 1, not 0"),
    ],
)
def test_a_bad_number_stops_before_any_build_naming_the_option(
    module, option: str, value: str, said: str, stand_in: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A seed numpy refuses, one fold, no cut: a traceback after the dbt build; no seed at all: a table of nothing
    (or of NaN), exit 0. Now argparse's one line, exit 2, before anything is landed or built."""
    work = tmp_path / "work"
    acid = ["--acid-test"] if module is simulator_realism else []
    with pytest.raises(SystemExit) as stopped:
        module.main(["--train-file", str(stand_in), *acid, "--workdir", str(work), f"{option}={value}"])
    assert stopped.value.code == 2
    assert f"argument {option}: {said}" in capsys.readouterr().err
    assert not work.exists()


@pytest.mark.parametrize(
    ("module", "option"),
    [(evaluate_real, "--predictions"), (evaluate_real, "--output"), (simulator_realism, "--output")],
)
def test_an_output_that_is_a_folder_stops_before_the_run(
    module, option: str, stand_in: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make evaluate-real EVERY_STOP=1 PREDICTIONS=<a folder>` ran its 9 minutes of CV, then ended on pyarrow's
    IsADirectoryError traceback with nothing written."""
    work = tmp_path / "work"
    acid = ["--acid-test"] if module is simulator_realism else []
    argv = ["--train-file", str(stand_in), *acid, "--fast", "--workdir", str(work), option, str(tmp_path)]
    assert module.main(argv) == 2
    assert f"{option} {tmp_path} is a folder: give a file name" in capsys.readouterr().err
    assert not work.exists()


def test_evaluate_real_builds_and_cross_validates_the_candidates(
    stand_in: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "evaluation.json"
    argv = ["--train-file", str(stand_in), "--seeds", "1", "--folds", "2", "--fast", "--output", str(output)]
    assert evaluate_real.main([*argv, "--workdir", str(tmp_path / "work")]) == 0
    result = json.loads(output.read_text())
    assert result["meta"]["units"] == 6 and result["meta"]["features"] > 100
    assert result["meta"]["rul_margin_rule"] == "min_phm08"
    rows = {(row["task"], row["model"]): row for row in result["models"]}
    assert set(rows) == {("regression", name) for name in ("ridge", "hgb_regressor", "champion")} | {
        ("classification", name) for name in ("logreg", "hgb_classifier", "champion")
    }
    for (task, _), row in rows.items():
        assert row["folds"] == 2
        if task == "regression":
            assert 0 < row["rmse"]["mean"] < 125 and row["phm08_per_100"]["mean"] > 0
            assert len(row["abs_error"]["worst_units"]) == 5
        else:
            f1 = row["f1"]["mean"]  # NaN when no validation unit was cut within 30 cycles of failure
            assert math.isnan(f1) or 0 <= f1 <= 1
            assert 0.5 <= row["roc_auc"]["mean"] <= 1 or math.isnan(row["roc_auc"]["mean"])
    assert sum(rows[("regression", "champion")]["picked"].values()) == 2
    report = (tmp_path / "work" / "report.txt").read_text()
    assert "real FD001, truncated-CV" in report
    # the file's units and the folds' size, not NASA's 100 units in 5 folds whatever the file and --folds
    assert "(each seed pools its 6 units); in brackets the range over single folds (~3 units each" in report

    assert result["meta"]["project"]["path"] == str(REPO_ROOT.resolve())
    assert result["meta"]["project"]["commit"] == result["meta"]["git"]["commit"]

    # every stopping row instead of one cut per unit, on the same warehouse: the same models, weighted rows,
    # every prediction written for compare_evaluations
    every, predictions = tmp_path / "every.json", tmp_path / "every.parquet"
    argv = [*argv[: argv.index("--output")], "--every-stop", "--output", str(every), "--reuse"]
    assert evaluate_real.main([*argv, "--predictions", str(predictions), "--workdir", str(tmp_path / "work")]) == 0
    result = json.loads(every.read_text())
    assert result["meta"]["every_stop"] is True and result["meta"]["cuts_per_unit"] is None
    champion = {row["task"]: row for row in result["models"] if row["model"] == "champion"}
    assert 0 < champion["regression"]["rmse"]["mean"] < 125
    assert "every row where a test series could stop" in (tmp_path / "work" / "report.txt").read_text()
    table = pd.read_parquet(predictions)
    table["name"] = table["model"].str.split(" (", regex=False).str[0]  # "champion (ridge)" -> "champion"
    assert set(table["name"]) == {"ridge", "hgb_regressor", "logreg", "hgb_classifier", "champion"}
    # each model weighs every validation unit once per seed, and a classifier's decision is its threshold's
    assert np.allclose(table.groupby(["seed", "task", "name", "unit_id"])["weight"].sum(), 1.0)
    assert table.groupby(["seed", "task", "name"])["unit_id"].nunique().eq(6).all()
    classified = table[table["task"] == "classification"]
    assert (classified["decision"] == (classified["prediction"] >= classified["threshold"])).all()
    assert table.loc[table["task"] == "regression", "decision"].isna().all()
    assert compare_evaluations.main([str(predictions), str(predictions), "--test-sets", "100"]) == 0

    # one task only, and a --project that is no dbt project
    only = tmp_path / "classification.parquet"
    argv = [*argv[: argv.index("--output")], "--task", "classification", "--reuse", "--predictions", str(only)]
    assert evaluate_real.main([*argv, "--workdir", str(tmp_path / "work")]) == 0
    assert set(pd.read_parquet(only)["task"]) == {"classification"}
    assert evaluate_real.main([*argv, "--workdir", str(tmp_path / "work"), "--project", str(tmp_path)]) == 2

    # more folds than the file has units: one line, not grouped_folds' traceback
    assert evaluate_real.main([*argv, "--workdir", str(tmp_path / "work"), "--folds", "7"]) == 2
    assert f"--folds 7: {stand_in} holds only 6 units" in capsys.readouterr().err


def test_the_acid_test_counts_the_files_units_and_scales_phm08_to_100(
    stand_in: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It said 'scored on the 100 real FD001 units', 'PHM08 ... per 100 units' of a sum over the file's units."""
    output = tmp_path / "realism.json"
    argv = ["--train-file", str(stand_in), "--acid-test", "--fast", "--seeds", "1", "--units", "4"]
    assert simulator_realism.main([*argv, "--workdir", str(tmp_path / "work"), "--output", str(output)]) == 0
    out = capsys.readouterr().out
    assert "ridge trained on 4 simulated units only, scored on the 6 real FD001 units" in out
    acid = json.loads(output.read_text())["acid_test"]
    frame = pd.read_csv(stand_in, sep=r"\s+", header=None)
    assert acid["ridge"]["real_units"] == frame[0].nunique() == 6
    assert acid["ridge"]["phm08_mean"] > 0


def test_realism_of_a_fleet_against_itself_and_another_seed() -> None:
    fleet = simulate_fleet(FleetSpec(train_units=40, test_units=1, seed=3)).train
    same = simulator_realism.compare(fleet, fleet)
    assert same["gaps"]["level_gap_noise_sds"].abs().max() == 0
    assert (same["gaps"][["noise_ratio", "drift_ratio"]] == 1).all().all()
    assert same["lifetimes"]["ks_statistic"] == 0
    other = simulator_realism.compare(fleet, simulate_fleet(FleetSpec(train_units=40, test_units=1, seed=4)).train)
    assert other["gaps"]["noise_ratio"].between(0.8, 1.25).all()
    assert other["gaps"]["onset_gap_cycles"].abs().median() < 20
    assert 0 < other["lifetimes"]["ks_statistic"] < 0.5
