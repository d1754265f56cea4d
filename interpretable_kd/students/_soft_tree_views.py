"""Reading a fitted soft decision tree: the decisions behind one row, the node and leaf
tables, the tree as text, the node filters as images, and the readable view the report
draws.

Each function takes the fitted :class:`~interpretable_kd.students.soft_tree.
SoftDecisionTreeClassifier` as its first argument, ``tree``; the class binds them as its
methods (``tree.explain(x)``, ``tree.node_table()``, ...). Nodes are in heap order (root
0, children of i at 2i + 1 and 2i + 2); the effective weights of inner node i are
``beta * w_i`` (``tree.node_weights_``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_fitted, check_number, check_X
from ..exceptions import InputError, InputTypeError

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
        The node's effective weight on the feature, ``beta * w_ij``.
    value : float
        The row's value of the feature.
    contribution : float
        ``weight * value``, its share of the node's logit (positive pushes right).
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
        The node's ``beta * (w . x + b)``; the row goes right with probability
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
        - ``"node_weights"``: float64 (n_inner, n_features), :attr:`node_weights_`,
          the effective weights ``beta * w_i``.
        - ``"node_biases"``: float64 (n_inner,), :attr:`node_biases_`.
        - ``"node_filter_weights"``: float64 (n_inner, n_features), the weights that
          :meth:`node_filters_as_images` reshapes into images (reshape each row to
          the image shape).
        - ``"leaf_distributions"``: float64 (n_leaves, n_classes),
          :attr:`leaf_distributions_`.
        - ``"inverse_temperature"``: float, :attr:`inverse_temperature_`.
        - ``"node_reach"``: float64 (n_inner,), :attr:`node_reach_` (share of training
          rows whose most probable path passes through each node); or None.
        - ``"leaf_reach"``: int64 (n_leaves,), :attr:`leaf_counts_` (training rows
          whose most probable leaf each leaf is); or None.
        - ``"node_table"``: DataFrame, ``node_table(top_k=3)``; or None.
        - ``"leaf_table"``: DataFrame, ``leaf_table()``; or None.

        The training-row statistics (reach, counts, tables) are None when the model
        lacks them (they are recorded at the end of ``fit``).
    """
    has_nodes = hasattr(tree, "node_reach_") and hasattr(tree, "node_mean_path_probability_")
    has_leaves = hasattr(tree, "leaf_counts_") and hasattr(tree, "leaf_mean_path_probability_")
    weights = tree.node_weights_
    return {
        "view": "soft_tree",
        "depth": int(tree.module_.depth),
        "feature_names": feature_names(tree),
        "node_weights": weights,
        "node_biases": tree.node_biases_,
        "node_filter_weights": weights.copy(),
        "leaf_distributions": tree.leaf_distributions_,
        "inverse_temperature": tree.inverse_temperature_,
        "node_reach": np.asarray(tree.node_reach_, dtype=float) if has_nodes else None,
        "leaf_reach": np.asarray(tree.leaf_counts_) if has_leaves else None,
        "node_table": tree.node_table(top_k=3) if has_nodes else None,
        "leaf_table": tree.leaf_table() if has_leaves else None,
    }


def explain(tree: Any, x: Any, top_k: int = 3) -> list[DecisionStep]:
    """The decisions on one row's most probable path, root first.

    The path ends at the leaf with the highest path probability, whose distribution
    is the "max_path" prediction (see :meth:`leaf_table` for the leaf).

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
    log_leaf, _ = tree._log_paths_checked(row)
    leaf = int(np.argmax(log_leaf[0]))
    weights, biases = tree.node_weights_, tree.node_biases_
    names = feature_names(tree)
    depth = int(tree.module_.depth)
    steps = []
    path_probability = 1.0
    node = 0
    for level in range(depth):
        go_right = (leaf >> (depth - 1 - level)) & 1
        contributions = weights[node] * row[0].astype(np.float64)
        logit = float(contributions.sum() + biases[node])
        p_right = 1.0 / (1.0 + math.exp(-logit)) if logit > -700 else 0.0
        probability = p_right if go_right else 1.0 - p_right
        path_probability *= probability
        child = 2 * node + 1 + go_right
        order = np.argsort(-np.abs(contributions), kind="stable")[:top_k]
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
    """One row per inner node.

    Parameters
    ----------
    tree : SoftDecisionTreeClassifier
        The fitted tree.
    top_k : int, default=3
        Features named per node, >= 0.

    Returns
    -------
    DataFrame of shape (n_inner, 7)
        Columns: node, depth, bias (``beta * b_i``), top_features (the ``top_k`` largest
        effective weights by absolute value, as "name (+weight)"), weight_norm (L2 norm
        of ``beta * w_i``), reach (share of training rows whose most probable path
        passes through the node), mean_path_probability (mean probability of reaching
        it over the training rows).
    """
    check_fitted(tree, "module_")
    top_k = check_number(top_k, "top_k", type(tree).__name__, integer=True, low=0)
    weights, biases = tree.node_weights_, tree.node_biases_
    names = feature_names(tree)
    rows = []
    for node in range(weights.shape[0]):
        order = np.argsort(-np.abs(weights[node]), kind="stable")[:top_k]
        rows.append(
            {
                "node": node,
                "depth": math.floor(math.log2(node + 1)),
                "bias": float(biases[node]),
                "top_features": ", ".join(f"{names[j]} ({weights[node, j]:+.3g})" for j in order),
                "weight_norm": float(np.linalg.norm(weights[node])),
                "reach": float(tree.node_reach_[node]),
                "mean_path_probability": float(tree.node_mean_path_probability_[node]),
            }
        )
    return pd.DataFrame(rows)


def leaf_table(tree: Any) -> pd.DataFrame:
    """One row per leaf.

    Parameters
    ----------
    tree : SoftDecisionTreeClassifier
        The fitted tree.

    Returns
    -------
    DataFrame of shape (n_leaves, 6 + n_classes)
        Columns: leaf, predicted_class (the leaf's most probable class), confidence (its
        probability), n_rows (training rows whose most probable leaf it is), share (the
        same as a share), mean_path_probability, then one column ``p(<class>)`` per
        class.
    """
    check_fitted(tree, "module_")
    dist = tree.leaf_distributions_
    n_rows = int(tree.leaf_counts_.sum())
    table = pd.DataFrame(
        {
            "leaf": np.arange(dist.shape[0]),
            "predicted_class": tree.classes_[dist.argmax(axis=1)],
            "confidence": dist.max(axis=1),
            "n_rows": tree.leaf_counts_,
            "share": tree.leaf_counts_ / max(n_rows, 1),
            "mean_path_probability": tree.leaf_mean_path_probability_,
        }
    )
    for k, label in enumerate(tree.classes_):
        table[f"p({label})"] = dist[:, k]
    return table


def to_text(tree: Any, top_k: int = 3, max_depth: int | None = None) -> str:
    """The tree as indented text, one line per node and leaf.

    Each inner node shows its ``top_k`` largest effective weights and its bias (the
    row goes right, "yes", with probability ``sigmoid(sum weight * x + bias)``) and
    the share of training rows whose most probable path passes through it; each leaf
    shows its most probable class, that class's probability and its training rows.

    Parameters
    ----------
    tree : SoftDecisionTreeClassifier
        The fitted tree.
    top_k : int, default=3
        Features shown per node.
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
    weights, biases = tree.node_weights_, tree.node_biases_
    names = feature_names(tree)
    dist = tree.leaf_distributions_
    lines: list[str] = []

    def describe(node: int, level: int, prefix: str) -> None:
        pad = "  " * level
        if level == depth:
            leaf = node - (2**depth - 1)
            k = int(dist[leaf].argmax())
            lines.append(
                f"{pad}{prefix}leaf {leaf}: class {_label(tree.classes_[k])!r} "
                f"(p={dist[leaf, k]:.2f}; {int(tree.leaf_counts_[leaf])} training rows)"
            )
            return
        if max_depth is not None and level > max_depth:
            lines.append(f"{pad}{prefix}node {node}: ...")
            return
        order = np.argsort(-np.abs(weights[node]), kind="stable")[:top_k]
        terms = " ".join(f"{weights[node, j]:+.3g}*{names[j]}" for j in order)
        more = " + ..." if top_k < weights.shape[1] else ""
        lines.append(
            f"{pad}{prefix}node {node}: {terms}{more} {biases[node]:+.3g} > 0 "
            f"(reached by {100 * tree.node_reach_[node]:.0f}% of training rows)"
        )
        describe(2 * node + 1, level + 1, "no  -> ")
        describe(2 * node + 2, level + 1, "yes -> ")

    describe(0, 0, "")
    return "\n".join(lines)


def node_filters_as_images(tree: Any, shape: tuple[int, ...] = (8, 8)) -> np.ndarray:
    """The effective filters ``beta * w_i`` reshaped as images, for image inputs.

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


def feature_names(tree: Any) -> list[str]:
    """The tree's feature names.

    Parameters
    ----------
    tree : SoftDecisionTreeClassifier
        The fitted tree.

    Returns
    -------
    list of str
        ``feature_names_in_`` when the tree was fitted on a DataFrame, else ``x0``,
        ``x1``, ...
    """
    names = getattr(tree, "feature_names_in_", None)
    if names is not None:
        return [str(name) for name in names]
    return [f"x{j}" for j in range(tree.n_features_in_)]


def _label(value: Any) -> Any:
    """A class label as a plain Python value, so ``repr`` shows 'yes', not np.str_('yes').

    Parameters
    ----------
    value : object
        A label, possibly a numpy scalar.

    Returns
    -------
    object
        ``value.item()`` for a numpy scalar, else ``value``.
    """
    return value.item() if isinstance(value, np.generic) else value
