"""Reading a fitted soft decision tree: the decisions behind one row, the node and leaf
tables, the tree as text, the node filters as images, and the readable view the report
draws.

Each function takes the fitted :class:`~interpretable_kd.students.soft_tree.
SoftDecisionTreeClassifier` as its first argument, ``tree``; the class binds them as its
methods (``tree.explain(x)``, ``tree.node_table()``, ...). Nodes are in heap order (root
0, children of i at 2i + 1 and 2i + 2). Everything shown is in the original units
(``tree.node_weights_``, ``tree.node_biases_``; see
:mod:`~interpretable_kd.students._soft_tree_rules`); features are ranked by the size of
their weight on the standardised columns (``tree.node_weights_standardized_``), which
compares a one-standard-deviation change of each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_fitted, check_number, check_X
from ..exceptions import InputError, InputTypeError
from ._soft_tree_rules import feature_names, leaf_flags, raw_weights, split_text
from ._soft_tree_rules import plain_label as _label

__all__ = [
    "DecisionStep",
    "FeatureContribution",
    "explain",
    "feature_names",
    "leaf_table",
    "node_filters_as_images",
    "node_table",
    "readable_view",
    "to_text",
]


@dataclass(frozen=True)
class FeatureContribution:
    """One feature's part in a node's decision for one row.

    Attributes
    ----------
    name : str
        The feature's name (``feature_names_in_``, else ``x0``, ``x1``, ...).
    weight : float
        The node's weight on the feature in the original units, ``w_raw_ij``.
    value : float
        The row's value of the feature (original units).
    contribution : float
        ``weight * (value - mean)``, with ``mean`` the training rows' mean of the
        feature: how far this value moves the node's logit from where an average value
        would put it (positive pushes right).
    """

    name: str
    weight: float
    value: float
    contribution: float


@dataclass(frozen=True)
class DecisionStep:
    """One decision on a row's most probable path through the tree.

    Attributes
    ----------
    node : int
        The inner node (heap numbering, root 0).
    depth : int
        Its depth (root 0).
    direction : {"left", "right"}
        The branch the path takes.
    probability : float
        The probability of that branch at this node, in [0, 1].
    path_probability : float
        The probability of reaching the branch's child, the product of the
        ``probability`` of this step and of every step before it.
    logit : float
        The node's ``w_raw . x + b_raw``; the row goes right with probability
        ``sigmoid(logit)``.
    features : tuple of FeatureContribution
        The top features by absolute contribution, largest first.
    child : str
        Where the branch leads, "node N" or "leaf N".
    """

    node: int
    depth: int
    direction: str
    probability: float
    path_probability: float
    logit: float
    features: tuple[FeatureContribution, ...]
    child: str

    def __str__(self) -> str:
        """One line: the node, the branch, its probability and the top features.

        Returns
        -------
        str
            E.g. ``node 0 (depth 0): right with probability 0.930 -> node 2; ...``.
        """
        because = ", ".join(f"{f.name} ({f.contribution:+.3g})" for f in self.features)
        return (
            f"node {self.node} (depth {self.depth}): {self.direction} with probability "
            f"{self.probability:.3f} -> {self.child}; logit {self.logit:+.3g}"
            + (f", mostly from {because}" if because else "")
        )


def readable_view(tree: Any) -> dict[str, Any]:
    """The tree as plain data (arrays, DataFrames, floats) for the report.

    Parameters
    ----------
    tree : SoftDecisionTreeClassifier
        The fitted tree.

    Returns
    -------
    dict
        Keys (n_inner = 2^d - 1 inner nodes in heap order, n_leaves = 2^d):

        - ``"view"``: ``"soft_tree"``.
        - ``"depth"``: int, d.
        - ``"feature_names"``: list of n_features str (``feature_names_in_``, else
          ``x0``, ``x1``, ...).
        - ``"node_weights"``: float64 (n_inner, n_features), :attr:`node_weights_`, in
          the original units (a row goes right with probability
          ``sigmoid(node_weights[i] . x + node_biases[i])``).
        - ``"node_biases"``: float64 (n_inner,), :attr:`node_biases_`.
        - ``"node_weights_standardized"``, ``"node_biases_standardized"``: the same on
          standardised columns (rank features by these).
        - ``"node_filter_weights"``: float64 (n_inner, n_features), the weights that
          :meth:`node_filters_as_images` reshapes into images.
        - ``"leaf_distributions"``: float64 (n_leaves, n_classes),
          :attr:`leaf_distributions_`.
        - ``"inverse_temperature"``: float, :attr:`inverse_temperature_`.
        - ``"node_reach"``: float64 (n_inner,), :attr:`node_reach_`; or None.
        - ``"leaf_reach"``: int64 (n_leaves,), :attr:`leaf_counts_`; or None.
        - ``"node_class_counts"``, ``"leaf_class_counts"``: int64 (n_inner, K) and
          (n_leaves, K), the training rows' reference classes; or None.
        - ``"node_table"``: DataFrame, ``node_table(top_k=5)``; or None.
        - ``"leaf_table"``: DataFrame, ``leaf_table()``; or None.
        - ``"rules"``: DataFrame, :meth:`to_rules` without its ``conditions``; or None.

        The training-row statistics (reach, counts, tables, rules) are None when the
        model lacks them (they are recorded at the end of ``fit``).
    """
    has_nodes = hasattr(tree, "node_reach_") and hasattr(tree, "node_mean_path_probability_")
    has_leaves = hasattr(tree, "leaf_counts_") and hasattr(tree, "leaf_mean_path_probability_")
    has_classes = hasattr(tree, "leaf_class_counts_") and hasattr(tree, "node_class_counts_")
    weights, biases = raw_weights(tree)
    return {
        "view": "soft_tree",
        "depth": int(tree.module_.depth),
        "feature_names": feature_names(tree),
        "node_weights": weights,
        "node_biases": biases,
        "node_weights_standardized": tree.node_weights_standardized_,
        "node_biases_standardized": tree.node_biases_standardized_,
        "node_filter_weights": weights.copy(),
        "leaf_distributions": tree.leaf_distributions_,
        "inverse_temperature": tree.inverse_temperature_,
        "node_reach": np.asarray(tree.node_reach_, dtype=float) if has_nodes else None,
        "leaf_reach": np.asarray(tree.leaf_counts_) if has_leaves else None,
        "node_class_counts": np.asarray(tree.node_class_counts_) if has_classes else None,
        "leaf_class_counts": np.asarray(tree.leaf_class_counts_) if has_classes else None,
        "node_table": tree.node_table(top_k=5) if has_nodes else None,
        "leaf_table": tree.leaf_table() if has_leaves else None,
        "rules": tree.to_rules().drop(columns="conditions") if has_classes else None,
    }


def explain(tree: Any, x: Any, top_k: int = 3) -> list[DecisionStep]:
    """The decisions on one row's path, root first, in the original units.

    The path ends at the leaf ``apply`` gives the row (for the default
    ``prediction="hard_path"``, the leaf of the rule it meets, see :meth:`to_rules`),
    whose distribution is the prediction. Features are named by the size of their
    contribution, ``weight * (value - mean)``; features with zero weight never.

    Parameters
    ----------
    tree : SoftDecisionTreeClassifier
        The fitted tree.
    x : array-like of shape (n_features,) or (1, n_features), DataFrame or Series
        One row.
    top_k : int, default=3
        How many features to name at each step (by absolute contribution
        ``weight * value``), >= 0.

    Returns
    -------
    list of DecisionStep
        One step per depth level.
    """
    check_fitted(tree, "module_")
    owner = type(tree).__name__
    top_k = check_number(top_k, "top_k", owner, integer=True, low=0)
    if isinstance(x, pd.Series):
        x = x.to_frame().T
    if not isinstance(x, pd.DataFrame):
        x = np.asarray(x)
        if x.ndim == 1:
            x = x.reshape(1, -1)
    row = check_X(tree, x, reset=False)
    if row.shape[0] != 1:
        raise InputError(
            f"{owner}.explain needs one row; got {row.shape[0]} rows. Pass X[i] for the "
            "i-th row, or loop over the rows."
        )
    leaf = int(tree._apply_checked(row)[0])
    weights, biases = raw_weights(tree)
    importance = np.abs(tree.node_weights_standardized_)
    mean = np.asarray(tree.__dict__.get("x_mean_", np.zeros(row.shape[1])), dtype=np.float64)
    names = feature_names(tree)
    depth = int(tree.module_.depth)
    steps = []
    path_probability = 1.0
    node = 0
    for level in range(depth):
        go_right = (leaf >> (depth - 1 - level)) & 1
        value = row[0].astype(np.float64)
        contributions = weights[node] * (value - mean)
        logit = float(weights[node] @ value + biases[node])
        p_right = 1.0 / (1.0 + math.exp(-logit)) if logit > -700 else 0.0
        probability = p_right if go_right else 1.0 - p_right
        path_probability *= probability
        child = 2 * node + 1 + go_right
        order = np.argsort(-np.abs(contributions), kind="stable")[:top_k]
        order = order[importance[node, order] > 0]
        steps.append(
            DecisionStep(
                node=node,
                depth=level,
                direction="right" if go_right else "left",
                probability=probability,
                path_probability=path_probability,
                logit=logit,
                features=tuple(
                    FeatureContribution(
                        names[j],
                        float(weights[node, j]),
                        float(row[0, j]),
                        float(contributions[j]),
                    )
                    for j in order
                ),
                child=f"leaf {leaf}" if level == depth - 1 else f"node {child}",
            )
        )
        node = child
    return steps


def node_table(tree: Any, top_k: int = 3) -> pd.DataFrame:
    """One row per inner node, in the original units.

    Parameters
    ----------
    tree : SoftDecisionTreeClassifier
        The fitted tree.
    top_k : int, default=3
        Features named per node, >= 0.

    Returns
    -------
    DataFrame of shape (n_inner, 11 + n_classes)
        Columns: node, depth, split (the "goes right" condition, e.g. ``age > 37.5`` or
        ``0.5*age + 0.01*income > 30``), n_features (non-zero weights), bias
        (``b_raw``), top_features (the ``top_k`` features with the largest weights on
        standardised columns, as "name (+raw weight)"), weight_norm (L2 norm of the
        standardised weights), reach (share of training rows whose leaf lies below the
        node), n_rows (those rows), mean_path_probability (mean probability of reaching
        the node over the training rows), flag ("dead" when no training row reaches
        it), then ``p(<class>)``: the share of each reference class (teacher's argmax,
        or label) among its training rows.
    """
    check_fitted(tree, "module_")
    top_k = check_number(top_k, "top_k", type(tree).__name__, integer=True, low=0)
    weights, biases = raw_weights(tree)
    standardized = tree.node_weights_standardized_
    names = feature_names(tree)
    class_counts = tree.__dict__.get("node_class_counts_")
    n_total = int(np.sum(tree.leaf_counts_)) if hasattr(tree, "leaf_counts_") else 0
    rows = []
    for node in range(weights.shape[0]):
        order = np.argsort(-np.abs(standardized[node]), kind="stable")[:top_k]
        order = order[standardized[node, order] != 0]
        reach = float(tree.node_reach_[node])
        row: dict[str, Any] = {
            "node": node,
            "depth": math.floor(math.log2(node + 1)),
            "split": split_text(tree, node),
            "n_features": int(np.count_nonzero(standardized[node])),
            "bias": float(biases[node]),
            "top_features": ", ".join(f"{names[j]} ({weights[node, j]:+.3g})" for j in order),
            "weight_norm": float(np.linalg.norm(standardized[node])),
            "reach": reach,
            "n_rows": round(reach * n_total),
            "mean_path_probability": float(tree.node_mean_path_probability_[node]),
            "flag": "dead" if reach == 0 else "",
        }
        if class_counts is not None:
            total = max(int(class_counts[node].sum()), 1)
            for k, label in enumerate(tree.classes_):
                row[f"p({label})"] = class_counts[node, k] / total
        rows.append(row)
    return pd.DataFrame(rows)


def leaf_table(tree: Any) -> pd.DataFrame:
    """One row per leaf.

    Parameters
    ----------
    tree : SoftDecisionTreeClassifier
        The fitted tree.

    Returns
    -------
    DataFrame of shape (n_leaves, 8 + 2 * n_classes)
        Columns: leaf, predicted_class (the leaf's most probable class), confidence (its
        probability), n_rows (training rows assigned to the leaf), share (the same as a
        share), mean_path_probability, training_fidelity (share of its rows whose
        reference class is predicted_class), flag ("dead": no row, "near-empty": under
        1% of the rows, see ``SOFT_TREE_NEAR_EMPTY_LEAF_SHARE``), then ``p(<class>)``
        per class (the leaf's distribution) and ``share(<class>)`` per class (the
        reference classes of its rows).
    """
    check_fitted(tree, "module_")
    dist = tree.leaf_distributions_
    counts = np.asarray(tree.leaf_counts_)
    n_rows = int(counts.sum())
    predicted = dist.argmax(axis=1)
    class_counts = tree.__dict__.get("leaf_class_counts_")
    hits = (
        class_counts[np.arange(len(counts)), predicted]
        if class_counts is not None
        else np.full(len(counts), np.nan)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        fidelity = np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)
    table = pd.DataFrame(
        {
            "leaf": np.arange(dist.shape[0]),
            "predicted_class": tree.classes_[predicted],
            "confidence": dist.max(axis=1),
            "n_rows": counts,
            "share": counts / max(n_rows, 1),
            "mean_path_probability": tree.leaf_mean_path_probability_,
            "training_fidelity": fidelity,
            "flag": leaf_flags(counts),
        }
    )
    for k, label in enumerate(tree.classes_):
        table[f"p({label})"] = dist[:, k]
    if class_counts is not None:
        for k, label in enumerate(tree.classes_):
            table[f"share({label})"] = class_counts[:, k] / np.maximum(counts, 1)
    return table


def to_text(tree: Any, top_k: int = 5, max_depth: int | None = None) -> str:
    """The tree as indented text, one line per node and leaf, in the original units.

    Each inner node shows its split (the "yes" branch's condition; a split on more than
    ``top_k`` features shows the ``top_k`` largest and "+ ..."), and the share of
    training rows that reach it; each leaf shows its most probable class, that class's
    probability, its training rows and a flag for dead or near-empty leaves.

    Parameters
    ----------
    tree : SoftDecisionTreeClassifier
        The fitted tree.
    top_k : int, default=5
        Most features shown per node (5: every feature of a split at the default
        ``max_features_per_node``).
    max_depth : int or None, default=None
        Show the nodes down to this depth in full and elide the subtrees below them as
        "..." (None: the whole tree).

    Returns
    -------
    str
        One line per node and leaf, indented by depth.
    """
    check_fitted(tree, "module_")
    owner = type(tree).__name__
    top_k = check_number(top_k, "top_k", owner, integer=True, low=0)
    max_depth = check_number(max_depth, "max_depth", owner, integer=True, low=0, allow_none=True)
    depth = int(tree.module_.depth)
    weights, biases = raw_weights(tree)
    standardized = tree.node_weights_standardized_
    names = feature_names(tree)
    dist = tree.leaf_distributions_
    flags = leaf_flags(tree.leaf_counts_)
    lines: list[str] = []

    def split(node: int) -> str:
        active = np.flatnonzero(standardized[node])
        if active.size <= max(top_k, 1):
            return split_text(tree, node)
        order = np.argsort(-np.abs(standardized[node]), kind="stable")[:top_k]
        terms = " ".join(f"{weights[node, j]:+.3g}*{names[j]}" for j in order)
        return f"{terms} + ... {biases[node]:+.3g} > 0"

    def describe(node: int, level: int, prefix: str) -> None:
        pad = "  " * level
        if level == depth:
            leaf = node - (2**depth - 1)
            k = int(dist[leaf].argmax())
            flag = f" [{flags[leaf]}]" if flags[leaf] else ""
            lines.append(
                f"{pad}{prefix}leaf {leaf}: class {_label(tree.classes_[k])!r} "
                f"(p={dist[leaf, k]:.2f}; {int(tree.leaf_counts_[leaf])} training rows){flag}"
            )
            return
        if max_depth is not None and level > max_depth:
            lines.append(f"{pad}{prefix}node {node}: ...")
            return
        lines.append(
            f"{pad}{prefix}node {node}: {split(node)} "
            f"(reached by {100 * tree.node_reach_[node]:.0f}% of training rows)"
        )
        describe(2 * node + 1, level + 1, "no  -> ")
        describe(2 * node + 2, level + 1, "yes -> ")

    describe(0, 0, "")
    return "\n".join(lines)


def node_filters_as_images(tree: Any, shape: tuple[int, ...] = (8, 8)) -> np.ndarray:
    """The node filters (:attr:`node_weights_`, original units) reshaped as images.

    Parameters
    ----------
    tree : SoftDecisionTreeClassifier
        The fitted tree.
    shape : tuple of int, default=(8, 8)
        The image shape, whose product must equal n_features (8 x 8 for scikit-learn's
        digits).

    Returns
    -------
    ndarray of shape (n_inner, *shape)
        float64, in heap order.
    """
    check_fitted(tree, "module_")
    owner = type(tree).__name__
    try:
        shape = tuple(int(s) for s in shape)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(
            f"The 'shape' argument of {owner}.node_filters_as_images must be a tuple "
            f"of ints such as (8, 8). Got {shape!r} instead."
        ) from exc
    if math.prod(shape) != tree.n_features_in_:
        raise InputError(
            f"The 'shape' argument of {owner}.node_filters_as_images must have "
            f"{tree.n_features_in_} pixels in all (one per feature). Got {shape!r}, "
            f"{math.prod(shape)} pixels."
        )
    return tree.node_weights_.reshape(-1, *shape)
