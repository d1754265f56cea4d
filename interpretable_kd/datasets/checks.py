"""Warnings about a table's columns before a model is fitted on them.

:func:`data_warnings` returns plain sentences (the report and the CLI show them as they
are): id-like columns (a different value on every row, and monotone in row order, a run of
consecutive integers, or named like an id), near-constant columns, and the columns the
user marks as protected.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._validation import did_you_mean, format_items
from ..exceptions import InputError, InputTypeError

__all__ = ["NEAR_CONSTANT_SHARE", "data_warnings", "id_like_columns"]

#: A column whose most frequent value fills at least this share of the rows is near-constant.
NEAR_CONSTANT_SHARE = 0.99
#: Column names that read as row identifiers.
_ID_NAME = re.compile(r"(^|[_\W])(id|index|idx|row|key|uuid)$|^unnamed: ?0$", re.IGNORECASE)
#: More near-constant columns than this are listed in one sentence.
_MAX_LISTED = 3
#: Fewer rows than this: too few to call a column id-like from its values alone.
_MIN_ROWS = 20


def _is_id_like(column: pd.Series, name: str) -> bool:
    """Whether a column looks like a row identifier.

    Unique on every row, and one of: monotone in row order, integers forming one run of
    consecutive values, or a name such as ``id``, ``customer_id``, ``row``, ``index``.
    Continuous measurements are unique on every row too, so uniqueness alone is not
    enough; a numeric column must also hold integers.

    Parameters
    ----------
    column : Series
        The values (missing values make it not id-like).
    name : str
        The column's name.

    Returns
    -------
    bool
    """
    n = len(column)
    if n < 2 or column.isna().any() or column.nunique() != n:
        return False
    named = bool(_ID_NAME.search(name.strip()))
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = column.to_numpy(dtype=np.float64)
        if not np.all(values == np.round(values)):
            return False
        monotone = bool(np.all(np.diff(values) > 0) or np.all(np.diff(values) < 0))
        consecutive = values.max() - values.min() + 1 == n
        return named or (n >= _MIN_ROWS and (monotone or consecutive))
    return named or (
        n >= _MIN_ROWS and (column.is_monotonic_increasing or column.is_monotonic_decreasing)
    )


def id_like_columns(frame: pd.DataFrame) -> list[str]:
    """The columns of ``frame`` that look like row identifiers (see :func:`data_warnings`).

    Parameters
    ----------
    frame : DataFrame

    Returns
    -------
    list of str
    """
    return [str(c) for c in frame.columns if _is_id_like(frame[c], str(c))]


def data_warnings(
    frame: Any,
    *,
    protected: Sequence[str] | None = None,
    target: str | None = None,
    features: Sequence[str] | None = None,
    near_constant_share: float = NEAR_CONSTANT_SHARE,
) -> list[str]:
    """Sentences about columns an auditor should look at before trusting a model of them.

    * **id-like**: a different value on every row and monotone in row order, a run of
      consecutive integers, or named like an id: the teacher can learn row order instead
      of the task; keep it out of the features (the CLI's ``--id-column``).
    * **near-constant**: the most frequent value fills at least ``near_constant_share``
      of the rows; the column carries almost no information and its attributions are
      unreliable.
    * **protected**: each column named in ``protected``, and whether it is a feature.

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, n_columns)
        The table as read (features, and the target when ``target`` names it).
    protected : sequence of str or None
        Columns the user marks as protected (e.g. ``["race", "sex"]``).
    target : str or None
        The label column (never warned about).
    features : sequence of str or None
        The columns the model uses (default: every column but ``target``); says whether
        a protected column is one of them.
    near_constant_share : float
        Threshold of the near-constant rule, in (0.5, 1].

    Returns
    -------
    list of str
        One sentence per finding, in column order (protected columns last); empty when
        nothing was found.

    Raises
    ------
    InputTypeError
        ``frame`` is not a DataFrame.
    InputError
        ``protected`` names a column that is not in ``frame``, or the share is outside
        (0.5, 1].
    """
    if not isinstance(frame, pd.DataFrame):
        raise InputTypeError(
            "data_warnings needs frame as a pandas DataFrame (the table as read, with its "
            f"column names); got {type(frame).__name__}. Wrap an array with pd.DataFrame(X, "
            "columns=names)."
        )
    if not 0.5 < float(near_constant_share) <= 1.0:
        raise InputError(
            "The 'near_constant_share' parameter of data_warnings must be in (0.5, 1]; got "
            f"{near_constant_share!r}. Use e.g. 0.99 (the most frequent value on 99% of rows)."
        )
    columns = [str(c) for c in frame.columns]
    protected = [protected] if isinstance(protected, str) else list(protected or [])
    missing = [p for p in protected if p not in columns]
    if missing:
        raise InputError(
            f"data_warnings got protected columns {format_items(missing)} that are not in "
            f"the table ({format_items(columns, 8)}).{did_you_mean(missing[0], columns)} "
            "Name columns exactly as in the table's header."
        )
    out: list[str] = []
    constant: list[str] = []
    n = len(frame)
    for raw_name, name in zip(frame.columns, columns, strict=True):
        if name == target:
            continue
        column = frame[raw_name]
        if _is_id_like(column, name):
            out.append(
                f"Column {name!r} looks like a row id (a different value on each of the "
                f"{n} rows): a model can learn it instead of the task. Keep it out of the "
                "features (--id-column in the CLI, row_ids= in the API)."
            )
            continue
        counts = column.value_counts(dropna=False)
        if n and len(counts) and counts.iloc[0] / n >= near_constant_share:
            value = counts.index[0]
            constant.append(name)
            out.append(
                f"Column {name!r} is near-constant: {counts.iloc[0] / n:.1%} of the rows hold "
                f"{value!r}. It carries almost no information; consider dropping it."
            )
    if len(constant) > _MAX_LISTED:
        out = [m for m in out if " is near-constant: " not in m]
        out.append(
            f"{len(constant)} columns are near-constant (one value on at least "
            f"{near_constant_share:.0%} of the rows): {format_items(constant)}. They carry "
            "almost no information (often rare one-hot categories); consider dropping or "
            "merging them."
        )
    for name in protected:
        if name == target:
            used = "is the target"
        elif features is None or name in features:
            used = "is used as a feature"
        else:
            used = "is kept out of the features"
        out.append(
            f"Column {name!r} is marked protected and {used}: check the fidelity per group "
            "of it (segments=) and whether the teacher relies on it or on a proxy of it."
        )
    return out
