"""The comparison on Ray: :class:`~interpretable_kd.distributed.reductions.ComparisonSums`
and a uniform row sample per block (Ray Data tasks), merged on the driver; the same
numbers as :func:`~interpretable_kd.distributed.compare_streaming`.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from .._defaults import FULL, STREAM_CHUNK_ROWS, STREAM_SAMPLE_ROWS
from .._numeric import draw_seed
from .._validation import check_number
from ..teachers import Teacher
from ._arrow import open_source, scan_options
from ._plan import Progress, teacher_frame
from .ray_engine import _connect, _paths, _teacher_with_classes
from .reductions import ComparisonSums, Reservoir, StreamingComparison, student_frame, summarise

__all__ = ["compare_ray"]


class _ComparePart:
    """Per-block comparison (a Ray Data task; fused with the read, so it needs no CPU
    beyond the read's).

    For each block it returns the rows of the block whose uniform key is below
    ``threshold`` (columns ``key``, ``pt{c}``, ``ps{c}``; zero sums) and one summary row
    (``key = inf``) holding the block's :class:`ComparisonSums` (columns ``m{a*k+b}``,
    ``kl``, ``js``, ``tv``). Sums add up over rows; the sampled rows with the smallest
    keys over all blocks are a uniform sample of all rows.
    """

    def __init__(
        self, teacher: Teacher, student: Any, features: list[str], threshold: float, seed: int
    ) -> None:
        self.teacher, self.student, self.features = teacher, student, features
        self.threshold, self.seed = threshold, seed

    def __call__(self, batch: Any) -> dict[str, np.ndarray]:
        """Score one block; see the class docstring for the columns."""
        from ._arrow import SourceSpec

        X = SourceSpec(None, self.features, None, batch.num_rows).features_of(batch)
        p_t = self.teacher.predict_proba(teacher_frame(self.teacher, X, self.features))
        p_s = np.asarray(self.student.predict_proba(student_frame(self.student, X, self.features)))
        sums = ComparisonSums.of(p_t, p_s)
        rng = np.random.default_rng([self.seed, zlib.crc32(X.tobytes())])
        keys = np.asarray(rng.random(X.shape[0]))
        kept = np.flatnonzero(keys < self.threshold)
        k, m = p_t.shape[1], len(kept) + 1
        out: dict[str, np.ndarray] = {"key": np.append(keys[kept], np.inf)}
        for c in range(k):
            out[f"pt{c}"] = np.append(p_t[kept, c], 0.0)
            out[f"ps{c}"] = np.append(p_s[kept, c], 0.0)
        flat = sums.counts.reshape(-1)
        for cell in range(k * k):
            out[f"m{cell}"] = np.zeros(m, dtype=np.int64)
            out[f"m{cell}"][-1] = flat[cell]
        for name, value in (("kl", sums.kl), ("js", sums.js), ("tv", sums.tv)):
            out[name] = np.zeros(m)
            out[name][-1] = value
        return out


def compare_ray(
    teacher: Any,
    student: Any,
    source: Any,
    *,
    features: list[str] | None = None,
    num_workers: int = 2,
    batch_size: int = STREAM_CHUNK_ROWS,
    sample_rows: int = STREAM_SAMPLE_ROWS,
    n_bootstrap: int = FULL.n_bootstrap,
    confidence: float = 0.95,
    address: str | None = None,
    random_state: Any = None,
    verbose: bool | Callable[[str], None] = False,
) -> StreamingComparison:
    """:func:`~interpretable_kd.distributed.compare_streaming` on Ray: each block's
    mergeable sums and reservoir computed by an actor pool, merged on the driver.

    Parameters
    ----------
    teacher, student : objects
        The teacher (any :func:`~interpretable_kd.as_teacher` input) and the fitted
        student; both picklable.
    source : path, list of paths or file-backed pyarrow.dataset.Dataset
        The rows.
    features : list of str, optional
        Feature columns; default every column.
    num_workers : int
        Actors.
    batch_size : int
        Rows per block scored.
    sample_rows, n_bootstrap, confidence, random_state, verbose
        As in ``compare_streaming``.
    address : str, optional
        Ray cluster address.

    Returns
    -------
    StreamingComparison
        The same exact sums as on one machine; the sample's rows may differ (the keys
        are drawn per block).
    """
    owner = "compare_ray"
    ray = _connect(address, None, verbose)
    num_workers = check_number(num_workers, "num_workers", owner, integer=True, low=1)
    sample_rows = check_number(sample_rows, "sample_rows", owner, integer=True, low=1)
    spec = open_source(source, features, None, owner)
    wrapped = _teacher_with_classes(teacher, spec)
    seed = draw_seed(random_state)
    # keep about twice the sample size in expectation; the smallest keys are then the
    # same rows a single reservoir over all rows would keep
    threshold = min(1.0, 2.0 * sample_rows / max(spec.n_rows, 1) + 1e-3)
    part = _ComparePart(wrapped, student, spec.features, threshold, seed)
    parts = (
        ray.data.read_parquet(
            _paths(source, owner),
            override_num_blocks=num_workers,
            fragment_scan_options=scan_options(),
        )
        .select_columns(spec.features)
        .map_batches(
            part,
            batch_format="pyarrow",
            batch_size=check_number(batch_size, "batch_size", owner, integer=True, low=1),
        )
    )
    k = len(wrapped.classes_)
    sums, sample = ComparisonSums.empty(k), Reservoir(sample_rows)
    progress = Progress(verbose, spec.n_rows, "compared")
    for batch in parts.iter_batches(batch_format="numpy", batch_size=STREAM_CHUNK_ROWS):
        counts = np.column_stack([batch[f"m{cell}"] for cell in range(k * k)]).sum(axis=0)
        sums = sums.merge(
            ComparisonSums(
                counts.reshape(k, k).astype(np.int64),
                float(batch["kl"].sum()),
                float(batch["js"].sum()),
                float(batch["tv"].sum()),
            )
        )
        rows = np.isfinite(batch["key"])
        p_t = np.column_stack([batch[f"pt{c}"] for c in range(k)])[rows]
        p_s = np.column_stack([batch[f"ps{c}"] for c in range(k)])[rows]
        sample.update(batch["key"][rows], p_t, p_s)
        progress.update(sums.n)
    return summarise(
        sums, sample, wrapped.classes_, n_bootstrap=n_bootstrap, confidence=confidence, seed=seed
    )
