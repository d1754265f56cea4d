"""A fair attribution comparison: independent explanation runs for teacher and students.

Sampling explainers differ from run to run. A student explained with the teacher's own
seed and background shares the teacher's sampling noise and looks closer to it than it
is. Here the teacher and every student are explained R >= 2 times, each run with its own
seed and its own background subsample, and:

* the student's agreement is the mean over every pair (teacher run a, student run b);
* the noise floor is the mean over every pair (teacher run a, teacher run b), a < b;

both per row, with bootstrap intervals over the explained rows. A student is said to
"use the teacher's features" only when its interval overlaps the floor's.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import numpy as np

from .. import attributions as attr
from .. import metrics
from .._defaults import MIN_BACKGROUND_PER_FEATURE, MIN_EXPLAIN_ROWS_PER_FEATURE
from ..exceptions import InterpretableKDWarning

__all__ = ["check_budget", "cross_agreement", "explain_runs", "run_seed", "uses_teacher_features"]

#: The per-row metrics averaged over pairs of runs.
PER_ROW = {
    "feature_agreement": attr.feature_agreement,
    "rank_agreement": attr.rank_agreement,
    "sign_agreement": attr.sign_agreement,
    "signed_rank_agreement": attr.signed_rank_agreement,
}
#: The metric that decides "uses the teacher's features".
DECIDING_METRIC = "feature_agreement"


def run_seed(random_state: int, role: int, run: int) -> np.random.Generator:
    """An independent generator for one explanation run.

    Parameters
    ----------
    random_state : int
        The comparison's seed.
    role : int
        0 for the teacher, 1 + i for the i-th student.
    run : int
        The run, 0 .. R - 1.

    Returns
    -------
    numpy.random.Generator
        Seeded by ``SeedSequence([random_state, role, run])``.
    """
    return np.random.default_rng(np.random.SeedSequence([int(random_state), role, run]))


def explain_runs(
    model: Any,
    X_explain: Any,
    background: Any,
    target: np.ndarray,
    random_state: int,
    role: int,
    n_runs: int,
    explain_kwargs: dict[str, Any],
) -> list[attr.Attributions]:
    """``n_runs`` explanations of ``model``, each with its own seed and background draw.

    Parameters
    ----------
    model : object
        Anything :func:`~interpretable_kd.attributions.explain` accepts.
    X_explain : array-like of shape (n_explained, n_features)
        The explained rows.
    background : array-like
        The background pool (subsampled to ``max_background`` rows afresh by each run).
    target : ndarray of shape (n_explained,)
        The teacher's class of each row (every model explains the same class).
    random_state : int
        The comparison's seed.
    role : int
        See :func:`run_seed`.
    n_runs : int
        R.
    explain_kwargs : dict
        Further arguments of ``explain``.

    Returns
    -------
    list of Attributions
        One per run.
    """
    return [
        attr.explain(
            model,
            X_explain,
            background,
            target=target,
            random_state=run_seed(random_state, role, run),
            **explain_kwargs,
        )
        for run in range(n_runs)
    ]


def _per_row(pairs: list[tuple[np.ndarray, np.ndarray]], k: int) -> dict[str, np.ndarray]:
    """Per-row metrics averaged over the pairs of runs.

    Parameters
    ----------
    pairs : list of (ndarray, ndarray)
        Attribution values of shape (n_rows, n_features), paired.
    k : int
        Top-k.

    Returns
    -------
    dict of str to ndarray of shape (n_rows,)
    """
    out = {name: np.mean([f(a, b, k) for a, b in pairs], axis=0) for name, f in PER_ROW.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows stay NaN
        out["rank_correlation"] = np.nanmean(
            [attr.rank_correlation(a, b) for a, b in pairs], axis=0
        )
    out["pairwise_rank_agreement"] = np.mean(
        [attr.pairwise_rank_agreement(a, b) for a, b in pairs], axis=0
    )
    return out


def cross_agreement(
    runs_a: list[attr.Attributions],
    runs_b: list[attr.Attributions] | None,
    k: int,
    n_bootstrap: int,
    random_state: int,
) -> dict[str, dict[str, Any]]:
    """Agreement between independent runs, averaged over pairs, with intervals over rows.

    Parameters
    ----------
    runs_a : list of Attributions
        The teacher's runs.
    runs_b : list of Attributions or None
        A student's runs (every pair (a, b)); None: the noise floor (pairs a < b of
        ``runs_a``).
    k : int
        Top-k.
    n_bootstrap : int
        Resamples per interval (at least 1 is used).
    random_state : int
        Seed of the resampling.

    Returns
    -------
    dict
        ``{metric: {"mean": float, "ci": (low, high)}}`` for the metrics of
        :func:`~interpretable_kd.attributions.agreement_summary`.
    """
    values = [r.values for r in runs_a]
    if runs_b is None:
        pairs = [(values[a], values[b]) for a, b in itertools.combinations(range(len(values)), 2)]
    else:
        pairs = [(a, b.values) for a, b in itertools.product(values, runs_b)]
    per_row = _per_row(pairs, k)
    n_resamples = max(n_bootstrap, 1)
    summary: dict[str, dict[str, Any]] = {}
    for name, row_values in per_row.items():
        finite = row_values[~np.isnan(row_values)]
        mean = float(finite.mean()) if finite.size else float("nan")
        ci = (
            metrics.bootstrap_ci(
                np.mean, finite, n_resamples=n_resamples, random_state=random_state
            )
            if finite.size
            else (float("nan"), float("nan"))
        )
        summary[name] = {"mean": mean, "ci": ci}
    index = np.arange(len(values[0]))

    def global_corr(rows: np.ndarray) -> float:
        return float(np.mean([attr.global_rank_correlation(a[rows], b[rows]) for a, b in pairs]))

    summary["global_rank_correlation"] = {
        "mean": global_corr(index),
        "ci": metrics.bootstrap_ci(
            global_corr, index, n_resamples=n_resamples, random_state=random_state
        ),
    }
    return summary


def uses_teacher_features(
    student: dict[str, dict[str, Any]], floor: dict[str, dict[str, Any]] | None
) -> dict[str, Any] | None:
    """Whether the student's agreement is indistinguishable from the explainer's floor.

    Parameters
    ----------
    student, floor : dict
        :func:`cross_agreement` of the student and the noise floor.

    Returns
    -------
    dict or None
        ``metric``, ``student`` and ``student_ci``, ``floor`` and ``floor_ci``,
        ``gap`` (floor - student) and ``overlaps`` (the intervals overlap: the student
        "uses the teacher's features" as far as the explainer can tell); None without a
        floor.
    """
    if floor is None:
        return None
    s, f = student[DECIDING_METRIC], floor[DECIDING_METRIC]
    overlaps = bool(s["ci"][1] >= f["ci"][0] and f["ci"][1] >= s["ci"][0])
    return {
        "metric": DECIDING_METRIC,
        "student": s["mean"],
        "student_ci": s["ci"],
        "floor": f["mean"],
        "floor_ci": f["ci"],
        "gap": f["mean"] - s["mean"],
        "overlaps": overlaps,
    }


def check_budget(
    n_explained: int,
    n_background: int,
    n_features: int,
    floor: dict[str, dict[str, Any]] | None,
    k: int,
    stacklevel: int,
) -> str | None:
    """Warn when the explainer budget is too small to separate students from the floor.

    Too small: fewer than ``MIN_EXPLAIN_ROWS_PER_FEATURE`` explained rows or
    ``MIN_BACKGROUND_PER_FEATURE`` background rows per feature, or a noise floor whose
    top-k feature agreement interval is wider than 0.2 or whose upper end is below 0.5
    (the explainer does not agree with itself on the top-k features of a row).

    Parameters
    ----------
    n_explained, n_background, n_features : int
        The budget and the number of features.
    floor : dict or None
        The noise floor.
    k : int
        Top-k.
    stacklevel : int
        Where the warning points, counted from the caller.

    Returns
    -------
    str or None
        The warning's text, also issued as an ``InterpretableKDWarning``; None when the
        budget is enough.
    """
    problems = []
    if n_explained < MIN_EXPLAIN_ROWS_PER_FEATURE * n_features:
        problems.append(
            f"{n_explained} explained rows for {n_features} features (fewer than "
            f"{MIN_EXPLAIN_ROWS_PER_FEATURE} per feature)"
        )
    if n_background < MIN_BACKGROUND_PER_FEATURE * n_features:
        problems.append(f"{n_background} background rows for {n_features} features")
    if floor is not None:
        fa = floor[DECIDING_METRIC]
        if fa["ci"][1] - fa["ci"][0] > 0.2:
            problems.append(f"a noise-floor interval {fa['ci'][0]:.2f}-{fa['ci'][1]:.2f} wide")
        if fa["ci"][1] < 0.5:
            problems.append(
                f"a noise floor of {fa['mean']:.2f}: the explainer shares under half of "
                f"its own top-{k} features between runs"
            )
    if not problems:
        return None
    text = (
        "The attribution budget may be too small to tell a student from the explainer's "
        "noise floor: " + "; ".join(problems) + ". Use preset='thorough' or raise "
        "explain_rows, max_background or n_permutations."
    )
    warnings.warn(text, InterpretableKDWarning, stacklevel=stacklevel + 1)
    return text
