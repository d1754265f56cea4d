"""The result type of every explainer: :class:`Attributions`.

Parallel arrays, as in ``shap.Explanation``: ``values`` (n_rows, n_features),
``base_values`` (n_rows,), ``data`` (n_rows, n_features) and the explained class per row.
Completeness, ``values.sum(1) + base_values == model_output``, is checked by
:meth:`Attributions.completeness_gap` (captum's ``compute_convergence_delta``).

shap is imported only inside :meth:`Attributions.to_shap`, so importing this module stays
fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..exceptions import InputError

if TYPE_CHECKING:  # pragma: no cover
    import shap

__all__ = ["Attributions"]


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
        """Number of explained rows.

        Returns
        -------
        int
            ``values.shape[0]``.
        """
        return int(self.values.shape[0])

    @property
    def n_features(self) -> int:
        """Number of features.

        Returns
        -------
        int
            ``values.shape[1]``.
        """
        return int(self.values.shape[1])

    def to_shap(self) -> shap.Explanation:
        """The same numbers as a ``shap.Explanation`` (for shap's plots).

        Returns
        -------
        shap.Explanation
            Copies of ``values``, ``base_values``, ``data`` and ``feature_names``.
        """
        import shap

        return shap.Explanation(
            values=self.values.copy(),
            base_values=self.base_values.copy(),
            data=self.data.copy(),
            feature_names=list(self.feature_names),
        )

    def global_importance(self) -> np.ndarray:
        """Mean absolute attribution of each feature over the rows.

        Returns
        -------
        ndarray of shape (n_features,)
            ``mean_i |values[i, j]|`` for each feature j.
        """
        return np.abs(self.values).mean(axis=0)

    def completeness_gap(self, model_output: Any = None) -> np.ndarray:
        """``values.sum(1) + base_values - model_output``, shape (n_rows,).

        Zero (up to rounding) for exact Shapley values and for the permutation estimator.

        Parameters
        ----------
        model_output : array-like of shape (n_rows,), optional
            The model's output for the explained class of each row. Default: the output
            recorded by :func:`~interpretable_kd.attributions.explain`.

        Returns
        -------
        ndarray of shape (n_rows,)
            The completeness gap of each row.
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
        """Whether the attributions add up to the model's output.

        Parameters
        ----------
        model_output : array-like of shape (n_rows,), optional
            As in :meth:`completeness_gap`.
        atol : float
            Largest allowed absolute gap.

        Returns
        -------
        bool
            True when every ``|completeness_gap(model_output)| <= atol``.
        """
        return bool(np.all(np.abs(self.completeness_gap(model_output)) <= atol))
