"""Distillation: train a white-box student on a black-box teacher's softened outputs.

    L = w * CE(y, p_S) + (1 - w) * T^2 * KL(p_T^(T) || p_S^(T))        (Hinton et al. 2015)

(``p^(T) = softmax(z / T)``), then, optionally, a fine-tune on hard labels. By default
w = 0 (pure imitation) and T is chosen for fidelity on held-out rows
(``temperature="auto"``, :mod:`interpretable_kd._temperature`). No ground-truth labels
are needed: with ``y=None`` the student learns from the teacher alone. Augmentation
adds synthetic rows labelled by the teacher (a transfer set, as in TREPAN and Bastani et
al. 2017; :mod:`interpretable_kd._augment`), which raises fidelity when the training data
are few.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from . import persistence
from ._augment import AUGMENT_METHODS, augment_rows, check_augment_memory
from ._defaults import (
    DISTILL_TEMPERATURE,
    HARD_LABEL_WEIGHT,
    TEMPERATURE,
    TEMPERATURE_SEARCH_MIN_ROWS,
)
from ._distill_io import distilled_from_header, distilled_header
from ._numeric import draw_seed
from ._temperature import check_temperature_param, distils, fit_student, search_temperature
from ._torch_utils import resolve_threads, torch_threads
from ._training import TorchClassifier
from ._validation import (
    check_choice,
    check_fitted,
    check_labels_known,
    check_number,
    check_weight,
    check_X,
)
from .exceptions import InputError, InputTypeError, InterpretableKDWarning
from .teachers import Teacher, as_teacher

__all__ = ["DistilledClassifier", "augment_rows", "distill"]

#: Fitted attributes set by ``fit``; a model file stores those from ``n_synthetic_`` on.
FITTED = (
    "student_",
    "teacher_",
    "classes_",
    "n_synthetic_",
    "temperature_",
    "temperature_search_",
)
#: The fitted attributes a model file stores in its header (and the only ones ``load``
#: restores from it; the student and the teacher have their own headers).
STORED = ("classes_", "n_features_in_", "feature_names_in_", *FITTED[3:])


class DistilledClassifier(ClassifierMixin, BaseEstimator):
    """A student trained to imitate a teacher.

    Args:
        teacher: any model :func:`~interpretable_kd.as_teacher` accepts. Never retrained,
            never mutated; cloning this estimator shares it rather than copying it.
        student: an unfitted student (e.g. ``SoftDecisionTreeClassifier(depth=4)``); it is
            cloned in ``fit``. A scikit-learn classifier without ``fit_distill`` (say a
            ``DecisionTreeClassifier``) is fitted on the teacher's predicted labels: the
            classic global surrogate.
        temperature: "auto" (default) or a number T in [0.01, 100] that softens (T > 1) or sharpens
            (T < 1) the teacher's (and the student's) logits. "auto" fits one candidate
            per T in ``TEMPERATURE_GRID`` = (0.1, 0.25, 0.5, 1, 2, 4) on a stratified part
            of the rows (at most ``TEMPERATURE_SEARCH_MAX_ROWS``; a student trained by the
            mini-batch loop continues one shared fit at T = 1 briefly per T: about one
            full fit in all), keeps the T with the
            best fidelity on the held-out rows (ties: lower KL, then T closest to 1) and
            refits on every row at it; see :mod:`interpretable_kd._temperature`. Sharpening
            helps a small student match the teacher's decisions (the optimum of the KL at
            T = 1 is not the optimum of agreement for a linear model); softening helps it
            match the probabilities. A number skips the search.
        hard_label_weight: w in [0, 1], the weight of the cross-entropy on true labels.
            Default 0: pure imitation, which is what fidelity measures. Raise it (e.g.
            0.1-0.5) when accuracy on the true labels matters more than standing for the
            teacher, e.g. a student deployed in the teacher's place rather than used to
            explain it. Ignored when ``y`` is None.
        finetune_epochs: epochs of training on hard labels after distillation (0: none).
            Needs ``y``.
        augment: None, "gaussian" (training rows plus Gaussian noise of ``noise_scale``
            feature standard deviations), "mixup" (convex combinations of two training
            rows) or "both".
        n_augment: number of synthetic rows; default (None) as many as the training rows.
        noise_scale: the Gaussian noise's scale, in feature standard deviations.
        random_state: seeds augmentation, the temperature search's split and, when the
            student has no ``random_state`` of its own, the student.
        n_jobs: torch threads during fit and predict; None: the library's rule
            (:func:`interpretable_kd._torch_utils.torch_threads`, never slower than one
            thread for the problem sizes the library meets). Passed to a student whose own
            ``n_jobs`` is None.

    Attributes:
        teacher_: the wrapped teacher.
        student_: the fitted student.
        classes_, n_features_in_, feature_names_in_: as in scikit-learn.
        n_synthetic_: number of synthetic rows used.
        temperature_: the T the student was fitted at (float); None for a plain
            scikit-learn student (a global surrogate learns labels, not logits).
        temperature_search_: with ``temperature="auto"``, a DataFrame with one row per
            candidate: ``temperature``, ``start`` ("T = 1 fit": continued from one shared
            fit at T = 1; "scratch"), ``step_scale`` (its share of the "auto" step
            budget), ``validation_fidelity``, ``validation_kl`` (mean KL(teacher ||
            student) at T = 1, nats), ``fit_seconds``, ``chosen`` and ``reason``; the
            shared fit's seconds are in ``.attrs["start_seconds"]``. None for a fixed
            temperature or a global surrogate.
    """

    def __init__(
        self,
        teacher: Any,
        student: Any,
        *,
        temperature: float | str = DISTILL_TEMPERATURE,
        hard_label_weight: float = HARD_LABEL_WEIGHT,
        finetune_epochs: int = 0,
        augment: str | None = None,
        n_augment: int | None = None,
        noise_scale: float = 0.1,
        random_state: Any = None,
        n_jobs: int | None = None,
    ) -> None:
        self.teacher = teacher
        self.student = student
        self.temperature = temperature
        self.hard_label_weight = hard_label_weight
        self.finetune_epochs = finetune_epochs
        self.augment = augment
        self.n_augment = n_augment
        self.noise_scale = noise_scale
        self.random_state = random_state
        self.n_jobs = n_jobs

    def __sklearn_clone__(self) -> DistilledClassifier:
        """Clone everything except the teacher, which is shared: it is never modified, and
        cloning a fitted scikit-learn teacher would erase what it learned."""
        params = self.get_params(deep=False)
        teacher = params.pop("teacher")
        return type(self)(teacher, **{k: clone(v, safe=False) for k, v in params.items()})

    def _check_params(self) -> dict[str, Any]:
        owner = type(self).__name__
        resolve_threads(self.n_jobs, owner=owner)  # validates n_jobs
        if not (hasattr(self.student, "fit") and hasattr(self.student, "predict_proba")):
            raise InputTypeError(
                f"The 'student' parameter of {owner} must be an unfitted classifier with fit "
                f"and predict_proba, e.g. SoftDecisionTreeClassifier(depth=4). Got "
                f"{type(self.student).__name__} instead."
            )
        return {
            "temperature": check_temperature_param(self.temperature, owner),
            "hard_label_weight": check_weight(self.hard_label_weight, owner),
            "finetune_epochs": check_number(
                self.finetune_epochs, "finetune_epochs", owner, integer=True, low=0
            ),
            "augment": check_choice(self.augment, "augment", owner, [None, *AUGMENT_METHODS]),
            "n_augment": check_number(
                self.n_augment, "n_augment", owner, integer=True, low=0, allow_none=True
            ),
            "noise_scale": check_number(self.noise_scale, "noise_scale", owner, low=0.0),
            "n_jobs": self.n_jobs,
        }

    def fit(self, X: Any, y: Any = None) -> DistilledClassifier:
        """Distil the teacher into a clone of the student.

        With ``temperature="auto"`` the temperature is first chosen on a validation split
        of the rows of X (see :mod:`interpretable_kd._temperature`), then the student is
        fitted on every row at that temperature.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            The transfer set. The teacher sees X as given (a DataFrame keeps its column
            names).
        y : array-like of shape (n_samples,) or None
            True labels in the teacher's label space, or None for label-free distillation.

        Returns
        -------
        self
            The fitted model.
        """
        params = self._check_params()
        with torch_threads(params["n_jobs"], owner=type(self).__name__):
            return self._fit(X, y, params)

    def _fit(self, X: Any, y: Any, params: dict[str, Any]) -> DistilledClassifier:
        owner = type(self).__name__
        for name in FITTED:
            self.__dict__.pop(name, None)
        teacher = as_teacher(self.teacher)
        X_arr = check_X(self, X, reset=True)
        if params["augment"] is not None:
            known = getattr(teacher, "classes_", None)
            check_augment_memory(
                X_arr.shape[0] if params["n_augment"] is None else params["n_augment"],
                X_arr.shape[1],
                2 if known is None else len(known),
                owner,
                default=params["n_augment"] is None,
            )
        teacher_logits = teacher.logits(X)  # first: some teachers learn their classes here
        y_index = self._label_indices(y, teacher, X_arr.shape[0], owner)
        rng = np.random.default_rng(draw_seed(self.random_state))
        X_train, y_train, logits_train = X_arr, y_index, teacher_logits
        n_synthetic = 0
        if params["augment"] is not None:
            n_synthetic = X_arr.shape[0] if params["n_augment"] is None else params["n_augment"]
            X_new = augment_rows(
                X_arr, n_synthetic, params["augment"], rng, noise_scale=params["noise_scale"]
            )
            logits_train = np.vstack([teacher_logits, teacher.logits(self._frame(X_new))])
            X_train = np.vstack([X_arr, X_new])
            if y_train is not None:
                y_train = np.concatenate([y_train, np.full(n_synthetic, -1)])
        student = clone(self.student)
        student_params = student.get_params()
        if "random_state" in student_params and student_params["random_state"] is None:
            student.set_params(random_state=int(rng.integers(np.iinfo(np.int32).max)))
        if "n_jobs" in student_params and student_params["n_jobs"] is None:
            student.set_params(n_jobs=params["n_jobs"])
        temperature, search, candidate = self._choose_temperature(
            student, X_arr, teacher_logits, y_index, teacher.classes_, params, rng
        )
        if isinstance(student, TorchClassifier) and isinstance(candidate, TorchClassifier):
            student._reuse_search(candidate)
        fit_student(
            student,
            self._frame(X_train),
            logits_train,
            y_train,
            teacher.classes_,
            temperature,
            params["hard_label_weight"],
        )
        if params["finetune_epochs"] > 0:
            if y_index is None:
                warnings.warn(
                    f"{owner}: finetune_epochs={params['finetune_epochs']} needs labels y; "
                    "no fine-tuning was done.",
                    InterpretableKDWarning,
                    stacklevel=3,
                )
            elif hasattr(student, "fine_tune"):
                student.fine_tune(self._frame(X_arr), y_index, max_epochs=params["finetune_epochs"])
        self.teacher_ = teacher
        self.student_ = student
        self.classes_ = np.asarray(teacher.classes_)
        self.n_synthetic_ = n_synthetic
        self.temperature_ = temperature
        self.temperature_search_ = search
        return self

    def _choose_temperature(
        self,
        student: Any,
        X: np.ndarray,
        teacher_logits: np.ndarray,
        y_index: np.ndarray | None,
        classes: np.ndarray,
        params: dict[str, Any],
        rng: np.random.Generator,
    ) -> tuple[float | None, pd.DataFrame | None, Any]:
        """The temperature to fit at, the search table (None unless "auto") and the
        candidate fitted at the chosen temperature (None unless a search ran).

        Candidates are clones of ``student`` (same seed), fitted on the user's rows only
        (no synthetic rows, no fine-tuning) with the teacher logits already computed.
        """
        if not distils(student):
            return None, None, None  # a global surrogate learns labels: no temperature
        if params["temperature"] != "auto":
            return float(params["temperature"]), None, None
        n_rows = X.shape[0]
        if n_rows < TEMPERATURE_SEARCH_MIN_ROWS:
            warnings.warn(
                f"{type(self).__name__}: temperature='auto' needs at least "
                f"{TEMPERATURE_SEARCH_MIN_ROWS} rows to hold some out for the search; X has "
                f"{n_rows}. Used T = {TEMPERATURE:g}; pass a number as temperature to choose.",
                InterpretableKDWarning,
                stacklevel=4,
            )
            return TEMPERATURE, None, None
        split_rng = np.random.default_rng(int(rng.integers(np.iinfo(np.int32).max)))
        return search_temperature(
            student,
            X,
            self._frame,
            teacher_logits,
            y_index,
            classes,
            params["hard_label_weight"],
            split_rng,
        )

    def _label_indices(
        self, y: Any, teacher: Teacher, n_samples: int, owner: str
    ) -> np.ndarray | None:
        if y is None:
            return None
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != n_samples:
            raise InputError(
                f"{owner} needs y of shape ({n_samples},), one label per row of X; got "
                f"shape {y.shape}."
            )
        return check_labels_known(y, teacher.classes_, owner)

    def _frame(self, X: np.ndarray) -> Any:
        """X as the student and teacher expect it: a DataFrame when names are known."""
        names = getattr(self, "feature_names_in_", None)
        return pd.DataFrame(X, columns=names) if names is not None else X

    def _student_input(self, X: Any) -> Any:
        check_fitted(self, "student_")
        return self._frame(check_X(self, X, reset=False))

    def predict(self, X: Any) -> np.ndarray:
        """The student's predicted labels, shape (n_samples,)."""
        X_in = self._student_input(X)
        with torch_threads(self.n_jobs, len(X_in), type(self).__name__):
            return self.student_.predict(X_in)

    def predict_proba(self, X: Any) -> np.ndarray:
        """The student's class probabilities, shape (n_samples, n_classes)."""
        X_in = self._student_input(X)
        with torch_threads(self.n_jobs, len(X_in), type(self).__name__):
            return self.student_.predict_proba(X_in)

    def complexity(self, X: Any = None) -> dict[str, Any]:
        """The fitted student's :meth:`~interpretable_kd.students.TorchClassifier.complexity`,
        measured on X as the student sees it.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features), or None
            Rows for data-dependent measures (the soft tree's mean max-path probability).

        Returns
        -------
        dict
            The student's complexity entries (without ``"kind"``); ``{}`` when the student
            has no ``complexity`` method (a plain scikit-learn surrogate).
        """
        check_fitted(self, "student_")
        if not hasattr(self.student_, "complexity"):
            return {}
        return dict(self.student_.complexity(None if X is None else self._student_input(X)))

    def readable_view(self) -> dict[str, Any]:
        """The fitted student's readable view (see
        :meth:`~interpretable_kd.students.TorchClassifier.readable_view`).

        Returns
        -------
        dict
            The student's view; ``{"view": None}`` when the student has no
            ``readable_view`` method.
        """
        check_fitted(self, "student_")
        if not hasattr(self.student_, "readable_view"):
            return {"view": None}
        return dict(self.student_.readable_view())

    def __sklearn_is_fitted__(self) -> bool:
        """Whether :meth:`fit` has run.

        Returns
        -------
        bool
            True once ``student_`` is set.
        """
        return hasattr(self, "student_")

    def save(self, path: Any) -> Any:
        """Write the fitted student (and an ``MLPTeacher`` teacher) to a ``.safetensors``
        file; any other teacher must be passed again to :meth:`load`.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write.

        Returns
        -------
        pathlib.Path
            The path written.
        """
        return persistence.save_model(self, path)

    @classmethod
    def load(cls, path: Any, *, teacher: Any = None) -> DistilledClassifier:
        """Read a model written by :meth:`save`; executes no code from the file.

        Parameters
        ----------
        path : str or os.PathLike
            The file.
        teacher : object, optional
            The teacher to attach when the file does not hold it.

        Returns
        -------
        DistilledClassifier
            The fitted model.
        """
        model: DistilledClassifier = persistence.load_model(path, teacher=teacher, expected=cls)
        return model

    # ------------------------------------------------------------------ persistence hooks
    def _persistence_header(self, prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
        """This model's header for :func:`~interpretable_kd.persistence.save_model`
        (:func:`~interpretable_kd._distill_io.distilled_header`)."""
        return distilled_header(self, prefix, tensors, STORED)

    @classmethod
    def _from_persistence_header(
        cls,
        header: dict[str, Any],
        prefix: str,
        tensors: dict[str, torch.Tensor],
        teacher: Any,
    ) -> DistilledClassifier:
        """Rebuild a model from its :meth:`_persistence_header` (for
        :func:`~interpretable_kd.persistence.load_model`;
        :func:`~interpretable_kd._distill_io.distilled_from_header`): settings checked as
        ``fit`` checks them, only the fitted attributes in ``STORED`` restored, and a
        ``teacher`` passed to ``load`` refused when its classes differ from the saved ones."""
        model: DistilledClassifier = distilled_from_header(
            cls, header, prefix, tensors, teacher, STORED
        )
        return model

    def fidelity(self, X: Any) -> float:
        """Share of rows of X where the student predicts the teacher's class."""
        X_in = self._student_input(X)
        if not hasattr(self, "teacher_"):
            raise InputError(
                "This DistilledClassifier was loaded without its teacher; pass teacher= to "
                "DistilledClassifier.load() to measure fidelity."
            )
        with torch_threads(self.n_jobs, len(X_in), type(self).__name__):
            return float(np.mean(self.student_.predict(X_in) == self.teacher_.predict(X)))


persistence.register_estimator(DistilledClassifier)


def distill(teacher: Any, student: Any, X: Any, y: Any = None, **kwargs: Any) -> Any:
    """Distil ``teacher`` into ``student`` on X (and y) and return the fitted student.

    Keyword arguments are those of :class:`DistilledClassifier`.
    """
    return DistilledClassifier(teacher, student, **kwargs).fit(X, y).student_
