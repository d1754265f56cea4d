"""Antithetic permutation sampling of interventional Shapley values (``method="permutation"``).

Cost per explained row: n_background * n_orderings * (d - 1) model evaluations. Unbiased,
exact for models with at most pairwise interactions, and complete for every sample.
"""

from __future__ import annotations

import numpy as np

from .._defaults import EXPLAIN_MEMORY_BUDGET
from ._value import _evaluate, _ModelFunction


def permutation_row_bytes(d: int, n_background: int, n_orderings: int) -> int:
    """Working memory of one explained row in :func:`_permutation_shapley`, in bytes.

    Per (background row, antithetic pair) the row holds ``2 (d - 1)`` coalition values,
    two chains of ``d + 1`` values, two differences, their difference and the values by
    feature (``d`` each): about ``8 d`` float64 values, so
    ``bytes = 64 * d * n_background * ceil(n_orderings / 2)``.

    Parameters
    ----------
    d : int
        Features.
    n_background : int
        Background rows kept.
    n_orderings : int
        Orderings per background row (rounded up to an even number).

    Returns
    -------
    int
        Bytes per explained row.
    """
    return 64 * d * n_background * max(1, (n_orderings + 1) // 2)


def _permutation_shapley(
    predict: _ModelFunction,
    X: np.ndarray,
    target: np.ndarray,
    background: np.ndarray,
    weights: np.ndarray,
    proba_background: np.ndarray,
    v_full: np.ndarray,
    batch_size: int,
    n_orderings: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Antithetic permutation sampling of interventional Shapley values, vectorised.

    Interventional Shapley values are linear in the background distribution:
    ``phi = sum_b w_b phi^(b)``, where ``phi^(b)`` explains x against the single background
    row z_b. Each background row b gets its own ``n_orderings / 2`` random orderings π of
    the features, each used together with its reverse (antithetic pairs); the orderings
    are shared by all explained rows, so every model call stacks many rows. Along an
    ordering, feature π[r] gets ``v_b(π[:r+1]) - v_b(π[:r])`` with
    ``v_b(S) = f_t(x_S, z_b,~S)``; ``phi^(b)`` is estimated by the average over b's
    orderings. The prefixes of a reversed ordering are the complements of the forward
    prefixes, so each pair costs 2(d - 1) model evaluations per background row.

    Properties: unbiased; exact for additive models (every ordering gives the same
    contributions) and, thanks to the antithetic pairs, for models with at most pairwise
    interactions; each ordering's contributions sum to ``v_b(all) - v_b(none)``, so
    completeness holds exactly, not only on average. Spreading orderings across
    background rows (instead of evaluating every ordering against the whole background)
    costs ``n_background * n_orderings * (d - 1)`` evaluations per row and, in our
    measurements on breast_cancer, halves the error at equal cost.

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
    proba_background : ndarray of shape (n_background, n_classes)
        The model's probabilities on the background rows (``v_b(none)``).
    v_full : ndarray of shape (n_rows,)
        ``v(all) = f_t(x)``.
    batch_size : int
        Target number of inputs per model call.
    n_orderings : int
        Orderings per background row; rounded up to an even number (antithetic pairs).
    rng : numpy.random.Generator
        Draws the orderings.

    Returns
    -------
    ndarray of shape (n_rows, d)
        Estimated Shapley values; each row sums to ``v(all) - sum_b w_b f_t(z_b)``.
    """
    n, d = X.shape
    n_bg = len(background)
    n_pairs = max(1, (n_orderings + 1) // 2)
    perms = rng.permuted(np.tile(np.arange(d), (n_bg * n_pairs, 1)), axis=1)
    ranks = np.argsort(perms, axis=1).reshape(n_bg, n_pairs, d)  # position of feature j
    # Mask c of background row b (c < n_masks = 2 * n_pairs * (d - 1)): ordering
    # p = c // (2(d-1)), direction c // (d-1) % 2 (forward prefix or its complement),
    # prefix size s = c % (d-1) + 1. Built only for the pairs of one batch: all masks at
    # once would take n_bg * n_masks * d bytes (10 GB for 10,000 features).
    n_masks = 2 * n_pairs * (d - 1)

    def pair_inputs(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        b, c = np.divmod(index, max(1, n_masks))
        p, k = np.divmod(c, max(1, 2 * (d - 1)))
        backward, s = np.divmod(k, max(1, d - 1))
        masks = ranks[b, p] < (s + 1)[:, None]
        masks ^= backward.astype(bool)[:, None]
        return masks, background[b]

    phi = np.empty((n, d))
    # Bound the memory of the per-row chains by the budget (see permutation_row_bytes).
    block = max(1, EXPLAIN_MEMORY_BUDGET // permutation_row_bytes(d, n_bg, n_orderings))
    for r0 in range(0, n, block):
        rows = slice(r0, r0 + block)
        X_b, t_b, full = X[rows], target[rows], v_full[rows]
        m = len(X_b)
        V = _evaluate(predict, X_b, t_b, n_bg * n_masks, pair_inputs, batch_size)
        V = V.reshape(m, n_bg, n_pairs, 2, d - 1)
        empty = proba_background[:, t_b].T[:, :, None]  # (m, B, 1): v_b(none) = f_t(z_b)
        full_ = np.broadcast_to(full[:, None, None], (m, n_bg, n_pairs))
        empty_ = np.broadcast_to(empty, (m, n_bg, n_pairs))
        # Chains over prefix sizes 0..d: forward v_b(prefix_s), backward v_b(~prefix_s).
        chain_f = np.concatenate([empty_[..., None], V[:, :, :, 0], full_[..., None]], axis=3)
        chain_b = np.concatenate([full_[..., None], V[:, :, :, 1], empty_[..., None]], axis=3)
        # Feature at rank r: forward v(p_{r+1}) - v(p_r); in the reversed ordering it joins
        # the complement of p_{r+1}: v(~p_r) - v(~p_{r+1}).
        by_rank = np.diff(chain_f, axis=3) - np.diff(chain_b, axis=3)  # (m, B, P, d)
        by_feature = np.take_along_axis(by_rank, np.broadcast_to(ranks, by_rank.shape), axis=3)
        phi[rows] = np.einsum("mbpd,b->md", by_feature, weights) / (2 * n_pairs)
    return phi
