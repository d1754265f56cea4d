"""Small numpy helpers shared by the estimators: softmax, log-softmax and seeding.

Pure numpy and scikit-learn; no torch. Every module that needs one of these imports it
from here; none writes its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["column_mean_scale", "draw_seed", "log_softmax", "softmax", "standardise"]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row maximum so that no exponential overflows.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_classes)
        Scores z.

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
        ``exp(z - max z) / sum_k exp(z_k - max z)``; rows sum to 1.
    """
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    return proba / proba.sum(axis=1, keepdims=True)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax, the logarithm of :func:`softmax` computed without forming it.

    Parameters
    ----------
    logits : ndarray of shape (n_samples, n_classes)
        Scores z.

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
        ``(z - max z) - log sum_k exp(z_k - max z)``.
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def draw_seed(random_state: Any) -> int:
    """One integer seed drawn from a scikit-learn ``random_state``.

    Parameters
    ----------
    random_state : None, int or numpy.random.RandomState
        As everywhere in scikit-learn: None (fresh randomness), an int (reproducible) or
        a RandomState (advanced by one draw).

    Returns
    -------
    int
        ``check_random_state(random_state).randint(2**31 - 1)``, in [0, 2^31 - 1).
    """
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


#: Rows per chunk in the column statistics and standardisation below (bounds the float64
#: temporaries to ``_CHUNK_ROWS * n_features`` values).
_CHUNK_ROWS = 65536


def column_mean_scale(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and standard deviation, computed in float64 chunk by chunk.

    Two passes over row chunks (``sum x`` then ``sum (x - mean)^2``), so that no
    full-size float64 copy of X is made.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Rows, any float dtype; n_samples >= 1.

    Returns
    -------
    mean : ndarray of shape (n_features,), float64
        ``mu_j = (1/n) sum_i x_ij``.
    scale : ndarray of shape (n_features,), float64
        ``sigma_j = sqrt((1/n) sum_i (x_ij - mu_j)^2)``, replaced by 1 where it is 0 (a
        constant column) or not finite, so that dividing by it is always safe.
    """
    n = X.shape[0]
    total = np.zeros(X.shape[1])
    for start in range(0, n, _CHUNK_ROWS):
        total += X[start : start + _CHUNK_ROWS].sum(axis=0, dtype=np.float64)
    mean = total / max(n, 1)
    squares = np.zeros(X.shape[1])
    for start in range(0, n, _CHUNK_ROWS):
        deviation = X[start : start + _CHUNK_ROWS].astype(np.float64) - mean
        squares += np.einsum("ij,ij->j", deviation, deviation)
    scale = np.sqrt(squares / max(n, 1))
    scale[~np.isfinite(scale) | (scale <= 0.0)] = 1.0
    return mean, scale


def standardise(
    X: np.ndarray, mean: np.ndarray, scale: np.ndarray, *, in_place: bool = False
) -> np.ndarray:
    """``(X - mean) / scale`` in float32, chunk by chunk.

    The statistics are cast to float32 first, so this gives bit for bit what a float32
    torch computation ``(x - mean) / scale`` gives on the same rows (prediction uses that).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32
        Rows.
    mean, scale : ndarray of shape (n_features,)
        From :func:`column_mean_scale`.
    in_place : bool
        Overwrite X (no new memory) instead of returning a new array. Only for an X that
        the caller owns.

    Returns
    -------
    ndarray of shape (n_samples, n_features), float32
        The standardised rows (X itself when ``in_place``).
    """
    mean32 = np.asarray(mean, dtype=np.float32)
    scale32 = np.asarray(scale, dtype=np.float32)
    out = X if in_place else np.empty(X.shape, dtype=np.float32)
    for start in range(0, X.shape[0], _CHUNK_ROWS):
        chunk = slice(start, start + _CHUNK_ROWS)
        np.subtract(X[chunk], mean32, out=out[chunk])
        np.divide(out[chunk], scale32, out=out[chunk])
    return out
