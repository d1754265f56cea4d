"""Tests for interpretable_kd.attributions: explanations of analytic models with known
Shapley values, completeness, reproducibility, agreement metrics and bad input."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shap
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from interpretable_kd.attributions import (
    Attributions,
    agreement_summary,
    explain,
    explain_backend,
    feature_agreement,
    global_rank_correlation,
    pairwise_rank_agreement,
    rank_agreement,
    rank_correlation,
    sign_agreement,
    signed_rank_agreement,
)
from interpretable_kd.exceptions import InputError, InputTypeError, ParameterError

from .strategies import attribution_pairs

# Shapley values of the analytic models are exact up to float64 rounding.
EXACT_TOL = 1e-10


class ProbabilityModel:
    """A binary classifier given by its positive-class probability f: [1 - f(X), f(X)]."""

    def __init__(self, f: Callable[[np.ndarray], np.ndarray]) -> None:
        self.f = f
        self.calls: list[int] = []

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        self.calls.append(len(X))
        p = self.f(np.asarray(X))
        return np.column_stack([1.0 - p, p])


W = np.array([0.12, -0.08, 0.15, 0.0, 0.05])


def linear_model() -> ProbabilityModel:
    """Linear in probability: f(x) = 0.5 + w·x, in (0, 1) on [-1, 1]^5 since sum|w| < 0.5.
    Its interventional Shapley values are phi_j = w_j (x_j - mean(background_j))."""
    return ProbabilityModel(lambda X: 0.5 + X @ W)


def pairwise_model() -> ProbabilityModel:
    """Additive terms plus pairwise interactions only."""
    return ProbabilityModel(
        lambda X: 0.5 + 0.1 * X[:, 0] * X[:, 1] - 0.05 * X[:, 2] + 0.08 * np.sin(X[:, 3]) * X[:, 4]
    )


def three_way_model() -> ProbabilityModel:
    """A product of three features plus a product of two: not additive, not pairwise."""
    return ProbabilityModel(
        lambda X: 0.5 + 0.3 * X[:, 0] * X[:, 1] * X[:, 2] + 0.1 * X[:, 3] * X[:, 4]
    )


def brute_force_shapley(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, background: np.ndarray
) -> np.ndarray:
    """Shapley values of v(S) = mean_b f(x_S, b_~S) by the textbook formula (reference)."""
    d = len(x)

    def v(coalition: tuple[int, ...]) -> float:
        Z = background.copy()
        Z[:, list(coalition)] = x[list(coalition)]
        return float(f(Z).mean())

    phi = np.zeros(d)
    for j in range(d):
        others = [i for i in range(d) if i != j]
        for size in range(d):
            for S in itertools.combinations(others, size):
                weight = math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
                phi[j] += weight * (v((*S, j)) - v(S))
    return phi


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    """12 rows to explain and a 30-row background, uniform on [-1, 1]^5."""
    rng = np.random.default_rng(7)
    return rng.uniform(-1, 1, (12, 5)), rng.uniform(-1, 1, (30, 5))


def model_output(model: ProbabilityModel, X: np.ndarray, target: np.ndarray) -> np.ndarray:
    return model.predict_proba(X)[np.arange(len(X)), target]


def test_explain_backend_receives_every_call_and_is_undone_after_the_block(data: tuple) -> None:
    X, background = data
    calls: list[dict[str, Any]] = []

    def backend(model: Any, rows: Any, bg: Any, **keywords: Any) -> Attributions:
        calls.append(keywords)
        return explain(model, rows[::-1], bg, **keywords)  # hook off inside: no recursion

    model = pairwise_model()
    with explain_backend(backend):
        routed = explain(model, X, background, method="permutation", random_state=3)
    direct = explain(model, X, background, method="permutation", random_state=3)
    assert len(calls) == 1 and calls[0]["method"] == "permutation"
    assert calls[0]["random_state"] == 3 and calls[0]["n_permutations"] == 4
    # the backend's answer is what came back (rows reversed), and the hook is gone after
    np.testing.assert_allclose(routed.values, direct.values[::-1], atol=1e-12)
    with explain_backend(None):
        again = explain(model, X, background, method="permutation", random_state=3)
    np.testing.assert_array_equal(again.values, direct.values)
    assert len(calls) == 1


# --------------------------------------------------------------------------- analytic models


@pytest.mark.parametrize("method", ["exact", "permutation", "kernel", "auto"])
def test_linear_probability_model_has_closed_form_shapley_values(data: tuple, method: str) -> None:
    X, background = data
    result = explain(linear_model(), X, background, target=1, method=method, random_state=0)
    expected = W * (X - background.mean(axis=0))
    np.testing.assert_allclose(result.values, expected, atol=EXACT_TOL)
    np.testing.assert_allclose(result.base_values, 0.5 + background.mean(axis=0) @ W)
    assert result.method == ("exact" if method == "auto" else method)


def test_explaining_the_other_class_flips_the_signs(data: tuple) -> None:
    X, background = data
    result = explain(linear_model(), X, background, target=0, method="permutation")
    np.testing.assert_allclose(result.values, -W * (X - background.mean(axis=0)), atol=EXACT_TOL)


@pytest.mark.parametrize("model_factory", [pairwise_model, three_way_model])
def test_exact_matches_brute_force_enumeration(data: tuple, model_factory: Callable) -> None:
    X, background = data
    model = model_factory()
    result = explain(model, X, background, method="exact")
    positive = lambda Z: model.predict_proba(Z)[:, 1]  # noqa: E731
    for i in range(len(X)):
        expected = brute_force_shapley(positive, X[i], background)
        sign = 1.0 if result.target[i] == 1 else -1.0
        np.testing.assert_allclose(result.values[i], sign * expected, atol=EXACT_TOL)


def test_permutation_is_exact_for_pairwise_interactions_thanks_to_antithetic_pairs(
    data: tuple,
) -> None:
    X, background = data
    model = pairwise_model()
    exact = explain(model, X, background, method="exact")
    sampled = explain(model, X, background, method="permutation", n_permutations=2)
    np.testing.assert_allclose(sampled.values, exact.values, atol=EXACT_TOL)


def test_permutation_converges_to_exact_for_a_three_way_interaction(data: tuple) -> None:
    X, background = data
    model = three_way_model()
    exact = explain(model, X, background, method="exact").values
    errors = [
        np.abs(
            explain(
                model, X, background, method="permutation", n_permutations=n, random_state=3
            ).values
            - exact
        ).mean()
        for n in (2, 64)
    ]
    scale = np.abs(exact).mean()
    assert errors[0] > 0  # the estimator really samples here
    assert errors[1] < 0.05 * scale  # within 5% of the mean |phi| with 64 orderings per row
    assert errors[1] < errors[0] / 2


@pytest.mark.parametrize("method", ["exact", "permutation", "kernel"])
def test_completeness_values_plus_base_equal_model_output(data: tuple, method: str) -> None:
    X, background = data
    model = three_way_model()
    target = np.array([0, 1] * 6)
    result = explain(model, X, background, target=target, method=method, random_state=0)
    output = model_output(model, X, target)
    np.testing.assert_allclose(result.values.sum(axis=1) + result.base_values, output, atol=1e-8)
    assert result.model_output is not None
    np.testing.assert_allclose(result.model_output, output)
    assert result.check_additivity(atol=1e-8)
    assert result.check_additivity(output, atol=1e-8)
    assert not result.check_additivity(output + 0.1)


@settings(max_examples=8, deadline=None)
@given(st.permutations(range(5)))
def test_permuting_feature_columns_permutes_the_attributions(order: list[int]) -> None:
    rng = np.random.default_rng(1)
    X, background = rng.uniform(-1, 1, (4, 5)), rng.uniform(-1, 1, (10, 5))
    order_arr = np.array(order)
    inverse = np.argsort(order_arr)
    base = three_way_model()
    permuted = ProbabilityModel(lambda Z: base.f(Z[:, inverse]))
    original = explain(base, X, background, method="exact", target=1)
    moved = explain(permuted, X[:, order_arr], background[:, order_arr], method="exact", target=1)
    np.testing.assert_allclose(moved.values, original.values[:, order_arr], atol=EXACT_TOL)


# --------------------------------------------------------------------------- options


def test_auto_switches_to_permutation_beyond_eight_features() -> None:
    rng = np.random.default_rng(0)
    X, background = rng.uniform(-1, 1, (3, 9)), rng.uniform(-1, 1, (10, 9))
    w = np.full(9, 0.04)
    result = explain(ProbabilityModel(lambda Z: 0.5 + Z @ w), X, background, target=1)
    assert result.method == "permutation"
    np.testing.assert_allclose(result.values, w * (X - background.mean(axis=0)), atol=EXACT_TOL)


def test_target_defaults_to_argmax_and_accepts_a_scalar(data: tuple) -> None:
    X, background = data
    model = linear_model()
    result = explain(model, X, background, method="exact")
    np.testing.assert_array_equal(result.target, model.predict_proba(X).argmax(axis=1))
    assert explain(model, X, background, target=1, method="exact").target.tolist() == [1] * 12


def test_same_seed_same_values_other_seed_other_background(data: tuple) -> None:
    X, _ = data
    background = np.random.default_rng(3).uniform(-1, 1, (200, 5))
    model = three_way_model()
    kwargs: dict[str, Any] = {"method": "permutation", "max_background": 20}
    first = explain(model, X, background, random_state=1, **kwargs)
    again = explain(model, X, background, random_state=1, **kwargs)
    other = explain(model, X, background, random_state=2, **kwargs)
    np.testing.assert_array_equal(first.values, again.values)
    assert not np.allclose(first.values, other.values)
    # a different background subsample per seed: the noise floor compares independent runs
    assert not np.allclose(first.base_values, other.base_values)


def test_exact_with_a_small_background_does_not_depend_on_the_seed(data: tuple) -> None:
    X, background = data
    model = three_way_model()
    first = explain(model, X, background, method="exact", random_state=1)
    second = explain(model, X, background, method="exact", random_state=2)
    np.testing.assert_array_equal(first.values, second.values)


def test_kmeans_summary_is_seeded_weighted_and_complete(data: tuple) -> None:
    X, _ = data
    background = np.random.default_rng(3).uniform(-1, 1, (120, 5))
    model = linear_model()
    first = explain(model, X, background, summarize="kmeans", max_background=8, random_state=0)
    again = explain(model, X, background, summarize="kmeans", max_background=8, random_state=0)
    np.testing.assert_array_equal(first.values, again.values)
    output = model_output(model, X, first.target)
    np.testing.assert_allclose(first.completeness_gap(output), 0.0, atol=1e-12)


def test_small_batches_give_the_same_values(data: tuple) -> None:
    X, background = data
    model = three_way_model()
    for method in ("exact", "permutation"):
        model.calls.clear()
        small = explain(model, X, background, method=method, batch_size=7, random_state=0)
        assert max(model.calls[1:]) <= 30  # at most one background's worth beyond batch_size
        large = explain(model, X, background, method=method, random_state=0)
        np.testing.assert_allclose(small.values, large.values, atol=1e-14)


def test_model_calls_are_batched(data: tuple) -> None:
    X, background = data
    model = three_way_model()
    explain(model, X, background, method="permutation", n_permutations=4)
    # 12 rows * 30 background rows * 2 pairs * 2 * 4 coalitions = 5760 inputs, in one call
    assert len(model.calls) == 3
    assert model.calls[2] == 12 * 30 * 2 * 2 * 4


def test_linear_method_gives_logit_space_values_for_logistic_regression() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 4))
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    result = explain(model, X[:10], X[:40], method="linear", target=1)
    coef = model.coef_[0]
    np.testing.assert_allclose(result.values, coef * (X[:10] - X[:40].mean(axis=0)))
    assert result.output_space == "logit"
    np.testing.assert_allclose(
        result.completeness_gap(model.decision_function(X[:10])), 0, atol=1e-10
    )
    flipped = explain(model, X[:10], X[:40], method="linear", target=0)
    np.testing.assert_allclose(flipped.values, -result.values)


def test_linear_method_for_multiclass_uses_the_target_row_of_coef() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 3))
    y = np.argmax(X, axis=1)
    model = LogisticRegression().fit(X, y)
    result = explain(model, X[:6], X, method="linear", max_background=90)
    expected = model.coef_[result.target] * (X[:6] - X.mean(axis=0))
    np.testing.assert_allclose(result.values, expected)
    decision = model.decision_function(X[:6])[np.arange(6), result.target]
    np.testing.assert_allclose(result.completeness_gap(decision), 0, atol=1e-10)


def test_dataframes_give_feature_names_and_reach_models_fitted_on_them() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(60, 3)), columns=["age", "income", "debt"])
    model = LogisticRegression().fit(frame, (frame["age"] > 0).astype(int))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "X does not have valid feature names"
        result = explain(model, frame.iloc[:5], frame, method="exact")
    assert result.feature_names == ["age", "income", "debt"]
    assert explain(model, frame.iloc[:2], frame, feature_names=["a", "b", "c"]).feature_names == [
        "a",
        "b",
        "c",
    ]


def test_default_feature_names() -> None:
    rng = np.random.default_rng(0)
    result = explain(linear_model(), rng.uniform(-1, 1, (2, 5)), rng.uniform(-1, 1, (4, 5)))
    assert result.feature_names == ["x0", "x1", "x2", "x3", "x4"]


def test_single_feature(data: tuple) -> None:
    X, background = data
    model = ProbabilityModel(lambda Z: 0.5 + 0.3 * np.tanh(Z[:, 0]))
    for method in ("exact", "permutation"):
        result = explain(model, X[:, :1], background[:, :1], method=method, target=1)
        output = model_output(model, X[:, :1], result.target)
        np.testing.assert_allclose(result.values[:, 0] + result.base_values, output)


def test_explain_is_fast_for_thirty_features() -> None:
    """200 rows, 30 features, 50 background rows, a model as cheap as a logistic
    regression: the permutation estimator stays well under a second of CPU time."""
    import time

    rng = np.random.default_rng(0)
    w = rng.normal(size=30) / 30
    model = ProbabilityModel(lambda Z: 1 / (1 + np.exp(-(Z @ w))))
    X, background = rng.normal(size=(200, 30)), rng.normal(size=(100, 30))
    start = time.process_time()
    result = explain(model, X, background, random_state=0)
    elapsed = time.process_time() - start
    assert result.method == "permutation"
    assert elapsed < 3.0
    assert result.check_additivity(atol=1e-10)


# --------------------------------------------------------------------------- result type


def test_attributions_to_shap_and_global_importance(data: tuple) -> None:
    X, background = data
    result = explain(linear_model(), X, background, target=1, method="exact")
    explanation = result.to_shap()
    assert isinstance(explanation, shap.Explanation)
    np.testing.assert_array_equal(explanation.values, result.values)
    np.testing.assert_array_equal(explanation.base_values, result.base_values)
    assert list(explanation.feature_names) == result.feature_names
    np.testing.assert_allclose(result.global_importance(), np.abs(result.values).mean(axis=0))
    assert (result.n_rows, result.n_features) == (12, 5)


def test_attributions_validate_their_arrays() -> None:
    zeros2 = np.zeros(2)
    with pytest.raises(InputError, match=r"values of shape \(n_rows, n_features\), got \(3,\)"):
        Attributions(np.zeros(3), np.zeros(3), np.zeros(3), ["a"], np.zeros(3), "exact")
    with pytest.raises(InputError, match=r"data of the same shape as values \(2, 2\)"):
        Attributions(np.zeros((2, 2)), zeros2, np.zeros((2, 3)), ["a", "b"], zeros2, "exact")
    with pytest.raises(InputError, match=r"needs 2 feature_names.*got 1"):
        Attributions(np.zeros((2, 2)), zeros2, np.zeros((2, 2)), ["a"], zeros2, "exact")
    with pytest.raises(InputError, match=r"model_output of shape \(2,\)"):
        Attributions(
            np.zeros((2, 2)),
            zeros2,
            np.zeros((2, 2)),
            ["a", "b"],
            zeros2,
            "exact",
            "probability",
            np.zeros(3),
        )
    bare = Attributions(np.zeros((2, 2)), zeros2, np.zeros((2, 2)), ["a", "b"], zeros2, "exact")
    with pytest.raises(InputError, match=r"needs model_output: these attributions carry none"):
        bare.completeness_gap()
    with pytest.raises(InputError, match=r"model_output of shape \(2,\), one value per"):
        bare.completeness_gap([1.0, 2.0, 3.0])


# --------------------------------------------------------------------------- bad input


class NoProba:
    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.zeros(len(X))


class OneColumn:
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.full(len(X), 0.5)


class NanModel:
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.full((len(X), 2), np.nan)


class ThreeFeatures(ProbabilityModel):
    n_features_in_ = 3


X_BAD = np.zeros((2, 5))
BG_BAD = np.zeros((4, 5))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: explain(linear_model(), X_BAD, BG_BAD, method="exakt"),
            ParameterError,
            r"'method' parameter of explain must be one of.*Got 'exakt'.*Did you mean 'exact'",
        ),
        (
            lambda: explain(linear_model(), X_BAD, BG_BAD, summarize="kmean"),
            ParameterError,
            r"Did you mean 'kmeans'",
        ),
        (
            lambda: explain(linear_model(), X_BAD, BG_BAD, max_background=0),
            ParameterError,
            r"'max_background' parameter of explain must be an int",
        ),
        (
            lambda: explain(linear_model(), X_BAD, BG_BAD, n_permutations=0),
            ParameterError,
            r"'n_permutations' parameter",
        ),
        (
            lambda: explain(linear_model(), X_BAD, np.zeros((4, 4))),
            InputError,
            r"X has 5 columns and background has 4",
        ),
        (
            lambda: explain(ThreeFeatures(lambda Z: Z[:, 0]), X_BAD, BG_BAD),
            InputError,
            r"X has 5 features, but ThreeFeatures is expecting 3 features as input",
        ),
        (
            lambda: explain(linear_model(), X_BAD, BG_BAD, feature_names=["a"]),
            InputError,
            r"got 1 feature_names for 5 features: 'a'",
        ),
        (
            lambda: explain(linear_model(), np.zeros(5), BG_BAD),
            InputError,
            r"X of shape \(n_rows, n_features\), but got a 1-d array.*reshape\(1, -1\)",
        ),
        (
            lambda: explain(linear_model(), np.zeros((0, 5)), BG_BAD),
            InputError,
            r"empty X \(shape \(0, 5\)\)",
        ),
        (
            lambda: explain(linear_model(), X_BAD, np.full((4, 5), np.nan)),
            InputError,
            r"non-finite value \(NaN or inf\) in background at row 0, column 0",
        ),
        (lambda: explain(linear_model(), [["a"] * 5], BG_BAD), InputError, r"X as a numeric array"),
        (
            lambda: explain(NoProba(), X_BAD, BG_BAD),
            InputTypeError,
            r"model with a predict_proba\(X\) method.*Got NoProba",
        ),
        (
            lambda: explain(OneColumn(), X_BAD, BG_BAD),
            InputError,
            r"OneColumn.predict_proba to return an array of shape \(n_rows, n_classes\)",
        ),
        (
            lambda: explain(NanModel(), X_BAD, BG_BAD),
            InputError,
            r"NanModel.predict_proba returned non-finite values",
        ),
        (
            lambda: explain(linear_model(), X_BAD, BG_BAD, target=[0, 2]),
            InputError,
            r"target indices 0, 2.*returns 2 classes.*0..1",
        ),
        (
            lambda: explain(linear_model(), X_BAD, BG_BAD, target=[0.0, 1.0]),
            InputError,
            r"target as an int array of shape \(2,\).*float64",
        ),
        (
            lambda: explain(linear_model(), X_BAD, BG_BAD, target=[0, 1, 1]),
            InputError,
            r"target as an int array of shape \(2,\)",
        ),
        (
            lambda: explain(linear_model(), np.zeros((1, 17)), np.zeros((2, 17)), method="exact"),
            ParameterError,
            r"2\^17 coalitions.*at most 16 features.*'permutation'",
        ),
        (
            lambda: explain(linear_model(), X_BAD, BG_BAD, method="linear"),
            InputError,
            r"method='linear' needs a fitted linear model with coef_ and intercept_",
        ),
    ],
)
def test_explain_rejects_bad_input(call: Callable, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        call()


def test_explain_rejects_mismatched_dataframe_columns() -> None:
    X = pd.DataFrame(np.zeros((2, 2)), columns=["a", "b"])
    background = pd.DataFrame(np.zeros((3, 2)), columns=["b", "a"])
    with pytest.raises(InputError, match=r"same columns in the same order; X has 'a', 'b'"):
        explain(ProbabilityModel(lambda Z: Z[:, 0] * 0 + 0.5), X, background)


# --------------------------------------------------------------------------- agreement


A = np.array([[3.0, -2.0, 1.0, 0.0]])
B = np.array([[-3.0, 0.5, 2.0, 1.0]])


def test_top_k_agreement_metrics_hand_computed() -> None:
    # top-2: a -> features (0, 1), b -> (0, 2); feature 0 has opposite signs
    assert feature_agreement(A, B, 2).tolist() == [0.5]
    assert rank_agreement(A, B, 2).tolist() == [0.5]
    assert sign_agreement(A, B, 2).tolist() == [0.0]
    assert signed_rank_agreement(A, B, 2).tolist() == [0.0]
    # top-3: a -> (0, 1, 2), b -> (0, 2, 3); common {0, 2}; feature 2 is positive in both
    assert feature_agreement(A, B, 3).tolist() == pytest.approx([2 / 3])
    assert rank_agreement(A, B, 3).tolist() == pytest.approx([1 / 3])
    assert sign_agreement(A, B, 3).tolist() == pytest.approx([1 / 3])
    assert signed_rank_agreement(A, B, 3).tolist() == [0.0]


def test_signed_rank_agreement_counts_same_position_and_sign() -> None:
    a = np.array([[5.0, -4.0, 3.0, 0.1], [1.0, 2.0, 3.0, 4.0]])
    b = np.array([[6.0, -1.0, 2.0, 0.0], [-4.0, 3.0, 2.0, 1.0]])
    # row 0: top-3 a (0, 1, 2), b (0, 2, 1) -> position 0 agrees with the same sign
    # row 1: top-3 a (3, 2, 1), b (0, 1, 2) -> no position agrees; 1, 2 share signs
    np.testing.assert_allclose(signed_rank_agreement(a, b, 3), [1 / 3, 0.0])
    np.testing.assert_allclose(rank_agreement(a, b, 3), [1 / 3, 0.0])
    np.testing.assert_allclose(feature_agreement(a, b, 3), [1.0, 2 / 3])
    np.testing.assert_allclose(sign_agreement(a, b, 3), [1.0, 2 / 3])


def test_rank_correlation_and_pairwise_rank_agreement_hand_computed() -> None:
    # |a| = (3, 2, 1, 0), |b| = (3, 0.5, 2, 1): rank differences (0, 2, -1, -1)
    assert rank_correlation(A, B).tolist() == pytest.approx([1 - 6 * 6 / (4 * 15)])
    # pairs (1, 2) and (1, 3) swap order; 4 of 6 pairs agree
    assert pairwise_rank_agreement(A, B).tolist() == pytest.approx([4 / 6])
    assert pairwise_rank_agreement(A, B, features=[0, 2, 3]).tolist() == [1.0]


def test_rank_correlation_of_a_constant_row_is_nan() -> None:
    a = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    b = np.array([[1.0, 2.0, 3.0], [-1.0, -2.0, -3.0]])
    result = rank_correlation(a, b)
    assert np.isnan(result[0])
    assert result[1] == pytest.approx(1.0)


def test_global_rank_correlation() -> None:
    a = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    assert global_rank_correlation(a, -a) == pytest.approx(1.0)
    assert global_rank_correlation(a, a[:, ::-1]) == pytest.approx(-1.0)
    assert np.isnan(global_rank_correlation(a, np.ones_like(a)))


@settings(max_examples=30, deadline=None)
@given(attribution_pairs())
def test_agreement_metrics_are_shares_and_one_for_identical(pair: tuple) -> None:
    a, b = pair
    k = max(1, a.shape[1] // 2)
    for metric in (feature_agreement, rank_agreement, sign_agreement, signed_rank_agreement):
        values = metric(a, b, k)
        assert values.shape == (a.shape[0],)
        assert np.all((values >= 0) & (values <= 1))
        np.testing.assert_allclose(metric(a, a, k), 1.0)
    assert np.all(sign_agreement(a, b, k) <= feature_agreement(a, b, k))
    assert np.all(signed_rank_agreement(a, b, k) <= rank_agreement(a, b, k))
    if a.shape[1] >= 2:
        np.testing.assert_allclose(pairwise_rank_agreement(a, a), 1.0)


@settings(max_examples=15, deadline=None)
@given(attribution_pairs(), st.randoms(use_true_random=False))
def test_agreement_metrics_are_invariant_to_permuting_features(pair: tuple, random) -> None:
    a, b = pair
    order = np.array(random.sample(range(a.shape[1]), a.shape[1]))
    k = a.shape[1]  # with k = d, top-k sets do not depend on tie-breaking
    np.testing.assert_allclose(
        feature_agreement(a[:, order], b[:, order], k), feature_agreement(a, b, k)
    )
    np.testing.assert_allclose(
        rank_correlation(a[:, order], b[:, order]), rank_correlation(a, b), equal_nan=True
    )


def test_agreement_summary_means_intervals_and_identity() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(60, 8))
    b = a + rng.normal(scale=0.5, size=a.shape)
    summary = agreement_summary(a, b, k=3, n_bootstrap=200, random_state=0)
    assert set(summary) == {
        "feature_agreement",
        "rank_agreement",
        "sign_agreement",
        "signed_rank_agreement",
        "rank_correlation",
        "pairwise_rank_agreement",
        "global_rank_correlation",
    }
    assert summary["feature_agreement"]["mean"] == pytest.approx(feature_agreement(a, b, 3).mean())
    for entry in summary.values():
        low, high = entry["ci"]
        assert low <= entry["mean"] <= high
    assert summary == agreement_summary(a, b, k=3, n_bootstrap=200, random_state=0)
    same = agreement_summary(a, a, k=3, n_bootstrap=50, random_state=0)
    for entry in same.values():
        assert entry["mean"] == pytest.approx(1.0)
        assert entry["ci"] == (pytest.approx(1.0), pytest.approx(1.0))


def test_agreement_metrics_accept_attributions_and_feature_names(data: tuple) -> None:
    X, background = data
    first = explain(three_way_model(), X, background, target=1, method="exact")
    second = explain(linear_model(), X, background, target=1, method="exact")
    by_name = pairwise_rank_agreement(first, second, features=["x0", "x2", "x4"])
    np.testing.assert_array_equal(
        by_name, pairwise_rank_agreement(first, second, features=[0, 2, 4])
    )
    np.testing.assert_array_equal(
        feature_agreement(first, second, 2), feature_agreement(first.values, second.values, 2)
    )


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: feature_agreement(A, B, 5),
            ParameterError,
            r"'k' parameter of feature_agreement must be an int in the range \[1, 4\].*Got 5",
        ),
        (lambda: rank_agreement(A, B, 0), ParameterError, r"'k' parameter of rank_agreement"),
        (
            lambda: sign_agreement(A, np.zeros((2, 4)), 1),
            InputError,
            r"a and b of the same shape.*\(1, 4\) and \(2, 4\)",
        ),
        (
            lambda: rank_correlation(np.zeros(4), B),
            InputError,
            r"a of shape \(n_rows, n_features\).*got shape \(4,\)",
        ),
        (lambda: signed_rank_agreement(A, B * np.nan, 1), InputError, r"non-finite values.*in b"),
        (
            lambda: pairwise_rank_agreement(A, B, features=[1]),
            InputError,
            r"at least two distinct features",
        ),
        (
            lambda: pairwise_rank_agreement(A, B, features=[0, 9]),
            InputError,
            r"feature 9; features must be column indices in 0..3",
        ),
        (
            lambda: pairwise_rank_agreement(A, B, features=["age", "x0"]),
            InputError,
            r"feature 'age', which is not a feature name of a",
        ),
        (
            lambda: agreement_summary(A, B, k=5),
            ParameterError,
            r"'k' parameter of agreement_summary.*k=min\(k, n_features\)",
        ),
        (
            lambda: agreement_summary(A, B, k=2, n_bootstrap=0),
            ParameterError,
            r"'n_bootstrap' parameter of agreement_summary",
        ),
    ],
)
def test_agreement_metrics_reject_bad_input(call: Callable, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        call()


# --------------------------------------------------------------------------- memory budget


def test_batches_are_sized_by_the_memory_budget_not_a_row_count(data, monkeypatch) -> None:
    """With a budget of 19,200 bytes (one row of the permutation chains: 64 * 5 features *
    30 background rows * 2 pairs) and 5 features, a call gets at most 19200 // (32 * 5) =
    120 inputs, whatever batch_size says; the values do not change."""
    import interpretable_kd.attributions._explain as explain_module
    import interpretable_kd.attributions.permutation as permutation_module

    X, background = data
    model = three_way_model()
    full = explain(model, X, background, method="permutation", random_state=0)
    assert max(model.calls[2:]) > 120  # unbounded by the default budget: one big call
    for module in (explain_module, permutation_module):
        monkeypatch.setattr(module, "EXPLAIN_MEMORY_BUDGET", 19200)
    for method in ("exact", "permutation"):
        model.calls.clear()
        small = explain(model, X, background, method=method, random_state=0, batch_size=10**6)
        assert max(model.calls[2:]) <= 120
        reference = explain(three_way_model(), X, background, method=method, random_state=0)
        np.testing.assert_allclose(small.values, reference.values, atol=1e-14)
    model.calls.clear()
    again = explain(model, X, background, method="permutation", random_state=0)
    np.testing.assert_allclose(again.values, full.values, atol=1e-14)


def test_an_explanation_whose_one_row_exceeds_the_budget_is_refused_with_the_estimate() -> None:
    """10,000 features x 500 background rows x 1 antithetic pair: 64 * 10^4 * 500 bytes =
    305 MB per row, over the 256 MB budget; refused before the model is called."""
    model = ProbabilityModel(lambda X: np.full(len(X), 0.5))
    X = np.zeros((1, 10_000))
    background = np.zeros((500, 10_000))
    with pytest.raises(
        ParameterError,
        match=r"^explain would need about 305 MB per explained row for 10000 features x 500 "
        r"background rows x n_permutations=2, more than its memory budget of 256 MB; pass "
        r"max_background=419 or fewer\.$",
    ):
        explain(model, X, background, max_background=500, n_permutations=2)
    assert model.calls == []
    # One background row of 2.2 million features with 2 pairs: 64 * 2.2e6 * 2 = 269 MB.
    wide = np.zeros((1, 2_200_000))
    with pytest.raises(
        ParameterError, match=r"reduce the number of features .* \(or n_permutations=2\)\.$"
    ):
        explain(model, wide, wide, n_permutations=4)
    assert model.calls == []
