"""Inputs of the "where not to trust the student" views: row ids, the rows in the user's
own units, segment columns, and the per-feature values the views are drawn against."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._validation import did_you_mean, format_items
from ..exceptions import InputError, InputTypeError

__all__ = ["check_display", "check_row_ids", "check_segments", "view_matrix"]


def check_row_ids(row_ids: Any, n_rows: int, owner: str) -> np.ndarray | None:
    """The id of each compared row, checked.

    Parameters
    ----------
    row_ids : array-like of shape (n_rows,) or None
        One id per row of X (e.g. the values of an id column kept out of the features).
    n_rows : int
        Rows of X.
    owner : str
        Who is asking, for the error messages.

    Returns
    -------
    ndarray of shape (n_rows,) or None
        The ids (None stays None: rows are then named by position).

    Raises
    ------
    InputError
        A wrong length or duplicated ids.
    """
    if row_ids is None:
        return None
    ids = np.asarray(row_ids.to_numpy() if isinstance(row_ids, pd.Series) else row_ids)
    if ids.ndim != 1 or ids.shape[0] != n_rows:
        raise InputError(
            f"{owner} needs row_ids with one id per row of X ({n_rows} rows); got shape "
            f"{ids.shape}. Pass the id column of the same rows, e.g. frame['ID'].loc[X.index]."
        )
    values, counts = np.unique(ids.astype(str), return_counts=True)
    if (counts > 1).any():
        raise InputError(
            f"{owner} needs unique row_ids; got duplicates "
            f"{format_items(values[counts > 1].tolist())}. Pass a column that identifies "
            "each row once, or leave row_ids=None to number rows by position."
        )
    return ids


def check_display(X_display: Any, X_arr: np.ndarray, names: list[str], owner: str) -> pd.DataFrame:
    """The compared rows in the user's own units, as a DataFrame.

    Parameters
    ----------
    X_display : DataFrame or array-like of shape (n_rows, n_columns) or None
        The raw rows (before scaling and one-hot encoding), in the row order of X;
        None: X itself.
    X_arr : ndarray of shape (n_rows, n_features)
        X as the models see it.
    names : list of str
        X's feature names.
    owner : str
        Who is asking, for the error message.

    Returns
    -------
    DataFrame of shape (n_rows, n_columns)
        With a fresh 0..n_rows-1 index; an array gets X's names when it has as many
        columns, else ``x0, x1, ...``.

    Raises
    ------
    InputError
        A different number of rows than X.
    """
    if X_display is None:
        return pd.DataFrame(X_arr, columns=names)
    if isinstance(X_display, pd.DataFrame):
        frame = X_display.reset_index(drop=True)
        frame.columns = [str(c) for c in frame.columns]
    else:
        values = np.asarray(X_display)
        if values.ndim != 2:
            raise InputError(
                f"{owner} needs X_display as a 2-d table (n_rows, n_columns); got shape "
                f"{values.shape}. Pass the raw rows as a DataFrame."
            )
        columns = (
            names if values.shape[1] == len(names) else [f"x{j}" for j in range(values.shape[1])]
        )
        frame = pd.DataFrame(values, columns=columns)
    if frame.shape[0] != X_arr.shape[0]:
        raise InputError(
            f"{owner} needs X_display with the same rows as X ({X_arr.shape[0]} rows); got "
            f"{frame.shape[0]} rows. Pass the raw (unscaled) version of exactly the "
            "compared rows, in the same order."
        )
    return frame


def check_segments(
    segments: Any, display: pd.DataFrame, n_rows: int, owner: str
) -> pd.DataFrame | None:
    """Segment columns (e.g. sex, race) as a DataFrame of labels, one row per row of X.

    Parameters
    ----------
    segments : DataFrame, mapping of str to array-like, sequence of str or None
        The groups: a frame or dict of columns (one value per row of X; they need not
        be features), or names of columns of ``X_display``.
    display : DataFrame of shape (n_rows, n_columns)
        The rows in the user's units (where named columns are looked up).
    n_rows : int
        Rows of X.
    owner : str
        Who is asking, for the error messages.

    Returns
    -------
    DataFrame of shape (n_rows, n_segments) or None
        Fresh 0..n_rows-1 index; None when ``segments`` is None or empty.

    Raises
    ------
    InputError
        A column of another length, or a name that is not a column of ``X_display``.
    InputTypeError
        Anything else than the types above.
    """
    if segments is None:
        return None
    if isinstance(segments, str):
        segments = [segments]
    if isinstance(segments, pd.Series):
        segments = segments.to_frame()
    if isinstance(segments, pd.DataFrame):
        frame = segments.reset_index(drop=True)
    elif isinstance(segments, Mapping):
        frame = pd.DataFrame(
            {
                str(k): np.asarray(v.to_numpy() if isinstance(v, pd.Series) else v)
                for k, v in segments.items()
            }
            if all(np.ndim(v) == 1 and len(v) == n_rows for v in segments.values())
            else _bad_lengths(segments, n_rows, owner)
        )
    elif isinstance(segments, Sequence) and all(isinstance(s, str) for s in segments):
        missing = [s for s in segments if s not in display.columns]
        if missing:
            raise InputError(
                f"{owner} got segments {format_items(missing)} that are not columns of "
                f"X_display ({format_items(list(display.columns), 8)})."
                f"{did_you_mean(missing[0], list(display.columns))} "
                "Pass X_display with those columns, or segments as a DataFrame."
            )
        frame = display[list(segments)]
    else:
        raise InputTypeError(
            f"{owner} needs segments as a DataFrame, a dict of column -> values or a list "
            f"of X_display column names; got {type(segments).__name__}."
        )
    if frame.shape[1] == 0:
        return None
    if frame.shape[0] != n_rows:
        raise InputError(
            f"{owner} needs segments with one value per row of X ({n_rows} rows); got "
            f"{frame.shape[0]} rows. Pass the segment columns of exactly the compared rows."
        )
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _bad_lengths(segments: Mapping[Any, Any], n_rows: int, owner: str) -> Any:
    """Raise the error for a dict of segment columns of the wrong length.

    Parameters
    ----------
    segments : mapping
        Name -> values.
    n_rows : int
        Rows of X.
    owner : str
        Who is asking.

    Raises
    ------
    InputError
        Always.
    """
    bad = {str(k): np.shape(v) for k, v in segments.items() if np.ndim(v) != 1 or len(v) != n_rows}
    raise InputError(
        f"{owner} needs each segment column with one value per row of X ({n_rows} rows); "
        f"got shapes {bad}. Pass the segment values of exactly the compared rows."
    )


def view_matrix(
    X_arr: np.ndarray, names: list[str], display: pd.DataFrame
) -> tuple[np.ndarray, list[bool]]:
    """Each feature's values in the user's units where they are known.

    A feature whose name is a numeric column of ``display`` takes that column (e.g. the
    unscaled "age"); any other (a one-hot column "sex=male", or no raw frame) keeps the
    values the model sees. Scaling is monotone per column, so bins and thresholds on these
    values select the same rows as on X.

    Parameters
    ----------
    X_arr : ndarray of shape (n_rows, n_features)
        X as the models see it.
    names : list of str
        Feature names.
    display : DataFrame of shape (n_rows, n_columns)
        The rows in the user's units.

    Returns
    -------
    values : ndarray of shape (n_rows, n_features)
        float64.
    raw : list of bool
        Per feature, whether its values came from ``display``.
    """
    values = X_arr.astype(np.float64, copy=True)
    raw = [False] * len(names)
    for j, name in enumerate(names):
        if name in display.columns:
            column = pd.to_numeric(display[name], errors="coerce").to_numpy(dtype=np.float64)
            if np.isfinite(column).all():
                values[:, j], raw[j] = column, True
    return values, raw
