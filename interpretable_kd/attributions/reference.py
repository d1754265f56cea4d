"""Reference estimators, for cross-checks: shap's KernelExplainer (``method="kernel"``)
and the closed form of a linear model in its logit space (``method="linear"``).

shap is imported only inside :func:`_kernel_shapley`, so that ``import interpretable_kd``
stays fast.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import InputError
from ._value import _ModelFunction


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
    which is restored afterwards.

    Parameters
    ----------
    predict : _ModelFunction
        The model.
    X : ndarray of shape (n_rows, d)
        Explained rows.
    target : int ndarray of shape (n_rows,)
        Explained class of each row.
    background : ndarray of shape (n_background, d)
        Background rows.
    weights : ndarray of shape (n_background,)
        Background weights, summing to 1.
    feature_names : list of str, length d
        Passed to shap's background data.
    rng : numpy.random.Generator
        Draws the seed of numpy's global generator for the kernel's samples.

    Returns
    -------
    values : ndarray of shape (n_rows, d)
        Kernel SHAP values of the target class of each row.
    base_values : ndarray of shape (n_rows,)
        The explainer's expected value of the target class of each row.
    """
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
    """``phi_j = w_tj (x_j - E[x_j])`` in the decision (logit) space of a linear model.

    ``E[x] = sum_b w_b z_b``; a binary model with one row of ``coef_`` gets ``-coef_``
    for class 0.

    Parameters
    ----------
    model : object with ``coef_`` (n_out, d) and ``intercept_`` (n_out,)
        A fitted linear model.
    X : ndarray of shape (n_rows, d)
        Explained rows.
    target : int ndarray of shape (n_rows,)
        Explained class of each row.
    background : ndarray of shape (n_background, d)
        Background rows.
    weights : ndarray of shape (n_background,)
        Background weights, summing to 1.
    n_classes : int
        Columns of the model's ``predict_proba``.
    owner : str
        Name of the calling function, for error messages.

    Returns
    -------
    values : ndarray of shape (n_rows, d)
        ``w_tj (x_ij - E[x_j])``.
    base_values : ndarray of shape (n_rows,)
        ``w_t . E[x] + b_t``.
    model_output : ndarray of shape (n_rows,)
        The decision function ``w_t . x_i + b_t``.
    """
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
