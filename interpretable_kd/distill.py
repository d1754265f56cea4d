"""Distillation: train a white-box student on a black-box teacher's softened outputs.

    L = w * CE(y, p_S) + (1 - w) * T^2 * KL(p_T^(T) || p_S^(T))        (Hinton et al. 2015)

then, optionally, a fine-tune on hard labels. No ground-truth labels are needed: with
``y=None`` the student learns from the teacher alone. Augmentation adds synthetic rows
labelled by the teacher (a transfer set, as in TREPAN and Bastani et al. 2017), which
raises fidelity when the training data are few.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from . import persistence
from ._defaults import HARD_LABEL_WEIGHT, TEMPERATURE
from ._numeric import draw_seed
from ._training import TorchClassifier
from ._validation import (
    check_choice,
    check_fitted,
    check_labels_known,
    check_number,
    check_temperature,
    check_weight,
    check_X,
)
from .exceptions import InputError, InputTypeError, InterpretableKDWarning
from .teachers import Teacher, as_teacher

__all__ = ["DistilledClassifier", "augment_rows", "distill"]

AUGMENT_METHODS = ("gaussian", "mixup", "both")


class DistilledClassifier(ClassifierMixin, BaseEstimator):
    """A student trained to imitate a teacher.

    Args:
        teacher: any model :func:`~interpretable_kd.as_teacher` accepts. Never retrained,
            never mutated; cloning this estimator shares it rather than copying it.
        student: an unfitted student (e.g. ``SoftDecisionTreeClassifier(depth=4)``); it is
            cloned in ``fit``. A scikit-learn classifier without ``fit_distill`` (say a
            ``DecisionTreeClassifier``) is fitted on the teacher's predicted labels: the
            classic global surrogate.
        temperature: T > 0 that softens the teacher's (and the student's) logits. The
            default, 1, won the benchmark sweep over T in {1, 2, 4, 8} for every student
            (``reports/benchmarks/fidelity.md``): on tabular data the teacher's own
            probabilities carry its "dark knowledge" already, and a soft tree's leaves must
            grow T times larger logits to match softened targets.
        hard_label_weight: w in [0, 1], the weight of the cross-entropy on true labels.
            Ignored when ``y`` is None.
        finetune_epochs: epochs of training on hard labels after distillation (0: none).
            Needs ``y``.
        augment: None, "gaussian" (training rows plus Gaussian noise of ``noise_scale``
            feature standard deviations), "mixup" (convex combinations of two training
            rows) or "both".
        n_augment: number of synthetic rows; default (None) as many as the training rows.
        noise_scale: the Gaussian noise's scale, in feature standard deviations.
        random_state: seeds augmentation and, when the student has no ``random_state`` of
            its own, the student.

    Attributes:
        teacher_: the wrapped teacher.
        student_: the fitted student.
        classes_, n_features_in_, feature_names_in_: as in scikit-learn.
        n_synthetic_: number of synthetic rows used.
    """

    def __init__(
        self,
        teacher: Any,
        student: Any,
        *,
        temperature: float = TEMPERATURE,
        hard_label_weight: float = HARD_LABEL_WEIGHT,
        finetune_epochs: int = 0,
        augment: str | None = None,
        n_augment: int | None = None,
        noise_scale: float = 0.1,
        random_state: Any = None,
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

    def __sklearn_clone__(self) -> DistilledClassifier:
        """Clone everything except the teacher, which is shared: it is never modified, and
        cloning a fitted scikit-learn teacher would erase what it learned."""
        params = self.get_params(deep=False)
        teacher = params.pop("teacher")
        return type(self)(teacher, **{k: clone(v, safe=False) for k, v in params.items()})

    def _check_params(self) -> dict[str, Any]:
        owner = type(self).__name__
        if not (hasattr(self.student, "fit") and hasattr(self.student, "predict_proba")):
            raise InputTypeError(
                f"The 'student' parameter of {owner} must be an unfitted classifier with fit "
                f"and predict_proba, e.g. SoftDecisionTreeClassifier(depth=4). Got "
                f"{type(self.student).__name__} instead."
            )
        return {
            "temperature": check_temperature(self.temperature, owner),
            "hard_label_weight": check_weight(self.hard_label_weight, owner),
            "finetune_epochs": check_number(
                self.finetune_epochs, "finetune_epochs", owner, integer=True, low=0
            ),
            "augment": check_choice(self.augment, "augment", owner, [None, *AUGMENT_METHODS]),
            "n_augment": check_number(
                self.n_augment, "n_augment", owner, integer=True, low=0, allow_none=True
            ),
            "noise_scale": check_number(self.noise_scale, "noise_scale", owner, low=0.0),
        }

    def fit(self, X: Any, y: Any = None) -> DistilledClassifier:
        """Distil the teacher into a clone of the student.

        Args:
            X: array-like or DataFrame of shape (n_samples, n_features): the transfer set.
                The teacher sees X as given (a DataFrame keeps its column names).
            y: true labels of shape (n_samples,), in the teacher's label space, or None for
                label-free distillation.
        """
        params = self._check_params()
        owner = type(self).__name__
        for name in ("student_", "teacher_", "classes_", "n_synthetic_"):
            self.__dict__.pop(name, None)
        teacher = as_teacher(self.teacher)
        X_arr = check_X(self, X, reset=True)
        teacher_logits = teacher.logits(X)  # first: some teachers learn their classes here
        y_index = self._label_indices(y, teacher, X_arr.shape[0], owner)
        rng = np.random.default_rng(draw_seed(self.random_state))
        X_train, y_train = X_arr, y_index
        n_synthetic = 0
        if params["augment"] is not None:
            n_synthetic = X_arr.shape[0] if params["n_augment"] is None else params["n_augment"]
            X_new = augment_rows(
                X_arr, n_synthetic, params["augment"], rng, noise_scale=params["noise_scale"]
            )
            teacher_logits = np.vstack([teacher_logits, teacher.logits(self._frame(X_new))])
            X_train = np.vstack([X_arr, X_new])
            if y_train is not None:
                y_train = np.concatenate([y_train, np.full(n_synthetic, -1)])
        student = clone(self.student)
        if "random_state" in student.get_params() and student.get_params()["random_state"] is None:
            student.set_params(random_state=int(rng.integers(np.iinfo(np.int32).max)))
        if isinstance(student, TorchClassifier):  # arguments validated above, once
            student._fit_distill(
                self._frame(X_train),
                teacher_logits,
                y_train,
                classes=teacher.classes_,
                temperature=params["temperature"],
                hard_label_weight=params["hard_label_weight"],
            )
        elif hasattr(student, "fit_distill"):
            student.fit_distill(
                self._frame(X_train),
                teacher_logits,
                y_train,
                classes=teacher.classes_,
                temperature=params["temperature"],
                hard_label_weight=params["hard_label_weight"],
            )
        else:  # a plain classifier learns the teacher's labels: a global surrogate
            student.fit(self._frame(X_train), teacher.classes_[teacher_logits.argmax(axis=1)])
        if params["finetune_epochs"] > 0:
            if y_index is None:
                warnings.warn(
                    f"{owner}: finetune_epochs={params['finetune_epochs']} needs labels y; "
                    "no fine-tuning was done.",
                    InterpretableKDWarning,
                    stacklevel=2,
                )
            elif hasattr(student, "fine_tune"):
                student.fine_tune(self._frame(X_arr), y_index, max_epochs=params["finetune_epochs"])
        self.teacher_ = teacher
        self.student_ = student
        self.classes_ = np.asarray(teacher.classes_)
        self.n_synthetic_ = n_synthetic
        return self

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
        return self.student_.predict(X_in)

    def predict_proba(self, X: Any) -> np.ndarray:
        """The student's class probabilities, shape (n_samples, n_classes)."""
        X_in = self._student_input(X)
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
        """This model's header for :func:`~interpretable_kd.persistence.save_model`.

        Parameters
        ----------
        prefix : str
            Prepended to the names of the tensors of the models inside.
        tensors : dict
            Tensor name -> Tensor; filled in place.

        Returns
        -------
        dict
            ``class``, ``params`` (all but teacher and student), ``student_template``
            (class and params), ``student`` (the fitted student's header), ``fitted`` and
            ``teacher`` (an ``MLPTeacher``'s header, else ``{"stored": False, ...}``).
        """
        params = self.get_params(deep=False)
        teacher_obj, student_template = params.pop("teacher"), params.pop("student")
        header: dict[str, Any] = {
            "class": "DistilledClassifier",
            "params": {
                k: persistence.encode_value(v, f"DistilledClassifier.{k}")
                for k, v in params.items()
            },
            "student_template": {
                "class": type(student_template).__name__,
                "params": persistence.params_header(student_template),
            },
            "student": persistence.describe_model(self.student_, f"{prefix}student/", tensors),
            "fitted": {
                attr: persistence.encode_value(getattr(self, attr), f"DistilledClassifier.{attr}")
                for attr in ("classes_", "n_features_in_", "feature_names_in_", "n_synthetic_")
                if hasattr(self, attr)
            },
        }
        if type(teacher_obj).__name__ == "MLPTeacher" and hasattr(teacher_obj, "module_"):
            header["teacher"] = persistence.describe_model(
                teacher_obj, f"{prefix}teacher/", tensors
            )
        else:
            header["teacher"] = {"stored": False, "model_name": type(teacher_obj).__name__}
        return header

    @classmethod
    def _from_persistence_header(
        cls,
        header: dict[str, Any],
        prefix: str,
        tensors: dict[str, torch.Tensor],
        teacher: Any,
    ) -> DistilledClassifier:
        """Rebuild a model from its :meth:`_persistence_header` (for
        :func:`~interpretable_kd.persistence.load_model`).

        Parameters
        ----------
        header : dict
            The header.
        prefix : str
            The prefix of the tensor names of the models inside.
        tensors : dict
            Every tensor of the file.
        teacher : object or None
            The teacher to attach; default: the stored ``MLPTeacher``, if any.

        Returns
        -------
        DistilledClassifier
            The fitted model (with ``teacher_`` when a teacher is known).
        """
        template = persistence.construct(
            header["student_template"]["class"], header["student_template"]["params"]
        )
        stored_teacher = None
        if header["teacher"].get("stored", True):
            stored_teacher = persistence.build_model(
                header["teacher"], f"{prefix}teacher/", tensors, None
            )
        chosen = teacher if teacher is not None else stored_teacher
        params = {k: persistence.decode_value(v) for k, v in header["params"].items()}
        model = cls(chosen, template, **params)
        for attr, value in header["fitted"].items():
            setattr(model, attr, persistence.decode_value(value))
        model.student_ = persistence.build_model(
            header["student"], f"{prefix}student/", tensors, None
        )
        if chosen is not None:
            model.teacher_ = as_teacher(chosen)
        return model

    def fidelity(self, X: Any) -> float:
        """Share of rows of X where the student predicts the teacher's class."""
        X_in = self._student_input(X)
        if not hasattr(self, "teacher_"):
            raise InputError(
                "This DistilledClassifier was loaded without its teacher; pass teacher= to "
                "DistilledClassifier.load() to measure fidelity."
            )
        return float(np.mean(self.student_.predict(X_in) == self.teacher_.predict(X)))


persistence.register_estimator(DistilledClassifier)


def augment_rows(
    X: np.ndarray,
    n_rows: int,
    method: str,
    rng: np.random.Generator,
    *,
    noise_scale: float = 0.1,
) -> np.ndarray:
    """Synthetic rows near the data, for the teacher to label.

    Args:
        X: float array of shape (n_samples, n_features).
        n_rows: how many rows to make.
        method: "gaussian": ``x_i + eps``, ``eps_j ~ N(0, (noise_scale * std_j)^2)``;
            "mixup": ``lam * x_i + (1 - lam) * x_k`` with ``lam ~ U(0, 1)`` for random rows
            i, k; "both": half of each.

    Returns:
        float32 array of shape (n_rows, n_features).
    """
    if method == "both":
        half = n_rows // 2
        return np.vstack(
            [
                augment_rows(X, half, "gaussian", rng, noise_scale=noise_scale),
                augment_rows(X, n_rows - half, "mixup", rng, noise_scale=noise_scale),
            ]
        )
    base = X[rng.integers(0, X.shape[0], size=n_rows)]
    if method == "gaussian":
        std = X.std(axis=0, keepdims=True)
        out = base + rng.standard_normal(base.shape) * noise_scale * std
    else:
        other = X[rng.integers(0, X.shape[0], size=n_rows)]
        lam = rng.uniform(size=(n_rows, 1))
        out = lam * base + (1.0 - lam) * other
    return out.astype(np.float32)


def distill(teacher: Any, student: Any, X: Any, y: Any = None, **kwargs: Any) -> Any:
    """Distil ``teacher`` into ``student`` on X (and y) and return the fitted student.

    Keyword arguments are those of :class:`DistilledClassifier`.
    """
    return DistilledClassifier(teacher, student, **kwargs).fit(X, y).student_
