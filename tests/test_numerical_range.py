"""The edges of the numerical range: extreme temperatures and logits, exact zeros,
constant features, many classes. Losses stay finite and outputs stay sensible."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs

import interpretable_kd as ikd


@pytest.mark.parametrize("temperature", [0.05, 0.5, 1.0, 10.0, 100.0])
@pytest.mark.parametrize("student", [ikd.SoftLogisticRegression, ikd.SoftDecisionTreeClassifier])
def test_extreme_temperatures_train_to_finite_sensible_students(
    temperature, student, binary_data
) -> None:
    X, y = binary_data
    teacher = ikd.SoftLogisticRegression(max_epochs=30, random_state=0).fit(X, y)
    kd = ikd.DistilledClassifier(
        teacher, student(max_epochs=30, random_state=0), temperature=temperature, random_state=0
    ).fit(X, y)
    assert all(np.isfinite(h["train_loss"]) for h in kd.student_.history_)
    proba = kd.predict_proba(X)
    assert np.isfinite(proba).all()
    assert kd.fidelity(X) > 0.8


def test_teacher_logits_of_plus_minus_1e4(binary_data) -> None:
    """At a high temperature distillation becomes logit matching (Hinton et al. 2015), so a
    student must grow logits of order 1e4: it needs more epochs, but stays finite."""
    X, _ = binary_data
    huge = ikd.as_teacher(
        lambda X: np.where(X[:, :1] > 0, [[1e4, -1e4]], [[-1e4, 1e4]]), output="logits"
    )
    for temperature in (0.05, 1.0, 100.0):
        kd = ikd.DistilledClassifier(
            huge, ikd.ShallowMLPClassifier(max_epochs=200, random_state=0), temperature=temperature
        ).fit(X)  # label-free: the teacher's rule is not the data's labels
        assert np.isfinite(kd.predict_proba(X)).all()
        assert kd.fidelity(X) > 0.9


def test_probability_teacher_with_exact_zeros(multiclass_data) -> None:
    X, _ = multiclass_data
    W = np.random.default_rng(0).normal(size=(X.shape[1], 3))
    one_hot = ikd.as_teacher(lambda X: np.eye(3)[np.argmax(X @ W, axis=1)], output="proba")
    kd = ikd.DistilledClassifier(
        one_hot, ikd.SoftLogisticRegression(max_epochs=50, random_state=0)
    ).fit(X)
    assert all(np.isfinite(h["train_loss"]) for h in kd.student_.history_)
    assert kd.fidelity(X) > 0.85


def test_constant_features_do_no_harm(binary_data) -> None:
    X, y = binary_data
    X = np.hstack([X, np.full((X.shape[0], 2), 7.0, dtype=np.float32)])
    for student in (
        ikd.SoftLogisticRegression,
        ikd.ShallowMLPClassifier,
        ikd.SoftDecisionTreeClassifier,
    ):
        model = student(max_epochs=30, random_state=0).fit(X, y)
        assert np.isfinite(model.predict_proba(X)).all()
        assert model.score(X, y) > 0.8
    kd = ikd.DistilledClassifier(
        ikd.SoftLogisticRegression(max_epochs=20).fit(X, y),
        ikd.SoftLogisticRegression(max_epochs=5),
        augment="gaussian",
        random_state=0,
    ).fit(X, y)
    assert np.isfinite(kd.predict_proba(X)).all()


def test_one_hundred_classes() -> None:
    X, y = make_blobs(n_samples=2000, centers=100, n_features=8, cluster_std=0.3, random_state=0)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    teacher = ikd.MLPTeacher(
        hidden_units=(64,), learning_rate=0.01, max_epochs=60, random_state=0
    ).fit(X, y)
    assert teacher.score(X, y) > 0.6
    kd = ikd.DistilledClassifier(
        teacher,
        ikd.ShallowMLPClassifier(hidden_units=64, max_epochs=60, random_state=0),
        random_state=0,
    ).fit(X, y)
    proba = kd.predict_proba(X)
    assert proba.shape == (2000, 100)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-9)
    assert kd.fidelity(X) > 0.6


def test_kd_loss_is_finite_for_float32_extremes() -> None:
    zt = torch.tensor([[1e4, -1e4] * 50], dtype=torch.float32)
    zs = torch.zeros_like(zt, requires_grad=True)
    for temperature in (0.05, 100.0):
        loss = ikd.kd_loss(
            zs, zt, torch.tensor([3]), temperature=temperature, hard_label_weight=0.3
        )
        loss.backward()
        assert torch.isfinite(loss)
        assert zs.grad is not None and torch.isfinite(zs.grad).all()
