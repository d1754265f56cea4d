"""Issue 12: numbers an auditor can sign.

Headline fidelity that cannot hide a class, a fair attribution comparison against the
explainer's noise floor, intervals that include training randomness, one named budget.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import cohen_kappa_score
from sklearn.tree import DecisionTreeClassifier

from interpretable_kd import (
    DistillationReport,
    DistilledClassifier,
    LowFidelityWarning,
    SoftLogisticRegression,
)
from interpretable_kd._defaults import PRESETS
from interpretable_kd.audit._fair_attributions import (
    cross_agreement,
    explain_runs,
    uses_teacher_features,
)
from interpretable_kd.exceptions import InputError, InterpretableKDWarning, ParameterError
from interpretable_kd.metrics import (
    balanced_fidelity,
    bootstrap_ci,
    cohen_kappa,
    fidelity_score,
    majority_baseline,
    refit_bootstrap_ci,
    worst_class_fidelity,
)

NO_EXPLAIN = {"explain_rows": 0, "n_bootstrap": 100}


# --------------------------------------------------------------------------- metrics
def test_headline_metrics_on_a_constant_student() -> None:
    teacher = np.array([0] * 90 + [1] * 10)
    constant = np.zeros(100, dtype=int)
    assert fidelity_score(teacher, constant) == pytest.approx(0.9)
    assert majority_baseline(teacher) == pytest.approx(0.9)
    assert cohen_kappa(teacher, constant) == pytest.approx(0.0)
    assert balanced_fidelity(teacher, constant) == pytest.approx(0.5)
    assert worst_class_fidelity(teacher, constant) == (1, 0.0)


def test_kappa_matches_scikit_learn_on_random_labels() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        t = rng.integers(0, 3, 200)
        s = np.where(rng.random(200) < 0.7, t, rng.integers(0, 3, 200))
        assert cohen_kappa(t, s) == pytest.approx(cohen_kappa_score(t, s))
    assert cohen_kappa(np.ones(5), np.ones(5)) == 1.0  # both constant and equal


def test_refit_bootstrap_with_one_refit_is_the_row_bootstrap() -> None:
    rng = np.random.default_rng(1)
    t = rng.integers(0, 2, 300)
    s = np.where(rng.random(300) < 0.9, t, 1 - t)
    nested = refit_bootstrap_ci(fidelity_score, t, s[None], n_resamples=300, random_state=0)
    rows = bootstrap_ci(fidelity_score, t, s, n_resamples=300, random_state=0)
    assert nested == pytest.approx(rows, abs=0.02)
    assert nested[0] < fidelity_score(t, s) < nested[1]


def test_refit_bootstrap_names_a_wrong_shape() -> None:
    with pytest.raises(InputError, match=r"needs predictions of shape \(n_refits, 4\)"):
        refit_bootstrap_ci(fidelity_score, np.zeros(4), np.zeros(4))


def test_refit_aware_intervals_cover_the_across_seed_mean() -> None:
    """Simulated refits: each seed shifts the student's agreement by a seed effect.

    Agreement of refit r on row i is ``u_i + noise_ri < mu + effect_r`` (rows shared by
    every refit, as in a report). The across-seed mean is mu. Row-only intervals of one
    refit ignore the seed effect and miss mu often; refit-aware intervals cover it.
    """
    rng = np.random.default_rng(12)
    mu, n_rows, n_refits, repetitions = 0.95, 1000, 3, 60
    covered_refits = covered_rows = 0
    reference = np.ones(n_rows, dtype=int)
    for _ in range(repetitions):
        effect = rng.normal(0.0, 0.01, n_refits)
        u = rng.random(n_rows)
        agree = u[None, :] + rng.normal(0.0, 0.02, (n_refits, n_rows)) < mu + effect[:, None]
        predictions = agree.astype(int)  # 1 = agrees with the reference
        low, high = refit_bootstrap_ci(
            fidelity_score, reference, predictions, n_resamples=200, random_state=rng
        )
        covered_refits += low <= mu <= high
        low, high = bootstrap_ci(
            fidelity_score, reference, predictions[0], n_resamples=200, random_state=rng
        )
        covered_rows += low <= mu <= high
    assert covered_refits / repetitions >= 0.9
    assert covered_rows / repetitions < 0.9


# --------------------------------------------------------------------------- verdict
@pytest.fixture(scope="module")
def imbalanced():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4))
    y = (X[:, 0] + 0.3 * rng.normal(size=400) > 1.1).astype(int)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    teacher = LogisticRegression().fit(frame.iloc[:200], y[:200])
    return teacher, frame.iloc[:200], y[:200], frame.iloc[200:], y[200:]


def test_a_majority_class_student_is_called_unfaithful(imbalanced) -> None:
    teacher, train, y_train, test, y_test = imbalanced
    majority = int(np.bincount(teacher.predict(train)).argmax())
    constant = DummyClassifier(strategy="constant", constant=majority).fit(train, y_train)
    with pytest.warns(LowFidelityWarning, match="may not stand for the teacher"):
        report = DistillationReport.from_models(
            teacher,
            {"constant": constant},
            test,
            y_test,
            class_names=["no", "default"],
            **NO_EXPLAIN,
        )
    r = report.students["constant"]
    assert r.fidelity >= 0.85
    entry = report.to_dict()["students"]["constant"]
    assert entry["kappa"] == pytest.approx(0.0)
    assert entry["worst_class"] == "default" and entry["worst_class_fidelity"] == 0.0
    assert entry["majority_baseline"] == pytest.approx(r.fidelity)
    assert entry["faithful"] is False
    text = report.verdict("constant")
    assert text.startswith("is not faithful")
    assert "agrees on 0.0% of the" in text and "rows the teacher flags as 'default'" in text
    table = report.metrics.set_index("model")
    assert table.loc["constant", "kappa"] == pytest.approx(0.0)
    assert table.loc["constant", "worst_class_fidelity"] == 0.0


def test_a_faithful_student_is_called_faithful(imbalanced) -> None:
    teacher, train, _, test, y_test = imbalanced
    copy = LogisticRegression().fit(train, teacher.predict(train))
    with warnings.catch_warnings():
        warnings.simplefilter("error", LowFidelityWarning)
        report = DistillationReport.from_models(teacher, {"copy": copy}, test, y_test, **NO_EXPLAIN)
    assert report.verdict("copy").startswith("is faithful")
    assert report.to_dict()["students"]["copy"]["kappa"] > 0.6


# --------------------------------------------------------------------------- fair floor
class _Sum:
    """A model whose class-1 probability is sigmoid of the sum of some columns."""

    def __init__(self, columns: list[int]) -> None:
        self.columns = columns
        self.classes_ = np.array([0, 1])

    def predict_proba(self, X):
        z = np.asarray(X, dtype=float)[:, self.columns].sum(axis=1)
        p = 1.0 / (1.0 + np.exp(-z))
        return np.column_stack([1 - p, p])


def _check(student, X, k=3, runs=2):
    teacher = _Sum([0, 1, 2])
    kwargs = {"method": "permutation", "max_background": 30, "n_permutations": 2}
    target = np.ones(len(X), dtype=int)
    t_runs = explain_runs(teacher, X, X, target, 0, 0, runs, kwargs)
    s_runs = explain_runs(student, X, X, target, 0, 1, runs, kwargs)
    floor = cross_agreement(t_runs, None, k, 300, 0)
    agreement = cross_agreement(t_runs, s_runs, k, 300, 0)
    return uses_teacher_features(agreement, floor)


def test_a_copy_of_the_teacher_is_indistinguishable_from_the_floor() -> None:
    X = np.random.default_rng(0).normal(size=(60, 9))
    check = _check(_Sum([0, 1, 2]), X)
    assert check["overlaps"] is True
    assert abs(check["gap"]) < 0.1


def test_a_student_on_disjoint_features_falls_clearly_below_the_floor() -> None:
    X = np.random.default_rng(0).normal(size=(60, 9))
    check = _check(_Sum([3, 4, 5]), X)
    assert check["overlaps"] is False
    assert check["student_ci"][1] < check["floor_ci"][0]
    assert check["gap"] > 0.5


def test_runs_use_independent_seeds_and_backgrounds() -> None:
    X = np.random.default_rng(0).normal(size=(20, 9))
    kwargs = {"method": "permutation", "max_background": 10, "n_permutations": 2}
    runs = explain_runs(_Sum([0, 1]), X, X, np.ones(20, dtype=int), 0, 0, 2, kwargs)
    assert not np.allclose(runs[0].values, runs[1].values)


# --------------------------------------------------------------------------- refits, budget
@pytest.fixture(scope="module")
def distilled(binary_data):
    X, y = binary_data
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    train, test = frame.iloc[:140], frame.iloc[140:]
    teacher = LogisticRegression().fit(train, y[:140])
    student = DistilledClassifier(teacher, DecisionTreeClassifier(max_depth=2), random_state=0).fit(
        train, y[:140]
    )
    soft = DistilledClassifier(teacher, SoftLogisticRegression(), random_state=0).fit(
        train, y[:140]
    )
    return teacher, {"tree": student, "logistic": soft}, train, y[:140], test, y[140:]


def test_refits_make_refit_aware_intervals_and_leave_the_teacher_alone(distilled) -> None:
    teacher, students, train, y_train, test, y_test = distilled
    coef_before = teacher.coef_.copy()
    report = DistillationReport.from_models(
        teacher,
        {"tree": students["tree"]},
        test,
        y_test,
        X_fit=train,
        y_fit=y_train,
        n_refits=3,
        min_fidelity=0.0,
        min_kappa=-1.0,
        **NO_EXPLAIN,
    )
    np.testing.assert_array_equal(teacher.coef_, coef_before)
    entry = report.to_dict()["students"]["tree"]
    assert entry["interval"]["kind"] == "refits x rows" and entry["interval"]["n_refits"] == 3
    assert "training randomness included" in entry["interval"]["description"]
    assert report.config["interval_kind"] == "refits x rows"
    low, high = entry["fidelity_ci"]
    assert low <= entry["fidelity_refit_mean"] <= high


def test_refits_without_training_rows_are_refused_or_noted(distilled) -> None:
    teacher, students, _, _, test, y_test = distilled
    with pytest.raises(ParameterError, match="Pass X_fit= \\(and y_fit=\\), or n_refits=1"):
        DistillationReport.from_models(teacher, students, test, y_test, n_refits=3, **NO_EXPLAIN)
    report = DistillationReport.from_models(teacher, students, test, y_test, **NO_EXPLAIN)
    budget = report.to_dict()["budget"]
    assert budget["preset"] == "standard" and budget["n_refits"] == 1
    assert "X_fit" in budget["refit_note"]


def test_a_student_without_a_seed_cannot_be_refitted(distilled) -> None:
    teacher, _, train, y_train, test, y_test = distilled

    class NoSeed(LogisticRegression):
        def __init__(self, C=1.0):
            super().__init__(C=C)

        def get_params(self, deep=True):
            return {"C": self.C}

    model = NoSeed().fit(train, teacher.predict(train))
    with pytest.raises(ParameterError, match="has no random_state parameter"):
        DistillationReport.from_models(
            teacher,
            {"noseed": model},
            test,
            y_test,
            X_fit=train,
            y_fit=y_train,
            n_refits=2,
            **NO_EXPLAIN,
        )


def test_presets_set_the_budget_and_an_unknown_one_is_named(distilled) -> None:
    teacher, students, _, _, test, y_test = distilled
    with pytest.raises(ParameterError, match="preset"):
        DistillationReport.from_models(teacher, students, test, y_test, preset="huge")
    with pytest.raises(ParameterError, match="n_explanations"):
        DistillationReport.from_models(teacher, students, test, y_test, n_explanations=1)
    report = DistillationReport.from_models(
        teacher, students, test, y_test, preset="quick", explain_rows=0
    )
    budget = report.to_dict()["budget"]
    quick = PRESETS["quick"]
    assert budget["n_bootstrap"] == quick.n_bootstrap
    assert budget["max_background"] == quick.max_background
    assert budget["explain_rows"] == 0  # the explicit value wins


def test_a_too_small_explainer_budget_is_warned(distilled) -> None:
    teacher, students, train, _, test, y_test = distilled
    with pytest.warns(InterpretableKDWarning, match="budget may be too small"):
        report = DistillationReport.from_models(
            teacher,
            {"tree": students["tree"]},
            test,
            y_test,
            background=train,
            explain_rows=4,
            max_background=3,
            n_bootstrap=50,
            min_fidelity=0.0,
            min_kappa=-1,
        )
    assert "too small" in report.to_dict()["budget"]["warning"]
    assert report.students["tree"].features_check is not None


def test_temperature_and_its_search_reach_metrics_json(distilled) -> None:
    teacher, students, _, _, test, y_test = distilled
    report = DistillationReport.from_models(
        teacher, students, test, y_test, min_fidelity=0.0, min_kappa=-1, **NO_EXPLAIN
    )
    entry = report.to_dict()["students"]["logistic"]
    assert entry["temperature"] == pytest.approx(students["logistic"].temperature_)
    search = entry["temperature_search"]
    assert len(search) == len(students["logistic"].temperature_search_)
    assert sum(bool(row["chosen"]) for row in search) == 1
    assert report.to_dict()["students"]["tree"]["temperature"] is None


# --------------------------------------------------------------------------- bundled data
@pytest.mark.parametrize("name", ["compas", "german_credit"])
def test_bundled_data_summary_shows_every_headline_number(name) -> None:
    from bs4 import BeautifulSoup

    from interpretable_kd.datasets import split_dataset
    from interpretable_kd.report.html import render_html

    split = split_dataset(name, random_state=0)
    train, test = split.X_train.iloc[:300], split.X_test.iloc[:200]
    y_train, y_test = split.y_train[:300], split.y_test[:200]
    teacher = LogisticRegression(max_iter=500).fit(train, y_train)
    students = {
        "tree": DistilledClassifier(
            teacher, DecisionTreeClassifier(max_depth=3), random_state=0
        ).fit(train, y_train),
        "logistic": DistilledClassifier(teacher, SoftLogisticRegression(), random_state=0).fit(
            train, y_train
        ),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LowFidelityWarning)
        report = DistillationReport.from_models(
            teacher, students, test, y_test, dataset_name=name, preset="quick", explain_rows=0
        )
    metrics = report.to_dict()
    soup = BeautifulSoup(render_html(report, metrics, {"students": {}}), "html.parser")
    for student in students:
        card = soup.select_one(f'table.headline[data-student="{student}"]')
        entry = metrics["students"][student]
        for key in ("majority_baseline", "kappa", "balanced_fidelity", "worst_class_fidelity"):
            cell = card.select_one(f'td[data-metric="{key}"]')
            assert cell is not None and cell.get_text().strip() not in ("", "—")
            assert entry[key] is not None
        assert entry["worst_class"] in card.get_text()
        assert f"{100 * entry['majority_baseline']:.1f}%" in card.get_text()
    assert soup.select_one("p.budget")["data-preset"] == "quick"


def test_refit_aware_intervals_stay_within_the_metrics_range() -> None:
    """Regression: the small-refit correction pushed a worst-class interval to 101.2%."""
    from interpretable_kd.metrics import fidelity_score, refit_bootstrap_ci

    reference = np.zeros(200, dtype=int)
    perfect = np.zeros(200, dtype=int)
    worse = perfect.copy()
    worse[:12] = 1  # one refit agrees on 94% of rows, the other two on all of them
    low, high = refit_bootstrap_ci(
        fidelity_score,
        reference,
        np.vstack([perfect, perfect, worse]),
        n_resamples=300,
        random_state=0,
        bounds=(0.0, 1.0),
    )
    assert 0.0 <= low <= high <= 1.0
    unclipped = refit_bootstrap_ci(
        fidelity_score,
        reference,
        np.vstack([perfect, perfect, worse]),
        n_resamples=300,
        random_state=0,
    )
    assert unclipped[1] > 1.0  # the correction does overshoot without the bounds
