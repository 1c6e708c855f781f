"""Scoring with the registry's champions: the Parquet file's exact schema and grain, the --unit one-liner."""

from __future__ import annotations

import dataclasses
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import write_deltalake
from test_train import DATASET, make_feature_table, write_table

from lakehouse import erase as erasing
from lakehouse import lake
from lakehouse.lock import lake_lock, lock_path
from ml.data import FEATURE_TABLE, matrix
from ml.predict import (
    SCORE_SCHEMA,
    SCORES_SUBDIR,
    UnknownUnitError,
    find_unit,
    latest_cycles,
    load_champions,
    main,
    score_all,
    unit_answer,
)
from ml.train import TrainConfig, train

ONE_LINE = re.compile(
    rf"^{DATASET} (?P<split>test|train) unit (?P<unit>\d+) at cycle (?P<cycle>\d+): "
    r"fails within 30 cycles: (?P<verdict>YES|NO) \(p=(?P<p>[01]\.\d\d), threshold (?P<threshold>[01]\.\d\d)\), "
    r"predicted RUL (?P<rul>\d+) cycles \(classifier v(?P<cv>\d+), regressor v(?P<rv>\d+)\)$"
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    """A feature table (v0 then v1) and champions trained on v0."""
    root = tmp_path_factory.mktemp("predict")
    table = lake.mart_path(root / "lake", FEATURE_TABLE)
    write_table(table, make_feature_table(seed=5, train_units=20, test_units=10))
    result = train(table, root / "mlruns", seed=42, config=dataclasses.replace(TrainConfig.fast(), plots=False))
    frame = make_feature_table(seed=6, train_units=20, test_units=12)
    assert write_table(table, frame) == 1
    return {"root": root, "table": table, "result": result, "frame": frame}


def cli_args(store) -> list[str]:
    root = store["root"]
    return ["--lake", str(root / "lake"), "--mlflow-dir", str(root / "mlruns"), "--predictions-dir", str(root / "pred")]


def test_scores_every_unit_at_its_latest_cycle_into_one_new_parquet_file(store, capsys):
    assert main(cli_args(store)) == 0
    files = sorted((store["root"] / "pred" / SCORES_SUBDIR).iterdir())
    assert len(files) == 1
    assert re.fullmatch(r"scores_\d{8}T\d{12}Z\.parquet", files[0].name)
    scores = pq.read_table(files[0])
    assert scores.schema.equals(SCORE_SCHEMA)
    assert [(f.name, str(f.type)) for f in scores.schema] == [
        ("unit_id", "string"),
        ("dataset", "string"),
        ("split", "string"),
        ("unit_number", "int32"),
        ("cycle", "int32"),
        ("failure_probability", "double"),
        ("predicted_rul", "double"),
        ("classifier_version", "string"),
        ("regressor_version", "string"),
        ("features_delta_version", "int64"),
        ("scored_at", "timestamp[us]"),
        ("decision_threshold", "double"),
        ("is_predicted_to_fail", "bool"),
    ]
    frame = store["frame"]  # v1, the latest version
    latest = frame.groupby("unit_id")["cycle"].max()
    rows = scores.to_pandas()
    assert rows["unit_id"].is_unique
    assert dict(zip(rows["unit_id"], rows["cycle"], strict=True)) == latest.to_dict()
    assert len(rows) == 20 + 12
    assert rows["features_delta_version"].eq(1).all()
    champions = store["result"].champion_versions
    assert set(rows["classifier_version"]) == {champions["pdm-fails-within-30-cycles"]}
    assert set(rows["regressor_version"]) == {champions["pdm-rul"]}
    assert rows["failure_probability"].between(0, 1).all()
    assert rows["predicted_rul"].ge(0).all()
    assert rows["scored_at"].nunique() == 1
    # the champion's decision travels with each score: its threshold, and the pyfunc's verdict at it
    threshold = load_champions(store["root"] / "mlruns").threshold
    assert rows["decision_threshold"].eq(threshold).all()
    assert rows["is_predicted_to_fail"].equals(rows["failure_probability"] >= threshold)
    out = capsys.readouterr().out
    assert "top 10 at risk" in out
    assert len([line for line in out.splitlines() if line.split()[:2] == [DATASET, "test"]]) == 10
    # a second run adds a second file, never rewrites the first
    run = score_all(store["table"], store["root"] / "mlruns", store["root"] / "pred", version=0)
    assert run.path != files[0]
    assert len(list((store["root"] / "pred" / SCORES_SUBDIR).glob("*.parquet"))) == 2
    assert pa.compute.unique(run.scores["features_delta_version"]).to_pylist() == [0]


def test_the_threshold_travels_with_the_classifier(store):
    champions = load_champions(store["root"] / "mlruns")
    result = store["result"]
    assert champions.classifier.version == result.champion_versions["pdm-fails-within-30-cycles"]
    assert champions.threshold == result.thresholds[result.champions["pdm-fails-within-30-cycles"]]


def test_unit_one_liner(store, capsys):
    assert main([*cli_args(store), "--unit", "3", "--dataset", DATASET]) == 0
    line = capsys.readouterr().out.strip()
    match = ONE_LINE.match(line)
    assert match, line
    result = store["result"]
    latest = store["frame"].query("split == 'test' and unit_number == 3")["cycle"].max()
    assert (match["split"], match["unit"], int(match["cycle"])) == ("test", "3", latest)
    threshold = result.thresholds[result.champions["pdm-fails-within-30-cycles"]]
    assert match["threshold"] == f"{threshold:.2f}"
    if abs(float(match["p"]) - threshold) > 0.01:  # p is printed rounded
        assert (match["verdict"] == "YES") == (float(match["p"]) > threshold)
    assert match["cv"] == result.champion_versions["pdm-fails-within-30-cycles"]
    assert match["rv"] == result.champion_versions["pdm-rul"]


def test_unit_split_defaults_to_test_then_train(store, capsys):
    # unit 15 exists only in train (12 test units); the dataset is implied when the table holds one
    assert main([*cli_args(store), "--unit", "15"]) == 0
    assert ONE_LINE.match(capsys.readouterr().out.strip())["split"] == "train"
    assert main([*cli_args(store), "--unit", "3", "--split", "train"]) == 0
    assert ONE_LINE.match(capsys.readouterr().out.strip())["split"] == "train"


def test_unknown_unit_exits_2(store, capsys):
    assert main([*cli_args(store), "--unit", "99", "--dataset", DATASET]) == 2
    assert "unknown unit" in capsys.readouterr().err
    assert main([*cli_args(store), "--unit", "3", "--dataset", "FD404"]) == 2
    assert main([*cli_args(store), "--unit", "15", "--split", "test"]) == 2


def test_no_champion_exits_2(tmp_path: Path, store, capsys):
    args = ["--lake", str(store["root"] / "lake"), "--mlflow-dir", str(tmp_path / "empty")]
    assert main([*args, "--predictions-dir", str(tmp_path / "pred")]) == 2
    assert "no champion" in capsys.readouterr().err


def test_same_champions_and_feature_version_write_no_new_file(store, tmp_path: Path, capsys):
    """`make run` twice with nothing new: the second scoring keeps the latest file and says so."""
    args = ["--lake", str(store["root"] / "lake"), "--mlflow-dir", str(store["root"] / "mlruns")]
    args += ["--predictions-dir", str(tmp_path)]
    folder = tmp_path / SCORES_SUBDIR
    assert main(args) == 0
    first = sorted(folder.glob("*.parquet"))
    assert len(first) == 1 and "scored 32 units" in capsys.readouterr().out
    assert main(args) == 0
    out = capsys.readouterr().out
    assert sorted(folder.glob("*.parquet")) == first
    assert f"scores up to date: {first[0]}" in out and "no new file written" in out
    assert "top 10 at risk" in out
    # another feature version is new input: a new file
    run = score_all(store["table"], store["root"] / "mlruns", tmp_path, version=0)
    assert run.written and len(list(folder.glob("*.parquet"))) == 2
    # a newer file that cannot be read is named and passed over; the newest readable one decides
    (folder / "scores_99991231T000000000000Z.parquet").write_bytes(b"PAR1 truncated")
    again = score_all(store["table"], store["root"] / "mlruns", tmp_path, version=0)
    assert not again.written and again.path == run.path
    assert again.skipped_files and "scores_99991231T000000000000Z.parquet" in again.skipped_files[0]
    assert main([*args, "--version", "0"]) == 0
    captured = capsys.readouterr()
    assert "scores up to date" in captured.out and "skipped a scores file" in captured.err
    assert len(list(folder.glob("*.parquet"))) == 3  # two good files and the unreadable one, nothing new
    # a newest file from before the decision columns (same provenance) is scored again, once
    (folder / "scores_99991231T000000000000Z.parquet").unlink()
    old_format = run.scores.drop_columns(["decision_threshold", "is_predicted_to_fail"])
    pq.write_table(old_format, folder / f"scores_{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}.parquet")
    rescored = score_all(store["table"], store["root"] / "mlruns", tmp_path, version=0)
    assert rescored.written and rescored.scores.schema.equals(SCORE_SCHEMA)
    assert not score_all(store["table"], store["root"] / "mlruns", tmp_path, version=0).written


@pytest.mark.parametrize("state", ["missing", "no_log"])
def test_no_feature_table_exits_2_with_one_line(store, tmp_path: Path, state: str, capsys):
    table = lake.mart_path(tmp_path / "lake", FEATURE_TABLE)
    if state == "no_log":  # a publish killed during its first write
        table.mkdir(parents=True)
        (table / "part-00000.parquet").write_bytes(b"PAR1 half a file")
    args = ["--lake", str(tmp_path / "lake"), "--mlflow-dir", str(store["root"] / "mlruns")]
    assert main([*args, "--predictions-dir", str(tmp_path / "pred")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(table) in err and "lakehouse.publish" in err
    assert main([*args, "--unit", "3"]) == 2
    assert str(table) in capsys.readouterr().err
    assert not (tmp_path / "pred").exists()


def test_unit_by_unit_id(store, capsys):
    """`--unit FD900-test-003`, the id gold uses, answers like `--unit 3 --dataset FD900`; the verdict is the
    classifier pyfunc's own decision."""
    assert main([*cli_args(store), "--unit", "3", "--dataset", DATASET]) == 0
    by_number = capsys.readouterr().out.strip()
    assert main([*cli_args(store), "--unit", f"{DATASET}-test-003"]) == 0
    by_id = capsys.readouterr().out.strip()
    assert by_id == by_number and ONE_LINE.match(by_id)["split"] == "test"
    champions = load_champions(store["root"] / "mlruns")
    frame = latest_cycles(store["table"], 1)
    row = find_unit(frame, f"{DATASET}-test-003")
    probability, decision = champions.classifier.classify(matrix(row, champions.classifier.features))
    assert decision[0] == (probability[0] >= champions.threshold)
    assert ONE_LINE.match(by_id)["verdict"] == ("YES" if decision[0] else "NO")
    assert find_unit(frame, f"{DATASET}-train-015")["unit_number"].tolist() == [15]
    # an unknown id, or one contradicting --split, names it (the CLI exits 2)
    assert main([*cli_args(store), "--unit", f"{DATASET}-test-099"]) == 2
    assert f"{DATASET}-test-099" in capsys.readouterr().err
    with pytest.raises(UnknownUnitError, match="is in split test, not train"):
        find_unit(frame, f"{DATASET}-test-003", split="train")


def test_a_unit_the_tombstone_names_is_not_scored_from_an_older_version_that_holds_it(store, tmp_path: Path):
    """`make predict VERSION=` of a version from before an erasure wrote the erased unit's score: a new trace of
    it in the predictions folder. Scoring with the landing folder leaves out the units its tombstone names."""
    everyone = score_all(store["table"], store["root"] / "mlruns", tmp_path / "all", version=0).scores
    units = sorted(everyone.column("unit_id").to_pylist())
    landing = tmp_path / "landing"
    for unit in units[:2]:
        erasing.add_to_tombstone(landing, erasing.Unit.parse(unit), "test", datetime.now(UTC))
    run = score_all(store["table"], store["root"] / "mlruns", tmp_path / "pred", version=0, landing=landing)
    assert run.written and sorted(run.scores.column("unit_id").to_pylist()) == units[2:]
    assert sorted(pq.read_table(run.path).column("unit_id").to_pylist()) == units[2:]
    # nor answered for, by unit_id or by number: `make predict --unit` is a trace of it too
    champions = load_champions(store["root"] / "mlruns")
    for asked in (units[0], int(units[0].rsplit("-", 1)[1])):
        split = units[0].split("-")[1]
        with pytest.raises(UnknownUnitError, match=f"{units[0]} was erased"):
            unit_answer(store["table"], champions, asked, split=split, version=0, landing=landing)
    dataset, split, number = units[2].split("-")
    answer = unit_answer(store["table"], champions, units[2], version=0, landing=landing)
    assert answer.startswith(f"{dataset} {split} unit {int(number)} at cycle")


def test_a_fleet_with_no_unit_in_service_says_so_instead_of_ranking_train_units(store, tmp_path: Path, capsys):
    """The README's real-FD001 recipe lands only a train file: every unit ran to failure. The ranking's header
    said 'in-service (test) units' over a table of train units."""
    table = lake.mart_path(tmp_path / "lake", FEATURE_TABLE)
    write_table(table, make_feature_table(seed=7, train_units=6, test_units=0))
    args = ["--lake", str(tmp_path / "lake"), "--mlflow-dir", str(store["root"] / "mlruns")]
    assert main([*args, "--predictions-dir", str(tmp_path / "pred")]) == 0
    out = capsys.readouterr().out
    assert "no unit in service (split test) to rank: the 6 units scored all ran to failure (train)" in out
    assert "top 10 at risk" not in out and "train  " not in out


def test_scoring_every_unit_after_a_changed_only_run_ranks_the_whole_fleet(tmp_path: Path, capsys):
    """`make predict` after the watcher's `--changed-only` scoring on the same champions and feature version said
    "scores up to date" and ranked only the few units that run had rescored: the fleet's most-at-risk units
    were missing from the top 10, exit 0. A file of some units is not the fleet's scores."""
    table = lake.mart_path(tmp_path / "lake", FEATURE_TABLE)
    frame = make_feature_table(seed=5, train_units=20, test_units=10)
    unit = f"{DATASET}-test-003"  # in a file of its own, rewritten by a units commit: the changed-only run's unit
    write_table(table, frame[frame["unit_id"] != unit])
    write_deltalake(
        str(table), pa.Table.from_pandas(frame[frame["unit_id"] == unit], preserve_index=False), mode="append"
    )
    train(table, tmp_path / "mlruns", seed=42, config=dataclasses.replace(TrainConfig.fast(), plots=False))
    assert score_all(table, tmp_path / "mlruns", tmp_path / "pred").written
    rows = frame[(frame["unit_id"] == unit) & (frame["cycle"] > 1)]
    write_deltalake(
        str(table), pa.Table.from_pandas(rows, preserve_index=False), mode="overwrite", predicate=f"unit_id = '{unit}'"
    )
    changed = score_all(table, tmp_path / "mlruns", tmp_path / "pred", changed_only=True)
    assert changed.written and changed.units_changed == (unit,)
    args = ["--lake", str(tmp_path / "lake"), "--mlflow-dir", str(tmp_path / "mlruns")]
    # --changed-only again: nothing rewritten since, said so (not a top 10 of the one unit that file holds)
    assert main([*args, "--predictions-dir", str(tmp_path / "pred"), "--changed-only"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"no unit rewritten since the scores in {changed.path}") and "top 10" not in out
    assert main([*args, "--predictions-dir", str(tmp_path / "pred")]) == 0
    out = capsys.readouterr().out
    assert "scored 30 units" in out and "scores up to date" not in out
    newest = sorted((tmp_path / "pred" / SCORES_SUBDIR).glob("scores_*.parquet"))[-1]
    assert pq.read_table(newest).num_rows == 30
    # now the newest file holds the fleet: nothing new to write
    assert main([*args, "--predictions-dir", str(tmp_path / "pred")]) == 0
    assert "scores up to date" in capsys.readouterr().out


def test_a_predictions_or_mlflow_path_naming_a_file_stops_with_one_line(store, tmp_path: Path, capsys):
    """`PDM_PREDICTIONS_PATH` (or `PDM_MLFLOW_DIR`) naming a file, not a folder: ml.predict and ml.monitor ended in
    a NotADirectoryError traceback (predict after scoring every unit), ml.train in a FileExistsError one."""
    from ml.monitor import main as monitor_main
    from ml.train import main as train_main

    a_file = tmp_path / "predictions"
    a_file.write_text("not a folder")
    lake_args = ["--lake", str(store["root"] / "lake")]
    commands = [
        (
            "predict",
            main,
            [*lake_args, "--mlflow-dir", str(store["root"] / "mlruns"), "--predictions-dir", str(a_file)],
        ),
        (
            "monitor",
            monitor_main,
            [*lake_args, "--mlflow-dir", str(store["root"] / "mlruns"), "--predictions-dir", str(a_file)],
        ),
        ("train", train_main, [*lake_args, "--mlflow-dir", str(a_file), "--fast"]),
    ]
    for name, command, args in commands:
        assert command(args) == 2, name
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        assert err.startswith(f"{name}: can't use {a_file}") and "a file is where a folder goes" in err, err
    assert a_file.read_text() == "not a folder"


def test_scoring_takes_the_lake_lock_and_says_who_holds_it_when_it_cannot(store, tmp_path: Path, capsys):
    """`ml.predict` took no lock: it could read the tombstone and the features while a publish or an erasure
    wrote them. It takes the lake lock as the other writers do: while another holds it, it waits saying who,
    then gives up naming the holder, writing nothing; once the lock is free it scores."""
    args = ["--lake", str(store["root"] / "lake"), "--mlflow-dir", str(store["root"] / "mlruns")]
    args += ["--predictions-dir", str(tmp_path), "--lock-timeout", "0.5"]
    with lake_lock(store["root"] / "lake", "publish"):  # another writer (a second open of the lock file)
        assert main(args) == 2
    err = capsys.readouterr().err
    assert f"predict: waiting up to 0.5 s for the lake lock held by PID {os.getpid()} (publish, since" in err
    assert f"predict: nothing scored: the lake {store['root'] / 'lake'} is locked by PID {os.getpid()}" in err
    assert not (tmp_path / SCORES_SUBDIR).exists()
    assert main(args) == 0
    assert len(list((tmp_path / SCORES_SUBDIR).glob("*.parquet"))) == 1
    assert lock_path(store["root"] / "lake").read_text() == ""  # released: no holder named
