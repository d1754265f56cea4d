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

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ._defaults import DEFAULT_PRESET, DISTILL_TEMPERATURE, N_JOBS, PRESETS, Preset
from ._torch_utils import torch_threads
from .distill import DistilledClassifier
from .exceptions import InputTypeError, ParameterError
from .report import DistillationReport, check_output_directory
from .report.writer import save_report
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
    temperature: float | str = DISTILL_TEMPERATURE,
    random_state: int = 0,
    n_jobs: int | None = N_JOBS,
    preset: str | Preset = DEFAULT_PRESET,
    images_shape: tuple[int, int] | None = None,
    config: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    protect: Iterable[str | os.PathLike[str]] = (),
    row_ids: Any = None,
    X_display: Any = None,
    segments: Any = None,
    protected: Sequence[str] | None = None,
) -> tuple[DistillationReport, Path]:
    """Distil ``teacher`` into each student, compare them on the test rows, save the report.

    For each kind, two students are fitted with the kind's registry defaults and
    ``random_state`` (and ``max_epochs`` only when the preset names a number of student
    epochs, as ``quick`` does; otherwise the library's default): one distilled from the
    teacher (``DistilledClassifier`` at ``temperature``, objective
    L = w * CE(y, p_S) + (1 - w) * T^2 * KL(p_T^(T) || p_S^(T))), and one "outcome"
    student trained on the labels alone, so the report can tell what distillation adds.
    The comparison is ``DistillationReport.from_models(..., preset=preset.name,
    X_fit=X_train, y_fit=y_train)`` with every other budget argument left to the preset,
    so these numbers equal those of the same calls made in Python.
    Students are named by their registry ``label`` ("soft tree") in the report. Each
    student's chosen ``temperature_`` is recorded in the report's ``config`` under
    ``"chosen_temperature"`` (label -> T). The whole run uses the library's thread rule
    (:func:`~interpretable_kd._torch_utils.torch_threads` with ``n_jobs``), in Python
    and on the command line alike.

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
    temperature : float or "auto", default="auto"
        Distillation temperature: "auto" chooses T per student from
        ``TEMPERATURE_GRID`` by fidelity on held-out training rows; a number in
        [0.01, 100] is used for every student.
    random_state : int, default=0
        Seed of every student and of the comparison.
    n_jobs : int or None, default=None
        Torch threads for the whole run (every fit, prediction and the comparison);
        None: the library's rule (:func:`~interpretable_kd._torch_utils.resolve_threads`).
    preset : {"quick", "standard", "thorough"} or Preset, default="standard"
        The named audit budget (``interpretable_kd._defaults.PRESETS``): rows explained,
        background, orderings, explanation runs, bootstrap resamples, refits, and the
        students' epochs when it names a number.
    images_shape : tuple of int or None, default=None
        ``(height, width)`` when rows are flattened images.
    config : mapping or None, default=None
        Stored as ``config`` in ``metrics.json``.
    extra : mapping or None, default=None
        Added to ``report.extra`` (description, source, command).
    progress : Progress or None, default=None
        Told when each of the ``len(students) + 2`` steps starts and ends.
    protect : iterable of path-like, default=()
        Input files whose directories ``out`` must never replace (the working directory
        is always protected).
    row_ids, X_display, segments, protected : optional
        Passed to ``DistillationReport.from_models``: each test row's id, the test rows
        in the user's own units, segment columns and protected column names.

    Returns
    -------
    report : DistillationReport
    path : pathlib.Path
        Where ``report.save`` wrote ``index.html``.
    """
    protect = list(protect)
    chosen_preset = _preset(preset)
    # Everything that can fail without computing anything fails first.
    check_output_directory(out, protect)
    _check_serialisable(config, "config")
    _check_serialisable(extra, "extra")
    with torch_threads(n_jobs, owner="distil_and_report"):
        return _run(
            teacher,
            X_train,
            y_train,
            X_test,
            y_test,
            students=students,
            out=out,
            dataset_name=dataset_name,
            temperature=temperature,
            random_state=random_state,
            n_jobs=n_jobs,
            preset=chosen_preset,
            images_shape=images_shape,
            config=config,
            extra=extra,
            progress=progress,
            protect=protect,
            where={
                "row_ids": row_ids,
                "X_display": X_display,
                "segments": segments,
                "protected": list(protected) if protected is not None else None,
            },
        )


def _run(
    teacher: Any,
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    X_test: pd.DataFrame,
    y_test: np.ndarray,
    *,
    students: Sequence[str],
    out: str | Path,
    dataset_name: str,
    temperature: float | str,
    random_state: int,
    n_jobs: int | None,
    preset: Preset,
    images_shape: tuple[int, int] | None,
    config: Mapping[str, Any] | None,
    extra: Mapping[str, Any] | None,
    progress: Progress | None,
    protect: list[str | os.PathLike[str]],
    where: dict[str, Any],
) -> tuple[DistillationReport, Path]:
    """:func:`distil_and_report` after its checks, under its thread count.

    Parameters
    ----------
    teacher, X_train, y_train, X_test, y_test, students, out, dataset_name, temperature
    random_state, n_jobs, preset, images_shape, config, extra, progress, protect
        As in :func:`distil_and_report` (``preset`` resolved).
    where : dict
        ``row_ids``, ``X_display``, ``segments`` and ``protected`` for the comparison.

    Returns
    -------
    report : DistillationReport
    path : pathlib.Path
    """
    steps: Progress = _Silent() if progress is None else progress
    distilled: dict[str, Any] = {}
    outcome: dict[str, Any] = {}
    epochs = {} if preset.student_epochs == "auto" else {"max_epochs": preset.student_epochs}
    for name in students:
        kind = REGISTRY[name]
        steps.start(f"distilling the {kind.label}")
        distilled[kind.label] = DistilledClassifier(
            teacher,
            kind.make(random_state=random_state, **epochs),
            temperature=temperature,
            random_state=random_state,
            n_jobs=n_jobs,
        ).fit(X_train, y_train)
        plain = kind.make(random_state=random_state, **epochs)
        if "n_jobs" in plain.get_params(deep=False):  # a registered student may lack it
            plain.set_params(n_jobs=n_jobs)
        outcome[kind.label] = plain.fit(X_train, y_train)
        steps.done()
    chosen = {label: model.temperature_ for label, model in distilled.items()}
    config = {**dict(config or {}), "chosen_temperature": chosen}
    steps.start("comparing teacher and students")
    report = DistillationReport.from_models(
        teacher,
        distilled,
        X_test,
        y_test,
        background=X_train,
        outcome_students=outcome,
        dataset_name=dataset_name,
        images_shape=images_shape,
        config=config,
        random_state=random_state,
        preset=preset.name,
        X_fit=X_train,
        y_fit=y_train,
        **where,
    )
    report.extra.update(dict(extra or {}))
    steps.done()
    steps.start("writing the report")
    path = save_report(report, out, protect)
    steps.done()
    return report, Path(path)


def _preset(preset: str | Preset) -> Preset:
    """The named preset, checked.

    Parameters
    ----------
    preset : str or Preset
        A key of ``PRESETS`` or one of its values.

    Returns
    -------
    Preset

    Raises
    ------
    ParameterError
        Any other name or type.
    """
    if isinstance(preset, Preset) and PRESETS.get(preset.name) == preset:
        return preset
    if isinstance(preset, str) and preset in PRESETS:
        return PRESETS[preset]
    raise ParameterError(
        f"The 'preset' parameter of distil_and_report must be one of "
        f"{', '.join(repr(k) for k in PRESETS)}; got {preset!r}. Use 'quick' for a fast, "
        f"rough report or {DEFAULT_PRESET!r} (the default)."
    )


def _check_serialisable(value: Mapping[str, Any] | None, name: str) -> None:
    """Refuse a mapping that ``metrics.json`` could not hold, before any work is done.

    Parameters
    ----------
    value : mapping or None
    name : str
        The parameter, for messages.

    Returns
    -------
    None

    Raises
    ------
    InputTypeError
        Not a mapping, or a value that is not JSON (numbers, strings, lists, dicts;
        NaN and infinity are refused too).
    """
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise InputTypeError(
            f"The {name!r} parameter of distil_and_report must be a dict or None; got "
            f"{type(value).__name__}."
        )
    try:
        json.dumps(dict(value), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(
            f"The {name!r} parameter of distil_and_report must hold only JSON values "
            f"(str, int, float, bool, None, lists and dicts of them) for metrics.json: "
            f"{exc}. Convert the value (e.g. str(path), float(x)) before the run."
        ) from None
