"""The node problem of TAO (:mod:`~._soft_tree_tao`): candidate sparse splits for the
care rows of one node.

A candidate is a hyperplane ``(w, b)`` on standardised rows (right when ``w . z + b > 0``)
with at most k non-zero weights. The caller keeps the candidate with the fewest care-row
errors, if it beats the current split.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

__all__ = ["best_stump", "node_candidates"]

# The L2 strength of the logistic refit on a candidate's support (nearly unpenalised).
_REFIT_L2 = 1e-2
# Newton steps of that refit.
_NEWTON_STEPS = 12


#: Relative tolerance under which two pursuit scores count as a tie (rounding noise of
#: float32 inputs is about 1e-7).
_TIE = 1e-5


def node_candidates(Xs: np.ndarray, ts: np.ndarray, k: int) -> list[tuple[np.ndarray, float]]:
    """Candidate splits for one node problem (care rows ``Xs``, 0/1 targets ``ts``).

    - The axis-aligned split with the fewest errors (:func:`best_stump`).
    - Greedy supports of 1, ..., k features chosen by orthogonal matching pursuit on the
      centred targets (each step adds the column most correlated with the least-squares
      residual); for each support, the least-squares hyperplane (``ts - 1/2`` regressed on
      the support, with intercept) and the logistic regression on the support with a weak
      L2 penalty (``_REFIT_L2``, Newton's method), both as candidates; and the same on
      the supports of a second greedy pursuit that starts at the stump's feature and
      adds the column with the largest logistic-loss gradient (:func:`_logistic_pursuit`,
      whose own logistic fits, the same optima, are reused rather than refitted).
      With k at least the number of features, only the full support is fitted.
    """
    p = Xs.shape[1]
    out: list[tuple[np.ndarray, float]] = []
    if np.unique(ts).size < 2:
        return out
    first: list[int] = []
    stump = best_stump(Xs, ts)
    if stump is not None:
        first = [int(np.flatnonzero(stump[0])[0])]
        out.append(stump)
    y = ts.astype(np.float64)
    # (support, its least-squares fit or None, its logistic fit or None)
    supports: list[tuple[np.ndarray, np.ndarray | None, np.ndarray | None]]
    if k >= p:
        supports = [(np.arange(p), None, None)]
    else:
        supports = [(s, coef, None) for s, coef in _matching_pursuit(Xs, y - 0.5, k, [])]
        known = {tuple(s) for s, _, _ in supports}
        for support, theta in _logistic_pursuit(Xs, y, k, first):
            if tuple(support) not in known:
                supports.append((support, None, theta))
    for support, coef, logistic in supports:
        design = np.column_stack([Xs[:, support], np.ones(Xs.shape[0])])
        if coef is None:
            coef = np.linalg.lstsq(design, y - 0.5, rcond=None)[0]
        if logistic is None:
            logistic = _logistic_newton(design, y, 4.0 * coef)
        for theta in (coef, logistic):
            if np.all(np.isfinite(theta)) and np.any(theta[:-1] != 0):
                w = np.zeros(p)
                w[support] = theta[:-1]
                out.append((w, float(theta[-1])))
    return out


def best_stump(Xs: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, float] | None:
    """The axis-aligned split ``+-(z_j - t) > 0`` with the fewest 0/1 errors on ``ts``.

    Every column is sorted once; for the cut after sorted position i (between two
    distinct values, t their midpoint) the errors of "right when z_j > t" are the True
    targets at or before i plus the False ones after it, and those of the flipped
    split are the rest. Ties between cuts go to the lowest column, then the lowest cut.

    Parameters
    ----------
    Xs : ndarray of shape (n, p)
        Rows.
    ts : ndarray of shape (n,), bool
        True: the row should go right.

    Returns
    -------
    (w, b) or None
        ``w = +-e_j``, ``b = -+t``; None when no column has two distinct values.
    """
    n, p = Xs.shape
    columns = Xs.T  # (p, n): one sorted column per row, cuts in reading order
    # the order among equal values does not matter (cuts lie only between distinct
    # values), so the faster unstable sort gives the same split
    order = np.argsort(columns, axis=1)
    values = np.take_along_axis(columns, order, axis=1)
    true_before = np.cumsum(ts[order], axis=1, dtype=np.int64)  # True targets at or before i
    # errors of "right when z_j > t" for the cut after i: the True targets at or before
    # i plus the False ones after it, (n - 1 - i) - (n_true - true_before_i)
    errors = 2 * true_before[:, :-1] - true_before[:, -1:] + np.arange(n - 1, 0, -1)
    valid = values[:, 1:] > values[:, :-1]
    if not valid.any():
        return None
    plain = np.where(valid, errors, n + 1)
    flipped = np.where(valid, n - errors, n + 1)
    first_plain, first_flipped = int(plain.argmin()), int(flipped.argmin())
    flip = bool(flipped.flat[first_flipped] < plain.flat[first_plain])  # ties: plain
    j, i = divmod(first_flipped if flip else first_plain, n - 1)
    threshold = 0.5 * (float(values[j, i]) + float(values[j, i + 1]))
    w = np.zeros(p)
    sign = -1.0 if flip else 1.0
    w[j] = sign
    return w, -sign * threshold


def _matching_pursuit(
    Xs: np.ndarray, target: np.ndarray, k: int, start: list[int]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The nested supports of 1, ..., k columns chosen by orthogonal matching pursuit,
    starting from the columns ``start`` (the supports shorter than it are left out).

    Returns
    -------
    list of (support, theta)
        Each support (sorted column numbers) with the least-squares fit of ``target`` on
        it with an intercept (the weights in the support's order, then the intercept):
        the pursuit's fit on the centred columns, whose weights are the same, and the
        intercept ``mean(target) - mean(X_support) . w``.
    """
    means = Xs.mean(axis=0)
    centred = Xs - means
    norms = np.sqrt((centred**2).sum(axis=0))
    usable = norms > 1e-12
    chosen = list(start)
    centred_target = target - target.mean()
    out: list[tuple[np.ndarray, np.ndarray]] = []

    def fit() -> np.ndarray:
        design = centred[:, chosen]
        coef = np.linalg.lstsq(design, centred_target, rcond=None)[0]
        order = np.argsort(chosen)
        support = np.asarray(chosen)[order]
        out.append((support, np.append(coef[order], target.mean() - means[support] @ coef[order])))
        return centred_target - design @ coef

    residual = fit() if chosen else centred_target
    for _ in range(k - len(chosen)):
        j = _next_column(centred, norms, usable, residual, chosen)
        if j is None:
            break
        chosen.append(j)
        residual = fit()
    return out


def _logistic_pursuit(
    Xs: np.ndarray, y: np.ndarray, k: int, start: list[int]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Nested supports grown by the gradient of the logistic loss: from ``start``, add the
    column with the largest |X_j^T (y - p)| / ||X_j|| (p the logistic fit on the support
    so far), refitting after each step from the previous fit (the new weight at 0).

    Returns
    -------
    list of (support, theta)
        Each support (sorted column numbers, of ``len(start)`` to k columns) with its
        logistic fit ``theta`` (the weights in the support's order, then the intercept).
    """
    centred = Xs - Xs.mean(axis=0)
    norms = np.sqrt((centred**2).sum(axis=0))
    usable = norms > 1e-12
    chosen = list(start)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    ones = np.ones((Xs.shape[0], 1))
    theta = np.zeros(len(chosen) + 1)
    while True:
        design = np.column_stack([Xs[:, chosen], ones]) if chosen else ones
        theta = _logistic_newton(design, y, theta)
        if chosen:
            order = np.argsort(chosen)
            out.append((np.asarray(chosen)[order], np.append(theta[:-1][order], theta[-1])))
        if len(chosen) >= k:
            break
        prob = 1.0 / (1.0 + np.exp(-(design @ theta)))
        j = _next_column(centred, norms, usable, y - prob, chosen)
        if j is None:
            break
        chosen.append(j)
        theta = np.insert(theta, len(chosen) - 1, 0.0)  # warm start: the new weight at 0
    return out


def _next_column(
    centred: np.ndarray,
    norms: np.ndarray,
    usable: np.ndarray,
    direction: np.ndarray,
    chosen: list[int],
) -> int | None:
    """The pursuits' step: the unchosen column most correlated with ``direction``
    (``|X_j^T direction| / ||X_j||``, ties to the first), None when none is."""
    score = np.abs(centred.T @ direction) / np.where(usable, norms, 1.0)
    score[~usable] = -1.0
    score[chosen] = -1.0
    j = _first_best(score)
    return None if score[j] <= 1e-12 else j


def _first_best(score: np.ndarray) -> int:
    """The first column whose score is within ``_TIE`` (relative) of the largest.

    Columns that tie exactly in exact arithmetic (e.g. one-hot columns with the same
    counts) differ by rounding, and rounding differs between the same rows in other
    units (standardised twice vs once): a tolerance makes the choice the first column
    of the tie in both, so the tree does not depend on the columns' units.
    """
    top = float(score.max())
    return int(np.flatnonzero(score >= top - _TIE * abs(top))[0])


def _lapack_solve(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int]:
    """``a^-1 b`` by LAPACK's ``gesv`` (the LU solve of ``numpy.linalg.solve``, without
    its per-call checks: thousands of tiny systems per tree) and LAPACK's ``info``."""
    _, _, x, info = lapack.dgesv(a, b)
    return x, int(info)


def _logistic_newton(design: np.ndarray, y: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Logistic regression by Newton's method with a weak L2 penalty on the weights.

    Minimises ``f(theta) = sum_i softplus(-s_i * m_i) + _REFIT_L2 / 2 * ||w||^2`` with
    ``m = design @ theta``, s_i = 2 y_i - 1 and ``softplus(u) = log(1 + exp(u)) =
    max(u, 0) + log1p(exp(-|u|))`` (the intercept, the last column of ``design``,
    unpenalised), from ``start`` (4 times the least-squares coefficients, the logistic
    scale, or the fit of a smaller support), by at most ``_NEWTON_STEPS`` steps
    ``theta -= H^-1 g`` (``g = D^T (p - y) + r theta``, ``H = D^T diag(p (1 - p)) D +
    diag(r)``, p = sigmoid(m)) with step halving; it stops once a step lowers f by less
    than 1e-6 (relative). One ``exp(-|m|)`` per row gives both f and p.
    """
    theta = np.array(start, dtype=np.float64)
    ridge = np.full(design.shape[1], _REFIT_L2)
    ridge[-1] = 1e-8
    sign = 2.0 * y - 1.0
    columns = np.ascontiguousarray(design.T)  # (p + 1, n): faster products below
    diagonal = np.diag_indices(design.shape[1])

    def objective(t: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        margin = design @ t
        size = np.abs(margin)
        small = np.exp(-size)  # in (0, 1]: no overflow
        # max(-s m, 0) = (|m| - s m) / 2 for s = +-1
        loss = np.log1p(small).sum() + 0.5 * (size.sum() - sign @ margin)
        return float(loss + 0.5 * (ridge @ (t * t))), margin, small

    value, margin, small = objective(theta)
    for _ in range(_NEWTON_STEPS):
        denominator = 1.0 + small
        prob = np.where(margin >= 0.0, 1.0, small) / denominator  # sigmoid(margin)
        grad = columns @ (prob - y) + ridge * theta
        hess = (columns * (small / (denominator * denominator))) @ columns.T  # p (1 - p)
        hess[diagonal] += ridge
        step, info = _lapack_solve(hess, grad)
        if info != 0:  # a singular Hessian (LAPACK's LU, as numpy.linalg.solve)
            break
        size = 1.0
        while size > 1e-3:
            trial = theta - size * step
            trial_value, trial_margin, trial_small = objective(trial)
            if trial_value <= value:
                break
            size /= 2.0
        else:
            break
        if value - trial_value < 1e-6 * max(1.0, abs(value)):
            theta = trial
            break
        theta, value, margin, small = trial, trial_value, trial_margin, trial_small
    return theta
