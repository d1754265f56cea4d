"""Defaults that adapt to the data, the training loop's hooks, threads, and the warning
for a model that learned a single class."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import torch

from interpretable_kd import MLPTeacher
from interpretable_kd import _defaults as defaults
from interpretable_kd._torch_utils import resolve_threads, torch_threads
from interpretable_kd._training import auto_training_sizes
from interpretable_kd.exceptions import (
    DegenerateModelWarning,
    InputTypeError,
    InterpretableKDWarning,
    ParameterError,
)
from interpretable_kd.students import ShallowMLPClassifier


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 4)) * [1.0, 50.0, 0.01, 3.0]
    y = (X[:, 0] + X[:, 1] / 50 > 0).astype(int)
    return X, y


# ------------------------------------------------------------------ the "auto" rule
@pytest.mark.parametrize("n_rows", [50, 455, 5_000, 21_000, 70_000, 1_000_000])
def test_auto_sizes_follow_the_documented_rule(n_rows) -> None:
    batch, epochs, patience = auto_training_sizes(n_rows, "auto", "auto", "auto")
    assert defaults.AUTO_MIN_BATCH <= batch <= defaults.AUTO_MAX_BATCH
    assert batch & (batch - 1) == 0  # a power of two
    assert defaults.AUTO_MIN_EPOCHS <= epochs <= defaults.AUTO_MAX_EPOCHS
    steps = epochs * math.ceil(n_rows / batch)
    if defaults.AUTO_MIN_EPOCHS < epochs < defaults.AUTO_MAX_EPOCHS:  # not capped
        assert steps >= defaults.AUTO_TARGET_STEPS
        assert steps < defaults.AUTO_TARGET_STEPS + math.ceil(n_rows / batch)
    assert patience >= defaults.AUTO_PATIENCE_FRACTION * epochs
    assert patience >= defaults.AUTO_MIN_PATIENCE


def test_auto_batches_grow_and_epochs_shrink_with_the_rows() -> None:
    sizes = [auto_training_sizes(n, "auto", "auto", "auto") for n in (455, 21_000, 10**6)]
    batches = [s[0] for s in sizes]
    epochs = [s[1] for s in sizes]
    assert batches == sorted(batches) and batches[0] < batches[-1]
    assert epochs == sorted(epochs, reverse=True) and epochs[0] > epochs[-1]
    assert batches[-1] == defaults.AUTO_MAX_BATCH


def test_explicit_sizes_are_kept_and_patience_follows_an_explicit_budget() -> None:
    assert auto_training_sizes(21_000, 128, 200, 10) == (128, 200, 10)
    batch, epochs, patience = auto_training_sizes(21_000, 64, 40, "auto")
    assert (batch, epochs) == (64, 40)
    assert patience == max(defaults.AUTO_MIN_PATIENCE, math.ceil(0.25 * 40))


def test_defaults_are_auto_and_fitted_attributes_record_what_was_used(data) -> None:
    X, y = data
    for cls in (ShallowMLPClassifier, MLPTeacher):
        params = cls().get_params()
        assert params["batch_size"] == params["max_epochs"] == "auto"
        assert params["n_iter_no_change"] == "auto" and params["n_jobs"] is None
    model = ShallowMLPClassifier(random_state=0, max_epochs=12).fit(X, y)
    batch, epochs, patience = auto_training_sizes(X.shape[0], "auto", 12, "auto")
    assert (model.batch_size_, model.max_epochs_, model.n_iter_no_change_) == (
        batch,
        epochs,
        patience,
    )
    assert model.lr_schedule_ == "constant"  # an explicit max_epochs: constant rate


def test_auto_budget_uses_a_cosine_schedule_and_explicit_numbers_a_constant_rate(data) -> None:
    X, y = data
    auto = ShallowMLPClassifier(random_state=0, early_stopping=False).fit(X[:100], y[:100])
    rates = [h["lr"] for h in auto.history_]
    assert auto.lr_schedule_ == "cosine" and len(rates) == auto.max_epochs_
    assert rates[0] == pytest.approx(auto.learning_rate)
    assert all(a > b for a, b in itertools.pairwise(rates))
    assert rates[-1] > defaults.AUTO_FINAL_LR_FRACTION * auto.learning_rate
    fixed = ShallowMLPClassifier(random_state=0, max_epochs=5, batch_size=64).fit(X, y)
    assert {h["lr"] for h in fixed.history_} == {fixed.learning_rate}
    assert fixed.batch_size_ == 64


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"batch_size": "Auto"}, ParameterError, r"'batch_size' .* must be 'auto' or an int"),
        ({"max_epochs": 0}, ParameterError, r"'max_epochs' .* 'auto' or an int .*Got 0"),
        ({"n_iter_no_change": 2.5}, InputTypeError, r"'n_iter_no_change' .*Got 2.5 of type"),
        ({"max_epochs": True}, InputTypeError, r"'max_epochs' .*Got True of type bool"),
        ({"n_jobs": 0}, ParameterError, r"'n_jobs' parameter of ShallowMLPClassifier .*Got 0"),
        ({"n_jobs": "all"}, ParameterError, r"'n_jobs' .*-1 = all cores.*Got 'all'"),
    ],
)
def test_bad_sizes_and_threads_are_named(params, error, message, data) -> None:
    X, y = data
    with pytest.raises(error, match=message):
        ShallowMLPClassifier(**params).fit(X, y)


# ------------------------------------------------------------------ early stopping
def test_early_stopping_watches_the_validation_score_hook(data) -> None:
    X, y = data
    seen: list[int] = []

    class Watched(ShallowMLPClassifier):
        def _validation_score(self, module, X_valid, targets_valid) -> float:
            seen.append(X_valid.shape[0])
            return [5.0, 4.0, 3.0][len(seen) - 1] if len(seen) <= 3 else 3.0

    model = Watched(random_state=0, max_epochs=50, n_iter_no_change=4).fit(X, y)
    assert model.best_epoch_ == 3
    assert model.n_iter_ == 3 + 4  # stopped after 4 epochs without improvement
    assert seen[0] == round(0.1 * X.shape[0])
    assert [h["valid_score"] for h in model.history_[:3]] == [5.0, 4.0, 3.0]
    assert "valid_loss" not in model.history_[0]  # the score is not a loss here


def test_best_weights_are_restored(data) -> None:
    X, y = data

    class BestAtTwo(ShallowMLPClassifier):
        def _validation_score(self, module, X_valid, targets_valid) -> float:
            epoch = len(self.__dict__.setdefault("_states", []))
            self._states.append({k: v.clone() for k, v in module.state_dict().items()})
            return 0.0 if epoch == 1 else 1.0

    model = BestAtTwo(random_state=0, max_epochs=8, n_iter_no_change=3).fit(X, y)
    assert model.best_epoch_ == 2
    for key, value in model.module_.state_dict().items():
        torch.testing.assert_close(value, model._states[1][key])


def test_init_module_hook_sees_the_standardised_rows_once_per_fresh_fit(data) -> None:
    X, y = data
    calls: list[np.ndarray] = []

    class Initialised(ShallowMLPClassifier):
        def _init_module(self, module, X, targets) -> None:
            calls.append(X.copy())
            with torch.no_grad():
                module[0].bias.fill_(0.25)

    model = Initialised(random_state=0, max_epochs=1, learning_rate=1e-12).fit(X, y)
    assert len(calls) == 1
    np.testing.assert_allclose(calls[0].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(calls[0].std(axis=0), 1.0, atol=1e-4)
    np.testing.assert_allclose(model.module_[0].bias.detach().numpy(), 0.25, atol=1e-6)
    model.fine_tune(X, y, max_epochs=1)
    assert len(calls) == 1  # fine_tune continues; it does not re-initialise


# ------------------------------------------------------------------ threads
def test_the_thread_rule() -> None:
    cores = resolve_threads(-1)
    assert cores >= 1
    assert resolve_threads(None, None) == 1
    assert resolve_threads(None, defaults.THREADS_MIN_ROWS - 1) == 1
    assert resolve_threads(None, defaults.THREADS_MIN_ROWS) == cores
    assert resolve_threads(3) == 3
    assert resolve_threads(-2) == max(1, cores - 1)


def test_torch_threads_restores_the_callers_setting_even_on_error() -> None:
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        with torch_threads(1) as inside:
            assert inside == 1 and torch.get_num_threads() == 1
        assert torch.get_num_threads() == 3
        inside_threads: list[int] = []

        def fail() -> None:
            with torch_threads(2):
                inside_threads.append(torch.get_num_threads())
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            fail()
        assert inside_threads == [2]
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


def test_fit_and_predict_run_on_n_jobs_threads_and_restore_the_callers(data) -> None:
    X, y = data
    during: list[int] = []

    class Counting(ShallowMLPClassifier):
        def _eval_logits(self, module, X):
            during.append(torch.get_num_threads())
            return module(X)

        def _after_step(self, module, optimizer) -> None:
            during.append(torch.get_num_threads())

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        model = Counting(random_state=0, max_epochs=1, n_jobs=2).fit(X, y)
        assert set(during) == {2} and torch.get_num_threads() == 3
        during.clear()
        model.set_params(n_jobs=None).predict(X)
        assert during == [1] and torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


# ------------------------------------------------------------------ degenerate models
def test_a_teacher_that_predicts_one_class_gets_a_warning_naming_the_causes(data) -> None:
    X, y = data

    class Collapsed(MLPTeacher):
        def _init_module(self, module, X, targets) -> None:
            with torch.no_grad():
                module[-1].weight.zero_()
                module[-1].bias.copy_(torch.tensor([1.0, 0.0]))

    with pytest.warns(
        DegenerateModelWarning,
        match=r"single class 0 for all 300 training rows.*"
        r"2 classes.*learning_rate.*epochs.*extreme values",
    ) as record:
        Collapsed(random_state=0, max_epochs=1, learning_rate=1e-12).fit(X, y)
    assert issubclass(record[0].category, InterpretableKDWarning)


def test_a_teacher_that_learns_gets_no_warning(data) -> None:
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateModelWarning)
        teacher = MLPTeacher(random_state=0, max_epochs=20).fit(X * [1, 1e5, 1, 1], y)
    assert np.mean(teacher.predict(X * [1, 1e5, 1, 1]) == y) > 0.9
