"""A trainable torch MLP teacher with the scikit-learn API (re-exported by :mod:`.teachers`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ._defaults import BATCH_SIZE, MAX_EPOCHS, N_ITER_NO_CHANGE, N_JOBS
from ._training import TorchClassifier
from ._validation import check_number, is_int
from .exceptions import InputTypeError

__all__ = ["MLPTeacher"]


class MLPTeacher(TorchClassifier):
    """A trainable torch multilayer perceptron with the scikit-learn API.

    For users without a model of their own. Trained by the shared loop with early
    stopping on a validation split. Has the teacher interface (``classes_``,
    ``logits(X)``, ``predict_proba(X)``).

    Args:
        hidden_units: widths of the hidden layers, e.g. (64, 64).
        dropout: dropout rate after each hidden layer, in [0, 1).
        max_epochs, batch_size, learning_rate, weight_decay, early_stopping,
        validation_fraction, n_iter_no_change, tol, random_state, verbose, device,
        n_jobs: the shared training loop's settings (see ``TorchClassifier``);
            ``max_epochs``, ``batch_size`` and ``n_iter_no_change`` default to "auto"
            (chosen from the number of rows), ``n_jobs`` to None (the library's
            thread rule).
    """

    def __init__(
        self,
        *,
        hidden_units: Sequence[int] = (64, 64),
        dropout: float = 0.1,
        max_epochs: int | str = MAX_EPOCHS,
        batch_size: int | str = BATCH_SIZE,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        n_iter_no_change: int | str = N_ITER_NO_CHANGE,
        tol: float = 1e-4,
        random_state: Any = None,
        verbose: bool = False,
        device: str = "cpu",
        n_jobs: int | None = N_JOBS,
    ) -> None:
        self.hidden_units = hidden_units
        self.dropout = dropout
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.n_jobs = n_jobs

    def _check_params(self) -> None:
        owner = type(self).__name__
        units = self.hidden_units
        if (
            not isinstance(units, Sequence)
            or isinstance(units, str)
            or not all(is_int(u) and u >= 1 for u in units)
            or not units
        ):
            raise InputTypeError(
                f"The 'hidden_units' parameter of {owner} must be a non-empty sequence of "
                f"positive ints, e.g. (64, 64). Got {units!r} instead."
            )
        check_number(self.dropout, "dropout", owner, low=0.0, high=1.0, closed="left")

    def _build_module(self, n_features: int, n_classes: int) -> torch.nn.Module:
        layers: list[torch.nn.Module] = []
        width = n_features
        for units in self.hidden_units:
            layers += [
                torch.nn.Linear(width, int(units)),
                torch.nn.ReLU(),
                torch.nn.Dropout(self.dropout),
            ]
            width = int(units)
        layers.append(torch.nn.Linear(width, n_classes))
        return torch.nn.Sequential(*layers)
