"""Attributions of a row sample fanned out as Ray tasks: :func:`explain_ray`.

The rows are split into contiguous chunks; each chunk is explained by
:func:`interpretable_kd.attributions.explain` in its own ``ray.remote`` task (the model
and the background go to the object store once), and the chunks' results are
concatenated in row order. Every task gets the same seed, so every chunk draws the same
background summary and, for ``"permutation"``, the same orderings (they are drawn once
and shared by all rows, see ``attributions.permutation``): the result equals the
single-process ``explain`` on the same rows, up to float rounding of batched inference.
``"kernel"`` draws its samples per call and is refused.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from .._numeric import draw_seed
from .._validation import check_number
from ..attributions import Attributions, explain
from ..exceptions import ParameterError
from ._arrow import require

__all__ = ["explain_ray"]


def _explain_chunk(
    model: Any,
    X: Any,
    background: Any,
    target: Any,
    seed: Any,
    kwargs: dict[str, Any],
) -> Attributions:
    """One chunk's attributions (run as a Ray task)."""
    return explain(model, X, background, target=target, random_state=seed, **kwargs)


def explain_ray(
    model: Any,
    X: Any,
    background: Any,
    *,
    target: Any = None,
    num_chunks: int | None = None,
    random_state: Any = None,
    address: str | None = None,
    **explain_kwargs: Any,
) -> Attributions:
    """:func:`~interpretable_kd.attributions.explain` of many rows, chunks as Ray tasks.

    Parameters
    ----------
    model : object with ``predict_proba``
        Must be picklable (it is shipped to the workers once).
    X : array-like or DataFrame of shape (n_rows, n_features)
        Rows to explain (e.g. a uniform sample of a Parquet source).
    background : array-like or DataFrame
        As in ``explain``.
    target : int, array of shape (n_rows,) or None
        Explained class per row; an array is split with the rows.
    num_chunks : int, optional
        Tasks; default the cluster's CPUs, at most one per row.
    random_state : None, int or numpy Generator
        The same for every chunk (one seed drawn when None), so the chunks share the
        background summary and orderings of a single call with that seed.
    address : str, optional
        Ray cluster address; default a running cluster, else a local one.
    **explain_kwargs
        ``method``, ``max_background``, ``n_permutations``, ``feature_names``... of
        ``explain``.

    Returns
    -------
    Attributions
        Rows in the order of X; equal to ``explain(model, X, background, target=target,
        random_state=random_state, **explain_kwargs)``.

    Raises
    ------
    ParameterError
        ``method="kernel"``, or ``num_chunks`` < 1.
    """
    owner = "explain_ray"
    if explain_kwargs.get("method") == "kernel":
        raise ParameterError(
            f"{owner} cannot split method='kernel' into chunks (its samples are drawn per "
            "call, so chunks would not equal one call). Use method='permutation' or "
            "'exact', or call interpretable_kd.attributions.explain in one process."
        )
    from .ray_engine import _connect

    ray = _connect(address, None, False)
    rows = len(X)
    if num_chunks is None:
        num_chunks = int(ray.cluster_resources().get("CPU", 1.0))
    num_chunks = min(check_number(num_chunks, "num_chunks", owner, integer=True, low=1), rows)
    # an int or a Generator goes to every task as it is (a Generator is copied with its
    # state), so each chunk starts from the state a single call would start from
    seed = draw_seed(None) if random_state is None else random_state
    bounds = np.linspace(0, rows, max(num_chunks, 1) + 1).astype(int)
    targets = np.asarray(target) if target is not None and np.ndim(target) == 1 else None
    task = ray.remote(_explain_chunk)
    model_ref, background_ref = ray.put(model), ray.put(background)
    futures = []
    for lo, hi in itertools.pairwise(bounds):
        rows_x = X.iloc[lo:hi] if hasattr(X, "iloc") else np.asarray(X)[lo:hi]
        chunk_target = targets[lo:hi] if targets is not None else target
        futures.append(
            task.remote(model_ref, rows_x, background_ref, chunk_target, seed, explain_kwargs)
        )
    parts: list[Attributions] = require("ray").get(futures)
    return _concatenate(parts)


def _concatenate(parts: list[Attributions]) -> Attributions:
    """The chunks' attributions as one result, rows in order.

    Parameters
    ----------
    parts : list of Attributions
        Same features, method and output space.

    Returns
    -------
    Attributions
    """
    first = parts[0]
    outputs = [p.model_output for p in parts if p.model_output is not None]
    return Attributions(
        np.concatenate([p.values for p in parts]),
        np.concatenate([p.base_values for p in parts]),
        np.concatenate([p.data for p in parts]),
        first.feature_names,
        np.concatenate([p.target for p in parts]),
        first.method,
        first.output_space,
        np.concatenate(outputs) if len(outputs) == len(parts) else None,
    )
