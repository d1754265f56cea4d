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
        rows = np.sort(report.disagreements.query("student == @name")["row"].to_numpy())
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
    with pytest.warns(LowFidelityWarning, match="may not stand for the teacher: it agrees on only"):
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


def test_repeated_class_names_and_colliding_student_names_are_refused(fitted) -> None:
    """Two classes named alike, or students 1 and '1', would be merged in the report."""
    teacher, students, _, _, test, y_test = fitted
    with pytest.raises(
        InputError,
        match=r"^DistillationReport.from_models got class_names with repeated names 'yes'; "
        r"the report would show two classes under one name\. Pass a distinct name per "
        r"class\.$",
    ):
        DistillationReport.from_models(teacher, students, test, y_test, class_names=["yes", "yes"])
    with pytest.raises(InputError, match=r"repeated names '1'"):
        DistillationReport.from_models(teacher, students, test, y_test, class_names=[1, "1"])
    twins = {1: students["logistic"], "1": students["mlp"]}
    with pytest.raises(
        InputError,
        match=r"^DistillationReport.from_models got students whose names 1 and '1' read the "
        r"same as text \('1'\); the report would keep only one of them\. Give each student "
        r"a distinct string name\.$",
    ):
        DistillationReport.from_models(teacher, twins, test, y_test)


def _text_outside(fig) -> list[str]:
    """What a drawn figure cuts at its edges: its title if the title's extent leaves the
    figure box, and "artists" if anything drawn (labels, ticks, legends) does."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    outside = []
    title = fig._suptitle
    if title is not None:
        extent = title.get_window_extent(renderer)
        if extent.x0 < fig.bbox.x0 - 1 or extent.x1 > fig.bbox.x1 + 1:
            outside.append(title.get_text())
    tight = fig.get_tightbbox(renderer)  # inches, the drawn artists only
    box = fig.bbox_inches
    if tight.x0 < box.x0 - 0.01 or tight.x1 > box.x1 + 0.01 or tight.y1 > box.y1 + 0.01:
        outside.append("artists")
    return outside


def test_no_figure_title_or_label_is_cut_at_the_edge(report) -> None:
    """The Distill-and-Compare title ran past both edges of a one-panel figure
    ("...res the mimic relies on more (right) or less (lef"); every title now wraps."""
    from interpretable_kd.report import figures

    for draw in (
        figures.accuracy_fidelity,
        figures.agreement_matrices,
        figures.global_importance,
        figures.attribution_agreement,
        figures.distill_compare,
    ):
        fig = draw(report)
        assert fig is not None, draw.__name__
        assert _text_outside(fig) == [], draw.__name__
    title = figures.distill_compare(report)._suptitle.get_text()
    assert "\n" in title.split("(filled")[0]  # wrapped on the one-panel figure
    assert " ".join(title.split()) == (
        "Distill-and-Compare: features the mimic relies on more (right) or less (left) "
        "than the outcome model (filled: the 95% interval excludes 0)"
    )


def test_an_unwrapped_long_title_would_be_cut_and_fitted_suptitle_fits_it() -> None:
    """The check above can fail: the same long title drawn as is leaves the figure."""
    from interpretable_kd.report._style import new_figure
    from interpretable_kd.report._summaries import fitted_suptitle

    text = "A long title " * 12
    plain = new_figure(4.4, 3.0)
    plain.suptitle(text)
    assert _text_outside(plain) == [text, "artists"]
    fitted = new_figure(4.4, 3.0)
    fitted_suptitle(fitted, text)
    assert _text_outside(fitted) == []
