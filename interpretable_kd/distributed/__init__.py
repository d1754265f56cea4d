"""Past one machine: out of core on one machine (pyarrow) and on a Ray cluster.

Optional: needs ``pip install "interpretable-kd[ray]"`` (pyarrow for the streaming
functions, Ray for :mod:`interpretable_kd.distributed.ray_engine`). ``import
interpretable_kd`` imports neither; this package imports pyarrow only when a function
runs, and Ray only in ``ray_engine``.

* :func:`fit_streaming` -- distil from a Parquet source in bounded memory;
* :func:`compare_streaming` -- fidelity, per-class fidelity, agreement matrix and KL/JS/TV
  as exact mergeable sums over all rows, bootstrap intervals on a uniform row sample;
* :func:`fit_ray`, :func:`score_teacher_ray`, :func:`compare_ray` -- the same on Ray
  (imported from ``ray_engine`` on first use);
* :func:`streamed_report` -- the full ``DistillationReport`` of a comparison at scale:
  the streamed numbers over all rows, the rest (attributions, figures) on a uniform
  sample, each labelled with its rows;
* :func:`explain_ray` -- attributions of a row sample, chunks as Ray tasks.
"""

from __future__ import annotations

from typing import Any

from ._arrow import ColumnStats
from .reductions import ComparisonSums, Reservoir, StreamingComparison, compare_streaming
from .streaming import fit_streaming

__all__ = [
    "ColumnStats",
    "ComparisonSums",
    "Reservoir",
    "StreamingComparison",
    "compare_ray",
    "compare_streaming",
    "explain_ray",
    "fit_ray",
    "fit_streaming",
    "score_teacher_ray",
    "streamed_report",
]

_RAY_NAMES = ("compare_ray", "fit_ray", "score_teacher_ray")


def __getattr__(name: str) -> Any:
    """Import the Ray functions (and the report) on first use, so that Ray is needed
    only for them."""
    if name == "streamed_report":
        from ._report import streamed_report

        return streamed_report
    if name == "explain_ray":
        from .ray_explain import explain_ray

        return explain_ray
    if name == "compare_ray":
        from .ray_compare import compare_ray

        return compare_ray
    if name in _RAY_NAMES:
        from . import ray_engine

        return getattr(ray_engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
