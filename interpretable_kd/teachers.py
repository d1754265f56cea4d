"""Teachers: any model that gives class probabilities or logits.

:func:`as_teacher` wraps what the user already has, without retraining or mutating it:

==========================  =====================================================
what you pass               what you get
==========================  =====================================================
torch ``nn.Module``         :class:`TorchTeacher` (its outputs are logits)
fitted scikit-learn model   :class:`SklearnTeacher` (``predict_proba``)
callable ``X -> array``     :class:`CallableTeacher` (declare ``output=``)
list of teachers            :class:`EnsembleTeacher` (weighted mean of probabilities)
array of scores + ``X=``    :class:`ScoresTeacher` (the audit case: no model access)
==========================  =====================================================

Every teacher has ``classes_``, ``logits(X)`` and ``predict_proba(X)``. Logits of a
probability teacher are its log-probabilities (zeros clipped at the smallest float32), so
``softmax(logits) == predict_proba`` for every teacher.

:class:`MLPTeacher` (in :mod:`._mlp_teacher`) is a trainable torch MLP with the
scikit-learn API, for users who have no model yet; the checks of a teacher's raw output
live in :mod:`._teacher_output`.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from ._mlp_teacher import MLPTeacher
from ._numeric import softmax
from ._teacher_output import (
    _CONSTANT_SPREAD,
    _FLOAT32_MAX,
    _LOG_TINY,
    _MIN_ROWS_CONSTANT,
    OUTPUTS,
    _as_float,
    _binary_columns,
    _check_classes,
    _check_proba_rows,
    _n_rows,
    _shape,
    proba_to_logits,
)
from ._training import batched_inference
from ._validation import check_choice, check_fitted, check_number, format_items
from .exceptions import InputError, InputTypeError, InterpretableKDWarning, TeacherOutputError

__all__ = [
    "CallableTeacher",
    "EnsembleTeacher",
    "MLPTeacher",
    "ScoresTeacher",
    "SklearnTeacher",
    "Teacher",
    "TorchTeacher",
    "as_teacher",
]


class Teacher:
    """Base class of the adapters. Subclasses implement ``_raw(X)`` and ``output``.

    Attributes:
        classes_: array of the class labels, in the column order of the outputs.
        output: "proba" or "logits": what ``_raw`` returns.
    """

    output: str = "proba"
    classes_: np.ndarray
    n_features_in_: int | None = None

    def _raw(self, X: Any) -> Any:
        raise NotImplementedError

    def _checked(self, X: Any) -> np.ndarray:
        """Run the model and check the shape and values of what it returns."""
        name = type(self).__name__
        n_samples = _n_rows(X)
        self._check_n_features(X)
        try:
            out = self._raw(X)
        except (InputError, InputTypeError, TeacherOutputError):
            raise
        except Exception as exc:
            raise TeacherOutputError(
                f"{name} failed on X of shape {_shape(X)}: {type(exc).__name__}: {exc}. "
                "Check that X has the features, in the order, that the teacher was "
                "trained on."
            ) from exc
        out = _as_float(out, name)
        if out.ndim == 1 and out.shape[0] == n_samples:
            out = _binary_columns(out, self.output, name)
        n_classes = len(self.classes_) if hasattr(self, "classes_") else None
        expected = f"({n_samples}, {n_classes if n_classes else 'n_classes'})"
        if out.ndim != 2 or out.shape[0] != n_samples or (n_classes and out.shape[1] != n_classes):
            transposed = out.ndim == 2 and out.shape[1] == n_samples != out.shape[0]
            hint = (
                " It looks transposed (one column per row of X): return its transpose."
                if transposed
                else ""
            )
            raise TeacherOutputError(
                f"{name} returned {self.output} of shape {out.shape}, expected {expected}: one "
                f"row per row of X and one column per class.{hint} Pass classes= with the "
                "teacher's class labels, or check that the teacher matches this data."
            )
        if out.shape[1] < 2:
            raise TeacherOutputError(
                f"{name} returned a single column of {self.output}; a classifier teacher "
                "needs at least two classes. Return one column per class."
            )
        if self.output == "log_proba":
            out = np.where(out == -np.inf, _LOG_TINY, out)  # log 0, clipped like proba zeros
        if not np.isfinite(out).all():
            row = int(np.flatnonzero(~np.isfinite(out).all(axis=1))[0])
            raise TeacherOutputError(
                f"{name} returned non-finite {self.output} (NaN or inf), first at row {row}. "
                "Fix the teacher, or drop the rows it cannot score."
            )
        if self.output == "proba":
            _check_proba_rows(out, name)
        elif self.output == "log_proba":
            _check_proba_rows(np.exp(out), name, "log_proba")
        elif np.abs(out).max() > _FLOAT32_MAX:
            raise TeacherOutputError(
                f"{name} returned logits as large as {np.abs(out).max():.3g} in magnitude, "
                "beyond float32 (3.4e38), in which the students are trained. Return "
                "probabilities (output='proba') or rescaled logits."
            )
        if not hasattr(self, "classes_"):
            self.classes_ = np.arange(out.shape[1])
        self._warn_if_constant(out, name)
        return out

    def _warn_if_constant(self, out: np.ndarray, name: str) -> None:
        """Warn once when every row gets the same scores (a degenerate teacher).

        Parameters
        ----------
        out : ndarray of shape (n_samples, n_classes)
        name : str

        Returns
        -------
        None
        """
        if getattr(self, "_constant_warned", False) or out.shape[0] < _MIN_ROWS_CONSTANT:
            return
        if float(np.ptp(out, axis=0).max()) <= _CONSTANT_SPREAD:
            self._constant_warned = True
            label = self.classes_.tolist()[int(np.argmax(out[0]))]
            warnings.warn(
                f"{name} gives the same scores to all {out.shape[0]} rows (it always predicts "
                f"{label!r}): a constant teacher is matched by any constant student, so "
                "fidelity near 1.0 says nothing. Check that the teacher is the right model "
                "and sees the features.",
                InterpretableKDWarning,
                stacklevel=4,
            )

    def _check_n_features(self, X: Any) -> None:
        expected = self.n_features_in_
        got = _shape(X)[1] if len(_shape(X)) == 2 else None
        if expected is not None and got is not None and got != expected:
            raise InputError(
                f"X has {got} features, but the teacher ({self.model_name}) is expecting "
                f"{expected} features as input. Pass the same columns the teacher was "
                "trained on."
            )

    @property
    def model_name(self) -> str:
        """The wrapped model's class name, for messages and reports."""
        inner = getattr(self, "estimator", None) or getattr(self, "module", None)
        return type(inner).__name__ if inner is not None else type(self).__name__

    def logits(self, X: Any) -> np.ndarray:
        """Teacher logits, float64 array of shape (n_samples, n_classes)."""
        out = self._checked(X)
        return proba_to_logits(out) if self.output == "proba" else out

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, float64 array of shape (n_samples, n_classes).

        Probabilities the teacher returned (``output="proba"``) come back unchanged when
        their rows sum to 1 within float64 rounding, else renormalised.
        """
        out = self._checked(X)
        if self.output != "proba":
            return softmax(out)
        sums = out.sum(axis=1, keepdims=True)
        if np.abs(sums - 1.0).max() <= 1e-12:
            return out
        return out / sums

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels, shape (n_samples,)."""
        return self.classes_[np.argmax(self._checked(X), axis=1)]

    @property
    def feature_names_in_(self) -> np.ndarray | None:
        return None

    def __repr__(self) -> str:
        classes = getattr(self, "classes_", None)
        shown = "unknown until first call" if classes is None else format_items(classes.tolist(), 5)
        return f"{type(self).__name__}({self.model_name}, classes={shown})"


class TorchTeacher(Teacher):
    """A torch ``nn.Module`` whose forward pass returns logits, probabilities or
    log-probabilities, shape (n_samples, n_classes).

    Runs in eval mode under ``torch.no_grad`` in batches; the module's own ``training``
    flag is restored afterwards, and its parameters are never touched.

    Args:
        module: the network.
        classes: class labels for the output columns; default ``0 .. n_classes - 1``.
        batch_size: rows per forward pass.
        n_features: expected feature count; default: ``in_features`` of the first
            ``nn.Linear`` layer, if any.
        output: what the forward pass returns: "logits" (default), "proba" (e.g. the
            module ends in a softmax; not put through softmax again) or "log_proba".
    """

    def __init__(
        self,
        module: torch.nn.Module,
        classes: Sequence[Any] | None = None,
        *,
        batch_size: int = 4096,
        n_features: int | None = None,
        output: str = "logits",
    ) -> None:
        self.module = module
        self.output = check_choice(output, "output", "TorchTeacher", list(OUTPUTS))
        self.batch_size = int(
            check_number(batch_size, "batch_size", "TorchTeacher", integer=True, low=1)
        )
        first_linear = next((m for m in module.modules() if isinstance(m, torch.nn.Linear)), None)
        self.n_features_in_ = n_features or (first_linear.in_features if first_linear else None)
        if classes is not None:
            self.classes_ = _check_classes(classes, "TorchTeacher")
        else:
            last_linear = None
            for m in module.modules():
                if isinstance(m, torch.nn.Linear):
                    last_linear = m
            if last_linear is not None:
                self.classes_ = np.arange(last_linear.out_features)

    def _raw(self, X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        parts = batched_inference(
            self.module,
            X,
            lambda module, batch: module(batch).double().cpu().numpy(),
            self.batch_size,
        )
        return np.concatenate(parts)


class SklearnTeacher(Teacher):
    """A fitted scikit-learn classifier with ``predict_proba``. Never refitted."""

    output = "proba"

    def __init__(self, estimator: Any) -> None:
        if not hasattr(estimator, "predict_proba"):
            raise InputTypeError(
                f"SklearnTeacher needs a classifier with predict_proba; "
                f"{type(estimator).__name__} has none. For an SVC, pass probability=True; "
                "otherwise wrap a scoring function with as_teacher(fn, output='logits')."
            )
        check_fitted(estimator)
        self.estimator = estimator
        self.classes_ = np.asarray(estimator.classes_)
        self.n_features_in_ = getattr(estimator, "n_features_in_", None)

    @property
    def feature_names_in_(self) -> np.ndarray | None:
        return getattr(self.estimator, "feature_names_in_", None)

    def _raw(self, X: Any) -> np.ndarray:
        names = self.feature_names_in_
        if names is not None and not isinstance(X, pd.DataFrame):
            X = pd.DataFrame(np.asarray(X), columns=names)
        return self.estimator.predict_proba(X)


class CallableTeacher(Teacher):
    """A function ``X -> array`` of probabilities or logits.

    Args:
        function: called with X (as given) and returning (n_samples, n_classes) scores, or
            (n_samples,) for the positive class of a binary problem.
        output: "proba" (rows are checked to sum to 1), "logits" or "log_proba".
        classes: class labels of the output columns; default ``0 .. n_classes - 1``
            (set from the first output that passes the checks).
    """

    def __init__(
        self,
        function: Callable[[Any], Any],
        *,
        output: str,
        classes: Sequence[Any] | None = None,
        n_features: int | None = None,
    ) -> None:
        self.function = function
        self.output = check_choice(output, "output", "CallableTeacher", list(OUTPUTS))
        self.n_features_in_ = n_features
        if classes is not None:
            self.classes_ = _check_classes(classes, "CallableTeacher")

    def _raw(self, X: Any) -> Any:
        return self.function(X)


class EnsembleTeacher(Teacher):
    """Weighted mean of several teachers' probabilities.

    ``p(x) = sum_m v_m p_m(x) / sum_m v_m``. All members must share ``classes_``.
    """

    output = "proba"

    def __init__(self, teachers: Sequence[Any], weights: Sequence[float] | None = None) -> None:
        if len(teachers) == 0:
            raise InputError("EnsembleTeacher needs at least one teacher; got an empty list.")
        self.teachers = [as_teacher(t) for t in teachers]
        first = self.teachers[0].classes_
        for i, member in enumerate(self.teachers[1:], start=1):
            if not np.array_equal(member.classes_, first):
                raise InputError(
                    f"EnsembleTeacher members must share their classes: member 0 has "
                    f"{format_items(first.tolist())}, member {i} has "
                    f"{format_items(member.classes_.tolist())}."
                )
        if weights is None:
            weights = [1.0] * len(self.teachers)
        w = np.asarray(weights, dtype=np.float64)
        if (
            w.shape != (len(self.teachers),)
            or not np.isfinite(w).all()
            or (w < 0).any()
            or w.sum() <= 0
        ):
            raise InputError(
                f"EnsembleTeacher needs one non-negative weight per teacher "
                f"({len(self.teachers)}), not all zero; got {list(weights)!r}."
            )
        self.weights = w / w.sum()
        self.classes_ = first
        counts = {t.n_features_in_ for t in self.teachers if t.n_features_in_ is not None}
        self.n_features_in_ = counts.pop() if len(counts) == 1 else None

    def _raw(self, X: Any) -> np.ndarray:
        return sum(w * t.predict_proba(X) for w, t in zip(self.weights, self.teachers, strict=True))


class ScoresTeacher(Teacher):
    """Precomputed scores on known rows: the auditor's case with no access to the model.

    The teacher answers only for rows it has scores for (matched by exact value); asking
    about any other row, e.g. synthetic rows from augmentation, is an error.

    Args:
        scores: (n_samples, n_classes) probabilities or logits, or (n_samples,) for the
            positive class of a binary problem.
        X: the rows the scores belong to, (n_samples, n_features).
        output: "proba", "logits" or "log_proba".
        classes: class labels of the columns; default ``0 .. n_classes - 1``.

    Identical rows of X with different scores cannot all be honoured (the teacher
    answers with the last one): they are counted and warned about.
    """

    def __init__(
        self,
        scores: Any,
        X: Any,
        *,
        output: str = "proba",
        classes: Sequence[Any] | None = None,
    ) -> None:
        self.output = check_choice(output, "output", "ScoresTeacher", list(OUTPUTS))
        scores = _as_float(scores, "ScoresTeacher")
        try:
            X_arr = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"ScoresTeacher needs numeric rows X (encoded features); {exc}. Encode the "
                "features first, e.g. with TabularPreprocessor."
            ) from None
        if X_arr.ndim != 2 or scores.shape[0] != X_arr.shape[0]:
            raise InputError(
                f"ScoresTeacher needs one score row per row of X; got scores of shape "
                f"{scores.shape} and X of shape {X_arr.shape}."
            )
        width = scores.shape[1] if scores.ndim == 2 else 2
        self.classes_ = (
            _check_classes(classes, "ScoresTeacher") if classes is not None else np.arange(width)
        )
        self.n_features_in_ = X_arr.shape[1]
        self.scores = scores
        self._index: dict[bytes, int] = {}
        pairs: set[tuple[bytes, bytes]] = set()
        for i, row in enumerate(X_arr):
            key = _row_key(row)
            self._index[key] = i
            pairs.add((key, np.ascontiguousarray(scores[i]).tobytes()))
        clashes = len(pairs) - len(self._index)
        if clashes:
            warnings.warn(
                f"{clashes} of the {len(X_arr)} rows repeat the features of another row with "
                "a different teacher score; a scores-only teacher recognises rows by their "
                "features, so it answers with one score for each group of identical rows.",
                InterpretableKDWarning,
                stacklevel=2,
            )
        self._checked(X_arr)  # validate the scores once, up front

    def _raw(self, X: Any) -> np.ndarray:
        X_arr = np.asarray(X, dtype=np.float64)
        rows = [self._index.get(_row_key(row), -1) for row in X_arr]
        missing = [i for i, r in enumerate(rows) if r < 0]
        if missing:
            raise InputError(
                f"ScoresTeacher has no scores for {len(missing)} of the {len(rows)} rows "
                f"asked about (rows {format_items(missing)}). A scores-only teacher can "
                "only be asked about the rows it was scored on: use those rows, and "
                "distil with augment=None."
            )
        return self.scores[rows]


def _row_key(row: np.ndarray) -> bytes:
    return hashlib.blake2b(
        np.ascontiguousarray(row, dtype=np.float64).tobytes(), digest_size=16
    ).digest()


def as_teacher(
    model: Any,
    *,
    output: str | None = None,
    classes: Sequence[Any] | None = None,
    X: Any = None,
    weights: Sequence[float] | None = None,
) -> Teacher:
    """Wrap ``model`` as a :class:`Teacher`, without retraining or mutating it.

    Args:
        model: a torch ``nn.Module`` (logits unless ``output=`` says otherwise), a fitted
            scikit-learn classifier, a callable (``output=`` required), a list of any of
            these (an ensemble), an array of precomputed scores (``X=`` required), or an
            existing teacher (returned as is).
        output: "proba", "logits" or "log_proba", for modules (default "logits"),
            callables (required) and scores (default "proba").
        classes: class labels of the output columns, for modules, callables and scores.
        X: the rows that precomputed scores belong to.
        weights: ensemble weights.
    """
    if isinstance(model, Teacher):
        return model
    if isinstance(model, torch.nn.Module):
        return TorchTeacher(model, classes=classes, output=output or "logits")
    if isinstance(model, list | tuple):
        return EnsembleTeacher(model, weights=weights)
    if isinstance(model, np.ndarray | pd.DataFrame | pd.Series | torch.Tensor):
        if X is None:
            raise InputError(
                "as_teacher got an array of scores but no X. Pass the rows they belong to: "
                "as_teacher(scores, X=X, output='proba')."
            )
        return ScoresTeacher(np.asarray(model), X, output=output or "proba", classes=classes)
    if hasattr(model, "predict_proba") and hasattr(model, "fit"):
        return SklearnTeacher(model)
    if callable(model):
        if output is None:
            raise InputError(
                "as_teacher got a callable; say what it returns with output='proba' "
                "(rows sum to 1) or output='logits'."
            )
        return CallableTeacher(model, output=output, classes=classes)
    raise InputTypeError(
        f"as_teacher cannot use a {type(model).__name__}. Pass a torch nn.Module, a fitted "
        "scikit-learn classifier with predict_proba, a callable with output=, a list of "
        "teachers, or an array of scores with X=."
    )
