"""The auditor's numbers as a report object: :class:`DistillationReport`.

:meth:`DistillationReport.from_models` runs :func:`interpretable_kd.audit.compare` (every
number is computed there) and wraps its :class:`~interpretable_kd.audit.ComparisonResult`;
this module only reads that result: the headline table (``metrics``), the ``metrics.json``
content (``to_dict``), the summary sentences (``verdict``), and ``save`` hands the object
to :mod:`.writer`. Drawing lives in ``figures.py`` / ``whitebox.py``, HTML in ``html.py``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._defaults import DEFAULT_PRESET, MIN_KAPPA, WORST_CLASS_FIDELITY
from ..audit import ComparisonResult, StudentResult, compare
from ..audit._where import where_summary
from ._verdict import budget_entry, headline_entry, verdict_text
from .writer import save_report

__all__ = ["SCHEMA_VERSION", "DistillationReport", "StudentResult"]

#: The ``metrics.json`` schema: fields may be added, never changed in meaning.
SCHEMA_VERSION = 1


@dataclass
class DistillationReport(ComparisonResult):
    """Numbers comparing a teacher with its students on one data set.

    Build with :meth:`from_models`. ``metrics`` is the headline table, ``disagreements``
    the rows where a student and the teacher part ways, ``to_dict()`` the ``metrics.json``
    content (schema_version 1) and ``save(directory)`` writes the HTML report. Every field
    of :class:`~interpretable_kd.audit.ComparisonResult`, plus ``extra``: free-form notes
    (e.g. the command line) shown in the report's header.
    """

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
    ) -> DistillationReport:
        """Compare ``teacher`` with each fitted student on held-out rows X (and labels y).

        Parameters
        ----------
        teacher : object
            Any model :func:`~interpretable_kd.as_teacher` accepts. A scores-only teacher
            gets no attributions (they need the model), and the report says so.
        students : mapping of str to object
            Name -> fitted classifier (a ``DistilledClassifier`` or a student), each with
            ``predict_proba`` over the teacher's classes.
        X : array-like or DataFrame of shape (n_rows, n_features)
            Rows none of the students was trained on.
        y : array-like of shape (n_rows,) or None
            True labels in the teacher's label space, or None (fidelity without
            accuracy).
        feature_names, class_names : list of str or None
            Names shown in the report; default from the DataFrame columns and the
            teacher's classes.
        background : array-like or None
            Rows that "absent" features are drawn from when explaining (default: X);
            summarised to ``max_background`` rows.
        explain_rows : int or None
            How many rows of X (a seeded random sample) are explained; None: the
            preset's.
        n_bootstrap : int or None
            Bootstrap resamples for every interval (0: no intervals); None: the preset's.
        top_k : int
            k of the top-k agreement metrics.
        outcome_students : mapping of str to object or None
            Name -> a model of the same kind as ``students[name]`` trained on true labels
            only (Distill-and-Compare).
        explain_method, max_background, n_permutations
            Passed to :func:`~interpretable_kd.attributions.explain`. For the same cost a
            larger background lowers the explainer's noise more than more orderings do.
        min_fidelity : float
            Lowest fidelity on the teacher's worst-served class; below it (or below
            ``min_kappa``) a student gets a ``LowFidelityWarning`` and ``verdict()``
            calls it unfaithful, whatever its overall fidelity.
        dataset_name, images_shape, config
            Recorded in the report.
        random_state : int
            Seeds row sampling, bootstraps and explainers.
        row_ids, X_display, segments, protected
            Where not to trust the students: row ids of the disagreements, the rows in
            the user's units, segment columns whose fidelity is measured, protected
            columns; see :func:`~interpretable_kd.audit.compare`.
        preset : {"quick", "standard", "thorough"}
            The named budget (``interpretable_kd._defaults.PRESETS``, shared with the
            command line) for every budget argument left None.
        n_explanations : int >= 2 or None
            Independent explanation runs of the teacher and of each student (the
            agreement is teacher run a vs student run b; the noise floor teacher run a vs
            teacher run b).
        n_refits : int or None
            Training runs of each student, the given one included: with ``X_fit``, each
            student is refitted with other seeds and every interval covers refits x rows.
        X_fit, y_fit : array-like or None
            The students' training rows and labels (the teacher is never refitted).
        min_kappa : float
            Lowest Cohen's kappa between student and teacher decisions for a faithful
            student.

        Returns
        -------
        DistillationReport
            The result of :func:`~interpretable_kd.audit.compare` with these arguments.
        """
        result = compare(
            teacher,
            students,
            X,
            y,
            feature_names=feature_names,
            class_names=class_names,
            background=background,
            explain_rows=explain_rows,
            n_bootstrap=n_bootstrap,
            top_k=top_k,
            outcome_students=outcome_students,
            explain_method=explain_method,
            max_background=max_background,
            n_permutations=n_permutations,
            min_fidelity=min_fidelity,
            dataset_name=dataset_name,
            images_shape=images_shape,
            config=config,
            random_state=random_state,
            row_ids=row_ids,
            X_display=X_display,
            segments=segments,
            protected=protected,
            preset=preset,
            n_explanations=n_explanations,
            n_refits=n_refits,
            X_fit=X_fit,
            y_fit=y_fit,
            min_kappa=min_kappa,
            owner="DistillationReport.from_models",
            stacklevel=3,
        )
        return cls.from_result(result)

    @classmethod
    def from_result(cls, result: ComparisonResult) -> DistillationReport:
        """A report of a comparison already made.

        Parameters
        ----------
        result : ComparisonResult
            What :func:`~interpretable_kd.audit.compare` returned (shared, not copied).

        Returns
        -------
        DistillationReport
            The same fields, with empty ``extra``.
        """
        return cls(**{f.name: getattr(result, f.name) for f in fields(ComparisonResult)})

    # ----------------------------------------------------------------------- reading
    @property
    def metrics(self) -> pd.DataFrame:
        """The headline table.

        Returns
        -------
        DataFrame
            One row per model (the teacher first): accuracy and CI, fidelity and CI, the
            headline numbers that cannot hide a class (``majority_baseline``, ``kappa``,
            ``balanced_fidelity``, ``worst_class`` and ``worst_class_fidelity``, each
            with its interval, and ``interval_kind``), KL, JS, TV, calibration,
            attribution agreement, parameters.
        """
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
            }
            head = result.headline or {}
            if head:
                row |= {
                    "majority_baseline": head["majority_baseline"],
                    "kappa": head["kappa"],
                    "kappa_low": head["kappa_ci"][0],
                    "kappa_high": head["kappa_ci"][1],
                    "balanced_fidelity": head["balanced_fidelity"],
                    "balanced_fidelity_low": head["balanced_fidelity_ci"][0],
                    "balanced_fidelity_high": head["balanced_fidelity_ci"][1],
                    "worst_class": head["worst_class"],
                    "worst_class_fidelity": head["worst_class_fidelity"],
                    "worst_class_fidelity_low": head["worst_class_fidelity_ci"][0],
                    "worst_class_fidelity_high": head["worst_class_fidelity_ci"][1],
                    "interval_kind": head["interval_kind"],
                }
            row |= {
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
        """The k of the top-k agreement metrics.

        Returns
        -------
        int
        """
        return int(self.config["top_k"])

    def to_dict(self) -> dict[str, Any]:
        """The ``metrics.json`` content, schema_version 1 (fields may be added, never
        changed in meaning).

        Returns
        -------
        dict
            Plain JSON types only (NaN as None).
        """
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
            entry |= headline_entry(r, self.config)
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
                "budget": budget_entry(self.config),
                "config": self.config,
                "versions": self.versions,
                "where": where_summary(self.where),
            }
        )

    def verdict(self, name: str) -> str:
        """A plain-language sentence about one student, for the report's summary.

        Faithful or not is decided by the worst class's fidelity and Cohen's kappa
        (thresholds ``config["min_worst_class_fidelity"]`` and ``config["min_kappa"]``),
        never by overall fidelity alone; "uses the teacher's features" only when the
        agreement interval overlaps the explainer's noise floor.

        Parameters
        ----------
        name : str
            The student's name.

        Returns
        -------
        str
            Starts with "is faithful" or "is not faithful", then fidelity with its
            interval and interval kind, the majority baseline, kappa, the worst class
            (binary: the teacher's positive class in words), attribution agreement against
            the floor and the accuracy gap.
        """
        return verdict_text(self, self.students[name])

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``index.html``, ``figures/*.png`` and ``metrics.json`` atomically.

        Parameters
        ----------
        directory : str or path-like
            A new or empty directory, or one holding an earlier report (replaced).

        Returns
        -------
        Path
            The path of ``index.html``.
        """
        return save_report(self, directory)


# ---------------------------------------------------------------------------- helpers
def _list(pair: tuple[float, float] | None) -> list[float] | None:
    """An interval as a JSON list.

    Parameters
    ----------
    pair : tuple of float or None

    Returns
    -------
    list of float or None
    """
    return None if pair is None else [float(pair[0]), float(pair[1])]


def _summary_entry(summary: dict[str, dict[str, Any]] | None) -> dict[str, Any] | None:
    """An ``agreement_summary`` for JSON: each metric's mean and interval.

    Parameters
    ----------
    summary : dict or None

    Returns
    -------
    dict or None
    """
    if summary is None:
        return None
    return {name: {"mean": v["mean"], "ci": _list(v["ci"])} for name, v in summary.items()}


def _attribution_entry(r: StudentResult, k: int) -> dict[str, Any] | None:
    """A student's ``attribution`` entry in ``metrics.json``.

    Parameters
    ----------
    r : StudentResult
        The student.
    k : int
        The top-k.

    Returns
    -------
    dict
        ``available``; with a comparable teacher the agreement means, ``k`` and every
        metric; the student's global importance when it was explained.
    """
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
    """A Distill-and-Compare panel for JSON (tables as lists of records).

    Parameters
    ----------
    outcome : dict
        The panel.

    Returns
    -------
    dict
    """
    entry: dict[str, Any] = {"outcome_kind": outcome["outcome_kind"]}
    if "importance" in outcome:
        entry["importance"] = outcome["importance"].to_dict(orient="records")
    if "coefficients" in outcome:
        entry["coefficients"] = outcome["coefficients"].to_dict(orient="records")
    return entry


def _jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars to Python, NaN to None, tuples to lists.

    Parameters
    ----------
    value : object
        Nested dicts, lists, arrays and scalars.

    Returns
    -------
    object
        The same structure in JSON types.
    """
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
