"""The model's value function and its batched evaluation, shared by every estimator.

For row x, explained class t and background row z, a coalition S of features is worth

    v(S) = f_t(x_S, z_~S),

the model's probability for class t when the features in S come from x and the others
from z. :class:`_ModelFunction` is ``f`` (``predict_proba`` with output checks);
:func:`_evaluate` computes ``v`` for many (row, coalition, background row) triples in a
few large model calls. The estimators (``exact``, ``permutation``) build on these two.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import InputError, InputTypeError


class _ModelFunction:
    """``predict_proba`` with output checks; rebuilds DataFrames for models fitted on them.

    Parameters
    ----------
    model : object with ``predict_proba(X) -> (n, n_classes)``
        The explained model.
    columns : list of str or None
        The model's ``feature_names_in_``: inputs are passed as DataFrames with these
        columns; None passes arrays.
    owner : str
        Name of the calling function, for error messages.

    Attributes
    ----------
    n_classes : int or None
        Columns returned by the first call; every later call must return as many.
    n_calls, n_evaluations : int
        Model calls made and rows scored so far.
    """

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
        """The model's class probabilities for the rows of Z.

        Parameters
        ----------
        Z : ndarray of shape (m, n_features)
            Inputs, float64.

        Returns
        -------
        ndarray of shape (m, n_classes), float64
            ``predict_proba(Z)``, checked for shape and finiteness.
        """
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
    come from row i, the others from the background row ``z_p``. Consecutive groups of
    ``group`` pairs are averaged with ``weights``. Each model call gets about
    ``batch_size`` inputs.

    Parameters
    ----------
    predict : _ModelFunction
        The model, ``Z -> (len(Z), n_classes)`` probabilities.
    X : ndarray of shape (n_rows, n_features)
        Explained rows.
    target : int ndarray of shape (n_rows,)
        Explained class (column of ``predict``) of each row.
    n_pairs : int
        Number of (mask, background row) pairs.
    pair_inputs : callable
        ``pair_inputs(indices)`` returns the masks, bool (m, n_features), and the
        background rows, (m, n_features), of the pairs ``indices`` (length m).
    batch_size : int
        Target number of inputs per model call.
    group : int
        Pairs averaged into one output column.
    weights : ndarray of shape (group,), optional
        Averaging weights of a group (needed when ``group > 1``).

    Returns
    -------
    ndarray of shape (n_rows, n_pairs // group)
        ``out[i, q] = sum_g weights[g] * f_{target[i]}(where(mask_p, X[i], z_p))`` with
        ``p = q * group + g``.
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
