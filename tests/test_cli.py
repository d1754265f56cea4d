"""The `interpretable-kd` command: demo, report and datasets; exit status 2 and one line
for bad input, never a traceback and never a partial output directory."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from interpretable_kd import cli
from interpretable_kd.datasets.csv import warn_conflicting_scores
from interpretable_kd.exceptions import InterpretableKDWarning

ERROR = "interpretable-kd: error: "


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    """240 rows: two numeric columns, one categorical, a string label and a teacher's
    probability of 'yes' (a noisy logistic function of the features)."""
    rng = np.random.default_rng(0)
    n = 240
    colour = rng.choice(["red", "green", "blue"], size=n)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    logit = 1.5 * x1 - x2 + (colour == "red") * 1.0
    probability = 1 / (1 + np.exp(-logit))
    label = np.where(rng.uniform(size=n) < probability, "yes", "no")
    return pd.DataFrame(
        {"x1": x1, "x2": x2, "colour": colour, "label": label, "score": probability.round(6)}
    )


@pytest.fixture(scope="module")
def csv_file(table, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "loans.csv"
    table.to_csv(path, index=False)
    return path


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- success
def test_demo_writes_a_report_and_a_summary(tmp_path, capsys) -> None:
    out = tmp_path / "demo"
    argv = ["demo", "--dataset", "iris", "--quick", "--students", "logistic", "--out"]
    code, stdout, stderr = _run([*argv, str(out), "--seed", "3"], capsys)
    assert code == 0, stderr
    assert ERROR not in stderr and "Traceback" not in stderr
    assert (out / "index.html").is_file()
    assert list((out / "figures").glob("*.png"))
    metrics = _metrics(out)
    assert metrics["dataset"]["name"] == "iris"
    assert list(metrics["students"]) == ["logistic regression"]
    assert metrics["dataset"]["classes"] == ["setosa", "versicolor", "virginica"]
    assert metrics["config"]["quick"] is True
    assert metrics["config"]["random_state"] == 3
    assert "distill_and_compare" in metrics["students"]["logistic regression"]
    assert f"Report written to {(out / 'index.html').absolute()}" in stdout
    assert "fidelity" in stdout


def test_report_trains_a_teacher_on_a_csv_with_categories(csv_file, tmp_path, capsys) -> None:
    out = tmp_path / "mine"
    argv = ["report", "--data", str(csv_file), "--target", "label", "--quick"]
    code, stdout, stderr = _run([*argv, "--students", "logistic", "--out", str(out)], capsys)
    assert code == 0, stderr
    metrics = _metrics(out)
    assert metrics["teacher"]["kind"] == "MLPTeacher"
    assert metrics["teacher"]["attributions_available"] is True
    assert metrics["dataset"]["classes"] == ["no", "yes"]
    features = set(metrics["teacher"]["global_importance"])
    assert {"x1", "x2", "colour=red", "colour=green", "colour=blue", "score"} == features
    assert metrics["dataset"]["n_rows"] == 72  # the held-out 30%
    assert str((out / "index.html").absolute()) in stdout


def test_report_with_a_scores_column_distils_the_scores(csv_file, tmp_path, capsys) -> None:
    out = tmp_path / "scored"
    argv = ["report", "--data", str(csv_file), "--target", "label", "--teacher-scores", "score"]
    code, _, stderr = _run([*argv, "--quick", "--students", "logistic", "--out", str(out)], capsys)
    assert code == 0, stderr
    metrics = _metrics(out)
    assert metrics["teacher"]["kind"] == "ScoresTeacher"
    assert metrics["teacher"]["attributions_available"] is False
    assert metrics["teacher"]["global_importance"] is None
    names = metrics["students"]["logistic regression"]["attribution"]["global_importance"]
    assert "score" not in names  # the scores are the teacher, not a feature
    assert metrics["students"]["logistic regression"]["fidelity"] > 0.8
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "Teacher attributions are unavailable" in page


def test_report_reads_scores_from_an_npy_file(table, csv_file, tmp_path, capsys) -> None:
    scores = tmp_path / "scores.npy"
    probability = table["score"].to_numpy()
    np.save(scores, np.column_stack([1 - probability, probability]))
    data = tmp_path / "features.csv"
    table.drop(columns="score").to_csv(data, index=False)
    out = tmp_path / "from-file"
    argv = ["report", "--data", str(data), "--target", "label", "--teacher-scores", str(scores)]
    code, _, stderr = _run([*argv, "--quick", "--students", "logistic", "--out", str(out)], capsys)
    assert code == 0, stderr
    assert _metrics(out)["teacher"]["kind"] == "ScoresTeacher"


def test_identical_rows_with_different_scores_are_flagged() -> None:
    X = pd.DataFrame({"a": [1.0, 1.0, 2.0, 2.0], "b": [0.0, 0.0, 1.0, 1.0]})
    with pytest.warns(InterpretableKDWarning, match="1 of the 4 rows repeat the features"):
        warn_conflicting_scores(X, np.array([0.1, 0.2, 0.3, 0.3]))


def test_datasets_lists_the_bundled_data_sets(capsys) -> None:
    code, stdout, _ = _run(["datasets"], capsys)
    assert code == 0
    for name in ("adult", "breast_cancer", "compas", "digits", "german_credit", "wine"):
        assert name in stdout


def test_python_m_interpretable_kd_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "interpretable_kd", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "usage: interpretable-kd" in done.stdout
    for command in ("demo", "report", "datasets"):
        assert command in done.stdout


def test_version_and_help_exit_zero(capsys) -> None:
    assert cli.main(["--version"]) == 0
    assert "interpretable-kd 0.1.0" in capsys.readouterr().out
    assert cli.main(["demo", "--help"]) == 0
    assert "--temperature" in capsys.readouterr().out


# --------------------------------------------------------------------------- bad input
def _bad_files(table: pd.DataFrame, root: Path) -> dict[str, Path]:
    files = {
        "latin1": root / "latin1.csv",
        "empty": root / "empty.csv",
        "header": root / "header.csv",
        "single": root / "single.csv",
        "short": root / "short.npy",
        "notreport": root / "notreport",
        "text": root / "scores.txt",
    }
    files["latin1"].write_bytes("name,label\nJosé,yes\nRenée,no\n".encode("latin-1"))
    files["empty"].write_bytes(b"")
    files["header"].write_text("x1,label\n")
    table.assign(label="yes").to_csv(files["single"], index=False)
    np.save(files["short"], np.full(5, 0.5))
    files["notreport"].mkdir()
    (files["notreport"] / "keep.txt").write_text("mine")
    files["text"].write_text("no,yes\na,b\n")
    return files


BAD = {
    "missing file": (["report", "--data", "{root}/nope.csv", "--target", "y"], "no such file"),
    "missing target": (["report", "--data", "{csv}", "--target", "lable"], "Did you mean 'label'"),
    "not utf-8": (["report", "--data", "{latin1}", "--target", "label"], "not UTF-8"),
    "empty csv": (["report", "--data", "{empty}", "--target", "label"], "is empty"),
    "header only": (["report", "--data", "{header}", "--target", "label"], "no rows"),
    "one class": (["report", "--data", "{single}", "--target", "label"], "single class"),
    "data is a directory": (["report", "--data", "{root}", "--target", "y"], "directory"),
    "scores nowhere": (
        ["report", "--data", "{csv}", "--target", "label", "--teacher-scores", "scroe"],
        "neither a column",
    ),
    "scores misaligned": (
        ["report", "--data", "{csv}", "--target", "label", "--teacher-scores", "{short}"],
        "has 5 rows",
    ),
    "scores not probabilities": (
        ["report", "--data", "{csv}", "--target", "label", "--teacher-scores", "x1"],
        "in \\[0, 1\\]",
    ),
    "scores not numbers": (
        ["report", "--data", "{csv}", "--target", "label", "--teacher-scores", "{text}"],
        "must hold numbers",
    ),
    "target is the scores": (
        ["report", "--data", "{csv}", "--target", "score"],
        "looks continuous",
    ),
    "output not a report": (
        ["report", "--data", "{csv}", "--target", "label", "--out", "{notreport}"],
        "not empty",
    ),
    "unknown data set": (["demo", "--dataset", "brest_cancer"], "Did you mean 'breast_cancer'"),
    "unknown student": (["demo", "--students", "logistic,forest"], "unknown student 'forest'"),
    "bad temperature": (["demo", "--temperature", "-1"], "positive number"),
    "bad seed": (["demo", "--seed", "x"], "expected an integer"),
    "bad test size": (
        ["report", "--data", "{csv}", "--target", "label", "--test-size", "1.5"],
        "--test-size",
    ),
    "no command": ([], "required"),
    "unknown option": (["demo", "--fast"], "unrecognized arguments"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_exits_2_with_one_line_and_no_output(
    case, table, csv_file, tmp_path, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # default output directories land here, if anywhere
    files = _bad_files(table, tmp_path)
    argv, message = BAD[case]
    values = {"root": tmp_path, "csv": csv_file, **files}
    argv = [part.format(**values) for part in argv]
    if "--out" not in argv and argv and argv[0] in ("demo", "report"):
        argv += ["--out", str(tmp_path / "out")]
    code, stdout, stderr = _run(argv, capsys)
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(ERROR)
    assert "Traceback" not in stderr
    assert re.search(message, lines[0]), lines[0]
    assert stdout == ""
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "reports").exists()
    assert sorted(p.name for p in files["notreport"].iterdir()) == ["keep.txt"]
