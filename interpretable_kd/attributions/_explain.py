""":func:`explain`: interventional Shapley values of any classifier's probability for one
class per row, with the input checks and the background summary it needs.

The value of a coalition S of features for row x is

    v(S) = sum_b w_b * f_t(x_S, z_b,~S),

the model's probability for class t when the features in S come from x and the others
from background row z_b (weights w_b sum to 1). :func:`explain` checks its inputs, picks
an estimator (``exact``, ``permutation``, ``reference``) and wraps the values in
:class:`~interpretable_kd.attributions.Attributions`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
import pandas as pd

from .._defaults import EXPLAIN_MEMORY_BUDGET
from .._validation import check_choice, check_number, format_items
from ..exceptions import InputError, ParameterError
from ..metrics import as_generator
from ._result import Attributions
from ._value import _ModelFunction
from .exact import _exact_shapley
from .permutation import _permutation_shapley, permutation_row_bytes
from .reference import _kernel_shapley, _linear_attributions

__all__ = [
    "BYTES_PER_INPUT_CELL",
    "EXACT_LIMIT",
    "EXACT_MAX_FEATURES",
    "METHODS",
    "SUMMARIES",
    "explain",
]

METHODS = ("auto", "exact", "permutation", "kernel", "linear")
SUMMARIES = ("sample", "kmeans")
# method="auto" enumerates all coalitions up to this many features (2^8 - 2 = 254
# coalitions, about the cost of 10 permutations over 30 features) and samples beyond it.
EXACT_MAX_FEATURES = 8
# method="exact" refuses more features than this: 2^16 coalitions per row.
EXACT_LIMIT = 16
# Bytes per feature of one model input in a batch: the float64 input (8), its mask and
# background row (9) and one copy the model may make (8), rounded up.
BYTES_PER_INPUT_CELL = 32


def _mib(n_bytes: float) -> str:
    """``n_bytes`` as a short "123 MB" string (MiB)."""
    return f"{n_bytes / 1024**2:,.0f} MB"


def _check_memory(d: int, n_background: int, n_permutations: int, owner: str) -> None:
    """Refuse a permutation explanation whose single row needs more than the budget.

    Parameters
    ----------
    d : int
        Features.
    n_background : int
        Background rows that will be kept.
    n_permutations : int
        Orderings per background row.
    owner : str
        Name of the calling function, for error messages.

    Raises
    ------
    ParameterError
        ``permutation_row_bytes(d, n_background, n_permutations)`` exceeds
        ``EXPLAIN_MEMORY_BUDGET``; the message gives the estimate and the largest
        ``max_background`` that fits.
    """
    need = permutation_row_bytes(d, n_background, n_permutations)
    if need <= EXPLAIN_MEMORY_BUDGET:
        return
    fits = EXPLAIN_MEMORY_BUDGET // permutation_row_bytes(d, 1, n_permutations)
    hint = (
        f"pass max_background={fits} or fewer"
        if fits >= 1
        else "reduce the number of features (select or aggregate columns)"
    )
    if n_permutations > 2:
        hint += " (or n_permutations=2)"
    raise ParameterError(
        f"{owner} would need about {_mib(need)} per explained row for {d} features x "
        f"{n_background} background rows x n_permutations={n_permutations}, more than its "
        f"memory budget of {_mib(EXPLAIN_MEMORY_BUDGET)}; {hint}."
    )


def _matrix(values: Any, name: str, owner: str) -> tuple[np.ndarray, list[str] | None]:
    """A finite, non-empty 2-d float64 array, and the column names of a DataFrame.

    Parameters
    ----------
    values : array-like or DataFrame of shape (n_rows, n_features)
        The input to check.
    name : str
        Its parameter name, for error messages.
    owner : str
        Name of the calling function, for error messages.

    Returns
    -------
    array : ndarray of shape (n_rows, n_features), float64
        The values, all finite.
    columns : list of str or None
        The DataFrame's column names, or None for other inputs.
    """
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


def _resolve_target(target: Any, proba_X: np.ndarray, owner: str) -> np.ndarray:
    """The explained class (column of ``predict_proba``) of each row.

    Parameters
    ----------
    target : int array of shape (n_rows,), int, or None
        Class indices; a single int is used for every row; None takes the model's argmax.
    proba_X : ndarray of shape (n_rows, n_classes)
        The model's probabilities on the explained rows.
    owner : str
        Name of the calling function, for error messages.

    Returns
    -------
    int64 ndarray of shape (n_rows,)
        Class indices in ``0 .. n_classes - 1``.
    """
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

    Parameters
    ----------
    background : ndarray of shape (m, n_features)
        Background rows.
    max_background : int
        Rows kept at most.
    how : {"sample", "kmeans"}
        How a larger background is reduced.
    rng : numpy.random.Generator
        Seeds the subsample or k-means.

    Returns
    -------
    rows : ndarray of shape (min(m, max_background), n_features)
        The kept rows or centres.
    weights : ndarray of shape (min(m, max_background),)
        Their weights, summing to 1 (cluster sizes / m for "kmeans", else equal).
    """
    m = len(background)
    if m <= max_background:
        return background, np.full(m, 1.0 / m)
    if how == "sample":
        rows = np.sort(rng.choice(m, size=max_background, replace=False))
        return background[rows], np.full(max_background, 1.0 / max_background)
    from sklearn.cluster import KMeans  # imported on use: keeps `import interpretable_kd` fast

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


#: Where :func:`explain` sends its calls instead of computing them here (None: here); set
#: by :func:`explain_backend`.
_BACKEND: ContextVar[Callable[..., Attributions] | None] = ContextVar(
    "explain_backend", default=None
)


@contextmanager
def explain_backend(backend: Callable[..., Attributions] | None) -> Iterator[None]:
    """Send every :func:`explain` call made inside the block to ``backend``.

    How a caller that does not own the audit code (e.g. the distributed report) fans the
    audit's attributions out, for instance as Ray tasks
    (:func:`interpretable_kd.distributed.explain_ray`), without a parameter threaded
    through every layer. Inside ``backend`` the hook is off, so a backend may call
    :func:`explain` itself (for a chunk, or as a fallback).

    Parameters
    ----------
    backend : callable or None
        ``backend(model, X, background, **keywords) -> Attributions``, called with
        :func:`explain`'s arguments (all keywords); None leaves ``explain`` as it is.
    """
    token = _BACKEND.set(backend)
    try:
        yield
    finally:
        _BACKEND.reset(token)


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
        Most rows per ``predict_proba`` call. Calls are also capped by the memory budget
        ``_defaults.EXPLAIN_MEMORY_BUDGET`` (256 MB): at most
        ``budget // (32 * n_features)`` rows each (e.g. 838 rows for 10,000 features),
        so wide data is explained in more, smaller calls instead of running out of memory.
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

    Raises
    ------
    ParameterError
        ``method="permutation"`` (or "auto" beyond 8 features) when one explained row
        would need more than the memory budget (about ``64 * n_features *
        max_background * ceil(n_permutations / 2)`` bytes); the message gives the
        estimate and the ``max_background`` that fits.
    """
    backend = _BACKEND.get()
    if backend is not None:  # explain_backend: the call goes there, with the hook off
        token = _BACKEND.set(None)
        try:
            return backend(
                model, X, background, target=target, method=method,
                max_background=max_background, feature_names=feature_names,
                random_state=random_state, batch_size=batch_size,
                n_permutations=n_permutations, summarize=summarize,
            )  # fmt: skip
        finally:
            _BACKEND.reset(token)
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
    if method == "permutation":
        _check_memory(d, min(len(bg_arr), max_background), n_permutations, owner)
    batch_size = min(batch_size, max(1, EXPLAIN_MEMORY_BUDGET // (BYTES_PER_INPUT_CELL * d)))

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
