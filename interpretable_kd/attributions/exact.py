"""Exact interventional Shapley values by enumerating every coalition (``method="exact"``).

Cost per explained row: (2^d - 2) * n_background model evaluations, so
:func:`~interpretable_kd.attributions.explain` allows it up to 16 features and picks it
by default up to 8.
"""

from __future__ import annotations

import math

import numpy as np

from ._value import _evaluate, _ModelFunction


def _exact_shapley(
    predict: _ModelFunction,
    X: np.ndarray,
    target: np.ndarray,
    background: np.ndarray,
    weights: np.ndarray,
    v_full: np.ndarray,
    v_empty: np.ndarray,
    batch_size: int,
) -> np.ndarray:
    """Exact Shapley values by enumerating all 2^d coalitions.

    ``phi_j = sum_{S ∌ j} |S|! (d - |S| - 1)! / d! * (v(S ∪ {j}) - v(S))``, written as
    ``phi = V @ W`` with V (n_rows, 2^d) the coalition values and
    ``W[S, j] = +w(|S| - 1)`` if j ∈ S, ``-w(|S|)`` otherwise. Cost: (2^d - 2) *
    n_background model evaluations per row.

    Parameters
    ----------
    predict : _ModelFunction
        The model.
    X : ndarray of shape (n_rows, d)
        Explained rows.
    target : int ndarray of shape (n_rows,)
        Explained class of each row.
    background : ndarray of shape (n_background, d)
        Background rows z_b.
    weights : ndarray of shape (n_background,)
        Background weights w_b, summing to 1.
    v_full : ndarray of shape (n_rows,)
        ``v(all) = f_t(x)``.
    v_empty : ndarray of shape (n_rows,)
        ``v(none) = sum_b w_b f_t(z_b)``.
    batch_size : int
        Target number of inputs per model call.

    Returns
    -------
    ndarray of shape (n_rows, d)
        Shapley values; each row sums to ``v_full - v_empty``.
    """
    d = X.shape[1]
    n_bg = len(background)
    masks = ((np.arange(2**d)[:, None] >> np.arange(d)) & 1).astype(bool)  # 0: none, -1: all
    interior = masks[1:-1]

    def pair_inputs(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return interior[index // n_bg], background[index % n_bg]

    V = np.empty((len(X), 2**d))
    V[:, 0], V[:, -1] = v_empty, v_full
    V[:, 1:-1] = _evaluate(
        predict, X, target, len(interior) * n_bg, pair_inputs, batch_size, n_bg, weights
    )
    weight = np.array([math.factorial(s) * math.factorial(d - s - 1) for s in range(d)]) / (
        math.factorial(d)
    )
    sizes = masks.sum(axis=1)
    W = np.where(
        masks,
        weight[np.clip(sizes - 1, 0, d - 1)][:, None],
        -weight[np.clip(sizes, 0, d - 1)][:, None],
    )
    return V @ W
