"""Full-batch solvers for convex objectives over a few torch parameters.

Two solvers, both deterministic (no random numbers) and both recording one history entry
per iteration:

- :func:`minimize_lbfgs`: a smooth objective ``F(theta)`` minimised by L-BFGS with
  torch's strong-Wolfe line search (the one of ``torch.optim.LBFGS``; the loop is ours so
  that every iteration is recorded, the stopping rule is scikit-learn's and the
  curvature test is scale-free: ``torch.optim.LBFGS`` drops every pair with ``s.y <=
  1e-10``, which stalls it near the optimum of a mean loss).
- :func:`minimize_fista`: a composite objective ``F(theta) = f(theta) + lambda *
  ||theta_P||_1`` (``theta_P`` the penalised parameters) minimised by FISTA (Beck and
  Teboulle, 2009) with backtracking on the step size and a function-value restart of the
  momentum (O'Donoghue and Candes, 2015). The proximal step soft-thresholds, so weights
  reach exactly zero.

Both stop when the largest absolute entry of the (proximal) gradient is at most ``tol``
(scikit-learn's ``gtol`` for its L-BFGS solver), when the relative decrease of the
objective falls below :data:`FTOL` (scipy's ``ftol`` as scikit-learn sets it), or after
``max_iter`` iterations. The objectives are callables of no arguments that read the
parameters in place; this module knows nothing of estimators or losses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.optim.lbfgs import _strong_wolfe  # private; the same from torch 1.4 to 2.13

__all__ = ["FTOL", "minimize_fista", "minimize_lbfgs"]

#: Stop when ``(F_prev - F) <= FTOL * max(|F_prev|, |F|, 1)``: no more progress in
#: float64 (64 machine epsilons, the value scikit-learn passes to scipy's L-BFGS-B).
FTOL = 64 * float(np.finfo(np.float64).eps)
#: Most function evaluations of one strong-Wolfe line search.
MAX_LINE_SEARCH = 25
#: Pairs of (step, gradient change) kept by L-BFGS (scipy's default).
LBFGS_MEMORY = 10

Objective = Callable[[], torch.Tensor]
Record = dict[str, float]


def _flat(params: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in params])


def _record(iteration: int, value: float, grad_max: float) -> Record:
    if not (math.isfinite(value) and math.isfinite(grad_max)):
        raise FloatingPointError(f"the objective became {value} at iteration {iteration}")
    return {"epoch": iteration, "train_loss": value, "grad_max": grad_max}


def _stalled(previous: float, value: float) -> bool:
    return previous - value <= FTOL * max(abs(previous), abs(value), 1.0)


def minimize_lbfgs(
    objective: Objective,
    params: Sequence[torch.Tensor],
    *,
    max_iter: int,
    tol: float,
) -> list[Record]:
    """Minimise a smooth ``F(params)`` in place with L-BFGS and a strong-Wolfe line search.

    The direction is the two-loop recursion over the last :data:`LBFGS_MEMORY` pairs
    ``(s, y) = (x_{k+1} - x_k, grad_{k+1} - grad_k)`` (Nocedal and Wright, 2006, Alg.
    7.4), with the initial scaling ``s.y / y.y``; a pair is kept when ``s.y > 1e-10 ||s||
    ||y||`` (a scale-free curvature test). The step length comes from torch's strong-Wolfe
    line search (the one ``torch.optim.LBFGS`` uses, ``c1 = 1e-4``, ``c2 = 0.9``).

    Parameters
    ----------
    objective : callable
        ``objective()`` returns the scalar ``F`` at the current values of ``params``
        (a Tensor with a graph to ``params``).
    params : sequence of Parameter
        The variables, float64 for a precise optimum; updated in place.
    max_iter : int
        Most iterations (>= 1).
    tol : float
        Stop when ``max_j |dF/dtheta_j| <= tol``.

    Returns
    -------
    list of dict
        One entry per iteration: ``epoch`` (1, 2, ...), ``train_loss`` (F after it) and
        ``grad_max`` (``max |grad F|`` after it). Empty when the start is optimal.

    Raises
    ------
    FloatingPointError
        If F or its gradient stops being finite.
    """
    params = list(params)

    def assign(x: torch.Tensor) -> None:
        offset = 0
        with torch.no_grad():
            for p in params:
                p.copy_(x[offset : offset + p.numel()].view_as(p))
                offset += p.numel()

    def value_and_grad(x: torch.Tensor) -> tuple[float, torch.Tensor]:
        assign(x)
        with torch.enable_grad():
            value = objective()
            grads = torch.autograd.grad(value, params, allow_unused=True)
        flat = [
            torch.zeros_like(p).reshape(-1) if g is None else g.reshape(-1)
            for p, g in zip(params, grads, strict=True)
        ]
        return float(value.detach()), torch.cat(flat)

    def line_function(x: torch.Tensor, t: float, d: torch.Tensor) -> tuple[float, torch.Tensor]:
        return value_and_grad(x + t * d)

    x = _flat(params)
    value, grad = value_and_grad(x)
    _record(0, value, float(grad.abs().max()))
    steps: list[tuple[torch.Tensor, torch.Tensor, float]] = []  # (s, y, 1 / s.y)
    history: list[Record] = []
    for iteration in range(1, max_iter + 1):
        if float(grad.abs().max()) <= tol:
            break
        direction = _two_loop(grad, steps)
        slope = float(grad.dot(direction))
        if slope >= 0:  # not a descent direction (numerically): restart from -grad
            steps.clear()
            direction, slope = -grad, -float(grad.dot(grad))
        first = 1.0 if steps else min(1.0, 1.0 / float(grad.abs().sum()))
        new_value, new_grad, t, _ = _strong_wolfe(
            line_function, x, first, direction, value, grad, slope, max_ls=MAX_LINE_SEARCH
        )
        step = float(t) * direction
        change = new_grad - grad
        curvature = float(step.dot(change))
        if curvature > 1e-10 * float(step.norm() * change.norm()):
            steps.append((step, change, 1.0 / curvature))
            del steps[:-LBFGS_MEMORY]
        previous = value
        x, value, grad = x + step, float(new_value), new_grad
        history.append(_record(iteration, value, float(grad.abs().max())))
        if _stalled(previous, value):
            break
    assign(x)
    return history


def _two_loop(
    grad: torch.Tensor, steps: Sequence[tuple[torch.Tensor, torch.Tensor, float]]
) -> torch.Tensor:
    """The L-BFGS direction ``-H grad`` from the stored pairs (steepest descent if none)."""
    q = -grad
    alphas = []
    for s, y, rho in reversed(steps):
        alpha = rho * float(s.dot(q))
        q = q - alpha * y
        alphas.append(alpha)
    if steps:
        s, y, _ = steps[-1]
        q = q * (float(s.dot(y)) / float(y.dot(y)))
    for (s, y, rho), alpha in zip(steps, reversed(alphas), strict=True):
        beta = rho * float(y.dot(q))
        q = q + (alpha - beta) * s
    return q


def _soft_threshold(x: torch.Tensor, threshold: float) -> torch.Tensor:
    return x.sign() * (x.abs() - threshold).clamp_min(0.0)


def minimize_fista(
    smooth: Objective,
    penalised: Sequence[torch.Tensor],
    free: Sequence[torch.Tensor],
    *,
    strength: float,
    lipschitz: float,
    max_iter: int,
    tol: float,
) -> list[Record]:
    """Minimise ``F = f(params) + strength * ||penalised||_1`` in place with FISTA.

    Each iteration takes the proximal gradient step from the extrapolated point y,
    ``x+ = prox(y - grad f(y) / L)`` (soft-threshold by ``strength / L`` on the penalised
    parameters, identity on the free ones), doubling L until the quadratic upper bound
    ``f(x+) <= f(y) + <grad f(y), x+ - y> + L/2 ||x+ - y||^2`` holds (each iteration
    first lowers L by 0.8, so the step can grow where the curvature is lower), then extrapolates
    ``y = x+ + (t_k - 1)/t_{k+1} (x+ - x)``; the momentum restarts whenever F rises.

    Parameters
    ----------
    smooth : callable
        ``smooth()`` returns the scalar f at the current values of the parameters.
    penalised, free : sequence of Parameter
        Parameters with and without the L1 term, float64; updated in place.
    strength : float
        lambda >= 0.
    lipschitz : float
        Starting value of L (> 0); an over-estimate is safe, an under-estimate is
        corrected by backtracking.
    max_iter : int
        Most iterations (>= 1).
    tol : float
        Stop when the largest entry of the gradient mapping ``L (y - x+)`` is at most
        ``tol`` (0 at the optimum).

    Returns
    -------
    list of dict
        One entry per iteration: ``epoch``, ``train_loss`` (F at x+) and ``grad_max``
        (the gradient mapping's largest entry).

    Raises
    ------
    FloatingPointError
        If F stops being finite.
    """
    params = [*penalised, *free]
    n_pen = len(penalised)

    def assign(values: Sequence[torch.Tensor]) -> None:
        with torch.no_grad():
            for p, v in zip(params, values, strict=True):
                p.copy_(v)

    def value_and_grad(values: Sequence[torch.Tensor]) -> tuple[float, list[torch.Tensor]]:
        assign(values)
        for p in params:
            p.grad = None
        with torch.enable_grad():
            f = smooth()
            grads = torch.autograd.grad(f, params, allow_unused=True)
        return float(f.detach()), [
            torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=True)
        ]

    def value(values: Sequence[torch.Tensor]) -> float:
        assign(values)
        with torch.no_grad():
            return float(smooth())

    def l1(values: Sequence[torch.Tensor]) -> float:
        return strength * float(sum(v.abs().sum() for v in values[:n_pen]))

    x = [p.detach().clone() for p in params]
    y = [v.clone() for v in x]
    t, big_l = 1.0, float(lipschitz)
    objective_x = value(x) + l1(x)
    history: list[Record] = []
    for iteration in range(1, max_iter + 1):
        f_y, grad_y = value_and_grad(y)
        big_l *= 0.8  # let the step grow again; backtracking below keeps it safe
        while True:
            step = [v - g / big_l for v, g in zip(y, grad_y, strict=True)]
            x_new = [
                _soft_threshold(s, strength / big_l) if i < n_pen else s for i, s in enumerate(step)
            ]
            diff = [a - b for a, b in zip(x_new, y, strict=True)]
            f_new = value(x_new)
            bound = (
                f_y
                + float(sum((g * d).sum() for g, d in zip(grad_y, diff, strict=True)))
                + 0.5 * big_l * float(sum(d.pow(2).sum() for d in diff))
            )
            if f_new <= bound + 1e-12 * max(abs(f_y), 1.0) or not math.isfinite(f_new):
                break
            big_l *= 2.0
        objective_new = f_new + l1(x_new)
        grad_map = big_l * max(float(d.abs().max()) for d in diff)
        history.append(_record(iteration, objective_new, grad_map))
        if objective_new > objective_x:  # restart: drop the momentum, keep x
            t, y = 1.0, [v.clone() for v in x]
            continue
        t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        y = [a + (t - 1.0) / t_next * (a - b) for a, b in zip(x_new, x, strict=True)]
        stalled = _stalled(objective_x, objective_new)
        x, t, objective_x = x_new, t_next, objective_new
        if grad_map <= tol or stalled:
            break
    assign(x)
    return history
