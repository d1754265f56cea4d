"""The comparison's tables beyond the headline numbers: per-row attribution agreement,
the disagreement rows with each model's top features, and Distill-and-Compare."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import attributions as attr
from ._disagreements import MAX_DISAGREEMENTS_EXPLAINED, disagreements
from ._inputs import Bootstrap
from ._models import coefficients, model_complexity
from ._shapes import shape_comparison

__all__ = [
    "MAX_DISAGREEMENTS_EXPLAINED",
    "agreement_rows",
    "disagreements",
    "distill_and_compare",
]


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
        coefficients of the same shape; ``shapes`` (DataFrame: feature, x, class, mimic,
        outcome, difference, see :func:`~._shapes.shape_comparison`) when both are
        additive students: Tan et al.'s own comparison, shape against shape.
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
    shapes = shape_comparison(mimic, outcome)
    if shapes is not None:
        panel["shapes"] = shapes
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
