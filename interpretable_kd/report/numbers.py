"""The auditor's numbers: teacher against every student, computed once.

:class:`DistillationReport` holds every number a report shows (drawing lives in
``figures.py``, HTML in ``html.py``), after scikit-learn's display objects: built by
:meth:`DistillationReport.from_models`, plain data afterwards.

What is compared, and how:

* accuracy (when labels are given) and fidelity (share of rows where the student predicts
  the teacher's class), each with a percentile bootstrap interval;
* per-class fidelity and the teacher-by-student agreement matrix;
* distances between the whole probability rows: KL(p_T || p_S), Jensen-Shannon distance,
  total variation; expected calibration error;
* SHAP attributions of teacher and students with the *same* explainer, background and rows,
  for the class the *teacher* predicts, in probability space, so that a difference is the
  models' and not the explainers'; their agreement (Krishna et al. 2022) beside the
  explainer's own noise floor (the teacher explained twice with independent backgrounds
  and seeds);
* Distill-and-Compare (Tan et al. 2018): a "mimic" student against an "outcome" student of
  the same kind trained on the true labels, feature by feature.
"""

from __future__ import annotations

import hashlib
import platform
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import attributions as attr
from .. import metrics
from .._validation import check_number, format_items
from ..exceptions import InputError, InputTypeError, LowFidelityWarning
from ..teachers import ScoresTeacher, Teacher, as_teacher

__all__ = ["SCHEMA_VERSION", "DistillationReport", "StudentResult", "model_complexity"]

SCHEMA_VERSION = 1
MAX_DISAGREEMENTS_EXPLAINED = 10


@dataclass
class StudentResult:
    """Everything measured for one student. Arrays are over the report's rows of X."""

    name: str
    kind: str
    model: Any
    proba: np.ndarray  # (n_rows, n_classes), columns in the teacher's class order
    pred: np.ndarray  # (n_rows,) class indices
    fidelity: float
    fidelity_ci: tuple[float, float]
    per_class_fidelity: dict[str, float]
    agreement_matrix: np.ndarray  # (n_classes, n_classes): teacher class x student class
    kl_divergence: float
    js_distance: float
    total_variation: float
    complexity: dict[str, Any]
    accuracy: float | None = None
    accuracy_ci: tuple[float, float] | None = None
    calibration_error: float | None = None
    attributions: attr.Attributions | None = None
    agreement: dict[str, dict[str, Any]] | None = None  # agreement_summary with the teacher
    agreement_rows: dict[str, np.ndarray] | None = None  # per-row agreement metrics
    outcome: dict[str, Any] | None = None  # Distill-and-Compare panel


@dataclass
class DistillationReport:
    """Numbers comparing a teacher with its students on one data set.

    Build with :meth:`from_models`. ``metrics`` is the headline table, ``disagreements``
    the rows where a student and the teacher part ways, ``to_dict()`` the ``metrics.json``
    content (schema_version 1) and ``save(directory)`` writes the HTML report.
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
    teacher_attributions: attr.Attributions | None
    y_index: np.ndarray | None = None
    images_shape: tuple[int, int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------------ building
    @classmethod
    def from_models(
        cls,
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
        min_fidelity: float = 0.9,
        dataset_name: str = "data",
        images_shape: tuple[int, int] | None = None,
        config: Mapping[str, Any] | None = None,
        random_state: int = 0,
    ) -> DistillationReport:
        """Compare ``teacher`` with each fitted student on held-out rows X (and labels y).

        Args:
            teacher: any model :func:`~interpretable_kd.as_teacher` accepts. A scores-only
                teacher gets no attributions (they need the model), and the report says so.
            students: name -> fitted classifier (a ``DistilledClassifier`` or a student),
                each with ``predict_proba`` over the teacher's classes.
            X: array-like or DataFrame (n_rows, n_features), rows none of the students was
                trained on.
            y: true labels (n_rows,) in the teacher's label space, or None (fidelity
                without accuracy).
            feature_names, class_names: names shown in the report; default from the
                DataFrame columns and the teacher's classes.
            background: rows that "absent" features are drawn from when explaining
                (default: X); summarised to ``max_background`` rows.
            explain_rows: how many rows of X (a seeded random sample) are explained.
            n_bootstrap: bootstrap resamples for every interval (0: no intervals).
            top_k: k of the top-k agreement metrics.
            outcome_students: name -> a model of the same kind as ``students[name]``
                trained on true labels only (Distill-and-Compare).
            explain_method, max_background, n_permutations: passed to
                :func:`~interpretable_kd.attributions.explain`. For the same cost a larger
                background lowers the explainer's noise more than more orderings do.
            min_fidelity: a ``LowFidelityWarning`` is issued for students below it.
            dataset_name, images_shape, config: recorded in the report.
            random_state: seeds row sampling, bootstraps and explainers.
        """
        owner = "DistillationReport.from_models"
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
        X_arr, names = _features(X, feature_names, owner)
        n_rows = X_arr.shape[0]
        top_k = min(top_k, X_arr.shape[1])
        classes = np.asarray(teacher_obj.classes_)
        class_names = _class_names(class_names, classes, owner)
        teacher_proba = teacher_obj.predict_proba(X)
        teacher_pred = teacher_proba.argmax(axis=1)
        y_index = None
        if y is not None:
            y_arr = np.asarray(y)
            if y_arr.shape != (n_rows,):
                raise InputError(
                    f"{owner} needs y of shape ({n_rows},), one label per row of X; got "
                    f"shape {y_arr.shape}."
                )
            from .._validation import check_labels_known

            y_index = check_labels_known(y_arr, classes, owner)
        rng = np.random.default_rng(random_state)
        boot = _Bootstrap(n_bootstrap, random_state)

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
        X_explain = _rows(X, explained)
        teacher_attr = teacher_attr_again = None
        if teacher_info["attributions_available"] and explained.size:
            teacher_attr = attr.explain(
                teacher_obj,
                X_explain,
                bg,
                target=teacher_pred[explained],
                random_state=random_state,
                **explain_kwargs,
            )
            teacher_attr_again = attr.explain(
                teacher_obj,
                X_explain,
                bg,
                target=teacher_pred[explained],
                random_state=random_state + 1,
                **explain_kwargs,
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
            proba = _aligned_proba(model, X, classes, str(name), owner)
            complexity = model_complexity(model, X)
            pred = proba.argmax(axis=1)
            agree = (pred == teacher_pred).astype(float)
            result = StudentResult(
                name=str(name),
                kind=complexity["kind"],
                model=model,
                proba=proba,
                pred=pred,
                fidelity=float(agree.mean()),
                fidelity_ci=boot.mean_ci(agree, strata=teacher_pred),
                per_class_fidelity={
                    class_names[i]: value
                    for i, value in enumerate(
                        metrics.per_class_fidelity(
                            teacher_pred, pred, labels=list(range(len(classes)))
                        ).values()
                    )
                },
                agreement_matrix=metrics.agreement_matrix(
                    teacher_pred, pred, labels=list(range(len(classes)))
                ),
                kl_divergence=float(metrics.kl_divergence(teacher_proba, proba)),
                js_distance=float(metrics.js_distance(teacher_proba, proba)),
                total_variation=float(metrics.total_variation(teacher_proba, proba)),
                complexity=complexity,
            )
            if y_index is not None:
                correct = (pred == y_index).astype(float)
                result.accuracy = float(correct.mean())
                result.accuracy_ci = boot.mean_ci(correct, strata=y_index)
                result.calibration_error = metrics.expected_calibration_error(y_index, proba)
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
                result.agreement_rows = _agreement_rows(teacher_attr, result.attributions, top_k)
            if outcome_students and name in outcome_students:
                result.outcome = _distill_and_compare(
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
                    stacklevel=2,
                )
            results[str(name)] = result
            disagreement_frames.append(
                _disagreements(
                    result,
                    teacher_obj,
                    teacher_proba,
                    teacher_attr,
                    X,
                    explained,
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
            "confidence": 0.95,
            **dict(config or {}),
        }
        return cls(
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

    # ----------------------------------------------------------------------- reading
    @property
    def metrics(self) -> pd.DataFrame:
        """One row per model (the teacher first): accuracy and CI, fidelity and CI, KL,
        JS, TV, calibration, attribution agreement, complexity."""
        rows = []
        teacher = {"model": "teacher", "kind": self.teacher["kind"]}
        if "accuracy" in self.teacher:
            teacher |= {
                "accuracy": self.teacher["accuracy"],
                "accuracy_low": self.teacher["accuracy_ci"][0],
                "accuracy_high": self.teacher["accuracy_ci"][1],
                "calibration_error": self.teacher["calibration_error"],
            }
        teacher["fidelity"] = 1.0
        rows.append(teacher)
        for result in self.students.values():
            row: dict[str, Any] = {"model": result.name, "kind": result.kind}
            if result.accuracy is not None and result.accuracy_ci is not None:
                row |= {
                    "accuracy": result.accuracy,
                    "accuracy_low": result.accuracy_ci[0],
                    "accuracy_high": result.accuracy_ci[1],
                    "calibration_error": result.calibration_error,
                }
            row |= {
                "fidelity": result.fidelity,
                "fidelity_low": result.fidelity_ci[0],
                "fidelity_high": result.fidelity_ci[1],
                "kl_divergence": result.kl_divergence,
                "js_distance": result.js_distance,
                "total_variation": result.total_variation,
            }
            if result.agreement is not None:
                row["feature_agreement_at_k"] = result.agreement["feature_agreement"]["mean"]
                row["rank_correlation"] = result.agreement["rank_correlation"]["mean"]
            row["parameters"] = result.complexity.get("parameters")
            rows.append(row)
        return pd.DataFrame(rows)

    @property
    def top_k(self) -> int:
        return int(self.config["top_k"])

    def to_dict(self) -> dict[str, Any]:
        """The ``metrics.json`` content, schema_version 1 (fields may be added, never
        changed in meaning)."""
        students = {}
        for name, r in self.students.items():
            entry: dict[str, Any] = {
                "kind": r.kind,
                "accuracy": r.accuracy,
                "accuracy_ci": _list(r.accuracy_ci),
                "fidelity": r.fidelity,
                "fidelity_ci": _list(r.fidelity_ci),
                "per_class_fidelity": r.per_class_fidelity,
                "agreement_matrix": r.agreement_matrix.astype(int).tolist(),
                "kl_divergence": r.kl_divergence,
                "js_distance": r.js_distance,
                "total_variation": r.total_variation,
                "calibration_error": r.calibration_error,
                "attribution": _attribution_entry(r, self.top_k),
                "complexity": r.complexity,
            }
            if r.outcome is not None:
                entry["distill_and_compare"] = _outcome_entry(r.outcome)
            students[name] = entry
        return _jsonable(
            {
                "schema_version": SCHEMA_VERSION,
                "dataset": self.dataset,
                "teacher": {
                    **self.teacher,
                    "accuracy": self.teacher.get("accuracy"),
                    "global_importance": (
                        dict(
                            zip(
                                self.feature_names,
                                self.teacher_attributions.global_importance().tolist(),
                                strict=True,
                            )
                        )
                        if self.teacher_attributions is not None
                        else None
                    ),
                },
                "students": students,
                "explainer_noise_floor": _summary_entry(self.noise_floor),
                "n_disagreements": {
                    name: int((self.disagreements["student"] == name).sum())
                    for name in self.students
                },
                "config": self.config,
                "versions": self.versions,
            }
        )

    def verdict(self, name: str) -> str:
        """A plain-language sentence about one student, for the report's summary."""
        r = self.students[name]
        low, high = r.fidelity_ci
        text = (
            f"agrees with the teacher on {100 * r.fidelity:.1f}% "
            f"(95% CI {100 * low:.1f}–{100 * high:.1f}) of test rows"
        )
        if r.agreement is not None:
            share = r.agreement["feature_agreement"]["mean"]
            text += (
                f" and shares on average {100 * share:.0f}% of the teacher's top-{self.top_k} "
                "features per row"
            )
        elif not self.teacher["attributions_available"]:
            text += "; the teacher is known only by its scores, so its features cannot be compared"
        if r.accuracy is not None and "accuracy" in self.teacher:
            gap = 100 * (r.accuracy - self.teacher["accuracy"])
            text += (
                f"; its accuracy is {100 * r.accuracy:.1f}% ({gap:+.1f} points against the teacher)"
            )
        return text + "."

    def save(self, directory: str) -> Any:
        """Write ``index.html``, ``figures/*.png`` and ``metrics.json`` into ``directory``
        atomically; returns the path of ``index.html``."""
        from .html import save_report

        return save_report(self, directory)


# ---------------------------------------------------------------------------- helpers
class _Bootstrap:
    """Percentile bootstrap intervals of means, all with one seed."""

    def __init__(self, n_resamples: int, random_state: int) -> None:
        self.n_resamples = n_resamples
        self.random_state = random_state

    def mean_ci(self, values: np.ndarray, strata: np.ndarray | None = None) -> tuple[float, float]:
        if self.n_resamples == 0 or values.size == 0:
            return (float("nan"), float("nan"))
        low, high = metrics.bootstrap_ci(
            np.mean,
            values,
            n_resamples=self.n_resamples,
            stratify=strata,
            random_state=self.random_state,
        )
        return (float(low), float(high))


def _features(X: Any, feature_names: list[str] | None, owner: str) -> tuple[np.ndarray, list[str]]:
    if isinstance(X, pd.DataFrame):
        columns = [str(c) for c in X.columns]
        try:
            X_arr = X.to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"{owner} needs numeric features; encode categorical columns first, for "
                "example with interpretable_kd.datasets.TabularPreprocessor."
            ) from exc
    else:
        X_arr = np.asarray(X, dtype=np.float64)
        columns = [f"x{j}" for j in range(X_arr.shape[1])] if X_arr.ndim == 2 else []
    if X_arr.ndim != 2 or X_arr.shape[0] == 0:
        raise InputError(
            f"{owner} needs X as a non-empty 2-d array (n_rows, n_features); got shape "
            f"{X_arr.shape}."
        )
    if not np.isfinite(X_arr).all():
        raise InputError(f"{owner} got X with NaN or infinite values; clean or impute them first.")
    names = list(feature_names) if feature_names is not None else columns
    if len(names) != X_arr.shape[1]:
        raise InputError(
            f"{owner} got {len(names)} feature_names for {X_arr.shape[1]} features: "
            f"{format_items(names)}. Pass one name per column of X."
        )
    return X_arr, [str(n) for n in names]


def _class_names(class_names: list[str] | None, classes: np.ndarray, owner: str) -> list[str]:
    if class_names is None:
        return [str(c) for c in classes]
    if len(class_names) != len(classes):
        raise InputError(
            f"{owner} got {len(class_names)} class_names for the teacher's {len(classes)} "
            f"classes {format_items(classes.tolist())}. Pass one name per class."
        )
    return [str(c) for c in class_names]


def _rows(X: Any, index: np.ndarray) -> Any:
    return X.iloc[index] if isinstance(X, pd.DataFrame) else np.asarray(X)[index]


def _aligned_proba(model: Any, X: Any, classes: np.ndarray, name: str, owner: str) -> np.ndarray:
    """The student's probabilities with columns in the teacher's class order."""
    if not hasattr(model, "predict_proba"):
        raise InputTypeError(
            f"{owner}: student {name!r} ({type(model).__name__}) has no predict_proba. Pass "
            "fitted classifiers, e.g. DistilledClassifier instances."
        )
    proba = np.asarray(model.predict_proba(X), dtype=np.float64)
    student_classes = np.asarray(getattr(model, "classes_", classes))
    if student_classes.shape == classes.shape and np.array_equal(student_classes, classes):
        return proba
    if set(student_classes.tolist()) <= set(classes.tolist()):
        aligned = np.zeros((proba.shape[0], len(classes)))
        for j, label in enumerate(student_classes):
            aligned[:, int(np.flatnonzero(classes == label)[0])] = proba[:, j]
        return aligned
    raise InputError(
        f"{owner}: student {name!r} predicts classes {format_items(student_classes.tolist())}, "
        f"but the teacher's are {format_items(classes.tolist())}. Distil the student from "
        "this teacher."
    )


def _agreement_rows(
    teacher: attr.Attributions, student: attr.Attributions, k: int
) -> dict[str, np.ndarray]:
    return {
        "feature_agreement": attr.feature_agreement(teacher, student, k),
        "sign_agreement": attr.sign_agreement(teacher, student, k),
        "rank_correlation": attr.rank_correlation(teacher, student),
    }


def _disagreements(
    result: StudentResult,
    teacher: Teacher,
    teacher_proba: np.ndarray,
    teacher_attr: attr.Attributions | None,
    X: Any,
    explained: np.ndarray,
    y_index: np.ndarray | None,
    class_names: list[str],
    names: list[str],
    background: Any,
    random_state: int,
    explain_kwargs: dict[str, Any],
    top_k: int,
) -> pd.DataFrame:
    """Rows where the student and the teacher disagree, with each one's top features.

    The first few such rows are explained for both models (with the teacher's class as the
    target) so that an auditor can see why they part ways."""
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
    X_shown = _rows(X, shown)
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
    out = []
    for row in a.values:
        order = np.argsort(-np.abs(row), kind="stable")[: min(k, 3)]
        out.append(", ".join(f"{names[j]} ({row[j]:+.3f})" for j in order))
    return out


def _distill_and_compare(
    mimic: Any,
    outcome: Any,
    mimic_attr: attr.Attributions | None,
    X_explain: Any,
    background: Any,
    target: np.ndarray,
    names: list[str],
    boot: _Bootstrap,
    random_state: int,
    explain_kwargs: dict[str, Any],
) -> dict[str, Any]:
    """Tan et al. (2018): what the teacher does that the labels alone do not explain.

    Compares the global importance (mean |SHAP|) of the mimic student with that of an
    outcome student of the same kind, per feature, with bootstrap intervals over the
    explained rows; and, for linear students, their coefficients."""
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
    mimic_coef, outcome_coef = _coefficients(mimic), _coefficients(outcome)
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


def _coefficients(model: Any) -> np.ndarray | None:
    inner = getattr(model, "student_", model)
    coef = getattr(inner, "coef_", None)
    return None if coef is None else np.atleast_2d(np.asarray(coef, dtype=np.float64))


def model_complexity(model: Any, X: Any = None) -> dict[str, Any]:
    """How big and how readable a fitted model is.

    Returns a dict with ``kind`` ("soft_decision_tree", "logistic_regression",
    "shallow_mlp", "decision_tree" or the class name) and ``parameters``, plus: non-zero
    coefficients (logistic), depth and leaves (trees), mean max-path probability on X (soft
    tree: how close the soft tree is to a hard one), hidden units (MLP).
    """
    inner = getattr(model, "student_", model)
    name = type(inner).__name__
    out: dict[str, Any] = {"kind": name}
    if hasattr(inner, "n_parameters_"):
        out["parameters"] = int(inner.n_parameters_)
    if name == "SoftLogisticRegression":
        out["kind"] = "logistic_regression"
        out["nonzero_coefficients"] = int(np.count_nonzero(inner.coef_))
    elif name == "ShallowMLPClassifier":
        out["kind"] = "shallow_mlp"
        out["hidden_units"] = int(inner.hidden_units)
    elif name == "SoftDecisionTreeClassifier":
        out["kind"] = "soft_decision_tree"
        out["depth"] = int(inner.depth)
        out["leaves"] = int(2**inner.depth)
        if X is not None and hasattr(inner, "mean_max_path_probability"):
            X_in = model._student_input(X) if inner is not model else X
            out["mean_max_path_probability"] = float(inner.mean_max_path_probability(X_in))
    elif name in ("DecisionTreeClassifier",):
        out["kind"] = "decision_tree"
        out["depth"] = int(inner.get_depth())
        out["leaves"] = int(inner.get_n_leaves())
        out["parameters"] = int(inner.tree_.node_count)
    elif hasattr(inner, "coef_"):
        coef = np.asarray(inner.coef_)
        out["parameters"] = int(coef.size + np.size(getattr(inner, "intercept_", 0)))
        out["nonzero_coefficients"] = int(np.count_nonzero(coef))
    return out


def package_versions() -> dict[str, str]:
    """Versions of Python and of every package that shapes the numbers (read from the
    installed metadata, so nothing heavy is imported)."""
    from importlib.metadata import PackageNotFoundError, version

    from .. import __version__

    versions = {"interpretable_kd": __version__, "python": platform.python_version()}
    for package in ("numpy", "pandas", "scikit-learn", "torch", "shap", "matplotlib"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:  # pragma: no cover - all are dependencies
            versions[package] = "not installed"
    return versions


def _list(pair: tuple[float, float] | None) -> list[float] | None:
    return None if pair is None else [float(pair[0]), float(pair[1])]


def _summary_entry(summary: dict[str, dict[str, Any]] | None) -> dict[str, Any] | None:
    if summary is None:
        return None
    return {name: {"mean": v["mean"], "ci": _list(v["ci"])} for name, v in summary.items()}


def _attribution_entry(r: StudentResult, k: int) -> dict[str, Any] | None:
    if r.agreement is None:
        entry: dict[str, Any] = {"available": False}
        if r.attributions is not None:
            entry["global_importance"] = dict(
                zip(
                    r.attributions.feature_names,
                    r.attributions.global_importance().tolist(),
                    strict=True,
                )
            )
        return entry
    return {
        "available": True,
        "rank_correlation": r.agreement["rank_correlation"]["mean"],
        "feature_agreement_at_k": r.agreement["feature_agreement"]["mean"],
        "k": k,
        "metrics": _summary_entry(r.agreement),
        "global_importance": dict(
            zip(
                r.attributions.feature_names,
                r.attributions.global_importance().tolist(),
                strict=True,
            )
        )
        if r.attributions is not None
        else None,
    }


def _outcome_entry(outcome: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"outcome_kind": outcome["outcome_kind"]}
    if "importance" in outcome:
        entry["importance"] = outcome["importance"].to_dict(orient="records")
    if "coefficients" in outcome:
        entry["coefficients"] = outcome["coefficients"].to_dict(orient="records")
    return entry


def _jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars to Python, NaN to None, tuples to lists."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if not np.isfinite(value) else float(value)
    return value
