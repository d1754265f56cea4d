"""The teacher's own shape beside the additive student's: partial dependence on held-out
rows, and the shape comparison of Distill-and-Compare for additive students.

For a feature j and a value v, the teacher's partial dependence is the mean, over the
held-out rows x_i, of its decision value with column j set to v:

    PD_j(v) = mean_i s(x_i with x_ij = v),

with s the log-odds ``z_1 - z_0`` for two classes and the centred logits
``z_k - mean_c z_c`` (one per class) for more, the same scale as the student's shapes.
It is centred: ``PD_j - sum_v w_v PD_j(v)`` with w the share of held-out rows at (or
nearest to) each grid value. A one-hot group (``"column=value"`` columns) is set to each
category in turn (its column 1, the group's others 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._inputs import take_rows

__all__ = ["PD_GRID", "PD_ROWS", "TOP_SHAPES", "shape_comparison", "teacher_partial_dependence"]

#: Shapes (features or one-hot groups) drawn, the most important first.
TOP_SHAPES = 9
#: Held-out rows averaged over for each grid value (a seeded sample).
PD_ROWS = 200
#: Grid values of a numeric feature (its distinct values when there are fewer).
PD_GRID = 20


def _decision(logits: np.ndarray) -> np.ndarray:
    """Log-odds (n, 1) for two classes, centred logits (n, k) for more."""
    if logits.shape[1] == 2:
        return logits[:, 1:] - logits[:, :1]
    return logits - logits.mean(axis=1, keepdims=True)


def _with_columns(X: Any, rows: np.ndarray, settings: list[dict[int, float]]) -> Any:
    """The sampled rows once per setting (column index -> value), stacked."""
    base = take_rows(X, rows)
    if isinstance(base, pd.DataFrame):
        parts = []
        for setting in settings:
            part = base.copy()
            for j, value in setting.items():
                part.iloc[:, j] = value
            parts.append(part)
        return pd.concat(parts, ignore_index=True)
    array = np.asarray(base, dtype=np.float64)
    stacked = np.repeat(array[None], len(settings), axis=0)
    for s, setting in enumerate(settings):
        for j, value in setting.items():
            stacked[s, :, j] = value
    return stacked.reshape(-1, array.shape[1])


def teacher_partial_dependence(
    teacher: Any,
    X: Any,
    view: dict[str, Any],
    feature_names: list[str],
    *,
    top: int = TOP_SHAPES,
    max_rows: int = PD_ROWS,
    grid_size: int = PD_GRID,
    random_state: int = 0,
) -> dict[str, dict[str, Any]]:
    """The teacher's centred partial dependence for the student's most important shapes.

    Parameters
    ----------
    teacher : Teacher
        The teacher (``logits`` is called, never ``fit``).
    X : array-like or DataFrame of shape (n_rows, n_features)
        Held-out rows.
    view : dict
        The additive student's readable view (``groups``, ``importances``).
    feature_names : list of str
        The comparison's feature names, one per column of X.
    top : int
        Shapes computed: the ``top`` groups with the largest summed term importance.
    max_rows : int
        Rows averaged over (a sample seeded by ``random_state``).
    grid_size : int
        Grid values of a numeric feature.
    random_state : int
        Seeds the row sample.

    Returns
    -------
    dict
        Group label -> ``kind`` ("numeric" or "categorical"), ``columns`` (member
        names), ``x`` (grid values, or category names), ``weights`` (share of rows per
        grid value), ``values`` (array (n_grid, n_out), centred). Importance order.
    """
    X_arr = np.asarray(X, dtype=np.float64)
    n = X_arr.shape[0]
    rng = np.random.default_rng(random_state)
    rows = np.sort(rng.choice(n, size=min(n, max_rows), replace=False))
    index = {name: j for j, name in enumerate(feature_names)}
    importance = dict(
        zip(view["importances"]["term"], view["importances"]["importance"], strict=True)
    )
    groups = [
        (label, members)
        for label, members in view["groups"]
        if all(member in index for member in members)
    ]
    groups.sort(key=lambda g: -sum(importance.get(m, 0.0) for m in g[1]))
    out: dict[str, dict[str, Any]] = {}
    for label, members in groups[:top]:
        columns = [index[m] for m in members]
        if len(columns) > 1:
            settings = [{j: float(j == c) for j in columns} for c in columns]
            weights = np.array([np.mean(X_arr[:, c] > 0.5) for c in columns])
            grid: Any = [m.split("=", 1)[1] for m in members]
            kind = "categorical"
        else:
            column = X_arr[:, columns[0]]
            values = np.unique(column)
            if values.size > grid_size:
                values = np.unique(np.quantile(column, np.linspace(0, 1, grid_size)))
            nearest = np.abs(column[:, None] - values[None]).argmin(axis=1)
            weights = np.bincount(nearest, minlength=values.size).astype(np.float64)
            settings = [{columns[0]: float(v)} for v in values]
            grid, kind = values, "numeric"
        weights = weights / weights.sum() if weights.sum() > 0 else np.full(len(settings), 1.0)
        logits = np.asarray(teacher.logits(_with_columns(X, rows, settings)), dtype=np.float64)
        pd_values = _decision(logits).reshape(len(settings), len(rows), -1).mean(axis=1)
        pd_values = pd_values - weights @ pd_values
        out[label] = {
            "kind": kind,
            "columns": members,
            "x": np.asarray(grid),
            "weights": weights,
            "values": pd_values,
        }
    return out


def shape_comparison(mimic: Any, outcome: Any) -> pd.DataFrame | None:
    """Tan et al. (2018) with additive students: the mimic's and the outcome model's shape
    of every feature at the mimic's knots.

    Parameters
    ----------
    mimic, outcome : object
        Fitted models (or distilled models whose ``student_`` is one).

    Returns
    -------
    DataFrame or None
        ``feature``, ``x``, ``class``, ``mimic``, ``outcome`` (its shape interpolated at
        the mimic's knots; flat beyond its own ends, as the model is), ``difference``;
        None unless both have ``shape_functions``.
    """
    inner = [getattr(m, "student_", m) for m in (mimic, outcome)]
    if not all(hasattr(m, "shape_functions") for m in inner):
        return None
    ours, theirs = (m.shape_functions() for m in inner)
    parts = []
    for (feature, label), rows in ours.groupby(["feature", "class"], sort=False):
        other = theirs[(theirs["feature"] == feature) & (theirs["class"] == label)]
        if other.empty:
            continue
        other_values = np.interp(rows["x"], other["x"], other["contribution"])
        parts.append(
            pd.DataFrame(
                {
                    "feature": feature,
                    "x": rows["x"].to_numpy(),
                    "class": label,
                    "mimic": rows["contribution"].to_numpy(),
                    "outcome": other_values,
                    "difference": rows["contribution"].to_numpy() - other_values,
                }
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else None
