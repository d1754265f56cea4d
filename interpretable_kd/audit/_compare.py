"""The comparison itself: :func:`compare` measures a teacher against every student."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .. import attributions as attr
from .. import metrics
from .._defaults import DEFAULT_PRESET, MIN_KAPPA, WORST_CLASS_FIDELITY
from .._validation import check_number
from ..datasets.checks import data_warnings
from ..exceptions import InputTypeError, ParameterError
from ..teachers import ScoresTeacher, as_teacher
from ._budget import resolve_budget
from ._disagreements import disagreements
from ._fair_attributions import check_budget, cross_agreement, explain_runs, uses_teacher_features
from ._headline import headline, warn_if_unfaithful
from ._inputs import (
    Bootstrap,
    check_class_names,
    check_features,
    check_student_names,
    check_y,
    take_rows,
)
from ._models import aligned_proba, model_complexity, package_versions, readable_view
from ._panels import agreement_rows, distill_and_compare
from ._refits import refit_predictions, refit_seeds
from ._result import ComparisonResult, StudentResult
from ._shapes import teacher_partial_dependence
from ._where import where_not_to_trust
from ._where_inputs import check_display, check_row_ids, check_segments

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
    explain_rows: int | None = None,
    n_bootstrap: int | None = None,
    top_k: int = 5,
    outcome_students: Mapping[str, Any] | None = None,
    explain_method: str = "auto",
    max_background: int | None = None,
    n_permutations: int | None = None,
    min_fidelity: float = WORST_CLASS_FIDELITY,
    dataset_name: str = "data",
    images_shape: tuple[int, int] | None = None,
    config: Mapping[str, Any] | None = None,
    random_state: int = 0,
    row_ids: Any = None,
    X_display: Any = None,
    segments: Any = None,
    protected: list[str] | None = None,
    preset: str = DEFAULT_PRESET,
    n_explanations: int | None = None,
    n_refits: int | None = None,
    X_fit: Any = None,
    y_fit: Any = None,
    min_kappa: float = MIN_KAPPA,
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
    floor, fairly: teacher and students are each explained ``n_explanations`` times with
    independent seeds and background draws, agreement is teacher run a vs student run b,
    the floor teacher run a vs teacher run b (see ``audit._fair_attributions``); the
    headline numbers that cannot hide a class (majority baseline, Cohen's kappa,
    balanced and worst-class fidelity, ``audit._headline``); with ``X_fit`` and
    ``n_refits > 1``, intervals over refits x rows (``audit._refits``); the disagreement
    rows; Distill-and-Compare (Tan et al. 2018);
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
        Lowest fidelity on the teacher's worst-served class: a student below it (or below
        ``min_kappa``) gets a ``LowFidelityWarning`` and is called unfaithful.
    preset : {"quick", "standard", "thorough"}
        The named budget (:data:`interpretable_kd._defaults.PRESETS`) that sets
        ``explain_rows``, ``max_background``, ``n_permutations``, ``n_explanations``,
        ``n_bootstrap`` and ``n_refits`` when they are None.
    n_explanations : int >= 2 or None
        Independent explanation runs of the teacher and of each student.
    n_refits : int >= 1 or None
        Training runs per student (the given one included); needs ``X_fit``. The preset's
        value falls back to 1 without ``X_fit`` (recorded in ``config``).
    X_fit, y_fit : array-like or None
        The students' training rows and labels, to refit them (``clone`` +
        ``set_params(random_state=...)``; the teacher is never refitted).
    min_kappa : float
        Lowest Cohen's kappa with the teacher's decisions for a faithful student.
    dataset_name, images_shape, config
        Recorded in the result.
    random_state : int
        Seeds row sampling, bootstraps and explainers.
    row_ids : array-like of shape (n_rows,) or None
        The id of each row of X (e.g. an id column kept out of the features), shown and
        exported with each disagreement; default: the row's position.
    X_display : DataFrame of shape (n_rows, n_columns) or None
        The same rows in the user's own units (before scaling and one-hot encoding):
        feature values of the disagreements, bins and failure regions are read from it
        (default: X).
    segments : DataFrame, dict of str to array-like, list of str or None
        Groups whose fidelity is measured (e.g. sex, race); columns need not be
        features; names refer to columns of ``X_display``.
    protected : list of str or None
        Columns of ``X_display`` or ``segments`` the user marks as protected (named in
        the data warnings).
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
    budget = resolve_budget(
        preset,
        owner,
        explain_rows=explain_rows,
        n_bootstrap=n_bootstrap,
        max_background=max_background,
        n_permutations=n_permutations,
        n_explanations=n_explanations,
        n_refits=n_refits,
    )
    explain_rows, n_bootstrap = budget["explain_rows"], budget["n_bootstrap"]
    max_background, n_permutations = budget["max_background"], budget["n_permutations"]
    min_kappa = check_number(min_kappa, "min_kappa", owner, low=-1.0, high=1.0)
    if X_fit is None and budget["n_refits"] > 1:
        if "n_refits" in budget["overridden"]:
            raise ParameterError(
                f"The 'n_refits' parameter of {owner} is {budget['n_refits']}, but refitting "
                "needs the students' training rows. Pass X_fit= (and y_fit=), or n_refits=1."
            )
        budget["refit_note"] = "training rows (X_fit) not given: intervals cover rows only"
        budget["n_refits"] = 1
    seeds = refit_seeds(random_state, budget["n_refits"])
    top_k = check_number(top_k, "top_k", owner, integer=True, low=1)
    min_fidelity = check_number(min_fidelity, "min_fidelity", owner, low=0.0, high=1.0)
    if not isinstance(students, Mapping) or not students:
        raise InputTypeError(
            f"{owner} needs students as a non-empty dict of name -> fitted model, e.g. "
            f"{{'soft tree': kd}}; got {type(students).__name__}."
        )
    check_student_names(students, owner)
    teacher_obj = as_teacher(teacher)
    X_arr, names = check_features(X, feature_names, owner)
    n_rows = X_arr.shape[0]
    top_k = min(top_k, X_arr.shape[1])
    classes = np.asarray(teacher_obj.classes_)
    class_names = check_class_names(class_names, classes, owner)
    teacher_proba = teacher_obj.predict_proba(X)
    teacher_pred = teacher_proba.argmax(axis=1)
    y_index = check_y(y, n_rows, classes, owner)
    ids = check_row_ids(row_ids, n_rows, owner)
    display = check_display(X_display, X_arr, names, owner)
    segment_frame = check_segments(segments, display, n_rows, owner)
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
    runs = budget["n_explanations"]
    teacher_runs: list[attr.Attributions] = []
    if teacher_info["attributions_available"] and explained.size:
        teacher_runs = explain_runs(
            teacher_obj,
            X_explain,
            bg,
            teacher_pred[explained],
            random_state,
            0,
            runs,
            explain_kwargs,
        )
    teacher_attr = teacher_runs[0] if teacher_runs else None
    teacher_attr_again = teacher_runs[1] if teacher_runs else None
    noise_floor = None
    if teacher_runs:
        noise_floor = cross_agreement(teacher_runs, None, top_k, n_bootstrap, random_state)

    results: dict[str, StudentResult] = {}
    disagreement_frames = []
    waterfalls: dict[str, list[dict[str, Any]]] = {}
    for index, (name, model) in enumerate(students.items()):
        result = _measure(model, str(name), X, classes, class_names, teacher_proba, boot, owner)
        predictions = refit_predictions(
            model, result.pred, X, classes, X_fit, y_fit, seeds, str(name), owner
        )
        result.headline = headline(
            teacher_pred, predictions, class_names, n_bootstrap, random_state, CONFIDENCE, y_index
        )
        result.headline["fidelity_ci_rows"] = result.fidelity_ci
        result.fidelity_ci = result.headline["fidelity_ci"]
        result.temperature = getattr(model, "temperature_", None)
        result.temperature_search = getattr(model, "temperature_search_", None)
        view = result.view or {}
        if view.get("view") == "additive" and teacher_info["attributions_available"]:
            view["teacher_partial_dependence"] = teacher_partial_dependence(
                teacher_obj, X, view, names, random_state=random_state
            )
        if y_index is not None:
            correct = (result.pred == y_index).astype(float)
            result.accuracy = float(correct.mean())
            result.accuracy_ci = result.headline["accuracy_ci"]
            result.calibration_error = metrics.expected_calibration_error(y_index, result.proba)
        student_runs: list[attr.Attributions] = []
        if explained.size:
            student_runs = explain_runs(
                model,
                X_explain,
                bg,
                teacher_pred[explained],
                random_state,
                1 + index,
                runs,
                explain_kwargs,
            )
            result.attributions = student_runs[0]
        if teacher_runs and student_runs:
            result.agreement = cross_agreement(
                teacher_runs, student_runs, top_k, n_bootstrap, random_state
            )
            result.features_check = uses_teacher_features(result.agreement, noise_floor)
            result.agreement_rows = agreement_rows(teacher_runs[0], student_runs[-1], top_k)
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
        warn_if_unfaithful(
            str(name), result.fidelity, result.headline, min_fidelity, min_kappa, stacklevel
        )
        results[str(name)] = result
        frame, waterfalls[str(name)] = disagreements(
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
            row_ids=ids,
            display=display,
            explained=explained,
        )
        disagreement_frames.append(frame)

    checked = (
        display.join(segment_frame.drop(columns=display.columns, errors="ignore"))
        if segment_frame is not None
        else display
    )
    where = where_not_to_trust(
        results,
        teacher_proba,
        X_arr,
        names,
        display,
        segments=segment_frame,
        teacher_attr=teacher_attr,
        teacher_attr_again=teacher_attr_again,
        explained=explained,
        waterfalls=waterfalls,
        data_warnings=data_warnings(checked, protected=protected, features=names),
        top_k=top_k,
        random_state=random_state,
        row_ids_given=ids is not None,
    )
    budget_warning = None
    if teacher_runs:
        n_background = min(max_background, len(bg))
        budget_warning = check_budget(
            int(explained.size), n_background, X_arr.shape[1], noise_floor, top_k, stacklevel
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
        "preset": budget["preset"],
        "n_explanations": budget["n_explanations"],
        "n_refits": budget["n_refits"],
        "interval_kind": "refits x rows" if budget["n_refits"] > 1 else "rows",
        "refit_note": budget.get("refit_note"),
        "budget_warning": budget_warning,
        "min_worst_class_fidelity": min_fidelity,
        "min_kappa": min_kappa,
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
        where=where,
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
