"""The comparison's tables beyond the headline numbers: per-row attribution agreement,
the disagreement rows with each model's top features, and Distill-and-Compare."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import attributions as attr
from ._inputs import Bootstrap, take_rows
from ._models import coefficients, model_complexity
from ._result import StudentResult

__all__ = [
    "MAX_DISAGREEMENTS_EXPLAINED",
    "agreement_rows",
    "disagreements",
    "distill_and_compare",
]

#: Disagreement rows (the first ones) explained for both models.
MAX_DISAGREEMENTS_EXPLAINED = 10


def agreement_rows(
    teacher: attr.Attributions, student: attr.Attributions, k: int
) -> dict[str, np.ndarray]:
    """Per-row agreement of a student's attributions with the teacher's.

    Parameters
    ----------
    teacher, student : Attributions
        Values of shape (n_explained, n_features) on the same rows.
    k : int
        The k of the top-k metrics.

    Returns
    -------
    dict of str to ndarray of shape (n_explained,)
        ``feature_agreement`` and ``sign_agreement`` (top-k) and ``rank_correlation``.
    """
    return {
        "feature_agreement": attr.feature_agreement(teacher, student, k),
        "sign_agreement": attr.sign_agreement(teacher, student, k),
        "rank_correlation": attr.rank_correlation(teacher, student),
    }


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
) -> pd.DataFrame:
    """Rows where the student and the teacher disagree, with each one's top features.

    The first :data:`MAX_DISAGREEMENTS_EXPLAINED` such rows are explained for both models
    (with the teacher's class as the target) so that an auditor can see why they part
    ways.

    Parameters
    ----------
    result : StudentResult
        The student's probabilities and predictions over the rows of X.
    teacher : Teacher
        The teacher, explained again on the shown rows when ``teacher_attr`` exists.
    teacher_proba : ndarray of shape (n_rows, n_classes)
        The teacher's probabilities.
    teacher_attr : Attributions or None
        None when the teacher cannot be explained (its top features stay empty).
    X : array-like or DataFrame of shape (n_rows, n_features)
        The compared rows.
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

    Returns
    -------
    DataFrame
        Columns ``student``, ``row``, ``teacher_class``, ``teacher_probability``,
        ``student_class``, ``student_probability``, [``true_class``],
        ``teacher_top_features``, ``student_top_features`` (e.g. ``"age (+0.120), ..."``;
        empty after the first explained rows).
    """
    teacher_pred = teacher_proba.argmax(axis=1)
    rows = np.flatnonzero(result.pred != teacher_pred)
    frame = pd.DataFrame(
        {
            "student": result.name,
            "row": rows,
            "teacher_class": [class_names[i] for i in teacher_pred[rows]],
            "teacher_probability": teacher_proba[rows, teacher_pred[rows]],
            "student_class": [class_names[i] for i in result.pred[rows]],
            "student_probability": result.proba[rows, result.pred[rows]],
        }
    )
    if y_index is not None:
        frame["true_class"] = [class_names[i] for i in y_index[rows]]
    frame["teacher_top_features"] = ""
    frame["student_top_features"] = ""
    shown = rows[:MAX_DISAGREEMENTS_EXPLAINED]
    if shown.size == 0:
        return frame
    X_shown = take_rows(X, shown)
    student_attr = attr.explain(
        result.model,
        X_shown,
        background,
        target=teacher_pred[shown],
        random_state=random_state,
        **explain_kwargs,
    )
    frame.loc[: shown.size - 1, "student_top_features"] = _top_features(student_attr, names, top_k)
    if teacher_attr is not None:
        teacher_shown = attr.explain(
            teacher,
            X_shown,
            background,
            target=teacher_pred[shown],
            random_state=random_state,
            **explain_kwargs,
        )
        frame.loc[: shown.size - 1, "teacher_top_features"] = _top_features(
            teacher_shown, names, top_k
        )
    return frame


def _top_features(a: attr.Attributions, names: list[str], k: int) -> list[str]:
    """Per row, the ``min(k, 3)`` features of largest |value| as ``"name (+0.123)"``.

    Parameters
    ----------
    a : Attributions
        Values of shape (n_rows, n_features).
    names : list of str
        Feature names.
    k : int
        The report's top-k.

    Returns
    -------
    list of str
        One comma-separated entry per row.
    """
    out = []
    for row in a.values:
        order = np.argsort(-np.abs(row), kind="stable")[: min(k, 3)]
        out.append(", ".join(f"{names[j]} ({row[j]:+.3f})" for j in order))
    return out


def distill_and_compare(
    mimic: Any,
    outcome: Any,
    mimic_attr: attr.Attributions | None,
    X_explain: Any,
    background: Any,
    target: np.ndarray,
    names: list[str],
    boot: Bootstrap,
    random_state: int,
    explain_kwargs: dict[str, Any],
) -> dict[str, Any]:
    """Tan et al. (2018): what the teacher does that the labels alone do not explain.

    Compares the global importance (mean |SHAP|) of the mimic student with that of an
    outcome student of the same kind, per feature, with bootstrap intervals over the
    explained rows: ``d_j = mean_i (|phi_mimic[i, j]| - |phi_outcome[i, j]|)``; and, for
    linear students, their coefficients.

    Parameters
    ----------
    mimic : object
        The distilled student.
    outcome : object
        A model of the same kind trained on the true labels only.
    mimic_attr : Attributions or None
        The mimic's attributions on ``X_explain`` (None: no importance table).
    X_explain : array-like of shape (n_explained, n_features)
        The explained rows.
    background : array-like
        The explainer's background rows.
    target : ndarray of shape (n_explained,)
        The teacher's predicted class of each explained row.
    names : list of str
        Feature names.
    boot : Bootstrap
        The comparison's bootstrap.
    random_state : int
        The explainer's seed.
    explain_kwargs : dict
        Further arguments of :func:`~interpretable_kd.attributions.explain`.

    Returns
    -------
    dict
        ``outcome_kind``; ``importance`` (DataFrame: feature, mimic_importance,
        outcome_importance, difference, difference_low, difference_high, significant;
        largest |difference| first) when ``mimic_attr`` is given; ``coefficients``
        (DataFrame: feature, mimic, outcome, difference) when both models have
        coefficients of the same shape.
    """
    panel: dict[str, Any] = {"outcome_kind": model_complexity(outcome)["kind"]}
    if mimic_attr is not None:
        outcome_attr = attr.explain(
            outcome,
            X_explain,
            background,
            target=target,
            random_state=random_state,
            **explain_kwargs,
        )
        diff = np.abs(mimic_attr.values) - np.abs(outcome_attr.values)
        rows = []
        for j, name in enumerate(names):
            low, high = boot.mean_ci(diff[:, j])
            rows.append(
                {
                    "feature": name,
                    "mimic_importance": float(np.abs(mimic_attr.values[:, j]).mean()),
                    "outcome_importance": float(np.abs(outcome_attr.values[:, j]).mean()),
                    "difference": float(diff[:, j].mean()),
                    "difference_low": low,
                    "difference_high": high,
                }
            )
        table = pd.DataFrame(rows)
        table["significant"] = (table["difference_low"] > 0) | (table["difference_high"] < 0)
        panel["importance"] = table.sort_values("difference", key=np.abs, ascending=False)
    mimic_coef, outcome_coef = coefficients(mimic), coefficients(outcome)
    if (
        mimic_coef is not None
        and outcome_coef is not None
        and mimic_coef.shape == outcome_coef.shape
    ):
        panel["coefficients"] = pd.DataFrame(
            {
                "feature": names,
                "mimic": mimic_coef[0],
                "outcome": outcome_coef[0],
                "difference": mimic_coef[0] - outcome_coef[0],
            }
        )
    return panel
