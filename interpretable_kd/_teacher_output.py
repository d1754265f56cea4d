"""Checks of what a teacher returns, shared by every adapter in :mod:`.teachers`.

Raw outputs become float64 arrays of shape (n_samples, n_classes); text, complex numbers,
1-d probabilities outside [0, 1], probabilities whose rows do not sum to 1, logits beyond
float32 and repeated class labels are refused with one clear message each.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from ._validation import format_items
from .exceptions import InputError, TeacherOutputError

# log of the smallest positive float32: the logit given to a probability of exactly 0.
_LOG_TINY = float(np.log(np.finfo(np.float32).tiny))
_PROBA_TOLERANCE = 1e-3
#: What a teacher's raw output may be.
OUTPUTS = ("proba", "logits", "log_proba")
#: Largest logit magnitude accepted: the students compute in float32.
_FLOAT32_MAX = float(np.finfo(np.float32).max)
#: A teacher whose scores vary by less than this over at least _MIN_ROWS_CONSTANT rows is
#: constant (degenerate): every student agrees with it trivially.
_CONSTANT_SPREAD = 1e-12
_MIN_ROWS_CONSTANT = 10


def _check_classes(classes: Any, owner: str) -> np.ndarray:
    """The declared class labels as an array, refused when repeated or fewer than two.

    Parameters
    ----------
    classes : sequence
        Labels of the output columns.
    owner : str
        The teacher class, for messages.

    Returns
    -------
    ndarray of shape (n_classes,)

    Raises
    ------
    InputError
        Not one-dimensional, fewer than two labels, or a label repeated.
    """
    array = np.asarray(classes)
    if array.ndim != 1 or len(array) < 2:
        raise InputError(
            f"The 'classes' parameter of {owner} must list at least two class labels, one per "
            f"output column; got {classes!r}."
        )
    seen = pd.Series([repr(c) if not isinstance(c, str) else c for c in array.tolist()])
    repeated = list(dict.fromkeys(array[seen.duplicated().to_numpy()].tolist()))
    if repeated:
        raise InputError(
            f"The 'classes' parameter of {owner} repeats {format_items(repeated)}; each output "
            "column needs its own label, e.g. classes=[0, 1]."
        )
    return array


def proba_to_logits(proba: np.ndarray) -> np.ndarray:
    """Log-probabilities with zeros clipped, so that they are finite logits.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_classes)
        Probabilities.

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
        ``max(log p, log(float32 tiny))``.
    """
    with np.errstate(divide="ignore"):
        return np.maximum(np.log(proba), _LOG_TINY)


def _n_rows(X: Any) -> int:
    return int(_shape(X)[0])


def _shape(X: Any) -> tuple[int, ...]:
    shape = getattr(X, "shape", None)
    return tuple(shape) if shape is not None else np.shape(X)


def _as_float(out: Any, name: str) -> np.ndarray:
    """A teacher's raw output as float64, refusing text and complex numbers.

    Parameters
    ----------
    out : array-like or torch.Tensor
    name : str
        The teacher class, for messages.

    Returns
    -------
    ndarray of float64
    """
    if isinstance(out, torch.Tensor):
        out = out.detach().cpu().numpy()
    try:
        raw = np.asarray(out)
        if np.iscomplexobj(raw):
            raise TypeError("complex numbers")
        return np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        first = np.ravel(np.asarray(out, dtype=object))[:1].tolist()
        raise TeacherOutputError(
            f"{name} returned values that are not real numbers (e.g. {format_items(first, 1)}; "
            f"{exc}). A teacher must return probabilities or logits, not class labels: "
            "use predict_proba rather than predict."
        ) from None


def _binary_columns(out: np.ndarray, output: str, name: str) -> np.ndarray:
    """One score per row (the positive class of a binary problem) as two columns.

    Parameters
    ----------
    out : ndarray of shape (n_samples,)
    output : {"proba", "logits", "log_proba"}
    name : str

    Returns
    -------
    ndarray of shape (n_samples, 2)
    """
    if output == "logits":
        return np.column_stack([np.zeros_like(out), out])
    if output == "log_proba":
        with np.errstate(over="ignore", invalid="ignore"):
            return np.column_stack([np.log1p(-np.exp(out)), out])
    finite = out[np.isfinite(out)]
    if finite.size and (finite.min() < 0 or finite.max() > 1):
        raise TeacherOutputError(
            f"{name} returned one score per row, read as the probability of the second "
            f"class, but the scores range from {finite.min():.3g} to {finite.max():.3g}, "
            "outside [0, 1]. If they are logits (log-odds), declare output='logits'."
        )
    return np.column_stack([1.0 - out, out])


def _check_proba_rows(proba: np.ndarray, name: str, declared: str = "proba") -> None:
    if (proba < 0).any():
        row = int(np.flatnonzero((proba < 0).any(axis=1))[0])
        raise TeacherOutputError(
            f"{name} returned negative probabilities (first at row {row}). If these are "
            "logits or scores, declare output='logits'."
        )
    deviation = np.abs(proba.sum(axis=1) - 1.0)
    if (deviation > _PROBA_TOLERANCE).any():
        row = int(np.argmax(deviation))
        raise TeacherOutputError(
            f"{name} declared output={declared!r}, but its rows do not sum to 1 (largest "
            f"deviation {deviation[row]:.3g} at row {row}). If these are logits or scores, "
            "declare output='logits'."
        )
