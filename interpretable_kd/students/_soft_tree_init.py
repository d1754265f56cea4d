"""Starting a soft decision tree from a fitted CART, the hard routing that its rules and
its default prediction follow, and the projection that keeps its splits sparse.

Everything here works on the *standardised* rows the network sees
(``z = (x - x_mean_) / x_scale_``); :mod:`interpretable_kd.students._soft_tree_rules`
turns the result back into the user's units.

CART initialisation. A scikit-learn ``DecisionTreeClassifier(max_depth=d)`` is fitted
on the training rows' reference labels (the teacher's argmax, or the labels when there
is no teacher). Its nodes are laid onto the complete tree of depth d in heap order
(root 0, children of i at 2i + 1 and 2i + 2):

- a CART split ``z_j <= t`` (left) becomes the axis-aligned soft node
  ``w = s * e_j, b = -s * t`` (s the sharpness), so the node goes right with
  probability ``sigmoid(s * (z_j - t))``, more than 1/2 exactly when ``z_j > t``;
- below a CART leaf that is shallower than d, every node gets a tiny random filter
  (a symmetry breaker for the fine-tuning; bias 0) and every leaf the CART leaf's
  class distribution, so whichever way a row goes its class is the CART leaf's;
- leaf l gets ``phi_l = T * log((c_l + 1) / (n_l + K))`` with ``c_l`` the counts of the
  reference labels of the rows in its CART leaf (add-one smoothed; the argmax is the
  CART leaf's class) and T the distillation temperature, so that ``softmax(phi_l / T)``,
  what the objective compares with the teacher, is the smoothed frequency.

With these weights the hard routing (:func:`hard_leaf_index`) sends every row to a leaf
of its CART leaf: the initialised tree predicts exactly what the CART predicts, for any
sharpness s > 0; s only sets how soft the routing is where the fine-tuning starts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.tree import DecisionTreeClassifier

from .._torch_utils import Targets
from ..losses import mixture_log_proba, soft_tree_kd_loss

__all__ = [
    "assigned_leaf",
    "cart_initialise",
    "hard_leaf_index",
    "keep_top_features",
    "prediction_log_proba",
    "tree_loss",
]

# Scale of the random filters of the nodes below a shallow CART leaf (x the sharpness).
_SYMMETRY_BREAKER = 1e-2


def cart_initialise(
    module: Any,
    X: np.ndarray,
    reference: np.ndarray,
    *,
    temperature: float,
    sharpness: float,
    seed: int,
) -> DecisionTreeClassifier:
    """Set the tree's weights from a CART of the same depth fitted on (X, reference).

    Parameters
    ----------
    module : _SoftTreeModule
        The network (depth d, K classes); its ``inner`` and ``leaf_logits`` are
        overwritten in place.
    X : ndarray of shape (n_samples, n_features), float32
        Standardised training rows.
    reference : ndarray of shape (n_samples,), int
        Their class indices in [0, K) (the teacher's argmax, or the labels).
    temperature : float
        T > 0 of the distillation objective (1 for hard labels).
    sharpness : float
        s > 0: the effective weight of the single feature of each CART split.
    seed : int
        ``random_state`` of the CART (ties between equally good splits).

    Returns
    -------
    DecisionTreeClassifier
        The fitted CART.
    """
    depth = int(module.depth)
    n_inner, n_leaves = 2**depth - 1, 2**depth
    n_features = X.shape[1]
    n_classes = int(module.leaf_logits.shape[1])
    cart = DecisionTreeClassifier(max_depth=depth, random_state=seed % (2**32)).fit(X, reference)
    tree = cart.tree_
    cart_leaf = cart.apply(X)
    weights = torch.randn(n_inner, n_features, dtype=torch.float64) * (
        _SYMMETRY_BREAKER * sharpness
    )
    biases = torch.zeros(n_inner, dtype=torch.float64)
    counts = np.zeros((n_leaves, n_classes))
    stack = [(0, 0, 0)]  # (heap node, CART node, level)
    while stack:
        heap, node, level = stack.pop()
        if level == depth:
            counts[heap - n_inner] = np.bincount(reference[cart_leaf == node], minlength=n_classes)[
                :n_classes
            ]
            continue
        child_left, child_right = node, node
        if tree.children_left[node] != -1:
            weights[heap] = 0.0
            weights[heap, int(tree.feature[node])] = sharpness
            biases[heap] = -sharpness * float(tree.threshold[node])
            child_left, child_right = tree.children_left[node], tree.children_right[node]
        stack.append((2 * heap + 1, int(child_left), level + 1))
        stack.append((2 * heap + 2, int(child_right), level + 1))
    proba = (counts + 1.0) / (counts.sum(axis=1, keepdims=True) + n_classes)
    beta = float(module.log_inverse_temperature.detach().exp())
    with torch.no_grad():
        module.inner.weight.copy_(weights / beta)
        module.inner.bias.copy_(biases / beta)
        module.leaf_logits.copy_(torch.as_tensor(temperature * np.log(proba)))
    return cart


def hard_leaf_index(module: Any, X: torch.Tensor) -> torch.Tensor:
    """The leaf each row reaches by taking, at every node, its more probable branch.

    Node i sends a row right when its logit ``beta * (w_i . z + b_i)`` is > 0 (right
    probability > 1/2), left otherwise (ties go left, as in CART's ``z_j <= t``).

    Parameters
    ----------
    module : _SoftTreeModule
        The network.
    X : Tensor of shape (n_samples, n_features)
        Standardised rows.

    Returns
    -------
    Tensor of shape (n_samples,), int64
        Leaf indices in [0, 2^d).
    """
    logits = module.node_logits(X)
    node = torch.zeros(X.shape[0], dtype=torch.int64, device=X.device)
    for _ in range(int(module.depth)):
        right = (logits.gather(1, node.unsqueeze(1)).squeeze(1) > 0).long()
        node = 2 * node + 1 + right
    return node - (2 ** int(module.depth) - 1)


def keep_top_features(module: Any, max_features: int | None) -> None:
    """Zero all but the ``max_features`` largest |weights| of every inner node, in place.

    The weights act on standardised columns, so |w_ij| ranks how much feature j moves
    node i's decision for a typical change of the feature (one standard deviation).
    A projection step: applied after every optimiser step it keeps every split sparse
    (iterative hard thresholding).

    Parameters
    ----------
    module : _SoftTreeModule
        The network.
    max_features : int or None
        Features kept per node; None (or at least n_features) keeps every weight.
    """
    weight = module.inner.weight
    if max_features is None or max_features >= weight.shape[1]:
        return
    with torch.no_grad():
        keep = weight.abs().topk(int(max_features), dim=1).indices
        mask = torch.zeros_like(weight).scatter_(1, keep, 1.0)
        weight.mul_(mask)


def assigned_leaf(module: Any, X: torch.Tensor, mode: str) -> torch.Tensor:
    """The leaf of each row under prediction ``mode``: the hard path's leaf for
    "hard_path", else the leaf with the highest path probability.

    Parameters
    ----------
    module : _SoftTreeModule
        The network.
    X : Tensor of shape (n_samples, n_features)
        Standardised rows.
    mode : {"hard_path", "max_path", "mixture"}
        The prediction.

    Returns
    -------
    Tensor of shape (n_samples,), int64
        Leaf indices.
    """
    if mode == "hard_path":
        return hard_leaf_index(module, X)
    log_leaf, _, _ = module(X)
    return log_leaf.argmax(dim=1)


def prediction_log_proba(module: Any, X: torch.Tensor, mode: str) -> torch.Tensor:
    """Log class probabilities of the "hard_path", "max_path" or "mixture" prediction.

    "hard_path" and "max_path": ``log Q_l`` of the row's :func:`assigned_leaf`;
    "mixture": ``log sum_l P_l(x) Q_l``.

    Parameters
    ----------
    module : _SoftTreeModule
        The network.
    X : Tensor of shape (n_samples, n_features)
        Standardised rows.
    mode : {"hard_path", "max_path", "mixture"}
        The prediction.

    Returns
    -------
    Tensor of shape (n_samples, n_classes)
        Log-probabilities.
    """
    leaf_log_q = module.leaf_log_proba()
    if mode != "mixture":
        return leaf_log_q[assigned_leaf(module, X, mode)]
    log_leaf, _, _ = module(X)
    return mixture_log_proba(log_leaf, leaf_log_q)


def tree_loss(module: Any, log_leaf: torch.Tensor, targets: Targets, loss: str) -> torch.Tensor:
    """``w * H + (1 - w) * T^2 * S`` of :func:`~interpretable_kd.losses.soft_tree_kd_loss`
    for this tree's leaves, averaged over the batch.

    Parameters
    ----------
    module : _SoftTreeModule
        The tree's network (its ``leaf_logits`` phi).
    log_leaf : Tensor of shape (n_samples, n_leaves)
        log P_l(x).
    targets : Targets
        Labels and/or the softened teacher, T and w.
    loss : {"paper", "mixture"}
        Which pair of terms.

    Returns
    -------
    Tensor
        The scalar loss.
    """
    return soft_tree_kd_loss(
        log_leaf,
        module.leaf_logits,
        targets.teacher_log_proba,
        targets.y,
        temperature=targets.temperature,
        hard_label_weight=targets.hard_label_weight,
        loss=loss,
    )
