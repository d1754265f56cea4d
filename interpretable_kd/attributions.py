"""SHAP-style explanations of any classifier, and metrics of how much two explanations agree.

Explanations
------------
:func:`explain` computes interventional Shapley values of ``P(class t_i | x_i)``, the model's
probability for one class per row, for any object with ``predict_proba``. The value of a
coalition S of features for row x is

    v(S) = sum_b w_b * f_t(x_S, z_b,~S),

the model's probability for class t when the features in S come from x and the others from
background row z_b (weights w_b sum to 1). Shapley values ``phi_j`` split
``v(all) - v(none) = f_t(x) - E_b f_t(z_b)`` among the features, so
``values.sum(1) + base_values == f_t(x)`` (completeness).

Methods: exact enumeration of all 2^d coalitions (``"exact"``), a vectorised antithetic
permutation-sampling estimator (``"permutation"``), shap's KernelExplainer (``"kernel"``, a
slow reference) and a closed form for linear models in their decision (logit) space
(``"linear"``, a cross-check only). All methods evaluate the model on large stacked
batches, so one call explains hundreds of rows in seconds.

Agreement metrics
-----------------
After Krishna et al. (2022), "The Disagreement Problem in Explainable Machine Learning: A
Practitioner's Perspective": per-row feature, rank, sign and signed-rank agreement of the
top-k features, rank correlation and pairwise rank agreement, plus
:func:`agreement_summary` with bootstrap confidence intervals.

Noise floor
-----------
Sampling-based explanations of the *same* model differ from run to run. To know how much
disagreement between a teacher and a student is real, explain the teacher twice with
different ``random_state`` values and measure its agreement with itself:
``explain(teacher, X, bg, random_state=1)`` vs ``explain(teacher, X, bg, random_state=2)``.
Each seed draws its own background subsample (when ``background`` has more than
``max_background`` rows) and its own permutations, so the two runs are independent.

Only this module imports shap, and only inside functions, so ``import interpretable_kd``
stays fast.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._validation import check_choice, check_number, format_items
from .exceptions import InputError, InputTypeError, ParameterError
from .metrics import as_generator, bootstrap_ci

if TYPE_CHECKING:  # pragma: no cover
    import shap

__all__ = [
    "Attributions",
    "agreement_summary",
    "explain",
    "feature_agreement",
    "global_rank_correlation",
    "pairwise_rank_agreement",
    "rank_agreement",
    "rank_correlation",
    "sign_agreement",
    "signed_rank_agreement",
]

METHODS = ("auto", "exact", "permutation", "kernel", "linear")
SUMMARIES = ("sample", "kmeans")
# method="auto" enumerates all coalitions up to this many features (2^8 - 2 = 254
# coalitions, about the cost of 10 permutations over 30 features) and samples beyond it.
EXACT_MAX_FEATURES = 8
# method="exact" refuses more features than this: 2^16 coalitions per row.
EXACT_LIMIT = 16


# --------------------------------------------------------------------------- result type


@dataclass(frozen=True, eq=False)
class Attributions:
    """Feature attributions of one model for one explained class per row.

    Parallel arrays, as in ``shap.Explanation``; convert with :meth:`to_shap`.

    Attributes
    ----------
    values : ndarray of shape (n_rows, n_features), float64
        Attribution of each feature to the explained output of each row.
    base_values : ndarray of shape (n_rows,), float64
        Expected output over the background for the explained class of each row.
    data : ndarray of shape (n_rows, n_features), float64
        The explained rows.
    feature_names : list of str, length n_features
    target : ndarray of shape (n_rows,), int64
        Column index (into ``predict_proba``) of the class explained in each row.
    method : str
        "exact", "permutation", "kernel" or "linear".
    output_space : str
        "probability" (``values`` add up to ``predict_proba``) or "logit" (method
        "linear": they add up to the decision function).
    model_output : ndarray of shape (n_rows,), optional
        The model's output for the explained class, in ``output_space``.
    """

    values: np.ndarray
    base_values: np.ndarray
    data: np.ndarray
    feature_names: list[str]
    target: np.ndarray
    method: str
    output_space: str = "probability"
    model_output: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=np.float64)
        if values.ndim != 2:
            raise InputError(
                f"Attributions needs values of shape (n_rows, n_features), got {values.shape}."
            )
        n, d = values.shape
        arrays: dict[str, Any] = {
            "values": values,
            "base_values": np.broadcast_to(
                np.asarray(self.base_values, dtype=np.float64), (n,)
            ).copy(),
            "data": np.asarray(self.data, dtype=np.float64),
            "target": np.broadcast_to(np.asarray(self.target, dtype=np.int64), (n,)).copy(),
            "feature_names": [str(name) for name in self.feature_names],
        }
        if self.model_output is not None:
            arrays["model_output"] = np.asarray(self.model_output, dtype=np.float64)
            if arrays["model_output"].shape != (n,):
                raise InputError(
                    f"Attributions needs model_output of shape ({n},), "
                    f"got {arrays['model_output'].shape}."
                )
        if arrays["data"].shape != (n, d):
            raise InputError(
                f"Attributions needs data of the same shape as values ({n}, {d}), "
                f"got {arrays['data'].shape}."
            )
        if len(arrays["feature_names"]) != d:
            raise InputError(
                f"Attributions needs {d} feature_names (one per column of values), "
                f"got {len(arrays['feature_names'])}."
            )
        for name, value in arrays.items():
            object.__setattr__(self, name, value)

    @property
    def n_rows(self) -> int:
        """Number of explained rows."""
        return int(self.values.shape[0])

    @property
    def n_features(self) -> int:
        """Number of features."""
        return int(self.values.shape[1])

    def to_shap(self) -> shap.Explanation:
        """The same numbers as a ``shap.Explanation`` (for shap's plots)."""
        import shap

        return shap.Explanation(
            values=self.values.copy(),
            base_values=self.base_values.copy(),
            data=self.data.copy(),
            feature_names=list(self.feature_names),
        )

    def global_importance(self) -> np.ndarray:
        """Mean absolute attribution of each feature over the rows, shape (n_features,)."""
        return np.abs(self.values).mean(axis=0)

    def completeness_gap(self, model_output: Any = None) -> np.ndarray:
        """``values.sum(1) + base_values - model_output``, shape (n_rows,).

        Zero (up to rounding) for exact Shapley values and for this module's permutation
        estimator. ``model_output`` defaults to the output recorded by :func:`explain`.
        """
        if model_output is None:
            if self.model_output is None:
                raise InputError(
                    "Attributions.completeness_gap needs model_output: these attributions "
                    "carry none. Pass the model's output for the explained class of each "
                    "row, e.g. model.predict_proba(X)[np.arange(n), attributions.target]."
                )
            model_output = self.model_output
        output = np.asarray(model_output, dtype=np.float64).reshape(-1)
        if output.shape != (self.n_rows,):
            raise InputError(
                f"Attributions.completeness_gap needs model_output of shape ({self.n_rows},), "
                f"one value per explained row, but got shape {np.shape(model_output)}."
            )
        return self.values.sum(axis=1) + self.base_values - output

    def check_additivity(self, model_output: Any = None, atol: float = 1e-6) -> bool:
        """True when every ``|completeness_gap(model_output)| <= atol``."""
        return bool(np.all(np.abs(self.completeness_gap(model_output)) <= atol))


# --------------------------------------------------------------------------- input checks


def _matrix(values: Any, name: str, owner: str) -> tuple[np.ndarray, list[str] | None]:
    """A finite, non-empty 2-d float64 array, and the column names of a DataFrame."""
    columns = [str(c) for c in values.columns] if isinstance(values, pd.DataFrame) else None
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{owner} needs {name} as a numeric array of shape (n_rows, n_features) ({exc}). "
            "Encode categorical columns first, e.g. with "
            "interpretable_kd.datasets.TabularPreprocessor."
        ) from exc
    if array.ndim == 1:
        raise InputError(
            f"{owner} needs {name} of shape (n_rows, n_features), but got a 1-d array of "
            f"shape {array.shape}. For a single row use {name}.reshape(1, -1)."
        )
    if array.ndim != 2:
        raise InputError(
            f"{owner} needs {name} of shape (n_rows, n_features), got shape {array.shape}."
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise InputError(f"{owner} got an empty {name} (shape {array.shape}).")
    if not np.all(np.isfinite(array)):
        row, col = np.argwhere(~np.isfinite(array))[0]
        raise InputError(
            f"{owner} got a non-finite value (NaN or inf) in {name} at row {row}, column "
            f"{col}. Impute or drop missing values first."
        )
    return array, columns


class _ModelFunction:
    """``predict_proba`` with output checks; rebuilds DataFrames for models fitted on them."""

    def __init__(self, model: Any, columns: list[str] | None, owner: str) -> None:
        predict_proba = getattr(model, "predict_proba", None)
        if not callable(predict_proba):
            raise InputTypeError(
                f"{owner} needs a model with a predict_proba(X) method returning class "
                f"probabilities of shape (n_rows, n_classes). Got {type(model).__name__}, "
                "which has none. Wrap a callable or torch module with "
                "interpretable_kd.as_teacher(model)."
            )
        self.predict_proba: Callable[[Any], Any] = predict_proba
        self.columns = columns
        self.owner = owner
        self.name = type(model).__name__
        self.n_classes: int | None = None
        self.n_calls = 0
        self.n_evaluations = 0

    def __call__(self, Z: np.ndarray) -> np.ndarray:
        inputs = pd.DataFrame(Z, columns=self.columns, copy=False) if self.columns else Z
        out = np.asarray(self.predict_proba(inputs), dtype=np.float64)
        self.n_calls += 1
        self.n_evaluations += len(Z)
        if out.ndim != 2 or out.shape[0] != len(Z):
            raise InputError(
                f"{self.owner} needs {self.name}.predict_proba to return an array of shape "
                f"(n_rows, n_classes) = ({len(Z)}, k), but it returned shape {out.shape}. "
                "For a binary positive-class probability p, return np.column_stack([1 - p, p])."
            )
        if self.n_classes is None:
            self.n_classes = out.shape[1]
        elif out.shape[1] != self.n_classes:
            raise InputError(
                f"{self.owner}: {self.name}.predict_proba returned {out.shape[1]} columns "
                f"after returning {self.n_classes} before; it must always return one column "
                "per class."
            )
        if not np.all(np.isfinite(out)):
            raise InputError(
                f"{self.owner}: {self.name}.predict_proba returned non-finite values (NaN or "
                "inf). Check the model, and that the inputs are scaled as in training."
            )
        return out


def _resolve_target(target: Any, proba_X: np.ndarray, owner: str) -> np.ndarray:
    n, k = proba_X.shape
    if target is None:
        return proba_X.argmax(axis=1).astype(np.int64)
    array = np.asarray(target)
    if array.ndim == 0:
        array = np.full(n, array)
    if array.shape != (n,) or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.bool_)
    ):
        raise InputError(
            f"{owner} needs target as an int array of shape ({n},), one class index per row "
            f"of X (or a single int), but got {array.dtype} of shape {array.shape}. Pass "
            "class indices such as teacher.predict_proba(X).argmax(axis=1), not labels."
        )
    if array.min() < 0 or array.max() >= k:
        raise InputError(
            f"{owner} got target indices {format_items(np.unique(array).tolist())}, but the "
            f"model returns {k} classes, so indices must lie in 0..{k - 1}. Pass column "
            "indices into predict_proba, not class labels."
        )
    return array.astype(np.int64)


def _summarize_background(
    background: np.ndarray, max_background: int, how: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_background`` rows and their weights (summing to 1).

    "sample": a uniform subsample without replacement (weights equal). "kmeans": k-means
    centres weighted by cluster size, each coordinate snapped to the nearest value seen in
    that feature (as ``shap.kmeans`` does, so one-hot columns stay 0/1).
    """
    m = len(background)
    if m <= max_background:
        return background, np.full(m, 1.0 / m)
    if how == "sample":
        rows = np.sort(rng.choice(m, size=max_background, replace=False))
        return background[rows], np.full(max_background, 1.0 / max_background)
    from sklearn.cluster import KMeans

    seed = int(rng.integers(0, 2**31 - 1))
    km = KMeans(n_clusters=max_background, n_init=1, random_state=seed).fit(background)
    centres = km.cluster_centers_.copy()
    for j in range(background.shape[1]):
        seen = np.unique(background[:, j])
        pos = np.clip(np.searchsorted(seen, centres[:, j]), 1, max(len(seen) - 1, 1))
        lower = seen[pos - 1]
        upper = seen[np.minimum(pos, len(seen) - 1)]
        centres[:, j] = np.where(centres[:, j] - lower <= upper - centres[:, j], lower, upper)
    counts = np.bincount(km.labels_, minlength=max_background).astype(np.float64)
    return centres, counts / counts.sum()


# --------------------------------------------------------------------------- value function


def _evaluate(
    predict: _ModelFunction,
    X: np.ndarray,
    target: np.ndarray,
    n_pairs: int,
    pair_inputs: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    batch_size: int,
    group: int = 1,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """The model's output for the target class at every (row, pair), stacked into batches.

    Pair p stands for the input ``where(mask_p, X[i], z_p)``: the features in ``mask_p``
    come from row i, the others from the background row ``z_p``; ``pair_inputs(indices)``
    returns those masks (m, d) and background rows (m, d). Returns shape
    (n_rows, n_pairs // group): consecutive groups of ``group`` pairs are averaged with
    ``weights`` (length ``group``). Each model call gets about ``batch_size`` inputs.
    """
    n, d = X.shape
    out_values = np.empty((n, n_pairs // group))
    if n_pairs == 0:
        return out_values
    pairs_per_call = min(n_pairs, max(1, batch_size // group) * group)
    rows_per_call = max(1, batch_size // pairs_per_call)
    for p0 in range(0, n_pairs, pairs_per_call):
        p1 = min(p0 + pairs_per_call, n_pairs)
        masks, rows = pair_inputs(np.arange(p0, p1))
        for r0 in range(0, n, rows_per_call):
            X_chunk, t_chunk = X[r0 : r0 + rows_per_call], target[r0 : r0 + rows_per_call]
            Z = np.where(masks[None], X_chunk[:, None, :], rows[None]).reshape(-1, d)
            out = predict(Z).reshape(len(X_chunk), p1 - p0, -1)
            picked = np.take_along_axis(out, t_chunk[:, None, None], axis=2)[..., 0]
            if group > 1:
                picked = picked.reshape(len(X_chunk), -1, group) @ weights
            out_values[r0 : r0 + len(X_chunk), p0 // group : p1 // group] = picked
    return out_values


def _exact_shapley(
    predict: _ModelFunction,
    X: np.ndarray,
    target: np.ndarray,
    background: np.ndarray,
    weights: np.ndarray,
    v_full: np.ndarray,
    v_empty: np.ndarray,
    batch_size: int,
) -> np.ndarray:
    """Exact Shapley values by enumerating all 2^d coalitions.

    ``phi_j = sum_{S ∌ j} |S|! (d - |S| - 1)! / d! * (v(S ∪ {j}) - v(S))``, written as
    ``phi = V @ W`` with V (n_rows, 2^d) the coalition values and
    ``W[S, j] = +w(|S| - 1)`` if j ∈ S, ``-w(|S|)`` otherwise. Cost: (2^d - 2) *
    n_background model evaluations per row.
    """
    d = X.shape[1]
    n_bg = len(background)
    masks = ((np.arange(2**d)[:, None] >> np.arange(d)) & 1).astype(bool)  # 0: none, -1: all
    interior = masks[1:-1]

    def pair_inputs(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return interior[index // n_bg], background[index % n_bg]

    V = np.empty((len(X), 2**d))
    V[:, 0], V[:, -1] = v_empty, v_full
    V[:, 1:-1] = _evaluate(
        predict, X, target, len(interior) * n_bg, pair_inputs, batch_size, n_bg, weights
    )
    weight = np.array([math.factorial(s) * math.factorial(d - s - 1) for s in range(d)]) / (
        math.factorial(d)
    )
    sizes = masks.sum(axis=1)
    W = np.where(
        masks,
        weight[np.clip(sizes - 1, 0, d - 1)][:, None],
        -weight[np.clip(sizes, 0, d - 1)][:, None],
    )
    return V @ W


def _permutation_shapley(
    predict: _ModelFunction,
    X: np.ndarray,
    target: np.ndarray,
    background: np.ndarray,
    weights: np.ndarray,
    proba_background: np.ndarray,
    v_full: np.ndarray,
    batch_size: int,
    n_orderings: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Antithetic permutation sampling of interventional Shapley values, vectorised.

    Interventional Shapley values are linear in the background distribution:
    ``phi = sum_b w_b phi^(b)``, where ``phi^(b)`` explains x against the single background
    row z_b. Each background row b gets its own ``n_orderings / 2`` random orderings π of
    the features, each used together with its reverse (antithetic pairs); the orderings
    are shared by all explained rows, so every model call stacks many rows. Along an
    ordering, feature π[r] gets ``v_b(π[:r+1]) - v_b(π[:r])`` with
    ``v_b(S) = f_t(x_S, z_b,~S)``; ``phi^(b)`` is estimated by the average over b's
    orderings. The prefixes of a reversed ordering are the complements of the forward
    prefixes, so each pair costs 2(d - 1) model evaluations per background row.

    Properties: unbiased; exact for additive models (every ordering gives the same
    contributions) and, thanks to the antithetic pairs, for models with at most pairwise
    interactions; each ordering's contributions sum to ``v_b(all) - v_b(none)``, so
    completeness holds exactly, not only on average. Spreading orderings across
    background rows (instead of evaluating every ordering against the whole background)
    costs ``n_background * n_orderings * (d - 1)`` evaluations per row and, in our
    measurements on breast_cancer, halves the error at equal cost.
    """
    n, d = X.shape
    n_bg = len(background)
    n_pairs = max(1, (n_orderings + 1) // 2)
    perms = rng.permuted(np.tile(np.arange(d), (n_bg * n_pairs, 1)), axis=1)
    ranks = np.argsort(perms, axis=1).reshape(n_bg, n_pairs, d)  # position of feature j
    forward = ranks[:, :, None, :] < np.arange(1, d)[None, None, :, None]  # (B, P, d-1, d)
    masks = np.concatenate([forward, ~forward], axis=2).reshape(n_bg, -1, d)  # (B, C, d)
    n_masks = masks.shape[1]
    flat_masks = masks.reshape(-1, d)

    def pair_inputs(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return flat_masks[index], background[index // n_masks]

    phi = np.empty((n, d))
    # Bound the memory of the per-row chains (rows * n_bg * n_masks float64 values).
    block = max(1, 2**22 // max(1, n_bg * (n_masks + 2 * n_pairs)))
    for r0 in range(0, n, block):
        rows = slice(r0, r0 + block)
        X_b, t_b, full = X[rows], target[rows], v_full[rows]
        m = len(X_b)
        V = _evaluate(predict, X_b, t_b, n_bg * n_masks, pair_inputs, batch_size)
        V = V.reshape(m, n_bg, n_pairs, 2, d - 1)
        empty = proba_background[:, t_b].T[:, :, None]  # (m, B, 1): v_b(none) = f_t(z_b)
        full_ = np.broadcast_to(full[:, None, None], (m, n_bg, n_pairs))
        empty_ = np.broadcast_to(empty, (m, n_bg, n_pairs))
        # Chains over prefix sizes 0..d: forward v_b(prefix_s), backward v_b(~prefix_s).
        chain_f = np.concatenate([empty_[..., None], V[:, :, :, 0], full_[..., None]], axis=3)
        chain_b = np.concatenate([full_[..., None], V[:, :, :, 1], empty_[..., None]], axis=3)
        # Feature at rank r: forward v(p_{r+1}) - v(p_r); in the reversed ordering it joins
        # the complement of p_{r+1}: v(~p_r) - v(~p_{r+1}).
        by_rank = np.diff(chain_f, axis=3) - np.diff(chain_b, axis=3)  # (m, B, P, d)
        by_feature = np.take_along_axis(by_rank, np.broadcast_to(ranks, by_rank.shape), axis=3)
        phi[rows] = np.einsum("mbpd,b->md", by_feature, weights) / (2 * n_pairs)
    return phi


def _kernel_shapley(
    predict: _ModelFunction,
    X: np.ndarray,
    target: np.ndarray,
    background: np.ndarray,
    weights: np.ndarray,
    feature_names: list[str],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """shap.KernelExplainer (nsamples="auto"), seeded through numpy's global generator,
    which is restored afterwards."""
    import shap
    from shap.utils._legacy import DenseData

    data = DenseData(background, list(feature_names), None, weights.copy())
    # KernelExplainer samples coalitions from numpy's global generator: seed it, restore it.
    state = np.random.get_state()  # noqa: NPY002
    try:
        np.random.seed(int(rng.integers(0, 2**32 - 1)))  # noqa: NPY002
        explainer = shap.KernelExplainer(predict, data)
        raw = explainer.shap_values(X, silent=True)
    finally:
        np.random.set_state(state)  # noqa: NPY002
    sv = np.stack(raw, axis=-1) if isinstance(raw, list) else np.asarray(raw)
    if sv.ndim == 2:  # a single output
        sv = sv[:, :, None]
    values = sv[np.arange(len(X)), :, target]
    expected = np.atleast_1d(np.asarray(explainer.expected_value, dtype=np.float64))
    return values, expected[target]


def _linear_attributions(
    model: Any,
    X: np.ndarray,
    target: np.ndarray,
    background: np.ndarray,
    weights: np.ndarray,
    n_classes: int,
    owner: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``phi_j = w_tj (x_j - E[x_j])`` in the decision (logit) space of a linear model."""
    if not (hasattr(model, "coef_") and hasattr(model, "intercept_")):
        raise InputError(
            f"{owner} with method='linear' needs a fitted linear model with coef_ and "
            f"intercept_, but {type(model).__name__} has none. Use method='auto'; for a "
            "DistilledClassifier pass its student_."
        )
    coef = np.atleast_2d(np.asarray(model.coef_, dtype=np.float64))
    intercept = np.atleast_1d(np.asarray(model.intercept_, dtype=np.float64)).reshape(-1)
    d = X.shape[1]
    if coef.shape[1] != d:
        raise InputError(
            f"{owner}: {type(model).__name__}.coef_ has {coef.shape[1]} features, but X has {d}."
        )
    if coef.shape[0] == 1 and n_classes == 2:  # binary: decision = logit of class 1
        coef = np.vstack([-coef, coef])
        intercept = np.array([-intercept[0], intercept[0]])
    if coef.shape[0] != n_classes or intercept.shape[0] != n_classes:
        raise InputError(
            f"{owner}: {type(model).__name__}.coef_ has shape {coef.shape} and intercept_ "
            f"{intercept.shape}, which do not match {n_classes} classes."
        )
    mean = weights @ background
    w = coef[target]
    values = w * (X - mean)
    base = w @ mean + intercept[target]
    output = np.einsum("ij,ij->i", w, X) + intercept[target]
    return values, base, output


# --------------------------------------------------------------------------- explain


def explain(
    model: Any,
    X: Any,
    background: Any,
    *,
    target: Any = None,
    method: str = "auto",
    max_background: int = 50,
    feature_names: Sequence[str] | None = None,
    random_state: Any = None,
    batch_size: int = 65536,
    n_permutations: int = 4,
    summarize: str = "sample",
) -> Attributions:
    """Interventional Shapley values of ``P(class target[i] | X[i])`` for each row.

    Parameters
    ----------
    model : object with ``predict_proba(X) -> (n, n_classes)``
        A scikit-learn classifier, a student, a teacher adapter: numpy in, numpy out. It
        receives large stacked batches (up to ``batch_size`` rows per call); a model fitted
        on a DataFrame (it has ``feature_names_in_``) receives DataFrames with its columns.
    X : array-like or DataFrame of shape (n_rows, n_features)
        Rows to explain.
    background : array-like or DataFrame of shape (n_background, n_features)
        Reference data that "absent" features are drawn from, e.g. the training set.
    target : int array of shape (n_rows,), int, or None
        Column of ``predict_proba`` to explain for each row. Pass the teacher's predicted
        class when comparing teacher and students, so that all explain the same class.
        None: the model's own argmax.
    method : {"auto", "exact", "permutation", "kernel", "linear"}
        "exact": all 2^d coalitions (up to 16 features; cost n_rows * (2^d - 2) *
        n_background model evaluations). "permutation": antithetic permutation sampling,
        ``n_permutations`` orderings per background row, shared by all explained rows
        (cost n_rows * n_background * n_permutations * (d - 1) evaluations; for 200 rows,
        30 features and the defaults: 1.2 million); unbiased, exact for additive models
        and for models with at most pairwise interactions, and always complete (see
        ``_permutation_shapley``). "auto": "exact" up to 8 features, else "permutation".
        "kernel": ``shap.KernelExplainer`` with ``nsamples="auto"`` (slow; a reference).
        "linear": for models with ``coef_``/``intercept_`` only, the closed form
        ``phi_j = w_tj (x_j - E[x_j])`` in the *decision (logit) space*, not in
        probability space (a model linear in the logit is not linear in probability), for
        cross-checks; its ``output_space`` is "logit".
    max_background : int
        Background rows kept. A larger background is summarised (see ``summarize``).
    feature_names : list of str, optional
        Default: the DataFrame columns of X or background, the model's
        ``feature_names_in_``, else "x0", "x1", ...
    random_state : None, int or numpy Generator
        Seeds the background summary and the permutations (or kernel samples). The same
        seed gives identical results; different seeds give independent explanations
        (the noise floor: explain a model twice and compare). With a background of at
        most ``max_background`` rows and method "exact" or "linear", results do not
        depend on the seed at all.
    batch_size : int
        Target number of rows per ``predict_proba`` call (memory: batch_size * n_features
        float64 values per call).
    n_permutations : int
        Orderings per background row for "permutation", used as antithetic pairs (an odd
        number rounds up). At equal cost, a larger background (``max_background``) with
        fewer orderings is usually more accurate than the reverse: on breast_cancer's MLP
        teacher, 150 rows x 2 orderings had 20% less error than 50 rows x 6.
    summarize : {"sample", "kmeans"}
        How a background larger than ``max_background`` is reduced: a seeded uniform
        subsample (unbiased; independent across seeds) or seeded k-means centres weighted
        by cluster size (as ``shap.kmeans``).

    Returns
    -------
    Attributions
        ``values.sum(1) + base_values == model_output`` (probability of the target class)
        up to rounding for "exact" and "permutation", up to the kernel's solver for
        "kernel", and in logit space for "linear".
    """
    owner = "explain"
    method = check_choice(method, "method", owner, METHODS)
    summarize = check_choice(summarize, "summarize", owner, SUMMARIES)
    max_background = check_number(max_background, "max_background", owner, integer=True, low=1)
    batch_size = check_number(batch_size, "batch_size", owner, integer=True, low=1)
    n_permutations = check_number(n_permutations, "n_permutations", owner, integer=True, low=1)

    X_arr, x_columns = _matrix(X, "X", owner)
    bg_arr, bg_columns = _matrix(background, "background", owner)
    d = X_arr.shape[1]
    if bg_arr.shape[1] != d:
        raise InputError(
            f"{owner} needs X and background with the same features, but X has {d} columns "
            f"and background has {bg_arr.shape[1]}. Pass background rows preprocessed like X."
        )
    if x_columns is not None and bg_columns is not None and x_columns != bg_columns:
        raise InputError(
            f"{owner} needs X and background with the same columns in the same order; "
            f"X has {format_items(x_columns)} and background has {format_items(bg_columns)}."
        )
    n_in = getattr(model, "n_features_in_", None)
    if isinstance(n_in, int | np.integer) and n_in != d:
        raise InputError(
            f"X has {d} features, but {type(model).__name__} is expecting {n_in} features as input."
        )
    model_columns = getattr(model, "feature_names_in_", None)
    columns = [str(c) for c in model_columns] if model_columns is not None else None
    names = feature_names if feature_names is not None else (x_columns or bg_columns or columns)
    names = [str(n) for n in names] if names is not None else [f"x{j}" for j in range(d)]
    if len(names) != d:
        raise InputError(
            f"{owner} got {len(names)} feature_names for {d} features: "
            f"{format_items(names)}. Pass one name per column of X."
        )
    if method == "exact" and d > EXACT_LIMIT:
        raise ParameterError(
            f"{owner} with method='exact' would evaluate 2^{d} coalitions per row for {d} "
            f"features; it allows at most {EXACT_LIMIT} features. Use method='permutation'."
        )
    if method == "auto":
        method = "exact" if d <= EXACT_MAX_FEATURES else "permutation"

    rng = as_generator(random_state)
    predict = _ModelFunction(model, columns, owner)
    proba_X = predict(X_arr)
    target_idx = _resolve_target(target, proba_X, owner)
    bg, weights = _summarize_background(bg_arr, max_background, summarize, rng)
    rows = np.arange(len(X_arr))

    if method == "linear":
        values, base, output = _linear_attributions(
            model, X_arr, target_idx, bg, weights, proba_X.shape[1], owner
        )
        return Attributions(values, base, X_arr, names, target_idx, method, "logit", output)

    v_full = proba_X[rows, target_idx]
    proba_bg = predict(bg)
    base = (weights @ proba_bg)[target_idx]
    if method == "kernel":
        values, base = _kernel_shapley(predict, X_arr, target_idx, bg, weights, names, rng)
    elif method == "exact":
        values = _exact_shapley(predict, X_arr, target_idx, bg, weights, v_full, base, batch_size)
    else:
        values = _permutation_shapley(
            predict,
            X_arr,
            target_idx,
            bg,
            weights,
            proba_bg,
            v_full,
            batch_size,
            n_permutations,
            rng,
        )
    return Attributions(values, base, X_arr, names, target_idx, method, "probability", v_full)


# --------------------------------------------------------------------------- agreement


def _pair(a: Any, b: Any, owner: str) -> tuple[np.ndarray, np.ndarray]:
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
    if isinstance(k, int | np.integer) and not isinstance(k, bool) and k > d >= 1:
        raise ParameterError(
            f"The 'k' parameter of {owner} must be an int in the range [1, {d}] (the number "
            f"of features). Got {k!r} instead. Pass k=min(k, n_features)."
        )
    return int(check_number(k, "k", owner, integer=True, low=1, high=d))


def _top_k(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest |values| per row, largest first; ties go to the lower
    feature index. Shape (n_rows, k)."""
    return np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k]


def _top_k_parts(
    a: Any, b: Any, k: Any, owner: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    A, B = _pair(a, b, owner)
    k = _check_k(k, A.shape[1], owner)
    return A, B, _top_k(A, k), _top_k(B, k), k


def _in_top(top: np.ndarray, d: int) -> np.ndarray:
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
    k : int in [1, n_features]
    """
    A, _, top_a, top_b, k = _top_k_parts(a, b, k, "feature_agreement")
    d = A.shape[1]
    return (_in_top(top_a, d) & _in_top(top_b, d)).sum(axis=1) / k


def rank_agreement(a: Any, b: Any, k: int) -> np.ndarray:
    """Share of the top-k positions holding the same feature in both explanations.

    ``RA_i = (1/k) * sum_{r<k} [top_k(a_i)[r] == top_k(b_i)[r]]``, shape (n_rows,).
    """
    _, _, top_a, top_b, _ = _top_k_parts(a, b, k, "rank_agreement")
    return (top_a == top_b).mean(axis=1)


def sign_agreement(a: Any, b: Any, k: int) -> np.ndarray:
    """Share of top-k features in both top-k sets whose attributions also have the same
    sign: ``SA_i = |{j ∈ top_k(a_i) ∩ top_k(b_i) : sign(a_ij) = sign(b_ij)}| / k``."""
    A, B, top_a, top_b, k = _top_k_parts(a, b, k, "sign_agreement")
    d = A.shape[1]
    same = _in_top(top_a, d) & _in_top(top_b, d) & (np.sign(A) == np.sign(B))
    return same.sum(axis=1) / k


def signed_rank_agreement(a: Any, b: Any, k: int) -> np.ndarray:
    """Share of top-k positions with the same feature and the same sign in both:
    ``SRA_i = (1/k) * sum_{r<k} [top_a[r] == top_b[r] and sign(a_i,top_a[r]) ==
    sign(b_i,top_b[r])]``."""
    A, B, top_a, top_b, _ = _top_k_parts(a, b, k, "signed_rank_agreement")
    signs_a = np.sign(np.take_along_axis(A, top_a, axis=1))
    signs_b = np.sign(np.take_along_axis(B, top_b, axis=1))
    return ((top_a == top_b) & (signs_a == signs_b)).mean(axis=1)


def _spearman_rows(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

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
    """
    A, B = _pair(a, b, "rank_correlation")
    return _spearman_rows(np.abs(A), np.abs(B))


def global_rank_correlation(a: Any, b: Any) -> float:
    """Spearman correlation between the global importances ``mean_i |a_ij|`` and
    ``mean_i |b_ij|`` (one number; NaN if either importance vector is constant)."""
    A, B = _pair(a, b, "global_rank_correlation")
    return float(_spearman_rows(np.abs(A).mean(axis=0)[None], np.abs(B).mean(axis=0)[None])[0])


def _feature_indices(features: Any, a: Any, d: int, owner: str) -> np.ndarray:
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
    features : sequence of column indices (or names, when a is Attributions), optional
        The set F of features compared (at least two). Default: all features.
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
    k : int in [1, n_features]
    n_bootstrap : int >= 1
    random_state : None, int or numpy Generator
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
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float("nan")
