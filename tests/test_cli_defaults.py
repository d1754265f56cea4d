"""The command line on the library's defaults (issues 11 and 14): ``--temperature auto``
by default (each student's chosen T printed and recorded in ``metrics.json``), bounds
shared with the API, and threads by the library's rule (``--n-jobs``) instead of a global
``torch.set_num_threads(1)``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from interpretable_kd import cli, workflow
from interpretable_kd._cli_parser import build_parser
from interpretable_kd._defaults import TEMPERATURE_GRID

ERROR = "interpretable-kd: error: "


def _parse(*argv: str):
    return build_parser().parse_args(["demo", *argv])


@pytest.mark.parametrize("text", ["auto", "AUTO", "Auto", " auto "])
def test_temperature_auto_in_any_case(text) -> None:
    assert _parse("--temperature", text).temperature == "auto"


def test_temperature_defaults_to_auto_and_numbers_still_work() -> None:
    assert _parse().temperature == "auto"
    assert _parse("--temperature", "0.25").temperature == 0.25
    assert _parse("--temperature", "100").temperature == 100.0


def test_temperature_help_names_the_grid() -> None:
    text = " ".join(
        build_parser()._subparsers._group_actions[0].choices["demo"].format_help().split()
    )
    assert (
        "auto (default): chosen per student from 0.1, 0.25, 0.5, 1, 2, 4 by fidelity on "
        "held-out training rows" in text
    )
    assert TEMPERATURE_GRID == (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)  # what the help says


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1e200", "must be between 0.01 and 100 (default: auto"),
        ("0.001", "must be between 0.01 and 100"),
        ("hot", "expected 'auto' or a number, got 'hot'"),
        ("-1", "must be 'auto' or a positive number"),
        ("nan", "must be 'auto' or a positive number"),
    ],
)
def test_bad_temperatures_are_one_line(value, message, capsys) -> None:
    assert cli.main(["demo", "--temperature", value]) == 2
    err = capsys.readouterr().err
    assert err.startswith(ERROR) and err.count("\n") == 1 and message in err, err


@pytest.mark.parametrize(
    ("value", "message"),
    [("0", "must not be 0"), ("two", "expected an integer such as 1 or -1, got 'two'")],
)
def test_bad_n_jobs_are_one_line(value, message, capsys) -> None:
    assert cli.main(["demo", "--n-jobs", value]) == 2
    err = capsys.readouterr().err
    assert err.startswith(ERROR) and err.count("\n") == 1 and message in err, err


def test_n_jobs_defaults_to_the_library_choice() -> None:
    assert _parse().n_jobs is None
    assert _parse("--n-jobs", "-1").n_jobs == -1


def _csv(path: Path, n: int = 90) -> Path:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=n), rng.normal(size=n)
    labels = np.where(a + 0.5 * b > 0, "yes", "no")
    lines = ["a,b,y", *(f"{x:.4f},{z:.4f},{t}" for x, z, t in zip(a, b, labels, strict=True))]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_run_chooses_t_per_student_prints_and_records_it(tmp_path, capsys, monkeypatch):
    seen: list[tuple[object, int]] = []
    original = workflow.DistilledClassifier

    class Spy(original):  # type: ignore[misc, valid-type]
        def fit(self, X, y=None):
            seen.append((self.n_jobs, torch.get_num_threads()))
            return super().fit(X, y)

    monkeypatch.setattr(workflow, "DistilledClassifier", Spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        data = _csv(tmp_path / "d.csv")
        out = tmp_path / "out"
        argv = ["report", "--data", str(data), "--target", "y", "--quick", "--out", str(out)]
        code = cli.main([*argv, "--students", "logistic,tree", "--n-jobs", "1"])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        assert torch.get_num_threads() == 2  # no global change left behind
    finally:
        torch.set_num_threads(before)
    assert seen == [(1, 1), (1, 1)]  # --n-jobs reached every distiller, and applied
    config = json.loads((out / "metrics.json").read_text())["config"]
    assert config["temperature"] == "auto" and config["n_jobs"] == 1
    chosen = config["chosen_temperature"]
    assert set(chosen) == {"logistic regression", "soft tree"}
    for label, value in chosen.items():
        assert value in TEMPERATURE_GRID
        line = next(line for line in captured.out.splitlines() if line.strip().startswith(label))
        assert f"T {value:g}" in line


def test_a_fixed_temperature_is_recorded_as_given(tmp_path, capsys) -> None:
    data = _csv(tmp_path / "d.csv")
    out = tmp_path / "out"
    argv = ["report", "--data", str(data), "--target", "y", "--quick", "--out", str(out)]
    assert cli.main([*argv, "--students", "logistic", "--temperature", "0.5"]) == 0
    config = json.loads((out / "metrics.json").read_text())["config"]
    assert config["temperature"] == 0.5
    assert list(config["chosen_temperature"].values()) == [0.5]
    assert "T 0.5" in capsys.readouterr().out
