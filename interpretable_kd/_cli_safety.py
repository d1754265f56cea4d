"""What keeps a command-line run safe and visible: signals, progress, size estimates.

* :func:`terminating_signals`: SIGTERM and SIGHUP end the run like Ctrl-C (SIGINT): the
  report writer's cleanup runs and the command exits with 128 + the signal number.
* :class:`Steps`: the run's progress, as a bar on a terminal, or as one line per step
  on a pipe or file when the input is large (so a long run is never silent).
* :func:`estimate_csv` and :func:`size_note`: a rough, up-front estimate of the rows,
  memory and time a CSV file will take, printed before the work starts for large inputs.
* :func:`memory_message`: what a ``MemoryError`` becomes (one line, what to reduce).
* :func:`prepare_output`: ``--out`` checked before any work, leftovers of a killed run
  restored or removed; :func:`split_rows`: the split, refused when a class would get
  fewer than :data:`MIN_TEST_ROWS` held-out rows.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .datasets import train_test_indices
from .exceptions import InputError
from .report import check_output_directory
from .report.writer import recover

__all__ = [
    "LARGE_BYTES",
    "CsvSize",
    "Steps",
    "Terminated",
    "estimate_csv",
    "memory_message",
    "prepare_output",
    "size_note",
    "split_rows",
    "stem",
    "terminating_signals",
]

#: Fewest held-out rows of each class that a report is computed on.
MIN_TEST_ROWS = 5
#: A CSV file larger than this gets the up-front estimate and plain progress lines.
LARGE_BYTES = 20_000_000
#: Bytes read from the start of a CSV file to estimate its rows and columns.
_SAMPLE_BYTES = 1 << 20
#: Rough memory of one cell through reading, encoding and training (bytes): the pandas
#: frame, the float32 encoded copy, the per-student copies.
_BYTES_PER_CELL = 48
#: Rough seconds per cell per training epoch over all models, on one CPU thread.
_SECONDS_PER_CELL_EPOCH = 4e-8


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C so that every cleanup runs.

    Parameters
    ----------
    signum : int
        The signal number.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, frame: Any) -> None:
    """Signal handler: raise :class:`Terminated`.

    Parameters
    ----------
    signum : int
    frame : frame or None

    Returns
    -------
    NoReturn
    """
    raise Terminated(signum)


@contextlib.contextmanager
def terminating_signals() -> Iterator[None]:
    """Handle SIGTERM and SIGHUP like SIGINT for the duration (main thread only).

    Returns
    -------
    context manager
        The previous handlers are restored on exit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = [n for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    previous = {n: signal.signal(getattr(signal, n), _raise_terminated) for n in names}
    try:
        yield
    finally:
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler)


class Steps:
    """The run's progress on stderr: a bar on a terminal; one line per step elsewhere when
    ``plain`` (a large input); nothing otherwise.

    Parameters
    ----------
    total : int
        Number of steps.
    stream : text stream
        Where progress is shown.
    plain : bool, default=False
        Print ``interpretable-kd: [i/n] step (elapsed s)`` lines when ``stream`` is not a
        terminal.
    prog : str, default="interpretable-kd"
        The prefix of plain lines.
    """

    def __init__(
        self, total: int, stream: Any, plain: bool = False, prog: str = "interpretable-kd"
    ) -> None:
        self.total = total
        self.stream = stream
        self.prog = prog
        self.current = "starting"
        self.count = 0
        self.started = time.perf_counter()
        is_tty = bool(getattr(stream, "isatty", lambda: False)())
        self.plain = plain and not is_tty
        self.bar = tqdm(
            total=total,
            file=stream,
            disable=None if not self.plain else True,
            unit="step",
            leave=False,
            bar_format="{desc:<38}{percentage:3.0f}%|{bar:24}| {n_fmt}/{total_fmt} [{elapsed}]",
        )

    def start(self, text: str) -> None:
        """Show the step that begins.

        Parameters
        ----------
        text : str

        Returns
        -------
        None
        """
        self.current = text
        self.bar.set_description_str(text)
        if self.plain:
            elapsed = time.perf_counter() - self.started
            print(
                f"{self.prog}: [{self.count + 1}/{self.total}] {text} ({elapsed:.0f} s so far)",
                file=self.stream,
                flush=True,
            )

    def done(self) -> None:
        """Advance by one step.

        Returns
        -------
        None
        """
        self.count += 1
        self.bar.update(1)

    def note(self, text: str) -> None:
        """Print a line on the stream without breaking the bar (a data warning).

        Parameters
        ----------
        text : str

        Returns
        -------
        None
        """
        tqdm.write(text, file=self.stream)
        flush = getattr(self.stream, "flush", None)
        if flush is not None:
            flush()

    def close(self) -> None:
        """Remove the bar.

        Returns
        -------
        None
        """
        self.bar.close()


@dataclass(frozen=True)
class CsvSize:
    """A rough size of a CSV file, from its byte size and its first megabyte.

    Attributes
    ----------
    n_bytes : int
    rows : int
        Estimated data rows.
    columns : int
        Columns of the header.
    """

    n_bytes: int
    rows: int
    columns: int


def estimate_csv(path: Path) -> CsvSize | None:
    """Estimate the rows and columns of a CSV file without reading it all.

    Parameters
    ----------
    path : pathlib.Path

    Returns
    -------
    CsvSize or None
        None for a stream, a missing file, one that cannot be read, or a compressed
        (``.gz``) or Parquet file.
    """
    if path.name.lower().endswith((".gz", ".parquet")):
        return None  # compressed: the bytes say little about the rows
    try:
        if not path.is_file():
            return None
        n_bytes = path.stat().st_size
        with open(path, "rb") as handle:
            sample = handle.read(_SAMPLE_BYTES)
    except OSError:
        return None
    lines = sample.splitlines()
    if not lines:
        return CsvSize(n_bytes, 0, 0)
    columns = lines[0].count(b",") + 1
    body = lines[1:-1] if len(sample) == _SAMPLE_BYTES else lines[1:]
    if not body:
        return CsvSize(n_bytes, 0, columns)
    per_line = (sum(len(line) + 1 for line in body)) / len(body)
    rows = int((n_bytes - len(lines[0]) - 1) / per_line) if per_line else 0
    return CsvSize(n_bytes, rows, columns)


def size_note(size: CsvSize, path: Path, epochs: int, n_models: int, quick: bool) -> str | None:
    """The up-front estimate printed for a large CSV file, or None for a small one.

    Memory ~= rows x columns x 48 bytes; time ~= rows x columns x epochs x models x 4e-8 s
    (one CPU thread). Both are rough, within a factor of a few.

    Parameters
    ----------
    size : CsvSize
    path : pathlib.Path
    epochs : int
        Epochs per model of the budget.
    n_models : int
        Models trained (teacher and two per student).
    quick : bool
        Whether ``--quick`` was given.

    Returns
    -------
    str or None
    """
    if size.n_bytes < LARGE_BYTES:
        return None
    cells = size.rows * size.columns
    gigabytes = cells * _BYTES_PER_CELL / 1e9
    minutes = cells * epochs * n_models * _SECONDS_PER_CELL_EPOCH / 60
    text = (
        f"{path.name} is {size.n_bytes / 1e6:.0f} MB, about {size.rows:,} rows x "
        f"{size.columns} columns; this run needs roughly {gigabytes:.1f} GB of memory and "
        f"{max(minutes, 1):.0f} min (a rough estimate)."
    )
    if not quick:
        text += " Add --quick for a faster, rougher report, or sample the rows first."
    return text


def memory_message(step: str) -> str:
    """The one line a ``MemoryError`` becomes.

    Parameters
    ----------
    step : str
        The step that ran out of memory.

    Returns
    -------
    str
    """
    return (
        f"ran out of memory while {step}; no report was written. Reduce the rows (a random "
        "sample of the CSV), drop columns with many distinct text values (each becomes a "
        "one-hot column), use fewer --students, or add --quick."
    )


def prepare_output(out: str, inputs: list[Any], stderr: Any) -> None:
    """Check ``--out`` before any work, and undo what a killed earlier run left there.

    Parameters
    ----------
    out : str
        ``--out``.
    inputs : list of path-like
        Input files whose directories must never be replaced.
    stderr : text stream
        Where a note on each recovery goes.

    Returns
    -------
    None
    """
    target = check_output_directory(out, inputs)
    for note in recover(target):
        print(f"interpretable-kd: note: {note}", file=stderr)
    check_output_directory(out, inputs)


def split_rows(y: np.ndarray, test_size: float, seed: int, path: Path) -> tuple[Any, Any]:
    """The stratified split, refused when a class gets too few held-out rows.

    Parameters
    ----------
    y : ndarray of shape (n_rows,)
    test_size : float
    seed : int
    path : pathlib.Path
        For messages.

    Returns
    -------
    train, test : ndarray of int
        Row numbers in :func:`~interpretable_kd.datasets.train_test_indices`' (shuffled)
        order, so that the command line and the same calls in Python see the same rows
        in the same order.
    """
    classes, totals = np.unique(y, return_counts=True)
    held = np.floor(test_size * totals).astype(int)  # about what the split holds out
    if held.min() >= MIN_TEST_ROWS:
        try:
            train, test = train_test_indices(y, test_size=test_size, random_state=seed)
        except ValueError as exc:
            raise InputError(
                f"Cannot split the {len(y)} labelled rows of {str(path)!r} into training and "
                f"test rows with every class in both ({exc}). Add rows or change --test-size."
            ) from exc
        held = np.array([int(np.sum(y[test] == c)) for c in classes])
    if held.min() < MIN_TEST_ROWS:
        worst = int(np.argmin(held))
        needed = MIN_TEST_ROWS / totals[worst]
        fix = (
            f"use --test-size {min(needed + 0.005, 0.5):.2f} or more"
            if needed < 0.5
            else f"add rows of class {classes.tolist()[worst]!r} ({totals[worst]} now)"
        )
        raise InputError(
            f"--test-size {test_size} holds out about {int(test_size * len(y))} rows of "
            f"{str(path)!r}, only {held[worst]} of class {classes.tolist()[worst]!r}; each class "
            f"needs at least {MIN_TEST_ROWS} held-out rows for the report's numbers to mean "
            f"anything: {fix}."
        )
    return train, test  # train_test_indices' order, as in Python (split_dataset)


def stem(path: Path) -> str:
    """The file's name without ``.csv``, ``.csv.gz`` or ``.parquet``: the report's name.

    Parameters
    ----------
    path : pathlib.Path

    Returns
    -------
    str
    """
    name = path.name
    for suffix in (".gz", ".csv", ".parquet"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name
