"""Agreement, distance and calibration metrics, and bootstrap confidence intervals.

Headline agreement that cannot hide a class: :func:`majority_baseline` (what a constant
student scores), :func:`cohen_kappa` (agreement beyond chance), :func:`balanced_fidelity`
and :func:`worst_class_fidelity`. The bootstraps (:func:`bootstrap_ci` over rows,
:func:`refit_bootstrap_ci` over refits x rows) live in ``_resample`` and are re-exported.

Pure NumPy: arrays in, numbers out, no models. Conventions:

* label arrays (``teacher_pred``, ``student_pred``) have shape (n_samples,);
* probability arrays (``p_teacher``, ``proba``) have shape (n_samples, n_classes), one
  distribution per row (each row non-negative and summing to 1 within 1e-3);
* the reference (teacher, truth) comes first, as in ``accuracy_score(y_true, y_pred)``;
* ``*_score`` is higher-is-better; divergences, distances and ``*_error`` are lower-is-better.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, Literal

import numpy as np

from ._defaults import PROBA_SUM_TOLERANCE
from ._resample import _labels, _same_length, as_generator, bootstrap_ci, refit_bootstrap_ci
from ._validation import check_choice, check_number, format_items
from .exceptions import InputError

__all__ = [
    "agreement_matrix",
    "as_generator",
    "balanced_fidelity",
    "bootstrap_ci",
    "cohen_kappa",
    "expected_calibration_error",
    "fidelity_score",
    "js_distance",
    "kl_divergence",
    "majority_baseline",
    "per_class_fidelity",
    "refit_bootstrap_ci",
    "total_variation",
    "worst_class_fidelity",
]


# --------------------------------------------------------------------------- helpers


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


def majority_baseline(teacher_pred: Any) -> float:
    """Fidelity of a constant student that always predicts the teacher's most frequent class.

    ``baseline = max_c #{i : t_i = c} / n``. A student's fidelity means little unless it
    is well above this.

    Parameters
    ----------
    teacher_pred : array-like of shape (n_samples,)
        The teacher's predicted classes.

    Returns
    -------
    float
        In [1 / n_classes_seen, 1].
    """
    teacher = _labels(teacher_pred, "teacher_pred", "majority_baseline")
    _, counts = np.unique(teacher, return_counts=True)
    return float(counts.max() / len(teacher))


def cohen_kappa(teacher_pred: Any, student_pred: Any) -> float:
    """Cohen's kappa between the student's and the teacher's decisions.

    ``kappa = (p_o - p_e) / (1 - p_e)`` with ``p_o`` the fidelity and
    ``p_e = sum_c P(t = c) * P(s = c)`` the agreement expected by chance from the two
    label frequencies. 1: perfect agreement; 0: no better than chance (a constant student
    scores 0 whatever its fidelity); negative: worse than chance. When both models predict
    one and the same class on every row (``p_e = 1``) kappa is 1 if they agree, else 0.

    Parameters
    ----------
    teacher_pred, student_pred : array-like of shape (n_samples,)

    Returns
    -------
    float
        In [-1, 1].
    """
    teacher, student = _label_pair(teacher_pred, student_pred, "cohen_kappa")
    labels, inverse = np.unique(np.concatenate([teacher, student]), return_inverse=True)
    n = len(teacher)
    t_idx, s_idx = inverse[:n], inverse[n:]
    observed = float(np.mean(t_idx == s_idx))
    k = len(labels)
    expected = float(
        np.dot(np.bincount(t_idx, minlength=k), np.bincount(s_idx, minlength=k)) / n**2
    )
    if expected >= 1.0 - 1e-12:
        return 1.0 if observed == 1.0 else 0.0
    return (observed - expected) / (1.0 - expected)


def balanced_fidelity(
    teacher_pred: Any, student_pred: Any, labels: Sequence[Hashable] | None = None
) -> float:
    """Mean of the per-class fidelities over the classes the teacher predicts.

    ``balanced = mean_{c : teacher predicts c} fidelity[c]`` (see
    :func:`per_class_fidelity`): every class the teacher uses counts the same, however
    rare. A constant student scores ``1 / n_classes``.

    Parameters
    ----------
    teacher_pred, student_pred : array-like of shape (n_samples,)
    labels : sequence of labels, optional
        As in :func:`per_class_fidelity`; classes the teacher never predicts are left out.

    Returns
    -------
    float
        In [0, 1].
    """
    values = np.array(list(per_class_fidelity(teacher_pred, student_pred, labels).values()))
    return float(np.nanmean(values))


def worst_class_fidelity(
    teacher_pred: Any, student_pred: Any, labels: Sequence[Hashable] | None = None
) -> tuple[Any, float]:
    """The class the student serves worst and its fidelity.

    ``min_c fidelity[c]`` over the classes the teacher predicts (ties: the first in
    ``labels`` order).

    Parameters
    ----------
    teacher_pred, student_pred : array-like of shape (n_samples,)
    labels : sequence of labels, optional
        As in :func:`per_class_fidelity`.

    Returns
    -------
    (label, fidelity) : tuple
        The class label and its fidelity, in [0, 1].
    """
    per_class = per_class_fidelity(teacher_pred, student_pred, labels)
    seen = {label: value for label, value in per_class.items() if not np.isnan(value)}
    label = min(seen, key=lambda c: seen[c])
    return label, float(seen[label])


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
