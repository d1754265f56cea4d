"""Synthetic rows near the data for the teacher to label (a transfer set, as in TREPAN and
Bastani et al. 2017): Gaussian noise, mixup, or both. Used by
:class:`~interpretable_kd.DistilledClassifier` (``augment=``)."""

from __future__ import annotations

import numpy as np

from ._defaults import AUGMENT_BYTES_PER_CELL, AUGMENT_BYTES_PER_LOGIT, AUGMENT_MEMORY_BUDGET
from .exceptions import ParameterError

__all__ = ["AUGMENT_METHODS", "augment_memory", "augment_rows", "check_augment_memory"]

#: The values of ``DistilledClassifier(augment=...)`` other than None.
AUGMENT_METHODS = ("gaussian", "mixup", "both")


def augment_rows(
    X: np.ndarray,
    n_rows: int,
    method: str,
    rng: np.random.Generator,
    *,
    noise_scale: float = 0.1,
) -> np.ndarray:
    """Synthetic rows near the data, for the teacher to label.

    Args:
        X: float array of shape (n_samples, n_features).
        n_rows: how many rows to make.
        method: "gaussian": ``x_i + eps``, ``eps_j ~ N(0, (noise_scale * std_j)^2)``;
            "mixup": ``lam * x_i + (1 - lam) * x_k`` with ``lam ~ U(0, 1)`` for random rows
            i, k; "both": half of each.

    Returns:
        float32 array of shape (n_rows, n_features).
    """
    if method == "both":
        half = n_rows // 2
        return np.vstack(
            [
                augment_rows(X, half, "gaussian", rng, noise_scale=noise_scale),
                augment_rows(X, n_rows - half, "mixup", rng, noise_scale=noise_scale),
            ]
        )
    base = X[rng.integers(0, X.shape[0], size=n_rows)]
    if method == "gaussian":
        std = X.std(axis=0, keepdims=True)
        out = base + rng.standard_normal(base.shape) * noise_scale * std
    else:
        other = X[rng.integers(0, X.shape[0], size=n_rows)]
        lam = rng.uniform(size=(n_rows, 1))
        out = lam * base + (1.0 - lam) * other
    return out.astype(np.float32)


def augment_memory(n_rows: int, n_features: int, n_classes: int) -> int:
    """Estimated bytes that ``n_rows`` synthetic rows cost a distillation.

    ``n_rows * (n_features * AUGMENT_BYTES_PER_CELL + n_classes * AUGMENT_BYTES_PER_LOGIT)``:
    per cell the float64 draws, the float32 row, its copy in the transfer set and the
    standardised copy the student trains on (32 bytes); per class the teacher's float64
    logit and its float32 copy (12 bytes). A lower bound of the peak: the teacher's own
    work on the rows comes on top.

    Parameters
    ----------
    n_rows, n_features, n_classes : int
        Synthetic rows, columns, the teacher's classes.

    Returns
    -------
    int
        Bytes.
    """
    per_row = n_features * AUGMENT_BYTES_PER_CELL + n_classes * AUGMENT_BYTES_PER_LOGIT
    return int(n_rows) * int(per_row)


def check_augment_memory(
    n_rows: int, n_features: int, n_classes: int, owner: str, *, default: bool = False
) -> None:
    """Refuse, before any row is made, an augmentation beyond ``AUGMENT_MEMORY_BUDGET``.

    Parameters
    ----------
    n_rows : int
        Synthetic rows asked for (``n_augment``, or the training rows by default).
    n_features, n_classes : int
        Columns of X and classes of the teacher.
    owner : str
        Who asks, for the message.
    default : bool
        Whether ``n_rows`` came from ``n_augment=None`` (as many as the training rows).

    Raises
    ------
    ParameterError
        With the estimate and the largest ``n_augment`` within the budget.
    """
    need = augment_memory(n_rows, n_features, n_classes)
    if need <= AUGMENT_MEMORY_BUDGET:
        return
    largest = AUGMENT_MEMORY_BUDGET // augment_memory(1, n_features, n_classes)
    given = " (None: as many as the training rows)" if default else ""
    raise ParameterError(
        f"The 'n_augment' parameter of {owner}{given} asks for {n_rows:,} synthetic rows of "
        f"{n_features} features, which would take about {need / 1024**3:,.1f} GiB; the limit "
        f"is {AUGMENT_MEMORY_BUDGET / 1024**3:g} GiB (AUGMENT_MEMORY_BUDGET). Use "
        f"n_augment <= {largest:,}, or fewer columns."
    )
