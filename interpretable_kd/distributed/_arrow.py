"""Reading a Parquet source batch by batch: the one place that touches pyarrow.

A *source* is a path to a Parquet file or directory (``str`` or ``os.PathLike``), a list
of such paths, a ``pyarrow.dataset.Dataset`` or a ``pyarrow.Table``. Every reader here
holds at most one record batch of ``batch_rows`` rows in memory, so memory is bounded by
the batch size, never by the row count. pyarrow is imported lazily (``import
interpretable_kd`` never imports it); a missing pyarrow raises one ImportError that says
which extra to install.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._defaults import STREAM_CHUNK_ROWS
from ..exceptions import InputError, InputTypeError

__all__ = [
    "ColumnStats",
    "SourceSpec",
    "bounded_take",
    "open_source",
    "require",
    "scan_options",
]

#: What to install for the optional engines.
EXTRA_HINT = 'pip install "interpretable-kd[ray]"'


def require(module: str) -> Any:
    """Import an optional dependency, or say how to install it.

    Parameters
    ----------
    module : str
        ``"pyarrow"``, ``"pyarrow.dataset"``, ``"pyarrow.parquet"`` or ``"ray"``.

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    ImportError
        Naming the missing package and the extra that provides it.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"interpretable_kd.distributed needs {module.split('.')[0]}, which is not "
            f"installed. Install the optional extra: {EXTRA_HINT}."
        ) from exc


def scan_options() -> Any:
    """Parquet read options that keep a reader's memory bounded by its batch.

    Arrow's default pre-buffering (``pre_buffer=True``) caches every column chunk it has
    fetched until the file is closed, so a reader's memory grows with the rows read
    (measured: +80 MB per million 20-column float32 rows, the file's own size). Without
    it, memory stays flat with rows. Used by the local reader and passed to
    ``ray.data.read_parquet``.

    Returns
    -------
    pyarrow.dataset.ParquetFragmentScanOptions
        ``pre_buffer=False``.
    """
    return require("pyarrow.dataset").ParquetFragmentScanOptions(pre_buffer=False)


@dataclass
class ColumnStats:
    """Mergeable per-column count, mean and sum of squared deviations (Chan et al. 1979).

    Merging two parts A and B with ``d = mean_B - mean_A``:
    ``n = n_A + n_B``, ``mean = mean_A + d * n_B / n``,
    ``m2 = m2_A + m2_B + d^2 * n_A * n_B / n``. The result does not depend on how rows are
    split into parts (up to float64 rounding).

    Attributes
    ----------
    n : int
        Rows seen.
    mean : ndarray of shape (n_features,), float64
        Column means.
    m2 : ndarray of shape (n_features,), float64
        ``sum_i (x_ij - mean_j)^2``.
    """

    n: int = 0
    mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    m2: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def of(cls, X: np.ndarray) -> ColumnStats:
        """The statistics of one batch.

        Parameters
        ----------
        X : ndarray of shape (n_rows, n_features)
            Rows, any float dtype.

        Returns
        -------
        ColumnStats
        """
        X64 = np.asarray(X, dtype=np.float64)
        if X64.shape[0] == 0:
            return cls(0, np.zeros(X64.shape[1]), np.zeros(X64.shape[1]))
        mean = X64.mean(axis=0)
        deviation = X64 - mean
        return cls(int(X64.shape[0]), mean, np.einsum("ij,ij->j", deviation, deviation))

    def merge(self, other: ColumnStats) -> ColumnStats:
        """The statistics of the union of both parts' rows.

        Parameters
        ----------
        other : ColumnStats
            Another part.

        Returns
        -------
        ColumnStats
            A new object; neither part is modified.
        """
        if self.n == 0:
            return ColumnStats(other.n, other.mean.copy(), other.m2.copy())
        if other.n == 0:
            return ColumnStats(self.n, self.mean.copy(), self.m2.copy())
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.n / n)
        m2 = self.m2 + other.m2 + delta**2 * (self.n * other.n / n)
        return ColumnStats(n, mean, m2)

    def mean_scale(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and population standard deviation, 1 where the deviation is 0.

        Returns
        -------
        mean : ndarray of shape (n_features,), float64
        scale : ndarray of shape (n_features,), float64
            ``sqrt(m2 / n)``; 1 for a constant column (or a non-finite value), the same
            rule as ``TorchClassifier``'s in-memory standardisation.
        """
        scale = np.sqrt(self.m2 / max(self.n, 1))
        scale[~np.isfinite(scale) | (scale <= 0.0)] = 1.0
        return self.mean.copy(), scale


@dataclass
class SourceSpec:
    """An opened source: the dataset, the feature columns and the label column.

    Attributes
    ----------
    dataset : pyarrow.dataset.Dataset
        The rows.
    features : list of str
        Feature columns, in model order.
    label : str or None
        The label column, if any.
    n_rows : int
        Row count (from Parquet metadata; no data read).
    """

    dataset: Any
    features: list[str]
    label: str | None
    n_rows: int

    def batches(self, batch_rows: int) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """The rows in file order, one record batch at a time.

        Parameters
        ----------
        batch_rows : int
            Largest number of rows per batch.

        Yields
        ------
        X : ndarray of shape (n_rows, n_features), float32
            Features, C-contiguous, in ``features`` order.
        y : ndarray of shape (n_rows,) or None
            The label column's values, or None without a label column.
        """
        columns = [*self.features, *([self.label] if self.label else [])]
        scanner = self.dataset.scanner(
            columns=columns,
            batch_size=batch_rows,
            use_threads=False,
            batch_readahead=1,  # read ahead one batch, one file: memory stays bounded
            fragment_readahead=1,
            fragment_scan_options=scan_options(),  # no pre-buffering: memory stays flat
        )
        for batch in scanner.to_batches():
            if batch.num_rows == 0:
                continue
            yield (
                self.features_of(batch),
                (batch.column(self.label).to_numpy(zero_copy_only=False) if self.label else None),
            )

    def features_of(self, batch: Any) -> np.ndarray:
        """The feature columns of a record batch or table as one float32 array.

        Parameters
        ----------
        batch : pyarrow.RecordBatch or pyarrow.Table
            Rows with (at least) the feature columns.

        Returns
        -------
        ndarray of shape (n_rows, n_features), float32

        Raises
        ------
        InputError
            If a feature column has missing values.
        """
        X = np.empty((batch.num_rows, len(self.features)), dtype=np.float32)
        for j, name in enumerate(self.features):
            column = batch.column(name)
            if column.null_count:
                raise InputError(
                    f"Column {name!r} of the Parquet source has {column.null_count} missing "
                    "values in one batch; the distributed readers need complete numeric "
                    "features. Impute or drop them before writing the Parquet file."
                )
            X[:, j] = column.to_numpy(zero_copy_only=False)
        return X

    def head(self, n_rows: int, columns: Sequence[str] | None = None) -> Any:
        """The first ``n_rows`` rows, read without read-ahead or pre-buffering.

        ``pyarrow.dataset.Dataset.head`` with its defaults keeps scanning in the
        background after it returns (16 batches of read-ahead over pre-buffered row
        groups): measured +415 MB of private memory for 64 rows of a 2,000,000-row file
        and +607 MB at 20,000,000 rows, not returned to the OS. Here memory is
        O(``max(n_rows, STREAM_CHUNK_ROWS)`` * columns).

        Parameters
        ----------
        n_rows : int
            Rows wanted (fewer if the source is shorter).
        columns : list of str, optional
            Columns; default the features (and the label).

        Returns
        -------
        pyarrow.Table of shape (min(n_rows, N), len(columns))
        """
        n_rows = max(int(n_rows), 1)
        # batches of at least STREAM_CHUNK_ROWS rows and Arrow's threads: with tiny
        # batches or one thread Arrow's head decodes far past the rows it returns
        # (measured on 2,000,000 rows: 64 rows in 1-row batches took 200 s; on
        # 20,000,000 rows in 16,384-row batches 2.1 s with one thread, 0.01 s with threads)
        batch = max(n_rows, STREAM_CHUNK_ROWS)
        scan = _bounded_scan(batch, readahead=0, threads=True)
        return self.dataset.head(n_rows, columns=self._columns(columns), **scan)

    def take(self, indices: Any, columns: Sequence[str] | None = None) -> Any:
        """The rows at ``indices`` (file order), read batch by batch without pre-buffering.

        ``pyarrow.dataset.Dataset.take`` with its defaults scans the whole file with
        pre-buffering and read-ahead: 10,000 rows of a 20,000,000-row file peaked at
        2.6 GB of RSS (and kept it); here memory is O(``len(indices)`` * columns) plus
        one batch of :data:`~interpretable_kd._defaults.STREAM_CHUNK_ROWS` rows.

        Parameters
        ----------
        indices : array-like of int, shape (n,)
            Row positions, ``0 <= i < n_rows``.
        columns : list of str, optional
            Columns; default the features (and the label).

        Returns
        -------
        pyarrow.Table of shape (n, len(columns))
        """
        return bounded_take(self.dataset, indices, self._columns(columns))

    def _columns(self, columns: Sequence[str] | None) -> list[str]:
        """``columns``, or the features and the label."""
        if columns is not None:
            return list(columns)
        return [*self.features, *([self.label] if self.label else [])]


def _bounded_scan(batch_rows: int, readahead: int = 1, threads: bool = False) -> dict[str, Any]:
    """Scanner options whose memory is bounded by ``batch_rows`` rows: ``readahead``
    batches (and files) read ahead, Arrow's thread pool or not, no pre-buffering."""
    return {
        "batch_size": int(batch_rows),
        "batch_readahead": readahead,
        "fragment_readahead": readahead,
        "use_threads": threads,
        "fragment_scan_options": scan_options(),
    }


def bounded_take(dataset: Any, indices: Any, columns: Sequence[str]) -> Any:
    """``dataset.take(indices, columns=columns)`` read batch by batch without
    pre-buffering or read-ahead (:meth:`SourceSpec.take` says why).

    Parameters
    ----------
    dataset : pyarrow.dataset.Dataset
    indices : array-like of int, shape (n,)
        Row positions.
    columns : list of str

    Returns
    -------
    pyarrow.Table of shape (n, len(columns))
    """
    return dataset.take(indices, columns=list(columns), **_bounded_scan(STREAM_CHUNK_ROWS))


def open_source(
    source: Any, features: Sequence[str] | None, label: str | None, owner: str
) -> SourceSpec:
    """Open a Parquet source and check its columns.

    Parameters
    ----------
    source : str, os.PathLike, list of them, pyarrow.dataset.Dataset or pyarrow.Table
        The rows.
    features : sequence of str or None
        Feature columns; None: every column except ``label``.
    label : str or None
        Label column.
    owner : str
        Who asks, for messages.

    Returns
    -------
    SourceSpec

    Raises
    ------
    InputTypeError
        If ``source`` is of another type.
    InputError
        If a path does not exist, a column is missing, or a feature is not numeric.
    """
    pa = require("pyarrow")
    ds = require("pyarrow.dataset")
    if isinstance(source, ds.Dataset):
        dataset = source
    elif isinstance(source, pa.Table):
        dataset = ds.dataset(source)
    elif isinstance(source, str | os.PathLike) or (
        isinstance(source, list | tuple)
        and source
        and all(isinstance(s, str | os.PathLike) for s in source)
    ):
        paths = [os.fspath(s) for s in (source if isinstance(source, list | tuple) else [source])]
        missing = [p for p in paths if not os.path.exists(p)]
        if missing:
            raise InputError(
                f"{owner} got a source path that does not exist: {missing[0]!r}. Pass the "
                "path of a Parquet file or of a directory of Parquet files."
            )
        dataset = ds.dataset(paths if len(paths) > 1 else paths[0], format="parquet")
    else:
        raise InputTypeError(
            f"The 'source' parameter of {owner} must be a Parquet path, a list of paths, a "
            f"pyarrow.dataset.Dataset or a pyarrow.Table. Got {type(source).__name__} "
            "instead. For an in-memory array use DistilledClassifier.fit."
        )
    names = list(dataset.schema.names)
    if label is not None and label not in names:
        raise InputError(
            f"The 'label' parameter of {owner} is {label!r}, but the source has no such "
            f"column (columns: {names[:10]}). Pass label=None to distil without labels."
        )
    chosen = [n for n in names if n != label] if features is None else list(features)
    absent = [n for n in chosen if n not in names]
    if absent or not chosen:
        raise InputError(
            f"The 'features' parameter of {owner} names columns the source does not have: "
            f"{absent or 'none given'} (columns: {names[:10]}). Pass existing column names."
        )
    for name in chosen:
        kind = dataset.schema.field(name).type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            raise InputError(
                f"{owner} needs numeric feature columns, but column {name!r} has type "
                f"{kind}. Encode it (e.g. interpretable_kd.datasets.TabularPreprocessor) "
                "before writing the Parquet file, or leave it out of 'features'."
            )
    return SourceSpec(dataset, chosen, label, int(dataset.count_rows()))
