"""Inputs at any scale: every TorchClassifier standardises its rows internally.

The network sees ``(X - x_mean_) / x_scale_`` (statistics of the training rows), in
training and in prediction; the statistics are saved with the model; files written
without them still load and predict as before (no standardisation).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from interpretable_kd import MLPTeacher, load
from interpretable_kd._numeric import column_mean_scale, standardise
from interpretable_kd.students import ShallowMLPClassifier

N_ROWS = 400


def _rows(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Standard-normal rows and a non-linear two-class rule on them."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N_ROWS, 5))
    y = ((X[:, 0] + 0.5 * X[:, 1] ** 2 - 0.5 > 0) ^ (X[:, 2] > 1.2)).astype(int)
    return X, y


def _scaled(X: np.ndarray) -> np.ndarray:
    """X with its first column in units 1e5 times larger, shifted far from 0."""
    raw = X.copy()
    raw[:, 0] = 1e5 * raw[:, 0] + 3e5
    return raw


def _teacher_logits(X: np.ndarray) -> np.ndarray:
    """A fixed non-linear teacher on the standard-normal rows."""
    score = 2.0 * X[:, 0] + X[:, 1] ** 2 - 1.0 - X[:, 3] * X[:, 4]
    return np.column_stack([-score / 2, score / 2])


def test_a_column_scaled_by_1e5_gives_the_same_fidelity_for_the_mlp_student() -> None:
    X, _ = _rows()
    logits = _teacher_logits(X)
    train, test = slice(0, 300), slice(300, None)
    teacher_test = logits[test].argmax(1)
    fidelity = {}
    for name, data in {"standardised": X, "raw": _scaled(X)}.items():
        student = ShallowMLPClassifier(random_state=0).fit_distill(
            data[train], logits[train], classes=np.array([0, 1]), temperature=1.0
        )
        fidelity[name] = float(np.mean(student.predict(data[test]) == teacher_test))
    assert fidelity["standardised"] > 0.85  # the student does learn the teacher
    assert abs(fidelity["raw"] - fidelity["standardised"]) <= 0.005


def test_mlp_teacher_learns_on_a_column_scaled_by_1e5() -> None:
    X, y = _rows(1)
    raw = _scaled(X)
    teacher = MLPTeacher(random_state=0).fit(raw, y)
    majority = max(np.mean(y), 1 - np.mean(y))
    accuracy = float(np.mean(teacher.predict(raw) == y))
    assert accuracy > majority + 0.15
    assert teacher.x_scale_[0] == pytest.approx(np.std(raw[:, 0]), rel=1e-6)


def test_fitted_statistics_are_float64_and_describe_the_training_rows() -> None:
    X, y = _rows()
    raw = _scaled(X)
    model = ShallowMLPClassifier(max_epochs=2, random_state=0).fit(raw, y)
    assert model.x_mean_.dtype == np.float64 and model.x_mean_.shape == (5,)
    assert model.x_scale_.dtype == np.float64 and model.x_scale_.shape == (5,)
    raw32 = raw.astype(np.float32).astype(np.float64)  # what the model received, in float32
    np.testing.assert_allclose(model.x_mean_, raw32.mean(axis=0), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(model.x_scale_, raw32.std(axis=0), rtol=1e-8)


def test_prediction_feeds_the_network_the_standardised_rows() -> None:
    X, y = _rows()
    raw = _scaled(X)
    model = ShallowMLPClassifier(max_epochs=3, random_state=0).fit(raw, y)
    z = standardise(raw.astype(np.float32), model.x_mean_, model.x_scale_)
    with torch.no_grad():
        direct = model.module_(torch.from_numpy(z)).double().numpy()
    np.testing.assert_array_equal(model.logits(raw), direct)


def test_constant_columns_get_scale_one_and_do_not_break_training() -> None:
    X, y = _rows()
    X = np.column_stack([X, np.full(N_ROWS, 7.5e6), np.zeros(N_ROWS)])
    model = ShallowMLPClassifier(max_epochs=5, random_state=0).fit(X, y)
    np.testing.assert_array_equal(model.x_scale_[-2:], [1.0, 1.0])
    np.testing.assert_array_equal(model.x_mean_[-2:], [7.5e6, 0.0])
    assert np.isfinite(model.predict_proba(X)).all()
    assert np.mean(model.predict(X) == y) > 0.6


def test_column_statistics_are_chunked_without_changing_them(monkeypatch) -> None:
    import interpretable_kd._numeric as numeric

    rng = np.random.default_rng(3)
    X = (rng.standard_normal((1000, 4)) * [1.0, 1e4, 1e-3, 0.0] + [0, 5e5, 1, 2]).astype(np.float32)
    whole_mean, whole_scale = column_mean_scale(X)
    monkeypatch.setattr(numeric, "_CHUNK_ROWS", 7)
    mean, scale = column_mean_scale(X)
    np.testing.assert_allclose(mean, whole_mean, rtol=1e-12)
    np.testing.assert_allclose(scale, whole_scale, rtol=1e-9)
    np.testing.assert_allclose(mean, X.astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(scale[:3], X[:, :3].astype(np.float64).std(axis=0), rtol=1e-9)
    assert scale[3] == 1.0  # the constant column
    z = standardise(X, mean, scale)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-3)


@pytest.mark.parametrize("kind", ["float32", "float64", "frame"])
def test_the_users_rows_are_never_modified(kind) -> None:
    X, y = _rows()
    raw = _scaled(X)
    data = {
        "float32": raw.astype(np.float32),
        "float64": raw,
        "frame": pd.DataFrame(raw.astype(np.float32), columns=list("abcde")),
    }[kind]
    before = np.array(data, copy=True)
    model = ShallowMLPClassifier(max_epochs=2, random_state=0).fit(data, y)
    model.fine_tune(data, y, max_epochs=1)
    model.predict(data)
    np.testing.assert_array_equal(np.asarray(data), before)


def test_statistics_round_trip_through_save_and_load(tmp_path) -> None:
    X, y = _rows()
    raw = _scaled(X)
    for model in (
        ShallowMLPClassifier(max_epochs=3, random_state=0).fit(raw, y),
        MLPTeacher(max_epochs=3, random_state=0).fit(raw, y),
    ):
        path = model.save(tmp_path / f"{type(model).__name__}.safetensors")
        loaded = load(path)
        np.testing.assert_array_equal(loaded.x_mean_, model.x_mean_)
        np.testing.assert_array_equal(loaded.x_scale_, model.x_scale_)
        assert loaded.x_mean_.dtype == np.float64
        np.testing.assert_array_equal(loaded.predict_proba(raw), model.predict_proba(raw))


def test_a_file_written_before_standardisation_loads_and_predicts_as_before(tmp_path) -> None:
    X, y = _rows()
    model = ShallowMLPClassifier(max_epochs=3, random_state=0).fit(X, y)
    del model.x_mean_, model.x_scale_  # a model as fitted before this change: no statistics
    with torch.no_grad():
        expected = model.module_(torch.from_numpy(X.astype(np.float32))).double().numpy()
    np.testing.assert_array_equal(model.logits(X), expected)
    loaded = load(model.save(tmp_path / "old.safetensors"))
    assert not hasattr(loaded, "x_mean_")
    np.testing.assert_array_equal(loaded.logits(X), expected)
    loaded.fine_tune(X, y, max_epochs=1)  # continues on the raw rows, as before
    assert np.isfinite(loaded.logits(X)).all()


def test_fine_tune_keeps_the_statistics_of_the_first_fit() -> None:
    X, y = _rows()
    model = ShallowMLPClassifier(max_epochs=3, random_state=0).fit(X, y)
    mean, scale = model.x_mean_.copy(), model.x_scale_.copy()
    model.fine_tune(X[:100] * 3 + 10, y[:100], max_epochs=2)
    np.testing.assert_array_equal(model.x_mean_, mean)
    np.testing.assert_array_equal(model.x_scale_, scale)
