"""DistilledClassifier: the issue's acceptance numbers on breast cancer, and its contract."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from interpretable_kd import (
    DistilledClassifier,
    InterpretableKDWarning,
    MLPTeacher,
    ShallowMLPClassifier,
    SoftLogisticRegression,
    distill,
)
from interpretable_kd.exceptions import InputError, ParameterError


@pytest.fixture(scope="module")
def cancer():
    """Stratified 70/30 split of load_breast_cancer, seed 0, standardised on train."""
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


@pytest.fixture(scope="module")
def cancer_teacher(cancer):
    # do not refit: several tests check that distillation leaves it untouched
    X_train, _, y_train, _ = cancer
    return MLPTeacher(random_state=0).fit(X_train, y_train)


@pytest.mark.parametrize("student", [SoftLogisticRegression, ShallowMLPClassifier])
def test_breast_cancer_fidelity_and_accuracy(student, cancer, cancer_teacher) -> None:
    X_train, X_test, y_train, y_test = cancer
    kd = DistilledClassifier(cancer_teacher, student(random_state=0), random_state=0)
    kd.fit(X_train, y_train)
    fidelity = np.mean(kd.predict(X_test) == cancer_teacher.predict(X_test))
    assert fidelity >= 0.95
    assert kd.fidelity(X_test) == pytest.approx(fidelity)
    assert kd.score(X_test, y_test) >= cancer_teacher.score(X_test, y_test) - 0.02


def test_gradient_boosting_teacher_beats_the_logistic_label_surrogate(cancer) -> None:
    X_train, X_test, y_train, _ = cancer
    boosting = GradientBoostingClassifier(random_state=0).fit(X_train, y_train)
    teacher_test = boosting.predict(X_test)
    surrogate = LogisticRegression().fit(X_train, boosting.predict(X_train))
    surrogate_fidelity = np.mean(surrogate.predict(X_test) == teacher_test)
    # Boosting is nearly one-hot on its training rows, so its probabilities at T = 1 carry
    # little beyond its labels; T = 4 softens them (on these 171 test rows the two settings
    # differ by one row).
    for student in (SoftLogisticRegression(random_state=0), ShallowMLPClassifier(random_state=0)):
        kd = DistilledClassifier(boosting, student, temperature=4.0, random_state=0)
        kd.fit(X_train, y_train)
        assert np.mean(kd.predict(X_test) == teacher_test) >= surrogate_fidelity


def test_label_free_distillation_needs_no_y(cancer, cancer_teacher) -> None:
    X_train, X_test, _, _ = cancer
    kd = DistilledClassifier(cancer_teacher, SoftLogisticRegression(), random_state=0).fit(X_train)
    assert kd.fidelity(X_test) >= 0.93


def test_teacher_is_never_modified(cancer, cancer_teacher) -> None:
    X_train, _, y_train, _ = cancer
    before = copy.deepcopy(cancer_teacher.module_.state_dict())
    cancer_teacher.module_.train()
    DistilledClassifier(cancer_teacher, SoftLogisticRegression(max_epochs=3)).fit(X_train, y_train)
    assert cancer_teacher.module_.training
    cancer_teacher.module_.eval()
    for key, value in cancer_teacher.module_.state_dict().items():
        assert torch.equal(value, before[key])


def test_same_random_state_gives_identical_predictions(cancer, cancer_teacher) -> None:
    X_train, X_test, y_train, _ = cancer

    def run(seed: int) -> np.ndarray:
        kd = DistilledClassifier(
            cancer_teacher, ShallowMLPClassifier(max_epochs=20), augment="both", random_state=seed
        )
        return kd.fit(X_train, y_train).predict_proba(X_test)

    np.testing.assert_array_equal(run(7), run(7))
    assert not np.array_equal(run(7), run(8))


def test_augmentation_adds_teacher_labelled_rows(cancer, cancer_teacher) -> None:
    X_train, _, y_train, _ = cancer
    kd = DistilledClassifier(
        cancer_teacher, SoftLogisticRegression(max_epochs=5), augment="mixup", n_augment=123
    ).fit(X_train, y_train)
    assert kd.n_synthetic_ == 123


def test_finetune_on_hard_labels_continues_training(cancer, cancer_teacher) -> None:
    X_train, _, y_train, _ = cancer
    # an epoch-based student: the logistic student's exact solver records iterations
    kd = DistilledClassifier(
        cancer_teacher,
        ShallowMLPClassifier(max_epochs=10, early_stopping=False),
        finetune_epochs=4,
        random_state=0,
    ).fit(X_train, y_train)
    assert len(kd.student_.history_) == 14
    with pytest.warns(InterpretableKDWarning, match="finetune_epochs=4 needs labels y"):
        DistilledClassifier(
            cancer_teacher, SoftLogisticRegression(max_epochs=2), finetune_epochs=4
        ).fit(X_train)


def test_grid_search_clones_the_student_and_shares_the_teacher(cancer, cancer_teacher) -> None:
    X_train, _, y_train, _ = cancer
    search = GridSearchCV(
        DistilledClassifier(cancer_teacher, ShallowMLPClassifier(max_epochs=5), random_state=0),
        {"student__hidden_units": [2, 4], "temperature": [1.0, 4.0]},
        cv=2,
    ).fit(X_train, y_train)
    assert search.best_estimator_.teacher is cancer_teacher
    assert search.best_estimator_.student_.hidden_units in (2, 4)


def test_plain_sklearn_student_is_a_global_surrogate(cancer, cancer_teacher) -> None:
    X_train, X_test, y_train, _ = cancer
    kd = DistilledClassifier(
        cancer_teacher, DecisionTreeClassifier(max_leaf_nodes=8, random_state=0)
    )
    kd.fit(X_train, y_train)
    expected = DecisionTreeClassifier(max_leaf_nodes=8, random_state=0).fit(
        X_train, cancer_teacher.predict(X_train)
    )
    np.testing.assert_array_equal(kd.predict(X_test), expected.predict(X_test))


def test_dataframe_names_reach_the_student(cancer, cancer_teacher) -> None:
    X_train, _, y_train, _ = cancer
    names = list(load_breast_cancer().feature_names)
    teacher = MLPTeacher(max_epochs=3, random_state=0).fit(
        pd.DataFrame(X_train, columns=names), y_train
    )
    kd = DistilledClassifier(teacher, SoftLogisticRegression(max_epochs=3), augment="gaussian")
    kd.fit(pd.DataFrame(X_train, columns=names), y_train)
    assert list(kd.student_.feature_names_in_) == names


def test_distill_returns_the_fitted_student(cancer, cancer_teacher) -> None:
    X_train, X_test, _, _ = cancer
    student = distill(cancer_teacher, SoftLogisticRegression(max_epochs=5), X_train, random_state=0)
    assert isinstance(student, SoftLogisticRegression)
    assert student.predict(X_test).shape == (X_test.shape[0],)


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        (
            {"temperature": 0},
            ParameterError,
            r"'temperature' parameter of DistilledClassifier must be a float in the range \[0\.01, 100\]\. Got 0",
        ),
        ({"temperature": -1.0}, ParameterError, r"Got -1\.0 instead"),
        ({"temperature": float("nan")}, ParameterError, r"'temperature' .* Got nan instead"),
        ({"temperature": float("inf")}, ParameterError, r"'temperature' .* Got inf instead"),
        (
            {"hard_label_weight": 1.5},
            ParameterError,
            r"'hard_label_weight' parameter .* range \[0, 1\]\. Got 1\.5",
        ),
        ({"augment": "gausian"}, ParameterError, r"'augment' .* Did you mean 'gaussian'\?"),
        ({"finetune_epochs": -1}, ParameterError, r"'finetune_epochs' .* range \[0, inf\]"),
        (
            {"temperature": "4"},
            ParameterError,
            r"'temperature' .* must be 'auto' or a float .* Got '4' of type str instead\. Pass the number 4\.0",
        ),
        ({"temperature": [1.0]}, TypeError, r"'temperature' .* Got \[1\.0\] of type list"),
    ],
)
def test_bad_parameters(params, error, message, cancer, cancer_teacher) -> None:
    X_train, _, y_train, _ = cancer
    with pytest.raises(error, match=message):
        DistilledClassifier(cancer_teacher, SoftLogisticRegression(), **params).fit(
            X_train, y_train
        )


def test_labels_the_teacher_does_not_know(cancer, cancer_teacher) -> None:
    X_train, _, y_train, _ = cancer
    with pytest.raises(
        InputError,
        match=r"labels in y that the teacher does not know: 2\. The teacher's classes are 0, 1",
    ):
        DistilledClassifier(cancer_teacher, SoftLogisticRegression()).fit(
            X_train, np.where(y_train == 1, 2, 0)
        )


def test_feature_count_that_differs_from_the_teacher(cancer, cancer_teacher) -> None:
    X_train, _, y_train, _ = cancer
    with pytest.raises(
        InputError, match="X has 29 features, but the teacher \\(MLPTeacher\\) is expecting 30"
    ):
        DistilledClassifier(cancer_teacher, SoftLogisticRegression()).fit(X_train[:, 1:], y_train)


def test_student_that_is_not_a_classifier(cancer, cancer_teacher) -> None:
    with pytest.raises(
        TypeError, match="'student' parameter of DistilledClassifier must be an unfitted classifier"
    ):
        DistilledClassifier(cancer_teacher, "tree").fit(cancer[0], cancer[2])
