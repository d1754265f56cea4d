"""The additive student's data-adaptive rules: knots on tied columns, the "auto" sizes,
the temperature-scaled smoothness, and the pair screen's cross-tables."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from interpretable_kd._defaults import ADDITIVE_MAX_KNOTS, ADDITIVE_MIN_KNOTS, ADDITIVE_MIN_PAIRS
from interpretable_kd._torch_utils import Targets
from interpretable_kd.exceptions import ParameterError
from interpretable_kd.students._additive_module import quantile_knots
from interpretable_kd.students._additive_solver import screen_pairs
from interpretable_kd.students.additive import AdditiveClassifier, auto_sizes


def test_tied_column_gets_knots_in_its_tail() -> None:
    """90% zeros and a tail of 300 distinct values: row quantiles alone give 1 + ~3
    knots; the top-up spends the rest over the distinct values, so the tail has knots."""
    rng = np.random.default_rng(0)
    column = np.where(rng.random(3000) < 0.9, 0.0, rng.integers(1, 301, 3000).astype(float))
    row_quantiles = np.unique(np.quantile(column, np.linspace(0, 1, 16)))
    assert row_quantiles.size < 8
    knots = quantile_knots(column, 16)
    assert knots.size == 16
    assert np.all(np.diff(knots) > 0)
    assert knots[0] == column.min() and knots[-1] == column.max()
    assert set(row_quantiles) <= set(knots)
    assert np.sum(knots > np.quantile(column, 0.95)) >= 8


def test_continuous_column_keeps_its_row_quantiles() -> None:
    column = np.random.default_rng(1).normal(size=2000)
    np.testing.assert_array_equal(
        quantile_knots(column, 20), np.quantile(column, np.linspace(0, 1, 20))
    )


@pytest.mark.parametrize(
    ("n_rows", "n_classes", "knots", "pairs"),
    [
        (100, 2, ADDITIVE_MIN_KNOTS, ADDITIVE_MIN_PAIRS),  # few rows: the floors
        (4_900, 2, 70, 76),  # sqrt(4900) knots; n / 64 pairs
        (40_000, 2, ADDITIVE_MAX_KNOTS, 25),  # the knot cap; the design bound 1e6 / n
        (1_000, 10, ADDITIVE_MIN_KNOTS, ADDITIVE_MIN_PAIRS),  # n / 64 = 15 < 1e6 / (n * 10): floor
        (5_000, 10, 71, 20),  # ten outputs: 1e6 / (5000 * 10) = 20 < n / 64
    ],
)
def test_auto_sizes_follow_the_rows_and_outputs(n_rows, n_classes, knots, pairs) -> None:
    assert auto_sizes(n_rows, n_classes, "auto", "auto") == (knots, pairs)
    assert auto_sizes(n_rows, n_classes, 7, 3) == (7, 3)  # an int is kept


def test_fitted_sizes_are_recorded_and_capped_by_the_pairs_there_are() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    model = AdditiveClassifier(random_state=0).fit(X, y)
    assert (model.n_knots_, model.max_interactions_) == auto_sizes(300, 2, "auto", "auto")
    assert model.module_.n_knots == model.n_knots_
    assert len(model.interactions_) <= 6  # 4 features: 6 pairs at most
    assert model.module_.max_pairs == 6


@pytest.mark.parametrize(("name", "value"), [("n_knots", "many"), ("max_interactions", "all")])
def test_auto_parameters_reject_other_strings(name, value) -> None:
    X = np.random.default_rng(0).normal(size=(30, 2))
    with pytest.raises(ParameterError, match=rf"'{name}' parameter .* must be 'auto' or an int"):
        AdditiveClassifier(**{name: value}).fit(X, X[:, 0] > 0)


def test_smoothness_keeps_its_weight_relative_to_a_sharpened_loss() -> None:
    """The soft term is T^2 KL: the smoothness weight is scaled by T^2 with it."""
    model = AdditiveClassifier(smoothness=2.0)
    soft = torch.zeros(5, 2)
    assert model._smoothness(Targets(None, soft, 0.5, 0.0)) == pytest.approx(0.5)
    assert model._smoothness(Targets(None, soft, 4.0, 0.0)) == pytest.approx(32.0)
    hard = torch.zeros(5, dtype=torch.int64)
    assert model._smoothness(Targets(hard, None, 1.0, 1.0)) == pytest.approx(2.0)


def _brute_force_gain(x_i, x_j, residual, cuts_i, cuts_j):
    """Best four-quadrant gain over every pair of cuts, minus the one-constant fit."""
    best = -np.inf
    for a in cuts_i:
        for b in cuts_j:
            gain = 0.0
            for q_i in (x_i <= a, x_i > a):
                for q_j in (x_j <= b, x_j > b):
                    rows = q_i & q_j
                    if rows.any():
                        gain += (residual[rows].sum(0) ** 2).sum() / rows.sum()
            best = max(best, gain)
    return best - (residual.sum(0) ** 2).sum() / len(residual)


def test_screen_ranks_pairs_by_the_brute_force_fast_gain() -> None:
    """The cross-tables from one-hot products give the same scores as enumerating every
    cut of every pair directly (4 features, discrete values: one bin per value)."""
    rng = np.random.default_rng(3)
    X = rng.integers(0, 4, size=(400, 4)).astype(float)
    residual = np.column_stack(
        [np.where((X[:, 0] > 1) == (X[:, 2] > 2), 1.0, -1.0) + 0.3 * rng.normal(size=400)]
    )
    knots = [np.unique(X[:, j]) for j in range(4)]
    scores = {}
    for i in range(4):
        for j in range(i + 1, 4):
            scores[(i, j)] = _brute_force_gain(
                X[:, i], X[:, j], residual, knots[i][:-1], knots[j][:-1]
            )
    expected = [pair for pair, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))]
    expected = [pair for pair in expected if scores[pair] > 0]
    assert screen_pairs(X, residual, knots, 6) == expected
    assert expected[0] == (0, 2)
