"""Agreement, distance and calibration metrics, and bootstrap confidence intervals.

Pure NumPy: arrays in, numbers out, no models. Conventions:

* label arrays (``teacher_pred``, ``student_pred``) have shape (n_samples,);
* probability arrays (``p_teacher``, ``proba``) have shape (n_samples, n_classes), one
  distribution per row (each row non-negative and summing to 1 within 1e-3);
* the reference (teacher, truth) comes first, as in ``accuracy_score(y_true, y_pred)``;
* ``*_score`` is higher-is-better; divergences, distances and ``*_error`` are lower-is-better.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, Literal

import numpy as np

from ._defaults import PROBA_SUM_TOLERANCE
from ._validation import check_choice, check_number, format_items
from .exceptions import InputError, InputTypeError

__all__ = [
    "agreement_matrix",
    "bootstrap_ci",
    "expected_calibration_error",
    "fidelity_score",
    "js_distance",
    "kl_divergence",
    "per_class_fidelity",
    "total_variation",
]


# --------------------------------------------------------------------------- helpers


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


def _label_pair(teacher_pred: Any, student_pred: Any, owner: str) -> tuple[np.ndarray, np.ndarray]:
    """Validated teacher and student label arrays of the same length and kind of label."""
    teacher = _labels(teacher_pred, "teacher_pred", owner)
    student = _labels(student_pred, "student_pred", owner)
    _same_length(owner, teacher_pred=teacher, student_pred=student)
    numeric = [np.issubdtype(a.dtype, np.number) or a.dtype == bool for a in (teacher, student)]
    if numeric[0] != numeric[1]:
        raise InputError(
            f"{owner} got teacher_pred of dtype {teacher.dtype} and student_pred of dtype "
            f"{student.dtype}: one holds numbers, the other does not, so no label could ever "
            "match. Use the same labels for both, e.g. classes_[proba.argmax(axis=1)]."
        )
    return teacher, student


def _same_length(owner: str, **arrays: np.ndarray) -> int:
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise InputError(
            f"{owner} needs arrays with the same number of rows, but {shown}. Pass "
            "predictions for the same rows, in the same order."
        )
    return next(iter(lengths.values()))


def _proba(values: Any, name: str, owner: str) -> np.ndarray:
    """Validate a (n_samples, n_classes) probability array and return it as float64."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{owner} needs {name} as an array of numbers ({exc}).") from exc
    if array.ndim != 2:
        raise InputError(
            f"{owner} needs {name} of shape (n_samples, n_classes), one probability "
            f"distribution per row, but got an array of shape {array.shape}. For a binary "
            "positive-class probability p, pass np.column_stack([1 - p, p])."
        )
    if array.size == 0:
        raise InputError(
            f"{owner} got an empty {name} (shape {array.shape}); pass at least one row."
        )
    if not np.all(np.isfinite(array)):
        row = int(np.argwhere(~np.isfinite(array))[0, 0])
        raise InputError(
            f"{owner} got non-finite values (NaN or inf) in {name}, first at row {row}. "
            "Check the model that produced these probabilities."
        )
    if np.any(array < -PROBA_SUM_TOLERANCE):
        row = int(np.argwhere(array < -PROBA_SUM_TOLERANCE)[0, 0])
        raise InputError(
            f"{owner} got negative values in {name}, first at row {row} ({array[row].min():.3g}). "
            "Probabilities must be in [0, 1]. Did you pass logits? Convert them with "
            "scipy.special.softmax(logits, axis=1)."
        )
    deviation = np.abs(array.sum(axis=1) - 1.0)
    if np.any(deviation > PROBA_SUM_TOLERANCE):
        row = int(np.argmax(deviation))
        raise InputError(
            f"{owner} needs the rows of {name} to sum to 1 (tolerance {PROBA_SUM_TOLERANCE:g}), "
            f"but the largest deviation is {deviation[row]:.3g} at row {row}. Did you pass "
            "logits? Convert them with scipy.special.softmax(logits, axis=1)."
        )
    return np.clip(array, 0.0, None)


def _proba_pair(
    p: Any, q: Any, names: tuple[str, str], owner: str
) -> tuple[np.ndarray, np.ndarray]:
    p_arr = _proba(p, names[0], owner)
    q_arr = _proba(q, names[1], owner)
    if p_arr.shape != q_arr.shape:
        raise InputError(
            f"{owner} needs {names[0]} and {names[1]} of the same shape (n_samples, n_classes), "
            f"but got {p_arr.shape} and {q_arr.shape}. Pass probabilities for the same rows "
            "and the same classes, in the same order."
        )
    return p_arr, q_arr


def _reduce(per_row: np.ndarray, keep_rows: bool) -> np.ndarray | float:
    return per_row if keep_rows else float(per_row.mean())


def _label_list(labels: Any, observed: Sequence[np.ndarray], owner: str) -> list[Any]:
    if labels is None:
        return np.unique(np.concatenate([np.asarray(a) for a in observed])).tolist()
    label_list = np.asarray(labels).tolist()
    if not isinstance(label_list, list) or len(label_list) == 0:
        raise InputError(f"{owner} got labels={labels!r}; pass a non-empty list of class labels.")
    if len(set(label_list)) != len(label_list):
        raise InputError(f"{owner} got repeated values in labels: {format_items(label_list)}.")
    return label_list


# --------------------------------------------------------------------------- labels


def fidelity_score(teacher_pred: Any, student_pred: Any) -> float:
    """Share of rows on which the student predicts the teacher's class.

    ``fidelity = (1/n) * sum_i [teacher_pred_i == student_pred_i]``, in [0, 1].

    Parameters
    ----------
    teacher_pred, student_pred : array-like of shape (n_samples,)
        Predicted class labels of the teacher and of the student for the same rows.

    Returns
    -------
    float
        The fidelity, in [0, 1].
    """
    owner = "fidelity_score"
    teacher, student = _label_pair(teacher_pred, student_pred, owner)
    return float(np.mean(teacher == student))


def per_class_fidelity(
    teacher_pred: Any, student_pred: Any, labels: Sequence[Hashable] | None = None
) -> dict[Any, float]:
    """Fidelity among the rows where the teacher predicts each class.

    ``fidelity[c] = #{i : t_i = c and s_i = c} / #{i : t_i = c}``; NaN when the teacher
    never predicts ``c``.

    Parameters
    ----------
    teacher_pred, student_pred : array-like of shape (n_samples,)
    labels : sequence of labels, optional
        The classes to report, in this order. Default: the sorted union of the labels seen
        in either array.

    Returns
    -------
    dict
        label -> fidelity, ordered like ``labels``.
    """
    owner = "per_class_fidelity"
    teacher, student = _label_pair(teacher_pred, student_pred, owner)
    result: dict[Any, float] = {}
    for label in _label_list(labels, [teacher, student], owner):
        rows = teacher == label
        result[label] = float(np.mean(student[rows] == label)) if rows.any() else float("nan")
    return result


def agreement_matrix(
    teacher_pred: Any,
    student_pred: Any,
    labels: Sequence[Hashable] | None = None,
    normalize: Literal["teacher", "all"] | None = None,
) -> np.ndarray:
    """Counts of (teacher class, student class) pairs: a confusion matrix of the student
    against the teacher.

    ``M[a, b] = #{i : t_i = labels[a] and s_i = labels[b]}``. Its diagonal holds the
    agreements, so ``trace(M) / n`` is the fidelity.

    Parameters
    ----------
    teacher_pred, student_pred : array-like of shape (n_samples,)
    labels : sequence of labels, optional
        Row and column order. Default: the sorted union of the labels seen. Every label
        that occurs must be listed.
    normalize : {None, "teacher", "all"}
        None: integer counts. "teacher": each row divided by its sum (row ``a`` is then the
        distribution of student predictions where the teacher says ``labels[a]``; rows the
        teacher never predicts are NaN). "all": divided by ``n``, so the matrix sums to 1.

    Returns
    -------
    ndarray of shape (n_labels, n_labels)
        Rows are teacher classes, columns student classes.
    """
    owner = "agreement_matrix"
    check_choice(normalize, "normalize", owner, [None, "teacher", "all"])
    teacher, student = _label_pair(teacher_pred, student_pred, owner)
    n = len(teacher)
    label_list = _label_list(labels, [teacher, student], owner)
    index = {label: i for i, label in enumerate(label_list)}
    missing = sorted({*teacher.tolist(), *student.tolist()} - index.keys(), key=repr)
    if missing:
        raise InputError(
            f"{owner} got predictions with labels {format_items(missing)} that are not in "
            f"labels={format_items(label_list)}. Add them to labels, or leave labels=None."
        )
    t_idx = np.fromiter((index[v] for v in teacher.tolist()), dtype=np.int64, count=n)
    s_idx = np.fromiter((index[v] for v in student.tolist()), dtype=np.int64, count=n)
    k = len(label_list)
    counts = np.bincount(t_idx * k + s_idx, minlength=k * k).reshape(k, k)
    if normalize is None:
        return counts
    if normalize == "all":
        return counts / n
    row_sums = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(row_sums > 0, counts / np.maximum(row_sums, 1), np.nan)


# --------------------------------------------------------------------------- distributions


def kl_divergence(
    p_teacher: Any, p_student: Any, per_row: bool = False, eps: float = 1e-12
) -> np.ndarray | float:
    """Kullback–Leibler divergence KL(p_T || p_S), in nats (natural log).

    ``KL_i = sum_c p_T[i, c] * (log p_T[i, c] - log max(p_S[i, c], eps))``. Terms with
    ``p_T[i, c] == 0`` contribute 0; ``p_S`` is clipped at ``eps`` so that a student that
    gives probability 0 to a class the teacher allows has a large but finite divergence.
    KL >= 0 (up to rounding), and KL = 0 when the rows are equal.

    Parameters
    ----------
    p_teacher, p_student : array-like of shape (n_samples, n_classes)
    per_row : bool
        If True return the (n_samples,) array of per-row divergences, else their mean.
    eps : float
        Floor for ``p_student``, in (0, 1).

    Returns
    -------
    float or ndarray of shape (n_samples,)
        The mean divergence, or the per-row divergences when ``per_row``.
    """
    owner = "kl_divergence"
    eps = check_number(eps, "eps", owner, low=0.0, high=1.0, closed="neither")
    p, q = _proba_pair(p_teacher, p_student, ("p_teacher", "p_student"), owner)
    q = np.clip(q, eps, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1.0)) - np.log(q)), 0.0)
    return _reduce(np.maximum(terms.sum(axis=1), 0.0), per_row)


def _js_divergence_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    m = 0.5 * (p + q)

    def kl_to_m(a: np.ndarray) -> np.ndarray:
        safe_a = np.where(a > 0, a, 1.0)
        safe_m = np.where(a > 0, m, 1.0)  # m >= a / 2 > 0 wherever a > 0
        return np.sum(np.where(a > 0, a * np.log(safe_a / safe_m), 0.0), axis=1)

    return np.maximum(0.5 * kl_to_m(p) + 0.5 * kl_to_m(q), 0.0)


def js_distance(p: Any, q: Any, per_row: bool = False) -> np.ndarray | float:
    """Jensen–Shannon distance, the square root of the Jensen–Shannon divergence.

    ``M = (p + q) / 2``, ``JS = KL(p || M) / 2 + KL(q || M) / 2`` with the natural log
    (base e, as ``scipy.spatial.distance.jensenshannon`` with its default ``base=None``),
    and the distance is ``sqrt(JS)``. It is symmetric, a metric, and lies in
    ``[0, sqrt(ln 2)] ≈ [0, 0.8326]``; divide by ``sqrt(ln 2)`` for the base-2 value in
    [0, 1].

    Parameters
    ----------
    p, q : array-like of shape (n_samples, n_classes)
    per_row : bool
        If True return the (n_samples,) array of per-row distances, else their mean.

    Returns
    -------
    float or ndarray of shape (n_samples,)
        The mean distance, or the per-row distances when ``per_row``.
    """
    p_arr, q_arr = _proba_pair(p, q, ("p", "q"), "js_distance")
    return _reduce(np.sqrt(_js_divergence_rows(p_arr, q_arr)), per_row)


def total_variation(p: Any, q: Any, per_row: bool = False) -> np.ndarray | float:
    """Total variation distance ``TV_i = 0.5 * sum_c |p[i, c] - q[i, c]|``, in [0, 1].

    Parameters
    ----------
    p, q : array-like of shape (n_samples, n_classes)
    per_row : bool
        If True return the (n_samples,) array of per-row distances, else their mean.

    Returns
    -------
    float or ndarray of shape (n_samples,)
        The mean distance, or the per-row distances when ``per_row``.
    """
    p_arr, q_arr = _proba_pair(p, q, ("p", "q"), "total_variation")
    return _reduce(np.minimum(0.5 * np.abs(p_arr - q_arr).sum(axis=1), 1.0), per_row)


def expected_calibration_error(y_true_idx: Any, proba: Any, n_bins: int = 15) -> float:
    """Top-label expected calibration error with equal-width bins (Guo et al., 2017).

    With confidence ``c_i = max_k proba[i, k]`` and correctness
    ``a_i = [argmax_k proba[i, k] == y_true_idx[i]]``, rows go to bins
    ``B_m = ((m - 1) / M, m / M]``, m = 1..M (a confidence of exactly 0 goes to the first
    bin), and ``ECE = sum_m |B_m| / n * |mean_{B_m}(a) - mean_{B_m}(c)|``, in [0, 1].

    Parameters
    ----------
    y_true_idx : array-like of int of shape (n_samples,)
        True classes as column indices into ``proba`` (0 .. n_classes - 1).
    proba : array-like of shape (n_samples, n_classes)
    n_bins : int
        Number of equal-width bins M >= 1.

    Returns
    -------
    float
        The ECE, in [0, 1].
    """
    owner = "expected_calibration_error"
    n_bins = check_number(n_bins, "n_bins", owner, integer=True, low=1)
    y = _labels(y_true_idx, "y_true_idx", owner)
    p = _proba(proba, "proba", owner)
    _same_length(owner, y_true_idx=y, proba=p)
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= p.shape[1]:
        raise InputError(
            f"{owner} needs y_true_idx as integer column indices into proba (0 to "
            f"{p.shape[1] - 1}), but got values {format_items(np.unique(y).tolist())} of dtype "
            f"{y.dtype}. Map labels to indices first, e.g. np.searchsorted(classes, y)."
        )
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    bins = np.clip(np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    gap = np.bincount(bins, weights=correct, minlength=n_bins) - np.bincount(
        bins, weights=confidence, minlength=n_bins
    )
    # sum_m |B_m|/n * |acc_m - conf_m| = sum_m |sum_{B_m}(a - c)| / n
    return float(np.abs(gap[counts > 0]).sum() / len(y))


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
