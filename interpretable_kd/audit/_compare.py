"""The comparison itself: :func:`compare` measures a teacher against every student."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .. import attributions as attr
from .. import metrics
from .._defaults import LOW_FIDELITY
from .._validation import check_number
from ..exceptions import InputTypeError, LowFidelityWarning
from ..teachers import ScoresTeacher, as_teacher
from ._inputs import Bootstrap, check_class_names, check_features, check_y, take_rows
from ._models import aligned_proba, model_complexity, package_versions, readable_view
from ._panels import agreement_rows, disagreements, distill_and_compare
from ._result import ComparisonResult, StudentResult

__all__ = ["compare"]

#: Level of every bootstrap interval (percentile method).
CONFIDENCE = 0.95


def compare(
    teacher: Any,
    students: Mapping[str, Any],
    X: Any,
    y: Any = None,
    *,
    feature_names: list[str] | None = None,
    class_names: list[str] | None = None,
    background: Any = None,
    explain_rows: int = 200,
    n_bootstrap: int = 1000,
    top_k: int = 5,
    outcome_students: Mapping[str, Any] | None = None,
    explain_method: str = "auto",
    max_background: int = 100,
    n_permutations: int = 2,
    min_fidelity: float = LOW_FIDELITY,
    dataset_name: str = "data",
    images_shape: tuple[int, int] | None = None,
    config: Mapping[str, Any] | None = None,
    random_state: int = 0,
    owner: str = "compare",
    stacklevel: int = 2,
) -> ComparisonResult:
    """Compare ``teacher`` with each fitted student on held-out rows X (and labels y).

    Measured: accuracy (with labels) and fidelity, each with a percentile bootstrap
    interval (stratified by the true class, resp. the teacher's class); per-class
    fidelity and the agreement matrix; KL(p_T || p_S), Jensen-Shannon distance and total
    variation between probability rows; expected calibration error; SHAP attributions of
    teacher and students with the same explainer, background and rows, for the class the
    teacher predicts, their agreement (Krishna et al. 2022) and the explainer's noise
    floor (the teacher explained twice with seeds ``random_state`` and
    ``random_state + 1``); the disagreement rows; Distill-and-Compare (Tan et al. 2018);
    each student's complexity and readable view.

    Parameters
    ----------
    teacher : object
        Any model :func:`~interpretable_kd.as_teacher` accepts. A scores-only teacher gets
        no attributions (they need the model).
    students : mapping of str to object
        Name -> fitted classifier (a ``DistilledClassifier`` or a student), each with
        ``predict_proba`` over the teacher's classes.
    X : array-like or DataFrame of shape (n_rows, n_features)
        Rows none of the students was trained on.
    y : array-like of shape (n_rows,) or None
        True labels in the teacher's label space; None gives fidelity without accuracy.
    feature_names, class_names : list of str or None
        Display names; default from the DataFrame columns and the teacher's classes.
    background : array-like or None
        Rows that "absent" features are drawn from when explaining (default: X);
        summarised to ``max_background`` rows.
    explain_rows : int
        How many rows of X (a seeded random sample) are explained.
    n_bootstrap : int
        Bootstrap resamples for every interval (0: no intervals).
    top_k : int
        k of the top-k agreement metrics (at most the number of features).
    outcome_students : mapping of str to object or None
        Name -> a model of the same kind as ``students[name]`` trained on true labels
        only (Distill-and-Compare).
    explain_method, max_background, n_permutations
        Passed to :func:`~interpretable_kd.attributions.explain`.
    min_fidelity : float
        A ``LowFidelityWarning`` is issued for students below it.
    dataset_name, images_shape, config
        Recorded in the result.
    random_state : int
        Seeds row sampling, bootstraps and explainers.
    owner : str
        The name used in error messages (the public entry point that was called).
    stacklevel : int
        Where a ``LowFidelityWarning`` points: 2 is the caller of ``compare``; a public
        wrapper passes one more per frame it adds.

    Returns
    -------
    ComparisonResult
        Every number, table and readable view.

    Raises
    ------
    InputTypeError
        ``students`` is not a non-empty mapping, or a student has no ``predict_proba``.
    InputError
        Bad X, y, names or numbers.
    """
    explain_rows = check_number(explain_rows, "explain_rows", owner, integer=True, low=0)
    n_bootstrap = check_number(n_bootstrap, "n_bootstrap", owner, integer=True, low=0)
    top_k = check_number(top_k, "top_k", owner, integer=True, low=1)
    min_fidelity = check_number(min_fidelity, "min_fidelity", owner, low=0.0, high=1.0)
    if not isinstance(students, Mapping) or not students:
        raise InputTypeError(
            f"{owner} needs students as a non-empty dict of name -> fitted model, e.g. "
            f"{{'soft tree': kd}}; got {type(students).__name__}."
        )
    teacher_obj = as_teacher(teacher)
    X_arr, names = check_features(X, feature_names, owner)
    n_rows = X_arr.shape[0]
    top_k = min(top_k, X_arr.shape[1])
    classes = np.asarray(teacher_obj.classes_)
    class_names = check_class_names(class_names, classes, owner)
    teacher_proba = teacher_obj.predict_proba(X)
    teacher_pred = teacher_proba.argmax(axis=1)
    y_index = check_y(y, n_rows, classes, owner)
    rng = np.random.default_rng(random_state)
    boot = Bootstrap(n_bootstrap, random_state)

    teacher_info: dict[str, Any] = {
        "kind": teacher_obj.model_name,
        "attributions_available": not isinstance(teacher_obj, ScoresTeacher),
    }
    if y_index is not None:
        correct = (teacher_pred == y_index).astype(float)
        teacher_info["accuracy"] = float(correct.mean())
        teacher_info["accuracy_ci"] = boot.mean_ci(correct, strata=y_index)
        teacher_info["calibration_error"] = metrics.expected_calibration_error(
            y_index, teacher_proba
        )

    explained = np.sort(rng.choice(n_rows, size=min(explain_rows, n_rows), replace=False))
    bg = X if background is None else background
    explain_kwargs: dict[str, Any] = {
        "method": explain_method,
        "max_background": max_background,
        "n_permutations": n_permutations,
        "feature_names": names,
    }
    X_explain = take_rows(X, explained)
    teacher_attr = teacher_attr_again = None
    if teacher_info["attributions_available"] and explained.size:
        teacher_attr, teacher_attr_again = (
            attr.explain(
                teacher_obj,
                X_explain,
                bg,
                target=teacher_pred[explained],
                random_state=seed,
                **explain_kwargs,
            )
            for seed in (random_state, random_state + 1)
        )
    noise_floor = None
    if teacher_attr is not None and teacher_attr_again is not None:
        noise_floor = attr.agreement_summary(
            teacher_attr,
            teacher_attr_again,
            k=top_k,
            n_bootstrap=max(n_bootstrap, 1),
            random_state=random_state,
        )

    results: dict[str, StudentResult] = {}
    disagreement_frames = []
    for name, model in students.items():
        result = _measure(model, str(name), X, classes, class_names, teacher_proba, boot, owner)
        if y_index is not None:
            correct = (result.pred == y_index).astype(float)
            result.accuracy = float(correct.mean())
            result.accuracy_ci = boot.mean_ci(correct, strata=y_index)
            result.calibration_error = metrics.expected_calibration_error(y_index, result.proba)
        if explained.size:
            result.attributions = attr.explain(
                model,
                X_explain,
                bg,
                target=teacher_pred[explained],
                random_state=random_state,
                **explain_kwargs,
            )
        if teacher_attr is not None and result.attributions is not None:
            result.agreement = attr.agreement_summary(
                teacher_attr,
                result.attributions,
                k=top_k,
                n_bootstrap=max(n_bootstrap, 1),
                random_state=random_state,
            )
            result.agreement_rows = agreement_rows(teacher_attr, result.attributions, top_k)
        if outcome_students and name in outcome_students:
            result.outcome = distill_and_compare(
                model,
                outcome_students[name],
                result.attributions,
                X_explain,
                bg,
                teacher_pred[explained],
                names,
                boot,
                random_state,
                explain_kwargs,
            )
        if result.fidelity < min_fidelity:
            warnings.warn(
                f"Student {name!r} agrees with the teacher on only {result.fidelity:.1%} "
                f"of the rows (threshold {min_fidelity:.0%}); its explanations may not "
                "stand for the teacher's.",
                LowFidelityWarning,
                stacklevel=stacklevel,
            )
        results[str(name)] = result
        disagreement_frames.append(
            disagreements(
                result,
                teacher_obj,
                teacher_proba,
                teacher_attr,
                X,
                y_index,
                class_names,
                names,
                bg,
                random_state,
                explain_kwargs,
                top_k,
            )
        )

    dataset = {
        "name": dataset_name,
        "n_rows": int(n_rows),
        "n_features": int(X_arr.shape[1]),
        "classes": list(class_names),
        "fingerprint": hashlib.sha256(np.ascontiguousarray(X_arr).tobytes()).hexdigest()[:16],
    }
    full_config = {
        "random_state": random_state,
        "explain_rows": int(explained.size),
        "explain_method": explain_method,
        "max_background": max_background,
        "n_permutations": n_permutations,
        "n_bootstrap": n_bootstrap,
        "top_k": top_k,
        "confidence": CONFIDENCE,
        **dict(config or {}),
    }
    return ComparisonResult(
        dataset=dataset,
        feature_names=names,
        class_names=class_names,
        teacher=teacher_info,
        students=results,
        noise_floor=noise_floor,
        disagreements=pd.concat(disagreement_frames, ignore_index=True),
        config=full_config,
        versions=package_versions(),
        teacher_proba=teacher_proba,
        teacher_attributions=teacher_attr,
        y_index=y_index,
        images_shape=images_shape,
    )


def _measure(
    model: Any,
    name: str,
    X: Any,
    classes: np.ndarray,
    class_names: list[str],
    teacher_proba: np.ndarray,
    boot: Bootstrap,
    owner: str,
) -> StudentResult:
    """A student's result with every label-free, explainer-free number filled in.

    Parameters
    ----------
    model : object
        The fitted student.
    name : str
        Its name.
    X : array-like or DataFrame of shape (n_rows, n_features)
        The compared rows.
    classes : ndarray of shape (n_classes,)
        The teacher's class labels.
    class_names : list of str
        Their display names.
    teacher_proba : ndarray of shape (n_rows, n_classes)
        The teacher's probabilities.
    boot : Bootstrap
        The comparison's bootstrap.
    owner : str
        Who is asking, for error messages.

    Returns
    -------
    StudentResult
        Probabilities, predictions, fidelity (with interval, per class, matrix),
        KL / JS / TV distances, complexity, kind and readable view.
    """
    teacher_pred = teacher_proba.argmax(axis=1)
    proba = aligned_proba(model, X, classes, name, owner)
    complexity = model_complexity(model, X)
    pred = proba.argmax(axis=1)
    agree = (pred == teacher_pred).astype(float)
    labels = list(range(len(classes)))
    per_class = metrics.per_class_fidelity(teacher_pred, pred, labels=labels)
    return StudentResult(
        name=name,
        kind=complexity["kind"],
        model=model,
        proba=proba,
        pred=pred,
        fidelity=float(agree.mean()),
        fidelity_ci=boot.mean_ci(agree, strata=teacher_pred),
        per_class_fidelity={class_names[i]: value for i, value in enumerate(per_class.values())},
        agreement_matrix=metrics.agreement_matrix(teacher_pred, pred, labels=labels),
        kl_divergence=float(metrics.kl_divergence(teacher_proba, proba)),
        js_distance=float(metrics.js_distance(teacher_proba, proba)),
        total_variation=float(metrics.total_variation(teacher_proba, proba)),
        complexity=complexity,
        view=readable_view(model),
    )
