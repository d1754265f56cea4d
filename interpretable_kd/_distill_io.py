"""Saving and loading a :class:`~interpretable_kd.DistilledClassifier`: the two
persistence hooks' bodies (:func:`distilled_header`, :func:`distilled_from_header`).

The file holds the distiller's settings, its student's template and fitted student, its
fitted attributes, and an ``MLPTeacher`` teacher (any other teacher is passed again to
``load``). Loading checks the settings as ``fit`` does, restores only the declared
fitted attributes, and refuses a teacher whose classes are not the saved ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from . import persistence
from ._persistence_checks import check_param_names, check_settings
from ._validation import format_items
from .exceptions import InputError, PersistenceError
from .teachers import Teacher, as_teacher

__all__ = ["check_same_classes", "distilled_from_header", "distilled_header"]


def distilled_header(
    model: Any, prefix: str, tensors: dict[str, torch.Tensor], stored: tuple[str, ...]
) -> dict[str, Any]:
    """The header of a fitted ``DistilledClassifier``.

    Parameters
    ----------
    model : DistilledClassifier
        The fitted model.
    prefix : str
        Prepended to the names of the tensors of the models inside.
    tensors : dict
        Tensor name -> Tensor; filled in place.
    stored : tuple of str
        The fitted attributes to store.

    Returns
    -------
    dict
        ``class``, ``params`` (all but teacher and student), ``student_template``
        (class and params), ``student`` (the fitted student's header), ``fitted`` and
        ``teacher`` (an ``MLPTeacher``'s header, else ``{"stored": False, ...}``).
    """
    params = model.get_params(deep=False)
    teacher_obj, student_template = params.pop("teacher"), params.pop("student")
    header: dict[str, Any] = {
        "class": "DistilledClassifier",
        "params": {
            k: persistence.encode_value(v, f"DistilledClassifier.{k}") for k, v in params.items()
        },
        "student_template": {
            "class": type(student_template).__name__,
            "params": persistence.params_header(student_template),
        },
        "student": persistence.describe_model(model.student_, f"{prefix}student/", tensors),
        "fitted": {
            attr: persistence.encode_value(getattr(model, attr), f"DistilledClassifier.{attr}")
            for attr in stored
            if hasattr(model, attr)
        },
    }
    if type(teacher_obj).__name__ == "MLPTeacher" and hasattr(teacher_obj, "module_"):
        header["teacher"] = persistence.describe_model(teacher_obj, f"{prefix}teacher/", tensors)
    else:
        header["teacher"] = {"stored": False, "model_name": type(teacher_obj).__name__}
    return header


def distilled_from_header(
    cls: type,
    header: dict[str, Any],
    prefix: str,
    tensors: dict[str, torch.Tensor],
    teacher: Any,
    stored: tuple[str, ...],
) -> Any:
    """Rebuild a ``DistilledClassifier`` from :func:`distilled_header`'s header.

    Parameters
    ----------
    cls : type
        ``DistilledClassifier``.
    header : dict
        The header.
    prefix : str
        The prefix of the tensor names of the models inside.
    tensors : dict
        Every tensor of the file.
    teacher : object or None
        The teacher to attach; default: the stored ``MLPTeacher``, if any.
    stored : tuple of str
        The fitted attributes a file may restore.

    Returns
    -------
    DistilledClassifier
        The fitted model (with ``teacher_`` when a teacher is known).

    Raises
    ------
    PersistenceError
        For settings ``fit`` refuses, attributes outside ``stored``, a student whose
        classes are not the model's.
    InputError
        For a ``teacher`` whose classes differ from the saved ones.
    """
    template = persistence.construct(
        header["student_template"]["class"], header["student_template"]["params"]
    )
    stored_teacher = None
    if header["teacher"].get("stored", True):
        stored_teacher = persistence.build_model(
            header["teacher"], f"{prefix}teacher/", tensors, None
        )
    chosen = teacher if teacher is not None else stored_teacher
    settings = header["params"]
    if not isinstance(settings, dict) or {"teacher", "student"} & set(settings):
        raise PersistenceError("The DistilledClassifier's settings in the file are damaged.")
    check_param_names(cls, settings)
    model = cls(chosen, template, **{k: persistence.decode_value(v) for k, v in settings.items()})
    check_settings(model)
    fitted = header["fitted"]
    refused = [attr for attr in fitted if attr not in stored]
    if refused:
        raise PersistenceError(
            "The file sets attributes that a DistilledClassifier does not have as fitted "
            f"attributes: {', '.join(map(repr, refused[:5]))}. A model file may only "
            "restore what fit() learned; this one was altered and was not loaded."
        )
    for attr, value in fitted.items():
        setattr(model, attr, persistence.decode_value(value))
    if "temperature_" not in fitted:  # a file written before "auto" existed
        fixed = isinstance(model.temperature, int | float)
        model.temperature_ = float(model.temperature) if fixed else None
        model.temperature_search_ = None
    model.student_ = persistence.build_model(header["student"], f"{prefix}student/", tensors, None)
    classes = np.asarray(model.classes_)
    student_classes = getattr(model.student_, "classes_", None)
    if student_classes is not None and not _same(np.asarray(student_classes), classes):
        raise PersistenceError(
            "The file's student has other classes than the DistilledClassifier around it: "
            "the file was altered and was not loaded."
        )
    if chosen is not None:
        model.teacher_ = as_teacher(chosen)
        if teacher is not None:
            check_same_classes(model.teacher_, classes)
    return model


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal labels in the same order, of the same Python types (1 is not '1')."""
    return a.shape == b.shape and all(
        x == y and type(x) is type(y) for x, y in zip(a.tolist(), b.tolist(), strict=True)
    )


def check_same_classes(teacher: Teacher, saved: np.ndarray) -> None:
    """Refuse a teacher passed to ``load`` whose classes are not the saved model's.

    The student's output columns are the saved classes, in order; a teacher with other
    classes (or the same ones in another order) would make every fidelity meaningless
    (0.00 was reported). A teacher whose classes are not known until it is first called
    (a bare callable) is accepted.

    Parameters
    ----------
    teacher : Teacher
        The wrapped teacher.
    saved : ndarray of shape (n_classes,)
        The ``classes_`` stored in the file.

    Raises
    ------
    InputError
        When both are known and differ.
    """
    theirs = getattr(teacher, "classes_", None)
    if theirs is None:
        return
    theirs = np.asarray(theirs)
    if _same(theirs, saved):
        return
    same_set = sorted(map(repr, theirs.tolist())) == sorted(map(repr, saved.tolist()))
    how = "the same classes in another order" if same_set else "other classes"
    raise InputError(
        f"DistilledClassifier.load(teacher=...) got a teacher ({teacher.model_name}) with "
        f"{how}: {format_items(theirs.tolist(), 10)}, but the saved student was distilled "
        f"for {format_items(saved.tolist(), 10)}. Pass the teacher the model was distilled "
        "from (or one with the same classes in the same order)."
    )
