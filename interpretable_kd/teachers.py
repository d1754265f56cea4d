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

:class:`MLPTeacher` is a trainable torch MLP with the scikit-learn API, for users who have
no model yet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from ._numeric import softmax
from ._training import TorchClassifier, batched_inference
from ._validation import check_choice, check_fitted, check_number, format_items
from .exceptions import InputError, InputTypeError, TeacherOutputError

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

# log of the smallest positive float32: the logit given to a probability of exactly 0.
_LOG_TINY = float(np.log(np.finfo(np.float32).tiny))
_PROBA_TOLERANCE = 1e-3


def proba_to_logits(proba: np.ndarray) -> np.ndarray:
    """Log-probabilities with zeros clipped, so that they are finite logits.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_classes)
        Probabilities.

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
        ``max(log p, log(float32 tiny))``.
    """
    with np.errstate(divide="ignore"):
        return np.maximum(np.log(proba), _LOG_TINY)


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
        if isinstance(out, torch.Tensor):
            out = out.detach().cpu().numpy()
        out = np.asarray(out, dtype=np.float64)
        if out.ndim == 1 and out.shape[0] == n_samples:
            # One score per row: the positive class of a binary problem.
            out = (
                np.column_stack([1.0 - out, out])
                if self.output == "proba"
                else np.column_stack([np.zeros_like(out), out])
            )
        n_classes = len(self.classes_) if hasattr(self, "classes_") else None
        expected = f"({n_samples}, {n_classes if n_classes else 'n_classes'})"
        if out.ndim != 2 or out.shape[0] != n_samples or (n_classes and out.shape[1] != n_classes):
            raise TeacherOutputError(
                f"{name} returned {self.output} of shape {out.shape}, expected {expected}: one "
                "row per row of X and one column per class. Pass classes= with the "
                "teacher's class labels, or check that the teacher matches this data."
            )
        if out.shape[1] < 2:
            raise TeacherOutputError(
                f"{name} returned a single column of {self.output}; a classifier teacher "
                "needs at least two classes. Return one column per class."
            )
        if not np.isfinite(out).all():
            row = int(np.flatnonzero(~np.isfinite(out).all(axis=1))[0])
            raise TeacherOutputError(
                f"{name} returned non-finite {self.output} (NaN or inf), first at row {row}. "
                "Fix the teacher, or drop the rows it cannot score."
            )
        if self.output == "proba":
            _check_proba_rows(out, name)
        return out

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
        return out if self.output == "logits" else proba_to_logits(out)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, float64 array of shape (n_samples, n_classes)."""
        out = self._checked(X)
        return out / out.sum(axis=1, keepdims=True) if self.output == "proba" else softmax(out)

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


def _n_rows(X: Any) -> int:
    return int(_shape(X)[0])


def _shape(X: Any) -> tuple[int, ...]:
    shape = getattr(X, "shape", None)
    return tuple(shape) if shape is not None else np.shape(X)


def _check_proba_rows(proba: np.ndarray, name: str) -> None:
    if (proba < 0).any():
        row = int(np.flatnonzero((proba < 0).any(axis=1))[0])
        raise TeacherOutputError(
            f"{name} returned negative probabilities (first at row {row}). If these are "
            "logits or scores, declare output='logits'."
        )
    deviation = np.abs(proba.sum(axis=1) - 1.0)
    if (deviation > _PROBA_TOLERANCE).any():
        row = int(np.argmax(deviation))
        raise TeacherOutputError(
            f"{name} declared output='proba', but its rows do not sum to 1 (largest "
            f"deviation {deviation[row]:.3g} at row {row}). If these are logits or scores, "
            "declare output='logits'."
        )


class TorchTeacher(Teacher):
    """A torch ``nn.Module`` whose forward pass returns logits (n_samples, n_classes).

    Runs in eval mode under ``torch.no_grad`` in batches; the module's own ``training``
    flag is restored afterwards, and its parameters are never touched.

    Args:
        module: the network.
        classes: class labels for the output columns; default ``0 .. n_classes - 1``.
        batch_size: rows per forward pass.
        n_features: expected feature count; default: ``in_features`` of the first
            ``nn.Linear`` layer, if any.
    """

    output = "logits"

    def __init__(
        self,
        module: torch.nn.Module,
        classes: Sequence[Any] | None = None,
        *,
        batch_size: int = 4096,
        n_features: int | None = None,
    ) -> None:
        self.module = module
        self.batch_size = int(
            check_number(batch_size, "batch_size", "TorchTeacher", integer=True, low=1)
        )
        first_linear = next((m for m in module.modules() if isinstance(m, torch.nn.Linear)), None)
        self.n_features_in_ = n_features or (first_linear.in_features if first_linear else None)
        if classes is not None:
            self.classes_ = np.asarray(classes)
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
        out = np.concatenate(parts)
        if not hasattr(self, "classes_"):
            self.classes_ = np.arange(out.shape[1])
        return out


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
        output: "proba" (rows are checked to sum to 1) or "logits".
        classes: class labels of the output columns; default ``0 .. n_classes - 1``.
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
        self.output = check_choice(output, "output", "CallableTeacher", ["proba", "logits"])
        self.n_features_in_ = n_features
        if classes is not None:
            self.classes_ = np.asarray(classes)

    def _raw(self, X: Any) -> Any:
        out = self.function(X)
        if not hasattr(self, "classes_"):
            width = np.shape(out)[1] if np.ndim(out) == 2 else 2
            self.classes_ = np.arange(width)
        return out


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
        output: "proba" or "logits".
        classes: class labels of the columns; default ``0 .. n_classes - 1``.
    """

    def __init__(
        self,
        scores: Any,
        X: Any,
        *,
        output: str = "proba",
        classes: Sequence[Any] | None = None,
    ) -> None:
        self.output = check_choice(output, "output", "ScoresTeacher", ["proba", "logits"])
        scores = np.asarray(scores, dtype=np.float64)
        X_arr = np.asarray(X, dtype=np.float64)
        if X_arr.ndim != 2 or scores.shape[0] != X_arr.shape[0]:
            raise InputError(
                f"ScoresTeacher needs one score row per row of X; got scores of shape "
                f"{scores.shape} and X of shape {X_arr.shape}."
            )
        width = scores.shape[1] if scores.ndim == 2 else 2
        self.classes_ = np.asarray(classes) if classes is not None else np.arange(width)
        self.n_features_in_ = X_arr.shape[1]
        self.scores = scores
        self._index = {_row_key(row): i for i, row in enumerate(X_arr)}
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
        model: a torch ``nn.Module`` (logits), a fitted scikit-learn classifier, a callable
            (``output=`` required), a list of any of these (an ensemble), an array of
            precomputed scores (``X=`` required), or an existing teacher (returned as is).
        output: "proba" or "logits", for callables and scores.
        classes: class labels of the output columns, for modules, callables and scores.
        X: the rows that precomputed scores belong to.
        weights: ensemble weights.
    """
    if isinstance(model, Teacher):
        return model
    if isinstance(model, torch.nn.Module):
        return TorchTeacher(model, classes=classes)
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


class MLPTeacher(TorchClassifier):
    """A trainable torch multilayer perceptron with the scikit-learn API.

    For users without a model of their own. Trained by the shared loop with early
    stopping on a validation split. Has the teacher interface (``classes_``,
    ``logits(X)``, ``predict_proba(X)``).

    Args:
        hidden_units: widths of the hidden layers, e.g. (64, 64).
        dropout: dropout rate after each hidden layer, in [0, 1).
        max_epochs, batch_size, learning_rate, weight_decay, early_stopping,
        validation_fraction, n_iter_no_change, tol, random_state, verbose, device:
            the shared training loop's settings (see ``TorchClassifier``).
    """

    def __init__(
        self,
        *,
        hidden_units: Sequence[int] = (64, 64),
        dropout: float = 0.1,
        max_epochs: int = 200,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        random_state: Any = None,
        verbose: bool = False,
        device: str = "cpu",
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

    def _check_params(self) -> None:
        owner = type(self).__name__
        units = self.hidden_units
        if (
            isinstance(units, int)
            or not all(isinstance(u, int) and u >= 1 for u in units)
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
                torch.nn.Linear(width, units),
                torch.nn.ReLU(),
                torch.nn.Dropout(self.dropout),
            ]
            width = units
        layers.append(torch.nn.Linear(width, n_classes))
        return torch.nn.Sequential(*layers)
