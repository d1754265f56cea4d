"""Distil a teacher into each registered student kind, compare them and save the report.

This is what ``interpretable-kd demo`` and ``interpretable-kd report`` do once the data is
split and the teacher is ready; the command line only parses arguments and prints.
Students come from :data:`interpretable_kd.students.REGISTRY`: names, display labels and
constructor defaults are read there, so a registered student is distilled like the others.

Example::

    from interpretable_kd.datasets import split_dataset
    from interpretable_kd.teachers import MLPTeacher
    from interpretable_kd.workflow import distil_and_report

    split = split_dataset("breast_cancer", random_state=0)
    teacher = MLPTeacher(random_state=0).fit(split.X_train, split.y_train)
    report, path = distil_and_report(
        teacher, split.X_train, split.y_train, split.X_test, split.y_test,
        students=["logistic", "tree"], out="reports/demo", dataset_name="breast_cancer",
    )
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ._defaults import FULL, TEMPERATURE, Budget
from .distill import DistilledClassifier
from .report import DistillationReport
from .students import REGISTRY

__all__ = ["Progress", "distil_and_report"]


class Progress(Protocol):
    """Where :func:`distil_and_report` says which step it is on (a progress bar, a log)."""

    def start(self, text: str) -> None:
        """A step begins.

        Parameters
        ----------
        text : str
            What the step does, e.g. ``"distilling the soft tree"``.

        Returns
        -------
        None
        """

    def done(self) -> None:
        """The step that began last is finished.

        Returns
        -------
        None
        """


class _Silent:
    """A :class:`Progress` that reports nothing."""

    def start(self, text: str) -> None:
        """Ignore the step.

        Parameters
        ----------
        text : str

        Returns
        -------
        None
        """

    def done(self) -> None:
        """Ignore the end of the step.

        Returns
        -------
        None
        """


def distil_and_report(
    teacher: Any,
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    X_test: pd.DataFrame,
    y_test: np.ndarray,
    *,
    students: Sequence[str],
    out: str | Path,
    dataset_name: str,
    temperature: float = TEMPERATURE,
    random_state: int = 0,
    budget: Budget = FULL,
    images_shape: tuple[int, int] | None = None,
    config: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> tuple[DistillationReport, Path]:
    """Distil ``teacher`` into each student, compare them on the test rows, save the report.

    For each kind, two students are fitted with the kind's registry defaults,
    ``random_state`` and ``max_epochs=budget.student_epochs``: one distilled from the
    teacher (``DistilledClassifier`` at ``temperature``, objective
    L = w * CE(y, p_S) + (1 - w) * T^2 * KL(p_T^(T) || p_S^(T))), and one "outcome"
    student trained on the labels alone, so the report can tell what distillation adds.
    Students are named by their registry ``label`` ("soft tree") in the report.

    Parameters
    ----------
    teacher : Teacher
        A fitted teacher (``MLPTeacher``, ``as_teacher(...)``).
    X_train : pandas.DataFrame of shape (n_train, n_features)
        Encoded training rows; also the attribution background.
    y_train : ndarray of shape (n_train,)
        Training labels.
    X_test : pandas.DataFrame of shape (n_test, n_features)
        Held-out rows the comparison is computed on.
    y_test : ndarray of shape (n_test,)
        Held-out labels.
    students : sequence of str
        Keys of :data:`~interpretable_kd.students.REGISTRY` (``"logistic"``, ``"mlp"``,
        ``"tree"``), in report order.
    out : str or pathlib.Path
        Report directory (``index.html``, ``figures/``, ``metrics.json``), written
        atomically.
    dataset_name : str
        Name of the data in the report.
    temperature : float, default=TEMPERATURE
        Distillation temperature T > 0.
    random_state : int, default=0
        Seed of every student and of the comparison.
    budget : Budget, default=FULL
        Epochs, explained rows, bootstrap resamples and background rows.
    images_shape : tuple of int or None, default=None
        ``(height, width)`` when rows are flattened images.
    config : mapping or None, default=None
        Stored as ``config`` in ``metrics.json``.
    extra : mapping or None, default=None
        Added to ``report.extra`` (description, source, command).
    progress : Progress or None, default=None
        Told when each of the ``len(students) + 2`` steps starts and ends.

    Returns
    -------
    report : DistillationReport
    path : pathlib.Path
        Where ``report.save`` wrote ``index.html``.
    """
    steps: Progress = _Silent() if progress is None else progress
    distilled: dict[str, Any] = {}
    outcome: dict[str, Any] = {}
    for name in students:
        kind = REGISTRY[name]
        steps.start(f"distilling the {kind.label}")
        distilled[kind.label] = DistilledClassifier(
            teacher,
            kind.make(random_state=random_state, max_epochs=budget.student_epochs),
            temperature=temperature,
            random_state=random_state,
        ).fit(X_train, y_train)
        outcome[kind.label] = kind.make(
            random_state=random_state, max_epochs=budget.student_epochs
        ).fit(X_train, y_train)
        steps.done()
    steps.start("comparing teacher and students")
    report = DistillationReport.from_models(
        teacher,
        distilled,
        X_test,
        y_test,
        background=X_train,
        outcome_students=outcome,
        explain_rows=budget.explain_rows,
        n_bootstrap=budget.n_bootstrap,
        max_background=budget.max_background,
        dataset_name=dataset_name,
        images_shape=images_shape,
        config=dict(config) if config is not None else None,
        random_state=random_state,
    )
    report.extra.update(dict(extra or {}))
    steps.done()
    steps.start("writing the report")
    path = report.save(str(out))
    steps.done()
    return report, Path(path)
