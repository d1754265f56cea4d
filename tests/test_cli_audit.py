"""The command line's audit options (issues 12 and 13): presets shared with the API, the
headline numbers in the summary, column roles (--id-column, --drop, --segment-columns,
--protected), data warnings, .csv.gz files and disagreements.csv."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from interpretable_kd import (
    DistillationReport,
    DistilledClassifier,
    MLPTeacher,
    SoftLogisticRegression,
    cli,
)
from interpretable_kd._cli_parser import build_parser
from interpretable_kd._defaults import PRESETS, TEST_SIZE
from interpretable_kd.datasets import TabularPreprocessor, read_labelled_csv, train_test_indices

ERROR = "interpretable-kd: error: "


def _write(path: Path, n: int = 120, seed: int = 0) -> Path:
    """A small labelled table: an id, two numbers, a group and a yes/no label.

    Rows of the file are shuffled ids so that an id never equals a line number.
    """
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    group = rng.choice(["f", "m"], size=n)
    label = np.where(a + 0.5 * b + 0.4 * rng.normal(size=n) > 0, "yes", "no")
    ids = rng.permutation(np.arange(5000, 5000 + n))
    lines = ["cust_id,a,b,sex,y"]
    lines += [
        f"{i},{x:.4f},{z:.4f},{s},{t}"
        for i, x, z, s, t in zip(ids, a, b, group, label, strict=True)
    ]
    text = "\n".join(lines) + "\n"
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_error(err: str, message: str) -> None:
    assert err.startswith(ERROR) and err.count("\n") == 1 and message in err, err


# ----------------------------------------------------------------------------- presets
def test_preset_defaults_to_standard_and_quick_is_the_quick_preset(tmp_path) -> None:
    parser = build_parser()
    args = parser.parse_args(["demo"])
    assert cli._preset(args) is PRESETS["standard"]
    assert cli._preset(parser.parse_args(["demo", "--quick"])) is PRESETS["quick"]
    assert cli._preset(parser.parse_args(["demo", "--preset", "thorough"])) is PRESETS["thorough"]
    quick_twice = parser.parse_args(["demo", "--quick", "--preset", "quick"])
    assert cli._preset(quick_twice) is PRESETS["quick"]


def test_quick_with_another_preset_is_one_error_line(capsys) -> None:
    code, _, err = _run(["demo", "--quick", "--preset", "thorough"], capsys)
    assert code == 2
    _one_error(err, "--quick means --preset quick, but --preset thorough was given too")


def test_an_unknown_preset_is_refused(capsys) -> None:
    code, _, err = _run(["demo", "--preset", "fast"], capsys)
    assert code == 2
    _one_error(err, "invalid choice: 'fast'")


def test_preset_help_states_each_budget() -> None:
    demo = build_parser()._subparsers._group_actions[0].choices["demo"]
    text = " ".join(demo.format_help().split())
    for preset in PRESETS.values():
        assert f"{preset.name}: {preset.explain_rows} rows explained" in text


def test_cli_and_python_api_give_the_same_numbers(tmp_path, capsys) -> None:
    """The standard preset: the CLI's metrics.json equals the README's Python calls."""
    data = _write(tmp_path / "d.csv")
    out = tmp_path / "cli"
    argv = ["report", "--data", str(data), "--target", "y", "--students", "logistic"]
    code, _, err = _run([*argv, "--id-column", "cust_id", "--out", str(out)], capsys)
    assert code == 0, err
    from_cli = json.loads((out / "metrics.json").read_text())
    assert from_cli["budget"]["preset"] == "standard" and from_cli["budget"]["n_refits"] == 3

    preset = PRESETS["standard"]
    table = read_labelled_csv(data, "y")
    train, test = train_test_indices(table.y, test_size=TEST_SIZE, random_state=0)
    features = table.features.drop(columns=["cust_id"])
    X = TabularPreprocessor().fit(features.iloc[train]).transform(features)
    X_train, X_test, y_train, y_test = X.iloc[train], X.iloc[test], table.y[train], table.y[test]
    teacher = MLPTeacher(random_state=0, max_epochs=preset.teacher_epochs).fit(X_train, y_train)
    kd = DistilledClassifier(
        teacher, SoftLogisticRegression(random_state=0), temperature="auto", random_state=0
    ).fit(X_train, y_train)
    plain = SoftLogisticRegression(random_state=0).fit(X_train, y_train)
    report = DistillationReport.from_models(
        teacher,
        {"logistic regression": kd},
        X_test,
        y_test,
        background=X_train,
        outcome_students={"logistic regression": plain},
        preset="standard",
        X_fit=X_train,
        y_fit=y_train,
        random_state=0,
    )
    from_api = json.loads(json.dumps(report.to_dict()))
    assert from_api["students"] == from_cli["students"]
    assert from_api["explainer_noise_floor"] == from_cli["explainer_noise_floor"]
    assert from_api["budget"] == from_cli["budget"]


# ----------------------------------------------------------------------------- summary
def test_summary_prints_the_headline_numbers_of_metrics_json(tmp_path, capsys) -> None:
    data = _write(tmp_path / "d.csv")
    out = tmp_path / "out"
    argv = ["report", "--data", str(data), "--target", "y", "--quick", "--out", str(out)]
    code, stdout, err = _run([*argv, "--students", "logistic", "--id-column", "cust_id"], capsys)
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    budget = metrics["budget"]
    assert (
        f"preset quick: {budget['explain_rows']} rows explained, {budget['max_background']} "
        f"background rows, {budget['n_permutations']} orderings, "
        f"{budget['n_explanations']} explanation runs, {budget['n_bootstrap']} bootstrap "
        "resamples, 1 refit (intervals over rows)" in stdout
    )
    for name, entry in metrics["students"].items():
        line = next(x for x in stdout.splitlines() if x.strip().startswith(name))
        low, high = entry["fidelity_ci"]
        assert f"fidelity {entry['fidelity']:.3f} [{low:.3f}, {high:.3f}]" in line
        assert f"kappa {entry['kappa']:.3f}" in line
        assert f"majority baseline {entry['majority_baseline']:.3f}" in line
        assert f"worst class {entry['worst_class']!r} {entry['worst_class_fidelity']:.3f}" in line
        assert ("NOT faithful" in line) == (not entry["faithful"]), line
        assert f"T {entry['temperature']:g}" in line
    assert str(out / "disagreements.csv") in stdout


# ----------------------------------------------------------------------------- columns
def _csv_rows(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_id_column_names_every_disagreement_in_disagreements_csv(tmp_path, capsys) -> None:
    data = _write(tmp_path / "d.csv.gz", seed=1)  # read compressed, directly
    out = tmp_path / "out"
    argv = ["report", "--data", str(data), "--target", "y", "--quick", "--out", str(out)]
    code, _, err = _run([*argv, "--students", "tree", "--id-column", "cust_id"], capsys)
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert "cust_id" not in json.dumps(metrics["teacher"]["global_importance"])  # no feature
    written = _csv_rows(out / "disagreements.csv")
    assert len(written) == sum(metrics["n_disagreements"].values()) > 0
    source = {row["cust_id"]: row for row in _csv_rows(data)}
    for row in written:
        original = source[row["row_id"]]  # an id of the input file's id column
        assert float(row["a"]) == pytest.approx(float(original["a"]))
        assert row["sex"] == original["sex"]
    assert len({row["row_id"] for row in written}) == len(written)
    page = (out / "index.html").read_text()
    assert "disagreements.csv" in page
    marker = next(out.glob(".interpretable*"))
    assert "disagreements.csv" in json.loads(marker.read_text())["manifest"]


def test_default_row_ids_are_line_numbers_of_the_file(tmp_path, capsys) -> None:
    data = _write(tmp_path / "d.csv", seed=2)
    out = tmp_path / "out"
    argv = ["report", "--data", str(data), "--target", "y", "--quick", "--out", str(out)]
    code, _, err = _run([*argv, "--students", "tree", "--drop", "cust_id"], capsys)
    assert code == 0, err
    lines = data.read_text().splitlines()
    written = _csv_rows(out / "disagreements.csv")
    assert written
    for row in written:
        cells = lines[int(row["row_id"]) - 1].split(",")  # line 1 is the header
        assert float(cells[1]) == pytest.approx(float(row["a"]))


def test_segments_protected_and_dropped_columns(tmp_path, capsys) -> None:
    data = _write(tmp_path / "d.csv", seed=3)
    out = tmp_path / "out"
    argv = ["report", "--data", str(data), "--target", "y", "--quick", "--out", str(out)]
    extra = ["--id-column", "cust_id", "--segment-columns", "sex", "--protected", "sex"]
    code, _, err = _run([*argv, "--students", "logistic", *extra, "--drop", "sex"], capsys)
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    importance = metrics["teacher"]["global_importance"]
    assert set(importance) == {"a", "b"}  # sex dropped from the features, still a segment
    assert "sex" in json.dumps(metrics["where"])
    assert "protected" in err and "sex" in err  # the data warning, on stderr
    assert metrics["config"]["segment_columns"] == ["sex"]


def test_an_id_like_feature_is_warned_about_on_stderr(tmp_path, capsys) -> None:
    data = _write(tmp_path / "d.csv", seed=4)
    out = tmp_path / "out"
    argv = ["report", "--data", str(data), "--target", "y", "--quick", "--out", str(out)]
    code, _, err = _run([*argv, "--students", "logistic"], capsys)
    assert code == 0, err
    assert "interpretable-kd: warning: Column 'cust_id' looks like a row id" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--id-column", "cust"], "--id-column 'cust' is not a column of"),
        (["--id-column", "cust"], "Did you mean 'cust_id'?"),
        (["--drop", "sx"], "--drop 'sx' is not a column"),
        (["--segment-columns", "sexx"], "Did you mean 'sex'?"),
        (["--protected", "sex", "--drop", "sex"], "add it to --segment-columns"),
        (["--id-column", "sex"], "--id-column 'sex' of"),
        (["--drop", "cust_id,a,b,sex"], "leave no feature column"),
        (["--image-shape", "28by28"], "expected HxW with two positive integers"),
        (["--drop", ","], "expected comma-separated column names"),
    ],
)
def test_bad_column_roles_are_one_line(tmp_path, capsys, extra, message) -> None:
    data = _write(tmp_path / "d.csv")
    argv = ["report", "--data", str(data), "--target", "y", "--out", str(tmp_path / "o")]
    code, _, err = _run([*argv, *extra], capsys)
    assert code == 2
    _one_error(err, message)
    assert not (tmp_path / "o").exists()


def test_image_shape_is_parsed() -> None:
    args = build_parser().parse_args(
        ["report", "--data", "x.csv", "--target", "y", "--image-shape", "8x4"]
    )
    assert args.image_shape == (8, 4)


def test_a_file_without_header_gets_a_hint(tmp_path, capsys) -> None:
    data = tmp_path / "d.csv"
    data.write_text("".join(f"{i}.5,{i % 3},{'yes' if i % 2 else 'no'}\n" for i in range(40)))
    code, _, err = _run(["report", "--data", str(data), "--target", "label"], capsys)
    assert code == 2
    _one_error(err, "looks like data, not column names: the file seems to have no header")


def test_a_mistyped_target_gets_did_you_mean(tmp_path, capsys) -> None:
    data = _write(tmp_path / "d.csv")
    code, _, err = _run(["report", "--data", str(data), "--target", "yy"], capsys)
    assert code == 2
    _one_error(err, "--target 'yy' is not a column")
    assert "Did you mean 'y'?" in err


def test_a_corrupt_gzip_file_is_one_line(tmp_path, capsys) -> None:
    data = tmp_path / "d.csv.gz"
    data.write_text("a,b,y\n1,2,x\n")
    code, _, err = _run(["report", "--data", str(data), "--target", "y"], capsys)
    assert code == 2
    _one_error(err, "ends in .gz but is not a readable gzip file")
