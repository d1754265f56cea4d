"""Input checks and resampling shared by the comparison's steps."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .. import metrics
from .._validation import check_labels_known, format_items
from ..exceptions import InputError

__all__ = [
    "Bootstrap",
    "check_class_names",
    "check_features",
    "check_student_names",
    "check_y",
    "take_rows",
]


class Bootstrap:
    """Percentile bootstrap intervals of means, all with one seed.

    Parameters
    ----------
    n_resamples : int
        Resamples per interval; 0 gives NaN intervals.
    random_state : int
        The seed of every interval (each interval restarts from it).
    """

    def __init__(self, n_resamples: int, random_state: int) -> None:
        self.n_resamples = n_resamples
        self.random_state = random_state

    def mean_ci(self, values: np.ndarray, strata: np.ndarray | None = None) -> tuple[float, float]:
        """The 95% interval of ``values.mean()``.

        Parameters
        ----------
        values : ndarray of shape (n,)
            The per-row values whose mean is estimated.
        strata : ndarray of shape (n,) or None
            Resample within these groups (keeps each group's size).

        Returns
        -------
        tuple of float
            ``(low, high)``; ``(nan, nan)`` without resamples or values.
        """
        if self.n_resamples == 0 or values.size == 0:
            return (float("nan"), float("nan"))
        low, high = metrics.bootstrap_ci(
            np.mean,
            values,
            n_resamples=self.n_resamples,
            stratify=strata,
            random_state=self.random_state,
        )
        return (float(low), float(high))


def check_features(
    X: Any, feature_names: list[str] | None, owner: str
) -> tuple[np.ndarray, list[str]]:
    """X as a finite float64 matrix, and one name per column.

    Parameters
    ----------
    X : array-like or DataFrame of shape (n_rows, n_features)
        Numeric features.
    feature_names : list of str or None
        Names to use; default: the DataFrame's columns, else ``x0, x1, ...``.
    owner : str
        Who is asking, for the error messages.

    Returns
    -------
    X_arr : ndarray of shape (n_rows, n_features)
        float64 copy or view of X.
    names : list of str
        One name per column.

    Raises
    ------
    InputError
        Non-numeric columns, a wrong shape, NaN or infinite values, or a wrong number of
        names.
    """
    if isinstance(X, pd.DataFrame):
        columns = [str(c) for c in X.columns]
        try:
            X_arr = X.to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"{owner} needs numeric features; encode categorical columns first, for "
                "example with interpretable_kd.datasets.TabularPreprocessor."
            ) from exc
    else:
        X_arr = np.asarray(X, dtype=np.float64)
        columns = [f"x{j}" for j in range(X_arr.shape[1])] if X_arr.ndim == 2 else []
    if X_arr.ndim != 2 or X_arr.shape[0] == 0:
        raise InputError(
            f"{owner} needs X as a non-empty 2-d array (n_rows, n_features); got shape "
            f"{X_arr.shape}."
        )
    if not np.isfinite(X_arr).all():
        raise InputError(f"{owner} got X with NaN or infinite values; clean or impute them first.")
    names = list(feature_names) if feature_names is not None else columns
    if len(names) != X_arr.shape[1]:
        raise InputError(
            f"{owner} got {len(names)} feature_names for {X_arr.shape[1]} features: "
            f"{format_items(names)}. Pass one name per column of X."
        )
    return X_arr, [str(n) for n in names]


def check_class_names(class_names: list[str] | None, classes: np.ndarray, owner: str) -> list[str]:
    """One display name per teacher class.

    Parameters
    ----------
    class_names : list of str or None
        Names to use; default: ``str`` of each class label.
    classes : ndarray of shape (n_classes,)
        The teacher's class labels.
    owner : str
        Who is asking, for the error message.

    Returns
    -------
    list of str
        ``n_classes`` names.

    Raises
    ------
    InputError
        A wrong number of names, or two classes with the same name (after ``str``):
        the report would merge them.
    """
    if class_names is None:
        return [str(c) for c in classes]
    if len(class_names) != len(classes):
        raise InputError(
            f"{owner} got {len(class_names)} class_names for the teacher's {len(classes)} "
            f"classes {format_items(classes.tolist())}. Pass one name per class."
        )
    names = [str(c) for c in class_names]
    repeated = _repeated(names)
    if repeated:
        raise InputError(
            f"{owner} got class_names with repeated names {format_items(repeated)}; the "
            "report would show two classes under one name. Pass a distinct name per class."
        )
    return names


def _repeated(names: list[str]) -> list[str]:
    """The names that occur more than once, in order of first occurrence."""
    seen: dict[str, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    return [name for name, count in seen.items() if count > 1]


def check_student_names(students: Any, owner: str) -> None:
    """Refuse student names that become the same text in the report.

    The report keys students by ``str(name)``: ``1`` and ``'1'`` would collapse into one
    entry and one student would silently vanish.

    Parameters
    ----------
    students : mapping
        Name -> fitted student.
    owner : str
        Who is asking, for the error message.

    Raises
    ------
    InputError
        Two keys with the same ``str``.
    """
    keys = list(students)
    texts = [str(k) for k in keys]
    repeated = _repeated(texts)
    if repeated:
        clash = [repr(k) for k in keys if str(k) == repeated[0]]
        raise InputError(
            f"{owner} got students whose names {' and '.join(clash)} read the same as text "
            f"('{repeated[0]}'); the report would keep only one of them. Give each student "
            "a distinct string name."
        )


def check_y(y: Any, n_rows: int, classes: np.ndarray, owner: str) -> np.ndarray | None:
    """True labels as indices into the teacher's classes.

    Parameters
    ----------
    y : array-like of shape (n_rows,) or None
        Labels in the teacher's label space.
    n_rows : int
        Rows of X.
    classes : ndarray of shape (n_classes,)
        The teacher's class labels.
    owner : str
        Who is asking, for the error messages.

    Returns
    -------
    ndarray of shape (n_rows,) or None
        int64 class indices; None when y is None.

    Raises
    ------
    InputError
        A wrong shape or an unknown label.
    """
    if y is None:
        return None
    y_arr = np.asarray(y)
    if y_arr.shape != (n_rows,):
        raise InputError(
            f"{owner} needs y of shape ({n_rows},), one label per row of X; got "
            f"shape {y_arr.shape}."
        )
    return check_labels_known(y_arr, classes, owner)


def take_rows(X: Any, index: np.ndarray) -> Any:
    """Rows ``index`` of X, keeping a DataFrame a DataFrame.

    Parameters
    ----------
    X : array-like or DataFrame of shape (n_rows, n_features)
        The data.
    index : ndarray of int
        Row positions.

    Returns
    -------
    DataFrame or ndarray of shape (len(index), n_features)
    """
    return X.iloc[index] if isinstance(X, pd.DataFrame) else np.asarray(X)[index]
