"""temperature="auto": the search, its table, its choice and its contract."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.tree import DecisionTreeClassifier

from interpretable_kd import (
    DistilledClassifier,
    InterpretableKDWarning,
    ShallowMLPClassifier,
    SoftLogisticRegression,
    _temperature,
    as_teacher,
)
from interpretable_kd._defaults import (
    HARD_LABEL_WEIGHT,
    TEMPERATURE_GRID,
    TEMPERATURE_SEARCH_MIN_ROWS,
    TEMPERATURE_SEARCH_STEP_SCALE,
    TEMPERATURE_SEARCH_WARM_SCALE,
)
from interpretable_kd._temperature import SEARCH_COLUMNS, search_split
from interpretable_kd.exceptions import ParameterError


@pytest.fixture(autouse=True)
def search_small_data(request, monkeypatch):
    """The fixtures here have 200 rows: let the search run on their ~50 validation rows
    (the library keeps T = 1 below 500; ``test_small_data_keeps_t1_without_a_search``)."""
    if "no_small_search" not in request.keywords:
        monkeypatch.setattr(_temperature, "TEMPERATURE_SEARCH_MIN_VALID_ROWS", 0)


@pytest.fixture(scope="module")
def boosting(binary_data):
    """A gradient-boosting teacher on the 200-row binary fixture (never refitted)."""
    X, y = binary_data
    return GradientBoostingClassifier(n_estimators=30, max_depth=2, random_state=0).fit(X, y)


def _direct_fit(teacher, X, y_index, temperature: float) -> SoftLogisticRegression:
    """The student fitted by hand on every row at ``temperature``, seed 0."""
    wrapped = as_teacher(teacher)
    return SoftLogisticRegression(random_state=0).fit_distill(
        X,
        wrapped.logits(X),
        y_index,
        classes=wrapped.classes_,
        temperature=temperature,
        hard_label_weight=HARD_LABEL_WEIGHT,
    )


def test_auto_is_the_default_picks_from_the_grid_and_refits_on_every_row(
    binary_data, boosting
) -> None:
    X, y = binary_data
    kd = DistilledClassifier(boosting, SoftLogisticRegression(random_state=0), random_state=0)
    assert kd.get_params()["temperature"] == "auto"
    kd.fit(X, y)
    table = kd.temperature_search_
    assert list(table.columns) == list(SEARCH_COLUMNS)
    assert table["temperature"].tolist() == list(TEMPERATURE_GRID)
    assert table["chosen"].sum() == 1
    chosen = table[table["chosen"]].iloc[0]
    assert isinstance(kd.temperature_, float)
    assert kd.temperature_ == chosen["temperature"]
    # the rule: the best fidelity, then the lowest KL among the rows that share it
    best = table[table["validation_fidelity"] == table["validation_fidelity"].max()]
    assert chosen["validation_fidelity"] == table["validation_fidelity"].max()
    assert chosen["validation_kl"] == best["validation_kl"].min()
    assert table["validation_fidelity"].between(0.0, 1.0).all()
    assert (table["validation_kl"] >= 0.0).all()
    assert (table["fit_seconds"] > 0.0).all()
    # then one fit on all rows at the chosen T: the same student as fitted by hand
    y_index = np.searchsorted(kd.classes_, y)
    direct = _direct_fit(boosting, X, y_index, kd.temperature_)
    np.testing.assert_allclose(kd.predict_proba(X), direct.predict_proba(X), atol=1e-6)


def test_auto_is_reproducible_for_a_fixed_random_state(binary_data, boosting) -> None:
    X, y = binary_data

    def run(seed: int) -> DistilledClassifier:
        return DistilledClassifier(boosting, SoftLogisticRegression(), random_state=seed).fit(X, y)

    first, again, other = run(3), run(3), run(4)
    columns = ["temperature", "validation_fidelity", "validation_kl", "chosen"]
    pd.testing.assert_frame_equal(
        first.temperature_search_[columns], again.temperature_search_[columns]
    )
    np.testing.assert_array_equal(first.predict_proba(X), again.predict_proba(X))
    # another seed holds out other rows, so the candidates are scored on other rows
    assert not np.array_equal(
        first.temperature_search_["validation_kl"], other.temperature_search_["validation_kl"]
    )


def test_a_fixed_temperature_fits_once_as_before(binary_data, boosting) -> None:
    X, y = binary_data
    kd = DistilledClassifier(
        boosting, SoftLogisticRegression(random_state=0), temperature=2.0, random_state=0
    ).fit(X, y)
    assert kd.temperature_ == 2.0
    assert kd.temperature_search_ is None
    direct = _direct_fit(boosting, X, np.searchsorted(kd.classes_, y), 2.0)
    np.testing.assert_allclose(kd.predict_proba(X), direct.predict_proba(X), atol=1e-6)


def test_label_free_auto_and_labels_ignored_at_weight_zero(binary_data, boosting) -> None:
    X, y = binary_data
    free = DistilledClassifier(boosting, SoftLogisticRegression(), random_state=1).fit(X)
    assert free.temperature_ in TEMPERATURE_GRID
    assert free.temperature_search_["chosen"].sum() == 1
    # the default w = 0 is pure imitation: true labels change nothing
    assert HARD_LABEL_WEIGHT == 0.0
    labelled = DistilledClassifier(boosting, SoftLogisticRegression(), random_state=1).fit(X, y)
    np.testing.assert_array_equal(free.predict_proba(X), labelled.predict_proba(X))
    pd.testing.assert_frame_equal(
        free.temperature_search_.drop(columns="fit_seconds"),
        labelled.temperature_search_.drop(columns="fit_seconds"),
    )


def _sharp_teacher_logits(X: np.ndarray) -> np.ndarray:
    """A linear decision boundary (x0 = 0.8) whose confidence grows as exp(2 x1): the
    teacher's probabilities are not logistic in x, so the KL optimum of a linear student
    at T = 1 tilts away from the boundary; sharpened targets pull it back."""
    X = np.asarray(X, dtype=np.float64)
    z = (X[:, 0] - 0.8) * np.exp(2.0 * X[:, 1])
    return np.column_stack([np.zeros(len(z)), z])


def test_auto_sharpens_when_the_teacher_is_not_logistic() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2400, 2)).astype(np.float32)
    X_test = rng.standard_normal((4000, 2)).astype(np.float32)
    teacher = as_teacher(_sharp_teacher_logits, output="logits", classes=[0, 1])

    def fit(temperature: float | str) -> DistilledClassifier:
        student = SoftLogisticRegression(random_state=0)
        return DistilledClassifier(teacher, student, temperature=temperature, random_state=0).fit(X)

    auto, at_one = fit("auto"), fit(1.0)
    assert auto.temperature_ < 1.0
    assert auto.fidelity(X_test) >= at_one.fidelity(X_test) + 0.03


@pytest.mark.no_small_search
def test_small_data_keeps_t1_without_a_search(binary_data, boosting) -> None:
    """200 rows give 50 validation rows: one row is 2 points of fidelity, so no search."""
    X, y = binary_data
    kd = DistilledClassifier(boosting, SoftLogisticRegression(), random_state=0).fit(X, y)
    assert kd.temperature_ == 1.0
    table = kd.temperature_search_
    assert table["temperature"].tolist() == [1.0] and bool(table["chosen"].iloc[0])
    assert "too coarse to tell temperatures apart" in table["reason"].iloc[0]
    assert table.attrs == {"start_seconds": 0.0, "workers": 1, "search_seconds": 0.0}


def test_candidates_within_the_noise_are_tied_and_the_lowest_kl_wins() -> None:
    rng = np.random.default_rng(0)
    base = (rng.random(2000) < 0.95).astype(float)
    noisy = base.copy()
    noisy[:3] = 1.0  # three more rows right: far inside the noise of 2,000 rows
    rows = [(0.25, noisy.mean(), 0.30, 0.0), (1.0, base.mean(), 0.10, 0.0)]
    chosen, reason = _temperature._choose(rows, [noisy, base], z=2.0)
    assert chosen == 1 and "within 2 standard errors" in reason
    clearly = base.copy()
    clearly[base == 0] = 1.0  # every row right: far beyond the noise
    rows = [(0.25, clearly.mean(), 0.30, 0.0), (1.0, base.mean(), 0.10, 0.0)]
    chosen, reason = _temperature._choose(rows, [clearly, base], z=2.0)
    assert chosen == 0 and "beyond 2 standard errors" in reason


def test_a_global_surrogate_has_no_temperature(binary_data, boosting) -> None:
    X, y = binary_data
    for temperature in ("auto", 2.0):
        kd = DistilledClassifier(
            boosting, DecisionTreeClassifier(max_depth=2, random_state=0), temperature=temperature
        ).fit(X, y)
        assert kd.temperature_ is None
        assert kd.temperature_search_ is None


def test_too_few_rows_for_the_search_warns_and_uses_one(binary_data, boosting) -> None:
    X, y = binary_data
    n = TEMPERATURE_SEARCH_MIN_ROWS - 1
    with pytest.warns(InterpretableKDWarning, match=rf"needs at least 40 rows .* X has {n}\."):
        kd = DistilledClassifier(boosting, SoftLogisticRegression(random_state=0)).fit(X[:n], y[:n])
    assert kd.temperature_ == 1.0
    assert kd.temperature_search_ is None


@pytest.mark.parametrize(
    ("temperature", "message"),
    [
        (
            "atuo",
            r"must be 'auto' or a float in the range \[0\.01, 100\]\. Got 'atuo' of type str instead\. "
            r"Did you mean 'auto'\?",
        ),
        ("AUTO", r"Got 'AUTO' of type str instead\. Did you mean 'auto'\?"),
        ("4", r"Got '4' of type str instead\. Pass the number 4\.0, not a string\."),
        ("hot", r"Got 'hot' of type str instead\. Use temperature='auto' or a number"),
    ],
)
def test_bad_temperature_strings(temperature, message, binary_data, boosting) -> None:
    X, y = binary_data
    with pytest.raises(ParameterError, match=message):
        DistilledClassifier(boosting, SoftLogisticRegression(), temperature=temperature).fit(X, y)


def test_bad_n_jobs(binary_data, boosting) -> None:
    X, y = binary_data
    with pytest.raises(ParameterError, match=r"'n_jobs' parameter of DistilledClassifier .* Got 0"):
        DistilledClassifier(boosting, SoftLogisticRegression(), n_jobs=0).fit(X, y)


def test_n_jobs_reaches_the_student_and_threads_are_restored(binary_data, boosting) -> None:
    X, y = binary_data
    before = torch.get_num_threads()
    kd = DistilledClassifier(
        boosting, SoftLogisticRegression(), temperature=1.0, n_jobs=2, random_state=0
    ).fit(X, y)
    assert kd.student_.n_jobs == 2
    kd.predict(X)
    assert torch.get_num_threads() == before
    own = DistilledClassifier(
        boosting, SoftLogisticRegression(n_jobs=1), temperature=1.0, n_jobs=2
    ).fit(X, y)
    assert own.student_.n_jobs == 1  # the student's own setting wins


def test_search_split_is_stratified_disjoint_and_capped() -> None:
    strata = np.repeat([0, 1, 2], [600, 300, 1])
    rng = np.random.default_rng(0)
    train, valid = search_split(strata, rng, valid_fraction=0.25, max_rows=10_000)
    assert np.intersect1d(train, valid).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, valid])), np.arange(901))
    assert len(valid) == pytest.approx(0.25 * 901, abs=2)
    assert np.sum(strata[valid] == 0) == 150 and np.sum(strata[valid] == 1) == 75
    assert np.sum(strata[train] == 2) == 1  # a class of one row stays in training
    train, valid = search_split(strata, rng, valid_fraction=0.25, max_rows=90)
    assert len(train) == 91  # 60 + 30 + the single row
    assert len(valid) == 901 - 91


def test_the_search_is_saved_and_loaded(tmp_path, binary_data, boosting) -> None:
    X, y = binary_data
    kd = DistilledClassifier(boosting, SoftLogisticRegression(), random_state=0).fit(X, y)
    loaded = DistilledClassifier.load(kd.save(tmp_path / "kd.safetensors"), teacher=boosting)
    assert loaded.temperature == "auto"
    assert loaded.temperature_ == kd.temperature_
    pd.testing.assert_frame_equal(loaded.temperature_search_, kd.temperature_search_)
    np.testing.assert_array_equal(loaded.predict_proba(X), kd.predict_proba(X))


def test_a_file_written_before_auto_loads_with_its_fixed_temperature(
    tmp_path, binary_data, boosting
) -> None:
    X, y = binary_data
    kd = DistilledClassifier(
        boosting, SoftLogisticRegression(), temperature=2.0, random_state=0
    ).fit(X, y)
    path = kd.save(tmp_path / "kd.safetensors")
    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata())
    header = json.loads(metadata["header"])
    model = header.get("model", header)
    for attr in ("temperature_", "temperature_search_"):
        del model["fitted"][attr]
    metadata["header"] = json.dumps(header)
    save_file(load_file(str(path)), str(path), metadata=metadata)
    loaded = DistilledClassifier.load(path, teacher=boosting)
    assert loaded.temperature_ == 2.0
    assert loaded.temperature_search_ is None


def test_a_budgeted_student_starts_every_candidate_from_one_t1_fit(binary_data, boosting) -> None:
    """The mini-batch loop's candidates continue a shared T = 1 fit for a ninth of the
    budget; the exact solver's are fitted from scratch (its T = 1 fit is one of them)."""
    X, y = binary_data

    def run(student):
        return DistilledClassifier(boosting, student, random_state=0).fit(X, y)

    mlp = run(ShallowMLPClassifier(hidden_units=8, random_state=0))
    table = mlp.temperature_search_
    assert table["start"].tolist() == ["T = 1 fit"] * len(TEMPERATURE_GRID)
    assert (table["step_scale"] == TEMPERATURE_SEARCH_WARM_SCALE).all()
    share = f"{100 * TEMPERATURE_SEARCH_WARM_SCALE:.0f}% of the step budget"
    assert f"continued for {share} from one fit at T = 1" in str(
        table.loc[table["chosen"], "reason"].iloc[0]
    )
    assert table.attrs["start_seconds"] > 0.0
    again = run(ShallowMLPClassifier(hidden_units=8, random_state=0))
    pd.testing.assert_frame_equal(
        table.drop(columns="fit_seconds"), again.temperature_search_.drop(columns="fit_seconds")
    )
    np.testing.assert_array_equal(mlp.predict_proba(X), again.predict_proba(X))
    exact = run(SoftLogisticRegression(random_state=0)).temperature_search_
    assert exact["start"].tolist() == ["scratch"] * len(TEMPERATURE_GRID)
    assert (exact["step_scale"] == TEMPERATURE_SEARCH_STEP_SCALE).all()
    assert exact.attrs["start_seconds"] == 0.0


def test_fit_uses_step_budget_is_false_only_for_an_exact_solver(binary_data, boosting) -> None:
    X, _ = binary_data
    logits = as_teacher(boosting).logits(X)
    classes = np.array([0, 1])

    def fitted(student):
        return student.fit_distill(X, logits, None, classes=classes, temperature=1.0)

    assert not fitted(SoftLogisticRegression(random_state=0))._fit_uses_step_budget()
    adam = SoftLogisticRegression(solver="adam", max_epochs=2, random_state=0)
    assert fitted(adam)._fit_uses_step_budget()
    assert fitted(ShallowMLPClassifier(max_epochs=2, random_state=0))._fit_uses_step_budget()


def test_warm_start_continues_the_fitted_network(binary_data, boosting) -> None:
    """With a learning rate of ~0 a continuation keeps the start's weights, while a fresh
    fit keeps its own random initialisation: the continuation did start from the fit."""
    X, _ = binary_data
    logits = as_teacher(boosting).logits(X)
    classes = np.array([0, 1])
    kwargs = {"classes": classes, "temperature": 0.5, "hard_label_weight": 0.0}
    first = ShallowMLPClassifier(max_epochs=20, random_state=0)
    first._fit_distill(X, logits, None, **{**kwargs, "temperature": 1.0})
    start = first.predict_proba(X)
    frozen = {"learning_rate": 1e-12, "max_epochs": 1}
    warm = first.set_params(**frozen)._fit_distill(X, logits, None, **kwargs, warm_start=True)
    np.testing.assert_allclose(warm.predict_proba(X), start, atol=1e-5)
    assert warm.n_iter_ == 1
    fresh = ShallowMLPClassifier(random_state=0, **frozen)._fit_distill(X, logits, None, **kwargs)
    assert np.abs(fresh.predict_proba(X) - start).max() > 1e-2
