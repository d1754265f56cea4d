"""The rows where a student and the teacher disagree, worst first, each one explained.

:func:`disagreements` lists every row of X where a student's predicted class differs
from the teacher's, ranked by how far apart the two models are on the teacher's class,

    gap_i = |p_T(c_i | x_i) - p_S(c_i | x_i)|,    c_i = argmax_c p_T(c | x_i),

with the row's id (the caller's ``row_ids``, else its position), its feature values as
the user knows them (``X_display``, else X), both models' probabilities, and for the
:data:`MAX_DISAGREEMENTS_EXPLAINED` largest disagreements the teacher's and the student's
attributions of the teacher's class (a side-by-side waterfall in the report).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import attributions as attr
from ._inputs import take_rows
from ._result import StudentResult

__all__ = ["MAX_DISAGREEMENTS_EXPLAINED", "disagreements", "top_features_text"]

#: Disagreement rows (the largest ones) explained for both models.
MAX_DISAGREEMENTS_EXPLAINED = 10

#: Columns of the disagreement table before the feature values (in this order).
META_COLUMNS = (
    "student",
    "rank",
    "row_id",
    "row",
    "teacher_class",
    "teacher_probability",
    "student_class",
    "student_probability",
    "student_probability_of_teacher_class",
    "gap",
)


def disagreements(
    result: StudentResult,
    teacher: Any,
    teacher_proba: np.ndarray,
    teacher_attr: attr.Attributions | None,
    X: Any,
    y_index: np.ndarray | None,
    class_names: list[str],
    names: list[str],
    background: Any,
    random_state: int,
    explain_kwargs: dict[str, Any],
    top_k: int,
    *,
    row_ids: np.ndarray | None = None,
    display: pd.DataFrame | None = None,
    explained: np.ndarray | None = None,
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Rows where the student and the teacher disagree, largest gap first, explained.

    Parameters
    ----------
    result : StudentResult
        The student's probabilities, predictions and (on the explained rows)
        attributions.
    teacher : Teacher
        The teacher, explained on the shown rows that were not explained already.
    teacher_proba : ndarray of shape (n_rows, n_classes)
        The teacher's probabilities.
    teacher_attr : Attributions or None
        The teacher's attributions on the rows ``explained``; None when the teacher
        cannot be explained (its contributions stay empty).
    X : array-like or DataFrame of shape (n_rows, n_features)
        The compared rows (what the models see).
    y_index : ndarray of shape (n_rows,) or None
        True class indices (adds ``true_class``).
    class_names, names : list of str
        Display names of the classes and features.
    background : array-like
        The explainer's background rows.
    random_state : int
        The explainer's seed.
    explain_kwargs : dict
        Further arguments of :func:`~interpretable_kd.attributions.explain`.
    top_k : int
        Top features listed per row: ``min(top_k, 3)``.
    row_ids : ndarray of shape (n_rows,) or None
        The id of each row of X (default: its position).
    display : DataFrame of shape (n_rows, n_display_columns) or None
        The rows in the user's own units (default: X with ``names`` as columns); its
        columns are appended to the table.
    explained : ndarray of int or None
        Positions of the rows whose attributions ``teacher_attr`` and
        ``result.attributions`` hold (reused instead of explaining them again).

    Returns
    -------
    table : DataFrame
        One row per disagreeing row, largest ``gap`` first (ties: by position). Columns
        :data:`META_COLUMNS`, [``true_class``], ``teacher_top_features``,
        ``student_top_features`` (``"age (+0.120), ..."``, filled for the explained rows
        only), then one column per column of ``display`` (a name that clashes with a
        column above gets the suffix ``" (feature)"``).
    waterfalls : list of dict
        For each of the first :data:`MAX_DISAGREEMENTS_EXPLAINED` rows of ``table``:
        ``row`` (position), ``row_id``, ``teacher`` and ``student`` (each None or a dict
        with ``values`` of shape (n_features,), ``base`` and ``output``: attributions of
        the teacher's class, their base value and the model's probability).
    """
    n_rows = teacher_proba.shape[0]
    teacher_pred = teacher_proba.argmax(axis=1)
    ids = np.arange(n_rows) if row_ids is None else np.asarray(row_ids)
    differ = np.flatnonzero(result.pred != teacher_pred)
    p_teacher = teacher_proba[differ, teacher_pred[differ]]
    p_student_same = result.proba[differ, teacher_pred[differ]]
    gap = np.abs(p_teacher - p_student_same)
    rows = differ[np.lexsort((differ, -gap))]
    frame = pd.DataFrame(
        {
            "student": result.name,
            "rank": np.arange(1, rows.size + 1),
            "row_id": ids[rows],
            "row": rows,
            "teacher_class": [class_names[i] for i in teacher_pred[rows]],
            "teacher_probability": teacher_proba[rows, teacher_pred[rows]],
            "student_class": [class_names[i] for i in result.pred[rows]],
            "student_probability": result.proba[rows, result.pred[rows]],
            "student_probability_of_teacher_class": result.proba[rows, teacher_pred[rows]],
        }
    )
    frame["gap"] = np.abs(
        frame["teacher_probability"] - frame["student_probability_of_teacher_class"]
    )
    if y_index is not None:
        frame["true_class"] = [class_names[i] for i in y_index[rows]]
    frame["teacher_top_features"] = ""
    frame["student_top_features"] = ""
    shown = rows[:MAX_DISAGREEMENTS_EXPLAINED]
    teacher_values = _explained_values(
        teacher if teacher_attr is not None else None,
        teacher_attr,
        shown,
        explained,
        X,
        background,
        teacher_pred,
        random_state,
        explain_kwargs,
    )
    student_values = _explained_values(
        result.model,
        result.attributions,
        shown,
        explained,
        X,
        background,
        teacher_pred,
        random_state,
        explain_kwargs,
    )
    waterfalls = []
    for i, row in enumerate(shown):
        entry: dict[str, Any] = {"row": int(row), "row_id": ids[row], "teacher": None}
        entry["student"] = None
        for key, values in (("teacher", teacher_values), ("student", student_values)):
            if values is not None:
                entry[key] = {
                    "values": values["values"][i],
                    "base": float(values["base"][i]),
                    "output": float(values["base"][i] + values["values"][i].sum()),
                }
                column = f"{key}_top_features"
                frame.loc[i, column] = top_features_text(values["values"][i], names, top_k)
        waterfalls.append(entry)
    if display is None:
        display = pd.DataFrame(np.asarray(X, dtype=np.float64), columns=names)
    shown_values = display.iloc[rows].reset_index(drop=True)
    taken = set(frame.columns)
    shown_values.columns = [
        f"{c} (feature)" if str(c) in taken else str(c) for c in shown_values.columns
    ]
    return pd.concat([frame, shown_values], axis=1), waterfalls


def _explained_values(
    model: Any,
    known: attr.Attributions | None,
    shown: np.ndarray,
    explained: np.ndarray | None,
    X: Any,
    background: Any,
    teacher_pred: np.ndarray,
    random_state: int,
    explain_kwargs: dict[str, Any],
) -> dict[str, np.ndarray] | None:
    """Attributions of the teacher's class on the rows ``shown``: taken from ``known``
    where the row was explained already, the other rows explained in one call.

    Parameters
    ----------
    model : object or None
        The model to explain; None: nothing is explained (returns None).
    known : Attributions or None
        Attributions on the rows ``explained``.
    shown : ndarray of int of shape (n_shown,)
        Row positions wanted.
    explained : ndarray of int or None
        The rows ``known`` covers, in its row order.
    X, background, teacher_pred, random_state, explain_kwargs
        As in :func:`disagreements`.

    Returns
    -------
    dict or None
        ``values`` (n_shown, n_features) and ``base`` (n_shown,); None without a model or
        rows.
    """
    if model is None or shown.size == 0:
        return None
    n_features = np.asarray(take_rows(X, shown[:1]), dtype=np.float64).shape[1]
    values = np.zeros((shown.size, n_features))
    base = np.zeros(shown.size)
    missing = np.ones(shown.size, dtype=bool)
    if known is not None and explained is not None and known.output_space == "probability":
        position = {int(r): i for i, r in enumerate(explained)}
        for i, row in enumerate(shown):
            j = position.get(int(row))
            if j is not None:
                values[i], base[i], missing[i] = known.values[j], known.base_values[j], False
    if missing.any():
        rows = shown[missing]
        fresh = attr.explain(
            model,
            take_rows(X, rows),
            background,
            target=teacher_pred[rows],
            random_state=random_state,
            **explain_kwargs,
        )
        values[missing], base[missing] = fresh.values, fresh.base_values
    return {"values": values, "base": base}


def top_features_text(values: np.ndarray, names: list[str], k: int) -> str:
    """The ``min(k, 3)`` features of largest |value| of one row as ``"name (+0.123)"``.

    Parameters
    ----------
    values : ndarray of shape (n_features,)
        One row's attributions.
    names : list of str
        Feature names.
    k : int
        The report's top-k.

    Returns
    -------
    str
        Comma-separated, largest |value| first.
    """
    order = np.argsort(-np.abs(values), kind="stable")[: min(k, 3)]
    return ", ".join(f"{names[j]} ({values[j]:+.3f})" for j in order)
