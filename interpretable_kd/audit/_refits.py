"""Training randomness: refit each student with other seeds on its training rows.

A student's numbers depend on its training seed. With the training rows, each student
that scikit-learn can clone is refitted ``n_refits - 1`` more times (``clone`` +
``set_params`` of every ``random_state`` it has, except the teacher's: a
``DistilledClassifier`` shares its teacher with its clones, and the teacher is never
refitted or touched); the intervals then cover refits x rows
(:func:`~interpretable_kd.metrics.refit_bootstrap_ci`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import ParameterError
from ._models import aligned_proba

__all__ = ["refit_predictions", "refit_seeds", "refit_student"]


def refit_seeds(random_state: int, n_refits: int) -> list[int]:
    """The seeds of refits 1 .. n_refits - 1 (refit 0 is the given model).

    Parameters
    ----------
    random_state : int
        The comparison's seed.
    n_refits : int
        Total training runs, the given model included.

    Returns
    -------
    list of int
        ``n_refits - 1`` seeds drawn from ``SeedSequence([random_state, 7919])``.
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(random_state), 7919]))
    return [int(s) for s in rng.integers(0, np.iinfo(np.int32).max, size=max(n_refits - 1, 0))]


def _seed_parameters(model: Any) -> list[str]:
    """The ``random_state`` parameters of a model and its nested estimators, the teacher's
    excluded.

    Parameters
    ----------
    model : estimator
        Anything with ``get_params``.

    Returns
    -------
    list of str
        E.g. ``["random_state", "student__random_state"]``.
    """
    return [
        key
        for key in model.get_params(deep=True)
        if (key == "random_state" or key.endswith("__random_state"))
        and not key.startswith("teacher")
    ]


def refit_student(
    model: Any, X_fit: Any, y_fit: Any, seeds: list[int], name: str, owner: str
) -> list[Any]:
    """Fitted copies of ``model``, one per seed; the given model is left as it is.

    Parameters
    ----------
    model : estimator
        A fitted student with ``get_params``/``set_params`` (e.g. a
        ``DistilledClassifier``).
    X_fit : array-like or DataFrame of shape (n_train, n_features)
        The rows the student was trained on.
    y_fit : array-like of shape (n_train,) or None
        Their labels, passed to ``fit`` as the student got them.
    seeds : list of int
        One seed per refit.
    name, owner : str
        The student and the public entry point, for error messages.

    Returns
    -------
    list
        The refitted copies.

    Raises
    ------
    ParameterError
        The student cannot be cloned or has no ``random_state`` to vary.
    """
    from sklearn.base import clone  # imported on use: keeps `import interpretable_kd` fast

    if not hasattr(model, "get_params"):
        raise ParameterError(
            f"{owner}: n_refits > 1 needs students that scikit-learn can clone, but student "
            f"{name!r} ({type(model).__name__}) has no get_params. Pass n_refits=1, or a "
            "DistilledClassifier or another scikit-learn estimator."
        )
    keys = _seed_parameters(model)
    if not keys:
        raise ParameterError(
            f"{owner}: n_refits > 1 refits each student with other seeds, but student "
            f"{name!r} ({type(model).__name__}) has no random_state parameter, so every "
            "refit would be the same. Pass n_refits=1 for it."
        )
    copies = []
    for seed in seeds:
        copy = clone(model)
        copy.set_params(**{key: seed + i for i, key in enumerate(keys)})
        copies.append(copy.fit(X_fit, y_fit) if y_fit is not None else copy.fit(X_fit))
    return copies


def refit_predictions(
    model: Any,
    given_pred: np.ndarray,
    X: Any,
    classes: np.ndarray,
    X_fit: Any,
    y_fit: Any,
    seeds: list[int],
    name: str,
    owner: str,
) -> np.ndarray:
    """The given student's and every refit's predicted class indices on the rows of X.

    Parameters
    ----------
    model : estimator
        The given (fitted) student.
    given_pred : ndarray of shape (n_rows,)
        Its predicted class indices on X.
    X : array-like or DataFrame of shape (n_rows, n_features)
        The compared rows.
    classes : ndarray of shape (n_classes,)
        The teacher's classes.
    X_fit, y_fit : array-like or None
        The training rows and labels (no refits when ``X_fit`` is None).
    seeds : list of int
        The refits' seeds (:func:`refit_seeds`); empty: no refits.
    name, owner : str
        For error messages.

    Returns
    -------
    ndarray of shape (1 + len(seeds), n_rows)
        Row 0 is ``given_pred``.
    """
    rows = [given_pred]
    if seeds and X_fit is not None:
        for copy in refit_student(model, X_fit, y_fit, seeds, name, owner):
            rows.append(aligned_proba(copy, X, classes, name, owner).argmax(axis=1))
    return np.vstack(rows)
