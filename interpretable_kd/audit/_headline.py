"""Headline fidelity that cannot hide a class: majority baseline, Cohen's kappa, balanced
and worst-class fidelity, each with an interval over refits x rows; the faithfulness rule
that the LowFidelityWarning and ``verdict()`` share."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .. import metrics
from ..exceptions import LowFidelityWarning

__all__ = ["faithfulness", "headline", "warn_if_unfaithful"]


def headline(
    teacher_pred: np.ndarray,
    predictions: np.ndarray,
    class_names: list[str],
    n_bootstrap: int,
    random_state: int,
    confidence: float,
    y_index: np.ndarray | None = None,
) -> dict[str, Any]:
    """Every headline number of one student, with its interval.

    Parameters
    ----------
    teacher_pred : ndarray of shape (n_rows,)
        The teacher's class indices.
    predictions : ndarray of shape (n_refits, n_rows)
        Class indices of the given student (row 0) and of each refit.
    class_names : list of str
        Display names, indexed by class index.
    n_bootstrap : int
        Resamples per interval (0: NaN intervals).
    random_state : int
        Seed of every interval.
    confidence : float
        Level of the intervals.
    y_index : ndarray of shape (n_rows,) or None
        True class indices (accuracy over refits).

    Returns
    -------
    dict
        ``n_refits``, ``interval_kind`` ("rows" or "refits x rows"), ``fidelity`` (mean over
        refits) and ``fidelity_ci``, ``majority_baseline``, ``majority_class``, ``kappa``
        and ``kappa_ci``, ``balanced_fidelity`` and ``balanced_fidelity_ci``,
        ``worst_class``, ``worst_class_fidelity`` and ``worst_class_fidelity_ci``,
        ``positive_class`` and ``positive_class_fidelity`` (binary tasks: agreement on the
        rows the teacher flags as the second class; else None), and with labels
        ``accuracy`` and ``accuracy_ci``. Point estimates are of the given student
        (row 0); ``fidelity_refit_mean`` is the mean over every refit.
    """
    labels = list(range(len(class_names)))
    given = predictions[0]
    counts = np.bincount(teacher_pred, minlength=len(labels))
    worst_label, worst = metrics.worst_class_fidelity(teacher_pred, given, labels=labels)

    def ci(
        metric: Any, reference: np.ndarray, bounds: tuple[float, float] = (0.0, 1.0)
    ) -> tuple[float, float]:
        """The refit x row interval of ``metric`` against ``reference`` (its strata),
        within the metric's range ``bounds`` (a share of rows unless said otherwise)."""
        if n_bootstrap == 0:
            return (float("nan"), float("nan"))
        return metrics.refit_bootstrap_ci(
            metric,
            reference,
            predictions,
            n_resamples=n_bootstrap,
            confidence=confidence,
            stratify=reference,
            random_state=random_state,
            bounds=bounds,
        )

    def class_fidelity(label: int) -> Any:
        def value(t: np.ndarray, s: np.ndarray) -> float:
            rows = t == label
            return float(np.mean(s[rows] == label)) if rows.any() else float("nan")

        return value

    n_refits = predictions.shape[0]
    out: dict[str, Any] = {
        "n_refits": int(n_refits),
        "interval_kind": "refits x rows" if n_refits > 1 else "rows",
        "fidelity": metrics.fidelity_score(teacher_pred, given),
        "fidelity_refit_mean": float(np.mean([np.mean(p == teacher_pred) for p in predictions])),
        "fidelity_ci": ci(metrics.fidelity_score, teacher_pred),
        "majority_baseline": metrics.majority_baseline(teacher_pred),
        "majority_class": class_names[int(counts.argmax())],
        "kappa": metrics.cohen_kappa(teacher_pred, given),
        "kappa_ci": ci(metrics.cohen_kappa, teacher_pred, bounds=(-1.0, 1.0)),
        "balanced_fidelity": metrics.balanced_fidelity(teacher_pred, given, labels=labels),
        "balanced_fidelity_ci": ci(
            lambda t, s: metrics.balanced_fidelity(t, s, labels=labels), teacher_pred
        ),
        "worst_class": class_names[int(worst_label)],
        "worst_class_fidelity": worst,
        "worst_class_fidelity_ci": ci(class_fidelity(int(worst_label)), teacher_pred),
        "worst_class_rows": int(counts[int(worst_label)]),
        "positive_class": None,
        "positive_class_fidelity": None,
        "positive_class_rows": None,
    }
    if len(class_names) == 2:
        out["positive_class"] = class_names[1]
        out["positive_class_rows"] = int(counts[1])
        if counts[1]:
            out["positive_class_fidelity"] = float(np.mean(given[teacher_pred == 1] == 1))
    if y_index is not None:
        out["accuracy_ci"] = ci(metrics.fidelity_score, y_index)
    return out


def faithfulness(
    head: dict[str, Any], min_worst_class_fidelity: float, min_kappa: float
) -> tuple[bool, list[str]]:
    """Whether a student may stand for the teacher, and the reasons when it may not.

    Faithful when the worst class's fidelity is at least ``min_worst_class_fidelity``
    and Cohen's kappa at least ``min_kappa``; overall fidelity is not used (it can hide a
    class the student never predicts).

    Parameters
    ----------
    head : dict
        :func:`headline` of the student.
    min_worst_class_fidelity, min_kappa : float
        The thresholds.

    Returns
    -------
    (faithful, reasons) : tuple of bool and list of str
        Each reason is a phrase, e.g. "it agrees on only 49.6% of the rows the teacher
        predicts as default (threshold 80%)".
    """
    reasons = []
    if head["worst_class_fidelity"] < min_worst_class_fidelity:
        reasons.append(
            f"it agrees on only {head['worst_class_fidelity']:.1%} of the "
            f"{head['worst_class_rows']} rows the teacher predicts as "
            f"{head['worst_class']!r} (threshold {min_worst_class_fidelity:.0%})"
        )
    if head["kappa"] < min_kappa:
        reasons.append(
            f"its agreement beyond chance is Cohen's kappa {head['kappa']:.2f} "
            f"(threshold {min_kappa:.2f}; a constant student predicting "
            f"{head['majority_class']!r} scores 0 with fidelity {head['majority_baseline']:.1%})"
        )
    return not reasons, reasons


def warn_if_unfaithful(
    name: str,
    fidelity: float,
    head: dict[str, Any],
    min_worst_class_fidelity: float,
    min_kappa: float,
    stacklevel: int,
) -> None:
    """Record :func:`faithfulness` in ``head`` and warn when the student is unfaithful.

    Sets ``head["faithful"]`` (bool) and ``head["unfaithful_reasons"]`` (list of str), read
    by the report's verdict, and issues a ``LowFidelityWarning`` when not faithful.

    Parameters
    ----------
    name : str
        The student.
    fidelity : float
        Its overall fidelity (quoted, not judged).
    head : dict
        Its :func:`headline`.
    min_worst_class_fidelity, min_kappa : float
        The thresholds.
    stacklevel : int
        Where the warning points, counted from the caller of this function.
    """
    faithful, reasons = faithfulness(head, min_worst_class_fidelity, min_kappa)
    head["faithful"], head["unfaithful_reasons"] = faithful, reasons
    if faithful:
        return
    warnings.warn(
        f"Student {name!r} may not stand for the teacher: " + "; and ".join(reasons) + ", "
        f"although it agrees on {fidelity:.1%} of all rows. Its explanations may not be "
        "the teacher's.",
        LowFidelityWarning,
        stacklevel=stacklevel + 1,
    )
