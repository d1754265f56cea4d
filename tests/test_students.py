"""Logistic and MLP students, and the shared training loop they run on."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from interpretable_kd import NotFittedError, ShallowMLPClassifier, SoftLogisticRegression
from interpretable_kd.exceptions import InputError, ParameterError, TrainingError

STUDENTS = [SoftLogisticRegression, ShallowMLPClassifier]


def _shared_loop(cls) -> dict:
    """These tests are about the shared mini-batch loop; the logistic student's default
    exact solver is deterministic for any seed and has no validation split
    (tests/test_logistic_solver.py covers it)."""
    return {"solver": "adam"} if cls is SoftLogisticRegression else {}


@pytest.mark.parametrize("cls", STUDENTS)
def test_same_random_state_gives_identical_predictions(cls, multiclass_data) -> None:
    X, y = multiclass_data
    loop = _shared_loop(cls)
    a = cls(random_state=3, max_epochs=30, **loop).fit(X, y).predict_proba(X)
    b = cls(random_state=3, max_epochs=30, **loop).fit(X, y).predict_proba(X)
    c = cls(random_state=4, max_epochs=30, **loop).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("cls", STUDENTS)
def test_fit_records_history_and_learns(cls, binary_data) -> None:
    X, y = binary_data
    model = cls(random_state=0, max_epochs=60, **_shared_loop(cls)).fit(X, y)
    assert model.score(X, y) > 0.85
    assert len(model.history_) == model.n_iter_
    assert {"epoch", "train_loss", "valid_loss"} <= set(model.history_[0])
    assert model.history_[-1]["train_loss"] < model.history_[0]["train_loss"]
    assert 1 <= model.best_epoch_ <= model.n_iter_


@pytest.mark.parametrize("cls", STUDENTS)
def test_clone_pickle_and_feature_names(cls, binary_data) -> None:
    X, y = binary_data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    model = cls(random_state=0, max_epochs=20).fit(frame, y)
    assert list(model.feature_names_in_) == list(frame.columns)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(frame), model.predict_proba(frame))
    fresh = clone(model)
    assert not hasattr(fresh, "module_")
    assert fresh.get_params() == model.get_params()


def test_grid_search_over_student_parameters(binary_data) -> None:
    X, y = binary_data
    search = GridSearchCV(
        ShallowMLPClassifier(max_epochs=15, random_state=0), {"hidden_units": [2, 8]}, cv=2
    ).fit(X, y)
    assert search.best_params_["hidden_units"] in (2, 8)


def test_logistic_coef_shapes_match_scikit_learn(binary_data, multiclass_data) -> None:
    X, y = binary_data
    binary = SoftLogisticRegression(random_state=0, max_epochs=30).fit(X, y)
    assert binary.coef_.shape == (1, X.shape[1]) and binary.intercept_.shape == (1,)
    # coef_ is the log-odds of classes_[1]: it reproduces predict_proba.
    odds = X @ binary.coef_.ravel() + binary.intercept_[0]
    np.testing.assert_allclose(binary.predict_proba(X)[:, 1], 1 / (1 + np.exp(-odds)), atol=1e-5)
    Xm, ym = multiclass_data
    multi = SoftLogisticRegression(random_state=0, max_epochs=30).fit(Xm, ym)
    assert multi.coef_.shape == (3, Xm.shape[1]) and multi.intercept_.shape == (3,)


def test_l1_penalty_gives_a_sparse_student(binary_data) -> None:
    X, y = binary_data
    rng = np.random.default_rng(0)
    noisy = np.hstack([X, rng.normal(size=(X.shape[0], 10)).astype(np.float32)])
    dense = SoftLogisticRegression(penalty="l2", random_state=0).fit(noisy, y)
    sparse = SoftLogisticRegression(penalty="l1", penalty_strength=0.05, random_state=0).fit(
        noisy, y
    )
    assert np.count_nonzero(dense.coef_) == noisy.shape[1]
    assert np.count_nonzero(sparse.coef_) <= noisy.shape[1] // 2
    assert sparse.score(noisy, y) > 0.8


def test_mlp_exposes_hidden_weights(binary_data) -> None:
    X, y = binary_data
    model = ShallowMLPClassifier(hidden_units=4, random_state=0, max_epochs=5).fit(X, y)
    assert model.hidden_weights_.shape == (4, X.shape[1])
    assert model.output_weights_.shape == (2, 4)
    assert model.n_parameters_ == 4 * X.shape[1] + 4 + 2 * 4 + 2


def test_fit_distill_without_labels_learns_the_teacher(binary_data) -> None:
    X, y = binary_data
    teacher_logits = np.where(y[:, None] == np.arange(2), 3.0, -3.0)
    model = SoftLogisticRegression(random_state=0).fit_distill(
        X, teacher_logits, classes=np.array(["no", "yes"]), temperature=2.0
    )
    assert list(model.classes_) == ["no", "yes"]
    agreement = np.mean(model.predict(X) == np.array(["no", "yes"])[y])
    assert agreement > 0.85


def test_unfitted_model_raises_not_fitted_error(binary_data) -> None:
    with pytest.raises(NotFittedError, match="SoftLogisticRegression instance is not fitted yet"):
        SoftLogisticRegression().predict(binary_data[0])


def test_interrupted_fit_leaves_the_model_unfitted(binary_data, monkeypatch) -> None:
    """Regression guard: an interrupt used to be able to leave a half-trained, usable model."""
    X, y = binary_data
    model = SoftLogisticRegression(random_state=0, max_epochs=5, solver="adam").fit(X, y)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(model, "_after_step", interrupt)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    with pytest.raises(NotFittedError, match="last call to fit was interrupted"):
        model.predict(X)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"max_epochs": 0},
            r"'max_epochs' parameter of SoftLogisticRegression must be 'auto' or an int in "
            r"the range \[1, inf\]\. Got 0",
        ),
        (
            {"learning_rate": -1.0},
            r"'learning_rate' parameter .* must be a float in the range \(0, inf\]",
        ),
        (
            {"penalty": "l3"},
            r"'penalty' parameter .* must be one of 'l2', 'l1', None\. Got 'l3' instead\. Did you mean 'l2'\?",
        ),
        ({"validation_fraction": 1.0}, r"'validation_fraction' .* range \(0, 1\)"),
        ({"device": "gpu0"}, r"'device' parameter of SoftLogisticRegression must be 'cpu'"),
    ],
)
def test_bad_hyperparameters_are_named(params, message, binary_data) -> None:
    with pytest.raises(ValueError, match=message):
        SoftLogisticRegression(**params).fit(*binary_data)


def test_one_class_only_is_refused(binary_data) -> None:
    X, _ = binary_data
    with pytest.raises(InputError, match="needs at least two classes in y.*only one class: 1"):
        SoftLogisticRegression().fit(X, np.ones(X.shape[0]))


def test_non_numeric_columns_are_named() -> None:
    frame = pd.DataFrame({"age": [30, 40, 50, 60], "job": ["a", "b", "a", "b"]})
    with pytest.raises(InputError, match=r"non-numeric columns 'job'.*TabularPreprocessor"):
        SoftLogisticRegression().fit(frame, [0, 1, 0, 1])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf_in_X_are_refused(bad, binary_data) -> None:
    X, y = binary_data
    X = X.copy()
    X[3, 1] = bad
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        ShallowMLPClassifier().fit(X, y)


def test_feature_count_change_between_fit_and_predict(binary_data) -> None:
    X, y = binary_data
    model = SoftLogisticRegression(max_epochs=2).fit(X, y)
    with pytest.raises(
        ValueError, match="X has 4 features, but SoftLogisticRegression is expecting 5"
    ):
        model.predict(X[:, :4])


def test_empty_X_is_refused() -> None:
    with pytest.raises(ValueError, match="0 sample"):
        SoftLogisticRegression().fit(np.zeros((0, 3)), np.zeros(0))


def test_huge_values_get_a_scaling_hint(binary_data) -> None:
    X, y = binary_data
    X = X.copy()
    X[0, 0] = 1e30
    with pytest.raises(InputError, match=r"magnitude 1e\+30 \(row 0, column 0\).*StandardScaler"):
        SoftLogisticRegression().fit(X, y)


def test_divergence_is_reported_not_hidden(binary_data) -> None:
    X, y = binary_data
    with pytest.raises(TrainingError, match="training diverged.*lower 'learning_rate'"):
        ShallowMLPClassifier(learning_rate=1e30, max_epochs=5, random_state=0).fit(X * 1e12, y)


def test_fit_distill_checks_teacher_logits(binary_data) -> None:
    X, _ = binary_data
    from interpretable_kd.exceptions import TeacherOutputError

    with pytest.raises(TeacherOutputError, match=r"shape \(200, 3\), expected \(200, 2\)"):
        SoftLogisticRegression().fit_distill(X, np.zeros((200, 3)), classes=[0, 1])
    bad = np.zeros((200, 2))
    bad[7, 0] = np.nan
    with pytest.raises(TeacherOutputError, match="non-finite teacher logits \\(first at row 7\\)"):
        SoftLogisticRegression().fit_distill(X, bad, classes=[0, 1])
    with pytest.raises(ParameterError, match="'temperature' parameter .* range \\[0\\.01, 100\\]"):
        SoftLogisticRegression().fit_distill(X, np.zeros((200, 2)), classes=[0, 1], temperature=0)
