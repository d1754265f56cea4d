"""The node problem of TAO (:mod:`~._soft_tree_tao`): candidate sparse splits for the
care rows of one node.

A candidate is a hyperplane ``(w, b)`` on standardised rows (right when ``w . z + b > 0``)
with at most k non-zero weights. The caller keeps the candidate with the fewest care-row
errors, if it beats the current split.
"""

from __future__ import annotations

import numpy as np

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
      adds the column with the largest logistic-loss gradient (:func:`_logistic_pursuit`).
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
    if k >= p:
        supports = [np.arange(p)]
    else:
        supports = _matching_pursuit(Xs, y - 0.5, k, [])
        seeded = _logistic_pursuit(Xs, y, k, first)
        known = {tuple(s) for s in supports}
        supports += [s for s in seeded if tuple(s) not in known]
    for support in supports:
        design = np.column_stack([Xs[:, support], np.ones(Xs.shape[0])])
        coef = np.linalg.lstsq(design, y - 0.5, rcond=None)[0]
        for theta in (coef, _logistic_newton(design, y, coef)):
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
    order = np.argsort(Xs, axis=0, kind="stable")
    values = np.take_along_axis(Xs, order, axis=0)
    wants_right = ts[order].astype(np.int64)
    true_before = np.cumsum(wants_right, axis=0)[:-1]  # (n - 1, p): cut after row i
    after = np.arange(n - 1, 0, -1)[:, None]
    false_after = after - (true_before[-1:] + wants_right[-1:] - true_before)
    errors = true_before + false_after
    valid = values[1:] > values[:-1]
    if not valid.any():
        return None
    best_plain = np.where(valid, errors, n + 1)
    best_flip = np.where(valid, n - errors, n + 1)
    flat = np.concatenate([best_plain.T.ravel(), best_flip.T.ravel()])
    pick = int(flat.argmin())
    flip, rest = divmod(pick, p * (n - 1))
    j, i = divmod(rest, n - 1)
    threshold = 0.5 * (float(values[i, j]) + float(values[i + 1, j]))
    w = np.zeros(p)
    sign = -1.0 if flip else 1.0
    w[j] = sign
    return w, -sign * threshold


def _matching_pursuit(
    Xs: np.ndarray, target: np.ndarray, k: int, start: list[int]
) -> list[np.ndarray]:
    """The nested supports of 1, ..., k columns chosen by orthogonal matching pursuit,
    starting from the columns ``start`` (the supports shorter than it are left out)."""
    centred = Xs - Xs.mean(axis=0)
    norms = np.sqrt((centred**2).sum(axis=0))
    usable = norms > 1e-12
    chosen = list(start)
    residual = target - target.mean()
    if chosen:
        design = centred[:, chosen]
        coef = np.linalg.lstsq(design, residual, rcond=None)[0]
        residual = residual - design @ coef
    supports = [np.array(sorted(chosen))] if chosen else []
    for _ in range(k - len(chosen)):
        j = _next_column(centred, norms, usable, residual, chosen)
        if j is None:
            break
        chosen.append(j)
        design = centred[:, chosen]
        coef = np.linalg.lstsq(design, target - target.mean(), rcond=None)[0]
        residual = target - target.mean() - design @ coef
        supports.append(np.array(sorted(chosen)))
    return supports


def _logistic_pursuit(Xs: np.ndarray, y: np.ndarray, k: int, start: list[int]) -> list[np.ndarray]:
    """Nested supports grown by the gradient of the logistic loss: from ``start``, add the
    column with the largest |X_j^T (y - p)| / ||X_j|| (p the logistic fit on the support
    so far), refitting after each step."""
    centred = Xs - Xs.mean(axis=0)
    norms = np.sqrt((centred**2).sum(axis=0))
    usable = norms > 1e-12
    chosen = list(start)
    supports: list[np.ndarray] = []
    ones = np.ones((Xs.shape[0], 1))
    while True:
        design = np.column_stack([Xs[:, chosen], ones]) if chosen else ones
        theta = _logistic_newton(design, y, np.zeros(design.shape[1]))
        if chosen:
            supports.append(np.array(sorted(chosen)))
        if len(chosen) >= k:
            break
        prob = 1.0 / (1.0 + np.exp(-(design @ theta)))
        j = _next_column(centred, norms, usable, y - prob, chosen)
        if j is None:
            break
        chosen.append(j)
    return supports


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


def _logistic_newton(design: np.ndarray, y: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Logistic regression by Newton's method with a weak L2 penalty on the weights.

    Minimises ``sum_i log(1 + exp(-s_i * theta . d_i)) + _REFIT_L2 / 2 * ||w||^2``
    (s_i = 2 y_i - 1, the intercept, the last column of ``design``, unpenalised), from
    4 times the least-squares coefficients (the logistic scale), for ``_NEWTON_STEPS``
    steps with step halving.
    """
    theta = 4.0 * start
    ridge = np.full(design.shape[1], _REFIT_L2)
    ridge[-1] = 1e-8
    sign = 2.0 * y - 1.0

    def objective(t: np.ndarray) -> float:
        return float(np.logaddexp(0.0, -sign * (design @ t)).sum() + 0.5 * (ridge * t * t).sum())

    value = objective(theta)
    for _ in range(_NEWTON_STEPS):
        prob = 1.0 / (1.0 + np.exp(-(design @ theta)))
        grad = design.T @ (prob - y) + ridge * theta
        hess = (design * (prob * (1.0 - prob))[:, None]).T @ design + np.diag(ridge)
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            break
        size = 1.0
        while size > 1e-3:
            trial = theta - size * step
            trial_value = objective(trial)
            if trial_value <= value:
                break
            size /= 2.0
        else:
            break
        if value - trial_value < 1e-6 * max(1.0, abs(value)):
            theta = trial
            break
        theta, value = trial, trial_value
    return theta
