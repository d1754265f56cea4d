"""Antithetic permutation sampling of interventional Shapley values (``method="permutation"``).

Cost per explained row: n_background * n_orderings * (d - 1) model evaluations. Unbiased,
exact for models with at most pairwise interactions, and complete for every sample.
"""

from __future__ import annotations

import numpy as np

from ._value import _evaluate, _ModelFunction


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
    forward = ranks[:, :, None, :] < np.arange(1, d)[None, None, :, None]  # (B, P, d-1, d)
    masks = np.concatenate([forward, ~forward], axis=2).reshape(n_bg, -1, d)  # (B, C, d)
    n_masks = masks.shape[1]
    flat_masks = masks.reshape(-1, d)

    def pair_inputs(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return flat_masks[index], background[index // n_masks]

    phi = np.empty((n, d))
    # Bound the memory of the per-row chains (rows * n_bg * n_masks float64 values).
    block = max(1, 2**22 // max(1, n_bg * (n_masks + 2 * n_pairs)))
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
