"""``interpretable-kd report`` on Parquet files (issue 16): read whole with ``--engine
memory``, distilled and compared out of core with ``--engine stream``, and a clear refusal
of ``--engine ray`` without Ray."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from interpretable_kd import MLPTeacher, SoftLogisticRegression, _cli_engine, cli
from interpretable_kd._defaults import PRESETS

pytest.importorskip("pyarrow", reason="Parquet needs pyarrow (the [ray] extra)")

from interpretable_kd.distributed import compare_streaming, fit_streaming

ERROR = "interpretable-kd: error: "


def _parquet(path: Path, n: int = 300, text: bool = False) -> Path:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=n), rng.normal(size=n)
    frame = pd.DataFrame({"a": a, "b": b, "y": np.where(a + 0.5 * b > 0, 1, 0)})
    if text:
        frame["colour"] = rng.choice(["red", "blue"], size=n)
    frame.to_parquet(path)
    return path


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_memory_engine_reads_a_parquet_file(tmp_path, capsys) -> None:
    data = _parquet(tmp_path / "d.parquet")
    out = tmp_path / "out"
    argv = ["report", "--data", str(data), "--target", "y", "--quick", "--students", "logistic"]
    code, stdout, err = _run([*argv, "--out", str(out)], capsys)
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dataset"]["n_rows"] == 90  # 30% of 300 held out
    assert "logistic regression" in stdout


def test_stream_engine_equals_the_distributed_api(tmp_path, capsys) -> None:
    data = _parquet(tmp_path / "x<b>.parquet")
    out = tmp_path / "out"
    argv = ["report", "--data", str(data), "--target", "y", "--engine", "stream", "--quick"]
    code, stdout, err = _run([*argv, "--students", "logistic", "--out", str(out)], capsys)
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    entry = metrics["config"]["streamed"]["logistic regression"]

    frame = pd.read_parquet(data)  # 300 rows < the sample size: the teacher sees them all
    preset = PRESETS["quick"]
    teacher = MLPTeacher(random_state=0, max_epochs=preset.teacher_epochs)
    teacher.fit(frame[["a", "b"]], frame["y"].to_numpy())
    student = fit_streaming(
        SoftLogisticRegression(random_state=0),
        str(data),
        teacher=teacher,
        features=["a", "b"],
        temperature=1.0,
        epochs=preset.student_epochs,
        random_state=0,
    )
    expected = compare_streaming(
        teacher,
        student,
        str(data),
        features=["a", "b"],
        n_bootstrap=preset.n_bootstrap,
        random_state=0,
    ).to_dict()
    assert {k: v for k, v in entry.items() if k != "temperature"} == expected
    assert entry["temperature"] == 1.0 and metrics["config"]["engine"] == "stream"
    assert "no held-out split" in metrics["dataset"]["note"]
    # the full report: streamed numbers over all rows, the rest on a sample, labelled
    full = metrics["students"]["logistic regression"]
    assert full["fidelity"] == expected["fidelity"]
    assert full["agreement_matrix"] == expected["agreement_matrix"]
    assert full["kl_divergence"] == expected["kl_divergence"]
    assert full["attribution"] is not None and full["attribution"]["available"]
    scope = metrics["config"]["row_scope"]
    assert scope["all_rows"] == 300 and scope["sample_rows"] == 300
    assert "fidelity" in scope["over_all_rows"] and metrics["dataset"]["n_rows"] == 300
    page = (out / "index.html").read_text()
    assert "Streamed over all 300 rows (stream engine, exact)" in page
    assert "<img" in page or "data:image/png" in page  # the figures are there
    assert "x&lt;b&gt;.parquet" in page and "x<b>" not in page
    assert f"fidelity {entry['fidelity']:.3f}" in stdout
    # progress: rows scored and compared with rows/s, every epoch
    assert "interpretable-kd:   teacher scored 300/300 rows (" in err and "rows/s)" in err
    assert "compared 300/300 rows (" in err
    assert f"epoch {preset.student_epochs}/{preset.student_epochs}: loss" in err


def test_ray_engine_without_ray_is_one_line(tmp_path, capsys, monkeypatch) -> None:
    real = _cli_engine.importlib.util.find_spec
    monkeypatch.setattr(
        _cli_engine.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "ray" else real(name, *a),
    )
    data = _parquet(tmp_path / "d.parquet")
    argv = ["report", "--data", str(data), "--target", "y", "--engine", "ray"]
    code, _, err = _run([*argv, "--out", str(tmp_path / "o")], capsys)
    assert code == 2
    assert err.startswith(ERROR) and err.count("\n") == 1
    assert (
        '--engine ray needs Ray, which is not installed: pip install "interpretable-kd[ray]"' in err
    )
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("name", "extra", "message"),
    [
        ("d.csv", [], "--engine stream streams a Parquet file or directory"),
        ("d.parquet", ["--id-column", "a"], "--engine stream does not take --id-column"),
        ("d.parquet", ["--drop", "c"], "--drop 'c' is not a column"),
        ("t.parquet", [], "needs numeric feature columns; 'colour'"),
        ("d.parquet", ["--num-workers", "0"], "expected a positive integer, got '0'"),
    ],
)
def test_bad_stream_input_is_one_line(tmp_path, capsys, name, extra, message) -> None:
    if name.endswith(".csv"):
        data = tmp_path / name
        data.write_text("a,b,y\n1,2,0\n3,4,1\n")
    else:
        data = _parquet(tmp_path / name, text=name.startswith("t"))
    argv = ["report", "--data", str(data), "--target", "y", "--engine", "stream"]
    code, _, err = _run([*argv, *extra, "--out", str(tmp_path / "o")], capsys)
    assert code == 2
    assert err.startswith(ERROR) and err.count("\n") == 1 and message in err, err
