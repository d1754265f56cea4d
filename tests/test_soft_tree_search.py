"""The soft tree inside ``temperature="auto"`` (issue 11, speed at defaults): the final fit
tries the sparsity the search chose first, and the TAO node problems' shortcuts (a
logistic fit reused from the pursuit, warm starts, one sort per stump) find what the
plain computations find."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from scipy.optimize import minimize

from interpretable_kd import DistilledClassifier, as_teacher
from interpretable_kd import _temperature as temperature_module
from interpretable_kd.students import SoftDecisionTreeClassifier
from interpretable_kd.students import _soft_tree_fit as fitting
from interpretable_kd.students._soft_tree_tao_node import (
    _REFIT_L2,
    _logistic_newton,
    _logistic_pursuit,
    best_stump,
)

FAST = {"depth": 2, "max_epochs": 4, "learning_rate": 0.05, "random_state": 0}


@pytest.fixture(scope="module")
def wide() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """900 rows, 12 features (so "auto" may try 5 and 10 per split), an oblique teacher
    given by its logits."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((900, 12)).astype(np.float32)
    logits = oblique_logits(X)
    return X, logits, logits.argmax(axis=1)


def tried_sizes(monkeypatch: pytest.MonkeyPatch) -> list[list[Any]]:
    """Record the sizes every fresh fit ran TAO with (one list per fit)."""
    runs: list[list[Any]] = []
    real_tao, real_fit = fitting.tao_initialise, fitting.initialise_and_train

    def tao(*args: Any, **kwargs: Any) -> Any:
        runs[-1].append(kwargs["max_features"])
        return real_tao(*args, **kwargs)

    def fit(*args: Any, **kwargs: Any) -> Any:
        runs.append([])
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(fitting, "tao_initialise", tao)
    monkeypatch.setattr(fitting, "initialise_and_train", fit)
    return runs


def fitted_with_size(X: np.ndarray, logits: np.ndarray, size: Any) -> Any:
    """A fitted "auto" tree whose fit resolved ``size`` (as a search candidate would)."""
    tree = SoftDecisionTreeClassifier(**FAST)
    tree.fit_distill(X, logits, classes=np.arange(2), temperature=1.0)
    tree.selection_["max_features_per_node"] = size
    return tree


# ------------------------------------------------------------------ the search's size first
@pytest.mark.parametrize(("carried", "first"), [(5, 5), (10, 10), (None, 10)])
def test_final_fit_tries_the_searchs_size_first(
    wide: tuple[np.ndarray, np.ndarray, np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
    carried: Any,
    first: int,
) -> None:
    X, logits, _ = wide
    candidate = fitted_with_size(X, logits, carried)
    runs = tried_sizes(monkeypatch)
    final = SoftDecisionTreeClassifier(**FAST)
    final._reuse_search(candidate)
    final.fit_distill(X, logits, classes=np.arange(2), temperature=1.0)
    sel = final.selection_
    assert sel["max_features_per_node_from"] == "validation, the search's size first"
    tries = sel["tao_validation_fidelity_by_size"]
    # dense first (the reference), then the search's size (10, the widest, for dense)
    assert list(tries)[:2] == ["dense", first]
    assert runs == [[None, *[k for k in tries if k != "dense"]]]
    if tries[first] >= tries["dense"] - 0.01:  # within the tolerance: kept, TAO ran twice
        assert len(tries) == 2 and sel["max_features_per_node"] == first
    else:  # not: the other size is tried as usual
        assert set(tries) == {"dense", 5, 10}
    # the carried size is used once: a refit of the same object chooses as usual
    final.fit_distill(X, logits, classes=np.arange(2), temperature=1.0)
    assert final.selection_["max_features_per_node_from"] == "validation"
    assert list(final.selection_["tao_validation_fidelity_by_size"])[:2] == ["dense", 5]


@pytest.mark.parametrize(
    "params", [{"max_features_per_node": 5}, {"max_features_per_node": None}, {"init": "random"}]
)
def test_nothing_is_carried_unless_auto_with_a_cart_start(
    wide: tuple[np.ndarray, np.ndarray, np.ndarray], params: dict[str, Any]
) -> None:
    X, logits, _ = wide
    candidate = fitted_with_size(X, logits, 10)
    final = SoftDecisionTreeClassifier(**{**FAST, **params})
    final._reuse_search(candidate)
    assert "_search_features_per_node" not in final.__dict__
    final.fit_distill(X, logits, classes=np.arange(2), temperature=1.0)
    assert final.selection_["max_features_per_node_from"] == "parameter"


def test_a_continued_fit_records_the_size_of_the_fit_that_made_it(
    wide: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    X, logits, _ = wide
    tree = SoftDecisionTreeClassifier(**FAST)
    tree.fit_distill(X, logits, classes=np.arange(2), temperature=1.0)
    size = tree.selection_["max_features_per_node"]
    tree._fit_distill(
        X, logits, None, classes=np.arange(2), temperature=0.5, hard_label_weight=0.0,
        warm_start=True,
    )  # fmt: skip
    assert tree.selection_["max_features_per_node_from"] == "fitted tree"
    assert tree.selection_["max_features_per_node"] == size
    assert tree.selection_["tao_validation_fidelity_by_size"] == {}  # no TAO in a refit


def test_distilled_classifier_final_fit_starts_from_the_chosen_candidates_size(
    wide: tuple[np.ndarray, np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    X, _, _ = wide
    monkeypatch.setattr(temperature_module, "TEMPERATURE_SEARCH_MIN_VALID_ROWS", 0)
    seen: list[Any] = []
    real = SoftDecisionTreeClassifier._reuse_search

    def spy(self: Any, candidate: Any) -> None:
        seen.append(candidate.selection_["max_features_per_node"])
        real(self, candidate)

    monkeypatch.setattr(SoftDecisionTreeClassifier, "_reuse_search", spy)
    runs = tried_sizes(monkeypatch)
    teacher = as_teacher(oblique_logits, output="logits", classes=[0, 1])
    model = DistilledClassifier(teacher, SoftDecisionTreeClassifier(**FAST), random_state=0)
    model.fit(X)
    assert model.temperature_search_ is not None and len(seen) == 1
    carried = seen[0]  # the k the search's shared start resolved, kept by the candidate
    assert carried == runs[0][-1] or carried is None
    # 1 search start with TAO, 6 candidates without, the final fit with the size first
    assert [len(r) > 0 for r in runs] == [True] + [False] * 6 + [True]
    final = model.student_.selection_
    hint = carried if carried is not None else 10
    assert runs[-1][:2] == [None, hint]
    assert list(final["tao_validation_fidelity_by_size"])[:2] == ["dense", hint]


def oblique_logits(X: Any) -> np.ndarray:
    """The logits of the ``wide`` fixture's teacher."""
    score = np.asarray(X, dtype=np.float64)[:, :6] @ np.array([1.0, -0.8, 0.6, 0.5, -0.4, 0.3])
    return np.column_stack([-score, score])


# ------------------------------------------------------------------ node problems
def penalised_logistic(design: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The optimum of ``_logistic_newton``'s objective by L-BFGS (a reference)."""
    ridge = np.full(design.shape[1], _REFIT_L2)
    ridge[-1] = 1e-8
    sign = 2.0 * y - 1.0

    def f(t: np.ndarray) -> tuple[float, np.ndarray]:
        m = design @ t
        p = 1.0 / (1.0 + np.exp(-m))
        value = np.logaddexp(0.0, -sign * m).sum() + 0.5 * (ridge * t * t).sum()
        return float(value), design.T @ (p - y) + ridge * t

    found = minimize(f, np.zeros(design.shape[1]), jac=True, method="L-BFGS-B", tol=1e-12)
    return np.asarray(found.x)


def node_problem(seed: int, n: int = 400, p: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = (X[:, 0] - 0.7 * X[:, 1] + 0.8 * rng.standard_normal(n) > 0.2).astype(np.float64)
    return X, y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_newton_reaches_the_penalised_optimum_from_any_start(seed: int) -> None:
    X, y = node_problem(seed)
    design = np.column_stack([X[:, :3], np.ones(len(X))])
    best = penalised_logistic(design, y)
    coef = np.linalg.lstsq(design, y - 0.5, rcond=None)[0]
    for start in (4.0 * coef, np.zeros(4), best + 0.5):
        np.testing.assert_allclose(_logistic_newton(design, y, start), best, atol=2e-3)


def test_newton_stays_finite_on_separable_rows() -> None:
    X, _ = node_problem(3)
    y = (X[:, 0] > 0).astype(np.float64)  # separable: the penalty keeps the weights finite
    design = np.column_stack([X[:, :2], np.ones(len(X))])
    theta = _logistic_newton(design, y, np.zeros(3))
    assert np.all(np.isfinite(theta))
    assert np.mean((design @ theta > 0) == (y > 0)) >= 0.99
    assert abs(theta[0]) > 10 * abs(theta[1])  # the separating column dominates


@pytest.mark.parametrize("seed", [0, 4])
def test_pursuit_fits_are_the_optima_of_their_supports(seed: int) -> None:
    """The node problem reuses the pursuit's warm-started fits instead of refitting."""
    X, y = node_problem(seed, p=8)
    found = _logistic_pursuit(X, y, 4, [0])
    assert [len(s) for s, _ in found] == [1, 2, 3, 4]
    assert all(np.array_equal(s, np.sort(s)) and 0 in s for s, _ in found)
    for support, theta in found:
        design = np.column_stack([X[:, support], np.ones(len(X))])
        np.testing.assert_allclose(theta, penalised_logistic(design, y), atol=2e-3)


def test_best_stump_breaks_ties_by_column_then_cut_then_direction() -> None:
    """The first of the fewest errors in the order: every cut of column 0, of column 1,
    ... for "right when z_j > t", then the same for the flipped splits."""
    rng = np.random.default_rng(7)
    for _ in range(200):
        n, p = int(rng.integers(2, 12)), int(rng.integers(1, 4))
        X = rng.integers(0, 3, size=(n, p)).astype(float)
        t = rng.random(n) < 0.5
        order = []
        for flip in (False, True):
            for j in range(p):
                values = np.unique(X[:, j])
                for low, high in itertools.pairwise(values):
                    threshold = 0.5 * (low + high)
                    errors = int(np.sum((X[:, j] > threshold) != t))
                    order.append((n - errors if flip else errors, flip, j, threshold))
        found = best_stump(X, t)
        if not order:
            assert found is None
            continue
        errors, flip, j, threshold = min(order, key=lambda o: o[0])  # the first minimum
        w, bias = found
        expected = np.zeros(p)
        expected[j] = -1.0 if flip else 1.0
        np.testing.assert_array_equal(w, expected)
        assert bias == pytest.approx(threshold if flip else -threshold)
