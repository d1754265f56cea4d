"""Hostile and careless input (issue 14), part 2: CSV files read right or refused, teachers
that cannot fool the report, and one clear line instead of a traceback.

Most cases call the reading and teacher functions directly (fast); a few run the whole
command on a tiny CSV with ``--quick`` and one student.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from interpretable_kd import cli
from interpretable_kd.datasets.csv import read_labelled_csv
from interpretable_kd.exceptions import (
    InputError,
    InputTypeError,
    InterpretableKDWarning,
    TeacherOutputError,
)
from interpretable_kd.teachers import ScoresTeacher, as_teacher

ERROR = "interpretable-kd: error: "


def _write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _numeric_rows(n: int = 60, seed: int = 0) -> list[list[object]]:
    rng = np.random.default_rng(seed)
    return [[f"{rng.normal():.3f}", f"{rng.normal():.3f}", ("yes", "no")[i % 2]] for i in range(n)]


def _one_error(code: int, err: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith(ERROR)]
    assert len(errors) == 1, err
    return errors[0]


# --------------------------------------------------------------------------- labels as text
LABEL_PAIRS = [
    ("NA", "EU"),
    ("None", "Gold"),
    ("null", "x"),
    ("NaN", "ok"),
    ("N/A", "B"),
    ("nan", "NAN"),
    ("#N/A", "-"),
    ("n/a", "NULL"),
    ("True", "False"),
    ("0", "00x"),
]


@pytest.mark.parametrize("pair", LABEL_PAIRS, ids=[f"{a}|{b}" for a, b in LABEL_PAIRS])
def test_labels_that_look_missing_are_classes(pair, tmp_path) -> None:
    rows = [[r[0], r[1], pair[i % 2]] for i, r in enumerate(_numeric_rows())]
    path = _write(tmp_path / "d.csv", ["a", "b", "region"], rows)
    table = read_labelled_csv(path, "region")
    assert sorted(table.classes.tolist()) == sorted(pair)
    assert len(table.y) == 60  # no row lost


@pytest.mark.parametrize("token", ["NA", "None", "null", "NaN", "-"])
def test_only_empty_cells_are_missing_unless_na_values_says_so(token, tmp_path) -> None:
    rows = [[r[0], r[1], r[2]] for r in _numeric_rows()]
    rows[3][2] = ""
    rows[5][2] = rows[7][2] = token
    path = _write(tmp_path / "d.csv", ["a", "b", "y"], rows)
    assert len(read_labelled_csv(path, "y").y) == 59  # only the empty label is missing
    assert token in read_labelled_csv(path, "y").classes.tolist()
    assert len(read_labelled_csv(path, "y", na_values=[token]).y) == 57


def test_whole_number_labels_stay_numbers(tmp_path) -> None:
    rows = [[r[0], r[1], i % 2] for i, r in enumerate(_numeric_rows())]
    table = read_labelled_csv(_write(tmp_path / "d.csv", ["a", "b", "y"], rows), "y")
    assert table.y.dtype == np.int64 and table.classes.tolist() == [0, 1]


# --------------------------------------------------------------------------- mostly numeric
BAD_TOKENS = ["?", "n/a", "NA", "-", "missing", ".", "NaN", "none", "#VALUE!", "unknown"]


@pytest.mark.parametrize("column", ["a", "b"])
@pytest.mark.parametrize("token", BAD_TOKENS)
def test_a_mostly_numeric_column_with_a_few_non_numbers_is_refused(token, column, tmp_path) -> None:
    rows = _numeric_rows()
    position = 0 if column == "a" else 1
    for i in (4, 17, 31):
        rows[i][position] = token
    path = _write(tmp_path / "d.csv", ["a", "b", "y"], rows)
    with pytest.raises(InputError, match=f"Column '{column}'.*3 of 60 cells.*--na-values") as info:
        read_labelled_csv(path, "y")
    assert repr(token) in str(info.value)
    table = read_labelled_csv(path, "y", na_values=[token])  # the hint works
    assert pd.api.types.is_numeric_dtype(table.features[column])
    assert int(table.features[column].isna().sum()) == 3


def test_a_text_column_with_a_few_numbers_stays_categorical(tmp_path) -> None:
    rows = [[r[0], ("red", "blue", "7")[i % 3], r[2]] for i, r in enumerate(_numeric_rows())]
    table = read_labelled_csv(_write(tmp_path / "d.csv", ["a", "b", "y"], rows), "y")
    assert not pd.api.types.is_numeric_dtype(table.features["b"])


THOUSANDS = ['"1,234"', '"12,345.5"', '"-1,000"', '"1,000,000"', '"999,999"']


@pytest.mark.parametrize("sample", THOUSANDS)
def test_thousands_separators_are_refused_with_a_hint_or_parsed(sample, tmp_path) -> None:
    rows = _numeric_rows()
    for i, row in enumerate(rows):
        row[0] = sample if i % 2 else '"2,500"'
    path = _write(tmp_path / "d.csv", ["income", "b", "y"], rows)
    with pytest.raises(InputError, match="thousands separators.*--thousands ','"):
        read_labelled_csv(path, "y")
    table = read_labelled_csv(path, "y", thousands=",")
    assert table.features["income"].dtype.kind in "if"
    assert table.features["income"].iloc[0] == 2500


@pytest.mark.parametrize("value", ["1e200", "-3e39", "inf", "-inf", "1e308"])
def test_numbers_beyond_float32_are_refused(value, tmp_path) -> None:
    rows = _numeric_rows()
    rows[7][1] = value
    path = _write(tmp_path / "d.csv", ["a", "big", "y"], rows)
    with pytest.raises(InputError, match="Column 'big'.*beyond float32"):
        read_labelled_csv(path, "y")


def test_data_from_a_pipe_is_read_once(tmp_path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    content = "a,b,y\n" + "\n".join(",".join(r) for r in _numeric_rows()) + "\n"

    def feed() -> None:
        with open(fifo, "w", encoding="utf-8") as handle:
            handle.write(content)

    writer = threading.Thread(target=feed)
    writer.start()
    table = read_labelled_csv(fifo, "y")
    writer.join(timeout=10)
    assert len(table.y) == 60 and list(table.features.columns) == ["a", "b"]


# --------------------------------------------------------------------------- teacher scores
def test_score_file_columns_are_matched_to_classes_by_name(tmp_path) -> None:
    rows = _numeric_rows()
    data = _write(tmp_path / "d.csv", ["a", "b", "y"], rows)
    p_yes = np.linspace(0.05, 0.95, len(rows))
    pd.DataFrame({"yes": p_yes, "no": 1 - p_yes}).to_csv(tmp_path / "s.csv", index=False)
    table = read_labelled_csv(data, "y", str(tmp_path / "s.csv"))
    assert table.classes.tolist() == ["no", "yes"]
    np.testing.assert_allclose(table.scores[:, 1], p_yes)  # reordered by name
    pd.DataFrame({"no": 1 - p_yes}).to_csv(tmp_path / "one.csv", index=False)
    one = read_labelled_csv(data, "y", str(tmp_path / "one.csv"))
    np.testing.assert_allclose(one.scores, p_yes)  # a column named 'no' is p(no)


@pytest.mark.parametrize(
    "names", [["p_yes", "p_no"], ["0", "1"], ["yes", "maybe"], ["no", "yes", "extra"]]
)
def test_score_columns_not_named_after_the_classes_are_refused(names, tmp_path) -> None:
    rows = _numeric_rows()
    data = _write(tmp_path / "d.csv", ["a", "b", "y"], rows)
    frame = pd.DataFrame({n: np.full(len(rows), 1 / len(names)) for n in names})
    frame.to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(InputError, match="matched to classes by name, never by position"):
        read_labelled_csv(data, "y", str(tmp_path / "s.csv"))


# --------------------------------------------------------------------------- teachers
def _X(n: int = 40, d: int = 3) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, d))


@pytest.mark.parametrize("classes", [[0, 0], ["a", "a", "b"], [1], [], [[0, 1]]])
def test_repeated_or_too_few_classes_are_refused(classes) -> None:
    with pytest.raises(InputError, match="'classes' parameter"):
        as_teacher(lambda X: np.full((len(X), 2), 0.5), output="proba", classes=classes)


def test_a_transposed_output_is_refused_and_classes_are_not_guessed_from_it() -> None:
    X = _X(200)
    teacher = as_teacher(lambda X: np.full((2, len(X)), 0.5), output="proba")
    with pytest.raises(TeacherOutputError, match="looks transposed"):
        teacher.predict_proba(X)
    assert not hasattr(teacher, "classes_")


BAD_OUTPUTS = {
    "class labels (strings)": (lambda X: np.array(["yes"] * len(X)), "proba", "not real numbers"),
    "complex numbers": (lambda X: np.full((len(X), 2), 0.5 + 1j), "proba", "not real numbers"),
    "1-d probabilities above 1": (
        lambda X: np.linspace(0, 3, len(X)),
        "proba",
        r"outside \[0, 1\]",
    ),
    "1-d negative probabilities": (lambda X: -np.ones(len(X)), "proba", r"outside \[0, 1\]"),
    "logits of 1e39": (lambda X: np.full((len(X), 2), 1e39), "logits", "beyond float32"),
    "log_proba above 0": (lambda X: np.full((len(X), 2), 0.5), "log_proba", "do not sum to 1"),
    "NaN probabilities": (lambda X: np.full((len(X), 2), np.nan), "proba", "non-finite"),
}


@pytest.mark.parametrize("case", list(BAD_OUTPUTS))
def test_bad_teacher_outputs_get_one_clear_message(case) -> None:
    function, output, message = BAD_OUTPUTS[case]
    with pytest.raises(TeacherOutputError, match=message):
        as_teacher(function, output=output).predict_proba(_X())


@pytest.mark.parametrize("output", ["proba", "logits", "log_proba"])
def test_scores_teacher_warns_on_constant_scores(output) -> None:
    scores = {"proba": [0.3, 0.7], "logits": [0.0, 2.0], "log_proba": np.log([0.3, 0.7])}
    with pytest.warns(InterpretableKDWarning, match="same scores to all 40 rows"):
        ScoresTeacher(np.tile(scores[output], (40, 1)), _X(), output=output)


def test_a_varied_teacher_does_not_warn() -> None:
    p = np.linspace(0.1, 0.9, 40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ScoresTeacher(np.column_stack([1 - p, p]), _X())


def test_scores_teacher_warns_on_identical_rows_with_different_scores() -> None:
    X = np.repeat(_X(20), 2, axis=0)
    p = np.linspace(0.1, 0.9, 40)
    with pytest.warns(InterpretableKDWarning, match="20 of the 40 rows repeat the features"):
        ScoresTeacher(np.column_stack([1 - p, p]), X)


@pytest.mark.parametrize("output", ["proba", "log_proba", "logits"])
def test_as_teacher_output_is_honoured_for_callables(output) -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(30, 3)) * 3
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    raw = {"proba": proba, "log_proba": np.log(proba), "logits": logits}[output]
    teacher = as_teacher(lambda X: raw, output=output)
    if output == "proba":
        assert np.array_equal(teacher.predict_proba(_X(30)), proba)  # exact round trip
    else:
        np.testing.assert_allclose(teacher.predict_proba(_X(30)), proba, rtol=1e-12)


def test_a_torch_module_ending_in_softmax_is_not_softmaxed_again() -> None:
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Softmax(dim=1))
    with torch.no_grad():
        module[0].weight.mul_(20)
    X = _X(50)
    with torch.no_grad():
        expected = module(torch.as_tensor(X, dtype=torch.float32)).double().numpy()
    as_proba = as_teacher(module, output="proba").predict_proba(X)
    np.testing.assert_allclose(as_proba, expected, rtol=1e-6, atol=1e-7)
    as_logits = as_teacher(module).predict_proba(X)  # the old behaviour, for contrast
    assert np.abs(as_logits - expected).max() > 0.1
    log_module = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LogSoftmax(dim=1))
    log_module[0].load_state_dict(module[0].state_dict())
    np.testing.assert_allclose(
        as_teacher(log_module, output="log_proba").predict_proba(X), expected, atol=1e-6
    )
    with pytest.raises(Exception, match="'output' parameter"):
        as_teacher(module, output="probability")


# --------------------------------------------------------------------------- the command
@pytest.fixture(scope="module")
def data_csv(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    return _write(root / "data.csv", ["a", "b", "y"], _numeric_rows(80))


def _report(data: Path, out: Path, *extra: str) -> list[str]:
    return ["report", "--data", str(data), "--target", "y", "--quick", "--out", str(out), *extra]


TEMPERATURES = ["1e200", "1e-40", "1e20", "0.001", "1000", "1e309"]


@pytest.mark.parametrize("value", TEMPERATURES)
def test_extreme_temperatures_are_one_line(value, data_csv, tmp_path, capsys) -> None:
    code = cli.main(_report(data_csv, tmp_path / "o", "--temperature", value))
    line = _one_error(code, capsys.readouterr().err)
    assert "--temperature" in line and ("between 0.01 and 100" in line or "positive" in line)


@pytest.mark.parametrize("test_size", ["0.01", "0.05", "0.1"])
def test_too_few_held_out_rows_per_class_are_refused(test_size, data_csv, tmp_path, capsys):
    code = cli.main(_report(data_csv, tmp_path / "o", "--test-size", test_size))
    line = _one_error(code, capsys.readouterr().err)
    assert "at least 5 held-out rows" in line and "--test-size 0.13 or more" in line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "option", [["--na-values", ","], ["--thousands", "ab"], ["--thousands", "."]]
)
def test_bad_reading_options_are_one_line(option, data_csv, tmp_path, capsys) -> None:
    code = cli.main(_report(data_csv, tmp_path / "o", *option))
    line = _one_error(code, capsys.readouterr().err)
    assert option[0] in line


CLI_REFUSALS = [(token, "--na-values") for token in BAD_TOKENS]
CLI_REFUSALS += [(sample, "--thousands ','") for sample in THOUSANDS]
CLI_REFUSALS += [(value, "beyond float32") for value in ["1e200", "-3e39", "inf", "-inf", "1e308"]]


@pytest.mark.parametrize(("cell", "hint"), CLI_REFUSALS, ids=[c for c, _ in CLI_REFUSALS])
def test_the_command_refuses_misread_columns_in_one_line(cell, hint, tmp_path, capsys) -> None:
    rows = _numeric_rows()
    for i in range(0, 60, 2 if "," in cell else 20):
        rows[i][1] = cell
    data = _write(tmp_path / "d.csv", ["a", "b", "y"], rows)
    code = cli.main(_report(data, tmp_path / "o", "--students", "logistic"))
    line = _one_error(code, capsys.readouterr().err)
    assert "Column 'b'" in line and hint in line, line
    assert not (tmp_path / "o").exists()


def test_memory_error_is_one_line_saying_what_to_reduce(data_csv, tmp_path, capsys, monkeypatch):
    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(cli, "read_labelled_csv", exhausted)
    code = cli.main(_report(data_csv, tmp_path / "o"))
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "ran out of memory while reading data.csv" in err and "--quick" in err


def test_a_missing_label_class_na_survives_the_whole_command(tmp_path, capsys) -> None:
    rows = [[r[0], r[1], ("NA", "EU")[i % 2]] for i, r in enumerate(_numeric_rows(80))]
    data = _write(tmp_path / "d.csv", ["a", "b", "region"], rows)
    argv = ["report", "--data", str(data), "--target", "region", "--quick"]
    code = cli.main([*argv, "--students", "logistic", "--out", str(tmp_path / "o")])
    assert code == 0, capsys.readouterr().err
    import json

    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["dataset"]["classes"] == ["EU", "NA"]


def test_unserialisable_config_fails_before_any_training(monkeypatch, tmp_path) -> None:
    from interpretable_kd import workflow

    def never(*args, **kwargs):
        raise AssertionError("trained before checking config")

    monkeypatch.setattr(workflow, "DistilledClassifier", never)
    X = pd.DataFrame(_X())
    y = np.arange(40) % 2
    with pytest.raises(InputTypeError, match="'config' parameter.*JSON"):
        workflow.distil_and_report(
            None,
            X,
            y,
            X,
            y,
            students=["logistic"],
            out=tmp_path / "o",
            dataset_name="d",
            config={"path": Path("x")},
        )
    with pytest.raises(InputTypeError, match="'extra' parameter.*JSON"):
        workflow.distil_and_report(
            None,
            X,
            y,
            X,
            y,
            students=["logistic"],
            out=tmp_path / "o",
            dataset_name="d",
            extra={"n": float("nan")},
        )


_LIMITED = """
import resource, sys
cap = 2 * 1024 ** 3
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
from interpretable_kd.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_million_row_csv_shows_an_estimate_and_progress_within_10_s(tmp_path) -> None:
    header = ",".join(f"c{j}" for j in range(49)) + ",y\n"
    body = (",".join(str(j % 7) for j in range(49)) + ",a\n") * 500_000
    body += (",".join(str(j % 5) for j in range(49)) + ",b\n") * 500_000
    data = tmp_path / "big.csv"
    data.write_text(header + body, encoding="ascii")
    argv = [sys.executable, "-c", _LIMITED, "report", "--data", str(data), "--target", "y"]
    argv += ["--students", "logistic", "--out", str(tmp_path / "o")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    started = time.monotonic()
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        second = proc.stderr.readline()
        elapsed = time.monotonic() - started
    finally:
        proc.kill()
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()
    assert elapsed < 10, (elapsed, first, second)
    assert "1,000,000 rows x 50 columns" in first and "--quick" in first, first
    assert "[1/6] reading big.csv" in second, second
    assert resource.getrlimit(resource.RLIMIT_AS) is not None
