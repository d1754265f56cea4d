"""``temperature="auto"``: choose the distillation temperature T for fidelity.

Softening (T > 1) helps a student match the teacher's *probabilities*; sharpening
(T < 1) helps a small student match the teacher's *decisions*. For a linear student the
optimum of the KL objective at T = 1 is not the optimum of decision agreement: as
T -> 0 the softened targets approach the teacher's one-hot labels and the objective
weighs rows near the teacher's boundary more. Which T wins depends on the data, the
teacher and the student, so :class:`~interpretable_kd.DistilledClassifier` measures it:

1. split the transfer rows (the user's rows, not synthetic ones) into a candidate-training
   part of at most ``max_rows`` rows and a validation part (every other row), both
   stratified by the teacher's predicted class, with ``n_valid = round(f * n)`` rows held
   out at least (``f = valid_fraction``);
2. fit the student (same seed, same settings) at T = 1 on the training part, with the
   teacher logits already computed (the teacher is never called again) and
   ``TEMPERATURE_SEARCH_STEP_SCALE`` (a third) of the ``max_epochs="auto"`` step budget;
   then, for each T in the grid, continue a copy of that fit at T for
   ``TEMPERATURE_SEARCH_WARM_SCALE`` (a ninth) of the budget: every candidate starts
   from the same point, so they differ only by T, and six short continuations cost
   less than six fits from scratch. A student solved exactly
   (``TorchClassifier._fit_uses_step_budget`` is False) has the T = 1 fit as its own
   candidate; the others continue from it, each for the same number of solver
   iterations (half a fit's), when a warm start pays
   (``TorchClassifier._warm_start_pays``: the additive model keeps the T = 1 fit's
   knots and pair terms), on as many threads at once as the student allows
   (``TorchClassifier._search_workers``), else they are fitted from scratch (the
   logistic student's L-BFGS/FISTA, fast either way; a non-torch student with
   ``fit_distill``);
3. score each candidate on the validation part: fidelity (share of rows where the
   student's argmax equals the teacher's) and ``KL(softmax(z_T) || p_S)`` at T = 1, the
   mismatch of the probabilities the student actually predicts;
4. choose the highest fidelity, but treat every candidate within ``z`` paired standard
   errors of it as tied (validation noise); among the tied, the lowest KL wins, then the
   T closest to 1 (smallest ``|log T|``, then the smaller T).

With fewer than ``TEMPERATURE_SEARCH_MIN_VALID_ROWS`` validation rows the candidates
cannot be told apart, and T = 1 is kept without a search (the table says so in its
``reason`` column). The caller then refits from scratch on every row at the chosen T.
Cost, measured on 21,000 x 30 rows (``benchmarks/defaults_speed.py``): about one full
fit for the shallow MLP and the soft tree (a third of the budget on at most
``max_rows`` rows, then six ninths), where six fits at a third from scratch cost about
two; an exact solver's candidates cost what they did.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import math
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from ._defaults import (
    TEMPERATURE_GRID,
    TEMPERATURE_SEARCH_MAX_ROWS,
    TEMPERATURE_SEARCH_MIN_VALID_ROWS,
    TEMPERATURE_SEARCH_STEP_SCALE,
    TEMPERATURE_SEARCH_WARM_SCALE,
    TEMPERATURE_SEARCH_Z,
    TEMPERATURE_VALIDATION_FRACTION,
)
from ._loop import scaled_step_budget
from ._numeric import softmax
from ._search_hooks import search_cache
from ._training import TorchClassifier
from ._validation import check_temperature, did_you_mean, temperature_range
from .exceptions import ParameterError
from .metrics import kl_divergence

__all__ = [
    "SEARCH_COLUMNS",
    "check_temperature_param",
    "choose_temperature",
    "distils",
    "fit_student",
    "search_split",
    "search_temperature",
]

#: Columns of ``DistilledClassifier.temperature_search_``, in order.
SEARCH_COLUMNS = (
    "temperature",
    "start",
    "step_scale",
    "validation_fidelity",
    "validation_kl",
    "fit_seconds",
    "chosen",
    "reason",
)


def search_split(
    strata: np.ndarray,
    rng: np.random.Generator,
    *,
    valid_fraction: float,
    max_rows: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers of the candidate-training and validation parts of the search.

    Every class of ``strata`` gives ``round(f * n_c)`` rows to the validation part (at
    least 1 when the class has 2 rows or more, none when it has 1), so both parts keep
    the class balance. When more than ``max_rows`` rows remain for training, a stratified
    sample of ``max_rows`` of them trains the candidates and the rest join the validation
    part (predicting is cheap; more validation rows make the choice less noisy).

    Parameters
    ----------
    strata : ndarray of shape (n_samples,)
        The teacher's predicted class index of each row.
    rng : numpy.random.Generator
        Source of the permutations.
    valid_fraction : float in (0, 1)
        f, the least share of the rows held out for validation.
    max_rows : int >= 1
        The most rows the candidates are trained on.

    Returns
    -------
    train : ndarray of int, shape (n_train,)
    valid : ndarray of int, shape (n_samples - n_train,)
        Sorted, disjoint row numbers covering ``0 .. n_samples - 1``.
    """
    n_samples = strata.shape[0]
    n_train_total = n_samples - round(valid_fraction * n_samples)
    share = min(n_train_total, max_rows) / n_samples
    train = []
    for label in np.unique(strata):
        rows = rng.permutation(np.flatnonzero(strata == label))
        take = len(rows) if len(rows) < 2 else min(len(rows) - 1, max(1, round(share * len(rows))))
        train.append(rows[:take])
    train_index = np.sort(np.concatenate(train))
    valid_index = np.setdiff1d(np.arange(n_samples), train_index)
    return train_index, valid_index


def _tie_key(row: tuple[float, float, float]) -> tuple[float, float, float, float]:
    temperature, fidelity, kl = row
    return (-fidelity, kl, abs(math.log(temperature)), temperature)


def choose_temperature(
    fit_candidate: Callable[[np.ndarray, float], tuple[Any, str, float]],
    predict_proba: Callable[[Any, np.ndarray], np.ndarray],
    teacher_logits: np.ndarray,
    train_index: np.ndarray,
    valid_index: np.ndarray,
    grid: Sequence[float],
    z: float = TEMPERATURE_SEARCH_Z,
    workers: int = 1,
) -> tuple[float, pd.DataFrame]:
    """Fit one candidate per temperature and choose the most faithful one.

    Parameters
    ----------
    fit_candidate : callable
        ``fit_candidate(train_index, T)`` returns ``(student, start, step_scale)``: a
        student fitted at temperature T on the rows ``train_index`` (the caller closes
        over X, the logits and the labels), where its fit started from (``"T = 1 fit"``
        or ``"scratch"``) and its share of the ``max_epochs="auto"`` step budget.
    predict_proba : callable
        ``predict_proba(student, valid_index)`` returns the student's probabilities on the
        rows ``valid_index``, shape (n_valid, n_classes), columns in the teacher's order.
    teacher_logits : ndarray of shape (n_samples, n_classes)
        The teacher's logits z_T for every row (computed once by the caller).
    train_index, valid_index : ndarray of int
        From :func:`search_split`.
    grid : sequence of float
        The candidate temperatures, each > 0.
    z : float
        Candidates within ``z`` paired standard errors of the best fidelity count as tied.
    workers : int
        Candidates fitted at once, a thread each (1: one after another); the caller
        makes ``fit_candidate`` safe for that.

    Returns
    -------
    temperature : float
        The chosen T.
    table : pandas.DataFrame
        One row per candidate, in grid order, with the columns :data:`SEARCH_COLUMNS`:
        ``start`` and ``step_scale`` (as returned by ``fit_candidate``),
        ``validation_fidelity`` = mean of ``argmax p_S == argmax z_T``,
        ``validation_kl`` = mean ``KL(softmax(z_T) || p_S)`` (nats), ``fit_seconds`` (wall
        time of the candidate's own fit; with ``workers > 1`` fits overlap) and ``chosen``
        (True on exactly one row).
    """
    p_teacher = softmax(np.asarray(teacher_logits[valid_index], dtype=np.float64))
    teacher_class = p_teacher.argmax(axis=1)
    rows: list[tuple[float, float, float, float]] = []
    starts: list[tuple[str, float]] = []
    agree: list[np.ndarray] = []

    def timed(temperature: float) -> tuple[Any, str, float, float]:
        start = time.perf_counter()
        student, origin, scale = fit_candidate(train_index, temperature)
        return student, origin, scale, time.perf_counter() - start

    fits: Iterable[tuple[Any, str, float, float]]
    if workers > 1 and len(grid) > 1:  # each task sees the caller's context (search_cache)
        with ThreadPoolExecutor(min(workers, len(grid))) as pool:
            tasks = [pool.submit(contextvars.copy_context().run, timed, float(t)) for t in grid]
            fits = [task.result() for task in tasks]
    else:
        fits = (timed(float(t)) for t in grid)  # one at a time
    for temperature, (student, origin, scale, seconds) in zip(grid, fits, strict=True):
        proba = np.asarray(predict_proba(student, valid_index), dtype=np.float64)
        agree.append((proba.argmax(axis=1) == teacher_class).astype(np.float64))
        kl = float(kl_divergence(p_teacher, proba))
        rows.append((float(temperature), float(agree[-1].mean()), kl, seconds))
        starts.append((origin, float(scale)))
    best, reason = _choose(rows, agree, z)
    table = pd.DataFrame(
        [
            (t, origin, scale, fidelity, kl, seconds, i == best, reason if i == best else "")
            for i, ((t, fidelity, kl, seconds), (origin, scale)) in enumerate(
                zip(rows, starts, strict=True)
            )
        ],
        columns=list(SEARCH_COLUMNS),
    )
    return rows[best][0], table


def _choose(
    rows: Sequence[tuple[float, float, float, float]], agree: Sequence[np.ndarray], z: float
) -> tuple[int, str]:
    """Index of the chosen candidate and the reason, in words.

    The candidates whose validation fidelity is within ``z`` standard errors of the best
    one's (paired over the same rows: ``d_i = a_best,i - a_c,i``, ``SE = sd(d) / sqrt(n)``)
    cannot be told apart from it; among them the lowest KL wins, then the T closest to 1.
    """
    best = min(range(len(rows)), key=lambda i: _tie_key(rows[i][:3]))
    tied = []
    for i in range(len(rows)):
        d = agree[best] - agree[i]
        se = float(d.std(ddof=1) / math.sqrt(d.size)) if d.size > 1 else 0.0
        if float(d.mean()) <= z * se:
            tied.append(i)
    chosen = min(tied, key=lambda i: (rows[i][2], abs(math.log(rows[i][0])), rows[i][0]))
    if len(tied) == 1:
        return chosen, (
            "the highest validation fidelity"
            + (f", beyond {z:g} standard errors of every other T" if z > 0 else "")
        )
    others = ", ".join(f"{rows[i][0]:g}" for i in tied if i != chosen)
    if z == 0:
        return chosen, f"the highest validation fidelity, tied with T = {others}; the lowest KL"
    return chosen, (
        f"fidelity within {z:g} standard errors of the best (T = {others} too); "
        "of those, the lowest KL"
    )


def search_temperature(
    student: Any,
    X: np.ndarray,
    frame: Callable[[np.ndarray], Any],
    teacher_logits: np.ndarray,
    y_index: np.ndarray | None,
    classes: np.ndarray,
    hard_label_weight: float,
    rng: np.random.Generator,
    grid: Sequence[float] = TEMPERATURE_GRID,
) -> tuple[float, pd.DataFrame, Any]:
    """The whole search: :func:`search_split`, then :func:`choose_temperature` over clones
    of ``student``.

    Parameters
    ----------
    student : estimator
        The unfitted student (its seed already fixed); every candidate is a clone of it.
    X : ndarray of shape (n_samples, n_features)
        The user's rows (no synthetic rows).
    frame : callable
        ``frame(rows_of_X)`` gives the rows as the student expects them (a DataFrame when
        the columns have names).
    teacher_logits : ndarray of shape (n_samples, n_classes)
        z_T for every row of X, computed once.
    y_index : ndarray of shape (n_samples,) or None
        Class indices of the true labels, or None.
    classes : ndarray of shape (n_classes,)
        The teacher's classes.
    hard_label_weight : float
        w in [0, 1], as in the final fit.
    rng : numpy.random.Generator
        Seeds the split.
    grid : sequence of float
        Candidate temperatures.

    Returns
    -------
    temperature : float
    table : pandas.DataFrame
        As in :func:`choose_temperature`; ``attrs``: ``start_seconds`` (the shared T = 1
        fit's, when it is not a candidate itself), ``workers`` (candidates fitted at once)
        and ``search_seconds`` (the search's wall time).
    candidate : estimator or None
        The candidate fitted at the chosen T (None when no search ran), for
        ``TorchClassifier._reuse_search``.
    """
    train_index, valid_index = search_split(
        teacher_logits.argmax(axis=1),
        rng,
        valid_fraction=TEMPERATURE_VALIDATION_FRACTION,
        max_rows=TEMPERATURE_SEARCH_MAX_ROWS,
    )

    if valid_index.size < TEMPERATURE_SEARCH_MIN_VALID_ROWS:
        reason = (
            f"only {valid_index.size} validation rows: one row is "
            f"{100 / max(valid_index.size, 1):.1f} points of fidelity, too coarse to tell "
            "temperatures apart, so T = 1 was kept without a search"
        )
        table = pd.DataFrame(
            [(1.0, "", np.nan, np.nan, np.nan, 0.0, True, reason)], columns=list(SEARCH_COLUMNS)
        )
        table.attrs.update(start_seconds=0.0, workers=1, search_seconds=0.0)
        return 1.0, table, None

    y_rows = None if y_index is None else y_index[train_index]
    X_rows, z_rows = frame(X[train_index]), teacher_logits[train_index]

    def from_scratch(temperature: float) -> Any:
        with scaled_step_budget(TEMPERATURE_SEARCH_STEP_SCALE):
            return fit_student(
                clone(student), X_rows, z_rows, y_rows, classes, temperature, hard_label_weight
            )

    # the candidates share work that depends only on their structure and rows
    with search_cache():
        began = time.perf_counter()
        shared = from_scratch(1.0)  # T = 1, the start every candidate may share
        start_seconds = time.perf_counter() - began
        # a fit that depends on the step budget continues cheaply from the shared start, and
        # so does an exact solver that says a warm start pays (TorchClassifier._warm_start_pays:
        # the same terms, the same iterations from nearby); any other starts from scratch
        budget = isinstance(shared, TorchClassifier) and shared._fit_uses_step_budget()
        warm = isinstance(shared, TorchClassifier) and shared._warm_start_pays()

        fitted: dict[float, Any] = {}

        def fit_candidate(rows: np.ndarray, temperature: float) -> tuple[Any, str, float]:
            if not budget and temperature == 1.0:  # an exact solver's T = 1 fit is a candidate
                fitted[temperature] = shared
                return shared, "scratch", TEMPERATURE_SEARCH_STEP_SCALE
            if not warm:
                fitted[temperature] = from_scratch(temperature)
                return fitted[temperature], "scratch", TEMPERATURE_SEARCH_STEP_SCALE
            candidate = copy.deepcopy(shared)
            with scaled_step_budget(TEMPERATURE_SEARCH_WARM_SCALE):
                candidate._fit_distill(
                    X_rows,
                    z_rows,
                    y_rows,
                    classes=classes,
                    temperature=temperature,
                    hard_label_weight=hard_label_weight,
                    warm_start=True,
                )
            fitted[temperature] = candidate
            scale = TEMPERATURE_SEARCH_WARM_SCALE if budget else math.nan
            return candidate, "T = 1 fit", scale

        def predict_proba(candidate: Any, rows: np.ndarray) -> np.ndarray:
            return np.asarray(candidate.predict_proba(frame(X[rows])))

        # continuations of an exact solver's fit may run at once, a thread each, when the
        # student says they come out the same (TorchClassifier._search_workers)
        workers = shared._search_workers() if warm and not budget else 1
        parallel = shared._search_parallel_context() if workers > 1 else contextlib.nullcontext()
        with parallel:
            temperature, table = choose_temperature(
                fit_candidate,
                predict_proba,
                teacher_logits,
                train_index,
                valid_index,
                grid,
                workers=workers,
            )
    if warm and budget:
        table.loc[table["chosen"], "reason"] += (
            f"; every candidate continued for {_share(TEMPERATURE_SEARCH_WARM_SCALE)} from "
            f"one fit at T = 1 ({_share(TEMPERATURE_SEARCH_STEP_SCALE)})"
        )
    elif warm:
        table.loc[table["chosen"], "reason"] += (
            "; every candidate continued from the fit at T = 1 (the same terms) for the same "
            "number of solver iterations"
        )
    reused = not budget and 1.0 in grid  # the T = 1 fit was that candidate: its time too
    if reused:
        table.loc[table["temperature"] == 1.0, "fit_seconds"] += start_seconds
    table.attrs["start_seconds"] = 0.0 if reused else start_seconds
    table.attrs["workers"] = workers
    table.attrs["search_seconds"] = time.perf_counter() - began  # wall time, fits overlapped
    return temperature, table, fitted[temperature]


def _share(scale: float) -> str:
    """A share of the step budget, in words."""
    return f"{100 * scale:.0f}% of the step budget"


def check_temperature_param(value: object, owner: str) -> float | str:
    """``"auto"`` or a number in [0.01, 100] (``DistilledClassifier``'s ``temperature``).

    Parameters
    ----------
    value : object
        What the user passed.
    owner : str
        Who asks, for the error message.

    Returns
    -------
    float or str
        ``"auto"``, or the number as a float.

    Raises
    ------
    ParameterError
        For any other string, with a hint: "Did you mean 'auto'?" when it is close, "Pass
        the number 4.0, not a string." for a number written as text.
    InputTypeError, ParameterError
        From :func:`~interpretable_kd._validation.check_temperature` for anything else.
    """
    if not isinstance(value, str):
        return check_temperature(value, owner)
    if value == "auto":
        return value
    hint = did_you_mean(value.strip().lower(), ["auto"])
    if not hint:
        try:
            hint = f" Pass the number {float(value)!r}, not a string."
        except ValueError:
            hint = " Use temperature='auto' or a number such as 1.0."
    raise ParameterError(
        f"The 'temperature' parameter of {owner} must be 'auto' or a float in the range "
        f"{temperature_range()}. Got {value!r} of type str instead.{hint}"
    )


def distils(student: Any) -> bool:
    """Whether ``student`` learns from logits (a temperature applies) rather than labels."""
    return isinstance(student, TorchClassifier) or hasattr(student, "fit_distill")


def fit_student(
    student: Any,
    X: Any,
    teacher_logits: np.ndarray,
    y_index: np.ndarray | None,
    classes: np.ndarray,
    temperature: float | None,
    hard_label_weight: float,
) -> Any:
    """Fit ``student`` in place on the teacher and return it.

    A :class:`~interpretable_kd._training.TorchClassifier` or any model with
    ``fit_distill`` learns ``softmax(z_T / T)`` (plus ``y`` with weight w); any other
    classifier learns the teacher's labels ``classes[argmax z_T]`` (a global surrogate).

    Parameters
    ----------
    student : estimator
        An unfitted clone.
    X : ndarray or DataFrame of shape (n_samples, n_features)
        The rows.
    teacher_logits : ndarray of shape (n_samples, n_classes)
        z_T for those rows.
    y_index : ndarray of shape (n_samples,) or None
        Class indices (-1: no label), or None.
    classes : ndarray of shape (n_classes,)
        The teacher's classes.
    temperature : float or None
        T > 0 (validated); None for a global surrogate.
    hard_label_weight : float
        w in [0, 1] (validated).

    Returns
    -------
    estimator
        ``student``, fitted.
    """
    if isinstance(student, TorchClassifier):  # arguments validated by the caller, once
        assert temperature is not None
        return student._fit_distill(
            X,
            teacher_logits,
            y_index,
            classes=classes,
            temperature=temperature,
            hard_label_weight=hard_label_weight,
        )
    if hasattr(student, "fit_distill"):
        student.fit_distill(
            X,
            teacher_logits,
            y_index,
            classes=classes,
            temperature=temperature,
            hard_label_weight=hard_label_weight,
        )
        return student
    student.fit(X, classes[teacher_logits.argmax(axis=1)])
    return student
