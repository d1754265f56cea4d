"""Where not to trust a student: fidelity by group and the failure region in words.

For each student, fidelity (share of rows where it predicts the teacher's class) is
measured within groups of rows, each with a 95% Wilson score interval (exact enough for
the small groups, and never the degenerate [1, 1] a bootstrap gives a group without
disagreements):

* **teacher confidence**: deciles of |p_T - 0.5| (binary teacher) or of the teacher's
  top probability (more classes);
* **each top feature**: quantile bins of its values in the user's units;
* **each segment column** (e.g. sex, race), which need not be a feature.

The lowest-fidelity group is named, and a shallow decision tree fitted on "the student
disagrees" (features in the user's units, plus one indicator per segment value) states
the region where it fails most as a sentence: "disagrees on 31% of rows with
PAY_0 ≥ 2 and LIMIT_BAL ≤ 50,000".
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier

from ..attributions import Attributions
from ._result import StudentResult
from ._where_inputs import view_matrix

__all__ = [
    "FAILURE_TREE_DEPTH",
    "MIN_GROUP_ROWS",
    "N_CONFIDENCE_BANDS",
    "N_FEATURE_BINS",
    "failure_region",
    "fidelity_by_group",
    "where_not_to_trust",
    "where_summary",
    "wilson_interval",
]

#: Bands of teacher confidence (deciles).
N_CONFIDENCE_BANDS = 10
#: Quantile bins per top feature.
N_FEATURE_BINS = 5
#: Groups smaller than this are shown but never named as the lowest-fidelity group.
MIN_GROUP_ROWS = 10
#: Depth of the tree that describes where a student disagrees (2: at most two conditions).
FAILURE_TREE_DEPTH = 2
#: z of the 95% Wilson interval.
_Z = 1.959963984540054


def wilson_interval(successes: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval of a proportion.

    ``(p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)`` with ``p = successes / n``.

    Parameters
    ----------
    successes, n : int
        Rows that agree, and rows in the group.

    Returns
    -------
    tuple of float
        ``(low, high)``; ``(nan, nan)`` for an empty group.
    """
    if n == 0:
        return (float("nan"), float("nan"))
    p = successes / n
    z2 = _Z * _Z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = _Z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _format_value(value: float, digits: int = 3) -> str:
    """A threshold or bin edge as a person writes it (``50,000``, ``2``, ``0.375``).

    Parameters
    ----------
    value : float
    digits : int
        Significant digits of a non-integer below 1000.

    Returns
    -------
    str
    """
    if float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def _quantile_groups(values: np.ndarray, n_bins: int) -> tuple[np.ndarray, list[str]]:
    """Rows grouped by quantile bins of ``values`` (each distinct value its own group
    when there are at most ``n_bins`` of them).

    Parameters
    ----------
    values : ndarray of shape (n_rows,)
    n_bins : int

    Returns
    -------
    codes : ndarray of int of shape (n_rows,)
        The group of each row (in increasing value order).
    labels : list of str
        One label per group, e.g. ``"[30, 45)"`` (the last bin closed: ``"[60, 90]"``).
    """
    distinct = np.unique(values)
    if distinct.size <= n_bins:
        codes = np.searchsorted(distinct, values)
        return codes, [f"= {_format_value(v)}" for v in distinct]
    edges = np.unique(np.quantile(values, np.linspace(0, 1, n_bins + 1)))
    codes = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, edges.size - 2)
    labels = []
    digits = 3
    while digits < 10 and len({f"{e:.{digits}g}" for e in edges}) < edges.size:
        digits += 1  # edges that print alike get more digits
    for k in range(edges.size - 1):
        close = "]" if k == edges.size - 2 else ")"
        low, high = _format_value(edges[k], digits), _format_value(edges[k + 1], digits)
        labels.append(f"[{low}, {high}{close}")
    used = np.unique(codes)
    remap = np.zeros(edges.size - 1, dtype=int)
    remap[used] = np.arange(used.size)
    return remap[codes], [labels[k] for k in used]


def fidelity_by_group(
    agree: np.ndarray, codes: np.ndarray, labels: list[str]
) -> list[dict[str, Any]]:
    """Fidelity and its Wilson interval within each group.

    Parameters
    ----------
    agree : ndarray of bool of shape (n_rows,)
        Whether the student predicts the teacher's class.
    codes : ndarray of int of shape (n_rows,)
        Group of each row, ``0 .. len(labels) - 1``.
    labels : list of str
        Group names.

    Returns
    -------
    list of dict
        ``group``, ``order``, ``n_rows``, ``share``, ``n_disagreements``, ``fidelity``,
        ``fidelity_low``, ``fidelity_high``, one per non-empty group.
    """
    out = []
    for k, label in enumerate(labels):
        mask = codes == k
        n = int(mask.sum())
        if n == 0:
            continue
        hits = int(agree[mask].sum())
        low, high = wilson_interval(hits, n)
        out.append(
            {
                "group": label,
                "order": k,
                "n_rows": n,
                "share": n / agree.size,
                "n_disagreements": n - hits,
                "fidelity": hits / n,
                "fidelity_low": low,
                "fidelity_high": high,
            }
        )
    return out


def _groupings(
    teacher_proba: np.ndarray,
    values: np.ndarray,
    names: list[str],
    top: list[int],
    segments: pd.DataFrame | None,
) -> list[tuple[str, str, np.ndarray, list[str]]]:
    """Every grouping of the rows: confidence bands, top-feature bins, segments.

    Returns
    -------
    list of tuple
        ``(view, column, codes, labels)``.
    """
    if teacher_proba.shape[1] == 2:
        confidence, column = np.abs(teacher_proba[:, 1] - 0.5), "|p - 0.5|"
    else:
        confidence, column = teacher_proba.max(axis=1), "top probability"
    out = [("teacher confidence", column, *_quantile_groups(confidence, N_CONFIDENCE_BANDS))]
    for j in top:
        out.append(("feature", names[j], *_quantile_groups(values[:, j], N_FEATURE_BINS)))
    if segments is not None:
        for name in segments.columns:
            labels_all = segments[name].astype(str).to_numpy()
            levels, codes = np.unique(labels_all, return_inverse=True)
            out.append(("segment", name, codes, [f"= {v}" for v in levels]))
    return out


def _candidates(
    values: np.ndarray, names: list[str], segments: pd.DataFrame | None
) -> tuple[np.ndarray, list[tuple[str, str, Any]]]:
    """The failure tree's columns: every feature (user's units) and one 0/1 column per
    value of each segment column.

    Returns
    -------
    matrix : ndarray of shape (n_rows, n_columns)
    columns : list of tuple
        ``(kind, name, level)``: kind "feature" or "segment"; level the segment value.
    """
    blocks, columns = [values], [("feature", n, None) for n in names]
    if segments is not None:
        for name in segments.columns:
            text = segments[name].astype(str).to_numpy()
            levels = np.unique(text)
            for level in levels[1:] if levels.size == 2 else levels:  # 2 levels: 1 column
                blocks.append((text == level).astype(float)[:, None])
                columns.append(("segment", name, level))
    return np.hstack(blocks), columns


def _condition(
    column: tuple[str, str, Any], values: np.ndarray, threshold: float, right: bool
) -> str:
    """One split of the failure tree in words.

    Parameters
    ----------
    column : tuple
        ``(kind, name, level)`` from :func:`_candidates`.
    values : ndarray of shape (n_rows,)
        The column's values (to write integer and 0/1 columns naturally).
    threshold : float
        sklearn's split: left is ``x <= threshold``.
    right : bool
        Whether the path goes right.

    Returns
    -------
    str
        E.g. ``"race = African-American"``, ``"age ≤ 29"``, ``"sex=male = 1"``.
    """
    kind, name, level = column
    if kind == "segment":
        return f"{name} {'=' if right else '≠'} {level}"
    distinct = np.unique(values)
    if distinct.size == 2:
        return f"{name} = {_format_value(distinct[1] if right else distinct[0])}"
    if np.all(values == np.round(values)):
        if right:  # the observed values on each side: "≥ 150,000", not "> 145,000"
            return f"{name} ≥ {_format_value(distinct[distinct > threshold].min())}"
        return f"{name} ≤ {_format_value(distinct[distinct <= threshold].max())}"
    return (
        f"{name} > {_format_value(threshold)}" if right else f"{name} ≤ {_format_value(threshold)}"
    )


def failure_region(
    disagree: np.ndarray,
    matrix: np.ndarray,
    columns: list[tuple[str, str, Any]],
    random_state: int = 0,
) -> dict[str, Any] | None:
    """The region where a student disagrees most, from a shallow decision tree.

    A ``DecisionTreeClassifier(max_depth=FAILURE_TREE_DEPTH)`` with leaves of at least
    ``max(MIN_GROUP_ROWS, 5% of the rows)`` is fitted on ``disagree``; the leaf with the
    highest disagreement rate is described by the conditions on its path.

    Parameters
    ----------
    disagree : ndarray of bool of shape (n_rows,)
        Whether the student's class differs from the teacher's.
    matrix : ndarray of shape (n_rows, n_columns)
        Candidate columns (see :func:`_candidates`).
    columns : list of tuple
        ``(kind, name, level)`` per column.
    random_state : int
        The tree's seed (ties between equally good splits).

    Returns
    -------
    dict or None
        ``text`` (the sentence), ``conditions`` (list of str), ``rate`` (disagreement
        rate in the region), ``n_rows``, ``share`` (of all rows), ``overall_rate``; None
        when the student never disagrees, or no region disagrees more than the whole.
    """
    n = disagree.size
    overall = float(disagree.mean()) if n else 0.0
    if n == 0 or not disagree.any():
        return None
    tree = DecisionTreeClassifier(
        max_depth=FAILURE_TREE_DEPTH,
        min_samples_leaf=max(MIN_GROUP_ROWS, int(0.05 * n)),
        random_state=random_state,
    ).fit(matrix, disagree.astype(int))
    t = tree.tree_
    leaves = tree.apply(matrix)
    best, best_rate = None, overall
    for leaf in np.unique(leaves):
        rate = float(disagree[leaves == leaf].mean())
        if rate > best_rate + 1e-12:
            best, best_rate = int(leaf), rate
    if best is None:
        return None
    path: list[tuple[int, bool]] = []

    def walk(node: int) -> bool:
        if node == best:
            return True
        for child, right in ((t.children_left[node], False), (t.children_right[node], True)):
            if child != -1 and walk(int(child)):
                path.append((node, right))
                return True
        return False

    walk(0)
    conditions = [
        _condition(
            columns[t.feature[node]], matrix[:, t.feature[node]], float(t.threshold[node]), right
        )
        for node, right in reversed(path)
    ]
    mask = leaves == best
    where = " and ".join(conditions) if conditions else "all rows"
    return {
        "text": f"disagrees on {best_rate:.0%} of rows with {where} ({int(mask.sum())} rows, "
        f"{mask.mean():.0%} of the data; {overall:.0%} of all rows)",
        "conditions": conditions,
        "rate": best_rate,
        "n_rows": int(mask.sum()),
        "share": float(mask.mean()),
        "overall_rate": overall,
    }


def _noise_band(first: Attributions | None, second: Attributions | None) -> np.ndarray | None:
    """Per feature, the explainer's 95% noise half-width: ``1.96 * std(a - b) / sqrt(2)``
    over rows, for the teacher explained twice (``a``, ``b``) with independent seeds.

    Returns
    -------
    ndarray of shape (n_features,) or None
    """
    if first is None or second is None or first.values.shape != second.values.shape:
        return None
    if first.values.shape[0] < 2:
        return None
    return _Z * np.std(first.values - second.values, axis=0, ddof=1) / math.sqrt(2)


def where_not_to_trust(
    students: dict[str, StudentResult],
    teacher_proba: np.ndarray,
    X_arr: np.ndarray,
    names: list[str],
    display: pd.DataFrame,
    *,
    segments: pd.DataFrame | None = None,
    teacher_attr: Attributions | None = None,
    teacher_attr_again: Attributions | None = None,
    explained: np.ndarray | None = None,
    waterfalls: dict[str, list[dict[str, Any]]] | None = None,
    data_warnings: list[str] | None = None,
    top_k: int = 5,
    random_state: int = 0,
    row_ids_given: bool = False,
) -> dict[str, Any]:
    """Every "where not to trust the student" number of a comparison.

    Parameters
    ----------
    students : dict of str to StudentResult
        The measured students (their ``pred`` is read).
    teacher_proba : ndarray of shape (n_rows, n_classes)
        The teacher's probabilities.
    X_arr : ndarray of shape (n_rows, n_features)
        X as the models see it.
    names : list of str
        Feature names.
    display : DataFrame of shape (n_rows, n_columns)
        The rows in the user's units (see :func:`~._where_inputs.view_matrix`).
    segments : DataFrame of shape (n_rows, n_segments) or None
        Segment labels.
    teacher_attr, teacher_attr_again : Attributions or None
        The teacher explained twice on the rows ``explained`` (the second gives the noise
        band).
    explained : ndarray of int or None
        Positions of the explained rows.
    waterfalls : dict or None
        Student -> the contributions of its largest disagreements
        (from :func:`~._disagreements.disagreements`).
    data_warnings : list of str or None
        Messages from :func:`~interpretable_kd.datasets.checks.data_warnings`.
    top_k : int
        Top features (by the teacher's, else the students' mean importance) binned.
    random_state : int
        Seed of the failure trees.
    row_ids_given : bool
        Whether the disagreements carry the caller's row ids (else positions).

    Returns
    -------
    dict
        ``values`` (n_rows, n_features) and ``raw`` (per feature: in the user's units?);
        ``top_features`` (indices); ``explained``; ``groups`` (DataFrame: student, view,
        column, group, order, n_rows, share, n_disagreements, fidelity, fidelity_low,
        fidelity_high); ``row_ids_given``; ``lowest`` (student -> {"any": group row,
        "segment": group row or None}); ``failure_regions`` (student ->
        :func:`failure_region` or None); ``waterfalls``; ``noise_band``
        (n_features,) or None; ``segments`` (column names); ``data_warnings``.
    """
    values, raw = view_matrix(X_arr, names, display)
    importance = None
    if teacher_attr is not None:
        importance = np.abs(teacher_attr.values).mean(axis=0)
    else:
        explained_students = [
            r.attributions for r in students.values() if r.attributions is not None
        ]
        if explained_students:
            importance = np.mean(
                [np.abs(a.values).mean(axis=0) for a in explained_students], axis=0
            )
    n_top = min(top_k, len(names))
    top = (
        [int(j) for j in np.argsort(-importance, kind="stable")[:n_top]]
        if importance is not None
        else list(range(n_top))
    )
    teacher_pred = teacher_proba.argmax(axis=1)
    groupings = _groupings(teacher_proba, values, names, top, segments)
    matrix, columns = _candidates(values, names, segments)
    rows: list[dict[str, Any]] = []
    lowest: dict[str, dict[str, Any]] = {}
    regions: dict[str, Any] = {}
    for name, result in students.items():
        agree = result.pred == teacher_pred
        mine = []
        for view, column, codes, labels in groupings:
            for entry in fidelity_by_group(agree, codes, labels):
                mine.append({"student": name, "view": view, "column": column, **entry})
        rows.extend(mine)
        lowest[name] = {
            "any": _lowest(mine),
            "segment": _lowest([r for r in mine if r["view"] == "segment"]),
        }
        regions[name] = failure_region(~agree, matrix, columns, random_state=random_state)
    return {
        "values": values,
        "raw": raw,
        "top_features": top,
        "explained": explained,
        "groups": pd.DataFrame(rows),
        "lowest": lowest,
        "failure_regions": regions,
        "waterfalls": waterfalls or {},
        "noise_band": _noise_band(teacher_attr, teacher_attr_again),
        "segments": [] if segments is None else list(segments.columns),
        "data_warnings": list(data_warnings or []),
        "row_ids_given": row_ids_given,
    }


def _lowest(groups: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The group of lowest fidelity among those of at least :data:`MIN_GROUP_ROWS` rows
    (ties: the larger group).

    Parameters
    ----------
    groups : list of dict
        Rows from :func:`fidelity_by_group` (with ``view`` and ``column``).

    Returns
    -------
    dict or None
    """
    big = [g for g in groups if g["n_rows"] >= MIN_GROUP_ROWS]
    if not big:
        return None
    return min(big, key=lambda g: (g["fidelity"], -g["n_rows"]))


def where_summary(where: dict[str, Any] | None) -> dict[str, Any] | None:
    """The ``metrics.json`` entry ``where``: groups, lowest groups, failure regions and
    data warnings (plain JSON types; the per-row arrays stay out).

    Parameters
    ----------
    where : dict or None
        From :func:`where_not_to_trust`.

    Returns
    -------
    dict or None
    """
    if where is None:
        return None
    groups = where["groups"]
    return {
        "top_features": [int(j) for j in where["top_features"]],
        "segments": list(where["segments"]),
        "fidelity_by_group": groups.to_dict(orient="records") if len(groups) else [],
        "lowest_fidelity_group": where["lowest"],
        "failure_regions": where["failure_regions"],
        "data_warnings": list(where["data_warnings"]),
        "interval": "95% Wilson score interval of each group's fidelity",
    }
