"""The one torch training loop, below both the students and the teachers.

A subclass of :class:`TorchClassifier` says what its network is (``_build_module``) and,
if it needs to, how a batch is scored (``_batch_loss``), what regularisation it adds
(``_penalty``) and what happens after each optimiser step (``_after_step``). Everything
else lives here: input checks, mini-batches, Adam, early stopping on a held-out split,
``history_``, reproducibility (an isolated torch RNG), the progress bar, prediction and
the one batched no-grad inference helper (:func:`batched_inference`, in
:mod:`interpretable_kd._torch_utils` with the other low helpers and re-exported here).

Targets are hard labels, a teacher's logits softened at a temperature, or both, mixed by
the Hinton et al. (2015) objective in :mod:`interpretable_kd.losses`.

Every concrete subclass registers itself with :mod:`interpretable_kd.persistence` when
it is defined, so that ``load`` can rebuild it without knowing the class in advance.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin

from ._defaults import PREDICT_BATCH_SIZE, TEMPERATURE
from ._numeric import draw_seed, log_softmax, softmax
from ._torch_utils import (
    Targets,
    batched_inference,
    check_teacher_logits,
    isolated_torch_rng,
    progress,
)
from ._validation import (
    check_choice,
    check_classification_y,
    check_fitted,
    check_number,
    check_temperature,
    check_weight,
    check_X,
)
from .exceptions import InputError, TrainingError
from .losses import kd_loss_from_log_targets, log_soften
from .persistence import load_model, register_estimator, save_model

__all__ = [
    "Targets",
    "TorchClassifier",
    "batched_inference",
    "check_teacher_logits",
    "isolated_torch_rng",
]


class TorchClassifier(ClassifierMixin, BaseEstimator):
    """Base class: a scikit-learn classifier whose model is a torch ``nn.Module``.

    Subclasses list every hyperparameter in their own ``__init__`` (scikit-learn reads
    them from its signature) and must accept the common ones used here: ``max_epochs``,
    ``batch_size``, ``learning_rate``, ``weight_decay``, ``early_stopping``,
    ``validation_fraction``, ``n_iter_no_change``, ``tol``, ``random_state``, ``verbose``
    and ``device``.

    Fitted attributes: ``classes_``, ``n_features_in_``, ``feature_names_in_`` (from a
    DataFrame), ``module_`` (the trained network), ``history_`` (one dict per epoch with
    ``train_loss`` and ``valid_loss``), ``n_iter_`` (epochs run), ``best_epoch_``.

    Every subclass registers itself with :mod:`interpretable_kd.persistence` (by class
    name) when it is defined, so that ``save`` and ``load`` work for it.
    """

    max_epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    early_stopping: bool
    validation_fraction: float
    n_iter_no_change: int
    tol: float
    random_state: Any
    verbose: bool
    device: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Register every subclass with persistence, under its class name.

        Parameters
        ----------
        **kwargs
            Passed on to ``object.__init_subclass__``.
        """
        super().__init_subclass__(**kwargs)
        register_estimator(cls)

    # ----------------------------------------------------------------- subclass hooks
    def _build_module(self, n_features: int, n_classes: int) -> torch.nn.Module:
        raise NotImplementedError

    def _check_params(self) -> None:
        """Validate the subclass's own hyperparameters (called at the start of fit)."""

    def _penalty(self, module: torch.nn.Module) -> torch.Tensor | float:
        """Extra loss added to every batch (a regulariser)."""
        return 0.0

    def _after_step(self, module: torch.nn.Module, optimizer: torch.optim.Adam) -> None:
        """Called after each optimiser step (e.g. a proximal step for an L1 penalty)."""

    def _batch_loss(
        self, module: torch.nn.Module, X: torch.Tensor, targets: Targets, training: bool
    ) -> torch.Tensor:
        """The objective on one batch: distillation loss plus ``_penalty``."""
        logits = module(X)
        loss = kd_loss_from_log_targets(
            logits,
            targets.teacher_log_proba,
            targets.y,
            temperature=targets.temperature,
            hard_label_weight=targets.hard_label_weight,
        )
        return loss + self._penalty(module) if training else loss

    def _eval_logits(self, module: torch.nn.Module, X: torch.Tensor) -> torch.Tensor:
        """Logits used for prediction; softmax of them is ``predict_proba``."""
        return module(X)

    # ---------------------------------------------------------------------- public API
    def fit(self, X: Any, y: Any) -> TorchClassifier:
        """Train on hard labels.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Numeric features.
        y : array-like of shape (n_samples,)
            Labels, at least two classes.

        Returns
        -------
        self
            The fitted estimator.
        """
        owner = type(self).__name__
        self._start_fit()
        X, y = check_X(self, X, reset=True, y=y)
        classes = check_classification_y(y, owner)
        y_index = np.searchsorted(classes, y)
        targets = Targets(torch.as_tensor(y_index, dtype=torch.int64), None, 1.0, 1.0)
        return self._train(X, classes, targets, max_epochs=self.max_epochs, reset=True)

    def fit_distill(
        self,
        X: Any,
        teacher_logits: Any,
        y: Any = None,
        *,
        classes: Any,
        temperature: float = TEMPERATURE,
        hard_label_weight: float = 0.0,
    ) -> TorchClassifier:
        """Train on a teacher's logits softened at ``temperature`` (plus labels, if any).

        The objective is :func:`~interpretable_kd.losses.kd_loss` (or the student's own
        terms from :mod:`interpretable_kd.losses`). ``temperature`` and
        ``hard_label_weight`` are validated here, once.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The transfer set.
        teacher_logits : array-like of shape (n_samples, n_classes)
            The teacher's logits (or log-probabilities) for the rows of X.
        y : array-like of shape (n_samples,) or None
            Class indices into ``classes``, -1 for rows without a label; or None for
            label-free distillation.
        classes : array-like of shape (n_classes,)
            The teacher's class labels.
        temperature : float
            T > 0.
        hard_label_weight : float
            w in [0, 1]; ignored when ``y`` is None.

        Returns
        -------
        self
            The fitted estimator.
        """
        owner = type(self).__name__
        return self._fit_distill(
            X,
            teacher_logits,
            y,
            classes=classes,
            temperature=check_temperature(temperature, owner),
            hard_label_weight=check_weight(hard_label_weight, owner),
        )

    def _fit_distill(
        self,
        X: Any,
        teacher_logits: Any,
        y: Any,
        *,
        classes: Any,
        temperature: float,
        hard_label_weight: float,
    ) -> TorchClassifier:
        """:meth:`fit_distill` with ``temperature`` and ``hard_label_weight`` already
        validated (by ``fit_distill`` or by ``DistilledClassifier.fit``, where the user
        gave them). The teacher is softened here, once, by
        :func:`~interpretable_kd.losses.log_soften`.

        Parameters
        ----------
        X, teacher_logits, y, classes, temperature, hard_label_weight
            As in :meth:`fit_distill`.

        Returns
        -------
        self
            The fitted estimator.
        """
        owner = type(self).__name__
        self._start_fit()
        X = check_X(self, X, reset=True)
        classes = np.asarray(classes)
        logits = check_teacher_logits(teacher_logits, X.shape[0], len(classes), owner)
        log_targets = log_soften(torch.as_tensor(logits), temperature)
        y_t = None
        if y is not None:
            y_index = np.asarray(y, dtype=np.int64)
            if y_index.shape != (X.shape[0],) or y_index.max(initial=-1) >= len(classes):
                raise InputError(
                    f"{owner}.fit_distill needs y as class indices of shape ({X.shape[0]},) "
                    f"in [-1, {len(classes) - 1}]; got shape {y_index.shape}."
                )
            y_t = torch.as_tensor(y_index)
        targets = Targets(y_t, log_targets, temperature, hard_label_weight)
        return self._train(X, classes, targets, max_epochs=self.max_epochs, reset=True)

    def fine_tune(self, X: Any, y_index: Any, *, max_epochs: int) -> TorchClassifier:
        """Continue training the fitted network on hard labels (class indices) only.

        This is the last step of the classic distillation recipe. Early stopping, when
        enabled, keeps the weights with the best validation loss.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows.
        y_index : array-like of shape (n_samples,)
            Class indices into ``classes_``.
        max_epochs : int
            Epochs to run, >= 1.

        Returns
        -------
        self
            The estimator, trained further.
        """
        check_fitted(self, "module_")
        owner = type(self).__name__
        max_epochs = check_number(max_epochs, "max_epochs", owner, integer=True, low=1)
        X = check_X(self, X, reset=False)
        targets = Targets(torch.as_tensor(np.asarray(y_index, dtype=np.int64)), None, 1.0, 1.0)
        return self._train(X, self.classes_, targets, max_epochs=max_epochs, reset=False)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, array of shape (n_samples, n_classes), rows sum to 1."""
        return softmax(self.logits(X))

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log of :meth:`predict_proba`, shape (n_samples, n_classes)."""
        return log_softmax(self.logits(X))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels, shape (n_samples,)."""
        logits = self.logits(X)
        return self.classes_[np.argmax(logits, axis=1)]

    def logits(self, X: Any) -> np.ndarray:
        """Raw scores whose softmax is :meth:`predict_proba`; float64 (n_samples, n_classes)."""
        check_fitted(self, "module_")
        X = check_X(self, X, reset=False)
        parts = batched_inference(
            self.module_,
            X,
            lambda module, batch: self._eval_logits(module, batch).double().cpu().numpy(),
            PREDICT_BATCH_SIZE,
        )
        return np.concatenate(parts) if parts else np.zeros((0, len(self.classes_)))

    @property
    def n_parameters_(self) -> int:
        """Number of trainable parameters of the fitted network."""
        check_fitted(self, "module_")
        return int(sum(p.numel() for p in self.module_.parameters() if p.requires_grad))

    def complexity(self, X: Any = None) -> dict[str, Any]:
        """How big and how readable the fitted model is (the report's complexity entry,
        without its ``"kind"``, which the comparison takes from the student registry).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or None
            Rows for measures that depend on data (used by subclasses such as the soft
            tree); ignored here.

        Returns
        -------
        dict
            ``{"parameters": n}``, the number of trainable parameters. Subclasses add
            their own entries.
        """
        return {"parameters": int(self.n_parameters_)}

    def readable_view(self) -> dict[str, Any]:
        """The plain data (arrays, DataFrames, floats) that the report draws for this
        model; the ``"view"`` key names the drawing.

        Returns
        -------
        dict
            ``{"view": None}`` here: no drawing of the model itself. Subclasses return
            their own view.
        """
        return {"view": None}

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "module_")

    def save(self, path: Any) -> Any:
        """Write the fitted model to a ``.safetensors`` file (weights plus JSON settings;
        no pickle). Returns the path."""
        return save_model(self, path)

    @classmethod
    def load(cls, path: Any) -> Any:
        """Read a model written by :meth:`save`; executes no code from the file."""
        return load_model(path, expected=cls)

    # ---------------------------------------------------------------------- internals
    def _check_common_params(self) -> None:
        owner = type(self).__name__
        check_number(self.max_epochs, "max_epochs", owner, integer=True, low=1)
        check_number(self.batch_size, "batch_size", owner, integer=True, low=1)
        check_number(self.learning_rate, "learning_rate", owner, low=0.0, closed="right")
        check_number(self.weight_decay, "weight_decay", owner, low=0.0)
        check_number(
            self.validation_fraction,
            "validation_fraction",
            owner,
            low=0.0,
            high=1.0,
            closed="neither",
        )
        check_number(self.n_iter_no_change, "n_iter_no_change", owner, integer=True, low=1)
        check_number(self.tol, "tol", owner, low=0.0)
        check_choice(bool(self.early_stopping), "early_stopping", owner, [True, False])
        self._device()

    def _device(self) -> torch.device:
        owner = type(self).__name__
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError) as exc:
            raise InputError(
                f"The 'device' parameter of {owner} must be 'cpu', 'cuda', 'cuda:N' or "
                f"'auto'. Got {self.device!r} instead."
            ) from exc
        if device.type == "cuda" and not torch.cuda.is_available():
            raise InputError(
                f"The 'device' parameter of {owner} is {self.device!r}, but torch sees no "
                "CUDA device here. Use device='cpu' or device='auto'."
            )
        return device

    def _start_fit(self) -> None:
        """Check hyperparameters and forget any earlier fit."""
        self._check_common_params()
        self._check_params()
        for name in [n for n in vars(self) if n.endswith("_") and not n.startswith("_")]:
            del self.__dict__[name]  # every fitted attribute, a subclass's own included

    def _train(
        self,
        X: np.ndarray,
        classes: np.ndarray,
        targets: Targets,
        *,
        max_epochs: int,
        reset: bool,
    ) -> TorchClassifier:
        """Run the loop. Fitted attributes are set only when it finishes: an exception or
        a KeyboardInterrupt leaves the estimator unfitted (and says so)."""
        seed = draw_seed(self.random_state)
        device = self._device()
        self._fit_interrupted = True
        if not reset:
            module = self.__dict__.pop("module_")
        with isolated_torch_rng(seed):
            if reset:
                module = self._build_module(X.shape[1], len(classes))
            module = module.to(device)
            history, best_epoch = self._run_epochs(module, X, targets, seed, max_epochs, device)
        self.classes_ = np.asarray(classes)
        self.module_ = module
        self.history_ = (self.__dict__.get("history_", []) if not reset else []) + history
        self.n_iter_ = len(history)
        self.best_epoch_ = best_epoch
        self._fit_interrupted = False
        return self

    def _run_epochs(
        self,
        module: torch.nn.Module,
        X: np.ndarray,
        targets: Targets,
        seed: int,
        max_epochs: int,
        device: torch.device,
    ) -> tuple[list[dict[str, float]], int]:
        rng = np.random.default_rng(seed)
        train_index, valid_index = self._split(X.shape[0], targets, rng)
        X_all = torch.from_numpy(X)
        X_train = X_all[train_index].to(device)
        targets_train = targets.rows(torch.from_numpy(train_index)).to(device)
        valid = None
        if valid_index is not None:
            valid = (
                X_all[valid_index].to(device),
                targets.rows(torch.from_numpy(valid_index)).to(device),
            )
        optimizer = torch.optim.Adam(
            module.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
        history: list[dict[str, float]] = []
        best_loss, best_epoch, best_state, stale = math.inf, 0, None, 0
        n_train = X_train.shape[0]
        shuffle = torch.Generator().manual_seed(seed)
        for epoch in progress(range(1, max_epochs + 1), self.verbose, type(self).__name__):
            module.train()
            order = torch.randperm(n_train, generator=shuffle).to(device)
            total, count = 0.0, 0
            for start in range(0, n_train, self.batch_size):
                batch = order[start : start + self.batch_size]
                loss = self._batch_loss(module, X_train[batch], targets_train.rows(batch), True)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                self._after_step(module, optimizer)
                total += float(loss.detach()) * len(batch)
                count += len(batch)
            record = {"epoch": epoch, "train_loss": total / count}
            monitored = record["train_loss"]
            if valid is not None:
                module.eval()
                with torch.no_grad():
                    record["valid_loss"] = float(self._batch_loss(module, *valid, False))
                monitored = record["valid_loss"]
            if not math.isfinite(record["train_loss"]) or not math.isfinite(monitored):
                raise TrainingError(
                    f"{type(self).__name__} training diverged: the loss became "
                    f"{record['train_loss']} at epoch {epoch}. Scale the features (for "
                    "example with StandardScaler) or lower 'learning_rate' "
                    f"(now {self.learning_rate})."
                )
            history.append(record)
            if monitored < best_loss - self.tol:
                best_loss, best_epoch, stale = monitored, epoch, 0
                if self.early_stopping:
                    best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            else:
                stale += 1
                if self.early_stopping and stale >= self.n_iter_no_change:
                    break
        if best_state is not None:
            module.load_state_dict(best_state)
        module.eval()
        return history, best_epoch if self.early_stopping else len(history)

    def _split(
        self, n_samples: int, targets: Targets, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Hold out ``validation_fraction`` of the rows for early stopping.

        Stratified by label (or by the teacher's argmax) so the held-out rows keep the
        class balance; no split when there are too few rows to spare.
        """
        n_valid = round(self.validation_fraction * n_samples)
        if not self.early_stopping or n_valid < 10 or n_samples - n_valid < 10:
            return np.arange(n_samples), None
        if targets.teacher_log_proba is not None:
            strata = targets.teacher_log_proba.argmax(dim=1).numpy()
        else:
            assert targets.y is not None  # fit() always passes labels
            strata = targets.y.numpy()
        valid = []
        for label in np.unique(strata):
            rows = np.flatnonzero(strata == label)
            take = round(len(rows) * n_valid / n_samples)
            valid.append(rng.permutation(rows)[:take])
        valid_index = np.sort(np.concatenate(valid))
        train_index = np.setdiff1d(np.arange(n_samples), valid_index)
        return train_index, valid_index
