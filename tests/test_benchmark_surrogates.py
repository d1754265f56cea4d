"""The like-with-like benchmark's own logic (benchmarks/surrogates.py and its report): the
raw-to-standardised map, the verdict rules of issue 11, paired differences, the resumable
cells CSV. No model is trained here; the benchmark itself runs in ``benchmarks/``."""

from __future__ import annotations

import math
from argparse import Namespace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import StandardScaler

from benchmarks import _surrogates_data as data
from benchmarks import _surrogates_report as report
from benchmarks import defaults_speed, surrogates


def test_column_affine_maps_raw_columns_onto_standardised_ones() -> None:
    rng = np.random.default_rng(0)
    raw = np.column_stack(
        [rng.normal(5e5, 2e5, 300), rng.integers(0, 2, 300), np.full(300, 7.0)]
    ).astype(np.float32)
    scaled = StandardScaler().fit_transform(raw).astype(np.float32)
    scale, shift = data.column_affine(raw, scaled)
    np.testing.assert_allclose(raw * scale + shift, scaled, atol=1e-4)
    assert scale[2] == 1.0  # a constant column keeps scale 1
    assert scale[0] == pytest.approx(1 / raw[:, 0].astype(np.float64).std(), rel=1e-4)


def test_column_affine_refuses_a_map_that_is_not_affine() -> None:
    raw = np.arange(20, dtype=np.float32).reshape(-1, 1)
    with pytest.raises(AssertionError, match="not affine"):
        data.column_affine(raw, raw**2)


@pytest.mark.parametrize(
    ("difference", "rule", "expected"),
    [
        (-0.004, (">=", -0.005), "pass"),
        (-0.006, (">=", -0.005), "FAIL"),
        (0.0, (">", 0.0), "FAIL"),  # the tree must be strictly ahead of CART
        (0.001, (">", 0.0), "pass"),
        (math.nan, (">=", -0.005), "not run"),
        (0.1, None, "–"),
    ],
)
def test_verdict_applies_the_issue_targets(difference, rule, expected) -> None:
    assert report.verdict(difference, rule) == expected


def test_paired_uses_only_the_seeds_both_models_have() -> None:
    left = pd.Series([0.9, 0.8, 0.7], index=[0, 1, 2])
    right = pd.Series([0.85, 0.9], index=[0, 5])
    mean, low, high, n = report.paired(left, right)
    assert n == 1
    assert mean == pytest.approx(0.05)
    assert math.isnan(low) and math.isnan(high)


def _cells() -> pd.DataFrame:
    rows = []
    for seed in range(3):
        common = {
            "dataset": "wine",
            "teacher": "MLPTeacher",
            "seed": seed,
            "n_test": 54,
            "teacher_accuracy": 0.98,
            "label_seconds": 0.01,
        }
        values = {
            ("logistic", "standardised"): 0.95 + 0.001 * seed,
            ("logistic", "raw"): 0.95 + 0.001 * seed,
            ("tree", "standardised"): 0.90 + 0.01 * seed,
            ("sklearn logistic", "standardised"): 0.97,
            ("CART (16 leaves)", "standardised"): 0.85,
            (data.EBM_ONE_BAG, "standardised"): 0.96,
        }
        for (model, columns), fidelity in values.items():
            student = model in ("logistic", "tree")
            rows.append(
                {
                    **common,
                    "model": model,
                    "columns": columns,
                    "family": "student" if student else "surrogate",
                    "student": {"logistic": "logistic regression", "tree": "soft tree"}.get(model),
                    "fidelity": fidelity,
                    "fit_seconds": 1.0 if student else 0.1,
                    "temperature": 0.25 if model == "logistic" else 1.0,
                    "epochs": 10,
                    "teacher_agreement": 1.0 if columns == "raw" else math.nan,
                }
            )
    return pd.DataFrame(rows)


def test_summary_compares_each_student_with_its_same_class_surrogate() -> None:
    cells = _cells()
    summary = report.summarise(cells).set_index("registry_name")
    logistic, tree = summary.loc["logistic"], summary.loc["tree"]
    assert logistic["surrogate"] == "sklearn logistic"
    assert logistic["difference"] == pytest.approx(0.951 - 0.97)
    assert logistic["result"] == "FAIL"
    assert tree["result"] == "pass" and tree["interval_above_0"]
    assert logistic["raw_result"] == "pass" and logistic["raw_difference"] == pytest.approx(0)
    assert tree["raw_result"] == "not run"
    assert logistic["fit_ratio"] == pytest.approx(1.0 / 0.11)
    assert logistic["temperatures"] == "0.25 x3"
    best = report.best_vs_ebm(report.summarise(cells), cells)
    assert best.loc[0, "best student"] == "logistic regression"
    assert best.loc[0, "target ≥ EBM − 0.005"] == "FAIL"  # 0.951 < 0.96 - 0.005
    lines = report.counts(report.summarise(cells), best)
    assert any("T < 1 for the logistic student" in line and "wine" in line for line in lines)


def test_cells_csv_round_trip_and_resume_keys(tmp_path: Path) -> None:
    path = tmp_path / "cells.csv"
    row = {"dataset": "wine", "teacher": "MLPTeacher", "seed": 0, "model": "tree"}
    data.append_rows(path, [{**row, "columns": "standardised", "fidelity": 0.9}])
    data.append_rows(path, [{**row, "columns": "raw", "fidelity": 0.91}])
    data.append_rows(path, [{**row, "columns": "raw", "fidelity": 0.5}])  # a repeat
    assert data.finished_cells(path) == {
        ("wine", "MLPTeacher", "0", "tree", "standardised"),
        ("wine", "MLPTeacher", "0", "tree", "raw"),
    }
    cells = data.read_cells(path)
    assert len(cells) == 2
    assert cells.loc[cells["columns"] == "raw", "fidelity"].item() == pytest.approx(0.91)


def test_cells_csv_refuses_an_unknown_column(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown column\(s\) \['typo'\]"):
        data.append_rows(tmp_path / "cells.csv", [{"dataset": "wine", "typo": 1}])


def test_tasks_skip_finished_cells_and_cap_ebm_on_large_sets() -> None:
    args = Namespace(
        students="logistic,tree",
        raw_teachers="MLPTeacher",
        datasets=("wine", "adult"),
        seeds=5,
        large_seeds=2,
        teachers=("MLPTeacher", "HistGradientBoosting"),
        ebm=True,
        ebm_default_seeds=2,
    )
    tasks = surrogates.build_tasks(args, Path("unused.csv"), frozenset())
    assert len(tasks) == 5 * 2 + 2 * 2
    assert tasks[0].dataset == "adult"  # the largest first
    assert not any(t.ebm_default for t in tasks if t.dataset == "adult")
    wine = next(t for t in tasks if t.dataset == "wine" and t.teacher == "MLPTeacher")
    cells = surrogates.cell_names(wine)
    assert ("tree", "raw") in cells and ("MLPTeacher (raw columns)", "raw") in cells
    assert ("sklearn logistic", "standardised") in cells
    hgb = next(t for t in tasks if t.teacher == "HistGradientBoosting")
    assert not any(columns == "raw" for _, columns in surrogates.cell_names(hgb))


def test_quickstart_comparison_ignores_comments_and_the_report_folder() -> None:
    readme = 'x = f(1)  # a comment\n# only a comment\n\nreport.save("reports/compas")\n'
    copy = "    x = f(1)\n    report.save(out)  # index.html\n"
    assert defaults_speed._code_lines(readme) == defaults_speed._code_lines(copy)
    assert defaults_speed._code_lines("x = f(2)") != defaults_speed._code_lines(copy)


def test_fidelity_interval_is_clipped_to_shares_and_absent_for_one_seed() -> None:
    mean, low, high = report.fidelity_ci(pd.Series([0.99, 1.0]))
    assert mean == pytest.approx(0.995) and 0.0 <= low < mean and high == 1.0
    mean, low, high = report.fidelity_ci(pd.Series([0.9]))
    assert mean == 0.9 and math.isnan(low) and math.isnan(high)
