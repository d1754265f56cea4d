"""Multinomial logistic regression as a torch student, solved exactly when it fits.

The objective is convex in (W, b), so the student is fitted to its optimum: full batch
(float32, or float64 for a tolerance below 1e-5), by L-BFGS with a strong-Wolfe line
search (no penalty or L2) or by FISTA with a soft-threshold step (L1, so that weights
reach exactly zero), both in
:mod:`interpretable_kd.students._convex`. Beyond ``EXACT_SOLVER_MAX_CELLS`` rows x
features, or with ``solver="adam"``, it falls back to the shared mini-batch Adam loop.

The network sees standardised rows ``z = (x - x_mean_) / x_scale_``; :attr:`coef_` and
:attr:`intercept_` are mapped back to the user's columns (what scikit-learn's
``LogisticRegression`` would report on the same raw columns), the standardised ones
stand beside them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .._defaults import (
    BATCH_SIZE,
    EXACT_SOLVER_MAX_CELLS,
    LOGISTIC_MAX_ITER,
    LOGISTIC_SOLVER,
    MAX_EPOCHS,
    N_ITER_NO_CHANGE,
    N_JOBS,
)
from .._training import Targets, TorchClassifier
from .._validation import check_choice, check_fitted, check_number
from ..exceptions import ParameterError, TrainingError
from ._convex import minimize_fista, minimize_lbfgs

__all__ = ["SoftLogisticRegression"]

SOLVERS = ["auto", "lbfgs", "fista", "adam"]
#: The exact solvers compute in float32 (like the network, with no second copy of X)
#: unless ``tol`` is below this, where float32 sums (relative error ~1e-7 per row) can no
#: longer resolve the gradient; then they copy X to float64.
FLOAT64_BELOW_TOL = 1e-5


class SoftLogisticRegression(TorchClassifier):
    """Multinomial logistic regression, fitted to the optimum of its convex objective.

    ``p(y = k | z) = softmax(W z + b)_k`` on standardised rows ``z = (x - x_mean_) /
    x_scale_``. Trained on hard labels with :meth:`fit`, or on a teacher's softened
    outputs through :class:`~interpretable_kd.DistilledClassifier` (``fit_distill``).
    The objective is the distillation loss of :mod:`interpretable_kd.losses` averaged
    over all rows (``L = w * H + (1 - w) * T^2 * S``; plain cross-entropy for ``fit``)
    plus the penalty.

    Args:
        penalty: "l2" (a ridge term ``penalty_strength * ||W||_F^2`` added to the loss),
            "l1" (``penalty_strength * ||W||_1``, handled by a proximal soft-threshold so
            that weights reach exactly zero: a sparse student) or None. The intercept is
            never penalised. The penalty acts on the standardised weights, as the
            network sees them. For two classes, ``penalty="l2"`` matches scikit-learn's
            ``LogisticRegression(C=1 / (penalty_strength * n_samples))`` fitted on the
            standardised columns; for K > 2 classes ``C = 1 / (2 * penalty_strength *
            n_samples)``.
        penalty_strength: the penalty's weight, >= 0, or "auto" (default): scikit-learn's
            default ``C = 1`` at every size, i.e. ``1 / n_samples`` for two classes and
            ``1 / (2 * n_samples)`` for more (regularisation that fades as rows grow).
            The value used is ``penalty_strength_``.
        solver: "auto" (default): "lbfgs" for penalty "l2" or None, "fista" for "l1",
            when rows x features <= ``EXACT_SOLVER_MAX_CELLS`` (2e7); "adam" beyond.
            "lbfgs": full-batch L-BFGS with a strong-Wolfe line search (smooth penalties
            only). "fista": full-batch accelerated proximal gradient with backtracking.
            "adam": the shared mini-batch loop (``max_epochs``, ``batch_size``,
            ``learning_rate``, early stopping ...). The exact solvers start from zero
            weights, use every row (no validation split, no early stopping) and give the
            same optimum for every ``random_state``.
        max_iter: most iterations of the exact solvers, >= 1.
        tol: for the exact solvers, stop when the largest absolute entry of the
            objective's (proximal) gradient is at most ``tol`` (scikit-learn's meaning for
            its L-BFGS solver); for "adam", the early-stopping improvement threshold. The
            exact solvers compute in float32 unless ``tol < 1e-5`` (then float64, on a
            float64 copy of X).
        max_epochs, batch_size, learning_rate, validation_fraction, early_stopping,
        n_iter_no_change, random_state, verbose, device, n_jobs:
            the shared training loop's settings (see ``TorchClassifier``); only
            ``device`` and ``n_jobs`` matter to the exact solvers.
        weight_decay: adds ``weight_decay / 2 * ||(W, b)||^2`` to the objective (Adam's
            weight decay; the same term for every solver).

    Attributes:
        coef_: array of shape (1, n_features) for two classes (the log-odds of
            ``classes_[1]``, as in scikit-learn) or (n_classes, n_features), in the
            units of the input columns: ``coef_standardized_ / x_scale_``.
        intercept_: array of shape (1,) or (n_classes,), in the input units:
            ``intercept_standardized_ - coef_standardized_ @ (x_mean_ / x_scale_)``.
        coef_standardized_, intercept_standardized_: the same for standardised columns
            (what the network holds; comparable across columns).
        solver_: the solver used, "lbfgs", "fista" or "adam".
        n_iter_: iterations (exact solvers) or epochs (Adam) run.
        history_: one dict per iteration with ``train_loss`` (the objective, penalty
            included) and ``grad_max`` (exact solvers), or per epoch (Adam).
        x_mean_, x_scale_, classes_, module_, best_epoch_: as for every student.
    """

    def __init__(
        self,
        *,
        penalty: str | None = "l2",
        penalty_strength: float | str = "auto",
        solver: str = LOGISTIC_SOLVER,
        max_iter: int = LOGISTIC_MAX_ITER,
        max_epochs: int | str = MAX_EPOCHS,
        batch_size: int | str = BATCH_SIZE,
        learning_rate: float = 0.01,
        weight_decay: float = 0.0,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        n_iter_no_change: int | str = N_ITER_NO_CHANGE,
        tol: float = 1e-4,
        random_state: Any = None,
        verbose: bool = False,
        device: str = "cpu",
        n_jobs: int | None = N_JOBS,
    ) -> None:
        self.penalty = penalty
        self.penalty_strength = penalty_strength
        self.solver = solver
        self.max_iter = max_iter
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
        check_choice(self.penalty, "penalty", owner, ["l2", "l1", None])
        if self.penalty_strength != "auto":
            check_number(self.penalty_strength, "penalty_strength", owner, low=0.0)
        check_choice(self.solver, "solver", owner, SOLVERS)
        check_number(self.max_iter, "max_iter", owner, integer=True, low=1)
        if self.solver == "lbfgs" and self.penalty == "l1":
            raise ParameterError(
                f"The 'solver' parameter of {owner} is 'lbfgs', which needs a smooth "
                "objective, but penalty='l1' is not smooth. Use solver='fista' (or "
                "'auto') for an L1 penalty, or penalty='l2' with solver='lbfgs'."
            )

    def _build_module(self, n_features: int, n_classes: int) -> torch.nn.Module:
        return torch.nn.Linear(n_features, n_classes)

    def _prepare_fit(self, n_rows: int, n_classes: int) -> None:
        self.penalty_strength_ = self._resolved_strength(n_rows, n_classes)

    def _resolved_strength(self, n_rows: int, n_classes: int) -> float:
        """The penalty weight of a fit on ``n_rows`` rows.

        ``"auto"`` is scikit-learn's default ``C = 1``: ``1 / n`` for two classes (the
        softmax's two weight rows split the log-odds, ``||W||^2 = ||w||^2 / 2`` at the
        optimum) and ``1 / (2 n)`` for more, so the student regularises exactly as the
        ``LogisticRegression()`` a user would fit on the same standardised rows.
        """
        if self.penalty_strength != "auto":
            return float(self.penalty_strength)
        return 1.0 / (max(n_rows, 1) * (1 if n_classes <= 2 else 2))

    # ------------------------------------------------------------------ the solvers
    def _chosen_solver(self, n_rows: int, n_features: int) -> str:
        """The solver a fit on ``n_rows`` x ``n_features`` standardised rows uses."""
        if self.solver != "auto":
            return str(self.solver)
        if n_rows * n_features > EXACT_SOLVER_MAX_CELLS:
            return "adam"
        return "fista" if self.penalty == "l1" else "lbfgs"

    def _init_module(self, module: torch.nn.Module, X: np.ndarray, targets: Targets) -> None:
        """Zero weights for the exact solvers (as scikit-learn starts): the optimum they
        reach then does not depend on ``random_state``. Adam keeps torch's random start."""
        if self._chosen_solver(*X.shape) != "adam":
            with torch.no_grad():
                for parameter in module.parameters():
                    parameter.zero_()

    def _run_epochs(
        self,
        module: torch.nn.Module,
        X: np.ndarray,
        targets: Targets,
        seed: int,
        max_epochs: int,
        device: torch.device,
    ) -> tuple[list[dict[str, float]], int]:
        """Solve the objective on all rows (L-BFGS or FISTA), or run the Adam loop.

        Parameters
        ----------
        module : torch.nn.Linear
            The network, trained in place.
        X : ndarray of shape (n_samples, n_features), float32
            Standardised rows.
        targets : Targets
            Labels and/or the softened teacher.
        seed : int
            The fit's seed (used by Adam only).
        max_epochs : int
            Adam's epoch budget (the exact solvers use ``max_iter``).
        device : torch.device
            Where to compute.

        Returns
        -------
        history : list of dict
            One entry per iteration (exact) or epoch (Adam).
        best_epoch : int
            The last iteration for the exact solvers.
        """
        solver = self._chosen_solver(*X.shape)
        self.solver_ = solver
        if solver == "adam":
            return super()._run_epochs(module, X, targets, seed, max_epochs, device)
        assert isinstance(module, torch.nn.Linear)
        dtype = torch.float64 if self.tol < FLOAT64_BELOW_TOL else torch.float32
        X_solve = torch.as_tensor(X).to(device=device, dtype=dtype)
        log_targets = targets.teacher_log_proba
        targets_solve = Targets(
            targets.y,
            None if log_targets is None else log_targets.to(dtype),
            targets.temperature,
            targets.hard_label_weight,
        ).to(device)
        module.to(dtype)
        try:
            history = self._solve(module, X_solve, targets_solve, solver)
        except FloatingPointError as exc:
            raise TrainingError(
                f"{type(self).__name__} training diverged ({exc}) with solver={solver!r}. "
                "Check X for extreme values, or raise 'penalty_strength' (now "
                f"{self.penalty_strength_:g})."
            ) from exc
        finally:
            module.float()
        module.eval()
        return history, len(history)

    def _solve(
        self, module: torch.nn.Linear, X: torch.Tensor, targets: Targets, solver: str
    ) -> list[dict[str, float]]:
        """Run one exact solver on float32 or float64 tensors; return its history."""
        decay = float(self.weight_decay)

        def smooth() -> torch.Tensor:
            loss = self._batch_loss(module, X, targets, True)  # includes the L2 penalty
            if decay > 0:
                loss = loss + 0.5 * decay * sum(p.pow(2).sum() for p in module.parameters())
            return loss

        module.train()
        if solver == "lbfgs":
            return minimize_lbfgs(
                smooth, list(module.parameters()), max_iter=self.max_iter, tol=self.tol
            )
        strength = self.penalty_strength_ if self.penalty == "l1" else 0.0
        return minimize_fista(
            smooth,
            [module.weight],
            [module.bias],
            strength=strength,
            lipschitz=_lipschitz_bound(X, self._smooth_curvature()),
            max_iter=self.max_iter,
            tol=self.tol,
        )

    def _smooth_curvature(self) -> float:
        """Curvature added to the loss's by the smooth penalties (an upper bound)."""
        ridge = 2.0 * self.penalty_strength_ if self.penalty == "l2" else 0.0
        return ridge + float(self.weight_decay)

    def _penalty(self, module: torch.nn.Module) -> torch.Tensor | float:
        if self.penalty == "l2" and self.penalty_strength_ > 0:
            assert isinstance(module, torch.nn.Linear)
            return self.penalty_strength_ * module.weight.pow(2).sum()
        return 0.0

    def _after_step(self, module: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
        """Adam only: proximal step for the L1 penalty, soft-thresholding each weight by
        its own Adam step size times ``penalty_strength``, so weights reach exactly zero."""
        if self.penalty != "l1" or self.penalty_strength_ == 0:
            return
        assert isinstance(module, torch.nn.Linear)
        weight = module.weight
        state = optimizer.state[weight]
        group = optimizer.param_groups[0]
        beta2 = group["betas"][1]
        v_hat = state["exp_avg_sq"] / (1.0 - beta2 ** float(state["step"]))
        threshold = group["lr"] * self.penalty_strength_ / (v_hat.sqrt() + group["eps"])
        with torch.no_grad():
            weight.copy_(weight.sign() * (weight.abs() - threshold).clamp_min(0.0))

    # ------------------------------------------------------------------ the readers
    @property
    def coef_standardized_(self) -> np.ndarray:
        """Coefficients on standardised columns, shape (n_out, n_features), float64.

        ``W[1] - W[0]`` (one row, the log-odds of ``classes_[1]``) for two classes, else
        W.
        """
        check_fitted(self, "module_")
        weight = self.module_.weight.detach().double().cpu().numpy()
        return weight[1:] - weight[:1] if weight.shape[0] == 2 else weight

    @property
    def intercept_standardized_(self) -> np.ndarray:
        """Intercepts on standardised columns, shape (n_out,), float64."""
        check_fitted(self, "module_")
        bias = self.module_.bias.detach().double().cpu().numpy()
        return bias[1:] - bias[:1] if bias.shape[0] == 2 else bias

    def _column_statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x_mean_, x_scale_)``; zeros and ones for a model saved without them."""
        n_features = int(self.module_.weight.shape[1])
        mean = self.__dict__.get("x_mean_")
        scale = self.__dict__.get("x_scale_")
        if mean is None or scale is None:
            return np.zeros(n_features), np.ones(n_features)
        return np.asarray(mean, dtype=np.float64), np.asarray(scale, dtype=np.float64)

    @property
    def coef_(self) -> np.ndarray:
        """Coefficients in the units of the input columns, shape (n_out, n_features).

        ``coef_standardized_ / x_scale_``, so that ``X @ coef_.T + intercept_`` are the
        logits (the log-odds of ``classes_[1]`` for two classes) of raw rows X.
        """
        check_fitted(self, "module_")
        _, scale = self._column_statistics()
        return self.coef_standardized_ / scale

    @property
    def intercept_(self) -> np.ndarray:
        """Intercepts in the input units, shape (n_out,):
        ``intercept_standardized_ - coef_standardized_ @ (x_mean_ / x_scale_)``."""
        check_fitted(self, "module_")
        mean, scale = self._column_statistics()
        return self.intercept_standardized_ - self.coef_standardized_ @ (mean / scale)

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
            - ``"coef"``: float64 array of shape (n_out, n_features), :attr:`coef_`, in
              the input columns' units (n_out = 1 for two classes, the log-odds of
              ``classes_[1]``; else n_classes).
            - ``"intercept"``: float64 array of shape (n_out,), :attr:`intercept_`.
            - ``"coef_standardized"``, ``"intercept_standardized"``: the same on
              standardised columns (change in log-odds per standard deviation).
            - ``"x_mean"``, ``"x_scale"``: float64 arrays of shape (n_features,), the
              column statistics linking the two.
        """
        mean, scale = self._column_statistics()
        return {
            "view": "coefficients",
            "coef": self.coef_,
            "intercept": self.intercept_,
            "coef_standardized": self.coef_standardized_,
            "intercept_standardized": self.intercept_standardized_,
            "x_mean": mean,
            "x_scale": scale,
        }


def _lipschitz_bound(X: torch.Tensor, extra: float) -> float:
    """An upper bound on the curvature of the mean softmax loss in (W, b).

    The Hessian of a row's loss in its logits is at most 1/2 (Bohning's bound, for the
    cross-entropy and for ``T^2 * KL`` at any T), so the curvature in (W, b) is at most
    ``lambda_max([X, 1]^T [X, 1] / n) / 2``, plus that of the smooth penalties.

    Parameters
    ----------
    X : Tensor of shape (n_samples, n_features)
        Standardised rows.
    extra : float
        Curvature of the smooth penalties.

    Returns
    -------
    float
        L > 0.
    """
    ones = torch.ones(X.shape[0], 1, dtype=X.dtype, device=X.device)
    design = torch.cat([X, ones], dim=1)
    gram = design.T @ design / max(X.shape[0], 1)
    return 0.5 * float(torch.linalg.eigvalsh(gram)[-1]) + extra + 1e-12
