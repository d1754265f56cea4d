"""The comparison's result: plain dataclasses of numbers, tables and readable views.

Nothing here computes; :func:`~interpretable_kd.audit.compare` fills these objects and
``report/`` turns them into figures, HTML and ``metrics.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..attributions import Attributions

__all__ = ["ComparisonResult", "StudentResult"]


@dataclass
class StudentResult:
    """Everything measured for one student. Arrays are over the comparison's rows of X.

    Attributes
    ----------
    name : str
        The name the caller gave the student.
    kind : str
        The ``metrics.json`` kind: the registry's ``kind`` for a registered student
        (e.g. ``"soft_decision_tree"``), otherwise ``"decision_tree"`` for a scikit-learn
        decision tree or the class name.
    model : object
        The fitted model that was compared (kept for the caller; the report never reads it).
    proba : ndarray of shape (n_rows, n_classes)
        Class probabilities, columns in the teacher's class order.
    pred : ndarray of shape (n_rows,)
        Predicted class indices, ``proba.argmax(axis=1)``.
    fidelity : float
        Share of rows where ``pred`` equals the teacher's predicted class.
    fidelity_ci : tuple of float
        95% percentile bootstrap interval of ``fidelity`` (NaN without resamples).
    per_class_fidelity : dict of str to float
        Fidelity among the rows of each class the teacher predicts.
    agreement_matrix : ndarray of shape (n_classes, n_classes)
        Counts: teacher class (rows) x student class (columns).
    kl_divergence, js_distance, total_variation : float
        Mean distances between the teacher's and the student's probability rows:
        KL(p_T || p_S), Jensen-Shannon distance, total variation.
    complexity : dict
        ``{"kind": kind, "parameters": ..., ...}``: the model's own ``complexity(X)`` for
        a registered student; see :func:`~interpretable_kd.audit.model_complexity`.
    accuracy, accuracy_ci, calibration_error : float, tuple of float, float or None
        Against the true labels; None without labels.
    attributions : Attributions or None
        SHAP values of the explained rows for the teacher's predicted class.
    agreement : dict or None
        ``agreement_summary`` of the teacher's and the student's attributions.
    agreement_rows : dict of str to ndarray or None
        Per-row ``feature_agreement``, ``sign_agreement`` and ``rank_correlation``.
    outcome : dict or None
        The Distill-and-Compare panel: ``outcome_kind``, and the DataFrames
        ``importance`` and ``coefficients`` when they could be computed.
    view : dict
        The student's readable view (``readable_view()``): plain arrays and tables, its
        ``"view"`` key naming the drawing; ``{"view": None}`` for a model without one.
    headline : dict or None
        :func:`~interpretable_kd.audit._headline.headline`: majority baseline, Cohen's
        kappa, balanced and worst-class fidelity with intervals, and the interval kind.
    features_check : dict or None
        Whether the student's attribution agreement interval overlaps the noise floor's
        (:func:`~interpretable_kd.audit._fair_attributions.uses_teacher_features`).
    temperature : float or None
        The distilled student's ``temperature_`` (None for other models).
    temperature_search : DataFrame or None
        Its ``temperature_search_``: validation fidelity per candidate T.
    """

    name: str
    kind: str
    model: Any
    proba: np.ndarray
    pred: np.ndarray
    fidelity: float
    fidelity_ci: tuple[float, float]
    per_class_fidelity: dict[str, float]
    agreement_matrix: np.ndarray
    kl_divergence: float
    js_distance: float
    total_variation: float
    complexity: dict[str, Any]
    accuracy: float | None = None
    accuracy_ci: tuple[float, float] | None = None
    calibration_error: float | None = None
    attributions: Attributions | None = None
    agreement: dict[str, dict[str, Any]] | None = None
    agreement_rows: dict[str, np.ndarray] | None = None
    outcome: dict[str, Any] | None = None
    view: dict[str, Any] | None = None
    headline: dict[str, Any] | None = None
    features_check: dict[str, Any] | None = None
    temperature: float | None = None
    temperature_search: pd.DataFrame | None = None


@dataclass
class ComparisonResult:
    """A teacher compared with its students on one data set.

    Attributes
    ----------
    dataset : dict
        ``name``, ``n_rows``, ``n_features``, ``classes`` (display names) and
        ``fingerprint`` (first 16 hex digits of the SHA-256 of X as float64).
    feature_names, class_names : list of str
        Display names, one per column of X and per teacher class.
    teacher : dict
        ``kind``, ``attributions_available``, and with labels ``accuracy``,
        ``accuracy_ci`` and ``calibration_error``.
    students : dict of str to StudentResult
        One result per student, in the caller's order.
    noise_floor : dict or None
        ``agreement_summary`` of the teacher explained twice (independent backgrounds and
        seeds); None when the teacher cannot be explained.
    disagreements : DataFrame
        One row per (student, row of X) where the two predicted classes differ.
    config : dict
        The settings that shaped the numbers (seed, explainer, bootstrap, top-k, ...).
    versions : dict of str to str
        Python and package versions.
    teacher_proba : ndarray of shape (n_rows, n_classes)
        The teacher's class probabilities.
    teacher_attributions : Attributions or None
        The teacher's SHAP values on the explained rows.
    y_index : ndarray of shape (n_rows,) or None
        True labels as indices into the teacher's classes.
    images_shape : tuple of int or None
        The image grid of the features, for image data.
    where : dict or None
        Where not to trust the students (:func:`~._where.where_not_to_trust`): fidelity
        by teacher-confidence band, top-feature bin and segment with intervals, the
        lowest group, each student's failure region in words, the largest disagreements'
        contributions, the explainer's per-feature noise band and the data warnings.
    """

    dataset: dict[str, Any]
    feature_names: list[str]
    class_names: list[str]
    teacher: dict[str, Any]
    students: dict[str, StudentResult]
    noise_floor: dict[str, dict[str, Any]] | None
    disagreements: pd.DataFrame
    config: dict[str, Any]
    versions: dict[str, str]
    teacher_proba: np.ndarray
    teacher_attributions: Attributions | None
    y_index: np.ndarray | None = None
    images_shape: tuple[int, int] | None = None
    where: dict[str, Any] | None = None
