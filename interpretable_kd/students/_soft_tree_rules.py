"""A fitted soft decision tree in the data's own terms: node weights and thresholds in the
original units, each split as a condition, and each leaf as an IF ... THEN rule.

Original units. The network holds, per inner node, weights ``w`` and a bias ``b`` on the
standardised columns ``z = (x - mu) / sigma`` (``x_mean_``, ``x_scale_``); the same split
on the raw columns is

    w . z + b = w_raw . x + b_raw,   w_raw = w / sigma,   b_raw = b - w_raw . mu

Conditions. Node i sends a row right when ``w_raw . x + b_raw > 0`` (the hard path,
:func:`~._soft_tree_init.hard_leaf_index`), left otherwise. A split on one feature j
reads ``x_j > t`` / ``x_j <= t`` with ``t = -b_raw / w_raw_j`` (the inequalities flip for
a negative weight); a split on several reads ``sum_j w_raw_j x_j > -b_raw``. A rule is
the conjunction of the conditions on a leaf's hard path (bounds on one feature merged),
so every row satisfies exactly one rule: the one of the leaf ``apply`` gives it under
``prediction="hard_path"``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .._defaults import SOFT_TREE_NEAR_EMPTY_LEAF_SHARE
from .._validation import check_fitted, check_X
from ..exceptions import InputError

__all__ = [
    "Condition",
    "evaluate_conditions",
    "feature_names",
    "leaf_flags",
    "node_conditions",
    "plain_label",
    "raw_weights",
    "split_text",
    "to_rules",
]

#: (feature names, weights, operator, threshold): ``sum_k weights[k] * x[names[k]] op
#: threshold``; for one feature the weight is 1. Operators: "<=", ">", ">=", "<".
Condition = tuple[tuple[str, ...], tuple[float, ...], str, float]

_FLIP = {"<=": ">=", ">": "<", ">=": "<=", "<": ">"}


def raw_weights(tree: Any) -> tuple[np.ndarray, np.ndarray]:
    """Node weights and biases in the original units (module docstring).

    Parameters
    ----------
    tree : SoftDecisionTreeClassifier
        The fitted tree.

    Returns
    -------
    weights : ndarray of shape (n_inner, n_features), float64
        ``w_raw``.
    biases : ndarray of shape (n_inner,), float64
        ``b_raw``.
    """
    check_fitted(tree, "module_")
    weights = tree.node_weights_standardized_
    biases = tree.node_biases_standardized_
    mean = tree.__dict__.get("x_mean_")
    if mean is None:  # a model saved before inputs were standardised
        return weights, biases
    raw = weights / np.asarray(tree.x_scale_, dtype=np.float64)
    return raw, biases - raw @ np.asarray(mean, dtype=np.float64)


def node_conditions(tree: Any, node: int, go_right: bool) -> list[Condition]:
    """The condition a row meets when node ``node`` sends it left or right.

    Parameters
    ----------
    tree : SoftDecisionTreeClassifier
        The fitted tree.
    node : int
        Inner node (heap order).
    go_right : bool
        The branch.

    Returns
    -------
    list of Condition
        One condition; none when the node has no weight and always takes this branch
        (``[((), (), "never", 0.0)]`` when it never does).
    """
    weights, biases = raw_weights(tree)
    names = feature_names(tree)
    active = np.flatnonzero(tree.node_weights_standardized_[node])
    bias = float(biases[node])
    if active.size == 0:
        takes_right = bias > 0
        return [] if takes_right == go_right else [((), (), "never", 0.0)]
    if active.size == 1:
        j = int(active[0])
        w = float(weights[node, j])
        op = ">" if go_right else "<="
        return [((names[j],), (1.0,), op if w > 0 else _FLIP[op], -bias / w)]
    return [
        (
            tuple(names[j] for j in active),
            tuple(float(weights[node, j]) for j in active),
            ">" if go_right else "<=",
            -bias,
        )
    ]


def split_text(tree: Any, node: int) -> str:
    """Node ``node``'s "goes right" condition as text, e.g. ``age > 37.5``."""
    conditions = node_conditions(tree, node, True)
    if not conditions:
        return "always"
    return _condition_text(conditions[0])


def to_rules(tree: Any, X: Any = None, teacher_predictions: Any = None) -> pd.DataFrame:
    """Each leaf as an IF ... THEN rule in the data's own terms.

    The rules follow the hard path (module docstring), so every row meets exactly one
    rule, and its class is what ``predict`` says under ``prediction="hard_path"`` (the
    default; with "max_path" they can differ for rows near several thresholds).

    Parameters
    ----------
    tree : SoftDecisionTreeClassifier
        The fitted tree.
    X : array-like or DataFrame of shape (n_samples, n_features) or None
        Rows to count per rule (``n_rows``, ``coverage``).
    teacher_predictions : array-like of shape (n_samples,) or None
        The teacher's predicted labels for the rows of X; adds ``fidelity`` per rule
        (share of the rule's rows where the teacher predicts the rule's class).

    Returns
    -------
    DataFrame
        One row per leaf: ``leaf``, ``rule`` (text), ``class``, ``confidence`` (the
        leaf's probability of its class), ``training_rows``, ``training_coverage``,
        ``training_fidelity`` (share of the leaf's training rows whose reference class is
        the rule's), ``flag`` ("dead": no training row, "near-empty": under
        ``SOFT_TREE_NEAR_EMPTY_LEAF_SHARE`` of them, else ""), ``conditions`` (list of
        :data:`Condition`, exact numbers); with X also ``n_rows`` and ``coverage``; with
        teacher predictions also ``fidelity``.

    Raises
    ------
    InputError
        When teacher predictions come without X, or their length differs from X's.
    """
    check_fitted(tree, "module_")
    owner = type(tree).__name__
    if teacher_predictions is not None and X is None:
        raise InputError(
            f"{owner}.to_rules got teacher_predictions but no X: pass the rows they "
            "belong to as X, e.g. tree.to_rules(X, teacher.predict(X))."
        )
    depth = int(tree.module_.depth)
    dist = tree.leaf_distributions_
    counts = np.asarray(tree.leaf_counts_)
    class_counts = np.asarray(tree.leaf_class_counts_)
    total = max(int(counts.sum()), 1)
    rows = []
    for leaf in range(2**depth):
        conditions: list[Condition] = []
        node = 0
        for level in range(depth):
            go_right = bool((leaf >> (depth - 1 - level)) & 1)
            conditions += node_conditions(tree, node, go_right)
            node = 2 * node + 1 + int(go_right)
        conditions = _merge(conditions)
        k = int(dist[leaf].argmax())
        label = plain_label(tree.classes_[k])
        text = " AND ".join(_condition_text(c) for c in conditions) or "always"
        rows.append(
            {
                "leaf": leaf,
                "rule": f"IF {text} THEN class = {label!r}",
                "class": label,
                "confidence": float(dist[leaf, k]),
                "training_rows": int(counts[leaf]),
                "training_coverage": counts[leaf] / total,
                "training_fidelity": class_counts[leaf, k] / counts[leaf]
                if counts[leaf]
                else math.nan,
                "flag": leaf_flags(counts)[leaf],
                "conditions": conditions,
            }
        )
    table = pd.DataFrame(rows)
    if X is not None:
        _add_coverage(tree, table, X, teacher_predictions)
    return table


def evaluate_conditions(tree: Any, conditions: list[Condition], X: Any) -> np.ndarray:
    """Which rows of X meet every condition (evaluated in float64 on the raw columns).

    Parameters
    ----------
    tree : SoftDecisionTreeClassifier
        The fitted tree (for the feature names).
    conditions : list of Condition
        A rule's ``conditions``.
    X : array-like or DataFrame of shape (n_samples, n_features)
        Rows.

    Returns
    -------
    ndarray of shape (n_samples,), bool
    """
    X_arr = np.asarray(check_X(tree, X, reset=False), dtype=np.float64)
    column = {name: j for j, name in enumerate(feature_names(tree))}
    meets = np.ones(X_arr.shape[0], dtype=bool)
    for names, weights, op, threshold in conditions:
        if op == "never":
            return np.zeros(X_arr.shape[0], dtype=bool)
        lhs = X_arr[:, [column[n] for n in names]] @ np.asarray(weights)
        meets &= {"<=": lhs <= threshold, ">": lhs > threshold, ">=": lhs >= threshold}.get(
            op, lhs < threshold
        )
    return meets


def leaf_flags(counts: np.ndarray) -> list[str]:
    """ "dead" (no row), "near-empty" (under ``SOFT_TREE_NEAR_EMPTY_LEAF_SHARE`` of the
    rows) or "" for each leaf, from its training-row counts."""
    total = max(int(np.sum(counts)), 1)
    return [
        "dead" if c == 0 else "near-empty" if c / total < SOFT_TREE_NEAR_EMPTY_LEAF_SHARE else ""
        for c in np.asarray(counts)
    ]


# ---------------------------------------------------------------------------- helpers
def _add_coverage(tree: Any, table: pd.DataFrame, X: Any, teacher_predictions: Any) -> None:
    """Add ``n_rows``, ``coverage`` and (with teacher predictions) ``fidelity``."""
    leaf = tree.apply(X)
    n = leaf.shape[0]
    per_leaf = np.bincount(leaf, minlength=len(table))
    table["n_rows"] = per_leaf
    table["coverage"] = per_leaf / max(n, 1)
    if teacher_predictions is None:
        return
    teacher = np.asarray(teacher_predictions)
    if teacher.shape != (n,):
        raise InputError(
            f"{type(tree).__name__}.to_rules needs one teacher prediction per row of X: "
            f"expected shape ({n},), got {teacher.shape}. Pass teacher.predict(X)."
        )
    agree = teacher.astype(object) == np.asarray(table["class"], dtype=object)[leaf]
    hits = np.bincount(leaf, weights=agree.astype(float), minlength=len(table))
    with np.errstate(invalid="ignore", divide="ignore"):
        table["fidelity"] = np.where(per_leaf > 0, hits / np.maximum(per_leaf, 1), np.nan)


def _merge(conditions: list[Condition]) -> list[Condition]:
    """Merge the bounds on one feature (``x > 1 AND x > 3`` -> ``x > 3``)."""
    lower: dict[str, tuple[float, str]] = {}
    upper: dict[str, tuple[float, str]] = {}
    other: list[Condition] = []
    order: list[str] = []
    for names, weights, op, threshold in conditions:
        if len(names) != 1 or op == "never":
            other.append((names, weights, op, threshold))
            continue
        name = names[0]
        if name not in order:
            order.append(name)
        if op in (">", ">="):
            old = lower.get(name)
            if old is None or threshold > old[0] or (threshold == old[0] and op == ">"):
                lower[name] = (threshold, op)
        else:
            old = upper.get(name)
            if old is None or threshold < old[0] or (threshold == old[0] and op == "<"):
                upper[name] = (threshold, op)
    merged: list[Condition] = []
    for name in order:
        if name in lower:
            merged.append(((name,), (1.0,), lower[name][1], lower[name][0]))
        if name in upper:
            merged.append(((name,), (1.0,), upper[name][1], upper[name][0]))
    return merged + other


def _condition_text(condition: Condition) -> str:
    names, weights, op, threshold = condition
    if op == "never":
        return "never"
    if len(names) == 1 and weights == (1.0,):
        return f"{names[0]} {op} {threshold:.4g}"
    terms = []
    for k, (name, weight) in enumerate(zip(names, weights, strict=True)):
        sign = "-" if weight < 0 else "+"
        if k == 0:
            terms.append(f"{'-' if weight < 0 else ''}{abs(weight):.3g}*{name}")
        else:
            terms.append(f"{sign} {abs(weight):.3g}*{name}")
    return f"{' '.join(terms)} {op} {threshold:.4g}"


def feature_names(tree: Any) -> list[str]:
    """The tree's feature names: ``feature_names_in_`` when it was fitted on a DataFrame,
    else ``x0``, ``x1``, ...

    Parameters
    ----------
    tree : SoftDecisionTreeClassifier
        The fitted tree.

    Returns
    -------
    list of str
        One name per feature.
    """
    names = getattr(tree, "feature_names_in_", None)
    if names is not None:
        return [str(name) for name in names]
    return [f"x{j}" for j in range(tree.n_features_in_)]


def plain_label(value: Any) -> Any:
    """A class label as a plain Python value (``'yes'``, not ``np.str_('yes')``)."""
    return value.item() if isinstance(value, np.generic) else value
