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

from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin

from ._defaults import PREDICT_BATCH_SIZE, TEMPERATURE
from ._loop import (
    auto_training_sizes,
    check_common_params,
    resolve_device,
    run_epochs,
    split_rows,
    warn_if_degenerate,
)
from ._numeric import draw_seed, log_softmax, softmax
from ._scaling import StandardisingMixin
from ._search_hooks import TemperatureSearchHooks
from ._torch_utils import (
    Targets,
    batched_inference,
    check_teacher_logits,
    isolated_torch_rng,
)
from ._validation import (
    check_classification_y,
    check_fitted,
    check_number,
    check_temperature,
    check_weight,
    check_X,
    is_private_copy,
)
from .exceptions import InputError
from .losses import kd_loss_from_log_targets, log_soften
from .persistence import load_model, register_estimator, save_model

__all__ = [
    "Targets",
    "TorchClassifier",
    "auto_training_sizes",
    "batched_inference",
    "check_teacher_logits",
    "isolated_torch_rng",
]


class TorchClassifier(TemperatureSearchHooks, StandardisingMixin, ClassifierMixin, BaseEstimator):
    """Base class: a scikit-learn classifier whose model is a torch ``nn.Module``.

    Subclasses list every hyperparameter in their own ``__init__`` (scikit-learn reads
    them from its signature) and must accept the common ones used here: ``max_epochs``,
    ``batch_size``, ``learning_rate``, ``weight_decay``, ``early_stopping``,
    ``validation_fraction``, ``n_iter_no_change``, ``tol``, ``random_state``, ``verbose``,
    ``device`` and ``n_jobs``. ``max_epochs``, ``batch_size`` and ``n_iter_no_change``
    default to ``"auto"`` (:func:`auto_training_sizes`, which also turns on a cosine
    learning-rate schedule when ``max_epochs="auto"``); explicit ints train exactly as
    given, with a constant learning rate. ``n_jobs`` is the torch thread count during
    fit and predict (None: :func:`~interpretable_kd._torch_utils.resolve_threads`).

    Inputs at any scale: ``fit``, ``fit_distill`` and ``fine_tune`` standardise the rows,
    ``z = (x - x_mean_) / x_scale_`` with the training rows' mean and standard deviation
    (float64 statistics, 1 for a constant column), and the network only ever sees z
    (float32), in training and in prediction. Subclass hooks (``_build_module``,
    ``_init_module``, ``_run_epochs``, ``_batch_loss``, ``_validation_score``,
    ``_eval_logits``) receive standardised rows; :meth:`_standardise` maps checked raw
    rows to them.

    Fitted attributes: ``classes_``, ``n_features_in_``, ``feature_names_in_`` (from a
    DataFrame), ``x_mean_`` and ``x_scale_`` (float64, shape (n_features,)), ``module_``
    (the trained network), ``history_`` (one dict per epoch with ``train_loss``,
    ``valid_score`` and ``valid_loss``), ``n_iter_`` (epochs run), ``best_epoch_``,
    ``batch_size_``, ``max_epochs_``, ``n_iter_no_change_`` (the sizes used) and
    ``lr_schedule_`` (``"cosine"`` or ``"constant"``).

    Every subclass registers itself with :mod:`interpretable_kd.persistence` (by class
    name) when it is defined, so that ``save`` and ``load`` work for it.
    """

    max_epochs: int | str
    batch_size: int | str
    learning_rate: float
    weight_decay: float
    early_stopping: bool
    validation_fraction: float
    n_iter_no_change: int | str
    tol: float
    random_state: Any
    verbose: bool
    device: str
    n_jobs: Any

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

    def _prepare_fit(self, n_rows: int, n_classes: int) -> None:
        """Set the fitted settings that depend on the data's size before any loss is
        computed (default: nothing), in memory and out of core alike."""

    def _init_module(self, module: torch.nn.Module, X: np.ndarray, targets: Targets) -> None:
        """Initialise a freshly built network from the data (default: nothing).

        Called right after :meth:`_build_module` when a fit starts from scratch (not by
        ``fine_tune``), inside the fit's seeded torch random state, with the module still
        on the CPU.

        Parameters
        ----------
        module : torch.nn.Module
            The new network, modified in place.
        X : ndarray of shape (n_samples, n_features), float32
            The standardised training rows (all of them, before the validation split).
        targets : Targets
            Their targets.
        """

    def _validation_score(
        self, module: torch.nn.Module, X_valid: torch.Tensor, targets_valid: Targets
    ) -> float:
        """The number early stopping and the best-weights restore watch; lower is better.

        Default: the objective without the penalty, ``_batch_loss(..., training=False)``,
        on the held-out rows (the validation loss).

        Parameters
        ----------
        module : torch.nn.Module
            The network, in eval mode, called under ``torch.no_grad()``.
        X_valid : Tensor of shape (n_valid, n_features)
            Standardised held-out rows, on the training device.
        targets_valid : Targets
            Their targets.

        Returns
        -------
        float
            The score.
        """
        return float(self._batch_loss(module, X_valid, targets_valid, False))

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
        X_checked, y = check_X(self, X, reset=True, y=y)
        classes = check_classification_y(y, owner)
        y_index = np.searchsorted(classes, y)
        X_std = self._fit_standardisation(X_checked, X)
        targets = Targets(torch.as_tensor(y_index, dtype=torch.int64), None, 1.0, 1.0)
        self._set_sizes(X_std.shape[0])
        with self._threads(self.batch_size_):
            self._train(X_std, classes, targets, max_epochs=self.max_epochs_, reset=True)
            self._warn_if_degenerate(X_std, y_index)
        return self

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
            T in [0.01, 100] (``_defaults.MIN_TEMPERATURE``, ``MAX_TEMPERATURE``).
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
        warm_start: bool = False,
    ) -> TorchClassifier:
        """:meth:`fit_distill` with ``temperature`` and ``hard_label_weight`` already
        validated (by ``fit_distill`` or by ``DistilledClassifier.fit``, where the user
        gave them). The teacher is softened here, once, by
        :func:`~interpretable_kd.losses.log_soften`.

        Parameters
        ----------
        X, teacher_logits, y, classes, temperature, hard_label_weight
            As in :meth:`fit_distill`.
        warm_start : bool
            Continue from the fitted network (as ``fine_tune`` does: ``_train`` with
            ``reset=False``) instead of building a new one; X must be the rows of that
            fit, so that the standardisation is the same. Used by ``temperature="auto"``
            (:mod:`interpretable_kd._temperature`) to start every candidate from one
            shared fit. Default False: a fresh fit.

        Returns
        -------
        self
            The fitted estimator.
        """
        owner = type(self).__name__
        kept = self.__dict__.get("module_") if warm_start else None
        self._start_fit()
        X_checked = check_X(self, X, reset=True)
        classes = np.asarray(classes)
        n_rows = X_checked.shape[0]
        logits = check_teacher_logits(teacher_logits, n_rows, len(classes), owner)
        log_targets = log_soften(torch.as_tensor(logits), temperature)
        y_t = None
        if y is not None:
            y_index = np.asarray(y, dtype=np.int64)
            if y_index.shape != (n_rows,) or y_index.max(initial=-1) >= len(classes):
                raise InputError(
                    f"{owner}.fit_distill needs y as class indices of shape ({n_rows},) "
                    f"in [-1, {len(classes) - 1}]; got shape {y_index.shape}."
                )
            y_t = torch.as_tensor(y_index)
        targets = Targets(y_t, log_targets, temperature, hard_label_weight)
        X_std = self._fit_standardisation(X_checked, X)
        self._set_sizes(n_rows)
        if kept is not None:
            self.module_ = kept
        with self._threads(self.batch_size_):
            return self._train(
                X_std, classes, targets, max_epochs=self.max_epochs_, reset=kept is None
            )

    def fine_tune(self, X: Any, y_index: Any, *, max_epochs: int) -> TorchClassifier:
        """Continue training the fitted network on hard labels (class indices) only.

        This is the last step of the classic distillation recipe. Early stopping, when
        enabled, keeps the weights with the best validation score. The rows are
        standardised with the statistics of the first fit (``x_mean_``, ``x_scale_``),
        which the network was trained on; they are not recomputed.

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
        X_checked = check_X(self, X, reset=False)
        X_std = self._standardise(X_checked, in_place=is_private_copy(X_checked, X))
        targets = Targets(torch.as_tensor(np.asarray(y_index, dtype=np.int64)), None, 1.0, 1.0)
        self._set_sizes(X_std.shape[0], max_epochs=max_epochs, keep_batch_size=True)
        with self._threads(self.batch_size_):
            return self._train(X_std, self.classes_, targets, max_epochs=max_epochs, reset=False)

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
        with self._threads(min(X.shape[0], PREDICT_BATCH_SIZE)):
            parts = batched_inference(
                self.module_,
                X,
                lambda module, batch: (
                    self._eval_logits(module, self._standardise_tensor(batch))
                    .double()
                    .cpu()
                    .numpy()
                ),
                PREDICT_BATCH_SIZE,
            )
        return np.concatenate(parts) if parts else np.zeros((0, len(self.classes_)))

    # ------------------------------------------------------------ sizes and threads
    def _set_sizes(
        self, n_rows: int, *, max_epochs: int | None = None, keep_batch_size: bool = False
    ) -> None:
        """Record the sizes this fit uses: ``batch_size_``, ``max_epochs_``,
        ``n_iter_no_change_`` (from :func:`auto_training_sizes`) and ``lr_schedule_``.

        Parameters
        ----------
        n_rows : int
            Rows passed to the fit.
        max_epochs : int or None
            An explicit epoch count (``fine_tune``) instead of the ``max_epochs``
            parameter.
        keep_batch_size : bool
            Keep an existing ``batch_size_`` (``fine_tune`` of a fitted model).
        """
        batch, epochs, patience = auto_training_sizes(
            n_rows,
            self.batch_size,
            self.max_epochs if max_epochs is None else max_epochs,
            self.n_iter_no_change,
        )
        if not (keep_batch_size and "batch_size_" in self.__dict__):
            self.batch_size_ = batch
        self.max_epochs_ = epochs
        self.n_iter_no_change_ = patience
        self.lr_schedule_ = "cosine" if self.max_epochs == "auto" else "constant"

    def _warn_if_degenerate(self, X: np.ndarray, y_index: np.ndarray) -> None:
        """Warn when the model predicts one class on its training rows although the
        labels have several (:func:`~interpretable_kd._loop.warn_if_degenerate`)."""
        warn_if_degenerate(self, X, y_index)

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
        """Check the shared hyperparameters (``_loop.check_common_params``)."""
        check_common_params(self)

    def _device(self) -> torch.device:
        """The torch device of ``device`` (:func:`~interpretable_kd._loop.resolve_device`)."""
        return resolve_device(self)

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
        """Run the loop on standardised rows X. Fitted attributes are set only when it
        finishes: an exception or a KeyboardInterrupt leaves the estimator unfitted (and
        says so)."""
        seed = draw_seed(self.random_state)
        device = self._device()
        self._fit_interrupted = True
        if not reset:
            module = self.__dict__.pop("module_")
        self._prepare_fit(X.shape[0], len(classes))
        with isolated_torch_rng(seed):
            if reset:
                module = self._build_module(X.shape[1], len(classes))
                self._init_module(module, X, targets)
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
        """Train ``module`` on standardised rows X: mini-batch Adam with early stopping,
        the learning-rate schedule and the best-weights restore
        (:func:`~interpretable_kd._loop.run_epochs`). The override point of a subclass
        with its own solver.

        Parameters
        ----------
        module : torch.nn.Module
            The network, on ``device``; trained in place.
        X : ndarray of shape (n_samples, n_features), float32
            Standardised rows.
        targets : Targets
            Their targets.
        seed : int
            Seed of the validation split and the shuffles.
        max_epochs : int
            Epoch budget.
        device : torch.device
            Where training runs.

        Returns
        -------
        history : list of dict
            One record per epoch run.
        best_epoch : int
            The epoch whose weights the module holds.
        """
        default = type(self)._validation_score is TorchClassifier._validation_score
        return run_epochs(self, module, X, targets, seed, max_epochs, device, default_score=default)

    def _split(
        self, n_samples: int, targets: Targets, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The rows held out for early stopping (:func:`~interpretable_kd._loop.split_rows`)."""
        return split_rows(self, n_samples, targets, rng)
