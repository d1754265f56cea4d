"""How much two explanations of the same rows agree.

After Krishna et al. (2022), "The Disagreement Problem in Explainable Machine Learning: A
Practitioner's Perspective": per-row feature, rank, sign and signed-rank agreement of the
top-k features, rank correlation and pairwise rank agreement, plus
:func:`agreement_summary` with bootstrap confidence intervals.

Every metric takes two :class:`~interpretable_kd.attributions.Attributions` (or their
``values``) of shape (n_rows, n_features). Ties in |value| go to the lower feature index.

Noise floor: sampling-based explanations of the *same* model differ from run to run.
Explain the teacher twice with different ``random_state`` values and measure its agreement
with itself to know how much teacher-student disagreement is real.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validation import check_number, format_items
from ..exceptions import InputError, ParameterError
from ..metrics import as_generator, bootstrap_ci
from ._result import Attributions

__all__ = [
    "agreement_summary",
    "feature_agreement",
    "global_rank_correlation",
    "pairwise_rank_agreement",
    "rank_agreement",
    "rank_correlation",
    "sign_agreement",
    "signed_rank_agreement",
]


def _pair(a: Any, b: Any, owner: str) -> tuple[np.ndarray, np.ndarray]:
    """Two finite, non-empty attribution arrays of the same shape.

    Parameters
    ----------
    a, b : Attributions or array-like of shape (n_rows, n_features)
        The two explanations.
    owner : str
        Name of the calling function, for error messages.

    Returns
    -------
    A, B : ndarray of shape (n_rows, n_features), float64
        Their values.
    """
    arrays = []
    for name, value in (("a", a), ("b", b)):
        raw = value.values if isinstance(value, Attributions) else value
        try:
            array = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{owner} needs {name} as a numeric array ({exc}).") from exc
        if array.ndim != 2 or array.size == 0:
            raise InputError(
                f"{owner} needs {name} of shape (n_rows, n_features) with at least one row "
                f"and one feature, got shape {array.shape}. Pass Attributions or their .values."
            )
        if not np.all(np.isfinite(array)):
            raise InputError(f"{owner} got non-finite values (NaN or inf) in {name}.")
        arrays.append(array)
    if arrays[0].shape != arrays[1].shape:
        raise InputError(
            f"{owner} needs a and b of the same shape (n_rows, n_features), got "
            f"{arrays[0].shape} and {arrays[1].shape}. Explain the same rows with the same "
            "features."
        )
    return arrays[0], arrays[1]


def _check_k(k: Any, d: int, owner: str) -> int:
    """The top-k size, checked against the number of features.

    Parameters
    ----------
    k : int
        Requested number of top features.
    d : int
        Number of features.
    owner : str
        Name of the calling function, for error messages.

    Returns
    -------
    int
        k, in [1, d].
    """
    if isinstance(k, int | np.integer) and not isinstance(k, bool) and k > d >= 1:
        raise ParameterError(
            f"The 'k' parameter of {owner} must be an int in the range [1, {d}] (the number "
            f"of features). Got {k!r} instead. Pass k=min(k, n_features)."
        )
    return int(check_number(k, "k", owner, integer=True, low=1, high=d))


def _top_k(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest |values| per row, largest first.

    Ties go to the lower feature index.

    Parameters
    ----------
    values : ndarray of shape (n_rows, n_features)
        Attributions.
    k : int
        Features kept per row.

    Returns
    -------
    int ndarray of shape (n_rows, k)
        Feature indices, by decreasing |value|.
    """
    return np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k]


def _top_k_parts(
    a: Any, b: Any, k: Any, owner: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Checked arrays, their top-k indices and k, for the top-k metrics.

    Parameters
    ----------
    a, b : Attributions or array-like of shape (n_rows, n_features)
        The two explanations.
    k : int
        Requested number of top features.
    owner : str
        Name of the calling function, for error messages.

    Returns
    -------
    A, B : ndarray of shape (n_rows, n_features)
        The values of a and b.
    top_a, top_b : int ndarray of shape (n_rows, k)
        Their top-k feature indices (:func:`_top_k`).
    k : int
        The checked k.
    """
    A, B = _pair(a, b, owner)
    k = _check_k(k, A.shape[1], owner)
    return A, B, _top_k(A, k), _top_k(B, k), k


def _in_top(top: np.ndarray, d: int) -> np.ndarray:
    """Membership mask of the top-k features.

    Parameters
    ----------
    top : int ndarray of shape (n_rows, k)
        Feature indices.
    d : int
        Number of features.

    Returns
    -------
    bool ndarray of shape (n_rows, d)
        True where feature j is among row i's indices.
    """
    member = np.zeros((top.shape[0], d), dtype=bool)
    np.put_along_axis(member, top, True, axis=1)
    return member


def feature_agreement(a: Any, b: Any, k: int) -> np.ndarray:
    """Share of the top-k features (by |value|) that the two explanations have in common.

    ``FA_i = |top_k(a_i) ∩ top_k(b_i)| / k``, shape (n_rows,). Ties in |value| go to the
    lower feature index (for all top-k metrics).

    Parameters
    ----------
    a, b : Attributions or arrays of shape (n_rows, n_features)
        The two explanations.
    k : int in [1, n_features]
        Number of top features compared.

    Returns
    -------
    ndarray of shape (n_rows,)
        FA_i, in [0, 1].
    """
    A, _, top_a, top_b, k = _top_k_parts(a, b, k, "feature_agreement")
    d = A.shape[1]
    return (_in_top(top_a, d) & _in_top(top_b, d)).sum(axis=1) / k


def rank_agreement(a: Any, b: Any, k: int) -> np.ndarray:
    """Share of the top-k positions holding the same feature in both explanations.

    ``RA_i = (1/k) * sum_{r<k} [top_k(a_i)[r] == top_k(b_i)[r]]``.

    Parameters
    ----------
    a, b : Attributions or arrays of shape (n_rows, n_features)
        The two explanations.
    k : int in [1, n_features]
        Number of top features compared.

    Returns
    -------
    ndarray of shape (n_rows,)
        RA_i, in [0, 1].
    """
    _, _, top_a, top_b, _ = _top_k_parts(a, b, k, "rank_agreement")
    return (top_a == top_b).mean(axis=1)


def sign_agreement(a: Any, b: Any, k: int) -> np.ndarray:
    """Share of top-k features in both top-k sets whose attributions also have the same sign.

    ``SA_i = |{j ∈ top_k(a_i) ∩ top_k(b_i) : sign(a_ij) = sign(b_ij)}| / k``.

    Parameters
    ----------
    a, b : Attributions or arrays of shape (n_rows, n_features)
        The two explanations.
    k : int in [1, n_features]
        Number of top features compared.

    Returns
    -------
    ndarray of shape (n_rows,)
        SA_i, in [0, 1].
    """
    A, B, top_a, top_b, k = _top_k_parts(a, b, k, "sign_agreement")
    d = A.shape[1]
    same = _in_top(top_a, d) & _in_top(top_b, d) & (np.sign(A) == np.sign(B))
    return same.sum(axis=1) / k


def signed_rank_agreement(a: Any, b: Any, k: int) -> np.ndarray:
    """Share of top-k positions with the same feature and the same sign in both.

    ``SRA_i = (1/k) * sum_{r<k} [top_a[r] == top_b[r] and sign(a_i,top_a[r]) ==
    sign(b_i,top_b[r])]``.

    Parameters
    ----------
    a, b : Attributions or arrays of shape (n_rows, n_features)
        The two explanations.
    k : int in [1, n_features]
        Number of top features compared.

    Returns
    -------
    ndarray of shape (n_rows,)
        SRA_i, in [0, 1].
    """
    A, B, top_a, top_b, _ = _top_k_parts(a, b, k, "signed_rank_agreement")
    signs_a = np.sign(np.take_along_axis(A, top_a, axis=1))
    signs_b = np.sign(np.take_along_axis(B, top_b, axis=1))
    return ((top_a == top_b) & (signs_a == signs_b)).mean(axis=1)


def _spearman_rows(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Spearman correlation between the rows of A and B (average ranks for ties).

    ``rho_i = sum_j ra_ij rb_ij / sqrt(sum_j ra_ij^2 * sum_j rb_ij^2)`` with centred ranks
    ra, rb.

    Parameters
    ----------
    A, B : ndarray of shape (n_rows, n_features)
        Paired rows.

    Returns
    -------
    ndarray of shape (n_rows,)
        rho_i in [-1, 1]; NaN where a row of A or B is constant.
    """
    from scipy.stats import rankdata  # imported on use: keeps `import interpretable_kd` fast

    ra = rankdata(A, axis=1)
    rb = rankdata(B, axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denom = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (ra * rb).sum(axis=1) / denom
    return np.where(denom > 0, np.clip(rho, -1.0, 1.0), np.nan)


def rank_correlation(a: Any, b: Any) -> np.ndarray:
    """Spearman correlation between |a_i| and |b_i| for each row, shape (n_rows,).

    Ties get average ranks. A row where all |a_ij| (or all |b_ij|) are equal, e.g. all
    zero, or with a single feature, has no defined correlation: NaN.

    Parameters
    ----------
    a, b : Attributions or arrays of shape (n_rows, n_features)
        The two explanations.

    Returns
    -------
    ndarray of shape (n_rows,)
        Correlations in [-1, 1], or NaN.
    """
    A, B = _pair(a, b, "rank_correlation")
    return _spearman_rows(np.abs(A), np.abs(B))


def global_rank_correlation(a: Any, b: Any) -> float:
    """Spearman correlation between the global importances ``mean_i |a_ij|`` and
    ``mean_i |b_ij|``.

    Parameters
    ----------
    a, b : Attributions or arrays of shape (n_rows, n_features)
        The two explanations.

    Returns
    -------
    float
        One correlation in [-1, 1]; NaN if either importance vector is constant.
    """
    A, B = _pair(a, b, "global_rank_correlation")
    return float(_spearman_rows(np.abs(A).mean(axis=0)[None], np.abs(B).mean(axis=0)[None])[0])


def _feature_indices(features: Any, a: Any, d: int, owner: str) -> np.ndarray:
    """Sorted distinct column indices of the features compared pairwise.

    Parameters
    ----------
    features : sequence of int or str, or None
        Column indices, or feature names of ``a``; None: all features.
    a : Attributions or ndarray
        The first explanation (its ``feature_names`` resolve names).
    d : int
        Number of features.
    owner : str
        Name of the calling function, for error messages.

    Returns
    -------
    int ndarray of shape (n_selected,)
        At least two distinct indices in ``0 .. d - 1``.
    """
    if features is None:
        return np.arange(d)
    items = list(features)
    names = a.feature_names if isinstance(a, Attributions) else None
    indices = []
    for item in items:
        if isinstance(item, str):
            if names is None or item not in names:
                known = f" Known: {format_items(names)}." if names else ""
                raise InputError(
                    f"{owner} got feature {item!r}, which is not a feature name of a.{known} "
                    "Pass column indices, or Attributions that carry feature_names."
                )
            indices.append(names.index(item))
        elif isinstance(item, int | np.integer) and 0 <= item < d:
            indices.append(int(item))
        else:
            raise InputError(
                f"{owner} got feature {item!r}; features must be column indices in "
                f"0..{d - 1} or feature names."
            )
    unique = np.unique(indices)
    if len(unique) < 2:
        raise InputError(
            f"{owner} needs at least two distinct features to compare pairs, got "
            f"{format_items(items)}."
        )
    return unique


def pairwise_rank_agreement(a: Any, b: Any, features: Sequence[Any] | None = None) -> np.ndarray:
    """Share of feature pairs whose relative order by |value| is the same in a and b.

    ``PRA_i = mean_{j<l in F} [sign(|a_ij| - |a_il|) == sign(|b_ij| - |b_il|)]``, shape
    (n_rows,). A tie counts as agreeing only with a tie.

    Parameters
    ----------
    a, b : Attributions or arrays of shape (n_rows, n_features)
        The two explanations.
    features : sequence of column indices (or names, when a is Attributions), optional
        The set F of features compared (at least two). Default: all features.

    Returns
    -------
    ndarray of shape (n_rows,)
        PRA_i, in [0, 1].
    """
    owner = "pairwise_rank_agreement"
    A, B = _pair(a, b, owner)
    idx = _feature_indices(features, a, A.shape[1], owner)
    A_abs, B_abs = np.abs(A[:, idx]), np.abs(B[:, idx])
    first, second = np.triu_indices(len(idx), k=1)
    order_a = np.sign(A_abs[:, first] - A_abs[:, second])
    order_b = np.sign(B_abs[:, first] - B_abs[:, second])
    return (order_a == order_b).mean(axis=1)


def agreement_summary(
    a: Any,
    b: Any,
    k: int = 5,
    n_bootstrap: int = 1000,
    random_state: Any = None,
) -> dict[str, dict[str, Any]]:
    """All agreement metrics of two explanations, with bootstrap confidence intervals.

    Returns ``{name: {"mean": float, "ci": (low, high)}}`` for "feature_agreement",
    "rank_agreement", "sign_agreement", "signed_rank_agreement" (top-k), "rank_correlation",
    "pairwise_rank_agreement" (means over rows; rows where rank_correlation is NaN are
    left out) and "global_rank_correlation" (on the mean |values|). Intervals are 95%
    percentile bootstraps over rows (:func:`interpretable_kd.metrics.bootstrap_ci`), every
    metric resampled with the same row indices.

    Parameters
    ----------
    a, b : Attributions or arrays of shape (n_rows, n_features)
        The two explanations.
    k : int in [1, n_features]
        Number of top features for the top-k metrics.
    n_bootstrap : int >= 1
        Bootstrap resamples per interval.
    random_state : None, int or numpy Generator
        Seeds the resampling (one seed for every metric).

    Returns
    -------
    dict
        ``{name: {"mean": float, "ci": (low, high)}}``, one entry per metric.
    """
    owner = "agreement_summary"
    A, B = _pair(a, b, owner)
    k = _check_k(k, A.shape[1], owner)
    n_bootstrap = check_number(n_bootstrap, "n_bootstrap", owner, integer=True, low=1)
    seed = int(as_generator(random_state).integers(0, 2**63 - 1))
    per_row = {
        "feature_agreement": feature_agreement(A, B, k),
        "rank_agreement": rank_agreement(A, B, k),
        "sign_agreement": sign_agreement(A, B, k),
        "signed_rank_agreement": signed_rank_agreement(A, B, k),
        "rank_correlation": rank_correlation(A, B),
        "pairwise_rank_agreement": pairwise_rank_agreement(A, B),
    }
    summary: dict[str, dict[str, Any]] = {}
    for name, values in per_row.items():
        mean = float(np.nanmean(values)) if np.any(~np.isnan(values)) else float("nan")
        ci = bootstrap_ci(_nanmean, values, n_resamples=n_bootstrap, random_state=seed)
        summary[name] = {"mean": mean, "ci": ci}
    summary["global_rank_correlation"] = {
        "mean": global_rank_correlation(A, B),
        "ci": bootstrap_ci(
            global_rank_correlation, A, B, n_resamples=n_bootstrap, random_state=seed
        ),
    }
    return summary


def _nanmean(values: np.ndarray) -> float:
    """Mean of the non-NaN values.

    Parameters
    ----------
    values : ndarray of shape (n,)
        Values, possibly NaN.

    Returns
    -------
    float
        Their mean, NaN if all are NaN.
    """
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float("nan")
