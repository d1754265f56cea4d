"""The comparison at scale: exact, mergeable partial sums over all rows, and a uniform
row sample for the bootstrap intervals.

Every number of :class:`ComparisonSums` is a sum over rows, so parts computed on any
split of the rows (record batches on one machine, blocks on Ray workers) merge exactly:

* the agreement matrix ``M[a, b] = #{i : argmax p_T[i] = a, argmax p_S[i] = b}`` (integer
  counts), hence fidelity ``trace(M) / n`` and per-class fidelity ``M[c, c] / sum_b M[c, b]``;
* ``sum_i KL_i``, ``sum_i JS_i``, ``sum_i TV_i`` with the per-row values of
  :func:`~interpretable_kd.metrics.kl_divergence`, :func:`~interpretable_kd.metrics.js_distance`
  and :func:`~interpretable_kd.metrics.total_variation` (``per_row=True``), divided by n
  at the end. The only difference from the in-memory means is the order of float64
  additions (relative error ~1e-16 per row).

:class:`Reservoir` keeps the ``size`` rows with the smallest independent uniform keys, a
uniform sample without replacement that also merges exactly (keep the smallest keys of
the union); the bootstrap intervals of :func:`~interpretable_kd.metrics.bootstrap_ci`
are computed on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._defaults import FULL, STREAM_CHUNK_ROWS, STREAM_SAMPLE_ROWS
from .._numeric import draw_seed
from .._validation import check_number
from ..exceptions import InputError
from ..metrics import (
    bootstrap_ci,
    fidelity_score,
    js_distance,
    kl_divergence,
    total_variation,
)
from ..teachers import as_teacher
from ._arrow import open_source
from ._plan import Progress, teacher_frame

__all__ = ["ComparisonSums", "Reservoir", "StreamingComparison", "compare_streaming"]


@dataclass
class ComparisonSums:
    """Mergeable sums of a teacher-student comparison over some rows.

    Attributes
    ----------
    counts : ndarray of shape (n_classes, n_classes), int64
        Agreement matrix: rows the teacher's class index, columns the student's.
    kl, js, tv : float
        Sums over rows of the per-row KL(p_T || p_S), JS distance and TV distance.
    """

    counts: np.ndarray
    kl: float = 0.0
    js: float = 0.0
    tv: float = 0.0

    @classmethod
    def empty(cls, n_classes: int) -> ComparisonSums:
        """No rows yet.

        Parameters
        ----------
        n_classes : int
            k.

        Returns
        -------
        ComparisonSums
        """
        return cls(np.zeros((n_classes, n_classes), dtype=np.int64))

    @classmethod
    def of(cls, p_teacher: np.ndarray, p_student: np.ndarray) -> ComparisonSums:
        """The sums of one batch.

        Parameters
        ----------
        p_teacher, p_student : ndarray of shape (n_rows, n_classes)
            Probabilities of the same rows, the same class order.

        Returns
        -------
        ComparisonSums
        """
        k = p_teacher.shape[1]
        t_idx, s_idx = p_teacher.argmax(axis=1), p_student.argmax(axis=1)
        counts = np.bincount(t_idx * k + s_idx, minlength=k * k).reshape(k, k)
        return cls(
            counts.astype(np.int64),
            float(np.sum(kl_divergence(p_teacher, p_student, per_row=True))),
            float(np.sum(js_distance(p_teacher, p_student, per_row=True))),
            float(np.sum(total_variation(p_teacher, p_student, per_row=True))),
        )

    @property
    def n(self) -> int:
        """Rows counted."""
        return int(self.counts.sum())

    def merge(self, other: ComparisonSums) -> ComparisonSums:
        """The sums over both parts' rows.

        Parameters
        ----------
        other : ComparisonSums
            Another part (same classes).

        Returns
        -------
        ComparisonSums
            A new object.
        """
        return ComparisonSums(
            self.counts + other.counts, self.kl + other.kl, self.js + other.js, self.tv + other.tv
        )

    def values(self, classes: np.ndarray) -> dict[str, Any]:
        """The metrics.

        Parameters
        ----------
        classes : ndarray of shape (n_classes,)
            Class labels, in the column order.

        Returns
        -------
        dict
            ``n_rows``, ``fidelity`` (``trace(M) / n``), ``per_class_fidelity`` (label ->
            ``M[c, c] / sum_b M[c, b]``, NaN for a class the teacher never predicts),
            ``agreement_matrix`` (M), ``kl_divergence``, ``js_distance`` and
            ``total_variation`` (means over rows).
        """
        n = max(self.n, 1)
        row_sums = self.counts.sum(axis=1)
        per_class = {
            label: float(self.counts[c, c] / row_sums[c]) if row_sums[c] else float("nan")
            for c, label in enumerate(np.asarray(classes).tolist())
        }
        return {
            "n_rows": self.n,
            "fidelity": float(np.trace(self.counts) / n),
            "per_class_fidelity": per_class,
            "agreement_matrix": self.counts.copy(),
            "kl_divergence": self.kl / n,
            "js_distance": self.js / n,
            "total_variation": self.tv / n,
        }


@dataclass
class Reservoir:
    """A uniform sample of at most ``size`` rows: the rows with the smallest keys.

    Each row gets an independent key ``u ~ U(0, 1)``; keeping the ``size`` smallest keys
    of a stream (or of the union of several reservoirs) is a uniform sample without
    replacement of all the rows seen.

    Attributes
    ----------
    size : int
        Most rows kept.
    keys : ndarray of shape (n_kept,)
        The kept rows' keys.
    arrays : list of ndarray
        The kept rows of each array, aligned with ``keys``.
    """

    size: int
    keys: np.ndarray = field(default_factory=lambda: np.zeros(0))
    arrays: list[np.ndarray] = field(default_factory=list)

    def update(self, keys: np.ndarray, *arrays: np.ndarray) -> Reservoir:
        """Offer rows; keep the ``size`` smallest keys of all rows offered so far.

        Parameters
        ----------
        keys : ndarray of shape (n_rows,)
            The rows' uniform keys.
        *arrays : ndarray with first dimension n_rows
            The rows' data (e.g. teacher and student probabilities).

        Returns
        -------
        Reservoir
            ``self``, updated.
        """
        if not self.arrays:
            self.arrays = [a[:0] for a in arrays]
        all_keys = np.concatenate([self.keys, keys])
        joined = [np.concatenate([old, new]) for old, new in zip(self.arrays, arrays, strict=True)]
        if len(all_keys) > self.size:
            keep = np.argpartition(all_keys, self.size - 1)[: self.size]
            keep.sort()
            all_keys, joined = all_keys[keep], [a[keep] for a in joined]
        self.keys, self.arrays = all_keys, joined
        return self

    def merge(self, other: Reservoir) -> Reservoir:
        """The reservoir of the union of both parts' rows.

        Parameters
        ----------
        other : Reservoir
            Another part, with arrays of the same kinds.

        Returns
        -------
        Reservoir
            A new object.
        """
        out = Reservoir(self.size, self.keys.copy(), [a.copy() for a in self.arrays])
        return out.update(other.keys, *other.arrays) if other.arrays else out


@dataclass
class StreamingComparison:
    """The comparison of a student with its teacher over every row of a source.

    Attributes
    ----------
    classes : ndarray of shape (n_classes,)
        Class labels.
    n_rows : int
        Rows compared.
    fidelity : float
        Share of rows where the student predicts the teacher's class.
    per_class_fidelity : dict
        Label -> fidelity among the rows where the teacher predicts it.
    agreement_matrix : ndarray of shape (n_classes, n_classes), int64
        Rows: teacher class, columns: student class.
    kl_divergence, js_distance, total_variation : float
        Means over rows.
    intervals : dict
        ``"fidelity"`` and ``"kl_divergence"`` -> (low, high) percentile bootstrap
        interval on the uniform row sample.
    sample_rows : int
        Rows in that sample.
    """

    classes: np.ndarray
    n_rows: int
    fidelity: float
    per_class_fidelity: dict[Any, float]
    agreement_matrix: np.ndarray
    kl_divergence: float
    js_distance: float
    total_variation: float
    intervals: dict[str, tuple[float, float]]
    sample_rows: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values.

        Returns
        -------
        dict
        """
        return {
            "classes": np.asarray(self.classes).tolist(),
            "n_rows": self.n_rows,
            "fidelity": self.fidelity,
            "per_class_fidelity": {str(k): v for k, v in self.per_class_fidelity.items()},
            "agreement_matrix": self.agreement_matrix.tolist(),
            "kl_divergence": self.kl_divergence,
            "js_distance": self.js_distance,
            "total_variation": self.total_variation,
            "intervals": {k: list(v) for k, v in self.intervals.items()},
            "sample_rows": self.sample_rows,
        }


def summarise(
    sums: ComparisonSums,
    sample: Reservoir,
    classes: np.ndarray,
    *,
    n_bootstrap: int,
    confidence: float,
    seed: int,
) -> StreamingComparison:
    """Turn merged sums and a merged sample into a :class:`StreamingComparison`.

    Parameters
    ----------
    sums : ComparisonSums
        Over all rows.
    sample : Reservoir
        Uniform sample with arrays (p_teacher, p_student).
    classes : ndarray
        Class labels.
    n_bootstrap : int
        Resamples.
    confidence : float
        Interval level.
    seed : int
        Seeds the resampling.

    Returns
    -------
    StreamingComparison
    """
    values = sums.values(classes)
    p_t, p_s = sample.arrays
    intervals = {
        name: bootstrap_ci(
            metric,
            *arrays,
            n_resamples=n_bootstrap,
            confidence=confidence,
            random_state=seed,
        )
        for name, metric, arrays in (
            ("fidelity", fidelity_score, (p_t.argmax(axis=1), p_s.argmax(axis=1))),
            ("kl_divergence", lambda a, b: kl_divergence(a, b), (p_t, p_s)),
        )
    }
    return StreamingComparison(
        classes=np.asarray(classes),
        n_rows=values["n_rows"],
        fidelity=values["fidelity"],
        per_class_fidelity=values["per_class_fidelity"],
        agreement_matrix=values["agreement_matrix"],
        kl_divergence=values["kl_divergence"],
        js_distance=values["js_distance"],
        total_variation=values["total_variation"],
        intervals=intervals,
        sample_rows=len(sample.keys),
    )


def student_frame(student: Any, X: np.ndarray, features: list[str]) -> Any:
    """X as the student expects it: a DataFrame when it was fitted with feature names.

    Parameters
    ----------
    student : estimator
        A fitted student or distiller.
    X : ndarray of shape (n_rows, n_features)
        Rows.
    features : list of str
        Column names.

    Returns
    -------
    ndarray or DataFrame
    """
    has_names = getattr(student, "feature_names_in_", None) is not None
    return pd.DataFrame(X, columns=features) if has_names else X


def compare_streaming(
    teacher: Any,
    student: Any,
    source: Any,
    *,
    features: list[str] | None = None,
    chunk_rows: int = STREAM_CHUNK_ROWS,
    sample_rows: int = STREAM_SAMPLE_ROWS,
    n_bootstrap: int = FULL.n_bootstrap,
    confidence: float = 0.95,
    random_state: Any = None,
    verbose: bool | Callable[[str], None] = False,
) -> StreamingComparison:
    """Compare a fitted student with its teacher over every row of a Parquet source.

    One pass, one record batch at a time: both models' probabilities for the batch, the
    batch's :class:`ComparisonSums` merged into the total, and the batch offered to a
    :class:`Reservoir` of ``sample_rows`` rows for the bootstrap intervals. Memory is
    bounded by ``chunk_rows + sample_rows`` rows.

    Parameters
    ----------
    teacher : object
        Any model :func:`~interpretable_kd.as_teacher` accepts.
    student : estimator
        A fitted student (or DistilledClassifier) with ``predict_proba`` whose columns
        follow the teacher's classes.
    source : str, os.PathLike, list of paths, pyarrow.dataset.Dataset or pyarrow.Table
        The rows.
    features : list of str, optional
        Feature columns; default: every column (pass the list to leave a label out).
    chunk_rows : int
        Rows per record batch.
    sample_rows : int
        Size of the uniform sample for the intervals.
    n_bootstrap : int
        Bootstrap resamples.
    confidence : float
        Interval level, in (0, 1).
    random_state : None, int or Generator
        Seeds the reservoir keys and the resampling.
    verbose : bool or callable
        Print rows compared and rows/s (at most every ``PROGRESS_SECONDS``); a callable
        receives the lines instead.

    Returns
    -------
    StreamingComparison
    """
    owner = "compare_streaming"
    chunk_rows = check_number(chunk_rows, "chunk_rows", owner, integer=True, low=1)
    sample_rows = check_number(sample_rows, "sample_rows", owner, integer=True, low=1)
    n_bootstrap = check_number(n_bootstrap, "n_bootstrap", owner, integer=True, low=1)
    spec = open_source(source, features, None, owner)
    wrapped = as_teacher(teacher)
    seed = draw_seed(random_state)
    rng = np.random.default_rng(seed)
    sums: ComparisonSums | None = None
    sample = Reservoir(sample_rows)
    progress = Progress(verbose, spec.n_rows, "compared")
    for X, _ in spec.batches(chunk_rows):
        p_t = wrapped.predict_proba(teacher_frame(wrapped, X, spec.features))
        p_s = np.asarray(student.predict_proba(student_frame(student, X, spec.features)))
        part = ComparisonSums.of(p_t, p_s)
        sums = part if sums is None else sums.merge(part)
        sample.update(np.asarray(rng.random(X.shape[0])), p_t, p_s)
        progress.update(sums.n)
    if sums is None:
        raise InputError(f"{owner} got a source with no rows; pass at least one row.")
    return summarise(
        sums, sample, wrapped.classes_, n_bootstrap=n_bootstrap, confidence=confidence, seed=seed
    )
