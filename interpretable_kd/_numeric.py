"""Small numpy helpers shared by the estimators: softmax, log-softmax and seeding.

Pure numpy and scikit-learn; no torch. Every module that needs one of these imports it
from here; none writes its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["draw_seed", "log_softmax", "softmax"]


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
