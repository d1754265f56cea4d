"""Teacher adapters: every kind of model, never retrained, never mutated."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from interpretable_kd import MLPTeacher, as_teacher
from interpretable_kd.exceptions import InputError, InputTypeError, TeacherOutputError
from interpretable_kd.teachers import (
    CallableTeacher,
    EnsembleTeacher,
    ScoresTeacher,
    SklearnTeacher,
    TorchTeacher,
)


@pytest.fixture(scope="module")
def fitted_lr(binary_data):
    # do not refit: tests check that nothing changes it
    return LogisticRegression().fit(*binary_data)


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_torch_module_runs_in_eval_mode_and_keeps_its_training_flag(binary_data) -> None:
    X, _ = binary_data
    module = torch.nn.Sequential(
        torch.nn.Linear(5, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 2)
    )
    module.train()
    before = _state(module)
    teacher = as_teacher(module)
    assert isinstance(teacher, TorchTeacher)
    first, second = teacher.logits(X), teacher.logits(X)
    np.testing.assert_array_equal(first, second)  # dropout is off: eval mode
    assert module.training  # flag restored
    for key, value in module.state_dict().items():
        assert torch.equal(value, before[key])
    with torch.no_grad():
        expected = module.eval()(torch.from_numpy(X)).double().numpy()
    np.testing.assert_allclose(first, expected, rtol=1e-6)
    np.testing.assert_allclose(teacher.predict_proba(X).sum(axis=1), 1.0)
    assert list(teacher.classes_) == [0, 1]


def test_torch_teacher_batches_give_the_same_answer(binary_data) -> None:
    X, _ = binary_data
    module = torch.nn.Linear(5, 3)
    whole = TorchTeacher(module, batch_size=10_000).logits(X)
    batched = TorchTeacher(module, batch_size=7).logits(X)
    # float32 matmuls of different batch shapes may round differently (~1e-7 absolute).
    np.testing.assert_allclose(whole, batched, rtol=1e-6, atol=1e-6)


def test_sklearn_teacher_is_not_refitted_or_mutated(fitted_lr, binary_data) -> None:
    X, _ = binary_data
    snapshot = copy.deepcopy(fitted_lr.__dict__)
    teacher = as_teacher(fitted_lr)
    assert isinstance(teacher, SklearnTeacher)
    np.testing.assert_allclose(teacher.predict_proba(X), fitted_lr.predict_proba(X))
    np.testing.assert_allclose(np.exp(teacher.logits(X)), fitted_lr.predict_proba(X), rtol=1e-9)
    assert set(snapshot) == set(fitted_lr.__dict__)
    for key, value in snapshot.items():
        np.testing.assert_equal(fitted_lr.__dict__[key], value)


def test_probability_teachers_with_exact_zeros_give_finite_logits(binary_data) -> None:
    X, y = binary_data
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    assert (forest.predict_proba(X) == 0).any()
    logits = as_teacher(forest).logits(X)
    assert np.isfinite(logits).all()
    np.testing.assert_array_equal(logits.argmax(axis=1), forest.predict_proba(X).argmax(axis=1))


def test_unfitted_sklearn_model_is_refused() -> None:
    with pytest.raises(ValueError, match="LogisticRegression instance is not fitted yet"):
        as_teacher(LogisticRegression())


def test_callable_needs_declared_output_and_is_validated(binary_data) -> None:
    X, _ = binary_data
    with pytest.raises(InputError, match="output='proba'.*or output='logits'"):
        as_teacher(lambda X: np.ones((len(X), 2)) / 2)
    not_proba = as_teacher(lambda X: np.ones((len(X), 2)), output="proba")
    with pytest.raises(
        TeacherOutputError,
        match=r"rows do not sum to 1 \(largest deviation 1 at row 0\).*output='logits'",
    ):
        not_proba.predict_proba(X)
    wrong_shape = CallableTeacher(lambda X: np.zeros((3, 2)), output="logits")
    with pytest.raises(
        TeacherOutputError, match=r"returned logits of shape \(3, 2\), expected \(200, "
    ):
        wrong_shape.logits(X)
    nan = CallableTeacher(lambda X: np.full((len(X), 2), np.nan), output="logits")
    with pytest.raises(TeacherOutputError, match="non-finite logits .* first at row 0"):
        nan.logits(X)


def test_callable_with_one_score_per_row_is_binary(binary_data) -> None:
    X, _ = binary_data
    teacher = as_teacher(
        lambda X: 1 / (1 + np.exp(-X[:, 0])), output="proba", classes=["no", "yes"]
    )
    proba = teacher.predict_proba(X)
    assert proba.shape == (200, 2)
    np.testing.assert_allclose(
        proba[:, 1], 1 / (1 + np.exp(-X[:, 0].astype(np.float64))), rtol=1e-6
    )
    assert set(teacher.predict(X)) <= {"no", "yes"}


def test_ensemble_is_a_weighted_mean_of_probabilities(fitted_lr, binary_data) -> None:
    X, y = binary_data
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    ensemble = as_teacher([fitted_lr, forest], weights=[3, 1])
    assert isinstance(ensemble, EnsembleTeacher)
    expected = 0.75 * fitted_lr.predict_proba(X) + 0.25 * forest.predict_proba(X)
    np.testing.assert_allclose(ensemble.predict_proba(X), expected)
    other_classes = LogisticRegression().fit(X, y + 5)
    with pytest.raises(InputError, match="members must share their classes"):
        as_teacher([fitted_lr, other_classes])


def test_scores_teacher_answers_only_for_known_rows(binary_data) -> None:
    X, _ = binary_data
    scores = np.tile([0.2, 0.8], (len(X), 1))
    teacher = as_teacher(scores, X=X)
    assert isinstance(teacher, ScoresTeacher)
    np.testing.assert_allclose(teacher.predict_proba(X[::-1]), scores[::-1])
    with pytest.raises(InputError, match=r"no scores for 1 of the 1 rows .*augment=None"):
        teacher.logits(X[:1] + 1.0)
    with pytest.raises(InputError, match="as_teacher got an array of scores but no X"):
        as_teacher(scores)


def test_teacher_feature_count_mismatch_is_clear(fitted_lr, binary_data) -> None:
    X, _ = binary_data
    with pytest.raises(
        InputError,
        match="X has 4 features, but the teacher \\(LogisticRegression\\) is expecting 5",
    ):
        as_teacher(fitted_lr).logits(X[:, :4])
    with pytest.raises(
        InputError, match="X has 3 features, but the teacher \\(Linear\\) is expecting 5"
    ):
        as_teacher(torch.nn.Linear(5, 2)).logits(X[:, :3])


def test_a_failing_teacher_is_reported_without_a_deep_traceback(binary_data) -> None:
    X, _ = binary_data
    module = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Unflatten(1, (7, -1)))
    with pytest.raises(TeacherOutputError, match=r"TorchTeacher failed on X of shape \(200, 5\)"):
        TorchTeacher(module, classes=[0, 1]).logits(X)


def test_unknown_model_type_is_refused() -> None:
    with pytest.raises(InputTypeError, match="as_teacher cannot use a str"):
        as_teacher("model.pkl")


def test_mlp_teacher_trains_and_is_a_teacher(binary_data) -> None:
    X, y = binary_data
    frame = pd.DataFrame(X, columns=list("abcde"))
    teacher = MLPTeacher(hidden_units=(16,), random_state=0, max_epochs=50, learning_rate=0.01).fit(
        frame, y
    )
    assert teacher.score(frame, y) > 0.85
    wrapped = as_teacher(teacher)
    assert isinstance(wrapped, SklearnTeacher) and wrapped.estimator is teacher
    np.testing.assert_allclose(wrapped.predict_proba(frame), teacher.predict_proba(frame))
    np.testing.assert_allclose(
        teacher.predict_proba(frame), np.exp(teacher.predict_log_proba(frame)), rtol=1e-9
    )
    assert clone(teacher).get_params()["hidden_units"] == (16,)
