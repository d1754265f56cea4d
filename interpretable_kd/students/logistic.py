"""Multinomial logistic regression as a torch student."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .._training import TorchClassifier
from .._validation import check_choice, check_fitted, check_number

__all__ = ["SoftLogisticRegression"]


class SoftLogisticRegression(TorchClassifier):
    """Multinomial logistic regression trained by the shared torch loop.

    ``p(y = k | x) = softmax(W x + b)_k``. Trained on hard labels with :meth:`fit`, or on a
    teacher's softened outputs through :class:`~interpretable_kd.DistilledClassifier`.

    Args:
        penalty: "l2" (a ridge term ``penalty_strength * ||W||^2`` added to the loss),
            "l1" (``penalty_strength * ||W||_1``, applied as a proximal soft-threshold after
            each step so that weights reach exactly zero: a sparse student) or None.
            The intercept is never penalised.
        penalty_strength: the penalty's weight, >= 0.
        max_epochs, batch_size, learning_rate, weight_decay, early_stopping,
        validation_fraction, n_iter_no_change, tol, random_state, verbose, device:
            the shared training loop's settings (see ``TorchClassifier``).

    Attributes:
        coef_: array of shape (1, n_features) for two classes (the log-odds of
            ``classes_[1]``, as in scikit-learn) or (n_classes, n_features).
        intercept_: array of shape (1,) or (n_classes,).
    """

    def __init__(
        self,
        *,
        penalty: str | None = "l2",
        penalty_strength: float = 1e-4,
        max_epochs: int = 200,
        batch_size: int = 128,
        learning_rate: float = 0.01,
        weight_decay: float = 0.0,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        random_state: Any = None,
        verbose: bool = False,
        device: str = "cpu",
    ) -> None:
        self.penalty = penalty
        self.penalty_strength = penalty_strength
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

    def _check_params(self) -> None:
        owner = type(self).__name__
        check_choice(self.penalty, "penalty", owner, ["l2", "l1", None])
        check_number(self.penalty_strength, "penalty_strength", owner, low=0.0)

    def _build_module(self, n_features: int, n_classes: int) -> torch.nn.Module:
        return torch.nn.Linear(n_features, n_classes)

    def _penalty(self, module: torch.nn.Module) -> torch.Tensor | float:
        if self.penalty == "l2" and self.penalty_strength > 0:
            assert isinstance(module, torch.nn.Linear)
            return self.penalty_strength * module.weight.pow(2).sum()
        return 0.0

    def _after_step(self, module: torch.nn.Module, optimizer: torch.optim.Adam) -> None:
        """Proximal step for the L1 penalty: soft-threshold each weight by its own Adam
        step size times ``penalty_strength``, so that weights reach exactly zero."""
        if self.penalty != "l1" or self.penalty_strength == 0:
            return
        assert isinstance(module, torch.nn.Linear)
        weight = module.weight
        state = optimizer.state[weight]
        beta2 = optimizer.param_groups[0]["betas"][1]
        eps = optimizer.param_groups[0]["eps"]
        v_hat = state["exp_avg_sq"] / (1.0 - beta2 ** float(state["step"]))
        threshold = self.learning_rate * self.penalty_strength / (v_hat.sqrt() + eps)
        with torch.no_grad():
            weight.copy_(weight.sign() * (weight.abs() - threshold).clamp_min(0.0))

    @property
    def coef_(self) -> np.ndarray:
        check_fitted(self, "module_")
        weight = self.module_.weight.detach().double().cpu().numpy()
        return weight[1:] - weight[:1] if weight.shape[0] == 2 else weight

    @property
    def intercept_(self) -> np.ndarray:
        check_fitted(self, "module_")
        bias = self.module_.bias.detach().double().cpu().numpy()
        return bias[1:] - bias[:1] if bias.shape[0] == 2 else bias

    def complexity(self, X: Any = None) -> dict[str, Any]:
        """How big and how readable the fitted model is.

        Parameters
        ----------
        X : array-like or None
            Ignored (no data-dependent measure for a linear model).

        Returns
        -------
        dict
            ``parameters`` (trainable parameters of the torch module, ``k * d + k``) and
            ``nonzero_coefficients`` (non-zero entries of :attr:`coef_`).
        """
        return {
            "parameters": int(self.n_parameters_),
            "nonzero_coefficients": int(np.count_nonzero(self.coef_)),
        }

    def readable_view(self) -> dict[str, Any]:
        """The coefficients, as plain arrays, for the report.

        Returns
        -------
        dict
            Keys:

            - ``"view"``: ``"coefficients"``.
            - ``"coef"``: float64 array of shape (n_out, n_features), :attr:`coef_`
              (n_out = 1 for two classes, the log-odds of ``classes_[1]``; else
              n_classes).
            - ``"intercept"``: float64 array of shape (n_out,), :attr:`intercept_`.
        """
        return {"view": "coefficients", "coef": self.coef_, "intercept": self.intercept_}
