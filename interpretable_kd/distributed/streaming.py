"""Out of core on one machine: distil a teacher into a student from a Parquet source.

:func:`fit_streaming` never holds more than one buffer of rows in memory:

1. **One scoring pass** over the source, record batch by record batch: the teacher's
   logits ``z_T`` for the batch, the mergeable column statistics (count, mean, sum of
   squared deviations; :class:`~interpretable_kd.distributed._arrow.ColumnStats`), and
   the rows with their logits appended to a temporary Parquet *spill* file (row groups of
   ``chunk_rows``), so that the teacher runs once however many epochs follow.
2. **Epochs over the spill file**: row groups in a random order, gathered into a buffer of
   ``buffer_rows`` rows, shuffled within the buffer, cut into mini-batches. Each
   mini-batch is standardised, ``z = (x - mean) / scale`` (population standard deviation,
   1 for a constant column: the in-memory rule), and trained with the student's own
   pieces: ``_build_module``, ``_batch_loss`` (the Hinton et al. objective of
   :mod:`interpretable_kd.losses`, plus ``_penalty``) and ``_after_step``, with Adam.

The result is an ordinary local estimator (the same class, ``save``/``load``,
``predict``): a fitted student, or a fitted :class:`~interpretable_kd.DistilledClassifier`
when one is given. Peak memory is ``O((buffer_rows + chunk_rows) * n_features)`` floats,
independent of the number of rows.

No early stopping (there is no in-memory validation split): the student trains for
``epochs`` epochs and ``history_`` records the training loss and rows/s of each.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from .._defaults import STREAM_BUFFER_ROWS, STREAM_CHUNK_ROWS
from .._numeric import standardise
from .._torch_utils import isolated_torch_rng
from .._validation import check_labels_known, check_number
from ..exceptions import InputError
from ._arrow import ColumnStats, SourceSpec, open_source, require
from ._plan import (
    Progress,
    StreamPlan,
    batch_targets,
    check_finite,
    finalise_student,
    log,
    make_plan,
    teacher_frame,
    train_step,
)

__all__ = ["fit_streaming", "score_to_parquet"]


def fit_streaming(
    estimator: Any,
    source: Any,
    *,
    teacher: Any = None,
    features: list[str] | None = None,
    label: str | None = None,
    temperature: float | None = None,
    hard_label_weight: float | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    buffer_rows: int = STREAM_BUFFER_ROWS,
    chunk_rows: int = STREAM_CHUNK_ROWS,
    spill_dir: str | os.PathLike[str] | None = None,
    random_state: Any = None,
    verbose: bool | Callable[[str], None] = False,
) -> Any:
    """Distil a teacher into a student out of core, from a Parquet source.

    The objective is the student's own (``L = w * CE(y, p_S) + (1 - w) * T^2 *
    KL(p_T^(T) || p_S^(T))`` for every built-in student, see
    :mod:`interpretable_kd.losses`); the input standardisation ``z = (x - mean) / scale``
    comes from one streaming pass (mergeable sums, so identical to the in-memory
    statistics up to float64 rounding).

    Parameters
    ----------
    estimator : TorchClassifier or DistilledClassifier
        An unfitted student (e.g. ``SoftLogisticRegression()``), or a distiller wrapping
        one. Cloned: the argument itself is never modified.
    source : str, os.PathLike, list of paths, pyarrow.dataset.Dataset or pyarrow.Table
        The transfer set: a Parquet file or directory.
    teacher : object, optional
        Any model :func:`~interpretable_kd.as_teacher` accepts; required with a bare
        student. Only its ``predict_proba``/logits are called.
    features : list of str, optional
        Feature columns, in the teacher's order; default all columns except ``label``.
    label : str, optional
        Column of true labels (in the teacher's label space), used when
        ``hard_label_weight > 0``.
    temperature, hard_label_weight : float, optional
        T > 0 and w in [0, 1]; default: the distiller's, else 1 and 0. ``"auto"`` is not
        available out of core (choose T on a sample in memory).
    epochs, batch_size : int, optional
        Default: the student's ``max_epochs``/``batch_size``; ``"auto"`` follows the
        in-memory rule (:func:`~interpretable_kd._training.auto_training_sizes`) on the
        source's row count (a constant learning rate, no early stopping).
    buffer_rows : int
        Rows shuffled together (the shuffle buffer); bounds memory.
    chunk_rows : int
        Rows per record batch read and per row group of the spill file.
    spill_dir : path, optional
        Where the temporary spill file goes (default: the system's temporary directory);
        it needs about ``n_rows * (n_features + n_classes) * 4`` bytes and is removed at
        the end.
    random_state : None, int or Generator
        Seeds initialisation and shuffles; default: the distiller's or student's.
    verbose : bool or callable
        Print rows scored (with rows/s, at most every ``PROGRESS_SECONDS``), each
        epoch's loss and rows/s to stderr; a callable receives the lines instead.

    Returns
    -------
    TorchClassifier or DistilledClassifier
        A fitted clone of ``estimator``: the same class, ``predict``, ``save``, ``load``.
        Fitted attributes as after ``fit`` (``x_mean_``, ``x_scale_``, ``history_`` with
        ``train_loss`` and ``rows_per_s``, ...); a distiller also gets ``teacher_``,
        ``student_`` and ``temperature_``.
    """
    owner = "fit_streaming"
    spec = open_source(source, features, label, owner)
    plan = make_plan(
        estimator,
        teacher,
        temperature=temperature,
        hard_label_weight=hard_label_weight,
        epochs=epochs,
        batch_size=batch_size,
        random_state=random_state,
        n_rows=spec.n_rows,
        owner=owner,
    )
    buffer_rows = check_number(buffer_rows, "buffer_rows", owner, integer=True, low=1)
    chunk_rows = check_number(chunk_rows, "chunk_rows", owner, integer=True, low=1)
    workdir = tempfile.mkdtemp(prefix="ikd-spill-", dir=spill_dir)
    try:
        spill = os.path.join(workdir, "scored.parquet")
        stats = score_to_parquet(spec, plan, spill, chunk_rows, verbose, owner)
        module, history = _train_from_spill(plan, spill, stats, buffer_rows, verbose)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return finalise_student(plan, module, stats, spec.features, history)


def score_to_parquet(
    spec: SourceSpec,
    plan: StreamPlan,
    path: str,
    chunk_rows: int,
    verbose: bool | Callable[[str], None],
    owner: str,
) -> ColumnStats:
    """The scoring pass: teacher logits and column statistics, rows spilled to ``path``.

    The spill file has float32 columns ``x0..x{d-1}`` (raw features), ``t0..t{k-1}``
    (teacher logits) and int64 ``y`` (class index, -1 without a label).

    Parameters
    ----------
    spec : SourceSpec
        The opened source.
    plan : StreamPlan
        The teacher and the objective.
    path : str
        The spill file to write.
    chunk_rows : int
        Rows per record batch and per row group.
    verbose : bool or callable
        Progress, as in :func:`fit_streaming`.
    owner : str
        Who asks, for messages.

    Returns
    -------
    ColumnStats
        Of all rows.
    """
    pa = require("pyarrow")
    pq = require("pyarrow.parquet")
    stats, writer, done = ColumnStats(), None, 0
    progress = Progress(verbose, spec.n_rows, "teacher scored")
    try:
        for X, y_raw in spec.batches(chunk_rows):
            logits = plan.teacher.logits(teacher_frame(plan.teacher, X, spec.features))
            y = (
                check_labels_known(y_raw, plan.teacher.classes_, owner)
                if y_raw is not None
                else np.full(X.shape[0], -1, dtype=np.int64)
            )
            stats = stats.merge(ColumnStats.of(X))
            arrays = [*X.T, *logits.astype(np.float32).T, y]
            names = [
                *(f"x{j}" for j in range(X.shape[1])),
                *(f"t{c}" for c in range(logits.shape[1])),
                "y",
            ]
            table = pa.table(dict(zip(names, arrays, strict=True)))
            if writer is None:
                writer = pq.ParquetWriter(
                    path,
                    table.schema,
                    compression="none",
                    use_dictionary=False,
                    write_statistics=False,
                )
            writer.write_table(table, row_group_size=chunk_rows)
            done += X.shape[0]
            progress.update(done)
    finally:
        if writer is not None:
            writer.close()
    if stats.n == 0:
        raise InputError(f"{owner} got a source with no rows; pass at least one row.")
    return stats


def _spill_buffers(
    path: str, n_features: int, buffer_rows: int, rng: np.random.Generator
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """One epoch over the spill file: row groups in random order, buffers shuffled.

    Yields
    ------
    X : ndarray (n, n_features), float32
    logits : ndarray (n, n_classes), float32
    y : ndarray (n,), int64
    """
    pq = require("pyarrow.parquet")
    with pq.ParquetFile(path) as handle:
        order = rng.permutation(handle.num_row_groups)
        parts: list[Any] = []
        held = 0
        for i, group in enumerate(order):
            parts.append(handle.read_row_group(int(group)))
            held += parts[-1].num_rows
            if held >= buffer_rows or i == len(order) - 1:
                table = require("pyarrow").concat_tables(parts)
                parts, held = [], 0
                array = np.column_stack([c.to_numpy() for c in table.columns[:-1]]).astype(
                    np.float32, copy=False
                )
                perm = rng.permutation(table.num_rows)
                y = table.column("y").to_numpy()[perm]
                yield array[perm, :n_features], array[perm, n_features:], y


def _train_from_spill(
    plan: StreamPlan,
    path: str,
    stats: ColumnStats,
    buffer_rows: int,
    verbose: bool | Callable[[str], None],
) -> tuple[torch.nn.Module, list[dict[str, float]]]:
    """Epochs over the spill file with the student's own pieces; returns the network and
    the history."""
    student = plan.student
    device = student._device()
    mean, scale = stats.mean_scale()
    n_features, n_classes = len(mean), len(plan.teacher.classes_)
    rng = np.random.default_rng(plan.seed)
    history: list[dict[str, float]] = []
    student._prepare_fit(int(stats.n), n_classes)
    with isolated_torch_rng(plan.seed):
        module = student._build_module(n_features, n_classes).to(device)
        optimizer = torch.optim.Adam(
            module.parameters(), lr=student.learning_rate, weight_decay=student.weight_decay
        )
        module.train()
        for epoch in range(1, plan.epochs + 1):
            total, count, start = 0.0, 0, time.perf_counter()
            for X, logits, y in _spill_buffers(path, n_features, buffer_rows, rng):
                standardise(X, mean, scale, in_place=True)
                for lo in range(0, X.shape[0], plan.batch_size):
                    rows = slice(lo, lo + plan.batch_size)
                    targets = batch_targets(logits[rows], y[rows], plan).to(device)
                    xb = torch.from_numpy(X[rows]).to(device)
                    total += train_step(student, module, optimizer, xb, targets) * len(xb)
                    count += len(xb)
            seconds = time.perf_counter() - start
            record = {"epoch": epoch, "train_loss": total / count, "rows_per_s": count / seconds}
            check_finite(record, student, epoch)
            history.append(record)
            log(
                verbose,
                f"epoch {epoch}/{plan.epochs}: loss {record['train_loss']:.4g}, "
                f"{record['rows_per_s']:,.0f} rows/s",
            )
    return module, history
