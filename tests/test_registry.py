"""The student registry is the one list of student kinds: a toy student added with one
``register`` call gets a full report, its kind in metrics.json and its white-box view
drawn from its own ``readable_view``, with no other code knowing about it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from bs4 import BeautifulSoup

from interpretable_kd import DistilledClassifier, MLPTeacher
from interpretable_kd._training import TorchClassifier
from interpretable_kd.report.numbers import DistillationReport
from interpretable_kd.students import REGISTRY, StudentKind, kind_of, register, unregister

NAMES = ["age", "income", "debt", "tenure", "score"]
FAST = {"explain_rows": 20, "n_bootstrap": 50, "max_background": 10, "min_fidelity": 0.0}


class ToyLinearStudent(TorchClassifier):
    """A linear student written only for this test: the shared loop, one nn.Linear layer,
    and a ``"coefficients"`` readable view (the log-odds of the second class)."""

    def __init__(
        self,
        *,
        max_epochs: int = 30,
        batch_size: int = 64,
        learning_rate: float = 0.05,
        weight_decay: float = 0.0,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        random_state: Any = None,
        verbose: bool = False,
        device: str = "cpu",
    ) -> None:
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.device = device

    def _build_module(self, n_features: int, n_classes: int) -> torch.nn.Module:
        return torch.nn.Linear(n_features, n_classes)

    def readable_view(self) -> dict[str, Any]:
        weight = self.module_.weight.detach().double().cpu().numpy()
        bias = self.module_.bias.detach().double().cpu().numpy()
        return {
            "view": "coefficients",
            "coef": weight[1:] - weight[:1],
            "intercept": bias[1:] - bias[:1],
        }


@pytest.fixture
def toy_kind():
    """The toy student registered for one test, and removed again afterwards."""
    kind = register(
        StudentKind("toy", "toy_linear", "toy linear", ToyLinearStudent, {"max_epochs": 30})
    )
    yield kind
    unregister("toy")


@pytest.fixture(scope="module")
def data(binary_data) -> tuple[Any, ...]:
    """Train and test rows, and a teacher fitted once; do not refit."""
    X, y = binary_data
    frame = pd.DataFrame(X, columns=NAMES)
    train, test, y_train, y_test = frame.iloc[:140], frame.iloc[140:], y[:140], y[140:]
    teacher = MLPTeacher(hidden_units=(16,), learning_rate=0.01, max_epochs=60, random_state=0)
    return teacher.fit(train, y_train), train, test, y_train, y_test


def _save(data: tuple[Any, ...], make: Any, tmp_path: Path) -> tuple[Any, Path]:
    teacher, train, test, y_train, y_test = data
    student = DistilledClassifier(teacher, make(), random_state=0).fit(train, y_train)
    report = DistillationReport.from_models(
        teacher, {"toy": student}, test, y_test, background=train, random_state=0, **FAST
    )
    return report, report.save(tmp_path / "report")


def test_a_registered_toy_student_gets_a_full_report_with_its_view(
    toy_kind, data, tmp_path
) -> None:
    assert list(REGISTRY)[-1] == "toy"
    report, index = _save(data, lambda: toy_kind.make(random_state=0), tmp_path)
    assert kind_of(report.students["toy"].model) is toy_kind

    metrics = json.loads((index.parent / "metrics.json").read_text(encoding="utf-8"))
    entry = metrics["students"]["toy"]
    assert entry["kind"] == "toy_linear"
    assert entry["complexity"] == {"kind": "toy_linear", "parameters": 2 * len(NAMES) + 2}
    assert entry["attribution"]["available"] is True

    figures = sorted(p.name for p in (index.parent / "figures").glob("*.png"))
    assert "student1_toy_coefficients.png" in figures
    assert "accuracy_fidelity.png" in figures and "global_importance.png" in figures

    soup = BeautifulSoup(index.read_text(encoding="utf-8"), "html.parser")
    white_box = soup.find("section", id="white-box")
    assert "No white-box view is drawn" not in white_box.get_text()
    coef = report.students["toy"].view["coef"][0]
    shown = {
        row.find_all("td")[0].get_text(): row.find_all("td")[1].get_text()
        for row in white_box.select("table.coefficients tbody tr")
    }
    # per unit of the column: 4 significant digits, as units differ by orders of magnitude
    assert shown == {name: f"{value:+.4g}" for name, value in zip(NAMES, coef, strict=True)}
    assert "toy_linear" in soup.select_one("table.metrics tbody.students tr").get_text()


def test_an_unregistered_student_still_gets_every_other_part_of_the_report(data, tmp_path) -> None:
    assert "toy" not in REGISTRY
    report, index = _save(data, lambda: ToyLinearStudent(random_state=0), tmp_path)
    assert report.students["toy"].view == {"view": None}
    metrics = json.loads((index.parent / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["students"]["toy"]["kind"] == "ToyLinearStudent"
    assert np.isfinite(metrics["students"]["toy"]["fidelity"])
    figures = sorted(p.name for p in (index.parent / "figures").glob("*.png"))
    assert not any(name.startswith("student1_") for name in figures)
    assert "accuracy_fidelity.png" in figures and "agreement_matrices.png" in figures
    soup = BeautifulSoup(index.read_text(encoding="utf-8"), "html.parser")
    assert "No white-box view is drawn for a model of kind ToyLinearStudent" in " ".join(
        soup.find("section", id="white-box").get_text(" ").split()
    )
