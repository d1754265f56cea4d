"""The roles of a CSV file's columns: features, row id, dropped, segments, protected.

:func:`assign_columns` is how ``interpretable-kd report`` reads ``--id-column``,
``--drop``, ``--segment-columns`` and ``--protected``; every unknown or contradictory
column raises one :class:`~interpretable_kd.exceptions.InputError` naming the flag, the
column and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .._validation import did_you_mean, format_items
from ..exceptions import InputError

__all__ = ["ColumnRoles", "assign_columns"]

#: The header is line 1 of a CSV file, so data row i (from 0) is on line i + 2.
FIRST_DATA_LINE = 2


@dataclass(frozen=True, eq=False)
class ColumnRoles:
    """A labelled table's columns, sorted by role.

    Attributes
    ----------
    features : pandas.DataFrame of shape (n_rows, n_features)
        The raw columns the models see (not the id, not the dropped ones).
    row_ids : ndarray of shape (n_rows,)
        Each row's id: the ``--id-column`` values, or the row's line number in the file.
    id_column : str or None
        The id column's name, or None when ids are line numbers.
    segments : pandas.DataFrame of shape (n_rows, n_segments) or None
        The ``--segment-columns`` values (features or not), or None.
    protected : list of str
        The ``--protected`` columns.
    checked : pandas.DataFrame of shape (n_rows, n_checked)
        What the data warnings look at: the features, segment and protected columns.
    """

    features: pd.DataFrame
    row_ids: np.ndarray
    id_column: str | None
    segments: pd.DataFrame | None
    protected: list[str]
    checked: pd.DataFrame


def _check_known(flag: str, names: Sequence[str], columns: list[str], path: Path) -> None:
    """Refuse a name that is not a column of the file.

    Parameters
    ----------
    flag : str
        The command-line flag, for the message.
    names : sequence of str
    columns : list of str
        The file's columns (target and score column excluded).
    path : pathlib.Path

    Returns
    -------
    None
    """
    for name in names:
        if name not in columns:
            raise InputError(
                f"{flag} {name!r} is not a column of {str(path)!r} (besides the target and "
                f"score columns); its columns are {format_items(columns, 8)}."
                f"{did_you_mean(name, columns)}"
            )


def assign_columns(
    table: pd.DataFrame,
    path: Path,
    *,
    rows: np.ndarray | None = None,
    id_column: str | None = None,
    drop: Sequence[str] = (),
    segments: Sequence[str] = (),
    protected: Sequence[str] = (),
) -> ColumnRoles:
    """Split the raw non-target columns of a CSV file by role.

    Parameters
    ----------
    table : pandas.DataFrame of shape (n_rows, n_columns)
        The labelled rows' raw columns (``LabelledTable.features``).
    path : pathlib.Path
        The file, for messages.
    rows : ndarray of int, shape (n_rows,) or None
        Each row's position among the file's data rows (``LabelledTable.rows``); the
        default row id is ``rows + 2``, its line number. None: 0..n_rows-1.
    id_column : str or None
        ``--id-column``: unique, no missing value; never a feature.
    drop : sequence of str
        ``--drop``: never features.
    segments : sequence of str
        ``--segment-columns``: features unless also dropped.
    protected : sequence of str
        ``--protected``: each a feature or a segment column.

    Returns
    -------
    ColumnRoles

    Raises
    ------
    InputError
        An unknown column (with a "did you mean"), an id column with repeated or missing
        values, a protected column that is neither a feature nor a segment, or no feature
        left.
    """
    columns = [str(c) for c in table.columns]
    _check_known("--id-column", [id_column] if id_column is not None else [], columns, path)
    _check_known("--drop", drop, columns, path)
    _check_known("--segment-columns", segments, columns, path)
    _check_known("--protected", protected, columns, path)
    if id_column is not None:
        ids = table[id_column]
        repeated = ids[ids.duplicated()].astype(str).unique().tolist()
        if ids.isna().any() or repeated:
            what = f"repeats {format_items(repeated)}" if repeated else "has missing values"
            raise InputError(
                f"--id-column {id_column!r} of {str(path)!r} {what}; an id names one row. "
                "Pick a column with one distinct value per row, or leave --id-column out "
                "to name rows by their line number."
            )
        row_ids = ids.to_numpy()
    else:
        positions = np.arange(len(table)) if rows is None else np.asarray(rows)
        row_ids = positions.astype(np.int64) + FIRST_DATA_LINE
    removed = {*drop, *([id_column] if id_column is not None else [])}
    kept = [c for c in columns if c not in removed]
    if not kept:
        raise InputError(
            f"--drop and --id-column leave no feature column of {str(path)!r}; keep at least "
            "one column besides the target."
        )
    stray = [c for c in protected if c not in kept and c not in segments]
    if stray:
        raise InputError(
            f"--protected {stray[0]!r} is neither a feature (it is dropped) nor a segment "
            "column, so the report cannot say anything about it; add it to "
            f"--segment-columns (e.g. --segment-columns {stray[0]}) or stop dropping it."
        )
    segment_frame = table[list(segments)].reset_index(drop=True) if segments else None
    features = table[kept].reset_index(drop=True)
    extra = [c for c in dict.fromkeys([*segments, *protected]) if c not in kept]
    checked = pd.concat([features, table[extra].reset_index(drop=True)], axis=1)
    return ColumnRoles(
        features=features,
        row_ids=row_ids,
        id_column=id_column,
        segments=segment_frame,
        protected=list(protected),
        checked=checked,
    )
