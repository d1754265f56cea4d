"""What the comparison reads from the models themselves: probabilities in the teacher's
class order, kind and complexity, readable views and coefficients.

A student in :data:`~interpretable_kd.students.REGISTRY` describes itself (its
``complexity(X)`` and ``readable_view()``); any other fitted classifier gets the
fallbacks below (scikit-learn decision trees and linear models are recognised).
"""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np

from .._validation import format_items
from .._version import __version__
from ..exceptions import InputError, InputTypeError
from ..students import kind_of

__all__ = [
    "aligned_proba",
    "coefficients",
    "model_complexity",
    "package_versions",
    "readable_view",
]


def aligned_proba(model: Any, X: Any, classes: np.ndarray, name: str, owner: str) -> np.ndarray:
    """The student's probabilities with columns in the teacher's class order.

    Parameters
    ----------
    model : object
        A fitted classifier with ``predict_proba`` (and ``classes_``).
    X : array-like or DataFrame of shape (n_rows, n_features)
        Rows to score.
    classes : ndarray of shape (n_classes,)
        The teacher's class labels.
    name, owner : str
        The student's name and who is asking, for the error messages.

    Returns
    -------
    ndarray of shape (n_rows, n_classes)
        float64; a class the student never saw gets probability 0.

    Raises
    ------
    InputTypeError
        The model has no ``predict_proba``.
    InputError
        The model predicts a class the teacher does not know.
    """
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


def model_complexity(model: Any, X: Any = None) -> dict[str, Any]:
    """How big and how readable a fitted model is.

    Parameters
    ----------
    model : object
        A fitted student, a ``DistilledClassifier``-like object (its ``student_`` is
        measured) or any fitted classifier.
    X : array-like of shape (n_rows, n_features) or None
        Rows for data-dependent measures (the soft tree's mean max-path probability).

    Returns
    -------
    dict
        ``kind`` first, then the measures. A registered student: ``kind`` from the
        registry and the model's own ``complexity(X)``. Otherwise ``kind`` is
        ``"decision_tree"`` (with ``parameters`` = node count, ``depth``, ``leaves``) for
        a scikit-learn decision tree, else the class name; ``parameters`` from
        ``n_parameters_`` when present; a linear model (``coef_``) adds ``parameters`` =
        coefficients + intercepts and ``nonzero_coefficients``.
    """
    registered = kind_of(model)
    if registered is not None:
        return {"kind": registered.kind, **model.complexity(X)}
    inner = getattr(model, "student_", model)
    name = type(inner).__name__
    out: dict[str, Any] = {"kind": name}
    if hasattr(inner, "n_parameters_"):
        out["parameters"] = int(inner.n_parameters_)
    if name == "DecisionTreeClassifier":
        out["kind"] = "decision_tree"
        out["depth"] = int(inner.get_depth())
        out["leaves"] = int(inner.get_n_leaves())
        out["parameters"] = int(inner.tree_.node_count)
    elif hasattr(inner, "coef_"):
        coef = np.asarray(inner.coef_)
        out["parameters"] = int(coef.size + np.size(getattr(inner, "intercept_", 0)))
        out["nonzero_coefficients"] = int(np.count_nonzero(coef))
    return out


def readable_view(model: Any) -> dict[str, Any]:
    """The plain data the report draws for a model (its white-box view).

    Parameters
    ----------
    model : object
        A fitted student, a ``DistilledClassifier``-like object or any classifier.

    Returns
    -------
    dict
        A registered student's ``readable_view()`` (its ``"view"`` key names the
        drawing); ``{"view": None}`` for any other model.
    """
    if kind_of(model) is None:
        return {"view": None}
    return dict(model.readable_view())


def coefficients(model: Any) -> np.ndarray | None:
    """The coefficients of a linear model (or of the student inside a distilled one).

    Parameters
    ----------
    model : object
        A fitted model.

    Returns
    -------
    ndarray of shape (n_out, n_features) or None
        ``coef_`` as a float64 2-d array; None for a model without ``coef_``.
    """
    inner = getattr(model, "student_", model)
    coef = getattr(inner, "coef_", None)
    return None if coef is None else np.atleast_2d(np.asarray(coef, dtype=np.float64))


def package_versions() -> dict[str, str]:
    """Versions of Python and of every package that shapes the numbers.

    Read from the installed metadata, so nothing heavy is imported.

    Returns
    -------
    dict of str to str
        ``interpretable_kd``, ``python``, numpy, pandas, scikit-learn, torch, shap and
        matplotlib.
    """
    versions = {"interpretable_kd": __version__, "python": platform.python_version()}
    for package in ("numpy", "pandas", "scikit-learn", "torch", "shap", "matplotlib"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:  # pragma: no cover - all are dependencies
            versions[package] = "not installed"
    return versions
