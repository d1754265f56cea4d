"""Resampling: seeds, the percentile bootstrap over rows, and the refit-aware bootstrap.

Pure NumPy. :mod:`interpretable_kd.metrics` re-exports every public name; the helpers
``_labels`` and ``_same_length`` (input checks shared with the metrics) live here so that
both modules can use them without a cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._validation import check_number
from .exceptions import InputError, InputTypeError

__all__ = ["as_generator", "bootstrap_ci", "refit_bootstrap_ci"]


def as_generator(random_state: Any) -> np.random.Generator:
    """A ``numpy.random.Generator`` from any numpy seed.

    Parameters
    ----------
    random_state : None, int, SeedSequence, Generator or RandomState
        A ``Generator`` is returned as is (not copied); a legacy ``RandomState`` seeds a
        new Generator with one draw.

    Returns
    -------
    numpy.random.Generator
    """
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**32 - 1, dtype=np.int64))
    try:
        return np.random.default_rng(random_state)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(
            f"The 'random_state' parameter must be None, an int or a numpy Generator. "
            f"Got {random_state!r} of type {type(random_state).__name__} instead."
        ) from exc


def _labels(values: Any, name: str, owner: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise InputError(
            f"{owner} needs {name} as a 1-d array of class labels of shape (n_samples,), but "
            f"got an array of shape {array.shape}. If you have probabilities, pass "
            f"their argmax (proba.argmax(axis=1))."
        )
    if array.size == 0:
        raise InputError(f"{owner} got an empty {name}; pass at least one row.")
    return array


def _same_length(owner: str, **arrays: np.ndarray) -> int:
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise InputError(
            f"{owner} needs arrays with the same number of rows, but {shown}. Pass "
            "predictions for the same rows, in the same order."
        )
    return next(iter(lengths.values()))


# --------------------------------------------------------------------------- bootstrap


def _bootstrap_indices(
    n: int, n_resamples: int, strata: np.ndarray | None, rng: np.random.Generator
) -> np.ndarray:
    """All resampled row indices at once: int array of shape (n_resamples, n)."""
    if strata is None:
        return rng.integers(0, n, size=(n_resamples, n))
    _, inverse = np.unique(strata, return_inverse=True)
    blocks = []
    for stratum in range(int(inverse.max()) + 1):
        members = np.flatnonzero(inverse == stratum)
        blocks.append(members[rng.integers(0, len(members), size=(n_resamples, len(members)))])
    return np.concatenate(blocks, axis=1)


def bootstrap_ci(
    metric: Callable[..., Any],
    *arrays: Any,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    stratify: Any = None,
    random_state: Any = None,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of ``metric(*arrays)``.

    Each resample draws n row indices with replacement and applies the *same* indices to
    every array (rows are resampled jointly), then evaluates ``metric`` on the resampled
    arrays. The interval is the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2``
    quantiles of the ``n_resamples`` values. With ``stratify``, rows are resampled within
    each stratum, each stratum keeping its own size (so class proportions stay fixed).
    Resamples on which the metric is NaN (e.g. a class absent from the resample) are
    dropped; if all are NaN the interval is (nan, nan).

    All index sets are drawn in one call; only ``metric`` runs once per resample, so cheap
    metrics over 1000 rows and 1000 resamples take a few tens of milliseconds.

    Parameters
    ----------
    metric : callable
        ``metric(*resampled_arrays) -> float``, e.g. :func:`fidelity_score`.
    *arrays : array-likes with the same first dimension n_samples
    n_resamples : int >= 1
    confidence : float in (0, 1)
    stratify : array-like of shape (n_samples,), optional
        Stratum of each row (e.g. the teacher's predicted class).
    random_state : None, int or numpy Generator
        Seed for the resampling; a fixed int gives the same interval every time.

    Returns
    -------
    (low, high) : tuple of float
    """
    owner = "bootstrap_ci"
    n_resamples = check_number(n_resamples, "n_resamples", owner, integer=True, low=1)
    confidence = check_number(confidence, "confidence", owner, low=0.0, high=1.0, closed="neither")
    if not callable(metric):
        raise InputTypeError(
            f"{owner} needs a callable metric as its first argument, such as "
            f"interpretable_kd.metrics.fidelity_score. Got {type(metric).__name__} instead."
        )
    if not arrays:
        raise InputError(f"{owner} needs at least one array to resample after the metric.")
    data = [a if isinstance(a, np.ndarray) else np.asarray(a) for a in arrays]
    for position, array in enumerate(data):
        if array.ndim == 0:
            raise InputError(
                f"{owner} needs arrays with one row per sample, but array {position} is a "
                f"scalar ({array!r})."
            )
        if len(array) == 0:
            raise InputError(
                f"{owner} got an empty array (position {position}); pass at least one row."
            )
    n = _same_length(owner, **{f"array {i}": a for i, a in enumerate(data)})
    strata = None
    if stratify is not None:
        strata = _labels(stratify, "stratify", owner)
        _same_length(owner, stratify=strata, arrays=data[0])
    indices = _bootstrap_indices(n, n_resamples, strata, as_generator(random_state))
    stats = np.empty(n_resamples)
    for r in range(n_resamples):
        value = metric(*(array[indices[r]] for array in data))
        try:
            stats[r] = float(value)
        except (TypeError, ValueError) as exc:
            raise InputTypeError(
                f"{owner} needs a metric that returns one number, but it returned "
                f"{type(value).__name__} {np.shape(value)}. Wrap it to reduce to a scalar, "
                "e.g. lambda a, b: float(np.mean(...))."
            ) from exc
    stats = stats[~np.isnan(stats)]
    if stats.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(stats, [tail, 1.0 - tail])
    return float(low), float(high)


def refit_factor(n_refits: int, confidence: float) -> float:
    """Small-sample widening of the refit part of :func:`refit_bootstrap_ci`.

    ``f = t_{R-1, (1+c)/2} / z_{(1+c)/2} * sqrt(R / (R - 1))``: a percentile bootstrap
    over R refits is as narrow as a normal interval with the biased (1/R) variance; ``f``
    turns it into the Student-t interval of a mean of R values. 0 for R = 1 (no refit
    variance can be seen).

    Parameters
    ----------
    n_refits : int
        R >= 1.
    confidence : float
        The interval's level c in (0, 1).

    Returns
    -------
    float
    """
    if n_refits < 2:
        return 0.0
    from scipy.stats import norm, t  # imported on use: keeps `import interpretable_kd` fast

    q = (1.0 + confidence) / 2.0
    return float(t.ppf(q, n_refits - 1) / norm.ppf(q) * np.sqrt(n_refits / (n_refits - 1)))


def refit_bootstrap_ci(
    metric: Callable[..., Any],
    reference: Any,
    predictions: Any,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    stratify: Any = None,
    random_state: Any = None,
    bounds: tuple[float, float] | None = None,
) -> tuple[float, float]:
    """Interval of a metric over training randomness and rows: a nested bootstrap.

    ``predictions[r]`` is refit r's output on the same n rows (a crossed design: R
    refits x n rows), and the estimate is ``m = mean_r metric(reference, predictions[r])``.
    Each resample b draws R refits with replacement and, separately, n rows (within
    ``stratify`` groups), and records

        ``s_b = mean_r metric(reference[rows_b], predictions[r, rows_b])``
        ``      + f * (mean_{r in refits_b} metric(reference, predictions[r]) - m)``

    (the row part and the refit part of the nested resample; ``f`` =
    :func:`refit_factor` corrects the refit part for few refits). The interval is the
    percentile interval of ``s_b``. With R = 1 it is the plain row bootstrap of
    :func:`bootstrap_ci`.

    Parameters
    ----------
    metric : callable
        ``metric(reference_rows, prediction_rows) -> float``, e.g.
        :func:`~interpretable_kd.metrics.fidelity_score`.
    reference : array-like of shape (n_rows,)
        What every refit is compared with (the teacher's classes, or the true labels).
    predictions : array-like of shape (n_refits, n_rows)
        Each refit's predictions on the same rows.
    n_resamples : int >= 1
    confidence : float in (0, 1)
    stratify : array-like of shape (n_rows,), optional
        Row strata (e.g. the teacher's class).
    random_state : None, int or numpy Generator
    bounds : (float, float), optional
        The metric's range, e.g. (0, 1) for a share of rows: the refit correction
        ``f * (...)`` can push a resample past it, so the interval is clipped to it.

    Returns
    -------
    (low, high) : tuple of float
        (nan, nan) when every resample gives NaN.
    """
    owner = "refit_bootstrap_ci"
    n_resamples = check_number(n_resamples, "n_resamples", owner, integer=True, low=1)
    confidence = check_number(confidence, "confidence", owner, low=0.0, high=1.0, closed="neither")
    ref = _labels(reference, "reference", owner)
    preds = np.asarray(predictions)
    if preds.ndim != 2 or preds.shape[1] != len(ref) or preds.shape[0] == 0:
        raise InputError(
            f"{owner} needs predictions of shape (n_refits, {len(ref)}), one row of "
            f"predictions per refit on the reference's {len(ref)} rows; got shape "
            f"{preds.shape}. Stack the refits' predictions with np.vstack."
        )
    strata = None if stratify is None else _labels(stratify, "stratify", owner)
    if strata is not None:
        _same_length(owner, stratify=strata, reference=ref)
    rng = as_generator(random_state)
    n_refits, n = preds.shape
    rows = _bootstrap_indices(n, n_resamples, strata, rng)
    refits = rng.integers(0, n_refits, size=(n_resamples, n_refits))
    per_refit = np.array([float(metric(ref, p)) for p in preds])
    estimate = float(np.nanmean(per_refit)) if np.any(~np.isnan(per_refit)) else np.nan
    factor = refit_factor(n_refits, confidence)
    stats = np.empty(n_resamples)
    for b in range(n_resamples):
        row_part = np.nanmean([float(metric(ref[rows[b]], p[rows[b]])) for p in preds])
        refit_part = np.nanmean(per_refit[refits[b]]) - estimate if factor else 0.0
        stats[b] = row_part + factor * refit_part
    stats = stats[~np.isnan(stats)]
    if stats.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(stats, [tail, 1.0 - tail])
    if bounds is not None:
        low, high = np.clip([low, high], bounds[0], bounds[1])
    return float(low), float(high)
