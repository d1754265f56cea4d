"""DistillationReport.from_models: the auditor's numbers, computed once and consistently."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from interpretable_kd import (
    DistillationReport,
    DistilledClassifier,
    LowFidelityWarning,
    MLPTeacher,
    ShallowMLPClassifier,
    SoftLogisticRegression,
    as_teacher,
)
from interpretable_kd.exceptions import InputError, InputTypeError

NAMES = ["age", "income", "debt", "tenure", "score"]
FAST = {"explain_rows": 40, "n_bootstrap": 200, "max_background": 20}


@pytest.fixture(scope="module")
def fitted(binary_data):
    """A teacher, two distilled students and an outcome student; do not refit."""
    X, y = binary_data
    frame = pd.DataFrame(X, columns=NAMES)
    train, test = frame.iloc[:140], frame.iloc[140:]
    y_train, y_test = y[:140], y[140:]
    teacher = MLPTeacher(hidden_units=(16,), learning_rate=0.01, random_state=0).fit(train, y_train)
    students = {
        "logistic": DistilledClassifier(teacher, SoftLogisticRegression(), random_state=0).fit(
            train, y_train
        ),
        "mlp": DistilledClassifier(teacher, ShallowMLPClassifier(), random_state=0).fit(
            train, y_train
        ),
    }
    outcome = {"logistic": SoftLogisticRegression(random_state=0).fit(train, y_train)}
    return teacher, students, outcome, train, test, y_test


@pytest.fixture(scope="module")
def report(fitted):
    teacher, students, outcome, train, test, y_test = fitted
    return DistillationReport.from_models(
        teacher,
        students,
        test,
        y_test,
        background=train,
        outcome_students=outcome,
        class_names=["no", "yes"],
        random_state=0,
        **FAST,
    )


def test_metrics_table_has_one_row_per_model_with_matching_numbers(report, fitted) -> None:
    teacher, students, _, _, test, y_test = fitted
    table = report.metrics
    assert list(table["model"]) == ["teacher", "logistic", "mlp"]
    for name, model in students.items():
        row = table.set_index("model").loc[name]
        assert row["fidelity"] == pytest.approx(
            np.mean(model.predict(test) == teacher.predict(test))
        )
        assert row["accuracy"] == pytest.approx(model.score(test, y_test))
        assert row["fidelity_low"] <= row["fidelity"] <= row["fidelity_high"]
        assert row["accuracy_low"] <= row["accuracy"] <= row["accuracy_high"]
        assert 0 <= row["feature_agreement_at_k"] <= 1
    assert table.set_index("model").loc["teacher", "accuracy"] == pytest.approx(
        teacher.score(test, y_test)
    )


def test_to_dict_follows_schema_version_1(report) -> None:
    data = report.to_dict()
    json.dumps(data, allow_nan=False)  # strictly valid JSON
    assert data["schema_version"] == 1
    assert data["dataset"]["n_rows"] == 60 and data["dataset"]["n_features"] == 5
    assert data["dataset"]["classes"] == ["no", "yes"]
    assert set(data["teacher"]) >= {"accuracy"}
    for entry in data["students"].values():
        assert set(entry) >= {
            "kind",
            "accuracy",
            "accuracy_ci",
            "fidelity",
            "fidelity_ci",
            "kl_divergence",
            "js_distance",
            "attribution",
            "complexity",
        }
        assert set(entry["attribution"]) >= {"rank_correlation", "feature_agreement_at_k", "k"}
        assert entry["attribution"]["k"] == 5
        assert "parameters" in entry["complexity"]
    assert data["students"]["logistic"]["kind"] == "logistic_regression"
    assert data["students"]["mlp"]["kind"] == "shallow_mlp"
    assert set(data["versions"]) >= {"interpretable_kd", "torch", "scikit-learn", "shap"}


def test_agreement_matrix_and_per_class_fidelity_are_consistent(report) -> None:
    for result in report.students.values():
        matrix = result.agreement_matrix
        assert matrix.sum() == report.dataset["n_rows"]
        assert np.trace(matrix) / matrix.sum() == pytest.approx(result.fidelity)
        for i, name in enumerate(report.class_names):
            if matrix[i].sum():
                assert result.per_class_fidelity[name] == pytest.approx(
                    matrix[i, i] / matrix[i].sum()
                )


def test_disagreements_list_exactly_the_rows_where_models_differ(report, fitted) -> None:
    teacher, students, _, _, test, _ = fitted
    for name, model in students.items():  # noqa: B007 (used by the query string)
        rows = report.disagreements.query("student == @name")["row"].to_numpy()
        expected = np.flatnonzero(model.predict(test) != teacher.predict(test))
        np.testing.assert_array_equal(rows, expected)


def test_noise_floor_and_distill_and_compare_are_reported(report) -> None:
    assert report.noise_floor is not None
    assert 0 <= report.noise_floor["feature_agreement"]["mean"] <= 1
    panel = report.students["logistic"].outcome
    assert panel is not None
    assert list(panel["coefficients"]["feature"]) == NAMES
    importance = panel["importance"]
    assert set(importance["feature"]) == set(NAMES)
    assert (importance["difference_low"] <= importance["difference_high"]).all()


def test_same_seed_gives_identical_numbers(fitted) -> None:
    teacher, students, _, train, test, y_test = fitted
    a = DistillationReport.from_models(
        teacher, students, test, y_test, background=train, random_state=3, **FAST
    )
    b = DistillationReport.from_models(
        teacher, students, test, y_test, background=train, random_state=3, **FAST
    )
    assert json.dumps(a.to_dict()) == json.dumps(b.to_dict())


def test_without_labels_reports_fidelity_but_no_accuracy(fitted) -> None:
    teacher, students, _, train, test, _ = fitted
    report = DistillationReport.from_models(teacher, students, test, background=train, **FAST)
    assert "accuracy" not in report.metrics.columns
    assert report.to_dict()["students"]["mlp"]["accuracy"] is None
    assert report.students["mlp"].fidelity > 0.8


def test_scores_only_teacher_has_no_faked_attributions(fitted) -> None:
    teacher, students, _, train, test, y_test = fitted
    scores = as_teacher(teacher.predict_proba(test), X=test)
    report = DistillationReport.from_models(
        scores, students, test, y_test, background=train, **FAST
    )
    assert report.teacher_attributions is None and report.noise_floor is None
    entry = report.to_dict()["students"]["logistic"]["attribution"]
    assert entry["available"] is False
    assert report.students["logistic"].attributions is not None  # the student can still be read
    assert "known only by its scores" in report.verdict("logistic")


def test_low_fidelity_student_raises_a_warning(fitted) -> None:
    teacher, _, _, train, test, y_test = fitted
    contrarian = LogisticRegression().fit(train, 1 - teacher.predict(train))
    with pytest.warns(LowFidelityWarning, match="agrees with the teacher on only"):
        DistillationReport.from_models(teacher, {"contrarian": contrarian}, test, y_test, **FAST)


def test_bad_inputs_are_named(fitted) -> None:
    teacher, students, _, _, test, y_test = fitted
    with pytest.raises(InputTypeError, match="non-empty dict of name -> fitted model"):
        DistillationReport.from_models(teacher, [], test, y_test)
    with pytest.raises(InputError, match=r"needs y of shape \(60,\)"):
        DistillationReport.from_models(teacher, students, test, y_test[:5])
    with pytest.raises(InputError, match="3 class_names for the teacher's 2 classes"):
        DistillationReport.from_models(teacher, students, test, y_test, class_names=["a", "b", "c"])
    other = LogisticRegression().fit(test, y_test + 5)
    with pytest.raises(InputError, match="student 'other' predicts classes 5, 6"):
        DistillationReport.from_models(teacher, {"other": other}, test, y_test)
