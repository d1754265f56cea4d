"""Tree Alternating Optimisation (TAO) of a hard oblique tree with sparse splits.

Carreira-Perpinan, M. A. and Tavallali, P. (2018), "Alternating optimization of decision
trees, with application to learning sparse oblique trees", NeurIPS 31.

The soft tree's starting point (:mod:`~._soft_tree_fit`): the CART of depth d laid onto
the complete tree (:func:`~._soft_tree_init.cart_initialise`) is improved here, as a
*hard* tree, before the soft fine-tuning. Everything works on standardised rows
``z = (x - x_mean_) / x_scale_``. Inner node i sends a row right when
``w_i . z + b_i > 0`` (ties left, as CART's ``z_j <= t``); leaf l predicts class c_l.

One pass, for the reference labels r (teacher's argmax, or labels):

1. every leaf that some row reaches takes the majority reference class of its rows;
2. for each level from the deepest inner nodes up to the root, for each node i of the
   level (nodes of one level see disjoint rows, so they are independent): take the rows
   R_i that reach i; for each, the 0/1 loss ``e_left = [c(left subtree, z) != r]`` if it
   went left through the fixed subtree below, and ``e_right`` likewise. Rows with
   ``e_left == e_right`` are don't-care; the others ("care rows") have the target
   "right" when ``e_left > e_right``. Node i's split is replaced by the best of a set of
   candidate splits on the care rows
   (:func:`~._soft_tree_tao_node.node_candidates`: the axis-aligned split with the
   fewest errors, and least-squares and logistic hyperplanes on greedy supports of 1 to
   k features), if that candidate makes fewer care-row errors than the current split.

Changing one node's split while the rest of the tree is fixed changes the training
disagreement by exactly the change of that node's care-row errors, and step 1 never
raises it: the training disagreement never rises, so the result is at least as faithful
on the training rows as the CART start. Passes repeat until the disagreement stops
falling (by less than ``SOFT_TREE_TAO_TOL`` of the rows), at most ``max_passes``.

Cost. A node problem sees at most ``max_rows`` care rows (a uniform sample drawn with the
fit's seed when there are more); the acceptance test counts every care row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from .._defaults import SOFT_TREE_TAO_MAX_PASSES, SOFT_TREE_TAO_MAX_ROWS, SOFT_TREE_TAO_TOL
from ._soft_tree_tao_node import node_candidates

__all__ = ["TaoResult", "descend", "tao_initialise", "tao_optimise"]


@dataclass
class TaoResult:
    """The optimised hard tree.

    Attributes
    ----------
    weights : ndarray of shape (n_inner, n_features)
        Split weights on standardised rows (any positive scale: only the sign of
        ``w . z + b`` matters here).
    biases : ndarray of shape (n_inner,)
        Split biases.
    leaf_counts : ndarray of shape (n_leaves, n_classes)
        Reference-class counts of the training rows in each leaf; a leaf no row reaches
        gets the counts of its nearest ancestor that rows reach.
    disagreement : list of float
        Training disagreement with the reference labels at the start and after each pass.
    changed_nodes : int
        Node splits replaced over all passes.
    """

    weights: np.ndarray
    biases: np.ndarray
    leaf_counts: np.ndarray
    disagreement: list[float]
    changed_nodes: int


def descend(decisions: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Follow the hard splits from ``start`` down to a leaf.

    Parameters
    ----------
    decisions : ndarray of shape (n_samples, n_inner), bool
        ``w_i . z + b_i > 0`` for every row and inner node (True: right).
    start : ndarray of shape (n_samples,), int
        The heap node each row starts at (inner nodes or leaves).

    Returns
    -------
    ndarray of shape (n_samples,), int64
        Leaf indices in [0, n_inner + 1) (heap index minus n_inner).
    """
    n_inner = decisions.shape[1]
    node = start.astype(np.int64).copy()
    rows = np.arange(decisions.shape[0])
    inner = node < n_inner
    while inner.any():
        idx = rows[inner]
        node[idx] = 2 * node[idx] + 1 + decisions[idx, node[idx]]
        inner = node < n_inner
    return node - n_inner


def tao_optimise(
    X: np.ndarray,
    reference: np.ndarray,
    weights: np.ndarray,
    biases: np.ndarray,
    n_classes: int,
    *,
    max_features: int | None,
    max_passes: int,
    max_rows: int,
    seed: int,
) -> TaoResult:
    """Run TAO passes (module docstring) from the tree ``(weights, biases)``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Standardised training rows.
    reference : ndarray of shape (n_samples,), int
        Their reference classes in [0, n_classes).
    weights : ndarray of shape (n_inner, n_features)
        The starting splits (e.g. the CART layout), on standardised rows.
    biases : ndarray of shape (n_inner,)
        The starting biases.
    n_classes : int
        K.
    max_features : int or None
        k: most non-zero weights a new split may have (None: any).
    max_passes : int
        Most passes over the tree.
    max_rows : int
        Most care rows a node problem is fitted on.
    seed : int
        Seed of the row samples.

    Returns
    -------
    TaoResult
        The optimised splits, the leaf counts and the disagreement after each pass.
    """
    X = np.asarray(X, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.int64)
    W = np.array(weights, dtype=np.float64)
    b = np.array(biases, dtype=np.float64)
    n = X.shape[0]
    n_inner = W.shape[0]
    depth = int(np.log2(n_inner + 1))
    rng = np.random.default_rng(seed)
    k = X.shape[1] if max_features is None else min(int(max_features), X.shape[1])
    for wide in np.flatnonzero(np.count_nonzero(W, axis=1) > k):
        # only the symmetry breakers below a shallow CART leaf, whose leaves share a
        # class: keeping their k largest weights changes no prediction
        W[wide, np.argsort(-np.abs(W[wide]))[k:]] = 0.0
    labels = _leaf_labels(X, reference, W, b, n_classes, np.zeros(n_inner + 1, np.int64))
    history = [_disagreement(X, reference, W, b, labels)]
    changed = 0
    for _ in range(max_passes):
        for level in reversed(range(depth)):
            decisions = X @ W.T + b > 0
            at = _reach(decisions, level)
            left = labels[descend(decisions, 2 * at + 1)] != reference
            right = labels[descend(decisions, 2 * at + 2)] != reference
            care = left != right
            for node in range(2**level - 1, 2 ** (level + 1) - 1):
                rows = np.flatnonzero(care & (at == node))
                target = left[rows]  # True: going right is the better side
                if rows.size == 0 or target.all() or not target.any():
                    continue
                current = int(np.sum(decisions[rows, node] != target))
                if current == 0:
                    continue
                found = _best_split(X[rows], target, k, max_rows, rng, current)
                if found is not None:
                    W[node], b[node] = found
                    changed += 1
        labels = _leaf_labels(X, reference, W, b, n_classes, labels)
        history.append(_disagreement(X, reference, W, b, labels))
        if history[-1] > history[-2] - SOFT_TREE_TAO_TOL * n:
            break
    counts = _leaf_counts(X, reference, W, b, n_classes, depth)
    return TaoResult(W, b, counts, [h / max(n, 1) for h in history], changed)


def _reach(decisions: np.ndarray, level: int) -> np.ndarray:
    """The heap node at ``level`` each row reaches from the root."""
    node = np.zeros(decisions.shape[0], dtype=np.int64)
    rows = np.arange(decisions.shape[0])
    for _ in range(level):
        node = 2 * node + 1 + decisions[rows, node]
    return node


def _leaf_labels(
    X: np.ndarray,
    reference: np.ndarray,
    W: np.ndarray,
    b: np.ndarray,
    n_classes: int,
    previous: np.ndarray,
) -> np.ndarray:
    """Majority reference class of each leaf's rows; a leaf without rows keeps its class."""
    leaf = descend(X @ W.T + b > 0, np.zeros(X.shape[0], dtype=np.int64))
    counts = np.zeros((W.shape[0] + 1, n_classes))
    np.add.at(counts, (leaf, reference), 1.0)
    return np.where(counts.sum(axis=1) > 0, counts.argmax(axis=1), previous)


def _disagreement(
    X: np.ndarray, reference: np.ndarray, W: np.ndarray, b: np.ndarray, labels: np.ndarray
) -> float:
    """Number of rows whose leaf's class differs from the reference class."""
    leaf = descend(X @ W.T + b > 0, np.zeros(X.shape[0], dtype=np.int64))
    return float(np.sum(labels[leaf] != reference))


def _leaf_counts(
    X: np.ndarray, reference: np.ndarray, W: np.ndarray, b: np.ndarray, n_classes: int, depth: int
) -> np.ndarray:
    """Reference counts per leaf; an empty leaf takes its nearest non-empty ancestor's."""
    n_inner = W.shape[0]
    leaf = descend(X @ W.T + b > 0, np.zeros(X.shape[0], dtype=np.int64))
    counts = np.zeros((n_inner + 1, n_classes))
    np.add.at(counts, (leaf, reference), 1.0)
    # counts of every heap node (inner nodes: the sum of their leaves)
    heap = np.zeros((2 * n_inner + 1, n_classes))
    heap[n_inner:] = counts
    for node in range(n_inner - 1, -1, -1):
        heap[node] = heap[2 * node + 1] + heap[2 * node + 2]
    for leaf_index in range(n_inner + 1):
        node = leaf_index + n_inner
        while heap[node].sum() == 0 and node > 0:
            node = (node - 1) // 2
        counts[leaf_index] = heap[node]
    return counts


def _best_split(
    Xc: np.ndarray,
    target: np.ndarray,
    k: int,
    max_rows: int,
    rng: np.random.Generator,
    current: int,
) -> tuple[np.ndarray, float] | None:
    """The candidate split with the fewest care-row errors, if fewer than ``current``."""
    fit_rows = np.arange(Xc.shape[0])
    if fit_rows.size > max_rows:
        fit_rows = np.sort(rng.choice(fit_rows.size, size=max_rows, replace=False))
    candidates = node_candidates(Xc[fit_rows], target[fit_rows], k)
    if not candidates:
        return None
    weights = np.stack([w for w, _ in candidates], axis=1)  # (p, n_candidates)
    biases = np.array([bias for _, bias in candidates])
    errors = np.count_nonzero((Xc @ weights + biases > 0) != target[:, None], axis=0)
    first = int(errors.argmin())  # the first of the fewest errors
    return candidates[first] if errors[first] < current else None


def tao_initialise(
    module: Any,
    X: np.ndarray,
    reference: np.ndarray,
    *,
    max_features: int | None,
    temperature: float,
    sharpness: float,
    seed: int,
) -> TaoResult:
    """Improve a CART-initialised soft tree by TAO (:func:`tao_optimise`), in place.

    The module's current splits (``beta * (w_i . z + b_i)``: the CART layout of
    :func:`~._soft_tree_init.cart_initialise`) are the start. Every split TAO replaces is
    rescaled to ``||w_i||_2 = sharpness`` (the CART splits' scale: soft over about
    1 / sharpness of a standard deviation around the hyperplane), which changes no hard
    decision; leaf l gets ``phi_l = T * log((c_l + 1) / (n_l + K))`` from the counts of
    the reference classes of its rows, as the CART start does.

    Parameters
    ----------
    module : _SoftTreeModule
        The network, CART-initialised; ``inner`` and ``leaf_logits`` are overwritten.
    X : ndarray of shape (n_samples, n_features)
        Standardised training rows.
    reference : ndarray of shape (n_samples,), int
        Their reference classes.
    max_features : int or None
        k, the most non-zero weights per split (None: any).
    temperature : float
        T > 0 of the distillation objective.
    sharpness : float
        s > 0, the norm of a replaced split's weights.
    seed : int
        Seed of the node problems' row samples.

    Returns
    -------
    TaoResult
        What :func:`tao_optimise` returned.
    """
    beta = float(module.log_inverse_temperature.detach().exp())
    weights = module.inner.weight.detach().double().cpu().numpy() * beta
    biases = module.inner.bias.detach().double().cpu().numpy() * beta
    n_classes = int(module.leaf_logits.shape[1])
    with threadpool_limits(limits=1):  # many small BLAS calls: threads only contend
        result = tao_optimise(
            X,
            reference,
            weights,
            biases,
            n_classes,
            max_features=max_features,
            max_passes=SOFT_TREE_TAO_MAX_PASSES,
            max_rows=SOFT_TREE_TAO_MAX_ROWS,
            seed=seed,
        )
    W, b = result.weights.copy(), result.biases.copy()
    changed = np.any(weights != W, axis=1) | (b != biases)
    norms = np.linalg.norm(W, axis=1)
    scale = np.where(changed & (norms > 0), sharpness / np.maximum(norms, 1e-300), 1.0)
    W *= scale[:, None]
    b *= scale
    counts = result.leaf_counts
    proba = (counts + 1.0) / (counts.sum(axis=1, keepdims=True) + n_classes)
    dtype = module.inner.weight.dtype
    with torch.no_grad():
        module.inner.weight.copy_(torch.as_tensor(W / beta, dtype=dtype))
        module.inner.bias.copy_(torch.as_tensor(b / beta, dtype=dtype))
        module.leaf_logits.copy_(torch.as_tensor(temperature * np.log(proba), dtype=dtype))
    return result
