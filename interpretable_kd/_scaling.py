"""Inputs at any scale, and threads: the part of every TorchClassifier that maps the
user's rows to what its network sees.

:class:`StandardisingMixin` (a base of :class:`~interpretable_kd._training.TorchClassifier`)
computes ``x_mean_`` and ``x_scale_`` from the training rows and standardises rows,
``z = (x - x_mean_) / x_scale_`` (float32), for training (a whole array, in place when
the array is the library's own copy) and for prediction (one batch tensor at a time,
bit for bit the same numbers). It also runs the estimator's work under its ``n_jobs``
torch thread count.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ._numeric import column_mean_scale, standardise
from ._torch_utils import torch_threads
from ._validation import is_private_copy

__all__ = ["StandardisingMixin"]


class StandardisingMixin:
    """Standardisation of the inputs and the thread count of a torch estimator.

    Attributes
    ----------
    x_mean_ : ndarray of shape (n_features,), float64
        Column means of the training rows.
    x_scale_ : ndarray of shape (n_features,), float64
        Column standard deviations of the training rows (1 for a constant column).
    """

    x_mean_: np.ndarray
    x_scale_: np.ndarray

    def _fit_standardisation(self, X: np.ndarray, original: Any) -> np.ndarray:
        """Set ``x_mean_`` and ``x_scale_`` from the training rows; return the rows
        standardised (in place when X is a private copy of ``original``, so that no
        second full-size array is made; the user's data is never modified).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features), float32
            The checked rows.
        original : object
            What the user passed as X.

        Returns
        -------
        ndarray of shape (n_samples, n_features), float32
            ``(X - x_mean_) / x_scale_``.
        """
        self.x_mean_, self.x_scale_ = column_mean_scale(X)
        return standardise(X, self.x_mean_, self.x_scale_, in_place=is_private_copy(X, original))

    def _standardise(self, X: np.ndarray, *, in_place: bool = False) -> np.ndarray:
        """What the network sees for checked raw rows: ``(X - x_mean_) / x_scale_`` in
        float32. A model without these attributes (a file written before they existed)
        sees X unchanged.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features), float32
            Rows from :func:`~interpretable_kd._validation.check_X`.
        in_place : bool
            Overwrite X (only when the caller owns it).

        Returns
        -------
        ndarray of shape (n_samples, n_features), float32
            The standardised rows.
        """
        mean = self.__dict__.get("x_mean_")
        if mean is None:
            return X
        return standardise(X, mean, self.x_scale_, in_place=in_place)

    def _standardise_tensor(self, X: torch.Tensor) -> torch.Tensor:
        """:meth:`_standardise` for a float32 batch already on the module's device
        (bit for bit the same numbers).

        Parameters
        ----------
        X : Tensor of shape (n_rows, n_features)
            Raw rows.

        Returns
        -------
        Tensor of shape (n_rows, n_features)
            ``(X - x_mean_) / x_scale_``, or X itself without statistics.
        """
        mean = self.__dict__.get("x_mean_")
        if mean is None:
            return X
        mean_t = torch.as_tensor(np.asarray(mean, dtype=np.float32), device=X.device)
        scale_t = torch.as_tensor(np.asarray(self.x_scale_, dtype=np.float32), device=X.device)
        return (X - mean_t) / scale_t

    def _threads(self, rows: int) -> Any:
        """The torch thread count of this estimator's work (``n_jobs``), as a context.

        Parameters
        ----------
        rows : int
            Rows per forward pass of the work.

        Returns
        -------
        context manager
            :func:`~interpretable_kd._torch_utils.torch_threads`.
        """
        return torch_threads(getattr(self, "n_jobs", None), rows, type(self).__name__)
