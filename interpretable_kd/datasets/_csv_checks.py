"""Checks that keep a CSV file from being read wrong in silence (used by :mod:`.csv`).

:func:`check_columns` refuses mostly numeric text columns, thousands separators and
numbers beyond float32; :func:`_match_score_columns` matches a score file's columns to
the classes by name.
"""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .._validation import format_items
from ..exceptions import InputError

__all__ = [
    "FLOAT32_MAX",
    "MOSTLY_NUMERIC",
    "check_columns",
    "headerless_hint",
    "open_maybe_gzip",
    "read_parquet_frame",
]

_THOUSANDS = r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?"
#: A text column is "mostly numeric" when at least this share of its cells are numbers.
MOSTLY_NUMERIC = 0.8
#: Largest magnitude a feature may have: the students compute in float32.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_columns(
    frame: pd.DataFrame, path: Path, *, skip: Sequence[str] = (), thousands: str | None = None
) -> pd.DataFrame:
    """Refuse columns that would be read wrong in silence.

    * a text column whose cells are numbers except for a few (``?``, ``n/a``, ``NaN``):
      it would become one one-hot column per distinct number;
    * numbers written with thousands separators (``1,234``) when ``thousands`` is None;
    * numbers beyond float32 (|x| > 3.4e38, or infinite).

    Parameters
    ----------
    frame : pandas.DataFrame of shape (n_rows, n_columns)
        As read by :func:`read_csv`.
    path : pathlib.Path
        The file, for messages.
    skip : sequence of str, default=()
        Columns not checked (the target).
    thousands : str or None, default=None
        The thousands separator the file was read with.

    Returns
    -------
    pandas.DataFrame
        ``frame`` (unchanged).

    Raises
    ------
    InputError
        Naming the column, the offending values and the option that fixes it.
    """
    for name in frame.columns:
        if name in skip:
            continue
        column = frame[name]
        if pd.api.types.is_bool_dtype(column):
            continue
        if pd.api.types.is_numeric_dtype(column):
            values = column.to_numpy(dtype=np.float64, na_value=np.nan)
            finite = values[~np.isnan(values)]
            if finite.size and np.abs(finite).max() > FLOAT32_MAX:
                raise InputError(
                    f"Column {str(name)!r} of {str(path)!r} has values up to "
                    f"{np.abs(finite).max():g} in magnitude, beyond float32 (3.4e38), in "
                    "which the models compute. Rescale the column (e.g. log or divide) or "
                    "drop it."
                )
            continue
        cells = column.dropna().astype(str)
        if cells.empty:
            continue
        numbers = pd.to_numeric(cells, errors="coerce")
        parsed = numbers.notna()
        grouped = cells.str.strip().str.fullmatch(_THOUSANDS)
        if thousands is None and grouped.any() and (parsed | grouped).mean() >= MOSTLY_NUMERIC:
            examples = format_items(list(dict.fromkeys(cells[grouped]))[:3])
            raise InputError(
                f"Column {str(name)!r} of {str(path)!r} holds numbers with thousands "
                f"separators ({examples}); read as text they would become categories. "
                "Pass --thousands ',' to read them as numbers."
            )
        if parsed.all() or parsed.mean() < MOSTLY_NUMERIC:
            continue
        bad = cells[~parsed]
        counts = bad.value_counts()
        shown = ", ".join(f"{value!r} ({n}x)" for value, n in counts.head(5).items())
        more = f" and {len(counts) - 5} more" if len(counts) > 5 else ""
        hint = ",".join(str(v) for v in counts.index[:5])
        raise InputError(
            f"Column {str(name)!r} of {str(path)!r} holds numbers except in {len(bad)} of "
            f"{len(cells)} cells: {shown}{more}. If these mean 'missing', pass "
            f"--na-values '{hint}'; otherwise fix those cells."
        )
    return frame


def _match_score_columns(table: pd.DataFrame, classes: np.ndarray, spec: str) -> pd.DataFrame:
    """Put the columns of a score file in class order, matched by name.

    A file with one column per class must name every column after its class; one
    column named after the first class of a binary target is turned into the
    probability of the second (``1 - p``).

    Parameters
    ----------
    table : pandas.DataFrame of shape (n_rows, n_columns)
        The score file as read.
    classes : ndarray of shape (n_classes,)
        Sorted labels.
    spec : str
        ``--teacher-scores``, for messages.

    Returns
    -------
    pandas.DataFrame of shape (n_rows, n_classes) or (n_rows, 1)

    Raises
    ------
    InputError
        Several columns that are not exactly the class names.
    """
    names = [str(c) for c in table.columns]
    wanted = [str(c) for c in classes]
    table = table.set_axis(names, axis=1)
    if table.shape[1] == 1:
        if len(wanted) == 2 and names[0] == wanted[0]:
            return 1.0 - pd.to_numeric(table[names[0]], errors="coerce").to_frame(wanted[1])
        return table
    if sorted(names) != sorted(wanted):
        raise InputError(
            f"--teacher-scores {spec!r} has columns {format_items(names, 6)}, but the classes "
            f"of the target are {format_items(wanted, 6)}; columns are matched to classes by "
            "name, never by position. Name each column after its class."
        )
    return table[wanted]


#: A column name that reads as a number (pandas adds ".1", ".2" to repeated names).
_NUMBER_NAME = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?(\.\d+)?\s*$")


def headerless_hint(columns: Iterable[object]) -> str:
    """A hint when a file's "column names" look like a row of data (no header line).

    Parameters
    ----------
    columns : iterable
        The names pandas read from the first line.

    Returns
    -------
    str
        ``" The first line looks like data ..."`` when all names but at most one (a
        text label) are numbers, else ``""``.
    """
    names = [str(c) for c in columns]
    numbers = sum(bool(_NUMBER_NAME.match(name)) for name in names)
    if not names or numbers < max(1, len(names) - 1):
        return ""
    return (
        f" The first line ({format_items(names, 4)}) looks like data, not column names: "
        "the file seems to have no header. Add a first line naming the columns, e.g. "
        "`sed -i '1i x1,x2,label' FILE.csv`."
    )


def open_maybe_gzip(path: Path) -> io.BufferedIOBase:
    """Open a file for reading bytes, decompressing it when its name ends in ``.gz``.

    Parameters
    ----------
    path : pathlib.Path

    Returns
    -------
    io.BufferedIOBase
        A binary file object (a ``gzip.GzipFile`` for ``.gz``).
    """
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def read_parquet_frame(path: Path, what: str) -> pd.DataFrame:
    """Read a whole Parquet file (or directory of them) into memory (``--engine memory``).

    Parameters
    ----------
    path : pathlib.Path
    what : str
        How messages name the file, e.g. ``"--data"``.

    Returns
    -------
    pandas.DataFrame of shape (n_rows, n_columns)
        String column names, at least one row.

    Raises
    ------
    InputError
        pyarrow missing, an unreadable file, or no rows.
    """
    try:
        import pyarrow  # noqa: F401  (pandas reads Parquet through it)
    except ImportError:
        raise InputError(
            f"{what} {str(path)!r} is a Parquet file, which needs pyarrow: "
            'pip install "interpretable-kd[ray]" (or pyarrow), or pass a CSV file.'
        ) from None
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{what} {str(path)!r} is not a readable Parquet file: {first}") from exc
    if frame.shape[0] == 0:
        raise InputError(f"{what} {str(path)!r} has no rows.")
    frame.columns = [str(c) for c in frame.columns]
    return frame.reset_index(drop=True)
