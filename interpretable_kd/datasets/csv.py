"""Reading a user's labelled CSV file, with every check and a message that says what to fix.

:func:`read_labelled_csv` is what ``interpretable-kd report`` reads ``--data``,
``--target`` and ``--teacher-scores`` with; its parts (:func:`read_csv`,
:func:`read_labels`, :func:`read_scores`) are usable alone. Every problem raises an
:class:`~interpretable_kd.exceptions.InputError` naming the file, the column and the fix.
"""

from __future__ import annotations

import difflib
import gzip
import io
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._validation import format_items
from ..exceptions import InputError, InterpretableKDWarning
from ._csv_checks import (
    _match_score_columns,
    check_columns,
    headerless_hint,
    open_maybe_gzip,
    read_parquet_frame,
)

__all__ = [
    "LabelledTable",
    "check_columns",
    "check_text",
    "read_csv",
    "read_labelled_csv",
    "read_labels",
    "read_scores",
    "warn_conflicting_scores",
]


@dataclass(frozen=True, eq=False)
class LabelledTable:
    """The labelled rows of a CSV file, split into features, labels and teacher scores.

    Attributes
    ----------
    features : pandas.DataFrame of shape (n_labelled, n_features)
        Raw feature columns (no target, no score column), index 0..n_labelled-1.
    y : ndarray of shape (n_labelled,)
        Labels: int64 when every value is a whole number, else str.
    classes : ndarray of shape (n_classes,)
        ``np.unique(y)``.
    scores : ndarray of shape (n_labelled,) or (n_labelled, n_classes), or None
        The teacher's probabilities, when ``teacher_scores`` was given.
    rows : ndarray of int, shape (n_labelled,) or None
        Each labelled row's position among the file's data rows (0 = the line after the
        header), so ``rows + 2`` is its line number when no cell spans lines.
    """

    features: pd.DataFrame
    y: np.ndarray
    classes: np.ndarray
    scores: np.ndarray | None
    rows: np.ndarray | None = None


def read_labelled_csv(
    path: Path,
    target: str,
    teacher_scores: str | None = None,
    *,
    na_values: Sequence[str] = (),
    thousands: str | None = None,
) -> LabelledTable:
    """Read ``path`` and keep the rows with a label in column ``target``.

    Only empty cells are missing (a label ``NA`` or ``None`` is a class), unless
    ``na_values`` names more missing markers. Labels are read as text.

    Parameters
    ----------
    path : pathlib.Path
        A UTF-8 CSV file with a header, gzip-compressed when its name ends in ``.gz``
        (or a stream such as ``/dev/stdin``).
    target : str
        The label column.
    teacher_scores : str or None, default=None
        A column of the file or a .csv/.npy file with the teacher's probabilities (see
        :func:`read_scores`); a score column is not a feature.
    na_values : sequence of str, default=()
        Cell texts that mean "missing" besides the empty cell (``--na-values``).
    thousands : str or None, default=None
        Thousands separator inside numbers (``--thousands ,``), or None.

    Returns
    -------
    LabelledTable

    Raises
    ------
    InputError
        Any problem with the file, the target, the scores, a mostly numeric column with a
        few non-numbers, numbers with thousands separators, values beyond float32, or no
        feature column left.
    """
    frame = read_csv(path, "--data", na_values=na_values, thousands=thousands, text=[target])
    if target not in frame.columns:
        close = difflib.get_close_matches(target, [str(c) for c in frame.columns], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise InputError(
            f"--target {target!r} is not a column of {str(path)!r}; its columns are "
            f"{format_items(frame.columns, 8)}.{hint}{headerless_hint(frame.columns)}"
        )
    frame = check_columns(frame, path, skip=[target], thousands=thousands)
    keep_series, y = read_labels(frame[target], path, target)
    keep = keep_series.to_numpy()
    classes = np.unique(y)
    scores = None
    drop = [target]
    if teacher_scores is not None:
        scores, column = read_scores(teacher_scores, frame, path, keep, classes)
        if column is not None:
            drop.append(column)
    features = frame.loc[keep].drop(columns=drop).reset_index(drop=True)
    if features.shape[1] == 0:
        raise InputError(f"{str(path)!r} has no feature columns besides the target {target!r}.")
    return LabelledTable(
        features=features, y=y, classes=classes, scores=scores, rows=np.flatnonzero(keep)
    )


def check_text(path: Path, what: str) -> None:
    """Refuse files with NUL bytes: binary data, or UTF-16 text, never a UTF-8 CSV.

    Parameters
    ----------
    path : pathlib.Path
        An existing regular file; read in 1 MiB chunks (decompressed when it ends in
        ``.gz``).
    what : str
        How messages name the file, e.g. ``"--data"``.

    Returns
    -------
    None

    Raises
    ------
    InputError
        At the first NUL byte, with its offset.
    """
    try:
        with open_maybe_gzip(path) as handle:
            offset = 0
            while chunk := handle.read(1 << 20):
                _check_nul(chunk, offset, path, what)
                offset += len(chunk)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise InputError(
            f"{what} {str(path)!r} ends in .gz but is not a readable gzip file ({exc}); "
            "compress it with `gzip FILE.csv`, or rename it if it is plain text."
        ) from exc


def _check_nul(chunk: bytes, offset: int, path: Path, what: str) -> None:
    """Raise at the first NUL byte of ``chunk`` (which starts at byte ``offset``).

    Parameters
    ----------
    chunk : bytes
    offset : int
    path : pathlib.Path
    what : str

    Returns
    -------
    None
    """
    if b"\x00" in chunk:
        raise InputError(
            f"{what} {str(path)!r} holds a NUL byte (at byte {offset + chunk.index(0)}): "
            "it is binary or not UTF-8 text (UTF-16?). Save it as a UTF-8 CSV file."
        )


def read_csv(
    path: Path,
    what: str,
    *,
    na_values: Sequence[str] = (),
    thousands: str | None = None,
    text: Sequence[str] = (),
) -> pd.DataFrame:
    """Read a UTF-8 CSV file (a BOM is allowed; ``.gz`` compressed or not; a ``.parquet``
    file is read whole with pyarrow) with every check a user's file needs.

    Only empty cells (and the texts in ``na_values``) are missing: ``NA``, ``None`` or
    ``null`` are ordinary values. A stream (``/dev/stdin``, a pipe) is read once, into
    memory, and then checked and parsed.

    Parameters
    ----------
    path : pathlib.Path
        The file.
    what : str
        How messages name the file, e.g. ``"--data"``.
    na_values : sequence of str, default=()
        More cell texts that mean "missing".
    thousands : str or None, default=None
        Thousands separator in numbers.
    text : sequence of str, default=()
        Columns read as text whatever they hold (the target).

    Returns
    -------
    pandas.DataFrame of shape (n_rows, n_columns)
        At least one row; column names unique.

    Raises
    ------
    InputError
        A missing file, a directory, binary or non-UTF-8 content, an empty file, a
        malformed CSV, a header without rows, or duplicate column names.
    """
    if not path.exists():
        raise InputError(f"{what} {str(path)!r}: no such file.")
    if path.suffix.lower() == ".parquet":
        return read_parquet_frame(path, what)
    if path.is_dir():
        raise InputError(f"{what} {str(path)!r} is a directory; pass a CSV file.")
    source: Path | io.BytesIO
    if path.is_file():
        check_text(path, what)
        source = path
    else:  # a pipe or a device: it can be read only once
        with open(path, "rb") as handle:
            content = handle.read()
        _check_nul(content, 0, path, what)
        source = io.BytesIO(content)
    options: dict[str, Any] = {
        "encoding": "utf-8-sig",
        "keep_default_na": False,
        "na_values": ["", *na_values],
        "thousands": thousands,
    }
    try:
        frame = pd.read_csv(source, dtype={name: str for name in text}, **options)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{what} {str(path)!r} is not UTF-8 text (byte {exc.start}: {exc.reason}). "
            "Save it as UTF-8, e.g. `iconv -f latin1 -t utf-8`."
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{what} {str(path)!r} is empty: no header, no rows.") from exc
    except (pd.errors.ParserError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise InputError(f"{what} {str(path)!r} is not a readable CSV file: {first}") from exc
    if frame.shape[0] == 0:
        raise InputError(f"{what} {str(path)!r} has a header but no rows.")
    if isinstance(source, io.BytesIO):
        source.seek(0)
    header = pd.read_csv(source, encoding="utf-8-sig", header=None, nrows=1, dtype=str)
    names = [str(name) for name in header.iloc[0].tolist() if isinstance(name, str)]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InputError(
            f"{what} {str(path)!r} has duplicate column names {format_items(duplicates)}; "
            "give every column its own name: rename the repeats in the header (e.g. "
            f"{duplicates[0] + '_2'!r}), or read the file with pandas.read_csv, which "
            f"names them {duplicates[0] + '.1'!r}, and save it again."
        )
    return frame


def read_labels(series: pd.Series, path: Path, target: str) -> tuple[pd.Series, np.ndarray]:
    """Rows with a label, and the labels (integers stay integers, the rest strings).

    Parameters
    ----------
    series : pandas.Series of shape (n_rows,)
        The target column as read.
    path : pathlib.Path
        The CSV file, for messages.
    target : str
        The target column's name, for messages.

    Returns
    -------
    keep : pandas.Series of bool, shape (n_rows,)
        Rows with a label (index of ``series``).
    y : ndarray of shape (n_labelled,)
        Their labels: int64 when every value is a whole number, else str.

    Raises
    ------
    InputError
        No labels, a single class, a continuous-looking column (more than
        max(20, n_labelled // 5) distinct values) or a class with a single row.
    """
    keep = series.notna().to_numpy()
    if not keep.any():
        raise InputError(f"Column {target!r} of {str(path)!r} has no values: nothing to learn.")
    y = series[keep]
    if pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y):
        values = y.to_numpy(dtype=np.float64)
        if np.all(values == np.round(values)):
            y = y.astype(np.int64)
    else:
        y = y.astype(str)
        if y.str.fullmatch(r"[+-]?\d{1,18}(?:\.0*)?").all():  # whole numbers stay numbers
            y = y.astype(np.float64).astype(np.int64)
    classes, counts = np.unique(y.to_numpy(), return_counts=True)
    if len(classes) < 2:
        raise InputError(
            f"Column {target!r} of {str(path)!r} has a single class {classes[0]!r}; a "
            "classifier needs at least two."
        )
    if len(classes) > max(20, len(y) // 5):
        raise InputError(
            f"Column {target!r} of {str(path)!r} has {len(classes)} distinct values in "
            f"{len(y)} rows; it looks continuous, but interpretable-kd distils classifiers. "
            "Pass a column of class labels."
        )
    rare = [c for c, n in zip(classes, counts, strict=True) if n < 2]
    if rare:
        raise InputError(
            f"Column {target!r} of {str(path)!r} has classes with a single row "
            f"({format_items(rare)}); each class needs at least 2 rows to be split into "
            "training and test rows. Drop or merge them."
        )
    return pd.Series(keep, index=series.index), y.to_numpy()


def read_scores(
    spec: str, frame: pd.DataFrame, path: Path, keep: np.ndarray, classes: np.ndarray
) -> tuple[np.ndarray, str | None]:
    """The teacher's probabilities for the kept rows; and the CSV column they came from.

    Parameters
    ----------
    spec : str
        ``--teacher-scores``: a column of ``frame``, or a .csv/.txt/.npy file with one row
        per row of ``frame``.
    frame : pandas.DataFrame of shape (n_rows, n_columns)
        The data file as read.
    path : pathlib.Path
        The data file, for messages.
    keep : ndarray of bool, shape (n_rows,)
        Rows with a label.
    classes : ndarray of shape (n_classes,)
        Sorted labels; a score file's columns may name them.

    Returns
    -------
    scores : ndarray of float64, shape (n_kept,) or (n_kept, n_classes)
        Probabilities of ``classes[1]`` (binary, one column) or of every class.
    column : str or None
        The column of ``frame`` the scores came from (not a feature), or None for a file.

    Raises
    ------
    InputError
        Text scores, an unknown column or file, unaligned rows, missing or infinite
        values, probabilities outside [0, 1], or a shape that does not fit the classes.
    """
    column: str | None = None
    scores: np.ndarray  # (n_rows,) positive-class probabilities or (n_rows, n_classes)
    if spec in frame.columns:
        column = spec
        raw = frame[spec]
        if not pd.api.types.is_numeric_dtype(raw):
            raise InputError(
                f"--teacher-scores column {spec!r} holds text; it must hold the teacher's "
                f"probability of the class {classes[-1]!r}, numbers in [0, 1]."
            )
        scores = raw.to_numpy(dtype=np.float64)
        source = f"column {spec!r}"
    else:
        file = Path(spec)
        if not file.is_file():
            close = difflib.get_close_matches(spec, [str(c) for c in frame.columns], n=1)
            hint = f" Did you mean the column {close[0]!r}?" if close else ""
            raise InputError(
                f"--teacher-scores {spec!r} is neither a column of {str(path)!r} (columns: "
                f"{format_items(frame.columns, 8)}) nor an existing file.{hint}"
            )
        if file.suffix.lower() == ".npy":
            try:
                scores = np.load(file, allow_pickle=False)
            except (ValueError, OSError) as exc:
                raise InputError(
                    f"--teacher-scores {spec!r} is not a readable .npy file: {exc}"
                ) from exc
            scores = np.asarray(scores, dtype=np.float64)
        elif file.suffix.lower() in (".csv", ".txt"):
            table = read_csv(file, "--teacher-scores")
            table = _match_score_columns(table, classes, spec)
            scores = table.to_numpy()
            try:
                scores = scores.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise InputError(
                    f"--teacher-scores {spec!r} must hold numbers (probabilities); {exc}."
                ) from exc
        else:
            raise InputError(
                f"--teacher-scores {spec!r} must be a .csv or .npy file (or a column name)."
            )
        source = f"file {spec!r}"
        if scores.ndim == 2 and scores.shape[1] == 1:
            scores = scores[:, 0]
    if scores.shape[0] != len(frame):
        raise InputError(
            f"--teacher-scores {source} has {scores.shape[0]} rows, but {str(path)!r} has "
            f"{len(frame)}; the scores must be aligned with the rows of the data, one per row."
        )
    scores = scores[keep]
    if not np.isfinite(scores).all():
        raise InputError(
            f"--teacher-scores {source} has missing or infinite values; score every row."
        )
    if scores.ndim == 1:
        if len(classes) != 2:
            raise InputError(
                f"--teacher-scores {source} has one score per row, which stands for a binary "
                f"target, but {len(classes)} classes were found; give one column per class."
            )
        if scores.min() < 0 or scores.max() > 1:
            raise InputError(
                f"--teacher-scores {source} must be probabilities of the class "
                f"{classes[1]!r} in [0, 1]; found values from {scores.min():g} to "
                f"{scores.max():g}. Convert them to probabilities first."
            )
    elif scores.ndim != 2 or scores.shape[1] != len(classes):
        raise InputError(
            f"--teacher-scores {source} has shape {scores.shape}; expected one column per "
            f"class ({len(classes)}: {format_items(classes.tolist())}) or a single column."
        )
    return scores, column


def warn_conflicting_scores(X: pd.DataFrame, scores: np.ndarray) -> None:
    """Warn when identical feature rows carry different teacher scores.

    A scores-only teacher knows a row by its features: identical rows with different
    scores cannot all be honoured (the teacher answers with one of them).

    Parameters
    ----------
    X : pandas.DataFrame of shape (n_rows, n_features)
        Encoded features.
    scores : ndarray of shape (n_rows,) or (n_rows, n_classes)
        The teacher's probabilities, aligned with ``X``.

    Returns
    -------
    None
        Issues an :class:`~interpretable_kd.exceptions.InterpretableKDWarning` naming how
        many rows clash.
    """
    table = X.reset_index(drop=True).copy()
    score_columns = [f"\x00score{j}" for j in range(1 if scores.ndim == 1 else scores.shape[1])]
    table[score_columns] = scores.reshape(len(table), -1)
    distinct = table.drop_duplicates()
    clashes = int(distinct.duplicated(subset=list(X.columns)).sum())
    if clashes:
        warnings.warn(
            f"{clashes} of the {len(table)} rows repeat the features of another row with a "
            "different teacher score; a scores-only teacher recognises rows by their "
            "features, so it answers with one score for each group of identical rows.",
            InterpretableKDWarning,
            stacklevel=2,
        )
