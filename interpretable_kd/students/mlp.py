"""A shallow (one hidden layer) multilayer perceptron student."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .._defaults import BATCH_SIZE, MAX_EPOCHS, N_ITER_NO_CHANGE, N_JOBS
from .._training import TorchClassifier
from .._validation import check_choice, check_fitted, check_number

__all__ = ["ShallowMLPClassifier"]

_ACTIVATIONS = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "gelu": torch.nn.GELU}


class ShallowMLPClassifier(TorchClassifier):
    """``softmax(W2 act(W1 x + b1) + b2)``: one small hidden layer.

    Args:
        hidden_units: width of the hidden layer (default 16), >= 1.
        activation: "relu", "tanh" or "gelu".
        dropout: dropout rate on the hidden layer, in [0, 1).
        max_epochs, batch_size, learning_rate, weight_decay, early_stopping,
        validation_fraction, n_iter_no_change, tol, random_state, verbose, device,
        n_jobs: the shared training loop's settings (see ``TorchClassifier``);
            ``max_epochs``, ``batch_size`` and ``n_iter_no_change`` default to "auto"
            (chosen from the number of rows), ``n_jobs`` to None (the library's
            thread rule).

    Attributes:
        hidden_weights_: array (hidden_units, n_features), the first layer's weights:
            what each hidden unit looks at.
        output_weights_: array (n_classes, hidden_units).
    """

    def __init__(
        self,
        *,
        hidden_units: int = 16,
        activation: str = "relu",
        dropout: float = 0.0,
        max_epochs: int | str = MAX_EPOCHS,
        batch_size: int | str = BATCH_SIZE,
        learning_rate: float = 0.01,
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
        self.activation = activation
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
        check_number(self.hidden_units, "hidden_units", owner, integer=True, low=1, high=4096)
        check_choice(self.activation, "activation", owner, list(_ACTIVATIONS))
        check_number(self.dropout, "dropout", owner, low=0.0, high=1.0, closed="left")

    def _build_module(self, n_features: int, n_classes: int) -> torch.nn.Module:
        return torch.nn.Sequential(
            torch.nn.Linear(n_features, self.hidden_units),
            _ACTIVATIONS[self.activation](),
            torch.nn.Dropout(self.dropout),
            torch.nn.Linear(self.hidden_units, n_classes),
        )

    @property
    def hidden_weights_(self) -> np.ndarray:
        check_fitted(self, "module_")
        return self.module_[0].weight.detach().double().cpu().numpy()

    @property
    def output_weights_(self) -> np.ndarray:
        check_fitted(self, "module_")
        return self.module_[3].weight.detach().double().cpu().numpy()

    def complexity(self, X: Any = None) -> dict[str, Any]:
        """How big and how readable the fitted model is.

        Parameters
        ----------
        X : array-like or None
            Ignored.

        Returns
        -------
        dict
            ``parameters`` (trainable parameters, ``d * h + h + h * k + k``) and
            ``hidden_units`` (h).
        """
        return {"parameters": int(self.n_parameters_), "hidden_units": int(self.hidden_units)}

    def readable_view(self) -> dict[str, Any]:
        """The two weight matrices, as plain arrays, for the report.

        Returns
        -------
        dict
            Keys:

            - ``"view"``: ``"hidden_weights"``.
            - ``"hidden_weights"``: float64 array of shape (hidden_units, n_features),
              :attr:`hidden_weights_` (what each hidden unit looks at).
            - ``"output_weights"``: float64 array of shape (n_classes, hidden_units),
              :attr:`output_weights_`.
        """
        return {
            "view": "hidden_weights",
            "hidden_weights": self.hidden_weights_,
            "output_weights": self.output_weights_,
        }
